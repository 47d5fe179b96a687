// Form encoding: Stripe-style application/x-www-form-urlencoded bodies and query strings with
// nested parameters (`metadata[donation_id]=d_1`, `types[]=a&types[]=b`, `created[gte]=1`).
// Pure functions and a plain value type; safe to use from any thread.
//
// Wire format: every name and sub-key is percent-encoded with the RFC 3986 unreserved set
// (A-Z a-z 0-9 - . _ ~) left as is; a space becomes %20. The structural brackets of a nested
// key stay literal (Stripe accepts them and they keep logs readable); brackets inside a user
// supplied key (a metadata key "a[b]") are percent-encoded, so decoding is unambiguous.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace donatio::stripe {

// One name=value pair. `subkeys` are the bracketed parts after `name`, outermost first;
// an empty sub-key is the list marker `[]`. {name "metadata", subkeys {"campaign"}} is
// `metadata[campaign]`.
struct FormField {
  std::string name;
  std::vector<std::string> subkeys;
  std::string value;
  friend bool operator==(const FormField&, const FormField&) = default;
};

// Builds an ordered list of fields; order is kept on the wire.
class FormParams {
 public:
  FormParams& add(std::string name, std::string value);
  FormParams& add(std::string name, std::int64_t value);
  FormParams& add_bool(std::string name, bool value);
  // name[subkey]=value
  FormParams& add_nested(std::string name, std::string subkey, std::string value);
  // name[k]=v for each entry (in key order).
  FormParams& add_map(const std::string& name, const std::map<std::string, std::string>& entries);
  // name[]=v for each value, in order.
  FormParams& add_list(const std::string& name, const std::vector<std::string>& values);

  const std::vector<FormField>& fields() const { return fields_; }
  bool empty() const { return fields_.empty(); }
  // "a=1&metadata[k]=v" (no leading '?').
  std::string encode() const;

 private:
  std::vector<FormField> fields_;
};

// Percent-encodes everything outside the RFC 3986 unreserved set, bytes as %XX (upper case).
// UTF-8 text is encoded byte by byte.
std::string percent_encode(std::string_view text);

// Reverses percent_encode. `plus_is_space`: treat '+' as a space (form bodies).
// nullopt on a malformed escape ("%", "%4", "%zz").
std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space = true);

// Encodes fields in order as name[sub]...=value joined by '&'.
std::string encode_form(const std::vector<FormField>& fields);

// Parses a body or query string produced by encode_form (or by any form encoder). Empty
// segments ("a=1&&b=2") are skipped; a segment without '=' has an empty value. Only literal
// brackets in a name are structure; %5B/%5D decode to characters of a name or sub-key.
// nullopt on a malformed escape or malformed brackets ("a[b", "a]", "a[b]c", "[x]").
std::optional<std::vector<FormField>> decode_form(std::string_view encoded);

// The unencoded flat name of a field, e.g. "metadata[campaign]" or "types[]" (for tests/logs).
std::string flat_name(const FormField& field);

}  // namespace donatio::stripe
