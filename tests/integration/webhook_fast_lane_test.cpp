// The connection layer's fast lane for POST /webhooks/stripe (ConnectionServer::set_fast_route):
// deliveries answered on the event loop, and everything the lane does not take — requests in
// pieces, other routes, oversized or odd requests — handed to httplib with the bytes already
// read, on the same connection, with the same answers.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <cctype>
#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "support/raw_http_client.hpp"
#include "support/service_fixture.hpp"
#include "support/webhook_client.hpp"
#include "webhooks/signature.hpp"

using namespace donatio::testing;
using nlohmann::json;
using std::chrono::milliseconds;

namespace {

// A signed delivery of payment_intent.succeeded for `pi`, as raw HTTP/1.1.
std::string delivery(ServiceFixture& fx, const std::string& event_id, const std::string& pi,
                     const std::string& extra_headers = "") {
  const std::string body = payment_intent_event(event_id, "payment_intent.succeeded", pi, 2500, "chf",
                                                {{"campaign", "lane"}}, fx.clock().now_unix(), "ch_" + pi);
  return "POST /webhooks/stripe HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json; charset=utf-8\r\n"
         "Stripe-Signature: " + donatio::webhooks::sign_header(ServiceFixture::kWebhookSecret, fx.clock().now_unix(), body) +
         "\r\n" + extra_headers + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

std::string body_of(const std::string& answer) { return answer.substr(answer.find("\r\n\r\n") + 4); }

bool has_header(const std::string& answer, const std::string& line) {
  return answer.substr(0, answer.find("\r\n\r\n") + 2).find("\r\n" + line + "\r\n") != std::string::npos;
}

// An answer's header lines, but those that differ by connection or request (X-Request-Id,
// Connection, Keep-Alive, Content-Length), names in lower case.
std::set<std::string> lasting_headers(const std::string& answer) {
  std::set<std::string> lines;
  const std::string head = answer.substr(0, answer.find("\r\n\r\n") + 2);
  for (std::size_t at = head.find("\r\n") + 2; at < head.size();) {
    const std::size_t end = head.find("\r\n", at);
    std::string line = head.substr(at, end - at);
    at = end + 2;
    const std::size_t colon = line.find(':');
    for (std::size_t i = 0; i < colon; ++i) {
      line[i] = static_cast<char>(std::tolower(static_cast<unsigned char>(line[i])));
    }
    const std::string name = line.substr(0, colon);
    if (name != "x-request-id" && name != "connection" && name != "keep-alive" && name != "content-length") {
      lines.insert(line);
    }
  }
  return lines;
}

long long succeeded(ServiceFixture& fx) {
  return count_rows(fx, "SELECT COUNT(*) FROM donations WHERE status = 'succeeded'");
}

}  // namespace

TEST_CASE("webhook fast lane: pipelined deliveries are answered in order, with the usual answer headers") {
  ServiceFixture fx(Backend::sqlite);
  fx.create_campaign("lane", "CHF");
  RawHttpClient client(fx.port());
  REQUIRE(client.send(delivery(fx, "evt_lane_1", "pi_lane_1", "X-Request-Id: lane-req-1\r\n") +
                      delivery(fx, "evt_lane_2", "pi_lane_2") + delivery(fx, "evt_lane_1", "pi_lane_1")));
  std::string got;
  REQUIRE(client.read_answers(3, milliseconds(5000), got));
  const auto answers = split_answers(got);
  REQUIRE(answers.size() == 3);
  for (const auto& answer : answers) CHECK(answer.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(json::parse(body_of(answers[0]))["outcome"] == "applied");
  CHECK(json::parse(body_of(answers[1]))["outcome"] == "applied");
  CHECK(json::parse(body_of(answers[2]))["outcome"] == "duplicate");
  CHECK(has_header(answers[0], "X-Request-Id: lane-req-1"));
  CHECK(answers[1].find("\r\nX-Request-Id: ") != std::string::npos);
  for (const char* line : {"X-Content-Type-Options: nosniff", "Referrer-Policy: no-referrer", "Cache-Control: no-store",
                           "Content-Type: application/json; charset=utf-8"}) {
    CHECK(has_header(answers[0], line));
  }
  CHECK_FALSE(has_header(answers[0], "Connection: close"));
  CHECK(succeeded(fx) == 2);
  // Counted like any request.
  auto metrics = fx.client().Get("/metrics");
  REQUIRE(metrics);
  CHECK(metrics->body.find("route=\"/webhooks/stripe\"") != std::string::npos);
}

TEST_CASE("webhook fast lane: a delivery that arrives in pieces, and other routes, are served by httplib on the same connection") {
  ServiceFixture fx(Backend::sqlite);
  fx.create_campaign("lane", "CHF");
  RawHttpClient client(fx.port());
  // A delivery first (the lane), then a health check (handed over with its bytes).
  REQUIRE(client.send(delivery(fx, "evt_piece_0", "pi_piece_0")));
  std::string got;
  REQUIRE(client.read_answers(1, milliseconds(5000), got));
  CHECK(got.rfind("HTTP/1.1 200", 0) == 0);
  const std::string from_lane = got;
  got.clear();
  REQUIRE(client.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  REQUIRE(client.read_answers(1, milliseconds(5000), got));
  CHECK(got.rfind("HTTP/1.1 200", 0) == 0);
  CHECK(body_of(got).find("\"status\"") != std::string::npos);
  // Then, on the worker that now has the connection, a delivery in two pieces.
  const std::string whole = delivery(fx, "evt_piece_1", "pi_piece_1");
  got.clear();
  REQUIRE(client.send(whole.substr(0, 100)));
  std::this_thread::sleep_for(milliseconds(200));
  REQUIRE(client.send(whole.substr(100)));
  REQUIRE(client.read_answers(1, milliseconds(5000), got));
  CHECK(got.rfind("HTTP/1.1 200", 0) == 0);
  CHECK(json::parse(body_of(got))["outcome"] == "applied");
  // httplib's answer to a delivery carries the same headers as the lane's.
  CHECK(lasting_headers(got) == lasting_headers(from_lane));
  CHECK(lasting_headers(got).count("x-content-type-options: nosniff") == 1);

  // On a fresh connection, the first delivery in pieces: the lane hands it over half-read.
  RawHttpClient second(fx.port());
  const std::string other = delivery(fx, "evt_piece_2", "pi_piece_2");
  got.clear();
  REQUIRE(second.send(other.substr(0, other.size() - 50)));
  std::this_thread::sleep_for(milliseconds(200));
  REQUIRE(second.send(other.substr(other.size() - 50) + delivery(fx, "evt_piece_3", "pi_piece_3")));
  REQUIRE(second.read_answers(2, milliseconds(5000), got));
  for (const auto& answer : split_answers(got)) CHECK(json::parse(body_of(answer))["outcome"] == "applied");
  CHECK(succeeded(fx) == 4);
}

TEST_CASE("webhook fast lane: Connection: close, the keep-alive limit and a client that stops sending end the connection after the answer") {
  ServiceFixture fx(Backend::sqlite, FixtureOptions{.configure = [](donatio::Config& c) {
                                       c.server.keep_alive_max_count = 2;
                                     }});
  fx.create_campaign("lane", "CHF");
  {
    RawHttpClient client(fx.port());
    REQUIRE(client.send(delivery(fx, "evt_close_1", "pi_close_1", "Connection: close\r\n")));
    std::string got;
    CHECK(client.closed_within(milliseconds(5000), &got));
    REQUIRE(split_answers(got).size() == 1);
    CHECK(has_header(got, "Connection: close"));
  }
  {
    RawHttpClient client(fx.port());
    REQUIRE(client.send(delivery(fx, "evt_limit_1", "pi_limit_1")));
    std::string got;
    REQUIRE(client.read_answers(1, milliseconds(5000), got));
    CHECK_FALSE(has_header(got, "Connection: close"));
    got.clear();
    REQUIRE(client.send(delivery(fx, "evt_limit_2", "pi_limit_2")));
    CHECK(client.closed_within(milliseconds(5000), &got));
    REQUIRE(split_answers(got).size() == 1);
    CHECK(has_header(got, "Connection: close"));
  }
  {
    // The client sends its delivery and closes its side at once: still answered, then closed.
    RawHttpClient client(fx.port());
    REQUIRE(client.send(delivery(fx, "evt_half_1", "pi_half_1")));
    client.finish_sending();
    std::string got;
    CHECK(client.closed_within(milliseconds(5000), &got));
    REQUIRE(split_answers(got).size() == 1);
    CHECK(got.rfind("HTTP/1.1 200", 0) == 0);
  }
  CHECK(succeeded(fx) == 4);
}

TEST_CASE("webhook fast lane: what it does not take gets httplib's answers (413, too many headers, 100-continue, bad signature)") {
  ServiceFixture fx(Backend::sqlite, FixtureOptions{.configure = [](donatio::Config& c) {
                                       c.server.max_body_bytes = 8192;
                                       c.server.max_header_count = 12;
                                     }});
  fx.create_campaign("lane", "CHF");
  {
    RawHttpClient client(fx.port());
    REQUIRE(client.send("POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\nStripe-Signature: t=1,v1=00\r\nContent-Length: 9000\r\n\r\n" +
                        std::string(9000, ' ')));
    std::string got;
    REQUIRE(client.read_answers(1, milliseconds(5000), got));
    CHECK(got.rfind("HTTP/1.1 413", 0) == 0);
  }
  {
    RawHttpClient client(fx.port());
    std::string many;
    for (int i = 0; i < 9; ++i) many += "X-Extra-" + std::to_string(i) + ": 1\r\n";
    REQUIRE(client.send(delivery(fx, "evt_many", "pi_many", many)));
    std::string got;
    REQUIRE(client.read_answers(1, milliseconds(5000), got));
    CHECK(got.rfind("HTTP/1.1 400", 0) == 0);
    CHECK(body_of(got).find("too_many_headers") != std::string::npos);
  }
  {
    RawHttpClient client(fx.port());
    const std::string whole = delivery(fx, "evt_continue", "pi_continue", "Expect: 100-continue\r\n");
    const std::size_t body_at = whole.find("\r\n\r\n") + 4;
    REQUIRE(client.send(whole.substr(0, body_at)));
    std::string got;
    REQUIRE_FALSE(client.closed_within(milliseconds(500), &got));
    CHECK(got.rfind("HTTP/1.1 100 Continue\r\n\r\n", 0) == 0);
    got.clear();
    REQUIRE(client.send(whole.substr(body_at)));
    REQUIRE(client.read_answers(1, milliseconds(5000), got));
    CHECK(got.rfind("HTTP/1.1 200", 0) == 0);
  }
  {
    // Refused on the lane itself: same error shape and status as through httplib.
    RawHttpClient client(fx.port());
    std::string bad = delivery(fx, "evt_bad", "pi_bad");
    const std::size_t v1 = bad.find("v1=") + 3;
    bad[v1] = bad[v1] == '0' ? '1' : '0';
    REQUIRE(client.send(bad));
    std::string got;
    REQUIRE(client.read_answers(1, milliseconds(5000), got));
    CHECK(got.rfind("HTTP/1.1 400 Bad Request\r\n", 0) == 0);
    CHECK(json::parse(body_of(got))["error"]["code"] == "invalid_signature");
  }
  CHECK(succeeded(fx) == 1);
}
