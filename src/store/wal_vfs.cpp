// The WAL write-coalescing VFS shim: see wal_vfs.hpp for what it does and why it is safe.
#include "src/store/wal_vfs.hpp"

#include <soci/sqlite3/soci-sqlite3.h>

#include <algorithm>
#include <cstring>

namespace donatio::store {
namespace {

using sqlite_api::sqlite3_file;
using sqlite_api::sqlite3_int64;
using sqlite_api::sqlite3_io_methods;
using sqlite_api::sqlite3_vfs;

// SQLite's WAL frame header: 24 bytes, the second big-endian word the database size in pages
// after a commit — non-zero only in the last frame of a transaction (its commit frame).
constexpr int kFrameHeaderSize = 24;
// At most this much is held back; a longer run of frames is written in pieces of about this size.
// SQLite's unix VFS writes at most 128 KiB - 1 per call (it masks the length with 0x1ffff).
constexpr int kHoldMax = 120 * 1024;

// A WAL, or the main database file whose connection may open one; both forward every call to
// the default VFS's file. Only a WAL holds writes back.
struct WalFile {
  sqlite3_file base;          // base.pMethods = &kWalMethods
  sqlite3_file* real;         // the default VFS's file, in the same allocation
  bool is_wal;
  WalFile* wal;               // a database file: its connection's WAL while that is open
  WalFile* db;                // a WAL: its database file; nullptr: not known, hold a frame header at most
  sqlite3_int64 last_end;     // where the previous write (held or written) ended; -1: unknown
  sqlite3_int64 held_offset;  // where the held-back run of writes starts
  int held_len;               // 0: nothing held back
  bool commit_page_next;      // the last held write was a commit frame's header: its page ends the commit
  unsigned char* held;        // the held-back bytes (sqlite3_malloc'd, kept for the next commit)
  int held_size;
};

constexpr int kWalFileHead = static_cast<int>((sizeof(WalFile) + 7) & ~std::size_t{7});

sqlite3_vfs* wal_vfs_parent = nullptr;
sqlite3_vfs wal_vfs_shim{};

WalFile* wal_file(sqlite3_file* f) { return reinterpret_cast<WalFile*>(f); }

// Writes what is held back, if anything. Every method but xWrite calls this first.
int wal_write_held(WalFile* w) {
  if (w->held_len == 0) return SQLITE_OK;
  const int len = w->held_len;
  w->held_len = 0;
  const int rc = w->real->pMethods->xWrite(w->real, w->held, len, w->held_offset);
  if (rc != SQLITE_OK) w->last_end = -1;
  return rc;
}

// Appends a write that continues the held-back run; false when it would not fit (nothing held
// changes then).
bool wal_hold(WalFile* w, const void* data, int amount, sqlite3_int64 offset) {
  const int total = w->held_len + amount;
  if (total > kHoldMax) return false;
  if (total > w->held_size) {
    const int size = std::min(kHoldMax, std::max(total, 2 * w->held_size));
    auto* bigger = static_cast<unsigned char*>(sqlite_api::sqlite3_realloc(w->held, size));
    if (bigger == nullptr) return false;
    w->held = bigger;
    w->held_size = size;
  }
  if (w->held_len == 0) w->held_offset = offset;
  std::memcpy(w->held + w->held_len, data, static_cast<std::size_t>(amount));
  w->held_len = total;
  w->last_end = offset + amount;
  return true;
}

bool is_commit_frame_header(const void* data, int amount) {
  if (amount != kFrameHeaderSize) return false;
  const auto* b = static_cast<const unsigned char*>(data);
  return (b[4] | b[5] | b[6] | b[7]) != 0;
}

int wal_close(sqlite3_file* f) {
  WalFile* w = wal_file(f);
  const int held = wal_write_held(w);
  if (w->db != nullptr && w->db->wal == w) w->db->wal = nullptr;
  if (w->wal != nullptr && w->wal->db == w) w->wal->db = nullptr;
  const int rc = w->real->pMethods->xClose(w->real);
  sqlite_api::sqlite3_free(w->held);
  w->held = nullptr;
  return held != SQLITE_OK ? held : rc;
}

int wal_read(sqlite3_file* f, void* out, int amount, sqlite3_int64 offset) {
  WalFile* w = wal_file(f);
  if (int rc = wal_write_held(w); rc != SQLITE_OK) return rc;
  return w->real->pMethods->xRead(w->real, out, amount, offset);
}

// Holds a write that continues the previous one (SQLite appends a transaction's frames back to
// back); true when it was held and nothing more is to be done.
bool wal_try_hold(WalFile* w, const void* data, int amount, sqlite3_int64 offset, int* rc) {
  if (!w->is_wal || offset != w->last_end) return false;
  const bool ends_commit = w->commit_page_next;
  if (!wal_hold(w, data, amount, offset)) return false;
  w->commit_page_next = is_commit_frame_header(data, amount);
  *rc = SQLITE_OK;
  // The commit frame's page completes the transaction, and SQLite publishes it in the WAL index
  // next (shared memory, no call on this file): it goes to the file now. Without the link to the
  // database file (which writes what is held when the write lock is released) at most a frame
  // header waits, for the page behind it.
  if (ends_commit || (w->db == nullptr && amount != kFrameHeaderSize)) *rc = wal_write_held(w);
  return true;
}

int wal_write(sqlite3_file* f, const void* data, int amount, sqlite3_int64 offset) {
  WalFile* w = wal_file(f);
  int rc = SQLITE_OK;
  if (wal_try_hold(w, data, amount, offset, &rc)) return rc;
  // Anything else (the WAL header after a restart, a frame rewritten in place, checksums
  // rewritten at commit, a run longer than the buffer) first writes what is held.
  if (rc = wal_write_held(w); rc != SQLITE_OK) return rc;
  if (wal_try_hold(w, data, amount, offset, &rc)) return rc;  // a run too long for the buffer: a new one
  w->commit_page_next = false;
  rc = w->real->pMethods->xWrite(w->real, data, amount, offset);
  w->last_end = rc == SQLITE_OK ? offset + amount : -1;
  return rc;
}

int wal_truncate(sqlite3_file* f, sqlite3_int64 size) {
  WalFile* w = wal_file(f);
  if (int rc = wal_write_held(w); rc != SQLITE_OK) return rc;
  w->last_end = -1;
  return w->real->pMethods->xTruncate(w->real, size);
}

int wal_sync(sqlite3_file* f, int flags) {
  WalFile* w = wal_file(f);
  if (int rc = wal_write_held(w); rc != SQLITE_OK) return rc;
  return w->real->pMethods->xSync(w->real, flags);
}

int wal_file_size(sqlite3_file* f, sqlite3_int64* size) {
  WalFile* w = wal_file(f);
  if (int rc = wal_write_held(w); rc != SQLITE_OK) return rc;
  return w->real->pMethods->xFileSize(w->real, size);
}

int wal_lock(sqlite3_file* f, int level) {
  WalFile* w = wal_file(f);
  if (int rc = wal_write_held(w); rc != SQLITE_OK) return rc;
  return w->real->pMethods->xLock(w->real, level);
}

int wal_unlock(sqlite3_file* f, int level) {
  WalFile* w = wal_file(f);
  if (int rc = wal_write_held(w); rc != SQLITE_OK) return rc;
  return w->real->pMethods->xUnlock(w->real, level);
}

int wal_check_reserved_lock(sqlite3_file* f, int* out) {
  WalFile* w = wal_file(f);
  if (int rc = wal_write_held(w); rc != SQLITE_OK) return rc;
  return w->real->pMethods->xCheckReservedLock(w->real, out);
}

int wal_file_control(sqlite3_file* f, int op, void* arg) {
  WalFile* w = wal_file(f);
  if (int rc = wal_write_held(w); rc != SQLITE_OK) return rc;
  return w->real->pMethods->xFileControl(w->real, op, arg);
}

int wal_sector_size(sqlite3_file* f) {
  WalFile* w = wal_file(f);
  return w->real->pMethods->xSectorSize(w->real);
}

int wal_device_characteristics(sqlite3_file* f) {
  WalFile* w = wal_file(f);
  return w->real->pMethods->xDeviceCharacteristics(w->real);
}

// Shared memory and memory mapping belong to the database file, never to its WAL; forwarded all
// the same, for completeness.
int wal_shm_map(sqlite3_file* f, int page, int size, int extend, void volatile** out) {
  WalFile* w = wal_file(f);
  if (int rc = wal_write_held(w); rc != SQLITE_OK) return rc;
  if (w->real->pMethods->iVersion < 2) return SQLITE_IOERR;
  return w->real->pMethods->xShmMap(w->real, page, size, extend, out);
}

int wal_shm_lock(sqlite3_file* f, int offset, int n, int flags) {
  WalFile* w = wal_file(f);
  if (int rc = wal_write_held(w); rc != SQLITE_OK) return rc;
  // The end of a write transaction (SQLite's WAL write lock is shared-memory lock 0): frames it
  // wrote and did not commit (a cache spill, then a rollback) are written before another
  // connection may append at the same offsets — as SQLite itself would have written them.
  if (w->wal != nullptr && offset == 0 && (flags & SQLITE_SHM_UNLOCK) != 0) {
    if (int rc = wal_write_held(w->wal); rc != SQLITE_OK) return rc;
  }
  if (w->real->pMethods->iVersion < 2) return SQLITE_IOERR;
  return w->real->pMethods->xShmLock(w->real, offset, n, flags);
}

void wal_shm_barrier(sqlite3_file* f) {
  WalFile* w = wal_file(f);
  wal_write_held(w);
  // SQLite also raises a barrier right before it publishes a commit in the WAL index.
  if (w->wal != nullptr) wal_write_held(w->wal);
  if (w->real->pMethods->iVersion >= 2) w->real->pMethods->xShmBarrier(w->real);
}

int wal_shm_unmap(sqlite3_file* f, int delete_flag) {
  WalFile* w = wal_file(f);
  if (int rc = wal_write_held(w); rc != SQLITE_OK) return rc;
  if (w->real->pMethods->iVersion < 2) return SQLITE_OK;
  return w->real->pMethods->xShmUnmap(w->real, delete_flag);
}

int wal_fetch(sqlite3_file* f, sqlite3_int64 offset, int amount, void** out) {
  WalFile* w = wal_file(f);
  *out = nullptr;
  if (int rc = wal_write_held(w); rc != SQLITE_OK) return rc;
  if (w->real->pMethods->iVersion < 3) return SQLITE_OK;
  return w->real->pMethods->xFetch(w->real, offset, amount, out);
}

int wal_unfetch(sqlite3_file* f, sqlite3_int64 offset, void* page) {
  WalFile* w = wal_file(f);
  if (int rc = wal_write_held(w); rc != SQLITE_OK) return rc;
  if (w->real->pMethods->iVersion < 3) return SQLITE_OK;
  return w->real->pMethods->xUnfetch(w->real, offset, page);
}

const sqlite3_io_methods kWalMethods = {
    3,
    wal_close,
    wal_read,
    wal_write,
    wal_truncate,
    wal_sync,
    wal_file_size,
    wal_lock,
    wal_unlock,
    wal_check_reserved_lock,
    wal_file_control,
    wal_sector_size,
    wal_device_characteristics,
    wal_shm_map,
    wal_shm_lock,
    wal_shm_barrier,
    wal_shm_unmap,
    wal_fetch,
    wal_unfetch,
};

int wal_vfs_open(sqlite3_vfs*, const char* name, sqlite3_file* file, int flags, int* out_flags) {
  const bool is_wal = (flags & SQLITE_OPEN_WAL) != 0;
  if (!is_wal && (flags & SQLITE_OPEN_MAIN_DB) == 0) {
    // A journal or temporary file: the default VFS's own file, in place (the allocation is big enough).
    return wal_vfs_parent->xOpen(wal_vfs_parent, name, file, flags, out_flags);
  }
  WalFile* w = wal_file(file);
  std::memset(w, 0, sizeof(WalFile));
  w->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(file) + kWalFileHead);
  w->last_end = -1;
  w->is_wal = is_wal;
  const int rc = wal_vfs_parent->xOpen(wal_vfs_parent, name, w->real, flags, out_flags);
  if (rc != SQLITE_OK) {
    if (w->real->pMethods != nullptr) w->real->pMethods->xClose(w->real);
    w->base.pMethods = nullptr;
    return rc;
  }
  w->base.pMethods = &kWalMethods;
  if (is_wal && name != nullptr) {
    sqlite3_file* db = sqlite_api::sqlite3_database_file_object(name);
    if (db != nullptr && db->pMethods == &kWalMethods && !wal_file(db)->is_wal) {
      w->db = wal_file(db);
      w->db->wal = w;
    }
  }
  return SQLITE_OK;
}

// Everything but xOpen goes straight to the default VFS.
int wal_vfs_delete(sqlite3_vfs*, const char* name, int sync_dir) {
  return wal_vfs_parent->xDelete(wal_vfs_parent, name, sync_dir);
}
int wal_vfs_access(sqlite3_vfs*, const char* name, int flags, int* out) {
  return wal_vfs_parent->xAccess(wal_vfs_parent, name, flags, out);
}
int wal_vfs_full_pathname(sqlite3_vfs*, const char* name, int size, char* out) {
  return wal_vfs_parent->xFullPathname(wal_vfs_parent, name, size, out);
}
void* wal_vfs_dl_open(sqlite3_vfs*, const char* name) { return wal_vfs_parent->xDlOpen(wal_vfs_parent, name); }
void wal_vfs_dl_error(sqlite3_vfs*, int size, char* out) { wal_vfs_parent->xDlError(wal_vfs_parent, size, out); }
void (*wal_vfs_dl_sym(sqlite3_vfs*, void* handle, const char* symbol))(void) {
  return wal_vfs_parent->xDlSym(wal_vfs_parent, handle, symbol);
}
void wal_vfs_dl_close(sqlite3_vfs*, void* handle) { wal_vfs_parent->xDlClose(wal_vfs_parent, handle); }
int wal_vfs_randomness(sqlite3_vfs*, int size, char* out) {
  return wal_vfs_parent->xRandomness(wal_vfs_parent, size, out);
}
int wal_vfs_sleep(sqlite3_vfs*, int micros) { return wal_vfs_parent->xSleep(wal_vfs_parent, micros); }
int wal_vfs_current_time(sqlite3_vfs*, double* out) { return wal_vfs_parent->xCurrentTime(wal_vfs_parent, out); }
int wal_vfs_get_last_error(sqlite3_vfs*, int size, char* out) {
  return wal_vfs_parent->xGetLastError ? wal_vfs_parent->xGetLastError(wal_vfs_parent, size, out) : 0;
}
int wal_vfs_current_time_int64(sqlite3_vfs*, sqlite3_int64* out) {
  return wal_vfs_parent->xCurrentTimeInt64(wal_vfs_parent, out);
}
int wal_vfs_set_system_call(sqlite3_vfs*, const char* name, sqlite_api::sqlite3_syscall_ptr call) {
  return wal_vfs_parent->xSetSystemCall(wal_vfs_parent, name, call);
}
sqlite_api::sqlite3_syscall_ptr wal_vfs_get_system_call(sqlite3_vfs*, const char* name) {
  return wal_vfs_parent->xGetSystemCall(wal_vfs_parent, name);
}
const char* wal_vfs_next_system_call(sqlite3_vfs*, const char* name) {
  return wal_vfs_parent->xNextSystemCall(wal_vfs_parent, name);
}

bool wal_vfs_register() {
  sqlite3_vfs* parent = sqlite_api::sqlite3_vfs_find(nullptr);
  // The shim forwards version-3 methods; an older default VFS keeps its place.
  if (parent == nullptr || parent->iVersion < 3) return false;
  wal_vfs_parent = parent;
  sqlite3_vfs& v = wal_vfs_shim;
  v.iVersion = 3;
  v.szOsFile = kWalFileHead + parent->szOsFile;
  v.mxPathname = parent->mxPathname;
  v.zName = "donatio-wal";
  v.pAppData = nullptr;
  v.xOpen = wal_vfs_open;
  v.xDelete = wal_vfs_delete;
  v.xAccess = wal_vfs_access;
  v.xFullPathname = wal_vfs_full_pathname;
  v.xDlOpen = wal_vfs_dl_open;
  v.xDlError = wal_vfs_dl_error;
  v.xDlSym = wal_vfs_dl_sym;
  v.xDlClose = wal_vfs_dl_close;
  v.xRandomness = wal_vfs_randomness;
  v.xSleep = wal_vfs_sleep;
  v.xCurrentTime = wal_vfs_current_time;
  v.xGetLastError = wal_vfs_get_last_error;
  v.xCurrentTimeInt64 = wal_vfs_current_time_int64;
  v.xSetSystemCall = wal_vfs_set_system_call;
  v.xGetSystemCall = wal_vfs_get_system_call;
  v.xNextSystemCall = wal_vfs_next_system_call;
  return sqlite_api::sqlite3_vfs_register(&v, 1) == SQLITE_OK;
}

}  // namespace

bool install_wal_coalescing_vfs() {
  static const bool installed = wal_vfs_register();
  return installed;
}

}  // namespace donatio::store
