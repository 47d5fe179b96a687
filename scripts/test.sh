#!/usr/bin/env bash
# Sets up everything and runs the whole test suite: installs packages, starts PostgreSQL,
# builds the plain build and the ASan+UBSan build, and runs every test (SQLite and
# PostgreSQL) in both. PostgreSQL tests never skip: if the server cannot start, this fails.
#   scripts/test.sh            both builds, then a 5 s libFuzzer run per target (scripts/fuzz.sh)
#   scripts/test.sh plain      plain build only (faster while developing)
set -euo pipefail
cd "$(dirname "$0")/.."
kinds=("${@:-plain asan}")
read -r -a kinds <<<"${kinds[*]}"
scripts/install-deps.sh
export DONATIO_TEST_PG_URL="$(scripts/start-postgres.sh | tail -n 1)"
unset DONATIO_TEST_SKIP_PG
# Each phase prints its elapsed time (CI has a 20-minute goal).
phase() { echo "== $1 (t=${SECONDS}s)"; }
for kind in "${kinds[@]}"; do
  phase "build: $kind"
  scripts/build.sh "$kind"
  dir=build; [ "$kind" = asan ] && dir=build-asan
  phase "test: $kind"
  # Every Catch2 test case must be its own CTest test (a name with ';' or '[' would merge them).
  # Most tests wait on sockets, child processes and timers, so several run at once on 2 cores
  # (6 in the plain build; 4 under the sanitizers, which need the CPU).
  # Catch2 v2 exits with the number of listed tests, so its status is not an error here.
  cases=$({ "$dir/donatio_tests" --list-test-names-only || true; } | grep -c .)
  registered=$(ctest --test-dir "$dir" -N | sed -n 's/^Total Tests: //p')
  [ "$cases" = "$registered" ] || { echo "ctest registered $registered tests for $cases test cases" >&2; exit 1; }
  # The service logs at info level during the plain run; afterwards every line of every test's
  # output is searched for secrets (scripts/check-logs.sh).
  level=warn; [ "$kind" = plain ] && level=info
  jobs=4; [ "$kind" = plain ] && jobs=6
  DONATIO_TEST_LOG_LEVEL=$level \
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp" \
    ctest --test-dir "$dir" --output-on-failure -j "$jobs" --timeout 300
  if [ "$kind" = plain ]; then scripts/check-logs.sh "$dir/Testing/Temporary/LastTest.log"; fi
done
# libFuzzer smoke run (docs/fuzzing.md) with the sanitizer builds: 5 targets x 5 s, plus a
# clang build of the core parsers in build-fuzz/ (about 30 s cold on 2 cores).
case " ${kinds[*]} " in
  *" asan "*) phase "fuzz"; scripts/fuzz.sh 5 ;;
esac
phase "done"
