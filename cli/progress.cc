#include "cli/progress.h"

#include <fmt/format.h>

#include <ostream>

#include "cli/output.h"
#include "cli/validate.h"

namespace berth::cli {
namespace {

constexpr std::chrono::milliseconds kDefaultPoll{1000};
constexpr std::size_t kBarWidth = 20;

}  // namespace

void ProgressLine::redraw(std::string_view text) {
  if (!terminal_) return;
  // Carriage return, then erase to the end of the line: a shorter text leaves nothing behind.
  err_ << "\r\033[K" << text;
  err_.flush();
  drawn_ = true;
}

void ProgressLine::note(std::string_view text) {
  if (terminal_) return;
  err_ << text << '\n';
  err_.flush();
}

void ProgressLine::end() {
  if (!terminal_ || !drawn_) return;
  err_ << "\r\033[K";
  err_.flush();
  drawn_ = false;
}

std::chrono::milliseconds poll_interval(const Environment& env) {
  auto value = env.get("BERTH_POLL_INTERVAL_MS");
  if (!value) return kDefaultPoll;
  if (auto ms = parse_bounded_number(*value, 1, 60'000)) return std::chrono::milliseconds(*ms);
  return kDefaultPoll;
}

std::string duration_text(std::chrono::seconds duration) {
  const auto total = duration.count() < 0 ? 0 : duration.count();
  const auto hours = total / 3600, minutes = (total / 60) % 60, seconds = total % 60;
  if (hours > 0) return fmt::format("{}:{:02}:{:02}", hours, minutes, seconds);
  return fmt::format("{}:{:02}", minutes, seconds);
}

std::string transfer_progress(std::uint64_t done, std::uint64_t total,
                              std::optional<double> bytes_per_second) {
  std::string text;
  if (total > 0) {
    const std::uint64_t shown = done > total ? total : done;
    const auto filled = static_cast<std::size_t>(shown * kBarWidth / total);
    text += '[';
    text.append(filled, '#');
    text.append(kBarWidth - filled, '-');
    text += fmt::format("] {:3}%  {}/{}", shown * 100 / total, human_bytes(done),
                        human_bytes(total));
  } else {
    text += human_bytes(done);
  }
  if (bytes_per_second && *bytes_per_second > 0) {
    text += fmt::format("  {}/s", human_bytes(static_cast<std::uint64_t>(*bytes_per_second)));
    if (total > done) {
      const auto left = static_cast<double>(total - done) / *bytes_per_second;
      text += fmt::format("  ETA {}", duration_text(std::chrono::seconds(
                                          static_cast<std::int64_t>(left + 0.5))));
    }
  }
  return text;
}

void RateMeter::sample(std::uint64_t bytes_done, Clock::time_point now) {
  // The rate counts from the first sample: what was done before the verb watched is not part
  // of it.
  if (!first_) {
    first_.emplace(bytes_done, now);
    return;
  }
  last_.emplace(bytes_done, now);
}

std::optional<double> RateMeter::bytes_per_second() const {
  if (!first_ || !last_ || last_->first <= first_->first) return std::nullopt;
  const std::chrono::duration<double> elapsed = last_->second - first_->second;
  if (elapsed.count() <= 0) return std::nullopt;
  return static_cast<double>(last_->first - first_->first) / elapsed.count();
}

}  // namespace berth::cli
