#include "src/outbox/outbox_worker.hpp"

#include <spdlog/spdlog.h>

#include <random>

namespace donatio::outbox {

OutboxWorker::OutboxWorker(store::Database& db, const Clock& clock, http::Metrics& metrics, WorkerOptions options,
                           std::map<std::string, Job> jobs)
    : db_(db), clock_(clock), metrics_(metrics), options_(std::move(options)), jobs_(std::move(jobs)), store_(db) {
  for (const auto& [kind, job] : jobs_) kinds_.push_back(kind);
  metrics_.describe("donatio_outbox_pending", "gauge", "Outbox rows waiting to be processed.");
  metrics_.describe("donatio_outbox_dead", "gauge", "Outbox rows given up after max attempts (need an operator).");
  metrics_.describe("donatio_outbox_processed_total", "counter", "Outbox rows processed by kind and outcome.");
}

OutboxWorker::~OutboxWorker() { stop(); }

void OutboxWorker::start() {
  if (thread_.joinable()) return;
  {
    std::lock_guard lock(mutex_);
    stopping_ = false;
  }
  thread_ = std::thread([this] { loop(); });
}

void OutboxWorker::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void OutboxWorker::nudge() {
  {
    std::lock_guard lock(mutex_);
    nudged_ = true;
  }
  wake_.notify_all();
}

void OutboxWorker::loop() {
  for (;;) {
    int processed = 0;
    try {
      processed = run_once();
    } catch (const std::exception& e) {  // a job bug must not kill the thread
      spdlog::error("{}: unexpected error: {}", options_.name, e.what());
    }
    // The gauges after every idle poll, and at most once a second while draining a backlog.
    const auto now = std::chrono::steady_clock::now();
    if (processed < options_.batch_size || now - gauges_at_ >= std::chrono::seconds(1)) {
      refresh_gauges();
      gauges_at_ = now;
    }
    std::unique_lock lock(mutex_);
    if (stopping_) return;
    // A full batch means more may be due: go again at once.
    if (processed >= options_.batch_size) continue;
    wake_.wait_for(lock, std::chrono::milliseconds(options_.poll_interval_ms), [this] { return stopping_ || nudged_; });
    nudged_ = false;
    if (stopping_) return;
  }
}

void OutboxWorker::refresh_gauges() {
  auto counts = store_.counts();
  if (!counts.ok()) return;
  metrics_.set_gauge("donatio_outbox_pending", "", counts->pending);
  metrics_.set_gauge("donatio_outbox_dead", "", counts->dead);
}

int OutboxWorker::run_once() {
  auto claimed = store_.claim_due(kinds_, options_.batch_size, clock_.now_unix(), options_.lease_s);
  if (!claimed.ok()) {
    spdlog::warn("{}: cannot claim outbox rows: {}", options_.name, claimed.status().message());
    return 0;
  }
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  int processed = 0;
  for (const OutboxItem& item : *claimed) {
    bool stopping = false;
    {
      std::lock_guard lock(mutex_);
      stopping = stopping_;
    }
    if (stopping) {  // hand the rest back so another instance (or the next start) takes them now
      (void)store_.release(item);
      continue;
    }
    const auto started = std::chrono::steady_clock::now();
    JobOutcome outcome;
    try {
      outcome = jobs_.at(item.kind)(item);
    } catch (const std::exception& e) {
      outcome = JobOutcome::Retry(std::string("job failed: ") + e.what());
    }
    const std::int64_t now = clock_.now_unix();
    Result<bool> marked = true;
    std::string label;
    if (outcome.kind == JobOutcome::Kind::done) {
      marked = store_.mark_done(item, now, outcome.detail);
      label = "done";
    } else {
      const bool dead = outcome.kind == JobOutcome::Kind::permanent || item.attempts + 1 >= options_.max_attempts;
      const std::int64_t retry_at =
          now + backoff_seconds(item.attempts + 1, options_.base_backoff_s, options_.max_backoff_s, uniform(rng));
      marked = store_.mark_failed(item, outcome.detail, dead, retry_at, now);
      label = dead ? "dead" : "retry";
      if (dead) {
        spdlog::error("{}: outbox row {} ({}) is dead after {} attempt(s): {}", options_.name, item.id, item.kind,
                      item.attempts + 1, outcome.detail);
      } else {
        spdlog::warn("{}: outbox row {} ({}) failed (attempt {}), retry in {} s: {}", options_.name, item.id,
                     item.kind, item.attempts + 1, retry_at - now, outcome.detail);
      }
    }
    if (!marked.ok()) {
      spdlog::warn("{}: cannot record outcome of outbox row {}: {}", options_.name, item.id, marked.status().message());
    } else if (!*marked) {
      spdlog::warn("{}: lease on outbox row {} was lost before its outcome was recorded", options_.name, item.id);
    }
    metrics_.increment("donatio_outbox_processed_total", "kind=\"" + item.kind + "\",outcome=\"" + label + "\"");
    ++processed;
    rest_if_busy(std::chrono::steady_clock::now() - started);
  }
  return processed;
}

void OutboxWorker::rest_if_busy(std::chrono::steady_clock::duration worked) {
  const int duty = options_.busy_duty_percent;
  if (duty <= 0 || duty >= 100 || !options_.foreground_busy || !options_.foreground_busy()) return;
  const auto rest = std::min<std::chrono::steady_clock::duration>(worked * (100 - duty) / duty, std::chrono::seconds(1));
  std::unique_lock lock(mutex_);
  wake_.wait_for(lock, rest, [this] { return stopping_; });
}

}  // namespace donatio::outbox
