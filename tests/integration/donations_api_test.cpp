// POST /v1/donations through the real StripeClient against the Stripe emulator, on SQLite and
// PostgreSQL; GET /v1/admin/donations.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <thread>

#include "support/helpers.hpp"
#include "support/service_fixture.hpp"

using namespace donatio::testing;
using nlohmann::json;

namespace {

const char* kGift = R"({"campaign":"flood-relief-2026","amount":5000,"currency":"CHF",
  "donor":{"email":"zoe@example.org","name":"Zoë Müller"}})";

httplib::Result donate(ServiceFixture& fx, const std::string& body, const std::string& key = "") {
  httplib::Headers headers;
  if (!key.empty()) headers.emplace("Idempotency-Key", key);
  return fx.client().Post("/v1/donations", headers, body, "application/json");
}

int intents_created(ServiceFixture& fx) { return fx.stripe().count("POST", "/v1/payment_intents"); }

}  // namespace

TEST_CASE("a donation creates a payment intent and answers 201 with the client secret") {
  for (Backend backend : test_backends()) {
    SECTION(backend_name(backend)) {
      ServiceFixture fx(backend, {.stripe_emulator = true});
      fx.create_campaign("flood-relief-2026", "CHF");
      auto res = donate(fx, kGift);
      REQUIRE(res);
      INFO(res->body);
      REQUIRE(res->status == 201);
      CHECK(res->get_header_value("Cache-Control") == "no-store");
      auto body = json::parse(res->body);
      CHECK(body["status"] == "pending");
      CHECK(body["amount"] == 5000);
      CHECK(body["currency"] == "CHF");
      CHECK(body["campaign"] == "flood-relief-2026");
      const std::string pi = body["payment_intent"];
      CHECK(pi.rfind("pi_", 0) == 0);
      CHECK(body["client_secret"].get<std::string>().rfind(pi + "_secret_", 0) == 0);

      // What Stripe received: form-encoded nested params, our key, pinned version, derived key.
      auto requests = fx.stripe().requests();
      const auto& create = *std::find_if(requests.begin(), requests.end(), [](const auto& r) {
        return r.method == "POST" && r.path == "/v1/payment_intents";
      });
      auto param = [&](const std::string& k) {
        auto it = create.params.find(k);
        return it == create.params.end() ? std::string("<missing>") : it->second;
      };
      CHECK(param("amount") == "5000");
      CHECK(param("currency") == "chf");
      CHECK(param("metadata[donation_id]") == body["id"].get<std::string>());
      CHECK(param("metadata[campaign]") == "flood-relief-2026");
      CHECK(param("automatic_payment_methods[enabled]") == "true");
      CHECK(param("receipt_email") == "zoe@example.org");
      CHECK(create.headers.at("authorization") == "Bearer sk_test_fixture_key");
      CHECK(create.headers.at("stripe-version") == "2024-06-20");
      CHECK(create.idempotency_key == "donatio-pi-" + body["id"].get<std::string>());

      // The ledger has the pending row with the intent attached.
      const auto finance = fx.token("finance");
      auto list = json::parse(fx.client().Get("/v1/admin/donations", bearer(finance))->body)["data"];
      REQUIRE(list.size() == 1);
      CHECK(list[0]["id"] == body["id"]);
      CHECK(list[0]["status"] == "pending");
      CHECK(list[0]["payment_intent"] == pi);
      CHECK(list[0]["donor"]["name"] == "Zoë Müller");
    }
  }
}

TEST_CASE("invalid donations are refused with the field named and nothing reaches Stripe") {
  for (Backend backend : test_backends()) {
    SECTION(backend_name(backend)) {
      ServiceFixture fx(backend, {.stripe_emulator = true});
      fx.create_campaign("flood-relief-2026", "CHF");
      fx.create_campaign("ended", "CHF", R"(,"ends_at":"2026-06-01T00:00:00Z")");
      fx.create_campaign("quake-jp", "JPY");
      struct Case {
        std::string body;
        int status;
        const char* field;
      };
      auto gift = [](const std::string& fields) {
        return R"({"campaign":"flood-relief-2026","currency":"CHF","donor":{"email":"a@example.org","name":"A"})" +
               fields + "}";
      };
      const std::vector<Case> cases = {
          {gift(R"(,"amount":50.5)"), 400, "amount"},
          {gift(R"(,"amount":"5000")"), 400, "amount"},
          {gift(R"(,"amount":-100)"), 400, "amount"},
          {gift(""), 400, "amount"},
          {gift(R"(,"amount":49)"), 422, "amount"},
          {gift(R"(,"amount":999999999999)"), 422, "amount"},
          {gift(R"(,"amount":5000,"tip":1)"), 400, "tip"},
          {gift(R"(,"amount":5000,"cover_fees":"yes")"), 400, "cover_fees"},
          {R"({"campaign":"flood-relief-2026","amount":5000,"currency":"EUR","donor":{"email":"a@example.org"}})", 422, "currency"},
          {R"({"campaign":"flood-relief-2026","amount":5000,"currency":"ZZZ","donor":{"email":"a@example.org"}})", 400, "currency"},
          {R"({"campaign":"nope","amount":5000,"currency":"CHF","donor":{"email":"a@example.org"}})", 422, "campaign"},
          {R"({"campaign":"ended","amount":5000,"currency":"CHF","donor":{"email":"a@example.org"}})", 422, "campaign"},
          {R"({"campaign":"flood-relief-2026","amount":5000,"currency":"CHF","donor":{"email":"not-an-email"}})", 400, "donor.email"},
          {R"({"campaign":"flood-relief-2026","amount":5000,"currency":"CHF","donor":{"email":"a@example.org","name":")" +
               std::string(300, 'x') + R"("}})", 400, "donor.name"},
          {R"({"campaign":"flood-relief-2026","amount":5000,"currency":"CHF","donor":{"email":"a@example.org","age":3}})", 400, "donor.age"},
          {R"({"campaign":"flood-relief-2026","amount":5000,"currency":"CHF"})", 400, "donor"},
          {R"({"campaign":"quake-jp","amount":49,"currency":"JPY","donor":{"email":"a@example.org"}})", 422, "amount"},
      };
      for (const auto& c : cases) {
        INFO(c.body);
        auto res = donate(fx, c.body);
        REQUIRE(res);
        INFO(res->body);
        CHECK(res->status == c.status);
        CHECK(json::parse(res->body)["error"]["field"] == c.field);
      }
      CHECK(donate(fx, "{not json")->status == 400);
      CHECK(fx.client().Post("/v1/donations", kGift, "text/plain")->status == 415);
      CHECK(intents_created(fx) == 0);
      // A JPY gift at the minimum is fine (zero-decimal currency).
      CHECK(donate(fx, R"({"campaign":"quake-jp","amount":50,"currency":"JPY","donor":{"email":"a@example.org"}})")->status == 201);
    }
  }
}

TEST_CASE("campaign changes through the admin API apply to the very next donation") {
  for (Backend backend : test_backends()) {
    SECTION(backend_name(backend)) {
      ServiceFixture fx(backend, {.stripe_emulator = true});
      fx.create_campaign("flood-relief-2026", "CHF");
      REQUIRE(donate(fx, kGift)->status == 201);  // the campaign is now in the donation path's cache
      const auto admin = fx.token("admin");
      auto closed = fx.client().Patch("/v1/admin/campaigns/flood-relief-2026", bearer(admin), R"({"status":"closed"})",
                                      "application/json");
      REQUIRE(closed);
      REQUIRE(closed->status == 200);
      auto refused = donate(fx, kGift);
      CHECK(refused->status == 422);
      CHECK(json::parse(refused->body)["error"]["code"] == "campaign_closed");

      // "No such campaign" is cached too, and forgotten when a campaign is created.
      const std::string later = R"({"campaign":"later","amount":5000,"currency":"EUR","donor":{"email":"a@example.org"}})";
      auto unknown = donate(fx, later);
      CHECK(unknown->status == 422);
      CHECK(json::parse(unknown->body)["error"]["code"] == "campaign_not_found");
      fx.create_campaign("later", "EUR");
      CHECK(donate(fx, later)->status == 201);
      CHECK(intents_created(fx) == 2);
    }
  }
}

TEST_CASE("the same Idempotency-Key and body get the same answer, another body gets 409") {
  for (Backend backend : test_backends()) {
    SECTION(backend_name(backend)) {
      ServiceFixture fx(backend, {.stripe_emulator = true});
      fx.create_campaign("flood-relief-2026", "CHF");
      auto first = donate(fx, kGift, "key-123");
      auto second = donate(fx, kGift, "key-123");
      REQUIRE(first);
      REQUIRE(second);
      CHECK(first->status == 201);
      CHECK(second->status == 201);
      CHECK(json::parse(first->body) == json::parse(second->body));
      CHECK(intents_created(fx) == 1);
      auto other = donate(fx, R"({"campaign":"flood-relief-2026","amount":7000,"currency":"CHF",
        "donor":{"email":"zoe@example.org","name":"Zoë Müller"}})", "key-123");
      CHECK(other->status == 409);
      CHECK(json::parse(other->body)["error"]["code"] == "idempotency_key_reused");
      // Without a key a retry is a new donation.
      auto a = json::parse(donate(fx, kGift)->body);
      auto b = json::parse(donate(fx, kGift)->body);
      CHECK(a["id"] != b["id"]);
      CHECK(intents_created(fx) == 3);
    }
  }
}

TEST_CASE("concurrent requests with one Idempotency-Key create one donation") {
  ServiceFixture fx(Backend::sqlite, {.stripe_emulator = true});
  fx.create_campaign("flood-relief-2026", "CHF");
  std::vector<std::thread> threads;
  std::vector<std::string> ids(6);
  for (int i = 0; i < 6; ++i) {
    threads.emplace_back([&, i] {
      auto res = donate(fx, kGift, "same-key");
      if (res && res->status == 201) ids[i] = json::parse(res->body)["id"];
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> distinct;
  for (const auto& id : ids) if (!id.empty()) distinct.insert(id);
  CHECK(distinct.size() == 1);
  CHECK(intents_created(fx) >= 1);
  CHECK(fx.stripe().events_of_type("payment_intent.created").size() == 1);
}

TEST_CASE("cover_fees grosses the charge up so the campaign receives the intended gift") {
  ServiceFixture fx(Backend::sqlite, {.stripe_emulator = true});
  fx.create_campaign("flood-relief-2026", "CHF");
  auto res = donate(fx, R"({"campaign":"flood-relief-2026","amount":10000,"currency":"CHF","cover_fees":true,
    "donor":{"email":"a@example.org"}})");
  REQUIRE(res->status == 201);
  auto body = json::parse(res->body);
  // 2.9 % + CHF 0.30: ceil((10000 + 30) / 0.971) = 10330
  CHECK(body["amount"] == 10330);
  CHECK(body["gift_amount"] == 10000);
  CHECK(fx.stripe().payment_intent(body["payment_intent"])->at("amount") == 10330);
}

TEST_CASE("provider faults map to 502, 503 and 504, a timed-out donation stays pending") {
  ServiceFixture fx(Backend::sqlite, {.stripe_emulator = true});
  fx.create_campaign("flood-relief-2026", "CHF");
  const auto finance = fx.token("finance");

  fx.stripe().fail_next(1, 402, R"({"error":{"type":"invalid_request_error","code":"amount_too_small","message":"Amount must be at least 50 cents"}})", "/v1/payment_intents");
  auto rejected = donate(fx, kGift);
  CHECK(rejected->status == 502);
  CHECK(json::parse(rejected->body)["error"]["message"].get<std::string>().find("sk_test") == std::string::npos);

  fx.stripe().fail_next(10, 500, "", "/v1/payment_intents");
  auto unavailable = donate(fx, kGift, "retry-me");
  CHECK(unavailable->status == 503);
  fx.stripe().clear_faults();
  // The same key later resumes the same donation with the same Stripe Idempotency-Key.
  auto resumed = donate(fx, kGift, "retry-me");
  CHECK(resumed->status == 201);
  std::set<std::string> stripe_keys;
  for (const auto& r : fx.stripe().requests()) {
    if (r.method == "POST" && r.path == "/v1/payment_intents" && r.idempotency_key) stripe_keys.insert(*r.idempotency_key);
  }
  CHECK(stripe_keys.size() == 2);  // the rejected one, and the retried-then-resumed one

  fx.stripe().hang_next(1, 3000, "/v1/payment_intents");
  const auto start = std::chrono::steady_clock::now();
  auto timeout = donate(fx, kGift);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  CHECK(timeout->status == 504);
  CHECK(elapsed < std::chrono::milliseconds(2000 + 1500));
  auto pending = json::parse(fx.client().Get("/v1/admin/donations?status=pending", bearer(finance))->body)["data"];
  CHECK(pending.size() >= 1);
  auto failed = json::parse(fx.client().Get("/v1/admin/donations?status=failed", bearer(finance))->body)["data"];
  CHECK(failed.size() == 1);  // only the rejected one
}

TEST_CASE("public donation POSTs are rate-limited per client with Retry-After") {
  ServiceFixture fx(Backend::sqlite, {.configure = [](donatio::Config& c) {
                                        c.server.public_rate_burst = 3;
                                        c.server.public_rate_per_minute = 6;
                                      },
                                      .stripe_emulator = true});
  fx.create_campaign("flood-relief-2026", "CHF");
  int ok = 0, limited = 0;
  for (int i = 0; i < 5; ++i) {
    auto res = donate(fx, kGift);
    if (res->status == 201) ++ok;
    if (res->status == 429) {
      ++limited;
      CHECK(std::stoi(res->get_header_value("Retry-After")) >= 1);
    }
  }
  CHECK(ok == 3);
  CHECK(limited == 2);
}

TEST_CASE("admin donation list pages through donations made in the same second, and its last page has no cursor") {
  for (Backend backend : test_backends()) {
    SECTION(backend_name(backend)) {
      ServiceFixture fx(backend, {.configure = [](donatio::Config& c) { c.server.public_rate_burst = 100; },
                                  .stripe_emulator = true});
      fx.create_campaign("flood-relief-2026", "CHF");
      // Five in one second (the fixture's clock stands still), two ten seconds later.
      for (int i = 0; i < 7; ++i) {
        if (i == 5) fx.clock().advance_seconds(10);
        REQUIRE(donate(fx, kGift)->status == 201);
      }
      const auto finance = fx.token("finance");
      auto list = [&](const std::string& query) {
        auto res = fx.client().Get(("/v1/admin/donations?" + query).c_str(), bearer(finance));
        REQUIRE(res);
        REQUIRE(res->status == 200);
        return json::parse(res->body);
      };
      const json all = list("limit=500")["data"];
      REQUIRE(all.size() == 7);
      for (std::size_t i = 1; i < all.size(); ++i) {
        const bool newer_first = all[i - 1]["created_at"] > all[i]["created_at"] ||
                                 (all[i - 1]["created_at"] == all[i]["created_at"] && all[i - 1]["id"] > all[i]["id"]);
        CHECK(newer_first);
      }
      // Periods that start inside the run of equal times and end before, at or after it.
      const std::string t0 = all[6]["created_at"], t1 = all[0]["created_at"];
      for (const auto& [period, expected] : std::vector<std::pair<std::string, std::size_t>>{
               {"", 7}, {"&from=" + t0, 7}, {"&to=" + t1, 5}, {"&from=" + t0 + "&to=2099-01-01T00:00:00Z", 7}}) {
        INFO(period);
        std::vector<std::string> walked;
        const auto pages = walk_pages(fx, finance, "/v1/admin/donations?limit=2" + period);
        for (const auto& page : pages) {
          CHECK(!page.empty());
          for (const auto& d : page) walked.push_back(d["id"]);
        }
        REQUIRE(walked.size() == expected);
        const std::size_t skip = all.size() - expected;  // `to` leaves the newest out
        for (std::size_t i = 0; i < walked.size(); ++i) CHECK(walked[i] == all[skip + i]["id"]);
        CHECK(pages.size() == (expected + 1) / 2);
      }
      // A full last page: no cursor either.
      CHECK(list("limit=7")["next_cursor"].is_null());
      CHECK(list("limit=6")["next_cursor"].is_string());
    }
  }
}

TEST_CASE("admin donation list filters and pages newest first") {
  for (Backend backend : test_backends()) {
    SECTION(backend_name(backend)) {
      ServiceFixture fx(backend, {.configure = [](donatio::Config& c) { c.server.public_rate_burst = 100; },
                                  .stripe_emulator = true});
      fx.create_campaign("flood-relief-2026", "CHF");
      fx.create_campaign("quake-jp", "JPY");
      for (int i = 0; i < 5; ++i) {
        donate(fx, kGift);
        fx.clock().advance_seconds(10);
      }
      donate(fx, R"({"campaign":"quake-jp","amount":5000,"currency":"JPY","donor":{"email":"a@example.org"}})");
      const auto finance = fx.token("finance");
      auto page1 = json::parse(fx.client().Get("/v1/admin/donations?campaign=flood-relief-2026&limit=2", bearer(finance))->body);
      REQUIRE(page1["data"].size() == 2);
      CHECK(page1["data"][0]["created_at"] > page1["data"][1]["created_at"]);
      std::set<std::string> seen;
      json page = page1;
      int pages = 0;
      while (true) {
        for (const auto& d : page["data"]) seen.insert(d["id"]);
        ++pages;
        if (page["next_cursor"].is_null()) break;
        page = json::parse(fx.client().Get("/v1/admin/donations?campaign=flood-relief-2026&limit=2&cursor=" +
                                               page["next_cursor"].get<std::string>(), bearer(finance))->body);
      }
      CHECK(seen.size() == 5);
      CHECK(pages == 3);
      auto jp = json::parse(fx.client().Get("/v1/admin/donations?campaign=quake-jp", bearer(finance))->body)["data"];
      CHECK(jp.size() == 1);
      auto window = json::parse(fx.client().Get("/v1/admin/donations?from=2027-01-01T00:00:10Z&to=2027-01-01T00:00:30Z",
                                                bearer(finance))->body)["data"];
      CHECK(window.size() == 2);
      CHECK(fx.client().Get("/v1/admin/donations?status=paid", bearer(finance))->status == 400);
      CHECK(fx.client().Get("/v1/admin/donations?limit=0", bearer(finance))->status == 400);
      CHECK(fx.client().Get("/v1/admin/donations?cursor=zzz", bearer(finance))->status == 400);
      CHECK(fx.client().Get("/v1/admin/donations?from=yesterday", bearer(finance))->status == 400);
      CHECK(fx.client().Get("/v1/admin/donations")->status == 401);
    }
  }
}
