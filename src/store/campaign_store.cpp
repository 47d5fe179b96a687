#include "src/store/campaign_store.hpp"

#include "src/store/row.hpp"

namespace donatio::store {
namespace {

constexpr const char* kColumns =
    "id, slug, title, description, category, currency, goal_amount, raised_amount, donation_count, "
    "starts_at, ends_at, status, created_at, updated_at";

Campaign from_row(const soci::row& r, std::int64_t* id = nullptr) {
  Campaign c;
  if (id) *id = i64(r, 0);
  c.slug = str(r, 1);
  c.title = str(r, 2);
  c.description = str(r, 3);
  c.category = str(r, 4);
  c.currency = str(r, 5);
  c.goal_amount = i64(r, 6);
  c.raised_amount = i64(r, 7);
  c.donation_count = i64(r, 8);
  c.starts_at = i64(r, 9);
  c.ends_at = opt_i64(r, 10);
  c.status = str(r, 11);
  c.created_at = i64(r, 12);
  c.updated_at = i64(r, 13);
  return c;
}

}  // namespace

std::optional<Campaign> CampaignStore::find_in(soci::session& sql, const std::string& slug, std::int64_t* id) {
  soci::rowset<soci::row> rows = (sql.prepare << "SELECT " << kColumns << " FROM campaigns WHERE slug = :s", soci::use(slug));
  for (const auto& row : rows) return from_row(row, id);
  return std::nullopt;
}

Result<Campaign> CampaignStore::create(const Campaign& input, const AuditEntry& audit, std::int64_t now) {
  Campaign c = input;
  c.created_at = c.updated_at = now;
  c.raised_amount = 0;
  c.donation_count = 0;
  if (Status v = validate_campaign(c); !v.ok()) return v;
  Status s = db_.transaction([&](soci::session& sql) {
    const long long goal = c.goal_amount, starts = c.starts_at, at = now;
    long long ends = c.ends_at.value_or(0);
    soci::indicator ends_ind = c.ends_at ? soci::i_ok : soci::i_null;
    sql << "INSERT INTO campaigns (slug, title, description, category, currency, goal_amount, starts_at, ends_at, "
           "status, created_at, updated_at) VALUES (:slug, :title, :description, :category, :currency, :goal, "
           ":starts, :ends, :status, :created, :updated)",
        soci::use(c.slug), soci::use(c.title), soci::use(c.description), soci::use(c.category),
        soci::use(c.currency), soci::use(goal), soci::use(starts), soci::use(ends, ends_ind), soci::use(c.status),
        soci::use(at), soci::use(at);
    append_audit(sql, audit, now);
    return Status::Ok();
  });
  if (s.code() == StatusCode::conflict) {
    return Status::Conflict("a campaign with slug '" + c.slug + "' already exists", "slug_taken", "slug");
  }
  if (!s.ok()) return s;
  return c;
}

Result<Campaign> CampaignStore::get(const std::string& slug) {
  std::optional<Campaign> found;
  Status s = db_.read([&](soci::session& sql) {
    found = find_in(sql, slug, nullptr);
    return Status::Ok();
  });
  if (!s.ok()) return s;
  if (!found) return Status::NotFound("no campaign with slug '" + slug + "'", "campaign_not_found");
  return *found;
}

Result<std::vector<Campaign>> CampaignStore::list(bool active_only, std::int64_t now) {
  std::vector<Campaign> out;
  Status s = db_.read([&](soci::session& sql) {
    const long long at = now;
    std::string query = std::string("SELECT ") + kColumns + " FROM campaigns";
    if (active_only) {
      query += " WHERE status = 'active' AND starts_at <= :now1 AND (ends_at IS NULL OR ends_at > :now2)";
    }
    query += " ORDER BY starts_at, slug";
    soci::rowset<soci::row> rows = active_only ? (sql.prepare << query, soci::use(at), soci::use(at))
                                               : (sql.prepare << query);
    for (const auto& row : rows) out.push_back(from_row(row));
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return out;
}

Result<Campaign> CampaignStore::update(const std::string& slug, const std::function<Status(Campaign&)>& change,
                                       const AuditEntry& audit, std::int64_t now) {
  Campaign updated;
  Status s = db_.transaction([&](soci::session& sql) {
    std::int64_t id = 0;
    auto current = find_in(sql, slug, &id);
    if (!current) return Status::NotFound("no campaign with slug '" + slug + "'", "campaign_not_found");
    updated = *current;
    if (Status c = change(updated); !c.ok()) return c;
    updated.slug = current->slug;
    updated.updated_at = now;
    if (Status v = validate_campaign(updated); !v.ok()) return v;
    const long long goal = updated.goal_amount, starts = updated.starts_at, at = now, row_id = id;
    long long ends = updated.ends_at.value_or(0);
    soci::indicator ends_ind = updated.ends_at ? soci::i_ok : soci::i_null;
    sql << "UPDATE campaigns SET title = :title, description = :description, category = :category, "
           "currency = :currency, goal_amount = :goal, starts_at = :starts, ends_at = :ends, status = :status, "
           "updated_at = :updated WHERE id = :id",
        soci::use(updated.title), soci::use(updated.description), soci::use(updated.category),
        soci::use(updated.currency), soci::use(goal), soci::use(starts), soci::use(ends, ends_ind),
        soci::use(updated.status), soci::use(at), soci::use(row_id);
    append_audit(sql, audit, now);
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return updated;
}

}  // namespace donatio::store
