#include <catch2/catch.hpp>

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "donatio/clock.hpp"
#include "donatio/receipt.hpp"
#include "src/receipts/receipt_pdf.hpp"
#include "support/helpers.hpp"

using donatio::AnnualStatement;
using donatio::Money;
using donatio::ReceiptDocument;
using donatio::ReceiptKind;
using donatio::StatementLine;
using donatio::receipts::render_receipt_pdf;
using donatio::receipts::render_statement_pdf;

using donatio::testing::contains;

namespace {

constexpr std::int64_t kIssuedAt = 1770681600;  // 2026-02-10T00:00:00Z
constexpr std::int64_t kGiftAt = 1770593400;    // 2026-02-08T23:30:00Z
const std::string kArabicName = "ليلى حداد";

ReceiptDocument sample_receipt(const std::string& donor_name, Money amount) {
  ReceiptDocument receipt;
  receipt.number = "CPI-2026-000042";
  receipt.issued_at = kIssuedAt;
  receipt.gift_at = kGiftAt;
  receipt.org_name = "CyberPeace Example Foundation";
  receipt.org_address = "Example street 1, 1200 Geneva, Switzerland";
  receipt.org_tax_id = "CHE-000.000.000";
  receipt.donor_name = donor_name;
  receipt.donor_email = "donor42@example.org";
  receipt.amount = std::move(amount);
  receipt.campaign_title = "Hospital ransomware relief";
  receipt.statement = "No goods or services were provided in exchange for this contribution.";
  receipt.payment_reference = "pi_3PxTest42";
  return receipt;
}

AnnualStatement sample_statement(const std::string& donor_name, int gifts) {
  AnnualStatement statement;
  statement.year = 2026;
  statement.issued_at = 1798761600;  // 2027-01-01
  statement.org_name = "CyberPeace Example Foundation";
  statement.org_address = "Example street 1, 1200 Geneva, Switzerland";
  statement.org_tax_id = "CHE-000.000.000";
  statement.donor_name = donor_name;
  statement.donor_email = "donor7@example.org";
  statement.statement = "No goods or services were provided in exchange for these contributions.";
  Money chf{0, "CHF"};
  Money jpy{0, "JPY"};
  for (int i = 0; i < gifts; ++i) {
    StatementLine line;
    line.receipt_number = donatio::format_receipt_number("CPI-", 2026, 100 + i);
    line.gift_at = kGiftAt + std::int64_t{i} * 86400;
    line.campaign_title = i % 2 == 0 ? "Hospital ransomware relief" : "Helpline 王芳";
    line.net_amount = i % 2 == 0 ? Money{5000, "CHF"} : Money{5000, "JPY"};
    (i % 2 == 0 ? chf : jpy).amount_minor += 5000;
    statement.lines.push_back(line);
  }
  if (chf.amount_minor != 0) statement.totals.push_back(chf);
  if (jpy.amount_minor != 0) statement.totals.push_back(jpy);
  return statement;
}

// Writes `pdf` to a unique temporary file, runs `command FILE trailing` and returns its stdout.
std::string run_on_pdf(const std::string& command, const std::string& pdf,
                       const std::string& trailing) {
  static std::atomic<int> counter{0};
  const auto path = std::filesystem::temp_directory_path() /
                    ("donatio-receipt-test-" + std::to_string(::getpid()) + "-" +
                     std::to_string(counter++) + ".pdf");
  {
    std::ofstream file(path, std::ios::binary);
    file.write(pdf.data(), static_cast<std::streamsize>(pdf.size()));
  }
  std::string output;
  FILE* pipe = ::popen((command + " '" + path.string() + "' " + trailing).c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[4096];
  std::size_t read = 0;
  while ((read = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) output.append(buffer, read);
  const int status = ::pclose(pipe);
  std::filesystem::remove(path);
  REQUIRE(status == 0);
  return output;
}

std::string pdf_text(const std::string& pdf) {
  return run_on_pdf("pdftotext -layout", pdf, "-");
}

std::string pdf_info(const std::string& pdf) { return run_on_pdf("pdfinfo", pdf, ""); }

std::u32string decode_utf8(const std::string& text) {
  std::u32string out;
  for (std::size_t i = 0; i < text.size();) {
    const auto lead = static_cast<unsigned char>(text[i]);
    const int length = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
    char32_t code = length == 1 ? lead : lead & (0x3F >> (length - 1));
    for (int k = 1; k < length && i + k < text.size(); ++k) {
      code = (code << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3F);
    }
    out.push_back(code);
    i += static_cast<std::size_t>(length);
  }
  return out;
}

// pdftotext may give right-to-left text in logical or visual order, wrapped in bidi
// embedding marks and with spaces where glyph runs meet. Compare without those.
bool contains_rtl(const std::string& text, const std::string& rtl) {
  auto letters_only = [](const std::string& s) {
    std::u32string out;
    for (char32_t c : decode_utf8(s)) {
      const bool bidi_control = (c >= 0x200E && c <= 0x200F) || (c >= 0x202A && c <= 0x202E) ||
                                (c >= 0x2066 && c <= 0x2069);
      if (c != U' ' && !bidi_control) out.push_back(c);
    }
    return out;
  };
  const std::u32string haystack = letters_only(text);
  std::u32string logical = letters_only(rtl);
  std::u32string visual(logical.rbegin(), logical.rend());
  return haystack.find(logical) != std::u32string::npos ||
         haystack.find(visual) != std::u32string::npos;
}

void check_receipt_fields(const std::string& text, const ReceiptDocument& receipt) {
  CHECK(contains(text, "CyberPeace Example Foundation"));
  CHECK(contains(text, "Example street 1, 1200 Geneva, Switzerland"));
  CHECK(contains(text, "CHE-000.000.000"));
  CHECK(contains(text, "Donation receipt"));
  CHECK(contains(text, receipt.number));
  CHECK(contains(text, "2026-02-10"));  // issue date
  CHECK(contains(text, "2026-02-08"));  // date of gift, UTC (23:30Z is not the next day)
  CHECK(contains(text, receipt.donor_email));
  CHECK(contains(text, donatio::format_money(receipt.amount)));
  CHECK(contains(text, receipt.campaign_title));
  CHECK(contains(text, receipt.statement));
  CHECK(contains(text, receipt.payment_reference));
}

}  // namespace

// Fontconfig keeps ~300 bytes of its parsed configuration (FcInitLoadConfigAndFonts, run once
// per process by Pango) until exit; that is not a per-render leak. Without this, a
// DONATIO_SANITIZE build fails the whole test binary at exit. Only one definition may exist
// per binary: extend this list rather than adding another.
extern "C" const char* __lsan_default_suppressions() { return "leak:libfontconfig.so\n"; }

TEST_CASE("a receipt PDF shows every field for donors in Latin, Polish, German and CJK script") {
  const std::vector<std::pair<std::string, Money>> donors{
      {"Zoë Lambert", {5000, "CHF"}},
      {"Łukasz Wróbel", {5000, "JPY"}},
      {"Anna Müller", {1250, "BHD"}},
      {"王芳", {5000, "CHF"}},
  };
  for (const auto& [name, amount] : donors) {
    INFO("donor " << name);
    const ReceiptDocument receipt = sample_receipt(name, amount);
    const std::string text = pdf_text(render_receipt_pdf(receipt));
    check_receipt_fields(text, receipt);
    CHECK(contains(text, name));
  }
}

TEST_CASE("a receipt PDF shows a right-to-left Arabic donor name and every other field") {
  const ReceiptDocument receipt = sample_receipt(kArabicName, {5000, "CHF"});
  const std::string text = pdf_text(render_receipt_pdf(receipt));
  check_receipt_fields(text, receipt);
  CHECK(contains_rtl(text, kArabicName));
}

TEST_CASE("receipt amounts are printed in the currency's own minor units") {
  CHECK(contains(pdf_text(render_receipt_pdf(sample_receipt("Zoë", {5000, "CHF"}))),
                 "CHF 50.00"));
  CHECK(contains(pdf_text(render_receipt_pdf(sample_receipt("Zoë", {5000, "JPY"}))),
                 "JPY 5000"));
  CHECK(contains(pdf_text(render_receipt_pdf(sample_receipt("Zoë", {1250, "BHD"}))),
                 "BHD 1.250"));
}

TEST_CASE("DUPLICATE is printed on a resent copy and only there") {
  ReceiptDocument receipt = sample_receipt("Zoë Lambert", {5000, "CHF"});
  CHECK_FALSE(contains(pdf_text(render_receipt_pdf(receipt)), "DUPLICATE"));
  receipt.duplicate = true;
  const std::string text = pdf_text(render_receipt_pdf(receipt));
  CHECK(contains(text, "DUPLICATE"));
  CHECK(contains(text, receipt.number));
}

TEST_CASE("an amended receipt is titled as such and references the original number") {
  ReceiptDocument receipt = sample_receipt("Łukasz Wróbel", {2500, "CHF"});
  receipt.kind = ReceiptKind::amended;
  receipt.number = "CPI-2026-000077";
  receipt.references_number = "CPI-2026-000042";
  const std::string text = pdf_text(render_receipt_pdf(receipt));
  CHECK(contains(text, "Amended donation receipt"));
  CHECK(contains(text, "CPI-2026-000077"));
  CHECK(contains(text, "CPI-2026-000042"));
  CHECK(contains(text, "CHF 25.00"));
}

TEST_CASE("a void notice is titled as such and references the voided receipt") {
  ReceiptDocument receipt = sample_receipt("Anna Müller", {1250, "BHD"});
  receipt.kind = ReceiptKind::void_notice;
  receipt.number = "CPI-2026-000078";
  receipt.references_number = "CPI-2026-000042";
  const std::string text = pdf_text(render_receipt_pdf(receipt));
  CHECK(contains(text, "Void notice"));
  CHECK_FALSE(contains(text, "Donation receipt"));
  CHECK(contains(text, "Voids receipt CPI-2026-000042"));
  CHECK(contains(text, "CPI-2026-000078"));
  CHECK(contains(text, "BHD 1.250"));
}

TEST_CASE("a receipt is a small one-page A4 PDF titled with its number, made by donatio") {
  ReceiptDocument receipt = sample_receipt(kArabicName, {5000, "CHF"});
  receipt.campaign_title = "Relief — 王芳 Zoë Łukasz Müller";  // pulls in a CJK font subset
  const std::string pdf = render_receipt_pdf(receipt);
  CHECK(pdf.rfind("%PDF-", 0) == 0);
  CHECK(pdf.size() < 100 * 1024);
  const std::string info = pdf_info(pdf);
  CHECK(contains(info, "CPI-2026-000042"));  // Title
  CHECK(contains(info, "donatio"));          // Creator
  CHECK(contains(info, "Pages:           1"));
  CHECK(contains(info, "(A4)"));
}

TEST_CASE("user text is printed literally, never interpreted as markup") {
  const ReceiptDocument receipt =
      sample_receipt("<b>Ben &amp; Jerry</b> & <i>Co", {5000, "CHF"});
  const std::string text = pdf_text(render_receipt_pdf(receipt));
  CHECK(contains(text, "<b>Ben &amp; Jerry</b> & <i>Co"));
}

TEST_CASE("invalid UTF-8 and control characters in user text still render a receipt") {
  const ReceiptDocument receipt =
      sample_receipt(std::string("Zo\xff\xfe\0x\nLine", 12), {5000, "CHF"});
  const std::string pdf = render_receipt_pdf(receipt);
  CHECK(pdf.rfind("%PDF-", 0) == 0);
  const std::string text = pdf_text(pdf);
  CHECK(contains(text, "Zo"));
  CHECK(contains(text, receipt.payment_reference));
}

TEST_CASE("an annual statement lists every gift with its net amount and a total per currency") {
  const AnnualStatement statement = sample_statement("Zoë Lambert", 4);
  const std::string pdf = render_statement_pdf(statement);
  CHECK(pdf.rfind("%PDF-", 0) == 0);
  CHECK(pdf.size() < 100 * 1024);
  const std::string text = pdf_text(pdf);
  CHECK(contains(text, "Annual donation statement 2026"));
  CHECK(contains(text, "CyberPeace Example Foundation"));
  CHECK(contains(text, "CHE-000.000.000"));
  CHECK(contains(text, "Zoë Lambert"));
  CHECK(contains(text, "donor7@example.org"));
  CHECK(contains(text, "2027-01-01"));  // issue date
  for (const auto& line : statement.lines) {
    CHECK(contains(text, line.receipt_number));
    CHECK(contains(text, donatio::format_iso8601(line.gift_at).substr(0, 10)));
  }
  CHECK(contains(text, "Hospital ransomware relief"));
  CHECK(contains(text, "Helpline 王芳"));
  CHECK(contains(text, "CHF 50.00"));
  CHECK(contains(text, "JPY 5000"));
  CHECK(contains(text, "CHF 100.00"));  // total of two CHF gifts
  CHECK(contains(text, "JPY 10000"));   // total of two JPY gifts
  CHECK(contains(text, statement.statement));
  CHECK(contains(pdf_info(pdf), "Annual donation statement 2026"));
}

TEST_CASE("an annual statement for Arabic, CJK and Polish donors shows the donor name") {
  for (const std::string name : {"Łukasz Wróbel", "王芳"}) {
    CHECK(contains(pdf_text(render_statement_pdf(sample_statement(name, 2))), name));
  }
  CHECK(contains_rtl(pdf_text(render_statement_pdf(sample_statement(kArabicName, 2))),
                     kArabicName));
}

TEST_CASE("an annual statement too long for one page continues on further pages") {
  const AnnualStatement statement = sample_statement("Anna Müller", 90);
  const std::string pdf = render_statement_pdf(statement);
  const std::string text = pdf_text(pdf);
  for (const auto& line : statement.lines) CHECK(contains(text, line.receipt_number));
  CHECK(contains(text, "CHF 2250.00"));
  CHECK(contains(text, "JPY 225000"));
  CHECK_FALSE(contains(pdf_info(pdf), "Pages:           1\n"));
}

TEST_CASE("an annual statement without gifts says so") {
  const std::string text = pdf_text(render_statement_pdf(sample_statement("Zoë Lambert", 0)));
  CHECK(contains(text, "No gifts were received"));
}

TEST_CASE("receipts render concurrently from four threads, identical to a single-threaded render") {
  const std::vector<ReceiptDocument> receipts{
      sample_receipt("Zoë Lambert", {5000, "CHF"}), sample_receipt("Łukasz Wróbel", {5000, "JPY"}),
      sample_receipt("Anna Müller", {1250, "BHD"}), sample_receipt("王芳", {5000, "CHF"}),
      sample_receipt(kArabicName, {1250, "BHD"})};
  std::vector<std::string> expected;
  for (const auto& receipt : receipts) expected.push_back(render_receipt_pdf(receipt));
  const std::string expected_statement = render_statement_pdf(sample_statement("王芳", 6));

  constexpr int kThreads = 4;
  constexpr int kRendersPerThread = 10;
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRendersPerThread; ++i) {
        const std::size_t which = static_cast<std::size_t>(t + i) % receipts.size();
        if (render_receipt_pdf(receipts[which]) != expected[which]) ++mismatches;
        if (i % 5 == 0 && render_statement_pdf(sample_statement("王芳", 6)) != expected_statement) {
          ++mismatches;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(mismatches == 0);
  CHECK(contains(pdf_text(expected[3]), "王芳"));
}
