// DecodeJson: OTLP/JSON Export*ServiceRequest -> rows.
//
// Parses with ParseJsonFast (one pass into a flat tape, no copy of the text; constant stack, so
// deep nesting cannot overflow it; UTF-8 validation; exact number conversion) -- or, for what it
// leaves aside (errors included, so their messages stay RapidJSON's), ParseJson -- then walks the
// document. Field names may be lowerCamelCase or snake_case; unknown fields are ignored; `null`
// means absent. 64-bit integers may be numbers or decimal strings; doubles may be numbers or
// "NaN"/"Infinity"/"-Infinity"; enums may be numbers or their names; IDs are hex (any case) or
// base64. A value of the wrong JSON type is a 400 naming its path. Rows come from the same
// RowEmitter as the protobuf decoder.
#include <rapidjson/document.h>

#include <charconv>
#include <cmath>
#include <string>
#include <type_traits>
#include <vector>

#include "otlake/otlp/attr_map.h"
#include "otlake/otlp/decode.h"
#include "otlake/otlp/decode_internal.h"
#include "otlake/otlp/encoding.h"
#include "otlake/otlp/json_fields.h"
#include "otlake/otlp/rows_internal.h"
#include "otlake/otlp/typed_json.h"
#include "otlake/otlp/utf8.h"

namespace otlake::otlp {
namespace {

using internal::Captures;
using internal::ErrorPath;
using internal::EventData;
using internal::ExemplarData;
using internal::HistPointData;
using internal::Identity;
using internal::KeyIs;
using internal::LinkData;
using internal::LogData;
using internal::MetricData;
using internal::MetricType;
using internal::NumberPointData;
using internal::RawId;
using internal::ResourceCtx;
using internal::RowEmitter;
using internal::ScopeCtx;
using internal::SpanData;
using internal::ValueInfo;

template <typename V>
inline std::string_view SV(const V& v) {
  return internal::JsonStr(v);
}

// The walker, over a document of ParseJsonFast (internal::JsonNode, the usual case) or of
// ParseJson (rapidjson::Value, for the texts the fast parser leaves to it).
template <typename JValue>
class JsonDecoder {
 public:
  JsonDecoder(const DecodeOptions& options, DecodeResult* result)
      : opt_(options), emit_(options, result) {}

  Status Decode(Signal signal, const JValue& root);
  ErrorPath& path() { return path_; }

 private:
  // Typed getters. `null` leaves *out as is (absent). On a wrong type: "<name>: expected ...".
  Status Str(const JValue& v, const char* name, std::string_view* out) {
    if (v.IsNull()) return Status::OK();
    if (!v.IsString()) return path_.Fail(name, "expected string");
    // ParseJsonFast checked every string (escapes included); ParseJson leaves \u escapes to us.
    if constexpr (!std::is_same_v<JValue, internal::JsonNode>) {
      if (!IsValidUtf8(SV(v))) return path_.Fail(name, "invalid UTF-8");
    }
    *out = SV(v);
    return Status::OK();
  }
  Status U64(const JValue& v, const char* name, uint64_t* out) {
    if (v.IsNull() || internal::JsonToU64(v, out)) return Status::OK();
    return path_.Fail(name, "expected unsigned 64-bit integer");
  }
  Status I64(const JValue& v, const char* name, int64_t* out) {
    if (v.IsNull() || internal::JsonToI64(v, out)) return Status::OK();
    return path_.Fail(name, "expected 64-bit integer");
  }
  Status U32(const JValue& v, const char* name, uint32_t* out) {
    if (v.IsNull() || internal::JsonToU32(v, out)) return Status::OK();
    return path_.Fail(name, "expected unsigned 32-bit integer");
  }
  Status I32(const JValue& v, const char* name, int32_t* out) {
    if (v.IsNull() || internal::JsonToI32(v, out)) return Status::OK();
    return path_.Fail(name, "expected 32-bit integer");
  }
  Status Dbl(const JValue& v, const char* name, double* out) {
    if (v.IsNull() || internal::JsonToDouble(v, out)) return Status::OK();
    return path_.Fail(name, "expected number");
  }
  Status Bool(const JValue& v, const char* name, bool* out) {
    if (v.IsNull()) return Status::OK();
    if (!v.IsBool()) return path_.Fail(name, "expected boolean");
    *out = v.GetBool();
    return Status::OK();
  }
  Status Enum(const JValue& v, const char* name, bool (*parse)(std::string_view, int32_t*),
              int32_t* out) {
    if (v.IsNull() || internal::JsonToEnum(v, parse, out)) return Status::OK();
    return path_.Fail(name, v.IsString() ? "unknown enum value" : "expected enum name or number");
  }
  Status Id(const JValue& v, const char* name, int want, RawId* out) {
    if (v.IsNull()) return Status::OK();
    if (!v.IsString()) return path_.Fail(name, "expected string");
    internal::DecodeJsonId(SV(v), want, out);
    return Status::OK();
  }
  // The array under `name`, or nullptr if absent/null.
  Status Array(const JValue& v, const char* name, const JValue** out) {
    if (v.IsNull()) return Status::OK();
    if (!v.IsArray()) return path_.Fail(name, "expected array");
    *out = &v;
    return Status::OK();
  }
  Status Object(const JValue& v, const char* name, const JValue** out) {
    if (v.IsNull()) return Status::OK();
    if (!v.IsObject()) return path_.Fail(name, "expected object");
    *out = &v;
    return Status::OK();
  }

  // Appends the elements of a JSON array of uint64 / double (may be null), comma-separated.
  Status U64Array(const JValue* arr, const char* name, std::string* out) {
    if (arr == nullptr) return Status::OK();
    int64_t i = 0;
    for (auto it = arr->Begin(); it != arr->End(); ++it, ++i) {
      uint64_t c = 0;
      const JValue& e = *it;
      if (e.IsNull() || !U64(e, name, &c).ok()) {
        Status st = path_.Fail("expected unsigned 64-bit integer");
        path_.Push(name, i);
        return st;
      }
      if (i > 0) out->push_back(',');
      AppendJsonUint(out, c);
    }
    return Status::OK();
  }
  Status DoubleArray(const JValue* arr, const char* name, std::string* out) {
    if (arr == nullptr) return Status::OK();
    int64_t i = 0;
    for (auto it = arr->Begin(); it != arr->End(); ++it, ++i) {
      double d = 0;
      const JValue& e = *it;
      if (e.IsNull() || !Dbl(e, name, &d).ok()) {
        Status st = path_.Fail("expected number");
        path_.Push(name, i);
        return st;
      }
      if (i > 0) out->push_back(',');
      AppendTypedDouble(out, d);
    }
    return Status::OK();
  }

  // Attributes and AnyValues, as typed JSON (exemplars' filtered attributes, log bodies, arrays
  // and kvlists).
  Status Attrs(const JValue* arr, const char* name, std::string* out, Captures* caps);
  Status KeyValueEntry(const JValue& kv, int depth, std::string* out, Captures* caps);
  Status Value(const JValue& v, int depth, std::string* out, ValueInfo* info);
  // Attribute lists as map entries (the stored form): *out replaced; captures noted from them.
  Status MapAttrs(const JValue* arr, const char* name, table::AttrMap* out, Captures* caps);
  Status MapEntry(const JValue& kv, table::AttrMap* out, Captures* caps);
  // Appends the map value text of AnyValue `v` to *out; *info gets its kind.
  Status MapValue(const JValue& v, std::string* out, ValueInfo* info);
  // The AnyValue oneof member of `v` that wins (the last one set, as on the protobuf wire):
  // its field number (1 string ... 7 bytes, 0 none) and *chosen.
  static int OneOf(const JValue& v, const JValue** chosen);

  // Containers.
  Status ResourceLevel(Signal signal, const JValue& obj);
  Status ScopeLevel(Signal signal, const JValue& obj);
  Status Resource(const JValue* obj);
  Status Scope(const JValue* obj);

  // Records.
  Status Span(const JValue& obj);
  Status Log(const JValue& obj);
  Status Metric(const JValue& obj);
  Status NumberPoint(const JValue& obj, const MetricData& m);
  Status HistogramPoint(const JValue& obj, const MetricData& m);
  Status ExpHistogramPoint(const JValue& obj, const MetricData& m);
  Status SummaryPoint(const JValue& obj, const MetricData& m);
  Status Buckets(const JValue* obj, std::string* out);
  Status Exemplars(const JValue* arr, std::string* out, bool* ok, std::string* reason);
  // The members a data point keeps for after its loop (nullptr if absent).
  struct PointRefs {
    const JValue* attrs = nullptr;
    const JValue* exemplars = nullptr;
  };
  // Reads member `k` of a point of type `t` if it is one of the fields the point kinds share
  // (attributes, startTimeUnixNano, timeUnixNano, flags; exemplars but for summary; count and sum
  // of the histogram kinds and summary; min and max of the histograms); *used says if it was.
  template <typename P>
  Status PointField(std::string_view k, const JValue& v, MetricType t, P* p, PointRefs* refs,
                    bool* used);
  // Walks the members of data point `obj` of type `t`: the shared fields via PointField, every
  // other non-null member via own_field(key, value) (the kind's own fields; it ignores unknowns).
  template <typename P, typename Fn>
  Status PointMembers(const JValue& obj, MetricType t, P* p, PointRefs* refs, Fn&& own_field);
  // The common end of every data point, once its own fields are read: validates it, renders its
  // exemplars and attributes, then rejects or writes it. `j` is for the histogram kinds.
  template <typename P>
  Status FinishPoint(const PointRefs& refs, const MetricData& m, const P& p,
                     const RowEmitter::HistJson& j = {});

  // Iterates the objects of array `arr` (may be null), calling fn(element) with path name[i].
  template <typename Fn>
  Status ForEachObject(const JValue* arr, const char* name, Fn&& fn) {
    if (arr == nullptr) return Status::OK();
    int64_t i = 0;
    for (auto it = arr->Begin(); it != arr->End(); ++it, ++i) {
      const JValue& e = *it;
      if (!e.IsObject()) {
        Status st = path_.Fail("expected object");
        path_.Push(name, i);
        return st;
      }
      OTLP_RETURN_AT(path_, fn(e), name, i);
    }
    return Status::OK();
  }

  const DecodeOptions& opt_;
  RowEmitter emit_;
  ErrorPath path_;
  ResourceCtx res_;
  ScopeCtx scope_;
  Captures caps_;
  std::string body_, exemplars_, ex_attrs_, metadata_, bounds_, counts_, positive_, negative_,
      quantiles_, reason_, bytes_;
  table::AttrMap attrs_, sub_map_;
  Captures sub_caps_;  // an event's or link's, while the span's stay in caps_
  struct Event {
    EventData d;
    const JValue* attrs = nullptr;
  };
  struct Link {
    LinkData d;
    const JValue* attrs = nullptr;
  };
  std::vector<Event> events_;
  std::vector<Link> links_;
};

// ---------------------------------------------------------------------------------------------
// Attributes and AnyValues.

template <typename JValue>
Status JsonDecoder<JValue>::Attrs(const JValue* arr, const char* name, std::string* out,
                          Captures* caps) {
  out->clear();
  out->push_back('{');
  if (arr != nullptr) {
    int64_t i = 0;
    for (auto it = arr->Begin(); it != arr->End(); ++it, ++i) {
      if (i > 0) out->push_back(',');
      OTLP_RETURN_AT(path_, KeyValueEntry(*it, 0, out, caps), name, i);
    }
  }
  out->push_back('}');
  return Status::OK();
}

template <typename JValue>
Status JsonDecoder<JValue>::KeyValueEntry(const JValue& kv, int depth, std::string* out,
                                  Captures* caps) {
  if (!kv.IsObject()) return path_.Fail("expected object");
  std::string_view key;
  const JValue* value = nullptr;
  for (auto it = kv.MemberBegin(); it != kv.MemberEnd(); ++it) {
    const std::string_view k = SV(it->name);
    if (k == "key") {
      OTLP_RETURN_NOT_OK(Str(it->value, "key", &key));
    } else if (k == "value") {
      OTLP_RETURN_NOT_OK(Object(it->value, "value", &value));
    }
  }
  AppendJsonString(out, key);  // validated by Str
  out->push_back(':');
  const size_t begin = out->size();
  ValueInfo info;
  if (value != nullptr) {
    OTLP_RETURN_AT(path_, Value(*value, depth, out, &info), "value");
  } else {
    out->append("null");
  }
  if (caps != nullptr) caps->Note(key, info, std::string_view(*out).substr(begin));
  return Status::OK();
}

template <typename JValue>
Status JsonDecoder<JValue>::MapAttrs(const JValue* arr, const char* name, table::AttrMap* out,
                                     Captures* caps) {
  out->clear();
  if (arr != nullptr) {
    int64_t i = 0;
    for (auto it = arr->Begin(); it != arr->End(); ++it, ++i) {
      OTLP_RETURN_AT(path_, MapEntry(*it, out, caps), name, i);
    }
  }
  return Status::OK();
}

template <typename JValue>
Status JsonDecoder<JValue>::MapEntry(const JValue& kv, table::AttrMap* m, Captures* caps) {
  if (!kv.IsObject()) return path_.Fail("expected object");
  std::string_view key;
  const JValue* value = nullptr;
  for (auto it = kv.MemberBegin(); it != kv.MemberEnd(); ++it) {
    const std::string_view k = SV(it->name);
    if (k == "key") {
      OTLP_RETURN_NOT_OK(Str(it->value, "key", &key));
    } else if (k == "value") {
      OTLP_RETURN_NOT_OK(Object(it->value, "value", &value));
    }
  }
  std::string* out = m->BeginEntry(key);  // validated by Str
  const size_t begin = out->size();
  ValueInfo info;
  if (value != nullptr) OTLP_RETURN_AT(path_, MapValue(*value, out, &info), "value");
  m->EndEntry(internal::TypeLetter(info.kind));
  if (caps != nullptr) caps->Note(key, info, std::string_view(*out).substr(begin));
  return Status::OK();
}

template <typename JValue>
Status JsonDecoder<JValue>::MapValue(const JValue& v, std::string* out, ValueInfo* info) {
  const JValue* chosen = nullptr;
  switch (OneOf(v, &chosen)) {
    case 0:
      info->kind = ValueInfo::kEmpty;
      return Status::OK();
    case 1: {
      std::string_view s;
      OTLP_RETURN_NOT_OK(Str(*chosen, "stringValue", &s));
      out->append(s.data(), s.size());
      info->kind = ValueInfo::kString;
      info->str = s;
      return Status::OK();
    }
    case 2: {
      bool b = false;
      OTLP_RETURN_NOT_OK(Bool(*chosen, "boolValue", &b));
      out->append(b ? "true" : "false");
      info->kind = ValueInfo::kBool;
      return Status::OK();
    }
    case 3: {
      int64_t i = 0;
      OTLP_RETURN_NOT_OK(I64(*chosen, "intValue", &i));
      AppendJsonInt(out, i);
      info->kind = ValueInfo::kInt;
      return Status::OK();
    }
    case 4: {
      double d = 0;
      OTLP_RETURN_NOT_OK(Dbl(*chosen, "doubleValue", &d));
      AppendMapDouble(out, d);
      info->kind = ValueInfo::kDouble;
      info->num = d;
      return Status::OK();
    }
    case 7: {
      if (!chosen->IsString()) return path_.Fail("bytesValue", "expected string");
      bytes_.clear();
      if (!DecodeBase64(SV(*chosen), &bytes_)) return path_.Fail("bytesValue", "invalid base64");
      AppendBase64(out, bytes_);  // standard, padded, whatever form was sent
      info->kind = ValueInfo::kBytes;
      info->str = bytes_;
      return Status::OK();
    }
    default:
      // Arrays and kvlists: their typed JSON.
      return Value(v, 0, out, info);
  }
}

template <typename JValue>
int JsonDecoder<JValue>::OneOf(const JValue& v, const JValue** chosen) {
  int which = 0;
  for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
    if (it->value.IsNull()) continue;
    const std::string_view k = SV(it->name);
    int w = 0;
    if (KeyIs(k, "stringValue")) {
      w = 1;
    } else if (KeyIs(k, "boolValue")) {
      w = 2;
    } else if (KeyIs(k, "intValue")) {
      w = 3;
    } else if (KeyIs(k, "doubleValue")) {
      w = 4;
    } else if (KeyIs(k, "arrayValue")) {
      w = 5;
    } else if (KeyIs(k, "kvlistValue")) {
      w = 6;
    } else if (KeyIs(k, "bytesValue")) {
      w = 7;
    }
    if (w != 0) {
      which = w;
      *chosen = &it->value;
    }
  }
  return which;
}

template <typename JValue>
Status JsonDecoder<JValue>::Value(const JValue& v, int depth, std::string* out, ValueInfo* info) {
  const JValue* chosen = nullptr;
  const int which = OneOf(v, &chosen);
  switch (which) {
    case 0:
      out->append("null");
      info->kind = ValueInfo::kEmpty;
      return Status::OK();
    case 1: {
      std::string_view s;
      OTLP_RETURN_NOT_OK(Str(*chosen, "stringValue", &s));
      AppendJsonString(out, s);
      info->kind = ValueInfo::kString;
      info->str = s;
      return Status::OK();
    }
    case 2: {
      bool b = false;
      OTLP_RETURN_NOT_OK(Bool(*chosen, "boolValue", &b));
      out->append(b ? "true" : "false");
      info->kind = ValueInfo::kBool;
      return Status::OK();
    }
    case 3: {
      int64_t i = 0;
      OTLP_RETURN_NOT_OK(I64(*chosen, "intValue", &i));
      AppendJsonInt(out, i);
      info->kind = ValueInfo::kInt;
      return Status::OK();
    }
    case 4: {
      double d = 0;
      OTLP_RETURN_NOT_OK(Dbl(*chosen, "doubleValue", &d));
      AppendTypedDouble(out, d);
      info->kind = ValueInfo::kDouble;
      return Status::OK();
    }
    case 7: {
      if (!chosen->IsString()) return path_.Fail("bytesValue", "expected string");
      bytes_.clear();
      if (!DecodeBase64(SV(*chosen), &bytes_)) return path_.Fail("bytesValue", "invalid base64");
      AppendTypedBytes(out, bytes_);
      info->kind = ValueInfo::kBytes;
      return Status::OK();
    }
    case 5:
    case 6: {
      const char* name = which == 5 ? "arrayValue" : "kvlistValue";
      if (!chosen->IsObject()) return path_.Fail(name, "expected object");
      if (depth + 1 > opt_.max_nesting_depth) {
        return path_.Fail(name, "nesting deeper than " + std::to_string(opt_.max_nesting_depth) +
                                    " levels");
      }
      const JValue* values = nullptr;
      for (auto it = chosen->MemberBegin(); it != chosen->MemberEnd(); ++it) {
        if (SV(it->name) == "values") {
          Status st = Array(it->value, "values", &values);
          if (!st.ok()) {
            path_.Push(name);
            return st;
          }
        }
      }
      const uint32_t n = values != nullptr ? values->Size() : 0;
      if (which == 5) {
        out->push_back('[');
        int64_t i = 0;
        for (auto it = values != nullptr ? values->Begin() : decltype(values->Begin())();
             i < n; ++it, ++i) {
          if (i > 0) out->push_back(',');
          const JValue& e = *it;
          ValueInfo ignored;
          Status st = e.IsObject() ? Value(e, depth + 1, out, &ignored)
                                   : path_.Fail("expected object");
          if (!st.ok()) {
            path_.Push("values", i);
            path_.Push(name);
            return st;
          }
        }
        out->push_back(']');
        info->kind = ValueInfo::kArray;
        return Status::OK();
      }
      std::string_view first_key;
      if (n == 1 && values->Begin()->IsObject()) {
        const JValue& e = *values->Begin();
        for (auto it = e.MemberBegin(); it != e.MemberEnd(); ++it) {
          if (SV(it->name) == "key" && it->value.IsString()) first_key = SV(it->value);
        }
      }
      const bool wrap = KvlistNeedsEscape(n, first_key);
      if (wrap) out->append(R"({"$kvlist":)");
      out->push_back('{');
      int64_t i = 0;
      for (auto it = values != nullptr ? values->Begin() : decltype(values->Begin())(); i < n;
           ++it, ++i) {
        if (i > 0) out->push_back(',');
        Status st = KeyValueEntry(*it, depth + 1, out, nullptr);
        if (!st.ok()) {
          path_.Push("values", i);
          path_.Push(name);
          return st;
        }
      }
      out->push_back('}');
      if (wrap) out->push_back('}');
      info->kind = ValueInfo::kKvlist;
      return Status::OK();
    }
  }
  return Status::OK();
}

// ---------------------------------------------------------------------------------------------
// Containers.

template <typename JValue>
Status JsonDecoder<JValue>::Decode(Signal signal, const JValue& root) {
  const char* name = signal == Signal::kTraces ? "resourceSpans"
                     : signal == Signal::kLogs ? "resourceLogs"
                                               : "resourceMetrics";
  const JValue* arr = nullptr;
  for (auto it = root.MemberBegin(); it != root.MemberEnd(); ++it) {
    if (KeyIs(SV(it->name), name)) OTLP_RETURN_NOT_OK(Array(it->value, name, &arr));
  }
  return ForEachObject(arr, name, [&](const JValue& e) { return ResourceLevel(signal, e); });
}

template <typename JValue>
Status JsonDecoder<JValue>::ResourceLevel(Signal signal, const JValue& obj) {
  emit_.ContextChanged();  // res_/scope_ change below: no shortcut across this
  const char* scopes = signal == Signal::kTraces ? "scopeSpans"
                       : signal == Signal::kLogs ? "scopeLogs"
                                                 : "scopeMetrics";
  const char* legacy = signal == Signal::kTraces ? "instrumentationLibrarySpans"
                       : signal == Signal::kLogs ? "instrumentationLibraryLogs"
                                                 : "instrumentationLibraryMetrics";
  const JValue* resource = nullptr;
  const JValue* arr = nullptr;
  std::string_view schema_url;
  for (auto it = obj.MemberBegin(); it != obj.MemberEnd(); ++it) {
    const std::string_view k = SV(it->name);
    if (KeyIs(k, "resource")) {
      OTLP_RETURN_NOT_OK(Object(it->value, "resource", &resource));
    } else if (KeyIs(k, scopes) || KeyIs(k, legacy)) {
      OTLP_RETURN_NOT_OK(Array(it->value, scopes, &arr));
    } else if (KeyIs(k, "schemaUrl")) {
      OTLP_RETURN_NOT_OK(Str(it->value, "schemaUrl", &schema_url));
    }
  }
  OTLP_RETURN_AT(path_, Resource(resource), "resource");
  res_.schema_url.assign(schema_url);
  return ForEachObject(arr, scopes, [&](const JValue& e) { return ScopeLevel(signal, e); });
}

template <typename JValue>
Status JsonDecoder<JValue>::Resource(const JValue* obj) {
  res_.dropped = 0;
  const JValue* attrs = nullptr;
  if (obj != nullptr) {
    for (auto it = obj->MemberBegin(); it != obj->MemberEnd(); ++it) {
      const std::string_view k = SV(it->name);
      if (KeyIs(k, "attributes")) {
        OTLP_RETURN_NOT_OK(Array(it->value, "attributes", &attrs));
      } else if (KeyIs(k, "droppedAttributesCount")) {
        uint32_t d = 0;
        OTLP_RETURN_NOT_OK(U32(it->value, "droppedAttributesCount", &d));
        res_.dropped = d;
      }
    }
  }
  caps_.Reset();
  OTLP_RETURN_NOT_OK(MapAttrs(attrs, "attributes", &res_.attrs, &caps_));
  res_.Finish(caps_);
  return Status::OK();
}

template <typename JValue>
Status JsonDecoder<JValue>::Scope(const JValue* obj) {
  std::string_view name, version;
  const JValue* attrs = nullptr;
  scope_.dropped = 0;
  if (obj != nullptr) {
    for (auto it = obj->MemberBegin(); it != obj->MemberEnd(); ++it) {
      const std::string_view k = SV(it->name);
      if (KeyIs(k, "name")) {
        OTLP_RETURN_NOT_OK(Str(it->value, "name", &name));
      } else if (KeyIs(k, "version")) {
        OTLP_RETURN_NOT_OK(Str(it->value, "version", &version));
      } else if (KeyIs(k, "attributes")) {
        OTLP_RETURN_NOT_OK(Array(it->value, "attributes", &attrs));
      } else if (KeyIs(k, "droppedAttributesCount")) {
        uint32_t d = 0;
        OTLP_RETURN_NOT_OK(U32(it->value, "droppedAttributesCount", &d));
        scope_.dropped = d;
      }
    }
  }
  scope_.name.assign(name);
  scope_.version.assign(version);
  return MapAttrs(attrs, "attributes", &scope_.attrs, nullptr);
}

template <typename JValue>
Status JsonDecoder<JValue>::ScopeLevel(Signal signal, const JValue& obj) {
  emit_.ContextChanged();  // res_/scope_ change below: no shortcut across this
  const char* records = signal == Signal::kTraces ? "spans"
                        : signal == Signal::kLogs ? "logRecords"
                                                  : "metrics";
  const JValue* scope = nullptr;
  const JValue* arr = nullptr;
  std::string_view schema_url;
  for (auto it = obj.MemberBegin(); it != obj.MemberEnd(); ++it) {
    const std::string_view k = SV(it->name);
    if (KeyIs(k, "scope") || KeyIs(k, "instrumentationLibrary")) {
      OTLP_RETURN_NOT_OK(Object(it->value, "scope", &scope));
    } else if (KeyIs(k, records)) {
      OTLP_RETURN_NOT_OK(Array(it->value, records, &arr));
    } else if (KeyIs(k, "schemaUrl")) {
      OTLP_RETURN_NOT_OK(Str(it->value, "schemaUrl", &schema_url));
    }
  }
  OTLP_RETURN_AT(path_, Scope(scope), "scope");
  scope_.schema_url.assign(schema_url);
  switch (signal) {
    case Signal::kTraces:
      return ForEachObject(arr, records, [&](const JValue& e) { return Span(e); });
    case Signal::kLogs:
      return ForEachObject(arr, records, [&](const JValue& e) { return Log(e); });
    case Signal::kMetrics:
      return ForEachObject(arr, records, [&](const JValue& e) { return Metric(e); });
  }
  return Status::OK();
}

// ---------------------------------------------------------------------------------------------
// Spans.

template <typename JValue>
Status JsonDecoder<JValue>::Span(const JValue& obj) {
  SpanData s;
  const JValue* attrs = nullptr;
  const JValue* events = nullptr;
  const JValue* links = nullptr;
  for (auto it = obj.MemberBegin(); it != obj.MemberEnd(); ++it) {
    const std::string_view k = SV(it->name);
    const JValue& v = it->value;
    if (v.IsNull()) continue;
    if (KeyIs(k, "traceId")) {
      OTLP_RETURN_NOT_OK(Id(v, "traceId", 16, &s.trace_id));
    } else if (KeyIs(k, "spanId")) {
      OTLP_RETURN_NOT_OK(Id(v, "spanId", 8, &s.span_id));
    } else if (KeyIs(k, "traceState")) {
      OTLP_RETURN_NOT_OK(Str(v, "traceState", &s.trace_state));
    } else if (KeyIs(k, "parentSpanId")) {
      OTLP_RETURN_NOT_OK(Id(v, "parentSpanId", 8, &s.parent_span_id));
    } else if (KeyIs(k, "name")) {
      OTLP_RETURN_NOT_OK(Str(v, "name", &s.name));
    } else if (KeyIs(k, "kind")) {
      OTLP_RETURN_NOT_OK(Enum(v, "kind", internal::ParseSpanKindName, &s.kind));
    } else if (KeyIs(k, "startTimeUnixNano")) {
      OTLP_RETURN_NOT_OK(U64(v, "startTimeUnixNano", &s.start));
    } else if (KeyIs(k, "endTimeUnixNano")) {
      OTLP_RETURN_NOT_OK(U64(v, "endTimeUnixNano", &s.end));
    } else if (KeyIs(k, "attributes")) {
      OTLP_RETURN_NOT_OK(Array(v, "attributes", &attrs));
    } else if (KeyIs(k, "droppedAttributesCount")) {
      OTLP_RETURN_NOT_OK(U32(v, "droppedAttributesCount", &s.dropped_attributes));
    } else if (KeyIs(k, "events")) {
      OTLP_RETURN_NOT_OK(Array(v, "events", &events));
    } else if (KeyIs(k, "droppedEventsCount")) {
      OTLP_RETURN_NOT_OK(U32(v, "droppedEventsCount", &s.dropped_events));
    } else if (KeyIs(k, "links")) {
      OTLP_RETURN_NOT_OK(Array(v, "links", &links));
    } else if (KeyIs(k, "droppedLinksCount")) {
      OTLP_RETURN_NOT_OK(U32(v, "droppedLinksCount", &s.dropped_links));
    } else if (KeyIs(k, "status")) {
      const JValue* st = nullptr;
      OTLP_RETURN_NOT_OK(Object(v, "status", &st));
      s.status_message = {};
      s.status_code = 0;
      if (st != nullptr) {
        for (auto m = st->MemberBegin(); m != st->MemberEnd(); ++m) {
          const std::string_view sk = SV(m->name);
          if (KeyIs(sk, "message")) {
            OTLP_RETURN_AT(path_, Str(m->value, "message", &s.status_message), "status");
          } else if (KeyIs(sk, "code")) {
            OTLP_RETURN_AT(path_,
                           Enum(m->value, "code", internal::ParseStatusCodeName, &s.status_code),
                           "status");
          }
        }
      }
    } else if (KeyIs(k, "flags")) {
      OTLP_RETURN_NOT_OK(U32(v, "flags", &s.flags));
    }
  }

  bool ok = internal::CheckSpan(s, &reason_);

  events_.clear();
  OTLP_RETURN_NOT_OK(ForEachObject(events, "events", [&](const JValue& e) -> Status {
    Event ev;
    for (auto it = e.MemberBegin(); it != e.MemberEnd(); ++it) {
      const std::string_view k = SV(it->name);
      if (KeyIs(k, "timeUnixNano")) {
        OTLP_RETURN_NOT_OK(U64(it->value, "timeUnixNano", &ev.d.time));
      } else if (KeyIs(k, "name")) {
        OTLP_RETURN_NOT_OK(Str(it->value, "name", &ev.d.name));
      } else if (KeyIs(k, "attributes")) {
        OTLP_RETURN_NOT_OK(Array(it->value, "attributes", &ev.attrs));
      } else if (KeyIs(k, "droppedAttributesCount")) {
        OTLP_RETURN_NOT_OK(U32(it->value, "droppedAttributesCount", &ev.d.dropped_attributes));
      }
    }
    if (ok) ok = internal::CheckEvent(ev.d, &reason_);
    events_.push_back(ev);
    return Status::OK();
  }));
  links_.clear();
  OTLP_RETURN_NOT_OK(ForEachObject(links, "links", [&](const JValue& e) -> Status {
    Link l;
    for (auto it = e.MemberBegin(); it != e.MemberEnd(); ++it) {
      const std::string_view k = SV(it->name);
      if (KeyIs(k, "traceId")) {
        OTLP_RETURN_NOT_OK(Id(it->value, "traceId", 16, &l.d.trace_id));
      } else if (KeyIs(k, "spanId")) {
        OTLP_RETURN_NOT_OK(Id(it->value, "spanId", 8, &l.d.span_id));
      } else if (KeyIs(k, "traceState")) {
        OTLP_RETURN_NOT_OK(Str(it->value, "traceState", &l.d.trace_state));
      } else if (KeyIs(k, "attributes")) {
        OTLP_RETURN_NOT_OK(Array(it->value, "attributes", &l.attrs));
      } else if (KeyIs(k, "droppedAttributesCount")) {
        OTLP_RETURN_NOT_OK(U32(it->value, "droppedAttributesCount", &l.d.dropped_attributes));
      } else if (KeyIs(k, "flags")) {
        OTLP_RETURN_NOT_OK(U32(it->value, "flags", &l.d.flags));
      }
    }
    if (ok) ok = internal::CheckLink(l.d, &reason_);
    links_.push_back(l);
    return Status::OK();
  }));

  caps_.Reset();
  OTLP_RETURN_NOT_OK(MapAttrs(attrs, "attributes", &attrs_, &caps_));
  if (!ok) {
    for (size_t i = 0; i < events_.size(); ++i) {
      OTLP_RETURN_AT(path_, MapAttrs(events_[i].attrs, "attributes", &sub_map_, nullptr),
                     "events", static_cast<int64_t>(i));
    }
    for (size_t i = 0; i < links_.size(); ++i) {
      OTLP_RETURN_AT(path_, MapAttrs(links_[i].attrs, "attributes", &sub_map_, nullptr), "links",
                     static_cast<int64_t>(i));
    }
    emit_.Reject(reason_);
    return Status::OK();
  }
  const Identity id = internal::ResolveIdentity(caps_, res_.identity);
  emit_.EmitSpan(res_, scope_, s, attrs_, id);
  for (size_t i = 0; i < events_.size(); ++i) {
    sub_caps_.Reset();
    OTLP_RETURN_AT(path_, MapAttrs(events_[i].attrs, "attributes", &sub_map_, &sub_caps_),
                   "events", static_cast<int64_t>(i));
    const Identity eid = internal::ResolveIdentity(sub_caps_, id);
    emit_.EmitEvent(res_, scope_, s, static_cast<int64_t>(i), events_[i].d, sub_map_, eid);
  }
  for (size_t i = 0; i < links_.size(); ++i) {
    sub_caps_.Reset();
    OTLP_RETURN_AT(path_, MapAttrs(links_[i].attrs, "attributes", &sub_map_, &sub_caps_),
                   "links", static_cast<int64_t>(i));
    const Identity lid = internal::ResolveIdentity(sub_caps_, id);
    emit_.EmitLink(res_, scope_, s, static_cast<int64_t>(i), links_[i].d, sub_map_, lid);
  }
  emit_.Accept();
  return Status::OK();
}

// ---------------------------------------------------------------------------------------------
// Logs.

template <typename JValue>
Status JsonDecoder<JValue>::Log(const JValue& obj) {
  LogData d;
  const JValue* attrs = nullptr;
  const JValue* body = nullptr;
  for (auto it = obj.MemberBegin(); it != obj.MemberEnd(); ++it) {
    const std::string_view k = SV(it->name);
    const JValue& v = it->value;
    if (KeyIs(k, "timeUnixNano")) {
      OTLP_RETURN_NOT_OK(U64(v, "timeUnixNano", &d.time));
    } else if (KeyIs(k, "observedTimeUnixNano")) {
      OTLP_RETURN_NOT_OK(U64(v, "observedTimeUnixNano", &d.observed));
    } else if (KeyIs(k, "severityNumber")) {
      OTLP_RETURN_NOT_OK(
          Enum(v, "severityNumber", internal::ParseSeverityNumberName, &d.severity_number));
    } else if (KeyIs(k, "severityText")) {
      OTLP_RETURN_NOT_OK(Str(v, "severityText", &d.severity_text));
    } else if (KeyIs(k, "body")) {
      OTLP_RETURN_NOT_OK(Object(v, "body", &body));
    } else if (KeyIs(k, "attributes")) {
      OTLP_RETURN_NOT_OK(Array(v, "attributes", &attrs));
    } else if (KeyIs(k, "droppedAttributesCount")) {
      OTLP_RETURN_NOT_OK(U32(v, "droppedAttributesCount", &d.dropped_attributes));
    } else if (KeyIs(k, "flags")) {
      OTLP_RETURN_NOT_OK(U32(v, "flags", &d.flags));
    } else if (KeyIs(k, "traceId")) {
      OTLP_RETURN_NOT_OK(Id(v, "traceId", 16, &d.trace_id));
    } else if (KeyIs(k, "spanId")) {
      OTLP_RETURN_NOT_OK(Id(v, "spanId", 8, &d.span_id));
    } else if (KeyIs(k, "eventName")) {
      OTLP_RETURN_NOT_OK(Str(v, "eventName", &d.event_name));
    }
  }
  const bool ok = internal::CheckLog(d, &reason_);
  ValueInfo info;
  body_.clear();
  if (body != nullptr) OTLP_RETURN_AT(path_, Value(*body, 0, &body_, &info), "body");
  caps_.Reset();
  OTLP_RETURN_NOT_OK(MapAttrs(attrs, "attributes", &attrs_, &caps_));
  emit_.FinishLog(ok, reason_, res_, scope_, d, info, body_, attrs_, caps_);
  return Status::OK();
}

// ---------------------------------------------------------------------------------------------
// Metrics.

template <typename JValue>
Status JsonDecoder<JValue>::Metric(const JValue& obj) {
  MetricData m;
  const JValue* data = nullptr;
  const JValue* metadata = nullptr;
  const char* data_name = "";
  for (auto it = obj.MemberBegin(); it != obj.MemberEnd(); ++it) {
    const std::string_view k = SV(it->name);
    const JValue& v = it->value;
    MetricType t = MetricType::kNone;
    const char* tn = "";
    if (KeyIs(k, "name")) {
      OTLP_RETURN_NOT_OK(Str(v, "name", &m.name));
    } else if (KeyIs(k, "description")) {
      OTLP_RETURN_NOT_OK(Str(v, "description", &m.description));
    } else if (KeyIs(k, "unit")) {
      OTLP_RETURN_NOT_OK(Str(v, "unit", &m.unit));
    } else if (KeyIs(k, "metadata")) {
      OTLP_RETURN_NOT_OK(Array(v, "metadata", &metadata));
    } else if (KeyIs(k, "gauge")) {
      t = MetricType::kGauge, tn = "gauge";
    } else if (KeyIs(k, "sum")) {
      t = MetricType::kSum, tn = "sum";
    } else if (KeyIs(k, "histogram")) {
      t = MetricType::kHistogram, tn = "histogram";
    } else if (KeyIs(k, "exponentialHistogram")) {
      t = MetricType::kExpHistogram, tn = "exponentialHistogram";
    } else if (KeyIs(k, "summary")) {
      t = MetricType::kSummary, tn = "summary";
    }
    if (t != MetricType::kNone && !v.IsNull()) {
      OTLP_RETURN_NOT_OK(Object(v, tn, &data));
      m.type = t;
      data_name = tn;
    }
  }
  // Metadata first: a malformed request is a 400 even if the metric holds no data.
  OTLP_RETURN_NOT_OK(Attrs(metadata, "metadata", &metadata_, nullptr));
  if (m.type == MetricType::kNone) return Status::OK();  // no data: nothing to store
  const JValue* points = nullptr;
  for (auto it = data->MemberBegin(); it != data->MemberEnd(); ++it) {
    const std::string_view k = SV(it->name);
    if (KeyIs(k, "dataPoints")) {
      OTLP_RETURN_AT(path_, Array(it->value, "dataPoints", &points), data_name);
    } else if (KeyIs(k, "aggregationTemporality") && m.type != MetricType::kGauge &&
               m.type != MetricType::kSummary) {
      OTLP_RETURN_AT(path_,
                     Enum(it->value, "aggregationTemporality", internal::ParseTemporalityName,
                          &m.temporality),
                     data_name);
    } else if (KeyIs(k, "isMonotonic") && m.type == MetricType::kSum) {
      OTLP_RETURN_AT(path_, Bool(it->value, "isMonotonic", &m.monotonic), data_name);
    }
  }
  Status st = ForEachObject(points, "dataPoints", [&](const JValue& p) -> Status {
    switch (m.type) {
      case MetricType::kGauge:
      case MetricType::kSum: return NumberPoint(p, m);
      case MetricType::kHistogram: return HistogramPoint(p, m);
      case MetricType::kExpHistogram: return ExpHistogramPoint(p, m);
      case MetricType::kSummary: return SummaryPoint(p, m);
      case MetricType::kNone: break;
    }
    return Status::OK();
  });
  if (!st.ok()) path_.Push(data_name);
  return st;
}

template <typename JValue>
Status JsonDecoder<JValue>::Exemplars(const JValue* arr, std::string* out, bool* ok,
                              std::string* reason) {
  out->assign("[");
  int64_t index = 0;
  OTLP_RETURN_NOT_OK(ForEachObject(arr, "exemplars", [&](const JValue& e) -> Status {
    ExemplarData x;
    const JValue* attrs = nullptr;
    for (auto it = e.MemberBegin(); it != e.MemberEnd(); ++it) {
      const std::string_view k = SV(it->name);
      const JValue& v = it->value;
      if (v.IsNull()) continue;
      if (KeyIs(k, "timeUnixNano")) {
        OTLP_RETURN_NOT_OK(U64(v, "timeUnixNano", &x.time));
      } else if (KeyIs(k, "asDouble")) {
        OTLP_RETURN_NOT_OK(Dbl(v, "asDouble", &x.as_double));
        x.has_double = true;
        x.has_int = false;
      } else if (KeyIs(k, "asInt")) {
        OTLP_RETURN_NOT_OK(I64(v, "asInt", &x.as_int));
        x.has_int = true;
        x.has_double = false;
      } else if (KeyIs(k, "spanId")) {
        OTLP_RETURN_NOT_OK(Id(v, "spanId", 8, &x.span_id));
      } else if (KeyIs(k, "traceId")) {
        OTLP_RETURN_NOT_OK(Id(v, "traceId", 16, &x.trace_id));
      } else if (KeyIs(k, "filteredAttributes")) {
        OTLP_RETURN_NOT_OK(Array(v, "filteredAttributes", &attrs));
      }
    }
    OTLP_RETURN_NOT_OK(Attrs(attrs, "filteredAttributes", &ex_attrs_, nullptr));
    internal::AddExemplar(out, index++, x, ex_attrs_, ok, reason);
    return Status::OK();
  }));
  out->push_back(']');
  return Status::OK();
}

template <typename JValue>
template <typename P>
Status JsonDecoder<JValue>::PointField(std::string_view k, const JValue& v, MetricType t, P* p,
                               PointRefs* refs, bool* used) {
  *used = true;
  if (KeyIs(k, "attributes")) return Array(v, "attributes", &refs->attrs);
  if (KeyIs(k, "startTimeUnixNano")) return U64(v, "startTimeUnixNano", &p->start);
  if (KeyIs(k, "timeUnixNano")) return U64(v, "timeUnixNano", &p->time);
  if (KeyIs(k, "flags")) return U32(v, "flags", &p->flags);
  if (t != MetricType::kSummary && KeyIs(k, "exemplars")) {
    return Array(v, "exemplars", &refs->exemplars);
  }
  if constexpr (std::is_same_v<P, HistPointData>) {
    if (KeyIs(k, "count")) return U64(v, "count", &p->count);
    if (KeyIs(k, "sum")) {
      OTLP_RETURN_NOT_OK(Dbl(v, "sum", &p->sum));
      p->has_sum = true;
      return Status::OK();
    }
    if (t != MetricType::kSummary) {
      if (KeyIs(k, "min")) {
        OTLP_RETURN_NOT_OK(Dbl(v, "min", &p->min));
        p->has_min = true;
        return Status::OK();
      }
      if (KeyIs(k, "max")) {
        OTLP_RETURN_NOT_OK(Dbl(v, "max", &p->max));
        p->has_max = true;
        return Status::OK();
      }
    }
  }
  *used = false;
  return Status::OK();
}

template <typename JValue>
template <typename P, typename Fn>
Status JsonDecoder<JValue>::PointMembers(const JValue& obj, MetricType t, P* p, PointRefs* refs,
                                 Fn&& own_field) {
  for (auto it = obj.MemberBegin(); it != obj.MemberEnd(); ++it) {
    const std::string_view k = SV(it->name);
    const JValue& v = it->value;
    if (v.IsNull()) continue;
    bool used = false;
    OTLP_RETURN_NOT_OK(PointField(k, v, t, p, refs, &used));
    if (!used) OTLP_RETURN_NOT_OK(own_field(k, v));
  }
  return Status::OK();
}

template <typename JValue>
template <typename P>
Status JsonDecoder<JValue>::FinishPoint(const PointRefs& refs, const MetricData& m, const P& p,
                                const RowEmitter::HistJson& j) {
  bool ok = internal::CheckPoint(p, &reason_);
  OTLP_RETURN_NOT_OK(Exemplars(refs.exemplars, &exemplars_, &ok, &reason_));  // "[]" if none
  caps_.Reset();
  OTLP_RETURN_NOT_OK(MapAttrs(refs.attrs, "attributes", &attrs_, &caps_));
  const internal::PointCtx c{res_, scope_, m, metadata_, attrs_, caps_, exemplars_};
  if constexpr (std::is_same_v<P, HistPointData>) {
    emit_.FinishPoint(ok, reason_, c, p, j);
  } else {
    emit_.FinishPoint(ok, reason_, c, p);
  }
  return Status::OK();
}

template <typename JValue>
Status JsonDecoder<JValue>::NumberPoint(const JValue& obj, const MetricData& m) {
  NumberPointData p;
  PointRefs refs;
  auto own_field = [&](std::string_view k, const JValue& v) -> Status {
    if (KeyIs(k, "asDouble")) {
      OTLP_RETURN_NOT_OK(Dbl(v, "asDouble", &p.as_double));
      p.has_double = true;
      p.has_int = false;
    } else if (KeyIs(k, "asInt")) {
      OTLP_RETURN_NOT_OK(I64(v, "asInt", &p.as_int));
      p.has_int = true;
      p.has_double = false;
    }
    return Status::OK();
  };
  OTLP_RETURN_NOT_OK(PointMembers(obj, m.type, &p, &refs, own_field));
  return FinishPoint(refs, m, p);
}

template <typename JValue>
Status JsonDecoder<JValue>::HistogramPoint(const JValue& obj, const MetricData& m) {
  HistPointData p;
  PointRefs refs;
  const JValue* counts = nullptr;
  const JValue* bounds = nullptr;
  auto own_field = [&](std::string_view k, const JValue& v) -> Status {
    if (KeyIs(k, "bucketCounts")) {
      OTLP_RETURN_NOT_OK(Array(v, "bucketCounts", &counts));
    } else if (KeyIs(k, "explicitBounds")) {
      OTLP_RETURN_NOT_OK(Array(v, "explicitBounds", &bounds));
    }
    return Status::OK();
  };
  OTLP_RETURN_NOT_OK(PointMembers(obj, m.type, &p, &refs, own_field));
  counts_.assign("[");
  OTLP_RETURN_NOT_OK(U64Array(counts, "bucketCounts", &counts_));
  counts_.push_back(']');
  bounds_.assign("[");
  OTLP_RETURN_NOT_OK(DoubleArray(bounds, "explicitBounds", &bounds_));
  bounds_.push_back(']');
  RowEmitter::HistJson j;
  j.has_bounds = true;
  j.bounds = bounds_;
  j.counts = counts_;
  return FinishPoint(refs, m, p, j);
}

template <typename JValue>
Status JsonDecoder<JValue>::Buckets(const JValue* obj, std::string* out) {
  int32_t offset = 0;
  const JValue* counts = nullptr;
  if (obj != nullptr) {
    for (auto it = obj->MemberBegin(); it != obj->MemberEnd(); ++it) {
      const std::string_view k = SV(it->name);
      if (KeyIs(k, "offset")) {
        OTLP_RETURN_NOT_OK(I32(it->value, "offset", &offset));
      } else if (KeyIs(k, "bucketCounts")) {
        OTLP_RETURN_NOT_OK(Array(it->value, "bucketCounts", &counts));
      }
    }
  }
  out->clear();
  internal::AppendBucketsPrefix(out, offset);
  OTLP_RETURN_NOT_OK(U64Array(counts, "bucketCounts", out));
  out->append("]}");
  return Status::OK();
}

template <typename JValue>
Status JsonDecoder<JValue>::ExpHistogramPoint(const JValue& obj, const MetricData& m) {
  HistPointData p;
  PointRefs refs;
  const JValue* positive = nullptr;
  const JValue* negative = nullptr;
  auto own_field = [&](std::string_view k, const JValue& v) -> Status {
    if (KeyIs(k, "scale")) {
      OTLP_RETURN_NOT_OK(I32(v, "scale", &p.scale));
    } else if (KeyIs(k, "zeroCount")) {
      OTLP_RETURN_NOT_OK(U64(v, "zeroCount", &p.zero_count));
    } else if (KeyIs(k, "positive")) {
      OTLP_RETURN_NOT_OK(Object(v, "positive", &positive));
    } else if (KeyIs(k, "negative")) {
      OTLP_RETURN_NOT_OK(Object(v, "negative", &negative));
    } else if (KeyIs(k, "zeroThreshold")) {
      OTLP_RETURN_NOT_OK(Dbl(v, "zeroThreshold", &p.zero_threshold));
    }
    return Status::OK();
  };
  OTLP_RETURN_NOT_OK(PointMembers(obj, m.type, &p, &refs, own_field));
  OTLP_RETURN_AT(path_, Buckets(positive, &positive_), "positive");
  OTLP_RETURN_AT(path_, Buckets(negative, &negative_), "negative");
  RowEmitter::HistJson j;
  j.has_exp = true;
  j.positive = positive_;
  j.negative = negative_;
  return FinishPoint(refs, m, p, j);
}

template <typename JValue>
Status JsonDecoder<JValue>::SummaryPoint(const JValue& obj, const MetricData& m) {
  HistPointData p;
  p.has_sum = true;
  PointRefs refs;  // a summary has no exemplars: they stay "[]"
  const JValue* quantiles = nullptr;
  auto own_field = [&](std::string_view k, const JValue& v) -> Status {
    if (KeyIs(k, "quantileValues")) {
      OTLP_RETURN_NOT_OK(Array(v, "quantileValues", &quantiles));
    }
    return Status::OK();
  };
  OTLP_RETURN_NOT_OK(PointMembers(obj, m.type, &p, &refs, own_field));
  quantiles_.assign("[");
  int64_t index = 0;
  OTLP_RETURN_NOT_OK(ForEachObject(quantiles, "quantileValues", [&](const JValue& e) -> Status {
    double q = 0, v = 0;
    for (auto it = e.MemberBegin(); it != e.MemberEnd(); ++it) {
      const std::string_view k = SV(it->name);
      if (KeyIs(k, "quantile")) {
        OTLP_RETURN_NOT_OK(Dbl(it->value, "quantile", &q));
      } else if (KeyIs(k, "value")) {
        OTLP_RETURN_NOT_OK(Dbl(it->value, "value", &v));
      }
    }
    internal::AppendQuantile(&quantiles_, index++, q, v);
    return Status::OK();
  }));
  quantiles_.push_back(']');
  RowEmitter::HistJson j;
  j.has_quantiles = true;
  j.quantiles = quantiles_;
  return FinishPoint(refs, m, p, j);
}

bool IsBlank(std::string_view s) {
  for (char c : s) {
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return false;
  }
  return true;
}

template <typename JValue>
Status Walk(Signal signal, const JValue& root, const DecodeOptions& options, DecodeResult* out) {
  if (!root.IsObject()) return Status::Invalid("expected a JSON object at the top level");
  JsonDecoder<JValue> d(options, out);
  Status st = d.Decode(signal, root);
  if (!st.ok()) return d.path().Finish();
  return Status::OK();
}

// A thread's parse tape stays allocated between requests up to this size (a 512-span request of
// ~800 KB needs ~1.4 MB): at most this much per decoding thread is held between requests.
constexpr size_t kKeepTapeBytes = size_t{2} << 20;

}  // namespace

namespace internal {
Status DecodeJsonImpl(Signal signal, std::string_view body, const DecodeOptions& options,
                      DecodeResult* out) {
  if (IsBlank(body)) return Status::OK();
  thread_local internal::JsonTape tape;
  if (tape.Parse(body)) {
    Status st = Walk(signal, tape.root(), options, out);
    tape.Trim(kKeepTapeBytes);
    return st;
  }
  tape.Trim(kKeepTapeBytes);
  // Not JSON, or JSON the fast parser leaves to RapidJSON (see json_fields.h).
  return DecodeJsonRapidJson(signal, body, options, out);
}

Status DecodeJsonRapidJson(Signal signal, std::string_view body, const DecodeOptions& options,
                           DecodeResult* out) {
  if (IsBlank(body)) return Status::OK();
  rapidjson::Document doc;
  std::string buffer;
  OTLAKE_RETURN_NOT_OK(internal::ParseJson(body, &buffer, &doc));
  return Walk<rapidjson::Value>(signal, doc, options, out);
}
}  // namespace internal

}  // namespace otlake::otlp
