#include "src/http/server.hpp"

#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

#include <fstream>
#include <future>
#include <memory>
#include <utility>

#include "src/http/errors.hpp"
#include "src/http/request_context.hpp"

namespace donatio::http {
namespace {

bool valid_request_id(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
          c == '_' || c == '.')) {
      return false;
    }
  }
  return true;
}

bool is_json_content_type(const std::string& value) {
  // "application/json" with optional parameters (charset=utf-8).
  std::string type = value.substr(0, value.find(';'));
  while (!type.empty() && type.back() == ' ') type.pop_back();
  for (auto& c : type) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return type == "application/json";
}

// One access-log line, for answers from httplib and from the fast lane alike.
void log_access(const std::string& method, const std::string& path, int status, std::size_t body_bytes, double seconds,
                const std::string& route, const std::string& client) {
  if (!spdlog::should_log(spdlog::level::info)) return;
  spdlog::info("{} {} {} {}B {:.3f}ms route={} client={}", method, path, status, body_bytes, seconds * 1000.0, route,
               client);
}

// The headers every answer carries, whichever way it is served: through httplib (install_hooks)
// or on the fast lane (post_async). `add(name, value)` is called once per header.
template <typename Add>
void add_standard_headers(bool tls, bool cacheable, Add&& add) {
  add("X-Content-Type-Options", "nosniff");
  add("Referrer-Policy", "no-referrer");
  if (tls) add("Strict-Transport-Security", "max-age=63072000; includeSubDomains");
  if (!cacheable) add("Cache-Control", "no-store");
}

bool readable(const std::string& path) {
  std::ifstream in(path);
  return static_cast<bool>(in);
}

}  // namespace

bool origin_allowed(const httplib::Request& req, const std::vector<std::string>& allowed) {
  const std::string origin = req.get_header_value("Origin");
  if (origin.empty()) return false;
  for (const auto& a : allowed) {
    if (a == origin) return true;
  }
  return false;
}

HttpServer::HttpServer(const ServerConfig& config, Metrics& metrics) : config_(config), metrics_(metrics) {}

HttpServer::~HttpServer() { stop(); }

Status HttpServer::init() {
  SSL_CTX* tls = nullptr;
  if (config_.tls) {
    if (!readable(config_.tls_cert)) {
      return Status::InvalidArgument("server.tls_cert", "server.tls_cert: cannot read " + config_.tls_cert, "invalid_config");
    }
    if (!readable(config_.tls_key)) {
      return Status::InvalidArgument("server.tls_key", "server.tls_key: cannot read " + config_.tls_key, "invalid_config");
    }
    tls_.reset(SSL_CTX_new(TLS_server_method()));
    tls = tls_.get();
    if (tls == nullptr) return Status::Internal("TLS setup failed");
    SSL_CTX_set_min_proto_version(tls, TLS1_2_VERSION);
    SSL_CTX_set_options(tls, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    // TLS 1.2: forward secrecy and AEAD only (TLS 1.3's suites are all of that kind).
    SSL_CTX_set_cipher_list(tls, "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!eNULL:!MD5:!RC4:!3DES:!SHA1");
    if (SSL_CTX_use_certificate_chain_file(tls, config_.tls_cert.c_str()) != 1) {
      return Status::InvalidArgument("server.tls_cert", "server.tls_cert: not a PEM certificate: " + config_.tls_cert,
                                     "invalid_config");
    }
    if (SSL_CTX_use_PrivateKey_file(tls, config_.tls_key.c_str(), SSL_FILETYPE_PEM) != 1) {
      return Status::InvalidArgument("server.tls_key", "server.tls_key: not a PEM private key: " + config_.tls_key,
                                     "invalid_config");
    }
    if (SSL_CTX_check_private_key(tls) != 1) {
      return Status::InvalidArgument("server.tls_key", "server.tls_key: does not match server.tls_cert", "invalid_config");
    }
  }
  ConnectionLimits limits;
  limits.read_timeout = std::chrono::milliseconds(config_.read_timeout_ms);
  limits.write_timeout = std::chrono::milliseconds(config_.write_timeout_ms);
  limits.request_timeout = std::chrono::milliseconds(config_.request_timeout_ms);
  limits.keep_alive_max_count = config_.keep_alive_max_count;
  // The body limit answers 413 itself (httplib checks Content-Length); this bounds everything
  // else a client could stream at us: header lines, chunked bodies.
  limits.max_request_bytes = static_cast<std::size_t>(config_.max_body_bytes) + 64 * 1024 +
                             static_cast<std::size_t>(config_.max_header_count) * 8192;
  limits.max_header_count = config_.max_header_count;
  limits.threads = config_.threads;
  Metrics& metrics = metrics_;
  metrics.describe("donatio_http_slow_clients_total", "counter",
                   "Connections closed because a request did not arrive within server.request_timeout_ms");
  server_ = std::make_unique<ConnectionServer>(limits, tls, [&metrics] {
    metrics.increment("donatio_http_slow_clients_total");
    spdlog::warn("a client was cut off: its request did not arrive within server.request_timeout_ms");
  });
  server_->set_payload_max_length(static_cast<std::size_t>(config_.max_body_bytes));
  install_hooks();
  return Status::Ok();
}

void HttpServer::install_hooks() {
  const ServerConfig& config = config_;
  server_->set_pre_routing_handler([&config](const httplib::Request& req, httplib::Response& res) {
    RequestScope& scope = current_request();
    scope.start = std::chrono::steady_clock::now();
    scope.route = "unmatched";
    scope.metrics_recorded = false;
    std::string id = req.get_header_value("X-Request-Id");
    scope.request_id = valid_request_id(id) ? std::move(id) : id_hex(12);
    res.set_header("X-Request-Id", scope.request_id);
    // Only the public campaign pages and the health check may be cached; everything else carries
    // donor data, tokens' results or client secrets, errors included.
    const bool cacheable = req.path.rfind("/v1/campaigns", 0) == 0 || req.path == "/healthz";
    add_standard_headers(config.tls, cacheable,
                         [&res](const char* name, const char* value) { res.set_header(name, value); });
    if (static_cast<int>(req.headers.size()) > config.max_header_count) {
      scope.route = "rejected";
      send_error(res, Status(StatusCode::invalid_argument, "too_many_headers", "too many request headers"));
      res.set_header("Connection", "close");
      return httplib::Server::HandlerResponse::Handled;
    }
    const bool is_public = req.path.rfind("/v1/campaigns", 0) == 0 || req.path.rfind("/v1/donations", 0) == 0;
    if (is_public && origin_allowed(req, config.allowed_origins)) {
      res.set_header("Access-Control-Allow-Origin", req.get_header_value("Origin"));
      res.set_header("Vary", "Origin");
    }
    if (req.method == "OPTIONS") {
      scope.route = "preflight";
      if (is_public && origin_allowed(req, config.allowed_origins)) {
        res.set_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
        res.set_header("Access-Control-Allow-Headers", "Content-Type, Idempotency-Key, X-Request-Id");
        res.set_header("Access-Control-Max-Age", "600");
        res.status = 204;
      } else {
        send_error(res, Status(StatusCode::permission_denied, "origin_not_allowed", "this origin may not call this API"));
      }
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });

  // Answers httplib produced itself (404 for unknown paths, 413, 400 for a malformed request)
  // get the JSON error shape. Our own handlers always set a body, so they are left alone.
  server_->set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    switch (res.status) {
      case 404: send_error(res, Status::NotFound("no such resource")); break;
      case 405: send_error(res, Status(StatusCode::invalid_argument, "method_not_allowed", "method not allowed")); res.status = 405; break;
      case 413: send_error(res, Status(StatusCode::payload_too_large, "payload_too_large", "request body is too large")); break;
      case 414: send_json(res, 414, error_json(Status(StatusCode::invalid_argument, "uri_too_long", "request URI is too long"))); break;
      default: {
        const int status = res.status;
        send_error(res, Status(StatusCode::invalid_argument, "bad_request", "malformed request"));
        res.status = status;
      }
    }
    return httplib::Server::HandlerResponse::Handled;
  }));

  server_->set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      spdlog::error("unhandled exception: {}", e.what());
    } catch (...) {
      spdlog::error("unhandled non-standard exception");
    }
    send_error(res, Status::Internal("internal error"));
  });

  Metrics& metrics = metrics_;
  server_->set_logger([&metrics](const httplib::Request& req, const httplib::Response& res) {
    RequestScope& scope = current_request();
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - scope.start).count();
    if (!scope.metrics_recorded) metrics.observe_request(req.method, scope.route, res.status, seconds);
    log_access(req.method, req.path, res.status, res.body.size(), seconds, scope.route, req.remote_addr);
    scope.request_id.clear();
  });
}

Handler HttpServer::wrap(const std::string& route, Handler handler, bool needs_json_body) {
  Metrics& metrics = metrics_;
  return [route, handler = std::move(handler), needs_json_body, &metrics](const httplib::Request& req,
                                                                           httplib::Response& res) {
    RequestScope& scope = current_request();
    scope.route = route;
    // An empty body needs no type (e.g. POST …/resend); anything else must say it is JSON.
    if (needs_json_body && !req.body.empty() && !is_json_content_type(req.get_header_value("Content-Type"))) {
      send_error(res, Status(StatusCode::unsupported_media, "unsupported_media_type",
                             "Content-Type must be application/json"));
    } else {
      handler(req, res);
    }
    // Recorded before the answer goes out, so a client that reads /metrics next sees it.
    metrics.observe_request(req.method, route, res.status == -1 ? 200 : res.status,
                            std::chrono::duration<double>(std::chrono::steady_clock::now() - scope.start).count());
    scope.metrics_recorded = true;
  };
}

void HttpServer::get(const std::string& pattern, const std::string& route, Handler handler) {
  server_->Get(pattern, wrap(route, std::move(handler), false));
}
void HttpServer::post(const std::string& pattern, const std::string& route, Handler handler) {
  // Webhooks carry Stripe's own content type and are checked by signature, not here.
  const bool json = route.rfind("/webhooks/", 0) != 0;
  server_->Post(pattern, wrap(route, std::move(handler), json));
}
void HttpServer::patch(const std::string& pattern, const std::string& route, Handler handler) {
  server_->Patch(pattern, wrap(route, std::move(handler), true));
}
void HttpServer::del(const std::string& pattern, const std::string& route, Handler handler) {
  server_->Delete(pattern, wrap(route, std::move(handler), false));
}

std::string AsyncRequest::header(const std::string& name) const {
  if (fast != nullptr) return std::string(fast->header(name));
  return threaded != nullptr ? threaded->get_header_value(name) : std::string();
}

void HttpServer::post_async(const std::string& path, const std::string& route, AsyncHandler handler) {
  // Through httplib: a worker waits for the reply.
  post(path, route, [handler](const httplib::Request& req, httplib::Response& res) {
    AsyncRequest request{req.body, nullptr, &req};
    auto answer = std::make_shared<std::promise<std::pair<int, std::string>>>();
    auto answered = answer->get_future();
    handler(request, [answer](int status, std::string json) { answer->set_value({status, std::move(json)}); });
    auto [status, json] = answered.get();
    send_json(res, status, json);
  });
  // The fast lane: the answer headers install_hooks gives a POST to this path (the standard
  // ones, not cacheable; no CORS, which install_hooks adds to /v1/campaigns and /v1/donations
  // only), the same metrics and access log. Its own 500 for a handler that throws: the same.
  Metrics& metrics = metrics_;
  std::string fixed = "Content-Type: application/json; charset=utf-8\r\n";
  add_standard_headers(config_.tls, false, [&fixed](const char* name, const char* value) {
    fixed.append(name).append(": ").append(value).append("\r\n");
  });
  server_->set_fast_route(
      "POST", path,
      [handler, path, route, &metrics, fixed](FastRequest& req, FastReply reply) {
        RequestScope& scope = current_request();
        const auto start = std::chrono::steady_clock::now();
        std::string id(req.header("X-Request-Id"));
        if (!valid_request_id(id)) id = id_hex(12);
        scope.request_id = id;
        std::string head = fixed + "X-Request-Id: " + id + "\r\n";
        AsyncRequest request{std::move(req.body), &req, nullptr};
        handler(request, [reply = std::move(reply), head = std::move(head), id, path, route, start, &metrics,
                          client = std::move(req.remote_addr)](int status, std::string json) {
          const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
          metrics.observe_request("POST", route, status, seconds);
          // The answer thread's log lines carry this request's id while it logs the access.
          RequestScope& here = current_request();
          here.request_id = id;
          log_access("POST", path, status, json.size(), seconds, route, client);
          here.request_id.clear();
          reply(FastAnswer{status, head, std::move(json)});
        });
        scope.request_id.clear();
      },
      fixed);
}

Result<int> HttpServer::bind() { return server_->bind_and_listen(config_.host, config_.port); }

void HttpServer::run() { server_->run(); }

void HttpServer::stop() {
  if (server_) server_->stop();
}

bool HttpServer::is_running() const { return server_ && server_->running(); }

}  // namespace donatio::http
