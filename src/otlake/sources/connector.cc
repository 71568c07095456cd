#include "otlake/sources/connector.h"

#include <arrow/filesystem/filesystem.h>
#include <arrow/io/interfaces.h>
#include <arrow/buffer.h>
#include <arrow/util/future.h>
#include <arrow/util/iterator.h>

#include <algorithm>
#include <cstdlib>
#include <set>
#include <chrono>

#include "otlake/archive/object.h"
#include "otlake/common/log.h"
#include "otlake/common/metrics.h"
#include "otlake/common/time_util.h"
#include "otlake/ingest/ingestor.h"
#include "otlake/ingest/record.h"
#include "otlake/otlp/decode.h"
#include "otlake/sources/provider_fs.h"

namespace otlake::sources {
namespace {

// How old (by its mtime) an object must be before a scan records it (see ScanSource).
constexpr int64_t kSettleMs = 2000;

bool Contains(const std::string& s, std::string_view what) { return s.find(what) != std::string::npos; }

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// The listing root for a prefix: the bucket and the prefix up to its last '/'.
std::string ListRoot(const Source& s) {
  const size_t slash = s.prefix.rfind('/');
  std::string dir = slash == std::string::npos ? "" : s.prefix.substr(0, slash);
  while (!dir.empty() && dir.back() == '/') dir.pop_back();
  return dir.empty() ? s.bucket : s.bucket + "/" + dir;
}

// Lists every matching object under the source's prefix, page by page; `each` gets the key, a
// change tag (the object's mtime in ns: arrow::fs reports no ETag) and the size.
Status ListSource(arrow::fs::FileSystem* fs, const Source& s,
                  const std::function<Status(const std::string&, const std::string&, int64_t)>& each) {
  arrow::fs::FileSelector sel;
  sel.base_dir = ListRoot(s);
  sel.recursive = true;
  sel.allow_not_found = true;
  if (s.prefix.empty()) {
    // The bucket itself must exist: a recursive listing of a missing bucket may be empty.
    auto info = fs->GetFileInfo(s.bucket);
    if (!info.ok()) return info.status();
    if (info->type() == arrow::fs::FileType::NotFound) {
      return Status::IOError("NoSuchBucket: ", s.provider == "azure" ? "container '" : "bucket '", s.bucket,
                             "' does not exist");
    }
  }
  arrow::fs::FileInfoGenerator gen = fs->GetFileInfoGenerator(sel);
  for (;;) {
    auto page = gen().result();
    if (!page.ok()) return page.status();
    if (arrow::IsIterationEnd(*page)) break;
    for (const arrow::fs::FileInfo& info : *page) {
      if (info.type() != arrow::fs::FileType::File) continue;
      const std::string& path = info.path();
      if (path.size() <= s.bucket.size() + 1) continue;
      std::string key = path.substr(s.bucket.size() + 1);
      if (key.rfind(s.prefix, 0) != 0 || !MatchesExtension(key, s.file_extensions)) continue;
      const int64_t mtime = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                info.mtime().time_since_epoch())
                                .count();
      OTLAKE_RETURN_NOT_OK(each(key, std::to_string(mtime), info.size()));
    }
  }
  if (!s.prefix.empty()) {
    auto info = fs->GetFileInfo(s.bucket);
    if (info.ok() && info->type() == arrow::fs::FileType::NotFound) {
      return Status::IOError("NoSuchBucket: ", s.provider == "azure" ? "container '" : "bucket '", s.bucket,
                             "' does not exist");
    }
  }
  return Status::OK();
}

// The error with its cause first ("AccessDenied: ...") and what to check.
std::string Describe(const Status& st, const Source& s) {
  std::string msg = st.message();
  // A refused STS AssumeRole leaves the AWS SDK without credentials: its requests then fail
  // with INTERNAL_FAILURE and no message. Name the likely cause instead.
  if (s.provider == "s3" && !s.role_arn.empty() && Contains(msg, "INTERNAL_FAILURE")) {
    return "AccessDenied: could not assume role '" + s.role_arn +
           "' through STS (check the role's trust policy and external_id, and that the caller may "
           "sts:AssumeRole): " + msg;
  }
  const S3Problem p = ClassifyS3Error(msg);
  if (!p.code.empty() && msg.rfind(p.code, 0) != 0) msg = p.code + ": " + msg;
  if (p.code == "AccessDenied") msg += " (the credentials need s3:ListBucket and s3:GetObject on the prefix)";
  if (p.code == "InvalidAccessKeyId") msg += " (check access_key_id)";
  if (p.code == "SignatureDoesNotMatch") msg += " (check secret_access_key)";
  return msg;
}

otlp::Signal SignalFromError(const std::string& msg) {
  if (Contains(msg, "holds resourceLogs") || Contains(msg, "holds resource_logs")) return otlp::Signal::kLogs;
  if (Contains(msg, "holds resourceMetrics") || Contains(msg, "holds resource_metrics")) {
    return otlp::Signal::kMetrics;
  }
  return otlp::Signal::kTraces;
}

// The seed's wording for a wrong id length, followed by otlake's own reasons.
std::string RejectionMessage(const otlp::DecodeResult& d, otlp::Signal signal) {
  std::string msg = d.ErrorMessage(signal);
  for (const auto& [reason, n] : d.reasons) {
    if (reason.rfind("trace_id must be", 0) == 0) return "invalid TraceID length: " + msg;
    if (reason.rfind("span_id must be", 0) == 0 || reason.rfind("parent_span_id must be", 0) == 0) {
      return "invalid SpanID length: " + msg;
    }
  }
  return msg;
}

}  // namespace

S3Problem ClassifyS3Error(const std::string& m) {
  // Arrow spells the AWS codes both ways ("NoSuchBucket", "AWS Error NO_SUCH_BUCKET").
  if (Contains(m, "InvalidAccessKeyId") || Contains(m, "INVALID_ACCESS_KEY_ID")) {
    return {"InvalidAccessKeyId", true};
  }
  if (Contains(m, "SignatureDoesNotMatch") || Contains(m, "SIGNATURE_DOES_NOT_MATCH")) {
    return {"SignatureDoesNotMatch", true};
  }
  if (Contains(m, "NoSuchBucket") || Contains(m, "NO_SUCH_BUCKET")) return {"NoSuchBucket", true};
  if (Contains(m, "AccessDenied") || Contains(m, "ACCESS_DENIED") || Contains(m, "Access Denied") ||
      Contains(m, "Forbidden") || Contains(m, "403")) {
    return {"AccessDenied", true};
  }
  if (Contains(m, "NoSuchKey") || Contains(m, "Path does not exist")) return {"NoSuchKey", true};
  if (Contains(m, "curlCode") || Contains(m, "Couldn't connect") || Contains(m, "Could not connect") ||
      Contains(m, "resolve host") || Contains(m, "NETWORK_CONNECTION") || Contains(m, "Connection refused") ||
      Contains(m, "Timeout") || Contains(m, "timed out")) {
    return {"EndpointUnreachable", false};
  }
  return {"", false};
}

Result<std::vector<FileDocument>> DecodeFileBytes(const std::string& key, std::string_view bytes,
                                                  int64_t max_bytes) {
  archive::ObjectName name;
  std::string_view base = key;
  if (EndsWith(base, ".gz")) {
    name.compression = archive::Compression::kGzip;
    base.remove_suffix(3);
  } else if (EndsWith(base, ".zst")) {
    name.compression = archive::Compression::kZstd;
    base.remove_suffix(4);
  }
  if (EndsWith(base, ".jsonl")) {
    name.marshaler = archive::Marshaler::kJsonLines;
  } else if (EndsWith(base, ".json")) {
    name.marshaler = archive::Marshaler::kOtlpJson;
  } else if (EndsWith(base, ".binpb")) {
    name.marshaler = archive::Marshaler::kOtlpProto;
    const size_t slash = key.rfind('/');
    const std::string file = slash == std::string::npos ? key : key.substr(slash + 1);
    name.signal = Contains(file, "logs")      ? archive::Signal::kLogs
                  : Contains(file, "metrics") ? archive::Signal::kMetrics
                                              : archive::Signal::kTraces;
  } else {
    return Status::Invalid("'", key, "': unsupported file extension");
  }
  archive::ObjectDecodeOptions opts;
  opts.max_decompressed_bytes = max_bytes;
  auto decoded = archive::DecodeObjectBytes(key, name, bytes, opts);
  if (!decoded.ok() && name.marshaler != archive::Marshaler::kOtlpProto &&
      Contains(decoded.status().message(), "but the document holds")) {
    name.signal = static_cast<archive::Signal>(SignalFromError(decoded.status().message()));
    decoded = archive::DecodeObjectBytes(key, name, bytes, opts);
  }
  if (!decoded.ok()) return decoded.status();
  std::vector<FileDocument> out;
  for (auto& d : decoded->documents) {
    FileDocument fd;
    fd.signal = static_cast<int>(name.signal);
    fd.json = d.content_type == archive::kJsonContentType;
    fd.body = std::move(d.body);
    out.push_back(std::move(fd));
  }
  return out;
}

std::string MakeOrigin(int64_t file_id, const std::string& attempt, int64_t doc, int64_t docs) {
  return "sources/" + std::to_string(file_id) + "/" + attempt + "/" + std::to_string(doc) + "/" +
         std::to_string(docs);
}

std::map<int64_t, int64_t> ReconcileOrigins(const std::vector<FileRow>& processing,
                                            const std::vector<std::string>& origins) {
  // (file id, attempt) -> documents found, and how many the object has.
  std::map<std::pair<int64_t, std::string>, std::pair<std::set<int64_t>, int64_t>> found;
  for (const std::string& o : origins) {
    if (o.rfind("sources/", 0) != 0) continue;
    std::vector<std::string> parts;
    size_t pos = 8;
    while (true) {
      const size_t slash = o.find('/', pos);
      parts.push_back(o.substr(pos, slash == std::string::npos ? std::string::npos : slash - pos));
      if (slash == std::string::npos) break;
      pos = slash + 1;
    }
    if (parts.size() != 4) continue;
    try {
      auto& e = found[{std::stoll(parts[0]), parts[1]}];
      e.first.insert(std::stoll(parts[2]));
      e.second = std::stoll(parts[3]);
    } catch (...) {
      continue;  // not ours
    }
  }
  std::map<int64_t, int64_t> out;
  for (const FileRow& f : processing) {
    int64_t k = f.resume_doc;
    auto it = found.find({f.id, f.attempt});
    if (it != found.end()) {
      while (it->second.first.count(k)) ++k;
      if (k >= it->second.second) {
        out[f.id] = -1;
        continue;
      }
    }
    out[f.id] = k;
  }
  return out;
}

Service::Service(ServiceOptions options) : options_(std::move(options)) {}

Result<std::unique_ptr<Service>> Service::Start(ServiceOptions options) {
  const std::string configs = options.instance_root + "/configs";
  OTLAKE_ASSIGN_OR_RAISE(SecretBox box, SecretBox::OpenKeyFile(configs + "/sources.key"));
  if (const char* d = std::getenv("OTLAKE_SOURCES_TEST_COMPLETE_DELAY_MS")) {
    options.complete_delay_ms = std::atoll(d);
  }
  std::unique_ptr<Service> s(new Service(std::move(options)));
  OTLAKE_ASSIGN_OR_RAISE(s->store_, SourceStore::Open(configs + "/sources.sqlite", std::move(box)));
  // Files left processing by a crash: what of them reached the WAL decides (exactly once).
  OTLAKE_ASSIGN_OR_RAISE(std::vector<FileRow> processing, s->store_->ListProcessing());
  std::map<int64_t, int64_t> resume;
  for (const auto& [id, k] : ReconcileOrigins(processing, s->options_.recovered_origins)) {
    if (k < 0) {
      OTLAKE_RETURN_NOT_OK(s->store_->CompleteRecovered(id, NowUnixMillis()));
      OTLAKE_LOG(INFO) << "sources: file " << id << " was fully in the WAL when otlake stopped: completed";
    } else {
      resume[id] = k;
    }
  }
  OTLAKE_ASSIGN_OR_RAISE(int64_t reset, s->store_->ResetProcessing(resume));
  if (reset > 0) {
    OTLAKE_LOG(WARN) << "sources: " << reset << " file(s) were being processed when otlake stopped; "
                     << "resuming them after the documents already in the WAL";
  }
  std::vector<std::string>().swap(s->options_.recovered_origins);
  if (s->options_.ingestor != nullptr) {
    s->scheduler_ = std::thread([p = s.get()] { p->SchedulerLoop(); });
    for (int i = 0; i < std::max(1, s->options_.workers); ++i) {
      s->workers_.emplace_back([p = s.get()] { p->WorkerLoop(); });
    }
  }
  return s;
}

Service::~Service() { Stop(); }

void Service::Stop() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (scheduler_.joinable()) scheduler_.join();
  for (auto& t : workers_) {
    if (t.joinable()) t.join();
  }
  workers_.clear();
  std::lock_guard lk(mu_);
  fs_cache_.clear();
}

void Service::Wake() {
  {
    std::lock_guard lk(mu_);
    scan_now_ = true;
    ++wake_seq_;
  }
  cv_.notify_all();
}

SourceCounters& Service::CountersFor(const std::string& source_id) {
  std::lock_guard lk(mu_);
  auto& c = counters_[source_id];
  if (!c) c = std::make_unique<SourceCounters>();
  return *c;
}

namespace {
int64_t Load(const std::atomic<int64_t>& a) { return a.load(std::memory_order_relaxed); }
}  // namespace

std::string Service::HealthJson() {
  auto sources = store_->ListSources();
  if (!sources.ok()) return "{\"error\":" + JsonQuote(sources.status().message()) + "}";
  auto backlog = store_->Backlog();
  std::string out = "{";
  bool first = true;
  for (const Source& s : *sources) {
    const ScanState scan = scan_state(s.id);
    SourceCounters& c = CountersFor(s.id);
    std::pair<int64_t, int64_t> b{0, 0};
    if (backlog.ok() && backlog->count(s.id)) b = backlog->at(s.id);
    out += (first ? "" : ",") + JsonQuote(s.name) + ":{\"id\":" + JsonQuote(s.id) +
           ",\"provider\":" + JsonQuote(s.provider) + ",\"ok\":" + (scan.error.empty() ? "true" : "false") +
           ",\"last_scan_at\":" + (scan.last_scan_ms > 0 ? JsonQuote(IsoSeconds(scan.last_scan_ms)) : "null") +
           ",\"last_scan_duration_ms\":" + std::to_string(scan.last_scan_duration_ms) +
           ",\"last_scan_error\":" + (scan.error.empty() ? "null" : JsonQuote(scan.error)) +
           ",\"objects_listed\":" + std::to_string(scan.files_seen) + ",\"scans\":" + std::to_string(Load(c.scans)) +
           ",\"scan_errors\":" + std::to_string(Load(c.scan_errors)) +
           ",\"files_discovered\":" + std::to_string(Load(c.discovered)) +
           ",\"files_completed\":" + std::to_string(Load(c.completed)) +
           ",\"files_failed\":" + std::to_string(Load(c.failed)) +
           ",\"files_retried\":" + std::to_string(Load(c.retried)) + ",\"bytes\":" + std::to_string(Load(c.bytes)) +
           ",\"records_ingested\":" + std::to_string(Load(c.records)) + ",\"pending\":" + std::to_string(b.first) +
           ",\"processing\":" + std::to_string(b.second) + "}";
    first = false;
  }
  return out + "}";
}

void Service::WriteMetrics(metrics::PromWriter* w) {
  auto sources = store_->ListSources();
  if (!sources.ok()) return;
  auto backlog = store_->Backlog();
  struct Row {
    const Source* s;
    ScanState scan;
    SourceCounters* c;
    std::pair<int64_t, int64_t> backlog;
  };
  std::vector<Row> rows;
  for (const Source& s : *sources) {
    Row r{&s, scan_state(s.id), &CountersFor(s.id), {0, 0}};
    if (backlog.ok() && backlog->count(s.id)) r.backlog = backlog->at(s.id);
    rows.push_back(r);
  }
  auto counter = [&](const char* name, const char* help, std::atomic<int64_t> SourceCounters::*field) {
    w->Family(name, "counter", help);
    for (const Row& r : rows) w->Sample(name, {{"source_id", r.s->id}, {"source", r.s->name}}, Load(r.c->*field));
  };
  counter("otlake_source_files_discovered_total", "Objects a scan found new or changed (became pending).",
          &SourceCounters::discovered);
  counter("otlake_source_files_completed_total", "Files ingested completely.", &SourceCounters::completed);
  counter("otlake_source_files_failed_total", "Files that failed (permanent error or retries exhausted).",
          &SourceCounters::failed);
  counter("otlake_source_files_retried_total", "Transient errors that sent a file back to pending.",
          &SourceCounters::retried);
  counter("otlake_source_bytes_total", "Object bytes downloaded.", &SourceCounters::bytes);
  counter("otlake_source_records_ingested_total", "Spans, log records and data points ingested from files.",
          &SourceCounters::records);
  counter("otlake_source_scans_total", "Listings of the source's prefix.", &SourceCounters::scans);
  counter("otlake_source_scan_errors_total", "Listings that failed (bucket missing, credentials, endpoint).",
          &SourceCounters::scan_errors);
  w->Family("otlake_source_scan_seconds_total", "counter", "Time spent listing the source's prefix.");
  for (const Row& r : rows) {
    w->Sample("otlake_source_scan_seconds_total", {{"source_id", r.s->id}, {"source", r.s->name}},
              Load(r.c->scan_ms_total) / 1000.0);
  }
  auto gauge = [&](const char* name, const char* help, auto value) {
    w->Family(name, "gauge", help);
    for (const Row& r : rows) w->Sample(name, {{"source_id", r.s->id}, {"source", r.s->name}}, value(r));
  };
  gauge("otlake_source_last_scan_duration_seconds", "Duration of the last listing.",
        [](const Row& r) { return r.scan.last_scan_duration_ms / 1000.0; });
  gauge("otlake_source_last_scan_timestamp_seconds", "Unix time the last listing ended (0: none yet).",
        [](const Row& r) { return r.scan.last_scan_ms / 1000.0; });
  gauge("otlake_source_up", "1 if the last listing worked (or none ran yet), 0 if it failed.",
        [](const Row& r) { return static_cast<int64_t>(r.scan.error.empty() ? 1 : 0); });
  gauge("otlake_source_files_pending", "Files waiting to be processed (the backlog).",
        [](const Row& r) { return r.backlog.first; });
  gauge("otlake_source_files_processing", "Files being processed.", [](const Row& r) { return r.backlog.second; });
}

ScanState Service::scan_state(const std::string& source_id) {
  std::lock_guard lk(mu_);
  auto it = scans_.find(source_id);
  return it == scans_.end() ? ScanState{} : it->second;
}

Result<std::shared_ptr<arrow::fs::FileSystem>> Service::FileSystemFor(const Source& s) {
  {
    std::lock_guard lk(mu_);
    auto it = fs_cache_.find(s.id);
    if (it != fs_cache_.end() && it->second.updated_at_ms == s.updated_at_ms) return it->second.fs;
  }
  OTLAKE_ASSIGN_OR_RAISE(auto fs, MakeSourceFileSystem(s));
  std::lock_guard lk(mu_);
  fs_cache_[s.id] = {s.updated_at_ms, fs};
  return fs;
}

TestResult Service::Test(const Source& source) {
  TestResult r;
  auto fs = FileSystemFor(source);
  if (!fs.ok()) {
    r.message = "cannot use the configured " + source.provider + " settings: " + fs.status().message();
    return r;
  }
  Status st = ListSource(fs->get(), source, [&](const std::string&, const std::string&, int64_t) {
    ++r.files_found;
    return Status::OK();
  });
  if (!st.ok()) {
    std::string msg = Describe(st, source);
    if (ClassifyS3Error(msg).code == "EndpointUnreachable") {
      msg += " (check endpoint_url '" + (source.endpoint_url.empty() ? "the " + source.provider + " default" : source.endpoint_url) +
             "' and the network)";
    }
    r.message = msg;
    r.files_found = 0;
    return r;
  }
  r.ok = true;
  return r;
}

Status Service::ScanSource(const Source& source, int64_t* seen, bool* unsettled) {
  OTLAKE_ASSIGN_OR_RAISE(auto fs, FileSystemFor(source));
  const int64_t now = NowUnixMillis();
  SourceCounters& counters = CountersFor(source.id);
  // Recorded a page at a time (one SQLite transaction each); workers are woken per page.
  std::vector<SourceStore::Observed> batch;
  auto flush = [&]() -> Status {
    if (batch.empty()) return Status::OK();
    OTLAKE_ASSIGN_OR_RAISE(int64_t fresh, store_->ObserveMany(source.id, batch, now));
    batch.clear();
    counters.discovered.fetch_add(fresh, std::memory_order_relaxed);
    if (fresh > 0) {  // wake idle workers now (they wait for wake_seq_ to move)
      {
        std::lock_guard g(mu_);
        ++wake_seq_;
      }
      cv_.notify_all();
    }
    return Status::OK();
  };
  OTLAKE_RETURN_NOT_OK(ListSource(fs.get(), source, [&](const std::string& key, const std::string& tag, int64_t size) {
    ++*seen;
    // The change tag is the mtime (+ size): S3 and Azure report it to the second, so an object
    // rewritten with the same size within the second it was first listed in would look
    // unchanged. An object modified less than kSettleMs ago is left for a scan after it has
    // settled (soon: the scheduler comes back in kSettleMs); any later rewrite has a later mtime.
    if (std::atoll(tag.c_str()) / 1000000 > now - kSettleMs) {
      *unsettled = true;
      return Status::OK();
    }
    batch.push_back({key, tag, size});
    return batch.size() >= 1000 ? flush() : Status::OK();
  }));
  return flush();
}

void Service::SchedulerLoop() {
  std::unique_lock lk(mu_);
  while (!stop_) {
    const bool forced = scan_now_;
    scan_now_ = false;
    lk.unlock();
    auto sources = store_->ListSources();
    int64_t next_wake = NowUnixMillis() + 1000;
    if (!sources.ok()) {
      OTLAKE_LOG(WARN) << "sources: " << sources.status().message();
    } else {
      for (const Source& s : *sources) {
        const int64_t now = NowUnixMillis();
        int64_t due;
        {
          std::lock_guard g(mu_);
          if (stop_) break;
          due = next_scan_ms_.count(s.id) ? next_scan_ms_[s.id] : 0;
          if (forced) due = 0;
        }
        if (now < due) continue;
        int64_t seen = 0;
        bool unsettled = false;
        const int64_t scan_start = NowUnixMillis();
        Status st = ScanSource(s, &seen, &unsettled);
        const int64_t scan_ms = NowUnixMillis() - scan_start;
        SourceCounters& counters = CountersFor(s.id);
        counters.scans.fetch_add(1, std::memory_order_relaxed);
        counters.scan_ms_total.fetch_add(scan_ms, std::memory_order_relaxed);
        if (!st.ok()) counters.scan_errors.fetch_add(1, std::memory_order_relaxed);
        std::lock_guard g(mu_);
        next_scan_ms_[s.id] = NowUnixMillis() + (unsettled ? kSettleMs + 100 : s.scan_interval_seconds * 1000);
        ScanState& state = scans_[s.id];
        const std::string was = state.error;
        state.last_scan_ms = NowUnixMillis();
        state.last_scan_duration_ms = scan_ms;
        state.files_seen = seen;
        state.error = st.ok() ? "" : Describe(st, s);
        if (!st.ok() && state.error != was) {
          OTLAKE_LOG(WARN) << "sources: cannot list source '" << s.name << "' (s3://" << s.bucket << "/"
                           << s.prefix << "): " << state.error;
        } else if (st.ok() && !was.empty()) {
          OTLAKE_LOG(INFO) << "sources: source '" << s.name << "' can be listed again";
        }
      }
    }
    lk.lock();
    if (stop_) break;
    if (!scan_now_) {
      cv_.wait_for(lk, std::chrono::milliseconds(std::max<int64_t>(10, next_wake - NowUnixMillis())),
                   [this] { return stop_ || scan_now_; });
    }
  }
}

void Service::WorkerLoop() {
  for (;;) {
    uint64_t seq;
    {
      std::lock_guard lk(mu_);
      if (stop_) return;
      seq = wake_seq_;
    }
    auto claimed = store_->ClaimNext(NowUnixMillis());
    if (claimed.ok() && claimed->has_value()) {
      ProcessFile(**claimed);
      continue;
    }
    if (!claimed.ok()) OTLAKE_LOG(WARN) << "sources: " << claimed.status().message();
    std::unique_lock lk(mu_);
    cv_.wait_for(lk, std::chrono::milliseconds(500), [&] { return stop_ || wake_seq_ != seq; });
  }
}

void Service::ProcessFile(const FileRow& file) {
  const int64_t now = NowUnixMillis();
  auto source = store_->GetSource(file.source_id);
  if (!source.ok()) return;  // deleted meanwhile (its files went with it)
  const Source& s = *source;
  SourceCounters& counters = CountersFor(s.id);
  auto counted = [&](const Result<std::string>& r) {
    if (r.ok()) (*r == "failed" ? counters.failed : counters.retried).fetch_add(1, std::memory_order_relaxed);
  };
  auto transient = [&](const std::string& msg) {
    const int64_t backoff = std::min<int64_t>(60000, options_.retry_base_ms << std::min<int64_t>(file.retries, 5));
    auto r = store_->Transient(file.id, msg, NowUnixMillis(), backoff);
    counted(r);
    OTLAKE_LOG(INFO) << "sources: '" << file.s3_key << "' of source '" << s.name << "': " << msg << " -> "
                     << (r.ok() ? *r : r.status().message());
  };
  auto permanent = [&](const std::string& msg) {
    if (store_->Fail(file.id, msg, NowUnixMillis()).ok()) counters.failed.fetch_add(1, std::memory_order_relaxed);
    OTLAKE_LOG(INFO) << "sources: '" << file.s3_key << "' of source '" << s.name << "' failed: " << msg;
  };
  // The source is listed again within a second (the scheduler looks every second), not after
  // its scan interval: for an object that changed since it was listed.
  auto rescan_soon = [&] {
    std::lock_guard g(mu_);
    next_scan_ms_[s.id] = 0;
  };
  // Download.
  std::string bytes;
  {
    auto fs = FileSystemFor(s);
    if (!fs.ok()) return permanent("cannot use the source's " + s.provider + " settings: " + fs.status().message());
    if (file.size > options_.max_object_bytes) {
      return permanent("object is " + std::to_string(file.size) + " bytes, over the limit of " +
                       std::to_string(options_.max_object_bytes));
    }
    // One GET per object, no HEAD: the object is read with the size the listing gave plus one
    // byte into a zeroed buffer. The filesystems report the bytes asked for, not the bytes that
    // came, so the extra byte is the check: still zero, the object is (as far as a read can
    // tell) the one listed; set, it grew since. One that shrank leaves zeros at its end, which
    // no OTLP document or compressed stream ends in: its decode fails. Either way the source is
    // scanned again at once, and the new tag queues the new version.
    Status st;
    if (file.size > 0) {
      arrow::fs::FileInfo info(s.bucket + "/" + file.s3_key, arrow::fs::FileType::File);
      info.set_size(file.size + 1);
      auto in = (*fs)->OpenInputFile(info);
      st = in.status();
      if (st.ok()) {
        bytes.assign(static_cast<size_t>(file.size) + 1, '\0');
        auto got = (*in)->ReadAt(0, file.size + 1, bytes.data());
        st = got.status();
        if (st.ok() && *got <= file.size) bytes.resize(static_cast<size_t>(*got));
      }
    }
    if (!st.ok()) {
      const std::string msg = Describe(st, s);
      return ClassifyS3Error(msg).permanent ? permanent(msg) : transient(msg);
    }
    if (bytes.size() > static_cast<size_t>(file.size)) {
      if (bytes.back() != '\0') {
        // Tried again after that scan has tagged the new version (or, if the object is still
        // settling, after the one following it).
        rescan_soon();
        OTLAKE_LOG(INFO) << "sources: '" << file.s3_key << "' of source '" << s.name << "' grew since it was listed ("
                         << file.size << " bytes listed): left for the next scan";
        (void)store_->Requeue(file.id, NowUnixMillis() + 3 * kSettleMs);
        return;
      }
      bytes.pop_back();
    }
    counters.bytes.fetch_add(static_cast<int64_t>(bytes.size()), std::memory_order_relaxed);
  }
  // A read ending in a zero byte that does not decode may be an object that shrank since it was
  // listed (see above): the source is scanned again now, so a new version is queued at once.
  auto undecodable = [&](const std::string& msg) {
    if (!bytes.empty() && bytes.back() == '\0') rescan_soon();
    permanent(msg);
  };
  // Decode everything first: an object is ingested whole or not at all.
  auto docs = DecodeFileBytes(file.s3_key, bytes, options_.max_object_bytes);
  if (!docs.ok()) return undecodable("malformed file: " + docs.status().message());
  struct Decoded {
    otlp::Signal signal;
    const FileDocument* doc;
    otlp::DecodeResult result;
  };
  std::vector<Decoded> decoded;
  decoded.reserve(docs->size());
  const int64_t arrival = NowUnixNanos();
  otlp::DecodeOptions opts;
  opts.project_id = s.project();
  opts.now_unix_nano = arrival;
  opts.max_nesting_depth = options_.max_nesting_depth;
  int64_t records = 0;
  for (const FileDocument& d : *docs) {
    Decoded out;
    out.signal = static_cast<otlp::Signal>(d.signal);
    out.doc = &d;
    Status st = d.json ? otlp::DecodeJson(out.signal, d.body, opts, &out.result)
                       : otlp::DecodeProtobuf(out.signal, d.body, opts, &out.result);
    if (!st.ok()) {
      return undecodable(std::string("malformed OTLP ") + (d.json ? "JSON" : "protobuf") + ": " + st.message());
    }
    if (out.result.rejected > 0) return permanent(RejectionMessage(out.result, out.signal));
    records += out.result.accepted;
    // A document without records writes no WAL record: leave it out of the numbering.
    if (out.result.accepted > 0) decoded.push_back(std::move(out));
  }
  Status st = store_->BeginIngest(file.id, records);
  if (!st.ok()) return transient(st.message());
  // Ingest: the same path as OTLP/HTTP (WAL fsync before it counts). Each record names the
  // object and document (origin), so recovery knows which made it (exactly once).
  const int64_t n = static_cast<int64_t>(decoded.size());
  // Until the completion (or the resume point) is recorded, the WAL keeps the segments holding
  // this object's records, so a crash in between always finds them at recovery.
  struct Hold {
    ingest::Ingestor* in;
    int64_t id;
    ~Hold() { in->ReleaseSegments(id); }
  } hold{options_.ingestor, options_.ingestor->HoldSegments()};
  for (int64_t i = file.resume_doc; i < n; ++i) {
    Decoded& d = decoded[i];
    const std::string origin = MakeOrigin(file.id, file.attempt, i, n);
    ingest::Record record;
    record.signal = d.signal;
    record.format = d.doc->json ? ingest::BodyFormat::kJson : ingest::BodyFormat::kProtobuf;
    record.arrival_unix_nano = arrival;
    record.project_id = s.project();
    record.body = d.doc->body;
    record.origin = origin;
    st = options_.ingestor->Ingest(record, &d.result);
    // Backpressure (the memory bound; nothing was logged and the decoded rows are intact): wait
    // here for room, up to 30 s, rather than give the object back and download and decode it
    // again.
    for (int waits = 0; st.IsCapacityError() && waits < 300; ++waits) {
      {
        std::unique_lock lk(mu_);
        if (cv_.wait_for(lk, std::chrono::milliseconds(100), [this] { return stop_; })) break;
      }
      st = options_.ingestor->Ingest(record, &d.result);
    }
    if (!st.ok()) {
      // Documents before i are durable: the next attempt resumes at i.
      const bool backpressure = st.IsCapacityError();  // wait; not counted as a retry
      const int64_t backoff = backpressure ? 1000
                                           : std::min<int64_t>(60000, options_.retry_base_ms
                                                                          << std::min<int64_t>(file.retries, 5));
      auto r = store_->Resume(file.id, i, "ingest failed: " + st.message(), NowUnixMillis(), backoff,
                              !backpressure);
      if (!backpressure) counted(r);
      OTLAKE_LOG(INFO) << "sources: '" << file.s3_key << "': ingest failed after " << i << " of " << n
                       << " documents: " << st.message() << " -> " << (r.ok() ? *r : r.status().message());
      return;
    }
  }
  if (options_.complete_delay_ms > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(options_.complete_delay_ms));
  }
  st = store_->Complete(file.id, records, NowUnixMillis());
  if (!st.ok()) {
    OTLAKE_LOG(ERROR) << "sources: " << st.message();
  } else {
    counters.completed.fetch_add(1, std::memory_order_relaxed);
    counters.records.fetch_add(records, std::memory_order_relaxed);
  }
  (void)now;
}

}  // namespace otlake::sources
