#pragma once
// UpstreamService: a registry's credential sets and cache rules as resources (create, list,
// show, update, delete), and what the pull-through cache and imports read of them. Knows
// nothing of HTTP; api/management_upstream.cc maps its errors.
//
// Registries are addressed by name through registry::Tenants (same rules, same "not found").
// Cache rules need the tier's artifact cache feature, and the tier's rule limit holds (the
// store counts and inserts in one transaction). A credential set's password is sealed with the
// deployment key at rest, never shown, and never in an error or a log line.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/secrets.h"
#include "common/result.h"
#include "metadata/upstream_store.h"
#include "registry/tenants.h"
#include "upstream/rules.h"

namespace berth::upstream {

enum class UpstreamErrc {
  invalid_argument,
  registry_not_found,
  not_found,            // no credential set, cache rule or import of that name or id
  conflict,             // the name (or a rule's target) is taken
  in_use,               // a credential set that a cache rule names
  denied,               // the caller may not read the import's source registry
  limit_exceeded,       // the tier allows no more cache rules
  feature_unavailable,  // the tier lacks the artifact cache
  internal,
};
using UpstreamError = Error<UpstreamErrc>;
template <class T>
using UpstreamResult = berth::Result<T, UpstreamError>;

// A login to an upstream registry, in clear: only for connecting, never shown.
struct Login {
  std::string username;
  std::string password;
};

struct NewCredentialSet {
  std::string name;
  std::string login_server;
  std::string username;
  std::string password;
};

// Absent fields stay as they are; a new password replaces the old one (rotation).
struct CredentialSetUpdate {
  std::optional<std::string> login_server;
  std::optional<std::string> username;
  std::optional<std::string> password;
};

struct CredentialSetView {
  std::string name;
  std::string registry;
  std::string login_server;
  std::string username;
  std::int64_t created_at = 0;
  std::int64_t updated_at = 0;
};

struct NewCacheRule {
  std::string name;
  std::string source_repository;
  std::string target_repository;
  std::string credential_set;  // empty: anonymous
  std::int64_t tag_ttl_seconds = kDefaultTagTtlSeconds;
  bool allow_push = false;
};

// Absent fields stay as they are; an empty credential set makes the rule anonymous.
struct CacheRuleUpdate {
  std::optional<std::string> credential_set;
  std::optional<std::int64_t> tag_ttl_seconds;
  std::optional<bool> allow_push;
};

struct CacheRuleView {
  std::string name;
  std::string registry;
  std::string source_repository;
  std::string target_repository;
  std::string credential_set;
  std::int64_t tag_ttl_seconds = 0;
  bool allow_push = false;
  std::int64_t created_at = 0;
  std::int64_t updated_at = 0;
};

// Where a repository of a registry is pulled through from, with the login to use.
struct PullThrough {
  metadata::CacheRule rule;
  UpstreamLocation upstream;
  std::optional<Login> login;
};

// A registry's cache rules with the logins of the credential sets they name.
struct RegistryRules {
  std::vector<metadata::CacheRule> rules;
  std::map<std::string, Login, std::less<>> logins;
  // Credential sets whose password this deployment's key cannot unseal: the rules that name
  // them fail, the others work.
  std::vector<std::string> unreadable;
};

class UpstreamService {
 public:
  // Everything must outlive the service. Registers the cache rule counter with `tenants`.
  UpstreamService(metadata::UpstreamStore& store, registry::Tenants& tenants,
                  const auth::DeploymentKey& key);

  // --- credential sets ---
  UpstreamResult<CredentialSetView> create_credential_set(std::string_view registry,
                                                          const NewCredentialSet& set);
  UpstreamResult<std::vector<CredentialSetView>> list_credential_sets(std::string_view registry);
  UpstreamResult<CredentialSetView> show_credential_set(std::string_view registry,
                                                        std::string_view name);
  UpstreamResult<CredentialSetView> update_credential_set(std::string_view registry,
                                                          std::string_view name,
                                                          const CredentialSetUpdate& update);
  UpstreamResult<void> delete_credential_set(std::string_view registry, std::string_view name);
  // The set's login server and login in clear (for imports that name it).
  UpstreamResult<std::pair<std::string, Login>> credential_set_login(metadata::RegistryId registry,
                                                                     std::string_view name);

  // --- cache rules ---
  UpstreamResult<CacheRuleView> create_cache_rule(std::string_view registry,
                                                  const NewCacheRule& rule);
  UpstreamResult<std::vector<CacheRuleView>> list_cache_rules(std::string_view registry);
  UpstreamResult<CacheRuleView> show_cache_rule(std::string_view registry, std::string_view name);
  UpstreamResult<CacheRuleView> update_cache_rule(std::string_view registry, std::string_view name,
                                                  const CacheRuleUpdate& update);
  UpstreamResult<void> delete_cache_rule(std::string_view registry, std::string_view name);

  // The rule covering `repository` of the registry, where it points and the login to use;
  // nullopt when no rule covers it.
  UpstreamResult<std::optional<PullThrough>> pull_through(metadata::RegistryId registry,
                                                          std::string_view repository);
  // Called after this node changed a registry's cache rules or credential sets, so that what
  // caches them (the pull-through cache) reads them again at once.
  void on_rules_changed(std::function<void(metadata::RegistryId)> changed) {
    rules_changed_ = std::move(changed);
  }
  // Every cache rule of the registry, with the logins they use (for the cache's rule cache).
  UpstreamResult<RegistryRules> rules_of(metadata::RegistryId registry);

 private:
  UpstreamResult<registry::RegistryInfo> registry_info(std::string_view name);
  UpstreamResult<metadata::CredentialSet> find_set(const registry::RegistryInfo& info,
                                                   std::string_view name);
  UpstreamResult<metadata::CacheRule> find_rule(const registry::RegistryInfo& info,
                                                std::string_view name);
  UpstreamResult<Login> unseal(const metadata::CredentialSet& set) const;

  void rules_changed(metadata::RegistryId registry) const {
    if (rules_changed_) rules_changed_(registry);
  }

  metadata::UpstreamStore& store_;
  registry::Tenants& tenants_;
  const auth::DeploymentKey& key_;
  std::function<void(metadata::RegistryId)> rules_changed_;
};

}  // namespace berth::upstream
