#include "client/retry_after.h"

#include <gtest/gtest.h>

#include <ctime>

namespace berth::client {
namespace {

using std::chrono::seconds;
using std::chrono::system_clock;

// 1994-11-06 08:49:37 UTC, the RFC's example date.
system_clock::time_point rfc_example() { return system_clock::from_time_t(784111777); }

TEST(RetryAfter, DelaySeconds) {
  auto now = system_clock::now();
  EXPECT_EQ(parse_retry_after("0", now), seconds(0));
  EXPECT_EQ(parse_retry_after("120", now), seconds(120));
  EXPECT_EQ(parse_retry_after(" 7 ", now), seconds(7));
}

TEST(RetryAfter, HugeDelaysAreCappedAtADay) {
  auto now = system_clock::now();
  EXPECT_EQ(parse_retry_after("99999999999999999999999999", now), seconds(86400));
}

TEST(RetryAfter, AllThreeDateForms) {
  auto now = rfc_example() - seconds(30);
  EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now), seconds(30));
  EXPECT_EQ(parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", now), seconds(30));
  EXPECT_EQ(parse_retry_after("Sun Nov  6 08:49:37 1994", now), seconds(30));
  EXPECT_EQ(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), rfc_example());
}

TEST(RetryAfter, DatesInThePastMeanNow) {
  auto now = rfc_example() + seconds(3600);
  EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now), seconds(0));
}

TEST(RetryAfter, FractionsOfASecondRoundUp) {
  auto now = rfc_example() - std::chrono::milliseconds(1500);
  EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now), seconds(2));
}

TEST(RetryAfter, AnythingElseIsRefused) {
  auto now = system_clock::now();
  EXPECT_FALSE(parse_retry_after("", now));
  EXPECT_FALSE(parse_retry_after("-5", now));
  EXPECT_FALSE(parse_retry_after("1.5", now));
  EXPECT_FALSE(parse_retry_after("soon", now));
  EXPECT_FALSE(parse_retry_after("Sun, 06 Nov 1994 08:49:37 UTC", now));
  EXPECT_FALSE(parse_retry_after("Sun, 06 Foo 1994 08:49:37 GMT", now));
  EXPECT_FALSE(parse_retry_after("Sun, 06 Nov 1994 25:49:37 GMT", now));
  EXPECT_FALSE(parse_retry_after("Sun, 6 Nov 1994 08:49:37 GMT", now));
}

}  // namespace
}  // namespace berth::client
