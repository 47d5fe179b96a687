#include "src/http/json_body.hpp"

#include "donatio/clock.hpp"

namespace donatio::http {

Result<nlohmann::json> parse_json_object(const std::string& body) {
  nlohmann::json doc = nlohmann::json::parse(body, nullptr, false);
  if (doc.is_discarded()) {
    return Status(StatusCode::invalid_argument, "invalid_json", "request body is not valid JSON");
  }
  if (!doc.is_object()) {
    return Status(StatusCode::invalid_argument, "invalid_json", "request body must be a JSON object");
  }
  return doc;
}

Status FieldReader::only(std::initializer_list<const char*> allowed) const {
  for (const auto& item : object_.items()) {
    bool known = false;
    for (const char* a : allowed) known |= item.key() == a;
    if (!known) {
      return Status(StatusCode::invalid_argument, "unknown_field", "unknown field '" + path(item.key().c_str()) + "'",
                    path(item.key().c_str()));
    }
  }
  return Status::Ok();
}

Status FieldReader::string(const char* name, std::string& out, bool required, std::size_t max_len,
                           std::size_t min_len) const {
  auto it = object_.find(name);
  if (it == object_.end() || it->is_null()) {
    return required ? Status(StatusCode::invalid_argument, "missing_field", path(name) + " is required", path(name))
                    : Status::Ok();
  }
  if (!it->is_string()) {
    return Status(StatusCode::invalid_argument, "invalid_type", path(name) + " must be a string", path(name));
  }
  const auto& value = it->get_ref<const std::string&>();
  if (value.size() < min_len || value.size() > max_len) {
    return Status(StatusCode::invalid_argument, "invalid_length",
                  path(name) + " must be " + std::to_string(min_len) + "-" + std::to_string(max_len) + " bytes long",
                  path(name));
  }
  out = value;
  return Status::Ok();
}

Status FieldReader::integer(const char* name, std::int64_t& out, bool required, std::int64_t min,
                            std::int64_t max) const {
  auto it = object_.find(name);
  if (it == object_.end() || it->is_null()) {
    return required ? Status(StatusCode::invalid_argument, "missing_field", path(name) + " is required", path(name))
                    : Status::Ok();
  }
  if (!it->is_number_integer()) {
    return Status(StatusCode::invalid_argument, "invalid_type",
                  path(name) + " must be an integer (minor units), not a " + std::string(it->type_name()), path(name));
  }
  std::int64_t value = 0;
  if (it->is_number_unsigned()) {
    const auto u = it->get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(INT64_MAX)) {
      return Status(StatusCode::invalid_argument, "out_of_range", path(name) + " is too large", path(name));
    }
    value = static_cast<std::int64_t>(u);
  } else {
    value = it->get<std::int64_t>();
  }
  if (value < min || value > max) {
    return Status(StatusCode::invalid_argument, "out_of_range",
                  path(name) + " must be between " + std::to_string(min) + " and " + std::to_string(max), path(name));
  }
  out = value;
  return Status::Ok();
}

Status FieldReader::boolean(const char* name, bool& out, bool required) const {
  auto it = object_.find(name);
  if (it == object_.end() || it->is_null()) {
    return required ? Status(StatusCode::invalid_argument, "missing_field", path(name) + " is required", path(name))
                    : Status::Ok();
  }
  if (!it->is_boolean()) {
    return Status(StatusCode::invalid_argument, "invalid_type", path(name) + " must be true or false", path(name));
  }
  out = it->get<bool>();
  return Status::Ok();
}

Status FieldReader::timestamp(const char* name, std::int64_t& out, bool required) const {
  std::string text;
  if (Status s = string(name, text, required, 64); !s.ok()) return s;
  if (text.empty() && !required) return Status::Ok();
  std::int64_t value = 0;
  if (!parse_iso8601(text, value)) {
    return Status(StatusCode::invalid_argument, "invalid_timestamp",
                  path(name) + " must be an ISO-8601 UTC timestamp like 2026-01-31T00:00:00Z", path(name));
  }
  out = value;
  return Status::Ok();
}

Status FieldReader::object(const char* name, const nlohmann::json*& out, bool required) const {
  auto it = object_.find(name);
  if (it == object_.end() || it->is_null()) {
    return required ? Status(StatusCode::invalid_argument, "missing_field", path(name) + " is required", path(name))
                    : Status::Ok();
  }
  if (!it->is_object()) {
    return Status(StatusCode::invalid_argument, "invalid_type", path(name) + " must be an object", path(name));
  }
  out = &*it;
  return Status::Ok();
}

}  // namespace donatio::http
