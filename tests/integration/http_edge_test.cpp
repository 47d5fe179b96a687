// The HTTP edge: request ids, body limits, content types, CORS, security headers, TLS,
// health/readiness/metrics, JSON errors for everything the server rejects.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <openssl/ssl.h>

#include "support/service_fixture.hpp"

using namespace donatio::testing;
using nlohmann::json;

TEST_CASE("every answer carries an X-Request-Id, taken from the client when it sends a sane one") {
  ServiceFixture fx(Backend::sqlite);
  auto made = fx.client().Get("/healthz");
  REQUIRE(made);
  CHECK(made->get_header_value("X-Request-Id").size() == 24);
  auto taken = fx.client().Get("/healthz", {{"X-Request-Id", "abc-123"}});
  CHECK(taken->get_header_value("X-Request-Id") == "abc-123");
  auto replaced = fx.client().Get("/healthz", {{"X-Request-Id", "bad id with spaces"}});
  CHECK(replaced->get_header_value("X-Request-Id") != "bad id with spaces");
  CHECK(made->get_header_value("X-Content-Type-Options") == "nosniff");
}

TEST_CASE("a body over max_body_bytes is refused with 413 before it is read") {
  ServiceFixture fx(Backend::sqlite, {.configure = [](donatio::Config& c) { c.server.max_body_bytes = 2048; }});
  const auto admin = fx.token("admin");
  std::string big = R"({"slug":"x","title":")" + std::string(4096, 'a') + R"("})";
  auto res = fx.client().Post("/v1/admin/campaigns", bearer(admin), big, "application/json");
  REQUIRE(res);
  CHECK(res->status == 413);
  CHECK(json::parse(res->body)["error"]["code"] == "payload_too_large");
}

TEST_CASE("a body that is not application/json is refused with 415") {
  ServiceFixture fx(Backend::sqlite);
  const auto admin = fx.token("admin");
  auto res = fx.client().Post("/v1/admin/campaigns", bearer(admin), "slug=x", "application/x-www-form-urlencoded");
  REQUIRE(res);
  CHECK(res->status == 415);
  CHECK(json::parse(res->body)["error"]["code"] == "unsupported_media_type");
  auto with_charset = fx.client().Post("/v1/admin/campaigns", bearer(admin), "{}", "application/json; charset=utf-8");
  CHECK(with_charset->status == 400);  // accepted as JSON, then validated
}

TEST_CASE("unknown paths get the JSON error shape") {
  ServiceFixture fx(Backend::sqlite);
  auto res = fx.client().Get("/v1/nothing-here");
  REQUIRE(res);
  CHECK(res->status == 404);
  CHECK(json::parse(res->body)["error"]["code"] == "not_found");
}

TEST_CASE("CORS: configured origins get a preflight answer, others do not, never a wildcard") {
  ServiceFixture fx(Backend::sqlite);
  auto ok = fx.client().Options("/v1/donations", {{"Origin", "https://donate.example.org"},
                                                  {"Access-Control-Request-Method", "POST"}});
  REQUIRE(ok);
  CHECK(ok->status == 204);
  CHECK(ok->get_header_value("Access-Control-Allow-Origin") == "https://donate.example.org");
  CHECK(ok->get_header_value("Access-Control-Allow-Methods").find("POST") != std::string::npos);
  CHECK(ok->get_header_value("Access-Control-Allow-Headers").find("Idempotency-Key") != std::string::npos);
  auto other = fx.client().Options("/v1/donations", {{"Origin", "https://evil.example.com"},
                                                     {"Access-Control-Request-Method", "POST"}});
  CHECK(other->status == 403);
  CHECK_FALSE(other->has_header("Access-Control-Allow-Origin"));
  auto get = fx.client().Get("/v1/campaigns", {{"Origin", "https://donate.example.org"}});
  CHECK(get->get_header_value("Access-Control-Allow-Origin") == "https://donate.example.org");
  auto admin = fx.client().Get("/v1/admin/campaigns", {{"Origin", "https://donate.example.org"}});
  CHECK_FALSE(admin->has_header("Access-Control-Allow-Origin"));
}

TEST_CASE("health, readiness and Prometheus metrics") {
  for (Backend backend : test_backends()) {
    SECTION(backend_name(backend)) {
      ServiceFixture fx(backend);
      CHECK(fx.client().Get("/healthz")->status == 200);
      auto ready = fx.client().Get("/readyz");
      CHECK(ready->status == 200);
      CHECK(json::parse(ready->body)["status"] == "ready");
      fx.client().Get("/v1/campaigns");
      fx.client().Get("/v1/campaigns/none");
      auto metrics = fx.client().Get("/metrics");
      REQUIRE(metrics);
      CHECK(metrics->get_header_value("Content-Type").rfind("text/plain", 0) == 0);
      const std::string& text = metrics->body;
      CHECK(text.find("# TYPE donatio_http_requests_total counter") != std::string::npos);
      CHECK(text.find(R"(donatio_http_requests_total{method="GET",route="/v1/campaigns",status="200"} 1)") != std::string::npos);
      CHECK(text.find(R"(donatio_http_requests_total{method="GET",route="/v1/campaigns/{slug}",status="404"} 1)") != std::string::npos);
      CHECK(text.find("donatio_http_request_duration_seconds_bucket{route=\"/v1/campaigns\",le=\"+Inf\"} 1") != std::string::npos);
    }
  }
}

TEST_CASE("readyz reports 503 when migrations are not current") {
  ServiceFixture fx(Backend::sqlite);
  REQUIRE(fx.service().database().transaction([](soci::session& sql) {
    sql << "DELETE FROM schema_migrations";
    return donatio::Status::Ok();
  }).ok());
  auto res = fx.client().Get("/readyz");
  CHECK(res->status == 503);
  CHECK(json::parse(res->body)["error"]["code"] == "migrations_pending");
}

TEST_CASE("HTTPS: the API is served over TLS 1.2+ with HSTS") {
  for (Backend backend : test_backends()) {
    SECTION(backend_name(backend)) {
      ServiceFixture fx(backend, {.tls = true});
      auto res = fx.client().Get("/v1/campaigns");
      REQUIRE(res);
      CHECK(res->status == 200);
      CHECK(res->get_header_value("Strict-Transport-Security").find("max-age=") == 0);
      const auto admin = fx.token("admin");
      auto created = fx.client().Post("/v1/admin/campaigns", bearer(admin),
                                      R"({"slug":"tls","title":"T","category":"ngo","currency":"CHF","goal_amount":100})",
                                      "application/json");
      CHECK(created->status == 201);
    }
  }
}

TEST_CASE("HTTPS refuses TLS 1.1 clients") {
  ServiceFixture fx(Backend::sqlite, {.tls = true});
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION);
  SSL_CTX_set_max_proto_version(ctx, TLS1_1_VERSION);
  SSL_CTX_set_security_level(ctx, 0);
  BIO* bio = BIO_new_ssl_connect(ctx);
  BIO_set_conn_hostname(bio, ("127.0.0.1:" + std::to_string(fx.port())).c_str());
  CHECK(BIO_do_connect(bio) <= 0);
  BIO_free_all(bio);
  SSL_CTX_free(ctx);
}
