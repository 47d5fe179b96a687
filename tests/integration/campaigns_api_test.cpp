// Campaign API over real HTTP against SQLite and PostgreSQL.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "src/store/token_store.hpp"
#include "support/service_fixture.hpp"

using namespace donatio::testing;
using nlohmann::json;

namespace {

const char* kFloodRelief = R"({"slug":"flood-relief-2026","title":"Flood relief","description":"Emergency aid",
  "category":"humanitarian","currency":"CHF","goal_amount":5000000,"starts_at":"2026-12-01T00:00:00Z",
  "ends_at":"2027-06-30T00:00:00Z"})";

json post_campaign(ServiceFixture& fx, const std::string& token, const std::string& body, int expected) {
  auto res = fx.client().Post("/v1/admin/campaigns", bearer(token), body, "application/json");
  REQUIRE(res);
  INFO(res->body);
  CHECK(res->status == expected);
  return json::parse(res->body);
}

}  // namespace

TEST_CASE("an admin creates a campaign and the public sees it with every field") {
  for (Backend backend : test_backends()) {
    SECTION(backend_name(backend)) {
      ServiceFixture fx(backend);
      const auto admin = fx.token("admin");
      auto created = post_campaign(fx, admin, kFloodRelief, 201);
      CHECK(created["slug"] == "flood-relief-2026");

      auto res = fx.client().Get("/v1/campaigns");
      REQUIRE(res);
      CHECK(res->status == 200);
      auto list = json::parse(res->body)["data"];
      REQUIRE(list.size() == 1);
      const auto& c = list[0];
      CHECK(c["slug"] == "flood-relief-2026");
      CHECK(c["title"] == "Flood relief");
      CHECK(c["description"] == "Emergency aid");
      CHECK(c["category"] == "humanitarian");
      CHECK(c["currency"] == "CHF");
      CHECK(c["goal_amount"] == 5000000);
      CHECK(c["raised_amount"] == 0);
      CHECK(c["donation_count"] == 0);
      CHECK(c["starts_at"] == "2026-12-01T00:00:00Z");
      CHECK(c["ends_at"] == "2027-06-30T00:00:00Z");

      auto one = fx.client().Get("/v1/campaigns/flood-relief-2026");
      REQUIRE(one);
      CHECK(one->status == 200);
      CHECK(json::parse(one->body) == c);
    }
  }
}

TEST_CASE("campaigns that are closed, ended or not yet started are not listed as active") {
  for (Backend backend : test_backends()) {
    SECTION(backend_name(backend)) {
      ServiceFixture fx(backend);  // clock: 2027-01-01
      const auto admin = fx.token("admin");
      post_campaign(fx, admin, kFloodRelief, 201);
      post_campaign(fx, admin, R"({"slug":"ended","title":"Ended","category":"ngo","currency":"EUR","goal_amount":100,
        "starts_at":"2026-01-01T00:00:00Z","ends_at":"2026-02-01T00:00:00Z"})", 201);
      post_campaign(fx, admin, R"({"slug":"future","title":"Future","category":"ngo","currency":"EUR","goal_amount":100,
        "starts_at":"2027-03-01T00:00:00Z"})", 201);
      post_campaign(fx, admin, R"({"slug":"closed","title":"Closed","category":"general","currency":"USD","goal_amount":100,
        "starts_at":"2026-01-01T00:00:00Z","status":"closed"})", 201);
      auto list = json::parse(fx.client().Get("/v1/campaigns")->body)["data"];
      REQUIRE(list.size() == 1);
      CHECK(list[0]["slug"] == "flood-relief-2026");
      // A single campaign stays readable after it ends (the donate page shows it as closed).
      CHECK(fx.client().Get("/v1/campaigns/ended")->status == 200);
    }
  }
}

TEST_CASE("campaign validation errors name the offending field") {
  for (Backend backend : test_backends()) {
    SECTION(backend_name(backend)) {
      ServiceFixture fx(backend);
      const auto admin = fx.token("admin");
      struct Case {
        const char* body;
        int status;
        const char* field;
      };
      const Case cases[] = {
          {R"({"slug":"x","title":"T","category":"ngo","currency":"CHF","goal_amount":-5})", 400, "goal_amount"},
          {R"({"slug":"x","title":"T","category":"ngo","currency":"CHF","goal_amount":0})", 400, "goal_amount"},
          {R"({"slug":"x","title":"T","category":"ngo","currency":"CHF","goal_amount":10.5})", 400, "goal_amount"},
          {R"({"slug":"x","title":"T","category":"ngo","currency":"CHF","goal_amount":"100"})", 400, "goal_amount"},
          {R"({"slug":"x","title":"T","category":"ngo","currency":"XYZ","goal_amount":100})", 400, "currency"},
          {R"({"slug":"x","title":"T","category":"ngo","currency":"chf","goal_amount":100})", 400, "currency"},
          {R"({"slug":"x","title":"T","category":"sports","currency":"CHF","goal_amount":100})", 400, "category"},
          {R"({"slug":"Bad Slug","title":"T","category":"ngo","currency":"CHF","goal_amount":100})", 400, "slug"},
          {R"({"slug":"-x","title":"T","category":"ngo","currency":"CHF","goal_amount":100})", 400, "slug"},
          {R"({"title":"T","category":"ngo","currency":"CHF","goal_amount":100})", 400, "slug"},
          {R"({"slug":"x","category":"ngo","currency":"CHF","goal_amount":100})", 400, "title"},
          {R"({"slug":"x","title":"T","category":"ngo","currency":"CHF","goal_amount":100,"colour":"red"})", 400, "colour"},
          {R"({"slug":"x","title":"T","category":"ngo","currency":"CHF","goal_amount":100,"starts_at":"yesterday"})", 400, "starts_at"},
          {R"({"slug":"x","title":"T","category":"ngo","currency":"CHF","goal_amount":100,
               "starts_at":"2027-02-01T00:00:00Z","ends_at":"2027-01-01T00:00:00Z"})", 400, "ends_at"},
      };
      for (const auto& c : cases) {
        INFO(c.body);
        auto error = post_campaign(fx, admin, c.body, c.status)["error"];
        CHECK(error["field"] == c.field);
        CHECK(error["code"].is_string());
        CHECK(error["message"].is_string());
      }
      auto bad_json = fx.client().Post("/v1/admin/campaigns", bearer(admin), "{\"slug\":", "application/json");
      CHECK(bad_json->status == 400);
      CHECK(json::parse(bad_json->body)["error"]["code"] == "invalid_json");
      auto array = fx.client().Post("/v1/admin/campaigns", bearer(admin), "[1,2]", "application/json");
      CHECK(array->status == 400);
      // Nothing was created by any of them.
      CHECK(json::parse(fx.client().Get("/v1/campaigns")->body)["data"].empty());
    }
  }
}

TEST_CASE("a duplicate slug is a conflict and an unknown campaign is 404") {
  for (Backend backend : test_backends()) {
    SECTION(backend_name(backend)) {
      ServiceFixture fx(backend);
      const auto admin = fx.token("admin");
      post_campaign(fx, admin, kFloodRelief, 201);
      auto again = post_campaign(fx, admin, kFloodRelief, 409);
      CHECK(again["error"]["code"] == "slug_taken");
      auto missing = fx.client().Get("/v1/campaigns/no-such-campaign");
      CHECK(missing->status == 404);
      CHECK(json::parse(missing->body)["error"]["code"] == "campaign_not_found");
      auto patch = fx.client().Patch("/v1/admin/campaigns/no-such-campaign", bearer(admin), R"({"title":"x"})",
                                     "application/json");
      CHECK(patch->status == 404);
    }
  }
}

TEST_CASE("an admin patches a campaign, the slug cannot change") {
  for (Backend backend : test_backends()) {
    SECTION(backend_name(backend)) {
      ServiceFixture fx(backend);
      const auto admin = fx.token("admin");
      post_campaign(fx, admin, kFloodRelief, 201);
      auto res = fx.client().Patch("/v1/admin/campaigns/flood-relief-2026", bearer(admin),
                                   R"({"title":"Flood relief 2026","goal_amount":6000000,"ends_at":null})", "application/json");
      REQUIRE(res);
      INFO(res->body);
      CHECK(res->status == 200);
      auto c = json::parse(fx.client().Get("/v1/campaigns/flood-relief-2026")->body);
      CHECK(c["title"] == "Flood relief 2026");
      CHECK(c["goal_amount"] == 6000000);
      CHECK(c["ends_at"].is_null());
      CHECK(c["description"] == "Emergency aid");

      auto slug = fx.client().Patch("/v1/admin/campaigns/flood-relief-2026", bearer(admin), R"({"slug":"other"})",
                                    "application/json");
      CHECK(slug->status == 400);
      auto negative = fx.client().Patch("/v1/admin/campaigns/flood-relief-2026", bearer(admin), R"({"goal_amount":-1})",
                                        "application/json");
      CHECK(negative->status == 400);
      CHECK(json::parse(negative->body)["error"]["field"] == "goal_amount");
      auto close = fx.client().Patch("/v1/admin/campaigns/flood-relief-2026", bearer(admin), R"({"status":"closed"})",
                                     "application/json");
      CHECK(close->status == 200);
      CHECK(json::parse(fx.client().Get("/v1/campaigns")->body)["data"].empty());
    }
  }
}

TEST_CASE("admin endpoints need a token: 401 without or with a wrong one, 403 for the finance role") {
  for (Backend backend : test_backends()) {
    SECTION(backend_name(backend)) {
      ServiceFixture fx(backend);
      const auto finance = fx.token("finance");
      auto none = fx.client().Post("/v1/admin/campaigns", kFloodRelief, "application/json");
      CHECK(none->status == 401);
      CHECK(json::parse(none->body)["error"]["code"] == "unauthenticated");
      auto wrong = fx.client().Post("/v1/admin/campaigns", bearer("dnt_" + std::string(64, 'a')), kFloodRelief,
                                    "application/json");
      CHECK(wrong->status == 401);
      auto garbage = fx.client().Post("/v1/admin/campaigns", bearer("hello"), kFloodRelief, "application/json");
      CHECK(garbage->status == 401);
      auto role = fx.client().Post("/v1/admin/campaigns", bearer(finance), kFloodRelief, "application/json");
      CHECK(role->status == 403);
      CHECK(json::parse(role->body)["error"]["code"] == "forbidden");
      // finance may read admin lists; admin may do everything finance can.
      CHECK(fx.client().Get("/v1/admin/campaigns", bearer(finance))->status == 200);
      CHECK(fx.client().Get("/v1/admin/campaigns", bearer(fx.token("admin")))->status == 200);
    }
  }
}

TEST_CASE("a revoked token is refused") {
  ServiceFixture fx(Backend::sqlite);
  const auto admin = fx.token("admin", "temp-admin");
  CHECK(fx.client().Get("/v1/admin/campaigns", bearer(admin))->status == 200);
  donatio::store::TokenStore tokens(fx.service().database());
  REQUIRE(tokens.revoke("temp-admin", "test", fx.clock().now_unix()).ok());
  CHECK(fx.client().Get("/v1/admin/campaigns", bearer(admin))->status == 401);
}

TEST_CASE("repeated failed logins from one client are rate-limited") {
  ServiceFixture fx(Backend::sqlite, {.configure = [](donatio::Config& c) { c.server.admin_auth_failures_per_minute = 3; }});
  int limited = 0;
  for (int i = 0; i < 6; ++i) {
    auto res = fx.client().Get("/v1/admin/campaigns", bearer("dnt_" + std::string(64, 'b')));
    if (res->status == 429) ++limited;
  }
  CHECK(limited >= 2);
}
