#include "client/retry_after.h"

#include <array>
#include <cctype>
#include <ctime>
#include <string>
#include <vector>

namespace berth::client {
namespace {

constexpr std::chrono::seconds kLongestWait{24 * 60 * 60};

constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
constexpr std::array<std::string_view, 7> kDays = {"Mon", "Tue", "Wed", "Thu",
                                                   "Fri", "Sat", "Sun"};
constexpr std::array<std::string_view, 7> kLongDays = {
    "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"};

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

bool all_digits(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

std::optional<int> number(std::string_view text, std::size_t min_digits, std::size_t max_digits) {
  if (text.size() < min_digits || text.size() > max_digits || !all_digits(text)) {
    return std::nullopt;
  }
  int value = 0;
  for (char c : text) value = value * 10 + (c - '0');
  return value;
}

std::optional<int> month_of(std::string_view name) {
  for (std::size_t i = 0; i < kMonths.size(); ++i) {
    if (kMonths[i] == name) return static_cast<int>(i);
  }
  return std::nullopt;
}

template <std::size_t N>
bool one_of(std::string_view name, const std::array<std::string_view, N>& names) {
  for (auto candidate : names) {
    if (candidate == name) return true;
  }
  return false;
}

// The words of a date: split on spaces; commas end words.
std::vector<std::string_view> words_of(std::string_view text) {
  std::vector<std::string_view> words;
  std::size_t at = 0;
  while (at < text.size()) {
    while (at < text.size() && text[at] == ' ') ++at;
    std::size_t start = at;
    while (at < text.size() && text[at] != ' ' && text[at] != ',') ++at;
    if (at > start) words.push_back(text.substr(start, at - start));
    if (at < text.size() && text[at] == ',') {
      words.push_back(",");
      ++at;
    }
  }
  return words;
}

struct DateParts {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
};

bool parse_time_of_day(std::string_view text, DateParts& parts) {
  if (text.size() != 8 || text[2] != ':' || text[5] != ':') return false;
  auto hour = number(text.substr(0, 2), 2, 2);
  auto minute = number(text.substr(3, 2), 2, 2);
  auto second = number(text.substr(6, 2), 2, 2);
  if (!hour || !minute || !second || *hour > 23 || *minute > 59 || *second > 60) return false;
  parts.hour = *hour;
  parts.minute = *minute;
  parts.second = *second;
  return true;
}

// "Sun, 06 Nov 1994 08:49:37 GMT"
bool parse_fixdate(const std::vector<std::string_view>& w, DateParts& parts) {
  if (w.size() != 7 || !one_of(w[0], kDays) || w[1] != "," || w[6] != "GMT") return false;
  auto day = number(w[2], 2, 2);
  auto month = month_of(w[3]);
  auto year = number(w[4], 4, 4);
  if (!day || !month || !year) return false;
  parts.day = *day;
  parts.month = *month;
  parts.year = *year;
  return parse_time_of_day(w[5], parts);
}

// "Sunday, 06-Nov-94 08:49:37 GMT"; a two-digit year within 50 years of 2000 (RFC 9110 asks
// for the nearest century; registries that send this form are long gone, so this is enough).
bool parse_rfc850(const std::vector<std::string_view>& w, DateParts& parts) {
  if (w.size() != 5 || !one_of(w[0], kLongDays) || w[1] != "," || w[4] != "GMT") return false;
  std::string_view date = w[2];
  if (date.size() != 9 || date[2] != '-' || date[6] != '-') return false;
  auto day = number(date.substr(0, 2), 2, 2);
  auto month = month_of(date.substr(3, 3));
  auto year = number(date.substr(7, 2), 2, 2);
  if (!day || !month || !year) return false;
  parts.day = *day;
  parts.month = *month;
  parts.year = *year < 50 ? 2000 + *year : 1900 + *year;
  return parse_time_of_day(w[3], parts);
}

// "Sun Nov  6 08:49:37 1994"
bool parse_asctime(const std::vector<std::string_view>& w, DateParts& parts) {
  if (w.size() != 5 || !one_of(w[0], kDays)) return false;
  auto month = month_of(w[1]);
  auto day = number(w[2], 1, 2);
  auto year = number(w[4], 4, 4);
  if (!month || !day || !year) return false;
  parts.day = *day;
  parts.month = *month;
  parts.year = *year;
  return parse_time_of_day(w[3], parts);
}

std::optional<std::chrono::system_clock::time_point> to_time_point(const DateParts& parts) {
  if (parts.day < 1 || parts.day > 31) return std::nullopt;
  std::tm tm{};
  tm.tm_year = parts.year - 1900;
  tm.tm_mon = parts.month;
  tm.tm_mday = parts.day;
  tm.tm_hour = parts.hour;
  tm.tm_min = parts.minute;
  tm.tm_sec = parts.second;
  std::time_t seconds = ::timegm(&tm);
  if (seconds == static_cast<std::time_t>(-1)) return std::nullopt;
  return std::chrono::system_clock::from_time_t(seconds);
}

}  // namespace

std::optional<std::chrono::system_clock::time_point> parse_http_date(std::string_view text) {
  auto words = words_of(trim(text));
  DateParts parts;
  if (parse_fixdate(words, parts) || parse_rfc850(words, parts) || parse_asctime(words, parts)) {
    return to_time_point(parts);
  }
  return std::nullopt;
}

std::optional<std::chrono::seconds> parse_retry_after(std::string_view value,
                                                      std::chrono::system_clock::time_point now) {
  value = trim(value);
  if (all_digits(value)) {
    // Compared digit by digit so that a huge number cannot overflow.
    std::chrono::seconds::rep seconds = 0;
    for (char c : value) {
      seconds = seconds * 10 + (c - '0');
      if (seconds > kLongestWait.count()) return kLongestWait;
    }
    return std::chrono::seconds(seconds);
  }
  auto date = parse_http_date(value);
  if (!date) return std::nullopt;
  if (*date <= now) return std::chrono::seconds(0);
  // Rounded up: waiting a fraction of a second too little would only earn another 429.
  auto wait = std::chrono::ceil<std::chrono::seconds>(*date - now);
  return wait > kLongestWait ? kLongestWait : wait;
}

}  // namespace berth::client
