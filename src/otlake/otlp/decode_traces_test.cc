// Traces: every field of every message lands in its column, identically from JSON and protobuf.
#include <gtest/gtest.h>

#include <cstdio>

#include "otlake/otlp/decode.h"
#include "otlake/otlp/json_to_proto.h"
#include "otlake/otlp/proto_writer.h"
#include "otlake/otlp/test_util.h"

namespace otlake::otlp {
namespace {

using table::TableId;
using testing::Cell;
using testing::Rows;

constexpr const char* kFullTraceJson = R"({"resourceSpans":[{
  "resource":{"attributes":[
     {"key":"service.name","value":{"stringValue":"checkout"}},
     {"key":"service.namespace","value":{"stringValue":"shop"}},
     {"key":"service.instance.id","value":{"stringValue":"i-1"}},
     {"key":"service.version","value":{"stringValue":"1.2.3"}},
     {"key":"deployment.environment","value":{"stringValue":"staging"}},
     {"key":"deployment.environment.name","value":{"stringValue":"prod"}},
     {"key":"session.id","value":{"stringValue":"res-session"}},
     {"key":"user.id","value":{"intValue":"42"}},
     {"key":"user.roles","value":{"arrayValue":{"values":[{"stringValue":"admin"},{"stringValue":"dev"}]}}}
   ],"droppedAttributesCount":3},
  "schemaUrl":"https://opentelemetry.io/schemas/1.21.0",
  "scopeSpans":[{
    "scope":{"name":"lib","version":"0.1","attributes":[{"key":"scope.attr","value":{"boolValue":true}}],"droppedAttributesCount":1},
    "schemaUrl":"https://scope/schema",
    "spans":[{
      "traceId":"5B8EFFF798038103D269B633813FC60C",
      "spanId":"EEE19B7EC3C1B174",
      "parentSpanId":"eee19b7ec3c1b173",
      "traceState":"k=v",
      "flags":257,
      "name":"GET /cart",
      "kind":"SPAN_KIND_SERVER",
      "startTimeUnixNano":"1700000000123456789",
      "endTimeUnixNano":"1700000000623456789",
      "attributes":[
        {"key":"name","value":{"stringValue":"attr-name"}},
        {"key":"user.name","value":{"stringValue":"alice"}},
        {"key":"http.status_code","value":{"intValue":200}},
        {"key":"ratio","value":{"doubleValue":0.5}},
        {"key":"whole","value":{"doubleValue":2}},
        {"key":"blob","value":{"bytesValue":"AP8="}},
        {"key":"map","value":{"kvlistValue":{"values":[{"key":"$x","value":{"stringValue":"y"}}]}}},
        {"key":"none","value":{}}
      ],
      "droppedAttributesCount":4,
      "events":[
        {"timeUnixNano":"1700000000200000000","name":"exception","attributes":[{"key":"exception.message","value":{"stringValue":"boom"}}],"droppedAttributesCount":7},
        {"timeUnixNano":"1700000000300000000","name":"retry","attributes":[{"key":"session.id","value":{"stringValue":"event-session"}}]}
      ],
      "droppedEventsCount":5,
      "links":[{"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060708","traceState":"a=b",
                "attributes":[{"key":"link.kind","value":{"stringValue":"follows"}}],"droppedAttributesCount":8,"flags":1}],
      "droppedLinksCount":6,
      "status":{"message":"it broke","code":"STATUS_CODE_ERROR"}
    }]
  }]
}]})";

std::string Unhex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

// The same request, hand-encoded; wire order puts resource and schema_url after the records.
std::string FullTraceProto() {
  ProtoWriter w;
  w.BeginMessage(1);  // ResourceSpans
  w.BeginMessage(2);  // ScopeSpans
  w.BeginMessage(2);  // Span
  w.Bytes(1, Unhex("5b8efff798038103d269b633813fc60c"));
  w.Bytes(2, Unhex("eee19b7ec3c1b174"));
  w.String(3, "k=v");
  w.Bytes(4, Unhex("eee19b7ec3c1b173"));
  w.String(5, "GET /cart");
  w.Varint(6, 2);
  w.Fixed64(7, 1700000000123456789ULL);
  w.Fixed64(8, 1700000000623456789ULL);
  WriteAttributes(&w, 9,
                  {{"name", AnyValue::String("attr-name")},
                   {"user.name", AnyValue::String("alice")},
                   {"http.status_code", AnyValue::Int(200)},
                   {"ratio", AnyValue::Double(0.5)},
                   {"whole", AnyValue::Double(2)},
                   {"blob", AnyValue::Bytes(std::string("\x00\xFF", 2))},
                   {"map", AnyValue::Kvlist({{"$x", AnyValue::String("y")}})},
                   {"none", AnyValue()}});
  w.Varint(10, 4);
  w.BeginMessage(11);
  w.Fixed64(1, 1700000000200000000ULL);
  w.String(2, "exception");
  WriteAttributes(&w, 3, {{"exception.message", AnyValue::String("boom")}});
  w.Varint(4, 7);
  w.EndMessage();
  w.BeginMessage(11);
  WriteAttributes(&w, 3, {{"session.id", AnyValue::String("event-session")}});
  w.String(2, "retry");
  w.Fixed64(1, 1700000000300000000ULL);
  w.EndMessage();
  w.Varint(12, 5);
  w.BeginMessage(13);
  w.Bytes(1, Unhex("0102030405060708090a0b0c0d0e0f10"));
  w.Bytes(2, Unhex("0102030405060708"));
  w.String(3, "a=b");
  WriteAttributes(&w, 4, {{"link.kind", AnyValue::String("follows")}});
  w.Varint(5, 8);
  w.Fixed32(6, 1);
  w.EndMessage();
  w.Varint(14, 6);
  w.BeginMessage(15);
  w.Varint(3, 2);
  w.String(2, "it broke");
  w.EndMessage();
  w.Fixed32(16, 257);
  w.EndMessage();  // Span
  w.String(3, "https://scope/schema");
  w.BeginMessage(1);  // scope, after its spans
  w.String(1, "lib");
  w.String(2, "0.1");
  WriteAttributes(&w, 3, {{"scope.attr", AnyValue::Bool(true)}});
  w.Varint(4, 1);
  w.EndMessage();
  w.EndMessage();  // ScopeSpans
  w.String(3, "https://opentelemetry.io/schemas/1.21.0");
  w.BeginMessage(1);  // Resource, after its scopes
  WriteAttributes(&w, 1,
                  {{"service.name", AnyValue::String("checkout")},
                   {"service.namespace", AnyValue::String("shop")},
                   {"service.instance.id", AnyValue::String("i-1")},
                   {"service.version", AnyValue::String("1.2.3")},
                   {"deployment.environment", AnyValue::String("staging")},
                   {"deployment.environment.name", AnyValue::String("prod")},
                   {"session.id", AnyValue::String("res-session")},
                   {"user.id", AnyValue::Int(42)},
                   {"user.roles", AnyValue::Array({AnyValue::String("admin"),
                                                   AnyValue::String("dev")})}});
  w.Varint(2, 3);
  w.EndMessage();
  w.EndMessage();  // ResourceSpans
  return w.Release();
}

DecodeOptions Opts() {
  DecodeOptions o;
  o.project_id = "proj";
  o.now_unix_nano = 1600000000000000000;
  return o;
}

DecodeResult MustJson(std::string_view body, Signal s = Signal::kTraces) {
  DecodeResult r;
  Status st = DecodeJson(s, body, Opts(), &r);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return r;
}

DecodeResult MustProto(std::string_view body, Signal s = Signal::kTraces) {
  DecodeResult r;
  Status st = DecodeProtobuf(s, body, Opts(), &r);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return r;
}

TEST(DecodeTraces, EveryFieldLandsInItsColumn) {
  DecodeResult r = MustJson(kFullTraceJson);
  const TableId S = TableId::kSpans;
  ASSERT_EQ(Rows(r, S), 1);
  EXPECT_EQ(r.accepted, 1);
  EXPECT_EQ(r.rejected, 0);
  // Shared prefix.
  EXPECT_EQ(Cell(r, S, "project_id"), "proj");
  EXPECT_EQ(Cell(r, S, "schema_version"), "2");
  EXPECT_EQ(Cell(r, S, "service_name"), "checkout");
  EXPECT_EQ(Cell(r, S, "service_namespace"), "shop");
  EXPECT_EQ(Cell(r, S, "service_instance_id"), "i-1");
  EXPECT_EQ(Cell(r, S, "service_version"), "1.2.3");
  EXPECT_EQ(Cell(r, S, "deployment_env"), "prod");  // .name wins over the old key
  EXPECT_EQ(Cell(r, S, "resource_attrs_json"),
            R"({"service.name":"checkout","service.namespace":"shop","service.instance.id":"i-1",)"
            R"("service.version":"1.2.3","deployment.environment":"staging",)"
            R"("deployment.environment.name":"prod","session.id":"res-session","user.id":42,)"
            R"("user.roles":["admin","dev"]})");
  EXPECT_EQ(Cell(r, S, "resource_dropped_attributes_count"), "3");
  EXPECT_EQ(Cell(r, S, "resource_schema_url"), "https://opentelemetry.io/schemas/1.21.0");
  EXPECT_EQ(Cell(r, S, "scope_name"), "lib");
  EXPECT_EQ(Cell(r, S, "scope_version"), "0.1");
  EXPECT_EQ(Cell(r, S, "scope_attrs_json"), R"({"scope.attr":true})");
  EXPECT_EQ(Cell(r, S, "scope_dropped_attributes_count"), "1");
  EXPECT_EQ(Cell(r, S, "scope_schema_url"), "https://scope/schema");
  EXPECT_EQ(Cell(r, S, "event_ts"), "1700000000123");
  EXPECT_EQ(Cell(r, S, "event_date"), "2023-11-14");
  EXPECT_EQ(Cell(r, S, "session_id"), "res-session");  // from the resource
  EXPECT_EQ(Cell(r, S, "session_previous_id"), "");
  EXPECT_EQ(Cell(r, S, "user_id"), "42");             // int rendered as typed JSON
  EXPECT_EQ(Cell(r, S, "user_name"), "alice");        // from the span
  EXPECT_EQ(Cell(r, S, "user_roles_json"), R"(["admin","dev"])");
  // Span columns.
  EXPECT_EQ(Cell(r, S, "trace_id"), "5b8efff798038103d269b633813fc60c");
  EXPECT_EQ(Cell(r, S, "span_id"), "eee19b7ec3c1b174");
  EXPECT_EQ(Cell(r, S, "parent_span_id"), "eee19b7ec3c1b173");
  EXPECT_EQ(Cell(r, S, "trace_state"), "k=v");
  EXPECT_EQ(Cell(r, S, "flags"), "257");
  EXPECT_EQ(Cell(r, S, "name"), "GET /cart");  // an attribute called "name" does not win
  EXPECT_EQ(Cell(r, S, "kind"), "SERVER");
  EXPECT_EQ(Cell(r, S, "start_time_unix_nano"), "1700000000123456789");
  EXPECT_EQ(Cell(r, S, "end_time_unix_nano"), "1700000000623456789");
  EXPECT_EQ(Cell(r, S, "duration_ms"), "500");
  EXPECT_EQ(Cell(r, S, "status_code"), "ERROR");
  EXPECT_EQ(Cell(r, S, "status_message"), "it broke");
  EXPECT_EQ(Cell(r, S, "span_attrs_json"),
            R"({"name":"attr-name","user.name":"alice","http.status_code":200,"ratio":0.5,)"
            R"("whole":2.0,"blob":{"$bytes":"AP8="},"map":{"$kvlist":{"$x":"y"}},"none":null})");
  EXPECT_EQ(Cell(r, S, "dropped_attributes_count"), "4");
  EXPECT_EQ(Cell(r, S, "dropped_events_count"), "5");
  EXPECT_EQ(Cell(r, S, "dropped_links_count"), "6");

  const TableId E = TableId::kSpanEvents;
  ASSERT_EQ(Rows(r, E), 2);
  EXPECT_EQ(Cell(r, E, "trace_id", 0), "5b8efff798038103d269b633813fc60c");
  EXPECT_EQ(Cell(r, E, "span_id", 0), "eee19b7ec3c1b174");
  EXPECT_EQ(Cell(r, E, "event_index", 0), "0");
  EXPECT_EQ(Cell(r, E, "event_index", 1), "1");
  EXPECT_EQ(Cell(r, E, "time_unix_nano", 0), "1700000000200000000");
  EXPECT_EQ(Cell(r, E, "event_ts", 0), "1700000000200");
  EXPECT_EQ(Cell(r, E, "name", 0), "exception");
  EXPECT_EQ(Cell(r, E, "event_attrs_json", 0), R"({"exception.message":"boom"})");
  EXPECT_EQ(Cell(r, E, "dropped_attributes_count", 0), "7");
  EXPECT_EQ(Cell(r, E, "dropped_attributes_count", 1), "0");
  EXPECT_EQ(Cell(r, E, "service_name", 0), "checkout");
  EXPECT_EQ(Cell(r, E, "scope_name", 0), "lib");
  EXPECT_EQ(Cell(r, E, "session_id", 0), "res-session");
  EXPECT_EQ(Cell(r, E, "session_id", 1), "event-session");  // the event's own attribute first
  EXPECT_EQ(Cell(r, E, "user_name", 1), "alice");             // then the span's

  const TableId L = TableId::kSpanLinks;
  ASSERT_EQ(Rows(r, L), 1);
  EXPECT_EQ(Cell(r, L, "trace_id"), "5b8efff798038103d269b633813fc60c");
  EXPECT_EQ(Cell(r, L, "span_id"), "eee19b7ec3c1b174");
  EXPECT_EQ(Cell(r, L, "link_index"), "0");
  EXPECT_EQ(Cell(r, L, "linked_trace_id"), "0102030405060708090a0b0c0d0e0f10");
  EXPECT_EQ(Cell(r, L, "linked_span_id"), "0102030405060708");
  EXPECT_EQ(Cell(r, L, "link_trace_state"), "a=b");
  EXPECT_EQ(Cell(r, L, "link_flags"), "1");
  EXPECT_EQ(Cell(r, L, "link_attrs_json"), R"({"link.kind":"follows"})");
  EXPECT_EQ(Cell(r, L, "dropped_attributes_count"), "8");
  EXPECT_EQ(Cell(r, L, "event_ts"), "1700000000123");  // the span's start
}

TEST(DecodeTraces, ProtobufGivesTheSameRowsAsJson) {
  testing::ExpectSameRows(MustJson(kFullTraceJson), MustProto(FullTraceProto()));
}

TEST(DecodeTraces, TranscodedJsonGivesTheSameRows) {
  auto proto = OtlpJsonToProtobuf(Signal::kTraces, kFullTraceJson);
  ASSERT_TRUE(proto.ok()) << proto.status().ToString();
  testing::ExpectSameRows(MustJson(kFullTraceJson), MustProto(*proto));
}

TEST(DecodeTraces, SnakeCaseNamesAndBase64IdsAreAccepted) {
  const char* camel = R"({"resourceSpans":[{"scopeSpans":[{"spans":[{
      "traceId":"000102030405060708090a0b0c0d0e0f","spanId":"0001020304050607",
      "parentSpanId":"0001020304050608","startTimeUnixNano":5,"endTimeUnixNano":"6",
      "droppedAttributesCount":2,"kind":3,"status":{"code":1}}]}]}]})";
  const char* snake = R"({"resource_spans":[{"scope_spans":[{"spans":[{
      "trace_id":"AAECAwQFBgcICQoLDA0ODw==","span_id":"AAECAwQFBgc=",
      "parent_span_id":"AAECAwQFBgg","start_time_unix_nano":"5","end_time_unix_nano":6,
      "dropped_attributes_count":"2","kind":"SPAN_KIND_CLIENT","status":{"code":"STATUS_CODE_OK"}}]}]}]})";
  DecodeResult a = MustJson(camel), b = MustJson(snake);
  testing::ExpectSameRows(a, b);
  EXPECT_EQ(Cell(a, TableId::kSpans, "trace_id"), "000102030405060708090a0b0c0d0e0f");
  EXPECT_EQ(Cell(b, TableId::kSpans, "parent_span_id"), "0001020304050608");
  EXPECT_EQ(Cell(a, TableId::kSpans, "kind"), "CLIENT");
  EXPECT_EQ(Cell(a, TableId::kSpans, "status_code"), "OK");
  EXPECT_EQ(Cell(a, TableId::kSpans, "service_name"), "unknown");
  EXPECT_EQ(Cell(a, TableId::kSpans, "resource_attrs_json"), "{}");
  EXPECT_EQ(Cell(a, TableId::kSpans, "scope_attrs_json"), "{}");
  EXPECT_EQ(Cell(a, TableId::kSpans, "user_roles_json"), "[]");
  EXPECT_EQ(Cell(a, TableId::kSpans, "event_date"), "1970-01-01");
}

TEST(DecodeTraces, LegacyInstrumentationLibraryNames) {
  const char* legacy = R"({"resourceSpans":[{"instrumentationLibrarySpans":[{
      "instrumentationLibrary":{"name":"old"},
      "spans":[{"traceId":"000102030405060708090a0b0c0d0e0f","spanId":"0001020304050607"}]}]}]})";
  DecodeResult r = MustJson(legacy);
  EXPECT_EQ(Cell(r, TableId::kSpans, "scope_name"), "old");
}

std::string OneSpanJson(std::string_view extra_fields) {
  return std::string(R"({"resourceSpans":[{"scopeSpans":[{"spans":[{)"
                     R"("traceId":"000102030405060708090a0b0c0d0e0f","spanId":"0001020304050607")") +
         std::string(extra_fields) + "}]}]}]}";
}

TEST(DecodeTraces, EnumsAsNamesNumbersAndUnknownNumbers) {
  EXPECT_EQ(Cell(MustJson(OneSpanJson(R"(,"kind":0)")), TableId::kSpans, "kind"), "UNSPECIFIED");
  EXPECT_EQ(Cell(MustJson(OneSpanJson(R"(,"kind":"SPAN_KIND_INTERNAL")")), TableId::kSpans,
                 "kind"),
            "INTERNAL");
  EXPECT_EQ(Cell(MustJson(OneSpanJson(R"(,"kind":5)")), TableId::kSpans, "kind"), "CONSUMER");
  EXPECT_EQ(Cell(MustJson(OneSpanJson(R"(,"kind":4)")), TableId::kSpans, "kind"), "PRODUCER");
  EXPECT_EQ(Cell(MustJson(OneSpanJson(R"(,"kind":9)")), TableId::kSpans, "kind"), "9");
  EXPECT_EQ(Cell(MustJson(OneSpanJson(R"(,"kind":-3)")), TableId::kSpans, "kind"), "-3");
  EXPECT_EQ(Cell(MustJson(OneSpanJson(R"(,"status":{"code":7})")), TableId::kSpans,
                 "status_code"),
            "7");
  EXPECT_EQ(Cell(MustJson(OneSpanJson("")), TableId::kSpans, "status_code"), "UNSET");
  // Negative enum on the protobuf wire: a 10-byte varint, read back as int32.
  ProtoWriter w;
  w.BeginMessage(1);
  w.BeginMessage(2);
  w.BeginMessage(2);
  w.Bytes(1, std::string(16, '\1'));
  w.Bytes(2, std::string(8, '\2'));
  w.Int64(6, -3);
  w.EndMessage();
  w.EndMessage();
  w.EndMessage();
  EXPECT_EQ(Cell(MustProto(w.data()), TableId::kSpans, "kind"), "-3");
}

TEST(DecodeTraces, DurationNeverNegative) {
  DecodeResult r = MustJson(OneSpanJson(R"(,"startTimeUnixNano":"2000000","endTimeUnixNano":"1000000")"));
  EXPECT_EQ(Cell(r, TableId::kSpans, "duration_ms"), "0");
  DecodeResult r2 = MustJson(OneSpanJson(R"(,"startTimeUnixNano":"1000000","endTimeUnixNano":"1500001")"));
  EXPECT_EQ(Cell(r2, TableId::kSpans, "duration_ms"), "0.500001");
}

TEST(DecodeTraces, ServiceNameDefaultsAndTypes) {
  auto with_resource = [](std::string_view attrs) {
    return std::string(R"({"resourceSpans":[{"resource":{"attributes":[)") + std::string(attrs) +
           R"(]},"scopeSpans":[{"spans":[{"traceId":"000102030405060708090a0b0c0d0e0f",)"
           R"("spanId":"0001020304050607"}]}]}]})";
  };
  EXPECT_EQ(Cell(MustJson(with_resource(R"({"key":"service.name","value":{"stringValue":""}})")),
                 TableId::kSpans, "service_name"),
            "unknown");
  EXPECT_EQ(Cell(MustJson(with_resource(R"({"key":"service.name","value":{"intValue":7}})")),
                 TableId::kSpans, "service_name"),
            "7");
  EXPECT_EQ(Cell(MustJson(with_resource(R"({"key":"deployment.environment","value":{"stringValue":"qa"}})")),
                 TableId::kSpans, "deployment_env"),
            "qa");
  EXPECT_EQ(Cell(MustJson(with_resource(R"({"key":"user.roles","value":{"stringValue":"admin"}})")),
                 TableId::kSpans, "user_roles_json"),
            R"("admin")");
  EXPECT_EQ(Cell(MustJson(with_resource(R"({"key":"session.previous_id","value":{"stringValue":"p"}})")),
                 TableId::kSpans, "session_previous_id"),
            "p");
}

TEST(DecodeTraces, DuplicateKeysKeepTheLastValueAndAreCounted) {
  // OTLP forbids duplicate keys; the map keeps the last value (what SDKs do), at its position,
  // the promoted column agrees, and the dropped entries are counted (in /healthz).
  DecodeResult r = MustJson(OneSpanJson(
      R"(,"attributes":[{"key":"user.id","value":{"stringValue":"a"}},)"
      R"({"key":"k","value":{"intValue":"1"}},)"
      R"({"key":"user.id","value":{"stringValue":"b"}},{"key":"k","value":{"doubleValue":2.5}}])"));
  EXPECT_EQ(Cell(r, TableId::kSpans, "user_id"), "b");
  EXPECT_EQ(Cell(r, TableId::kSpans, "span_attrs_json"), R"({"user.id":"b","k":2.5})");
  EXPECT_EQ(Cell(r, TableId::kSpans, "span_attrs_types"), "sd");
  EXPECT_EQ(r.duplicate_attr_keys, 2);
  // The same from protobuf, and for resource attributes (counted once per stored list).
  auto proto = OtlpJsonToProtobuf(Signal::kTraces, OneSpanJson(
      R"(,"attributes":[{"key":"user.id","value":{"stringValue":"a"}},)"
      R"({"key":"user.id","value":{"stringValue":"b"}}])"));
  ASSERT_TRUE(proto.ok()) << proto.status();
  DecodeResult p = MustProto(*proto);
  EXPECT_EQ(Cell(p, TableId::kSpans, "span_attrs_json"), R"({"user.id":"b"})");
  EXPECT_EQ(p.duplicate_attr_keys, 1);
}

TEST(DecodeTraces, PromotedValuesOfEveryTypeAndPerRecordIdentity) {
  // The promoted columns take a non-string value as its typed JSON, from either wire form; an
  // event's own user.id is its row's, and does not leak into the span's or the link's.
  const std::string json = OneSpanJson(
      R"(,"attributes":[{"key":"user.id","value":{"doubleValue":"NaN"}},)"
      R"({"key":"user.name","value":{"bytesValue":"AP8="}},)"
      R"({"key":"session.id","value":{"boolValue":true}},)"
      R"({"key":"session.previous_id"},)"
      R"({"key":"user.roles","value":{"kvlistValue":{"values":[{"key":"a","value":{"intValue":"1"}}]}}}],)"
      R"("events":[{"timeUnixNano":"5","name":"e","attributes":[)"
      R"({"key":"user.id","value":{"intValue":"42"}}]}],)"
      R"("links":[{"traceId":"000102030405060708090a0b0c0d0e0f","spanId":"0001020304050607"}])");
  DecodeResult r = MustJson(json);
  EXPECT_EQ(Cell(r, TableId::kSpans, "user_id"), R"({"$double":"NaN"})");
  EXPECT_EQ(Cell(r, TableId::kSpans, "user_name"), R"({"$bytes":"AP8="})");
  EXPECT_EQ(Cell(r, TableId::kSpans, "session_id"), "true");
  EXPECT_EQ(Cell(r, TableId::kSpans, "session_previous_id"), "null");
  EXPECT_EQ(Cell(r, TableId::kSpans, "user_roles_json"), R"({"a":1})");
  EXPECT_EQ(Cell(r, TableId::kSpans, "span_attrs_types"), "dybek");
  EXPECT_EQ(Cell(r, TableId::kSpanEvents, "user_id"), "42");
  EXPECT_EQ(Cell(r, TableId::kSpanEvents, "user_name"), R"({"$bytes":"AP8="})");
  EXPECT_EQ(Cell(r, TableId::kSpanLinks, "user_id"), R"({"$double":"NaN"})");
  auto proto = OtlpJsonToProtobuf(Signal::kTraces, json);
  ASSERT_TRUE(proto.ok()) << proto.status();
  testing::ExpectSameRows(r, MustProto(*proto));
}

TEST(DecodeTraces, DuplicateKeysInLongLists) {
  // Past 64 entries the duplicate check hashes every key; the result is the same rule.
  std::string attrs = ",\"attributes\":[";
  for (int i = 0; i < 100; ++i) {
    if (i > 0) attrs += ',';
    attrs += "{\"key\":\"k" + std::to_string(i % 70) + "\",\"value\":{\"intValue\":\"" +
             std::to_string(i) + "\"}}";
  }
  attrs += "]";
  DecodeResult r = MustJson(OneSpanJson(attrs));
  EXPECT_EQ(r.duplicate_attr_keys, 30);
  const std::string stored = Cell(r, TableId::kSpans, "span_attrs_json");
  EXPECT_NE(stored.find(R"("k0":70)"), std::string::npos) << stored;
  EXPECT_NE(stored.find(R"("k69":69)"), std::string::npos) << stored;
  EXPECT_EQ(Cell(r, TableId::kSpans, "span_attrs_types"), std::string(70, 'i'));
}

TEST(DecodeTraces, KeysAlikeAtBothEndsAreNotDuplicates) {
  // Keys of one length with the same first and last eight bytes (the duplicate check's
  // fingerprint) differ only in the middle: all kept; a true repeat among them still counts.
  std::string attrs = ",\"attributes\":[";
  for (int i = 0; i < 40; ++i) {
    if (i > 0) attrs += ',';
    const int k = i < 36 ? i : i - 36;  // the last four repeat keys 0..3
    char mid[3];
    std::snprintf(mid, sizeof mid, "%02d", k);
    attrs += std::string("{\"key\":\"service.") + mid + ".attribute\",\"value\":{\"intValue\":\"" +
             std::to_string(i) + "\"}}";
  }
  attrs += "]";
  DecodeResult r = MustJson(OneSpanJson(attrs));
  EXPECT_EQ(r.duplicate_attr_keys, 4);
  EXPECT_EQ(Cell(r, TableId::kSpans, "span_attrs_types"), std::string(36, 'i'));
  const std::string stored = Cell(r, TableId::kSpans, "span_attrs_json");
  EXPECT_NE(stored.find(R"("service.00.attribute":36)"), std::string::npos) << stored;
  EXPECT_NE(stored.find(R"("service.35.attribute":35)"), std::string::npos) << stored;
}

// --- Rejections: the bad span alone, with its events and links; the rest is stored.

std::string SpanProto(std::string_view trace_id, std::string_view span_id,
                      std::string_view parent = "", uint64_t start = 1, uint64_t end = 2,
                      std::string_view link_trace = "", std::string_view link_span = "",
                      bool with_link = false, uint64_t event_time = 1) {
  ProtoWriter w;
  w.Bytes(1, trace_id);
  w.Bytes(2, span_id);
  if (!parent.empty()) w.Bytes(4, parent);
  w.Fixed64(7, start);
  w.Fixed64(8, end);
  w.BeginMessage(11);
  w.Fixed64(1, event_time);
  w.EndMessage();
  if (with_link) {
    w.BeginMessage(13);
    w.Bytes(1, link_trace);
    w.Bytes(2, link_span);
    w.EndMessage();
  }
  return w.Release();
}

std::string Request(const std::vector<std::string>& spans) {
  ProtoWriter w;
  w.BeginMessage(1);
  w.BeginMessage(2);
  for (const auto& s : spans) w.Bytes(2, s);
  w.EndMessage();
  w.EndMessage();
  return w.Release();
}

TEST(DecodeTraces, InvalidSpansAreRejectedAloneWithReasons) {
  const std::string T(16, 'T'), S(8, 'S');
  const std::vector<std::string> spans = {
      SpanProto(T, S),                                         // good
      SpanProto(std::string(15, 'T'), S),                      // short trace id
      SpanProto(T, std::string(7, 'S')),                       // short span id
      SpanProto(T, S, std::string(3, 'P')),                    // bad parent
      SpanProto("", S),                                        // missing trace id
      SpanProto(T, S, "", 1ULL << 63),                         // start >= 2^63
      SpanProto(T, S, "", 1, UINT64_MAX),                      // end >= 2^63
      SpanProto(T, S, "", 1, 2, T, std::string(9, 'S'), true),  // bad link span id
      SpanProto(T, S, "", 1, 2, "", S, true),                  // link without trace id
      SpanProto(T, S, "", 1, 2, "", "", false, 1ULL << 63),    // event time >= 2^63
      SpanProto(T, S, "", 1, 2, T, S, true),                   // good, with a link
  };
  DecodeResult r = MustProto(Request(spans));
  EXPECT_EQ(r.accepted, 2);
  EXPECT_EQ(r.rejected, 9);
  EXPECT_EQ(Rows(r, TableId::kSpans), 2);
  EXPECT_EQ(Rows(r, TableId::kSpanEvents), 2);  // only the good spans' events
  EXPECT_EQ(Rows(r, TableId::kSpanLinks), 1);
  const std::map<std::string, int64_t> want = {
      {"trace_id must be 16 bytes, got 15", 1},
      {"trace_id must be 16 bytes, got 0", 1},
      {"span_id must be 8 bytes, got 7", 1},
      {"parent_span_id must be 8 bytes, got 3", 1},
      {"start_time_unix_nano exceeds int64", 1},
      {"end_time_unix_nano exceeds int64", 1},
      {"link span_id must be 8 bytes, got 9", 1},
      {"link trace_id must be 16 bytes, got 0", 1},
      {"event time_unix_nano exceeds int64", 1},
  };
  EXPECT_EQ(r.reasons, want);
  EXPECT_EQ(r.ErrorMessage(Signal::kTraces).substr(0, 18), "rejected 9 spans: ");
}

TEST(DecodeTraces, JsonRejectionsMatchProtobuf) {
  const char* json = R"({"resourceSpans":[{"scopeSpans":[{"spans":[
    {"traceId":"000102030405060708090a0b0c0d0e","spanId":"0001020304050607"},
    {"traceId":"000102030405060708090a0b0c0d0e0f","spanId":"00010203040506"},
    {"traceId":"zz0102030405060708090a0b0c0d0e0f","spanId":"0001020304050607"},
    {"traceId":"000102030405060708090a0b0c0d0e0f","spanId":"0001020304050607","startTimeUnixNano":"9223372036854775808"},
    {"traceId":"000102030405060708090a0b0c0d0e0f","spanId":"0001020304050607","startTimeUnixNano":"9223372036854775807"}
  ]}]}]})";
  DecodeResult r = MustJson(json);
  EXPECT_EQ(r.accepted, 1);
  EXPECT_EQ(r.rejected, 4);
  const std::map<std::string, int64_t> want = {
      {"trace_id must be 16 bytes, got 15", 1},
      {"span_id must be 8 bytes, got 7", 1},
      {"trace_id is not hex or base64", 1},
      {"start_time_unix_nano exceeds int64", 1},
  };
  EXPECT_EQ(r.reasons, want);
  EXPECT_EQ(Cell(r, TableId::kSpans, "start_time_unix_nano"), "9223372036854775807");
  EXPECT_EQ(Cell(r, TableId::kSpans, "event_date"), "2262-04-11");
}

TEST(DecodeTraces, ErrorMessageFormat) {
  DecodeResult r;
  EXPECT_EQ(r.ErrorMessage(Signal::kTraces), "");
  r.rejected = 3;
  r.reasons = {{"b reason", 1}, {"a reason", 2}};
  EXPECT_EQ(r.ErrorMessage(Signal::kTraces), "rejected 3 spans: a reason (2); b reason (1)");
  r.rejected = 1;
  r.reasons = {{"x", 1}};
  EXPECT_EQ(r.ErrorMessage(Signal::kLogs), "rejected 1 log record: x (1)");
  r.rejected = 2;
  r.reasons = {{"x", 2}};
  EXPECT_EQ(r.ErrorMessage(Signal::kMetrics), "rejected 2 data points: x (2)");
  EXPECT_EQ(SignalName(Signal::kTraces), "traces");
  EXPECT_EQ(SignalName(Signal::kLogs), "logs");
  EXPECT_EQ(SignalName(Signal::kMetrics), "metrics");
}

TEST(DecodeTraces, UnknownFieldsOfEveryWireTypeAreSkipped) {
  ProtoWriter w;
  w.Varint(99, 1);  // unknown top-level fields
  w.Fixed32(98, 1);
  w.BeginMessage(1);
  w.Fixed64(77, 5);
  w.Tag(76, WireType::kStartGroup);
  w.Varint(1, 1);
  w.Tag(76, WireType::kEndGroup);
  w.BeginMessage(2);
  w.BeginMessage(2);
  w.Bytes(1, std::string(16, '\1'));
  w.Bytes(2, std::string(8, '\2'));
  w.String(100, "future field");
  w.Fixed32(101, 1);
  w.EndMessage();
  w.EndMessage();
  w.EndMessage();
  DecodeResult r = MustProto(w.data());
  EXPECT_EQ(Rows(r, TableId::kSpans), 1);
}

TEST(DecodeTraces, MultipleResourcesAndScopesKeepTheirOwnContext) {
  const char* json = R"({"resourceSpans":[
    {"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"a"}}]},
     "scopeSpans":[{"scope":{"name":"s1"},"spans":[{"traceId":"000102030405060708090a0b0c0d0e0f","spanId":"0001020304050607"}]},
                   {"scope":{"name":"s2"},"spans":[{"traceId":"000102030405060708090a0b0c0d0e0f","spanId":"0001020304050607"}]}]},
    {"scopeSpans":[{"spans":[{"traceId":"000102030405060708090a0b0c0d0e0f","spanId":"0001020304050607"}]}]}
  ]})";
  DecodeResult r = MustJson(json);
  ASSERT_EQ(Rows(r, TableId::kSpans), 3);
  EXPECT_EQ(Cell(r, TableId::kSpans, "service_name", 0), "a");
  EXPECT_EQ(Cell(r, TableId::kSpans, "scope_name", 0), "s1");
  EXPECT_EQ(Cell(r, TableId::kSpans, "scope_name", 1), "s2");
  EXPECT_EQ(Cell(r, TableId::kSpans, "service_name", 2), "unknown");
  EXPECT_EQ(Cell(r, TableId::kSpans, "scope_name", 2), "");
  auto proto = OtlpJsonToProtobuf(Signal::kTraces, json);
  ASSERT_TRUE(proto.ok());
  testing::ExpectSameRows(r, MustProto(*proto));
}

// Request-level columns are repeated from the row before while the resource and scope stay the
// same: contexts of equal length but different content, a rejected span, an event table filled
// in between and a day change inside one scope must all still give each row its own values.
TEST(DecodeTraces, RequestLevelValuesFollowEveryContextChange) {
  auto span = [](const char* id, const char* start) {
    return std::string(R"({"traceId":"000102030405060708090a0b0c0d0e0f","spanId":")") + id +
           R"(","startTimeUnixNano":")" + start + R"(","endTimeUnixNano":")" + start +
           R"(","events":[{"timeUnixNano":")" + start + R"(","name":"e"}]})";
  };
  const std::string day1 = "1700000000000000000", day2 = "1700092800000000000";  // 11-14, 11-16
  auto scope = [&](const char* name) {
    return std::string(R"({"scope":{"name":")") + name + R"("},"spans":[)" + span("0001020304050607", day1.c_str()) +
           "," + R"({"traceId":"00","spanId":"0001020304050607"})" + "," +  // rejected: bad trace id
           span("0001020304050608", day1.c_str()) + "," + span("0001020304050609", day2.c_str()) + "]}";
  };
  auto resource = [&](const char* service) {
    return std::string(R"({"resource":{"attributes":[{"key":"service.name","value":{"stringValue":")") +
           service + R"("}}]},"scopeSpans":[)" + scope("s1") + "," + scope("s2") + "]}";
  };
  const std::string json = R"({"resourceSpans":[)" + resource("aa") + "," + resource("bb") + "]}";
  DecodeResult r;
  ASSERT_TRUE(DecodeJson(Signal::kTraces, json, Opts(), &r).ok());
  ASSERT_EQ(Rows(r, TableId::kSpans), 12);
  ASSERT_EQ(Rows(r, TableId::kSpanEvents), 12);
  for (TableId t : {TableId::kSpans, TableId::kSpanEvents}) {
    for (int row = 0; row < 12; ++row) {
      const std::string service = row < 6 ? "aa" : "bb";
      const std::string scope_name = row % 6 < 3 ? "s1" : "s2";
      EXPECT_EQ(Cell(r, t, "service_name", row), service) << row;
      EXPECT_EQ(Cell(r, t, "resource_attrs_json", row), R"({"service.name":")" + service + "\"}") << row;
      EXPECT_EQ(Cell(r, t, "scope_name", row), scope_name) << row;
      EXPECT_EQ(Cell(r, t, "event_date", row), row % 3 == 2 ? "2023-11-16" : "2023-11-14") << row;
    }
  }
  EXPECT_EQ(r.rejected, 4);
  auto proto = OtlpJsonToProtobuf(Signal::kTraces, json);
  ASSERT_TRUE(proto.ok());
  testing::ExpectSameRows(r, MustProto(*proto));
  // A second request decoded into the same result starts without the shortcut.
  ASSERT_TRUE(DecodeJson(Signal::kTraces, R"({"resourceSpans":[)" + resource("cc") + "]}", Opts(), &r).ok());
  ASSERT_EQ(Rows(r, TableId::kSpans), 18);
  EXPECT_EQ(Cell(r, TableId::kSpans, "service_name", 12), "cc");
  EXPECT_EQ(Cell(r, TableId::kSpans, "scope_name", 15), "s2");
}

// A protobuf request's rows are counted before decoding and their columns sized once (no growth
// step by step); a hostile count (tiny empty spans) reserves no more than the body could hold.
TEST(DecodeTraces, ProtobufReservesTheRequestsRowsUpFront) {
  std::string json = R"({"resourceSpans":[)";
  for (int r = 0; r < 2; ++r) {
    json += std::string(r ? "," : "") + R"({"scopeSpans":[{"spans":[)";
    for (int i = 0; i < 150; ++i) {
      char id[17];
      std::snprintf(id, sizeof(id), "%016x", r * 1000 + i);
      json += std::string(i ? "," : "") + R"({"traceId":"000102030405060708090a0b0c0d0e0f","spanId":")" +
              id + R"("})";
    }
    json += "]}]}";
  }
  json += "]}";
  auto proto = OtlpJsonToProtobuf(Signal::kTraces, json);
  ASSERT_TRUE(proto.ok());
  DecodeResult r = MustProto(*proto);
  ASSERT_EQ(Rows(r, TableId::kSpans), 300);
  const table::RowBatch* spans = r.batches.Find(TableId::kSpans);
  EXPECT_EQ(spans->column(table::spans::kStartTimeUnixNano).ints.capacity(), 300u);  // not 512
  EXPECT_EQ(spans->column(table::spans::kTraceId).chars.capacity(), 300u * 32);

  ProtoWriter scope;
  for (int i = 0; i < 20000; ++i) scope.Bytes(2, "");  // 20,000 empty spans, 2 bytes each
  ProtoWriter resource, request;
  resource.Bytes(2, scope.data());
  request.Bytes(1, resource.data());
  DecodeResult hostile;
  ASSERT_TRUE(DecodeProtobuf(Signal::kTraces, request.data(), Opts(), &hostile).ok());
  EXPECT_EQ(hostile.rejected, 20000);
  const table::RowBatch* none = hostile.batches.Find(TableId::kSpans);
  ASSERT_NE(none, nullptr);
  EXPECT_LE(none->column(table::spans::kStartTimeUnixNano).ints.capacity(),
            request.data().size() / 28 + 1);
}

TEST(DecodeTraces, HugeAttributeValues) {
  const std::string big(1 << 20, 'x');
  ProtoWriter w;
  w.BeginMessage(1);
  w.BeginMessage(2);
  w.BeginMessage(2);
  w.Bytes(1, std::string(16, '\1'));
  w.Bytes(2, std::string(8, '\2'));
  WriteAttributes(&w, 9, {{"big", AnyValue::String(big)}, {"bin", AnyValue::Bytes(big)}});
  w.EndMessage();
  w.EndMessage();
  w.EndMessage();
  DecodeResult r = MustProto(w.data());
  const std::string attrs = Cell(r, TableId::kSpans, "span_attrs_json");
  // {"big":"<1 MiB>","bin":{"$bytes":"<base64>"}}
  EXPECT_EQ(attrs.size(), big.size() + (big.size() + 2) / 3 * 4 + 30);
  EXPECT_EQ(attrs.substr(0, 10), R"({"big":"xx)");
}

TEST(DecodeTraces, ExampleFileKeepsEveryField) {
  const std::string body = testing::ReadFile(testing::ExamplesDir() + "/trace.json");
  ASSERT_FALSE(body.empty());
  DecodeResult r;
  ASSERT_TRUE(DecodeJson(Signal::kTraces, body, Opts(), &r).ok());
  ASSERT_EQ(Rows(r, TableId::kSpans), 1);
  EXPECT_EQ(Cell(r, TableId::kSpans, "trace_id"), "5b8efff798038103d269b633813fc60c");
  EXPECT_EQ(Cell(r, TableId::kSpans, "span_id"), "eee19b7ec3c1b174");
  EXPECT_EQ(Cell(r, TableId::kSpans, "parent_span_id"), "eee19b7ec3c1b173");
  EXPECT_EQ(Cell(r, TableId::kSpans, "name"), "I'm a server span");
  EXPECT_EQ(Cell(r, TableId::kSpans, "kind"), "SERVER");
  EXPECT_EQ(Cell(r, TableId::kSpans, "duration_ms"), "1000");
  EXPECT_EQ(Cell(r, TableId::kSpans, "span_attrs_json"), R"({"my.span.attr":"some value"})");
  EXPECT_EQ(Cell(r, TableId::kSpans, "service_name"), "my.service");
  EXPECT_EQ(Cell(r, TableId::kSpans, "event_date"), "2018-12-13");
  auto proto = OtlpJsonToProtobuf(Signal::kTraces, body);
  ASSERT_TRUE(proto.ok());
  DecodeResult p;
  ASSERT_TRUE(DecodeProtobuf(Signal::kTraces, *proto, Opts(), &p).ok());
  testing::ExpectSameRows(r, p);
}

TEST(DecodeTraces, HugeJsonAttributeValues) {
  const std::string big(1 << 20, 'y');
  DecodeResult r = MustJson(OneSpanJson(R"(,"attributes":[{"key":"big","value":{"stringValue":")" +
                                        big + R"("}},{"key":"bin","value":{"bytesValue":")" + big +
                                        R"("}}])"));
  const std::string attrs = Cell(r, TableId::kSpans, "span_attrs_json");
  // 1 MiB of 'y' is also valid base64 (decoding to 768 KiB, re-encoded the same).
  EXPECT_EQ(attrs.size(), big.size() + big.size() + 30);
}

}  // namespace
}  // namespace otlake::otlp
