// Dispatch of the commands defined outside cli.cpp.
#include "src/cli/commands.hpp"

namespace donatio::cli {

int cmd_webhook(const Args& args);
int cmd_events(const Args& args);
int cmd_demo(const Args& args);

int run_more_commands(const std::string& command, const Args& args) {
  if (command == "webhook") return cmd_webhook(args);
  if (command == "events") return cmd_events(args);
  if (command == "demo") return cmd_demo(args);
  return -1;
}

}  // namespace donatio::cli
