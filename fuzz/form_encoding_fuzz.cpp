// Fuzzes the Stripe form encoder/decoder (src/stripe/form_encoding.hpp):
//   1. decode_form on arbitrary bytes never crashes, and what it decodes survives
//      encode_form + decode_form unchanged;
//   2. round trip: decode_form(encode_form(fields)) == fields for fields built from the input
//      (names, sub-keys and values of any bytes, including '&', '=', '[', ']', '%', '+');
//   3. percent_decode(percent_encode(s)) == s, and percent_encode only emits unreserved bytes
//      and %XX.
// A field with an empty name and sub-keys encodes to "[k]=v", which decode_form rejects by
// contract; it is checked only in strict mode (see fuzz/regressions/form_encoding/).
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz/fuzz_support.hpp"
#include "src/stripe/form_encoding.hpp"

using donatio::stripe::FormField;
using donatio::stripe::decode_form;
using donatio::stripe::encode_form;
using donatio::stripe::percent_decode;
using donatio::stripe::percent_encode;

namespace {

bool is_wire_byte(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~' || c == '%';
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string raw(reinterpret_cast<const char*>(data), size);

  // 1. Arbitrary text through the decoder.
  if (const auto decoded = decode_form(raw)) {
    const auto again = decode_form(encode_form(*decoded));
    DONATIO_FUZZ_CHECK(again.has_value() && *again == *decoded);
  }
  (void)percent_decode(raw, false);

  // 2. Fields derived from the input.
  FuzzedDataProvider in(data, size);
  std::vector<FormField> fields;
  bool has_unnamed_nested = false;
  const std::size_t count = in.ConsumeIntegralInRange<std::size_t>(0, 8);
  for (std::size_t i = 0; i < count && in.remaining_bytes() > 0; ++i) {
    FormField field;
    field.name = in.ConsumeRandomLengthString(32);
    const std::size_t subkeys = in.ConsumeIntegralInRange<std::size_t>(0, 3);
    for (std::size_t k = 0; k < subkeys; ++k) field.subkeys.push_back(in.ConsumeRandomLengthString(32));
    field.value = in.ConsumeRandomLengthString(128);
    has_unnamed_nested |= field.name.empty() && !field.subkeys.empty();
    fields.push_back(std::move(field));
  }
  const std::string encoded = encode_form(fields);
  for (const char c : encoded) {
    DONATIO_FUZZ_CHECK(is_wire_byte(c) || c == '[' || c == ']' || c == '=' || c == '&');
  }
  const auto round_trip = decode_form(encoded);
  if (!has_unnamed_nested || donatio::fuzz::strict_mode()) {
    DONATIO_FUZZ_CHECK(round_trip.has_value());
    DONATIO_FUZZ_CHECK(*round_trip == fields);
  }

  // 3. percent_encode / percent_decode on the raw bytes.
  const std::string escaped = percent_encode(raw);
  for (const char c : escaped) DONATIO_FUZZ_CHECK(is_wire_byte(c));
  const auto unescaped = percent_decode(escaped);
  DONATIO_FUZZ_CHECK(unescaped.has_value() && *unescaped == raw);
  const auto unescaped_no_plus = percent_decode(escaped, false);
  DONATIO_FUZZ_CHECK(unescaped_no_plus.has_value() && *unescaped_no_plus == raw);
  return 0;
}
