// The query parameters of the admin list endpoints (GET /v1/admin/donations, /v1/admin/audit):
// from/to (ISO 8601, half-open period), limit and the keyset cursor "<created_at>.<key>" that
// the previous page returned as next_cursor.
#pragma once

#include <httplib.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "donatio/status.hpp"

namespace donatio::http {

struct PageQuery {
  std::optional<std::int64_t> from;
  std::optional<std::int64_t> to;
  std::optional<int> limit;
  std::optional<std::pair<std::int64_t, std::string>> after;  // the cursor
};

struct PageRules {
  int max_limit = 500;
  std::string_view key_chars = "abcdefghijklmnopqrstuvwxyz0123456789_";  // the cursor's key
  std::size_t max_key_length = 64;
};

// A 400-worthy InvalidArgument naming the parameter when one is malformed or out of range.
Result<PageQuery> read_page_query(const httplib::Request& req, const PageRules& rules);

// A list endpoint asks its store for one row more than the page shows: that row only says
// whether a next page exists, so the last page carries no cursor to an empty one. Drops it and
// returns the next_cursor — `cursor_of(the last row shown)` — or nullopt on the last page.
template <typename Row, typename CursorOf>
std::optional<std::string> finish_page(std::vector<Row>& rows, int page_size, CursorOf&& cursor_of) {
  if (page_size < 1 || static_cast<int>(rows.size()) <= page_size) return std::nullopt;
  rows.erase(rows.begin() + page_size, rows.end());
  return cursor_of(rows.back());
}

}  // namespace donatio::http
