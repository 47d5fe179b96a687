// Campaign persistence. Totals (raised_amount, donation_count) are only changed by the
// donation transition code, inside its transaction; this store never recomputes them.
// Thread-safe (stateless; uses the Database).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "donatio/campaign.hpp"
#include "src/store/audit_log.hpp"
#include "src/store/database.hpp"

namespace donatio::store {

class CampaignStore {
 public:
  explicit CampaignStore(Database& db) : db_(db) {}

  // conflict (slug_taken) when the slug exists.
  Result<Campaign> create(const Campaign& campaign, const AuditEntry& audit, std::int64_t now);
  Result<Campaign> get(const std::string& slug);
  // active_only: status active, started, not ended at `now`. Ordered by starts_at, slug.
  Result<std::vector<Campaign>> list(bool active_only, std::int64_t now);
  // Loads, lets `change` modify a copy, validates, writes — in one transaction.
  Result<Campaign> update(const std::string& slug, const std::function<Status(Campaign&)>& change,
                          const AuditEntry& audit, std::int64_t now);

  // For use inside another transaction: the campaign row by slug (id, currency, window).
  static std::optional<Campaign> find_in(soci::session& sql, const std::string& slug, std::int64_t* id);

 private:
  Database& db_;
};

}  // namespace donatio::store
