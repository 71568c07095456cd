// Shipper: the life of a past UTC day after its last row, one phase at a time, each recorded in
// the days index (days_index.h; docs/s3.md is the contract):
//
//  1. seal     every table of staging/days/<D>/otel/ is rewritten into large sorted zstd files,
//              checkpointed (+ _last_checkpoint), and stripped of everything the checkpoint does
//              not need (lake::DeltaTableWriter::Seal). Local-only instances seal too.
//  2. upload   to <s3 days root>/<D>/otel/<table>/: first the data files (bounded parallelism,
//              multipart above the part size, each file retried with backoff; files already
//              there with the right size are skipped, so a rerun resumes), then per table the
//              checkpoint, the commit(s), and _last_checkpoint last — a reader never sees a
//              commit whose files are missing. Remote objects the sealed table does not have
//              (left by an earlier attempt) are deleted after that.
//  3. verify   per table, from S3 alone: the Delta log read back (the same snapshot loader the
//              query engine uses) has the sealed version, every referenced file exists with the
//              size the log states, its Parquet footer holds the rows the stats say, and the rows
//              add up to the local count of that table.
//  4. clean    only after a successful verify: the local day is moved out of staging/days
//              (atomic rename, so a reader sees the whole day or none of it) and deleted.
//
// Run() looks at the day's status in the index and does only what is left: a verified day is
// never uploaded again; a day whose upload was cut off (kill -9) is uploaded again, skipping what
// arrived. One process ships at a time: Run holds an exclusive lock (flock on index/ship.lock).
//
// Threads: Run blocks (seal: CPU; upload/verify: network); it runs on the caller's thread plus
// `upload_parallelism` upload threads. Not re-entrant; a stop flag makes it return Cancelled
// between files.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "otlake/common/file_util.h"
#include "otlake/common/status.h"
#include "otlake/lake/delta_table.h"
#include "otlake/ship/days_index.h"

namespace arrow::fs {
class FileSystem;
}

namespace otlake::ship {

struct ShipperOptions {
  std::string instance_id;
  std::string instance_root;  ///< <dir>/<instance_id>
  /// S3 (null: local-only — days are sealed and stay).
  std::shared_ptr<arrow::fs::FileSystem> s3;
  std::string s3_days_root;  ///< "<bucket>/<prefix>/<instance_id>/days" on `s3`
  std::string s3_days_uri;   ///< the same as s3://…, for the index and messages
  lake::SealOptions seal;
  int upload_parallelism = 4;
  int file_attempts = 5;        ///< tries per file (upload) or remote read (verify)
  int64_t retry_base_ms = 200;  ///< backoff: base, 2*base, 4*base, … (+ jitter)
  bool clean = true;            ///< delete the local day after a successful verify
  const std::atomic<bool>* stop = nullptr;  ///< set: Run returns Cancelled between files
};

/// Progress of the running phase (for the CLI's bar and /healthz).
struct Progress {
  std::string day;
  Phase phase = Phase::kNone;  ///< the phase being run (kSealed = sealing, …)
  int64_t done = 0, total = 0;
  const char* unit = "rows";   ///< "rows" (seal), "bytes" (upload), "tables" (verify)
  int64_t files_done = 0, files_total = 0;
};
using ProgressFn = std::function<void(const Progress&)>;

class Shipper {
 public:
  explicit Shipper(ShipperOptions options);
  ~Shipper();

  /// Runs the phases of `day` (YYYY-MM-DD) not yet done, up to and including `last`
  /// (kSealed: seal only; kCleaned: everything). Without S3, phases after seal fail with a
  /// clear error. Each phase run is recorded (ok or not). Returns the day's status afterwards;
  /// the Status is the first failure (also recorded). `wait_for_lock`: block until another
  /// process's shipping finishes instead of failing with AlreadyExists.
  Result<DayStatus> Run(const std::string& day, Phase last, const ProgressFn& progress = nullptr,
                        bool wait_for_lock = true);

  const ShipperOptions& options() const { return options_; }
  DaysIndex* index() { return &index_; }

  /// The local day folder, staging/days/<day>.
  std::string LocalDayDir(const std::string& day) const;

 private:
  Status Seal(const std::string& day, DayStatus* st, const ProgressFn& progress);
  Status Upload(const std::string& day, DayStatus* st, const ProgressFn& progress);
  Status Verify(const std::string& day, DayStatus* st, const ProgressFn& progress);
  Status Clean(const std::string& day, DayStatus* st);
  Status Record(PhaseRecord r, DayStatus* st);
  bool Stopping() const { return options_.stop != nullptr && options_.stop->load(); }

  ShipperOptions options_;
  DaysIndex index_;
};

/// An exclusive, process-wide lock on shipping for one instance (flock on index/ship.lock).
class ShipLock {
 public:
  /// Status::AlreadyExists when held elsewhere and !wait.
  static Result<std::unique_ptr<ShipLock>> Acquire(const std::string& index_dir, bool wait);
  ~ShipLock();

 private:
  explicit ShipLock(std::unique_ptr<FileLock> lock) : lock_(std::move(lock)) {}
  std::unique_ptr<FileLock> lock_;
};

/// The Delta table names Depths writes in the index: "otel/spans", ….
std::string IndexTableName(const std::string& table);

}  // namespace otlake::ship
