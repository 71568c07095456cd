#include "otlake/cli/archive_cmd.h"

#include <cstdlib>
#include <iostream>
#include <limits>
#include <map>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <optional>
#include <random>

#include "otlake/archive/backfill.h"
#include "otlake/archive/cursor.h"
#include "otlake/archive/layout.h"
#include "otlake/archive/writer.h"
#include "otlake/cli/ship_cmds.h"
#include "otlake/common/file_util.h"
#include "otlake/common/log.h"
#include "otlake/common/time_util.h"
#include "otlake/ingest/ingestor.h"
#include "otlake/otlp/typed_json.h"
#include "otlake/query/query.h"
#include "otlake/ship/s3_config.h"
#include "otlake/ship/s3_fs.h"

namespace otlake::cli {
namespace {

// One archive setting: its flag (without "--archive-"), the Collector's name and a default.
struct Setting {
  const char* flag;
  const char* collector;
  const char* value_name;
  const char* def;
  const char* help;
};

constexpr Setting kSettings[] = {
    {"s3-bucket", "s3uploader.s3_bucket", "BUCKET", "", "Archive every acknowledged record to this bucket (turns the archive on)"},
    {"s3-prefix", "s3uploader.s3_prefix", "PREFIX", "", "\"Directory\" inside the bucket, after the base prefix"},
    {"s3-base-prefix", "s3uploader.s3_base_prefix", "PREFIX", "", "Fixed root in front of s3_prefix"},
    {"s3-partition-format", "s3uploader.s3_partition_format", "FORMAT", "year=%Y/month=%m/day=%d/hour=%H/minute=%M", "strftime layout of the partition folders"},
    {"s3-partition-timezone", "s3uploader.s3_partition_timezone", "ZONE", "UTC", "IANA zone of the partition times ('Local' = the process's zone)"},
    {"file-prefix", "s3uploader.file_prefix", "PREFIX", "", "Text in front of the signal name in object names"},
    {"marshaler", "marshaler", "NAME", "otlp_json", "otlp_json (.json) or otlp_proto (.binpb)"},
    {"compression", "s3uploader.compression", "NAME", "none", "none, gzip (.gz) or zstd (.zst); sets Content-Encoding as the exporter does"},
    {"compression-level", "-", "N", "0", "gzip 1-9 / zstd 1-19; 0 = 1 (fast; the exporter's Go defaults are gzip 6, zstd 3)"},
    {"unique-key-func-name", "s3uploader.unique_key_func_name", "NAME", "uuidv7", "uuidv7 (the only one: keys derived from the WAL range make retries overwrite)"},
    {"storage-class", "s3uploader.storage_class", "CLASS", "STANDARD", "STANDARD only (others: use a bucket lifecycle rule)"},
    {"endpoint", "s3uploader.endpoint", "URL", "", "S3 endpoint [default: AWS_ENDPOINT_URL, else AWS]"},
    {"region", "s3uploader.region", "REGION", "", "S3 region [default: AWS_REGION, else us-east-1]"},
    {"s3-force-path-style", "s3uploader.s3_force_path_style", "BOOL", "false", "Path-style addressing (always used with an endpoint)"},
    {"role-arn", "s3uploader.role_arn", "ARN", "", "Not supported yet: credentials come from docs/s3.md"},
    {"max-object-bytes", "-", "BYTES", "16777216", "Cut a batch at this many bytes of requests (one object per signal per batch)"},
    {"max-age-s", "-", "SECONDS", "60", "Cut a batch once its oldest record is this old"},
    {"backlog-limit-bytes", "-", "BYTES", "4294967296", "WAL kept for the archive at most; past it the oldest is given up as a recorded gap"},
    {"poll-ms", "-", "MS", "1000", "How often the writer looks at the WAL"},
};

std::string VarName(const char* flag) {
  std::string v = "ARCHIVE_";
  for (const char* p = flag; *p; ++p) v.push_back(*p == '-' ? '_' : static_cast<char>(std::toupper(*p)));
  return v;
}

bool ParseI64(const std::string& s, int64_t lo, int64_t hi, int64_t* out) {
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(s.c_str(), &end, 10);
  if (errno || *end || v < lo || v > hi) return false;
  *out = v;
  return true;
}

}  // namespace

std::vector<OptionSpec> ArchiveStartSpecs() {
  std::vector<OptionSpec> v;
  for (const Setting& s : kSettings) {
    std::string help = s.help;
    if (std::string(s.collector) != "-") help += " (" + std::string(s.collector) + ")";
    v.push_back({"", std::string("archive-") + s.flag, s.value_name, s.def, help});
  }
  return v;
}

ServerArchive::ServerArchive() : options_(std::make_unique<archive::ArchiveWriterOptions>()) {}
ServerArchive::~ServerArchive() { Stop(); }

// The archive settings (flags over environment over configs/otlake.env) into `o`: false with
// *error naming the setting when one is bad; true with *on false when no bucket is set.
static bool ReadArchiveSettings(const Args& a, const std::string& root, archive::ArchiveWriterOptions* out_options,
                         bool* on, std::string* error) {
  *on = false;
  std::vector<std::string> warnings;
  auto file = ship::ReadConfigFile(ship::ConfigFilePath(root), &warnings);
  std::map<std::string, std::string> file_vars = file.ok() ? *file : std::map<std::string, std::string>{};
  // flags over environment over configs/otlake.env
  std::map<std::string, std::string> v;
  std::map<std::string, std::string> where;
  for (const Setting& s : kSettings) {
    const std::string flag = std::string("archive-") + s.flag;
    const std::string var = VarName(s.flag);
    if (a.Has(flag)) {
      v[s.flag] = a.Get(flag);
      where[s.flag] = "--" + flag;
    } else if (const char* e = std::getenv(var.c_str()); e != nullptr && *e) {
      v[s.flag] = e;
      where[s.flag] = var;
    } else if (auto it = file_vars.find(var); it != file_vars.end() && !it->second.empty()) {
      v[s.flag] = it->second;
      where[s.flag] = var;
    } else {
      v[s.flag] = s.def;
      where[s.flag] = "--" + flag;
    }
  }
  if (v["s3-bucket"].empty()) return true;  // archive off
  *on = true;
  auto bad = [&](const char* flag, const std::string& msg) {
    *error = where[flag] + ": " + msg;
    return false;
  };
  const std::string bucket = v["s3-bucket"];
  if (bucket.find('/') != std::string::npos || bucket.size() < 3) return bad("s3-bucket", "'" + bucket + "' is not a bucket name");
  archive::ArchiveWriterOptions& o = *out_options;
  o.layout.s3_prefix = v["s3-prefix"];
  o.layout.s3_base_prefix = v["s3-base-prefix"];
  o.layout.s3_partition_format = v["s3-partition-format"];
  o.layout.s3_partition_timezone = v["s3-partition-timezone"] == "UTC" ? "" : v["s3-partition-timezone"];
  o.layout.file_prefix = v["file-prefix"];
  auto m = archive::ParseMarshaler(v["marshaler"]);
  if (!m.ok() || *m == archive::Marshaler::kJsonLines) {
    return bad("marshaler", "'" + v["marshaler"] + "' is not otlp_json or otlp_proto");
  }
  o.layout.marshaler = *m;
  auto c = archive::ParseCompression(v["compression"]);
  if (!c.ok()) return bad("compression", "'" + v["compression"] + "' is not none, gzip or zstd");
  o.layout.compression = *c;
  if (auto layout = archive::KeyLayout::Make(o.layout); !layout.ok()) {
    *error = "--archive-" + layout.status().message();
    return false;
  }
  int64_t level = 0;
  if (!ParseI64(v["compression-level"], 0, 19, &level) ||
      (o.layout.compression == archive::Compression::kGzip && level > 9)) {
    return bad("compression-level", "'" + v["compression-level"] + "' is not 0-9 (gzip) or 0-19 (zstd)");
  }
  o.compression_level = static_cast<int>(level);
  if (v["unique-key-func-name"] != "uuidv7") {
    return bad("unique-key-func-name", "'" + v["unique-key-func-name"] +
                                           "': only uuidv7 (otlake derives it from the WAL range so a retry "
                                           "overwrites instead of duplicating; the exporter's random number cannot)");
  }
  const std::string sc = v["storage-class"];
  if (sc != "STANDARD") {
    for (const char* known : {"STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER", "DEEP_ARCHIVE"}) {
      if (sc == known) {
        return bad("storage-class", sc + " is not supported yet (otlake's S3 client writes STANDARD); "
                                         "move objects with a bucket lifecycle rule");
      }
    }
    return bad("storage-class", "'" + sc + "' is not one of STANDARD, STANDARD_IA, ONEZONE_IA, INTELLIGENT_TIERING, "
                                          "GLACIER, DEEP_ARCHIVE");
  }
  if (v["s3-force-path-style"] != "true" && v["s3-force-path-style"] != "false") {
    return bad("s3-force-path-style", "'" + v["s3-force-path-style"] + "' is not true or false");
  }
  if (!v["role-arn"].empty()) {
    return bad("role-arn", "assuming a role is not supported yet; give the role's credentials as in docs/s3.md");
  }
  struct { const char* flag; int64_t lo, hi; int64_t* out; } ints[] = {
      {"max-object-bytes", 1024, int64_t{1} << 32, &o.max_object_bytes},
      {"max-age-s", 1, 86400, &o.max_age_ms},
      {"backlog-limit-bytes", 1 << 20, int64_t{1} << 50, &o.backlog_limit_bytes},
      {"poll-ms", 10, 600000, &o.poll_ms},
  };
  for (auto& i : ints) {
    if (!ParseI64(v[i.flag], i.lo, i.hi, i.out)) {
      return bad(i.flag, "must be an integer in [" + std::to_string(i.lo) + ", " + std::to_string(i.hi) + "], got '" +
                             v[i.flag] + "'");
    }
  }
  o.max_age_ms *= 1000;
  // Credentials and endpoint: the docs/s3.md chain, with this bucket.
  std::map<std::string, std::string> flags = {{"S3_BUCKET", bucket}};
  if (!v["endpoint"].empty()) {
    flags["AWS_ENDPOINT_URL"] = v["endpoint"];
  } else {
    bool configured = false;
    for (const char* e : {"AWS_ENDPOINT_URL", "S3_URL"}) {
      const char* x = std::getenv(e);
      if ((x && *x) || (file_vars.count(e) && !file_vars[e].empty())) configured = true;
    }
    if (!configured) flags["AWS_ENDPOINT_URL"] = "https://s3.amazonaws.com";
  }
  if (!v["region"].empty()) flags["AWS_REGION"] = v["region"];
  ship::S3Settings s3 = ship::LoadS3Settings(root, flags);
  if (!s3.enabled()) {
    std::string problem = s3.problem;
    const std::string tail = "; shipping is disabled";
    if (problem.size() > tail.size() && problem.compare(problem.size() - tail.size(), tail.size(), tail) == 0) {
      problem.resize(problem.size() - tail.size());
    }
    *error = "--archive-s3-bucket " + bucket + ": " + problem + " (credentials as in docs/s3.md)";
    return false;
  }
  auto fs = ship::MakeS3FileSystem(*s3.config);
  if (!fs.ok()) {
    *error = "--archive-s3-bucket: cannot use S3: " + fs.status().message();
    return false;
  }
  o.fs = *fs;
  o.bucket = bucket;
  o.target = "s3://" + archive::JoinKey({bucket, o.layout.s3_base_prefix, o.layout.s3_prefix}) + " (" +
             s3.config->endpoint_url + ")";
  o.wal_dir = root + "/wal";
  o.state_dir = root + "/archive";
  return true;
}

bool ServerArchive::Configure(const Args& a, const std::string& root, std::unique_ptr<ServerArchive>* out,
                              std::string* error) {
  out->reset();
  std::unique_ptr<ServerArchive> sa(new ServerArchive());
  bool on = false;
  if (!ReadArchiveSettings(a, root, sa->options_.get(), &on, error)) return false;
  if (!on) return true;  // archive off
  const archive::ArchiveWriterOptions& o = *sa->options_;
  // Before the ingestor opens: keep what the saved state still needs.
  auto state = archive::LoadArchiveState(archive::ArchiveStatePath(o.state_dir));
  if (state.ok()) {
    sa->initial_retain_ = state->pending ? state->pending->first_lsn : state->archived_lsn + 1;
  } else if (state.status().IsKeyError()) {
    sa->initial_retain_ = std::numeric_limits<int64_t>::max();  // fresh: starts after recovery
  } else {
    *error = "archive state: " + state.status().message();
    return false;
  }
  *out = std::move(sa);
  return true;
}

std::function<int64_t()> ServerArchive::RetainFrom() {
  return [this] {
    archive::ArchiveWriter* w = live_.load(std::memory_order_acquire);
    return w != nullptr ? w->retain_from() : initial_retain_;
  };
}

Status ServerArchive::Start(ingest::Ingestor* ingestor) {
  options_->durable_lsn = [ingestor] { return ingestor->wal_stats().durable_lsn; };
  options_->start_lsn = ingestor->recovery().next_lsn;
  OTLAKE_ASSIGN_OR_RAISE(writer_, archive::ArchiveWriter::Open(*options_));
  live_.store(writer_.get(), std::memory_order_release);
  writer_->Start();
  OTLAKE_LOG(INFO) << "archive: writing to " << options_->target << " as "
                   << archive::MarshalerName(options_->layout.marshaler) << "/"
                   << archive::CompressionName(options_->layout.compression) << " from WAL LSN "
                   << writer_->state().archived_lsn + 1;
  return Status::OK();
}

void ServerArchive::Stop() {
  if (writer_) writer_->Stop(/*flush=*/true);
}

std::string ServerArchive::StatusJson() const {
  archive::ArchiveWriter* w = live_.load(std::memory_order_acquire);
  return w != nullptr ? w->StatusJson() : "{\"enabled\":true,\"started\":false}";
}

std::string ServerArchive::MetricsText() const {
  archive::ArchiveWriter* w = live_.load(std::memory_order_acquire);
  return w != nullptr ? w->MetricsText() : std::string();
}

std::vector<OptionSpec> ArchiveCmdSpecs() {
  std::vector<OptionSpec> v = {
      {"I", "instance-id", "ID", "default", "Instance name (a folder under --dir)"},
      {"D", "dir", "DIR", "./otlake_data", "Parent directory of instances"},
      {"", "json", "", "", "Print the state (status) or the report (backfill) as JSON"},
      {"", "from", "TIME", "", "backfill: start of the event-time window (RFC 3339, 'YYYY-MM-DD HH:MM', 'YYYY-MM-DD'; the last two in the partition zone)"},
      {"", "to", "TIME", "", "backfill: end of the window (exclusive)"},
      {"", "gaps", "", "", "backfill: every recorded gap not backfilled yet, by its arrival times"},
      {"", "gap-lookback-s", "SECONDS", "60", "backfill --gaps: also records whose event time is this long before the gap's first arrival"},
      {"", "signal", "LIST", "traces,logs,metrics", "backfill: signals to write (comma-separated)"}};
  for (auto& s : ArchiveStartSpecs()) v.push_back(s);
  for (auto& s : S3Specs()) v.push_back(s);
  return v;
}

namespace {

// <instance>/archive/backfills.json: the backfill salt (stable keys across runs), the gaps
// backfilled and the last runs. Written atomically by the backfill command only (the writer
// owns state.json and rewrites it from memory, so gaps are marked here, not there).
struct BackfilledGap {
  int64_t from_lsn = 0, to_lsn = 0, unix_ms = 0, window_from_ns = 0, window_to_ns = 0, objects = 0, records = 0;
};
struct BackfillLog {
  uint64_t salt = 0;
  std::vector<BackfilledGap> gaps;
  std::vector<std::string> runs;  // JSON objects, newest last
};

std::string BackfillLogPath(const std::string& root) { return root + "/archive/backfills.json"; }

Result<BackfillLog> LoadBackfillLog(const std::string& root) {
  BackfillLog log;
  const std::string path = BackfillLogPath(root);
  if (!PathExists(path)) return log;
  OTLAKE_ASSIGN_OR_RAISE(std::string text, ReadFile(path));
  rapidjson::Document d;
  d.Parse(text.data(), text.size());
  if (d.HasParseError() || !d.IsObject() || !d.HasMember("salt") || !d["salt"].IsString()) {
    return Status::Invalid(path, ": not a backfill log");
  }
  log.salt = std::strtoull(d["salt"].GetString(), nullptr, 16);
  if (d.HasMember("gaps") && d["gaps"].IsArray()) {
    for (const auto& g : d["gaps"].GetArray()) {
      if (!g.IsObject()) continue;
      auto i = [&](const char* k) { return g.HasMember(k) && g[k].IsInt64() ? g[k].GetInt64() : 0; };
      log.gaps.push_back({i("from_lsn"), i("to_lsn"), i("backfilled_unix_ms"), i("window_from_unix_nanos"),
                          i("window_to_unix_nanos"), i("objects"), i("records")});
    }
  }
  if (d.HasMember("runs") && d["runs"].IsArray()) {
    for (const auto& r : d["runs"].GetArray()) {
      rapidjson::StringBuffer sb;
      rapidjson::Writer<rapidjson::StringBuffer> w(sb);
      r.Accept(w);
      log.runs.emplace_back(sb.GetString(), sb.GetSize());
    }
  }
  return log;
}

std::string BackfillLogJson(const BackfillLog& log) {
  char salt[17];
  std::snprintf(salt, sizeof salt, "%016" PRIx64, log.salt);
  std::string out = std::string("{\"version\":1,\"salt\":\"") + salt + "\",\"gaps\":[";
  for (size_t i = 0; i < log.gaps.size(); ++i) {
    const BackfilledGap& g = log.gaps[i];
    out += (i ? "," : "") + std::string("{\"from_lsn\":") + std::to_string(g.from_lsn) +
           ",\"to_lsn\":" + std::to_string(g.to_lsn) + ",\"backfilled_unix_ms\":" + std::to_string(g.unix_ms) +
           ",\"window_from_unix_nanos\":" + std::to_string(g.window_from_ns) +
           ",\"window_to_unix_nanos\":" + std::to_string(g.window_to_ns) + ",\"objects\":" +
           std::to_string(g.objects) + ",\"records\":" + std::to_string(g.records) + "}";
  }
  out += "],\"runs\":[";
  for (size_t i = 0; i < log.runs.size(); ++i) out += (i ? "," : "") + log.runs[i];
  return out + "]}";
}

const BackfilledGap* FindBackfilled(const BackfillLog& log, const archive::ArchiveGap& g) {
  for (const BackfilledGap& b : log.gaps) {
    if (b.from_lsn == g.from_lsn && b.to_lsn == g.to_lsn) return &b;
  }
  return nullptr;
}

std::string NsIso(int64_t ns) { return UtcIso8601(ns / 1000000); }

// The instance id: the last component of its root folder (the S3 days root of shipped days).
std::string InstanceIdOfRoot(std::string r) {
  while (r.size() > 1 && r.back() == '/') r.pop_back();
  const size_t p = r.rfind('/');
  return p == std::string::npos ? r : r.substr(p + 1);
}

std::string ReportJson(const archive::BackfillReport& r, double seconds, const archive::ArchiveGap* gap) {
  std::string out = "{\"window_from\":\"" + NsIso(r.window_from_unix_nanos) + "\",\"window_to\":\"" +
                    NsIso(r.window_to_unix_nanos) + "\",\"window_from_unix_nanos\":" +
                    std::to_string(r.window_from_unix_nanos) + ",\"window_to_unix_nanos\":" +
                    std::to_string(r.window_to_unix_nanos) + ",\"step\":\"" + r.step + "\",\"partitions\":" +
                    std::to_string(r.partitions) + ",\"objects\":" + std::to_string(r.objects) +
                    ",\"objects_removed\":" + std::to_string(r.objects_removed) + ",\"records\":" +
                    std::to_string(r.records) + ",\"spans\":" + std::to_string(r.spans) + ",\"logs\":" +
                    std::to_string(r.logs) + ",\"points\":" + std::to_string(r.points) + ",\"bytes\":" +
                    std::to_string(r.bytes);
  char sec[32];
  std::snprintf(sec, sizeof sec, "%.3f", seconds);
  out += std::string(",\"seconds\":") + sec + ",\"gap\":";
  out += gap ? "{\"from_lsn\":" + std::to_string(gap->from_lsn) + ",\"to_lsn\":" + std::to_string(gap->to_lsn) + "}"
             : std::string("null");
  out += ",\"keys\":[";
  for (size_t i = 0; i < r.keys.size(); ++i) {
    out += i ? "," : "";
    otlp::AppendJsonString(&out, r.keys[i]);
  }
  return out + "]}";
}

int RunBackfillCommand(const Args& a, const std::string& root) {
  auto usage = [](const std::string& msg) {
    std::cerr << "otlake archive backfill: " << msg << "\n";
    return 2;
  };
  if (!PathExists(root)) {
    std::cerr << "otlake archive backfill: no instance at " << root << "\n";
    return 1;
  }
  const bool gaps = a.Flag("gaps");
  if (gaps == (a.Has("from") || a.Has("to"))) {
    return usage("give either --from TIME --to TIME or --gaps");
  }
  if (!gaps && (!a.Has("from") || !a.Has("to"))) return usage(a.Has("from") ? "--to: required with --from" : "--from: required with --to");
  archive::ArchiveWriterOptions o;
  bool on = false;
  std::string error;
  if (!ReadArchiveSettings(a, root, &o, &on, &error)) return usage(error);
  if (!on) {
    return usage("--archive-s3-bucket (ARCHIVE_S3_BUCKET): no archive configured; give the archive's settings as "
                 "to otlake start (flags, environment or configs/otlake.env)");
  }
  std::vector<archive::Signal> signals;
  {
    const std::string list = a.Get("signal");
    size_t start = 0;
    while (start <= list.size()) {
      size_t comma = list.find(',', start);
      if (comma == std::string::npos) comma = list.size();
      const std::string name = list.substr(start, comma - start);
      if (name == "traces") signals.push_back(archive::Signal::kTraces);
      else if (name == "logs") signals.push_back(archive::Signal::kLogs);
      else if (name == "metrics") signals.push_back(archive::Signal::kMetrics);
      else return usage("--signal: '" + name + "' is not traces, logs or metrics");
      start = comma + 1;
    }
  }
  int64_t lookback_s = 0;
  if (!ParseI64(a.Get("gap-lookback-s"), 0, 86400 * 366, &lookback_s)) {
    return usage("--gap-lookback-s: must be an integer in [0, 31622400], got '" + a.Get("gap-lookback-s") + "'");
  }
  auto layout = archive::KeyLayout::Make(o.layout);
  if (!layout.ok()) return usage("--archive-" + layout.status().message());
  // The windows to write: one from --from/--to, or one per gap not backfilled yet.
  struct Job {
    int64_t from = 0, to = 0;
    std::optional<archive::ArchiveGap> gap;
  };
  std::vector<Job> jobs;
  // One backfill at a time per instance: each rewrites backfills.json from what it loaded.
  Status made = MakeDirs(root + "/archive");
  if (!made.ok()) {
    std::cerr << "otlake archive backfill: " << made.message() << "\n";
    return 1;
  }
  struct Lock {
    int fd = -1;
    ~Lock() {
      if (fd >= 0) ::close(fd);
    }
  } lock;
  lock.fd = ::open((root + "/archive/backfills.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock.fd < 0 || ::flock(lock.fd, LOCK_EX | LOCK_NB) != 0) {
    std::cerr << "otlake archive backfill: another backfill of this instance is running\n";
    return 1;
  }
  auto log = LoadBackfillLog(root);
  if (!log.ok()) {
    std::cerr << "otlake archive backfill: " << log.status().message() << "\n";
    return 1;
  }
  int skipped = 0;
  if (gaps) {
    auto st = archive::LoadArchiveState(archive::ArchiveStatePath(root + "/archive"));
    if (!st.ok()) {
      std::cerr << "otlake archive backfill: "
                << (st.status().IsKeyError() ? "no archive state at " + root + " (never started with --archive-s3-bucket)"
                                             : st.status().message())
                << "\n";
      return 1;
    }
    for (const archive::ArchiveGap& g : st->gaps) {
      if (FindBackfilled(*log, g)) continue;
      if (g.first_arrival_unix_ms <= 0 || g.last_arrival_unix_ms <= 0) {
        std::cerr << "otlake archive backfill: gap LSN " << g.from_lsn << ".." << g.to_lsn
                  << ": its arrival times are unknown; backfill it with --from/--to\n";
        ++skipped;
        continue;
      }
      jobs.push_back({(g.first_arrival_unix_ms - lookback_s * 1000) * 1000000, (g.last_arrival_unix_ms + 1) * 1000000, g});
    }
    if (st->gaps_dropped > 0) {
      std::cerr << "otlake archive backfill: " << st->gaps_dropped
                << " older gaps are no longer listed in the state; backfill them with --from/--to\n";
    }
  } else {
    auto from = archive::ParseWindowTime(a.Get("from"), layout->time_zone(), "--from");
    if (!from.ok()) return usage(from.status().message());
    auto to = archive::ParseWindowTime(a.Get("to"), layout->time_zone(), "--to");
    if (!to.ok()) return usage(to.status().message());
    if (*to <= *from) return usage("--to: '" + a.Get("to") + "' is not after --from '" + a.Get("from") + "'");
    jobs.push_back({*from, *to, std::nullopt});
  }
  query::EngineOptions eo;
  eo.instance_dir = root;
  eo.limits.max_rows = 100000;
  eo.limits.timeout_ms = 3600 * 1000;
  if (!ConfigureEngineS3(a, InstanceIdOfRoot(root), root, &eo)) return 1;
  query::QueryEngine engine(eo);
  if (log->salt == 0) {
    std::random_device rd;
    log->salt = ((static_cast<uint64_t>(rd()) << 32) ^ rd() ^ static_cast<uint64_t>(NowUnixNanos())) | 1;
  }
  const bool tty = isatty(2) != 0;
  int64_t last_line_ns = 0;
  int64_t objects = 0, records = 0, bytes = 0, removed = 0;
  std::vector<std::string> reports;
  int rc = skipped > 0 ? 1 : 0;
  for (const Job& job : jobs) {
    archive::BackfillOptions bo;
    bo.layout = o.layout;
    bo.compression_level = o.compression_level;
    bo.bucket = o.bucket;
    bo.fs = o.fs;
    bo.salt = log->salt;
    bo.max_object_bytes = o.max_object_bytes;
    bo.signals = signals;
    bo.from_unix_nanos = job.from;
    bo.to_unix_nanos = job.to;
    bo.progress = [&](const archive::BackfillReport& r) {
      const int64_t now = NowUnixNanos();
      if (!tty && now - last_line_ns < 5 * 1000000000ll && r.window_done_unix_nanos < r.window_to_unix_nanos) return;
      last_line_ns = now;
      std::cerr << (tty ? "\r" : "") << "backfill: " << NsIso(r.window_done_unix_nanos) << " of "
                << NsIso(r.window_from_unix_nanos) << " .. " << NsIso(r.window_to_unix_nanos) << ": " << r.objects
                << " objects, " << r.records << " records, " << HumanBytes(r.bytes) << (tty ? "   " : "\n")
                << std::flush;
    };
    const int64_t t0 = NowUnixNanos();
    auto rep = archive::RunBackfill(bo, &engine);
    if (tty) std::cerr << "\n";
    if (!rep.ok()) {
      if (rep.status().IsInvalid()) return usage(rep.status().message());
      std::cerr << "otlake archive backfill: " << rep.status().message()
                << " (objects written so far stay; run it again to write the same keys)\n";
      rc = 1;
      break;
    }
    const double seconds = static_cast<double>(NowUnixNanos() - t0) / 1e9;
    const std::string json = ReportJson(*rep, seconds, job.gap ? &*job.gap : nullptr);
    reports.push_back(json);
    log->runs.push_back(json.substr(0, json.find(",\"keys\":")) + ",\"finished\":\"" + UtcIso8601(NowUnixMillis()) + "\"}");
    if (log->runs.size() > 50) log->runs.erase(log->runs.begin());
    if (job.gap) {
      log->gaps.push_back({job.gap->from_lsn, job.gap->to_lsn, NowUnixMillis(), rep->window_from_unix_nanos,
                           rep->window_to_unix_nanos, rep->objects, rep->records});
      if (log->gaps.size() > 1000) log->gaps.erase(log->gaps.begin());
    }
    Status saved = MakeDirs(root + "/archive");
    if (saved.ok()) saved = WriteFileAtomic(BackfillLogPath(root), BackfillLogJson(*log) + "\n");
    if (!saved.ok()) {
      std::cerr << "otlake archive backfill: cannot record the run: " << saved.message() << "\n";
      rc = 1;
    }
    objects += rep->objects;
    records += rep->records;
    bytes += rep->bytes;
    removed += rep->objects_removed;
    if (!a.Flag("json")) {
      std::cout << "backfilled " << NsIso(rep->window_from_unix_nanos) << " .. " << NsIso(rep->window_to_unix_nanos)
                << " (whole " << rep->step << " partitions)";
      if (job.gap) std::cout << " for gap LSN " << job.gap->from_lsn << ".." << job.gap->to_lsn;
      std::cout << ": " << rep->partitions << " partitions, " << rep->objects << " objects, " << rep->records
                << " records (" << rep->spans << " spans, " << rep->logs << " log records, " << rep->points
                << " data points), " << HumanBytes(rep->bytes);
      if (rep->objects_removed) std::cout << ", " << rep->objects_removed << " leftover objects removed";
      std::cout << ", " << seconds << " s\n";
    }
  }
  if (a.Flag("json")) {
    std::cout << "{\"objects\":" << objects << ",\"records\":" << records << ",\"bytes\":" << bytes
              << ",\"objects_removed\":" << removed << ",\"gaps_skipped\":" << skipped << ",\"runs\":[";
    for (size_t i = 0; i < reports.size(); ++i) std::cout << (i ? "," : "") << reports[i];
    std::cout << "]}\n";
  } else if (gaps && jobs.empty() && skipped == 0) {
    std::cout << "no gaps to backfill\n";
  }
  return rc;
}

}  // namespace

int RunArchiveCommand(const Args& a, const std::string& root) {
  const auto& pos = a.positional();
  if (!pos.empty() && pos[0] == "backfill" && pos.size() == 1) return RunBackfillCommand(a, root);
  if (pos.size() != 1 || pos[0] != "status") {
    std::cerr << "otlake archive: expected 'status' or 'backfill'\nTry 'otlake archive --help'.\n";
    return 2;
  }
  auto st = archive::LoadArchiveState(archive::ArchiveStatePath(root + "/archive"));
  if (!st.ok()) {
    std::cerr << "otlake archive: " << (st.status().IsKeyError() ? "no archive at " + root + " (never started with --archive-s3-bucket)" : st.status().message()) << "\n";
    return 1;
  }
  // One backfill at a time per instance: each rewrites backfills.json from what it loaded.
  Status made = MakeDirs(root + "/archive");
  if (!made.ok()) {
    std::cerr << "otlake archive backfill: " << made.message() << "\n";
    return 1;
  }
  struct Lock {
    int fd = -1;
    ~Lock() {
      if (fd >= 0) ::close(fd);
    }
  } lock;
  lock.fd = ::open((root + "/archive/backfills.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock.fd < 0 || ::flock(lock.fd, LOCK_EX | LOCK_NB) != 0) {
    std::cerr << "otlake archive backfill: another backfill of this instance is running\n";
    return 1;
  }
  auto log = LoadBackfillLog(root);
  if (!log.ok()) {
    std::cerr << "otlake archive: " << log.status().message() << "\n";
    return 1;
  }
  if (a.Flag("json")) {
    std::string json = archive::ArchiveStateJson(*st);
    json.pop_back();  // the closing brace: the backfill log joins the state
    std::cout << json << ",\"backfill\":" << BackfillLogJson(*log) << "}\n";
    return 0;
  }
  std::cout << "archived through WAL LSN " << st->archived_lsn << ": " << st->objects << " objects, " << st->requests
            << " requests, " << HumanBytes(st->bytes) << "\n";
  if (st->pending) {
    std::cout << "pending batch: LSN " << st->pending->first_lsn << ".." << st->pending->last_lsn << " cut at "
              << UtcIso8601(st->pending->time_unix_ms) << " (written again at the next start)\n";
  }
  std::cout << "gaps: " << st->gaps.size() + static_cast<size_t>(st->gaps_dropped) << "\n";
  for (const auto& g : st->gaps) {
    std::cout << "  LSN " << g.from_lsn << ".." << g.to_lsn << "  arrival "
              << (g.first_arrival_unix_ms ? UtcIso8601(g.first_arrival_unix_ms) : "?") << " .. "
              << (g.last_arrival_unix_ms ? UtcIso8601(g.last_arrival_unix_ms) : "?") << "  recorded "
              << UtcIso8601(g.recorded_unix_ms) << "  " << g.reason;
    if (const BackfilledGap* b = FindBackfilled(*log, g)) {
      std::cout << "  backfilled " << UtcIso8601(b->unix_ms) << " (" << b->records << " records in " << b->objects
                << " objects)";
    }
    std::cout << "\n";
  }
  return 0;
}

}  // namespace otlake::cli
