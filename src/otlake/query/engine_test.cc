#include <gtest/gtest.h>

#include <filesystem>

#include "otlake/lake/delta_table.h"
#include "otlake/lake/test_data.h"
#include "otlake/lake/test_util.h"
#include "otlake/query/query.h"

namespace otlake::query {
namespace {

using table::TableId;

// One day of spans written by the real writer, in `files` commits.
void WriteDay(const std::string& instance, const std::string& day, int files, int64_t base_ms) {
  const std::string dir = instance + "/staging/days/" + day + "/otel/spans";
  std::filesystem::create_directories(dir);
  auto w = lake::DeltaTableWriter::Open(dir, TableId::kSpans, lake::WriterOptions{}).ValueOrDie();
  for (int i = 0; i < files; ++i) {
    lake::testing::GenOptions g = lake::testing::Seeded(i + 1);
    g.base_ms = base_ms + i * 60'000;
    auto b = lake::testing::MakeBatch(TableId::kSpans, 500, g);
    ASSERT_TRUE(w->Append({b.get()}).ok());
  }
}

TEST(QueryEngine, NewestFirstAcrossFilesAndACancelledQueryStops) {
  lake::testing::TempDir tmp;
  const int64_t base = 1'795'651'200'000;  // 2026-11-26
  WriteDay(tmp.path(), "2026-11-26", 4, base);
  QueryEngine engine(EngineOptions{tmp.path(), {}, nullptr, "", ""});
  Query q;
  q.table = TableId::kSpans;
  q.max_rows = 10;
  q.select = {table::kEventTs};
  auto rs = engine.Run(q);
  ASSERT_TRUE(rs.ok()) << rs.status();
  ASSERT_EQ(rs->rows.size(), 10u);
  for (size_t i = 1; i < rs->rows.size(); ++i) {
    EXPECT_GE(std::get<int64_t>(rs->rows[i - 1][0]), std::get<int64_t>(rs->rows[i][0]));
  }
  // The newest rows live in the newest file; older files are skipped once 10 rows are held.
  EXPECT_EQ(rs->stats.files_total, 4);
  EXPECT_EQ(rs->stats.files_read, 1);
  EXPECT_FALSE(rs->next_cursor.empty());

  int calls = 0;
  q.cancelled = [&] { return ++calls > 0; };
  auto cancelled = engine.Run(q);
  ASSERT_FALSE(cancelled.ok());
  EXPECT_TRUE(cancelled.status().IsCancelled()) << cancelled.status();
  EXPECT_EQ(calls, 1);
}

TEST(QueryEngine, SnapshotFollowsNewCommitsAndSkipsFilesByStats) {
  lake::testing::TempDir tmp;
  const int64_t base = 1'795'651'200'000;
  WriteDay(tmp.path(), "2026-11-26", 2, base);
  QueryEngine engine(EngineOptions{tmp.path(), {}, nullptr, "", ""});
  Query q;
  q.table = TableId::kSpans;
  q.max_rows = 10000;
  q.select = {table::kEventTs};
  auto a = engine.Run(q);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->rows.size(), 1000u);
  WriteDay(tmp.path(), "2026-11-27", 1, base + 86'400'000);
  auto b = engine.Run(q);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->rows.size(), 1500u);
  EXPECT_EQ(b->stats.days, 2);
  // A window that only the second day's file can hold: the others are never opened.
  q.time_ms_from = base + 86'400'000;
  auto c = engine.Run(q);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->rows.size(), 500u);
  EXPECT_EQ(c->stats.files_read, 1);
  EXPECT_EQ(c->stats.files_total, 3);
}

}  // namespace
}  // namespace otlake::query

namespace otlake::query {
namespace {

TEST(QueryEngine, ADayOfThousandsOfSmallFiles) {
  lake::testing::TempDir tmp;
  const int64_t base = 1'795'651'200'000;
  const std::string dir = tmp.path() + "/staging/days/2026-11-26/otel/spans";
  std::filesystem::create_directories(dir);
  auto w = lake::DeltaTableWriter::Open(dir, TableId::kSpans, lake::WriterOptions{}).ValueOrDie();
  constexpr int kFiles = 1500;
  std::string wanted_trace;
  for (int i = 0; i < kFiles; ++i) {
    lake::testing::GenOptions g = lake::testing::Seeded(i + 1);
    g.base_ms = base + i * 1000;
    g.window_ms = 1000;
    auto b = lake::testing::MakeBatch(TableId::kSpans, 3, g);
    if (i == 777) wanted_trace = std::string(b->column(table::spans::kTraceId).StringAt(0));
    ASSERT_TRUE(w->Append({b.get()}).ok());
  }
  QueryEngine engine(EngineOptions{tmp.path(), {}, nullptr, "", ""});
  Query q;
  q.table = TableId::kSpans;
  q.max_rows = 5;
  q.select = {table::kEventTs};
  auto rs = engine.Run(q);
  ASSERT_TRUE(rs.ok()) << rs.status();
  EXPECT_EQ(rs->rows.size(), 5u);
  EXPECT_EQ(rs->stats.files_total, kFiles);
  EXPECT_LE(rs->stats.files_read, 3);  // newest first: the rest cannot hold newer rows
  EXPECT_GE(std::get<int64_t>(rs->rows[0][0]), base + (kFiles - 1) * 1000);
  auto tr = engine.GetTrace(wanted_trace);
  ASSERT_TRUE(tr.ok()) << tr.status();
  EXPECT_GE(tr->spans.rows.size(), 1u);
  // Bloom filters and trace_id bounds leave only a few of the 1500 files to read.
  EXPECT_LE(tr->spans.stats.row_groups_read, 30) << tr->spans.stats.row_groups_read;
}

}  // namespace
}  // namespace otlake::query
