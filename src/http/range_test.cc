#include "http/range.h"

#include <gtest/gtest.h>

namespace berth::http {
namespace {

ByteRange range_of(const RangeRequest& request) {
  EXPECT_TRUE(std::holds_alternative<ByteRange>(request));
  return std::holds_alternative<ByteRange>(request) ? std::get<ByteRange>(request) : ByteRange{};
}
bool ignored(const RangeRequest& request) {
  return std::holds_alternative<RangeIgnored>(request);
}
bool unsatisfiable(const RangeRequest& request) {
  return std::holds_alternative<RangeUnsatisfiable>(request);
}

TEST(ParseRange, FirstLast) {
  EXPECT_EQ(range_of(parse_range("bytes=0-99", 1000)), (ByteRange{0, 99}));
  EXPECT_EQ(range_of(parse_range("bytes=10-10", 1000)), (ByteRange{10, 10}));
  EXPECT_EQ(range_of(parse_range(" bytes= 5 - 9 ", 1000)), (ByteRange{5, 9}));
  EXPECT_EQ(range_of(parse_range("bytes=0-99", 1000)).length(), 100u);
}

TEST(ParseRange, OpenEnded) {
  EXPECT_EQ(range_of(parse_range("bytes=100-", 1000)), (ByteRange{100, 999}));
  EXPECT_EQ(range_of(parse_range("bytes=999-", 1000)), (ByteRange{999, 999}));
}

TEST(ParseRange, Suffix) {
  EXPECT_EQ(range_of(parse_range("bytes=-100", 1000)), (ByteRange{900, 999}));
  EXPECT_EQ(range_of(parse_range("bytes=-5000", 1000)), (ByteRange{0, 999}));
  EXPECT_TRUE(unsatisfiable(parse_range("bytes=-0", 1000)));
}

TEST(ParseRange, ClampsLastToTheEnd) {
  EXPECT_EQ(range_of(parse_range("bytes=500-5000", 1000)), (ByteRange{500, 999}));
  EXPECT_EQ(range_of(parse_range("bytes=0-18446744073709551615", 10)), (ByteRange{0, 9}));
}

TEST(ParseRange, Unsatisfiable) {
  EXPECT_TRUE(unsatisfiable(parse_range("bytes=1000-", 1000)));
  EXPECT_TRUE(unsatisfiable(parse_range("bytes=1000-2000", 1000)));
  EXPECT_TRUE(unsatisfiable(parse_range("bytes=0-0", 0)));
  EXPECT_TRUE(unsatisfiable(parse_range("bytes=-1", 0)));
  EXPECT_TRUE(unsatisfiable(parse_range("bytes=0-", 0)));
}

TEST(ParseRange, MalformedIsIgnored) {
  EXPECT_TRUE(ignored(parse_range("", 1000)));
  EXPECT_TRUE(ignored(parse_range("bytes=", 1000)));
  EXPECT_TRUE(ignored(parse_range("bytes=-", 1000)));
  EXPECT_TRUE(ignored(parse_range("bytes=abc-def", 1000)));
  EXPECT_TRUE(ignored(parse_range("bytes=5", 1000)));
  EXPECT_TRUE(ignored(parse_range("bytes=9-5", 1000)));
  EXPECT_TRUE(ignored(parse_range("items=0-5", 1000)));
  EXPECT_TRUE(ignored(parse_range("bytes=+1-5", 1000)));
  EXPECT_TRUE(ignored(parse_range("bytes=1--5", 1000)));
}

TEST(ParseRange, MultiRangeIsIgnored) {
  EXPECT_TRUE(ignored(parse_range("bytes=0-1,5-9", 1000)));
  EXPECT_TRUE(ignored(parse_range("bytes=0-1, -5", 1000)));
}

TEST(ParseRange, OverflowingDigitsAreIgnored) {
  EXPECT_TRUE(ignored(parse_range("bytes=18446744073709551616-", 1000)));
  EXPECT_TRUE(ignored(parse_range("bytes=0-99999999999999999999999", 1000)));
  EXPECT_TRUE(ignored(parse_range("bytes=-18446744073709551616", 1000)));
}

TEST(ParseContentRange, DistributionForm) {
  EXPECT_EQ(parse_content_range("0-99"), (ByteRange{0, 99}));
  EXPECT_EQ(parse_content_range("100-100"), (ByteRange{100, 100}));
}

TEST(ParseContentRange, RfcForms) {
  EXPECT_EQ(parse_content_range("bytes 0-99"), (ByteRange{0, 99}));
  EXPECT_EQ(parse_content_range("bytes 0-99/1000"), (ByteRange{0, 99}));
  EXPECT_EQ(parse_content_range("bytes 0-99/*"), (ByteRange{0, 99}));
  EXPECT_EQ(parse_content_range("bytes=5-9"), (ByteRange{5, 9}));
}

TEST(ParseContentRange, Malformed) {
  EXPECT_FALSE(parse_content_range(""));
  EXPECT_FALSE(parse_content_range("5"));
  EXPECT_FALSE(parse_content_range("-5"));
  EXPECT_FALSE(parse_content_range("5-"));
  EXPECT_FALSE(parse_content_range("9-5"));
  EXPECT_FALSE(parse_content_range("a-b"));
  EXPECT_FALSE(parse_content_range("bytes 0-99/abc"));
  EXPECT_FALSE(parse_content_range("0-18446744073709551616"));
}

}  // namespace
}  // namespace berth::http

namespace berth::http {
namespace {

// Found by fuzzing: a last byte of 2^64-1 made length() wrap to zero.
TEST(ContentRangeOverflow, LastByteAtTheTopOfTheRangeIsRefused) {
  EXPECT_FALSE(parse_content_range("0-18446744073709551615"));
  EXPECT_FALSE(parse_content_range("bytes 0-18446744073709551615/*"));
  EXPECT_TRUE(parse_content_range("0-18446744073709551614"));
}

}  // namespace
}  // namespace berth::http
