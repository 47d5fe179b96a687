// OutboxWorker: a background thread that drains outbox rows of some kinds. Each poll claims a
// small batch under a lease (see OutboxStore), runs the job for each row outside any database
// transaction, then marks it done, schedules a retry with exponential backoff and jitter, or
// marks it dead after max_attempts (or at once when the job says retrying cannot help).
// Gauges donatio_outbox_pending / donatio_outbox_dead are refreshed after every poll.
// Thread-safety: start()/stop()/run_once() from the owning thread; nudge() from any thread.
// Claims never overlap, so several workers (threads or instances) may drain one table.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "donatio/clock.hpp"
#include "donatio/status.hpp"
#include "src/http/metrics.hpp"
#include "src/outbox/outbox_store.hpp"

namespace donatio::outbox {

// What a job tells the worker. Ok → done. retry → try again later (counts an attempt).
// permanent → dead now: retrying the same work cannot succeed (bad recipient, unknown row).
struct JobOutcome {
  enum class Kind { done, retry, permanent } kind = Kind::done;
  std::string detail;  // for last_error / logs; never a secret
  static JobOutcome Done(std::string note = {}) { return {Kind::done, std::move(note)}; }
  static JobOutcome Retry(std::string why) { return {Kind::retry, std::move(why)}; }
  static JobOutcome Permanent(std::string why) { return {Kind::permanent, std::move(why)}; }
};

using Job = std::function<JobOutcome(const OutboxItem&)>;

struct WorkerOptions {
  std::string name = "outbox";       // thread/log label
  int poll_interval_ms = 500;
  int batch_size = 8;
  std::int64_t lease_s = 120;        // must exceed the longest job (SMTP timeout) by a margin
  std::int64_t base_backoff_s = 5;
  std::int64_t max_backoff_s = 3600;
  int max_attempts = 8;              // failed attempts before a row is dead
  // While `foreground_busy()` says the service is busy with more urgent work (webhooks
  // arriving), the worker works at most `busy_duty_percent` of the time: after a job that took
  // t it rests t·(100 − duty)/duty (at most 1 s) before the next. Mail can wait seconds; a
  // webhook answer cannot. Unset or 100: no resting.
  std::function<bool()> foreground_busy;
  int busy_duty_percent = 100;
};

class OutboxWorker {
 public:
  // `jobs`: kind → job; only those kinds are claimed. db, clock and metrics outlive the worker.
  OutboxWorker(store::Database& db, const Clock& clock, http::Metrics& metrics, WorkerOptions options,
               std::map<std::string, Job> jobs);
  ~OutboxWorker();
  OutboxWorker(const OutboxWorker&) = delete;
  OutboxWorker& operator=(const OutboxWorker&) = delete;

  void start();
  // Finishes the job in hand (bounded by its own timeouts), hands the rest of the claimed
  // batch back, then joins. Idempotent.
  void stop();
  // Claims and processes one batch; returns how many rows were processed.
  int run_once();
  // Wakes the thread now instead of at the next poll.
  void nudge();

 private:
  void loop();
  void refresh_gauges();
  void rest_if_busy(std::chrono::steady_clock::duration worked);

  std::chrono::steady_clock::time_point gauges_at_{};  // last refresh_gauges(), loop thread only
  store::Database& db_;
  const Clock& clock_;
  http::Metrics& metrics_;
  WorkerOptions options_;
  std::map<std::string, Job> jobs_;
  std::vector<std::string> kinds_;
  OutboxStore store_;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool nudged_ = false;
};

}  // namespace donatio::outbox
