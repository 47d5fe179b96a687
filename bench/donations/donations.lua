-- wrk script for bench/donations/run.sh (issue 3). Two modes, chosen by DON_MODE:
--
--   donatio  POST /v1/donations with a valid JSON donation for DON_CAMPAIGN (CHF 50.00), and
--            with DON_IDEMPOTENCY=1 (default) a unique Idempotency-Key per request, as a Donate
--            button that may retry would send.
--   fake     POST /v1/payment_intents straight at the fake Stripe, shaped like the request
--            donatio's Stripe client sends for that donation: the same form-encoded body (amount,
--            currency, automatic_payment_methods[enabled], receipt_email, description,
--            metadata[campaign], metadata[donation_id]), Authorization: Bearer DON_KEY,
--            Stripe-Version, and a unique Idempotency-Key "donatio-pi-don_<24 hex>" per request.
--
-- Every request is unique (DON_TAG, 8 hex digits per run, + wrk thread + counter), so neither
-- donatio nor the emulator ever answers from an idempotency replay.
-- done() prints "DN_SENT n DN_ANSWERS n DN_2XX n DN_NON2XX n DN_SOCKERR n DN_RUNTIME_US n" and
-- "DN_P50_US n DN_P90_US n DN_P99_US n DN_MAX_US n". DN_SENT counts the requests handed to wrk
-- to write (including those still in flight when wrk stops), read from each thread's state.
--
-- Offered load. DON_RATE=0 (default): every connection sends its next request as soon as the
-- answer to the last one is in (a closed loop: the servers run flat out, and the median is
-- connections / throughput). DON_RATE=r > 0: the requests leave on a fixed schedule of r per
-- second in all (each of the DON_THREADS wrk threads keeps r / DON_THREADS per second, handing
-- the next slot to whichever of its connections is free), so both servers get the same offered
-- load and the latency is what a request meets at that load; a connection still waiting for an
-- answer sends nothing, so the connections stay the bound on what is in flight. wrk starts its
-- latency clock when the request is written, after the wait.

local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local mode, tag, campaign, key, version, idem
local verified = false
local n = 0
sent = 0  -- global: read by done() via thread:get

local donation_body

local rate = tonumber(os.getenv("DON_RATE") or "0") or 0
if rate > 0 then
  local ffi = require("ffi")  -- wrk runs LuaJIT; its Lua has no millisecond clock of its own
  ffi.cdef[[
    typedef struct { long tv_sec; long tv_nsec; } donatio_timespec;
    int clock_gettime(int clock_id, donatio_timespec *tp);
  ]]
  local ts = ffi.new("donatio_timespec")
  local function now_ms()
    ffi.C.clock_gettime(1, ts)  -- CLOCK_MONOTONIC
    return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
  end
  local interval_ms = (tonumber(os.getenv("DON_THREADS") or "2") or 2) * 1000 / rate
  local next_slot = nil
  -- wrk calls delay() before each request and sends it that many milliseconds later.
  function delay()
    local now = now_ms()
    if next_slot == nil then next_slot = now end
    local wait = next_slot - now
    next_slot = next_slot + interval_ms
    if wait <= 0 then return 0 end
    return math.floor(wait + 0.5)
  end
end

function init(args)
  mode = os.getenv("DON_MODE") or "donatio"
  tag = os.getenv("DON_TAG") or "0badbe11"
  campaign = os.getenv("DON_CAMPAIGN") or "bench-campaign"
  key = os.getenv("DON_KEY") or "sk_test_bench"
  version = os.getenv("DON_STRIPE_VERSION") or "2024-06-20"
  idem = (os.getenv("DON_IDEMPOTENCY") or "1") == "1"
  donation_body = string.format(
    '{"campaign":"%s","amount":5000,"currency":"CHF","donor":{"email":"donor@example.org","name":"Bench Donor"}}',
    campaign)
end

local function unique()
  n = n + 1
  return string.format("%s%02x%014x", tag, tid, n)  -- 24 hex digits, like donatio's random_hex(12)
end

local function build()
  if mode == "fake" then
    local donation_id = "don_" .. unique()
    local body = "amount=5000&currency=chf&automatic_payment_methods[enabled]=true" ..
      "&receipt_email=donor%40example.org&description=Donation%20to%20" .. campaign ..
      "&metadata[campaign]=" .. campaign .. "&metadata[donation_id]=" .. donation_id
    return wrk.format("POST", "/v1/payment_intents", {
      ["User-Agent"] = "donatio/0.1",
      ["Accept"] = "*/*",
      ["Accept-Encoding"] = os.getenv("DON_ACCEPT_ENCODING") or "deflate, gzip, br, zstd",
      ["Authorization"] = "Bearer " .. key,
      ["Stripe-Version"] = version,
      ["Content-Type"] = "application/x-www-form-urlencoded",
      ["Idempotency-Key"] = "donatio-pi-" .. donation_id,
    }, body)
  end
  local headers = { ["Content-Type"] = "application/json" }
  if idem then headers["Idempotency-Key"] = "bench-" .. unique() end
  return wrk.format("POST", "/v1/donations", headers, donation_body)
end

function request()
  local req = build()
  if tid == 0 and not verified then
    -- wrk calls request() once on thread 0's state before the run (to count pipelined
    -- requests) and never sends that one: do not count it.
    verified = true
    return req
  end
  sent = sent + 1
  return req
end

function done(summary, latency, requests)
  local s = 0
  for _, t in ipairs(threads) do s = s + (t:get("sent") or 0) end
  -- wrk counts answers with status > 399 in errors.status; neither server sends 3xx.
  local bad = summary.errors.status
  io.write(string.format("DN_SENT %d DN_ANSWERS %d DN_2XX %d DN_NON2XX %d DN_SOCKERR %d DN_RUNTIME_US %d\n",
    s, summary.requests, summary.requests - bad, bad,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.duration))
  io.write(string.format("DN_P50_US %d DN_P90_US %d DN_P99_US %d DN_MAX_US %d\n",
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
