#pragma once
// The Retry-After header (RFC 9110 section 10.2.3): a number of seconds, or an HTTP-date
// (the IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT", and the obsolete RFC 850
// "Sunday, 06-Nov-94 08:49:37 GMT" and asctime "Sun Nov  6 08:49:37 1994" forms recipients
// must accept).

#include <chrono>
#include <optional>
#include <string_view>

namespace berth::client {

// How long to wait from `now`; a date in the past is zero seconds. nullopt when the value is
// neither form. Absurdly long delays are capped at a day (the caller compares against its own
// limit anyway).
std::optional<std::chrono::seconds> parse_retry_after(std::string_view value,
                                                      std::chrono::system_clock::time_point now);

// An HTTP-date in any of the three forms; nullopt otherwise.
std::optional<std::chrono::system_clock::time_point> parse_http_date(std::string_view text);

}  // namespace berth::client
