// The security pass (issue 7): slow clients, header and request-size limits, TLS versions and
// ciphers, security headers, and no secret in any log line through a whole donation's life.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <openssl/ssl.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>


#include <chrono>
#include <sstream>
#include <string>
#include <thread>

#include "support/raw_http_client.hpp"
#include "support/service_fixture.hpp"
#include "support/webhook_client.hpp"

using namespace donatio::testing;
using nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

namespace {

// Sends `request` one byte every `pause` until the server hangs up or `limit` passes; returns
// how long the server kept the connection.
std::chrono::milliseconds trickle(RawHttpClient& client, const std::string& request, std::chrono::milliseconds pause,
                                  std::chrono::milliseconds limit) {
  const auto start = SteadyClock::now();
  std::size_t sent = 0;
  while (SteadyClock::now() - start < limit) {
    if (sent < request.size() && !client.send(request.substr(sent++, 1))) break;
    if (client.closed_within(pause)) break;
  }
  return std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - start);
}

std::string endless_headers() {
  std::string request = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  for (int i = 0; i < 1000; ++i) request += "X-Trickle-" + std::to_string(i) + ": a\r\n";
  return request;
}

bool tls_handshake_succeeds(int port, int min_version, int max_version, const char* ciphers) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_min_proto_version(ctx, min_version);
  SSL_CTX_set_max_proto_version(ctx, max_version);
  SSL_CTX_set_security_level(ctx, 0);
  if (ciphers != nullptr) SSL_CTX_set_cipher_list(ctx, ciphers);
  BIO* bio = BIO_new_ssl_connect(ctx);
  BIO_set_conn_hostname(bio, ("127.0.0.1:" + std::to_string(port)).c_str());
  const bool ok = BIO_do_connect(bio) > 0 && BIO_do_handshake(bio) > 0;
  BIO_free_all(bio);
  SSL_CTX_free(ctx);
  return ok;
}

void slow_client_limits(donatio::Config& c) {
  c.server.threads = 2;
  c.server.read_timeout_ms = 1000;
  c.server.request_timeout_ms = 1500;
}

}  // namespace

TEST_CASE("a client that trickles its request is cut off at the request deadline and frees its worker",
          "[security]") {
  ServiceFixture fx(Backend::sqlite, {.configure = slow_client_limits});
  // Both workers taken by clients that send a header byte every 300 ms: each read is well within
  // the 1 s read timeout, so only the 1.5 s request deadline can end them.
  RawHttpClient first(fx.port());
  RawHttpClient second(fx.port());
  std::chrono::milliseconds held_second{};
  std::thread other([&] { held_second = trickle(second, endless_headers(), std::chrono::milliseconds(300), std::chrono::seconds(8)); });
  const auto held_first = trickle(first, endless_headers(), std::chrono::milliseconds(300), std::chrono::seconds(8));
  other.join();
  CHECK(held_first >= std::chrono::milliseconds(1300));
  CHECK(held_first < std::chrono::milliseconds(4000));
  CHECK(held_second < std::chrono::milliseconds(4000));

  // The workers are free again: a normal request is answered at once.
  const auto start = SteadyClock::now();
  auto res = fx.client().Get("/healthz");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(SteadyClock::now() - start < std::chrono::seconds(1));
  auto metrics = fx.client().Get("/metrics");
  REQUIRE(metrics);
  CHECK(metrics->body.find("donatio_http_slow_clients_total 2") != std::string::npos);
}

TEST_CASE("a client that connects and stays silent is closed after the read timeout", "[security]") {
  ServiceFixture fx(Backend::sqlite, {.configure = slow_client_limits});
  RawHttpClient silent(fx.port());
  const auto start = SteadyClock::now();
  CHECK(silent.closed_within(std::chrono::seconds(4)));
  const auto held = SteadyClock::now() - start;
  CHECK(held >= std::chrono::milliseconds(800));
  CHECK(held < std::chrono::milliseconds(2500));
}

TEST_CASE("a TLS client that trickles its handshake is cut off at the request deadline", "[security]") {
  ServiceFixture fx(Backend::sqlite, {.tls = true, .configure = slow_client_limits});
  RawHttpClient client(fx.port());
  // The first bytes of a TLS 1.2 ClientHello record, then more, a byte at a time.
  std::string hello("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11);
  hello += std::string(400, '\x42');
  const auto held = trickle(client, hello, std::chrono::milliseconds(300), std::chrono::seconds(8));
  CHECK(held >= std::chrono::milliseconds(1300));
  CHECK(held < std::chrono::milliseconds(4000));
  CHECK(tls_handshake_succeeds(fx.port(), TLS1_2_VERSION, TLS1_3_VERSION, nullptr));
}

TEST_CASE("keep-alive: a second request on the same connection has its own deadline", "[security]") {
  ServiceFixture fx(Backend::sqlite, {.configure = slow_client_limits});
  RawHttpClient client(fx.port());
  std::string got;
  REQUIRE(client.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  // The connection outlives the 1.5 s deadline; each request is well inside its own.
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  REQUIRE(client.send("GET /healthz HTTP/1.1\r\n"));
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  REQUIRE(client.send("Host: x\r\nConnection: close\r\n\r\n"));
  CHECK(client.closed_within(std::chrono::seconds(3), &got));
  std::size_t answers = 0;
  for (auto at = got.find("HTTP/1.1 200"); at != std::string::npos; at = got.find("HTTP/1.1 200", at + 1)) ++answers;
  CHECK(answers == 2);
}

TEST_CASE("more request headers than server.max_header_count are refused with 400", "[security]") {
  ServiceFixture fx(Backend::sqlite);
  httplib::Headers headers;
  for (int i = 0; i < 70; ++i) headers.emplace("X-Extra-" + std::to_string(i), "1");
  auto res = fx.client().Get("/v1/campaigns", headers);
  REQUIRE(res);
  CHECK(res->status == 400);
  CHECK(json::parse(res->body)["error"]["code"] == "too_many_headers");
  CHECK(res->get_header_value("X-Content-Type-Options") == "nosniff");
  httplib::Headers fine;
  for (int i = 0; i < 20; ++i) fine.emplace("X-Extra-" + std::to_string(i), "1");
  CHECK(fx.client().Get("/v1/campaigns", fine)->status == 200);
}

TEST_CASE("a header line over 8 KB is refused and the connection closed", "[security]") {
  ServiceFixture fx(Backend::sqlite);
  RawHttpClient client(fx.port());
  REQUIRE(client.send("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(10000, 'a') + "\r\n\r\n"));
  std::string got;
  CHECK(client.closed_within(std::chrono::seconds(3), &got));
  CHECK(got.find("HTTP/1.1 200") == std::string::npos);
  CHECK(fx.client().Get("/healthz")->status == 200);
}

TEST_CASE("a request streaming more header bytes than the server allows is cut off", "[security]") {
  ServiceFixture fx(Backend::sqlite, {.configure = [](donatio::Config& c) {
                                        c.server.max_header_count = 8;
                                        c.server.max_body_bytes = 1024;
                                      }});
  // Allowed on the wire: 1 KB body + 64 KB + 8 x 8 KB of headers; this sends 200 x 7.9 KB.
  RawHttpClient client(fx.port());
  bool sending = client.send("GET /healthz HTTP/1.1\r\nHost: x\r\n");
  const std::string line = "X-Filler: " + std::string(7900, 'f') + "\r\n";
  for (int i = 0; i < 200 && sending; ++i) sending = client.send(line);
  std::string got;
  CHECK(client.closed_within(std::chrono::seconds(3), &got));
  CHECK(got.find("HTTP/1.1 200") == std::string::npos);
}

TEST_CASE("TLS: 1.0 and 1.1 refused, TLS 1.2 only with forward secrecy and AEAD", "[security]") {
  ServiceFixture fx(Backend::sqlite, {.tls = true});
  CHECK_FALSE(tls_handshake_succeeds(fx.port(), TLS1_VERSION, TLS1_VERSION, nullptr));
  CHECK_FALSE(tls_handshake_succeeds(fx.port(), TLS1_1_VERSION, TLS1_1_VERSION, nullptr));
  // The development certificate is ECDSA P-256. CBC modes and SHA-1 MACs are refused even with
  // forward secrecy; ECDHE with AES-GCM or ChaCha20-Poly1305 is accepted.
  CHECK_FALSE(tls_handshake_succeeds(fx.port(), TLS1_2_VERSION, TLS1_2_VERSION,
                                     "ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA:ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES256-SHA384"));
  CHECK(tls_handshake_succeeds(fx.port(), TLS1_2_VERSION, TLS1_2_VERSION, "ECDHE-ECDSA-AES128-GCM-SHA256"));
  CHECK(tls_handshake_succeeds(fx.port(), TLS1_2_VERSION, TLS1_2_VERSION, "ECDHE-ECDSA-CHACHA20-POLY1305"));
  CHECK(tls_handshake_succeeds(fx.port(), TLS1_3_VERSION, TLS1_3_VERSION, nullptr));
}

TEST_CASE("security headers on every answer, no-store on admin and donation answers", "[security]") {
  ServiceFixture fx(Backend::sqlite, {.tls = true, .stripe_emulator = true});
  fx.create_campaign("hdr", "CHF");
  const auto admin = fx.token("admin");
  struct Case {
    const char* what;
    httplib::Result res;
    bool no_store;
  };
  auto cli = fx.client();
  std::vector<Case> cases;
  cases.push_back({"public read", cli.Get("/v1/campaigns"), false});
  cases.push_back({"404", cli.Get("/v1/nothing"), false});
  cases.push_back({"401", cli.Get("/v1/admin/donations"), true});
  cases.push_back({"admin read", cli.Get("/v1/admin/donations", bearer(admin)), true});
  cases.push_back({"donation", cli.Post("/v1/donations", R"({"campaign":"hdr","amount":5000,"currency":"CHF","donor":{"email":"a@example.org","name":"A"}})", "application/json"), true});
  cases.push_back({"bad donation", cli.Post("/v1/donations", R"({"campaign":"hdr"})", "application/json"), true});
  for (const auto& c : cases) {
    INFO(c.what);
    REQUIRE(c.res);
    CHECK(c.res->get_header_value("X-Content-Type-Options") == "nosniff");
    CHECK(c.res->get_header_value("Strict-Transport-Security").rfind("max-age=", 0) == 0);
    CHECK(!c.res->get_header_value("X-Request-Id").empty());
    if (c.no_store) CHECK(c.res->get_header_value("Cache-Control") == "no-store");
  }
}

TEST_CASE("no secret reaches a log line through a donation's whole life, at trace level", "[security]") {
  // Every line any logger writes, captured.
  std::ostringstream captured;
  init_test_logging();
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(captured);
  auto logger = spdlog::default_logger();
  const auto level = logger->level();
  logger->sinks().push_back(sink);
  logger->set_level(spdlog::level::trace);
  std::string client_secret;
  std::string admin;
  {
    ServiceFixture fx(Backend::sqlite, {.stripe_emulator = true, .smtp_sink = true, .outbox_poll_ms = 20});
    fx.create_campaign("quiet", "CHF");
    admin = fx.token("admin");
    auto cli = fx.client();
    CHECK(cli.Get("/v1/admin/donations", bearer(admin + "x"))->status == 401);
    auto made = cli.Post("/v1/donations", R"({"campaign":"quiet","amount":5000,"currency":"CHF","donor":{"email":"donor@example.org","name":"Zoë"}})",
                         "application/json");
    REQUIRE(made);
    REQUIRE(made->status == 201);
    const auto body = json::parse(made->body);
    client_secret = body["client_secret"];
    REQUIRE(fx.stripe().confirm(body["payment_intent"]));
    // The webhook, the receipt mail and the fee lookup all happen; wait for the mail.
    CHECK(fx.smtp().wait_for(1, std::chrono::seconds(5)));
    auto refund = cli.Post("/v1/admin/donations/" + body["id"].get<std::string>() + "/refund", bearer(admin),
                           R"({"amount":1000})", "application/json");
    REQUIRE(refund);
    CHECK(refund->status / 100 == 2);
    CHECK(cli.Get("/v1/admin/donations", bearer(admin))->status == 200);
  }
  logger->flush();
  logger->sinks().pop_back();
  logger->set_level(level);
  const std::string text = captured.str();
  CHECK(text.size() > 1000);  // the trace really was captured
  CHECK(text.find("sk_test_fixture_key") == std::string::npos);
  CHECK(text.find(ServiceFixture::kWebhookSecret) == std::string::npos);
  CHECK(text.find("receipt-secret-for-tests") == std::string::npos);
  CHECK(text.find(admin) == std::string::npos);
  CHECK(text.find(admin.substr(4, 16)) == std::string::npos);
  CHECK(text.find(client_secret) == std::string::npos);
  CHECK(text.find("_secret_") == std::string::npos);
}

TEST_CASE("failed admin token checks are rate-limited per client, a good token included, until the window passes",
          "[security]") {
  for (Backend backend : test_backends()) {
    SECTION(backend_name(backend)) {
      ServiceFixture fx(backend, {.configure = [](donatio::Config& c) { c.server.admin_auth_failures_per_minute = 3; }});
      const auto admin = fx.token("admin");
      auto cli = fx.client();
      // A good token does not use up the allowance.
      for (int i = 0; i < 5; ++i) CHECK(cli.Get("/v1/admin/donations", bearer(admin))->status == 200);
      for (int i = 0; i < 3; ++i) CHECK(cli.Get("/v1/admin/donations", bearer("dnt_" + std::string(64, 'a')))->status == 401);
      auto blocked = cli.Get("/v1/admin/donations", bearer("dnt_" + std::string(64, 'b')));
      REQUIRE(blocked);
      CHECK(blocked->status == 429);
      CHECK(!blocked->get_header_value("Retry-After").empty());
      CHECK(json::parse(blocked->body)["error"]["code"] == "too_many_failed_logins");
      // Guessing stops working for this client, even with the right token, until the window passes.
      CHECK(cli.Get("/v1/admin/donations", bearer(admin))->status == 429);
      fx.clock().advance_seconds(61);
      CHECK(cli.Get("/v1/admin/donations", bearer(admin))->status == 200);
      auto metrics = cli.Get("/metrics");
      REQUIRE(metrics);
      CHECK(metrics->body.find("donatio_admin_auth_failures_total 3") != std::string::npos);
    }
  }
}

TEST_CASE("a POST without Content-Length has an empty body, not one read until the client closes") {
  ServiceFixture fx(Backend::sqlite);
  const auto admin = fx.token("admin");
  RawHttpClient client(fx.port());
  REQUIRE(client.send("POST /v1/admin/donors/nobody@example.org/erase HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                      admin + "\r\nConnection: close\r\n\r\n"));
  std::string got;
  CHECK(client.closed_within(std::chrono::seconds(3), &got));
  CHECK(got.rfind("HTTP/1.1 404", 0) == 0);
  CHECK(got.find("donor_not_found") != std::string::npos);
}

TEST_CASE("answers are sent whole and at once: keep-alive, pipelined, and 100-continue before the body") {
  ServiceFixture fx(Backend::sqlite);
  RawHttpClient client(fx.port());
  const auto answers_in = [](const std::string& text) {
    std::size_t n = 0;
    for (auto at = text.find("HTTP/1.1 200"); at != std::string::npos; at = text.find("HTTP/1.1 200", at + 1)) ++n;
    return n;
  };
  std::string got;
  // The connection stays open, and the answer (head and body, which the server gathers into
  // one send) still arrives without the client doing anything more.
  REQUIRE(client.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  CHECK_FALSE(client.closed_within(std::chrono::milliseconds(500), &got));
  CHECK(answers_in(got) == 1);
  CHECK(got.find("\r\n\r\n") != std::string::npos);
  CHECK(got.substr(got.find("\r\n\r\n") + 4).find("\"status\"") != std::string::npos);
  // Two requests in one packet: two answers.
  got.clear();
  REQUIRE(client.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  CHECK_FALSE(client.closed_within(std::chrono::milliseconds(500), &got));
  CHECK(answers_in(got) == 2);
  // A client that waits for "100 Continue" before it sends its body gets it while the server
  // waits for the body (not held back until the final answer).
  got.clear();
  const std::string body = R"({"campaign":"none"})";
  REQUIRE(client.send("POST /v1/donations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nExpect: 100-continue\r\n"
                      "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n"));
  CHECK_FALSE(client.closed_within(std::chrono::milliseconds(500), &got));
  CHECK(got.rfind("HTTP/1.1 100 Continue\r\n\r\n", 0) == 0);
  got.clear();
  REQUIRE(client.send(body + "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  CHECK(client.closed_within(std::chrono::seconds(3), &got));
  CHECK(got.rfind("HTTP/1.1 400", 0) == 0);
  CHECK(answers_in(got) == 1);
}
