#pragma once
// The distribution-spec grammar for repository names, tags and references.

#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "oci/digest.h"

namespace berth::oci {

// Longest repository name accepted (the spec asks registries to take at least 255 bytes
// for host + name; berth names exclude the host).
inline constexpr std::size_t kMaxRepositoryNameLength = 255;

// [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*, at most
// kMaxRepositoryNameLength bytes.
bool is_valid_repository_name(std::string_view name);

// [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}
bool is_valid_tag(std::string_view tag);

// A manifest reference in a URL: a tag or a digest.
using Reference = std::variant<std::string, Digest>;

// A reference containing ':' must be a valid digest, anything else a valid tag; nullopt
// when it is neither.
std::optional<Reference> parse_reference(std::string_view text);

}  // namespace berth::oci
