// Fuzzes the Transfer-Encoding and Host checks (src/http/request_checks.h) and checks the
// properties the server relies on: only a lone "chunked" is ever decoded, and a Host that
// passes is safe to put in the authority of a URL.

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "http/request_checks.h"

namespace {

namespace http = berth::http;

void check(bool condition) {
  if (!condition) __builtin_trap();
}

bool is_lone_chunked(std::string_view line) {
  while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
  while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
  if (line.size() != 7) return false;
  for (std::size_t i = 0; i < 7; ++i) {
    char c = line[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != "chunked"[i]) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);

  // Field lines separated by NUL (a byte a header value never holds).
  std::vector<std::string_view> lines;
  for (std::string_view rest = input;;) {
    auto end = rest.find('\0');
    lines.push_back(rest.substr(0, end));
    if (end == std::string_view::npos) break;
    rest.remove_prefix(end + 1);
  }
  auto verdict = http::check_transfer_encoding(lines);
  if (verdict == http::TransferCoding::chunked) {
    check(lines.size() == 1 && is_lone_chunked(lines.front()));
  }

  if (http::is_valid_host(input)) {
    check(input.find_first_of(std::string_view("\0\r\n \t/?#@\"<>\\", 14)) ==
          std::string_view::npos);
    check(input.empty() || input.front() != ':');
  }
  return 0;
}
