// WalWriter: the write-ahead log's append side — the ack point of otlake ("acknowledged means
// durable"). docs/wal.md specifies the format and the rules below.
//
// Contract:
// - Append assigns the next LSN (1-based, +1 per record, never reused) and buffers the record in
//   memory; it does no I/O in the normal case. SyncUpTo(lsn) returns OK only once every record
//   with LSN <= lsn is written and fdatasync'd (and the segment's directory entry is synced).
//   Only then may the caller acknowledge those records.
// - Group commit: one caller at a time is the *leader*; it takes every buffered record, frames,
//   writes and fdatasyncs them without holding the lock, then wakes the waiting *followers*. N
//   concurrent SyncUpTo calls cost about one fdatasync, not N.
// - Segments: a new segment file is started at Open (never appended to an old one whose tail may
//   be torn) and when the active one reaches segment_bytes; the old one is fsync'd first. A new
//   segment overwrites a retired one kept for recycling when there is one (docs/wal.md).
// - Failure: if a write or sync fails, SyncUpTo returns IOError and the writer is *failed*: Append
//   and SyncUpTo fail fast with the reason. After a backoff (doubling, retry_backoff_ms up to
//   max_retry_backoff_ms) the next Append/SyncUpTo retries: it starts a fresh segment after the
//   last durable record (a failed fsync leaves a file's state unknown; the old segment is cut back
//   to its last synced size) and rewrites every record not yet durable, so LSNs stay contiguous.
//   Nothing acknowledged before the failure is touched.
// - Asynchronous acks: WhenDurable(lsn, done) never blocks; the writer's sync thread
//   (`otlake-wal`, started on first use) leads the group commits while anyone waits and calls
//   `done` once the record is durable or the log has failed. Every `done` is called exactly
//   once: at the latest by Close() (OK if its record reached the disk) or by the destructor
//   (an error: nothing more is written).
// - Thread-safe; all methods may be called from any thread. Destroying the writer without Close()
//   drops buffered, unsynced records exactly like a crash would (nothing is written).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "otlake/common/metrics.h"
#include "otlake/common/status.h"
#include "otlake/wal/env.h"
#include "otlake/wal/framer.h"

namespace otlake::wal {

struct WalOptions {
  std::string dir;
  Env* env = nullptr;  ///< nullptr: Env::Default() (POSIX). Not owned; must outlive the writer.
  int64_t segment_bytes = 64 << 20;
  /// zstd-compress each record whose compressed form is at least 1/8 smaller (docs/wal.md has
  /// the measurement behind the default).
  bool compress = false;
  int zstd_level = 1;
  /// Append blocks in a SyncUpTo once this many bytes are buffered (bounded memory).
  int64_t max_pending_bytes = 64 << 20;
  /// Retired segments (every record committed) kept as `recycle-*.log` files, up to this many,
  /// for new segments to overwrite in place instead of creating files: their blocks are
  /// allocated and their pages cached, which makes a write a plain copy (docs/wal.md,
  /// "Recycling"). 0: delete retired segments.
  int recycle_segments = 4;
  int retry_backoff_ms = 100;
  int max_retry_backoff_ms = 5000;
};

class WalWriter {
 public:
  /// Opens the log for appending after recovery: starts a NEW segment whose first LSN is
  /// `next_lsn` (RecoveryStats::next_lsn). Fails if a segment already starts after `next_lsn`.
  static Result<std::unique_ptr<WalWriter>> Open(WalOptions opts, int64_t next_lsn);

  ~WalWriter();
  WalWriter(const WalWriter&) = delete;
  WalWriter& operator=(const WalWriter&) = delete;

  /// Assigns the next LSN to `payload` and buffers it; returns the LSN. No I/O wait (unless
  /// max_pending_bytes are buffered). IOError while the log is failed; CapacityError above
  /// kMaxPayloadBytes.
  Result<int64_t> Append(std::string_view payload);
  /// Like Append(payload) for the payload made of `parts` one after another: the record is built
  /// from the views (one copy of each byte), so a caller with a header and a body need not
  /// concatenate them first. The bytes logged are identical to Append of the concatenation.
  Result<int64_t> Append(std::span<const std::string_view> parts);

  /// Blocks until every record with LSN <= lsn is durable. IOError if the write or sync failed
  /// (the writer is then failed; see the contract above). Invalid if lsn > last_lsn().
  Status SyncUpTo(int64_t lsn);

  /// Calls `done(status)` once every record with LSN <= lsn is durable (OK), or with the error
  /// that keeps it from being so (a failed write or sync, a closed writer). Never blocks on I/O:
  /// the writer's sync thread leads the group commits and calls `done` on that thread (or the
  /// caller's, when the answer is already known), so `done` must be quick and must not call
  /// back into this writer -- hand the result to another thread (the HTTP server posts it to
  /// the connection's executor). Invalid if lsn > last_lsn().
  void WhenDurable(int64_t lsn, std::function<void(Status)> done);

  /// Last LSN assigned (0 before the first Append after Open at LSN 1).
  int64_t last_lsn() const;
  /// Every record with LSN <= durable_lsn() is durable.
  int64_t durable_lsn() const { return durable_lsn_.load(std::memory_order_acquire); }
  /// True while failed; `reason` (may be null) receives the error.
  bool failed(std::string* reason) const;

  /// Retires whole segments whose every record has LSN <= lsn (pass the smallest LSN that all
  /// tables have committed past): renames them for recycling while fewer than
  /// recycle_segments are kept, deletes them otherwise. Never touches the active segment.
  Status DeleteSegmentsUpTo(int64_t lsn);

  /// Syncs everything appended and closes the active segment. Later calls fail with Invalid.
  Status Close();

  struct Stats {
    int64_t records = 0;        ///< appended
    int64_t bytes_written = 0;  ///< framed bytes handed to the file system
    int64_t syncs = 0;          ///< successful fdatasyncs
    int64_t segments_created = 0;
    int64_t segments_deleted = 0;   ///< retired: deleted or kept for recycling
    int64_t segments_recycled = 0;  ///< new segments that reused a retired file
  };
  Stats stats() const;

 private:
  struct Pending {
    int64_t lsn;
    std::string bytes;  // the logical record: LSN, flags, payload
  };
  explicit WalWriter(WalOptions opts, int64_t next_lsn);

  // Makes the caller the leader (mu_ held, no leader active): writes and syncs every pending
  // record, publishes the result and wakes the followers.
  Status LeadLocked(std::unique_lock<std::mutex>& lock);
  // Leader only, without mu_: the I/O of one group commit.
  Status WriteBatch(std::deque<Pending>& batch, bool reopen);
  Status OpenSegment(int64_t first_lsn);
  Status FlushScratch(bool sync);
  // Leader (or Close): cuts a finished reused segment back to the bytes written to it.
  Status TrimReused();
  void PublishDurable(int64_t lsn);
  // mu_ held: OK, or the failure status if the backoff has not elapsed yet.
  Status CheckFailedLocked() const;
  // An empty record buffer with room for `size` bytes: a pooled one if one is big enough.
  std::string TakeBuffer(size_t size);
  // Gives the buffers of records that are written back to the pool (within its bounds).
  void ReturnBuffers(std::deque<Pending>& batch);
  // The sync thread: while WhenDurable callers wait, syncs up to the newest LSN they wait for
  // and answers them.
  void SyncLoop();
  // Answers the waiters with LSN <= durable with OK and, if `st` is an error, those with
  // LSN <= failed_through with `st`. Called without waiters_mu_ held.
  void AnswerWaiters(int64_t durable, const Status& st, int64_t failed_through);
  // Stops the sync thread, then answers every waiter left: OK if its record is durable, else
  // `not_durable`. Idempotent; waiters_mu_ not held.
  void StopSyncThread(const Status& not_durable);

  const WalOptions opts_;
  Env* const env_;  // = opts_.env or Env::Default(); outlives this

  mutable std::mutex mu_;
  std::condition_variable cv_;        // signalled when a leader finishes
  int64_t next_lsn_;                  // guarded by mu_
  std::deque<Pending> pending_;       // guarded by mu_: assigned, not yet taken by a leader
  int64_t pending_bytes_ = 0;         // guarded by mu_
  bool leader_active_ = false;        // guarded by mu_
  bool closing_ = false;              // guarded by mu_: Close() started, Append refuses
  bool closed_ = false;               // guarded by mu_
  bool needs_reopen_ = false;         // guarded by mu_: next leader starts a fresh segment
  Status failed_;                     // guarded by mu_: non-OK while failed
  std::chrono::steady_clock::time_point retry_at_;  // guarded by mu_
  int backoff_ms_;                    // guarded by mu_
  int64_t active_first_lsn_ = 0;      // guarded by mu_ (a copy for DeleteSegmentsUpTo)
  Stats stats_;                       // guarded by mu_
  std::mutex delete_mu_;              // serialises DeleteSegmentsUpTo
  std::mutex recycle_mu_;
  std::vector<std::string> recycled_;  // guarded by recycle_mu_: paths of recycle-*.log files
  // Record buffers whose records are written, for Append to reuse: their pages are already
  // faulted in, so a request's record is not a fresh allocation the kernel zero-fills. At most
  // kMaxPooledBuffers buffers and kMaxPooledBytes of capacity in all (wal_writer.cc).
  std::mutex pool_mu_;
  std::vector<std::string> pool_;     // guarded by pool_mu_
  size_t pool_bytes_ = 0;             // guarded by pool_mu_: sum of the pooled capacities
  std::atomic<int64_t> durable_lsn_;  // written by the leader under mu_, read anywhere

  // WhenDurable's waiters and the sync thread that answers them.
  std::mutex waiters_mu_;
  std::condition_variable waiters_cv_;  // signalled when a waiter arrives or the thread stops
  std::multimap<int64_t, std::function<void(Status)>> waiters_;  // guarded by waiters_mu_, by LSN
  bool sync_stop_ = false;                                       // guarded by waiters_mu_
  std::thread sync_thread_;  // started by the first WhenDurable (under waiters_mu_)

  // Owned by the current leader (the thread that set leader_active_; Open/Close/~ when none
  // can run). Handed over through mu_, so no lock is needed to touch them.
  std::unique_ptr<WritableFile> file_;
  std::string file_path_;
  int64_t segment_size_ = 0;    // bytes written to the active segment
  int64_t synced_size_ = 0;     // bytes of it known durable
  int64_t reused_size_ = 0;     // a recycled active segment's size when reused (0: a new file)
  int64_t segment_last_lsn_ = 0;  // last LSN written to the active segment
  int64_t io_bytes_ = 0, io_syncs_ = 0, io_segments_ = 0, io_recycled_ = 0;  // folded into stats_
  Framer framer_;
  std::string scratch_;
};

/// The time of every fdatasync of a WAL segment by any WalWriter in this process (recorded in ns,
/// exposed in seconds): /metrics `otlake_wal_sync_duration_seconds`. Process-wide because a server
/// runs one log; recording is a few relaxed atomic adds on the leader's thread.
metrics::Histogram& SyncHistogram();

}  // namespace otlake::wal
