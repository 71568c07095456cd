#include "otlake/buffer/pipeline.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <set>
#include <thread>

#include "otlake/common/file_util.h"
#include "otlake/common/time_util.h"
#include "otlake/lake/delta_table.h"

namespace otlake::buffer {
namespace {

namespace fs = std::filesystem;
using table::TableId;

// A spans batch of `n` rows with every column filled.
table::TableBatches Rows(TableId t, int n, int64_t event_ms) {
  table::TableBatches b;
  table::RowBatch& rb = b.Get(t);
  auto cols = table::Columns(t);
  for (int r = 0; r < n; ++r) {
    for (int c = 0; c < static_cast<int>(cols.size()); ++c) {
      switch (cols[c].type) {
        case table::ColType::kString:
          rb.AppendString(c, std::string_view(cols[c].name).ends_with("_json") ? "{}" : "x");
          break;
        case table::ColType::kInt64: rb.AppendInt(c, c == table::kEventTs ? event_ms : r); break;
        // (nullable columns get values too: fine for these tests)
        case table::ColType::kDouble: rb.AppendDouble(c, 1.5); break;
        case table::ColType::kBool: rb.AppendBool(c, false); break;
        case table::ColType::kMap: rb.AppendMap(c, table::AttrMap{}); break;
      }
    }
    rb.FinishRow();
  }
  return b;
}

table::TableBatches Spans(int n, int64_t event_ms) { return Rows(TableId::kSpans, n, event_ms); }

class PipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("otlake_pipeline_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  PipelineOptions Options() {
    PipelineOptions o;
    o.days_dir = dir_.string();
    o.now_ms = [this] { return now_.load(); };
    return o;
  }

  bool WaitFor(const std::function<bool()>& pred, int ms = 10000) {
    for (int i = 0; i < ms / 10; ++i) {
      if (pred()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return pred();
  }

  fs::path dir_;
  std::atomic<int64_t> now_{1795391999000};  // 2026-11-22T23:59:59Z
};

TEST_F(PipelineTest, DayRollsOverOnATimerWithoutTraffic) {
  PipelineOptions o = Options();
  o.flush_age_ms = 3600 * 1000;  // only the rollover can trigger the flush
  auto p = Pipeline::Start(o).ValueOrDie();
  EXPECT_EQ(p->CurrentDay(), "2026-11-22");
  auto b = Spans(10, now_ - 86400000);  // a late row: event a day earlier
  ASSERT_TRUE(p->Append(&b, now_).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(p->Health(TableId::kSpans).persisted_rows, 0);
  now_ += 2000;  // 2026-11-23T00:00:01Z, no request arrives
  ASSERT_TRUE(WaitFor([&] { return p->Health(TableId::kSpans).persisted_rows == 10; }));
  EXPECT_EQ(p->CurrentDay(), "2026-11-23");
  // Filed under the arrival day; the day summary records the (earlier) event time range.
  auto summary = ReadFile((dir_ / "2026-11-22" / "day.json").string()).ValueOrDie();
  EXPECT_NE(summary.find("\"rows\":10"), std::string::npos) << summary;
  EXPECT_NE(summary.find("\"min_event_ts\":" + std::to_string(1795391999000 - 86400000)),
            std::string::npos)
      << summary;
  EXPECT_TRUE(fs::exists(dir_ / "2026-11-22" / "otel" / "spans" / "_delta_log"));
  EXPECT_FALSE(fs::exists(dir_ / "2026-11-23"));
  ASSERT_TRUE(p->Stop().ok());
}

TEST_F(PipelineTest, FlushesByAgeAndByRowsAndOnStop) {
  PipelineOptions o = Options();
  o.flush_age_ms = 500;
  o.flush_rows = 1000;
  auto p = Pipeline::Start(o).ValueOrDie();
  auto big = Spans(1500, now_);
  ASSERT_TRUE(p->Append(&big, now_).ok());  // over flush_rows: flushed at once, clock frozen
  ASSERT_TRUE(WaitFor([&] { return p->Health(TableId::kSpans).persisted_rows == 1500; }));
  auto small = Spans(5, now_);
  ASSERT_TRUE(p->Append(&small, now_).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(p->Health(TableId::kSpans).buffered_rows, 5);
  now_ += 600;  // past flush_age
  ASSERT_TRUE(WaitFor([&] { return p->Health(TableId::kSpans).persisted_rows == 1505; }));
  auto last = Spans(7, now_);
  ASSERT_TRUE(p->Append(&last, now_).ok());
  ASSERT_TRUE(p->Stop().ok());  // flushes what is buffered
  EXPECT_EQ(p->Health(TableId::kSpans).persisted_rows, 1512);
  EXPECT_EQ(p->Health(TableId::kSpans).buffered_rows, 0);
  EXPECT_EQ(p->Health(TableId::kSpans).flushes, 3);
  EXPECT_FALSE(p->Append(&last, now_).ok());  // stopped
}

TEST_F(PipelineTest, FailingWritesKeepRowsReportAndRecover) {
  PipelineOptions o = Options();
  o.flush_age_ms = 50;
  auto p = Pipeline::Start(o).ValueOrDie();
  // A file where the day directory must go makes every write fail.
  ASSERT_TRUE(WriteFileAtomic((dir_ / "2026-11-22").string(), "blocker").ok());
  auto b = Spans(3, now_);
  ASSERT_TRUE(p->Append(&b, now_).ok());
  now_ += 100;
  std::string reason;
  ASSERT_TRUE(WaitFor([&] { return !p->Ok(&reason); }));
  EXPECT_NE(reason.find("2026-11-22"), std::string::npos) << reason;
  EXPECT_EQ(p->Health(TableId::kSpans).buffered_rows, 3);
  fs::remove(dir_ / "2026-11-22");
  for (int i = 0; i < 100 && !p->Ok(nullptr); ++i) {
    now_ += 1000;  // let the backoff elapse
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(WaitFor([&] { return p->Ok(nullptr) && p->Health(TableId::kSpans).persisted_rows == 3; }));
  ASSERT_TRUE(p->Stop().ok());
}

TEST_F(PipelineTest, AppendFailsWithCapacityErrorOverTheMemoryBound) {
  PipelineOptions o = Options();
  o.flush_age_ms = 3600 * 1000;
  o.max_buffered_bytes = 64 * 1024;
  auto p = Pipeline::Start(o).ValueOrDie();
  auto a = Spans(200, now_);
  ASSERT_TRUE(p->Append(&a, now_).ok());  // the first batch is always taken
  auto b = Spans(200, now_);
  Status st = p->Append(&b, now_);
  EXPECT_TRUE(st.IsCapacityError()) << st.ToString();
  EXPECT_EQ(b.TotalRows(), 200);  // nothing taken
  ASSERT_TRUE(p->FlushAll().ok());
  EXPECT_TRUE(p->Append(&b, now_).ok());  // room again after the flush
  ASSERT_TRUE(p->Stop().ok());
  EXPECT_EQ(p->Health(TableId::kSpans).persisted_rows, 400);
}

TEST_F(PipelineTest, RestartContinuesTheTableAndTheDaySummary) {
  for (int run = 0; run < 2; ++run) {
    auto p = Pipeline::Start(Options()).ValueOrDie();
    auto b = Spans(4, now_);
    ASSERT_TRUE(p->Append(&b, now_).ok());
    ASSERT_TRUE(p->Stop().ok());
  }
  auto summary = ReadFile((dir_ / "2026-11-22" / "day.json").string()).ValueOrDie();
  EXPECT_NE(summary.find("\"rows\":8"), std::string::npos) << summary;
  EXPECT_NE(summary.find("\"version\":2"), std::string::npos) << summary;
}

TEST_F(PipelineTest, CommitsRecordTheWalPositionAndWaitForDurability) {
  PipelineOptions o = Options();
  o.flush_age_ms = 3600 * 1000;
  std::vector<int64_t> synced;
  std::vector<int64_t> through;
  std::mutex m;
  o.make_durable = [&](int64_t lsn) {
    std::lock_guard lk(m);
    synced.push_back(lsn);
    return Status::OK();
  };
  o.committed_through = [&](int64_t lsn) {
    std::lock_guard lk(m);
    through.push_back(lsn);
  };
  auto p = Pipeline::Start(o).ValueOrDie();
  for (int64_t lsn = 1; lsn <= 3; ++lsn) {
    auto b = Spans(2, now_);
    ASSERT_TRUE(p->Append(&b, now_, lsn).ok());
  }
  auto logs = Rows(TableId::kLogs, 1, now_);
  ASSERT_TRUE(p->Append(&logs, now_, 4).ok());
  EXPECT_EQ(p->CommittedThroughLsn(), 0);
  ASSERT_TRUE(p->FlushAll().ok());
  EXPECT_EQ(p->CommittedThroughLsn(), 4);
  {
    std::lock_guard lk(m);
    EXPECT_EQ(std::set<int64_t>(synced.begin(), synced.end()), (std::set<int64_t>{3, 4}));
    ASSERT_FALSE(through.empty());
    EXPECT_EQ(through.back(), 4);
  }
  ASSERT_TRUE(p->Stop().ok());
  auto spans = lake::DeltaTableWriter::Open((dir_ / "2026-11-22" / "otel" / "spans").string(),
                                            TableId::kSpans, {})
                   .ValueOrDie();
  EXPECT_EQ(spans->TxnVersion("otlake-wal"), 3);
  auto logw = lake::DeltaTableWriter::Open((dir_ / "2026-11-22" / "otel" / "logs").string(),
                                           TableId::kLogs, {})
                  .ValueOrDie();
  EXPECT_EQ(logw->TxnVersion("otlake-wal"), 4);
}

TEST_F(PipelineTest, CommittedThroughStopsBelowTheOldestBufferedRecord) {
  PipelineOptions o = Options();
  o.flush_age_ms = 3600 * 1000;
  o.flush_rows = 10;  // spans flush at once, logs wait
  auto p = Pipeline::Start(o).ValueOrDie();
  auto logs = Rows(TableId::kLogs, 1, now_);
  ASSERT_TRUE(p->Append(&logs, now_, 7).ok());
  auto spans = Spans(20, now_);
  ASSERT_TRUE(p->Append(&spans, now_, 8).ok());
  ASSERT_TRUE(WaitFor([&] { return p->Health(TableId::kSpans).persisted_rows == 20; }));
  EXPECT_EQ(p->CommittedThroughLsn(), 6);  // record 7's log row is still buffered
  ASSERT_TRUE(p->FlushAll().ok());
  EXPECT_EQ(p->CommittedThroughLsn(), 8);
  ASSERT_TRUE(p->Stop().ok());
}

TEST_F(PipelineTest, NoCommitWhileTheWalCannotMakeRowsDurable) {
  PipelineOptions o = Options();
  o.flush_age_ms = 50;
  std::atomic<bool> wal_ok{false};
  o.make_durable = [&](int64_t) {
    return wal_ok ? Status::OK() : Status::IOError("fdatasync: No space left on device");
  };
  auto p = Pipeline::Start(o).ValueOrDie();
  auto b = Spans(3, now_);
  ASSERT_TRUE(p->Append(&b, now_, 1).ok());
  now_ += 100;
  std::string reason;
  ASSERT_TRUE(WaitFor([&] { return !p->Ok(&reason); }));
  EXPECT_NE(reason.find("No space"), std::string::npos);
  EXPECT_EQ(p->Health(TableId::kSpans).persisted_rows, 0);
  EXPECT_FALSE(fs::exists(dir_ / "2026-11-22" / "otel" / "spans" / "_delta_log" /
                          "00000000000000000001.json"));
  wal_ok = true;
  for (int i = 0; i < 100 && !p->Ok(nullptr); ++i) {
    now_ += 1000;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(WaitFor([&] { return p->Health(TableId::kSpans).persisted_rows == 3; }));
  EXPECT_GE(p->Health(TableId::kSpans).write_failures, 1);
  ASSERT_TRUE(p->Stop().ok());
}

TEST_F(PipelineTest, OverloadHasHysteresis) {
  PipelineOptions o = Options();
  o.flush_age_ms = 3600 * 1000;
  o.max_buffered_bytes = 100 * 1024;
  o.low_buffered_bytes = 10 * 1024;
  auto p = Pipeline::Start(o).ValueOrDie();
  auto a = Spans(300, now_);
  const int64_t size = a.ByteSize();
  ASSERT_GT(size, 20 * 1024);
  ASSERT_LT(size, 100 * 1024);
  ASSERT_TRUE(p->CheckCapacity(size).ok());
  ASSERT_TRUE(p->Append(&a, now_, 1).ok());
  EXPECT_TRUE(p->CheckCapacity(size).IsCapacityError());  // would pass the high watermark
  EXPECT_TRUE(p->CheckCapacity(1).IsCapacityError());     // stays refused above the low one
  EXPECT_EQ(p->OverloadRejections(), 2);
  ASSERT_TRUE(p->FlushAll().ok());
  EXPECT_TRUE(p->CheckCapacity(size).ok());  // drained below the low watermark
  ASSERT_TRUE(p->Stop().ok());
}

}  // namespace
}  // namespace otlake::buffer
