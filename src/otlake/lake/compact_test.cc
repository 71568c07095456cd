#include <arrow/api.h>
#include <arrow/compute/api.h>
#include <arrow/io/file.h>
#include <gtest/gtest.h>
#include <parquet/arrow/reader.h>
#include <parquet/file_reader.h>
#include <parquet/metadata.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <filesystem>

#include "otlake/lake/arrow_convert.h"
#include "otlake/lake/delta_log.h"
#include "otlake/lake/delta_table.h"
#include "otlake/lake/delta_table_internal.h"
#include "otlake/lake/layout.h"
#include "otlake/lake/test_data.h"
#include "otlake/lake/test_util.h"

namespace otlake::lake {
namespace {

using table::TableId;

std::shared_ptr<arrow::Table> ReadFile(const std::string& path) {
  auto file = arrow::io::ReadableFile::Open(path).ValueOrDie();
  auto reader = parquet::arrow::OpenFile(file, arrow::default_memory_pool()).ValueOrDie();
  return reader->ReadTable().ValueOrDie();
}

// Every row of the table's live files, as one table sorted by every column that identifies a
// row (so two tables with the same rows compare equal whatever their file order).
std::shared_ptr<arrow::Table> LiveRows(const std::string& dir, const std::vector<std::string>& live) {
  std::vector<std::shared_ptr<arrow::Table>> parts;
  for (const auto& f : live) {
    parts.push_back(ReadFile(dir + "/" + f)->ReplaceSchemaMetadata(nullptr));
  }
  auto all = arrow::ConcatenateTables(parts).ValueOrDie();
  return SortTable(all, {"trace_id", "span_id", "start_time_unix_nano"}).ValueOrDie()->CombineChunks().ValueOrDie();
}

std::vector<std::string> LiveFiles(const std::string& dir) {
  TableState s;
  for (int64_t v = 0; std::filesystem::exists(dir + "/_delta_log/" + CommitFileName(v)); ++v) {
    auto body = ReadWholeFile(dir + "/_delta_log/" + CommitFileName(v)).ValueOrDie();
    EXPECT_TRUE(ApplyCommit(body, v, &s).ok());
  }
  std::vector<std::string> out;
  for (const auto& [p, _] : s.adds) out.push_back(p);
  return out;
}

TEST(Compact, MergesSmallFilesIntoOneFileWithTheSameRowsInCommitOrder) {
  OTLAKE_ASSERT_OK(EnsureArrowComputeInitialized());
  testing::TempDir tmp;
  const std::string dir = tmp / "spans";
  WriterOptions wo;
  wo.checkpoint_interval = 5;
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto w, DeltaTableWriter::Open(dir, TableId::kSpans, wo));
  int64_t min_ts = INT64_MAX, max_ts = INT64_MIN;
  for (int i = 0; i < 12; ++i) {
    testing::GenOptions g = testing::Seeded(10 + i);
    g.base_ms += i * 60'000;
    g.exotic = i % 3 == 0;  // nulls, unicode and long strings: stats merging must cope
    auto b = testing::MakeBatch(TableId::kSpans, 300 + i, g);
    OTLAKE_ASSERT_OK_AND_ASSIGN(auto r, w->Append({b.get()}, std::make_pair(std::string("wal"), i + 1)));
    min_ts = std::min(min_ts, r.min_event_ts);
    max_ts = std::max(max_ts, r.max_event_ts);
  }
  auto before = LiveRows(dir, LiveFiles(dir));
  // Spans have no sort key at ingest (layout.cc): the merged file holds the inputs' rows in
  // commit order (file names carry the commit sequence, so LiveFiles lists them in that order).
  std::vector<std::shared_ptr<arrow::Table>> inputs;
  for (const auto& f : LiveFiles(dir)) inputs.push_back(ReadFile(dir + "/" + f)->ReplaceSchemaMetadata(nullptr));
  auto in_commit_order = arrow::ConcatenateTables(inputs).ValueOrDie()->CombineChunks().ValueOrDie();

  CompactOptions co;
  co.min_files = 13;
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto none, w->Compact(co));
  EXPECT_EQ(none.version, -1);  // fewer candidates than min_files: nothing happens
  EXPECT_EQ(w->num_files(), 12);

  co.min_files = 8;
  co.max_input_rows = 10 * 1000;  // all of them
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto r, w->Compact(co));
  EXPECT_EQ(r.version, 13);
  EXPECT_EQ(r.files_in, 12);
  EXPECT_EQ(r.files_out, 1);
  EXPECT_EQ(r.rows, before->num_rows());
  EXPECT_EQ(w->num_files(), 1);
  EXPECT_EQ(w->TxnVersion("wal"), 12);  // the WAL position survives the rewrite

  // The commit: OPTIMIZE, 12 removes (dataChange=false), one add with merged stats.
  auto lines = testing::ReadJsonLines(dir + "/_delta_log/" + CommitFileName(13));
  ASSERT_EQ(lines.size(), 14u);
  EXPECT_STREQ(lines[0]["commitInfo"]["operation"].GetString(), "OPTIMIZE");
  for (int i = 1; i <= 12; ++i) EXPECT_FALSE(lines[i]["remove"]["dataChange"].GetBool());
  const auto& add = lines[13]["add"];
  EXPECT_FALSE(add["dataChange"].GetBool());
  rapidjson::Document st;
  st.Parse(add["stats"].GetString());
  EXPECT_EQ(st["numRecords"].GetInt64(), before->num_rows());
  EXPECT_EQ(st["minValues"]["event_ts"].GetInt64(), min_ts);
  EXPECT_EQ(st["maxValues"]["event_ts"].GetInt64(), max_ts);
  // Null counts add up to the real number of nulls in the merged rows.
  auto merged = ReadFile(dir + "/" + add["path"].GetString());
  for (int c = 0; c < merged->num_columns(); ++c) {
    const std::string name = merged->schema()->field(c)->name();
    EXPECT_EQ(st["nullCount"][name.c_str()].GetInt64(), merged->column(c)->null_count()) << name;
  }
  // String bounds: the merged min/max equal the real ones (service_name is short enough).
  auto mm = arrow::compute::MinMax(merged->GetColumnByName("service_name")).ValueOrDie();
  auto sc = mm.scalar_as<arrow::StructScalar>();
  EXPECT_EQ(st["minValues"]["service_name"].GetString(), sc.value[0]->ToString());
  EXPECT_EQ(st["maxValues"]["service_name"].GetString(), sc.value[1]->ToString());

  // Same rows, in commit order.
  auto after = LiveRows(dir, LiveFiles(dir));
  EXPECT_TRUE(after->Equals(*before));
  EXPECT_TRUE(merged->ReplaceSchemaMetadata(nullptr)->CombineChunks().ValueOrDie()->Equals(*in_commit_order));

  // A reopened writer sees the compacted state (through the checkpoint at 10 and commits after).
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto w2, DeltaTableWriter::Open(dir, TableId::kSpans, wo));
  EXPECT_EQ(w2->num_files(), 1);
  EXPECT_EQ(w2->version(), 13);
  EXPECT_EQ(w2->TxnVersion("wal"), 12);
}

TEST(Compact, MergedFilesAreNotMergedAgainAndTheOldestGoFirst) {
  OTLAKE_ASSERT_OK(EnsureArrowComputeInitialized());
  testing::TempDir tmp;
  const std::string dir = tmp / "spans";
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto w, DeltaTableWriter::Open(dir, TableId::kSpans, WriterOptions{}));
  auto append = [&](int n, int seed) {
    for (int i = 0; i < n; ++i) {
      auto b = testing::MakeBatch(TableId::kSpans, 300, testing::Seeded(seed + i));
      ASSERT_TRUE(w->Append({b.get()}).ok());
    }
  };
  append(8, 1);
  const auto first_eight = LiveFiles(dir);
  append(3, 100);  // newer small files, left alone by a run bounded to the 8 oldest
  CompactOptions co;
  co.min_files = 8;
  co.target_file_rows = 4000;  // candidates: < 2000 rows
  co.max_input_rows = 2400;
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto r, w->Compact(co));
  EXPECT_EQ(r.files_in, 8);
  auto live = LiveFiles(dir);
  EXPECT_EQ(live.size(), 4u);
  for (const auto& f : first_eight) EXPECT_EQ(std::count(live.begin(), live.end(), f), 0) << f;
  std::string merged;
  for (const auto& f : live) {
    if (ReadFile(dir + "/" + f)->num_rows() == 2400) merged = f;
  }
  ASSERT_FALSE(merged.empty());
  append(5, 200);  // 8 small files again: they merge, the 2400-row file stays as it is
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto r2, w->Compact(co));
  EXPECT_EQ(r2.files_in, 8);
  live = LiveFiles(dir);
  EXPECT_EQ(live.size(), 2u);
  EXPECT_EQ(std::count(live.begin(), live.end(), merged), 1);
}

TEST(Compact, OldFilesStayForTheRetentionThenGo) {
  OTLAKE_ASSERT_OK(EnsureArrowComputeInitialized());
  testing::TempDir tmp;
  const std::string dir = tmp / "logs";
  WriterOptions wo;
  wo.now_unix_ms = 1'800'000'000'000;
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto w, DeltaTableWriter::Open(dir, TableId::kLogs, wo));
  for (int i = 0; i < 4; ++i) {
    auto b = testing::MakeBatch(TableId::kLogs, 50, testing::Seeded(i + 1));
    OTLAKE_ASSERT_OK_AND_ASSIGN(auto r, w->Append({b.get()}));
    (void)r;
  }
  const auto old_files = LiveFiles(dir);
  CompactOptions co;
  co.min_files = 4;
  co.retention_ms = 60'000;
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto r, w->Compact(co));
  EXPECT_EQ(r.files_in, 4);
  for (const auto& f : old_files) EXPECT_TRUE(std::filesystem::exists(dir + "/" + f)) << f;
  // Within the retention, a further run deletes nothing (and has too few files to compact).
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto r2, w->Compact(co));
  EXPECT_EQ(r2.files_deleted, 0);
  EXPECT_EQ(r2.version, -1);
  // After it, the removed files go; the live one stays.
  WriterOptions later = wo;
  later.now_unix_ms += 61'000;
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto w2, DeltaTableWriter::Open(dir, TableId::kLogs, later));
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto r3, w2->Compact(co));
  EXPECT_EQ(r3.files_deleted, 4);
  for (const auto& f : old_files) EXPECT_FALSE(std::filesystem::exists(dir + "/" + f)) << f;
  for (const auto& f : LiveFiles(dir)) EXPECT_TRUE(std::filesystem::exists(dir + "/" + f)) << f;
}

// Row-group sizes of the Parquet file at `path`, from its footer.
std::vector<int64_t> RowGroupRows(const std::string& path) {
  auto reader = parquet::ParquetFileReader::OpenFile(path, /*memory_map=*/false);
  std::vector<int64_t> out;
  for (int g = 0; g < reader->metadata()->num_row_groups(); ++g) {
    out.push_back(reader->metadata()->RowGroup(g)->num_rows());
  }
  return out;
}

TEST(Compact, AByteCapLimitsHowManyFilesOneRunTakes) {
  OTLAKE_ASSERT_OK(EnsureArrowComputeInitialized());
  testing::TempDir tmp;
  const std::string dir = tmp / "spans";
  WriterOptions wo;
  wo.now_unix_ms = 1'800'000'000'000;  // one modification time: commit (path) order decides
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto w, DeltaTableWriter::Open(dir, TableId::kSpans, wo));
  for (int i = 0; i < 10; ++i) {
    auto b = testing::MakeBatch(TableId::kSpans, 300, testing::Seeded(70 + i));
    OTLAKE_ASSERT_OK(w->Append({b.get()}).status());
  }
  std::vector<std::string> files = LiveFiles(dir);
  std::sort(files.begin(), files.end());  // part-<version>-…: commit order
  std::vector<int64_t> bytes;
  for (const auto& f : files) {
    OTLAKE_ASSERT_OK_AND_ASSIGN(int64_t b, UncompressedBytes(dir + "/" + f));
    EXPECT_GT(b, 0);
    bytes.push_back(b);
  }
  CompactOptions co;
  co.min_files = 8;
  co.max_input_bytes = bytes[0] + bytes[1] + bytes[2] + bytes[3] / 2;  // room for 3.5 files
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto r, w->Compact(co));
  EXPECT_EQ(r.files_in, 3);
  EXPECT_EQ(r.rows, 900);
  EXPECT_EQ(r.uncompressed_bytes_in, bytes[0] + bytes[1] + bytes[2]);
  auto live = LiveFiles(dir);
  EXPECT_EQ(live.size(), 8u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(std::count(live.begin(), live.end(), files[i]), 0) << files[i];

  // A cap below one file still merges two (progress), and no cap takes every candidate.
  co.max_input_bytes = 1;
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto r2, w->Compact(co));
  EXPECT_EQ(r2.files_in, 2);
  co.max_input_bytes = 0;
  co.min_files = 2;
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto r3, w->Compact(co));
  EXPECT_EQ(r3.files_in, 7);  // 5 flushes left + the two merged files (900 and 600 rows)
  EXPECT_EQ(w->num_files(), 1);
}

TEST(Compact, MergedFileIsTheSortedUnionRowForRowAcrossRowGroups) {
  OTLAKE_ASSERT_OK(EnsureArrowComputeInitialized());
  for (TableId id : {TableId::kSpans, TableId::kLogs}) {
    testing::TempDir tmp;
    const std::string dir = tmp / "t";
    WriterOptions wo;
    wo.max_row_group_rows = 100;  // several output row groups
    OTLAKE_ASSERT_OK_AND_ASSIGN(auto w, DeltaTableWriter::Open(dir, id, wo));
    std::vector<std::shared_ptr<arrow::Table>> inputs;
    for (int i = 0; i < 9; ++i) {
      testing::GenOptions g = testing::Seeded(90 + i);
      g.base_ms += i * 1000;
      g.exotic = i % 4 == 1;
      auto b = testing::MakeBatch(id, 150 + 7 * i, g);
      OTLAKE_ASSERT_OK_AND_ASSIGN(auto c, w->Append({b.get()}));
      inputs.push_back(ReadFile(dir + "/" + c.file)->ReplaceSchemaMetadata(nullptr));
    }
    // What the merge must give: every input row, ordered by the table's sort key (SortTable is
    // the stable sort every ingest file was written with) or, without one, in commit order.
    auto all = arrow::ConcatenateTables(inputs).ValueOrDie();
    // Spans have no sort key: their inputs' rows in commit order.
    auto expected = SortKey(id).empty() ? all->CombineChunks().ValueOrDie()
                                        : SortTable(all, SortKey(id)).ValueOrDie()->CombineChunks().ValueOrDie();
    CompactOptions co;
    co.min_files = 9;
    OTLAKE_ASSERT_OK_AND_ASSIGN(auto r, w->Compact(co));
    ASSERT_EQ(r.files_in, 9);
    auto live = LiveFiles(dir);
    ASSERT_EQ(live.size(), 1u);
    auto merged = ReadFile(dir + "/" + live[0])->ReplaceSchemaMetadata(nullptr)->CombineChunks().ValueOrDie();
    EXPECT_EQ(merged->num_rows(), expected->num_rows());
    EXPECT_TRUE(merged->Equals(*expected)) << table::TableName(id);
    const std::vector<int64_t> groups = RowGroupRows(dir + "/" + live[0]);
    EXPECT_EQ(static_cast<int64_t>(groups.size()), (expected->num_rows() + 99) / 100);
    for (size_t g = 0; g + 1 < groups.size(); ++g) EXPECT_EQ(groups[g], 100);
  }
}

}  // namespace
}  // namespace otlake::lake
