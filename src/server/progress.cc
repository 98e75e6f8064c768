#include "server/progress.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>

namespace berth::server {
namespace {

constexpr std::size_t kBarWidth = 20;
// Before this much time has passed the rate says little and no ETA is shown.
constexpr std::chrono::milliseconds kRateWarmUp{1000};

double seconds_between(Progress::Clock::time_point from, Progress::Clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

}  // namespace

std::string format_bytes(std::uint64_t bytes) {
  static constexpr std::array<const char*, 6> kUnits = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (bytes < 1024) return fmt::format("{} B", bytes);
  double value = static_cast<double>(bytes) / 1024.0;
  std::size_t unit = 0;
  while (value >= 1024.0 && unit + 1 < kUnits.size()) {
    value /= 1024.0;
    ++unit;
  }
  return fmt::format("{:.1f} {}", value, kUnits[unit]);
}

std::string format_clock(std::chrono::seconds duration) {
  const auto total = std::max<std::int64_t>(duration.count(), 0);
  const auto hours = total / 3600;
  const auto minutes = total / 60 % 60;
  const auto seconds = total % 60;
  if (hours > 0) return fmt::format("{}:{:02}:{:02}", hours, minutes, seconds);
  return fmt::format("{}:{:02}", minutes, seconds);
}

std::string format_duration(std::chrono::seconds duration) {
  const auto total = std::max<std::int64_t>(duration.count(), 0);
  const auto hours = total / 3600;
  const auto minutes = total / 60 % 60;
  const auto seconds = total % 60;
  if (hours > 0) return fmt::format("{} h {} min", hours, minutes);
  if (minutes > 0) return fmt::format("{} min {} s", minutes, seconds);
  return fmt::format("{} s", seconds);
}

Progress::Progress(std::ostream& out, Options options) : out_(out), options_(std::move(options)) {}

void Progress::begin(std::string_view label, std::uint64_t total_bytes, std::uint64_t total_items) {
  if (active_) end();
  label_ = label;
  total_bytes_ = total_bytes;
  total_items_ = total_items;
  copied_bytes_ = skipped_bytes_ = items_ = 0;
  started_ = last_shown_ = options_.now();
  active_ = true;
  if (options_.terminal) show();
}

void Progress::copied(std::uint64_t bytes) {
  copied_bytes_ += bytes;
  maybe_show();
}

void Progress::skipped(std::uint64_t bytes) {
  skipped_bytes_ += bytes;
  maybe_show();
}

void Progress::items_done(std::uint64_t count) {
  items_ += count;
  maybe_show();
}

void Progress::end() {
  if (!active_) return;
  if (options_.terminal) {
    show();
    out_ << '\n';
    bar_on_screen_ = false;
  } else {
    out_ << status_line() << '\n';
  }
  out_.flush();
  active_ = false;
}

void Progress::note(std::string_view line) {
  if (bar_on_screen_) out_ << "\r\033[K";
  out_ << line << '\n';
  bar_on_screen_ = false;
  if (active_ && options_.terminal) show();
  out_.flush();
}

std::uint64_t Progress::done() const {
  return total_bytes_ > 0 ? copied_bytes_ + skipped_bytes_ : items_;
}

std::uint64_t Progress::total() const { return total_bytes_ > 0 ? total_bytes_ : total_items_; }

double Progress::rate() const {
  const double elapsed = seconds_between(started_, options_.now());
  if (elapsed * 1000.0 < static_cast<double>(kRateWarmUp.count())) return 0;
  const auto real = total_bytes_ > 0 ? copied_bytes_ : items_;
  return static_cast<double>(real) / elapsed;
}

std::string Progress::status_line() const {
  std::string line = label_;
  line += ": ";
  line += fmt::format("{}/{}", items_, total_items_);
  const std::uint64_t whole = total();
  const std::uint64_t part = std::min(done(), whole);
  const int percent = whole == 0 ? 100 : static_cast<int>(part * 100 / whole);
  if (total_bytes_ > 0) {
    line += fmt::format(", {} of {} ({}%)", format_bytes(part), format_bytes(whole), percent);
  } else {
    line += fmt::format(" ({}%)", percent);
  }
  const double speed = rate();
  if (speed > 0) {
    line += total_bytes_ > 0
                ? fmt::format(", {}/s", format_bytes(static_cast<std::uint64_t>(speed)))
                : fmt::format(", {:.0f}/s", speed);
    if (part < whole) {
      const auto eta = std::chrono::seconds(
          static_cast<std::int64_t>(std::ceil(static_cast<double>(whole - part) / speed)));
      line += ", ETA " + format_duration(eta);
    }
  }
  return line;
}

std::string Progress::bar_line() const {
  const std::uint64_t whole = total();
  const std::uint64_t part = std::min(done(), whole);
  const std::size_t filled =
      whole == 0 ? kBarWidth : static_cast<std::size_t>(part * kBarWidth / whole);
  std::string line = label_;
  line += " [";
  line.append(filled, '#');
  line.append(kBarWidth - filled, '-');
  line += fmt::format("] {:3}%", whole == 0 ? 100 : part * 100 / whole);
  if (total_bytes_ > 0) {
    line += fmt::format("  {} / {}", format_bytes(part), format_bytes(whole));
  }
  line += fmt::format("  {}/{}", items_, total_items_);
  const double speed = rate();
  if (speed > 0) {
    line += total_bytes_ > 0
                ? fmt::format("  {}/s", format_bytes(static_cast<std::uint64_t>(speed)))
                : fmt::format("  {:.0f}/s", speed);
  }
  if (speed > 0 && part < whole) {
    line += "  ETA " + format_clock(std::chrono::seconds(static_cast<std::int64_t>(
                           std::ceil(static_cast<double>(whole - part) / speed))));
  } else if (part < whole) {
    line += "  ETA --:--";
  }
  return line;
}

void Progress::maybe_show() {
  if (!active_) return;
  const auto now = options_.now();
  const auto interval = options_.terminal ? options_.redraw_interval : options_.line_interval;
  if (now - last_shown_ < interval) return;
  last_shown_ = now;
  show();
}

void Progress::show() {
  if (options_.terminal) {
    // Back to the start of the line and clear it: the bar is redrawn in place.
    out_ << "\r\033[K" << bar_line();
    bar_on_screen_ = true;
  } else {
    out_ << status_line() << '\n';
  }
  out_.flush();
}

}  // namespace berth::server
