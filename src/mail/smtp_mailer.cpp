// SmtpMailer: libcurl SMTP client. See smtp_mailer.hpp.
#include "src/mail/smtp_mailer.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <memory>
#include <string_view>
#include <utility>

#include "src/mail/mime.hpp"

namespace donatio::mail {
namespace {

struct EasyDeleter {
  void operator()(CURL* handle) const { curl_easy_cleanup(handle); }
};
struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

// Streams the MIME text to curl (CURLOPT_READFUNCTION); curl does the SMTP dot-stuffing.
struct UploadSource {
  std::string_view text;
  std::size_t offset = 0;
};

std::size_t read_upload(char* buffer, std::size_t size, std::size_t count, void* userdata) {
  auto* source = static_cast<UploadSource*>(userdata);
  const std::size_t room = size * count;
  const std::size_t n = std::min(room, source->text.size() - source->offset);
  std::memcpy(buffer, source->text.data() + source->offset, n);
  source->offset += n;
  return n;
}

bool starts_with(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() &&
         std::equal(prefix.begin(), prefix.end(), text.begin(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) == b;
         });
}

// True when the URL's authority carries "user:pass@": we refuse it so a password can never
// sit in a URL that some error path might print.
bool url_has_userinfo(std::string_view url) {
  const std::size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return false;
  const std::string_view rest = url.substr(scheme_end + 3);
  const std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  return authority.find('@') != std::string_view::npos;
}

Status unavailable(std::string error_code, std::string message) {
  return {StatusCode::provider_unavailable, std::move(error_code), std::move(message)};
}

// Maps a finished transfer to a Status. Only curl's fixed error strings and the numeric SMTP
// reply code go into messages: never the URL, the credentials or the server's reply text
// (which may quote a donor's address).
Status map_result(CURLcode code, long smtp_reply) {
  if (code == CURLE_OK) return Status::Ok();
  const std::string reason = curl_easy_strerror(code);
  const std::string reply = smtp_reply > 0 ? " (SMTP reply " + std::to_string(smtp_reply) + ")" : "";
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
      return unavailable("smtp_timeout", "SMTP server did not answer in time" + reply);
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
      return unavailable("smtp_unavailable", "SMTP server unreachable: " + reason);
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return Status::InvalidArgument("smtp.url", "SMTP URL is not usable: " + reason);
    default:
      break;
  }
  if (smtp_reply >= 400 && smtp_reply < 500) {
    return unavailable("smtp_transient", "SMTP server deferred the message" + reply);
  }
  if (smtp_reply >= 500 && smtp_reply < 600) {
    return {StatusCode::provider_rejected, "smtp_rejected",
            "SMTP server rejected the message" + reply};
  }
  // Connection reset, TLS failure, STARTTLS refused, a garbled reply: try again later.
  return unavailable("smtp_unavailable", "SMTP exchange failed: " + reason + reply);
}

}  // namespace

SmtpMailer::SmtpMailer(SmtpMailerOptions options, const Clock& clock)
    : options_(std::move(options)), clock_(clock) {}

Status SmtpMailer::send(const MailMessage& message) {
  if (Status valid = validate_mail_message(message); !valid.ok()) return valid;
  const bool implicit_tls = starts_with(options_.url, "smtps://");
  if (!implicit_tls && !starts_with(options_.url, "smtp://")) {
    return Status::InvalidArgument("smtp.url", "SMTP URL must start with smtp:// or smtps://");
  }
  if (url_has_userinfo(options_.url)) {
    return Status::InvalidArgument("smtp.url",
                                   "SMTP URL must not carry credentials; use the username and "
                                   "password settings");
  }

  const std::string mail_from = "<" + envelope_address(message.from) + ">";
  const std::string rcpt_to = "<" + envelope_address(message.to) + ">";
  const std::string mime = build_mime_message(message, clock_.now_unix());

  std::unique_ptr<CURL, EasyDeleter> easy(curl_easy_init());
  if (!easy) return Status::Internal("curl_easy_init failed");
  std::unique_ptr<curl_slist, SlistDeleter> recipients(curl_slist_append(nullptr, rcpt_to.c_str()));
  if (!recipients) return Status::Internal("curl_slist_append failed");

  UploadSource source{mime, 0};
  CURL* h = easy.get();
  const long timeout_ms = std::max(1, options_.timeout_ms);
  const long connect_timeout_ms =
      std::min<long>(timeout_ms, std::max(1, options_.connect_timeout_ms));
  const bool authenticate = !options_.username.empty();

  long use_ssl = CURLUSESSL_TRY;
  if (implicit_tls || options_.starttls == StartTls::required ||
      (authenticate && !options_.allow_plaintext_auth)) {
    use_ssl = CURLUSESSL_ALL;
  }

  bool setup_ok = true;
  auto set = [&setup_ok](CURLcode rc) { setup_ok = setup_ok && rc == CURLE_OK; };
  set(curl_easy_setopt(h, CURLOPT_URL, options_.url.c_str()));
  set(curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps"));
  set(curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L));
  set(curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, connect_timeout_ms));
  set(curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms));
  set(curl_easy_setopt(h, CURLOPT_USE_SSL, use_ssl));
  set(curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L));
  set(curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L));
  if (!options_.ca_file.empty()) set(curl_easy_setopt(h, CURLOPT_CAINFO, options_.ca_file.c_str()));
  if (authenticate) {
    set(curl_easy_setopt(h, CURLOPT_USERNAME, options_.username.c_str()));
    set(curl_easy_setopt(h, CURLOPT_PASSWORD, options_.password.c_str()));
  }
  set(curl_easy_setopt(h, CURLOPT_MAIL_FROM, mail_from.c_str()));
  set(curl_easy_setopt(h, CURLOPT_MAIL_RCPT, recipients.get()));
  set(curl_easy_setopt(h, CURLOPT_UPLOAD, 1L));
  set(curl_easy_setopt(h, CURLOPT_READFUNCTION, &read_upload));
  set(curl_easy_setopt(h, CURLOPT_READDATA, &source));
  set(curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(mime.size())));
  set(curl_easy_setopt(h, CURLOPT_VERBOSE, 0L));
  if (!setup_ok) return Status::Internal("libcurl lacks an SMTP option this build needs");

  const CURLcode code = curl_easy_perform(h);
  long smtp_reply = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &smtp_reply);
  return map_result(code, smtp_reply);
}

}  // namespace donatio::mail
