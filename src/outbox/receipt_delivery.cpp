#include "src/outbox/receipt_delivery.hpp"

#include <spdlog/spdlog.h>

#include "src/http/request_context.hpp"
#include "src/mail/smtp_mailer.hpp"
#include "src/outbox/jobs.hpp"

namespace donatio::outbox {

ReceiptDelivery::ReceiptDelivery(const Config& config, const Secrets& secrets, store::Database& db, const Clock& clock,
                                 http::Metrics& metrics, Mailer* mailer, PaymentGateway* gateway)
    : config_(config), db_(db), clock_(clock), metrics_(metrics), mailer_(mailer), gateway_(gateway) {
  if (mailer_ == nullptr && config.smtp.enabled) {
    mail::SmtpMailerOptions o;
    o.url = config.smtp.url;
    o.username = secrets.smtp_username;
    o.password = secrets.smtp_password;
    o.ca_file = config.smtp.ca_file;
    o.timeout_ms = config.smtp.timeout_ms;
    o.connect_timeout_ms = std::min(5000, config.smtp.timeout_ms);
    owned_mailer_ = std::make_unique<mail::SmtpMailer>(std::move(o), clock);
    mailer_ = owned_mailer_.get();
  }
  std::string secret = secrets.receipt_secret;
  if (secret.empty()) {
    secret = http::random_hex(32);
    spdlog::warn("no receipt link secret in ${}: using a random one; donor PDF links will stop working after a "
                 "restart and differ between instances",
                 config.organization.receipt_secret_env);
  }
  receipts_ = std::make_unique<receipts::ReceiptService>(db, config.organization);
  links_ = std::make_unique<receipts::ReceiptLinks>(config.server.receipt_link_base, std::move(secret));
}

ReceiptDelivery::~ReceiptDelivery() { stop(); }

void ReceiptDelivery::start(int bound_port, std::function<bool()> webhooks_busy) {
  if (config_.server.receipt_link_base.empty()) {
    links_->set_base("https://" + config_.server.host + ":" + std::to_string(bound_port));
  }
  WorkerOptions base;
  base.poll_interval_ms = config_.outbox.poll_interval_ms;
  base.base_backoff_s = config_.outbox.base_backoff_s;
  base.max_backoff_s = config_.outbox.max_backoff_s;
  base.max_attempts = config_.smtp.max_attempts;
  if (mailer_ != nullptr) {
    WorkerOptions o = base;
    o.name = "outbox-mail";
    o.lease_s = config_.smtp.timeout_ms / 1000 * 2 + 60;  // a send never outlives its lease
    o.foreground_busy = std::move(webhooks_busy);
    o.busy_duty_percent = kMailDutyPercent;
    mail_worker_ = std::make_unique<OutboxWorker>(
        db_, clock_, metrics_, o,
        std::map<std::string, Job>{{kReceiptEmail, receipt_email_job(*receipts_, *mailer_, config_.smtp.from, *links_)}});
    mail_worker_->start();
  } else {
    spdlog::warn("smtp.enabled = false: receipt e-mails stay queued in the outbox");
  }
  if (gateway_ != nullptr) {
    WorkerOptions o = base;
    o.name = "outbox-fees";
    o.lease_s = config_.stripe.timeout_ms / 1000 * (config_.stripe.max_retries + 1) * 2 + 60;
    fee_worker_ = std::make_unique<OutboxWorker>(
        db_, clock_, metrics_, o,
        std::map<std::string, Job>{{kBalanceTransaction, balance_transaction_job(db_, *gateway_, clock_)}});
    fee_worker_->start();
  }
}

void ReceiptDelivery::stop() {
  if (mail_worker_) mail_worker_->stop();
  if (fee_worker_) fee_worker_->stop();
}

void ReceiptDelivery::nudge_mail() {
  if (mail_worker_) mail_worker_->nudge();
}

}  // namespace donatio::outbox
