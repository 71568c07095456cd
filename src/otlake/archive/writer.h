// ArchiveWriter: writes every acknowledged record to S3 as the Collector's awss3exporter would
// (docs/archive.md, "Archive (export)"), fed from the WAL -- durable data, never a memory queue.
//
// Contract:
// - Source: WAL records with LSN <= durable_lsn() (everything acknowledged is durable first), in
//   LSN order, from the archived position in ArchiveState (cursor.h) on. A batch is a run of
//   consecutive records; it becomes at most one object per signal (none for a signal without
//   records), keyed by KeyLayout at the batch's cut time with a UUIDv7 derived from (salt, signal,
//   LSN range, time) (marshal.h). Batches are cut at `max_object_bytes` of request bodies or once
//   the oldest record waiting is `max_age_ms` old.
// - Exactly once per object: before a batch's objects are written its range and time are saved
//   (PendingBatch); after all are written the archived LSN moves past it, in the same atomic
//   state file. After a crash the pending batch is rebuilt from the WAL byte for byte and written
//   again under the same keys (S3 PUT replaces an object whole), so no record is in two objects
//   and none is lost. A failed write is retried with backoff (doubling up to retry_max_ms) until
//   it succeeds: an S3 outage only delays the archive.
// - Retention: retain_from() is the smallest LSN the archive still needs; the ingestor keeps the
//   WAL segments holding it (ingest::IngestOptions::retain_from). When the WAL kept for the
//   archive exceeds backlog_limit_bytes, the oldest whole segments are given up: their LSN range
//   (and the arrival times at its ends) is recorded as an ArchiveGap, logged as an error and
//   shown in status, and the archive continues after it. Ingest never waits for the archive.
// - Rejected records are never in the WAL bodies the archive reads when the receiver filters
//   them (ingest: the logged body of a partially rejected request holds only accepted records).
// - Threads: Start() runs one thread (`otlake-archive`) that polls every poll_ms; RunOnce is the
//   same pass for tests and `flush`. Status/metrics readers take a mutex held only while
//   copying counters, never during I/O.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "otlake/archive/cursor.h"
#include "otlake/archive/layout.h"
#include "otlake/common/status.h"

namespace arrow::fs {
class FileSystem;
}
namespace otlake::wal {
class TailReader;
}

namespace otlake::archive {

struct ArchiveWriterOptions {
  KeyLayoutOptions layout;      ///< marshaler and compression included
  int compression_level = 0;    ///< 0: library default (gzip 6, zstd 3)
  std::string bucket;           ///< objects are written at "<bucket>/<key>" on `fs`
  std::shared_ptr<arrow::fs::FileSystem> fs;
  /// Create each object's parent directory first: for a local filesystem (tests), never for S3
  /// (arrow::fs would write empty "dir/" marker objects the exporter never writes).
  bool create_dirs = false;
  std::string wal_dir;
  std::string state_dir;        ///< holds state.json (created)
  /// Every WAL record <= this is durable (the ingestor's durable LSN).
  std::function<int64_t()> durable_lsn;
  /// The LSN the next record will get at start (recovery's next LSN): a fresh archive begins
  /// there (records logged before the archive was enabled are not archived; backfill them).
  int64_t start_lsn = 1;
  int64_t max_object_bytes = 16ll << 20;
  int64_t max_age_ms = 60000;
  int64_t backlog_limit_bytes = 4ll << 30;
  int64_t poll_ms = 1000;
  int64_t retry_base_ms = 1000;
  int64_t retry_max_ms = 60000;
  /// Clock (Unix ms); unset: the system clock. Tests move it.
  std::function<int64_t()> now_ms;
  /// Description for status (e.g. "s3://bucket/prefix"), no secrets.
  std::string target;
};

class ArchiveWriter {
 public:
  /// Loads (or creates) the state and validates the layout. No thread yet.
  static Result<std::unique_ptr<ArchiveWriter>> Open(ArchiveWriterOptions options);
  ~ArchiveWriter();

  /// Starts the background thread.
  void Start();
  /// Stops the thread (a write in flight finishes or fails first); then, if `flush`, one more
  /// pass that cuts whatever is waiting (a failure leaves it for the next start). Idempotent.
  void Stop(bool flush = true);

  /// One pass: finish a pending batch, check the backlog limit, cut and write batches that are
  /// due (all waiting records when `flush_all`). Errors are write failures (the state is intact).
  Status RunOnce(bool flush_all = false);

  /// The smallest WAL LSN the archive still needs (WAL segments holding it and later are kept).
  int64_t retain_from() const { return retain_from_.load(std::memory_order_acquire); }

  /// The /healthz "archive" object.
  std::string StatusJson() const;
  /// Prometheus text lines (otlake_archive_*).
  std::string MetricsText() const;
  /// A copy of the durable state.
  ArchiveState state() const;

 private:
  explicit ArchiveWriter(ArchiveWriterOptions options, KeyLayout layout);
  struct Batch;
  int64_t Now() const;
  void Loop();
  Status Save();
  Status WriteBatch(Batch& batch);
  Status ReadBatch(int64_t first_lsn, int64_t last_lsn, Batch* batch, int64_t* missing_from,
                   int64_t* missing_to);
  Status CheckBacklog(int64_t now);
  void AddGap(ArchiveGap gap);
  void Publish();

  const ArchiveWriterOptions options_;
  const KeyLayout layout_;
  const std::string state_path_;

  // Owned by the pass (one at a time: pass_mu_); copied into the published fields under mu_.
  std::mutex pass_mu_;
  ArchiveState state_;
  int64_t last_cut_ms_ = 0;
  int64_t oldest_waiting_arrival_ms_ = 0;  // arrival of record archived_lsn+1 when known
  int64_t backlog_bytes_ = 0;
  int64_t retry_ms_ = 0;
  int64_t next_try_ms_ = 0;

  mutable std::mutex mu_;  // the published copy for status readers
  ArchiveState published_;
  int64_t pub_backlog_bytes_ = 0, pub_oldest_ms_ = 0, pub_durable_ = 0;
  std::string last_error_;
  int64_t last_error_ms_ = 0, last_success_ms_ = 0, failures_ = 0;

  std::unique_ptr<Batch> scratch_;          // the batch being filled (pass_mu_)
  std::unique_ptr<wal::TailReader> tail_;  // follows the WAL between passes (pass_mu_)
  std::atomic<int64_t> retain_from_{1};
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stop_ = false;  // guarded by stop_mu_
  std::thread thread_;
};

}  // namespace otlake::archive
