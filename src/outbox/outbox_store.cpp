#include "src/outbox/outbox_store.hpp"

#include <algorithm>

#include "src/store/row.hpp"

namespace donatio::outbox {
namespace {

using store::i64;
using store::str;

// "SELECT <every column> FROM outbox" followed by `rest`.
std::string select_outbox(const std::string& rest) {
  std::string query =
      "SELECT id, kind, payload, status, attempts, next_attempt_at, locked_until, last_error, created_at, updated_at"
      " FROM outbox";
  query += rest;
  return query;
}

OutboxItem item_from(const soci::row& r) {
  OutboxItem it;
  it.id = i64(r, 0);
  it.kind = str(r, 1);
  it.payload = str(r, 2);
  it.status = str(r, 3);
  it.attempts = i64(r, 4);
  it.next_attempt_at = i64(r, 5);
  it.locked_until = i64(r, 6);
  it.last_error = str(r, 7);
  it.created_at = i64(r, 8);
  it.updated_at = i64(r, 9);
  return it;
}

// Kinds are our own constants; refuse anything that is not a plain identifier before it is
// spliced into SQL.
bool plain_identifier(const std::string& s) {
  return !s.empty() && s.size() <= 64 &&
         std::all_of(s.begin(), s.end(), [](char c) { return (c >= 'a' && c <= 'z') || c == '_'; });
}

}  // namespace

std::int64_t backoff_seconds(std::int64_t attempts, std::int64_t base_s, std::int64_t max_s, double uniform01) {
  std::int64_t delay = std::max<std::int64_t>(1, base_s);
  for (std::int64_t i = 1; i < attempts && delay < max_s; ++i) delay *= 2;
  delay = std::min(delay, std::max<std::int64_t>(1, max_s));
  const double u = std::clamp(uniform01, 0.0, 0.999999);
  delay -= static_cast<std::int64_t>(static_cast<double>(delay) * 0.25 * u);
  return std::max<std::int64_t>(1, delay);
}

Result<std::vector<OutboxItem>> OutboxStore::claim_due(const std::vector<std::string>& kinds, int limit,
                                                       std::int64_t now, std::int64_t lease_s) {
  std::vector<OutboxItem> claimed;
  if (kinds.empty() || limit <= 0) return claimed;
  std::string in;
  for (const auto& k : kinds) {
    if (!plain_identifier(k)) return Status::Internal("outbox kind '" + k + "' is not an identifier");
    in += (in.empty() ? "'" : ",'") + k + "'";
  }
  const bool pg = db_.is_postgres();
  Status s = db_.transaction([&](soci::session& sql) {
    claimed.clear();
    const long long at = now, until = now + lease_s, n = limit;
    std::string query = select_outbox(" WHERE status = 'pending' AND kind IN (" + in +
                                      ") AND next_attempt_at <= :now AND locked_until <= :now2 ORDER BY id LIMIT :n");
    if (pg) query += " FOR UPDATE SKIP LOCKED";
    {
      soci::rowset<soci::row> rows = (sql.prepare << query, soci::use(at), soci::use(at), soci::use(n));
      for (const auto& r : rows) claimed.push_back(item_from(r));
    }
    for (auto& it : claimed) {
      const long long id = it.id;
      sql << "UPDATE outbox SET locked_until = :l, updated_at = :u WHERE id = :id", soci::use(until), soci::use(at),
          soci::use(id);
      it.locked_until = until;
    }
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return claimed;
}

Result<bool> OutboxStore::mark_done(const OutboxItem& item, std::int64_t now, const std::string& note) {
  bool updated = false;
  Status s = db_.transaction([&](soci::session& sql) {
    const long long at = now, id = item.id, lease = item.locked_until;
    soci::indicator note_ind = note.empty() ? soci::i_null : soci::i_ok;
    soci::statement st = (sql.prepare << "UPDATE outbox SET status = 'done', locked_until = 0, last_error = :e, "
                                         "updated_at = :u WHERE id = :id AND status = 'pending' AND locked_until = :l",
                          soci::use(note, note_ind), soci::use(at), soci::use(id), soci::use(lease));
    st.execute(true);
    updated = st.get_affected_rows() > 0;
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return updated;
}

Result<bool> OutboxStore::mark_failed(const OutboxItem& item, const std::string& error, bool dead,
                                      std::int64_t retry_at, std::int64_t now) {
  bool updated = false;
  Status s = db_.transaction([&](soci::session& sql) {
    const long long at = now, id = item.id, lease = item.locked_until, next = retry_at;
    const std::string status = dead ? "dead" : "pending";
    const std::string bounded = error.substr(0, 1000);
    soci::statement st =
        (sql.prepare << "UPDATE outbox SET status = :s, attempts = attempts + 1, next_attempt_at = :n, "
                        "locked_until = 0, last_error = :e, updated_at = :u "
                        "WHERE id = :id AND status = 'pending' AND locked_until = :l",
         soci::use(status), soci::use(next), soci::use(bounded), soci::use(at), soci::use(id), soci::use(lease));
    st.execute(true);
    updated = st.get_affected_rows() > 0;
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return updated;
}

Status OutboxStore::release(const OutboxItem& item) {
  return db_.transaction([&](soci::session& sql) {
    const long long id = item.id, lease = item.locked_until;
    sql << "UPDATE outbox SET locked_until = 0 WHERE id = :id AND status = 'pending' AND locked_until = :l",
        soci::use(id), soci::use(lease);
    return Status::Ok();
  });
}

std::int64_t OutboxStore::enqueue(soci::session& sql, store::Dialect, const std::string& kind,
                                  const std::string& payload, std::int64_t now) {
  const long long at = now;
  long long id = 0;
  sql << "INSERT INTO outbox (kind, payload, status, attempts, next_attempt_at, created_at, updated_at) "
         "VALUES (:k, :p, 'pending', 0, :n, :c, :u) RETURNING id",
      soci::use(kind), soci::use(payload), soci::use(at), soci::use(at), soci::use(at), soci::into(id);
  return id;
}

Result<OutboxCounts> OutboxStore::counts() {
  OutboxCounts c;
  Status s = db_.read([&](soci::session& sql) {
    // Two range counts on the outbox_due index (status, next_attempt_at).
    long long pending = 0, dead = 0;
    sql << "SELECT COUNT(*) FROM outbox WHERE status = 'pending'", soci::into(pending);
    sql << "SELECT COUNT(*) FROM outbox WHERE status = 'dead'", soci::into(dead);
    c.pending = pending;
    c.dead = dead;
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return c;
}

Result<std::vector<OutboxItem>> OutboxStore::list(const std::string& status, int limit) {
  std::vector<OutboxItem> items;
  Status s = db_.read([&](soci::session& sql) {
    const long long n = limit;
    std::string query = select_outbox("");
    if (!status.empty()) query += " WHERE status = :s";
    query += " ORDER BY id DESC LIMIT :n";
    if (status.empty()) {
      soci::rowset<soci::row> rows = (sql.prepare << query, soci::use(n));
      for (const auto& r : rows) items.push_back(item_from(r));
    } else {
      soci::rowset<soci::row> rows = (sql.prepare << query, soci::use(status), soci::use(n));
      for (const auto& r : rows) items.push_back(item_from(r));
    }
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return items;
}

Result<OutboxItem> OutboxStore::get(std::int64_t id) {
  std::optional<OutboxItem> item;
  Status s = db_.read([&](soci::session& sql) {
    const long long key = id;
    soci::rowset<soci::row> rows =
        (sql.prepare << select_outbox(" WHERE id = :id"), soci::use(key));
    for (const auto& r : rows) item = item_from(r);
    return Status::Ok();
  });
  if (!s.ok()) return s;
  if (!item) return Status::NotFound("no outbox row " + std::to_string(id));
  return *item;
}

}  // namespace donatio::outbox
