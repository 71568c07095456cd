// The archive writer against a real WAL (wal::WalWriter in a temp dir) and a local
// arrow::fs filesystem standing in for S3: batching, the cursor and its pending batch (a failed
// write retried under the same keys), the backlog limit and its gap, and the marshalers.
#include "otlake/archive/writer.h"

#include <arrow/filesystem/localfs.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>

#include "otlake/archive/filter.h"
#include "otlake/archive/marshal.h"
#include "otlake/archive/object.h"
#include "otlake/common/file_util.h"
#include "otlake/ingest/record.h"
#include "otlake/otlp/json_to_proto.h"
#include "otlake/wal/tail_reader.h"
#include "otlake/wal/wal_writer.h"

namespace otlake::archive {
namespace {

namespace fs = std::filesystem;

std::string TraceJson(int i) {
  char id[17];
  std::snprintf(id, sizeof id, "%016x", i + 1);
  return std::string(R"({"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"svc"}}]},)"
                     R"("scopeSpans":[{"scope":{"name":"lib"},"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":")") +
         id + R"(","name":"span-)" + std::to_string(i) +
         R"(","kind":2,"startTimeUnixNano":"1750860547000000000","endTimeUnixNano":"1750860548000000000",)"
         R"("attributes":[{"key":"n","value":{"intValue":")" + std::to_string(i) + R"("}}]}]}]}]})";
}
std::string LogJson(int i) {
  return R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":"1750860547000000000","body":{"stringValue":"log-)" +
         std::to_string(i) + R"("}}]}]}]})";
}

class WriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("otlake_archive_writer_" + std::to_string(::getpid()) + "_" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_ / "bucket");
    wal::WalOptions wo;
    wo.dir = (root_ / "wal").string();
    wo.segment_bytes = segment_bytes_;
    wo.recycle_segments = 0;
    wal_ = wal::WalWriter::Open(wo, 1).ValueOrDie();
  }
  void TearDown() override {
    writer_.reset();
    if (wal_) (void)wal_->Close();
    fs::remove_all(root_);
  }
  // Logs one request (JSON for even i as protobuf, odd as JSON: both body formats) and syncs it.
  int64_t Log(otlp::Signal s, const std::string& json, int i) {
    ingest::Record r;
    r.signal = s;
    std::string proto = otlp::OtlpJsonToProtobuf(s, json).ValueOrDie();
    r.format = i % 2 == 0 ? ingest::BodyFormat::kProtobuf : ingest::BodyFormat::kJson;
    r.body = i % 2 == 0 ? std::string_view(proto) : std::string_view(json);
    r.arrival_unix_nano = (now_ms_ - 5000) * 1000000;
    r.project_id = "default";
    std::string payload;
    ingest::EncodeRecord(r, &payload);
    const int64_t lsn = wal_->Append(payload).ValueOrDie();
    EXPECT_TRUE(wal_->SyncUpTo(lsn).ok());
    return lsn;
  }
  ArchiveWriterOptions Options() {
    ArchiveWriterOptions o;
    o.layout.marshaler = Marshaler::kOtlpProto;
    o.layout.compression = Compression::kZstd;
    o.layout.s3_prefix = "arch";
    o.fs = std::make_shared<arrow::fs::LocalFileSystem>();
    o.create_dirs = true;
    o.bucket = (root_ / "bucket").string();
    o.wal_dir = (root_ / "wal").string();
    o.state_dir = (root_ / "state").string();
    o.durable_lsn = [this] { return wal_->durable_lsn(); };
    o.now_ms = [this] { return now_ms_; };
    o.retry_base_ms = 10;
    return o;
  }
  // Every object under the bucket: key -> decoded span names / log bodies (from its JSON form).
  std::map<std::string, std::vector<std::string>> Objects() {
    std::map<std::string, std::vector<std::string>> out;
    const fs::path bucket = root_ / "bucket";
    if (!fs::exists(bucket)) return out;
    for (const auto& e : fs::recursive_directory_iterator(bucket)) {
      if (!e.is_regular_file()) continue;
      const std::string key = fs::relative(e.path(), bucket).string();
      std::string bytes = ReadFile(e.path().string()).ValueOrDie();
      auto obj = DecodeObject(key, bytes, {});
      EXPECT_TRUE(obj.ok()) << key << ": " << obj.status().ToString();
      if (!obj.ok()) continue;
      for (const Document& d : obj->documents) {
        const auto sig = static_cast<otlp::Signal>(obj->name.signal);
        std::string json = d.content_type == kJsonContentType
                               ? d.body
                               : otlp::OtlpProtobufToJson(sig, d.body).ValueOrDie();
        static const std::regex re(R"re("(span-\d+|log-\d+)")re");
        for (std::sregex_iterator it(json.begin(), json.end(), re), end; it != end; ++it) {
          out[key].push_back((*it)[1]);
        }
      }
    }
    return out;
  }
  std::multiset<std::string> AllNames() {
    std::multiset<std::string> all;
    for (const auto& [k, v] : Objects()) all.insert(v.begin(), v.end());
    return all;
  }

  fs::path root_;
  int64_t segment_bytes_ = 64 << 20;
  int64_t now_ms_ = 1750860600000;  // 2025-06-25T14:10:00Z
  std::unique_ptr<wal::WalWriter> wal_;
  std::unique_ptr<ArchiveWriter> writer_;
};

TEST(Marshal, UuidV7IsDeterministicAndWellFormed) {
  const std::string a = ArchiveUuidV7(1750860547123, 42, Signal::kTraces, 1, 10);
  EXPECT_EQ(a, ArchiveUuidV7(1750860547123, 42, Signal::kTraces, 1, 10));
  EXPECT_TRUE(std::regex_match(a, std::regex("[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"))) << a;
  EXPECT_EQ(a.substr(0, 13), "0197a76b-c433");  // 1750860547123 ms = 0x197a76bc433
  EXPECT_NE(a, ArchiveUuidV7(1750860547123, 42, Signal::kLogs, 1, 10));
  EXPECT_NE(a, ArchiveUuidV7(1750860547123, 42, Signal::kTraces, 1, 11));
  EXPECT_NE(a, ArchiveUuidV7(1750860547123, 43, Signal::kTraces, 1, 10));
}

TEST(Marshal, EveryMarshalerAndCompressionDecodesToTheSameRequest) {
  const std::string p1 = otlp::OtlpJsonToProtobuf(otlp::Signal::kTraces, TraceJson(1)).ValueOrDie();
  const std::string p2 = otlp::OtlpJsonToProtobuf(otlp::Signal::kTraces, TraceJson(2)).ValueOrDie();
  const std::string both = p1 + p2;
  for (Marshaler m : {Marshaler::kOtlpJson, Marshaler::kOtlpProto}) {
    for (Compression c : {Compression::kNone, Compression::kGzip, Compression::kZstd}) {
      std::string storage;
      const std::string body(MarshalObject(Signal::kTraces, both, m, c, 0, &storage).ValueOrDie());
      const std::string key = "x/traces_1." + std::string(MarshalerExtension(m)) + std::string(CompressionSuffix(c));
      auto obj = DecodeObject(key, body, {});
      ASSERT_TRUE(obj.ok()) << key << ": " << obj.status().ToString();
      ASSERT_EQ(obj->documents.size(), 1u);
      const Document& d = obj->documents[0];
      const std::string proto = d.content_type == kJsonContentType
                                    ? otlp::OtlpJsonToProtobuf(otlp::Signal::kTraces, d.body).ValueOrDie()
                                    : d.body;
      EXPECT_EQ(proto, both) << key;  // field for field: the same protobuf bytes
      if (m == Marshaler::kOtlpJson) {
        EXPECT_EQ(d.body.find("\n"), std::string::npos);  // one document, not JSON lines
        EXPECT_NE(d.body.find(R"("traceId":"5b8efff798038103d269b633813fc60c")"), std::string::npos);
        EXPECT_NE(d.body.find(R"("startTimeUnixNano":"1750860547000000000")"), std::string::npos);
        EXPECT_NE(d.body.find(R"("intValue":"2")"), std::string::npos);
      }
    }
  }
  EXPECT_EQ(ContentEncoding(Compression::kGzip), "gzip");
  EXPECT_EQ(ContentEncoding(Compression::kZstd), "zstd");
  EXPECT_EQ(ContentEncoding(Compression::kNone), "");
}

// Decodes `proto` and returns (accepted, rejected).
std::pair<int64_t, int64_t> Count(otlp::Signal s, const std::string& proto) {
  otlp::DecodeResult r;
  EXPECT_TRUE(otlp::DecodeProtobuf(s, proto, {}, &r).ok());
  return {r.accepted, r.rejected};
}

TEST(Filter, KeepsExactlyTheAcceptedRecords) {
  // Two resources; span b has a 7-byte span id; the second resource only a bad span.
  const std::string traces =
      R"({"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"a"}}]},)"
      R"("scopeSpans":[{"scope":{"name":"s1"},"spans":[)"
      R"({"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"a"},)"
      R"({"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b1","name":"b"},)"
      R"({"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b175","name":"c"}]}]},)"
      R"({"resource":{},"scopeSpans":[{"spans":[{"traceId":"5b8e","spanId":"eee19b7ec3c1b176","name":"d"}]}]}]})";
  const std::string want_json =
      R"({"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"a"}}]},)"
      R"("scopeSpans":[{"scope":{"name":"s1"},"spans":[)"
      R"({"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"a"},)"
      R"({"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b175","name":"c"}]}]}]})";
  const std::string proto = otlp::OtlpJsonToProtobuf(otlp::Signal::kTraces, traces).ValueOrDie();
  EXPECT_EQ(Count(otlp::Signal::kTraces, proto), std::make_pair(int64_t{2}, int64_t{2}));
  for (bool json : {false, true}) {
    const std::string kept =
        AcceptedRecordsOnly(otlp::Signal::kTraces, json ? traces : proto, json).ValueOrDie();
    EXPECT_EQ(Count(otlp::Signal::kTraces, kept), std::make_pair(int64_t{2}, int64_t{0}));
    EXPECT_EQ(kept, otlp::OtlpJsonToProtobuf(otlp::Signal::kTraces, want_json).ValueOrDie());
  }
  // Metrics: a gauge point whose exemplar has a bad span id goes; its sibling and the sum stay.
  const std::string metrics =
      R"({"resourceMetrics":[{"scopeMetrics":[{"metrics":[)"
      R"({"name":"g","gauge":{"dataPoints":[{"asInt":"1","timeUnixNano":"1"},)"
      R"({"asInt":"2","timeUnixNano":"1","exemplars":[{"spanId":"ee","asInt":"1"}]}]}},)"
      R"({"name":"s","sum":{"aggregationTemporality":2,"isMonotonic":true,"dataPoints":[{"asDouble":1.5,"timeUnixNano":"1"}]}},)"
      R"({"name":"bad","gauge":{"dataPoints":[{"asInt":"2","exemplars":[{"traceId":"ab"}]}]}}]}]}]})";
  const std::string mp = otlp::OtlpJsonToProtobuf(otlp::Signal::kMetrics, metrics).ValueOrDie();
  EXPECT_EQ(Count(otlp::Signal::kMetrics, mp), std::make_pair(int64_t{2}, int64_t{2}));
  const std::string mk = AcceptedRecordsOnly(otlp::Signal::kMetrics, mp, false).ValueOrDie();
  EXPECT_EQ(Count(otlp::Signal::kMetrics, mk), std::make_pair(int64_t{2}, int64_t{0}));
  const std::string mj = otlp::OtlpProtobufToJson(otlp::Signal::kMetrics, mk).ValueOrDie();
  EXPECT_EQ(mj.find("\"bad\""), std::string::npos) << mj;
  EXPECT_NE(mj.find("\"isMonotonic\":true"), std::string::npos) << mj;
  EXPECT_TRUE(AcceptedRecordsOnly(otlp::Signal::kLogs, "\xff\xff", false).status().IsInvalid());
}

// A fresh WAL under `base` named `name` (removed first), with segments of `segment_bytes`.
std::unique_ptr<wal::WalWriter> FreshWal(const fs::path& base, const std::string& name, int64_t segment_bytes,
                                         std::string* dir) {
  *dir = (base / (name + "_" + std::to_string(::getpid()))).string();
  fs::remove_all(*dir);
  wal::WalOptions wo;
  wo.dir = *dir;
  wo.segment_bytes = segment_bytes;
  return wal::WalWriter::Open(wo, 1).ValueOrDie();
}

TEST(TailReader, FollowsALiveLogAcrossSegmentsReadingEachByteOnce) {
  std::string dir;
  auto w = FreshWal(fs::temp_directory_path(), "otlake_tail", 64 << 10, &dir);
  wal::TailReader tail(dir);
  std::vector<int64_t> seen;
  auto fn = [&](int64_t lsn, std::string_view payload) -> Status {
    EXPECT_EQ(payload, std::string(static_cast<size_t>(100 + lsn * 37 % 5000), static_cast<char>('a' + lsn % 26)));
    seen.push_back(lsn);
    return Status::OK();
  };
  int64_t written = 0;
  for (int64_t lsn = 1; lsn <= 400; ++lsn) {
    const std::string payload(static_cast<size_t>(100 + lsn * 37 % 5000), static_cast<char>('a' + lsn % 26));
    written += static_cast<int64_t>(payload.size());
    ASSERT_EQ(w->Append(payload).ValueOrDie(), lsn);
    if (lsn % 7 == 0) {
      ASSERT_TRUE(w->SyncUpTo(lsn).ok());
      ASSERT_TRUE(tail.Read(seen.empty() ? 1 : seen.back() + 1, lsn, fn).ok());
      ASSERT_EQ(seen.back(), lsn);
    }
  }
  for (size_t i = 0; i < seen.size(); ++i) ASSERT_EQ(seen[i], static_cast<int64_t>(i) + 1);
  EXPECT_LT(tail.bytes_read(), written * 12 / 10);  // incremental: not segment prefixes again
  // A position it was not at: found by segment name, earlier records skipped.
  seen.clear();
  ASSERT_TRUE(tail.Read(200, 210, fn).ok());
  ASSERT_EQ(seen.size(), 11u);
  EXPECT_EQ(seen.front(), 200);
  ASSERT_TRUE(w->Close().ok());
  fs::remove_all(dir);
}

TEST(TailReader, ReadsARecycledSegmentOnlyAsFarAsItsNewRecords) {
  std::string dir;
  auto w = FreshWal(fs::temp_directory_path(), "otlake_tail_rc", 4 << 20, &dir);
  const std::string big(200 << 10, 'x');
  int64_t lsn = 0;
  for (int i = 0; i < 50; ++i) lsn = w->Append(big).ValueOrDie();  // ~10 MB: three segments
  ASSERT_TRUE(w->SyncUpTo(lsn).ok());
  ASSERT_TRUE(w->DeleteSegmentsUpTo(lsn - 25).ok());  // the older ones become recycle-*.log
  // Fill the active segment: the next one is a recycled file, 4 MB of old records long.
  while (w->stats().segments_recycled == 0) {
    lsn = w->Append(big).ValueOrDie();
    ASSERT_TRUE(w->SyncUpTo(lsn).ok());
  }
  wal::TailReader tail(dir);
  int64_t last = 0;
  auto fn = [&](int64_t l, std::string_view) -> Status {
    last = l;
    return Status::OK();
  };
  ASSERT_TRUE(tail.Read(lsn, lsn, fn).ok());
  ASSERT_EQ(last, lsn);
  const int64_t before = tail.bytes_read();
  // Small records into the recycled segment, followed as a live log: 40 reads.
  int64_t written = 0;
  for (int i = 0; i < 40; ++i) {
    const std::string small(1000 + i, 'y');
    written += static_cast<int64_t>(small.size());
    lsn = w->Append(small).ValueOrDie();
    ASSERT_TRUE(w->SyncUpTo(lsn).ok());
    ASSERT_TRUE(tail.Read(last + 1, lsn, fn).ok());
    ASSERT_EQ(last, lsn);
  }
  // Each read goes one chunk past the new records, not to the end of the 4 MB file
  // (which would be ~160 MB over the 40 reads).
  EXPECT_LT(tail.bytes_read() - before, written + 40 * (320 << 10));
  ASSERT_TRUE(w->Close().ok());
  fs::remove_all(dir);
}

// On a file system with direct I/O (the temp dir here: ext4) and on tmpfs (/dev/shm), where the
// reader falls back to buffered reads.
TEST(TailReader, RecordsLongerThanAReadChunkArriveWholeAndAreReadOnce) {
  for (const fs::path& base : {fs::temp_directory_path(), fs::path("/dev/shm")}) {
    if (!fs::is_directory(base)) continue;
    SCOPED_TRACE(base.string());
    std::string dir;
    auto w = FreshWal(base, "otlake_tail_big", 8 << 20, &dir);
    auto payload = [](int64_t lsn) {
      std::string p(static_cast<size_t>((lsn % 3 + 1) * 700'000 + lsn), '\0');
      for (size_t i = 0; i < p.size(); i += 4093) p[i] = static_cast<char>('a' + (lsn + i) % 26);
      return p;
    };
    wal::TailReader tail(dir);
    int64_t last = 0, written = 0;
    auto fn = [&](int64_t lsn, std::string_view got) -> Status {
      EXPECT_EQ(lsn, last + 1);
      EXPECT_TRUE(got == payload(lsn)) << "record " << lsn;
      last = lsn;
      return Status::OK();
    };
    for (int64_t lsn = 1; lsn <= 24; ++lsn) {  // ~34 MB over five segments
      const std::string p = payload(lsn);
      written += static_cast<int64_t>(p.size());
      ASSERT_EQ(w->Append(p).ValueOrDie(), lsn);
      if (lsn % 5 == 0 || lsn == 24) {
        ASSERT_TRUE(w->SyncUpTo(lsn).ok());
        ASSERT_TRUE(tail.Read(last + 1, lsn, fn).ok());
        ASSERT_EQ(last, lsn);
      }
    }
    EXPECT_LT(tail.bytes_read(), written + written / 20);
    ASSERT_TRUE(w->Close().ok());
    fs::remove_all(dir);
  }
}

TEST(Cursor, SaveLoadRoundTripAndBadFiles) {
  const std::string dir = (fs::temp_directory_path() / ("otlake_cursor_" + std::to_string(::getpid()))).string();
  fs::create_directories(dir);
  const std::string path = ArchiveStatePath(dir);
  fs::remove(path);
  EXPECT_TRUE(LoadArchiveState(path).status().IsKeyError());
  ArchiveState s;
  s.salt = 0x0123456789abcdefull;
  s.archived_lsn = 41;
  s.pending = PendingBatch{42, 50, 1750860600000};
  s.gaps.push_back({5, 9, 1, 2, 3, "backlog"});
  s.objects = 7;
  ASSERT_TRUE(SaveArchiveState(path, s).ok());
  auto back = LoadArchiveState(path).ValueOrDie();
  EXPECT_EQ(back.salt, s.salt);
  EXPECT_EQ(back.archived_lsn, 41);
  ASSERT_TRUE(back.pending.has_value());
  EXPECT_EQ(back.pending->last_lsn, 50);
  EXPECT_EQ(back.pending->time_unix_ms, 1750860600000);
  ASSERT_EQ(back.gaps.size(), 1u);
  EXPECT_EQ(back.gaps[0].reason, "backlog");
  EXPECT_EQ(back.objects, 7);
  ASSERT_TRUE(WriteFileAtomic(path, "{\"salt\":\"0123456789abcdef\",\"archived_lsn\":\"x\"}").ok());
  EXPECT_TRUE(LoadArchiveState(path).status().IsInvalid());
  ASSERT_TRUE(WriteFileAtomic(path, "not json").ok());
  EXPECT_TRUE(LoadArchiveState(path).status().IsInvalid());
  fs::remove_all(dir);
}

TEST_F(WriterTest, BatchesEveryDurableRecordOnceInOrderPerSignal) {
  auto o = Options();
  o.max_object_bytes = 600;  // a few requests per batch
  writer_ = ArchiveWriter::Open(o).ValueOrDie();
  std::multiset<std::string> sent;
  for (int i = 0; i < 40; ++i) {
    if (i % 3 == 0) {
      Log(otlp::Signal::kLogs, LogJson(i), i);
      sent.insert("log-" + std::to_string(i));
    } else {
      Log(otlp::Signal::kTraces, TraceJson(i), i);
      sent.insert("span-" + std::to_string(i));
    }
  }
  // Not due yet: nothing is old enough and the backlog is small... but full batches are cut.
  ASSERT_TRUE(writer_->RunOnce(true).ok());
  EXPECT_EQ(writer_->state().archived_lsn, 40);
  EXPECT_FALSE(writer_->state().pending.has_value());
  EXPECT_EQ(AllNames(), sent);
  auto objects = Objects();
  EXPECT_GT(objects.size(), 4u);
  for (const auto& [key, names] : objects) {
    // arch/year=2025/month=06/day=25/hour=14/minute=10/traces_<uuidv7>.binpb.zst
    EXPECT_TRUE(std::regex_match(key, std::regex(R"(arch/year=2025/month=06/day=25/hour=14/minute=10/(traces|logs)_[0-9a-f-]{36}\.binpb\.zst)"))) << key;
    // Within an object the records are in LSN order.
    for (size_t i = 1; i < names.size(); ++i) {
      EXPECT_LT(std::stoi(names[i - 1].substr(names[i - 1].find('-') + 1)), std::stoi(names[i].substr(names[i].find('-') + 1))) << key;
    }
  }
  // More records later: only those are written.
  Log(otlp::Signal::kTraces, TraceJson(100), 100);
  sent.insert("span-100");
  now_ms_ += 120000;
  ASSERT_TRUE(writer_->RunOnce(false).ok());
  EXPECT_EQ(AllNames(), sent);
  EXPECT_EQ(writer_->retain_from(), 42);
}

TEST_F(WriterTest, WaitsForAgeOrSizeBeforeCutting) {
  auto o = Options();
  o.max_age_ms = 60000;
  writer_ = ArchiveWriter::Open(o).ValueOrDie();
  Log(otlp::Signal::kTraces, TraceJson(1), 1);
  ASSERT_TRUE(writer_->RunOnce(false).ok());
  EXPECT_TRUE(Objects().empty());  // young and small: waits
  now_ms_ += 61000;
  ASSERT_TRUE(writer_->RunOnce(false).ok());
  EXPECT_EQ(AllNames(), std::multiset<std::string>{"span-1"});
}

TEST_F(WriterTest, AFailedWriteIsRetriedUnderTheSameKeysAndNeverDoubled) {
  auto o = Options();
  writer_ = ArchiveWriter::Open(o).ValueOrDie();
  for (int i = 0; i < 6; ++i) Log(otlp::Signal::kTraces, TraceJson(i), i);
  // The "bucket" is unwritable: a regular file where the prefix directory must go.
  { std::ofstream(root_ / "bucket" / "arch") << "x"; }
  EXPECT_FALSE(writer_->RunOnce(true).ok());
  ArchiveState st = writer_->state();
  ASSERT_TRUE(st.pending.has_value());
  EXPECT_EQ(st.pending->first_lsn, 1);
  EXPECT_EQ(st.pending->last_lsn, 6);
  EXPECT_EQ(st.archived_lsn, 0);
  EXPECT_EQ(writer_->retain_from(), 1);
  // A crash here: a new writer (new process) finds the pending batch and writes it, later, at
  // the batch's own time: same key.
  writer_.reset();
  fs::remove(root_ / "bucket" / "arch");
  for (int i = 6; i < 8; ++i) Log(otlp::Signal::kTraces, TraceJson(i), i);
  now_ms_ += 3600 * 1000;
  writer_ = ArchiveWriter::Open(o).ValueOrDie();
  ASSERT_TRUE(writer_->RunOnce(true).ok());
  auto objects = Objects();
  ASSERT_EQ(objects.size(), 2u);
  const std::string first_key = objects.begin()->first;
  EXPECT_NE(first_key.find("hour=14/minute=10/"), std::string::npos) << first_key;
  EXPECT_EQ(objects.begin()->second.size(), 6u);
  EXPECT_EQ(AllNames().size(), 8u);
  // Writing the same pending batch again (a crash after the PUT, before the state was saved)
  // replaces the same object.
  ArchiveState again = writer_->state();
  writer_.reset();
  again.archived_lsn = 0;
  again.pending = PendingBatch{1, 6, 1750860600000};
  ASSERT_TRUE(SaveArchiveState(ArchiveStatePath(o.state_dir), again).ok());
  writer_ = ArchiveWriter::Open(o).ValueOrDie();
  ASSERT_TRUE(writer_->RunOnce(true).ok());
  EXPECT_EQ(Objects().size(), 2u);
  EXPECT_EQ(AllNames().size(), 8u);
  EXPECT_EQ(writer_->state().archived_lsn, 8);
}

class SmallSegmentsTest : public WriterTest {
 protected:
  SmallSegmentsTest() { segment_bytes_ = 4096; }
};

TEST_F(SmallSegmentsTest, PastTheBacklogLimitTheOldestSegmentsBecomeAGap) {
  auto o = Options();
  o.backlog_limit_bytes = 16 << 10;
  writer_ = ArchiveWriter::Open(o).ValueOrDie();
  { std::ofstream(root_ / "bucket" / "arch") << "x"; }  // S3 "down"
  for (int i = 0; i < 200; ++i) Log(otlp::Signal::kTraces, TraceJson(i), i);
  Status st = writer_->RunOnce(true);  // the limit is checked first: a gap, then the write fails
  EXPECT_FALSE(st.ok());
  ArchiveState s = writer_->state();
  ASSERT_EQ(s.gaps.size(), 1u);
  EXPECT_EQ(s.gaps[0].from_lsn, 1);
  EXPECT_GT(s.gaps[0].to_lsn, 100);
  EXPECT_GT(s.gaps[0].first_arrival_unix_ms, 0);
  EXPECT_EQ(s.archived_lsn, s.gaps[0].to_lsn);
  EXPECT_EQ(writer_->retain_from(), s.gaps[0].to_lsn + 1);
  EXPECT_NE(writer_->StatusJson().find("\"gaps_total\":1"), std::string::npos);
  // S3 back: what is after the gap is written, once.
  fs::remove(root_ / "bucket" / "arch");
  now_ms_ += 100000;
  ASSERT_TRUE(writer_->RunOnce(true).ok());
  std::multiset<std::string> want;
  for (int i = static_cast<int>(s.gaps[0].to_lsn); i < 200; ++i) want.insert("span-" + std::to_string(i));
  EXPECT_EQ(AllNames(), want);
}

}  // namespace
}  // namespace otlake::archive
