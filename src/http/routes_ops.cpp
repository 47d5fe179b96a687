// Operations: /healthz (process up), /readyz (database + migrations), /metrics (Prometheus).
#include "src/http/context.hpp"
#include "src/http/errors.hpp"
#include "src/http/server.hpp"

namespace donatio::http {

void register_ops_routes(HttpServer& server, ServiceContext& ctx) {
  ctx.metrics.describe("donatio_sqlite_checkpoints_total", "counter",
                       "SQLite WAL checkpoints by the background checkpointer; full: the whole log was copied.");
  ctx.metrics.describe("donatio_sqlite_wal_restart_waits_total", "counter",
                       "Commits that waited for the checkpointer so the WAL could start over; timeout: in vain (a long reader).");
  ctx.metrics.describe("donatio_sqlite_write_transactions_total", "counter",
                       "SQLite write transactions (each commits or rolls back whole, also when it shares a commit).");
  ctx.metrics.describe("donatio_sqlite_write_commits_total", "counter",
                       "SQLite commits: write transactions that queued up meanwhile share one (group commit).");
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
    if (const auto ckpt = ctx.db.checkpoint_stats()) {
      auto count = [](std::uint64_t n) { return static_cast<std::int64_t>(n); };
      ctx.metrics.set_gauge("donatio_sqlite_checkpoints_total", "result=\"full\"", count(ckpt->full));
      ctx.metrics.set_gauge("donatio_sqlite_checkpoints_total", "result=\"partial\"", count(ckpt->checkpoints - ckpt->full));
      ctx.metrics.set_gauge("donatio_sqlite_wal_restart_waits_total", "result=\"caught_up\"",
                            count(ckpt->restart_waits - ckpt->wait_timeouts));
      ctx.metrics.set_gauge("donatio_sqlite_wal_restart_waits_total", "result=\"timeout\"", count(ckpt->wait_timeouts));
    }
    if (const auto groups = ctx.db.group_stats()) {
      ctx.metrics.set_gauge("donatio_sqlite_write_transactions_total", "", static_cast<std::int64_t>(groups->transactions));
      ctx.metrics.set_gauge("donatio_sqlite_write_commits_total", "", static_cast<std::int64_t>(groups->commits));
    }
    res.set_content(ctx.metrics.render(), "text/plain; version=0.0.4; charset=utf-8");
  });
}

}  // namespace donatio::http
