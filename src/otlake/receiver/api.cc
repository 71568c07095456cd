#include "otlake/receiver/api.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <atomic>
#include <map>
#include <thread>

#include "otlake/auth/policy.h"
#include "otlake/common/log.h"
#include "otlake/common/time_util.h"
#include "otlake/query/query.h"

namespace otlake::receiver {
namespace {

using query::QueryEngine;
using query::ResultSet;
using server::HttpRequest;
using server::HttpResponse;
using table::TableId;

std::string Quote(std::string_view s) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  return std::string(sb.GetString(), sb.GetSize());
}

void Fail(HttpResponse* res, int status, std::string_view message) {
  res->status = status;
  res->content_type = "application/json";
  res->body = "{\"error\":" + Quote(message) + ",\"status\":" + std::to_string(status) + "}";
  if (status >= 500) OTLAKE_LOG(WARN) << "api: " << status << " " << message;
}

// The one mapping from a query Status to an HTTP answer.
void FailStatus(HttpResponse* res, const Status& st) {
  if (st.IsInvalid()) return Fail(res, 400, st.message());
  if (st.IsCancelled()) {
    res->headers.emplace_back("Retry-After", "5");
    return Fail(res, 503, st.message());
  }
  Fail(res, 500, "reading the lake failed: " + st.ToString());
}

// Splits a raw query string into percent-decoded (key, value) pairs, in order. A piece with no
// '=' has an empty value ("x>5" style comparisons are split later).
Status SplitQuery(std::string_view raw, std::vector<std::pair<std::string, std::string>>* out) {
  size_t pos = 0;
  while (pos < raw.size()) {
    size_t amp = raw.find('&', pos);
    if (amp == std::string_view::npos) amp = raw.size();
    std::string_view piece = raw.substr(pos, amp - pos);
    pos = amp + 1;
    if (piece.empty()) continue;
    size_t eq = piece.find('=');
    std::string k, v;
    if (!server::UrlDecode(piece.substr(0, eq), &k) ||
        (eq != std::string_view::npos && !server::UrlDecode(piece.substr(eq + 1), &v))) {
      return Status::Invalid("malformed percent-encoding in query parameter '",
                             std::string(piece.substr(0, 64)), "'");
    }
    out->emplace_back(std::move(k), std::move(v));
  }
  return Status::OK();
}

// Removes parameter `name` from `params`; returns its value (or `def`).
std::string TakeParam(std::vector<std::pair<std::string, std::string>>* params, std::string_view name,
                      std::string def) {
  for (auto it = params->begin(); it != params->end(); ++it) {
    if (it->first == name) {
      def = it->second;
      params->erase(it);
      break;
    }
  }
  return def;
}

void AppendScan(const query::ScanStats& s, std::string* out) {
  *out += "\"scan\":{\"days\":" + std::to_string(s.days) + ",\"files_total\":" +
          std::to_string(s.files_total) + ",\"files_read\":" + std::to_string(s.files_read) +
          ",\"row_groups_total\":" + std::to_string(s.row_groups_total) + ",\"row_groups_read\":" +
          std::to_string(s.row_groups_read) + ",\"rows_scanned\":" + std::to_string(s.rows_scanned) +
          ",\"bytes_read\":" + std::to_string(s.bytes_read) + ",\"elapsed_ms\":" +
          std::to_string(s.elapsed_us / 1000.0) + ",\"snapshots\":[";
  for (size_t i = 0; i < s.snapshots.size(); ++i) {
    const query::SnapshotRead& r = s.snapshots[i];
    *out += std::string(i ? "," : "") + "{\"day\":\"" + r.day + "\",\"table\":\"" +
            std::string(table::TableName(r.table)) + "\",\"storage\":\"" + (r.remote ? "s3" : "local") +
            "\",\"version\":" + std::to_string(r.version) + "}";
  }
  *out += "]}";
}

bool TableForPath(std::string_view path, TableId* t) {
  static const std::map<std::string_view, TableId> kRoutes = {
      {"/api/spans", TableId::kSpans},
      {"/api/span_events", TableId::kSpanEvents},
      {"/api/span_links", TableId::kSpanLinks},
      {"/api/logs", TableId::kLogs},
      {"/api/metrics/points", TableId::kMetricsPoints},
      {"/api/metrics/hist", TableId::kMetricsHist},
  };
  auto it = kRoutes.find(path);
  if (it == kRoutes.end()) return false;
  *t = it->second;
  return true;
}

void HandleTable(QueryEngine* engine, TableId t, std::vector<std::pair<std::string, std::string>> params,
                 const std::function<bool()>& client_gone, HttpResponse* res) {
  const std::string format = TakeParam(&params, "format", "json");
  if (format != "json" && format != "ndjson") {
    return Fail(res, 400, "parameter 'format' must be json or ndjson, got '" + format + "'");
  }
  auto q = query::ParseQuery(t, params, NowUnixMillis(), engine->limits());
  if (!q.ok()) return FailStatus(res, q.status());
  q->cancelled = client_gone;
  auto rs = engine->Run(*q);
  if (!rs.ok()) return FailStatus(res, rs.status());
  const int64_t cap = engine->limits().max_result_bytes;
  if (format == "ndjson") {
    res->content_type = "application/x-ndjson";
    for (size_t r = 0; r < rs->rows.size(); ++r) {
      query::AppendRowJson(*rs, r, &res->body);
      res->body += '\n';
      if (static_cast<int64_t>(res->body.size()) > cap) break;
    }
    return;
  }
  std::string& out = res->body;
  out = "{\"rows\":";
  const int64_t n = query::AppendRowsJson(*rs, 0, rs->rows.size(), cap, &out);
  out += ",\"count\":" + std::to_string(n);
  const bool truncated = n < static_cast<int64_t>(rs->rows.size());
  out += std::string(",\"truncated\":") + (truncated ? "true" : "false");
  // A truncated answer cannot be continued by cursor (the cursor points past the cut rows).
  out += ",\"next_cursor\":" + (rs->next_cursor.empty() || truncated ? std::string("null") : Quote(rs->next_cursor)) + ",";
  if (!rs->warnings.empty()) {
    out += "\"warnings\":[";
    for (size_t i = 0; i < rs->warnings.size(); ++i) out += (i ? "," : "") + Quote(rs->warnings[i]);
    out += "],";
    OTLAKE_LOG(WARN) << "query could not plan every day: " << rs->warnings.front();
  }
  AppendScan(rs->stats, &out);
  out += "}";
}

// Keeps only the rows of `project` (an API key limited to it).
void KeepProject(ResultSet* rs, std::string_view project) {
  size_t col = 0;
  while (col < rs->columns.size() && rs->columns[col] != "project_id") ++col;
  std::vector<std::vector<query::Cell>> kept;
  for (auto& row : rs->rows) {
    const auto* p = col < row.size() ? std::get_if<std::string>(&row[col]) : nullptr;
    if (p != nullptr && *p == project) kept.push_back(std::move(row));
  }
  rs->rows = std::move(kept);
}

void HandleTrace(QueryEngine* engine, std::string id, std::vector<std::pair<std::string, std::string>> params,
                 const std::function<bool()>& client_gone, std::string_view project, HttpResponse* res) {
  if (!query::IsHexId(id, 32)) {
    return Fail(res, 400, "trace id must be 32 hex characters, got '" + id.substr(0, 64) + "'");
  }
  for (char& c : id) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  query::Storage storage = query::Storage::kAuto;
  const std::string format = TakeParam(&params, "format", "json");
  if (format != "json" && format != "otlp") {
    return Fail(res, 400, "parameter 'format' must be json or otlp, got '" + format + "'");
  }
  const std::string s = TakeParam(&params, "storage", "auto");
  if (s == "local") storage = query::Storage::kLocal;
  else if (s == "s3") storage = query::Storage::kS3;
  else if (s != "auto") return Fail(res, 400, "parameter 'storage' must be auto, local or s3, got '" + s + "'");
  if (!params.empty()) {
    return Fail(res, 400, "unknown parameter '" + params.front().first + "' for /api/traces");
  }
  auto tr = engine->GetTrace(id, storage, client_gone);
  if (!tr.ok()) return FailStatus(res, tr.status());
  if (!project.empty()) {
    for (ResultSet* rs : {&tr->spans, &tr->events, &tr->links}) KeepProject(rs, project);
  }
  if (tr->spans.rows.empty() && tr->events.rows.empty() && tr->links.rows.empty()) {
    return Fail(res, 404, "trace " + id + " not found");
  }
  if (format == "otlp") {
    auto otlp = query::TraceToOtlpJson(*tr);
    if (!otlp.ok()) return FailStatus(res, otlp.status());
    res->body = std::move(*otlp);
    return;
  }
  // Events and links nest under their span (by span_id), in their index order.
  auto index_by_span = [](const ResultSet& rs) {
    std::map<std::string, std::vector<size_t>> m;
    size_t col = 0;
    while (col < rs.columns.size() && rs.columns[col] != "span_id") ++col;
    for (size_t r = 0; r < rs.rows.size(); ++r) {
      if (const auto* s = std::get_if<std::string>(&rs.rows[r][col])) m[*s].push_back(r);
    }
    return m;
  };
  auto events = index_by_span(tr->events);
  auto links = index_by_span(tr->links);
  size_t span_col = 0;
  while (span_col < tr->spans.columns.size() && tr->spans.columns[span_col] != "span_id") ++span_col;
  std::string& out = res->body;
  out = "{\"trace_id\":\"" + id + "\",\"spans\":[";
  auto nested = [&](const char* key, const ResultSet& rs, const std::vector<size_t>* rows) {
    out += std::string(",\"") + key + "\":[";
    for (size_t i = 0; rows && i < rows->size(); ++i) {
      if (i) out += ',';
      query::AppendRowJson(rs, (*rows)[i], &out);
    }
    out += ']';
  };
  for (size_t r = 0; r < tr->spans.rows.size(); ++r) {
    if (r) out += ',';
    query::AppendRowJson(tr->spans, r, &out);
    out.pop_back();  // reopen the object to nest events and links
    const std::string* sid = std::get_if<std::string>(&tr->spans.rows[r][span_col]);
    auto e = sid ? events.find(*sid) : events.end();
    auto l = sid ? links.find(*sid) : links.end();
    nested("events", tr->events, e != events.end() ? &e->second : nullptr);
    nested("links", tr->links, l != links.end() ? &l->second : nullptr);
    out += '}';
  }
  out += "],\"count\":" + std::to_string(tr->spans.rows.size()) + ",\"events\":" +
         std::to_string(tr->events.rows.size()) + ",\"links\":" + std::to_string(tr->links.rows.size()) + ",";
  query::ScanStats total = tr->spans.stats;
  for (const auto* rs : {&tr->events, &tr->links}) {
    total.files_read += rs->stats.files_read;
    total.row_groups_read += rs->stats.row_groups_read;
    total.rows_scanned += rs->stats.rows_scanned;
    total.bytes_read += rs->stats.bytes_read;
    total.elapsed_us += rs->stats.elapsed_us;
    total.snapshots.insert(total.snapshots.end(), rs->stats.snapshots.begin(), rs->stats.snapshots.end());
  }
  std::vector<std::string> warnings;
  for (const auto* rs : {&tr->spans, &tr->events, &tr->links}) {
    warnings.insert(warnings.end(), rs->warnings.begin(), rs->warnings.end());
  }
  if (!warnings.empty()) {
    out += "\"warnings\":[";
    for (size_t i = 0; i < warnings.size(); ++i) out += (i ? "," : "") + Quote(warnings[i]);
    out += "],";
  }
  AppendScan(total, &out);
  out += "}";
}

// The `storage` parameter of routes that take no other query parameters.
bool TakeStorage(std::vector<std::pair<std::string, std::string>>* params, query::Storage* storage,
                 HttpResponse* res) {
  const std::string s = TakeParam(params, "storage", "auto");
  if (s == "auto") *storage = query::Storage::kAuto;
  else if (s == "local") *storage = query::Storage::kLocal;
  else if (s == "s3") *storage = query::Storage::kS3;
  else {
    Fail(res, 400, "parameter 'storage' must be auto, local or s3, got '" + s + "'");
    return false;
  }
  return true;
}

void HandleDays(QueryEngine* engine, std::vector<std::pair<std::string, std::string>> params,
                HttpResponse* res) {
  query::Storage storage;
  if (!TakeStorage(&params, &storage, res)) return;
  if (!params.empty()) return Fail(res, 400, "unknown parameter '" + params.front().first + "' for /api/days");
  auto days = engine->Days(storage);
  if (!days.ok()) return FailStatus(res, days.status());
  std::string& out = res->body;
  out = "{\"days\":[";
  for (size_t i = 0; i < days->size(); ++i) {
    const query::DayInfo& d = (*days)[i];
    if (i) out += ',';
    int64_t rows = 0, bytes = 0, files = 0;
    std::string tables;
    std::optional<int64_t> lo, hi;
    for (const query::TableInfo& t : d.tables) {
      if (!tables.empty()) tables += ',';
      tables += "\"" + std::string(table::TableName(t.table)) + "\":{\"rows\":" + std::to_string(t.rows) +
                ",\"files\":" + std::to_string(t.files) + ",\"bytes\":" + std::to_string(t.bytes) +
                ",\"version\":" + std::to_string(t.version);
      if (!t.error.empty()) tables += ",\"error\":" + Quote(t.error);
      if (t.min_event_ts) {
        tables += ",\"min_event_ts\":" + std::to_string(*t.min_event_ts) +
                  ",\"max_event_ts\":" + std::to_string(*t.max_event_ts);
        lo = lo ? std::min(*lo, *t.min_event_ts) : *t.min_event_ts;
        hi = hi ? std::max(*hi, *t.max_event_ts) : *t.max_event_ts;
      }
      tables += "}";
      rows += t.rows;
      bytes += t.bytes;
      files += t.files;
    }
    out += "{\"day\":\"" + d.day + "\",\"storage\":\"" + d.storage + "\",\"phase\":\"" + d.phase +
           "\",\"local\":" + (d.local ? "true" : "false") + ",\"rows\":" + std::to_string(rows) +
           ",\"files\":" + std::to_string(files) + ",\"bytes\":" + std::to_string(bytes);
    if (lo) out += ",\"min_event_ts\":" + std::to_string(*lo) + ",\"max_event_ts\":" + std::to_string(*hi);
    out += ",\"tables\":{" + tables + "}}";
  }
  out += "],\"count\":" + std::to_string(days->size()) + "}";
}

void HandleServices(QueryEngine* engine, std::vector<std::pair<std::string, std::string>> params,
                    HttpResponse* res) {
  std::optional<int64_t> from, to;
  query::Storage storage;
  if (!TakeStorage(&params, &storage, res)) return;
  for (const char* name : {"date_from", "date_to"}) {
    std::string v = TakeParam(&params, name, "");
    if (v.empty()) continue;
    int64_t d;
    if (!ParseDate(v, &d)) return Fail(res, 400, std::string("parameter '") + name + "' must be a date YYYY-MM-DD, got '" + v + "'");
    (name[5] == 'f' ? from : to) = d;
  }
  if (!params.empty()) return Fail(res, 400, "unknown parameter '" + params.front().first + "' for /api/services");
  if (from && !to) to = from;
  if (to && !from) from = to;
  if (from && *from > *to) std::swap(from, to);
  auto svc = engine->Services(from, to, storage);
  if (!svc.ok()) return FailStatus(res, svc.status());
  std::string& out = res->body;
  out = "{\"services\":[";
  for (size_t i = 0; i < svc->size(); ++i) {
    const query::ServiceCount& s = (*svc)[i];
    if (i) out += ',';
    out += "{\"day\":\"" + s.day + "\",\"service_name\":" + Quote(s.service) + ",\"spans\":" +
           std::to_string(s.spans) + ",\"logs\":" + std::to_string(s.logs) + "}";
  }
  out += "],\"count\":" + std::to_string(svc->size()) + "}";
}

}  // namespace

std::string ApiRequestProject(const HttpRequest& req, std::string_view key_project) {
  if (req.path == "/api/days" || req.path == "/api/services") return std::string(auth::kAllProjects);
  std::string p;
  if (req.QueryParam("project_id", &p)) return p;
  return std::string(key_project);
}

void HandleApi(QueryEngine* engine, HttpRequest& req, HttpResponse* res, std::string_view project) {
  res->content_type = "application/json";
  if (engine == nullptr) return Fail(res, 404, "the read API is not enabled on this server");
  TableId t = TableId::kSpans;
  const bool is_table = TableForPath(req.path, &t);
  const bool is_trace = req.path.rfind("/api/traces/", 0) == 0;
  const bool known = is_table || is_trace || req.path == "/api/days" || req.path == "/api/services";
  if (!known) return Fail(res, 404, "no route for " + req.path);
  if (req.method != "GET" && req.method != "HEAD") {
    res->headers.emplace_back("Allow", "GET");
    return Fail(res, 405, "method " + req.method + " not allowed on " + req.path + "; use GET");
  }
  std::vector<std::pair<std::string, std::string>> params;
  if (Status st = SplitQuery(req.query, &params); !st.ok()) return FailStatus(res, st);
  // Queries share the HTTP threads with ingest: at most one per CPU runs at a time, so OTLP
  // requests always find free threads; the others are told to come back.
  static std::atomic<int> running{0};
  static const int kMaxRunning = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (running.fetch_add(1) >= kMaxRunning) {
    running.fetch_sub(1);
    res->headers.emplace_back("Retry-After", "1");
    return Fail(res, 503, "too many queries running (" + std::to_string(kMaxRunning) + "); retry shortly");
  }
  struct Release {
    ~Release() { running.fetch_sub(1); }
  } release;
  if (!project.empty()) {
    // A key limited to one project: every table query gets that project as one more filter (the
    // caller refused a request naming another); days and services span every project.
    if (!is_table && !is_trace) return Fail(res, 403, req.path + " spans every project; use a key without a project");
    if (is_table) params.emplace_back("project_id", std::string(project));
  }
  if (is_table) return HandleTable(engine, t, std::move(params), req.client_gone, res);
  if (is_trace) return HandleTrace(engine, req.path.substr(12), std::move(params), req.client_gone, project, res);
  if (req.path == "/api/days") return HandleDays(engine, params, res);
  HandleServices(engine, std::move(params), res);
}

}  // namespace otlake::receiver
