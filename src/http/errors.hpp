// The one place where a domain Status becomes an HTTP answer:
// {"error":{"code":"snake_case","message":"…","field":"…"}} with the status of DESIGN.md.
#pragma once

#include <httplib.h>

#include "donatio/status.hpp"

namespace donatio::http {

int http_status_for(StatusCode code);
std::string error_json(const Status& status);
void send_error(httplib::Response& res, const Status& status);
// Writes `body` (already-serialised JSON) with the given status.
void send_json(httplib::Response& res, int status, const std::string& body);

}  // namespace donatio::http
