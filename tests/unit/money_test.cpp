#include <catch2/catch.hpp>

#include "donatio/money.hpp"

using namespace donatio;

TEST_CASE("currency exponents know zero- and three-decimal currencies") {
  CHECK(currency_exponent("CHF") == 2);
  CHECK(currency_exponent("jpy") == 0);
  CHECK(currency_exponent("KRW") == 0);
  CHECK(currency_exponent("BHD") == 3);
  CHECK(currency_exponent("KWD") == 3);
  CHECK_FALSE(currency_exponent("XYZ").has_value());
  CHECK_FALSE(currency_exponent("EURO").has_value());
}

TEST_CASE("amounts are formatted in the currency's own major units") {
  CHECK(format_money({5000, "CHF"}) == "CHF 50.00");
  CHECK(format_money({5000, "JPY"}) == "JPY 5000");
  CHECK(format_money({1250, "BHD"}) == "BHD 1.250");
  CHECK(format_major(5, "EUR") == "0.05");
  CHECK(format_major(-5, "EUR") == "-0.05");
  CHECK(format_major(0, "USD") == "0.00");
  CHECK(format_major(INT64_MIN, "USD") == "-92233720368547758.08");
}

TEST_CASE("major-unit text parses into minor units without floating point") {
  CHECK(parse_major("50.00", "CHF") == 5000);
  CHECK(parse_major("50", "CHF") == 5000);
  CHECK(parse_major("1.25", "BHD") == 1250);
  CHECK(parse_major("5000", "JPY") == 5000);
  CHECK_FALSE(parse_major("50.5", "JPY").has_value());
  CHECK_FALSE(parse_major("1.234", "EUR").has_value());
  CHECK_FALSE(parse_major("1e3", "EUR").has_value());
  CHECK_FALSE(parse_major("99999999999999999999", "EUR").has_value());
}

TEST_CASE("adding two currencies is an error, not a sum") {
  CHECK(add({100, "CHF"}, {50, "chf"}) == Money{150, "CHF"});
  CHECK_FALSE(add({100, "CHF"}, {50, "EUR"}).has_value());
  CHECK_FALSE(add({INT64_MAX, "CHF"}, {1, "CHF"}).has_value());
}

TEST_CASE("Stripe minimum charge amounts per currency") {
  CHECK(stripe_minimum_charge("USD") == 50);
  CHECK(stripe_minimum_charge("gbp") == 30);
  CHECK(stripe_minimum_charge("JPY") == 50);
}
