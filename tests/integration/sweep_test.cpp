// The catch-up sweep: events Stripe never delivered are recovered from its Events API, and
// donations left pending are settled from their payment intent.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "support/service_fixture.hpp"
#include "support/webhook_client.hpp"

using namespace donatio::testing;
using nlohmann::json;

TEST_CASE("the sweep recovers payments whose webhooks were never delivered") {
  for (Backend backend : test_backends()) {
    SECTION(backend_name(backend)) {
      ServiceFixture fx(backend, {.stripe_emulator = true, .deliver_webhooks = false});
      fx.create_campaign("flood-relief-2026", "CHF");
      auto created = fx.client().Post("/v1/donations", R"({"campaign":"flood-relief-2026","amount":5000,"currency":"CHF",
        "donor":{"email":"a@example.org"}})", "application/json");
      REQUIRE(created->status == 201);
      const std::string pi = json::parse(created->body)["payment_intent"];
      REQUIRE(fx.stripe().confirm(pi));
      fx.stripe().create_external_payment(2500, "chf", {{"campaign", "flood-relief-2026"}});
      CHECK(count_rows(fx, "SELECT COUNT(*) FROM donations WHERE status = 'succeeded'") == 0);

      auto report = fx.service().sweep_now();
      REQUIRE(report.ok());
      CHECK(report->applied >= 2);
      CHECK(count_rows(fx, "SELECT COUNT(*) FROM donations WHERE status = 'succeeded'") == 2);
      CHECK(count_rows(fx, "SELECT COUNT(*) FROM receipts") == 2);
      CHECK(json::parse(fx.client().Get("/v1/campaigns/flood-relief-2026")->body)["raised_amount"] == 7500);
      // A second sweep (and a late delivery) adds nothing.
      auto again = fx.service().sweep_now();
      REQUIRE(again.ok());
      CHECK(again->applied == 0);
      fx.stripe().set_deliver_webhooks(true);
      for (const auto& e : fx.stripe().events_of_type("payment_intent.succeeded")) fx.stripe().resend_event(e["id"]);
      fx.stripe().wait_for_deliveries(std::chrono::seconds(10));
      CHECK(count_rows(fx, "SELECT COUNT(*) FROM donations") == 2);
      CHECK(count_rows(fx, "SELECT COUNT(*) FROM receipts") == 2);
    }
  }
}

TEST_CASE("a donation left pending is settled from its payment intent") {
  ServiceFixture fx(Backend::sqlite, {.stripe_emulator = true, .deliver_webhooks = false});
  fx.create_campaign("flood-relief-2026", "CHF");
  auto created = fx.client().Post("/v1/donations", R"({"campaign":"flood-relief-2026","amount":5000,"currency":"CHF",
    "donor":{"email":"a@example.org"}})", "application/json");
  const std::string pi = json::parse(created->body)["payment_intent"];
  REQUIRE(fx.stripe().confirm(pi));
  // Young pending donations are left alone; old ones are asked about.
  auto early = fx.service().sweep_now(fx.clock().now_unix() + 3600);
  REQUIRE(early.ok());
  CHECK(early->settled == 0);
  fx.clock().advance_seconds(2 * 3600);
  auto report = fx.service().sweep_now(fx.clock().now_unix() + 3600);  // no events listed: only settling
  REQUIRE(report.ok());
  CHECK(report->settled == 1);
  CHECK(query_string(fx, "SELECT status FROM donations") == "succeeded");
  CHECK(count_rows(fx, "SELECT COUNT(*) FROM receipts") == 1);
}
