#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace berth {

// Seconds since the Unix epoch, the unit timestamps are stored in.
inline std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Milliseconds since the Unix epoch: events and webhook deliveries are timed to the millisecond.
inline std::int64_t unix_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// RFC 3339 UTC form ("2026-11-23T08:46:11Z") of a Unix timestamp.
std::string format_rfc3339(std::int64_t unix_seconds);

// The Unix timestamp of an RFC 3339 date-time: "2026-12-02T06:00:00Z", with an optional
// fraction of a second (dropped) and a "Z" or "+hh:mm"/"-hh:mm" offset; 'T' and 'Z' in either
// case. nullopt for anything else, including impossible dates ("2026-02-30") and years before
// 1970 or after 9999.
std::optional<std::int64_t> parse_rfc3339(std::string_view text);

}  // namespace berth
