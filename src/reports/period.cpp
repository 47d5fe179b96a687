#include "src/reports/period.hpp"

#include "donatio/clock.hpp"

namespace donatio::reports {
namespace {

Status read_time(const std::optional<std::string>& text, const char* field, std::int64_t& out) {
  if (!text || text->empty()) {
    return Status(StatusCode::invalid_argument, "missing_field", std::string(field) + " is required (ISO-8601, UTC)",
                  field);
  }
  if (!parse_iso8601(*text, out)) {
    return Status::InvalidArgument(field, std::string(field) +
                                              " must be an ISO-8601 date or date-time, e.g. 2026-01-01 or "
                                              "2026-01-01T00:00:00Z");
  }
  return Status::Ok();
}

}  // namespace

Result<ReportPeriod> parse_period(const std::optional<std::string>& from, const std::optional<std::string>& to) {
  ReportPeriod period;
  if (Status s = read_time(from, "from", period.from); !s.ok()) return s;
  if (Status s = read_time(to, "to", period.to); !s.ok()) return s;
  if (period.to <= period.from) {
    return Status::InvalidArgument("to", "to must be after from (the period is [from, to))", "invalid_period");
  }
  return period;
}

Result<std::string> parse_format(const std::optional<std::string>& format, std::initializer_list<const char*> allowed,
                                 const char* fallback) {
  if (!format || format->empty()) return std::string(fallback);
  std::string names;
  for (const char* a : allowed) {
    if (*format == a) return *format;
    names += names.empty() ? "" : ", ";
    names += a;
  }
  return Status::InvalidArgument("format", "format must be one of: " + names, "invalid_format");
}

}  // namespace donatio::reports
