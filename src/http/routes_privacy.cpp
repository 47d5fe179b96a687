// Admin routes for trust and privacy: GET /v1/admin/audit (the append-only audit log),
// GET /v1/admin/donors/{email}/export and POST /v1/admin/donors/{email}/erase. All admin-only.
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "donatio/clock.hpp"
#include "src/http/context.hpp"
#include "src/http/errors.hpp"
#include "src/http/page_query.hpp"
#include "src/http/request_context.hpp"
#include "src/http/server.hpp"
#include "src/privacy/donor_privacy.hpp"
#include "src/store/audit_log.hpp"

namespace donatio::http {
namespace {

// Reads from/to/limit/cursor (the cursor's key is the audit row id).
Result<store::AuditFilter> read_audit_query(const httplib::Request& req) {
  auto query = read_page_query(req, {.max_limit = 1000, .key_chars = "0123456789", .max_key_length = 18});
  if (!query.ok()) return query.status();
  store::AuditFilter filter;
  filter.from = query->from;
  filter.to = query->to;
  if (query->limit) filter.limit = *query->limit;
  if (query->after) filter.after = std::make_pair(query->after->first, std::stoll(query->after->second));
  return filter;
}

nlohmann::json audit_json(const store::AuditRecord& r) {
  auto details = nlohmann::json::parse(r.entry.details, nullptr, false);
  return {{"id", r.id},
          {"actor", r.entry.actor},
          {"action", r.entry.action},
          {"target", r.entry.target},
          {"details", details.is_discarded() ? nlohmann::json(r.entry.details) : details},
          {"request_id", r.entry.request_id.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.entry.request_id)},
          {"created_at", format_iso8601(r.created_at)}};
}

}  // namespace

void register_privacy_routes(HttpServer& server, ServiceContext& ctx) {
  server.get("/v1/admin/audit", "/v1/admin/audit", [&ctx](const httplib::Request& req, httplib::Response& res) {
    if (!require_role(ctx, req, res, "admin")) return;
    auto filter = read_audit_query(req);
    if (!filter.ok()) return send_error(res, filter.status());
    const int page_size = filter->limit;
    filter->limit = page_size + 1;
    auto page = store::list_audit(ctx.db, *filter);
    if (!page.ok()) return send_error(res, page.status());
    const auto next = finish_page(*page, page_size, [](const store::AuditRecord& r) {
      return std::to_string(r.created_at) + "." + std::to_string(r.id);
    });
    nlohmann::json data = nlohmann::json::array();
    for (const auto& r : *page) data.push_back(audit_json(r));
    send_json(
        res, 200,
        nlohmann::json{{"data", std::move(data)}, {"next_cursor", next ? nlohmann::json(*next) : nullptr}}.dump());
  });

  server.get(R"(/v1/admin/donors/([^/]{1,254})/export)", "/v1/admin/donors/{email}/export",
             [&ctx](const httplib::Request& req, httplib::Response& res) {
    if (!require_role(ctx, req, res, "admin")) return;
    auto data = privacy::export_donor(ctx.db, req.matches[1], ctx.clock.now_unix());
    if (!data.ok()) return send_error(res, data.status());
    res.set_header("Content-Disposition", "attachment; filename=\"donor-export.json\"");
    send_json(res, 200, data->dump());
  });

  server.post(R"(/v1/admin/donors/([^/]{1,254})/erase)", "/v1/admin/donors/{email}/erase",
              [&ctx](const httplib::Request& req, httplib::Response& res) {
    auto who = require_role(ctx, req, res, "admin");
    if (!who) return;
    auto erased = privacy::erase_donor(ctx.db, req.matches[1], {who->token_name, current_request().request_id},
                                       ctx.clock.now_unix());
    if (!erased.ok()) return send_error(res, erased.status());
    spdlog::info("donor erased by {}: {} donations, {} events now carry {}", who->token_name, erased->donations,
                 erased->events, erased->pseudonym);
    send_json(res, 200, nlohmann::json{{"pseudonym", erased->pseudonym},
                                       {"donations", erased->donations},
                                       {"stripe_events", erased->events},
                                       {"mails_cancelled", erased->mails_cancelled}}.dump());
  });
}

}  // namespace donatio::http
