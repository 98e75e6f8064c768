#pragma once
// Internal to auth/: what the token service (token_signer.cc) and federation (federation.cc)
// share: owners for libjwt and OpenSSL objects, the unverified first look at a JWT, the
// signature check through libjwt, and the time-window check.

#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/evp.h>

#include <boost/json/object.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "auth/token_signer.h"

namespace berth::auth::detail {

struct JwtFree {
  void operator()(jwt_t* jwt) const { jwt_free(jwt); }
};
struct EvpPkeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct BioFree {
  void operator()(BIO* bio) const { BIO_free_all(bio); }
};
// Strings libjwt allocates with malloc().
struct MallocFree {
  void operator()(char* text) const;
};
using JwtPtr = std::unique_ptr<jwt_t, JwtFree>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, EvpPkeyFree>;
using BioPtr = std::unique_ptr<BIO, BioFree>;
using MallocString = std::unique_ptr<char, MallocFree>;

// JWTs longer than this are refused before any decoding.
inline constexpr std::size_t kMaxTokenSize = 16 * 1024;

// A JWT's header and payload, decoded but NOT verified: only for choosing the key and the
// algorithm, and for reading claims after verify_signature() succeeded on the same text.
struct UnverifiedJwt {
  boost::json::object header;
  boost::json::object payload;
  std::string algorithm;           // the header's alg; empty when absent
  std::optional<std::string> kid;  // the header's kid
};

// Three base64url parts (unpadded, canonical), a header and a payload that are JSON objects,
// an alg and kid that are strings when present. malformed otherwise.
TokenResult<UnverifiedJwt> decode_unverified(std::string_view jwt);

// The signature of `jwt` checked by libjwt with `public_pem`; bad_signature when it does not
// verify, wrong_algorithm when libjwt saw another algorithm than `expected`.
TokenResult<void> verify_signature(std::string_view jwt, std::string_view public_pem,
                                   jwt_alg_t expected);

// not_yet_valid when now < nbf - leeway, expired when now >= exp; no overflow for any values.
TokenResult<void> check_time_window(std::optional<std::int64_t> not_before,
                                    std::optional<std::int64_t> expires_at, std::int64_t now,
                                    std::int64_t leeway_seconds);

// A public key in PEM (SubjectPublicKeyInfo).
std::optional<std::string> public_key_pem(EVP_PKEY* key);

TokenError token_error(TokenErrc code, std::string message);

}  // namespace berth::auth::detail
