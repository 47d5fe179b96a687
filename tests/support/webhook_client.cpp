#include "support/webhook_client.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include "webhooks/signature.hpp"

namespace donatio::testing {

std::string read_fixture(const std::string& name) {
  std::ifstream in(std::string(DONATIO_SOURCE_DIR) + "/webhooks/fixtures/" + name, std::ios::binary);
  REQUIRE(in);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string payment_intent_event(const std::string& event_id, const std::string& type, const std::string& pi_id,
                                 std::int64_t amount, const std::string& currency,
                                 const std::map<std::string, std::string>& metadata, std::int64_t created,
                                 const std::string& charge_id) {
  nlohmann::json pi = {
      {"id", pi_id}, {"object", "payment_intent"}, {"amount", amount},
      {"amount_capturable", 0}, {"amount_received", type == "payment_intent.succeeded" ? amount : 0},
      {"application", nullptr}, {"automatic_payment_methods", {{"allow_redirects", "always"}, {"enabled", true}}},
      {"canceled_at", nullptr}, {"cancellation_reason", nullptr}, {"capture_method", "automatic_async"},
      {"client_secret", pi_id + "_secret_NotARealSecretForTests"}, {"confirmation_method", "automatic"},
      {"created", created}, {"currency", currency}, {"customer", nullptr}, {"description", nullptr},
      {"last_payment_error", nullptr},
      {"latest_charge", charge_id.empty() ? nlohmann::json(nullptr) : nlohmann::json(charge_id)},
      {"livemode", false}, {"metadata", metadata}, {"next_action", nullptr}, {"on_behalf_of", nullptr},
      {"payment_method", "pm_1TestCardVisa00000001"},
      {"payment_method_options", {{"card", {{"installments", nullptr}, {"mandate_options", nullptr},
                                            {"network", nullptr}, {"request_three_d_secure", "automatic"}}}}},
      {"payment_method_types", {"card"}}, {"processing", nullptr}, {"receipt_email", "donor@example.org"},
      {"review", nullptr}, {"setup_future_usage", nullptr}, {"shipping", nullptr},
      {"statement_descriptor", nullptr}, {"statement_descriptor_suffix", nullptr},
      {"status", type == "payment_intent.succeeded" ? "succeeded" : "processing"},
      {"transfer_data", nullptr}, {"transfer_group", nullptr}};
  nlohmann::json event = {{"id", event_id}, {"object", "event"}, {"api_version", "2024-06-20"},
                          {"created", created + 2}, {"data", {{"object", pi}}}, {"livemode", false},
                          {"pending_webhooks", 1}, {"request", {{"id", nullptr}, {"idempotency_key", nullptr}}},
                          {"type", type}};
  return event.dump(2);
}

std::string charge_refunded_event(const std::string& event_id, const std::string& charge_id, const std::string& pi_id,
                                  std::int64_t amount, std::int64_t amount_refunded, const std::string& currency,
                                  std::int64_t created) {
  nlohmann::json charge = {{"id", charge_id}, {"object", "charge"}, {"amount", amount},
                           {"amount_captured", amount}, {"amount_refunded", amount_refunded},
                           {"balance_transaction", "txn_" + charge_id.substr(3)}, {"captured", true},
                           {"created", created}, {"currency", currency}, {"livemode", false},
                           {"metadata", nlohmann::json::object()}, {"paid", true}, {"payment_intent", pi_id},
                           {"refunded", amount_refunded >= amount}, {"status", "succeeded"}};
  nlohmann::json event = {{"id", event_id}, {"object", "event"}, {"api_version", "2024-06-20"},
                          {"created", created}, {"data", {{"object", charge}}}, {"livemode", false},
                          {"pending_webhooks", 1}, {"request", {{"id", nullptr}, {"idempotency_key", nullptr}}},
                          {"type", "charge.refunded"}};
  return event.dump(2);
}

httplib::Result post_signed(ServiceFixture& fx, const std::string& body, std::int64_t offset, const std::string& secret) {
  const std::int64_t t = fx.clock().now_unix() + offset;
  httplib::Headers headers{{"Stripe-Signature", webhooks::sign_header(secret, t, body)}};
  return fx.client().Post("/webhooks/stripe", headers, body, "application/json; charset=utf-8");
}

long long count_rows(ServiceFixture& fx, const std::string& sql_text) {
  long long n = -1;
  REQUIRE(fx.service().database().read([&](soci::session& sql) {
    sql << sql_text, soci::into(n);
    return Status::Ok();
  }).ok());
  return n;
}

std::string query_string(ServiceFixture& fx, const std::string& sql_text) {
  std::string value;
  soci::indicator ind = soci::i_ok;
  REQUIRE(fx.service().database().read([&](soci::session& sql) {
    sql << sql_text, soci::into(value, ind);
    return Status::Ok();
  }).ok());
  return ind == soci::i_ok ? value : std::string("<null>");
}

void exec_sql(ServiceFixture& fx, const std::vector<std::string>& statements) {
  REQUIRE(fx.service().database().transaction([&](soci::session& sql) {
    for (const auto& s : statements) sql << s;
    return Status::Ok();
  }).ok());
}

}  // namespace donatio::testing
