#!/usr/bin/env bash
# Installs the Debian 12 packages donatio needs to build, run, test and benchmark.
# Idempotent; needs root (or sudo).
set -euo pipefail
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libcpp-httplib-dev libssl-dev libcurl4-openssl-dev libsoci-dev libboost-dev
  libspdlog-dev catch2 libtomlplusplus-dev nlohmann-json3-dev libsqlite3-dev libpq-dev
  libcairo2-dev libpango1.0-dev fonts-dejavu-core fonts-wqy-zenhei poppler-utils
  libgoogle-perftools-dev libsimdjson-dev
  postgresql wrk curl openssl ca-certificates clang-14 libclang-rt-14-dev
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi
