// Donation persistence outside the webhook path: the row written before Stripe is called,
// completed with the payment intent afterwards, idempotency keys of POST /v1/donations, and the
// admin listing (keyset pagination, newest first). Thread-safe (stateless; uses the Database).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "donatio/donation.hpp"
#include "src/store/database.hpp"

namespace donatio::store {

struct DonationRecord {
  std::string id;
  std::optional<std::string> campaign_slug;  // null: unattributed
  std::string status;
  std::int64_t amount = 0;       // charged, minor units
  std::int64_t gift_amount = 0;  // intended gift (== amount unless cover_fees)
  std::string currency;
  bool cover_fees = false;
  std::string donor_email;
  std::string donor_name;
  std::string source;  // api | external
  std::string payment_intent_id;
  std::string charge_id;
  std::int64_t amount_refunded = 0;
  std::optional<std::int64_t> fee;
  std::optional<std::int64_t> net;
  std::string settlement_currency;
  std::string exchange_rate;
  std::string receipt_number;
  std::int64_t created_at = 0;
  std::int64_t updated_at = 0;
};

struct NewDonation {
  std::string id;
  std::string campaign_slug;
  std::int64_t amount = 0;
  std::int64_t gift_amount = 0;
  std::string currency;
  bool cover_fees = false;
  std::string donor_email;
  std::string donor_name;
};

// The stored state of an Idempotency-Key.
struct IdempotencyRecord {
  std::string request_hash;
  std::string donation_id;
  std::optional<int> response_status;  // set once a final answer was given
  std::string response_body;
};

struct DonationFilter {
  std::string campaign;  // slug; "" = any
  std::string status;    // "" = any
  std::optional<std::int64_t> from;  // created_at >= from
  std::optional<std::int64_t> to;    // created_at < to
  int limit = 50;
  // Keyset cursor: the (created_at, id) of the last row of the previous page.
  std::optional<std::pair<std::int64_t, std::string>> after;
};

class DonationStore {
 public:
  explicit DonationStore(Database& db) : db_(db) {}

  // Writes the pending donation (and its first history row, and the idempotency key when
  // given) in one transaction. conflict(idempotency_key_in_use) when the key appeared meanwhile.
  Status insert_pending(const NewDonation& donation, const std::string& idempotency_key,
                        const std::string& request_hash, std::int64_t now, std::int64_t key_ttl_s);
  // Records the payment intent Stripe created for the donation and, with an idempotency key,
  // the answer its replays return, in one transaction.
  Status attach_payment_intent(const std::string& donation_id, const std::string& payment_intent_id,
                               std::int64_t now, const std::string& idempotency_key = {}, int response_status = 0,
                               const std::string& response_body = {});
  // The provider refused to create the intent: the donation moves to failed (with history).
  Status mark_rejected(const std::string& donation_id, const std::string& reason, std::int64_t now);
  // Stores the final answer for an idempotency key.
  Status store_response(const std::string& key, int status, const std::string& body);
  Result<std::optional<IdempotencyRecord>> find_idempotency(const std::string& key, std::int64_t now);
  // Deletes expired idempotency keys; returns how many.
  Result<std::int64_t> purge_idempotency(std::int64_t now);

  Result<DonationRecord> get(const std::string& id);
  Result<std::vector<DonationRecord>> list(const DonationFilter& filter);

 private:
  Database& db_;
};

// Reads a donation row selected with kDonationColumns.
extern const char* const kDonationColumns;
DonationRecord donation_from_row(const soci::row& row);

// A donor's donations by e-mail address, case folded by the database on both sides (`:e` bound
// to the address as given; `d` = donations). Exactly the expression donations_donor_email
// indexes (migration 008): change both or neither.
inline constexpr const char* kDonorEmailMatch = "LOWER(d.donor_email) = LOWER(:e)";

}  // namespace donatio::store
