// DonationExport: every donation created in [from, to), any status, as CSV (RFC 4180, CRLF,
// amounts in major units, times ISO-8601 UTC, text cells neutralised against formula injection),
// read in keyset pages ordered by (created_at, id) so memory stays bounded by one page however
// many rows there are. Served by donations_created (created_at, id): each page is one index
// range scan starting after the previous page's last key.
// Thread-safety: one DonationExport belongs to one stream; each next_page() leases its own
// database session for the duration of that page only. `db` must outlive the export.
#pragma once

#include <cstdint>
#include <string>

#include "donatio/status.hpp"
#include "src/reports/period.hpp"
#include "src/store/database.hpp"

namespace donatio::reports {

class DonationExport {
 public:
  static constexpr int kDefaultPageRows = 1000;

  DonationExport(store::Database& db, ReportPeriod period, int page_rows = kDefaultPageRows)
      : db_(&db), period_(period), page_rows_(page_rows) {}

  static std::string header_line();
  // Appends the CSV lines of the next page to `out`; returns the number of rows appended
  // (0 = the export is complete).
  Result<std::size_t> next_page(std::string& out);
  bool finished() const { return finished_; }

 private:
  store::Database* db_;
  ReportPeriod period_;
  int page_rows_;
  bool started_ = false;
  bool finished_ = false;
  std::int64_t last_created_ = 0;
  std::string last_id_;
};

}  // namespace donatio::reports
