#include "src/http/errors.hpp"

#include <nlohmann/json.hpp>

namespace donatio::http {

int http_status_for(StatusCode code) {
  switch (code) {
    case StatusCode::ok: return 200;
    case StatusCode::invalid_argument: return 400;
    case StatusCode::unauthenticated: return 401;
    case StatusCode::permission_denied: return 403;
    case StatusCode::not_found: return 404;
    case StatusCode::conflict: return 409;
    case StatusCode::payload_too_large: return 413;
    case StatusCode::unsupported_media: return 415;
    case StatusCode::failed_precondition: return 422;
    case StatusCode::rate_limited: return 429;
    case StatusCode::provider_rejected: return 502;
    case StatusCode::provider_unavailable: return 503;
    case StatusCode::provider_timeout: return 504;
    case StatusCode::unavailable: return 503;
    case StatusCode::internal: return 500;
  }
  return 500;
}

std::string error_json(const Status& status) {
  nlohmann::json error{{"code", status.error_code().empty() ? "error" : status.error_code()},
                       {"message", status.message()}};
  if (!status.field().empty()) error["field"] = status.field();
  return nlohmann::json{{"error", std::move(error)}}.dump(-1, ' ', false,
                                                            nlohmann::json::error_handler_t::replace);
}

void send_error(httplib::Response& res, const Status& status) {
  send_json(res, http_status_for(status.code()), error_json(status));
}

void send_json(httplib::Response& res, int status, const std::string& body) {
  res.status = status;
  res.set_content(body, "application/json; charset=utf-8");
}

}  // namespace donatio::http
