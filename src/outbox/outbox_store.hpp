// Outbox store: the table of side effects waiting to happen outside the database (e-mail,
// fee look-ups). Rows are written in the transaction of the change that implies them; a
// worker claims due rows with a lease, does the work outside any transaction, then marks each
// row done, schedules a retry, or gives up (dead). On PostgreSQL several instances claim from
// the same table without overlap (SELECT … FOR UPDATE SKIP LOCKED); on SQLite BEGIN IMMEDIATE
// already serialises the claim.
// Thread-safety: stateless apart from the Database reference; every call is its own transaction.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "donatio/status.hpp"
#include "src/store/database.hpp"

namespace donatio::outbox {

struct OutboxItem {
  std::int64_t id = 0;
  std::string kind;      // "receipt_email", "balance_transaction"
  std::string payload;   // JSON object text
  std::string status;    // pending, done, dead
  std::int64_t attempts = 0;  // failed attempts so far
  std::int64_t next_attempt_at = 0;
  std::int64_t locked_until = 0;  // the lease of the claim that returned this item
  std::string last_error;
  std::int64_t created_at = 0;
  std::int64_t updated_at = 0;
};

// Rows waiting and rows given up (done rows are not counted: that would scan the whole table).
struct OutboxCounts {
  std::int64_t pending = 0;
  std::int64_t dead = 0;
};

// Retry delay after `attempts` failed attempts (1, 2, …): base·2^(attempts-1) capped at
// `max_s`, minus up to a quarter of it at random (`uniform01` in [0,1)), never below 1 s.
std::int64_t backoff_seconds(std::int64_t attempts, std::int64_t base_s, std::int64_t max_s, double uniform01);

class OutboxStore {
 public:
  explicit OutboxStore(store::Database& db) : db_(db) {}

  // Claims up to `limit` due rows of the given kinds (status pending, next_attempt_at <= now,
  // locked_until <= now), oldest first, leasing them until now + lease_s. A row leased by
  // another worker is skipped, never waited for.
  Result<std::vector<OutboxItem>> claim_due(const std::vector<std::string>& kinds, int limit, std::int64_t now,
                                            std::int64_t lease_s);
  // Marks a claimed row done. `note` (may be empty) is kept in last_error for the record.
  // Returns false (Ok) when the lease was lost, i.e. the row was reclaimed by someone else.
  Result<bool> mark_done(const OutboxItem& item, std::int64_t now, const std::string& note = {});
  // Records a failed attempt: attempts+1, next try at `retry_at`, or dead when `dead`.
  Result<bool> mark_failed(const OutboxItem& item, const std::string& error, bool dead, std::int64_t retry_at,
                           std::int64_t now);

  // Gives a claimed row back untouched (no attempt counted), e.g. when stopping mid-batch.
  Status release(const OutboxItem& item);

  // REQUIRES: inside Database::transaction. Inserts a pending row due now; returns its id.
  static std::int64_t enqueue(soci::session& sql, store::Dialect dialect, const std::string& kind,
                              const std::string& payload, std::int64_t now);

  Result<OutboxCounts> counts();
  // Newest first; `status` empty = any.
  Result<std::vector<OutboxItem>> list(const std::string& status, int limit);
  Result<OutboxItem> get(std::int64_t id);

 private:
  store::Database& db_;
};

}  // namespace donatio::outbox
