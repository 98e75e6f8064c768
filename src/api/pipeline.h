#pragma once
// The one request pipeline every route goes through, data plane and management alike.
//
// A route is a row {method, pattern, name, action, handler}; the pipeline turns each row into
// an http::Route whose handler runs the stages in order:
//
//   resolve the registry (data plane) -> network rules -> authenticate -> authorize the row's
//   action -> rate limit -> the row's handler, with the RequestContext the stages built.
//
// Around them, the pipeline records each answered request in the metrics (when it has some):
// latency by route and status class, body bytes, pushes and pulls.
//
// Authorization reads only the row's action: no handler checks permissions itself. Each route
// family says where its errors are written (OCI envelope or management envelope) and where its
// blocking work runs (the blocking pool or the event loop).

#include <boost/asio/awaitable.hpp>
#include <atomic>
#include <chrono>
#include <memory>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/blocking_pool.h"
#include "auth/access.h"
#include "auth/admin_credential.h"
#include "auth/authenticator.h"
#include "auth/login_audit.h"
#include "auth/network_policy.h"
#include "metadata/access_store.h"
#include "http/message.h"
#include "http/router.h"
#include "metadata/metadata_store.h"
#include "metrics/metrics.h"
#include "registry/registry.h"
#include "registry/tenant_resolver.h"

namespace berth::api {

class RateLimiter;

// The registry (tenant) a data-plane request addresses.
struct ResolvedRegistry {
  metadata::RegistryId id;
  std::string name;
  metadata::RegistryRecord record;  // as read when the request arrived
  std::string service;              // the token service's "service": its login server
};

// What the pipeline knows about one request by the time its handler runs.
struct RequestContext {
  std::string request_id;  // also X-Request-Id and the access log's id=
  std::string route_name;
  std::optional<ResolvedRegistry> registry;  // none for management and service routes
  auth::Caller caller;                       // who, and what they may do in `registry`
  std::string client_address;                // after trusted-proxy handling
  // Where the handler's blocking work (fsync, commits) runs: the family's choice. Null runs it
  // inline, on the event loop.
  BlockingPool* blocking = nullptr;

  template <class Work>
  auto run_blocking(Work work) const {
    return offload(blocking, std::move(work));
  }
  // Whether the caller may pull from `repository` (a mount's source, a catalog entry).
  bool may_read(std::string_view repository) const {
    return caller.grant.on(repository).has(auth::Permission::pull);
  }
};

// The request as the origin of the events its content changes append: who, from where, and
// the request's id, host, method and user agent (for webhook payloads and the audit).
metadata::EventOrigin event_origin(const RequestContext& context, const http::Request& request);

using ContextHandler =
    std::function<boost::asio::awaitable<http::Response>(RequestContext&, http::Request&)>;

// One row of a route table, before the pipeline wraps it.
struct RouteRow {
  std::string method;
  std::string pattern;
  std::string name;
  std::string action;  // what authorize() checks; see known_action()
  ContextHandler handler;
};

// The actions of the route tables.
namespace action {
inline constexpr std::string_view kOpen = "";  // anyone, no check (openapi, healthz)
// The API base (/v2/): any authenticated caller; anonymous callers get the challenge that
// tells clients where to log in.
inline constexpr std::string_view kBase = "base";
inline constexpr std::string_view kPull = "pull";
inline constexpr std::string_view kPush = "push";
inline constexpr std::string_view kDelete = "delete";
// The repository's metadata (/acr/v1): reading its attributes and listings, changing its
// changeable attributes. Token scopes name them metadata_read and metadata_write; scope maps
// metadata/read and metadata/write.
inline constexpr std::string_view kMetadataRead = "metadata_read";
inline constexpr std::string_view kMetadataWrite = "metadata_write";
inline constexpr std::string_view kCatalog = "catalog";
inline constexpr std::string_view kAdmin = "admin";  // the deployment administrator only
// Management of the registry named by the route's {registry}: the caller's management role
// there (Reader < Contributor < Owner; the deployment administrator has every one).
inline constexpr std::string_view kRegistryRead = "registry.read";
inline constexpr std::string_view kRegistryWrite = "registry.write";
inline constexpr std::string_view kRegistryOwn = "registry.own";
// The token service: anyone may ask; the handler verifies the credentials it is given.
inline constexpr std::string_view kToken = "token";
// GET /metrics: clients on a loopback address, and others with the metrics token (Bearer).
inline constexpr std::string_view kMetrics = "metrics";
}  // namespace action

// How authorize() answers.
enum class Verdict {
  allowed,
  needs_authentication,  // 401 with the challenge: the caller may retry with credentials
  insufficient_scope,    // 401 with the challenge: the caller's token lacks a scope it may get
  denied,                // 403 DENIED: the caller may not, whatever token it gets
  unknown_action,        // a route table names an action the authorizer does not know
};

// Whether `action` is one authorize() decides; any other is refused (fail closed).
bool known_action(std::string_view action);

// What authorize() needs to know about the request.
struct AuthorizationInput {
  std::string_view action;
  std::string_view repository;  // the route's {name}, for repository actions
  const auth::Caller& caller;
  // For kRegistry* actions: the caller's management level on the route's registry (none when
  // the registry does not exist).
  auth::ManagementLevel registry_level = auth::ManagementLevel::none;
  // For a token caller lacking a permission: whether its principal holds it (so a new token
  // would carry it).
  bool principal_has_it = false;
  // For kMetrics: whether the client address is a loopback one, whether a metrics token is
  // configured, and whether the request presented it.
  bool loopback_client = false;
  bool metrics_token_configured = false;
  bool metrics_token_presented = false;
};

// The one authorization decision: reads only the route's action and what the caller may do.
Verdict authorize(const AuthorizationInput& input);
// The permissions a repository action needs (empty for the other actions).
auth::Permissions permissions_for(std::string_view action);

// What a 401 tells the client (the data plane's WWW-Authenticate: Bearer challenge).
struct Challenge {
  std::string realm;    // the token endpoint URL
  std::string service;  // the registry's login server
  std::string scope;    // "repository:<name>:pull,push", "registry:catalog:*", or ""
  std::string error;    // "", "invalid_token", "insufficient_scope"
  std::string message;  // for people; never a secret
};

// The error answers a route family writes in its own envelope.
struct FamilyErrors {
  std::function<http::Response(const registry::RegistryError&)> of_registry_error;
  std::function<http::Response(const Challenge&)> unauthenticated;     // 401
  std::function<http::Response(std::string_view message)> denied;      // 403
  std::function<http::Response(std::chrono::seconds)> too_many_requests;  // 429
  // A server fault the client learns nothing of; the cause is logged by the pipeline.
  std::function<http::Response()> internal;
};

// The routes that share a URL space, an error envelope and where their work runs.
struct RouteFamily {
  std::string name;                // "distribution", "management", "service"
  bool resolves_registry = false;  // from the listener or the Host (data plane)
  // Whether the access log's registry= names the route's {registry} parameter (management).
  bool registry_from_path = false;
  FamilyErrors errors;
  BlockingPool* blocking = nullptr;
  // Counts the family's requests while their handlers run (null: not counted). The data plane's
  // tells background work (garbage collection) when clients are being served.
  std::atomic<std::int64_t>* in_flight = nullptr;
};

// What the pipeline's stages use; everything must outlive the pipeline.
struct PipelineServices {
  const registry::TenantResolver& tenants;
  metadata::MetadataStore& metadata;    // the management routes' registries
  metadata::AccessStore& access;        // network rules
  auth::Authenticator& authenticator;
  auth::LoginAudit* audit = nullptr;    // null: logins are not recorded (unit tests)
  RateLimiter* limiter = nullptr;       // null: no rate limits
  auth::TrustedProxies proxies;
  metrics::Metrics* metrics = nullptr;  // null: nothing recorded (unit tests)
  // The token non-loopback clients scrape /metrics with (Bearer), held as its hash and compared
  // in constant time (the administrator credential's class serves any such token). None: only
  // loopback clients may scrape.
  std::optional<auth::AdminCredential> metrics_token;
};

class Pipeline {
 public:
  explicit Pipeline(PipelineServices services);
  ~Pipeline();

  // The route `row` becomes: the stages, then its handler. `family` is copied.
  http::Route wrap(const RouteFamily& family, RouteRow row) const;
  // wrap() for each row, added to `router`.
  void add(http::Router& router, const RouteFamily& family, std::vector<RouteRow> rows) const;

  // Records a login attempt in the audit and the failed-login throttle (the token service's
  // handlers use it too).
  void record_login(const RequestContext& context, std::string_view identity,
                    std::string_view identity_kind, std::string_view method, bool success,
                    std::string_view reason) const;
  // The failed-login throttle for this client: a delay to wait before answering, or a refusal.
  struct LoginGate {
    std::chrono::milliseconds delay{0};
    std::optional<std::chrono::seconds> refused_for;
  };
  LoginGate login_gate(const RequestContext& context) const;
  // The token endpoint URL clients are sent to (realm), for this request.
  static std::string realm_of(const http::Request& request);

  const PipelineServices& services() const { return services_; }

 private:
  class TokenCache;

  // The stages and the handler, then the metrics of the answer.
  boost::asio::awaitable<http::Response> run(const RouteFamily& family, const RouteRow& row,
                                             metrics::Metrics::Route* instruments,
                                             http::Request& request) const;
  boost::asio::awaitable<http::Response> stages(const RouteFamily& family, const RouteRow& row,
                                                http::Request& request,
                                                RequestContext& context) const;
  void record(metrics::Metrics::Route& instruments, const RequestContext& context, unsigned status,
              std::chrono::steady_clock::time_point started, std::uint64_t received,
              std::uint64_t sent) const;
  std::optional<http::Response> resolve_registry(const RouteFamily& family, http::Request& request,
                                                 RequestContext& context) const;
  std::optional<http::Response> network_rules(const RouteFamily& family,
                                              const RequestContext& context) const;
  // Bearer tokens, malformed headers and anonymous callers (no blocking work).
  std::optional<http::Response> authenticate(const RouteFamily& family, const RouteRow& row,
                                             const http::Request& request,
                                             const auth::Authorization& authorization,
                                             RequestContext& context) const;
  boost::asio::awaitable<std::optional<http::Response>> authenticate_basic(
      const RouteFamily& family, const RouteRow& row, const http::Request& request,
      RequestContext& context, const auth::BasicCredentials& basic) const;
  boost::asio::awaitable<std::optional<http::Response>> check_authorization(
      const RouteFamily& family, const RouteRow& row, http::Request& request,
      RequestContext& context) const;
  std::optional<http::Response> rate_limit(const RouteFamily& family, const RouteRow& row,
                                           const http::Request& request,
                                           const RequestContext& context) const;
  Challenge challenge_for(const RouteRow& row, const http::Request& request,
                          const RequestContext& context, std::string error,
                          std::string message) const;

  // Holds the calling coroutine for `delay` (the failed-login slow-down).
  static boost::asio::awaitable<void> wait(std::chrono::milliseconds delay);

  PipelineServices services_;
  std::unique_ptr<TokenCache> tokens_;
};

}  // namespace berth::api
