// Round trips through WalWriter and Recover: record sizes around block boundaries, fragments
// across blocks and segments, LSN continuity across segments and reopen, compression.
#include <gtest/gtest.h>

#include "otlake/wal/log_format.h"
#include "otlake/wal/mem_env.h"
#include "otlake/wal/test_util.h"
#include "otlake/wal/wal_writer.h"

namespace otlake::wal {
namespace {

using testing::Payload;
using testing::Problems;
using testing::RecoverAll;
using testing::Recovered;
using testing::TempDir;

class RoundTrip : public ::testing::TestWithParam<bool> {  // param: compress
 protected:
  WalOptions Options() {
    WalOptions o;
    o.dir = tmp_.path() + "/wal";
    o.compress = GetParam();
    return o;
  }
  TempDir tmp_;
};

TEST_P(RoundTrip, SizesAroundBlockBoundaries) {
  // Logical record = 9 header bytes + payload; a fragment carries 7 header bytes.
  const size_t b = kBlockSize;
  const size_t edge = b - kHeaderSize - kRecordHeaderSize;  // fills a block exactly as FULL
  std::vector<size_t> sizes = {0, 1, b - 1, b, b + 1, edge - 1, edge, edge + 1,
                               1 << 20, 3 * b + 5, 0, 17};
  for (size_t pad = 0; pad < 9; ++pad) sizes.push_back(edge - 7 + pad);  // trailers of 0..8 bytes
  WAL_ASSIGN_OR_FAIL(auto w, WalWriter::Open(Options(), 1));
  std::vector<std::string> sent;
  for (size_t i = 0; i < sizes.size(); ++i) {
    sent.push_back(Payload(static_cast<int64_t>(i + 1), sizes[i], /*compressible=*/i % 2 == 0));
    WAL_ASSIGN_OR_FAIL(int64_t lsn, w->Append(sent.back()));
    ASSERT_EQ(lsn, static_cast<int64_t>(i + 1));
    if (i % 3 == 0) WAL_ASSERT_OK(w->SyncUpTo(lsn));  // mix batch shapes
  }
  WAL_ASSERT_OK(w->Close());
  WAL_ASSIGN_OR_FAIL(Recovered r, RecoverAll(Options().dir, nullptr, /*repair=*/true));
  EXPECT_TRUE(r.stats.problems.empty()) << Problems(r.stats);
  ASSERT_EQ(r.records.size(), sent.size());
  for (size_t i = 0; i < sent.size(); ++i) {
    EXPECT_EQ(r.records[i].first, static_cast<int64_t>(i + 1));
    EXPECT_TRUE(r.records[i].second == sent[i]) << "record " << i + 1 << " size " << sizes[i];
  }
  EXPECT_EQ(r.stats.next_lsn, static_cast<int64_t>(sent.size() + 1));
  EXPECT_EQ(r.stats.truncated_tail_bytes, 0);
  EXPECT_EQ(r.stats.corrupt_bytes, 0);
}

TEST_P(RoundTrip, ManySmallRecordsAcrossSegmentsAndReopens) {
  WalOptions o = Options();
  o.segment_bytes = 64 * 1024;
  int64_t next = 1;
  for (int session = 0; session < 3; ++session) {
    WAL_ASSIGN_OR_FAIL(Recovered before, RecoverAll(o.dir, nullptr, true));
    ASSERT_EQ(before.stats.next_lsn, next);
    WAL_ASSIGN_OR_FAIL(auto w, WalWriter::Open(o, before.stats.next_lsn));
    for (int i = 0; i < 3000; ++i) {
      WAL_ASSIGN_OR_FAIL(int64_t lsn, w->Append(Payload(next, static_cast<size_t>(next % 97),
                                                        next % 3 == 0)));
      ASSERT_EQ(lsn, next);
      ++next;
      if (i % 100 == 99) WAL_ASSERT_OK(w->SyncUpTo(lsn));
    }
    WAL_ASSERT_OK(w->Close());
    EXPECT_GT(w->stats().segments_created, 1);
  }
  WAL_ASSIGN_OR_FAIL(Recovered r, RecoverAll(o.dir, nullptr, true));
  EXPECT_TRUE(r.stats.problems.empty()) << Problems(r.stats);
  ASSERT_EQ(r.records.size(), static_cast<size_t>(next - 1));
  for (size_t i = 0; i < r.records.size(); ++i) {
    const int64_t lsn = static_cast<int64_t>(i + 1);
    ASSERT_EQ(r.records[i].first, lsn);
    ASSERT_EQ(r.records[i].second, Payload(lsn, static_cast<size_t>(lsn % 97), lsn % 3 == 0));
  }
  EXPECT_GT(r.stats.segments, 6);
}

TEST_P(RoundTrip, LargeRecordsSpanSegmentsAndFromLsnSkipsOldOnes) {
  WalOptions o = Options();
  o.segment_bytes = kBlockSize;  // a new segment after every record
  WAL_ASSIGN_OR_FAIL(auto w, WalWriter::Open(o, 1));
  for (int64_t lsn = 1; lsn <= 20; ++lsn) {
    WAL_ASSIGN_OR_FAIL(int64_t got, w->Append(Payload(lsn, 100000)));
    ASSERT_EQ(got, lsn);
  }
  WAL_ASSERT_OK(w->SyncUpTo(20));
  WAL_ASSERT_OK(w->Close());
  EXPECT_EQ(w->stats().segments_created, 20);
  WAL_ASSIGN_OR_FAIL(Recovered r, RecoverAll(o.dir, nullptr, false, /*from_lsn=*/15));
  EXPECT_TRUE(r.stats.problems.empty()) << Problems(r.stats);
  ASSERT_EQ(r.records.size(), 6u);
  EXPECT_EQ(r.records.front().first, 15);
  EXPECT_EQ(r.records.front().second, Payload(15, 100000));
  EXPECT_EQ(r.stats.segments, 6);  // segments 1..14 not even read
  EXPECT_EQ(r.stats.next_lsn, 21);
}

INSTANTIATE_TEST_SUITE_P(Wal, RoundTrip, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "zstd" : "raw"; });

TEST(Wal, CompressionIsUsedOnlyWhenItPays) {
  auto env = NewMemEnv();
  WalOptions o;
  o.dir = "wal";
  o.env = env.get();
  o.compress = true;
  WAL_ASSIGN_OR_FAIL(auto w, WalWriter::Open(o, 1));
  ASSERT_TRUE(w->Append(Payload(1, 100000, /*compressible=*/true)).ok());
  WAL_ASSERT_OK(w->SyncUpTo(1));
  const int64_t compressible_bytes = w->stats().bytes_written;
  ASSERT_TRUE(w->Append(Payload(2, 100000, /*compressible=*/false)).ok());
  WAL_ASSERT_OK(w->Close());
  const int64_t random_bytes = w->stats().bytes_written - compressible_bytes;
  EXPECT_LT(compressible_bytes, 100000 / 3);
  EXPECT_GT(random_bytes, 100000);  // stored raw: framing overhead only
  EXPECT_LT(random_bytes, 100000 + 100);
  WAL_ASSIGN_OR_FAIL(Recovered r, RecoverAll("wal", env.get(), false));
  ASSERT_EQ(r.records.size(), 2u);
  EXPECT_EQ(r.records[0].second, Payload(1, 100000, true));
  EXPECT_EQ(r.records[1].second, Payload(2, 100000, false));
}

TEST(Wal, EmptyOrMissingDirectoryRecoversToLsnOne) {
  auto env = NewMemEnv();
  WAL_ASSIGN_OR_FAIL(Recovered r, RecoverAll("nowhere", env.get(), true));
  EXPECT_EQ(r.stats.next_lsn, 1);
  EXPECT_EQ(r.stats.records, 0);
  EXPECT_EQ(r.stats.segments, 0);
}

TEST(Wal, AnEmptyNewestSegmentStillCarriesTheNextLsn) {
  // Old segments deleted after commit, the writer then restarted and crashed before writing:
  // only an empty wal-…0042.log is left. LSNs must continue at 42, never restart at 1.
  auto env = NewMemEnv();
  WalOptions o;
  o.dir = "wal";
  o.env = env.get();
  { WAL_ASSIGN_OR_FAIL(auto w, WalWriter::Open(o, 42)); }
  WAL_ASSIGN_OR_FAIL(Recovered r, RecoverAll("wal", env.get(), true));
  EXPECT_EQ(r.stats.next_lsn, 42);
  EXPECT_EQ(r.stats.records, 0);
}

TEST(Wal, OpenRefusesToStartBehindAnExistingSegmentAndNamesAreFixedWidth) {
  auto env = NewMemEnv();
  WalOptions o;
  o.dir = "wal";
  o.env = env.get();
  {
    WAL_ASSIGN_OR_FAIL(auto w, WalWriter::Open(o, 100));
    ASSERT_TRUE(w->Append("x").ok());
    WAL_ASSERT_OK(w->Close());
  }
  EXPECT_TRUE(WalWriter::Open(o, 50).status().IsInvalid());
  EXPECT_TRUE(WalWriter::Open(o, 0).status().IsInvalid());
  WAL_ASSIGN_OR_FAIL(auto names, env->ListDir("wal"));
  EXPECT_EQ(names, std::vector<std::string>{"wal-00000000000000000100.log"});
  EXPECT_EQ(ParseSegmentFileName("wal-00000000000000000100.log"), 100);
  EXPECT_FALSE(ParseSegmentFileName("wal-00000000000000000000.log"));
  EXPECT_FALSE(ParseSegmentFileName("wal-99999999999999999999.log"));
  EXPECT_FALSE(ParseSegmentFileName("wal-0000000000000000010x.log"));
}

TEST(Wal, CallbackErrorAbortsRecoveryAndSyncBeyondLastIsInvalid) {
  auto env = NewMemEnv();
  WalOptions o;
  o.dir = "wal";
  o.env = env.get();
  WAL_ASSIGN_OR_FAIL(auto w, WalWriter::Open(o, 1));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(w->Append("r").ok());
  EXPECT_TRUE(w->SyncUpTo(6).IsInvalid());
  WAL_ASSERT_OK(w->Close());
  EXPECT_TRUE(w->Append("late").status().IsInvalid());
  int seen = 0;
  auto r = Recover("wal", env.get(), 1, false, [&](int64_t lsn, std::string_view) {
    ++seen;
    return lsn == 3 ? Status::Cancelled("stop") : Status::OK();
  });
  EXPECT_TRUE(r.status().IsCancelled());
  EXPECT_EQ(seen, 3);
}

TEST(Wal, AppendRejectsRecordsAboveTheLimit) {
  auto env = NewMemEnv();
  WalOptions o;
  o.dir = "wal";
  o.env = env.get();
  WAL_ASSIGN_OR_FAIL(auto w, WalWriter::Open(o, 1));
  const std::string huge(static_cast<size_t>(kMaxPayloadBytes) + 1, 'x');
  EXPECT_TRUE(w->Append(huge).status().IsCapacityError());
  EXPECT_EQ(w->last_lsn(), 0);
}

}  // namespace
}  // namespace otlake::wal
