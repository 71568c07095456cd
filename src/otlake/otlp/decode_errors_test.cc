// Requests that cannot be decoded: Status::Invalid naming the problem (and its field path), no
// crash on hostile input, and nothing left behind in the result.
#include <gtest/gtest.h>

#include <algorithm>

#include "otlake/otlp/decode.h"
#include "otlake/otlp/json_to_proto.h"
#include "otlake/otlp/proto_writer.h"
#include "otlake/otlp/test_util.h"

namespace otlake::otlp {
namespace {

using table::TableId;
using testing::Rows;

Status Json(std::string_view body, Signal s = Signal::kTraces, int depth = 64) {
  DecodeOptions o;
  o.max_nesting_depth = depth;
  DecodeResult r;
  return DecodeJson(s, body, o, &r);
}

Status Proto(std::string_view body, Signal s = Signal::kTraces, int depth = 64) {
  DecodeOptions o;
  o.max_nesting_depth = depth;
  DecodeResult r;
  return DecodeProtobuf(s, body, o, &r);
}

void ExpectInvalid(const Status& st, std::string_view message_part) {
  EXPECT_TRUE(st.IsInvalid()) << st.ToString();
  EXPECT_NE(st.message().find(message_part), std::string::npos)
      << "message: " << st.message() << "\nwanted: " << message_part;
}

const char* kSpanPrefix = R"({"resourceSpans":[{"scopeSpans":[{"spans":[)";
const char* kSpanSuffix = "]}]}]}";
std::string Spans(std::string_view spans) {
  return std::string(kSpanPrefix) + std::string(spans) + kSpanSuffix;
}
const char* kGoodSpan = R"({"traceId":"000102030405060708090a0b0c0d0e0f","spanId":"0001020304050607"})";

TEST(DecodeErrors, EmptyBodiesAreValidAndEmpty) {
  for (Signal s : {Signal::kTraces, Signal::kLogs, Signal::kMetrics}) {
    DecodeResult r;
    EXPECT_TRUE(DecodeJson(s, "", DecodeOptions(), &r).ok());
    EXPECT_TRUE(DecodeJson(s, " \n\t", DecodeOptions(), &r).ok());
    EXPECT_TRUE(DecodeJson(s, "{}", DecodeOptions(), &r).ok());
    EXPECT_TRUE(DecodeProtobuf(s, "", DecodeOptions(), &r).ok());
    EXPECT_EQ(r.batches.TotalRows(), 0);
    EXPECT_EQ(r.accepted, 0);
  }
}

TEST(DecodeErrors, JsonSyntaxAndTopLevel) {
  ExpectInvalid(Json("not json"), "invalid JSON at offset 1: Invalid value");
  ExpectInvalid(Json(R"({"resourceSpans":[)"), "invalid JSON");
  ExpectInvalid(Json("{} x"), "invalid JSON at offset 3");
  ExpectInvalid(Json("[]"), "expected a JSON object at the top level");
  ExpectInvalid(Json("\"str\""), "expected a JSON object at the top level");
  ExpectInvalid(Json("42"), "expected a JSON object at the top level");
  ExpectInvalid(Json("null"), "expected a JSON object at the top level");
  ExpectInvalid(Json(R"({"a":1e999})"), "invalid JSON");
}

TEST(DecodeErrors, JsonWrongTypesNameTheirPath) {
  ExpectInvalid(Json(R"({"resourceSpans":5})"), "resourceSpans: expected array");
  ExpectInvalid(Json(R"({"resourceSpans":[5]})"), "resourceSpans[0]: expected object");
  ExpectInvalid(Json(R"({"resourceSpans":[{"scopeSpans":[{"spans":5}]}]})"),
                "resourceSpans[0].scopeSpans[0].spans: expected array");
  ExpectInvalid(Json(Spans(std::string(kGoodSpan) + "," + kGoodSpan + "," + kGoodSpan +
                           R"(,{"name":123})")),
                "resourceSpans[0].scopeSpans[0].spans[3].name: expected string");
  struct Case {
    const char* span_fields;
    const char* error;
  } cases[] = {
      {R"("traceId":5)", "spans[0].traceId: expected string"},
      {R"("startTimeUnixNano":"abc")", "spans[0].startTimeUnixNano: expected unsigned 64-bit"},
      {R"("startTimeUnixNano":-1)", "spans[0].startTimeUnixNano: expected unsigned 64-bit"},
      {R"("startTimeUnixNano":1.5)", "spans[0].startTimeUnixNano: expected unsigned 64-bit"},
      {R"("startTimeUnixNano":"18446744073709551616")", "startTimeUnixNano: expected unsigned"},
      {R"("kind":"BOGUS")", "spans[0].kind: unknown enum value"},
      {R"("kind":true)", "spans[0].kind: expected enum name or number"},
      {R"("kind":4294967296)", "spans[0].kind: expected enum name or number"},
      {R"("droppedAttributesCount":4294967296)", "droppedAttributesCount: expected unsigned 32"},
      {R"("flags":"x")", "spans[0].flags: expected unsigned 32-bit integer"},
      {R"("status":[])", "spans[0].status: expected object"},
      {R"("status":{"code":"STATUS_CODE_BAD"})", "spans[0].status.code: unknown enum value"},
      {R"("events":{})", "spans[0].events: expected array"},
      {R"("events":[1])", "spans[0].events[0]: expected object"},
      {R"("events":[{"name":1}])", "spans[0].events[0].name: expected string"},
      {R"("links":[{"traceId":[]}])", "spans[0].links[0].traceId: expected string"},
      {R"("attributes":{})", "spans[0].attributes: expected array"},
      {R"("attributes":[1])", "spans[0].attributes[0]: expected object"},
      {R"("attributes":[{"key":1}])", "spans[0].attributes[0].key: expected string"},
      {R"("attributes":[{"key":"k","value":1}])", "spans[0].attributes[0].value: expected object"},
      {R"("attributes":[{"key":"k","value":{"intValue":"1.5"}}])",
       "attributes[0].value.intValue: expected 64-bit integer"},
      {R"("attributes":[{"key":"k","value":{"intValue":9223372036854775808}}])",
       "attributes[0].value.intValue: expected 64-bit integer"},
      {R"("attributes":[{"key":"k","value":{"doubleValue":"abc"}}])",
       "attributes[0].value.doubleValue: expected number"},
      {R"("attributes":[{"key":"k","value":{"boolValue":"true"}}])",
       "attributes[0].value.boolValue: expected boolean"},
      {R"("attributes":[{"key":"k","value":{"bytesValue":"!!!"}}])",
       "attributes[0].value.bytesValue: invalid base64"},
      {R"("attributes":[{"key":"k","value":{"arrayValue":{"values":[1]}}}])",
       "attributes[0].value.arrayValue.values[0]: expected object"},
      {R"("attributes":[{"key":"k","value":{"kvlistValue":{"values":{}}}}])",
       "attributes[0].value.kvlistValue.values: expected array"},
      {R"("attributes":[{"key":"k","value":{"kvlistValue":{"values":[{"key":"a","value":{"stringValue":1}}]}}}])",
       "attributes[0].value.kvlistValue.values[0].value.stringValue: expected string"},
  };
  for (const Case& c : cases) {
    ExpectInvalid(Json(Spans(std::string("{") + c.span_fields + "}")), c.error);
  }
  ExpectInvalid(Json(R"({"resourceSpans":[{"resource":[]}]})"), "resourceSpans[0].resource: expected object");
  ExpectInvalid(Json(R"({"resourceSpans":[{"resource":{"attributes":[{"key":"k","value":{"intValue":{}}}]}}]})"),
                "resourceSpans[0].resource.attributes[0].value.intValue: expected 64-bit integer");
  ExpectInvalid(Json(R"({"resourceSpans":[{"scopeSpans":[{"scope":{"name":1}}]}]})"),
                "resourceSpans[0].scopeSpans[0].scope.name: expected string");
  ExpectInvalid(Json(R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":"x"}]}]}]})",
                     Signal::kLogs),
                "resourceLogs[0].scopeLogs[0].logRecords[0].body: expected object");
  ExpectInvalid(Json(R"({"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"sum":{"dataPoints":[{"asInt":"x"}]}}]}]}]})",
                     Signal::kMetrics),
                "resourceMetrics[0].scopeMetrics[0].metrics[0].sum.dataPoints[0].asInt: expected 64-bit");
  ExpectInvalid(Json(R"({"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"histogram":{"dataPoints":[{"bucketCounts":[1,"x"]}]}}]}]}]})",
                     Signal::kMetrics),
                "histogram.dataPoints[0].bucketCounts[1]: expected unsigned 64-bit integer");
  ExpectInvalid(Json(R"({"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"gauge":5}]}]}]})",
                     Signal::kMetrics),
                "metrics[0].gauge: expected object");
}

TEST(DecodeErrors, NullMeansAbsent) {
  DecodeResult r;
  ASSERT_TRUE(DecodeJson(Signal::kTraces,
                         Spans(R"({"traceId":"000102030405060708090a0b0c0d0e0f","spanId":"0001020304050607",
                                   "name":null,"attributes":null,"status":null,"kind":null,"events":null})"),
                         DecodeOptions(), &r)
                  .ok());
  EXPECT_EQ(Rows(r, TableId::kSpans), 1);
}

TEST(DecodeErrors, InvalidUtf8) {
  // Raw invalid bytes in JSON are caught by the parser.
  ExpectInvalid(Json(Spans("{\"name\":\"bad \xC3\x28\"}")), "invalid JSON");
  ExpectInvalid(Json(Spans("{\"name\":\"\xED\xA0\x80\"}")), "invalid JSON");
  // Escaped lone surrogates spell invalid UTF-8 too.
  EXPECT_TRUE(Json(Spans(R"({"name":"\ud800"})")).IsInvalid());
  EXPECT_TRUE(Json(Spans(R"({"name":"\udc00"})")).IsInvalid());
  EXPECT_TRUE(Json(Spans(R"({"attributes":[{"key":"\udc00x","value":{}}]})")).IsInvalid());
  // A valid surrogate pair is fine.
  EXPECT_TRUE(Json(Spans(R"({"name":"\ud83d\ude00"})")).ok());

  auto span_with = [](auto&& fill) {
    ProtoWriter w;
    w.BeginMessage(1);
    w.BeginMessage(2);
    w.BeginMessage(2);
    w.Bytes(1, std::string(16, '\1'));
    w.Bytes(2, std::string(8, '\2'));
    fill(w);
    w.EndMessage();
    w.EndMessage();
    w.EndMessage();
    return w.Release();
  };
  const std::string bad = "x\xC3\x28";
  ExpectInvalid(Proto(span_with([&](ProtoWriter& w) { w.String(5, bad); })),
                "resource_spans[0].scope_spans[0].spans[0].name: invalid UTF-8");
  ExpectInvalid(Proto(span_with([&](ProtoWriter& w) { w.String(3, bad); })),
                "spans[0].trace_state: invalid UTF-8");
  ExpectInvalid(Proto(span_with([&](ProtoWriter& w) {
                  WriteAttributes(&w, 9, {{bad, AnyValue::Int(1)}});
                })),
                "spans[0].attributes[0].key: invalid UTF-8");
  ExpectInvalid(Proto(span_with([&](ProtoWriter& w) {
                  WriteAttributes(&w, 9, {{"k", AnyValue::Array({AnyValue::String(bad)})}});
                })),
                "spans[0].attributes[0].value.array_value.values[0].string_value: invalid UTF-8");
  ExpectInvalid(Proto(span_with([&](ProtoWriter& w) {
                  w.BeginMessage(15);
                  w.String(2, bad);
                  w.EndMessage();
                })),
                "spans[0].status.message: invalid UTF-8");
  ExpectInvalid(Proto(span_with([&](ProtoWriter& w) {
                  w.BeginMessage(11);
                  w.String(2, bad);
                  w.EndMessage();
                })),
                "spans[0].events[0].name: invalid UTF-8");
  // Bytes values may hold anything.
  EXPECT_TRUE(Proto(span_with([&](ProtoWriter& w) {
                WriteAttributes(&w, 9, {{"k", AnyValue::Bytes(bad)}});
              })).ok());
}

TEST(DecodeErrors, ProtobufMalformedWire) {
  ExpectInvalid(Proto("\xFF\xFF\xFF"), "truncated tag");
  ExpectInvalid(Proto(std::string("\x08") + std::string(10, '\x80') + "\x01"),
                "varint longer than 10 bytes");
  ExpectInvalid(Proto("\x0A\x05" "abc"), "length past end of message");
  ExpectInvalid(Proto(std::string("\x0A\x02\x0A\x05", 4)),
                "resource_spans[0]: length past end of message");
  ExpectInvalid(Proto("\x0C"), "end-group without start-group");
  ExpectInvalid(Proto("garbage that is not protobuf at all"), "");
  // A known field with the wrong wire type.
  ProtoWriter w;
  w.BeginMessage(1);
  w.BeginMessage(2);
  w.BeginMessage(2);
  w.Varint(5, 1);  // name as a varint
  w.EndMessage();
  w.EndMessage();
  w.EndMessage();
  ExpectInvalid(Proto(w.data()), "resource_spans[0].scope_spans[0].spans[0].name: wrong wire type 0");
  ProtoWriter m;
  m.BeginMessage(1);
  m.BeginMessage(2);
  m.BeginMessage(2);
  m.BeginMessage(9);
  m.BeginMessage(1);
  m.Bytes(6, "1234567");  // packed fixed64 of 7 bytes
  m.EndMessage();
  m.EndMessage();
  m.EndMessage();
  m.EndMessage();
  m.EndMessage();
  ExpectInvalid(Proto(m.data(), Signal::kMetrics),
                "histogram.data_points[0].bucket_counts: packed fixed64 length not a multiple of 8");
}

TEST(DecodeErrors, EveryTruncationOfAValidRequestIsHandled) {
  for (const char* file : {"trace.json", "logs.json", "metrics.json"}) {
    const Signal s = file[0] == 't' ? Signal::kTraces : file[0] == 'l' ? Signal::kLogs
                                                                        : Signal::kMetrics;
    const std::string json = testing::ReadFile(testing::ExamplesDir() + "/" + file);
    auto proto = OtlpJsonToProtobuf(s, json);
    ASSERT_TRUE(proto.ok());
    EXPECT_TRUE(Proto(*proto, s).ok());
    int invalid = 0;
    for (size_t n = 0; n < proto->size(); ++n) {
      Status st = Proto(std::string_view(*proto).substr(0, n), s);
      if (!st.ok()) {
        EXPECT_TRUE(st.IsInvalid());
        ++invalid;
      }
    }
    EXPECT_GT(invalid, static_cast<int>(proto->size()) / 2) << file;
    EXPECT_FALSE(Proto(std::string_view(*proto).substr(0, proto->size() - 1), s).ok());
    const size_t end = json.find_last_of('}') + 1;
    for (size_t n = 0; n < end; n += 7) {
      const std::string_view prefix = std::string_view(json).substr(0, n);
      Status st = Json(prefix, s);
      if (prefix.find_first_not_of(" \n\r\t") == std::string_view::npos) {
        EXPECT_TRUE(st.ok()) << file << " truncated at " << n;
      } else {
        EXPECT_TRUE(st.IsInvalid()) << file << " truncated at " << n;
      }
    }
  }
}

// 'levels' AnyValues nested in each other as arrays (or kvlists) around an int, as protobuf,
// built inside out in O(n).
std::string NestedAnyValueProto(int levels, bool kvlist) {
  std::string rev;  // the message, reversed
  auto prepend = [&rev](std::string_view bytes) {
    for (auto it = bytes.rbegin(); it != bytes.rend(); ++it) rev.push_back(*it);
  };
  auto varint = [](uint64_t v) {
    std::string s;
    while (v >= 0x80) {
      s.push_back(static_cast<char>((v & 0x7F) | 0x80));
      v >>= 7;
    }
    s.push_back(static_cast<char>(v));
    return s;
  };
  prepend(std::string("\x18\x01", 2));  // AnyValue{int_value: 1}
  for (int i = 0; i < levels; ++i) {
    if (kvlist) {
      // KeyValue{key:"k", value: <AnyValue>}; KeyValueList{values: KeyValue}; AnyValue{kvlist}
      const size_t inner = rev.size();
      prepend("\x12" + varint(inner));
      prepend(std::string("\x0A\x01k", 3));
      prepend("\x0A" + varint(rev.size()));
      prepend("\x32" + varint(rev.size()));
      (void)inner;
    } else {
      prepend("\x0A" + varint(rev.size()));  // ArrayValue{values: <AnyValue>}
      prepend("\x2A" + varint(rev.size()));  // AnyValue{array_value: ...}
    }
  }
  std::string any(rev.rbegin(), rev.rend());
  ProtoWriter w;
  w.BeginMessage(1);
  w.BeginMessage(2);
  w.BeginMessage(2);
  w.Bytes(1, std::string(16, '\1'));
  w.Bytes(2, std::string(8, '\2'));
  w.BeginMessage(9);
  w.String(1, "deep");
  w.Bytes(2, any);
  w.EndMessage();
  w.EndMessage();
  w.EndMessage();
  w.EndMessage();
  return w.Release();
}

std::string NestedAnyValueJson(int levels, bool kvlist) {
  std::string s = R"({"key":"deep","value":)";
  for (int i = 0; i < levels; ++i) {
    s += kvlist ? R"({"kvlistValue":{"values":[{"key":"k","value":)" : R"({"arrayValue":{"values":[)";
  }
  s += R"({"intValue":1})";
  for (int i = 0; i < levels; ++i) s += kvlist ? "}]}}" : "]}}";
  s += "}";
  return Spans(R"({"traceId":"000102030405060708090a0b0c0d0e0f","spanId":"0001020304050607","attributes":[)" +
               s + "]}");
}

TEST(DecodeErrors, NestingLimitBothDecoders) {
  for (bool kvlist : {false, true}) {
    EXPECT_TRUE(Proto(NestedAnyValueProto(64, kvlist)).ok()) << kvlist;
    EXPECT_TRUE(Json(NestedAnyValueJson(64, kvlist)).ok()) << kvlist;
    ExpectInvalid(Proto(NestedAnyValueProto(65, kvlist)), "nesting deeper than 64 levels");
    ExpectInvalid(Json(NestedAnyValueJson(65, kvlist)), "nesting deeper than 64 levels");
    ExpectInvalid(Proto(NestedAnyValueProto(100000, kvlist)), "nesting deeper than 64 levels");
    ExpectInvalid(Json(NestedAnyValueJson(100000, kvlist)), "nesting deeper than 64 levels");
    EXPECT_TRUE(Proto(NestedAnyValueProto(3, kvlist), Signal::kTraces, 3).ok());
    ExpectInvalid(Proto(NestedAnyValueProto(4, kvlist), Signal::kTraces, 3),
                  "nesting deeper than 3 levels");
    ExpectInvalid(Json(NestedAnyValueJson(4, kvlist), Signal::kTraces, 3),
                  "nesting deeper than 3 levels");
  }
  ExpectInvalid(Json(NestedAnyValueJson(65, false)),
                "spans[0].attributes[0].value.arrayValue.values[0].arrayValue.values[0]");
  // Deep JSON outside any AnyValue.
  std::string deep(100000, '[');
  deep += std::string(100000, ']');
  ExpectInvalid(Json(deep), "expected a JSON object at the top level");
  ExpectInvalid(Json(R"({"resourceSpans":)" + deep + "}"), "resourceSpans[0]: expected object");
  ExpectInvalid(Json(std::string(100000, '[')), "invalid JSON");
  ExpectInvalid(Json(R"({"x":)" + std::string(100000, '{')), "invalid JSON");
  // Deep protobuf outside any AnyValue: nested unknown messages are never descended into.
  EXPECT_TRUE(Proto(std::string(100000, '\x0B')).IsInvalid());  // 100k start-groups
}

TEST(DecodeErrors, FailedDecodeLeavesResultUntouched) {
  DecodeResult r;
  const std::string good = Spans(kGoodSpan);
  ASSERT_TRUE(DecodeJson(Signal::kTraces, good, DecodeOptions(), &r).ok());
  ASSERT_TRUE(DecodeJson(Signal::kTraces, Spans(R"({"traceId":"00"})"), DecodeOptions(), &r).ok());
  ASSERT_EQ(Rows(r, TableId::kSpans), 1);
  ASSERT_EQ(r.rejected, 1);
  // Two good spans, then a bad one: the good ones were already appended when the error hit.
  const std::string bad = Spans(std::string(kGoodSpan) + "," + kGoodSpan + R"(,{"name":1})");
  EXPECT_FALSE(DecodeJson(Signal::kTraces, bad, DecodeOptions(), &r).ok());
  EXPECT_EQ(Rows(r, TableId::kSpans), 1);
  EXPECT_EQ(r.accepted, 1);
  EXPECT_EQ(r.rejected, 1);
  EXPECT_EQ(r.reasons.size(), 1u);
  auto proto = OtlpJsonToProtobuf(Signal::kTraces, Spans(std::string(kGoodSpan) + "," + kGoodSpan));
  ASSERT_TRUE(proto.ok());
  std::string truncated = *proto + "\x0A\x05";
  EXPECT_FALSE(DecodeProtobuf(Signal::kTraces, truncated, DecodeOptions(), &r).ok());
  EXPECT_EQ(Rows(r, TableId::kSpans), 1);
  EXPECT_EQ(r.accepted, 1);
  // The batch is still usable.
  ASSERT_TRUE(DecodeProtobuf(Signal::kTraces, *proto, DecodeOptions(), &r).ok());
  EXPECT_EQ(Rows(r, TableId::kSpans), 3);
}

TEST(DecodeErrors, OtherSignalsBodiesDecodeToNothing) {
  const std::string trace = testing::ReadFile(testing::ExamplesDir() + "/trace.json");
  DecodeResult r;
  EXPECT_TRUE(DecodeJson(Signal::kLogs, trace, DecodeOptions(), &r).ok());
  EXPECT_TRUE(DecodeJson(Signal::kMetrics, trace, DecodeOptions(), &r).ok());
  EXPECT_EQ(r.batches.TotalRows(), 0);
}

}  // namespace
}  // namespace otlake::otlp
