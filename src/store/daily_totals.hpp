// donation_daily_totals (migration 003): the finance summary pre-aggregated per UTC day of a
// donation's created_at, campaign and currency, so a summary over a year sums a few hundred
// thousand small rows at most instead of every donation (issue 6, bench/README.md).
//
// Kept exact by the writers, not by a trigger: every statement that inserts a donation or changes
// a column the summary reads (status, amount, amount_refunded, disputed_amount, fee, net,
// settlement_currency, campaign_id, currency, created_at) calls apply_totals_change with the
// donation's values before and after the write, in the same transaction. Today those writers are
// webhooks/ledger.cpp (payments, refunds, disputes, payments we did not create) and the
// balance_transaction outbox job (fee, net, settlement currency). A pending donation adds
// nothing, so writes that stay outside the money-moved statuses (POST /v1/donations, a provider
// rejection) need no call. `donatio report summary --verify` compares the table with a GROUP BY
// over donations; `donatio report rebuild-totals` recomputes it.
//
// Thread-safety: stateless functions on the caller's session and transaction.
#pragma once

#include <compare>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "src/store/database.hpp"
#include "src/store/sql.hpp"

namespace donatio::store {

inline constexpr std::int64_t kSecondsPerDay = 86400;
// campaign_key of a donation without a campaign (campaign_id NULL): ids start at 1 on both
// databases, and a primary key cannot hold NULL on PostgreSQL.
inline constexpr std::int64_t kUnattributedCampaignKey = 0;

// The statuses whose money moved: the only donations the finance summary counts.
inline constexpr const char* kMoneyMovedSqlList = "'succeeded','partially_refunded','refunded','disputed','lost'";
bool money_moved(std::string_view status);

// 00:00 UTC of the day that holds `unix_seconds` (rounds down, also before 1970).
std::int64_t utc_day_start(std::int64_t unix_seconds);

// The columns of one donation the summary reads; NULL columns are nullopt.
struct SummaryInputs {
  std::optional<std::int64_t> campaign_id;
  std::string currency;
  std::string status;
  std::int64_t created_at = 0;
  std::int64_t amount = 0;
  std::int64_t amount_refunded = 0;
  std::int64_t disputed_amount = 0;
  std::optional<std::int64_t> fee;
  std::optional<std::int64_t> net;
  std::optional<std::string> settlement_currency;
};

// The sums of one donation_daily_totals row (or of several), in minor units of its currency.
struct DailyTotals {
  std::int64_t count = 0;
  std::int64_t gross = 0;
  std::int64_t fees = 0;
  std::int64_t net = 0;
  std::int64_t refunded = 0;
  std::int64_t disputed = 0;
  std::int64_t fees_excluded = 0;  // counted donations whose fee/net are unknown or in another currency

  bool is_zero() const;
  DailyTotals& operator+=(const DailyTotals& other);
  DailyTotals& operator-=(const DailyTotals& other);
};

// What a donation adds to its (day, campaign, currency) row: nothing unless its money moved;
// fee and net only when known and settled in the donation's own currency (else it counts in
// fees_excluded). The C++ twin of kSummarySumsSql; the tests hold them equal.
DailyTotals contribution(const SummaryInputs& donation);

// The summary's select list over `donations d`: count, gross, fees, net, refunded, disputed,
// fees_excluded — to be used with `d.status IN (kMoneyMovedSqlList)`.
extern const char* const kSummarySumsSql;

// Adds `after` − `before` to donation_daily_totals: one upsert per (day, campaign, currency) row
// whose sums change, none when neither version counts. `before` is nullopt for a new donation,
// `after` for a deleted one. On PostgreSQL the upsert (INSERT … ON CONFLICT DO UPDATE SET x = x +
// excluded.x) adds under the row's lock, so concurrent transactions never lose an update.
// REQUIRES: inside the transaction that writes the donation change; `before` read in that
// transaction (on PostgreSQL with the donation row locked, see read_summary_inputs_for_update).
// Throws soci exceptions on database errors.
void apply_totals_change(Sql& sql, const std::optional<SummaryInputs>& before,
                         const std::optional<SummaryInputs>& after);

// Totals changes of several donations written in one transaction, added up and applied together
// at its end: one upsert per (day, campaign, currency) row instead of one per donation (the
// webhook writer's group commit, where a batch of events mostly moves the same row). The rows
// are written in key order, so two PostgreSQL instances take their row locks in the same order.
// Thread-safety: none; one per transaction.
class DailyTotalsBatch {
 public:
  // One donation_daily_totals row.
  struct RowKey {
    std::int64_t day = 0;
    std::int64_t campaign_key = 0;
    std::string currency;

    auto operator<=>(const RowKey&) const = default;
  };

  // What apply_totals_change would add, kept until flush.
  void add(const std::optional<SummaryInputs>& before, const std::optional<SummaryInputs>& after);
  // Writes what was added (REQUIRES: in the transaction that wrote the donations) and forgets it.
  // Throws soci exceptions on database errors.
  void flush(Sql& sql);
  void clear() { rows_.clear(); }

 private:
  std::map<RowKey, DailyTotals> rows_;
};

// The summary inputs of one donation, its row locked until commit on PostgreSQL (FOR UPDATE), so
// a change computed from them cannot interleave with another writer's. nullopt: no such donation.
// REQUIRES: inside a transaction.
std::optional<SummaryInputs> read_summary_inputs_for_update(soci::session& sql, Dialect dialect,
                                                            const std::string& donation_id);

// Recomputes the whole table from donations (DELETE, then INSERT … SELECT … GROUP BY, the same
// statement as migration 003's backfill); returns the number of rows written. On PostgreSQL the
// table is locked first (EXCLUSIVE) so concurrent writers wait instead of interleaving.
// REQUIRES: inside a transaction.
std::int64_t rebuild_daily_totals(soci::session& sql, Dialect dialect);

}  // namespace donatio::store
