#include "src/receipts/receipt_service.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <map>
#include <nlohmann/json.hpp>

#include "donatio/clock.hpp"
#include "src/outbox/outbox_store.hpp"
#include "src/store/audit_log.hpp"

namespace donatio::receipts {

std::string ReceiptLinks::token(const std::string& number) const {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret_.data(), static_cast<int>(secret_.size()),
       reinterpret_cast<const unsigned char*>(number.data()), number.size(), mac, &len);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[mac[i] >> 4];
    out += kHex[mac[i] & 0x0f];
  }
  return out;
}

bool ReceiptLinks::verify(const std::string& number, const std::string& token) const {
  const std::string expected = this->token(number);
  if (token.size() != expected.size()) return false;
  return CRYPTO_memcmp(expected.data(), token.data(), expected.size()) == 0;
}

std::string ReceiptLinks::url(const std::string& number) const {
  return base_ + "/v1/receipts/" + number + ".pdf?token=" + token(number);
}

std::string receipt_mail_payload(const ReceiptMailRequest& r) {
  nlohmann::json j{{"receipt_number", r.receipt_number}, {"donation_id", r.donation_id}};
  if (r.duplicate) j["duplicate"] = true;
  return j.dump();
}

Result<ReceiptMailRequest> parse_receipt_mail_payload(const std::string& payload) {
  auto j = nlohmann::json::parse(payload, nullptr, false);
  if (!j.is_object() || !j.contains("receipt_number") || !j["receipt_number"].is_string()) {
    return Status::InvalidArgument("payload", "receipt_email payload has no receipt_number");
  }
  ReceiptMailRequest r;
  r.receipt_number = j["receipt_number"];
  if (j.contains("donation_id") && j["donation_id"].is_string()) r.donation_id = j["donation_id"];
  r.duplicate = j.value("duplicate", false);
  return r;
}

ReceiptKind receipt_kind_from(const std::string& stored_kind) {
  if (stored_kind == "amended") return ReceiptKind::amended;
  if (stored_kind == "void") return ReceiptKind::void_notice;
  return ReceiptKind::original;
}

ReceiptDocument receipt_document(const ReceiptRecord& r, const OrganizationConfig& org, bool duplicate) {
  ReceiptDocument doc;
  doc.kind = receipt_kind_from(r.kind);
  doc.duplicate = duplicate;
  doc.number = r.number;
  doc.references_number = r.references_number;
  doc.issued_at = r.issued_at;
  doc.gift_at = r.gift_at;
  doc.org_name = org.name;
  doc.org_address = org.address;
  doc.org_tax_id = org.tax_id;
  doc.donor_name = r.donor_name;
  doc.donor_email = r.donor_email;
  doc.amount = Money{r.amount, r.currency};
  doc.campaign_title = r.campaign_slug ? r.campaign_title : kGeneralFund;
  doc.statement = org.receipt_footer;
  doc.payment_reference = !r.payment_intent_id.empty() ? r.payment_intent_id : r.charge_id;
  return doc;
}

Result<ReceiptDocument> ReceiptService::document(const std::string& number, bool duplicate) {
  auto record = store_.find(number);
  if (!record.ok()) return record.status();
  return receipt_document(*record, org_, duplicate);
}

Result<AnnualStatement> ReceiptService::annual_statement(const std::string& donor_email, int year, std::int64_t now) {
  auto gifts = store_.gifts_of(donor_email, year);
  if (!gifts.ok()) return gifts.status();
  if (gifts->empty()) return Status::NotFound("no gifts from this donor in " + std::to_string(year), "statement_not_found");
  AnnualStatement st;
  st.year = year;
  st.issued_at = now;
  st.org_name = org_.name;
  st.org_address = org_.address;
  st.org_tax_id = org_.tax_id;
  st.donor_email = donor_email;
  st.statement = org_.receipt_footer;
  std::map<std::string, std::int64_t> totals;  // never summed across currencies
  for (const auto& g : *gifts) {
    if (st.donor_name.empty()) st.donor_name = g.donor_name;
    const std::int64_t net = g.amount - g.amount_refunded;
    st.lines.push_back(StatementLine{g.receipt_number, g.gift_at, g.campaign_title.empty() ? kGeneralFund : g.campaign_title,
                                     Money{net, g.currency}});
    totals[g.currency] += net;
  }
  for (const auto& [currency, amount] : totals) st.totals.push_back(Money{amount, currency});
  return st;
}

Result<std::int64_t> ReceiptService::enqueue_resend(const std::string& number, const std::string& actor,
                                                    const std::string& request_id, std::int64_t now) {
  std::int64_t outbox_id = 0;
  Status s = db_.transaction([&](soci::session& sql) {
    std::string donation_id;
    sql << "SELECT donation_id FROM receipts WHERE number = :n", soci::use(number), soci::into(donation_id);
    if (!sql.got_data()) return Status::NotFound("no receipt with this number", "receipt_not_found");
    const std::string payload = receipt_mail_payload({number, donation_id, true});
    outbox_id = outbox::OutboxStore::enqueue(sql, db_.dialect(), "receipt_email", payload, now);
    store::append_audit(sql,
                        {actor, "receipt.resent", number,
                         nlohmann::json{{"outbox_id", outbox_id}, {"donation_id", donation_id}}.dump(), request_id},
                        now);
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return outbox_id;
}

}  // namespace donatio::receipts
