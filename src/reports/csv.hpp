// CSV: RFC 4180 text for finance exports — comma separated, CRLF line ends, a cell is quoted
// when it holds a comma, a double quote, CR or LF, and quotes inside are doubled.
// Text cells are also neutralised against spreadsheet formula injection: a cell that begins
// with =, +, -, @, TAB or CR gets a single quote (') in front, so Excel/LibreOffice/Sheets show
// it as text instead of evaluating it. Numbers we format ourselves (amounts such as "-0.05")
// are written with csv_number and are never prefixed, so they stay numbers.
// Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace donatio::reports {

// The cell as it must appear in a CSV line: neutralised, then quoted when needed.
std::string csv_text(std::string_view cell);
// A number we produced ("12.50", "-3", "1.250"): quoted only if it needed it (it never does).
std::string csv_number(std::string_view cell);
// True when a spreadsheet would treat the cell as a formula (leading = + - @ TAB CR).
bool starts_like_formula(std::string_view cell);

// Appends `cells` (already made by csv_text / csv_number) joined by commas, then CRLF.
void append_csv_line(std::string& out, const std::vector<std::string>& cells);

// Major units of the currency ("12.50", "1000", "1.250") for a known currency; for a code we do
// not know, the integer minor amount (never a guess at the exponent).
std::string major_units(std::int64_t amount_minor, std::string_view currency);

// Parses one RFC 4180 document into rows of cells (for tests and tools). Accepts CRLF or LF.
std::vector<std::vector<std::string>> parse_csv(std::string_view text);

}  // namespace donatio::reports
