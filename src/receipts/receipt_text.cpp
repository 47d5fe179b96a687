#include "src/receipts/receipt_text.hpp"

#include "donatio/clock.hpp"

namespace donatio::receipts {

std::string single_line(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) c = ' ';
  }
  return out;
}

std::string iso_date(std::int64_t unix_seconds) { return format_iso8601(unix_seconds).substr(0, 10); }

std::string amount_label(ReceiptKind kind) {
  switch (kind) {
    case ReceiptKind::original: return "Amount";
    case ReceiptKind::amended: return "Amended amount";
    case ReceiptKind::void_notice: return "Voided amount";
  }
  return "Amount";
}

}  // namespace donatio::receipts
