// ISO-4217 exponents and human formatting of Money.
#include "donatio/money.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <limits>

namespace donatio {
namespace {

struct CurrencyInfo {
  const char* code;
  int exponent;
};

// ISO-4217 active codes (sorted) with their minor-unit exponent.
constexpr std::array<CurrencyInfo, 158> kCurrencies{{
    {"AED", 2}, {"AFN", 2}, {"ALL", 2}, {"AMD", 2}, {"ANG", 2}, {"AOA", 2}, {"ARS", 2}, {"AUD", 2},
    {"AWG", 2}, {"AZN", 2}, {"BAM", 2}, {"BBD", 2}, {"BDT", 2}, {"BGN", 2}, {"BHD", 3}, {"BIF", 0},
    {"BMD", 2}, {"BND", 2}, {"BOB", 2}, {"BRL", 2}, {"BSD", 2}, {"BTN", 2}, {"BWP", 2}, {"BYN", 2},
    {"BZD", 2}, {"CAD", 2}, {"CDF", 2}, {"CHF", 2}, {"CLP", 0}, {"CNY", 2}, {"COP", 2}, {"CRC", 2},
    {"CUP", 2}, {"CVE", 2}, {"CZK", 2}, {"DJF", 0}, {"DKK", 2}, {"DOP", 2}, {"DZD", 2}, {"EGP", 2},
    {"ERN", 2}, {"ETB", 2}, {"EUR", 2}, {"FJD", 2}, {"FKP", 2}, {"GBP", 2}, {"GEL", 2}, {"GHS", 2},
    {"GIP", 2}, {"GMD", 2}, {"GNF", 0}, {"GTQ", 2}, {"GYD", 2}, {"HKD", 2}, {"HNL", 2}, {"HTG", 2},
    {"HUF", 2}, {"IDR", 2}, {"ILS", 2}, {"INR", 2}, {"IQD", 3}, {"IRR", 2}, {"ISK", 0}, {"JMD", 2},
    {"JOD", 3}, {"JPY", 0}, {"KES", 2}, {"KGS", 2}, {"KHR", 2}, {"KMF", 0}, {"KPW", 2}, {"KRW", 0},
    {"KWD", 3}, {"KYD", 2}, {"KZT", 2}, {"LAK", 2}, {"LBP", 2}, {"LKR", 2}, {"LRD", 2}, {"LSL", 2},
    {"LYD", 3}, {"MAD", 2}, {"MDL", 2}, {"MGA", 2}, {"MKD", 2}, {"MMK", 2}, {"MNT", 2}, {"MOP", 2},
    {"MRU", 2}, {"MUR", 2}, {"MVR", 2}, {"MWK", 2}, {"MXN", 2}, {"MYR", 2}, {"MZN", 2}, {"NAD", 2},
    {"NGN", 2}, {"NIO", 2}, {"NOK", 2}, {"NPR", 2}, {"NZD", 2}, {"OMR", 3}, {"PAB", 2}, {"PEN", 2},
    {"PGK", 2}, {"PHP", 2}, {"PKR", 2}, {"PLN", 2}, {"PYG", 0}, {"QAR", 2}, {"RON", 2}, {"RSD", 2},
    {"RUB", 2}, {"RWF", 0}, {"SAR", 2}, {"SBD", 2}, {"SCR", 2}, {"SDG", 2}, {"SEK", 2}, {"SGD", 2},
    {"SHP", 2}, {"SLE", 2}, {"SOS", 2}, {"SRD", 2}, {"SSP", 2}, {"STN", 2}, {"SVC", 2}, {"SYP", 2},
    {"SZL", 2}, {"THB", 2}, {"TJS", 2}, {"TMT", 2}, {"TND", 3}, {"TOP", 2}, {"TRY", 2}, {"TTD", 2},
    {"TWD", 2}, {"TZS", 2}, {"UAH", 2}, {"UGX", 0}, {"USD", 2}, {"UYI", 0}, {"UYU", 2}, {"UZS", 2},
    {"VES", 2}, {"VND", 0}, {"VUV", 0}, {"WST", 2}, {"XAF", 0}, {"XCD", 2}, {"XOF", 0}, {"XPF", 0},
    {"YER", 2}, {"ZAR", 2}, {"ZMW", 2}, {"ZWL", 2}, {"CLF", 4}, {"UYW", 4},
}};

std::string to_upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::string upper_currency(std::string_view code) { return to_upper(code); }

std::string lower_currency(std::string_view code) {
  std::string out(code);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::optional<int> currency_exponent(std::string_view code) {
  if (code.size() != 3) return std::nullopt;
  const std::string upper = to_upper(code);
  for (const auto& info : kCurrencies) {
    if (upper == info.code) return info.exponent;
  }
  return std::nullopt;
}

bool is_known_currency(std::string_view code) { return currency_exponent(code).has_value(); }

std::string format_major(std::int64_t amount_minor, std::string_view currency) {
  const int exponent = currency_exponent(currency).value_or(2);
  const bool negative = amount_minor < 0;
  // Work in unsigned to survive INT64_MIN.
  std::uint64_t magnitude = negative ? (~static_cast<std::uint64_t>(amount_minor) + 1)
                                     : static_cast<std::uint64_t>(amount_minor);
  std::string digits = std::to_string(magnitude);
  if (exponent > 0) {
    if (digits.size() <= static_cast<std::size_t>(exponent)) {
      digits.insert(0, static_cast<std::size_t>(exponent) + 1 - digits.size(), '0');
    }
    digits.insert(digits.size() - static_cast<std::size_t>(exponent), 1, '.');
  }
  return negative ? "-" + digits : digits;
}

std::string format_money(const Money& money) {
  return to_upper(money.currency) + " " + format_major(money.amount_minor, money.currency);
}

std::optional<std::int64_t> parse_major(std::string_view text, std::string_view currency) {
  const auto exponent = currency_exponent(currency);
  if (!exponent || text.empty()) return std::nullopt;
  bool negative = false;
  if (text.front() == '-') {
    negative = true;
    text.remove_prefix(1);
  }
  const auto dot = text.find('.');
  std::string_view whole = text.substr(0, dot);
  std::string_view fraction = dot == std::string_view::npos ? std::string_view{} : text.substr(dot + 1);
  if (whole.empty() || (dot != std::string_view::npos && fraction.empty())) return std::nullopt;
  if (fraction.size() > static_cast<std::size_t>(*exponent)) return std::nullopt;
  constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
  std::int64_t value = 0;
  auto push_digit = [&](char c) {
    if (c < '0' || c > '9') return false;
    if (value > (kMax - (c - '0')) / 10) return false;
    value = value * 10 + (c - '0');
    return true;
  };
  for (char c : whole) if (!push_digit(c)) return std::nullopt;
  for (char c : fraction) if (!push_digit(c)) return std::nullopt;
  for (int i = static_cast<int>(fraction.size()); i < *exponent; ++i) {
    if (!push_digit('0')) return std::nullopt;
  }
  return negative ? -value : value;
}

std::optional<Money> add(const Money& a, const Money& b) {
  if (to_upper(a.currency) != to_upper(b.currency)) return std::nullopt;
  std::int64_t sum = 0;
  if (__builtin_add_overflow(a.amount_minor, b.amount_minor, &sum)) return std::nullopt;
  return Money{sum, to_upper(a.currency)};
}

std::int64_t stripe_minimum_charge(std::string_view currency) {
  // Stripe's documented minimum charge amounts (minor units); 50 for unlisted currencies is
  // a conservative floor that Stripe accepts for most two-decimal currencies.
  static const std::array<std::pair<const char*, std::int64_t>, 24> kMinimums{{
      {"USD", 50}, {"AED", 200}, {"AUD", 50}, {"BGN", 100}, {"BRL", 50}, {"CAD", 50},
      {"CHF", 50}, {"CZK", 1500}, {"DKK", 250}, {"EUR", 50}, {"GBP", 30}, {"HKD", 400},
      {"HUF", 17500}, {"INR", 50}, {"JPY", 50}, {"MXN", 1000}, {"MYR", 200}, {"NOK", 300},
      {"NZD", 50}, {"PLN", 200}, {"RON", 200}, {"SEK", 300}, {"SGD", 50}, {"THB", 1000},
  }};
  const std::string upper = to_upper(currency);
  for (const auto& [code, minimum] : kMinimums) {
    if (upper == code) return minimum;
  }
  const int exponent = currency_exponent(upper).value_or(2);
  return exponent == 0 ? 50 : (exponent == 3 ? 500 : 50);
}

}  // namespace donatio
