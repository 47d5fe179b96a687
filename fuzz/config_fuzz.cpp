// Fuzzes the config loader parse_config (include/donatio/config.hpp) with arbitrary TOML text.
// It must answer a Status for every input (never throw, never crash); a config it accepts holds
// the invariants the server relies on at start-up.
// Note: toml++ is Debian's shared library (not instrumented), so coverage guidance reaches
// src/config/config.cpp but not the TOML parser itself; see docs/fuzzing.md.
#include <cstddef>
#include <cstdint>
#include <string>

#include "donatio/config.hpp"
#include "fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const auto config = donatio::parse_config(text, "/etc/donatio");
  if (!config.ok()) {
    DONATIO_FUZZ_CHECK(config.status().code() == donatio::StatusCode::invalid_argument);
    return 0;
  }
  const auto& c = *config;
  DONATIO_FUZZ_CHECK(c.server.port >= 0 && c.server.port <= 65535);
  DONATIO_FUZZ_CHECK(!c.organization.name.empty());
  DONATIO_FUZZ_CHECK(c.database.url.rfind("sqlite:", 0) == 0 || c.database.url.rfind("postgres", 0) == 0);
  DONATIO_FUZZ_CHECK(c.outbox.max_backoff_s >= c.outbox.base_backoff_s);
  DONATIO_FUZZ_CHECK(!c.server.tls || (!c.server.tls_cert.empty() && !c.server.tls_key.empty()));
  DONATIO_FUZZ_CHECK(c.stripe.api_base.rfind("http", 0) == 0);
  for (const auto& [currency, amount] : c.stripe.fee_fixed_minor) DONATIO_FUZZ_CHECK(amount >= 0 && currency.size() == 3);
  for (const auto& origin : c.server.allowed_origins) DONATIO_FUZZ_CHECK(!origin.empty() && origin.back() != '/');
  return 0;
}
