// Dispatch of the commands defined outside cli.cpp.
#include "src/cli/commands.hpp"

namespace donatio::cli {

int cmd_webhook(const Args& args);
int cmd_events(const Args& args);
int cmd_demo(const Args& args);
int cmd_report(const Args& args);     // src/cli/report_commands.cpp
int cmd_reconcile(const Args& args);  // src/cli/report_commands.cpp

int run_receipt_commands(const Args& args);  // receipt_commands.cpp
int cmd_refund(const Args& args);            // trust_commands.cpp
int cmd_privacy(const Args& args);           // trust_commands.cpp

int run_more_commands(const std::string& command, const Args& args) {
  if (command == "webhook") return cmd_webhook(args);
  if (command == "events") return cmd_events(args);
  if (command == "demo") return cmd_demo(args);
  if (command == "report") return cmd_report(args);
  if (command == "reconcile") return cmd_reconcile(args);
  if (command == "receipts") return run_receipt_commands(args);
  if (command == "refund") return cmd_refund(args);
  if (command == "privacy") return cmd_privacy(args);
  return -1;
}

}  // namespace donatio::cli
