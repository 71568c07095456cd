// WalWriter behaviour: group commit under concurrency, failure and self-recovery on a full disk,
// segment deletion.
#include "otlake/wal/wal_writer.h"

#include <errno.h>
#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <set>
#include <thread>

#include "otlake/wal/fault_injection_env.h"
#include "otlake/wal/log_format.h"
#include "otlake/wal/mem_env.h"
#include "otlake/wal/test_util.h"

namespace otlake::wal {
namespace {

using testing::Payload;
using testing::Problems;
using testing::RecoverAll;
using testing::Recovered;
using testing::TempDir;

TEST(WalWriter, GroupCommitBatchesConcurrentSyncs) {
  TempDir tmp;  // the real disk: fdatasync has a real cost, which is what makes batching matter
  WalOptions o;
  o.dir = tmp.path() + "/wal";
  o.segment_bytes = 1 << 20;
  WAL_ASSIGN_OR_FAIL(auto w, WalWriter::Open(o, 1));
  constexpr int kThreads = 8, kPerThread = 1000;
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string payload = std::to_string(t) + ":" + std::to_string(i);
        auto lsn = w->Append(payload);
        if (!lsn.ok() || !w->SyncUpTo(*lsn).ok()) ++errors;
        // Acknowledged: from here on the record must be durable.
        if (w->durable_lsn() < *lsn) ++errors;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(errors.load(), 0);
  WAL_ASSERT_OK(w->Close());
  const auto stats = w->stats();
  EXPECT_EQ(stats.records, kThreads * kPerThread);
  std::printf("group commit: %lld records, %lld syncs (%.1f records per sync), %lld segments\n",
              static_cast<long long>(stats.records), static_cast<long long>(stats.syncs),
              static_cast<double>(stats.records) / static_cast<double>(stats.syncs),
              static_cast<long long>(stats.segments_created));
  EXPECT_LT(stats.syncs * 2, stats.records);  // far fewer syncs than records
  WAL_ASSIGN_OR_FAIL(Recovered r, RecoverAll(o.dir, nullptr, true));
  EXPECT_TRUE(r.stats.problems.empty()) << Problems(r.stats);
  ASSERT_EQ(r.records.size(), static_cast<size_t>(kThreads * kPerThread));
  std::set<std::string> seen;
  for (size_t i = 0; i < r.records.size(); ++i) {
    ASSERT_EQ(r.records[i].first, static_cast<int64_t>(i + 1));
    seen.insert(r.records[i].second);
  }
  EXPECT_EQ(seen.size(), static_cast<size_t>(kThreads * kPerThread));  // each exactly once
}

class WalFailure : public ::testing::TestWithParam<bool> {};  // param: fail appends (else syncs)

TEST_P(WalFailure, FullDiskFailsSyncsThenRecoversByItselfLosingNothingAcknowledged) {
  auto mem = NewMemEnv();
  FaultInjectionEnv env(mem.get());
  WalOptions o;
  o.dir = "wal";
  o.env = &env;
  o.retry_backoff_ms = 20;
  o.max_retry_backoff_ms = 40;
  o.segment_bytes = 50000;
  WAL_ASSIGN_OR_FAIL(auto w, WalWriter::Open(o, 1));
  for (int64_t lsn = 1; lsn <= 10; ++lsn) ASSERT_EQ(*w->Append(Payload(lsn, 3000)), lsn);
  WAL_ASSERT_OK(w->SyncUpTo(10));  // acknowledged: 1..10

  if (GetParam()) {
    env.SetFailAppend(ENOSPC);
  } else {
    env.SetFailSync(ENOSPC);
  }
  for (int64_t lsn = 11; lsn <= 20; ++lsn) ASSERT_EQ(*w->Append(Payload(lsn, 3000)), lsn);
  Status st = w->SyncUpTo(20);
  EXPECT_TRUE(st.IsIOError()) << st.ToString();
  std::string reason;
  EXPECT_TRUE(w->failed(&reason));
  EXPECT_NE(reason.find("No space left"), std::string::npos) << reason;
  EXPECT_EQ(w->durable_lsn(), 10);
  EXPECT_TRUE(w->Append("refused").status().IsIOError());  // fails fast during the backoff
  EXPECT_EQ(w->last_lsn(), 20);

  // Still full after the backoff: the retry fails again.
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  EXPECT_TRUE(w->SyncUpTo(20).IsIOError());
  EXPECT_EQ(w->durable_lsn(), 10);

  env.Reset();  // space again
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  WAL_ASSERT_OK(w->SyncUpTo(20));
  EXPECT_FALSE(w->failed(nullptr));
  EXPECT_EQ(w->durable_lsn(), 20);
  ASSERT_EQ(*w->Append(Payload(21, 3000)), 21);
  WAL_ASSERT_OK(w->Close());

  WAL_ASSERT_OK(env.DropUnsyncedData());
  WAL_ASSIGN_OR_FAIL(Recovered r, RecoverAll("wal", &env, true));
  ASSERT_EQ(r.records.size(), 21u) << Problems(r.stats);
  for (int64_t lsn = 1; lsn <= 21; ++lsn) {
    ASSERT_EQ(r.records[lsn - 1].first, lsn);
    ASSERT_EQ(r.records[lsn - 1].second, Payload(lsn, 3000));
  }
  // The failed segment was cut back to its synced size: no duplicates, no corruption.
  EXPECT_TRUE(r.stats.problems.empty()) << Problems(r.stats);
}

TEST_P(WalFailure, PowerCutWhileFailedKeepsTheAcknowledgedPrefix) {
  auto mem = NewMemEnv();
  FaultInjectionEnv env(mem.get());
  WalOptions o;
  o.dir = "wal";
  o.env = &env;
  o.segment_bytes = 40000;
  WAL_ASSIGN_OR_FAIL(auto w, WalWriter::Open(o, 1));
  for (int64_t lsn = 1; lsn <= 30; ++lsn) ASSERT_EQ(*w->Append(Payload(lsn, 5000)), lsn);
  WAL_ASSERT_OK(w->SyncUpTo(30));
  if (GetParam()) {
    env.SetFailAppend(ENOSPC);
  } else {
    env.SetFailSync(ENOSPC);
  }
  for (int64_t lsn = 31; lsn <= 45; ++lsn) ASSERT_EQ(*w->Append(Payload(lsn, 5000)), lsn);
  EXPECT_TRUE(w->SyncUpTo(45).IsIOError());
  const int64_t acked = w->durable_lsn();  // 30, or more if a rotation synced part of the batch
  EXPECT_GE(acked, 30);
  WAL_ASSERT_OK(env.DropUnsyncedData());
  w.reset();
  env.Reset();
  WAL_ASSIGN_OR_FAIL(Recovered r, RecoverAll("wal", &env, true));
  ASSERT_GE(static_cast<int64_t>(r.records.size()), acked) << Problems(r.stats);
  for (size_t i = 0; i < r.records.size(); ++i) {
    const int64_t lsn = static_cast<int64_t>(i + 1);
    ASSERT_EQ(r.records[i].first, lsn);
    ASSERT_EQ(r.records[i].second, Payload(lsn, 5000));
  }
  EXPECT_EQ(r.stats.corrupt_records, 0) << Problems(r.stats);
}

INSTANTIATE_TEST_SUITE_P(Wal, WalFailure, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "append" : "sync"; });

TEST(WalWriter, DeleteSegmentsUpToKeepsEverythingAboveAndTheActiveSegment) {
  auto mem = NewMemEnv();
  WalOptions o;
  o.dir = "wal";
  o.env = mem.get();
  o.segment_bytes = 40000;
  WAL_ASSIGN_OR_FAIL(auto w, WalWriter::Open(o, 1));
  for (int64_t lsn = 1; lsn <= 100; ++lsn) {
    ASSERT_EQ(*w->Append(Payload(lsn, 5000)), lsn);
    if (lsn % 5 == 0) WAL_ASSERT_OK(w->SyncUpTo(lsn));
  }
  for (int64_t upto : {0, 3, 17, 50, 99}) {
    WAL_ASSERT_OK(w->DeleteSegmentsUpTo(upto));
    WAL_ASSIGN_OR_FAIL(Recovered r, RecoverAll("wal", mem.get(), false));
    ASSERT_FALSE(r.records.empty());
    EXPECT_LE(r.records.front().first, upto + 1);
    EXPECT_EQ(r.records.back().first, 100);
    for (size_t i = 1; i < r.records.size(); ++i) {
      ASSERT_EQ(r.records[i].first, r.records[i - 1].first + 1);
    }
  }
  const int64_t deleted = w->stats().segments_deleted;
  EXPECT_GT(deleted, 5);
  WAL_ASSERT_OK(w->DeleteSegmentsUpTo(1000));  // everything committed: the active one stays
  WAL_ASSIGN_OR_FAIL(auto names, mem->ListDir("wal"));
  int segments = 0, recycled = 0;
  for (const std::string& name : names) {
    segments += ParseSegmentFileName(name).has_value();
    recycled += IsRecycledFileName(name);
  }
  EXPECT_EQ(segments, 1);
  EXPECT_EQ(recycled, o.recycle_segments);  // the rest were deleted
  EXPECT_EQ(names.size(), static_cast<size_t>(segments + recycled));
  ASSERT_EQ(*w->Append("after"), 101);
  WAL_ASSERT_OK(w->Close());
  WAL_ASSIGN_OR_FAIL(Recovered r, RecoverAll("wal", mem.get(), false));
  EXPECT_EQ(r.records.back().first, 101);
  EXPECT_EQ(r.stats.next_lsn, 102);
}

// Append(parts) is only a way to avoid a concatenation: the segment bytes it produces must be
// exactly those of Append(concatenation), with and without compression, for records that fit a
// block, span blocks and leave every kind of block tail.
TEST(WalWriter, AppendPartsWritesTheSameBytesAsOneString) {
  for (const bool compress : {false, true}) {
    TempDir tmp;
    auto write = [&](const std::string& dir, bool as_parts) -> Status {
      WalOptions o;
      o.dir = dir;
      o.compress = compress;
      OTLAKE_ASSIGN_OR_RAISE(auto w, WalWriter::Open(o, 1));
      std::mt19937 rng(5), cuts(6);  // the same sizes in both runs; cuts only in one
      for (int64_t i = 1; i <= 60; ++i) {
        const size_t size = i % 7 == 0 ? 100000 + rng() % 70000 : rng() % 40000;
        const std::string payload = Payload(i, size, /*compressible=*/i % 2 == 0);
        int64_t lsn;
        if (as_parts) {
          // Uneven cuts, including empty parts.
          const size_t a = size == 0 ? 0 : cuts() % size;
          const size_t b = a + (size - a) / 3;
          const std::string_view v(payload);
          const std::string_view parts[] = {v.substr(0, a), std::string_view(), v.substr(a, b - a),
                                            v.substr(b)};
          OTLAKE_ASSIGN_OR_RAISE(lsn, w->Append(parts));
        } else {
          OTLAKE_ASSIGN_OR_RAISE(lsn, w->Append(payload));
        }
        if (lsn != i) return Status::Invalid("LSN ", lsn, " != ", i);
        if (i % 5 == 0) OTLAKE_RETURN_NOT_OK(w->SyncUpTo(lsn));
      }
      return w->Close();
    };
    const std::string one = tmp.path() + "/one", parts = tmp.path() + "/parts";
    WAL_ASSERT_OK(write(one, false));
    WAL_ASSERT_OK(write(parts, true));
    const std::string name = SegmentFileName(1);
    WAL_ASSIGN_OR_FAIL(std::string a, Env::Default()->ReadFile(one + "/" + name));
    WAL_ASSIGN_OR_FAIL(std::string b, Env::Default()->ReadFile(parts + "/" + name));
    EXPECT_GT(a.size(), 200000u);
    EXPECT_TRUE(a == b) << "segments differ (compress=" << compress << "): " << a.size()
                        << " vs " << b.size() << " bytes";
    WAL_ASSIGN_OR_FAIL(Recovered r, RecoverAll(parts, nullptr, false));
    EXPECT_EQ(r.records.size(), 60u);
  }
}

// Record buffers are reused once written (a bounded pool): a record built in a buffer that held a
// longer one must carry none of its bytes, whether records grow, shrink or are compressed.
TEST(WalWriter, ReusedRecordBuffersCarryNothingOver) {
  for (const bool compress : {false, true}) {
    TempDir tmp;
    WalOptions o;
    o.dir = tmp.path() + "/wal";
    o.compress = compress;
    WAL_ASSIGN_OR_FAIL(auto w, WalWriter::Open(o, 1));
    std::mt19937 rng(9);
    std::vector<std::string> want;
    for (int64_t i = 1; i <= 120; ++i) {
      const size_t size = i < 40 ? static_cast<size_t>(i) * 9000 : rng() % (i < 80 ? 5000 : 900000);
      want.push_back(Payload(i, size, /*compressible=*/i % 3 == 0));
      WAL_ASSIGN_OR_FAIL(int64_t lsn, w->Append(want.back()));
      if (i % 2 == 0) WAL_ASSERT_OK(w->SyncUpTo(lsn));  // hands the buffers back
    }
    WAL_ASSERT_OK(w->Close());
    WAL_ASSIGN_OR_FAIL(Recovered r, RecoverAll(o.dir, nullptr, false));
    EXPECT_TRUE(r.stats.problems.empty()) << Problems(r.stats);
    ASSERT_EQ(r.records.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_TRUE(r.records[i].second == want[i]) << "record " << i + 1 << " (compress=" << compress << ")";
    }
  }
}

}  // namespace
}  // namespace otlake::wal
