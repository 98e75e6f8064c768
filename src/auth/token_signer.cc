#include "auth/token_signer.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <array>
#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>
#include <climits>
#include <cstring>
#include <stdexcept>

#include "auth/encoding.h"
#include "auth/jwt_support.h"

namespace berth::auth {
namespace {

namespace json = boost::json;
using detail::BioPtr;
using detail::EvpPkeyPtr;
using detail::JwtPtr;
using detail::MallocString;
using detail::token_error;

constexpr std::string_view kAlgorithm = "ES256";
constexpr std::size_t kKidHashBytes = 16;

TokenError key_error(std::string message) {
  ERR_clear_error();
  return token_error(TokenErrc::key_error, std::move(message));
}

// An encrypted PEM would make OpenSSL ask for a passphrase on the terminal; there is none.
int no_passphrase(char*, int, int, void*) { return -1; }

std::optional<std::string> private_key_pem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  // PEM_write_bio_PrivateKey writes PKCS#8 ("BEGIN PRIVATE KEY") in OpenSSL 3.
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return std::nullopt;
  }
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);
  if (size <= 0) return std::nullopt;
  return std::string(data, static_cast<std::size_t>(size));
}

// Base64url of the first 16 bytes of SHA-256 over the DER SubjectPublicKeyInfo.
std::optional<std::string> key_id(EVP_PKEY* key) {
  int size = i2d_PUBKEY(key, nullptr);
  if (size <= 0) return std::nullopt;
  std::string der(static_cast<std::size_t>(size), '\0');
  auto* out = reinterpret_cast<unsigned char*>(der.data());
  if (i2d_PUBKEY(key, &out) != size) return std::nullopt;
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int digest_size = 0;
  if (EVP_Digest(der.data(), der.size(), digest.data(), &digest_size, EVP_sha256(), nullptr) != 1) {
    return std::nullopt;
  }
  return detail::base64url_encode(
      std::string_view(reinterpret_cast<const char*>(digest.data()), kKidHashBytes));
}

bool is_p256(EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "EC") != 1) return false;
  std::array<char, 64> group{};
  std::size_t length = 0;
  if (EVP_PKEY_get_group_name(key, group.data(), group.size(), &length) != 1) return false;
  return std::string_view(group.data(), length) == SN_X9_62_prime256v1;
}

bool is_action_character(char c) { return (c >= 'a' && c <= 'z') || c == '_' || c == '*'; }

// --- Claims out -----------------------------------------------------------------------------

json::array access_claim(const std::vector<Scope>& access) {
  json::array scopes;
  for (const Scope& scope : access) {
    json::array actions;
    for (const std::string& action : scope.actions) actions.emplace_back(action);
    scopes.emplace_back(
        json::object{{"type", scope.type}, {"name", scope.name}, {"actions", std::move(actions)}});
  }
  return scopes;
}

std::string claims_json(const TokenClaims& claims) {
  json::object object{
      {"iss", claims.issuer},      {"sub", claims.subject},
      {"aud", claims.audience},    {"iat", claims.issued_at},
      {"nbf", claims.not_before},  {"exp", claims.expires_at},
      {"jti", claims.id},          {"typ", claims.kind == TokenKind::access ? "access" : "refresh"},
      {"rid", claims.registry_id},
  };
  if (claims.kind == TokenKind::access) object["access"] = access_claim(claims.access);
  return json::serialize(object);
}

// --- Claims in ------------------------------------------------------------------------------

TokenError bad_claim(std::string_view name) {
  std::string message = "the token's ";
  message += name;
  message += " claim is missing or of the wrong type";
  return token_error(TokenErrc::malformed, std::move(message));
}

TokenResult<std::string> string_claim(const json::object& payload, std::string_view name) {
  const json::value* value = payload.if_contains(name);
  if (value == nullptr || !value->is_string()) return bad_claim(name);
  return std::string(value->get_string());
}

// This service writes integers; a fraction or a number beyond 64 bits is not its token.
TokenResult<std::int64_t> integer_claim(const json::object& payload, std::string_view name) {
  const json::value* value = payload.if_contains(name);
  if (value == nullptr || !value->is_int64()) return bad_claim(name);
  return value->get_int64();
}

std::optional<Scope> scope_from_json(const json::value& value) {
  const json::object* object = value.if_object();
  if (object == nullptr) return std::nullopt;
  const json::value* type = object->if_contains("type");
  const json::value* name = object->if_contains("name");
  const json::value* actions = object->if_contains("actions");
  if (type == nullptr || !type->is_string() || name == nullptr || !name->is_string() ||
      actions == nullptr || !actions->is_array()) {
    return std::nullopt;
  }
  Scope scope{std::string(type->get_string()), std::string(name->get_string()), {}};
  // An empty list is a valid grant of nothing; each action must still be an action word.
  for (const json::value& action : actions->get_array()) {
    if (!action.is_string() || action.get_string().empty()) return std::nullopt;
    for (char c : action.get_string()) {
      if (!is_action_character(c)) return std::nullopt;
    }
    scope.actions.emplace_back(action.get_string());
  }
  return scope;
}

TokenResult<std::vector<Scope>> access_from_json(const json::object& payload) {
  std::vector<Scope> access;
  const json::value* value = payload.if_contains("access");
  if (value == nullptr) return access;
  if (!value->is_array()) return bad_claim("access");
  for (const json::value& item : value->get_array()) {
    auto scope = scope_from_json(item);
    if (!scope) return bad_claim("access");
    access.push_back(std::move(*scope));
  }
  return access;
}

TokenResult<TokenClaims> claims_from_json(const json::object& payload) {
  TokenClaims claims;
  auto issuer = string_claim(payload, "iss");
  if (!issuer) return issuer.error();
  auto subject = string_claim(payload, "sub");
  if (!subject) return subject.error();
  auto audience = string_claim(payload, "aud");
  if (!audience) return audience.error();
  auto id = string_claim(payload, "jti");
  if (!id) return id.error();
  auto kind = string_claim(payload, "typ");
  if (!kind) return kind.error();
  auto issued_at = integer_claim(payload, "iat");
  if (!issued_at) return issued_at.error();
  auto not_before = integer_claim(payload, "nbf");
  if (!not_before) return not_before.error();
  auto expires_at = integer_claim(payload, "exp");
  if (!expires_at) return expires_at.error();
  auto registry_id = integer_claim(payload, "rid");
  if (!registry_id) return registry_id.error();
  auto access = access_from_json(payload);
  if (!access) return access.error();
  if (*kind == "access") {
    claims.kind = TokenKind::access;
  } else if (*kind == "refresh") {
    claims.kind = TokenKind::refresh;
  } else {
    return bad_claim("typ");
  }
  claims.issuer = std::move(*issuer);
  claims.subject = std::move(*subject);
  claims.audience = std::move(*audience);
  claims.id = std::move(*id);
  claims.issued_at = *issued_at;
  claims.not_before = *not_before;
  claims.expires_at = *expires_at;
  claims.registry_id = *registry_id;
  claims.access = std::move(*access);
  return claims;
}

}  // namespace

TokenResult<SigningKey> SigningKey::generate() {
  EvpPkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return key_error("cannot generate a P-256 key");
  auto pem = private_key_pem(key.get());
  if (!pem) return key_error("cannot encode the new P-256 key");
  return from_private_pem(*pem);
}

TokenResult<SigningKey> SigningKey::from_private_pem(std::string_view pem) {
  if (pem.size() > INT_MAX) return key_error("the signing key is not a P-256 private key");
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return key_error("cannot read the signing key");
  EvpPkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr));
  if (!key || !is_p256(key.get())) return key_error("the signing key is not a P-256 private key");
  auto private_pem = private_key_pem(key.get());
  auto public_pem = detail::public_key_pem(key.get());
  auto kid = key_id(key.get());
  if (!private_pem || !public_pem || !kid) return key_error("cannot encode the signing key");
  return SigningKey(std::move(*kid), std::move(*private_pem), std::move(*public_pem));
}

KeyRing::KeyRing(std::vector<SigningKey> keys) : keys_(std::move(keys)) {
  // signing_key() has nothing to return for an empty ring: a programming error.
  if (keys_.empty()) throw std::invalid_argument("a key ring needs at least one key");
}

const SigningKey* KeyRing::find(std::string_view kid) const {
  for (const SigningKey& key : keys_) {
    if (key.kid() == kid) return &key;
  }
  return nullptr;
}

TokenResult<std::string> sign_token(const KeyRing& ring, const TokenClaims& claims) {
  const SigningKey& key = ring.signing_key();
  jwt_t* raw = nullptr;
  if (jwt_new(&raw) != 0) return key_error("cannot create a JWT");
  JwtPtr jwt(raw);
  std::string claims_text = claims_json(claims);
  if (jwt_set_alg(jwt.get(), JWT_ALG_ES256,
                  reinterpret_cast<const unsigned char*>(key.private_pem().data()),
                  static_cast<int>(key.private_pem().size())) != 0 ||
      jwt_add_header(jwt.get(), "kid", key.kid().c_str()) != 0 ||
      jwt_add_grants_json(jwt.get(), claims_text.c_str()) != 0) {
    return key_error("cannot build the JWT");
  }
  MallocString encoded(jwt_encode_str(jwt.get()));
  ERR_clear_error();
  if (!encoded) return key_error("cannot sign the JWT");
  return std::string(encoded.get());
}

TokenResult<TokenClaims> verify_token(const KeyRing& ring, std::string_view jwt,
                                      std::string_view issuer, std::int64_t now,
                                      std::int64_t leeway_seconds) {
  auto decoded = detail::decode_unverified(jwt);
  if (!decoded) return decoded.error();
  // Decided from the header before libjwt sees the token: libjwt would otherwise pick the
  // algorithm the token names ("none", or HS256 keyed with the public key's PEM).
  if (decoded->algorithm != kAlgorithm) {
    return token_error(TokenErrc::wrong_algorithm, "the token is not signed with ES256");
  }
  if (!decoded->kid) return token_error(TokenErrc::unknown_key, "the token names no key");
  const SigningKey* key = ring.find(*decoded->kid);
  if (key == nullptr) return token_error(TokenErrc::unknown_key, "the token's key is unknown");
  if (auto verified = detail::verify_signature(jwt, key->public_pem(), JWT_ALG_ES256); !verified) {
    return verified.error();
  }
  // The claims are read from the payload decoded above: the very bytes the signature covers.
  auto claims = claims_from_json(decoded->payload);
  if (!claims) return claims.error();
  if (claims->issuer != issuer) {
    return token_error(TokenErrc::wrong_issuer, "the token is from another issuer");
  }
  if (auto window =
          detail::check_time_window(claims->not_before, claims->expires_at, now, leeway_seconds);
      !window) {
    return window.error();
  }
  return claims;
}

}  // namespace berth::auth
