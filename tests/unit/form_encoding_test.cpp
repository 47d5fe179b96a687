#include <catch2/catch.hpp>

#include "src/stripe/form_encoding.hpp"

using donatio::stripe::decode_form;
using donatio::stripe::encode_form;
using donatio::stripe::flat_name;
using donatio::stripe::FormField;
using donatio::stripe::FormParams;
using donatio::stripe::percent_decode;
using donatio::stripe::percent_encode;

TEST_CASE("form encoding keeps RFC 3986 unreserved characters and escapes everything else") {
  CHECK(percent_encode("AZaz09-._~") == "AZaz09-._~");
  CHECK(percent_encode("a b") == "a%20b");
  CHECK(percent_encode("a+b=c&d") == "a%2Bb%3Dc%26d");
  CHECK(percent_encode("[]/?#%") == "%5B%5D%2F%3F%23%25");
  CHECK(percent_encode("don@example.org") == "don%40example.org");
  CHECK(percent_encode("") == "");
}

TEST_CASE("form encoding escapes UTF-8 byte by byte in upper-case hex") {
  CHECK(percent_encode("Zürich") == "Z%C3%BCrich");
  CHECK(percent_encode("€") == "%E2%82%AC");
  CHECK(percent_encode("支援") == "%E6%94%AF%E6%8F%B4");
  CHECK(percent_decode("Z%c3%bcrich") == std::optional<std::string>("Zürich"));
}

TEST_CASE("form encoding writes nested Stripe parameters with literal brackets") {
  FormParams params;
  params.add("amount", std::int64_t{5000})
      .add("currency", "chf")
      .add_nested("automatic_payment_methods", "enabled", "true");
  params.add_map("metadata", {{"donation_id", "don_1"}, {"campaign", "flood relief"}});
  params.add_list("types", {"payment_intent.succeeded", "charge.refunded"});
  params.add_nested("created", "gte", "1767225600");
  CHECK(params.encode() ==
        "amount=5000&currency=chf&automatic_payment_methods[enabled]=true"
        "&metadata[campaign]=flood%20relief&metadata[donation_id]=don_1"
        "&types[]=payment_intent.succeeded&types[]=charge.refunded&created[gte]=1767225600");
}

TEST_CASE("form encoding escapes brackets pasted into a plain name instead of nesting") {
  FormParams params;
  params.add_bool("automatic_payment_methods[enabled]", true);
  CHECK(params.encode() == "automatic_payment_methods%5Benabled%5D=true");
}

TEST_CASE("form encoding escapes brackets and separators inside user supplied keys") {
  FormParams params;
  params.add_map("metadata", {{"a[b]", "x&y=z"}});
  CHECK(params.encode() == "metadata[a%5Bb%5D]=x%26y%3Dz");
  const auto decoded = decode_form(params.encode());
  REQUIRE(decoded.has_value());
  REQUIRE(decoded->size() == 1);
  CHECK(decoded->at(0).name == "metadata");
  CHECK(decoded->at(0).subkeys == std::vector<std::string>{"a[b]"});
  CHECK(decoded->at(0).value == "x&y=z");
}

TEST_CASE("form decoding reads nested keys, list markers, plus as space and empty values") {
  const auto decoded = decode_form("metadata[donation_id]=d+1&types[]=a&types[]=b&flag&&x=");
  REQUIRE(decoded.has_value());
  REQUIRE(decoded->size() == 5);
  CHECK(flat_name(decoded->at(0)) == "metadata[donation_id]");
  CHECK(decoded->at(0).value == "d 1");
  CHECK(flat_name(decoded->at(1)) == "types[]");
  CHECK(decoded->at(1).subkeys == std::vector<std::string>{""});
  CHECK(decoded->at(2).value == "b");
  CHECK(decoded->at(3).name == "flag");
  CHECK(decoded->at(3).value.empty());
  CHECK(decoded->at(4).name == "x");
  CHECK(decoded->at(4).value.empty());
}

TEST_CASE("form decoding reads several levels of nesting") {
  const auto decoded = decode_form("a[b][c]=1");
  REQUIRE(decoded.has_value());
  REQUIRE(decoded->size() == 1);
  CHECK(decoded->at(0).subkeys == std::vector<std::string>{"b", "c"});
}

TEST_CASE("form decoding rejects malformed escapes and brackets") {
  CHECK_FALSE(percent_decode("%").has_value());
  CHECK_FALSE(percent_decode("%4").has_value());
  CHECK_FALSE(percent_decode("abc%").has_value());
  CHECK_FALSE(percent_decode("%zz").has_value());
  CHECK_FALSE(decode_form("a=%G0").has_value());
  CHECK_FALSE(decode_form("a[b=1").has_value());
  CHECK_FALSE(decode_form("a]=1").has_value());
  CHECK_FALSE(decode_form("a[b]c=1").has_value());
  CHECK_FALSE(decode_form("a[[b]]=1").has_value());
  CHECK_FALSE(decode_form("[b]=1").has_value());
}

TEST_CASE("form decoding keeps '+' literal only when asked") {
  CHECK(percent_decode("a+b", false) == std::optional<std::string>("a+b"));
  CHECK(percent_decode("a+b", true) == std::optional<std::string>("a b"));
  CHECK(percent_decode("a%2Bb") == std::optional<std::string>("a+b"));
}

TEST_CASE("form encoding and decoding round trip arbitrary bytes") {
  std::string every_byte;
  for (int c = 0; c < 256; ++c) every_byte.push_back(static_cast<char>(c));
  const std::vector<FormField> fields = {
      {"amount", {}, "5000"},
      {"metadata", {"don or name"}, "Zoë & Łukasz = 100% 😀"},
      {"types", {""}, "payment_intent.succeeded"},
      {"weird name[", {"]", "[["}, every_byte},
      {every_byte, {every_byte}, ""},
  };
  const auto encoded = encode_form(fields);
  for (const char c : encoded) {
    const auto u = static_cast<unsigned char>(c);
    CHECK((u > 0x20 && u < 0x7F));  // pure printable ASCII on the wire
  }
  const auto decoded = decode_form(encoded);
  REQUIRE(decoded.has_value());
  CHECK(*decoded == fields);
}

TEST_CASE("form decoding of an empty string gives no fields") {
  const auto decoded = decode_form("");
  REQUIRE(decoded.has_value());
  CHECK(decoded->empty());
}
