// SOCI connection pool, transactions and migrations.
#include "src/store/database.hpp"

#include <semaphore.h>
#include <soci/postgresql/soci-postgresql.h>
#include <soci/sqlite3/soci-sqlite3.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <ctime>
#include <cstring>
#include <exception>
#include <filesystem>
#include <thread>

#include "src/store/migrations_embedded.hpp"
#include "src/store/sql.hpp"
#include "src/store/wal_checkpointer.hpp"
#include "src/store/wal_vfs.hpp"

namespace donatio::store {
namespace {

constexpr auto kSqliteBusyTimeout = std::chrono::seconds(10);

// SQLite's own busy handler sleeps 1, 2, 5, 10, … 100 ms between tries for the write lock. Our
// write transactions hold it for about a millisecond (the webhook writer's group commits a
// little longer), so a loser slept far past the moment the lock was free, and a background
// writer (the outbox worker) colliding with the webhook writer stalled every webhook request
// waiting on it. This one tries again after 50 µs, doubling up to 1.6 ms, for up to 10 s.
int retry_soon_busy_handler(void*, int attempts) {
  thread_local std::chrono::steady_clock::time_point started;
  const auto now = std::chrono::steady_clock::now();
  if (attempts == 0) started = now;
  if (now - started > kSqliteBusyTimeout) return 0;  // SQLITE_BUSY: the transaction fails
  std::this_thread::sleep_for(std::chrono::microseconds(50 << std::min(attempts, 5)));
  return 1;
}

// Once per process, before SQLite opens its first connection: multi-thread mode (no mutex on
// every API call of a connection — the pool hands each connection to one thread at a time, so
// SQLite's own serialisation is redundant) and no memory statistics (a global mutex around
// every allocation). Both were ~4 % of the webhook writer's time. Then the VFS that writes each
// WAL frame with one system call (wal_vfs.hpp). Logs what could not be set (SQLite initialised
// earlier by someone else in the process keeps its defaults).
void configure_sqlite_once() {
  static const bool configured = [] {
    const bool threads = sqlite_api::sqlite3_config(SQLITE_CONFIG_MULTITHREAD) == SQLITE_OK;
    const bool memstatus = sqlite_api::sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0) == SQLITE_OK;
    if (!threads || !memstatus) spdlog::debug("SQLite was initialised before donatio configured it");
    if (!install_wal_coalescing_vfs()) spdlog::warn("SQLite: the WAL write-coalescing VFS could not be installed");
    return true;
  }();
  (void)configured;
}

std::string url_decode(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// libpq key=value values are quoted with single quotes; escape ' and \.
std::string pq_value(const std::string& v) {
  std::string out = "'";
  for (char c : v) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

// Executes a whole multi-statement SQL text with the backend's native API (SOCI prepares one
// statement at a time).
void exec_script(soci::session& sql, Dialect dialect, const std::string& text) {
  if (dialect == Dialect::sqlite) {
    auto* backend = static_cast<soci::sqlite3_session_backend*>(sql.get_backend());
    char* error = nullptr;
    if (sqlite_api::sqlite3_exec(backend->conn_, text.c_str(), nullptr, nullptr, &error) != 0) {
      std::string message = error ? error : "unknown error";
      sqlite_api::sqlite3_free(error);
      throw soci::soci_error("migration failed: " + message);
    }
  } else {
    auto* backend = static_cast<soci::postgresql_session_backend*>(sql.get_backend());
    PGresult* result = PQexec(backend->conn_, text.c_str());
    const auto status = PQresultStatus(result);
    std::string message = PQresultErrorMessage(result);
    PQclear(result);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      throw soci::soci_error("migration failed: " + message);
    }
  }
}

std::string safe_db_message(const std::exception& e) {
  // SOCI messages can quote the connect string; keep only the first line, drop passwords.
  std::string m = e.what();
  if (auto nl = m.find('\n'); nl != std::string::npos) m.resize(nl);
  if (auto pw = m.find("password"); pw != std::string::npos) m.resize(pw);
  return m;
}

}  // namespace

std::string postgres_connect_string(const std::string& url) {
  std::string rest;
  if (url.rfind("postgresql://", 0) == 0) {
    rest = url.substr(13);
  } else if (url.rfind("postgres://", 0) == 0) {
    rest = url.substr(11);
  } else {
    return {};
  }
  std::string query;
  if (auto q = rest.find('?'); q != std::string::npos) {
    query = rest.substr(q + 1);
    rest.resize(q);
  }
  std::string userinfo;
  if (auto at = rest.rfind('@'); at != std::string::npos) {
    userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
  }
  std::string hostport = rest;
  std::string dbname;
  if (auto slash = rest.find('/'); slash != std::string::npos) {
    hostport = rest.substr(0, slash);
    dbname = url_decode(rest.substr(slash + 1));
  }
  std::string host = hostport;
  std::string port;
  if (!hostport.empty() && hostport.front() == '[') {
    auto close = hostport.find(']');
    if (close == std::string::npos) return {};
    host = hostport.substr(1, close - 1);
    if (close + 1 < hostport.size() && hostport[close + 1] == ':') port = hostport.substr(close + 2);
  } else if (auto colon = hostport.rfind(':'); colon != std::string::npos) {
    host = hostport.substr(0, colon);
    port = hostport.substr(colon + 1);
  }
  if (host.empty() || dbname.empty()) return {};
  std::string out = "host=" + pq_value(url_decode(host));
  if (!port.empty()) out += " port=" + pq_value(port);
  out += " dbname=" + pq_value(dbname);
  if (!userinfo.empty()) {
    const auto colon = userinfo.find(':');
    out += " user=" + pq_value(url_decode(userinfo.substr(0, colon)));
    if (colon != std::string::npos) out += " password=" + pq_value(url_decode(userinfo.substr(colon + 1)));
  }
  std::size_t start = 0;
  while (start < query.size()) {
    auto amp = query.find('&', start);
    const std::string pair = query.substr(start, amp == std::string::npos ? std::string::npos : amp - start);
    if (auto eq = pair.find('='); eq != std::string::npos) {
      out += " " + url_decode(pair.substr(0, eq)) + "=" + pq_value(url_decode(pair.substr(eq + 1)));
    }
    if (amp == std::string::npos) break;
    start = amp + 1;
  }
  out += " connect_timeout='5'";
  return out;
}

bool is_unique_violation(const std::exception& error) {
  if (const auto* pg = dynamic_cast<const soci::postgresql_soci_error*>(&error)) {
    return pg->sqlstate() == "23505";
  }
  const std::string m = error.what();
  return m.find("UNIQUE constraint failed") != std::string::npos ||
         m.find("PRIMARY KEY must be unique") != std::string::npos ||
         m.find("is not unique") != std::string::npos;
}

Status status_from_exception(const std::exception& error) {
  if (is_unique_violation(error)) return Status::Conflict("the record already exists", "already_exists");
  spdlog::error("database error: {}", safe_db_message(error));
  return Status::Unavailable("the database is unavailable; try again");
}

const std::vector<Migration>& builtin_migrations(Dialect dialect) {
  static const std::vector<Migration> sqlite = embedded_migrations(false);
  static const std::vector<Migration> postgres = embedded_migrations(true);
  return dialect == Dialect::sqlite ? sqlite : postgres;
}

class Database::Lease {
 public:
  explicit Lease(soci::connection_pool& pool) : pool_(pool) {
    ok_ = pool_.try_lease(pos_, 10000);
  }
  ~Lease() {
    if (ok_) pool_.give_back(pos_);
  }
  bool ok() const { return ok_; }
  soci::session& session() { return pool_.at(pos_); }
  std::size_t position() const { return pos_; }

 private:
  soci::connection_pool& pool_;
  std::size_t pos_ = 0;
  bool ok_ = false;
};

Database::Database(Dialect dialect, std::size_t pool_size)
    : dialect_(dialect), pool_size_(pool_size), pool_(pool_size) {}

Database::~Database() = default;

Result<std::unique_ptr<Database>> Database::open(const DatabaseConfig& config) {
  const bool sqlite = config.url.rfind("sqlite:", 0) == 0;
  const std::size_t size = static_cast<std::size_t>(config.pool_size);
  std::unique_ptr<Database> db(new Database(sqlite ? Dialect::sqlite : Dialect::postgresql, size));
  std::string connect;
  std::string sqlite_path;
  if (sqlite) {
    sqlite_path = config.url.substr(7);
    const auto parent = std::filesystem::path(sqlite_path).parent_path();
    std::error_code ec;
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
    connect = "db=" + sqlite_path + " timeout=10 shared_cache=false";
    configure_sqlite_once();
  } else {
    connect = postgres_connect_string(config.url);
    if (connect.empty()) {
      return Status::InvalidArgument("database.url", "database.url: cannot parse the PostgreSQL URL", "invalid_config");
    }
  }
  try {
    for (std::size_t i = 0; i < size; ++i) {
      soci::session& sql = db->pool_.at(i);
      if (sqlite) {
        sql.open(soci::sqlite3, connect);
        // A new database gets 2 KiB pages (an existing one keeps its own; see docs/operations.md).
        // Each webhook event inserts keys at random places in three indexes (event id, payment
        // intent, charge), so each commit writes one whole page per key to the WAL, and the
        // checkpointer copies it again; half-size pages halve those bytes and, above all, the
        // fdatasync waits of the checkpoints that let the WAL start over, which set the webhook
        // path's p99 (bench/README.md: p99 at 64 connections ~35 → ~22 ms).
        sql << "PRAGMA page_size=" << kSqlitePageSize;
        sql << "PRAGMA journal_mode=WAL";
        if (i == 0) db->checkpointer_ = WalCheckpointer::start(sqlite_path);
        db->configure_sqlite_session(sql);
      } else {
        sql.open(soci::postgresql, connect);
        sql << "SET client_min_messages TO warning";
        if (!config.synchronous_commit) sql << "SET synchronous_commit = off";
      }
      db->caches_.push_back(std::make_unique<StatementCache>(sql, db->dialect_));
    }
    if (sqlite) {
      db->writer_ = std::make_unique<soci::session>();
      db->writer_->open(soci::sqlite3, connect);
      db->configure_sqlite_session(*db->writer_);
      db->writer_cache_ = std::make_unique<StatementCache>(*db->writer_, db->dialect_);
    }
  } catch (const std::exception& e) {
    return Status(StatusCode::unavailable, "invalid_config", "database.url: cannot connect: " + safe_db_message(e));
  }
  return db;
}

std::optional<Database::GroupStats> Database::group_stats() const {
  if (!writer_) return std::nullopt;
  return GroupStats{grouped_transactions_.load(std::memory_order_relaxed), group_commits_.load(std::memory_order_relaxed)};
}

std::optional<WalCheckpointer::Stats> Database::checkpoint_stats() const {
  if (!checkpointer_) return std::nullopt;
  return checkpointer_->stats();
}

void Database::configure_sqlite_session(soci::session& sql) {
  sql << "PRAGMA synchronous=NORMAL";
  sql << "PRAGMA foreign_keys=ON";
  sql << "PRAGMA temp_store=MEMORY";
  auto* backend = static_cast<soci::sqlite3_session_backend*>(sql.get_backend());
  sqlite3_busy_handler(backend->conn_, retry_soon_busy_handler, nullptr);
  if (checkpointer_) checkpointer_->attach(backend->conn_);
}

Status Database::run(bool in_transaction, const std::function<Status(soci::session&, StatementCache&)>& work) {
  if (in_transaction && writer_) return run_grouped(work);
  Lease lease(pool_);
  if (!lease.ok()) return Status::Unavailable("no database connection became free in time");
  return run_on(lease.session(), *caches_.at(lease.position()), in_transaction, work);
}

void Database::roll_back(soci::session& sql, StatementCache& cache) {
  try {
    sql << "ROLLBACK";
  } catch (const std::exception& rollback_error) {
    spdlog::error("rollback failed: {}", safe_db_message(rollback_error));
    // The connection may be broken; reconnect so that a dead session is not used again (its
    // prepared statements go first: they belong to the old connection).
    try {
      cache.clear();
      sql.reconnect();
      if (dialect_ == Dialect::sqlite) configure_sqlite_session(sql);
    } catch (...) {
    }
  }
}

Status Database::run_on(soci::session& sql, StatementCache& cache, bool in_transaction,
                        const std::function<Status(soci::session&, StatementCache&)>& work) {
  bool open = false;
  try {
    if (in_transaction) {
      sql << (dialect_ == Dialect::sqlite ? "BEGIN IMMEDIATE" : "BEGIN");
      open = true;
    }
    Status status = work(sql, cache);
    if (open) {
      sql << (status.ok() ? "COMMIT" : "ROLLBACK");
      open = false;
    }
    return status;
  } catch (const std::exception& e) {
    if (open) roll_back(sql, cache);
    return status_from_exception(e);
  }
}

// A POSIX semaphore rather than std::binary_semaphore: libstdc++'s spins with sched_yield before
// it sleeps (4 % of the donation path's CPU with 16 waiters on 2 cores); glibc's sleeps at once.
class Database::Wake {
 public:
  Wake() { ::sem_init(&sem_, 0, 0); }
  ~Wake() { ::sem_destroy(&sem_); }
  Wake(const Wake&) = delete;
  Wake& operator=(const Wake&) = delete;
  void release() { ::sem_post(&sem_); }
  void acquire() {
    while (::sem_wait(&sem_) != 0) {
    }
  }
  // False when `timeout` passed without a release.
  bool try_acquire_for(std::chrono::milliseconds timeout) {
    timespec deadline{};
    ::clock_gettime(CLOCK_MONOTONIC, &deadline);
    const auto total_ns = deadline.tv_nsec + (timeout.count() % 1000) * 1000000;
    deadline.tv_sec += static_cast<time_t>(timeout.count() / 1000 + total_ns / 1000000000);
    deadline.tv_nsec = total_ns % 1000000000;
    for (;;) {
      if (::sem_clockwait(&sem_, CLOCK_MONOTONIC, &deadline) == 0) return true;
      if (errno != EINTR) return false;
    }
  }

 private:
  sem_t sem_;
};

struct Database::GroupWaiter {
  const std::function<Status(soci::session&, StatementCache&)>* work = nullptr;
  Status result;
  std::exception_ptr thrown;  // what `work` threw that is not a std::exception
  bool lead = false;  // set before `wake` is released: this thread runs the next group
  Wake wake;          // released once: the result is in, or `lead` is set
};

Status Database::run_grouped(const std::function<Status(soci::session&, StatementCache&)>& work) {
  GroupWaiter me;
  me.work = &work;
  {
    std::lock_guard lock(group_mutex_);
    if (group_leading_) {
      group_queue_.push_back(&me);
    } else {
      group_leading_ = true;
      me.lead = true;
    }
  }
  if (!me.lead) {
    // The same 10 s a connection waited for SQLite's write lock before.
    if (!me.wake.try_acquire_for(std::chrono::seconds(10))) {
      std::unique_lock lock(group_mutex_);
      const auto queued = std::find(group_queue_.begin(), group_queue_.end(), &me);
      if (queued != group_queue_.end()) {
        group_queue_.erase(queued);
        return Status::Unavailable("the database is busy; try again");
      }
      lock.unlock();
      me.wake.acquire();  // already taken into a group, or made leader: the wake is coming
    }
    if (!me.lead) {
      if (me.thrown) std::rethrow_exception(me.thrown);
      return me.result;
    }
  }
  std::vector<GroupWaiter*> group{&me};
  {
    std::lock_guard lock(group_mutex_);
    while (!group_queue_.empty() && group.size() < kMaxGroup) {
      group.push_back(group_queue_.front());
      group_queue_.pop_front();
    }
  }
  commit_group(group);
  grouped_transactions_.fetch_add(group.size(), std::memory_order_relaxed);
  group_commits_.fetch_add(1, std::memory_order_relaxed);
  GroupWaiter* next = nullptr;
  {
    std::lock_guard lock(group_mutex_);
    if (group_queue_.empty()) {
      group_leading_ = false;
    } else {
      next = group_queue_.front();
      group_queue_.pop_front();
      next->lead = true;
    }
  }
  // A released waiter returns and its GroupWaiter is gone: nothing of it is touched after.
  for (std::size_t i = 1; i < group.size(); ++i) group[i]->wake.release();
  if (next != nullptr) next->wake.release();
  if (me.thrown) std::rethrow_exception(me.thrown);
  return me.result;
}

void Database::commit_group(const std::vector<GroupWaiter*>& group) {
  soci::session& sql = *writer_;
  StatementCache& cache = *writer_cache_;
  // A transaction alone needs no savepoint: its error rolls the whole transaction back.
  const bool alone = group.size() == 1;
  bool open = false;
  try {
    cache.command("BEGIN IMMEDIATE");
    open = true;
    for (GroupWaiter* waiter : group) {
      if (!alone) cache.command("SAVEPOINT donatio_group");
      Status status;
      try {
        status = (*waiter->work)(sql, cache);
      } catch (const std::exception& e) {
        status = status_from_exception(e);
      } catch (...) {
        // Not ours to swallow (a test framework's assertion, say): rethrown on the waiter's own
        // thread once the group is done, so the writer is never left in a transaction.
        waiter->thrown = std::current_exception();
        status = Status::Internal("the transaction threw");
      }
      if (alone) {
        if (!status.ok()) {
          sql << "ROLLBACK";
          open = false;
        }
      } else {
        if (!status.ok()) cache.command("ROLLBACK TO SAVEPOINT donatio_group");
        cache.command("RELEASE SAVEPOINT donatio_group");
      }
      waiter->result = std::move(status);
    }
    if (open) {
      cache.command("COMMIT");
      open = false;
    }
  } catch (const std::exception& e) {
    // Nothing of the group was committed: every transaction of it failed.
    const Status failed = status_from_exception(e);
    if (!alone) spdlog::error("a group of {} transactions was not committed: {}", group.size(), failed.message());
    if (open) roll_back(sql, cache);
    for (GroupWaiter* waiter : group) {
      if (waiter->result.ok()) waiter->result = failed;
    }
  }
}

Status Database::transaction(const std::function<Status(soci::session&)>& work) {
  return run(true, [&](soci::session& sql, StatementCache&) { return work(sql); });
}
Status Database::transaction(const std::function<Status(Sql&)>& work) {
  return run(true, [&](soci::session& session, StatementCache& cache) {
    Sql sql(session, dialect_, cache);
    return work(sql);
  });
}
Status Database::read(const std::function<Status(soci::session&)>& work) {
  return run(false, [&](soci::session& sql, StatementCache&) { return work(sql); });
}
Status Database::read(const std::function<Status(Sql&)>& work) {
  return run(false, [&](soci::session& session, StatementCache& cache) {
    Sql sql(session, dialect_, cache);
    return work(sql);
  });
}

Status Database::migrate(std::vector<std::string>* applied) {
  Lease lease(pool_);
  if (!lease.ok()) return Status::Unavailable("no database connection became free in time");
  soci::session& sql = lease.session();
  try {
    const bool pg = dialect_ == Dialect::postgresql;
    exec_script(sql, dialect_,
                pg ? "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)"
                   : "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)");
    if (pg) exec_script(sql, dialect_, "SELECT pg_advisory_lock(7205761)");
    Status result;
    for (const auto& m : builtin_migrations(dialect_)) {
      int count = 0;
      sql << "SELECT COUNT(*) FROM schema_migrations WHERE version = :v", soci::use(m.version), soci::into(count);
      if (count > 0) continue;
      const long long now = std::chrono::duration_cast<std::chrono::seconds>(
                                std::chrono::system_clock::now().time_since_epoch()).count();
      const std::string record = "INSERT INTO schema_migrations (version, name, applied_at) VALUES (" +
                                 std::to_string(m.version) + ", '" + m.name + "', " + std::to_string(now) + ");";
      try {
        exec_script(sql, dialect_, (pg ? "BEGIN;\n" : "BEGIN IMMEDIATE;\n") + m.sql + "\n" + record + "\nCOMMIT;");
      } catch (const std::exception& e) {
        try {
          exec_script(sql, dialect_, "ROLLBACK");
        } catch (...) {
        }
        result = Status::Unavailable("migration " + m.name + " failed: " + safe_db_message(e));
        break;
      }
      spdlog::info("applied migration {}", m.name);
      if (applied) applied->push_back(m.name);
    }
    if (pg) exec_script(sql, dialect_, "SELECT pg_advisory_unlock(7205761)");
    return result;
  } catch (const std::exception& e) {
    return Status::Unavailable("migrations failed: " + safe_db_message(e));
  }
}

Result<int> Database::schema_version() {
  int version = 0;
  Status s = read([&](soci::session& sql) {
    soci::indicator ind;
    sql << "SELECT MAX(version) FROM schema_migrations", soci::into(version, ind);
    if (ind != soci::i_ok) version = 0;
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return version;
}

Status Database::check_ready() {
  auto version = schema_version();
  if (!version.ok()) return version.status();
  const auto& all = builtin_migrations(dialect_);
  const int latest = all.empty() ? 0 : all.back().version;
  if (*version < latest) {
    return Status(StatusCode::unavailable, "migrations_pending",
                  "database schema is at version " + std::to_string(*version) + ", expected " + std::to_string(latest));
  }
  return Status::Ok();
}

}  // namespace donatio::store
