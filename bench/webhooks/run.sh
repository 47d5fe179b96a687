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
#   RECEIPTS=off       off: [smtp] enabled = false, receipt e-mails stay queued in the outbox;
#                      on: smtp.url points at bench/smtp_sink.py on loopback, so the outbox
#                      worker renders receipt PDFs and sends the mails while the ingest runs;
#                      both: an off run and an on run for each round and connection count
#                      (interleaved: off, on, then the peer), and the on/off ratio
#   PERF=1             perf record (cpu-clock, dwarf call graphs) the donatio server during the
#                      round-1 run at the last CONNS (with RECEIPTS=both: the "on" run);
#                      PERF_EVENT=raw_syscalls:sys_enter records every system call instead
#                      (count them per thread with perf script)
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
RECEIPTS=${RECEIPTS:-off}
case "$RECEIPTS" in
  off) MODES=(off) ;; on) MODES=(on) ;; both) MODES=(off on) ;;
  *) echo "run.sh: RECEIPTS must be off, on or both" >&2; exit 2 ;;
esac
DONATIO_RATE=${DONATIO_RATE:-32000}
PEER_RATE=${PEER_RATE:-8000}
SERVER_THREADS=${SERVER_THREADS:-64}
BUILD_DIR=${BUILD_DIR:-build}
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
source "$REPO/bench/lib.sh"
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
# The interpreter itself, not a wrapper (a pyenv shim runs python as its child, and killing the
# shim would leave the SMTP sink running).
PYTHON=$(python3 -c 'import sys; print(sys.executable)')

DUR_S=$(duration_s "$DURATION")
WRK_TIMEOUT=$(( DUR_S + 30 ))

TMP=$(mktemp -d "${TMPDIR:-/tmp}/donatio-whbench.XXXXXX")
SHM=$(mktemp -d /dev/shm/donatio-whbench.XXXXXX 2>/dev/null || mktemp -d "$TMP/events.XXXXXX")
SERVER_PID=""
PERF_PID=""
SINK_PID=""
stop_server() {
  stop_pid "$SERVER_PID" 100
  SERVER_PID=""
  finish_perf "$PERF_PID" "$TMP/perf.data" "${PERF_OUT:-/tmp/donatio-webhooks.perf.data}"
  PERF_PID=""
}
stop_sink() { stop_pid "$SINK_PID" 50; SINK_PID=""; }
cleanup() {
  stop_server
  stop_sink
  rm -rf "$SHM"
  if [[ "${KEEP_TMP:-0}" == 1 ]]; then echo "kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_ready() {  # $1 = url
  wait_http "$1" "$SERVER_PID" && return 0
  echo "run.sh: $1 did not answer (KEEP_TMP=1 keeps the logs in $TMP)" >&2
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
start_sink() {  # $1 = run dir; sets SINK_PORT
  local dir=$1
  "$PYTHON" "$REPO/bench/smtp_sink.py" 0 >"$dir/sink.out" 2>"$dir/sink.err" &
  SINK_PID=$!
  for _ in $(seq 1 100); do
    SINK_PORT=$(awk '/^PORT / { print $2 }' "$dir/sink.out")
    [[ -n "$SINK_PORT" ]] && return 0
    kill -0 "$SINK_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "run.sh: the SMTP sink did not start" >&2; cat "$dir/sink.err" >&2
  return 1
}
# Prints "messages mails_per_s" (rate between its first and last message). Call stop_sink first.
sink_stats() {  # $1 = run dir
  "$PYTHON" - "$1/sink.out" <<'PY'
import json, sys
line = [l for l in open(sys.argv[1]) if l.startswith("{")][-1]
s = json.loads(line)
span = (s["last_at"] - s["first_at"]) if s["messages"] > 1 else 0
print(s["messages"], round(s["messages"] / span) if span > 0 else 0)
PY
}
start_donatio() {  # $1 = run dir, $2 = "perf" or "", $3 = receipts mode (off|on)
  local dir=$1 port smtp
  port=$(free_port)
  mkdir -p "$dir"
  if [[ "${3:-off}" == on ]]; then
    start_sink "$dir"
    smtp=$(printf '[smtp]\nurl = "smtp://127.0.0.1:%s"\nfrom = "receipts@bench.example.org"\nenabled = true\n' "$SINK_PORT")
  else
    smtp=$(printf '[smtp]\nenabled = false\n')
  fi
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

$smtp

[organization]
name = "Bench Foundation"
CONF
  export STRIPE_WEBHOOK_SECRETS=$SECRET
  add_campaign "$dir/donatio.toml" "$CAMPAIGN" "Campaign for bench/webhooks/run.sh." "$dir/campaign.txt"
  local perf_data=""
  [[ "${2:-}" == perf ]] && perf_data=$TMP/perf.data
  serve_donatio "$dir/donatio.toml" "$dir/server.log" "$perf_data" 199
  SERVER_PID=$SERVED_PID
  PERF_PID=$SERVED_PERF_PID
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
      "SELECT (SELECT COUNT(*) FROM events) || ' ' || (SELECT COUNT(*) FROM donations WHERE status='succeeded') || ' ' || (SELECT COUNT(*) FROM receipts) || ' ' || (SELECT COUNT(*) FROM outbox) || ' ' || (SELECT COUNT(*) FROM outbox WHERE kind='receipt_email' AND status='done');"
  else
    timeout 60 sqlite3 "$2/peer.db" \
      "SELECT (SELECT COUNT(*) FROM processed_events) || ' ' || (SELECT COUNT(*) FROM donations WHERE status='succeeded') || ' - - -';"
  fi
}
vmhwm_mb() { awk '/VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || echo "?"; }

# ---------------------------------------------------------------- one run
# Prints: eps p50_ms p99_ms rss_mb sent 2xx non2xx sockerr exhausted events_rows donations_rows receipts outbox
#         mails_done sink_messages sink_mails_per_s cpu_us_per_event
# (cpu_us_per_event: the server's user + system CPU over the whole run, start-up included, per
# event sent — less noisy than events/s on a shared machine, since it does not depend on how
# much of the CPU the server got)
run_one() {
  local server=$1 conns=$2 round=$3 mode=${4:-off}
  local dir="$TMP/$server-$mode-c$conns-r$round" rate count tag out
  local perf=""
  [[ "${PERF:-0}" == 1 && $server == donatio && $round == 1 && $conns == "${CONNS##* }" && $mode == "${MODES[-1]}" ]] && perf=perf
  if [[ $server == donatio ]]; then start_donatio "$dir" "$perf" "$mode"; rate=$DONATIO_RATE; else start_peer "$dir"; rate=$PEER_RATE; fi
  count=$(( (rate * DUR_S + THREADS - 1) / THREADS ))
  tag="${server:0:1}${mode:0:2}${conns}r${round}"
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
      echo "run.sh: wrk failed ($server c$conns r$round):" >&2; cat "$out" >&2; stop_server; stop_sink; return 1; }
  rm -f "$SHM"/ev-*.req
  sleep 1  # requests in flight when wrk stopped are still committed; let them land
  local rss rows mails="- -" ticks
  rss=$(vmhwm_mb "$SERVER_PID")
  ticks=$(cpu_ticks "$SERVER_PID")
  stop_server
  if [[ -n "$SINK_PID" ]]; then stop_sink; mails=$(sink_stats "$dir"); fi
  rows="$(count_rows "$server" "$dir") $mails"
  awk -v rss="$rss" -v rows="$rows" -v ticks="$ticks" -v hz="$(getconf CLK_TCK)" '
    /^WH_SENT/ { sent=$2; answers=$4; ok=$6; bad=$8; sock=$10; exh=$12; rt=$14 }
    /^WH_P50_US/ { p50=$2; p99=$6 }
    END { printf "%.0f %.2f %.2f %s %d %d %d %d %d %s %.0f\n", ok / (rt / 1e6), p50 / 1000, p99 / 1000, rss, sent, ok, bad, sock, exh, rows,
            (sent > 0 ? ticks * 1e6 / hz / sent : 0) }
  ' "$out"
}

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.2f\n", (a[NR/2]+a[NR/2+1])/2}'; }

# Runs: "donatio:off", "donatio:on" (RECEIPTS), then "peer:off" (receipts do not apply to it).
RUNS=()
for mode in "${MODES[@]}"; do RUNS+=("donatio:$mode"); done
[[ "$PEER" == 1 ]] && RUNS+=("peer:off")
label() {  # $1 = server, $2 = mode -> the name shown in the tables
  if [[ $1 == donatio && "$RECEIPTS" != off ]]; then echo "donatio/receipts-$2"; else echo "$1"; fi
}
declare -A EPS P50 P99 RSS CHECK MAILS MRATE CPU
echo "# donatio webhook ingest benchmark: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), wrk -t$THREADS -d$DURATION, $ROUNDS rounds, donatio threads=$SERVER_THREADS, receipts=$RECEIPTS"
echo "# $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?') $DONATIO"
printf "%-5s %-20s %5s %9s %8s %8s %7s %8s %8s %6s %5s %4s %9s %9s %8s %8s %6s %6s %7s %9s %s\n" \
  round server conns "events/s" "p50 ms" "p99 ms" "RSS MB" sent 2xx non2xx sock exh events donations receipts outbox mailed sink "mail/s" "CPU us/ev" rows==sent
for round in $(seq 1 "$ROUNDS"); do
  for conns in $CONNS; do
    for run in "${RUNS[@]}"; do
      server=${run%%:*}; mode=${run#*:}
      # Called in this shell (not in $(...)) so that the cleanup trap knows the server PIDs.
      run_one "$server" "$conns" "$round" "$mode" >"$TMP/result.txt"
      read -r eps p50 p99 rss sent ok bad sock exh ev don rec outb mdone msink mrate cpu <"$TMP/result.txt"
      key="$server-$mode-$conns"
      EPS[$key]+="$eps "; P50[$key]+="$p50 "; P99[$key]+="$p99 "; RSS[$key]+="$rss "
      MAILS[$key]+="$mdone "; MRATE[$key]+="$mrate "; CPU[$key]+="$cpu "
      # Every event wrk wrote is unique; in-flight ones at the stop still commit, so the
      # stored events must equal `sent`, and at least the 2xx answers.
      ok_rows=$([[ "$ev" == "$sent" && "$don" == "$sent" && "$bad" == 0 && "$exh" == 0 ]] && echo yes || echo NO)
      # With receipts on, every mail the worker marked done reached the sink (none lost).
      [[ $mode == on && "$mdone" != "$msink" ]] && ok_rows=NO
      [[ "$ok_rows" == yes ]] || CHECK[$key]=NO
      printf "%-5s %-20s %5s %9s %8s %8s %7s %8s %8s %6s %5s %4s %9s %9s %8s %8s %6s %6s %7s %9s %s\n" \
        "$round" "$(label "$server" "$mode")" "$conns" "$eps" "$p50" "$p99" "$rss" "$sent" "$ok" "$bad" "$sock" "$exh" "$ev" "$don" "$rec" "$outb" "$mdone" "$msink" "$mrate" "$cpu" "$ok_rows"
    done
  done
done

median() { tr ' ' '\n' | grep -v '^$' | grep -v '^-$' | sort -g | awk '{a[NR]=$1} END {if (NR == 0) print "-"; else if (NR%2) print a[(NR+1)/2]; else printf "%.2f\n", (a[NR/2]+a[NR/2+1])/2}'; }

echo
echo "# load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| server | conns | events/s (median) | p50 ms | p99 ms | peak RSS MB | server CPU µs/event | receipt mails sent (median) | mails/s | rows == sent (all runs) |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for conns in $CONNS; do
  for run in "${RUNS[@]}"; do
    server=${run%%:*}; mode=${run#*:}; key="$server-$mode-$conns"
    echo "| $(label "$server" "$mode") | $conns | $(echo "${EPS[$key]}" | median) | $(echo "${P50[$key]}" | median) | $(echo "${P99[$key]}" | median) | $(echo "${RSS[$key]}" | median) | $(echo "${CPU[$key]}" | median) | $(echo "${MAILS[$key]}" | median) | $(echo "${MRATE[$key]}" | median) | ${CHECK[$key]:-yes} |"
  done
done
if [[ "$RECEIPTS" == both ]]; then
  echo
  for conns in $CONNS; do
    on=$(echo "${EPS[donatio-on-$conns]}" | median); off=$(echo "${EPS[donatio-off-$conns]}" | median)
    awk -v on="$on" -v off="$off" -v c="$conns" 'BEGIN {
      printf "receipts on/off at %s connections: %.2f (%s vs %s events/s) -> target >= 0.90: %s\n", c, on / off, on, off, (on >= 0.9 * off ? "met" : "NOT met") }'
  done
fi
if [[ "$PEER" == 1 ]]; then
  echo
  m=${MODES[0]}
  for conns in $CONNS; do
    d=$(echo "${EPS[donatio-$m-$conns]}" | median); p=$(echo "${EPS[peer-off-$conns]}" | median)
    awk -v d="$d" -v p="$p" -v c="$conns" -v m="$m" 'BEGIN { printf "ratio donatio (receipts %s)/peer at %s connections: %.1fx\n", m, c, d / p }'
  done
  c64=${CONNS##* }
  d=$(echo "${EPS[donatio-$m-$c64]}" | median); p=$(echo "${EPS[peer-off-$c64]}" | median)
  p99=$(echo "${P99[donatio-$m-$c64]}" | median); rss=$(echo "${RSS[donatio-$m-$c64]}" | median)
  awk -v d="$d" -v p="$p" -v p99="$p99" -v rss="$rss" -v rows="${CHECK[donatio-$m-$c64]:-yes}" -v c="$c64" 'BEGIN {
    printf "targets at %s connections: >= 5x peer: %s (%.1fx); p99 < 20 ms: %s (%.2f); RSS < 64 MB: %s (%s); rows == sent: %s\n",
      c, (d >= 5 * p ? "met" : "NOT met"), d / p, (p99 < 20 ? "met" : "NOT met"), p99, (rss < 64 ? "met" : "NOT met"), rss, rows }'
fi
