// The connection layer's fast lane on its own (ConnectionServer::set_fast_route, no service):
// replies that come later and from other threads, handlers that throw, and a stop() while a
// reply is still owed.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "src/http/connection_server.hpp"
#include "support/raw_http_client.hpp"

using donatio::http::ConnectionLimits;
using donatio::http::ConnectionServer;
using donatio::http::FastAnswer;
using donatio::http::FastReply;
using donatio::http::FastRequest;
using donatio::testing::RawHttpClient;
using donatio::testing::split_answers;
using std::chrono::milliseconds;

namespace {

std::string post(const std::string& body) {
  return "POST /lane HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

// A server with one fast route, /lane: the body says what its handler does.
class LaneServer {
 public:
  LaneServer() : server_(ConnectionLimits{}, nullptr, {}) {
    server_.set_fast_route("POST", "/lane", [this](FastRequest& req, FastReply reply) {
      if (req.body == "throw") throw std::runtime_error("handler failed");
      if (req.body == "reply-then-throw") {
        reply(FastAnswer{200, "Content-Type: text/plain\r\n", "replied"});
        throw std::runtime_error("handler failed after replying");
      }
      // Anything else: echoed from another thread, `later` after the handler returned.
      repliers_.emplace_back([reply = std::move(reply), body = req.body, later = milliseconds(later_ms_.load())] {
        std::this_thread::sleep_for(later);
        reply(FastAnswer{200, "Content-Type: text/plain\r\n", "echo:" + body});
      });
    }, "Content-Type: application/json; charset=utf-8\r\nX-Lane: its own 500\r\n");
    auto port = server_.bind_and_listen("127.0.0.1", 0);
    REQUIRE(port.ok());
    port_ = *port;
    runner_ = std::thread([this] { server_.run(); });
    for (int i = 0; i < 500 && !server_.running(); ++i) std::this_thread::sleep_for(milliseconds(2));
  }
  ~LaneServer() {
    stop();
    for (auto& t : repliers_) t.join();
  }
  void stop() {
    server_.stop();
    if (runner_.joinable()) runner_.join();
  }
  int port() const { return port_; }
  void reply_after(milliseconds later) { later_ms_ = later.count(); }

 private:
  ConnectionServer server_;
  int port_ = 0;
  std::atomic<long long> later_ms_{0};
  std::vector<std::thread> repliers_;  // touched only by the event loop's thread, joined after it
  std::thread runner_;
};

std::string body_of(const std::string& answer) { return answer.substr(answer.find("\r\n\r\n") + 4); }

}  // namespace

TEST_CASE("fast lane: later replies from other threads, and a throwing handler answered once with 500") {
  LaneServer lane;
  RawHttpClient client(lane.port());
  std::string got;
  REQUIRE(client.send(post("one")));
  REQUIRE(client.read_answers(1, milliseconds(3000), got));
  CHECK(got.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(body_of(got) == "echo:one");

  got.clear();
  REQUIRE(client.send(post("throw")));
  REQUIRE(client.read_answers(1, milliseconds(3000), got));
  CHECK(got.rfind("HTTP/1.1 500 Internal Server Error\r\n", 0) == 0);
  CHECK(got.find("\r\nX-Lane: its own 500\r\n") < got.find("\r\n\r\n"));
  CHECK(body_of(got).find("internal error") != std::string::npos);

  // Replied, then threw: the reply stands and nothing else is sent; the connection goes on.
  got.clear();
  REQUIRE(client.send(post("reply-then-throw") + post("two")));
  REQUIRE(client.read_answers(2, milliseconds(3000), got));
  const auto answers = split_answers(got);
  REQUIRE(answers.size() == 2);
  CHECK(body_of(answers[0]) == "replied");
  CHECK(body_of(answers[1]) == "echo:two");
}

TEST_CASE("fast lane: stop() with a reply still owed sends it before the connection closes") {
  LaneServer lane;
  lane.reply_after(milliseconds(300));
  RawHttpClient client(lane.port());
  REQUIRE(client.send(post("late")));
  std::this_thread::sleep_for(milliseconds(50));  // the request is with the handler
  const auto start = std::chrono::steady_clock::now();
  lane.stop();
  CHECK(std::chrono::steady_clock::now() - start >= milliseconds(200));
  std::string got;
  CHECK(client.closed_within(milliseconds(3000), &got));
  REQUIRE(split_answers(got).size() == 1);
  CHECK(body_of(got) == "echo:late");
  // The connection closes after it, and the answer says so.
  CHECK(got.find("\r\nConnection: close\r\n") != std::string::npos);
}
