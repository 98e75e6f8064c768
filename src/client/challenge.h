#pragma once
// WWW-Authenticate challenges (RFC 9110 section 11.6.1): one header value holds one or more
// challenges, each a scheme and comma-separated parameters whose values are tokens or quoted
// strings with backslash escapes:
//   Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a:pull"
//   Basic realm="Registry Realm", Bearer realm="https://x/token"

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace berth::client {

struct Challenge {
  std::string scheme;                         // lower case: "basic", "bearer"
  std::map<std::string, std::string> params;  // names in lower case, values unescaped
  // A parameter's value, "" when absent.
  std::string param(std::string_view name) const;
};

// Every challenge of a header value, in order; nullopt when the value is malformed (an
// unterminated quoted string, a parameter without a value, a control character). A token68
// (the "Negotiate <blob>" form) is skipped: no scheme the client speaks uses one.
std::optional<std::vector<Challenge>> parse_challenges(std::string_view header);

// The challenges of several WWW-Authenticate lines (a response may send the header more than
// once); nullopt when any line is malformed.
std::optional<std::vector<Challenge>> parse_challenges(const std::vector<std::string>& headers);

}  // namespace berth::client
