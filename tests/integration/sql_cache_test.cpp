// store::Sql, the prepared-statement cache under the webhook writer: statements reused with fresh
// parameters, NULLs both ways, RETURNING, affected rows, errors mapped like SOCI's (a unique
// violation is a conflict), a failed statement usable again, and the cache surviving rollbacks.
// On a real SQLite file and a real PostgreSQL schema.
#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <tuple>

#include "src/http/request_context.hpp"
#include "src/store/database.hpp"
#include "src/store/sql.hpp"
#include "support/service_fixture.hpp"

using namespace donatio;
using namespace donatio::testing;

namespace {

std::unique_ptr<store::Database> open_scratch(const TestDatabase& database) {
  DatabaseConfig c;
  c.url = database.url();
  c.pool_size = 1;  // one session: every transaction below reuses the same cache
  auto db = store::Database::open(c);
  REQUIRE(db.ok());
  REQUIRE((*db)->transaction([](soci::session& sql) {
                 sql << "CREATE TABLE scratch (id TEXT PRIMARY KEY, n BIGINT, note TEXT)";
                 return Status::Ok();
               })
              .ok());
  return std::move(*db);
}

std::int64_t count_scratch(store::Database& db) {
  std::int64_t n = -1;
  REQUIRE(db.transaction([&](store::Sql& sql) {
                REQUIRE(sql.first("SELECT COUNT(*) FROM scratch", std::tie(n)));
                return Status::Ok();
              })
              .ok());
  return n;
}

}  // namespace

TEST_CASE("cached statements run again with new parameters, read NULLs and report changed rows") {
  for (Backend backend : test_backends()) {
    DYNAMIC_SECTION(backend_name(backend)) {
      TestDatabase database(backend);
      auto db = open_scratch(database);
      const char* insert = "INSERT INTO scratch (id, n, note) VALUES (:id, :n, :note) ON CONFLICT (id) DO NOTHING";
      Status s = db->transaction([&](store::Sql& sql) {
        CHECK(sql.exec(insert, "a", 1, "first") == 1);
        CHECK(sql.exec(insert, std::string("b"), std::int64_t{-7}, std::optional<std::string>()) == 1);
        const std::optional<std::int64_t> no_number = std::nullopt;
        CHECK(sql.exec(insert, std::string_view("c"), no_number, std::nullopt) == 1);
        CHECK(sql.exec(insert, "a", 99, "again") == 0);  // the conflict does nothing
        return Status::Ok();
      });
      REQUIRE(s.ok());

      s = db->transaction([&](store::Sql& sql) {
        const char* select = "SELECT id, n, note FROM scratch WHERE id = :id";
        std::string id, note;
        std::int64_t n = 0;
        REQUIRE(sql.first(select, std::tie(id, n, note), "a"));
        CHECK(id == "a");
        CHECK(n == 1);
        CHECK(note == "first");
        std::optional<std::int64_t> maybe_n;
        std::optional<std::string> maybe_note = "stale";
        REQUIRE(sql.first(select, std::tie(id, maybe_n, maybe_note), "b"));
        CHECK(maybe_n == -7);
        CHECK_FALSE(maybe_note.has_value());
        REQUIRE(sql.first(select, std::tie(id, maybe_n, note), "c"));
        CHECK_FALSE(maybe_n.has_value());
        CHECK(note.empty());  // NULL into a plain string reads as ""
        id = "unchanged";
        CHECK_FALSE(sql.first(select, std::tie(id, n, note), "missing"));
        CHECK(id == "unchanged");

        CHECK(sql.exec("UPDATE scratch SET n = n + :d WHERE id <> :id", 10, "a") == 2);
        std::int64_t total = 0;
        REQUIRE(sql.first("UPDATE scratch SET n = n + 1 WHERE id = :id RETURNING n", std::tie(total), "a"));
        CHECK(total == 2);
        return Status::Ok();
      });
      REQUIRE(s.ok());
      CHECK(count_scratch(*db) == 3);
    }
  }
}

TEST_CASE("a statement that fails rolls back its transaction as a conflict and the cache keeps working") {
  for (Backend backend : test_backends()) {
    DYNAMIC_SECTION(backend_name(backend)) {
      TestDatabase database(backend);
      auto db = open_scratch(database);
      const char* insert = "INSERT INTO scratch (id, n, note) VALUES (:id, :n, :note)";
      REQUIRE(db->transaction([&](store::Sql& sql) {
                    sql.exec(insert, "x", 1, "kept");
                    return Status::Ok();
                  })
                  .ok());
      // The second row of this transaction violates the primary key: nothing of it stays.
      Status s = db->transaction([&](store::Sql& sql) {
        sql.exec(insert, "y", 2, "rolled back");
        sql.exec(insert, "x", 3, "duplicate");
        return Status::Ok();
      });
      CHECK(s.code() == StatusCode::conflict);
      CHECK(count_scratch(*db) == 1);

      // Inside a savepoint only the failing part is undone (the webhook writer's pattern).
      s = db->transaction([&](store::Sql& sql) {
        sql.exec(insert, "z", 4, "kept too");
        sql.command("SAVEPOINT scratch_part");
        try {
          sql.exec(insert, "x", 5, "duplicate");
          FAIL("the duplicate was accepted");
        } catch (const std::exception& e) {
          CHECK(store::is_unique_violation(e));
          sql.command("ROLLBACK TO SAVEPOINT scratch_part");
        }
        sql.command("RELEASE SAVEPOINT scratch_part");
        CHECK(sql.exec(insert, "w", 6, "after the failure") == 1);
        return Status::Ok();
      });
      REQUIRE(s.ok());
      CHECK(count_scratch(*db) == 3);
    }
  }
}

TEST_CASE("a statement given the wrong number of parameters is refused before it runs") {
  TestDatabase database(Backend::sqlite);
  auto db = open_scratch(database);
  Status s = db->transaction([&](store::Sql& sql) {
    sql.exec("INSERT INTO scratch (id, n) VALUES (:id, :n)", "only-one");
    return Status::Ok();
  });
  CHECK_FALSE(s.ok());
  CHECK(count_scratch(*db) == 0);
}

TEST_CASE("time-ordered ids sort by their second then by creation within it") {
  const std::string a = http::time_ordered_hex(1'764'000'000);
  const std::string b = http::time_ordered_hex(1'764'000'000);
  const std::string later = http::time_ordered_hex(1'764'000'001);
  CHECK(a.size() == 28);
  CHECK(a.substr(0, 8) == "69248100");  // 1,764,000,000 in hex
  CHECK(a != b);
  CHECK(a.substr(0, 8) == b.substr(0, 8));
  // The sequence part follows creation order (b was made right after a; no wrap in between
  // unless a sat exactly at 0xffff).
  if (a.substr(8, 4) != "ffff") CHECK(b > a);
  CHECK(a.substr(12) != b.substr(12));  // the random tails differ
  CHECK(later > a);
  CHECK(later > b);
  CHECK(a.find_first_not_of("0123456789abcdef") == std::string::npos);
}
