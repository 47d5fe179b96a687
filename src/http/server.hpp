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
