// Integration-test harness: a real donatio Service on an ephemeral loopback port, over HTTP or
// HTTPS, against a fresh SQLite file or a fresh PostgreSQL schema, plus a FakeClock.
// PostgreSQL comes from DONATIO_TEST_PG_URL; without it PostgreSQL cases FAIL (CI never skips
// them) unless DONATIO_TEST_SKIP_PG=1 is set for a local run without a server.
#pragma once

#include <httplib.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "donatio/clock.hpp"
#include "donatio/config.hpp"
#include "src/cli/service.hpp"
#include "src/stripe/emulator.hpp"
#include "src/stripe/stripe_client.hpp"
#include "fakes/smtp_sink.hpp"

namespace donatio::testing {

enum class Backend { sqlite, postgresql };
const char* backend_name(Backend backend);
// The backends every integration test runs on.
std::vector<Backend> test_backends();

// Installs the service's logger once per test process, at DONATIO_TEST_LOG_LEVEL (default warn).
// Every fixture calls it; a test that adds a sink to the default logger calls it first.
void init_test_logging();

class FakeClock final : public Clock {
 public:
  explicit FakeClock(std::int64_t now_ms) : now_ms_(now_ms) {}
  std::int64_t now_unix() const override { return now_ms_.load() / 1000; }
  std::int64_t now_unix_ms() const override { return now_ms_.load(); }
  void advance_seconds(std::int64_t s) { now_ms_ += s * 1000; }
  void set_unix(std::int64_t s) { now_ms_ = s * 1000; }

 private:
  std::atomic<std::int64_t> now_ms_;
};

// A unique temp directory removed on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A database URL for a fresh, empty database: a new SQLite file, or a new PostgreSQL schema
// (dropped on destruction).
class TestDatabase {
 public:
  explicit TestDatabase(Backend backend);
  ~TestDatabase();
  const std::string& url() const { return url_; }
  Backend backend() const { return backend_; }

 private:
  Backend backend_;
  TempDir dir_;
  std::string url_;
  std::string schema_;
};

struct FixtureOptions {
  bool tls = false;
  std::function<void(Config&)> configure;  // last word on the config
  PaymentGateway* gateway = nullptr;
  bool use_fake_clock = true;
  // Start a Stripe emulator and talk to it through the real libcurl StripeClient; the
  // emulator delivers signed webhooks to this service.
  bool stripe_emulator = false;
  bool deliver_webhooks = true;
  // Start an SmtpSink and send mail to it (otherwise smtp.enabled = false: mail stays queued).
  bool smtp_sink = false;
  int outbox_poll_ms = 0;  // > 0: outbox.poll_interval_ms
};

class ServiceFixture {
 public:
  explicit ServiceFixture(Backend backend, FixtureOptions options = {});
  ~ServiceFixture();

  httplib::Client client() const;  // HTTPS clients trust the fixture's self-signed cert
  int port() const { return port_; }
  std::string base_url() const;
  Config& config() { return config_; }
  FakeClock& clock() { return clock_; }
  cli::Service& service() { return *service_; }
  TempDir& dir() { return dir_; }
  const std::string& cert_path() const { return cert_; }
  stripe::StripeEmulator& stripe() { return *emulator_; }
  SmtpSink& smtp() { return *smtp_sink_; }
  // Creates a campaign through the admin API (201 required).
  void create_campaign(const std::string& slug, const std::string& currency, const std::string& extra_json = "");
  // Creates a token directly in the store.
  std::string token(const std::string& role, const std::string& name = "");
  static constexpr const char* kStripeKey = "sk_test_fixture_key";
  static constexpr const char* kWebhookSecret = "whsec_test_fixture_secret";

 private:
  TempDir dir_;
  TestDatabase db_;
  FakeClock clock_;
  Config config_;
  std::string cert_;
  std::unique_ptr<stripe::StripeEmulator> emulator_;
  std::unique_ptr<stripe::StripeClient> stripe_client_;
  std::unique_ptr<SmtpSink> smtp_sink_;
  std::unique_ptr<cli::Service> service_;
  int port_ = 0;
  int token_counter_ = 0;
  std::string admin_token_;
};

// JSON headers for httplib requests.
httplib::Headers bearer(const std::string& token);

}  // namespace donatio::testing
