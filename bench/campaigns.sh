#!/usr/bin/env bash
# Campaign read benchmark (issue 2): GET /v1/campaigns and GET /v1/campaigns/{slug} on donatio
# versus a bare cpp-httplib hello-world (build/bench_hello) built from the same packages,
# measured in the same run, interleaved round by round.
#
# Usage: bench/campaigns.sh            (from the repository root, after building ./build)
# Knobs (environment):
#   DURATION=10s      wrk duration per run
#   CONNECTIONS=64    wrk connections (-c); donatio and hello-world both run 64 worker threads
#   THREADS=2         wrk threads (-t)
#   ROUNDS=3          rounds; each round runs hello, list, item once (medians are reported)
#   CAMPAIGNS=20      campaigns created before the run
#   BUILD_DIR=build   where donatio and bench_hello are
#   DONATIO_BIN=...   a different donatio binary (e.g. a copy of an older build, for before/after)
#   KEEP_TMP=1        keep the temp dir (config, database, server logs, raw wrk output)
# Builds nothing. Every server listens on 127.0.0.1 only and is killed on exit.
set -euo pipefail

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-3}
CAMPAIGNS=${CAMPAIGNS:-20}
BUILD_DIR=${BUILD_DIR:-build}
source "$(dirname "$0")/lib.sh"

DONATIO="${DONATIO_BIN:-$BUILD_DIR/donatio}"
HELLO="$BUILD_DIR/bench_hello"
for bin in "$DONATIO" "$HELLO"; do
  [[ -x "$bin" ]] || { echo "campaigns.sh: $bin not found; build first (ninja -C $BUILD_DIR)" >&2; exit 2; }
done
command -v wrk >/dev/null || { echo "campaigns.sh: wrk not installed (apt-get install wrk)" >&2; exit 2; }
DONATIO=$(realpath "$DONATIO")
HELLO=$(realpath "$HELLO")

WRK_TIMEOUT=$(( $(duration_s "$DURATION") + 30 ))

TMP=$(mktemp -d "${TMPDIR:-/tmp}/donatio-bench.XXXXXX")
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [[ "${KEEP_TMP:-0}" == 1 ]]; then echo "kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PORT=$(free_port)
HELLO_PORT=$(free_port)
while [[ "$HELLO_PORT" == "$PORT" ]]; do HELLO_PORT=$(free_port); done

CONFIG="$TMP/donatio.toml"
cat >"$CONFIG" <<EOF
[server]
listen = "127.0.0.1:$PORT"
tls = false
threads = 64
log_level = "warn"

[database]
url = "sqlite:$TMP/donatio.db"

[organization]
name = "Bench Foundation"
EOF
export STRIPE_WEBHOOK_SECRETS=whsec_bench

"$DONATIO" token create --config "$CONFIG" --name bench --role admin >"$TMP/token.txt"
for i in $(seq -w 1 "$CAMPAIGNS"); do
  "$DONATIO" campaign add --config "$CONFIG" --slug "bench-campaign-$i" --title "Bench campaign $i" \
    --currency CHF --goal $(( 10#$i * 100000 )) --category general \
    --description "Campaign number $i, created by bench/campaigns.sh to give the list a realistic size." \
    >>"$TMP/campaigns.txt"
done
# seq -w pads to the width of CAMPAIGNS; read the campaign in the middle of the list.
SLUG="bench-campaign-$(printf "%0${#CAMPAIGNS}d" $(( (CAMPAIGNS + 1) / 2 )))"

"$DONATIO" serve --config "$CONFIG" >"$TMP/donatio.log" 2>&1 &
PIDS+=($!)
"$HELLO" "$HELLO_PORT" >"$TMP/hello.log" 2>&1 &
PIDS+=($!)

wait_ready() {
  local url=$1
  for _ in $(seq 1 100); do
    curl -fsS -o /dev/null --max-time 1 "$url" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "campaigns.sh: $url did not answer; see $TMP (KEEP_TMP=1 keeps it)" >&2
  return 1
}
HELLO_URL="http://127.0.0.1:$HELLO_PORT/hello"
LIST_URL="http://127.0.0.1:$PORT/v1/campaigns"
ITEM_URL="http://127.0.0.1:$PORT/v1/campaigns/$SLUG"
wait_ready "$HELLO_URL"
wait_ready "$LIST_URL"
wait_ready "$ITEM_URL"
LIST_BYTES=$(curl -fsS "$LIST_URL" | wc -c)
ITEM_BYTES=$(curl -fsS "$ITEM_URL" | wc -c)
LIST_COUNT=$(curl -fsS "$LIST_URL" | grep -o '"slug"' | wc -l)
[[ "$LIST_COUNT" -eq "$CAMPAIGNS" ]] || { echo "campaigns.sh: list returned $LIST_COUNT campaigns, expected $CAMPAIGNS" >&2; exit 1; }

# One wrk run; prints "REQ_PER_SEC P99_MS NON2XX ERRORS".
run_wrk() {
  local name=$1 url=$2 round=$3 out="$TMP/wrk-$name-$round.txt"
  timeout -k 5 "$WRK_TIMEOUT" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$url" >"$out" 2>&1 || {
    echo "campaigns.sh: wrk failed for $url (see $out)" >&2
    cat "$out" >&2
    return 1
  }
  awk '
    function ms(v) {
      if (v ~ /us$/) { sub(/us$/, "", v); return v / 1000 }
      if (v ~ /ms$/) { sub(/ms$/, "", v); return v + 0 }
      if (v ~ /m$/)  { sub(/m$/, "", v);  return v * 60000 }
      if (v ~ /s$/)  { sub(/s$/, "", v);  return v * 1000 }
      return v
    }
    /Requests\/sec:/ { rps = $2 }
    $1 == "99%" { p99 = ms($2) }
    /Non-2xx or 3xx responses:/ { non2xx = $NF }
    /Socket errors:/ { gsub(/,/, ""); errors = $4 + $6 + $8 + $10 }
    END { printf "%.0f %.2f %d %d\n", rps, p99, non2xx, errors }
  ' "$out"
}

declare -A RPS P99 BAD
NAMES=(hello list item)
declare -A URLS=([hello]="$HELLO_URL" [list]="$LIST_URL" [item]="$ITEM_URL")

echo "# donatio campaign read benchmark: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs, wrk -t$THREADS -c$CONNECTIONS -d$DURATION, $ROUNDS rounds"
echo "# list = GET /v1/campaigns ($CAMPAIGNS campaigns, $LIST_BYTES B), item = GET /v1/campaigns/$SLUG ($ITEM_BYTES B), hello = bench_hello (17 B)"
printf "%-6s %-6s %10s %9s %7s %7s\n" round name "req/s" "p99 ms" non2xx errors
for round in $(seq 1 "$ROUNDS"); do
  for name in "${NAMES[@]}"; do
    result=$(run_wrk "$name" "${URLS[$name]}" "$round")
    read -r rps p99 non2xx errors <<<"$result"
    RPS[$name]+="$rps "
    P99[$name]+="$p99 "
    BAD[$name]=$(( ${BAD[$name]:-0} + non2xx + errors ))
    printf "%-6s %-6s %10s %9s %7s %7s\n" "$round" "$name" "$rps" "$p99" "$non2xx" "$errors"
  done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.2f\n", (a[NR/2]+a[NR/2+1])/2}'; }

echo
echo "| endpoint | median req/s | median p99 (ms) | ratio vs hello | non-2xx+socket errors | target (>= 50 %, p99 < 10 ms) |"
echo "|---|---|---|---|---|---|"
HELLO_RPS=$(echo "${RPS[hello]}" | median)
for name in "${NAMES[@]}"; do
  rps=$(echo "${RPS[$name]}" | median)
  p99=$(echo "${P99[$name]}" | median)
  ratio=$(awk -v a="$rps" -v b="$HELLO_RPS" 'BEGIN { printf "%.0f %%", 100 * a / b }')
  case $name in
    hello) label="GET /hello (bench_hello)"; verdict="baseline" ;;
    list) label="GET /v1/campaigns" ;;
    item) label="GET /v1/campaigns/{slug}" ;;
  esac
  if [[ $name != hello ]]; then
    verdict=$(awk -v a="$rps" -v b="$HELLO_RPS" -v p="$p99" -v bad="${BAD[$name]}" \
      'BEGIN { print (a >= 0.5 * b && p < 10 && bad == 0) ? "met" : "NOT met" }')
  fi
  echo "| $label | $rps | $p99 | $ratio | ${BAD[$name]} | $verdict |"
done
