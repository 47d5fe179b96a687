#include <catch2/catch.hpp>

#include "src/store/database.hpp"

using donatio::store::postgres_connect_string;

TEST_CASE("PostgreSQL URLs become libpq key=value strings, percent-decoded and quoted") {
  CHECK(postgres_connect_string("postgresql://donations:donations@127.0.0.1:5432/donations") ==
        "host='127.0.0.1' port='5432' dbname='donations' user='donations' password='donations' connect_timeout='5'");
  CHECK(postgres_connect_string("postgres://u:p%40ss'w@db.internal/app?sslmode=require") ==
        "host='db.internal' dbname='app' user='u' password='p@ss\\'w' sslmode='require' connect_timeout='5'");
  CHECK(postgres_connect_string("postgresql://[::1]:5433/x") == "host='::1' port='5433' dbname='x' connect_timeout='5'");
  CHECK(postgres_connect_string("postgresql://host-only").empty());
  CHECK(postgres_connect_string("mysql://u@h/d").empty());
}
