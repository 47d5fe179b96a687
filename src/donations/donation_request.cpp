#include "src/donations/donation_request.hpp"

#include <nlohmann/json.hpp>

#include "donatio/money.hpp"
#include "src/http/json_body.hpp"

namespace donatio::donations {

bool is_plausible_email(const std::string& email) {
  if (email.size() < 3 || email.size() > 254) return false;
  const auto at = email.find('@');
  if (at == std::string::npos || at == 0 || at != email.rfind('@') || at > 64) return false;
  const std::string domain = email.substr(at + 1);
  if (domain.size() < 3 || domain.find('.') == std::string::npos || domain.front() == '.' || domain.back() == '.' ||
      domain.find("..") != std::string::npos) {
    return false;
  }
  for (unsigned char c : email) {
    if (c <= 0x20 || c == 0x7f || c == '<' || c == '>' || c == '(' || c == ')' || c == ',' || c == ';' ||
        c == ':' || c == '\\' || c == '"' || c == '[' || c == ']') {
      return false;
    }
  }
  return true;
}

Result<DonationRequest> parse_donation_request(const std::string& body) {
  auto doc = http::parse_json_object(body);
  if (!doc.ok()) return doc.status();
  http::FieldReader f(*doc);
  DonationRequest r;
  if (Status s = f.only({"campaign", "amount", "currency", "donor", "cover_fees"}); !s.ok()) return s;
  if (Status s = f.string("campaign", r.campaign, true, 64, 1); !s.ok()) return s;
  if (Status s = f.integer("amount", r.amount, true, 1, INT64_MAX / 4); !s.ok()) {
    if (s.error_code() == "out_of_range") {
      return Status(StatusCode::invalid_argument, "invalid_amount", "amount must be a positive integer in minor units", "amount");
    }
    return s;
  }
  if (Status s = f.string("currency", r.currency, true, 3, 3); !s.ok()) {
    return s.error_code() == "invalid_length"
               ? Status::InvalidArgument("currency", "currency must be an ISO-4217 code such as CHF", "invalid_currency")
               : s;
  }
  if (!is_known_currency(r.currency)) {
    return Status::InvalidArgument("currency", "currency must be an ISO-4217 code such as CHF", "invalid_currency");
  }
  r.currency = upper_currency(r.currency);
  const nlohmann::json* donor = nullptr;
  if (Status s = f.object("donor", donor, true); !s.ok()) return s;
  http::FieldReader d(*donor, "donor");
  if (Status s = d.only({"email", "name"}); !s.ok()) return s;
  if (Status s = d.string("email", r.donor_email, true, 254, 1); !s.ok()) return s;
  if (!is_plausible_email(r.donor_email)) {
    return Status::InvalidArgument("donor.email", "donor.email must be an e-mail address", "invalid_email");
  }
  if (Status s = d.string("name", r.donor_name, false, 200); !s.ok()) return s;
  for (unsigned char c : r.donor_name) {
    if (c < 0x20 || c == 0x7f) return Status::InvalidArgument("donor.name", "donor.name must not contain control characters");
  }
  if (Status s = f.boolean("cover_fees", r.cover_fees, false); !s.ok()) return s;
  return r;
}

}  // namespace donatio::donations
