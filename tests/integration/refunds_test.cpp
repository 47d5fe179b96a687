// POST /v1/admin/donations/{id}/refund through the real StripeClient and the emulator.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <thread>

#include "support/service_fixture.hpp"
#include "support/webhook_client.hpp"

using namespace donatio::testing;
using nlohmann::json;

namespace {

std::string succeeded_donation(ServiceFixture& fx) {
  auto created = fx.client().Post("/v1/donations", R"({"campaign":"flood-relief-2026","amount":5000,"currency":"CHF",
    "donor":{"email":"a@example.org"}})", "application/json");
  REQUIRE(created->status == 201);
  auto body = json::parse(created->body);
  REQUIRE(fx.stripe().confirm(body["payment_intent"]));
  REQUIRE(fx.stripe().wait_for_deliveries(std::chrono::seconds(10)));
  return body["id"];
}

}  // namespace

TEST_CASE("a refund goes through Stripe and the donation moves when charge.refunded arrives") {
  for (Backend backend : test_backends()) {
    SECTION(backend_name(backend)) {
      ServiceFixture fx(backend, {.stripe_emulator = true});
      fx.create_campaign("flood-relief-2026", "CHF");
      const auto id = succeeded_donation(fx);
      const auto admin = fx.token("admin", "alice");
      auto partial = fx.client().Post("/v1/admin/donations/" + id + "/refund", bearer(admin),
                                      R"({"amount":2000,"reason":"requested_by_customer"})", "application/json");
      REQUIRE(partial);
      INFO(partial->body);
      CHECK(partial->status == 201);
      CHECK(json::parse(partial->body)["stripe_refund"].get<std::string>().rfind("re_", 0) == 0);
      REQUIRE(fx.stripe().wait_for_deliveries(std::chrono::seconds(10)));
      CHECK(query_string(fx, "SELECT status FROM donations") == "partially_refunded");
      // More than what is left is refused before Stripe is asked.
      const int refunds_before = fx.stripe().count("POST", "/v1/refunds");
      auto too_much = fx.client().Post("/v1/admin/donations/" + id + "/refund", bearer(admin), R"({"amount":3001})",
                                       "application/json");
      CHECK(too_much->status == 422);
      CHECK(fx.stripe().count("POST", "/v1/refunds") == refunds_before);
      // The rest, with no amount.
      CHECK(fx.client().Post("/v1/admin/donations/" + id + "/refund", bearer(admin), "", "application/json")->status == 201);
      REQUIRE(fx.stripe().wait_for_deliveries(std::chrono::seconds(10)));
      CHECK(query_string(fx, "SELECT status FROM donations") == "refunded");
      CHECK(count_rows(fx, "SELECT COUNT(*) FROM audit_log WHERE action = 'donation.refund_requested' AND actor = 'alice'") == 2);
      // Roles and unknown donations.
      CHECK(fx.client().Post("/v1/admin/donations/" + id + "/refund", bearer(fx.token("finance")), "{}", "application/json")->status == 403);
      CHECK(fx.client().Post("/v1/admin/donations/don_nope/refund", bearer(admin), "{}", "application/json")->status == 404);
    }
  }
}

TEST_CASE("a double-clicked refund refunds once: Stripe sees one refund") {
  for (Backend backend : test_backends()) {
    SECTION(backend_name(backend)) {
      ServiceFixture fx(backend, {.stripe_emulator = true});
      fx.create_campaign("flood-relief-2026", "CHF");
      const auto id = succeeded_donation(fx);
      const auto admin = fx.token("admin");
      std::vector<int> statuses(4);
      std::vector<std::thread> clicks;
      for (int i = 0; i < 4; ++i) {
        clicks.emplace_back([&, i] {
          auto res = fx.client().Post("/v1/admin/donations/" + id + "/refund", bearer(admin), "{}", "application/json");
          statuses[i] = res ? res->status : -1;
        });
      }
      for (auto& c : clicks) c.join();
      CHECK(std::count(statuses.begin(), statuses.end(), 201) == 1);
      CHECK(std::count(statuses.begin(), statuses.end(), 422) == 3);
      CHECK(fx.stripe().count("POST", "/v1/refunds") == 1);
    }
  }
}
