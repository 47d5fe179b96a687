#include <catch2/catch.hpp>

#include <cstdint>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "webhooks/signature.hpp"

using donatio::webhooks::compute_signature;
using donatio::webhooks::sign_header;
using donatio::webhooks::SignatureCheck;
using donatio::webhooks::signature_check_name;
using donatio::webhooks::verify_signature;

namespace {

constexpr std::int64_t kNow = 1767225635;
constexpr std::int64_t kTolerance = 300;
const std::string kSecret = "whsec_test_fixture_secret";
const std::string kOtherSecret = "whsec_test_fixture_other_secret";
const std::string kBody = R"({"id":"evt_test_signature","object":"event","type":"payment_intent.succeeded"})";

std::string fixture_path(const std::string& name) {
  return std::string(DONATIO_SOURCE_DIR) + "/webhooks/fixtures/" + name;
}

std::string read_fixture_bytes(const std::string& name) {
  std::ifstream in(fixture_path(name), std::ios::binary);
  REQUIRE(in.good());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string header_for(std::int64_t t, const std::string& v1) {
  return "t=" + std::to_string(t) + ",v1=" + v1;
}

SignatureCheck verify(const std::string& header, const std::string& body = kBody,
                      const std::vector<std::string>& secrets = {kSecret},
                      std::int64_t now = kNow) {
  return verify_signature(header, body, secrets, now, kTolerance);
}

struct SignatureCase {
  std::string secret;
  std::int64_t timestamp = 0;
  std::string file;
  std::string expected;
};

std::vector<SignatureCase> read_signature_cases() {
  std::ifstream in(fixture_path("signatures.txt"));
  REQUIRE(in.good());
  std::vector<SignatureCase> cases;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line.front() == '#') continue;
    std::istringstream fields(line);
    SignatureCase c;
    fields >> c.secret >> c.timestamp >> c.file >> c.expected;
    INFO(line);
    REQUIRE_FALSE(fields.fail());
    cases.push_back(c);
  }
  return cases;
}

}  // namespace

TEST_CASE("a signature made with the secret over the exact body is valid") {
  const std::string good = compute_signature(kSecret, kNow, kBody);
  CHECK(good.size() == 64);
  CHECK(verify(header_for(kNow, good)) == SignatureCheck::valid);
  CHECK(verify(sign_header(kSecret, kNow, kBody)) == SignatureCheck::valid);
  CHECK(std::string(signature_check_name(SignatureCheck::valid)) == "valid");
}

TEST_CASE("a timestamp exactly at the tolerance is still accepted, on either side") {
  CHECK(verify(sign_header(kSecret, kNow - kTolerance, kBody)) == SignatureCheck::valid);
  CHECK(verify(sign_header(kSecret, kNow + kTolerance, kBody)) == SignatureCheck::valid);
}

TEST_CASE("a correctly signed but old timestamp is rejected as stale") {
  CHECK(verify(sign_header(kSecret, kNow - kTolerance - 1, kBody)) == SignatureCheck::stale);
  CHECK(verify(sign_header(kSecret, kNow - 86400, kBody)) == SignatureCheck::stale);
}

TEST_CASE("a timestamp too far in the future is rejected as stale") {
  CHECK(verify(sign_header(kSecret, kNow + kTolerance + 1, kBody)) == SignatureCheck::stale);
}

TEST_CASE("a signature made with another secret does not match") {
  CHECK(verify(sign_header(kOtherSecret, kNow, kBody)) == SignatureCheck::mismatch);
  CHECK(verify(sign_header(kSecret, kNow, kBody), kBody, {}) == SignatureCheck::mismatch);
  CHECK(verify(sign_header(kSecret, kNow, kBody), kBody, {""}) == SignatureCheck::mismatch);
}

TEST_CASE("during secret rotation a signature matching any configured secret is valid") {
  const std::string header = sign_header(kSecret, kNow, kBody);
  CHECK(verify(header, kBody, {kOtherSecret, kSecret}) == SignatureCheck::valid);
  CHECK(verify(header, kBody, {kSecret, kOtherSecret}) == SignatureCheck::valid);
  CHECK(verify(header, kBody, {kOtherSecret}) == SignatureCheck::mismatch);
}

TEST_CASE("with several v1 signatures one good one is enough") {
  const std::string good = compute_signature(kSecret, kNow, kBody);
  const std::string bad = compute_signature(kOtherSecret, kNow, kBody);
  const std::string t = "t=" + std::to_string(kNow);
  CHECK(verify(t + ",v1=" + bad + ",v1=" + good) == SignatureCheck::valid);
  CHECK(verify(t + ",v1=" + good + ",v1=" + bad) == SignatureCheck::valid);
  CHECK(verify(t + ",v1=" + bad + ",v1=" + bad) == SignatureCheck::mismatch);
  // Stripe's own order: v1 before t, and a v1 that is not even hex.
  CHECK(verify("v1=zz," + t + ",v1=" + good) == SignatureCheck::valid);
}

TEST_CASE("the v0 scheme is ignored, even when it carries the right value") {
  const std::string good = compute_signature(kSecret, kNow, kBody);
  const std::string bad = compute_signature(kOtherSecret, kNow, kBody);
  const std::string t = "t=" + std::to_string(kNow);
  CHECK(verify(t + ",v0=" + good) == SignatureCheck::malformed_header);
  CHECK(verify(t + ",v0=" + good + ",v1=" + bad) == SignatureCheck::mismatch);
  CHECK(verify(t + ",v1=" + good + ",v0=" + bad) == SignatureCheck::valid);
}

TEST_CASE("malformed Stripe-Signature headers are rejected, never accepted") {
  const std::string good = compute_signature(kSecret, kNow, kBody);
  CHECK(verify("") == SignatureCheck::missing_header);
  CHECK(verify("   ") == SignatureCheck::missing_header);
  CHECK(verify("v1=" + good) == SignatureCheck::malformed_header);                 // no t
  CHECK(verify("t=" + std::to_string(kNow)) == SignatureCheck::malformed_header);  // no v1
  CHECK(verify("t=,v1=" + good) == SignatureCheck::malformed_header);
  CHECK(verify("t=now,v1=" + good) == SignatureCheck::malformed_header);
  CHECK(verify("t=1767225635x,v1=" + good) == SignatureCheck::malformed_header);
  CHECK(verify("t=-1767225635,v1=" + good) == SignatureCheck::malformed_header);
  CHECK(verify("t=99999999999999999999999,v1=" + good) == SignatureCheck::malformed_header);
  CHECK(verify("garbage") == SignatureCheck::malformed_header);
  CHECK(verify(",,,=,==") == SignatureCheck::malformed_header);
  CHECK(verify("t=" + std::to_string(kNow) + ";v1=" + good) == SignatureCheck::malformed_header);
}

TEST_CASE("a v1 value of the wrong length or alphabet is a mismatch, not an error") {
  const std::string good = compute_signature(kSecret, kNow, kBody);
  CHECK(verify(header_for(kNow, good.substr(0, 63))) == SignatureCheck::mismatch);
  CHECK(verify(header_for(kNow, good + "0")) == SignatureCheck::mismatch);
  CHECK(verify(header_for(kNow, "")) == SignatureCheck::mismatch);
  CHECK(verify(header_for(kNow, std::string(64, 'g'))) == SignatureCheck::mismatch);
}

TEST_CASE("changing one byte of the body or the timestamp breaks the signature") {
  const std::string header = sign_header(kSecret, kNow, kBody);
  for (std::size_t i : {std::size_t{0}, kBody.size() / 2, kBody.size() - 1}) {
    std::string tampered = kBody;
    tampered[i] = static_cast<char>(tampered[i] ^ 0x01);
    INFO("byte " << i);
    CHECK(verify(header, tampered) == SignatureCheck::mismatch);
  }
  CHECK(verify(header, kBody + " ") == SignatureCheck::mismatch);
  CHECK(verify(header, kBody.substr(1)) == SignatureCheck::mismatch);
  const std::string good = compute_signature(kSecret, kNow, kBody);
  CHECK(verify(header_for(kNow - 1, good)) == SignatureCheck::mismatch);
}

TEST_CASE("fixture signatures computed with the openssl CLI match compute_signature") {
  const auto cases = read_signature_cases();
  REQUIRE(cases.size() >= 4);
  for (const auto& c : cases) {
    INFO(c.file << " t=" << c.timestamp);
    const std::string body = read_fixture_bytes(c.file);
    REQUIRE_FALSE(body.empty());
    CHECK(compute_signature(c.secret, c.timestamp, body) == c.expected);
    CHECK(verify_signature(header_for(c.timestamp, c.expected), body, {kOtherSecret, c.secret},
                           c.timestamp + 10, kTolerance) == SignatureCheck::valid);
    CHECK(verify_signature(header_for(c.timestamp, c.expected), body, {kOtherSecret},
                           c.timestamp, kTolerance) == SignatureCheck::mismatch);
  }
}
