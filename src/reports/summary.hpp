// Finance summary: per campaign and currency, over donations created in [from, to) whose money
// moved (status succeeded, partially_refunded, refunded, disputed or lost): count, gross
// (amount charged), fees, net, refunded, disputed — plus totals per currency. Amounts are never
// summed across currencies. Fees and net are Stripe's, in the settlement currency: a row only
// sums those of donations that settled in the row's own currency; donations whose fee is not
// known yet or that settled in another currency are counted in `fees_excluded` instead.
// Unattributed donations (campaign_id NULL) form their own row (campaign null / "(unattributed)").
// Whole UTC days are read from donation_daily_totals (src/store/daily_totals.hpp), the partial
// days at the edges of the period from donations; the result is the same as one GROUP BY over
// donations (load_summary_from_donations), which the tests and `--verify` hold it to.
// Thread-safety: the loaders lease their own session; the formatters are pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "donatio/status.hpp"
#include "src/reports/period.hpp"
#include "src/store/database.hpp"

namespace donatio::reports {

// The statuses a summary counts (money that moved), as an SQL list and for C++ checks.
extern const char* const kMoneyMovedSqlList;  // "'succeeded','partially_refunded',…"
bool money_moved(const std::string& status);

// Shown in CSV for a donation without a campaign (slugs never hold parentheses).
inline constexpr const char* kUnattributed = "(unattributed)";

struct SummaryAmounts {
  std::int64_t count = 0;
  std::int64_t gross = 0;
  std::int64_t fees = 0;
  std::int64_t net = 0;
  std::int64_t refunded = 0;
  std::int64_t disputed = 0;
  std::int64_t fees_excluded = 0;  // donations whose fee/net are unknown or in another currency
};

struct SummaryRow {
  std::optional<std::string> campaign;  // slug; nullopt = unattributed
  std::string campaign_title;
  std::string currency;
  SummaryAmounts amounts;
};

struct SummaryTotal {
  std::string currency;
  SummaryAmounts amounts;
};

struct Summary {
  ReportPeriod period;
  std::vector<SummaryRow> rows;      // ordered by campaign slug (unattributed last), currency
  std::vector<SummaryTotal> totals;  // one per currency, ordered by currency
};

// Reads in one snapshot (PostgreSQL REPEATABLE READ; SQLite one read transaction).
Result<Summary> load_summary(store::Database& db, const ReportPeriod& period);
// The same summary from one GROUP BY over donations (the covering index donations_summary):
// seconds on a million donations. For verification (`donatio report summary --verify`, tests).
Result<Summary> load_summary_from_donations(store::Database& db, const ReportPeriod& period);
// One line per (campaign, currency) row that differs between two summaries; empty when equal.
std::vector<std::string> summary_differences(const Summary& expected, const Summary& actual);

// JSON: amounts in integer minor units.
std::string summary_json(const Summary& summary);
// CSV (RFC 4180): rows then one "(total)" row per currency; amounts in major units.
std::string summary_csv(const Summary& summary);

}  // namespace donatio::reports
