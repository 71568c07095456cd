#include "otlake/cli/archive_cmd.h"

#include <cstdlib>
#include <iostream>
#include <limits>
#include <map>

#include "otlake/archive/cursor.h"
#include "otlake/archive/layout.h"
#include "otlake/archive/writer.h"
#include "otlake/common/log.h"
#include "otlake/common/time_util.h"
#include "otlake/ingest/ingestor.h"
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

bool ServerArchive::Configure(const Args& a, const std::string& root, std::unique_ptr<ServerArchive>* out,
                              std::string* error) {
  out->reset();
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
  auto bad = [&](const char* flag, const std::string& msg) {
    *error = where[flag] + ": " + msg;
    return false;
  };
  const std::string bucket = v["s3-bucket"];
  if (bucket.find('/') != std::string::npos || bucket.size() < 3) return bad("s3-bucket", "'" + bucket + "' is not a bucket name");
  std::unique_ptr<ServerArchive> sa(new ServerArchive());
  archive::ArchiveWriterOptions& o = *sa->options_;
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
  return {{"I", "instance-id", "ID", "default", "Instance name (a folder under --dir)"},
          {"D", "dir", "DIR", "./otlake_data", "Parent directory of instances"},
          {"", "json", "", "", "Print the state as JSON"}};
}

int RunArchiveCommand(const Args& a, const std::string& root) {
  const auto& pos = a.positional();
  if (pos.empty() || pos[0] != "status") {
    std::cerr << "otlake archive: expected 'status'\nTry 'otlake archive --help'.\n";
    return 2;
  }
  auto st = archive::LoadArchiveState(archive::ArchiveStatePath(root + "/archive"));
  if (!st.ok()) {
    std::cerr << "otlake archive: " << (st.status().IsKeyError() ? "no archive at " + root + " (never started with --archive-s3-bucket)" : st.status().message()) << "\n";
    return 1;
  }
  if (a.Flag("json")) {
    std::cout << archive::ArchiveStateJson(*st) << "\n";
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
              << UtcIso8601(g.recorded_unix_ms) << "  " << g.reason << "\n";
  }
  return 0;
}

}  // namespace otlake::cli
