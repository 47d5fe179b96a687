// Kill -9 under signed-webhook load: every event that got a 2xx is stored exactly once after
// a restart, and a full redelivery adds nothing it should not.
#include <catch2/catch.hpp>
#include <httplib.h>

#include <atomic>
#include <csignal>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "donatio/clock.hpp"
#include "support/process.hpp"
#include "support/service_fixture.hpp"
#include "support/webhook_client.hpp"
#include "webhooks/signature.hpp"

using namespace donatio::testing;

namespace {

struct Server {
  TempDir& dir;
  int port;
  std::string config;
};

std::string body_for(int i, std::int64_t t) {
  const std::string n = std::to_string(i);
  return payment_intent_event("evt_crash" + n, "payment_intent.succeeded", "pi_crash" + n, 1000, "chf",
                              {{"campaign", "crash-test"}}, t, "ch_crash" + n);
}

int post(httplib::Client& cli, const std::string& body) {
  const std::int64_t t = donatio::SystemClock().now_unix();
  httplib::Headers h{{"Stripe-Signature", donatio::webhooks::sign_header("whsec_crash_test", t, body)}};
  auto res = cli.Post("/webhooks/stripe", h, body, "application/json");
  return res ? res->status : -1;
}

long long sqlite_count(const std::string& db, const std::string& query) {
  donatio::DatabaseConfig c;
  c.url = "sqlite:" + db;
  c.pool_size = 1;
  auto opened = donatio::store::Database::open(c);
  REQUIRE(opened.ok());
  long long n = -1;
  REQUIRE((*opened)->read([&](soci::session& sql) {
    sql << query, soci::into(n);
    return donatio::Status::Ok();
  }).ok());
  return n;
}

}  // namespace

TEST_CASE("after kill -9 every acknowledged event is stored exactly once and redelivery adds nothing twice") {
  TempDir dir;
  const int port = free_port();
  const std::string config = dir.path() + "/config.toml";
  std::ofstream(config) << "[server]\nlisten = \"127.0.0.1:" << port << "\"\ntls = false\nlog_level = \"warn\"\n"
                        << "[database]\nurl = \"sqlite:" << dir.path() << "/d.db\"\n"
                        << "[stripe]\nsweep_interval_s = 0\n[organization]\nname = \"Crash Org\"\n";
  const std::map<std::string, std::string> env{{"STRIPE_WEBHOOK_SECRETS", "whsec_crash_test"}};
  REQUIRE(run_donatio({"campaign", "add", "--config", config, "--slug", "crash-test", "--title", "Crash",
                       "--currency", "CHF", "--goal", "1000000"}).exit_code == 0);

  constexpr int kEvents = 1500;
  std::mutex mutex;
  std::set<int> acknowledged;
  {
    DonatioProcess server({"serve", "--config", config}, env, dir.path() + "/log1");
    REQUIRE(wait_until_healthy(port, 10000));
    std::atomic<int> next{0};
    std::atomic<bool> killed{false};
    std::vector<std::thread> workers;
    for (int w = 0; w < 8; ++w) {
      workers.emplace_back([&] {
        httplib::Client cli("http://127.0.0.1:" + std::to_string(port));
        cli.set_connection_timeout(1);
        cli.set_read_timeout(5);
        for (int i = next++; i < kEvents && !killed; i = next++) {
          if (post(cli, body_for(i, donatio::SystemClock().now_unix())) == 200) {
            std::lock_guard lock(mutex);
            acknowledged.insert(i);
          }
        }
      });
    }
    // Kill mid-way, without warning.
    while (true) {
      {
        std::lock_guard lock(mutex);
        if (acknowledged.size() >= 300) break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    server.signal(SIGKILL);
    killed = true;
    server.wait(5000);
    for (auto& w : workers) w.join();
  }
  INFO("acknowledged before the crash: " << acknowledged.size());
  REQUIRE(acknowledged.size() >= 300);
  REQUIRE(acknowledged.size() < static_cast<std::size_t>(kEvents));

  const std::string db = dir.path() + "/d.db";
  // Every acknowledged event is stored (exactly once: the id is the primary key).
  for (int i : acknowledged) {
    REQUIRE(sqlite_count(db, "SELECT COUNT(*) FROM events WHERE id = 'evt_crash" + std::to_string(i) + "'") == 1);
  }
  const long long stored_before = sqlite_count(db, "SELECT COUNT(*) FROM events");
  CHECK(stored_before >= static_cast<long long>(acknowledged.size()));

  // Restart and redeliver everything, as Stripe would.
  DonatioProcess server({"serve", "--config", config}, env, dir.path() + "/log2");
  REQUIRE(wait_until_healthy(port, 10000));
  httplib::Client cli("http://127.0.0.1:" + std::to_string(port));
  int ok = 0;
  for (int i = 0; i < kEvents; ++i) ok += post(cli, body_for(i, donatio::SystemClock().now_unix())) == 200;
  CHECK(ok == kEvents);
  CHECK(sqlite_count(db, "SELECT COUNT(*) FROM events") == kEvents);
  CHECK(sqlite_count(db, "SELECT COUNT(*) FROM donations") == kEvents);
  CHECK(sqlite_count(db, "SELECT COUNT(*) FROM donations WHERE status = 'succeeded'") == kEvents);
  CHECK(sqlite_count(db, "SELECT COUNT(DISTINCT number) FROM receipts") == kEvents);
  CHECK(sqlite_count(db, "SELECT MAX(sequence) FROM receipts") == kEvents);
  CHECK(sqlite_count(db, "SELECT donation_count FROM campaigns WHERE slug = 'crash-test'") == kEvents);
  server.signal(SIGTERM);
  CHECK(server.wait(15000) == 0);
}
