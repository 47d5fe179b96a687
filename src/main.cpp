// Entry point: hands argv to the CLI, which parses the command and wires concrete objects.
#include "src/cli/cli.hpp"

int main(int argc, char** argv) { return donatio::cli::run(argc, argv); }
