// Scheduler: the server's background shipping thread. Every `check_interval_ms` (and at start,
// which is how half-done days resume) it looks at every past day — local day folders and days
// the index knows — and runs the Shipper on each day that is due, oldest first:
//  - a day is due once `grace_ms` have passed since its UTC midnight ended and the pipeline holds
//    no row of it (`day_busy`), so in-flight requests that arrived before midnight are committed;
//  - with S3 configured a day goes all the way to "cleaned"; without S3 (or with an incomplete
//    configuration) it is sealed and stays local;
//  - a failed day is retried after a backoff that doubles per consecutive failure
//    (retry_base_ms … retry_max_ms) — periodically, not only at restart; other days go on.
// Status() feeds /healthz and `otlake status`. With S3 configured, each pass first checks (at
// start, then every few minutes, or every pass while it fails) that the bucket is reachable with
// the credentials given, and reports the result as `s3_access`.
//
// Threads: one scheduler thread (plus the Shipper's upload threads while it ships). Stop() sets
// the stop flag (an upload in flight returns Cancelled between chunks) and joins.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "otlake/common/status.h"
#include "otlake/ship/shipper.h"

namespace otlake::ship {

struct SchedulerOptions {
  ShipperOptions shipper;  ///< its `stop` is set by the scheduler
  int64_t grace_ms = 10 * 60 * 1000;
  int64_t check_interval_ms = 30'000;
  int64_t retry_base_ms = 60'000;
  int64_t retry_max_ms = 60 * 60'000;
  /// Unix ms (injectable); default NowUnixMillis.
  std::function<int64_t()> now_ms;
  /// True while rows of `day` (days since epoch) are buffered or being written.
  std::function<bool(int64_t day)> day_busy;
  /// Why shipping is off although S3 variables were given (incomplete configuration); shown in
  /// Status() and logged once.
  std::string s3_problem;
  std::string s3_description;  ///< S3Settings::Describe(): target, no secrets
  /// Checks that the bucket can be reached with the configured credentials (CheckS3Access). Run
  /// at the start of the first pass, then every `s3_recheck_ms` while it succeeds and on every
  /// pass while it fails, so a wrong secret or a missing bucket shows in /healthz and the log
  /// within seconds of starting, not at the first upload a day later. Empty: no check.
  std::function<Status()> check_s3;
  int64_t s3_recheck_ms = 5 * 60'000;
};

class Scheduler {
 public:
  static Result<std::unique_ptr<Scheduler>> Start(SchedulerOptions options);
  ~Scheduler();

  /// Stops the thread (interrupting an upload between chunks). Idempotent.
  void Stop();
  /// Looks for due days now.
  void Wake();

  /// The /healthz "shipping" object (JSON).
  std::string StatusJson() const;
  /// A one-line summary: "", or the reason shipping is off or failing.
  std::string Problem() const;
  /// What /healthz and the log say of a cleaned day that has local rows again.
  static std::string LateRowsProblem(const std::string& day);

 private:
  explicit Scheduler(SchedulerOptions options);
  void Loop();
  void Pass();
  void CheckS3(int64_t now);

  SchedulerOptions options_;
  std::unique_ptr<Shipper> shipper_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool wake_ = false;                          // guarded by mu_
  Progress running_;                           // guarded by mu_ (phase kNone: idle)
  std::map<std::string, int64_t> next_retry_;  // day -> unix ms; guarded by mu_
  std::set<std::string> warned_late_;           // cleaned days with new local rows, logged; mu_
  std::map<std::string, DayStatus> statuses_;  // last pass's view; guarded by mu_
  std::map<std::string, bool> local_days_;     // last pass's local folders; guarded by mu_
  int64_t last_pass_ms_ = 0;                   // guarded by mu_
  int64_t s3_checked_ms_ = 0;                  // last access check (0: none yet); mu_
  std::string s3_error_;                       // its error ("" = reachable); mu_
  std::thread thread_;
};

}  // namespace otlake::ship
