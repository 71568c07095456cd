// WriteDataFile gathers each row group from the batches in sort order (RowGatherer); these tests
// pin that its files are byte for byte the files of the whole-table route (BorrowAsTable ->
// SortTable -> WriteSortedTable), for every table, with nulls, several batches and many row
// groups.
#include "otlake/lake/data_file.h"

#include <arrow/api.h>
#include <arrow/io/file.h>
#include <parquet/arrow/reader.h>
#include <parquet/file_reader.h>
#include <parquet/metadata.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "otlake/lake/arrow_convert.h"
#include "otlake/lake/test_data.h"
#include "otlake/lake/test_util.h"

namespace otlake::lake {
namespace {

using table::TableId;

std::string ReadAll(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

TEST(DataFile, GatheredRowGroupsMatchSortedTableBytes) {
  testing::TempDir dir;
  for (int t = 0; t < table::kNumTables; ++t) {
    const TableId id = table::kAllTables[t];
    testing::GenOptions exotic = testing::Seeded(7 + t);
    exotic.exotic = true;
    std::vector<std::unique_ptr<table::RowBatch>> owned;
    owned.push_back(testing::MakeBatch(id, 900, testing::Seeded(1 + t)));
    owned.push_back(testing::MakeBatch(id, 1, testing::Seeded(3 + t)));
    owned.push_back(testing::MakeBatch(id, 1500, exotic));
    std::vector<const table::RowBatch*> batches;
    for (const auto& b : owned) batches.push_back(b.get());

    DataFileOptions o = DataFileOptions::Defaults(id, 1, 128 * 1024);
    o.max_row_group_rows = 700;  // four row groups, the last one short
    // Spans keep arrival order at ingest (layout.cc); gather them by trace_id here so the
    // gathered path is still checked on their schema.
    if (id == TableId::kSpans) {
      ASSERT_TRUE(o.sort_key.empty());
      o.sort_key = {"trace_id", "start_time_unix_nano", "span_id"};
    }
    ASSERT_FALSE(o.sort_key.empty()) << table::TableName(id);
    const std::string gathered = dir / (std::string(table::TableName(id)) + ".gathered.parquet");
    const std::string sorted = dir / (std::string(table::TableName(id)) + ".sorted.parquet");
    OTLAKE_ASSERT_OK_AND_ASSIGN(DataFileInfo a, WriteDataFile(batches, o, gathered));

    OTLAKE_ASSERT_OK_AND_ASSIGN(auto view, BorrowAsTable(batches, o.sort_key));
    OTLAKE_ASSERT_OK_AND_ASSIGN(auto whole, SortTable(view, o.sort_key));
    OTLAKE_ASSERT_OK_AND_ASSIGN(DataFileInfo b, WriteSortedTable(whole, o, sorted));

    EXPECT_EQ(a.row_groups, 4);
    EXPECT_EQ(a.row_groups, b.row_groups);
    EXPECT_EQ(a.bytes, b.bytes) << table::TableName(id);
    EXPECT_TRUE(ReadAll(gathered) == ReadAll(sorted)) << table::TableName(id);
  }
}

TEST(DataFile, SpansKeepArrivalOrder) {
  testing::TempDir dir;
  std::vector<std::unique_ptr<table::RowBatch>> owned;
  owned.push_back(testing::MakeBatch(TableId::kSpans, 900, testing::Seeded(21)));
  owned.push_back(testing::MakeBatch(TableId::kSpans, 300, testing::Seeded(22)));
  std::vector<const table::RowBatch*> batches;
  for (const auto& b : owned) batches.push_back(b.get());
  DataFileOptions o = DataFileOptions::Defaults(TableId::kSpans, 1, 128 * 1024);
  o.max_row_group_rows = 500;
  const std::string path = dir / "spans.parquet";
  OTLAKE_ASSERT_OK_AND_ASSIGN(DataFileInfo info, WriteDataFile(batches, o, path));
  EXPECT_EQ(info.row_groups, 3);
  auto reader = parquet::arrow::OpenFile(arrow::io::ReadableFile::Open(path).ValueOrDie(),
                                         arrow::default_memory_pool())
                    .ValueOrDie();
  auto t = reader->ReadTable().ValueOrDie()->ReplaceSchemaMetadata(nullptr);
  ASSERT_EQ(t->num_rows(), 1200);
  auto span_id = arrow::Concatenate(t->GetColumnByName("span_id")->chunks()).ValueOrDie();
  auto start = arrow::Concatenate(t->GetColumnByName("start_time_unix_nano")->chunks()).ValueOrDie();
  const auto& ids = static_cast<const arrow::StringArray&>(*span_id);
  const auto& starts = static_cast<const arrow::Int64Array&>(*start);
  int64_t row = 0;
  for (const auto& b : owned) {
    for (int64_t i = 0; i < b->num_rows(); ++i, ++row) {
      ASSERT_EQ(ids.GetView(row), b->column(table::spans::kSpanId).StringAt(i)) << row;
      ASSERT_EQ(starts.Value(row), b->column(table::spans::kStartTimeUnixNano).ints[i]) << row;
    }
  }
}

// Map keys and request-level map values reach the writer as dictionaries while they are few;
// with a distinct key on every entry and a distinct resource on every row they go as strings,
// the writer gives up its dictionary for plain pages, and every entry reads back as written.
TEST(DataFile, MapsWithMoreDistinctKeysAndValuesThanADictionaryPageReadBack) {
  testing::TempDir dir;
  const int64_t rows = 20'000;
  table::RowBatch b(TableId::kSpans);
  for (int64_t r = 0; r < rows; ++r) {
    table::AttrMap attrs, resource;
    for (int k = 0; k < 8; ++k) {
      attrs.Add("key." + std::to_string(r) + "." + std::to_string(k), "v" + std::to_string(r * 8 + k), k == 3 ? 'e' : 's');
    }
    resource.Add("service.name", "svc", 's');
    resource.Add("host.name", "host-" + std::to_string(r), 's');
    for (int c = 0; c < b.num_columns(); ++c) {
      if (c == table::spans::kSpanAttrs) {
        b.AppendMap(c, attrs);
      } else if (c == table::kResourceAttrs) {
        b.AppendMap(c, resource);
      } else {
        b.AppendNull(c);
      }
    }
    b.FinishRow();
  }
  DataFileOptions o = DataFileOptions::Defaults(TableId::kSpans, 1, 128 * 1024);
  const std::string path = dir / "spans.parquet";
  OTLAKE_ASSERT_OK_AND_ASSIGN(DataFileInfo info, WriteDataFile({&b}, o, path));
  EXPECT_GT(info.bytes, 0);
  auto reader = parquet::arrow::OpenFile(arrow::io::ReadableFile::Open(path).ValueOrDie(),
                                         arrow::default_memory_pool())
                    .ValueOrDie();
  // The key leaf fell back to plain data pages (past the dictionary page's limit).
  auto meta = reader->parquet_reader()->metadata();
  bool plain_key_pages = false;
  for (int c = 0; c < meta->num_columns(); ++c) {
    auto chunk = meta->RowGroup(0)->ColumnChunk(c);
    if (chunk->path_in_schema()->ToDotString() != "span_attrs.key_value.key") continue;
    for (const parquet::PageEncodingStats& st : chunk->encoding_stats()) {
      plain_key_pages |= st.page_type == parquet::PageType::DATA_PAGE && st.encoding == parquet::Encoding::PLAIN;
    }
  }
  EXPECT_TRUE(plain_key_pages);
  auto t = reader->ReadTable().ValueOrDie();
  ASSERT_EQ(t->num_rows(), rows);
  for (int col : {static_cast<int>(table::spans::kSpanAttrs), static_cast<int>(table::kResourceAttrs)}) {
    const table::Column& c = b.column(col);
    auto read = arrow::Concatenate(t->column(col)->chunks()).ValueOrDie();
    const auto& m = static_cast<const arrow::MapArray&>(*read);
    const auto& keys = static_cast<const arrow::StringArray&>(*m.keys());
    const auto& items = static_cast<const arrow::StringArray&>(*m.items());
    for (int64_t r = 0; r < rows; ++r) {
      ASSERT_EQ(m.value_length(r), c.MapEnd(r) - c.MapBegin(r)) << r;
      for (int64_t k = 0; k < m.value_length(r); ++k) {
        const int64_t e = m.value_offset(r) + k, src = c.MapBegin(r) + k;
        ASSERT_EQ(keys.GetView(e), c.MapKey(src)) << r;
        ASSERT_EQ(items.IsNull(e), c.val_valid[src] == 0) << r;
        if (!items.IsNull(e)) ASSERT_EQ(items.GetView(e), c.MapValue(src)) << r;
      }
    }
  }
}

TEST(RowGatherer, ReusesBuffersOnlyOnceReleased) {
  auto b1 = testing::MakeBatch(TableId::kLogs, 50, testing::Seeded(1));
  auto b2 = testing::MakeBatch(TableId::kLogs, 60, testing::Seeded(2));
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto view, BorrowAsTable({b1.get(), b2.get()}));
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto g, RowGatherer::Make(view, arrow::default_memory_pool()));
  std::vector<uint64_t> first = {109, 0, 50, 49}, second = {1, 2, 3, 4};
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto held, g->Gather(first.data(), 4));
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto next, g->Gather(second.data(), 4));
  // `held` still shows rows 109, 0, 50, 49 although `next` was gathered after it.
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto combined, view->CombineChunks());
  for (int c = 0; c < view->num_columns(); ++c) {
    auto want = combined->column(c)->chunk(0);
    for (size_t i = 0; i < first.size(); ++i) {
      OTLAKE_ASSERT_OK_AND_ASSIGN(auto got, held->column(c)->GetScalar(static_cast<int64_t>(i)));
      OTLAKE_ASSERT_OK_AND_ASSIGN(auto exp, want->GetScalar(static_cast<int64_t>(first[i])));
      EXPECT_TRUE(got->Equals(*exp)) << view->schema()->field(c)->name() << " row " << i;
      OTLAKE_ASSERT_OK_AND_ASSIGN(got, next->column(c)->GetScalar(static_cast<int64_t>(i)));
      OTLAKE_ASSERT_OK_AND_ASSIGN(exp, want->GetScalar(static_cast<int64_t>(second[i])));
      EXPECT_TRUE(got->Equals(*exp)) << view->schema()->field(c)->name() << " row " << i;
    }
  }
  std::vector<uint64_t> bad = {110};
  EXPECT_TRUE(g->Gather(bad.data(), 1).status().IsIndexError());
}

}  // namespace
}  // namespace otlake::lake
