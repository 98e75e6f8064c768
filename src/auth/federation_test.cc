#include "auth/federation.h"

#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "auth/token_test_support.h"

namespace berth::auth {
namespace {

namespace json = boost::json;
using namespace berth::auth::test;

constexpr std::int64_t kNow = 1'800'000'000;
constexpr std::string_view kIssuer = "https://ci.example.test";
constexpr std::string_view kAudience = "berth://myregistry";

std::string bn_param(EVP_PKEY* key, const char* name, int pad_to = 0) {
  BIGNUM* number = nullptr;
  EXPECT_EQ(EVP_PKEY_get_bn_param(key, name, &number), 1) << name;
  std::string bytes(pad_to > 0 ? static_cast<std::size_t>(pad_to)
                               : static_cast<std::size_t>(BN_num_bytes(number)),
                    '\0');
  BN_bn2binpad(number, reinterpret_cast<unsigned char*>(bytes.data()),
               static_cast<int>(bytes.size()));
  BN_free(number);
  return bytes;
}

json::object rsa_jwk(EVP_PKEY* key, std::string_view kid) {
  return json::object{{"kty", "RSA"},
                      {"kid", kid},
                      {"use", "sig"},
                      {"alg", "RS256"},
                      {"n", b64url(bn_param(key, OSSL_PKEY_PARAM_RSA_N))},
                      {"e", b64url(bn_param(key, OSSL_PKEY_PARAM_RSA_E))}};
}

json::object ec_jwk(EVP_PKEY* key, std::string_view kid) {
  return json::object{{"kty", "EC"},
                      {"kid", kid},
                      {"crv", "P-256"},
                      {"x", b64url(bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, 32))},
                      {"y", b64url(bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, 32))}};
}

std::string jwks(std::initializer_list<json::value> keys) {
  return json::serialize(json::object{{"keys", json::array(keys.begin(), keys.end())}});
}

json::object external_claims() {
  return json::object{{"iss", kIssuer},
                      {"sub", "repo:org/app:ref:refs/heads/main"},
                      {"aud", kAudience},
                      {"iat", kNow},
                      {"nbf", kNow},
                      {"exp", kNow + 600},
                      {"repository_owner", "org"},
                      {"run_attempt", 2},
                      {"groups", json::array{"a", "b"}}};
}

TokenErrc error_of(const TokenResult<std::map<std::string, std::string>>& result) {
  EXPECT_FALSE(result);
  return result ? TokenErrc::key_error : result.error().code;
}

TokenErrc parse_error(std::string_view document) {
  auto set = JwkSet::parse(document);
  EXPECT_FALSE(set) << document;
  return set ? TokenErrc::key_error : set.error().code;
}

class Federation : public ::testing::Test {
 protected:
  void SetUp() override {
    rsa_.reset(EVP_RSA_gen(2048));
    ec_.reset(EVP_EC_gen("P-256"));
    ASSERT_TRUE(rsa_ && ec_);
    auto set = JwkSet::parse(jwks({rsa_jwk(rsa_.get(), "rsa-1"), ec_jwk(ec_.get(), "ec-1")}));
    ASSERT_TRUE(set) << set.error().message;
    keys_ = std::move(*set);
  }

  std::string rs256(const json::object& claims, std::string_view kid = "rsa-1") {
    return sign_raw(JWT_ALG_RS256, private_pem_of(rsa_.get()), kid, json::serialize(claims));
  }
  std::string es256(const json::object& claims, std::string_view kid = "ec-1") {
    return sign_raw(JWT_ALG_ES256, private_pem_of(ec_.get()), kid, json::serialize(claims));
  }
  TokenResult<std::map<std::string, std::string>> verify(std::string_view jwt,
                                                         std::int64_t now = kNow) {
    return verify_external_token(keys_, jwt, kIssuer, kAudience, now);
  }

  Pkey rsa_, ec_;
  JwkSet keys_;
};

TEST_F(Federation, ParsesRsaAndEcKeysToTheirPublicPem) {
  EXPECT_EQ(keys_.size(), 2u);
  const JwkSet::Key* rsa = keys_.find("rsa-1");
  const JwkSet::Key* ec = keys_.find("ec-1");
  ASSERT_TRUE(rsa && ec);
  EXPECT_EQ(rsa->algorithm, "RS256");
  EXPECT_EQ(ec->algorithm, "ES256");
  EXPECT_EQ(rsa->pem, public_pem_of(rsa_.get()));
  EXPECT_EQ(ec->pem, public_pem_of(ec_.get()));
  EXPECT_EQ(keys_.find("other"), nullptr);
}

TEST_F(Federation, Rs256AndEs256TokensVerifyAndEveryClaimComesBackAsJson) {
  for (const std::string& jwt : {rs256(external_claims()), es256(external_claims())}) {
    auto claims = verify(jwt);
    ASSERT_TRUE(claims) << claims.error().message;
    EXPECT_EQ(claims->at("sub"), "\"repo:org/app:ref:refs/heads/main\"");
    EXPECT_EQ(claims->at("iss"), "\"https://ci.example.test\"");
    EXPECT_EQ(claims->at("run_attempt"), "2");
    EXPECT_EQ(claims->at("exp"), "1800000600");
    EXPECT_EQ(claims->at("groups"), "[\"a\",\"b\"]");
    EXPECT_EQ(claims->size(), external_claims().size());
  }
}

TEST_F(Federation, AudienceMayBeAnArrayAndNbfIsOptional) {
  json::object claims = external_claims();
  claims["aud"] = json::array{"other", kAudience};
  claims.erase("nbf");
  // A NumericDate may have a fraction; it counts as the whole second before it.
  claims["exp"] = static_cast<double>(kNow) + 10.75;
  std::string jwt = rs256(claims);
  auto verified = verify(jwt, kNow + 9);
  ASSERT_TRUE(verified) << verified.error().message;
  EXPECT_EQ(verified->at("aud"), "[\"other\",\"berth://myregistry\"]");
  EXPECT_EQ(error_of(verify(jwt, kNow + 10)), TokenErrc::expired);
}

TEST_F(Federation, AlgorithmMustMatchTheKeysType) {
  std::string payload = json::serialize(external_claims());
  // An ES256 token naming the RSA key, and the reverse.
  EXPECT_EQ(error_of(verify(es256(external_claims(), "rsa-1"))), TokenErrc::wrong_algorithm);
  EXPECT_EQ(error_of(verify(rs256(external_claims(), "ec-1"))), TokenErrc::wrong_algorithm);
  // HS256 keyed with the RSA public key's PEM: the algorithm-confusion forgery.
  const std::string& public_pem = keys_.find("rsa-1")->pem;
  EXPECT_EQ(error_of(verify(forge_hs256(R"({"alg":"HS256","kid":"rsa-1"})", payload, public_pem))),
            TokenErrc::wrong_algorithm);
  EXPECT_EQ(error_of(verify(sign_raw(JWT_ALG_HS256, public_pem, "rsa-1", payload))),
            TokenErrc::wrong_algorithm);
  for (std::string_view header :
       {R"({"alg":"none","kid":"rsa-1"})", R"({"alg":"RS512","kid":"rsa-1"})", R"({"kid":"rsa-1"})",
        R"({"alg":"rs256","kid":"rsa-1"})"}) {
    EXPECT_EQ(error_of(verify(forge(header, payload, ""))), TokenErrc::wrong_algorithm) << header;
  }
}

TEST_F(Federation, UnknownKidAndTamperingAreRefused) {
  EXPECT_EQ(error_of(verify(rs256(external_claims(), "rsa-2"))), TokenErrc::unknown_key);
  EXPECT_EQ(error_of(verify(rs256(external_claims(), ""))), TokenErrc::unknown_key);

  std::string jwt = es256(external_claims());
  json::object changed = external_claims();
  changed["sub"] = "repo:org/other:ref:refs/heads/main";
  EXPECT_EQ(error_of(verify(with_payload(jwt, json::serialize(changed)))),
            TokenErrc::bad_signature);

  // A key of the same type that the JWKS does not hold, under a kid it does.
  Pkey stranger(EVP_RSA_gen(2048));
  std::string forged = sign_raw(JWT_ALG_RS256, private_pem_of(stranger.get()), "rsa-1",
                                json::serialize(external_claims()));
  EXPECT_EQ(error_of(verify(forged)), TokenErrc::bad_signature);
}

TEST_F(Federation, IssuerAudienceAndTimeAreChecked) {
  json::object claims = external_claims();
  claims["iss"] = "https://evil.example.test";
  EXPECT_EQ(error_of(verify(rs256(claims))), TokenErrc::wrong_issuer);
  claims = external_claims();
  claims.erase("iss");
  EXPECT_EQ(error_of(verify(rs256(claims))), TokenErrc::wrong_issuer);

  for (json::value aud : {json::value("berth://other"), json::value(json::array{"x", "y"}),
                          json::value(json::array{}), json::value(7), json::value(nullptr)}) {
    claims = external_claims();
    claims["aud"] = aud;
    EXPECT_EQ(error_of(verify(rs256(claims))), TokenErrc::wrong_issuer) << json::serialize(aud);
  }
  claims = external_claims();
  claims.erase("aud");
  EXPECT_EQ(error_of(verify(rs256(claims))), TokenErrc::wrong_issuer);

  EXPECT_EQ(error_of(verify(rs256(external_claims()), kNow + 600)), TokenErrc::expired);
  EXPECT_TRUE(verify(rs256(external_claims()), kNow - 30));
  EXPECT_EQ(error_of(verify(rs256(external_claims()), kNow - 31)), TokenErrc::not_yet_valid);

  claims = external_claims();
  claims.erase("exp");
  EXPECT_EQ(error_of(verify(rs256(claims))), TokenErrc::malformed) << "exp is required";
  for (json::value bad : {json::value("1800000600"), json::value(1e300), json::value(true)}) {
    claims = external_claims();
    claims["exp"] = bad;
    EXPECT_EQ(error_of(verify(rs256(claims))), TokenErrc::malformed) << json::serialize(bad);
  }
}

TEST_F(Federation, KeysOfOtherKindsAreSkipped) {
  Pkey p384(EVP_EC_gen("P-384"));
  Pkey weak(EVP_RSA_gen(1024));
  json::object p384_jwk{{"kty", "EC"},
                        {"kid", "p384"},
                        {"crv", "P-384"},
                        {"x", b64url(bn_param(p384.get(), OSSL_PKEY_PARAM_EC_PUB_X, 48))},
                        {"y", b64url(bn_param(p384.get(), OSSL_PKEY_PARAM_EC_PUB_Y, 48))}};
  json::object encryption = rsa_jwk(rsa_.get(), "enc");
  encryption["use"] = "enc";
  json::object rs512 = rsa_jwk(rsa_.get(), "rs512");
  rs512["alg"] = "RS512";
  json::object es_as_rs = ec_jwk(ec_.get(), "ec-as-rs");
  es_as_rs["alg"] = "RS256";
  json::object no_kid = ec_jwk(ec_.get(), "");
  no_kid.erase("kid");
  json::object symmetric{{"kty", "oct"}, {"kid", "hmac"}, {"k", "c2VjcmV0"}};
  json::object okp{{"kty", "OKP"}, {"kid", "ed"}, {"crv", "Ed25519"}, {"x", "AAAA"}};
  std::vector<json::value> skipped = {p384_jwk, encryption, rs512, es_as_rs,
                                      no_kid,   symmetric,  okp,   rsa_jwk(weak.get(), "weak")};

  auto set = JwkSet::parse(json::serialize(json::object{
      {"keys", json::array{skipped[0], skipped[1], skipped[2], skipped[3], skipped[4], skipped[5],
                           skipped[6], skipped[7], ec_jwk(ec_.get(), "good")}}}));
  ASSERT_TRUE(set) << set.error().message;
  EXPECT_EQ(set->size(), 1u);
  EXPECT_NE(set->find("good"), nullptr);

  for (const json::value& key : skipped) {
    EXPECT_EQ(parse_error(jwks({key})), TokenErrc::malformed)
        << "no usable key: " << json::serialize(key);
  }
}

TEST_F(Federation, MalformedDocumentsAndKeysAreRefused) {
  for (std::string_view document :
       {"", "null", "[]", "{}", R"({"keys":{}})", R"({"keys":[]})", R"({"keys":[1]})",
        R"({"keys":[{"kid":"a"}]})", R"({"keys":[{"kty":7,"kid":"a"}]})", "{\"keys\":[",
        R"({"keys":[{"kty":"RSA","kid":"a","e":"AQAB"}]})",
        R"({"keys":[{"kty":"RSA","kid":"a","n":"!!","e":"AQAB"}]})",
        R"({"keys":[{"kty":"RSA","kid":"a","n":"AQAB","e":""}]})",
        R"({"keys":[{"kty":"EC","kid":"a","crv":"P-256","x":"AAAA","y":"AAAA"}]})",
        R"({"keys":[{"kty":"EC","kid":"a","crv":"P-256","use":7}]})"}) {
    EXPECT_EQ(parse_error(document), TokenErrc::malformed) << document;
  }

  // A point that is not on the curve (x and y of the real key, y changed).
  json::object off_curve = ec_jwk(ec_.get(), "off");
  std::string y = bn_param(ec_.get(), OSSL_PKEY_PARAM_EC_PUB_Y, 32);
  y[31] = static_cast<char>(y[31] ^ 1);
  off_curve["y"] = b64url(y);
  EXPECT_EQ(parse_error(jwks({off_curve})), TokenErrc::malformed);

  // An even RSA modulus is not a public key.
  json::object even = rsa_jwk(rsa_.get(), "even");
  std::string n = bn_param(rsa_.get(), OSSL_PKEY_PARAM_RSA_N);
  n.back() = static_cast<char>(n.back() & ~1);
  even["n"] = b64url(n);
  EXPECT_EQ(parse_error(jwks({even})), TokenErrc::malformed);

  // Two keys under one kid: which one would verify is ambiguous.
  EXPECT_EQ(parse_error(jwks({ec_jwk(ec_.get(), "same"), rsa_jwk(rsa_.get(), "same")})),
            TokenErrc::malformed);

  std::string huge = R"({"keys":[],"pad":")";
  huge.append(1 << 20, 'a');
  huge += "\"}";
  EXPECT_EQ(parse_error(huge), TokenErrc::malformed);
}

TEST_F(Federation, NotAJwtIsMalformed) {
  for (std::string_view token : {"", "a.b", "a.b.c.d", "e30.e30.e30=", "!.!.!"}) {
    EXPECT_EQ(error_of(verify(token)), TokenErrc::malformed) << token;
  }
  std::string oversized = rs256(external_claims());
  oversized.insert(oversized.find('.'), std::string(16 * 1024, 'A'));
  EXPECT_EQ(error_of(verify(oversized)), TokenErrc::malformed);
}

}  // namespace
}  // namespace berth::auth
