// System clock and ISO-8601 UTC conversions.
#include "donatio/clock.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace donatio {

std::int64_t SystemClock::now_unix() const {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch()).count();
}

std::int64_t SystemClock::now_unix_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string format_iso8601(std::int64_t unix_seconds) {
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

namespace {

bool read_int(const std::string& s, std::size_t pos, std::size_t len, int& out) {
  if (pos + len > s.size()) return false;
  int v = 0;
  for (std::size_t i = pos; i < pos + len; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  out = v;
  return true;
}

std::int64_t days_from_civil(int y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return static_cast<std::int64_t>(era) * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

int days_in_month(int y, int m) {
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kDays[m - 1];
}

}  // namespace

bool parse_iso8601(const std::string& s, std::int64_t& unix_seconds) {
  int year, month, day, hour = 0, minute = 0, second = 0;
  if (!read_int(s, 0, 4, year) || s.size() < 10 || s[4] != '-' || !read_int(s, 5, 2, month) ||
      s[7] != '-' || !read_int(s, 8, 2, day)) {
    return false;
  }
  if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month)) return false;
  std::size_t pos = 10;
  std::int64_t offset = 0;
  if (s.size() > 10) {
    if (s[10] != 'T' && s[10] != 't' && s[10] != ' ') return false;
    if (!read_int(s, 11, 2, hour) || s.size() < 19 || s[13] != ':' || !read_int(s, 14, 2, minute) ||
        s[16] != ':' || !read_int(s, 17, 2, second)) {
      return false;
    }
    if (hour > 23 || minute > 59 || second > 60) return false;
    pos = 19;
    if (pos < s.size() && s[pos] == '.') {
      ++pos;
      const std::size_t start = pos;
      while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') ++pos;
      if (pos == start) return false;
    }
    if (pos >= s.size()) return false;  // a time needs a zone: Z or ±hh:mm
    if (s[pos] == 'Z' || s[pos] == 'z') {
      ++pos;
    } else if (s[pos] == '+' || s[pos] == '-') {
      int oh, om;
      if (!read_int(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
          !read_int(s, pos + 4, 2, om) || oh > 23 || om > 59) {
        return false;
      }
      offset = (oh * 3600 + om * 60) * (s[pos] == '+' ? 1 : -1);
      pos += 6;
    } else {
      return false;
    }
  }
  if (pos != s.size()) return false;
  unix_seconds = days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * 86400 +
                 hour * 3600 + minute * 60 + second - offset;
  return true;
}

int utc_year(std::int64_t unix_seconds) {
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return tm.tm_year + 1900;
}

}  // namespace donatio
