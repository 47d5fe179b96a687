// Stripe webhook signatures: `Stripe-Signature: t=<unix>,v1=<hex hmac>[,v1=…]` where each v1 is
// HMAC-SHA256 over "<t>.<raw body>" keyed with a webhook signing secret (whsec_…).
// Verification happens on the raw bytes before any JSON is parsed. Thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace donatio::webhooks {

enum class SignatureCheck {
  valid,
  missing_header,    // no Stripe-Signature
  malformed_header,  // no t= or no v1=
  stale,             // |now - t| > tolerance
  mismatch,          // no v1 matches any secret
};

const char* signature_check_name(SignatureCheck check);

// Accepts when any v1 matches any secret (rotation) and the timestamp is within tolerance.
// Comparison is constant-time. Other schemes (v0, …) are ignored.
SignatureCheck verify_signature(std::string_view header, std::string_view payload,
                                const std::vector<std::string>& secrets, std::int64_t now_unix,
                                std::int64_t tolerance_s);

// Hex HMAC-SHA256 of "<timestamp>.<payload>" under `secret`.
std::string compute_signature(std::string_view secret, std::int64_t timestamp,
                              std::string_view payload);

// A full header value "t=<timestamp>,v1=<signature>" (what Stripe, the emulator and
// `donatio webhook replay` send).
std::string sign_header(std::string_view secret, std::int64_t timestamp, std::string_view payload);

}  // namespace donatio::webhooks
