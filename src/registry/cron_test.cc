#include "registry/cron.h"

#include <gtest/gtest.h>

namespace berth::registry {
namespace {

// 2026-12-03 00:00:00 UTC, a Thursday.
constexpr std::int64_t kThursday = 1796256000;
constexpr std::int64_t kMinute = 60;
constexpr std::int64_t kHour = 60 * kMinute;
constexpr std::int64_t kDay = 24 * kHour;

CronSchedule parsed(std::string_view text) {
  auto schedule = CronSchedule::parse(text);
  EXPECT_TRUE(schedule) << text;
  return schedule ? *schedule : *CronSchedule::parse("* * * * *");
}

TEST(CronSchedule, MatchesMinutesHoursAndSteps) {
  auto nightly = parsed("0 3 * * *");
  EXPECT_TRUE(nightly.matches(kThursday + 3 * kHour));
  EXPECT_FALSE(nightly.matches(kThursday + 3 * kHour + kMinute));
  EXPECT_EQ(nightly.next_between(kThursday, kThursday + kDay), kThursday + 3 * kHour);
  EXPECT_EQ(nightly.next_between(kThursday + 3 * kHour, kThursday + kDay), std::nullopt);

  auto quarter = parsed("*/15 * * * *");
  EXPECT_EQ(quarter.next_between(kThursday, kThursday + kHour), kThursday + 15 * kMinute);
  auto ranges = parsed("5-10/5,30 9-17 * * 1-5");
  EXPECT_TRUE(ranges.matches(kThursday + 9 * kHour + 10 * kMinute));
  EXPECT_TRUE(ranges.matches(kThursday + 17 * kHour + 30 * kMinute));
  EXPECT_FALSE(ranges.matches(kThursday + 9 * kHour + 15 * kMinute));
  // Saturday is not in 1-5.
  EXPECT_FALSE(ranges.matches(kThursday + 2 * kDay + 9 * kHour + 5 * kMinute));
}

TEST(CronSchedule, DayFieldsFollowCronsEitherRule) {
  // Sunday as 0 and as 7.
  EXPECT_TRUE(parsed("0 0 * * 0").matches(kThursday + 3 * kDay));
  EXPECT_TRUE(parsed("0 0 * * 7").matches(kThursday + 3 * kDay));
  // The 1st of the month or any Thursday.
  auto either = parsed("0 0 1 * 4");
  EXPECT_TRUE(either.matches(kThursday));
  EXPECT_FALSE(either.matches(kThursday + kDay));
  EXPECT_TRUE(parsed("0 0 3 12 *").matches(kThursday));
}

TEST(CronSchedule, RejectsWhatIsNotAFiveFieldExpression) {
  for (std::string_view bad :
       {"", "* * * *", "* * * * * *", "60 * * * *", "* 24 * * *", "* * 0 * *", "* * * 13 *",
        "* * * * 8", "*/0 * * * *", "5-1 * * * *", "a * * * *", "1,,2 * * * *"}) {
    EXPECT_FALSE(CronSchedule::parse(bad)) << bad;
  }
}

}  // namespace
}  // namespace berth::registry
