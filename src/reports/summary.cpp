#include "src/reports/summary.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <functional>
#include <map>

#include "donatio/clock.hpp"
#include "src/reports/csv.hpp"
#include "src/store/daily_totals.hpp"
#include "src/store/row.hpp"

namespace donatio::reports {

const char* const kMoneyMovedSqlList = store::kMoneyMovedSqlList;

bool money_moved(const std::string& status) { return store::money_moved(status); }

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

// A summary row being assembled: keyed by (campaign_key, currency) as the GROUP BY over donations
// is (by campaign_id, which determines slug and title).
struct Group {
  std::optional<std::string> campaign;
  std::string campaign_title;
  SummaryAmounts amounts;
};
using Groups = std::map<std::pair<std::int64_t, std::string>, Group>;

// Columns: campaign_key, slug, title, currency, then the seven sums of kSummarySumsSql.
void add_rows(soci::rowset<soci::row>& rows, Groups& groups) {
  for (const auto& r : rows) {
    Group& g = groups[{store::i64(r, 0), store::str(r, 3)}];
    if (!store::is_null(r, 1)) g.campaign = store::str(r, 1);
    g.campaign_title = store::str(r, 2);
    SummaryAmounts a;
    a.count = store::i64(r, 4);
    a.gross = store::i64(r, 5);
    a.fees = store::i64(r, 6);
    a.net = store::i64(r, 7);
    a.refunded = store::i64(r, 8);
    a.disputed = store::i64(r, 9);
    a.fees_excluded = store::i64(r, 10);
    add_to(g.amounts, a);
  }
}

// Donations created in [from, to), grouped into campaigns × currencies; fees/net only where
// they are in the donation's currency. SQLite's planner would walk donations_campaign_created
// (it saves the GROUP BY sort) and read the rows in random order, so the access path is chosen
// here: a short period (the partial days at the edges of a summary) is a range of
// donations_created; a longer one (--verify, a summary straight from donations) reads the
// table once from start to end. bench/README.md has the figures over 1,000,000 donations.
void add_from_donations(soci::session& sql, store::Dialect dialect, std::int64_t from, std::int64_t to,
                        Groups& groups) {
  if (from >= to) return;
  const bool short_period = to - from <= 2 * store::kSecondsPerDay;
  const std::string access = dialect != store::Dialect::sqlite ? ""
                             : short_period                    ? "INDEXED BY donations_created "
                                                               : "NOT INDEXED ";
  const std::string query =
      std::string("SELECT COALESCE(d.campaign_id, 0), c.slug, c.title, d.currency, ") + store::kSummarySumsSql +
      " FROM donations d " + access +
      "LEFT JOIN campaigns c ON c.id = d.campaign_id "
      "WHERE d.created_at >= :from AND d.created_at < :to AND d.status IN (" +
      store::kMoneyMovedSqlList + ") GROUP BY d.campaign_id, c.slug, c.title, d.currency";
  const long long from_at = from, to_at = to;
  soci::rowset<soci::row> rows = (sql.prepare << query, soci::use(from_at), soci::use(to_at));
  add_rows(rows, groups);
}

// Whole UTC days [first_day, end_day) from donation_daily_totals: summed per campaign and
// currency first, then joined with the campaigns (a few thousand rows at most).
void add_from_daily_totals(soci::session& sql, std::int64_t first_day, std::int64_t end_day, Groups& groups) {
  if (first_day >= end_day) return;
  const long long first = first_day, end = end_day;
  soci::rowset<soci::row> rows =
      (sql.prepare << "SELECT t.campaign_key, c.slug, c.title, t.currency, t.n, t.gross, t.fees, t.net, t.refunded, "
                      "t.disputed, t.fees_excluded FROM (SELECT campaign_key, currency, SUM(donation_count) AS n, "
                      "SUM(gross) AS gross, SUM(fees) AS fees, SUM(net) AS net, SUM(refunded) AS refunded, "
                      "SUM(disputed) AS disputed, SUM(fees_excluded) AS fees_excluded FROM donation_daily_totals "
                      "WHERE day >= :first AND day < :end GROUP BY campaign_key, currency) t "
                      "LEFT JOIN campaigns c ON c.id = t.campaign_key",
       soci::use(first), soci::use(end));
  add_rows(rows, groups);
}

// Runs `work` in one read-only transaction so every statement sees the same snapshot
// (PostgreSQL: REPEATABLE READ; SQLite: a deferred transaction never takes the write lock).
Status read_in_one_snapshot(store::Database& db, const std::function<void(soci::session&)>& work) {
  return db.read([&](soci::session& sql) {
    sql << (db.is_postgres() ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" : "BEGIN");
    try {
      work(sql);
    } catch (...) {
      try {
        sql << "ROLLBACK";
      } catch (...) {
      }
      throw;
    }
    sql << "COMMIT";
    return Status::Ok();
  });
}

Summary summary_of(const ReportPeriod& period, Groups& groups) {
  Summary summary;
  summary.period = period;
  for (auto& [key, g] : groups) {
    if (g.amounts.count == 0) continue;  // a daily-totals row whose donations all stopped counting
    summary.rows.push_back({std::move(g.campaign), std::move(g.campaign_title), key.second, g.amounts});
  }
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

}  // namespace

Result<Summary> load_summary(store::Database& db, const ReportPeriod& period) {
  // Whole UTC days come from donation_daily_totals; the partial days at either edge (when from
  // or to is not at midnight) from donations, over at most a day each.
  const std::int64_t first_day = store::utc_day_start(period.from) == period.from
                                     ? period.from
                                     : store::utc_day_start(period.from) + store::kSecondsPerDay;
  const std::int64_t end_day = store::utc_day_start(period.to);
  Groups groups;
  Status s = read_in_one_snapshot(db, [&](soci::session& sql) {
    if (first_day < end_day) {
      add_from_donations(sql, db.dialect(), period.from, first_day, groups);
      add_from_daily_totals(sql, first_day, end_day, groups);
      add_from_donations(sql, db.dialect(), end_day, period.to, groups);
    } else {
      add_from_donations(sql, db.dialect(), period.from, period.to, groups);
    }
  });
  if (!s.ok()) return s;
  return summary_of(period, groups);
}

Result<Summary> load_summary_from_donations(store::Database& db, const ReportPeriod& period) {
  Groups groups;
  Status s = read_in_one_snapshot(
      db, [&](soci::session& sql) { add_from_donations(sql, db.dialect(), period.from, period.to, groups); });
  if (!s.ok()) return s;
  return summary_of(period, groups);
}

std::vector<std::string> summary_differences(const Summary& expected, const Summary& actual) {
  auto describe = [](const std::vector<SummaryRow>& rows) {
    std::map<std::pair<std::string, std::string>, std::string> out;
    for (const auto& r : rows) {
      const auto& a = r.amounts;
      out[{r.campaign.value_or(kUnattributed), r.currency}] =
          "count " + std::to_string(a.count) + ", gross " + std::to_string(a.gross) + ", fees " +
          std::to_string(a.fees) + ", net " + std::to_string(a.net) + ", refunded " + std::to_string(a.refunded) +
          ", disputed " + std::to_string(a.disputed) + ", fees_excluded " + std::to_string(a.fees_excluded);
    }
    return out;
  };
  const auto want = describe(expected.rows), got = describe(actual.rows);
  std::vector<std::string> diffs;
  for (const auto& [key, text] : want) {
    auto it = got.find(key);
    const std::string other = it == got.end() ? "no row" : it->second;
    if (other != text) diffs.push_back(key.first + " " + key.second + ": expected " + text + "; got " + other);
  }
  for (const auto& [key, text] : got) {
    if (!want.count(key)) diffs.push_back(key.first + " " + key.second + ": expected no row; got " + text);
  }
  return diffs;
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
