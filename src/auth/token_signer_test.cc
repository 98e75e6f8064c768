#include "auth/token_signer.h"

#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "auth/token_test_support.h"

namespace berth::auth {
namespace {

namespace json = boost::json;
using namespace berth::auth::test;

constexpr std::int64_t kNow = 1'800'000'000;
constexpr std::string_view kIssuer = "berth-token-service";

SigningKey new_key() {
  auto key = SigningKey::generate();
  EXPECT_TRUE(key) << key.error().message;
  return std::move(*key);
}

TokenClaims access_claims() {
  TokenClaims claims;
  claims.issuer = std::string(kIssuer);
  claims.subject = "token:ci-push";
  claims.audience = "myregistry.berth.local";
  claims.issued_at = kNow;
  claims.not_before = kNow;
  claims.expires_at = kNow + 300;
  claims.id = "jti-0123456789";
  claims.kind = TokenKind::access;
  claims.registry_id = 42;
  claims.access = {Scope{"repository", "samples/hello", {"pull", "push"}},
                   Scope{"registry", "catalog", {"*"}},
                   Scope{"repository", "denied/everything", {}}};
  return claims;
}

// The claims of a valid access token as JSON, to sign modified copies by hand.
json::object claims_object() {
  return json::parse(R"({"iss":"berth-token-service","sub":"token:ci-push",
      "aud":"myregistry.berth.local","iat":1800000000,"nbf":1800000000,"exp":1800000300,
      "jti":"j","typ":"access","rid":42,
      "access":[{"type":"repository","name":"a","actions":["pull"]}]})")
      .as_object();
}

std::string header_json(std::string_view alg, std::string_view kid) {
  json::object header{{"alg", alg}, {"typ", "JWT"}};
  if (!kid.empty()) header["kid"] = kid;
  return json::serialize(header);
}

TokenErrc error_of(const TokenResult<TokenClaims>& result) {
  EXPECT_FALSE(result);
  return result ? TokenErrc::key_error : result.error().code;
}

TEST(SigningKey, GeneratesP256KeysInPemWithAKid) {
  SigningKey key = new_key();
  EXPECT_TRUE(key.private_pem().starts_with("-----BEGIN PRIVATE KEY-----")) << "PKCS#8";
  EXPECT_TRUE(key.public_pem().starts_with("-----BEGIN PUBLIC KEY-----"));
  EXPECT_EQ(key.kid().size(), 22u) << "16 bytes of unpadded base64url";
  EXPECT_EQ(key.kid().find_first_not_of(
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
            std::string::npos);
  SigningKey other = new_key();
  EXPECT_NE(key.kid(), other.kid());
  EXPECT_NE(key.private_pem(), other.private_pem());
}

TEST(SigningKey, ReadsBackItsOwnPrivatePem) {
  SigningKey key = new_key();
  auto read = SigningKey::from_private_pem(key.private_pem());
  ASSERT_TRUE(read) << read.error().message;
  EXPECT_EQ(read->kid(), key.kid());
  EXPECT_EQ(read->public_pem(), key.public_pem());
  EXPECT_EQ(read->private_pem(), key.private_pem());
}

TEST(SigningKey, KidIsTheHashOfThePublicKeyDer) {
  SigningKey key = new_key();
  BIO* bio = BIO_new_mem_buf(key.public_pem().data(), static_cast<int>(key.public_pem().size()));
  Pkey pkey(PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr));
  BIO_free(bio);
  ASSERT_TRUE(pkey);
  unsigned char* der = nullptr;
  int size = i2d_PUBKEY(pkey.get(), &der);
  ASSERT_GT(size, 0);
  unsigned char digest[32];
  unsigned int digest_size = 0;
  EVP_Digest(der, static_cast<std::size_t>(size), digest, &digest_size, EVP_sha256(), nullptr);
  OPENSSL_free(der);
  EXPECT_EQ(key.kid(), b64url(std::string_view(reinterpret_cast<char*>(digest), 16)));
}

TEST(SigningKey, RefusesAnythingButAP256PrivateKey) {
  SigningKey key = new_key();
  Pkey rsa(EVP_RSA_gen(2048));
  Pkey p384(EVP_EC_gen("P-384"));
  Pkey p256(EVP_EC_gen("P-256"));
  ASSERT_TRUE(rsa && p384 && p256);
  std::string truncated = key.private_pem().substr(0, key.private_pem().size() / 2);
  std::string encrypted = private_pem_of(p256.get(), EVP_aes_256_cbc(), "passphrase");
  for (const std::string& pem :
       {std::string(), std::string("not a pem"), key.public_pem(), truncated,
        private_pem_of(rsa.get()), private_pem_of(p384.get()), encrypted}) {
    auto read = SigningKey::from_private_pem(pem);
    ASSERT_FALSE(read) << pem;
    EXPECT_EQ(read.error().code, TokenErrc::key_error);
  }
}

TEST(KeyRing, NeedsAKeyAndFindsByKid) {
  EXPECT_THROW(KeyRing(std::vector<SigningKey>{}), std::invalid_argument);
  SigningKey a = new_key(), b = new_key();
  KeyRing ring({a, b});
  EXPECT_EQ(ring.signing_key().kid(), a.kid());
  ASSERT_NE(ring.find(b.kid()), nullptr);
  EXPECT_EQ(ring.find(b.kid())->public_pem(), b.public_pem());
  EXPECT_EQ(ring.find("nope"), nullptr);
  EXPECT_EQ(ring.find(""), nullptr);
}

TEST(Tokens, AccessTokenRoundTrips) {
  KeyRing ring({new_key()});
  TokenClaims claims = access_claims();
  auto jwt = sign_token(ring, claims);
  ASSERT_TRUE(jwt) << jwt.error().message;

  json::object header = json::parse(header_of(*jwt)).as_object();
  EXPECT_EQ(header.at("alg").as_string(), "ES256");
  EXPECT_EQ(header.at("kid").as_string(), ring.signing_key().kid());
  EXPECT_EQ(signature_of(*jwt).size(), 64u) << "JWS ES256 signatures are r || s";

  auto verified = verify_token(ring, *jwt, kIssuer, kNow);
  ASSERT_TRUE(verified) << verified.error().message;
  EXPECT_EQ(verified->issuer, claims.issuer);
  EXPECT_EQ(verified->subject, claims.subject);
  EXPECT_EQ(verified->audience, claims.audience);
  EXPECT_EQ(verified->issued_at, claims.issued_at);
  EXPECT_EQ(verified->not_before, claims.not_before);
  EXPECT_EQ(verified->expires_at, claims.expires_at);
  EXPECT_EQ(verified->id, claims.id);
  EXPECT_EQ(verified->kind, TokenKind::access);
  EXPECT_EQ(verified->registry_id, 42);
  ASSERT_EQ(verified->access.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(verified->access[i].type, claims.access[i].type);
    EXPECT_EQ(verified->access[i].name, claims.access[i].name);
    EXPECT_EQ(verified->access[i].actions, claims.access[i].actions);
  }
}

TEST(Tokens, RefreshTokensCarryNoAccessClaim) {
  KeyRing ring({new_key()});
  TokenClaims claims = access_claims();
  claims.kind = TokenKind::refresh;
  auto jwt = sign_token(ring, claims);
  ASSERT_TRUE(jwt);
  EXPECT_FALSE(json::parse(payload_of(*jwt)).as_object().contains("access"));
  auto verified = verify_token(ring, *jwt, kIssuer, kNow);
  ASSERT_TRUE(verified) << verified.error().message;
  EXPECT_EQ(verified->kind, TokenKind::refresh);
  EXPECT_TRUE(verified->access.empty());
}

TEST(Tokens, StringsNeedingEscapesRoundTrip) {
  KeyRing ring({new_key()});
  TokenClaims claims = access_claims();
  claims.subject = "user:\"quoted\" \\ back\nslash \xc3\xa9";
  auto jwt = sign_token(ring, claims);
  ASSERT_TRUE(jwt);
  auto verified = verify_token(ring, *jwt, kIssuer, kNow);
  ASSERT_TRUE(verified) << verified.error().message;
  EXPECT_EQ(verified->subject, claims.subject);
}

// The signature checked with OpenSSL directly: what libjwt writes is a standard JWS.
TEST(Tokens, SignatureVerifiesWithPlainOpenSsl) {
  KeyRing ring({new_key()});
  auto jwt = sign_token(ring, access_claims());
  ASSERT_TRUE(jwt);
  std::string signing_input = jwt->substr(0, jwt->rfind('.'));
  std::string raw = signature_of(*jwt);
  ASSERT_EQ(raw.size(), 64u);
  ECDSA_SIG* sig = ECDSA_SIG_new();
  ECDSA_SIG_set0(sig, BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()), 32, nullptr),
                 BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()) + 32, 32, nullptr));
  unsigned char* der = nullptr;
  int der_size = i2d_ECDSA_SIG(sig, &der);
  ECDSA_SIG_free(sig);
  const std::string& pem = ring.signing_key().public_pem();
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  Pkey key(PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr));
  BIO_free(bio);
  EVP_MD_CTX* context = EVP_MD_CTX_new();
  ASSERT_EQ(EVP_DigestVerifyInit(context, nullptr, EVP_sha256(), nullptr, key.get()), 1);
  EXPECT_EQ(EVP_DigestVerify(context, der, static_cast<std::size_t>(der_size),
                             reinterpret_cast<const unsigned char*>(signing_input.data()),
                             signing_input.size()),
            1);
  EVP_MD_CTX_free(context);
  OPENSSL_free(der);
}

TEST(Tokens, TamperedSignatureIsRefused) {
  KeyRing ring({new_key()});
  auto jwt = sign_token(ring, access_claims());
  ASSERT_TRUE(jwt);
  std::string raw = signature_of(*jwt);
  for (std::size_t byte : {0u, 31u, 32u, 63u}) {
    std::string flipped = raw;
    flipped[byte] = static_cast<char>(flipped[byte] ^ 0x01);
    std::string tampered = jwt->substr(0, jwt->rfind('.') + 1);
    tampered += b64url(flipped);
    EXPECT_EQ(error_of(verify_token(ring, tampered, kIssuer, kNow)), TokenErrc::bad_signature)
        << byte;
  }
  std::string short_signature = jwt->substr(0, jwt->rfind('.') + 1);
  short_signature += b64url(raw.substr(0, 63));
  EXPECT_EQ(error_of(verify_token(ring, short_signature, kIssuer, kNow)), TokenErrc::bad_signature);
  std::string empty_signature = jwt->substr(0, jwt->rfind('.') + 1);
  EXPECT_EQ(error_of(verify_token(ring, empty_signature, kIssuer, kNow)), TokenErrc::bad_signature);
  // Another key's valid signature over the same input.
  SigningKey other = new_key();
  KeyRing impostor({SigningKey::from_private_pem(other.private_pem()).value()});
  auto foreign = sign_token(impostor, access_claims());
  ASSERT_TRUE(foreign);
  std::string swapped = jwt->substr(0, jwt->rfind('.'));
  swapped += foreign->substr(foreign->rfind('.'));
  EXPECT_EQ(error_of(verify_token(ring, swapped, kIssuer, kNow)), TokenErrc::bad_signature);
}

TEST(Tokens, TamperedPayloadIsRefused) {
  KeyRing ring({new_key()});
  auto jwt = sign_token(ring, access_claims());
  ASSERT_TRUE(jwt);
  json::object payload = json::parse(payload_of(*jwt)).as_object();
  payload["rid"] = 43;
  EXPECT_EQ(
      error_of(verify_token(ring, with_payload(*jwt, json::serialize(payload)), kIssuer, kNow)),
      TokenErrc::bad_signature);
  payload["rid"] = 42;
  payload["access"].as_array().emplace_back(
      json::object{{"type", "repository"}, {"name", "other"}, {"actions", json::array{"push"}}});
  EXPECT_EQ(
      error_of(verify_token(ring, with_payload(*jwt, json::serialize(payload)), kIssuer, kNow)),
      TokenErrc::bad_signature);
}

TEST(Tokens, AlgNoneIsRefusedBeforeAnyKeyIsUsed) {
  SigningKey key = new_key();
  KeyRing ring({key});
  std::string payload = json::serialize(claims_object());
  for (std::string_view alg : {"none", "None", "NONE"}) {
    std::string unsigned_token = forge(header_json(alg, key.kid()), payload, "");
    EXPECT_EQ(error_of(verify_token(ring, unsigned_token, kIssuer, kNow)),
              TokenErrc::wrong_algorithm)
        << alg;
    std::string with_signature = forge(header_json(alg, key.kid()), payload, "junk");
    EXPECT_EQ(error_of(verify_token(ring, with_signature, kIssuer, kNow)),
              TokenErrc::wrong_algorithm);
  }
  std::string no_alg = forge(R"({"typ":"JWT","kid":"x"})", payload, "");
  EXPECT_EQ(error_of(verify_token(ring, no_alg, kIssuer, kNow)), TokenErrc::wrong_algorithm);
}

TEST(Tokens, Hs256KeyedWithThePublicKeyIsRefused) {
  SigningKey key = new_key();
  KeyRing ring({key});
  std::string payload = json::serialize(claims_object());
  // The algorithm-confusion forgery: HMAC keyed with the verifier's public key text.
  std::string forged = forge_hs256(header_json("HS256", key.kid()), payload, key.public_pem());
  EXPECT_EQ(error_of(verify_token(ring, forged, kIssuer, kNow)), TokenErrc::wrong_algorithm);
  // Made by libjwt itself, to be sure the forgery is well formed.
  std::string by_libjwt = sign_raw(JWT_ALG_HS256, key.public_pem(), key.kid(), payload);
  EXPECT_EQ(error_of(verify_token(ring, by_libjwt, kIssuer, kNow)), TokenErrc::wrong_algorithm);
  for (std::string_view alg : {"HS384", "HS512", "RS256", "ES384", "es256", "ES256 ", "PS256"}) {
    std::string token = forge(header_json(alg, key.kid()), payload, "sig");
    EXPECT_EQ(error_of(verify_token(ring, token, kIssuer, kNow)), TokenErrc::wrong_algorithm)
        << alg;
  }
}

TEST(Tokens, UnknownOrMissingKidIsRefused) {
  KeyRing ring({new_key()});
  KeyRing stranger({new_key()});
  auto jwt = sign_token(stranger, access_claims());
  ASSERT_TRUE(jwt);
  EXPECT_EQ(error_of(verify_token(ring, *jwt, kIssuer, kNow)), TokenErrc::unknown_key);

  std::string payload = json::serialize(claims_object());
  std::string no_kid = sign_raw(JWT_ALG_ES256, ring.signing_key().private_pem(), "", payload);
  EXPECT_EQ(error_of(verify_token(ring, no_kid, kIssuer, kNow)), TokenErrc::unknown_key);
  std::string numeric_kid = forge(R"({"alg":"ES256","kid":7})", payload, std::string(64, '\x01'));
  EXPECT_EQ(error_of(verify_token(ring, numeric_kid, kIssuer, kNow)), TokenErrc::malformed);
}

TEST(Tokens, TimeWindowUsesLeewayOnNotBeforeOnly) {
  KeyRing ring({new_key()});
  TokenClaims claims = access_claims();
  auto jwt = sign_token(ring, claims);
  ASSERT_TRUE(jwt);
  EXPECT_TRUE(verify_token(ring, *jwt, kIssuer, claims.expires_at - 1));
  EXPECT_EQ(error_of(verify_token(ring, *jwt, kIssuer, claims.expires_at)), TokenErrc::expired);
  EXPECT_EQ(error_of(verify_token(ring, *jwt, kIssuer, claims.expires_at + 3600)),
            TokenErrc::expired);
  EXPECT_TRUE(verify_token(ring, *jwt, kIssuer, claims.not_before - 30));
  EXPECT_EQ(error_of(verify_token(ring, *jwt, kIssuer, claims.not_before - 31)),
            TokenErrc::not_yet_valid);
  EXPECT_TRUE(verify_token(ring, *jwt, kIssuer, claims.not_before - 100, 100));
  EXPECT_EQ(error_of(verify_token(ring, *jwt, kIssuer, claims.not_before - 1, 0)),
            TokenErrc::not_yet_valid);
}

TEST(Tokens, ExtremeTimesDoNotOverflow) {
  KeyRing ring({new_key()});
  TokenClaims claims = access_claims();
  claims.not_before = INT64_MIN;
  claims.expires_at = INT64_MAX;
  auto jwt = sign_token(ring, claims);
  ASSERT_TRUE(jwt);
  EXPECT_TRUE(verify_token(ring, *jwt, kIssuer, kNow, INT64_MAX));
  EXPECT_TRUE(verify_token(ring, *jwt, kIssuer, INT64_MIN, INT64_MAX));
  claims.not_before = INT64_MAX;
  jwt = sign_token(ring, claims);
  ASSERT_TRUE(jwt);
  EXPECT_EQ(error_of(verify_token(ring, *jwt, kIssuer, INT64_MIN, INT64_MIN)),
            TokenErrc::not_yet_valid);
}

TEST(Tokens, WrongIssuerIsRefused) {
  KeyRing ring({new_key()});
  auto jwt = sign_token(ring, access_claims());
  ASSERT_TRUE(jwt);
  EXPECT_EQ(error_of(verify_token(ring, *jwt, "another-service", kNow)), TokenErrc::wrong_issuer);
  EXPECT_EQ(error_of(verify_token(ring, *jwt, "", kNow)), TokenErrc::wrong_issuer);
}

TEST(Tokens, RotationOldKeyStillVerifiesNewKeySigns) {
  SigningKey old_key = new_key();
  SigningKey new_signing_key = new_key();
  KeyRing before({old_key});
  KeyRing after({new_signing_key, old_key});
  auto old_token = sign_token(before, access_claims());
  ASSERT_TRUE(old_token);
  EXPECT_TRUE(verify_token(after, *old_token, kIssuer, kNow)) << "no one is logged out";

  auto new_token = sign_token(after, access_claims());
  ASSERT_TRUE(new_token);
  EXPECT_EQ(json::parse(header_of(*new_token)).at("kid").as_string(), new_signing_key.kid());
  EXPECT_TRUE(verify_token(after, *new_token, kIssuer, kNow));
  EXPECT_EQ(error_of(verify_token(before, *new_token, kIssuer, kNow)), TokenErrc::unknown_key);

  KeyRing pruned({new_signing_key});
  EXPECT_EQ(error_of(verify_token(pruned, *old_token, kIssuer, kNow)), TokenErrc::unknown_key);
}

TEST(Tokens, ClaimsOfTheWrongShapeAreMalformedEvenWhenSigned) {
  SigningKey key = new_key();
  KeyRing ring({key});
  auto sign = [&](const json::object& payload) {
    return sign_raw(JWT_ALG_ES256, key.private_pem(), key.kid(), json::serialize(payload));
  };
  EXPECT_TRUE(verify_token(ring, sign(claims_object()), kIssuer, kNow)) << "the base is valid";

  std::vector<std::pair<std::string, json::value>> changes = {
      {"rid", "42"},
      {"rid", 4.2},
      {"exp", 1800000300.5},
      {"exp", "1800000300"},
      {"nbf", nullptr},
      {"iss", 1},
      {"sub", json::array{}},
      {"typ", "id"},
      {"typ", "Access"},
      {"access", json::object{}},
      {"access", json::array{"repository:a:pull"}},
      {"access", json::parse(R"([{"type":"repository","name":"a"}])")},
      {"access", json::parse(R"([{"type":"repository","name":"a","actions":"pull"}])")},
      {"access", json::parse(R"([{"type":"repository","name":"a","actions":[1]}])")},
      {"access", json::parse(R"([{"type":"repository","name":"a","actions":["PULL"]}])")},
      {"access", json::parse(R"([{"type":"repository","name":7,"actions":[]}])")},
  };
  for (const auto& [name, value] : changes) {
    json::object payload = claims_object();
    payload[name] = value;
    EXPECT_EQ(error_of(verify_token(ring, sign(payload), kIssuer, kNow)), TokenErrc::malformed)
        << name << "=" << json::serialize(value);
  }
  for (std::string_view name : {"iss", "sub", "aud", "iat", "nbf", "exp", "jti", "typ", "rid"}) {
    json::object payload = claims_object();
    payload.erase(name);
    EXPECT_EQ(error_of(verify_token(ring, sign(payload), kIssuer, kNow)), TokenErrc::malformed)
        << "without " << name;
  }
}

TEST(Tokens, NotAJwtIsMalformed) {
  SigningKey key = new_key();
  KeyRing ring({key});
  auto jwt = sign_token(ring, access_claims());
  ASSERT_TRUE(jwt);
  std::string four_parts = *jwt;
  four_parts += ".x";
  std::string padded = *jwt;
  padded.insert(jwt->find('.'), "=");
  std::string header_not_object = forge("[\"ES256\"]", "{}", "s");
  std::string payload_not_json = forge(header_json("ES256", key.kid()), "{nope", "s");
  std::string payload_not_object = forge(header_json("ES256", key.kid()), "42", "s");
  std::string deep(100, '[');
  std::string too_deep = forge(header_json("ES256", key.kid()), deep, "s");
  std::string big_payload = "{\"x\":\"";
  big_payload.append(13000, 'a');
  big_payload += "\"}";
  std::string oversized = forge(header_json("ES256", key.kid()), big_payload, "s");
  for (const std::string& token :
       {std::string(), std::string("."), std::string(".."), std::string("a.b"), std::string("...."),
        four_parts, padded, header_not_object, payload_not_json, payload_not_object, too_deep,
        oversized, std::string("e30.e30.!!!")}) {
    EXPECT_EQ(error_of(verify_token(ring, token, kIssuer, kNow)), TokenErrc::malformed) << token;
  }
}

}  // namespace
}  // namespace berth::auth
