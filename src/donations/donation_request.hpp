// The body of POST /v1/donations, read strictly: JSON types, unknown fields, e-mail syntax,
// lengths. No I/O and no business rules (campaign open, currency, limits: create_donation),
// so it is cheap to fuzz (fuzz/donation_request_fuzz.cpp).
#pragma once

#include <cstdint>
#include <string>

#include "donatio/status.hpp"

namespace donatio::donations {

struct DonationRequest {
  std::string campaign;
  std::int64_t amount = 0;  // the intended gift, minor units
  std::string currency;     // upper case
  std::string donor_email;
  std::string donor_name;
  bool cover_fees = false;
};

// Strict parse of the POST /v1/donations body: types, unknown fields, e-mail syntax, lengths.
// Business rules (campaign open, currency, limits) are checked by create_donation. Pure.
Result<DonationRequest> parse_donation_request(const std::string& body);

bool is_plausible_email(const std::string& email);

}  // namespace donatio::donations
