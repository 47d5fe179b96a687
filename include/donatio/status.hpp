// Status and Result<T>: errors as values at every port boundary.
// A Status names what went wrong in domain terms (not HTTP); src/http/errors.cpp maps
// each code to an HTTP status. Value types, no shared state: safe to copy across threads.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace donatio {

enum class StatusCode {
  ok,
  invalid_argument,      // bad input: 400
  unauthenticated,       // no or bad credentials: 401
  permission_denied,     // wrong role: 403
  not_found,             // 404
  conflict,              // already exists / idempotency mismatch: 409
  payload_too_large,     // 413
  unsupported_media,     // 415
  failed_precondition,   // valid input breaking a business rule: 422
  rate_limited,          // 429
  provider_rejected,     // the payment provider said no: 502
  provider_unavailable,  // the provider could not be reached / 5xx after retries: 503
  provider_timeout,      // the provider did not answer in time; outcome unknown: 504
  unavailable,           // our database is unavailable: 503
  internal,              // a bug: 500
};

class Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string error_code, std::string message, std::string field = {})
      : code_(code), error_code_(std::move(error_code)), message_(std::move(message)),
        field_(std::move(field)) {}

  static Status Ok() { return {}; }
  static Status InvalidArgument(std::string field, std::string message,
                                std::string error_code = "invalid_field") {
    return {StatusCode::invalid_argument, std::move(error_code), std::move(message), std::move(field)};
  }
  static Status NotFound(std::string message, std::string error_code = "not_found") {
    return {StatusCode::not_found, std::move(error_code), std::move(message)};
  }
  static Status Conflict(std::string message, std::string error_code = "conflict",
                         std::string field = {}) {
    return {StatusCode::conflict, std::move(error_code), std::move(message), std::move(field)};
  }
  static Status Unprocessable(std::string error_code, std::string message, std::string field = {}) {
    return {StatusCode::failed_precondition, std::move(error_code), std::move(message), std::move(field)};
  }
  static Status Unavailable(std::string message) {
    return {StatusCode::unavailable, "database_unavailable", std::move(message)};
  }
  static Status Internal(std::string message) {
    return {StatusCode::internal, "internal_error", std::move(message)};
  }

  bool ok() const { return code_ == StatusCode::ok; }
  StatusCode code() const { return code_; }
  // snake_case machine-readable code for clients, e.g. "campaign_not_found".
  const std::string& error_code() const { return error_code_; }
  // Human-readable; never contains a secret.
  const std::string& message() const { return message_; }
  // The offending input field, dotted ("donor.email"), or empty.
  const std::string& field() const { return field_; }

 private:
  StatusCode code_ = StatusCode::ok;
  std::string error_code_;
  std::string message_;
  std::string field_;
};

// Either a value or a non-ok Status.
template <typename T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}          // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {}  // NOLINT: implicit by design

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() { return *value_; }
  const T& operator*() const { return *value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace donatio
