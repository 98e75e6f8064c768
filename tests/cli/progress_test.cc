// The progress display of the verbs that wait for a job: the line rewritten in place on a
// terminal, the plain lines elsewhere, the bar's text and the rate.

#include "cli/progress.h"

#include <gtest/gtest.h>

#include <sstream>

#include "test_env.h"

namespace berth::cli {
namespace {

using namespace std::chrono_literals;

TEST(ProgressLine, OnATerminalRewritesOneLineAndClearsItAtTheEnd) {
  std::ostringstream err;
  {
    ProgressLine line(err, /*terminal=*/true);
    line.note("not on a terminal");
    line.redraw("step 1");
    line.redraw("step 2");
  }
  EXPECT_EQ(err.str(), "\r\033[Kstep 1\r\033[Kstep 2\r\033[K");
}

TEST(ProgressLine, ElsewhereWritesPlainLinesOnly) {
  std::ostringstream err;
  {
    ProgressLine line(err, /*terminal=*/false);
    line.redraw("step 1");
    line.note("queued");
    line.note("running");
  }
  EXPECT_EQ(err.str(), "queued\nrunning\n");
}

TEST(ProgressLine, ClearsNothingItDidNotDraw) {
  std::ostringstream err;
  { ProgressLine line(err, /*terminal=*/true); }
  EXPECT_EQ(err.str(), "");
}

TEST(TransferProgress, BarPercentBytesRateAndEta) {
  constexpr std::uint64_t kMiB = 1024 * 1024;
  EXPECT_EQ(transfer_progress(10 * kMiB, 40 * kMiB, 2.0 * kMiB),
            "[#####---------------]  25%  10.0 MiB/40.0 MiB  2.0 MiB/s  ETA 0:15");
  EXPECT_EQ(transfer_progress(0, 40 * kMiB, std::nullopt),
            "[--------------------]   0%  0 B/40.0 MiB");
  EXPECT_EQ(transfer_progress(40 * kMiB, 40 * kMiB, 4.0 * kMiB),
            "[####################] 100%  40.0 MiB/40.0 MiB  4.0 MiB/s");
  // Before the server knows the total: the bytes only.
  EXPECT_EQ(transfer_progress(512, 0, std::nullopt), "512 B");
  // More done than planned (a retried blob) stays at a full bar.
  EXPECT_EQ(transfer_progress(50, 40, std::nullopt), "[####################] 100%  50 B/40 B");
}

TEST(TransferProgress, Durations) {
  EXPECT_EQ(duration_text(0s), "0:00");
  EXPECT_EQ(duration_text(7s), "0:07");
  EXPECT_EQ(duration_text(754s), "12:34");
  EXPECT_EQ(duration_text(3723s), "1:02:03");
}

TEST(RateMeter, BytesASecondSinceTheFirstSample) {
  RateMeter meter;
  const auto start = RateMeter::Clock::time_point{};
  EXPECT_FALSE(meter.bytes_per_second());
  meter.sample(1000, start);
  EXPECT_FALSE(meter.bytes_per_second());
  meter.sample(1000, start + 1s);  // nothing moved yet
  EXPECT_FALSE(meter.bytes_per_second());
  meter.sample(5000, start + 2s);
  ASSERT_TRUE(meter.bytes_per_second());
  EXPECT_DOUBLE_EQ(*meter.bytes_per_second(), 2000.0);
}

TEST(PollInterval, DefaultAndOverride) {
  EXPECT_EQ(poll_interval(testing::map_env({})), 1000ms);
  EXPECT_EQ(poll_interval(testing::map_env({{"BERTH_POLL_INTERVAL_MS", "5"}})), 5ms);
  EXPECT_EQ(poll_interval(testing::map_env({{"BERTH_POLL_INTERVAL_MS", "0"}})), 1000ms);
  EXPECT_EQ(poll_interval(testing::map_env({{"BERTH_POLL_INTERVAL_MS", "x"}})), 1000ms);
}

}  // namespace
}  // namespace berth::cli
