#include "src/http/connection_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "src/http/errors.hpp"

namespace donatio::http {
namespace {

using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// The longest request line or header line accepted (httplib itself limits only the URI).
constexpr std::size_t kMaxLineBytes = 8 * 1024 + 256;

// Time left until `until`, rounded up so that a wait of that long really reaches it.
milliseconds until_then(SteadyClock::time_point until) {
  return std::chrono::ceil<milliseconds>(until - SteadyClock::now());
}

// Waits until `fd` is ready for `events` (or reports an error or hang-up, which the next read
// or write then reports), at most `wait`. With `stop_fd` >= 0 also returns when it fires.
// True when `fd` is ready.
bool wait_for(int fd, short events, milliseconds wait, int stop_fd = -1) {
  pollfd fds[2] = {{fd, events, 0}, {stop_fd, POLLIN, 0}};
  const int count = stop_fd >= 0 ? 2 : 1;
  const auto until = SteadyClock::now() + wait;
  for (;;) {
    const auto left = until_then(until).count();
    if (left <= 0) return false;
    const int r = ::poll(fds, count, static_cast<int>(std::min<long long>(left, INT_MAX)));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    return fds[0].revents != 0;
  }
}

std::string address_text(const sockaddr_storage& addr, int& port) {
  char text[INET6_ADDRSTRLEN] = {0};
  if (addr.ss_family == AF_INET) {
    const auto& in = reinterpret_cast<const sockaddr_in&>(addr);
    inet_ntop(AF_INET, &in.sin_addr, text, sizeof text);
    port = ntohs(in.sin_port);
  } else if (addr.ss_family == AF_INET6) {
    const auto& in6 = reinterpret_cast<const sockaddr_in6&>(addr);
    inet_ntop(AF_INET6, &in6.sin6_addr, text, sizeof text);
    port = ntohs(in6.sin6_port);
  }
  return text;
}

// One accepted connection, plain or TLS, on a non-blocking socket. Reads stop at the current
// request's deadline; writes send everything or fail (httplib does not retry short writes of
// its status line and headers).
class ConnectionStream final : public httplib::Stream {
 public:
  // `received`: bytes of the connection read before this stream took it over (the event loop's).
  ConnectionStream(int fd, const ConnectionLimits& limits, std::string received)
      : fd_(fd), limits_(limits), received_(std::move(received)) {}

  void set_ssl(SSL* ssl) { ssl_ = ssl; }
  void begin_request(SteadyClock::time_point deadline) {
    deadline_ = deadline;
    request_bytes_ = 0;
    in_head_ = true;
    line_bytes_ = 0;
  }
  // Why the connection must end, if it must: then httplib's own answer (a 400) is not written,
  // `answer_refusal` writes ours.
  bool cut_off() const { return cut_off_; }
  bool line_too_long() const { return line_too_long_; }
  bool refused() const { return cut_off_ || line_too_long_; }

  // The TLS handshake, within the current deadline.
  bool handshake() {
    for (;;) {
      ERR_clear_error();
      const int r = SSL_accept(ssl_);
      if (r == 1) return true;
      if (!wait_ssl(SSL_get_error(ssl_, r))) return false;
    }
  }

  bool is_readable() const override {
    return has_buffered() || wait_for(fd_, POLLIN, read_wait()) || read_timed_out();
  }
  bool is_writable() const override { return wait_for(fd_, POLLOUT, limits_.write_timeout); }

  // httplib reads the request line and headers a byte at a time: serve those from a buffer.
  ssize_t read(char* data, size_t size) override {
    if (received_used_ < received_.size()) {
      const size_t n = std::min(size, received_.size() - received_used_);
      std::memcpy(data, received_.data() + received_used_, n);
      received_used_ += n;
      if (received_used_ == received_.size()) {
        std::string().swap(received_);
        received_used_ = 0;
      }
      if (in_head_ && !scan_head(data, n)) return -1;
      return count(static_cast<ssize_t>(n));
    }
    if (used_ == filled_) {
      if (size >= sizeof buffer_) return count(receive(data, size));
      const ssize_t got = receive(buffer_, sizeof buffer_);
      if (got <= 0) return got;
      used_ = 0;
      filled_ = static_cast<size_t>(got);
    }
    const size_t n = std::min(size, filled_ - used_);
    std::memcpy(data, buffer_ + used_, n);
    used_ += n;
    if (in_head_ && !scan_head(data, n)) return -1;
    return count(static_cast<ssize_t>(n));
  }

  // Bytes of the next request already received (pipelined, or buffered by TLS).
  bool has_buffered() const {
    return received_used_ < received_.size() || used_ < filled_ || (ssl_ != nullptr && SSL_pending(ssl_) > 0);
  }

  // Small writes (httplib's status line and headers, then the body) are gathered and go out
  // in one send when the answer is complete (`flush`), before the next read, or once 16 KiB
  // are waiting; a larger write goes out at once.
  ssize_t write(const char* data, size_t size) override {
    if (refused() && !answering_) return -1;
    if (out_.size() + size > kOutBufferBytes && !flush()) return -1;
    if (size >= kOutBufferBytes) return send_all(data, size) ? static_cast<ssize_t>(size) : -1;
    out_.append(data, size);
    return static_cast<ssize_t>(size);
  }

  // Sends what write() gathered; false when the connection failed.
  bool flush() {
    if (out_.empty()) return true;
    const bool sent = send_all(out_.data(), out_.size());
    out_.clear();
    if (out_.capacity() > 2 * kOutBufferBytes) out_.shrink_to_fit();
    return sent;
  }

  // Both ends of a connection stay what they were: asked once, not for every request.
  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    if (!remote_.known) remote_ = endpoint(::getpeername);
    ip = remote_.ip;
    port = remote_.port;
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    if (!local_.known) local_ = endpoint(::getsockname);
    ip = local_.ip;
    port = local_.port;
  }
  socket_t socket() const override { return fd_; }

  // 408 for a client too slow to send its request, 431 for an oversized line; then close.
  void answer_refusal() {
    const bool slow = cut_off_;
    const std::string body = error_json(
        slow ? Status(StatusCode::invalid_argument, "request_timeout", "the request did not arrive in time")
             : Status(StatusCode::invalid_argument, "header_too_large", "a request or header line is longer than 8 KiB"));
    const std::string answer = std::string(slow ? "HTTP/1.1 408 Request Timeout" : "HTTP/1.1 431 Request Header Fields Too Large") +
                               "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
                               "\r\nConnection: close\r\n\r\n" + body;
    answering_ = true;
    write(answer.data(), answer.size());
    flush();
  }

 private:
  static constexpr size_t kOutBufferBytes = 16 * 1024;

  struct Endpoint {
    bool known = false;
    std::string ip;
    int port = 0;
  };

  Endpoint endpoint(int (*name_of)(int, sockaddr*, socklen_t*)) const {
    Endpoint e;
    e.known = true;
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    if (name_of(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) e.ip = address_text(addr, e.port);
    return e;
  }

  bool send_all(const char* data, size_t size) {
    size_t done = 0;
    while (done < size) {
      const size_t chunk = std::min<size_t>(size - done, INT_MAX);
      if (ssl_ != nullptr) {
        ERR_clear_error();
        const int r = SSL_write(ssl_, data + done, static_cast<int>(chunk));
        if (r > 0) {
          done += static_cast<size_t>(r);
          continue;
        }
        const int error = SSL_get_error(ssl_, r);
        const short events = error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
        if ((error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE) ||
            !wait_for(fd_, events, limits_.write_timeout)) {
          return false;
        }
        continue;
      }
      const ssize_t r = ::send(fd_, data + done, chunk, MSG_NOSIGNAL);
      if (r >= 0) {
        done += static_cast<size_t>(r);
        continue;
      }
      if (errno == EINTR) continue;
      if ((errno != EAGAIN && errno != EWOULDBLOCK) || !wait_for(fd_, POLLOUT, limits_.write_timeout)) return false;
    }
    return true;
  }

  ssize_t receive(char* data, size_t size) {
    // An answer gathered so far goes out before we wait for the client (e.g. httplib's
    // "100 Continue" before it reads the body).
    if (!flush()) return -1;
    const int chunk = static_cast<int>(std::min<size_t>(size, INT_MAX));
    for (;;) {
      if (ssl_ != nullptr) {
        ERR_clear_error();
        const int r = SSL_read(ssl_, data, chunk);
        if (r > 0) return r;
        const int error = SSL_get_error(ssl_, r);
        if (error == SSL_ERROR_ZERO_RETURN) return 0;
        if (!wait_ssl(error)) return -1;
        continue;
      }
      const ssize_t r = ::recv(fd_, data, static_cast<size_t>(chunk), 0);
      if (r >= 0) return r;
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) return -1;
      if (!wait_for(fd_, POLLIN, read_wait()) && !read_timed_out()) return -1;
    }
  }

  // Follows the request line and headers as httplib reads them: false once a line is too long.
  // The empty line ends the head; the body is not scanned.
  bool scan_head(const char* data, size_t size) {
    for (size_t i = 0; i < size && in_head_; ++i) {
      if (data[i] == '\n') {
        in_head_ = line_bytes_ > 1 || (line_bytes_ == 1 && !last_was_cr_);
        line_bytes_ = 0;
      } else if (++line_bytes_ > kMaxLineBytes) {
        line_too_long_ = true;
        return false;
      }
      last_was_cr_ = data[i] == '\r';
    }
    return true;
  }

  // Bounds what one request may send: beyond it the connection is closed.
  ssize_t count(ssize_t got) {
    if (got > 0) {
      request_bytes_ += static_cast<std::size_t>(got);
      if (request_bytes_ > limits_.max_request_bytes) return -1;
    }
    return got;
  }

  // How long the next read may wait: the read timeout, but never past the request's deadline.
  milliseconds read_wait() const {
    return std::max(milliseconds(0), std::min(until_then(deadline_), limits_.read_timeout));
  }

  // Called when a read timed out (always false): at the deadline, the client was too slow overall.
  bool read_timed_out() const {
    if (until_then(deadline_) <= milliseconds(0)) cut_off_ = true;
    return false;
  }

  // Waits for what OpenSSL asked for; reads are bound by the request deadline.
  bool wait_ssl(int error) {
    if (error == SSL_ERROR_WANT_READ) return wait_for(fd_, POLLIN, read_wait()) || read_timed_out();
    if (error == SSL_ERROR_WANT_WRITE) return wait_for(fd_, POLLOUT, limits_.write_timeout);
    return false;
  }

  int fd_;
  const ConnectionLimits& limits_;
  SSL* ssl_ = nullptr;
  SteadyClock::time_point deadline_{};
  mutable bool cut_off_ = false;
  std::size_t request_bytes_ = 0;
  bool in_head_ = true;
  bool last_was_cr_ = false;
  bool line_too_long_ = false;
  bool answering_ = false;
  std::size_t line_bytes_ = 0;
  std::string received_;
  std::size_t received_used_ = 0;
  char buffer_[4096];
  std::size_t used_ = 0;
  std::size_t filled_ = 0;
  std::string out_;
  mutable Endpoint remote_;
  mutable Endpoint local_;
};

// ------------------------------------------------------------------------------ the fast lane

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto x = static_cast<unsigned char>(a[i]);
    const auto y = static_cast<unsigned char>(b[i]);
    if (std::tolower(x) != std::tolower(y)) return false;
  }
  return true;
}

bool is_token_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// A header value the lane takes as it is: visible ASCII or UTF-8 bytes, spaces and tabs.
bool is_plain_value(std::string_view value) {
  for (const char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 && c != '\t') return false;
    if (u == 0x7f) return false;
  }
  return true;
}

std::string_view trim_blanks(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

enum class Fit { incomplete, whole, other };

// One request at the front of `in`, read the way the fast lane takes requests.
struct FastHead {
  std::vector<std::pair<std::string_view, std::string_view>> headers;
  std::size_t body_at = 0;
  std::size_t body_size = 0;
  bool close = false;
};

// whole: a request for the lane, all of it in `in`; incomplete: it may become one (nothing
// seen so far says otherwise); other: httplib's — another route, or anything unusual.
Fit fit_fast_request(std::string_view in, std::string_view request_line, const ConnectionLimits& limits,
                     std::size_t max_body, FastHead& head) {
  head = FastHead{};
  const std::size_t line_end = in.find("\r\n");
  if (line_end == std::string_view::npos) {
    // Until the request line is complete, its prefix must match.
    const std::size_t n = std::min(in.size(), request_line.size());
    return in.substr(0, n) == request_line.substr(0, n) ? Fit::incomplete : Fit::other;
  }
  if (in.substr(0, line_end) != request_line) return Fit::other;
  bool has_length = false;
  std::size_t pos = line_end + 2;
  for (;;) {
    const std::size_t end = in.find("\r\n", pos);
    if (end == std::string_view::npos) {
      return in.size() - pos > kMaxLineBytes ? Fit::other : Fit::incomplete;
    }
    const std::string_view line = in.substr(pos, end - pos);
    pos = end + 2;
    if (line.empty()) break;
    if (line.size() > kMaxLineBytes) return Fit::other;
    const std::size_t colon = line.find(':');
    if (colon == 0 || colon == std::string_view::npos) return Fit::other;
    const std::string_view name = line.substr(0, colon);
    for (const char c : name) {
      if (!is_token_char(c)) return Fit::other;
    }
    const std::string_view value = trim_blanks(line.substr(colon + 1));
    if (!is_plain_value(value)) return Fit::other;
    if (iequals(name, "Content-Length")) {
      if (has_length || value.empty() || value.size() > 18) return Fit::other;
      std::size_t n = 0;
      for (const char c : value) {
        if (c < '0' || c > '9') return Fit::other;
        n = n * 10 + static_cast<std::size_t>(c - '0');
      }
      has_length = true;
      head.body_size = n;
    } else if (iequals(name, "Transfer-Encoding") || iequals(name, "Expect")) {
      return Fit::other;
    } else if (iequals(name, "Connection")) {
      if (iequals(value, "close")) {
        head.close = true;
      } else if (!iequals(value, "keep-alive")) {
        return Fit::other;
      }
    }
    head.headers.emplace_back(name, value);
    if (static_cast<int>(head.headers.size()) > limits.max_header_count) return Fit::other;
  }
  // Without a length httplib decides (an empty body); over the limit it answers 413.
  if (!has_length || head.body_size > max_body) return Fit::other;
  head.body_at = pos;
  if (pos + head.body_size > limits.max_request_bytes) return Fit::other;
  return in.size() - pos >= head.body_size ? Fit::whole : Fit::incomplete;
}

const char* reason_phrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Unknown";
  }
}

// Without `close`, `*close_at` gets the offset where "Connection: close" goes should the loop
// decide to close the connection after all (it began stopping, or the peer has gone) by the time
// the answer is sent.
std::string answer_bytes(const FastAnswer& answer, bool close, std::size_t* close_at) {
  std::string out;
  out.reserve(180 + answer.head.size() + answer.body.size());
  out += "HTTP/1.1 ";
  out += std::to_string(answer.status);
  out += ' ';
  out += reason_phrase(answer.status);
  out += "\r\n";
  out += answer.head;
  if (close) {
    out += "Connection: close\r\n";
  } else {
    *close_at = out.size();  // HTTP/1.1's default: the connection stays
  }
  out += "Content-Length: ";
  out += std::to_string(answer.body.size());
  out += "\r\n\r\n";
  out += answer.body;
  return out;
}

// What httplib's exception handler (server.cpp) answers too, with the route's header lines.
FastAnswer internal_error_answer(const std::string& head) {
  return FastAnswer{500, head, error_json(Status::Internal("internal error"))};
}

// Answers on their way back to the event loop, from whichever thread produced them.
struct FastMailbox {
  struct Letter {
    int fd;
    std::uint64_t serial;  // the connection it is for (a closed fd's number comes back)
    std::string bytes;
    std::size_t close_at = std::string::npos;  // see answer_bytes; npos: it says close already
  };
  std::mutex mutex;
  std::vector<Letter> letters;
  int wake_fd = -1;  // the loop's eventfd; -1 once the loop has gone
  void post(Letter letter) {
    std::lock_guard lock(mutex);
    if (wake_fd < 0) return;  // the server stopped: nobody is left to send it
    const bool first = letters.empty();
    letters.push_back(std::move(letter));
    const std::uint64_t one = 1;
    if (first) [[maybe_unused]] auto written = ::write(wake_fd, &one, sizeof one);
  }
};

// The event loop: accepts, waits on idle connections, reads requests, gives the lane's to its
// handler and sends their answers; hands everything else to a worker thread. One thread.
class FastLoop {
 public:
  using Handoff = std::function<void(int fd, std::string read, int served)>;

  FastLoop(const ConnectionLimits& limits, std::size_t max_body, std::string request_line, FastHandler& handler,
           const std::string& error_head, int listen_fd, int stop_fd, Handoff handoff)
      : limits_(limits), max_body_(max_body), request_line_(std::move(request_line)), handler_(handler),
        error_head_(error_head), listen_fd_(listen_fd), stop_fd_(stop_fd), handoff_(std::move(handoff)),
        mailbox_(std::make_shared<FastMailbox>()) {}

  ~FastLoop() {
    for (auto& [fd, conn] : conns_) ::close(fd);
    {
      std::lock_guard lock(mailbox_->mutex);
      mailbox_->wake_fd = -1;
    }
    if (wake_fd_ >= 0) ::close(wake_fd_);
    if (epoll_fd_ >= 0) ::close(epoll_fd_);
  }

  // Until stop_fd fires; then answers what is in flight (at most kDrainWait) and closes all.
  void run() {
    epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
    wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (epoll_fd_ < 0 || wake_fd_ < 0) return;
    mailbox_->wake_fd = wake_fd_;
    const int flags = ::fcntl(listen_fd_, F_GETFL);
    ::fcntl(listen_fd_, F_SETFL, flags | O_NONBLOCK);
    watch(listen_fd_, EPOLLIN);
    watch(stop_fd_, EPOLLIN);
    watch(wake_fd_, EPOLLIN);
    epoll_event events[128];
    auto next_sweep = SteadyClock::now() + kSweepEvery;
    SteadyClock::time_point drain_until{};
    for (;;) {
      if (stopping_ && (busy_ == 0 || SteadyClock::now() >= drain_until)) break;
      const int n = ::epoll_wait(epoll_fd_, events, 128, static_cast<int>(kSweepEvery.count()));
      if (n < 0 && errno != EINTR) break;
      for (int i = 0; i < n; ++i) {
        const int fd = events[i].data.fd;
        if (fd == listen_fd_) {
          accept_all();
        } else if (fd == stop_fd_) {
          if (!stopping_) {
            stopping_ = true;
            drain_until = SteadyClock::now() + kDrainWait;
            ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, listen_fd_, nullptr);
            ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, stop_fd_, nullptr);
            close_idle(SteadyClock::time_point::max());
          }
        } else if (fd == wake_fd_) {
          deliver();
        } else {
          on_event(fd, events[i].events);
        }
      }
      const auto now = SteadyClock::now();
      if (now >= next_sweep) {
        close_idle(now);
        next_sweep = now + kSweepEvery;
      }
    }
  }

 private:
  static constexpr milliseconds kSweepEvery{250};
  static constexpr milliseconds kDrainWait{10000};
  static constexpr std::size_t kReadChunk = 16 * 1024;

  struct Conn {
    std::uint64_t serial = 0;
    std::string in;
    std::string out;          // an answer not yet fully sent
    std::size_t out_sent = 0;
    std::string remote;
    int served = 0;
    bool busy = false;        // its request is with the handler
    bool close_after = false;
    bool peer_gone = false;   // the client closed its side
    bool unread = false;      // bytes may wait in the socket (reading stopped at the limit)
    SteadyClock::time_point since;  // idle since, or the last progress of a send
  };

  void watch(int fd, std::uint32_t events) {
    epoll_event e{};
    e.events = events;
    e.data.fd = fd;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &e);
  }

  void rewatch(int fd, std::uint32_t events) {
    epoll_event e{};
    e.events = events;
    e.data.fd = fd;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &e);
  }

  void accept_all() {
    for (;;) {
      sockaddr_storage addr{};
      socklen_t len = sizeof addr;
      const int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        // Out of descriptors: back off instead of spinning on the still-readable socket.
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
          std::this_thread::sleep_for(milliseconds(10));
        }
        return;  // EAGAIN: every waiting connection taken
      }
      int yes = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
      Conn& conn = conns_[fd];
      conn = Conn{};
      conn.serial = ++serial_;
      int port = 0;
      conn.remote = address_text(addr, port);
      conn.since = SteadyClock::now();
      watch(fd, EPOLLIN | EPOLLRDHUP | EPOLLET);
    }
  }

  void on_event(int fd, std::uint32_t events) {
    const auto it = conns_.find(fd);
    if (it == conns_.end()) return;
    Conn& conn = it->second;
    if ((events & EPOLLOUT) != 0 && !conn.out.empty() && !send_out(fd, conn)) return;
    if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0) {
      // After the client's end of stream no new edge comes: read up to it now.
      if (!receive(fd, conn, (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0)) return;
      if (!conn.busy && conn.out.empty()) next_request(fd, conn);
    }
  }

  // Reads what the socket holds (edge-triggered: until a short read, or with `to_end` until
  // the end of stream). False when the connection broke and was closed here. The client
  // closing its side is noted: what it sent before is still answered, then the connection
  // closes.
  bool receive(int fd, Conn& conn, bool to_end = false) {
    conn.unread = false;
    for (;;) {
      if (conn.in.size() > limits_.max_request_bytes) {
        conn.unread = true;  // read the rest once this request is answered
        return true;
      }
      const ssize_t got = ::recv(fd, scratch_.data(), scratch_.size(), 0);
      if (got > 0) {
        conn.in.append(scratch_.data(), static_cast<std::size_t>(got));
        if (static_cast<std::size_t>(got) < scratch_.size() && !to_end) return true;
        continue;
      }
      if (got == 0) {
        conn.peer_gone = true;
        return true;
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
      close_conn(fd);
      return false;
    }
  }

  // The next request of an idle connection, if one has arrived.
  void next_request(int fd, Conn& conn) {
    if (conn.in.empty()) {
      if (conn.peer_gone) close_conn(fd);
      return;
    }
    FastHead head;
    const Fit fit = fit_fast_request(conn.in, request_line_, limits_, max_body_, head);
    if (fit != Fit::whole || stopping_) {
      // Another route, something unusual, or a request still arriving: a worker takes over
      // (unless no more of it can come).
      if (stopping_ || (conn.peer_gone && fit == Fit::incomplete)) {
        close_conn(fd);
        return;
      }
      hand_off(fd, conn);
      return;
    }
    FastRequest request;
    const std::string_view in(conn.in);
    const std::size_t space = request_line_.find(' ');
    request.method = std::string_view(request_line_).substr(0, space);
    request.target = std::string_view(request_line_).substr(space + 1, request_line_.rfind(' ') - space - 1);
    request.headers = std::move(head.headers);
    request.body.assign(in.substr(head.body_at, head.body_size));
    request.remote_addr = conn.remote;
    conn.busy = true;
    ++busy_;
    conn.close_after = head.close || conn.peer_gone || conn.served + 1 >= limits_.keep_alive_max_count;
    const bool close = conn.close_after;
    // Once only: a handler that throws after replying must not answer twice.
    auto answered = std::make_shared<std::atomic<bool>>(false);
    FastReply reply = [mailbox = mailbox_, fd, serial = conn.serial, close, answered](FastAnswer answer) {
      if (answered->exchange(true)) return;
      std::size_t close_at = std::string::npos;
      std::string bytes = answer_bytes(answer, close, &close_at);
      mailbox->post({fd, serial, std::move(bytes), close_at});
    };
    try {
      handler_(request, reply);
    } catch (const std::exception& e) {
      spdlog::error("unhandled exception in a fast-lane handler: {}", e.what());
      reply(internal_error_answer(error_head_));
    } catch (...) {
      spdlog::error("unhandled non-standard exception in a fast-lane handler");
      reply(internal_error_answer(error_head_));
    }
    // The request's views die with the bytes they point into.
    conn.in.erase(0, head.body_at + head.body_size);
  }

  void deliver() {
    std::uint64_t count = 0;
    [[maybe_unused]] auto got = ::read(wake_fd_, &count, sizeof count);
    std::vector<FastMailbox::Letter> letters;
    {
      std::lock_guard lock(mailbox_->mutex);
      letters.swap(mailbox_->letters);
    }
    for (auto& letter : letters) {
      const auto it = conns_.find(letter.fd);
      if (it == conns_.end() || it->second.serial != letter.serial || !it->second.busy) continue;
      Conn& conn = it->second;
      conn.busy = false;
      --busy_;
      ++conn.served;
      // send_out closes the connection after this answer: say so in it.
      if ((stopping_ || conn.peer_gone) && letter.close_at != std::string::npos) {
        letter.bytes.insert(letter.close_at, "Connection: close\r\n");
      }
      conn.out = std::move(letter.bytes);
      conn.out_sent = 0;
      conn.since = SteadyClock::now();
      send_out(letter.fd, conn);
    }
  }

  // Sends what is left of the answer; when it is out, closes or goes on with the next request.
  // False when the connection was closed here.
  bool send_out(int fd, Conn& conn) {
    while (conn.out_sent < conn.out.size()) {
      const ssize_t n = ::send(fd, conn.out.data() + conn.out_sent, conn.out.size() - conn.out_sent,
                               MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        conn.out_sent += static_cast<std::size_t>(n);
        conn.since = SteadyClock::now();
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        rewatch(fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET);
        return true;
      }
      close_conn(fd);
      return false;
    }
    conn.out.clear();
    conn.out_sent = 0;
    if (conn.close_after || conn.peer_gone || stopping_) {
      close_conn(fd);
      return false;
    }
    conn.since = SteadyClock::now();
    if (conn.unread && !receive(fd, conn)) return false;
    next_request(fd, conn);
    return conns_.count(fd) != 0;
  }

  void hand_off(int fd, Conn& conn) {
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
    std::string read = std::move(conn.in);
    const int served = conn.served;
    conns_.erase(fd);
    handoff_(fd, std::move(read), served);
  }

  void close_conn(int fd) {
    const auto it = conns_.find(fd);
    if (it == conns_.end()) return;
    if (it->second.busy) --busy_;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
    ::close(fd);
    conns_.erase(it);
  }

  // Closes connections that waited too long: for a first request (the read timeout), for the
  // next one (the keep-alive timeout), or for a client to take an answer (the write timeout).
  void close_idle(SteadyClock::time_point now) {
    std::vector<int> expired;
    for (const auto& [fd, conn] : conns_) {
      if (conn.busy) continue;
      const milliseconds allowed = !conn.out.empty() ? limits_.write_timeout
                                   : conn.served == 0 ? limits_.read_timeout
                                                      : limits_.keep_alive_timeout;
      if (now == SteadyClock::time_point::max() || now - conn.since >= allowed) expired.push_back(fd);
    }
    for (const int fd : expired) close_conn(fd);
  }

  const ConnectionLimits& limits_;
  std::size_t max_body_;
  std::string request_line_;  // "POST /webhooks/stripe HTTP/1.1"
  FastHandler& handler_;
  const std::string& error_head_;
  int listen_fd_;
  int stop_fd_;
  Handoff handoff_;
  std::shared_ptr<FastMailbox> mailbox_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::unordered_map<int, Conn> conns_;
  std::array<char, kReadChunk> scratch_{};
  std::uint64_t serial_ = 0;
  std::size_t busy_ = 0;
  bool stopping_ = false;
};

}  // namespace

std::string_view FastRequest::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (iequals(key, name)) return value;
  }
  return {};
}

ConnectionServer::ConnectionServer(ConnectionLimits limits, SSL_CTX* tls, std::function<void()> on_cut)
    : limits_(limits), tls_(tls), on_cut_(std::move(on_cut)) {
  stop_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

ConnectionServer::~ConnectionServer() {
  stop();
  if (listen_fd_ >= 0) ::close(listen_fd_);
  if (stop_fd_ >= 0) ::close(stop_fd_);
}

Result<int> ConnectionServer::bind_and_listen(const std::string& host, int port) {
  if (stop_fd_ < 0) return Status::Internal("eventfd failed");
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (::getaddrinfo(host.c_str(), service.c_str(), &hints, &found) != 0 || found == nullptr) {
    return Status::InvalidArgument("server.listen", "server.listen: cannot resolve " + host, "invalid_config");
  }
  int fd = ::socket(found->ai_family, found->ai_socktype | SOCK_CLOEXEC, found->ai_protocol);
  int yes = 1;
  const bool ok = fd >= 0 && ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes) == 0 &&
                  ::bind(fd, found->ai_addr, found->ai_addrlen) == 0 && ::listen(fd, limits_.backlog) == 0;
  ::freeaddrinfo(found);
  if (!ok) {
    if (fd >= 0) ::close(fd);
    return Status::InvalidArgument("server.listen",
                                   "server.listen: cannot bind " + host + ":" + service + " (in use or not permitted)",
                                   "invalid_config");
  }
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
  int bound_port = 0;
  address_text(bound, bound_port);
  listen_fd_ = fd;
  // httplib streams chunked answers only while its own listening socket looks open.
  svr_sock_ = fd;
  return bound_port;
}

void ConnectionServer::run() {
  if (listen_fd_ < 0 || stopping_) return;
  running_ = true;
  {
    httplib::ThreadPool pool(static_cast<std::size_t>(std::max(1, limits_.threads)));
    const bool event_loop = fast_handler_ && tls_ == nullptr;
    if (event_loop) run_event_loop(pool);
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    while (!stopping_ && !event_loop) {
      const int r = ::poll(fds, 2, -1);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0 || fds[1].revents != 0) break;
      if ((fds[0].revents & POLLIN) == 0) continue;
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        // Out of descriptors: back off instead of spinning; anything else is the peer's problem.
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
          std::this_thread::sleep_for(milliseconds(10));
        }
        continue;
      }
      int yes = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
      pool.enqueue([this, fd] { serve(fd); });
    }
    pool.shutdown();  // serves (or closes) what was accepted, then joins the workers
  }
  svr_sock_ = INVALID_SOCKET;
  running_ = false;
}

void ConnectionServer::set_fast_route(std::string method, std::string path, FastHandler handler,
                                      std::string error_head) {
  fast_method_ = std::move(method);
  fast_path_ = std::move(path);
  fast_handler_ = std::move(handler);
  fast_error_head_ = std::move(error_head);
}

void ConnectionServer::run_event_loop(httplib::ThreadPool& pool) {
  FastLoop loop(limits_, payload_max_length_, fast_method_ + " " + fast_path_ + " HTTP/1.1", fast_handler_,
                fast_error_head_, listen_fd_, stop_fd_, [this, &pool](int fd, std::string read, int served) {
                  pool.enqueue([this, fd, read = std::move(read), served]() mutable { serve(fd, std::move(read), served); });
                });
  loop.run();
}

void ConnectionServer::stop() {
  if (stopping_.exchange(true)) return;
  const std::uint64_t one = 1;
  if (stop_fd_ >= 0) [[maybe_unused]] auto written = ::write(stop_fd_, &one, sizeof one);
}

void ConnectionServer::serve(int fd, std::string read, int served) {
  ConnectionStream stream(fd, limits_, std::move(read));
  SSL* ssl = nullptr;
  bool open = !stopping_;
  stream.begin_request(SteadyClock::now() + limits_.request_timeout);
  if (open && tls_ != nullptr) {
    ssl = SSL_new(tls_);
    open = ssl != nullptr && SSL_set_fd(ssl, fd) == 1;
    if (open) {
      SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
      stream.set_ssl(ssl);
      open = stream.handshake();
    }
  }
  // The first request must start within the read timeout, later ones within the keep-alive
  // timeout; stop() ends the wait for a next request at once.
  const int allowed = limits_.keep_alive_max_count - served;
  for (int left = allowed; open && left > 0 && !stopping_; --left) {
    const bool first = left == allowed;
    if (!stream.has_buffered() && !wait_for(fd, POLLIN, first ? limits_.read_timeout : limits_.keep_alive_timeout, stop_fd_)) break;
    if (!first) stream.begin_request(SteadyClock::now() + limits_.request_timeout);
    bool closed = false;
    const bool last = left == 1 || stopping_;
    const bool served = process_request(stream, last, closed, [](httplib::Request& req) {
      // RFC 9112 6.3: a request with neither Content-Length nor Transfer-Encoding has no body
      // (httplib would read one until the client closes, e.g. `curl -X POST` without data).
      if (!req.has_header("Content-Length") && !req.has_header("Transfer-Encoding")) {
        req.headers.emplace("Content-Length", "0");
      }
    });
    if (stream.refused()) {
      stream.answer_refusal();
      break;
    }
    if (!stream.flush() || !served || closed) break;
  }
  if (stream.cut_off() && on_cut_) on_cut_();
  if (ssl != nullptr) {
    if (!stream.cut_off()) SSL_shutdown(ssl);  // one non-blocking try: close_notify, no wait
    SSL_free(ssl);
  }
  ::close(fd);
}

}  // namespace donatio::http
