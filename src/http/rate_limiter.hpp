// RateLimiter: a token bucket per key (client IP). `rate_per_minute` tokens refill per minute
// up to `burst`. Bounded memory: when more than `max_keys` are tracked, full buckets are
// dropped. Thread-safe (one mutex).
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace donatio::http {

class RateLimiter {
 public:
  RateLimiter(int rate_per_minute, int burst, std::size_t max_keys = 100000);
  // Takes one token for `key` at `now_ms`. When none is left returns false and sets
  // `retry_after_s` to the whole seconds until one is back.
  bool try_acquire(const std::string& key, std::int64_t now_ms, int* retry_after_s = nullptr);
  // Looks without taking (for "too many failures" checks).
  bool would_allow(const std::string& key, std::int64_t now_ms);

 private:
  struct Bucket {
    double tokens;
    std::int64_t updated_ms;
  };
  void refill(Bucket& bucket, std::int64_t now_ms) const;
  double per_ms_;
  double burst_;
  std::size_t max_keys_;
  std::mutex mutex_;
  std::unordered_map<std::string, Bucket> buckets_;
};

}  // namespace donatio::http
