#pragma once
// The token service's JWTs: ES256 (ECDSA P-256 + SHA-256) through libjwt, with a `kid` header
// so keys can rotate without logging anyone out: one key signs, every key in the ring
// verifies until it is pruned.
//
// Claims: iss, sub, aud, iat, nbf, exp, jti, and berth's own:
//   "typ": "access" | "refresh"
//   "rid": the registry id the token is for (a number)
//   "access": [{"type": "repository", "name": "samples/hello", "actions": ["pull", "push"]}]
//   (only in access tokens; the hosted service's shape).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/credentials.h"
#include "common/result.h"

namespace berth::auth {

enum class TokenErrc {
  malformed,          // not a JWT, or bad base64/JSON, or a claim of the wrong type
  bad_signature,      // the signature does not verify with the kid's key
  unknown_key,        // no `kid`, or a kid the ring does not hold
  wrong_algorithm,    // alg is not ES256 (e.g. "none", "HS256")
  expired,            // now >= exp
  not_yet_valid,      // now < nbf (beyond the leeway)
  wrong_issuer,
  key_error,          // a key could not be made or read
};
using TokenError = Error<TokenErrc>;
template <class T>
using TokenResult = berth::Result<T, TokenError>;

enum class TokenKind { access, refresh };

struct TokenClaims {
  std::string issuer;
  std::string subject;   // who: see api's principal subjects ("token:<name>", ...)
  std::string audience;  // the service (login server) the token is for
  std::int64_t issued_at = 0;
  std::int64_t not_before = 0;
  std::int64_t expires_at = 0;
  std::string id;  // jti, random
  TokenKind kind = TokenKind::access;
  std::int64_t registry_id = 0;
  std::vector<Scope> access;  // granted scopes (access tokens)
};

// An ES256 key pair.
class SigningKey {
 public:
  // A new P-256 key (OpenSSL).
  static TokenResult<SigningKey> generate();
  // From a PKCS#8 PEM private key (as private_pem() writes); key_error when it is not a P-256
  // private key.
  static TokenResult<SigningKey> from_private_pem(std::string_view pem);

  // Base64url (unpadded) of the first 16 bytes of SHA-256 over the public key's DER form.
  const std::string& kid() const { return kid_; }
  const std::string& private_pem() const { return private_pem_; }
  const std::string& public_pem() const { return public_pem_; }

 private:
  SigningKey(std::string kid, std::string private_pem, std::string public_pem)
      : kid_(std::move(kid)), private_pem_(std::move(private_pem)),
        public_pem_(std::move(public_pem)) {}
  std::string kid_;
  std::string private_pem_;
  std::string public_pem_;
};

// The keys that verify, and the one that signs. Immutable once built; swap a whole ring to
// rotate (callers hold it by shared_ptr).
class KeyRing {
 public:
  // `keys` must not be empty; `keys[0]` signs.
  explicit KeyRing(std::vector<SigningKey> keys);
  const SigningKey& signing_key() const { return keys_.front(); }
  const SigningKey* find(std::string_view kid) const;
  const std::vector<SigningKey>& keys() const { return keys_; }

 private:
  std::vector<SigningKey> keys_;
};

// The compact JWT of `claims`, signed by ring.signing_key() with its kid in the header.
TokenResult<std::string> sign_token(const KeyRing& ring, const TokenClaims& claims);

// Checks, in this order: three base64url parts and JSON; alg == "ES256" (nothing else is
// accepted, whatever the key); a kid the ring holds; the signature; iss == `issuer`;
// nbf - leeway <= now < exp. Returns the claims. The audience and registry are the caller's to
// compare. Tokens over 16 KiB are malformed.
TokenResult<TokenClaims> verify_token(const KeyRing& ring, std::string_view jwt,
                                      std::string_view issuer, std::int64_t now,
                                      std::int64_t leeway_seconds = 30);

}  // namespace berth::auth
