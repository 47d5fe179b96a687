// SmtpMailer: the Mailer port over libcurl SMTP. Sends one MIME message (see mime.hpp) per
// call to one SMTP server, and turns the outcome into a Status the outbox worker can act on.
// Thread-safe: send() uses its own curl easy handle per call and shares nothing mutable.
// REQUIRES: curl_global_init(CURL_GLOBAL_DEFAULT) has been called (by main, before any thread
// starts) and curl_global_cleanup() is not called while a SmtpMailer is in use.
#pragma once

#include <string>

#include "donatio/clock.hpp"
#include "donatio/mailer.hpp"
#include "donatio/status.hpp"

namespace donatio::mail {

enum class StartTls {
  opportunistic,  // smtp://: upgrade with STARTTLS when offered, else go on in clear text
  required,       // smtp://: fail (provider_unavailable) unless STARTTLS succeeds
};

struct SmtpMailerOptions {
  // "smtp://host:port" (STARTTLS per `starttls`) or "smtps://host:port" (implicit TLS).
  // Must not carry credentials; use username/password.
  std::string url = "smtp://127.0.0.1:2525";
  // Empty username = no authentication. Secrets: never logged, never in a Status.
  std::string username;
  std::string password;
  // With credentials on smtp://, TLS is always required, whatever `starttls` says, so a
  // server that does not offer STARTTLS (or a downgrade attack) never sees the password —
  // unless allow_plaintext_auth is set (for a relay on the loopback interface only).
  StartTls starttls = StartTls::opportunistic;
  bool allow_plaintext_auth = false;
  // PEM bundle to verify the server with; empty = the system store. Peers are always verified.
  std::string ca_file;
  int connect_timeout_ms = 5000;  // TCP + TLS handshake; capped at timeout_ms
  int timeout_ms = 10000;         // the whole exchange, greeting to QUIT
};

class SmtpMailer final : public Mailer {
 public:
  // `clock` dates the messages (Date header); it must outlive the mailer.
  SmtpMailer(SmtpMailerOptions options, const Clock& clock);

  // Ok: the server accepted the message (250 after DATA).
  // invalid_argument: the message itself is unusable (empty or CR/LF-carrying addresses,
  //   line breaks in subject or attachment names); retrying will not help.
  // provider_unavailable ("smtp_unavailable"/"smtp_timeout"/"smtp_transient"): connection
  //   refused, DNS, TLS failure, timeout, or an SMTP 4xx reply; try again later. A timeout
  //   after DATA may mean the message was delivered: the stable Message-ID lets the
  //   receiver de-duplicate the retry.
  // provider_rejected ("smtp_rejected"): an SMTP 5xx reply (bad recipient, refused content,
  //   authentication failed); retrying the same message will not help.
  Status send(const MailMessage& message) override;

 private:
  SmtpMailerOptions options_;
  const Clock& clock_;
};

}  // namespace donatio::mail
