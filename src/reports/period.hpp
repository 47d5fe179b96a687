// ReportPeriod: the half-open UTC period [from, to) every finance report takes, and the output
// format, read from query parameters or CLI options with errors that name the field
// ("from", "to", "format"). Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>

#include "donatio/status.hpp"

namespace donatio::reports {

struct ReportPeriod {
  std::int64_t from = 0;  // unix seconds, inclusive
  std::int64_t to = 0;    // unix seconds, exclusive; REQUIRES: to > from
};

// Both are required ISO-8601 (a date "2026-01-01" is midnight UTC, or a date-time with Z or an
// offset); `to` must be after `from`. InvalidArgument names "from" or "to".
Result<ReportPeriod> parse_period(const std::optional<std::string>& from, const std::optional<std::string>& to);

// nullopt/"" -> `fallback`; otherwise one of `allowed`, else InvalidArgument naming "format".
Result<std::string> parse_format(const std::optional<std::string>& format, std::initializer_list<const char*> allowed,
                                 const char* fallback);

}  // namespace donatio::reports
