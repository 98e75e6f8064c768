#pragma once
// The permission model: what a principal may do, as data.
//
//  - Permissions on repositories: pull, push, delete, metadata read/write, sign.
//  - Repository patterns: an exact name, "prefix/*" (every repository below prefix), or "*".
//  - Scope maps (for repository-scoped tokens): actions in the hosted service's form
//    "repositories/<pattern>/content/read", and the three system maps.
//  - Roles (for users, service principals and federated identities): AcrPull, AcrPush,
//    AcrDelete, AcrImageSigner, and the management roles Reader, Contributor, Owner.
//  - A Grant: everything one principal may do in one registry.
//  - Principals and their JWT subjects.
// The permission table is documented in docs/access-control.md.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "auth/credentials.h"
#include "metadata/metadata_store.h"

namespace berth::auth {

enum class Permission : std::uint8_t {
  pull = 1,
  push = 2,
  delete_ = 4,
  metadata_read = 8,
  metadata_write = 16,
  sign = 32,
};

class Permissions {
 public:
  constexpr Permissions() = default;
  constexpr Permissions(Permission p) : bits_(static_cast<std::uint8_t>(p)) {}  // NOLINT
  static constexpr Permissions all() { return Permissions(0x3f); }

  constexpr bool has(Permission p) const { return (bits_ & static_cast<std::uint8_t>(p)) != 0; }
  constexpr bool contains(Permissions other) const { return (bits_ & other.bits_) == other.bits_; }
  constexpr bool empty() const { return bits_ == 0; }
  constexpr Permissions operator|(Permissions other) const {
    return Permissions(static_cast<std::uint8_t>(bits_ | other.bits_));
  }
  constexpr Permissions& operator|=(Permissions other) { return *this = *this | other; }
  constexpr bool operator==(const Permissions&) const = default;

 private:
  constexpr explicit Permissions(std::uint8_t bits) : bits_(bits) {}
  std::uint8_t bits_ = 0;
};

// Token-service actions ("pull", "push", "delete", "metadata_read", "metadata_write") and the
// permission each stands for; "*" is every one. nullopt for an unknown action.
std::optional<Permissions> permissions_of_scope_action(std::string_view action);
// The token-service actions `permissions` holds, in a fixed order.
std::vector<std::string> scope_actions_of(Permissions permissions);

// --- repository patterns ---
// "*", a repository name (OCI grammar), or a name followed by "/*".
bool valid_repository_pattern(std::string_view pattern);
// "*" matches everything; "a/*" matches "a/b" and "a/b/c" but not "a"; otherwise exact.
bool pattern_matches(std::string_view pattern, std::string_view repository);

// --- scope maps ---
struct RepositoryRule {
  std::string pattern;
  Permissions permissions;
};

// "repositories/<pattern>/content/read" -> {pattern, pull}; content/write -> push,
// content/delete -> delete, metadata/read, metadata/write. nullopt when malformed.
std::optional<RepositoryRule> parse_scope_map_action(std::string_view action);

inline constexpr std::string_view kSystemScopeMapPrefix = "_repositories_";
// The actions of a system scope map (_repositories_pull, _repositories_push,
// _repositories_admin), or an empty span for any other name.
std::span<const std::string_view> system_scope_map_actions(std::string_view name);
std::span<const std::string_view> system_scope_map_names();

// --- roles ---
enum class ManagementLevel { none, reader, contributor, owner };

struct Role {
  std::string_view name;
  Permissions data;  // on the repositories in the assignment's scope
  ManagementLevel management = ManagementLevel::none;
  std::string_view description;
};

std::span<const Role> all_roles();
// Matched ignoring case; nullptr when unknown.
const Role* find_role(std::string_view name);

// --- grants ---
class Grant {
 public:
  void add(std::string pattern, Permissions permissions);
  // What the grant allows on `repository`.
  Permissions on(std::string_view repository) const;
  // Whether anything at all may be read (pulling from some repository).
  bool reads_anything() const;
  const std::vector<RepositoryRule>& rules() const { return rules_; }

  ManagementLevel management = ManagementLevel::none;

 private:
  std::vector<RepositoryRule> rules_;
};

// The grant a scope map's actions make (unparseable actions are skipped).
Grant grant_of_scope_map(std::span<const std::string> actions);
Grant grant_of_scope_map(std::span<const std::string_view> actions);

// The subset of `requested` that `grant` allows, as JWT access entries: repository scopes keep
// only their allowed actions (and are dropped when none is left); "registry:catalog:*" is kept
// when the grant reads anything. Unknown types and actions are dropped.
std::vector<Scope> granted_scopes(const Grant& grant, const std::vector<Scope>& requested);

// The grant a JWT's access claim makes (what granted_scopes produced).
Grant grant_of_access_claim(const std::vector<Scope>& access);
// Whether the access claim holds "registry:catalog:*".
bool access_claim_lists_catalog(const std::vector<Scope>& access);

// --- principals ---
struct Principal {
  enum class Kind {
    anonymous,
    deployment_admin,  // the administrator token: everything, everywhere
    admin_user,        // a registry's admin user
    token,             // a registry's repository-scoped token
    identity,          // a deployment identity: user, service principal or federated
    run,               // a build run while it runs: name = its number ("12" for cb12)
  };
  Kind kind = Kind::anonymous;
  metadata::RegistryId registry = 0;  // admin_user, token, run
  std::string name;                   // token name; identity id
  std::string kind_name() const;      // "anonymous", "deploymentAdmin", "adminUser", "token", ...
  std::string display() const;        // for logs and the audit: never a secret

  bool operator==(const Principal&) const = default;
};

// The JWT subject naming `principal`: "anonymous", "admin", "adminuser:<registry>",
// "token:<registry>:<name>", "identity:<id>", "run:<registry>:<number>".
std::string subject_of(const Principal& principal);
std::optional<Principal> principal_of_subject(std::string_view subject);

}  // namespace berth::auth
