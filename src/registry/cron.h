#pragma once
// Five-field cron expressions (minute hour day-of-month month day-of-week, UTC), as purge
// schedules take them: "*", "N", "A-B", lists "A,B", and steps "*/N" or "A-B/N"; day-of-week
// 0-7 with both 0 and 7 Sunday. When both day fields are restricted, a day matching either
// matches (cron's rule).

#include <bitset>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace berth::registry {

class CronSchedule {
 public:
  // The parsed expression, or a message saying what is wrong with it.
  static berth::Result<CronSchedule, std::string> parse(std::string_view text);

  // Whether the minute that starts at `unix_minute_start` (Unix seconds, a multiple of 60)
  // matches.
  bool matches(std::int64_t unix_minute_start) const;
  // The first matching minute strictly after `after` and at or before `until` (Unix seconds);
  // nullopt when there is none.
  std::optional<std::int64_t> next_between(std::int64_t after, std::int64_t until) const;

 private:
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_;     // 1-31
  std::bitset<13> months_;   // 1-12
  std::bitset<8> weekdays_;  // 0-6, Sunday 0
  bool any_day_ = true;      // day-of-month is "*"
  bool any_weekday_ = true;  // day-of-week is "*"
};

}  // namespace berth::registry
