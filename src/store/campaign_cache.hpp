// CampaignCache: the campaign rows the donation path checks (open window, status, currency),
// kept for a short time so that a burst of donations does not read the same row again for
// every request. Thread-safe (one mutex).
//
// Freshness: an entry is used for at most `ttl` (default 1 s). Campaign writes made through
// this process (the admin campaign routes) call invalidate(), so they apply to the very next
// donation; writes by another process (the CLI, another instance on PostgreSQL) apply within
// the ttl. "No such campaign" is cached the same way (a flood of requests for an unknown slug
// reads the database once per ttl), and so a campaign created elsewhere is accepted within it.
// Database errors are not cached. At most VersionedCache::kMaxEntries slugs.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "donatio/campaign.hpp"
#include "src/store/campaign_store.hpp"
#include "src/store/versioned_cache.hpp"

namespace donatio::store {

class CampaignCache {
 public:
  explicit CampaignCache(Database& db, std::chrono::milliseconds ttl = std::chrono::milliseconds(1000))
      : store_(db), ttl_(ttl) {}

  // As CampaignStore::get (not_found when there is no such campaign), from the cache when fresh.
  Result<Campaign> get(const std::string& slug) {
    const auto now = std::chrono::steady_clock::now();
    // Taken before the read: a write that invalidates the cache meanwhile keeps this read out.
    const std::uint64_t generation = cache_.generation();
    if (auto entry = cache_.find(slug, [&](const Entry& e) { return now - e.stored < ttl_; })) {
      return answer(slug, std::move(entry->campaign));
    }
    auto read = store_.get(slug);
    if (!read.ok() && read.status().code() != StatusCode::not_found) return read.status();
    std::optional<Campaign> campaign;
    if (read.ok()) campaign = std::move(read).value();
    cache_.put(slug, generation, Entry{campaign, now});
    return answer(slug, std::move(campaign));
  }

  void invalidate() { cache_.invalidate(); }

 private:
  struct Entry {
    std::optional<Campaign> campaign;  // nullopt: no such campaign
    std::chrono::steady_clock::time_point stored;
  };
  static Result<Campaign> answer(const std::string& slug, std::optional<Campaign> campaign) {
    if (!campaign) return Status::NotFound("no campaign with slug '" + slug + "'", "campaign_not_found");
    return std::move(*campaign);
  }

  CampaignStore store_;
  std::chrono::milliseconds ttl_;
  VersionedCache<Entry> cache_;
};

}  // namespace donatio::store
