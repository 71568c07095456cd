// Lake rows -> OTLP/JSON Export*ServiceRequest documents (the OTLP/HTTP JSON encoding: hex IDs,
// enums as integers, 64-bit integers as strings, bytes as base64), so any OTel tool that loads
// OTLP/JSON loads them: a trace's spans (TraceToOtlpJson), log rows (LogsToOtlpJson) and metric
// points (MetricsToOtlpJson). Records are grouped back under their resource and scope (and metric).
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <initializer_list>
#include <map>
#include <tuple>

#include "otlake/otlp/encoding.h"
#include "otlake/otlp/typed_json.h"
#include "otlake/query/query.h"

namespace otlake::query {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void Str(Writer& w, std::string_view s) { w.String(s.data(), static_cast<rapidjson::SizeType>(s.size())); }

void WriteValue(Writer& w, const otlp::AnyValue& v);

void WriteAttributes(Writer& w, const std::vector<otlp::KeyValue>& kvs) {
  w.StartArray();
  for (const otlp::KeyValue& kv : kvs) {
    w.StartObject();
    w.Key("key");
    Str(w, kv.key);
    w.Key("value");
    WriteValue(w, kv.value);
    w.EndObject();
  }
  w.EndArray();
}

void WriteValue(Writer& w, const otlp::AnyValue& v) {
  using T = otlp::AnyValue::Type;
  w.StartObject();
  switch (v.type) {
    case T::kEmpty: break;
    case T::kString: w.Key("stringValue"); Str(w, v.string_value); break;
    case T::kBool: w.Key("boolValue"); w.Bool(v.bool_value); break;
    case T::kInt: w.Key("intValue"); Str(w, std::to_string(v.int_value)); break;
    case T::kDouble:
      w.Key("doubleValue");
      if (std::isfinite(v.double_value)) w.Double(v.double_value);
      else Str(w, std::isnan(v.double_value) ? "NaN" : v.double_value > 0 ? "Infinity" : "-Infinity");
      break;
    case T::kBytes: {
      std::string b64;
      otlp::AppendBase64(&b64, v.string_value);
      w.Key("bytesValue");
      Str(w, b64);
      break;
    }
    case T::kArray:
      w.Key("arrayValue");
      w.StartObject();
      w.Key("values");
      w.StartArray();
      for (const otlp::AnyValue& e : v.array) WriteValue(w, e);
      w.EndArray();
      w.EndObject();
      break;
    case T::kKvlist:
      w.Key("kvlistValue");
      w.StartObject();
      w.Key("values");
      WriteAttributes(w, v.kvlist);
      w.EndObject();
      break;
  }
  w.EndObject();
}

// Accessors by column name over one ResultSet row.
class Row {
 public:
  Row(const ResultSet& rs, size_t r) : rs_(rs), r_(r) {}
  const Cell* Get(std::string_view name) const {
    for (size_t j = 0; j < rs_.columns.size(); ++j) {
      if (rs_.columns[j] == name) return &rs_.rows[r_][j];
    }
    return nullptr;
  }
  std::string S(std::string_view name) const {
    const Cell* c = Get(name);
    const auto* s = c ? std::get_if<std::string>(c) : nullptr;
    return s ? *s : std::string();
  }
  int64_t I(std::string_view name) const {
    const Cell* c = Get(name);
    const auto* i = c ? std::get_if<int64_t>(c) : nullptr;
    return i ? *i : 0;
  }
  bool Null(std::string_view name) const {
    const Cell* c = Get(name);
    return c == nullptr || std::holds_alternative<std::monostate>(*c);
  }
  double D(std::string_view name) const {
    const Cell* c = Get(name);
    if (const auto* d = c ? std::get_if<double>(c) : nullptr) return *d;
    if (const auto* i = c ? std::get_if<int64_t>(c) : nullptr) return static_cast<double>(*i);
    return 0;
  }
  bool B(std::string_view name) const {
    const Cell* c = Get(name);
    const auto* b = c ? std::get_if<bool>(c) : nullptr;
    return b ? *b : false;
  }

 private:
  const ResultSet& rs_;
  size_t r_;
};

Status Attributes(Writer& w, const char* key, const std::string& json) {
  auto kvs = otlp::DecodeTypedJsonAttributes(json.empty() ? "{}" : json);
  if (!kvs.ok()) return Status::IOError("stored attributes do not decode: ", kvs.status().message());
  w.Key(key);
  WriteAttributes(w, *kvs);
  return Status::OK();
}

void Dropped(Writer& w, const char* key, int64_t n) {
  if (n == 0) return;
  w.Key(key);
  w.Int64(n);
}

// An enum stored as its name, or as decimal text when the number was outside the enum.
int EnumNumber(const std::string& s, std::initializer_list<const char*> names) {
  int i = 0;
  for (const char* n : names) {
    if (s == n) return i;
    ++i;
  }
  char* end = nullptr;
  const long v = std::strtol(s.c_str(), &end, 10);
  return !s.empty() && *end == '\0' ? static_cast<int>(v) : 0;
}

int KindNumber(const std::string& k) {
  return EnumNumber(k, {"UNSPECIFIED", "INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER"});
}

int StatusNumber(const std::string& s) { return EnumNumber(s, {"UNSET", "OK", "ERROR"}); }

void Double(Writer& w, double v) {
  if (std::isfinite(v)) w.Double(v);
  else Str(w, std::isnan(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity");
}

// A typed-JSON double (a number, or {"$double":"NaN"|"Infinity"|"-Infinity"}).
double TypedDouble(const rapidjson::Value& v) {
  if (v.IsNumber()) return v.GetDouble();
  if (v.IsObject()) {
    auto it = v.FindMember("$double");
    if (it != v.MemberEnd() && it->value.IsString()) {
      const std::string_view t(it->value.GetString(), it->value.GetStringLength());
      if (t == "NaN") return std::nan("");
      return t == "-Infinity" ? -HUGE_VAL : HUGE_VAL;
    }
  }
  return 0;
}

Status ParseJson(const std::string& text, rapidjson::Document* d, const char* what) {
  d->Parse(text.data(), text.size());
  if (d->HasParseError()) return Status::IOError("stored ", what, " is not JSON");
  return Status::OK();
}

// An unsigned integer literal as the OTLP/JSON string of a uint64.
std::string U64(const rapidjson::Value& v) {
  if (v.IsUint64()) return std::to_string(v.GetUint64());
  if (v.IsInt64()) return std::to_string(v.GetInt64());
  return "0";
}

// Resource and scope of a row, as the keys records are grouped by.
using ResourceKey = std::tuple<std::string, int64_t, std::string>;
using ScopeKey = std::tuple<std::string, std::string, std::string, int64_t, std::string>;
ResourceKey ResourceOf(const Row& row) {
  return {row.S("resource_attrs_json"), row.I("resource_dropped_attributes_count"), row.S("resource_schema_url")};
}
ScopeKey ScopeOf(const Row& row) {
  return {row.S("scope_name"), row.S("scope_version"), row.S("scope_attrs_json"),
          row.I("scope_dropped_attributes_count"), row.S("scope_schema_url")};
}

Status WriteResource(Writer& w, const ResourceKey& rk) {
  w.Key("resource");
  w.StartObject();
  OTLAKE_RETURN_NOT_OK(Attributes(w, "attributes", std::get<0>(rk)));
  Dropped(w, "droppedAttributesCount", std::get<1>(rk));
  w.EndObject();
  return Status::OK();
}

Status WriteScope(Writer& w, const ScopeKey& sk) {
  w.Key("scope");
  w.StartObject();
  w.Key("name");
  Str(w, std::get<0>(sk));
  w.Key("version");
  Str(w, std::get<1>(sk));
  OTLAKE_RETURN_NOT_OK(Attributes(w, "attributes", std::get<2>(sk)));
  Dropped(w, "droppedAttributesCount", std::get<3>(sk));
  w.EndObject();
  return Status::OK();
}

// Records grouped by resource, then scope, then `K` (first appearance order at every level).
template <typename K>
struct Grouped {
  std::vector<ResourceKey> resources;
  std::map<ResourceKey, std::vector<ScopeKey>> scopes;
  std::map<std::pair<ResourceKey, ScopeKey>, std::vector<K>> inner;
  std::map<std::tuple<ResourceKey, ScopeKey, K>, std::vector<std::pair<const ResultSet*, size_t>>> rows;

  void Add(const ResultSet& rs, size_t r, const K& k) {
    Row row(rs, r);
    const ResourceKey rk = ResourceOf(row);
    const ScopeKey sk = ScopeOf(row);
    if (!scopes.count(rk)) resources.push_back(rk);
    auto& sv = scopes[rk];
    if (std::find(sv.begin(), sv.end(), sk) == sv.end()) sv.push_back(sk);
    auto& kv = inner[{rk, sk}];
    if (std::find(kv.begin(), kv.end(), k) == kv.end()) kv.push_back(k);
    rows[{rk, sk, k}].emplace_back(&rs, r);
  }
};

Status WriteExemplars(Writer& w, const std::string& json) {
  if (json.empty() || json == "[]") return Status::OK();
  rapidjson::Document d;
  OTLAKE_RETURN_NOT_OK(ParseJson(json, &d, "exemplars_json"));
  if (!d.IsArray()) return Status::IOError("stored exemplars_json is not an array");
  w.Key("exemplars");
  w.StartArray();
  for (const auto& e : d.GetArray()) {
    if (!e.IsObject()) return Status::IOError("stored exemplar is not an object");
    w.StartObject();
    if (auto it = e.FindMember("filtered_attrs"); it != e.MemberEnd()) {
      rapidjson::StringBuffer sb;
      rapidjson::Writer<rapidjson::StringBuffer> aw(sb);
      it->value.Accept(aw);
      OTLAKE_RETURN_NOT_OK(Attributes(w, "filteredAttributes", std::string(sb.GetString(), sb.GetSize())));
    }
    if (auto it = e.FindMember("time_unix_nano"); it != e.MemberEnd()) {
      w.Key("timeUnixNano");
      Str(w, U64(it->value));
    }
    if (auto it = e.FindMember("value"); it != e.MemberEnd()) {
      if (it->value.IsInt64() || it->value.IsUint64()) {
        w.Key("asInt");
        Str(w, it->value.IsInt64() ? std::to_string(it->value.GetInt64()) : std::to_string(it->value.GetUint64()));
      } else {
        w.Key("asDouble");
        Double(w, TypedDouble(it->value));
      }
    }
    for (const char* k : {"span_id", "trace_id"}) {
      if (auto it = e.FindMember(k); it != e.MemberEnd() && it->value.IsString()) {
        w.Key(k[0] == 's' ? "spanId" : "traceId");
        w.String(it->value.GetString(), it->value.GetStringLength());
      }
    }
    w.EndObject();
  }
  w.EndArray();
  return Status::OK();
}

// Writes `"key": {"offset":N,"bucketCounts":[...]}` from exp_*_json.
Status WriteBuckets(Writer& w, const char* key, const std::string& json) {
  if (json.empty()) return Status::OK();
  rapidjson::Document d;
  OTLAKE_RETURN_NOT_OK(ParseJson(json, &d, "exp buckets"));
  if (!d.IsObject()) return Status::IOError("stored exp buckets are not an object");
  const auto offset = d.FindMember("offset");
  const auto counts = d.FindMember("counts");
  const bool zero_offset = offset == d.MemberEnd() || (offset->value.IsInt64() && offset->value.GetInt64() == 0);
  const bool no_counts = counts == d.MemberEnd() || !counts->value.IsArray() || counts->value.Empty();
  if (zero_offset && no_counts) return Status::OK();  // empty buckets: the same as absent in OTLP
  w.Key(key);
  w.StartObject();
  if (auto it = d.FindMember("offset"); it != d.MemberEnd() && it->value.IsInt64()) {
    w.Key("offset");
    w.Int64(it->value.GetInt64());
  }
  w.Key("bucketCounts");
  w.StartArray();
  if (auto it = d.FindMember("counts"); it != d.MemberEnd() && it->value.IsArray()) {
    for (const auto& c : it->value.GetArray()) Str(w, U64(c));
  }
  w.EndArray();
  w.EndObject();
  return Status::OK();
}

void Times(Writer& w, const Row& p) {
  if (p.I("start_time_unix_nano") != 0) {
    w.Key("startTimeUnixNano");
    Str(w, std::to_string(p.I("start_time_unix_nano")));
  }
  w.Key("timeUnixNano");
  Str(w, std::to_string(p.I("time_unix_nano")));
}

void OptDouble(Writer& w, const Row& p, const char* col, const char* key) {
  if (p.Null(col)) return;
  w.Key(key);
  Double(w, p.D(col));
}

// One data point of a metrics_points (number) or metrics_hist row.
Status WritePoint(Writer& w, const Row& p, const std::string& type) {
  w.StartObject();
  OTLAKE_RETURN_NOT_OK(Attributes(w, "attributes", p.S("point_attrs_json")));
  Times(w, p);
  if (type == "Gauge" || type == "Sum") {
    if (!p.Null("value_int")) {
      w.Key("asInt");
      Str(w, std::to_string(p.I("value_int")));
    } else if (!p.Null("value")) {
      w.Key("asDouble");
      Double(w, p.D("value"));
    }
  } else {
    w.Key("count");
    Str(w, std::to_string(static_cast<uint64_t>(p.I("count"))));
    OptDouble(w, p, "sum", "sum");
    if (type == "Histogram") {
      rapidjson::Document d;
      w.Key("bucketCounts");
      w.StartArray();
      if (!p.S("counts_json").empty()) {
        OTLAKE_RETURN_NOT_OK(ParseJson(p.S("counts_json"), &d, "counts_json"));
        if (d.IsArray()) for (const auto& c : d.GetArray()) Str(w, U64(c));
      }
      w.EndArray();
      w.Key("explicitBounds");
      w.StartArray();
      if (!p.S("bounds_json").empty()) {
        OTLAKE_RETURN_NOT_OK(ParseJson(p.S("bounds_json"), &d, "bounds_json"));
        if (d.IsArray()) for (const auto& b : d.GetArray()) Double(w, TypedDouble(b));
      }
      w.EndArray();
    } else if (type == "ExpHistogram") {
      w.Key("scale");
      w.Int64(p.I("exp_scale"));
      w.Key("zeroCount");
      Str(w, std::to_string(static_cast<uint64_t>(p.I("exp_zero_count"))));
      OTLAKE_RETURN_NOT_OK(WriteBuckets(w, "positive", p.S("exp_positive_json")));
      OTLAKE_RETURN_NOT_OK(WriteBuckets(w, "negative", p.S("exp_negative_json")));
      OptDouble(w, p, "exp_zero_threshold", "zeroThreshold");
    } else if (type == "Summary") {
      w.Key("quantileValues");
      w.StartArray();
      if (!p.S("quantiles_json").empty()) {
        rapidjson::Document d;
        OTLAKE_RETURN_NOT_OK(ParseJson(p.S("quantiles_json"), &d, "quantiles_json"));
        if (d.IsArray()) {
          for (const auto& q : d.GetArray()) {
            if (!q.IsObject()) continue;
            w.StartObject();
            if (auto it = q.FindMember("q"); it != q.MemberEnd()) { w.Key("quantile"); Double(w, TypedDouble(it->value)); }
            if (auto it = q.FindMember("v"); it != q.MemberEnd()) { w.Key("value"); Double(w, TypedDouble(it->value)); }
            w.EndObject();
          }
        }
      }
      w.EndArray();
    }
    if (type != "Summary") {
      OptDouble(w, p, "min", "min");
      OptDouble(w, p, "max", "max");
    }
  }
  if (type != "Summary") OTLAKE_RETURN_NOT_OK(WriteExemplars(w, p.S("exemplars_json")));
  if (p.I("flags") != 0) {
    w.Key("flags");
    w.Int64(p.I("flags"));
  }
  w.EndObject();
  return Status::OK();
}

// A metric's identity: name, description, unit, type, temporality, monotonic, metadata.
using MetricKey = std::tuple<std::string, std::string, std::string, std::string, std::string, bool, std::string>;

}  // namespace

Result<std::string> TraceToOtlpJson(const Trace& tr) {
  // Group spans by resource, then scope (first appearance order).
  using ScopeKey = std::tuple<std::string, std::string, std::string, int64_t, std::string>;
  using ResourceKey = std::tuple<std::string, int64_t, std::string>;
  std::vector<ResourceKey> resources;
  std::map<ResourceKey, std::vector<ScopeKey>> scopes;
  std::map<std::pair<ResourceKey, ScopeKey>, std::vector<size_t>> spans;
  for (size_t r = 0; r < tr.spans.rows.size(); ++r) {
    Row row(tr.spans, r);
    ResourceKey rk{row.S("resource_attrs_json"), row.I("resource_dropped_attributes_count"),
                   row.S("resource_schema_url")};
    ScopeKey sk{row.S("scope_name"), row.S("scope_version"), row.S("scope_attrs_json"),
                row.I("scope_dropped_attributes_count"), row.S("scope_schema_url")};
    if (!scopes.count(rk)) resources.push_back(rk);
    auto& sv = scopes[rk];
    if (std::find(sv.begin(), sv.end(), sk) == sv.end()) sv.push_back(sk);
    spans[{rk, sk}].push_back(r);
  }
  // Events and links by span id, in their stored order (index order within a span).
  auto by_span = [](const ResultSet& rs) {
    std::map<std::string, std::vector<size_t>> m;
    for (size_t r = 0; r < rs.rows.size(); ++r) m[Row(rs, r).S("span_id")].push_back(r);
    return m;
  };
  auto events = by_span(tr.events);
  auto links = by_span(tr.links);

  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  w.Key("resourceSpans");
  w.StartArray();
  for (const ResourceKey& rk : resources) {
    w.StartObject();
    w.Key("resource");
    w.StartObject();
    OTLAKE_RETURN_NOT_OK(Attributes(w, "attributes", std::get<0>(rk)));
    Dropped(w, "droppedAttributesCount", std::get<1>(rk));
    w.EndObject();
    w.Key("scopeSpans");
    w.StartArray();
    for (const ScopeKey& sk : scopes[rk]) {
      w.StartObject();
      w.Key("scope");
      w.StartObject();
      w.Key("name");
      Str(w, std::get<0>(sk));
      w.Key("version");
      Str(w, std::get<1>(sk));
      OTLAKE_RETURN_NOT_OK(Attributes(w, "attributes", std::get<2>(sk)));
      Dropped(w, "droppedAttributesCount", std::get<3>(sk));
      w.EndObject();
      w.Key("spans");
      w.StartArray();
      for (size_t r : spans[{rk, sk}]) {
        Row s(tr.spans, r);
        w.StartObject();
        w.Key("traceId"); Str(w, s.S("trace_id"));
        w.Key("spanId"); Str(w, s.S("span_id"));
        if (!s.S("trace_state").empty()) { w.Key("traceState"); Str(w, s.S("trace_state")); }
        if (!s.S("parent_span_id").empty()) { w.Key("parentSpanId"); Str(w, s.S("parent_span_id")); }
        if (s.I("flags") != 0) { w.Key("flags"); w.Int64(s.I("flags")); }
        w.Key("name"); Str(w, s.S("name"));
        w.Key("kind"); w.Int(KindNumber(s.S("kind")));
        w.Key("startTimeUnixNano"); Str(w, std::to_string(s.I("start_time_unix_nano")));
        w.Key("endTimeUnixNano"); Str(w, std::to_string(s.I("end_time_unix_nano")));
        OTLAKE_RETURN_NOT_OK(Attributes(w, "attributes", s.S("span_attrs_json")));
        Dropped(w, "droppedAttributesCount", s.I("dropped_attributes_count"));
        w.Key("events");
        w.StartArray();
        if (auto it = events.find(s.S("span_id")); it != events.end()) {
          for (size_t e : it->second) {
            Row ev(tr.events, e);
            w.StartObject();
            w.Key("timeUnixNano"); Str(w, std::to_string(ev.I("time_unix_nano")));
            w.Key("name"); Str(w, ev.S("name"));
            OTLAKE_RETURN_NOT_OK(Attributes(w, "attributes", ev.S("event_attrs_json")));
            Dropped(w, "droppedAttributesCount", ev.I("dropped_attributes_count"));
            w.EndObject();
          }
        }
        w.EndArray();
        Dropped(w, "droppedEventsCount", s.I("dropped_events_count"));
        w.Key("links");
        w.StartArray();
        if (auto it = links.find(s.S("span_id")); it != links.end()) {
          for (size_t l : it->second) {
            Row lk(tr.links, l);
            w.StartObject();
            w.Key("traceId"); Str(w, lk.S("linked_trace_id"));
            w.Key("spanId"); Str(w, lk.S("linked_span_id"));
            if (!lk.S("link_trace_state").empty()) { w.Key("traceState"); Str(w, lk.S("link_trace_state")); }
            OTLAKE_RETURN_NOT_OK(Attributes(w, "attributes", lk.S("link_attrs_json")));
            Dropped(w, "droppedAttributesCount", lk.I("dropped_attributes_count"));
            if (lk.I("link_flags") != 0) { w.Key("flags"); w.Int64(lk.I("link_flags")); }
            w.EndObject();
          }
        }
        w.EndArray();
        Dropped(w, "droppedLinksCount", s.I("dropped_links_count"));
        w.Key("status");
        w.StartObject();
        if (!s.S("status_message").empty()) { w.Key("message"); Str(w, s.S("status_message")); }
        if (const int code = StatusNumber(s.S("status_code")); code != 0) { w.Key("code"); w.Int(code); }
        w.EndObject();
        w.EndObject();
      }
      w.EndArray();
      if (!std::get<4>(sk).empty()) { w.Key("schemaUrl"); Str(w, std::get<4>(sk)); }
      w.EndObject();
    }
    w.EndArray();
    if (!std::get<2>(rk).empty()) { w.Key("schemaUrl"); Str(w, std::get<2>(rk)); }
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return std::string(sb.GetString(), sb.GetSize());
}

Result<std::string> LogsToOtlpJson(const ResultSet& logs) {
  Grouped<int> g;
  for (size_t r = 0; r < logs.rows.size(); ++r) g.Add(logs, r, 0);
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  w.Key("resourceLogs");
  w.StartArray();
  for (const ResourceKey& rk : g.resources) {
    w.StartObject();
    OTLAKE_RETURN_NOT_OK(WriteResource(w, rk));
    w.Key("scopeLogs");
    w.StartArray();
    for (const ScopeKey& sk : g.scopes[rk]) {
      w.StartObject();
      OTLAKE_RETURN_NOT_OK(WriteScope(w, sk));
      w.Key("logRecords");
      w.StartArray();
      for (const auto& [rs, r] : g.rows[{rk, sk, 0}]) {
        Row l(*rs, r);
        w.StartObject();
        if (l.I("time_unix_nano") != 0) { w.Key("timeUnixNano"); Str(w, std::to_string(l.I("time_unix_nano"))); }
        if (l.I("observed_time_unix_nano") != 0) {
          w.Key("observedTimeUnixNano");
          Str(w, std::to_string(l.I("observed_time_unix_nano")));
        }
        if (l.I("severity_number") != 0) { w.Key("severityNumber"); w.Int64(l.I("severity_number")); }
        if (!l.S("severity_text").empty()) { w.Key("severityText"); Str(w, l.S("severity_text")); }
        const std::string type = l.S("body_type");
        if (type == "string") {
          w.Key("body");
          w.StartObject();
          w.Key("stringValue");
          Str(w, l.S("body"));
          w.EndObject();
        } else if (!type.empty() && type != "empty") {
          auto v = otlp::DecodeTypedJson(l.S("body"));
          if (!v.ok()) return Status::IOError("stored log body does not decode: ", v.status().message());
          w.Key("body");
          WriteValue(w, *v);
        }
        OTLAKE_RETURN_NOT_OK(Attributes(w, "attributes", l.S("log_attrs_json")));
        Dropped(w, "droppedAttributesCount", l.I("dropped_attributes_count"));
        if (l.I("flags") != 0) { w.Key("flags"); w.Int64(l.I("flags")); }
        if (!l.S("trace_id").empty()) { w.Key("traceId"); Str(w, l.S("trace_id")); }
        if (!l.S("span_id").empty()) { w.Key("spanId"); Str(w, l.S("span_id")); }
        if (!l.S("event_name").empty()) { w.Key("eventName"); Str(w, l.S("event_name")); }
        w.EndObject();
      }
      w.EndArray();
      if (!std::get<4>(sk).empty()) { w.Key("schemaUrl"); Str(w, std::get<4>(sk)); }
      w.EndObject();
    }
    w.EndArray();
    if (!std::get<2>(rk).empty()) { w.Key("schemaUrl"); Str(w, std::get<2>(rk)); }
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return std::string(sb.GetString(), sb.GetSize());
}

Result<std::string> MetricsToOtlpJson(const ResultSet& points, const ResultSet& hist) {
  Grouped<MetricKey> g;
  for (const ResultSet* rs : {&points, &hist}) {
    for (size_t r = 0; r < rs->rows.size(); ++r) {
      Row p(*rs, r);
      g.Add(*rs, r, MetricKey{p.S("instrument_name"), p.S("description"), p.S("unit"), p.S("instrument_type"),
                              p.S("aggregation_temporality"), p.B("is_monotonic"), p.S("metric_metadata_json")});
    }
  }
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  w.Key("resourceMetrics");
  w.StartArray();
  for (const ResourceKey& rk : g.resources) {
    w.StartObject();
    OTLAKE_RETURN_NOT_OK(WriteResource(w, rk));
    w.Key("scopeMetrics");
    w.StartArray();
    for (const ScopeKey& sk : g.scopes[rk]) {
      w.StartObject();
      OTLAKE_RETURN_NOT_OK(WriteScope(w, sk));
      w.Key("metrics");
      w.StartArray();
      for (const MetricKey& mk : g.inner[{rk, sk}]) {
        const auto& [name, description, unit, type, temporality, monotonic, metadata] = mk;
        w.StartObject();
        w.Key("name"); Str(w, name);
        if (!description.empty()) { w.Key("description"); Str(w, description); }
        if (!unit.empty()) { w.Key("unit"); Str(w, unit); }
        if (!metadata.empty() && metadata != "{}") OTLAKE_RETURN_NOT_OK(Attributes(w, "metadata", metadata));
        const char* data = type == "Gauge" ? "gauge" : type == "Sum" ? "sum" : type == "Histogram" ? "histogram"
                           : type == "ExpHistogram" ? "exponentialHistogram" : type == "Summary" ? "summary" : nullptr;
        if (data == nullptr) return Status::IOError("stored instrument_type '", type, "' is unknown");
        w.Key(data);
        w.StartObject();
        w.Key("dataPoints");
        w.StartArray();
        for (const auto& [rs, r] : g.rows[{rk, sk, mk}]) OTLAKE_RETURN_NOT_OK(WritePoint(w, Row(*rs, r), type));
        w.EndArray();
        if (type != "Gauge" && type != "Summary") {
          w.Key("aggregationTemporality");
          w.Int(EnumNumber(temporality, {"UNSPECIFIED", "DELTA", "CUMULATIVE"}));
        }
        if (type == "Sum") { w.Key("isMonotonic"); w.Bool(monotonic); }
        w.EndObject();
        w.EndObject();
      }
      w.EndArray();
      if (!std::get<4>(sk).empty()) { w.Key("schemaUrl"); Str(w, std::get<4>(sk)); }
      w.EndObject();
    }
    w.EndArray();
    if (!std::get<2>(rk).empty()) { w.Key("schemaUrl"); Str(w, std::get<2>(rk)); }
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return std::string(sb.GetString(), sb.GetSize());
}

}  // namespace otlake::query
