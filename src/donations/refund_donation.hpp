// Refunding a donation through Stripe (admin). The refund row is written first (status
// pending, amount reserved against what is still refundable, under a row lock), then Stripe is
// called with an Idempotency-Key derived from that row, so a retried request can never refund
// twice and two concurrent requests cannot both take the same money. The donation itself moves
// only when Stripe's charge.refunded event (webhook or sweep) confirms. Thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "donatio/clock.hpp"
#include "donatio/payment_gateway.hpp"
#include "donatio/status.hpp"
#include "src/store/database.hpp"

namespace donatio::donations {

struct RefundRequest {
  std::string donation_id;
  std::optional<std::int64_t> amount;  // nullopt: everything still refundable
  std::string reason;                  // "", duplicate, fraudulent, requested_by_customer
  std::string actor;                   // token name, for the audit log
  std::string request_id;
  // The client's Idempotency-Key ("" = none): the same key and request return the same refund
  // (and retry Stripe with the same key while its outcome is unknown); the same key with a
  // different request is a conflict.
  std::string client_key;
};

struct RefundRecord {
  std::string id;
  std::string donation_id;
  std::int64_t amount = 0;
  std::string currency;
  std::string status;  // pending (sent or unknown), succeeded, failed
  std::string stripe_refund_id;
  std::string reason;
  std::int64_t created_at = 0;
  // Stripe refused it (status failed, no Stripe refund): its error, answered again on a replay.
  std::string error_code;
  std::string error_message;
  bool replayed = false;  // answered from an earlier request with the same client key
};

std::string refund_idempotency_key(const std::string& refund_id);

Result<RefundRecord> refund_donation(store::Database& db, PaymentGateway* gateway, const Clock& clock,
                                     const RefundRequest& request);

}  // namespace donatio::donations
