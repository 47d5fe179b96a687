// A thin SQLite VFS over the platform's default one that writes each WAL frame with one system
// call instead of two.
//
// SQLite appends a frame to the write-ahead log as two writes: the 24-byte frame header, then the
// page right behind it. On this kind of machine (a VM where every system call is expensive) the
// webhook writer's commits were mostly those writes: about 3.4 frames per event, 7 pwrite calls.
// The shim holds back a write of at most 32 bytes that continues exactly where the previous write
// to the same WAL ended (a frame header) and writes it together with the next write when that one
// continues it (the page): the same bytes at the same offsets, in one pwrite. A held-back write
// is written before anything else touches the file (any other write, read, sync, truncate, lock,
// size, file control or close), so it never outlives the frame it belongs to: SQLite writes a
// frame's header and page back to back and only then updates the WAL index that makes a commit
// visible. Files other than WALs (the database, its shared-memory index, journals) are opened by
// the default VFS untouched.
#pragma once

namespace donatio::store {

// Registers the shim as the process's default SQLite VFS (once; later calls return the first
// answer). False when it could not be registered; SQLite then keeps its own default.
bool install_wal_coalescing_vfs();

}  // namespace donatio::store
