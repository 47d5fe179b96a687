#include "support/service_fixture.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <random>

#include "src/cli/dev_cert.hpp"
#include "support/process.hpp"
#include "src/http/request_context.hpp"
#include "src/store/token_store.hpp"

namespace donatio::testing {
namespace fs = std::filesystem;

const char* backend_name(Backend backend) { return backend == Backend::sqlite ? "sqlite" : "postgresql"; }

std::vector<Backend> test_backends() {
  const char* skip = std::getenv("DONATIO_TEST_SKIP_PG");
  if (skip && std::string(skip) == "1") return {Backend::sqlite};
  return {Backend::sqlite, Backend::postgresql};
}

TempDir::TempDir() {
  std::string templ = (fs::temp_directory_path() / "donatio-test-XXXXXX").string();
  if (mkdtemp(templ.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = templ;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

TestDatabase::TestDatabase(Backend backend) : backend_(backend) {
  if (backend == Backend::sqlite) {
    url_ = "sqlite:" + dir_.path() + "/donatio.db";
    return;
  }
  const char* base = std::getenv("DONATIO_TEST_PG_URL");
  if (base == nullptr || *base == '\0') {
    FAIL("DONATIO_TEST_PG_URL is not set: PostgreSQL tests need a server "
         "(e.g. postgresql://donations:donations@127.0.0.1:5432/donations); "
         "set DONATIO_TEST_SKIP_PG=1 to skip them deliberately on a local machine");
  }
  schema_ = "t_" + http::random_hex(8);
  DatabaseConfig admin;
  admin.url = base;
  admin.pool_size = 1;
  auto db = store::Database::open(admin);
  REQUIRE(db.ok());
  REQUIRE((*db)->transaction([&](soci::session& sql) {
    sql << "CREATE SCHEMA " + schema_;
    return Status::Ok();
  }).ok());
  url_ = std::string(base) + (std::string(base).find('?') == std::string::npos ? "?" : "&") +
         "options=-csearch_path%3D" + schema_;
}

TestDatabase::~TestDatabase() {
  if (schema_.empty()) return;
  DatabaseConfig admin;
  admin.url = std::getenv("DONATIO_TEST_PG_URL");
  admin.pool_size = 1;
  auto db = store::Database::open(admin);
  if (db.ok()) {
    (void)(*db)->transaction([&](soci::session& sql) {
      sql << "SET LOCAL client_min_messages TO warning";
      sql << "DROP SCHEMA " + schema_ + " CASCADE";
      return Status::Ok();
    });
  }
}

void init_test_logging() {
  static const bool logging = [] {
    const char* level = std::getenv("DONATIO_TEST_LOG_LEVEL");
    http::init_logging(level ? level : "warn", false);
    return true;
  }();
  (void)logging;
}

ServiceFixture::ServiceFixture(Backend backend, FixtureOptions options)
    : db_(backend), clock_(1798761600000 /* 2027-01-01T00:00:00Z */) {
  init_test_logging();
  if (!options.use_fake_clock) clock_.set_unix(SystemClock().now_unix());
  auto parsed = parse_config(R"(
[server]
listen = "127.0.0.1:0"
tls = false
allowed_origins = ["https://donate.example.org"]
[organization]
name = "CyberPeace Example Foundation"
address = "Example street 1, 1200 Geneva, Switzerland"
tax_id = "CHE-000.000.000"
receipt_prefix = "CPI-"
receipt_footer = "No goods or services were provided in exchange for this contribution."
)");
  REQUIRE(parsed.ok());
  config_ = *parsed;
  config_.database.url = db_.url();
  config_.database.pool_size = 4;
  config_.server.threads = 16;
  config_.server.log_level = "warn";
  if (options.tls) {
    config_.server.tls = true;
    config_.server.tls_cert = dir_.path() + "/cert.pem";
    config_.server.tls_key = dir_.path() + "/key.pem";
    REQUIRE(cli::ensure_dev_certificate(config_.server.tls_cert, config_.server.tls_key).ok());
    cert_ = config_.server.tls_cert;
  }
  // Never a real provider from tests: without the emulator, Stripe is a closed loopback port.
  config_.stripe.api_base = "http://127.0.0.1:9";
  int fixed_port = 0;
  if (options.stripe_emulator) {
    fixed_port = free_port();
    config_.server.port = fixed_port;
    stripe::EmulatorOptions e;
    e.secret_key = kStripeKey;
    e.webhook_secret = kWebhookSecret;
    e.webhook_url = std::string(options.tls ? "https" : "http") + "://127.0.0.1:" + std::to_string(fixed_port) +
                    "/webhooks/stripe";
    e.webhook_ca_file = cert_;
    e.deliver_webhooks = options.deliver_webhooks;
    e.clock = std::shared_ptr<const Clock>(&clock_, [](const Clock*) {});
    emulator_ = std::make_unique<stripe::StripeEmulator>(e);
    const int stripe_port = emulator_->start();
    config_.stripe.api_base = "http://127.0.0.1:" + std::to_string(stripe_port);
    auto client_options = stripe::stripe_client_options(config_.stripe, kStripeKey);
    client_options.backoff_base_ms = 10;
    client_options.backoff_cap_ms = 50;
    client_options.timeout_ms = 2000;
    stripe_client_ = std::make_unique<stripe::StripeClient>(client_options);
    options.gateway = stripe_client_.get();
  }
  config_.smtp.enabled = options.smtp_sink;
  if (options.smtp_sink) {
    smtp_sink_ = std::make_unique<SmtpSink>();
    config_.smtp.url = "smtp://127.0.0.1:" + std::to_string(smtp_sink_->start());
    config_.smtp.timeout_ms = 5000;
  }
  if (options.outbox_poll_ms > 0) config_.outbox.poll_interval_ms = options.outbox_poll_ms;
  if (options.configure) options.configure(config_);
  Secrets secrets;
  secrets.webhook_secrets = {kWebhookSecret};
  secrets.stripe_secret_key = "sk_test_fixture_key";
  secrets.receipt_secret = "receipt-secret-for-tests";
  cli::ServiceOptions service_options;
  service_options.clock = &clock_;
  service_options.gateway = options.gateway;
  service_ = std::make_unique<cli::Service>(config_, secrets, service_options);
  auto port = service_->start();
  if (!port.ok()) FAIL("service did not start: " << port.status().message());
  port_ = *port;
  service_->run_in_background();
}

ServiceFixture::~ServiceFixture() {
  if (emulator_) emulator_->stop();
  service_->stop();
}

void ServiceFixture::create_campaign(const std::string& slug, const std::string& currency, const std::string& extra) {
  if (admin_token_.empty()) admin_token_ = token("admin");
  const std::string body = R"({"slug":")" + slug + R"(","title":"Campaign )" + slug +
                           R"(","category":"humanitarian","currency":")" + currency +
                           R"(","goal_amount":100000000,"starts_at":"2026-01-01T00:00:00Z")" + extra + "}";
  auto res = client().Post("/v1/admin/campaigns", bearer(admin_token_), body, "application/json");
  REQUIRE(res);
  INFO(res->body);
  REQUIRE(res->status == 201);
}

httplib::Client ServiceFixture::client() const {
  httplib::Client cli(base_url());
  if (!cert_.empty()) cli.set_ca_cert_path(cert_.c_str());
  cli.set_connection_timeout(5);
  cli.set_read_timeout(15);
  return cli;
}

std::string ServiceFixture::base_url() const {
  return std::string(cert_.empty() ? "http" : "https") + "://127.0.0.1:" + std::to_string(port_);
}

std::string ServiceFixture::token(const std::string& role, const std::string& name) {
  store::TokenStore tokens(service_->database());
  auto t = tokens.create(name.empty() ? role + "-" + std::to_string(++token_counter_) : name, role, "test",
                         clock_.now_unix());
  REQUIRE(t.ok());
  return *t;
}

httplib::Headers bearer(const std::string& token) { return {{"Authorization", "Bearer " + token}}; }

}  // namespace donatio::testing
