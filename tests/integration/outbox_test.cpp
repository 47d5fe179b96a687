// The outbox worker: backoff, SMTP down then up (nothing lost, nothing sent twice), dead rows
// visible in /metrics and to finance, and several instances on PostgreSQL sharing the outbox
// without sending any mail twice.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <set>
#include <thread>

#include "src/outbox/outbox_store.hpp"
#include "src/outbox/outbox_worker.hpp"
#include "support/service_fixture.hpp"
#include "support/webhook_client.hpp"
#include "webhooks/signature.hpp"
#include "support/helpers.hpp"

using namespace donatio::testing;
using nlohmann::json;

namespace {

// A signed payment_intent.succeeded without a charge (so no fee look-up is queued). True on
// 200. No Catch assertions inside: it is also called from several threads.
bool post_success(ServiceFixture& fx, int i, int port = 0) {
  const std::string n = std::to_string(i);
  const auto t = fx.clock().now_unix();
  const auto body = payment_intent_event("evt_o" + n, "payment_intent.succeeded", "pi_o" + n, 1000 + i, "chf", {}, t);
  httplib::Client cli("http://127.0.0.1:" + std::to_string(port == 0 ? fx.port() : port));
  cli.set_read_timeout(30);
  httplib::Headers h{{"Stripe-Signature", donatio::webhooks::sign_header(ServiceFixture::kWebhookSecret, t, body)}};
  auto res = cli.Post("/webhooks/stripe", h, body, "application/json");
  return res && res->status == 200;
}

void succeed(ServiceFixture& fx, int i) { REQUIRE(post_success(fx, i)); }

long long count_rows_in(donatio::store::Database& db, const std::string& query) {
  long long n = -1;
  REQUIRE(db.read([&](soci::session& sql) {
    sql << query, soci::into(n);
    return donatio::Status::Ok();
  }).ok());
  return n;
}

std::string message_id(const std::string& data) {
  const auto at = data.find("Message-ID: ");
  if (at == std::string::npos) return "";
  return data.substr(at + 12, data.find("\r\n", at) - at - 12);
}

}  // namespace

TEST_CASE("backoff doubles from the base, is capped, and jitter only shortens it") {
  using donatio::outbox::backoff_seconds;
  CHECK(backoff_seconds(1, 5, 3600, 0.0) == 5);
  CHECK(backoff_seconds(2, 5, 3600, 0.0) == 10);
  CHECK(backoff_seconds(3, 5, 3600, 0.0) == 20);
  CHECK(backoff_seconds(20, 5, 3600, 0.0) == 3600);
  CHECK(backoff_seconds(60, 5, 3600, 0.0) == 3600);  // no overflow
  CHECK(backoff_seconds(3, 5, 3600, 0.99) >= 15);
  CHECK(backoff_seconds(3, 5, 3600, 0.99) <= 20);
  CHECK(backoff_seconds(20, 5, 3600, 0.99) <= 3600);
  CHECK(backoff_seconds(1, 1, 1, 0.99) == 1);
}

TEST_CASE("while the foreground is busy the worker rests nine times as long as each job took, and none otherwise") {
  TestDatabase database(Backend::sqlite);
  donatio::DatabaseConfig c;
  c.url = database.url();
  c.pool_size = 2;
  auto db = donatio::store::Database::open(c);
  REQUIRE(db.ok());
  REQUIRE((*db)->migrate().ok());
  donatio::SystemClock clock;
  donatio::http::Metrics metrics;
  auto enqueue = [&](int n) {
    REQUIRE((*db)->transaction([&](soci::session& sql) {
      for (int i = 0; i < n; ++i) {
        donatio::outbox::OutboxStore::enqueue(sql, (*db)->dialect(), "slow_job", "{}", clock.now_unix());
      }
      return donatio::Status::Ok();
    }).ok());
  };
  std::atomic<bool> busy{true};
  std::atomic<int> jobs{0};
  donatio::outbox::WorkerOptions options;
  options.batch_size = 4;
  options.foreground_busy = [&] { return busy.load(); };
  options.busy_duty_percent = 10;
  donatio::outbox::OutboxWorker worker(**db, clock, metrics, options,
                                       {{"slow_job", [&](const donatio::outbox::OutboxItem&) {
                                          std::this_thread::sleep_for(std::chrono::milliseconds(20));
                                          ++jobs;
                                          return donatio::outbox::JobOutcome::Done();
                                        }}});
  using std::chrono::steady_clock;
  enqueue(4);
  auto start = steady_clock::now();
  CHECK(worker.run_once() == 4);
  const auto busy_took = steady_clock::now() - start;
  // 4 jobs of >= 20 ms, each followed by a rest of >= 9 x 20 ms.
  CHECK(busy_took >= std::chrono::milliseconds(4 * (20 + 180)));
  CHECK(jobs == 4);
  CHECK(count_rows_in(**db, "SELECT COUNT(*) FROM outbox WHERE status = 'done'") == 4);

  busy = false;
  enqueue(4);
  start = steady_clock::now();
  CHECK(worker.run_once() == 4);
  const auto idle_took = steady_clock::now() - start;
  CHECK(jobs == 8);
  // No rest: well under the time of the rests alone (generous for a loaded machine).
  CHECK(idle_took < std::chrono::milliseconds(4 * 180));
}

TEST_CASE("SMTP down: nothing is lost, when the server is back the mail goes out exactly once") {
  ServiceFixture fx(Backend::sqlite, {.smtp_sink = true, .outbox_poll_ms = 20});
  const auto port = fx.smtp().port();
  fx.smtp().stop();
  succeed(fx, 1);
  // Each failed attempt schedules the next one later; move the clock past it.
  REQUIRE(eventually([&] {
    fx.clock().advance_seconds(7200);
    return count_rows(fx, "SELECT attempts FROM outbox WHERE kind = 'receipt_email'") >= 2;
  }));
  CHECK(query_string(fx, "SELECT status FROM outbox WHERE kind = 'receipt_email'") == "pending");
  CHECK(query_string(fx, "SELECT last_error FROM outbox WHERE kind = 'receipt_email'").find("smtp") != std::string::npos);
  fx.smtp().start(port);
  fx.clock().advance_seconds(7200);
  REQUIRE(fx.smtp().wait_for(1, std::chrono::seconds(15)));
  REQUIRE(eventually([&] { return query_string(fx, "SELECT status FROM outbox WHERE kind = 'receipt_email'") == "done"; }));
  fx.clock().advance_seconds(7200);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  REQUIRE(fx.smtp().messages().size() == 1);
  CHECK(message_id(fx.smtp().messages()[0].data) == "<outbox-1@donatio>");
}

TEST_CASE("after smtp.max_attempts the row is dead: counted in /metrics and listed for finance") {
  ServiceFixture fx(Backend::sqlite, {.configure = [](donatio::Config& c) { c.smtp.max_attempts = 2; },
                                      .smtp_sink = true, .outbox_poll_ms = 20});
  fx.smtp().set_reject_next(100, 451);
  succeed(fx, 1);
  REQUIRE(eventually([&] {
    fx.clock().advance_seconds(7200);
    return query_string(fx, "SELECT status FROM outbox WHERE kind = 'receipt_email'") == "dead";
  }));
  CHECK(count_rows(fx, "SELECT attempts FROM outbox") == 2);
  CHECK(eventually([&] {
    return fx.client().Get("/metrics")->body.find("\ndonatio_outbox_dead 1\n") != std::string::npos;
  }));
  const auto metrics = fx.client().Get("/metrics")->body;
  CHECK(metrics.find("donatio_outbox_pending 0") != std::string::npos);
  CHECK(metrics.find(R"(donatio_outbox_processed_total{kind="receipt_email",outcome="dead"} 1)") != std::string::npos);

  CHECK(fx.client().Get("/v1/admin/outbox?status=dead")->status == 401);
  const auto finance = fx.token("finance");
  auto res = fx.client().Get("/v1/admin/outbox?status=dead", bearer(finance));
  REQUIRE(res->status == 200);
  auto data = json::parse(res->body)["data"];
  REQUIRE(data.size() == 1);
  CHECK(data[0]["kind"] == "receipt_email");
  CHECK(data[0]["attempts"] == 2);
  CHECK(data[0]["payload"]["receipt_number"] == "CPI-2027-000001");
  CHECK(data[0]["last_error"].get<std::string>().find("smtp") != std::string::npos);
  CHECK(fx.client().Get("/v1/admin/outbox?status=weird", bearer(finance))->status == 400);
}

TEST_CASE("a permanent SMTP refusal (5xx) makes the row dead at once") {
  ServiceFixture fx(Backend::sqlite, {.smtp_sink = true, .outbox_poll_ms = 20});
  fx.smtp().set_reject_next(1, 550, donatio::testing::RejectStage::rcpt_to);
  succeed(fx, 1);
  REQUIRE(eventually([&] { return query_string(fx, "SELECT status FROM outbox WHERE kind = 'receipt_email'") == "dead"; }));
  CHECK(count_rows(fx, "SELECT attempts FROM outbox") == 1);
  CHECK(fx.smtp().messages().empty());
}

TEST_CASE("two instances on one PostgreSQL database share the outbox and send every mail exactly once") {
  if (test_backends().size() < 2) return;
  ServiceFixture fx(Backend::postgresql, {.smtp_sink = true, .outbox_poll_ms = 10});
  donatio::Secrets secrets;
  secrets.webhook_secrets = {ServiceFixture::kWebhookSecret};
  secrets.receipt_secret = "receipt-secret-for-tests";
  donatio::cli::ServiceOptions options;
  options.clock = &fx.clock();
  donatio::cli::Service second(fx.config(), secrets, options);
  auto port = second.start();
  REQUIRE(port.ok());
  second.run_in_background();

  constexpr int kMails = 60;
  std::atomic<int> posted{0};
  std::vector<std::thread> senders;
  for (int w = 0; w < 4; ++w) {
    senders.emplace_back([&, w] {
      for (int i = w; i < kMails; i += 4) posted += post_success(fx, i, i % 2 ? *port : fx.port()) ? 1 : 0;
    });
  }
  for (auto& s : senders) s.join();
  REQUIRE(posted == kMails);
  REQUIRE(fx.smtp().wait_for(kMails, std::chrono::seconds(60)));
  REQUIRE(eventually([&] { return count_rows(fx, "SELECT COUNT(*) FROM outbox WHERE status = 'done'") == kMails; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const auto mails = fx.smtp().messages();
  CHECK(mails.size() == kMails);
  std::set<std::string> ids;
  for (const auto& m : mails) ids.insert(message_id(m.data));
  CHECK(ids.size() == kMails);
  auto processed = [](donatio::cli::Service& s) {
    const auto text = s.metrics().render();
    const std::string key = R"(donatio_outbox_processed_total{kind="receipt_email",outcome="done"} )";
    const auto at = text.find(key);
    return at == std::string::npos ? 0 : std::stoi(text.substr(at + key.size()));
  };
  INFO("first instance sent " << processed(fx.service()) << ", second " << processed(second));
  CHECK(processed(fx.service()) + processed(second) == kMails);
  second.stop();
}

// Not run by default: `donatio_tests "[bench]"`. Mails per second from one instance's outbox
// worker (render PDF + compose + SMTP to the local sink), SQLite.
TEST_CASE("bench: receipt mails per second to the local SMTP sink", "[.][bench]") {
  ServiceFixture fx(Backend::sqlite, {.smtp_sink = true, .outbox_poll_ms = 10});
  const auto port = fx.smtp().port();
  fx.smtp().stop();  // queue everything first: the clock is frozen, so failed rows wait
  constexpr int kMails = 300;
  for (int i = 0; i < kMails; ++i) succeed(fx, i);
  REQUIRE(eventually([&] { return count_rows(fx, "SELECT COUNT(*) FROM outbox WHERE attempts >= 1 AND locked_until = 0") == kMails; }));
  fx.smtp().start(port);
  const auto start = std::chrono::steady_clock::now();
  fx.clock().advance_seconds(7200);
  REQUIRE(fx.smtp().wait_for(kMails, std::chrono::seconds(120)));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%d receipt mails in %.2f s: %.0f mails/s\n", kMails, seconds, kMails / seconds);
}
