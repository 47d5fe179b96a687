// Campaign: a fundraising appeal donors give to (slug, title, currency, goal, window).
// raised_amount and donation_count are maintained by the store in the same transaction that
// moves a donation, never recomputed on read. Validation here is pure; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "donatio/status.hpp"

namespace donatio {

struct Campaign {
  std::string slug;
  std::string title;
  std::string description;
  std::string category;  // victim_assistance, ngo, humanitarian, healthcare, general
  std::string currency;  // upper-case ISO-4217
  std::int64_t goal_amount = 0;    // minor units
  std::int64_t raised_amount = 0;  // minor units, net of refunds
  std::int64_t donation_count = 0;
  std::int64_t starts_at = 0;                // unix seconds UTC
  std::optional<std::int64_t> ends_at;       // none = open-ended
  std::string status = "active";             // active | closed
  std::int64_t created_at = 0;
  std::int64_t updated_at = 0;
};

bool is_valid_category(const std::string& category);
// 1–64 chars of [a-z0-9-], starting and ending with a letter or digit, no "--".
bool is_valid_slug(const std::string& slug);

// Checks a fully-populated campaign (after defaults/patch are applied).
Status validate_campaign(const Campaign& campaign);

// True when donations may be made now: active, started, not ended.
bool is_open(const Campaign& campaign, std::int64_t now_unix);

}  // namespace donatio
