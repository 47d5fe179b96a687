// Small helpers shared by the test files (one definition each, so the tests also build as a
// unity build).
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "support/service_fixture.hpp"

namespace donatio::testing {

inline bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// Polls `pred` every 20 ms until it holds or `timeout` passes; returns its last answer.
template <typename Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return pred();
}

// The Unix time of an ISO 8601 date-time (the test fails when it does not parse).
std::int64_t at(const char* iso);

// Base64 (CR, LF and padding skipped) and quoted-printable (soft line breaks joined) decoders
// for the MIME parts the SMTP sink captured.
std::string decode_base64(const std::string& text);
std::string decode_quoted_printable(const std::string& text);

// GET `path` with the bearer token; requires the status and returns the parsed body.
nlohmann::json get_json(ServiceFixture& fx, const std::string& token, const std::string& path, int status);

// Walks a keyset-paged list: GETs `path` (with its query, e.g. "/v1/admin/audit?limit=2"), then
// `&cursor=<next_cursor>` until next_cursor is null. Returns each page's "data", in order; fails
// the test after 100 pages.
std::vector<nlohmann::json> walk_pages(ServiceFixture& fx, const std::string& token, const std::string& path);

}  // namespace donatio::testing
