// A thin SQLite VFS over the platform's default one that writes each commit's WAL frames with
// one system call instead of two per frame.
//
// SQLite appends a frame to the write-ahead log as two writes: the 24-byte frame header, then the
// page right behind it, and a commit is a run of such frames. On this kind of machine (a VM where
// every system call is expensive, and the kernel's buffered-write path costs per call and per
// page cache page touched) the webhook writer's commits were mostly those writes. The shim holds
// back writes to a WAL that continue exactly where the previous one ended, up to 120 KiB, and
// writes the run as one pwrite — the same bytes at the same offsets:
//  * when the commit frame's page arrives (its header's database-size field is non-zero: the
//    last frame of a transaction), because SQLite publishes the commit in the WAL index (shared
//    memory, no call on the WAL file) right after; the shared-memory barrier SQLite raises before
//    that publication writes it too;
//  * before anything else touches the WAL (any other write, read, sync, truncate, lock, size,
//    file control or close);
//  * when the connection releases SQLite's WAL write lock (shared-memory lock 0 on the database
//    file): frames of a transaction that spilled pages and then rolled back reach the file before
//    another connection may append at the same offsets, as SQLite would have written them.
// A WAL is linked to its database file through sqlite3_database_file_object(); when that link is
// not available, at most a frame header is held, until its page. Main database files are wrapped
// only for that link (every call forwarded); journals and temporary files are the default VFS's
// own.
#pragma once

namespace donatio::store {

// Registers the shim as the process's default SQLite VFS (once; later calls return the first
// answer). False when it could not be registered; SQLite then keeps its own default.
bool install_wal_coalescing_vfs();

}  // namespace donatio::store
