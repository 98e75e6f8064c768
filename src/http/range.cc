#include "http/range.h"

#include <charconv>
#include <limits>

namespace berth::http {
namespace {

// Parses a non-empty run of decimal digits that fits in 64 bits.
std::optional<std::uint64_t> parse_number(std::string_view text) {
  if (text.empty()) return std::nullopt;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

}  // namespace

RangeRequest parse_range(std::string_view header, std::uint64_t size) {
  header = trim(header);
  constexpr std::string_view kUnit = "bytes=";
  if (!header.starts_with(kUnit)) return RangeIgnored{};
  std::string_view spec = trim(header.substr(kUnit.size()));
  if (spec.find(',') != std::string_view::npos) return RangeIgnored{};
  auto dash = spec.find('-');
  if (dash == std::string_view::npos) return RangeIgnored{};
  std::string_view first_text = trim(spec.substr(0, dash));
  std::string_view last_text = trim(spec.substr(dash + 1));

  if (first_text.empty()) {  // suffix range: the last N bytes
    auto suffix = parse_number(last_text);
    if (!suffix) return RangeIgnored{};
    if (*suffix == 0 || size == 0) return RangeUnsatisfiable{};
    std::uint64_t length = *suffix < size ? *suffix : size;
    return ByteRange{size - length, size - 1};
  }
  auto first = parse_number(first_text);
  if (!first) return RangeIgnored{};
  std::uint64_t last = 0;
  if (last_text.empty()) {
    last = size == 0 ? 0 : size - 1;
  } else {
    auto parsed_last = parse_number(last_text);
    if (!parsed_last || *parsed_last < *first) return RangeIgnored{};
    last = *parsed_last;
  }
  if (size == 0 || *first >= size) return RangeUnsatisfiable{};
  if (last >= size) last = size - 1;
  return ByteRange{*first, last};
}

std::optional<ByteRange> parse_content_range(std::string_view header) {
  header = trim(header);
  if (header.starts_with("bytes ")) header = trim(header.substr(6));
  if (header.starts_with("bytes=")) header = trim(header.substr(6));
  if (auto slash = header.find('/'); slash != std::string_view::npos) {
    std::string_view total = trim(header.substr(slash + 1));
    if (total != "*" && !parse_number(total)) return std::nullopt;
    header = trim(header.substr(0, slash));
  }
  auto dash = header.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  auto first = parse_number(trim(header.substr(0, dash)));
  auto last = parse_number(trim(header.substr(dash + 1)));
  // A last byte of 2^64-1 would make the length wrap to zero.
  if (!first || !last || *last < *first || *last == std::numeric_limits<std::uint64_t>::max()) {
    return std::nullopt;
  }
  return ByteRange{*first, *last};
}

}  // namespace berth::http
