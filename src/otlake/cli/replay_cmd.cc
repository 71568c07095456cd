#include "otlake/cli/replay_cmd.h"

#include <arrow/filesystem/localfs.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <thread>

#include "otlake/archive/replay.h"
#include "otlake/cli/args.h"
#include "otlake/cli/http_client.h"
#include "otlake/archive/replay_service.h"
#include "otlake/ship/s3_config.h"
#include "otlake/ship/s3_fs.h"

namespace otlake::cli {
namespace {

int Usage(const std::string& msg) {
  std::cerr << "otlake replay: " << msg << "\nTry 'otlake replay --help'.\n";
  return 2;
}

bool ParseIntFlag(const Args& a, const char* name, int64_t lo, int64_t hi, int64_t* out, std::string* err) {
  const std::string& s = a.Get(name);
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(s.c_str(), &end, 10);
  if (s.empty() || errno || *end || v < lo || v > hi) {
    *err = "--" + std::string(name) + " must be an integer in [" + std::to_string(lo) + ", " +
           std::to_string(hi) + "], got '" + s + "'";
    return false;
  }
  *out = v;
  return true;
}

// Progress: on a terminal one line redrawn in place (objects, bytes, records, rate, ETA); else
// a plain line every few seconds.
void PrintProgress(const archive::ReplayProgress& p, bool tty) {
  static double last_plain = -1e9;
  if (!tty && p.seconds - last_plain < 5 && p.objects_done < p.objects_total) return;
  last_plain = p.seconds;
  const double rate = p.seconds > 0 ? static_cast<double>(p.records) / p.seconds : 0;
  const double mbs = p.seconds > 0 ? static_cast<double>(p.bytes) / 1048576.0 / p.seconds : 0;
  std::string eta = "-";
  const int64_t done = p.objects_done;
  if (done > 0 && p.objects_total > done) {
    eta = std::to_string(static_cast<int64_t>(p.seconds * static_cast<double>(p.objects_total - done) /
                                              static_cast<double>(done))) + "s";
  }
  std::string already = p.objects_already > 0 ? ", " + std::to_string(p.objects_already) + " already in the lake" : "";
  std::fprintf(stderr, "%sreplay: %lld/%lld objects (%lld failed%s)  %s / %s  %lld records  %.0f rec/s  %.1f MiB/s  ETA %s%s",
               tty ? "\r" : "", static_cast<long long>(p.objects_done), static_cast<long long>(p.objects_total),
               static_cast<long long>(p.objects_failed), already.c_str(), HumanBytes(p.bytes).c_str(),
               HumanBytes(p.bytes_total).c_str(), static_cast<long long>(p.records), rate, mbs,
               eta.c_str(), tty ? "\033[K" : "\n");
  std::fflush(stderr);
}

volatile sig_atomic_t g_interrupted = 0;
void OnInterrupt(int) { g_interrupted = 1; }

std::string SettingProblem(const std::string& message, const std::string& bucket) {
  return archive::S3SettingProblem(message, bucket, "--s3-bucket",
                                   "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN (docs/s3.md)");
}


// The body of POST /api/replay: every setting, the credentials included (write-only there).
std::string RequestBody(const archive::ReplayRequest& r, bool with_project) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  auto str = [&](const char* k, const std::string& v) {
    if (v.empty()) return;
    w.Key(k);
    w.String(v.c_str(), static_cast<rapidjson::SizeType>(v.size()));
  };
  w.StartObject();
  str("s3_bucket", r.s3_bucket);
  str("source_dir", r.source_dir);
  str("s3_prefix", r.s3_prefix);
  str("s3_partition_format", r.s3_partition_format);
  str("s3_partition_timezone", r.s3_partition_timezone);
  str("file_prefix", r.file_prefix);
  str("region", r.region);
  str("endpoint", r.endpoint);
  str("access_key_id", r.access_key_id);
  str("secret_access_key", r.secret_access_key);
  str("session_token", r.session_token);
  str("starttime", r.starttime);
  str("endtime", r.endtime);
  if (with_project) str("project", r.project);
  w.Key("signals");
  w.StartArray();
  for (archive::Signal sig : r.signals) w.String(std::string(archive::SignalName(sig)).c_str());
  w.EndArray();
  w.Key("event_time");
  w.Bool(r.event_time);
  w.Key("parallelism");
  w.Int(r.parallelism);
  w.EndObject();
  return sb.GetString();
}

int64_t JInt(const rapidjson::Value& d, const char* k) {
  return d.IsObject() && d.HasMember(k) && d[k].IsInt64() ? d[k].GetInt64() : 0;
}
std::string JStr(const rapidjson::Value& d, const char* k) {
  return d.IsObject() && d.HasMember(k) && d[k].IsString() ? d[k].GetString() : "";
}

// Replays into the running server's lake: POST /api/replay, then follow the job to its end.
int RunIntoLake(const Args& a, const std::string& server, const server::TlsClientSettings& tls,
                const std::string& key, const archive::ReplayRequest& rq, bool with_project,
                const std::string& source_display) {
  std::vector<std::string> headers = {"Content-Type: application/json", "Accept: application/json"};
  if (!key.empty()) headers.push_back("Authorization: Bearer " + key);
  auto posted = archive::HttpExchange(server, "POST", "/api/replay", headers, RequestBody(rq, with_project), 120, tls);
  if (!posted.ok()) {
    std::cerr << "otlake replay: cannot reach the server at " << server << " (is otlake running?): "
              << posted.status().message() << "\n";
    return 1;
  }
  rapidjson::Document d;
  d.Parse(posted->body.c_str());
  if (posted->status != 202) {
    const std::string msg = JStr(d, "error").empty() ? posted->body.substr(0, 300) : JStr(d, "error");
    if (posted->status == 400) return Usage(msg);
    if (posted->status == 401 || posted->status == 403) {
      std::cerr << "otlake replay: the server refused the request (HTTP " << posted->status << "): " << msg
                << " (pass an ingest key for the project with --key or OTLAKE_API_KEY)\n";
      return 2;
    }
    std::cerr << "otlake replay: the server answered HTTP " << posted->status << ": " << msg << "\n";
    return 1;
  }
  const std::string id = JStr(d, "id");
  const bool tty = ::isatty(STDERR_FILENO) == 1;
  struct sigaction sa{}, old_int{}, old_term{};
  sa.sa_handler = OnInterrupt;
  ::sigaction(SIGINT, &sa, &old_int);
  ::sigaction(SIGTERM, &sa, &old_term);
  bool cancel_sent = false;
  std::string last;
  int failures = 0;
  for (;;) {
    if (g_interrupted && !cancel_sent) {
      (void)archive::HttpExchange(server, "DELETE", "/api/replay/" + id, headers, "", 30, tls);
      cancel_sent = true;
      std::fprintf(stderr, "%sotlake replay: interrupted: cancelling job %s (objects in flight finish)\n",
                   tty ? "\n" : "", id.c_str());
    }
    auto got = archive::HttpExchange(server, "GET", "/api/replay/" + id, headers, "", 60, tls);
    if (!got.ok() || got->status != 200) {
      if (++failures < 20) {  // the server may be busy for a moment
        std::this_thread::sleep_for(std::chrono::milliseconds(250));
        continue;
      }
      std::cerr << (tty ? "\n" : "") << "otlake replay: lost the server at " << server << " during job " << id << ": "
                << (got.ok() ? "HTTP " + std::to_string(got->status) : got.status().message())
                << ". Run the same command again: objects already in the lake are skipped, the rest replayed once.\n";
      return 1;
    }
    failures = 0;
    last = got->body;
    rapidjson::Document j;
    j.Parse(last.c_str());
    const std::string status = JStr(j, "status");
    archive::ReplayProgress p;
    p.objects_total = JInt(j, "objects_total");
    p.bytes_total = JInt(j, "bytes_total");
    p.objects_done = JInt(j, "objects_done");
    p.objects_failed = JInt(j, "objects_failed");
    p.objects_already = JInt(j, "objects_already");
    p.bytes = JInt(j, "bytes");
    p.records = JInt(j, "records");
    p.seconds = j.HasMember("seconds") && j["seconds"].IsNumber() ? j["seconds"].GetDouble() : 0;
    const bool finished = status != "listing" && status != "running";
    if (status != "listing") PrintProgress(p, tty);
    if (finished) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(tty ? 200 : 500));
  }
  ::sigaction(SIGINT, &old_int, nullptr);
  ::sigaction(SIGTERM, &old_term, nullptr);
  if (tty) std::fprintf(stderr, "\n");
  rapidjson::Document j;
  j.Parse(last.c_str());
  const std::string status = JStr(j, "status");
  const int64_t failed = JInt(j, "objects_failed"), rejected = JInt(j, "records_rejected");
  if (a.Flag("json")) {
    auto& al = j.GetAllocator();
    auto add_str = [&](const char* k, const std::string& v) {
      if (j.HasMember(k)) j.RemoveMember(k);
      rapidjson::Value key(k, al), val(v.c_str(), static_cast<rapidjson::SizeType>(v.size()), al);
      j.AddMember(key, val, al);
    };
    add_str("source", source_display + (rq.s3_prefix.empty() ? "" : " prefix " + rq.s3_prefix));
    add_str("destination", "lake " + server + " project " + JStr(j, "project"));
    rapidjson::Value objects(JInt(j, "objects_total"));
    if (!j.HasMember("objects")) j.AddMember("objects", objects, al);
    rapidjson::Value listed(JInt(j, "bytes_total"));
    if (!j.HasMember("bytes_listed")) j.AddMember("bytes_listed", listed, al);
    rapidjson::StringBuffer sb;
    rapidjson::Writer<rapidjson::StringBuffer> w(sb);
    j.Accept(w);
    std::cout << sb.GetString() << "\n";
  } else {
    std::cout << "replay " << id << " " << status << ": " << JInt(j, "objects_total") << " objects ("
              << HumanBytes(JInt(j, "bytes_total")) << ") from " << source_display << " into the lake of " << server
              << ", project '" << JStr(j, "project") << "'; " << JInt(j, "partitions") << " " << JStr(j, "step")
              << " partitions\n";
    std::cout << "  ok " << JInt(j, "objects_ok") << ", failed " << failed << ", already in the lake "
              << JInt(j, "objects_already") << " (" << JInt(j, "records_already") << " records, not read again)"
              << (JInt(j, "objects_cancelled") ? ", cancelled " + std::to_string(JInt(j, "objects_cancelled")) : "")
              << ", records " << JInt(j, "records") << ", " << HumanBytes(JInt(j, "bytes")) << " read, "
              << static_cast<int64_t>((j.HasMember("seconds") && j["seconds"].IsNumber() ? j["seconds"].GetDouble() : 0) * 1000)
              << " ms\n";
    if (!JStr(j, "error").empty()) std::cout << "  error: " << JStr(j, "error") << "\n";
    for (const char* list : {"skipped", "rejections", "failures"}) {
      if (!j.HasMember(list) || !j[list].IsArray() || j[list].Empty()) continue;
      std::cout << (std::string(list) == "failures" ? "failed " + std::to_string(j[list].Size()) + ":"
                    : std::string(list) == "skipped" ? "skipped " + std::to_string(j[list].Size()) + " (not archive objects):"
                                                     : "records rejected by the lake (" + std::to_string(rejected) + "):")
                << "\n";
      for (const auto& f : j[list].GetArray()) std::cout << "  " << JStr(f, "key") << ": " << JStr(f, "reason") << "\n";
    }
  }
  return status == "done" && failed == 0 && rejected == 0 ? 0 : 1;
}

}  // namespace

std::vector<OptionSpec> ReplaySpecs() {
  std::vector<OptionSpec> specs = {
      {"", "source-dir", "DIR", "", "Read the archive from a local directory with the bucket's layout"},
      {"", "s3-bucket", "BUCKET", "", "Read the archive from this bucket (awss3receiver s3_bucket)"},
      {"", "s3-prefix", "PREFIX", "", "\"Directory\" in the bucket or source dir (s3_prefix)"},
      {"", "s3-partition-format", "FORMAT", std::string(archive::kDefaultPartitionFormat),
       "strftime layout of the partitions (s3_partition_format)"},
      {"", "s3-partition-timezone", "ZONE", "UTC", "IANA zone the exporter partitioned in (s3_partition_timezone; 'Local' = /etc/localtime)"},
      {"", "file-prefix", "PREFIX", "", "Text in front of the signal name in file names (file_prefix)"},
      {"", "region", "REGION", "", "S3 region (region) [default: AWS_REGION, else us-east-1]"},
      {"", "endpoint", "URL", "", "S3 endpoint (endpoint) [default: AWS_ENDPOINT_URL, else AWS]"},
      {"", "s3-force-path-style", "", "", "Path-style addressing (s3_force_path_style; always used with --endpoint)"},
      {"", "start", "TIME", "", "Window start (starttime): RFC 3339, 'YYYY-MM-DD HH:MM' or YYYY-MM-DD, in the partition zone"},
      {"", "end", "TIME", "", "Window end, exclusive (endtime)"},
      {"", "signal", "SIGNALS", "traces,logs,metrics", "Signals to replay (comma-separated)"},
      {"", "event-time", "", "", "Also keep only records whose own time is in the window (not with --to-dir)"},
      {"", "project", "ID", "", "Project of the replayed rows in the lake [default: the API key's, else 'default']"},
      {"", "to-otlp", "URL", "", "Send to an OTLP/HTTP endpoint: POST URL/v1/<signal>, protobuf, gzip"},
      {"", "to-dir", "DIR", "", "Write to a local directory: OTLP/JSON lines (.jsonl) and .binpb files at the archive keys"},
      {"", "parallelism", "N", "4", "Objects downloaded and sent at once"},
      {"", "max-attempts", "N", "8", "Sends of one document before it fails (429/502/503/504, connection errors)"},
      {"", "timeout-s", "SECONDS", "30", "Timeout of one OTLP/HTTP request"},
      {"", "dry-run", "", "", "List the objects, their count and bytes; send nothing"},
      {"", "json", "", "", "Print the report as JSON"},
      {"k", "key", "KEY", "", "API key for the running server (--auth required) [default: $OTLAKE_API_KEY]"},
      {"", "server", "URL", "", "The running server replaying into its lake [default: from <instance>/configs/server.json]"},
      {"I", "instance-id", "ID", "default", "Instance whose configs/otlake.env holds S3 credentials"},
      {"D", "dir", "DIR", "./otlake_data", "Parent directory of instances"},
  };
  for (auto& s : TlsClientSpecs()) specs.push_back(std::move(s));
  return specs;
}

int RunReplayCommand(const Args& a) {
  std::string err;
  // ---- the window and the layout
  auto tz = archive::TimeZone::Load(a.Get("s3-partition-timezone") == "UTC" ? "" : a.Get("s3-partition-timezone"));
  if (!tz.ok()) return Usage("--s3-partition-timezone: " + tz.status().message());
  if (auto step = archive::InferStep(a.Get("s3-partition-format")); !step.ok()) {
    return Usage("--s3-partition-format: " + step.status().message());
  }
  if (a.Get("file-prefix").find('/') != std::string::npos) {
    return Usage("--file-prefix must not contain '/'");
  }
  if (!a.Has("start") || !a.Has("end")) return Usage("--start and --end are required (the window to replay)");
  auto start = archive::ParseWindowTime(a.Get("start"), *tz, "--start");
  if (!start.ok()) return Usage(start.status().message());
  auto end = archive::ParseWindowTime(a.Get("end"), *tz, "--end");
  if (!end.ok()) return Usage(end.status().message());
  if (*end <= *start) return Usage("--end '" + a.Get("end") + "' is not after --start '" + a.Get("start") + "'");

  archive::ListOptions lo;
  lo.window.s3_prefix = a.Get("s3-prefix");
  lo.window.s3_partition_format = a.Get("s3-partition-format");
  lo.window.s3_partition_timezone = a.Get("s3-partition-timezone") == "UTC" ? "" : a.Get("s3-partition-timezone");
  lo.window.file_prefix = a.Get("file-prefix");
  lo.window.starttime = a.Get("start");
  lo.window.endtime = a.Get("end");
  lo.signals.clear();
  {
    std::string list = a.Get("signal") + ",";
    for (size_t p = 0, q; (q = list.find(',', p)) != std::string::npos; p = q + 1) {
      const std::string s = list.substr(p, q - p);
      archive::Signal sig;
      if (s == "traces") sig = archive::Signal::kTraces;
      else if (s == "logs") sig = archive::Signal::kLogs;
      else if (s == "metrics") sig = archive::Signal::kMetrics;
      else return Usage("--signal: '" + s + "' is not traces, logs or metrics");
      if (std::find(lo.signals.begin(), lo.signals.end(), sig) == lo.signals.end()) lo.signals.push_back(sig);
    }
  }
  int64_t parallelism, max_attempts;
  if (!ParseIntFlag(a, "parallelism", 1, 64, &parallelism, &err)) return Usage(err);
  if (!ParseIntFlag(a, "max-attempts", 1, 100, &max_attempts, &err)) return Usage(err);
  const double timeout_s = std::atof(a.Get("timeout-s").c_str());
  if (!(timeout_s > 0)) return Usage("--timeout-s must be a positive number of seconds");
  lo.parallelism = static_cast<int>(parallelism);

  // ---- the destination
  const bool dry_run = a.Flag("dry-run");
  if (a.Has("to-otlp") && a.Has("to-dir")) return Usage("give one destination: --to-otlp or --to-dir");
  std::unique_ptr<archive::ReplaySink> sink;
  std::string destination = "nothing (dry run)";
  if (a.Has("to-otlp")) {
    archive::OtlpHttpOptions ho;
    ho.url = a.Get("to-otlp");
    ho.tls = ClientTlsFor(a, false, "");
    ho.retry.max_attempts = static_cast<int>(max_attempts);
    ho.timeout_s = timeout_s;
    auto s = archive::MakeOtlpHttpSink(ho);
    if (!s.ok()) return Usage(s.status().message());
    sink = std::move(*s);
    destination = ho.url;
  } else if (a.Has("to-dir")) {
    if (a.Get("to-dir").empty()) return Usage("--to-dir: empty path");
    if (a.Flag("event-time")) return Usage("--event-time is not supported with --to-dir yet (use --to-otlp)");
    destination = std::filesystem::absolute(a.Get("to-dir")).lexically_normal().string();
    sink = archive::MakeDirSink(destination);
  } else {
    destination = "the lake";
  }
  const bool to_lake = !a.Has("to-otlp") && !a.Has("to-dir");
  if (!to_lake && a.Has("project")) return Usage("--project is for replay into the lake (not with --to-otlp or --to-dir)");
  if (dry_run) {
    sink.reset();
    destination = "nothing (dry run)";
  }
  // Replay into the lake goes through the running server, which owns the WAL.
  std::string server_url;
  bool server_tls = false;
  std::string server_cert;
  const std::string instance_root = a.Get("dir") + "/" + a.Get("instance-id");
  if (to_lake && !dry_run) {
    if (a.Has("server")) {
      server_url = a.Get("server");
      while (!server_url.empty() && server_url.back() == '/') server_url.pop_back();
    } else {
      RunningServer running;
      if (!ReadRunningServer(instance_root + "/configs/server.json", &running)) {
        std::cerr << "otlake replay: replay into the lake goes through the running server, and none is running "
                     "for instance '" << a.Get("instance-id") << "' in " << a.Get("dir")
                  << ": start it (otlake start), or pass --server URL, --to-otlp URL or --to-dir DIR\n";
        return 1;
      }
      const std::string host = running.host.empty() || running.host == "0.0.0.0" ? "127.0.0.1" : running.host;
      server_tls = running.tls;
      server_cert = running.tls_cert;
      server_url = std::string(server_tls ? "https://" : "http://") + host + ":" + std::to_string(running.port);
    }
  }
  std::optional<ship::S3Config> s3_config;

  // ---- the source
  if (a.Has("source-dir") == a.Has("s3-bucket")) {
    return Usage(a.Has("source-dir") ? "give one source: --s3-bucket or --source-dir"
                                     : "a source is required: --s3-bucket BUCKET (s3_bucket) or --source-dir DIR");
  }
  archive::ReplaySource source;
  if (a.Has("source-dir")) {
    std::error_code ec;
    const std::string dir = std::filesystem::absolute(a.Get("source-dir"), ec).lexically_normal().string();
    if (a.Get("source-dir").empty() || !std::filesystem::is_directory(dir, ec)) {
      return Usage("--source-dir: '" + a.Get("source-dir") + "' is not a directory");
    }
    source.fs = std::make_shared<arrow::fs::LocalFileSystem>();
    source.root = dir;
    while (source.root.size() > 1 && source.root.back() == '/') source.root.pop_back();
    source.display = dir;
  } else {
    const std::string bucket = a.Get("s3-bucket");
    if (bucket.empty() || bucket.find('/') != std::string::npos) {
      return Usage("--s3-bucket: '" + bucket + "' is not a bucket name");
    }
    const std::string root = a.Get("dir") + "/" + a.Get("instance-id");
    std::map<std::string, std::string> flags = {{"S3_BUCKET", bucket}};
    if (a.Has("endpoint")) flags["AWS_ENDPOINT_URL"] = a.Get("endpoint");
    else if (!archive::S3EndpointConfigured(root)) flags["AWS_ENDPOINT_URL"] = "https://s3.amazonaws.com";
    if (a.Has("region")) flags["AWS_REGION"] = a.Get("region");
    ship::S3Settings s = ship::LoadS3Settings(root, flags);
    for (const auto& w : s.warnings) std::cerr << "otlake replay: warning: " << w << "\n";
    if (!s.enabled()) {
      std::string problem = s.problem;
      const std::string tail = "; shipping is disabled";
      if (problem.size() > tail.size() && problem.compare(problem.size() - tail.size(), tail.size(), tail) == 0) {
        problem.resize(problem.size() - tail.size());
      }
      return Usage("cannot read s3://" + bucket + ": " + problem + " (credentials as in docs/s3.md)");
    }
    auto fs = ship::MakeS3FileSystem(*s.config);
    if (!fs.ok()) {
      std::cerr << "otlake replay: cannot use S3: " << fs.status().message() << "\n";
      return 1;
    }
    // A missing bucket would otherwise list as empty: check it (and the credentials) first.
    if (Status st = ship::CheckS3Access(fs->get(), *s.config); !st.ok()) {
      if (std::string p = SettingProblem(st.message(), bucket); !p.empty()) return Usage(p);
      std::cerr << "otlake replay: " << st.message() << "\n";
      return 1;
    }
    source.fs = *fs;
    source.root = bucket;
    source.display = "s3://" + bucket;
    s3_config = *s.config;
  }
  if (to_lake && !dry_run) {
    archive::ReplayRequest rq;
    rq.s3_prefix = lo.window.s3_prefix;
    rq.s3_partition_format = lo.window.s3_partition_format;
    rq.s3_partition_timezone = lo.window.s3_partition_timezone;
    rq.file_prefix = lo.window.file_prefix;
    rq.starttime = a.Get("start");
    rq.endtime = a.Get("end");
    rq.signals = lo.signals;
    rq.event_time = a.Flag("event-time");
    rq.parallelism = static_cast<int>(parallelism);
    if (a.Has("project")) rq.project = a.Get("project");
    if (s3_config) {
      rq.s3_bucket = s3_config->bucket;
      rq.endpoint = s3_config->endpoint_url;
      rq.region = s3_config->region;
      rq.access_key_id = s3_config->access_key_id;
      rq.secret_access_key = s3_config->secret_access_key;
      rq.session_token = s3_config->session_token;
    } else {
      rq.source_dir = source.root;
    }
    std::string key = a.Get("key");
    if (key.empty()) {
      if (const char* k = std::getenv("OTLAKE_API_KEY")) key = k;
    }
    return RunIntoLake(a, server_url, ClientTlsFor(a, server_tls, server_cert), key, rq, a.Has("project"),
                       source.display);
  }

  // ---- list
  auto listing = archive::ListReplayObjects(source, lo);
  if (!listing.ok()) {
    if (listing.status().IsInvalid()) return Usage(listing.status().message());
    if (a.Has("s3-bucket")) {
      const std::string p = SettingProblem(listing.status().message(), a.Get("s3-bucket"));
      if (!p.empty()) return Usage(p);
    }
    std::cerr << "otlake replay: " << listing.status().message() << "\n";
    return 1;
  }

  // ---- replay
  archive::ReplayOptions ro;
  ro.parallelism = static_cast<int>(parallelism);
  ro.decode.file_prefix = lo.window.file_prefix;
  if (a.Flag("event-time")) ro.event_time = archive::EventTimeWindow{*start, *end};
  const bool tty = ::isatty(STDERR_FILENO) == 1;
  if (!dry_run) ro.progress = [tty](const archive::ReplayProgress& p) { PrintProgress(p, tty); };
  archive::ReplayReport r;
  if (!dry_run) {
    r = archive::RunReplay(source, *listing, sink.get(), ro);
    if (tty) std::fprintf(stderr, "\n");
  } else {
    r.objects = static_cast<int64_t>(listing->objects.size());
    r.bytes = listing->bytes();
  }

  const std::string src = source.display + (lo.window.s3_prefix.empty() ? "" : " prefix " + lo.window.s3_prefix);
  if (a.Flag("json")) {
    rapidjson::StringBuffer sb;
    rapidjson::Writer<rapidjson::StringBuffer> w(sb);
    w.StartObject();
    w.Key("source"); w.String(src.c_str());
    w.Key("destination"); w.String(destination.c_str());
    w.Key("dry_run"); w.Bool(dry_run);
    w.Key("start"); w.String(a.Get("start").c_str());
    w.Key("end"); w.String(a.Get("end").c_str());
    w.Key("step"); w.String(std::string(archive::StepName(listing->step)).c_str());
    w.Key("partitions"); w.Int64(listing->partitions);
    w.Key("objects"); w.Int64(r.objects);
    w.Key("objects_ok"); w.Int64(r.objects_ok);
    w.Key("objects_failed"); w.Int64(r.objects_failed);
    w.Key("objects_skipped"); w.Int64(static_cast<int64_t>(listing->skipped.size()));
    w.Key("bytes_listed"); w.Int64(listing->bytes());
    w.Key("bytes"); w.Int64(r.bytes);
    w.Key("records"); w.Int64(r.records);
    w.Key("documents"); w.Int64(r.documents);
    w.Key("event_time"); w.Bool(a.Flag("event-time"));
    w.Key("records_dropped"); w.Int64(r.records_dropped);
    w.Key("records_rejected"); w.Int64(r.records_rejected);
    w.Key("retries"); w.Int64(r.retries);
    w.Key("seconds"); w.Double(r.seconds);
    w.Key("failures");
    w.StartArray();
    for (const auto& f : r.failures) {
      w.StartObject();
      w.Key("key"); w.String(f.key.c_str());
      w.Key("reason"); w.String(f.reason.c_str());
      w.EndObject();
    }
    w.EndArray();
    w.Key("rejections");
    w.StartArray();
    for (const auto& f : r.rejections) {
      w.StartObject();
      w.Key("key"); w.String(f.key.c_str());
      w.Key("reason"); w.String(f.reason.c_str());
      w.EndObject();
    }
    w.EndArray();
    w.Key("skipped");
    w.StartArray();
    for (const auto& s : listing->skipped) {
      w.StartObject();
      w.Key("key"); w.String(s.key.c_str());
      w.Key("reason"); w.String(s.reason.c_str());
      w.EndObject();
    }
    w.EndArray();
    if (dry_run) {
      w.Key("listed");
      w.StartArray();
      for (const auto& o : listing->objects) {
        w.StartObject();
        w.Key("key"); w.String(o.key.c_str());
        w.Key("size"); w.Int64(o.size);
        w.EndObject();
      }
      w.EndArray();
    }
    w.EndObject();
    std::cout << sb.GetString() << "\n";
  } else {
    if (dry_run) {
      for (const auto& o : listing->objects) std::cout << o.key << "  " << o.size << "\n";
    }
    std::cout << (dry_run ? "would replay " : "replayed ") << r.objects << " objects ("
              << HumanBytes(listing->bytes()) << ") from " << src << " to " << destination << "; "
              << listing->partitions << " " << archive::StepName(listing->step) << " partitions\n";
    if (!dry_run) {
      std::cout << "  ok " << r.objects_ok << ", failed " << r.objects_failed << ", records " << r.records
                << ", documents " << r.documents << ", " << HumanBytes(r.bytes) << " read, retries "
                << r.retries << ", " << static_cast<int64_t>(r.seconds * 1000) << " ms\n";
      if (a.Flag("event-time")) {
        std::cout << "  " << r.records_dropped << " records outside the window dropped (--event-time)\n";
      }
    }
    if (!listing->skipped.empty()) {
      std::cout << "skipped " << listing->skipped.size() << " (not archive objects):\n";
      for (const auto& s : listing->skipped) std::cout << "  " << s.key << ": " << s.reason << "\n";
    }
    if (!r.rejections.empty()) {
      std::cout << "records rejected by the destination (" << r.records_rejected << "):\n";
      for (const auto& f : r.rejections) std::cout << "  " << f.key << ": " << f.reason << "\n";
    }
    if (!r.failures.empty()) {
      std::cout << "failed " << r.failures.size() << ":\n";
      for (const auto& f : r.failures) std::cout << "  " << f.key << ": " << f.reason << "\n";
    }
  }
  return r.objects_failed > 0 || r.records_rejected > 0 ? 1 : 0;
}

}  // namespace otlake::cli
