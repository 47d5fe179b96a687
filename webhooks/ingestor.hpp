// EventIngestor: one writer thread that applies verified Stripe events with group commit.
// Request threads (or the HTTP event loop) verify and parse, then hand the event over and wait
// (or leave a callback); the writer takes whatever has queued up (up to max_batch), applies
// the events inside ONE transaction (their campaign and daily totals added up and written once
// at its end, ledger.hpp DeferredTotals), commits, and only then answers every waiter. An event
// that throws (a database error) makes the writer roll the attempt back and apply the batch
// again with each event in its own savepoint, so that only that event is refused. A waiter therefore
// hears "ok" only after its event is durable; if the commit fails, every event of the batch
// gets an error (the webhook answers 5xx and Stripe retries). The answers (and the commit
// observers before them) go out on a second thread, so the writer starts the next batch while
// the waiters of the last one are woken — one futex wake each. Thread-safe: submit() from any
// thread. On PostgreSQL several instances each run their own writer; row locks and the unique
// event id keep them from double-applying.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <string>
#include <thread>

#include "donatio/clock.hpp"
#include "src/store/database.hpp"
#include "webhooks/event.hpp"
#include "webhooks/ledger.hpp"

namespace donatio::webhooks {

struct IngestResult {
  Status status;         // not ok: nothing was committed for this event
  ApplyOutcome outcome;  // valid when status is ok
};

struct IngestorOptions {
  LedgerSettings ledger;
  std::size_t max_batch = 256;
  std::size_t max_queue = 20000;  // beyond this submit() answers unavailable at once
};

class EventIngestor {
 public:
  EventIngestor(store::Database& db, const Clock& clock, IngestorOptions options,
                std::function<void(const std::vector<ApplyOutcome>&)> on_commit = {});
  ~EventIngestor();  // drains the queue, then stops the writer

  // Gets the result of one submitted event exactly once: on the ingestor's answer thread after
  // the batch committed (or failed), or at once on the submitting thread when the queue is full
  // or the ingestor stopping. Must be quick: the answers of a whole batch go out one by one.
  using Done = std::function<void(IngestResult)>;

  // `event` was parsed from `raw` after its signature was verified.
  std::future<IngestResult> submit(StripeEvent event, std::string raw, std::string source);
  void submit(StripeEvent event, std::string raw, std::string source, Done done);
  // A signed event that did not parse: stored as failed.
  std::future<IngestResult> submit_unparseable(std::string id, std::string type, std::string raw, std::string error,
                                               std::string source);
  void submit_unparseable(std::string id, std::string type, std::string raw, std::string error, std::string source,
                          Done done);
  // submit + wait.
  IngestResult apply(StripeEvent event, std::string raw, std::string source);
  // True while events are arriving (one was submitted in the last 250 ms): background work
  // that competes for the CPU and the database (the receipt mail worker) then holds back.
  bool busy() const;

 private:
  struct Item {
    bool parsed = true;
    StripeEvent event;
    std::string raw;
    std::string source;
    std::string error;
    std::promise<IngestResult> promise;  // answered unless `done` is set
    Done done;
    void answer(IngestResult result) {
      if (done) {
        done(std::move(result));
      } else {
        promise.set_value(std::move(result));
      }
    }
  };
  // A committed (or failed) batch on its way to its waiters.
  struct Answers {
    std::deque<Item> items;
    std::vector<IngestResult> results;
    std::vector<ApplyOutcome> outcomes;  // of the events that committed
  };
  void enqueue(Item item);
  static Item event_item(StripeEvent event, std::string raw, std::string source);
  static Item unparseable_item(std::string id, std::string type, std::string raw, std::string error,
                               std::string source);
  void run();
  void answer_loop();
  Answers write_batch(std::deque<Item> batch);
  ApplyOutcome apply_item(store::Sql& sql, const Item& item, std::int64_t now, DeferredTotals* deferred) const;

  store::Database& db_;
  const Clock& clock_;
  IngestorOptions options_;
  std::function<void(const std::vector<ApplyOutcome>&)> on_commit_;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<Item> queue_;
  bool stopping_ = false;
  std::atomic<std::int64_t> last_submit_ms_{0};  // steady clock
  std::mutex answers_mutex_;
  std::condition_variable answers_ready_;
  std::deque<Answers> answers_;
  bool answers_stopping_ = false;
  std::thread answerer_;
  std::thread writer_;
};

}  // namespace donatio::webhooks
