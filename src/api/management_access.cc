// The access-control part of the management API: a registry's admin credentials, scope maps,
// tokens, network rules and login audit; the deployment's identities and role assignments.
// The handlers parse the wire form, call registry::AccessControl on the blocking pool and map
// its errors; the contract is docs/management-api.md.
//
// Secret values appear only where they are made (token create and credential generate,
// identity create) and in the admin user's credentials (which exist to be shown, and need
// registry write access).

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <charconv>
#include <memory>
#include <optional>
#include <utility>
#include <variant>

#include "api/management.h"
#include "api/management_json.h"
#include "common/clock.h"

namespace berth::api {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using http::Request;
using http::Response;
using registry::AccessControlErrc;
using registry::AccessControlError;
using registry::AccessControlResult;
using namespace mgmt_json;

// ------------------------------------------------------------------ errors

struct WireError {
  unsigned status;
  std::string_view code;
};

WireError wire_error_of(AccessControlErrc errc) {
  namespace code = mgmt::code;
  switch (errc) {
    case AccessControlErrc::invalid_argument:
      return {400, code::kInvalidRequest};
    case AccessControlErrc::registry_not_found:
      return {404, code::kRegistryNotFound};
    case AccessControlErrc::scope_map_not_found:
      return {404, code::kScopeMapNotFound};
    case AccessControlErrc::token_not_found:
      return {404, code::kTokenNotFound};
    case AccessControlErrc::identity_not_found:
      return {404, code::kIdentityNotFound};
    case AccessControlErrc::role_assignment_not_found:
      return {404, code::kRoleAssignmentNotFound};
    case AccessControlErrc::network_rule_not_found:
      return {404, code::kNetworkRuleNotFound};
    case AccessControlErrc::scope_map_in_use:
      return {409, code::kScopeMapInUse};
    case AccessControlErrc::scope_map_read_only:
      return {409, code::kScopeMapReadOnly};
    case AccessControlErrc::admin_user_disabled:
      return {409, code::kAdminUserDisabled};
    case AccessControlErrc::conflict:
      return {409, code::kConflict};
    case AccessControlErrc::limit_exceeded:
      return {409, code::kLimitExceeded};
    case AccessControlErrc::internal:
      break;
  }
  return {500, code::kInternalError};
}

Response error_of(const AccessControlError& error) {
  WireError wire = wire_error_of(error.code);
  return domain_error(wire.status, wire.code, error.message, error.target);
}

// ------------------------------------------------------------------ resources as JSON

json::value optional_time(const std::optional<std::int64_t>& time) {
  if (!time) return nullptr;
  return json::value(time_of(*time));
}

json::object scope_map_json(const registry::ScopeMap& map) {
  json::array actions;
  for (const auto& action : map.actions) actions.emplace_back(action);
  return json::object{
      {"name", map.name},
      {"description", map.description},
      {"type", map.system ? "SystemDefined" : "UserDefined"},
      {"actions", std::move(actions)},
      {"creationDate", time_of(map.created_at)},
  };
}

json::object password_json(const registry::TokenPassword& password) {
  json::object out{
      {"name", password.name},
      {"creationTime", time_of(password.created_at)},
      {"expiry", optional_time(password.expiry)},
  };
  if (password.value) out["value"] = *password.value;
  return out;
}

json::object token_json(const registry::Token& token) {
  json::array passwords;
  for (const auto& password : token.passwords) passwords.push_back(password_json(password));
  return json::object{
      {"name", token.name},
      {"scopeMapName", token.scope_map},
      {"status", token.enabled ? "enabled" : "disabled"},
      {"creationDate", time_of(token.created_at)},
      {"credentials", json::object{{"username", token.name}, {"passwords", std::move(passwords)}}},
  };
}

json::object identity_json(const registry::Identity& identity) {
  const auto& r = identity.record;
  json::object out{
      {"id", r.id},
      {"name", r.name},
      {"kind", registry::identity_kind_name(r.kind)},
      {"enabled", r.enabled},
      {"expiry", optional_time(r.expiry)},
      {"creationDate", time_of(r.created_at)},
  };
  if (r.kind == metadata::IdentityKind::federated) {
    json::object claims;
    for (const auto& [name, value] : identity.claims) claims[name] = value;
    out["issuer"] = r.issuer;
    out["audience"] = r.audience;
    out["jwks"] = r.jwks;
    out["subject"] = r.subject;
    out["claims"] = std::move(claims);
  }
  return out;
}

json::object role_assignment_json(const registry::RoleAssignment& assignment) {
  return json::object{
      {"id", assignment.id},
      {"assignee", assignment.assignee},
      {"assigneeName", assignment.assignee_name},
      {"role", assignment.role},
      {"scope", assignment.scope},
      {"createdTime", time_of(assignment.created_at)},
  };
}

json::object network_rules_json(const registry::NetworkRuleSet& rules) {
  json::array ip_rules;
  for (const auto& range : rules.ip_rules) {
    ip_rules.push_back(json::object{{"action", "Allow"}, {"ipAddressOrRange", range}});
  }
  return json::object{{"defaultAction", rules.default_action}, {"ipRules", std::move(ip_rules)}};
}

json::object credentials_json(const registry::AdminCredentials& credentials) {
  json::array passwords;
  for (const auto& password : credentials.passwords) {
    passwords.push_back(json::object{{"name", password.name}, {"value", password.value}});
  }
  return json::object{{"username", credentials.username}, {"passwords", std::move(passwords)}};
}

json::object login_event_json(const registry::LoginEvent& event) {
  const auto& r = event.record;
  return json::object{
      {"time", time_of(r.time)},
      {"registry", event.registry},
      {"identity", r.identity},
      {"identityKind", r.identity_kind},
      {"clientAddress", r.client_address},
      {"result", r.success ? "success" : "failure"},
      {"method", r.method},
      {"reason", r.reason},
  };
}

// ------------------------------------------------------------------ inputs

std::optional<std::string_view> as_view(const std::optional<std::string>& text) {
  if (!text) return std::nullopt;
  return std::string_view(*text);
}

// "enabled" / "disabled", or the 400 to answer.
struct ParsedStatus {
  std::optional<bool> enabled;
  std::optional<Response> error;
};

ParsedStatus parse_status(const std::optional<std::string>& text) {
  ParsedStatus parsed;
  if (!text) return parsed;
  if (*text == "enabled") {
    parsed.enabled = true;
  } else if (*text == "disabled") {
    parsed.enabled = false;
  } else {
    parsed.error = invalid_request("'status' must be enabled or disabled", "status");
  }
  return parsed;
}

Response created(const json::object& body, std::string location) {
  Response response = json_response(201, body);
  response.headers.set("Location", location);
  return response;
}

std::string registry_location(std::string_view registry, std::string_view kind,
                              std::string_view name) {
  return fmt::format("{}registries/{}/{}/{}", mgmt::kPrefix, registry, kind, name);
}

// The request bodies of the creates, or the 400 to answer. (Parsed outside the coroutines,
// which keeps those small.)

std::variant<registry::NewToken, Response> parse_new_token(const json::object& body) {
  if (auto bad = check_fields(body, {{"name", FieldType::string},
                                     {"scopeMapName", FieldType::string},
                                     {"status", FieldType::string},
                                     {"noPasswords", FieldType::boolean},
                                     {"expiry", FieldType::string}})) {
    return std::move(*bad);
  }
  auto name = string_field(body, "name");
  if (!name) return invalid_request("'name' is required", "name");
  auto scope_map = string_field(body, "scopeMapName");
  if (!scope_map) return invalid_request("'scopeMapName' is required", "scopeMapName");
  auto status = parse_status(string_field(body, "status"));
  if (status.error) return std::move(*status.error);
  auto expiry = parse_time(as_view(string_field(body, "expiry")), "expiry");
  if (expiry.error) return std::move(*expiry.error);
  return registry::NewToken{*name, *scope_map, status.enabled,
                            bool_field(body, "noPasswords").value_or(false), expiry.value};
}

std::variant<registry::NewIdentity, Response> parse_new_identity(const json::object& body) {
  if (auto bad = check_fields(body, {{"name", FieldType::string},
                                     {"kind", FieldType::string},
                                     {"expiry", FieldType::string},
                                     {"password", FieldType::string},
                                     {"issuer", FieldType::string},
                                     {"audience", FieldType::string},
                                     {"jwks", FieldType::string},
                                     {"subject", FieldType::string},
                                     {"claims", FieldType::string_map}})) {
    return std::move(*bad);
  }
  auto name = string_field(body, "name");
  if (!name) return invalid_request("'name' is required", "name");
  auto kind = string_field(body, "kind");
  if (!kind) return invalid_request("'kind' is required", "kind");
  auto expiry = parse_time(as_view(string_field(body, "expiry")), "expiry");
  if (expiry.error) return std::move(*expiry.error);
  registry::NewIdentity wanted;
  wanted.name = *name;
  wanted.kind = *kind;
  wanted.expiry = expiry.value;
  wanted.password = string_field(body, "password");
  wanted.issuer = string_field(body, "issuer").value_or("");
  wanted.audience = string_field(body, "audience").value_or("");
  wanted.jwks = string_field(body, "jwks").value_or("");
  wanted.subject = string_field(body, "subject").value_or("");
  wanted.claims = string_map_field(body, "claims");
  return wanted;
}

std::variant<registry::NewRoleAssignment, Response> parse_new_role_assignment(
    const json::object& body) {
  if (auto bad = check_fields(body, {{"assignee", FieldType::string},
                                     {"role", FieldType::string},
                                     {"scope", FieldType::string}})) {
    return std::move(*bad);
  }
  registry::NewRoleAssignment wanted;
  for (auto [field, target] :
       {std::pair{"assignee", &wanted.assignee}, std::pair{"role", &wanted.role},
        std::pair{"scope", &wanted.scope}}) {
    auto value = string_field(body, field);
    if (!value) return invalid_request(fmt::format("'{}' is required", field), field);
    *target = std::move(*value);
  }
  return wanted;
}

// ------------------------------------------------------------------ handlers

// Every registry::AccessControl call runs through context.run_blocking: each reads or commits
// to the database, and hashing a chosen password is slow on purpose.
class AccessHandlers {
 public:
  explicit AccessHandlers(ManagementContext& context)
      : access_(context.access), signing_keys_(context.signing_keys) {}

  // --- admin user ---

  asio::awaitable<Response> show_credentials(RequestContext& context, Request& request) {
    auto credentials = co_await context.run_blocking(
        [&] { return access_.admin_credentials(request.param("registry")); });
    if (!credentials) co_return error_of(credentials.error());
    co_return json_response(200, credentials_json(*credentials));
  }

  asio::awaitable<Response> renew_credentials(RequestContext& context, Request& request) {
    auto body = co_await read_json_object(request);
    if (body.error) co_return std::move(*body.error);
    if (auto bad = check_fields(body.object, {{"passwordName", FieldType::string}})) {
      co_return std::move(*bad);
    }
    auto name = string_field(body.object, "passwordName");
    if (!name) co_return invalid_request("'passwordName' is required", "passwordName");
    auto credentials = co_await context.run_blocking(
        [&] { return access_.renew_admin_password(request.param("registry"), *name); });
    if (!credentials) co_return error_of(credentials.error());
    co_return json_response(200, credentials_json(*credentials));
  }

  // --- scope maps ---

  asio::awaitable<Response> list_scope_maps(RequestContext& context, Request& request) {
    auto maps = co_await context.run_blocking(
        [&] { return access_.list_scope_maps(request.param("registry")); });
    if (!maps) co_return error_of(maps.error());
    json::array items;
    for (const auto& map : *maps) items.push_back(scope_map_json(map));
    co_return json_response(200, json::object{{"scopeMaps", std::move(items)}});
  }

  asio::awaitable<Response> create_scope_map(RequestContext& context, Request& request) {
    auto body = co_await read_json_object(request);
    if (body.error) co_return std::move(*body.error);
    if (auto bad = check_fields(body.object, {{"name", FieldType::string},
                                              {"description", FieldType::string},
                                              {"actions", FieldType::string_array}})) {
      co_return std::move(*bad);
    }
    auto name = string_field(body.object, "name");
    if (!name) co_return invalid_request("'name' is required", "name");
    if (!body.object.contains("actions")) {
      co_return invalid_request("'actions' is required", "actions");
    }
    registry::NewScopeMap wanted{*name, string_field(body.object, "description").value_or(""),
                                 string_array_field(body.object, "actions")};
    auto map = co_await context.run_blocking(
        [&] { return access_.create_scope_map(request.param("registry"), wanted); });
    if (!map) co_return error_of(map.error());
    Response response = created(scope_map_json(*map), registry_location(request.param("registry"),
                                                                        "scope-maps", map->name));
    co_return response;
  }

  asio::awaitable<Response> show_scope_map(RequestContext& context, Request& request) {
    auto map = co_await context.run_blocking(
        [&] { return access_.show_scope_map(request.param("registry"), request.param("name")); });
    if (!map) co_return error_of(map.error());
    co_return json_response(200, scope_map_json(*map));
  }

  asio::awaitable<Response> update_scope_map(RequestContext& context, Request& request) {
    auto body = co_await read_json_object(request);
    if (body.error) co_return std::move(*body.error);
    if (auto bad = check_fields(body.object, {{"description", FieldType::string},
                                              {"addActions", FieldType::string_array},
                                              {"removeActions", FieldType::string_array}})) {
      co_return std::move(*bad);
    }
    registry::ScopeMapChanges changes{string_field(body.object, "description"),
                                      string_array_field(body.object, "addActions"),
                                      string_array_field(body.object, "removeActions")};
    auto map = co_await context.run_blocking([&] {
      return access_.update_scope_map(request.param("registry"), request.param("name"), changes);
    });
    if (!map) co_return error_of(map.error());
    co_return json_response(200, scope_map_json(*map));
  }

  asio::awaitable<Response> delete_scope_map(RequestContext& context, Request& request) {
    auto removed = co_await context.run_blocking(
        [&] { return access_.delete_scope_map(request.param("registry"), request.param("name")); });
    if (!removed) co_return error_of(removed.error());
    co_return no_content();
  }

  // --- tokens ---

  asio::awaitable<Response> list_tokens(RequestContext& context, Request& request) {
    auto tokens = co_await context.run_blocking(
        [&] { return access_.list_tokens(request.param("registry")); });
    if (!tokens) co_return error_of(tokens.error());
    json::array items;
    for (const auto& token : *tokens) items.push_back(token_json(token));
    co_return json_response(200, json::object{{"tokens", std::move(items)}});
  }

  asio::awaitable<Response> create_token(RequestContext& context, Request& request) {
    auto body = co_await read_json_object(request);
    if (body.error) co_return std::move(*body.error);
    auto parsed = parse_new_token(body.object);
    if (auto* bad = std::get_if<Response>(&parsed)) co_return std::move(*bad);
    const auto& wanted = std::get<registry::NewToken>(parsed);
    auto token = co_await context.run_blocking(
        [&] { return access_.create_token(request.param("registry"), wanted); });
    if (!token) co_return error_of(token.error());
    Response response = created(
        token_json(*token), registry_location(request.param("registry"), "tokens", token->name));
    co_return response;
  }

  asio::awaitable<Response> show_token(RequestContext& context, Request& request) {
    auto token = co_await context.run_blocking(
        [&] { return access_.show_token(request.param("registry"), request.param("name")); });
    if (!token) co_return error_of(token.error());
    co_return json_response(200, token_json(*token));
  }

  asio::awaitable<Response> update_token(RequestContext& context, Request& request) {
    auto body = co_await read_json_object(request);
    if (body.error) co_return std::move(*body.error);
    if (auto bad = check_fields(
            body.object, {{"status", FieldType::string}, {"scopeMapName", FieldType::string}})) {
      co_return std::move(*bad);
    }
    auto status = parse_status(string_field(body.object, "status"));
    if (status.error) co_return std::move(*status.error);
    registry::TokenChanges changes{status.enabled, string_field(body.object, "scopeMapName")};
    auto token = co_await context.run_blocking([&] {
      return access_.update_token(request.param("registry"), request.param("name"), changes);
    });
    if (!token) co_return error_of(token.error());
    co_return json_response(200, token_json(*token));
  }

  asio::awaitable<Response> delete_token(RequestContext& context, Request& request) {
    auto removed = co_await context.run_blocking(
        [&] { return access_.delete_token(request.param("registry"), request.param("name")); });
    if (!removed) co_return error_of(removed.error());
    co_return no_content();
  }

  asio::awaitable<Response> generate_token_credentials(RequestContext& context, Request& request) {
    auto body = co_await read_json_object(request);
    if (body.error) co_return std::move(*body.error);
    if (auto bad = check_fields(
            body.object, {{"passwordName", FieldType::string}, {"expiry", FieldType::string}})) {
      co_return std::move(*bad);
    }
    auto expiry = parse_time(as_view(string_field(body.object, "expiry")), "expiry");
    if (expiry.error) co_return std::move(*expiry.error);
    auto password_name = string_field(body.object, "passwordName");
    auto passwords = co_await context.run_blocking([&] {
      return access_.generate_token_passwords(request.param("registry"), request.param("name"),
                                              password_name, expiry.value);
    });
    if (!passwords) co_return error_of(passwords.error());
    json::array items;
    for (const auto& password : *passwords) items.push_back(password_json(password));
    co_return json_response(
        200, json::object{{"username", request.param("name")}, {"passwords", std::move(items)}});
  }

  // --- identities ---

  asio::awaitable<Response> list_identities(RequestContext& context, Request&) {
    auto identities = co_await context.run_blocking([&] { return access_.list_identities(); });
    if (!identities) co_return error_of(identities.error());
    json::array items;
    for (const auto& identity : *identities) items.push_back(identity_json(identity));
    co_return json_response(200, json::object{{"identities", std::move(items)}});
  }

  asio::awaitable<Response> create_identity(RequestContext& context, Request& request) {
    auto body = co_await read_json_object(request);
    if (body.error) co_return std::move(*body.error);
    auto parsed = parse_new_identity(body.object);
    if (auto* bad = std::get_if<Response>(&parsed)) co_return std::move(*bad);
    const auto& wanted = std::get<registry::NewIdentity>(parsed);
    auto identity = co_await context.run_blocking([&] { return access_.create_identity(wanted); });
    if (!identity) co_return error_of(identity.error());
    json::object answer = identity_json(identity->identity);
    if (identity->secret) answer["secret"] = *identity->secret;
    Response response = created(
        answer, fmt::format("{}identities/{}", mgmt::kPrefix, identity->identity.record.id));
    co_return response;
  }

  asio::awaitable<Response> show_identity(RequestContext& context, Request& request) {
    auto identity =
        co_await context.run_blocking([&] { return access_.show_identity(request.param("id")); });
    if (!identity) co_return error_of(identity.error());
    co_return json_response(200, identity_json(*identity));
  }

  asio::awaitable<Response> delete_identity(RequestContext& context, Request& request) {
    auto removed =
        co_await context.run_blocking([&] { return access_.delete_identity(request.param("id")); });
    if (!removed) co_return error_of(removed.error());
    co_return no_content();
  }

  // --- role assignments ---

  asio::awaitable<Response> list_role_assignments(RequestContext& context, Request& request) {
    auto registry = request.query_param("registry");
    auto assignee = request.query_param("assignee");
    auto assignments = co_await context.run_blocking(
        [&] { return access_.list_role_assignments(registry, assignee); });
    if (!assignments) co_return error_of(assignments.error());
    json::array items;
    for (const auto& assignment : *assignments) items.push_back(role_assignment_json(assignment));
    co_return json_response(200, json::object{{"roleAssignments", std::move(items)}});
  }

  asio::awaitable<Response> create_role_assignment(RequestContext& context, Request& request) {
    auto body = co_await read_json_object(request);
    if (body.error) co_return std::move(*body.error);
    auto parsed = parse_new_role_assignment(body.object);
    if (auto* bad = std::get_if<Response>(&parsed)) co_return std::move(*bad);
    const auto& wanted = std::get<registry::NewRoleAssignment>(parsed);
    auto assignment =
        co_await context.run_blocking([&] { return access_.create_role_assignment(wanted); });
    if (!assignment) co_return error_of(assignment.error());
    Response response =
        created(role_assignment_json(*assignment),
                fmt::format("{}role-assignments/{}", mgmt::kPrefix, assignment->id));
    co_return response;
  }

  asio::awaitable<Response> delete_role_assignment(RequestContext& context, Request& request) {
    auto removed = co_await context.run_blocking(
        [&] { return access_.delete_role_assignment(request.param("id")); });
    if (!removed) co_return error_of(removed.error());
    co_return no_content();
  }

  // --- network rules ---

  asio::awaitable<Response> list_network_rules(RequestContext& context, Request& request) {
    auto rules = co_await context.run_blocking(
        [&] { return access_.network_rules(request.param("registry")); });
    if (!rules) co_return error_of(rules.error());
    co_return json_response(200, network_rules_json(*rules));
  }

  asio::awaitable<Response> add_network_rule(RequestContext& context, Request& request) {
    auto body = co_await read_json_object(request);
    if (body.error) co_return std::move(*body.error);
    if (auto bad = check_fields(body.object, {{"ipAddressOrRange", FieldType::string}})) {
      co_return std::move(*bad);
    }
    auto range = string_field(body.object, "ipAddressOrRange");
    if (!range) co_return invalid_request("'ipAddressOrRange' is required", "ipAddressOrRange");
    auto rules = co_await context.run_blocking(
        [&] { return access_.add_network_rule(request.param("registry"), *range); });
    if (!rules) co_return error_of(rules.error());
    co_return json_response(200, network_rules_json(*rules));
  }

  asio::awaitable<Response> remove_network_rule(RequestContext& context, Request& request) {
    auto range = request.query_param("ipAddressOrRange");
    if (!range) {
      co_return invalid_request("the query parameter 'ipAddressOrRange' is required",
                                "ipAddressOrRange");
    }
    auto rules = co_await context.run_blocking(
        [&] { return access_.remove_network_rule(request.param("registry"), *range); });
    if (!rules) co_return error_of(rules.error());
    co_return json_response(200, network_rules_json(*rules));
  }

  // --- login audit ---

  asio::awaitable<Response> login_events(RequestContext& context, Request& request) {
    registry::LoginAuditQuery query;
    if (auto identity = request.query_param("identity")) query.identity = std::string(*identity);
    if (auto result = request.query_param("result")) {
      if (*result != "success" && *result != "failure") {
        co_return invalid_request("'result' must be success or failure", "result");
      }
      query.success = *result == "success";
    }
    auto since = parse_time(request.query_param("since"), "since");
    if (since.error) co_return std::move(*since.error);
    auto until = parse_time(request.query_param("until"), "until");
    if (until.error) co_return std::move(*until.error);
    query.since = since.value;
    query.until = until.value;
    if (auto top = request.query_param("top")) {
      std::size_t value = 0;
      auto [end, ec] = std::from_chars(top->data(), top->data() + top->size(), value);
      if (ec != std::errc() || end != top->data() + top->size() || value < 1 ||
          value > registry::kMaxLoginEvents) {
        co_return invalid_request(
            fmt::format("'top' must be a number from 1 to {}", registry::kMaxLoginEvents), "top");
      }
      query.top = value;
    }
    auto events = co_await context.run_blocking(
        [&] { return access_.login_events(request.param("registry"), query); });
    if (!events) co_return error_of(events.error());
    json::array items;
    for (const auto& event : *events) items.push_back(login_event_json(event));
    co_return json_response(200, json::object{{"events", std::move(items)}});
  }

  // --- the token service's signing keys ---

  asio::awaitable<Response> list_signing_keys(RequestContext& context, Request&) {
    if (signing_keys_ == nullptr) co_return no_token_service();
    auto ring = signing_keys_->ring();
    json::array keys;
    bool first = true;
    for (const auto& key : ring->keys()) {
      keys.push_back(json::object{{"kid", key.kid()}, {"active", first}});
      first = false;
    }
    (void)context;
    co_return json_response(200, json::object{{"keys", std::move(keys)}});
  }

  // A new key signs from now on; tokens the older keys signed keep verifying (no one is
  // logged out). Other nodes pick the new key up when they first meet its kid.
  asio::awaitable<Response> rotate_signing_key(RequestContext& context, Request&) {
    if (signing_keys_ == nullptr) co_return no_token_service();
    auto kid = co_await context.run_blocking([&] { return signing_keys_->rotate(); });
    if (!kid) {
      spdlog::error("id={} signing key rotation failed: {}", context.request_id,
                    kid.error().message);
      co_return management_error(500, mgmt::code::kInternalError, "internal server error");
    }
    co_return json_response(200, json::object{{"kid", *kid}, {"active", true}});
  }

 private:
  static Response no_token_service() {
    return management_error(404, mgmt::code::kNotFound, "this server runs no token service");
  }

  registry::AccessControl& access_;
  auth::SigningKeys* signing_keys_;
};

using AccessRow = HandlerRow<AccessHandlers>;

constexpr std::string_view kAdmin = action::kAdmin;
constexpr std::string_view kRead = action::kRegistryRead;
constexpr std::string_view kWrite = action::kRegistryWrite;

// Identities and role assignments are the deployment's: its administrator alone manages them
// (a registry Owner assigning roles on that registry is planned). Under a registry, reading
// needs the Reader role and changing needs Contributor; showing the admin user's passwords
// counts as a change, since they give push access.
const AccessRow kAccessRoutes[] = {
    {"GET", "/mgmt/v1/registries/{registry}/credentials", "mgmt.credentials.show", kWrite,
     &AccessHandlers::show_credentials},
    {"POST", "/mgmt/v1/registries/{registry}/credentials/renew", "mgmt.credentials.renew", kWrite,
     &AccessHandlers::renew_credentials},
    {"GET", "/mgmt/v1/registries/{registry}/scope-maps", "mgmt.scopemaps.list", kRead,
     &AccessHandlers::list_scope_maps},
    {"POST", "/mgmt/v1/registries/{registry}/scope-maps", "mgmt.scopemaps.create", kWrite,
     &AccessHandlers::create_scope_map},
    {"GET", "/mgmt/v1/registries/{registry}/scope-maps/{name}", "mgmt.scopemaps.show", kRead,
     &AccessHandlers::show_scope_map},
    {"PATCH", "/mgmt/v1/registries/{registry}/scope-maps/{name}", "mgmt.scopemaps.update", kWrite,
     &AccessHandlers::update_scope_map},
    {"DELETE", "/mgmt/v1/registries/{registry}/scope-maps/{name}", "mgmt.scopemaps.delete", kWrite,
     &AccessHandlers::delete_scope_map},
    {"GET", "/mgmt/v1/registries/{registry}/tokens", "mgmt.tokens.list", kRead,
     &AccessHandlers::list_tokens},
    {"POST", "/mgmt/v1/registries/{registry}/tokens", "mgmt.tokens.create", kWrite,
     &AccessHandlers::create_token},
    {"POST", "/mgmt/v1/registries/{registry}/tokens/{name}/credentials/generate",
     "mgmt.tokens.credentials.generate", kWrite, &AccessHandlers::generate_token_credentials},
    {"GET", "/mgmt/v1/registries/{registry}/tokens/{name}", "mgmt.tokens.show", kRead,
     &AccessHandlers::show_token},
    {"PATCH", "/mgmt/v1/registries/{registry}/tokens/{name}", "mgmt.tokens.update", kWrite,
     &AccessHandlers::update_token},
    {"DELETE", "/mgmt/v1/registries/{registry}/tokens/{name}", "mgmt.tokens.delete", kWrite,
     &AccessHandlers::delete_token},
    {"GET", "/mgmt/v1/registries/{registry}/network-rules", "mgmt.networkrules.list", kRead,
     &AccessHandlers::list_network_rules},
    {"POST", "/mgmt/v1/registries/{registry}/network-rules", "mgmt.networkrules.add", kWrite,
     &AccessHandlers::add_network_rule},
    {"DELETE", "/mgmt/v1/registries/{registry}/network-rules", "mgmt.networkrules.remove", kWrite,
     &AccessHandlers::remove_network_rule},
    {"GET", "/mgmt/v1/registries/{registry}/audit/logins", "mgmt.audit.logins", kRead,
     &AccessHandlers::login_events},
    {"GET", "/mgmt/v1/identities", "mgmt.identities.list", kAdmin,
     &AccessHandlers::list_identities},
    {"POST", "/mgmt/v1/identities", "mgmt.identities.create", kAdmin,
     &AccessHandlers::create_identity},
    {"GET", "/mgmt/v1/identities/{id}", "mgmt.identities.show", kAdmin,
     &AccessHandlers::show_identity},
    {"DELETE", "/mgmt/v1/identities/{id}", "mgmt.identities.delete", kAdmin,
     &AccessHandlers::delete_identity},
    {"GET", "/mgmt/v1/role-assignments", "mgmt.roleassignments.list", kAdmin,
     &AccessHandlers::list_role_assignments},
    {"POST", "/mgmt/v1/role-assignments", "mgmt.roleassignments.create", kAdmin,
     &AccessHandlers::create_role_assignment},
    {"DELETE", "/mgmt/v1/role-assignments/{id}", "mgmt.roleassignments.delete", kAdmin,
     &AccessHandlers::delete_role_assignment},
    {"GET", "/mgmt/v1/signing-keys", "mgmt.signingkeys.list", kAdmin,
     &AccessHandlers::list_signing_keys},
    {"POST", "/mgmt/v1/signing-keys/rotate", "mgmt.signingkeys.rotate", kAdmin,
     &AccessHandlers::rotate_signing_key},
};

}  // namespace

std::vector<RouteRow> access_management_routes(ManagementContext& context) {
  return rows_of(std::make_shared<AccessHandlers>(context), kAccessRoutes);
}

}  // namespace berth::api
