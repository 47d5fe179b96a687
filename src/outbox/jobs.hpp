// The outbox jobs donatio runs: 'receipt_email' (render the receipt PDF, compose the mail,
// send it with a Message-ID stable per outbox row so a retry after an ambiguous failure can be
// de-duplicated by the receiver) and 'balance_transaction' (fetch the charge's balance
// transaction from the gateway and store fee, net, settlement currency and exchange rate on
// the donation, moving the summary's daily totals in the same transaction). Both run on a
// worker thread, never inside a request.
// Thread-safety: the returned jobs hold references to thread-safe objects only.
#pragma once

#include <string>

#include "donatio/clock.hpp"
#include "donatio/mailer.hpp"
#include "donatio/payment_gateway.hpp"
#include "src/outbox/outbox_worker.hpp"
#include "src/receipts/receipt_service.hpp"

namespace donatio::outbox {

inline constexpr const char* kReceiptEmail = "receipt_email";
inline constexpr const char* kBalanceTransaction = "balance_transaction";

// "<outbox-17@donatio>"
std::string outbox_message_id(std::int64_t outbox_id);

// All referenced objects must outlive the job.
Job receipt_email_job(receipts::ReceiptService& receipts, Mailer& mailer, std::string from,
                      const receipts::ReceiptLinks& links);
Job balance_transaction_job(store::Database& db, PaymentGateway& gateway, const Clock& clock);

}  // namespace donatio::outbox
