// The request being served on this thread (cpp-httplib serves a request start to finish on
// one worker thread): its id, route label and start time. Log lines read the id from here, so
// every line written while serving a request carries its X-Request-Id.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace donatio::http {

struct RequestScope {
  std::string request_id;
  std::string route;
  std::chrono::steady_clock::time_point start;
  bool metrics_recorded = false;  // routed requests record before the answer is written
};

RequestScope& current_request();

// Installs the spdlog pattern: text ("… [req=ID] msg") or JSON lines when `json` is true.
void init_logging(const std::string& level, bool json);

// `bytes` random bytes (from OpenSSL's CSPRNG) as 2 × bytes hex characters. For secrets
// (tokens, keys): every call asks OpenSSL.
std::string random_hex(std::size_t bytes);

// The same for identifiers that must be unguessable but are not secrets (request ids, record
// ids): the bytes come from the CSPRNG in blocks of 512, kept per thread, so a busy path pays
// one RAND_bytes call per 32 ids instead of one each (RAND_bytes was 6 % of the webhook
// writer's time).
std::string id_hex(std::size_t bytes);

// A 28-hex-character record id that sorts by creation: the second (8 hex digits, until 2106),
// a per-process sequence number (4), then 8 random bytes. Rows inserted together land next to
// each other at the end of an index on the id instead of on a random page each, so a busy
// writer dirties (and writes to the WAL) far fewer pages; 64 random bits keep ids unguessable.
std::string time_ordered_hex(std::int64_t unix_seconds);

}  // namespace donatio::http
