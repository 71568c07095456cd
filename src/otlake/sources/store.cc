#include "otlake/sources/store.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include <rapidjson/document.h>

#include "otlake/common/sqlite_stmt.h"
#include "otlake/lake/fs_util.h"

namespace otlake::sources {
namespace {

Status Err(sqlite3* db, const char* what) {
  return Status::IOError("sources.sqlite: ", what, ": ", sqlite3_errmsg(db));
}

std::string JoinList(const std::vector<std::string>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? "," : "") + JsonQuote(v[i]);
  return out + "]";
}

std::vector<std::string> SplitList(const std::string& json) {
  std::vector<std::string> out;
  rapidjson::Document d;
  d.Parse(json.c_str());
  if (d.IsArray()) {
    for (const auto& e : d.GetArray()) {
      if (e.IsString()) out.emplace_back(e.GetString(), e.GetStringLength());
    }
  }
  return out;
}

// The three write-only values as one sealed JSON document.
std::string SecretsJson(const Source& s) {
  return "{\"a\":" + JsonQuote(s.access_key_id) + ",\"s\":" + JsonQuote(s.secret_access_key) +
         ",\"e\":" + JsonQuote(s.external_id) + "}";
}

constexpr const char* kSourceCols =
    "id,name,description,provider,region,bucket,prefix,file_extensions,credential_type,role_arn,"
    "endpoint_url,scan_interval_seconds,application_ids,secrets,created_at,updated_at";
constexpr const char* kFileCols =
    "id,source_id,s3_key,etag,size,status,error_message,spans_count,retries,max_retries,"
    "processed_at,created_at,next_attempt,attempt,resume_doc";

FileRow ReadFile(Stmt& q) {
  FileRow f;
  f.id = q.ColInt(0);
  f.source_id = q.ColBlob(1);
  f.s3_key = q.ColBlob(2);
  f.etag = q.ColBlob(3);
  f.size = q.ColInt(4);
  f.status = q.ColBlob(5);
  f.error_message = q.ColBlob(6);
  f.spans_count = q.ColInt(7);
  f.retries = q.ColInt(8);
  f.max_retries = q.ColInt(9);
  f.processed_at_ms = q.ColInt(10);
  f.created_at_ms = q.ColInt(11);
  f.next_attempt_ms = q.ColInt(12);
  f.attempt = q.ColBlob(13);
  f.resume_doc = q.ColInt(14);
  return f;
}

}  // namespace

SourceStore::SourceStore(sqlite3* db, std::string path, SecretBox box)
    : db_(db), cache_(std::make_unique<StmtCache>(db)), path_(std::move(path)), box_(std::move(box)) {}

SourceStore::~SourceStore() {
  cache_.reset();  // its statements go before the connection
  sqlite3_close(db_);
}

Status SourceStore::Exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    Status st = Status::IOError("sources.sqlite: ", err ? err : "error");
    sqlite3_free(err);
    return st;
  }
  return Status::OK();
}

Result<std::unique_ptr<SourceStore>> SourceStore::Open(const std::string& path, SecretBox box) {
  const mode_t old = ::umask(077);
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr);
  ::umask(old);
  if (rc != SQLITE_OK) {
    Status st = Status::IOError("cannot open ", path, ": ", db ? sqlite3_errmsg(db) : "out of memory");
    sqlite3_close(db);
    return st;
  }
  ::chmod(path.c_str(), 0600);
  sqlite3_busy_timeout(db, 5000);
  std::unique_ptr<SourceStore> s(new SourceStore(db, path, std::move(box)));
  OTLAKE_RETURN_NOT_OK(s->Exec(
      "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
      "CREATE TABLE IF NOT EXISTS sources (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
      " description TEXT, provider TEXT, region TEXT, bucket TEXT NOT NULL, prefix TEXT,"
      " file_extensions TEXT, credential_type TEXT, role_arn TEXT, endpoint_url TEXT,"
      " scan_interval_seconds INTEGER, application_ids TEXT, secrets BLOB,"
      " created_at INTEGER, updated_at INTEGER);"
      "CREATE TABLE IF NOT EXISTS files (id INTEGER PRIMARY KEY AUTOINCREMENT,"
      " source_id TEXT NOT NULL, s3_key TEXT NOT NULL, etag TEXT, size INTEGER,"
      " status TEXT NOT NULL, error_message TEXT, spans_count INTEGER DEFAULT 0,"
      " retries INTEGER DEFAULT 0, max_retries INTEGER DEFAULT 3, processed_at INTEGER DEFAULT 0,"
      " created_at INTEGER, next_attempt INTEGER DEFAULT 0, attempt TEXT DEFAULT '',"
      " resume_doc INTEGER DEFAULT 0, UNIQUE(source_id, s3_key));"
      "CREATE INDEX IF NOT EXISTS files_status ON files(status, next_attempt);"));
  // Databases from before the attempt/resume_doc columns (the first slice): add them.
  (void)s->Exec("ALTER TABLE files ADD COLUMN attempt TEXT DEFAULT ''");
  (void)s->Exec("ALTER TABLE files ADD COLUMN resume_doc INTEGER DEFAULT 0");
  for (const char* suffix : {"-wal", "-shm"}) ::chmod((path + suffix).c_str(), 0600);
  return s;
}

Result<Source> SourceStore::RowToSource(void* stmt) {
  Stmt& q = *static_cast<Stmt*>(stmt);
  Source s;
  s.id = q.ColBlob(0);
  s.name = q.ColBlob(1);
  s.description = q.ColBlob(2);
  s.provider = q.ColBlob(3);
  s.region = q.ColBlob(4);
  s.bucket = q.ColBlob(5);
  s.prefix = q.ColBlob(6);
  s.file_extensions = SplitList(q.ColBlob(7));
  s.credential_type = q.ColBlob(8);
  s.role_arn = q.ColBlob(9);
  s.endpoint_url = q.ColBlob(10);
  s.scan_interval_seconds = q.ColInt(11);
  s.application_ids = SplitList(q.ColBlob(12));
  if (s.application_ids.empty()) s.application_ids = {"default"};
  const std::string sealed = q.ColBlob(13);
  if (!sealed.empty()) {
    OTLAKE_ASSIGN_OR_RAISE(std::string plain, box_.Open(sealed));
    rapidjson::Document d;
    d.Parse(plain.c_str());
    if (d.IsObject()) {
      auto get = [&](const char* k, std::string* out) {
        if (d.HasMember(k) && d[k].IsString()) out->assign(d[k].GetString(), d[k].GetStringLength());
      };
      get("a", &s.access_key_id);
      get("s", &s.secret_access_key);
      get("e", &s.external_id);
    }
  }
  s.created_at_ms = q.ColInt(14);
  s.updated_at_ms = q.ColInt(15);
  return s;
}

namespace {
void BindSource(Stmt& q, const Source& s, const std::string& sealed) {
  q.Text(1, s.id);
  q.Text(2, s.name);
  q.Text(3, s.description);
  q.Text(4, s.provider);
  q.Text(5, s.region);
  q.Text(6, s.bucket);
  q.Text(7, s.prefix);
  q.Text(8, JoinList(s.file_extensions));
  q.Text(9, s.credential_type);
  q.Text(10, s.role_arn);
  q.Text(11, s.endpoint_url);
  q.Int(12, s.scan_interval_seconds);
  q.Text(13, JoinList(s.application_ids));
  q.Blob(14, sealed);
  q.Int(15, s.created_at_ms);
  q.Int(16, s.updated_at_ms);
}
}  // namespace

Status SourceStore::CreateSource(const Source& s) {
  std::lock_guard lk(mu_);
  Stmt q(*cache_, (std::string("INSERT INTO sources (") + kSourceCols +
               ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)").c_str());
  if (!q.ok()) return Err(db_, "prepare");
  BindSource(q, s, box_.Seal(SecretsJson(s)));
  int rc = q.Step();
  if (rc == SQLITE_CONSTRAINT) return Status::AlreadyExists("field 'name': a source named '", s.name, "' already exists");
  if (rc != SQLITE_DONE) return Err(db_, "insert source");
  return Status::OK();
}

Status SourceStore::UpdateSource(const Source& s) {
  std::lock_guard lk(mu_);
  Stmt q(*cache_,
         "UPDATE sources SET id=?1,name=?2,description=?3,provider=?4,region=?5,bucket=?6,prefix=?7,"
         "file_extensions=?8,credential_type=?9,role_arn=?10,endpoint_url=?11,"
         "scan_interval_seconds=?12,application_ids=?13,secrets=?14,created_at=?15,updated_at=?16 "
         "WHERE id=?1");
  if (!q.ok()) return Err(db_, "prepare");
  BindSource(q, s, box_.Seal(SecretsJson(s)));
  int rc = q.Step();
  if (rc == SQLITE_CONSTRAINT) return Status::AlreadyExists("field 'name': a source named '", s.name, "' already exists");
  if (rc != SQLITE_DONE) return Err(db_, "update source");
  if (sqlite3_changes(db_) == 0) return Status::KeyError("no ingestion source with id '", s.id, "'");
  return Status::OK();
}

Status SourceStore::DeleteSource(const std::string& id) {
  std::lock_guard lk(mu_);
  OTLAKE_RETURN_NOT_OK(Exec("BEGIN IMMEDIATE"));
  Stmt q(*cache_, "DELETE FROM sources WHERE id=?");
  q.Text(1, id);
  if (q.Step() != SQLITE_DONE) {
    (void)Exec("ROLLBACK");
    return Err(db_, "delete source");
  }
  if (sqlite3_changes(db_) == 0) {
    (void)Exec("ROLLBACK");
    return Status::KeyError("no ingestion source with id '", id, "'");
  }
  Stmt f(*cache_, "DELETE FROM files WHERE source_id=?");
  f.Text(1, id);
  if (f.Step() != SQLITE_DONE) {
    (void)Exec("ROLLBACK");
    return Err(db_, "delete files");
  }
  return Exec("COMMIT");
}

Result<Source> SourceStore::GetSource(const std::string& id) {
  std::lock_guard lk(mu_);
  Stmt q(*cache_, (std::string("SELECT ") + kSourceCols + " FROM sources WHERE id=?").c_str());
  q.Text(1, id);
  int rc = q.Step();
  if (rc == SQLITE_DONE) return Status::KeyError("no ingestion source with id '", id.substr(0, 64), "'");
  if (rc != SQLITE_ROW) return Err(db_, "read source");
  return RowToSource(&q);
}

Result<std::vector<Source>> SourceStore::ListSources() {
  std::lock_guard lk(mu_);
  Stmt q(*cache_, (std::string("SELECT ") + kSourceCols + " FROM sources ORDER BY created_at, name").c_str());
  std::vector<Source> out;
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW) {
    OTLAKE_ASSIGN_OR_RAISE(Source s, RowToSource(&q));
    out.push_back(std::move(s));
  }
  if (rc != SQLITE_DONE) return Err(db_, "list sources");
  return out;
}

Result<bool> SourceStore::Observe(const std::string& source_id, const std::string& key,
                                  const std::string& etag, int64_t size, int64_t now_ms) {
  std::lock_guard lk(mu_);
  return ObserveLocked(source_id, key, etag, size, now_ms);
}

Result<int64_t> SourceStore::ObserveMany(const std::string& source_id, const std::vector<Observed>& objects,
                                         int64_t now_ms) {
  std::lock_guard lk(mu_);
  // One transaction, not made durable on its own (synchronous NORMAL): a scan lost to a power
  // cut is repeated by the next one.
  OTLAKE_RETURN_NOT_OK(Exec("PRAGMA synchronous=NORMAL"));
  Status st = Exec("BEGIN IMMEDIATE");
  int64_t fresh = 0;
  for (size_t i = 0; st.ok() && i < objects.size(); ++i) {
    auto r = ObserveLocked(source_id, objects[i].key, objects[i].etag, objects[i].size, now_ms);
    if (!r.ok()) {
      st = r.status();
    } else {
      fresh += *r ? 1 : 0;
    }
  }
  st = st.ok() ? Exec("COMMIT") : ((void)Exec("ROLLBACK"), st);
  Status back = Exec("PRAGMA synchronous=FULL");
  if (!st.ok()) return st;
  OTLAKE_RETURN_NOT_OK(back);
  return fresh;
}

Result<bool> SourceStore::ObserveLocked(const std::string& source_id, const std::string& key,
                                        const std::string& etag, int64_t size, int64_t now_ms) {
  Stmt sel(*cache_, "SELECT id, etag, size, status FROM files WHERE source_id=? AND s3_key=?");
  sel.Text(1, source_id);
  sel.Text(2, key);
  int rc = sel.Step();
  if (rc == SQLITE_DONE) {
    Stmt ins(*cache_,
             "INSERT INTO files (source_id,s3_key,etag,size,status,created_at,next_attempt) "
             "VALUES (?,?,?,?,'pending',?,0)");
    ins.Text(1, source_id);
    ins.Text(2, key);
    ins.Text(3, etag);
    ins.Int(4, size);
    ins.Int(5, now_ms);
    if (ins.Step() != SQLITE_DONE) return Err(db_, "insert file");
    return true;
  }
  if (rc != SQLITE_ROW) return Err(db_, "read file");
  if (sel.ColBlob(1) == etag && sel.ColInt(2) == size) return false;
  const int64_t id = sel.ColInt(0);
  const std::string status = sel.ColBlob(3);
  // Changed while a worker reads it: leave the old tag, so the scan after it finishes sees the
  // change and ingests the new bytes.
  if (status == "processing") return false;
  const bool finished = status == "completed" || status == "failed";
  Stmt up(*cache_, finished ? "UPDATE files SET etag=?, size=?, status='pending', retries=0, error_message=NULL,"
                          " spans_count=0, next_attempt=0, resume_doc=0 WHERE id=?"
                        : "UPDATE files SET etag=?, size=? WHERE id=?");
  up.Text(1, etag);
  up.Int(2, size);
  up.Int(3, id);
  if (up.Step() != SQLITE_DONE) return Err(db_, "update file");
  return finished;
}

Result<std::optional<FileRow>> SourceStore::ClaimNext(int64_t now_ms) {
  std::lock_guard lk(mu_);
  Stmt q(*cache_, (std::string("SELECT ") + kFileCols +
               " FROM files WHERE status='pending' AND next_attempt<=? ORDER BY next_attempt, id LIMIT 1")
                  .c_str());
  q.Int(1, now_ms);
  int rc = q.Step();
  if (rc == SQLITE_DONE) return std::optional<FileRow>();
  if (rc != SQLITE_ROW) return Err(db_, "claim file");
  FileRow f = ReadFile(q);
  if (f.resume_doc == 0 || f.attempt.empty()) f.attempt = lake::NewUuid().substr(0, 8) + lake::NewUuid().substr(9, 4);
  // Not made durable on its own: BeginIngest (synchronous FULL) commits it before the object's
  // first WAL append; a claim lost before that is harmless (the file is pending again).
  OTLAKE_RETURN_NOT_OK(Exec("PRAGMA synchronous=NORMAL"));
  Stmt up(*cache_, "UPDATE files SET status='processing', attempt=? WHERE id=?");
  up.Text(1, f.attempt);
  up.Int(2, f.id);
  const int urc = up.Step();
  OTLAKE_RETURN_NOT_OK(Exec("PRAGMA synchronous=FULL"));
  if (urc != SQLITE_DONE) return Err(db_, "claim file");
  f.status = "processing";
  return std::optional<FileRow>(std::move(f));
}

Status SourceStore::Complete(int64_t file_id, int64_t spans, int64_t now_ms) {
  std::lock_guard lk(mu_);
  Stmt q(*cache_, "UPDATE files SET status='completed', spans_count=?, processed_at=?, error_message=NULL WHERE id=?");
  q.Int(1, spans);
  q.Int(2, now_ms);
  q.Int(3, file_id);
  return q.Step() == SQLITE_DONE ? Status::OK() : Err(db_, "complete file");
}

Status SourceStore::Fail(int64_t file_id, const std::string& message, int64_t now_ms) {
  std::lock_guard lk(mu_);
  Stmt q(*cache_, "UPDATE files SET status='failed', error_message=?, processed_at=? WHERE id=?");
  q.Text(1, message.substr(0, 2000));
  q.Int(2, now_ms);
  q.Int(3, file_id);
  return q.Step() == SQLITE_DONE ? Status::OK() : Err(db_, "fail file");
}

Result<std::string> SourceStore::Transient(int64_t file_id, const std::string& message,
                                           int64_t now_ms, int64_t backoff_ms) {
  std::lock_guard lk(mu_);
  Stmt sel(*cache_, "SELECT retries, max_retries FROM files WHERE id=?");
  sel.Int(1, file_id);
  if (sel.Step() != SQLITE_ROW) return Err(db_, "read file");
  const int64_t retries = sel.ColInt(0), max_retries = sel.ColInt(1);
  if (retries >= max_retries) {
    Stmt q(*cache_, "UPDATE files SET status='failed', error_message=?, processed_at=? WHERE id=?");
    q.Text(1, (message + " (after " + std::to_string(retries) + " retries)").substr(0, 2000));
    q.Int(2, now_ms);
    q.Int(3, file_id);
    if (q.Step() != SQLITE_DONE) return Err(db_, "fail file");
    return std::string("failed");
  }
  Stmt q(*cache_, "UPDATE files SET status='pending', retries=retries+1, error_message=?, next_attempt=? WHERE id=?");
  q.Text(1, message.substr(0, 2000));
  q.Int(2, now_ms + backoff_ms);
  q.Int(3, file_id);
  if (q.Step() != SQLITE_DONE) return Err(db_, "requeue file");
  return std::string("pending");
}

Status SourceStore::Requeue(int64_t file_id, int64_t next_attempt_ms) {
  std::lock_guard lk(mu_);
  Stmt q(*cache_, "UPDATE files SET status='pending', next_attempt=? WHERE id=? AND status='processing'");
  q.Int(1, next_attempt_ms);
  q.Int(2, file_id);
  return q.Step() == SQLITE_DONE ? Status::OK() : Err(db_, "requeue file");
}

Status SourceStore::BeginIngest(int64_t file_id, int64_t spans) {
  std::lock_guard lk(mu_);
  Stmt q(*cache_, "UPDATE files SET spans_count=? WHERE id=?");
  q.Int(1, spans);
  q.Int(2, file_id);
  return q.Step() == SQLITE_DONE ? Status::OK() : Err(db_, "note file");
}

Result<std::string> SourceStore::Resume(int64_t file_id, int64_t docs_done, const std::string& message,
                                        int64_t now_ms, int64_t backoff_ms, bool count_retry) {
  {
    std::lock_guard lk(mu_);
    Stmt q(*cache_, "UPDATE files SET resume_doc=? WHERE id=?");
    q.Int(1, docs_done);
    q.Int(2, file_id);
    if (q.Step() != SQLITE_DONE) return Err(db_, "note progress");
  }
  if (count_retry) return Transient(file_id, message, now_ms, backoff_ms);
  OTLAKE_RETURN_NOT_OK(Requeue(file_id, now_ms + backoff_ms));
  return std::string("pending");
}

Result<std::vector<FileRow>> SourceStore::ListProcessing() {
  std::lock_guard lk(mu_);
  Stmt q(*cache_, (std::string("SELECT ") + kFileCols + " FROM files WHERE status='processing'").c_str());
  std::vector<FileRow> out;
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW) out.push_back(ReadFile(q));
  if (rc != SQLITE_DONE) return Err(db_, "list processing files");
  return out;
}

Status SourceStore::CompleteRecovered(int64_t file_id, int64_t now_ms) {
  std::lock_guard lk(mu_);
  Stmt q(*cache_, "UPDATE files SET status='completed', processed_at=?, error_message=NULL WHERE id=?");
  q.Int(1, now_ms);
  q.Int(2, file_id);
  return q.Step() == SQLITE_DONE ? Status::OK() : Err(db_, "complete file");
}

Result<int64_t> SourceStore::ResetProcessing(const std::map<int64_t, int64_t>& resume_doc) {
  std::lock_guard lk(mu_);
  for (const auto& [id, docs] : resume_doc) {
    Stmt q(*cache_, "UPDATE files SET resume_doc=? WHERE id=? AND status='processing'");
    q.Int(1, docs);
    q.Int(2, id);
    if (q.Step() != SQLITE_DONE) return Err(db_, "note progress");
  }
  OTLAKE_RETURN_NOT_OK(Exec("UPDATE files SET status='pending', next_attempt=0 WHERE status='processing'"));
  return static_cast<int64_t>(sqlite3_changes(db_));
}

Result<SourceStats> SourceStore::Stats(const std::string& source_id) {
  std::lock_guard lk(mu_);
  Stmt q(*cache_,
         "SELECT count(*), sum(status='pending'), sum(status='processing'), sum(status='completed'),"
         " sum(status='failed'), sum(CASE WHEN status='completed' THEN spans_count ELSE 0 END),"
         " max(CASE WHEN status='completed' THEN processed_at END),"
         " max(CASE WHEN status='failed' THEN processed_at END) FROM files WHERE source_id=?");
  q.Text(1, source_id);
  if (q.Step() != SQLITE_ROW) return Err(db_, "stats");
  SourceStats s;
  s.total = q.ColInt(0);
  s.pending = q.ColInt(1);
  s.processing = q.ColInt(2);
  s.completed = q.ColInt(3);
  s.failed = q.ColInt(4);
  s.spans = q.ColInt(5);
  s.last_completed_ms = q.ColInt(6);
  s.last_failed_ms = q.ColInt(7);
  return s;
}

Result<std::map<std::string, std::pair<int64_t, int64_t>>> SourceStore::Backlog() {
  std::lock_guard lk(mu_);
  Stmt q(*cache_,
         "SELECT source_id, status, count(*) FROM files WHERE status IN ('pending','processing')"
         " GROUP BY source_id, status");
  std::map<std::string, std::pair<int64_t, int64_t>> out;
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW) {
    auto& e = out[q.ColBlob(0)];
    (q.ColBlob(1) == "pending" ? e.first : e.second) = q.ColInt(2);
  }
  if (rc != SQLITE_DONE) return Err(db_, "backlog");
  return out;
}

Result<std::vector<FileRow>> SourceStore::ListFiles(const std::string& source_id,
                                                    const std::string& status, int64_t limit,
                                                    int64_t offset, int64_t* total) {
  std::lock_guard lk(mu_);
  {
    Stmt c(*cache_, "SELECT count(*) FROM files WHERE source_id=?1 AND (?2='' OR status=?2)");
    c.Text(1, source_id);
    c.Text(2, status);
    if (c.Step() != SQLITE_ROW) return Err(db_, "count files");
    *total = c.ColInt(0);
  }
  Stmt q(*cache_, (std::string("SELECT ") + kFileCols +
               " FROM files WHERE source_id=?1 AND (?2='' OR status=?2) ORDER BY id LIMIT ?3 OFFSET ?4")
                  .c_str());
  q.Text(1, source_id);
  q.Text(2, status);
  q.Int(3, limit);
  q.Int(4, offset);
  std::vector<FileRow> out;
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW) out.push_back(ReadFile(q));
  if (rc != SQLITE_DONE) return Err(db_, "list files");
  return out;
}

Result<FileRow> SourceStore::GetFile(const std::string& source_id, int64_t file_id) {
  std::lock_guard lk(mu_);
  Stmt q(*cache_, (std::string("SELECT ") + kFileCols + " FROM files WHERE source_id=? AND id=?").c_str());
  q.Text(1, source_id);
  q.Int(2, file_id);
  int rc = q.Step();
  if (rc == SQLITE_DONE) return Status::KeyError("no file ", file_id, " in this ingestion source");
  if (rc != SQLITE_ROW) return Err(db_, "read file");
  return ReadFile(q);
}

Result<FileRow> SourceStore::RetryFile(const std::string& source_id, int64_t file_id) {
  OTLAKE_ASSIGN_OR_RAISE(FileRow f, GetFile(source_id, file_id));
  if (f.status != "failed") {
    return Status::Invalid("file ", file_id, " is ", f.status, "; only a failed file can be retried");
  }
  std::lock_guard lk(mu_);
  Stmt q(*cache_, "UPDATE files SET status='pending', retries=0, next_attempt=0 WHERE id=? AND status='failed'");
  q.Int(1, file_id);
  if (q.Step() != SQLITE_DONE) return Err(db_, "retry file");
  f.status = "pending";
  f.retries = 0;
  return f;
}

Result<int64_t> SourceStore::RetryFailed(const std::string& source_id) {
  std::lock_guard lk(mu_);
  Stmt q(*cache_, "UPDATE files SET status='pending', retries=0, next_attempt=0 WHERE source_id=? AND status='failed'");
  q.Text(1, source_id);
  if (q.Step() != SQLITE_DONE) return Err(db_, "retry failed files");
  return static_cast<int64_t>(sqlite3_changes(db_));
}

}  // namespace otlake::sources
