#include "src/reports/donation_export.hpp"

#include <vector>

#include "donatio/clock.hpp"
#include "src/reports/csv.hpp"
#include "src/reports/summary.hpp"
#include "src/store/row.hpp"

namespace donatio::reports {
namespace {

constexpr const char* kSelect =
    "SELECT d.id, d.created_at, c.slug, d.status, d.amount, d.currency, d.fee, d.net, d.settlement_currency, "
    "d.amount_refunded, d.receipt_number, d.payment_intent_id, d.donor_email "
    "FROM donations d LEFT JOIN campaigns c ON c.id = d.campaign_id "
    "WHERE d.created_at >= :from AND d.created_at < :to";
// Row values compare lexicographically on both SQLite (>= 3.15) and PostgreSQL and use the index.
constexpr const char* kAfter = " AND (d.created_at, d.id) > (:last_created, :last_id)";
constexpr const char* kOrder = " ORDER BY d.created_at, d.id LIMIT :page";

}  // namespace

std::string DonationExport::header_line() {
  std::string out;
  append_csv_line(out, {"id", "created", "campaign", "status", "amount", "currency", "fee", "net",
                        "settlement_currency", "refunded", "receipt_number", "payment_intent", "donor_email"});
  return out;
}

Result<std::size_t> DonationExport::next_page(std::string& out) {
  if (finished_) return std::size_t{0};
  std::size_t appended = 0;
  Status s = db_->read([&](soci::session& sql) {
    const long long from = period_.from, to = period_.to, last_created = last_created_, page = page_rows_;
    soci::rowset<soci::row> rows =
        started_ ? (sql.prepare << std::string(kSelect) + kAfter + kOrder, soci::use(from), soci::use(to),
                    soci::use(last_created), soci::use(last_id_), soci::use(page))
                 : (sql.prepare << std::string(kSelect) + kOrder, soci::use(from), soci::use(to), soci::use(page));
    std::string id;
    std::int64_t created = 0;
    for (const auto& r : rows) {
      id = store::str(r, 0);
      created = store::i64(r, 1);
      const std::string currency = store::str(r, 5);
      const std::string settlement = store::is_null(r, 8) ? currency : store::str(r, 8);
      std::vector<std::string> cells{
          csv_text(id),
          csv_text(format_iso8601(created)),
          csv_text(store::is_null(r, 2) ? std::string(kUnattributed) : store::str(r, 2)),
          csv_text(store::str(r, 3)),
          csv_number(major_units(store::i64(r, 4), currency)),
          csv_text(currency),
          store::is_null(r, 6) ? std::string() : csv_number(major_units(store::i64(r, 6), settlement)),
          store::is_null(r, 7) ? std::string() : csv_number(major_units(store::i64(r, 7), settlement)),
          csv_text(store::is_null(r, 6) && store::is_null(r, 7) ? std::string() : settlement),
          csv_number(major_units(store::i64(r, 9), currency)),
          csv_text(store::str(r, 10)),
          csv_text(store::str(r, 11)),
          csv_text(store::str(r, 12)),
      };
      append_csv_line(out, cells);
      ++appended;
    }
    if (appended > 0) {
      last_created_ = created;
      last_id_ = id;
    }
    return Status::Ok();
  });
  if (!s.ok()) return s;
  started_ = true;
  if (appended < static_cast<std::size_t>(page_rows_)) finished_ = true;
  return appended;
}

}  // namespace donatio::reports
