// SourceStore: source definitions and per-file state in SQLite (<instance>/configs/sources.sqlite,
// WAL journal, 0600). docs/sources.md is the contract.
//
// File states: pending -> processing -> completed | failed. A transient error sends a file back
// to pending with retries + 1 and a later next_attempt (backoff) until retries reaches
// max_retries, then failed; a permanent error fails it at once; retry/retry-failed re-queue a
// failed file with retries 0. Requeue() (backpressure) sends it back without counting a retry.
// A scan that finds a key already known with another etag or size re-queues it if it had
// finished (an overwritten object is new data).
//
// Secrets are sealed with SecretBox before they reach SQLite; the columns hold only ciphertext.
// Thread-safe: one connection behind a mutex (a few small statements per file).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "otlake/common/status.h"
#include "otlake/sources/secret_box.h"
#include "otlake/sources/source.h"

struct sqlite3;
namespace otlake {
class StmtCache;
}

namespace otlake::sources {

struct FileRow {
  int64_t id = 0;
  std::string source_id;
  std::string s3_key;
  std::string etag;
  int64_t size = 0;
  std::string status;  ///< pending, processing, completed, failed
  std::string error_message;
  int64_t spans_count = 0;
  int64_t retries = 0;
  int64_t max_retries = 3;
  int64_t processed_at_ms = 0;  ///< 0: never
  int64_t created_at_ms = 0;
  int64_t next_attempt_ms = 0;
  /// Names this ingestion attempt in the WAL records' origin (new when a file starts from its
  /// first document; kept when it resumes).
  std::string attempt;
  /// Documents of the object already durable in the WAL: processing resumes after them.
  int64_t resume_doc = 0;
};

struct SourceStats {
  int64_t total = 0, pending = 0, processing = 0, completed = 0, failed = 0, spans = 0;
  int64_t last_completed_ms = 0, last_failed_ms = 0;
};

class SourceStore {
 public:
  /// Opens (creating) the database at `path` with `box` for secrets.
  static Result<std::unique_ptr<SourceStore>> Open(const std::string& path, SecretBox box);
  ~SourceStore();

  /// Inserts `s` (its id and times already set). AlreadyExists if the name is taken.
  Status CreateSource(const Source& s);
  /// Replaces the stored definition of s.id. KeyError if unknown; AlreadyExists on a name clash.
  Status UpdateSource(const Source& s);
  /// Deletes the source and its file rows. KeyError if unknown.
  Status DeleteSource(const std::string& id);
  /// KeyError if unknown.
  Result<Source> GetSource(const std::string& id);
  Result<std::vector<Source>> ListSources();

  /// Records an object seen by a scan; true if it became pending (new, or changed and finished).
  Result<bool> Observe(const std::string& source_id, const std::string& key, const std::string& etag,
                       int64_t size, int64_t now_ms);
  /// Observe for many objects of one listing page, in one SQLite transaction (not fsynced on
  /// its own: a lost scan is repeated). Returns how many became pending.
  struct Observed {
    std::string key, etag;
    int64_t size = 0;
  };
  Result<int64_t> ObserveMany(const std::string& source_id, const std::vector<Observed>& objects,
                              int64_t now_ms);
  /// Takes the oldest pending file whose next attempt is due and marks it processing.
  Result<std::optional<FileRow>> ClaimNext(int64_t now_ms);
  Status Complete(int64_t file_id, int64_t spans, int64_t now_ms);
  Status Fail(int64_t file_id, const std::string& message, int64_t now_ms);
  /// A transient error: pending again with retries + 1 after `backoff_ms`, or failed (with the
  /// message and "after N retries") once retries reaches max_retries. Returns the new status.
  Result<std::string> Transient(int64_t file_id, const std::string& message, int64_t now_ms,
                                int64_t backoff_ms);
  /// Back to pending without counting a retry (backpressure, shutdown).
  Status Requeue(int64_t file_id, int64_t next_attempt_ms);
  /// Notes the object's record count once decoded, before its first WAL append (so a file
  /// completed by recovery shows it).
  Status BeginIngest(int64_t file_id, int64_t spans);
  /// Back to pending (transient error or backpressure after `docs_done` documents were made
  /// durable): the next attempt skips them. retries + 1 only if `count_retry`.
  Result<std::string> Resume(int64_t file_id, int64_t docs_done, const std::string& message,
                             int64_t now_ms, int64_t backoff_ms, bool count_retry);
  /// Files left processing by a crash.
  Result<std::vector<FileRow>> ListProcessing();
  /// A file left processing whose every document was found durable in the WAL: completed.
  Status CompleteRecovered(int64_t file_id, int64_t now_ms);
  /// At start-up: files left processing by a crash go back to pending, resuming after
  /// `resume_doc[file_id]` documents when given. Returns how many.
  Result<int64_t> ResetProcessing(const std::map<int64_t, int64_t>& resume_doc = {});

  Result<SourceStats> Stats(const std::string& source_id);
  /// Pending and processing files of every source that has any: source id -> {pending,
  /// processing}. One query over the status index (the scrape-time backlog).
  Result<std::map<std::string, std::pair<int64_t, int64_t>>> Backlog();
  /// Files of a source, newest id last, `status` empty for all; *total gets the match count.
  Result<std::vector<FileRow>> ListFiles(const std::string& source_id, const std::string& status,
                                         int64_t limit, int64_t offset, int64_t* total);
  Result<FileRow> GetFile(const std::string& source_id, int64_t file_id);
  /// Re-queues one failed file (retries 0). KeyError if unknown; Invalid if it is not failed.
  Result<FileRow> RetryFile(const std::string& source_id, int64_t file_id);
  /// Re-queues every failed file of the source; returns how many.
  Result<int64_t> RetryFailed(const std::string& source_id);

 private:
  SourceStore(sqlite3* db, std::string path, SecretBox box);
  Status Exec(const char* sql);
  Result<bool> ObserveLocked(const std::string& source_id, const std::string& key, const std::string& etag,
                             int64_t size, int64_t now_ms);
  Result<Source> RowToSource(void* stmt);

  std::mutex mu_;
  sqlite3* db_;
  std::unique_ptr<StmtCache> cache_;  // GUARDED_BY(mu_): every statement, prepared once
  std::string path_;
  SecretBox box_;
};

}  // namespace otlake::sources
