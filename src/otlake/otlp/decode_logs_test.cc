// Logs: every LogRecord field, body types, event time fallbacks, rejections.
#include <gtest/gtest.h>

#include "otlake/otlp/decode.h"
#include "otlake/otlp/json_to_proto.h"
#include "otlake/otlp/proto_writer.h"
#include "otlake/otlp/test_util.h"

namespace otlake::otlp {
namespace {

using table::TableId;
using testing::Cell;
using testing::Rows;

constexpr TableId L = TableId::kLogs;

constexpr const char* kLogsJson = R"({"resourceLogs":[{
  "resource":{"attributes":[{"key":"service.name","value":{"stringValue":"api"}},
                            {"key":"user.name","value":{"stringValue":"res-user"}}],
              "droppedAttributesCount":1},
  "schemaUrl":"https://res",
  "scopeLogs":[{"scope":{"name":"logger","version":"2"},"schemaUrl":"https://scope","logRecords":[
    {"timeUnixNano":"1700000000999999999","observedTimeUnixNano":"1700000001000000000",
     "severityNumber":"SEVERITY_NUMBER_WARN2","severityText":"WARN","body":{"stringValue":"hello"},
     "attributes":[{"key":"session.id","value":{"stringValue":"s1"}},
                   {"key":"body","value":{"stringValue":"not the body"}}],
     "droppedAttributesCount":2,"flags":1,
     "traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"EEE19B7EC3C1B174","eventName":"app.event"},
    {"observedTimeUnixNano":"1700000002000000000","body":{"intValue":"5"},"severityNumber":17},
    {"body":{"kvlistValue":{"values":[{"key":"a","value":{"doubleValue":1}}]}}},
    {"body":{}},
    {"body":{"boolValue":false}},
    {"body":{"doubleValue":"NaN"}},
    {"body":{"bytesValue":"aGk"}},
    {"body":{"arrayValue":{}}},
    {"body":{"stringValue":""}}
  ]}]}]})";

DecodeOptions Opts() {
  DecodeOptions o;
  o.now_unix_nano = 1600000000123456789;
  return o;
}

DecodeResult Json(std::string_view body) {
  DecodeResult r;
  Status st = DecodeJson(Signal::kLogs, body, Opts(), &r);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return r;
}

DecodeResult Proto(std::string_view body) {
  DecodeResult r;
  Status st = DecodeProtobuf(Signal::kLogs, body, Opts(), &r);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return r;
}

TEST(DecodeLogs, EveryFieldLandsInItsColumn) {
  DecodeResult r = Json(kLogsJson);
  ASSERT_EQ(Rows(r, L), 9);
  EXPECT_EQ(r.accepted, 9);
  EXPECT_EQ(Cell(r, L, "service_name"), "api");
  EXPECT_EQ(Cell(r, L, "resource_dropped_attributes_count"), "1");
  EXPECT_EQ(Cell(r, L, "resource_schema_url"), "https://res");
  EXPECT_EQ(Cell(r, L, "scope_name"), "logger");
  EXPECT_EQ(Cell(r, L, "scope_version"), "2");
  EXPECT_EQ(Cell(r, L, "scope_schema_url"), "https://scope");
  EXPECT_EQ(Cell(r, L, "time_unix_nano"), "1700000000999999999");
  EXPECT_EQ(Cell(r, L, "observed_time_unix_nano"), "1700000001000000000");
  EXPECT_EQ(Cell(r, L, "event_ts"), "1700000000999");
  EXPECT_EQ(Cell(r, L, "event_date"), "2023-11-14");
  EXPECT_EQ(Cell(r, L, "severity_number"), "14");
  EXPECT_EQ(Cell(r, L, "severity_text"), "WARN");
  EXPECT_EQ(Cell(r, L, "body"), "hello");
  EXPECT_EQ(Cell(r, L, "body_type"), "string");
  EXPECT_EQ(Cell(r, L, "log_attrs_json"), R"({"session.id":"s1","body":"not the body"})");
  EXPECT_EQ(Cell(r, L, "trace_id"), "5b8efff798038103d269b633813fc60c");
  EXPECT_EQ(Cell(r, L, "span_id"), "eee19b7ec3c1b174");
  EXPECT_EQ(Cell(r, L, "flags"), "1");
  EXPECT_EQ(Cell(r, L, "dropped_attributes_count"), "2");
  EXPECT_EQ(Cell(r, L, "event_name"), "app.event");
  EXPECT_EQ(Cell(r, L, "session_id"), "s1");
  EXPECT_EQ(Cell(r, L, "user_name"), "res-user");

  // Second record: no time -> observed time; int body.
  EXPECT_EQ(Cell(r, L, "time_unix_nano", 1), "0");
  EXPECT_EQ(Cell(r, L, "event_ts", 1), "1700000002000");
  EXPECT_EQ(Cell(r, L, "severity_number", 1), "17");
  EXPECT_EQ(Cell(r, L, "body", 1), "5");
  EXPECT_EQ(Cell(r, L, "body_type", 1), "int");
  EXPECT_EQ(Cell(r, L, "trace_id", 1), "");
  EXPECT_EQ(Cell(r, L, "session_id", 1), "");
  // No times at all -> arrival time.
  EXPECT_EQ(Cell(r, L, "event_ts", 2), "1600000000123");
  EXPECT_EQ(Cell(r, L, "event_date", 2), "2020-09-13");
  EXPECT_EQ(Cell(r, L, "body", 2), R"({"a":1.0})");
  EXPECT_EQ(Cell(r, L, "body_type", 2), "kvlist");
  EXPECT_EQ(Cell(r, L, "body", 3), "");
  EXPECT_EQ(Cell(r, L, "body_type", 3), "empty");
  EXPECT_EQ(Cell(r, L, "body", 4), "false");
  EXPECT_EQ(Cell(r, L, "body_type", 4), "bool");
  EXPECT_EQ(Cell(r, L, "body", 5), R"({"$double":"NaN"})");
  EXPECT_EQ(Cell(r, L, "body_type", 5), "double");
  EXPECT_EQ(Cell(r, L, "body", 6), R"({"$bytes":"aGk="})");
  EXPECT_EQ(Cell(r, L, "body_type", 6), "bytes");
  EXPECT_EQ(Cell(r, L, "body", 7), "[]");
  EXPECT_EQ(Cell(r, L, "body_type", 7), "array");
  EXPECT_EQ(Cell(r, L, "body", 8), "");
  EXPECT_EQ(Cell(r, L, "body_type", 8), "string");
}

TEST(DecodeLogs, NoBodyIsEmpty) {
  DecodeResult r = Json(R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[{}]}]}]})");
  EXPECT_EQ(Cell(r, L, "body"), "");
  EXPECT_EQ(Cell(r, L, "body_type"), "empty");
  EXPECT_EQ(Cell(r, L, "severity_number"), "0");
}

TEST(DecodeLogs, TranscodedAndHandWrittenProtobufGiveTheSameRows) {
  auto proto = OtlpJsonToProtobuf(Signal::kLogs, kLogsJson);
  ASSERT_TRUE(proto.ok()) << proto.status().ToString();
  testing::ExpectSameRows(Json(kLogsJson), Proto(*proto));

  ProtoWriter w;
  w.BeginMessage(1);
  w.BeginMessage(2);
  w.BeginMessage(2);
  w.String(12, "ev");  // fields in reverse order on purpose
  w.Bytes(10, std::string(8, '\x11'));
  w.Bytes(9, std::string(16, '\x22'));
  w.Fixed32(8, 3);
  w.Varint(7, 4);
  WriteAttributes(&w, 6, {{"k", AnyValue::Int(-1)}});
  WriteAnyValue(&w, 5, AnyValue::Array({AnyValue::Bytes("x"), AnyValue::Double(-0.0)}));
  w.String(3, "INFO");
  w.Varint(2, 9);
  w.Fixed64(11, 7000000);
  w.Fixed64(1, 0);
  w.EndMessage();
  w.EndMessage();
  w.EndMessage();
  DecodeResult r = Proto(w.data());
  EXPECT_EQ(Cell(r, L, "event_name"), "ev");
  EXPECT_EQ(Cell(r, L, "span_id"), "1111111111111111");
  EXPECT_EQ(Cell(r, L, "trace_id"), "22222222222222222222222222222222");
  EXPECT_EQ(Cell(r, L, "flags"), "3");
  EXPECT_EQ(Cell(r, L, "dropped_attributes_count"), "4");
  EXPECT_EQ(Cell(r, L, "log_attrs_json"), R"({"k":-1})");
  EXPECT_EQ(Cell(r, L, "body"), R"([{"$bytes":"eA=="},-0.0])");
  EXPECT_EQ(Cell(r, L, "body_type"), "array");
  EXPECT_EQ(Cell(r, L, "severity_text"), "INFO");
  EXPECT_EQ(Cell(r, L, "severity_number"), "9");
  EXPECT_EQ(Cell(r, L, "event_ts"), "7");
}

TEST(DecodeLogs, SeverityNames) {
  struct Case {
    const char* name;
    const char* number;
  } cases[] = {{"SEVERITY_NUMBER_UNSPECIFIED", "0"}, {"SEVERITY_NUMBER_TRACE", "1"},
               {"SEVERITY_NUMBER_TRACE4", "4"},      {"SEVERITY_NUMBER_DEBUG", "5"},
               {"SEVERITY_NUMBER_INFO", "9"},        {"SEVERITY_NUMBER_INFO3", "11"},
               {"SEVERITY_NUMBER_WARN", "13"},       {"SEVERITY_NUMBER_ERROR", "17"},
               {"SEVERITY_NUMBER_FATAL4", "24"}};
  for (const Case& c : cases) {
    DecodeResult r = Json(std::string(R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[{"severityNumber":")") +
                          c.name + R"("}]}]}]})");
    EXPECT_EQ(Cell(r, L, "severity_number"), c.number) << c.name;
  }
  DecodeResult bad;
  EXPECT_FALSE(DecodeJson(Signal::kLogs,
                          R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[{"severityNumber":"SEVERITY_NUMBER_INFO5"}]}]}]})",
                          Opts(), &bad)
                   .ok());
}

TEST(DecodeLogs, InvalidRecordsAreRejectedAlone) {
  const char* json = R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[
    {"traceId":"000102030405060708090a0b0c0d0e"},
    {"spanId":"00010203040506"},
    {"timeUnixNano":"18446744073709551615"},
    {"observedTimeUnixNano":"9223372036854775808"},
    {"traceId":"","spanId":""},
    {"body":{"stringValue":"kept"}}
  ]}]}]})";
  DecodeResult r = Json(json);
  EXPECT_EQ(r.accepted, 2);
  EXPECT_EQ(r.rejected, 4);
  EXPECT_EQ(Rows(r, L), 2);
  EXPECT_EQ(Cell(r, L, "body", 1), "kept");
  const std::map<std::string, int64_t> want = {
      {"trace_id must be 16 bytes, got 15", 1},
      {"span_id must be 8 bytes, got 7", 1},
      {"time_unix_nano exceeds int64", 1},
      {"observed_time_unix_nano exceeds int64", 1},
  };
  EXPECT_EQ(r.reasons, want);
  auto proto = OtlpJsonToProtobuf(Signal::kLogs, json);
  ASSERT_TRUE(proto.ok());
  testing::ExpectSameRows(r, Proto(*proto));
}

TEST(DecodeLogs, ExampleFilesKeepEveryField) {
  for (const char* file : {"logs.json", "events.json"}) {
    const std::string body = testing::ReadFile(testing::ExamplesDir() + "/" + file);
    ASSERT_FALSE(body.empty()) << file;
    DecodeResult r = Json(body);
    ASSERT_EQ(Rows(r, L), 1) << file;
    EXPECT_EQ(Cell(r, L, "service_name"), "my.service");
    EXPECT_EQ(Cell(r, L, "scope_name"), "my.library");
    EXPECT_EQ(Cell(r, L, "scope_version"), "1.0.0");
    EXPECT_EQ(Cell(r, L, "scope_attrs_json"), R"({"my.scope.attribute":"some scope attribute"})");
    EXPECT_EQ(Cell(r, L, "observed_time_unix_nano"), "1544712660300000000");
    auto proto = OtlpJsonToProtobuf(Signal::kLogs, body);
    ASSERT_TRUE(proto.ok());
    testing::ExpectSameRows(r, Proto(*proto));
  }
  DecodeResult logs = Json(testing::ReadFile(testing::ExamplesDir() + "/logs.json"));
  EXPECT_EQ(Cell(logs, L, "severity_number"), "10");
  EXPECT_EQ(Cell(logs, L, "severity_text"), "Information");
  EXPECT_EQ(Cell(logs, L, "trace_id"), "5b8efff798038103d269b633813fc60c");
  EXPECT_EQ(Cell(logs, L, "span_id"), "eee19b7ec3c1b174");
  EXPECT_EQ(Cell(logs, L, "body"), "Example log record");
  EXPECT_EQ(Cell(logs, L, "log_attrs_json"),
            R"({"string.attribute":"some string","boolean.attribute":true,"int.attribute":10,)"
            R"("double.attribute":637.704,"array.attribute":["many","values"],)"
            R"("map.attribute":{"some.map.key":"some value"}})");
  DecodeResult events = Json(testing::ReadFile(testing::ExamplesDir() + "/events.json"));
  EXPECT_EQ(Cell(events, L, "event_name"), "browser.page_view");
  EXPECT_EQ(Cell(events, L, "severity_number"), "9");
  EXPECT_EQ(Cell(events, L, "body_type"), "kvlist");
  EXPECT_EQ(Cell(events, L, "body"),
            R"({"type":0,"url":"https://www.guidgenerator.com/online-guid-generator.aspx",)"
            R"("referrer":"https://wwww.google.com","title":"Free Online GUID Generator"})");
  EXPECT_EQ(Cell(events, L, "log_attrs_json"), R"({"event.attribute":"some event attribute"})");
}

}  // namespace
}  // namespace otlake::otlp
