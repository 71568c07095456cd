// DeltaTableWriter: appends RowBatches to one local Delta Lake table as sorted zstd Parquet files,
// one atomic commit per append, with a checkpoint every N commits. docs/delta.md describes the
// files it writes.
//
// Durability and atomicity contract:
//  - A data file is written under a temp name, fsync'd, renamed to part-<seq>-<uuid>.zstd.parquet
//    and its directory fsync'd before any commit references it.
//  - A commit `_delta_log/%020d.json` is written under a temp name, fsync'd, and published with
//    link(2): it appears complete or not at all, and an existing version is never overwritten.
//    If another writer took the version first, Append returns Status::AlreadyExists, removes its
//    now-unreferenced data file, and this writer stays at its old version: reopen to continue.
//  - When Append returns OK the commit is durable. A failing checkpoint does not fail the Append
//    (the commit is already visible); it is retried after the next commit and reported by
//    last_checkpoint_status().
// Threads: a writer is not thread-safe; use one writer per table from one thread at a time.
// This header is Arrow-free (the pipeline includes it).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "otlake/common/status.h"
#include "otlake/table/row_batch.h"
#include "otlake/table/schema.h"

namespace otlake::lake {

struct TableState;  // delta_log.h
struct AddFile;     // delta_log.h
struct DataFileOptions;  // data_file.h

struct WriterOptions {
  /// zstd level of data files. 1 is both faster and (on our data) no larger than 3; 6 saves
  /// ~7% on spans for 2.6x the CPU, better spent once at seal time (docs/delta.md).
  int zstd_level = 1;
  /// Upper bound on rows per Parquet row group.
  int64_t max_row_group_rows = 128 * 1024;
  /// A checkpoint every N commits (at versions that are multiples of N); <= 0 disables them.
  int checkpoint_interval = 10;
  /// Clock for commit timestamps and file modification times; 0 = real clock.
  int64_t now_unix_ms = 0;
  /// The day folder whose readers lock (day_readers.h) guards this table's deletions: Compact
  /// and Seal delete a file that a snapshot may reference only while holding it exclusively.
  /// Empty: the table has no readers to wait for (tools, tests).
  std::string readers_dir;
};

/// What one Append committed.
struct CommitResult {
  int64_t version;        ///< the new table version (unchanged for an empty append)
  int64_t rows;           ///< rows written (0: nothing was committed)
  int64_t file_bytes;     ///< size of the data file
  std::string file;       ///< data file path relative to the table directory ("" if none)
  int64_t min_event_ts;   ///< event_ts range of the rows (ms), 0/0 when rows == 0
  int64_t max_event_ts;
};

/// Compaction during the day (compact.cc): merges many small files into fewer large ones.
struct CompactOptions {
  /// Files with fewer than half this many rows are candidates; merged files grow up to it.
  int64_t target_file_rows = 1'000'000;
  /// Run only when at least this many candidates exist.
  int min_files = 8;
  /// Upper bound on rows merged by one run.
  int64_t max_input_rows = 1'000'000;
  /// Upper bound on the uncompressed bytes (Parquet footers' row-group total_byte_size, known
  /// before reading) merged by one run; <= 0: no bound. A run holds its inputs in memory plus
  /// one output row group, so this bounds compaction's memory (measured in docs/delta.md). A
  /// run still takes at least two files, so it always makes progress.
  int64_t max_input_bytes = 256ll << 20;
  /// zstd level of the merged files.
  int zstd_level = 3;
  /// Removed files are deleted from disk only after this long, for readers outside otlake
  /// (Delta's vacuum retention), and only when no otlake query holds the day (readers_dir);
  /// a run that finds the day held leaves them to a later run.
  int64_t retention_ms = 10 * 60 * 1000;
};

struct CompactResult {
  int64_t version = -1;   ///< commit of the rewrite (-1: nothing to do)
  int64_t files_in = 0, files_out = 0;
  int64_t rows = 0;
  int64_t bytes_in = 0, bytes_out = 0;
  int64_t uncompressed_bytes_in = 0;  ///< inputs' footer sizes (0 when max_input_bytes <= 0)
  int64_t files_deleted = 0;  ///< files removed earlier and now past retention
  int64_t files_deferred = 0;  ///< past retention but left: a query held the day
};

/// Sealing a past day's table (seal.cc): its final layout, written once.
struct SealOptions {
  /// Rows per sealed file at most.
  int64_t target_file_rows = 1'000'000;
  /// Uncompressed input bytes (Parquet footers) per sealed file at most; <= 0: no bound. Sealing
  /// holds one output file's inputs in memory plus one row group, so this bounds its memory. A
  /// single input file larger than this is still rewritten alone.
  int64_t max_file_bytes = 1ll << 30;
  /// zstd level of sealed files (paid once per day, read many times).
  int zstd_level = 9;
  /// Sort key of sealed files; empty = SealLayoutFor(table).
  std::vector<std::string> sort_key;
  /// Rows per row group at most; 0 = the table's (layout.h).
  int64_t max_row_group_rows = 0;
  /// Rows per data page at most; 0 = the table's (layout.h).
  int64_t max_rows_per_page = 0;
  /// How long to wait for running queries of the day (readers_dir) before deleting the files
  /// sealing replaced; past it Seal fails with IOError, having committed everything, and a
  /// rerun deletes them.
  int64_t readers_wait_ms = 10 * 60 * 1000;
  /// Set: stop waiting for readers (Seal returns Cancelled, everything committed). Not owned;
  /// outlives the Seal call.
  const std::atomic<bool>* stop = nullptr;
};

/// The layout sealed files get per table (seal.cc; measurements in bench/README.md): a sort key
/// (empty: the ingest sort key of layout.h) and columns written without a dictionary.
struct SealLayout {
  std::vector<std::string> sort_key;
  std::vector<std::string> plain_columns;
  std::vector<std::string> delta_columns;             ///< DataFileOptions::delta_columns
  /// Rows per data page at most; 0 = the table's (layout.h).
  int64_t max_rows_per_page = 0;
};
SealLayout SealLayoutFor(table::TableId id);

struct SealResult {
  int64_t version = -1;          ///< the table's version after sealing (its checkpoint)
  int64_t rows = 0;              ///< rows in the sealed table (checked against file footers)
  int64_t files = 0, bytes = 0;  ///< live data files after sealing
  int64_t files_before = 0, bytes_before = 0;
  int64_t files_rewritten = 0;   ///< unsealed files merged into sealed ones by this call
  int64_t files_deleted = 0;     ///< unreferenced data and temp files removed
  int64_t log_files_deleted = 0; ///< commits and checkpoints older than the final checkpoint
};

class DeltaTableWriter {
 public:
  /// Opens the Delta table at `table_dir` for table `id`, creating the directory and version 0
  /// (commitInfo + protocol + metaData) if the table has no commit yet. Re-opening an existing
  /// table loads its latest checkpoint (found via _last_checkpoint and a listing of _delta_log)
  /// plus every later commit, restoring its version, live files and txn versions.
  /// Status::Invalid if the table's schema, partitioning or protocol is not what otlake writes
  /// for `id`, or if the log has a gap.
  static Result<std::unique_ptr<DeltaTableWriter>> Open(const std::string& table_dir,
                                                        table::TableId id, WriterOptions opts);

  ~DeltaTableWriter();
  DeltaTableWriter(const DeltaTableWriter&) = delete;
  DeltaTableWriter& operator=(const DeltaTableWriter&) = delete;

  /// Writes all rows of `batches` (all of this writer's table) as one Parquet file sorted by the
  /// table's sort key and commits it as the next version with an `add` carrying full stats.
  /// If `txn` = {appId, v} is given, the same commit records a Delta `txn` action; v must be
  /// greater than TxnVersion(appId) (Status::Invalid otherwise, nothing written), so a replayed
  /// append cannot be committed twice. Empty input (no rows): no file, no commit, version
  /// unchanged, and the txn is not recorded.
  Result<CommitResult> Append(const std::vector<const table::RowBatch*>& batches,
                              std::optional<std::pair<std::string, int64_t>> txn = std::nullopt);

  /// Compacts: when at least `min_files` files hold fewer than `target_file_rows`/2 rows, the
  /// oldest of them in commit order (up to `max_input_rows` rows and `max_input_bytes`
  /// uncompressed bytes, at least two files) are read, merged in the table's sort order,
  /// written as one file and swapped in by one commit (`remove` + `add`, dataChange=false,
  /// operation OPTIMIZE; the new add's stats are the merge of the inputs'). Readers see either
  /// the old files or the new one; the old files stay on disk for `retention_ms` and while a
  /// query holds the day (then a later Compact deletes them). Same threading rule as Append: call it from the writer's
  /// thread, between appends.
  Result<CompactResult> Compact(const CompactOptions& options);

  /// Seals the table (a past day that receives no more rows): every file not yet sealed is
  /// merged, in event-time order, into sorted files of up to `target_file_rows` rows and
  /// `max_file_bytes` uncompressed input bytes at the seal
  /// zstd level (one OPTIMIZE commit per output file, so an interrupted seal keeps its progress
  /// and a rerun continues); then a checkpoint of the final version and `_last_checkpoint` are
  /// written, and everything the final checkpoint does not need is deleted: removed data files,
  /// temp files, older commits and checkpoints, tombstones — once no query holds the day
  /// (WriterOptions::readers_dir, waiting up to `readers_wait_ms`). The row count is checked against the
  /// Parquet footers of the live files (Status::Invalid if the log's stats disagree).
  /// Idempotent: sealing a sealed table rewrites nothing. `progress(rows_done, rows_total)` is
  /// called after each output file. Same threading rule as Append.
  Result<SealResult> Seal(const SealOptions& options,
                          const std::function<void(int64_t, int64_t)>& progress = nullptr);

  /// The latest committed version.
  int64_t version() const;

  /// Latest txn version recorded for `app_id` (from the log and checkpoint), or -1.
  int64_t TxnVersion(const std::string& app_id) const;

  /// Number of data files currently in the table.
  int64_t num_files() const;

  /// OK, or the error of the latest failed checkpoint attempt (retried after the next commit).
  Status last_checkpoint_status() const { return checkpoint_status_; }

  const std::string& table_dir() const { return table_dir_; }
  table::TableId table_id() const { return id_; }

 private:
  DeltaTableWriter(std::string table_dir, table::TableId id, WriterOptions opts,
                   std::unique_ptr<TableState> state);

  int64_t Now() const;
  Status Checkpoint();

  struct RewriteResult {
    int64_t version;
    int64_t bytes;
  };
  /// Reads `inputs`, merges them in `dopts.sort_key` order into one file and commits the swap.
  /// Memory: the inputs (as Arrow arrays) plus one output row group and the sort order.
  Result<RewriteResult> Rewrite(const std::vector<const AddFile*>& inputs,
                                const DataFileOptions& dopts, bool sealed);

  std::string table_dir_;
  std::string log_dir_;
  table::TableId id_;
  WriterOptions opts_;
  std::unique_ptr<TableState> state_;
  bool checkpoint_pending_ = false;
  Status checkpoint_status_;
};

}  // namespace otlake::lake
