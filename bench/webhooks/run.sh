#!/usr/bin/env bash
# Webhook ingest benchmark (issue 4): POST /webhooks/stripe with unique signed
# payment_intent.succeeded events on donatio (SQLite) versus the Node peer
# (../shared/peers/node-webhook-baseline: express + stripe-node + better-sqlite3), measured in
# the same run, interleaved: for each round, for each connection count, donatio then the peer.
#
# Usage: bench/webhooks/run.sh        (from the repository root, after building ./build)
# Knobs (environment):
#   DURATION=10s       wrk duration per run
#   CONNS="16 64"      wrk connection counts
#   THREADS=2          wrk threads (-t) = generator files per run
#   ROUNDS=3           rounds (medians are reported)
#   PEER=1             0: donatio only (quick optimisation loops)
#   DONATIO_RATE=32000 events/s budget the generator prepares for donatio (DONATIO_RATE x
#   PEER_RATE=8000     duration events per run, never repeated; a run that exhausts it is flagged)
#   SERVER_THREADS=64  donatio [server] threads (one per connection served at once)
#   PEER_SRC=/work/shared/peers/node-webhook-baseline   copied to NWB_DIR, `npm ci` once
#   NWB_DIR=/tmp/nwb   reused when node_modules is present
#   BUILD_DIR=build, DONATIO_BIN=...   the donatio binary (e.g. an older build for before/after)
#   PERF=1             perf record (cpu-clock, dwarf call graphs) the donatio server during the 64-connection run of round 1
#   KEEP_TMP=1         keep the temp dir (configs, databases, logs, raw wrk output)
# Every run gets a fresh server process and a fresh database, so peak RSS (VmHWM) and row
# counts are per run. Builds nothing; all servers listen on 127.0.0.1 only and are killed on
# exit; every step runs under `timeout`.
set -euo pipefail

DURATION=${DURATION:-10s}
CONNS=${CONNS:-"16 64"}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-3}
PEER=${PEER:-1}
DONATIO_RATE=${DONATIO_RATE:-32000}
PEER_RATE=${PEER_RATE:-8000}
SERVER_THREADS=${SERVER_THREADS:-64}
BUILD_DIR=${BUILD_DIR:-build}
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
PEER_SRC=${PEER_SRC:-$REPO/../shared/peers/node-webhook-baseline}
[[ -d "$PEER_SRC" ]] || PEER_SRC=/work/shared/peers/node-webhook-baseline
NWB_DIR=${NWB_DIR:-/tmp/nwb}
SECRET=whsec_bench_$(date +%s)
CAMPAIGN=bench-campaign

DONATIO="${DONATIO_BIN:-$BUILD_DIR/donatio}"
[[ -x "$DONATIO" ]] || { echo "run.sh: $DONATIO not found; build first (ninja -C $BUILD_DIR)" >&2; exit 2; }
DONATIO=$(realpath "$DONATIO")
for tool in wrk python3 sqlite3 curl timeout; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool not installed" >&2; exit 2; }
done

duration_s() {
  local d=$1
  case "$d" in
    *ms) echo 1 ;; *s) echo "${d%s}" ;; *m) echo $(( ${d%m} * 60 )) ;; *) echo "$d" ;;
  esac
}
DUR_S=$(duration_s "$DURATION")
WRK_TIMEOUT=$(( DUR_S + 30 ))

TMP=$(mktemp -d "${TMPDIR:-/tmp}/donatio-whbench.XXXXXX")
SHM=$(mktemp -d /dev/shm/donatio-whbench.XXXXXX 2>/dev/null || mktemp -d "$TMP/events.XXXXXX")
SERVER_PID=""
PERF_PID=""
stop_server() {
  [[ -n "$SERVER_PID" ]] || return 0
  kill "$SERVER_PID" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
  if [[ -n "$PERF_PID" ]]; then
    for _ in $(seq 1 300); do kill -0 "$PERF_PID" 2>/dev/null || break; sleep 0.1; done
    kill "$PERF_PID" 2>/dev/null || true
    wait "$PERF_PID" 2>/dev/null || true
    PERF_PID=""
    cp "$TMP/perf.data" "${PERF_OUT:-/tmp/donatio-webhooks.perf.data}" && echo "# perf data: ${PERF_OUT:-/tmp/donatio-webhooks.perf.data}" >&2
  fi
}
cleanup() {
  stop_server
  rm -rf "$SHM"
  if [[ "${KEEP_TMP:-0}" == 1 ]]; then echo "kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
wait_ready() {
  local url=$1
  for _ in $(seq 1 150); do
    curl -fsS -o /dev/null --max-time 1 "$url" 2>/dev/null && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "run.sh: $url did not answer (KEEP_TMP=1 keeps the logs in $TMP)" >&2
  return 1
}

# ---------------------------------------------------------------- the peer (npm ci once)
if [[ "$PEER" == 1 && ! -d "$NWB_DIR/node_modules/better-sqlite3" ]]; then
  echo "# installing the peer in $NWB_DIR (npm ci, ~2 min, once)" >&2
  rm -rf "$NWB_DIR"
  cp -r "$PEER_SRC" "$NWB_DIR"
  chmod -R u+w "$NWB_DIR"
  (cd "$NWB_DIR" && timeout 2400 npm ci --no-audit --no-fund >"$TMP/npm.log" 2>&1) || {
    echo "run.sh: npm ci failed:" >&2; tail -20 "$TMP/npm.log" >&2; exit 1; }
fi

# ---------------------------------------------------------------- servers
start_donatio() {  # $1 = run dir
  local dir=$1 port
  port=$(free_port)
  mkdir -p "$dir"
  cat >"$dir/donatio.toml" <<CONF
[server]
listen = "127.0.0.1:$port"
tls = false
threads = $SERVER_THREADS
log_level = "warn"

[database]
url = "sqlite:$dir/donatio.db"

[stripe]
webhook_secrets_env = "STRIPE_WEBHOOK_SECRETS"
sweep_interval_s = 0

[organization]
name = "Bench Foundation"
CONF
  export STRIPE_WEBHOOK_SECRETS=$SECRET
  timeout 30 "$DONATIO" campaign add --config "$dir/donatio.toml" --slug "$CAMPAIGN" --title "Bench campaign" \
    --currency CHF --goal 100000000 --category general --description "Campaign for bench/webhooks/run.sh." \
    >"$dir/campaign.txt" 2>&1 || { cat "$dir/campaign.txt" >&2; return 1; }
  if [[ "${2:-}" == perf ]]; then
    # perf cannot attach to a running process on this VM (-p records no samples), so the
    # server runs as perf's child; SERVER_PID is donatio itself, perf exits with it.
    perf record -e cpu-clock --call-graph dwarf,16384 -F 199 -o "$TMP/perf.data" -- \
      "$DONATIO" serve --config "$dir/donatio.toml" >"$dir/server.log" 2>"$dir/perf.log" &
    PERF_PID=$!
    for _ in $(seq 1 50); do SERVER_PID=$(pgrep -P "$PERF_PID" || true); [[ -n "$SERVER_PID" ]] && break; sleep 0.1; done
  else
    "$DONATIO" serve --config "$dir/donatio.toml" >"$dir/server.log" 2>&1 &
    SERVER_PID=$!
  fi
  PORT=$port
  wait_ready "http://127.0.0.1:$port/healthz"
}
start_peer() {  # $1 = run dir
  local dir=$1 port
  port=$(free_port)
  mkdir -p "$dir"
  (cd "$NWB_DIR" && PORT=$port HOST=127.0.0.1 DB_PATH="$dir/peer.db" WEBHOOK_SECRET=$SECRET \
     exec node server.js) >"$dir/server.log" 2>&1 &
  SERVER_PID=$!
  PORT=$port
  wait_ready "http://127.0.0.1:$port/healthz"
}
count_rows() {  # $1 = server, $2 = run dir -> "events donations"
  if [[ $1 == donatio ]]; then
    timeout 60 sqlite3 "$2/donatio.db" \
      "SELECT (SELECT COUNT(*) FROM events) || ' ' || (SELECT COUNT(*) FROM donations WHERE status='succeeded') || ' ' || (SELECT COUNT(*) FROM receipts) || ' ' || (SELECT COUNT(*) FROM outbox);"
  else
    timeout 60 sqlite3 "$2/peer.db" \
      "SELECT (SELECT COUNT(*) FROM processed_events) || ' ' || (SELECT COUNT(*) FROM donations WHERE status='succeeded') || ' - -';"
  fi
}
vmhwm_mb() { awk '/VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || echo "?"; }

# ---------------------------------------------------------------- one run
# Prints: eps p50_ms p99_ms rss_mb sent 2xx non2xx sockerr exhausted events_rows donations_rows receipts outbox
run_one() {
  local server=$1 conns=$2 round=$3
  local dir="$TMP/$server-c$conns-r$round" rate count tag out
  local perf=""
  [[ "${PERF:-0}" == 1 && $server == donatio && $round == 1 && $conns == "${CONNS##* }" ]] && perf=perf
  if [[ $server == donatio ]]; then start_donatio "$dir" $perf; rate=$DONATIO_RATE; else start_peer "$dir"; rate=$PEER_RATE; fi
  count=$(( (rate * DUR_S + THREADS - 1) / THREADS ))
  tag="${server:0:1}${conns}r${round}"
  # Generated right before the run: the signature timestamp must be within 300 s of the
  # server's clock while the run lasts. One generator process per wrk thread, in parallel.
  local gen_pids=() t
  for t in $(seq 0 $(( THREADS - 1 ))); do
    timeout 300 python3 "$HERE/gen_events.py" --out "$SHM/ev" --threads "$THREADS" --only-thread "$t" --count "$count" \
      --tag "$tag" --port "$PORT" --secret "$SECRET" --campaign "$CAMPAIGN" >"$dir/gen-$t.txt" &
    gen_pids+=($!)
  done
  for t in "${gen_pids[@]}"; do wait "$t"; done
  out="$dir/wrk.txt"
  WH_EVENTS="$SHM/ev" timeout -k 5 "$WRK_TIMEOUT" wrk -t"$THREADS" -c"$conns" -d"$DURATION" --latency \
    -s "$HERE/webhooks.lua" "http://127.0.0.1:$PORT/webhooks/stripe" >"$out" 2>&1 || {
      echo "run.sh: wrk failed ($server c$conns r$round):" >&2; cat "$out" >&2; stop_server; return 1; }
  rm -f "$SHM"/ev-*.req
  sleep 1  # requests in flight when wrk stopped are still committed; let them land
  local rss rows
  rss=$(vmhwm_mb "$SERVER_PID")
  stop_server
  rows=$(count_rows "$server" "$dir")
  awk -v rss="$rss" -v rows="$rows" '
    /^WH_SENT/ { sent=$2; answers=$4; ok=$6; bad=$8; sock=$10; exh=$12; rt=$14 }
    /^WH_P50_US/ { p50=$2; p99=$6 }
    END { printf "%.0f %.2f %.2f %s %d %d %d %d %d %s\n", ok / (rt / 1e6), p50 / 1000, p99 / 1000, rss, sent, ok, bad, sock, exh, rows }
  ' "$out"
}

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.2f\n", (a[NR/2]+a[NR/2+1])/2}'; }

SERVERS=(donatio)
[[ "$PEER" == 1 ]] && SERVERS+=(peer)
declare -A EPS P50 P99 RSS CHECK
echo "# donatio webhook ingest benchmark: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), wrk -t$THREADS -d$DURATION, $ROUNDS rounds, donatio threads=$SERVER_THREADS"
echo "# $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?') $DONATIO"
printf "%-5s %-7s %5s %9s %8s %8s %7s %8s %8s %6s %5s %4s %9s %9s %8s %8s %s\n" \
  round server conns "events/s" "p50 ms" "p99 ms" "RSS MB" sent 2xx non2xx sock exh events donations receipts outbox rows==sent
for round in $(seq 1 "$ROUNDS"); do
  for conns in $CONNS; do
    for server in "${SERVERS[@]}"; do
      result=$(run_one "$server" "$conns" "$round")
      read -r eps p50 p99 rss sent ok bad sock exh ev don rec outb <<<"$result"
      key="$server-$conns"
      EPS[$key]+="$eps "; P50[$key]+="$p50 "; P99[$key]+="$p99 "; RSS[$key]+="$rss "
      # Every event wrk wrote is unique; in-flight ones at the stop still commit, so the
      # stored events must equal `sent`, and at least the 2xx answers.
      ok_rows=$([[ "$ev" == "$sent" && "$don" == "$sent" && "$bad" == 0 && "$exh" == 0 ]] && echo yes || echo NO)
      [[ "$ok_rows" == yes ]] || CHECK[$key]=NO
      printf "%-5s %-7s %5s %9s %8s %8s %7s %8s %8s %6s %5s %4s %9s %9s %8s %8s %s\n" \
        "$round" "$server" "$conns" "$eps" "$p50" "$p99" "$rss" "$sent" "$ok" "$bad" "$sock" "$exh" "$ev" "$don" "$rec" "$outb" "$ok_rows"
    done
  done
done

echo
echo "| server | conns | events/s (median) | p50 ms | p99 ms | peak RSS MB | rows == sent (all runs) |"
echo "|---|---|---|---|---|---|---|"
for conns in $CONNS; do
  for server in "${SERVERS[@]}"; do
    key="$server-$conns"
    echo "| $server | $conns | $(echo "${EPS[$key]}" | median) | $(echo "${P50[$key]}" | median) | $(echo "${P99[$key]}" | median) | $(echo "${RSS[$key]}" | median) | ${CHECK[$key]:-yes} |"
  done
done
if [[ "$PEER" == 1 ]]; then
  echo
  for conns in $CONNS; do
    d=$(echo "${EPS[donatio-$conns]}" | median); p=$(echo "${EPS[peer-$conns]}" | median)
    awk -v d="$d" -v p="$p" -v c="$conns" 'BEGIN { printf "ratio donatio/peer at %s connections: %.1fx\n", c, d / p }'
  done
  c64=${CONNS##* }
  d=$(echo "${EPS[donatio-$c64]}" | median); p=$(echo "${EPS[peer-$c64]}" | median)
  p99=$(echo "${P99[donatio-$c64]}" | median); rss=$(echo "${RSS[donatio-$c64]}" | median)
  awk -v d="$d" -v p="$p" -v p99="$p99" -v rss="$rss" -v rows="${CHECK[donatio-$c64]:-yes}" -v c="$c64" 'BEGIN {
    printf "targets at %s connections: >= 5x peer: %s (%.1fx); p99 < 20 ms: %s (%.2f); RSS < 64 MB: %s (%s); rows == sent: %s\n",
      c, (d >= 5 * p ? "met" : "NOT met"), d / p, (p99 < 20 ? "met" : "NOT met"), p99, (rss < 64 ? "met" : "NOT met"), rss, rows }'
fi
