#include "support/raw_http_client.hpp"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

namespace donatio::testing {

using SteadyClock = std::chrono::steady_clock;

RawHttpClient::RawHttpClient(int port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
}

RawHttpClient::~RawHttpClient() { ::close(fd_); }

bool RawHttpClient::send(const std::string& bytes) {
  return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size());
}

void RawHttpClient::finish_sending() { ::shutdown(fd_, SHUT_WR); }

bool RawHttpClient::closed_within(std::chrono::milliseconds wait, std::string* received) {
  const auto until = SteadyClock::now() + wait;
  char buffer[4096];
  while (SteadyClock::now() < until) {
    pollfd p{fd_, POLLIN, 0};
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - SteadyClock::now()).count();
    if (::poll(&p, 1, static_cast<int>(std::max<long long>(left, 1))) <= 0) continue;
    const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
    if (n <= 0) return true;
    if (received != nullptr) received->append(buffer, static_cast<std::size_t>(n));
  }
  return false;
}

bool RawHttpClient::read_answers(std::size_t count, std::chrono::milliseconds wait, std::string& received) {
  const auto until = SteadyClock::now() + wait;
  char buffer[4096];
  while (split_answers(received).size() < count) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - SteadyClock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
    const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
    if (n <= 0) return split_answers(received).size() >= count;
    received.append(buffer, static_cast<std::size_t>(n));
  }
  return true;
}

std::vector<std::string> split_answers(const std::string& text) {
  std::vector<std::string> answers;
  std::size_t at = 0;
  while (at < text.size()) {
    const std::size_t head_end = text.find("\r\n\r\n", at);
    if (head_end == std::string::npos) break;
    std::size_t length = 0;
    const std::string head = text.substr(at, head_end - at);
    for (const char* name : {"\r\nContent-Length: ", "\r\ncontent-length: "}) {
      const std::size_t found = head.find(name);
      if (found != std::string::npos) length = std::strtoull(head.c_str() + found + std::string(name).size(), nullptr, 10);
    }
    const std::size_t end = head_end + 4 + length;
    if (end > text.size()) break;
    answers.push_back(text.substr(at, end - at));
    at = end;
  }
  return answers;
}

}  // namespace donatio::testing
