// `donatio webhook replay FILE` and `donatio events sync|retry`.
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "donatio/clock.hpp"
#include "src/cli/commands.hpp"
#include "src/http/request_context.hpp"
#include "src/store/row.hpp"
#include "src/stripe/stripe_client.hpp"
#include "webhooks/ingestor.hpp"
#include "webhooks/signature.hpp"
#include "webhooks/sweep.hpp"

namespace donatio::cli {

int cmd_webhook(const Args& args) {
  const auto& words = args.positional();
  if (args.help() || words.size() < 3 || words[1] != "replay") {
    std::puts(
        "Usage: donatio webhook replay FILE --config F [--url URL]\n\n"
        "Signs FILE (a Stripe event, e.g. webhooks/fixtures/payment_intent.succeeded.json) with the first\n"
        "secret in the webhook secrets variable, timestamped now, and POSTs it to the service\n"
        "(default: the configured listen address + /webhooks/stripe). Prints the answer.");
    return args.help() ? 0 : 2;
  }
  auto config = load_config_from(args);
  if (!config.ok()) return fail(config.status());
  auto secrets = load_secrets(*config, true);
  if (!secrets.ok()) return fail(secrets.status());
  std::ifstream in(words[2], std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "donatio: cannot read %s\n", words[2].c_str());
    return 2;
  }
  std::stringstream body;
  body << in.rdbuf();
  const std::string payload = body.str();
  const std::string scheme = config->server.tls ? "https" : "http";
  const std::string host = config->server.host.find(':') != std::string::npos ? "[" + config->server.host + "]"
                                                                               : config->server.host;
  const std::string base = args.get_or("url", scheme + "://" + host + ":" + std::to_string(config->server.port));
  httplib::Client client(base);
  if (config->server.tls && std::filesystem::exists(config->server.tls_cert)) {
    client.set_ca_cert_path(config->server.tls_cert.c_str());
  }
  client.set_connection_timeout(5);
  client.set_read_timeout(30);
  const std::int64_t now = SystemClock().now_unix();
  httplib::Headers headers{
      {"Stripe-Signature", webhooks::sign_header(secrets->webhook_secrets.front(), now, payload)},
      {"User-Agent", "donatio-webhook-replay"}};
  auto res = client.Post("/webhooks/stripe", headers, payload, "application/json; charset=utf-8");
  if (!res) {
    std::fprintf(stderr, "donatio: POST %s/webhooks/stripe failed: %s\n", base.c_str(),
                 httplib::to_string(res.error()).c_str());
    return 1;
  }
  std::printf("%d %s\n", res->status, res->body.c_str());
  return res->status >= 200 && res->status < 300 ? 0 : 1;
}

int cmd_events(const Args& args) {
  const auto& words = args.positional();
  const std::string sub = words.size() > 1 ? words[1] : "";
  if (args.help() || (sub != "sync" && sub != "retry")) {
    std::puts(
        "Usage:\n  donatio events sync  --config F [--since ISO-8601]\n"
        "      list Stripe's Events API (30-day horizon) from the stored watermark minus the overlap,\n"
        "      apply what was not yet seen, settle old pending donations\n"
        "  donatio events retry --config F\n      re-apply events stored as failed");
    return args.help() ? 0 : 2;
  }
  auto config = load_config_from(args);
  if (!config.ok()) return fail(config.status());
  http::init_logging("warn", false);
  auto db = open_database(*config);
  if (!db.ok()) return fail(db.status());
  SystemClock clock;
  webhooks::IngestorOptions options;
  options.ledger.receipt_prefix = config->organization.receipt_prefix;
  options.ledger.dialect = (*db)->dialect();
  webhooks::EventIngestor ingestor(**db, clock, options);

  if (sub == "retry") {
    std::vector<std::pair<std::string, std::string>> failed;
    Status s = (*db)->read([&](soci::session& sql) {
      soci::rowset<soci::row> rows = (sql.prepare << "SELECT id, payload FROM events WHERE status = 'failed' ORDER BY created");
      for (const auto& r : rows) failed.emplace_back(store::str(r, 0), store::str(r, 1));
      return Status::Ok();
    });
    if (!s.ok()) return fail(s);
    int applied = 0, still_failed = 0;
    for (const auto& [id, payload] : failed) {
      auto event = webhooks::parse_event(payload);
      if (!event.ok()) {
        ++still_failed;
        std::printf("%s: still unparseable: %s\n", id.c_str(), event.status().message().c_str());
        continue;
      }
      webhooks::ApplyOutcome outcome;
      Status tx = (*db)->transaction([&](store::Sql& sql) {
        outcome = webhooks::reapply_event(sql, options.ledger, *event, clock.now_unix());
        return Status::Ok();
      });
      if (!tx.ok()) return fail(tx);
      std::printf("%s: %s%s%s\n", id.c_str(), webhooks::apply_kind_name(outcome.kind), outcome.detail.empty() ? "" : ": ",
                  outcome.detail.c_str());
      outcome.kind == webhooks::ApplyKind::failed ? ++still_failed : ++applied;
    }
    std::printf("retried %zu failed events: %d resolved, %d still failed\n", failed.size(), applied, still_failed);
    return still_failed == 0 ? 0 : 1;
  }

  auto secrets = load_secrets(*config, false);
  if (!secrets.ok()) return fail(secrets.status());
  if (secrets->stripe_secret_key.empty()) {
    std::fprintf(stderr, "donatio: config: stripe.secret_key_env: %s is empty; events sync needs the Stripe key\n",
                 config->stripe.secret_key_env.c_str());
    return 2;
  }
  stripe::StripeClient gateway(stripe::stripe_client_options(config->stripe, secrets->stripe_secret_key));
  webhooks::SweepOptions sweep;
  sweep.overlap_s = config->stripe.sweep_overlap_s;
  sweep.settle_after_s = config->stripe.pending_settle_after_s;
  webhooks::EventSweeper sweeper(**db, gateway, ingestor, clock, sweep);
  std::optional<std::int64_t> since;
  if (auto text = args.get("since")) {
    std::int64_t at = 0;
    if (!parse_iso8601(*text, at)) {
      std::fprintf(stderr, "donatio: --since must be an ISO-8601 date or timestamp\n");
      return 2;
    }
    since = at;
  }
  auto report = sweeper.sync(since);
  if (!report.ok()) return fail(report.status());
  std::printf("listed %d events: %d applied, %d already known, %d ignored, %d failed; settled %d pending; watermark %s\n",
              report->listed, report->applied, report->duplicates, report->ignored, report->failed, report->settled,
              format_iso8601(report->watermark).c_str());
  return report->failed == 0 ? 0 : 1;
}

}  // namespace donatio::cli
