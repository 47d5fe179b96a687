// donation_daily_totals through the real write paths: donations made through the API and paid
// at the Stripe emulator, its signed webhooks (success, decline, partial and full refunds,
// disputes won and lost, payments we did not create), and the balance_transaction outbox job
// (fee, net, settlement currency). The summary, which reads whole UTC days from the totals and
// partial days from donations, must equal one GROUP BY over the donations for every period, and
// migration 003's backfill must give exactly the rows the live path wrote. SQLite and PostgreSQL.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <fstream>
#include <memory>
#include <thread>

#include "donatio/clock.hpp"
#include "src/outbox/jobs.hpp"
#include "src/reports/summary.hpp"
#include "src/store/daily_totals.hpp"
#include "src/store/row.hpp"
#include "support/process.hpp"
#include "support/service_fixture.hpp"
#include "support/webhook_client.hpp"
#include "webhooks/signature.hpp"
#include "support/helpers.hpp"

using namespace donatio;
using namespace donatio::testing;
using nlohmann::json;

namespace {

// POST /v1/donations (201 required): {id, payment_intent, …}.
json donate(ServiceFixture& fx, const std::string& campaign, std::int64_t amount, const std::string& currency) {
  const std::string body = json{{"campaign", campaign},
                                {"amount", amount},
                                {"currency", currency},
                                {"donor", {{"email", "donor@example.org"}, {"name", "Donor"}}}}
                               .dump();
  auto res = fx.client().Post("/v1/donations", body, "application/json");
  REQUIRE(res);
  INFO(res->body);
  REQUIRE(res->status == 201);
  return json::parse(res->body);
}

// Confirms the donation's payment intent at the emulator with a test card; returns the charge id.
std::string pay(ServiceFixture& fx, const json& donation) {
  auto pi = fx.stripe().confirm(donation["payment_intent"]);
  REQUIRE(pi);
  return (*pi)["latest_charge"];
}

// Every webhook delivered (and so committed) and every fee lookup done.
void settle(ServiceFixture& fx) {
  REQUIRE(fx.stripe().wait_for_deliveries(std::chrono::seconds(20)));
  CHECK(fx.stripe().webhooks_failed() == 0);
  REQUIRE(eventually([&] {
    return count_rows(fx, "SELECT COUNT(*) FROM outbox WHERE kind = 'balance_transaction' AND status <> 'done'") == 0;
  }));
}

// The summary from the daily totals and the one straight from donations, byte for byte.
void check_same_summary(store::Database& db, std::int64_t from, std::int64_t to) {
  const reports::ReportPeriod period{from, to};
  auto fast = reports::load_summary(db, period);
  auto direct = reports::load_summary_from_donations(db, period);
  REQUIRE(fast.ok());
  REQUIRE(direct.ok());
  INFO("period " << format_iso8601(from) << " .. " << format_iso8601(to));
  CHECK(reports::summary_json(*fast) == reports::summary_json(*direct));
  CHECK(reports::summary_csv(*fast) == reports::summary_csv(*direct));
  CHECK(reports::summary_differences(*direct, *fast).empty());
}

// Every row of donation_daily_totals as text, in key order.
std::vector<std::string> totals_rows(store::Database& db) {
  std::vector<std::string> out;
  REQUIRE(db.read([&](soci::session& sql) {
    soci::rowset<soci::row> rows =
        (sql.prepare << "SELECT day, campaign_key, currency, donation_count, gross, fees, net, refunded, disputed, "
                        "fees_excluded FROM donation_daily_totals ORDER BY day, campaign_key, currency");
    for (const auto& r : rows) {
      std::string line;
      for (std::size_t i = 0; i < 10; ++i) line += store::str(r, i) + (i < 9 ? " " : "");
      out.push_back(line);
    }
    return Status::Ok();
  }).ok());
  return out;
}

const json* find_row(const json& rows, const json& campaign, const std::string& currency) {
  for (const auto& r : rows) {
    if (r["campaign"] == campaign && r["currency"] == currency) return &r;
  }
  return nullptr;
}

// A ledger over 2027-01-01 .. 2027-01-04 through the API, the emulator and its webhooks.
void build_ledger(ServiceFixture& fx) {
  auto& stripe = fx.stripe();
  fx.create_campaign("flood", "CHF");
  fx.create_campaign("cyber", "BHD");

  fx.clock().set_unix(at("2027-01-01T03:00:00Z"));
  pay(fx, donate(fx, "flood", 5000, "CHF"));            // succeeded
  const json partly = donate(fx, "flood", 10000, "CHF");  // partially refunded below
  pay(fx, partly);
  donate(fx, "flood", 7000, "CHF");  // never paid: stays pending
  const json declined = donate(fx, "flood", 1234, "CHF");
  stripe.confirm(declined["payment_intent"], true);  // failed
  settle(fx);
  REQUIRE(stripe.refund(partly["payment_intent"], 3000));
  settle(fx);

  fx.clock().set_unix(at("2027-01-01T11:00:00Z"));
  const std::string disputed = pay(fx, donate(fx, "cyber", 20000, "BHD"));
  const std::string lost = pay(fx, donate(fx, "cyber", 3000, "BHD"));
  const std::string won = pay(fx, donate(fx, "flood", 2000, "CHF"));
  settle(fx);
  REQUIRE(stripe.open_dispute(disputed));
  auto lost_dispute = stripe.open_dispute(lost);
  REQUIRE(lost_dispute);
  auto won_dispute = stripe.open_dispute(won);
  REQUIRE(won_dispute);
  settle(fx);
  REQUIRE(stripe.close_dispute((*lost_dispute)["id"], false));
  REQUIRE(stripe.close_dispute((*won_dispute)["id"], true));
  settle(fx);
  // The amount under dispute is recorded: open and lost keep it, won clears it.
  auto disputed_of = [&](const std::string& charge) {
    return query_string(fx, "SELECT disputed_amount FROM donations WHERE charge_id = '" + charge + "'");
  };
  CHECK(disputed_of(disputed) == "20000");
  CHECK(disputed_of(lost) == "3000");
  CHECK(disputed_of(won) == "0");

  fx.clock().set_unix(at("2027-01-02T01:00:00Z"));
  stripe.create_external_payment(4000, "EUR", {{"campaign", "flood"}});  // another currency than the campaign's
  stripe.create_external_payment(10000, "USD");                           // unattributed
  stripe.create_external_payment(5000, "JPY", {{"campaign", "no-such-campaign"}});  // unattributed too
  const json refunded = donate(fx, "flood", 2500, "CHF");
  pay(fx, refunded);
  settle(fx);
  REQUIRE(stripe.refund(refunded["payment_intent"], std::nullopt));
  settle(fx);

  fx.clock().set_unix(at("2027-01-02T23:59:59Z"));  // the last second of a day
  pay(fx, donate(fx, "flood", 777, "CHF"));
  settle(fx);
  fx.clock().set_unix(at("2027-01-03T00:00:00Z"));  // the first second of the next
  pay(fx, donate(fx, "cyber", 1250, "BHD"));
  settle(fx);

  fx.clock().set_unix(at("2027-01-04T12:00:00Z"));
  const json external = stripe.create_external_payment(6000, "CHF", {{"campaign", "flood"}});
  settle(fx);
  REQUIRE(stripe.refund(external["id"], 1000));  // a payment we did not create, partly refunded
  settle(fx);
}

}  // namespace

TEST_CASE("daily totals follow every write path: the summary equals a GROUP BY over donations for any period") {
  for (Backend backend : test_backends()) {
    SECTION(backend_name(backend)) {
      ServiceFixture fx(backend, {.stripe_emulator = true, .outbox_poll_ms = 20});
      build_ledger(fx);
      auto& db = fx.service().database();

      // The ledger is what the story says (so the comparisons below are not over nothing).
      const auto whole = reports::load_summary(db, {at("2027-01-01"), at("2027-01-05")});
      REQUIRE(whole.ok());
      const json doc = json::parse(reports::summary_json(*whole));
      const json* flood = find_row(doc["rows"], "flood", "CHF");
      REQUIRE(flood);
      CHECK((*flood)["count"] == 6);  // not the pending nor the declined one
      CHECK((*flood)["gross"] == 5000 + 10000 + 2000 + 2500 + 777 + 6000);
      CHECK((*flood)["refunded"] == 3000 + 2500 + 1000);
      CHECK((*flood)["fees_excluded"] == 0);  // every fee recorded by the outbox job
      CHECK((*flood)["fees"] > 0);
      const json* cyber = find_row(doc["rows"], "cyber", "BHD");
      REQUIRE(cyber);
      CHECK((*cyber)["count"] == 3);  // disputed, lost, and the one at midnight
      CHECK((*cyber)["gross"] == 24250);
      CHECK(find_row(doc["rows"], "flood", "EUR"));
      CHECK(find_row(doc["rows"], nullptr, "USD"));
      CHECK(find_row(doc["rows"], nullptr, "JPY"));
      CHECK(query_string(fx, "SELECT status FROM donations WHERE amount = 20000") == "disputed");
      CHECK(query_string(fx, "SELECT status FROM donations WHERE amount = 3000") == "lost");
      CHECK(query_string(fx, "SELECT status FROM donations WHERE amount = 2000") == "succeeded");
      CHECK(count_rows(fx, "SELECT COUNT(DISTINCT day) FROM donation_daily_totals") == 4);

      // Every period between these instants: whole days, partial days at either edge, periods
      // inside one day, across one midnight, empty ones.
      const std::vector<std::int64_t> instants = {
          at("2026-12-31T12:00:00Z"), at("2027-01-01T00:00:00Z"), at("2027-01-01T03:00:00Z"),
          at("2027-01-01T03:00:01Z"), at("2027-01-01T11:00:00Z"), at("2027-01-02T00:00:00Z"),
          at("2027-01-02T01:00:00Z"), at("2027-01-02T23:59:59Z"), at("2027-01-03T00:00:00Z"),
          at("2027-01-03T00:00:01Z"), at("2027-01-04T12:00:00Z"), at("2027-01-05T00:00:00Z"),
          at("2027-01-06T06:00:00Z")};
      for (std::size_t i = 0; i < instants.size(); ++i) {
        for (std::size_t j = i + 1; j < instants.size(); ++j) check_same_summary(db, instants[i], instants[j]);
      }

      // Over HTTP the body is byte for byte the GROUP BY's.
      const auto direct = reports::load_summary_from_donations(db, {at("2027-01-01T03:00:01Z"), at("2027-01-04T12:00:00Z")});
      REQUIRE(direct.ok());
      auto res = fx.client().Get("/v1/admin/reports/summary?from=2027-01-01T03:00:01Z&to=2027-01-04T12:00:00Z",
                                 bearer(fx.token("finance")));
      REQUIRE(res);
      CHECK(res->status == 200);
      CHECK(res->body == reports::summary_json(*direct));

      // Migration 003 run again on this ledger backfills exactly the rows the live path wrote,
      // and so does the rebuild.
      const auto live = totals_rows(db);
      REQUIRE(live.size() > 5);
      REQUIRE(db.transaction([](soci::session& sql) {
        sql << "DROP TABLE donation_daily_totals";
        sql << "DELETE FROM schema_migrations WHERE version = 3";
        return Status::Ok();
      }).ok());
      std::vector<std::string> applied;
      REQUIRE(db.migrate(&applied).ok());
      CHECK(applied == std::vector<std::string>{"003_daily_totals"});
      CHECK(totals_rows(db) == live);
      std::int64_t rebuilt = 0;
      REQUIRE(db.transaction([&](soci::session& sql) {
        rebuilt = store::rebuild_daily_totals(sql, db.dialect());
        return Status::Ok();
      }).ok());
      CHECK(rebuilt == static_cast<std::int64_t>(live.size()));
      CHECK(totals_rows(db) == live);
    }
  }
}

namespace {

// A gateway whose charge settles with the fee and currency the test sets (the emulator never
// converts currencies). Only what the balance_transaction job calls is implemented.
class SettlementGateway final : public PaymentGateway {
 public:
  std::int64_t fee = 0;
  std::int64_t net = 0;
  std::string currency;

  Result<Charge> retrieve_charge(const std::string& id) override {
    Charge c;
    c.id = id;
    c.balance_transaction = "txn_settlement";
    return c;
  }
  Result<BalanceTransaction> retrieve_balance_transaction(const std::string& id) override {
    BalanceTransaction t;
    t.id = id;
    t.fee_minor = fee;
    t.net_minor = net;
    t.currency = currency;
    t.exchange_rate = currency == "CHF" ? "" : "1.1";
    return t;
  }
  Result<PaymentIntent> create_payment_intent(const CreatePaymentIntent&) override { return unused(); }
  Result<PaymentIntent> retrieve_payment_intent(const std::string&) override { return unused(); }
  Result<Refund> create_refund(const CreateRefund&) override { return unused(); }
  Result<Page<std::string>> list_events(const ListWindow&, const std::vector<std::string>&) override { return unused(); }
  Result<Page<BalanceTransaction>> list_balance_transactions(const ListWindow&, const std::string&) override {
    return unused();
  }
  Result<Page<Payout>> list_payouts(const ListWindow&) override { return unused(); }

 private:
  static Status unused() { return Status::Unavailable("not used by this test"); }
};

}  // namespace

TEST_CASE("the fee job moves the daily totals: fee recorded, settled in another currency, corrected") {
  for (Backend backend : test_backends()) {
    SECTION(backend_name(backend)) {
      ServiceFixture fx(backend);
      fx.create_campaign("flood", "CHF");
      const auto t = fx.clock().now_unix();
      REQUIRE(post_signed(fx, payment_intent_event("evt_fee1", "payment_intent.succeeded", "pi_fee1", 5000, "chf",
                                                   {{"campaign", "flood"}}, t, "ch_fee1"))
                  ->status == 200);
      auto& db = fx.service().database();
      const std::string id = query_string(fx, "SELECT id FROM donations");
      const reports::ReportPeriod day{at("2027-01-01"), at("2027-01-02")};
      auto flood_row = [&] {
        auto s = reports::load_summary(db, day);
        REQUIRE(s.ok());
        REQUIRE(s->rows.size() == 1);
        return s->rows[0].amounts;
      };
      CHECK(flood_row().fees_excluded == 1);  // fee not known yet

      SettlementGateway gateway;
      auto job = outbox::balance_transaction_job(db, gateway, fx.clock());
      outbox::OutboxItem item;
      item.kind = "balance_transaction";
      item.payload = json{{"donation_id", id}, {"charge", "ch_fee1"}}.dump();

      gateway.fee = 160;
      gateway.net = 5340;
      gateway.currency = "USD";  // settled in another currency: never added to CHF
      REQUIRE(job(item).kind == outbox::JobOutcome::Kind::done);
      CHECK(flood_row().fees == 0);
      CHECK(flood_row().fees_excluded == 1);
      check_same_summary(db, day.from, day.to);

      gateway.fee = 175;
      gateway.net = 4825;
      gateway.currency = "CHF";
      REQUIRE(job(item).kind == outbox::JobOutcome::Kind::done);
      CHECK(flood_row().fees == 175);
      CHECK(flood_row().net == 4825);
      CHECK(flood_row().fees_excluded == 0);
      check_same_summary(db, day.from, day.to);

      gateway.fee = 180;  // recorded again with other figures: the totals follow, not add up
      gateway.net = 4820;
      REQUIRE(job(item).kind == outbox::JobOutcome::Kind::done);
      CHECK(flood_row().fees == 180);
      CHECK(flood_row().count == 1);
      check_same_summary(db, day.from, day.to);
      check_same_summary(db, day.from + 3600, day.to - 1);  // partial days only
    }
  }
}

TEST_CASE("concurrent webhooks on one campaign and day keep the totals exact, two instances on PostgreSQL") {
  for (Backend backend : test_backends()) {
    SECTION(backend_name(backend)) {
      ServiceFixture fx(backend);
      fx.create_campaign("flood", "CHF");
      std::vector<int> ports{fx.port()};
      std::unique_ptr<cli::Service> second;
      if (backend == Backend::postgresql) {
        Secrets secrets;
        secrets.webhook_secrets = {ServiceFixture::kWebhookSecret};
        secrets.receipt_secret = "receipt-secret-for-tests";
        cli::ServiceOptions options;
        options.clock = &fx.clock();
        second = std::make_unique<cli::Service>(fx.config(), secrets, options);
        auto port = second->start();
        REQUIRE(port.ok());
        second->run_in_background();
        ports.push_back(*port);
      }
      constexpr int kDonations = 120;
      const auto t = fx.clock().now_unix();
      std::atomic<int> answered{0};
      std::vector<std::thread> senders;
      for (int w = 0; w < 8; ++w) {
        senders.emplace_back([&, w] {
          for (int i = w; i < kDonations; i += 8) {
            const std::string k = std::to_string(i);
            httplib::Client client("127.0.0.1", ports[static_cast<std::size_t>(i) % ports.size()]);
            auto post = [&](const std::string& body) {
              const httplib::Headers headers{
                  {"Stripe-Signature", webhooks::sign_header(ServiceFixture::kWebhookSecret, fx.clock().now_unix(), body)}};
              auto res = client.Post("/webhooks/stripe", headers, body, "application/json");
              return res && res->status == 200;
            };
            // Unattributed every third one; a partial refund for every other one.
            const std::map<std::string, std::string> meta =
                i % 3 == 0 ? std::map<std::string, std::string>{} : std::map<std::string, std::string>{{"campaign", "flood"}};
            bool ok = post(payment_intent_event("evt_c" + k, "payment_intent.succeeded", "pi_c" + k, 1000 + i, "chf",
                                                meta, t + i, "ch_c" + k));
            if (ok && i % 2 == 0) {
              ok = post(charge_refunded_event("evt_r" + k, "ch_c" + k, "pi_c" + k, 1000 + i, 100 + i, "chf", t + i));
            }
            answered += ok ? 1 : 0;
          }
        });
      }
      for (auto& s : senders) s.join();
      if (second) second->stop();
      CHECK(answered == kDonations);
      auto& db = fx.service().database();
      check_same_summary(db, at("2027-01-01"), at("2027-01-02"));
      check_same_summary(db, at("2026-12-31T23:00:00Z"), at("2027-01-01T00:01:00Z"));
      CHECK(count_rows(fx, "SELECT SUM(donation_count) FROM donation_daily_totals") == kDonations);
      // The campaign's own totals (added up per batch by the webhook writer) equal its donations.
      const std::string raised =
          query_string(fx, "SELECT COALESCE(SUM(d.amount - d.amount_refunded), 0) FROM donations d JOIN campaigns c "
                           "ON c.id = d.campaign_id WHERE c.slug = 'flood' AND d.status IN ('succeeded', "
                           "'partially_refunded', 'disputed')");
      CHECK(raised != "0");
      CHECK(query_string(fx, "SELECT raised_amount FROM campaigns WHERE slug = 'flood'") == raised);
      CHECK(count_rows(fx, "SELECT donation_count FROM campaigns WHERE slug = 'flood'") ==
            count_rows(fx, "SELECT COUNT(*) FROM donations d JOIN campaigns c ON c.id = d.campaign_id "
                           "WHERE c.slug = 'flood'"));
    }
  }
}

TEST_CASE("report summary --verify finds totals that drifted from the donations, rebuild-totals repairs them") {
  for (Backend backend : test_backends()) {
    SECTION(backend_name(backend)) {
      ServiceFixture fx(backend);
      fx.create_campaign("flood", "CHF");
      const auto t = fx.clock().now_unix();
      REQUIRE(post_signed(fx, payment_intent_event("evt_v1", "payment_intent.succeeded", "pi_v1", 5000, "chf",
                                                   {{"campaign", "flood"}}, t, "ch_v1"))
                  ->status == 200);
      const std::string config = fx.dir().path() + "/verify.toml";
      std::ofstream(config) << "[server]\nlisten = \"127.0.0.1:0\"\ntls = false\n"
                            << "[database]\nurl = \"" << fx.config().database.url << "\"\n"
                            << "[organization]\nname = \"Test\"\naddress = \"Street 1\"\ntax_id = \"X\"\n"
                            << "receipt_prefix = \"T-\"\nreceipt_footer = \"Thanks\"\n";
      const std::vector<std::string> verify{"report", "summary", "--config", config, "--from", "2027-01-01",
                                            "--to", "2027-01-02", "--verify"};
      auto clean = run_donatio(verify);
      INFO(clean.err);
      CHECK(clean.exit_code == 0);
      CHECK(json::parse(clean.out)["rows"][0]["gross"] == 5000);

      // Someone edits a donation with SQL, behind donatio's back.
      REQUIRE(fx.service().database().transaction([](soci::session& sql) {
        sql << "UPDATE donations SET amount = 5100";
        return Status::Ok();
      }).ok());
      auto drifted = run_donatio(verify);
      CHECK(drifted.exit_code == 1);
      CHECK(drifted.err.find("flood CHF: expected count 1, gross 5100") != std::string::npos);

      auto rebuilt = run_donatio({"report", "rebuild-totals", "--config", config});
      INFO(rebuilt.err);
      CHECK(rebuilt.exit_code == 0);
      CHECK(rebuilt.out.find("1 rows") != std::string::npos);
      auto repaired = run_donatio(verify);
      CHECK(repaired.exit_code == 0);
      CHECK(json::parse(repaired.out)["rows"][0]["gross"] == 5100);
    }
  }
}
