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

#include "donatio/status.hpp"

namespace donatio::http {

struct ConnectionLimits {
  std::chrono::milliseconds read_timeout{5000};      // one read
  std::chrono::milliseconds write_timeout{5000};     // one write
  std::chrono::milliseconds request_timeout{30000};  // a whole request, however it trickles
  std::chrono::milliseconds keep_alive_timeout{5000};
  std::size_t max_request_bytes = 128 * 1024;     // request line + headers + body on the wire
  int keep_alive_max_count = 100;
  int threads = 32;
  int backlog = 1024;
};

class ConnectionServer : public httplib::Server {
 public:
  // `tls` is the server's context (owned by the caller, outliving this) or null for plain HTTP.
  // `on_cut` is called (any thread) when a client is cut off for being too slow.
  ConnectionServer(ConnectionLimits limits, SSL_CTX* tls, std::function<void()> on_cut);
  ~ConnectionServer() override;

  // Binds host:port (port 0 = any free port) and listens; returns the bound port.
  Result<int> bind_and_listen(const std::string& host, int port);
  // Accepts and serves until stop(); returns when every connection has been closed.
  void run();
  void stop();
  bool running() const { return running_; }

 private:
  void serve(int fd);

  ConnectionLimits limits_;
  SSL_CTX* tls_;
  std::function<void()> on_cut_;
  int listen_fd_ = -1;
  int stop_fd_ = -1;  // eventfd: readable once stop() was called
  std::atomic<bool> running_{false};
  std::atomic<bool> stopping_{false};
};

}  // namespace donatio::http
