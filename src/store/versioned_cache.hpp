// VersionedCache: a small map of cached entries that writers can invalidate while a reader is
// filling it. A reader takes generation() BEFORE it reads the source, and put() stores its
// entry only if nothing invalidated the cache since — so a value read before a write never
// lands after it. Freshness (how old an entry may be) is the caller's predicate. Thread-safe
// (one mutex); entries are copied in and out. At most kMaxEntries: a put beyond that empties
// the map first.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace donatio::store {

template <typename Entry>
class VersionedCache {
 public:
  static constexpr std::size_t kMaxEntries = 1024;

  std::uint64_t generation() const {
    std::lock_guard lock(mutex_);
    return generation_;
  }
  // The entry for `key` if there is one and `fresh(entry)` holds.
  template <typename Fresh>
  std::optional<Entry> find(const std::string& key, Fresh fresh) const {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(key);
    if (it == entries_.end() || !fresh(it->second)) return std::nullopt;
    return it->second;
  }
  // Stores `entry` unless the cache was invalidated after `generation` was taken.
  void put(const std::string& key, std::uint64_t generation, Entry entry) {
    std::lock_guard lock(mutex_);
    if (generation != generation_) return;
    if (entries_.size() >= kMaxEntries && !entries_.count(key)) entries_.clear();
    entries_[key] = std::move(entry);
  }
  void invalidate() {
    std::lock_guard lock(mutex_);
    ++generation_;
    entries_.clear();
  }

 private:
  mutable std::mutex mutex_;
  std::uint64_t generation_ = 0;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace donatio::store
