// The SQL migrations of sql/sqlite/ and sql/postgresql/, compiled into the binary by CMake
// (cmake/embed_migrations.cmake) so an installed donatio needs no sql/ directory.
#pragma once

#include <vector>

#include "src/store/database.hpp"

namespace donatio::store {

std::vector<Migration> embedded_migrations(bool postgres);

}  // namespace donatio::store
