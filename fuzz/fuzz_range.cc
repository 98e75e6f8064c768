// Fuzzes the Range and Content-Range parsers against resources of several sizes and checks that
// every range they return lies inside the resource.

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string_view>
#include <variant>

#include "http/range.h"

namespace {

namespace http = berth::http;

void check(bool condition) {
  if (!condition) __builtin_trap();
}

constexpr std::uint64_t kSizes[] = {
    0, 1, 2, 1000, std::uint64_t(1) << 40, std::numeric_limits<std::uint64_t>::max() - 1,
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view header(reinterpret_cast<const char*>(data), size);

  for (std::uint64_t resource_size : kSizes) {
    http::RangeRequest request = http::parse_range(header, resource_size);
    if (const auto* range = std::get_if<http::ByteRange>(&request)) {
      check(resource_size > 0);
      check(range->first <= range->last);
      check(range->last < resource_size);
      check(range->length() >= 1 && range->length() <= resource_size);
    }
  }

  if (auto range = http::parse_content_range(header)) {
    check(range->first <= range->last);
    // length() must not wrap: a chunk "0-18446744073709551615" would otherwise claim 0 bytes.
    check(range->length() >= 1);
  }
  return 0;
}
