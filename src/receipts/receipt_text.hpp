#pragma once
// Text helpers shared by the receipt's e-mail bodies and its PDF.

#include <cstdint>
#include <string>
#include <string_view>

#include "donatio/receipt.hpp"

namespace donatio::receipts {

// Control characters (CR, LF, TAB, …) become spaces: for header values and one-line fields, so
// a stray newline in a donor name cannot start a new header or push text around the page.
std::string single_line(std::string_view text);

// YYYY-MM-DD (UTC) of a Unix time.
std::string iso_date(std::int64_t unix_seconds);

// The label of the amount field: "Amount", "Amended amount" or "Voided amount".
std::string amount_label(ReceiptKind kind);

}  // namespace donatio::receipts
