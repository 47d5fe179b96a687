// CSV for finance exports: RFC 4180 quoting, CRLF, formula-injection neutralisation, major units.
#include <catch2/catch.hpp>

#include "src/reports/csv.hpp"

using namespace donatio::reports;

TEST_CASE("csv cells with a comma, quote, CR or LF are quoted and inner quotes doubled") {
  CHECK(csv_text("plain") == "plain");
  CHECK(csv_text("") == "");
  CHECK(csv_text("a,b") == "\"a,b\"");
  CHECK(csv_text("say \"hi\"") == "\"say \"\"hi\"\"\"");
  CHECK(csv_text("line1\nline2") == "\"line1\nline2\"");
  CHECK(csv_text("a\rb") == "\"a\rb\"");
}

TEST_CASE("csv text cells that a spreadsheet would run as a formula get a leading quote") {
  CHECK(csv_text("=SUM(A1:A9)") == "'=SUM(A1:A9)");
  CHECK(csv_text("+41 44 000 00 00") == "'+41 44 000 00 00");
  CHECK(csv_text("-2+3") == "'-2+3");
  CHECK(csv_text("@SUM(1)") == "'@SUM(1)");
  CHECK(csv_text("\tx") == "'\tx");
  CHECK(csv_text("\rx") == "\"'\rx\"");  // neutralised, then quoted for the CR
  CHECK(csv_text("=HYPERLINK(\"http://evil\",\"x\")") == "\"'=HYPERLINK(\"\"http://evil\"\",\"\"x\"\")\"");
  CHECK(csv_text("a=b") == "a=b");  // only the first character matters
  CHECK(starts_like_formula("=1"));
  CHECK_FALSE(starts_like_formula("1="));
}

TEST_CASE("csv numbers we format ourselves keep their minus sign") {
  CHECK(csv_number("-0.05") == "-0.05");
  CHECK(csv_number("12.50") == "12.50");
}

TEST_CASE("csv lines end with CRLF and parse back to the same cells") {
  std::string out;
  append_csv_line(out, {csv_text("id"), csv_text("note")});
  append_csv_line(out, {csv_text("d1"), csv_text("a,\"b\"\r\nc")});
  append_csv_line(out, {csv_text(""), csv_text("=1+1")});
  CHECK(out.substr(0, 9) == "id,note\r\n");
  auto rows = parse_csv(out);
  REQUIRE(rows.size() == 3);
  CHECK(rows[1] == std::vector<std::string>{"d1", "a,\"b\"\r\nc"});
  CHECK(rows[2] == std::vector<std::string>{"", "'=1+1"});
}

TEST_CASE("csv amounts are major units with the currency's exponent") {
  CHECK(major_units(5000, "CHF") == "50.00");
  CHECK(major_units(5000, "JPY") == "5000");
  CHECK(major_units(1250, "BHD") == "1.250");
  CHECK(major_units(-5, "EUR") == "-0.05");
  CHECK(major_units(123, "XXZ") == "123");  // unknown code: minor units, no guessed exponent
}
