#include "src/http/request_context.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <array>
#include <cstdio>
#include <stdexcept>
#include <vector>

namespace donatio::http {
namespace {

thread_local RequestScope tls_scope;

class RequestIdFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg&, const std::tm&, spdlog::memory_buf_t& dest) override {
    const std::string& id = tls_scope.request_id;
    const char* text = id.empty() ? "-" : id.c_str();
    dest.append(text, text + std::strlen(text));
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<RequestIdFlag>(); }
};

// The message payload, escaped for a JSON string.
class JsonMessageFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    static constexpr char kHex[] = "0123456789abcdef";
    for (char c : msg.payload) {
      const auto u = static_cast<unsigned char>(c);
      if (c == '"' || c == '\\') {
        dest.push_back('\\');
        dest.push_back(c);
      } else if (u < 0x20) {
        const char esc[] = {'\\', 'u', '0', '0', kHex[u >> 4], kHex[u & 0xf]};
        dest.append(esc, esc + 6);
      } else {
        dest.push_back(c);
      }
    }
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<JsonMessageFlag>(); }
};

}  // namespace

RequestScope& current_request() { return tls_scope; }

void init_logging(const std::string& level, bool json) {
  auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
  formatter->add_flag<RequestIdFlag>('Q').add_flag<JsonMessageFlag>('J');
  if (json) {
    formatter->set_pattern(R"({"time":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","request_id":"%Q","msg":"%J"})");
  } else {
    formatter->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l [req=%Q] %v");
  }
  auto logger = std::make_shared<spdlog::logger>("donatio", std::make_shared<spdlog::sinks::stderr_sink_mt>());
  logger->set_formatter(std::move(formatter));
  logger->set_level(spdlog::level::from_str(level));
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(logger);
  spdlog::flush_every(std::chrono::seconds(1));
}

namespace {

void fill_random(unsigned char* out, std::size_t bytes) {
  if (RAND_bytes(out, static_cast<int>(bytes)) != 1) throw std::runtime_error("RAND_bytes failed");
}

void append_hex(std::string& out, const unsigned char* raw, std::size_t bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (std::size_t i = 0; i < bytes; ++i) {
    out += kHex[raw[i] >> 4];
    out += kHex[raw[i] & 0xf];
  }
}

}  // namespace

std::string random_hex(std::size_t bytes) {
  std::vector<unsigned char> raw(bytes);
  fill_random(raw.data(), bytes);
  std::string out;
  out.reserve(bytes * 2);
  append_hex(out, raw.data(), bytes);
  return out;
}

std::string id_hex(std::size_t bytes) {
  struct Pool {
    std::array<unsigned char, 512> bytes{};
    std::size_t used = 512;
    ~Pool() { OPENSSL_cleanse(bytes.data(), bytes.size()); }
  };
  thread_local Pool pool;
  std::string out;
  out.reserve(bytes * 2);
  while (bytes > 0) {
    if (pool.used == pool.bytes.size()) {
      fill_random(pool.bytes.data(), pool.bytes.size());
      pool.used = 0;
    }
    const std::size_t n = std::min(bytes, pool.bytes.size() - pool.used);
    append_hex(out, pool.bytes.data() + pool.used, n);
    OPENSSL_cleanse(pool.bytes.data() + pool.used, n);  // handed out once
    pool.used += n;
    bytes -= n;
  }
  return out;
}

std::string time_ordered_hex(std::int64_t unix_seconds) {
  // Ids made in the same second by this process follow one another (until 65,536 in one
  // second wrap the counter), so a batch of new rows touches one or two index pages, not one
  // page each.
  static std::atomic<std::uint32_t> sequence{0};
  const unsigned next = sequence.fetch_add(1, std::memory_order_relaxed) & 0xffffU;
  char head[13];
  std::snprintf(head, sizeof head, "%08llx%04x", static_cast<unsigned long long>(unix_seconds) & 0xffffffffULL, next);
  return head + id_hex(8);
}

}  // namespace donatio::http
