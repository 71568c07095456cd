// Stats correctness: numRecords, nullCount for every column, min/max rules (NaN, ±Inf, long
// strings, unicode order, stats flag), computed across several batches.
#include "otlake/lake/stats.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <cmath>
#include <limits>

#include "otlake/lake/test_data.h"

namespace otlake::lake {
namespace {

using table::TableId;
namespace mp = table::metrics_points;

rapidjson::Document Parse(const std::string& s) {
  rapidjson::Document d;
  d.Parse(s.c_str());
  EXPECT_FALSE(d.HasParseError()) << s;
  return d;
}

// A metrics_points row with the given value/value_int/service/name; other columns plain.
void AddPoint(table::RowBatch& b, std::optional<double> value, std::optional<int64_t> value_int,
              const std::string& service, const std::string& instrument, int64_t ts) {
  const auto defs = table::Columns(TableId::kMetricsPoints);
  for (int c = 0; c < static_cast<int>(defs.size()); ++c) {
    switch (c) {
      case table::kServiceName: b.AppendString(c, service); continue;
      case table::kEventTs: b.AppendInt(c, ts); continue;
      case mp::kInstrumentName: b.AppendString(c, instrument); continue;
      case mp::kValue:
        value ? b.AppendDouble(c, *value) : b.AppendNull(c);
        continue;
      case mp::kValueInt:
        value_int ? b.AppendInt(c, *value_int) : b.AppendNull(c);
        continue;
      default: break;
    }
    switch (defs[c].type) {
      case table::ColType::kString: b.AppendString(c, "x"); break;
      case table::ColType::kInt64: b.AppendInt(c, 7); break;
      case table::ColType::kDouble: b.AppendDouble(c, 1.5); break;
      case table::ColType::kBool: b.AppendBool(c, true); break;
    }
  }
  b.FinishRow();
}

TEST(Stats, CountsNullsAndBoundsAcrossBatches) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  table::RowBatch a(TableId::kMetricsPoints), b(TableId::kMetricsPoints);
  AddPoint(a, 2.5, std::nullopt, "cart", "m1", 1000);
  AddPoint(a, nan, 5, "ad", "m2", 900);
  AddPoint(b, -1.25, -7, "shipping", "m0", 2000);
  AddPoint(b, std::nullopt, std::nullopt, "cart", "m3", 1500);

  const FileStats s = ComputeStats(TableId::kMetricsPoints, {&a, &b});
  EXPECT_EQ(s.num_records, 4);
  EXPECT_EQ(s.min_event_ts, 900);
  EXPECT_EQ(s.max_event_ts, 2000);
  auto d = Parse(s.json);
  EXPECT_EQ(d["numRecords"].GetInt64(), 4);
  // nullCount: every column present; only the nullable ones count.
  const auto defs = table::Columns(TableId::kMetricsPoints);
  ASSERT_EQ(d["nullCount"].MemberCount(), defs.size() - 3);  // not the 3 attribute maps
  EXPECT_EQ(d["nullCount"]["value"].GetInt64(), 1);
  EXPECT_EQ(d["nullCount"]["value_int"].GetInt64(), 2);
  EXPECT_EQ(d["nullCount"]["service_name"].GetInt64(), 0);
  // NaN is skipped; nulls are skipped.
  EXPECT_EQ(d["minValues"]["value"].GetDouble(), -1.25);
  EXPECT_EQ(d["maxValues"]["value"].GetDouble(), 2.5);
  EXPECT_EQ(d["minValues"]["value_int"].GetInt64(), -7);
  EXPECT_EQ(d["maxValues"]["value_int"].GetInt64(), 5);
  EXPECT_STREQ(d["minValues"]["service_name"].GetString(), "ad");
  EXPECT_STREQ(d["maxValues"]["service_name"].GetString(), "shipping");
  EXPECT_EQ(d["minValues"]["event_ts"].GetInt64(), 900);
  // Numeric columns always get bounds, even with stats=false (start_time_unix_nano).
  EXPECT_TRUE(d["minValues"].HasMember("start_time_unix_nano"));
  // String columns with stats=false get none (unit, point_attrs_types); bools and maps get none,
  // maps no null count either.
  EXPECT_FALSE(d["minValues"].HasMember("unit"));
  EXPECT_FALSE(d["maxValues"].HasMember("point_attrs_types"));
  EXPECT_FALSE(d["maxValues"].HasMember("point_attrs"));
  EXPECT_FALSE(d["nullCount"].HasMember("point_attrs"));
  EXPECT_FALSE(d["minValues"].HasMember("is_monotonic"));
}

TEST(Stats, TruncatedRowsLeaveNoTraceInDictionaryColumnBounds) {
  // service_name is a dictionary column; a truncated row's entry stays in the dictionary
  // (RowBatch::Truncate) but must not widen the bounds.
  table::RowBatch b(TableId::kMetricsPoints);
  AddPoint(b, 1.0, std::nullopt, "svc-m", "i", 1000);
  AddPoint(b, 2.0, std::nullopt, "svc-n", "i", 1001);
  AddPoint(b, 3.0, std::nullopt, "svc-a", "i", 1002);  // truncated below
  AddPoint(b, 4.0, std::nullopt, "svc-z", "i", 1003);  // truncated below
  b.Truncate(2);
  auto d = Parse(ComputeStats(TableId::kMetricsPoints, {&b}).json);
  EXPECT_EQ(d["numRecords"].GetInt64(), 2);
  EXPECT_STREQ(d["minValues"]["service_name"].GetString(), "svc-m");
  EXPECT_STREQ(d["maxValues"]["service_name"].GetString(), "svc-n");
  EXPECT_EQ(d["maxValues"]["event_ts"].GetInt64(), 1001);
}

TEST(Stats, AllNanOrInfiniteBoundsAreOmitted) {
  const double inf = std::numeric_limits<double>::infinity();
  table::RowBatch a(TableId::kMetricsPoints);
  AddPoint(a, std::numeric_limits<double>::quiet_NaN(), 1, "s", "m", 1);
  auto d = Parse(ComputeStats(TableId::kMetricsPoints, {&a}).json);
  EXPECT_FALSE(d["minValues"].HasMember("value"));
  EXPECT_FALSE(d["maxValues"].HasMember("value"));

  table::RowBatch b(TableId::kMetricsPoints);
  AddPoint(b, -inf, 1, "s", "m", 1);
  AddPoint(b, 3.0, 1, "s", "m", 1);
  auto e = Parse(ComputeStats(TableId::kMetricsPoints, {&b}).json);
  EXPECT_FALSE(e["minValues"].HasMember("value"));  // -inf has no JSON form
  EXPECT_EQ(e["maxValues"]["value"].GetDouble(), 3.0);
}

TEST(Stats, LongStringsTruncateMinAndOmitMax) {
  // "é" is two bytes; a 64-byte cut in the middle of it must back up to a character boundary.
  const std::string long_min = std::string(63, 'a') + "é" + "zzz";  // 68 bytes
  const std::string long_max = std::string(70, 'z');
  table::RowBatch a(TableId::kMetricsPoints);
  AddPoint(a, 1, 1, long_min, "m", 1);
  AddPoint(a, 1, 1, "m-short", "m", 1);
  AddPoint(a, 1, 1, long_max, "m", 1);
  auto d = Parse(ComputeStats(TableId::kMetricsPoints, {&a}).json);
  const std::string min = d["minValues"]["service_name"].GetString();
  EXPECT_EQ(min, std::string(63, 'a'));
  EXPECT_LE(min, long_min);
  EXPECT_FALSE(d["maxValues"].HasMember("service_name"));
  // Other columns still have their bounds.
  EXPECT_TRUE(d["maxValues"].HasMember("instrument_name"));
}

TEST(Stats, StringOrderIsUtf8ByteOrder) {
  table::RowBatch a(TableId::kMetricsPoints);
  AddPoint(a, 1, 1, "zeta", "m", 1);
  AddPoint(a, 1, 1, "Ωmega", "m", 1);  // U+03A9 sorts after ASCII
  AddPoint(a, 1, 1, "日本", "m", 1);
  auto d = Parse(ComputeStats(TableId::kMetricsPoints, {&a}).json);
  EXPECT_STREQ(d["minValues"]["service_name"].GetString(), "zeta");
  EXPECT_STREQ(d["maxValues"]["service_name"].GetString(), "日本");
}

TEST(Stats, Utf8Prefix) {
  EXPECT_EQ(Utf8Prefix("abc", 5), "abc");
  EXPECT_EQ(Utf8Prefix("abcdef", 3), "abc");
  EXPECT_EQ(Utf8Prefix("ab日本", 4), "ab");   // 日 is 3 bytes: cut at 4 backs up to 2
  EXPECT_EQ(Utf8Prefix("ab日本", 5), "ab日");
  EXPECT_EQ(Utf8Prefix("🚀x", 2), "");
}

TEST(Stats, GeneratedTablesHaveConsistentStats) {
  for (table::TableId id : table::kAllTables) {
    testing::GenOptions o;
    o.exotic = true;
    auto b = testing::MakeBatch(id, 500, o);
    const FileStats s = ComputeStats(id, {b.get()});
    auto d = Parse(s.json);
    EXPECT_EQ(d["numRecords"].GetInt64(), 500);
    size_t maps = 0;
    for (const auto& c : table::Columns(id)) maps += c.type == table::ColType::kMap;
    EXPECT_EQ(d["nullCount"].MemberCount(), table::Columns(id).size() - maps);
    EXPECT_LE(d["minValues"]["event_ts"].GetInt64(), d["maxValues"]["event_ts"].GetInt64());
  }
}

}  // namespace
}  // namespace otlake::lake
