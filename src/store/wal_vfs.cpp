// The WAL write-coalescing VFS shim: see wal_vfs.hpp for what it does and why it is safe.
#include "src/store/wal_vfs.hpp"

#include <soci/sqlite3/soci-sqlite3.h>

#include <cstring>

namespace donatio::store {
namespace {

using sqlite_api::sqlite3_file;
using sqlite_api::sqlite3_int64;
using sqlite_api::sqlite3_io_methods;
using sqlite_api::sqlite3_vfs;

// A write this small that continues the previous one is a WAL frame header (24 bytes) or the
// WAL file header (32): held back until the page behind it arrives.
constexpr int kWalHoldMax = 32;

struct WalFile {
  sqlite3_file base;                 // base.pMethods = &kWalMethods
  sqlite3_file* real;                // the default VFS's file, in the same allocation
  sqlite3_int64 last_end;            // where the previous write ended; -1: unknown
  sqlite3_int64 held_offset;
  int held_len;                      // 0: nothing held back
  unsigned char held[kWalHoldMax];
  unsigned char* scratch;            // header + page, written as one (sqlite3_malloc'd)
  int scratch_size;
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
  return w->real->pMethods->xWrite(w->real, w->held, len, w->held_offset);
}

int wal_close(sqlite3_file* f) {
  WalFile* w = wal_file(f);
  const int held = wal_write_held(w);
  const int rc = w->real->pMethods->xClose(w->real);
  sqlite_api::sqlite3_free(w->scratch);
  w->scratch = nullptr;
  return held != SQLITE_OK ? held : rc;
}

int wal_read(sqlite3_file* f, void* out, int amount, sqlite3_int64 offset) {
  WalFile* w = wal_file(f);
  if (int rc = wal_write_held(w); rc != SQLITE_OK) return rc;
  return w->real->pMethods->xRead(w->real, out, amount, offset);
}

int wal_write(sqlite3_file* f, const void* data, int amount, sqlite3_int64 offset) {
  WalFile* w = wal_file(f);
  if (w->held_len > 0 && offset == w->held_offset + w->held_len) {
    // The page behind a held-back header: both in one write.
    const int total = w->held_len + amount;
    if (total > w->scratch_size) {
      auto* bigger = static_cast<unsigned char*>(sqlite_api::sqlite3_realloc(w->scratch, total));
      if (bigger == nullptr) {
        if (int rc = wal_write_held(w); rc != SQLITE_OK) return rc;
        return wal_write(f, data, amount, offset);  // nothing held now: written on its own
      }
      w->scratch = bigger;
      w->scratch_size = total;
    }
    std::memcpy(w->scratch, w->held, static_cast<std::size_t>(w->held_len));
    std::memcpy(w->scratch + w->held_len, data, static_cast<std::size_t>(amount));
    const sqlite3_int64 start = w->held_offset;
    w->held_len = 0;
    const int rc = w->real->pMethods->xWrite(w->real, w->scratch, total, start);
    w->last_end = rc == SQLITE_OK ? start + total : -1;
    return rc;
  }
  if (int rc = wal_write_held(w); rc != SQLITE_OK) {
    w->last_end = -1;
    return rc;
  }
  if (amount <= kWalHoldMax && offset == w->last_end) {
    std::memcpy(w->held, data, static_cast<std::size_t>(amount));
    w->held_offset = offset;
    w->held_len = amount;
    w->last_end = offset + amount;
    return SQLITE_OK;
  }
  const int rc = w->real->pMethods->xWrite(w->real, data, amount, offset);
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
  if (w->real->pMethods->iVersion < 2) return SQLITE_IOERR;
  return w->real->pMethods->xShmLock(w->real, offset, n, flags);
}

void wal_shm_barrier(sqlite3_file* f) {
  WalFile* w = wal_file(f);
  wal_write_held(w);
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
  if ((flags & SQLITE_OPEN_WAL) == 0) {
    // Not a WAL: the default VFS's own file, in place (the allocation is big enough).
    return wal_vfs_parent->xOpen(wal_vfs_parent, name, file, flags, out_flags);
  }
  WalFile* w = wal_file(file);
  std::memset(w, 0, sizeof(WalFile));
  w->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(file) + kWalFileHead);
  w->last_end = -1;
  const int rc = wal_vfs_parent->xOpen(wal_vfs_parent, name, w->real, flags, out_flags);
  if (rc != SQLITE_OK) {
    if (w->real->pMethods != nullptr) w->real->pMethods->xClose(w->real);
    w->base.pMethods = nullptr;
    return rc;
  }
  w->base.pMethods = &kWalMethods;
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
