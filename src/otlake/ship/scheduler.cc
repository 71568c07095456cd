#include "otlake/ship/scheduler.h"

#include <dirent.h>

#include <algorithm>
#include <random>
#include <set>

#include "otlake/common/log.h"
#include "otlake/common/thread_util.h"
#include "otlake/common/time_util.h"

namespace otlake::ship {
namespace {

std::string JsonEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char b[8];
          std::snprintf(b, sizeof b, "\\u%04x", c);
          out += b;
        } else {
          out += c;
        }
    }
  }
  return out;
}

std::string Q(const std::string& s) { return "\"" + JsonEscape(s) + "\""; }

const char* Running(Phase p) {
  switch (p) {
    case Phase::kSealed: return "sealing";
    case Phase::kUploaded: return "uploading";
    case Phase::kVerified: return "verifying";
    case Phase::kCleaned: return "cleaning";
    default: return "idle";
  }
}

}  // namespace

Scheduler::Scheduler(SchedulerOptions options) : options_(std::move(options)) {
  if (!options_.now_ms) options_.now_ms = [] { return NowUnixMillis(); };
  options_.shipper.stop = &stop_;
  shipper_ = std::make_unique<Shipper>(options_.shipper);
}

Result<std::unique_ptr<Scheduler>> Scheduler::Start(SchedulerOptions options) {
  std::unique_ptr<Scheduler> s(new Scheduler(std::move(options)));
  if (!s->options_.s3_problem.empty()) {
    OTLAKE_LOG(WARN) << s->options_.s3_problem << " (past days are sealed and kept locally)";
  } else if (s->options_.shipper.s3) {
    OTLAKE_LOG(INFO) << s->options_.s3_description;
  } else {
    OTLAKE_LOG(INFO) << "S3 not configured: past days are sealed and kept locally";
  }
  s->thread_ = std::thread([p = s.get()] {
    SetCurrentThreadName("otlake-ship");
    p->Loop();
  });
  return s;
}

Scheduler::~Scheduler() { Stop(); }

void Scheduler::Stop() {
  stop_ = true;
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Scheduler::Wake() {
  {
    std::lock_guard lk(mu_);
    wake_ = true;
  }
  cv_.notify_all();
}

void Scheduler::Loop() {
  while (!stop_) {
    Pass();
    std::unique_lock lk(mu_);
    cv_.wait_for(lk, std::chrono::milliseconds(options_.check_interval_ms), [&] { return wake_ || stop_.load(); });
    wake_ = false;
  }
}

void Scheduler::CheckS3(int64_t now) {
  if (!options_.check_s3) return;
  std::string previous;
  {
    std::lock_guard lk(mu_);
    if (s3_checked_ms_ != 0 && s3_error_.empty() && now - s3_checked_ms_ < options_.s3_recheck_ms) return;
    previous = s3_error_;
  }
  const Status st = options_.check_s3();
  const std::string error = st.ok() ? "" : st.message();
  if (!error.empty() && error != previous) {
    OTLAKE_LOG(ERROR) << "shipping: S3 is not usable (past days stay local until it is): " << error;
  } else if (error.empty() && !previous.empty()) {
    OTLAKE_LOG(INFO) << "shipping: S3 is reachable again";
  }
  std::lock_guard lk(mu_);
  s3_checked_ms_ = now;
  s3_error_ = error;
}

void Scheduler::Pass() {
  const int64_t now = options_.now_ms();
  CheckS3(now);
  const int64_t today = UnixMsToDays(now);
  auto statuses_or = shipper_->index()->Load();
  if (!statuses_or.ok()) {
    OTLAKE_LOG(ERROR) << "shipping: cannot read the days index: " << statuses_or.status().ToString();
    return;
  }
  std::map<std::string, DayStatus> statuses = std::move(*statuses_or);
  // Candidate days: local folders, and index days not finished.
  std::set<std::string> days;
  std::map<std::string, bool> local;
  const std::string days_dir = options_.shipper.instance_root + "/staging/days";
  if (DIR* d = ::opendir(days_dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      int64_t n;
      if (ParseDate(e->d_name, &n)) {
        days.insert(e->d_name);
        local[e->d_name] = true;
      }
    }
    ::closedir(d);
  }
  for (const auto& [day, st] : statuses) {
    if (st.done == Phase::kVerified) days.insert(day);  // verified, not yet cleaned
  }
  {
    std::lock_guard lk(mu_);
    statuses_ = statuses;
    local_days_ = local;
    last_pass_ms_ = now;
    for (const auto& [day, st] : statuses) {
      if (st.done == Phase::kCleaned && local.count(day) && warned_late_.insert(day).second) {
        OTLAKE_LOG(WARN) << "shipping: " << LateRowsProblem(day);
      }
    }
  }
  const bool s3 = options_.shipper.s3 != nullptr;
  const Phase target = s3 ? (options_.shipper.clean ? Phase::kCleaned : Phase::kVerified) : Phase::kSealed;
  for (const std::string& day : days) {  // std::set: oldest first
    if (stop_) return;
    int64_t d;
    ParseDate(day, &d);
    if (d >= today) continue;
    const DayStatus st = statuses.count(day) ? statuses[day] : DayStatus{};
    if (st.done >= target) continue;
    if (!local.count(day) && st.done < Phase::kVerified) continue;  // nothing here to ship
    if (now < (d + 1) * 86'400'000 + options_.grace_ms) continue;
    if (options_.day_busy && options_.day_busy(d)) continue;
    {
      std::lock_guard lk(mu_);
      auto it = next_retry_.find(day);
      if (it != next_retry_.end() && now < it->second) continue;
    }
    auto progress = [&](const Progress& p) {
      std::lock_guard lk(mu_);
      running_ = p;
    };
    {
      std::lock_guard lk(mu_);
      running_ = Progress{};
      running_.day = day;
      running_.phase = st.done < Phase::kSealed ? Phase::kSealed : static_cast<Phase>(static_cast<int>(st.done) + 1);
    }
    auto result = shipper_->Run(day, target, progress, /*wait_for_lock=*/false);
    std::lock_guard lk(mu_);
    running_ = Progress{};
    if (result.ok()) {
      next_retry_.erase(day);
      statuses_[day] = *result;
      continue;
    }
    if (result.status().IsAlreadyExists()) continue;  // the CLI is shipping: look again next pass
    if (result.status().IsCancelled()) return;
    // Backoff by consecutive failures (from the index, so it survives restarts in the count).
    auto fresh = shipper_->index()->Load();
    int failures = 1;
    if (fresh.ok() && fresh->count(day)) {
      failures = std::max(1, (*fresh)[day].failures);
      statuses_[day] = (*fresh)[day];
    }
    int64_t wait = options_.retry_base_ms << std::min(failures - 1, 20);
    wait = std::min(wait, options_.retry_max_ms);
    static thread_local std::mt19937 rng{std::random_device{}()};
    wait += std::uniform_int_distribution<int64_t>(0, std::max<int64_t>(1, wait / 10))(rng);
    next_retry_[day] = now + wait;
    OTLAKE_LOG(WARN) << "shipping " << day << " failed (attempt " << failures << "; next try in "
                     << wait / 1000 << " s): " << result.status().message();
  }
}

std::string Scheduler::Problem() const {
  if (!options_.s3_problem.empty()) return options_.s3_problem;
  std::lock_guard lk(mu_);
  if (!s3_error_.empty()) return "S3 is not usable: " + s3_error_;
  for (const auto& [day, st] : statuses_) {
    if (st.failures > 0) return "day " + day + ": " + PhaseName(st.failed_phase) + " failed: " + st.last_error;
  }
  for (const auto& [day, st] : statuses_) {
    if (st.done == Phase::kCleaned && local_days_.count(day)) return LateRowsProblem(day);
  }
  return "";
}

std::string Scheduler::LateRowsProblem(const std::string& day) {
  return "day " + day + " was shipped and cleaned, but rows were written into it since (a clock " +
         "that stepped back?): they are kept in staging/days/" + day + " and read with the S3 copy, " +
         "not shipped";
}

std::string Scheduler::StatusJson() const {
  std::lock_guard lk(mu_);
  const bool s3 = options_.shipper.s3 != nullptr;
  std::string j = "{";
  j += "\"enabled\":" + std::string(s3 ? "true" : "false");
  j += ",\"mode\":" + Q(s3 ? "s3" : options_.s3_problem.empty() ? "local-only" : "disabled");
  j += ",\"problem\":" + (options_.s3_problem.empty() ? std::string("null") : Q(options_.s3_problem));
  j += ",\"target\":" + (s3 ? Q(options_.shipper.s3_days_uri) : std::string("null"));
  j += ",\"grace_s\":" + std::to_string(options_.grace_ms / 1000);
  j += ",\"check_interval_s\":" + std::to_string(options_.check_interval_ms / 1000);
  j += ",\"last_check_utc\":" + (last_pass_ms_ ? Q(UtcIso8601(last_pass_ms_)) : std::string("null"));
  if (options_.check_s3) {
    j += ",\"s3_access\":{\"ok\":" +
         std::string(s3_checked_ms_ == 0 ? "null" : s3_error_.empty() ? "true" : "false") +
         ",\"error\":" + (s3_error_.empty() ? std::string("null") : Q(s3_error_)) +
         ",\"checked_utc\":" + (s3_checked_ms_ ? Q(UtcIso8601(s3_checked_ms_)) : std::string("null")) + "}";
  } else {
    j += ",\"s3_access\":null";
  }
  std::map<std::string, int> counts = {{"local", 0}, {"none", 0}, {"sealed", 0}, {"uploaded", 0},
                                       {"verified", 0}, {"cleaned", 0}, {"failing", 0}};
  std::set<std::string> all;
  for (const auto& [d, _] : local_days_) all.insert(d);
  for (const auto& [d, _] : statuses_) all.insert(d);
  std::string failing;
  for (const std::string& d : all) {
    auto it = statuses_.find(d);
    const Phase p = it == statuses_.end() ? Phase::kNone : it->second.done;
    counts[PhaseName(p)] += 1;
    if (local_days_.count(d)) counts["local"] += 1;
    if (it != statuses_.end() && it->second.failures > 0) {
      counts["failing"] += 1;
      auto nr = next_retry_.find(d);
      if (!failing.empty()) failing += ",";
      failing += "{\"day\":" + Q(d) + ",\"phase\":" + Q(PhaseName(it->second.failed_phase)) +
                 ",\"failures\":" + std::to_string(it->second.failures) + ",\"error\":" + Q(it->second.last_error) +
                 ",\"when_utc\":" + Q(it->second.last_when_utc) + ",\"next_retry_utc\":" +
                 (nr != next_retry_.end() ? Q(UtcIso8601(nr->second)) : std::string("null")) + "}";
    }
  }
  j += ",\"days\":{";
  bool first = true;
  for (const auto& [k, v] : counts) {
    j += (first ? "" : ",") + Q(k) + ":" + std::to_string(v);
    first = false;
  }
  j += "}";
  j += ",\"failing\":[" + failing + "]";
  std::string late;
  for (const auto& [d, st] : statuses_) {
    if (st.done == Phase::kCleaned && local_days_.count(d)) late += (late.empty() ? "" : ",") + Q(d);
  }
  j += ",\"late_rows_days\":[" + late + "]";
  if (running_.phase != Phase::kNone) {
    j += ",\"running\":{\"day\":" + Q(running_.day) + ",\"phase\":" + Q(Running(running_.phase)) +
         ",\"done\":" + std::to_string(running_.done) + ",\"total\":" + std::to_string(running_.total) +
         ",\"unit\":" + Q(running_.unit) + "}";
  } else {
    j += ",\"running\":null";
  }
  j += "}";
  return j;
}

}  // namespace otlake::ship
