// Replay jobs of the running server: a time window of a Collector-layout archive (S3 or a local
// directory) replayed into this instance's lake through the same ingest path as OTLP/HTTP
// (otlp::DecodeProtobuf, ingest::Ingestor: WAL fsync, memory backpressure, project ids), exactly
// once per object. POST/GET/DELETE /api/replay (replay_api.h) and `otlake replay` (which posts
// here) are its clients; docs/archive.md "Replay into the lake" is the contract.
//
// Exactly once (docs/archive.md, docs/wal.md "Record payload"):
// - The ledger (configs/replay.sqlite, synchronous=FULL) has one row per object version replayed
//   into a project: (project, source, key, size, mtime_ns, event window) -> status, attempt,
//   documents, records. A completed row makes every later replay of that object version into
//   that project skip it without downloading it.
// - Every WAL record of a replayed object carries the origin
//   "replay/<row id>/<attempt>/<document>/<documents>" (ingest::Record::origin, WAL payload
//   version 2, the mechanism sources/ introduced). The row is marked processing (durably) before
//   the first append and completed (durably) after the last record is durable; meanwhile the
//   WAL's segments are held (Ingestor::HoldSegments), so recovery always sees the records.
// - At start the service reconciles rows left processing with the origins recovery read: all
//   documents durable -> completed; the first k -> partial, resumed at document k (same attempt)
//   by the next replay of the object; none -> replayed from the start.
// - Within the process, one object version is replayed into a project by one job at a time;
//   another job wanting it waits, then finds it completed.
//
// Threads: Submit/Get/List/Cancel run on HTTP threads (SQLite and, for Submit, one S3 check);
// each job runs on its own thread with `parallelism` workers (archive::RunReplay), which block on
// S3/disk reads, the WAL's fsync and SQLite. Stop() cancels and joins every job.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "otlake/archive/layout.h"
#include "otlake/common/status.h"

namespace otlake::ingest {
class Ingestor;
}

namespace otlake::archive {

/// One replay's settings: a POST /api/replay body (the Collector's `s3downloader` names) or
/// what `otlake replay` sends. Secrets are write-only: never in an answer, a log or the ledger.
struct ReplayRequest {
  std::string s3_bucket;   // or source_dir
  std::string source_dir;  // an absolute directory on the server with the bucket's layout
  std::string s3_prefix;
  std::string s3_partition_format = std::string(kDefaultPartitionFormat);
  std::string s3_partition_timezone;  // "" = UTC
  std::string file_prefix;
  std::string region;
  std::string endpoint;  // "" = the server's AWS_ENDPOINT_URL / config, else AWS
  bool s3_force_path_style = false;
  std::string access_key_id;      // "" = the server's own credential chain (docs/s3.md)
  std::string secret_access_key;  // write-only
  std::string session_token;      // write-only
  std::string starttime, endtime;
  std::vector<Signal> signals = {Signal::kTraces, Signal::kLogs, Signal::kMetrics};
  bool event_time = false;
  std::string project = "default";
  int parallelism = 4;
};

/// Parses and validates a POST /api/replay body. `key_project` (the API key's project, "" if
/// none) is the default project. Invalid naming the setting: unknown or mistyped fields, bad
/// times, end not after start, unknown directive or zone, no source or two, a relative
/// source_dir, a bad project id, parallelism outside 1-64.
Result<ReplayRequest> ParseReplayRequest(std::string_view json, std::string_view key_project);

/// The request as JSON without its secrets (what answers and the ledger show).
std::string ReplayRequestJson(const ReplayRequest& r);

/// True if an S3 endpoint is configured for the instance (AWS_ENDPOINT_URL / S3_URL in the
/// environment or configs/otlake.env); otherwise replay reads AWS itself.
bool S3EndpointConfigured(const std::string& instance_root);

/// An S3 error that bad settings explain, naming the setting ("" for anything else: unreachable,
/// throttled). `bucket_setting` / `credential_settings` are how the caller names them.
std::string S3SettingProblem(const std::string& message, const std::string& bucket,
                             const std::string& bucket_setting,
                             const std::string& credential_settings);

/// One ledger row: an object version replayed (or being replayed) into a project.
struct ReplayLedgerRow {
  int64_t id = 0;
  std::string status;  // processing | partial | completed
  std::string attempt;
  int64_t resume_doc = 0, docs = 0, records = 0;
};

/// The WAL origin of document `doc` (0-based) of `docs` of ledger row `row`:
/// "replay/<row>/<attempt>/<doc>/<docs>".
std::string MakeReplayOrigin(int64_t row, const std::string& attempt, int64_t doc, int64_t docs);

/// For each row left processing: -1 if all its documents are among `origins` (as
/// ingest::RecoveryReport::origins; other kinds are ignored), else how many leading documents
/// are, counted from its resume point.
std::map<int64_t, int64_t> ReconcileReplayOrigins(const std::vector<ReplayLedgerRow>& processing,
                                                  const std::vector<std::string>& origins);

struct ReplayServiceOptions {
  std::string instance_root;  ///< <dir>/<instance>: the ledger is configs/replay.sqlite
  /// Where replays are ingested (not owned; outlives the service).
  ingest::Ingestor* ingestor = nullptr;
  /// ingest::RecoveryReport::origins of the start-up recovery (exactly-once reconciliation).
  std::vector<std::string> recovered_origins;
  int max_running_jobs = 4;
  int64_t max_object_bytes = int64_t{256} << 20;
  int max_nesting_depth = 64;
  /// Test hook (OTLAKE_REPLAY_TEST_COMPLETE_DELAY_MS): wait this long between an object's last
  /// durable WAL append and marking it completed, so a kill -9 test can land in that window.
  int64_t complete_delay_ms = 0;
};

class ReplayService {
 public:
  /// Opens the ledger, reconciles objects left processing with the recovered origins, and marks
  /// jobs that were running when the process stopped as interrupted.
  static Result<std::unique_ptr<ReplayService>> Start(ReplayServiceOptions options);
  ~ReplayService();
  /// Cancels every running job and waits for it (objects in flight finish). Idempotent.
  void Stop();

  /// Checks the source (directory exists; S3 credentials and bucket, by listing the bucket) and
  /// starts a job; returns its id. Invalid (-> 400) naming the setting; CapacityError (-> 429)
  /// when max_running_jobs are running; IOError (-> 502) when S3 cannot be reached.
  Result<std::string> Submit(ReplayRequest request);
  /// The job's progress and report as a JSON object. KeyError if there is no such job, or it
  /// belongs to another project than `project` (when not empty).
  Result<std::string> JobJson(const std::string& id, std::string_view project = {});
  /// Every job (newest first), each as JobJson without its per-object lists; only `project`'s
  /// when not empty.
  std::string ListJson(std::string_view project = {});
  /// Asks the job to stop: objects not started are not replayed (reported as cancelled); those
  /// in flight finish. KeyError if unknown; OK if it had finished already.
  Status Cancel(const std::string& id);
  /// The project of job `id`, "" if unknown (authorization).
  std::string JobProject(const std::string& id);

  struct Impl;

 private:
  explicit ReplayService(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace otlake::archive
