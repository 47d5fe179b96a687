// The JSON of a donation as the admin API shows it (GET /v1/admin/donations, the donor export).
#pragma once

#include <nlohmann/json.hpp>

#include "src/store/donation_store.hpp"

namespace donatio::http {

nlohmann::json donation_json(const store::DonationRecord& d);

}  // namespace donatio::http
