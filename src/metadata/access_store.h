#pragma once
// AccessStore: what the registry knows about who may do what. Admin-user passwords, scope maps
// and repository-scoped tokens (per registry), deployment-level identities (users, service
// principals, federated issuers) and their role assignments, IP network rules, the token
// signing keys and the login audit.
//
// Secrets never reach this interface in plaintext: callers pass hashes (token and identity
// secrets) or sealed values (admin-user passwords, signing keys), made by auth/secrets.h.
//
// Backends: SqliteMetadataStore and PostgresMetadataStore (each: the same database and transactions as the content
// metadata). Every backend passes the access part of the conformance suite. All methods are
// safe to call concurrently from any thread.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "metadata/metadata_store.h"

namespace berth::metadata {

// One of the admin user's two passwords ("password" or "password2"), sealed.
struct AdminPasswordRecord {
  std::string name;
  std::string sealed_value;
  std::int64_t created_at = 0;
};

// A user-defined scope map. `actions` are in the hosted service's form,
// "repositories/<repository or pattern>/<content|metadata>/<read|write|delete>", kept in the
// order given, without duplicates. System scope maps (_repositories_*) are not stored.
struct ScopeMapRecord {
  RegistryId registry = kDefaultRegistryId;
  std::string name;  // unique per registry, compared ignoring case
  std::string description;
  std::vector<std::string> actions;
  std::int64_t created_at = 0;
};

// One of a token's two passwords ("password1" or "password2").
struct TokenPasswordRecord {
  std::string name;
  std::string secret_hash;             // auth::hash_generated_secret / hash_password
  std::optional<std::int64_t> expiry;  // Unix seconds; none: never expires
  std::int64_t created_at = 0;
};

struct TokenRecord {
  RegistryId registry = kDefaultRegistryId;
  std::string name;       // unique per registry, compared ignoring case; the login username
  std::string scope_map;  // a stored scope map's name or a system one ("_repositories_pull")
  bool enabled = true;
  std::int64_t created_at = 0;
  std::vector<TokenPasswordRecord> passwords;  // at most two, sorted by name
};

// A deployment-level identity.
enum class IdentityKind { user, service_principal, federated };

struct IdentityRecord {
  std::string id;    // generated (a UUID); the login username of users and service principals
  std::string name;  // unique at the deployment, compared ignoring case
  IdentityKind kind = IdentityKind::user;
  std::string secret_hash;             // users and service principals; empty for federated
  std::optional<std::int64_t> expiry;  // Unix seconds; none: never expires
  bool enabled = true;
  // Federated issuers only: whose JWTs are trusted, and which of them map to this identity.
  std::string issuer;       // the "iss" claim, exactly
  std::string audience;     // the "aud" claim that must be present
  std::string jwks;         // where the issuer's keys are: a file path or an http(s) URL
  std::string subject;      // the "sub" claim that must match exactly
  std::string claims_json;  // further claims that must match exactly (JSON object), or empty
  std::int64_t created_at = 0;
};

// A role given to an identity on a registry, or on repositories of it when `repository` is set
// (an exact name or a pattern "samples/*").
struct RoleAssignmentRecord {
  std::string id;  // generated (a UUID)
  std::string identity_id;
  std::string role;  // auth::find_role() knows it
  RegistryId registry = kDefaultRegistryId;
  std::string repository;  // empty: the whole registry
  std::int64_t created_at = 0;
};

// An IP allow rule of a registry's firewall, in canonical CIDR form ("10.1.0.0/16",
// "2001:db8::/32"; a single address carries /32 or /128).
struct NetworkRuleRecord {
  RegistryId registry = kDefaultRegistryId;
  std::string address_range;
  std::int64_t created_at = 0;
};

// A key that signs the token service's JWTs; the private key is sealed.
struct SigningKeyRecord {
  std::string kid;
  std::string sealed_private_key;
  std::int64_t created_at = 0;
  bool active = false;  // exactly one key signs; the others only verify until they are pruned
};

// One authentication attempt.
struct LoginEventRecord {
  std::int64_t id = 0;  // assigned by append_login_events, increasing
  std::int64_t time = 0;
  std::optional<RegistryId> registry;  // none: not about a registry (management API)
  std::string identity;       // the username or subject presented ("" when none)
  std::string identity_kind;  // "adminUser", "token", "user", "servicePrincipal", ...
  std::string client_address;
  bool success = false;
  std::string method;  // "basic", "oauth2/token", "oauth2/exchange", ...
  std::string reason;  // why it failed (never the secret), "" on success
};

struct LoginEventFilter {
  std::optional<RegistryId> registry;
  std::optional<std::string> identity;  // exact
  std::optional<bool> success;
  std::optional<std::int64_t> since;  // time >= since
  std::optional<std::int64_t> until;  // time < until
  std::optional<std::int64_t> before_id;  // keyset pagination: id < before_id
  std::size_t limit = 100;
};

class AccessStore {
 public:
  virtual ~AccessStore() = default;

  // --- the admin user's passwords (the enabled flag is RegistryRecord::admin_user_enabled) ---
  // Inserts or replaces the password `record.name` of the registry.
  virtual Result<void> put_admin_password(RegistryId registry,
                                          const AdminPasswordRecord& record) = 0;
  // Sorted by name.
  virtual Result<std::vector<AdminPasswordRecord>> admin_passwords(RegistryId registry) = 0;

  // --- scope maps ---
  // conflict when the name is taken; limit_reached when the registry has `max_in_registry`.
  virtual Result<void> create_scope_map(const ScopeMapRecord& record,
                                        std::uint64_t max_in_registry) = 0;
  virtual Result<std::optional<ScopeMapRecord>> find_scope_map(RegistryId registry,
                                                               std::string_view name) = 0;
  // Sorted by name.
  virtual Result<std::vector<ScopeMapRecord>> list_scope_maps(RegistryId registry) = 0;
  // Replaces description and actions of the map with record.registry and record.name; false
  // when absent.
  virtual Result<bool> update_scope_map(const ScopeMapRecord& record) = 0;
  // conflict when a token uses it; false when absent.
  virtual Result<bool> delete_scope_map(RegistryId registry, std::string_view name) = 0;

  // --- tokens ---
  // conflict when the name is taken; limit_reached at `max_in_registry`.
  virtual Result<void> create_token(const TokenRecord& record, std::uint64_t max_in_registry) = 0;
  virtual Result<std::optional<TokenRecord>> find_token(RegistryId registry,
                                                        std::string_view name) = 0;
  // Sorted by name.
  virtual Result<std::vector<TokenRecord>> list_tokens(RegistryId registry) = 0;
  // Replaces scope_map, enabled and passwords of the token with record.registry and
  // record.name; false when absent.
  virtual Result<bool> update_token(const TokenRecord& record) = 0;
  virtual Result<bool> delete_token(RegistryId registry, std::string_view name) = 0;

  // --- deployment identities ---
  // conflict when the id or the name is taken.
  virtual Result<void> create_identity(const IdentityRecord& record) = 0;
  virtual Result<std::optional<IdentityRecord>> find_identity(std::string_view id) = 0;
  // Federated identities whose issuer is `issuer`, sorted by name.
  virtual Result<std::vector<IdentityRecord>> federated_identities(std::string_view issuer) = 0;
  // Sorted by name.
  virtual Result<std::vector<IdentityRecord>> list_identities() = 0;
  // Replaces every field but id and created_at; false when absent.
  virtual Result<bool> update_identity(const IdentityRecord& record) = 0;
  // Also removes the identity's role assignments; false when absent.
  virtual Result<bool> delete_identity(std::string_view id) = 0;

  // --- role assignments ---
  // not_found when the identity or the registry does not exist; conflict when the same
  // (identity, role, registry, repository) is assigned already.
  virtual Result<void> create_role_assignment(const RoleAssignmentRecord& record) = 0;
  // Optionally only those of one registry and/or one identity; sorted by created_at, then id.
  virtual Result<std::vector<RoleAssignmentRecord>> list_role_assignments(
      std::optional<RegistryId> registry, std::optional<std::string_view> identity_id) = 0;
  virtual Result<bool> delete_role_assignment(std::string_view id) = 0;

  // --- network rules (the default action and public access are on RegistryRecord) ---
  // conflict when the same range is there already; limit_reached at `max_in_registry`.
  virtual Result<void> add_network_rule(const NetworkRuleRecord& record,
                                        std::uint64_t max_in_registry) = 0;
  // Sorted by created_at, then address_range.
  virtual Result<std::vector<NetworkRuleRecord>> list_network_rules(RegistryId registry) = 0;
  virtual Result<bool> remove_network_rule(RegistryId registry,
                                           std::string_view address_range) = 0;

  // --- token signing keys ---
  // Adds `record`; when it is active, every other key becomes inactive in the same
  // transaction. conflict when the kid exists.
  virtual Result<void> add_signing_key(const SigningKeyRecord& record) = 0;
  // Newest first.
  virtual Result<std::vector<SigningKeyRecord>> list_signing_keys() = 0;
  virtual Result<bool> delete_signing_key(std::string_view kid) = 0;

  // --- login audit ---
  // Appends all of `events` in one transaction (ids are assigned).
  virtual Result<void> append_login_events(const std::vector<LoginEventRecord>& events) = 0;
  // Newest first (id descending).
  virtual Result<std::vector<LoginEventRecord>> list_login_events(
      const LoginEventFilter& filter) = 0;
  // Removes events older than `before` (Unix seconds); returns how many.
  virtual Result<std::uint64_t> prune_login_events(std::int64_t before) = 0;
};

}  // namespace berth::metadata
