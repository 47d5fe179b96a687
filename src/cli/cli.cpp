#include "src/cli/cli.hpp"

#include <cstdio>

namespace donatio::cli {

int run(int, char**) {
  std::puts("donatio: not yet wired");
  return 2;
}

}  // namespace donatio::cli
