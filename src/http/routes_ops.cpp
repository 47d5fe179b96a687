// Operations: /healthz (process up), /readyz (database + migrations), /metrics (Prometheus).
#include "src/http/context.hpp"
#include "src/http/errors.hpp"
#include "src/http/server.hpp"

namespace donatio::http {

void register_ops_routes(HttpServer& server, ServiceContext& ctx) {
  server.get("/healthz", "/healthz", [](const httplib::Request&, httplib::Response& res) {
    send_json(res, 200, R"({"status":"ok"})");
  });
  server.get("/readyz", "/readyz", [&ctx](const httplib::Request&, httplib::Response& res) {
    Status s = ctx.db.check_ready();
    if (!s.ok()) {
      send_json(res, 503, error_json(Status(StatusCode::unavailable, s.error_code().empty() ? "not_ready" : s.error_code(),
                                            s.message())));
      return;
    }
    send_json(res, 200, R"({"status":"ready"})");
  });
  server.get("/metrics", "/metrics", [&ctx](const httplib::Request&, httplib::Response& res) {
    res.set_content(ctx.metrics.render(), "text/plain; version=0.0.4; charset=utf-8");
  });
}

}  // namespace donatio::http
