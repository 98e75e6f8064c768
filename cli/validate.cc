#include "cli/validate.h"

#include <fmt/format.h>

#include <algorithm>

namespace berth::cli {
namespace {

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool is_alnum(char c) { return is_lower_alnum(c) || (c >= 'A' && c <= 'Z'); }
bool is_lower_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

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

}  // namespace berth::cli
