#!/usr/bin/env bash
# Configures and builds donatio. Usage: scripts/build.sh [plain|asan]  (default plain)
#   plain -> build/       RelWithDebInfo, -Wall -Wextra -Werror
#   asan  -> build-asan/  the same plus AddressSanitizer + UndefinedBehaviorSanitizer
set -euo pipefail
cd "$(dirname "$0")/.."
kind="${1:-plain}"
case "$kind" in
  plain) dir=build; extra=() ;;
  asan)  dir=build-asan; extra=(-DDONATIO_SANITIZE=ON) ;;
  *) echo "usage: $0 [plain|asan]" >&2; exit 2 ;;
esac
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDONATIO_WERROR=ON "${extra[@]}" >/dev/null
cmake --build "$dir" -j "$(nproc)"
