#include "auth/access.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>

#include "oci/reference.h"

namespace berth::auth {
namespace {

struct ScopeActionName {
  std::string_view name;
  Permission permission;
};

// The token service's action words, in the order access claims list them.
constexpr std::array kScopeActions{
    ScopeActionName{"pull", Permission::pull},
    ScopeActionName{"push", Permission::push},
    ScopeActionName{"delete", Permission::delete_},
    ScopeActionName{"metadata_read", Permission::metadata_read},
    ScopeActionName{"metadata_write", Permission::metadata_write},
};

struct ScopeMapActionName {
  std::string_view suffix;  // after "repositories/<pattern>/"
  Permission permission;
};

constexpr std::array kScopeMapActions{
    ScopeMapActionName{"content/read", Permission::pull},
    ScopeMapActionName{"content/write", Permission::push},
    ScopeMapActionName{"content/delete", Permission::delete_},
    ScopeMapActionName{"metadata/read", Permission::metadata_read},
    ScopeMapActionName{"metadata/write", Permission::metadata_write},
};

constexpr std::array<std::string_view, 2> kPullMap{"repositories/*/content/read",
                                                   "repositories/*/metadata/read"};
constexpr std::array<std::string_view, 4> kPushMap{
    "repositories/*/content/read", "repositories/*/content/write", "repositories/*/metadata/read",
    "repositories/*/metadata/write"};
constexpr std::array<std::string_view, 5> kAdminMap{
    "repositories/*/content/read", "repositories/*/content/write",
    "repositories/*/content/delete", "repositories/*/metadata/read",
    "repositories/*/metadata/write"};
constexpr std::array<std::string_view, 3> kSystemMapNames{
    "_repositories_admin", "_repositories_pull", "_repositories_push"};

constexpr Permissions kRead = Permissions(Permission::pull) | Permission::metadata_read;
constexpr Permissions kWrite = kRead | Permission::push | Permission::metadata_write;
constexpr Permissions kContribute = kWrite | Permission::delete_;

// The permission table (docs/access-control.md). Management roles also carry data permissions,
// as the hosted service's Reader/Contributor/Owner do.
constexpr std::array kRoles{
    Role{"AcrPull", kRead, ManagementLevel::none, "pull images and artifacts"},
    Role{"AcrPush", kWrite, ManagementLevel::none, "push and pull images and artifacts"},
    Role{"AcrDelete", Permissions(Permission::delete_) | Permission::metadata_read,
         ManagementLevel::none, "delete images, tags and artifacts"},
    Role{"AcrImageSigner", Permissions(Permission::sign) | kRead, ManagementLevel::none,
         "sign images (push signatures)"},
    Role{"Reader", kRead, ManagementLevel::reader, "read the registry's settings; pull"},
    Role{"Contributor", kContribute, ManagementLevel::contributor,
         "manage the registry (not its role assignments); push, pull, delete"},
    Role{"Owner", kContribute | Permission::sign, ManagementLevel::owner,
         "everything, including role assignments on the registry"},
};

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::optional<std::int64_t> parse_int(std::string_view text) {
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

bool is_repository_scope(const Scope& scope) { return scope.type == "repository"; }

bool is_catalog_scope(const Scope& scope) {
  return scope.type == "registry" && scope.name == "catalog";
}

}  // namespace

std::optional<Permissions> permissions_of_scope_action(std::string_view action) {
  if (action == "*") {
    Permissions every;
    for (const auto& entry : kScopeActions) every |= entry.permission;
    return every;
  }
  for (const auto& entry : kScopeActions) {
    if (entry.name == action) return Permissions(entry.permission);
  }
  return std::nullopt;
}

std::vector<std::string> scope_actions_of(Permissions permissions) {
  std::vector<std::string> names;
  for (const auto& entry : kScopeActions) {
    if (permissions.has(entry.permission)) names.emplace_back(entry.name);
  }
  return names;
}

bool valid_repository_pattern(std::string_view pattern) {
  if (pattern == "*") return true;
  if (pattern.ends_with("/*")) pattern.remove_suffix(2);
  return oci::is_valid_repository_name(pattern);
}

bool pattern_matches(std::string_view pattern, std::string_view repository) {
  if (pattern == "*") return true;
  if (pattern.ends_with("/*")) {
    std::string_view prefix = pattern.substr(0, pattern.size() - 1);  // keeps the slash
    return repository.size() > prefix.size() && repository.starts_with(prefix);
  }
  return pattern == repository;
}

std::optional<RepositoryRule> parse_scope_map_action(std::string_view action) {
  constexpr std::string_view kPrefix = "repositories/";
  if (!action.starts_with(kPrefix)) return std::nullopt;
  std::string_view rest = action.substr(kPrefix.size());
  for (const auto& entry : kScopeMapActions) {
    if (rest.size() <= entry.suffix.size() + 1 || !rest.ends_with(entry.suffix)) continue;
    std::string_view pattern = rest.substr(0, rest.size() - entry.suffix.size());
    if (!pattern.ends_with('/')) continue;
    pattern.remove_suffix(1);
    if (!valid_repository_pattern(pattern)) return std::nullopt;
    return RepositoryRule{std::string(pattern), entry.permission};
  }
  return std::nullopt;
}

std::span<const std::string_view> system_scope_map_actions(std::string_view name) {
  if (name == "_repositories_pull") return kPullMap;
  if (name == "_repositories_push") return kPushMap;
  if (name == "_repositories_admin") return kAdminMap;
  return {};
}

std::span<const std::string_view> system_scope_map_names() { return kSystemMapNames; }

std::span<const Role> all_roles() { return kRoles; }

const Role* find_role(std::string_view name) {
  for (const Role& role : kRoles) {
    if (equal_ignoring_case(role.name, name)) return &role;
  }
  return nullptr;
}

void Grant::add(std::string pattern, Permissions permissions) {
  if (permissions.empty()) return;
  for (auto& rule : rules_) {
    if (rule.pattern == pattern) {
      rule.permissions |= permissions;
      return;
    }
  }
  rules_.push_back({std::move(pattern), permissions});
}

Permissions Grant::on(std::string_view repository) const {
  Permissions result;
  for (const auto& rule : rules_) {
    if (pattern_matches(rule.pattern, repository)) result |= rule.permissions;
  }
  return result;
}

bool Grant::reads_anything() const {
  return std::any_of(rules_.begin(), rules_.end(), [](const RepositoryRule& rule) {
    return rule.permissions.has(Permission::pull);
  });
}

namespace {
template <class Strings>
Grant grant_of_actions(const Strings& actions) {
  Grant grant;
  for (const auto& action : actions) {
    if (auto rule = parse_scope_map_action(action)) {
      grant.add(std::move(rule->pattern), rule->permissions);
    }
  }
  return grant;
}
}  // namespace

Grant grant_of_scope_map(std::span<const std::string> actions) {
  return grant_of_actions(actions);
}

Grant grant_of_scope_map(std::span<const std::string_view> actions) {
  return grant_of_actions(actions);
}

std::vector<Scope> granted_scopes(const Grant& grant, const std::vector<Scope>& requested) {
  std::vector<Scope> granted;
  for (const Scope& scope : requested) {
    if (is_catalog_scope(scope)) {
      if (grant.reads_anything()) granted.push_back({"registry", "catalog", {"*"}});
      continue;
    }
    if (!is_repository_scope(scope) || !oci::is_valid_repository_name(scope.name)) continue;
    Permissions wanted;
    for (const auto& action : scope.actions) {
      if (auto permissions = permissions_of_scope_action(action)) wanted |= *permissions;
    }
    Permissions allowed = grant.on(scope.name);
    Permissions kept;
    for (const auto& entry : kScopeActions) {
      if (wanted.has(entry.permission) && allowed.has(entry.permission)) kept |= entry.permission;
    }
    if (kept.empty()) continue;
    // Two requests for the same repository merge into one entry.
    auto same = std::find_if(granted.begin(), granted.end(), [&](const Scope& s) {
      return is_repository_scope(s) && s.name == scope.name;
    });
    if (same != granted.end()) {
      Permissions merged = kept;
      for (const auto& action : same->actions) merged |= *permissions_of_scope_action(action);
      same->actions = scope_actions_of(merged);
    } else {
      granted.push_back({"repository", scope.name, scope_actions_of(kept)});
    }
  }
  return granted;
}

Grant grant_of_access_claim(const std::vector<Scope>& access) {
  Grant grant;
  for (const Scope& scope : access) {
    if (!is_repository_scope(scope) || !oci::is_valid_repository_name(scope.name)) continue;
    Permissions permissions;
    for (const auto& action : scope.actions) {
      if (auto p = permissions_of_scope_action(action)) permissions |= *p;
    }
    grant.add(scope.name, permissions);
  }
  return grant;
}

bool access_claim_lists_catalog(const std::vector<Scope>& access) {
  return std::any_of(access.begin(), access.end(), is_catalog_scope);
}

std::string Principal::kind_name() const {
  switch (kind) {
    case Kind::anonymous:
      return "anonymous";
    case Kind::deployment_admin:
      return "deploymentAdmin";
    case Kind::admin_user:
      return "adminUser";
    case Kind::token:
      return "token";
    case Kind::identity:
      return "identity";
    case Kind::run:
      return "run";
  }
  return "unknown";
}

std::string Principal::display() const {
  switch (kind) {
    case Kind::anonymous:
      return "anonymous";
    case Kind::deployment_admin:
      return "admin";
    case Kind::admin_user:
      return "adminuser";
    case Kind::token:
    case Kind::identity:
      return name;
    case Kind::run:
      return "run cb" + name;
  }
  return "unknown";
}

std::string subject_of(const Principal& principal) {
  switch (principal.kind) {
    case Principal::Kind::anonymous:
      return "anonymous";
    case Principal::Kind::deployment_admin:
      return "admin";
    case Principal::Kind::admin_user:
      return "adminuser:" + std::to_string(principal.registry);
    case Principal::Kind::token:
      return "token:" + std::to_string(principal.registry) + ":" + principal.name;
    case Principal::Kind::identity:
      return "identity:" + principal.name;
    case Principal::Kind::run:
      return "run:" + std::to_string(principal.registry) + ":" + principal.name;
  }
  return "anonymous";
}

std::optional<Principal> principal_of_subject(std::string_view subject) {
  using Kind = Principal::Kind;
  if (subject == "anonymous") return Principal{};
  if (subject == "admin") return Principal{Kind::deployment_admin, 0, {}};
  if (subject.starts_with("adminuser:")) {
    auto registry = parse_int(subject.substr(10));
    if (!registry || *registry <= 0) return std::nullopt;
    return Principal{Kind::admin_user, *registry, {}};
  }
  if (subject.starts_with("token:")) {
    std::string_view rest = subject.substr(6);
    auto colon = rest.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    auto registry = parse_int(rest.substr(0, colon));
    std::string_view name = rest.substr(colon + 1);
    if (!registry || *registry <= 0 || name.empty()) return std::nullopt;
    return Principal{Kind::token, *registry, std::string(name)};
  }
  if (subject.starts_with("run:")) {
    std::string_view rest = subject.substr(4);
    auto colon = rest.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    auto registry = parse_int(rest.substr(0, colon));
    auto number = parse_int(rest.substr(colon + 1));
    if (!registry || *registry <= 0 || !number || *number <= 0) return std::nullopt;
    return Principal{Kind::run, *registry, std::to_string(*number)};
  }
  if (subject.starts_with("identity:") && subject.size() > 9) {
    return Principal{Kind::identity, 0, std::string(subject.substr(9))};
  }
  return std::nullopt;
}

}  // namespace berth::auth
