#include "upstream/upstream_service.h"

#include <fmt/format.h>

#include <memory>
#include <utility>

#include "common/clock.h"
#include "registry/tiers.h"

namespace berth::upstream {
namespace {

constexpr std::size_t kMaxUsername = 256;
constexpr std::size_t kMaxPassword = 4096;

UpstreamError error(UpstreamErrc code, std::string message, std::string_view target = {}) {
  return UpstreamError{code, std::move(message), std::string(target)};
}

UpstreamError internal(const metadata::MetadataError& failure) {
  return error(UpstreamErrc::internal, failure.message);
}

UpstreamError set_not_found(std::string_view registry, std::string_view name) {
  return error(UpstreamErrc::not_found,
               fmt::format("credential set '{}' does not exist in registry '{}'", name, registry),
               name);
}

UpstreamError rule_not_found(std::string_view registry, std::string_view name) {
  return error(UpstreamErrc::not_found,
               fmt::format("cache rule '{}' does not exist in registry '{}'", name, registry), name);
}

std::optional<UpstreamError> check_login(std::string_view username, std::string_view password) {
  if (username.empty() || username.size() > kMaxUsername) {
    return error(UpstreamErrc::invalid_argument,
                 fmt::format("the username is 1 to {} characters", kMaxUsername), "username");
  }
  if (password.empty() || password.size() > kMaxPassword) {
    return error(UpstreamErrc::invalid_argument,
                 fmt::format("the password is 1 to {} characters", kMaxPassword), "password");
  }
  return std::nullopt;
}

std::optional<UpstreamError> check_ttl(std::int64_t seconds) {
  if (seconds >= 0 && seconds <= kMaxTagTtlSeconds) return std::nullopt;
  return error(UpstreamErrc::invalid_argument,
               fmt::format("the tag TTL is 0 to {} seconds", kMaxTagTtlSeconds), "tagTtlSeconds");
}

CredentialSetView view_of(const metadata::CredentialSet& set, std::string_view registry) {
  return CredentialSetView{set.name,     std::string(registry), set.login_server,
                           set.username, set.created_at,          set.updated_at};
}

CacheRuleView view_of(const metadata::CacheRule& rule, std::string_view registry) {
  return CacheRuleView{rule.name,           std::string(registry),  rule.source_repository,
                       rule.target_repository, rule.credential_set, rule.tag_ttl_seconds,
                       rule.allow_push,     rule.created_at,        rule.updated_at};
}

// Counts a registry's cache rules for Tenants' tier checks (downgrades, usage).
class CacheRuleCounter final : public registry::ResourceCounter {
 public:
  explicit CacheRuleCounter(metadata::UpstreamStore& store) : store_(store) {}
  registry::TenantResult<std::uint64_t> count(metadata::RegistryId registry) override {
    auto rules = store_.list_cache_rules(registry);
    if (!rules) return registry::TenantError{registry::TenantErrc::internal, rules.error().message};
    return static_cast<std::uint64_t>(rules->size());
  }

 private:
  metadata::UpstreamStore& store_;
};

}  // namespace

UpstreamService::UpstreamService(metadata::UpstreamStore& store, registry::Tenants& tenants,
                                 const auth::DeploymentKey& key)
    : store_(store), tenants_(tenants), key_(key) {
  tenants_.set_counter(registry::CountedResource::cache_rules,
                       std::make_shared<CacheRuleCounter>(store_));
}

UpstreamResult<registry::RegistryInfo> UpstreamService::registry_info(std::string_view name) {
  auto info = tenants_.show(name);
  if (info) return std::move(*info);
  if (info.error().code == registry::TenantErrc::registry_not_found) {
    return error(UpstreamErrc::registry_not_found, info.error().message, name);
  }
  return error(UpstreamErrc::internal, info.error().message);
}

UpstreamResult<metadata::CredentialSet> UpstreamService::find_set(
    const registry::RegistryInfo& info, std::string_view name) {
  auto found = store_.find_credential_set(info.record.id, name);
  if (!found) return internal(found.error());
  if (!*found) return set_not_found(info.record.name, name);
  return std::move(**found);
}

UpstreamResult<metadata::CacheRule> UpstreamService::find_rule(const registry::RegistryInfo& info,
                                                               std::string_view name) {
  auto found = store_.find_cache_rule(info.record.id, name);
  if (!found) return internal(found.error());
  if (!*found) return rule_not_found(info.record.name, name);
  return std::move(**found);
}

UpstreamResult<Login> UpstreamService::unseal(const metadata::CredentialSet& set) const {
  auto password = key_.unseal(set.sealed_password);
  if (!password) {
    return error(UpstreamErrc::internal,
                 fmt::format("the password of credential set '{}' cannot be unsealed with this "
                             "deployment's key",
                             set.name));
  }
  return Login{set.username, std::move(*password)};
}

// --- credential sets ---

UpstreamResult<CredentialSetView> UpstreamService::create_credential_set(
    std::string_view registry, const NewCredentialSet& set) {
  if (auto bad = check_resource_name(set.name)) {
    return error(UpstreamErrc::invalid_argument, *bad, "name");
  }
  if (auto bad = check_login_server(set.login_server)) {
    return error(UpstreamErrc::invalid_argument, *bad, "loginServer");
  }
  if (auto bad = check_login(set.username, set.password)) return *bad;
  auto info = registry_info(registry);
  if (!info) return info.error();
  const std::int64_t now = unix_now();
  metadata::CredentialSet record{.registry = info->record.id,
                                 .name = set.name,
                                 .login_server = normalize_login_server(set.login_server),
                                 .username = set.username,
                                 .sealed_password = key_.seal(set.password),
                                 .created_at = now,
                                 .updated_at = now};
  auto created = store_.create_credential_set(record);
  if (!created) {
    if (created.error().code == metadata::Errc::conflict) {
      return error(UpstreamErrc::conflict,
                   fmt::format("credential set '{}' already exists in registry '{}'", set.name,
                               info->record.name),
                   set.name);
    }
    return internal(created.error());
  }
  return view_of(*created, info->record.name);
}

UpstreamResult<std::vector<CredentialSetView>> UpstreamService::list_credential_sets(
    std::string_view registry) {
  auto info = registry_info(registry);
  if (!info) return info.error();
  auto listed = store_.list_credential_sets(info->record.id);
  if (!listed) return internal(listed.error());
  std::vector<CredentialSetView> views;
  for (const auto& set : *listed) views.push_back(view_of(set, info->record.name));
  return views;
}

UpstreamResult<CredentialSetView> UpstreamService::show_credential_set(std::string_view registry,
                                                                       std::string_view name) {
  auto info = registry_info(registry);
  if (!info) return info.error();
  auto set = find_set(*info, name);
  if (!set) return set.error();
  return view_of(*set, info->record.name);
}

UpstreamResult<CredentialSetView> UpstreamService::update_credential_set(
    std::string_view registry, std::string_view name, const CredentialSetUpdate& update) {
  if (update.login_server) {
    if (auto bad = check_login_server(*update.login_server)) {
      return error(UpstreamErrc::invalid_argument, *bad, "loginServer");
    }
  }
  auto info = registry_info(registry);
  if (!info) return info.error();
  auto set = find_set(*info, name);
  if (!set) return set.error();
  if (update.login_server) {
    std::string server = normalize_login_server(*update.login_server);
    if (server != set->login_server) {
      // A rule's login must stay a login to the rule's upstream.
      auto rules = store_.list_cache_rules(info->record.id);
      if (!rules) return internal(rules.error());
      for (const auto& rule : *rules) {
        if (rule.credential_set != set->name) continue;
        return error(UpstreamErrc::in_use,
                     fmt::format("cache rule '{}' uses credential set '{}' for its upstream; the "
                                 "login server cannot change while it does",
                                 rule.name, set->name),
                     "loginServer");
      }
    }
    set->login_server = std::move(server);
  }
  std::string password;
  if (update.password) {
    password = *update.password;
  } else {
    auto current = unseal(*set);
    if (!current) return current.error();
    password = std::move(current->password);
  }
  if (update.username) set->username = *update.username;
  if (auto bad = check_login(set->username, password)) return *bad;
  if (update.password) set->sealed_password = key_.seal(password);
  set->updated_at = unix_now();
  auto saved = store_.update_credential_set(*set);
  if (!saved) {
    if (saved.error().code == metadata::Errc::not_found) {
      return set_not_found(info->record.name, name);
    }
    return internal(saved.error());
  }
  rules_changed(info->record.id);
  return view_of(*saved, info->record.name);
}

UpstreamResult<void> UpstreamService::delete_credential_set(std::string_view registry,
                                                            std::string_view name) {
  auto info = registry_info(registry);
  if (!info) return info.error();
  auto removed = store_.delete_credential_set(info->record.id, name);
  if (!removed) {
    if (removed.error().code == metadata::Errc::conflict) {
      return error(UpstreamErrc::in_use,
                   fmt::format("credential set '{}' is used by a cache rule of registry '{}'; "
                               "delete or change the rule first",
                               name, info->record.name),
                   name);
    }
    return internal(removed.error());
  }
  if (!*removed) return set_not_found(info->record.name, name);
  rules_changed(info->record.id);
  return {};
}

UpstreamResult<std::pair<std::string, Login>> UpstreamService::credential_set_login(
    metadata::RegistryId registry, std::string_view name) {
  auto found = store_.find_credential_set(registry, name);
  if (!found) return internal(found.error());
  if (!*found) {
    return error(UpstreamErrc::not_found, fmt::format("credential set '{}' does not exist", name),
                 name);
  }
  auto login = unseal(**found);
  if (!login) return login.error();
  return std::make_pair((*found)->login_server, std::move(*login));
}

// --- cache rules ---

UpstreamResult<CacheRuleView> UpstreamService::create_cache_rule(std::string_view registry,
                                                                 const NewCacheRule& rule) {
  if (auto bad = check_resource_name(rule.name)) {
    return error(UpstreamErrc::invalid_argument, *bad, "name");
  }
  std::string why;
  auto source = parse_source(rule.source_repository, why);
  if (!source) return error(UpstreamErrc::invalid_argument, why, "sourceRepository");
  auto target = parse_target(rule.target_repository, why);
  if (!target) return error(UpstreamErrc::invalid_argument, why, "targetRepository");
  if (auto bad = check_rule_shape(*source, *target)) {
    return error(UpstreamErrc::invalid_argument, *bad, "targetRepository");
  }
  if (auto bad = check_ttl(rule.tag_ttl_seconds)) return *bad;
  auto info = registry_info(registry);
  if (!info) return info.error();
  if (!registry::has_feature(*info->tier, registry::Feature::artifact_cache)) {
    const registry::Tier* lowest = registry::lowest_tier_with(registry::Feature::artifact_cache);
    return error(UpstreamErrc::feature_unavailable,
                 fmt::format("the {} tier has no artifact cache; it needs the {} tier",
                             info->tier->name, lowest != nullptr ? lowest->name : "Standard"),
                 "tier");
  }
  if (!rule.credential_set.empty()) {
    auto set = find_set(*info, rule.credential_set);
    if (!set) return set.error();
    if (set->login_server != source->login_server) {
      return error(UpstreamErrc::invalid_argument,
                   fmt::format("credential set '{}' logs in to '{}', not to the rule's upstream "
                               "'{}'",
                               set->name, set->login_server, source->login_server),
                   "credentialSet");
    }
  }
  const std::int64_t now = unix_now();
  std::string canonical_source = source->login_server + "/" + source->repository.path;
  if (source->repository.wildcard) canonical_source += "/*";
  metadata::CacheRule record{.registry = info->record.id,
                             .name = rule.name,
                             .source_repository = std::move(canonical_source),
                             .target_repository = rule.target_repository,
                             .credential_set = rule.credential_set,
                             .tag_ttl_seconds = rule.tag_ttl_seconds,
                             .allow_push = rule.allow_push,
                             .created_at = now,
                             .updated_at = now};
  const std::uint64_t limit =
      registry::limit_of(*info->tier, registry::CountedResource::cache_rules);
  auto created = store_.create_cache_rule(record, limit);
  if (!created) {
    switch (created.error().code) {
      case metadata::Errc::conflict:
        return error(UpstreamErrc::conflict,
                     fmt::format("registry '{}' has a cache rule named '{}' or one for target "
                                 "'{}' already",
                                 info->record.name, rule.name, rule.target_repository),
                     rule.name);
      case metadata::Errc::limit_reached:
        return error(UpstreamErrc::limit_exceeded,
                     fmt::format("registry '{}' holds as many cache rules as tier {} allows ({})",
                                 info->record.name, info->tier->name, limit),
                     registry::resource_name(registry::CountedResource::cache_rules));
      case metadata::Errc::not_found:
        return set_not_found(info->record.name, rule.credential_set);
      default:
        return internal(created.error());
    }
  }
  rules_changed(info->record.id);
  return view_of(*created, info->record.name);
}

UpstreamResult<std::vector<CacheRuleView>> UpstreamService::list_cache_rules(
    std::string_view registry) {
  auto info = registry_info(registry);
  if (!info) return info.error();
  auto listed = store_.list_cache_rules(info->record.id);
  if (!listed) return internal(listed.error());
  std::vector<CacheRuleView> views;
  for (const auto& rule : *listed) views.push_back(view_of(rule, info->record.name));
  return views;
}

UpstreamResult<CacheRuleView> UpstreamService::show_cache_rule(std::string_view registry,
                                                               std::string_view name) {
  auto info = registry_info(registry);
  if (!info) return info.error();
  auto rule = find_rule(*info, name);
  if (!rule) return rule.error();
  return view_of(*rule, info->record.name);
}

UpstreamResult<CacheRuleView> UpstreamService::update_cache_rule(std::string_view registry,
                                                                 std::string_view name,
                                                                 const CacheRuleUpdate& update) {
  if (update.tag_ttl_seconds) {
    if (auto bad = check_ttl(*update.tag_ttl_seconds)) return *bad;
  }
  auto info = registry_info(registry);
  if (!info) return info.error();
  auto rule = find_rule(*info, name);
  if (!rule) return rule.error();
  if (update.credential_set && !update.credential_set->empty()) {
    auto set = find_set(*info, *update.credential_set);
    if (!set) return set.error();
    std::string why;
    auto source = parse_source(rule->source_repository, why);
    if (source && set->login_server != source->login_server) {
      return error(UpstreamErrc::invalid_argument,
                   fmt::format("credential set '{}' logs in to '{}', not to the rule's upstream "
                               "'{}'",
                               set->name, set->login_server, source->login_server),
                   "credentialSet");
    }
  }
  if (update.credential_set) rule->credential_set = *update.credential_set;
  if (update.tag_ttl_seconds) rule->tag_ttl_seconds = *update.tag_ttl_seconds;
  if (update.allow_push) rule->allow_push = *update.allow_push;
  rule->updated_at = unix_now();
  auto saved = store_.update_cache_rule(*rule);
  if (!saved) {
    if (saved.error().code == metadata::Errc::not_found) {
      return rule_not_found(info->record.name, name);
    }
    return internal(saved.error());
  }
  rules_changed(info->record.id);
  return view_of(*saved, info->record.name);
}

UpstreamResult<void> UpstreamService::delete_cache_rule(std::string_view registry,
                                                        std::string_view name) {
  auto info = registry_info(registry);
  if (!info) return info.error();
  auto removed = store_.delete_cache_rule(info->record.id, name);
  if (!removed) return internal(removed.error());
  if (!*removed) return rule_not_found(info->record.name, name);
  rules_changed(info->record.id);
  return {};
}

UpstreamResult<std::optional<PullThrough>> UpstreamService::pull_through(
    metadata::RegistryId registry, std::string_view repository) {
  auto rules = store_.list_cache_rules(registry);
  if (!rules) return internal(rules.error());
  const metadata::CacheRule* rule = covering_rule(*rules, repository);
  if (rule == nullptr) return std::optional<PullThrough>();
  auto location = locate(*rule, repository);
  if (!location) return std::optional<PullThrough>();
  PullThrough through{*rule, std::move(*location), std::nullopt};
  if (!rule->credential_set.empty()) {
    auto found = store_.find_credential_set(registry, rule->credential_set);
    if (!found) return internal(found.error());
    if (*found) {
      auto login = unseal(**found);
      if (!login) return login.error();
      through.login = std::move(*login);
    }
  }
  return std::optional<PullThrough>(std::move(through));
}

UpstreamResult<RegistryRules> UpstreamService::rules_of(metadata::RegistryId registry) {
  RegistryRules out;
  auto rules = store_.list_cache_rules(registry);
  if (!rules) return internal(rules.error());
  out.rules = std::move(*rules);
  for (const auto& rule : out.rules) {
    if (rule.credential_set.empty() || out.logins.contains(rule.credential_set)) continue;
    auto found = store_.find_credential_set(registry, rule.credential_set);
    if (!found) return internal(found.error());
    if (!*found) continue;
    auto login = unseal(**found);
    if (!login) {
      out.unreadable.push_back(rule.credential_set);
      continue;
    }
    out.logins.emplace(rule.credential_set, std::move(*login));
  }
  return out;
}

}  // namespace berth::upstream
