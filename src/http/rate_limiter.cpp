#include "src/http/rate_limiter.hpp"

#include <algorithm>
#include <cmath>

namespace donatio::http {

RateLimiter::RateLimiter(int rate_per_minute, int burst, std::size_t max_keys)
    : per_ms_(rate_per_minute / 60000.0), burst_(burst), max_keys_(max_keys) {}

void RateLimiter::refill(Bucket& b, std::int64_t now_ms) const {
  if (now_ms > b.updated_ms) {
    b.tokens = std::min(burst_, b.tokens + static_cast<double>(now_ms - b.updated_ms) * per_ms_);
    b.updated_ms = now_ms;
  }
}

bool RateLimiter::try_acquire(const std::string& key, std::int64_t now_ms, int* retry_after_s) {
  std::lock_guard lock(mutex_);
  if (buckets_.size() >= max_keys_) {
    for (auto it = buckets_.begin(); it != buckets_.end();) {
      refill(it->second, now_ms);
      it = it->second.tokens >= burst_ ? buckets_.erase(it) : std::next(it);
    }
  }
  auto [it, inserted] = buckets_.try_emplace(key, Bucket{burst_, now_ms});
  Bucket& b = it->second;
  refill(b, now_ms);
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return true;
  }
  if (retry_after_s) {
    const double missing_ms = (1.0 - b.tokens) / per_ms_;
    *retry_after_s = std::max(1, static_cast<int>(std::ceil(missing_ms / 1000.0)));
  }
  return false;
}

bool RateLimiter::would_allow(const std::string& key, std::int64_t now_ms) {
  std::lock_guard lock(mutex_);
  auto it = buckets_.find(key);
  if (it == buckets_.end()) return true;
  refill(it->second, now_ms);
  return it->second.tokens >= 1.0;
}

}  // namespace donatio::http
