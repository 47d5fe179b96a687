// SmtpSink: a tiny SMTP server on 127.0.0.1 for tests. It records every accepted message and
// can be scripted to refuse the next transactions (451, 550, ...) or be stopped and restarted
// on the same port ("SMTP down, then up again").
// Thread-safety: all public methods may be called from any thread. One server thread serves
// connections one after another (sequential accept loop), which is plenty for tests.
// Speaks: EHLO/HELO, MAIL FROM, RCPT TO, DATA (with dot-unstuffing), RSET, NOOP, QUIT.
// No STARTTLS, no AUTH. Lines are bounded (kMaxLineBytes) and so is a message (max_message_bytes).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace donatio::testing {

struct ReceivedMail {
  std::string mail_from;             // the reverse-path without angle brackets
  std::vector<std::string> rcpt_to;  // forward-paths without angle brackets
  std::string data;                  // message text after dot-unstuffing, CRLF line endings
};

// Where a scripted refusal is given.
enum class RejectStage {
  mail_from,    // reply to MAIL FROM
  rcpt_to,      // reply to RCPT TO
  end_of_data,  // reply after the message was received (the message is not recorded)
};

class SmtpSink {
 public:
  static constexpr std::size_t kMaxLineBytes = 4096;

  SmtpSink() = default;
  ~SmtpSink();
  SmtpSink(const SmtpSink&) = delete;
  SmtpSink& operator=(const SmtpSink&) = delete;

  // Listens on 127.0.0.1:`port` (0 = an ephemeral port; pass the old port to restart after
  // stop()) and returns the port. Throws std::runtime_error if it cannot listen.
  // REQUIRES: not running.
  std::uint16_t start(std::uint16_t port = 0);
  // Closes the listening socket and any open connection, joins the thread. Idempotent.
  // Recorded messages are kept.
  void stop();
  bool running() const { return running_.load(); }
  std::uint16_t port() const { return port_; }

  // Copies of the messages accepted so far, in order.
  std::vector<ReceivedMail> messages() const;
  // Waits until at least `count` messages were accepted; false on timeout.
  bool wait_for(std::size_t count, std::chrono::milliseconds timeout) const;
  void clear();

  // The next `transactions` mail transactions get `reply_code` (4xx or 5xx) at `stage`.
  void set_reject_next(int transactions, int reply_code,
                       RejectStage stage = RejectStage::mail_from);
  // Messages larger than this (after unstuffing) are refused with 552. Default 10 MiB.
  void set_max_message_bytes(std::size_t bytes);

  // Connections served since construction (for tests that count retries).
  std::size_t connection_count() const { return connections_.load(); }

 private:
  void serve();
  void serve_connection(int fd);
  // One CRLF- (or LF-) terminated line without its terminator. False when the peer closed,
  // the sink is stopping, the peer was idle too long, or the line was longer than allowed
  // (`too_long` set then).
  bool read_line(int fd, std::string& buffer, std::string& line, bool& too_long);
  // Takes one scripted refusal for `stage`, returning its code, or 0.
  int take_reject(RejectStage stage);

  mutable std::mutex mutex_;
  mutable std::condition_variable received_;
  std::vector<ReceivedMail> messages_;
  int reject_remaining_ = 0;
  int reject_code_ = 0;
  RejectStage reject_stage_ = RejectStage::mail_from;
  std::size_t max_message_bytes_ = 10 * 1024 * 1024;

  std::atomic<bool> running_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<std::size_t> connections_{0};
  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::thread thread_;
};

}  // namespace donatio::testing
