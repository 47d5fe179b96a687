#include "src/store/audit_log.hpp"

#include "src/store/row.hpp"

namespace donatio::store {

void append_audit(soci::session& sql, const AuditEntry& e, std::int64_t now) {
  const long long at = now;
  const std::string details = e.details.empty() ? "{}" : e.details;
  sql << "INSERT INTO audit_log (actor, action, target, details, request_id, created_at) "
         "VALUES (:actor, :action, :target, :details, :request_id, :created_at)",
      soci::use(e.actor), soci::use(e.action), soci::use(e.target), soci::use(details),
      soci::use(e.request_id), soci::use(at);
}

Result<std::vector<AuditRecord>> list_audit(Database& db, const AuditFilter& f) {
  std::vector<AuditRecord> out;
  Status s = db.read([&](soci::session& sql) {
    std::string query = "SELECT id, actor, action, target, details, request_id, created_at FROM audit_log WHERE 1 = 1";
    const long long from = f.from.value_or(0), to = f.to.value_or(0);
    const long long after_at = f.after ? f.after->first : 0, after_id = f.after ? f.after->second : 0;
    const int limit = f.limit;
    // One lower bound, as in DonationStore::list (oldest first here): the cursor's row value, or
    // `from` where that is the tighter one.
    const bool by_cursor = f.after && (!f.from || f.after->first >= *f.from);
    if (f.from && !by_cursor) query += " AND created_at >= :from";
    if (f.to) query += " AND created_at < :to";
    if (by_cursor) query += " AND (created_at, id) > (:after_at, :after_id)";
    query += " ORDER BY created_at, id LIMIT :limit";
    soci::details::prepare_temp_type prep = (sql.prepare << query);
    if (f.from && !by_cursor) prep, soci::use(from);
    if (f.to) prep, soci::use(to);
    if (by_cursor) prep, soci::use(after_at), soci::use(after_id);
    prep, soci::use(limit);
    soci::rowset<soci::row> rows(prep);
    for (const auto& r : rows) {
      out.push_back({i64(r, 0), {str(r, 1), str(r, 2), str(r, 3), str(r, 4), str(r, 5)}, i64(r, 6)});
    }
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return out;
}

}  // namespace donatio::store
