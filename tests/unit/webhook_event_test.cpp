#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <fstream>
#include <functional>
#include <iterator>
#include <optional>
#include <string>
#include <utility>

#include "donatio/donation.hpp"
#include "webhooks/event.hpp"

using donatio::DonationStatus;
using donatio::PaymentEvent;
using donatio::StatusCode;
using donatio::webhooks::parse_event;
using donatio::webhooks::payment_event_for;
using donatio::webhooks::StripeEvent;

namespace {

const char* const kAllFixtures[] = {
    "payment_intent.succeeded.json",
    "payment_intent.processing.json",
    "payment_intent.payment_failed.json",
    "payment_intent.canceled.json",
    "payment_intent.succeeded.external_with_campaign.json",
    "payment_intent.succeeded.external_no_metadata.json",
    "charge.refunded.partial.json",
    "charge.refunded.full.json",
    "charge.dispute.created.json",
    "charge.dispute.closed.won.json",
    "charge.dispute.closed.lost.json",
    "customer.created.json",
};

constexpr const char* kPaymentIntent = "pi_3QfxTestFloodRelief01";
constexpr const char* kCharge = "ch_3QfxTestFloodRelief01";
constexpr const char* kDonationId = "0b7e6a52-3f1c-4d2e-9a8b-5c6d7e8f9a01";
constexpr const char* kCampaign = "flood-relief-2026";

std::string read_fixture(const std::string& name) {
  std::ifstream in(std::string(DONATIO_SOURCE_DIR) + "/webhooks/fixtures/" + name,
                   std::ios::binary);
  REQUIRE(in.good());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

StripeEvent parse_fixture(const std::string& name) {
  auto result = parse_event(read_fixture(name));
  INFO(name << ": " << result.status().message());
  REQUIRE(result.ok());
  return std::move(result).value();
}

// A fixture with one change applied, as JSON text.
std::string fixture_with(const std::string& name,
                         const std::function<void(nlohmann::json&)>& change) {
  auto event = nlohmann::json::parse(read_fixture(name));
  change(event);
  return event.dump();
}

StripeEvent parse_ok(const std::string& text) {
  auto result = parse_event(text);
  INFO(result.status().message());
  REQUIRE(result.ok());
  return std::move(result).value();
}

// The field named by a rejection, after checking it is an invalid_argument.
std::string rejected_field(const std::string& text) {
  const auto result = parse_event(text);
  REQUIRE_FALSE(result.ok());
  CHECK(result.status().code() == StatusCode::invalid_argument);
  CHECK(result.status().error_code() == "invalid_event");
  CHECK_FALSE(result.status().message().empty());
  return result.status().field();
}

}  // namespace

TEST_CASE("every webhook fixture parses into a test-mode event with its envelope") {
  for (const char* name : kAllFixtures) {
    INFO(name);
    const StripeEvent event = parse_fixture(name);
    CHECK(event.id.rfind("evt_", 0) == 0);
    CHECK_FALSE(event.type.empty());
    CHECK_FALSE(event.api_version.empty());
    CHECK(event.created >= 1767225600);
    CHECK_FALSE(event.livemode);
    CHECK_FALSE(event.object_type.empty());
    CHECK_FALSE(event.object_id.empty());
    // The file is named after its type.
    CHECK(std::string(name).rfind(event.type + ".", 0) == 0);
  }
}

TEST_CASE("a succeeded payment intent of ours carries amount, charge and donation metadata") {
  const StripeEvent event = parse_fixture("payment_intent.succeeded.json");
  CHECK(event.id == "evt_3QfxTestPiSucceeded001");
  CHECK(event.type == "payment_intent.succeeded");
  CHECK(event.api_version == "2024-06-20");
  CHECK(event.created == 1767225635);
  CHECK(event.object_type == "payment_intent");
  CHECK(event.object_id == kPaymentIntent);
  REQUIRE(event.payment_intent);
  CHECK_FALSE(event.charge);
  CHECK_FALSE(event.dispute);
  const auto& pi = *event.payment_intent;
  CHECK(pi.id == kPaymentIntent);
  CHECK(pi.amount == 5000);
  CHECK(pi.amount_received == 5000);
  CHECK(pi.currency == "CHF");
  CHECK(pi.status == "succeeded");
  CHECK(pi.latest_charge == kCharge);
  CHECK(pi.donation_id() == kDonationId);
  CHECK(pi.campaign() == kCampaign);
  CHECK(pi.metadata.size() == 2);
  CHECK(pi.receipt_email == "donor@example.org");
  CHECK(pi.created == 1767225600);
  CHECK(pi.failure_code.empty());
  CHECK(pi.failure_message.empty());
  CHECK(payment_event_for(event) == PaymentEvent::succeeded);
}

TEST_CASE("a processing payment intent maps to processing with nothing received yet") {
  const StripeEvent event = parse_fixture("payment_intent.processing.json");
  REQUIRE(event.payment_intent);
  CHECK(event.payment_intent->status == "processing");
  CHECK(event.payment_intent->amount_received == 0);
  CHECK(event.payment_intent->donation_id() == kDonationId);
  CHECK(payment_event_for(event) == PaymentEvent::processing);
}

TEST_CASE("a failed payment carries the decline code and message of last_payment_error") {
  const StripeEvent event = parse_fixture("payment_intent.payment_failed.json");
  REQUIRE(event.payment_intent);
  const auto& pi = *event.payment_intent;
  CHECK(pi.status == "requires_payment_method");
  CHECK(pi.failure_code == "card_declined");
  CHECK(pi.failure_message == "Your card has insufficient funds.");
  CHECK(pi.latest_charge == "ch_3QfxTestFloodRelief00");
  CHECK(pi.amount_received == 0);
  CHECK(payment_event_for(event) == PaymentEvent::payment_failed);
}

TEST_CASE("a canceled payment intent maps to canceled") {
  const StripeEvent event = parse_fixture("payment_intent.canceled.json");
  REQUIRE(event.payment_intent);
  CHECK(event.payment_intent->status == "canceled");
  CHECK(event.payment_intent->id == kPaymentIntent);
  CHECK(payment_event_for(event) == PaymentEvent::canceled);
}

TEST_CASE("a payment we did not create keeps its campaign metadata and no donation id") {
  const StripeEvent event = parse_fixture("payment_intent.succeeded.external_with_campaign.json");
  REQUIRE(event.payment_intent);
  const auto& pi = *event.payment_intent;
  CHECK(pi.id == "pi_3QfxTestPaymentLink01");
  CHECK(pi.donation_id().empty());
  CHECK(pi.campaign() == kCampaign);
  CHECK(pi.receipt_email.empty());  // null in the payload
  CHECK(pi.amount_received == 5000);
  CHECK(pi.currency == "CHF");
  CHECK(payment_event_for(event) == PaymentEvent::succeeded);
}

TEST_CASE("a payment without any metadata still parses and maps to succeeded") {
  const StripeEvent event = parse_fixture("payment_intent.succeeded.external_no_metadata.json");
  REQUIRE(event.payment_intent);
  const auto& pi = *event.payment_intent;
  CHECK(pi.id == "pi_3QfxTestDashboard0001");
  CHECK(pi.metadata.empty());
  CHECK(pi.donation_id().empty());
  CHECK(pi.campaign().empty());
  CHECK(pi.receipt_email == "phone.donor@example.org");
  CHECK(payment_event_for(event) == PaymentEvent::succeeded);
}

TEST_CASE("a partial refund maps to partially_refunded") {
  const StripeEvent event = parse_fixture("charge.refunded.partial.json");
  CHECK(event.object_type == "charge");
  REQUIRE(event.charge);
  CHECK_FALSE(event.payment_intent);
  const auto& charge = *event.charge;
  CHECK(charge.id == kCharge);
  CHECK(charge.payment_intent == kPaymentIntent);
  CHECK(charge.amount == 5000);
  CHECK(charge.amount_refunded == 2000);
  CHECK(charge.currency == "CHF");
  CHECK_FALSE(charge.refunded);
  CHECK(charge.balance_transaction == "txn_3QfxTestFloodRelief01");
  CHECK(charge.latest_refund_id.empty());  // no `refunds` list since API 2022-11-15
  CHECK(payment_event_for(event) == PaymentEvent::partially_refunded);
}

TEST_CASE("a full refund maps to refunded and names the newest refund") {
  const StripeEvent event = parse_fixture("charge.refunded.full.json");
  CHECK(event.api_version == "2022-08-01");
  REQUIRE(event.charge);
  const auto& charge = *event.charge;
  CHECK(charge.amount_refunded == 5000);
  CHECK(charge.refunded);
  CHECK(charge.latest_refund_id == "re_3QfxTestFloodRelief02");
  CHECK(payment_event_for(event) == PaymentEvent::refunded);
}

TEST_CASE("refund mapping: amount_refunded against amount, and Stripe's refunded flag") {
  auto with_refund = [](std::int64_t amount_refunded, bool refunded) {
    return parse_ok(fixture_with("charge.refunded.partial.json", [&](nlohmann::json& e) {
      e["data"]["object"]["amount_refunded"] = amount_refunded;
      e["data"]["object"]["refunded"] = refunded;
    }));
  };
  CHECK(payment_event_for(with_refund(4999, false)) == PaymentEvent::partially_refunded);
  CHECK(payment_event_for(with_refund(5000, false)) == PaymentEvent::refunded);
  CHECK(payment_event_for(with_refund(6000, false)) == PaymentEvent::refunded);
  // A partially captured charge refunded in full: less than `amount`, but refunded=true.
  CHECK(payment_event_for(with_refund(3000, true)) == PaymentEvent::refunded);
  // Nothing refunded: nothing to apply.
  CHECK(payment_event_for(with_refund(0, false)) == std::nullopt);
}

TEST_CASE("the newest refund is chosen by created, whatever the list order") {
  const StripeEvent event = parse_ok(fixture_with("charge.refunded.full.json", [](nlohmann::json& e) {
    auto& data = e["data"]["object"]["refunds"]["data"];
    std::swap(data[0], data[1]);
  }));
  REQUIRE(event.charge);
  CHECK(event.charge->latest_refund_id == "re_3QfxTestFloodRelief02");
}

TEST_CASE("a new dispute maps to dispute_opened with its charge and payment intent") {
  const StripeEvent event = parse_fixture("charge.dispute.created.json");
  CHECK(event.object_type == "dispute");
  REQUIRE(event.dispute);
  const auto& dispute = *event.dispute;
  CHECK(dispute.id == "du_1QfxTestFloodRelief01");
  CHECK(dispute.charge == kCharge);
  CHECK(dispute.payment_intent == kPaymentIntent);
  CHECK(dispute.amount == 5000);
  CHECK(dispute.currency == "CHF");
  CHECK(dispute.status == "needs_response");
  CHECK(dispute.reason == "fraudulent");
  CHECK(payment_event_for(event) == PaymentEvent::dispute_opened);
}

TEST_CASE("a closed dispute maps to won or lost, and warning_closed keeps the money") {
  const StripeEvent won = parse_fixture("charge.dispute.closed.won.json");
  REQUIRE(won.dispute);
  CHECK(won.dispute->status == "won");
  CHECK(payment_event_for(won) == PaymentEvent::dispute_won);

  const StripeEvent lost = parse_fixture("charge.dispute.closed.lost.json");
  REQUIRE(lost.dispute);
  CHECK(lost.dispute->status == "lost");
  CHECK(payment_event_for(lost) == PaymentEvent::dispute_lost);

  auto closed_as = [](const char* status) {
    return parse_ok(fixture_with("charge.dispute.closed.won.json", [&](nlohmann::json& e) {
      e["data"]["object"]["status"] = status;
    }));
  };
  CHECK(payment_event_for(closed_as("warning_closed")) == PaymentEvent::dispute_won);
  CHECK(payment_event_for(closed_as("under_review")) == std::nullopt);
}

TEST_CASE("a dispute without a payment intent or with an expanded charge still parses") {
  const StripeEvent event = parse_ok(fixture_with("charge.dispute.created.json", [](nlohmann::json& e) {
    e["data"]["object"]["payment_intent"] = nullptr;
    e["data"]["object"]["charge"] = {{"id", kCharge}, {"object", "charge"}, {"amount", 5000}};
  }));
  REQUIRE(event.dispute);
  CHECK(event.dispute->payment_intent.empty());
  CHECK(event.dispute->charge == kCharge);
}

TEST_CASE("an expanded latest_charge is read as its id") {
  const StripeEvent event = parse_ok(fixture_with("payment_intent.succeeded.json", [](nlohmann::json& e) {
    e["data"]["object"]["latest_charge"] = {{"id", kCharge}, {"object", "charge"}};
  }));
  REQUIRE(event.payment_intent);
  CHECK(event.payment_intent->latest_charge == kCharge);
}

TEST_CASE("event types we do not handle are parsed and mapped to nothing") {
  const StripeEvent customer = parse_fixture("customer.created.json");
  CHECK(customer.type == "customer.created");
  CHECK(customer.object_type == "customer");
  CHECK(customer.object_id == "cus_QfxTestDonor0001");
  CHECK_FALSE(customer.payment_intent);
  CHECK_FALSE(customer.charge);
  CHECK_FALSE(customer.dispute);
  CHECK(payment_event_for(customer) == std::nullopt);

  const StripeEvent created = parse_ok(fixture_with("payment_intent.processing.json", [](nlohmann::json& e) {
    e["type"] = "payment_intent.created";
  }));
  REQUIRE(created.payment_intent);  // read, but not a donation event
  CHECK(payment_event_for(created) == std::nullopt);

  // An object with no id and fields we never look at (balance.available has neither).
  const StripeEvent balance = parse_ok(
      R"({"id":"evt_1QfxTestBalance0001","object":"event","type":"balance.available",)"
      R"("data":{"object":{"object":"balance","available":[{"amount":"odd"}]}}})");
  CHECK(balance.object_id.empty());
  CHECK(payment_event_for(balance) == std::nullopt);
}

TEST_CASE("the fixtures play a whole donation story through the state machine") {
  DonationStatus status = DonationStatus::pending;
  bool receipted = false;
  int receipts = 0;
  for (const char* name : {"payment_intent.payment_failed.json", "payment_intent.processing.json",
                           "payment_intent.succeeded.json", "payment_intent.processing.json",
                           "charge.refunded.partial.json", "charge.refunded.full.json",
                           "payment_intent.succeeded.json"}) {
    INFO(name);
    const auto event = payment_event_for(parse_fixture(name));
    REQUIRE(event);
    const auto decision = donatio::decide_transition(status, *event, receipted);
    if (decision.changes) status = decision.next;
    if (decision.issues_receipt) {
      receipted = true;
      ++receipts;
    }
  }
  CHECK(status == DonationStatus::refunded);
  CHECK(receipts == 1);
}

TEST_CASE("malformed JSON is an invalid_argument, not an exception") {
  for (const char* text : {"", " ", "not json", "{", "{\"id\":", "[]", "null", "42", "\"evt\"",
                           "{\"id\":\"evt_1\"} trailing", "{'id':'evt_1'}"}) {
    INFO('"' << text << '"');
    CHECK(rejected_field(text).empty());
  }
  CHECK(rejected_field(std::string("{\"id\":\"evt_\xff\xfe\",\"type\":\"x\",\"data\":{\"object\":{}}}")).empty());
}

TEST_CASE("members we do not read are still checked as JSON but not as Stripe fields") {
  std::string body = read_fixture("payment_intent.succeeded.json");
  const std::string request = "\"request\": {";
  const auto at = body.find(request);
  REQUIRE(at != std::string::npos);
  std::string broken = body;
  broken.insert(at + request.size(), "\"x\": tru, ");
  CHECK(rejected_field(broken).empty());
  std::string bad_utf8 = body;
  bad_utf8.insert(at + request.size(), "\"x\": \"\xc3\x28\", ");
  CHECK(rejected_field(bad_utf8).empty());

  const StripeEvent odd = parse_ok(fixture_with("payment_intent.succeeded.json", [](nlohmann::json& e) {
    e["data"]["object"]["payment_method_options"] = 5;
    e["data"]["object"]["client_secret"] = nlohmann::json::array({1, 2});
    e["pending_webhooks"] = "many";
  }));
  REQUIRE(odd.payment_intent);
  CHECK(odd.payment_intent->amount == 5000);
}

TEST_CASE("texts the fast reader refuses or reads its own way get the answers of a full parse") {
  // simdjson refuses integers beyond 64 bits; a full JSON parse reads them as numbers, so such
  // a member we skip must not cost the event, and one we read is "not an integer".
  std::string body = read_fixture("payment_intent.succeeded.json");
  const std::string request = "\"request\": {";
  const auto at = body.find(request);
  REQUIRE(at != std::string::npos);
  std::string huge_skipped = body;
  huge_skipped.insert(at + request.size(), "\"x\": 123456789012345678901234567890, ");
  const StripeEvent skipped = parse_ok(huge_skipped);
  REQUIRE(skipped.payment_intent);
  CHECK(skipped.payment_intent->amount == 5000);
  const std::string amount = "\"amount\": 5000";
  const auto amount_at = body.find(amount);
  REQUIRE(amount_at != std::string::npos);
  std::string huge_amount = body;
  huge_amount.replace(amount_at, amount.size(), "\"amount\": 123456789012345678901234567890");
  CHECK(rejected_field(huge_amount) == "data.object.amount");

  // A repeated member: the last one counts, as in a full parse.
  std::string repeated = body;
  repeated.replace(amount_at, amount.size(), "\"amount\": 1, \"amount\": 7000");
  const StripeEvent last = parse_ok(repeated);
  REQUIRE(last.payment_intent);
  CHECK(last.payment_intent->amount == 7000);

  // Refused either way, with the same reason: a stray byte after the object, a lone surrogate.
  CHECK(rejected_field(body + "x").empty());
  std::string surrogate = body;
  surrogate.insert(at + request.size(), "\"x\": \"\\ud800\", ");
  CHECK(rejected_field(surrogate).empty());
  CHECK(parse_event(body + "x").status().message() == "event body is not valid JSON");
}

TEST_CASE("an envelope without id, type or data.object is rejected") {
  const std::string base = "payment_intent.succeeded.json";
  CHECK(rejected_field(fixture_with(base, [](nlohmann::json& e) { e.erase("id"); })) == "id");
  CHECK(rejected_field(fixture_with(base, [](nlohmann::json& e) { e["id"] = ""; })) == "id");
  CHECK(rejected_field(fixture_with(base, [](nlohmann::json& e) { e["id"] = 42; })) == "id");
  CHECK(rejected_field(fixture_with(base, [](nlohmann::json& e) { e.erase("type"); })) == "type");
  CHECK(rejected_field(fixture_with(base, [](nlohmann::json& e) { e["type"] = nullptr; })) == "type");
  CHECK(rejected_field(fixture_with(base, [](nlohmann::json& e) { e.erase("data"); })) ==
        "data.object");
  CHECK(rejected_field(fixture_with(base, [](nlohmann::json& e) { e["data"] = "x"; })) == "data");
  CHECK(rejected_field(fixture_with(base, [](nlohmann::json& e) { e["data"].erase("object"); })) ==
        "data.object");
  CHECK(rejected_field(fixture_with(base, [](nlohmann::json& e) { e["data"]["object"] = "pi_1"; })) ==
        "data.object");
  CHECK(rejected_field(fixture_with(base, [](nlohmann::json& e) { e["livemode"] = "false"; })) ==
        "livemode");
  CHECK(rejected_field(fixture_with(base, [](nlohmann::json& e) { e["created"] = 1.5; })) ==
        "created");
}

TEST_CASE("fields of the wrong type in a handled event are rejected with their path") {
  using Change = std::function<void(nlohmann::json&)>;
  struct Case {
    const char* fixture;
    Change change;
    const char* field;
  };
  const Case cases[] = {
      {"payment_intent.succeeded.json", [](nlohmann::json& o) { o["amount"] = "5000"; }, "data.object.amount"},
      {"payment_intent.succeeded.json", [](nlohmann::json& o) { o["amount"] = 50.0; }, "data.object.amount"},
      {"payment_intent.succeeded.json", [](nlohmann::json& o) { o["amount"] = -5000; }, "data.object.amount"},
      {"payment_intent.succeeded.json", [](nlohmann::json& o) { o["amount"] = 18446744073709551615ULL; }, "data.object.amount"},
      {"payment_intent.succeeded.json", [](nlohmann::json& o) { o.erase("amount"); }, "data.object.amount"},
      {"payment_intent.succeeded.json", [](nlohmann::json& o) { o["amount_received"] = true; }, "data.object.amount_received"},
      {"payment_intent.succeeded.json", [](nlohmann::json& o) { o["currency"] = "chfx"; }, "data.object.currency"},
      {"payment_intent.succeeded.json", [](nlohmann::json& o) { o["currency"] = "c1f"; }, "data.object.currency"},
      {"payment_intent.succeeded.json", [](nlohmann::json& o) { o["status"] = 3; }, "data.object.status"},
      {"payment_intent.succeeded.json", [](nlohmann::json& o) { o["id"] = nullptr; }, "data.object.id"},
      {"payment_intent.succeeded.json", [](nlohmann::json& o) { o["metadata"]["donation_id"] = 7; }, "data.object.metadata"},
      {"payment_intent.succeeded.json", [](nlohmann::json& o) { o["metadata"] = "donation"; }, "data.object.metadata"},
      {"payment_intent.succeeded.json", [](nlohmann::json& o) { o["latest_charge"] = 12; }, "data.object.latest_charge"},
      {"payment_intent.succeeded.json", [](nlohmann::json& o) { o["latest_charge"] = nlohmann::json::object(); }, "data.object.latest_charge"},
      {"payment_intent.succeeded.json", [](nlohmann::json& o) { o["receipt_email"] = false; }, "data.object.receipt_email"},
      {"payment_intent.succeeded.json", [](nlohmann::json& o) { o["object"] = "charge"; }, "data.object.object"},
      {"payment_intent.payment_failed.json", [](nlohmann::json& o) { o["last_payment_error"]["code"] = 402; }, "data.object.last_payment_error.code"},
      {"payment_intent.payment_failed.json", [](nlohmann::json& o) { o["last_payment_error"] = "declined"; }, "data.object.last_payment_error"},
      {"charge.refunded.partial.json", [](nlohmann::json& o) { o["amount_refunded"] = "2000"; }, "data.object.amount_refunded"},
      {"charge.refunded.partial.json", [](nlohmann::json& o) { o["refunded"] = "no"; }, "data.object.refunded"},
      {"charge.refunded.partial.json", [](nlohmann::json& o) { o["object"] = "refund"; }, "data.object.object"},
      {"charge.refunded.full.json", [](nlohmann::json& o) { o["refunds"]["data"] = "re_1"; }, "data.object.refunds.data"},
      {"charge.refunded.full.json", [](nlohmann::json& o) { o["refunds"]["data"][0].erase("id"); }, "data.object.refunds.data[].id"},
      {"charge.dispute.created.json", [](nlohmann::json& o) { o.erase("charge"); }, "data.object.charge"},
      {"charge.dispute.created.json", [](nlohmann::json& o) { o["status"] = nullptr; }, "data.object.status"},
      {"charge.dispute.closed.won.json", [](nlohmann::json& o) { o["amount"] = "5000"; }, "data.object.amount"},
  };
  for (const auto& c : cases) {
    INFO(c.fixture << " → " << c.field);
    CHECK(rejected_field(fixture_with(c.fixture, [&](nlohmann::json& e) { c.change(e["data"]["object"]); })) ==
          c.field);
  }
}

TEST_CASE("hostile bodies: deep nesting, oversize and truncation are rejected without crashing") {
  const std::string deep = "{\"id\":\"evt_1\",\"type\":\"x\",\"data\":{\"object\":" +
                           std::string(100000, '[') + std::string(100000, ']') + "}}";
  CHECK(rejected_field(deep).empty());
  // 64 levels are fine, 65 are not (brackets inside strings do not count).
  auto nested = [](int depth) {
    std::string text = "{\"id\":\"evt_1\",\"type\":\"x\",\"s\":\"[[[[{{{{\",\"data\":{\"object\":{\"n\":";
    text += std::string(static_cast<std::size_t>(depth - 3), '[');
    text += std::string(static_cast<std::size_t>(depth - 3), ']');
    return text + "}}}";
  };
  CHECK(parse_event(nested(donatio::webhooks::kMaxEventNestingDepth)).ok());
  CHECK_FALSE(parse_event(nested(donatio::webhooks::kMaxEventNestingDepth + 1)).ok());
  // The same with a value in the innermost array (the fast reader counts empty ones differently).
  auto filled = [&](int depth) {
    std::string text = nested(depth);
    text.insert(text.find(']'), "1");
    return text;
  };
  CHECK(parse_event(filled(donatio::webhooks::kMaxEventNestingDepth)).ok());
  CHECK_FALSE(parse_event(filled(donatio::webhooks::kMaxEventNestingDepth + 1)).ok());
  CHECK(parse_event(filled(donatio::webhooks::kMaxEventNestingDepth + 1)).status().message() ==
        "event body is nested too deeply");

  std::string oversize = read_fixture("customer.created.json");
  oversize.insert(oversize.size() - 2, std::string(donatio::webhooks::kMaxEventBytes, ' '));
  CHECK(rejected_field(oversize).empty());

  const std::string whole = read_fixture("payment_intent.succeeded.json");
  for (std::size_t n = 0; n + 2 < whole.size(); ++n) {
    if (parse_event(std::string_view(whole).substr(0, n)).ok()) FAIL("prefix of length " << n << " parsed");
  }
}
