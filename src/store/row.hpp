// Reading dynamically-typed SOCI rows the same way on SQLite and PostgreSQL: SQLite reports
// INTEGER columns as int, PostgreSQL BIGINT as long long; these helpers accept either.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "src/store/database.hpp"

namespace donatio::store {

inline bool is_null(const soci::row& row, std::size_t i) { return row.get_indicator(i) == soci::i_null; }

inline std::int64_t i64(const soci::row& row, std::size_t i, std::int64_t fallback = 0) {
  if (is_null(row, i)) return fallback;
  switch (row.get_properties(i).get_data_type()) {
    case soci::dt_integer: return row.get<int>(i);
    case soci::dt_long_long: return row.get<long long>(i);
    case soci::dt_unsigned_long_long: return static_cast<std::int64_t>(row.get<unsigned long long>(i));
    case soci::dt_double: return static_cast<std::int64_t>(row.get<double>(i));
    case soci::dt_string: return std::stoll(row.get<std::string>(i));
    default: return fallback;
  }
}

inline std::optional<std::int64_t> opt_i64(const soci::row& row, std::size_t i) {
  if (is_null(row, i)) return std::nullopt;
  return i64(row, i);
}

inline std::string str(const soci::row& row, std::size_t i) {
  if (is_null(row, i)) return {};
  if (row.get_properties(i).get_data_type() == soci::dt_string) return row.get<std::string>(i);
  return std::to_string(i64(row, i));
}

}  // namespace donatio::store
