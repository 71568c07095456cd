// Crash and corruption: power cuts (FaultInjectionEnv::DropUnsyncedData), torn tails at every
// byte offset, flipped bytes in the middle of the log.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "otlake/wal/fault_injection_env.h"
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

size_t SizeOf(int64_t lsn) { return static_cast<size_t>((lsn * 7919) % 9000); }

// Records are `first`, first + 1, ... with no gap, each intact.
void ExpectIntactRun(const Recovered& r, int64_t first) {
  for (size_t i = 0; i < r.records.size(); ++i) {
    const int64_t lsn = first + static_cast<int64_t>(i);
    ASSERT_EQ(r.records[i].first, lsn);
    ASSERT_TRUE(r.records[i].second == Payload(lsn, SizeOf(lsn))) << "garbled record " << lsn;
  }
}

// Checks the invariant every recovery must keep: records are exactly 1..n for some n, intact.
void ExpectIntactPrefix(const Recovered& r, int64_t at_least) {
  ASSERT_GE(static_cast<int64_t>(r.records.size()), at_least) << Problems(r.stats);
  ExpectIntactRun(r, 1);
}

// A log in "wal" on `env` with segments of 40–80 kB, so a run crosses several.
WalOptions SmallSegments(Env* env, std::mt19937& rng) {
  WalOptions o;
  o.dir = "wal";
  o.env = env;
  o.segment_bytes = 40000 + static_cast<int64_t>(rng() % 40000);
  return o;
}

TEST(WalCrash, PowerCutKeepsEverySyncedRecordAndNeverGarbles) {
  for (uint32_t seed = 1; seed <= 30; ++seed) {
    SCOPED_TRACE(seed);
    std::mt19937 rng(seed);
    auto mem = NewMemEnv();
    FaultInjectionEnv env(mem.get());
    WalOptions o = SmallSegments(&env, rng);
    o.compress = seed % 2 == 0;
    WAL_ASSIGN_OR_FAIL(auto w, WalWriter::Open(o, 1));
    const int64_t n = 50 + rng() % 150, k = 1 + rng() % (n - 1);  // k < n: something unsynced
    for (int64_t lsn = 1; lsn <= n; ++lsn) {
      ASSERT_TRUE(w->Append(Payload(lsn, SizeOf(lsn))).ok());
      if (lsn == k) WAL_ASSERT_OK(w->SyncUpTo(k));
    }
    // Unsynced bytes reach the files: the sync of the rest fails after its write.
    env.SetFailSync(EIO, 1);
    EXPECT_TRUE(w->SyncUpTo(n).IsIOError());
    EXPECT_EQ(w->durable_lsn(), k);
    WAL_ASSERT_OK(env.DropUnsyncedData());  // the power cut
    w.reset();
    WAL_ASSIGN_OR_FAIL(Recovered r, RecoverAll("wal", &env, /*repair=*/true));
    ExpectIntactPrefix(r, k);
    EXPECT_EQ(r.stats.corrupt_records, 0) << Problems(r.stats);
    // The writer continues after whatever survived, and a second recovery agrees.
    WAL_ASSIGN_OR_FAIL(auto w2, WalWriter::Open(o, r.stats.next_lsn));
    const int64_t lsn = r.stats.next_lsn;
    ASSERT_EQ(*w2->Append(Payload(lsn, SizeOf(lsn))), lsn);
    WAL_ASSERT_OK(w2->Close());
    WAL_ASSIGN_OR_FAIL(Recovered again, RecoverAll("wal", &env, true));
    ExpectIntactPrefix(again, lsn);
    EXPECT_EQ(again.stats.truncated_tail_bytes, 0) << Problems(again.stats);
    EXPECT_TRUE(again.stats.problems.empty()) << Problems(again.stats);
  }
}

// Segments are recycled (overwritten in place, old records left behind the new ones) while the
// log runs; a power cut then loses the unsynced overwrites, so old bytes reappear right after the
// last synced record. Recovery must deliver exactly the records from the committed point on, in
// order and intact, never one of the old records, and report nothing.
TEST(WalCrash, RecycledSegmentsNeverReplayTheirOldRecords) {
  int64_t total_recycled = 0, total_stale = 0;
  for (uint32_t seed = 1; seed <= 30; ++seed) {
    SCOPED_TRACE(seed);
    std::mt19937 rng(seed);
    auto mem = NewMemEnv();
    FaultInjectionEnv env(mem.get());
    WalOptions o = SmallSegments(&env, rng);
    o.recycle_segments = 1 + static_cast<int>(rng() % 4);
    o.compress = seed % 3 == 0;
    WAL_ASSIGN_OR_FAIL(auto w, WalWriter::Open(o, 1));
    const int64_t n = 300 + rng() % 300;
    int64_t committed = 0;  // what the "tables" have committed: segments up to it may go
    for (int64_t lsn = 1; lsn <= n; ++lsn) {
      ASSERT_EQ(*w->Append(Payload(lsn, SizeOf(lsn))), lsn);
      if (rng() % 8 == 0) WAL_ASSERT_OK(w->SyncUpTo(lsn));
      if (rng() % 40 == 0) {
        committed = std::max<int64_t>(committed, w->durable_lsn() - static_cast<int64_t>(rng() % 20));
        WAL_ASSERT_OK(w->DeleteSegmentsUpTo(committed));
      }
    }
    const int64_t k = w->durable_lsn();
    env.SetFailSync(EIO, 1);  // the rest is written but not synced
    (void)w->SyncUpTo(n);
    env.Reset();  // unused if everything was synced already
    total_recycled += w->stats().segments_recycled;
    WAL_ASSERT_OK(env.DropUnsyncedData());  // the power cut
    w.reset();
    WAL_ASSIGN_OR_FAIL(Recovered r, RecoverAll("wal", &env, /*repair=*/true, committed + 1));
    EXPECT_EQ(r.stats.corrupt_records, 0) << Problems(r.stats);
    EXPECT_EQ(r.stats.corrupt_bytes, 0) << Problems(r.stats);
    total_stale += r.stats.stale_tail_bytes;
    ASSERT_FALSE(r.records.empty());
    EXPECT_LE(r.records.front().first, committed + 1);
    EXPECT_GE(r.records.back().first, k);
    ASSERT_NO_FATAL_FAILURE(ExpectIntactRun(r, r.records.front().first));
    // The writer continues (reusing what the last run retired) and a second recovery agrees.
    WAL_ASSIGN_OR_FAIL(auto w2, WalWriter::Open(o, r.stats.next_lsn));
    const int64_t first = r.stats.next_lsn;
    for (int64_t lsn = first; lsn < first + 40; ++lsn) {
      ASSERT_EQ(*w2->Append(Payload(lsn, SizeOf(lsn))), lsn);
    }
    WAL_ASSERT_OK(w2->DeleteSegmentsUpTo(first - 1));
    WAL_ASSERT_OK(w2->Close());
    WAL_ASSIGN_OR_FAIL(Recovered again, RecoverAll("wal", &env, true, first));
    EXPECT_EQ(again.stats.corrupt_records, 0) << Problems(again.stats);
    EXPECT_EQ(again.stats.truncated_tail_bytes, 0) << Problems(again.stats);
    EXPECT_TRUE(again.stats.problems.empty()) << Problems(again.stats);
    ASSERT_FALSE(again.records.empty());
    EXPECT_EQ(again.records.back().first, first + 39);
  }
  EXPECT_GT(total_recycled, 30);  // the runs did reuse segments...
  EXPECT_GT(total_stale, 0);      // ...and recovery met their old bytes
}

// Writes records of a few shapes and returns the segment file's bytes and each record's end.
std::string WriteSegment(std::vector<int64_t>* ends, std::vector<size_t> sizes) {
  auto mem = NewMemEnv();
  WalOptions o;
  o.dir = "wal";
  o.env = mem.get();
  auto w = *WalWriter::Open(o, 1);
  for (size_t i = 0; i < sizes.size(); ++i) {
    const int64_t lsn = static_cast<int64_t>(i + 1);
    (void)*w->Append(Payload(lsn, sizes[i]));
    (void)w->SyncUpTo(lsn);
    ends->push_back(*mem->FileSize("wal/" + SegmentFileName(1)));
  }
  (void)w->Close();
  return *mem->ReadFile("wal/" + SegmentFileName(1));
}

// Direct I/O on a real file system (Env::DirectIo): a kill -9 leaves every segment as written,
// the last one ending in the zero padding of its last block, and recycled segments hold old
// records behind that padding. Recovery of such an image delivers every written record from the
// committed point on, intact, and reports no damage; the padding is counted, not called damage.
// After a clean Close no padding is left.
TEST(WalDirectIo, AKillImageOfARecyclingLogReadsCleanly) {
  {
    testing::TempDir probe;
    auto f = Env::DirectIo()->NewWritableFile(probe.path() + "/p");
    ASSERT_TRUE(f.ok() && (*f)->Append("x").ok());
    if (*Env::Default()->FileSize(probe.path() + "/p") != kPadAlign) {
      GTEST_SKIP() << "no O_DIRECT on this file system (it writes through the page cache)";
    }
  }
  int64_t total_padding = 0, total_recycled = 0;
  for (uint32_t seed = 1; seed <= 12; ++seed) {
    SCOPED_TRACE(seed);
    std::mt19937 rng(seed);
    testing::TempDir tmp;
    WalOptions o = SmallSegments(Env::DirectIo(), rng);
    o.dir = tmp.path() + "/wal";
    o.recycle_segments = 1 + static_cast<int>(rng() % 4);
    o.compress = seed % 3 == 0;
    WAL_ASSIGN_OR_FAIL(auto w, WalWriter::Open(o, 1));
    const int64_t n = 200 + rng() % 300;
    int64_t committed = 0;
    for (int64_t lsn = 1; lsn <= n; ++lsn) {
      ASSERT_EQ(*w->Append(Payload(lsn, SizeOf(lsn))), lsn);
      if (rng() % 6 == 0) WAL_ASSERT_OK(w->SyncUpTo(lsn));
      if (rng() % 40 == 0) {
        committed = std::max<int64_t>(committed, w->durable_lsn() - static_cast<int64_t>(rng() % 20));
        WAL_ASSERT_OK(w->DeleteSegmentsUpTo(committed));
      }
    }
    WAL_ASSERT_OK(w->SyncUpTo(n));
    total_recycled += w->stats().segments_recycled;
    // The kill -9: the files as they are, the writer never closed.
    const std::string image = tmp.path() + "/image";
    std::filesystem::copy(o.dir, image);
    WAL_ASSIGN_OR_FAIL(Recovered r, RecoverAll(image, nullptr, /*repair=*/true, committed + 1));
    // Old bytes behind the padding of a reused last segment that hold no whole old record read
    // as a torn tail (as with buffered writes): cut off, nothing lost. Nothing else may show.
    for (const std::string& p : r.stats.problems) {
      EXPECT_TRUE(p.starts_with("torn tail") && p.find("zero") == std::string::npos) << p;
    }
    EXPECT_EQ(r.stats.corrupt_records, 0);
    EXPECT_EQ(r.stats.corrupt_bytes, 0);
    if (w->stats().segments_recycled == 0) {
      EXPECT_TRUE(r.stats.problems.empty()) << Problems(r.stats);
    }
    total_padding += r.stats.padding_bytes;
    ASSERT_FALSE(r.records.empty());
    EXPECT_LE(r.records.front().first, committed + 1);
    EXPECT_EQ(r.records.back().first, n);
    ASSERT_NO_FATAL_FAILURE(ExpectIntactRun(r, r.records.front().first));
    WAL_ASSERT_OK(w->Close());
    WAL_ASSIGN_OR_FAIL(Recovered closed, RecoverAll(o.dir, nullptr, false, committed + 1));
    EXPECT_TRUE(closed.stats.problems.empty()) << Problems(closed.stats);
    EXPECT_EQ(closed.stats.padding_bytes, 0);
    EXPECT_EQ(closed.records.size(), r.records.size());
  }
  EXPECT_GT(total_recycled, 0);
  EXPECT_GT(total_padding, 0);
}

TEST(WalCrash, TruncationAtEveryByteOfTheLastRecordsYieldsAPrefixAndCutsTheTail) {
  // Record 1 ends 3 bytes before a block boundary (a trailer follows it), record 3 spans two
  // boundaries, then small ones (an empty payload too).
  const std::vector<size_t> sizes = {kBlockSize - 3 - kHeaderSize - kRecordHeaderSize, 1000,
                                     40000, 3, 0, 700};
  std::vector<int64_t> ends;
  const std::string file = WriteSegment(&ends, sizes);
  std::vector<std::string> expected;
  for (size_t i = 0; i < sizes.size(); ++i) {
    expected.push_back(Payload(static_cast<int64_t>(i + 1), sizes[i]));
  }
  int64_t cuts = 0;
  for (int64_t cut = ends[0] - 40; cut <= static_cast<int64_t>(file.size()); ++cut) {
    auto mem = NewMemEnv();
    WAL_ASSERT_OK(mem->CreateDir("wal"));
    const std::string path = "wal/" + SegmentFileName(1);
    {
      auto f = *mem->NewWritableFile(path);
      WAL_ASSERT_OK(f->Append(std::string_view(file).substr(0, static_cast<size_t>(cut))));
    }
    WAL_ASSIGN_OR_FAIL(Recovered r, RecoverAll("wal", mem.get(), /*repair=*/true));
    size_t complete = 0;
    while (complete < ends.size() && ends[complete] <= cut) ++complete;
    ASSERT_EQ(r.records.size(), complete) << "cut " << cut << "\n" << Problems(r.stats);
    for (size_t i = 0; i < complete; ++i) {
      ASSERT_TRUE(r.records[i].second == expected[i]) << "garbled record " << i + 1;
    }
    // The valid prefix ends after the last complete record and the block trailer behind it.
    const int64_t good = complete == 0 ? 0 : ends[complete - 1];
    int64_t good_end = good;
    if (good > 0 && kBlockSize - good % kBlockSize < kHeaderSize) {
      good_end = std::min(cut, good + (kBlockSize - good % kBlockSize));
    }
    ASSERT_EQ(r.stats.truncated_tail_bytes, cut - good_end) << "cut " << cut;
    ASSERT_EQ(*mem->FileSize(path), good_end) << "cut " << cut;
    ASSERT_EQ(r.stats.corrupt_records, 0) << "cut " << cut << "\n" << Problems(r.stats);
    ASSERT_EQ(r.stats.corrupt_bytes, 0) << "cut " << cut;
    ASSERT_EQ(r.stats.next_lsn, static_cast<int64_t>(complete) + 1);
    ++cuts;
  }
  EXPECT_GT(cuts, 40000);
}

TEST(WalCorruption, FlippedBytesInAMiddleSegmentAreCountedAndSkipped) {
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    SCOPED_TRACE(seed);
    std::mt19937 rng(seed);
    auto mem = NewMemEnv();
    WalOptions o;
    o.dir = "wal";
    o.env = mem.get();
    o.segment_bytes = 100000;
    const int64_t n = 120;
    {
      WAL_ASSIGN_OR_FAIL(auto w, WalWriter::Open(o, 1));
      for (int64_t lsn = 1; lsn <= n; ++lsn) {
        ASSERT_TRUE(w->Append(Payload(lsn, SizeOf(lsn))).ok());
      }
      WAL_ASSERT_OK(w->Close());
    }
    WAL_ASSIGN_OR_FAIL(auto names, mem->ListDir("wal"));
    std::sort(names.begin(), names.end());
    ASSERT_GE(names.size(), 4u);
    const std::string victim = "wal/" + names[names.size() / 2];
    WAL_ASSIGN_OR_FAIL(std::string bytes, mem->ReadFile(victim));
    const int flips = 1 + static_cast<int>(rng() % 6);
    for (int i = 0; i < flips; ++i) {
      bytes[rng() % bytes.size()] ^= static_cast<char>(1 + rng() % 255);
    }
    {
      auto f = *mem->NewWritableFile(victim);
      WAL_ASSERT_OK(f->Append(bytes));
    }
    WAL_ASSIGN_OR_FAIL(Recovered r, RecoverAll("wal", mem.get(), /*repair=*/true));
    // Every returned record is intact and in order; only records of the victim are missing.
    const int64_t victim_first = *ParseSegmentFileName(names[names.size() / 2]);
    const int64_t victim_next = *ParseSegmentFileName(names[names.size() / 2 + 1]);
    int64_t prev = 0, missing = 0;
    for (const auto& [lsn, payload] : r.records) {
      ASSERT_GT(lsn, prev);
      for (int64_t gap = prev + 1; gap < lsn; ++gap) {
        ASSERT_TRUE(gap >= victim_first && gap < victim_next) << "lost LSN " << gap;
        ++missing;
      }
      ASSERT_TRUE(payload == Payload(lsn, SizeOf(lsn))) << "garbled record " << lsn;
      prev = lsn;
    }
    ASSERT_EQ(prev, n);  // everything after the damage is still there
    EXPECT_EQ(r.stats.corrupt_records, missing) << Problems(r.stats);
    EXPECT_GT(missing, 0);
    EXPECT_GT(r.stats.corrupt_bytes, 0);
    EXPECT_EQ(r.stats.truncated_tail_bytes, 0);
    EXPECT_FALSE(r.stats.problems.empty());
    EXPECT_NE(Problems(r.stats).find("CORRUPTION in " + names[names.size() / 2]),
              std::string::npos)
        << Problems(r.stats);
    EXPECT_EQ(r.stats.next_lsn, n + 1);
  }
}

TEST(WalCorruption, GarbageSegmentsAndDuplicateLsnsNeverCrashAndAreReported) {
  auto mem = NewMemEnv();
  WalOptions o;
  o.dir = "wal";
  o.env = mem.get();
  {
    WAL_ASSIGN_OR_FAIL(auto w, WalWriter::Open(o, 1));
    for (int64_t lsn = 1; lsn <= 10; ++lsn) ASSERT_TRUE(w->Append(Payload(lsn, 100)).ok());
    WAL_ASSERT_OK(w->Close());
  }
  // A segment named 5 holding LSNs 5..10 again (duplicates of the first one's tail).
  {
    WalOptions o2 = o;
    o2.dir = "other";
    WAL_ASSIGN_OR_FAIL(auto w, WalWriter::Open(o2, 5));
    for (int64_t lsn = 5; lsn <= 10; ++lsn) ASSERT_TRUE(w->Append(Payload(lsn, 100)).ok());
    WAL_ASSERT_OK(w->Close());
  }
  WAL_ASSIGN_OR_FAIL(std::string seg, mem->ReadFile("other/" + SegmentFileName(5)));
  { WAL_ASSERT_OK((*mem->NewWritableFile("wal/" + SegmentFileName(5)))->Append(seg)); }
  // A zero-filled segment and a random one after it; the random one is the last: its junk is a
  // torn tail.
  {
    auto f = *mem->NewWritableFile("wal/" + SegmentFileName(11));
    WAL_ASSERT_OK(f->Append(std::string(70000, '\0')));
  }
  std::string junk(5000, '\0');
  std::mt19937 rng(7);
  for (char& c : junk) c = static_cast<char>(rng());
  { WAL_ASSERT_OK((*mem->NewWritableFile("wal/" + SegmentFileName(12)))->Append(junk)); }
  { WAL_ASSERT_OK((*mem->NewWritableFile("wal/wal-junk.log"))->Append("x")); }
  WAL_ASSIGN_OR_FAIL(Recovered r, RecoverAll("wal", mem.get(), true));
  ASSERT_EQ(r.records.size(), 10u);
  // The 6 duplicates, and LSN 11: segment 12's name says it was in the zero-filled segment 11.
  EXPECT_EQ(r.stats.corrupt_records, 7);
  EXPECT_EQ(r.stats.corrupt_bytes, 70000);
  EXPECT_EQ(r.stats.truncated_tail_bytes, 5000);
  EXPECT_EQ(*mem->FileSize("wal/" + SegmentFileName(12)), 0);
  EXPECT_EQ(r.stats.next_lsn, 12);
  const std::string problems = Problems(r.stats);
  EXPECT_NE(problems.find("duplicate"), std::string::npos) << problems;
  EXPECT_NE(problems.find("LSNs 11..11 missing"), std::string::npos) << problems;
  EXPECT_NE(problems.find("wal-junk.log"), std::string::npos) << problems;
  EXPECT_NE(problems.find("zero-filled"), std::string::npos) << problems;
}

}  // namespace
}  // namespace otlake::wal
