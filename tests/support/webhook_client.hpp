// Test helpers for Stripe webhooks: fixtures, events built to order, signed delivery.
#pragma once

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

#include "support/service_fixture.hpp"

namespace donatio::testing {

// The bytes of webhooks/fixtures/NAME.
std::string read_fixture(const std::string& name);

// A payment_intent.* event shaped like Stripe's (pretty-printed, ~2 KB).
std::string payment_intent_event(const std::string& event_id, const std::string& type, const std::string& pi_id,
                                 std::int64_t amount, const std::string& currency,
                                 const std::map<std::string, std::string>& metadata, std::int64_t created,
                                 const std::string& charge_id = "");
// A charge.refunded event.
std::string charge_refunded_event(const std::string& event_id, const std::string& charge_id, const std::string& pi_id,
                                  std::int64_t amount, std::int64_t amount_refunded, const std::string& currency,
                                  std::int64_t created);

// POSTs `body` to /webhooks/stripe signed with the fixture's secret at the fixture's clock.
httplib::Result post_signed(ServiceFixture& fx, const std::string& body, std::int64_t timestamp_offset_s = 0,
                            const std::string& secret = ServiceFixture::kWebhookSecret);

// SELECT COUNT(*) … through the service's database.
long long count_rows(ServiceFixture& fx, const std::string& sql_text);
std::string query_string(ServiceFixture& fx, const std::string& sql_text);
// Runs statements in one transaction through the service's database (test set-up only).
void exec_sql(ServiceFixture& fx, const std::vector<std::string>& statements);

}  // namespace donatio::testing
