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
  // Answered after the commit, from the writer's answer thread: no request thread waits for it
  // on the fast lane (see HttpServer::post_async).
  server.post_async("/webhooks/stripe", "/webhooks/stripe", [&ctx](AsyncRequest& req, JsonReply reply) {
    const auto check = webhooks::verify_signature(req.header("Stripe-Signature"), req.body, ctx.secrets.webhook_secrets,
                                                  ctx.clock.now_unix(), ctx.config.stripe.webhook_tolerance_s);
    if (check != webhooks::SignatureCheck::valid) {
      const std::string reason = webhooks::signature_check_name(check);
      ctx.metrics.increment("donatio_webhook_rejected_total", "reason=\"" + reason + "\"");
      spdlog::warn("webhook refused: {}", reason);
      const Status refused(StatusCode::invalid_argument,
                           check == webhooks::SignatureCheck::stale ? "stale_signature" : "invalid_signature",
                           "Stripe-Signature verification failed (" + reason + ")", "Stripe-Signature");
      return reply(http_status_for(refused.code()), error_json(refused));
    }
    auto event = webhooks::parse_event(req.body);
    auto done = [&ctx, reply = std::move(reply)](std::string type, webhooks::IngestResult result) {
      if (!result.status.ok()) {
        ctx.metrics.increment("donatio_webhook_rejected_total", "reason=\"not_committed\"");
        return reply(http_status_for(result.status.code()), error_json(result.status));
      }
      const char* outcome = webhooks::apply_kind_name(result.outcome.kind);
      ctx.metrics.increment("donatio_webhook_events_total", "type=\"" + type + "\",outcome=\"" + outcome + "\"");
      if (result.outcome.kind == webhooks::ApplyKind::failed) {
        spdlog::warn("event of type {} stored as failed: {}", type, result.outcome.detail);
      }
      reply(200, std::string(R"({"received":true,"outcome":")") + outcome + "\"}");
    };
    if (event.ok()) {
      std::string type = event->type;
      ctx.ingestor->submit(std::move(event).value(), std::move(req.body), "webhook",
                           [done = std::move(done), type](webhooks::IngestResult r) { done(type, std::move(r)); });
    } else {
      auto [id, loose_type] = loose_id_and_type(req.body);
      spdlog::error("signed event {} could not be parsed: {}", id, event.status().message());
      ctx.ingestor->submit_unparseable(
          id, loose_type, std::move(req.body), event.status().message(), "webhook",
          [done = std::move(done), type = loose_type](webhooks::IngestResult r) { done(type, std::move(r)); });
    }
  });
}

}  // namespace donatio::http
