// Receipt PDFs: renders a ReceiptDocument (receipt, amended receipt, void notice) or an
// AnnualStatement as an A4 PDF, in memory, with Cairo + Pango (DejaVu Sans, fontconfig
// fallback for other scripts, e.g. WenQuanYi Zen Hei for CJK; Pango shapes RTL scripts).
//
// Thread-safety: both functions may be called concurrently from any number of threads. Every
// call owns its Cairo surface, Pango context and layouts; each thread uses its own Pango font
// map (a PangoCairoFontMap is not thread-safe), created on the thread's first call and released
// when the thread exits. Fontconfig's one-time initialisation is done once, under
// std::call_once, before any font map is used.
//
// User text (names, addresses, campaign titles, …) is set as plain text, never as markup;
// invalid UTF-8 is replaced by U+FFFD. Fonts are subset, so a receipt is a few tens of KB.
#pragma once

#include <string>

#include "donatio/receipt.hpp"

namespace donatio::receipts {

// Returns the bytes of a one-page (more if the text is very long) A4 PDF. PDF metadata:
// title = receipt number, creator = "donatio", creation date = issued_at.
// Throws std::runtime_error when Cairo reports an error (e.g. out of memory); that is the
// only failure.
std::string render_receipt_pdf(const donatio::ReceiptDocument& receipt);

// Returns the bytes of an A4 PDF listing one row per gift (date, receipt number, campaign,
// net amount) and one total per currency; pages break as needed and repeat the table header.
// PDF metadata: title = "Annual donation statement YYYY", creator = "donatio".
// Throws std::runtime_error when Cairo reports an error.
std::string render_statement_pdf(const donatio::AnnualStatement& statement);

}  // namespace donatio::receipts
