// Ingestor: the ack point. It puts each accepted request into the write-ahead log, hands its rows
// to the pipeline, and returns only when the log record is fdatasync'd (group commit across
// concurrent requests). On start it replays every WAL record not yet contained in a committed
// Delta version -- exactly once per table, using the `txn` version each commit carries -- and
// deletes WAL segments once every table has committed past them.
//
// Order: a sequencer lock makes "assign LSN, buffer rows" atomic, so rows reach every open batch
// in LSN order and a flush always commits a prefix of the log (see buffer/pipeline.h).
//
// Threads: Submit() and WhenDurable() run on HTTP threads and never wait for the disk: the WAL's
// sync thread answers WhenDurable (Ingest() is Submit + a blocking wait, for callers without an
// event loop); recovery runs in Open() before the server accepts traffic. The pipeline's flusher
// thread runs at the same CPU
// priority as the HTTP threads: it was niced (+5) while handlers blocked on the fsync, but once
// they stopped blocking, a niced flusher fell behind under saturation and the memory budget
// turned the backlog into 429s (goodput -25% measured: bench/README.md "Asynchronous acks").
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "otlake/buffer/pipeline.h"
#include "otlake/common/status.h"
#include "otlake/ingest/record.h"
#include "otlake/otlp/decode.h"

namespace otlake::wal {
class WalWriter;
}

namespace otlake::ingest {

struct IngestOptions {
  std::string wal_dir;
  int64_t wal_segment_bytes = 64ll << 20;
  int wal_recycle_segments = 4;  ///< wal::WalOptions::recycle_segments
  bool wal_compress = false;
  /// WAL segments written with O_DIRECT (wal::Env::DirectIo; buffered where the file system has
  /// no O_DIRECT): measured cheaper than copying every byte into the page cache (docs/wal.md).
  bool wal_direct_io = true;
  int max_nesting_depth = 64;
  buffer::PipelineOptions pipeline;  ///< make_durable/committed_through are set by the Ingestor
  /// For a day whose table folder is gone (shipped and cleaned, ship/): the WAL position that
  /// table had committed when it was sealed, or -1 if unknown. Recovery skips records up to it
  /// instead of bringing a shipped day back. Unset: no day has left.
  std::function<int64_t(int64_t day, table::TableId table)> shipped_lsn;
  /// The smallest LSN another reader of the WAL still needs (the archive writer, archive/);
  /// segments holding it or later records are not deleted. Unset: no such reader.
  std::function<int64_t()> retain_from;
  /// When set, a request with rejected records (partial success) is logged as the protobuf
  /// request of its accepted records only (archive/filter.h), so a reader of WAL bodies (the
  /// archive) never sees a rejected record; the rows are the same. On error it is logged as
  /// received. Unset: every request is logged as received.
  std::function<Result<std::string>(const Record& record)> accepted_only;
};

/// What start-up recovery found and did.
struct RecoveryReport {
  int64_t records = 0;           ///< valid WAL records read
  int64_t replayed_records = 0;  ///< records with rows for some table not yet committed
  int64_t replayed_rows = 0;     ///< rows handed to the pipeline again
  int64_t skipped_rows = 0;      ///< rows whose table had already committed the record
  int64_t corrupt_records = 0;
  int64_t truncated_tail_bytes = 0;
  int64_t stale_tail_bytes = 0;  ///< old bytes after the records of recycled segments (not damage)
  int64_t padding_bytes = 0;     ///< direct-I/O zero padding after the last records (not damage)
  int64_t undecodable_records = 0;  ///< payloads that failed to parse or decode (reported)
  int64_t next_lsn = 1;
  std::string problems;  ///< human-readable, empty if none
  /// Record::origin of every valid record read (durable), in LSN order; sources/ uses them to
  /// mark the objects whose records made it before a crash (docs/sources.md).
  std::vector<std::string> origins;
};

class Ingestor {
 public:
  /// Recovers the WAL into the tables (committing everything replayed), then opens the log for
  /// appending and starts the pipeline.
  static Result<std::unique_ptr<Ingestor>> Open(IngestOptions options);
  ~Ingestor();

  /// Where Ingest spent its time (ns): taking the sequencer lock + logging + buffering, and
  /// waiting for the WAL's group commit.
  struct Timing {
    int64_t buffer_ns = 0, sync_ns = 0;
  };
  /// Logs and buffers one decoded request without waiting for the disk: returns the LSN of its
  /// WAL record (0 if it had no rows: nothing to wait for). It may be acknowledged once
  /// WhenDurable(lsn) answers OK. CapacityError (-> 429) when over the memory bound (nothing
  /// logged); IOError (-> 503) when the log is failing. `timing` (may be null) receives the
  /// buffer phase.
  Result<int64_t> Submit(const Record& record, otlp::DecodeResult* decoded, Timing* timing = nullptr);
  /// Calls `done(status)` once the WAL record `lsn` (from Submit) is durable, or with the error
  /// that keeps it from being so (-> 503); on the WAL's sync thread or the caller's, so `done`
  /// must only hand the answer over (wal::WalWriter::WhenDurable).
  void WhenDurable(int64_t lsn, std::function<void(Status)> done);
  /// Submit, then wait until the record is durable. `timing` also receives the sync phase.
  Status Ingest(const Record& record, otlp::DecodeResult* decoded, Timing* timing = nullptr);

  /// Stops the pipeline (flush + commit everything), closes the log and deletes the segments
  /// every table has committed past. Idempotent.
  Status Stop();

  /// Keeps the WAL segments holding records logged from now on (LSN >= the next one) from being
  /// deleted until ReleaseSegments(hold): sources/ holds them while an object's records are
  /// durable but its completion is not yet recorded, so recovery can always find them
  /// (docs/sources.md "Exactly once"). Returns the hold's id.
  int64_t HoldSegments();
  void ReleaseSegments(int64_t hold);

  buffer::Pipeline* pipeline() { return pipeline_.get(); }
  const RecoveryReport& recovery() const { return recovery_; }
  /// False (with the reason) while the WAL or the table writes are failing.
  bool Ok(std::string* reason) const;
  /// True (with the reason) while the WAL cannot be written or synced.
  bool WalFailing(std::string* reason) const;
  /// The memory bound of the pipeline's open batches (--max-buffered-bytes); the receiver counts
  /// request bodies against the same bound (server::MemoryBudget).
  int64_t max_buffered_bytes() const { return options_.pipeline.max_buffered_bytes; }
  /// Its low watermark (0: 80% of the bound).
  int64_t low_buffered_bytes() const { return options_.pipeline.low_buffered_bytes; }

  struct WalStats {
    int64_t last_lsn = 0, durable_lsn = 0, committed_lsn = 0, syncs = 0, bytes_written = 0,
            segments_deleted = 0, segments_recycled = 0;
  };
  WalStats wal_stats() const;

 private:
  explicit Ingestor(IngestOptions options);
  Status Recover();
  Status MakeDurable(int64_t lsn);
  void CommittedThrough(int64_t lsn);

  IngestOptions options_;
  std::unique_ptr<buffer::Pipeline> pipeline_;
  std::unique_ptr<wal::WalWriter> wal_;
  std::atomic<wal::WalWriter*> wal_ptr_{nullptr};  // set once the log is open
  std::atomic<int64_t> recovered_last_lsn_{0};     // records <= this are durable already
  std::mutex seq_mu_;                              // orders LSN assignment with Append
  std::mutex holds_mu_;
  std::map<int64_t, int64_t> holds_;  // hold id -> first LSN it keeps; guarded by holds_mu_
  int64_t next_hold_ = 1;             // guarded by holds_mu_
  int64_t DeletableThrough(int64_t lsn);
  RecoveryReport recovery_;
  bool stopped_ = false;
};

}  // namespace otlake::ingest
