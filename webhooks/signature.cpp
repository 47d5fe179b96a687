// Stripe-Signature verification: HMAC-SHA256 over "<t>.<raw body>", constant-time compare.
#include "webhooks/signature.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/params.h>

#include <charconv>

namespace donatio::webhooks {
namespace {

constexpr char kHex[] = "0123456789abcdef";

// Raw 32-byte HMAC-SHA256 of "<timestamp>.<payload>".
bool hmac_sha256(std::string_view secret, std::string_view timestamp, std::string_view payload,
                 unsigned char (&out)[32]) {
  EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  if (mac == nullptr) return false;
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(mac);
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", digest, 0), OSSL_PARAM_construct_end()};
  std::size_t len = 0;
  const bool ok = ctx != nullptr &&
                  EVP_MAC_init(ctx, reinterpret_cast<const unsigned char*>(secret.data()), secret.size(), params) == 1 &&
                  EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(timestamp.data()), timestamp.size()) == 1 &&
                  EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>("."), 1) == 1 &&
                  EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(payload.data()), payload.size()) == 1 &&
                  EVP_MAC_final(ctx, out, &len, sizeof out) == 1 && len == sizeof out;
  EVP_MAC_CTX_free(ctx);
  EVP_MAC_free(mac);
  return ok;
}

bool decode_hex32(std::string_view hex, unsigned char (&out)[32]) {
  if (hex.size() != 64) return false;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < 32; ++i) {
    const int hi = nibble(hex[2 * i]);
    const int lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<unsigned char>(hi << 4 | lo);
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

const char* signature_check_name(SignatureCheck check) {
  switch (check) {
    case SignatureCheck::valid: return "valid";
    case SignatureCheck::missing_header: return "missing_header";
    case SignatureCheck::malformed_header: return "malformed_header";
    case SignatureCheck::stale: return "stale";
    case SignatureCheck::mismatch: return "mismatch";
  }
  return "mismatch";
}

SignatureCheck verify_signature(std::string_view header, std::string_view payload,
                                const std::vector<std::string>& secrets, std::int64_t now_unix,
                                std::int64_t tolerance_s) {
  header = trim(header);
  if (header.empty()) return SignatureCheck::missing_header;

  std::string_view timestamp_text;
  std::vector<std::string_view> candidates;
  while (!header.empty()) {
    const auto comma = header.find(',');
    const std::string_view item = trim(header.substr(0, comma));
    header = comma == std::string_view::npos ? std::string_view{} : header.substr(comma + 1);
    const auto eq = item.find('=');
    if (eq == std::string_view::npos) continue;
    const std::string_view key = item.substr(0, eq);
    const std::string_view value = item.substr(eq + 1);
    if (key == "t") {
      timestamp_text = value;
    } else if (key == "v1" && candidates.size() < 16) {
      candidates.push_back(value);
    }
  }
  std::int64_t timestamp = 0;
  if (timestamp_text.empty() || candidates.empty()) return SignatureCheck::malformed_header;
  const auto [end, ec] = std::from_chars(timestamp_text.data(), timestamp_text.data() + timestamp_text.size(), timestamp);
  if (ec != std::errc{} || end != timestamp_text.data() + timestamp_text.size() || timestamp <= 0) {
    return SignatureCheck::malformed_header;
  }
  // 128-bit: no overflow whatever the clock and header say.
  const __int128 diff = static_cast<__int128>(now_unix) - timestamp;
  const __int128 skew = diff < 0 ? -diff : diff;
  if (skew > tolerance_s) return SignatureCheck::stale;

  bool matched = false;
  for (const auto& secret : secrets) {
    if (secret.empty()) continue;
    unsigned char expected[32];
    if (!hmac_sha256(secret, timestamp_text, payload, expected)) continue;
    for (const auto candidate : candidates) {
      unsigned char given[32];
      if (!decode_hex32(candidate, given)) continue;
      // Keep comparing after a match: the time taken does not depend on which one matched.
      matched |= CRYPTO_memcmp(expected, given, sizeof expected) == 0;
    }
  }
  return matched ? SignatureCheck::valid : SignatureCheck::mismatch;
}

std::string compute_signature(std::string_view secret, std::int64_t timestamp,
                              std::string_view payload) {
  unsigned char mac[32];
  const std::string ts = std::to_string(timestamp);
  if (!hmac_sha256(secret, ts, payload, mac)) return {};
  std::string hex(64, '0');
  for (std::size_t i = 0; i < 32; ++i) {
    hex[2 * i] = kHex[mac[i] >> 4];
    hex[2 * i + 1] = kHex[mac[i] & 0xf];
  }
  return hex;
}

std::string sign_header(std::string_view secret, std::int64_t timestamp, std::string_view payload) {
  return "t=" + std::to_string(timestamp) + ",v1=" + compute_signature(secret, timestamp, payload);
}

}  // namespace donatio::webhooks
