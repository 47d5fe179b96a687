#include "src/http/page_query.hpp"

#include "donatio/clock.hpp"

namespace donatio::http {

Result<PageQuery> read_page_query(const httplib::Request& req, const PageRules& rules) {
  PageQuery query;
  for (const char* name : {"from", "to"}) {
    if (!req.has_param(name)) continue;
    std::int64_t at = 0;
    if (!parse_iso8601(req.get_param_value(name), at)) {
      return Status::InvalidArgument(name, std::string(name) + " must be an ISO-8601 date or timestamp");
    }
    (std::string_view(name) == "from" ? query.from : query.to) = at;
  }
  if (query.from && query.to && *query.to <= *query.from) return Status::InvalidArgument("to", "to must be after from");
  if (req.has_param("limit")) {
    const std::string limit = req.get_param_value("limit");
    const std::string range = "limit must be an integer from 1 to " + std::to_string(rules.max_limit);
    if (limit.empty() || limit.size() > 4 || limit.find_first_not_of("0123456789") != std::string::npos) {
      return Status::InvalidArgument("limit", range);
    }
    const int n = std::stoi(limit);
    if (n < 1 || n > rules.max_limit) return Status::InvalidArgument("limit", range);
    query.limit = n;
  }
  if (req.has_param("cursor")) {
    const std::string cursor = req.get_param_value("cursor");
    const auto dot = cursor.find('.');
    const Status invalid = Status::InvalidArgument("cursor", "cursor is not valid");
    if (dot == std::string::npos || dot == 0 || dot > 12) return invalid;
    const std::string at = cursor.substr(0, dot);
    std::string key = cursor.substr(dot + 1);
    if (at.find_first_not_of("0123456789") != std::string::npos) return invalid;
    if (key.empty() || key.size() > rules.max_key_length || key.find_first_not_of(rules.key_chars) != std::string::npos) {
      return invalid;
    }
    query.after = std::make_pair(std::stoll(at), std::move(key));
  }
  return query;
}

}  // namespace donatio::http
