// Creating a donation for the Donate button: validate the request, write the pending row,
// ask the payment gateway for a payment intent (Idempotency-Key derived from our donation id,
// so a retry can never create a second intent), attach it, answer with the client secret.
// Idempotency-Key support: the same key with the same body gets the same answer; the same key
// with another body is a conflict. Thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "donatio/clock.hpp"
#include "donatio/config.hpp"
#include "donatio/payment_gateway.hpp"
#include "donatio/status.hpp"
#include "src/donations/donation_request.hpp"
#include "src/store/campaign_cache.hpp"
#include "src/store/database.hpp"

namespace donatio::donations {

// The Stripe Idempotency-Key for the payment intent of a donation.
std::string payment_intent_idempotency_key(const std::string& donation_id);

// A final answer: HTTP status and JSON body, stored verbatim for idempotent replays.
struct Answer {
  int status = 0;
  std::string body;
};

class DonationCreator {
 public:
  DonationCreator(const Config& config, store::Database& db, store::CampaignCache& campaigns, const Clock& clock,
                  PaymentGateway* gateway)
      : config_(config), db_(db), campaigns_(campaigns), clock_(clock), gateway_(gateway) {}

  // `idempotency_key` may be empty (then every call is a new donation).
  Answer create(const std::string& body, const std::string& idempotency_key);

 private:
  std::optional<Answer> answer_for_known_key(const DonationRequest& request, const std::string& key,
                                            const std::string& hash);
  Answer fresh(const DonationRequest& request, const std::string& key, const std::string& hash);
  // A request that cannot be accepted now: the answer stored for its Idempotency-Key if the
  // key was used before (a replay is answered as the first time, even if the campaign has
  // closed since), else `refusal`.
  Answer refuse(const DonationRequest& request, const std::string& key, const std::string& hash, const Status& refusal);
  Answer call_gateway(const std::string& donation_id, const DonationRequest& request, std::int64_t charged,
                      const std::string& key);
  const Config& config_;
  store::Database& db_;
  store::CampaignCache& campaigns_;
  const Clock& clock_;
  PaymentGateway* gateway_;
};

}  // namespace donatio::donations
