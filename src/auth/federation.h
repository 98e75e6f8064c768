#pragma once
// Trusting JWTs from an external OIDC issuer (a CI system, a Kubernetes service account):
// its signing keys come from a JWKS document (RFC 7517), and a token is accepted when its
// signature verifies with the key its `kid` names and its iss, aud, exp/nbf are right.
// RS256 and ES256 are accepted; "none" and HMAC algorithms never are.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "auth/token_signer.h"
#include "common/result.h"

namespace berth::auth {

// The public keys of a JWKS document, by kid, as PEM.
class JwkSet {
 public:
  struct Key {
    std::string pem;        // the public key
    std::string algorithm;  // "RS256" or "ES256"
  };
  // Parses {"keys":[{"kty":"RSA","kid","n","e"} | {"kty":"EC","crv":"P-256","kid","x","y"}]};
  // keys of other types or curves are skipped; malformed when the document is not such JSON or
  // holds no usable key.
  static TokenResult<JwkSet> parse(std::string_view json);
  const Key* find(std::string_view kid) const;
  std::size_t size() const { return keys_.size(); }

 private:
  std::map<std::string, Key, std::less<>> keys_;
};

// Verifies an external token and returns its claims, every value as compact JSON text (a
// string claim keeps its quotes: {"sub": "\"repo:org/app\""}). Checks: the alg matches the
// key's type; the kid is in `keys`; the signature; iss == `issuer`; `audience` equals the aud
// string or is in the aud array; nbf - leeway <= now < exp (exp required).
TokenResult<std::map<std::string, std::string>> verify_external_token(
    const JwkSet& keys, std::string_view jwt, std::string_view issuer, std::string_view audience,
    std::int64_t now, std::int64_t leeway_seconds = 30);

}  // namespace berth::auth
