#include "src/cli/commands.hpp"

namespace donatio::cli {

int run_more_commands(const std::string&, const Args&) { return -1; }

}  // namespace donatio::cli
