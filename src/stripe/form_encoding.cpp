#include "src/stripe/form_encoding.hpp"

#include <utility>

namespace donatio::stripe {
namespace {

bool is_unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Splits a raw (still encoded) name into its base and bracketed sub-keys, then decodes each.
bool decode_name(std::string_view raw, FormField& field) {
  const auto open = raw.find('[');
  const auto base = raw.substr(0, open);
  if (base.find(']') != std::string_view::npos) return false;
  auto name = percent_decode(base);
  if (!name) return false;
  if (open != std::string_view::npos && base.empty()) return false;  // "[x]=1": no name
  field.name = std::move(*name);
  field.subkeys.clear();
  std::size_t pos = open;
  while (pos != std::string_view::npos && pos < raw.size()) {
    if (raw[pos] != '[') return false;  // text between or after bracket groups
    const auto close = raw.find(']', pos + 1);
    if (close == std::string_view::npos) return false;
    const auto inner = raw.substr(pos + 1, close - pos - 1);
    if (inner.find('[') != std::string_view::npos) return false;
    auto subkey = percent_decode(inner);
    if (!subkey) return false;
    field.subkeys.push_back(std::move(*subkey));
    pos = close + 1;
  }
  return true;
}

}  // namespace

FormParams& FormParams::add(std::string name, std::string value) {
  fields_.push_back({std::move(name), {}, std::move(value)});
  return *this;
}

FormParams& FormParams::add(std::string name, std::int64_t value) {
  return add(std::move(name), std::to_string(value));
}

FormParams& FormParams::add_bool(std::string name, bool value) {
  return add(std::move(name), std::string(value ? "true" : "false"));
}

FormParams& FormParams::add_nested(std::string name, std::string subkey, std::string value) {
  fields_.push_back({std::move(name), {std::move(subkey)}, std::move(value)});
  return *this;
}

FormParams& FormParams::add_map(const std::string& name,
                                const std::map<std::string, std::string>& entries) {
  for (const auto& [key, value] : entries) add_nested(name, key, value);
  return *this;
}

FormParams& FormParams::add_list(const std::string& name, const std::vector<std::string>& values) {
  for (const auto& value : values) add_nested(name, "", value);
  return *this;
}

std::string FormParams::encode() const { return encode_form(fields_); }

std::string percent_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (is_unreserved(c)) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0x0F]);
    }
  }
  return out;
}

std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      const int hi = hex_value(text[i + 1]);
      const int lo = hex_value(text[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>((hi << 4) | lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string encode_form(const std::vector<FormField>& fields) {
  std::string out;
  for (const auto& field : fields) {
    if (!out.empty()) out.push_back('&');
    out += percent_encode(field.name);
    for (const auto& subkey : field.subkeys) {
      out.push_back('[');
      out += percent_encode(subkey);
      out.push_back(']');
    }
    out.push_back('=');
    out += percent_encode(field.value);
  }
  return out;
}

std::optional<std::vector<FormField>> decode_form(std::string_view encoded) {
  std::vector<FormField> fields;
  std::size_t start = 0;
  while (start <= encoded.size()) {
    auto end = encoded.find('&', start);
    if (end == std::string_view::npos) end = encoded.size();
    const auto segment = encoded.substr(start, end - start);
    start = end + 1;
    if (segment.empty()) continue;
    const auto eq = segment.find('=');
    FormField field;
    if (!decode_name(segment.substr(0, eq), field)) return std::nullopt;
    if (eq != std::string_view::npos) {
      auto value = percent_decode(segment.substr(eq + 1));
      if (!value) return std::nullopt;
      field.value = std::move(*value);
    }
    fields.push_back(std::move(field));
  }
  return fields;
}

std::string flat_name(const FormField& field) {
  std::string out = field.name;
  for (const auto& subkey : field.subkeys) {
    out.push_back('[');
    out += subkey;
    out.push_back(']');
  }
  return out;
}

}  // namespace donatio::stripe
