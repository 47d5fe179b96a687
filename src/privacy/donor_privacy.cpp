#include "src/privacy/donor_privacy.hpp"

#include <algorithm>
#include <cstdio>
#include <cctype>
#include <set>
#include <vector>

#include "donatio/clock.hpp"
#include "src/http/donation_json.hpp"
#include "src/http/request_context.hpp"
#include "src/store/audit_log.hpp"
#include "src/store/donation_store.hpp"
#include "src/store/row.hpp"

namespace donatio::privacy {
namespace {

constexpr const char* kErasedName = "Erased donor";
constexpr const char* kErasedDomain = "@erased.invalid";

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// A LIKE pattern matching `text` anywhere, with LIKE's wildcards escaped ('\' is the escape).
std::string contains_pattern(const std::string& text) {
  std::string out = "%";
  for (char c : text) {
    if (c == '%' || c == '_' || c == '\\') out += '\\';
    out += c;
  }
  return out + "%";
}

// The donor's donations, oldest first. `only_unerased` (erasure) leaves out those already erased
// and locks the rest on PostgreSQL.
std::vector<store::DonationRecord> donations_of(soci::session& sql, store::Dialect dialect, const std::string& email,
                                                bool only_unerased) {
  std::string query = std::string("SELECT ") + store::kDonationColumns +
                      " FROM donations d LEFT JOIN campaigns c ON c.id = d.campaign_id WHERE " +
                      store::kDonorEmailMatch;
  if (only_unerased) query += " AND d.erased_at IS NULL";
  query += " ORDER BY d.created_at, d.id";
  if (only_unerased && dialect == store::Dialect::postgresql) query += " FOR UPDATE OF d";
  soci::rowset<soci::row> rows = (sql.prepare << query, soci::use(email));
  std::vector<store::DonationRecord> out;
  for (const auto& r : rows) out.push_back(store::donation_from_row(r));
  return out;
}

struct StoredEvent {
  std::string id;
  std::string type;
  std::int64_t created = 0;
  std::string payload;
};

// Stripe events that mention the donor's e-mail address or one of their payment intents (a
// charge, refund or dispute names its payment intent too). One pass over the events table.
std::vector<StoredEvent> events_about(soci::session& sql, const std::string& email,
                                      const std::vector<store::DonationRecord>& donations) {
  std::vector<std::string> patterns{contains_pattern(lower(email))};
  for (const auto& d : donations) {
    if (!d.payment_intent_id.empty()) patterns.push_back(contains_pattern("\"" + d.payment_intent_id + "\""));
  }
  std::string query = "SELECT id, type, created, payload FROM events WHERE LOWER(payload) LIKE :p0 ESCAPE '\\'";
  for (std::size_t i = 1; i < patterns.size(); ++i) {
    query += " OR payload LIKE :p" + std::to_string(i) + " ESCAPE '\\'";
  }
  query += " ORDER BY created, id";
  soci::details::prepare_temp_type prep = (sql.prepare << query);
  for (const auto& p : patterns) prep, soci::use(p);
  soci::rowset<soci::row> rows(prep);
  std::vector<StoredEvent> out;
  for (const auto& r : rows) out.push_back({store::str(r, 0), store::str(r, 1), store::i64(r, 2), store::str(r, 3)});
  return out;
}

// Replaces every occurrence of `needle` (lower case) in `s`, ignoring ASCII case.
bool replace_ci(std::string& s, const std::string& needle, const std::string& with) {
  if (needle.empty()) return false;
  bool changed = false;
  std::string folded = lower(s);
  for (std::size_t at = folded.find(needle); at != std::string::npos; at = folded.find(needle, at + with.size())) {
    s.replace(at, needle.size(), with);
    folded.replace(at, needle.size(), with);
    changed = true;
  }
  return changed;
}

// Rewrites the donor's e-mail (anywhere in a string) and names (whole strings) in a JSON value.
bool scrub(nlohmann::json& v, const std::string& email, const std::set<std::string>& names, const std::string& pseudonym) {
  bool changed = false;
  if (v.is_string()) {
    auto& s = v.get_ref<std::string&>();
    if (names.count(s) != 0) {
      s = kErasedName;
      return true;
    }
    return replace_ci(s, email, pseudonym);
  }
  if (v.is_object() || v.is_array()) {
    for (auto& item : v) changed = scrub(item, email, names, pseudonym) || changed;
  }
  return changed;
}

// A nullable text column as a JSON string or null.
nlohmann::json text_or_null(const soci::row& r, std::size_t i) {
  return store::is_null(r, i) ? nlohmann::json(nullptr) : nlohmann::json(store::str(r, i));
}

nlohmann::json parsed_or_text(const std::string& payload) {
  auto parsed = nlohmann::json::parse(payload, nullptr, false);
  return parsed.is_discarded() ? nlohmann::json(payload) : parsed;
}

std::int64_t count(soci::session& sql, const std::string& query, std::int64_t cutoff) {
  long long n = 0;
  const long long c = cutoff;
  sql << query, soci::use(c), soci::into(n);
  return n;
}

}  // namespace

Result<nlohmann::json> export_donor(store::Database& db, const std::string& email, std::int64_t now) {
  nlohmann::json out{{"email", email}, {"exported_at", format_iso8601(now)}};
  Status s = db.read([&](soci::session& sql) {
    const auto donations = donations_of(sql, db.dialect(), email, false);
    nlohmann::json list = nlohmann::json::array();
    for (const auto& d : donations) {
      nlohmann::json item = http::donation_json(d);
      nlohmann::json history = nlohmann::json::array();
      soci::rowset<soci::row> h = (sql.prepare << "SELECT from_status, to_status, reason, event_id, created_at "
                                                  "FROM donation_history WHERE donation_id = :d ORDER BY id",
                                   soci::use(d.id));
      for (const auto& r : h) {
        history.push_back({{"from", text_or_null(r, 0)},
                           {"to", store::str(r, 1)},
                           {"reason", store::str(r, 2)},
                           {"event", text_or_null(r, 3)},
                           {"at", format_iso8601(store::i64(r, 4))}});
      }
      nlohmann::json receipts = nlohmann::json::array();
      soci::rowset<soci::row> rc = (sql.prepare << "SELECT number, kind, references_number, amount, currency, issued_at "
                                                   "FROM receipts WHERE donation_id = :d ORDER BY issued_at, number",
                                    soci::use(d.id));
      for (const auto& r : rc) {
        receipts.push_back({{"number", store::str(r, 0)},
                            {"kind", store::str(r, 1)},
                            {"references", text_or_null(r, 2)},
                            {"amount", store::i64(r, 3)},
                            {"currency", store::str(r, 4)},
                            {"issued_at", format_iso8601(store::i64(r, 5))}});
      }
      nlohmann::json refunds = nlohmann::json::array();
      soci::rowset<soci::row> rf = (sql.prepare << "SELECT id, amount, currency, status, reason, created_at "
                                                   "FROM refunds WHERE donation_id = :d ORDER BY created_at, id",
                                    soci::use(d.id));
      for (const auto& r : rf) {
        refunds.push_back({{"id", store::str(r, 0)},
                           {"amount", store::i64(r, 1)},
                           {"currency", store::str(r, 2)},
                           {"status", store::str(r, 3)},
                           {"reason", store::str(r, 4)},
                           {"created_at", format_iso8601(store::i64(r, 5))}});
      }
      item["history"] = std::move(history);
      item["receipts"] = std::move(receipts);
      item["refunds"] = std::move(refunds);
      list.push_back(std::move(item));
    }
    nlohmann::json events = nlohmann::json::array();
    for (const auto& e : events_about(sql, email, donations)) {
      events.push_back({{"id", e.id}, {"type", e.type}, {"created", format_iso8601(e.created)}, {"payload", parsed_or_text(e.payload)}});
    }
    out["donations"] = std::move(list);
    out["stripe_events"] = std::move(events);
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return out;
}

Result<Erasure> erase_donor(store::Database& db, const std::string& email, const Actor& actor, std::int64_t now) {
  Erasure result;
  Status s = db.transaction([&](soci::session& sql) {
    const auto donations = donations_of(sql, db.dialect(), email, true);
    if (donations.empty()) return Status::NotFound("no donation carries this e-mail address", "donor_not_found");
    result.pseudonym = "erased-" + http::random_hex(8) + kErasedDomain;
    std::set<std::string> names;
    const long long at = now;
    const std::string erased_name = kErasedName;
    std::set<std::string> ids;
    for (const auto& d : donations) {
      if (!d.donor_name.empty()) names.insert(d.donor_name);
      ids.insert(d.id);
      sql << "UPDATE donations SET donor_email = :e, donor_name = :n, erased_at = :a, updated_at = :u WHERE id = :id",
          soci::use(result.pseudonym), soci::use(erased_name), soci::use(at), soci::use(at), soci::use(d.id);
      sql << "DELETE FROM idempotency_keys WHERE donation_id = :id", soci::use(d.id);
      ++result.donations;
    }
    for (auto& e : events_about(sql, email, donations)) {
      auto payload = nlohmann::json::parse(e.payload, nullptr, false);
      bool changed = false;
      if (payload.is_discarded()) {
        changed = replace_ci(e.payload, lower(email), result.pseudonym);
      } else if (scrub(payload, lower(email), names, result.pseudonym)) {
        e.payload = payload.dump();
        changed = true;
      }
      if (!changed) continue;
      sql << "UPDATE events SET payload = :p WHERE id = :id", soci::use(e.payload), soci::use(e.id);
      ++result.events;
    }
    // Receipt e-mails not yet sent would go to the pseudonym: they are dropped, not failed.
    soci::rowset<soci::row> queued = (sql.prepare << "SELECT id, payload FROM outbox WHERE kind = 'receipt_email' AND status = 'pending'");
    std::vector<long long> cancel;
    for (const auto& r : queued) {
      auto payload = nlohmann::json::parse(store::str(r, 1), nullptr, false);
      if (payload.is_object() && payload.contains("donation_id") && payload["donation_id"].is_string() &&
          ids.count(payload["donation_id"].get<std::string>()) != 0) {
        cancel.push_back(store::i64(r, 0));
      }
    }
    for (const long long id : cancel) {
      sql << "UPDATE outbox SET status = 'done', last_error = 'skipped: donor erased', updated_at = :u WHERE id = :id",
          soci::use(at), soci::use(id);
    }
    result.mails_cancelled = static_cast<int>(cancel.size());
    const std::string details = nlohmann::json{{"donations", result.donations}, {"events", result.events},
                                               {"mails_cancelled", result.mails_cancelled}}.dump();
    store::append_audit(sql, {actor.name, "donor.erased", result.pseudonym, details, actor.request_id}, now);
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return result;
}

std::int64_t retention_cutoff(int retention_years, std::int64_t now) {
  const int year = std::stoi(format_iso8601(now).substr(0, 4)) - retention_years;
  std::int64_t cutoff = 0;
  char text[32];
  std::snprintf(text, sizeof text, "%04d-01-01T00:00:00Z", std::max(year, 1970));
  parse_iso8601(text, cutoff);
  return cutoff;
}

Result<Purge> purge_expired(store::Database& db, int retention_years, const Actor& actor, std::int64_t now,
                            bool dry_run) {
  Purge p;
  p.cutoff = retention_cutoff(retention_years, now);
  static constexpr const char* kOld = "(SELECT id FROM donations WHERE created_at < :c)";
  auto count_all = [&](soci::session& sql) {
    p.donations = count(sql, "SELECT COUNT(*) FROM donations WHERE created_at < :c", p.cutoff);
    p.receipts = count(sql, std::string("SELECT COUNT(*) FROM receipts WHERE donation_id IN ") + kOld, p.cutoff);
    p.refunds = count(sql, std::string("SELECT COUNT(*) FROM refunds WHERE donation_id IN ") + kOld, p.cutoff);
    p.history = count(sql, std::string("SELECT COUNT(*) FROM donation_history WHERE donation_id IN ") + kOld, p.cutoff);
    p.events = count(sql, "SELECT COUNT(*) FROM events WHERE created < :c", p.cutoff);
    p.outbox = count(sql, "SELECT COUNT(*) FROM outbox WHERE created_at < :c", p.cutoff);
    return Status::Ok();
  };
  // A dry run only reads: it takes no write lock, so it can run beside the service at any time.
  if (dry_run) {
    if (Status s = db.read(count_all); !s.ok()) return s;
    return p;
  }
  Status s = db.transaction([&](soci::session& sql) {
    count_all(sql);
    const long long c = p.cutoff;
    for (const char* table : {"receipts", "refunds", "donation_history", "idempotency_keys"}) {
      sql << std::string("DELETE FROM ") + table + " WHERE donation_id IN " + kOld, soci::use(c);
    }
    sql << "DELETE FROM donations WHERE created_at < :c", soci::use(c);
    // The cutoff is a midnight UTC, so whole days of the summary's totals go with their donations.
    sql << "DELETE FROM donation_daily_totals WHERE day < :c", soci::use(c);
    sql << "DELETE FROM events WHERE created < :c", soci::use(c);
    sql << "DELETE FROM outbox WHERE created_at < :c", soci::use(c);
    const std::string details = nlohmann::json{{"cutoff", format_iso8601(p.cutoff)}, {"retention_years", retention_years},
                                               {"donations", p.donations}, {"receipts", p.receipts},
                                               {"refunds", p.refunds}, {"history", p.history}, {"events", p.events}, {"outbox", p.outbox}}.dump();
    store::append_audit(sql, {actor.name, "privacy.purged", format_iso8601(p.cutoff), details, actor.request_id}, now);
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return p;
}

}  // namespace donatio::privacy
