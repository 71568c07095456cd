// Readers of a day and the writers that delete its files (day_readers.h): a file that a newer
// version removed outlives the last query holding a snapshot that references it, through
// compaction, seal and a day moved away; and the snapshot loader is safe against a writer that
// publishes a checkpoint or cleans the log up while it reads.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "otlake/lake/day_readers.h"
#include "otlake/lake/delta_log.h"
#include "otlake/lake/delta_table.h"
#include "otlake/lake/fs_util.h"
#include "otlake/lake/snapshot.h"
#include "otlake/lake/test_data.h"
#include "otlake/lake/test_util.h"

namespace otlake::lake {
namespace {

using table::TableId;

LogSource SourceOf(const std::string& table_dir) {
  LogSource src;
  src.log_dir = table_dir + "/_delta_log";
  src.list = [log = src.log_dir] { return ListDir(log); };
  src.read = [log = src.log_dir](const std::string& n, bool* missing) {
    return ReadWholeFile(log + "/" + n, missing);
  };
  return src;
}

void AppendFiles(DeltaTableWriter* w, TableId t, int n, int seed) {
  for (int i = 0; i < n; ++i) {
    auto b = testing::MakeBatch(t, 50, testing::Seeded(seed + i));
    ASSERT_TRUE(w->Append({b.get()}).ok());
  }
}

bool AllExist(const std::string& dir, const std::map<std::string, AddFile>& files) {
  for (const auto& [path, _] : files) {
    if (!std::filesystem::exists(dir + "/" + path)) return false;
  }
  return true;
}

// A table of day `day_name` under `tmp` with `files` small files, written with the day's readers
// lock, and a query holding the day with the snapshot it loaded.
struct HeldDay {
  std::string day, dir;
  std::unique_ptr<DeltaTableWriter> writer;
  std::unique_ptr<DayLock> query;
  TableState snapshot;
};

HeldDay MakeHeldDay(const testing::TempDir& tmp, const char* day_name, TableId t, int files) {
  HeldDay h;
  h.day = tmp / day_name;
  h.dir = h.day + "/otel/" + std::string(table::TableName(t));
  WriterOptions wo;
  wo.readers_dir = h.day;
  wo.checkpoint_interval = 0;
  h.writer = DeltaTableWriter::Open(h.dir, t, wo).ValueOrDie();
  AppendFiles(h.writer.get(), t, files, 1);
  EXPECT_EQ(ShareDay(h.day, &h.query).ValueOrDie(), ShareState::kHeld);
  h.snapshot = LoadTableState(SourceOf(h.dir)).ValueOrDie();
  EXPECT_EQ(h.snapshot.adds.size(), static_cast<size_t>(files));
  return h;
}

TEST(DayReaders, SharedHoldersExcludeAWriterButNotEachOther) {
  testing::TempDir tmp;
  const std::string day = tmp / "2026-12-07";
  std::filesystem::create_directories(day);
  std::unique_ptr<DayLock> a, b;
  OTLAKE_ASSERT_OK_AND_ASSIGN(ShareState sa, ShareDay(day, &a));
  OTLAKE_ASSERT_OK_AND_ASSIGN(ShareState sb, ShareDay(day, &b));
  EXPECT_EQ(sa, ShareState::kHeld);
  EXPECT_EQ(sb, ShareState::kHeld);
  // Same process, separate holders: the exclusive lock is refused while either is held.
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto none, ExclusiveDay(day, 0));
  EXPECT_EQ(none, nullptr);
  a.reset();
  OTLAKE_ASSERT_OK_AND_ASSIGN(none, ExclusiveDay(day, 30));
  EXPECT_EQ(none, nullptr);
  b.reset();
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto ex, ExclusiveDay(day, 0));
  EXPECT_NE(ex, nullptr);
  ex.reset();

  // A writer waiting with a timeout gets the lock as soon as the last reader lets go.
  OTLAKE_ASSERT_OK_AND_ASSIGN(sa, ShareDay(day, &a));
  std::thread release([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    a.reset();
  });
  const auto t0 = std::chrono::steady_clock::now();
  OTLAKE_ASSERT_OK_AND_ASSIGN(ex, ExclusiveDay(day, 10'000));
  release.join();
  EXPECT_NE(ex, nullptr);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(100));
}

TEST(DayReaders, AClosingDayIsReportedAndAMovedDayIsGone) {
  testing::TempDir tmp;
  const std::string day = tmp / "2026-12-07";
  std::filesystem::create_directories(day);
  std::unique_ptr<DayLock> lock;
  OTLAKE_ASSERT_OK_AND_ASSIGN(ShareState st, ShareDay(tmp / "2026-12-06", &lock));
  EXPECT_EQ(st, ShareState::kGone);
  EXPECT_EQ(lock, nullptr);

  OTLAKE_ASSERT_OK(MarkClosing(day));
  OTLAKE_ASSERT_OK_AND_ASSIGN(st, ShareDay(day, &lock));
  EXPECT_EQ(st, ShareState::kClosing);
  EXPECT_NE(lock, nullptr);  // still held: the caller decides whether to read here
  lock.reset();
  OTLAKE_ASSERT_OK(UnmarkClosing(day));
  OTLAKE_ASSERT_OK(UnmarkClosing(day));  // idempotent

  // A reader blocked behind the clean's exclusive lock wakes up to find the day moved away,
  // even though a new folder took its name meanwhile.
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto ex, ExclusiveDay(day, 0));
  ASSERT_NE(ex, nullptr);
  std::atomic<int> result{-1};
  std::thread reader([&] {
    std::unique_ptr<DayLock> l;
    auto s = ShareDay(day, &l);
    result = s.ok() ? static_cast<int>(*s) : -2;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(result.load(), -1);  // waiting for the writer
  std::filesystem::rename(day, tmp / "trash");
  std::filesystem::create_directories(day);
  ex.reset();
  reader.join();
  EXPECT_EQ(result.load(), static_cast<int>(ShareState::kGone));
}

TEST(DayReaders, ACompactedFileOutlivesTheLastQueryHoldingTheDay) {
  testing::TempDir tmp;
  // A query holds the day and loads its snapshot (the 4 small files).
  HeldDay h = MakeHeldDay(tmp, "2026-12-07", TableId::kLogs, 4);
  auto& w = h.writer;
  const std::string& dir = h.dir;
  const TableState& snap = h.snapshot;

  CompactOptions co;
  co.min_files = 4;
  co.retention_ms = 0;  // no grace for outside readers: only the lock keeps the files
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto r, w->Compact(co));
  EXPECT_EQ(r.files_in, 4);
  // The next run finds them past retention, but the query still holds the day.
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto r2, w->Compact(co));
  EXPECT_EQ(r2.files_deleted, 0);
  EXPECT_EQ(r2.files_deferred, 4);
  EXPECT_TRUE(AllExist(dir, snap.adds));

  // Once the query is done they go, and the live file stays.
  h.query.reset();
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto r3, w->Compact(co));
  EXPECT_EQ(r3.files_deleted, 4);
  for (const auto& [path, _] : snap.adds) EXPECT_FALSE(std::filesystem::exists(dir + "/" + path)) << path;
  OTLAKE_ASSERT_OK_AND_ASSIGN(TableState now, LoadTableState(SourceOf(dir)));
  EXPECT_TRUE(AllExist(dir, now.adds));
}

TEST(DayReaders, SealDeletesReplacedFilesOnlyAfterTheLastQueryOfTheDay) {
  testing::TempDir tmp;
  HeldDay h = MakeHeldDay(tmp, "2026-12-06", TableId::kSpans, 5);
  auto& w = h.writer;
  const std::string& dir = h.dir;
  const TableState& snap = h.snapshot;

  // While the query runs past the wait, the seal commits but deletes nothing, and says so.
  SealOptions so;
  so.readers_wait_ms = 50;
  auto failed = w->Seal(so);
  ASSERT_FALSE(failed.ok());
  EXPECT_TRUE(failed.status().IsIOError()) << failed.status().ToString();
  EXPECT_NE(failed.status().message().find("queries held the day"), std::string::npos);
  EXPECT_TRUE(AllExist(dir, snap.adds));
  OTLAKE_ASSERT_OK_AND_ASSIGN(TableState sealed, LoadTableState(SourceOf(dir)));
  EXPECT_GT(sealed.version, snap.version);
  EXPECT_TRUE(AllExist(dir, sealed.adds));

  // A stopping server does not wait out the readers: Cancelled, nothing deleted.
  std::atomic<bool> stop{true};
  so.readers_wait_ms = 600'000;
  so.stop = &stop;
  auto stopped = w->Seal(so);
  ASSERT_FALSE(stopped.ok());
  EXPECT_TRUE(stopped.status().IsCancelled()) << stopped.status().ToString();
  EXPECT_TRUE(AllExist(dir, snap.adds));
  so.stop = nullptr;

  // A second seal waits for the query, then deletes what the sealed table does not reference.
  so.readers_wait_ms = 10'000;
  std::thread done([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    h.query.reset();
  });
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto r, w->Seal(so));
  done.join();
  EXPECT_EQ(r.files_rewritten, 0);
  EXPECT_EQ(r.files_deleted, 5);
  for (const auto& [path, _] : snap.adds) EXPECT_FALSE(std::filesystem::exists(dir + "/" + path)) << path;
  EXPECT_TRUE(AllExist(dir, sealed.adds));
}

TEST(LoadTableState, ACheckpointPublishedWhileLoadingIsNotMistakenForAMissingOne) {
  testing::TempDir tmp;
  const std::string dir = tmp / "logs";
  WriterOptions wo;
  wo.checkpoint_interval = 10;
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto w, DeltaTableWriter::Open(dir, TableId::kLogs, wo));
  AppendFiles(w.get(), TableId::kLogs, 19, 1);  // versions 1..19, checkpoint at 10
  // The writer commits version 20 (checkpoint 20 + _last_checkpoint) right after the folder is
  // listed: a load must give version 19 (what it listed), not report checkpoint 20 missing.
  LogSource src = SourceOf(dir);
  auto list = src.list;
  bool published = false;
  src.list = [&]() -> Result<std::vector<std::string>> {
    auto names = list();
    if (!published) {
      published = true;
      AppendFiles(w.get(), TableId::kLogs, 1, 100);
      EXPECT_TRUE(std::filesystem::exists(dir + "/_delta_log/" + CheckpointFileName(20)));
    }
    return names;
  };
  OTLAKE_ASSERT_OK_AND_ASSIGN(TableState st, LoadTableState(src));
  EXPECT_EQ(st.version, 19);
  EXPECT_EQ(st.adds.size(), 19u);
  OTLAKE_ASSERT_OK_AND_ASSIGN(st, LoadTableState(src));
  EXPECT_EQ(st.version, 20);
}

TEST(LoadTableState, ALogCleanedUpWhileLoadingIsLoadedAgain) {
  testing::TempDir tmp;
  const std::string dir = tmp / "spans";
  WriterOptions wo;
  wo.checkpoint_interval = 0;
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto w, DeltaTableWriter::Open(dir, TableId::kSpans, wo));
  AppendFiles(w.get(), TableId::kSpans, 6, 1);
  // A seal runs between the listing and the reads of the commits it named: they are gone, and
  // the load starts over from the sealed checkpoint.
  LogSource src = SourceOf(dir);
  auto read = src.read;
  int64_t sealed_version = -1;
  int reads_after_seal = 0;
  src.read = [&](const std::string& n, bool* missing) -> Result<std::string> {
    int64_t v;
    if (sealed_version < 0 && ParseCommitFileName(n, &v)) {
      auto r = w->Seal(SealOptions{});
      EXPECT_TRUE(r.ok()) << r.status().ToString();
      sealed_version = r.ok() ? r->version : 0;
    } else if (sealed_version >= 0) {
      ++reads_after_seal;
    }
    return read(n, missing);
  };
  OTLAKE_ASSERT_OK_AND_ASSIGN(TableState st, LoadTableState(src));
  EXPECT_EQ(st.version, sealed_version);
  EXPECT_EQ(st.adds.size(), 1u);
  EXPECT_GT(reads_after_seal, 0);

  // A file that stays missing (removed outside otlake) is reported, not looped over.
  OTLAKE_ASSERT_OK_AND_ASSIGN(TableState before, LoadTableState(SourceOf(dir)));
  (void)before;
  std::filesystem::remove(dir + "/_delta_log/" + CheckpointFileName(sealed_version));
  auto broken = LoadTableState(SourceOf(dir));
  EXPECT_FALSE(broken.ok());
}

}  // namespace
}  // namespace otlake::lake
