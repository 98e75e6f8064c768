#include <charconv>
#include "auth/authenticator.h"

#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "auth/encoding.h"
#include "auth/federation.h"
#include "common/clock.h"
#include "common/ids.h"

namespace berth::auth {
namespace {

using metadata::RegistryRecord;

AccessError unauthenticated(std::string reason) {
  return {AccessErrc::unauthenticated, std::move(reason)};
}

AccessError store_failure(const metadata::MetadataError& error) {
  return {AccessErrc::store_error, error.message};
}

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

bool expired(const std::optional<std::int64_t>& expiry, std::int64_t now) {
  return expiry && *expiry <= now;
}

// Everything on every repository, with every management level (the deployment administrator).
Grant everything(ManagementLevel management) {
  Grant grant;
  grant.add("*", Permissions::all());
  grant.management = management;
  return grant;
}

// The unverified "iss" claim of a JWT: only to pick which issuer's keys to verify it with.
std::optional<std::string> unverified_issuer(std::string_view jwt) {
  auto first = jwt.find('.');
  if (first == std::string_view::npos) return std::nullopt;
  auto second = jwt.find('.', first + 1);
  if (second == std::string_view::npos) return std::nullopt;
  auto decoded = detail::base64url_decode(jwt.substr(first + 1, second - first - 1));
  if (!decoded) return std::nullopt;
  boost::system::error_code ec;
  auto value = boost::json::parse(*decoded, ec);
  if (ec || !value.is_object()) return std::nullopt;
  const auto* iss = value.as_object().if_contains("iss");
  if (iss == nullptr || !iss->is_string()) return std::nullopt;
  return std::string(iss->as_string());
}

// Whether every claim of `required_json` (an object of strings) is in `claims` with that value.
bool claims_match(const std::map<std::string, std::string>& claims,
                  const std::string& required_json) {
  if (required_json.empty()) return true;
  boost::system::error_code ec;
  auto required = boost::json::parse(required_json, ec);
  if (ec || !required.is_object()) return false;
  for (const auto& [name, value] : required.as_object()) {
    auto found = claims.find(std::string(name));
    if (found == claims.end() || found->second != boost::json::serialize(value)) return false;
  }
  return true;
}

}  // namespace

// --- signing keys ---

AccessResult<std::unique_ptr<SigningKeys>> SigningKeys::open(metadata::AccessStore& store,
                                                             const DeploymentKey& key) {
  std::unique_ptr<SigningKeys> keys(new SigningKeys(store, key));
  auto stored = store.list_signing_keys();
  if (!stored) return store_failure(stored.error());
  if (stored->empty()) {
    if (auto rotated = keys->rotate(); !rotated) return rotated.error();
    return keys;
  }
  if (auto loaded = keys->reload(); !loaded) return loaded.error();
  return keys;
}

std::shared_ptr<const KeyRing> SigningKeys::ring() const {
  std::lock_guard lock(mutex_);
  return ring_;
}

std::shared_ptr<const KeyRing> SigningKeys::fresh_ring() {
  auto now = std::chrono::steady_clock::now();
  bool stale = false;
  {
    std::lock_guard lock(mutex_);
    stale = now - loaded_at_ >= kReloadEvery;
  }
  // Another node may have rotated: sign with the key the deployment signs with now, so that
  // the old key, pruned a few rotations later, does not leave tokens no node can verify.
  if (stale && !reload()) spdlog::warn("token signing keys could not be reloaded");
  return ring();
}

AccessResult<void> SigningKeys::reload() {
  auto stored = store_.list_signing_keys();
  if (!stored) return store_failure(stored.error());
  // The active key first (it signs), then the rest newest first.
  std::stable_partition(stored->begin(), stored->end(),
                        [](const metadata::SigningKeyRecord& r) { return r.active; });
  std::vector<SigningKey> keys;
  for (const auto& record : *stored) {
    auto pem = key_.unseal(record.sealed_private_key);
    if (!pem) return AccessError{AccessErrc::store_error, "a signing key cannot be unsealed"};
    auto signing_key = SigningKey::from_private_pem(*pem);
    if (!signing_key) return AccessError{AccessErrc::store_error, signing_key.error().message};
    keys.push_back(std::move(*signing_key));
  }
  if (keys.empty()) return AccessError{AccessErrc::store_error, "no token signing key is stored"};
  auto ring = std::make_shared<const KeyRing>(std::move(keys));
  std::lock_guard lock(mutex_);
  ring_ = std::move(ring);
  loaded_at_ = std::chrono::steady_clock::now();
  return {};
}

AccessResult<std::string> SigningKeys::rotate() {
  auto generated = SigningKey::generate();
  if (!generated) return AccessError{AccessErrc::store_error, generated.error().message};
  metadata::SigningKeyRecord record{generated->kid(), key_.seal(generated->private_pem()),
                                    unix_now(), true};
  if (auto added = store_.add_signing_key(record); !added) return store_failure(added.error());
  // Keys past the newest kKeptKeys verify nothing any more: every token they signed has expired
  // by the time kKeptKeys rotations have happened (rotations are far apart compared with the
  // refresh token's lifetime).
  auto stored = store_.list_signing_keys();
  if (!stored) return store_failure(stored.error());
  for (std::size_t i = kKeptKeys; i < stored->size(); ++i) {
    if (auto removed = store_.delete_signing_key((*stored)[i].kid); !removed) {
      return store_failure(removed.error());
    }
  }
  if (auto loaded = reload(); !loaded) return loaded.error();
  return generated->kid();
}

// --- the authenticator ---

Authenticator::Authenticator(metadata::AccessStore& store, const DeploymentKey& key, SigningKeys& keys,
                             const AdminCredential& admin, TokenSettings settings, Clock clock)
    : store_(store),
      key_(key),
      keys_(keys),
      admin_(admin),
      settings_(settings),
      clock_(std::move(clock)) {}

AccessResult<Principal> Authenticator::verify_password(const RegistryRecord& registry,
                                                       std::string_view username,
                                                       std::string_view password) {
  if (username.empty() || password.empty()) return unauthenticated("empty username or password");
  if (username == kRefreshTokenUsername) return verify_refresh_password(registry, password);
  if (equal_ignoring_case(username, registry.name)) return verify_admin_user(registry, password);
  auto token = verify_registry_token(registry, username, password);
  if (!token) return token.error();
  if (*token) return **token;
  auto identity = verify_identity(username, password);
  if (!identity) return identity.error();
  if (*identity) return **identity;
  return unauthenticated("unknown username");
}

AccessResult<Principal> Authenticator::verify_identity_password(std::string_view id,
                                                                std::string_view password) {
  if (id.empty() || password.empty()) return unauthenticated("empty username or password");
  auto identity = verify_identity(id, password);
  if (!identity) return identity.error();
  if (!*identity) return unauthenticated("unknown username");
  return **identity;
}

AccessResult<Principal> Authenticator::verify_admin_user(const RegistryRecord& registry,
                                                         std::string_view password) {
  if (!registry.admin_user_enabled) return unauthenticated("the admin user is disabled");
  auto passwords = store_.admin_passwords(registry.id);
  if (!passwords) return store_failure(passwords.error());
  bool matched = false;
  for (const auto& stored : *passwords) {
    auto value = key_.unseal(stored.sealed_value);
    // Every password is compared, so the time does not tell which one matched.
    if (value && equal_constant_time(*value, password)) matched = true;
  }
  if (!matched) return unauthenticated("wrong password");
  return Principal{Principal::Kind::admin_user, registry.id, {}};
}

AccessResult<std::optional<Principal>> Authenticator::verify_registry_token(
    const RegistryRecord& registry, std::string_view username, std::string_view password) {
  auto token = store_.find_token(registry.id, username);
  if (!token) return store_failure(token.error());
  if (!*token) return std::optional<Principal>();
  const auto& record = **token;
  bool matched = false;
  bool matched_expired = false;
  for (const auto& stored : record.passwords) {
    if (!verify_secret(key_, password, stored.secret_hash)) continue;
    if (expired(stored.expiry, now())) {
      matched_expired = true;
    } else {
      matched = true;
    }
  }
  if (!matched) {
    return unauthenticated(matched_expired ? "the token's password has expired" : "wrong password");
  }
  if (!record.enabled) return unauthenticated("the token is disabled");
  return std::optional<Principal>(Principal{Principal::Kind::token, registry.id, record.name});
}

AccessResult<std::optional<Principal>> Authenticator::verify_identity(std::string_view id,
                                                                      std::string_view password) {
  auto identity = store_.find_identity(id);
  if (!identity) return store_failure(identity.error());
  if (!*identity) return std::optional<Principal>();
  const auto& record = **identity;
  if (record.kind == metadata::IdentityKind::federated || record.secret_hash.empty()) {
    return unauthenticated("the identity has no password");
  }
  if (!verify_secret(key_, password, record.secret_hash)) return unauthenticated("wrong password");
  if (!record.enabled) return unauthenticated("the identity is disabled");
  if (expired(record.expiry, now())) return unauthenticated("the identity has expired");
  return std::optional<Principal>(Principal{Principal::Kind::identity, 0, record.id});
}

AccessResult<Principal> Authenticator::verify_refresh_password(const RegistryRecord& registry,
                                                               std::string_view password) {
  auto claims = verify_token(password, TokenKind::refresh, registry, {});
  if (!claims) return claims.error();
  return principal_of(*claims, registry);
}

AccessResult<Grant> Authenticator::grant_for(const Principal& principal,
                                             const RegistryRecord& registry) {
  switch (principal.kind) {
    case Principal::Kind::deployment_admin:
      return everything(ManagementLevel::owner);
    case Principal::Kind::admin_user: {
      if (principal.registry != registry.id || !registry.admin_user_enabled) return Grant{};
      return everything(ManagementLevel::none);
    }
    case Principal::Kind::token:
      if (principal.registry != registry.id) return Grant{};
      return token_grant(registry, principal.name);
    case Principal::Kind::identity:
      return identity_grant(principal.name, registry);
    case Principal::Kind::run: {
      auto grant = run_grant(principal, registry);
      if (!grant) return grant.error();
      return grant->value_or(Grant{});
    }
    case Principal::Kind::anonymous: {
      Grant grant;
      if (registry.anonymous_pull_enabled) {
        grant.add("*", Permissions(Permission::pull) | Permission::metadata_read);
      }
      return grant;
    }
  }
  return Grant{};
}

AccessResult<std::optional<Grant>> Authenticator::run_grant(const Principal& principal,
                                                             const RegistryRecord& registry) {
  if (!run_grants_ || principal.registry != registry.id) return std::optional<Grant>();
  std::int64_t run = 0;
  const auto& name = principal.name;
  if (std::from_chars(name.data(), name.data() + name.size(), run).ec != std::errc{}) {
    return std::optional<Grant>();
  }
  return run_grants_(registry, run);
}

AccessResult<Authenticator::IssuedToken> Authenticator::issue_run_token(
    const RegistryRecord& registry, std::int64_t run, std::int64_t lifetime_seconds) {
  Principal principal{Principal::Kind::run, registry.id, std::to_string(run)};
  return issue(principal, registry, {}, TokenKind::refresh, {}, lifetime_seconds);
}

AccessResult<Grant> Authenticator::token_grant(const RegistryRecord& registry,
                                               std::string_view token_name) {
  auto token = store_.find_token(registry.id, token_name);
  if (!token) return store_failure(token.error());
  if (!*token || !(*token)->enabled) return Grant{};
  const std::string& map_name = (*token)->scope_map;
  if (auto system = system_scope_map_actions(map_name); !system.empty()) {
    return grant_of_scope_map(system);
  }
  auto map = store_.find_scope_map(registry.id, map_name);
  if (!map) return store_failure(map.error());
  if (!*map) return Grant{};
  return grant_of_scope_map(std::span<const std::string>((*map)->actions));
}

AccessResult<Grant> Authenticator::identity_grant(std::string_view identity_id,
                                                  const RegistryRecord& registry) {
  auto assignments = store_.list_role_assignments(registry.id, identity_id);
  if (!assignments) return store_failure(assignments.error());
  Grant grant;
  for (const auto& assignment : *assignments) {
    const Role* role = find_role(assignment.role);
    if (role == nullptr) continue;
    grant.add(assignment.repository.empty() ? "*" : assignment.repository, role->data);
    // Management roles count only when given on the whole registry.
    if (assignment.repository.empty() && role->management > grant.management) {
      grant.management = role->management;
    }
  }
  return grant;
}

AccessResult<TokenClaims> Authenticator::verify_token(std::string_view jwt, TokenKind kind,
                                                      const RegistryRecord& registry,
                                                      std::string_view service) {
  auto ring = keys_.ring();
  auto claims = verify_token_with_reload(ring, jwt);
  if (!claims) return unauthenticated(claims.error().message);
  if (claims->kind != kind) return unauthenticated("the token is of the wrong kind");
  if (claims->registry_id != registry.id) return unauthenticated("the token is for another registry");
  if (!service.empty() && claims->audience != service) {
    return unauthenticated("the token is for another service");
  }
  return *claims;
}

TokenResult<TokenClaims> Authenticator::verify_token_with_reload(
    std::shared_ptr<const KeyRing>& ring, std::string_view jwt) {
  auto claims = auth::verify_token(*ring, jwt, kTokenIssuer, now());
  if (claims || claims.error().code != TokenErrc::unknown_key) return claims;
  // Another node may have rotated the keys since this one loaded them.
  if (!keys_.reload()) return claims;
  ring = keys_.ring();
  return auth::verify_token(*ring, jwt, kTokenIssuer, now());
}

AccessResult<Principal> Authenticator::principal_of(const TokenClaims& claims,
                                                    const RegistryRecord& registry) {
  auto principal = principal_of_subject(claims.subject);
  if (!principal) return unauthenticated("the token names no known subject");
  switch (principal->kind) {
    case Principal::Kind::anonymous:
    case Principal::Kind::deployment_admin:
      return *principal;
    case Principal::Kind::admin_user:
      if (principal->registry != registry.id || !registry.admin_user_enabled) {
        return unauthenticated("the admin user is disabled");
      }
      return *principal;
    case Principal::Kind::token: {
      auto token = store_.find_token(registry.id, principal->name);
      if (!token) return store_failure(token.error());
      if (principal->registry != registry.id || !*token || !(*token)->enabled) {
        return unauthenticated("the token is disabled or gone");
      }
      return *principal;
    }
    case Principal::Kind::run: {
      auto grant = run_grant(*principal, registry);
      if (!grant) return grant.error();
      if (!*grant) return unauthenticated("the run has ended");
      return *principal;
    }
    case Principal::Kind::identity: {
      auto identity = store_.find_identity(principal->name);
      if (!identity) return store_failure(identity.error());
      if (!*identity || !(*identity)->enabled || expired((*identity)->expiry, now())) {
        return unauthenticated("the identity is disabled, expired or gone");
      }
      return *principal;
    }
  }
  return unauthenticated("the token names no known subject");
}

AccessResult<Authenticator::IssuedToken> Authenticator::issue_access_token(
    const Principal& principal, const RegistryRecord& registry, std::string_view service,
    const std::vector<Scope>& requested) {
  auto grant = grant_for(principal, registry);
  if (!grant) return grant.error();
  return issue(principal, registry, service, TokenKind::access,
               granted_scopes(*grant, requested), settings_.access_token_seconds);
}

AccessResult<Authenticator::IssuedToken> Authenticator::issue_refresh_token(
    const Principal& principal, const RegistryRecord& registry, std::string_view service) {
  return issue(principal, registry, service, TokenKind::refresh, {},
               settings_.refresh_token_seconds);
}

AccessResult<Authenticator::IssuedToken> Authenticator::issue(
    const Principal& principal, const RegistryRecord& registry, std::string_view service,
    TokenKind kind, std::vector<Scope> access, std::int64_t lifetime) {
  TokenClaims claims;
  claims.issuer = std::string(kTokenIssuer);
  claims.subject = subject_of(principal);
  claims.audience = std::string(service);
  claims.issued_at = now();
  claims.not_before = claims.issued_at;
  claims.expires_at = claims.issued_at + lifetime;
  claims.id = random_hex(16);
  claims.kind = kind;
  claims.registry_id = registry.id;
  claims.access = std::move(access);
  auto ring = keys_.fresh_ring();
  auto token = sign_token(*ring, claims);
  if (!token) return AccessError{AccessErrc::store_error, token.error().message};
  return IssuedToken{std::move(*token), lifetime, claims.issued_at, std::move(claims.access)};
}

AccessResult<Principal> Authenticator::verify_federated(std::string_view jwt) {
  auto issuer = unverified_issuer(jwt);
  if (!issuer) return unauthenticated("not a JWT with an issuer");
  auto candidates = store_.federated_identities(*issuer);
  if (!candidates) return store_failure(candidates.error());
  for (const auto& identity : *candidates) {
    if (!identity.enabled || expired(identity.expiry, now())) continue;
    auto document = jwks_.document(identity.jwks);
    if (!document) continue;
    auto keys = JwkSet::parse(*document);
    if (!keys) continue;
    auto claims = verify_external_token(*keys, jwt, identity.issuer, identity.audience, now());
    if (!claims) continue;
    auto subject = claims->find("sub");
    if (subject == claims->end() ||
        subject->second != boost::json::serialize(boost::json::string(identity.subject))) {
      continue;
    }
    if (!claims_match(*claims, identity.claims_json)) continue;
    return Principal{Principal::Kind::identity, 0, identity.id};
  }
  return unauthenticated("no federated identity trusts this token");
}

}  // namespace berth::auth
