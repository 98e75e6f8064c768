#include "api/pipeline.h"

#include <spdlog/spdlog.h>

#include <array>
#include <utility>

namespace berth::api {
namespace {

namespace asio = boost::asio;
using http::Request;
using http::Response;

// Every action a route table may name, with whether it needs the deployment administrator.
struct ActionRule {
  std::string_view action;
  bool needs_admin;
};

// Today the data plane has no authentication: every data-plane action is open to anonymous
// callers, as before the pipeline existed. Identities and scope maps will narrow these.
// The registry management actions need a management role on the registry; until the
// authenticator knows identities, only the deployment administrator (who has every role) has
// one.
constexpr std::array kActionRules{
    ActionRule{action::kOpen, false},          ActionRule{action::kPull, false},
    ActionRule{action::kPush, false},          ActionRule{action::kDelete, false},
    ActionRule{action::kCatalog, false},       ActionRule{action::kAdmin, true},
    ActionRule{action::kRegistryRead, true},   ActionRule{action::kRegistryWrite, true},
    ActionRule{action::kRegistryOwn, true},
};

const ActionRule* rule_of(std::string_view action) {
  for (const ActionRule& rule : kActionRules) {
    if (rule.action == action) return &rule;
  }
  return nullptr;
}

}  // namespace

bool known_action(std::string_view action) { return rule_of(action) != nullptr; }

Verdict authorize(std::string_view action, const Identity& identity) {
  const ActionRule* rule = rule_of(action);
  if (rule == nullptr) return Verdict::unknown_action;
  if (rule->needs_admin && identity.kind != Identity::Kind::deployment_admin) {
    return Verdict::needs_authentication;
  }
  return Verdict::allowed;
}

std::string client_address_of(const Request& request) { return request.remote_address; }

http::Route Pipeline::wrap(const RouteFamily& family, RouteRow row) const {
  http::Route route{row.method, row.pattern, row.name, row.action, {}};
  route.handler = [this, family, row = std::move(row)](Request& request) {
    return run(family, row, request);
  };
  return route;
}

void Pipeline::add(http::Router& router, const RouteFamily& family,
                   std::vector<RouteRow> rows) const {
  for (auto& row : rows) router.add(wrap(family, std::move(row)));
}

asio::awaitable<Response> Pipeline::run(const RouteFamily& family, const RouteRow& row,
                                        Request& request) const {
  RequestContext context;
  context.request_id = request.request_id;
  context.route_name = row.name;
  context.client_address = client_address_of(request);
  context.blocking = family.blocking;
  if (auto refused = resolve_registry(family, request, context)) co_return std::move(*refused);
  if (auto refused = network_rules(family, context)) co_return std::move(*refused);
  context.identity = authenticate(request);
  if (auto refused = check_authorization(family, row, context)) co_return std::move(*refused);
  if (auto refused = rate_limit(family, context)) co_return std::move(*refused);
  co_return co_await row.handler(context, request);
}

std::optional<Response> Pipeline::resolve_registry(const RouteFamily& family, Request& request,
                                                   RequestContext& context) const {
  if (family.registry_from_path) {
    // The access log names the registry a management call is about (it resolves nothing: the
    // handler looks the registry up and answers its own not-found).
    if (auto name = request.param("registry"); !name.empty()) {
      request.set_log_field("registry", std::string(name));
    }
  }
  if (!family.resolves_registry) return std::nullopt;
  auto host = request.header("Host").value_or("");
  // The access log names the registry addressed, also when it turns out not to exist.
  auto named = tenants_.registry_name_of(host, request.listener);
  std::string name = named.empty() ? tenants_.routing().default_registry : std::move(named);
  request.set_log_field("registry", name);
  auto id = tenants_.resolve(host, request.listener);
  if (!id) return family.errors.of_registry_error(id.error());
  context.registry = ResolvedRegistry{*id, std::move(name)};
  return std::nullopt;
}

// Planned: per-registry IP rules and public network access. Every address is allowed today.
std::optional<Response> Pipeline::network_rules(const RouteFamily&, const RequestContext&) const {
  return std::nullopt;
}

// The administrator token as a Bearer token makes the deployment administrator; anything else,
// including a wrong token, is anonymous (authorize() decides whether that is enough). Basic
// credentials and JWTs from a token service are planned.
Identity Pipeline::authenticate(const Request& request) const {
  if (admin_.verify_authorization(request.header("Authorization"))) {
    return Identity::deployment_admin();
  }
  return Identity::anonymous();
}

std::optional<Response> Pipeline::check_authorization(const RouteFamily& family,
                                                      const RouteRow& row,
                                                      const RequestContext& context) const {
  switch (authorize(row.action, context.identity)) {
    case Verdict::allowed:
      return std::nullopt;
    case Verdict::needs_authentication:
      return family.errors.unauthenticated();
    case Verdict::unknown_action:
      break;
  }
  // A route table names an action no rule covers: refuse rather than guess (fail closed).
  spdlog::error("id={} route {} names the action '{}', which the authorizer does not know; "
                "refused",
                context.request_id, row.name, row.action);
  return family.errors.internal();
}

// Planned: the tier's read and write operations per minute. Nothing is limited today.
std::optional<Response> Pipeline::rate_limit(const RouteFamily&, const RequestContext&) const {
  return std::nullopt;
}

}  // namespace berth::api
