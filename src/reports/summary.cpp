#include "src/reports/summary.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>

#include "donatio/clock.hpp"
#include "src/reports/csv.hpp"
#include "src/store/row.hpp"

namespace donatio::reports {

const char* const kMoneyMovedSqlList = "'succeeded','partially_refunded','refunded','disputed','lost'";

bool money_moved(const std::string& status) {
  return status == "succeeded" || status == "partially_refunded" || status == "refunded" || status == "disputed" ||
         status == "lost";
}

namespace {

void add_to(SummaryAmounts& total, const SummaryAmounts& a) {
  total.count += a.count;
  total.gross += a.gross;
  total.fees += a.fees;
  total.net += a.net;
  total.refunded += a.refunded;
  total.disputed += a.disputed;
  total.fees_excluded += a.fees_excluded;
}

nlohmann::json amounts_json(const SummaryAmounts& a) {
  return {{"count", a.count},       {"gross", a.gross},       {"fees", a.fees},
          {"net", a.net},           {"refunded", a.refunded}, {"disputed", a.disputed},
          {"fees_excluded", a.fees_excluded}};
}

void amounts_csv(std::vector<std::string>& cells, const SummaryAmounts& a, const std::string& currency) {
  cells.push_back(csv_number(std::to_string(a.count)));
  for (std::int64_t v : {a.gross, a.fees, a.net, a.refunded, a.disputed}) {
    cells.push_back(csv_number(major_units(v, currency)));
  }
  cells.push_back(csv_number(std::to_string(a.fees_excluded)));
}

}  // namespace

Result<Summary> load_summary(store::Database& db, const ReportPeriod& period) {
  Summary summary;
  summary.period = period;
  // One pass over the covering index donations_summary (created_at, status, campaign_id, …);
  // the GROUP BY sorts it into campaigns × currencies groups. Fees/net only where they are in
  // the donation's currency.
  const std::string query = std::string(
      "SELECT c.slug, c.title, d.currency, COUNT(*), SUM(d.amount), "
      "SUM(CASE WHEN d.fee IS NOT NULL AND (d.settlement_currency IS NULL OR d.settlement_currency = d.currency) "
      "THEN d.fee ELSE 0 END), "
      "SUM(CASE WHEN d.net IS NOT NULL AND (d.settlement_currency IS NULL OR d.settlement_currency = d.currency) "
      "THEN d.net ELSE 0 END), "
      "SUM(d.amount_refunded), SUM(d.disputed_amount), "
      "SUM(CASE WHEN d.fee IS NULL OR d.net IS NULL OR (d.settlement_currency IS NOT NULL AND "
      "d.settlement_currency <> d.currency) THEN 1 ELSE 0 END) "
      "FROM donations d ") +
      // SQLite's planner prefers donations_campaign_created (it saves the GROUP BY sort) and
      // then reads 1M rows in random order; the covering index is 3-4x faster (bench/README-reports.md).
      (db.dialect() == store::Dialect::sqlite ? "INDEXED BY donations_summary " : "") +
      "LEFT JOIN campaigns c ON c.id = d.campaign_id "
      "WHERE d.created_at >= :from AND d.created_at < :to AND d.status IN (" +
      kMoneyMovedSqlList + ") GROUP BY d.campaign_id, c.slug, c.title, d.currency";
  Status s = db.read([&](soci::session& sql) {
    const long long from = period.from, to = period.to;
    soci::rowset<soci::row> rows = (sql.prepare << query, soci::use(from), soci::use(to));
    for (const auto& r : rows) {
      SummaryRow row;
      if (!store::is_null(r, 0)) row.campaign = store::str(r, 0);
      row.campaign_title = store::str(r, 1);
      row.currency = store::str(r, 2);
      row.amounts.count = store::i64(r, 3);
      row.amounts.gross = store::i64(r, 4);
      row.amounts.fees = store::i64(r, 5);
      row.amounts.net = store::i64(r, 6);
      row.amounts.refunded = store::i64(r, 7);
      row.amounts.disputed = store::i64(r, 8);
      row.amounts.fees_excluded = store::i64(r, 9);
      summary.rows.push_back(std::move(row));
    }
    return Status::Ok();
  });
  if (!s.ok()) return s;
  std::sort(summary.rows.begin(), summary.rows.end(), [](const SummaryRow& a, const SummaryRow& b) {
    if (a.campaign.has_value() != b.campaign.has_value()) return a.campaign.has_value();  // unattributed last
    if (a.campaign != b.campaign) return a.campaign < b.campaign;
    return a.currency < b.currency;
  });
  std::map<std::string, SummaryAmounts> totals;
  for (const auto& row : summary.rows) add_to(totals[row.currency], row.amounts);
  for (auto& [currency, amounts] : totals) summary.totals.push_back({currency, amounts});
  return summary;
}

std::string summary_json(const Summary& summary) {
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& r : summary.rows) {
    nlohmann::json j = amounts_json(r.amounts);
    j["campaign"] = r.campaign ? nlohmann::json(*r.campaign) : nlohmann::json(nullptr);
    j["campaign_title"] = r.campaign ? nlohmann::json(r.campaign_title) : nlohmann::json(nullptr);
    j["currency"] = r.currency;
    rows.push_back(std::move(j));
  }
  nlohmann::json totals = nlohmann::json::array();
  for (const auto& t : summary.totals) {
    nlohmann::json j = amounts_json(t.amounts);
    j["currency"] = t.currency;
    totals.push_back(std::move(j));
  }
  nlohmann::json doc = {
      {"from", format_iso8601(summary.period.from)},
      {"to", format_iso8601(summary.period.to)},
      {"statuses", {"succeeded", "partially_refunded", "refunded", "disputed", "lost"}},
      {"rows", std::move(rows)},
      {"totals", std::move(totals)},
  };
  return doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string summary_csv(const Summary& summary) {
  std::string out;
  append_csv_line(out, {"campaign", "currency", "count", "gross", "fees", "net", "refunded", "disputed",
                        "fees_excluded"});
  for (const auto& r : summary.rows) {
    std::vector<std::string> cells{csv_text(r.campaign ? *r.campaign : kUnattributed), csv_text(r.currency)};
    amounts_csv(cells, r.amounts, r.currency);
    append_csv_line(out, cells);
  }
  for (const auto& t : summary.totals) {
    std::vector<std::string> cells{csv_text("(total)"), csv_text(t.currency)};
    amounts_csv(cells, t.amounts, t.currency);
    append_csv_line(out, cells);
  }
  return out;
}

}  // namespace donatio::reports
