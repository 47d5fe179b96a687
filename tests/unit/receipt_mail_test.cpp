#include <catch2/catch.hpp>

#include <string>

#include "donatio/receipt.hpp"
#include "src/receipts/receipt_mail.hpp"
#include "support/helpers.hpp"

using donatio::ReceiptDocument;
using donatio::ReceiptKind;
using donatio::receipts::compose_receipt_mail;
using donatio::receipts::ReceiptMailBodies;

using donatio::testing::contains;

namespace {

ReceiptDocument sample_receipt() {
  ReceiptDocument receipt;
  receipt.number = "CPI-2026-000042";
  receipt.issued_at = 1770681600;  // 2026-02-10T00:00:00Z
  receipt.gift_at = 1770593400;    // 2026-02-08T23:30:00Z
  receipt.org_name = "CyberPeace Example Foundation";
  receipt.org_address = "Example street 1, 1200 Geneva, Switzerland";
  receipt.org_tax_id = "CHE-000.000.000";
  receipt.donor_name = "Zoë Lambert";
  receipt.donor_email = "zoe@example.org";
  receipt.amount = {5000, "CHF"};
  receipt.campaign_title = "Hospital ransomware relief";
  receipt.statement = "No goods or services were provided in exchange for this contribution.";
  receipt.payment_reference = "pi_3PxTest42";
  return receipt;
}

}  // namespace

TEST_CASE("receipt mail subject names the receipt number") {
  CHECK(compose_receipt_mail(sample_receipt(), "").subject ==
        "Your donation receipt CPI-2026-000042");
}

TEST_CASE("amended and void mail subjects name the new and the original number") {
  ReceiptDocument receipt = sample_receipt();
  receipt.number = "CPI-2026-000077";
  receipt.references_number = "CPI-2026-000042";
  receipt.kind = ReceiptKind::amended;
  const std::string amended = compose_receipt_mail(receipt, "").subject;
  CHECK(contains(amended, "amended donation receipt CPI-2026-000077"));
  CHECK(contains(amended, "CPI-2026-000042"));
  receipt.kind = ReceiptKind::void_notice;
  const std::string voided = compose_receipt_mail(receipt, "").subject;
  CHECK(contains(voided, "Void notice CPI-2026-000077"));
  CHECK(contains(voided, "CPI-2026-000042"));
}

TEST_CASE("a duplicate's subject and bodies say it is a duplicate") {
  ReceiptDocument receipt = sample_receipt();
  CHECK_FALSE(contains(compose_receipt_mail(receipt, "").text, "duplicate"));
  receipt.duplicate = true;
  const ReceiptMailBodies mail = compose_receipt_mail(receipt, "");
  CHECK(contains(mail.subject, "(duplicate)"));
  CHECK(contains(mail.text, "duplicate copy"));
  CHECK(contains(mail.html, "duplicate copy"));
}

TEST_CASE("plain-text and HTML bodies both carry every receipt field") {
  const ReceiptDocument receipt = sample_receipt();
  const ReceiptMailBodies mail = compose_receipt_mail(receipt, "");
  for (const std::string& body : {mail.text, mail.html}) {
    CHECK(contains(body, "Zoë Lambert"));
    CHECK(contains(body, "zoe@example.org"));
    CHECK(contains(body, "CPI-2026-000042"));
    CHECK(contains(body, "2026-02-10"));
    CHECK(contains(body, "2026-02-08"));
    CHECK(contains(body, "CHF 50.00"));
    CHECK(contains(body, "Hospital ransomware relief"));
    CHECK(contains(body, "pi_3PxTest42"));
    CHECK(contains(body, "CyberPeace Example Foundation"));
    CHECK(contains(body, "Example street 1, 1200 Geneva, Switzerland"));
    CHECK(contains(body, "CHE-000.000.000"));
    CHECK(contains(body, "No goods or services were provided"));
  }
}

TEST_CASE("zero- and three-decimal amounts are formatted in their own minor units") {
  ReceiptDocument receipt = sample_receipt();
  receipt.amount = {5000, "JPY"};
  CHECK(contains(compose_receipt_mail(receipt, "").text, "JPY 5000"));
  receipt.amount = {1250, "BHD"};
  CHECK(contains(compose_receipt_mail(receipt, "").html, "BHD 1.250"));
}

TEST_CASE("void notice bodies reference the voided receipt") {
  ReceiptDocument receipt = sample_receipt();
  receipt.kind = ReceiptKind::void_notice;
  receipt.number = "CPI-2026-000078";
  receipt.references_number = "CPI-2026-000042";
  const ReceiptMailBodies mail = compose_receipt_mail(receipt, "");
  for (const std::string& body : {mail.text, mail.html}) {
    CHECK(contains(body, "CPI-2026-000078"));
    CHECK(contains(body, "CPI-2026-000042"));
    CHECK(contains(body, "voided"));
  }
}

TEST_CASE("a donor name with HTML is escaped in the HTML body and kept as-is in the text") {
  ReceiptDocument receipt = sample_receipt();
  receipt.donor_name = "<script>alert(1)</script> & Co";
  receipt.campaign_title = "\"Quotes\" & 'apostrophes'";
  receipt.org_address = "Line one <br>\nLine two";
  const ReceiptMailBodies mail = compose_receipt_mail(receipt, "");
  CHECK_FALSE(contains(mail.html, "<script>"));
  CHECK(contains(mail.html, "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co"));
  CHECK(contains(mail.html, "&quot;Quotes&quot; &amp; &#39;apostrophes&#39;"));
  CHECK(contains(mail.html, "Line one &lt;br&gt;<br>Line two"));
  CHECK(contains(mail.text, "Dear <script>alert(1)</script> & Co,"));
}

TEST_CASE("the PDF link appears in both bodies when given and not at all when empty") {
  const ReceiptDocument receipt = sample_receipt();
  const ReceiptMailBodies without = compose_receipt_mail(receipt, "");
  CHECK_FALSE(contains(without.text, "PDF"));
  CHECK_FALSE(contains(without.html, "href"));
  const std::string link = "https://donate.example.org/r/CPI-2026-000042.pdf?t=a&b=c";
  const ReceiptMailBodies with = compose_receipt_mail(receipt, link);
  CHECK(contains(with.text, link));
  CHECK(contains(with.html,
                 "href=\"https://donate.example.org/r/CPI-2026-000042.pdf?t=a&amp;b=c\""));
}

TEST_CASE("a link that is not http(s) or that tries to break the attribute is not clickable") {
  const ReceiptDocument receipt = sample_receipt();
  CHECK_FALSE(contains(compose_receipt_mail(receipt, "javascript:alert(1)").html, "href"));
  const std::string html =
      compose_receipt_mail(receipt, "https://x.example/\" onclick=\"alert(1)").html;
  CHECK_FALSE(contains(html, "\" onclick"));
  CHECK(contains(html, "&quot; onclick=&quot;"));
}

TEST_CASE("line breaks in the receipt number cannot inject mail headers via the subject") {
  ReceiptDocument receipt = sample_receipt();
  receipt.number = "CPI-2026-000042\r\nBcc: victim@example.org";
  const std::string subject = compose_receipt_mail(receipt, "").subject;
  CHECK(subject.find('\r') == std::string::npos);
  CHECK(subject.find('\n') == std::string::npos);
}
