// POST /webhooks/stripe: verify the signature over the raw bytes (before any JSON is read),
// parse, hand the event to the group-commit writer, and answer 200 only after it committed.
// 400 for a missing/bad/stale signature (nothing recorded); 5xx when the commit failed, so
// Stripe retries.
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "src/http/context.hpp"
#include "src/http/errors.hpp"
#include "src/http/server.hpp"
#include "src/store/token_store.hpp"
#include "webhooks/ingestor.hpp"
#include "webhooks/signature.hpp"

namespace donatio::http {
namespace {

// Best effort for an event our parser refused: its id and type, or stand-ins.
std::pair<std::string, std::string> loose_id_and_type(const std::string& body) {
  auto doc = nlohmann::json::parse(body, nullptr, false);
  std::string id = "unparseable_" + store::hash_token(body).substr(0, 24), type = "unknown";
  if (doc.is_object()) {
    if (doc.contains("id") && doc["id"].is_string() && doc["id"].get_ref<const std::string&>().size() <= 255) {
      id = doc["id"];
    }
    if (doc.contains("type") && doc["type"].is_string() && doc["type"].get_ref<const std::string&>().size() <= 255) {
      type = doc["type"];
    }
  }
  return {id, type};
}

}  // namespace

void register_webhook_routes(HttpServer& server, ServiceContext& ctx) {
  ctx.metrics.describe("donatio_webhook_events_total", "counter", "Stripe events received, by type and outcome.");
  ctx.metrics.describe("donatio_webhook_rejected_total", "counter", "Webhook deliveries refused, by reason.");
  server.post("/webhooks/stripe", "/webhooks/stripe", [&ctx](const httplib::Request& req, httplib::Response& res) {
    const auto check = webhooks::verify_signature(req.get_header_value("Stripe-Signature"), req.body,
                                                  ctx.secrets.webhook_secrets, ctx.clock.now_unix(),
                                                  ctx.config.stripe.webhook_tolerance_s);
    if (check != webhooks::SignatureCheck::valid) {
      const std::string reason = webhooks::signature_check_name(check);
      ctx.metrics.increment("donatio_webhook_rejected_total", "reason=\"" + reason + "\"");
      spdlog::warn("webhook refused: {}", reason);
      return send_error(res, Status(StatusCode::invalid_argument,
                                    check == webhooks::SignatureCheck::stale ? "stale_signature" : "invalid_signature",
                                    "Stripe-Signature verification failed (" + reason + ")", "Stripe-Signature"));
    }
    auto event = webhooks::parse_event(req.body);
    std::future<webhooks::IngestResult> pending;
    std::string type;
    if (event.ok()) {
      type = event->type;
      pending = ctx.ingestor->submit(std::move(event).value(), req.body, "webhook");
    } else {
      auto [id, loose_type] = loose_id_and_type(req.body);
      type = loose_type;
      spdlog::error("signed event {} could not be parsed: {}", id, event.status().message());
      pending = ctx.ingestor->submit_unparseable(id, loose_type, req.body, event.status().message(), "webhook");
    }
    const auto result = pending.get();
    if (!result.status.ok()) {
      ctx.metrics.increment("donatio_webhook_rejected_total", "reason=\"not_committed\"");
      return send_error(res, result.status);
    }
    const char* outcome = webhooks::apply_kind_name(result.outcome.kind);
    ctx.metrics.increment("donatio_webhook_events_total", "type=\"" + type + "\",outcome=\"" + outcome + "\"");
    if (result.outcome.kind == webhooks::ApplyKind::failed) {
      spdlog::warn("event of type {} stored as failed: {}", type, result.outcome.detail);
    }
    send_json(res, 200, std::string(R"({"received":true,"outcome":")") + outcome + "\"}");
  });
}

}  // namespace donatio::http
