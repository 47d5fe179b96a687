// Prepared-statement cache: raw SQLite statements, or SOCI statements on PostgreSQL.
#include "src/store/sql.hpp"

#include <soci/sqlite3/soci-sqlite3.h>

#include <stdexcept>
#include <vector>

namespace donatio::store {

using sqlite_api::sqlite3;
using sqlite_api::sqlite3_stmt;

struct StatementCache::Entry {
  // SQLite
  sqlite3_stmt* stmt = nullptr;
  // PostgreSQL: the statement is bound once to these slots (never resized after binding).
  struct Slot {
    long long integer = 0;
    std::string text;
    soci::indicator ind = soci::i_ok;
  };
  std::unique_ptr<soci::statement> statement;
  std::vector<Slot> params;
  std::vector<Slot> outs;

  ~Entry() {
    if (stmt) sqlite_api::sqlite3_finalize(stmt);
  }
};

namespace {

sqlite3* sqlite_handle(soci::session& session) {
  return static_cast<soci::sqlite3_session_backend*>(session.get_backend())->conn_;
}

[[noreturn]] void throw_sqlite(sqlite3* db, int rc, std::string_view what) {
  throw soci::sqlite3_soci_error(std::string(what) + ": " + sqlite_api::sqlite3_errmsg(db), rc);
}

void bind_sqlite(sqlite3* db, sqlite3_stmt* stmt, std::span<const SqlParam> params) {
  for (std::size_t i = 0; i < params.size(); ++i) {
    const SqlParam& p = params[i];
    const int index = static_cast<int>(i + 1);
    int rc;
    if (p.is_null) {
      rc = sqlite_api::sqlite3_bind_null(stmt, index);
    } else if (p.is_text) {
      // SQLITE_STATIC: the text outlives the step; the next run binds every parameter again.
      rc = sqlite_api::sqlite3_bind_text64(stmt, index, p.text.data() ? p.text.data() : "", p.text.size(),
                                           SQLITE_STATIC, SQLITE_UTF8);
    } else {
      rc = sqlite_api::sqlite3_bind_int64(stmt, index, p.integer);
    }
    if (rc != SQLITE_OK) throw_sqlite(db, rc, "cannot bind a parameter");
  }
}

// Stores one column value into its target, reading it (integer() or text()) only as the target's
// type and only when it is not NULL.
template <class Integer, class Text>
void assign(const SqlTarget& t, bool null, Integer integer, Text text) {
  switch (t.kind) {
    case SqlTarget::Kind::integer: *static_cast<std::int64_t*>(t.where) = null ? 0 : integer(); break;
    case SqlTarget::Kind::text: *static_cast<std::string*>(t.where) = null ? std::string() : text(); break;
    case SqlTarget::Kind::opt_integer: {
      auto& out = *static_cast<std::optional<std::int64_t>*>(t.where);
      if (null) out.reset(); else out = integer();
      break;
    }
    case SqlTarget::Kind::opt_text: {
      auto& out = *static_cast<std::optional<std::string>*>(t.where);
      if (null) out.reset(); else out = text();
      break;
    }
  }
}

void read_sqlite_row(sqlite3_stmt* stmt, std::span<const SqlTarget> targets) {
  for (std::size_t i = 0; i < targets.size(); ++i) {
    const int column = static_cast<int>(i);
    const bool null = sqlite_api::sqlite3_column_type(stmt, column) == SQLITE_NULL;
    assign(targets[i], null, [&] { return sqlite_api::sqlite3_column_int64(stmt, column); }, [&] {
      const auto* bytes = reinterpret_cast<const char*>(sqlite_api::sqlite3_column_text(stmt, column));
      return bytes ? std::string(bytes, static_cast<std::size_t>(sqlite_api::sqlite3_column_bytes(stmt, column)))
                   : std::string();
    });
  }
}

void read_slots(const std::vector<StatementCache::Entry::Slot>& outs, std::span<const SqlTarget> targets) {
  for (std::size_t i = 0; i < targets.size(); ++i) {
    const auto& slot = outs[i];
    assign(targets[i], slot.ind == soci::i_null, [&] { return static_cast<std::int64_t>(slot.integer); },
           [&] { return slot.text; });
  }
}

bool is_text_target(const SqlTarget& t) {
  return t.kind == SqlTarget::Kind::text || t.kind == SqlTarget::Kind::opt_text;
}

}  // namespace

StatementCache::StatementCache(soci::session& session, Dialect dialect) : session_(session), dialect_(dialect) {}
StatementCache::~StatementCache() = default;

void StatementCache::clear() { entries_.clear(); }

bool StatementCache::run(std::string_view text, std::span<const SqlParam> params, std::span<const SqlTarget> targets,
                         std::int64_t* changes) {
  auto it = entries_.find(text);
  if (dialect_ == Dialect::sqlite) {
    sqlite3* db = sqlite_handle(session_);
    if (it == entries_.end()) {
      auto entry = std::make_unique<Entry>();
      const int rc = sqlite_api::sqlite3_prepare_v3(db, text.data(), static_cast<int>(text.size()), SQLITE_PREPARE_PERSISTENT,
                                        &entry->stmt, nullptr);
      if (rc != SQLITE_OK) throw_sqlite(db, rc, "cannot prepare a statement");
      if (static_cast<std::size_t>(sqlite_api::sqlite3_bind_parameter_count(entry->stmt)) != params.size()) {
        throw std::logic_error("statement has a different number of parameters than given: " + std::string(text));
      }
      it = entries_.emplace(std::string(text), std::move(entry)).first;
    }
    sqlite3_stmt* stmt = it->second->stmt;
    bind_sqlite(db, stmt, params);
    const int rc = sqlite_api::sqlite3_step(stmt);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
      const std::string message = sqlite_api::sqlite3_errmsg(db);
      sqlite_api::sqlite3_reset(stmt);
      throw soci::sqlite3_soci_error(message, rc);
    }
    if (rc == SQLITE_ROW) read_sqlite_row(stmt, targets);
    *changes = sqlite_api::sqlite3_changes64(db);
    // A reset statement holds no read snapshot and can run again.
    sqlite_api::sqlite3_reset(stmt);
    return rc == SQLITE_ROW;
  }

  if (it == entries_.end()) {
    auto entry = std::make_unique<Entry>();
    entry->params.resize(params.size());
    entry->outs.resize(targets.size());
    entry->statement = std::make_unique<soci::statement>(session_);
    // libpq sends every parameter as text; the server types it from the statement.
    for (auto& slot : entry->params) entry->statement->exchange(soci::use(slot.text, slot.ind));
    for (std::size_t i = 0; i < targets.size(); ++i) {
      auto& slot = entry->outs[i];
      if (is_text_target(targets[i])) {
        entry->statement->exchange(soci::into(slot.text, slot.ind));
      } else {
        entry->statement->exchange(soci::into(slot.integer, slot.ind));
      }
    }
    entry->statement->alloc();
    entry->statement->prepare(std::string(text));
    entry->statement->define_and_bind();
    it = entries_.emplace(std::string(text), std::move(entry)).first;
  }
  Entry& e = *it->second;
  if (e.params.size() != params.size() || e.outs.size() != targets.size()) {
    throw std::logic_error("statement run with a different shape than it was prepared with: " + std::string(text));
  }
  for (std::size_t i = 0; i < params.size(); ++i) {
    auto& slot = e.params[i];
    slot.ind = params[i].is_null ? soci::i_null : soci::i_ok;
    if (params[i].is_text) {
      slot.text.assign(params[i].text);
    } else {
      slot.text = std::to_string(params[i].integer);
    }
  }
  const bool got = e.statement->execute(true) && e.statement->got_data();
  if (got) read_slots(e.outs, targets);
  *changes = e.statement->get_affected_rows();
  return got;
}

void StatementCache::command(std::string_view text) {
  if (dialect_ == Dialect::postgresql) {
    session_ << std::string(text);
    return;
  }
  std::int64_t changes = 0;
  run(text, {}, {}, &changes);
}

Sql::Sql(soci::session& session, Dialect dialect, StatementCache& cache)
    : session_(session), dialect_(dialect), cache_(&cache) {}

Sql::Sql(soci::session& session, Dialect dialect)
    : session_(session), dialect_(dialect), owned_(std::make_unique<StatementCache>(session, dialect)),
      cache_(owned_.get()) {}

Sql::~Sql() = default;

}  // namespace donatio::store
