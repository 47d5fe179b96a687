// Applying one verified Stripe event to the ledger, inside a transaction the caller owns:
// the event row (its id is the duplicate-delivery key), the donation found or recorded
// (payments we did not create are recorded too), the state transition decided by
// decide_transition, its history row, the campaign totals, receipt numbers (gapless, per
// prefix and calendar year, from a locked counter row — never a sequence), void/amended
// receipts after refunds, the finance summary's daily totals (src/store/daily_totals.hpp), and
// outbox rows for e-mail and fee lookups. Everything or nothing.
// Thread-safety: stateless; the session is the caller's.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>

#include "src/store/daily_totals.hpp"
#include "src/store/sql.hpp"
#include "webhooks/event.hpp"

namespace donatio::webhooks {

enum class ApplyKind {
  applied,    // the donation moved (or a payment was recorded)
  duplicate,  // event id seen before: nothing re-applied
  ignored,    // a type we do not act on, or a late event that must not move the donation back
  failed,     // valid event that cannot be applied for a business reason: stored as failed
};
const char* apply_kind_name(ApplyKind kind);

struct ApplyOutcome {
  ApplyKind kind = ApplyKind::ignored;
  std::string donation_id;
  std::string detail;          // why ignored/failed; for logs, metrics, the events table
  std::string receipt_number;  // when one was issued
};

struct LedgerSettings {
  std::string receipt_prefix = "CPI-";
  store::Dialect dialect = store::Dialect::sqlite;
};

// The totals events move — a campaign's raised amount and donation count, the finance summary's
// daily totals — for several events applied in one transaction, added up and written once at its
// end (flush) instead of once per event: the webhook writer's batches mostly move one campaign
// and one day. Only additions, so the order of the events in the batch does not matter; rows are
// written in key order (PostgreSQL row locks in one order across instances).
// Thread-safety: none; one per transaction.
class DeferredTotals {
 public:
  void add_campaign(std::int64_t campaign_id, const std::string& currency, std::int64_t raised_delta,
                    std::int64_t count_delta, std::int64_t now);
  store::DailyTotalsBatch& daily() { return daily_; }
  // REQUIRES: in the transaction that applied the events. Throws soci exceptions.
  void flush(store::Sql& sql);
  // After a rollback: forgets what was added.
  void clear();

 private:
  struct CampaignDelta {
    std::int64_t raised = 0;
    std::int64_t count = 0;
    std::int64_t updated_at = 0;
  };
  std::map<std::pair<std::int64_t, std::string>, CampaignDelta> campaigns_;  // (campaign id, donation currency)
  store::DailyTotalsBatch daily_;
};

// REQUIRES: inside a transaction on `sql`. `event` was parsed from `raw` after the signature
// was verified. `source`: "webhook", "sweep", "replay". Throws soci exceptions on database
// errors (the caller rolls back and answers 5xx). With `deferred`, the campaign and daily totals
// are added there, and the caller flushes them before commit.
ApplyOutcome apply_event(store::Sql& sql, const LedgerSettings& settings, const StripeEvent& event,
                         std::string_view raw, const std::string& source, std::int64_t now,
                         DeferredTotals* deferred = nullptr);

// Re-applies a stored event whose status is failed (donatio events retry). Same contract.
ApplyOutcome reapply_event(store::Sql& sql, const LedgerSettings& settings, const StripeEvent& event,
                           std::int64_t now);

// Stores a signed event that could not be parsed as failed, so it is visible and retryable.
// Returns duplicate when the id is known. `id`/`type` may be placeholders when unreadable.
ApplyOutcome record_unparseable(store::Sql& sql, const std::string& id, const std::string& type,
                                std::string_view raw, const std::string& error, const std::string& source,
                                std::int64_t now);

}  // namespace donatio::webhooks
