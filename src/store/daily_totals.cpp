#include "src/store/daily_totals.hpp"

#include "src/store/row.hpp"
#include "src/store/sql.hpp"

namespace donatio::store {
namespace {

using RowKey = DailyTotalsBatch::RowKey;

RowKey key_of(const SummaryInputs& d) {
  return {utc_day_start(d.created_at), d.campaign_id.value_or(kUnattributedCampaignKey), d.currency};
}

void add_to_row(Sql& sql, const RowKey& key, const DailyTotals& delta) {
  if (delta.is_zero()) return;
  sql.exec("INSERT INTO donation_daily_totals (day, campaign_key, currency, donation_count, gross, fees, net, refunded, "
           "disputed, fees_excluded) VALUES (:day, :campaign, :currency, :count, :gross, :fees, :net, :refunded, "
           ":disputed, :fees_excluded) "
           "ON CONFLICT (day, campaign_key, currency) DO UPDATE SET "
           "donation_count = donation_daily_totals.donation_count + excluded.donation_count, "
           "gross = donation_daily_totals.gross + excluded.gross, "
           "fees = donation_daily_totals.fees + excluded.fees, "
           "net = donation_daily_totals.net + excluded.net, "
           "refunded = donation_daily_totals.refunded + excluded.refunded, "
           "disputed = donation_daily_totals.disputed + excluded.disputed, "
           "fees_excluded = donation_daily_totals.fees_excluded + excluded.fees_excluded",
           key.day, key.campaign_key, key.currency, delta.count, delta.gross, delta.fees, delta.net, delta.refunded,
           delta.disputed, delta.fees_excluded);
}

}  // namespace

bool money_moved(std::string_view status) {
  return status == "succeeded" || status == "partially_refunded" || status == "refunded" || status == "disputed" ||
         status == "lost";
}

std::int64_t utc_day_start(std::int64_t unix_seconds) {
  std::int64_t rem = unix_seconds % kSecondsPerDay;
  if (rem < 0) rem += kSecondsPerDay;
  return unix_seconds - rem;
}

bool DailyTotals::is_zero() const {
  return count == 0 && gross == 0 && fees == 0 && net == 0 && refunded == 0 && disputed == 0 && fees_excluded == 0;
}

DailyTotals& DailyTotals::operator+=(const DailyTotals& o) {
  count += o.count;
  gross += o.gross;
  fees += o.fees;
  net += o.net;
  refunded += o.refunded;
  disputed += o.disputed;
  fees_excluded += o.fees_excluded;
  return *this;
}

DailyTotals& DailyTotals::operator-=(const DailyTotals& o) {
  count -= o.count;
  gross -= o.gross;
  fees -= o.fees;
  net -= o.net;
  refunded -= o.refunded;
  disputed -= o.disputed;
  fees_excluded -= o.fees_excluded;
  return *this;
}

const char* const kSummarySumsSql =
    "COUNT(*), SUM(d.amount), "
    "SUM(CASE WHEN d.fee IS NOT NULL AND (d.settlement_currency IS NULL OR d.settlement_currency = d.currency) "
    "THEN d.fee ELSE 0 END), "
    "SUM(CASE WHEN d.net IS NOT NULL AND (d.settlement_currency IS NULL OR d.settlement_currency = d.currency) "
    "THEN d.net ELSE 0 END), "
    "SUM(d.amount_refunded), SUM(d.disputed_amount), "
    "SUM(CASE WHEN d.fee IS NULL OR d.net IS NULL OR (d.settlement_currency IS NOT NULL AND "
    "d.settlement_currency <> d.currency) THEN 1 ELSE 0 END)";

DailyTotals contribution(const SummaryInputs& d) {
  DailyTotals t;
  if (!money_moved(d.status)) return t;
  // Same tests as kSummarySumsSql: a NULL settlement currency means "not converted".
  const bool own_currency = !d.settlement_currency || *d.settlement_currency == d.currency;
  t.count = 1;
  t.gross = d.amount;
  t.fees = d.fee && own_currency ? *d.fee : 0;
  t.net = d.net && own_currency ? *d.net : 0;
  t.refunded = d.amount_refunded;
  t.disputed = d.disputed_amount;
  t.fees_excluded = !d.fee || !d.net || !own_currency ? 1 : 0;
  return t;
}

namespace {

// Calls add(key, delta) for each row `before` → `after` changes (at most two: a donation that
// moves to another day, campaign or currency leaves one row and enters another).
template <typename Add>
void for_each_change(const std::optional<SummaryInputs>& before, const std::optional<SummaryInputs>& after, Add add) {
  const DailyTotals removed = before ? contribution(*before) : DailyTotals{};
  const DailyTotals added = after ? contribution(*after) : DailyTotals{};
  if (before && after && key_of(*before) == key_of(*after)) {
    DailyTotals delta = added;
    delta -= removed;
    add(key_of(*after), delta);
    return;
  }
  if (before) {
    DailyTotals delta;
    delta -= removed;
    add(key_of(*before), delta);
  }
  if (after) add(key_of(*after), added);
}

}  // namespace

void apply_totals_change(Sql& sql, const std::optional<SummaryInputs>& before,
                         const std::optional<SummaryInputs>& after) {
  for_each_change(before, after, [&](const RowKey& key, const DailyTotals& delta) { add_to_row(sql, key, delta); });
}

void DailyTotalsBatch::add(const std::optional<SummaryInputs>& before, const std::optional<SummaryInputs>& after) {
  for_each_change(before, after, [&](const RowKey& key, const DailyTotals& delta) {
    if (!delta.is_zero()) rows_[key] += delta;
  });
}

void DailyTotalsBatch::flush(Sql& sql) {
  for (const auto& [key, delta] : rows_) add_to_row(sql, key, delta);
  rows_.clear();
}

std::optional<SummaryInputs> read_summary_inputs_for_update(soci::session& sql, Dialect dialect,
                                                            const std::string& donation_id) {
  std::string query =
      "SELECT campaign_id, currency, status, created_at, amount, amount_refunded, disputed_amount, fee, net, "
      "settlement_currency FROM donations WHERE id = :id";
  if (dialect == Dialect::postgresql) query += " FOR UPDATE";
  soci::rowset<soci::row> rows = (sql.prepare << query, soci::use(donation_id));
  for (const auto& r : rows) {
    SummaryInputs d;
    d.campaign_id = opt_i64(r, 0);
    d.currency = str(r, 1);
    d.status = str(r, 2);
    d.created_at = i64(r, 3);
    d.amount = i64(r, 4);
    d.amount_refunded = i64(r, 5);
    d.disputed_amount = i64(r, 6);
    d.fee = opt_i64(r, 7);
    d.net = opt_i64(r, 8);
    if (!is_null(r, 9)) d.settlement_currency = str(r, 9);
    return d;
  }
  return std::nullopt;
}

std::int64_t rebuild_daily_totals(soci::session& sql, Dialect dialect) {
  if (dialect == Dialect::postgresql) sql << "LOCK TABLE donation_daily_totals IN EXCLUSIVE MODE";
  sql << "DELETE FROM donation_daily_totals";
  // The day expression rounds down for every sign (SQL's % keeps the dividend's sign).
  const std::string rebuild =
      std::string(
          "INSERT INTO donation_daily_totals (day, campaign_key, currency, donation_count, gross, fees, net, "
          "refunded, disputed, fees_excluded) "
          "SELECT d.created_at - ((d.created_at % 86400) + 86400) % 86400, COALESCE(d.campaign_id, 0), d.currency, ") +
      kSummarySumsSql + " FROM donations d WHERE d.status IN (" + kMoneyMovedSqlList + ") GROUP BY 1, 2, 3";
  soci::statement st = (sql.prepare << rebuild);
  st.execute(true);
  return st.get_affected_rows();
}

}  // namespace donatio::store
