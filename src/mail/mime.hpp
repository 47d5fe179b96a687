// MIME: turns a donatio::MailMessage into the RFC 5322 / RFC 2045 text handed to an SMTP server.
// Pure functions (no I/O); only the boundaries and a missing Message-ID use randomness.
// Thread-safe: no shared state.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "donatio/mailer.hpp"
#include "donatio/status.hpp"

namespace donatio::mail {

// Builds the complete message: CRLF line endings throughout, 7-bit clean, body lines at most
// 76 characters, header lines folded to 78 where the syntax allows (long attachment names
// may go beyond, never past 998):
//   From, To, Subject (RFC 2047 UTF-8 "B" encoded-words, folded), Date (RFC 5322, +0000),
//   Message-ID (message.message_id, or "<random@donatio>" when empty), MIME-Version;
//   multipart/mixed { multipart/alternative { text/plain, text/html } (UTF-8, quoted-printable),
//                     one base64 part per attachment (Content-Disposition: attachment) }.
// When html_body is empty the text part stands alone inside multipart/mixed.
// Header injection: CR and LF in from/to/subject/message_id/filenames/content types are
// replaced by spaces, so nothing the caller passes can start a new header line. Callers that
// want to refuse such input instead call validate_mail_message() first (SmtpMailer does).
// `now_unix` is the Date header's time (seconds since the epoch, UTC).
std::string build_mime_message(const MailMessage& message, std::int64_t now_unix);

// invalid_argument naming the field when from/to are empty or carry CR/LF or control
// characters, or an attachment filename/content_type carries CR/LF. Ok otherwise.
Status validate_mail_message(const MailMessage& message);

// The bare address for the SMTP envelope: "Name <a@b.org>" -> "a@b.org", "a@b.org" -> "a@b.org".
std::string envelope_address(std::string_view header_value);

// Building blocks, exposed for tests.
// RFC 5322 date: 1767225600 -> "Thu, 01 Jan 2026 00:00:00 +0000".
std::string format_rfc5322_date(std::int64_t unix_seconds);
// Standard base64 (RFC 4648) with CRLF after every 76 output characters (none when
// `line_length` is 0).
std::string encode_base64(std::string_view bytes, std::size_t line_length = 76);
// Quoted-printable (RFC 2045 6.7): line breaks in the input (LF, CRLF or CR) become CRLF,
// encoded lines are at most 76 characters.
std::string encode_quoted_printable(std::string_view text);
// "Subject: " + value as a folded header line (without the final CRLF). Printable ASCII that
// fits stays as is; anything else becomes UTF-8 base64 encoded-words that never split a
// UTF-8 sequence.
std::string encode_subject_header(std::string_view subject_utf8);

}  // namespace donatio::mail
