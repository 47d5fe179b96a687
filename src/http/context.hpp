// ServiceContext: what route handlers may use — config, secrets, stores, ports, metrics and
// limiters. Built once by the CLI (floor 4) and handed to the route registrars by reference.
// Every member is thread-safe.
#pragma once

#include <optional>
#include <string>

#include "donatio/clock.hpp"
#include "donatio/config.hpp"
#include "donatio/payment_gateway.hpp"
#include "src/http/metrics.hpp"
#include "src/http/public_read_cache.hpp"
#include "src/http/rate_limiter.hpp"
#include "src/store/campaign_cache.hpp"
#include "src/store/campaign_store.hpp"
#include "src/store/database.hpp"
#include "src/store/token_store.hpp"

namespace httplib {
struct Request;
struct Response;
}  // namespace httplib

namespace donatio::webhooks {
class EventIngestor;
}
namespace donatio::outbox {
class ReceiptDelivery;
}

namespace donatio::http {

struct ServiceContext {
  ServiceContext(const Config& c, const Secrets& s, store::Database& d, const Clock& k, Metrics& m,
                 PaymentGateway* g)
      : config(c), secrets(s), db(d), clock(k), metrics(m), gateway(g), tokens(d), campaigns(d), campaign_cache(d),
        public_posts(c.server.public_rate_per_minute, c.server.public_rate_burst),
        auth_failures(c.server.admin_auth_failures_per_minute, c.server.admin_auth_failures_per_minute) {}

  const Config& config;
  const Secrets& secrets;
  store::Database& db;
  const Clock& clock;
  Metrics& metrics;
  PaymentGateway* gateway;
  store::TokenStore tokens;
  store::CampaignStore campaigns;
  store::CampaignCache campaign_cache;  // the donation path's campaign checks
  RateLimiter public_posts;
  RateLimiter auth_failures;
  PublicReadCache public_reads;
  // A campaign was created or changed through this process: drop what the caches hold.
  void campaigns_changed() {
    public_reads.invalidate();
    campaign_cache.invalidate();
  }
  webhooks::EventIngestor* ingestor = nullptr;  // owned by the Service
  outbox::ReceiptDelivery* receipt_delivery = nullptr;  // owned by the Service
};

struct Principal {
  std::string token_name;
  std::string role;
};

// Checks `Authorization: Bearer …` for a token whose role allows `role` ("admin"/"finance").
// On failure writes 401/403/429 to `res` and returns nullopt.
std::optional<Principal> require_role(ServiceContext& ctx, const httplib::Request& req, httplib::Response& res,
                                      const char* role);

void register_ops_routes(class HttpServer& server, ServiceContext& ctx);
void register_campaign_routes(class HttpServer& server, ServiceContext& ctx);
void register_donation_routes(class HttpServer& server, ServiceContext& ctx);
void register_webhook_routes(class HttpServer& server, ServiceContext& ctx);
void register_report_routes(class HttpServer& server, ServiceContext& ctx);
void register_receipt_routes(class HttpServer& server, ServiceContext& ctx);
void register_privacy_routes(class HttpServer& server, ServiceContext& ctx);

}  // namespace donatio::http
