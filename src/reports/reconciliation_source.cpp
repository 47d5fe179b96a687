#include "src/reports/reconciliation_source.hpp"

#include <algorithm>
#include <set>
#include <unordered_set>

#include "src/reports/summary.hpp"
#include "src/store/row.hpp"

namespace donatio::reports {
namespace {

constexpr std::size_t kBatch = 500;

constexpr const char* kDonationColumns =
    "SELECT id, status, amount, currency, fee, net, settlement_currency, charge_id, payment_intent_id, "
    "balance_transaction_id, amount_refunded, succeeded_at FROM donations ";

// Provider ids are [A-Za-z0-9_]; anything else cannot be one of ours and is not put in SQL.
bool is_plain_id(const std::string& id) {
  if (id.empty() || id.size() > 255) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

LedgerDonation donation_from_row(const soci::row& r) {
  LedgerDonation d;
  d.id = store::str(r, 0);
  d.status = store::str(r, 1);
  d.amount_minor = store::i64(r, 2);
  d.currency = store::str(r, 3);
  d.fee_minor = store::opt_i64(r, 4);
  d.net_minor = store::opt_i64(r, 5);
  d.settlement_currency = store::str(r, 6);
  d.charge_id = store::str(r, 7);
  d.payment_intent_id = store::str(r, 8);
  d.balance_transaction_id = store::str(r, 9);
  d.amount_refunded_minor = store::i64(r, 10);
  d.succeeded_at = store::opt_i64(r, 11);
  return d;
}

// Runs `query_prefix IN ('a','b',…)` over `ids` in batches; ids are validated plain ids.
Status for_each_batch(store::Database& db, const std::vector<std::string>& ids, const std::string& query_prefix,
                      const std::function<void(const soci::row&)>& on_row) {
  for (std::size_t start = 0; start < ids.size(); start += kBatch) {
    std::string list;
    for (std::size_t i = start; i < std::min(ids.size(), start + kBatch); ++i) {
      list += list.empty() ? "'" : ",'";
      list += ids[i];
      list += "'";
    }
    Status s = db.read([&](soci::session& sql) {
      soci::rowset<soci::row> rows = (sql.prepare << query_prefix + "(" + list + ")");
      for (const auto& r : rows) on_row(r);
      return Status::Ok();
    });
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

}  // namespace

// A range of donations_succeeded. Without statistics (donatio runs no ANALYZE) SQLite's planner
// prefers the equality on status and would walk every donation that ever succeeded
// (donations_status_created), whatever the period: 2.6x slower over 300,000 donations and one
// month, warm (bench/README).
std::string succeeded_in_period_query(store::Dialect dialect) {
  return std::string(kDonationColumns) + (dialect == store::Dialect::sqlite ? "INDEXED BY donations_succeeded " : "") +
         "WHERE succeeded_at >= :from AND succeeded_at < :to AND status IN (" + kMoneyMovedSqlList + ")";
}

std::string by_charge_query_prefix() { return std::string(kDonationColumns) + "WHERE charge_id IN "; }

Result<std::vector<BalanceTransaction>> list_all_balance_transactions(PaymentGateway& gateway, ListWindow window,
                                                                      const std::string& payout) {
  std::vector<BalanceTransaction> all;
  window.starting_after.clear();
  for (;;) {
    auto page = gateway.list_balance_transactions(window, payout);
    if (!page.ok()) return page.status();
    for (auto& t : page->data) all.push_back(std::move(t));
    if (!page->has_more || page->data.empty()) break;
    window.starting_after = all.back().id;
  }
  return all;
}

Result<ReconciliationInput> gather_reconciliation_input(store::Database& db, PaymentGateway& gateway,
                                                        const ReportPeriod& period,
                                                        const ReconciliationOptions& options) {
  ReconciliationInput input;
  input.from = period.from;
  input.to = period.to;

  // Provider: transactions (with the boundary margin) and the period's payouts with theirs.
  ListWindow window;
  window.created_gte = period.from - options.boundary_margin_s;
  window.created_lt = period.to + options.boundary_margin_s;
  window.limit = options.page_limit;
  auto transactions = list_all_balance_transactions(gateway, window, "");
  if (!transactions.ok()) return transactions.status();
  input.transactions = std::move(transactions).value();

  ListWindow payout_window;
  payout_window.created_gte = period.from;
  payout_window.created_lt = period.to;
  payout_window.limit = options.page_limit;
  for (;;) {
    auto page = gateway.list_payouts(payout_window);
    if (!page.ok()) return page.status();
    for (auto& p : page->data) input.payouts.push_back({std::move(p), {}});
    if (!page->has_more || page->data.empty()) break;
    payout_window.starting_after = input.payouts.back().payout.id;
  }
  for (auto& p : input.payouts) {
    ListWindow all;
    all.limit = options.page_limit;
    auto listed = list_all_balance_transactions(gateway, all, p.payout.id);
    if (!listed.ok()) return listed.status();
    p.transactions = std::move(listed).value();
  }

  // Ledger: donations that succeeded in the period.
  std::unordered_set<std::string> loaded;
  Status s = db.read([&](soci::session& sql) {
    const long long from = period.from, to = period.to;
    soci::rowset<soci::row> rows =
        (sql.prepare << succeeded_in_period_query(db.dialect()), soci::use(from), soci::use(to));
    for (const auto& r : rows) {
      LedgerDonation d = donation_from_row(r);
      d.in_period = true;
      loaded.insert(d.id);
      input.donations.push_back(std::move(d));
    }
    return Status::Ok();
  });
  if (!s.ok()) return s;

  // Ids the provider mentions: charges and refunds, in the window and in the payouts.
  std::set<std::string> charge_ids, refund_ids;
  auto collect = [&](const BalanceTransaction& t) {
    if (!is_plain_id(t.source)) return;
    if (t.type == "charge" || t.type == "payment") charge_ids.insert(t.source);
    if (t.type == "refund" || t.type == "payment_refund") refund_ids.insert(t.source);
  };
  for (const auto& t : input.transactions) collect(t);
  for (const auto& p : input.payouts) {
    for (const auto& t : p.transactions) collect(t);
  }
  std::unordered_set<std::string> known_charges;
  for (const auto& d : input.donations) {
    if (!d.charge_id.empty()) known_charges.insert(d.charge_id);
  }
  std::vector<std::string> wanted;
  for (const auto& c : charge_ids) {
    if (!known_charges.count(c)) wanted.push_back(c);
  }
  auto add_donation = [&](const soci::row& r) {
    LedgerDonation d = donation_from_row(r);
    if (!loaded.insert(d.id).second) return;
    if (!d.charge_id.empty()) known_charges.insert(d.charge_id);
    input.donations.push_back(std::move(d));
  };
  if (Status b = for_each_batch(db, wanted, by_charge_query_prefix(), add_donation); !b.ok()) {
    return b;
  }

  // Charges still unknown by id (the ledger may lack the charge id): ask Stripe for their
  // payment intent, then look donations up by it. Bounded; the rest stay missing_in_ledger.
  std::unordered_set<std::string> known_transactions;
  for (const auto& d : input.donations) {
    if (!d.balance_transaction_id.empty()) known_transactions.insert(d.balance_transaction_id);
  }
  std::vector<std::string> payment_intents;
  int lookups = 0;
  auto resolve = [&](const BalanceTransaction& t) -> Status {
    if (!(t.type == "charge" || t.type == "payment") || !is_plain_id(t.source)) return Status::Ok();
    if (known_charges.count(t.source) || known_transactions.count(t.id)) return Status::Ok();
    if (input.payment_intent_of_charge.count(t.source) || lookups >= options.max_charge_lookups) return Status::Ok();
    ++lookups;
    auto charge = gateway.retrieve_charge(t.source);
    if (!charge.ok()) {
      if (charge.status().code() == StatusCode::provider_rejected) return Status::Ok();  // e.g. gone
      return charge.status();
    }
    if (is_plain_id(charge->payment_intent)) {
      input.payment_intent_of_charge[t.source] = charge->payment_intent;
      payment_intents.push_back(charge->payment_intent);
    }
    return Status::Ok();
  };
  for (const auto& t : input.transactions) {
    if (t.created < period.from || t.created >= period.to) continue;  // margin: only clears missing_at_provider
    if (Status r = resolve(t); !r.ok()) return r;
  }
  for (const auto& p : input.payouts) {
    for (const auto& t : p.transactions) {
      if (Status r = resolve(t); !r.ok()) return r;
    }
  }
  if (Status b = for_each_batch(db, payment_intents, std::string(kDonationColumns) + "WHERE payment_intent_id IN ",
                                add_donation);
      !b.ok()) {
    return b;
  }

  // Refund rows, with their donation's status.
  std::vector<std::string> refunds(refund_ids.begin(), refund_ids.end());
  if (Status b = for_each_batch(
          db, refunds,
          "SELECT r.id, r.stripe_refund_id, r.donation_id, d.status, r.amount, r.currency, r.status "
          "FROM refunds r JOIN donations d ON d.id = r.donation_id WHERE r.stripe_refund_id IN ",
          [&](const soci::row& r) {
            LedgerRefund refund;
            refund.id = store::str(r, 0);
            refund.stripe_refund_id = store::str(r, 1);
            refund.donation_id = store::str(r, 2);
            refund.donation_status = store::str(r, 3);
            refund.amount_minor = store::i64(r, 4);
            refund.currency = store::str(r, 5);
            refund.status = store::str(r, 6);
            input.refunds.push_back(std::move(refund));
          });
      !b.ok()) {
    return b;
  }
  return input;
}

Result<ReconciliationReport> run_reconciliation(store::Database& db, PaymentGateway& gateway,
                                                const ReportPeriod& period, const ReconciliationOptions& options) {
  auto input = gather_reconciliation_input(db, gateway, period, options);
  if (!input.ok()) return input.status();
  return reconcile(*input);
}

}  // namespace donatio::reports
