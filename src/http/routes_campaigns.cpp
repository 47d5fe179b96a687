// Campaign routes: public reads (GET /v1/campaigns, GET /v1/campaigns/{slug}) and admin writes
// (POST /v1/admin/campaigns, PATCH /v1/admin/campaigns/{slug}). Thin: parse, call the store,
// map Status → HTTP.
#include <nlohmann/json.hpp>

#include <chrono>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "src/http/context.hpp"
#include "src/http/errors.hpp"
#include "src/http/json_body.hpp"
#include "src/http/request_context.hpp"
#include "src/http/server.hpp"

namespace donatio::http {
namespace {

nlohmann::json campaign_json(const Campaign& c) {
  return {
      {"slug", c.slug},
      {"title", c.title},
      {"description", c.description},
      {"category", c.category},
      {"currency", c.currency},
      {"goal_amount", c.goal_amount},
      {"raised_amount", c.raised_amount},
      {"donation_count", c.donation_count},
      {"starts_at", format_iso8601(c.starts_at)},
      {"ends_at", c.ends_at ? nlohmann::json(format_iso8601(*c.ends_at)) : nlohmann::json(nullptr)},
      {"status", c.status},
  };
}

std::string dump(const nlohmann::json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

// The public read path writes campaign_json(c) straight into a string: the same bytes as
// dump(campaign_json(c)) (keys in std::map order, same escaping), without building a DOM.
void append_json_string(std::string& out, const std::string& s) {
  for (char ch : s) {
    const auto u = static_cast<unsigned char>(ch);
    if (u < 0x20 || u >= 0x7f || ch == '"' || ch == '\\') {
      out += nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      return;
    }
  }
  out += '"';
  out += s;
  out += '"';
}

void append_campaign_json(std::string& out, const Campaign& c) {
  out += "{\"category\":";
  append_json_string(out, c.category);
  out += ",\"currency\":";
  append_json_string(out, c.currency);
  out += ",\"description\":";
  append_json_string(out, c.description);
  out += ",\"donation_count\":";
  out += std::to_string(c.donation_count);
  out += ",\"ends_at\":";
  if (c.ends_at) {
    append_json_string(out, format_iso8601(*c.ends_at));
  } else {
    out += "null";
  }
  out += ",\"goal_amount\":";
  out += std::to_string(c.goal_amount);
  out += ",\"raised_amount\":";
  out += std::to_string(c.raised_amount);
  out += ",\"slug\":";
  append_json_string(out, c.slug);
  out += ",\"starts_at\":";
  append_json_string(out, format_iso8601(c.starts_at));
  out += ",\"status\":";
  append_json_string(out, c.status);
  out += ",\"title\":";
  append_json_string(out, c.title);
  out += '}';
}

// Reads the writable fields present in `body` into `c`. `creating`: required fields enforced.
Status read_campaign_fields(const FieldReader& f, Campaign& c, bool creating, std::int64_t now) {
  if (Status s = f.only({"slug", "title", "description", "category", "currency", "goal_amount", "starts_at",
                         "ends_at", "status"});
      !s.ok()) {
    return s;
  }
  if (creating) {
    if (Status s = f.string("slug", c.slug, true, 64, 1); !s.ok()) return s;
  } else if (f.has("slug")) {
    return Status(StatusCode::invalid_argument, "immutable_field", "slug cannot be changed", "slug");
  }
  if (Status s = f.string("title", c.title, creating, 200, 1); !s.ok()) return s;
  if (Status s = f.string("description", c.description, false, 10000); !s.ok()) return s;
  if (Status s = f.string("category", c.category, creating, 64, 1); !s.ok()) return s;
  if (f.has("currency")) {
    std::string currency;
    if (Status s = f.string("currency", currency, true, 3, 3); !s.ok()) {
      return Status::InvalidArgument("currency", "currency must be an ISO-4217 code such as CHF");
    }
    if (!creating && currency != c.currency && c.donation_count > 0) {
      return Status::Unprocessable("currency_locked", "the currency of a campaign with donations cannot change", "currency");
    }
    c.currency = currency;
  } else if (creating) {
    return Status(StatusCode::invalid_argument, "missing_field", "currency is required", "currency");
  }
  if (Status s = f.integer("goal_amount", c.goal_amount, creating, INT64_MIN, INT64_MAX); !s.ok()) return s;
  if (creating) c.starts_at = now;
  if (Status s = f.timestamp("starts_at", c.starts_at, false); !s.ok()) return s;
  if (f.is_null("ends_at")) {
    c.ends_at.reset();
  } else if (f.has("ends_at")) {
    std::int64_t ends = 0;
    if (Status s = f.timestamp("ends_at", ends, true); !s.ok()) return s;
    c.ends_at = ends;
  }
  if (Status s = f.string("status", c.status, false, 16); !s.ok()) return s;
  return Status::Ok();
}

}  // namespace

void register_campaign_routes(HttpServer& server, ServiceContext& ctx) {
  PublicReadCache* cache = &ctx.public_reads;

  server.get("/v1/campaigns", "/v1/campaigns", [&ctx, cache](const httplib::Request&, httplib::Response& res) {
    const std::int64_t now = ctx.clock.now_unix();
    std::string cached;
    if (cache->get(PublicReadCache::kListKey, now, cached)) return send_json(res, 200, cached);
    const std::uint64_t generation = cache->generation();
    auto campaigns = ctx.campaigns.list(true, now);
    if (!campaigns.ok()) return send_error(res, campaigns.status());
    std::string body;
    body.reserve(64 + campaigns->size() * 384);
    body += "{\"data\":[";
    for (std::size_t i = 0; i < campaigns->size(); ++i) {
      if (i > 0) body += ',';
      append_campaign_json(body, (*campaigns)[i]);
    }
    body += "]}";
    cache->put(PublicReadCache::kListKey, now, generation, body);
    send_json(res, 200, body);
  });

  server.get(R"(/v1/campaigns/([^/]+))", "/v1/campaigns/{slug}", [&ctx, cache](const httplib::Request& req, httplib::Response& res) {
    const std::string slug = req.matches[1];
    if (!is_valid_slug(slug)) return send_error(res, Status::NotFound("no campaign with slug '" + slug + "'", "campaign_not_found"));
    const std::int64_t now = ctx.clock.now_unix();
    std::string body;
    if (cache->get(slug, now, body)) return send_json(res, 200, body);
    const std::uint64_t generation = cache->generation();
    auto campaign = ctx.campaigns.get(slug);
    if (!campaign.ok()) return send_error(res, campaign.status());
    body.reserve(384);
    append_campaign_json(body, *campaign);
    cache->put(slug, now, generation, body);
    send_json(res, 200, body);
  });

  server.post("/v1/admin/campaigns", "/v1/admin/campaigns", [&ctx](const httplib::Request& req, httplib::Response& res) {
    auto who = require_role(ctx, req, res, "admin");
    if (!who) return;
    auto body = parse_json_object(req.body);
    if (!body.ok()) return send_error(res, body.status());
    Campaign c;
    if (Status s = read_campaign_fields(FieldReader(*body), c, true, ctx.clock.now_unix()); !s.ok()) {
      return send_error(res, s);
    }
    store::AuditEntry audit{who->token_name, "campaign.created", c.slug, dump(*body), current_request().request_id};
    auto created = ctx.campaigns.create(c, audit, ctx.clock.now_unix());
    if (!created.ok()) return send_error(res, created.status());
    ctx.campaigns_changed();
    res.set_header("Location", "/v1/campaigns/" + created->slug);
    send_json(res, 201, dump(campaign_json(*created)));
  });

  server.patch(R"(/v1/admin/campaigns/([^/]+))", "/v1/admin/campaigns/{slug}",
               [&ctx](const httplib::Request& req, httplib::Response& res) {
    auto who = require_role(ctx, req, res, "admin");
    if (!who) return;
    const std::string slug = req.matches[1];
    auto body = parse_json_object(req.body);
    if (!body.ok()) return send_error(res, body.status());
    store::AuditEntry audit{who->token_name, "campaign.updated", slug, dump(*body), current_request().request_id};
    const std::int64_t now = ctx.clock.now_unix();
    auto updated = ctx.campaigns.update(
        slug, [&](Campaign& c) { return read_campaign_fields(FieldReader(*body), c, false, now); }, audit, now);
    if (!updated.ok()) return send_error(res, updated.status());
    ctx.campaigns_changed();
    send_json(res, 200, dump(campaign_json(*updated)));
  });

  server.get("/v1/admin/campaigns", "/v1/admin/campaigns", [&ctx](const httplib::Request& req, httplib::Response& res) {
    if (!require_role(ctx, req, res, "finance")) return;
    auto campaigns = ctx.campaigns.list(false, ctx.clock.now_unix());
    if (!campaigns.ok()) return send_error(res, campaigns.status());
    nlohmann::json data = nlohmann::json::array();
    for (const auto& c : *campaigns) data.push_back(campaign_json(c));
    send_json(res, 200, dump({{"data", std::move(data)}}));
  });
}

}  // namespace donatio::http
