// Config: every setting of config.toml, validated once at start-up. A wrong or missing key is
// reported as one line naming the key ("config: server.listen: expected HOST:PORT"), and the
// process exits with code 2. Secrets are NOT in here: only the names of the environment
// variables that hold them; Secrets are read from the environment separately.
// Immutable after loading; safe to share between threads.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "donatio/status.hpp"

namespace donatio {

struct ServerConfig {
  std::string listen = "127.0.0.1:8443";
  std::string host = "127.0.0.1";  // derived from listen
  int port = 8443;                 // derived from listen; 0 = any free port (tests)
  bool tls = true;
  std::string tls_cert = "var/dev-cert.pem";
  std::string tls_key = "var/dev-key.pem";
  std::vector<std::string> allowed_origins;
  std::int64_t max_body_bytes = 65536;
  int threads = 32;                  // worker threads = connections served at once
  int keep_alive_max_count = 100;
  int read_timeout_ms = 5000;      // one read of a request
  int request_timeout_ms = 30000;  // a whole request (TLS handshake, headers, body), however it trickles
  int write_timeout_ms = 5000;
  int shutdown_grace_ms = 10000;     // in-flight requests get this long after SIGTERM
  int max_header_count = 64;
  bool log_json = false;             // access log as JSON lines
  std::string log_level = "info";
  int public_rate_per_minute = 60;   // token bucket refill per client IP, public POSTs
  int public_rate_burst = 20;        // bucket size
  int admin_auth_failures_per_minute = 20;  // failed admin logins per client IP
  std::string receipt_link_base;     // e.g. "https://donate.example.org"; "" = derive from listen
};

struct DatabaseConfig {
  std::string url = "sqlite:var/donatio.db";
  int pool_size = 8;
  bool synchronous_commit = true;  // PostgreSQL: off trades durability of the last ms for speed
};

struct StripeConfig {
  std::string api_base = "https://api.stripe.com";
  std::string api_version = "2024-06-20";
  std::string secret_key_env = "STRIPE_SECRET_KEY";
  std::string webhook_secrets_env = "STRIPE_WEBHOOK_SECRETS";
  std::int64_t webhook_tolerance_s = 300;
  int timeout_ms = 10000;
  int connect_timeout_ms = 3000;
  int max_retries = 2;                      // after the first try; network errors, 429, 5xx
  int max_connections = 16;                 // pooled connections to Stripe (one per call in flight)
  std::string ca_file;                      // extra CA bundle (tests, demo); "" = system store
  int fee_percent_bps = 290;                // 2.9 % = 290 basis points
  std::map<std::string, std::int64_t> fee_fixed_minor = {{"USD", 30}, {"EUR", 25}, {"CHF", 30}, {"GBP", 20}};
  std::map<std::string, std::int64_t> max_amount_minor;  // per currency; default below
  std::int64_t default_max_amount_minor = 100000000;     // 1,000,000.00 in a 2-decimal currency
  int sweep_interval_s = 300;               // events catch-up sweep; 0 = off
  int sweep_overlap_s = 600;
  int pending_settle_after_s = 3600;
};

struct OrganizationConfig {
  std::string name;
  std::string address;
  std::string tax_id;
  std::string receipt_prefix = "CPI-";
  std::string receipt_footer;
  std::string receipt_secret_env = "DONATIO_RECEIPT_SECRET";  // HMAC key for donor PDF links
};

struct SmtpConfig {
  std::string url = "smtp://127.0.0.1:2525";
  std::string from = "receipts@example.org";
  std::string username_env;   // names of environment variables; "" = no authentication
  std::string password_env;
  std::string ca_file;
  int timeout_ms = 10000;
  int max_attempts = 8;
  bool enabled = true;
};

struct OutboxConfig {
  int poll_interval_ms = 500;
  int base_backoff_s = 5;
  int max_backoff_s = 3600;
};

struct PrivacyConfig {
  int receipt_retention_years = 10;
};

struct Config {
  std::string path;  // file it was loaded from
  ServerConfig server;
  DatabaseConfig database;
  StripeConfig stripe;
  OrganizationConfig organization;
  SmtpConfig smtp;
  OutboxConfig outbox;
  PrivacyConfig privacy;
};

// Secrets resolved from the environment variables the config names. Never logged.
struct Secrets {
  std::string stripe_secret_key;
  std::vector<std::string> webhook_secrets;  // several during rotation
  std::string smtp_username;
  std::string smtp_password;
  std::string receipt_secret;
};

// Parses and validates TOML text. Relative paths are resolved against `base_dir`.
// The Status message is one line naming the key: "server.listen: expected HOST:PORT".
Result<Config> parse_config(const std::string& toml_text, const std::string& base_dir = ".");
// Reads FILE and parses it.
Result<Config> load_config(const std::string& path);
// Reads the secrets named by `config` from the environment. `require_webhook_secret`: refuse
// to go on without at least one webhook secret (serve), never "verify nothing".
Result<Secrets> load_secrets(const Config& config, bool require_webhook_secret);

}  // namespace donatio
