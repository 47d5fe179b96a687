// Campaign validation rules.
#include "donatio/campaign.hpp"

#include <array>

#include "donatio/money.hpp"

namespace donatio {

bool is_valid_category(const std::string& category) {
  static constexpr std::array<const char*, 5> kCategories{"victim_assistance", "ngo",
                                                          "humanitarian", "healthcare", "general"};
  for (const char* c : kCategories) {
    if (category == c) return true;
  }
  return false;
}

bool is_valid_slug(const std::string& slug) {
  if (slug.empty() || slug.size() > 64) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(slug.front()) || !alnum(slug.back())) return false;
  for (std::size_t i = 0; i < slug.size(); ++i) {
    const char c = slug[i];
    if (c == '-') {
      if (slug[i - 1] == '-') return false;
    } else if (!alnum(c)) {
      return false;
    }
  }
  return true;
}

Status validate_campaign(const Campaign& c) {
  if (!is_valid_slug(c.slug)) {
    return Status::InvalidArgument(
        "slug", "slug must be 1-64 characters of a-z, 0-9 and single hyphens, not starting or ending with a hyphen");
  }
  if (c.title.empty() || c.title.size() > 200) {
    return Status::InvalidArgument("title", "title must be 1-200 characters");
  }
  if (c.description.size() > 10000) {
    return Status::InvalidArgument("description", "description must be at most 10000 characters");
  }
  if (!is_valid_category(c.category)) {
    return Status::InvalidArgument(
        "category", "category must be one of victim_assistance, ngo, humanitarian, healthcare, general");
  }
  if (c.currency.size() != 3 || !is_known_currency(c.currency) || upper_currency(c.currency) != c.currency) {
    return Status::InvalidArgument("currency", "currency must be an ISO-4217 code such as CHF");
  }
  if (c.goal_amount <= 0) {
    return Status::InvalidArgument("goal_amount", "goal_amount must be a positive integer in minor units");
  }
  if (c.ends_at && *c.ends_at <= c.starts_at) {
    return Status::InvalidArgument("ends_at", "ends_at must be after starts_at");
  }
  if (c.status != "active" && c.status != "closed") {
    return Status::InvalidArgument("status", "status must be active or closed");
  }
  return Status::Ok();
}

bool is_open(const Campaign& c, std::int64_t now) {
  return c.status == "active" && c.starts_at <= now && (!c.ends_at || now < *c.ends_at);
}

}  // namespace donatio
