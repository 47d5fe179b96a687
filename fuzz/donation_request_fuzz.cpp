// Fuzzes the POST /v1/donations body parser parse_donation_request
// (src/donations/create_donation.hpp) with arbitrary bytes. A request it accepts must satisfy
// what create_donation relies on: a 1-64 byte campaign, a positive amount that leaves headroom
// for the fee gross-up, a known upper-case currency, a plausible e-mail and a name without
// control characters. A rejection is always invalid_argument with an error code.
#include <cstddef>
#include <cstdint>
#include <string>

#include "donatio/money.hpp"
#include "fuzz/fuzz_support.hpp"
#include "src/donations/create_donation.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string body(reinterpret_cast<const char*>(data), size);
  const auto request = donatio::donations::parse_donation_request(body);
  if (!request.ok()) {
    DONATIO_FUZZ_CHECK(request.status().code() == donatio::StatusCode::invalid_argument);
    DONATIO_FUZZ_CHECK(!request.status().error_code().empty());
  } else {
    const auto& r = *request;
    DONATIO_FUZZ_CHECK(!r.campaign.empty() && r.campaign.size() <= 64);
    DONATIO_FUZZ_CHECK(r.amount >= 1 && r.amount <= INT64_MAX / 4);
    DONATIO_FUZZ_CHECK(r.currency.size() == 3 && donatio::is_known_currency(r.currency));
    DONATIO_FUZZ_CHECK(r.currency == donatio::upper_currency(r.currency));
    DONATIO_FUZZ_CHECK(donatio::donations::is_plausible_email(r.donor_email));
    DONATIO_FUZZ_CHECK(r.donor_name.size() <= 200);
    for (const unsigned char c : r.donor_name) DONATIO_FUZZ_CHECK(c >= 0x20 && c != 0x7f);
  }
  // The e-mail check on its own, on the raw bytes (also long and binary input).
  (void)donatio::donations::is_plausible_email(body);
  return 0;
}
