// Admin routes for trust and privacy: GET /v1/admin/audit (the append-only audit log),
// GET /v1/admin/donors/{email}/export and POST /v1/admin/donors/{email}/erase. All admin-only.
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "donatio/clock.hpp"
#include "src/http/context.hpp"
#include "src/http/errors.hpp"
#include "src/http/request_context.hpp"
#include "src/http/server.hpp"
#include "src/privacy/donor_privacy.hpp"
#include "src/store/audit_log.hpp"

namespace donatio::http {
namespace {

// Reads from/to/limit/cursor; on bad input writes the 400 and returns nullopt.
std::optional<store::AuditFilter> read_audit_query(const httplib::Request& req, httplib::Response& res) {
  store::AuditFilter filter;
  for (const char* name : {"from", "to"}) {
    if (!req.has_param(name)) continue;
    std::int64_t at = 0;
    if (!parse_iso8601(req.get_param_value(name), at)) {
      send_error(res, Status::InvalidArgument(name, std::string(name) + " must be an ISO-8601 date or timestamp"));
      return std::nullopt;
    }
    (std::string(name) == "from" ? filter.from : filter.to) = at;
  }
  if (filter.from && filter.to && *filter.to <= *filter.from) {
    send_error(res, Status::InvalidArgument("to", "to must be after from"));
    return std::nullopt;
  }
  if (req.has_param("limit")) {
    const std::string limit = req.get_param_value("limit");
    if (limit.empty() || limit.size() > 4 || limit.find_first_not_of("0123456789") != std::string::npos ||
        std::stoi(limit) < 1 || std::stoi(limit) > 1000) {
      send_error(res, Status::InvalidArgument("limit", "limit must be an integer from 1 to 1000"));
      return std::nullopt;
    }
    filter.limit = std::stoi(limit);
  }
  if (req.has_param("cursor")) {
    // "<created_at>.<id>", as returned in next_cursor.
    const std::string cursor = req.get_param_value("cursor");
    const auto dot = cursor.find('.');
    const bool digits = !cursor.empty() && cursor.find_first_not_of("0123456789.") == std::string::npos;
    if (!digits || dot == std::string::npos || dot == 0 || dot > 12 || dot + 1 == cursor.size() ||
        cursor.size() - dot > 19 || cursor.find('.', dot + 1) != std::string::npos) {
      send_error(res, Status::InvalidArgument("cursor", "cursor is not valid"));
      return std::nullopt;
    }
    filter.after = std::make_pair(std::stoll(cursor.substr(0, dot)), std::stoll(cursor.substr(dot + 1)));
  }
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
    auto filter = read_audit_query(req, res);
    if (!filter) return;
    auto page = store::list_audit(ctx.db, *filter);
    if (!page.ok()) return send_error(res, page.status());
    nlohmann::json data = nlohmann::json::array();
    for (const auto& r : *page) data.push_back(audit_json(r));
    nlohmann::json next = nullptr;
    if (static_cast<int>(page->size()) == filter->limit) {
      next = std::to_string(page->back().created_at) + "." + std::to_string(page->back().id);
    }
    send_json(res, 200, nlohmann::json{{"data", std::move(data)}, {"next_cursor", next}}.dump());
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
