// Delta log encoding and replay: file names, schemaString, action round trips through
// ApplyCommit, tolerance of foreign actions, and _last_checkpoint.
#include "otlake/lake/delta_log.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

namespace otlake::lake {
namespace {

TEST(DeltaLog, FileNames) {
  EXPECT_EQ(CommitFileName(0), "00000000000000000000.json");
  EXPECT_EQ(CommitFileName(123), "00000000000000000123.json");
  EXPECT_EQ(CheckpointFileName(10), "00000000000000000010.checkpoint.parquet");
  int64_t v = -1;
  EXPECT_TRUE(ParseCommitFileName("00000000000000000042.json", &v));
  EXPECT_EQ(v, 42);
  EXPECT_FALSE(ParseCommitFileName("0000000000000000042.json", &v));
  EXPECT_FALSE(ParseCommitFileName("00000000000000000042.json.tmp", &v));
  EXPECT_FALSE(ParseCommitFileName("00000000000000000042.checkpoint.parquet", &v));
  EXPECT_FALSE(ParseCommitFileName("0000000000000000004x.json", &v));
  EXPECT_TRUE(ParseCheckpointFileName("00000000000000000010.checkpoint.parquet", &v));
  EXPECT_EQ(v, 10);
  EXPECT_FALSE(ParseCheckpointFileName("_last_checkpoint", &v));
}

TEST(DeltaLog, SchemaStringListsEveryColumnWithDeltaTypes) {
  for (table::TableId id : table::kAllTables) {
    rapidjson::Document d;
    d.Parse(SchemaString(id).c_str());
    ASSERT_FALSE(d.HasParseError());
    EXPECT_STREQ(d["type"].GetString(), "struct");
    const auto defs = table::Columns(id);
    ASSERT_EQ(d["fields"].Size(), defs.size());
    for (size_t i = 0; i < defs.size(); ++i) {
      const auto& f = d["fields"][static_cast<rapidjson::SizeType>(i)];
      EXPECT_STREQ(f["name"].GetString(), defs[i].name);
      EXPECT_EQ(f["nullable"].GetBool(), defs[i].nullable);
      const std::string t = f["type"].GetString();
      switch (defs[i].type) {
        case table::ColType::kString: EXPECT_EQ(t, "string"); break;
        case table::ColType::kInt64: EXPECT_EQ(t, "long"); break;
        case table::ColType::kDouble: EXPECT_EQ(t, "double"); break;
        case table::ColType::kBool: EXPECT_EQ(t, "boolean"); break;
      }
      EXPECT_TRUE(f["metadata"].IsObject());
    }
  }
}

TEST(DeltaLog, ActionsRoundTripThroughReplay) {
  Metadata md;
  md.id = "5f0c8e3e-0000-4000-8000-000000000001";
  md.schema_string = SchemaString(table::TableId::kLogs);
  md.created_time = 1234;
  md.configuration["k"] = "v";
  AddFile add;
  add.path = "part-00001-x.zstd.parquet";
  add.size = 99;
  add.modification_time = 5;
  add.stats = R"({"numRecords":3,"minValues":{"s":"a\"b"}})";
  Txn txn{"wal", 17, 5};
  const std::string commit0 = EncodeCommitInfo(1, "CREATE TABLE", {}, true) + "\n" +
                              EncodeProtocol({}) + "\n" + EncodeMetadata(md) + "\n";
  const std::string commit1 = EncodeCommitInfo(2, "WRITE", {{"mode", "Append"}}, true) + "\n" +
                              EncodeTxn(txn) + "\n" + EncodeAdd(add) + "\n";
  TableState s;
  ASSERT_TRUE(ApplyCommit(commit0, 0, &s).ok());
  ASSERT_TRUE(ApplyCommit(commit1, 1, &s).ok());
  EXPECT_EQ(s.version, 1);
  ASSERT_TRUE(s.has_protocol && s.has_metadata);
  EXPECT_EQ(s.protocol.min_reader_version, 1);
  EXPECT_EQ(s.protocol.min_writer_version, 2);
  EXPECT_EQ(s.metadata.id, md.id);
  EXPECT_EQ(s.metadata.schema_string, md.schema_string);
  EXPECT_EQ(s.metadata.created_time, 1234);
  EXPECT_EQ(s.metadata.configuration.at("k"), "v");
  EXPECT_EQ(s.metadata.format_provider, "parquet");
  ASSERT_EQ(s.adds.size(), 1u);
  const AddFile& a = s.adds.begin()->second;
  EXPECT_EQ(a.path, add.path);
  EXPECT_EQ(a.size, 99);
  EXPECT_EQ(a.stats, add.stats);  // the escaped JSON string survives
  EXPECT_EQ(s.txns.at("wal").version, 17);
  EXPECT_EQ(s.txns.at("wal").last_updated, 5);

  // A remove written by another engine drops the file; unknown actions are ignored.
  const std::string commit2 =
      R"({"remove":{"path":"part-00001-x.zstd.parquet","deletionTimestamp":9,"dataChange":true}})"
      "\n"
      R"({"domainMetadata":{"domain":"x","configuration":"{}","removed":false}})"
      "\n";
  ASSERT_TRUE(ApplyCommit(commit2, 2, &s).ok());
  EXPECT_TRUE(s.adds.empty());
  EXPECT_EQ(s.removes.at("part-00001-x.zstd.parquet").deletion_timestamp, 9);
}

TEST(DeltaLog, BadLineIsInvalid) {
  TableState s;
  const Status st = ApplyCommit("{\"commitInfo\":{}}\nnot json\n", 3, &s);
  EXPECT_TRUE(st.IsInvalid()) << st.ToString();
}

TEST(DeltaLog, LastCheckpoint) {
  EXPECT_EQ(EncodeLastCheckpoint(20, 7), R"({"version":20,"size":7})");
  auto v = ParseLastCheckpoint(R"({"version":20,"size":7,"sizeInBytes":100})");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, 20);
  EXPECT_FALSE(ParseLastCheckpoint("{}").ok());
  EXPECT_FALSE(ParseLastCheckpoint("garbage").ok());
}

}  // namespace
}  // namespace otlake::lake
