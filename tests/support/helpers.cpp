#include "support/helpers.hpp"

#include <catch2/catch.hpp>

#include "donatio/clock.hpp"

namespace donatio::testing {

std::int64_t at(const char* iso) {
  std::int64_t t = 0;
  REQUIRE(parse_iso8601(iso, t));
  return t;
}

std::string decode_base64(const std::string& text) {
  auto value = [](char ch) -> int {
    if (ch >= 'A' && ch <= 'Z') return ch - 'A';
    if (ch >= 'a' && ch <= 'z') return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9') return ch - '0' + 52;
    if (ch == '+') return 62;
    if (ch == '/') return 63;
    return -1;
  };
  std::string out;
  std::uint32_t bits = 0;
  int count = 0;
  for (char ch : text) {
    const int v = value(ch);
    if (v < 0) continue;  // CR, LF, '=' padding
    bits = (bits << 6) | static_cast<std::uint32_t>(v);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out.push_back(static_cast<char>((bits >> count) & 0xff));
    }
  }
  return out;
}

std::string decode_quoted_printable(const std::string& text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '=') {
      out.push_back(text[i]);
    } else if (text.compare(i + 1, 2, "\r\n") == 0) {
      i += 2;  // soft line break
    } else if (i + 2 < text.size()) {
      out.push_back(static_cast<char>(std::stoi(text.substr(i + 1, 2), nullptr, 16)));
      i += 2;
    }
  }
  return out;
}

nlohmann::json get_json(ServiceFixture& fx, const std::string& token, const std::string& path, int status) {
  auto res = fx.client().Get(path.c_str(), bearer(token));
  REQUIRE(res);
  INFO(path << " -> " << res->body);
  REQUIRE(res->status == status);
  return nlohmann::json::parse(res->body);
}

std::vector<nlohmann::json> walk_pages(ServiceFixture& fx, const std::string& token, const std::string& path) {
  std::vector<nlohmann::json> pages;
  std::string cursor;
  for (;;) {
    REQUIRE(pages.size() < 100);
    auto page = get_json(fx, token, path + (cursor.empty() ? "" : "&cursor=" + cursor), 200);
    pages.push_back(page["data"]);
    if (page["next_cursor"].is_null()) return pages;
    cursor = page["next_cursor"].get<std::string>();
  }
}

}  // namespace donatio::testing
