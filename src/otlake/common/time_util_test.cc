#include "otlake/common/time_util.h"

#include <gtest/gtest.h>

namespace otlake {

TEST(TimeUtil, DatesAroundEpochAndLeapDays) {
  EXPECT_EQ(UtcDate(0), "1970-01-01");
  EXPECT_EQ(UtcDate(-1), "1969-12-31");  // floor, not truncation toward zero
  EXPECT_EQ(UtcDate(951782400000), "2000-02-29");
  EXPECT_EQ(UtcDate(1795305600000 - 1), "2026-11-21");
  EXPECT_EQ(UtcDate(1795305600000), "2026-11-22");
  EXPECT_EQ(UtcIso8601(1795305600123), "2026-11-22T00:00:00.123Z");
}

TEST(TimeUtil, ParseDateRoundTripsAndRejectsNonDates) {
  int64_t d = 0;
  ASSERT_TRUE(ParseDate("2026-11-22", &d));
  EXPECT_EQ(DaysToDate(d), "2026-11-22");
  ASSERT_TRUE(ParseDate("2024-02-29", &d));
  EXPECT_FALSE(ParseDate("2023-02-29", &d));
  EXPECT_FALSE(ParseDate("2026-13-01", &d));
  EXPECT_FALSE(ParseDate("2026-1-01", &d));
  EXPECT_FALSE(ParseDate("../../etc", &d));
}

}  // namespace otlake
