// Helpers shared by the libFuzzer targets in fuzz/: a property check that always aborts (also in
// release builds, so libFuzzer records the input), and the strict-mode switch.
// Thread-safety: used from libFuzzer's single fuzzing thread only.
#pragma once

#include <cstdio>
#include <cstdlib>

namespace donatio::fuzz {

// Fails the run when a property does not hold. libFuzzer sees the abort as a crash and writes
// the input to crash-<sha1>.
#define DONATIO_FUZZ_CHECK(condition)                                                       \
  do {                                                                                      \
    if (!(condition)) {                                                                     \
      std::fprintf(stderr, "fuzz property failed: %s (%s:%d)\n", #condition, __FILE__, __LINE__); \
      std::abort();                                                                         \
    }                                                                                       \
  } while (0)

// DONATIO_FUZZ_STRICT=1 also checks inputs that the default run leaves out because they hit a
// known, reported finding (see docs/fuzzing.md and fuzz/regressions/). The default run stays
// green so CI keeps fuzzing everything else; strict mode replays the reproducers.
inline bool strict_mode() {
  static const bool strict = [] {
    const char* value = std::getenv("DONATIO_FUZZ_STRICT");
    return value != nullptr && value[0] == '1';
  }();
  return strict;
}

}  // namespace donatio::fuzz
