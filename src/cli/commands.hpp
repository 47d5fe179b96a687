// Shared helpers of the CLI commands (cli.cpp and the files that add commands).
#pragma once

#include <memory>
#include <string>

#include "donatio/config.hpp"
#include "donatio/payment_gateway.hpp"
#include "src/cli/args.hpp"
#include "src/store/database.hpp"

namespace donatio::cli {

Result<Config> load_config_from(const Args& args);
// Prints the status; returns 2 for configuration/usage problems, 1 otherwise.
int fail(const Status& status);
// Opens and migrates the configured database.
Result<std::unique_ptr<store::Database>> open_database(const Config& config);
// Blocks SIGTERM/SIGINT in the calling thread (and every thread it starts later); call it
// first thing in commands that serve, before any thread exists.
void block_stop_signals();
// Runs the service until SIGTERM/SIGINT. `gateway` null: a Stripe client from the config.
int serve_until_signal(const Config& config, const Secrets& secrets, PaymentGateway* gateway);
// Commands defined outside cli.cpp (demo, webhook, events, report, …); -1 when unknown.
int run_more_commands(const std::string& command, const Args& args);

}  // namespace donatio::cli
