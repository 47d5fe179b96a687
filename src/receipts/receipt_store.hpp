// Receipt store: reads issued receipt documents (receipts joined with their donation and
// campaign) and the rows of a donor's annual statement. Receipts are written only by the
// ledger (webhooks/ledger.cpp) in the transaction that moves the donation; nothing here
// writes them. Thread-safety: stateless apart from the Database reference.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "donatio/status.hpp"
#include "src/store/database.hpp"

namespace donatio::receipts {

struct ReceiptRecord {
  std::string number;
  std::string kind;               // receipt, amended, void
  std::string references_number;  // "" for an original receipt
  std::string donation_id;
  std::int64_t amount = 0;        // minor units: gift, new amount (amended) or voided amount
  std::string currency;
  std::int64_t issued_at = 0;
  std::string donor_email;
  std::string donor_name;
  std::int64_t gift_at = 0;       // donation created_at
  std::string payment_intent_id;
  std::string charge_id;
  std::optional<std::string> campaign_slug;  // nullopt: unattributed
  std::string campaign_title;
};

// One gift of a donor in a year: its original receipt and what is left after refunds.
struct StatementGift {
  std::string receipt_number;
  std::int64_t gift_at = 0;
  std::string campaign_title;  // "" when unattributed
  std::int64_t amount = 0;
  std::int64_t amount_refunded = 0;
  std::string currency;
  std::string donor_name;
};

class ReceiptStore {
 public:
  explicit ReceiptStore(store::Database& db) : db_(db) {}

  // not_found when no receipt has this number.
  Result<ReceiptRecord> find(const std::string& number);
  // Gifts whose original receipt is numbered in `year`, by donor e-mail (case-insensitive),
  // that still count as money raised (succeeded, partially refunded, disputed), oldest first.
  Result<std::vector<StatementGift>> gifts_of(const std::string& donor_email, int year);
  // Donor e-mails with at least one such gift in `year`, sorted.
  Result<std::vector<std::string>> donors_in(int year);

 private:
  store::Database& db_;
};

}  // namespace donatio::receipts
