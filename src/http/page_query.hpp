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

}  // namespace donatio::http
