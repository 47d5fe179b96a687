// SmtpMailer against a real SMTP conversation (tests/fakes/smtp_sink), plus the MIME builder.
#include <catch2/catch.hpp>
#include <curl/curl.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "donatio/clock.hpp"
#include "donatio/mailer.hpp"
#include "fakes/smtp_sink.hpp"
#include "src/mail/mime.hpp"
#include "src/mail/smtp_mailer.hpp"
#include "support/helpers.hpp"

using donatio::MailAttachment;
using donatio::MailMessage;
using donatio::StatusCode;
using donatio::mail::SmtpMailer;
using donatio::mail::SmtpMailerOptions;
using donatio::testing::RejectStage;
using donatio::testing::SmtpSink;

namespace {

// 2026-11-26T18:46:01Z, a Thursday.
constexpr std::int64_t kNow = 1795718761;

class FixedClock final : public donatio::Clock {
 public:
  std::int64_t now_unix() const override { return kNow; }
};

void ensure_curl_initialized() {
  static const bool initialized = [] { return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK; }();
  REQUIRE(initialized);
}

SmtpMailerOptions mailer_options(std::uint16_t port, int timeout_ms = 3000) {
  SmtpMailerOptions options;
  options.url = "smtp://127.0.0.1:" + std::to_string(port);
  options.timeout_ms = timeout_ms;
  options.connect_timeout_ms = timeout_ms;
  return options;
}

std::string to_crlf(const std::string& text) {
  std::string out;
  for (char ch : text) {
    if (ch == '\n') out += '\r';
    out += ch;
  }
  return out;
}

// Every byte value, a PDF-looking prologue, and lines that start with dots.
std::string pdf_like_bytes() {
  std::string bytes = "%PDF-1.4\n%\xe2\xe3\xcf\xd3\n.\n..\r\n.\r\n";
  for (int round = 0; round < 40; ++round) {
    for (int b = 0; b < 256; ++b) bytes.push_back(static_cast<char>((b * 7 + round) & 0xff));
  }
  bytes += "\n%%EOF\n";
  return bytes;
}

MailMessage receipt_message() {
  MailMessage message;
  message.from = "CyberPeace Receipts <receipts@example.org>";
  message.to = "wang.fang@example.net";
  message.subject = "Reçu de don — 王芳";
  message.text_body =
      "Bonjour Wang Fang,\n\nMerci pour votre don de CHF 50.00 — 谢谢!\n.\n"
      ".leading dot line\nA line with trailing spaces   \n"
      "A very long line that goes on and on, well beyond seventy-six characters, so that "
      "quoted-printable has to insert soft line breaks = signs included.\n";
  message.html_body =
      "<!doctype html><html><body><p>Bonjour <b>Wang Fang</b>,</p>"
      "<p>Merci pour votre don de CHF&nbsp;50.00 — 谢谢!</p></body></html>";
  message.attachments.push_back({"CPI-2026-000042.pdf", "application/pdf", pdf_like_bytes()});
  message.message_id = "<outbox-17@donatio>";
  return message;
}

// ---- a tiny MIME reader, only as much as these tests need ----

struct MimePart {
  std::map<std::string, std::string> headers;  // lower-case name -> unfolded value
  std::vector<std::string> header_names;       // in order, as written
  std::string body;
};

std::string lower(std::string text) {
  for (char& ch : text) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return text;
}

MimePart parse_part(const std::string& text) {
  MimePart part;
  const std::size_t split = text.find("\r\n\r\n");
  REQUIRE(split != std::string::npos);
  part.body = text.substr(split + 4);
  std::vector<std::string> lines;
  std::size_t pos = 0;
  const std::string head = text.substr(0, split);
  while (pos <= head.size()) {
    std::size_t end = head.find("\r\n", pos);
    if (end == std::string::npos) end = head.size();
    std::string line = head.substr(pos, end - pos);
    if (!line.empty() && (line[0] == ' ' || line[0] == '\t') && !lines.empty()) {
      lines.back() += line;  // unfolding: drop the CRLF, keep the whitespace
    } else {
      lines.push_back(line);
    }
    pos = end + 2;
  }
  for (const std::string& line : lines) {
    const std::size_t colon = line.find(':');
    REQUIRE(colon != std::string::npos);
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    part.header_names.push_back(line.substr(0, colon));
    part.headers[lower(line.substr(0, colon))] = value;
  }
  return part;
}

std::string boundary_of(const std::string& content_type) {
  const std::size_t at = content_type.find("boundary=\"");
  REQUIRE(at != std::string::npos);
  const std::size_t start = at + 10;
  return content_type.substr(start, content_type.find('"', start) - start);
}

std::vector<MimePart> split_multipart(const std::string& body, const std::string& boundary) {
  const std::string text = "\r\n" + body;
  const std::string delimiter = "\r\n--" + boundary;
  std::vector<MimePart> parts;
  std::size_t at = text.find(delimiter);
  REQUIRE(at != std::string::npos);
  while (true) {
    const std::size_t after = at + delimiter.size();
    if (text.compare(after, 2, "--") == 0) break;  // close-delimiter
    REQUIRE(text.compare(after, 2, "\r\n") == 0);
    const std::size_t next = text.find(delimiter, after);
    REQUIRE(next != std::string::npos);
    parts.push_back(parse_part(text.substr(after + 2, next - after - 2)));
    at = next;
  }
  return parts;
}

// Decodes "=?UTF-8?B?...?=" words; whitespace between adjacent encoded-words is dropped.
std::string decode_header_words(const std::string& value) {
  std::string out;
  std::size_t pos = 0;
  bool previous_was_word = false;
  while (pos < value.size()) {
    const std::size_t start = value.find("=?UTF-8?B?", pos);
    std::string between = value.substr(pos, start == std::string::npos ? std::string::npos
                                                                      : start - pos);
    if (!(previous_was_word && start != std::string::npos &&
          between.find_first_not_of(" \t") == std::string::npos)) {
      out += between;
    }
    if (start == std::string::npos) break;
    const std::size_t end = value.find("?=", start + 10);
    REQUIRE(end != std::string::npos);
    out += decode_base64(value.substr(start + 10, end - start - 10));
    pos = end + 2;
    previous_was_word = true;
  }
  return out;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find("\r\n", pos);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(pos, end - pos));
    pos = end + 2;
  }
  return lines;
}

template <typename F>
std::chrono::milliseconds time_of(F&& f) {
  const auto start = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                start);
}

// A listening socket that never accepts: the TCP handshake completes (backlog) but no
// greeting ever comes, like a hung server.
class SilentListener {
 public:
  SilentListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    REQUIRE(::listen(fd_, 4) == 0);
    socklen_t length = sizeof address;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
  }
  ~SilentListener() { ::close(fd_); }
  std::uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

// A raw SMTP client for the sink's own behaviour.
class RawSmtpClient {
 public:
  explicit RawSmtpClient(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    timeval tv{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~RawSmtpClient() { ::close(fd_); }
  void send(const std::string& text) {
    REQUIRE(::send(fd_, text.data(), text.size(), MSG_NOSIGNAL) ==
            static_cast<ssize_t>(text.size()));
  }
  // The reply's final line ("250 ..."), skipping "250-" continuation lines.
  std::string reply() {
    while (true) {
      const std::size_t end = buffer_.find("\r\n");
      if (end != std::string::npos) {
        std::string line = buffer_.substr(0, end);
        buffer_.erase(0, end + 2);
        if (line.size() >= 4 && line[3] == '-') continue;
        return line;
      }
      char chunk[1024];
      const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n <= 0) return "<closed>";
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }
  std::string command(const std::string& line) {
    send(line + "\r\n");
    return reply();
  }

 private:
  int fd_ = -1;
  std::string buffer_;
};

}  // namespace

TEST_CASE("a receipt with UTF-8 subject, text, html and a PDF attachment arrives intact",
          "[smtp][integration]") {
  ensure_curl_initialized();
  SmtpSink sink;
  const std::uint16_t port = sink.start();
  FixedClock clock;
  SmtpMailer mailer(mailer_options(port), clock);
  const MailMessage message = receipt_message();

  const donatio::Status status = mailer.send(message);
  INFO(status.message());
  REQUIRE(status.ok());
  REQUIRE(sink.wait_for(1, std::chrono::seconds(5)));
  const auto received = sink.messages();
  REQUIRE(received.size() == 1);
  CHECK(received[0].mail_from == "receipts@example.org");
  CHECK(received[0].rcpt_to == std::vector<std::string>{"wang.fang@example.net"});

  const std::string& raw = received[0].data;
  for (const std::string& line : lines_of(raw)) {
    INFO(line);
    CHECK(line.size() <= 78);
    CHECK(std::all_of(line.begin(), line.end(), [](char c) { return (c & 0x80) == 0; }));
  }

  const MimePart top = parse_part(raw);
  CHECK(top.headers.at("from") == "CyberPeace Receipts <receipts@example.org>");
  CHECK(top.headers.at("to") == "wang.fang@example.net");
  CHECK(decode_header_words(top.headers.at("subject")) == "Reçu de don — 王芳");
  CHECK(top.headers.at("date") == "Thu, 26 Nov 2026 18:46:01 +0000");
  CHECK(top.headers.at("message-id") == "<outbox-17@donatio>");
  CHECK(top.headers.at("mime-version") == "1.0");
  REQUIRE(top.headers.at("content-type").rfind("multipart/mixed;", 0) == 0);

  const auto mixed = split_multipart(top.body, boundary_of(top.headers.at("content-type")));
  REQUIRE(mixed.size() == 2);
  REQUIRE(mixed[0].headers.at("content-type").rfind("multipart/alternative;", 0) == 0);
  const auto alternative =
      split_multipart(mixed[0].body, boundary_of(mixed[0].headers.at("content-type")));
  REQUIRE(alternative.size() == 2);
  CHECK(alternative[0].headers.at("content-type") == "text/plain; charset=utf-8");
  CHECK(alternative[0].headers.at("content-transfer-encoding") == "quoted-printable");
  CHECK(decode_quoted_printable(alternative[0].body) == to_crlf(message.text_body));
  CHECK(alternative[1].headers.at("content-type") == "text/html; charset=utf-8");
  CHECK(decode_quoted_printable(alternative[1].body) == message.html_body);

  const MimePart& pdf = mixed[1];
  CHECK(pdf.headers.at("content-type") == "application/pdf; name=\"CPI-2026-000042.pdf\"");
  CHECK(pdf.headers.at("content-transfer-encoding") == "base64");
  CHECK(pdf.headers.at("content-disposition") ==
        "attachment; filename=\"CPI-2026-000042.pdf\"");
  const auto base64_lines = lines_of(pdf.body);
  REQUIRE(base64_lines.size() > 2);
  for (std::size_t i = 0; i + 1 < base64_lines.size(); ++i) CHECK(base64_lines[i].size() == 76);
  CHECK(decode_base64(pdf.body) == message.attachments[0].data);
}

TEST_CASE("each message gets fresh random boundaries and a generated Message-ID when none is given",
          "[smtp][mime]") {
  MailMessage message = receipt_message();
  message.message_id.clear();
  const MimePart first = parse_part(donatio::mail::build_mime_message(message, kNow));
  const MimePart second = parse_part(donatio::mail::build_mime_message(message, kNow));
  CHECK(boundary_of(first.headers.at("content-type")) !=
        boundary_of(second.headers.at("content-type")));
  const std::string& id = first.headers.at("message-id");
  CHECK(id.front() == '<');
  CHECK(id.back() == '>');
  CHECK(id.find('@') != std::string::npos);
  CHECK(id != second.headers.at("message-id"));
  CHECK(first.header_names == std::vector<std::string>{"From", "To", "Subject", "Date",
                                                       "Message-ID", "MIME-Version",
                                                       "Content-Type"});
}

TEST_CASE("a long UTF-8 subject is folded into encoded-words that decode back exactly",
          "[smtp][mime]") {
  std::string subject;
  for (int i = 0; i < 12; ++i) subject += "Reçu fiscal n° 42 — 王芳 💙 ";
  const std::string header = donatio::mail::encode_subject_header(subject);
  for (const std::string& line : lines_of(header)) {
    INFO(line);
    CHECK(line.size() <= 78);
  }
  CHECK(lines_of(header).size() > 3);
  const MimePart unfolded = parse_part(header + "\r\n\r\n");
  CHECK(decode_header_words(unfolded.headers.at("subject")) == subject);
  CHECK(donatio::mail::encode_subject_header("Your receipt CPI-2026-000042") ==
        "Subject: Your receipt CPI-2026-000042");
}

TEST_CASE("CR and LF in the subject, addresses or file names never start a header of their own",
          "[smtp][mime]") {
  MailMessage message = receipt_message();
  message.subject = "Receipt\r\nBcc: everyone@example.com";
  message.from = "receipts@example.org\r\nX-Injected: 1";
  message.to = "donor@example.net\nCc: other@example.com";
  message.attachments[0].filename = "r.pdf\"\r\nX-Evil: 1";
  message.attachments[0].content_type = "application/pdf\r\nX-Evil: 2";
  const std::string raw = donatio::mail::build_mime_message(message, kNow);
  for (const std::string& line : lines_of(raw)) {
    INFO(line);
    CHECK(line.rfind("Bcc:", 0) != 0);
    CHECK(line.rfind("Cc:", 0) != 0);
    CHECK(line.rfind("X-Injected:", 0) != 0);
    CHECK(line.rfind("X-Evil:", 0) != 0);
  }
  bool bare_cr_or_lf = false;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '\n' && (i == 0 || raw[i - 1] != '\r')) bare_cr_or_lf = true;
    if (raw[i] == '\r' && (i + 1 == raw.size() || raw[i + 1] != '\n')) bare_cr_or_lf = true;
  }
  CHECK_FALSE(bare_cr_or_lf);
  const MimePart top = parse_part(raw);
  CHECK(decode_header_words(top.headers.at("subject")) == "Receipt  Bcc: everyone@example.com");
}

TEST_CASE("the mailer refuses a message whose subject or addresses carry CR/LF, and sends nothing",
          "[smtp][integration]") {
  ensure_curl_initialized();
  SmtpSink sink;
  const std::uint16_t port = sink.start();
  FixedClock clock;
  SmtpMailer mailer(mailer_options(port), clock);

  MailMessage injected_subject = receipt_message();
  injected_subject.subject = "Receipt\r\nBcc: everyone@example.com";
  const auto subject_status = mailer.send(injected_subject);
  CHECK(subject_status.code() == StatusCode::invalid_argument);
  CHECK(subject_status.field() == "subject");

  MailMessage injected_rcpt = receipt_message();
  injected_rcpt.to = "donor@example.net>\r\nRCPT TO:<other@example.com";
  const auto rcpt_status = mailer.send(injected_rcpt);
  CHECK(rcpt_status.code() == StatusCode::invalid_argument);
  CHECK(rcpt_status.field() == "to");

  MailMessage injected_name = receipt_message();
  injected_name.attachments[0].filename = "a.pdf\r\nX-Evil: 1";
  CHECK(mailer.send(injected_name).code() == StatusCode::invalid_argument);

  CHECK(sink.connection_count() == 0);
  CHECK(sink.messages().empty());
}

TEST_CASE("SMTP down gives provider_unavailable quickly, and mail flows again once it is back",
          "[smtp][integration]") {
  ensure_curl_initialized();
  SmtpSink sink;
  const std::uint16_t port = sink.start();
  sink.stop();
  FixedClock clock;
  SmtpMailer mailer(mailer_options(port, 5000), clock);

  donatio::Status status;
  const auto elapsed = time_of([&] { status = mailer.send(receipt_message()); });
  CHECK(status.code() == StatusCode::provider_unavailable);
  CHECK(status.error_code() == "smtp_unavailable");
  CHECK(elapsed < std::chrono::milliseconds(1000));

  REQUIRE(sink.start(port) == port);
  const auto retried = mailer.send(receipt_message());
  INFO(retried.message());
  CHECK(retried.ok());
  CHECK(sink.wait_for(1, std::chrono::seconds(5)));
}

TEST_CASE("a server that never greets times out as provider_unavailable within the timeout",
          "[smtp][integration]") {
  ensure_curl_initialized();
  SilentListener silent;
  FixedClock clock;
  SmtpMailer mailer(mailer_options(silent.port(), 300), clock);
  donatio::Status status;
  const auto elapsed = time_of([&] { status = mailer.send(receipt_message()); });
  CHECK(status.code() == StatusCode::provider_unavailable);
  CHECK(status.error_code() == "smtp_timeout");
  CHECK(elapsed >= std::chrono::milliseconds(250));
  CHECK(elapsed < std::chrono::milliseconds(2000));
}

TEST_CASE("a 451 reply is transient: provider_unavailable, and the retry is delivered",
          "[smtp][integration]") {
  ensure_curl_initialized();
  SmtpSink sink;
  FixedClock clock;
  SmtpMailer mailer(mailer_options(sink.start()), clock);

  SECTION("at MAIL FROM") { sink.set_reject_next(1, 451, RejectStage::mail_from); }
  SECTION("at RCPT TO") { sink.set_reject_next(1, 451, RejectStage::rcpt_to); }
  SECTION("after DATA") { sink.set_reject_next(1, 451, RejectStage::end_of_data); }

  const auto deferred = mailer.send(receipt_message());
  CHECK(deferred.code() == StatusCode::provider_unavailable);
  CHECK(deferred.error_code() == "smtp_transient");
  CHECK(deferred.message().find("451") != std::string::npos);
  CHECK(sink.messages().empty());

  CHECK(mailer.send(receipt_message()).ok());
  CHECK(sink.wait_for(1, std::chrono::seconds(5)));
}

TEST_CASE("a 550 reply is permanent: provider_rejected", "[smtp][integration]") {
  ensure_curl_initialized();
  SmtpSink sink;
  FixedClock clock;
  SmtpMailer mailer(mailer_options(sink.start()), clock);

  SECTION("at MAIL FROM") { sink.set_reject_next(1, 550, RejectStage::mail_from); }
  SECTION("at RCPT TO") { sink.set_reject_next(1, 550, RejectStage::rcpt_to); }
  SECTION("after DATA") { sink.set_reject_next(1, 550, RejectStage::end_of_data); }

  const auto rejected = mailer.send(receipt_message());
  CHECK(rejected.code() == StatusCode::provider_rejected);
  CHECK(rejected.error_code() == "smtp_rejected");
  CHECK(rejected.message().find("550") != std::string::npos);
  CHECK(sink.messages().empty());
}

TEST_CASE("credentials are never sent without TLS and never appear in a status",
          "[smtp][integration]") {
  ensure_curl_initialized();
  SmtpSink sink;  // offers no STARTTLS
  FixedClock clock;
  SmtpMailerOptions options = mailer_options(sink.start());
  options.username = "mailer";
  options.password = "s3cret-Pa55word";
  SmtpMailer mailer(options, clock);

  const auto status = mailer.send(receipt_message());
  INFO(status.message());
  CHECK(status.code() == StatusCode::provider_unavailable);
  CHECK(status.message().find("SSL") != std::string::npos);  // refused: no STARTTLS on offer
  CHECK(status.message().find("s3cret-Pa55word") == std::string::npos);
  CHECK(sink.messages().empty());

  options.url = "smtp://mailer:s3cret-Pa55word@127.0.0.1:" + std::to_string(sink.port());
  options.username.clear();
  options.password.clear();
  const auto in_url = SmtpMailer(options, clock).send(receipt_message());
  CHECK(in_url.code() == StatusCode::invalid_argument);
  CHECK(in_url.message().find("s3cret-Pa55word") == std::string::npos);
}

TEST_CASE("the sink unstuffs dots, honours RSET and NOOP, and bounds line length",
          "[smtp][sink]") {
  SmtpSink sink;
  const std::uint16_t port = sink.start();
  {
    RawSmtpClient client(port);
    CHECK(client.reply().rfind("220", 0) == 0);
    CHECK(client.command("EHLO test").rfind("250", 0) == 0);
    CHECK(client.command("NOOP").rfind("250", 0) == 0);
    CHECK(client.command("MAIL FROM:<dropped@example.org>").rfind("250", 0) == 0);
    CHECK(client.command("RSET").rfind("250", 0) == 0);
    CHECK(client.command("RCPT TO:<nobody@example.org>").rfind("503", 0) == 0);
    CHECK(client.command("MAIL FROM:<a@example.org> SIZE=10").rfind("250", 0) == 0);
    CHECK(client.command("RCPT TO:<b@example.org>").rfind("250", 0) == 0);
    CHECK(client.command("DATA").rfind("354", 0) == 0);
    CHECK(client.command("Subject: x\r\n\r\n..one dot\r\nplain\r\n.") .rfind("250", 0) == 0);
    CHECK(client.command("QUIT").rfind("221", 0) == 0);
  }
  REQUIRE(sink.wait_for(1, std::chrono::seconds(2)));
  const auto mail = sink.messages().at(0);
  CHECK(mail.mail_from == "a@example.org");
  CHECK(mail.rcpt_to == std::vector<std::string>{"b@example.org"});
  CHECK(mail.data == "Subject: x\r\n\r\n.one dot\r\nplain\r\n");

  RawSmtpClient flooder(port);  // a second connection on the same sink
  CHECK(flooder.reply().rfind("220", 0) == 0);
  CHECK(flooder.command(std::string(SmtpSink::kMaxLineBytes + 10, 'A')).rfind("500", 0) == 0);
}
