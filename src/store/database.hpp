// Database: a pool of SOCI sessions to SQLite (embedded default) or PostgreSQL, forward-only
// migrations, and the one way to run a transaction. Every state change in donatio goes through
// `transaction()`, so it commits whole or not at all. Thread-safe: each call leases its own
// session from the pool (bounded wait; an exhausted pool is `unavailable`, not a hang).
#pragma once

#include <soci/soci-config.h>
#undef SOCI_HAVE_BOOST
#undef SOCI_HAVE_BOOST_DATE_TIME
#include <soci/soci.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "donatio/config.hpp"
#include "donatio/status.hpp"
#include "src/store/wal_checkpointer.hpp"

namespace donatio::store {

enum class Dialect { sqlite, postgresql };

// The page size of a SQLite database donatio creates (database.cpp says why 2 KiB). A database
// made with another page size keeps it.
inline constexpr int kSqlitePageSize = 2048;

struct Migration {
  int version = 0;
  std::string name;  // "001_initial"
  std::string sql;
};

// The migrations compiled into the binary for a dialect, ordered by version.
const std::vector<Migration>& builtin_migrations(Dialect dialect);

// "postgresql://user:pa%40ss@127.0.0.1:5432/db?sslmode=disable" -> libpq key=value form.
// Returns an empty string when the URL cannot be parsed.
std::string postgres_connect_string(const std::string& url);

// True when a SOCI exception is a unique/primary-key violation.
bool is_unique_violation(const std::exception& error);

class Sql;
class StatementCache;

class Database {
 public:
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Opens `config.url` with `config.pool_size` sessions. The message of an error names
  // database.url and what failed, never the password.
  static Result<std::unique_ptr<Database>> open(const DatabaseConfig& config);

  Dialect dialect() const { return dialect_; }
  bool is_postgres() const { return dialect_ == Dialect::postgresql; }

  // Applies every built-in migration not yet in schema_migrations, each in its own
  // transaction. On PostgreSQL an advisory lock keeps two instances from racing.
  Status migrate(std::vector<std::string>* applied = nullptr);
  // Ok when reachable and every built-in migration is applied.
  Status check_ready();
  // Latest applied migration version (0 when none).
  Result<int> schema_version();

  // Runs `work` inside one transaction (SQLite: BEGIN IMMEDIATE, so writers queue instead of
  // deadlocking). Commits when `work` returns ok; rolls back when it returns an error or
  // throws. SOCI exceptions become Status values: unique violations → conflict, anything
  // else → unavailable.
  Status transaction(const std::function<Status(soci::session&)>& work);
  // The same, with the session's prepared-statement cache (src/store/sql.hpp): for hot paths
  // that run the same statements again and again.
  Status transaction(const std::function<Status(Sql&)>& work);
  // Runs `work` on a leased session without an explicit transaction (reads).
  Status read(const std::function<Status(soci::session&)>& work);
  Status read(const std::function<Status(Sql&)>& work);

  // SQLite: the background checkpointer's counters (wal_checkpointer.hpp); nullopt on
  // PostgreSQL or when SQLite checkpoints inside commits.
  std::optional<WalCheckpointer::Stats> checkpoint_stats() const;
  // SQLite: write transactions and the commits they were grouped into (group commit, below);
  // nullopt on PostgreSQL.
  struct GroupStats {
    std::uint64_t transactions = 0;
    std::uint64_t commits = 0;
  };
  std::optional<GroupStats> group_stats() const;

 private:
  Database(Dialect dialect, std::size_t pool_size);
  class Lease;
  Status run(bool in_transaction, const std::function<Status(soci::session&, StatementCache&)>& work);
  Status run_on(soci::session& sql, StatementCache& cache, bool in_transaction,
                const std::function<Status(soci::session&, StatementCache&)>& work);

  // Rolls back the open transaction on `sql`; reconnects it when even that fails.
  void roll_back(soci::session& sql, StatementCache& cache);

  // SQLite: the pooled connections' settings (also after a reconnect).
  void configure_sqlite_session(soci::session& sql);

  Dialect dialect_;
  std::size_t pool_size_;
  // SQLite: checkpoints the WAL for every pooled connection; declared before the pool so that
  // the pool's connections (whose commit hooks point here) close first.
  std::unique_ptr<WalCheckpointer> checkpointer_;
  // SQLite: every write transaction runs on this one connection, one at a time (SQLite allows
  // one writer anyway; they used to queue in its busy handler). A connection drops its whole
  // page cache when another one has written since its last transaction, so pooled connections
  // taking turns at writing read the B-tree pages they change again for nearly every commit
  // (pread was ~15 % of the donation path's CPU); the one writer keeps them cached.
  //
  // Group commit: transactions that arrive while one is running queue up, and the thread that
  // finishes next runs all of them (up to kMaxGroup) in ONE transaction, each in its own
  // savepoint — so each still commits or rolls back whole, on its own — and one COMMIT: one
  // WAL write for the group instead of one per transaction, and pages several of them change
  // (the newest leaf of each index) written once. Each waiter gets its own outcome; if the
  // COMMIT fails, every one of them gets the error. A transaction waits at most 10 s for its
  // turn (then unavailable), as it waited for SQLite's write lock before. A queued transaction's
  // `work` runs on the thread that leads its group (its log lines carry that thread's request
  // id); nothing in a transaction may depend on the calling thread.
  std::unique_ptr<soci::session> writer_;
  std::unique_ptr<StatementCache> writer_cache_;  // destroyed before writer_
  class Wake;
  struct GroupWaiter;
  static constexpr std::size_t kMaxGroup = 64;
  Status run_grouped(const std::function<Status(soci::session&, StatementCache&)>& work);
  void commit_group(const std::vector<GroupWaiter*>& group);
  std::mutex group_mutex_;
  bool group_leading_ = false;  // a thread is running a group on writer_
  std::deque<GroupWaiter*> group_queue_;
  std::atomic<std::uint64_t> grouped_transactions_{0};
  std::atomic<std::uint64_t> group_commits_{0};
  soci::connection_pool pool_;
  // One per pooled session (same position); declared after the pool so it goes first.
  std::vector<std::unique_ptr<StatementCache>> caches_;
};

// Maps an exception thrown by SOCI inside store code to a Status.
Status status_from_exception(const std::exception& error);

}  // namespace donatio::store
