#!/usr/bin/env bash
# Builds the libFuzzer targets (build-fuzz/: clang 14, ASan+UBSan, fuzzer coverage) and runs
# each one for SECONDS on a throwaway copy of its seed corpus, so runs never grow the repo.
# Exits 1 when any target crashes, leaks, hits UB, times out or runs out of memory; the input
# that did it is kept in build-fuzz/fuzz-artifacts/<target>/. See docs/fuzzing.md.
#   scripts/fuzz.sh [SECONDS]      default 20 seconds per target
# Env: FUZZ_TARGETS="event config" runs only those; CC/CXX default to clang-14/clang++-14.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-20}"
case "$seconds" in ''|*[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;; esac
targets=(${FUZZ_TARGETS:-signature event donation_request form_encoding config})
dir=build-fuzz

CC="${CC:-clang-14}" CXX="${CXX:-clang++-14}" cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" -DCMAKE_UNITY_BUILD=ON -DDONATIO_FUZZ=ON -DDONATIO_SANITIZE=ON -DDONATIO_WERROR=OFF >/dev/null
cmake --build "$dir" -j "$(nproc)" --target "${targets[@]/%/_fuzz}"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:symbolize=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
failed=()
summary=()
for target in "${targets[@]}"; do
  corpus="$work/$target"
  artifacts="$dir/fuzz-artifacts/$target/"
  mkdir -p "$corpus" "$artifacts"
  cp fuzz/corpus/"$target"/* "$corpus"/
  dict=()
  case "$target" in
    event|donation_request) dict=(-dict=fuzz/json.dict) ;;
    *) [ -f "fuzz/$target.dict" ] && dict=(-dict="fuzz/$target.dict") ;;
  esac
  echo "== fuzz: $target (${seconds}s)"
  log="$work/$target.log"
  status=0
  "$dir/${target}_fuzz" "$corpus" "${dict[@]}" -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 \
    -artifact_prefix="$artifacts" -print_final_stats=1 >"$log" 2>&1 || status=$?
  execs="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)"
  runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
  files="$(find "$corpus" -type f | wc -l)"
  line="$(printf '%-18s %8s execs/s %10s runs %6s corpus files' "$target" "${execs:-?}" "${runs:-?}" "$files")"
  if [ "$status" -ne 0 ]; then
    line="$line  FAILED (exit $status)"
    failed+=("$target")
    grep -E "ERROR|SUMMARY|fuzz property failed|runtime error|Test unit written" "$log" | head -n 20 || true
  fi
  echo "$line"
  summary+=("$line")
done
echo "== fuzz summary (${seconds}s per target)"
printf '%s\n' "${summary[@]}"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz: FAILED: ${failed[*]} (inputs in $dir/fuzz-artifacts/)" >&2
  exit 1
fi
