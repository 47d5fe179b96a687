// The fake Stripe for the donation benchmark (bench/donations/run.sh, issue 3): the project's
// Stripe emulator (src/stripe/emulator.hpp — the same one `donatio demo` and the integration
// tests use) on 127.0.0.1, with
// - webhook delivery off;
// - keep-alive connections never closed by the server after N requests (Stripe keeps a client's
//   connection open; the emulator's default of 100 requests per connection would make every
//   client reconnect and hide whether donatio reuses its connections), nor after 5 s idle
//   (cpp-httplib's default): the Stripe client takes its most recently used connection first,
//   so under a dip in load its least used ones sit idle for seconds, and the fake closing them
//   showed up as up to 21 connections for a pool of 16 — reconnects after a server-side idle
//   close, not connections the client failed to reuse;
// - uncompressed answers: with compression on, cpp-httplib brotli-compresses every JSON answer
//   at quality 11 for a client that accepts br (libcurl does), which made the fake itself ~10x
//   slower (230 vs 2,400 req/s) and the bottleneck of both runs; Stripe's compression costs
//   Stripe's CPU, not the 2 cores donatio shares with the fake here.
//
// Usage: bench_stripe_fake [PORT] [SECRET_KEY] [WORKERS] [DELAY_MS]
//   PORT        0 (default): an ephemeral port
//   SECRET_KEY  the only accepted Bearer key (default sk_test_bench)
//   WORKERS     server worker threads (default 32)
//   DELAY_MS    > 0: every POST /v1/payment_intents waits this long before it is processed
//               (the emulator's hang_next; the wait holds no lock), to model Stripe's own
//               latency; 0 (default): answer at once
// Prints "PORT <n>" on stdout once it accepts connections. On SIGTERM or SIGINT it prints one
// JSON line and exits 0:
//   {"connections":C,"requests":R,"payment_intents":P,"distinct_idempotency_keys":K}
// connections = distinct client ports that sent at least one request (one per TCP connection
// from a single loopback client address); requests = every request the emulator answered;
// payment_intents = POST /v1/payment_intents requests; distinct_idempotency_keys among those.
// The first payment intent request's headers (Authorization redacted) and parameters go to
// stderr.
#include <signal.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <set>
#include <string>

#include "src/stripe/emulator.hpp"

int main(int argc, char** argv) {
  // Block the stop signals in every thread (the emulator's threads inherit the mask), then wait
  // for one here.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  donatio::stripe::EmulatorOptions options;
  options.port = argc > 1 ? std::atoi(argv[1]) : 0;
  options.secret_key = argc > 2 ? argv[2] : "sk_test_bench";
  options.worker_threads = argc > 3 ? std::atoi(argv[3]) : 32;
  const int delay_ms = argc > 4 ? std::atoi(argv[4]) : 0;
  options.deliver_webhooks = false;
  options.keep_alive_max_count = 1000000000;
  options.keep_alive_timeout_s = 300;
  options.compress = false;
  donatio::stripe::StripeEmulator emulator(options);
  int port = 0;
  try {
    port = emulator.start();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_stripe_fake: %s\n", e.what());
    return 1;
  }
  if (delay_ms > 0) emulator.hang_next(INT_MAX, delay_ms, "/v1/payment_intents");
  std::printf("PORT %d\n", port);
  std::fflush(stdout);

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);

  const auto requests = emulator.requests();
  long intents = 0;
  std::set<std::string> keys;
  for (const auto& r : requests) {
    if (r.method == "POST" && r.path == "/v1/payment_intents") {
      if (intents == 0) {
        // The first one's headers (Authorization redacted) and decoded parameters on stderr, to
        // check that the direct baseline sends what donatio's client sends.
        for (const auto& [name, value] : r.headers) {
          std::fprintf(stderr, "header %s: %s\n", name.c_str(),
                       name == "authorization" ? "[redacted]" : value.c_str());
        }
        for (const auto& [name, value] : r.params) {
          std::fprintf(stderr, "param %s=%s\n", name.c_str(), value.c_str());
        }
      }
      ++intents;
      if (r.idempotency_key) keys.insert(*r.idempotency_key);
    }
  }
  std::printf(
      "{\"connections\":%d,\"requests\":%zu,\"payment_intents\":%ld,\"distinct_idempotency_keys\":%zu}\n",
      emulator.distinct_connections(), requests.size(), intents, keys.size());
  std::fflush(stdout);
  emulator.stop();
  return 0;
}
