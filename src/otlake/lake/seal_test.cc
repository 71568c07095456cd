// DeltaTableWriter::Seal: rows kept, files merged and sealed, one checkpoint, nothing else left,
// idempotent, resumable after an interruption, and readable by the snapshot loader and by
// independent readers' view of the log (checkpoint only).
#include <arrow/api.h>
#include <arrow/io/file.h>
#include <gtest/gtest.h>
#include <parquet/arrow/reader.h>
#include <parquet/file_reader.h>
#include <parquet/metadata.h>
#include <parquet/page_index.h>

#include <filesystem>

#include "otlake/lake/arrow_convert.h"
#include "otlake/lake/checkpoint.h"
#include "otlake/lake/delta_log.h"
#include "otlake/lake/delta_table.h"
#include "otlake/lake/delta_table_internal.h"
#include "otlake/lake/fs_util.h"
#include "otlake/lake/snapshot.h"
#include "otlake/lake/test_data.h"
#include "otlake/lake/test_util.h"

namespace otlake::lake {
namespace {

using table::TableId;

std::vector<std::string> Names(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

Result<TableState> Load(const std::string& dir) {
  LogSource src;
  src.log_dir = dir + "/_delta_log";
  src.list = [&] { return ListDir(dir + "/_delta_log"); };
  src.read = [&](const std::string& n, bool* missing) { return ReadWholeFile(dir + "/_delta_log/" + n, missing); };
  return LoadTableState(src);
}

TEST(Seal, MergesEverythingKeepsRowsAndLeavesOnlyWhatTheCheckpointNeeds) {
  testing::TempDir tmp;
  const std::string dir = tmp / "spans";
  WriterOptions wo;
  wo.checkpoint_interval = 4;
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto w, DeltaTableWriter::Open(dir, TableId::kSpans, wo));
  int64_t rows = 0;
  for (int i = 0; i < 9; ++i) {
    testing::GenOptions g = testing::Seeded(40 + i);
    g.base_ms += i * 60'000;
    auto b = testing::MakeBatch(TableId::kSpans, 200 + i, g);
    rows += b->num_rows();
    OTLAKE_ASSERT_OK(w->Append({b.get()}, std::make_pair(std::string("otlake-wal"), i + 1)).status());
  }
  // Some files compacted during the day already, plus a stray temp file from a crash.
  CompactOptions co;
  co.min_files = 3;
  co.max_input_rows = 700;
  OTLAKE_ASSERT_OK(w->Compact(co).status());
  OTLAKE_ASSERT_OK(WriteFileDurable(dir + "/.tmp-part-99999-junk.zstd.parquet", "x"));

  SealOptions so;
  so.target_file_rows = 1000;  // several sealed files
  int64_t last_done = -1, calls = 0;
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto r, w->Seal(so, [&](int64_t done, int64_t total) {
    EXPECT_EQ(total, rows);
    EXPECT_GT(done, last_done);
    last_done = done;
    ++calls;
  }));
  EXPECT_EQ(r.rows, rows);
  EXPECT_EQ(last_done, rows);
  EXPECT_GE(calls, 2);
  EXPECT_GE(r.files, 2);  // runs of at most 1000 rows
  EXPECT_LE(r.files, 3);
  EXPECT_GE(r.files_deleted, 9);  // every pre-seal data file and the temp file
  EXPECT_EQ(w->TxnVersion("otlake-wal"), 9);  // the WAL position survives sealing

  // On disk: the sealed files and a log of exactly one commit, its checkpoint, _last_checkpoint.
  int sealed = 0;
  for (const auto& n : Names(dir)) {
    if (n == "_delta_log") continue;
    EXPECT_TRUE(n.find(".sealed.zstd.parquet") != std::string::npos) << n;
    ++sealed;
  }
  EXPECT_EQ(sealed, r.files);
  EXPECT_EQ(Names(dir + "/_delta_log"),
            (std::vector<std::string>{CheckpointFileName(r.version), CommitFileName(r.version), "_last_checkpoint"}));
  OTLAKE_ASSERT_OK_AND_ASSIGN(int64_t lc, ParseLastCheckpoint(ReadWholeFile(dir + "/_delta_log/_last_checkpoint").ValueOrDie()));
  EXPECT_EQ(lc, r.version);

  // The checkpoint alone gives the table: live files, no tombstones, the txn.
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto cp, ReadCheckpoint(dir + "/_delta_log/" + CheckpointFileName(r.version), r.version));
  EXPECT_EQ(static_cast<int64_t>(cp.adds.size()), r.files);
  EXPECT_TRUE(cp.removes.empty());
  EXPECT_EQ(cp.txns.at("otlake-wal").version, 9);
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto st, Load(dir));
  EXPECT_EQ(st.version, r.version);
  EXPECT_EQ(st.adds.size(), cp.adds.size());

  // Idempotent: nothing left to rewrite, same version, nothing deleted.
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto again, w->Seal(so));
  EXPECT_EQ(again.version, r.version);
  EXPECT_EQ(again.files_rewritten, 0);
  EXPECT_EQ(again.files_deleted, 0);
  EXPECT_EQ(again.rows, rows);

  // A reopened writer sees the sealed table (what WAL recovery and the shipper do).
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto w2, DeltaTableWriter::Open(dir, TableId::kSpans, wo));
  EXPECT_EQ(w2->version(), r.version);
  EXPECT_EQ(w2->TxnVersion("otlake-wal"), 9);
}

TEST(Seal, AFileWhoseRowsDisagreeWithItsStatsFailsTheSeal) {
  testing::TempDir tmp;
  const std::string dir = tmp / "logs";
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto w, DeltaTableWriter::Open(dir, TableId::kLogs, {}));
  auto b = testing::MakeBatch(TableId::kLogs, 50, testing::Seeded(3));
  OTLAKE_ASSERT_OK(w->Append({b.get()}).status());
  OTLAKE_ASSERT_OK(w->Seal({}).status());
  // Swap a sealed file for one with other rows (same name): the footer check must notice.
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto st, Load(dir));
  const std::string victim = dir + "/" + st.adds.begin()->first;
  testing::TempDir other;
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto w3, DeltaTableWriter::Open(other / "logs", TableId::kLogs, {}));
  auto b2 = testing::MakeBatch(TableId::kLogs, 7, testing::Seeded(4));
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto c, w3->Append({b2.get()}));
  std::filesystem::copy_file(other / ("logs/" + c.file), victim, std::filesystem::copy_options::overwrite_existing);
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto w4, DeltaTableWriter::Open(dir, TableId::kLogs, {}));
  auto res = w4->Seal({});
  ASSERT_FALSE(res.ok());
  EXPECT_NE(res.status().message().find("holds 7 rows but the Delta log says 50"), std::string::npos)
      << res.status().ToString();
}

std::shared_ptr<arrow::Table> ReadFile(const std::string& path) {
  auto file = arrow::io::ReadableFile::Open(path).ValueOrDie();
  auto reader = parquet::arrow::OpenFile(file, arrow::default_memory_pool()).ValueOrDie();
  return reader->ReadTable().ValueOrDie()->ReplaceSchemaMetadata(nullptr);
}

TEST(Seal, SealedFileIsTheSortedUnionRowForRowAcrossRowGroupsWithTheSealLayout) {
  OTLAKE_ASSERT_OK(EnsureArrowComputeInitialized());
  testing::TempDir tmp;
  const std::string dir = tmp / "spans";
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto w, DeltaTableWriter::Open(dir, TableId::kSpans, {}));
  std::vector<std::shared_ptr<arrow::Table>> inputs;
  for (int i = 0; i < 6; ++i) {
    testing::GenOptions g = testing::Seeded(120 + i);
    g.base_ms += (5 - i) * 1000;  // later files hold earlier spans: the seal reorders them
    g.exotic = i == 2;
    auto b = testing::MakeBatch(TableId::kSpans, 140 + 11 * i, g);
    OTLAKE_ASSERT_OK_AND_ASSIGN(auto c, w->Append({b.get()}));
    inputs.push_back(ReadFile(dir + "/" + c.file));
  }
  const std::vector<std::string> key = SealLayoutFor(TableId::kSpans).sort_key;
  auto expected = SortTable(arrow::ConcatenateTables(inputs).ValueOrDie(), key).ValueOrDie()->CombineChunks().ValueOrDie();
  SealOptions so;
  so.max_row_group_rows = 64;
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto r, w->Seal(so));
  ASSERT_EQ(r.files, 1);
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto st, Load(dir));
  const std::string path = dir + "/" + st.adds.begin()->first;
  auto sealed = ReadFile(path)->CombineChunks().ValueOrDie();
  EXPECT_EQ(sealed->num_rows(), expected->num_rows());
  EXPECT_TRUE(sealed->Equals(*expected));
  auto reader = parquet::ParquetFileReader::OpenFile(path, /*memory_map=*/false);
  auto md = reader->metadata();
  EXPECT_EQ(md->num_row_groups(), (expected->num_rows() + 63) / 64);
  // The seal layout survives row-group-at-a-time writing: delta-encoded times, no dictionary.
  const int start = md->schema()->ColumnIndex("start_time_unix_nano");
  ASSERT_GE(start, 0);
  for (int g = 0; g < md->num_row_groups(); ++g) {
    EXPECT_LE(md->RowGroup(g)->num_rows(), 64);
    const auto enc = md->RowGroup(g)->ColumnChunk(start)->encodings();
    EXPECT_NE(std::find(enc.begin(), enc.end(), parquet::Encoding::DELTA_BINARY_PACKED), enc.end());
    EXPECT_FALSE(md->RowGroup(g)->ColumnChunk(start)->has_dictionary_page());
  }
  // span_id: delta lengths, no dictionary; the span attribute values: no dictionary; the JSON
  // and type-letter columns and the maps' value leaves: no min/max statistics or page index.
  const int span_id = md->schema()->ColumnIndex("span_id");
  const int attrs = md->schema()->ColumnIndex("span_attrs.key_value.value");
  const int trace_id = md->schema()->ColumnIndex("trace_id");
  ASSERT_GE(span_id, 0);
  ASSERT_GE(attrs, 0);
  ASSERT_GE(trace_id, 0);
  const auto enc = md->RowGroup(0)->ColumnChunk(span_id)->encodings();
  EXPECT_NE(std::find(enc.begin(), enc.end(), parquet::Encoding::DELTA_LENGTH_BYTE_ARRAY), enc.end());
  EXPECT_FALSE(md->RowGroup(0)->ColumnChunk(attrs)->has_dictionary_page());
  const int keys = md->schema()->ColumnIndex("span_attrs.key_value.key");
  ASSERT_GE(keys, 0);
  EXPECT_TRUE(md->RowGroup(0)->ColumnChunk(keys)->has_dictionary_page());
  auto page_index = reader->GetPageIndexReader();
  ASSERT_NE(page_index, nullptr);
  auto rg_index = page_index->RowGroup(0);
  ASSERT_NE(rg_index, nullptr);
  for (int c = 0; c < md->num_columns(); ++c) {
    const std::string name = md->schema()->Column(c)->path()->ToDotString();
    const bool json = name.ends_with("_json") || name.ends_with("_attrs_types") ||
                      name.ends_with(".key_value.value");
    const auto cc = md->RowGroup(0)->ColumnChunk(c);
    EXPECT_EQ(cc->is_stats_set(), !json) << name;
    EXPECT_EQ(rg_index->GetColumnIndex(c) != nullptr, !json) << name;
  }
}

TEST(Seal, AByteBoundSplitsSealedFiles) {
  testing::TempDir tmp;
  const std::string dir = tmp / "logs";
  WriterOptions wo;
  wo.now_unix_ms = 1'800'000'000'000;
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto w, DeltaTableWriter::Open(dir, TableId::kLogs, wo));
  int64_t rows = 0, max_bytes = 0;
  for (int i = 0; i < 6; ++i) {
    testing::GenOptions g = testing::Seeded(150 + i);
    g.base_ms += i * 1000;
    auto b = testing::MakeBatch(TableId::kLogs, 100, g);
    rows += b->num_rows();
    OTLAKE_ASSERT_OK_AND_ASSIGN(auto c, w->Append({b.get()}));
    OTLAKE_ASSERT_OK_AND_ASSIGN(int64_t bytes, UncompressedBytes(dir + "/" + c.file));
    max_bytes = std::max(max_bytes, bytes);
  }
  SealOptions so;
  so.max_file_bytes = 2 * max_bytes;  // at most two inputs per sealed file; rows do not bind
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto r, w->Seal(so));
  EXPECT_EQ(r.rows, rows);
  EXPECT_EQ(r.files_rewritten, 6);
  EXPECT_EQ(r.files, 3);
}

TEST(Seal, RejectsBadOptions) {
  testing::TempDir tmp;
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto w, DeltaTableWriter::Open(tmp / "spans", TableId::kSpans, {}));
  SealOptions so;
  so.zstd_level = 0;
  EXPECT_TRUE(w->Seal(so).status().IsInvalid());
  so.zstd_level = 3;
  so.target_file_rows = 0;
  EXPECT_TRUE(w->Seal(so).status().IsInvalid());
  so.target_file_rows = 10;
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto empty, w->Seal(so));  // a table with no rows seals too
  EXPECT_EQ(empty.rows, 0);
  EXPECT_EQ(empty.files, 0);
}

}  // namespace
}  // namespace otlake::lake
