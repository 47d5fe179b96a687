// Trust and privacy: the audit log, donor export and erasure, the retention purge, refunds
// with an Idempotency-Key. Real server, real Stripe client against the emulator, both databases.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <ctime>
#include <fstream>
#include <set>
#include <thread>

#include "donatio/clock.hpp"
#include "src/store/donation_store.hpp"
#include "support/process.hpp"
#include "support/service_fixture.hpp"
#include "support/webhook_client.hpp"
#include "support/helpers.hpp"

using namespace donatio::testing;
using nlohmann::json;

namespace {

std::string succeeded_donation(ServiceFixture& fx, const std::string& email, const std::string& name, int amount) {
  const std::string body = json{{"campaign", "flood-relief-2026"},
                                {"amount", amount},
                                {"currency", "CHF"},
                                {"donor", {{"email", email}, {"name", name}}}}
                               .dump();
  auto created = fx.client().Post("/v1/donations", body, "application/json");
  REQUIRE(created);
  REQUIRE(created->status == 201);
  auto answer = json::parse(created->body);
  REQUIRE(fx.stripe().confirm(answer["payment_intent"]));
  REQUIRE(fx.stripe().wait_for_deliveries(std::chrono::seconds(10)));
  return answer["id"];
}

httplib::Result post(ServiceFixture& fx, const std::string& token, const std::string& path, const std::string& body = "",
                     const std::string& request_id = "") {
  auto headers = bearer(token);
  if (!request_id.empty()) headers.emplace("X-Request-Id", request_id);
  return fx.client().Post(path.c_str(), headers, body, "application/json");
}

// The donation with `id` in an export's list (the fixture's clock is frozen, so the order of
// donations made in the same second is the order of their random ids).
json by_id(const json& donations, const std::string& id) {
  for (const auto& d : donations) {
    if (d["id"] == id) return d;
  }
  FAIL("donation " << id << " not in the export");
  return {};
}

std::string summary(ServiceFixture& fx, const std::string& token) {
  auto res = fx.client().Get("/v1/admin/reports/summary?from=2026-01-01&to=2028-01-01", bearer(token));
  REQUIRE(res);
  REQUIRE(res->status == 200);
  return res->body;
}

}  // namespace

TEST_CASE("donor export shows what we hold, erasure pseudonymises it and keeps the ledger") {
  for (Backend backend : test_backends()) {
    SECTION(backend_name(backend)) {
      ServiceFixture fx(backend, {.stripe_emulator = true});
      fx.create_campaign("flood-relief-2026", "CHF");
      const auto admin = fx.token("admin", "dpo");
      const auto finance = fx.token("finance");
      const auto first = succeeded_donation(fx, "Zoe.Mueller@Example.org", "Zoë Müller", 5000);
      const auto second = succeeded_donation(fx, "zoe.mueller@example.org", "Zoë Müller", 7000);
      succeeded_donation(fx, "someone@example.org", "Somebody Else", 3000);
      auto refund = post(fx, admin, "/v1/admin/donations/" + second + "/refund", R"({"amount":2000})");
      REQUIRE(refund->status == 201);
      REQUIRE(fx.stripe().wait_for_deliveries(std::chrono::seconds(10)));
      // Fees arrive asynchronously (the outbox asks Stripe for each balance transaction).
      for (int i = 0; i < 200 && count_rows(fx, "SELECT COUNT(*) FROM donations WHERE fee IS NULL") > 0; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      REQUIRE(count_rows(fx, "SELECT COUNT(*) FROM donations WHERE fee IS NULL") == 0);
      const std::string before = summary(fx, finance);
      const long long queued_before =
          count_rows(fx, "SELECT COUNT(*) FROM outbox WHERE kind = 'receipt_email' AND status = 'pending'");

      // Export: both donations (the address matches whatever its case), with history, receipts,
      // refunds, and the Stripe events that carry the address.
      auto doc = get_json(fx, admin, "/v1/admin/donors/zoe.mueller@example.org/export", 200);
      REQUIRE(doc["donations"].size() == 2);
      CHECK(by_id(doc["donations"], first)["donor"]["name"] == "Zoë Müller");
      CHECK(by_id(doc["donations"], first)["receipts"].size() == 1);
      CHECK(by_id(doc["donations"], second)["refunds"].size() == 1);
      CHECK(by_id(doc["donations"], second)["receipts"].size() == 2);  // the receipt and its amendment
      CHECK(!by_id(doc["donations"], first)["history"].empty());
      CHECK(!doc["stripe_events"].empty());
      CHECK(doc["stripe_events"].dump().find("zoe.mueller@example.org") != std::string::npos);
      CHECK(doc["stripe_events"].dump().find("someone@example.org") == std::string::npos);
      CHECK(get_json(fx, admin, "/v1/admin/donors/nobody@example.org/export", 200)["donations"].empty());

      // Finance may not export or erase.
      CHECK(fx.client().Get("/v1/admin/donors/zoe.mueller@example.org/export", bearer(finance))->status == 403);
      CHECK(post(fx, finance, "/v1/admin/donors/zoe.mueller@example.org/erase")->status == 403);
      CHECK(fx.client().Post("/v1/admin/donors/zoe.mueller@example.org/erase", "", "application/json")->status == 401);

      auto erased = post(fx, admin, "/v1/admin/donors/ZOE.MUELLER@example.org/erase");
      REQUIRE(erased);
      INFO(erased->body);
      REQUIRE(erased->status == 200);
      const auto result = json::parse(erased->body);
      const std::string pseudonym = result["pseudonym"];
      CHECK(pseudonym.size() > 15);
      CHECK(pseudonym.find("@erased.invalid") != std::string::npos);
      CHECK(result["donations"] == 2);
      CHECK(result["stripe_events"].get<int>() >= 2);
      CHECK(result["mails_cancelled"].get<long long>() == queued_before - 1);

      // Nothing left under the address or the name, anywhere.
      CHECK(get_json(fx, admin, "/v1/admin/donors/zoe.mueller@example.org/export", 200)["donations"].empty());
      CHECK(count_rows(fx, "SELECT COUNT(*) FROM donations WHERE LOWER(donor_email) LIKE '%mueller%'") == 0);
      CHECK(count_rows(fx, "SELECT COUNT(*) FROM donations WHERE donor_name LIKE '%Müller%'") == 0);
      CHECK(count_rows(fx, "SELECT COUNT(*) FROM events WHERE LOWER(payload) LIKE '%zoe.mueller%'") == 0);
      CHECK(count_rows(fx, "SELECT COUNT(*) FROM events WHERE payload LIKE '%Müller%'") == 0);
      CHECK(count_rows(fx, "SELECT COUNT(*) FROM audit_log WHERE LOWER(target) LIKE '%mueller%' OR LOWER(details) LIKE '%mueller%'") == 0);
      CHECK(count_rows(fx, "SELECT COUNT(*) FROM audit_log WHERE action = 'donor.erased' AND actor = 'dpo'") == 1);
      // The other donor is untouched; queued receipt mail for the erased donor is dropped.
      CHECK(count_rows(fx, "SELECT COUNT(*) FROM donations WHERE donor_email = 'someone@example.org'") == 1);
      CHECK(count_rows(fx, "SELECT COUNT(*) FROM events WHERE payload LIKE '%someone@example.org%'") > 0);
      CHECK(count_rows(fx, "SELECT COUNT(*) FROM outbox WHERE kind = 'receipt_email' AND status = 'pending'") == 1);

      // The ledger is whole: amounts, receipts and the finance summary are unchanged.
      auto kept = get_json(fx, admin, "/v1/admin/donors/" + pseudonym + "/export", 200);
      REQUIRE(kept["donations"].size() == 2);
      CHECK(by_id(kept["donations"], first)["donor"]["name"] == "Erased donor");
      CHECK(by_id(kept["donations"], first)["amount"] == 5000);
      CHECK(by_id(kept["donations"], second)["amount_refunded"] == 2000);
      CHECK(by_id(kept["donations"], second)["receipts"].size() == 2);
      CHECK(summary(fx, finance) == before);

      // Erasing again finds nobody.
      CHECK(post(fx, admin, "/v1/admin/donors/zoe.mueller@example.org/erase")->status == 404);
    }
  }
}

TEST_CASE("a donor is found by e-mail address in any case, through the index on the folded address") {
  for (Backend backend : test_backends()) {
    SECTION(backend_name(backend)) {
      ServiceFixture fx(backend, {.stripe_emulator = true});
      fx.create_campaign("flood-relief-2026", "CHF");
      const auto admin = fx.token("admin");
      succeeded_donation(fx, "Ada.Lovelace@Example.org", "Ada", 5000);
      succeeded_donation(fx, "ada.lovelace@example.org", "Ada", 6000);
      succeeded_donation(fx, "someone@example.org", "Somebody", 3000);
      CHECK(get_json(fx, admin, "/v1/admin/donors/ADA.LOVELACE@EXAMPLE.ORG/export", 200)["donations"].size() == 2);
      CHECK(get_json(fx, admin, "/v1/admin/donors/ada.lovelace@example.org/export", 200)["donations"].size() == 2);

      const bool pg = backend == Backend::postgresql;
      const std::string definition = query_string(
          fx, pg ? "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() "
                   "AND indexname = 'donations_donor_email'"
                 : "SELECT sql FROM sqlite_master WHERE name = 'donations_donor_email'");
      INFO(definition);
      CHECK(definition.find(pg ? "(lower(donor_email))" : "(LOWER(donor_email))") != std::string::npos);
      // The lookup the export, the erasure and the annual statement make.
      std::string match = donatio::store::kDonorEmailMatch;
      match.replace(match.find(":e"), 2, "'Ada.Lovelace@example.org'");
      const std::string query =
          std::string(pg ? "EXPLAIN " : "EXPLAIN QUERY PLAN ") + "SELECT d.id FROM donations d WHERE " + match;
      std::string plan;
      REQUIRE(fx.service().database().read([&](soci::session& sql) {
        if (pg) sql << "SET enable_seqscan = off";  // a handful of rows: a scan would be cheaper
        soci::rowset<soci::row> rows = (sql.prepare << query);
        for (const auto& r : rows) plan += r.get<std::string>(pg ? 0 : 3) + "\n";
        if (pg) sql << "RESET enable_seqscan";
        return donatio::Status::Ok();
      }).ok());
      INFO(plan);
      CHECK(plan.find("donations_donor_email") != std::string::npos);
    }
  }
}

TEST_CASE("the audit log records who did what, pages by period and is append-only") {
  for (Backend backend : test_backends()) {
    SECTION(backend_name(backend)) {
      ServiceFixture fx(backend, {.stripe_emulator = true});
      fx.create_campaign("flood-relief-2026", "CHF");
      const auto alice = fx.token("admin", "alice");
      const auto finance = fx.token("finance");
      const auto id = succeeded_donation(fx, "ada@example.org", "Ada", 5000);
      REQUIRE(post(fx, alice, "/v1/admin/donations/" + id + "/refund", R"({"amount":1000})", "audit-test-refund")->status == 201);
      REQUIRE(post(fx, alice, "/v1/admin/donors/ada@example.org/erase", "", "audit-test-erase")->status == 200);

      auto all = get_json(fx, alice, "/v1/admin/audit", 200);
      std::vector<std::string> actions;
      for (const auto& row : all["data"]) actions.push_back(row["action"]);
      INFO(all.dump(2));
      CHECK(std::count(actions.begin(), actions.end(), "token.created") >= 2);  // at least alice and finance
      CHECK(std::count(actions.begin(), actions.end(), "campaign.created") == 1);
      CHECK(std::count(actions.begin(), actions.end(), "donation.refund_requested") == 1);
      CHECK(std::count(actions.begin(), actions.end(), "donor.erased") == 1);
      for (const auto& row : all["data"]) {
        if (row["action"] == "donation.refund_requested") {
          CHECK(row["actor"] == "alice");
          CHECK(row["target"] == id);
          CHECK(row["request_id"] == "audit-test-refund");
          CHECK(row["details"]["amount"] == 1000);
        }
        if (row["action"] == "donor.erased") CHECK(row["request_id"] == "audit-test-erase");
      }
      // By period (the fixture's clock stands at 2027-01-01T00:00:00Z), and by page.
      CHECK(get_json(fx, alice, "/v1/admin/audit?from=2027-01-01&to=2027-01-02", 200)["data"].size() == all["data"].size());
      CHECK(get_json(fx, alice, "/v1/admin/audit?from=2027-01-02&to=2027-02-01", 200)["data"].empty());
      auto page1 = get_json(fx, alice, "/v1/admin/audit?limit=2", 200);
      REQUIRE(page1["data"].size() == 2);
      REQUIRE(page1["next_cursor"].is_string());
      auto page2 = get_json(fx, alice, "/v1/admin/audit?limit=2&cursor=" + page1["next_cursor"].get<std::string>(), 200);
      REQUIRE(!page2["data"].empty());
      CHECK(page2["data"][0]["id"] == all["data"][2]["id"]);
      // Every row once, in order, with or without a period, though all share one second; the
      // last page carries no cursor (never one to an empty page).
      for (const std::string period : {"", "&from=2027-01-01&to=2027-01-02"}) {
        INFO(period);
        std::vector<json> walked;
        const auto pages = walk_pages(fx, alice, "/v1/admin/audit?limit=2" + period);
        for (const auto& page : pages) {
          CHECK(!page.empty());
          for (const auto& row : page) walked.push_back(row["id"]);
        }
        REQUIRE(walked.size() == all["data"].size());
        for (std::size_t i = 0; i < walked.size(); ++i) CHECK(walked[i] == all["data"][i]["id"]);
        CHECK(pages.size() == (all["data"].size() + 1) / 2);
      }

      // Admins only; bad queries name their field.
      CHECK(fx.client().Get("/v1/admin/audit", bearer(finance))->status == 403);
      CHECK(fx.client().Get("/v1/admin/audit")->status == 401);
      for (const auto& [query, field] : std::vector<std::pair<std::string, std::string>>{
               {"from=yesterday", "from"}, {"from=2027-02-01&to=2027-01-01", "to"}, {"limit=0", "limit"},
               {"limit=5000", "limit"}, {"cursor=x.y", "cursor"}}) {
        auto res = fx.client().Get(("/v1/admin/audit?" + query).c_str(), bearer(alice));
        INFO(query);
        REQUIRE(res);
        CHECK(res->status == 400);
        CHECK(json::parse(res->body)["error"]["field"] == field);
      }
      // Append-only: neither the API nor the database lets a row change or go.
      CHECK(fx.client().Delete("/v1/admin/audit", bearer(alice))->status / 100 == 4);
      const long long rows = count_rows(fx, "SELECT COUNT(*) FROM audit_log");
      for (const char* statement : {"UPDATE audit_log SET actor = 'mallory'", "DELETE FROM audit_log"}) {
        INFO(statement);
        CHECK_FALSE(fx.service().database().transaction([&](soci::session& sql) {
          sql << statement;
          return donatio::Status::Ok();
        }).ok());
      }
      CHECK(count_rows(fx, "SELECT COUNT(*) FROM audit_log") == rows);
      CHECK(count_rows(fx, "SELECT COUNT(*) FROM audit_log WHERE actor = 'mallory'") == 0);
    }
  }
}

TEST_CASE("a refund sent again with its Idempotency-Key is made once") {
  for (Backend backend : test_backends()) {
    SECTION(backend_name(backend)) {
      ServiceFixture fx(backend, {.stripe_emulator = true});
      fx.create_campaign("flood-relief-2026", "CHF");
      const auto admin = fx.token("admin");
      const auto id = succeeded_donation(fx, "bo@example.org", "Bo", 5000);
      const std::string path = "/v1/admin/donations/" + id + "/refund";
      auto headers = bearer(admin);
      headers.emplace("Idempotency-Key", "refund-click-1");
      // Four clicks at once, each a partial refund: without the key each would refund.
      std::vector<int> statuses(4);
      std::vector<std::string> bodies(4);
      std::vector<std::thread> clicks;
      for (int i = 0; i < 4; ++i) {
        clicks.emplace_back([&, i] {
          auto res = fx.client().Post(path.c_str(), headers, R"({"amount":1000})", "application/json");
          statuses[i] = res ? res->status : -1;
          if (res) bodies[i] = res->body;
        });
      }
      for (auto& c : clicks) c.join();
      for (int i = 0; i < 4; ++i) {
        INFO(bodies[i]);
        CHECK((statuses[i] == 201 || statuses[i] == 409));
      }
      CHECK(std::count(statuses.begin(), statuses.end(), 201) >= 1);
      CHECK(fx.stripe().count("POST", "/v1/refunds") == 1);
      CHECK(count_rows(fx, "SELECT COUNT(*) FROM refunds") == 1);
      // Later, the same key answers with the same refund; another request under it is refused.
      auto again = fx.client().Post(path.c_str(), headers, R"({"amount":1000})", "application/json");
      REQUIRE(again);
      CHECK(again->status == 201);
      CHECK(again->get_header_value("Idempotent-Replayed") == "true");
      CHECK(json::parse(again->body)["id"] == query_string(fx, "SELECT id FROM refunds"));
      auto other = fx.client().Post(path.c_str(), headers, R"({"amount":1500})", "application/json");
      REQUIRE(other);
      CHECK(other->status == 409);
      CHECK(json::parse(other->body)["error"]["code"] == "idempotency_key_reused");
      CHECK(fx.stripe().count("POST", "/v1/refunds") == 1);
    }
  }
}

TEST_CASE("a refund retried with its Idempotency-Key answers what the first answered, or asks Stripe again when unknown") {
  for (Backend backend : test_backends()) {
    SECTION(backend_name(backend)) {
      ServiceFixture fx(backend, {.stripe_emulator = true});
      fx.create_campaign("flood-relief-2026", "CHF");
      const auto admin = fx.token("admin");

      // Stripe refuses: 502 with its code; the retry gets the same 502 without asking Stripe.
      const auto refused = succeeded_donation(fx, "cy@example.org", "Cy", 5000);
      const std::string refused_path = "/v1/admin/donations/" + refused + "/refund";
      auto headers = bearer(admin);
      headers.emplace("Idempotency-Key", "refund-refused-1");
      fx.stripe().fail_next(1, 400,
                            R"({"error":{"type":"invalid_request_error","code":"charge_disputed",)"
                            R"("message":"This charge is disputed."}})",
                            "/v1/refunds");
      auto first = fx.client().Post(refused_path.c_str(), headers, "{}", "application/json");
      REQUIRE(first);
      INFO(first->body);
      CHECK(first->status == 502);
      const auto first_error = json::parse(first->body)["error"];
      auto retry = fx.client().Post(refused_path.c_str(), headers, "{}", "application/json");
      REQUIRE(retry);
      CHECK(retry->status == 502);
      CHECK(json::parse(retry->body)["error"]["code"] == first_error["code"]);
      CHECK(json::parse(retry->body)["error"]["message"] == first_error["message"]);
      CHECK(fx.stripe().count("POST", "/v1/refunds") == 1);
      CHECK(query_string(fx, "SELECT status FROM refunds WHERE donation_id = '" + refused + "'") == "failed");

      // Stripe unreachable: the outcome is unknown, the refund stays pending and holds the key.
      const auto unknown = succeeded_donation(fx, "di@example.org", "Di", 5000);
      const std::string unknown_path = "/v1/admin/donations/" + unknown + "/refund";
      auto unknown_headers = bearer(admin);
      unknown_headers.emplace("Idempotency-Key", "refund-unknown-1");
      fx.stripe().fail_next(100, 500, "", "/v1/refunds");
      auto down = fx.client().Post(unknown_path.c_str(), unknown_headers, "{}", "application/json");
      REQUIRE(down);
      CHECK(down->status == 503);
      fx.stripe().clear_faults();
      const int calls = fx.stripe().count("POST", "/v1/refunds");
      auto busy = fx.client().Post(unknown_path.c_str(), unknown_headers, "{}", "application/json");
      REQUIRE(busy);
      CHECK(busy->status == 409);
      CHECK(json::parse(busy->body)["error"]["code"] == "idempotency_key_in_use");
      CHECK(fx.stripe().count("POST", "/v1/refunds") == calls);
      // Past the in-flight bound (120 s) a retry asks Stripe again with the same Stripe key.
      exec_sql(fx, {"UPDATE refunds SET created_at = created_at - 121 WHERE donation_id = '" + unknown + "'"});
      auto later = fx.client().Post(unknown_path.c_str(), unknown_headers, "{}", "application/json");
      REQUIRE(later);
      INFO(later->body);
      CHECK(later->status == 201);
      CHECK(later->get_header_value("Idempotent-Replayed") == "true");
      CHECK(json::parse(later->body)["status"] == "succeeded");
      std::set<std::string> keys;
      for (const auto& r : fx.stripe().requests()) {
        if (r.method == "POST" && r.path == "/v1/refunds" && r.params.count("metadata[donation_id]") &&
            r.params.find("metadata[donation_id]")->second == unknown) {
          keys.insert(r.idempotency_key.value_or(""));
        }
      }
      CHECK(keys.size() == 1);
      CHECK(count_rows(fx, "SELECT COUNT(*) FROM refunds WHERE donation_id = '" + unknown + "'") == 1);
    }
  }
}

TEST_CASE("donatio refund and donatio privacy work from the command line") {
  for (Backend backend : test_backends()) {
    SECTION(backend_name(backend)) {
      ServiceFixture fx(backend, {.stripe_emulator = true});
      fx.create_campaign("flood-relief-2026", "CHF");
      const auto id = succeeded_donation(fx, "cli@example.org", "Cli Donor", 5000);
      const std::string config = fx.dir().path() + "/cli.toml";
      std::ofstream(config) << "[server]\nlisten = \"127.0.0.1:0\"\ntls = false\n"
                            << "[database]\nurl = \"" << fx.config().database.url << "\"\n"
                            << "[stripe]\napi_base = \"" << fx.stripe().base_url() << "\"\n"
                            << "secret_key_env = \"DONATIO_TEST_CLI_KEY\"\nmax_retries = 0\n"
                            << "[organization]\nname = \"Test\"\n[privacy]\nreceipt_retention_years = 10\n";
      const std::map<std::string, std::string> env{{"DONATIO_TEST_CLI_KEY", ServiceFixture::kStripeKey}};

      // Refund: bad input is a usage error and reaches nobody; then twice with one key, once at Stripe.
      CHECK(run_donatio({"refund", id, "--config", config, "--amount", "-5"}, env).exit_code == 2);
      CHECK(run_donatio({"refund", "--config", config}, env).exit_code == 2);
      CHECK(run_donatio({"refund", "don_nope", "--config", config}, env).exit_code == 1);
      for (int i = 0; i < 2; ++i) {
        auto r = run_donatio({"refund", id, "--config", config, "--amount", "1500", "--idempotency-key", "cli-1"}, env);
        INFO(r.out << r.err);
        CHECK(r.exit_code == 0);
        CHECK(r.out.find("1500 CHF") != std::string::npos);
      }
      CHECK(fx.stripe().count("POST", "/v1/refunds") == 1);
      REQUIRE(fx.stripe().wait_for_deliveries(std::chrono::seconds(10)));
      CHECK(query_string(fx, "SELECT status FROM donations WHERE id = '" + id + "'") == "partially_refunded");

      // Export and erase.
      auto exported = run_donatio({"privacy", "export", "cli@example.org", "--config", config});
      REQUIRE(exported.exit_code == 0);
      CHECK(json::parse(exported.out)["donations"].size() == 1);
      auto erased = run_donatio({"privacy", "erase", "cli@example.org", "--config", config});
      INFO(erased.err);
      CHECK(erased.exit_code == 0);
      CHECK(run_donatio({"privacy", "erase", "cli@example.org", "--config", config}).exit_code == 1);
      CHECK(count_rows(fx, "SELECT COUNT(*) FROM audit_log WHERE action = 'donor.erased' AND actor LIKE 'cli:%'") == 1);

      // Purge: gifts from before 1 January of (this year - 10) go, with everything about them;
      // later ones and the receipt counters stay.
      const int year = std::stoi(donatio::format_iso8601(std::time(nullptr)).substr(0, 4));
      std::int64_t old_at = 0, kept_at = 0;
      REQUIRE(donatio::parse_iso8601(std::to_string(year - 11) + "-06-01", old_at));
      REQUIRE(donatio::parse_iso8601(std::to_string(year - 10) + "-01-01", kept_at));
      std::vector<std::string> seed;
      for (const auto& [name, at] : std::vector<std::pair<std::string, std::int64_t>>{{"old", old_at}, {"kept", kept_at}}) {
        const std::string t = std::to_string(at);
        const std::string y = donatio::format_iso8601(at).substr(0, 4);
        seed.push_back("INSERT INTO donations (id, status, amount, gift_amount, currency, donor_email, donor_name, source, "
                       "payment_intent_id, created_at, updated_at) VALUES ('don_" + name + "', 'succeeded', 900, 900, 'CHF', '" +
                       name + "@example.org', 'N', 'api', 'pi_" + name + "', " + t + ", " + t + ")");
        seed.push_back("INSERT INTO donation_history (donation_id, from_status, to_status, created_at) VALUES ('don_" + name +
                       "', NULL, 'succeeded', " + t + ")");
        seed.push_back("INSERT INTO receipts (number, donation_id, kind, year, sequence, amount, currency, issued_at) VALUES ('T-" +
                       y + "-000001', 'don_" + name + "', 'receipt', " + y + ", 1, 900, 'CHF', " + t + ")");
        seed.push_back("INSERT INTO receipt_counters (prefix, year, last_number) VALUES ('T-', " + y + ", 1)");
        seed.push_back("INSERT INTO events (id, type, created, received_at, source, status, object_id, payload) VALUES ('evt_" +
                       name + "', 'payment_intent.succeeded', " + t + ", " + t + ", 'webhook', 'applied', 'pi_" + name +
                       "', '{\"email\":\"" + name + "@example.org\"}')");
        seed.push_back("INSERT INTO outbox (kind, payload, status, next_attempt_at, created_at, updated_at) VALUES "
                       "('receipt_email', '{\"donation_id\":\"don_" + name + "\"}', 'done', " + t + ", " + t + ", " + t + ")");
      }
      exec_sql(fx, seed);
      REQUIRE(run_donatio({"report", "rebuild-totals", "--config", config}).exit_code == 0);
      const std::string old_year = std::to_string(year - 11), kept_year = std::to_string(year - 10);
      auto summary_of = [&](const std::string& y) {
        auto r = run_donatio({"report", "summary", "--config", config, "--from", y + "-01-01", "--to",
                              std::to_string(std::stoi(y) + 1) + "-01-01"});
        REQUIRE(r.exit_code == 0);
        return r.out;
      };
      CHECK(summary_of(old_year).find("\"gross\":900") != std::string::npos);
      const std::string kept_summary = summary_of(kept_year);
      CHECK(kept_summary.find("\"gross\":900") != std::string::npos);
      const long long donations = count_rows(fx, "SELECT COUNT(*) FROM donations");
      auto dry = run_donatio({"privacy", "purge", "--config", config, "--dry-run"});
      INFO(dry.out << dry.err);
      CHECK(dry.exit_code == 0);
      CHECK(dry.out.find("would delete") != std::string::npos);
      CHECK(dry.out.find(" 1 donations") != std::string::npos);
      CHECK(count_rows(fx, "SELECT COUNT(*) FROM donations") == donations);
      auto purged = run_donatio({"privacy", "purge", "--config", config});
      CHECK(purged.exit_code == 0);
      CHECK(count_rows(fx, "SELECT COUNT(*) FROM donations") == donations - 1);
      CHECK(count_rows(fx, "SELECT COUNT(*) FROM donations WHERE id IN ('don_kept', '" + id + "')") == 2);
      for (const char* table : {"receipts", "donation_history"}) {
        CHECK(count_rows(fx, std::string("SELECT COUNT(*) FROM ") + table + " WHERE donation_id = 'don_old'") == 0);
        CHECK(count_rows(fx, std::string("SELECT COUNT(*) FROM ") + table + " WHERE donation_id = 'don_kept'") == 1);
      }
      CHECK(count_rows(fx, "SELECT COUNT(*) FROM events WHERE id = 'evt_old'") == 0);
      CHECK(count_rows(fx, "SELECT COUNT(*) FROM events WHERE id = 'evt_kept'") == 1);
      CHECK(count_rows(fx, "SELECT COUNT(*) FROM outbox WHERE payload LIKE '%don_old%'") == 0);
      CHECK(count_rows(fx, "SELECT COUNT(*) FROM receipt_counters WHERE year = " + std::to_string(year - 11)) == 1);
      CHECK(count_rows(fx, "SELECT COUNT(*) FROM audit_log WHERE action = 'privacy.purged'") == 1);
      // The summary agrees: nothing left in the purged year, the kept year unchanged.
      CHECK(summary_of(old_year).find("\"gross\":900") == std::string::npos);
      CHECK(summary_of(kept_year) == kept_summary);
      CHECK(run_donatio({"report", "summary", "--config", config, "--from", old_year + "-01-01", "--to",
                         std::to_string(year + 1) + "-01-01", "--verify"}).exit_code == 0);
      CHECK(run_donatio({"privacy", "purge", "--config", config, "--bogus"}).exit_code == 2);
    }
  }
}
