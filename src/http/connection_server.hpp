// ConnectionServer: the connection layer under cpp-httplib. httplib parses requests, routes them
// and writes the answers (`process_request`); this class owns what is below that: the listening
// socket, accepting, TLS, keep-alive and, above all, the deadlines.
//
// Why not httplib's own loop: its read timeout applies to each read, so a client that trickles
// its request a byte every few seconds holds a worker thread for as long as it likes, and
// cpp-httplib 0.11 gives no hook on accepted sockets. Here every request (TLS handshake, request
// line, headers and body) must arrive within `request_timeout` in total, and each read or write
// still has its own timeout. The handler's own run time and the answer it streams are not bound
// by `request_timeout` (a long CSV export is fine); writes are bound per write.
//
// Thread-safety: `bind`, then `run` on one thread; `stop` from any thread.
#pragma once

#include <httplib.h>
#include <openssl/ssl.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "donatio/status.hpp"

namespace donatio::http {

// A request answered on the connection layer's event loop (see set_fast_route).
struct FastRequest {
  std::string_view method;
  std::string_view target;
  // As sent, in order. Views into the connection's buffer: valid while the handler runs.
  std::vector<std::pair<std::string_view, std::string_view>> headers;
  std::string body;
  std::string remote_addr;

  // The value of the first header called `name` (ASCII case-insensitive), or empty.
  std::string_view header(std::string_view name) const;
};

struct FastAnswer {
  int status = 200;
  std::string head;  // header lines, each ending "\r\n"; not Content-Length or Connection
  std::string body;
};

// Gets the answer to one fast request: call exactly once, from any thread, at any time.
using FastReply = std::function<void(FastAnswer)>;
using FastHandler = std::function<void(FastRequest&, FastReply)>;

struct ConnectionLimits {
  std::chrono::milliseconds read_timeout{5000};      // one read
  std::chrono::milliseconds write_timeout{5000};     // one write
  std::chrono::milliseconds request_timeout{30000};  // a whole request, however it trickles
  std::chrono::milliseconds keep_alive_timeout{5000};
  std::size_t max_request_bytes = 128 * 1024;     // request line + headers + body on the wire
  int keep_alive_max_count = 100;
  int max_header_count = 64;   // the fast lane hands anything with more to httplib
  int threads = 32;
  int backlog = 1024;
};

class ConnectionServer : public httplib::Server {
 public:
  // `tls` is the server's context (owned by the caller, outliving this) or null for plain HTTP.
  // `on_cut` is called (any thread) when a client is cut off for being too slow.
  ConnectionServer(ConnectionLimits limits, SSL_CTX* tls, std::function<void()> on_cut);
  ~ConnectionServer() override;

  // The fast lane. On a plain-HTTP server, requests for `method` `path` (exactly: no query)
  // that arrive whole — one simple HTTP/1.1 request with a Content-Length body and nothing
  // unusual (no Expect, no Transfer-Encoding, no header line over 8 KiB, at most
  // max_header_count headers) — go to `handler` on the server's event loop instead of a worker
  // thread; the loop sends its answer when it comes, which may be long after the handler has
  // returned. Idle keep-alive connections wait on the loop too. Anything else on a connection
  // (another path, a request that arrives in pieces, pipelined requests the lane does not take)
  // hands the connection, with the bytes already read, to a worker thread and httplib for the
  // rest of its life, under the same limits as any other. Set before run(); not used with TLS.
  // `error_head` is the header lines (each ending "\r\n", not Content-Length or Connection) of
  // the 500 the lane answers itself when `handler` throws before replying.
  void set_fast_route(
      std::string method, std::string path, FastHandler handler,
      std::string error_head = "Content-Type: application/json; charset=utf-8\r\nCache-Control: no-store\r\n");

  // Binds host:port (port 0 = any free port) and listens; returns the bound port.
  Result<int> bind_and_listen(const std::string& host, int port);
  // Accepts and serves until stop(); returns when every connection has been closed.
  void run();
  void stop();
  bool running() const { return running_; }

 private:
  // Serves a connection on this (worker) thread until it closes. `read` holds bytes already
  // received from it; `served` requests were answered on it before (counted for keep-alive).
  void serve(int fd, std::string read = {}, int served = 0);
  void run_event_loop(httplib::ThreadPool& pool);

  ConnectionLimits limits_;
  SSL_CTX* tls_;
  std::function<void()> on_cut_;
  std::string fast_method_;
  std::string fast_path_;
  FastHandler fast_handler_;
  std::string fast_error_head_;
  int listen_fd_ = -1;
  int stop_fd_ = -1;  // eventfd: readable once stop() was called
  std::atomic<bool> running_{false};
  std::atomic<bool> stopping_{false};
};

}  // namespace donatio::http
