// The `donatio` command line: serve, migrate, demo, token, campaign, report, reconcile,
// receipts, webhook replay, events. Parses argv, builds concrete objects, wires them, runs.
#pragma once

namespace donatio::cli {

// Returns the process exit code: 0 ok, 1 failure, 2 bad usage or configuration.
int run(int argc, char** argv);

}  // namespace donatio::cli
