#include "webhooks/ledger.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "donatio/clock.hpp"
#include "donatio/donation.hpp"
#include "donatio/receipt.hpp"
#include "src/http/request_context.hpp"
#include "src/store/daily_totals.hpp"
#include "src/store/sql.hpp"

namespace donatio::webhooks {
namespace {

using store::Sql;

// A text column that is NULL when empty.
std::optional<std::string_view> or_null(const std::string& text) {
  if (text.empty()) return std::nullopt;
  return text;
}

struct DonationRow {
  std::string id;
  std::optional<std::int64_t> campaign_id;
  DonationStatus status = DonationStatus::pending;
  std::int64_t amount = 0;
  std::string currency;
  std::string charge_id;
  std::string payment_intent_id;
  std::int64_t amount_refunded = 0;
  std::string receipt_number;
  std::int64_t created_at = 0;
  std::int64_t disputed_amount = 0;
  std::optional<std::int64_t> fee;
  std::optional<std::int64_t> net;
  std::optional<std::string> settlement_currency;
};

// The donation columns the ledger reads, by one of its unique keys; on PostgreSQL the row stays
// locked until commit. One text per key and dialect, built once (it is the prepared statement's
// cache key, looked up for every event).
#define DONATIO_LEDGER_ROW                                                                                      \
  "SELECT id, campaign_id, status, amount, currency, charge_id, payment_intent_id, amount_refunded, "          \
  "receipt_number, created_at, disputed_amount, fee, net, settlement_currency FROM donations WHERE "
constexpr const char* kById[] = {DONATIO_LEDGER_ROW "id = :v", DONATIO_LEDGER_ROW "id = :v FOR UPDATE"};
constexpr const char* kByPaymentIntent[] = {DONATIO_LEDGER_ROW "payment_intent_id = :v",
                                            DONATIO_LEDGER_ROW "payment_intent_id = :v FOR UPDATE"};
constexpr const char* kByCharge[] = {DONATIO_LEDGER_ROW "charge_id = :v", DONATIO_LEDGER_ROW "charge_id = :v FOR UPDATE"};
#undef DONATIO_LEDGER_ROW

// What the finance summary reads of the donation (donation_daily_totals moves with it).
store::SummaryInputs summary_inputs(const DonationRow& d) {
  store::SummaryInputs in;
  in.campaign_id = d.campaign_id;
  in.currency = d.currency;
  in.status = donation_status_name(d.status);
  in.created_at = d.created_at;
  in.amount = d.amount;
  in.amount_refunded = d.amount_refunded;
  in.disputed_amount = d.disputed_amount;
  in.fee = d.fee;
  in.net = d.net;
  in.settlement_currency = d.settlement_currency;
  return in;
}

// The donation whose key (kById, kByPaymentIntent or kByCharge) is `value`, its row locked
// until commit on PostgreSQL.
std::optional<DonationRow> find_by(Sql& sql, const char* const (&by)[2], const std::string& value) {
  if (value.empty()) return std::nullopt;
  DonationRow d;
  std::string status;
  if (!sql.first(by[sql.is_postgres() ? 1 : 0],
                 std::tie(d.id, d.campaign_id, status, d.amount, d.currency, d.charge_id, d.payment_intent_id,
                          d.amount_refunded, d.receipt_number, d.created_at, d.disputed_amount, d.fee, d.net,
                          d.settlement_currency),
                 value)) {
    return std::nullopt;
  }
  d.status = parse_donation_status(status).value_or(DonationStatus::pending);
  return d;
}

void add_history(Sql& sql, const std::string& donation_id, const char* from, const char* to,
                 const std::string& event_id, const std::string& reason, std::int64_t now) {
  sql.exec("INSERT INTO donation_history (donation_id, from_status, to_status, event_id, reason, created_at) "
           "VALUES (:d, :f, :t, :e, :r, :c)",
           donation_id, from, to, event_id, reason, now);
}

// A payment we did not create (Payment Link, Checkout, dashboard), not yet written: against the
// campaign named in metadata.campaign when it exists, else unattributed. apply_to_ledger
// inserts it once, in the state the event leaves it in (insert_donation), so a payment that
// arrives succeeded costs one row write instead of an insert and an update.
DonationRow external_donation(Sql& sql, const std::string& payment_intent, const std::string& charge,
                              std::int64_t amount, const std::string& currency, const std::string& campaign_slug,
                              std::int64_t created, std::int64_t now, std::string* reason) {
  DonationRow d;
  d.id = "don_" + http::time_ordered_hex(now);
  d.amount = amount;
  d.currency = currency;
  d.payment_intent_id = payment_intent;
  d.charge_id = charge;
  d.created_at = created > 0 ? created : now;
  if (!campaign_slug.empty()) {
    std::int64_t id = 0;
    if (sql.first("SELECT id FROM campaigns WHERE slug = :s", std::tie(id), campaign_slug)) d.campaign_id = id;
  }
  *reason = campaign_slug.empty() ? "payment not created by donatio; unattributed"
            : d.campaign_id       ? "payment not created by donatio; campaign from metadata"
                                  : "payment not created by donatio; unknown campaign '" + campaign_slug + "'";
  return d;
}

// Writes a donation found by external_donation, in its current state, with one history row
// from nothing to that state.
void insert_donation(Sql& sql, const DonationRow& d, const std::string& email, const std::string& event_id,
                     const std::string& reason, std::int64_t now) {
  const char* status = donation_status_name(d.status);
  // As for an update from pending: only entering `succeeded` sets the time of success.
  const std::optional<std::int64_t> succeeded_at =
      d.status == DonationStatus::succeeded ? std::optional<std::int64_t>(now) : std::nullopt;
  sql.exec("INSERT INTO donations (id, campaign_id, status, amount, gift_amount, currency, donor_email, source, "
           "payment_intent_id, charge_id, amount_refunded, disputed_amount, receipt_number, created_at, updated_at, "
           "succeeded_at) "
           "VALUES (:id, :c, :st, :a, :g, :cur, :e, 'external', :pi, :ch, :r, :da, :n, :ca, :ua, :sa)",
           d.id, d.campaign_id, status, d.amount, d.amount, d.currency, email, or_null(d.payment_intent_id),
           or_null(d.charge_id), d.amount_refunded, d.disputed_amount, or_null(d.receipt_number), d.created_at, now,
           succeeded_at);
  add_history(sql, d.id, nullptr, status, event_id, reason, now);
}

std::int64_t raised_part(DonationStatus s, std::int64_t amount, std::int64_t refunded) {
  return counts_as_raised(s) ? amount - refunded : 0;
}

// Next gapless number for prefix+year. The upsert locks the counter row until commit, so
// concurrent transactions (other instances on PostgreSQL) queue instead of sharing a number.
std::string next_receipt_number(Sql& sql, const std::string& prefix, int year, std::int64_t* sequence) {
  std::int64_t next = 0;
  sql.first("INSERT INTO receipt_counters (prefix, year, last_number) VALUES (:p, :y, 1) "
            "ON CONFLICT (prefix, year) DO UPDATE SET last_number = receipt_counters.last_number + 1 "
            "RETURNING last_number",
            std::tie(next), prefix, year);
  *sequence = next;
  return format_receipt_number(prefix, year, next);
}

// A receipt document's number, taken before the document is written.
struct ReceiptNumber {
  std::string number;
  int year = 0;
  std::int64_t sequence = 0;
};

ReceiptNumber take_receipt_number(Sql& sql, const LedgerSettings& s, const DonationRow& d, const char* kind,
                                  std::int64_t now) {
  // Numbered per calendar year of the gift (UTC); documents issued later for the same gift
  // (void, amended) are numbered in the year they are issued.
  ReceiptNumber r;
  r.year = utc_year(std::string_view(kind) == "receipt" ? d.created_at : now);
  r.number = next_receipt_number(sql, s.receipt_prefix, r.year, &r.sequence);
  return r;
}

// The document (its donation row must exist) and the outbox row that mails it.
void record_receipt(Sql& sql, const DonationRow& d, const char* kind, const std::string& references,
                    std::int64_t amount, const ReceiptNumber& r, std::int64_t now) {
  sql.exec("INSERT INTO receipts (number, donation_id, kind, references_number, year, sequence, amount, currency, "
           "issued_at) VALUES (:n, :d, :k, :r, :y, :s, :a, :c, :i)",
           r.number, d.id, kind, or_null(references), r.year, r.sequence, amount, d.currency, now);
  const std::string payload = nlohmann::json{{"receipt_number", r.number}, {"donation_id", d.id}}.dump();
  sql.exec("INSERT INTO outbox (kind, payload, status, attempts, next_attempt_at, created_at, updated_at) "
           "VALUES ('receipt_email', :p, 'pending', 0, :n, :c, :u)",
           payload, now, now, now);
}

void issue_receipt(Sql& sql, const LedgerSettings& s, const DonationRow& d, const char* kind,
                   const std::string& references, std::int64_t amount, std::int64_t now) {
  record_receipt(sql, d, kind, references, amount, take_receipt_number(sql, s, d, kind, now), now);
}

void enqueue_fee_lookup(Sql& sql, const DonationRow& d, const std::string& charge, std::int64_t now) {
  const std::string payload = nlohmann::json{{"donation_id", d.id}, {"charge", charge}}.dump();
  sql.exec("INSERT INTO outbox (kind, payload, status, attempts, next_attempt_at, created_at, updated_at) "
           "VALUES ('balance_transaction', :p, 'pending', 0, :n, :c, :u)",
           payload, now, now, now);
}

void set_event_status(Sql& sql, const std::string& id, const char* status, const std::string& error) {
  sql.exec("UPDATE events SET status = :s, error = :e WHERE id = :id", status, or_null(error), id);
}

void update_campaign_totals(Sql& sql, std::int64_t campaign_id, const std::string& currency, std::int64_t raised_delta,
                            std::int64_t count_delta, std::int64_t now) {
  // Only money in the campaign's own currency adds to its total (never a sum across
  // currencies); the gift still counts as a donation.
  sql.exec("UPDATE campaigns SET raised_amount = raised_amount + CASE WHEN currency = :cur THEN :r ELSE 0 END, "
           "donation_count = donation_count + :c, updated_at = :u WHERE id = :id",
           currency, raised_delta, count_delta, now, campaign_id);
}

ApplyOutcome apply_to_ledger(Sql& sql, const LedgerSettings& s, const StripeEvent& ev, std::int64_t now,
                             DeferredTotals* deferred) {
  const auto payment_event = payment_event_for(ev);
  if (!payment_event) return {ApplyKind::ignored, "", "event type not acted on", ""};

  // Find the donation the event is about, or describe the payment we did not create (written
  // below, once its state after this event is known).
  std::optional<DonationRow> d;
  std::string charge_id;
  std::int64_t amount_refunded = -1;
  std::optional<std::string> new_reason;  // set: d is not in the table yet
  std::string new_email;
  if (ev.payment_intent) {
    const auto& pi = *ev.payment_intent;
    charge_id = pi.latest_charge;
    d = find_by(sql, kByPaymentIntent, pi.id);
    if (!d && !pi.donation_id().empty()) {
      // Ours, but the intent id was never attached (a timeout or crash after Stripe answered).
      d = find_by(sql, kById, std::string(pi.donation_id()));
      if (d && !d->payment_intent_id.empty() && d->payment_intent_id != pi.id) {
        return {ApplyKind::failed, d->id, "donation " + d->id + " already has payment intent " + d->payment_intent_id, ""};
      }
      if (d) {
        sql.exec("UPDATE donations SET payment_intent_id = :pi WHERE id = :id", pi.id, d->id);
        d->payment_intent_id = pi.id;
      }
    }
    if (!d) {
      new_reason.emplace();
      d = external_donation(sql, pi.id, pi.latest_charge, pi.amount, pi.currency, std::string(pi.campaign()),
                            pi.created, now, &*new_reason);
      new_email = pi.receipt_email;
    }
  } else if (ev.charge) {
    const auto& ch = *ev.charge;
    charge_id = ch.id;
    amount_refunded = ch.amount_refunded;
    d = find_by(sql, kByCharge, ch.id);
    if (!d) d = find_by(sql, kByPaymentIntent, ch.payment_intent);
    if (!d) {
      new_reason.emplace();
      d = external_donation(sql, ch.payment_intent, ch.id, ch.amount, ch.currency, "", ev.created, now, &*new_reason);
    }
  } else if (ev.dispute) {
    const auto& du = *ev.dispute;
    charge_id = du.charge;
    d = find_by(sql, kByCharge, du.charge);
    if (!d) d = find_by(sql, kByPaymentIntent, du.payment_intent);
    if (!d) return {ApplyKind::failed, "", "no donation for disputed charge " + du.charge, ""};
  }
  if (!d) return {ApplyKind::failed, "", "event names no payment", ""};
  const bool is_new = new_reason.has_value();
  // A new payment the event does not move stays recorded as pending.
  const auto record_pending = [&] {
    if (is_new) insert_donation(sql, *d, new_email, ev.id, *new_reason, now);
  };

  if (ev.payment_intent && d->currency != ev.payment_intent->currency) {
    record_pending();
    return {ApplyKind::failed, d->id, "currency " + ev.payment_intent->currency + " does not match donation currency " + d->currency, ""};
  }
  const DonationStatus before = d->status;
  const auto decision = decide_transition(before, *payment_event, !d->receipt_number.empty());
  const std::int64_t refunded_after = amount_refunded >= 0 ? std::max(amount_refunded, d->amount_refunded) : d->amount_refunded;
  // Never for a new payment: external_donation took its charge from this same event.
  const bool charge_new = !charge_id.empty() && d->charge_id.empty();
  if (!decision.changes) {
    if (charge_new) sql.exec("UPDATE donations SET charge_id = :c WHERE id = :id", charge_id, d->id);
    record_pending();
    return {ApplyKind::ignored, d->id, decision.reason, ""};
  }
  const DonationStatus after = decision.next;
  if (after == before && refunded_after == d->amount_refunded) {
    record_pending();
    return {ApplyKind::ignored, d->id, "nothing new in this event", ""};
  }
  ApplyOutcome outcome{ApplyKind::applied, d->id, "", ""};
  const std::optional<store::SummaryInputs> totals_before =
      is_new ? std::nullopt : std::optional<store::SummaryInputs>(summary_inputs(*d));
  const DonationRow original = *d;  // the state before this event
  if (charge_new) d->charge_id = charge_id;

  std::optional<ReceiptNumber> receipt;
  if (decision.issues_receipt) {
    receipt = take_receipt_number(sql, s, *d, "receipt", now);
    d->receipt_number = receipt->number;
    outcome.receipt_number = receipt->number;
  }
  // The amount under dispute: set when a dispute opens, kept when it is lost (the money is gone),
  // cleared when it is won; other events leave it as it is.
  if (ev.dispute && after == DonationStatus::disputed) d->disputed_amount = ev.dispute->amount;
  if (ev.dispute && before == DonationStatus::disputed && after == DonationStatus::succeeded) d->disputed_amount = 0;
  const bool entering_success = after == DonationStatus::succeeded && before != DonationStatus::disputed;
  d->status = after;
  d->amount_refunded = refunded_after;
  const std::string status_name = donation_status_name(after);
  if (is_new) {
    insert_donation(sql, *d, new_email, ev.id, ev.type + "; " + *new_reason, now);
  } else {
    const int succeeded_flag = entering_success ? 1 : 0;
    sql.exec("UPDATE donations SET status = :s, charge_id = :ch, amount_refunded = :r, disputed_amount = :da, "
             "receipt_number = :n, updated_at = :u, "
             "succeeded_at = CASE WHEN :succ = 1 AND succeeded_at IS NULL THEN :u2 ELSE succeeded_at END WHERE id = :id",
             status_name, or_null(d->charge_id), refunded_after, d->disputed_amount, or_null(d->receipt_number), now,
             succeeded_flag, now, d->id);
    add_history(sql, d->id, donation_status_name(before), donation_status_name(after), ev.id, ev.type, now);
  }
  if (receipt) record_receipt(sql, *d, "receipt", "", d->amount, *receipt, now);
  // A refund after a receipt: a void notice (full) or an amended receipt (partial), each a new
  // document with its own number referencing the original; the original stays as it was.
  if (!d->receipt_number.empty() && refunded_after > original.amount_refunded) {
    if (after == DonationStatus::refunded) {
      issue_receipt(sql, s, *d, "void", d->receipt_number, refunded_after, now);
    } else if (after == DonationStatus::partially_refunded) {
      issue_receipt(sql, s, *d, "amended", d->receipt_number, d->amount - refunded_after, now);
    }
  }

  // The finance summary's daily totals move with the donation, in the same transaction.
  if (deferred != nullptr) {
    deferred->daily().add(totals_before, summary_inputs(*d));
  } else {
    store::apply_totals_change(sql, totals_before, summary_inputs(*d));
  }

  // Campaign totals move with the donation, in the same transaction.
  if (d->campaign_id) {
    const long long raised_delta =
        raised_part(after, d->amount, refunded_after) - raised_part(before, d->amount, original.amount_refunded);
    const long long count_delta = (counts_as_raised(after) ? 1 : 0) - (counts_as_raised(before) ? 1 : 0);
    if (deferred != nullptr) {
      deferred->add_campaign(*d->campaign_id, d->currency, raised_delta, count_delta, now);
    } else if (raised_delta != 0 || count_delta != 0) {
      update_campaign_totals(sql, *d->campaign_id, d->currency, raised_delta, count_delta, now);
    }
  }
  if (entering_success && !d->charge_id.empty()) enqueue_fee_lookup(sql, *d, d->charge_id, now);
  return outcome;
}

void store_outcome(Sql& sql, const std::string& event_id, const ApplyOutcome& outcome) {
  if (outcome.kind == ApplyKind::applied) return;  // the row was inserted as applied
  set_event_status(sql, event_id, outcome.kind == ApplyKind::failed ? "failed" : "ignored", outcome.detail);
}

}  // namespace

const char* apply_kind_name(ApplyKind kind) {
  switch (kind) {
    case ApplyKind::applied: return "applied";
    case ApplyKind::duplicate: return "duplicate";
    case ApplyKind::ignored: return "ignored";
    case ApplyKind::failed: return "failed";
  }
  return "failed";
}

void DeferredTotals::add_campaign(std::int64_t campaign_id, const std::string& currency, std::int64_t raised_delta,
                                  std::int64_t count_delta, std::int64_t now) {
  if (raised_delta == 0 && count_delta == 0) return;
  CampaignDelta& c = campaigns_[{campaign_id, currency}];
  c.raised += raised_delta;
  c.count += count_delta;
  c.updated_at = std::max(c.updated_at, now);
}

void DeferredTotals::flush(Sql& sql) {
  for (const auto& [key, c] : campaigns_) {
    if (c.raised != 0 || c.count != 0) update_campaign_totals(sql, key.first, key.second, c.raised, c.count, c.updated_at);
  }
  campaigns_.clear();
  daily_.flush(sql);
}

void DeferredTotals::clear() {
  campaigns_.clear();
  daily_.clear();
}

ApplyOutcome apply_event(Sql& sql, const LedgerSettings& s, const StripeEvent& ev, std::string_view raw,
                         const std::string& source, std::int64_t now, DeferredTotals* deferred) {
  const std::int64_t inserted =
      sql.exec("INSERT INTO events (id, type, created, received_at, source, status, object_id, payload) "
               "VALUES (:id, :t, :c, :r, :s, 'applied', :o, :p) ON CONFLICT (id) DO NOTHING",
               ev.id, ev.type, ev.created, now, source, ev.object_id, raw);
  if (inserted == 0) return {ApplyKind::duplicate, "", "event already received", ""};
  ApplyOutcome outcome = apply_to_ledger(sql, s, ev, now, deferred);
  store_outcome(sql, ev.id, outcome);
  return outcome;
}

ApplyOutcome reapply_event(Sql& sql, const LedgerSettings& s, const StripeEvent& ev, std::int64_t now) {
  ApplyOutcome outcome = apply_to_ledger(sql, s, ev, now, nullptr);
  if (outcome.kind == ApplyKind::applied) set_event_status(sql, ev.id, "applied", "");
  store_outcome(sql, ev.id, outcome);
  return outcome;
}

ApplyOutcome record_unparseable(Sql& sql, const std::string& id, const std::string& type,
                                std::string_view raw, const std::string& error, const std::string& source,
                                std::int64_t now) {
  const std::int64_t inserted =
      sql.exec("INSERT INTO events (id, type, created, received_at, source, status, error, payload) "
               "VALUES (:id, :t, :c, :r, :s, 'failed', :e, :p) ON CONFLICT (id) DO NOTHING",
               id, type, now, now, source, error, raw);
  if (inserted == 0) return {ApplyKind::duplicate, "", "event already received", ""};
  return {ApplyKind::failed, "", error, ""};
}

}  // namespace donatio::webhooks
