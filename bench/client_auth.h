#pragma once

// Registry credentials as a client uses them. A session starts knowing nothing: its first
// request is an anonymous GET /v2/ whose 401 challenge says the scheme. For Basic (the
// reference registry with htpasswd), every request then carries the user and password. For
// Bearer (berth's token service), the session asks the challenge's realm for an access token
// per scope, authenticating with the refresh token as a Basic password, caches it until
// shortly before it expires, and sends it as `Authorization: Bearer <jwt>`.
//
// One session may be shared by many connections and threads (the load generator acting as
// one client); fresh_session() gives one that has done nothing yet (a new client process).

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace berth::bench {

class Connection;
struct Request;
struct Response;

// The parameters of one WWW-Authenticate challenge.
struct Challenge {
  std::string scheme;  // lower-case: "bearer", "basic"
  std::string realm;
  std::string service;
  std::string scope;
};

// Parses `Bearer realm="...",service="...",scope="..."`; nullopt when malformed.
std::optional<Challenge> parse_challenge(std::string_view header);

// The token scope a request needs: "repository:NAME:<actions>" (plus the mount source's
// "repository:FROM:pull"), "registry:catalog:*" for /v2/_catalog, "" for /v2/.
std::string scope_for(std::string_view method, std::string_view target, std::string_view actions);

// Percent-encodes everything but unreserved characters (as a query value).
std::string url_encode(std::string_view text);

class ClientAuth {
 public:
  enum class Kind { basic, bearer };

  // Basic: user and password. Bearer: the refresh token (sent as the password of the
  // all-zero user name to the token service).
  static ClientAuth basic(std::string user, std::string password);
  static ClientAuth bearer(std::string refresh_token);

  ClientAuth(const ClientAuth& other);
  ClientAuth& operator=(const ClientAuth&) = delete;

  // A session with the same credentials that has not yet seen a challenge or a token.
  ClientAuth fresh_session() const;

  // Actions asked for in repository scopes (default "pull,push").
  void set_repository_actions(std::string actions) { actions_ = std::move(actions); }

  Kind kind() const { return kind_; }

  // The user name and password a registry client logs in with (for Bearer: the all-zero user
  // and the refresh token), for clients that run their own token requests.
  const std::string& login_user() const { return user_; }
  const std::string& login_password() const { return password_; }

  // The Authorization value for `request`, pinging /v2/ and fetching a token over
  // `connection` when needed. nullopt with `error` set when that fails.
  std::optional<std::string> authorization_for(Connection& connection, const Request& request,
                                               std::string& error);

  // Fetches one access token covering the scopes of all `keys` (scope_for() values of the
  // requests to come) and caches it under each key, so that many repositories cost one token
  // request instead of one each. The keys' scopes go out as separate scope parameters, each
  // once. Returns false with `error` set when the token request fails.
  bool prime(Connection& connection, const std::vector<std::string>& keys, std::string& error);

  // After a 401 to a request sent with credentials: forgets the cached token and, for a
  // Bearer challenge, fetches one for the challenged scope. Returns the Authorization value
  // to retry with, or nullopt when retrying cannot help.
  std::optional<std::string> after_rejection(Connection& connection, const Request& request,
                                             const Response& response, std::string& error);

  // Number of access tokens this session fetched (for notes and checks).
  int tokens_fetched() const;

 private:
  using Clock = std::chrono::steady_clock;
  struct Token {
    std::string authorization;
    Clock::time_point refresh_after;
  };

  ClientAuth(Kind kind, std::string user, std::string password);
  bool learn_challenge(Connection& connection, std::string& error);
  std::optional<Token> fetch_token(Connection& connection, const std::string& scope,
                                   std::string& error);

  Kind kind_;
  std::string user_;
  std::string password_;
  std::string actions_ = "pull,push";
  mutable std::mutex mutex_;
  std::optional<Challenge> challenge_;      // from the first anonymous GET /v2/
  std::map<std::string, Token> tokens_;     // by scope
  int fetched_ = 0;
};

// "Basic base64(user:password)"
std::string basic_authorization(std::string_view user, std::string_view password);

}  // namespace berth::bench
