#pragma once
// For the token tests: forging JWTs by hand (any header, any payload, any signature), signing
// arbitrary payloads with libjwt, and making keys with OpenSSL, so the verifiers can be fed
// what an attacker or an external issuer would send.

#include <gtest/gtest.h>
#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "auth/encoding.h"

namespace berth::auth::test {

inline std::string b64url(std::string_view bytes) { return detail::base64url_encode(bytes); }

inline std::string forge(std::string_view header_json, std::string_view payload_json,
                         std::string_view signature) {
  std::string jwt = b64url(header_json);
  jwt += '.';
  jwt += b64url(payload_json);
  jwt += '.';
  jwt += b64url(signature);
  return jwt;
}

// The JWT of `payload_json` signed by libjwt with `private_pem` (or an HMAC secret).
inline std::string sign_raw(jwt_alg_t algorithm, std::string_view key, std::string_view kid,
                            std::string_view payload_json) {
  jwt_t* jwt = nullptr;
  EXPECT_EQ(jwt_new(&jwt), 0);
  std::string key_text(key);
  std::string kid_text(kid);
  std::string payload_text(payload_json);
  EXPECT_EQ(jwt_set_alg(jwt, algorithm, reinterpret_cast<const unsigned char*>(key_text.data()),
                        static_cast<int>(key_text.size())),
            0);
  if (!kid_text.empty()) {
    EXPECT_EQ(jwt_add_header(jwt, "kid", kid_text.c_str()), 0);
  }
  EXPECT_EQ(jwt_add_grants_json(jwt, payload_text.c_str()), 0);
  char* encoded = jwt_encode_str(jwt);
  EXPECT_NE(encoded, nullptr);
  std::string result = encoded ? encoded : "";
  std::free(encoded);
  jwt_free(jwt);
  return result;
}

inline std::string hmac_sha256(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &size);
  return std::string(reinterpret_cast<const char*>(out), size);
}

// A token signed with HS256 keyed by `secret` (e.g. a public key's PEM: the classic
// algorithm-confusion forgery).
inline std::string forge_hs256(std::string_view header_json, std::string_view payload_json,
                               std::string_view secret) {
  std::string signing_input = b64url(header_json);
  signing_input += '.';
  signing_input += b64url(payload_json);
  std::string jwt = signing_input;
  jwt += '.';
  jwt += b64url(hmac_sha256(secret, signing_input));
  return jwt;
}

struct PkeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

inline std::string private_pem_of(EVP_PKEY* key, const EVP_CIPHER* cipher = nullptr,
                                  const char* passphrase = nullptr) {
  BIO* bio = BIO_new(BIO_s_mem());
  int passphrase_size = passphrase ? static_cast<int>(std::string_view(passphrase).size()) : 0;
  EXPECT_EQ(
      PEM_write_bio_PrivateKey(bio, key, cipher, reinterpret_cast<const unsigned char*>(passphrase),
                               passphrase_size, nullptr, nullptr),
      1);
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<std::size_t>(size));
  BIO_free(bio);
  return pem;
}

inline std::string public_pem_of(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  EXPECT_EQ(PEM_write_bio_PUBKEY(bio, key), 1);
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<std::size_t>(size));
  BIO_free(bio);
  return pem;
}

inline std::string header_of(std::string_view jwt) {
  auto decoded = detail::base64url_decode(jwt.substr(0, jwt.find('.')));
  return decoded ? *decoded : std::string();
}

inline std::string payload_of(std::string_view jwt) {
  auto first = jwt.find('.');
  auto second = jwt.find('.', first + 1);
  auto decoded = detail::base64url_decode(jwt.substr(first + 1, second - first - 1));
  return decoded ? *decoded : std::string();
}

inline std::string signature_of(std::string_view jwt) {
  auto decoded = detail::base64url_decode(jwt.substr(jwt.rfind('.') + 1));
  return decoded ? *decoded : std::string();
}

// `jwt` with its payload replaced, header and signature kept.
inline std::string with_payload(std::string_view jwt, std::string_view payload_json) {
  auto first = jwt.find('.');
  auto second = jwt.find('.', first + 1);
  std::string result(jwt.substr(0, first + 1));
  result += b64url(payload_json);
  result += jwt.substr(second);
  return result;
}

}  // namespace berth::auth::test
