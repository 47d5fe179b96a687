// SQLite WAL checkpoints on a thread of their own, so that a committing writer never copies the
// log into the database or waits for the disk to sync it.
//
// By default SQLite checkpoints inside the commit that grows the log past 1,000 pages: that
// commit copies every page and calls fdatasync twice, and the webhook writer — the one thread
// every event goes through — stalled for it about every eighth group commit (14 % of its CPU,
// plus the time blocked on the disk, and the slowest answers). Here every pooled connection's
// automatic checkpoint is off; a commit hook wakes this thread once the log holds
// `start_frames` pages, and it runs PASSIVE checkpoints (which never block writers or readers)
// on its own connection, one per `step_frames` new pages while commits keep coming (not one per
// commit: each checkpoint syncs the log and the database, and many small commits — donation
// creation — would keep the disk syncing).
//
// The log only starts over from the beginning when a writer begins a transaction while every
// page of it is already in the database, which a busy writer never sees by chance. So when a
// commit leaves the log at `restart_frames` pages or more, that commit waits (at most
// `max_wait`) for a checkpoint begun after it to finish — usually the last one or two group
// commits' worth, since the thread has kept up — and the writer's next transaction restarts the
// log. A reader on an old snapshot (a long report) keeps the log from being copied whole: a wait
// that ends in vain pushes the next one twice as far out, so the log grows meanwhile, as it
// would with SQLite's own checkpoints, instead of every commit waiting. The WAL thus stays around
// `restart_frames` pages (32 MB at the 2 KiB pages of a database donatio creates); each restart
// costs the committing writer one short checkpoint wait, so the longer the log, the rarer the
// slow answer.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace sqlite_api {
struct sqlite3;
}

namespace donatio::store {

struct WalCheckpointerOptions {
  int start_frames = 1000;   // SQLite's own automatic checkpoint starts here too
  int restart_frames = 16000;
  int step_frames = 256;     // between start and restart: a checkpoint per this many new frames
  std::chrono::milliseconds max_wait{200};
};

class WalCheckpointer {
 public:
  // Opens its own connection to the SQLite database at `path` (already in WAL mode) and starts
  // the thread. Null when the connection cannot be opened (the caller then keeps SQLite's
  // automatic checkpoints).
  static std::unique_ptr<WalCheckpointer> start(const std::string& path, WalCheckpointerOptions options = {});
  // Stops the thread and closes its connection. Detach every connection first (or close them).
  ~WalCheckpointer();
  WalCheckpointer(const WalCheckpointer&) = delete;
  WalCheckpointer& operator=(const WalCheckpointer&) = delete;

  // Turns off `connection`'s automatic checkpoints and hands them to this thread.
  void attach(sqlite_api::sqlite3* connection);

  struct Stats {
    std::uint64_t checkpoints = 0;      // completed PASSIVE checkpoints
    std::uint64_t full = 0;             // ... that copied the whole log
    std::uint64_t restart_waits = 0;    // commits that waited for the log to be copied
    std::uint64_t wait_timeouts = 0;    // ... in vain (max_wait passed)
  };
  Stats stats() const;

 private:
  WalCheckpointer(sqlite_api::sqlite3* connection, WalCheckpointerOptions options);
  static int on_commit(void* self, sqlite_api::sqlite3* connection, const char* database, int frames);
  void run();

  sqlite_api::sqlite3* connection_;
  const WalCheckpointerOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;  // the thread: a checkpoint is wanted, or stop
  std::condition_variable done_;  // committers: a checkpoint finished
  std::uint64_t wanted_ = 0;      // commits that asked for a checkpoint (a ticket each)
  std::uint64_t covered_ = 0;     // every ticket up to this one is in the database
  int requested_at_frames_ = 0;   // the log's length when a checkpoint was last asked for
  // Commits wait from this length on: restart_frames, and after a wait in vain twice as far
  // out as the last time (a reader on an old snapshot keeps the log from being copied whole;
  // SQLite's own checkpoints let the log grow then, and so does this, rather than stall commit
  // after commit). Back to restart_frames once the log has started over.
  int wait_from_frames_ = 0;
  int wait_step_frames_ = 0;
  bool stopping_ = false;
  Stats stats_;
  std::thread thread_;
};

}  // namespace donatio::store
