// PublicReadCache: short-lived cache of the public campaign read bodies.
// Thread-safe (one mutex). Owned by ServiceContext; writers in this process invalidate it.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace donatio::http {

// Short-lived cache of the public read bodies (GET /v1/campaigns and /v1/campaigns/{slug}).
// An entry is served for at most kTtl and only while ctx.clock shows the same second it was
// built in (the active window depends on it). Campaign writes through this process clear it;
// totals changed by donations, and writes by other instances, show up within kTtl.
class PublicReadCache {
 public:
  static constexpr std::chrono::milliseconds kTtl{1000};
  static constexpr std::size_t kMaxEntries = 1024;
  static constexpr const char* kListKey = "";  // slugs are never empty

  std::uint64_t generation() const {
    std::lock_guard lock(mutex_);
    return generation_;
  }
  bool get(const std::string& key, std::int64_t now_unix, std::string& body) const {
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(mutex_);
    auto it = entries_.find(key);
    if (it == entries_.end() || it->second.now_unix != now_unix || now - it->second.stored >= kTtl) return false;
    body = it->second.body;
    return true;
  }
  // Stores `body` unless a write invalidated the cache after `generation` was read.
  void put(const std::string& key, std::int64_t now_unix, std::uint64_t generation, const std::string& body) {
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(mutex_);
    if (generation != generation_) return;
    if (entries_.size() >= kMaxEntries && !entries_.count(key)) entries_.clear();
    entries_[key] = Entry{body, now_unix, now};
  }
  void invalidate() {
    std::lock_guard lock(mutex_);
    ++generation_;
    entries_.clear();
  }

 private:
  struct Entry {
    std::string body;
    std::int64_t now_unix = 0;
    std::chrono::steady_clock::time_point stored;
  };
  mutable std::mutex mutex_;
  std::uint64_t generation_ = 0;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace donatio::http
