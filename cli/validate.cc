#include "cli/validate.h"

#include <fmt/format.h>

#include <arpa/inet.h>

#include <algorithm>
#include <utility>

namespace berth::cli {
namespace {

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool is_alnum(char c) { return is_lower_alnum(c) || (c >= 'A' && c <= 'Z'); }
bool is_lower_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

std::string lower_ascii(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// One path component: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*
bool valid_component(std::string_view part) {
  if (part.empty() || !is_lower_alnum(part.front()) || !is_lower_alnum(part.back())) return false;
  for (std::size_t i = 0; i < part.size();) {
    if (is_lower_alnum(part[i])) {
      ++i;
      continue;
    }
    std::size_t start = i;
    while (i < part.size() && !is_lower_alnum(part[i])) ++i;
    std::string_view sep = part.substr(start, i - start);
    bool dashes = sep.find_first_not_of('-') == std::string_view::npos;
    if (!(sep == "." || sep == "_" || sep == "__" || dashes)) return false;
  }
  return true;
}

}  // namespace

std::optional<std::string> check_registry_name(std::string_view name) {
  bool alnum = std::all_of(name.begin(), name.end(), is_alnum);
  if (name.size() < 5 || name.size() > 50 || !alnum) {
    return fmt::format("registry name '{}' must be 5-50 letters or digits", name);
  }
  return std::nullopt;
}

std::optional<std::string> check_repository_name(std::string_view name) {
  bool ok = !name.empty() && name.size() <= 255;
  for (std::string_view rest = name; ok;) {
    auto slash = rest.find('/');
    ok = valid_component(rest.substr(0, slash));
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  if (!ok) {
    return fmt::format(
        "repository name '{}' must be lower-case letters and digits, separated by '.', '_', "
        "'__', '-' or '/'",
        name);
  }
  return std::nullopt;
}

std::optional<std::string> check_tag(std::string_view tag) {
  auto tag_char = [](char c) { return is_alnum(c) || c == '_' || c == '.' || c == '-'; };
  bool ok = !tag.empty() && tag.size() <= 128 && (is_alnum(tag.front()) || tag.front() == '_') &&
            std::all_of(tag.begin(), tag.end(), tag_char);
  if (!ok) {
    return fmt::format(
        "tag '{}' must be 1-128 letters, digits, '_', '.' or '-', not starting "
        "with '.' or '-'",
        tag);
  }
  return std::nullopt;
}

std::optional<std::string> check_digest(std::string_view digest) {
  auto colon = digest.find(':');
  auto bad = [&] {
    return fmt::format("digest '{}' must be algorithm:hex, e.g. sha256: and 64 hex digits", digest);
  };
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == digest.size()) return bad();
  std::string_view algorithm = digest.substr(0, colon);
  std::string_view encoded = digest.substr(colon + 1);
  if (algorithm == "sha256" || algorithm == "sha512") {
    std::size_t want = algorithm == "sha256" ? 64 : 128;
    if (encoded.size() != want || !std::all_of(encoded.begin(), encoded.end(), is_lower_hex)) {
      return bad();
    }
    return std::nullopt;
  }
  auto algo_char = [](char c) {
    return is_lower_alnum(c) || c == '+' || c == '.' || c == '_' || c == '-';
  };
  auto enc_char = [](char c) { return is_alnum(c) || c == '=' || c == '_' || c == '-'; };
  if (!std::all_of(algorithm.begin(), algorithm.end(), algo_char) ||
      !std::all_of(encoded.begin(), encoded.end(), enc_char)) {
    return bad();
  }
  return std::nullopt;
}

Result<ImageReference> parse_image_reference(std::string_view text) {
  ImageReference ref;
  std::string_view name = text;
  if (auto at = text.find('@'); at != std::string_view::npos) {
    ref.digest = std::string(text.substr(at + 1));
    name = text.substr(0, at);
    if (auto problem = check_digest(ref.digest)) return usage_error(*problem);
  }
  // A tag follows the last ':' after the last '/'.
  auto slash = name.rfind('/');
  auto colon = name.rfind(':');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    if (!ref.digest.empty()) {
      return usage_error(fmt::format("image '{}' has both a tag and a digest; give one", text));
    }
    ref.tag = std::string(name.substr(colon + 1));
    name = name.substr(0, colon);
    if (auto problem = check_tag(ref.tag)) return usage_error(*problem);
  }
  if (ref.tag.empty() && ref.digest.empty()) {
    return usage_error(fmt::format(
        "image '{}' needs a tag or a digest: repository:tag or repository@digest", text));
  }
  ref.repository = std::string(name);
  if (auto problem = check_repository_name(ref.repository)) return usage_error(*problem);
  return ref;
}

namespace {

bool all_of_chars(std::string_view text, std::string_view extra) {
  return std::all_of(text.begin(), text.end(),
                     [extra](char c) { return is_alnum(c) || extra.find(c) != extra.npos; });
}

bool all_digits(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(),
                                      [](char c) { return c >= '0' && c <= '9'; });
}

// Digits only, at most `max`; nullopt otherwise.
std::optional<int> small_number(std::string_view text, int max) {
  if (!all_digits(text) || text.size() > 3) return std::nullopt;
  int value = 0;
  for (char c : text) value = value * 10 + (c - '0');
  if (value > max) return std::nullopt;
  return value;
}

bool leap_year(int year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

int days_in_month(int year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && leap_year(year) ? 29 : kDays[month - 1];
}

// Days from 1970-01-01 to year-month-day (proleptic Gregorian; H. Hinnant's algorithm).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

}  // namespace

std::optional<std::string> check_access_name(std::string_view kind, std::string_view name) {
  if (name.size() < 5 || name.size() > 50 || !all_of_chars(name, "-_")) {
    return fmt::format("{} name '{}' must be 5-50 letters, digits, '-' or '_'", kind, name);
  }
  return std::nullopt;
}

std::optional<std::string> check_identity_name(std::string_view name) {
  if (name.empty() || name.size() > 128 || !all_of_chars(name, "._-@")) {
    return fmt::format("identity name '{}' must be 1-128 letters, digits, '.', '_', '-' or '@'",
                       name);
  }
  return std::nullopt;
}

std::optional<std::string> check_id(std::string_view kind, std::string_view id) {
  if (id.empty() || id.size() > 128 || !all_of_chars(id, "._-") || id == "." || id == "..") {
    return fmt::format("{} id '{}' must be 1-128 letters, digits, '.', '_' or '-'", kind, id);
  }
  return std::nullopt;
}

std::optional<std::string> check_ip_or_cidr(std::string_view text) {
  auto bad = [&] {
    return fmt::format("'{}' is not an IP address or CIDR range (e.g. 10.0.0.0/24)", text);
  };
  if (text.empty() || text.size() > 64) return bad();
  std::string address(text.substr(0, text.find('/')));
  bool v6 = address.find(':') != std::string::npos;
  unsigned char buffer[16];
  // inet_pton refuses IPv4 parts with leading zeros ("010"), which some parsers read as octal.
  if (::inet_pton(v6 ? AF_INET6 : AF_INET, address.c_str(), buffer) != 1) return bad();
  if (auto slash = text.find('/'); slash != std::string_view::npos) {
    std::string_view prefix = text.substr(slash + 1);
    bool leading_zero = prefix.size() > 1 && prefix.front() == '0';
    if (leading_zero || !small_number(prefix, v6 ? 128 : 32)) return bad();
  }
  return std::nullopt;
}

std::optional<std::string> check_action(std::string_view action) {
  for (std::string_view known :
       {"content/read", "content/write", "content/delete", "metadata/read", "metadata/write"}) {
    if (action == known) return std::nullopt;
  }
  return fmt::format(
      "action '{}' must be content/read, content/write, content/delete, metadata/read or "
      "metadata/write",
      action);
}

std::optional<std::string> check_repository_pattern(std::string_view pattern) {
  std::string_view name = pattern;
  if (name.ends_with("/*")) name.remove_suffix(2);
  if (check_repository_name(name)) {
    return fmt::format(
        "repository '{}' must be a repository name (lower-case letters and digits, separated "
        "by '.', '_', '__', '-' or '/'), optionally followed by '/*'",
        pattern);
  }
  return std::nullopt;
}

std::optional<std::string> check_role_scope(std::string_view scope) {
  auto bad = [&] {
    return fmt::format(
        "scope '{}' must be /registries/<registry> or "
        "/registries/<registry>/repositories/<repository or prefix/*>",
        scope);
  };
  constexpr std::string_view kRegistries = "/registries/";
  constexpr std::string_view kRepositories = "/repositories/";
  if (!scope.starts_with(kRegistries)) return bad();
  std::string_view rest = scope.substr(kRegistries.size());
  std::string_view registry = rest.substr(0, rest.find('/'));
  if (check_registry_name(registry)) return bad();
  rest.remove_prefix(registry.size());
  if (rest.empty()) return std::nullopt;
  if (!rest.starts_with(kRepositories) || check_repository_pattern(rest.substr(kRepositories.size())))
    return bad();
  return std::nullopt;
}

Result<std::int64_t> parse_rfc3339(std::string_view text) {
  auto bad = [&]() -> Error {
    return usage_error(fmt::format(
        "'{}' is not an RFC 3339 time, e.g. 2026-12-02T06:00:00Z or 2026-12-02T07:00:00+01:00",
        text));
  };
  // YYYY-MM-DDTHH:MM:SS, then an optional fraction, then Z or +HH:MM / -HH:MM.
  if (text.size() < 20 || text.size() > 40) return bad();
  auto part = [&](std::size_t at, std::size_t length) { return text.substr(at, length); };
  auto separator = [&](std::size_t at, std::string_view allowed) {
    return allowed.find(text[at]) != std::string_view::npos;
  };
  if (!all_digits(part(0, 4)) || !separator(4, "-") || !separator(7, "-") ||
      !separator(10, "Tt") || !separator(13, ":") || !separator(16, ":")) {
    return bad();
  }
  int year = (text[0] - '0') * 1000 + (text[1] - '0') * 100 + (text[2] - '0') * 10 + (text[3] - '0');
  auto month = small_number(part(5, 2), 12);
  auto day = small_number(part(8, 2), 31);
  auto hour = small_number(part(11, 2), 23);
  auto minute = small_number(part(14, 2), 59);
  auto second = small_number(part(17, 2), 60);  // a leap second is valid RFC 3339
  if (!month || !day || !hour || !minute || !second || *month < 1 || *day < 1 ||
      *day > days_in_month(year, *month)) {
    return bad();
  }
  std::string_view zone = text.substr(19);
  if (zone.starts_with('.')) {
    std::size_t digits = 1;
    while (digits < zone.size() && zone[digits] >= '0' && zone[digits] <= '9') ++digits;
    if (digits == 1) return bad();
    zone.remove_prefix(digits);
  }
  std::int64_t offset = 0;
  if (zone == "Z" || zone == "z") {
    offset = 0;
  } else if (zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && zone[3] == ':') {
    auto offset_hours = small_number(zone.substr(1, 2), 23);
    auto offset_minutes = small_number(zone.substr(4, 2), 59);
    if (!offset_hours || !offset_minutes) return bad();
    offset = (*offset_hours * 60 + *offset_minutes) * 60;
    if (zone[0] == '-') offset = -offset;
  } else {
    return bad();
  }
  std::int64_t days =
      days_from_civil(year, static_cast<unsigned>(*month), static_cast<unsigned>(*day));
  return days * 86400 + *hour * 3600 + *minute * 60 + std::min(*second, 59) - offset;
}

std::string format_rfc3339(std::int64_t seconds) {
  std::int64_t days = seconds >= 0 ? seconds / 86400 : -((-seconds + 86399) / 86400);
  std::int64_t rest = seconds - days * 86400;
  // Civil date from days (the inverse of days_from_civil).
  std::int64_t z = days + 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  const std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", y, m, d, rest / 3600,
                     rest % 3600 / 60, rest % 60);
}

std::optional<std::string> check_http_url(std::string_view what, std::string_view url) {
  std::string_view rest;
  if (url.starts_with("https://")) {
    rest = url.substr(8);
  } else if (url.starts_with("http://")) {
    rest = url.substr(7);
  }
  bool ok = !rest.empty() && rest.front() != '/' && url.size() <= 2048 &&
            std::none_of(url.begin(), url.end(),
                         [](char c) { return static_cast<unsigned char>(c) <= ' '; });
  if (!ok) return fmt::format("{} '{}' must be an http:// or https:// URL", what, url);
  return std::nullopt;
}

std::optional<std::int64_t> parse_bounded_number(std::string_view text, std::int64_t min,
                                                 std::int64_t max) {
  if (!all_digits(text) || text.size() > 18) return std::nullopt;
  std::int64_t value = 0;
  for (char c : text) value = value * 10 + (c - '0');
  if (value < min || value > max) return std::nullopt;
  return value;
}

std::optional<std::string> check_identity_filter(std::string_view identity) {
  bool printable = std::all_of(identity.begin(), identity.end(), [](char c) {
    return static_cast<unsigned char>(c) > ' ' && c != 0x7f;
  });
  if (identity.empty() || identity.size() > 128 || !printable) {
    return fmt::format("identity '{}' must be 1-128 printable characters", identity);
  }
  return std::nullopt;
}

std::optional<std::string> check_webhook_name(std::string_view name) {
  if (name.size() < 5 || name.size() > 50 || !std::all_of(name.begin(), name.end(), is_alnum)) {
    return fmt::format("webhook name '{}' must be 5-50 letters or digits", name);
  }
  return std::nullopt;
}

std::optional<std::string> check_webhook_scope(std::string_view scope) {
  if (scope.empty()) return std::nullopt;
  // The tag follows the last ':' (repository names have none); "repo" alone means repo:latest.
  auto colon = scope.rfind(':');
  std::string_view repository = scope.substr(0, colon);
  std::string_view tag = colon == std::string_view::npos ? "latest" : scope.substr(colon + 1);
  bool ok = scope.size() <= 512 && !repository.empty() && !tag.empty() &&
            all_of_chars(repository, "._-/*") && all_of_chars(tag, "._-*");
  if (!ok) {
    return fmt::format(
        "scope '{}' must be REPOSITORY or REPOSITORY:TAG (letters, digits, '.', '_', '-', '/' "
        "in the repository, '*' wildcards), e.g. team/app:* or *:v1",
        scope);
  }
  return std::nullopt;
}

Result<HeaderAssignment> parse_header_assignment(std::string_view text) {
  // Messages name only the leading token characters: whatever follows may be a credential
  // ("Authorization: Bearer …" typed with a colon).
  constexpr std::string_view kTokenExtras = "!#$%&'*+-.^_`|~";
  auto token_end = std::find_if(text.begin(), text.end(), [&](char c) {
    return !is_alnum(c) && kTokenExtras.find(c) == std::string_view::npos;
  });
  std::string shown(text.begin(), token_end);
  if (shown.size() > 64) shown = shown.substr(0, 64) + "…";
  auto equals = text.find('=');
  if (equals == std::string_view::npos || equals == 0) {
    return usage_error(fmt::format("header '{}' must be NAME=VALUE", shown));
  }
  if (static_cast<std::size_t>(token_end - text.begin()) < equals || equals > 256) {
    return usage_error(fmt::format(
        "header name '{}' has a character header names cannot hold, or is longer than 256 "
        "(letters, digits and {} only)",
        shown, kTokenExtras));
  }
  HeaderAssignment header{std::string(text.substr(0, equals)),
                          std::string(text.substr(equals + 1))};
  bool visible = std::all_of(header.value.begin(), header.value.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u == ' ' || u == '\t' || (u > 0x20 && u < 0x7f);
  });
  if (!visible || header.value.size() > 4096) {
    return usage_error(fmt::format(
        "the value of header '{}' must be at most 4096 visible ASCII characters or spaces",
        header.name));
  }
  return header;
}

std::optional<std::string> check_purge_age(std::string_view age) {
  auto bad = [&] {
    return fmt::format(
        "'{}' is not an age: give \"0\", or days, hours, minutes and seconds in that order, "
        "e.g. 30d, 1d12h, 90m or 45s (at most 36500d)",
        age);
  };
  if (age == "0") return std::nullopt;
  constexpr std::pair<char, std::uint64_t> kUnits[] = {
      {'d', 86400}, {'h', 3600}, {'m', 60}, {'s', 1}};
  constexpr std::uint64_t kMaxSeconds = 36500ULL * 86400;
  std::uint64_t total = 0;
  std::size_t next_unit = 0;
  std::string_view rest = age;
  if (rest.empty()) return bad();
  while (!rest.empty()) {
    std::size_t digits = 0;
    while (digits < rest.size() && rest[digits] >= '0' && rest[digits] <= '9') ++digits;
    if (digits == 0 || digits == rest.size() || digits > 18) return bad();
    std::size_t unit = next_unit;
    while (unit < std::size(kUnits) && kUnits[unit].first != rest[digits]) ++unit;
    if (unit == std::size(kUnits)) return bad();  // unknown, repeated or out of order
    std::uint64_t value = 0;
    for (char c : rest.substr(0, digits)) value = value * 10 + static_cast<std::uint64_t>(c - '0');
    if (value > kMaxSeconds / kUnits[unit].second) return bad();
    total += value * kUnits[unit].second;
    if (total > kMaxSeconds) return bad();
    next_unit = unit + 1;
    rest.remove_prefix(digits + 1);
  }
  return std::nullopt;
}

std::optional<std::string> check_purge_filter(std::string_view filter) {
  constexpr std::size_t kMaxFilterLength = 256;
  auto colon = filter.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == filter.size()) {
    return fmt::format(
        "filter '{}' must be repository-regex:tag-regex, e.g. 'app:.*' or 'team/.*:^dev-'",
        filter);
  }
  if (filter.size() > kMaxFilterLength) {
    return fmt::format("filter '{}' is longer than {} characters", filter, kMaxFilterLength);
  }
  return std::nullopt;
}

std::optional<std::string> check_cron_expression(std::string_view expression) {
  std::size_t fields = 0;
  bool in_field = false;
  bool ok = expression.size() <= 256;
  for (char c : expression) {
    if (c == ' ' || c == '\t') {
      in_field = false;
      continue;
    }
    if (!in_field) ++fields;
    in_field = true;
    ok = ok && ((c >= '0' && c <= '9') || c == '*' || c == ',' || c == '-' || c == '/');
  }
  if (!ok || fields != 5) {
    return fmt::format(
        "'{}' is not a cron expression: give five fields, minute hour day-of-month month "
        "day-of-week (UTC), e.g. '0 3 * * *' for 03:00 every day",
        expression);
  }
  return std::nullopt;
}

namespace {

// A size as written: "1.5 GiB" is whole "1", fraction "5", unit "GiB".
struct SizeParts {
  std::string_view whole;
  std::string_view fraction;
  std::string_view unit;
};

std::string_view take_digits(std::string_view& rest) {
  std::size_t n = 0;
  while (n < rest.size() && rest[n] >= '0' && rest[n] <= '9') ++n;
  std::string_view digits = rest.substr(0, n);
  rest.remove_prefix(n);
  return digits;
}

std::optional<SizeParts> split_size(std::string_view text) {
  constexpr std::size_t kMaxWholeDigits = 18;
  constexpr std::size_t kMaxFractionDigits = 6;
  SizeParts parts;
  std::string_view rest = text;
  parts.whole = take_digits(rest);
  if (rest.starts_with('.')) {
    rest.remove_prefix(1);
    parts.fraction = take_digits(rest);
    if (parts.fraction.empty()) return std::nullopt;
  }
  if (parts.whole.empty() || parts.whole.size() > kMaxWholeDigits ||
      parts.fraction.size() > kMaxFractionDigits) {
    return std::nullopt;
  }
  if (rest.starts_with(' ')) rest.remove_prefix(1);
  parts.unit = rest;
  return parts;
}

// Bytes per unit, any case; nothing for an unknown unit.
std::optional<std::uint64_t> unit_bytes(std::string_view unit) {
  static constexpr std::pair<std::string_view, std::uint64_t> kUnits[] = {
      {"b", 1},
      {"kb", 1'000},
      {"mb", 1'000'000},
      {"gb", 1'000'000'000},
      {"tb", 1'000'000'000'000},
      {"kib", 1ULL << 10},
      {"mib", 1ULL << 20},
      {"gib", 1ULL << 30},
      {"tib", 1ULL << 40}};
  const std::string lowered = lower_ascii(unit);
  for (const auto& [name, bytes] : kUnits) {
    if (name == lowered) return bytes;
  }
  return std::nullopt;
}

std::uint64_t digits_value(std::string_view digits) {
  std::uint64_t value = 0;
  for (char c : digits) value = value * 10 + static_cast<std::uint64_t>(c - '0');
  return value;
}

}  // namespace

Result<std::uint64_t> parse_size(std::string_view text) {
  auto parts = split_size(text);
  auto multiplier = parts ? unit_bytes(parts->unit) : std::nullopt;
  if (!multiplier) {
    return usage_error(fmt::format(
        "'{}' is not a size: give a number and a unit, B, KiB, MiB, GiB, TiB (powers of 1024) "
        "or KB, MB, GB, TB (powers of 1000), e.g. 10GiB or 1.5TB",
        text));
  }
  auto too_big = [&] {
    return usage_error(fmt::format("size '{}' is more than {} bytes", text, kMaxQuotaBytes));
  };
  std::uint64_t bytes = 0;
  if (__builtin_mul_overflow(digits_value(parts->whole), *multiplier, &bytes)) return too_big();
  // The fraction's bytes, exact or refused: below 10^6 times at most 2^40, the product fits.
  std::uint64_t scale = 1;
  for (std::size_t i = 0; i < parts->fraction.size(); ++i) scale *= 10;
  const std::uint64_t fraction_bytes = digits_value(parts->fraction) * *multiplier;
  if (fraction_bytes % scale != 0) {
    return usage_error(fmt::format("size '{}' is not a whole number of bytes", text));
  }
  if (__builtin_add_overflow(bytes, fraction_bytes / scale, &bytes) || bytes > kMaxQuotaBytes) {
    return too_big();
  }
  return bytes;
}

}  // namespace berth::cli

// ------------------------------------------------------------------ imports and the cache

namespace berth::cli {
namespace {

// RFC 1123 host names: dot-separated labels of 1-63 letters, digits or '-', not at either end.
bool is_dns_name(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  for (std::string_view rest = host;;) {
    std::string_view label = rest.substr(0, rest.find('.'));
    bool ok = !label.empty() && label.size() <= 63 && label.front() != '-' &&
              label.back() != '-' &&
              std::all_of(label.begin(), label.end(), [](char c) { return is_alnum(c) || c == '-'; });
    if (!ok) return false;
    if (label.size() == rest.size()) return true;
    rest.remove_prefix(label.size() + 1);
  }
}

bool is_bracketed_ipv6(std::string_view host) {
  if (host.size() < 4 || host.front() != '[' || host.back() != ']') return false;
  std::string_view inner = host.substr(1, host.size() - 2);
  return std::all_of(inner.begin(), inner.end(), [](char c) {
    return is_lower_hex(c) || (c >= 'A' && c <= 'F') || c == ':' || c == '.';
  });
}

// Docker's test of the first component of an image name: a registry host holds a '.' or a
// ':', or is localhost; anything else ("library") is the start of a repository path.
bool looks_like_registry_host(std::string_view host) {
  return host.find_first_of(".:") != std::string_view::npos || host == "localhost";
}

// "path/*" less its "/*", and whether it had one.
std::pair<std::string_view, bool> split_wildcard(std::string_view text) {
  if (text.size() > 2 && text.ends_with("/*")) return {text.substr(0, text.size() - 2), true};
  return {text, false};
}

}  // namespace

std::optional<std::string> check_resource_name(std::string_view kind, std::string_view name) {
  bool ok = name.size() >= 5 && name.size() <= 50 && is_alnum(name.front()) &&
            std::all_of(name.begin(), name.end(), [](char c) { return is_alnum(c) || c == '-'; });
  if (ok) return std::nullopt;
  return fmt::format(
      "{} name '{}' must be 5-50 letters, digits or '-', starting with a letter or a digit", kind,
      name);
}

std::optional<std::string> check_upstream_server(std::string_view server) {
  auto refuse = [&](std::string_view why) {
    return fmt::format("'{}' is not a login server ({}): give HOST or HOST:PORT", server, why);
  };
  if (server.empty()) return refuse("it is empty");
  if (server.find("://") != std::string_view::npos) return refuse("no scheme");
  if (server.find_first_of("/@?#") != std::string_view::npos) {
    return refuse("no path or credentials");
  }
  std::string_view host = server;
  const std::size_t colon = server.rfind(':');
  const bool bracketed = server.front() == '[';
  if (colon != std::string_view::npos && (!bracketed || colon > server.find(']'))) {
    if (!parse_bounded_number(server.substr(colon + 1), 1, 65535)) {
      return refuse("the port is 1 to 65535");
    }
    host = server.substr(0, colon);
  }
  if (bracketed ? !is_bracketed_ipv6(host) : !is_dns_name(host)) {
    return refuse("the host is not a DNS name or a bracketed IPv6 address");
  }
  return std::nullopt;
}

Result<ImportSource> parse_import_source(std::string_view text) {
  const std::size_t slash = text.find('/');
  if (slash == std::string_view::npos) {
    return usage_error(fmt::format(
        "--source '{}' must be HOST/REPOSITORY:TAG or HOST/REPOSITORY@DIGEST, e.g. "
        "docker.io/library/alpine:3.20",
        text));
  }
  ImportSource source{std::string(text.substr(0, slash)), std::string(text.substr(slash + 1)), {}};
  const std::string& host = source.registry_uri;
  if (!looks_like_registry_host(host)) {
    return usage_error(fmt::format(
        "--source '{}' starts with '{}', which is not a registry host (no '.' or ':'): give "
        "HOST/REPOSITORY:TAG, e.g. docker.io/{}",
        text, host, text));
  }
  if (auto problem = check_upstream_server(host)) return usage_error(fmt::format("--source: {}", *problem));
  const std::string_view image = source.image;
  const std::size_t last_slash = image.rfind('/');
  const std::size_t colon = image.rfind(':');
  const bool has_reference = image.find('@') != std::string_view::npos ||
                             (colon != std::string_view::npos &&
                              (last_slash == std::string_view::npos || colon > last_slash));
  if (has_reference) {
    auto reference = parse_image_reference(image);
    if (!reference) return usage_error(fmt::format("--source: {}", reference.error().message));
    source.repository = reference->repository;
  } else {
    if (auto problem = check_repository_name(image)) return usage_error(fmt::format("--source: {}", *problem));
    source.repository = source.image;
  }
  return source;
}

std::optional<std::string> check_cache_source(std::string_view source) {
  const std::size_t slash = source.find('/');
  if (slash == std::string_view::npos) {
    return fmt::format(
        "source repository '{}' must be HOST/PATH or HOST/PATH/*, e.g. docker.io/library/nginx",
        source);
  }
  const std::string_view host = source.substr(0, slash);
  if (!looks_like_registry_host(host)) {
    return fmt::format(
        "source repository '{}' starts with '{}', which is not a registry host (no '.' or ':'): "
        "give HOST/PATH, e.g. docker.io/{}",
        source, host, source);
  }
  if (auto problem = check_upstream_server(host)) return problem;
  auto [path, wildcard] = split_wildcard(source.substr(slash + 1));
  if (check_repository_name(path)) {
    return fmt::format(
        "source repository '{}': '{}' is not a repository path (lower-case letters and digits, "
        "separated by '.', '_', '__', '-' or '/'), optionally followed by '/*'",
        source, path);
  }
  return std::nullopt;
}

std::optional<std::string> check_cache_target(std::string_view target) {
  auto [path, wildcard] = split_wildcard(target);
  if (check_repository_name(path)) {
    return fmt::format(
        "target repository '{}' must be a repository path (lower-case letters and digits, "
        "separated by '.', '_', '__', '-' or '/'), optionally followed by '/*'",
        target);
  }
  return std::nullopt;
}

std::optional<std::string> check_cache_rule_shape(std::string_view source,
                                                  std::string_view target) {
  if (split_wildcard(source).second == split_wildcard(target).second) return std::nullopt;
  return fmt::format(
      "--source-repo '{}' and --target-repo '{}' must both end in /* or neither", source, target);
}

std::optional<std::string> check_tag_ttl(std::string_view seconds) {
  if (parse_bounded_number(seconds, 0, kMaxTagTtlSeconds)) return std::nullopt;
  return fmt::format("'{}' is not a number of seconds from 0 to {} (30 days)", seconds,
                     kMaxTagTtlSeconds);
}

}  // namespace berth::cli
