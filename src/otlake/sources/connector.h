// Service: the S3 ingestion connector of one instance -- the SourceStore, a scheduler thread that
// lists every source's prefix each scan_interval_seconds, and a bounded pool of workers that
// download, decode (archive::DecodeObjectBytes) and ingest each pending file through the same
// path as OTLP/HTTP (otlp::Decode*, then ingest::Ingestor::Ingest: WAL fsync, backpressure) into
// the source's project. docs/sources.md is the contract.
//
// Delivery: exactly once per object across crashes (docs/sources.md "Exactly once"): every WAL
// record of an object carries its origin "sources/<file_id>/<attempt>/<doc>/<docs>"
// (ingest::Record::origin). At start-up, a file left processing is completed if all its
// documents are in the recovered WAL, or resumes after the prefix that is; otherwise it starts
// again. While an object is in flight the WAL keeps its segments (Ingestor::HoldSegments), so
// recovery always finds its records.
//
// Threads: one scheduler (blocks on S3 listings), `workers` workers (block on S3 reads and on the
// WAL's fsync); API calls run on HTTP threads and block only on SQLite and, for Test(), on one
// S3 listing. Stop() joins them all.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "otlake/common/status.h"
#include "otlake/sources/source.h"
#include "otlake/sources/store.h"

namespace arrow::fs {
class FileSystem;
}
namespace otlake::ingest {
class Ingestor;
}
namespace otlake::metrics {
class PromWriter;
}

namespace otlake::sources {

struct ServiceOptions {
  std::string instance_root;  ///< <dir>/<instance>: state in configs/sources.{sqlite,key}
  /// Where files are ingested (not owned; outlives the service). Null: no workers (API only).
  ingest::Ingestor* ingestor = nullptr;
  int workers = 8;  ///< mostly waiting on object reads and the WAL's fsync
  int64_t max_object_bytes = int64_t{256} << 20;
  int64_t retry_base_ms = 2000;  ///< backoff after a transient error: base * 2^retries, <= 60 s
  int max_nesting_depth = 64;
  /// ingest::RecoveryReport::origins of the ingestor's start-up recovery: the WAL records of
  /// objects that were being ingested when the process stopped (exactly-once reconciliation).
  std::vector<std::string> recovered_origins;
  /// Test hook (OTLAKE_SOURCES_TEST_COMPLETE_DELAY_MS): wait this long between an object's last
  /// durable WAL append and marking it completed, so a kill -9 test can land in that window.
  int64_t complete_delay_ms = 0;
};

/// The outcome of POST .../test.
struct TestResult {
  bool ok = false;
  int64_t files_found = 0;
  std::string message;  ///< on error: names AccessDenied, NoSuchBucket, the endpoint problem...
};

/// The last scan of a source, for GET .../{id}.
struct ScanState {
  int64_t last_scan_ms = 0;
  int64_t last_scan_duration_ms = 0;
  int64_t files_seen = 0;
  std::string error;  ///< empty when the last scan worked
};

/// What one source did since this process started (/healthz "sources", /metrics
/// otlake_source_*). Relaxed atomics: written by the scheduler and workers, read by scrapes.
struct SourceCounters {
  std::atomic<int64_t> discovered{0};  ///< objects that became pending (new or changed)
  std::atomic<int64_t> completed{0};
  std::atomic<int64_t> failed{0};
  std::atomic<int64_t> retried{0};  ///< transient errors sent back to pending
  std::atomic<int64_t> bytes{0};    ///< object bytes downloaded
  std::atomic<int64_t> records{0};  ///< spans, log records and data points ingested
  std::atomic<int64_t> scans{0};
  std::atomic<int64_t> scan_errors{0};
  std::atomic<int64_t> scan_ms_total{0};  ///< time spent listing
};

/// Classifies an S3 error message: a short code naming the cause ("AccessDenied",
/// "NoSuchBucket", "InvalidAccessKeyId", "SignatureDoesNotMatch", "NoSuchKey",
/// "EndpointUnreachable", "") and whether retrying can help.
struct S3Problem {
  std::string code;
  bool permanent = false;
};
S3Problem ClassifyS3Error(const std::string& message);

/// "sources/<file_id>/<attempt>/<doc>/<docs>".
std::string MakeOrigin(int64_t file_id, const std::string& attempt, int64_t doc, int64_t docs);

/// For each file left processing: all its documents durable (-1), or how many leading
/// documents are (resume after them). `origins` as ingest::RecoveryReport::origins.
std::map<int64_t, int64_t> ReconcileOrigins(const std::vector<FileRow>& processing,
                                            const std::vector<std::string>& origins);

/// Decodes one downloaded object into OTLP request bodies: the file name's extension picks the
/// marshaler and compression, the top-level field of a JSON document picks the signal (a .binpb
/// file is traces unless its name contains "logs" or "metrics"). Invalid on a bad object.
struct FileDocument {
  int signal = 0;  ///< otlp::Signal
  bool json = true;
  std::string body;
};
Result<std::vector<FileDocument>> DecodeFileBytes(const std::string& key, std::string_view bytes,
                                                  int64_t max_bytes);

class Service {
 public:
  static Result<std::unique_ptr<Service>> Start(ServiceOptions options);
  ~Service();
  /// Stops scanning and processing; a file being processed is finished first. Idempotent.
  void Stop();

  SourceStore* store() { return store_.get(); }
  /// Lists the source's prefix once and counts matching files (POST .../test).
  TestResult Test(const Source& source);
  ScanState scan_state(const std::string& source_id);
  /// The /healthz "sources" object: per source (by name) its id, last scan, counters and
  /// backlog (pending and processing files).
  std::string HealthJson();
  /// The otlake_source_* families (labels source_id, source = the name).
  void WriteMetrics(metrics::PromWriter* w);
  /// Scan now (after a create, PATCH or retry) and wake the workers.
  void Wake();

 private:
  explicit Service(ServiceOptions options);
  void SchedulerLoop();
  void WorkerLoop();
  /// Lists the source once, recording new and changed objects; *unsettled is set if an object
  /// was too recently modified to record yet (the next scan should come soon).
  Status ScanSource(const Source& source, int64_t* seen, bool* unsettled);
  void ProcessFile(const FileRow& file);
  SourceCounters& CountersFor(const std::string& source_id);
  Result<std::shared_ptr<arrow::fs::FileSystem>> FileSystemFor(const Source& source);

  ServiceOptions options_;
  std::unique_ptr<SourceStore> store_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool scan_now_ = false;
  uint64_t wake_seq_ = 0;
  std::map<std::string, int64_t> next_scan_ms_;  // GUARDED_BY(mu_)
  std::map<std::string, ScanState> scans_;       // GUARDED_BY(mu_)
  std::map<std::string, std::unique_ptr<SourceCounters>> counters_;  // GUARDED_BY(mu_); never erased
  struct CachedFs {
    int64_t updated_at_ms = 0;
    std::shared_ptr<arrow::fs::FileSystem> fs;
  };
  std::map<std::string, CachedFs> fs_cache_;  // GUARDED_BY(mu_)
  std::thread scheduler_;
  std::vector<std::thread> workers_;
};

}  // namespace otlake::sources
