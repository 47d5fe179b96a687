// Finance report routes (role finance): GET /v1/admin/reports/summary, the streamed CSV export
// GET /v1/admin/reports/donations and GET /v1/admin/reconciliation. Thin: read the period and
// format, call src/reports/, map Status → HTTP.
#include <spdlog/spdlog.h>

#include <memory>
#include <optional>

#include "donatio/clock.hpp"
#include "src/http/context.hpp"
#include "src/http/errors.hpp"
#include "src/http/server.hpp"
#include "src/reports/donation_export.hpp"
#include "src/reports/period.hpp"
#include "src/reports/reconciliation_source.hpp"
#include "src/reports/summary.hpp"

namespace donatio::http {
namespace {

constexpr const char* kCsvType = "text/csv; charset=utf-8";

std::optional<std::string> query(const httplib::Request& req, const char* name) {
  if (!req.has_param(name)) return std::nullopt;
  return req.get_param_value(name);
}

// Reads from/to/format; on bad input writes the 400 and returns nullopt.
std::optional<std::pair<reports::ReportPeriod, std::string>> read_report_query(
    const httplib::Request& req, httplib::Response& res, std::initializer_list<const char*> formats, const char* fallback) {
  auto period = reports::parse_period(query(req, "from"), query(req, "to"));
  if (!period.ok()) {
    send_error(res, period.status());
    return std::nullopt;
  }
  auto format = reports::parse_format(query(req, "format"), formats, fallback);
  if (!format.ok()) {
    send_error(res, format.status());
    return std::nullopt;
  }
  return std::make_pair(*period, *format);
}

std::string attachment_name(const char* what, const reports::ReportPeriod& p) {
  return std::string("attachment; filename=\"") + what + "-" + format_iso8601(p.from).substr(0, 10) + "-" +
         format_iso8601(p.to).substr(0, 10) + ".csv\"";
}

// The state of one streamed export; owned by the content provider, which runs after the
// handler has returned (so nothing here refers to the request).
struct ExportStream {
  ExportStream(store::Database& db, reports::ReportPeriod period) : export_(db, period) {}
  reports::DonationExport export_;
  bool header_sent = false;
  std::string buffer;
};

}  // namespace

void register_report_routes(HttpServer& server, ServiceContext& ctx) {
  server.get("/v1/admin/reports/summary", "/v1/admin/reports/summary",
             [&ctx](const httplib::Request& req, httplib::Response& res) {
    if (!require_role(ctx, req, res, "finance")) return;
    auto q = read_report_query(req, res, {"json", "csv"}, "json");
    if (!q) return;
    auto summary = reports::load_summary(ctx.db, q->first);
    if (!summary.ok()) return send_error(res, summary.status());
    if (q->second == "csv") {
      res.set_header("Content-Disposition", attachment_name("summary", q->first));
      res.set_content(reports::summary_csv(*summary), kCsvType);
      return;
    }
    send_json(res, 200, reports::summary_json(*summary));
  });

  server.get("/v1/admin/reports/donations", "/v1/admin/reports/donations",
             [&ctx](const httplib::Request& req, httplib::Response& res) {
    if (!require_role(ctx, req, res, "finance")) return;
    auto q = read_report_query(req, res, {"csv"}, "csv");
    if (!q) return;
    // Stream: one keyset page per provider call, each on its own leased session. A database
    // error after the first bytes cannot change the status any more: the stream is cut short
    // (no final chunk), which a client sees as an incomplete transfer, never as a complete file.
    auto stream = std::make_shared<ExportStream>(ctx.db, q->first);
    res.set_header("Content-Disposition", attachment_name("donations", q->first));
    res.set_chunked_content_provider(kCsvType, [stream](std::size_t, httplib::DataSink& sink) {
      stream->buffer.clear();
      if (!stream->header_sent) {
        stream->buffer = reports::DonationExport::header_line();
        stream->header_sent = true;
      }
      auto rows = stream->export_.next_page(stream->buffer);
      if (!rows.ok()) {
        spdlog::error("donation export stopped: {}", rows.status().message());
        return false;
      }
      if (!stream->buffer.empty() && !sink.write(stream->buffer.data(), stream->buffer.size())) return false;
      if (stream->export_.finished()) sink.done();
      return true;
    });
  });

  server.get("/v1/admin/reconciliation", "/v1/admin/reconciliation",
             [&ctx](const httplib::Request& req, httplib::Response& res) {
    if (!require_role(ctx, req, res, "finance")) return;
    auto q = read_report_query(req, res, {"json", "csv"}, "json");
    if (!q) return;
    if (!ctx.gateway) {
      return send_error(res, Status(StatusCode::provider_unavailable, "provider_unavailable",
                                    "no payment provider is configured, so there is nothing to reconcile against"));
    }
    auto report = reports::run_reconciliation(ctx.db, *ctx.gateway, q->first);
    if (!report.ok()) return send_error(res, report.status());
    if (q->second == "csv") {
      res.set_header("Content-Disposition", attachment_name("reconciliation", q->first));
      res.set_content(reports::reconciliation_csv(*report), kCsvType);
      return;
    }
    send_json(res, 200, reports::reconciliation_json(*report));
  });
}

}  // namespace donatio::http
