#include "otlake/archive/backfill.h"

#include <arrow/filesystem/localfs.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <string>

#include "otlake/archive/marshal.h"
#include "otlake/query/query.h"

namespace otlake::archive {
namespace {

constexpr int64_t kS = 1000000000;

int64_t T(const char* rfc3339) {
  auto tz = TimeZone::Load("UTC");
  EXPECT_TRUE(tz.ok());
  auto t = ParseWindowTime(rfc3339, *tz, "t");
  EXPECT_TRUE(t.ok()) << rfc3339;
  return t.ok() ? *t : 0;
}

KeyLayoutOptions Layout(const char* format, const char* zone = "") {
  KeyLayoutOptions o;
  o.s3_partition_format = format;
  o.s3_partition_timezone = zone;
  return o;
}

TEST(BackfillWindow, WidenedToWholeMinutes) {
  int64_t from = 0, to = 0;
  ASSERT_TRUE(AlignWindow(Layout("year=%Y/month=%m/day=%d/hour=%H/minute=%M"), T("2025-06-25T14:09:30Z"),
                          T("2025-06-25T14:11:10Z"), &from, &to)
                  .ok());
  EXPECT_EQ(from, T("2025-06-25T14:09:00Z"));
  EXPECT_EQ(to, T("2025-06-25T14:12:00Z"));
  // Already aligned: unchanged (the end is exclusive).
  ASSERT_TRUE(AlignWindow(Layout("%Y/%m/%d/%H/%M"), T("2025-06-25T14:09:00Z"), T("2025-06-25T14:10:00Z"), &from, &to)
                  .ok());
  EXPECT_EQ(from, T("2025-06-25T14:09:00Z"));
  EXPECT_EQ(to, T("2025-06-25T14:10:00Z"));
}

TEST(BackfillWindow, HoursOfAHalfHourZoneStartAtHalfPastInUtc) {
  int64_t from = 0, to = 0;
  ASSERT_TRUE(AlignWindow(Layout("%Y/%m/%d/%H", "Asia/Kolkata"), T("2025-06-25T14:00:00Z"),
                          T("2025-06-25T14:01:00Z"), &from, &to)
                  .ok());
  EXPECT_EQ(from, T("2025-06-25T13:30:00Z"));
  EXPECT_EQ(to, T("2025-06-25T14:30:00Z"));
}

TEST(BackfillWindow, DaysAcrossADstChangeAreLocalDays) {
  int64_t from = 0, to = 0;
  // 2025-03-09 in New York is 23 hours long (EST -> EDT at 02:00).
  ASSERT_TRUE(AlignWindow(Layout("dt=%Y-%m-%d", "America/New_York"), T("2025-03-09T12:00:00Z"),
                          T("2025-03-09T13:00:00Z"), &from, &to)
                  .ok());
  EXPECT_EQ(from, T("2025-03-09T05:00:00Z"));
  EXPECT_EQ(to, T("2025-03-10T04:00:00Z"));
  EXPECT_EQ(to - from, 23 * 3600 * kS);
}

TEST(BackfillWindow, MonthsAndYears) {
  int64_t from = 0, to = 0;
  ASSERT_TRUE(AlignWindow(Layout("%Y/%m"), T("2024-02-10T00:00:00Z"), T("2024-02-11T00:00:00Z"), &from, &to).ok());
  EXPECT_EQ(from, T("2024-02-01T00:00:00Z"));
  EXPECT_EQ(to, T("2024-03-01T00:00:00Z"));
  ASSERT_TRUE(AlignWindow(Layout("y=%Y"), T("2024-02-10T00:00:00Z"), T("2025-01-01T00:00:01Z"), &from, &to).ok());
  EXPECT_EQ(from, T("2024-01-01T00:00:00Z"));
  EXPECT_EQ(to, T("2026-01-01T00:00:00Z"));
}

TEST(BackfillWindow, BadInputIsInvalidNamingTheSetting) {
  int64_t from = 0, to = 0;
  Status st = AlignWindow(Layout("%Y/%m/%d/%H"), T("2025-06-25T14:00:00Z"), T("2025-06-25T14:00:00Z"), &from, &to);
  EXPECT_TRUE(st.IsInvalid());
  EXPECT_NE(st.message().find("--to"), std::string::npos) << st.message();
  st = AlignWindow(Layout("%Y/%Q"), T("2025-06-25T14:00:00Z"), T("2025-06-25T15:00:00Z"), &from, &to);
  EXPECT_TRUE(st.IsInvalid());
  EXPECT_NE(st.message().find("%Q"), std::string::npos) << st.message();
  st = AlignWindow(Layout("%Y/%m/%d/%H/%M/%S"), T("2025-06-25T14:00:00Z"), T("2025-06-25T15:00:00Z"), &from, &to);
  EXPECT_TRUE(st.IsInvalid()) << "seconds are not a listable partition";
}

TEST(BackfillKeys, DeterministicDistinctAndNeverAWriterKey) {
  const uint64_t salt = 0x1234567890abcdefull;
  const int64_t start = 1750860540000, end = start + 60000;
  const std::string u = BackfillUuid(salt, Signal::kTraces, start, end, 0);
  EXPECT_EQ(u, BackfillUuid(salt, Signal::kTraces, start, end, 0));
  ASSERT_EQ(u.size(), 36u);
  EXPECT_EQ(u[14], '7');  // version 7
  // The UUID's time is the period start.
  EXPECT_EQ(std::stoull(u.substr(0, 8) + u.substr(9, 4), nullptr, 16), static_cast<uint64_t>(start));
  std::set<std::string> seen;
  for (Signal s : {Signal::kTraces, Signal::kLogs, Signal::kMetrics}) {
    for (int64_t i = 0; i < 50; ++i) {
      EXPECT_TRUE(seen.insert(BackfillUuid(salt, s, start, end, i)).second);
      EXPECT_TRUE(seen.insert(BackfillUuid(salt, s, end, end + 60000, i)).second);
    }
  }
  // The writer's keys (same salt, LSN ranges >= 1, same millisecond) are never among them.
  for (Signal s : {Signal::kTraces, Signal::kLogs, Signal::kMetrics}) {
    for (int64_t first = 1; first < 200; ++first) {
      for (int64_t last = first; last < first + 5; ++last) {
        EXPECT_EQ(seen.count(ArchiveUuidV7(start, salt, s, first, last)), 0u);
      }
    }
  }
}

TEST(Backfill, AnEmptyLakeWritesNothing) {
  const std::string dir = ::testing::TempDir() + "/backfill_empty";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir + "/instance/staging/days");
  std::filesystem::create_directories(dir + "/bucket");
  query::EngineOptions eo;
  eo.instance_dir = dir + "/instance";
  query::QueryEngine engine(eo);
  BackfillOptions o;
  o.fs = std::make_shared<arrow::fs::LocalFileSystem>();
  o.bucket = dir + "/bucket";
  o.create_dirs = true;
  o.salt = 7;
  o.from_unix_nanos = T("2025-06-25T14:09:30Z");
  o.to_unix_nanos = T("2025-06-25T14:31:00Z");
  int progress = 0;
  o.progress = [&](const BackfillReport&) { ++progress; };
  auto r = RunBackfill(o, &engine);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->objects, 0);
  EXPECT_EQ(r->records, 0);
  EXPECT_EQ(r->window_from_unix_nanos, T("2025-06-25T14:09:00Z"));
  EXPECT_EQ(r->window_to_unix_nanos, T("2025-06-25T14:31:00Z"));
  EXPECT_EQ(r->window_done_unix_nanos, r->window_to_unix_nanos);
  EXPECT_EQ(progress, 3);  // ten-minute slices: 14:09-14:19, 14:19-14:29, 14:29-14:31
  EXPECT_EQ(r->step, "minute");
  o.layout.marshaler = Marshaler::kJsonLines;
  EXPECT_TRUE(RunBackfill(o, &engine).status().IsInvalid());
}

}  // namespace
}  // namespace otlake::archive
