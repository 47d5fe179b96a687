# Helpers shared by bench/campaigns.sh, bench/donations/run.sh and bench/webhooks/run.sh.
# Source it after `set -euo pipefail`; it only defines functions. Servers listen on 127.0.0.1.

# wrk -d accepts 10s / 1m / 1h / plain seconds; the timeout around wrk needs seconds.
duration_s() {
  local d=$1
  case "$d" in
    *ms) echo 1 ;;
    *s) echo "${d%s}" ;;
    *m) echo $(( ${d%m} * 60 )) ;;
    *h) echo $(( ${d%h} * 3600 )) ;;
    *) echo "$d" ;;
  esac
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# SIGTERM, wait up to $2 tenths of a second (default 150), then SIGKILL.
stop_pid() {  # $1 = pid ("" = nothing to stop), $2 = tenths of a second
  local pid=$1 tries=${2:-150}
  [[ -n "$pid" ]] || return 0
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 "$tries"); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# After the server it recorded has stopped: waits for perf to write its data, copies it to $3.
finish_perf() {  # $1 = perf pid, $2 = perf.data, $3 = where to keep it
  [[ -n "$1" ]] || return 0
  for _ in $(seq 1 300); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  cp "$2" "$3" && echo "# perf data: $3" >&2
}

# 0 once `url` answers 2xx; 1 when `pid` died or 15 s passed.
wait_http() {  # $1 = url, $2 = pid of the server
  for _ in $(seq 1 150); do
    curl -fsS -o /dev/null --max-time 1 "$1" 2>/dev/null && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# One CHF campaign through the CLI; its output goes to $4 (printed when it fails).
add_campaign() {  # $1 = config, $2 = slug, $3 = description, $4 = log
  timeout 30 "$DONATIO" campaign add --config "$1" --slug "$2" --title "Bench campaign" \
    --currency CHF --goal 100000000 --category general --description "$3" >"$4" 2>&1 ||
    { cat "$4" >&2; return 1; }
}

# Starts `$DONATIO serve --config $1` with its output in $2. With $3 (a perf.data path) it runs
# as the child of `perf record` (perf cannot attach to a running process on this VM: -p records
# no samples) sampling at $4 Hz. Sets SERVED_PID (donatio itself) and SERVED_PERF_PID ("" without
# perf).
serve_donatio() {  # $1 = config, $2 = log, $3 = perf.data or "", $4 = perf frequency
  SERVED_PERF_PID=""
  if [[ -n "${3:-}" ]]; then
    # PERF_EVENT (e.g. raw_syscalls:sys_enter) records that event instead, every occurrence,
    # without call graphs: a census of system calls or context switches per thread.
    local how=(-e cpu-clock --call-graph dwarf,16384 -F "${4:-199}")
    [[ -n "${PERF_EVENT:-}" ]] && how=(-e "$PERF_EVENT" -c 1)
    perf record "${how[@]}" -o "$3" -- \
      "$DONATIO" serve --config "$1" >"$2" 2>"$2.perf" &
    SERVED_PERF_PID=$!
    SERVED_PID=""
    for _ in $(seq 1 50); do
      SERVED_PID=$(pgrep -P "$SERVED_PERF_PID" || true)
      [[ -n "$SERVED_PID" ]] && break
      sleep 0.1
    done
  else
    "$DONATIO" serve --config "$1" >"$2" 2>&1 &
    SERVED_PID=$!
  fi
}

# CPU time a process has used so far (user + system, all threads), in clock ticks (1/100 s).
cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
