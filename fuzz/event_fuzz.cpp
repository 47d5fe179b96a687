// Fuzzes the webhook event parser parse_event (webhooks/event.hpp) with arbitrary bytes, and
// checks what its contract promises: it never throws; a parsed event has a bounded id and type,
// and at most one kind of details, the one its type asks for; payment_event_for accepts it.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz/fuzz_support.hpp"
#include "webhooks/event.hpp"

using donatio::webhooks::StripeEvent;

namespace {

bool is_upper_currency(const std::string& code) {
  if (code.size() != 3) return false;
  for (const char c : code) {
    if (c < 'A' || c > 'Z') return false;
  }
  return true;
}

void check_event(const StripeEvent& event) {
  DONATIO_FUZZ_CHECK(!event.id.empty() && event.id.size() <= 255);
  DONATIO_FUZZ_CHECK(!event.type.empty() && event.type.size() <= 255);
  DONATIO_FUZZ_CHECK(event.created >= 0);
  const int kinds = int(event.payment_intent.has_value()) + int(event.charge.has_value()) +
                    int(event.dispute.has_value());
  DONATIO_FUZZ_CHECK(kinds <= 1);
  const std::string_view type = event.type;
  if (event.payment_intent) {
    const auto& pi = *event.payment_intent;
    DONATIO_FUZZ_CHECK(type.starts_with("payment_intent."));
    DONATIO_FUZZ_CHECK(event.object_type == "payment_intent");
    DONATIO_FUZZ_CHECK(!pi.id.empty() && pi.amount >= 0 && pi.amount_received >= 0 && pi.created >= 0);
    DONATIO_FUZZ_CHECK(is_upper_currency(pi.currency));
    // metadata_value returns a view into the map; read it while the event lives.
    const std::string_view donation = pi.donation_id();
    DONATIO_FUZZ_CHECK(donation.empty() || pi.metadata.count("donation_id") == 1);
    (void)pi.campaign().size();
  }
  if (event.charge) {
    DONATIO_FUZZ_CHECK(type == "charge.refunded" && event.object_type == "charge");
    DONATIO_FUZZ_CHECK(event.charge->amount >= 0 && event.charge->amount_refunded >= 0);
    DONATIO_FUZZ_CHECK(is_upper_currency(event.charge->currency));
  }
  if (event.dispute) {
    DONATIO_FUZZ_CHECK(type.starts_with("charge.dispute.") && event.object_type == "dispute");
    DONATIO_FUZZ_CHECK(!event.dispute->charge.empty() && event.dispute->amount >= 0);
    DONATIO_FUZZ_CHECK(is_upper_currency(event.dispute->currency));
  }
  if (type.starts_with("payment_intent.")) DONATIO_FUZZ_CHECK(event.payment_intent.has_value());
  if (type == "charge.refunded") DONATIO_FUZZ_CHECK(event.charge.has_value());
  if (type.starts_with("charge.dispute.")) DONATIO_FUZZ_CHECK(event.dispute.has_value());
  (void)donatio::webhooks::payment_event_for(event);  // REQUIRES met: event came from parse_event
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto event = donatio::webhooks::parse_event(text);
  if (event.ok()) {
    check_event(*event);
  } else {
    DONATIO_FUZZ_CHECK(event.status().code() == donatio::StatusCode::invalid_argument ||
                       event.status().code() == donatio::StatusCode::internal);
  }
  return 0;
}
