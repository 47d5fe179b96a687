// SQLite's write-ahead log under donatio's settings: the write-coalescing VFS (a commit's frames
// in one pwrite) must leave every committed transaction complete in the WAL file on disk — a copy of the
// files taken right after the commits, with no checkpoint and no clean close (what a kill -9
// leaves), recovers every row when opened with SQLite's own unix VFS, which checks each frame's
// checksum and drops everything from the first bad frame on. Also a transaction large enough to
// spill pages mid-way and rewrite frames of its own. And the background checkpointer keeps the
// WAL bounded while commits keep coming, copying it to the database and restarting it.
#include <catch2/catch.hpp>
#include <soci/sqlite3/soci-sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "src/store/database.hpp"
#include "src/store/wal_checkpointer.hpp"
#include "support/service_fixture.hpp"

using namespace donatio;
using namespace donatio::testing;

namespace {

namespace fs = std::filesystem;

// Opens `path` with SQLite's platform VFS ("unix"), not donatio's default shim.
sqlite_api::sqlite3* open_plain(const std::string& path) {
  sqlite_api::sqlite3* db = nullptr;
  REQUIRE(sqlite_api::sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, "unix") ==
          SQLITE_OK);
  return db;
}

std::int64_t query_int(sqlite_api::sqlite3* db, const char* sql) {
  sqlite_api::sqlite3_stmt* stmt = nullptr;
  REQUIRE(sqlite_api::sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) == SQLITE_OK);
  REQUIRE(sqlite_api::sqlite3_step(stmt) == SQLITE_ROW);
  const std::int64_t value = sqlite_api::sqlite3_column_int64(stmt, 0);
  sqlite_api::sqlite3_finalize(stmt);
  return value;
}

void exec(sqlite_api::sqlite3* db, const std::string& sql) {
  char* error = nullptr;
  const int rc = sqlite_api::sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
  INFO((error ? error : ""));
  sqlite_api::sqlite3_free(error);
  REQUIRE(rc == SQLITE_OK);
}

// The checkpoint sequence number in a WAL file's header (bytes 12-15, big-endian): SQLite bumps
// it each time the log starts over.
std::uint32_t wal_checkpoint_sequence(const std::string& db_path) {
  std::ifstream wal(db_path + "-wal", std::ios::binary);
  unsigned char header[16] = {};
  REQUIRE(wal.read(reinterpret_cast<char*>(header), sizeof header));
  return (std::uint32_t{header[12]} << 24) | (std::uint32_t{header[13]} << 16) | (std::uint32_t{header[14]} << 8) |
         std::uint32_t{header[15]};
}

// A background checkpointer for `writer` (a WAL database at `path`) with thresholds small
// enough for a test: from 20 frames, one per 25, the log restarting near 100.
std::unique_ptr<store::WalCheckpointer> small_checkpointer(const std::string& path, sqlite_api::sqlite3* writer,
                                                           std::chrono::milliseconds max_wait) {
  store::WalCheckpointerOptions options;
  options.start_frames = 20;
  options.restart_frames = 100;
  options.step_frames = 25;
  options.max_wait = max_wait;
  auto checkpointer = store::WalCheckpointer::start(path, options);
  REQUIRE(checkpointer != nullptr);
  checkpointer->attach(writer);
  return checkpointer;
}

// Copies the WAL first, then the database: no commit happens in between, and a page the
// checkpointer writes meanwhile is also in the copied WAL, which wins at recovery.
void copy_as_crashed(const std::string& from, const std::string& to) {
  REQUIRE(fs::exists(from + "-wal"));
  REQUIRE(fs::file_size(from + "-wal") > 0);
  fs::copy_file(from + "-wal", to + "-wal");
  fs::copy_file(from, to);
}

// What a kill -9 of the process using `path` leaves, copied to `copy` and opened with SQLite's
// plain VFS (recovery replays the WAL up to the first bad frame); checked for consistency.
sqlite_api::sqlite3* recover_crash_copy(const std::string& path, const std::string& copy) {
  copy_as_crashed(path, copy);
  sqlite_api::sqlite3* recovered = open_plain(copy);
  CHECK(query_int(recovered, "SELECT count(*) FROM pragma_integrity_check WHERE integrity_check <> 'ok'") == 0);
  return recovered;
}

std::unique_ptr<store::Database> open_database(const std::string& path) {
  DatabaseConfig c;
  c.url = "sqlite:" + path;
  c.pool_size = 2;
  auto db = store::Database::open(c);
  REQUIRE(db.ok());
  return std::move(*db);
}

// A connection on the process's default VFS — donatio's shim once a Database has been opened —
// that never checkpoints: every committed page lives only in the WAL.
sqlite_api::sqlite3* open_wal_only(const std::string& path) {
  auto installed = open_database(path + ".installs-the-vfs");
  REQUIRE(std::string(sqlite_api::sqlite3_vfs_find(nullptr)->zName) == "donatio-wal");
  sqlite_api::sqlite3* db = nullptr;
  REQUIRE(sqlite_api::sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) ==
          SQLITE_OK);
  exec(db, "PRAGMA journal_mode=WAL");
  exec(db, "PRAGMA synchronous=NORMAL");
  exec(db, "PRAGMA wal_autocheckpoint=0");
  return db;
}

}  // namespace

TEST_CASE("every committed transaction is whole in the WAL file a crash leaves behind") {
  TempDir dir;
  const std::string path = dir.path() + "/live.db";
  sqlite_api::sqlite3* live = open_wal_only(path);
  exec(live, "CREATE TABLE scratch (id INTEGER PRIMARY KEY, k TEXT UNIQUE, note TEXT)");
  // Many small commits, each touching a few pages (spread-out unique keys land on different
  // index pages), like the webhook writer's group commits.
  for (int t = 0; t < 300; ++t) {
    std::string batch = "BEGIN IMMEDIATE;";
    for (int i = 0; i < 7; ++i) {
      const int n = t * 7 + i;
      batch += "INSERT INTO scratch (id, k, note) VALUES (" + std::to_string(n) + ", '" +
               std::to_string((n * 7919) % 100003) + "', printf('%." + std::to_string(200 + n % 50) + "c', '" +
               static_cast<char>('a' + n % 26) + "'));";
    }
    exec(live, batch + "COMMIT;");
  }
  REQUIRE(fs::file_size(path + "-wal") > 300 * 4096);  // the data is in the log, not the database

  sqlite_api::sqlite3* recovered = recover_crash_copy(path, dir.path() + "/crashed.db");
  CHECK(query_int(recovered, "SELECT count(*) FROM scratch") == 2100);
  CHECK(query_int(recovered, "SELECT count(*) FROM scratch WHERE length(note) = 200 + id % 50") == 2100);
  sqlite_api::sqlite3_close_v2(recovered);
  sqlite_api::sqlite3_close_v2(live);
}

TEST_CASE("a transaction that spills and rewrites its own frames is whole in the WAL after a crash") {
  TempDir dir;
  const std::string path = dir.path() + "/live.db";
  sqlite_api::sqlite3* live = open_wal_only(path);
  exec(live, "CREATE TABLE scratch (id INTEGER PRIMARY KEY, note TEXT)");
  // A tiny page cache: dirty pages go to the WAL mid-transaction, and the UPDATE then changes
  // pages that already have frames in this transaction (SQLite overwrites those frames and
  // rewrites their checksums at commit).
  exec(live, "PRAGMA cache_size = 10");
  exec(live,
       "BEGIN IMMEDIATE;"
       "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 4000) "
       "INSERT INTO scratch (id, note) SELECT i, printf('%.300c', 'x') FROM n;"
       "UPDATE scratch SET note = printf('%.300c', 'y') WHERE id % 2 = 0;"
       "COMMIT;");
  sqlite_api::sqlite3* recovered = recover_crash_copy(path, dir.path() + "/crashed.db");
  CHECK(query_int(recovered, "SELECT count(*) FROM scratch") == 4000);
  CHECK(query_int(recovered, "SELECT count(*) FROM scratch WHERE note LIKE 'y%'") == 2000);
  sqlite_api::sqlite3_close_v2(recovered);
  sqlite_api::sqlite3_close_v2(live);
}

TEST_CASE("the background checkpointer copies the WAL and keeps it from growing") {
  TempDir dir;
  const std::string path = dir.path() + "/ckpt.db";
  sqlite_api::sqlite3* writer = open_plain(path);
  exec(writer, "PRAGMA journal_mode=WAL");
  exec(writer, "PRAGMA synchronous=NORMAL");
  exec(writer, "CREATE TABLE scratch (id INTEGER PRIMARY KEY, note TEXT)");

  auto checkpointer = small_checkpointer(path, writer, store::WalCheckpointerOptions{}.max_wait);

  std::uintmax_t largest_wal = 0;
  for (int t = 0; t < 400; ++t) {
    exec(writer, "BEGIN IMMEDIATE");
    for (int i = 0; i < 5; ++i) {
      exec(writer, "INSERT INTO scratch (note) VALUES (printf('%.1500c', 'z'))");  // ~ a page each
    }
    exec(writer, "COMMIT");
    largest_wal = std::max<std::uintmax_t>(largest_wal, fs::file_size(path + "-wal"));
  }
  // 2,000 pages went through the log; SQLite's own checkpoints are off on this connection, so
  // without the thread the WAL would hold them all (~8 MB). It restarts near 100 frames.
  CHECK(largest_wal < 300 * (4096 + 24));
  const auto stats = checkpointer->stats();
  CHECK(stats.checkpoints > 0);
  CHECK(stats.full > 0);
  CHECK(stats.restart_waits > 0);
  CHECK(query_int(writer, "SELECT count(*) FROM scratch") == 2000);

  sqlite_api::sqlite3_wal_hook(writer, nullptr, nullptr);  // detach before the checkpointer goes
  checkpointer.reset();
  sqlite_api::sqlite3_close_v2(writer);
  sqlite_api::sqlite3* reopened = open_plain(path);
  CHECK(query_int(reopened, "SELECT count(*) FROM scratch") == 2000);
  sqlite_api::sqlite3_close_v2(reopened);
}

TEST_CASE("a reader on an old snapshot does not make every commit wait for the checkpointer") {
  TempDir dir;
  const std::string path = dir.path() + "/reader.db";
  sqlite_api::sqlite3* writer = open_plain(path);
  exec(writer, "PRAGMA journal_mode=WAL");
  exec(writer, "CREATE TABLE scratch (id INTEGER PRIMARY KEY, note TEXT)");
  exec(writer, "INSERT INTO scratch (note) VALUES ('first')");

  auto checkpointer = small_checkpointer(path, writer, std::chrono::milliseconds(100));

  // A long report: its read transaction pins the snapshot it started on, so no checkpoint can
  // copy the frames committed after it, and the log cannot restart.
  sqlite_api::sqlite3* reader = open_plain(path);
  exec(reader, "BEGIN");
  CHECK(query_int(reader, "SELECT count(*) FROM scratch") == 1);

  const auto started = std::chrono::steady_clock::now();
  for (int t = 0; t < 400; ++t) {
    exec(writer, "BEGIN IMMEDIATE; INSERT INTO scratch (note) VALUES (printf('%.1500c', 'r')); "
                 "INSERT INTO scratch (note) VALUES (printf('%.1500c', 's')); COMMIT;");
  }
  const auto elapsed = std::chrono::steady_clock::now() - started;
  const auto stats = checkpointer->stats();
  // ~1,100 frames: a wait in vain at 100 frames, the next 200 further, then 400, 800 — a
  // handful, not one per commit (hundreds of waits of 100 ms).
  CHECK(stats.wait_timeouts >= 1);
  CHECK(stats.wait_timeouts <= 5);
  CHECK(elapsed < std::chrono::seconds(5));
  CHECK(query_int(reader, "SELECT count(*) FROM scratch") == 1);  // still its old snapshot
  // Nothing can move while the reader holds on: the thread backs off (to one attempt per 50 ms)
  // instead of retrying every millisecond.
  const auto attempts_before = checkpointer->stats().checkpoints;
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  CHECK(checkpointer->stats().checkpoints - attempts_before <= 60);
  exec(reader, "COMMIT");
  sqlite_api::sqlite3_close_v2(reader);

  // The report is over: at the next wait point the log is copied whole and starts over (a
  // restart bumps the checkpoint sequence number in the WAL file's header).
  const auto sequence_before = wal_checkpoint_sequence(path);
  const auto waits_before = checkpointer->stats();
  for (int t = 0; t < 600; ++t) {
    exec(writer, "BEGIN IMMEDIATE; INSERT INTO scratch (note) VALUES (printf('%.1500c', 'a')); "
                 "INSERT INTO scratch (note) VALUES (printf('%.1500c', 'b')); COMMIT;");
  }
  const auto waits_after = checkpointer->stats();
  CHECK(waits_after.restart_waits - waits_after.wait_timeouts > waits_before.restart_waits - waits_before.wait_timeouts);
  CHECK(wal_checkpoint_sequence(path) > sequence_before);
  CHECK(query_int(writer, "SELECT count(*) FROM scratch") == 1 + 800 + 1200);

  sqlite_api::sqlite3_wal_hook(writer, nullptr, nullptr);
  checkpointer.reset();
  sqlite_api::sqlite3_close_v2(writer);
}

TEST_CASE("a new database gets 2 KiB pages, one made with another page size keeps it") {
  TempDir dir;
  const std::string fresh = dir.path() + "/fresh.db";
  {
    auto db = open_database(fresh);
    REQUIRE(db->transaction([](soci::session& sql) {
      sql << "CREATE TABLE t (x INTEGER)";
      return Status::Ok();
    }).ok());
  }
  sqlite_api::sqlite3* check = open_plain(fresh);
  CHECK(query_int(check, "PRAGMA page_size") == store::kSqlitePageSize);
  CHECK(query_int(check, "PRAGMA page_size") == 2048);
  sqlite_api::sqlite3_close(check);

  const std::string old = dir.path() + "/old.db";
  sqlite_api::sqlite3* made = open_plain(old);
  exec(made, "PRAGMA page_size=4096");
  exec(made, "CREATE TABLE t (x INTEGER)");
  sqlite_api::sqlite3_close(made);
  {
    auto db = open_database(old);
    REQUIRE(db->transaction([](soci::session& sql) {
      sql << "INSERT INTO t VALUES (1)";
      return Status::Ok();
    }).ok());
  }
  check = open_plain(old);
  CHECK(query_int(check, "PRAGMA page_size") == 4096);
  CHECK(query_int(check, "SELECT COUNT(*) FROM t") == 1);
  sqlite_api::sqlite3_close(check);
}

namespace {

// Counts the unix VFS's pwrite calls while alive (SQLite lets a VFS's system calls be replaced).
// Through the shim every WAL write ends up there.
struct PwriteCounter {
  using Pwrite = ssize_t (*)(int, const void*, size_t, off_t);
  static inline int calls = 0;
  static inline Pwrite real_pwrite = nullptr;
  static inline Pwrite real_pwrite64 = nullptr;
  static ssize_t counting_pwrite(int fd, const void* data, size_t n, off_t offset) {
    ++calls;
    return real_pwrite(fd, data, n, offset);
  }
  static ssize_t counting_pwrite64(int fd, const void* data, size_t n, off_t offset) {
    ++calls;
    return real_pwrite64(fd, data, n, offset);
  }

  sqlite_api::sqlite3_vfs* unix_vfs = sqlite_api::sqlite3_vfs_find("unix");

  PwriteCounter() {
    REQUIRE(unix_vfs != nullptr);
    real_pwrite = reinterpret_cast<Pwrite>(unix_vfs->xGetSystemCall(unix_vfs, "pwrite"));
    real_pwrite64 = reinterpret_cast<Pwrite>(unix_vfs->xGetSystemCall(unix_vfs, "pwrite64"));
    REQUIRE((real_pwrite != nullptr || real_pwrite64 != nullptr));
    if (real_pwrite != nullptr) {
      unix_vfs->xSetSystemCall(unix_vfs, "pwrite", reinterpret_cast<sqlite_api::sqlite3_syscall_ptr>(&counting_pwrite));
    }
    if (real_pwrite64 != nullptr) {
      unix_vfs->xSetSystemCall(unix_vfs, "pwrite64",
                               reinterpret_cast<sqlite_api::sqlite3_syscall_ptr>(&counting_pwrite64));
    }
  }
  ~PwriteCounter() {
    if (real_pwrite != nullptr) unix_vfs->xSetSystemCall(unix_vfs, "pwrite", nullptr);
    if (real_pwrite64 != nullptr) unix_vfs->xSetSystemCall(unix_vfs, "pwrite64", nullptr);
  }
  PwriteCounter(const PwriteCounter&) = delete;
  PwriteCounter& operator=(const PwriteCounter&) = delete;
};

// Inserts `rows` rows of `width` characters `fill`, keyed from `first`, in one transaction.
std::string insert_rows(int first, int rows, int width, char fill) {
  return "BEGIN IMMEDIATE; WITH RECURSIVE n(i) AS (SELECT " + std::to_string(first) + " UNION ALL SELECT i + 1 FROM n "
         "WHERE i < " + std::to_string(first + rows - 1) + ") INSERT INTO scratch (id, note) SELECT i, printf('%." +
         std::to_string(width) + "c', '" + fill + "') FROM n; COMMIT;";
}

}  // namespace

TEST_CASE("a commit's WAL frames go to the file in one write, before another connection can read them") {
  TempDir dir;
  const std::string path = dir.path() + "/one-write.db";
  sqlite_api::sqlite3* live = open_wal_only(path);
  exec(live, "CREATE TABLE scratch (id INTEGER PRIMARY KEY, note TEXT)");
  exec(live, insert_rows(1, 1, 10, 'w'));  // the WAL exists and has its header
  // Another connection, on SQLite's own VFS: its own descriptor for the WAL, so it sees only
  // what has reached the file.
  sqlite_api::sqlite3* reader = open_plain(path);

  PwriteCounter counter;
  std::int64_t rows = 1;
  for (int t = 0; t < 50; ++t) {
    // ~15 pages of rows: 15 frames, written by SQLite as 30 writes, by the shim as one.
    const int before = PwriteCounter::calls;
    exec(live, insert_rows(static_cast<int>(rows) + 1, 30, 1800, static_cast<char>('a' + t % 25)));
    CHECK(PwriteCounter::calls - before == 1);
    rows += 30;
    CHECK(query_int(reader, "SELECT count(*) FROM scratch") == rows);
    CHECK(query_int(reader, "SELECT count(*) FROM scratch WHERE id > 1 AND length(note) = 1800") == rows - 1);
  }
  // ~400 pages in one transaction: pieces of at most 120 KiB, not a write per frame.
  const int before = PwriteCounter::calls;
  exec(live, insert_rows(static_cast<int>(rows) + 1, 800, 1800, 'z'));
  const int big = PwriteCounter::calls - before;
  CHECK(big >= 13);
  CHECK(big <= 16);
  CHECK(query_int(reader, "SELECT count(*) FROM scratch WHERE note LIKE 'z%'") == 800);
  CHECK(query_int(reader, "SELECT count(*) FROM pragma_integrity_check WHERE integrity_check <> 'ok'") == 0);
  sqlite_api::sqlite3_close_v2(reader);

  sqlite_api::sqlite3* recovered = recover_crash_copy(path, dir.path() + "/crashed.db");
  CHECK(query_int(recovered, "SELECT count(*) FROM scratch") == rows + 800);
  sqlite_api::sqlite3_close_v2(recovered);
  sqlite_api::sqlite3_close_v2(live);
}

TEST_CASE("frames of a transaction that spilled and rolled back never overwrite a later commit") {
  TempDir dir;
  const std::string path = dir.path() + "/rollback.db";
  sqlite_api::sqlite3* first = open_wal_only(path);
  exec(first, "CREATE TABLE scratch (id INTEGER PRIMARY KEY, note TEXT)");
  exec(first, insert_rows(1, 10, 100, 'k'));
  // A tiny page cache: the big insert writes frames to the WAL before its end (the shim holds
  // them), then the transaction is rolled back.
  exec(first, "PRAGMA cache_size = 10");
  // Everything in the database file, the log empty: the rollback then reads nothing back from
  // the WAL (which would write what is held on its own).
  exec(first, "PRAGMA wal_checkpoint(TRUNCATE)");
  exec(first, "BEGIN IMMEDIATE; WITH RECURSIVE n(i) AS (SELECT 1000 UNION ALL SELECT i + 1 FROM n WHERE i < 1060) "
              "INSERT INTO scratch (id, note) SELECT i, printf('%.1800c', 'x') FROM n; ROLLBACK;");
  // Another connection appends its commit where the rolled-back frames were, and further.
  sqlite_api::sqlite3* second = nullptr;
  REQUIRE(sqlite_api::sqlite3_open_v2(path.c_str(), &second, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK);
  exec(second, insert_rows(100, 200, 1800, 's'));
  // The first connection touches its WAL again (a read of a page the WAL holds).
  CHECK(query_int(first, "SELECT count(*) FROM scratch WHERE note LIKE 's%'") == 200);

  sqlite_api::sqlite3* reader = open_plain(path);
  CHECK(query_int(reader, "SELECT count(*) FROM scratch") == 210);
  CHECK(query_int(reader, "SELECT count(*) FROM scratch WHERE note LIKE 'x%'") == 0);
  CHECK(query_int(reader, "SELECT count(*) FROM scratch WHERE length(note) = 1800 AND note LIKE 's%'") == 200);
  CHECK(query_int(reader, "SELECT count(*) FROM pragma_integrity_check WHERE integrity_check <> 'ok'") == 0);
  sqlite_api::sqlite3_close_v2(reader);
  sqlite_api::sqlite3* recovered = recover_crash_copy(path, dir.path() + "/crashed.db");
  CHECK(query_int(recovered, "SELECT count(*) FROM scratch") == 210);
  sqlite_api::sqlite3_close_v2(recovered);
  sqlite_api::sqlite3_close_v2(second);
  sqlite_api::sqlite3_close_v2(first);
}
