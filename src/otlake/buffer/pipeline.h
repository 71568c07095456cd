// Pipeline: the open batches per (UTC day, table) between decode and the Delta tables.
//
// Data flow: the receiver decodes a request into table::TableBatches and calls Append(), which
// files every row under the UTC day of the request's *arrival* (DESIGN.md: a sealed day never
// reopens) and returns; the request is acknowledged after that. A background flusher thread
// writes a batch as one Parquet file + one Delta commit when it reaches `flush_rows` rows,
// `flush_bytes` bytes or `flush_age_ms` age, and flushes a past day's batches as soon as the UTC
// day rolls over (a timer, no traffic needed). Stop() flushes and commits everything.
//
// With a write-ahead log (wal/), every appended request carries its WAL position (LSN). Rows of
// one (day, table) are appended in LSN order, so a flush commits a prefix; the Delta commit records
// the highest LSN it covers as a `txn` action {appId: txn_app_id, version: LSN}, which is how
// recovery knows, table by table, which WAL records are already in the lake. Before committing,
// the flusher calls make_durable(max LSN) so no commit ever holds rows whose WAL record could
// still vanish. committed_through(X) reports that every record with LSN <= X is fully committed
// (its segments may go).
//
// Failures: a failed write keeps the rows in memory and retries with backoff; health() reports
// ok=false with the error until a write succeeds again. Memory is bounded: Append fails with
// Status::CapacityError (-> 503 + Retry-After) while more than `max_buffered_bytes` are buffered.
// What the flusher holds besides the open batches -- a batch's Parquet conversion while it is
// written, a compaction run's decoded inputs -- counts against the same limit while it is held
// (BufferedBytes, CheckCapacity: the batch's size again, or what Arrow's memory pool holds if that
// is more). Compaction waits while the buffers and the flusher hold more than half the low
// watermark, reads at most min(compact_max_input_bytes, max_buffered_bytes / 16) footer bytes
// (but two files) and at most the rows that 3/8 of max_buffered_bytes held as the table's last
// batch (so a merged file stops growing there), and counts twice that batch size, up to half the
// budget, while it runs; `otlake start` keeps flush_bytes at most max_buffered_bytes / 8. Batches count their vectors' capacities (what decoding reserved),
// not just their sizes. After each write and compaction the flusher returns freed heap memory to
// the kernel (malloc_trim).
//
// Threads: Append and the health accessors are thread-safe; one flusher thread owns the Delta
// writers.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "otlake/common/status.h"
#include "otlake/table/row_batch.h"

namespace otlake::buffer {

struct PipelineOptions {
  /// Directory that holds the day folders: <instance>/staging/days.
  std::string days_dir;
  int64_t flush_rows = 256 * 1024;
  int64_t flush_bytes = 128ll << 20;
  int64_t flush_age_ms = 5000;
  int64_t max_buffered_bytes = 1ll << 30;
  int zstd_level = 1;  // measured: as small as 3 and faster (docs/delta.md)
  int checkpoint_interval = 10;
  /// Below this many buffered bytes an overloaded pipeline accepts again (hysteresis); 0 means
  /// 80% of max_buffered_bytes.
  int64_t low_buffered_bytes = 0;
  /// Clock in Unix ms (injectable for tests of rollover).
  std::function<int64_t()> now_ms;
  /// Makes WAL records up to `lsn` durable before rows from them are committed. Unset: no WAL.
  std::function<Status(int64_t lsn)> make_durable;
  /// Called by the flusher after commits: every record with LSN <= the argument is committed.
  std::function<void(int64_t lsn)> committed_through;
  /// Delta txn appId recording the WAL position of each commit.
  std::string txn_app_id = "otlake-wal";
  /// Compaction of the tables being written (lake::DeltaTableWriter::Compact), checked every
  /// `compact_interval_ms` on the flusher thread between flushes: merges once a table has
  /// `compact_min_files` files below `compact_target_rows` rows. 0 min files disables it.
  int compact_min_files = 8;
  int64_t compact_interval_ms = 30'000;
  int64_t compact_target_rows = 1'000'000;
  /// Uncompressed bytes one compaction run merges at most (lake::CompactOptions::max_input_bytes):
  /// a run holds its inputs in memory, so this bounds compaction's share of the process. At most
  /// max_buffered_bytes / 16 is used, and what a run holds counts against max_buffered_bytes.
  int64_t compact_max_input_bytes = 256ll << 20;
  /// How long files a compaction replaced stay on disk for readers outside otlake
  /// (lake::CompactOptions::retention_ms); otlake's own queries are waited for regardless.
  int64_t compact_retention_ms = 10 * 60 * 1000;
};

/// Counters for one table, as /healthz reports them.
struct TableHealth {
  int64_t accepted_rows = 0;
  int64_t buffered_rows = 0;
  int64_t buffered_bytes = 0;
  int64_t persisted_rows = 0;
  int64_t flushes = 0;
  int64_t files = 0;
  int64_t write_failures = 0;
  int64_t compactions = 0;        ///< OPTIMIZE commits by this process
  int64_t compacted_files = 0;    ///< small files they replaced
  int64_t replaced_files_deleted = 0;   ///< of those, deleted (past retention, no query held them)
  int64_t replaced_files_deferred = 0;  ///< deletions put off because a query held the day
  int64_t last_commit_unix_ms = 0;
  int64_t last_commit_version = -1;
  int64_t oldest_buffered_unix_ms = 0;  ///< 0 if nothing buffered
  std::string last_error;               ///< empty once a write succeeds again
};

class Pipeline {
 public:
  static Result<std::unique_ptr<Pipeline>> Start(PipelineOptions options);
  ~Pipeline();

  /// Admission control: CapacityError (-> 429) when `bytes` more would pass max_buffered_bytes,
  /// and until the buffers drain below low_buffered_bytes again. Counts each refusal.
  Status CheckCapacity(int64_t bytes);

  /// Takes the rows of `batches` (left empty) and files them under the UTC day of
  /// `arrival_unix_ms`. Without a WAL (lsn == 0) it checks capacity first (CapacityError, nothing
  /// taken). With a WAL the caller checked capacity before logging, and lsn must grow with each
  /// call; then Append fails only when stopping.
  Status Append(table::TableBatches* batches, int64_t arrival_unix_ms, int64_t lsn = 0);

  /// The highest LSN X such that every appended record with LSN <= X is committed.
  int64_t CommittedThroughLsn() const;
  /// Requests refused by CheckCapacity so far.
  int64_t OverloadRejections() const;

  /// Flushes every open batch now and waits for the commits (used by tests and stop).
  Status FlushAll();

  /// Stops the flusher after flushing and committing everything. Idempotent.
  Status Stop();

  /// A snapshot of per-table counters.
  TableHealth Health(table::TableId table) const;
  /// True while writes succeed; false (with `reason`) after a failed write until one succeeds.
  bool Ok(std::string* reason) const;
  /// Rows of the UTC day `day` (days since epoch) that are buffered or being written: 0 means
  /// everything that arrived that day is committed (the shipper seals a day only then).
  int64_t PendingRows(int64_t day) const;
  /// The UTC day currently receiving rows, "YYYY-MM-DD".
  std::string CurrentDay() const;
  /// Bytes in open batches plus what the flusher holds while writing or compacting.
  int64_t BufferedBytes() const;

  class Impl;

 private:
  explicit Pipeline(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace otlake::buffer
