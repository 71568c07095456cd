#include "otlake/cli/ship_cmds.h"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <set>

#include "otlake/common/file_util.h"
#include "otlake/common/log.h"
#include "otlake/common/time_util.h"
#include "otlake/ingest/ingestor.h"
#include "otlake/query/query.h"
#include "otlake/ship/days_index.h"
#include "otlake/ship/s3_fs.h"
#include "otlake/ship/shipper.h"

namespace otlake::cli {
namespace {

struct FlagVar {
  const char* flag;  // long name
  const char* var;   // the variable it overrides
};
constexpr FlagVar kS3Flags[] = {{"s3-bucket", "S3_BUCKET"},
                                {"s3-prefix", "S3_PREFIX"},
                                {"s3-endpoint", "AWS_ENDPOINT_URL"},
                                {"s3-region", "AWS_REGION"},
                                {"s3-access-key-id", "AWS_ACCESS_KEY_ID"}};

bool ServerRunning(const std::string& root) {
  auto text = ReadFile(root + "/configs/server.pid");
  if (!text.ok()) return false;
  const long pid = std::strtol(text->c_str(), nullptr, 10);
  if (pid <= 0 || (::kill(static_cast<pid_t>(pid), 0) != 0 && errno != EPERM)) return false;
  auto cmdline = ReadFile("/proc/" + std::to_string(pid) + "/cmdline");
  return !cmdline.ok() || cmdline->find("otlake") != std::string::npos;
}

// A progress bar on stderr (a terminal), or a line per 25% otherwise.
class ProgressBar {
 public:
  ProgressBar() : tty_(::isatty(STDERR_FILENO) == 1) {}
  ~ProgressBar() { Finish(); }

  void Update(const ship::Progress& p) {
    const char* what = p.phase == ship::Phase::kSealed     ? "sealing"
                       : p.phase == ship::Phase::kUploaded ? "uploading"
                       : p.phase == ship::Phase::kVerified ? "verifying"
                                                           : "working";
    const double frac = p.total > 0 ? std::min(1.0, static_cast<double>(p.done) / static_cast<double>(p.total)) : 0;
    std::string amount = std::string(p.unit) == "bytes"
                             ? HumanBytes(p.done) + " / " + HumanBytes(p.total)
                             : std::to_string(p.done) + " / " + std::to_string(p.total) + " " + p.unit;
    if (p.files_total > 0 && std::string(p.unit) == "bytes") {
      amount += ", " + std::to_string(p.files_done) + "/" + std::to_string(p.files_total) + " files";
    }
    if (tty_) {
      constexpr int kWidth = 30;
      const int filled = static_cast<int>(frac * kWidth);
      std::string bar(filled, '#');
      bar += std::string(kWidth - filled, '-');
      std::fprintf(stderr, "\r%-9s %s [%s] %3d%%  %s\033[K", what, p.day.c_str(), bar.c_str(),
                   static_cast<int>(frac * 100), amount.c_str());
      std::fflush(stderr);
      open_ = true;
    } else {
      const int quarter = static_cast<int>(frac * 4);
      if (p.phase != last_phase_ || quarter > last_quarter_) {
        std::fprintf(stderr, "%s %s: %d%% (%s)\n", what, p.day.c_str(), static_cast<int>(frac * 100), amount.c_str());
        last_phase_ = p.phase;
        last_quarter_ = quarter;
      }
    }
  }
  void Finish() {
    if (open_) std::fprintf(stderr, "\n");
    open_ = false;
  }

 private:
  bool tty_;
  bool open_ = false;
  ship::Phase last_phase_ = ship::Phase::kNone;
  int last_quarter_ = -1;
};

bool ParseDay(const Args& a, const char* cmd, std::string* day, int64_t* d) {
  *day = a.Get("day");
  if (day->empty()) {
    std::cerr << "otlake " << cmd << ": --day YYYY-MM-DD is required\n";
    return false;
  }
  if (!ParseDate(*day, d)) {
    std::cerr << "otlake " << cmd << ": --day must be a date YYYY-MM-DD, got '" << *day << "'\n";
    return false;
  }
  return true;
}

// For WAL recovery: the WAL position each table of a shipped day had committed.
std::function<int64_t(int64_t, table::TableId)> ShippedLsn(const std::string& root) {
  ship::DaysIndex index(root + "/index");
  auto statuses = index.Load();
  std::map<std::string, ship::DayStatus> s = statuses.ok() ? std::move(*statuses) : std::map<std::string, ship::DayStatus>{};
  return [s](int64_t day, table::TableId t) -> int64_t {
    auto it = s.find(DaysToDate(day));
    if (it == s.end() || it->second.done < ship::Phase::kSealed) return -1;
    const std::string name = ship::IndexTableName(std::string(table::TableName(t)));
    for (const auto& e : it->second.sealed.tables) {
      if (e.name == name) return e.wal_lsn;
    }
    return -1;
  };
}

// Before sealing with no server running: replay the WAL, so rows a crashed server acknowledged
// but never committed are in their day's tables first.
Status RecoverWal(const std::string& root) {
  ingest::IngestOptions io;
  io.wal_dir = root + "/wal";
  io.pipeline.days_dir = root + "/staging/days";
  io.pipeline.compact_min_files = 0;
  io.shipped_lsn = ShippedLsn(root);
  OTLAKE_ASSIGN_OR_RAISE(auto ingestor, ingest::Ingestor::Open(std::move(io)));
  const auto& rep = ingestor->recovery();
  if (rep.replayed_rows > 0) {
    std::cerr << "replayed " << rep.replayed_rows << " rows from the write-ahead log first\n";
  }
  return ingestor->Stop();
}

// Common set-up of seal and ship: checks, WAL recovery, the shipper.
int PrepareDay(const Args& a, const char* cmd, const std::string& root, std::string* day,
               ship::ShipperOptions* so, std::unique_ptr<FileLock>* instance_lock) {
  if (!PathExists(root)) {
    std::cerr << "otlake " << cmd << ": no instance at " << root << " (run 'otlake init' first)\n";
    return 1;
  }
  int64_t d;
  if (!ParseDay(a, cmd, day, &d)) return 2;
  const int64_t now = NowUnixMillis();
  const int64_t today = UnixMsToDays(now);
  if (d >= today) {
    std::cerr << "otlake " << cmd << ": " << *day << " is not over yet (today is " << DaysToDate(today)
              << " UTC); only past days can be sealed\n";
    return 2;
  }
  long long grace_s = std::atoll(a.Get("grace-s").c_str());
  if (grace_s < 0) {
    std::cerr << "otlake " << cmd << ": --grace-s must be >= 0, got '" << a.Get("grace-s") << "'\n";
    return 2;
  }
  const bool running = ServerRunning(root);
  if (running && now < (d + 1) * 86'400'000 + grace_s * 1000) {
    std::cerr << "otlake " << cmd << ": the server is running and " << *day << " ended less than "
              << grace_s << " s ago: it may still be committing rows of that day. Try again at "
              << UtcIso8601((d + 1) * 86'400'000 + grace_s * 1000) << " (or lower --grace-s).\n";
    return 2;  // as a day not over yet (docs/cli.md)
  }
  if (!running) {
    // No server: this process replays the WAL and writes the tables, so it must own the
    // instance (a server that is starting holds the lock before its own recovery).
    auto lock = FileLock::Acquire(root + "/configs/instance.lock", /*wait=*/false);
    if (!lock.ok()) {
      std::cerr << "otlake " << cmd << ": the instance is in use by another otlake process (a server "
                << "starting, or another seal/ship); try again in a moment\n";
      return 1;
    }
    *instance_lock = std::move(*lock);
    Status st = RecoverWal(root);
    if (!st.ok()) {
      std::cerr << "otlake " << cmd << ": write-ahead log recovery failed: " << st.message() << "\n";
      return 1;
    }
  }
  std::string err;
  if (!SealOptionsFromArgs(a, &so->seal, &err)) {
    std::cerr << "otlake " << cmd << ": " << err << "\n";
    return 2;
  }
  so->instance_root = root;
  return 0;
}

void PrintStatus(const ship::DayStatus& st) {
  std::cout << st.day << ": " << ship::PhaseName(st.done);
  if (st.done >= ship::Phase::kSealed) {
    std::cout << " (" << st.sealed.rows << " rows, " << st.sealed.files << " files, "
              << HumanBytes(std::max<int64_t>(0, st.sealed.bytes)) << ")";
  }
  if (!st.target.empty() && st.done >= ship::Phase::kUploaded) std::cout << " at " << st.target;
  std::cout << "\n";
}

}  // namespace

std::vector<OptionSpec> S3Specs() {
  return {{"", "s3-bucket", "BUCKET", "", "Overrides S3_BUCKET"},
          {"", "s3-prefix", "PREFIX", "", "Overrides S3_PREFIX"},
          {"", "s3-endpoint", "URL", "", "Overrides AWS_ENDPOINT_URL / S3_URL (http:// allowed)"},
          {"", "s3-region", "REGION", "", "Overrides AWS_REGION / S3_REGION"},
          {"", "s3-access-key-id", "KEY_ID", "", "Overrides AWS_ACCESS_KEY_ID (secrets: environment or configs/otlake.env only)"},
          {"", "s3-timeout-s", "SECONDS", "10", "S3 connect timeout, and how long a request may stall"}};
}

ship::S3FsOptions S3FsOptionsFromArgs(const Args& a) {
  ship::S3FsOptions o;
  const double t = std::atof(a.Get("s3-timeout-s").c_str());
  if (t > 0) {
    o.connect_timeout_s = t;
    o.request_timeout_s = t;
  }
  return o;
}

ship::S3Settings S3SettingsFromArgs(const Args& a, const std::string& root) {
  std::map<std::string, std::string> flags;
  for (const FlagVar& f : kS3Flags) {
    if (a.Has(f.flag)) flags[f.var] = a.Get(f.flag);
  }
  return ship::LoadS3Settings(root, flags);
}

bool ConfigureEngineS3(const Args& a, const std::string& instance_id, const std::string& root,
                       query::EngineOptions* eo) {
  ship::S3Settings s = S3SettingsFromArgs(a, root);
  if (!s.enabled()) {
    eo->s3_problem = s.problem;
    return true;
  }
  auto fs = ship::MakeS3FileSystem(*s.config, S3FsOptionsFromArgs(a));
  if (!fs.ok()) {
    std::cerr << "otlake: cannot use S3: " << fs.status().message() << "\n";
    return false;
  }
  eo->s3 = *fs;
  eo->s3_days_root = s.config->DaysRoot(instance_id);
  return true;
}

std::vector<OptionSpec> SealTuningSpecs() {
  return {{"", "seal-zstd-level", "N", "9", "zstd level of sealed files (1-22)"},
          {"", "seal-file-rows", "ROWS", "1000000", "Rows per sealed file at most"},
          {"", "seal-file-bytes", "BYTES", "1073741824", "Uncompressed input bytes per sealed file at most (bounds seal memory)"}};
}

bool SealOptionsFromArgs(const Args& a, lake::SealOptions* out, std::string* error) {
  char* end = nullptr;
  const long level = std::strtol(a.Get("seal-zstd-level").c_str(), &end, 10);
  if (*end != '\0' || level < 1 || level > 22) {
    *error = "--seal-zstd-level must be 1-22, got '" + a.Get("seal-zstd-level") + "'";
    return false;
  }
  const long long rows = std::strtoll(a.Get("seal-file-rows").c_str(), &end, 10);
  if (*end != '\0' || rows < 1000 || rows > 100'000'000) {
    *error = "--seal-file-rows must be 1000-100000000, got '" + a.Get("seal-file-rows") + "'";
    return false;
  }
  const long long bytes = std::strtoll(a.Get("seal-file-bytes").c_str(), &end, 10);
  if (*end != '\0' || bytes < (1ll << 20) || bytes > (1ll << 40)) {
    *error = "--seal-file-bytes must be 1048576-1099511627776, got '" + a.Get("seal-file-bytes") + "'";
    return false;
  }
  out->zstd_level = static_cast<int>(level);
  out->target_file_rows = rows;
  out->max_file_bytes = bytes;
  return true;
}

std::vector<OptionSpec> SealSpecs() {
  std::vector<OptionSpec> v = {{"I", "instance-id", "ID", "default", "Instance name (a folder under --dir)"},
                               {"D", "dir", "DIR", "./otlake_data", "Parent directory of instances"},
                               {"d", "day", "YYYY-MM-DD", "", "The past UTC day to seal"},
                               {"", "grace-s", "SECONDS", "600", "With the server running, refuse days that ended less than this long ago"}};
  for (auto& s : SealTuningSpecs()) v.push_back(s);
  return v;
}

std::vector<OptionSpec> ShipSpecs() {
  std::vector<OptionSpec> v = SealSpecs();
  v[2].help = "The past UTC day to ship";
  v.push_back({"", "keep-local", "", "", "Keep the local copy after verification (do not clean)"});
  v.push_back({"", "parallelism", "N", "4", "Files uploaded at once"});
  for (auto& s : S3Specs()) v.push_back(s);
  return v;
}

std::vector<OptionSpec> DaysSpecs() {
  return {{"I", "instance-id", "ID", "default", "Instance name (a folder under --dir)"},
          {"D", "dir", "DIR", "./otlake_data", "Parent directory of instances"},
          {"", "json", "", "", "Print the days as JSON lines"}};
}

int RunSeal(const Args& a, const std::string& instance_id, const std::string& root) {
  ship::ShipperOptions so;
  std::string day;
  std::unique_ptr<FileLock> instance_lock;
  if (int rc = PrepareDay(a, "seal", root, &day, &so, &instance_lock); rc != 0) return rc;
  so.instance_id = instance_id;
  ship::Shipper shipper(so);
  ProgressBar bar;
  auto st = shipper.Run(day, ship::Phase::kSealed, [&](const ship::Progress& p) { bar.Update(p); });
  bar.Finish();
  if (!st.ok()) {
    std::cerr << "otlake seal: " << st.status().message() << "\n";
    return 1;
  }
  PrintStatus(*st);
  return 0;
}

int RunShip(const Args& a, const std::string& instance_id, const std::string& root) {
  ship::ShipperOptions so;
  std::string day;
  std::unique_ptr<FileLock> instance_lock;
  if (int rc = PrepareDay(a, "ship", root, &day, &so, &instance_lock); rc != 0) return rc;
  so.instance_id = instance_id;
  ship::S3Settings s = S3SettingsFromArgs(a, root);
  for (const auto& w : s.warnings) std::cerr << "otlake ship: warning: " << w << "\n";
  if (!s.enabled()) {
    std::cerr << "otlake ship: " << (s.problem.empty() ? "S3 is not configured (set S3_BUCKET, AWS_ACCESS_KEY_ID, "
                                                         "AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL; docs/s3.md)"
                                                       : s.problem)
              << "\n";
    return 1;
  }
  char* end = nullptr;
  const long par = std::strtol(a.Get("parallelism").c_str(), &end, 10);
  if (*end != '\0' || par < 1 || par > 64) {
    std::cerr << "otlake ship: --parallelism must be 1-64\n";
    return 2;
  }
  auto fs = ship::MakeS3FileSystem(*s.config, S3FsOptionsFromArgs(a));
  if (!fs.ok()) {
    std::cerr << "otlake ship: cannot use S3: " << fs.status().message() << "\n";
    return 1;
  }
  so.s3 = *fs;
  so.s3_days_root = s.config->DaysRoot(instance_id);
  so.s3_days_uri = s.config->DaysUri(instance_id);
  so.upload_parallelism = static_cast<int>(par);
  so.clean = !a.Flag("keep-local");
  std::cerr << s.Describe(instance_id) << "\n";
  ship::Shipper shipper(so);
  ProgressBar bar;
  auto progress = [&](const ship::Progress& p) { bar.Update(p); };
  auto st = shipper.Run(day, ship::Phase::kCleaned, progress, /*wait_for_lock=*/false);
  if (!st.ok() && st.status().IsAlreadyExists()) {
    std::cerr << "waiting: " << st.status().message() << "\n";
    st = shipper.Run(day, ship::Phase::kCleaned, progress, /*wait_for_lock=*/true);
  }
  bar.Finish();
  if (!st.ok()) {
    std::cerr << "otlake ship: " << st.status().message() << "\n";
    return 1;
  }
  PrintStatus(*st);
  return 0;
}

int RunDays(const Args& a, const std::string& instance_id, const std::string& root) {
  (void)instance_id;
  if (!PathExists(root)) {
    std::cerr << "otlake days: no instance at " << root << " (run 'otlake init' first)\n";
    return 1;
  }
  ship::DaysIndex index(root + "/index");
  auto statuses = index.Load();
  if (!statuses.ok()) {
    std::cerr << "otlake days: cannot read " << index.jsonl_path() << ": " << statuses.status().message() << "\n";
    return 1;
  }
  std::set<std::string> days;
  std::set<std::string> local;
  const std::string days_dir = root + "/staging/days";
  if (PathExists(days_dir)) {
    for (const auto& entry : std::filesystem::directory_iterator(days_dir)) {
      int64_t d;
      const std::string n = entry.path().filename().string();
      if (entry.is_directory() && ParseDate(n, &d)) {
        days.insert(n);
        local.insert(n);
      }
    }
  }
  for (const auto& [d, _] : *statuses) days.insert(d);
  const std::string today = UtcDate(NowUnixMillis());
  std::vector<std::vector<std::string>> rows;
  std::string json;
  for (auto it = days.rbegin(); it != days.rend(); ++it) {
    const std::string& d = *it;
    const auto sit = statuses->find(d);
    const ship::DayStatus st = sit != statuses->end() ? sit->second : ship::DayStatus{};
    int64_t nrows = -1, files = -1, bytes = -1;
    if (st.done >= ship::Phase::kSealed) {
      nrows = st.sealed.rows;
      files = st.sealed.files;
      bytes = st.sealed.bytes;
    } else if (local.count(d)) {  // not sealed: what the pipeline's day summary says
      auto text = ReadFile(days_dir + "/" + d + "/day.json");
      if (text.ok()) {
        const size_t p = text->find("\"rows\":");
        if (p != std::string::npos) nrows = std::strtoll(text->c_str() + p + 7, nullptr, 10);
      }
    }
    const std::string phase = d == today ? "open" : ship::PhaseName(st.done);
    std::string err = st.failures > 0 ? std::string(ship::PhaseName(st.failed_phase)) + " failed x" +
                                            std::to_string(st.failures) + ": " + st.last_error
                                      : "";
    if (a.Flag("json")) {
      json += "{\"day\":\"" + d + "\",\"local\":" + (local.count(d) ? "true" : "false") + ",\"phase\":\"" + phase +
              "\",\"rows\":" + std::to_string(nrows) + ",\"files\":" + std::to_string(files) +
              ",\"bytes\":" + std::to_string(bytes) + ",\"failures\":" + std::to_string(st.failures) +
              ",\"target\":\"" + st.target + "\",\"updated_utc\":\"" + st.last_when_utc + "\"}\n";
      continue;
    }
    if (err.size() > 80) err = err.substr(0, 77) + "...";
    rows.push_back({d, local.count(d) ? "yes" : "no", phase, nrows < 0 ? "-" : std::to_string(nrows),
                    files < 0 ? "-" : std::to_string(files), bytes < 0 ? "-" : HumanBytes(bytes),
                    st.last_when_utc.empty() ? "-" : st.last_when_utc, err.empty() ? "-" : err});
  }
  if (a.Flag("json")) {
    std::cout << json;
    return 0;
  }
  if (rows.empty()) {
    std::cout << "No days yet.\n";
    return 0;
  }
  PrintTable({"DAY", "LOCAL", "PHASE", "ROWS", "FILES", "BYTES", "UPDATED", "PROBLEM"}, rows,
             {false, false, false, true, true, true, false, false});
  return 0;
}

}  // namespace otlake::cli
