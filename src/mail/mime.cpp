// MIME message assembly (RFC 5322, 2045, 2046, 2047, 2231). See mime.hpp.
#include "src/mail/mime.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <ctime>
#include <random>

namespace donatio::mail {
namespace {

constexpr std::string_view kCrlf = "\r\n";
constexpr char kHex[] = "0123456789ABCDEF";

bool is_printable_ascii(unsigned char c) { return c >= 0x20 && c <= 0x7e; }

bool has_line_break(std::string_view value) {
  return value.find_first_of("\r\n") != std::string_view::npos;
}

bool has_control(std::string_view value) {
  for (unsigned char c : value) {
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

bool is_ascii(std::string_view value) {
  for (unsigned char c : value) {
    if (c >= 0x80) return false;
  }
  return true;
}

// Replaces CR, LF, NUL and other C0 controls (except TAB) by a space: a header value can then
// never end its line early and start a header of its own.
std::string sanitize_header_value(std::string_view value) {
  std::string out(value);
  for (char& ch : out) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c < 0x20 && c != '\t') || c == 0x7f) ch = ' ';
  }
  return out;
}

std::string random_hex(std::size_t bytes) {
  std::string raw(bytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes)) != 1) {
    std::random_device device;
    for (char& ch : raw) ch = static_cast<char>(device() & 0xff);
  }
  std::string out;
  out.reserve(bytes * 2);
  for (unsigned char c : raw) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 0x0f]);
  }
  return out;
}

// "=_" never occurs in base64 or quoted-printable output ('=' is always followed by two hex
// digits or a line break there), so such a boundary cannot collide with an encoded body.
std::string make_boundary(std::string_view kind) {
  std::string boundary = "=_donatio_";
  boundary += kind;
  boundary += '_';
  boundary += random_hex(16);
  return boundary;
}

// Length of the UTF-8 sequence that starts with `lead` (1 for stray continuation bytes, so
// malformed input still makes progress).
std::size_t utf8_sequence_length(unsigned char lead) {
  if (lead >= 0xf0 && lead <= 0xf7) return 4;
  if (lead >= 0xe0) return lead <= 0xef ? 3 : 1;
  if (lead >= 0xc0) return 2;
  return 1;
}

// RFC 2047 "B" encoded-words, each carrying whole UTF-8 characters, at most `max_bytes` raw
// bytes per word, separated by CRLF SP (folding whitespace, ignored between encoded-words).
std::string encoded_words(std::string_view utf8, std::size_t max_bytes) {
  std::string out;
  std::size_t pos = 0;
  while (pos < utf8.size()) {
    std::size_t end = pos;
    while (end < utf8.size()) {
      const std::size_t len = utf8_sequence_length(static_cast<unsigned char>(utf8[end]));
      const std::size_t next = std::min(end + len, utf8.size());
      if (next - pos > max_bytes && end > pos) break;
      end = next;
    }
    if (!out.empty()) out += "\r\n ";
    out += "=?UTF-8?B?";
    out += encode_base64(utf8.substr(pos, end - pos), 0);
    out += "?=";
    pos = end;
  }
  if (out.empty()) out = "=?UTF-8?B?" "?=";  // split: "??=" reads as a trigraph
  return out;
}

// A From/To value: ASCII passes through; "Name <addr>" with a non-ASCII name gets the name
// encoded; a non-ASCII value without a display name is left for the server to judge.
std::string encode_address_header(std::string_view raw) {
  const std::string value = sanitize_header_value(raw);
  if (is_ascii(value)) return value;
  const std::size_t open = value.rfind('<');
  if (open == std::string::npos) return value;
  std::string name = value.substr(0, open);
  while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.pop_back();
  std::size_t first = 0;
  while (first < name.size() && name[first] == ' ') ++first;
  name.erase(0, first);
  if (name.size() >= 2 && name.front() == '"' && name.back() == '"') {
    name = name.substr(1, name.size() - 2);
  }
  return encoded_words(name, 39) + "\r\n " + value.substr(open);
}

// A MIME type we are willing to write: token "/" token, else application/octet-stream.
std::string safe_content_type(std::string_view type) {
  constexpr std::string_view kTspecials = "()<>@,;:\\\"/[]?= ";
  std::size_t slash = type.find('/');
  if (type.empty() || slash == std::string_view::npos || slash == 0 || slash + 1 == type.size()) {
    return "application/octet-stream";
  }
  for (std::size_t i = 0; i < type.size(); ++i) {
    const auto c = static_cast<unsigned char>(type[i]);
    if (i == slash) continue;
    if (!is_printable_ascii(c) || kTspecials.find(type[i]) != std::string_view::npos) {
      return "application/octet-stream";
    }
  }
  return std::string(type);
}

// Filename parameters for Content-Type (name=) and Content-Disposition (filename=).
// Path separators become '_'; ASCII names are quoted; others get an RFC 2231 filename* too.
struct FilenameParams {
  std::string quoted_ascii;     // "\"receipt.pdf\""
  std::string rfc2231;          // "UTF-8''re%C3%A7u.pdf" or empty
};

FilenameParams filename_params(std::string_view raw) {
  std::string name = sanitize_header_value(raw);
  for (char& ch : name) {
    if (ch == '/' || ch == '\\') ch = '_';
  }
  if (name.empty()) name = "attachment";
  FilenameParams params;
  std::string ascii;
  for (unsigned char c : name) {
    if (c >= 0x80) {
      if ((c & 0xc0) != 0x80) ascii.push_back('_');  // one '_' per non-ASCII character
      continue;
    }
    if (c == '"' || c == '\\') ascii.push_back('\\');
    ascii.push_back(static_cast<char>(c));
  }
  params.quoted_ascii = "\"" + ascii + "\"";
  if (!is_ascii(name)) {
    params.rfc2231 = "UTF-8''";
    for (unsigned char c : name) {
      const bool attr_char = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                             (c >= '0' && c <= '9') || std::string_view("!#$&+-.^_`|~").find(
                                                           static_cast<char>(c)) !=
                                                           std::string_view::npos;
      if (attr_char) {
        params.rfc2231.push_back(static_cast<char>(c));
      } else {
        params.rfc2231.push_back('%');
        params.rfc2231.push_back(kHex[c >> 4]);
        params.rfc2231.push_back(kHex[c & 0x0f]);
      }
    }
  }
  return params;
}

std::string message_id_header_value(std::string_view requested) {
  std::string id = sanitize_header_value(requested);
  // Spaces are not allowed inside a msg-id; drop them rather than emit a malformed header.
  std::string compact;
  for (char ch : id) {
    if (ch != ' ' && ch != '\t') compact.push_back(ch);
  }
  if (compact.empty()) return "<" + random_hex(16) + "@donatio>";
  if (compact.front() != '<') compact.insert(compact.begin(), '<');
  if (compact.back() != '>') compact.push_back('>');
  return compact;
}

void append_text_part(std::string& out, std::string_view subtype, std::string_view body) {
  out += "Content-Type: text/";
  out += subtype;
  out += "; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n";
  out += encode_quoted_printable(body);
}

void append_attachment_part(std::string& out, const MailAttachment& attachment) {
  const FilenameParams params = filename_params(attachment.filename);
  out += "Content-Type: ";
  out += safe_content_type(attachment.content_type);
  out += ";\r\n name=";
  out += params.quoted_ascii;
  out += "\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment;\r\n filename=";
  out += params.quoted_ascii;
  if (!params.rfc2231.empty()) {
    out += ";\r\n filename*=";
    out += params.rfc2231;
  }
  out += "\r\n\r\n";
  out += encode_base64(attachment.data, 76);
}

}  // namespace

std::string format_rfc5322_date(std::int64_t unix_seconds) {
  static constexpr std::array<const char*, 7> kDays = {"Sun", "Mon", "Tue", "Wed",
                                                       "Thu", "Fri", "Sat"};
  static constexpr std::array<const char*, 12> kMonths = {"Jan", "Feb", "Mar", "Apr",
                                                          "May", "Jun", "Jul", "Aug",
                                                          "Sep", "Oct", "Nov", "Dec"};
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d +0000",
                kDays[static_cast<std::size_t>(tm.tm_wday) % 7],
                tm.tm_mday, kMonths[static_cast<std::size_t>(tm.tm_mon) % 12],
                tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

std::string encode_base64(std::string_view bytes, std::size_t line_length) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4 + (line_length ? bytes.size() / 57 * 2 + 2 : 0));
  std::size_t line = 0;
  auto put = [&](char ch) {
    if (line_length != 0 && line == line_length) {
      out += kCrlf;
      line = 0;
    }
    out.push_back(ch);
    ++line;
  };
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t n = (static_cast<unsigned char>(bytes[i]) << 16) |
                            (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                            static_cast<unsigned char>(bytes[i + 2]);
    put(kAlphabet[(n >> 18) & 63]);
    put(kAlphabet[(n >> 12) & 63]);
    put(kAlphabet[(n >> 6) & 63]);
    put(kAlphabet[n & 63]);
  }
  const std::size_t rest = bytes.size() - i;
  if (rest != 0) {
    std::uint32_t n = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16;
    if (rest == 2) n |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8;
    put(kAlphabet[(n >> 18) & 63]);
    put(kAlphabet[(n >> 12) & 63]);
    put(rest == 2 ? kAlphabet[(n >> 6) & 63] : '=');
    put('=');
  }
  return out;
}

std::string encode_quoted_printable(std::string_view text) {
  constexpr std::size_t kMaxLine = 76;  // including a trailing soft-break '='
  std::string out;
  out.reserve(text.size() * 3 / 2);
  std::size_t line = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '\r' || c == '\n') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      out += kCrlf;
      line = 0;
      continue;
    }
    const bool at_line_end = i + 1 == text.size() || text[i + 1] == '\r' || text[i + 1] == '\n';
    const bool whitespace = c == ' ' || c == '\t';
    // Literal: printable ASCII except '='; whitespace only when not at the end of a line.
    // A '.' starting a line is encoded too, so no line can read as the SMTP end of data.
    const bool literal = (whitespace && !at_line_end) ||
                         (c > 0x20 && c < 0x7f && c != '=' && !(c == '.' && line == 0));
    const std::size_t width = literal ? 1 : 3;
    // Keep room for a soft break '=' unless this token ends the encoded line anyway.
    const std::size_t limit = at_line_end ? kMaxLine : kMaxLine - 1;
    if (line + width > limit) {
      out += "=\r\n";
      line = 0;
    }
    if (literal && c == '.' && line == 0) {
      out += "=2E";
      line += 3;
      continue;
    }
    if (literal) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('=');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0x0f]);
    }
    line += width;
  }
  return out;
}

std::string encode_subject_header(std::string_view subject_utf8) {
  const std::string subject = sanitize_header_value(subject_utf8);
  constexpr std::string_view kName = "Subject: ";
  bool plain = kName.size() + subject.size() <= 78 &&
               subject.find("=?") == std::string::npos;
  for (unsigned char c : subject) {
    if (!is_printable_ascii(c)) plain = false;
  }
  if (plain) return std::string(kName) + subject;
  // 39 bytes -> 52 base64 characters -> a 64-character word: "Subject: " + word fits in 78.
  return std::string(kName) + encoded_words(subject, 39);
}

std::string envelope_address(std::string_view header_value) {
  const std::size_t open = header_value.rfind('<');
  if (open != std::string_view::npos) {
    const std::size_t close = header_value.find('>', open);
    if (close != std::string_view::npos) {
      return std::string(header_value.substr(open + 1, close - open - 1));
    }
  }
  std::size_t first = header_value.find_first_not_of(" \t");
  std::size_t last = header_value.find_last_not_of(" \t");
  if (first == std::string_view::npos) return {};
  return std::string(header_value.substr(first, last - first + 1));
}

Status validate_mail_message(const MailMessage& message) {
  if (message.from.empty() || envelope_address(message.from).empty()) {
    return Status::InvalidArgument("from", "sender address is empty");
  }
  if (message.to.empty() || envelope_address(message.to).empty()) {
    return Status::InvalidArgument("to", "recipient address is empty");
  }
  if (has_control(message.from)) {
    return Status::InvalidArgument("from", "sender address contains control characters");
  }
  if (has_control(message.to)) {
    return Status::InvalidArgument("to", "recipient address contains control characters");
  }
  if (has_line_break(message.subject)) {
    return Status::InvalidArgument("subject", "subject contains a line break");
  }
  if (has_line_break(message.message_id)) {
    return Status::InvalidArgument("message_id", "message id contains a line break");
  }
  for (const MailAttachment& attachment : message.attachments) {
    if (has_line_break(attachment.filename) || has_line_break(attachment.content_type)) {
      return Status::InvalidArgument("attachments.filename",
                                     "attachment name or type contains a line break");
    }
  }
  return Status::Ok();
}

std::string build_mime_message(const MailMessage& message, std::int64_t now_unix) {
  const std::string mixed = make_boundary("mixed");
  const std::string alternative = make_boundary("alt");
  const bool has_html = !message.html_body.empty();

  std::string out;
  out.reserve(1024 + message.text_body.size() * 2 + message.html_body.size() * 2 +
              [&] {
                std::size_t n = 0;
                for (const auto& a : message.attachments) n += a.data.size() * 4 / 3 + 512;
                return n;
              }());
  out += "From: " + encode_address_header(message.from) + "\r\n";
  out += "To: " + encode_address_header(message.to) + "\r\n";
  out += encode_subject_header(message.subject) + "\r\n";
  out += "Date: " + format_rfc5322_date(now_unix) + "\r\n";
  out += "Message-ID: " + message_id_header_value(message.message_id) + "\r\n";
  out += "MIME-Version: 1.0\r\n";
  out += "Content-Type: multipart/mixed;\r\n boundary=\"" + mixed + "\"\r\n";
  out += "\r\nThis is a multi-part message in MIME format.\r\n";

  out += "--" + mixed + "\r\n";
  if (has_html) {
    out += "Content-Type: multipart/alternative;\r\n boundary=\"" + alternative + "\"\r\n\r\n";
    out += "--" + alternative + "\r\n";
    append_text_part(out, "plain", message.text_body);
    out += "\r\n--" + alternative + "\r\n";
    append_text_part(out, "html", message.html_body);
    out += "\r\n--" + alternative + "--\r\n";
  } else {
    append_text_part(out, "plain", message.text_body);
    out += "\r\n";
  }
  for (const MailAttachment& attachment : message.attachments) {
    out += "--" + mixed + "\r\n";
    append_attachment_part(out, attachment);
    out += "\r\n";
  }
  out += "--" + mixed + "--\r\n";
  return out;
}

}  // namespace donatio::mail
