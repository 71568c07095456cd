// DeltaTableWriter end to end on a temp dir: version 0, append (file, stats, sort order, row
// groups, zstd/dictionary/statistics), nulls, txn, empty input, racing writers, checkpoints,
// and re-opening.
#include "otlake/lake/delta_table.h"

#include <arrow/api.h>
#include <arrow/io/file.h>
#include <gtest/gtest.h>
#include <parquet/arrow/reader.h>
#include <parquet/file_reader.h>
#include <parquet/metadata.h>
#include <parquet/page_index.h>
#include <parquet/statistics.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "otlake/lake/checkpoint.h"
#include "otlake/lake/delta_log.h"
#include "otlake/lake/test_data.h"
#include "otlake/lake/test_util.h"

namespace otlake::lake {
namespace {

using table::TableId;
using testing::FilesWithSuffix;
using testing::GenOptions;
using testing::MakeBatch;
using testing::ReadJsonLines;
using testing::TempDir;

constexpr int64_t kNow = 1795824123456;

WriterOptions Opts() {
  WriterOptions o;
  o.now_unix_ms = kNow;
  return o;
}

std::string LogFile(const std::string& dir, int64_t v) {
  return dir + "/_delta_log/" + CommitFileName(v);
}

std::shared_ptr<arrow::Table> ReadParquet(const std::string& path) {
  auto file = arrow::io::ReadableFile::Open(path).ValueOrDie();
  auto reader = parquet::arrow::OpenFile(file, arrow::default_memory_pool()).ValueOrDie();
  return reader->ReadTable().ValueOrDie();
}

TEST(DeltaTable, CreatesVersionZero) {
  TempDir tmp;
  const std::string dir = tmp / "days/2026-11-28/otel/spans";
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto w, DeltaTableWriter::Open(dir, TableId::kSpans, Opts()));
  EXPECT_EQ(w->version(), 0);
  EXPECT_EQ(w->TxnVersion("wal"), -1);
  auto lines = ReadJsonLines(LogFile(dir, 0));
  ASSERT_EQ(lines.size(), 3u);
  ASSERT_TRUE(lines[0].HasMember("commitInfo"));
  EXPECT_EQ(lines[0]["commitInfo"]["timestamp"].GetInt64(), kNow);
  EXPECT_STREQ(lines[0]["commitInfo"]["engineInfo"].GetString(), "otlake/" OTLAKE_VERSION);
  ASSERT_TRUE(lines[1].HasMember("protocol"));
  EXPECT_EQ(lines[1]["protocol"]["minReaderVersion"].GetInt(), 1);
  EXPECT_EQ(lines[1]["protocol"]["minWriterVersion"].GetInt(), 2);
  ASSERT_TRUE(lines[2].HasMember("metaData"));
  const auto& md = lines[2]["metaData"];
  EXPECT_EQ(std::string(md["id"].GetString()).size(), 36u);
  EXPECT_STREQ(md["format"]["provider"].GetString(), "parquet");
  EXPECT_EQ(md["format"]["options"].MemberCount(), 0u);
  EXPECT_EQ(md["schemaString"].GetString(), SchemaString(TableId::kSpans));
  EXPECT_EQ(md["partitionColumns"].Size(), 0u);
  // Stats on every column are used by readers (delta-rs and Spark default to the first 32).
  ASSERT_EQ(md["configuration"].MemberCount(), 2u);
  EXPECT_STREQ(md["configuration"]["delta.dataSkippingNumIndexedCols"].GetString(), "-1");
  EXPECT_STREQ(md["configuration"]["otlake.schemaVersion"].GetString(), "2");
  EXPECT_EQ(md["createdTime"].GetInt64(), kNow);
  // Nothing but the commit in the log: no temp files left behind.
  EXPECT_EQ(testing::FilesWithSuffix(dir + "/_delta_log", "").size(), 1u);
}

TEST(DeltaTable, AppendWritesZstdFileWithStatsInArrivalOrder) {
  TempDir tmp;
  WriterOptions o = Opts();
  o.max_row_group_rows = 1000;
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto w, DeltaTableWriter::Open(tmp.path(), TableId::kSpans, o));
  auto b1 = MakeBatch(TableId::kSpans, 3000, testing::Seeded(1));
  auto b2 = MakeBatch(TableId::kSpans, 1500, testing::Seeded(2));
  OTLAKE_ASSERT_OK_AND_ASSIGN(CommitResult r, w->Append({b1.get(), b2.get()}));
  EXPECT_EQ(r.version, 1);
  EXPECT_EQ(w->version(), 1);
  EXPECT_EQ(r.rows, 4500);
  EXPECT_TRUE(r.file.starts_with("part-00001-")) << r.file;
  EXPECT_TRUE(r.file.ends_with(".zstd.parquet")) << r.file;
  EXPECT_EQ(r.file_bytes, static_cast<int64_t>(std::filesystem::file_size(tmp / r.file)));

  int64_t min_ts = INT64_MAX, max_ts = INT64_MIN;
  std::string min_trace = "~", max_trace;
  for (const auto* b : {b1.get(), b2.get()}) {
    for (int64_t i = 0; i < b->num_rows(); ++i) {
      min_ts = std::min(min_ts, b->column(table::kEventTs).ints[i]);
      max_ts = std::max(max_ts, b->column(table::kEventTs).ints[i]);
      const std::string t(b->column(table::spans::kTraceId).StringAt(i));
      min_trace = std::min(min_trace, t);
      max_trace = std::max(max_trace, t);
    }
  }
  EXPECT_EQ(r.min_event_ts, min_ts);
  EXPECT_EQ(r.max_event_ts, max_ts);

  // The commit: commitInfo, add (no txn).
  auto lines = ReadJsonLines(LogFile(tmp.path(), 1));
  ASSERT_EQ(lines.size(), 2u);
  const auto& ci = lines[0]["commitInfo"];
  EXPECT_STREQ(ci["operation"].GetString(), "WRITE");
  EXPECT_STREQ(ci["operationParameters"]["mode"].GetString(), "Append");
  EXPECT_EQ(ci["timestamp"].GetInt64(), kNow);
  const auto& add = lines[1]["add"];
  EXPECT_EQ(add["path"].GetString(), r.file);
  EXPECT_EQ(add["size"].GetInt64(), r.file_bytes);
  EXPECT_EQ(add["modificationTime"].GetInt64(), kNow);
  EXPECT_TRUE(add["dataChange"].GetBool());
  EXPECT_EQ(add["partitionValues"].MemberCount(), 0u);
  rapidjson::Document stats;
  stats.Parse(add["stats"].GetString());
  ASSERT_FALSE(stats.HasParseError());
  EXPECT_EQ(stats["numRecords"].GetInt64(), 4500);
  EXPECT_EQ(stats["minValues"]["event_ts"].GetInt64(), min_ts);
  EXPECT_EQ(stats["maxValues"]["event_ts"].GetInt64(), max_ts);
  EXPECT_EQ(stats["minValues"]["trace_id"].GetString(), min_trace);
  EXPECT_EQ(stats["maxValues"]["trace_id"].GetString(), max_trace);
  // Every column but the attribute maps (Delta keeps no null count for a map).
  EXPECT_EQ(stats["nullCount"].MemberCount(), table::Columns(TableId::kSpans).size() - 3);

  // The file: all rows in arrival order (spans have no ingest sort key, layout.cc), row groups
  // <= 1000 rows, zstd, dictionary-encoded service_name, column statistics present.
  auto t = ReadParquet(tmp / r.file);
  ASSERT_EQ(t->num_rows(), 4500);
  ASSERT_EQ(t->num_columns(), static_cast<int>(table::Columns(TableId::kSpans).size()));
  auto trace = arrow::Concatenate(t->GetColumnByName("trace_id")->chunks()).ValueOrDie();
  const auto& tr = static_cast<const arrow::StringArray&>(*trace);
  int64_t row = 0;
  for (const auto* b : {b1.get(), b2.get()}) {
    for (int64_t i = 0; i < b->num_rows(); ++i, ++row) {
      ASSERT_EQ(tr.GetView(row), b->column(table::spans::kTraceId).StringAt(i)) << row;
    }
  }
  auto pq = parquet::ParquetFileReader::OpenFile(tmp / r.file);
  auto meta = pq->metadata();
  ASSERT_EQ(meta->num_row_groups(), 5);
  const int trace_col = meta->schema()->ColumnIndex("trace_id");
  const int svc_col = meta->schema()->ColumnIndex("service_name");
  for (int g = 0; g < meta->num_row_groups(); ++g) {
    auto rg = meta->RowGroup(g);
    EXPECT_LE(rg->num_rows(), 1000);
    for (int c = 0; c < rg->num_columns(); ++c) {
      EXPECT_EQ(rg->ColumnChunk(c)->compression(), parquet::Compression::ZSTD);
    }
    auto svc = rg->ColumnChunk(svc_col);
    EXPECT_TRUE(svc->has_dictionary_page());
    // No sort order to declare; trace_id has a bloom filter (it finds a trace in any order);
    // the non-JSON columns have a page index (column + offset index).
    EXPECT_TRUE(rg->sorting_columns().empty());
    EXPECT_TRUE(rg->ColumnChunk(trace_col)->bloom_filter_offset().has_value());
    EXPECT_FALSE(rg->ColumnChunk(svc_col)->bloom_filter_offset().has_value());
    EXPECT_TRUE(rg->ColumnChunk(trace_col)->GetColumnIndexLocation().has_value());
    EXPECT_TRUE(rg->ColumnChunk(svc_col)->GetOffsetIndexLocation().has_value());
    auto ts = rg->ColumnChunk(trace_col)->statistics();
    ASSERT_TRUE(ts && ts->HasMinMax());
  }
  // No temp files left in the table directory.
  EXPECT_EQ(FilesWithSuffix(tmp.path(), ".parquet").size(), 1u);
  for (const auto& n : FilesWithSuffix(tmp.path(), "")) EXPECT_FALSE(n.starts_with(".tmp")) << n;
}

TEST(DeltaTable, DataPagesHoldAtMost4096RowsForTraceSortedTables) {
  // span_events (sorted by trace_id): 4096-row pages, so the page index prunes a trace lookup.
  // spans (arrival order, layout.cc): pages bounded by bytes only, as many rows as fit.
  for (TableId id : {TableId::kSpanEvents, TableId::kSpans}) {
    TempDir tmp;
    OTLAKE_ASSERT_OK_AND_ASSIGN(auto w, DeltaTableWriter::Open(tmp.path(), id, Opts()));
    auto b = MakeBatch(id, 16'000);  // one row group (16384 rows at most)
    OTLAKE_ASSERT_OK_AND_ASSIGN(CommitResult r, w->Append({b.get()}));
    auto pq = parquet::ParquetFileReader::OpenFile(tmp / r.file);
    ASSERT_EQ(pq->metadata()->num_row_groups(), 1);
    auto pages = pq->GetPageIndexReader();
    ASSERT_NE(pages, nullptr);
    const int trace_col = pq->metadata()->schema()->ColumnIndex("trace_id");
    auto oi = pages->RowGroup(0)->GetOffsetIndex(trace_col);
    ASSERT_NE(oi, nullptr);
    const auto& locs = oi->page_locations();
    if (id == TableId::kSpans) {
      // 16000 trace ids of 32 hex characters (~530 KB) fit one 1 MiB page.
      EXPECT_EQ(locs.size(), 1u);
      continue;
    }
    ASSERT_GE(locs.size(), 4u);  // 16000 rows / 4096
    for (size_t p = 1; p < locs.size(); ++p) {
      EXPECT_LE(locs[p].first_row_index - locs[p - 1].first_row_index, 4096);
    }
  }
}

TEST(DeltaTable, NullsSurviveIntoFileAndStats) {
  TempDir tmp;
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto w,
                              DeltaTableWriter::Open(tmp.path(), TableId::kMetricsHist, Opts()));
  GenOptions g;
  g.exotic = true;
  auto b = MakeBatch(TableId::kMetricsHist, 400, g);
  OTLAKE_ASSERT_OK_AND_ASSIGN(CommitResult r, w->Append({b.get()}));
  auto lines = ReadJsonLines(LogFile(tmp.path(), r.version));
  rapidjson::Document stats;
  stats.Parse(lines.back()["add"]["stats"].GetString());
  auto t = ReadParquet(tmp / r.file);
  const auto defs = table::Columns(TableId::kMetricsHist);
  int nullable_seen = 0;
  for (size_t c = 0; c < defs.size(); ++c) {
    int64_t expected = 0;
    for (int64_t i = 0; i < b->num_rows(); ++i) expected += b->column(static_cast<int>(c)).IsNull(i);
    EXPECT_EQ(stats["nullCount"][defs[c].name].GetInt64(), expected) << defs[c].name;
    EXPECT_EQ(t->GetColumnByName(defs[c].name)->null_count(), expected) << defs[c].name;
    EXPECT_EQ(t->schema()->GetFieldByName(defs[c].name)->nullable(), defs[c].nullable);
    if (defs[c].nullable) {
      ++nullable_seen;
      EXPECT_GT(expected, 0) << defs[c].name;
    }
  }
  EXPECT_GT(nullable_seen, 5);
}

TEST(DeltaTable, EmptyAppendWritesNothing) {
  TempDir tmp;
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto w, DeltaTableWriter::Open(tmp.path(), TableId::kLogs, Opts()));
  auto empty = MakeBatch(TableId::kLogs, 0);
  OTLAKE_ASSERT_OK_AND_ASSIGN(CommitResult r, w->Append({}));
  EXPECT_EQ(r.version, 0);
  EXPECT_EQ(r.rows, 0);
  EXPECT_EQ(r.file, "");
  OTLAKE_ASSERT_OK_AND_ASSIGN(r, w->Append({empty.get()}, std::make_pair(std::string("wal"), 5)));
  EXPECT_EQ(r.version, 0);
  EXPECT_EQ(w->TxnVersion("wal"), -1);
  EXPECT_FALSE(std::filesystem::exists(LogFile(tmp.path(), 1)));
  EXPECT_TRUE(FilesWithSuffix(tmp.path(), ".parquet").empty());
}

TEST(DeltaTable, RejectsBatchOfAnotherTable) {
  TempDir tmp;
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto w, DeltaTableWriter::Open(tmp.path(), TableId::kLogs, Opts()));
  auto spans = MakeBatch(TableId::kSpans, 3);
  EXPECT_TRUE(w->Append({spans.get()}).status().IsInvalid());
  EXPECT_EQ(w->version(), 0);
}

TEST(DeltaTable, TxnIsCommittedWithTheAddAndMustAdvance) {
  TempDir tmp;
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto w, DeltaTableWriter::Open(tmp.path(), TableId::kLogs, Opts()));
  auto b = MakeBatch(TableId::kLogs, 10);
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto r, w->Append({b.get()}, std::make_pair(std::string("wal"), 41)));
  EXPECT_EQ(w->TxnVersion("wal"), 41);
  auto lines = ReadJsonLines(LogFile(tmp.path(), r.version));
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_STREQ(lines[1]["txn"]["appId"].GetString(), "wal");
  EXPECT_EQ(lines[1]["txn"]["version"].GetInt64(), 41);
  EXPECT_EQ(lines[1]["txn"]["lastUpdated"].GetInt64(), kNow);
  // A replay of the same (or an older) position is refused and changes nothing.
  EXPECT_TRUE(w->Append({b.get()}, std::make_pair(std::string("wal"), 41)).status().IsInvalid());
  EXPECT_TRUE(w->Append({b.get()}, std::make_pair(std::string("wal"), 3)).status().IsInvalid());
  EXPECT_EQ(w->version(), 1);
  EXPECT_EQ(FilesWithSuffix(tmp.path(), ".parquet").size(), 1u);
  // Other app ids are independent.
  OTLAKE_ASSERT_OK(w->Append({b.get()}, std::make_pair(std::string("other"), 1)).status());
  EXPECT_EQ(w->TxnVersion("other"), 1);
  EXPECT_EQ(w->TxnVersion("wal"), 41);
}

TEST(DeltaTable, SecondWriterRacingForAVersionFailsCleanly) {
  TempDir tmp;
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto w1, DeltaTableWriter::Open(tmp.path(), TableId::kLogs, Opts()));
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto w2, DeltaTableWriter::Open(tmp.path(), TableId::kLogs, Opts()));
  auto b = MakeBatch(TableId::kLogs, 20);
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto r1, w1->Append({b.get()}));
  ASSERT_EQ(r1.version, 1);
  auto before = ReadWholeFile(LogFile(tmp.path(), 1));
  ASSERT_TRUE(before.ok());

  const Status st = w2->Append({b.get()}).status();
  EXPECT_TRUE(st.IsAlreadyExists()) << st.ToString();
  EXPECT_EQ(w2->version(), 0);
  // Version 1 is untouched, w2's data file was removed, no temp files remain.
  EXPECT_EQ(*ReadWholeFile(LogFile(tmp.path(), 1)), *before);
  EXPECT_EQ(FilesWithSuffix(tmp.path(), ".parquet"), std::vector<std::string>{r1.file});
  EXPECT_EQ(FilesWithSuffix(tmp / "_delta_log", "").size(), 2u);  // 0.json, 1.json

  // Reopening catches up and continues.
  OTLAKE_ASSERT_OK_AND_ASSIGN(w2, DeltaTableWriter::Open(tmp.path(), TableId::kLogs, Opts()));
  EXPECT_EQ(w2->version(), 1);
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto r2, w2->Append({b.get()}));
  EXPECT_EQ(r2.version, 2);
}

TEST(DeltaTable, ConcurrentWritersNeverShareAVersion) {
  TempDir tmp;
  // Table creation races too: both may try to publish version 0.
  constexpr int kThreads = 4;
  std::atomic<int> go{0};
  std::atomic<int> ok{0}, conflicts{0}, other{0};
  auto b = MakeBatch(TableId::kLogs, 50);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      ++go;
      while (go.load() < kThreads) {
      }
      auto w = DeltaTableWriter::Open(tmp.path(), TableId::kLogs, Opts());
      if (!w.ok()) {
        ++other;
        return;
      }
      auto r = (*w)->Append({b.get()});
      if (r.ok()) {
        ++ok;
      } else if (r.status().IsAlreadyExists()) {
        ++conflicts;
      } else {
        ++other;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(other.load(), 0);
  EXPECT_GE(ok.load(), 1);
  EXPECT_EQ(ok.load() + conflicts.load(), kThreads);
  // Exactly one version 0 and one commit per successful append, each with a live file.
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto w, DeltaTableWriter::Open(tmp.path(), TableId::kLogs, Opts()));
  EXPECT_EQ(w->version(), ok.load());
  EXPECT_EQ(w->num_files(), ok.load());
  EXPECT_EQ(static_cast<int>(FilesWithSuffix(tmp.path(), ".parquet").size()), ok.load());
}

TEST(DeltaTable, CheckpointEveryNCommitsAndReopenResumes) {
  TempDir tmp;
  WriterOptions o = Opts();
  o.checkpoint_interval = 3;
  {
    OTLAKE_ASSERT_OK_AND_ASSIGN(auto w, DeltaTableWriter::Open(tmp.path(), TableId::kSpans, o));
    for (int i = 1; i <= 7; ++i) {
      auto b = MakeBatch(TableId::kSpans, 50, testing::Seeded(static_cast<uint64_t>(i)));
      OTLAKE_ASSERT_OK_AND_ASSIGN(auto r,
                                  w->Append({b.get()}, std::make_pair(std::string("wal"), i * 10)));
      EXPECT_EQ(r.version, i);
      OTLAKE_ASSERT_OK(w->last_checkpoint_status());
    }
  }
  const std::string log = tmp / "_delta_log";
  EXPECT_EQ(FilesWithSuffix(log, ".checkpoint.parquet"),
            (std::vector<std::string>{CheckpointFileName(3), CheckpointFileName(6)}));
  auto last = ReadWholeFile(log + "/_last_checkpoint");
  ASSERT_TRUE(last.ok());
  // protocol + metaData + 1 txn + 6 adds.
  EXPECT_EQ(*last, R"({"version":6,"size":9})");

  // The checkpoint on its own holds the state at version 6.
  OTLAKE_ASSERT_OK_AND_ASSIGN(TableState cp, ReadCheckpoint(log + "/" + CheckpointFileName(6), 6));
  EXPECT_EQ(cp.adds.size(), 6u);
  EXPECT_EQ(cp.txns.at("wal").version, 60);
  EXPECT_EQ(cp.metadata.schema_string, SchemaString(TableId::kSpans));
  EXPECT_EQ(cp.protocol.min_writer_version, 2);
  for (const auto& [path, add] : cp.adds) {
    EXPECT_TRUE(std::filesystem::exists(tmp / path)) << path;
    EXPECT_FALSE(add.stats.empty());
    EXPECT_EQ(add.size, static_cast<int64_t>(std::filesystem::file_size(tmp / path)));
  }
  // Its Parquet schema carries the standard checkpoint columns.
  auto cpt = ReadParquet(log + "/" + CheckpointFileName(6));
  for (const char* c : {"txn", "add", "remove", "metaData", "protocol"}) {
    EXPECT_NE(cpt->GetColumnByName(c), nullptr) << c;
  }
  EXPECT_EQ(cpt->num_rows(), 9);

  // Re-open rebuilds from checkpoint 6 + commit 7, even with the commits before 6 gone (as
  // after log cleanup): this proves the checkpoint alone carries the state.
  for (int v = 0; v <= 6; ++v) std::filesystem::remove(LogFile(tmp.path(), v));
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto w, DeltaTableWriter::Open(tmp.path(), TableId::kSpans, o));
  EXPECT_EQ(w->version(), 7);
  EXPECT_EQ(w->TxnVersion("wal"), 70);
  EXPECT_EQ(w->num_files(), 7);
  auto b = MakeBatch(TableId::kSpans, 5);
  EXPECT_TRUE(w->Append({b.get()}, std::make_pair(std::string("wal"), 70)).status().IsInvalid());
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto r, w->Append({b.get()}, std::make_pair(std::string("wal"), 80)));
  EXPECT_EQ(r.version, 8);
}

TEST(DeltaTable, ReopenWithoutCheckpointAndWithStaleLastCheckpoint) {
  TempDir tmp;
  WriterOptions o = Opts();
  o.checkpoint_interval = 2;
  {
    OTLAKE_ASSERT_OK_AND_ASSIGN(auto w, DeltaTableWriter::Open(tmp.path(), TableId::kLogs, o));
    for (int i = 1; i <= 5; ++i) {
      auto b = MakeBatch(TableId::kLogs, 5);
      OTLAKE_ASSERT_OK(w->Append({b.get()}, std::make_pair(std::string("a"), i)).status());
    }
  }
  // A crash between publishing checkpoint 4 and updating _last_checkpoint leaves it at 2:
  // the newer checkpoint file is still found by listing.
  const std::string log = tmp / "_delta_log";
  std::filesystem::remove(log + "/_last_checkpoint");
  ASSERT_TRUE(WriteFileDurable(log + "/_last_checkpoint", EncodeLastCheckpoint(2, 5)).ok());
  {
    OTLAKE_ASSERT_OK_AND_ASSIGN(auto w, DeltaTableWriter::Open(tmp.path(), TableId::kLogs, o));
    EXPECT_EQ(w->version(), 5);
    EXPECT_EQ(w->TxnVersion("a"), 5);
    EXPECT_EQ(w->num_files(), 5);
  }
  // With no checkpoint at all, the JSON commits alone rebuild the same state.
  for (const auto& n : FilesWithSuffix(log, ".checkpoint.parquet")) std::filesystem::remove(log + "/" + n);
  std::filesystem::remove(log + "/_last_checkpoint");
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto w, DeltaTableWriter::Open(tmp.path(), TableId::kLogs, o));
  EXPECT_EQ(w->version(), 5);
  EXPECT_EQ(w->TxnVersion("a"), 5);
  EXPECT_EQ(w->num_files(), 5);
}

TEST(DeltaTable, OpenRejectsGapsAndForeignSchemas) {
  TempDir tmp;
  {
    OTLAKE_ASSERT_OK_AND_ASSIGN(auto w, DeltaTableWriter::Open(tmp.path(), TableId::kLogs, Opts()));
    auto b = MakeBatch(TableId::kLogs, 5);
    for (int i = 0; i < 3; ++i) OTLAKE_ASSERT_OK(w->Append({b.get()}).status());
  }
  // The logs table is not a spans table.
  EXPECT_TRUE(DeltaTableWriter::Open(tmp.path(), TableId::kSpans, Opts()).status().IsInvalid());
  // A missing commit in the middle is a broken table, not an older version.
  std::filesystem::remove(LogFile(tmp.path(), 2));
  auto st = DeltaTableWriter::Open(tmp.path(), TableId::kLogs, Opts()).status();
  EXPECT_TRUE(st.IsInvalid()) << st.ToString();
}

TEST(DeltaTable, FailedCheckpointDoesNotFailTheCommitAndIsRetried) {
  TempDir tmp;
  WriterOptions o = Opts();
  o.checkpoint_interval = 2;
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto w, DeltaTableWriter::Open(tmp.path(), TableId::kLogs, o));
  auto b = MakeBatch(TableId::kLogs, 5);
  OTLAKE_ASSERT_OK(w->Append({b.get()}).status());
  // Block the checkpoint by occupying its name with a directory.
  std::filesystem::create_directory(tmp / ("_delta_log/" + CheckpointFileName(2)));
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto r, w->Append({b.get()}));
  EXPECT_EQ(r.version, 2);
  EXPECT_FALSE(w->last_checkpoint_status().ok());
  std::filesystem::remove(tmp / ("_delta_log/" + CheckpointFileName(2)));
  OTLAKE_ASSERT_OK(w->Append({b.get()}).status());
  OTLAKE_ASSERT_OK(w->last_checkpoint_status());
  EXPECT_TRUE(std::filesystem::exists(tmp / ("_delta_log/" + CheckpointFileName(3))));
}

}  // namespace
}  // namespace otlake::lake
