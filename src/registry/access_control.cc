#include "registry/access_control.h"

#include "auth/federation.h"
#include "auth/jwks_source.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cctype>
#include <functional>
#include <memory>
#include <utility>

#include "auth/access.h"
#include "auth/network_policy.h"
#include "common/clock.h"
#include "common/ids.h"

namespace berth::registry {
namespace {

namespace json = boost::json;
using Errc = AccessControlErrc;

constexpr std::size_t kMinResourceNameLength = 5;
constexpr std::size_t kMaxResourceNameLength = 50;
constexpr std::size_t kMaxDescriptionLength = 256;
constexpr std::size_t kMaxActionLength = 1024;
constexpr std::size_t kMinIdentityNameLength = 3;
constexpr std::size_t kMaxIdentityNameLength = 128;
constexpr std::size_t kMinPasswordLength = 12;
constexpr std::size_t kMaxPasswordLength = 256;
constexpr std::size_t kMaxUrlLength = 2048;
constexpr std::size_t kMaxClaimLength = 512;
constexpr std::size_t kMaxClaims = 32;
constexpr std::string_view kRegistriesPrefix = "/registries/";
constexpr std::string_view kRepositoriesInfix = "/repositories/";

AccessControlError error(Errc code, std::string message, std::string_view target = {}) {
  return AccessControlError{code, std::move(message), std::string(target)};
}

AccessControlError invalid(std::string message, std::string_view target) {
  return error(Errc::invalid_argument, std::move(message), target);
}

AccessControlError internal(const metadata::MetadataError& failure) {
  return error(Errc::internal, failure.message);
}

AccessControlError of_tenant_error(const TenantError& failure) {
  switch (failure.code) {
    case TenantErrc::registry_not_found:
      return error(Errc::registry_not_found, failure.message, failure.target);
    case TenantErrc::invalid_name:
    case TenantErrc::invalid_tier:
    case TenantErrc::invalid_argument:
      return error(Errc::invalid_argument, failure.message, failure.target);
    case TenantErrc::limit_exceeded:
      return error(Errc::limit_exceeded, failure.message, failure.target);
    case TenantErrc::registry_name_taken:
    case TenantErrc::downgrade_blocked:
    case TenantErrc::registry_protected:
      return error(Errc::conflict, failure.message, failure.target);
    case TenantErrc::internal:
      break;
  }
  return error(Errc::internal, failure.message);
}

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

bool is_ascii_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool has_control_character(std::string_view text) {
  return std::any_of(text.begin(), text.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

// Scope map and token names: 5 to 50 letters, digits, '-' or '_', starting with a letter or a
// digit (so that no user name can look like a system scope map, "_repositories_pull").
AccessControlResult<void> validate_resource_name(std::string_view name, std::string_view what) {
  bool ok = name.size() >= kMinResourceNameLength && name.size() <= kMaxResourceNameLength &&
            is_ascii_alnum(name.front()) && std::all_of(name.begin(), name.end(), [](char c) {
              return is_ascii_alnum(c) || c == '-' || c == '_';
            });
  if (ok) return {};
  return invalid(fmt::format("{} name '{}' must be {} to {} letters, digits, '-' or '_', "
                             "starting with a letter or a digit",
                             what, name, kMinResourceNameLength, kMaxResourceNameLength),
                 "name");
}

AccessControlResult<void> validate_future(std::optional<std::int64_t> expiry) {
  if (expiry && *expiry <= unix_now()) {
    return invalid(fmt::format("expiry {} is not in the future", format_rfc3339(*expiry)),
                   "expiry");
  }
  return {};
}

AccessControlResult<void> validate_action(std::string_view action) {
  if (action.size() > kMaxActionLength || !auth::parse_scope_map_action(action)) {
    std::string shown(action.substr(0, std::min(action.size(), kMaxActionLength)));
    return invalid(fmt::format("'{}' is not a scope map action; the form is "
                               "repositories/<repository or prefix/*>/<content/read|"
                               "content/write|content/delete|metadata/read|metadata/write>",
                               shown),
                   "actions");
  }
  return {};
}

// `actions` validated, duplicates dropped (the first stays), at most kMaxScopeMapActions.
AccessControlResult<std::vector<std::string>> normalized_actions(
    const std::vector<std::string>& actions) {
  std::vector<std::string> out;
  for (const auto& action : actions) {
    if (auto valid = validate_action(action); !valid) return valid.error();
    if (std::find(out.begin(), out.end(), action) == out.end()) out.push_back(action);
  }
  if (out.empty()) return invalid("a scope map needs at least one action", "actions");
  if (out.size() > kMaxScopeMapActions) {
    return invalid(fmt::format("a scope map holds at most {} actions; this one would have {}",
                               kMaxScopeMapActions, out.size()),
                   "actions");
  }
  return out;
}

// The system scope map `name` (compared ignoring case), if it is one.
std::optional<ScopeMap> system_scope_map(std::string_view name) {
  for (std::string_view system : auth::system_scope_map_names()) {
    if (!equal_ignoring_case(system, name)) continue;
    ScopeMap map;
    map.name = std::string(system);
    map.description =
        fmt::format("Built-in scope map: {}", system.substr(auth::kSystemScopeMapPrefix.size()));
    map.system = true;
    for (std::string_view action : auth::system_scope_map_actions(system)) {
      map.actions.emplace_back(action);
    }
    return map;
  }
  return std::nullopt;
}

ScopeMap scope_map_of(metadata::ScopeMapRecord record) {
  return ScopeMap{std::move(record.name), std::move(record.description), false,
                  std::move(record.actions), record.created_at};
}

// Without the hashes: stored secrets never leave the service.
Token token_of(const metadata::TokenRecord& record) {
  Token token{record.name, record.scope_map, record.enabled, record.created_at, {}};
  for (const auto& password : record.passwords) {
    token.passwords.push_back({password.name, password.created_at, password.expiry, std::nullopt});
  }
  return token;
}

bool is_token_password_name(std::string_view name) {
  return std::find(std::begin(kTokenPasswordNames), std::end(kTokenPasswordNames), name) !=
         std::end(kTokenPasswordNames);
}

bool is_admin_password_name(std::string_view name) {
  return std::find(std::begin(kAdminPasswordNames), std::end(kAdminPasswordNames), name) !=
         std::end(kAdminPasswordNames);
}

// "http://..." or "https://..." with a host, no whitespace or control characters.
bool is_http_url(std::string_view text) {
  std::string_view rest;
  if (text.starts_with("https://")) {
    rest = text.substr(8);
  } else if (text.starts_with("http://")) {
    rest = text.substr(7);
  } else {
    return false;
  }
  if (rest.empty() || rest.front() == '/' || text.size() > kMaxUrlLength) return false;
  return std::none_of(text.begin(), text.end(),
                      [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f; });
}

bool is_absolute_file_path(std::string_view text) {
  return text.size() > 1 && text.size() <= kMaxUrlLength && text.front() == '/' &&
         !has_control_character(text);
}

AccessControlResult<metadata::IdentityKind> parse_identity_kind(std::string_view kind) {
  if (kind == "user") return metadata::IdentityKind::user;
  if (kind == "servicePrincipal") return metadata::IdentityKind::service_principal;
  if (kind == "federated") return metadata::IdentityKind::federated;
  return invalid(fmt::format("kind '{}' must be user, servicePrincipal or federated", kind),
                 "kind");
}

AccessControlResult<void> validate_identity_name(std::string_view name) {
  bool ok = name.size() >= kMinIdentityNameLength && name.size() <= kMaxIdentityNameLength &&
            is_ascii_alnum(name.front()) && std::all_of(name.begin(), name.end(), [](char c) {
              return is_ascii_alnum(c) || c == '-' || c == '_' || c == '.' || c == '@';
            });
  if (ok) return {};
  return invalid(fmt::format("identity name '{}' must be {} to {} letters, digits, '-', '_', "
                             "'.' or '@', starting with a letter or a digit",
                             name.substr(0, kMaxIdentityNameLength), kMinIdentityNameLength,
                             kMaxIdentityNameLength),
                 "name");
}

// A required text field of a federated identity: non-empty, bounded, printable.
AccessControlResult<void> validate_claim_text(std::string_view value, std::string_view field) {
  if (value.empty()) return invalid(fmt::format("'{}' is required", field), field);
  if (value.size() > kMaxClaimLength || has_control_character(value)) {
    return invalid(
        fmt::format("'{}' must be at most {} printable characters", field, kMaxClaimLength), field);
  }
  return {};
}

AccessControlResult<void> validate_federation(const NewIdentity& request) {
  if (!is_http_url(request.issuer)) {
    return invalid("'issuer' must be an https:// or http:// URL", "issuer");
  }
  if (auto valid = validate_claim_text(request.audience, "audience"); !valid) return valid;
  if (request.jwks.starts_with('{')) {
    // The document itself (what a CLI on another machine sends): it must hold usable keys.
    if (request.jwks.size() > auth::JwksSource::kMaxDocumentBytes ||
        !auth::JwkSet::parse(request.jwks)) {
      return invalid("'jwks' is not a JWKS document with a usable RSA or P-256 key", "jwks");
    }
  } else if (!is_http_url(request.jwks) && !is_absolute_file_path(request.jwks)) {
    return invalid(
        "'jwks' must be a JWKS document, an https:// or http:// URL or an absolute file path",
        "jwks");
  }
  if (auto valid = validate_claim_text(request.subject, "subject"); !valid) return valid;
  if (request.claims.size() > kMaxClaims) {
    return invalid(fmt::format("at most {} claims may be required", kMaxClaims), "claims");
  }
  for (const auto& [name, value] : request.claims) {
    if (auto valid = validate_claim_text(name, "claims"); !valid) return valid;
    if (value.size() > kMaxClaimLength || has_control_character(value)) {
      return invalid(
          fmt::format("claim '{}' must be at most {} printable characters", name, kMaxClaimLength),
          "claims");
    }
  }
  return {};
}

std::string claims_json_of(const std::map<std::string, std::string>& claims) {
  if (claims.empty()) return {};
  json::object object;
  for (const auto& [name, value] : claims) object[name] = value;
  return json::serialize(object);
}

std::map<std::string, std::string> claims_of(std::string_view claims_json) {
  std::map<std::string, std::string> claims;
  if (claims_json.empty()) return claims;
  boost::system::error_code ec;
  json::value value = json::parse(claims_json, ec);
  if (ec || !value.is_object()) return claims;
  for (const auto& [name, claim] : value.as_object()) {
    if (claim.is_string()) claims.emplace(std::string(name), std::string(claim.as_string()));
  }
  return claims;
}

Identity identity_of(metadata::IdentityRecord record) {
  record.secret_hash.clear();
  Identity identity;
  identity.claims = claims_of(record.claims_json);
  identity.record = std::move(record);
  return identity;
}

// A role assignment's scope: "/registries/<name>" or "/registries/<name>/repositories/<pattern>".
struct ParsedScope {
  std::string registry;
  std::string repository;  // empty: the whole registry
};

AccessControlResult<ParsedScope> parse_assignment_scope(std::string_view scope) {
  auto malformed = [scope] {
    return invalid(fmt::format("scope '{}' must be /registries/<registry> or "
                               "/registries/<registry>/repositories/<repository or prefix/*>",
                               scope.substr(0, kMaxUrlLength)),
                   "scope");
  };
  if (!scope.starts_with(kRegistriesPrefix)) return malformed();
  std::string_view rest = scope.substr(kRegistriesPrefix.size());
  auto slash = rest.find('/');
  ParsedScope parsed{std::string(rest.substr(0, slash)), {}};
  if (parsed.registry.empty()) return malformed();
  if (slash == std::string_view::npos) return parsed;
  rest = rest.substr(slash);
  if (!rest.starts_with(kRepositoriesInfix)) return malformed();
  std::string_view pattern = rest.substr(kRepositoriesInfix.size());
  if (!auth::valid_repository_pattern(pattern)) {
    return invalid(fmt::format("'{}' is not a repository name or pattern (name, prefix/* or *)",
                               pattern.substr(0, kMaxUrlLength)),
                   "scope");
  }
  parsed.repository = std::string(pattern);
  return parsed;
}

std::string scope_text(std::string_view registry, std::string_view repository) {
  std::string scope(kRegistriesPrefix);
  scope += registry;
  if (!repository.empty()) {
    scope += kRepositoriesInfix;
    scope += repository;
  }
  return scope;
}

// Counts one kind of a registry's access resources for Tenants' tier checks.
class StoreCounter final : public ResourceCounter {
 public:
  explicit StoreCounter(std::function<metadata::Result<std::uint64_t>(metadata::RegistryId)> count)
      : count_(std::move(count)) {}
  TenantResult<std::uint64_t> count(metadata::RegistryId registry) override {
    auto counted = count_(registry);
    if (!counted) return TenantError{TenantErrc::internal, counted.error().message, ""};
    return *counted;
  }

 private:
  std::function<metadata::Result<std::uint64_t>(metadata::RegistryId)> count_;
};

template <class List>
std::function<metadata::Result<std::uint64_t>(metadata::RegistryId)> size_of(List list) {
  return
      [list = std::move(list)](metadata::RegistryId registry) -> metadata::Result<std::uint64_t> {
        auto items = list(registry);
        if (!items) return items.error();
        return static_cast<std::uint64_t>(items->size());
      };
}

AccessControlError limit_exceeded(const RegistryInfo& registry, CountedResource resource) {
  return error(Errc::limit_exceeded,
               fmt::format("registry '{}' holds as many {} as tier {} allows ({})",
                           registry.record.name, resource_description(resource),
                           registry.tier->name, limit_of(*registry.tier, resource)),
               resource_name(resource));
}

// Why the store refused to add a tier-counted resource: it exists already (`duplicate`, about
// `target`), the tier's limit is reached, or the store failed.
AccessControlError creation_error(const metadata::MetadataError& failure,
                                  const RegistryInfo& registry, CountedResource resource,
                                  std::string duplicate, std::string_view target) {
  switch (failure.code) {
    case metadata::Errc::conflict:
      return error(Errc::conflict, std::move(duplicate), target);
    case metadata::Errc::limit_reached:
      return limit_exceeded(registry, resource);
    default:
      return internal(failure);
  }
}

}  // namespace

std::string_view identity_kind_name(metadata::IdentityKind kind) {
  switch (kind) {
    case metadata::IdentityKind::user:
      return "user";
    case metadata::IdentityKind::service_principal:
      return "servicePrincipal";
    case metadata::IdentityKind::federated:
      return "federated";
  }
  return "user";
}

AccessControl::AccessControl(metadata::MetadataStore& metadata, metadata::AccessStore& store,
                             Tenants& tenants, const auth::DeploymentKey& key)
    : metadata_(metadata), store_(store), tenants_(tenants), key_(key) {
  metadata::AccessStore* access = &store_;
  tenants_.set_counter(CountedResource::tokens,
                       std::make_shared<StoreCounter>(size_of(
                           [access](metadata::RegistryId r) { return access->list_tokens(r); })));
  tenants_.set_counter(CountedResource::scope_maps,
                       std::make_shared<StoreCounter>(size_of([access](metadata::RegistryId r) {
                         return access->list_scope_maps(r);
                       })));
  tenants_.set_counter(CountedResource::ip_rules,
                       std::make_shared<StoreCounter>(size_of([access](metadata::RegistryId r) {
                         return access->list_network_rules(r);
                       })));
}

AccessControlResult<RegistryInfo> AccessControl::registry_info(std::string_view name) {
  auto info = tenants_.show(name);
  if (!info) return of_tenant_error(info.error());
  return std::move(*info);
}

// ------------------------------------------------------------------ registries

TenantResult<RegistryInfo> AccessControl::create_registry(const NewRegistry& request) {
  auto created = tenants_.create(request);
  if (!created || !created->record.admin_user_enabled) return created;
  if (auto ensured = ensure_admin_passwords(created->record.id); !ensured) {
    return TenantError{TenantErrc::internal, ensured.error().message, ""};
  }
  return created;
}

TenantResult<RegistryInfo> AccessControl::update_registry(std::string_view name,
                                                          const RegistryChanges& changes) {
  if (changes.admin_user_enabled.value_or(false)) {
    auto info = tenants_.show(name);
    if (!info) return info.error();
    if (auto ensured = ensure_admin_passwords(info->record.id); !ensured) {
      return TenantError{TenantErrc::internal, ensured.error().message, ""};
    }
  }
  return tenants_.update(name, changes);
}

AccessControlResult<std::string> AccessControl::put_admin_password(metadata::RegistryId registry,
                                                                   std::string_view name) {
  std::string secret = auth::generate_secret();
  metadata::AdminPasswordRecord record{std::string(name), key_.seal(secret), unix_now()};
  if (auto put = store_.put_admin_password(registry, record); !put) return internal(put.error());
  return secret;
}

AccessControlResult<void> AccessControl::ensure_admin_passwords(metadata::RegistryId registry) {
  auto stored = store_.admin_passwords(registry);
  if (!stored) return internal(stored.error());
  for (std::string_view name : kAdminPasswordNames) {
    bool present = std::any_of(stored->begin(), stored->end(),
                               [name](const auto& record) { return record.name == name; });
    if (present) continue;
    if (auto put = put_admin_password(registry, name); !put) return put.error();
  }
  return {};
}

// ------------------------------------------------------------------ admin user

AccessControlResult<AdminCredentials> AccessControl::read_admin_credentials(
    const RegistryInfo& registry) {
  // Registries whose admin user was enabled before passwords existed get them now.
  if (auto ensured = ensure_admin_passwords(registry.record.id); !ensured) {
    return ensured.error();
  }
  auto stored = store_.admin_passwords(registry.record.id);
  if (!stored) return internal(stored.error());
  AdminCredentials credentials{registry.record.name, {}};
  for (std::string_view name : kAdminPasswordNames) {
    auto it = std::find_if(stored->begin(), stored->end(),
                           [name](const auto& record) { return record.name == name; });
    if (it == stored->end()) {
      return error(Errc::internal, fmt::format("admin password '{}' of registry '{}' is missing",
                                               name, registry.record.name));
    }
    auto value = key_.unseal(it->sealed_value);
    if (!value) {
      // The deployment key changed under the stored value; renewing replaces it.
      return error(Errc::internal,
                   fmt::format("admin password '{}' of registry '{}' cannot be unsealed: {}", name,
                               registry.record.name, value.error().message));
    }
    credentials.passwords.push_back({std::string(name), std::move(*value)});
  }
  return credentials;
}

AccessControlResult<AdminCredentials> AccessControl::admin_credentials(std::string_view registry) {
  auto info = registry_info(registry);
  if (!info) return info.error();
  if (!info->record.admin_user_enabled) {
    return error(Errc::admin_user_disabled,
                 fmt::format("the admin user of registry '{}' is disabled; enable it with "
                             "adminUserEnabled",
                             info->record.name),
                 info->record.name);
  }
  return read_admin_credentials(*info);
}

AccessControlResult<AdminCredentials> AccessControl::renew_admin_password(
    std::string_view registry, std::string_view password_name) {
  if (!is_admin_password_name(password_name)) {
    return invalid(fmt::format("passwordName '{}' must be password or password2", password_name),
                   "passwordName");
  }
  auto info = registry_info(registry);
  if (!info) return info.error();
  if (!info->record.admin_user_enabled) {
    return error(Errc::admin_user_disabled,
                 fmt::format("the admin user of registry '{}' is disabled", info->record.name),
                 info->record.name);
  }
  if (auto put = put_admin_password(info->record.id, password_name); !put) return put.error();
  return read_admin_credentials(*info);
}

// ------------------------------------------------------------------ scope maps

AccessControlResult<metadata::ScopeMapRecord> AccessControl::stored_scope_map(
    const RegistryInfo& registry, std::string_view name) {
  auto found = store_.find_scope_map(registry.record.id, name);
  if (!found) return internal(found.error());
  if (!*found) {
    return error(
        Errc::scope_map_not_found,
        fmt::format("scope map '{}' does not exist in registry '{}'", name, registry.record.name),
        name);
  }
  return std::move(**found);
}

AccessControlResult<std::vector<ScopeMap>> AccessControl::list_scope_maps(
    std::string_view registry) {
  auto info = registry_info(registry);
  if (!info) return info.error();
  auto stored = store_.list_scope_maps(info->record.id);
  if (!stored) return internal(stored.error());
  std::vector<ScopeMap> maps;
  for (std::string_view name : auth::system_scope_map_names()) {
    if (auto map = system_scope_map(name)) {
      map->created_at = info->record.created_at;  // they exist as long as the registry does
      maps.push_back(std::move(*map));
    }
  }
  for (auto& record : *stored) maps.push_back(scope_map_of(std::move(record)));
  return maps;
}

AccessControlResult<ScopeMap> AccessControl::show_scope_map(std::string_view registry,
                                                            std::string_view name) {
  auto info = registry_info(registry);
  if (!info) return info.error();
  if (auto map = system_scope_map(name)) {
    map->created_at = info->record.created_at;
    return std::move(*map);
  }
  auto stored = stored_scope_map(*info, name);
  if (!stored) return stored.error();
  return scope_map_of(std::move(*stored));
}

AccessControlResult<ScopeMap> AccessControl::create_scope_map(std::string_view registry,
                                                              const NewScopeMap& request) {
  if (system_scope_map(request.name)) {
    return error(Errc::scope_map_read_only,
                 fmt::format("'{}' is the name of a system scope map", request.name), "name");
  }
  if (auto valid = validate_resource_name(request.name, "scope map"); !valid) {
    return valid.error();
  }
  if (request.description.size() > kMaxDescriptionLength ||
      has_control_character(request.description)) {
    return invalid(fmt::format("the description must be at most {} printable characters",
                               kMaxDescriptionLength),
                   "description");
  }
  auto actions = normalized_actions(request.actions);
  if (!actions) return actions.error();
  auto info = registry_info(registry);
  if (!info) return info.error();

  metadata::ScopeMapRecord record{info->record.id, request.name, request.description,
                                  std::move(*actions), unix_now()};
  auto created =
      store_.create_scope_map(record, limit_of(*info->tier, CountedResource::scope_maps));
  if (!created) {
    return creation_error(created.error(), *info, CountedResource::scope_maps,
                          fmt::format("scope map '{}' exists already in registry '{}'",
                                      request.name, info->record.name),
                          "name");
  }
  return scope_map_of(std::move(record));
}

AccessControlResult<ScopeMap> AccessControl::update_scope_map(std::string_view registry,
                                                              std::string_view name,
                                                              const ScopeMapChanges& changes) {
  auto info = registry_info(registry);
  if (!info) return info.error();
  if (system_scope_map(name)) {
    return error(Errc::scope_map_read_only,
                 fmt::format("system scope map '{}' cannot be changed", name), name);
  }
  auto stored = stored_scope_map(*info, name);
  if (!stored) return stored.error();

  if (changes.description) {
    if (changes.description->size() > kMaxDescriptionLength ||
        has_control_character(*changes.description)) {
      return invalid(fmt::format("the description must be at most {} printable characters",
                                 kMaxDescriptionLength),
                     "description");
    }
    stored->description = *changes.description;
  }
  for (const auto& action : changes.remove_actions) {
    auto it = std::find(stored->actions.begin(), stored->actions.end(), action);
    if (it == stored->actions.end()) {
      return invalid(fmt::format("scope map '{}' has no action '{}'", stored->name,
                                 std::string_view(action).substr(
                                     0, std::min(action.size(), kMaxActionLength))),
                     "removeActions");
    }
    stored->actions.erase(it);
  }
  for (const auto& action : changes.add_actions) {
    if (auto valid = validate_action(action); !valid) {
      return error(Errc::invalid_argument, valid.error().message, "addActions");
    }
    stored->actions.push_back(action);
  }
  auto actions = normalized_actions(stored->actions);
  if (!actions) return actions.error();
  stored->actions = std::move(*actions);

  auto updated = store_.update_scope_map(*stored);
  if (!updated) return internal(updated.error());
  if (!*updated) {
    return error(
        Errc::scope_map_not_found,
        fmt::format("scope map '{}' does not exist in registry '{}'", name, info->record.name),
        name);
  }
  return scope_map_of(std::move(*stored));
}

AccessControlResult<void> AccessControl::delete_scope_map(std::string_view registry,
                                                          std::string_view name) {
  auto info = registry_info(registry);
  if (!info) return info.error();
  if (system_scope_map(name)) {
    return error(Errc::scope_map_read_only,
                 fmt::format("system scope map '{}' cannot be deleted", name), name);
  }
  auto removed = store_.delete_scope_map(info->record.id, name);
  if (!removed) {
    if (removed.error().code == metadata::Errc::conflict) {
      return error(Errc::scope_map_in_use,
                   fmt::format("scope map '{}' is used by a token; delete the token or give it "
                               "another scope map first",
                               name),
                   name);
    }
    return internal(removed.error());
  }
  if (!*removed) {
    return error(
        Errc::scope_map_not_found,
        fmt::format("scope map '{}' does not exist in registry '{}'", name, info->record.name),
        name);
  }
  return {};
}

// ------------------------------------------------------------------ tokens

AccessControlResult<metadata::TokenRecord> AccessControl::stored_token(const RegistryInfo& registry,
                                                                       std::string_view name) {
  auto found = store_.find_token(registry.record.id, name);
  if (!found) return internal(found.error());
  if (!*found) {
    return error(
        Errc::token_not_found,
        fmt::format("token '{}' does not exist in registry '{}'", name, registry.record.name),
        name);
  }
  return std::move(**found);
}

AccessControlResult<std::vector<Token>> AccessControl::list_tokens(std::string_view registry) {
  auto info = registry_info(registry);
  if (!info) return info.error();
  auto stored = store_.list_tokens(info->record.id);
  if (!stored) return internal(stored.error());
  std::vector<Token> tokens;
  for (const auto& record : *stored) tokens.push_back(token_of(record));
  return tokens;
}

AccessControlResult<Token> AccessControl::show_token(std::string_view registry,
                                                     std::string_view name) {
  auto info = registry_info(registry);
  if (!info) return info.error();
  auto stored = stored_token(*info, name);
  if (!stored) return stored.error();
  return token_of(*stored);
}

namespace {

// The canonical name of an existing scope map: the system map's spelling, else the stored one.
std::string canonical_scope_map_name(std::string_view name,
                                     const std::optional<metadata::ScopeMapRecord>& stored) {
  if (auto system = system_scope_map(name)) return system->name;
  return stored ? stored->name : std::string(name);
}

}  // namespace

AccessControlResult<Token> AccessControl::create_token(std::string_view registry,
                                                       const NewToken& request) {
  if (auto valid = validate_resource_name(request.name, "token"); !valid) return valid.error();
  if (request.scope_map.empty()) return invalid("'scopeMapName' is required", "scopeMapName");
  if (auto valid = validate_future(request.expiry); !valid) return valid.error();
  auto info = registry_info(registry);
  if (!info) return info.error();
  std::optional<metadata::ScopeMapRecord> map;
  if (!system_scope_map(request.scope_map)) {
    auto stored = stored_scope_map(*info, request.scope_map);
    if (!stored) return error(stored.error().code, stored.error().message, "scopeMapName");
    map = std::move(*stored);
  }

  std::int64_t now = unix_now();
  metadata::TokenRecord record{info->record.id,
                               request.name,
                               canonical_scope_map_name(request.scope_map, map),
                               request.enabled.value_or(true),
                               now,
                               {}};
  std::vector<std::string> secrets;
  if (!request.no_passwords) {
    for (std::string_view name : kTokenPasswordNames) {
      secrets.push_back(auth::generate_secret());
      record.passwords.push_back({std::string(name),
                                  auth::hash_generated_secret(key_, secrets.back()), request.expiry,
                                  now});
    }
  }
  auto created = store_.create_token(record, limit_of(*info->tier, CountedResource::tokens));
  if (!created) {
    return creation_error(created.error(), *info, CountedResource::tokens,
                          fmt::format("token '{}' exists already in registry '{}'", request.name,
                                      info->record.name),
                          "name");
  }
  Token token = token_of(record);
  for (std::size_t i = 0; i < secrets.size(); ++i) token.passwords[i].value = secrets[i];
  return token;
}

AccessControlResult<Token> AccessControl::update_token(std::string_view registry,
                                                       std::string_view name,
                                                       const TokenChanges& changes) {
  auto info = registry_info(registry);
  if (!info) return info.error();
  auto stored = stored_token(*info, name);
  if (!stored) return stored.error();
  if (changes.scope_map) {
    std::optional<metadata::ScopeMapRecord> map;
    if (!system_scope_map(*changes.scope_map)) {
      auto found = stored_scope_map(*info, *changes.scope_map);
      if (!found) return error(found.error().code, found.error().message, "scopeMapName");
      map = std::move(*found);
    }
    stored->scope_map = canonical_scope_map_name(*changes.scope_map, map);
  }
  if (changes.enabled) stored->enabled = *changes.enabled;
  auto updated = store_.update_token(*stored);
  if (!updated) return internal(updated.error());
  if (!*updated) {
    return error(Errc::token_not_found,
                 fmt::format("token '{}' does not exist in registry '{}'", name, info->record.name),
                 name);
  }
  return token_of(*stored);
}

AccessControlResult<void> AccessControl::delete_token(std::string_view registry,
                                                      std::string_view name) {
  auto info = registry_info(registry);
  if (!info) return info.error();
  auto removed = store_.delete_token(info->record.id, name);
  if (!removed) return internal(removed.error());
  if (!*removed) {
    return error(Errc::token_not_found,
                 fmt::format("token '{}' does not exist in registry '{}'", name, info->record.name),
                 name);
  }
  return {};
}

AccessControlResult<std::vector<TokenPassword>> AccessControl::generate_token_passwords(
    std::string_view registry, std::string_view name, std::optional<std::string> password_name,
    std::optional<std::int64_t> expiry) {
  if (password_name && !is_token_password_name(*password_name)) {
    return invalid(fmt::format("passwordName '{}' must be password1 or password2", *password_name),
                   "passwordName");
  }
  if (auto valid = validate_future(expiry); !valid) return valid.error();
  auto info = registry_info(registry);
  if (!info) return info.error();
  auto stored = stored_token(*info, name);
  if (!stored) return stored.error();

  std::int64_t now = unix_now();
  std::vector<TokenPassword> generated;
  for (std::string_view slot : kTokenPasswordNames) {
    if (password_name && *password_name != slot) continue;
    std::string secret = auth::generate_secret();
    metadata::TokenPasswordRecord record{std::string(slot),
                                         auth::hash_generated_secret(key_, secret), expiry, now};
    auto it = std::find_if(stored->passwords.begin(), stored->passwords.end(),
                           [slot](const auto& password) { return password.name == slot; });
    if (it != stored->passwords.end()) {
      *it = record;
    } else {
      stored->passwords.push_back(record);
    }
    generated.push_back({std::string(slot), now, expiry, std::move(secret)});
  }
  std::sort(stored->passwords.begin(), stored->passwords.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  auto updated = store_.update_token(*stored);
  if (!updated) return internal(updated.error());
  if (!*updated) {
    return error(Errc::token_not_found,
                 fmt::format("token '{}' does not exist in registry '{}'", name, info->record.name),
                 name);
  }
  return generated;
}

// ------------------------------------------------------------------ identities

AccessControlResult<std::vector<Identity>> AccessControl::list_identities() {
  auto stored = store_.list_identities();
  if (!stored) return internal(stored.error());
  std::vector<Identity> identities;
  for (auto& record : *stored) identities.push_back(identity_of(std::move(record)));
  return identities;
}

AccessControlResult<Identity> AccessControl::show_identity(std::string_view id) {
  auto found = store_.find_identity(id);
  if (!found) return internal(found.error());
  if (!*found) {
    return error(Errc::identity_not_found, fmt::format("identity '{}' does not exist", id), id);
  }
  return identity_of(std::move(**found));
}

AccessControlResult<CreatedIdentity> AccessControl::create_identity(const NewIdentity& request) {
  if (auto valid = validate_identity_name(request.name); !valid) return valid.error();
  auto kind = parse_identity_kind(request.kind);
  if (!kind) return kind.error();
  if (auto valid = validate_future(request.expiry); !valid) return valid.error();

  bool federated = *kind == metadata::IdentityKind::federated;
  if (request.password && *kind != metadata::IdentityKind::user) {
    return invalid("only a user may have a chosen password", "password");
  }
  bool has_federation_fields = !request.issuer.empty() || !request.audience.empty() ||
                               !request.jwks.empty() || !request.subject.empty() ||
                               !request.claims.empty();
  if (!federated && has_federation_fields) {
    return invalid("issuer, audience, jwks, subject and claims belong to federated identities",
                   "kind");
  }

  metadata::IdentityRecord record;
  record.id = random_uuid();
  record.name = request.name;
  record.kind = *kind;
  record.expiry = request.expiry;
  record.enabled = true;
  record.created_at = unix_now();
  std::optional<std::string> secret;
  if (federated) {
    if (auto valid = validate_federation(request); !valid) return valid.error();
    record.issuer = request.issuer;
    record.audience = request.audience;
    record.jwks = request.jwks;
    record.subject = request.subject;
    record.claims_json = claims_json_of(request.claims);
  } else if (request.password) {
    if (request.password->size() < kMinPasswordLength ||
        request.password->size() > kMaxPasswordLength) {
      return invalid(fmt::format("the password must be {} to {} characters long",
                                 kMinPasswordLength, kMaxPasswordLength),
                     "password");
    }
    record.secret_hash = auth::hash_password(*request.password);
  } else {
    secret = auth::generate_secret();
    record.secret_hash = auth::hash_generated_secret(key_, *secret);
  }

  auto created = store_.create_identity(record);
  if (!created) {
    if (created.error().code == metadata::Errc::conflict) {
      return error(Errc::conflict,
                   fmt::format("an identity named '{}' exists already", request.name), "name");
    }
    return internal(created.error());
  }
  return CreatedIdentity{identity_of(std::move(record)), std::move(secret)};
}

AccessControlResult<void> AccessControl::delete_identity(std::string_view id) {
  auto removed = store_.delete_identity(id);
  if (!removed) return internal(removed.error());
  if (!*removed) {
    return error(Errc::identity_not_found, fmt::format("identity '{}' does not exist", id), id);
  }
  return {};
}

// ------------------------------------------------------------------ role assignments

AccessControlResult<RoleAssignment> AccessControl::assignment_of(
    const metadata::RoleAssignmentRecord& record,
    const std::map<metadata::RegistryId, std::string>& registry_names,
    const std::map<std::string, std::string>& identity_names) {
  auto registry = registry_names.find(record.registry);
  auto identity = identity_names.find(record.identity_id);
  return RoleAssignment{
      record.id,
      record.identity_id,
      identity == identity_names.end() ? std::string() : identity->second,
      record.role,
      scope_text(
          registry == registry_names.end() ? std::to_string(record.registry) : registry->second,
          record.repository),
      record.created_at};
}

AccessControlResult<std::vector<RoleAssignment>> AccessControl::list_role_assignments(
    std::optional<std::string_view> registry, std::optional<std::string_view> assignee) {
  std::optional<metadata::RegistryId> registry_id;
  if (registry) {
    auto info = registry_info(*registry);
    if (!info) return info.error();
    registry_id = info->record.id;
  }
  auto stored = store_.list_role_assignments(registry_id, assignee);
  if (!stored) return internal(stored.error());
  if (stored->empty()) return std::vector<RoleAssignment>{};

  auto registries = metadata_.list_registries();
  if (!registries) return internal(registries.error());
  std::map<metadata::RegistryId, std::string> registry_names;
  for (const auto& record : *registries) registry_names.emplace(record.id, record.name);
  auto identities = store_.list_identities();
  if (!identities) return internal(identities.error());
  std::map<std::string, std::string> identity_names;
  for (const auto& record : *identities) identity_names.emplace(record.id, record.name);

  std::vector<RoleAssignment> assignments;
  for (const auto& record : *stored) {
    auto assignment = assignment_of(record, registry_names, identity_names);
    if (!assignment) return assignment.error();
    assignments.push_back(std::move(*assignment));
  }
  return assignments;
}

AccessControlResult<RoleAssignment> AccessControl::create_role_assignment(
    const NewRoleAssignment& request) {
  if (request.assignee.empty()) return invalid("'assignee' is required", "assignee");
  const auth::Role* role = auth::find_role(request.role);
  if (!role) {
    std::string known;
    for (const auth::Role& r : auth::all_roles()) {
      if (!known.empty()) known += ", ";
      known += r.name;
    }
    return invalid(
        fmt::format("unknown role '{}'; the roles are {}",
                    std::string_view(request.role).substr(0, kMaxResourceNameLength), known),
        "role");
  }
  auto scope = parse_assignment_scope(request.scope);
  if (!scope) return scope.error();
  if (role->management != auth::ManagementLevel::none && !scope->repository.empty()) {
    return invalid(fmt::format("role {} manages a whole registry; its scope is "
                               "/registries/<registry>",
                               role->name),
                   "scope");
  }
  auto info = registry_info(scope->registry);
  if (!info) return error(info.error().code, info.error().message, "scope");
  auto identity = store_.find_identity(request.assignee);
  if (!identity) return internal(identity.error());
  if (!*identity) {
    return error(Errc::identity_not_found,
                 fmt::format("identity '{}' does not exist", request.assignee), "assignee");
  }

  metadata::RoleAssignmentRecord record{random_uuid(),   (*identity)->id,   std::string(role->name),
                                        info->record.id, scope->repository, unix_now()};
  auto created = store_.create_role_assignment(record);
  if (!created) {
    switch (created.error().code) {
      case metadata::Errc::conflict:
        return error(Errc::conflict,
                     fmt::format("identity '{}' has role {} on {} already", (*identity)->name,
                                 role->name, scope_text(info->record.name, scope->repository)),
                     "assignee");
      case metadata::Errc::not_found:
        // The identity or the registry went away between the checks and the insert.
        return error(Errc::identity_not_found,
                     fmt::format("identity '{}' or registry '{}' does not exist", request.assignee,
                                 info->record.name),
                     "assignee");
      default:
        return internal(created.error());
    }
  }
  return RoleAssignment{record.id,
                        record.identity_id,
                        (*identity)->name,
                        record.role,
                        scope_text(info->record.name, record.repository),
                        record.created_at};
}

AccessControlResult<void> AccessControl::delete_role_assignment(std::string_view id) {
  auto removed = store_.delete_role_assignment(id);
  if (!removed) return internal(removed.error());
  if (!*removed) {
    return error(Errc::role_assignment_not_found,
                 fmt::format("role assignment '{}' does not exist", id), id);
  }
  return {};
}

// ------------------------------------------------------------------ network rules

AccessControlResult<NetworkRuleSet> AccessControl::network_rules(
    const metadata::RegistryRecord& registry) {
  auto rules = store_.list_network_rules(registry.id);
  if (!rules) return internal(rules.error());
  NetworkRuleSet set;
  auto action = auth::parse_default_action(registry.default_network_action);
  set.default_action =
      std::string(auth::default_action_name(action.value_or(auth::DefaultAction::allow)));
  for (auto& rule : *rules) set.ip_rules.push_back(std::move(rule.address_range));
  return set;
}

AccessControlResult<NetworkRuleSet> AccessControl::network_rules(std::string_view registry) {
  auto info = registry_info(registry);
  if (!info) return info.error();
  return network_rules(info->record);
}

namespace {

AccessControlResult<std::string> canonical_range(std::string_view text) {
  auto range = auth::IpRange::parse(text);
  if (!range) {
    return invalid(fmt::format("'{}' is not an IPv4 or IPv6 address or CIDR range with zero "
                               "host bits (e.g. 10.0.0.0/24)",
                               text.substr(0, kMaxClaimLength)),
                   "ipAddressOrRange");
  }
  return range->str();
}

}  // namespace

AccessControlResult<NetworkRuleSet> AccessControl::add_network_rule(
    std::string_view registry, std::string_view address_range) {
  auto range = canonical_range(address_range);
  if (!range) return range.error();
  auto info = registry_info(registry);
  if (!info) return info.error();
  metadata::NetworkRuleRecord record{info->record.id, *range, unix_now()};
  auto added = store_.add_network_rule(record, limit_of(*info->tier, CountedResource::ip_rules));
  if (!added) {
    return creation_error(added.error(), *info, CountedResource::ip_rules,
                          fmt::format("registry '{}' has the rule {} already", info->record.name,
                                      *range),
                          "ipAddressOrRange");
  }
  return network_rules(info->record);
}

AccessControlResult<NetworkRuleSet> AccessControl::remove_network_rule(
    std::string_view registry, std::string_view address_range) {
  auto range = canonical_range(address_range);
  if (!range) return range.error();
  auto info = registry_info(registry);
  if (!info) return info.error();
  auto removed = store_.remove_network_rule(info->record.id, *range);
  if (!removed) return internal(removed.error());
  if (!*removed) {
    return error(Errc::network_rule_not_found,
                 fmt::format("registry '{}' has no rule {}", info->record.name, *range),
                 "ipAddressOrRange");
  }
  return network_rules(info->record);
}

// ------------------------------------------------------------------ login audit

AccessControlResult<std::vector<LoginEvent>> AccessControl::login_events(
    std::string_view registry, const LoginAuditQuery& query) {
  if (query.top < 1 || query.top > kMaxLoginEvents) {
    return invalid(fmt::format("top must be 1 to {}", kMaxLoginEvents), "top");
  }
  if (query.since && query.until && *query.since >= *query.until) {
    return invalid("since must be before until", "since");
  }
  auto info = registry_info(registry);
  if (!info) return info.error();
  metadata::LoginEventFilter filter;
  filter.registry = info->record.id;
  filter.identity = query.identity;
  filter.success = query.success;
  filter.since = query.since;
  filter.until = query.until;
  filter.limit = query.top;
  auto stored = store_.list_login_events(filter);
  if (!stored) return internal(stored.error());
  std::vector<LoginEvent> events;
  for (auto& record : *stored) events.push_back({std::move(record), info->record.name});
  return events;
}

}  // namespace berth::registry
