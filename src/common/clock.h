#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace berth {

// Seconds since the Unix epoch, the unit timestamps are stored in.
inline std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// RFC 3339 UTC form ("2026-11-23T08:46:11Z") of a Unix timestamp.
std::string format_rfc3339(std::int64_t unix_seconds);

}  // namespace berth
