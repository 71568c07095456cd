#include "otlake/cli/cli.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <thread>

#include "otlake/buffer/pipeline.h"
#include "otlake/ingest/ingestor.h"
#include "otlake/archive/filter.h"
#include "otlake/cli/archive_cmd.h"
#include "otlake/cli/args.h"
#include "otlake/cli/http_client.h"
#include "otlake/cli/keys_cmd.h"
#include "otlake/cli/replay_cmd.h"
#include "otlake/archive/replay_api.h"
#include "otlake/archive/replay_service.h"
#include "otlake/cli/sources_cmd.h"
#include "otlake/cli/ship_cmds.h"
#include "otlake/cli/view.h"
#include "otlake/grpc/grpc_server.h"
#include "otlake/server/tls.h"
#include "otlake/common/file_util.h"
#include "otlake/common/log.h"
#include "otlake/common/time_util.h"
#include "otlake/query/query.h"
#include "otlake/receiver/receiver.h"
#include "otlake/server/http_server.h"
#include "otlake/ship/days_index.h"
#include "otlake/ship/s3_fs.h"
#include "otlake/ship/scheduler.h"

namespace otlake::cli {
namespace {

constexpr const char* kDefaultDir = "./otlake_data";

// ---------------------------------------------------------------------------------------------
// Instance layout (docs/cli.md): <dir>/<instance_id>/{configs,index,staging/days,wal}, server.log.

struct Instance {
  std::string id;
  std::string root;
  std::string configs() const { return root + "/configs"; }
  std::string pid_file() const { return configs() + "/server.pid"; }
  std::string server_json() const { return configs() + "/server.json"; }
  std::string log_file() const { return root + "/server.log"; }
  std::string days_dir() const { return root + "/staging/days"; }
};

std::string AbsPath(const std::string& p) {
  if (!p.empty() && p[0] == '/') return p;
  char buf[PATH_MAX];
  if (!::getcwd(buf, sizeof buf)) return p;
  std::string base = buf;
  std::string rel = p;
  if (rel.rfind("./", 0) == 0) rel = rel.substr(2);
  return rel.empty() || rel == "." ? base : base + "/" + rel;
}

bool ValidInstanceId(const std::string& id) { return receiver::IsValidProjectId(id); }

int Usage(const std::string& msg, const std::string& cmd) {
  std::cerr << "otlake " << cmd << ": " << msg << "\nTry 'otlake " << cmd << " --help'.\n";
  return 2;
}

OptionSpec kInstanceId{"I", "instance-id", "ID", "default", "Instance name (a folder under --dir)"};
OptionSpec kDir{"D", "dir", "DIR", kDefaultDir, "Parent directory of instances"};

bool ResolveInstance(const Args& a, Instance* inst, const std::string& cmd, int* rc) {
  inst->id = a.Get("instance-id");
  if (!ValidInstanceId(inst->id)) {
    *rc = Usage("invalid instance id '" + inst->id + "' (use A-Z a-z 0-9 . _ -)", cmd);
    return false;
  }
  inst->root = AbsPath(a.Get("dir")) + "/" + inst->id;
  return true;
}

std::vector<OptionSpec> InitSpecs() { return {kInstanceId, kDir}; }
std::vector<OptionSpec> StopSpecs() {
  return {kInstanceId, kDir,
          {"F", "force", "", "", "Kill at once (SIGKILL) instead of a graceful flush-and-commit stop"},
          {"T", "timeout", "SECONDS", "120", "How long to wait for a graceful stop"}};
}
std::vector<OptionSpec> StatusSpecs() {
  std::vector<OptionSpec> specs = {{"H", "host", "HOST", "127.0.0.1", "Server host"},
                                   {"P", "port", "PORT", "", "Server port [default: the running instance's port, else 4318]"},
                                   {"T", "timeout", "SECONDS", "5", "Request timeout"},
                                   kInstanceId, kDir,
                                   {"", "json", "", "", "Print the raw /healthz JSON"}};
  for (auto& s : TlsClientSpecs()) specs.push_back(std::move(s));
  return specs;
}


// Parses a command's flags and resolves its instance; false (with the exit code in *rc) on error.
bool ParseWithInstance(const std::vector<OptionSpec>& specs, const char* cmd, int argc, char** argv,
                       Args* a, Instance* inst, int* rc) {
  std::string err;
  if (!a->Parse(specs, argc, argv, 2, &err)) {
    *rc = Usage(err, cmd);
    return false;
  }
  return ResolveInstance(*a, inst, cmd, rc);
}

// ---------------------------------------------------------------------------------------------
// init

Status CreateLayout(const Instance& inst) {
  for (const std::string& d : {inst.configs(), inst.root + "/index", inst.days_dir(), inst.root + "/wal"}) {
    OTLAKE_RETURN_NOT_OK(MakeDirs(d));
  }
  const int64_t now = NowUnixMillis();
  if (!PathExists(inst.configs() + "/instance.json")) {
    OTLAKE_RETURN_NOT_OK(WriteFileAtomic(
        inst.configs() + "/instance.json",
        "{\"instance_id\":\"" + inst.id + "\",\"instance_root\":\"" + inst.root +
            "\",\"version\":1,\"created_utc\":\"" + UtcIso8601(now) + "\"}\n"));
  }
  if (!PathExists(inst.root + "/index/days.jsonl")) {
    OTLAKE_RETURN_NOT_OK(WriteFileAtomic(inst.root + "/index/days.jsonl", ""));
  }
  return Status::OK();
}

int CmdInit(int argc, char** argv) {
  Args a;
  Instance inst;
  int rc;
  if (!ParseWithInstance(InitSpecs(), "init", argc, argv, &a, &inst, &rc)) return rc;
  if (PathExists(inst.root)) {
    std::cerr << "Instance '" << inst.id << "' already exists at " << inst.root << "\n";
    return 1;
  }
  Status st = CreateLayout(inst);
  if (!st.ok()) {
    std::cerr << "otlake init: " << st.message() << "\n";
    return 1;
  }
  std::cout << "Initialized otlake instance '" << inst.id << "' at " << inst.root << "\n";
  return 0;
}

// ---------------------------------------------------------------------------------------------
// pid files

// The pid recorded in the pid file if that process is alive and is an otlake; 0 otherwise.
pid_t LivePid(const Instance& inst) {
  auto text = ReadFile(inst.pid_file());
  if (!text.ok()) return 0;
  const long pid = std::strtol(text->c_str(), nullptr, 10);
  if (pid <= 0) return 0;
  if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno != EPERM) return 0;
  auto cmdline = ReadFile("/proc/" + std::to_string(pid) + "/cmdline");
  if (cmdline.ok() && cmdline->find("otlake") == std::string::npos) return 0;  // pid reused
  return static_cast<pid_t>(pid);
}

// ---------------------------------------------------------------------------------------------
// start

std::vector<OptionSpec> StartSpecs() {
  return {kInstanceId,
          kDir,
          {"H", "host", "HOST", "0.0.0.0", "Address to listen on"},
          {"P", "port", "PORT", "4318", "Port to listen on (0 picks a free port)"},
          {"F", "foreground", "", "", "Run in the foreground (logs to the terminal)"},
          {"", "grpc-port", "PORT", "4317", "OTLP/gRPC port (0: off; 'any' picks a free port); the default is skipped with a warning when taken"},
          {"", "grpc-max-message-bytes", "BYTES", "67108864", "Largest OTLP/gRPC request message (RESOURCE_EXHAUSTED above)"},
          {"", "tls-cert", "PEM", "", "Serve both ports (HTTP and gRPC) over TLS with this certificate chain (reloaded on SIGHUP)"},
          {"", "tls-key", "PEM", "", "Private key of --tls-cert"},
          {"", "tls-client-ca", "PEM", "", "Require client certificates signed by these CAs (mutual TLS)"},
          {"", "threads", "N", "0", "HTTP threads (0 = 2 per CPU: a query holds its thread, an ingest request waiting for the WAL's fsync does not)"},
          {"", "max-body-bytes", "BYTES", "67108864", "Largest request body accepted (413 above)"},
          {"", "max-decompressed-bytes", "BYTES", "268435456", "Largest decompressed body (413 above)"},
          {"", "flush-age-ms", "MS", "5000", "Commit buffered rows at least this often"},
          {"", "flush-rows", "ROWS", "262144", "Commit a table's buffer at this many rows"},
          {"", "flush-bytes", "BYTES", "134217728", "Commit a table's buffer at this many bytes"},
          {"", "max-buffered-bytes", "BYTES", "1073741824", "Answer 429 above this much buffered data"},
          {"", "zstd-level", "N", "1", "Parquet zstd level (seal-time compaction may use more)"},
          {"", "checkpoint-interval", "N", "10", "Delta checkpoint every N commits"},
          {"", "compact-min-files", "N", "8", "Compact a table of today once it has N small files (0: never)"},
          {"", "compact-max-bytes", "BYTES", "268435456", "Uncompressed bytes one compaction reads at most (bounds its memory)"},
          {"", "compact-interval-ms", "MS", "30000", "How often to look for tables to compact"},
          {"", "compact-retention-s", "SECONDS", "600", "Keep files a compaction replaced this long, for readers outside otlake"},
          {"", "wal-segment-bytes", "BYTES", "67108864", "Start a new WAL segment at this size"},
          {"", "wal-recycle-segments", "N", "4", "Keep this many retired WAL segments to overwrite (0: delete them)"},
          {"", "wal-compress", "", "", "zstd-compress WAL records (off: measured slower, docs/wal.md)"},
          {"", "wal-buffered-io", "", "", "Write the WAL through the page cache, not with O_DIRECT"},
          {"", "log-level", "LEVEL", "info", "debug, info, warn or error"},
          {"", "ship-grace-s", "SECONDS", "600", "Seal and ship a day this long after its UTC midnight"},
          {"", "ship-interval-s", "SECONDS", "30", "How often to look for days to seal and ship"},
          {"", "ship-retry-s", "SECONDS", "60", "First retry of a failed day after this long (doubles, up to 1 h)"},
          {"", "ship-parallelism", "N", "4", "Files uploaded at once"},
          {"", "keep-local", "", "", "Keep local copies of days verified on S3 (do not clean)"},
          {"", "metrics-public", "", "", "/metrics needs no API key even with --auth required"}};
}

std::vector<OptionSpec> StartAllSpecs() {
  std::vector<OptionSpec> v = StartSpecs();
  for (auto& s : SealTuningSpecs()) v.push_back(s);
  for (auto& s : S3Specs()) v.push_back(s);
  v.push_back(AuthModeSpec());
  for (auto& s : ArchiveStartSpecs()) v.push_back(s);
  return v;
}

bool ParseInt(const std::string& s, int64_t lo, int64_t hi, int64_t* out) {
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (errno || *end || v < lo || v > hi) return false;
  *out = v;
  return true;
}

// The soft limit on open files up to the hard one: connections, WAL segments, Parquet files and
// one readers lock per local day a query holds (lake/day_readers.h) all take descriptors.
void RaiseOpenFileLimit() {
  struct rlimit rl;
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    (void)::setrlimit(RLIMIT_NOFILE, &rl);
  }
}

// ,"tls_cert":"<absolute path>" for server.json (the CLI trusts that file when it calls the
// server over TLS); "" without a certificate.
std::string TlsCertJson(const std::string& path) {
  if (path.empty()) return "";
  char* abs = ::realpath(path.c_str(), nullptr);
  std::string p = abs ? abs : path;
  std::free(abs);
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  w.String(p.c_str(), static_cast<rapidjson::SizeType>(p.size()));
  return std::string(",\"tls_cert\":") + sb.GetString();
}

int RunServer(const Args& a, const Instance& inst) {
  RaiseOpenFileLimit();
  struct IntOpt { const char* name; int64_t lo, hi; int64_t value; };
  IntOpt opts[] = {{"port", 0, 65535, 0},          {"threads", 0, 256, 0},
                   {"max-body-bytes", 1, 1ll << 34, 0}, {"max-decompressed-bytes", 1, 1ll << 36, 0},
                   {"flush-age-ms", 10, 86400000, 0}, {"flush-rows", 1, 1ll << 31, 0},
                   {"flush-bytes", 1024, 1ll << 36, 0}, {"max-buffered-bytes", 1 << 20, 1ll << 40, 0},
                   {"zstd-level", 1, 22, 0},           {"checkpoint-interval", 1, 100000, 0},
                   {"compact-min-files", 0, 1000000, 0}, {"compact-interval-ms", 10, 86400000, 0},
                   {"compact-max-bytes", 1 << 20, 1ll << 40, 0}, {"compact-retention-s", 0, 7 * 86400, 0},
                   {"wal-segment-bytes", 1 << 20, 1ll << 34, 0},
                   {"wal-recycle-segments", 0, 1024, 0}, {"ship-grace-s", 0, 7 * 86400, 0},
                   {"ship-interval-s", 1, 86400, 0}, {"ship-retry-s", 1, 86400, 0},
                   {"ship-parallelism", 1, 64, 0}, {"grpc-max-message-bytes", 1, (1ll << 32) - 1, 0}};
  for (IntOpt& o : opts) {
    if (!ParseInt(a.Get(o.name), o.lo, o.hi, &o.value)) {
      return Usage("--" + std::string(o.name) + " must be an integer in [" + std::to_string(o.lo) +
                       ", " + std::to_string(o.hi) + "], got '" + a.Get(o.name) + "'",
                   "start");
    }
  }
  auto get = [&](const char* n) {
    for (const IntOpt& o : opts) {
      if (std::strcmp(o.name, n) == 0) return o.value;
    }
    return int64_t{0};
  };
  // --grpc-port: 0 off, "any" a free port.
  int grpc_port = 0;
  const bool grpc_on = a.Get("grpc-port") != "0";
  if (grpc_on && a.Get("grpc-port") != "any") {
    int64_t p;
    if (!ParseInt(a.Get("grpc-port"), 1, 65535, &p)) {
      return Usage("--grpc-port must be 0 (off), 'any' or 1-65535, got '" + a.Get("grpc-port") + "'", "start");
    }
    grpc_port = static_cast<int>(p);
  }
  // TLS on both ports (docs/tls.md): files checked now, before anything starts. One config per
  // port (their ALPN differs), loaded from the same files.
  std::shared_ptr<server::TlsConfig> http_tls, grpc_tls;
  {
    server::TlsSettings ts{a.Get("tls-cert"), a.Get("tls-key"), a.Get("tls-client-ca"), "http/1.1"};
    if (ts.enabled() || !ts.client_ca_path.empty()) {
      auto loaded = server::TlsConfig::Load(ts);
      if (loaded.ok()) {
        http_tls = std::move(*loaded);
        ts.alpn = "h2";
        loaded = server::TlsConfig::Load(ts);
      }
      if (!loaded.ok()) {
        std::cerr << "otlake start: TLS: " << loaded.status().message() << "\n";
        return 1;
      }
      grpc_tls = std::move(*loaded);
    }
  }
  const std::string& level = a.Get("log-level");
  if (level == "debug") SetLogLevel(LogLevel::kDebug);
  else if (level == "info") SetLogLevel(LogLevel::kInfo);
  else if (level == "warn") SetLogLevel(LogLevel::kWarn);
  else if (level == "error") SetLogLevel(LogLevel::kError);
  else return Usage("--log-level must be debug, info, warn or error", "start");

  if (pid_t pid = LivePid(inst); pid != 0 && pid != ::getpid()) {
    std::cerr << "otlake is already running for instance '" << inst.id << "' (pid " << pid << ")\n";
    return 1;
  }
  Status st = CreateLayout(inst);
  if (!st.ok()) {
    std::cerr << "otlake start: " << st.message() << "\n";
    return 1;
  }
  // One process owns an instance's WAL and tables at a time: held for the server's whole life
  // (WAL recovery included), and by `otlake seal|ship` while they replay the WAL themselves.
  auto instance_lock = FileLock::Acquire(inst.configs() + "/instance.lock", /*wait=*/false);
  if (!instance_lock.ok()) {
    std::cerr << "otlake start: instance '" << inst.id << "' is in use by another otlake process "
              << (instance_lock.status().IsAlreadyExists() ? "(a server starting, or otlake seal/ship)"
                                                           : instance_lock.status().message())
              << "\n";
    return 1;
  }

  // Signals are handled by sigwait in this thread; block them before any thread starts.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  // API keys (--auth): its refresher thread starts with the signals blocked.
  auth::Mode auth_mode;
  std::string auth_error;
  std::unique_ptr<auth::KeyCache> keys = StartKeyCache(a, inst.root, &auth_mode, &auth_error);
  if (!keys) return Usage(auth_error, "start");

  lake::SealOptions seal_options;
  {
    std::string err;
    if (!SealOptionsFromArgs(a, &seal_options, &err)) return Usage(err, "start");
  }
  // S3: file, environment, flags. A partial configuration disables shipping and says why.
  ship::S3Settings s3 = S3SettingsFromArgs(a, inst.root);
  for (const auto& w : s3.warnings) OTLAKE_LOG(WARN) << w;
  std::shared_ptr<arrow::fs::FileSystem> s3_fs;
  if (s3.enabled()) {
    auto fs = ship::MakeS3FileSystem(*s3.config, S3FsOptionsFromArgs(a));
    if (!fs.ok()) {
      std::cerr << "otlake start: cannot use S3: " << fs.status().message() << "\n";
      return 1;
    }
    s3_fs = *fs;
  }
  // The archive writer (docs/archive.md): configured before recovery so the WAL it needs stays.
  std::unique_ptr<ServerArchive> archive;
  {
    std::string err;
    if (!ServerArchive::Configure(a, inst.root, &archive, &err)) return Usage(err, "start");
  }
  // Days already shipped: recovery must not bring them back from the WAL.
  std::map<std::string, ship::DayStatus> shipped;
  if (auto loaded = ship::DaysIndex(inst.root + "/index").Load(); loaded.ok()) shipped = std::move(*loaded);

  ingest::IngestOptions io;
  io.wal_dir = inst.root + "/wal";
  io.shipped_lsn = [shipped](int64_t day, table::TableId t) -> int64_t {
    auto it = shipped.find(DaysToDate(day));
    if (it == shipped.end() || it->second.done < ship::Phase::kSealed) return -1;
    for (const auto& e : it->second.sealed.tables) {
      if (e.name == ship::IndexTableName(std::string(table::TableName(t)))) return e.wal_lsn;
    }
    return -1;
  };
  io.wal_segment_bytes = get("wal-segment-bytes");
  io.wal_recycle_segments = static_cast<int>(get("wal-recycle-segments"));
  io.wal_compress = a.Flag("wal-compress");
  io.wal_direct_io = !a.Flag("wal-buffered-io");
  if (archive) {
    io.retain_from = archive->RetainFrom();
    io.accepted_only = [](const ingest::Record& r) {
      return archive::AcceptedRecordsOnly(r.signal, r.body, r.format == ingest::BodyFormat::kJson);
    };
  }
  buffer::PipelineOptions& po = io.pipeline;
  po.days_dir = inst.days_dir();
  po.flush_age_ms = get("flush-age-ms");
  po.flush_rows = get("flush-rows");
  po.flush_bytes = get("flush-bytes");
  po.max_buffered_bytes = get("max-buffered-bytes");
  po.zstd_level = static_cast<int>(get("zstd-level"));
  po.checkpoint_interval = static_cast<int>(get("checkpoint-interval"));
  po.compact_min_files = static_cast<int>(get("compact-min-files"));
  po.compact_interval_ms = get("compact-interval-ms");
  po.compact_max_input_bytes = get("compact-max-bytes");
  po.compact_retention_ms = get("compact-retention-s") * 1000;
  // Recovery (WAL replay into the tables) happens here, before the port opens.
  auto ingestor = ingest::Ingestor::Open(std::move(io));
  if (!ingestor.ok()) {
    std::cerr << "otlake start: " << ingestor.status().message() << "\n";
    return 1;
  }
  if (archive) {
    if (Status ast = archive->Start(ingestor->get()); !ast.ok()) {
      std::cerr << "otlake start: archive: " << ast.message() << "\n";
      (void)(*ingestor)->Stop();
      return 1;
    }
  }
  // Seal and ship past days in the background.
  ship::SchedulerOptions sch;
  sch.shipper.instance_id = inst.id;
  sch.shipper.instance_root = inst.root;
  sch.shipper.s3 = s3_fs;
  if (s3.enabled()) {
    sch.shipper.s3_days_root = s3.config->DaysRoot(inst.id);
    sch.shipper.s3_days_uri = s3.config->DaysUri(inst.id);
  }
  sch.shipper.seal = seal_options;
  sch.shipper.upload_parallelism = static_cast<int>(get("ship-parallelism"));
  sch.shipper.clean = !a.Flag("keep-local");
  sch.grace_ms = get("ship-grace-s") * 1000;
  sch.check_interval_ms = get("ship-interval-s") * 1000;
  sch.retry_base_ms = get("ship-retry-s") * 1000;
  sch.s3_problem = s3.problem;
  sch.s3_description = s3.Describe(inst.id);
  if (s3_fs) {
    sch.check_s3 = [fs = s3_fs, config = *s3.config] { return ship::CheckS3Access(fs.get(), config); };
  }
  buffer::Pipeline* pipeline = (*ingestor)->pipeline();
  sch.day_busy = [pipeline](int64_t day) { return pipeline->PendingRows(day) > 0; };
  auto scheduler = ship::Scheduler::Start(std::move(sch));
  if (!scheduler.ok()) {
    std::cerr << "otlake start: " << scheduler.status().message() << "\n";
    (void)(*ingestor)->Stop();
    return 1;
  }

  receiver::ReceiverOptions ro;
  ro.instance_id = inst.id;
  ro.max_decompressed_bytes = get("max-decompressed-bytes");
  ship::Scheduler* sched = scheduler->get();
  ro.shipping_json = [sched] { return sched->StatusJson(); };
  if (archive) {
    ro.archive_json = [&archive] { return archive->StatusJson(); };
    ro.archive_metrics = [&archive] { return archive->MetricsText(); };
  }
  ro.auth_mode = auth_mode;
  ro.metrics_public = a.Flag("metrics-public");
  ro.keys = keys.get();
  query::EngineOptions eo;
  eo.instance_dir = inst.root;
  eo.s3 = s3_fs;
  if (s3.enabled()) eo.s3_days_root = s3.config->DaysRoot(inst.id);
  eo.s3_problem = s3.problem;
  query::QueryEngine engine(eo);
  // Started just before the HTTP server (which reads it for /healthz) and stopped first.
  std::unique_ptr<grpc::GrpcServer> grpc_server;
  ro.grpc_json = [&grpc_server] { return grpc_server ? grpc_server->StatusJson() : std::string("{\"enabled\":false}"); };
  receiver::Receiver receiver(ro, ingestor->get(), &engine);
  // S3 ingestion sources (docs/sources.md): state in configs/, files ingested like OTLP/HTTP.
  sources::ServiceOptions source_options;
  source_options.instance_root = inst.root;
  source_options.ingestor = ingestor->get();
  source_options.recovered_origins = (*ingestor)->recovery().origins;  // exactly once
  auto sources_service = sources::Service::Start(std::move(source_options));
  if (!sources_service.ok()) OTLAKE_LOG(ERROR) << "sources: " << sources_service.status().message();
  sources::SetService(sources_service.ok() ? sources_service->get() : nullptr);
  // Archive replay jobs into the lake (docs/archive.md): exactly once, reconciled with the WAL.
  archive::ReplayServiceOptions replay_options;
  replay_options.instance_root = inst.root;
  replay_options.ingestor = ingestor->get();
  replay_options.recovered_origins = (*ingestor)->recovery().origins;
  replay_options.max_object_bytes = get("max-decompressed-bytes");
  auto replay_service = archive::ReplayService::Start(std::move(replay_options));
  if (!replay_service.ok()) OTLAKE_LOG(ERROR) << "replay: " << replay_service.status().message();
  archive::SetReplayService(replay_service.ok() ? replay_service->get() : nullptr);

  server::HttpServerOptions so;
  so.host = a.Get("host");
  so.port = static_cast<int>(get("port"));
  so.threads = static_cast<int>(get("threads"));
  if (so.threads == 0) so.threads = 2 * static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  so.max_body_bytes = get("max-body-bytes");
  so.max_drain_bytes = std::max<int64_t>(so.max_body_bytes * 4, 256ll << 20);
  so.memory = receiver.memory_budget();  // bodies count against --max-buffered-bytes too
  so.tls = http_tls;
  // A request without the key its route needs is refused before its body is read.
  so.header_check = [&receiver](const server::HttpRequest& req, server::HttpResponse* res) {
    return receiver.CheckHeader(req, res);
  };
  // OTLP/gRPC (docs/grpc.md): the same handler as OTLP/HTTP behind HTTP/2 framing.
  if (grpc_on) {
    grpc::GrpcServerOptions go;
    go.host = so.host;
    go.port = grpc_port;
    go.max_message_bytes = get("grpc-max-message-bytes");
    go.memory = receiver.memory_budget();
    go.header_check = so.header_check;
    go.tls = grpc_tls;
    auto started = grpc::GrpcServer::Start(
        go, [&receiver](server::HttpRequest& req, server::HttpResponse* res) { receiver.Handle(req, res); });
    if (started.ok()) {
      grpc_server = std::move(*started);
    } else if (!a.Has("grpc-port")) {  // the default port: another process has it
      OTLAKE_LOG(WARN) << started.status().message() << "; OTLP/gRPC is off (set --grpc-port to another port)";
    } else {
      std::cerr << "otlake start: " << started.status().message() << "\n";
      (*scheduler)->Stop();
      (void)(*ingestor)->Stop();
      return 1;
    }
  }
  auto server = server::HttpServer::Start(
      so, [&receiver](server::HttpRequest& req, server::HttpResponse* res) { receiver.Handle(req, res); });
  if (!server.ok()) {
    std::cerr << "otlake start: " << server.status().message() << "\n";
    if (grpc_server) grpc_server->Stop(0);
    (*scheduler)->Stop();
    (void)(*ingestor)->Stop();
    return 1;
  }
  const int port = (*server)->port();
  const std::string display_host = so.host == "0.0.0.0" ? "127.0.0.1" : so.host;
  (void)WriteFileAtomic(inst.pid_file(), std::to_string(::getpid()) + "\n");
  (void)WriteFileAtomic(inst.server_json(),
                        "{\"pid\":" + std::to_string(::getpid()) + ",\"host\":\"" + so.host +
                            "\",\"port\":" + std::to_string(port) + ",\"tls\":" + (http_tls ? "true" : "false") +
                            TlsCertJson(http_tls ? http_tls->settings().cert_path : "") +
                            ",\"started_utc\":\"" + UtcIso8601(NowUnixMillis()) + "\"}\n");
  OTLAKE_LOG(INFO) << "otlake " << OTLAKE_VERSION << " instance '" << inst.id << "' at " << inst.root;
  std::cout << "otlake listening on " << (http_tls ? "https://" : "http://") << display_host << ":" << port << std::endl;
  if (grpc_server) {
    std::cout << "otlake listening for OTLP/gRPC on " << display_host << ":" << grpc_server->port() << std::endl;
  }

  int sig = 0;
  // SIGHUP with TLS on reloads the certificate files (new connections get them; open ones keep
  // theirs); otherwise any of the three signals stops the server.
  for (;;) {
    sigwait(&sigs, &sig);
    if (sig != SIGHUP || !http_tls) break;
    Status reloaded = http_tls->Reload();
    if (reloaded.ok()) reloaded = grpc_tls->Reload();
    if (reloaded.ok()) {
      OTLAKE_LOG(INFO) << "SIGHUP: TLS certificate reloaded from " << http_tls->settings().cert_path;
    } else {
      OTLAKE_LOG(ERROR) << "SIGHUP: TLS reload failed, the previous certificate stays: " << reloaded.message();
    }
  }
  OTLAKE_LOG(INFO) << "received signal " << sig << ": stopping (flushing buffered rows)";
  if (grpc_server) grpc_server->Stop(10000);
  (*server)->Stop(10000);
  sources::SetService(nullptr);
  if (sources_service.ok()) (*sources_service)->Stop();  // before the ingestor it feeds
  archive::SetReplayService(nullptr);
  if (replay_service.ok()) (*replay_service)->Stop();  // before the ingestor it feeds
  (*scheduler)->Stop();  // an upload in flight stops between chunks; the next start resumes it
  if (archive) archive->Stop();  // writes what waits (one attempt), before the WAL closes
  st = (*ingestor)->Stop();
  ::unlink(inst.server_json().c_str());
  if (LivePid(inst) == ::getpid()) ::unlink(inst.pid_file().c_str());
  if (!st.ok()) {
    OTLAKE_LOG(ERROR) << "stopped with unwritten data: " << st.message();
    return 1;
  }
  OTLAKE_LOG(INFO) << "stopped cleanly";
  return 0;
}

// Starts the server in the background: re-executes this binary with -F, detached, logging to
// server.log, and waits until it listens (or fails).
int StartBackground(int argc, char** argv, const Instance& inst) {
  if (pid_t pid = LivePid(inst)) {
    std::cerr << "otlake is already running for instance '" << inst.id << "' (pid " << pid << ")\n";
    return 1;
  }
  Status st = CreateLayout(inst);
  if (!st.ok()) {
    std::cerr << "otlake start: " << st.message() << "\n";
    return 1;
  }
  ::unlink(inst.server_json().c_str());
  pid_t child = ::fork();
  if (child < 0) {
    std::perror("fork");
    return 1;
  }
  if (child == 0) {
    ::setsid();
    int devnull = ::open("/dev/null", O_RDONLY);
    int log = ::open(inst.log_file().c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (devnull < 0 || log < 0) _exit(1);
    ::dup2(devnull, 0);
    ::dup2(log, 1);
    ::dup2(log, 2);
    std::vector<char*> args(argv, argv + argc);
    std::string fg = "--foreground";
    args.push_back(fg.data());
    args.push_back(nullptr);
    ::execv("/proc/self/exe", args.data());
    _exit(127);
  }
  for (int i = 0; i < 300; ++i) {
    int status;
    if (::waitpid(child, &status, WNOHANG) == child) {
      std::cerr << "otlake failed to start; see " << inst.log_file() << "\n";
      auto log = ReadFile(inst.log_file());
      if (log.ok()) std::cerr << log->substr(log->size() > 2000 ? log->size() - 2000 : 0);
      return 1;
    }
    auto js = ReadFile(inst.server_json());
    if (js.ok() && js->find("\"pid\":" + std::to_string(child)) != std::string::npos) {
      rapidjson::Document d;
      d.Parse(js->c_str());
      int port = d.IsObject() && d.HasMember("port") ? d["port"].GetInt() : 0;
      std::cout << "Started otlake for '" << inst.id << "' (pid " << child << ") on port " << port
                << "\nLogs: " << inst.log_file() << "\n";
      return 0;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::cerr << "otlake did not report listening within 15 s; see " << inst.log_file() << "\n";
  return 1;
}

int CmdStart(int argc, char** argv) {
  Args a;
  Instance inst;
  int rc;
  if (!ParseWithInstance(StartAllSpecs(), "start", argc, argv, &a, &inst, &rc)) return rc;
  if (!PathExists(inst.root)) {
    std::cerr << "No otlake instance at " << inst.root << ". Run 'otlake init -I " << inst.id
              << " -D " << a.Get("dir") << "' first.\n";
    return 1;
  }
  if (a.Flag("foreground")) return RunServer(a, inst);
  return StartBackground(argc, argv, inst);
}

// ---------------------------------------------------------------------------------------------
// stop

int CmdStop(int argc, char** argv) {
  Args a;
  Instance inst;
  int rc;
  if (!ParseWithInstance(StopSpecs(), "stop", argc, argv, &a, &inst, &rc)) return rc;
  int64_t timeout_s;
  if (!ParseInt(a.Get("timeout"), 0, 86400, &timeout_s)) return Usage("--timeout must be seconds", "stop");
  if (!PathExists(inst.pid_file())) {
    std::cerr << "No pid file found; server not running?\n";
    return 1;
  }
  pid_t pid = LivePid(inst);
  if (pid == 0) {
    ::unlink(inst.pid_file().c_str());
    ::unlink(inst.server_json().c_str());
    std::cerr << "otlake was not running (removed a stale pid file)\n";
    return 1;
  }
  const bool force = a.Flag("force");
  ::kill(pid, force ? SIGKILL : SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  while (::kill(pid, 0) == 0) {
    // Reap if it is our child (it is not, normally); a zombie also counts as stopped.
    auto stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
    if (stat.ok() && stat->find(") Z") != std::string::npos) break;
    if (std::chrono::steady_clock::now() > deadline) {
      std::cerr << "otlake (pid " << pid << ") still running after " << timeout_s
                << " s; use 'otlake stop --force' to kill it\n";
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ::unlink(inst.pid_file().c_str());
  ::unlink(inst.server_json().c_str());
  std::cout << (force ? "Killed" : "Stopped") << " otlake server for '" << inst.id << "'.\n";
  return 0;
}

// ---------------------------------------------------------------------------------------------
// status

// A minimal HTTP/1.0 GET with a deadline (no dependency on the server module).
std::string JsonText(const rapidjson::Value& v) {
  if (v.IsString()) return v.GetString();
  if (v.IsInt64()) return std::to_string(v.GetInt64());
  if (v.IsDouble()) {
    char b[32];
    std::snprintf(b, sizeof b, "%.1f", v.GetDouble());
    return b;
  }
  if (v.IsBool()) return v.GetBool() ? "yes" : "no";
  if (v.IsNull()) return "-";
  return "?";
}

int CmdStatus(int argc, char** argv) {
  auto specs = StatusSpecs();
  Args a;
  std::string err;
  if (!a.Parse(specs, argc, argv, 2, &err)) return Usage(err, "status");
  int64_t port = 4318;
  bool server_tls = false;
  std::string server_cert;
  if (a.Has("port")) {
    if (!ParseInt(a.Get("port"), 1, 65535, &port)) return Usage("--port must be 1-65535", "status");
  } else {
    Instance inst;
    int rc;
    if (!ResolveInstance(a, &inst, "status", &rc)) return rc;
    RunningServer running;
    if (ReadRunningServer(inst.server_json(), &running)) {
      port = running.port;
      server_tls = running.tls;
      server_cert = running.tls_cert;
    }
  }
  double timeout = std::atof(a.Get("timeout").c_str());
  if (timeout <= 0) return Usage("--timeout must be a positive number of seconds", "status");
  int code = 0;
  std::string body;
  Status st = HttpCall(a.Get("host"), static_cast<int>(port), ClientTlsFor(a, server_tls, server_cert), "GET",
                       "/healthz", {}, "", timeout, &code, &body);
  if (!st.ok()) {
    std::cerr << "otlake status: " << st.message() << "\n";
    return 3;
  }
  rapidjson::Document d;
  if (code != 200 || d.Parse(body.c_str()).HasParseError() || !d.IsObject() || !d.HasMember("ok")) {
    std::cerr << "otlake status: unexpected answer from /healthz (HTTP " << code << ")\n";
    return 3;
  }
  if (a.Flag("json")) {
    std::cout << body << "\n";
    return d["ok"].GetBool() ? 0 : 4;
  }
  const bool ok = d["ok"].IsBool() && d["ok"].GetBool();
  std::cout << "otlake " << JsonText(d["version"]) << "  instance " << JsonText(d["instance_id"])
            << "  day " << JsonText(d["current_day_utc"]) << "  started " << JsonText(d["started_utc"])
            << "  " << (ok ? "OK" : "NOT OK: " + JsonText(d["reason"])) << "\n\n";
  if (d.HasMember("shipping") && d["shipping"].IsObject()) {
    const auto& sh = d["shipping"];
    auto f = [&](const char* k) { return sh.HasMember(k) ? JsonText(sh[k]) : std::string("-"); };
    std::string line = "shipping: ";
    if (f("mode") == "s3") line += "to " + f("target");
    else if (f("mode") == "disabled") line += "DISABLED: " + f("problem");
    else line += "local-only (S3 not configured; past days are sealed and kept)";
    if (sh.HasMember("running") && sh["running"].IsObject()) {
      const auto& r = sh["running"];
      line += "; now " + JsonText(r["phase"]) + " " + JsonText(r["day"]);
    }
    std::cout << line << "\n";
    if (sh.HasMember("s3_access") && sh["s3_access"].IsObject() && sh["s3_access"]["ok"].IsFalse()) {
      std::cout << "  S3 NOT USABLE: " << JsonText(sh["s3_access"]["error"]) << " (checked "
                << JsonText(sh["s3_access"]["checked_utc"]) << ")\n";
    }
    if (sh.HasMember("failing") && sh["failing"].IsArray()) {
      for (const auto& x : sh["failing"].GetArray()) {
        std::cout << "  day " << JsonText(x["day"]) << ": " << JsonText(x["phase"]) << " failed "
                  << JsonText(x["failures"]) << "x (" << JsonText(x["error"]) << "); next try "
                  << JsonText(x["next_retry_utc"]) << "\n";
      }
    }
    std::cout << "\n";
  }
  if (d.HasMember("archive") && d["archive"].IsObject() && d["archive"].HasMember("archived_lsn")) {
    const auto& ar = d["archive"];  // the archive writer (docs/archive.md)
    auto f = [&](const char* k) { return ar.HasMember(k) ? JsonText(ar[k]) : std::string("-"); };
    std::cout << "archive: to " << f("target") << " as " << f("marshaler") << "/" << f("compression")
              << "; archived LSN " << f("archived_lsn") << ", backlog " << f("backlog_lsns") << " records / "
              << f("backlog_bytes") << " bytes, lag " << f("lag_s") << " s, " << f("objects") << " objects, "
              << f("gaps_total") << " gaps\n";
    if (ar.HasMember("last_error") && ar["last_error"].IsString()) {
      std::cout << "  ARCHIVE FAILING: " << f("last_error") << " (retrying)\n";
    }
    if (ar.HasMember("gaps") && ar["gaps"].IsArray()) {
      for (const auto& g : ar["gaps"].GetArray()) {
        std::cout << "  gap: LSN " << JsonText(g["from_lsn"]) << ".." << JsonText(g["to_lsn"]) << " arrival "
                  << JsonText(g["first_arrival_utc"]) << " .. " << JsonText(g["last_arrival_utc"]) << " ("
                  << JsonText(g["reason"]) << ")\n";
      }
    }
    std::cout << "\n";
  }
  std::vector<std::vector<std::string>> rows;
  if (d.HasMember("tables") && d["tables"].IsObject()) {
    for (auto& m : d["tables"].GetObject()) {
      const auto& t = m.value;
      auto f = [&](const char* k) { return t.HasMember(k) ? JsonText(t[k]) : "-"; };
      rows.push_back({m.name.GetString(), f("accepted"), f("buffered"), f("oldest_buffered_age_s"),
                      f("persisted"), f("flushes"), f("write_failures"), f("last_commit_version"),
                      f("last_commit_utc")});
    }
  }
  PrintTable({"TABLE", "ACCEPTED", "BUFFERED", "OLDEST(s)", "PERSISTED", "FLUSHES", "FAILURES",
              "VERSION", "LAST COMMIT"},
             rows);
  rows.clear();
  if (d.HasMember("signals") && d["signals"].IsObject()) {
    for (auto& m : d["signals"].GetObject()) {
      const auto& s = m.value;
      std::string reasons;
      if (s.HasMember("rejected_by_reason") && s["rejected_by_reason"].IsObject()) {
        for (auto& r : s["rejected_by_reason"].GetObject()) {
          if (!reasons.empty()) reasons += "; ";
          reasons += std::string(r.name.GetString()) + " (" + JsonText(r.value) + ")";
        }
      }
      rows.push_back({m.name.GetString(), JsonText(s["requests"]), JsonText(s["accepted"]),
                      JsonText(s["rejected"]), reasons.empty() ? "-" : reasons});
    }
  }
  std::cout << "\n";
  PrintTable({"SIGNAL", "REQUESTS", "ACCEPTED", "REJECTED", "REJECTION REASONS"}, rows);
  return ok ? 0 : 4;
}

// ---------------------------------------------------------------------------------------------
// view, trace (view.cc)

int CmdView(int argc, char** argv) {
  Args a;
  Instance inst;
  int rc;
  if (!ParseWithInstance(ViewSpecs(), "view", argc, argv, &a, &inst, &rc)) return rc;
  return RunView(a, inst.root);
}

int CmdSeal(int argc, char** argv) {
  Args a;
  Instance inst;
  int rc;
  if (!ParseWithInstance(SealSpecs(), "seal", argc, argv, &a, &inst, &rc)) return rc;
  return RunSeal(a, inst.id, inst.root);
}

int CmdShip(int argc, char** argv) {
  Args a;
  Instance inst;
  int rc;
  if (!ParseWithInstance(ShipSpecs(), "ship", argc, argv, &a, &inst, &rc)) return rc;
  return RunShip(a, inst.id, inst.root);
}

int CmdDays(int argc, char** argv) {
  Args a;
  Instance inst;
  int rc;
  if (!ParseWithInstance(DaysSpecs(), "days", argc, argv, &a, &inst, &rc)) return rc;
  return RunDays(a, inst.id, inst.root);
}

int CmdReplay(int argc, char** argv) {
  Args a;
  std::string err;
  if (!a.Parse(ReplaySpecs(), argc, argv, 2, &err)) return Usage(err, "replay");
  return RunReplayCommand(a);
}

int CmdKeys(int argc, char** argv) {
  Args a;
  Instance inst;
  int rc;
  if (!ParseWithInstance(KeysSpecs(), "keys", argc, argv, &a, &inst, &rc)) return rc;
  return RunKeys(a, inst.root);
}

int CmdSources(int argc, char** argv) {
  Args a;
  Instance inst;
  int rc;
  if (!ParseWithInstance(SourcesSpecs(), "sources", argc, argv, &a, &inst, &rc)) return rc;
  return RunSources(a, inst.root);
}

int CmdArchive(int argc, char** argv) {
  Args a;
  Instance inst;
  int rc;
  if (!ParseWithInstance(ArchiveCmdSpecs(), "archive", argc, argv, &a, &inst, &rc)) return rc;
  return RunArchiveCommand(a, inst.root);
}

int CmdTrace(int argc, char** argv) {
  Args a;
  Instance inst;
  int rc;
  if (!ParseWithInstance(TraceSpecs(), "trace", argc, argv, &a, &inst, &rc)) return rc;
  return RunTrace(a, inst.root);
}

// ---------------------------------------------------------------------------------------------

struct Command {
  const char* name;
  const char* usage;
  const char* description;
  int (*run)(int, char**);
  std::vector<OptionSpec> (*specs)();
};

const Command kCommands[] = {
    {"init", "otlake init [-I ID] [-D DIR]",
     "Create an instance: <DIR>/<ID>/ with configs/, index/, staging/days/ and wal/.\n"
     "Exits 1 if the instance already exists.",
     CmdInit, InitSpecs},
    {"start", "otlake start [-I ID] [-D DIR] [-H HOST] [-P PORT] [-F] [options]",
     "Start the server: OTLP/HTTP on /v1/traces, /v1/logs, /v1/metrics and /healthz.\n"
     "Runs in the background (pid in configs/server.pid, logs in server.log) unless -F.\n"
     "SIGTERM or 'otlake stop' flushes and commits every buffered row before exiting.",
     CmdStart, StartAllSpecs},
    {"stop", "otlake stop [-I ID] [-D DIR] [--force] [-T SECONDS]",
     "Stop the running server gracefully: it stops accepting, flushes and commits everything,\n"
     "then exits. --force kills it at once.",
     CmdStop, StopSpecs},
    {"status", "otlake status [-H HOST] [-P PORT] [-T SECONDS] [--json]",
     "Show the server's health (/healthz) as tables. Exit 0 ok, 3 unreachable or bad answer,\n"
     "4 the server reports a problem (e.g. writes failing).",
     CmdStatus, StatusSpecs},
    {"view", "otlake view [-I ID] [-D DIR] -t TABLE [-n N] [-s COLS] [--date-from D] [--date-to D] [FILTER...]",
     "Print the latest rows of a table, read from the lake (the server may be stopped).\n"
     "FILTERs are the read API's parameters: service_name=checkout, attr.http.route=/cart,\n"
     "duration_ms>=100, name_like=GET%, severity_ge=17, time_ms_from=... (docs/http-api.md).\n"
     "Without dates: the last 24 hours of event time. Exit 1 no instance, 2 usage, 4 read error.",
     CmdView, ViewSpecs},
    {"trace", "otlake trace [-I ID] [-D DIR] TRACE_ID [--json]",
     "Print one trace as an indented span tree with start offsets, durations and status,\n"
     "searching every day (no date range needed). Exit 1 if not found.",
     CmdTrace, TraceSpecs},
    {"days", "otlake days [-I ID] [-D DIR] [--json]",
     "List the days of the instance with their shipping phase (sealed, uploaded, verified,\n"
     "cleaned), rows, files, bytes and the last problem, read from index/days.jsonl.",
     CmdDays, DaysSpecs},
    {"seal", "otlake seal --day YYYY-MM-DD [-I ID] [-D DIR]",
     "Seal a past day now: compact each table into large sorted zstd files, checkpoint it, and\n"
     "remove files no longer referenced. Exit 0 sealed, 1 failed (see 'otlake days'), 2 usage.",
     CmdSeal, SealSpecs},
    {"ship", "otlake ship --day YYYY-MM-DD [-I ID] [-D DIR] [--keep-local] [--s3-* ...]",
     "Seal (if needed), upload to S3, verify table by table, then remove the local copy.\n"
     "Resumes where an earlier attempt stopped. Exit 0 done, 1 failed (recorded), 2 usage.",
     CmdShip, ShipSpecs},
    {"replay", "otlake replay (--s3-bucket B | --source-dir DIR) --start T --end T [--project P | --to-otlp URL | --to-dir DIR | --dry-run]",
     "Replay a time window of a Collector-layout OTLP archive (awss3exporter) into this instance's\n"
     "lake through its running server, exactly once per object (default), or to an OTLP/HTTP endpoint\n"
     "or a directory (docs/archive.md). Exit 0 all replayed, 1 some objects failed, 2 usage.",
     CmdReplay, ReplaySpecs},
    {"archive", "otlake archive status [-I ID] [-D DIR] [--json] | backfill (--from T --to T | --gaps) [--archive-* ...]",
     "status: the archive writer's state (otlake start --archive-s3-bucket ...; docs/archive.md):\n"
     "archived WAL position, totals, a batch being written, recorded gaps. Exit 1 no archive.\n"
     "backfill: write the lake's records of an event-time window (or of every recorded gap) to the\n"
     "archive again, in its layout and format (same settings as otlake start). Exit 0 done,\n"
     "1 failed, 2 usage.",
     CmdArchive, ArchiveCmdSpecs},
    {"keys", "otlake keys create --scope admin|ingest|read [--project P] [--name N] | list | revoke ID [-I ID] [-D DIR] [--json]",
     "Manage API keys (docs/auth.md): create prints a key once; list never shows secrets; revoke\n"
     "takes effect on a running server within a second. Exit 0 ok, 1 failed, 2 usage.",
     CmdKeys, KeysSpecs},
    {"sources", "otlake sources list | add --name N --bucket B --application-id P [...] | show ID | files ID [--status S] | retry ID [FILE_ID] | test ID [--key K]",
     "Manage S3 ingestion sources on the running server (docs/sources.md) with an admin key\n"
     "(--key or OTLAKE_API_KEY). Exit 0 ok, 1 refused/unreachable/test failed, 2 usage.",
     CmdSources, SourcesSpecs},
};

void PrintMainHelp() {
  std::cout << "otlake " << OTLAKE_VERSION
            << " - an OpenTelemetry lakehouse: OTLP in, Delta Lake tables per UTC day out.\n\n"
               "Usage: otlake <command> [options]\n\nCommands:\n";
  for (const Command& c : kCommands) {
    std::string first = c.description;
    first = first.substr(0, first.find('\n'));
    std::cout << "  " << Pad(c.name, 8) << first << "\n";
  }
  std::cout << "\nRun 'otlake <command> --help' for a command's options.\n"
               "  --version  Print the version\n";
}

}  // namespace

int Main(int argc, char** argv) {
  if (argc < 2) {
    PrintMainHelp();
    return 2;
  }
  const std::string cmd = argv[1];
  if (cmd == "--version" || cmd == "-V" || cmd == "version") {
    std::cout << "otlake " << OTLAKE_VERSION << "\n";
    return 0;
  }
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    PrintMainHelp();
    return 0;
  }
  for (const Command& c : kCommands) {
    if (cmd != c.name) continue;
    for (int i = 2; i < argc; ++i) {
      const std::string arg = argv[i];
      if (arg == "-h" || arg == "--help") {
        std::cout << FormatHelp(c.usage, c.description, c.specs());
        return 0;
      }
    }
    const int rc = c.run(argc, argv);
    ship::ShutdownS3();  // every S3 filesystem was local to the command and is gone
    return rc;
  }
  std::cerr << "otlake: unknown command '" << cmd << "'\n";
  PrintMainHelp();
  return 2;
}

}  // namespace otlake::cli
