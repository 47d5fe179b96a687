#include "src/cli/service.hpp"

#include <spdlog/spdlog.h>

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
  context_ = std::make_unique<http::ServiceContext>(config_, secrets_, *db_, clock, metrics_, gateway);
  server_ = std::make_unique<http::HttpServer>(config_.server, metrics_);
  if (Status s = server_->init(); !s.ok()) return s;
  http::register_ops_routes(*server_, *context_);
  http::register_campaign_routes(*server_, *context_);
  http::register_report_routes(*server_, *context_);
  auto port = server_->bind();
  if (!port.ok()) return port.status();
  port_ = *port;
  spdlog::info("donatio listening on {}://{}:{} (database: {})", config_.server.tls ? "https" : "http",
               config_.server.host, port_, db_->is_postgres() ? "postgresql" : "sqlite");
  return port_;
}

void Service::run_in_background() {
  server_thread_ = std::thread([this] { server_->run(); });
}

void Service::run() { server_->run(); }

void Service::stop() {
  if (server_) server_->stop();
  if (server_thread_.joinable()) server_thread_.join();
}

}  // namespace donatio::cli
