#include "otlake/archive/layout.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace otlake::archive {
namespace {

constexpr int64_t kNs = 1000000000;

// Unix nanoseconds of a UTC date and time.
int64_t Utc(int y, int mo, int d, int h = 0, int mi = 0, int s = 0, int64_t nanos = 0) {
  return (DaysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s) * kNs + nanos;
}

TimeZone Zone(const char* name) {
  auto tz = TimeZone::Load(name);
  EXPECT_TRUE(tz.ok()) << tz.status().ToString();
  return tz.ok() ? *tz : TimeZone();
}

void ExpectInvalid(const Status& st, const std::string& needle) {
  EXPECT_TRUE(st.IsInvalid()) << st.ToString();
  EXPECT_NE(st.message().find(needle), std::string::npos)
      << "'" << st.message() << "' does not mention '" << needle << "'";
}

// Default options with one field set.
template <typename T, typename V>
KeyLayoutOptions With(T KeyLayoutOptions::*field, V value) {
  KeyLayoutOptions o;
  o.*field = value;
  return o;
}

std::vector<std::string> Partitions(const WindowListing& w) {
  std::vector<std::string> out;
  for (const auto& p : w.partitions) out.push_back(p.partition);
  return out;
}

// ---- the seed example --------------------------------------------------------------------------

TEST(Layout, SeedKeyRoundTrips) {
  const std::string key = "year=2025/month=06/day=25/hour=14/minute=09/traces_312302042.json";
  auto name = ParseObjectName(key);
  ASSERT_TRUE(name.ok()) << name.status().ToString();
  EXPECT_EQ(name->signal, Signal::kTraces);
  EXPECT_EQ(name->marshaler, Marshaler::kOtlpJson);
  EXPECT_EQ(name->compression, Compression::kNone);
  EXPECT_EQ(name->unique, "312302042");

  auto layout = KeyLayout::Make({});  // every setting at the Collector's default (tz: UTC)
  ASSERT_TRUE(layout.ok()) << layout.status().ToString();
  EXPECT_EQ(layout->Key(Utc(2025, 6, 25, 14, 9, 41, 5), Signal::kTraces, "312302042"), key);
}

TEST(Layout, KeysForEveryMarshalerCompressionAndPrefix) {
  KeyLayoutOptions o;
  o.marshaler = Marshaler::kOtlpProto;
  o.compression = Compression::kZstd;
  auto l = KeyLayout::Make(o);
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->Key(Utc(2025, 2, 23, 22, 34), Signal::kLogs, "235895800"),
            "year=2025/month=02/day=23/hour=22/minute=34/logs_235895800.binpb.zst");

  o = {};
  o.compression = Compression::kGzip;
  o.s3_prefix = "baz";
  o.s3_partition_format = "%Y/%m/%d/%H/%M";
  l = KeyLayout::Make(o);
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->Key(Utc(2025, 2, 23, 22, 33), Signal::kLogs, "134704167"),
            "baz/2025/02/23/22/33/logs_134704167.json.gz");

  // s3_base_prefix then s3_prefix; path.Join drops empty parts and doubled or trailing slashes.
  o = {};
  o.s3_base_prefix = "environment/prod/";
  o.s3_prefix = "/metric//";
  o.file_prefix = "otel-";
  o.s3_partition_format = "%Y/%m/%d/%H/%M";
  l = KeyLayout::Make(o);
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->Key(Utc(2025, 1, 2, 3, 4), Signal::kMetrics, "0190a3c4-5b6e-7f00-8a1b-2c3d4e5f6a7b"),
            "environment/prod/metric/2025/01/02/03/04/"
            "otel-metrics_0190a3c4-5b6e-7f00-8a1b-2c3d4e5f6a7b.json");

  EXPECT_EQ(JoinKey({"", "a/", "/b", "./c/../d"}), "a/b/d");
  EXPECT_EQ(JoinKey({"/root", "x"}), "/root/x");
  EXPECT_EQ(JoinKey({"", ""}), "");
}

TEST(Layout, ParseObjectNames) {
  struct Case {
    const char* key;
    const char* file_prefix;
    Signal signal;
    Marshaler marshaler;
    Compression compression;
    const char* unique;
  };
  const Case cases[] = {
      {"a/b/logs_1.json.gz", "", Signal::kLogs, Marshaler::kOtlpJson, Compression::kGzip, "1"},
      {"metrics_u.binpb", "", Signal::kMetrics, Marshaler::kOtlpProto, Compression::kNone, "u"},
      {"x/traces_9.binpb.zst", "", Signal::kTraces, Marshaler::kOtlpProto, Compression::kZstd,
       "9"},
      {"p/filelogs_42.jsonl", "file", Signal::kLogs, Marshaler::kJsonLines, Compression::kNone,
       "42"},
      {"p/filetraces_42.jsonl.zst", "file", Signal::kTraces, Marshaler::kJsonLines,
       Compression::kZstd, "42"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.key);
    auto n = ParseObjectName(c.key, c.file_prefix);
    ASSERT_TRUE(n.ok()) << n.status().ToString();
    EXPECT_EQ(n->signal, c.signal);
    EXPECT_EQ(n->marshaler, c.marshaler);
    EXPECT_EQ(n->compression, c.compression);
    EXPECT_EQ(n->unique, c.unique);
  }
  ExpectInvalid(ParseObjectName("a/spans_1.json").status(), "traces_, logs_ or metrics_");
  ExpectInvalid(ParseObjectName("a/traces_1.txt").status(), "unsupported file format");
  ExpectInvalid(ParseObjectName("a/traces_1.gz").status(), "unsupported file format");
  ExpectInvalid(ParseObjectName("a/traces_.json").status(), "no unique part");
  ExpectInvalid(ParseObjectName("a/traces_1.json", "file").status(), "file_prefix 'file'");
  ExpectInvalid(ParseObjectName("a/traces_1.json/").status(), "not an archive object");
  // A directory named like an object does not make the object one.
  ExpectInvalid(ParseObjectName("traces_1.json/readme.md").status(), "not an archive object");
}

// ---- directives --------------------------------------------------------------------------------

TEST(Layout, EveryDirective) {
  const TimeZone utc;
  const int64_t t = Utc(2025, 6, 25, 14, 9, 7, 123456789);  // a Wednesday
  const std::vector<std::pair<const char*, const char*>> cases = {
      {"%Y", "2025"}, {"%y", "25"}, {"%C", "20"}, {"%G", "2025"}, {"%g", "25"}, {"%m", "06"},
      {"%B", "June"}, {"%b", "Jun"}, {"%h", "Jun"}, {"%d", "25"}, {"%e", "25"}, {"%j", "176"},
      {"%a", "Wed"}, {"%A", "Wednesday"}, {"%u", "3"}, {"%w", "3"}, {"%U", "25"}, {"%W", "25"},
      {"%V", "26"}, {"%H", "14"}, {"%k", "14"}, {"%I", "02"}, {"%l", " 2"}, {"%p", "PM"},
      {"%M", "09"}, {"%S", "07"}, {"%s", "1750860547"}, {"%f", "123456"},
      {"%D", "06/25/25"}, {"%x", "06/25/25"}, {"%F", "2025-06-25"}, {"%v", "25-Jun-2025"},
      {"%R", "14:09"}, {"%T", "14:09:07"}, {"%X", "14:09:07"}, {"%r", "02:09:07 PM"},
      {"%c", "Wed Jun 25 14:09:07 2025"}, {"%z", "+0000"}, {"%:z", "+00:00"},
      {"%::z", "+00:00:00"}, {"%Z", "UTC"}, {"%n", "\n"}, {"%t", "\t"}, {"%%", "%"},
      // flags: no padding, space padding, zero padding, upper case, width
      {"%-m/%-d/%-H", "6/25/14"}, {"%_m", " 6"}, {"%0e", "25"}, {"%^a %^B", "WED JUNE"},
      {"%6Y", "002025"}, {"%-j", "176"},
      {"literal-only", "literal-only"}, {"", ""},
  };
  for (const auto& [format, want] : cases) {
    EXPECT_TRUE(ValidatePartitionFormat(format).ok()) << format;
    EXPECT_EQ(FormatPartition(format, t, utc), want) << format;
  }
  // Early January: ISO week of the previous year, Sunday-first and Monday-first weeks, padding.
  const int64_t jan = Utc(2021, 1, 3, 0, 5);  // a Sunday
  const std::vector<std::pair<const char*, const char*>> jan_cases = {
      {"%G", "2020"}, {"%g", "20"}, {"%V", "53"}, {"%U", "01"}, {"%W", "00"}, {"%u", "7"},
      {"%w", "0"},    {"%j", "003"}, {"%e", " 3"}, {"%k", " 0"}, {"%l", "12"}, {"%I", "12"},
      {"%p", "AM"},   {"%_d", " 3"}, {"%-e", "3"}, {"%d", "03"},
  };
  for (const auto& [format, want] : jan_cases) {
    EXPECT_EQ(FormatPartition(format, jan, utc), want) << format;
  }
  // Before the epoch.
  EXPECT_EQ(FormatPartition("%F %T", Utc(1969, 12, 31, 23, 59, 59), utc), "1969-12-31 23:59:59");
}

TEST(Layout, UnknownDirectivesAreRefusedNamingTheSetting) {
  ExpectInvalid(ValidatePartitionFormat("year=%Y/%Q"), "s3_partition_format: unknown directive %Q");
  ExpectInvalid(ValidatePartitionFormat("%Y/%Ey"), "%E");  // E/O modifiers are not supported
  ExpectInvalid(ValidatePartitionFormat("%Y/%"), "'%' at the end");
  ExpectInvalid(ValidatePartitionFormat("%:H"), "%:H");
  auto l = KeyLayout::Make(With(&KeyLayoutOptions::s3_partition_format, "%Y/%K"));
  ExpectInvalid(l.status(), "s3_partition_format");
}

// ---- time zones --------------------------------------------------------------------------------

TEST(TimeZone, NewYorkAcrossBothDstChanges) {
  const TimeZone ny = Zone("America/New_York");
  const char* f = "%Y-%m-%d %H:%M %Z %z";
  // 2025-03-09: 02:00 EST becomes 03:00 EDT (07:00 UTC).
  EXPECT_EQ(FormatPartition(f, Utc(2025, 3, 9, 6, 59), ny), "2025-03-09 01:59 EST -0500");
  EXPECT_EQ(FormatPartition(f, Utc(2025, 3, 9, 7, 0), ny), "2025-03-09 03:00 EDT -0400");
  // 2025-11-02: 02:00 EDT becomes 01:00 EST (06:00 UTC); 01:30 happens twice.
  EXPECT_EQ(FormatPartition(f, Utc(2025, 11, 2, 5, 30), ny), "2025-11-02 01:30 EDT -0400");
  EXPECT_EQ(FormatPartition(f, Utc(2025, 11, 2, 6, 30), ny), "2025-11-02 01:30 EST -0500");
  // Past the file's transitions, the POSIX footer rule (EST5EDT,M3.2.0,M11.1.0) applies.
  EXPECT_EQ(FormatPartition(f, Utc(2100, 7, 1, 12), ny), "2100-07-01 08:00 EDT -0400");
  EXPECT_EQ(FormatPartition(f, Utc(2100, 12, 1, 12), ny), "2100-12-01 07:00 EST -0500");
  EXPECT_EQ(FormatPartition(f, Utc(2100, 3, 14, 7), ny), "2100-03-14 03:00 EDT -0400");

  // Wall time -> instant: a repeated time is the earlier instant, a skipped one is read with the
  // offset before the change.
  const int64_t local_0130 = DaysFromCivil(2025, 11, 2) * 86400 + 5400;
  EXPECT_EQ(ny.LocalToUtc(local_0130) * kNs, Utc(2025, 11, 2, 5, 30));
  const int64_t local_0230 = DaysFromCivil(2025, 3, 9) * 86400 + 9000;
  EXPECT_EQ(ny.LocalToUtc(local_0230) * kNs, Utc(2025, 3, 9, 7, 30));
  EXPECT_EQ(ny.name(), "America/New_York");
}

TEST(TimeZone, KolkataHalfHourOffset) {
  const TimeZone ist = Zone("Asia/Kolkata");
  EXPECT_EQ(FormatPartition("%H:%M %Z %:z", Utc(2025, 6, 25, 14, 9), ist), "19:39 IST +05:30");
  auto l = KeyLayout::Make(With(&KeyLayoutOptions::s3_partition_timezone, "Asia/Kolkata"));
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->Key(Utc(2025, 6, 25, 18, 45), Signal::kLogs, "1"),
            "year=2025/month=06/day=26/hour=00/minute=15/logs_1.json");
}

TEST(TimeZone, SlimFileUsesTheFooterRule) {
  // A hand-built TZif v2 file with no transitions at all, only the footer: every time follows
  // the POSIX rule (southern hemisphere, so DST spans the new year).
  auto put_counts = [](std::string* h, uint32_t typecnt, uint32_t charcnt) {
    auto put = [&](int at, uint32_t v) {
      for (int i = 0; i < 4; ++i) (*h)[at + i] = static_cast<char>(v >> (24 - 8 * i));
    };
    put(20, 0); put(24, 0); put(28, 0); put(32, 0); put(36, typecnt); put(40, charcnt);
  };
  std::string h(44, '\0');
  h.replace(0, 5, "TZif2");
  put_counts(&h, 1, 4);
  const std::string ttinfo("\x00\x00\x8c\xa0\x00\x00", 6);  // +10:00, std, abbr 0
  const std::string chars("AEST", 4);
  const std::string file = h + ttinfo + chars + h + ttinfo + chars + "\nAEST-10AEDT,M10.1.0,M4.1.0/3\n";
  auto tz = TimeZone::FromTzif("Australia/Test", file);
  ASSERT_TRUE(tz.ok()) << tz.status().ToString();
  EXPECT_EQ(FormatPartition("%H %Z", Utc(2025, 1, 15, 0), *tz), "11 AEDT");
  EXPECT_EQ(FormatPartition("%H %Z", Utc(2025, 7, 15, 0), *tz), "10 AEST");
  EXPECT_FALSE(TimeZone::FromTzif("x", file.substr(0, 30)).ok());
  EXPECT_FALSE(TimeZone::FromTzif("x", "not a tzif file at all, really not").ok());
}

TEST(TimeZone, BadNames) {
  ExpectInvalid(TimeZone::Load("Mars/Olympus_Mons").status(), "unknown time zone 'Mars/Olympus_Mons'");
  ExpectInvalid(TimeZone::Load("../../etc/passwd").status(), "unknown time zone");
  ExpectInvalid(TimeZone::Load("/etc/passwd").status(), "unknown time zone");
  ExpectInvalid(KeyLayout::Make(With(&KeyLayoutOptions::s3_partition_timezone, "Nowhere")).status(),
                "s3_partition_timezone: unknown time zone 'Nowhere'");
  auto utc = TimeZone::Load("UTC");
  ASSERT_TRUE(utc.ok());
  EXPECT_EQ(utc->Lookup(0).utc_offset_s, 0);
}

// ---- window times ------------------------------------------------------------------------------

TEST(Window, ParsesTheReceiverTimeFormats) {
  const TimeZone utc;
  const TimeZone ist = Zone("Asia/Kolkata");
  struct Case {
    const char* text;
    const TimeZone* tz;
    int64_t want;
  };
  const Case cases[] = {
      {"2025-06-25T14:09:00Z", &utc, Utc(2025, 6, 25, 14, 9)},
      {"2025-06-25T14:09:00Z", &ist, Utc(2025, 6, 25, 14, 9)},  // RFC 3339 carries its offset
      {"2025-06-25t14:09:00.5z", &utc, Utc(2025, 6, 25, 14, 9, 0, 500000000)},
      {"2025-06-25T14:09:00.123456789123-01:00", &utc, Utc(2025, 6, 25, 15, 9, 0, 123456789)},
      {"2025-06-25T14:09:00+05:30", &utc, Utc(2025, 6, 25, 8, 39)},
      {"2025-06-25 14:09", &utc, Utc(2025, 6, 25, 14, 9)},
      {"2025-06-25 14:09", &ist, Utc(2025, 6, 25, 8, 39)},
      {"2025-06-25", &utc, Utc(2025, 6, 25)},
      {"2025-06-25", &ist, Utc(2025, 6, 24, 18, 30)},
      {"2024-02-29", &utc, Utc(2024, 2, 29)},
  };
  for (const Case& c : cases) {
    auto t = ParseWindowTime(c.text, *c.tz, "starttime");
    ASSERT_TRUE(t.ok()) << c.text << ": " << t.status().ToString();
    EXPECT_EQ(*t, c.want) << c.text;
  }
  for (const char* bad : {"", "2025-06-25T14:09Z", "2025-13-01", "2025-02-29", "2025-06-25 24:00",
                          "2025-06-25 14:09:00", "2025/06/25", "2025-06-25T14:09:00",
                          "2025-06-25T14:09:00+0530", "2025-06-25T14:09:00Zjunk", "yesterday",
                          "2025-06-25T14:09:00.Z"}) {
    ExpectInvalid(ParseWindowTime(bad, utc, "endtime").status(), "endtime: '");
  }
}

// ---- window listing ----------------------------------------------------------------------------

TEST(Window, StepIsTheFinestUnitInTheFormat) {
  const std::vector<std::pair<std::string, Step>> cases = {
      {std::string(kDefaultPartitionFormat), Step::kMinute},
      {"%Y/%m/%d/%H/%M", Step::kMinute}, {"%F/%R", Step::kMinute}, {"%Y/%m/%d/%H", Step::kHour},
      {"%Y%m%d%I%p", Step::kHour}, {"dt=%F", Step::kDay}, {"%G/W%V", Step::kDay},
      {"%Y/%j", Step::kDay}, {"%Y/%m", Step::kMonth}, {"%Y/%b", Step::kMonth},
      {"year=%Y", Step::kYear}, {"%C%y", Step::kYear},
  };
  for (const auto& [format, step] : cases) {
    auto s = InferStep(format);
    ASSERT_TRUE(s.ok()) << format << ": " << s.status().ToString();
    EXPECT_EQ(*s, step) << format;
  }
  ExpectInvalid(InferStep("%Y/%m/%d/%H/%M/%S").status(), "seconds or finer");
  ExpectInvalid(InferStep("%F %T").status(), "seconds or finer");
  ExpectInvalid(InferStep("static/prefix").status(), "no time directive");
  ExpectInvalid(InferStep("%Y/%Q").status(), "unknown directive %Q");
}

TEST(Window, MinuteStepMatchesTheReceiversPrefixes) {
  WindowOptions o;
  o.s3_prefix = "prefix";
  o.file_prefix = "file";
  o.starttime = "2021-02-02T02:32:00Z";
  o.endtime = "2021-02-02T02:35:00Z";
  auto w = ListWindow(o, Signal::kLogs);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(w->step, Step::kMinute);
  ASSERT_EQ(w->partitions.size(), 3u);
  EXPECT_EQ(w->partitions[0].list_prefix,
            "prefix/year=2021/month=02/day=02/hour=02/minute=32/filelogs_");
  EXPECT_EQ(w->partitions[2].list_prefix,
            "prefix/year=2021/month=02/day=02/hour=02/minute=34/filelogs_");
  EXPECT_EQ(w->partitions[1].start_unix_nanos, Utc(2021, 2, 2, 2, 33));

  // Without telemetry type and without s3_prefix; a trailing slash does not double.
  o.file_prefix_include_telemetry_type = false;
  o.file_prefix = "";
  o.s3_prefix = "logs/";
  w = ListWindow(o, Signal::kLogs);
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->partitions[0].list_prefix, "logs/year=2021/month=02/day=02/hour=02/minute=32/");
  o.s3_prefix = "";
  w = ListWindow(o, Signal::kLogs);
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->partitions[0].list_prefix, "year=2021/month=02/day=02/hour=02/minute=32/");

  // A start inside a minute still lists that minute; the end is exclusive.
  o.starttime = "2021-02-02T02:32:30Z";
  o.endtime = "2021-02-02T02:34:00.000000001Z";
  w = ListWindow(o, Signal::kTraces);
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(Partitions(*w), (std::vector<std::string>{
                                "year=2021/month=02/day=02/hour=02/minute=32",
                                "year=2021/month=02/day=02/hour=02/minute=33",
                                "year=2021/month=02/day=02/hour=02/minute=34"}));
  EXPECT_EQ(w->partitions[0].start_unix_nanos, Utc(2021, 2, 2, 2, 32, 30));
}

TEST(Window, HourDayMonthYearSteps) {
  WindowOptions o;
  o.s3_partition_format = "%Y/%m/%d/%H";
  o.starttime = "2025-06-25 22:30";
  o.endtime = "2025-06-26 01:00";
  auto w = ListWindow(o, Signal::kTraces);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(w->step, Step::kHour);
  EXPECT_EQ(Partitions(*w), (std::vector<std::string>{"2025/06/25/22", "2025/06/25/23",
                                                       "2025/06/26/00"}));

  o.s3_partition_format = "dt=%F";
  o.starttime = "2025-02-27 12:00";
  o.endtime = "2025-03-02";
  w = ListWindow(o, Signal::kTraces);
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->step, Step::kDay);
  EXPECT_EQ(Partitions(*w),
            (std::vector<std::string>{"dt=2025-02-27", "dt=2025-02-28", "dt=2025-03-01"}));

  o.s3_partition_format = "%Y/%m";
  o.starttime = "2024-11-30";
  o.endtime = "2025-02-01";
  w = ListWindow(o, Signal::kTraces);
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->step, Step::kMonth);
  EXPECT_EQ(Partitions(*w), (std::vector<std::string>{"2024/11", "2024/12", "2025/01"}));

  o.s3_partition_format = "year=%Y";
  o.starttime = "2023-06-01";
  o.endtime = "2025-01-01T00:00:00Z";
  w = ListWindow(o, Signal::kTraces);
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->step, Step::kYear);
  EXPECT_EQ(Partitions(*w), (std::vector<std::string>{"year=2023", "year=2024"}));

  // Weeks step by day; each week is listed once.
  o.s3_partition_format = "%G-W%V";
  o.starttime = "2025-06-20";
  o.endtime = "2025-07-01";
  w = ListWindow(o, Signal::kTraces);
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(Partitions(*w), (std::vector<std::string>{"2025-W25", "2025-W26", "2025-W27"}));

  // A format without the day lists each hour-of-day once even over several days.
  o.s3_partition_format = "hour=%H";
  o.starttime = "2025-06-20";
  o.endtime = "2025-06-23";
  w = ListWindow(o, Signal::kTraces);
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->partitions.size(), 24u);
}

TEST(Window, NewYorkDstChangesListEachPartitionOnceInOrder) {
  WindowOptions o;
  o.s3_partition_timezone = "America/New_York";
  o.s3_partition_format = "%Y%m%d%H";
  o.starttime = "2025-03-09 00:00";  // local time
  o.endtime = "2025-03-09 05:00";
  auto w = ListWindow(o, Signal::kTraces);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(Partitions(*w), (std::vector<std::string>{"2025030900", "2025030901", "2025030903",
                                                       "2025030904"}));  // 02:00 never exists
  EXPECT_EQ(w->start_unix_nanos, Utc(2025, 3, 9, 5));
  EXPECT_EQ(w->partitions[2].start_unix_nanos, Utc(2025, 3, 9, 7));

  o.starttime = "2025-11-02 00:00";
  o.endtime = "2025-11-02 03:00";  // four hours of real time
  w = ListWindow(o, Signal::kTraces);
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(Partitions(*w), (std::vector<std::string>{"2025110200", "2025110201", "2025110202"}));
  EXPECT_EQ(w->end_unix_nanos - w->start_unix_nanos, 4 * 3600 * kNs);

  // Days of 23 and 25 hours are still one partition each.
  o.s3_partition_format = "%F";
  o.starttime = "2025-03-08";
  o.endtime = "2025-03-11";
  w = ListWindow(o, Signal::kTraces);
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(Partitions(*w),
            (std::vector<std::string>{"2025-03-08", "2025-03-09", "2025-03-10"}));
  EXPECT_EQ(w->partitions[2].start_unix_nanos, Utc(2025, 3, 10, 4));  // midnight EDT
}

TEST(Window, KolkataHoursStartOnTheHalfHourUtc) {
  WindowOptions o;
  o.s3_partition_timezone = "Asia/Kolkata";
  o.starttime = "2025-06-25 14:00";
  o.endtime = "2025-06-25T10:30:00Z";  // 16:00 IST
  o.s3_partition_format = "%Y/%m/%d/%H";
  auto w = ListWindow(o, Signal::kMetrics);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(Partitions(*w), (std::vector<std::string>{"2025/06/25/14", "2025/06/25/15"}));
  EXPECT_EQ(w->partitions[1].start_unix_nanos, Utc(2025, 6, 25, 9, 30));
  EXPECT_EQ(w->partitions[1].list_prefix, "2025/06/25/15/metrics_");
}

TEST(Window, BadSettingsAreNamed) {
  WindowOptions o;
  o.starttime = "2025-06-25 14:00";
  o.endtime = "2025-06-25 13:00";
  ExpectInvalid(ListWindow(o, Signal::kTraces).status(), "endtime: '2025-06-25 13:00' is not after");
  o.endtime = o.starttime;
  ExpectInvalid(ListWindow(o, Signal::kTraces).status(), "endtime");
  o.endtime = "2025-06-25 15:00";
  o.starttime = "25-06-2025";
  ExpectInvalid(ListWindow(o, Signal::kTraces).status(), "starttime: '25-06-2025'");
  o.starttime = "";
  ExpectInvalid(ListWindow(o, Signal::kTraces).status(), "starttime: required");
  o.starttime = "2025-06-25 14:00";
  o.s3_partition_format = "%Y/%q";
  ExpectInvalid(ListWindow(o, Signal::kTraces).status(), "s3_partition_format: unknown directive %q");
  o.s3_partition_format = std::string(kDefaultPartitionFormat);
  o.s3_partition_timezone = "Europe/Nowhere";
  ExpectInvalid(ListWindow(o, Signal::kTraces).status(), "s3_partition_timezone");
  o.s3_partition_timezone = "";
  o.file_prefix = "a/b";
  ExpectInvalid(ListWindow(o, Signal::kTraces).status(), "file_prefix");
  o.file_prefix = "";
  o.starttime = "2024-01-01";
  o.endtime = "2025-01-01";
  o.max_partitions = 100000;  // a year of minutes is 527,040
  ExpectInvalid(ListWindow(o, Signal::kTraces).status(), "more than 100000 partitions of one minute");
}

TEST(Layout, SettingsParsers) {
  EXPECT_EQ(*ParseMarshaler("otlp_json"), Marshaler::kOtlpJson);
  EXPECT_EQ(*ParseMarshaler("otlp_proto"), Marshaler::kOtlpProto);
  ExpectInvalid(ParseMarshaler("sumo_ic").status(), "marshaler: 'sumo_ic'");
  EXPECT_EQ(*ParseCompression(""), Compression::kNone);
  EXPECT_EQ(*ParseCompression("gzip"), Compression::kGzip);
  EXPECT_EQ(*ParseCompression("zstd"), Compression::kZstd);
  ExpectInvalid(ParseCompression("lz4").status(), "unknown compression type 'lz4'");
  ExpectInvalid(KeyLayout::Make(With(&KeyLayoutOptions::marshaler, Marshaler::kJsonLines)).status(),
                "marshaler: jsonl");
}

}  // namespace
}  // namespace otlake::archive
