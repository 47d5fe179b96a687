// Bearer-token authentication and role checks for the admin API.
#include <httplib.h>
#include <spdlog/spdlog.h>

#include "src/http/context.hpp"
#include "src/http/errors.hpp"

namespace donatio::http {

std::optional<Principal> require_role(ServiceContext& ctx, const httplib::Request& req, httplib::Response& res,
                                      const char* role) {
  const std::int64_t now_ms = ctx.clock.now_unix_ms();
  if (!ctx.auth_failures.would_allow(req.remote_addr, now_ms)) {
    res.set_header("Retry-After", "60");
    send_error(res, Status(StatusCode::rate_limited, "too_many_failed_logins",
                           "too many failed authentication attempts; try again later"));
    return std::nullopt;
  }
  const std::string header = req.get_header_value("Authorization");
  static constexpr std::string_view kBearer = "Bearer ";
  if (header.size() <= kBearer.size() || header.compare(0, kBearer.size(), kBearer) != 0) {
    res.set_header("WWW-Authenticate", "Bearer");
    send_error(res, Status(StatusCode::unauthenticated, "unauthenticated", "an admin token is required (Authorization: Bearer …)"));
    return std::nullopt;
  }
  auto token = ctx.tokens.authenticate(std::string_view(header).substr(kBearer.size()));
  if (!token.ok()) {
    if (token.status().code() != StatusCode::not_found) {
      send_error(res, token.status());
      return std::nullopt;
    }
    ctx.auth_failures.try_acquire(req.remote_addr, now_ms);
    ctx.metrics.increment("donatio_admin_auth_failures_total");
    res.set_header("WWW-Authenticate", "Bearer error=\"invalid_token\"");
    send_error(res, Status(StatusCode::unauthenticated, "invalid_token", "the token is unknown or revoked"));
    return std::nullopt;
  }
  if (!store::role_allows(token->role, role)) {
    send_error(res, Status(StatusCode::permission_denied, "forbidden",
                           std::string("this action needs the ") + role + " role"));
    return std::nullopt;
  }
  return Principal{token->name, token->role};
}

}  // namespace donatio::http
