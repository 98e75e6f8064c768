// Fuzzes the name, tag, reference and digest grammars. Inputs short enough for std::regex are
// also checked against the spec's regular expressions, so the hand-written matchers must agree
// with the grammar exactly, not merely avoid crashing.

#include <cstddef>
#include <cstdint>
#include <regex>
#include <string>
#include <string_view>
#include <variant>

#include "oci/digest.h"
#include "oci/reference.h"

namespace {

namespace oci = berth::oci;

void check(bool condition) {
  if (!condition) __builtin_trap();
}

// std::regex recurses per character; beyond a few hundred bytes it is both slow and a stack
// risk, and the length limits are already decided by then.
constexpr std::size_t kMaxRegexInput = 300;

bool matches_name_grammar(const std::string& text) {
  static const std::regex kName(
      "[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*)*");
  return std::regex_match(text, kName);
}

bool matches_tag_grammar(const std::string& text) {
  static const std::regex kTag("[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}");
  return std::regex_match(text, kTag);
}

bool matches_digest_grammar(const std::string& text) {
  static const std::regex kDigest("sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128}");
  return std::regex_match(text, kDigest);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);

  bool name = oci::is_valid_repository_name(text);
  bool tag = oci::is_valid_tag(text);
  auto digest = oci::Digest::parse(text);
  auto reference = oci::parse_reference(text);

  check(!name || (text.size() >= 1 && text.size() <= oci::kMaxRepositoryNameLength));
  check(!tag || (text.size() >= 1 && text.size() <= 128));
  if (digest) {
    check(digest->str() == text);
    check(digest->hex().size() == oci::hex_length(digest->algorithm()));
  }

  // A reference is a digest when it has a colon and a tag otherwise, never both.
  bool has_colon = text.find(':') != std::string_view::npos;
  if (has_colon) {
    check(reference.has_value() == digest.has_value());
    if (reference) check(std::get<oci::Digest>(*reference) == *digest);
  } else {
    check(!digest);
    check(reference.has_value() == tag);
    if (reference) check(std::get<std::string>(*reference) == text);
  }

  if (size <= kMaxRegexInput) {
    std::string copy(text);
    check(name == (matches_name_grammar(copy) && size <= oci::kMaxRepositoryNameLength));
    check(tag == matches_tag_grammar(copy));
    check(digest.has_value() == matches_digest_grammar(copy));
  }
  return 0;
}
