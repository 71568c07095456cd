#include "otlake/sources/api.h"

#include <atomic>
#include <charconv>
#include <mutex>
#include <shared_mutex>

#include "otlake/common/log.h"
#include "otlake/common/time_util.h"
#include "otlake/lake/fs_util.h"
#include "otlake/sources/connector.h"

namespace otlake::sources {
namespace {

using server::HttpRequest;
using server::HttpResponse;

std::shared_mutex g_mu;
Service* g_service = nullptr;  // GUARDED_BY(g_mu)

constexpr std::string_view kRoot = "/v3/ingestion-sources";

void Answer(HttpResponse* res, int status, const std::string& data_json) {
  res->status = status;
  res->content_type = "application/json";
  res->body = "{\"data\":" + data_json + "}";
}

void Fail(HttpResponse* res, int status, std::string_view message) {
  res->status = status;
  res->content_type = "application/json";
  res->body = "{\"error\":" + JsonQuote(message) + ",\"status\":" + std::to_string(status) + "}";
  if (status >= 500) OTLAKE_LOG(WARN) << "sources api: " << status << " " << message;
}

void FailStatus(HttpResponse* res, const Status& st) {
  if (st.IsInvalid()) return Fail(res, 400, st.message());
  if (st.IsKeyError()) return Fail(res, 404, st.message());
  if (st.IsAlreadyExists()) return Fail(res, 409, st.message());
  Fail(res, 500, st.message());
}

void MethodNotAllowed(HttpResponse* res, const HttpRequest& req, const char* allow) {
  res->headers.emplace_back("Allow", allow);
  Fail(res, 405, "method " + req.method + " not allowed on " + req.path + "; use " + allow);
}

std::string Opt(int64_t ms) { return ms > 0 ? JsonQuote(IsoSeconds(ms)) : "null"; }

std::string FileJson(const FileRow& f) {
  return "{\"id\":" + std::to_string(f.id) + ",\"s3_key\":" + JsonQuote(f.s3_key) +
         ",\"file_size_bytes\":" + std::to_string(f.size) + ",\"status\":" + JsonQuote(f.status) +
         ",\"error_message\":" + (f.error_message.empty() ? "null" : JsonQuote(f.error_message)) +
         ",\"spans_count\":" + std::to_string(f.spans_count) + ",\"retries\":" + std::to_string(f.retries) +
         ",\"max_retries\":" + std::to_string(f.max_retries) + ",\"processed_at\":" + Opt(f.processed_at_ms) +
         ",\"created_at\":" + Opt(f.created_at_ms) + "}";
}

// Fiddler's pagination envelope.
std::string Page(const std::vector<std::string>& items, int64_t total, int64_t limit, int64_t offset) {
  std::string out = "{\"items\":[";
  for (size_t i = 0; i < items.size(); ++i) out += (i ? "," : "") + items[i];
  const int64_t page_count = limit > 0 ? (total + limit - 1) / limit : 1;
  out += "],\"page_size\":" + std::to_string(limit) + ",\"total\":" + std::to_string(total) +
         ",\"item_count\":" + std::to_string(items.size()) + ",\"page_count\":" + std::to_string(page_count) +
         ",\"page_index\":" + std::to_string(limit > 0 ? offset / limit + 1 : 1) +
         ",\"offset\":" + std::to_string(offset) + "}";
  return out;
}

bool ParseInt(const std::string& s, int64_t* out) {
  auto r = std::from_chars(s.data(), s.data() + s.size(), *out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size() && !s.empty();
}

// Reads ?limit= (1-1000, default 100) and ?offset= (>= 0, default 0).
bool Paging(const HttpRequest& req, HttpResponse* res, int64_t* limit, int64_t* offset) {
  std::string v;
  *limit = 100;
  *offset = 0;
  if (req.QueryParam("limit", &v) && (!ParseInt(v, limit) || *limit < 1 || *limit > 1000)) {
    Fail(res, 400, "parameter 'limit' must be an integer in [1, 1000]");
    return false;
  }
  if (req.QueryParam("offset", &v) && (!ParseInt(v, offset) || *offset < 0)) {
    Fail(res, 400, "parameter 'offset' must be a non-negative integer");
    return false;
  }
  return true;
}

std::string SourceWithScan(Service* svc, const Source& s) {
  std::string j = SourceJson(s);
  const ScanState st = svc->scan_state(s.id);
  j.pop_back();
  j += ",\"scan\":{\"last_scan_at\":" + Opt(st.last_scan_ms) + ",\"files_seen\":" +
       std::to_string(st.files_seen) + ",\"error\":" + (st.error.empty() ? "null" : JsonQuote(st.error)) + "}}";
  return j;
}

void Create(Service* svc, HttpRequest& req, HttpResponse* res) {
  Source s;
  Status st = ApplySourceJson(req.body, /*partial=*/false, &s);
  if (st.ok()) st = ValidateSource(s);
  if (!st.ok()) return FailStatus(res, st);
  s.id = lake::NewUuid();
  s.created_at_ms = s.updated_at_ms = NowUnixMillis();
  st = svc->store()->CreateSource(s);
  if (!st.ok()) return FailStatus(res, st);
  OTLAKE_LOG(INFO) << "sources: created source '" << s.name << "' (" << s.id << ") s3://" << s.bucket << "/"
                   << s.prefix << " -> project '" << s.project() << "'";
  svc->Wake();
  Answer(res, 201, SourceJson(s));
}

void Patch(Service* svc, const std::string& id, HttpRequest& req, HttpResponse* res) {
  auto s = svc->store()->GetSource(id);
  if (!s.ok()) return FailStatus(res, s.status());
  Source next = *s;
  Status st = ApplySourceJson(req.body, /*partial=*/true, &next);
  if (st.ok() && next.credential_type != "access_key" && s->credential_type == "access_key") {
    // Switching away from keys drops them (an azure source keeps its account name).
    if (next.provider != "azure") next.access_key_id.clear();
    next.secret_access_key.clear();
  }
  if (st.ok()) st = ValidateSource(next);
  if (!st.ok()) return FailStatus(res, st);
  next.updated_at_ms = std::max(NowUnixMillis(), s->updated_at_ms + 1);
  st = svc->store()->UpdateSource(next);
  if (!st.ok()) return FailStatus(res, st);
  OTLAKE_LOG(INFO) << "sources: updated source '" << next.name << "' (" << next.id << ")";
  svc->Wake();
  Answer(res, 200, SourceJson(next));
}

void Stats(Service* svc, const Source& s, HttpResponse* res) {
  auto st = svc->store()->Stats(s.id);
  if (!st.ok()) return FailStatus(res, st.status());
  Answer(res, 200,
         "{\"source_id\":" + JsonQuote(s.id) + ",\"total_files\":" + std::to_string(st->total) +
             ",\"pending\":" + std::to_string(st->pending) + ",\"processing\":" + std::to_string(st->processing) +
             ",\"completed\":" + std::to_string(st->completed) + ",\"failed\":" + std::to_string(st->failed) +
             ",\"total_spans_ingested\":" + std::to_string(st->spans) +
             ",\"last_file_completed_at\":" + Opt(st->last_completed_ms) +
             ",\"last_file_failed_at\":" + Opt(st->last_failed_ms) + "}");
}

void Files(Service* svc, const Source& s, const HttpRequest& req, HttpResponse* res) {
  int64_t limit, offset;
  if (!Paging(req, res, &limit, &offset)) return;
  std::string status;
  if (req.QueryParam("status", &status) && status != "pending" && status != "processing" &&
      status != "completed" && status != "failed") {
    return Fail(res, 400, "parameter 'status' must be pending, processing, completed or failed");
  }
  int64_t total = 0;
  auto files = svc->store()->ListFiles(s.id, status, limit, offset, &total);
  if (!files.ok()) return FailStatus(res, files.status());
  std::vector<std::string> items;
  for (const FileRow& f : *files) items.push_back(FileJson(f));
  Answer(res, 200, Page(items, total, limit, offset));
}

void Route(Service* svc, HttpRequest& req, HttpResponse* res) {
  std::string_view path = req.path;
  if (path.rfind(kRoot, 0) != 0 || (path.size() > kRoot.size() && path[kRoot.size()] != '/')) {
    return Fail(res, 404, "no route for " + req.path);
  }
  std::string_view rest = path.substr(kRoot.size());
  if (!rest.empty()) rest.remove_prefix(1);
  while (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  std::vector<std::string> parts;
  while (!rest.empty()) {
    const size_t slash = rest.find('/');
    parts.emplace_back(rest.substr(0, slash));
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
  }
  const std::string& m = req.method;
  if (parts.empty()) {
    if (m == "POST") return Create(svc, req, res);
    if (m != "GET") return MethodNotAllowed(res, req, "GET, POST");
    int64_t limit, offset;
    if (!Paging(req, res, &limit, &offset)) return;
    auto all = svc->store()->ListSources();
    if (!all.ok()) return FailStatus(res, all.status());
    std::vector<std::string> items;
    for (int64_t i = offset; i < static_cast<int64_t>(all->size()) && i < offset + limit; ++i) {
      items.push_back(SourceJson((*all)[i]));
    }
    return Answer(res, 200, Page(items, static_cast<int64_t>(all->size()), limit, offset));
  }
  const std::string& id = parts[0];
  auto source = svc->store()->GetSource(id);
  if (!source.ok()) return FailStatus(res, source.status());
  if (parts.size() == 1) {
    if (m == "GET") return Answer(res, 200, SourceWithScan(svc, *source));
    if (m == "PATCH") return Patch(svc, id, req, res);
    if (m == "DELETE") {
      Status st = svc->store()->DeleteSource(id);
      if (!st.ok()) return FailStatus(res, st);
      OTLAKE_LOG(INFO) << "sources: deleted source '" << source->name << "' (" << id << ")";
      return Answer(res, 200, "{\"id\":" + JsonQuote(id) + ",\"deleted\":true}");
    }
    return MethodNotAllowed(res, req, "GET, PATCH, DELETE");
  }
  const std::string& what = parts[1];
  if (parts.size() == 2 && what == "stats") {
    if (m != "GET") return MethodNotAllowed(res, req, "GET");
    return Stats(svc, *source, res);
  }
  if (parts.size() == 2 && what == "files") {
    if (m != "GET") return MethodNotAllowed(res, req, "GET");
    return Files(svc, *source, req, res);
  }
  if (parts.size() == 2 && what == "retry-failed") {
    if (m != "POST") return MethodNotAllowed(res, req, "POST");
    auto n = svc->store()->RetryFailed(id);
    if (!n.ok()) return FailStatus(res, n.status());
    svc->Wake();
    return Answer(res, 200, "{\"source_id\":" + JsonQuote(id) + ",\"retried\":" + std::to_string(*n) + "}");
  }
  if (parts.size() == 2 && what == "test") {
    if (m != "POST") return MethodNotAllowed(res, req, "POST");
    const TestResult t = svc->Test(*source);
    res->status = 200;
    res->content_type = "application/json";
    res->body = t.ok ? "{\"status\":\"success\",\"files_found\":" + std::to_string(t.files_found) + "}"
                     : "{\"status\":\"error\",\"message\":" + JsonQuote(t.message) + "}";
    return;
  }
  if (parts.size() == 4 && what == "files" && parts[3] == "retry") {
    if (m != "POST") return MethodNotAllowed(res, req, "POST");
    int64_t file_id;
    if (!ParseInt(parts[2], &file_id)) return Fail(res, 404, "no file '" + parts[2].substr(0, 64) + "'");
    auto f = svc->store()->RetryFile(id, file_id);
    if (!f.ok()) {
      if (f.status().IsInvalid()) return Fail(res, 409, f.status().message());
      return FailStatus(res, f.status());
    }
    svc->Wake();
    return Answer(res, 200, FileJson(*f));
  }
  Fail(res, 404, "no route for " + req.path);
}

}  // namespace

void SetService(Service* service) {
  std::unique_lock lk(g_mu);
  g_service = service;
}

void HandleV3(HttpRequest& req, HttpResponse* res) {
  std::shared_lock lk(g_mu);
  HandleSourcesApi(g_service, req, res);
}

std::string HealthJson() {
  std::shared_lock lk(g_mu);
  return g_service == nullptr ? "{}" : g_service->HealthJson();
}

void WriteMetrics(metrics::PromWriter* w) {
  std::shared_lock lk(g_mu);
  if (g_service != nullptr) g_service->WriteMetrics(w);
}

void HandleSourcesApi(Service* service, HttpRequest& req, HttpResponse* res) {
  if (service == nullptr) {
    res->headers.emplace_back("Retry-After", "5");
    return Fail(res, 503, "ingestion sources are not running in this process");
  }
  Route(service, req, res);
}

}  // namespace otlake::sources
