#pragma once
// Who is calling, and what may they do: verifies credentials (Basic passwords of admin users,
// tokens and identities; the administrator token; the token service's JWTs; federated
// identities' external JWTs), computes a principal's grant in a registry from the store, and
// issues the token service's access and refresh tokens.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/access.h"
#include "auth/admin_credential.h"
#include "auth/credentials.h"
#include "auth/jwks_source.h"
#include "auth/secrets.h"
#include "auth/token_signer.h"
#include "common/result.h"
#include "metadata/access_store.h"
#include "metadata/metadata_store.h"

namespace berth::auth {

enum class AccessErrc {
  unauthenticated,  // wrong, unknown, disabled or expired credentials: 401
  store_error,      // the store failed: 500
};
using AccessError = Error<AccessErrc>;
template <class T>
using AccessResult = berth::Result<T, AccessError>;

// The username a refresh token is presented with as a password (as `docker login` stores the
// hosted service's tokens).
inline constexpr std::string_view kRefreshTokenUsername = "00000000-0000-0000-0000-000000000000";
inline constexpr std::string_view kTokenIssuer = "berth";

struct TokenSettings {
  std::int64_t access_token_seconds = 300;
  std::int64_t refresh_token_seconds = 3 * 3600;
};

// The token service's signing keys, kept in the access store (sealed with the deployment key)
// so every node of a deployment signs and verifies with the same ring.
class SigningKeys {
 public:
  // Loads the keys, creating the first one when the store has none.
  static AccessResult<std::unique_ptr<SigningKeys>> open(metadata::AccessStore& store,
                                                         const DeploymentKey& key);
  std::shared_ptr<const KeyRing> ring() const;
  // ring(), read again first when it was loaded kReloadEvery ago or more (what signs).
  std::shared_ptr<const KeyRing> fresh_ring();
  static constexpr std::chrono::seconds kReloadEvery{60};
  // Makes a new signing key; older keys keep verifying until pruned (the newest kKeptKeys
  // stay). Returns the new kid.
  AccessResult<std::string> rotate();
  // Reads the ring again (another node may have rotated).
  AccessResult<void> reload();

  static constexpr std::size_t kKeptKeys = 3;

 private:
  SigningKeys(metadata::AccessStore& store, const DeploymentKey& key) : store_(store), key_(key) {}
  metadata::AccessStore& store_;
  const DeploymentKey& key_;
  mutable std::mutex mutex_;
  std::shared_ptr<const KeyRing> ring_;  // guarded by mutex_
  std::chrono::steady_clock::time_point loaded_at_;  // guarded by mutex_
};

// What an authenticated request carries.
struct Caller {
  Principal principal;
  Grant grant;  // in the request's registry
  // From a JWT: the grant is only what the token's access claim holds; the principal may have
  // more (the client asks the token service for it after a 401 challenge).
  bool from_token = false;
  bool catalog = false;  // may list the catalog (filtered by the grant)
};

class Authenticator {
 public:
  using Clock = std::function<std::int64_t()>;  // Unix seconds
  // What a build run may do in its registry while it runs; nullopt once it has ended, which
  // makes its tokens worthless at once (tasks/ answers it from the run's record).
  using RunGrantSource =
      std::function<AccessResult<std::optional<Grant>>(const metadata::RegistryRecord&,
                                                       std::int64_t run)>;

  // Everything must outlive the authenticator.
  Authenticator(metadata::AccessStore& store,
                const DeploymentKey& key, SigningKeys& keys, const AdminCredential& admin,
                TokenSettings settings, Clock clock);

  // Basic credentials presented to `registry`: the admin user (username = the registry's
  // name), a token of the registry, a deployment identity (username = its id), or a refresh
  // token (username kRefreshTokenUsername).
  AccessResult<Principal> verify_password(const metadata::RegistryRecord& registry,
                                          std::string_view username, std::string_view password);
  // A deployment identity's own password (username = its id), e.g. for the management API.
  AccessResult<Principal> verify_identity_password(std::string_view id, std::string_view password);
  // The administrator token.
  bool is_admin_token(std::string_view token) const { return admin_.verify(token); }

  // What `principal` may do in `registry` (reads the store).
  AccessResult<Grant> grant_for(const Principal& principal,
                                const metadata::RegistryRecord& registry);

  // A token of the token service, checked against the registry and service it is used for.
  AccessResult<TokenClaims> verify_token(std::string_view jwt, TokenKind kind,
                                         const metadata::RegistryRecord& registry,
                                         std::string_view service);
  // The principal a verified token names, still existing and enabled.
  AccessResult<Principal> principal_of(const TokenClaims& claims,
                                       const metadata::RegistryRecord& registry);

  struct IssuedToken {
    std::string token;
    std::int64_t expires_in = 0;
    std::int64_t issued_at = 0;
    std::vector<Scope> access;
  };
  AccessResult<IssuedToken> issue_access_token(const Principal& principal,
                                               const metadata::RegistryRecord& registry,
                                               std::string_view service,
                                               const std::vector<Scope>& requested);
  AccessResult<IssuedToken> issue_refresh_token(const Principal& principal,
                                                const metadata::RegistryRecord& registry,
                                                std::string_view service);

  // Where run principals get their grants; set once at start-up, before requests arrive.
  // Without it a run principal may do nothing.
  void set_run_grants(RunGrantSource source) { run_grants_ = std::move(source); }
  // A refresh token for build run `run` of `registry`, presented as a password with
  // kRefreshTokenUsername: the run's steps log in with it. It lives `lifetime_seconds` at most,
  // and no longer than the run.
  AccessResult<IssuedToken> issue_run_token(const metadata::RegistryRecord& registry,
                                            std::int64_t run, std::int64_t lifetime_seconds);

  // A federated identity's external JWT: the identity whose issuer, audience, subject and
  // claims match, with a valid signature from the issuer's JWKS.
  AccessResult<Principal> verify_federated(std::string_view jwt);

  std::int64_t now() const { return clock_(); }
  const TokenSettings& settings() const { return settings_; }

 private:
  AccessResult<Principal> verify_admin_user(const metadata::RegistryRecord& registry,
                                            std::string_view password);
  AccessResult<std::optional<Principal>> verify_registry_token(
      const metadata::RegistryRecord& registry, std::string_view username,
      std::string_view password);
  AccessResult<std::optional<Principal>> verify_identity(std::string_view id,
                                                         std::string_view password);
  AccessResult<Principal> verify_refresh_password(const metadata::RegistryRecord& registry,
                                                  std::string_view password);
  AccessResult<std::optional<Grant>> run_grant(const Principal& principal,
                                              const metadata::RegistryRecord& registry);
  AccessResult<Grant> token_grant(const metadata::RegistryRecord& registry,
                                  std::string_view token_name);
  AccessResult<Grant> identity_grant(std::string_view identity_id,
                                     const metadata::RegistryRecord& registry);
  // verify_token() with `ring`, reloading the ring once when the kid is unknown.
  TokenResult<TokenClaims> verify_token_with_reload(std::shared_ptr<const KeyRing>& ring,
                                                    std::string_view jwt);
  AccessResult<IssuedToken> issue(const Principal& principal,
                                  const metadata::RegistryRecord& registry,
                                  std::string_view service, TokenKind kind,
                                  std::vector<Scope> access, std::int64_t lifetime);

  metadata::AccessStore& store_;
  const DeploymentKey& key_;
  SigningKeys& keys_;
  const AdminCredential& admin_;
  TokenSettings settings_;
  Clock clock_;
  JwksSource jwks_;
  RunGrantSource run_grants_;
};

}  // namespace berth::auth
