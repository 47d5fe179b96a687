#include "src/outbox/jobs.hpp"

#include <nlohmann/json.hpp>

#include "src/receipts/receipt_mail.hpp"
#include "src/receipts/receipt_pdf.hpp"
#include "src/store/daily_totals.hpp"

namespace donatio::outbox {
namespace {

// Retrying cannot help when the other side refused the request itself.
bool permanent(const Status& s) {
  return s.code() == StatusCode::provider_rejected || s.code() == StatusCode::invalid_argument ||
         s.code() == StatusCode::not_found;
}

JobOutcome outcome_of(const Status& s, const std::string& what) {
  const std::string why = what + ": " + (s.error_code().empty() ? "" : s.error_code() + ": ") + s.message();
  return permanent(s) ? JobOutcome::Permanent(why) : JobOutcome::Retry(why);
}

}  // namespace

std::string outbox_message_id(std::int64_t outbox_id) { return "<outbox-" + std::to_string(outbox_id) + "@donatio>"; }

Job receipt_email_job(receipts::ReceiptService& receipts, Mailer& mailer, std::string from,
                      const receipts::ReceiptLinks& links) {
  return [&receipts, &mailer, from = std::move(from), &links](const OutboxItem& item) -> JobOutcome {
    auto request = receipts::parse_receipt_mail_payload(item.payload);
    if (!request.ok()) return JobOutcome::Permanent(request.status().message());
    auto doc = receipts.document(request->receipt_number, request->duplicate);
    if (!doc.ok()) return outcome_of(doc.status(), "receipt " + request->receipt_number);
    if (doc->donor_email.empty()) return JobOutcome::Done("no donor e-mail address; nothing sent");
    const auto bodies = receipts::compose_receipt_mail(*doc, links.url(doc->number));
    MailMessage message;
    message.from = from;
    message.to = doc->donor_email;
    message.subject = bodies.subject;
    message.text_body = bodies.text;
    message.html_body = bodies.html;
    message.attachments.push_back({doc->number + ".pdf", "application/pdf", receipts::render_receipt_pdf(*doc)});
    message.message_id = outbox_message_id(item.id);
    Status sent = mailer.send(message);
    if (!sent.ok()) return outcome_of(sent, "smtp");
    return JobOutcome::Done();
  };
}

Job balance_transaction_job(store::Database& db, PaymentGateway& gateway, const Clock& clock) {
  return [&db, &gateway, &clock](const OutboxItem& item) -> JobOutcome {
    auto j = nlohmann::json::parse(item.payload, nullptr, false);
    if (!j.is_object() || !j.value("donation_id", nlohmann::json()).is_string() ||
        !j.value("charge", nlohmann::json()).is_string()) {
      return JobOutcome::Permanent("balance_transaction payload needs donation_id and charge");
    }
    const std::string donation_id = j["donation_id"], charge_id = j["charge"];
    auto charge = gateway.retrieve_charge(charge_id);
    if (!charge.ok()) return outcome_of(charge.status(), "charge " + charge_id);
    if (charge->balance_transaction.empty()) return JobOutcome::Retry("charge " + charge_id + " has no balance transaction yet");
    auto txn = gateway.retrieve_balance_transaction(charge->balance_transaction);
    if (!txn.ok()) return outcome_of(txn.status(), "balance transaction " + charge->balance_transaction);
    Status s = db.transaction([&](store::Sql& sql) {
      // Fee, net and settlement currency are summary columns: the daily totals move with them.
      const auto before = store::read_summary_inputs_for_update(sql.session(), db.dialect(), donation_id);
      std::optional<std::string_view> rate;
      if (!txn->exchange_rate.empty()) rate = txn->exchange_rate;
      sql.exec("UPDATE donations SET fee = :f, net = :n, settlement_currency = :c, exchange_rate = :r, "
               "balance_transaction_id = :b, updated_at = :u WHERE id = :id",
               txn->fee_minor, txn->net_minor, txn->currency, rate, txn->id, clock.now_unix(), donation_id);
      if (before) {
        store::SummaryInputs after = *before;
        after.fee = txn->fee_minor;
        after.net = txn->net_minor;
        after.settlement_currency = txn->currency;
        store::apply_totals_change(sql, before, after);
      }
      return Status::Ok();
    });
    if (!s.ok()) return JobOutcome::Retry("database: " + s.message());
    return JobOutcome::Done();
  };
}

}  // namespace donatio::outbox
