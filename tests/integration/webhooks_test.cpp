// POST /webhooks/stripe end to end: signature, exactly-once application, forward-only
// transitions, payments we did not create, group commit under concurrency, receipts numbers.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <future>
#include <map>
#include <set>
#include <thread>
#include <vector>

#include "support/service_fixture.hpp"
#include "support/webhook_client.hpp"
#include "webhooks/event.hpp"
#include "webhooks/ingestor.hpp"
#include "webhooks/signature.hpp"

using namespace donatio::testing;
using nlohmann::json;

namespace {

std::string outcome(const httplib::Result& res) {
  REQUIRE(res);
  INFO(res->body);
  REQUIRE(res->status == 200);
  return json::parse(res->body)["outcome"];
}

json campaign(ServiceFixture& fx, const std::string& slug) {
  return json::parse(fx.client().Get("/v1/campaigns/" + slug)->body);
}

}  // namespace

TEST_CASE("a bad, stale or missing signature is refused with 400 and nothing is recorded") {
  ServiceFixture fx(Backend::sqlite);
  const std::string body = read_fixture("payment_intent.succeeded.external_with_campaign.json");
  CHECK(post_signed(fx, body, 0, "whsec_wrong_secret")->status == 400);
  CHECK(post_signed(fx, body, -301)->status == 400);
  CHECK(post_signed(fx, body, +301)->status == 400);
  auto missing = fx.client().Post("/webhooks/stripe", body, "application/json");
  CHECK(missing->status == 400);
  CHECK(json::parse(missing->body)["error"]["code"] == "invalid_signature");
  std::string tampered = body;
  tampered[tampered.find("5000")] = '9';
  const auto header = donatio::webhooks::sign_header(ServiceFixture::kWebhookSecret, fx.clock().now_unix(), body);
  CHECK(fx.client().Post("/webhooks/stripe", httplib::Headers{{"Stripe-Signature", header}}, tampered, "application/json")->status == 400);
  CHECK(count_rows(fx, "SELECT COUNT(*) FROM events") == 0);
  CHECK(count_rows(fx, "SELECT COUNT(*) FROM donations") == 0);
  // Within tolerance it is accepted.
  CHECK(outcome(post_signed(fx, body, -299)) == "applied");
}

TEST_CASE("a rotated secret: events signed with either configured secret are accepted") {
  ServiceFixture fx(Backend::sqlite);
  // The fixture service has one secret; the signature header may carry several v1 values.
  const std::string body = read_fixture("payment_intent.succeeded.external_no_metadata.json");
  const auto t = fx.clock().now_unix();
  const std::string header = "t=" + std::to_string(t) + ",v1=" +
                             donatio::webhooks::compute_signature("whsec_old", t, body) + ",v1=" +
                             donatio::webhooks::compute_signature(ServiceFixture::kWebhookSecret, t, body);
  auto res = fx.client().Post("/webhooks/stripe", httplib::Headers{{"Stripe-Signature", header}}, body, "application/json");
  CHECK(res->status == 200);
}

TEST_CASE("duplicate deliveries are acknowledged and not re-applied") {
  for (Backend backend : test_backends()) {
    SECTION(backend_name(backend)) {
      ServiceFixture fx(backend);
      fx.create_campaign("flood-relief-2026", "CHF");
      const std::string body = read_fixture("payment_intent.succeeded.external_with_campaign.json");
      CHECK(outcome(post_signed(fx, body)) == "applied");
      CHECK(outcome(post_signed(fx, body)) == "duplicate");
      CHECK(outcome(post_signed(fx, body)) == "duplicate");
      CHECK(count_rows(fx, "SELECT COUNT(*) FROM donations") == 1);
      CHECK(count_rows(fx, "SELECT COUNT(*) FROM donation_history WHERE to_status = 'succeeded'") == 1);
      CHECK(count_rows(fx, "SELECT COUNT(*) FROM receipts") == 1);
      auto c = campaign(fx, "flood-relief-2026");
      CHECK(c["raised_amount"] == 5000);
      CHECK(c["donation_count"] == 1);
    }
  }
}

TEST_CASE("payments we did not create are recorded against metadata.campaign or unattributed") {
  for (Backend backend : test_backends()) {
    SECTION(backend_name(backend)) {
      ServiceFixture fx(backend);
      fx.create_campaign("flood-relief-2026", "CHF");
      CHECK(outcome(post_signed(fx, read_fixture("payment_intent.succeeded.external_with_campaign.json"))) == "applied");
      CHECK(outcome(post_signed(fx, read_fixture("payment_intent.succeeded.external_no_metadata.json"))) == "applied");
      const auto finance = fx.token("finance");
      auto list = json::parse(fx.client().Get("/v1/admin/donations", bearer(finance))->body)["data"];
      REQUIRE(list.size() == 2);
      std::map<std::string, json> by_pi;
      for (const auto& d : list) by_pi[d["payment_intent"]] = d;
      CHECK(by_pi["pi_3QfxTestPaymentLink01"]["campaign"] == "flood-relief-2026");
      CHECK(by_pi["pi_3QfxTestPaymentLink01"]["status"] == "succeeded");
      CHECK(by_pi["pi_3QfxTestPaymentLink01"]["source"] == "external");
      CHECK(by_pi["pi_3QfxTestDashboard0001"]["campaign"].is_null());
      CHECK(by_pi["pi_3QfxTestDashboard0001"]["status"] == "succeeded");
      CHECK(campaign(fx, "flood-relief-2026")["donation_count"] == 1);
      // Written once, in the state the event leaves it in: one history row from nothing to
      // succeeded naming the event type and where the campaign came from, the time of success,
      // its receipt (the document references the row) and the fee look-up.
      const std::string link = "(SELECT id FROM donations WHERE payment_intent_id = 'pi_3QfxTestPaymentLink01')";
      CHECK(count_rows(fx, "SELECT COUNT(*) FROM donation_history WHERE donation_id = " + link) == 1);
      CHECK(count_rows(fx, "SELECT COUNT(*) FROM donation_history WHERE from_status IS NULL AND to_status = 'succeeded' "
                           "AND reason = 'payment_intent.succeeded; payment not created by donatio; campaign from metadata' "
                           "AND donation_id = " + link) == 1);
      CHECK(count_rows(fx, "SELECT COUNT(*) FROM donations WHERE succeeded_at IS NOT NULL") == 2);
      CHECK(count_rows(fx, "SELECT COUNT(*) FROM receipts WHERE donation_id = " + link) == 1);
      CHECK(count_rows(fx, "SELECT COUNT(*) FROM outbox WHERE kind = 'balance_transaction'") == 2);
      CHECK(count_rows(fx, "SELECT COUNT(*) FROM donation_history WHERE reason LIKE '%unattributed'") == 1);
      // One that has not succeeded yet is written as it stands, and moves on from there.
      const auto t = fx.clock().now_unix();
      const std::map<std::string, std::string> meta{{"campaign", "flood-relief-2026"}};
      CHECK(outcome(post_signed(fx, payment_intent_event("evt_ext_p", "payment_intent.processing", "pi_ext_later", 2500, "chf", meta, t)))
            == "applied");
      CHECK(query_string(fx, "SELECT status FROM donations WHERE payment_intent_id = 'pi_ext_later'") == "processing");
      CHECK(count_rows(fx, "SELECT COUNT(*) FROM donations WHERE payment_intent_id = 'pi_ext_later' AND succeeded_at IS NULL "
                           "AND receipt_number IS NULL") == 1);
      CHECK(outcome(post_signed(fx, payment_intent_event("evt_ext_s", "payment_intent.succeeded", "pi_ext_later", 2500, "chf", meta, t, "ch_ext_later")))
            == "applied");
      CHECK(count_rows(fx, "SELECT COUNT(*) FROM donation_history h JOIN donations d ON d.id = h.donation_id "
                           "WHERE d.payment_intent_id = 'pi_ext_later'") == 2);
      CHECK(count_rows(fx, "SELECT COUNT(*) FROM donations WHERE payment_intent_id = 'pi_ext_later' AND status = 'succeeded' "
                           "AND charge_id = 'ch_ext_later' AND succeeded_at IS NOT NULL AND receipt_number IS NOT NULL") == 1);
      CHECK(campaign(fx, "flood-relief-2026")["raised_amount"] == 7500);
    }
  }
}

TEST_CASE("the whole story: success, partial refund, full refund, late events never move back") {
  for (Backend backend : test_backends()) {
    SECTION(backend_name(backend)) {
      ServiceFixture fx(backend);
      fx.create_campaign("flood-relief-2026", "CHF");
      const auto t = fx.clock().now_unix();
      const std::map<std::string, std::string> meta{{"campaign", "flood-relief-2026"}};
      CHECK(outcome(post_signed(fx, payment_intent_event("evt_s1", "payment_intent.succeeded", "pi_story", 5000, "chf", meta, t, "ch_story")))
            == "applied");
      CHECK(outcome(post_signed(fx, charge_refunded_event("evt_r1", "ch_story", "pi_story", 5000, 2000, "chf", t))) == "applied");
      CHECK(campaign(fx, "flood-relief-2026")["raised_amount"] == 3000);
      CHECK(query_string(fx, "SELECT status FROM donations") == "partially_refunded");
      // A late processing event changes nothing.
      CHECK(outcome(post_signed(fx, payment_intent_event("evt_p1", "payment_intent.processing", "pi_story", 5000, "chf", meta, t)))
            == "ignored");
      CHECK(outcome(post_signed(fx, charge_refunded_event("evt_r2", "ch_story", "pi_story", 5000, 5000, "chf", t))) == "applied");
      CHECK(query_string(fx, "SELECT status FROM donations") == "refunded");
      auto c = campaign(fx, "flood-relief-2026");
      CHECK(c["raised_amount"] == 0);
      CHECK(c["donation_count"] == 0);
      // Receipts: the original, an amended one for the partial refund, a void notice at the end.
      CHECK(count_rows(fx, "SELECT COUNT(*) FROM receipts WHERE kind = 'receipt'") == 1);
      CHECK(count_rows(fx, "SELECT COUNT(*) FROM receipts WHERE kind = 'amended' AND amount = 3000") == 1);
      CHECK(count_rows(fx, "SELECT COUNT(*) FROM receipts WHERE kind = 'void' AND amount = 5000") == 1);
      CHECK(query_string(fx, "SELECT references_number FROM receipts WHERE kind = 'void'") ==
            query_string(fx, "SELECT number FROM receipts WHERE kind = 'receipt'"));
    }
  }
}

TEST_CASE("over HTTP, a refund webhook that arrives before the success still ends refunded") {
  for (Backend backend : test_backends()) {
    SECTION(backend_name(backend)) {
      ServiceFixture fx(backend);
      fx.create_campaign("flood-relief-2026", "CHF");
      const auto t = fx.clock().now_unix();
      CHECK(outcome(post_signed(fx, charge_refunded_event("evt_r", "ch_x", "pi_x", 5000, 5000, "chf", t))) == "applied");
      CHECK(outcome(post_signed(fx, payment_intent_event("evt_s", "payment_intent.succeeded", "pi_x", 5000, "chf",
                                                         {{"campaign", "flood-relief-2026"}}, t, "ch_x"))) == "ignored");
      CHECK(count_rows(fx, "SELECT COUNT(*) FROM donations") == 1);
      CHECK(query_string(fx, "SELECT status FROM donations") == "refunded");
      CHECK(campaign(fx, "flood-relief-2026")["raised_amount"] == 0);
      // The refund came first: the row was written refunded (one history row, no time of
      // success, no receipt) and the late success only notes nothing.
      CHECK(count_rows(fx, "SELECT COUNT(*) FROM donations WHERE amount_refunded = 5000 AND charge_id = 'ch_x' "
                           "AND succeeded_at IS NULL AND receipt_number IS NULL") == 1);
      CHECK(count_rows(fx, "SELECT COUNT(*) FROM donation_history WHERE from_status IS NULL AND to_status = 'refunded'") == 1);
      CHECK(count_rows(fx, "SELECT COUNT(*) FROM donation_history") == 1);
    }
  }
}

TEST_CASE("disputes: opened, then won returns to succeeded, lost is final") {
  ServiceFixture fx(Backend::sqlite);
  fx.create_campaign("flood-relief-2026", "CHF");
  CHECK(outcome(post_signed(fx, read_fixture("payment_intent.succeeded.json"))) == "applied");
  CHECK(outcome(post_signed(fx, read_fixture("charge.dispute.created.json"))) == "applied");
  CHECK(query_string(fx, "SELECT status FROM donations") == "disputed");
  CHECK(outcome(post_signed(fx, read_fixture("charge.dispute.closed.won.json"))) == "applied");
  CHECK(query_string(fx, "SELECT status FROM donations") == "succeeded");
  CHECK(outcome(post_signed(fx, read_fixture("charge.dispute.closed.lost.json"))) == "ignored");
  CHECK(count_rows(fx, "SELECT COUNT(*) FROM receipts") == 1);
}

TEST_CASE("unknown event types are acknowledged, counted and not applied") {
  ServiceFixture fx(Backend::sqlite);
  CHECK(outcome(post_signed(fx, read_fixture("customer.created.json"))) == "ignored");
  CHECK(query_string(fx, "SELECT status FROM events") == "ignored");
  auto metrics = fx.client().Get("/metrics")->body;
  CHECK(metrics.find(R"(donatio_webhook_events_total{type="customer.created",outcome="ignored"} 1)") != std::string::npos);
  // On SQLite the background checkpointer's counters are there too (nothing to checkpoint yet).
  CHECK(metrics.find("# TYPE donatio_sqlite_checkpoints_total counter") != std::string::npos);
  CHECK(metrics.find(R"(donatio_sqlite_wal_restart_waits_total{result="timeout"} 0)") != std::string::npos);
}

TEST_CASE("a dispute for a payment we do not know is stored as failed, visible, and not lost") {
  ServiceFixture fx(Backend::sqlite);
  CHECK(outcome(post_signed(fx, read_fixture("charge.dispute.created.json"))) == "failed");
  CHECK(query_string(fx, "SELECT status FROM events") == "failed");
  CHECK(query_string(fx, "SELECT error FROM events").find("no donation") != std::string::npos);
}

TEST_CASE("when the commit fails the webhook answers 5xx so Stripe retries") {
  ServiceFixture fx(Backend::sqlite);
  REQUIRE(fx.service().database().transaction([](soci::session& sql) {
    sql << "ALTER TABLE events RENAME TO events_gone";
    return donatio::Status::Ok();
  }).ok());
  auto res = post_signed(fx, read_fixture("payment_intent.succeeded.external_no_metadata.json"));
  REQUIRE(res);
  CHECK(res->status >= 500);
  CHECK(count_rows(fx, "SELECT COUNT(*) FROM donations") == 0);
}

TEST_CASE("an event the database refuses is refused alone: the rest of its batch commits") {
  ServiceFixture fx(Backend::sqlite);
  fx.create_campaign("flood-relief-2026", "CHF");
  exec_sql(fx, {"CREATE TRIGGER refuse_boom BEFORE INSERT ON donations WHEN NEW.payment_intent_id = 'pi_boom' "
                "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"});
  const auto t = fx.clock().now_unix();
  const std::map<std::string, std::string> meta{{"campaign", "flood-relief-2026"}};
  // Submitted together, so the writer takes them in one batch (or a few): with and without the
  // refused one in it, every other event commits and the refused one leaves nothing behind.
  std::vector<std::future<donatio::webhooks::IngestResult>> pending;
  std::vector<std::string> pis;
  for (int i = 0; i < 40; ++i) pis.push_back(i == 17 ? "pi_boom" : "pi_batch_" + std::to_string(i));
  for (std::size_t i = 0; i < pis.size(); ++i) {
    const std::string body = payment_intent_event("evt_batch_" + std::to_string(i), "payment_intent.succeeded", pis[i],
                                                  1000, "chf", meta, t, "ch_" + pis[i]);
    auto event = donatio::webhooks::parse_event(body);
    REQUIRE(event.ok());
    pending.push_back(fx.service().ingestor().submit(std::move(event).value(), body, "webhook"));
  }
  for (std::size_t i = 0; i < pending.size(); ++i) {
    const auto result = pending[i].get();
    INFO(pis[i] << ": " << result.status.message());
    if (pis[i] == "pi_boom") {
      CHECK_FALSE(result.status.ok());
    } else {
      CHECK(result.status.ok());
      CHECK(result.outcome.kind == donatio::webhooks::ApplyKind::applied);
    }
  }
  CHECK(count_rows(fx, "SELECT COUNT(*) FROM donations WHERE status = 'succeeded'") == 39);
  CHECK(count_rows(fx, "SELECT COUNT(*) FROM events") == 39);
  CHECK(count_rows(fx, "SELECT COUNT(*) FROM receipts") == 39);
  CHECK(count_rows(fx, "SELECT COUNT(*) FROM events WHERE id = 'evt_batch_17'") == 0);
  CHECK(count_rows(fx, "SELECT MAX(sequence) FROM receipts") == 39);  // gapless: nothing taken for it
  // A redelivery once the database accepts it is applied.
  exec_sql(fx, {"DROP TRIGGER refuse_boom"});
  auto again = post_signed(fx, payment_intent_event("evt_batch_17", "payment_intent.succeeded", "pi_boom", 1000, "chf",
                                                    meta, t, "ch_pi_boom"));
  REQUIRE(again);
  CHECK(again->status == 200);
  CHECK(count_rows(fx, "SELECT COUNT(*) FROM donations WHERE status = 'succeeded'") == 40);
}

TEST_CASE("500 distinct events at 32-way concurrency give exactly 500 succeeded donations with gapless receipts") {
  for (Backend backend : test_backends()) {
    SECTION(backend_name(backend)) {
      ServiceFixture fx(backend, {.configure = [](donatio::Config& c) {
                                    c.server.threads = 48;
                                    c.database.pool_size = 8;
                                  }});
      fx.create_campaign("flood-relief-2026", "CHF");
      const auto t = fx.clock().now_unix();
      std::atomic<int> next{0}, ok{0};
      std::vector<std::thread> workers;
      for (int w = 0; w < 32; ++w) {
        workers.emplace_back([&] {
          auto cli = fx.client();
          for (int i = next++; i < 500; i = next++) {
            const std::string n = std::to_string(i);
            const auto body = payment_intent_event("evt_c" + n, "payment_intent.succeeded", "pi_c" + n, 1000 + i, "chf",
                                                   {{"campaign", "flood-relief-2026"}}, t, "ch_c" + n);
            httplib::Headers h{{"Stripe-Signature", donatio::webhooks::sign_header(ServiceFixture::kWebhookSecret, t, body)}};
            auto res = cli.Post("/webhooks/stripe", h, body, "application/json");
            if (res && res->status == 200) ++ok;
          }
        });
      }
      for (auto& w : workers) w.join();
      CHECK(ok == 500);
      CHECK(count_rows(fx, "SELECT COUNT(*) FROM donations WHERE status = 'succeeded'") == 500);
      CHECK(count_rows(fx, "SELECT COUNT(*) FROM receipts") == 500);
      CHECK(count_rows(fx, "SELECT COUNT(DISTINCT number) FROM receipts") == 500);
      CHECK(count_rows(fx, "SELECT MIN(sequence) FROM receipts") == 1);
      CHECK(count_rows(fx, "SELECT MAX(sequence) FROM receipts") == 500);
      auto c = campaign(fx, "flood-relief-2026");
      CHECK(c["donation_count"] == 500);
      CHECK(c["raised_amount"] == 500 * 1000 + 499 * 500 / 2);  // the sum of 1000 + i
    }
  }
}

TEST_CASE("a donation made through the API succeeds when Stripe's signed webhook arrives") {
  for (Backend backend : test_backends()) {
    SECTION(backend_name(backend)) {
      ServiceFixture fx(backend, {.stripe_emulator = true});
      fx.create_campaign("flood-relief-2026", "CHF");
      auto created = fx.client().Post("/v1/donations", R"({"campaign":"flood-relief-2026","amount":5000,"currency":"CHF",
        "donor":{"email":"lukasz@example.org","name":"Łukasz"}})", "application/json");
      REQUIRE(created->status == 201);
      auto donation = json::parse(created->body);
      REQUIRE(fx.stripe().confirm(donation["payment_intent"]));
      REQUIRE(fx.stripe().wait_for_deliveries(std::chrono::seconds(10)));
      const auto finance = fx.token("finance");
      auto d = json::parse(fx.client().Get("/v1/admin/donations/" + donation["id"].get<std::string>(), bearer(finance))->body);
      CHECK(d["status"] == "succeeded");
      CHECK(d["receipt_number"] == "CPI-2027-000001");
      CHECK(d["charge"].get<std::string>().rfind("ch_", 0) == 0);
      CHECK(d["source"] == "api");
      CHECK(campaign(fx, "flood-relief-2026")["raised_amount"] == 5000);
      CHECK(count_rows(fx, "SELECT COUNT(*) FROM donations") == 1);
      CHECK(count_rows(fx, "SELECT COUNT(*) FROM outbox WHERE kind = 'receipt_email'") == 1);
      CHECK(count_rows(fx, "SELECT COUNT(*) FROM outbox WHERE kind = 'balance_transaction'") == 1);
    }
  }
}
