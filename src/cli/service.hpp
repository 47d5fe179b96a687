// Service: the running donatio — database, HTTP(S) server with every route, background
// workers. Built from a Config and Secrets plus the ports (gateway); owned by `donatio serve`,
// `donatio demo` and the integration tests, which run it in-process on a loopback port.
#pragma once

#include <memory>
#include <string>
#include <thread>

#include "donatio/clock.hpp"
#include "donatio/config.hpp"
#include "donatio/mailer.hpp"
#include "donatio/payment_gateway.hpp"
#include "src/http/context.hpp"
#include "src/http/metrics.hpp"
#include "src/http/server.hpp"
#include "src/outbox/receipt_delivery.hpp"
#include "src/store/database.hpp"
#include "webhooks/ingestor.hpp"
#include "webhooks/sweep.hpp"

#include <condition_variable>
#include <mutex>

namespace donatio::cli {

struct ServiceOptions {
  const Clock* clock = nullptr;               // default: the system clock
  PaymentGateway* gateway = nullptr;          // default: a StripeClient from config + secrets
  Mailer* mailer = nullptr;                   // default: an SmtpMailer from config.smtp + secrets
  bool run_migrations = true;
  bool run_sweeper = true;  // background events catch-up (needs a gateway and stripe.sweep_interval_s > 0)
};

class Service {
 public:
  Service(Config config, Secrets secrets, ServiceOptions options = {});
  ~Service();

  // Opens the database, migrates, builds the server and binds. Returns the bound port.
  Result<int> start();
  // Serves on a background thread (start() must have succeeded).
  void run_in_background();
  // Serves on the calling thread until stop().
  void run();
  // Stops accepting; run() returns once in-flight requests are done. Any thread, any time.
  void request_stop();
  // request_stop(), then waits for the server and the workers. Not from a request thread; call
  // it after run() returned when run() is on this thread. Idempotent.
  void stop();

  const Config& config() const { return config_; }
  store::Database& database() { return *db_; }
  http::Metrics& metrics() { return metrics_; }
  int port() const { return port_; }
  webhooks::EventIngestor& ingestor() { return *ingestor_; }
  // Runs one catch-up sweep now (tests, operators); unavailable without a gateway.
  Result<webhooks::SweepReport> sweep_now(std::optional<std::int64_t> since = std::nullopt);

 private:
  Config config_;
  Secrets secrets_;
  ServiceOptions options_;
  SystemClock system_clock_;
  http::Metrics metrics_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<PaymentGateway> owned_gateway_;
  std::unique_ptr<http::ServiceContext> context_;
  std::unique_ptr<webhooks::EventIngestor> ingestor_;
  std::unique_ptr<outbox::ReceiptDelivery> receipt_delivery_;
  std::unique_ptr<http::HttpServer> server_;
  std::thread server_thread_;
  std::unique_ptr<webhooks::EventSweeper> sweeper_;
  std::thread sweep_thread_;
  std::mutex sweep_mutex_;
  std::condition_variable sweep_wake_;
  bool stopping_ = false;
  std::mutex stop_mutex_;
  int port_ = 0;
};

}  // namespace donatio::cli
