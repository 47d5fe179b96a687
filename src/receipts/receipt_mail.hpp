// Receipt e-mail: the subject, plain-text body and HTML body sent to a donor with a receipt,
// amended receipt or void notice. Both bodies carry the same fields; all user text in the HTML
// body is HTML-escaped. The subject is a single line (no CR/LF can reach a mail header).
// Pure functions, thread-safe; no I/O (sending is the Mailer port's job).
#pragma once

#include <string>

#include "donatio/receipt.hpp"

namespace donatio::receipts {

struct ReceiptMailBodies {
  std::string subject;  // "Your donation receipt CPI-2026-000042"
  std::string text;     // text/plain; charset=UTF-8
  std::string html;     // text/html; charset=UTF-8, a complete document
};

// `pdf_link` may be empty: then no link is printed. A link that is not http(s) is printed as
// text, never as a clickable href. The subject is ASCII unless the receipt number is not; any
// RFC 2047 encoding is left to the Mailer.
ReceiptMailBodies compose_receipt_mail(const donatio::ReceiptDocument& receipt,
                                       const std::string& pdf_link);

}  // namespace donatio::receipts
