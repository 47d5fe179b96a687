// Shared helpers of the CLI commands (cli.cpp and the files that add commands).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "donatio/config.hpp"
#include "donatio/payment_gateway.hpp"
#include "src/cli/args.hpp"
#include "src/store/database.hpp"

namespace donatio::cli {

Result<Config> load_config_from(const Args& args);
// Prints "donatio: MESSAGE (see --help)" to stderr; returns 2, the exit code of a usage error.
int usage_error(const std::string& message);
// Prints the status; returns 2 for configuration/usage problems, 1 otherwise.
int fail(const Status& status);
// Opens and migrates the configured database.
Result<std::unique_ptr<store::Database>> open_database(const Config& config);
// The start of every command that works on the database: --config, warnings-only logging,
// the migrated database. On failure prints the problem, sets `exit_code` and returns nullopt.
struct CommandEnv {
  Config config;
  std::unique_ptr<store::Database> db;
};
std::optional<CommandEnv> open_command_env(const Args& args, int& exit_code);
// "cli:<login>", the actor of CLI actions in the audit log.
std::string cli_actor();
// Blocks SIGTERM/SIGINT in the calling thread (and every thread it starts later); call it
// first thing in commands that serve, before any thread exists.
void block_stop_signals();
// Runs the service until SIGTERM/SIGINT. `gateway` null: a Stripe client from the config.
int serve_until_signal(const Config& config, const Secrets& secrets, PaymentGateway* gateway);
// Commands defined outside cli.cpp (demo, webhook, events, report, …); -1 when unknown.
int run_more_commands(const std::string& command, const Args& args);

}  // namespace donatio::cli
