#pragma once
// Parsing what clients send to authenticate: the Authorization header (Basic, Bearer) and the
// token service's scopes ("repository:samples/hello:pull,push", "registry:catalog:*").
// Everything here takes hostile input: no allocation beyond the input's size, no exceptions.

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace berth::auth {

struct BasicCredentials {
  std::string username;
  std::string password;
};

struct BearerToken {
  std::string token;
};

// A header that is present but not a well-formed Basic or Bearer value (unknown scheme, bad
// base64, no colon in the decoded Basic value, empty token, control characters).
struct MalformedAuthorization {
  std::string reason;  // for logs and the 401's message; never contains the header's value
};

using Authorization =
    std::variant<std::monostate, BasicCredentials, BearerToken, MalformedAuthorization>;

// The scheme is matched ignoring case; one or more spaces separate it from the value. Basic's
// value is standard base64 (padding required) of "username:password" (the first colon splits;
// the password may contain colons). Absent header: monostate. Values over 8 KiB are malformed.
Authorization parse_authorization(std::optional<std::string_view> header);

// One scope of a token request or of a JWT's access claim.
struct Scope {
  std::string type;  // "repository", "registry", "repository(plugin)" is refused
  std::string name;  // a repository name, or "catalog"
  std::vector<std::string> actions;  // as requested: "pull", "push", "delete", "metadata_read",
                                     // "*", ... (unknown actions are kept; the grant drops them)
};

// "<type>:<name>:<actions>", where type is "repository" or "registry", name is everything
// between the first and the last colon (non-empty, no control characters), and actions are a
// comma-separated, non-empty list of [a-z_*] words. nullopt for anything else.
std::optional<Scope> parse_scope(std::string_view text);

// A request's scope parameter may hold several scopes separated by spaces, and may be
// repeated; every piece goes through parse_scope. nullopt when any piece is malformed.
std::optional<std::vector<Scope>> parse_scopes(const std::vector<std::string_view>& parameters);

// "<type>:<name>:<a>,<b>" (the form a WWW-Authenticate scope carries).
std::string format_scope(const Scope& scope);

}  // namespace berth::auth
