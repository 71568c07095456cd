#include "otlake/otlp/json_to_proto.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "otlake/otlp/encoding.h"
#include "otlake/otlp/json_fields.h"
#include "otlake/otlp/proto_writer.h"
#include "otlake/otlp/rows_internal.h"
#include "otlake/otlp/wire.h"

namespace otlake::otlp {
namespace {

using internal::JsonStr;
using JValue = rapidjson::Value;

enum class K : uint8_t {
  kString,
  kBytes,  // base64
  kId,     // hex or base64, see DecodeJsonId
  kBool,
  kEnum,
  kU32,
  kSint32,
  kI64,
  kFixed64,
  kSfixed64,
  kFixed32,
  kDouble,
  kMsg,
  kPackedFixed64,
  kPackedDouble,
  kPackedVarint,
};

struct Msg;
using EnumParser = bool (*)(std::string_view, int32_t*);

struct Field {
  const char* name;
  uint32_t number;
  K kind;
  const Msg* msg = nullptr;  // kMsg
  bool repeated = false;     // kMsg only; packed kinds are always repeated
  int oneof = 0;             // members of one oneof share a non-zero id
  EnumParser parse = nullptr;
  int id_size = 0;
  const char* alias = nullptr;  // legacy name accepted too
};

struct Msg {
  const Field* fields;
  int count;
};

template <size_t N>
constexpr Msg M(const Field (&f)[N]) {
  return Msg{f, static_cast<int>(N)};
}

extern const Msg kAnyValue, kKeyValue, kArrayValue, kKeyValueList, kResource, kScope;
extern const Msg kTracesReq, kResourceSpans, kScopeSpans, kSpan, kEvent, kLink, kStatus;
extern const Msg kLogsReq, kResourceLogs, kScopeLogs, kLogRecord;
extern const Msg kMetricsReq, kResourceMetrics, kScopeMetrics, kMetric, kGauge, kSum, kHistogram,
    kExpHistogram, kSummary, kNumberDP, kHistogramDP, kExpHistogramDP, kSummaryDP, kBuckets,
    kQuantile, kExemplar;

constexpr Field kAnyValueF[] = {
    {"stringValue", 1, K::kString, nullptr, false, 1},
    {"boolValue", 2, K::kBool, nullptr, false, 1},
    {"intValue", 3, K::kI64, nullptr, false, 1},
    {"doubleValue", 4, K::kDouble, nullptr, false, 1},
    {"arrayValue", 5, K::kMsg, &kArrayValue, false, 1},
    {"kvlistValue", 6, K::kMsg, &kKeyValueList, false, 1},
    {"bytesValue", 7, K::kBytes, nullptr, false, 1},
};
constexpr Field kKeyValueF[] = {
    {"key", 1, K::kString},
    {"value", 2, K::kMsg, &kAnyValue},
};
constexpr Field kArrayValueF[] = {{"values", 1, K::kMsg, &kAnyValue, true}};
constexpr Field kKeyValueListF[] = {{"values", 1, K::kMsg, &kKeyValue, true}};
constexpr Field kResourceF[] = {
    {"attributes", 1, K::kMsg, &kKeyValue, true},
    {"droppedAttributesCount", 2, K::kU32},
};
constexpr Field kScopeF[] = {
    {"name", 1, K::kString},
    {"version", 2, K::kString},
    {"attributes", 3, K::kMsg, &kKeyValue, true},
    {"droppedAttributesCount", 4, K::kU32},
};

// Traces.
constexpr Field kTracesReqF[] = {{"resourceSpans", 1, K::kMsg, &kResourceSpans, true}};
constexpr Field kResourceSpansF[] = {
    {"resource", 1, K::kMsg, &kResource},
    {"scopeSpans", 2, K::kMsg, &kScopeSpans, true, 0, nullptr, 0, "instrumentationLibrarySpans"},
    {"schemaUrl", 3, K::kString},
};
constexpr Field kScopeSpansF[] = {
    {"scope", 1, K::kMsg, &kScope, false, 0, nullptr, 0, "instrumentationLibrary"},
    {"spans", 2, K::kMsg, &kSpan, true},
    {"schemaUrl", 3, K::kString},
};
constexpr Field kSpanF[] = {
    {"traceId", 1, K::kId, nullptr, false, 0, nullptr, 16},
    {"spanId", 2, K::kId, nullptr, false, 0, nullptr, 8},
    {"traceState", 3, K::kString},
    {"parentSpanId", 4, K::kId, nullptr, false, 0, nullptr, 8},
    {"name", 5, K::kString},
    {"kind", 6, K::kEnum, nullptr, false, 0, internal::ParseSpanKindName},
    {"startTimeUnixNano", 7, K::kFixed64},
    {"endTimeUnixNano", 8, K::kFixed64},
    {"attributes", 9, K::kMsg, &kKeyValue, true},
    {"droppedAttributesCount", 10, K::kU32},
    {"events", 11, K::kMsg, &kEvent, true},
    {"droppedEventsCount", 12, K::kU32},
    {"links", 13, K::kMsg, &kLink, true},
    {"droppedLinksCount", 14, K::kU32},
    {"status", 15, K::kMsg, &kStatus},
    {"flags", 16, K::kFixed32},
};
constexpr Field kEventF[] = {
    {"timeUnixNano", 1, K::kFixed64},
    {"name", 2, K::kString},
    {"attributes", 3, K::kMsg, &kKeyValue, true},
    {"droppedAttributesCount", 4, K::kU32},
};
constexpr Field kLinkF[] = {
    {"traceId", 1, K::kId, nullptr, false, 0, nullptr, 16},
    {"spanId", 2, K::kId, nullptr, false, 0, nullptr, 8},
    {"traceState", 3, K::kString},
    {"attributes", 4, K::kMsg, &kKeyValue, true},
    {"droppedAttributesCount", 5, K::kU32},
    {"flags", 6, K::kFixed32},
};
constexpr Field kStatusF[] = {
    {"message", 2, K::kString},
    {"code", 3, K::kEnum, nullptr, false, 0, internal::ParseStatusCodeName},
};

// Logs.
constexpr Field kLogsReqF[] = {{"resourceLogs", 1, K::kMsg, &kResourceLogs, true}};
constexpr Field kResourceLogsF[] = {
    {"resource", 1, K::kMsg, &kResource},
    {"scopeLogs", 2, K::kMsg, &kScopeLogs, true, 0, nullptr, 0, "instrumentationLibraryLogs"},
    {"schemaUrl", 3, K::kString},
};
constexpr Field kScopeLogsF[] = {
    {"scope", 1, K::kMsg, &kScope, false, 0, nullptr, 0, "instrumentationLibrary"},
    {"logRecords", 2, K::kMsg, &kLogRecord, true},
    {"schemaUrl", 3, K::kString},
};
constexpr Field kLogRecordF[] = {
    {"timeUnixNano", 1, K::kFixed64},
    {"observedTimeUnixNano", 11, K::kFixed64},
    {"severityNumber", 2, K::kEnum, nullptr, false, 0, internal::ParseSeverityNumberName},
    {"severityText", 3, K::kString},
    {"body", 5, K::kMsg, &kAnyValue},
    {"attributes", 6, K::kMsg, &kKeyValue, true},
    {"droppedAttributesCount", 7, K::kU32},
    {"flags", 8, K::kFixed32},
    {"traceId", 9, K::kId, nullptr, false, 0, nullptr, 16},
    {"spanId", 10, K::kId, nullptr, false, 0, nullptr, 8},
    {"eventName", 12, K::kString},
};

// Metrics.
constexpr Field kMetricsReqF[] = {{"resourceMetrics", 1, K::kMsg, &kResourceMetrics, true}};
constexpr Field kResourceMetricsF[] = {
    {"resource", 1, K::kMsg, &kResource},
    {"scopeMetrics", 2, K::kMsg, &kScopeMetrics, true, 0, nullptr, 0,
     "instrumentationLibraryMetrics"},
    {"schemaUrl", 3, K::kString},
};
constexpr Field kScopeMetricsF[] = {
    {"scope", 1, K::kMsg, &kScope, false, 0, nullptr, 0, "instrumentationLibrary"},
    {"metrics", 2, K::kMsg, &kMetric, true},
    {"schemaUrl", 3, K::kString},
};
constexpr Field kMetricF[] = {
    {"name", 1, K::kString},
    {"description", 2, K::kString},
    {"unit", 3, K::kString},
    {"gauge", 5, K::kMsg, &kGauge, false, 1},
    {"sum", 7, K::kMsg, &kSum, false, 1},
    {"histogram", 9, K::kMsg, &kHistogram, false, 1},
    {"exponentialHistogram", 10, K::kMsg, &kExpHistogram, false, 1},
    {"summary", 11, K::kMsg, &kSummary, false, 1},
    {"metadata", 12, K::kMsg, &kKeyValue, true},
};
constexpr Field kGaugeF[] = {{"dataPoints", 1, K::kMsg, &kNumberDP, true}};
constexpr Field kSumF[] = {
    {"dataPoints", 1, K::kMsg, &kNumberDP, true},
    {"aggregationTemporality", 2, K::kEnum, nullptr, false, 0, internal::ParseTemporalityName},
    {"isMonotonic", 3, K::kBool},
};
constexpr Field kHistogramF[] = {
    {"dataPoints", 1, K::kMsg, &kHistogramDP, true},
    {"aggregationTemporality", 2, K::kEnum, nullptr, false, 0, internal::ParseTemporalityName},
};
constexpr Field kExpHistogramF[] = {
    {"dataPoints", 1, K::kMsg, &kExpHistogramDP, true},
    {"aggregationTemporality", 2, K::kEnum, nullptr, false, 0, internal::ParseTemporalityName},
};
constexpr Field kSummaryF[] = {{"dataPoints", 1, K::kMsg, &kSummaryDP, true}};
constexpr Field kNumberDPF[] = {
    {"attributes", 7, K::kMsg, &kKeyValue, true},
    {"startTimeUnixNano", 2, K::kFixed64},
    {"timeUnixNano", 3, K::kFixed64},
    {"asDouble", 4, K::kDouble, nullptr, false, 1},
    {"asInt", 6, K::kSfixed64, nullptr, false, 1},
    {"exemplars", 5, K::kMsg, &kExemplar, true},
    {"flags", 8, K::kU32},
};
constexpr Field kHistogramDPF[] = {
    {"attributes", 9, K::kMsg, &kKeyValue, true},
    {"startTimeUnixNano", 2, K::kFixed64},
    {"timeUnixNano", 3, K::kFixed64},
    {"count", 4, K::kFixed64},
    {"sum", 5, K::kDouble},
    {"bucketCounts", 6, K::kPackedFixed64},
    {"explicitBounds", 7, K::kPackedDouble},
    {"exemplars", 8, K::kMsg, &kExemplar, true},
    {"flags", 10, K::kU32},
    {"min", 11, K::kDouble},
    {"max", 12, K::kDouble},
};
constexpr Field kExpHistogramDPF[] = {
    {"attributes", 1, K::kMsg, &kKeyValue, true},
    {"startTimeUnixNano", 2, K::kFixed64},
    {"timeUnixNano", 3, K::kFixed64},
    {"count", 4, K::kFixed64},
    {"sum", 5, K::kDouble},
    {"scale", 6, K::kSint32},
    {"zeroCount", 7, K::kFixed64},
    {"positive", 8, K::kMsg, &kBuckets},
    {"negative", 9, K::kMsg, &kBuckets},
    {"flags", 10, K::kU32},
    {"exemplars", 11, K::kMsg, &kExemplar, true},
    {"min", 12, K::kDouble},
    {"max", 13, K::kDouble},
    {"zeroThreshold", 14, K::kDouble},
};
constexpr Field kBucketsF[] = {
    {"offset", 1, K::kSint32},
    {"bucketCounts", 2, K::kPackedVarint},
};
constexpr Field kSummaryDPF[] = {
    {"attributes", 7, K::kMsg, &kKeyValue, true},
    {"startTimeUnixNano", 2, K::kFixed64},
    {"timeUnixNano", 3, K::kFixed64},
    {"count", 4, K::kFixed64},
    {"sum", 5, K::kDouble},
    {"quantileValues", 6, K::kMsg, &kQuantile, true},
    {"flags", 8, K::kU32},
};
constexpr Field kQuantileF[] = {
    {"quantile", 1, K::kDouble},
    {"value", 2, K::kDouble},
};
constexpr Field kExemplarF[] = {
    {"filteredAttributes", 7, K::kMsg, &kKeyValue, true},
    {"timeUnixNano", 2, K::kFixed64},
    {"asDouble", 3, K::kDouble, nullptr, false, 1},
    {"asInt", 6, K::kSfixed64, nullptr, false, 1},
    {"spanId", 4, K::kId, nullptr, false, 0, nullptr, 8},
    {"traceId", 5, K::kId, nullptr, false, 0, nullptr, 16},
};

const Msg kAnyValue = M(kAnyValueF), kKeyValue = M(kKeyValueF), kArrayValue = M(kArrayValueF),
              kKeyValueList = M(kKeyValueListF), kResource = M(kResourceF), kScope = M(kScopeF);
const Msg kTracesReq = M(kTracesReqF), kResourceSpans = M(kResourceSpansF),
              kScopeSpans = M(kScopeSpansF), kSpan = M(kSpanF), kEvent = M(kEventF),
              kLink = M(kLinkF), kStatus = M(kStatusF);
const Msg kLogsReq = M(kLogsReqF), kResourceLogs = M(kResourceLogsF),
              kScopeLogs = M(kScopeLogsF), kLogRecord = M(kLogRecordF);
const Msg kMetricsReq = M(kMetricsReqF), kResourceMetrics = M(kResourceMetricsF),
              kScopeMetrics = M(kScopeMetricsF), kMetric = M(kMetricF), kGauge = M(kGaugeF),
              kSum = M(kSumF), kHistogram = M(kHistogramF), kExpHistogram = M(kExpHistogramF),
              kSummary = M(kSummaryF), kNumberDP = M(kNumberDPF), kHistogramDP = M(kHistogramDPF),
              kExpHistogramDP = M(kExpHistogramDPF), kSummaryDP = M(kSummaryDPF),
              kBuckets = M(kBucketsF), kQuantile = M(kQuantileF), kExemplar = M(kExemplarF);

constexpr int kMaxFields = 16;
constexpr int kMaxDepth = 256;

class Transcoder {
 public:
  Status Message(const JValue& obj, const Msg& m, int depth);
  ProtoWriter& writer() { return w_; }

 private:
  Status Value(const Field& f, const JValue& v, int depth);
  Status Bad(const Field& f, const char* what) {
    return Status::Invalid(f.name, ": ", what);
  }

  ProtoWriter w_;
  std::string bytes_;
};

int FindField(const Msg& m, std::string_view key) {
  for (int i = 0; i < m.count; ++i) {
    if (internal::KeyIs(key, m.fields[i].name)) return i;
    if (m.fields[i].alias != nullptr && internal::KeyIs(key, m.fields[i].alias)) return i;
  }
  return -1;
}

Status Transcoder::Message(const JValue& obj, const Msg& m, int depth) {
  if (depth > kMaxDepth) return Status::Invalid("nesting deeper than ", kMaxDepth, " messages");
  // Only the last non-null occurrence of each field, and of each oneof, is written: the rule
  // DecodeJson applies when it reads the same object.
  int64_t last[kMaxFields];
  int64_t last_oneof = -1;
  for (int i = 0; i < kMaxFields; ++i) last[i] = -1;
  int64_t index = 0;
  for (auto it = obj.MemberBegin(); it != obj.MemberEnd(); ++it, ++index) {
    if (it->value.IsNull()) continue;
    const int fi = FindField(m, JsonStr(it->name));
    if (fi < 0) continue;
    last[fi] = index;
    if (m.fields[fi].oneof != 0) last_oneof = index;
  }
  index = 0;
  for (auto it = obj.MemberBegin(); it != obj.MemberEnd(); ++it, ++index) {
    if (it->value.IsNull()) continue;
    const int fi = FindField(m, JsonStr(it->name));
    if (fi < 0 || last[fi] != index) continue;
    const Field& f = m.fields[fi];
    if (f.oneof != 0 && last_oneof != index) continue;
    OTLAKE_RETURN_NOT_OK(Value(f, it->value, depth));
  }
  return Status::OK();
}

Status Transcoder::Value(const Field& f, const JValue& v, int depth) {
  switch (f.kind) {
    case K::kString:
      if (!v.IsString()) return Bad(f, "expected string");
      w_.String(f.number, JsonStr(v));
      return Status::OK();
    case K::kBytes:
      bytes_.clear();
      if (!v.IsString() || !DecodeBase64(JsonStr(v), &bytes_)) return Bad(f, "expected base64");
      w_.Bytes(f.number, bytes_);
      return Status::OK();
    case K::kId: {
      if (!v.IsString()) return Bad(f, "expected string");
      internal::RawId id;
      internal::DecodeJsonId(JsonStr(v), f.id_size, &id);
      if (id.bad_encoding) return Bad(f, "ID is neither hex nor base64");
      // A wrong-length ID keeps its length (the decoder rejects it by length either way).
      bytes_.assign(id.view());
      bytes_.resize(static_cast<size_t>(id.len), '\0');
      w_.Bytes(f.number, bytes_);
      return Status::OK();
    }
    case K::kBool:
      if (!v.IsBool()) return Bad(f, "expected boolean");
      w_.Bool(f.number, v.GetBool());
      return Status::OK();
    case K::kEnum: {
      int32_t e;
      if (!internal::JsonToEnum(v, f.parse, &e)) return Bad(f, "expected enum");
      w_.Int64(f.number, e);
      return Status::OK();
    }
    case K::kU32: {
      uint32_t x;
      if (!internal::JsonToU32(v, &x)) return Bad(f, "expected uint32");
      w_.Varint(f.number, x);
      return Status::OK();
    }
    case K::kSint32: {
      int32_t x;
      if (!internal::JsonToI32(v, &x)) return Bad(f, "expected int32");
      w_.Sint32(f.number, x);
      return Status::OK();
    }
    case K::kI64: {
      int64_t x;
      if (!internal::JsonToI64(v, &x)) return Bad(f, "expected int64");
      w_.Int64(f.number, x);
      return Status::OK();
    }
    case K::kFixed64: {
      uint64_t x;
      if (!internal::JsonToU64(v, &x)) return Bad(f, "expected uint64");
      w_.Fixed64(f.number, x);
      return Status::OK();
    }
    case K::kSfixed64: {
      int64_t x;
      if (!internal::JsonToI64(v, &x)) return Bad(f, "expected int64");
      w_.Sfixed64(f.number, x);
      return Status::OK();
    }
    case K::kFixed32: {
      uint32_t x;
      if (!internal::JsonToU32(v, &x)) return Bad(f, "expected uint32");
      w_.Fixed32(f.number, x);
      return Status::OK();
    }
    case K::kDouble: {
      double x;
      if (!internal::JsonToDouble(v, &x)) return Bad(f, "expected number");
      w_.Double(f.number, x);
      return Status::OK();
    }
    case K::kPackedFixed64:
    case K::kPackedDouble:
    case K::kPackedVarint: {
      if (!v.IsArray()) return Bad(f, "expected array");
      if (v.Empty()) return Status::OK();
      w_.BeginMessage(f.number);
      for (const JValue& e : v.GetArray()) {
        if (f.kind == K::kPackedDouble) {
          double x;
          if (!internal::JsonToDouble(e, &x)) return Bad(f, "expected number");
          w_.Raw(std::string_view(reinterpret_cast<const char*>(&x), 8));
        } else {
          uint64_t x;
          if (!internal::JsonToU64(e, &x)) return Bad(f, "expected uint64");
          if (f.kind == K::kPackedVarint) {
            w_.AppendVarint(x);
          } else {
            w_.Raw(std::string_view(reinterpret_cast<const char*>(&x), 8));
          }
        }
      }
      w_.EndMessage();
      return Status::OK();
    }
    case K::kMsg: {
      if (f.repeated) {
        if (!v.IsArray()) return Bad(f, "expected array");
        for (const JValue& e : v.GetArray()) {
          if (!e.IsObject()) return Bad(f, "expected object");
          w_.BeginMessage(f.number);
          OTLAKE_RETURN_NOT_OK(Message(e, *f.msg, depth + 1));
          w_.EndMessage();
        }
        return Status::OK();
      }
      if (!v.IsObject()) return Bad(f, "expected object");
      w_.BeginMessage(f.number);
      OTLAKE_RETURN_NOT_OK(Message(v, *f.msg, depth + 1));
      w_.EndMessage();
      return Status::OK();
    }
  }
  return Status::OK();
}

}  // namespace

Result<std::string> OtlpJsonToProtobuf(Signal signal, std::string_view json) {
  bool blank = true;
  for (char c : json) {
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') blank = false;
  }
  if (blank) return std::string();
  rapidjson::Document doc;
  std::string buffer;
  OTLAKE_RETURN_NOT_OK(internal::ParseJson(json, &buffer, &doc));
  if (!doc.IsObject()) return Status::Invalid("expected a JSON object at the top level");
  const Msg& root = signal == Signal::kTraces ? kTracesReq
                    : signal == Signal::kLogs ? kLogsReq
                                              : kMetricsReq;
  Transcoder t;
  OTLAKE_RETURN_NOT_OK(t.Message(doc, root, 0));
  return t.writer().Release();
}

}  // namespace otlake::otlp

// ---------------------------------------------------------------------------------------------
// Protobuf -> OTLP/JSON, driven by the same tables.

namespace otlake::otlp {
namespace {

class JsonTranscoder {
 public:
  using W = rapidjson::Writer<rapidjson::StringBuffer>;
  explicit JsonTranscoder(W* w) : w_(*w) {}

  Status Message(std::string_view data, const Msg& m, int depth) {
    if (depth > kMaxDepth) return Status::Invalid("nesting deeper than ", kMaxDepth, " messages");
    // Occurrences per field of the table, in wire order (repeated fields become one array; for
    // the others the last occurrence wins, as protobuf parsers do).
    std::vector<WireField> seen[kMaxFields];
    WireReader r(data);
    WireField f;
    int last_oneof = -1;
    while (r.Next(&f)) {
      const int fi = FindNumber(m, f.number);
      if (fi < 0) continue;
      seen[fi].push_back(f);
      if (m.fields[fi].oneof != 0) last_oneof = fi;
    }
    if (!r.ok()) return Status::Invalid("malformed protobuf: ", r.error());
    w_.StartObject();
    for (int i = 0; i < m.count; ++i) {
      if (seen[i].empty()) continue;
      const Field& fd = m.fields[i];
      if (fd.oneof != 0 && i != last_oneof) continue;
      w_.Key(fd.name);
      const bool packed = fd.kind == K::kPackedFixed64 || fd.kind == K::kPackedDouble ||
                          fd.kind == K::kPackedVarint;
      if (packed) {
        OTLAKE_RETURN_NOT_OK(Packed(fd, seen[i]));
      } else if (fd.kind == K::kMsg && fd.repeated) {
        w_.StartArray();
        for (const WireField& e : seen[i]) {
          if (e.type != WireType::kLen) return Bad(fd);
          OTLAKE_RETURN_NOT_OK(Message(e.data, *fd.msg, depth + 1));
        }
        w_.EndArray();
      } else {
        OTLAKE_RETURN_NOT_OK(Scalar(fd, seen[i].back(), depth));
      }
    }
    w_.EndObject();
    return Status::OK();
  }

 private:
  static int FindNumber(const Msg& m, uint32_t number) {
    for (int i = 0; i < m.count; ++i) {
      if (m.fields[i].number == number) return i;
    }
    return -1;
  }
  static Status Bad(const Field& f) { return Status::Invalid(f.name, ": unexpected wire type"); }
  void Str(std::string_view s) { w_.String(s.data(), static_cast<rapidjson::SizeType>(s.size())); }
  void Dbl(double d) {
    if (std::isfinite(d)) {
      w_.Double(d);
    } else {
      Str(std::isnan(d) ? "NaN" : d > 0 ? "Infinity" : "-Infinity");
    }
  }

  Status Scalar(const Field& f, const WireField& v, int depth) {
    const bool len = v.type == WireType::kLen;
    switch (f.kind) {
      case K::kString:
        if (!len) return Bad(f);
        Str(v.data);
        return Status::OK();
      case K::kBytes:
        if (!len) return Bad(f);
        scratch_.clear();
        AppendBase64(&scratch_, v.data);
        Str(scratch_);
        return Status::OK();
      case K::kId:
        if (!len) return Bad(f);
        scratch_.clear();
        AppendHex(&scratch_, v.data);
        Str(scratch_);
        return Status::OK();
      case K::kBool:
        if (v.type != WireType::kVarint) return Bad(f);
        w_.Bool(v.AsBool());
        return Status::OK();
      case K::kEnum:
        if (v.type != WireType::kVarint) return Bad(f);
        w_.Int(v.AsInt32());
        return Status::OK();
      case K::kU32:
        if (v.type != WireType::kVarint) return Bad(f);
        w_.Uint(v.AsUint32());
        return Status::OK();
      case K::kSint32:
        if (v.type != WireType::kVarint) return Bad(f);
        w_.Int(v.AsSint32());
        return Status::OK();
      case K::kI64:
        if (v.type != WireType::kVarint) return Bad(f);
        Str(std::to_string(v.AsInt64()));
        return Status::OK();
      case K::kFixed64:
        if (v.type != WireType::kFixed64) return Bad(f);
        Str(std::to_string(v.value));
        return Status::OK();
      case K::kSfixed64:
        if (v.type != WireType::kFixed64) return Bad(f);
        Str(std::to_string(v.AsInt64()));
        return Status::OK();
      case K::kFixed32:
        if (v.type != WireType::kFixed32) return Bad(f);
        w_.Uint(v.AsUint32());
        return Status::OK();
      case K::kDouble:
        if (v.type != WireType::kFixed64) return Bad(f);
        Dbl(v.AsDouble());
        return Status::OK();
      case K::kMsg:
        if (!len) return Bad(f);
        return Message(v.data, *f.msg, depth + 1);
      default:
        return Bad(f);
    }
  }

  // Packed (one or more length-delimited runs) or unpacked (one field per element) encodings.
  Status Packed(const Field& f, const std::vector<WireField>& occ) {
    w_.StartArray();
    for (const WireField& v : occ) {
      if (v.type != WireType::kLen) {
        if (f.kind == K::kPackedVarint && v.type == WireType::kVarint) {
          Str(std::to_string(v.value));
        } else if (f.kind != K::kPackedVarint && v.type == WireType::kFixed64) {
          if (f.kind == K::kPackedDouble) Dbl(v.AsDouble()); else Str(std::to_string(v.value));
        } else {
          return Bad(f);
        }
        continue;
      }
      const uint8_t* p = reinterpret_cast<const uint8_t*>(v.data.data());
      const uint8_t* end = p + v.data.size();
      while (p < end) {
        uint64_t x;
        if (f.kind == K::kPackedVarint) {
          if (ReadVarint(&p, end, &x) != 0) return Bad(f);
          Str(std::to_string(x));
          continue;
        }
        if (end - p < 8) return Bad(f);
        std::memcpy(&x, p, 8);
        p += 8;
        if (f.kind == K::kPackedDouble) Dbl(std::bit_cast<double>(x)); else Str(std::to_string(x));
      }
    }
    w_.EndArray();
    return Status::OK();
  }

  W& w_;
  std::string scratch_;
};

}  // namespace

Result<std::string> OtlpProtobufToJson(Signal signal, std::string_view proto) {
  const Msg& root = signal == Signal::kTraces ? kTracesReq
                    : signal == Signal::kLogs ? kLogsReq
                                              : kMetricsReq;
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  JsonTranscoder t(&w);
  OTLAKE_RETURN_NOT_OK(t.Message(proto, root, 0));
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace otlake::otlp
