#pragma once
// Client-side checks, run before any request so a typo costs no round trip and exits 2.
// Each check returns the reason a value is refused, or nothing when it is accepted.

#include <optional>
#include <string>
#include <string_view>

#include "cli/error.h"

namespace berth::cli {

// 5-50 ASCII letters or digits (the server's rule, ignoring case).
std::optional<std::string> check_registry_name(std::string_view name);

// OCI distribution repository name: lower-case path components separated by '/'.
std::optional<std::string> check_repository_name(std::string_view name);

// OCI tag: [A-Za-z0-9_][A-Za-z0-9._-]{0,127}.
std::optional<std::string> check_tag(std::string_view tag);

// algorithm:encoded; sha256 and sha512 need their exact lower-case hex lengths.
std::optional<std::string> check_digest(std::string_view digest);

struct ImageReference {
  std::string repository;
  std::string tag;     // set for repo:tag
  std::string digest;  // set for repo@digest
};

// "repo:tag" or "repo@algorithm:hex"; a bare repository or both forms at once is refused.
Result<ImageReference> parse_image_reference(std::string_view text);

}  // namespace berth::cli
