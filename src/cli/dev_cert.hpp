// A self-signed development certificate (EC P-256, SAN localhost/127.0.0.1/::1) for
// `donatio demo` and tests. Never for production: operators bring their own certificate.
#pragma once

#include <string>

#include "donatio/status.hpp"

namespace donatio::cli {

// Writes cert_path and key_path (key mode 0600) unless both already exist.
Status ensure_dev_certificate(const std::string& cert_path, const std::string& key_path, int valid_days = 30);

}  // namespace donatio::cli
