// Metrics: Gauge/Sum -> metrics_points, Histogram/ExpHistogram/Summary -> metrics_hist.
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

constexpr TableId P = TableId::kMetricsPoints;
constexpr TableId H = TableId::kMetricsHist;

constexpr const char* kMetricsJson = R"({"resourceMetrics":[{
 "resource":{"attributes":[{"key":"service.name","value":{"stringValue":"m"}}]},
 "scopeMetrics":[{"scope":{"name":"meter"},"metrics":[
  {"name":"g","unit":"1","description":"gauge d","metadata":[{"key":"m.k","value":{"intValue":"1"}}],
   "gauge":{"dataPoints":[
     {"asInt":"-7","timeUnixNano":"1700000000000000000","startTimeUnixNano":"1","flags":1,
      "attributes":[{"key":"host","value":{"stringValue":"h1"}},{"key":"user.id","value":{"stringValue":"u"}}]},
     {"asDouble":1.5,"startTimeUnixNano":"1600000000000000000"},
     {}]}},
  {"name":"s","sum":{"aggregationTemporality":"AGGREGATION_TEMPORALITY_CUMULATIVE","isMonotonic":true,
   "dataPoints":[{"asDouble":"Infinity","timeUnixNano":"5000000","exemplars":[
      {"timeUnixNano":"4000000","asInt":"3","traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"EEE19B7EC3C1B174",
       "filteredAttributes":[{"key":"f","value":{"boolValue":true}}]},
      {"asDouble":0.25},
      {}]}]}},
  {"name":"h","unit":"ms","histogram":{"aggregationTemporality":1,"dataPoints":[
     {"count":"3","sum":6,"bucketCounts":["1","2","18446744073709551615"],"explicitBounds":[1,2.5],
      "min":0.5,"max":4,"timeUnixNano":"7000000","flags":1,
      "attributes":[{"key":"route","value":{"stringValue":"/a"}}],
      "exemplars":[{"asDouble":2,"spanId":"AAECAwQFBgc="}]},
     {"count":0}]}},
  {"name":"e","exponentialHistogram":{"aggregationTemporality":2,"dataPoints":[
     {"attributes":[{"key":"k","value":{"intValue":1}}],"count":"5","sum":10,"scale":-3,"zeroCount":"1","zeroThreshold":0.001,
      "positive":{"offset":-2,"bucketCounts":["1","3"]},"negative":{"bucketCounts":[]},"min":-1,"max":5,
      "timeUnixNano":"9000000","startTimeUnixNano":"8000000","flags":1}]}},
  {"name":"q","summary":{"dataPoints":[{"attributes":[{"key":"s","value":{"boolValue":false}}],"count":"4","sum":8.5,"timeUnixNano":"9000000","flags":1,
      "quantileValues":[{"quantile":0.5,"value":2},{"quantile":1,"value":"NaN"}]}]}},
  {"name":"nodata","unit":"x"}
 ]}]}]})";

DecodeOptions Opts() {
  DecodeOptions o;
  o.now_unix_nano = 1600000000123456789;
  return o;
}

DecodeResult Json(std::string_view body) {
  DecodeResult r;
  Status st = DecodeJson(Signal::kMetrics, body, Opts(), &r);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return r;
}

DecodeResult Proto(std::string_view body) {
  DecodeResult r;
  Status st = DecodeProtobuf(Signal::kMetrics, body, Opts(), &r);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return r;
}

TEST(DecodeMetrics, GaugeAndSumPoints) {
  DecodeResult r = Json(kMetricsJson);
  EXPECT_EQ(r.accepted, 8);
  EXPECT_EQ(r.rejected, 0);
  ASSERT_EQ(Rows(r, P), 4);
  EXPECT_EQ(Cell(r, P, "service_name"), "m");
  EXPECT_EQ(Cell(r, P, "scope_name"), "meter");
  EXPECT_EQ(Cell(r, P, "instrument_name"), "g");
  EXPECT_EQ(Cell(r, P, "instrument_type"), "Gauge");
  EXPECT_EQ(Cell(r, P, "unit"), "1");
  EXPECT_EQ(Cell(r, P, "description"), "gauge d");
  EXPECT_EQ(Cell(r, P, "metric_metadata_json"), R"({"m.k":1})");
  EXPECT_EQ(Cell(r, P, "aggregation_temporality"), "UNSPECIFIED");
  EXPECT_EQ(Cell(r, P, "is_monotonic"), "false");
  EXPECT_EQ(Cell(r, P, "time_unix_nano"), "1700000000000000000");
  EXPECT_EQ(Cell(r, P, "start_time_unix_nano"), "1");
  EXPECT_EQ(Cell(r, P, "value"), "-7");
  EXPECT_EQ(Cell(r, P, "value_int"), "-7");
  EXPECT_EQ(Cell(r, P, "flags"), "1");
  EXPECT_EQ(Cell(r, P, "point_attrs_json"), R"({"host":"h1","user.id":"u"})");
  EXPECT_EQ(Cell(r, P, "user_id"), "u");
  EXPECT_EQ(Cell(r, P, "exemplars_json"), "[]");
  EXPECT_EQ(Cell(r, P, "event_ts"), "1700000000000");

  EXPECT_EQ(Cell(r, P, "value", 1), "1.5");
  EXPECT_EQ(Cell(r, P, "value_int", 1), "NULL");
  EXPECT_EQ(Cell(r, P, "event_ts", 1), "1600000000000");  // start time when no time
  EXPECT_EQ(Cell(r, P, "value", 2), "NULL");
  EXPECT_EQ(Cell(r, P, "value_int", 2), "NULL");
  EXPECT_EQ(Cell(r, P, "event_ts", 2), "1600000000123");  // arrival time
  EXPECT_EQ(Cell(r, P, "metric_metadata_json", 2), R"({"m.k":1})");

  EXPECT_EQ(Cell(r, P, "instrument_name", 3), "s");
  EXPECT_EQ(Cell(r, P, "instrument_type", 3), "Sum");
  EXPECT_EQ(Cell(r, P, "aggregation_temporality", 3), "CUMULATIVE");
  EXPECT_EQ(Cell(r, P, "is_monotonic", 3), "true");
  EXPECT_EQ(Cell(r, P, "value", 3), "inf");
  EXPECT_EQ(Cell(r, P, "metric_metadata_json", 3), "{}");
  EXPECT_EQ(Cell(r, P, "exemplars_json", 3),
            R"([{"time_unix_nano":4000000,"value":3,"trace_id":"5b8efff798038103d269b633813fc60c",)"
            R"("span_id":"eee19b7ec3c1b174","filtered_attrs":{"f":true}},)"
            R"({"time_unix_nano":0,"value":0.25,"filtered_attrs":{}},)"
            R"({"time_unix_nano":0,"filtered_attrs":{}}])");
}

TEST(DecodeMetrics, HistogramExpHistogramSummary) {
  DecodeResult r = Json(kMetricsJson);
  ASSERT_EQ(Rows(r, H), 4);
  EXPECT_EQ(Cell(r, H, "instrument_name", 0), "h");
  EXPECT_EQ(Cell(r, H, "instrument_type", 0), "Histogram");
  EXPECT_EQ(Cell(r, H, "unit", 0), "ms");
  EXPECT_EQ(Cell(r, H, "aggregation_temporality", 0), "DELTA");
  EXPECT_EQ(Cell(r, H, "count", 0), "3");
  EXPECT_EQ(Cell(r, H, "sum", 0), "6");
  EXPECT_EQ(Cell(r, H, "min", 0), "0.5");
  EXPECT_EQ(Cell(r, H, "max", 0), "4");
  EXPECT_EQ(Cell(r, H, "bounds_json", 0), "[1.0,2.5]");
  EXPECT_EQ(Cell(r, H, "counts_json", 0), "[1,2,18446744073709551615]");
  EXPECT_EQ(Cell(r, H, "exp_scale", 0), "NULL");
  EXPECT_EQ(Cell(r, H, "exp_zero_count", 0), "NULL");
  EXPECT_EQ(Cell(r, H, "exp_zero_threshold", 0), "NULL");
  EXPECT_EQ(Cell(r, H, "exp_positive_json", 0), "NULL");
  EXPECT_EQ(Cell(r, H, "exp_negative_json", 0), "NULL");
  EXPECT_EQ(Cell(r, H, "quantiles_json", 0), "NULL");
  EXPECT_EQ(Cell(r, H, "flags", 0), "1");
  EXPECT_EQ(Cell(r, H, "time_unix_nano", 0), "7000000");
  EXPECT_EQ(Cell(r, H, "point_attrs_json", 0), R"({"route":"/a"})");
  EXPECT_EQ(Cell(r, H, "point_attrs_json", 1), "{}");
  EXPECT_EQ(Cell(r, H, "exemplars_json", 0),
            R"([{"time_unix_nano":0,"value":2.0,"span_id":"0001020304050607","filtered_attrs":{}}])");
  // Absent optional sum/min/max are null, not 0.
  EXPECT_EQ(Cell(r, H, "count", 1), "0");
  EXPECT_EQ(Cell(r, H, "sum", 1), "NULL");
  EXPECT_EQ(Cell(r, H, "min", 1), "NULL");
  EXPECT_EQ(Cell(r, H, "max", 1), "NULL");
  EXPECT_EQ(Cell(r, H, "bounds_json", 1), "[]");
  EXPECT_EQ(Cell(r, H, "counts_json", 1), "[]");

  EXPECT_EQ(Cell(r, H, "instrument_type", 2), "ExpHistogram");
  EXPECT_EQ(Cell(r, H, "aggregation_temporality", 2), "CUMULATIVE");
  EXPECT_EQ(Cell(r, H, "count", 2), "5");
  EXPECT_EQ(Cell(r, H, "sum", 2), "10");
  EXPECT_EQ(Cell(r, H, "min", 2), "-1");
  EXPECT_EQ(Cell(r, H, "max", 2), "5");
  EXPECT_EQ(Cell(r, H, "exp_scale", 2), "-3");
  EXPECT_EQ(Cell(r, H, "point_attrs_json", 2), R"({"k":1})");
  EXPECT_EQ(Cell(r, H, "exp_zero_count", 2), "1");
  EXPECT_EQ(Cell(r, H, "exp_zero_threshold", 2), "0.001");
  EXPECT_EQ(Cell(r, H, "exp_positive_json", 2), R"({"offset":-2,"counts":[1,3]})");
  EXPECT_EQ(Cell(r, H, "exp_negative_json", 2), R"({"offset":0,"counts":[]})");
  EXPECT_EQ(Cell(r, H, "bounds_json", 2), "NULL");
  EXPECT_EQ(Cell(r, H, "counts_json", 2), "NULL");
  EXPECT_EQ(Cell(r, H, "quantiles_json", 2), "NULL");
  EXPECT_EQ(Cell(r, H, "start_time_unix_nano", 2), "8000000");
  EXPECT_EQ(Cell(r, H, "flags", 2), "1");

  EXPECT_EQ(Cell(r, H, "instrument_type", 3), "Summary");
  EXPECT_EQ(Cell(r, H, "aggregation_temporality", 3), "UNSPECIFIED");
  EXPECT_EQ(Cell(r, H, "count", 3), "4");
  EXPECT_EQ(Cell(r, H, "sum", 3), "8.5");
  EXPECT_EQ(Cell(r, H, "min", 3), "NULL");
  EXPECT_EQ(Cell(r, H, "max", 3), "NULL");
  EXPECT_EQ(Cell(r, H, "point_attrs_json", 3), R"({"s":false})");
  EXPECT_EQ(Cell(r, H, "quantiles_json", 3),
            R"([{"q":0.5,"v":2.0},{"q":1.0,"v":{"$double":"NaN"}}])");
  EXPECT_EQ(Cell(r, H, "exemplars_json", 3), "[]");
  EXPECT_EQ(Cell(r, H, "exp_scale", 3), "NULL");
  EXPECT_EQ(Cell(r, H, "flags", 3), "1");
}

TEST(DecodeMetrics, TranscodedProtobufGivesTheSameRows) {
  auto proto = OtlpJsonToProtobuf(Signal::kMetrics, kMetricsJson);
  ASSERT_TRUE(proto.ok()) << proto.status().ToString();
  testing::ExpectSameRows(Json(kMetricsJson), Proto(*proto));
}

TEST(DecodeMetrics, UnpackedRepeatedFieldsAndOptionalPresence) {
  ProtoWriter w;
  w.BeginMessage(1);
  w.BeginMessage(2);
  w.BeginMessage(2);  // Metric
  w.String(1, "h");
  w.BeginMessage(9);  // Histogram
  w.BeginMessage(1);  // HistogramDataPoint
  w.Fixed64(6, 1);    // bucket_counts, unpacked
  const uint64_t more[] = {2, 3};
  w.PackedFixed64(6, more);  // and packed, concatenated
  w.Double(7, 0.5);          // explicit_bounds, unpacked
  const double bounds[] = {1.5};
  w.PackedDouble(7, bounds);
  w.Double(5, 0.0);          // sum present and zero
  w.Fixed64(4, 6);
  w.EndMessage();
  w.Varint(2, 2);  // temporality after the points
  w.EndMessage();
  w.EndMessage();  // Metric
  w.BeginMessage(2);
  w.String(1, "e");
  w.BeginMessage(10);
  w.BeginMessage(1);
  w.BeginMessage(8);
  w.Varint(2, 4);   // unpacked varint count
  const uint64_t packed[] = {5, 300};
  w.PackedVarint(2, packed);
  w.Sint32(1, -1);  // offset after the counts
  w.EndMessage();
  w.Sint32(6, 2);
  w.EndMessage();
  w.EndMessage();
  w.EndMessage();
  w.BeginMessage(2);  // a Sum whose value is given twice: the last one wins (oneof)
  w.String(1, "s");
  w.BeginMessage(7);
  w.BeginMessage(1);
  w.Double(4, 1.5);
  w.Sfixed64(6, -9);
  w.EndMessage();
  w.EndMessage();
  w.EndMessage();
  w.EndMessage();
  w.EndMessage();
  DecodeResult r = Proto(w.data());
  ASSERT_EQ(Rows(r, H), 2);
  EXPECT_EQ(Cell(r, H, "counts_json"), "[1,2,3]");
  EXPECT_EQ(Cell(r, H, "bounds_json"), "[0.5,1.5]");
  EXPECT_EQ(Cell(r, H, "sum"), "0");
  EXPECT_EQ(Cell(r, H, "min"), "NULL");
  EXPECT_EQ(Cell(r, H, "aggregation_temporality"), "CUMULATIVE");
  EXPECT_EQ(Cell(r, H, "exp_positive_json", 1), R"({"offset":-1,"counts":[4,5,300]})");
  EXPECT_EQ(Cell(r, H, "exp_scale", 1), "2");
  EXPECT_EQ(Cell(r, H, "sum", 1), "NULL");
  ASSERT_EQ(Rows(r, P), 1);
  EXPECT_EQ(Cell(r, P, "value"), "-9");
  EXPECT_EQ(Cell(r, P, "value_int"), "-9");
  EXPECT_EQ(Cell(r, P, "is_monotonic"), "false");
  EXPECT_EQ(Cell(r, P, "aggregation_temporality"), "UNSPECIFIED");
}

TEST(DecodeMetrics, InvalidPointsAreRejectedAlone) {
  const char* json = R"({"resourceMetrics":[{"scopeMetrics":[{"metrics":[
    {"name":"h","histogram":{"dataPoints":[{"count":"9223372036854775808"},{"count":"1"}]}},
    {"name":"e","exponentialHistogram":{"dataPoints":[{"zeroCount":"18446744073709551615"}]}},
    {"name":"g","gauge":{"dataPoints":[
      {"asInt":1,"exemplars":[{"traceId":"0102"}]},
      {"asInt":1,"exemplars":[{"spanId":"01020304050607080910"}]},
      {"asInt":1,"exemplars":[{"timeUnixNano":"9223372036854775808"}]},
      {"asInt":1,"timeUnixNano":"9223372036854775808"},
      {"asInt":1,"startTimeUnixNano":"9223372036854775808"},
      {"asInt":2}]}},
    {"name":"q","summary":{"dataPoints":[{"count":"18446744073709551615"}]}}
  ]}]}]})";
  DecodeResult r = Json(json);
  EXPECT_EQ(r.accepted, 2);
  EXPECT_EQ(r.rejected, 8);
  EXPECT_EQ(Rows(r, P), 1);
  EXPECT_EQ(Rows(r, H), 1);
  EXPECT_EQ(Cell(r, P, "value_int"), "2");
  const std::map<std::string, int64_t> want = {
      {"count exceeds int64", 2},
      {"zero_count exceeds int64", 1},
      {"exemplar trace_id must be 16 bytes, got 2", 1},
      {"exemplar span_id must be 8 bytes, got 10", 1},
      {"exemplar time_unix_nano exceeds int64", 1},
      {"time_unix_nano exceeds int64", 1},
      {"start_time_unix_nano exceeds int64", 1},
  };
  EXPECT_EQ(r.reasons, want);
  EXPECT_EQ(r.ErrorMessage(Signal::kMetrics).substr(0, 25), "rejected 8 data points: c");
  auto proto = OtlpJsonToProtobuf(Signal::kMetrics, json);
  ASSERT_TRUE(proto.ok());
  testing::ExpectSameRows(r, Proto(*proto));
}

TEST(DecodeMetrics, ExampleFileKeepsEveryField) {
  const std::string body = testing::ReadFile(testing::ExamplesDir() + "/metrics.json");
  ASSERT_FALSE(body.empty());
  DecodeResult r = Json(body);
  EXPECT_EQ(r.accepted, 4);
  ASSERT_EQ(Rows(r, P), 2);
  ASSERT_EQ(Rows(r, H), 2);
  EXPECT_EQ(Cell(r, P, "instrument_name", 0), "my.counter");
  EXPECT_EQ(Cell(r, P, "instrument_type", 0), "Sum");
  EXPECT_EQ(Cell(r, P, "description", 0), "I am a Counter");
  EXPECT_EQ(Cell(r, P, "aggregation_temporality", 0), "DELTA");
  EXPECT_EQ(Cell(r, P, "is_monotonic", 0), "true");
  EXPECT_EQ(Cell(r, P, "value", 0), "5");
  EXPECT_EQ(Cell(r, P, "value_int", 0), "NULL");
  EXPECT_EQ(Cell(r, P, "point_attrs_json", 0), R"({"my.counter.attr":"some value"})");
  EXPECT_EQ(Cell(r, P, "instrument_type", 1), "Gauge");
  EXPECT_EQ(Cell(r, P, "value", 1), "10");
  EXPECT_EQ(Cell(r, H, "instrument_type", 0), "Histogram");
  EXPECT_EQ(Cell(r, H, "counts_json", 0), "[1,1]");
  EXPECT_EQ(Cell(r, H, "bounds_json", 0), "[1.0]");
  EXPECT_EQ(Cell(r, H, "min", 0), "0");
  EXPECT_EQ(Cell(r, H, "max", 0), "2");
  EXPECT_EQ(Cell(r, H, "sum", 0), "2");
  EXPECT_EQ(Cell(r, H, "instrument_type", 1), "ExpHistogram");
  EXPECT_EQ(Cell(r, H, "exp_positive_json", 1), R"({"offset":1,"counts":[0,2]})");
  EXPECT_EQ(Cell(r, H, "exp_zero_count", 1), "1");
  EXPECT_EQ(Cell(r, H, "exp_zero_threshold", 1), "0");
  EXPECT_EQ(Cell(r, H, "description", 1), "I am an Exponential Histogram");
  auto proto = OtlpJsonToProtobuf(Signal::kMetrics, body);
  ASSERT_TRUE(proto.ok());
  testing::ExpectSameRows(r, Proto(*proto));
}

}  // namespace
}  // namespace otlake::otlp
