// PublicReadCache: short-lived cache of the public campaign read bodies.
// Thread-safe (one mutex). Owned by ServiceContext; writers in this process invalidate it.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "src/store/versioned_cache.hpp"

namespace donatio::http {

// Short-lived cache of the public read bodies (GET /v1/campaigns and /v1/campaigns/{slug}).
// An entry is served for at most kTtl and only while ctx.clock shows the same second it was
// built in (the active window depends on it). Campaign writes through this process clear it;
// totals changed by donations, and writes by other instances, show up within kTtl.
class PublicReadCache {
 public:
  static constexpr std::chrono::milliseconds kTtl{1000};
  static constexpr const char* kListKey = "";  // slugs are never empty

  std::uint64_t generation() const { return cache_.generation(); }
  bool get(const std::string& key, std::int64_t now_unix, std::string& body) const {
    const auto now = std::chrono::steady_clock::now();
    auto entry = cache_.find(key, [&](const Entry& e) { return e.now_unix == now_unix && now - e.stored < kTtl; });
    if (!entry) return false;
    body = std::move(entry->body);
    return true;
  }
  // Stores `body` unless a write invalidated the cache after `generation` was read.
  void put(const std::string& key, std::int64_t now_unix, std::uint64_t generation, const std::string& body) {
    cache_.put(key, generation, Entry{body, now_unix, std::chrono::steady_clock::now()});
  }
  void invalidate() { cache_.invalidate(); }

 private:
  struct Entry {
    std::string body;
    std::int64_t now_unix = 0;
    std::chrono::steady_clock::time_point stored;
  };
  store::VersionedCache<Entry> cache_;
};

}  // namespace donatio::http
