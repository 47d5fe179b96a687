-- wrk script: sends pre-generated, signed Stripe webhook requests (bench/webhooks/gen_events.py),
-- each exactly once. wrk's Lua has no HMAC, so the events are signed ahead of the run (with a
-- fresh timestamp) and this script only cycles through them — without wrapping around: a thread
-- whose file runs out stops, so a repeat is never sent.
--
-- Env: WH_EVENTS=PREFIX (files PREFIX-<thread>.req, one per wrk thread; wrk -t must equal the
-- generator's --threads). Each record: 8 decimal digits of length + the complete HTTP request.
-- done() prints "WH_SENT n WH_ANSWERS n WH_2XX n ..." and the latency
-- percentiles in microseconds. The counters are globals of each thread's Lua state, which the
-- main state reads in done() through thread:get().

local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local data, pos, size
local verified = false
sent, exhausted = 0, 0  -- globals: read by done() via thread:get

function init(args)
  local prefix = os.getenv("WH_EVENTS") or error("WH_EVENTS not set")
  local f = assert(io.open(prefix .. "-" .. tid .. ".req", "rb"))
  data = f:read("*a")
  f:close()
  pos, size = 1, #data
end

function request()
  if pos > size then
    if exhausted == 0 then
      exhausted = 1
      wrk.thread:stop()
    end
    -- wrk may still ask for a request before it stops; an empty GET to a 404 path is harmless
    -- and visible as non-2xx, never a repeated event.
    return "GET /__events_exhausted HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
  end
  local len = tonumber(data:sub(pos, pos + 7))
  local req = data:sub(pos + 8, pos + 7 + len)
  if tid == 0 and not verified then
    -- wrk calls request() once on thread 0's state before the run (script_verify_request, to
    -- count pipelined requests) and never sends that one: hand out the same record again.
    verified = true
    return req
  end
  pos = pos + 8 + len
  sent = sent + 1
  return req
end

function done(summary, latency, requests)
  local s, e = 0, 0
  for _, t in ipairs(threads) do
    s = s + (t:get("sent") or 0)
    e = e + (t:get("exhausted") or 0)
  end
  -- No response() callback (it would cost client CPU on every answer): wrk's own summary
  -- counts answers with status > 399 in errors.status; 3xx is never sent by either server.
  local bad = summary.errors.status
  io.write(string.format("WH_SENT %d WH_ANSWERS %d WH_2XX %d WH_NON2XX %d WH_SOCKERR %d WH_EXHAUSTED %d WH_RUNTIME_US %d\n",
    s, summary.requests, summary.requests - bad, bad,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout, e,
    summary.duration))
  io.write(string.format("WH_P50_US %d WH_P90_US %d WH_P99_US %d WH_MAX_US %d\n",
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
