#pragma once
// Secrets at rest and on the wire: generation from the CSPRNG, hashing for verification,
// sealing for values that must be read back, and constant-time comparison (libsodium).
//
// Three kinds of stored secret:
//  - generated secrets (token passwords, service-principal secrets): 256 random bits, stored as
//    a keyed hash with the deployment key ("k1$<hex>"), fast to check because guessing 256
//    bits is hopeless;
//  - passwords people choose: stored as an argon2id hash ("$argon2id$..."), slow on purpose;
//  - values shown again later (the admin user's passwords, signing keys): sealed with the
//    deployment key (XSalsa20-Poly1305 secretbox, random nonce), "s1$<base64>".
// Messages and errors never contain a secret.

#include <array>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace berth::auth {

enum class SecretErrc {
  io_error,          // the key file cannot be read or written
  corrupt,           // a key file or sealed value that is not what this build writes
  invalid_argument,  // e.g. a supplied key of the wrong length
};
using SecretError = Error<SecretErrc>;
template <class T>
using SecretResult = berth::Result<T, SecretError>;

inline constexpr std::string_view kDeploymentKeyFile = "deployment.key";
// Base64 of 32 bytes; set on every node of a scale-out deployment so they share one key.
inline constexpr std::string_view kDeploymentKeyVariable = "BERTH_DEPLOYMENT_KEY";

// A new generated secret: 32 random bytes as 43 characters of unpadded base64url
// (A-Z a-z 0-9 - _), usable as a password by every client.
std::string generate_secret();

// Whether `a` equals `b`, in time that depends only on their lengths.
bool equal_constant_time(std::string_view a, std::string_view b);

// The deployment's 256-bit key for keyed hashes and sealing.
class DeploymentKey {
 public:
  // The key from `environment_value` (base64 of 32 bytes) when set and non-empty; else read
  // from <data_dir>/deployment.key, created (mode 0600, 32 random bytes, fsynced) when absent.
  static SecretResult<DeploymentKey> open(const std::filesystem::path& data_dir,
                                          std::optional<std::string_view> environment_value);
  // A fixed key (tests).
  static DeploymentKey from_bytes(const std::array<unsigned char, 32>& bytes);

  // "k1$" + hex of BLAKE2b-256 keyed with this key (libsodium crypto_generichash).
  std::string keyed_hash(std::string_view secret) const;
  // "s1$" + base64(nonce || secretbox(plaintext)).
  std::string seal(std::string_view plaintext) const;
  // corrupt when `sealed` is not a value seal() made with this key.
  SecretResult<std::string> unseal(std::string_view sealed) const;

 private:
  explicit DeploymentKey(const std::array<unsigned char, 32>& bytes) : key_(bytes) {}
  std::array<unsigned char, 32> key_;
};

// The stored form of a generated secret: key.keyed_hash(secret).
std::string hash_generated_secret(const DeploymentKey& key, std::string_view secret);
// The stored form of a chosen password: argon2id (libsodium crypto_pwhash_str, interactive
// limits).
std::string hash_password(std::string_view password);
// Whether `secret` matches `stored` (either form above); false for an unknown form. Constant
// time in the secret for the keyed form.
bool verify_secret(const DeploymentKey& key, std::string_view secret, std::string_view stored);

}  // namespace berth::auth
