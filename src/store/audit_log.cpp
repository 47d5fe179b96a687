#include "src/store/audit_log.hpp"

namespace donatio::store {

void append_audit(soci::session& sql, const AuditEntry& e, std::int64_t now) {
  const long long at = now;
  const std::string details = e.details.empty() ? "{}" : e.details;
  sql << "INSERT INTO audit_log (actor, action, target, details, request_id, created_at) "
         "VALUES (:actor, :action, :target, :details, :request_id, :created_at)",
      soci::use(e.actor), soci::use(e.action), soci::use(e.target), soci::use(details),
      soci::use(e.request_id), soci::use(at);
}

}  // namespace donatio::store
