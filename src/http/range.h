#pragma once
// Parsers for the byte ranges of blob GETs ("Range") and chunked uploads ("Content-Range").
// Pure functions over strings: fuzzed, and free of any server dependency.

#include <cstdint>
#include <optional>
#include <string_view>
#include <variant>

namespace berth::http {

// An inclusive byte range [first, last].
struct ByteRange {
  std::uint64_t first = 0;
  std::uint64_t last = 0;
  std::uint64_t length() const { return last - first + 1; }
  friend bool operator==(const ByteRange&, const ByteRange&) = default;
};

// Outcome of a Range header against a resource of a given size.
struct RangeIgnored {};        // malformed or multi-range: serve the whole resource (200)
struct RangeUnsatisfiable {};  // well-formed but outside the resource: 416
using RangeRequest = std::variant<ByteRange, RangeIgnored, RangeUnsatisfiable>;

// Parses "bytes=first-last", "bytes=first-" and "bytes=-suffix" (RFC 9110) against `size`,
// clamping `last` to size-1. A suffix of 0, a first beyond the end, or any range of an empty
// resource is unsatisfiable.
RangeRequest parse_range(std::string_view header, std::uint64_t size);

// Parses an upload chunk's Content-Range: "first-last" as the distribution spec writes it, also
// accepting the RFC form "bytes first-last" and "bytes first-last/total" (total may be "*").
// nullopt when malformed or when last < first.
std::optional<ByteRange> parse_content_range(std::string_view header);

}  // namespace berth::http
