#include "registry/cron.h"

#include <algorithm>
#include <charconv>
#include <ctime>
#include <vector>

namespace berth::registry {
namespace {

constexpr std::int64_t kMinute = 60;
constexpr std::int64_t kDay = 24 * 60 * kMinute;

std::optional<int> number(std::string_view text) {
  int value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  for (;;) {
    auto at = text.find(separator);
    parts.push_back(text.substr(0, at));
    if (at == std::string_view::npos) return parts;
    text.remove_prefix(at + 1);
  }
}

// Sets the values of one field ("*/15", "1-5", "0,30") in `set`; false when it does not parse
// or leaves [min, max].
template <std::size_t N>
bool parse_field(std::string_view field, int min, int max, std::bitset<N>& set) {
  for (std::string_view item : split(field, ',')) {
    int step = 1;
    if (auto slash = item.find('/'); slash != std::string_view::npos) {
      auto parsed = number(item.substr(slash + 1));
      if (!parsed || *parsed < 1) return false;
      step = *parsed;
      item = item.substr(0, slash);
    }
    int low = min;
    int high = max;
    if (item != "*") {
      auto dash = item.find('-');
      auto first = number(item.substr(0, dash));
      if (!first) return false;
      low = *first;
      high = *first;
      if (dash != std::string_view::npos) {
        auto last = number(item.substr(dash + 1));
        if (!last) return false;
        high = *last;
      } else if (step != 1) {
        high = max;  // "5/15": from 5 on, every 15
      }
    }
    if (low < min || high > max || low > high) return false;
    for (int value = low; value <= high; value += step) set.set(static_cast<std::size_t>(value));
  }
  return true;
}

}  // namespace

berth::Result<CronSchedule, std::string> CronSchedule::parse(std::string_view text) {
  std::vector<std::string_view> fields;
  for (std::string_view part : split(text, ' ')) {
    if (!part.empty()) fields.push_back(part);
  }
  if (fields.size() != 5) {
    return std::string(
        "a schedule has five fields (minute hour day month weekday), e.g. "
        "\"0 3 * * *\"");
  }
  CronSchedule schedule;
  std::bitset<8> weekdays;
  if (!parse_field(fields[0], 0, 59, schedule.minutes_)) return std::string("bad minute field");
  if (!parse_field(fields[1], 0, 23, schedule.hours_)) return std::string("bad hour field");
  if (!parse_field(fields[2], 1, 31, schedule.days_)) {
    return std::string("bad day-of-month field");
  }
  if (!parse_field(fields[3], 1, 12, schedule.months_)) return std::string("bad month field");
  if (!parse_field(fields[4], 0, 7, weekdays)) return std::string("bad day-of-week field");
  if (weekdays.test(7)) weekdays.set(0);
  weekdays.reset(7);
  schedule.weekdays_ = weekdays;
  schedule.any_day_ = fields[2] == "*";
  schedule.any_weekday_ = fields[4] == "*";
  return schedule;
}

bool CronSchedule::matches(std::int64_t unix_minute_start) const {
  std::time_t time = static_cast<std::time_t>(unix_minute_start);
  std::tm utc{};
  gmtime_r(&time, &utc);
  if (!minutes_.test(static_cast<std::size_t>(utc.tm_min)) ||
      !hours_.test(static_cast<std::size_t>(utc.tm_hour)) ||
      !months_.test(static_cast<std::size_t>(utc.tm_mon + 1))) {
    return false;
  }
  bool day = days_.test(static_cast<std::size_t>(utc.tm_mday));
  bool weekday = weekdays_.test(static_cast<std::size_t>(utc.tm_wday));
  if (any_day_ && any_weekday_) return true;
  if (any_day_) return weekday;
  if (any_weekday_) return day;
  return day || weekday;
}

std::optional<std::int64_t> CronSchedule::next_between(std::int64_t after,
                                                       std::int64_t until) const {
  // Minute by minute, at most a year and a day: cheap, and every expression that can match
  // at all matches within a year (but 29 February, which is fine to skip for purges).
  const std::int64_t limit = std::min(until, after + 366 * kDay);
  for (std::int64_t minute = (after / kMinute + 1) * kMinute; minute <= limit; minute += kMinute) {
    if (matches(minute)) return minute;
  }
  return std::nullopt;
}

}  // namespace berth::registry
