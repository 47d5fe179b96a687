#include "src/cli/commands.hpp"

namespace donatio::cli {

int run_receipt_commands(const Args& args);  // receipt_commands.cpp

int run_more_commands(const std::string& command, const Args& args) {
  if (command == "receipts") return run_receipt_commands(args);
  return -1;
}

}  // namespace donatio::cli
