#include "src/cli/service.hpp"

#include <spdlog/spdlog.h>

#include "src/stripe/stripe_client.hpp"

namespace donatio::cli {

Service::Service(Config config, Secrets secrets, ServiceOptions options)
    : config_(std::move(config)), secrets_(std::move(secrets)), options_(options) {}

Service::~Service() { stop(); }

Result<int> Service::start() {
  auto db = store::Database::open(config_.database);
  if (!db.ok()) return db.status();
  db_ = std::move(db).value();
  if (options_.run_migrations) {
    if (Status s = db_->migrate(); !s.ok()) return s;
  }
  const Clock& clock = options_.clock ? *options_.clock : system_clock_;
  PaymentGateway* gateway = options_.gateway;
  if (gateway == nullptr && !secrets_.stripe_secret_key.empty()) {
    try {
      auto options = stripe::stripe_client_options(config_.stripe, secrets_.stripe_secret_key);
      owned_gateway_ = std::make_unique<stripe::StripeClient>(std::move(options));
      gateway = owned_gateway_.get();
    } catch (const std::invalid_argument& e) {
      return Status::InvalidArgument("stripe", std::string("stripe: ") + e.what(), "invalid_config");
    }
  } else if (gateway == nullptr) {
    spdlog::warn("no Stripe secret key in ${}: donations cannot be created (503) until it is set",
                 config_.stripe.secret_key_env);
  }
  context_ = std::make_unique<http::ServiceContext>(config_, secrets_, *db_, clock, metrics_, gateway);
  webhooks::IngestorOptions ingest;
  ingest.ledger.receipt_prefix = config_.organization.receipt_prefix;
  ingest.ledger.dialect = db_->dialect();
  http::ServiceContext* ctx = context_.get();
  ingestor_ = std::make_unique<webhooks::EventIngestor>(
      *db_, clock, ingest, [ctx](const std::vector<webhooks::ApplyOutcome>&) { ctx->public_reads.invalidate(); });
  context_->ingestor = ingestor_.get();
  receipt_delivery_ = std::make_unique<outbox::ReceiptDelivery>(config_, secrets_, *db_, clock, metrics_,
                                                                options_.mailer, gateway);
  context_->receipt_delivery = receipt_delivery_.get();
  server_ = std::make_unique<http::HttpServer>(config_.server, metrics_);
  if (Status s = server_->init(); !s.ok()) return s;
  http::register_ops_routes(*server_, *context_);
  http::register_campaign_routes(*server_, *context_);
  http::register_donation_routes(*server_, *context_);
  http::register_webhook_routes(*server_, *context_);
  http::register_report_routes(*server_, *context_);
  http::register_receipt_routes(*server_, *context_);
  http::register_privacy_routes(*server_, *context_);
  if (gateway != nullptr) {
    webhooks::SweepOptions sweep;
    sweep.overlap_s = config_.stripe.sweep_overlap_s;
    sweep.settle_after_s = config_.stripe.pending_settle_after_s;
    sweeper_ = std::make_unique<webhooks::EventSweeper>(*db_, *gateway, *ingestor_, clock, sweep);
    if (options_.run_sweeper && config_.stripe.sweep_interval_s > 0) {
      sweep_thread_ = std::thread([this] {
        std::unique_lock lock(sweep_mutex_);
        while (!sweep_wake_.wait_for(lock, std::chrono::seconds(config_.stripe.sweep_interval_s),
                                     [this] { return stopping_; })) {
          lock.unlock();
          auto report = sweeper_->sync();
          if (report.ok()) {
            if (report->applied + report->settled > 0) {
              spdlog::warn("events sweep recovered {} events and settled {} pending donations", report->applied,
                           report->settled);
            }
          } else {
            spdlog::warn("events sweep failed: {}", report.status().message());
          }
          lock.lock();
        }
      });
    }
  }
  auto port = server_->bind();
  if (!port.ok()) return port.status();
  port_ = *port;
  receipt_delivery_->start(port_, [ingestor = ingestor_.get()] { return ingestor->busy(); });
  spdlog::info("donatio listening on {}://{}:{} (database: {})", config_.server.tls ? "https" : "http",
               config_.server.host, port_, db_->is_postgres() ? "postgresql" : "sqlite");
  return port_;
}

void Service::run_in_background() {
  server_thread_ = std::thread([this] { server_->run(); });
  // httplib ignores a stop() that comes before its accept loop runs: wait until it does.
  for (int i = 0; i < 2500 && !server_->is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(2));
}

void Service::run() { server_->run(); }

Result<webhooks::SweepReport> Service::sweep_now(std::optional<std::int64_t> since) {
  if (!sweeper_) return Status(StatusCode::provider_unavailable, "provider_unavailable", "no payment gateway configured");
  return sweeper_->sync(since);
}

void Service::request_stop() {
  {
    std::lock_guard lock(sweep_mutex_);
    stopping_ = true;
  }
  sweep_wake_.notify_all();
  if (server_) server_->stop();
}

void Service::stop() {
  std::lock_guard once(stop_mutex_);
  request_stop();
  // Only after every request thread is gone may what they use go away.
  if (server_thread_.joinable()) server_thread_.join();
  if (sweep_thread_.joinable()) sweep_thread_.join();
  // The mail worker asks the ingestor whether webhooks are arriving: it stops first.
  if (receipt_delivery_) receipt_delivery_->stop();
  ingestor_.reset();  // drains queued events: every waiter gets an answer
}

}  // namespace donatio::cli
