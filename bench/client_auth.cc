#include "client_auth.h"

#include <openssl/evp.h>

#include <boost/json.hpp>

#include <algorithm>
#include <cctype>
#include <set>
#include <vector>

#include "http_client.h"

namespace berth::bench {
namespace {

// The user name berth's token service expects with a refresh token as the password.
constexpr std::string_view kRefreshTokenUser = "00000000-0000-0000-0000-000000000000";
// Token responses without expires_in last 60 s (the distribution token specification).
constexpr long kDefaultLifetimeSeconds = 60;

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

void skip_spaces(std::string_view& rest) {
  while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t' || rest.front() == ',')) {
    rest.remove_prefix(1);
  }
}

// One `name=value` or `name="quoted value"` of a challenge; false when malformed.
bool next_parameter(std::string_view& rest, std::string& name, std::string& value) {
  skip_spaces(rest);
  const auto equals = rest.find('=');
  if (equals == std::string_view::npos || equals == 0) return false;
  name = lower(rest.substr(0, equals));
  rest.remove_prefix(equals + 1);
  value.clear();
  if (!rest.empty() && rest.front() == '"') {
    rest.remove_prefix(1);
    for (;;) {
      if (rest.empty()) return false;  // unterminated quote
      const char c = rest.front();
      rest.remove_prefix(1);
      if (c == '"') break;
      if (c == '\\') {
        if (rest.empty()) return false;
        value.push_back(rest.front());
        rest.remove_prefix(1);
      } else {
        value.push_back(c);
      }
    }
  } else {
    const auto end = rest.find(',');
    value = std::string(rest.substr(0, end));
    rest.remove_prefix(end == std::string_view::npos ? rest.size() : end);
  }
  return true;
}

// The query parameter `name` of an origin-form target, undecoded; empty when absent.
std::string_view query_parameter(std::string_view target, std::string_view name) {
  const auto question = target.find('?');
  if (question == std::string_view::npos) return {};
  std::string_view query = target.substr(question + 1);
  while (!query.empty()) {
    const auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    if (pair.size() > name.size() && pair.substr(0, name.size()) == name &&
        pair[name.size()] == '=') {
      return pair.substr(name.size() + 1);
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return {};
}

// The repository name of /v2/<name>/(blobs|manifests|tags)/...: the last such marker wins,
// because what follows it (a digest, a tag, "uploads/<id>", "list") never contains one.
std::optional<std::string> repository_of(std::string_view path) {
  constexpr std::string_view kPrefix = "/v2/";
  if (path.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  std::size_t best = std::string_view::npos;
  for (std::string_view marker : {"/blobs/", "/manifests/", "/tags/"}) {
    const auto at = path.rfind(marker);
    if (at != std::string_view::npos && at >= kPrefix.size() &&
        (best == std::string_view::npos || at > best)) {
      best = at;
    }
  }
  if (best == std::string_view::npos || best == kPrefix.size()) return std::nullopt;
  return std::string(path.substr(kPrefix.size(), best - kPrefix.size()));
}

struct Url {
  std::string authority;
  std::string host;
  std::uint16_t port = 80;
  std::string path;
};

// "http://host[:port]/path" (the realm the registries send on loopback); nullopt otherwise.
std::optional<Url> parse_http_url(std::string_view text) {
  constexpr std::string_view kScheme = "http://";
  if (text.substr(0, kScheme.size()) != kScheme) return std::nullopt;
  text.remove_prefix(kScheme.size());
  const auto slash = text.find('/');
  Url url;
  url.authority = std::string(text.substr(0, slash));
  url.path = slash == std::string_view::npos ? "/" : std::string(text.substr(slash));
  const auto colon = url.authority.rfind(':');
  url.host = url.authority.substr(0, colon);
  if (colon != std::string::npos) {
    const std::string digits = url.authority.substr(colon + 1);
    if (digits.empty() || digits.size() > 5 ||
        !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return std::nullopt;
    }
    const unsigned long port = std::stoul(digits);
    if (port == 0 || port > 65535) return std::nullopt;
    url.port = static_cast<std::uint16_t>(port);
  }
  if (url.host.empty()) return std::nullopt;
  return url;
}

std::string snippet(std::string_view body) {
  std::string out(body.substr(0, 200));
  for (char& c : out) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return out;
}

}  // namespace

std::optional<Challenge> parse_challenge(std::string_view header) {
  while (!header.empty() && header.front() == ' ') header.remove_prefix(1);
  const auto space = header.find(' ');
  Challenge challenge;
  challenge.scheme = lower(header.substr(0, space));
  if (challenge.scheme.empty()) return std::nullopt;
  std::string_view rest = space == std::string_view::npos ? std::string_view() : header.substr(space);
  std::string name, value;
  for (int count = 0; count < 32; ++count) {
    skip_spaces(rest);
    if (rest.empty()) return challenge;
    if (!next_parameter(rest, name, value)) return std::nullopt;
    if (name == "realm") challenge.realm = value;
    if (name == "service") challenge.service = value;
    if (name == "scope") challenge.scope = value;
  }
  return std::nullopt;  // more parameters than any registry sends
}

std::string scope_for(std::string_view method, std::string_view target, std::string_view actions) {
  (void)method;  // the bench's client asks for one set of actions whatever the method
  const std::string_view path = target.substr(0, target.find('?'));
  if (path == "/v2/_catalog") return "registry:catalog:*";
  auto repository = repository_of(path);
  if (!repository) return {};
  std::string scope = "repository:";
  scope.append(*repository).append(":").append(actions);
  // A cross-repository mount also reads the source repository.
  if (auto from = query_parameter(target, "from"); !from.empty() && from != *repository) {
    scope.append(" repository:").append(from).append(":pull");
  }
  return scope;
}

std::string url_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size() * 3);
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string basic_authorization(std::string_view user, std::string_view password) {
  std::string plain(user);
  plain.append(":").append(password);
  std::vector<unsigned char> encoded(4 * ((plain.size() + 2) / 3) + 1);
  const int length = EVP_EncodeBlock(encoded.data(),
                                     reinterpret_cast<const unsigned char*>(plain.data()),
                                     static_cast<int>(plain.size()));
  std::string header = "Basic ";
  header.append(reinterpret_cast<const char*>(encoded.data()), static_cast<std::size_t>(length));
  return header;
}

ClientAuth::ClientAuth(Kind kind, std::string user, std::string password)
    : kind_(kind), user_(std::move(user)), password_(std::move(password)) {}

ClientAuth ClientAuth::basic(std::string user, std::string password) {
  return ClientAuth(Kind::basic, std::move(user), std::move(password));
}

ClientAuth ClientAuth::bearer(std::string refresh_token) {
  return ClientAuth(Kind::bearer, std::string(kRefreshTokenUser), std::move(refresh_token));
}

ClientAuth::ClientAuth(const ClientAuth& other)
    : kind_(other.kind_), user_(other.user_), password_(other.password_) {
  std::lock_guard lock(other.mutex_);
  actions_ = other.actions_;
  challenge_ = other.challenge_;
  tokens_ = other.tokens_;
  fetched_ = other.fetched_;
}

ClientAuth ClientAuth::fresh_session() const {
  ClientAuth session(kind_, user_, password_);
  std::lock_guard lock(mutex_);
  session.actions_ = actions_;
  return session;
}

int ClientAuth::tokens_fetched() const {
  std::lock_guard lock(mutex_);
  return fetched_;
}

bool ClientAuth::learn_challenge(Connection& connection, std::string& error) {
  {
    std::lock_guard lock(mutex_);
    if (challenge_) return true;
  }
  Response response;
  if (!connection.send_unauthenticated({"GET", "/v2/", {}, Body::none()}, response)) {
    error = "GET /v2/ (challenge): " + connection.error();
    return false;
  }
  if (response.status != 401) {
    error = "GET /v2/ without credentials: status " + std::to_string(response.status) +
            ", expected a 401 challenge";
    return false;
  }
  auto header = response.header("WWW-Authenticate");
  auto challenge = header ? parse_challenge(*header) : std::nullopt;
  if (!challenge) {
    error = "GET /v2/: 401 without a readable WWW-Authenticate '" +
            std::string(header.value_or("")) + "'";
    return false;
  }
  const std::string expected = kind_ == Kind::basic ? "basic" : "bearer";
  if (challenge->scheme != expected) {
    error = "GET /v2/: the server asks for " + challenge->scheme + ", the credentials are for " +
            expected;
    return false;
  }
  if (kind_ == Kind::bearer && (challenge->realm.empty() || challenge->service.empty())) {
    error = "GET /v2/: Bearer challenge without realm or service";
    return false;
  }
  std::lock_guard lock(mutex_);
  challenge_ = std::move(challenge);
  return true;
}

std::optional<ClientAuth::Token> ClientAuth::fetch_token(Connection& connection,
                                                         const std::string& scope,
                                                         std::string& error) {
  Challenge challenge;
  {
    std::lock_guard lock(mutex_);
    challenge = *challenge_;
  }
  auto realm = parse_http_url(challenge.realm);
  if (!realm) {
    error = "token realm '" + challenge.realm + "' is not an http:// URL";
    return std::nullopt;
  }
  std::string target = realm->path;
  target.append(realm->path.find('?') == std::string::npos ? "?" : "&");
  target.append("service=").append(url_encode(challenge.service));
  // Several scopes are several scope parameters, as clients send them.
  std::string_view scopes = scope;
  while (!scopes.empty()) {
    const auto space = scopes.find(' ');
    target.append("&scope=").append(url_encode(scopes.substr(0, space)));
    scopes.remove_prefix(space == std::string_view::npos ? scopes.size() : space + 1);
  }
  const Request request{"GET", target, {{"Authorization", basic_authorization(user_, password_)}},
                        Body::none()};
  Response response;
  bool sent = false;
  // The realm is usually the registry itself: reuse the keep-alive connection, as clients do.
  if (realm->authority == connection.authority()) {
    sent = connection.send_unauthenticated(request, response);
    if (!sent) error = "token request: " + connection.error();
  } else {
    Connection other(realm->host, realm->port);
    sent = other.send_unauthenticated(request, response);
    if (!sent) error = "token request to " + realm->authority + ": " + other.error();
  }
  if (!sent) return std::nullopt;
  if (response.status != 200) {
    error = "token request (scope '" + scope + "'): status " + std::to_string(response.status) +
            " " + snippet(response.body);
    return std::nullopt;
  }
  boost::system::error_code ec;
  auto parsed = boost::json::parse(response.body, ec);
  if (ec || !parsed.is_object()) {
    error = "token response is not a JSON object";
    return std::nullopt;
  }
  const auto& object = parsed.as_object();
  const boost::json::value* token = object.if_contains("access_token");
  if (token == nullptr) token = object.if_contains("token");
  if (token == nullptr || !token->is_string() || token->as_string().empty()) {
    error = "token response without token/access_token";
    return std::nullopt;
  }
  long lifetime = kDefaultLifetimeSeconds;
  if (const auto* expires = object.if_contains("expires_in"); expires && expires->is_int64()) {
    lifetime = std::max<long>(1, static_cast<long>(expires->as_int64()));
  }
  // Renew well before the end, so no request goes out with a token about to expire.
  const long usable = std::max(lifetime / 2, lifetime - 30);
  Token result;
  result.authorization = "Bearer ";
  result.authorization.append(token->as_string().c_str());
  result.refresh_after = Clock::now() + std::chrono::seconds(usable);
  return result;
}

std::optional<std::string> ClientAuth::authorization_for(Connection& connection,
                                                         const Request& request,
                                                         std::string& error) {
  if (!learn_challenge(connection, error)) return std::nullopt;
  if (kind_ == Kind::basic) return basic_authorization(user_, password_);
  std::string scope;
  {
    std::lock_guard lock(mutex_);
    scope = scope_for(request.method, request.target, actions_);
    auto cached = tokens_.find(scope);
    if (cached != tokens_.end() && Clock::now() < cached->second.refresh_after) {
      return cached->second.authorization;
    }
  }
  // Fetched outside the lock: other threads keep using their own scopes meanwhile. Two
  // threads needing the same new scope may both fetch it; the later one is kept.
  auto token = fetch_token(connection, scope, error);
  if (!token) return std::nullopt;
  std::lock_guard lock(mutex_);
  ++fetched_;
  tokens_[scope] = *token;
  return token->authorization;
}

bool ClientAuth::prime(Connection& connection, const std::vector<std::string>& keys,
                       std::string& error) {
  if (!learn_challenge(connection, error)) return false;
  if (kind_ == Kind::basic || keys.empty()) return true;
  std::set<std::string_view> pieces;
  for (std::string_view key : keys) {
    while (!key.empty()) {
      const auto space = key.find(' ');
      pieces.insert(key.substr(0, space));
      key.remove_prefix(space == std::string_view::npos ? key.size() : space + 1);
    }
  }
  std::string scope;
  for (auto piece : pieces) scope.append(scope.empty() ? "" : " ").append(piece);
  auto token = fetch_token(connection, scope, error);
  if (!token) return false;
  std::lock_guard lock(mutex_);
  ++fetched_;
  for (const auto& key : keys) tokens_[key] = *token;
  return true;
}

std::optional<std::string> ClientAuth::after_rejection(Connection& connection,
                                                       const Request& request,
                                                       const Response& response,
                                                       std::string& error) {
  if (kind_ == Kind::basic) return std::nullopt;  // the password will not get better
  auto header = response.header("WWW-Authenticate");
  auto challenge = header ? parse_challenge(*header) : std::nullopt;
  if (!challenge || challenge->scheme != "bearer") return std::nullopt;
  std::string scope;
  {
    std::lock_guard lock(mutex_);
    scope = scope_for(request.method, request.target, actions_);
    tokens_.erase(scope);
  }
  auto token = fetch_token(connection, scope, error);
  if (!token) return std::nullopt;
  std::lock_guard lock(mutex_);
  ++fetched_;
  tokens_[scope] = *token;
  return token->authorization;
}

}  // namespace berth::bench
