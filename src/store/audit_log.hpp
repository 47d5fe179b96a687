// The audit log: an append-only record of admin actions (who, what, when, request id).
// Rows are written inside the transaction of the action they describe; the schema forbids
// UPDATE and DELETE on the table.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "src/store/database.hpp"

namespace donatio::store {

struct AuditEntry {
  std::string actor;       // token name, or "cli:<user>"
  std::string action;      // "campaign.created", "token.revoked", …
  std::string target;      // slug, token name, donation id, …
  std::string details;     // JSON object text
  std::string request_id;
};

// REQUIRES: called inside Database::transaction.
void append_audit(soci::session& sql, const AuditEntry& entry, std::int64_t now);

struct AuditRecord {
  std::int64_t id = 0;
  AuditEntry entry;
  std::int64_t created_at = 0;
};

struct AuditFilter {
  std::optional<std::int64_t> from;  // created_at >= from
  std::optional<std::int64_t> to;    // created_at < to
  int limit = 100;
  // Keyset cursor: the (created_at, id) of the last row of the previous page.
  std::optional<std::pair<std::int64_t, std::int64_t>> after;
};

// Oldest first, by (created_at, id).
Result<std::vector<AuditRecord>> list_audit(Database& db, const AuditFilter& filter);

}  // namespace donatio::store
