// The donatio binary as an operator uses it.
#include <catch2/catch.hpp>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <csignal>
#include <fstream>
#include <thread>

#include "support/process.hpp"
#include "support/service_fixture.hpp"

using namespace donatio::testing;

namespace {

std::string write_config(const TempDir& dir, int port, const std::string& extra = "") {
  const std::string path = dir.path() + "/config.toml";
  std::ofstream out(path);
  out << "[server]\nlisten = \"127.0.0.1:" << port << "\"\ntls = false\nlog_level = \"info\"\n"
      << "[database]\nurl = \"sqlite:" << dir.path() << "/d.db\"\n"
      << "[organization]\nname = \"Test Org\"\n" << extra;
  return path;
}

}  // namespace

TEST_CASE("token create prints the new token alone on the last line, only its hash is stored") {
  TempDir dir;
  const auto config = write_config(dir, free_port());
  auto r = run_donatio({"token", "create", "--config", config, "--name", "ops", "--role", "admin"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const std::string token = last_line(r.out);
  CHECK(token.size() == 68);
  CHECK(token.rfind("dnt_", 0) == 0);
  // The database file never contains the token text.
  std::ifstream db(dir.path() + "/d.db", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(db)), std::istreambuf_iterator<char>());
  CHECK(bytes.find(token.substr(4)) == std::string::npos);

  auto list = run_donatio({"token", "list", "--config", config});
  CHECK(list.exit_code == 0);
  CHECK(list.out.find("ops") != std::string::npos);
  CHECK(list.out.find(token) == std::string::npos);
  auto dup = run_donatio({"token", "create", "--config", config, "--name", "ops", "--role", "admin"});
  CHECK(dup.exit_code != 0);
  auto bad_role = run_donatio({"token", "create", "--config", config, "--name", "x", "--role", "root"});
  CHECK(bad_role.exit_code == 2);
  CHECK(run_donatio({"token", "revoke", "--config", config, "--name", "ops"}).exit_code == 0);
  CHECK(run_donatio({"token", "revoke", "--config", config, "--name", "ops"}).exit_code == 1);
}

TEST_CASE("a bad configuration stops start-up with one line naming the key and exit code 2") {
  TempDir dir;
  const auto config = write_config(dir, free_port(), "[stripe]\nwebhook_tolerance_s = -4\n");
  auto r = run_donatio({"serve", "--config", config}, {{"STRIPE_WEBHOOK_SECRETS", "whsec_x"}});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("stripe.webhook_tolerance_s") != std::string::npos);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);

  auto missing = run_donatio({"serve", "--config", dir.path() + "/nope.toml"});
  CHECK(missing.exit_code == 2);
  auto no_secret = run_donatio({"serve", "--config", write_config(dir, free_port())}, {{"STRIPE_WEBHOOK_SECRETS", ""}});
  CHECK(no_secret.exit_code == 2);
  CHECK(no_secret.err.find("STRIPE_WEBHOOK_SECRETS") != std::string::npos);

  const std::string tls_config = dir.path() + "/tls.toml";
  std::ofstream(tls_config) << "[server]\nlisten = \"127.0.0.1:" << free_port()
                            << "\"\ntls = true\ntls_cert = \"missing.pem\"\ntls_key = \"missing-key.pem\"\n"
                            << "[database]\nurl = \"sqlite:" << dir.path() << "/d.db\"\n[organization]\nname = \"O\"\n";
  auto cert = run_donatio({"serve", "--config", tls_config}, {{"STRIPE_WEBHOOK_SECRETS", "whsec_x"}});
  CHECK(cert.exit_code == 2);
  CHECK(cert.err.find("server.tls_cert") != std::string::npos);

  const std::string pg_config = dir.path() + "/pg.toml";
  std::ofstream(pg_config) << "[server]\nlisten = \"127.0.0.1:" << free_port() << "\"\ntls = false\n"
                           << "[database]\nurl = \"postgresql://nobody:secretpw@127.0.0.1:1/none\"\n[organization]\nname = \"O\"\n";
  auto db = run_donatio({"serve", "--config", pg_config}, {{"STRIPE_WEBHOOK_SECRETS", "whsec_x"}});
  CHECK(db.exit_code == 2);
  CHECK(db.err.find("database.url") != std::string::npos);
  CHECK(db.err.find("secretpw") == std::string::npos);
}

TEST_CASE("migrate applies the schema once, campaign add and list work from the CLI") {
  TempDir dir;
  const auto config = write_config(dir, free_port());
  auto first = run_donatio({"migrate", "--config", config});
  CHECK(first.exit_code == 0);
  CHECK(first.out.find("applied 001_initial") != std::string::npos);
  auto second = run_donatio({"migrate", "--config", config});
  CHECK(second.out.find("applied") == std::string::npos);
  auto add = run_donatio({"campaign", "add", "--config", config, "--slug", "quake-aid", "--title", "Quake aid",
                          "--currency", "JPY", "--goal", "5000000", "--category", "humanitarian"});
  INFO(add.err);
  CHECK(add.exit_code == 0);
  auto bad = run_donatio({"campaign", "add", "--config", config, "--slug", "x", "--title", "X", "--currency", "EUR",
                          "--goal", "-5"});
  CHECK(bad.exit_code == 2);
  auto list = run_donatio({"campaign", "list", "--config", config});
  CHECK(list.out.find("quake-aid") != std::string::npos);
  CHECK(list.out.find("JPY 5000000") != std::string::npos);
  CHECK(run_donatio({"--help"}).exit_code == 0);
  CHECK(run_donatio({"token", "--help"}).exit_code == 0);
  CHECK(run_donatio({"frobnicate"}).exit_code == 2);
}

TEST_CASE("SIGTERM lets an in-flight request finish, then the server exits 0") {
  TempDir dir;
  const int port = free_port();
  const auto config = write_config(dir, port);
  DonatioProcess server({"serve", "--config", config}, {{"STRIPE_WEBHOOK_SECRETS", "whsec_x"}}, dir.path() + "/log");
  REQUIRE(wait_until_healthy(port, 10000));
  httplib::Client cli("http://127.0.0.1:" + std::to_string(port));
  CHECK(cli.Get("/v1/campaigns")->status == 200);
  server.signal(SIGTERM);
  CHECK(server.wait(15000) == 0);
  std::ifstream log(dir.path() + "/log");
  std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  CHECK(text.find("stopped") != std::string::npos);
  CHECK(text.find("[req=") != std::string::npos);
}
