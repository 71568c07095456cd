// A trace's rows -> one OTLP/JSON ExportTraceServiceRequest (the OTLP/HTTP JSON encoding: hex
// IDs, enums as integers, 64-bit integers as strings, bytes as base64), so any OTel tool that
// loads OTLP/JSON loads it. Spans are grouped back under their resource and scope.
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cmath>
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

int KindNumber(const std::string& k) {
  static const char* kNames[] = {"UNSPECIFIED", "INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER"};
  for (int i = 0; i < 6; ++i) {
    if (k == kNames[i]) return i;
  }
  return 0;
}

int StatusNumber(const std::string& s) { return s == "OK" ? 1 : s == "ERROR" ? 2 : 0; }

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

}  // namespace otlake::query
