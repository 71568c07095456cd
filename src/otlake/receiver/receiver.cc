#include "otlake/receiver/receiver.h"

#include "otlake/receiver/api.h"
#include "otlake/receiver/api_ui.h"
#include "otlake/receiver/log_tail.h"
#include "otlake/receiver/ui_assets.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <vector>
#include <atomic>
#include <cctype>
#include <map>
#include <mutex>

#include <sys/resource.h>
#include <unistd.h>

#include "otlake/auth/key_store.h"
#include "otlake/buffer/pipeline.h"
#include "otlake/ingest/ingestor.h"
#include "otlake/common/log.h"
#include "otlake/common/metrics.h"
#include "otlake/common/time_util.h"
#include "otlake/otlp/decode.h"
#include "otlake/otlp/proto_writer.h"
#include "otlake/server/decompress.h"
#include "otlake/server/memory_budget.h"
#include "otlake/archive/replay_api.h"
#include "otlake/sources/api.h"
#include "otlake/wal/wal_writer.h"

namespace otlake::receiver {

using server::HttpRequest;
using server::HttpResponse;

bool IsValidProjectId(std::string_view id) {
  if (id.empty() || id.size() > 128 || id == "." || id == "..") return false;
  for (char c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') return false;
  }
  return true;
}

namespace {

enum class Format { kJson, kProtobuf };

// The project an ingest request names: our header, Depths' two headers, then ?project_id=.
// False (and *project untouched) if it names none.
bool IngestProject(const HttpRequest& req, std::string* project) {
  for (const char* h : {"x-otlake-project-id", "x-depths-project-id", "x-otlp-project-id"}) {
    std::string_view v = req.Header(h);
    if (!v.empty()) {
      project->assign(v);
      return true;
    }
  }
  std::string q;
  if (!req.QueryParam("project_id", &q)) return false;
  *project = std::move(q);
  return true;
}

// True if a raw query string holds something shaped like an API key ("otlk_", also
// percent-encoded as "otlk%5F").
bool LooksLikeKeyInQuery(std::string_view query) {
  for (size_t p = query.find("otlk"); p != std::string_view::npos; p = query.find("otlk", p + 1)) {
    std::string_view rest = query.substr(p + 4);
    if (rest.rfind("_", 0) == 0 || rest.rfind("%5F", 0) == 0 || rest.rfind("%5f", 0) == 0) return true;
  }
  return false;
}

// gRPC status codes used in google.rpc.Status bodies.
constexpr int kInvalidArgument = 3;
constexpr int kNotFound = 5;
constexpr int kPermissionDenied = 7;
constexpr int kUnauthenticated = 16;
constexpr int kResourceExhausted = 8;
constexpr int kUnimplemented = 12;
constexpr int kInternal = 13;
constexpr int kUnavailable = 14;

std::string JsonEscape(std::string_view s) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  return std::string(sb.GetString(), sb.GetSize());
}

std::string_view MediaType(std::string_view content_type, std::string* lowered) {
  size_t semi = content_type.find(';');
  std::string_view t = content_type.substr(0, semi);
  while (!t.empty() && t.front() == ' ') t.remove_prefix(1);
  while (!t.empty() && t.back() == ' ') t.remove_suffix(1);
  lowered->assign(t);
  for (char& c : *lowered) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return *lowered;
}

const char* RejectedField(otlp::Signal s) {
  switch (s) {
    case otlp::Signal::kTraces: return "rejectedSpans";
    case otlp::Signal::kLogs: return "rejectedLogRecords";
    case otlp::Signal::kMetrics: return "rejectedDataPoints";
  }
  return "rejected";
}

// Why an ingest request was not acknowledged: the keys of /healthz "rejections".
enum Rejection {
  kRejectMemory,                // 429: the memory budget is full
  kRejectWal,                   // 503: the write-ahead log cannot be written or synced
  kRejectTables,                // 503: table writes are failing
  kRejectStopping,              // 503: the server is stopping
  kRejectBodyTooLarge,          // 413: body over --max-body-bytes
  kRejectDecompressedTooLarge,  // 413: decompressed body over --max-decompressed-bytes
  kRejectUnsupported,           // 415: Content-Type or Content-Encoding
  kRejectInvalid,               // 400: undecodable body, bad compressed data, bad project id
  kNumRejections
};
constexpr const char* kRejectionNames[kNumRejections] = {
    "memory", "wal", "tables", "stopping", "body_too_large", "decompressed_too_large",
    "unsupported", "invalid"};

// The server-side time of the last kLatencySamples acknowledged requests, by phase (/healthz
// "ack_latency_ms"): where a slow ack spent its time.
enum Phase { kPhaseReadBody, kPhaseDecode, kPhaseBuffer, kPhaseWalSync, kPhaseTotal, kNumPhases };
constexpr const char* kPhaseNames[kNumPhases] = {"read_body", "decode", "buffer", "wal_sync", "total"};
constexpr size_t kLatencySamples = 4096;

class LatencyRing {
 public:
  void Add(const std::array<int64_t, kNumPhases>& ns) {
    std::lock_guard lk(mu_);
    if (samples_.size() < kLatencySamples) {
      samples_.push_back(ns);
    } else {
      samples_[next_] = ns;
    }
    next_ = (next_ + 1) % kLatencySamples;
  }
  // {"samples": n, "<phase>": {"p50": ms, "p99": ms, "max": ms}, ...}
  template <typename Out>
  void Write(Out& j) const {
    std::vector<std::array<int64_t, kNumPhases>> copy;
    {
      std::lock_guard lk(mu_);
      copy = samples_;
    }
    j.Int("samples", static_cast<int64_t>(copy.size()));
    std::vector<int64_t> v(copy.size());
    for (int p = 0; p < kNumPhases; ++p) {
      for (size_t i = 0; i < copy.size(); ++i) v[i] = copy[i][p];
      std::sort(v.begin(), v.end());
      auto at = [&](double q) {
        return v.empty() ? 0.0 : v[std::min(v.size() - 1, static_cast<size_t>(v.size() * q))] / 1e6;
      };
      j.Begin(kPhaseNames[p]);
      j.Double("p50", at(0.5)).Double("p99", at(0.99)).Double("max", v.empty() ? 0.0 : v.back() / 1e6);
      j.End();
    }
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::array<int64_t, kNumPhases>> samples_;  // guarded by mu_
  size_t next_ = 0;                                      // guarded by mu_
};

int64_t SteadyNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Counters for one signal.
struct SignalStats {
  std::atomic<int64_t> requests{0};
  std::atomic<int64_t> accepted{0};
  std::atomic<int64_t> rejected{0};
  // Attribute entries dropped for a repeated key (the stored map keeps the last value).
  std::atomic<int64_t> duplicate_attr_keys{0};
  std::mutex mu;
  std::map<std::string, int64_t> reasons;  // guarded by mu
};

// A compact JSON object writer over RapidJSON: one call per field.
class JsonOut {
 public:
  JsonOut() : w_(sb_) {}
  /// Opens the top-level object (no key) or a nested object under `key`.
  JsonOut& Begin() {
    w_.StartObject();
    return *this;
  }
  JsonOut& Begin(std::string_view key) {
    Key(key);
    w_.StartObject();
    return *this;
  }
  JsonOut& End() {
    w_.EndObject();
    return *this;
  }
  JsonOut& Int(std::string_view key, int64_t v) {
    Key(key);
    w_.Int64(v);
    return *this;
  }
  JsonOut& Double(std::string_view key, double v) {
    Key(key);
    w_.Double(v);
    return *this;
  }
  JsonOut& Bool(std::string_view key, bool v) {
    Key(key);
    w_.Bool(v);
    return *this;
  }
  JsonOut& Str(std::string_view key, std::string_view v) {
    Key(key);
    w_.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
    return *this;
  }
  JsonOut& Null(std::string_view key) {
    Key(key);
    w_.Null();
    return *this;
  }
  /// A value that is already JSON (an object).
  JsonOut& Raw(std::string_view key, std::string_view json) {
    Key(key);
    w_.RawValue(json.data(), json.size(), rapidjson::kObjectType);
    return *this;
  }
  std::string Take() { return std::string(sb_.GetString(), sb_.GetSize()); }

 private:
  void Key(std::string_view k) { w_.Key(k.data(), static_cast<rapidjson::SizeType>(k.size())); }
  rapidjson::StringBuffer sb_;
  rapidjson::Writer<rapidjson::StringBuffer> w_;
};

}  // namespace

class Receiver::Impl {
 public:
  Impl(ReceiverOptions options, ingest::Ingestor* ingestor, query::QueryEngine* engine)
      : options_(std::move(options)),
        ingestor_(ingestor),
        engine_(engine),
        pipeline_(ingestor->pipeline()),
        memory_(ingestor->max_buffered_bytes(), ingestor->low_buffered_bytes(),
                [p = pipeline_] { return p->BufferedBytes(); }),
        started_ms_(NowUnixMillis()) {
    for (auto& h : ack_hist_) {
      h = std::make_unique<metrics::Histogram>(metrics::Histogram::LatencyBoundsNs(), 1'000'000'000);
    }
    for (auto& h : body_hist_) h = std::make_unique<metrics::Histogram>(metrics::Histogram::SizeBoundsBytes());
    if (engine_ != nullptr) tail_ = std::make_unique<LogTail>(engine_);
  }

  server::MemoryBudget* memory_budget() { return &memory_; }

  // Before the body is read (HttpServerOptions::header_check): a request whose route needs a
  // key it lacks is answered 401/403 without reading its body. Handle() checks again (cheap).
  bool CheckHeader(const HttpRequest& req, HttpResponse* res) {
    if (req.method == "OPTIONS") return true;
    // Replay jobs: the project (in the body) decides; Handle authorizes once the body is read.
    if (archive::IsReplayPath(req.path)) return true;
    auth::RouteClass route = auth::ClassifyPath(req.path);
    if (req.path == "/metrics" && !options_.metrics_public) route = auth::RouteClass::kRead;
    if (!auth::NeedsKey(options_.auth_mode, route)) return true;
    std::string key_project;
    if (Authorize(req, route, res, &key_project)) return true;
    res->headers.emplace_back("Access-Control-Allow-Origin", "*");
    return false;
  }

  void Handle(HttpRequest& req, HttpResponse* res) {
    res->headers.emplace_back("Access-Control-Allow-Origin", "*");
    if (req.method == "OPTIONS") {  // CORS preflight for browser exporters
      res->status = 204;
      res->headers.emplace_back("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
      // "*" does not cover Authorization (Fetch spec): browser exporters sending an API key
      // need it named.
      res->headers.emplace_back("Access-Control-Allow-Headers", "*, Authorization");
      res->headers.emplace_back("Access-Control-Max-Age", "86400");
      Count(204);
      return;
    }
    std::string key_project;  // set when the request's key is limited to a project
    auth::RouteClass route = auth::ClassifyPath(req.path);
    // /metrics counts every project's traffic: in --auth required it needs a read or admin key
    // not limited to a project (Authorize), unless --metrics-public.
    if (req.path == "/metrics" && !options_.metrics_public) route = auth::RouteClass::kRead;
    // Replay jobs write data: POST/DELETE need an ingest (or admin) key for the job's project.
    const bool replay = archive::IsReplayPath(req.path);
    if (replay) route = archive::IsReplayWrite(req) ? auth::RouteClass::kIngest : auth::RouteClass::kRead;
    bool admin = true;  // no key needed: --auth open
    if (auth::NeedsKey(options_.auth_mode, route) && !Authorize(req, route, res, &key_project, &admin)) return;
    otlp::Signal signal;
    if (req.path == "/v1/traces") {
      signal = otlp::Signal::kTraces;
    } else if (req.path == "/v1/logs") {
      signal = otlp::Signal::kLogs;
    } else if (req.path == "/v1/metrics") {
      signal = otlp::Signal::kMetrics;
    } else if (req.path == "/healthz") {
      if (req.method != "GET" && req.method != "HEAD") {
        return Error(res, Format::kJson, 405, kUnimplemented, "method " + req.method + " not allowed on /healthz; use GET", {{"Allow", "GET"}});
      }
      res->body = HealthJson();
      Count(200);
      return;
    } else if (req.path == "/metrics") {
      if (req.method != "GET" && req.method != "HEAD") {
        return Error(res, Format::kJson, 405, kUnimplemented, "method " + req.method + " not allowed on /metrics; use GET", {{"Allow", "GET"}});
      }
      res->content_type = std::string(metrics::kContentType);
      res->body = MetricsText();
      Count(200);
      return;
    } else if (replay) {  // archive replay jobs (archive/replay_api.h)
      archive::HandleReplayApi(req, res, key_project, admin);
      Count(res->status);
      return;
    } else if (IsUiApiPath(req.path)) {  // aggregates and live tail for the web UI (api_ui.h)
      HandleUiApi(engine_, tail_.get(), req, res, key_project);
      Count(res->status);
      return;
    } else if (req.path.rfind("/api/", 0) == 0) {
      HandleApi(engine_, req, res, key_project);
      Count(res->status);
      return;
    } else if (req.path.rfind("/v3/", 0) == 0) {  // ingestion sources (sources/api.h; admin key checked above)
      sources::HandleV3(req, res);
      Count(res->status);
      return;
    } else if (IsUiPath(req.path)) {  // the web UI's pages and assets (ui_assets.h)
      HandleUi(req, res);
      Count(res->status);
      return;
    } else {
      return Error(res, Format::kJson, 404, kNotFound, "no route for " + req.path);
    }
    if (req.method != "POST") {
      return Error(res, Format::kJson, 405, kUnimplemented,
                   "method " + req.method + " not allowed on " + req.path + "; use POST",
                   {{"Allow", "POST"}});
    }
    HandleExport(signal, req, res, key_project);
  }

  std::string HealthJson() const {
    std::string reason;
    const bool ok = ingestor_->Ok(&reason);
    const int64_t now = NowUnixMillis();
    JsonOut j;
    j.Begin();
    j.Bool("ok", ok).Str("status", ok ? "ok" : "failing").Str("reason", reason);
    j.Str("instance_id", options_.instance_id).Str("version", OTLAKE_VERSION).Bool("started", true);
    j.Str("started_utc", UtcIso8601(started_ms_)).Double("uptime_s", (now - started_ms_) / 1000.0);
    j.Str("current_day_utc", pipeline_->CurrentDay()).Int("buffered_bytes", pipeline_->BufferedBytes());
    j.Int("overload_rejections", pipeline_->OverloadRejections());
    j.Begin("memory");
    j.Int("limit_bytes", memory_.limit()).Int("low_bytes", memory_.low());
    j.Int("buffered_bytes", pipeline_->BufferedBytes()).Int("request_bytes", memory_.reserved());
    j.Int("peak_bytes", memory_.peak()).Bool("overloaded", memory_.overloaded());
    j.End();
    j.Begin("ack_latency_ms");
    latency_.Write(j);
    j.End();
    j.Begin("auth");
    j.Str("mode", auth::ModeName(options_.auth_mode));
    j.Int("failures_total", auth_unauthenticated_.load() + auth_forbidden_.load());
    j.Int("unauthenticated", auth_unauthenticated_.load()).Int("forbidden", auth_forbidden_.load());
    j.End();
    j.Begin("rejections");
    for (int r = 0; r < kNumRejections; ++r) j.Int(kRejectionNames[r], Rejections(r));
    j.End();
    const ingest::Ingestor::WalStats ws = ingestor_->wal_stats();
    j.Begin("wal");
    j.Int("last_lsn", ws.last_lsn).Int("durable_lsn", ws.durable_lsn);
    j.Int("committed_lsn", ws.committed_lsn).Int("syncs", ws.syncs);
    j.Int("bytes_written", ws.bytes_written).Int("segments_deleted", ws.segments_deleted);
    j.Int("segments_recycled", ws.segments_recycled);
    j.End();
    const ingest::RecoveryReport& rec = ingestor_->recovery();
    j.Begin("recovery");
    j.Int("records", rec.records).Int("replayed_records", rec.replayed_records);
    j.Int("replayed_rows", rec.replayed_rows).Int("skipped_rows", rec.skipped_rows);
    j.Int("corrupt_records", rec.corrupt_records).Int("truncated_tail_bytes", rec.truncated_tail_bytes);
    j.Int("stale_tail_bytes", rec.stale_tail_bytes);
    j.Int("padding_bytes", rec.padding_bytes);
    j.Int("undecodable_records", rec.undecodable_records).Str("problems", rec.problems);
    j.End();
    j.Begin("http");
    {
      std::lock_guard lk(status_mu_);
      for (const auto& [code, n] : status_counts_) j.Int(std::to_string(code), n);
    }
    j.End();
    j.Begin("signals");
    for (int s = 0; s < 3; ++s) {
      SignalStats& st = signals_[s];
      j.Begin(otlp::SignalName(static_cast<otlp::Signal>(s)));
      j.Int("requests", st.requests).Int("accepted", st.accepted).Int("rejected", st.rejected);
      j.Int("duplicate_attribute_keys_dropped", st.duplicate_attr_keys);
      j.Begin("rejected_by_reason");
      {
        std::lock_guard lk(st.mu);
        for (const auto& [r, n] : st.reasons) j.Int(r, n);
      }
      j.End();
      j.End();
    }
    j.End();
    j.Begin("tables");
    for (table::TableId t : table::kAllTables) {
      const buffer::TableHealth h = pipeline_->Health(t);
      j.Begin(table::TableName(t));
      j.Int("accepted", h.accepted_rows).Int("buffered", h.buffered_rows);
      j.Int("buffered_bytes", h.buffered_bytes);
      if (h.oldest_buffered_unix_ms > 0) {
        j.Double("oldest_buffered_age_s", (now - h.oldest_buffered_unix_ms) / 1000.0);
      } else {
        j.Null("oldest_buffered_age_s");
      }
      j.Int("persisted", h.persisted_rows).Int("flushes", h.flushes).Int("files", h.files);
      j.Int("write_failures", h.write_failures);
      j.Int("compactions", h.compactions).Int("compacted_files", h.compacted_files);
      j.Int("replaced_files_deleted", h.replaced_files_deleted).Int("replaced_files_deferred", h.replaced_files_deferred);
      if (h.last_commit_unix_ms > 0) {
        j.Str("last_commit_utc", UtcIso8601(h.last_commit_unix_ms));
      } else {
        j.Null("last_commit_utc");
      }
      j.Int("last_commit_version", h.last_commit_version);
      j.End();
    }
    j.End();
    if (options_.shipping_json) j.Raw("shipping", options_.shipping_json());
    if (options_.grpc_json) j.Raw("grpc", options_.grpc_json());
    j.Raw("sources", sources::HealthJson());  // ingestion sources: per-source counters
    j.Raw("archive", options_.archive_json ? options_.archive_json() : std::string("{\"enabled\":false}"));
    j.End();
    return j.Take();
  }

  std::string MetricsText() const {
    using metrics::PromWriter;
    PromWriter w;
    auto counter = [&](const char* name, const char* help, int64_t v) {
      w.Family(name, "counter", help).Sample(name, v);
    };
    auto gauge = [&](const char* name, const char* help, int64_t v) {
      w.Family(name, "gauge", help).Sample(name, v);
    };
    std::string reason;
    const bool ok = ingestor_->Ok(&reason);
    w.Family("otlake_build_info", "gauge", "Constant 1, labelled with the version and instance.");
    w.Sample("otlake_build_info", {{"version", OTLAKE_VERSION}, {"instance_id", options_.instance_id}}, int64_t{1});
    gauge("otlake_healthy", "1 while the WAL and table writes succeed (/healthz ok), else 0.", ok ? 1 : 0);
    w.Family("process_start_time_seconds", "gauge", "Start time of the process since the Unix epoch.");
    w.Sample("process_start_time_seconds", {}, started_ms_ / 1000.0);
    {
      struct rusage ru {};
      ::getrusage(RUSAGE_SELF, &ru);
      const double cpu = ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
      w.Family("process_cpu_seconds_total", "counter", "User and system CPU time of the process.");
      w.Sample("process_cpu_seconds_total", {}, cpu);
      w.Family("process_max_resident_memory_bytes", "gauge", "Peak resident set size of the process.");
      w.Sample("process_max_resident_memory_bytes", {}, static_cast<int64_t>(ru.ru_maxrss) * 1024);
    }
    gauge("otlake_auth_required", "1 if --auth required (ingest and reads need an API key), 0 if open.",
          options_.auth_mode == auth::Mode::kRequired ? 1 : 0);

    // Requests and items by signal.
    w.Family("otlake_requests_total", "counter", "OTLP export requests received, by signal.");
    for (int s = 0; s < 3; ++s) {
      w.Sample("otlake_requests_total", {{"signal", otlp::SignalName(static_cast<otlp::Signal>(s))}}, signals_[s].requests.load());
    }
    w.Family("otlake_requests_rejected_total", "counter",
             "OTLP export requests not acknowledged (4xx/5xx), by signal and reason.");
    for (int s = 0; s < 3; ++s) {
      for (int r = 0; r < kNumRejections; ++r) {
        w.Sample("otlake_requests_rejected_total",
                 {{"signal", otlp::SignalName(static_cast<otlp::Signal>(s))}, {"reason", kRejectionNames[r]}},
                 rejections_[s][r].load());
      }
    }
    w.Family("otlake_items_accepted_total", "counter",
             "Spans, log records or data points acknowledged (durable), by signal.");
    for (int s = 0; s < 3; ++s) {
      w.Sample("otlake_items_accepted_total", {{"signal", otlp::SignalName(static_cast<otlp::Signal>(s))}}, signals_[s].accepted.load());
    }
    w.Family("otlake_items_rejected_total", "counter",
             "Items rejected from acknowledged requests (partialSuccess), by signal.");
    for (int s = 0; s < 3; ++s) {
      w.Sample("otlake_items_rejected_total", {{"signal", otlp::SignalName(static_cast<otlp::Signal>(s))}}, signals_[s].rejected.load());
    }
    w.Family("otlake_attribute_duplicate_keys_dropped_total", "counter",
             "Attribute entries dropped because a later entry of the same list had the same key "
             "(the stored map keeps the last value), by signal.");
    for (int s = 0; s < 3; ++s) {
      w.Sample("otlake_attribute_duplicate_keys_dropped_total",
               {{"signal", otlp::SignalName(static_cast<otlp::Signal>(s))}},
               signals_[s].duplicate_attr_keys.load());
    }
    w.Family("otlake_items_rejected_by_reason_total", "counter",
             "Items rejected from acknowledged requests, by signal and the decoder's message.");
    for (int s = 0; s < 3; ++s) {
      std::lock_guard lk(signals_[s].mu);
      for (const auto& [r, n] : signals_[s].reasons) {
        w.Sample("otlake_items_rejected_by_reason_total", {{"signal", otlp::SignalName(static_cast<otlp::Signal>(s))}, {"reason", r}}, n);
      }
    }
    w.Family("otlake_http_responses_total", "counter", "HTTP answers by status code (every route).");
    {
      std::lock_guard lk(status_mu_);
      for (const auto& [code, n] : status_counts_) w.Sample("otlake_http_responses_total", {{"code", std::to_string(code)}}, n);
    }
    w.Family("otlake_auth_failures_total", "counter", "Requests refused for their API key: 401 unauthenticated, 403 forbidden.");
    w.Sample("otlake_auth_failures_total", {{"reason", "unauthenticated"}}, auth_unauthenticated_.load());
    w.Sample("otlake_auth_failures_total", {{"reason", "forbidden"}}, auth_forbidden_.load());

    // Memory budget.
    gauge("otlake_memory_limit_bytes", "The memory budget (--max-buffered-bytes).", memory_.limit());
    gauge("otlake_memory_low_watermark_bytes", "Below this an overloaded budget accepts again.", memory_.low());
    gauge("otlake_memory_buffered_bytes", "Bytes in open batches (all tables).", pipeline_->BufferedBytes());
    gauge("otlake_memory_request_bytes", "Bytes reserved by requests in flight.", memory_.reserved());
    gauge("otlake_memory_peak_bytes", "Highest total a reservation saw.", memory_.peak());
    gauge("otlake_memory_overloaded", "1 between a refusal and the total falling below the low watermark.", memory_.overloaded() ? 1 : 0);
    counter("otlake_overload_rejections_total", "Refusals by the open batches themselves (also in reason=\"memory\").",
            pipeline_->OverloadRejections());

    // Tables.
    const int64_t now = NowUnixMillis();
    std::array<buffer::TableHealth, table::kNumTables> th;
    for (size_t i = 0; i < th.size(); ++i) th[i] = pipeline_->Health(table::kAllTables[i]);
    auto per_table = [&](const char* name, const char* type, const char* help, auto field) {
      w.Family(name, type, help);
      for (size_t i = 0; i < th.size(); ++i) w.Sample(name, {{"table", table::TableName(table::kAllTables[i])}}, field(th[i]));
    };
    per_table("otlake_rows_accepted_total", "counter", "Rows accepted into the open batches.", [](const buffer::TableHealth& h) { return h.accepted_rows; });
    per_table("otlake_rows_buffered", "gauge", "Rows in open batches, not yet committed.", [](const buffer::TableHealth& h) { return h.buffered_rows; });
    per_table("otlake_buffered_bytes", "gauge", "Bytes in open batches.", [](const buffer::TableHealth& h) { return h.buffered_bytes; });
    per_table("otlake_oldest_buffered_age_seconds", "gauge", "Age of the oldest buffered row (0 when none).",
              [now](const buffer::TableHealth& h) { return h.oldest_buffered_unix_ms > 0 ? (now - h.oldest_buffered_unix_ms) / 1000.0 : 0.0; });
    per_table("otlake_rows_persisted_total", "counter", "Rows committed to Delta tables.", [](const buffer::TableHealth& h) { return h.persisted_rows; });
    per_table("otlake_flushes_total", "counter", "Delta commits of buffered rows.", [](const buffer::TableHealth& h) { return h.flushes; });
    per_table("otlake_files_written_total", "counter", "Parquet files written by flushes.", [](const buffer::TableHealth& h) { return h.files; });
    per_table("otlake_table_write_failures_total", "counter", "Failed flushes (retried).", [](const buffer::TableHealth& h) { return h.write_failures; });
    per_table("otlake_compactions_total", "counter", "Compaction (OPTIMIZE) commits.", [](const buffer::TableHealth& h) { return h.compactions; });
    per_table("otlake_compacted_files_total", "counter", "Small files compactions replaced.", [](const buffer::TableHealth& h) { return h.compacted_files; });
    per_table("otlake_replaced_files_deleted_total", "counter", "Replaced files deleted.", [](const buffer::TableHealth& h) { return h.replaced_files_deleted; });
    per_table("otlake_replaced_files_deferred_total", "counter", "Deletions put off because a query held the day.", [](const buffer::TableHealth& h) { return h.replaced_files_deferred; });
    per_table("otlake_last_commit_timestamp_seconds", "gauge", "Time of the last commit (0: none yet).",
              [](const buffer::TableHealth& h) { return h.last_commit_unix_ms / 1000.0; });
    per_table("otlake_last_commit_version", "gauge", "Delta version of the last commit (-1: none yet).", [](const buffer::TableHealth& h) { return h.last_commit_version; });

    // WAL.
    const ingest::Ingestor::WalStats ws = ingestor_->wal_stats();
    gauge("otlake_wal_last_lsn", "Last LSN assigned.", ws.last_lsn);
    gauge("otlake_wal_durable_lsn", "Every record up to this LSN is fdatasync'd.", ws.durable_lsn);
    gauge("otlake_wal_committed_lsn", "Every record up to this LSN is committed to every table.", ws.committed_lsn);
    counter("otlake_wal_syncs_total", "Successful fdatasyncs of WAL segments.", ws.syncs);
    counter("otlake_wal_written_bytes_total", "Framed bytes written to WAL segments.", ws.bytes_written);
    counter("otlake_wal_segments_retired_total", "Segments retired (deleted or kept for recycling).", ws.segments_deleted);
    counter("otlake_wal_segments_recycled_total", "New segments that overwrote a retired file.", ws.segments_recycled);
    const ingest::RecoveryReport& rec = ingestor_->recovery();
    // What start-up recovery found (constant while the process runs).
    w.Family("otlake_wal_recovery_records", "gauge", "WAL records start-up recovery read, by kind.");
    w.Sample("otlake_wal_recovery_records", {{"kind", "read"}}, rec.records);
    w.Sample("otlake_wal_recovery_records", {{"kind", "replayed"}}, rec.replayed_records);
    w.Sample("otlake_wal_recovery_records", {{"kind", "corrupt"}}, rec.corrupt_records);
    w.Sample("otlake_wal_recovery_records", {{"kind", "undecodable"}}, rec.undecodable_records);
    w.Family("otlake_wal_recovery_rows", "gauge", "Rows start-up recovery replayed or skipped (already committed).");
    w.Sample("otlake_wal_recovery_rows", {{"kind", "replayed"}}, rec.replayed_rows);
    w.Sample("otlake_wal_recovery_rows", {{"kind", "skipped"}}, rec.skipped_rows);
    w.Family("otlake_wal_recovery_bytes", "gauge", "Bytes after the last records: truncated (damage), stale or padding (not damage).");
    w.Sample("otlake_wal_recovery_bytes", {{"kind", "truncated_tail"}}, rec.truncated_tail_bytes);
    w.Sample("otlake_wal_recovery_bytes", {{"kind", "stale_tail"}}, rec.stale_tail_bytes);
    w.Sample("otlake_wal_recovery_bytes", {{"kind", "padding"}}, rec.padding_bytes);

    // Histograms.
    w.Family("otlake_ack_latency_seconds", "histogram",
             "Server-side time of acknowledged requests by phase (as /healthz ack_latency_ms).");
    for (int p = 0; p < kNumPhases; ++p) w.Histogram("otlake_ack_latency_seconds", {{"phase", kPhaseNames[p]}}, ack_hist_[p]->Snapshot());
    w.Family("otlake_request_body_bytes", "histogram", "OTLP request bodies as received (before decompression), by signal.");
    for (int s = 0; s < 3; ++s) {
      w.Histogram("otlake_request_body_bytes", {{"signal", otlp::SignalName(static_cast<otlp::Signal>(s))}}, body_hist_[s]->Snapshot());
    }
    w.Family("otlake_wal_sync_duration_seconds", "histogram", "Time of each fdatasync of a WAL segment.");
    w.Histogram("otlake_wal_sync_duration_seconds", {}, wal::SyncHistogram().Snapshot());

    if (options_.shipping_json) WriteShippingMetrics(options_.shipping_json(), &w);
    if (options_.grpc_json) WriteGrpcMetrics(options_.grpc_json(), &w);
    sources::WriteMetrics(&w);  // otlake_source_* per ingestion source
    std::string text = w.Take();
    if (options_.archive_metrics) text += options_.archive_metrics();  // otlake_archive_*
    return text;
  }

 private:
  // The /healthz "grpc" object: calls by status code, connections.
  static void WriteGrpcMetrics(const std::string& json, metrics::PromWriter* w) {
    rapidjson::Document d;
    d.Parse(json.data(), json.size());
    if (d.HasParseError() || !d.IsObject() || !d.HasMember("port")) return;
    auto num = [&](const char* key) -> int64_t {
      auto it = d.FindMember(key);
      return it != d.MemberEnd() && it->value.IsInt64() ? it->value.GetInt64() : 0;
    };
    w->Family("otlake_grpc_calls_total", "counter", "OTLP/gRPC calls answered, by gRPC status code.");
    auto codes = d.FindMember("by_code");
    if (codes != d.MemberEnd() && codes->value.IsObject()) {
      for (auto m = codes->value.MemberBegin(); m != codes->value.MemberEnd(); ++m) {
        if (!m->value.IsInt64()) continue;
        w->Sample("otlake_grpc_calls_total", {{"code", std::string_view(m->name.GetString(), m->name.GetStringLength())}},
                  m->value.GetInt64());
      }
    }
    w->Family("otlake_grpc_calls_in_flight", "gauge", "OTLP/gRPC calls being handled.")
        .Sample("otlake_grpc_calls_in_flight", num("calls_in_flight"));
    w->Family("otlake_grpc_connections", "gauge", "Open OTLP/gRPC connections.")
        .Sample("otlake_grpc_connections", num("connections"));
    w->Family("otlake_grpc_connections_total", "counter", "OTLP/gRPC connections accepted.")
        .Sample("otlake_grpc_connections_total", num("connections_total"));
  }

  // The /healthz "shipping" object as gauges.
  static void WriteShippingMetrics(const std::string& json, metrics::PromWriter* w) {
    rapidjson::Document d;
    d.Parse(json.data(), json.size());
    if (d.HasParseError() || !d.IsObject()) return;
    auto flag = [&](const char* key) -> int64_t {
      auto it = d.FindMember(key);
      return it != d.MemberEnd() && it->value.IsBool() && it->value.GetBool() ? 1 : 0;
    };
    w->Family("otlake_ship_enabled", "gauge", "1 when days are shipped to S3.").Sample("otlake_ship_enabled", flag("enabled"));
    auto days = d.FindMember("days");
    if (days != d.MemberEnd() && days->value.IsObject()) {
      w->Family("otlake_ship_days", "gauge",
                "Days by the last shipping phase done (none, sealed, uploaded, verified, cleaned), local "
                "days and failing days.");
      for (auto m = days->value.MemberBegin(); m != days->value.MemberEnd(); ++m) {
        if (!m->value.IsInt64()) continue;
        w->Sample("otlake_ship_days", {{"phase", std::string_view(m->name.GetString(), m->name.GetStringLength())}},
                  m->value.GetInt64());
      }
    }
    auto access = d.FindMember("s3_access");
    if (access != d.MemberEnd() && access->value.IsObject()) {
      auto ok = access->value.FindMember("ok");
      if (ok != access->value.MemberEnd() && ok->value.IsBool()) {
        w->Family("otlake_ship_s3_access_ok", "gauge", "1 if the last S3 access check succeeded, 0 if it failed.")
            .Sample("otlake_ship_s3_access_ok", ok->value.GetBool() ? 1 : 0);
      }
    }
    auto running = d.FindMember("running");
    w->Family("otlake_ship_running", "gauge", "1 while a day is being sealed or shipped.")
        .Sample("otlake_ship_running", running != d.MemberEnd() && running->value.IsObject() ? 1 : 0);
  }

  int64_t Rejections(int r) const {
    int64_t n = 0;
    for (const auto& by_signal : rejections_) n += by_signal[r].load();
    return n;
  }

  // Checks the request's API key against the route (docs/auth.md). False when it answered 401
  // or 403; otherwise *key_project is the project the key is limited to ("" for none).
  bool Authorize(const HttpRequest& req, auth::RouteClass route, HttpResponse* res,
                 std::string* key_project, bool* admin = nullptr) {
    // OTLP answers in the request's own format; every other route in JSON.
    std::string lowered;
    const std::string_view media = MediaType(req.Header("content-type"), &lowered);
    const bool proto = route == auth::RouteClass::kIngest &&
                       (media == "application/x-protobuf" || media == "application/protobuf");
    auto deny = [&](int http_status, const std::string& message, bool unauthenticated) {
      ++(unauthenticated ? auth_unauthenticated_ : auth_forbidden_);
      if (unauthenticated) {
        res->headers.emplace_back("WWW-Authenticate", "Bearer realm=\"otlake\"");
      }
      if (route == auth::RouteClass::kIngest) {
        Error(res, proto ? Format::kProtobuf : Format::kJson, http_status,
              unauthenticated ? kUnauthenticated : kPermissionDenied, message);
      } else {
        res->status = http_status;
        res->content_type = "application/json";
        res->body = "{\"error\":" + JsonEscape(message) + ",\"status\":" + std::to_string(http_status) + "}";
        Count(http_status);
      }
      OTLAKE_LOG(DEBUG) << http_status << " " << req.method << " " << req.path << " from " << req.peer << ": " << message;
      return false;
    };
    // A key in the URL would end up in proxy and access logs: never accepted there.
    if (LooksLikeKeyInQuery(req.query)) {
      return deny(401, "API keys are not accepted in the URL; send 'Authorization: Bearer <key>'", true);
    }
    auth::AuthResult a;
    if (options_.keys != nullptr) {
      a = options_.keys->Authenticate(req.Header("authorization"));
    } else {
      a.failure = auth::AuthFailure::kInvalid;
      a.message = "no API keys are configured on this server";
    }
    if (!a.ok()) return deny(401, a.message, true);
    std::string project;
    if (archive::IsReplayPath(req.path)) {
      project = archive::ReplayRequestProject(req, a.principal.project, auth::kAllProjects);
    } else if (route == auth::RouteClass::kIngest) {
      if (!IngestProject(req, &project)) project = a.principal.project.empty() ? "default" : a.principal.project;
    } else if (route == auth::RouteClass::kRead) {
      project = req.path == "/metrics" ? std::string(auth::kAllProjects)
                                       : ApiRequestProject(req, a.principal.project);
    }
    const auth::Decision d = auth::Authorize(options_.auth_mode, route, &a.principal, project);
    if (!d.ok()) return deny(d.outcome == auth::Outcome::kNeedKey ? 401 : 403, d.message,
                             d.outcome == auth::Outcome::kNeedKey);
    *key_project = a.principal.project;
    if (admin != nullptr) *admin = a.principal.scope == auth::Scope::kAdmin;
    return true;
  }

  void HandleExport(otlp::Signal signal, HttpRequest& req, HttpResponse* res, const std::string& key_project) {
    SignalStats& stats = signals_[static_cast<int>(signal)];
    ++stats.requests;
    std::string lowered;
    std::string_view media = MediaType(req.Header("content-type"), &lowered);
    Format format;
    if (media == "application/x-protobuf" || media == "application/protobuf") {
      format = Format::kProtobuf;
    } else if (media == "application/json") {
      format = Format::kJson;
    } else {
      return Reject(res, signal, Format::kJson, kRejectUnsupported, 415, kInvalidArgument,
                    "unsupported Content-Type '" + std::string(req.Header("content-type")) +
                        "': use application/x-protobuf or application/json");
    }
    if (req.body_too_large) {
      return Reject(res, signal, format, kRejectBodyTooLarge, 413, kResourceExhausted,
                    "request body exceeds the limit (max_body_bytes)");
    }
    if (req.over_budget) return OverBudget(res, signal, format, "reading the body");
    body_hist_[static_cast<int>(signal)]->Observe(static_cast<int64_t>(req.body.size()));
    // Project id: our header, Depths' two headers, then ?project_id=, else the key's project
    // (Authorize refused any other), else "default".
    std::string project = key_project.empty() ? "default" : key_project;
    (void)IngestProject(req, &project);
    if (!IsValidProjectId(project)) {
      return Reject(res, signal, format, kRejectInvalid, 400, kInvalidArgument,
                    "invalid project id '" + project.substr(0, 160) +
                        "': use 1-128 characters of A-Z a-z 0-9 . _ -");
    }
    std::string reason;
    if (!ingestor_->Ok(&reason)) return StorageFailing(res, signal, format, reason);

    const int64_t decode_start = SteadyNs();
    std::string body;
    const std::string_view encoding = req.Header("content-encoding");
    if (server::IsIdentityEncoding(encoding)) {
      // No copy: the body read is the body (its reservation stays the same).
      if (static_cast<int64_t>(req.body.size()) > options_.max_decompressed_bytes) {
        return Reject(res, signal, format, kRejectDecompressedTooLarge, 413, kResourceExhausted,
                      "decompressed body exceeds the limit of " +
                          std::to_string(options_.max_decompressed_bytes) + " bytes");
      }
      body.swap(req.body);
    } else {
      const int64_t raw_reserved = req.memory.bytes();
      Status st = server::Decompress(encoding, req.body, options_.max_decompressed_bytes, &body,
                                     &req.memory);
      if (!st.ok()) {
        if (st.IsOutOfMemory()) return OverBudget(res, signal, format, "decompressing the body");
        if (st.IsCapacityError()) {
          return Reject(res, signal, format, kRejectDecompressedTooLarge, 413, kResourceExhausted,
                        st.message());
        }
        if (st.IsNotImplemented()) {
          return Reject(res, signal, format, kRejectUnsupported, 415, kInvalidArgument, st.message());
        }
        return Reject(res, signal, format, kRejectInvalid, 400, kInvalidArgument, st.message());
      }
      std::string().swap(req.body);
      req.memory.Release(raw_reserved);  // the compressed body is gone
    }
    // The WAL record is a copy of the body (wal/ queues it until it is synced).
    if (!req.memory.Grow(static_cast<int64_t>(body.size()))) {
      return OverBudget(res, signal, format, "copying the body into the write-ahead log");
    }
    Status st;
    otlp::DecodeOptions opts;
    opts.project_id = project;
    opts.now_unix_nano = NowUnixNanos();
    opts.max_nesting_depth = options_.max_nesting_depth;
    otlp::DecodeResult decoded;
    st = format == Format::kProtobuf ? otlp::DecodeProtobuf(signal, body, opts, &decoded)
                                     : otlp::DecodeJson(signal, body, opts, &decoded);
    if (!st.ok()) {
      std::string msg = st.message();
      return Reject(res, signal, format, kRejectInvalid, 400, kInvalidArgument,
                    std::string("invalid OTLP ") + (format == Format::kJson ? "JSON" : "protobuf") +
                        " " + std::string(otlp::SignalName(signal)) + " request: " + msg);
    }
    ingest::Record record;
    record.signal = signal;
    record.format = format == Format::kProtobuf ? ingest::BodyFormat::kProtobuf : ingest::BodyFormat::kJson;
    record.arrival_unix_nano = opts.now_unix_nano;
    record.project_id = project;
    record.body = body;
    const int64_t decode_ns = SteadyNs() - decode_start;
    ingest::Ingestor::Timing timing;
    Result<int64_t> lsn = ingestor_->Submit(record, &decoded, &timing);
    if (!lsn.ok()) return NotLogged(res, signal, format, lsn.status());
    signals_[static_cast<int>(signal)].duplicate_attr_keys += decoded.duplicate_attr_keys;
    // Acknowledged once the WAL record is durable. The request is parked meanwhile (the HTTP
    // thread serves other connections) and finished when the WAL's sync thread wakes it.
    auto ack = std::make_shared<PendingAck>();
    ack->signal = signal;
    ack->format = format;
    ack->accepted = decoded.accepted;
    ack->rejected = decoded.rejected;
    if (decoded.rejected > 0) {
      ack->message = decoded.ErrorMessage(signal);  // before the reasons move out
      ack->reasons = std::move(decoded.reasons);
    }
    ack->phases = {req.body_read_ns, decode_ns, timing.buffer_ns, 0, 0};
    ack->header_read_ns = req.header_read_ns;
    ack->logged_ns = SteadyNs();
    if (*lsn == 0) return FinishExport(*ack, res);  // no rows to keep: nothing to wait for
    res->wait = [this, lsn = *lsn, ack](std::function<void()> wake) {
      ingestor_->WhenDurable(lsn, [ack, wake = std::move(wake)](Status st) {
        ack->status = std::move(st);
        wake();
      });
    };
    res->finish = [this, ack](HttpResponse* r) { FinishExport(*ack, r); };
  }

  // What a logged request needs once its WAL record is durable (or not): its answer.
  struct PendingAck {
    otlp::Signal signal;
    Format format;
    int64_t accepted = 0, rejected = 0;
    std::map<std::string, int64_t> reasons;
    std::string message;  // partialSuccess error message when rejected > 0
    std::array<int64_t, kNumPhases> phases{};
    int64_t header_read_ns = 0, logged_ns = 0;
    Status status;  // the WAL's answer
  };

  // A request the ingestor refused to log (nothing of it is kept).
  void NotLogged(HttpResponse* res, otlp::Signal signal, Format format, const Status& st) {
    if (st.IsCapacityError()) {
      return Reject(res, signal, format, kRejectMemory, 429, kResourceExhausted, st.message(),
                    {{"Retry-After", "1"}});
    }
    std::string reason;
    if (ingestor_->Ok(&reason)) {  // not a storage failure: the pipeline is stopping
      return Reject(res, signal, format, kRejectStopping, 503, kUnavailable,
                    "otlake is stopping, retry later: " + st.message(), {{"Retry-After", "5"}});
    }
    StorageFailing(res, signal, format, reason);
  }

  void FinishExport(PendingAck& ack, HttpResponse* res) {
    const Format format = ack.format;
    const otlp::Signal signal = ack.signal;
    if (!ack.status.ok()) return NotLogged(res, signal, format, ack.status);
    if (ack.header_read_ns > 0) {
      const int64_t now = SteadyNs();
      ack.phases[kPhaseWalSync] = now - ack.logged_ns;
      ack.phases[kPhaseTotal] = now - ack.header_read_ns;
      latency_.Add(ack.phases);
      for (int p = 0; p < kNumPhases; ++p) ack_hist_[p]->Observe(ack.phases[p]);
    }
    SignalStats& stats = signals_[static_cast<int>(ack.signal)];
    stats.accepted += ack.accepted;
    if (ack.rejected > 0) {
      stats.rejected += ack.rejected;
      std::lock_guard lk(stats.mu);
      for (const auto& [r, n] : ack.reasons) stats.reasons[r] += n;
    }
    res->status = 200;
    if (format == Format::kProtobuf) {
      res->content_type = "application/x-protobuf";
      if (ack.rejected > 0) {
        // Export*ServiceResponse { partial_success = 1 { rejected = 1; error_message = 2 } }
        otlp::ProtoWriter partial;
        partial.Int64(1, ack.rejected);
        partial.String(2, ack.message);
        otlp::ProtoWriter response;
        response.Bytes(1, partial.data());
        res->body = response.data();
      }
    } else {
      res->content_type = "application/json";
      if (ack.rejected > 0) {
        res->body = std::string("{\"partialSuccess\":{\"") + RejectedField(ack.signal) +
                    "\":" + std::to_string(ack.rejected) +
                    ",\"errorMessage\":" + JsonEscape(ack.message) + "}}";
      } else {
        res->body = "{}";
      }
    }
    Count(200);
  }

  // An ingest request not acknowledged: counted under `why` in /healthz "rejections".
  void Reject(HttpResponse* res, otlp::Signal signal, Format format, Rejection why, int http_status, int grpc_code,
              const std::string& message,
              std::initializer_list<std::pair<const char*, const char*>> headers = {}) {
    ++rejections_[static_cast<int>(signal)][why];
    Error(res, format, http_status, grpc_code, message, headers);
  }

  void OverBudget(HttpResponse* res, otlp::Signal signal, Format format, const char* where) {
    Reject(res, signal, format, kRejectMemory, 429, kResourceExhausted,
           "the memory budget is full (" + std::to_string(memory_.reserved()) +
               " bytes of requests + " + std::to_string(pipeline_->BufferedBytes()) +
               " bytes buffered, limit " + std::to_string(memory_.limit()) + ") while " + where +
               "; retry later",
           {{"Retry-After", "1"}});
  }

  void StorageFailing(HttpResponse* res, otlp::Signal signal, Format format, const std::string& reason) {
    Reject(res, signal, format, ingestor_->WalFailing(nullptr) ? kRejectWal : kRejectTables, 503,
           kUnavailable, "storage is failing, retry later: " + reason, {{"Retry-After", "5"}});
  }

  void Error(HttpResponse* res, Format format, int http_status, int grpc_code,
             const std::string& message,
             std::initializer_list<std::pair<const char*, const char*>> headers = {}) {
    res->status = http_status;
    for (const auto& [k, v] : headers) res->headers.emplace_back(k, v);
    if (format == Format::kProtobuf) {
      res->content_type = "application/x-protobuf";
      otlp::ProtoWriter status;  // google.rpc.Status { code = 1; message = 2 }
      status.Varint(1, static_cast<uint64_t>(grpc_code));
      status.String(2, message);
      res->body = status.data();
    } else {
      res->content_type = "application/json";
      res->body = "{\"code\":" + std::to_string(grpc_code) + ",\"message\":" + JsonEscape(message) + "}";
    }
    Count(http_status);
    if (http_status >= 500 || http_status == 429) {
      OTLAKE_LOG(WARN) << http_status << " " << message;
    } else {
      OTLAKE_LOG(DEBUG) << http_status << " " << message;
    }
  }

  void Count(int status) {
    std::lock_guard lk(status_mu_);
    ++status_counts_[status];
  }

  ReceiverOptions options_;
  ingest::Ingestor* ingestor_;  // not owned; outlives this
  query::QueryEngine* engine_;  // not owned; may be null
  std::unique_ptr<LogTail> tail_;  // GET /api/logs/tail (log_tail.h); null without engine_
  buffer::Pipeline* pipeline_;  // the ingestor's
  server::MemoryBudget memory_;
  std::array<std::array<std::atomic<int64_t>, kNumRejections>, 3> rejections_{};  // by signal
  // /metrics histograms: ack latency by phase (ns), body bytes as received by signal.
  std::array<std::unique_ptr<metrics::Histogram>, kNumPhases> ack_hist_;
  std::array<std::unique_ptr<metrics::Histogram>, 3> body_hist_;
  std::atomic<int64_t> auth_unauthenticated_{0}, auth_forbidden_{0};  // 401s and 403s
  LatencyRing latency_;
  int64_t started_ms_;
  mutable std::array<SignalStats, 3> signals_;
  mutable std::mutex status_mu_;
  std::map<int, int64_t> status_counts_;  // guarded by status_mu_
};

Receiver::Receiver(ReceiverOptions options, ingest::Ingestor* ingestor, query::QueryEngine* engine)
    : impl_(std::make_unique<Impl>(std::move(options), ingestor, engine)) {}
Receiver::~Receiver() = default;
void Receiver::Handle(HttpRequest& request, HttpResponse* response) { impl_->Handle(request, response); }
bool Receiver::CheckHeader(const HttpRequest& request, HttpResponse* response) {
  return impl_->CheckHeader(request, response);
}
std::string Receiver::HealthJson() const { return impl_->HealthJson(); }
std::string Receiver::MetricsText() const { return impl_->MetricsText(); }
server::MemoryBudget* Receiver::memory_budget() { return impl_->memory_budget(); }

}  // namespace otlake::receiver
