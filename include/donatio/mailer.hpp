// Mailer: the port for sending one e-mail (SMTP adapter in src/mail/). Called only by the
// outbox worker, never inside a request. Implementations must be thread-safe.
#pragma once

#include <string>
#include <vector>

#include "donatio/status.hpp"

namespace donatio {

struct MailAttachment {
  std::string filename;      // "CPI-2026-000042.pdf"
  std::string content_type;  // "application/pdf"
  std::string data;          // raw bytes
};

struct MailMessage {
  std::string from;
  std::string to;
  std::string subject;     // UTF-8; the adapter encodes it (RFC 2047)
  std::string text_body;   // UTF-8 plain text
  std::string html_body;   // UTF-8 HTML; with text_body forms multipart/alternative
  std::vector<MailAttachment> attachments;
  std::string message_id;  // stable id for de-duplication at the receiver, e.g. "<outbox-17@donatio>"
};

class Mailer {
 public:
  virtual ~Mailer() = default;
  // Ok when the server accepted the message. provider_unavailable/timeout: try again later.
  virtual Status send(const MailMessage& message) = 0;
};

}  // namespace donatio
