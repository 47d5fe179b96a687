// HttpServer: cpp-httplib set up the way a payments service needs it — TLS 1.2+ (or plain HTTP
// behind a proxy), TCP_NODELAY, a sized worker pool, a real listen backlog, body and header
// limits, read/write timeouts and a whole-request deadline (ConnectionServer), X-Request-Id on every answer, security headers, CORS for the
// configured origins, an access log and request metrics, JSON errors for everything httplib
// rejects itself, and a graceful stop. Routes are registered before `bind()`.
// Thread-safety: register routes from one thread; `stop()` may be called from any thread.
#pragma once

#include <httplib.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "donatio/config.hpp"
#include "donatio/status.hpp"
#include "src/http/connection_server.hpp"
#include "src/http/metrics.hpp"

namespace donatio::http {

using Handler = std::function<void(const httplib::Request&, httplib::Response&)>;

// A request whose handler may answer after it has returned (see HttpServer::post_async).
struct AsyncRequest {
  std::string body;  // the handler may move it out
  const FastRequest* fast = nullptr;        // one of the two is set
  const httplib::Request* threaded = nullptr;

  // The first value of the header `name` (case-insensitive), or empty. Valid only while the
  // handler runs.
  std::string header(const std::string& name) const;
};
// The answer: a status and a JSON body. Call exactly once, from any thread.
using JsonReply = std::function<void(int status, std::string json)>;
using AsyncHandler = std::function<void(AsyncRequest&, JsonReply)>;

class HttpServer {
 public:
  HttpServer(const ServerConfig& config, Metrics& metrics);
  ~HttpServer();

  // Creates the (TLS) server; fails with a one-line message when the certificate or key
  // cannot be read or do not match.
  Status init();

  // `route` is the metrics/log label (the pattern, e.g. "/v1/campaigns/{slug}").
  void get(const std::string& pattern, const std::string& route, Handler handler);
  void post(const std::string& pattern, const std::string& route, Handler handler);
  void patch(const std::string& pattern, const std::string& route, Handler handler);
  void del(const std::string& pattern, const std::string& route, Handler handler);
  // POST to exactly `path`, answered by a handler that may reply after it returns (e.g. once a
  // commit is durable). On plain HTTP, requests that arrive whole take the connection layer's
  // fast lane (ConnectionServer::set_fast_route): no worker thread waits for the answer. All
  // others go through httplib like any route, a worker waiting for the reply. Both paths give
  // the same answer headers (X-Request-Id, security headers, no-store), metrics and access log.
  // One such route per server.
  void post_async(const std::string& path, const std::string& route, AsyncHandler handler);

  // Binds host:port from the config (port 0 = any free port); returns the bound port.
  Result<int> bind();
  // Serves until stop(); returns when every worker has finished.
  void run();
  void stop();
  bool is_running() const;

 private:
  Handler wrap(const std::string& route, Handler handler, bool needs_json_body);
  void install_hooks();

  const ServerConfig& config_;
  Metrics& metrics_;
  struct FreeSslCtx {
    void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
  };
  std::unique_ptr<SSL_CTX, FreeSslCtx> tls_;  // outlives server_ (declared first)
  std::unique_ptr<ConnectionServer> server_;
};

// True when the request's Origin is one of `allowed` (exact match).
bool origin_allowed(const httplib::Request& req, const std::vector<std::string>& allowed);

}  // namespace donatio::http
