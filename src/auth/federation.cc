#include "auth/federation.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cmath>
#include <optional>

#include "auth/encoding.h"
#include "auth/jwt_support.h"

namespace berth::auth {
namespace {

namespace json = boost::json;
using detail::EvpPkeyPtr;
using detail::token_error;

// A JWKS holds a handful of keys; a bigger document is not one.
constexpr std::size_t kMaxJwksSize = 1024 * 1024;
// Below 2048 bits RSA is breakable; above 8192 bits verification gets slow enough to be a
// denial of service, and no issuer uses such keys.
constexpr int kMinRsaBits = 2048;
constexpr int kMaxRsaBits = 8192;
constexpr std::size_t kMaxRsaExponentBytes = 8;
constexpr std::size_t kP256CoordinateBytes = 32;

struct BignumFree {
  void operator()(BIGNUM* number) const { BN_free(number); }
};
struct ParamBuildFree {
  void operator()(OSSL_PARAM_BLD* build) const { OSSL_PARAM_BLD_free(build); }
};
struct ParamFree {
  void operator()(OSSL_PARAM* params) const { OSSL_PARAM_free(params); }
};
struct PkeyContextFree {
  void operator()(EVP_PKEY_CTX* context) const { EVP_PKEY_CTX_free(context); }
};
using BignumPtr = std::unique_ptr<BIGNUM, BignumFree>;
using ParamBuildPtr = std::unique_ptr<OSSL_PARAM_BLD, ParamBuildFree>;
using ParamPtr = std::unique_ptr<OSSL_PARAM, ParamFree>;
using PkeyContextPtr = std::unique_ptr<EVP_PKEY_CTX, PkeyContextFree>;

TokenError malformed_jwks(std::string message) {
  ERR_clear_error();
  return token_error(TokenErrc::malformed, std::move(message));
}

// What a JWK member holds: absent, not a string, or the string.
enum class Member { absent, not_string, present };
Member string_member(const json::object& jwk, std::string_view name, std::string_view* out) {
  const json::value* value = jwk.if_contains(name);
  if (value == nullptr) return Member::absent;
  if (!value->is_string()) return Member::not_string;
  *out = value->get_string();
  return Member::present;
}

std::optional<std::string> base64url_member(const json::object& jwk, std::string_view name) {
  std::string_view text;
  if (string_member(jwk, name, &text) != Member::present) return std::nullopt;
  return detail::base64url_decode(text);
}

// A public key from its parameters, checked by OpenSSL (the EC point is on the curve; the RSA
// modulus is odd and the exponent sane).
EvpPkeyPtr public_key_from(const char* type, OSSL_PARAM_BLD* build) {
  ParamPtr params(OSSL_PARAM_BLD_to_param(build));
  PkeyContextPtr context(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  if (!params || !context || EVP_PKEY_fromdata_init(context.get()) != 1) return nullptr;
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_fromdata(context.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    return nullptr;
  }
  EvpPkeyPtr key(raw);
  PkeyContextPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) return nullptr;
  return key;
}

BignumPtr bignum(const std::string& bytes) {
  return BignumPtr(BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes.data()),
                             static_cast<int>(bytes.size()), nullptr));
}

// nullopt for a key too weak or too large to use; malformed for one that is not an RSA key.
TokenResult<std::optional<std::string>> rsa_pem(const json::object& jwk) {
  auto n = base64url_member(jwk, "n");
  auto e = base64url_member(jwk, "e");
  if (!n || !e || n->empty() || e->empty() || e->size() > kMaxRsaExponentBytes ||
      n->size() > static_cast<std::size_t>(kMaxRsaBits) / 8 + 1) {
    return malformed_jwks("an RSA key's n or e is missing or not base64url");
  }
  BignumPtr modulus = bignum(*n);
  BignumPtr exponent = bignum(*e);
  if (!modulus || !exponent) return malformed_jwks("cannot read an RSA key");
  int bits = BN_num_bits(modulus.get());
  if (bits < kMinRsaBits || bits > kMaxRsaBits) return std::optional<std::string>();
  ParamBuildPtr build(OSSL_PARAM_BLD_new());
  if (!build || OSSL_PARAM_BLD_push_BN(build.get(), OSSL_PKEY_PARAM_RSA_N, modulus.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(build.get(), OSSL_PKEY_PARAM_RSA_E, exponent.get()) != 1) {
    return malformed_jwks("cannot read an RSA key");
  }
  EvpPkeyPtr key = public_key_from("RSA", build.get());
  if (!key) return malformed_jwks("an RSA key is not a valid public key");
  auto pem = detail::public_key_pem(key.get());
  if (!pem) return malformed_jwks("cannot encode an RSA key");
  return std::optional<std::string>(std::move(*pem));
}

TokenResult<std::string> p256_pem(const json::object& jwk) {
  auto x = base64url_member(jwk, "x");
  auto y = base64url_member(jwk, "y");
  if (!x || !y || x->size() != kP256CoordinateBytes || y->size() != kP256CoordinateBytes) {
    return malformed_jwks("a P-256 key's x or y is missing or not 32 bytes of base64url");
  }
  // The uncompressed point: 0x04 || x || y.
  std::string point(1, '\x04');
  point += *x;
  point += *y;
  ParamBuildPtr build(OSSL_PARAM_BLD_new());
  if (!build ||
      OSSL_PARAM_BLD_push_utf8_string(build.get(), OSSL_PKEY_PARAM_GROUP_NAME, SN_X9_62_prime256v1,
                                      0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(build.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size()) != 1) {
    return malformed_jwks("cannot read a P-256 key");
  }
  EvpPkeyPtr key = public_key_from("EC", build.get());
  if (!key) return malformed_jwks("a P-256 key is not a point on the curve");
  auto pem = detail::public_key_pem(key.get());
  if (!pem) return malformed_jwks("cannot encode a P-256 key");
  return std::move(*pem);
}

// The key a JWK describes; nullopt for a key this verifier skips (another type, curve or
// use, an algorithm other than the one its type allows, no kid, an unusable RSA size).
TokenResult<std::optional<std::pair<std::string, JwkSet::Key>>> key_from_jwk(
    const json::value& value) {
  using Parsed = std::optional<std::pair<std::string, JwkSet::Key>>;
  const json::object* jwk = value.if_object();
  if (jwk == nullptr) return malformed_jwks("a key of the JWKS is not a JSON object");
  std::string_view type, kid, use, algorithm, curve;
  if (string_member(*jwk, "kty", &type) != Member::present) {
    return malformed_jwks("a key of the JWKS has no kty");
  }
  Member use_member = string_member(*jwk, "use", &use);
  Member algorithm_member = string_member(*jwk, "alg", &algorithm);
  if (string_member(*jwk, "kid", &kid) != Member::present || kid.empty()) return Parsed();
  if (use_member == Member::not_string || algorithm_member == Member::not_string) {
    return malformed_jwks("a key's use or alg is not a string");
  }
  if (use_member == Member::present && use != "sig") return Parsed();

  if (type == "RSA") {
    if (algorithm_member == Member::present && algorithm != "RS256") return Parsed();
    auto pem = rsa_pem(*jwk);
    if (!pem) return pem.error();
    if (!*pem) return Parsed();
    return Parsed({std::string(kid), JwkSet::Key{std::move(**pem), "RS256"}});
  }
  if (type == "EC") {
    if (string_member(*jwk, "crv", &curve) != Member::present || curve != "P-256") {
      return Parsed();
    }
    if (algorithm_member == Member::present && algorithm != "ES256") return Parsed();
    auto pem = p256_pem(*jwk);
    if (!pem) return pem.error();
    return Parsed({std::string(kid), JwkSet::Key{std::move(*pem), "ES256"}});
  }
  return Parsed();
}

// A NumericDate: seconds since the epoch, an integer or (RFC 7519 allows it) a fraction.
TokenResult<std::optional<std::int64_t>> time_claim(const json::object& payload,
                                                    std::string_view name, bool required) {
  const json::value* value = payload.if_contains(name);
  std::string message = "the token's ";
  message += name;
  message += " claim is missing or not a time";
  if (value == nullptr) {
    if (required) return token_error(TokenErrc::malformed, std::move(message));
    return std::optional<std::int64_t>();
  }
  if (value->is_int64()) return std::optional<std::int64_t>(value->get_int64());
  if (value->is_double()) {
    double seconds = std::floor(value->get_double());
    // 2^63 as a double; every finite double below it converts exactly.
    if (std::isfinite(seconds) && seconds >= -9223372036854775808.0 &&
        seconds < 9223372036854775808.0) {
      return std::optional<std::int64_t>(static_cast<std::int64_t>(seconds));
    }
  }
  return token_error(TokenErrc::malformed, std::move(message));
}

bool audience_matches(const json::value* aud, std::string_view audience) {
  if (aud == nullptr) return false;
  if (aud->is_string()) return aud->get_string() == audience;
  if (!aud->is_array()) return false;
  for (const json::value& item : aud->get_array()) {
    if (item.is_string() && item.get_string() == audience) return true;
  }
  return false;
}

std::optional<jwt_alg_t> accepted_algorithm(std::string_view name) {
  if (name == "RS256") return JWT_ALG_RS256;
  if (name == "ES256") return JWT_ALG_ES256;
  return std::nullopt;
}

}  // namespace

TokenResult<JwkSet> JwkSet::parse(std::string_view text) {
  if (text.size() > kMaxJwksSize) return malformed_jwks("the JWKS is larger than 1 MiB");
  boost::system::error_code ec;
  json::value document = json::parse(text, ec);
  const json::object* object = ec ? nullptr : document.if_object();
  const json::value* keys = object == nullptr ? nullptr : object->if_contains("keys");
  if (keys == nullptr || !keys->is_array()) {
    return malformed_jwks("the JWKS is not a JSON object with a keys array");
  }
  JwkSet set;
  for (const json::value& item : keys->get_array()) {
    auto key = key_from_jwk(item);
    if (!key) return key.error();
    if (!*key) continue;
    auto [kid, parsed] = std::move(**key);
    if (!set.keys_.emplace(std::move(kid), std::move(parsed)).second) {
      return malformed_jwks("two keys of the JWKS have one kid");
    }
  }
  if (set.keys_.empty()) return malformed_jwks("the JWKS holds no RS256 or ES256 signing key");
  return set;
}

const JwkSet::Key* JwkSet::find(std::string_view kid) const {
  auto found = keys_.find(kid);
  return found == keys_.end() ? nullptr : &found->second;
}

TokenResult<std::map<std::string, std::string>> verify_external_token(
    const JwkSet& keys, std::string_view jwt, std::string_view issuer, std::string_view audience,
    std::int64_t now, std::int64_t leeway_seconds) {
  auto decoded = detail::decode_unverified(jwt);
  if (!decoded) return decoded.error();
  // Decided from the header before libjwt sees the token, and against the key's own type:
  // never "none", never HMAC, never RS256 with an EC key or the reverse.
  auto algorithm = accepted_algorithm(decoded->algorithm);
  if (!algorithm) {
    return token_error(TokenErrc::wrong_algorithm, "the token is not signed with RS256 or ES256");
  }
  if (!decoded->kid) return token_error(TokenErrc::unknown_key, "the token names no key");
  const JwkSet::Key* key = keys.find(*decoded->kid);
  if (key == nullptr) return token_error(TokenErrc::unknown_key, "the token's key is unknown");
  if (key->algorithm != decoded->algorithm) {
    return token_error(TokenErrc::wrong_algorithm, "the token's algorithm is not its key's");
  }
  if (auto verified = detail::verify_signature(jwt, key->pem, *algorithm); !verified) {
    return verified.error();
  }

  const json::object& payload = decoded->payload;
  const json::value* iss = payload.if_contains("iss");
  if (iss == nullptr || !iss->is_string() || iss->get_string() != issuer) {
    return token_error(TokenErrc::wrong_issuer, "the token is from another issuer");
  }
  // TokenErrc has no audience code: a token meant for another service is, to this one, a
  // token from an issuer it does not trust for this purpose.
  if (!audience_matches(payload.if_contains("aud"), audience)) {
    return token_error(TokenErrc::wrong_issuer, "the token is for another audience");
  }
  auto not_before = time_claim(payload, "nbf", false);
  if (!not_before) return not_before.error();
  auto expires_at = time_claim(payload, "exp", true);
  if (!expires_at) return expires_at.error();
  if (auto window = detail::check_time_window(*not_before, *expires_at, now, leeway_seconds);
      !window) {
    return window.error();
  }

  std::map<std::string, std::string> claims;
  for (const auto& [name, value] : payload) {
    claims.emplace(std::string(name), json::serialize(value));
  }
  return claims;
}

}  // namespace berth::auth
