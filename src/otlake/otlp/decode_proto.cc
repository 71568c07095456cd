// DecodeProtobuf: OTLP Export*ServiceRequest in protobuf wire format -> rows.
//
// Walks the wire bytes with WireReader (no message objects). Each container is read in two passes
// where needed: first its resource/scope/schema_url (which may follow the records on the wire),
// then the records. Strings are checked for UTF-8 as they are taken; attribute lists are read
// straight from the wire into map entries (table::AttrMap: key, value text, type letter; arrays
// and kvlists as typed JSON), exemplars' attributes and log bodies rendered as typed JSON. A known
// field with the wrong wire type is an error (the sender does not speak OTLP); unknown fields of
// any wire type are skipped.
#include <bit>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "otlake/otlp/attr_map.h"
#include "otlake/otlp/decode.h"
#include "otlake/otlp/decode_internal.h"
#include "otlake/otlp/encoding.h"
#include "otlake/otlp/rows_internal.h"
#include "otlake/otlp/typed_json.h"
#include "otlake/otlp/utf8.h"
#include "otlake/otlp/wire.h"

namespace otlake::otlp {
namespace {

using internal::Captures;
using internal::ErrorPath;
using internal::EventData;
using internal::ExemplarData;
using internal::HistPointData;
using internal::Identity;
using internal::LinkData;
using internal::LogData;
using internal::MetricData;
using internal::MetricType;
using internal::NumberPointData;
using internal::ResourceCtx;
using internal::RowEmitter;
using internal::ScopeCtx;
using internal::SpanData;
using internal::ValueInfo;

class ProtoDecoder {
 public:
  ProtoDecoder(const DecodeOptions& options, DecodeResult* result)
      : opt_(options), emit_(options, result) {}

  Status Decode(Signal signal, std::string_view body);
  const ErrorPath& path() const { return path_; }

 private:
  // Typed field access; on mismatch records "<name>: ..." and returns an error.
  Status WrongType(const char* name, const WireField& f) {
    return path_.Fail(name, "wrong wire type " + std::to_string(static_cast<int>(f.type)));
  }
  Status Str(const WireField& f, const char* name, std::string_view* out) {
    if (f.type != WireType::kLen) return WrongType(name, f);
    if (!IsValidUtf8(f.data)) return path_.Fail(name, "invalid UTF-8");
    *out = f.data;
    return Status::OK();
  }
  Status Len(const WireField& f, const char* name, std::string_view* out) {
    if (f.type != WireType::kLen) return WrongType(name, f);
    *out = f.data;
    return Status::OK();
  }
  Status Id(const WireField& f, const char* name, internal::RawId* out) {
    if (f.type != WireType::kLen) return WrongType(name, f);
    out->Set(f.data);
    return Status::OK();
  }
  Status Fixed64(const WireField& f, const char* name, uint64_t* out) {
    if (f.type != WireType::kFixed64) return WrongType(name, f);
    *out = f.value;
    return Status::OK();
  }
  Status Double(const WireField& f, const char* name, double* out) {
    if (f.type != WireType::kFixed64) return WrongType(name, f);
    *out = f.AsDouble();
    return Status::OK();
  }
  Status Fixed32(const WireField& f, const char* name, uint32_t* out) {
    if (f.type != WireType::kFixed32) return WrongType(name, f);
    *out = static_cast<uint32_t>(f.value);
    return Status::OK();
  }
  Status Varint(const WireField& f, const char* name, uint64_t* out) {
    if (f.type != WireType::kVarint) return WrongType(name, f);
    *out = f.value;
    return Status::OK();
  }
  Status U32(const WireField& f, const char* name, uint32_t* out) {
    uint64_t v = 0;
    OTLP_RETURN_NOT_OK(Varint(f, name, &v));
    *out = static_cast<uint32_t>(v);
    return Status::OK();
  }
  Status I32(const WireField& f, const char* name, int32_t* out) {
    if (f.type != WireType::kVarint) return WrongType(name, f);
    *out = f.AsInt32();
    return Status::OK();
  }
  Status ReaderError(const WireReader& r) { return path_.Fail(r.error()); }
  // For bool-returning hot paths: the error is recorded in path_ by the Status-making call.
  static bool Failed(const Status&) { return false; }

  // Attributes. The hot path (span, attribute list, KeyValue, AnyValue) is 64-byte aligned so
  // that edits elsewhere in this file do not shift its code: without it, adding the shared data
  // point helpers measured ~6% slower on decode_bench at +0.35% instructions.
  // As a typed JSON object into *out (exemplars' filtered attributes).
  Status Attrs(std::string_view msg, uint32_t field, std::string* out, Captures* caps);
  // Hot path: false on error (recorded in path_).
  // Appends `sep` (',' or '\0' for the first member), "key":value.
  [[gnu::aligned(64)]] bool KeyValueEntry(std::string_view kv, int depth, char sep,
                                          std::string* out, Captures* caps);
  [[gnu::aligned(64)]] bool Value(std::string_view msg, int depth, std::string* out,
                                  ValueInfo* info);
  // As map entries (the stored form of every other attribute list): MapAttrs replaces *out,
  // MapList (KeyValue views collected while the record was read) appends to it. Captures are
  // noted from the entries.
  Status MapAttrs(std::string_view msg, uint32_t field, table::AttrMap* out, Captures* caps);
  [[gnu::aligned(64)]] Status MapList(const std::vector<std::string_view>& kvs,
                                      table::AttrMap* out, Captures* caps);
  [[gnu::aligned(64)]] bool MapEntry(std::string_view kv, table::AttrMap* out, Captures* caps);
  // Appends the map value text of AnyValue `msg` to *out; *info gets its kind.
  [[gnu::aligned(64)]] bool MapValue(std::string_view msg, std::string* out, ValueInfo* info);
  // Splits a KeyValue into its key and value (has_value false if it has none).
  bool SplitKeyValue(std::string_view kv, std::string_view* key, std::string_view* value,
                     bool* has_value);

  // Containers.
  Status ResourceLevel(Signal signal, std::string_view msg);
  Status ScopeLevel(Signal signal, std::string_view msg);
  Status Resource(std::string_view msg);
  Status Scope(std::string_view msg);

  // Records.
  [[gnu::aligned(64)]] Status Span(std::string_view msg);
  Status Log(std::string_view msg);
  Status Metric(std::string_view msg);
  Status NumberPoint(std::string_view msg, const MetricData& m);
  Status HistogramPoint(std::string_view msg, const MetricData& m);
  Status ExpHistogramPoint(std::string_view msg, const MetricData& m);
  Status SummaryPoint(std::string_view msg, const MetricData& m);
  Status Buckets(std::string_view msg, std::string* out);
  Status Exemplars(uint32_t field, std::string_view point, std::string* out, bool* ok,
                   std::string* reason);
  // The numbers of the fields the data point kinds share, per kind; 0 where a kind lacks one.
  // start_time_unix_nano (2) and time_unix_nano (3) are the same in all.
  struct PointFields {
    uint32_t attributes, flags, exemplars, count, sum, min, max;
  };
  static constexpr PointFields kNumberFields{7, 8, 5, 0, 0, 0, 0};
  static constexpr PointFields kHistogramFields{9, 10, 8, 4, 5, 11, 12};
  static constexpr PointFields kExpHistogramFields{1, 10, 11, 4, 5, 12, 13};
  static constexpr PointFields kSummaryFields{7, 8, 0, 4, 5, 0, 0};
  // Reads `f` if it is one of the shared fields of a point with field numbers `n`; *used says if
  // it was. Repeated attributes and exemplars are only type-checked here; FinishPoint reads them.
  template <typename P>
  Status PointField(const WireField& f, const PointFields& n, P* p, bool* used);
  // Walks the fields of data point `msg`: the shared ones via PointField, every other via
  // own_field(f) (the kind's own fields; it skips unknowns).
  template <typename P, typename Fn>
  Status PointMembers(std::string_view msg, const PointFields& n, P* p, Fn&& own_field);
  // The common end of every data point, once its own fields are read: validates it, renders its
  // exemplars and attributes from `msg`, then rejects or writes it. `j` is for the histogram kinds.
  template <typename P>
  Status FinishPoint(std::string_view msg, const PointFields& n, const MetricData& m, const P& p,
                     const RowEmitter::HistJson& j = {});

  const DecodeOptions& opt_;
  RowEmitter emit_;
  ErrorPath path_;
  ResourceCtx res_;
  ScopeCtx scope_;
  Captures caps_;
  // Scratch, reused across records so the hot path does not allocate.
  std::string body_, exemplars_, ex_attrs_, metadata_, bounds_, counts_, positive_,
      negative_, quantiles_, reason_;
  table::AttrMap attrs_, sub_map_;
  Captures sub_caps_;  // an event's or link's, while the span's stay in caps_
  struct Event {
    EventData d;
    std::string_view msg;
  };
  struct Link {
    LinkData d;
    std::string_view msg;
  };
  std::vector<Event> events_;
  std::vector<Link> links_;
  std::vector<std::string_view> kvs_;  // the current record's attributes
};

// ---------------------------------------------------------------------------------------------
// Attributes and AnyValues.

Status ProtoDecoder::Attrs(std::string_view msg, uint32_t field, std::string* out,
                           Captures* caps) {
  out->clear();
  out->push_back('{');
  WireReader r(msg);
  WireField f;
  int64_t index = 0;
  while (r.Next(&f)) {
    if (f.number != field) continue;
    if (f.type != WireType::kLen) {
      OTLP_RETURN_AT(path_, WrongType("attributes", f), "attributes", index);
    }
    if (!KeyValueEntry(f.data, 0, index > 0 ? ',' : '\0', out, caps)) {
      path_.Push("attributes", index);
      return Status::Invalid("");
    }
    ++index;
  }
  if (!r.ok()) return ReaderError(r);
  out->push_back('}');
  return Status::OK();
}

// The hot path: bool results (the error itself is in path_), and a fast path for the usual
// encoding of a KeyValue -- exactly one key field then one value field, short lengths.
inline bool ProtoDecoder::SplitKeyValue(std::string_view kv, std::string_view* key_out,
                                        std::string_view* value_out, bool* has_value_out) {
  std::string_view key, value;
  bool has_value = false;
  const auto* b = reinterpret_cast<const uint8_t*>(kv.data());
  const size_t n = kv.size();
  if (n >= 4 && b[0] == 0x0A && b[1] < 0x80 && 2u + b[1] + 2u <= n && b[2 + b[1]] == 0x12 &&
      b[3 + b[1]] < 0x80 && 4u + b[1] + b[3 + b[1]] == n) {
    key = kv.substr(2, b[1]);
    value = kv.substr(4 + b[1]);
    has_value = true;
  } else {
    WireReader r(kv);
    WireField f;
    while (r.Next(&f)) {
      if (f.number == 1) {
        if (f.type != WireType::kLen) return Failed(WrongType("key", f));
        key = f.data;
      } else if (f.number == 2) {
        if (f.type != WireType::kLen) return Failed(WrongType("value", f));
        value = f.data;
        has_value = true;
      }
    }
    if (!r.ok()) return Failed(ReaderError(r));
  }
  *key_out = key;
  *value_out = value;
  *has_value_out = has_value;
  return true;
}

bool ProtoDecoder::KeyValueEntry(std::string_view kv, int depth, char sep, std::string* out,
                                 Captures* caps) {
  std::string_view key, value;
  bool has_value = false;
  if (!SplitKeyValue(kv, &key, &value, &has_value)) return false;
  if (!AppendJsonKey(out, sep, key)) return Failed(path_.Fail("key", "invalid UTF-8"));
  const size_t begin = out->size();
  ValueInfo info;
  if (has_value) {
    if (!Value(value, depth, out, &info)) {
      path_.Push("value");
      return false;
    }
  } else {
    out->append("null");
  }
  if (caps != nullptr) caps->Note(key, info, std::string_view(*out).substr(begin));
  return true;
}

Status ProtoDecoder::MapAttrs(std::string_view msg, uint32_t field, table::AttrMap* out,
                              Captures* caps) {
  out->clear();
  WireReader r(msg);
  WireField f;
  int64_t index = 0;
  while (r.Next(&f)) {
    if (f.number != field) continue;
    if (f.type != WireType::kLen) {
      OTLP_RETURN_AT(path_, WrongType("attributes", f), "attributes", index);
    }
    if (!MapEntry(f.data, out, caps)) {
      path_.Push("attributes", index);
      return Status::Invalid("");
    }
    ++index;
  }
  if (!r.ok()) return ReaderError(r);
  return Status::OK();
}

Status ProtoDecoder::MapList(const std::vector<std::string_view>& kvs, table::AttrMap* out,
                             Captures* caps) {
  for (size_t i = 0; i < kvs.size(); ++i) {
    if (!MapEntry(kvs[i], out, caps)) {
      path_.Push("attributes", static_cast<int64_t>(i));
      return Status::Invalid("");
    }
  }
  return Status::OK();
}

bool ProtoDecoder::MapEntry(std::string_view kv, table::AttrMap* m, Captures* caps) {
  std::string_view key, value;
  bool has_value = false;
  if (!SplitKeyValue(kv, &key, &value, &has_value)) return false;
  if (!IsValidUtf8(key)) return Failed(path_.Fail("key", "invalid UTF-8"));
  std::string* out = m->BeginEntry(key);
  const size_t begin = out->size();
  ValueInfo info;
  if (has_value && !MapValue(value, out, &info)) {
    path_.Push("value");
    return false;
  }
  m->EndEntry(internal::TypeLetter(info.kind));
  if (caps != nullptr) caps->Note(key, info, std::string_view(*out).substr(begin));
  return true;
}

bool ProtoDecoder::MapValue(std::string_view msg, std::string* out, ValueInfo* info) {
  WireField last;
  bool have = false;
  const auto* b = reinterpret_cast<const uint8_t*>(msg.data());
  if (msg.size() >= 2 && (b[0] == 0x0A || b[0] == 0x3A) && b[1] < 0x80 &&
      2u + b[1] == msg.size()) {
    // Fast path: exactly one string_value / bytes_value field.
    last.number = b[0] >> 3;
    last.type = WireType::kLen;
    last.data = msg.substr(2);
    have = true;
  } else {
    WireReader r(msg);
    WireField f;
    while (r.Next(&f)) {
      if (f.number >= 1 && f.number <= 7) {  // oneof: the last one on the wire wins
        last = f;
        have = true;
      }
    }
    if (!r.ok()) return Failed(ReaderError(r));
  }
  if (!have) {
    info->kind = ValueInfo::kEmpty;
    return true;
  }
  switch (last.number) {
    case 1:
      if (last.type != WireType::kLen) return Failed(WrongType("string_value", last));
      if (!IsValidUtf8(last.data)) return Failed(path_.Fail("string_value", "invalid UTF-8"));
      out->append(last.data.data(), last.data.size());
      info->kind = ValueInfo::kString;
      info->str = last.data;
      return true;
    case 2:
      if (last.type != WireType::kVarint) return Failed(WrongType("bool_value", last));
      out->append(last.value ? "true" : "false");
      info->kind = ValueInfo::kBool;
      return true;
    case 3:
      if (last.type != WireType::kVarint) return Failed(WrongType("int_value", last));
      AppendJsonInt(out, last.AsInt64());
      info->kind = ValueInfo::kInt;
      return true;
    case 4:
      if (last.type != WireType::kFixed64) return Failed(WrongType("double_value", last));
      info->num = last.AsDouble();
      AppendMapDouble(out, info->num);
      info->kind = ValueInfo::kDouble;
      return true;
    case 7:
      if (last.type != WireType::kLen) return Failed(WrongType("bytes_value", last));
      AppendBase64(out, last.data);
      info->kind = ValueInfo::kBytes;
      info->str = last.data;
      return true;
    default:
      // Arrays and kvlists: their typed JSON.
      return Value(msg, 0, out, info);
  }
}

bool ProtoDecoder::Value(std::string_view msg, int depth, std::string* out, ValueInfo* info) {
  WireField last;
  bool have = false;
  const auto* b = reinterpret_cast<const uint8_t*>(msg.data());
  if (msg.size() >= 2 && (b[0] == 0x0A || b[0] == 0x3A) && b[1] < 0x80 &&
      2u + b[1] == msg.size()) {
    // Fast path: exactly one string_value / bytes_value field.
    last.number = b[0] >> 3;
    last.type = WireType::kLen;
    last.data = msg.substr(2);
    have = true;
  } else {
    WireReader r(msg);
    WireField f;
    while (r.Next(&f)) {
      if (f.number >= 1 && f.number <= 7) {  // oneof: the last one on the wire wins
        last = f;
        have = true;
      }
    }
    if (!r.ok()) return Failed(ReaderError(r));
  }
  if (!have) {
    out->append("null");
    info->kind = ValueInfo::kEmpty;
    return true;
  }
  switch (last.number) {
    case 1: {
      if (last.type != WireType::kLen) return Failed(WrongType("string_value", last));
      if (!AppendJsonString(out, last.data)) {
        return Failed(path_.Fail("string_value", "invalid UTF-8"));
      }
      info->kind = ValueInfo::kString;
      info->str = last.data;
      return true;
    }
    case 2:
      if (last.type != WireType::kVarint) return Failed(WrongType("bool_value", last));
      out->append(last.value ? "true" : "false");
      info->kind = ValueInfo::kBool;
      return true;
    case 3:
      if (last.type != WireType::kVarint) return Failed(WrongType("int_value", last));
      AppendJsonInt(out, last.AsInt64());
      info->kind = ValueInfo::kInt;
      return true;
    case 4:
      if (last.type != WireType::kFixed64) return Failed(WrongType("double_value", last));
      AppendTypedDouble(out, last.AsDouble());
      info->kind = ValueInfo::kDouble;
      return true;
    case 7:
      if (last.type != WireType::kLen) return Failed(WrongType("bytes_value", last));
      AppendTypedBytes(out, last.data);
      info->kind = ValueInfo::kBytes;
      return true;
    case 5: {
      if (last.type != WireType::kLen) return Failed(WrongType("array_value", last));
      if (depth + 1 > opt_.max_nesting_depth) {
        return Failed(path_
                    .Fail("array_value", "nesting deeper than " +
                                             std::to_string(opt_.max_nesting_depth) + " levels")
                    );
      }
      out->push_back('[');
      WireReader ar(last.data);
      WireField e;
      int64_t index = 0;
      while (ar.Next(&e)) {
        if (e.number != 1) continue;
        if (e.type != WireType::kLen) {
          (void)WrongType("values", e);
          path_.Push("array_value");
          return false;
        }
        if (index > 0) out->push_back(',');
        ValueInfo ignored;
        if (!Value(e.data, depth + 1, out, &ignored)) {
          path_.Push("values", index);
          path_.Push("array_value");
          return false;
        }
        ++index;
      }
      if (!ar.ok()) {
        (void)ReaderError(ar);
        path_.Push("array_value");
        return false;
      }
      out->push_back(']');
      info->kind = ValueInfo::kArray;
      return true;
    }
    case 6: {
      if (last.type != WireType::kLen) return Failed(WrongType("kvlist_value", last));
      if (depth + 1 > opt_.max_nesting_depth) {
        return Failed(path_
                    .Fail("kvlist_value", "nesting deeper than " +
                                              std::to_string(opt_.max_nesting_depth) + " levels")
                    );
      }
      // Pre-scan: entry count and first key decide the {"$kvlist":...} escape.
      size_t entries = 0;
      std::string_view first_key;
      {
        WireReader pr(last.data);
        WireField e;
        while (pr.Next(&e)) {
          if (e.number != 1 || e.type != WireType::kLen) continue;
          if (entries++ == 0) {
            WireReader kr(e.data);
            WireField k;
            while (kr.Next(&k)) {
              if (k.number == 1 && k.type == WireType::kLen) first_key = k.data;
            }
          }
        }
      }
      const bool wrap = KvlistNeedsEscape(entries, first_key);
      if (wrap) out->append(R"({"$kvlist":)");
      out->push_back('{');
      WireReader kr(last.data);
      WireField e;
      int64_t index = 0;
      while (kr.Next(&e)) {
        if (e.number != 1) continue;
        if (e.type != WireType::kLen) {
          (void)WrongType("values", e);
          path_.Push("kvlist_value");
          return false;
        }
        if (!KeyValueEntry(e.data, depth + 1, index > 0 ? ',' : '\0', out, nullptr)) {
          path_.Push("values", index);
          path_.Push("kvlist_value");
          return false;
        }
        ++index;
      }
      if (!kr.ok()) {
        (void)ReaderError(kr);
        path_.Push("kvlist_value");
        return false;
      }
      out->push_back('}');
      if (wrap) out->push_back('}');
      info->kind = ValueInfo::kKvlist;
      return true;
    }
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Containers.

Status ProtoDecoder::Decode(Signal signal, std::string_view body) {
  const char* name = signal == Signal::kTraces ? "resource_spans"
                     : signal == Signal::kLogs ? "resource_logs"
                                               : "resource_metrics";
  WireReader r(body);
  WireField f;
  int64_t index = 0;
  while (r.Next(&f)) {
    if (f.number != 1) continue;
    std::string_view msg;
    OTLP_RETURN_NOT_OK(Len(f, name, &msg));
    OTLP_RETURN_AT(path_, ResourceLevel(signal, msg), name, index);
    ++index;
  }
  if (!r.ok()) return ReaderError(r);
  return Status::OK();
}

Status ProtoDecoder::ResourceLevel(Signal signal, std::string_view msg) {
  emit_.ContextChanged();  // res_/scope_ change below: no shortcut across this
  const char* scopes = signal == Signal::kTraces ? "scope_spans"
                       : signal == Signal::kLogs ? "scope_logs"
                                                 : "scope_metrics";
  std::string_view resource, schema_url, ignored;
  WireReader r(msg);
  WireField f;
  while (r.Next(&f)) {
    switch (f.number) {
      case 1: OTLP_RETURN_NOT_OK(Len(f, "resource", &resource)); break;
      case 2: OTLP_RETURN_NOT_OK(Len(f, scopes, &ignored)); break;
      case 3: OTLP_RETURN_NOT_OK(Str(f, "schema_url", &schema_url)); break;
      default: break;
    }
  }
  if (!r.ok()) return ReaderError(r);
  OTLP_RETURN_AT(path_, Resource(resource), "resource");
  res_.schema_url.assign(schema_url);

  WireReader r2(msg);
  int64_t index = 0;
  while (r2.Next(&f)) {
    if (f.number != 2) continue;
    OTLP_RETURN_AT(path_, ScopeLevel(signal, f.data), scopes, index);
    ++index;
  }
  return Status::OK();
}

Status ProtoDecoder::Resource(std::string_view msg) {
  res_.dropped = 0;
  WireReader r(msg);
  WireField f;
  std::string_view ignored;
  while (r.Next(&f)) {
    if (f.number == 1) {
      OTLP_RETURN_NOT_OK(Len(f, "attributes", &ignored));
    } else if (f.number == 2) {
      uint32_t d = 0;
      OTLP_RETURN_NOT_OK(U32(f, "dropped_attributes_count", &d));
      res_.dropped = d;
    }
  }
  if (!r.ok()) return ReaderError(r);
  caps_.Reset();
  OTLP_RETURN_NOT_OK(MapAttrs(msg, 1, &res_.attrs, &caps_));
  res_.Finish(caps_);
  return Status::OK();
}

Status ProtoDecoder::Scope(std::string_view msg) {
  std::string_view name, version, ignored;
  scope_.dropped = 0;
  WireReader r(msg);
  WireField f;
  while (r.Next(&f)) {
    switch (f.number) {
      case 1: OTLP_RETURN_NOT_OK(Str(f, "name", &name)); break;
      case 2: OTLP_RETURN_NOT_OK(Str(f, "version", &version)); break;
      case 3: OTLP_RETURN_NOT_OK(Len(f, "attributes", &ignored)); break;
      case 4: {
        uint32_t d = 0;
        OTLP_RETURN_NOT_OK(U32(f, "dropped_attributes_count", &d));
        scope_.dropped = d;
        break;
      }
      default: break;
    }
  }
  if (!r.ok()) return ReaderError(r);
  scope_.name.assign(name);
  scope_.version.assign(version);
  return MapAttrs(msg, 3, &scope_.attrs, nullptr);
}

Status ProtoDecoder::ScopeLevel(Signal signal, std::string_view msg) {
  emit_.ContextChanged();  // res_/scope_ change below: no shortcut across this
  const char* records = signal == Signal::kTraces ? "spans"
                        : signal == Signal::kLogs ? "log_records"
                                                  : "metrics";
  std::string_view scope, schema_url, ignored;
  WireReader r(msg);
  WireField f;
  while (r.Next(&f)) {
    switch (f.number) {
      case 1: OTLP_RETURN_NOT_OK(Len(f, "scope", &scope)); break;
      case 2: OTLP_RETURN_NOT_OK(Len(f, records, &ignored)); break;
      case 3: OTLP_RETURN_NOT_OK(Str(f, "schema_url", &schema_url)); break;
      default: break;
    }
  }
  if (!r.ok()) return ReaderError(r);
  OTLP_RETURN_AT(path_, Scope(scope), "scope");
  scope_.schema_url.assign(schema_url);

  WireReader r2(msg);
  int64_t index = 0;
  while (r2.Next(&f)) {
    if (f.number != 2) continue;
    switch (signal) {
      case Signal::kTraces: OTLP_RETURN_AT(path_, Span(f.data), records, index); break;
      case Signal::kLogs: OTLP_RETURN_AT(path_, Log(f.data), records, index); break;
      case Signal::kMetrics: OTLP_RETURN_AT(path_, Metric(f.data), records, index); break;
    }
    ++index;
  }
  return Status::OK();
}

// ---------------------------------------------------------------------------------------------
// Spans.

Status ProtoDecoder::Span(std::string_view msg) {
  SpanData s;
  events_.clear();
  links_.clear();
  kvs_.clear();
  std::string_view ignored;
  WireReader r(msg);
  WireField f;
  while (r.Next(&f)) {
    switch (f.number) {
      case 1: OTLP_RETURN_NOT_OK(Id(f, "trace_id", &s.trace_id)); break;
      case 2: OTLP_RETURN_NOT_OK(Id(f, "span_id", &s.span_id)); break;
      case 3: OTLP_RETURN_NOT_OK(Str(f, "trace_state", &s.trace_state)); break;
      case 4: OTLP_RETURN_NOT_OK(Id(f, "parent_span_id", &s.parent_span_id)); break;
      case 5: OTLP_RETURN_NOT_OK(Str(f, "name", &s.name)); break;
      case 6: OTLP_RETURN_NOT_OK(I32(f, "kind", &s.kind)); break;
      case 7: OTLP_RETURN_NOT_OK(Fixed64(f, "start_time_unix_nano", &s.start)); break;
      case 8: OTLP_RETURN_NOT_OK(Fixed64(f, "end_time_unix_nano", &s.end)); break;
      case 9:
        OTLP_RETURN_NOT_OK(Len(f, "attributes", &ignored));
        kvs_.push_back(f.data);
        break;
      case 10: OTLP_RETURN_NOT_OK(U32(f, "dropped_attributes_count", &s.dropped_attributes)); break;
      case 11: {
        Event e;
        OTLP_RETURN_NOT_OK(Len(f, "events", &e.msg));
        events_.push_back(e);
        break;
      }
      case 12: OTLP_RETURN_NOT_OK(U32(f, "dropped_events_count", &s.dropped_events)); break;
      case 13: {
        Link l;
        OTLP_RETURN_NOT_OK(Len(f, "links", &l.msg));
        links_.push_back(l);
        break;
      }
      case 14: OTLP_RETURN_NOT_OK(U32(f, "dropped_links_count", &s.dropped_links)); break;
      case 15: {
        std::string_view st;
        OTLP_RETURN_NOT_OK(Len(f, "status", &st));
        s.status_message = {};
        s.status_code = 0;
        WireReader sr(st);
        WireField sf;
        while (sr.Next(&sf)) {
          if (sf.number == 2) {
            OTLP_RETURN_AT(path_, Str(sf, "message", &s.status_message), "status");
          } else if (sf.number == 3) {
            OTLP_RETURN_AT(path_, I32(sf, "code", &s.status_code), "status");
          }
        }
        if (!sr.ok()) OTLP_RETURN_AT(path_, ReaderError(sr), "status");
        break;
      }
      case 16: OTLP_RETURN_NOT_OK(Fixed32(f, "flags", &s.flags)); break;
      default: break;
    }
  }
  if (!r.ok()) return ReaderError(r);

  bool ok = internal::CheckSpan(s, &reason_);

  for (size_t i = 0; i < events_.size(); ++i) {
    EventData& d = events_[i].d;
    WireReader er(events_[i].msg);
    Status st;
    while (st.ok() && er.Next(&f)) {
      switch (f.number) {
        case 1: st = Fixed64(f, "time_unix_nano", &d.time); break;
        case 2: st = Str(f, "name", &d.name); break;
        case 3: st = Len(f, "attributes", &ignored); break;
        case 4: st = U32(f, "dropped_attributes_count", &d.dropped_attributes); break;
        default: break;
      }
    }
    if (st.ok() && !er.ok()) st = ReaderError(er);
    OTLP_RETURN_AT(path_, st, "events", static_cast<int64_t>(i));
    if (ok) ok = internal::CheckEvent(d, &reason_);
  }
  for (size_t i = 0; i < links_.size(); ++i) {
    LinkData& d = links_[i].d;
    WireReader lr(links_[i].msg);
    Status st;
    while (st.ok() && lr.Next(&f)) {
      switch (f.number) {
        case 1: st = Id(f, "trace_id", &d.trace_id); break;
        case 2: st = Id(f, "span_id", &d.span_id); break;
        case 3: st = Str(f, "trace_state", &d.trace_state); break;
        case 4: st = Len(f, "attributes", &ignored); break;
        case 5: st = U32(f, "dropped_attributes_count", &d.dropped_attributes); break;
        case 6: st = Fixed32(f, "flags", &d.flags); break;
        default: break;
      }
    }
    if (st.ok() && !lr.ok()) st = ReaderError(lr);
    OTLP_RETURN_AT(path_, st, "links", static_cast<int64_t>(i));
    if (ok) ok = internal::CheckLink(d, &reason_);
  }

  caps_.Reset();
  attrs_.clear();
  OTLP_RETURN_NOT_OK(MapList(kvs_, &attrs_, &caps_));
  if (!ok) {
    // Still read the parts we will not store, so that a malformed request is a 400 whether
    // or not one of its spans is also invalid.
    for (size_t i = 0; i < events_.size(); ++i) {
      OTLP_RETURN_AT(path_, MapAttrs(events_[i].msg, 3, &sub_map_, nullptr), "events",
                     static_cast<int64_t>(i));
    }
    for (size_t i = 0; i < links_.size(); ++i) {
      OTLP_RETURN_AT(path_, MapAttrs(links_[i].msg, 4, &sub_map_, nullptr), "links",
                     static_cast<int64_t>(i));
    }
    emit_.Reject(reason_);
    return Status::OK();
  }
  const Identity id = internal::ResolveIdentity(caps_, res_.identity);
  emit_.EmitSpan(res_, scope_, s, attrs_, id);
  for (size_t i = 0; i < events_.size(); ++i) {
    sub_caps_.Reset();
    OTLP_RETURN_AT(path_, MapAttrs(events_[i].msg, 3, &sub_map_, &sub_caps_), "events",
                   static_cast<int64_t>(i));
    const Identity eid = internal::ResolveIdentity(sub_caps_, id);
    emit_.EmitEvent(res_, scope_, s, static_cast<int64_t>(i), events_[i].d, sub_map_, eid);
  }
  for (size_t i = 0; i < links_.size(); ++i) {
    sub_caps_.Reset();
    OTLP_RETURN_AT(path_, MapAttrs(links_[i].msg, 4, &sub_map_, &sub_caps_), "links",
                   static_cast<int64_t>(i));
    const Identity lid = internal::ResolveIdentity(sub_caps_, id);
    emit_.EmitLink(res_, scope_, s, static_cast<int64_t>(i), links_[i].d, sub_map_, lid);
  }
  emit_.Accept();
  return Status::OK();
}

// ---------------------------------------------------------------------------------------------
// Logs.

Status ProtoDecoder::Log(std::string_view msg) {
  LogData d;
  std::string_view body, ignored;
  bool has_body = false;
  kvs_.clear();
  WireReader r(msg);
  WireField f;
  while (r.Next(&f)) {
    switch (f.number) {
      case 1: OTLP_RETURN_NOT_OK(Fixed64(f, "time_unix_nano", &d.time)); break;
      case 11: OTLP_RETURN_NOT_OK(Fixed64(f, "observed_time_unix_nano", &d.observed)); break;
      case 2: OTLP_RETURN_NOT_OK(I32(f, "severity_number", &d.severity_number)); break;
      case 3: OTLP_RETURN_NOT_OK(Str(f, "severity_text", &d.severity_text)); break;
      case 5:
        OTLP_RETURN_NOT_OK(Len(f, "body", &body));
        has_body = true;
        break;
      case 6:
        OTLP_RETURN_NOT_OK(Len(f, "attributes", &ignored));
        kvs_.push_back(f.data);
        break;
      case 7: OTLP_RETURN_NOT_OK(U32(f, "dropped_attributes_count", &d.dropped_attributes)); break;
      case 8: OTLP_RETURN_NOT_OK(Fixed32(f, "flags", &d.flags)); break;
      case 9: OTLP_RETURN_NOT_OK(Id(f, "trace_id", &d.trace_id)); break;
      case 10: OTLP_RETURN_NOT_OK(Id(f, "span_id", &d.span_id)); break;
      case 12: OTLP_RETURN_NOT_OK(Str(f, "event_name", &d.event_name)); break;
      default: break;
    }
  }
  if (!r.ok()) return ReaderError(r);
  const bool ok = internal::CheckLog(d, &reason_);
  ValueInfo info;
  body_.clear();
  if (has_body && !Value(body, 0, &body_, &info)) {
    path_.Push("body");
    return Status::Invalid("");
  }
  caps_.Reset();
  attrs_.clear();
  OTLP_RETURN_NOT_OK(MapList(kvs_, &attrs_, &caps_));
  emit_.FinishLog(ok, reason_, res_, scope_, d, info, body_, attrs_, caps_);
  return Status::OK();
}

// ---------------------------------------------------------------------------------------------
// Metrics.

Status ProtoDecoder::Metric(std::string_view msg) {
  MetricData m;
  std::string_view data, ignored;
  const char* data_name = "";
  WireReader r(msg);
  WireField f;
  while (r.Next(&f)) {
    switch (f.number) {
      case 1: OTLP_RETURN_NOT_OK(Str(f, "name", &m.name)); break;
      case 2: OTLP_RETURN_NOT_OK(Str(f, "description", &m.description)); break;
      case 3: OTLP_RETURN_NOT_OK(Str(f, "unit", &m.unit)); break;
      case 5:
        m.type = MetricType::kGauge;
        data_name = "gauge";
        break;
      case 7:
        m.type = MetricType::kSum;
        data_name = "sum";
        break;
      case 9:
        m.type = MetricType::kHistogram;
        data_name = "histogram";
        break;
      case 10:
        m.type = MetricType::kExpHistogram;
        data_name = "exponential_histogram";
        break;
      case 11:
        m.type = MetricType::kSummary;
        data_name = "summary";
        break;
      case 12: OTLP_RETURN_NOT_OK(Len(f, "metadata", &ignored)); break;
      default: break;
    }
    if (f.number == 5 || f.number == 7 || f.number == 9 || f.number == 10 || f.number == 11) {
      OTLP_RETURN_NOT_OK(Len(f, data_name, &data));
    }
  }
  if (!r.ok()) return ReaderError(r);
  {  // metadata first: a malformed request is a 400 even if the metric holds no data
    WireReader mr(msg);
    int64_t index = 0;
    metadata_.clear();
    metadata_.push_back('{');
    while (mr.Next(&f)) {
      if (f.number != 12) continue;
      if (!KeyValueEntry(f.data, 0, index > 0 ? ',' : '\0', &metadata_, nullptr)) {
        path_.Push("metadata", index);
        return Status::Invalid("");
      }
      ++index;
    }
    metadata_.push_back('}');
  }
  if (m.type == MetricType::kNone) return Status::OK();  // no data: nothing to store
  // Data container: temporality and monotonicity first (they may follow the points), then points.
  WireReader dr(data);
  while (dr.Next(&f)) {
    if (f.number == 2 && m.type != MetricType::kGauge && m.type != MetricType::kSummary) {
      OTLP_RETURN_AT(path_, I32(f, "aggregation_temporality", &m.temporality), data_name);
    } else if (f.number == 3 && m.type == MetricType::kSum) {
      uint64_t v = 0;
      OTLP_RETURN_AT(path_, Varint(f, "is_monotonic", &v), data_name);
      m.monotonic = v != 0;
    } else if (f.number == 1) {
      std::string_view ignored2;
      OTLP_RETURN_AT(path_, Len(f, "data_points", &ignored2), data_name);
    }
  }
  if (!dr.ok()) OTLP_RETURN_AT(path_, ReaderError(dr), data_name);
  WireReader pr(data);
  int64_t index = 0;
  while (pr.Next(&f)) {
    if (f.number != 1) continue;
    Status st;
    switch (m.type) {
      case MetricType::kGauge:
      case MetricType::kSum: st = NumberPoint(f.data, m); break;
      case MetricType::kHistogram: st = HistogramPoint(f.data, m); break;
      case MetricType::kExpHistogram: st = ExpHistogramPoint(f.data, m); break;
      case MetricType::kSummary: st = SummaryPoint(f.data, m); break;
      case MetricType::kNone: break;
    }
    if (!st.ok()) {
      path_.Push("data_points", index);
      path_.Push(data_name);
      return st;
    }
    ++index;
  }
  return Status::OK();
}

Status ProtoDecoder::Exemplars(uint32_t field, std::string_view point, std::string* out, bool* ok,
                               std::string* reason) {
  out->assign("[");
  WireReader r(point);
  WireField f;
  int64_t index = 0;
  while (r.Next(&f)) {
    if (f.number != field) continue;
    ExemplarData e;
    WireReader er(f.data);
    WireField g;
    Status st;
    while (st.ok() && er.Next(&g)) {
      switch (g.number) {
        case 2: st = Fixed64(g, "time_unix_nano", &e.time); break;
        case 3:
          st = Double(g, "as_double", &e.as_double);
          e.has_double = true;
          e.has_int = false;
          break;
        case 6: {
          uint64_t v = 0;
          st = Fixed64(g, "as_int", &v);
          e.as_int = static_cast<int64_t>(v);
          e.has_int = true;
          e.has_double = false;
          break;
        }
        case 4: st = Id(g, "span_id", &e.span_id); break;
        case 5: st = Id(g, "trace_id", &e.trace_id); break;
        default: break;
      }
    }
    if (st.ok() && !er.ok()) st = ReaderError(er);
    if (st.ok()) st = Attrs(f.data, 7, &ex_attrs_, nullptr);
    OTLP_RETURN_AT(path_, st, "exemplars", index);
    internal::AddExemplar(out, index, e, ex_attrs_, ok, reason);
    ++index;
  }
  out->push_back(']');
  return Status::OK();
}

template <typename P>
Status ProtoDecoder::PointField(const WireField& f, const PointFields& n, P* p, bool* used) {
  std::string_view ignored;
  *used = true;
  if (f.number == 2) return Fixed64(f, "start_time_unix_nano", &p->start);
  if (f.number == 3) return Fixed64(f, "time_unix_nano", &p->time);
  if (f.number == n.attributes) return Len(f, "attributes", &ignored);
  if (f.number == n.flags) return U32(f, "flags", &p->flags);
  if (n.exemplars != 0 && f.number == n.exemplars) return Len(f, "exemplars", &ignored);
  if constexpr (std::is_same_v<P, HistPointData>) {
    if (f.number == n.count) return Fixed64(f, "count", &p->count);
    if (f.number == n.sum) {
      OTLP_RETURN_NOT_OK(Double(f, "sum", &p->sum));
      p->has_sum = true;
      return Status::OK();
    }
    if (n.min != 0 && f.number == n.min) {
      OTLP_RETURN_NOT_OK(Double(f, "min", &p->min));
      p->has_min = true;
      return Status::OK();
    }
    if (n.max != 0 && f.number == n.max) {
      OTLP_RETURN_NOT_OK(Double(f, "max", &p->max));
      p->has_max = true;
      return Status::OK();
    }
  }
  *used = false;
  return Status::OK();
}

template <typename P, typename Fn>
Status ProtoDecoder::PointMembers(std::string_view msg, const PointFields& n, P* p,
                                  Fn&& own_field) {
  WireReader r(msg);
  WireField f;
  while (r.Next(&f)) {
    bool used = false;
    OTLP_RETURN_NOT_OK(PointField(f, n, p, &used));
    if (!used) OTLP_RETURN_NOT_OK(own_field(f));
  }
  if (!r.ok()) return ReaderError(r);
  return Status::OK();
}

template <typename P>
Status ProtoDecoder::FinishPoint(std::string_view msg, const PointFields& n, const MetricData& m,
                                 const P& p, const RowEmitter::HistJson& j) {
  bool ok = internal::CheckPoint(p, &reason_);
  if (n.exemplars != 0) {
    OTLP_RETURN_NOT_OK(Exemplars(n.exemplars, msg, &exemplars_, &ok, &reason_));
  } else {
    exemplars_.assign("[]");
  }
  caps_.Reset();
  OTLP_RETURN_NOT_OK(MapAttrs(msg, n.attributes, &attrs_, &caps_));
  const internal::PointCtx c{res_, scope_, m, metadata_, attrs_, caps_, exemplars_};
  if constexpr (std::is_same_v<P, HistPointData>) {
    emit_.FinishPoint(ok, reason_, c, p, j);
  } else {
    emit_.FinishPoint(ok, reason_, c, p);
  }
  return Status::OK();
}

Status ProtoDecoder::NumberPoint(std::string_view msg, const MetricData& m) {
  NumberPointData p;
  auto own_field = [&](const WireField& f) -> Status {
    switch (f.number) {
      case 4:
        OTLP_RETURN_NOT_OK(Double(f, "as_double", &p.as_double));
        p.has_double = true;
        p.has_int = false;
        break;
      case 6: {
        uint64_t v = 0;
        OTLP_RETURN_NOT_OK(Fixed64(f, "as_int", &v));
        p.as_int = static_cast<int64_t>(v);
        p.has_int = true;
        p.has_double = false;
        break;
      }
      default: break;
    }
    return Status::OK();
  };
  OTLP_RETURN_NOT_OK(PointMembers(msg, kNumberFields, &p, own_field));
  return FinishPoint(msg, kNumberFields, m, p);
}

Status ProtoDecoder::HistogramPoint(std::string_view msg, const MetricData& m) {
  HistPointData p;
  bounds_.assign("[");
  counts_.assign("[");
  bool first_bound = true, first_count = true;
  auto add_count = [&](uint64_t v) {
    if (!first_count) counts_.push_back(',');
    first_count = false;
    AppendJsonUint(&counts_, v);
  };
  auto add_bound = [&](double v) {
    if (!first_bound) bounds_.push_back(',');
    first_bound = false;
    AppendTypedDouble(&bounds_, v);
  };
  auto own_field = [&](const WireField& f) -> Status {
    switch (f.number) {
      case 6:
        if (f.type == WireType::kLen) {
          if (f.data.size() % 8 != 0) {
            return path_.Fail("bucket_counts", "packed fixed64 length not a multiple of 8");
          }
          for (size_t i = 0; i < f.data.size(); i += 8) {
            uint64_t v;
            std::memcpy(&v, f.data.data() + i, 8);
            add_count(v);
          }
        } else if (f.type == WireType::kFixed64) {
          add_count(f.value);
        } else {
          return WrongType("bucket_counts", f);
        }
        break;
      case 7:
        if (f.type == WireType::kLen) {
          if (f.data.size() % 8 != 0) {
            return path_.Fail("explicit_bounds", "packed double length not a multiple of 8");
          }
          for (size_t i = 0; i < f.data.size(); i += 8) {
            uint64_t v;
            std::memcpy(&v, f.data.data() + i, 8);
            add_bound(std::bit_cast<double>(v));
          }
        } else if (f.type == WireType::kFixed64) {
          add_bound(f.AsDouble());
        } else {
          return WrongType("explicit_bounds", f);
        }
        break;
      default: break;
    }
    return Status::OK();
  };
  OTLP_RETURN_NOT_OK(PointMembers(msg, kHistogramFields, &p, own_field));
  bounds_.push_back(']');
  counts_.push_back(']');
  RowEmitter::HistJson j;
  j.has_bounds = true;
  j.bounds = bounds_;
  j.counts = counts_;
  return FinishPoint(msg, kHistogramFields, m, p, j);
}

Status ProtoDecoder::Buckets(std::string_view msg, std::string* out) {
  int32_t offset = 0;
  WireReader r(msg);
  WireField f;
  while (r.Next(&f)) {
    if (f.number == 1) {
      if (f.type != WireType::kVarint) return WrongType("offset", f);
      offset = f.AsSint32();
    }
  }
  if (!r.ok()) return ReaderError(r);
  out->clear();
  internal::AppendBucketsPrefix(out, offset);
  bool first = true;
  WireReader r2(msg);
  while (r2.Next(&f)) {
    if (f.number != 2) continue;
    if (f.type == WireType::kVarint) {
      if (!first) out->push_back(',');
      first = false;
      AppendJsonUint(out, f.value);
    } else if (f.type == WireType::kLen) {
      auto* p = reinterpret_cast<const uint8_t*>(f.data.data());
      auto* end = p + f.data.size();
      while (p < end) {
        uint64_t v;
        if (ReadVarint(&p, end, &v) != 0) {
          return path_.Fail("bucket_counts", "malformed packed varint");
        }
        if (!first) out->push_back(',');
        first = false;
        AppendJsonUint(out, v);
      }
    } else {
      return WrongType("bucket_counts", f);
    }
  }
  out->append("]}");
  return Status::OK();
}

Status ProtoDecoder::ExpHistogramPoint(std::string_view msg, const MetricData& m) {
  HistPointData p;
  positive_.clear();
  negative_.clear();
  auto own_field = [&](const WireField& f) -> Status {
    switch (f.number) {
      case 6:
        if (f.type != WireType::kVarint) return WrongType("scale", f);
        p.scale = f.AsSint32();
        break;
      case 7: OTLP_RETURN_NOT_OK(Fixed64(f, "zero_count", &p.zero_count)); break;
      case 8: {
        std::string_view b;
        OTLP_RETURN_NOT_OK(Len(f, "positive", &b));
        OTLP_RETURN_AT(path_, Buckets(b, &positive_), "positive");
        break;
      }
      case 9: {
        std::string_view b;
        OTLP_RETURN_NOT_OK(Len(f, "negative", &b));
        OTLP_RETURN_AT(path_, Buckets(b, &negative_), "negative");
        break;
      }
      case 14: OTLP_RETURN_NOT_OK(Double(f, "zero_threshold", &p.zero_threshold)); break;
      default: break;
    }
    return Status::OK();
  };
  OTLP_RETURN_NOT_OK(PointMembers(msg, kExpHistogramFields, &p, own_field));
  if (positive_.empty()) internal::AppendBucketsPrefix(&positive_, 0), positive_.append("]}");
  if (negative_.empty()) internal::AppendBucketsPrefix(&negative_, 0), negative_.append("]}");
  RowEmitter::HistJson j;
  j.has_exp = true;
  j.positive = positive_;
  j.negative = negative_;
  return FinishPoint(msg, kExpHistogramFields, m, p, j);
}

Status ProtoDecoder::SummaryPoint(std::string_view msg, const MetricData& m) {
  HistPointData p;
  p.has_sum = true;
  quantiles_.assign("[");
  int64_t qindex = 0;
  auto own_field = [&](const WireField& f) -> Status {
    switch (f.number) {
      case 6: {
        std::string_view qv;
        OTLP_RETURN_NOT_OK(Len(f, "quantile_values", &qv));
        double q = 0, v = 0;
        WireReader qr(qv);
        WireField g;
        Status st;
        while (st.ok() && qr.Next(&g)) {
          if (g.number == 1) st = Double(g, "quantile", &q);
          if (g.number == 2) st = Double(g, "value", &v);
        }
        if (st.ok() && !qr.ok()) st = ReaderError(qr);
        OTLP_RETURN_AT(path_, st, "quantile_values", qindex);
        internal::AppendQuantile(&quantiles_, qindex, q, v);
        ++qindex;
        break;
      }
      default: break;
    }
    return Status::OK();
  };
  OTLP_RETURN_NOT_OK(PointMembers(msg, kSummaryFields, &p, own_field));
  quantiles_.push_back(']');
  RowEmitter::HistJson j;
  j.has_quantiles = true;
  j.quantiles = quantiles_;
  return FinishPoint(msg, kSummaryFields, m, p, j);
}

}  // namespace

namespace internal {
Status DecodeProtobufImpl(Signal signal, std::string_view body, const DecodeOptions& options,
                          DecodeResult* out) {
  ProtoDecoder d(options, out);
  Status st = d.Decode(signal, body);
  if (!st.ok()) return d.path().Finish();
  return Status::OK();
}
}  // namespace internal

}  // namespace otlake::otlp
