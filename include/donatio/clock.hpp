// Clock: the one source of "now" (UTC). Injected everywhere time matters so tests can move it.
// Implementations must be thread-safe.
#pragma once

#include <cstdint>
#include <string>

namespace donatio {

class Clock {
 public:
  virtual ~Clock() = default;
  // Seconds since the Unix epoch, UTC.
  virtual std::int64_t now_unix() const = 0;
  // Milliseconds since the Unix epoch, UTC.
  virtual std::int64_t now_unix_ms() const { return now_unix() * 1000; }
};

class SystemClock final : public Clock {
 public:
  std::int64_t now_unix() const override;
  std::int64_t now_unix_ms() const override;
};

// ISO-8601 UTC with a Z suffix: 1767225600 -> "2026-01-01T00:00:00Z".
std::string format_iso8601(std::int64_t unix_seconds);
// Parses "2026-01-01T00:00:00Z", "2026-01-01T00:00:00+02:00", "2026-01-01T00:00:00.123Z" or a
// bare date "2026-01-01" (midnight UTC). Returns false on anything else.
bool parse_iso8601(const std::string& text, std::int64_t& unix_seconds);
// Calendar year (UTC) of a timestamp.
int utc_year(std::int64_t unix_seconds);

}  // namespace donatio
