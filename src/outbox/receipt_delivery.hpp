// ReceiptDelivery: everything the running service needs for receipts after the ledger has
// issued them — the receipt service, the signed donor links, the Mailer (SMTP from config, or
// one injected by tests), and one outbox worker per job kind ('receipt_email',
// 'balance_transaction'), so a slow SMTP server never delays fee look-ups and vice versa.
// A kind without its port (mail disabled, no gateway) is not claimed: its rows wait, none lost.
// Thread-safety: construct, start and stop from the owning thread; the members it hands out
// (receipts(), links()) are thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "donatio/clock.hpp"
#include "donatio/config.hpp"
#include "donatio/mailer.hpp"
#include "donatio/payment_gateway.hpp"
#include "src/http/metrics.hpp"
#include "src/outbox/outbox_worker.hpp"
#include "src/receipts/receipt_service.hpp"
#include "src/store/database.hpp"

namespace donatio::outbox {

class ReceiptDelivery {
 public:
  // `mailer` null: an SmtpMailer from config.smtp + secrets when smtp.enabled. An empty
  // receipt secret is replaced by a random one (with a warning: links die with the process).
  ReceiptDelivery(const Config& config, const Secrets& secrets, store::Database& db, const Clock& clock,
                  http::Metrics& metrics, Mailer* mailer, PaymentGateway* gateway);
  ~ReceiptDelivery();

  // Sets the link base (server.receipt_link_base or https://HOST:PORT) and starts the workers.
  // `webhooks_busy`: true while webhooks are arriving; the mail worker (PDF rendering, SMTP)
  // then works at most kMailDutyPercent of the time.
  void start(int bound_port, std::function<bool()> webhooks_busy = {});
  static constexpr int kMailDutyPercent = 10;
  void stop();

  receipts::ReceiptService& receipts() { return *receipts_; }
  const receipts::ReceiptLinks& links() const { return *links_; }
  // Wakes the mail worker (after a resend) instead of waiting for the next poll.
  void nudge_mail();

 private:
  const Config& config_;
  store::Database& db_;
  const Clock& clock_;
  http::Metrics& metrics_;
  std::unique_ptr<Mailer> owned_mailer_;
  Mailer* mailer_ = nullptr;
  PaymentGateway* gateway_ = nullptr;
  std::unique_ptr<receipts::ReceiptService> receipts_;
  std::unique_ptr<receipts::ReceiptLinks> links_;
  std::unique_ptr<OutboxWorker> mail_worker_;
  std::unique_ptr<OutboxWorker> fee_worker_;
};

}  // namespace donatio::outbox
