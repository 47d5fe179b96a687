// Subject, plain-text and HTML bodies of the e-mail that carries a receipt.
#include "src/receipts/receipt_mail.hpp"

#include <algorithm>
#include <string_view>
#include <utility>
#include <vector>

#include "donatio/clock.hpp"
#include "donatio/money.hpp"
#include "src/receipts/receipt_text.hpp"

namespace donatio::receipts {
namespace {

// Escapes text for HTML element content and double- or single-quoted attribute values.
std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

// Multi-line user text (address, statement) in HTML: escaped, line breaks kept.
std::string html_paragraph(std::string_view text) {
  std::string out;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t end = text.find('\n', start);
    std::string_view line = text.substr(start, end == std::string_view::npos ? end : end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (start > 0) out += "<br>";
    out += html_escape(line);
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return out;
}

bool is_web_link(std::string_view link) {
  auto starts_with_ci = [&](std::string_view prefix) {
    if (link.size() < prefix.size()) return false;
    for (std::size_t i = 0; i < prefix.size(); ++i) {
      const char c = link[i];
      const char lower = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
      if (lower != prefix[i]) return false;
    }
    return true;
  };
  return starts_with_ci("https://") || starts_with_ci("http://");
}

std::string subject_for(const donatio::ReceiptDocument& receipt) {
  const std::string number = single_line(receipt.number);
  const std::string original = single_line(receipt.references_number);
  std::string subject;
  switch (receipt.kind) {
    case donatio::ReceiptKind::original:
      subject = "Your donation receipt " + number;
      break;
    case donatio::ReceiptKind::amended:
      subject = "Your amended donation receipt " + number + " (replaces " + original + ")";
      break;
    case donatio::ReceiptKind::void_notice:
      subject = "Void notice " + number + " for your donation receipt " + original;
      break;
  }
  if (receipt.duplicate) subject += " (duplicate)";
  return subject;
}

// The sentences before the field list; plain text, not yet escaped.
std::vector<std::string> introduction_for(const donatio::ReceiptDocument& receipt) {
  std::vector<std::string> sentences;
  const std::string org = single_line(receipt.org_name);
  const std::string original = single_line(receipt.references_number);
  switch (receipt.kind) {
    case donatio::ReceiptKind::original:
      sentences.push_back("Thank you for your donation to " + org +
                          ". Your donation receipt is below.");
      break;
    case donatio::ReceiptKind::amended:
      sentences.push_back("Your donation receipt " + original +
                          " has been amended after a partial refund. The amended receipt " +
                          "below replaces it.");
      break;
    case donatio::ReceiptKind::void_notice:
      sentences.push_back("Your donation receipt " + original +
                          " has been voided after a refund of your gift. It is no longer " +
                          "valid for tax purposes.");
      break;
  }
  if (receipt.duplicate) {
    sentences.push_back("This is a duplicate copy of a document already sent to you. It does "
                        "not record an additional gift.");
  }
  return sentences;
}

// Label/value pairs printed in both bodies, in order; empty values are left out.
std::vector<std::pair<std::string, std::string>> fields_for(
    const donatio::ReceiptDocument& receipt) {
  std::vector<std::pair<std::string, std::string>> fields{
      {"Receipt number", single_line(receipt.number)},
      {"Issue date", iso_date(receipt.issued_at)},
      {"Date of gift", iso_date(receipt.gift_at)},
      {"Donor", single_line(receipt.donor_name)},
      {"E-mail", single_line(receipt.donor_email)},
      {amount_label(receipt.kind), format_money(receipt.amount)},
      {"Campaign", single_line(receipt.campaign_title)},
      {"Payment reference", single_line(receipt.payment_reference)},
  };
  if (receipt.kind != donatio::ReceiptKind::original && !receipt.references_number.empty()) {
    fields.insert(fields.begin() + 1,
                  {receipt.kind == donatio::ReceiptKind::amended ? "Replaces receipt"
                                                                 : "Voids receipt",
                   single_line(receipt.references_number)});
  }
  std::erase_if(fields, [](const auto& field) { return field.second.empty(); });
  return fields;
}

std::string text_body(const donatio::ReceiptDocument& receipt, const std::string& pdf_link) {
  const std::string donor = single_line(receipt.donor_name);
  std::string text = "Dear " + (donor.empty() ? std::string("donor") : donor) + ",\n\n";
  for (const auto& sentence : introduction_for(receipt)) text += sentence + "\n";
  text += "\n";
  const auto fields = fields_for(receipt);
  std::size_t label_width = 0;
  for (const auto& [label, value] : fields) label_width = std::max(label_width, label.size());
  for (const auto& [label, value] : fields) {
    text += label + ":" + std::string(label_width - label.size() + 2, ' ') + value + "\n";
  }
  if (!receipt.statement.empty()) text += "\n" + receipt.statement + "\n";
  if (!pdf_link.empty()) text += "\nYour receipt as PDF: " + single_line(pdf_link) + "\n";
  text += "\n" + single_line(receipt.org_name) + "\n";
  if (!receipt.org_address.empty()) text += receipt.org_address + "\n";
  if (!receipt.org_tax_id.empty()) text += "Tax ID: " + single_line(receipt.org_tax_id) + "\n";
  return text;
}

std::string html_body(const donatio::ReceiptDocument& receipt, const std::string& subject,
                      const std::string& pdf_link) {
  const std::string donor = single_line(receipt.donor_name);
  std::string html =
      "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n<title>" +
      html_escape(subject) + "</title>\n</head>\n<body style=\"font-family:sans-serif\">\n";
  html += "<p>Dear " + html_escape(donor.empty() ? std::string("donor") : donor) + ",</p>\n";
  for (const auto& sentence : introduction_for(receipt)) {
    html += "<p>" + html_escape(sentence) + "</p>\n";
  }
  html += "<table>\n";
  for (const auto& [label, value] : fields_for(receipt)) {
    html += "<tr><th style=\"text-align:left;padding-right:1em\">" + html_escape(label) +
            "</th><td>" + html_escape(value) + "</td></tr>\n";
  }
  html += "</table>\n";
  if (!receipt.statement.empty()) html += "<p>" + html_paragraph(receipt.statement) + "</p>\n";
  if (!pdf_link.empty()) {
    const std::string link = html_escape(single_line(pdf_link));
    if (is_web_link(pdf_link)) {
      html += "<p><a href=\"" + link + "\">Your receipt as PDF</a></p>\n";
    } else {
      html += "<p>Your receipt as PDF: " + link + "</p>\n";
    }
  }
  html += "<p>" + html_escape(single_line(receipt.org_name));
  if (!receipt.org_address.empty()) html += "<br>" + html_paragraph(receipt.org_address);
  if (!receipt.org_tax_id.empty()) {
    html += "<br>Tax ID: " + html_escape(single_line(receipt.org_tax_id));
  }
  html += "</p>\n</body>\n</html>\n";
  return html;
}

}  // namespace

ReceiptMailBodies compose_receipt_mail(const donatio::ReceiptDocument& receipt,
                                       const std::string& pdf_link) {
  ReceiptMailBodies bodies;
  bodies.subject = subject_for(receipt);
  bodies.text = text_body(receipt, pdf_link);
  bodies.html = html_body(receipt, bodies.subject, pdf_link);
  return bodies;
}

}  // namespace donatio::receipts
