// Donation routes: public POST /v1/donations (rate-limited per client IP, Idempotency-Key),
// admin GET /v1/admin/donations (keyset pagination, newest first) and GET /v1/admin/donations/{id}.
#include <nlohmann/json.hpp>

#include "src/donations/create_donation.hpp"
#include "src/donations/refund_donation.hpp"
#include "src/http/json_body.hpp"
#include "src/http/request_context.hpp"
#include "src/http/context.hpp"
#include "src/http/donation_json.hpp"
#include "src/http/errors.hpp"
#include "src/http/page_query.hpp"
#include "src/http/server.hpp"
#include "src/store/donation_store.hpp"

namespace donatio::http {

void register_donation_routes(HttpServer& server, ServiceContext& ctx) {
  server.post("/v1/donations", "/v1/donations", [&ctx](const httplib::Request& req, httplib::Response& res) {
    int retry_after = 1;
    if (!ctx.public_posts.try_acquire(req.remote_addr, ctx.clock.now_unix_ms(), &retry_after)) {
      res.set_header("Retry-After", std::to_string(retry_after));
      ctx.metrics.increment("donatio_rate_limited_total", "route=\"/v1/donations\"");
      return send_error(res, Status(StatusCode::rate_limited, "rate_limited", "too many requests; slow down"));
    }
    donations::DonationCreator creator(ctx.config, ctx.db, ctx.campaign_cache, ctx.clock, ctx.gateway);
    auto answer = creator.create(req.body, req.get_header_value("Idempotency-Key"));
    send_json(res, answer.status, answer.body);
  });

  server.get("/v1/admin/donations", "/v1/admin/donations", [&ctx](const httplib::Request& req, httplib::Response& res) {
    if (!require_role(ctx, req, res, "finance")) return;
    store::DonationFilter filter;
    filter.campaign = req.get_param_value("campaign");
    filter.status = req.get_param_value("status");
    if (!filter.status.empty() && !parse_donation_status(filter.status)) {
      return send_error(res, Status::InvalidArgument("status", "unknown status '" + filter.status + "'"));
    }
    auto query = read_page_query(req, {.max_limit = 500});
    if (!query.ok()) return send_error(res, query.status());
    filter.from = query->from;
    filter.to = query->to;
    if (query->limit) filter.limit = *query->limit;
    const int page_size = filter.limit;
    filter.limit = page_size + 1;
    filter.after = query->after;
    auto page = store::DonationStore(ctx.db).list(filter);
    if (!page.ok()) return send_error(res, page.status());
    const auto next = finish_page(
        *page, page_size, [](const store::DonationRecord& d) { return std::to_string(d.created_at) + "." + d.id; });
    nlohmann::json data = nlohmann::json::array();
    for (const auto& d : *page) data.push_back(donation_json(d));
    send_json(
        res, 200,
        nlohmann::json{{"data", std::move(data)}, {"next_cursor", next ? nlohmann::json(*next) : nullptr}}.dump());
  });

  server.post(R"(/v1/admin/donations/([A-Za-z0-9_]+)/refund)", "/v1/admin/donations/{id}/refund",
              [&ctx](const httplib::Request& req, httplib::Response& res) {
    auto who = require_role(ctx, req, res, "admin");
    if (!who) return;
    auto body = parse_json_object(req.body.empty() ? "{}" : req.body);
    if (!body.ok()) return send_error(res, body.status());
    FieldReader f(*body);
    donations::RefundRequest request;
    request.donation_id = req.matches[1];
    request.actor = who->token_name;
    request.request_id = current_request().request_id;
    request.client_key = req.get_header_value("Idempotency-Key");
    if (request.client_key.size() > 255) {
      return send_error(res, Status::InvalidArgument("Idempotency-Key", "Idempotency-Key is longer than 255 characters"));
    }
    if (Status s = f.only({"amount", "reason"}); !s.ok()) return send_error(res, s);
    if (f.has("amount")) {
      std::int64_t amount = 0;
      if (Status s = f.integer("amount", amount, true, 1, INT64_MAX / 4); !s.ok()) return send_error(res, s);
      request.amount = amount;
    }
    if (Status s = f.string("reason", request.reason, false, 64); !s.ok()) return send_error(res, s);
    auto refund = donations::refund_donation(ctx.db, ctx.gateway, ctx.clock, request);
    if (!refund.ok()) return send_error(res, refund.status());
    if (refund->replayed) res.set_header("Idempotent-Replayed", "true");
    send_json(res, 201, nlohmann::json{{"id", refund->id},
                                       {"donation_id", refund->donation_id},
                                       {"amount", refund->amount},
                                       {"currency", refund->currency},
                                       {"status", refund->status},
                                       {"reason", refund->reason},
                                       {"stripe_refund", refund->stripe_refund_id}}.dump());
  });

  server.get(R"(/v1/admin/donations/([A-Za-z0-9_]+))", "/v1/admin/donations/{id}",
             [&ctx](const httplib::Request& req, httplib::Response& res) {
    if (!require_role(ctx, req, res, "finance")) return;
    auto donation = store::DonationStore(ctx.db).get(req.matches[1]);
    if (!donation.ok()) return send_error(res, donation.status());
    send_json(res, 200, donation_json(*donation).dump());
  });
}

}  // namespace donatio::http
