#include "src/donations/create_donation.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "donatio/campaign.hpp"
#include "donatio/donation.hpp"
#include "donatio/money.hpp"
#include "src/http/errors.hpp"
#include "src/http/json_body.hpp"
#include "src/http/request_context.hpp"
#include "src/store/donation_store.hpp"
#include "src/store/token_store.hpp"

namespace donatio::donations {
namespace {

constexpr std::int64_t kIdempotencyTtlS = 48 * 3600;  // "at least 24 h"

Answer error_answer(const Status& status) { return {http::http_status_for(status.code()), http::error_json(status)}; }

std::string canonical(const DonationRequest& r) {
  // Field order fixed, so the same request always hashes the same way.
  return nlohmann::json{{"amount", r.amount}, {"campaign", r.campaign}, {"cover_fees", r.cover_fees},
                        {"currency", r.currency}, {"donor_email", r.donor_email}, {"donor_name", r.donor_name}}
      .dump();
}

}  // namespace

std::string payment_intent_idempotency_key(const std::string& donation_id) { return "donatio-pi-" + donation_id; }

Answer DonationCreator::create(const std::string& body, const std::string& key) {
  auto request = parse_donation_request(body);
  if (!request.ok()) return error_answer(request.status());
  if (key.size() > 255) {
    return error_answer(Status::InvalidArgument("Idempotency-Key", "Idempotency-Key must be at most 255 characters"));
  }
  // A key seen before is found when its row is inserted (fresh → conflict) or when the request
  // is refused (refuse), so the common case — a new key — costs no read of its own.
  const std::string hash = key.empty() ? std::string() : store::hash_token(canonical(*request));
  return fresh(*request, key, hash);
}

Answer DonationCreator::refuse(const DonationRequest& request, const std::string& key, const std::string& hash,
                               const Status& refusal) {
  if (!key.empty()) {
    if (auto earlier = answer_for_known_key(request, key, hash)) return *earlier;
  }
  return error_answer(refusal);
}

std::optional<Answer> DonationCreator::answer_for_known_key(const DonationRequest& request, const std::string& key,
                                                           const std::string& hash) {
  store::DonationStore donations(db_);
  auto existing = donations.find_idempotency(key, clock_.now_unix());
  if (!existing.ok()) return error_answer(existing.status());
  if (!*existing) return std::nullopt;
  const auto& rec = **existing;
  if (rec.request_hash != hash) {
    return error_answer(Status::Conflict("this Idempotency-Key was used with a different request",
                                         "idempotency_key_reused", "Idempotency-Key"));
  }
  if (rec.response_status) return Answer{*rec.response_status, rec.response_body};
  // A previous attempt wrote the donation but gave no final answer (timeout, crash): continue
  // it. The gateway key is derived from the donation id, so Stripe returns the intent it may
  // already have created instead of making a second one.
  auto donation = donations.get(rec.donation_id);
  if (!donation.ok()) return error_answer(donation.status());
  return call_gateway(rec.donation_id, request, donation->amount, key);
}

Answer DonationCreator::fresh(const DonationRequest& r, const std::string& key, const std::string& hash) {
  const std::int64_t now = clock_.now_unix();
  auto campaign = campaigns_.get(r.campaign);
  if (!campaign.ok()) {
    if (campaign.status().code() == StatusCode::not_found) {
      return refuse(r, key, hash,
                    Status::Unprocessable("campaign_not_found", "no campaign '" + r.campaign + "'", "campaign"));
    }
    return error_answer(campaign.status());
  }
  if (!is_open(*campaign, now)) {
    return refuse(r, key, hash,
                  Status::Unprocessable("campaign_closed", "campaign '" + r.campaign + "' is not open for donations",
                                        "campaign"));
  }
  if (r.currency != campaign->currency) {
    return refuse(r, key, hash,
                  Status::Unprocessable("currency_not_accepted",
                                        "campaign '" + r.campaign + "' accepts " + campaign->currency, "currency"));
  }
  const std::int64_t minimum = stripe_minimum_charge(r.currency);
  if (r.amount < minimum) {
    return refuse(r, key, hash,
                  Status::Unprocessable("amount_too_small",
                                        "amount must be at least " + format_money({minimum, r.currency}), "amount"));
  }
  std::int64_t charged = r.amount;
  if (r.cover_fees) {
    const auto fixed = config_.stripe.fee_fixed_minor.find(r.currency);
    auto grossed = gross_up_for_fees(r.amount, config_.stripe.fee_percent_bps,
                                     fixed == config_.stripe.fee_fixed_minor.end() ? 0 : fixed->second);
    if (!grossed) return refuse(r, key, hash, Status::InvalidArgument("amount", "amount is too large", "invalid_amount"));
    charged = *grossed;
  }
  const auto max_it = config_.stripe.max_amount_minor.find(r.currency);
  const std::int64_t maximum =
      max_it == config_.stripe.max_amount_minor.end() ? config_.stripe.default_max_amount_minor : max_it->second;
  if (charged > maximum) {
    return refuse(r, key, hash,
                  Status::Unprocessable("amount_too_large",
                                        "amount must be at most " + format_money({maximum, r.currency}), "amount"));
  }
  if (gateway_ == nullptr) {
    return refuse(r, key, hash,
                  Status(StatusCode::provider_unavailable, "provider_unavailable", "payments are not configured"));
  }

  store::NewDonation row{"don_" + http::time_ordered_hex(now), r.campaign, charged, r.amount, r.currency, r.cover_fees,
                         r.donor_email, r.donor_name};
  store::DonationStore donations(db_);
  Status written = donations.insert_pending(row, key, hash, now, kIdempotencyTtlS);
  if (written.code() == StatusCode::conflict && !key.empty()) {
    // Another request with the same key won the race; answer as a replay would.
    if (auto earlier = answer_for_known_key(r, key, hash)) return *earlier;
  }
  if (!written.ok()) return error_answer(written);
  return call_gateway(row.id, r, charged, key);
}

Answer DonationCreator::call_gateway(const std::string& donation_id, const DonationRequest& r, std::int64_t charged,
                                     const std::string& key) {
  CreatePaymentIntent create;
  create.amount_minor = charged;
  create.currency = r.currency;
  create.receipt_email = r.donor_email;
  create.description = "Donation to " + r.campaign;
  create.metadata = {{"donation_id", donation_id}, {"campaign", r.campaign}};
  create.idempotency_key = payment_intent_idempotency_key(donation_id);
  auto intent = gateway_->create_payment_intent(create);
  store::DonationStore donations(db_);
  const std::int64_t now = clock_.now_unix();
  if (!intent.ok()) {
    const Status& s = intent.status();
    spdlog::warn("payment intent for donation {} not created: {}", donation_id, s.error_code());
    if (s.code() == StatusCode::provider_rejected) {
      (void)donations.mark_rejected(donation_id, "provider rejected: " + s.error_code(), now);
      Answer answer = error_answer(Status(StatusCode::provider_rejected, s.error_code(),
                                          "the payment provider declined to create this payment: " + s.message()));
      if (!key.empty()) (void)donations.store_response(key, answer.status, answer.body);
      return answer;
    }
    // Unavailable or timeout: the donation stays pending (unknown); a retry with the same
    // Idempotency-Key resumes it, and the settle sweep recovers an intent Stripe did create.
    return error_answer(s);
  }
  const nlohmann::json body{{"id", donation_id},
                            {"status", "pending"},
                            {"amount", charged},
                            {"gift_amount", r.amount},
                            {"cover_fees", r.cover_fees},
                            {"currency", r.currency},
                            {"campaign", r.campaign},
                            {"client_secret", intent->client_secret},
                            {"payment_intent", intent->id}};
  Answer answer{201, body.dump()};
  // The intent and the answer a replay returns commit together. Should this fail, the row has
  // no intent and the key no answer: a retry with the key resumes through Stripe's idempotency.
  if (Status s = donations.attach_payment_intent(donation_id, intent->id, now, key, answer.status, answer.body); !s.ok()) {
    return error_answer(s);
  }
  spdlog::info("donation {} created with payment intent {}", donation_id, intent->id);
  return answer;
}

}  // namespace donatio::donations
