#!/usr/bin/env bash
# Donation creation benchmark (issue 3): POST /v1/donations on donatio against the fake Stripe
# (build/bench_stripe_fake: the project's Stripe emulator on loopback), and the fake Stripe alone
# (wrk straight at its POST /v1/payment_intents with the request donatio's client sends), in the
# same run, interleaved: for each round, the fake alone, then donatio.
#
# Usage: bench/donations/run.sh         (from the repository root, after building ./build)
# Knobs (environment):
#   DURATION=10s       wrk duration per run
#   CONNECTIONS=16     wrk connections (-c), for both
#   THREADS=2          wrk threads (-t)
#   RATES="1000 0"     the offered loads, one after the other, each with its own rounds, table
#                      and target lines. r > 0: r requests per second in all, on a fixed schedule
#                      (donations.lua), the same offered load for the fake alone and for donatio:
#                      the latency a donation meets at that load. 0: a closed loop, every
#                      connection sends again as soon as it has its answer, both servers flat out;
#                      the median is then connections / throughput (a throughput figure).
#   ROUNDS=3           rounds (medians are reported)
#   POOL_SIZE=8        donatio [database] pool_size (8 is the default)
#   STRIPE_POOL=16     donatio [stripe] max_connections (16 is the default): the Stripe client's
#                      pool of curl handles, i.e. the most connections the fake may see
#   SERVER_THREADS=32  donatio [server] threads (32 is the default)
#   IDEMPOTENCY=1      0: POST /v1/donations without an Idempotency-Key header
#   FAKE_WORKERS=32    the fake's worker threads
#   FAKE_DELAY_MS=0    > 0: the fake waits this long before answering each payment intent (a
#                      stand-in for Stripe's own latency); 0: it answers at once
#   BUILD_DIR=build, DONATIO_BIN=..., FAKE_BIN=...   the binaries (DONATIO_BIN: e.g. an older build)
#   PERF=1             perf record (cpu-clock, dwarf call graphs) donatio during its round-1 run;
#                      the data lands in PERF_OUT (default /tmp/donatio-donations.perf.data)
#   KEEP_TMP=1         keep the temp dir (configs, databases, logs, raw wrk output)
# Every run gets fresh server processes and a fresh database, so connection and row counts are
# per run. Builds nothing; every server listens on 127.0.0.1 only and is killed on exit; every
# step runs under `timeout`.
set -euo pipefail

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-16}
THREADS=${THREADS:-2}
RATES=${RATES:-1000 0}
ROUNDS=${ROUNDS:-3}
POOL_SIZE=${POOL_SIZE:-8}
SERVER_THREADS=${SERVER_THREADS:-32}
IDEMPOTENCY=${IDEMPOTENCY:-1}
FAKE_WORKERS=${FAKE_WORKERS:-32}
FAKE_DELAY_MS=${FAKE_DELAY_MS:-0}
BUILD_DIR=${BUILD_DIR:-build}
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
source "$REPO/bench/lib.sh"
CAMPAIGN=bench-campaign
STRIPE_KEY=sk_test_bench_$(date +%s)
STRIPE_POOL=${STRIPE_POOL:-16}

DONATIO="${DONATIO_BIN:-$BUILD_DIR/donatio}"
FAKE="${FAKE_BIN:-$BUILD_DIR/bench_stripe_fake}"
for bin in "$DONATIO" "$FAKE"; do
  [[ -x "$bin" ]] || { echo "run.sh: $bin not found; build first (ninja -C $BUILD_DIR)" >&2; exit 2; }
done
DONATIO=$(realpath "$DONATIO")
FAKE=$(realpath "$FAKE")
for tool in wrk python3 curl timeout; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool not installed" >&2; exit 2; }
done

WRK_TIMEOUT=$(( $(duration_s "$DURATION") + 30 ))

TMP=$(mktemp -d "${TMPDIR:-/tmp}/donatio-dnbench.XXXXXX")
DONATIO_PID=""
FAKE_PID=""
PERF_PID=""
stop_donatio() {
  stop_pid "$DONATIO_PID"
  DONATIO_PID=""
  finish_perf "$PERF_PID" "$TMP/perf.data" "${PERF_OUT:-/tmp/donatio-donations.perf.data}"
  PERF_PID=""
}
stop_fake() { stop_pid "$FAKE_PID"; FAKE_PID=""; }
cleanup() {
  stop_donatio
  stop_fake
  if [[ "${KEEP_TMP:-0}" == 1 ]]; then echo "kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The fake binds an ephemeral port and prints "PORT n" once it accepts; no HTTP request is made
# to check it, so every connection it counts comes from the client under test.
start_fake() {  # $1 = run dir; sets FAKE_PORT
  local dir=$1
  "$FAKE" 0 "$STRIPE_KEY" "$FAKE_WORKERS" "$FAKE_DELAY_MS" >"$dir/fake.out" 2>"$dir/fake.err" &
  FAKE_PID=$!
  for _ in $(seq 1 100); do
    FAKE_PORT=$(awk '/^PORT / { print $2 }' "$dir/fake.out")
    [[ -n "$FAKE_PORT" ]] && return 0
    kill -0 "$FAKE_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "run.sh: the fake Stripe did not start (KEEP_TMP=1 keeps $dir)" >&2
  cat "$dir/fake.err" >&2
  return 1
}
# "connections requests payment_intents distinct_keys" from the line the fake printed on SIGTERM.
fake_stats() {  # $1 = run dir (call stop_fake first)
  python3 - "$1/fake.out" <<'PY'
import json, sys
line = [l for l in open(sys.argv[1]) if l.startswith("{")][-1]
s = json.loads(line)
print(s["connections"], s["requests"], s["payment_intents"], s["distinct_idempotency_keys"])
PY
}

start_donatio() {  # $1 = run dir, $2 = "perf" or empty; sets DONATIO_PORT
  local dir=$1 port
  port=$(free_port)
  cat >"$dir/donatio.toml" <<CONF
[server]
listen = "127.0.0.1:$port"
tls = false
threads = $SERVER_THREADS
log_level = "warn"
public_rate_per_minute = 1000000
public_rate_burst = 1000000

[database]
url = "sqlite:$dir/donatio.db"
pool_size = $POOL_SIZE

[stripe]
api_base = "http://127.0.0.1:$FAKE_PORT"
secret_key_env = "DONATIO_BENCH_STRIPE_KEY"
webhook_secrets_env = "DONATIO_BENCH_WEBHOOK_SECRETS"
sweep_interval_s = 0
max_retries = 2
max_connections = $STRIPE_POOL

[smtp]
enabled = false

[organization]
name = "Bench Foundation"
CONF
  export DONATIO_BENCH_STRIPE_KEY=$STRIPE_KEY
  export DONATIO_BENCH_WEBHOOK_SECRETS=whsec_bench
  add_campaign "$dir/donatio.toml" "$CAMPAIGN" "Campaign for bench/donations/run.sh." "$dir/campaign.txt"
  local perf_data=""
  [[ "${2:-}" == perf ]] && perf_data=$TMP/perf.data
  serve_donatio "$dir/donatio.toml" "$dir/donatio.log" "$perf_data" 499
  DONATIO_PID=$SERVED_PID
  PERF_PID=$SERVED_PERF_PID
  DONATIO_PORT=$port
  wait_http "http://127.0.0.1:$port/healthz" "$DONATIO_PID" && return 0
  echo "run.sh: donatio did not answer (KEEP_TMP=1 keeps $dir)" >&2
  cat "$dir/donatio.log" >&2
  return 1
}

# "rows with_intent pending_without_intent"
count_rows() {  # $1 = database
  timeout 60 python3 - "$1" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
total, with_pi = db.execute(
    "SELECT COUNT(*), COUNT(payment_intent_id) FROM donations").fetchone()
print(total, with_pi, total - with_pi)
PY
}

# Prints: rps p50_ms p90_ms p99_ms sent 2xx non2xx sockerr
wrk_stats() {  # $1 = wrk output
  awk '
    /^DN_SENT/ { sent=$2; ok=$6; bad=$8; sock=$10; rt=$12 }
    /^DN_P50_US/ { p50=$2; p90=$4; p99=$6 }
    END { printf "%.0f %.3f %.3f %.3f %d %d %d %d\n", ok / (rt / 1e6), p50 / 1000, p90 / 1000, p99 / 1000, sent, ok, bad, sock }
  ' "$1"
}

run_wrk() {  # $1 = mode, $2 = url, $3 = out, $4 = tag
  DON_MODE=$1 DON_TAG=$4 DON_CAMPAIGN=$CAMPAIGN DON_KEY=$STRIPE_KEY DON_IDEMPOTENCY=$IDEMPOTENCY \
    DON_RATE=$RATE DON_THREADS=$THREADS \
    timeout -k 5 "$WRK_TIMEOUT" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency \
    -s "$HERE/donations.lua" "$2" >"$3" 2>&1 || {
      echo "run.sh: wrk failed ($1):" >&2; cat "$3" >&2; return 1; }
}

# One run. Prints:
#   fake:    rps p50 p90 p99 sent 2xx non2xx sockerr | connections requests intents keys
#   donatio: rps p50 p90 p99 sent 2xx non2xx sockerr | connections requests intents keys | rows with_pi pending
run_one() {
  local what=$1 round=$2 dir="$TMP/$1-load$RATE-r$2" tag
  mkdir -p "$dir"
  tag=$(printf '%08x' $(( (RANDOM << 15 | RANDOM) & 0xffffffff )))
  start_fake "$dir"
  if [[ $what == fake ]]; then
    run_wrk fake "http://127.0.0.1:$FAKE_PORT/v1/payment_intents" "$dir/wrk.txt" "$tag" || { stop_fake; return 1; }
    sleep 1  # requests in flight when wrk stopped are still answered
    local fake_ticks stats
    fake_ticks=$(cpu_ticks "$FAKE_PID")
    stop_fake
    stats=$(wrk_stats "$dir/wrk.txt")
    echo "$stats $(fake_stats "$dir") - - - - - $(per_request "$fake_ticks" "$stats")"
    return 0
  fi
  local perf=""
  [[ "${PERF:-0}" == 1 && $round == 1 ]] && perf=perf
  start_donatio "$dir" $perf || { stop_fake; return 1; }
  run_wrk donatio "http://127.0.0.1:$DONATIO_PORT/v1/donations" "$dir/wrk.txt" "$tag" || { stop_donatio; stop_fake; return 1; }
  sleep 1  # requests in flight when wrk stopped still commit
  curl -s --max-time 5 "http://127.0.0.1:$DONATIO_PORT/metrics" >"$dir/metrics.txt" || true
  local ticks fake_ticks
  ticks=$(cpu_ticks "$DONATIO_PID")
  fake_ticks=$(cpu_ticks "$FAKE_PID")
  stop_donatio
  stop_fake
  local stats
  stats=$(wrk_stats "$dir/wrk.txt")
  echo "$stats $(fake_stats "$dir") $(count_rows "$dir/donatio.db") $(group_size "$dir/metrics.txt") $(per_request "$ticks" "$stats") $(per_request "$fake_ticks" "$stats")"
}

# CPU µs per request: $1 clock ticks over the whole run (start-up included), $2 wrk_stats (sent is
# its 5th field). The machine's other load does not count in it; the requests per second do.
per_request() { echo "$2" | awk -v t="$1" '{ if ($5 > 0) printf "%.0f\n", t * 10000 / $5; else print "-" }'; }

# SQLite write transactions per commit (group commit), from donatio's /metrics; "-" if absent.
group_size() {  # $1 = metrics file
  awk '$1 == "donatio_sqlite_write_transactions_total" { t = $2 } $1 == "donatio_sqlite_write_commits_total" { c = $2 }
       END { if (c > 0) printf "%.2f\n", t / c; else print "-" }' "$1"
}

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}'; }

# One offered load ($1: req/s, 0 = closed loop): ROUNDS rounds, then its summary table and targets.
run_load() {
  RATE=$1
  local -A RPS P50 P90 P99 CONN CHECK
  local round what rps p50 p90 p99 sent ok bad sock conns freq intents keys rows withpi pending group cpu fcpu ok_run
  local load_start load_end label maxc fp50 dp50
  load_start=$(cut -d' ' -f1-3 /proc/loadavg)
  echo "# donatio donation benchmark: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs, load $load_start, wrk -t$THREADS -c$CONNECTIONS -d$DURATION, $ROUNDS rounds, offered load: $(load_label "$RATE")"
  echo "# $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?') $DONATIO; database.pool_size=$POOL_SIZE, stripe.max_connections=$STRIPE_POOL; server threads=$SERVER_THREADS; fake delay ${FAKE_DELAY_MS} ms; Idempotency-Key: $([[ $IDEMPOTENCY == 1 ]] && echo yes || echo no)"
  printf "%-5s %-7s %8s %8s %8s %8s %7s %7s %6s %5s %6s %8s %8s %7s %7s %7s %5s %6s %6s %s\n" \
    round what "req/s" "p50 ms" "p90 ms" "p99 ms" sent 2xx non2xx sock "conns" "fake req" intents "rows" "w/ pi" pending "tx/c" "us/req" "fake" check
  for round in $(seq 1 "$ROUNDS"); do
    for what in fake donatio; do
      # Called in this shell (not in $(...)), so the cleanup trap knows the server PIDs.
      run_one "$what" "$round" >"$TMP/result.txt"
      read -r rps p50 p90 p99 sent ok bad sock conns freq intents keys rows withpi pending group cpu fcpu <"$TMP/result.txt"
      RPS[$what]+="$rps "; P50[$what]+="$p50 "; P90[$what]+="$p90 "; P99[$what]+="$p99 "; CONN[$what]+="$conns "
      if [[ $what == fake ]]; then
        # Every request wrk wrote is a new payment intent; wrk's connections are all the fake saw.
        ok_run=$([[ "$intents" == "$sent" && "$keys" == "$sent" && "$bad" == 0 && "$sock" == 0 && "$conns" -le "$CONNECTIONS" ]] && echo ok || echo BAD)
        rows="-"; withpi="-"; pending="-"; group="-"; cpu="-"
      else
        # Every POST wrk wrote made one donation row and exactly one payment intent (no retry, no
        # duplicate); those in flight when wrk stopped were completed but not counted as 2xx.
        ok_run=$([[ "$rows" == "$sent" && "$withpi" == "$sent" && "$intents" == "$sent" && "$keys" == "$sent" &&
                    "$bad" == 0 && "$sock" == 0 && $(( sent - ok )) -le "$CONNECTIONS" && "$conns" -le "$STRIPE_POOL" ]] && echo ok || echo BAD)
      fi
      [[ "$ok_run" == ok ]] || CHECK[$what]=BAD
      printf "%-5s %-7s %8s %8s %8s %8s %7s %7s %6s %5s %6s %8s %8s %7s %7s %7s %5s %6s %6s %s\n" \
        "$round" "$what" "$rps" "$p50" "$p90" "$p99" "$sent" "$ok" "$bad" "$sock" "$conns" "$freq" "$intents" "$rows" "$withpi" "$pending" "$group" "$cpu" "$fcpu" "$ok_run"
    done
  done
  load_end=$(cut -d' ' -f1-3 /proc/loadavg)

  echo
  echo "# load average at start: $load_start, at end: $load_end"
  echo "| server ($(load_label "$RATE")) | median req/s | p50 ms | p90 ms | p99 ms | connections the fake saw (max over rounds) | checks (all rounds) |"
  echo "|---|---|---|---|---|---|---|"
  for what in fake donatio; do
    maxc=$(echo "${CONN[$what]}" | tr ' ' '\n' | grep -v '^$' | sort -g | tail -1)
    label=$([[ $what == fake ]] && echo "fake Stripe alone (POST /v1/payment_intents)" || echo "donatio POST /v1/donations")
    echo "| $label | $(echo "${RPS[$what]}" | median) | $(echo "${P50[$what]}" | median) | $(echo "${P90[$what]}" | median) | $(echo "${P99[$what]}" | median) | $maxc | ${CHECK[$what]:-ok} |"
  done
  fp50=$(echo "${P50[fake]}" | median); dp50=$(echo "${P50[donatio]}" | median)
  maxc=$(echo "${CONN[donatio]}" | tr ' ' '\n' | grep -v '^$' | sort -g | tail -1)
  echo
  awk -v f="$fp50" -v d="$dp50" -v c="$maxc" -v pool="$STRIPE_POOL" -v load="$(load_label "$RATE")" 'BEGIN {
    printf "%s: added median latency (donatio p50 - fake p50): %.3f ms -> target <= 1 ms: %s\n", load, d - f, (d - f <= 1 ? "met" : "NOT met")
    printf "%s: connections the fake saw during the donatio runs: at most %d; Stripe pool size %d -> target <= pool: %s\n", load, c, pool, (c <= pool ? "met" : "NOT met")
  }'
  echo
}

load_label() { [[ $1 == 0 ]] && echo "closed loop, flat out" || echo "$1 req/s offered"; }

for rate in $RATES; do run_load "$rate"; done
