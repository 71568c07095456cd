#include "otlake/receiver/api_ui.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <map>
#include <set>
#include <thread>
#include <unordered_map>

#include "otlake/common/log.h"
#include "otlake/common/time_util.h"
#include "otlake/query/query.h"
#include "otlake/receiver/log_tail.h"

namespace otlake::receiver {
namespace {

using Params = std::vector<std::pair<std::string, std::string>>;
using query::Cell;
using server::HttpRequest;
using server::HttpResponse;
using table::TableId;

// Rows an aggregate reads at most; past it the answer says "sampled" (the newest rows counted).
constexpr int64_t kMaxAggregateRows = 2'000'000;
constexpr int64_t kMaxSeriesRows = 500'000;
constexpr int kMaxSeries = 50;
constexpr int64_t kMaxBuckets = 2000;

std::string Quote(std::string_view s) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  return std::string(sb.GetString(), sb.GetSize());
}

std::string Num(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[32];
  snprintf(buf, sizeof buf, "%.15g", v);
  return buf;
}

void Fail(HttpResponse* res, int status, std::string_view message) {
  res->status = status;
  res->content_type = "application/json";
  res->body = "{\"error\":" + Quote(message) + ",\"status\":" + std::to_string(status) + "}";
  if (status >= 500) OTLAKE_LOG(WARN) << "api: " << status << " " << message;
}

void FailStatus(HttpResponse* res, const Status& st) {
  if (st.IsInvalid()) return Fail(res, 400, st.message());
  if (st.IsCancelled()) {
    res->headers.emplace_back("Retry-After", "5");
    return Fail(res, 503, st.message());
  }
  Fail(res, 500, "reading the lake failed: " + st.ToString());
}

Status SplitQuery(std::string_view raw, Params* out) {
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
      return Status::Invalid("malformed percent-encoding in query parameter '", std::string(piece.substr(0, 64)), "'");
    }
    out->emplace_back(std::move(k), std::move(v));
  }
  return Status::OK();
}

bool Take(Params* params, std::string_view name, std::string* value) {
  for (auto it = params->begin(); it != params->end(); ++it) {
    if (it->first == name) {
      *value = it->second;
      params->erase(it);
      return true;
    }
  }
  return false;
}

int ColumnIndex(TableId t, std::string_view name) {
  auto cols = table::Columns(t);
  for (size_t i = 0; i < cols.size(); ++i) {
    if (name == cols[i].name) return static_cast<int>(i);
  }
  return -1;
}

// The attribute map column of `prefix` ("point", "resource", ...): `<prefix>_attrs`, or the older
// `<prefix>_attrs_json`.
int AttrColumn(TableId t, std::string_view prefix) {
  int c = ColumnIndex(t, std::string(prefix) + "_attrs");
  return c >= 0 ? c : ColumnIndex(t, std::string(prefix) + "_attrs_json");
}

std::string_view RowAttrPrefix(TableId t) {
  switch (t) {
    case TableId::kSpans: return "span";
    case TableId::kSpanEvents: return "event";
    case TableId::kSpanLinks: return "link";
    case TableId::kLogs: return "log";
    default: return "point";
  }
}

bool ParseInt(const std::string& s, int64_t* v) {
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  long long x = std::strtoll(s.c_str(), &end, 10);
  if (errno != 0 || end != s.c_str() + s.size()) return false;
  *v = x;
  return true;
}

// How an aggregate groups rows: by a column's value, or by one key of an attribute map.
struct GroupBy {
  int column = -1;      // selected column holding the value (or the attribute map)
  std::string attr_key;  // set: look this key up in the map column
  bool severity = false;  // logs: severity_number -> level name
};

std::string SeverityLevel(int64_t n) {
  if (n <= 0) return "unknown";
  if (n >= 21) return "fatal";
  if (n >= 17) return "error";
  if (n >= 13) return "warn";
  if (n >= 9) return "info";
  if (n >= 5) return "debug";
  return "trace";
}

// Parses group_by: "severity" (logs), "status" (= status_code), a column, "attr.<k>",
// "resource.<k>", "scope.<k>".
Status ParseGroupBy(TableId t, const std::string& g, GroupBy* out, int* select_col) {
  std::string name = g;
  if (g == "severity") {
    if (t != TableId::kLogs) return Status::Invalid("group_by=severity is only for table=logs");
    out->severity = true;
    name = "severity_number";
  } else if (g == "status") {
    name = "status_code";
  }
  for (std::string_view prefix : {"attr.", "resource.", "scope."}) {
    if (g.rfind(prefix, 0) == 0 && g.size() > prefix.size()) {
      const std::string_view p = prefix == "attr." ? RowAttrPrefix(t) : prefix.substr(0, prefix.size() - 1);
      *select_col = AttrColumn(t, p);
      if (*select_col < 0) return Status::Invalid("parameter 'group_by': table ", std::string(table::TableName(t)), " has no ", std::string(p), " attributes");
      out->attr_key = g.substr(prefix.size());
      return Status::OK();
    }
  }
  *select_col = ColumnIndex(t, name);
  if (*select_col < 0) {
    return Status::Invalid("parameter 'group_by': unknown column '", g, "' of table ", std::string(table::TableName(t)),
                           " (use a column, severity, status, attr.<key>, resource.<key> or scope.<key>)");
  }
  return Status::OK();
}

// Renders the group value of row `r` (the group column is at `pos` of the selection).
std::string GroupValue(const query::ResultSet& rs, size_t r, size_t pos, const GroupBy& g) {
  const Cell& c = rs.rows[r][pos];
  if (g.severity) {
    const int64_t* n = std::get_if<int64_t>(&c);
    return SeverityLevel(n ? *n : 0);
  }
  if (!g.attr_key.empty()) {
    // The map as the API renders it (a JSON object), whatever its storage type.
    std::string json;
    query::AppendRowJson(rs, r, &json);
    rapidjson::Document d;
    d.Parse(json.data(), json.size());
    if (d.HasParseError() || !d.IsObject()) return "";
    const std::string& col = rs.columns[pos];
    auto m = d.FindMember(col.c_str());
    if (m == d.MemberEnd()) return "";
    const rapidjson::Value* obj = &m->value;
    rapidjson::Document inner;
    if (obj->IsString()) {  // a map rendered as JSON text
      inner.Parse(obj->GetString(), obj->GetStringLength());
      if (inner.HasParseError()) return "";
      obj = &inner;
    }
    if (!obj->IsObject()) return "";
    auto v = obj->FindMember(g.attr_key.c_str());
    if (v == obj->MemberEnd()) return "";
    if (v->value.IsString()) return std::string(v->value.GetString(), v->value.GetStringLength());
    rapidjson::StringBuffer sb;
    rapidjson::Writer<rapidjson::StringBuffer> w(sb);
    v->value.Accept(w);
    return std::string(sb.GetString(), sb.GetSize());
  }
  if (const auto* s = std::get_if<std::string>(&c)) return *s;
  if (const auto* i = std::get_if<int64_t>(&c)) return std::to_string(*i);
  if (const auto* d = std::get_if<double>(&c)) return Num(*d);
  if (const auto* b = std::get_if<bool>(&c)) return *b ? "true" : "false";
  return "";
}

struct Buckets {
  int64_t from = 0, to = 0, step = 1;
  int64_t count = 0;
  int64_t Index(int64_t t) const { return std::clamp<int64_t>((t - from) / step, 0, count - 1); }
};

// Bucket layout from step_ms or buckets (default `def`) over the query's time range (or the
// rows' own range when the query is bounded by dates only).
Status PlanBuckets(Params* params, const query::Query& q, const query::ResultSet& rs, size_t ts_pos, int64_t def,
                   Buckets* b) {
  std::string v;
  int64_t step = 0, n = def;
  if (Take(params, "step_ms", &v) && (!ParseInt(v, &step) || step < 1)) {
    return Status::Invalid("parameter 'step_ms' must be a positive integer, got '", v, "'");
  }
  if (Take(params, "buckets", &v) && (!ParseInt(v, &n) || n < 1 || n > kMaxBuckets)) {
    return Status::Invalid("parameter 'buckets' must be 1..", kMaxBuckets, ", got '", v, "'");
  }
  int64_t lo = q.time_ms_from.value_or(INT64_MAX), hi = q.time_ms_to.value_or(INT64_MIN);
  if (!q.time_ms_from || !q.time_ms_to) {
    for (const auto& row : rs.rows) {
      if (const auto* t = std::get_if<int64_t>(&row[ts_pos])) {
        if (!q.time_ms_from) lo = std::min(lo, *t);
        if (!q.time_ms_to) hi = std::max(hi, *t);
      }
    }
    if (!q.time_ms_to && q.time_ms_from && hi < lo) hi = NowUnixMillis();
    if (lo > hi) lo = hi = NowUnixMillis();
  }
  if (step == 0) step = std::max<int64_t>(1, (hi - lo + n) / n);
  // Round the start down to the step so buckets line up across refreshes.
  b->step = step;
  b->from = lo - ((lo % step) + step) % step;
  b->count = std::min<int64_t>(kMaxBuckets, (hi - b->from) / step + 1);
  b->to = b->from + b->count * step;
  return Status::OK();
}

// One aggregate query: parameters of the row API plus the selection this route needs.
Result<query::Query> BuildQuery(TableId t, Params params, std::string_view project, int64_t max_rows) {
  if (!project.empty()) params.emplace_back("project_id", std::string(project));
  for (const char* forbidden : {"select", "max_rows", "limit", "cursor", "order", "format"}) {
    std::string v;
    if (Take(&params, forbidden, &v)) return Status::Invalid("parameter '", forbidden, "' is not accepted here");
  }
  auto q = query::ParseQuery(t, params, NowUnixMillis(), query::QueryLimits{});
  if (!q.ok()) return q.status();
  q->max_rows = max_rows;
  return q;
}

void HandleCounts(query::QueryEngine* engine, Params params, std::string_view project,
                  const std::function<bool()>& gone, HttpResponse* res) {
  std::string tname = "spans", group;
  Take(&params, "table", &tname);
  TableId t;
  if (!table::ParseTableName(tname, &t)) return Fail(res, 400, "parameter 'table' must be a table name (spans, logs, …), got '" + tname + "'");
  Take(&params, "group_by", &group);
  // Bucket parameters are read after the query ran (they may need the rows' range).
  Params bucket_params;
  std::string v;
  for (const char* k : {"step_ms", "buckets"}) {
    if (Take(&params, k, &v)) bucket_params.emplace_back(k, v);
  }
  auto q = BuildQuery(t, std::move(params), project, kMaxAggregateRows);
  if (!q.ok()) return FailStatus(res, q.status());
  GroupBy g;
  int gcol = -1;
  if (!group.empty()) {
    if (Status st = ParseGroupBy(t, group, &g, &gcol); !st.ok()) return FailStatus(res, st);
  }
  q->select = {table::kEventTs};
  if (gcol >= 0) q->select.push_back(gcol);
  q->cancelled = gone;
  auto rs = engine->Run(*q);
  if (!rs.ok()) return FailStatus(res, rs.status());
  Buckets b;
  if (Status st = PlanBuckets(&bucket_params, *q, *rs, 0, 60, &b); !st.ok()) return FailStatus(res, st);
  std::vector<int64_t> counts(b.count, 0);
  std::map<std::string, std::vector<int64_t>> groups;
  std::map<std::string, int64_t> totals;
  for (size_t r = 0; r < rs->rows.size(); ++r) {
    const auto* ts = std::get_if<int64_t>(&rs->rows[r][0]);
    if (ts == nullptr) continue;
    const int64_t i = b.Index(*ts);
    ++counts[i];
    if (gcol >= 0) {
      std::string key = GroupValue(*rs, r, 1, g);
      auto& vec = groups[key];
      if (vec.empty()) vec.assign(b.count, 0);
      ++vec[i];
      ++totals[key];
    }
  }
  std::string& out = res->body;
  out = "{\"table\":" + Quote(tname) + ",\"from\":" + std::to_string(b.from) + ",\"to\":" + std::to_string(b.to) +
        ",\"step_ms\":" + std::to_string(b.step) + ",\"total\":" + std::to_string(rs->rows.size()) +
        ",\"sampled\":" + (static_cast<int64_t>(rs->rows.size()) >= kMaxAggregateRows ? "true" : "false");
  if (!group.empty()) {
    out += ",\"group_by\":" + Quote(group) + ",\"groups\":{";
    bool first = true;
    for (const auto& [k, n] : totals) {
      out += (first ? "" : ",") + Quote(k) + ":" + std::to_string(n);
      first = false;
    }
    out += "}";
  }
  out += ",\"buckets\":[";
  for (int64_t i = 0; i < b.count; ++i) {
    if (i) out += ',';
    out += "{\"t\":" + std::to_string(b.from + i * b.step) + ",\"count\":" + std::to_string(counts[i]);
    if (!group.empty()) {
      out += ",\"groups\":{";
      bool first = true;
      for (const auto& [k, vec] : groups) {
        if (vec[i] == 0) continue;
        out += (first ? "" : ",") + Quote(k) + ":" + std::to_string(vec[i]);
        first = false;
      }
      out += "}";
    }
    out += "}";
  }
  out += "],\"elapsed_ms\":" + Num(rs->stats.elapsed_us / 1000.0) + "}";
}

enum class Agg { kAvg, kSum, kMin, kMax, kLast, kRate, kCount };

void HandleSeries(query::QueryEngine* engine, Params params, std::string_view project,
                  const std::function<bool()>& gone, HttpResponse* res) {
  std::string group, agg_name, v;
  Take(&params, "group_by", &group);
  Take(&params, "agg", &agg_name);
  bool has_instrument = false;
  for (const auto& [k, val] : params) has_instrument |= k == "instrument_name" && !val.empty();
  if (!has_instrument) return Fail(res, 400, "parameter 'instrument_name' is required for /api/metrics/series");
  Params bucket_params;
  for (const char* k : {"step_ms", "buckets"}) {
    if (Take(&params, k, &v)) bucket_params.emplace_back(k, v);
  }
  const TableId t = TableId::kMetricsPoints;
  auto q = BuildQuery(t, std::move(params), project, kMaxSeriesRows);
  if (!q.ok()) return FailStatus(res, q.status());
  GroupBy g;
  int gcol = -1;
  if (!group.empty()) {
    if (Status st = ParseGroupBy(t, group, &g, &gcol); !st.ok()) return FailStatus(res, st);
  }
  namespace mp = table::metrics_points;
  q->select = {table::kEventTs, mp::kValue, mp::kValueInt, mp::kInstrumentType};
  if (gcol >= 0) q->select.push_back(gcol);
  q->ascending = true;
  q->cancelled = gone;
  auto rs = engine->Run(*q);
  if (!rs.ok()) return FailStatus(res, rs.status());
  std::string type;
  if (!rs->rows.empty()) {
    if (const auto* s = std::get_if<std::string>(&rs->rows.front()[3])) type = *s;
  }
  Agg agg;
  if (agg_name.empty()) agg_name = (type == "sum" || type == "Sum") ? "last" : "avg";
  static const std::map<std::string, Agg> kAggs = {{"avg", Agg::kAvg}, {"sum", Agg::kSum}, {"min", Agg::kMin}, {"max", Agg::kMax},
                                                    {"last", Agg::kLast}, {"rate", Agg::kRate}, {"count", Agg::kCount}};
  auto a = kAggs.find(agg_name);
  if (a == kAggs.end()) return Fail(res, 400, "parameter 'agg' must be avg, sum, min, max, last, rate or count, got '" + agg_name + "'");
  agg = a->second;
  Buckets b;
  if (Status st = PlanBuckets(&bucket_params, *q, *rs, 0, 120, &b); !st.ok()) return FailStatus(res, st);
  struct Acc {
    std::vector<double> sum, min, max, last;
    std::vector<int64_t> n;
    int64_t points = 0;
  };
  std::unordered_map<std::string, Acc> series;
  for (size_t r = 0; r < rs->rows.size(); ++r) {
    const auto& row = rs->rows[r];
    const auto* ts = std::get_if<int64_t>(&row[0]);
    if (ts == nullptr) continue;
    double val;
    if (const auto* d = std::get_if<double>(&row[1])) val = *d;
    else if (const auto* i = std::get_if<int64_t>(&row[2])) val = static_cast<double>(*i);
    else continue;
    std::string key = gcol >= 0 ? GroupValue(*rs, r, 4, g) : std::string();
    Acc& acc = series[key];
    if (acc.n.empty()) {
      acc.sum.assign(b.count, 0);
      acc.min.assign(b.count, INFINITY);
      acc.max.assign(b.count, -INFINITY);
      acc.last.assign(b.count, NAN);
      acc.n.assign(b.count, 0);
    }
    const int64_t i = b.Index(*ts);
    acc.sum[i] += val;
    acc.min[i] = std::min(acc.min[i], val);
    acc.max[i] = std::max(acc.max[i], val);
    acc.last[i] = val;  // rows are ascending by time
    ++acc.n[i];
    ++acc.points;
  }
  // The kMaxSeries series with the most points.
  std::vector<std::pair<std::string, Acc*>> order;
  for (auto& [k, acc] : series) order.emplace_back(k, &acc);
  std::sort(order.begin(), order.end(), [](const auto& x, const auto& y) {
    return x.second->points != y.second->points ? x.second->points > y.second->points : x.first < y.first;
  });
  const bool cut = order.size() > static_cast<size_t>(kMaxSeries);
  if (cut) order.resize(kMaxSeries);
  std::sort(order.begin(), order.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
  std::string& out = res->body;
  out = "{\"instrument_type\":" + Quote(type) + ",\"agg\":" + Quote(agg_name) + ",\"from\":" + std::to_string(b.from) +
        ",\"to\":" + std::to_string(b.to) + ",\"step_ms\":" + std::to_string(b.step) + ",\"points\":" +
        std::to_string(rs->rows.size()) + ",\"sampled\":" +
        (static_cast<int64_t>(rs->rows.size()) >= kMaxSeriesRows ? "true" : "false") +
        ",\"series_cut\":" + (cut ? "true" : "false") + ",\"times\":[";
  for (int64_t i = 0; i < b.count; ++i) out += (i ? "," : "") + std::to_string(b.from + i * b.step);
  out += "],\"series\":[";
  for (size_t s = 0; s < order.size(); ++s) {
    const Acc& acc = *order[s].second;
    out += (s ? ",{\"key\":" : "{\"key\":") + Quote(order[s].first) + ",\"points\":" + std::to_string(acc.points) + ",\"values\":[";
    double prev = NAN;
    for (int64_t i = 0; i < b.count; ++i) {
      if (i) out += ',';
      if (acc.n[i] == 0) {
        out += "null";
        continue;
      }
      double v = 0;
      switch (agg) {
        case Agg::kAvg: v = acc.sum[i] / acc.n[i]; break;
        case Agg::kSum: v = acc.sum[i]; break;
        case Agg::kMin: v = acc.min[i]; break;
        case Agg::kMax: v = acc.max[i]; break;
        case Agg::kLast: v = acc.last[i]; break;
        case Agg::kCount: v = static_cast<double>(acc.n[i]); break;
        case Agg::kRate:
          // Per second, from the last value of the previous bucket holding one (a cumulative
          // counter); a drop is a reset: no value.
          v = std::isnan(prev) || acc.last[i] < prev ? NAN : (acc.last[i] - prev) * 1000.0 / b.step;
          prev = acc.last[i];
          break;
      }
      out += Num(v);
    }
    out += "]}";
  }
  out += "],\"elapsed_ms\":" + Num(rs->stats.elapsed_us / 1000.0) + "}";
}

void HandleInstruments(query::QueryEngine* engine, Params params, std::string_view project,
                       const std::function<bool()>& gone, HttpResponse* res) {
  struct Info {
    std::string type, unit;
    std::set<std::string> services, keys;
    int64_t points = 0;
    int sampled_attrs = 0;
  };
  std::map<std::string, Info> all;
  for (TableId t : {TableId::kMetricsPoints, TableId::kMetricsHist}) {
    auto q = BuildQuery(t, params, project, kMaxAggregateRows / 4);
    if (!q.ok()) return FailStatus(res, q.status());
    const int attrs = AttrColumn(t, "point");
    q->select = {ColumnIndex(t, "instrument_name"), ColumnIndex(t, "instrument_type"), ColumnIndex(t, "unit"),
                 table::kServiceName};
    if (attrs >= 0) q->select.push_back(attrs);
    q->cancelled = gone;
    auto rs = engine->Run(*q);
    if (!rs.ok()) return FailStatus(res, rs.status());
    for (size_t r = 0; r < rs->rows.size(); ++r) {
      const auto& row = rs->rows[r];
      auto str = [&](size_t i) {
        const auto* s = std::get_if<std::string>(&row[i]);
        return s ? *s : std::string();
      };
      Info& info = all[str(0)];
      info.type = str(1);
      info.unit = str(2);
      info.services.insert(str(3));
      ++info.points;
      if (attrs >= 0 && info.sampled_attrs < 50) {  // attribute keys from a sample of points
        ++info.sampled_attrs;
        std::string json;
        query::AppendRowJson(*rs, r, &json);
        rapidjson::Document d;
        d.Parse(json.data(), json.size());
        if (d.HasParseError() || !d.IsObject()) continue;
        auto m = d.FindMember(rs->columns[4].c_str());
        if (m == d.MemberEnd()) continue;
        rapidjson::Document inner;
        const rapidjson::Value* obj = &m->value;
        if (obj->IsString()) {
          inner.Parse(obj->GetString(), obj->GetStringLength());
          obj = &inner;
        }
        if (obj->IsObject()) {
          for (auto it = obj->MemberBegin(); it != obj->MemberEnd(); ++it) info.keys.insert(it->name.GetString());
        }
      }
    }
  }
  std::string& out = res->body;
  out = "{\"instruments\":[";
  bool first = true;
  for (const auto& [name, info] : all) {
    out += std::string(first ? "" : ",") + "{\"instrument_name\":" + Quote(name) + ",\"instrument_type\":" + Quote(info.type) +
           ",\"unit\":" + Quote(info.unit) + ",\"points\":" + std::to_string(info.points) + ",\"services\":[";
    bool f2 = true;
    for (const auto& s : info.services) {
      out += (f2 ? "" : ",") + Quote(s);
      f2 = false;
    }
    out += "],\"attr_keys\":[";
    f2 = true;
    for (const auto& k : info.keys) {
      out += (f2 ? "" : ",") + Quote(k);
      f2 = false;
    }
    out += "]}";
    first = false;
  }
  out += "],\"count\":" + std::to_string(all.size()) + "}";
}

}  // namespace

bool IsUiApiPath(std::string_view path) {
  return path == "/api/counts" || path == "/api/metrics/series" || path == "/api/metrics/instruments" ||
         path == "/api/logs/tail";
}

void HandleUiApi(query::QueryEngine* engine, LogTail* tail, HttpRequest& req, HttpResponse* res,
                 std::string_view project) {
  res->content_type = "application/json";
  if (engine == nullptr) return Fail(res, 404, "the read API is not enabled on this server");
  if (req.method != "GET" && req.method != "HEAD") {
    res->headers.emplace_back("Allow", "GET");
    return Fail(res, 405, "method " + req.method + " not allowed on " + req.path + "; use GET");
  }
  Params params;
  if (Status st = SplitQuery(req.query, &params); !st.ok()) return FailStatus(res, st);
  if (req.path == "/api/logs/tail") {
    if (req.method != "GET") {  // a stream has no HEAD form
      res->headers.emplace_back("Allow", "GET");
      return Fail(res, 405, "method " + req.method + " not allowed on /api/logs/tail; use GET");
    }
    if (tail == nullptr) return Fail(res, 404, "live tail is not enabled on this server");
    return tail->Subscribe(std::move(params), project, req, res);
  }
  // Aggregates share the HTTP threads with ingest like the row API: at most one per CPU.
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
  if (req.path == "/api/counts") return HandleCounts(engine, std::move(params), project, req.client_gone, res);
  if (req.path == "/api/metrics/series") return HandleSeries(engine, std::move(params), project, req.client_gone, res);
  HandleInstruments(engine, std::move(params), project, req.client_gone, res);
}

}  // namespace otlake::receiver
