#include <gtest/gtest.h>

#include "otlake/query/query.h"

namespace otlake::query {
namespace {

using table::TableId;
using Params = std::vector<std::pair<std::string, std::string>>;

constexpr int64_t kNow = 1'700'000'000'000;

Result<Query> Parse(TableId t, const Params& p) { return ParseQuery(t, p, kNow, QueryLimits{}); }

int Col(TableId t, std::string_view name) {
  auto cols = table::Columns(t);
  for (size_t i = 0; i < cols.size(); ++i) {
    if (name == cols[i].name) return static_cast<int>(i);
  }
  return -1;
}

TEST(ParseQuery, DefaultsToTheLast24HoursNewestFirst) {
  auto q = Parse(TableId::kSpans, {});
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(q->time_ms_from, kNow - 86'400'000);
  EXPECT_FALSE(q->time_ms_to);
  EXPECT_FALSE(q->day_from);
  EXPECT_EQ(q->max_rows, 100);
  EXPECT_FALSE(q->ascending);
}

TEST(ParseQuery, DatesReplaceTheDefaultWindowAndSwap) {
  auto q = Parse(TableId::kLogs, {{"date_from", "2026-11-22"}, {"date_to", "2026-11-20"}});
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_FALSE(q->time_ms_from);
  EXPECT_LT(*q->day_from, *q->day_to);
  auto one = Parse(TableId::kLogs, {{"date_to", "2026-11-20"}});
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->day_from, one->day_to);
}

TEST(ParseQuery, ComparisonsComeFromTheKeySuffixOrAnEmbeddedOperator) {
  // "duration_ms>=5" arrives as key "duration_ms>" value "5"; "x>5" as key "x>5" value "".
  auto q = Parse(TableId::kSpans, {{"duration_ms>", "5"}, {"duration_ms<", "9"}, {"name!", "a"},
                                   {"flags>1", ""}, {"flags<7", ""}, {"kind", "span_kind_client"}});
  ASSERT_TRUE(q.ok()) << q.status();
  ASSERT_EQ(q->filters.size(), 6u);
  EXPECT_EQ(q->filters[0].op, Op::kGe);
  EXPECT_EQ(q->filters[1].op, Op::kLe);
  EXPECT_EQ(q->filters[2].op, Op::kNe);
  EXPECT_EQ(q->filters[3].op, Op::kGt);
  EXPECT_EQ(q->filters[3].value, "1");
  EXPECT_EQ(q->filters[3].column, Col(TableId::kSpans, "flags"));
  EXPECT_EQ(q->filters[4].op, Op::kLt);
  EXPECT_EQ(q->filters[5].value, "CLIENT");
}

TEST(ParseQuery, LikeWithWildcardsIsAnchoredElseSubstring) {
  auto q = Parse(TableId::kLogs, {{"body_like", "a%"}, {"severity_text_like", "ERR"}});
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(q->filters[0].op, Op::kLike);
  EXPECT_EQ(q->filters[1].op, Op::kContains);
}

TEST(ParseQuery, AttributeMapsAreSelectedByTheirJsonNameAndNotFilteredWhole) {
  auto q = Parse(TableId::kSpans, {{"select", "name,span_attrs_json,resource_attrs"}});
  ASSERT_TRUE(q.ok()) << q.status();
  ASSERT_EQ(q->select.size(), 3u);
  EXPECT_EQ(q->select[1], Col(TableId::kSpans, "span_attrs"));
  EXPECT_EQ(q->select[2], Col(TableId::kSpans, "resource_attrs"));
  EXPECT_EQ(ApiColumnName(TableId::kSpans, q->select[1]), "span_attrs_json");
  // The type letters are not an API column; a whole map is not a filter.
  EXPECT_TRUE(Parse(TableId::kSpans, {{"select", "span_attrs_types"}}).status().IsInvalid());
  auto whole = Parse(TableId::kSpans, {{"span_attrs_json", "{}"}});
  ASSERT_TRUE(whole.status().IsInvalid());
  EXPECT_NE(whole.status().message().find("attr.<key>"), std::string::npos) << whole.status();
}

TEST(ParseQuery, AttributeFiltersPickTheTablesAttributeColumn) {
  auto q = Parse(TableId::kMetricsPoints, {{"attr.http.route", "/a"}, {"resource.k8s.pod.name", "p"},
                                           {"scope.x>", "1.5"}});
  ASSERT_TRUE(q.ok()) << q.status();
  ASSERT_EQ(q->attr_filters.size(), 3u);
  EXPECT_EQ(q->attr_filters[0].column, Col(TableId::kMetricsPoints, "point_attrs"));
  EXPECT_EQ(q->attr_filters[0].key, "http.route");
  EXPECT_EQ(q->attr_filters[1].column, Col(TableId::kMetricsPoints, "resource_attrs"));
  EXPECT_EQ(q->attr_filters[2].op, Op::kGe);
}

TEST(ParseQuery, IdsAreNormalisedToLowercase) {
  auto q = Parse(TableId::kSpans, {{"trace_id", "0AF7651916CD43DD8448EB211C80319C"}});
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(q->filters[0].value, "0af7651916cd43dd8448eb211c80319c");
}

TEST(ParseQuery, ErrorsNameTheParameter) {
  struct Case {
    TableId t;
    Params p;
    const char* word;
  } cases[] = {
      {TableId::kSpans, {{"nope", "1"}}, "'nope'"},
      {TableId::kSpans, {{"select", "name,bogus"}}, "'bogus'"},
      {TableId::kSpans, {{"max_rows", "0"}}, "max_rows"},
      {TableId::kSpans, {{"max_rows", "10001"}}, "max_rows"},
      {TableId::kSpans, {{"date_from", "2026-13-01"}}, "date_from"},
      {TableId::kSpans, {{"time_ms_from", "x"}}, "time_ms_from"},
      {TableId::kSpans, {{"time_ms_from", "9"}, {"time_ms_to", "1"}}, "time_ms_from"},
      {TableId::kSpans, {{"trace_id", "abc"}}, "trace_id"},
      {TableId::kSpans, {{"span_id", "zzzzzzzzzzzzzzzz"}}, "span_id"},
      {TableId::kSpans, {{"duration_ms", "fast"}}, "duration_ms"},
      {TableId::kSpans, {{"flags", "1.5"}}, "flags"},
      {TableId::kSpans, {{"storage", "tape"}}, "storage"},
      {TableId::kSpans, {{"order", "up"}}, "order"},
      {TableId::kSpans, {{"cursor", "12"}}, "cursor"},
      {TableId::kSpans, {{"attr.", "x"}}, "attr."},
      {TableId::kSpans, {{"attr.n>", "many"}}, "attr.n"},
      {TableId::kSpans, {{"severity_ge", "3"}}, "severity_ge"},  // logs only
      {TableId::kLogs, {{"severity_ge", "high"}}, "severity_ge"},
      {TableId::kMetricsPoints, {{"is_monotonic", "yes"}}, "is_monotonic"},
      {TableId::kMetricsPoints, {{"is_monotonic>", "true"}}, "is_monotonic"},
      {TableId::kSpans, {{"select>", "name"}}, "select"},
      {TableId::kSpans, {{"duration_ms_like", "1%"}}, "not a string"},
  };
  for (const Case& c : cases) {
    auto q = Parse(c.t, c.p);
    ASSERT_FALSE(q.ok()) << c.p[0].first;
    EXPECT_TRUE(q.status().IsInvalid());
    EXPECT_NE(q.status().message().find(c.word), std::string::npos) << q.status().message();
  }
}

}  // namespace
}  // namespace otlake::query
