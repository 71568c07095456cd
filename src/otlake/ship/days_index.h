// The days index: `index/days.jsonl`, one JSON line per shipping phase of a day (append-only,
// fdatasync'd), in Depths' record format plus otlake's fields, and `index/day.json` (the array
// of all records, rewritten atomically after each append, as Depths keeps it). docs/s3.md
// specifies the records.
//
// Phases move forward: sealed -> uploaded -> verified -> cleaned. Every record says whether the
// phase succeeded ("ok"); a failed phase leaves the day where it was, counts a failure and keeps
// the error for the next retry. Folding the records gives each day's DayStatus, which is how the
// shipper resumes after a restart (a verified day is never redone) and how `otlake days`, the
// query engine's `auto` rule and /healthz know where a day is.
//
// Thread-safe for appends from several threads of one process; appends from several processes
// are serialised by the ship lock (shipper.h). Arrow-free.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "otlake/common/status.h"

namespace otlake::ship {

enum class Phase : int { kNone = 0, kSealed = 1, kUploaded = 2, kVerified = 3, kCleaned = 4 };

/// "none", "sealed", "uploaded", "verified", "cleaned".
const char* PhaseName(Phase p);
/// Parses a phase name; false if unknown.
bool ParsePhase(const std::string& name, Phase* p);

/// Per-table facts of one phase record.
struct TableEntry {
  std::string name;          ///< "otel/spans" (Depths' spelling)
  int64_t rows = -1;         ///< -1: unknown
  int64_t version = -1;
  int64_t files = -1, bytes = -1;
  int64_t duration_ms = -1;
  // seal
  int64_t files_before = -1, bytes_before = -1, files_rewritten = -1;
  int64_t wal_lsn = -1;  ///< the WAL position the table had committed when sealed (txn version)
  // upload
  int64_t files_uploaded = -1, files_skipped = -1, bytes_uploaded = -1;
  // verify
  int64_t local_rows = -1;
  std::optional<bool> ok;
  std::string error;
};

/// One line of days.jsonl.
struct PhaseRecord {
  std::string instance_id;
  std::string day;  ///< YYYY-MM-DD
  Phase phase = Phase::kNone;
  bool ok = true;
  std::string error;   ///< why the phase failed (empty if ok)
  std::string reason;  ///< Depths' short reason code ("upload_errors", "row_count_mismatch", ...)
  std::string when_utc;
  int64_t duration_ms = -1;
  int attempt = 0;     ///< 1 for the first try of this phase of this day, 2 for the retry, ...
  std::string target;  ///< s3://bucket/prefix/instance/days/D (upload, verify)
  std::vector<TableEntry> tables;
  // Totals (Depths: local.rows/version for sealed, remote.rows for verified, upload counts).
  int64_t rows = -1, version = -1, files = -1, bytes = -1;
  int64_t uploaded = -1, skipped = -1;
  std::vector<std::string> errors;  ///< first errors (at most 3), Depths' upload.errors
};

/// The current UTC time as Depths writes when_utc: "YYYY-MM-DDTHH:MM:SSZ".
std::string WhenUtcNow();

/// Encodes `r` as one compact JSON line (no newline), Depths' shape plus otlake's fields.
std::string EncodeRecord(const PhaseRecord& r);
/// Parses one line (otlake's or Depths' own records). Status::Invalid for malformed JSON.
Result<PhaseRecord> DecodeRecord(const std::string& line);

/// What the records say about one day.
struct DayStatus {
  std::string day;
  Phase done = Phase::kNone;  ///< the furthest phase that succeeded
  int failures = 0;           ///< consecutive failed attempts since the last success
  Phase failed_phase = Phase::kNone;
  std::string last_error;     ///< of the latest failed attempt (cleared by a success)
  std::string last_when_utc;  ///< of the latest record
  std::string target;         ///< where it was uploaded
  PhaseRecord sealed;         ///< the latest successful seal (tables: rows, version, files, bytes)
  PhaseRecord verified;       ///< the latest successful verification
  std::map<Phase, int> attempts;  ///< records per phase
  /// A verify found the S3 copy wrong and no upload has succeeded since: upload every file
  /// again (none already there is trusted, whatever its size).
  bool distrust_remote = false;
};

class DaysIndex {
 public:
  /// `index_dir` = <instance>/index (created if missing).
  explicit DaysIndex(std::string index_dir);

  /// Appends `r` to days.jsonl (fdatasync'd) and refreshes day.json. Fills when_utc if empty.
  Status Append(PhaseRecord r);

  /// Every record in file order. Malformed lines are skipped and counted in *bad (if given).
  Result<std::vector<PhaseRecord>> ReadAll(int* bad = nullptr) const;

  /// The fold of ReadAll() per day, by day.
  Result<std::map<std::string, DayStatus>> Load() const;

  const std::string& jsonl_path() const { return jsonl_; }

 private:
  std::string dir_, jsonl_, snapshot_;
};

/// Applies one record to a day's status (what FoldRecords does per record). A failed verify
/// with reason "mismatch" sends the day back to "sealed": it is uploaded again.
void ApplyRecord(const PhaseRecord& r, DayStatus* s);

/// Folds records (in order) into per-day statuses.
std::map<std::string, DayStatus> FoldRecords(const std::vector<PhaseRecord>& records);

}  // namespace otlake::ship
