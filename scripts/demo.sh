#!/usr/bin/env bash
# Sets up everything and runs donatio on the embedded default: installs packages, builds,
# then `donatio demo` — SQLite in var/, a self-signed certificate made on first run, and a
# local Stripe emulator on loopback (no Stripe account, no internet). Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh plain
exec build/donatio demo "$@"
