#include "src/cli/commands.hpp"

namespace donatio::cli {

int cmd_report(const Args& args);     // src/cli/report_commands.cpp
int cmd_reconcile(const Args& args);  // src/cli/report_commands.cpp

int run_more_commands(const std::string& command, const Args& args) {
  if (command == "report") return cmd_report(args);
  if (command == "reconcile") return cmd_reconcile(args);
  return -1;
}

}  // namespace donatio::cli
