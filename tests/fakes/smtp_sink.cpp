// SmtpSink: loopback SMTP server for tests. See smtp_sink.hpp.
#include "fakes/smtp_sink.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string_view>

namespace donatio::testing {
namespace {

constexpr int kPollMs = 50;
constexpr auto kIdleLimit = std::chrono::seconds(10);

bool send_all(int fd, std::string_view text) {
  while (!text.empty()) {
    const ssize_t n = ::send(fd, text.data(), text.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    text.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

bool reply(int fd, std::string_view line) {
  std::string text(line);
  text += "\r\n";
  return send_all(fd, text);
}

std::string upper_verb(const std::string& line) {
  std::string verb = line.substr(0, line.find(' '));
  for (char& ch : verb) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return verb;
}

bool starts_with_nocase(const std::string& text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(text[i])) !=
        std::toupper(static_cast<unsigned char>(prefix[i]))) {
      return false;
    }
  }
  return true;
}

// "MAIL FROM:<a@b> SIZE=12" -> "a@b"; "RCPT TO: c@d" -> "c@d".
std::string path_argument(const std::string& line, std::size_t prefix_length) {
  std::string rest = line.substr(prefix_length);
  const std::size_t open = rest.find('<');
  if (open != std::string::npos) {
    const std::size_t close = rest.find('>', open);
    if (close != std::string::npos) return rest.substr(open + 1, close - open - 1);
  }
  const std::size_t first = rest.find_first_not_of(' ');
  if (first == std::string::npos) return {};
  return rest.substr(first, rest.find(' ', first) - first);
}

std::string refusal_text(int code) {
  const std::string number = std::to_string(code);
  if (code >= 500) return number + " 5.7.1 scripted permanent refusal";
  return number + " 4.3.0 scripted temporary refusal, try again later";
}

}  // namespace

SmtpSink::~SmtpSink() { stop(); }

std::uint16_t SmtpSink::start(std::uint16_t port) {
  if (running_.load()) throw std::logic_error("SmtpSink::start: already running");
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("SmtpSink: socket: ") + std::strerror(errno));
  const int yes = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(fd, 16) != 0) {
    const std::string reason = std::strerror(errno);
    ::close(fd);
    throw std::runtime_error("SmtpSink: cannot listen on 127.0.0.1:" + std::to_string(port) +
                             ": " + reason);
  }
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  listen_fd_ = fd;
  port_ = ntohs(address.sin_port);
  stopping_.store(false);
  running_.store(true);
  thread_ = std::thread([this] { serve(); });
  return port_;
}

void SmtpSink::stop() {
  if (!running_.load()) return;
  stopping_.store(true);
  if (thread_.joinable()) thread_.join();
  ::close(listen_fd_);  // connections still in the backlog are reset: "connection refused"
  listen_fd_ = -1;
  running_.store(false);
}

std::vector<ReceivedMail> SmtpSink::messages() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return messages_;
}

bool SmtpSink::wait_for(std::size_t count, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mutex_);
  return received_.wait_for(lock, timeout, [&] { return messages_.size() >= count; });
}

void SmtpSink::clear() {
  std::lock_guard<std::mutex> lock(mutex_);
  messages_.clear();
}

void SmtpSink::set_reject_next(int transactions, int reply_code, RejectStage stage) {
  std::lock_guard<std::mutex> lock(mutex_);
  reject_remaining_ = transactions;
  reject_code_ = reply_code;
  reject_stage_ = stage;
}

void SmtpSink::set_max_message_bytes(std::size_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  max_message_bytes_ = bytes;
}

int SmtpSink::take_reject(RejectStage stage) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (reject_remaining_ <= 0 || reject_stage_ != stage) return 0;
  --reject_remaining_;
  return reject_code_;
}

void SmtpSink::serve() {
  while (!stopping_.load()) {
    pollfd listener{listen_fd_, POLLIN, 0};
    const int ready = ::poll(&listener, 1, kPollMs);
    if (ready <= 0) continue;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    connections_.fetch_add(1);
    serve_connection(fd);
    ::close(fd);
  }
}

bool SmtpSink::read_line(int fd, std::string& buffer, std::string& line, bool& too_long) {
  too_long = false;
  auto last_activity = std::chrono::steady_clock::now();
  while (true) {
    const std::size_t newline = buffer.find('\n');
    if (newline != std::string::npos) {
      if (newline > kMaxLineBytes) {
        too_long = true;
        return false;
      }
      line.assign(buffer, 0, newline);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      buffer.erase(0, newline + 1);
      return true;
    }
    if (buffer.size() > kMaxLineBytes) {
      too_long = true;
      return false;
    }
    if (stopping_.load()) return false;
    if (std::chrono::steady_clock::now() - last_activity > kIdleLimit) return false;
    pollfd peer{fd, POLLIN, 0};
    const int ready = ::poll(&peer, 1, kPollMs);
    if (ready < 0 && errno != EINTR) return false;
    if (ready <= 0) continue;
    char chunk[4096];
    const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    buffer.append(chunk, static_cast<std::size_t>(n));
    last_activity = std::chrono::steady_clock::now();
  }
}

void SmtpSink::serve_connection(int fd) {
  if (!reply(fd, "220 smtp-sink.test ESMTP donatio test sink")) return;
  std::size_t max_bytes = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    max_bytes = max_message_bytes_;
  }
  std::string buffer;
  std::string line;
  bool too_long = false;
  bool in_transaction = false;
  ReceivedMail current;

  auto reset = [&] {
    in_transaction = false;
    current = ReceivedMail{};
  };

  while (read_line(fd, buffer, line, too_long)) {
    const std::string verb = upper_verb(line);
    if (verb == "EHLO") {
      if (!send_all(fd, "250-smtp-sink.test\r\n250-8BITMIME\r\n250-SIZE " +
                            std::to_string(max_bytes) + "\r\n250 PIPELINING\r\n")) {
        return;
      }
      reset();
    } else if (verb == "HELO") {
      reset();
      if (!reply(fd, "250 smtp-sink.test")) return;
    } else if (starts_with_nocase(line, "MAIL FROM:")) {
      if (in_transaction) {
        if (!reply(fd, "503 5.5.1 nested MAIL command")) return;
        continue;
      }
      if (const int code = take_reject(RejectStage::mail_from); code != 0) {
        if (!reply(fd, refusal_text(code))) return;
        continue;
      }
      current = ReceivedMail{};
      current.mail_from = path_argument(line, std::strlen("MAIL FROM:"));
      in_transaction = true;
      if (!reply(fd, "250 2.1.0 sender ok")) return;
    } else if (starts_with_nocase(line, "RCPT TO:")) {
      if (!in_transaction) {
        if (!reply(fd, "503 5.5.1 need MAIL before RCPT")) return;
        continue;
      }
      if (const int code = take_reject(RejectStage::rcpt_to); code != 0) {
        if (!reply(fd, refusal_text(code))) return;
        continue;
      }
      current.rcpt_to.push_back(path_argument(line, std::strlen("RCPT TO:")));
      if (!reply(fd, "250 2.1.5 recipient ok")) return;
    } else if (verb == "DATA") {
      if (!in_transaction || current.rcpt_to.empty()) {
        if (!reply(fd, "503 5.5.1 need RCPT before DATA")) return;
        continue;
      }
      if (!reply(fd, "354 end data with <CR><LF>.<CR><LF>")) return;
      bool oversized = false;
      bool complete = false;
      while (read_line(fd, buffer, line, too_long)) {
        if (line == ".") {
          complete = true;
          break;
        }
        if (!line.empty() && line.front() == '.') line.erase(0, 1);  // dot-unstuffing
        if (current.data.size() + line.size() + 2 > max_bytes) oversized = true;
        if (!oversized) {
          current.data += line;
          current.data += "\r\n";
        }
      }
      if (!complete) {
        if (too_long) reply(fd, "500 5.5.2 line too long");
        return;
      }
      if (oversized) {
        reset();
        if (!reply(fd, "552 5.3.4 message too big")) return;
        continue;
      }
      if (const int code = take_reject(RejectStage::end_of_data); code != 0) {
        reset();
        if (!reply(fd, refusal_text(code))) return;
        continue;
      }
      {
        std::lock_guard<std::mutex> lock(mutex_);
        messages_.push_back(std::move(current));
      }
      received_.notify_all();
      reset();
      if (!reply(fd, "250 2.0.0 queued")) return;
    } else if (verb == "RSET") {
      reset();
      if (!reply(fd, "250 2.0.0 reset")) return;
    } else if (verb == "NOOP") {
      if (!reply(fd, "250 2.0.0 ok")) return;
    } else if (verb == "QUIT") {
      reply(fd, "221 2.0.0 bye");
      return;
    } else {
      if (!reply(fd, "502 5.5.2 command not implemented")) return;
    }
  }
  if (too_long) reply(fd, "500 5.5.2 line too long");
}

}  // namespace donatio::testing
