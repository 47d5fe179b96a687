// StripeEvent: a verified Stripe webhook event read into a typed value, and the PaymentEvent it
// means for a donation. Only the fields our handlers use are kept; everything else is skipped.
// Thread-safety: pure functions and plain value types; safe to call from many threads at once.
//
// REQUIRES: the bytes were authenticated with verify_signature() first (verify before parse).
// Events are read as Stripe renders them for any API version since 2022-11-15 (no
// `charges` list on payment intents); the older `refunds` list on a charge is read when present.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "donatio/donation.hpp"
#include "donatio/status.hpp"

namespace donatio::webhooks {

// Upper bounds: the size is checked before parsing, the nesting depth while parsing. The HTTP
// layer already limits the body (server.max_body_bytes); these guard every other caller
// (replay, the events sweep).
inline constexpr std::size_t kMaxEventBytes = 1024 * 1024;
inline constexpr int kMaxEventNestingDepth = 64;

// data.object of a payment_intent.* event.
struct PaymentIntentDetails {
  std::string id;                  // pi_…
  std::int64_t amount = 0;         // minor units
  std::int64_t amount_received = 0;
  std::string currency;            // upper-case ISO 4217 ("CHF")
  std::string status;              // Stripe's status string ("succeeded", "processing", …)
  std::string latest_charge;       // ch_…, or empty (also read from an expanded object)
  std::map<std::string, std::string> metadata;  // all keys, e.g. donation_id, campaign
  std::string receipt_email;       // empty when null
  std::int64_t created = 0;        // unix seconds
  std::string failure_code;        // last_payment_error.code, e.g. "card_declined"; may be empty
  std::string failure_message;     // last_payment_error.message; may be empty

  // metadata[key], or empty when absent. Views into `metadata`: valid while this value lives.
  std::string_view metadata_value(std::string_view key) const;
  std::string_view donation_id() const { return metadata_value("donation_id"); }
  std::string_view campaign() const { return metadata_value("campaign"); }
};

// data.object of a charge.refunded event.
struct ChargeDetails {
  std::string id;                  // ch_…
  std::string payment_intent;      // pi_…, or empty for a charge made without one
  std::int64_t amount = 0;
  std::int64_t amount_refunded = 0;  // cumulative over all refunds of this charge
  std::string currency;            // upper case
  bool refunded = false;           // Stripe: fully refunded
  std::string balance_transaction; // txn_…, or empty
  std::string latest_refund_id;    // re_… of the newest entry of `refunds.data`; empty when the
                                   // list is absent (the default since API 2022-11-15)
};

// data.object of a charge.dispute.* event.
struct DisputeDetails {
  std::string id;                  // du_… (dp_… on old accounts)
  std::string charge;              // ch_…
  std::string payment_intent;      // pi_…, or empty when Stripe sends null
  std::int64_t amount = 0;
  std::string currency;            // upper case
  std::string status;              // needs_response, under_review, won, lost, warning_closed, …
  std::string reason;              // fraudulent, duplicate, …
};

struct StripeEvent {
  std::string id;                  // evt_…; our duplicate-delivery key
  std::string type;                // "payment_intent.succeeded", …
  std::string api_version;         // empty when Stripe sends null
  std::int64_t created = 0;        // unix seconds
  bool livemode = false;
  std::string object_type;         // data.object.object ("payment_intent", "charge", …)
  std::string object_id;           // data.object.id; empty for objects without one

  // Exactly one is set for the types we read (payment_intent.*, charge.refunded,
  // charge.dispute.*); none for any other type, whose data.object is not looked at further.
  std::optional<PaymentIntentDetails> payment_intent;
  std::optional<ChargeDetails> charge;
  std::optional<DisputeDetails> dispute;
};

// Reads one event. Never throws. invalid_argument (error_code "invalid_event", `field` naming
// the offending JSON path) for: text that is not one JSON object, larger than kMaxEventBytes or
// nested deeper than kMaxEventNestingDepth; a missing or non-string id/type; a missing or
// non-object data.object; and, for the types we read, a data.object of another kind or a
// required field that is missing or of the wrong type (amounts must be non-negative integers,
// currencies three letters). Optional fields may be null or absent. `internal` only when memory
// runs out.
Result<StripeEvent> parse_event(std::string_view json);

// What the event means for a donation, or nullopt for a type we acknowledge and ignore:
//   payment_intent.processing → processing        payment_intent.succeeded → succeeded
//   payment_intent.payment_failed → payment_failed payment_intent.canceled → canceled
//   charge.refunded → refunded when amount_refunded >= amount, else partially_refunded
//                     (nullopt when nothing was refunded: there is nothing to apply)
//   charge.dispute.created → dispute_opened (inquiries too: they may still become disputes)
//   charge.dispute.closed  → won / warning_closed → dispute_won (the money is kept),
//                            lost → dispute_lost; any other status → nullopt
// REQUIRES: `event` came from parse_event (the details for its type are set).
std::optional<PaymentEvent> payment_event_for(const StripeEvent& event);

}  // namespace donatio::webhooks
