// SQLite group commit (store::Database, database.hpp): write transactions that queue up while
// one runs share one COMMIT, each in its own savepoint — so one that fails or throws leaves
// no trace while the others of its group commit, and what it throws reaches its own caller. On
// a real SQLite file.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "src/store/database.hpp"
#include "src/store/sql.hpp"
#include "support/service_fixture.hpp"

using namespace donatio;
using namespace donatio::testing;

namespace {

std::set<std::string> ids_in(store::Database& db) {
  std::set<std::string> ids;
  REQUIRE(db.read([&](soci::session& sql) {
                soci::rowset<std::string> rows = sql.prepare << "SELECT id FROM grouped";
                for (const auto& id : rows) ids.insert(id);
                return Status::Ok();
              })
              .ok());
  return ids;
}

}  // namespace

TEST_CASE("queued SQLite write transactions share a commit and fail one by one") {
  TestDatabase database(Backend::sqlite);
  DatabaseConfig config;
  config.url = database.url();
  config.pool_size = 2;
  auto opened = store::Database::open(config);
  REQUIRE(opened.ok());
  store::Database& db = **opened;
  REQUIRE(db.transaction([](soci::session& sql) {
                sql << "CREATE TABLE grouped (id TEXT PRIMARY KEY, n INTEGER NOT NULL)";
                sql << "INSERT INTO grouped (id, n) VALUES ('taken', 0)";
                return Status::Ok();
              })
              .ok());
  const auto before = db.group_stats();
  REQUIRE(before);

  // The first transaction holds the writer until the eight others have queued behind it; those
  // eight then run as one group. Of them, one returns an error after writing, one throws (a
  // unique violation) after writing: only their own rows are rolled back.
  std::atomic<bool> inside{false};
  std::atomic<bool> release{false};
  std::atomic<int> started{0};
  std::thread first([&] {
    CHECK(db.transaction([&](store::Sql& sql) {
                sql.exec("INSERT INTO grouped (id, n) VALUES (:id, :n)", "first", 1);
                inside = true;
                while (!release.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
                return Status::Ok();
              })
              .ok());
  });
  while (!inside.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::vector<Status> results(8);
  std::atomic<bool> rethrown{false};
  std::vector<std::thread> queued;
  for (int i = 0; i < 8; ++i) {
    queued.emplace_back([&, i] {
      ++started;
      try {
        results[i] = db.transaction([&](store::Sql& sql) {
          sql.exec("INSERT INTO grouped (id, n) VALUES (:id, :n)", "q" + std::to_string(i), i);
          if (i == 3) return Status::Unprocessable("refused", "this one changes its mind");
          if (i == 5) sql.exec("INSERT INTO grouped (id, n) VALUES ('taken', 5)");
          if (i == 6) throw 6;  // not a std::exception: reaches this thread, not the group's leader
          return Status::Ok();
        });
      } catch (int thrown) {
        rethrown = thrown == 6;
      }
    });
  }
  while (started.load() < 8) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // all eight are waiting their turn
  release = true;
  first.join();
  for (auto& t : queued) t.join();

  for (int i = 0; i < 8; ++i) {
    INFO(i);
    if (i == 3) {
      CHECK(results[i].code() == StatusCode::failed_precondition);
    } else if (i == 5) {
      CHECK(results[i].code() == StatusCode::conflict);
    } else if (i == 6) {
      CHECK(rethrown.load());
    } else {
      CHECK(results[i].ok());
    }
  }
  CHECK(ids_in(db) == std::set<std::string>{"taken", "first", "q0", "q1", "q2", "q4", "q7"});
  const auto after = db.group_stats();
  CHECK(after->transactions - before->transactions == 9);
  CHECK(after->commits - before->commits == 2);  // `first`, then the eight together

  // A lone transaction that throws something else than a std::exception: rolled back, the
  // exception reaches the caller, the writer is usable at once.
  CHECK_THROWS_AS(db.transaction([](store::Sql& sql) -> Status {
                    sql.exec("INSERT INTO grouped (id, n) VALUES ('thrower', 8)");
                    throw 8;
                  }),
                  int);
  // A lone transaction after that is its own commit; the writer is usable after the failures.
  REQUIRE(db.transaction([](store::Sql& sql) {
                sql.exec("INSERT INTO grouped (id, n) VALUES ('last', 9)");
                return Status::Ok();
              })
              .ok());
  CHECK(ids_in(db).count("last") == 1);
  CHECK(ids_in(db).count("thrower") == 0);
  CHECK(db.group_stats()->commits - after->commits == 2);
}

TEST_CASE("PostgreSQL write transactions are not grouped") {
  for (Backend backend : test_backends()) {
    if (backend != Backend::postgresql) continue;
    TestDatabase database(backend);
    DatabaseConfig config;
    config.url = database.url();
    config.pool_size = 2;
    auto opened = store::Database::open(config);
    REQUIRE(opened.ok());
    CHECK_FALSE((*opened)->group_stats().has_value());
  }
}
