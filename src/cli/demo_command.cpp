// `donatio demo`: the service on SQLite plus a Stripe emulator on loopback, so a newcomer can
// try the whole flow with no Stripe account and no internet: create a donation, confirm the
// payment intent at the emulator, watch the signed webhook mark it succeeded.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>

#include "donatio/clock.hpp"
#include "src/cli/commands.hpp"
#include "src/cli/dev_cert.hpp"
#include "src/http/request_context.hpp"
#include "src/store/campaign_store.hpp"
#include "src/store/token_store.hpp"
#include "src/stripe/emulator.hpp"
#include "src/stripe/stripe_client.hpp"

namespace donatio::cli {
namespace {

constexpr const char* kDemoConfig = R"(
[server]
listen = "127.0.0.1:8443"
tls = true
tls_cert = "var/dev-cert.pem"
tls_key = "var/dev-key.pem"
allowed_origins = ["https://127.0.0.1:8443"]
[database]
url = "sqlite:var/donatio.db"
[stripe]
sweep_interval_s = 60
[smtp]
enabled = false
[organization]
name = "CyberPeace Example Foundation"
address = "Example street 1, 1200 Geneva, Switzerland"
tax_id = "CHE-000.000.000"
receipt_prefix = "CPI-"
receipt_footer = "No goods or services were provided in exchange for this contribution."
)";

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

}  // namespace

int cmd_demo(const Args& args) {
  if (args.help()) {
    std::puts(
        "Usage: donatio demo [--config FILE] [--stripe-port 12111]\n\n"
        "Runs the service (default: https://127.0.0.1:8443, SQLite in var/, a self-signed certificate\n"
        "made on first run in var/) with a Stripe emulator on http://127.0.0.1:12111 that creates payment\n"
        "intents and, on POST /v1/payment_intents/{id}/confirm, sends a signed payment_intent.succeeded\n"
        "webhook to the service. Prints an admin token and the curl commands to try. Ctrl-C stops both.");
    return 0;
  }
  block_stop_signals();
  Result<Config> config = args.get("config") ? load_config_from(args) : parse_config(kDemoConfig, ".");
  if (!config.ok()) return fail(config.status());
  http::init_logging(config->server.log_level, config->server.log_json);
  if (config->server.tls) {
    if (Status s = ensure_dev_certificate(config->server.tls_cert, config->server.tls_key); !s.ok()) return fail(s);
  }
  // Demo secrets: from the environment when set, else made up for this run (never real keys).
  Secrets secrets;
  secrets.stripe_secret_key = env_or(config->stripe.secret_key_env.c_str(), "sk_test_demo_" + http::random_hex(12));
  secrets.webhook_secrets = {"whsec_demo_" + http::random_hex(16)};
  secrets.receipt_secret = http::random_hex(32);

  const int stripe_port = std::stoi(args.get_or("stripe-port", "12111"));
  stripe::EmulatorOptions emulator_options;
  emulator_options.port = stripe_port;
  emulator_options.secret_key = secrets.stripe_secret_key;
  emulator_options.webhook_secret = secrets.webhook_secrets.front();
  emulator_options.webhook_url = std::string(config->server.tls ? "https" : "http") + "://127.0.0.1:" +
                                 std::to_string(config->server.port) + "/webhooks/stripe";
  emulator_options.webhook_ca_file = config->server.tls ? config->server.tls_cert : "";
  stripe::StripeEmulator emulator(emulator_options);
  try {
    emulator.start();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "donatio: the Stripe emulator cannot listen on 127.0.0.1:%d: %s\n", stripe_port, e.what());
    return 1;
  }
  Config service_config = *config;
  service_config.stripe.api_base = emulator.base_url();
  stripe::StripeClient gateway(stripe::stripe_client_options(service_config.stripe, secrets.stripe_secret_key));

  // A campaign and an admin token to play with.
  auto db = open_database(service_config);
  if (!db.ok()) return fail(db.status());
  SystemClock clock;
  store::CampaignStore campaigns(**db);
  if (auto list = campaigns.list(false, clock.now_unix()); list.ok() && list->empty()) {
    Campaign c;
    c.slug = "flood-relief-2026";
    c.title = "Flood relief 2026";
    c.description = "Emergency shelter, water and medical care after the floods.";
    c.category = "humanitarian";
    c.currency = "CHF";
    c.goal_amount = 5000000;
    c.starts_at = clock.now_unix() - 60;
    (void)campaigns.create(c, {"demo", "campaign.created", c.slug, "{}", ""}, clock.now_unix());
  }
  store::TokenStore tokens(**db);
  auto token = tokens.create("demo-admin-" + http::random_hex(3), "admin", "demo", clock.now_unix());
  db->reset();

  const std::string base = std::string(config->server.tls ? "https" : "http") + "://127.0.0.1:" +
                           std::to_string(config->server.port);
  const std::string curl = config->server.tls ? "curl --cacert " + config->server.tls_cert : std::string("curl");
  std::printf(
      "\ndonatio demo\n"
      "  service         %s (database %s)\n"
      "  Stripe emulator %s (key %s)\n"
      "  admin token     %s\n\n"
      "Try it:\n"
      "  %s %s/v1/campaigns\n"
      "  %s -X POST %s/v1/donations -H 'Content-Type: application/json' \\\n"
      "    -d '{\"campaign\":\"flood-relief-2026\",\"amount\":5000,\"currency\":\"CHF\",\"donor\":{\"email\":\"zoe@example.org\",\"name\":\"Zoë\"}}'\n"
      "  curl -X POST %s/v1/payment_intents/PI_ID/confirm -d payment_method=pm_card_visa -H 'Authorization: Bearer %s'\n"
      "  %s %s/v1/admin/donations -H 'Authorization: Bearer %s'\n\n",
      base.c_str(), service_config.database.url.c_str(), emulator.base_url().c_str(),
      secrets.stripe_secret_key.c_str(), token.ok() ? token->c_str() : "(could not create)", curl.c_str(), base.c_str(),
      curl.c_str(), base.c_str(), emulator.base_url().c_str(), secrets.stripe_secret_key.c_str(), curl.c_str(),
      base.c_str(), token.ok() ? token->c_str() : "TOKEN");
  std::fflush(stdout);
  const int code = serve_until_signal(service_config, secrets, &gateway);
  emulator.stop();
  return code;
}

}  // namespace donatio::cli
