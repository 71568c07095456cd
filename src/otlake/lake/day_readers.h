// Readers of a local day folder and the writers that delete its files: a file leaves disk only
// after the last query that may read it (DESIGN promise 6; docs/delta.md "Readers and deleted
// files" is the contract).
//
// The coordination is an advisory lock, flock(2), on <day>/.readers.lock:
//  - A query holds it shared (ShareDay) from before it loads the day's Delta snapshots until its
//    last read of the day's files. Holding it costs an open, a flock and two stats per day.
//  - A writer holds it exclusively (ExclusiveDay) around deleting files that a snapshot may still
//    reference: compaction's removed files, seal's replaced files, clean's whole day. Writers
//    never wait for anything else while they hold it, and readers never hold it exclusively, so
//    the lock cannot deadlock.
//  - Clean first creates <day>/.closing (MarkClosing): a query that finds it reads the day's S3
//    copy instead of starting on the local files, so clean waits only for the queries already
//    reading. Clean then moves the day away, with the lock held; a query that was waiting for the
//    lock finds its folder gone (ShareState::kGone).
// flock locks belong to open file descriptions, so two holders in one process exclude each other
// exactly as two processes do: the server's queries, its flusher and shipper, and a separate
// `otlake view|seal|ship` all take part. Readers outside otlake (DuckDB on the staging folder)
// do not; a retention period covers them where files are removed from a live day (compaction).
// Thread-safe (every call works on its own file descriptor). No Arrow in this header.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "otlake/common/status.h"

namespace otlake::lake {

/// A held readers lock (shared or exclusive), released on destruction.
class DayLock {
 public:
  ~DayLock();
  DayLock(const DayLock&) = delete;
  DayLock& operator=(const DayLock&) = delete;

 private:
  friend class DayLockAccess;
  explicit DayLock(int fd) : fd_(fd) {}
  int fd_;  ///< -1: a reader that could not create the lock file (read-only folder) holds nothing
};

enum class ShareState {
  kHeld,     ///< shared lock held; the day is not being cleaned
  kClosing,  ///< shared lock held, but the day is being cleaned: read its S3 copy if there is one
  kGone,     ///< the day folder does not exist (any more); nothing held
};

/// Takes `day_dir`'s readers lock shared. Blocks while a writer deletes files (milliseconds).
/// `*lock` is set for kHeld and kClosing. A folder where the lock file cannot be created
/// (read-only, other owner) is read without a lock: kHeld with a lock that holds nothing.
Result<ShareState> ShareDay(const std::string& day_dir, std::unique_ptr<DayLock>* lock);

/// Takes `day_dir`'s readers lock exclusively once no reader holds it, trying every few
/// milliseconds for up to `timeout_ms` (0: one try). Returns nullptr if readers still hold it
/// then, or as soon as `*stop` (if given) is set. Status::IOError if the lock file cannot be
/// created.
Result<std::unique_ptr<DayLock>> ExclusiveDay(const std::string& day_dir, int64_t timeout_ms,
                                              const std::atomic<bool>* stop = nullptr);

/// Creates or removes <day_dir>/.closing (see the header comment).
Status MarkClosing(const std::string& day_dir);
Status UnmarkClosing(const std::string& day_dir);

/// Names of the two files above (skipped by whatever lists a day's tables).
inline constexpr const char* kReadersLockName = ".readers.lock";
inline constexpr const char* kClosingName = ".closing";

}  // namespace otlake::lake
