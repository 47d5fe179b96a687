// Receipt: the document a donor gets for a succeeded gift, and the numbering rule.
// Numbers are gapless per organisation and calendar year: {prefix}{YYYY}-{NNNNNN}, assigned in
// the transaction that marks the donation succeeded (see src/store/). A refund never deletes or
// reuses a number: it issues a void notice (full refund) or an amended receipt (partial).
// Plain value types; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "donatio/money.hpp"

namespace donatio {

// "CPI-" + 2026 + 42 -> "CPI-2026-000042".
std::string format_receipt_number(const std::string& prefix, int year, std::int64_t sequence);

enum class ReceiptKind { original, amended, void_notice };
const char* receipt_kind_name(ReceiptKind kind);  // "receipt", "amended", "void"

// Everything printed on a receipt. Strings are UTF-8.
struct ReceiptDocument {
  ReceiptKind kind = ReceiptKind::original;
  bool duplicate = false;            // a resent copy: printed "DUPLICATE"
  std::string number;                // CPI-2026-000042
  std::string references_number;     // amended/void: the original's number
  std::int64_t issued_at = 0;        // unix seconds, UTC
  std::int64_t gift_at = 0;          // date of the gift, unix seconds, UTC
  std::string org_name;
  std::string org_address;
  std::string org_tax_id;
  std::string donor_name;
  std::string donor_email;
  Money amount;                      // for amended: the new amount; for void: the voided amount
  std::string campaign_title;
  std::string statement;             // e.g. "No goods or services were provided …"
  std::string payment_reference;     // pi_… / ch_…
};

// One line of an annual statement.
struct StatementLine {
  std::string receipt_number;
  std::int64_t gift_at = 0;
  std::string campaign_title;
  Money net_amount;  // gift net of refunds
};

struct AnnualStatement {
  int year = 0;
  std::int64_t issued_at = 0;
  std::string org_name;
  std::string org_address;
  std::string org_tax_id;
  std::string donor_name;
  std::string donor_email;
  std::string statement;
  std::vector<StatementLine> lines;
  std::vector<Money> totals;  // one per currency, never summed across currencies
};

}  // namespace donatio
