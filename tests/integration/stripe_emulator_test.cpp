// The Stripe emulator driven over HTTP as the donatio Stripe adapter will drive it: form bodies,
// Bearer key, Idempotency-Key; webhooks checked with the same verifier the service uses.
#include <catch2/catch.hpp>

#include <httplib.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "donatio/clock.hpp"
#include "src/stripe/emulator.hpp"
#include "webhooks/signature.hpp"

using donatio::stripe::EmulatorOptions;
using donatio::stripe::StripeEmulator;
using nlohmann::json;

namespace {

constexpr const char* kSecretKey = "sk_test_emulator_suite";
constexpr const char* kWebhookSecret = "whsec_emulator_suite";

// A webhook endpoint on loopback that checks every delivery's Stripe-Signature.
class WebhookReceiver {
 public:
  struct Delivery {
    donatio::webhooks::SignatureCheck check;
    std::string content_type;
    json event;
  };

  // With cert_path/key_path: an https receiver.
  explicit WebhookReceiver(int failures_before_success = 0, const std::string& cert_path = "",
                           const std::string& key_path = "")
      : server_(cert_path.empty() ? std::make_unique<httplib::Server>()
                                  : std::make_unique<httplib::SSLServer>(cert_path.c_str(),
                                                                         key_path.c_str())),
        https_(!cert_path.empty()),
        failures_left_(failures_before_success) {
    server_->set_tcp_nodelay(true);
    server_->Post("/webhooks/stripe", [this](const httplib::Request& req, httplib::Response& res) {
      const auto check = donatio::webhooks::verify_signature(
          req.get_header_value("Stripe-Signature"), req.body, {kWebhookSecret},
          donatio::SystemClock().now_unix(), 300);
      std::lock_guard lock(mu_);
      if (failures_left_ > 0) {
        --failures_left_;
        res.status = 500;
        return;
      }
      deliveries_.push_back({check, req.get_header_value("Content-Type"), json::parse(req.body)});
      res.set_content("{}", "application/json");
    });
    port_ = server_->bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_->listen_after_bind(); });
  }
  ~WebhookReceiver() {
    server_->stop();
    thread_.join();
  }
  std::string url(const std::string& host = "127.0.0.1") const {
    return (https_ ? "https://" : "http://") + host + ":" + std::to_string(port_) +
           "/webhooks/stripe";
  }
  std::vector<Delivery> deliveries() const {
    std::lock_guard lock(mu_);
    return deliveries_;
  }

 private:
  std::unique_ptr<httplib::Server> server_;
  bool https_ = false;
  std::thread thread_;
  int port_ = 0;
  mutable std::mutex mu_;
  int failures_left_ = 0;
  std::vector<Delivery> deliveries_;
};

EmulatorOptions emulator_options(const std::string& webhook_url = "") {
  EmulatorOptions options;
  options.secret_key = kSecretKey;
  options.webhook_secret = kWebhookSecret;
  options.webhook_url = webhook_url;
  options.webhook_backoff = std::chrono::milliseconds(10);
  return options;
}

std::unique_ptr<httplib::Client> client_for(const StripeEmulator& emulator,
                                            const std::string& key = kSecretKey) {
  auto client = std::make_unique<httplib::Client>(emulator.base_url());
  client->set_bearer_token_auth(key.c_str());
  client->set_keep_alive(true);
  client->set_read_timeout(std::chrono::seconds(5));
  return client;
}

json body_of(const httplib::Result& result) {
  REQUIRE(result);
  return json::parse(result->body);
}

json create_payment_intent(httplib::Client& client, std::int64_t amount,
                           const std::string& idempotency_key = "") {
  httplib::Headers headers;
  if (!idempotency_key.empty()) headers.emplace("Idempotency-Key", idempotency_key);
  auto result = client.Post("/v1/payment_intents", headers,
                            httplib::Params{{"amount", std::to_string(amount)},
                                            {"currency", "chf"},
                                            {"metadata[campaign]", "flood-relief"},
                                            {"receipt_email", "donor@example.org"},
                                            {"automatic_payment_methods[enabled]", "true"}});
  REQUIRE(result);
  REQUIRE(result->status == 200);
  return json::parse(result->body);
}

json confirm(httplib::Client& client, const std::string& pi_id,
             const std::string& payment_method = "pm_card_visa") {
  return body_of(client.Post("/v1/payment_intents/" + pi_id + "/confirm",
                             httplib::Params{{"payment_method", payment_method}}));
}

// A self-signed certificate for localhost and 127.0.0.1 in a fresh temporary directory.
struct SelfSignedCertificate {
  std::string directory;
  std::string cert_path;
  std::string key_path;
  SelfSignedCertificate() {
    char name[] = "/tmp/donatio-emulator-tls-XXXXXX";
    REQUIRE(::mkdtemp(name) != nullptr);
    directory = name;
    cert_path = directory + "/cert.pem";
    key_path = directory + "/key.pem";
    const std::string command =
        "openssl req -x509 -newkey rsa:2048 -nodes -keyout " + key_path + " -out " + cert_path +
        " -days 2 -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 "
        ">/dev/null 2>&1";
    REQUIRE(std::system(command.c_str()) == 0);
  }
  ~SelfSignedCertificate() {
    std::remove(cert_path.c_str());
    std::remove(key_path.c_str());
    ::rmdir(directory.c_str());
  }
};

// A clock the test moves by hand.
class MovableClock final : public donatio::Clock {
 public:
  explicit MovableClock(std::int64_t start) : now_(start) {}
  std::int64_t now_unix() const override { return now_.load(); }
  void advance(std::int64_t seconds) { now_ += seconds; }

 private:
  std::atomic<std::int64_t> now_;
};

bool starts_with(const std::string& text, const std::string& prefix) {
  return text.rfind(prefix, 0) == 0;
}

}  // namespace

TEST_CASE("emulator creates, confirms and refunds a payment intent with Stripe-shaped objects") {
  StripeEmulator emulator(emulator_options());
  emulator.start();
  auto client = client_for(emulator);

  json pi = create_payment_intent(*client, 5000);
  CHECK(pi["object"] == "payment_intent");
  CHECK(starts_with(pi["id"], "pi_"));
  CHECK(starts_with(pi["client_secret"], pi["id"].get<std::string>() + "_secret_"));
  CHECK(pi["status"] == "requires_payment_method");
  CHECK(pi["amount"] == 5000);
  CHECK(pi["currency"] == "chf");
  CHECK(pi["metadata"]["campaign"] == "flood-relief");
  CHECK(pi["receipt_email"] == "donor@example.org");
  CHECK(pi["automatic_payment_methods"]["enabled"] == true);
  CHECK(pi["latest_charge"].is_null());

  json confirmed = confirm(*client, pi["id"]);
  CHECK(confirmed["status"] == "succeeded");
  CHECK(confirmed["amount_received"] == 5000);
  const std::string charge_id = confirmed["latest_charge"];
  CHECK(starts_with(charge_id, "ch_"));

  json charge = body_of(client->Get("/v1/charges/" + charge_id));
  CHECK(charge["object"] == "charge");
  CHECK(charge["payment_intent"] == pi["id"]);
  CHECK(charge["metadata"]["campaign"] == "flood-relief");
  json txn = body_of(client->Get("/v1/balance_transactions/" +
                                 charge["balance_transaction"].get<std::string>()));
  CHECK(txn["object"] == "balance_transaction");
  CHECK(txn["amount"] == 5000);
  CHECK(txn["fee"] == 175);  // 2.9 % of 50.00 + 0.30
  CHECK(txn["net"] == 4825);
  CHECK(txn["exchange_rate"].is_null());
  CHECK(txn["type"] == "charge");

  // expand[] inlines the charge and its balance transaction.
  json expanded = body_of(client->Get("/v1/payment_intents/" + pi["id"].get<std::string>() +
                                      "?expand[]=latest_charge.balance_transaction"));
  CHECK(expanded["latest_charge"]["balance_transaction"]["fee"] == 175);

  auto refunded = client->Post("/v1/refunds", httplib::Params{{"payment_intent", pi["id"]},
                                                              {"amount", "2000"}});
  json refund = body_of(refunded);
  CHECK(refund["object"] == "refund");
  CHECK(starts_with(refund["id"], "re_"));
  CHECK(refund["amount"] == 2000);
  CHECK(refund["status"] == "succeeded");
  json refund_txn = *emulator.balance_transaction(refund["balance_transaction"]);
  CHECK(refund_txn["amount"] == -2000);
  CHECK(refund_txn["net"] == -2000);
  CHECK(emulator.charge(charge_id)->at("amount_refunded") == 2000);
  CHECK(emulator.charge(charge_id)->at("refunded") == false);

  SECTION("a refund larger than what remains is rejected with amount_too_large") {
    auto too_large = client->Post("/v1/refunds", httplib::Params{{"charge", charge_id},
                                                                 {"amount", "3001"}});
    REQUIRE(too_large);
    CHECK(too_large->status == 400);
    CHECK(json::parse(too_large->body)["error"]["code"] == "amount_too_large");
    CHECK(json::parse(too_large->body)["error"]["type"] == "invalid_request_error");
  }
  SECTION("the rest is refunded, after which any refund is charge_already_refunded") {
    json rest = body_of(client->Post("/v1/refunds", httplib::Params{{"charge", charge_id}}));
    CHECK(rest["amount"] == 3000);
    CHECK(emulator.charge(charge_id)->at("refunded") == true);
    auto again = client->Post("/v1/refunds", httplib::Params{{"charge", charge_id}});
    REQUIRE(again);
    CHECK(again->status == 400);
    CHECK(json::parse(again->body)["error"]["code"] == "charge_already_refunded");
    auto refunded_events = emulator.events_of_type("charge.refunded");
    REQUIRE(refunded_events.size() == 2);
    CHECK(refunded_events[1]["data"]["object"]["amount_refunded"] == 5000);
    CHECK(refunded_events[1]["data"]["previous_attributes"]["amount_refunded"] == 2000);
  }
}

TEST_CASE("every webhook is delivered signed, as pretty JSON, in creation order") {
  WebhookReceiver receiver;
  StripeEmulator emulator(emulator_options(receiver.url()));
  emulator.start();
  auto client = client_for(emulator);

  json pi = create_payment_intent(*client, 2500, "donation-1");
  confirm(*client, pi["id"]);
  body_of(client->Post("/v1/refunds", httplib::Params{{"payment_intent", pi["id"]}}));
  REQUIRE(emulator.wait_for_deliveries(std::chrono::seconds(10)));

  const auto events = emulator.events();
  const auto deliveries = receiver.deliveries();
  REQUIRE(deliveries.size() == events.size());
  std::vector<std::string> types;
  for (std::size_t i = 0; i < deliveries.size(); ++i) {
    CHECK(deliveries[i].check == donatio::webhooks::SignatureCheck::valid);
    CHECK(deliveries[i].content_type == "application/json; charset=utf-8");
    CHECK(deliveries[i].event["id"] == events[i]["id"]);
    types.push_back(deliveries[i].event["type"]);
  }
  CHECK(types == std::vector<std::string>{"payment_intent.created", "charge.succeeded",
                                          "payment_intent.succeeded", "charge.refunded",
                                          "refund.created"});
  const json& succeeded = deliveries[2].event;
  CHECK(succeeded["object"] == "event");
  CHECK(succeeded["livemode"] == false);
  CHECK(succeeded["api_version"].is_string());
  CHECK(succeeded["data"]["object"]["id"] == pi["id"]);
  CHECK(succeeded["data"]["object"]["status"] == "succeeded");
  CHECK(starts_with(succeeded["request"]["id"], "req_"));
  CHECK(deliveries[0].event["request"]["idempotency_key"] == "donation-1");
  CHECK(emulator.webhooks_delivered() == static_cast<std::int64_t>(events.size()));
  CHECK(emulator.webhooks_failed() == 0);
}

TEST_CASE("a webhook answered with 500 is retried until the receiver accepts it") {
  WebhookReceiver receiver(/*failures_before_success=*/2);
  StripeEmulator emulator(emulator_options(receiver.url()));
  emulator.start();
  emulator.create_payment_intent(1000, "EUR");
  REQUIRE(emulator.wait_for_deliveries(std::chrono::seconds(10)));
  CHECK(receiver.deliveries().size() == 1);
  CHECK(emulator.webhook_attempts() == 3);
  CHECK(emulator.webhooks_delivered() == 1);
  CHECK(emulator.webhooks_failed() == 0);
}

TEST_CASE("https webhooks skip certificate checks only for 127.0.0.1 without a CA file") {
  SelfSignedCertificate certificate;
  WebhookReceiver receiver(0, certificate.cert_path, certificate.key_path);

  SECTION("127.0.0.1 with no CA file: delivered to the self-signed receiver") {
    StripeEmulator emulator(emulator_options(receiver.url()));
    emulator.start();
    emulator.create_payment_intent(1000, "chf");
    REQUIRE(emulator.wait_for_deliveries(std::chrono::seconds(10)));
    CHECK(emulator.webhooks_delivered() == 1);
  }
  SECTION("localhost with no CA file: the certificate is verified, so delivery fails") {
    StripeEmulator emulator(emulator_options(receiver.url("localhost")));
    emulator.start();
    emulator.create_payment_intent(1000, "chf");
    REQUIRE(emulator.wait_for_deliveries(std::chrono::seconds(10)));
    CHECK(emulator.webhooks_failed() == 1);
    CHECK(receiver.deliveries().empty());
  }
  SECTION("localhost with the CA file: verified and delivered") {
    auto options = emulator_options(receiver.url("localhost"));
    options.webhook_ca_file = certificate.cert_path;
    StripeEmulator emulator(options);
    emulator.start();
    emulator.create_payment_intent(1000, "chf");
    REQUIRE(emulator.wait_for_deliveries(std::chrono::seconds(10)));
    CHECK(emulator.webhooks_delivered() == 1);
    REQUIRE(receiver.deliveries().size() == 1);
    CHECK(receiver.deliveries()[0].check == donatio::webhooks::SignatureCheck::valid);
  }
}

TEST_CASE("events recorded while delivery is off are only visible through the Events API") {
  WebhookReceiver receiver;
  auto options = emulator_options(receiver.url());
  options.deliver_webhooks = false;
  StripeEmulator emulator(options);
  emulator.start();
  json pi = emulator.create_external_payment(4200, "CHF", {{"campaign", "earthquake"}});
  CHECK(pi["status"] == "succeeded");
  CHECK(pi["metadata"]["campaign"] == "earthquake");
  REQUIRE(emulator.wait_for_deliveries(std::chrono::seconds(5)));
  CHECK(receiver.deliveries().empty());
  auto succeeded = emulator.events_of_type("payment_intent.succeeded");
  REQUIRE(succeeded.size() == 1);
  CHECK(succeeded[0]["pending_webhooks"] == 0);
  CHECK(succeeded[0]["request"]["id"].is_null());

  auto client = client_for(emulator);
  json listed = body_of(client->Get("/v1/events?types[]=payment_intent.succeeded"));
  REQUIRE(listed["data"].size() == 1);
  CHECK(listed["data"][0]["data"]["object"]["id"] == pi["id"]);

  emulator.set_deliver_webhooks(true);
  REQUIRE(emulator.resend_event(succeeded[0]["id"]));
  REQUIRE(emulator.wait_for_deliveries(std::chrono::seconds(10)));
  REQUIRE(receiver.deliveries().size() == 1);
  CHECK(receiver.deliveries()[0].event["type"] == "payment_intent.succeeded");
}

TEST_CASE("an Idempotency-Key replays the first answer and rejects other parameters") {
  StripeEmulator emulator(emulator_options());
  emulator.start();
  auto client = client_for(emulator);

  json first = create_payment_intent(*client, 3000, "donation-42");
  json replay = create_payment_intent(*client, 3000, "donation-42");
  CHECK(replay["id"] == first["id"]);
  CHECK(replay["client_secret"] == first["client_secret"]);
  CHECK(emulator.events_of_type("payment_intent.created").size() == 1);

  auto other = client->Post("/v1/payment_intents", {{"Idempotency-Key", "donation-42"}},
                            httplib::Params{{"amount", "3100"}, {"currency", "chf"}});
  REQUIRE(other);
  CHECK(other->status == 400);
  CHECK(json::parse(other->body)["error"]["type"] == "idempotency_error");

  create_payment_intent(*client, 3000);
  const auto recorded = emulator.requests();
  REQUIRE(recorded.size() == 4);
  CHECK(recorded[0].idempotency_key == std::optional<std::string>("donation-42"));
  CHECK(recorded[0].headers.at("idempotency-key") == "donation-42");
  CHECK(recorded[0].params.find("metadata[campaign]")->second == "flood-relief");
  CHECK_FALSE(recorded[3].idempotency_key.has_value());
  CHECK(emulator.count("POST", "/v1/payment_intents") == 4);
  CHECK(emulator.distinct_connections() == 1);  // one keep-alive connection
}

TEST_CASE("a request with a wrong or missing API key gets 401 invalid_request_error") {
  StripeEmulator emulator(emulator_options());
  emulator.start();
  auto wrong = client_for(emulator, "sk_test_someone_else_1234");
  auto result = wrong->Get("/v1/events");
  REQUIRE(result);
  CHECK(result->status == 401);
  CHECK(json::parse(result->body)["error"]["type"] == "invalid_request_error");
  CHECK(result->body.find("sk_test_someone_else_1234") == std::string::npos);

  httplib::Client anonymous(emulator.base_url());
  auto missing = anonymous.Get("/v1/events");
  REQUIRE(missing);
  CHECK(missing->status == 401);
}

TEST_CASE("the Events API pages newest first with has_more and filters by type and time") {
  StripeEmulator emulator(emulator_options());
  emulator.start();
  std::vector<std::string> pi_ids;
  for (int i = 0; i < 5; ++i) {
    std::string id = emulator.create_payment_intent(1000 + i, "chf")["id"];
    emulator.confirm(id);
    pi_ids.push_back(id);
  }
  auto client = client_for(emulator);
  std::vector<std::string> seen;
  std::string cursor;
  int pages = 0;
  for (;;) {
    std::string path = "/v1/events?limit=2&types[]=payment_intent.succeeded&types[]=charge.succeeded";
    if (!cursor.empty()) path += "&starting_after=" + cursor;
    json page = body_of(client->Get(path));
    CHECK(page["object"] == "list");
    CHECK(page["url"] == "/v1/events");
    ++pages;
    for (const auto& event : page["data"]) seen.push_back(event["id"]);
    if (!page["has_more"].get<bool>()) break;
    cursor = seen.back();
    REQUIRE(pages < 20);
  }
  CHECK(pages == 5);
  std::vector<std::string> expected;
  for (const auto& event : emulator.events()) {
    if (event["type"] == "payment_intent.succeeded" || event["type"] == "charge.succeeded") {
      expected.insert(expected.begin(), event["id"].get<std::string>());  // newest first
    }
  }
  CHECK(seen == expected);

  const auto now = donatio::SystemClock().now_unix();
  json future = body_of(client->Get("/v1/events?created[gte]=" + std::to_string(now + 3600)));
  CHECK(future["data"].empty());
  CHECK(future["has_more"] == false);
  json all = body_of(client->Get("/v1/events?limit=100&created[lt]=" + std::to_string(now + 3600)));
  CHECK(all["data"].size() == emulator.events().size());
}

TEST_CASE("a declined card fails the payment intent with last_payment_error") {
  StripeEmulator emulator(emulator_options());
  emulator.start();
  auto client = client_for(emulator);
  json pi = create_payment_intent(*client, 1500);
  auto declined = client->Post("/v1/payment_intents/" + pi["id"].get<std::string>() + "/confirm",
                               httplib::Params{{"payment_method", "pm_card_chargeDeclined"}});
  REQUIRE(declined);
  CHECK(declined->status == 402);
  json error = json::parse(declined->body)["error"];
  CHECK(error["type"] == "card_error");
  CHECK(error["code"] == "card_declined");
  CHECK(error["payment_intent"]["status"] == "requires_payment_method");
  auto failed = emulator.events_of_type("payment_intent.payment_failed");
  REQUIRE(failed.size() == 1);
  CHECK(failed[0]["data"]["object"]["last_payment_error"]["decline_code"] == "generic_decline");

  json canceled = body_of(client->Post("/v1/payment_intents/" + pi["id"].get<std::string>() +
                                           "/cancel",
                                       httplib::Params{}));
  CHECK(canceled["status"] == "canceled");
  CHECK(emulator.events_of_type("payment_intent.canceled").size() == 1);
}

TEST_CASE("scripted faults answer 500 and 429, hang, and drop the connection") {
  StripeEmulator emulator(emulator_options());
  emulator.start();
  auto client = client_for(emulator);

  SECTION("500 api_error once, then the same request succeeds") {
    emulator.fail_next(1, 500, "", "/v1/payment_intents");
    auto failed = client->Post("/v1/payment_intents", {{"Idempotency-Key", "k-500"}},
                               httplib::Params{{"amount", "1000"}, {"currency", "chf"}});
    REQUIRE(failed);
    CHECK(failed->status == 500);
    CHECK(json::parse(failed->body)["error"]["type"] == "api_error");
    json retried = create_payment_intent(*client, 1000, "k-500-other");
    CHECK(retried["status"] == "requires_payment_method");
  }
  SECTION("429 rate_limit_error with Stripe-Should-Retry") {
    emulator.fail_next(2, 429, "", "", true);
    for (int i = 0; i < 2; ++i) {
      auto limited = client->Get("/v1/events");
      REQUIRE(limited);
      CHECK(limited->status == 429);
      CHECK(limited->get_header_value("Stripe-Should-Retry") == "true");
      CHECK(json::parse(limited->body)["error"]["type"] == "rate_limit_error");
    }
    auto ok = client->Get("/v1/events");
    REQUIRE(ok);
    CHECK(ok->status == 200);
    CHECK(emulator.count("GET", "/v1/events") == 3);
  }
  SECTION("a hang longer than the client timeout, with the write still applied") {
    emulator.hang_next(1, 1500, "/v1/payment_intents");
    client->set_read_timeout(std::chrono::milliseconds(300));
    auto timed_out = client->Post("/v1/payment_intents",
                                  httplib::Params{{"amount", "700"}, {"currency", "chf"}});
    CHECK_FALSE(timed_out);
    std::this_thread::sleep_for(std::chrono::milliseconds(1600));
    CHECK(emulator.events_of_type("payment_intent.created").size() == 1);
  }
  SECTION("a dropped connection gives the client no answer at all") {
    emulator.close_next(1, "/v1/payment_intents");
    auto dropped = client->Post("/v1/payment_intents",
                                httplib::Params{{"amount", "700"}, {"currency", "chf"}});
    CHECK_FALSE(dropped);
    CHECK(emulator.events().empty());
    emulator.close_next(1, "/v1/payment_intents", /*after_processing=*/true);
    auto lost = client->Post("/v1/payment_intents",
                             httplib::Params{{"amount", "800"}, {"currency", "chf"}});
    CHECK_FALSE(lost);
    CHECK(emulator.events_of_type("payment_intent.created").size() == 1);
    json next = create_payment_intent(*client, 900);
    CHECK(next["amount"] == 900);
  }
}

TEST_CASE("test helpers open and close disputes and pay out the available balance") {
  StripeEmulator emulator(emulator_options());
  emulator.start();
  auto client = client_for(emulator);
  json first = emulator.create_external_payment(10000, "chf");
  json second = emulator.create_external_payment(2000, "chf");
  emulator.create_external_payment(500, "eur");

  json dispute = body_of(client->Post("/v1/test_helpers/disputes",
                                      httplib::Params{{"charge", first["latest_charge"]}}));
  CHECK(dispute["object"] == "dispute");
  CHECK(starts_with(dispute["id"], "du_"));
  CHECK(dispute["status"] == "needs_response");
  CHECK(emulator.events_of_type("charge.dispute.created").size() == 1);
  json closed = body_of(client->Post(
      "/v1/test_helpers/disputes/" + dispute["id"].get<std::string>() + "/close",
      httplib::Params{{"status", "won"}}));
  CHECK(closed["status"] == "won");
  CHECK(closed["balance_transactions"].size() == 2);
  auto closed_events = emulator.events_of_type("charge.dispute.closed");
  REQUIRE(closed_events.size() == 1);
  CHECK(closed_events[0]["data"]["object"]["status"] == "won");

  json made = body_of(client->Post("/v1/test_helpers/payouts", httplib::Params{}));
  REQUIRE(made["data"].size() == 2);  // chf and eur
  json payouts = body_of(client->Get("/v1/payouts"));
  REQUIRE(payouts["data"].size() == 2);
  for (const auto& payout : payouts["data"]) {
    CHECK(payout["object"] == "payout");
    CHECK(payout["status"] == "paid");
    json grouped = body_of(client->Get("/v1/balance_transactions?limit=100&payout=" +
                                       payout["id"].get<std::string>()));
    std::int64_t net = 0;
    for (const auto& txn : grouped["data"]) {
      if (txn["type"] != "payout") net += txn["net"].get<std::int64_t>();
    }
    CHECK(net == payout["amount"].get<std::int64_t>());
  }
  // chf: 10000 - 320 fee, dispute -10000 - 1500 and back +10000 + 1500, 2000 - 88 fee
  json chf = payouts["data"][0]["currency"] == "chf" ? payouts["data"][0] : payouts["data"][1];
  CHECK(chf["amount"] == 9680 + 1912);
  CHECK(emulator.create_payout().empty());  // nothing left to pay out

  json page = body_of(client->Get("/v1/balance_transactions?limit=3"));
  CHECK(page["data"].size() == 3);
  CHECK(page["has_more"] == true);
  (void)second;
}

TEST_CASE("created timestamps come from the injected clock and drive the list filters") {
  constexpr std::int64_t kNewYear = 1767225600;  // 2026-01-01T00:00:00Z
  auto clock = std::make_shared<MovableClock>(kNewYear);
  auto options = emulator_options();
  options.clock = clock;
  StripeEmulator emulator(options);
  emulator.start();
  json january_first = emulator.create_external_payment(1000, "chf");
  clock->advance(86400);
  json january_second = emulator.create_external_payment(2000, "chf");
  CHECK(january_first["created"] == kNewYear);
  CHECK(january_second["created"] == kNewYear + 86400);

  auto client = client_for(emulator);
  const std::string second_day = std::to_string(kNewYear + 86400);
  json late = body_of(client->Get("/v1/balance_transactions?created[gte]=" + second_day));
  REQUIRE(late["data"].size() == 1);
  CHECK(late["data"][0]["amount"] == 2000);
  json early = body_of(client->Get("/v1/events?types[]=payment_intent.succeeded&created[lt]=" +
                                   second_day));
  REQUIRE(early["data"].size() == 1);
  CHECK(early["data"][0]["data"]["object"]["id"] == january_first["id"]);
}
