// WAL checkpoints off the committing threads: see wal_checkpointer.hpp.
#include "src/store/wal_checkpointer.hpp"

#include <soci/sqlite3/soci-sqlite3.h>
#include <spdlog/spdlog.h>
#include <pthread.h>

#include <algorithm>
#include <climits>

namespace donatio::store {

std::unique_ptr<WalCheckpointer> WalCheckpointer::start(const std::string& path, WalCheckpointerOptions options) {
  sqlite_api::sqlite3* connection = nullptr;
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
  if (sqlite_api::sqlite3_open_v2(path.c_str(), &connection, flags, nullptr) != SQLITE_OK) {
    spdlog::warn("SQLite: cannot open a connection for background checkpoints ({}); commits checkpoint themselves",
                 connection ? sqlite_api::sqlite3_errmsg(connection) : "out of memory");
    sqlite_api::sqlite3_close_v2(connection);
    return nullptr;
  }
  // A connection opens the log only when it first reads; until then a checkpoint on it does
  // nothing at all.
  char* error = nullptr;
  if (sqlite_api::sqlite3_exec(connection, "SELECT count(*) FROM sqlite_schema", nullptr, nullptr, &error) != SQLITE_OK) {
    spdlog::warn("SQLite: the checkpoint connection cannot read the database ({}); commits checkpoint themselves",
                 error ? error : "unknown error");
    sqlite_api::sqlite3_free(error);
    sqlite_api::sqlite3_close_v2(connection);
    return nullptr;
  }
  return std::unique_ptr<WalCheckpointer>(new WalCheckpointer(connection, options));
}

WalCheckpointer::WalCheckpointer(sqlite_api::sqlite3* connection, WalCheckpointerOptions options)
    : connection_(connection), options_(options),
      wait_from_frames_(options.restart_frames),
      wait_step_frames_(options.restart_frames) {
  thread_ = std::thread([this] { run(); });
}

WalCheckpointer::~WalCheckpointer() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  done_.notify_all();
  if (thread_.joinable()) thread_.join();
  sqlite_api::sqlite3_close_v2(connection_);
}

void WalCheckpointer::attach(sqlite_api::sqlite3* connection) {
  // Installing a WAL hook replaces the one behind wal_autocheckpoint: the connection no longer
  // checkpoints on its own.
  sqlite_api::sqlite3_wal_hook(connection, &WalCheckpointer::on_commit, this);
}

WalCheckpointer::Stats WalCheckpointer::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

// Runs on the committing thread right after a commit, its write lock already released; `frames`
// is the length of the log.
int WalCheckpointer::on_commit(void* arg, sqlite_api::sqlite3*, const char*, int frames) {
  auto* self = static_cast<WalCheckpointer*>(arg);
  if (frames < self->options_.start_frames) return SQLITE_OK;
  std::unique_lock lock(self->mutex_);
  if (frames < self->options_.restart_frames) {  // the log has started over
    self->wait_from_frames_ = self->options_.restart_frames;
    self->wait_step_frames_ = self->options_.restart_frames;
  }
  const bool restart_due = frames >= self->wait_from_frames_;
  // A shorter log than at the last request means it has restarted since.
  const int since = frames - self->requested_at_frames_;
  if (!restart_due && since >= 0 && since < self->options_.step_frames) return SQLITE_OK;
  self->requested_at_frames_ = frames;
  const std::uint64_t ticket = ++self->wanted_;
  self->wake_.notify_one();
  if (!restart_due || self->stopping_) return SQLITE_OK;
  ++self->stats_.restart_waits;
  if (!self->done_.wait_for(lock, self->options_.max_wait,
                            [&] { return self->stopping_ || self->covered_ >= ticket; })) {
    ++self->stats_.wait_timeouts;
    self->wait_step_frames_ = std::min(self->wait_step_frames_, 1 << 28) * 2;
    self->wait_from_frames_ = frames + std::min(self->wait_step_frames_, INT_MAX - frames);
  }
  return SQLITE_OK;
}

void WalCheckpointer::run() {
  pthread_setname_np(pthread_self(), "sqlite-ckpt");
  bool warned = false;
  int retry_ms = 1;     // between attempts that leave part of the log behind
  int last_copied = -1;
  for (;;) {
    std::uint64_t ticket = 0;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || wanted_ > covered_; });
      if (stopping_) return;
      ticket = wanted_;  // this checkpoint starts after every commit up to this ticket
    }
    int log = 0;
    int copied = 0;
    const int rc = sqlite_api::sqlite3_wal_checkpoint_v2(connection_, nullptr, SQLITE_CHECKPOINT_PASSIVE, &log, &copied);
    const bool full = rc == SQLITE_OK && copied == log;
    {
      std::lock_guard lock(mutex_);
      if (rc == SQLITE_OK) ++stats_.checkpoints;
      if (full) {
        ++stats_.full;
        covered_ = std::max(covered_, ticket);
      }
    }
    done_.notify_all();
    if (full) {
      warned = false;
      retry_ms = 1;
      last_copied = -1;
      continue;
    }
    // A reader still on an older snapshot keeps part of the log (or another process is
    // checkpointing): try again shortly, backing off to 50 ms while nothing moves (a long report
    // would otherwise keep this thread retrying every millisecond).
    if (rc != SQLITE_OK && rc != SQLITE_BUSY && !warned) {
      spdlog::warn("SQLite background checkpoint failed: {}", sqlite_api::sqlite3_errstr(rc));
      warned = true;
    }
    const bool moved = rc == SQLITE_OK && copied != last_copied;
    last_copied = rc == SQLITE_OK ? copied : last_copied;
    retry_ms = moved ? 1 : std::min(retry_ms * 2, 50);
    std::unique_lock lock(mutex_);
    wake_.wait_for(lock, std::chrono::milliseconds(rc == SQLITE_OK || rc == SQLITE_BUSY ? retry_ms : 100),
                   [this] { return stopping_; });
    if (stopping_) return;
  }
}

}  // namespace donatio::store
