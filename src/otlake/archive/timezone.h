// TimeZone: an IANA time zone read from the system tz database (/usr/share/zoneinfo, TZif
// versions 1-4), for rendering and listing archive partitions in `s3_partition_timezone`.
//
// Why not <chrono>: libstdc++ 12 (Debian 12's GCC and the clang-14 fuzz build) has no
// std::chrono::zoned_time / locate_zone, so the TZif files are parsed here. Times after the last
// transition in a file follow its POSIX TZ footer rule (for example "EST5EDT,M3.2.0,M11.1.0"), so
// "slim" zone files work as well as "fat" ones.
//
// Contract:
// - Load("") and Load("UTC") give UTC without touching the filesystem. Any other name must be a
//   relative IANA name (no "..", no leading '/'); a name that is missing or not a TZif file is
//   Status::Invalid naming it.
// - Lookup maps an instant to its UTC offset and abbreviation. LocalToUtc maps a wall-clock time
//   to an instant: in a repeated hour (fall back) the earlier instant, in a skipped hour (spring
//   forward) the wall time read with the offset in force before the change (so 02:30 on a New
//   York spring-forward day is 03:30 EDT).
// - Immutable after Load; copies share the parsed data; safe to use from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "otlake/common/status.h"

namespace otlake::archive {

/// The offset from UTC in force at an instant, and its abbreviation ("EDT", "IST", "UTC").
struct ZoneOffset {
  int32_t utc_offset_s = 0;
  std::string_view abbreviation;  // points into the TimeZone's data; valid while it lives
};

class TimeZone {
 public:
  /// UTC.
  TimeZone();

  /// Loads `name` ("" or "UTC" -> UTC) from `zoneinfo_dir` (the system tz database by default).
  static Result<TimeZone> Load(std::string_view name,
                               std::string_view zoneinfo_dir = "/usr/share/zoneinfo");

  /// Parses TZif bytes (exposed for tests); `name` is only recorded.
  static Result<TimeZone> FromTzif(std::string_view name, std::string_view bytes);

  /// The IANA name this zone was loaded as ("UTC" for the default).
  const std::string& name() const;

  /// The offset in force at `unix_s` (seconds since the epoch, UTC).
  ZoneOffset Lookup(int64_t unix_s) const;

  /// The instant of the wall-clock time `local_s` (seconds since the epoch as if the wall clock
  /// were UTC); see the contract above for skipped and repeated times.
  int64_t LocalToUtc(int64_t local_s) const;

  struct Data;

 private:
  explicit TimeZone(std::shared_ptr<const Data> data) : data_(std::move(data)) {}
  std::shared_ptr<const Data> data_;
};

/// Days since 1970-01-01 of a proleptic Gregorian date (month 1-12, day 1-31).
int64_t DaysFromCivil(int64_t year, int month, int day);

/// The date of a day number (days since 1970-01-01).
void CivilFromDays(int64_t days, int64_t* year, int* month, int* day);

}  // namespace otlake::archive
