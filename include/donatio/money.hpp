// Money: an integer count of a currency's minor unit plus its ISO-4217 code. Never a float.
// Knows each currency's exponent (2 for most, 0 for JPY/KRW/…, 3 for BHD/KWD/…) and formats
// amounts for humans only at the edge (CSV, receipts). Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace donatio {

struct Money {
  std::int64_t amount_minor = 0;
  std::string currency;  // upper-case ISO-4217, e.g. "CHF"
  friend bool operator==(const Money&, const Money&) = default;
};

// The number of decimal digits of the currency's minor unit, or nullopt when the code is not
// an ISO-4217 currency we know. Accepts upper or lower case.
std::optional<int> currency_exponent(std::string_view code);

// True when `code` is a known ISO-4217 code (any case).
bool is_known_currency(std::string_view code);

// "chf" -> "CHF"; Stripe speaks lower case, we store upper case.
std::string upper_currency(std::string_view code);
std::string lower_currency(std::string_view code);

// Major units with the currency's exponent, no symbol, '.' separator: 5000 CHF -> "50.00",
// 5000 JPY -> "5000", 1250 BHD -> "1.250", -5 EUR -> "-0.05". REQUIRES: known currency.
std::string format_major(std::int64_t amount_minor, std::string_view currency);

// For humans: "CHF 50.00", "JPY 5000", "BHD 1.250".
std::string format_money(const Money& money);

// Parses "50.00" in the currency's major units into minor units; nullopt on bad syntax,
// too many decimals or overflow.
std::optional<std::int64_t> parse_major(std::string_view text, std::string_view currency);

// Sum of two amounts of the same currency; nullopt when currencies differ or on overflow.
std::optional<Money> add(const Money& a, const Money& b);

// Stripe's minimum charge amount in minor units for a currency (e.g. USD 50, GBP 30, JPY 50).
std::int64_t stripe_minimum_charge(std::string_view currency);

}  // namespace donatio
