#pragma once
// AccessControl: the management side of access control as resources. A registry's admin-user
// credentials, scope maps, repository-scoped tokens and network rules; the deployment's
// identities and role assignments; the login audit. Knows nothing of HTTP;
// api/management_access.cc maps its errors.
//
// Registries are addressed by name and looked up through registry::Tenants (same rules, same
// "not found"). Every input is validated here, and the tier limits on tokens, scope maps and
// IP rules hold (the store enforces them in the same transaction as the insert, so two
// concurrent creates cannot both pass the last free slot).
//
// Secrets: generated ones come from auth::generate_secret and are stored hashed (tokens,
// service principals) or sealed with the deployment key (the admin user's passwords, which
// are shown again). A secret value leaves this service only in the answer of the call that
// made it, and in admin_credentials() (the admin user's passwords are meant to be shown).

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/secrets.h"
#include "common/result.h"
#include "metadata/access_store.h"
#include "metadata/metadata_store.h"
#include "registry/tenants.h"

namespace berth::registry {

enum class AccessControlErrc {
  invalid_argument,  // a malformed or inconsistent input
  registry_not_found,
  scope_map_not_found,
  token_not_found,
  identity_not_found,
  role_assignment_not_found,
  network_rule_not_found,
  scope_map_in_use,     // a token uses the scope map
  scope_map_read_only,  // a system scope map cannot be created, changed or deleted
  admin_user_disabled,  // the admin user's credentials exist only while it is enabled
  conflict,             // the name (or range, or assignment) exists already
  limit_exceeded,       // the registry's tier allows no more of the resource
  internal,             // a backend failed
};

using AccessControlError = Error<AccessControlErrc>;

template <class T>
using AccessControlResult = berth::Result<T, AccessControlError>;

// --- admin user ---
inline constexpr std::string_view kAdminPasswordNames[] = {"password", "password2"};

struct NamedSecret {
  std::string name;
  std::string value;
};

struct AdminCredentials {
  std::string username;                // the registry's name
  std::vector<NamedSecret> passwords;  // "password", "password2"
};

// --- scope maps ---
inline constexpr std::size_t kMaxScopeMapActions = 500;

struct ScopeMap {
  std::string name;
  std::string description;
  bool system = false;  // _repositories_pull, _repositories_push, _repositories_admin
  std::vector<std::string> actions;
  std::int64_t created_at = 0;  // system maps: the registry's creation
};

struct NewScopeMap {
  std::string name;
  std::string description;
  std::vector<std::string> actions;
};

struct ScopeMapChanges {
  std::optional<std::string> description;
  std::vector<std::string> add_actions;
  std::vector<std::string> remove_actions;
};

// --- tokens ---
inline constexpr std::string_view kTokenPasswordNames[] = {"password1", "password2"};

struct TokenPassword {
  std::string name;
  std::int64_t created_at = 0;
  std::optional<std::int64_t> expiry;
  std::optional<std::string> value;  // only in the answers of create and generate
};

struct Token {
  std::string name;
  std::string scope_map;
  bool enabled = true;
  std::int64_t created_at = 0;
  std::vector<TokenPassword> passwords;
};

struct NewToken {
  std::string name;
  std::string scope_map;
  std::optional<bool> enabled;
  bool no_passwords = false;
  std::optional<std::int64_t> expiry;  // of both passwords
};

struct TokenChanges {
  std::optional<bool> enabled;
  std::optional<std::string> scope_map;
};

// --- identities ---
struct NewIdentity {
  std::string name;
  std::string kind;  // "user", "servicePrincipal", "federated"
  std::optional<std::int64_t> expiry;
  std::optional<std::string> password;  // users only: a chosen password
  // Federated only.
  std::string issuer;
  std::string audience;
  std::string jwks;
  std::string subject;
  std::map<std::string, std::string> claims;
};

struct Identity {
  metadata::IdentityRecord record;            // secret_hash is always empty here
  std::map<std::string, std::string> claims;  // federated: record.claims_json, parsed
};

struct CreatedIdentity {
  Identity identity;
  std::optional<std::string> secret;  // generated for users without a password and for SPs
};

// The wire name of an identity kind: "user", "servicePrincipal", "federated".
std::string_view identity_kind_name(metadata::IdentityKind kind);

// --- role assignments ---
struct RoleAssignment {
  std::string id;
  std::string assignee;       // identity id
  std::string assignee_name;  // the identity's name
  std::string role;           // canonical spelling ("AcrPull")
  std::string scope;          // "/registries/<name>[/repositories/<pattern>]"
  std::int64_t created_at = 0;
};

struct NewRoleAssignment {
  std::string assignee;
  std::string role;
  std::string scope;
};

// --- network rules ---
struct NetworkRuleSet {
  std::string default_action;         // "Allow" or "Deny"
  std::vector<std::string> ip_rules;  // canonical CIDR ranges, oldest first
};

// --- login audit ---
inline constexpr std::size_t kMaxLoginEvents = 1000;

struct LoginAuditQuery {
  std::optional<std::string> identity;
  std::optional<bool> success;
  std::optional<std::int64_t> since;
  std::optional<std::int64_t> until;
  std::size_t top = 100;  // 1 to kMaxLoginEvents
};

struct LoginEvent {
  metadata::LoginEventRecord record;
  std::string registry;  // the registry's name
};

class AccessControl {
 public:
  // All must outlive the service. `store` is usually the same object as `metadata`. Registers
  // the token, scope-map and IP-rule counters with `tenants`, so that usage, health and tier
  // downgrades see them.
  AccessControl(metadata::MetadataStore& metadata, metadata::AccessStore& store, Tenants& tenants,
                const auth::DeploymentKey& key);

  // --- registries (Tenants, plus what access control adds) ---
  // Tenants::create / update, making the admin user's passwords when it is (or becomes)
  // enabled, before the flag is stored: an enabled admin user always has both passwords.
  // Tenants' errors stay as they are (the registry routes map them).
  TenantResult<RegistryInfo> create_registry(const NewRegistry& request);
  TenantResult<RegistryInfo> update_registry(std::string_view name, const RegistryChanges& changes);
  // Creates whichever of the admin user's two passwords are missing (start-up and enable).
  AccessControlResult<void> ensure_admin_passwords(metadata::RegistryId registry);

  // --- admin user ---
  // admin_user_disabled while the admin user is off.
  AccessControlResult<AdminCredentials> admin_credentials(std::string_view registry);
  // A new value for "password" or "password2".
  AccessControlResult<AdminCredentials> renew_admin_password(std::string_view registry,
                                                             std::string_view password_name);

  // --- scope maps ---
  // The system maps first, then the registry's own, by name.
  AccessControlResult<std::vector<ScopeMap>> list_scope_maps(std::string_view registry);
  AccessControlResult<ScopeMap> show_scope_map(std::string_view registry, std::string_view name);
  AccessControlResult<ScopeMap> create_scope_map(std::string_view registry,
                                                 const NewScopeMap& request);
  AccessControlResult<ScopeMap> update_scope_map(std::string_view registry, std::string_view name,
                                                 const ScopeMapChanges& changes);
  AccessControlResult<void> delete_scope_map(std::string_view registry, std::string_view name);

  // --- tokens ---
  AccessControlResult<std::vector<Token>> list_tokens(std::string_view registry);
  AccessControlResult<Token> show_token(std::string_view registry, std::string_view name);
  // With the values of password1 and password2 (none when no_passwords).
  AccessControlResult<Token> create_token(std::string_view registry, const NewToken& request);
  AccessControlResult<Token> update_token(std::string_view registry, std::string_view name,
                                          const TokenChanges& changes);
  AccessControlResult<void> delete_token(std::string_view registry, std::string_view name);
  // New values for `password_name` (none: both); the answer holds only the new passwords.
  AccessControlResult<std::vector<TokenPassword>> generate_token_passwords(
      std::string_view registry, std::string_view name, std::optional<std::string> password_name,
      std::optional<std::int64_t> expiry);

  // --- identities ---
  AccessControlResult<std::vector<Identity>> list_identities();
  AccessControlResult<Identity> show_identity(std::string_view id);
  AccessControlResult<CreatedIdentity> create_identity(const NewIdentity& request);
  AccessControlResult<void> delete_identity(std::string_view id);

  // --- role assignments ---
  // Optionally only those on one registry (by name) and/or of one identity.
  AccessControlResult<std::vector<RoleAssignment>> list_role_assignments(
      std::optional<std::string_view> registry, std::optional<std::string_view> assignee);
  AccessControlResult<RoleAssignment> create_role_assignment(const NewRoleAssignment& request);
  AccessControlResult<void> delete_role_assignment(std::string_view id);

  // --- network rules ---
  AccessControlResult<NetworkRuleSet> network_rules(std::string_view registry);
  AccessControlResult<NetworkRuleSet> network_rules(const metadata::RegistryRecord& registry);
  AccessControlResult<NetworkRuleSet> add_network_rule(std::string_view registry,
                                                       std::string_view address_range);
  AccessControlResult<NetworkRuleSet> remove_network_rule(std::string_view registry,
                                                          std::string_view address_range);

  // --- login audit ---
  // Newest first.
  AccessControlResult<std::vector<LoginEvent>> login_events(std::string_view registry,
                                                            const LoginAuditQuery& query);

 private:
  AccessControlResult<RegistryInfo> registry_info(std::string_view name);
  AccessControlResult<metadata::ScopeMapRecord> stored_scope_map(const RegistryInfo& registry,
                                                                 std::string_view name);
  AccessControlResult<metadata::TokenRecord> stored_token(const RegistryInfo& registry,
                                                          std::string_view name);
  AccessControlResult<std::string> put_admin_password(metadata::RegistryId registry,
                                                      std::string_view name);
  AccessControlResult<AdminCredentials> read_admin_credentials(const RegistryInfo& registry);
  AccessControlResult<RoleAssignment> assignment_of(
      const metadata::RoleAssignmentRecord& record,
      const std::map<metadata::RegistryId, std::string>& registry_names,
      const std::map<std::string, std::string>& identity_names);

  metadata::MetadataStore& metadata_;
  metadata::AccessStore& store_;
  Tenants& tenants_;
  const auth::DeploymentKey& key_;
};

}  // namespace berth::registry
