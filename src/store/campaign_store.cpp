#include "src/store/campaign_store.hpp"

#include "src/store/row.hpp"

namespace donatio::store {
namespace {

constexpr const char* kColumns =
    "id, slug, title, description, category, currency, goal_amount, raised_amount, donation_count, "
    "starts_at, ends_at, status, created_at, updated_at";

// Statically typed fetch target for kColumns: cheaper than soci::row, which describes every
// column and allocates a holder per value on each query (the public read path runs it per request).
struct CampaignRow {
  long long id = 0, goal = 0, raised = 0, count = 0, starts = 0, ends = 0, created = 0, updated = 0;
  std::string slug, title, description, category, currency, status;
  soci::indicator slug_ind = soci::i_ok, title_ind = soci::i_ok, description_ind = soci::i_ok,
                  category_ind = soci::i_ok, currency_ind = soci::i_ok, status_ind = soci::i_ok,
                  ends_ind = soci::i_null;

  void bind(soci::details::prepare_temp_type& q) {
    q, soci::into(id), soci::into(slug, slug_ind), soci::into(title, title_ind),
        soci::into(description, description_ind), soci::into(category, category_ind),
        soci::into(currency, currency_ind), soci::into(goal), soci::into(raised), soci::into(count),
        soci::into(starts), soci::into(ends, ends_ind), soci::into(status, status_ind), soci::into(created),
        soci::into(updated);
  }

  Campaign to_campaign() const {
    auto text = [](const std::string& v, soci::indicator ind) { return ind == soci::i_null ? std::string() : v; };
    Campaign c;
    c.slug = text(slug, slug_ind);
    c.title = text(title, title_ind);
    c.description = text(description, description_ind);
    c.category = text(category, category_ind);
    c.currency = text(currency, currency_ind);
    c.goal_amount = goal;
    c.raised_amount = raised;
    c.donation_count = count;
    c.starts_at = starts;
    if (ends_ind != soci::i_null) c.ends_at = ends;
    c.status = text(status, status_ind);
    c.created_at = created;
    c.updated_at = updated;
    return c;
  }
};

}  // namespace

std::optional<Campaign> CampaignStore::find_in(soci::session& sql, const std::string& slug, std::int64_t* id) {
  CampaignRow row;
  soci::details::prepare_temp_type q = (sql.prepare << "SELECT " << kColumns << " FROM campaigns WHERE slug = :s");
  row.bind(q);
  q, soci::use(slug);
  soci::statement st = q;
  st.execute();
  if (!st.fetch()) return std::nullopt;
  if (id) *id = row.id;
  return row.to_campaign();
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
    CampaignRow row;
    soci::details::prepare_temp_type q = (sql.prepare << query);
    row.bind(q);
    if (active_only) q, soci::use(at), soci::use(at);
    soci::statement st = q;
    st.execute();
    while (st.fetch()) out.push_back(row.to_campaign());
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
