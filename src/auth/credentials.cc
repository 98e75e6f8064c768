#include "auth/credentials.h"

#include <cctype>

#include "auth/encoding.h"

namespace berth::auth {
namespace {

// Larger than any credential a client sends (a JWT with many scopes is a few KiB); the cap
// keeps decoding work bounded.
constexpr std::size_t kMaxAuthorizationSize = 8 * 1024;

bool is_control(char c) {
  auto byte = static_cast<unsigned char>(c);
  return byte < 0x20 || byte == 0x7f;
}

bool has_control(std::string_view text) {
  for (char c : text) {
    if (is_control(c)) return true;
  }
  return false;
}

bool is_space_or_tab(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view text) {
  while (!text.empty() && is_space_or_tab(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space_or_tab(text.back())) text.remove_suffix(1);
  return text;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

MalformedAuthorization malformed(std::string reason) {
  return MalformedAuthorization{std::move(reason)};
}

Authorization parse_basic(std::string_view value) {
  auto decoded = detail::base64_decode(value);
  if (!decoded) return malformed("the Basic credentials are not valid base64");
  auto colon = decoded->find(':');
  if (colon == std::string::npos) {
    return malformed("the Basic credentials have no colon between username and password");
  }
  if (has_control(*decoded)) return malformed("the Basic credentials hold control characters");
  return BasicCredentials{decoded->substr(0, colon), decoded->substr(colon + 1)};
}

Authorization parse_bearer(std::string_view value) {
  // Any visible ASCII: JWTs, generated secrets and the administrator token all fit, and a
  // token is one word.
  for (char c : value) {
    if (c <= ' ' || c > '~') return malformed("the Bearer token holds characters a token cannot");
  }
  return BearerToken{std::string(value)};
}

bool is_action_character(char c) { return (c >= 'a' && c <= 'z') || c == '_' || c == '*'; }

// A comma-separated, non-empty list of non-empty [a-z_*] words.
std::optional<std::vector<std::string>> parse_actions(std::string_view text) {
  std::vector<std::string> actions;
  for (;;) {
    auto comma = text.find(',');
    std::string_view action = text.substr(0, comma);
    if (action.empty()) return std::nullopt;
    for (char c : action) {
      if (!is_action_character(c)) return std::nullopt;
    }
    actions.emplace_back(action);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return actions;
}

}  // namespace

Authorization parse_authorization(std::optional<std::string_view> header) {
  if (!header) return std::monostate{};
  if (header->size() > kMaxAuthorizationSize) {
    return malformed("the Authorization header is longer than 8 KiB");
  }
  std::string_view text = trim(*header);
  if (has_control(text)) return malformed("the Authorization header holds control characters");
  auto space = text.find(' ');
  if (space == std::string_view::npos) {
    return malformed("the Authorization header has a scheme but no credentials");
  }
  std::string_view scheme = text.substr(0, space);
  std::string_view value = text.substr(space);
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  if (value.empty()) return malformed("the Authorization header has a scheme but no credentials");

  if (equals_ignoring_case(scheme, "basic")) return parse_basic(value);
  if (equals_ignoring_case(scheme, "bearer")) return parse_bearer(value);
  return malformed("the Authorization scheme is neither Basic nor Bearer");
}

std::optional<Scope> parse_scope(std::string_view text) {
  auto first = text.find(':');
  auto last = text.rfind(':');
  if (first == std::string_view::npos || first == last) return std::nullopt;
  std::string_view type = text.substr(0, first);
  std::string_view name = text.substr(first + 1, last - first - 1);
  if (type != "repository" && type != "registry") return std::nullopt;
  if (name.empty() || has_control(name)) return std::nullopt;
  auto actions = parse_actions(text.substr(last + 1));
  if (!actions) return std::nullopt;
  return Scope{std::string(type), std::string(name), std::move(*actions)};
}

std::optional<std::vector<Scope>> parse_scopes(const std::vector<std::string_view>& parameters) {
  std::vector<Scope> scopes;
  for (std::string_view parameter : parameters) {
    for (std::string_view rest = parameter; !rest.empty();) {
      auto space = rest.find(' ');
      std::string_view piece = rest.substr(0, space);
      rest.remove_prefix(space == std::string_view::npos ? rest.size() : space + 1);
      // Runs of spaces separate too: only the pieces between them are scopes.
      if (piece.empty()) continue;
      auto scope = parse_scope(piece);
      if (!scope) return std::nullopt;
      scopes.push_back(std::move(*scope));
    }
  }
  return scopes;
}

std::string format_scope(const Scope& scope) {
  std::string text = scope.type;
  text += ':';
  text += scope.name;
  text += ':';
  for (std::size_t i = 0; i < scope.actions.size(); ++i) {
    if (i > 0) text += ',';
    text += scope.actions[i];
  }
  return text;
}

}  // namespace berth::auth
