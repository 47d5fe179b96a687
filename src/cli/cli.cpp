// The donatio command line (see DESIGN.md "CLI"). Each command: parse options, load config,
// build the concrete objects it needs, run, and return an exit code
// (0 ok, 1 the operation failed, 2 usage or configuration error).
#include "src/cli/cli.hpp"

#include <curl/curl.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <iostream>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "donatio/clock.hpp"
#include "donatio/money.hpp"
#include "src/cli/args.hpp"
#include "src/cli/commands.hpp"
#include "src/cli/service.hpp"
#include "src/http/request_context.hpp"
#include "src/store/campaign_store.hpp"
#include "src/store/token_store.hpp"

namespace donatio::cli {
namespace {

constexpr const char* kUsage = R"(donatio — donation processing for non-profits

Usage: donatio COMMAND [OPTIONS]

Commands:
  serve      --config FILE                 run the HTTPS service
  migrate    --config FILE                 apply database migrations and exit
  demo       [--config FILE]               service + local Stripe emulator on loopback (no Stripe account)
  token      create|list|revoke            admin API tokens
  campaign   add|list                      campaigns
  report     summary                       finance summary report
  reconcile  --from --to                   ledger vs Stripe
  receipts   resend NUMBER                 re-send a receipt e-mail
  webhook    replay FILE                   sign a Stripe event fixture and post it
  events     sync|retry                    catch up with Stripe's Events API / re-apply failed events
  refund     ID [--amount N]               refund a donation through Stripe
  privacy    export|erase|purge            donor data export and erasure, retention purge

Every command accepts --help. Exit codes: 0 ok, 1 failed, 2 usage or configuration error.
)";

int config_error(const Status& status) {
  std::fprintf(stderr, "donatio: config: %s\n", status.message().c_str());
  return 2;
}

}  // namespace

Result<Config> load_config_from(const Args& args) {
  const auto path = args.get("config");
  if (!path || path->empty()) {
    return Status::InvalidArgument("config", "--config FILE is required", "invalid_config");
  }
  return load_config(*path);
}

int usage_error(const std::string& message) {
  std::fprintf(stderr, "donatio: %s (see --help)\n", message.c_str());
  return 2;
}

int fail(const Status& status) {
  if (status.error_code() == "invalid_config") return config_error(status);
  std::fprintf(stderr, "donatio: %s\n", status.message().c_str());
  return status.code() == StatusCode::invalid_argument ? 2 : 1;
}

Result<std::unique_ptr<store::Database>> open_database(const Config& config) {
  auto db = store::Database::open(config.database);
  if (!db.ok()) return db.status();
  if (Status s = (*db)->migrate(); !s.ok()) return s;
  return db;
}

std::optional<CommandEnv> open_command_env(const Args& args, int& exit_code) {
  auto config = load_config_from(args);
  if (!config.ok()) {
    exit_code = fail(config.status());
    return std::nullopt;
  }
  http::init_logging("warn", false);
  auto db = open_database(*config);
  if (!db.ok()) {
    exit_code = fail(db.status());
    return std::nullopt;
  }
  return CommandEnv{std::move(*config), std::move(*db)};
}

std::string cli_actor() {
  const char* user = std::getenv("USER");
  return std::string("cli:") + (user ? user : "unknown");
}

namespace {

int cmd_serve(const Args& args) {
  if (args.help()) {
    std::puts("Usage: donatio serve --config FILE\n\nRuns the service until SIGTERM/SIGINT; in-flight requests finish first.");
    return 0;
  }
  if (auto bad = args.unknown_option({"config"}); !bad.empty()) return usage_error("unknown option --" + bad);
  block_stop_signals();  // before any thread exists, so only the waiter sees them
  auto config = load_config_from(args);
  if (!config.ok()) return config_error(config.status());
  http::init_logging(config->server.log_level, config->server.log_json);
  auto secrets = load_secrets(*config, true);
  if (!secrets.ok()) return config_error(secrets.status());
  return serve_until_signal(*config, *secrets, nullptr);
}

int cmd_migrate(const Args& args) {
  if (args.help()) {
    std::puts("Usage: donatio migrate --config FILE\n\nApplies pending migrations (sql/<dialect>/NNN_name.sql) and prints them.");
    return 0;
  }
  auto config = load_config_from(args);
  if (!config.ok()) return config_error(config.status());
  http::init_logging("warn", false);
  auto db = store::Database::open(config->database);
  if (!db.ok()) return fail(db.status());
  std::vector<std::string> applied;
  if (Status s = (*db)->migrate(&applied); !s.ok()) return fail(s);
  for (const auto& name : applied) std::printf("applied %s\n", name.c_str());
  auto version = (*db)->schema_version();
  std::printf("schema at version %d\n", version.ok() ? *version : 0);
  return 0;
}

int cmd_token(const Args& args) {
  const auto& words = args.positional();
  const std::string sub = words.size() > 1 ? words[1] : "";
  if (args.help() || sub.empty()) {
    std::puts(
        "Usage:\n  donatio token create --config FILE --name NAME --role admin|finance\n"
        "  donatio token list   --config FILE\n  donatio token revoke --config FILE --name NAME\n\n"
        "create prints the new token alone on the last line; only its SHA-256 is stored.");
    return sub.empty() && !args.help() ? 2 : 0;
  }
  auto config = load_config_from(args);
  if (!config.ok()) return config_error(config.status());
  http::init_logging("warn", false);
  auto db = open_database(*config);
  if (!db.ok()) return fail(db.status());
  store::TokenStore tokens(**db);
  SystemClock clock;
  if (sub == "create") {
    const auto name = args.get("name");
    const auto role = args.get("role");
    if (!name || name->empty()) return usage_error("--name is required");
    if (!role || !store::is_valid_role(*role)) return usage_error("--role must be admin or finance");
    auto token = tokens.create(*name, *role, cli_actor(), clock.now_unix());
    if (!token.ok()) return fail(token.status());
    std::printf("created %s token '%s'; store it now, it is not shown again:\n%s\n", role->c_str(), name->c_str(),
                token->c_str());
    return 0;
  }
  if (sub == "list") {
    auto list = tokens.list();
    if (!list.ok()) return fail(list.status());
    std::printf("%-24s %-8s %-22s %s\n", "NAME", "ROLE", "CREATED", "STATUS");
    for (const auto& t : *list) {
      std::printf("%-24s %-8s %-22s %s\n", t.name.c_str(), t.role.c_str(), format_iso8601(t.created_at).c_str(),
                  t.revoked_at ? ("revoked " + format_iso8601(*t.revoked_at)).c_str() : "active");
    }
    return 0;
  }
  if (sub == "revoke") {
    const auto name = args.get("name");
    if (!name || name->empty()) return usage_error("--name is required");
    if (Status s = tokens.revoke(*name, cli_actor(), clock.now_unix()); !s.ok()) return fail(s);
    std::printf("revoked token '%s'\n", name->c_str());
    return 0;
  }
  return usage_error("unknown token command '" + sub + "'");
}

int cmd_campaign(const Args& args) {
  const auto& words = args.positional();
  const std::string sub = words.size() > 1 ? words[1] : "";
  if (args.help() || sub.empty()) {
    std::puts(
        "Usage:\n  donatio campaign add --config FILE --slug SLUG --title TITLE --currency CHF --goal MINOR\n"
        "                       [--category general] [--description TEXT] [--starts-at ISO] [--ends-at ISO]\n"
        "  donatio campaign list --config FILE\n\n"
        "Amounts are integers in the currency's minor unit (CHF 5000.00 = 500000).");
    return sub.empty() && !args.help() ? 2 : 0;
  }
  auto config = load_config_from(args);
  if (!config.ok()) return config_error(config.status());
  http::init_logging("warn", false);
  auto db = open_database(*config);
  if (!db.ok()) return fail(db.status());
  store::CampaignStore campaigns(**db);
  SystemClock clock;
  const std::int64_t now = clock.now_unix();
  if (sub == "add") {
    Campaign c;
    c.slug = args.get_or("slug", "");
    c.title = args.get_or("title", "");
    c.description = args.get_or("description", "");
    c.category = args.get_or("category", "general");
    c.currency = upper_currency(args.get_or("currency", ""));
    const std::string goal = args.get_or("goal", "");
    if (goal.empty() || goal.find_first_not_of("0123456789") != std::string::npos || goal.size() > 18) {
      return usage_error("--goal must be a positive integer in minor units");
    }
    c.goal_amount = std::stoll(goal);
    c.starts_at = now;
    if (auto s = args.get("starts-at"); s && !parse_iso8601(*s, c.starts_at)) return usage_error("--starts-at must be ISO-8601");
    if (auto e = args.get("ends-at")) {
      std::int64_t ends = 0;
      if (!parse_iso8601(*e, ends)) return usage_error("--ends-at must be ISO-8601");
      c.ends_at = ends;
    }
    auto created = campaigns.create(c, {cli_actor(), "campaign.created", c.slug, "{}", ""}, now);
    if (!created.ok()) return fail(created.status());
    std::printf("created campaign %s (%s, goal %s)\n", created->slug.c_str(), created->title.c_str(),
                format_money({created->goal_amount, created->currency}).c_str());
    return 0;
  }
  if (sub == "list") {
    auto list = campaigns.list(false, now);
    if (!list.ok()) return fail(list.status());
    std::printf("%-28s %-7s %-16s %-16s %-6s %s\n", "SLUG", "STATUS", "GOAL", "RAISED", "COUNT", "TITLE");
    for (const auto& c : *list) {
      std::printf("%-28s %-7s %-16s %-16s %-6lld %s\n", c.slug.c_str(), is_open(c, now) ? "open" : "closed",
                  format_money({c.goal_amount, c.currency}).c_str(), format_money({c.raised_amount, c.currency}).c_str(),
                  static_cast<long long>(c.donation_count), c.title.c_str());
    }
    return 0;
  }
  return usage_error("unknown campaign command '" + sub + "'");
}

}  // namespace

namespace {
sigset_t stop_signal_set() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}
}  // namespace

void block_stop_signals() {
  const sigset_t set = stop_signal_set();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
}

int serve_until_signal(const Config& config, const Secrets& secrets, PaymentGateway* gateway) {
  // Threads inherit the mask: block the stop signals everywhere; one thread waits for them.
  block_stop_signals();
  sigset_t stop_signals = stop_signal_set();

  ServiceOptions options;
  options.gateway = gateway;
  Service service(config, secrets, options);
  auto port = service.start();
  if (!port.ok()) return fail(port.status());
  std::atomic<bool> signalled{false};
  std::thread signal_waiter([&] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    if (signalled.exchange(true)) return;  // our own wake-up after a normal return
    spdlog::info("received {}, stopping (grace {} ms)", sig == SIGTERM ? "SIGTERM" : "SIGINT",
                 config.server.shutdown_grace_ms);
    // In-flight requests get the grace period; after it the process exits regardless.
    std::thread([grace = config.server.shutdown_grace_ms] {
      std::this_thread::sleep_for(std::chrono::milliseconds(grace));
      spdlog::warn("shutdown grace period over; exiting");
      spdlog::default_logger()->flush();
      std::_Exit(1);
    }).detach();
    service.request_stop();
  });
  service.run();
  service.stop();
  if (!signalled.exchange(true)) kill(getpid(), SIGTERM);  // wake the waiter (the signal is blocked everywhere)
  signal_waiter.join();
  spdlog::info("stopped");
  spdlog::default_logger()->flush();
  return 0;
}

int run(int argc, char** argv) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  const std::string command = argv[1];
  Args args(argc, argv, 1);
  if (command == "--help" || command == "-h" || command == "help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (command == "--version") {
    std::puts("donatio 0.1.0");
    return 0;
  }
  if (command == "serve") return cmd_serve(args);
  if (command == "migrate") return cmd_migrate(args);
  if (command == "token") return cmd_token(args);
  if (command == "campaign") return cmd_campaign(args);
  if (int code = run_more_commands(command, args); code != -1) return code;
  return usage_error("unknown command '" + command + "'");
}

}  // namespace donatio::cli
