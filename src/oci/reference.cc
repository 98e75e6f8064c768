#include "oci/reference.h"

namespace berth::oci {
namespace {

// The grammar is matched by hand, in one linear pass: std::regex backtracks and recurses, so a
// long hostile name could take quadratic time or overflow the stack.

inline constexpr std::size_t kMaxTagLength = 128;

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool is_separator_char(char c) { return c == '.' || c == '_' || c == '-'; }

// A separator is exactly ".", "_", "__", or one or more "-"; mixtures such as "._" or "_-"
// and "___" are not separators.
bool is_valid_separator(std::string_view run) {
  if (run == "." || run == "_" || run == "__") return true;
  if (run.empty()) return false;
  for (char c : run) {
    if (c != '-') return false;
  }
  return true;
}

// [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*
bool is_valid_path_component(std::string_view component) {
  std::size_t i = 0;
  const std::size_t n = component.size();
  if (n == 0 || !is_lower_alnum(component[0])) return false;
  while (i < n) {
    while (i < n && is_lower_alnum(component[i])) ++i;
    if (i == n) return true;
    std::size_t start = i;
    while (i < n && is_separator_char(component[i])) ++i;
    if (!is_valid_separator(component.substr(start, i - start))) return false;
    // A separator must be followed by alphanumerics: not by the end, nor by another character.
    if (i == n || !is_lower_alnum(component[i])) return false;
  }
  return true;
}

}  // namespace

bool is_valid_repository_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxRepositoryNameLength) return false;
  std::size_t start = 0;
  while (true) {
    std::size_t slash = name.find('/', start);
    std::string_view component = name.substr(
        start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (!is_valid_path_component(component)) return false;
    if (slash == std::string_view::npos) return true;
    start = slash + 1;
  }
}

bool is_valid_tag(std::string_view tag) {
  if (tag.empty() || tag.size() > kMaxTagLength) return false;
  if (!is_alnum(tag[0]) && tag[0] != '_') return false;
  for (char c : tag.substr(1)) {
    if (!is_alnum(c) && c != '.' && c != '_' && c != '-') return false;
  }
  return true;
}

std::optional<Reference> parse_reference(std::string_view text) {
  if (text.find(':') != std::string_view::npos) {
    auto digest = Digest::parse(text);
    if (!digest) return std::nullopt;
    return Reference(std::move(*digest));
  }
  if (!is_valid_tag(text)) return std::nullopt;
  return Reference(std::string(text));
}

}  // namespace berth::oci
