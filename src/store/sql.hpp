// Sql: a transaction's session plus a cache of its prepared statements, for the hot write paths
// (the webhook writer runs ~15 statements per event; preparing each one again cost a quarter of
// its time). A statement is prepared the first time its text is run on a session and reused
// after that, with fresh parameters each time:
//
//   sql.exec("UPDATE donations SET status = :s WHERE id = :id", status, id);      // rows changed
//   std::int64_t n = 0;
//   bool found = sql.first("SELECT COUNT(*) FROM receipts WHERE donation_id = :d", std::tie(n), id);
//
// On SQLite the statements are the library's own (sqlite3_prepare_v3, bound and stepped
// directly); on PostgreSQL they are SOCI statements prepared on the server once per connection.
// Placeholders are `:name`, each name used once per statement. Parameters: integers, strings,
// string views, C strings, std::optional of those (nullopt is NULL) and std::nullopt. Result
// columns go to std::int64_t, std::string, std::optional<std::int64_t> or
// std::optional<std::string>; a NULL read into a non-optional target is 0 or "".
//
// Thread-safety: none; a Sql and its cache belong to one session, which one thread uses at a time.
// Errors: database errors throw the SOCI exception types the rest of the store maps
// (status_from_exception, is_unique_violation).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>

#include "src/store/database.hpp"

namespace donatio::store {

// One statement parameter; text is borrowed from the caller for the duration of the call.
struct SqlParam {
  bool is_null = false;
  bool is_text = false;
  std::int64_t integer = 0;
  std::string_view text;
};

template <class T>
  requires std::is_integral_v<T>
SqlParam sql_param(T value) {
  return {false, false, static_cast<std::int64_t>(value), {}};
}
inline SqlParam sql_param(std::string_view value) { return {false, true, 0, value}; }
inline SqlParam sql_param(const std::string& value) { return {false, true, 0, value}; }
inline SqlParam sql_param(const char* value) {
  return value ? SqlParam{false, true, 0, value} : SqlParam{true, true, 0, {}};
}
inline SqlParam sql_param(std::nullopt_t) { return {true, true, 0, {}}; }
template <class T>
SqlParam sql_param(const std::optional<T>& value) {
  if constexpr (std::is_integral_v<T>) {
    SqlParam p = sql_param(value.value_or(T{}));
    p.is_null = !value.has_value();
    return p;
  } else {
    if (value.has_value()) return sql_param(*value);
    SqlParam null = sql_param(T{});
    null.is_null = true;
    null.text = {};
    return null;
  }
}

// Where one result column goes.
struct SqlTarget {
  enum class Kind { integer, text, opt_integer, opt_text } kind;
  void* where;
};
inline SqlTarget sql_target(std::int64_t& out) { return {SqlTarget::Kind::integer, &out}; }
inline SqlTarget sql_target(std::string& out) { return {SqlTarget::Kind::text, &out}; }
inline SqlTarget sql_target(std::optional<std::int64_t>& out) { return {SqlTarget::Kind::opt_integer, &out}; }
inline SqlTarget sql_target(std::optional<std::string>& out) { return {SqlTarget::Kind::opt_text, &out}; }

// The prepared statements of one session. Must be destroyed (or cleared) before its session
// closes or reconnects.
class StatementCache {
 public:
  StatementCache(soci::session& session, Dialect dialect);
  ~StatementCache();
  StatementCache(const StatementCache&) = delete;
  StatementCache& operator=(const StatementCache&) = delete;

  // Runs `text` (prepared on first use) with `params`; reads the first result row, if any, into
  // `targets`. Returns whether a row was read; `*changes` gets the rows inserted, updated or
  // deleted by a data-changing statement.
  bool run(std::string_view text, std::span<const SqlParam> params, std::span<const SqlTarget> targets,
           std::int64_t* changes);
  // Runs a statement without parameters or results (SAVEPOINT, RELEASE …): cached on SQLite, a
  // one-off on PostgreSQL (which does not prepare transaction-control statements).
  void command(std::string_view text);
  // Finalizes every statement (before the session reconnects).
  void clear();

  struct Entry;

 private:
  soci::session& session_;
  Dialect dialect_;
  std::map<std::string, std::unique_ptr<Entry>, std::less<>> entries_;
};

class Sql {
 public:
  // Statements go to (and stay in) `cache`, which belongs to `session`.
  Sql(soci::session& session, Dialect dialect, StatementCache& cache);
  // A Sql with a cache of its own, finalized with it: for one-off transactions.
  Sql(soci::session& session, Dialect dialect);
  ~Sql();
  Sql(const Sql&) = delete;
  Sql& operator=(const Sql&) = delete;

  soci::session& session() { return session_; }
  Dialect dialect() const { return dialect_; }
  bool is_postgres() const { return dialect_ == Dialect::postgresql; }

  // Runs a data-changing statement; returns the number of rows it changed.
  template <class... Args>
  std::int64_t exec(std::string_view text, const Args&... args) {
    const std::array<SqlParam, sizeof...(Args)> params{sql_param(args)...};
    std::int64_t changes = 0;
    cache_->run(text, params, {}, &changes);
    return changes;
  }

  // Runs a query (or a statement with RETURNING) and reads its first row into `into`
  // (std::tie of the targets). Returns false, leaving the targets as they were, when there is
  // no row.
  template <class... Outs, class... Args>
  bool first(std::string_view text, std::tuple<Outs&...> into, const Args&... args) {
    const std::array<SqlParam, sizeof...(Args)> params{sql_param(args)...};
    const std::array<SqlTarget, sizeof...(Outs)> targets =
        std::apply([](auto&... out) { return std::array<SqlTarget, sizeof...(Outs)>{sql_target(out)...}; }, into);
    std::int64_t changes = 0;
    return cache_->run(text, params, targets, &changes);
  }

  void command(std::string_view text) { cache_->command(text); }

 private:
  soci::session& session_;
  Dialect dialect_;
  std::unique_ptr<StatementCache> owned_;
  StatementCache* cache_;
};

}  // namespace donatio::store
