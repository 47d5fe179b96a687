#include "src/donations/refund_donation.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "donatio/money.hpp"
#include "src/http/request_context.hpp"
#include "src/store/audit_log.hpp"
#include "src/store/row.hpp"
#include "src/store/token_store.hpp"

namespace donatio::donations {

namespace {

// A refund row younger than this with no answer from Stripe may still be in flight on another
// thread or instance (a Stripe call with its retries takes far less); a replay then waits.
constexpr std::int64_t kInFlightS = 120;

Status key_in_use() {
  return Status::Conflict("a refund with this Idempotency-Key is being processed; retry shortly", "idempotency_key_in_use");
}

// What a client key stands for: the same donation, amount and reason.
std::string request_hash(const RefundRequest& r) {
  return store::hash_token(nlohmann::json{{"donation_id", r.donation_id},
                                          {"amount", r.amount ? nlohmann::json(*r.amount) : nlohmann::json(nullptr)},
                                          {"reason", r.reason}}
                               .dump());
}

// The refund already made under `request.client_key`, if any.
Result<std::optional<RefundRecord>> find_by_client_key(soci::session& sql, const RefundRequest& request,
                                                       const std::string& hash) {
  soci::rowset<soci::row> rows =
      (sql.prepare << "SELECT id, donation_id, amount, currency, status, stripe_refund_id, reason, request_hash, created_at, "
                      "error_code, error_message FROM refunds WHERE client_key = :k",
       soci::use(request.client_key));
  for (const auto& r : rows) {
    if (store::str(r, 7) != hash) {
      return Status::Conflict("this Idempotency-Key was used for a different refund request", "idempotency_key_reused");
    }
    RefundRecord found;
    found.id = store::str(r, 0);
    found.donation_id = store::str(r, 1);
    found.amount = store::i64(r, 2);
    found.currency = store::str(r, 3);
    found.status = store::str(r, 4);
    found.stripe_refund_id = store::str(r, 5);
    found.reason = store::str(r, 6);
    found.created_at = store::i64(r, 8);
    found.error_code = store::str(r, 9);
    found.error_message = store::str(r, 10);
    found.replayed = true;
    return std::optional<RefundRecord>(found);
  }
  return std::optional<RefundRecord>();
}

}  // namespace

std::string refund_idempotency_key(const std::string& refund_id) { return "donatio-refund-" + refund_id; }

Result<RefundRecord> refund_donation(store::Database& db, PaymentGateway* gateway, const Clock& clock,
                                     const RefundRequest& request) {
  if (gateway == nullptr) return Status(StatusCode::provider_unavailable, "provider_unavailable", "payments are not configured");
  if (!request.reason.empty() && request.reason != "duplicate" && request.reason != "fraudulent" &&
      request.reason != "requested_by_customer") {
    return Status::InvalidArgument("reason", "reason must be duplicate, fraudulent or requested_by_customer");
  }
  RefundRecord refund;
  std::string payment_intent;
  const std::int64_t now = clock.now_unix();
  const std::string hash = request.client_key.empty() ? std::string() : request_hash(request);
  Status reserved = db.transaction([&](soci::session& sql) {
    if (!request.client_key.empty()) {
      auto earlier = find_by_client_key(sql, request, hash);
      if (!earlier.ok()) return earlier.status();
      if (earlier->has_value()) {
        refund = **earlier;
        sql << "SELECT payment_intent_id FROM donations WHERE id = :id", soci::use(refund.donation_id),
            soci::into(payment_intent);
        return Status::Ok();
      }
    }
    std::string query = "SELECT status, amount, currency, payment_intent_id, amount_refunded FROM donations WHERE id = :id";
    if (db.is_postgres()) query += " FOR UPDATE";
    soci::rowset<soci::row> rows = (sql.prepare << query, soci::use(request.donation_id));
    bool found = false;
    std::string status;
    std::int64_t amount = 0, refunded = 0;
    for (const auto& r : rows) {
      found = true;
      status = store::str(r, 0);
      amount = store::i64(r, 1);
      refund.currency = store::str(r, 2);
      payment_intent = store::str(r, 3);
      refunded = store::i64(r, 4);
    }
    if (!found) return Status::NotFound("no donation with id '" + request.donation_id + "'", "donation_not_found");
    if (status != "succeeded" && status != "partially_refunded") {
      return Status::Unprocessable("not_refundable", "a " + status + " donation cannot be refunded");
    }
    if (payment_intent.empty()) return Status::Unprocessable("not_refundable", "the donation has no payment intent");
    // Money already refunded, or reserved by refunds still in flight, is not refundable again.
    long long reserved_sum = 0;
    soci::indicator ind;
    sql << "SELECT SUM(amount) FROM refunds WHERE donation_id = :d AND status IN ('pending', 'succeeded')",
        soci::use(request.donation_id), soci::into(reserved_sum, ind);
    if (ind != soci::i_ok) reserved_sum = 0;
    const std::int64_t remaining = amount - std::max<std::int64_t>(refunded, reserved_sum);
    if (remaining <= 0) return Status::Unprocessable("already_refunded", "nothing is left to refund");
    refund.amount = request.amount.value_or(remaining);
    if (refund.amount <= 0) return Status::InvalidArgument("amount", "amount must be a positive integer in minor units");
    if (refund.amount > remaining) {
      return Status::Unprocessable("amount_exceeds_refundable",
                                   "at most " + format_money({remaining, refund.currency}) + " can still be refunded", "amount");
    }
    refund.id = "ref_" + http::id_hex(12);
    refund.donation_id = request.donation_id;
    refund.status = "pending";
    refund.reason = request.reason;
    refund.created_at = now;
    const long long amt = refund.amount, at = now;
    std::string key = request.client_key, key_hash = hash;
    soci::indicator key_ind = key.empty() ? soci::i_null : soci::i_ok, hash_ind = key_ind;
    sql << "INSERT INTO refunds (id, donation_id, amount, currency, reason, status, requested_by, created_at, updated_at, "
           "client_key, request_hash) VALUES (:id, :d, :a, :c, :r, 'pending', :by, :ca, :ua, :k, :h)",
        soci::use(refund.id), soci::use(refund.donation_id), soci::use(amt), soci::use(refund.currency),
        soci::use(refund.reason), soci::use(request.actor), soci::use(at), soci::use(at),
        soci::use(key, key_ind), soci::use(key_hash, hash_ind);
    const std::string details = nlohmann::json{{"refund_id", refund.id}, {"amount", refund.amount},
                                               {"currency", refund.currency}, {"reason", refund.reason}}.dump();
    store::append_audit(sql, {request.actor, "donation.refund_requested", request.donation_id, details, request.request_id}, now);
    return Status::Ok();
  });
  if (!reserved.ok()) {
    // Two requests with one key at once: the other one holds the key until Stripe answered it.
    if (reserved.code() == StatusCode::conflict && reserved.error_code() != "idempotency_key_reused" &&
        !request.client_key.empty()) {
      return key_in_use();
    }
    return reserved;
  }
  // A replay answers what the first request answered: Stripe's refusal again, or the refund as
  // it is when Stripe took it (or it is final). One whose outcome is unknown is asked again with
  // the same Stripe Idempotency-Key, unless it may still be in flight elsewhere.
  if (refund.replayed && !refund.error_code.empty()) {
    return Status(StatusCode::provider_rejected, refund.error_code, refund.error_message);
  }
  if (refund.replayed && (refund.status != "pending" || !refund.stripe_refund_id.empty())) return refund;
  if (refund.replayed && now - refund.created_at < kInFlightS) return key_in_use();

  CreateRefund create;
  create.payment_intent = payment_intent;
  create.amount_minor = refund.amount;
  create.reason = refund.reason;
  create.metadata = {{"refund_id", refund.id}, {"donation_id", refund.donation_id}};
  create.idempotency_key = refund_idempotency_key(refund.id);
  auto result = gateway->create_refund(create);
  std::string new_status = "pending";
  if (result.ok()) {
    refund.stripe_refund_id = result->id;
    new_status = result->status == "failed" || result->status == "canceled" ? "failed" : "succeeded";
  } else if (result.status().code() == StatusCode::provider_rejected) {
    new_status = "failed";  // nothing was refunded: the reserved amount is free again
    refund.error_code = result.status().error_code();
    refund.error_message = result.status().message();
  }
  // provider_unavailable / timeout: stays pending (outcome unknown); the charge.refunded event
  // or a retry with the same key settles it.
  Status updated = db.transaction([&](soci::session& sql) {
    const long long at = clock.now_unix();
    soci::indicator ind = refund.stripe_refund_id.empty() ? soci::i_null : soci::i_ok;
    soci::indicator error_ind = refund.error_code.empty() ? soci::i_null : soci::i_ok;
    soci::indicator message_ind = error_ind;
    sql << "UPDATE refunds SET status = :s, stripe_refund_id = :r, updated_at = :u, error_code = :ec, "
           "error_message = :em WHERE id = :id",
        soci::use(new_status), soci::use(refund.stripe_refund_id, ind), soci::use(at),
        soci::use(refund.error_code, error_ind), soci::use(refund.error_message, message_ind), soci::use(refund.id);
    return Status::Ok();
  });
  refund.status = new_status;
  if (!result.ok()) {
    spdlog::warn("refund {} of donation {} not confirmed by Stripe: {}", refund.id, refund.donation_id,
                 result.status().error_code());
    return result.status();
  }
  if (!updated.ok()) return updated;
  spdlog::info("refund {} of donation {} sent to Stripe as {}", refund.id, refund.donation_id, refund.stripe_refund_id);
  return refund;
}

}  // namespace donatio::donations
