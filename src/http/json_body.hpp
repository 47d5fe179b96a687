// Strict reading of JSON request bodies: the body must be an object, every field has the
// expected JSON type (an amount is an integer, never a float or a string), unknown fields are
// rejected, and every error names its field ("donor.email").
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>

#include "donatio/status.hpp"

namespace donatio::http {

// 400 invalid_json when the text is not JSON or not an object.
Result<nlohmann::json> parse_json_object(const std::string& body);

class FieldReader {
 public:
  FieldReader(const nlohmann::json& object, std::string prefix = {}) : object_(object), prefix_(std::move(prefix)) {}

  Status only(std::initializer_list<const char*> allowed) const;
  bool has(const char* name) const { return object_.contains(name); }
  bool is_null(const char* name) const { return object_.contains(name) && object_.at(name).is_null(); }

  Status string(const char* name, std::string& out, bool required, std::size_t max_len, std::size_t min_len = 0) const;
  Status integer(const char* name, std::int64_t& out, bool required, std::int64_t min, std::int64_t max) const;
  Status boolean(const char* name, bool& out, bool required) const;
  // An ISO-8601 timestamp string.
  Status timestamp(const char* name, std::int64_t& out, bool required) const;
  // A nested object; `out` points into the document.
  Status object(const char* name, const nlohmann::json*& out, bool required) const;

  std::string path(const char* name) const { return prefix_.empty() ? name : prefix_ + "." + name; }

 private:
  const nlohmann::json& object_;
  std::string prefix_;
};

}  // namespace donatio::http
