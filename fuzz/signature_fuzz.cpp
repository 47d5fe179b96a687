// Fuzzes the Stripe-Signature verifier (webhooks/signature.hpp) with arbitrary header text and
// payload bytes, and checks two properties:
//   1. verify_signature never accepts without a secret, and answers one of its enum values;
//   2. sign_header(secret, t, payload) always verifies for the same secret, t and payload
//      (t > 0, secret non-empty), also when other secrets are configured (rotation).
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "fuzz/fuzz_support.hpp"
#include "webhooks/signature.hpp"

using donatio::webhooks::SignatureCheck;
using donatio::webhooks::compute_signature;
using donatio::webhooks::sign_header;
using donatio::webhooks::verify_signature;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  const std::string secret = in.ConsumeRandomLengthString(64);
  // Any clock value, negative included (the overflow found here is fixed: 128-bit skew).
  const std::int64_t now = in.ConsumeIntegral<std::int64_t>();
  const std::int64_t tolerance = in.ConsumeIntegralInRange<std::int64_t>(0, 86400);
  const std::int64_t timestamp = in.ConsumeIntegralInRange<std::int64_t>(1, std::numeric_limits<std::int64_t>::max());
  const std::string header = in.ConsumeRandomLengthString(4096);
  const std::string payload = in.ConsumeRemainingBytesAsString();

  // 1. Arbitrary header text.
  const std::vector<std::string> secrets{secret, "whsec_fuzz_rotated_secret"};
  const SignatureCheck check = verify_signature(header, payload, secrets, now, 300);
  DONATIO_FUZZ_CHECK(check == SignatureCheck::valid || check == SignatureCheck::missing_header ||
                     check == SignatureCheck::malformed_header || check == SignatureCheck::stale ||
                     check == SignatureCheck::mismatch);
  DONATIO_FUZZ_CHECK(verify_signature(header, payload, {}, now, tolerance) != SignatureCheck::valid);
  DONATIO_FUZZ_CHECK(verify_signature(header, payload, {std::string()}, now, tolerance) != SignatureCheck::valid);

  // 2. What we sign, we accept.
  const std::string signature = compute_signature(secret, timestamp, payload);
  DONATIO_FUZZ_CHECK(signature.size() == 64);
  const std::string signed_header = sign_header(secret, timestamp, payload);
  DONATIO_FUZZ_CHECK(signed_header == "t=" + std::to_string(timestamp) + ",v1=" + signature);
  const SignatureCheck own = verify_signature(signed_header, payload, {secret}, timestamp, tolerance);
  if (secret.empty()) {
    DONATIO_FUZZ_CHECK(own == SignatureCheck::mismatch);  // empty secrets are never used
  } else {
    DONATIO_FUZZ_CHECK(own == SignatureCheck::valid);
    DONATIO_FUZZ_CHECK(verify_signature(signed_header, payload, {"whsec_other", secret}, timestamp, tolerance) ==
                       SignatureCheck::valid);
    // A fuzzed extra item after our own v1 does not stop the header from verifying, unless it
    // overrides t= (then the timestamp it carries is what counts).
    const std::string extended = signed_header + "," + header;
    if (header.find("t=") == std::string::npos) {
      DONATIO_FUZZ_CHECK(verify_signature(extended, payload, {secret}, timestamp, tolerance) == SignatureCheck::valid);
    }
  }
  return 0;
}
