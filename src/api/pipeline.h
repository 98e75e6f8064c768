#pragma once
// The one request pipeline every route goes through, data plane and management alike.
//
// A route is a row {method, pattern, name, action, handler}; the pipeline turns each row into
// an http::Route whose handler runs the stages in order:
//
//   resolve the registry (data plane) -> network rules -> authenticate -> authorize the row's
//   action -> rate limit -> the row's handler, with the RequestContext the stages built.
//
// Authorization reads only the row's action: no handler checks permissions itself. Each route
// family says where its errors are written (OCI envelope or management envelope) and where its
// blocking work runs (the blocking pool or the event loop).

#include <boost/asio/awaitable.hpp>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/blocking_pool.h"
#include "auth/admin_credential.h"
#include "http/message.h"
#include "http/router.h"
#include "metadata/metadata_store.h"
#include "registry/registry.h"
#include "registry/tenant_resolver.h"

namespace berth::api {

// Who sent a request. Only the deployment administrator token exists today; users, service
// principals and repository tokens are planned.
struct Identity {
  enum class Kind { anonymous, deployment_admin };
  Kind kind = Kind::anonymous;
  std::string display_name = "anonymous";

  static Identity anonymous() { return {}; }
  static Identity deployment_admin() { return {Kind::deployment_admin, "admin"}; }
};

// The registry (tenant) a data-plane request addresses.
struct ResolvedRegistry {
  metadata::RegistryId id;
  std::string name;
};

// What the pipeline knows about one request by the time its handler runs.
struct RequestContext {
  std::string request_id;  // also X-Request-Id and the access log's id=
  std::string route_name;
  std::optional<ResolvedRegistry> registry;  // none for management and service routes
  Identity identity;
  std::string client_address;
  // Where the handler's blocking work (fsync, commits) runs: the family's choice. Null runs it
  // inline, on the event loop.
  BlockingPool* blocking = nullptr;

  template <class Work>
  auto run_blocking(Work work) const {
    return offload(blocking, std::move(work));
  }
};

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
inline constexpr std::string_view kOpen = "";  // anyone, no check (base, openapi, healthz)
inline constexpr std::string_view kPull = "pull";
inline constexpr std::string_view kPush = "push";
inline constexpr std::string_view kDelete = "delete";
inline constexpr std::string_view kCatalog = "catalog";
inline constexpr std::string_view kAdmin = "admin";  // the deployment administrator only
// Management of the registry named by the route's {registry}: the caller's management role
// there (Reader < Contributor < Owner; the deployment administrator has every one).
inline constexpr std::string_view kRegistryRead = "registry.read";
inline constexpr std::string_view kRegistryWrite = "registry.write";
inline constexpr std::string_view kRegistryOwn = "registry.own";
// The token service: anyone may ask; the handler verifies the credentials it is given.
inline constexpr std::string_view kToken = "token";
}  // namespace action

// How authorize() answers.
enum class Verdict {
  allowed,
  needs_authentication,  // 401: the caller may retry with credentials
  unknown_action,        // a route table names an action the authorizer does not know
};

// Whether `action` is one authorize() decides; any other is refused (fail closed).
bool known_action(std::string_view action);

// Today's policy: the data-plane actions are open to anyone (anonymous included); the
// management action needs the deployment administrator. Reads only the action and the identity.
Verdict authorize(std::string_view action, const Identity& identity);

// The peer address. The seam where trusted-proxy handling (X-Forwarded-For from configured
// proxies) is planned to go; today it is the TCP peer, always.
std::string client_address_of(const http::Request& request);

// The error answers a route family writes in its own envelope.
struct FamilyErrors {
  std::function<http::Response(const registry::RegistryError&)> of_registry_error;
  std::function<http::Response()> unauthenticated;
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
};

class Pipeline {
 public:
  // Both must outlive the pipeline and every route it made.
  Pipeline(const registry::TenantResolver& tenants, const auth::AdminCredential& admin)
      : tenants_(tenants), admin_(admin) {}

  // The route `row` becomes: the stages, then its handler. `family` is copied.
  http::Route wrap(const RouteFamily& family, RouteRow row) const;
  // wrap() for each row, added to `router`.
  void add(http::Router& router, const RouteFamily& family, std::vector<RouteRow> rows) const;

 private:
  boost::asio::awaitable<http::Response> run(const RouteFamily& family, const RouteRow& row,
                                             http::Request& request) const;
  std::optional<http::Response> resolve_registry(const RouteFamily& family, http::Request& request,
                                                 RequestContext& context) const;
  std::optional<http::Response> network_rules(const RouteFamily& family,
                                              const RequestContext& context) const;
  Identity authenticate(const http::Request& request) const;
  std::optional<http::Response> check_authorization(const RouteFamily& family, const RouteRow& row,
                                                    const RequestContext& context) const;
  std::optional<http::Response> rate_limit(const RouteFamily& family,
                                           const RequestContext& context) const;

  const registry::TenantResolver& tenants_;
  const auth::AdminCredential& admin_;
};

}  // namespace berth::api
