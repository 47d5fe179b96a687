#include "src/reports/reconciliation.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "donatio/clock.hpp"
#include "donatio/money.hpp"
#include "src/reports/csv.hpp"

namespace donatio::reports {
namespace {

bool is_charge(const BalanceTransaction& t) { return t.type == "charge" || t.type == "payment"; }
bool is_refund(const BalanceTransaction& t) { return t.type == "refund" || t.type == "payment_refund"; }
bool is_payout(const BalanceTransaction& t) { return t.type == "payout"; }

bool charged_state(const std::string& status) {
  return status == "succeeded" || status == "partially_refunded" || status == "refunded" || status == "disputed" ||
         status == "lost";
}
bool refunded_state(const std::string& status) { return status == "refunded" || status == "partially_refunded"; }
bool same_currency(const std::string& a, const std::string& b) { return upper_currency(a) == upper_currency(b); }

class Matcher {
 public:
  explicit Matcher(const ReconciliationInput& input) : input_(input) {
    by_charge_.reserve(input.donations.size());
    by_transaction_.reserve(input.donations.size());
    by_payment_intent_.reserve(input.donations.size());
    for (const auto& d : input.donations) {
      if (!d.charge_id.empty()) by_charge_.emplace(d.charge_id, &d);
      if (!d.balance_transaction_id.empty()) by_transaction_.emplace(d.balance_transaction_id, &d);
      if (!d.payment_intent_id.empty()) by_payment_intent_.emplace(d.payment_intent_id, &d);
    }
    by_refund_.reserve(input.refunds.size());
    for (const auto& r : input.refunds) {
      if (!r.stripe_refund_id.empty()) by_refund_.emplace(r.stripe_refund_id, &r);
    }
  }

  const LedgerDonation* donation_for(const BalanceTransaction& t) const {
    if (auto it = by_charge_.find(t.source); it != by_charge_.end()) return it->second;
    if (auto it = by_transaction_.find(t.id); it != by_transaction_.end()) return it->second;
    if (auto pi = input_.payment_intent_of_charge.find(t.source); pi != input_.payment_intent_of_charge.end()) {
      if (auto it = by_payment_intent_.find(pi->second); it != by_payment_intent_.end()) return it->second;
    }
    return nullptr;
  }

  const LedgerRefund* refund_for(const BalanceTransaction& t) const {
    auto it = by_refund_.find(t.source);
    return it == by_refund_.end() ? nullptr : it->second;
  }

 private:
  const ReconciliationInput& input_;
  std::unordered_map<std::string, const LedgerDonation*> by_charge_;
  std::unordered_map<std::string, const LedgerDonation*> by_transaction_;
  std::unordered_map<std::string, const LedgerDonation*> by_payment_intent_;
  std::unordered_map<std::string, const LedgerRefund*> by_refund_;
};

ReconciliationItem item_of(const BalanceTransaction& t) {
  ReconciliationItem item;
  item.transaction_id = t.id;
  item.type = t.type;
  item.source = t.source;
  item.currency = t.currency;
  item.provider_amount = t.amount_minor;
  item.provider_fee = t.fee_minor;
  item.created = t.created;
  return item;
}

void check_charge(const BalanceTransaction& t, const LedgerDonation& d, ReconciliationReport& report) {
  ReconciliationItem item = item_of(t);
  item.donation_id = d.id;
  item.ledger_status = d.status;
  item.ledger_fee = d.fee_minor;
  bool problem = false;
  const std::string fee_currency = d.settlement_currency.empty() ? d.currency : d.settlement_currency;

  if (same_currency(t.currency, d.currency)) {
    item.ledger_amount = d.amount_minor;
    if (t.amount_minor != d.amount_minor) {
      ReconciliationItem m = item;
      m.detail = "Stripe charged " + std::to_string(t.amount_minor) + ", the ledger has " +
                 std::to_string(d.amount_minor) + " (minor units)";
      report.amount_mismatch.push_back(std::move(m));
      problem = true;
    }
  } else if (same_currency(t.currency, fee_currency) && d.fee_minor && d.net_minor) {
    item.ledger_amount = *d.fee_minor + *d.net_minor;  // settled amount, in the settlement currency
    if (t.amount_minor != *item.ledger_amount) {
      ReconciliationItem m = item;
      m.detail = "settled amount differs (ledger fee + net in " + fee_currency + ")";
      report.amount_mismatch.push_back(std::move(m));
      problem = true;
    }
  } else {
    ReconciliationItem m = item;
    m.ledger_amount = d.amount_minor;
    m.detail = "Stripe settled in " + t.currency + ", the ledger has " + d.currency +
               " and no settlement amount in that currency";
    report.amount_mismatch.push_back(std::move(m));
    problem = true;
  }

  if (d.fee_minor || d.net_minor) {
    std::string why;
    if (!same_currency(t.currency, fee_currency)) {
      why = "ledger fee is in " + fee_currency + ", Stripe's in " + t.currency;
    } else if (d.fee_minor && *d.fee_minor != t.fee_minor) {
      why = "fee differs";
    } else if (d.net_minor && *d.net_minor != t.net_minor && !problem) {  // an amount difference already explains it
      why = "net differs (ledger " + std::to_string(*d.net_minor) + ", Stripe " + std::to_string(t.net_minor) + ")";
    }
    if (!why.empty()) {
      ReconciliationItem m = item;
      m.detail = why;
      report.fee_mismatch.push_back(std::move(m));
      problem = true;
    }
  }

  if (!charged_state(d.status)) {
    ReconciliationItem m = item;
    m.detail = "Stripe has a charge; the ledger donation is " + d.status;
    report.status_mismatch.push_back(std::move(m));
    problem = true;
  }
  if (!problem) report.matched.push_back(std::move(item));
}

void check_refund(const BalanceTransaction& t, const LedgerRefund& r, ReconciliationReport& report) {
  ReconciliationItem item = item_of(t);
  item.donation_id = r.donation_id;
  item.refund_id = r.id;
  item.ledger_status = r.donation_status;
  item.ledger_amount = -r.amount_minor;  // a refund is money out: Stripe's amount is negative
  bool problem = false;
  if (!same_currency(t.currency, r.currency) || t.amount_minor != -r.amount_minor) {
    ReconciliationItem m = item;
    m.detail = same_currency(t.currency, r.currency) ? "refund amount differs"
                                                     : "refund in " + r.currency + ", Stripe's in " + t.currency;
    report.amount_mismatch.push_back(std::move(m));
    problem = true;
  }
  if (!refunded_state(r.donation_status) || r.status == "failed" || r.status == "canceled") {
    ReconciliationItem m = item;
    m.detail = !refunded_state(r.donation_status)
                   ? "Stripe has a refund; the ledger donation is " + r.donation_status
                   : "Stripe has the refund; the ledger refund is " + r.status;
    report.status_mismatch.push_back(std::move(m));
    problem = true;
  }
  if (!problem) report.matched.push_back(std::move(item));
}

}  // namespace

bool ReconciliationReport::clean() const {
  if (!missing_in_ledger.empty() || !missing_at_provider.empty() || !amount_mismatch.empty() ||
      !fee_mismatch.empty() || !status_mismatch.empty()) {
    return false;
  }
  return std::all_of(payouts.begin(), payouts.end(), [](const PayoutCheck& p) { return p.balanced; });
}

ReconciliationReport reconcile(const ReconciliationInput& input) {
  ReconciliationReport report;
  report.from = input.from;
  report.to = input.to;
  Matcher matcher(input);
  std::unordered_set<std::string> charged_donations;  // donations whose charge Stripe listed
  charged_donations.reserve(input.transactions.size());
  std::unordered_set<std::string> seen_transactions;  // a list may repeat an id across pages
  seen_transactions.reserve(input.transactions.size());

  for (const auto& t : input.transactions) {
    if (!seen_transactions.insert(t.id).second) continue;
    const bool in_window = t.created >= input.from && t.created < input.to;
    if (is_charge(t)) {
      const LedgerDonation* d = matcher.donation_for(t);
      if (d) charged_donations.insert(d->id);
      if (!in_window) continue;  // margin only: clears missing_at_provider near the boundary
      if (!d) {
        ReconciliationItem item = item_of(t);
        item.detail = "Stripe charge with no donation in the ledger";
        report.missing_in_ledger.push_back(std::move(item));
      } else {
        check_charge(t, *d, report);
      }
    } else if (!in_window || is_payout(t)) {
      continue;
    } else if (is_refund(t)) {
      if (const LedgerRefund* r = matcher.refund_for(t)) {
        check_refund(t, *r, report);
      } else {
        ReconciliationItem item = item_of(t);
        item.detail = "Stripe refund with no refund in the ledger";
        report.missing_in_ledger.push_back(std::move(item));
      }
    } else {
      ReconciliationItem item = item_of(t);
      item.detail = "not tied to a donation by the provider API (e.g. dispute adjustment); review by hand";
      report.other.push_back(std::move(item));
    }
  }

  for (const auto& d : input.donations) {
    if (!d.in_period || !charged_state(d.status) || charged_donations.count(d.id) != 0) continue;
    ReconciliationItem item;
    item.type = "charge";
    item.source = d.charge_id;
    item.donation_id = d.id;
    item.currency = d.currency;
    item.ledger_amount = d.amount_minor;
    item.ledger_fee = d.fee_minor;
    item.ledger_status = d.status;
    item.created = d.succeeded_at.value_or(0);
    item.detail = d.charge_id.empty() ? "no charge id in the ledger and Stripe lists no charge for it"
                                      : "Stripe lists no balance transaction for this charge";
    report.missing_at_provider.push_back(std::move(item));
  }

  for (const auto& p : input.payouts) {
    PayoutCheck check;
    check.payout = p.payout;
    bool one_currency = true;
    std::unordered_set<std::string> seen;
    for (const auto& t : p.transactions) {
      if (!seen.insert(t.id).second) continue;
      if (is_payout(t) && t.source == p.payout.id) continue;  // the payout's own withdrawal
      ++check.transaction_count;
      check.transactions_net += t.net_minor;
      if (!same_currency(t.currency, p.payout.currency)) one_currency = false;
      if (is_charge(t)) {
        if (const LedgerDonation* d = matcher.donation_for(t)) {
          check.donation_ids.push_back(d->id);
          continue;
        }
      } else if (is_refund(t)) {
        if (const LedgerRefund* r = matcher.refund_for(t)) {
          check.donation_ids.push_back(r->donation_id);
          continue;
        }
      }
      check.unmatched_transaction_ids.push_back(t.id);
    }
    std::sort(check.donation_ids.begin(), check.donation_ids.end());
    check.donation_ids.erase(std::unique(check.donation_ids.begin(), check.donation_ids.end()),
                             check.donation_ids.end());
    check.balanced = one_currency && check.transactions_net == p.payout.amount_minor;
    report.payouts.push_back(std::move(check));
  }
  return report;
}

namespace {

nlohmann::json opt_json(const std::optional<std::int64_t>& v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); }
nlohmann::json text_or_null(const std::string& s) { return s.empty() ? nlohmann::json(nullptr) : nlohmann::json(s); }

nlohmann::json item_json(const ReconciliationItem& i) {
  return {
      {"transaction", text_or_null(i.transaction_id)},
      {"type", i.type},
      {"source", text_or_null(i.source)},
      {"donation", text_or_null(i.donation_id)},
      {"refund", text_or_null(i.refund_id)},
      {"currency", i.currency},
      {"ledger_amount", opt_json(i.ledger_amount)},
      {"provider_amount", opt_json(i.provider_amount)},
      {"ledger_fee", opt_json(i.ledger_fee)},
      {"provider_fee", opt_json(i.provider_fee)},
      {"ledger_status", text_or_null(i.ledger_status)},
      {"created", i.created ? nlohmann::json(format_iso8601(i.created)) : nlohmann::json(nullptr)},
      {"detail", i.detail},
  };
}

nlohmann::json items_json(const std::vector<ReconciliationItem>& items) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& i : items) a.push_back(item_json(i));
  return a;
}

std::string amount_cell(const std::optional<std::int64_t>& v, const std::string& currency) {
  return v ? csv_number(major_units(*v, currency)) : std::string();
}

void item_lines(std::string& out, const char* category, const std::vector<ReconciliationItem>& items) {
  for (const auto& i : items) {
    append_csv_line(out, {csv_text(category), csv_text(i.transaction_id), csv_text(i.type), csv_text(i.source),
                          csv_text(i.donation_id), csv_text(i.refund_id), csv_text(""), csv_text(i.currency),
                          amount_cell(i.ledger_amount, i.currency), amount_cell(i.provider_amount, i.currency),
                          amount_cell(i.ledger_fee, i.currency), amount_cell(i.provider_fee, i.currency),
                          csv_text(i.ledger_status), csv_text(i.created ? format_iso8601(i.created) : ""),
                          csv_text(i.detail)});
  }
}

}  // namespace

std::string reconciliation_json(const ReconciliationReport& r) {
  nlohmann::json payouts = nlohmann::json::array();
  for (const auto& p : r.payouts) {
    payouts.push_back({
        {"id", p.payout.id},
        {"amount", p.payout.amount_minor},
        {"currency", p.payout.currency},
        {"status", p.payout.status},
        {"created", format_iso8601(p.payout.created)},
        {"arrival_date", format_iso8601(p.payout.arrival_date)},
        {"transactions_net", p.transactions_net},
        {"transaction_count", p.transaction_count},
        {"balanced", p.balanced},
        {"donations", p.donation_ids},
        {"unmatched_transactions", p.unmatched_transaction_ids},
    });
  }
  std::size_t unbalanced = 0;
  for (const auto& p : r.payouts) unbalanced += p.balanced ? 0 : 1;
  nlohmann::json doc = {
      {"from", format_iso8601(r.from)},
      {"to", format_iso8601(r.to)},
      {"clean", r.clean()},
      {"counts",
       {{"matched", r.matched.size()},
        {"missing_in_ledger", r.missing_in_ledger.size()},
        {"missing_at_provider", r.missing_at_provider.size()},
        {"amount_mismatch", r.amount_mismatch.size()},
        {"fee_mismatch", r.fee_mismatch.size()},
        {"status_mismatch", r.status_mismatch.size()},
        {"other", r.other.size()},
        {"payouts", r.payouts.size()},
        {"payouts_unbalanced", unbalanced}}},
      {"matched", items_json(r.matched)},
      {"missing_in_ledger", items_json(r.missing_in_ledger)},
      {"missing_at_provider", items_json(r.missing_at_provider)},
      {"amount_mismatch", items_json(r.amount_mismatch)},
      {"fee_mismatch", items_json(r.fee_mismatch)},
      {"status_mismatch", items_json(r.status_mismatch)},
      {"other", items_json(r.other)},
      {"payouts", std::move(payouts)},
  };
  return doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string reconciliation_csv(const ReconciliationReport& r) {
  std::string out;
  append_csv_line(out, {"category", "transaction", "type", "source", "donation", "refund", "payout", "currency",
                        "ledger_amount", "provider_amount", "ledger_fee", "provider_fee", "ledger_status", "created",
                        "detail"});
  item_lines(out, "amount_mismatch", r.amount_mismatch);
  item_lines(out, "fee_mismatch", r.fee_mismatch);
  item_lines(out, "status_mismatch", r.status_mismatch);
  item_lines(out, "missing_in_ledger", r.missing_in_ledger);
  item_lines(out, "missing_at_provider", r.missing_at_provider);
  item_lines(out, "other", r.other);
  item_lines(out, "matched", r.matched);
  for (const auto& p : r.payouts) {
    std::string detail = "transactions net " + major_units(p.transactions_net, p.payout.currency) + " over " +
                         std::to_string(p.transaction_count) + " transactions, " +
                         std::to_string(p.donation_ids.size()) + " donations";
    if (!p.unmatched_transaction_ids.empty()) {
      detail += ", " + std::to_string(p.unmatched_transaction_ids.size()) + " not in the ledger";
    }
    append_csv_line(out, {csv_text(p.balanced ? "payout_balanced" : "payout_unbalanced"), csv_text(""),
                          csv_text("payout"), csv_text(p.payout.id), csv_text(""), csv_text(""), csv_text(p.payout.id),
                          csv_text(p.payout.currency), std::string(),
                          csv_number(major_units(p.payout.amount_minor, p.payout.currency)), std::string(),
                          std::string(), csv_text(p.payout.status), csv_text(format_iso8601(p.payout.created)),
                          csv_text(detail)});
  }
  return out;
}

}  // namespace donatio::reports
