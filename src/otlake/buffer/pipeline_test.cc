#include "otlake/buffer/pipeline.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "otlake/common/file_util.h"
#include "otlake/common/time_util.h"

namespace otlake::buffer {
namespace {

namespace fs = std::filesystem;
using table::TableId;

// A spans batch of `n` rows with every column filled.
table::TableBatches Spans(int n, int64_t event_ms) {
  table::TableBatches b;
  table::RowBatch& rb = b.Get(TableId::kSpans);
  auto cols = table::Columns(TableId::kSpans);
  for (int r = 0; r < n; ++r) {
    for (int c = 0; c < static_cast<int>(cols.size()); ++c) {
      switch (cols[c].type) {
        case table::ColType::kString:
          rb.AppendString(c, c == table::kResourceAttrsJson || c == table::spans::kSpanAttrsJson ||
                                     c == table::kScopeAttrsJson
                                 ? "{}"
                                 : (c == table::kUserRolesJson ? "[]" : "x"));
          break;
        case table::ColType::kInt64: rb.AppendInt(c, c == table::kEventTs ? event_ms : r); break;
        case table::ColType::kDouble: rb.AppendDouble(c, 1.5); break;
        case table::ColType::kBool: rb.AppendBool(c, false); break;
      }
    }
    rb.FinishRow();
  }
  return b;
}

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

}  // namespace
}  // namespace otlake::buffer
