// UTC calendar helpers (no time zones, no locale): days since the epoch <-> "YYYY-MM-DD", and
// ISO-8601 timestamps. Valid for the whole int64 millisecond range used by otlake.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace otlake {

/// Floor division of a Unix time in ms into days since 1970-01-01.
int64_t UnixMsToDays(int64_t unix_ms);

/// "YYYY-MM-DD" of a day number (days since 1970-01-01).
std::string DaysToDate(int64_t days);

/// "YYYY-MM-DD" (UTC) of a Unix time in ms.
inline std::string UtcDate(int64_t unix_ms) { return DaysToDate(UnixMsToDays(unix_ms)); }

/// Parses "YYYY-MM-DD" into days since the epoch; false if malformed or not a real date.
bool ParseDate(std::string_view date, int64_t* days);

/// "YYYY-MM-DDTHH:MM:SS.mmmZ" of a Unix time in ms.
std::string UtcIso8601(int64_t unix_ms);

/// Wall clock, Unix time, shifted by OTLAKE_CLOCK_OFFSET_MS (read once; 0 when unset). The offset
/// exists for tests that need "yesterday" or a UTC rollover a few seconds away with the real
/// binary; every arrival time, day choice and schedule goes through this clock.
int64_t NowUnixNanos();
/// The offset applied by NowUnixNanos, in ms.
int64_t ClockOffsetMs();
inline int64_t NowUnixMillis() { return NowUnixNanos() / 1000000; }

}  // namespace otlake
