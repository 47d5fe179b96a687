// The audit log: an append-only record of admin actions (who, what, when, request id).
// Rows are written inside the transaction of the action they describe; the schema forbids
// UPDATE and DELETE on the table.
#pragma once

#include <cstdint>
#include <string>

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

}  // namespace donatio::store
