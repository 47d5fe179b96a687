// The request being served on this thread (cpp-httplib serves a request start to finish on
// one worker thread): its id, route label and start time. Log lines read the id from here, so
// every line written while serving a request carries its X-Request-Id.
#pragma once

#include <chrono>
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

// 16 random bytes as 32 hex characters.
std::string random_hex(std::size_t bytes);

}  // namespace donatio::http
