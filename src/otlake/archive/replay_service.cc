#include "otlake/archive/replay_service.h"

#include <arrow/filesystem/localfs.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "otlake/archive/replay.h"
#include "otlake/common/log.h"
#include "otlake/common/sqlite_stmt.h"
#include "otlake/common/time_util.h"
#include "otlake/ingest/ingestor.h"
#include "otlake/ingest/record.h"
#include "otlake/lake/fs_util.h"
#include "otlake/otlp/decode.h"
#include "otlake/ship/s3_config.h"
#include "otlake/ship/s3_fs.h"

namespace otlake::archive {
namespace {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

void Str(JsonWriter& w, const char* k, std::string_view v) {
  w.Key(k);
  w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
}
void Int(JsonWriter& w, const char* k, int64_t v) {
  w.Key(k);
  w.Int64(v);
}

otlp::Signal ToOtlp(Signal s) {
  switch (s) {
    case Signal::kTraces: return otlp::Signal::kTraces;
    case Signal::kLogs: return otlp::Signal::kLogs;
    case Signal::kMetrics: return otlp::Signal::kMetrics;
  }
  return otlp::Signal::kTraces;
}

bool IsValidProject(std::string_view id) {  // as the receiver's IsValidProjectId
  if (id.empty() || id.size() > 128 || id == "." || id == "..") return false;
  for (char c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') return false;
  }
  return true;
}

bool Contains(const std::string& s, std::string_view what) { return s.find(what) != std::string::npos; }

// ---------------------------------------------------------------------------------------------
// The ledger: configs/replay.sqlite

// One object version replayed (or being replayed) into a project.
struct ObjectKey {
  std::string project, source, key, window;
  int64_t size = 0, mtime_ns = 0;
  std::string Id() const {
    return project + '\n' + source + '\n' + key + '\n' + std::to_string(size) + '\n' +
           std::to_string(mtime_ns) + '\n' + window;
  }
};

using LedgerRow = ReplayLedgerRow;

class Ledger {
 public:
  static Result<std::unique_ptr<Ledger>> Open(const std::string& path) {
    const mode_t old = ::umask(077);
    sqlite3* db = nullptr;
    const int rc = sqlite3_open_v2(path.c_str(), &db,
                                   SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr);
    ::umask(old);
    if (rc != SQLITE_OK) {
      Status st = Status::IOError("cannot open ", path, ": ", db ? sqlite3_errmsg(db) : "out of memory");
      sqlite3_close(db);
      return st;
    }
    std::unique_ptr<Ledger> l(new Ledger(db));
    sqlite3_busy_timeout(db, 5000);
    OTLAKE_RETURN_NOT_OK(l->Exec(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
        "CREATE TABLE IF NOT EXISTS objects(id INTEGER PRIMARY KEY, project TEXT NOT NULL, source TEXT NOT NULL,"
        " key TEXT NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, event_window TEXT NOT NULL,"
        " status TEXT NOT NULL, attempt TEXT NOT NULL, resume_doc INTEGER NOT NULL, docs INTEGER NOT NULL,"
        " records INTEGER NOT NULL, job TEXT NOT NULL, updated_ms INTEGER NOT NULL,"
        " UNIQUE(project, source, key, size, mtime_ns, event_window));"
        "CREATE INDEX IF NOT EXISTS objects_status ON objects(status);"
        "CREATE TABLE IF NOT EXISTS jobs(id TEXT PRIMARY KEY, project TEXT NOT NULL, created_ms INTEGER NOT NULL,"
        " status TEXT NOT NULL, report TEXT NOT NULL);"));
    return l;
  }
  ~Ledger() {
    cache_.reset();  // its statements go before the connection
    sqlite3_close(db_);
  }

  Result<std::optional<LedgerRow>> Find(const ObjectKey& k) {
    std::lock_guard lk(mu_);
    Stmt q(*cache_, "SELECT id,status,attempt,resume_doc,docs,records FROM objects WHERE project=? AND source=?"
                " AND key=? AND size=? AND mtime_ns=? AND event_window=?");
    if (!q.ok()) return Err("find");
    Bind(q, k);
    if (q.Step() != SQLITE_ROW) return std::optional<LedgerRow>();
    return std::optional<LedgerRow>(Read(q));
  }

  /// Marks the object processing before its first WAL append: a partial row keeps its attempt
  /// and resume point (same documents), anything else starts a new attempt at document 0.
  Result<LedgerRow> Begin(const ObjectKey& k, int64_t docs, const std::string& job) {
    OTLAKE_ASSIGN_OR_RAISE(auto existing, Find(k));
    std::lock_guard lk(mu_);
    LedgerRow row;
    if (existing && existing->status != "completed" && existing->docs == docs) {
      row = *existing;
    } else {
      row.attempt = lake::NewUuid().substr(0, 8);
      row.resume_doc = 0;
      row.docs = docs;
    }
    row.status = "processing";
    if (existing) {
      row.id = existing->id;
      Stmt u(*cache_, "UPDATE objects SET status='processing', attempt=?, resume_doc=?, docs=?, job=?, updated_ms=?"
                  " WHERE id=?");
      u.Text(1, row.attempt);
      u.Int(2, row.resume_doc);
      u.Int(3, docs);
      u.Text(4, job);
      u.Int(5, NowUnixMillis());
      u.Int(6, row.id);
      if (!u.ok() || u.Step() != SQLITE_DONE) return Err("begin");
      return row;
    }
    Stmt i(*cache_, "INSERT INTO objects(project,source,key,size,mtime_ns,event_window,status,attempt,resume_doc,docs,"
                "records,job,updated_ms) VALUES(?,?,?,?,?,?,'processing',?,0,?,0,?,?)");
    if (!i.ok()) return Err("begin");
    Bind(i, k);
    i.Text(7, row.attempt);
    i.Int(8, docs);
    i.Text(9, job);
    i.Int(10, NowUnixMillis());
    if (i.Step() != SQLITE_DONE) return Err("begin");
    row.id = sqlite3_last_insert_rowid(db_);
    return row;
  }

  Status Complete(int64_t id, int64_t records) {
    std::lock_guard lk(mu_);
    Stmt u(*cache_, "UPDATE objects SET status='completed', records=?, resume_doc=docs, updated_ms=? WHERE id=?");
    u.Int(1, records);
    u.Int(2, NowUnixMillis());
    u.Int(3, id);
    if (!u.ok() || u.Step() != SQLITE_DONE) return Err("complete");
    return Status::OK();
  }

  /// The first `resume_doc` documents are durable; the next replay goes on from there.
  Status Partial(int64_t id, int64_t resume_doc) {
    std::lock_guard lk(mu_);
    Stmt u(*cache_, "UPDATE objects SET status='partial', resume_doc=?, updated_ms=? WHERE id=?");
    u.Int(1, resume_doc);
    u.Int(2, NowUnixMillis());
    u.Int(3, id);
    if (!u.ok() || u.Step() != SQLITE_DONE) return Err("partial");
    return Status::OK();
  }

  Result<std::vector<LedgerRow>> Processing() {
    std::lock_guard lk(mu_);
    Stmt q(*cache_, "SELECT id,status,attempt,resume_doc,docs,records FROM objects WHERE status='processing'");
    if (!q.ok()) return Err("list");
    std::vector<LedgerRow> out;
    while (q.Step() == SQLITE_ROW) out.push_back(Read(q));
    return out;
  }

  Status SaveJob(const std::string& id, const std::string& project, int64_t created_ms,
                 const std::string& status, const std::string& report) {
    std::lock_guard lk(mu_);
    Stmt u(*cache_, "INSERT OR REPLACE INTO jobs(id,project,created_ms,status,report) VALUES(?,?,?,?,?)");
    u.Text(1, id);
    u.Text(2, project);
    u.Int(3, created_ms);
    u.Text(4, status);
    u.Text(5, report);
    if (!u.ok() || u.Step() != SQLITE_DONE) return Err("save job");
    return Status::OK();
  }

  struct JobRow {
    std::string id, project, status, report;
    int64_t created_ms = 0;
  };
  Result<std::vector<JobRow>> Jobs() {
    std::lock_guard lk(mu_);
    Stmt q(*cache_, "SELECT id,project,created_ms,status,report FROM jobs ORDER BY created_ms DESC, id DESC");
    if (!q.ok()) return Err("jobs");
    std::vector<JobRow> out;
    while (q.Step() == SQLITE_ROW) out.push_back({q.ColText(0), q.ColText(1), q.ColText(3), q.ColText(4), q.ColInt(2)});
    return out;
  }

 private:
  explicit Ledger(sqlite3* db) : db_(db), cache_(std::make_unique<StmtCache>(db)) {}
  Status Exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      Status st = Status::IOError("replay.sqlite: ", err ? err : "error");
      sqlite3_free(err);
      return st;
    }
    return Status::OK();
  }
  Status Err(const char* what) { return Status::IOError("replay.sqlite: ", what, ": ", sqlite3_errmsg(db_)); }
  static void Bind(Stmt& q, const ObjectKey& k) {
    q.Text(1, k.project);
    q.Text(2, k.source);
    q.Text(3, k.key);
    q.Int(4, k.size);
    q.Int(5, k.mtime_ns);
    q.Text(6, k.window);
  }
  static LedgerRow Read(Stmt& q) {
    LedgerRow r;
    r.id = q.ColInt(0);
    r.status = q.ColText(1);
    r.attempt = q.ColText(2);
    r.resume_doc = q.ColInt(3);
    r.docs = q.ColInt(4);
    r.records = q.ColInt(5);
    return r;
  }

  std::mutex mu_;
  sqlite3* db_;
  std::unique_ptr<StmtCache> cache_;  // GUARDED_BY(mu_): the statements run per object
};

}  // namespace

std::string MakeReplayOrigin(int64_t row, const std::string& attempt, int64_t doc, int64_t docs) {
  return "replay/" + std::to_string(row) + "/" + attempt + "/" + std::to_string(doc) + "/" + std::to_string(docs);
}

std::map<int64_t, int64_t> ReconcileReplayOrigins(const std::vector<LedgerRow>& processing,
                                                  const std::vector<std::string>& origins) {
  std::map<std::pair<int64_t, std::string>, std::set<int64_t>> found;
  for (const std::string& o : origins) {
    if (o.rfind("replay/", 0) != 0) continue;
    std::vector<std::string> parts;
    for (size_t pos = 7;;) {
      const size_t slash = o.find('/', pos);
      parts.push_back(o.substr(pos, slash == std::string::npos ? std::string::npos : slash - pos));
      if (slash == std::string::npos) break;
      pos = slash + 1;
    }
    if (parts.size() != 4) continue;
    char* end = nullptr;
    const long long row = std::strtoll(parts[0].c_str(), &end, 10);
    if (*end != '\0') continue;
    const long long doc = std::strtoll(parts[2].c_str(), &end, 10);
    if (*end != '\0') continue;
    found[{row, parts[1]}].insert(doc);
  }
  std::map<int64_t, int64_t> out;
  for (const LedgerRow& r : processing) {
    int64_t k = r.resume_doc;
    auto it = found.find({r.id, r.attempt});
    if (it != found.end()) {
      while (it->second.count(k)) ++k;
    }
    out[r.id] = k >= r.docs ? -1 : k;
  }
  return out;
}

namespace {

// ---------------------------------------------------------------------------------------------
// The lake sink

struct LakeContext {
  ingest::Ingestor* ingestor = nullptr;
  Ledger* ledger = nullptr;
  int max_nesting_depth = 64;
  int64_t complete_delay_ms = 0;
  std::mutex inflight_mu;
  std::condition_variable inflight_cv;
  std::set<std::string> inflight;  // ObjectKey::Id() being replayed; GUARDED_BY(inflight_mu)
};

class LakeSink final : public ReplaySink {
 public:
  LakeSink(LakeContext* ctx, std::string project, std::string source, std::string window, std::string job,
           const std::atomic<bool>* cancel)
      : ctx_(ctx), project_(std::move(project)), source_(std::move(source)), window_(std::move(window)),
        job_(std::move(job)), cancel_(cancel) {}

  bool AlreadyDone(const ListedObject& o, int64_t* records) override {
    auto row = ctx_->ledger->Find(KeyOf(o));
    if (!row.ok() || !row->has_value() || (*row)->status != "completed") return false;
    *records = (*row)->records;
    return true;
  }

  Status Send(PreparedObject& obj) override {
    const Signal signal = obj.decoded.name.signal;
    // Decode every document before anything is logged: an object goes in whole or not at all.
    struct Doc {
      const std::string* body;
      otlp::DecodeResult result;
    };
    std::vector<Doc> docs;
    docs.reserve(obj.protobuf.size());
    const int64_t arrival = NowUnixNanos();
    otlp::DecodeOptions opts;
    opts.project_id = project_;
    opts.now_unix_nano = arrival;
    opts.max_nesting_depth = ctx_->max_nesting_depth;
    int64_t rejected = 0;
    std::string rejection;
    const bool json = obj.json_bodies;  // OTLP/JSON as archived, else protobuf
    int64_t records = 0;
    for (size_t i = 0; i < obj.protobuf.size(); ++i) {
      Doc d{&obj.protobuf[i], {}};
      Status st = json ? otlp::DecodeJson(ToOtlp(signal), obj.protobuf[i], opts, &d.result)
                       : otlp::DecodeProtobuf(ToOtlp(signal), obj.protobuf[i], opts, &d.result);
      if (!st.ok()) {
        const int64_t line = json && i < obj.decoded.documents.size() ? obj.decoded.documents[i].line : 0;
        return Status::Invalid(line > 0 ? "line " + std::to_string(line) + ": " : "",
                               json ? "not OTLP/JSON: " : "not OTLP: ", st.message());
      }
      records += d.result.accepted + d.result.rejected;
      if (d.result.rejected > 0) {
        rejected += d.result.rejected;
        if (rejection.empty()) rejection = d.result.ErrorMessage(ToOtlp(signal));
      }
      // A document without records writes no WAL record: it is left out of the numbering.
      if (d.result.accepted > 0) docs.push_back(std::move(d));
    }
    const ObjectKey key = KeyOf(*obj.listed);
    const std::string id = key.Id();
    {  // one replay of this object version at a time in this process
      std::unique_lock lk(ctx_->inflight_mu);
      ctx_->inflight_cv.wait(lk, [&] { return ctx_->inflight.count(id) == 0; });
      ctx_->inflight.insert(id);
    }
    struct Release {
      LakeContext* ctx;
      const std::string& id;
      ~Release() {
        {
          std::lock_guard lk(ctx->inflight_mu);
          ctx->inflight.erase(id);
        }
        ctx->inflight_cv.notify_all();
      }
    } release{ctx_, id};
    OTLAKE_ASSIGN_OR_RAISE(auto existing, ctx_->ledger->Find(key));
    if (existing && existing->status == "completed") {  // another job finished it meanwhile
      ++raced_;
      obj.records = 0;
      return Status::OK();
    }
    if (existing && existing->status == "processing") {
      // Not in flight (the guard above): an earlier attempt in this process could not tell
      // which of its records are durable (the WAL or the ledger failed). Only the start-up
      // reconciliation with the recovered WAL knows; replaying now could store them twice.
      return Status::IOError("an earlier replay of this object failed before its state was recorded; "
                             "restart otlake (recovery settles it), then replay again");
    }
    const int64_t n = static_cast<int64_t>(docs.size());
    OTLAKE_ASSIGN_OR_RAISE(LedgerRow row, ctx_->ledger->Begin(key, n, job_));
    ingest::Ingestor* in = ctx_->ingestor;
    struct Hold {  // the WAL keeps this object's records until the ledger says where it stands
      ingest::Ingestor* in;
      int64_t id;
      ~Hold() { in->ReleaseSegments(id); }
    } hold{in, in->HoldSegments()};
    int64_t last_lsn = 0;
    Status failed;
    int64_t i = row.resume_doc;
    for (; i < n; ++i) {
      const std::string origin = MakeReplayOrigin(row.id, row.attempt, i, n);
      ingest::Record record;
      record.signal = ToOtlp(signal);
      record.format = json ? ingest::BodyFormat::kJson : ingest::BodyFormat::kProtobuf;
      record.arrival_unix_nano = arrival;
      record.project_id = project_;
      record.body = *docs[i].body;
      record.origin = origin;
      Result<int64_t> lsn;
      for (int waited_ms = 0;; waited_ms += 50) {
        lsn = in->Submit(record, &docs[i].result);
        // Memory backpressure: wait for the flusher, as an OTLP client waits after a 429.
        if (!lsn.status().IsCapacityError() || waited_ms >= 300000 || (cancel_ && cancel_->load())) break;
        if (waited_ms == 0) ++backpressure_waits_;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      if (!lsn.ok()) {
        failed = lsn.status();
        break;
      }
      if (*lsn > 0) last_lsn = *lsn;
    }
    Status durable = WaitDurable(last_lsn);
    if (!durable.ok()) {
      // The WAL is failing: which documents are durable is unknown here. The row stays
      // processing; the next start reconciles it with what recovery finds.
      return Status::IOError("ingest failed: ", durable.message());
    }
    if (!failed.ok()) {
      OTLAKE_RETURN_NOT_OK(ctx_->ledger->Partial(row.id, i));
      return Status::IOError("ingest failed after ", i, " of ", n, " documents (a re-run goes on from there): ",
                             failed.message());
    }
    if (ctx_->complete_delay_ms > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(ctx_->complete_delay_ms));
    }
    obj.records = records;
    OTLAKE_RETURN_NOT_OK(ctx_->ledger->Complete(row.id, obj.records));
    if (rejected > 0) {
      rejected_ += rejected;
      std::lock_guard lk(mu_);
      rejections_.push_back({obj.listed->key, rejection});
    }
    return Status::OK();
  }

  int64_t rejected() const override { return rejected_.load(); }
  std::vector<ObjectFailure> rejections() const override {
    std::lock_guard lk(mu_);
    return rejections_;
  }
  int64_t raced() const { return raced_.load(); }
  int64_t backpressure_waits() const { return backpressure_waits_.load(); }

 private:
  ObjectKey KeyOf(const ListedObject& o) const {
    return {project_, source_, o.key, window_, o.size, o.mtime_ns};
  }

  Status WaitDurable(int64_t lsn) {
    if (lsn <= 0) return Status::OK();
    auto done = std::make_shared<std::promise<Status>>();
    auto f = done->get_future();
    ctx_->ingestor->WhenDurable(lsn, [done](Status st) { done->set_value(std::move(st)); });
    return f.get();
  }

  LakeContext* ctx_;
  std::string project_, source_, window_, job_;
  const std::atomic<bool>* cancel_;
  std::atomic<int64_t> rejected_{0}, raced_{0}, backpressure_waits_{0};
  mutable std::mutex mu_;
  std::vector<ObjectFailure> rejections_;  // GUARDED_BY(mu_)
};

// ---------------------------------------------------------------------------------------------
// Sources

struct OpenedSource {
  ReplaySource source;
  std::string identity;  // the ledger's "source": s3://bucket or the directory
};

Result<OpenedSource> OpenSource(const ReplayRequest& r, const std::string& instance_root) {
  OpenedSource out;
  if (!r.source_dir.empty()) {
    std::error_code ec;
    if (!std::filesystem::is_directory(r.source_dir, ec)) {
      return Status::Invalid("source_dir: '", r.source_dir, "' is not a directory on the server");
    }
    out.source.fs = std::make_shared<arrow::fs::LocalFileSystem>();
    out.source.root = std::filesystem::path(r.source_dir).lexically_normal().string();
    while (out.source.root.size() > 1 && out.source.root.back() == '/') out.source.root.pop_back();
    out.source.display = out.source.root;
    out.identity = "file://" + out.source.root;
    return out;
  }
  std::map<std::string, std::string> flags = {{"S3_BUCKET", r.s3_bucket}};
  if (!r.endpoint.empty()) {
    flags["AWS_ENDPOINT_URL"] = r.endpoint;
  } else if (!S3EndpointConfigured(instance_root)) {
    flags["AWS_ENDPOINT_URL"] = "https://s3.amazonaws.com";
  }
  if (!r.region.empty()) flags["AWS_REGION"] = r.region;
  if (!r.access_key_id.empty()) {
    flags["AWS_ACCESS_KEY_ID"] = r.access_key_id;
    flags["AWS_SECRET_ACCESS_KEY"] = r.secret_access_key;
    flags["AWS_SESSION_TOKEN"] = r.session_token;
  }
  ship::S3Settings s = ship::LoadS3Settings(instance_root, flags);
  if (!s.enabled()) {
    std::string problem = s.problem;
    const std::string tail = "; shipping is disabled";
    if (problem.size() > tail.size() && problem.compare(problem.size() - tail.size(), tail.size(), tail) == 0) {
      problem.resize(problem.size() - tail.size());
    }
    return Status::Invalid("cannot read s3://", r.s3_bucket, ": ", problem,
                           " (give access_key_id and secret_access_key, or set them on the server: docs/s3.md)");
  }
  ship::S3FsOptions fo;
  fo.sdk_max_attempts = 4;  // S3 errors (500, 503 SlowDown, timeouts) retried with backoff
  auto fs = ship::MakeS3FileSystem(*s.config, fo);
  if (!fs.ok()) return Status::Invalid("cannot use S3 settings: ", fs.status().message());
  if (Status st = ship::CheckS3Access(fs->get(), *s.config); !st.ok()) {
    std::string p = S3SettingProblem(st.message(), r.s3_bucket, "s3_bucket", "access_key_id / secret_access_key");
    if (!p.empty()) return Status::Invalid(p);
    return Status::IOError(st.message());
  }
  out.source.fs = *fs;
  out.source.root = r.s3_bucket;
  out.source.display = "s3://" + r.s3_bucket;
  out.identity = "s3://" + r.s3_bucket;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Jobs

struct Job {
  std::string id, project, request_json, window;
  ReplayRequest request;  // secrets cleared once the source is open
  int64_t created_ms = 0, finished_ms = 0;
  std::atomic<bool> cancel{false};
  std::thread thread;
  OpenedSource source;
  std::unique_ptr<LakeSink> sink;

  std::mutex mu;
  std::string status = "listing";  // listing | running | done | failed | cancelled | interrupted
  std::string error;
  bool listed = false;
  std::string step;
  int64_t partitions = 0, objects_total = 0, bytes_total = 0;
  std::vector<SkippedObject> skipped;
  ReplayProgress progress;
  bool finished = false;
  ReplayReport report;
  std::string final_json;  // once finished
};

double Rate(double n, double s) { return s > 0 ? n / s : 0; }

void WriteList(JsonWriter& w, const char* key, const std::vector<ObjectFailure>& v) {
  w.Key(key);
  w.StartArray();
  for (const auto& f : v) {
    w.StartObject();
    Str(w, "key", f.key);
    Str(w, "reason", f.reason);
    w.EndObject();
  }
  w.EndArray();
}

// The job's JSON; `details`: with the per-object lists. Caller holds job.mu.
std::string JobJsonLocked(const Job& j, bool details) {
  rapidjson::StringBuffer sb;
  JsonWriter w(sb);
  w.StartObject();
  Str(w, "id", j.id);
  Str(w, "status", j.status);
  Str(w, "project", j.project);
  Str(w, "destination", "lake");
  w.Key("request");
  w.RawValue(j.request_json.data(), j.request_json.size(), rapidjson::kObjectType);
  Str(w, "created", UtcIso8601(j.created_ms));
  if (j.finished_ms > 0) {
    Str(w, "finished", UtcIso8601(j.finished_ms));
  } else {
    w.Key("finished");
    w.Null();
  }
  if (!j.error.empty()) Str(w, "error", j.error);
  Str(w, "step", j.step);
  Int(w, "partitions", j.partitions);
  const ReplayProgress& p = j.progress;
  const ReplayReport& r = j.report;
  const bool fin = j.finished;
  Int(w, "objects_total", j.objects_total);
  Int(w, "objects_done", fin ? r.objects_ok + r.objects_failed + r.objects_already + r.objects_cancelled
                             : p.objects_done);
  Int(w, "objects_ok", fin ? r.objects_ok : p.objects_done - p.objects_failed - p.objects_already - p.objects_cancelled);
  Int(w, "objects_failed", fin ? r.objects_failed : p.objects_failed);
  Int(w, "objects_already", fin ? r.objects_already : p.objects_already);
  Int(w, "objects_cancelled", fin ? r.objects_cancelled : p.objects_cancelled);
  Int(w, "objects_skipped", static_cast<int64_t>(j.skipped.size()));
  Int(w, "bytes_total", j.bytes_total);
  Int(w, "bytes", fin ? r.bytes : p.bytes);
  const int64_t records = fin ? r.records : p.records;
  Int(w, "records", records);
  Int(w, "records_already", r.records_already);
  Int(w, "records_dropped", fin ? r.records_dropped : p.records_dropped);
  Int(w, "records_rejected", fin ? r.records_rejected : (j.sink ? j.sink->rejected() : 0));
  Int(w, "documents", r.documents);
  Int(w, "retries", r.retries);
  const double secs = fin ? r.seconds : p.seconds;
  w.Key("seconds");
  w.Double(secs);
  w.Key("records_per_second");
  w.Double(Rate(static_cast<double>(records), secs));
  w.Key("bytes_per_second");
  w.Double(Rate(static_cast<double>(fin ? r.bytes : p.bytes), secs));
  w.Key("eta_seconds");
  const int64_t done_bytes = p.bytes;
  // Objects already in the lake are not downloaded: estimate by objects when bytes say little.
  if (fin) {
    w.Double(0);
  } else if (j.objects_total > 0 && p.objects_done > 0 && secs > 0) {
    const double left = static_cast<double>(j.objects_total - p.objects_done) / static_cast<double>(p.objects_done);
    w.Double(std::max(0.0, left * secs));
  } else {
    w.Null();
  }
  (void)done_bytes;
  if (details) {
    WriteList(w, "failures", r.failures);
    WriteList(w, "rejections", fin ? r.rejections : (j.sink ? j.sink->rejections() : std::vector<ObjectFailure>{}));
    w.Key("skipped");
    w.StartArray();
    for (const auto& s : j.skipped) {
      w.StartObject();
      Str(w, "key", s.key);
      Str(w, "reason", s.reason);
      w.EndObject();
    }
    w.EndArray();
  } else {
    Int(w, "failures", static_cast<int64_t>(r.failures.size()));
  }
  w.EndObject();
  return std::string(sb.GetString(), sb.GetSize());
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Requests

Result<ReplayRequest> ParseReplayRequest(std::string_view json, std::string_view key_project) {
  rapidjson::Document d;
  d.Parse(json.data(), json.size());
  if (d.HasParseError() || !d.IsObject()) return Status::Invalid("the body must be a JSON object of replay settings");
  ReplayRequest r;
  r.project = key_project.empty() ? "default" : std::string(key_project);
  auto str = [&](const rapidjson::Value& v, const char* name, std::string* out) -> Status {
    if (!v.IsString()) return Status::Invalid(name, ": must be a string");
    out->assign(v.GetString(), v.GetStringLength());
    return Status::OK();
  };
  for (auto it = d.MemberBegin(); it != d.MemberEnd(); ++it) {
    const std::string name(it->name.GetString(), it->name.GetStringLength());
    const rapidjson::Value& v = it->value;
    const char* n = name.c_str();
    if (name == "s3_bucket") OTLAKE_RETURN_NOT_OK(str(v, n, &r.s3_bucket));
    else if (name == "source_dir") OTLAKE_RETURN_NOT_OK(str(v, n, &r.source_dir));
    else if (name == "s3_prefix") OTLAKE_RETURN_NOT_OK(str(v, n, &r.s3_prefix));
    else if (name == "s3_partition_format") OTLAKE_RETURN_NOT_OK(str(v, n, &r.s3_partition_format));
    else if (name == "s3_partition_timezone") OTLAKE_RETURN_NOT_OK(str(v, n, &r.s3_partition_timezone));
    else if (name == "file_prefix") OTLAKE_RETURN_NOT_OK(str(v, n, &r.file_prefix));
    else if (name == "region") OTLAKE_RETURN_NOT_OK(str(v, n, &r.region));
    else if (name == "endpoint") OTLAKE_RETURN_NOT_OK(str(v, n, &r.endpoint));
    else if (name == "access_key_id") OTLAKE_RETURN_NOT_OK(str(v, n, &r.access_key_id));
    else if (name == "secret_access_key") OTLAKE_RETURN_NOT_OK(str(v, n, &r.secret_access_key));
    else if (name == "session_token") OTLAKE_RETURN_NOT_OK(str(v, n, &r.session_token));
    else if (name == "starttime") OTLAKE_RETURN_NOT_OK(str(v, n, &r.starttime));
    else if (name == "endtime") OTLAKE_RETURN_NOT_OK(str(v, n, &r.endtime));
    else if (name == "project") OTLAKE_RETURN_NOT_OK(str(v, n, &r.project));
    else if (name == "s3_force_path_style" || name == "event_time") {
      if (!v.IsBool()) return Status::Invalid(name, ": must be true or false");
      (name == "event_time" ? r.event_time : r.s3_force_path_style) = v.GetBool();
    } else if (name == "parallelism") {
      if (!v.IsInt() || v.GetInt() < 1 || v.GetInt() > 64) return Status::Invalid("parallelism: must be an integer in [1, 64]");
      r.parallelism = v.GetInt();
    } else if (name == "signals") {
      std::vector<std::string> names;
      if (v.IsString()) {
        std::string list = std::string(v.GetString()) + ",";
        for (size_t p = 0, q; (q = list.find(',', p)) != std::string::npos; p = q + 1) names.push_back(list.substr(p, q - p));
      } else if (v.IsArray()) {
        for (const auto& e : v.GetArray()) {
          if (!e.IsString()) return Status::Invalid("signals: must be a list of traces, logs, metrics");
          names.emplace_back(e.GetString());
        }
      } else {
        return Status::Invalid("signals: must be a list of traces, logs, metrics");
      }
      r.signals.clear();
      for (const auto& s : names) {
        Signal sig;
        if (s == "traces") sig = Signal::kTraces;
        else if (s == "logs") sig = Signal::kLogs;
        else if (s == "metrics") sig = Signal::kMetrics;
        else return Status::Invalid("signals: '", s, "' is not traces, logs or metrics");
        if (std::find(r.signals.begin(), r.signals.end(), sig) == r.signals.end()) r.signals.push_back(sig);
      }
      if (r.signals.empty()) return Status::Invalid("signals: no signal given");
    } else {
      return Status::Invalid("unknown setting '", name.substr(0, 64), "'");
    }
  }
  if (r.s3_bucket.empty() == r.source_dir.empty()) {
    return Status::Invalid(r.s3_bucket.empty() ? "s3_bucket: a source is required (s3_bucket, or source_dir on the server)"
                                               : "s3_bucket: give one source, s3_bucket or source_dir");
  }
  if (!r.s3_bucket.empty() && r.s3_bucket.find('/') != std::string::npos) {
    return Status::Invalid("s3_bucket: '", r.s3_bucket, "' is not a bucket name");
  }
  if (!r.source_dir.empty() && r.source_dir.front() != '/') {
    return Status::Invalid("source_dir: '", r.source_dir, "' must be an absolute path on the server");
  }
  if (r.file_prefix.find('/') != std::string::npos) return Status::Invalid("file_prefix: must not contain '/'");
  if (!r.access_key_id.empty() && r.secret_access_key.empty()) {
    return Status::Invalid("secret_access_key: required with access_key_id");
  }
  if (r.access_key_id.empty() && !r.secret_access_key.empty()) {
    return Status::Invalid("access_key_id: required with secret_access_key");
  }
  if (!IsValidProject(r.project)) {
    return Status::Invalid("project: invalid project id '", r.project.substr(0, 160),
                           "': use 1-128 characters of A-Z a-z 0-9 . _ -");
  }
  if (r.starttime.empty()) return Status::Invalid("starttime: required (the window's start)");
  if (r.endtime.empty()) return Status::Invalid("endtime: required (the window's end, exclusive)");
  if (r.s3_partition_timezone == "UTC") r.s3_partition_timezone.clear();
  // The window itself (times, end after start, directives, zone, partition bound).
  WindowOptions wo;
  wo.s3_prefix = r.s3_prefix;
  wo.s3_partition_format = r.s3_partition_format;
  wo.s3_partition_timezone = r.s3_partition_timezone;
  wo.file_prefix = r.file_prefix;
  wo.starttime = r.starttime;
  wo.endtime = r.endtime;
  OTLAKE_RETURN_NOT_OK(ListWindow(wo, r.signals[0]).status());
  return r;
}

std::string ReplayRequestJson(const ReplayRequest& r) {
  rapidjson::StringBuffer sb;
  JsonWriter w(sb);
  w.StartObject();
  if (!r.s3_bucket.empty()) Str(w, "s3_bucket", r.s3_bucket);
  if (!r.source_dir.empty()) Str(w, "source_dir", r.source_dir);
  Str(w, "s3_prefix", r.s3_prefix);
  Str(w, "s3_partition_format", r.s3_partition_format);
  Str(w, "s3_partition_timezone", r.s3_partition_timezone.empty() ? "UTC" : r.s3_partition_timezone);
  Str(w, "file_prefix", r.file_prefix);
  if (!r.region.empty()) Str(w, "region", r.region);
  if (!r.endpoint.empty()) Str(w, "endpoint", r.endpoint);
  w.Key("has_credentials");
  w.Bool(!r.access_key_id.empty());
  Str(w, "starttime", r.starttime);
  Str(w, "endtime", r.endtime);
  w.Key("signals");
  w.StartArray();
  for (Signal s : r.signals) {
    const std::string_view n = SignalName(s);
    w.String(n.data(), static_cast<rapidjson::SizeType>(n.size()));
  }
  w.EndArray();
  w.Key("event_time");
  w.Bool(r.event_time);
  Str(w, "project", r.project);
  Int(w, "parallelism", r.parallelism);
  w.EndObject();
  return std::string(sb.GetString(), sb.GetSize());
}

bool S3EndpointConfigured(const std::string& instance_root) {
  for (const char* v : {"AWS_ENDPOINT_URL", "S3_URL"}) {
    const char* e = std::getenv(v);
    if (e && *e) return true;
  }
  std::vector<std::string> warnings;
  auto file = ship::ReadConfigFile(ship::ConfigFilePath(instance_root), &warnings);
  if (!file.ok()) return false;
  for (const char* v : {"AWS_ENDPOINT_URL", "S3_URL"}) {
    auto it = file->find(v);
    if (it != file->end() && !it->second.empty()) return true;
  }
  return false;
}

std::string S3SettingProblem(const std::string& message, const std::string& bucket,
                             const std::string& bucket_setting, const std::string& credential_settings) {
  for (const char* code : {"SIGNATURE_DOES_NOT_MATCH", "SignatureDoesNotMatch", "INVALID_ACCESS_KEY_ID",
                           "InvalidAccessKeyId", "ACCESS_DENIED", "AccessDenied", "EXPIRED_TOKEN",
                           "ExpiredToken"}) {
    if (Contains(message, code)) {
      return "S3 refused the credentials for bucket '" + bucket + "': check " + credential_settings +
             " and the region (" + message + ")";
    }
  }
  if (Contains(message, "does not exist") || Contains(message, "NO_SUCH_BUCKET") || Contains(message, "NoSuchBucket")) {
    return bucket_setting + ": bucket '" + bucket + "' does not exist (" + message + ")";
  }
  return "";
}

// ---------------------------------------------------------------------------------------------
// The service

struct ReplayService::Impl {
  ReplayServiceOptions options;
  std::unique_ptr<Ledger> ledger;
  LakeContext lake;
  std::mutex mu;
  bool stopping = false;                                // GUARDED_BY(mu)
  std::map<std::string, std::shared_ptr<Job>> jobs;     // GUARDED_BY(mu): this process's jobs

  void Run(const std::shared_ptr<Job>& job);
  void Finish(Job& job, const std::string& status);
  int Running() {
    int n = 0;
    for (auto& [id, j] : jobs) {
      std::lock_guard lk(j->mu);
      n += j->finished ? 0 : 1;
    }
    return n;
  }
};

ReplayService::ReplayService(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ReplayService::~ReplayService() { Stop(); }

Result<std::unique_ptr<ReplayService>> ReplayService::Start(ReplayServiceOptions options) {
  auto impl = std::make_unique<Impl>();
  if (const char* d = std::getenv("OTLAKE_REPLAY_TEST_COMPLETE_DELAY_MS")) options.complete_delay_ms = std::atoll(d);
  impl->options = std::move(options);
  OTLAKE_ASSIGN_OR_RAISE(impl->ledger, Ledger::Open(impl->options.instance_root + "/configs/replay.sqlite"));
  // Objects left processing by a crash: what of them reached the WAL decides (exactly once).
  OTLAKE_ASSIGN_OR_RAISE(auto processing, impl->ledger->Processing());
  for (const auto& [id, k] : ReconcileReplayOrigins(processing, impl->options.recovered_origins)) {
    auto it = std::find_if(processing.begin(), processing.end(), [id = id](const LedgerRow& r) { return r.id == id; });
    if (k < 0) {
      OTLAKE_RETURN_NOT_OK(impl->ledger->Complete(id, it->records));
      OTLAKE_LOG(INFO) << "replay: object " << id << " was fully in the WAL when otlake stopped: completed";
    } else {
      OTLAKE_RETURN_NOT_OK(impl->ledger->Partial(id, k));
      OTLAKE_LOG(INFO) << "replay: object " << id << " had " << k << " of " << it->docs
                       << " documents in the WAL when otlake stopped: a replay goes on from there";
    }
  }
  std::vector<std::string>().swap(impl->options.recovered_origins);
  // Jobs that were running when the process stopped.
  OTLAKE_ASSIGN_OR_RAISE(auto jobs, impl->ledger->Jobs());
  for (const auto& j : jobs) {
    if (j.status != "listing" && j.status != "running") continue;
    rapidjson::Document d;
    d.Parse(j.report.c_str());
    if (d.IsObject() && d.HasMember("status")) {
      d["status"].SetString("interrupted", d.GetAllocator());
      rapidjson::Value e;
      e.SetString("otlake stopped during this replay; run it again: objects already in the lake are skipped",
                  d.GetAllocator());
      if (d.HasMember("error")) d.RemoveMember("error");
      d.AddMember("error", e, d.GetAllocator());
      rapidjson::StringBuffer sb;
      JsonWriter w(sb);
      d.Accept(w);
      OTLAKE_RETURN_NOT_OK(impl->ledger->SaveJob(j.id, j.project, j.created_ms, "interrupted", sb.GetString()));
    }
  }
  impl->lake.ingestor = impl->options.ingestor;
  impl->lake.ledger = impl->ledger.get();
  impl->lake.max_nesting_depth = impl->options.max_nesting_depth;
  impl->lake.complete_delay_ms = impl->options.complete_delay_ms;
  return std::unique_ptr<ReplayService>(new ReplayService(std::move(impl)));
}

void ReplayService::Stop() {
  if (!impl_) return;
  std::vector<std::shared_ptr<Job>> jobs;
  {
    std::lock_guard lk(impl_->mu);
    impl_->stopping = true;
    for (auto& [id, j] : impl_->jobs) jobs.push_back(j);
  }
  for (auto& j : jobs) j->cancel = true;
  for (auto& j : jobs) {
    if (j->thread.joinable()) j->thread.join();
  }
}

Result<std::string> ReplayService::Submit(ReplayRequest request) {
  if (impl_->options.ingestor == nullptr) return Status::IOError("replay into the lake is not available");
  {
    std::lock_guard lk(impl_->mu);
    if (impl_->stopping) return Status::CapacityError("otlake is stopping");
    if (impl_->Running() >= impl_->options.max_running_jobs) {
      return Status::CapacityError(impl_->options.max_running_jobs,
                                   " replays are running already; retry when one has finished");
    }
  }
  OTLAKE_ASSIGN_OR_RAISE(OpenedSource source, OpenSource(request, impl_->options.instance_root));
  auto job = std::make_shared<Job>();
  job->id = lake::NewUuid();
  job->project = request.project;
  job->created_ms = NowUnixMillis();
  // The secrets live in the filesystem object from here on, nowhere else.
  request.secret_access_key.assign(request.secret_access_key.size(), '\0');
  request.secret_access_key.clear();
  request.session_token.clear();
  job->request_json = ReplayRequestJson(request);
  job->request = std::move(request);
  job->source = std::move(source);
  if (job->request.event_time) {
    auto tz = TimeZone::Load(job->request.s3_partition_timezone);
    if (tz.ok()) {
      auto s = ParseWindowTime(job->request.starttime, *tz, "starttime");
      auto e = ParseWindowTime(job->request.endtime, *tz, "endtime");
      if (s.ok() && e.ok()) job->window = std::to_string(*s) + "-" + std::to_string(*e);
    }
  }
  {
    std::lock_guard jl(job->mu);
    OTLAKE_RETURN_NOT_OK(impl_->ledger->SaveJob(job->id, job->project, job->created_ms, "listing",
                                                JobJsonLocked(*job, false)));
  }
  {
    std::lock_guard lk(impl_->mu);
    impl_->jobs[job->id] = job;
    job->thread = std::thread([impl = impl_.get(), job] { impl->Run(job); });
  }
  OTLAKE_LOG(INFO) << "replay " << job->id << ": " << job->source.source.display << " "
                   << job->request.starttime << " .. " << job->request.endtime << " into project '"
                   << job->project << "'";
  return job->id;
}

void ReplayService::Impl::Finish(Job& job, const std::string& status) {
  std::string json;
  {
    std::lock_guard lk(job.mu);
    job.status = status;
    job.finished = true;
    job.finished_ms = NowUnixMillis();
    job.final_json = JobJsonLocked(job, true);
    json = job.final_json;
  }
  Status st = ledger->SaveJob(job.id, job.project, job.created_ms, status, json);
  if (!st.ok()) OTLAKE_LOG(WARN) << "replay " << job.id << ": " << st.message();
  OTLAKE_LOG(INFO) << "replay " << job.id << ": " << status << ": " << job.report.objects_ok << " objects ok, "
                   << job.report.objects_failed << " failed, " << job.report.objects_already
                   << " already in the lake, " << job.report.records << " records";
}

void ReplayService::Impl::Run(const std::shared_ptr<Job>& job) {
  const ReplayRequest& r = job->request;
  ListOptions lo;
  lo.window.s3_prefix = r.s3_prefix;
  lo.window.s3_partition_format = r.s3_partition_format;
  lo.window.s3_partition_timezone = r.s3_partition_timezone;
  lo.window.file_prefix = r.file_prefix;
  lo.window.starttime = r.starttime;
  lo.window.endtime = r.endtime;
  lo.signals = r.signals;
  lo.parallelism = r.parallelism;
  auto listing = ListReplayObjects(job->source.source, lo);
  if (!listing.ok()) {
    {
      std::lock_guard lk(job->mu);
      job->error = listing.status().message();
    }
    return Finish(*job, "failed");
  }
  {
    std::lock_guard lk(job->mu);
    job->status = "running";
    job->step = std::string(StepName(listing->step));
    job->partitions = listing->partitions;
    job->objects_total = static_cast<int64_t>(listing->objects.size());
    job->bytes_total = listing->bytes();
    job->skipped = listing->skipped;
    job->progress.objects_total = job->objects_total;
    job->progress.bytes_total = job->bytes_total;
    (void)ledger->SaveJob(job->id, job->project, job->created_ms, "running", JobJsonLocked(*job, false));
  }
  job->sink = std::make_unique<LakeSink>(&lake, job->project, job->source.identity, job->window, job->id, &job->cancel);
  ReplayOptions ro;
  ro.parallelism = r.parallelism;
  ro.decode.file_prefix = r.file_prefix;
  ro.decode.max_decompressed_bytes = options.max_object_bytes;
  ro.cancel = &job->cancel;
  ro.sink_decodes = true;  // LakeSink::Send decodes (DecodeJson reads JSON) and counts
  if (r.event_time && !job->window.empty()) {
    const size_t dash = job->window.find('-', 1);
    ro.event_time = EventTimeWindow{std::stoll(job->window.substr(0, dash)), std::stoll(job->window.substr(dash + 1))};
  }
  ro.progress = [job](const ReplayProgress& p) {
    std::lock_guard lk(job->mu);
    job->progress = p;
  };
  ReplayReport report = RunReplay(job->source.source, *listing, job->sink.get(), ro);
  report.objects_already += job->sink->raced();  // counted ok by RunReplay, stored by another job
  report.objects_ok -= job->sink->raced();
  {
    std::lock_guard lk(job->mu);
    job->report = std::move(report);
  }
  job->source.source.fs.reset();  // drops the credentials
  bool stopping_now;
  {
    std::lock_guard lk(mu);
    stopping_now = stopping;
  }
  Finish(*job, stopping_now ? "interrupted" : job->cancel.load() ? "cancelled" : "done");
}

Result<std::string> ReplayService::JobJson(const std::string& id, std::string_view project) {
  std::shared_ptr<Job> job;
  {
    std::lock_guard lk(impl_->mu);
    auto it = impl_->jobs.find(id);
    if (it != impl_->jobs.end()) job = it->second;
  }
  if (job) {
    if (!project.empty() && job->project != project) return Status::KeyError("no replay job '", id, "'");
    std::lock_guard lk(job->mu);
    return job->finished ? job->final_json : JobJsonLocked(*job, true);
  }
  OTLAKE_ASSIGN_OR_RAISE(auto rows, impl_->ledger->Jobs());
  for (const auto& j : rows) {
    if (j.id == id && (project.empty() || j.project == project)) return j.report;
  }
  return Status::KeyError("no replay job '", id, "'");
}

std::string ReplayService::ListJson(std::string_view project) {
  std::string out = "[";
  std::set<std::string> seen;
  std::vector<std::pair<int64_t, std::string>> items;
  {
    std::lock_guard lk(impl_->mu);
    for (auto& [id, j] : impl_->jobs) {
      if (!project.empty() && j->project != project) continue;
      std::lock_guard jl(j->mu);
      items.push_back({j->created_ms, JobJsonLocked(*j, false)});
      seen.insert(id);
    }
  }
  auto rows = impl_->ledger->Jobs();
  if (rows.ok()) {
    for (const auto& j : *rows) {
      if (seen.count(j.id) || (!project.empty() && j.project != project)) continue;
      // A stored report carries the lists: list entries are short, as for live jobs.
      rapidjson::Document d;
      d.Parse(j.report.c_str());
      if (!d.IsObject()) continue;
      for (const char* k : {"rejections", "skipped"}) {
        if (d.HasMember(k)) d.RemoveMember(k);
      }
      if (d.HasMember("failures") && d["failures"].IsArray()) {
        d["failures"].SetInt64(static_cast<int64_t>(d["failures"].Size()));
      }
      rapidjson::StringBuffer sb;
      JsonWriter w(sb);
      d.Accept(w);
      items.push_back({j.created_ms, sb.GetString()});
    }
  }
  std::stable_sort(items.begin(), items.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  for (size_t i = 0; i < items.size(); ++i) out += (i ? "," : "") + items[i].second;
  return out + "]";
}

Status ReplayService::Cancel(const std::string& id) {
  std::shared_ptr<Job> job;
  {
    std::lock_guard lk(impl_->mu);
    auto it = impl_->jobs.find(id);
    if (it != impl_->jobs.end()) job = it->second;
  }
  if (!job) {
    if (!JobProject(id).empty()) return Status::OK();  // finished in an earlier run
    return Status::KeyError("no replay job '", id, "'");
  }
  job->cancel = true;
  return Status::OK();
}

std::string ReplayService::JobProject(const std::string& id) {
  {
    std::lock_guard lk(impl_->mu);
    auto it = impl_->jobs.find(id);
    if (it != impl_->jobs.end()) return it->second->project;
  }
  auto rows = impl_->ledger->Jobs();
  if (rows.ok()) {
    for (const auto& j : *rows) {
      if (j.id == id) return j.project;
    }
  }
  return "";
}

}  // namespace otlake::archive
