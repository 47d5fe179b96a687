#include "src/http/connection_server.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <thread>

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
  ConnectionStream(int fd, const ConnectionLimits& limits) : fd_(fd), limits_(limits) {}

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
  bool has_buffered() const { return used_ < filled_ || (ssl_ != nullptr && SSL_pending(ssl_) > 0); }

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
  char buffer_[4096];
  std::size_t used_ = 0;
  std::size_t filled_ = 0;
  std::string out_;
  mutable Endpoint remote_;
  mutable Endpoint local_;
};

}  // namespace

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
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    while (!stopping_) {
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

void ConnectionServer::stop() {
  if (stopping_.exchange(true)) return;
  const std::uint64_t one = 1;
  if (stop_fd_ >= 0) [[maybe_unused]] auto written = ::write(stop_fd_, &one, sizeof one);
}

void ConnectionServer::serve(int fd) {
  ConnectionStream stream(fd, limits_);
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
  for (int left = limits_.keep_alive_max_count; open && left > 0 && !stopping_; --left) {
    const bool first = left == limits_.keep_alive_max_count;
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
