// ReceiptService: receipts as finance staff and donors see them — a ReceiptDocument assembled
// from the stored rows plus the organisation's settings, a donor's annual statement, the
// signed public PDF link, and "resend" (a duplicate-marked e-mail queued in the outbox, with an
// audit row, in one transaction). Rendering and sending happen elsewhere (receipt_pdf,
// outbox worker), never inside a webhook request.
// Thread-safety: immutable after construction apart from the Database, which is thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "donatio/config.hpp"
#include "donatio/receipt.hpp"
#include "donatio/status.hpp"
#include "src/receipts/receipt_store.hpp"
#include "src/store/database.hpp"

namespace donatio::receipts {

// "General fund": what a receipt says when the gift is not attributed to a campaign.
inline constexpr const char* kGeneralFund = "General fund";

// Public receipt links: BASE/v1/receipts/NUMBER.pdf?token=HEX where HEX is the hex
// HMAC-SHA256 of NUMBER under `secret`. REQUIRES: secret not empty.
class ReceiptLinks {
 public:
  ReceiptLinks(std::string base, std::string secret) : base_(std::move(base)), secret_(std::move(secret)) {}
  // REQUIRES: before any other thread uses this object (set once the port is bound).
  void set_base(std::string base) { base_ = std::move(base); }
  std::string token(const std::string& number) const;
  // Constant-time comparison; false for any malformed token.
  bool verify(const std::string& number, const std::string& token) const;
  std::string url(const std::string& number) const;

 private:
  std::string base_;
  std::string secret_;
};

// Outbox payload of a receipt e-mail, as written by the ledger and by resend.
struct ReceiptMailRequest {
  std::string receipt_number;
  std::string donation_id;
  bool duplicate = false;
};
std::string receipt_mail_payload(const ReceiptMailRequest& request);
Result<ReceiptMailRequest> parse_receipt_mail_payload(const std::string& payload);

ReceiptKind receipt_kind_from(const std::string& stored_kind);
// The document printed for `record`: org fields, statement (receipt_footer), campaign title or
// "General fund", payment reference (payment intent id, else charge id).
ReceiptDocument receipt_document(const ReceiptRecord& record, const OrganizationConfig& org, bool duplicate);

class ReceiptService {
 public:
  ReceiptService(store::Database& db, const OrganizationConfig& org) : db_(db), org_(org), store_(db) {}

  Result<ReceiptRecord> find(const std::string& number) { return store_.find(number); }
  Result<ReceiptDocument> document(const std::string& number, bool duplicate);
  // not_found when the donor has no gift in that year.
  Result<AnnualStatement> annual_statement(const std::string& donor_email, int year, std::int64_t now);
  Result<std::vector<std::string>> donors_in(int year) { return store_.donors_in(year); }
  // Queues a duplicate-marked e-mail of receipt `number` and appends an audit row
  // (action "receipt.resent", target = number) in one transaction. Returns the outbox id.
  Result<std::int64_t> enqueue_resend(const std::string& number, const std::string& actor,
                                      const std::string& request_id, std::int64_t now);

 private:
  store::Database& db_;
  const OrganizationConfig& org_;
  ReceiptStore store_;
};

}  // namespace donatio::receipts
