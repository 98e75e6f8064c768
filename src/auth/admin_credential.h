#pragma once
// The deployment administrator credential: one bearer token that may use the management API.
//
// The token is created at the first start of a data directory: 256 random bits (64 hex
// characters), or the value of BERTH_INITIAL_ADMIN_TOKEN when set. Only its SHA-256 is stored,
// in <data-dir>/admin-token.sha256 (mode 0600). A fast hash is enough because the token has
// full entropy; a supplied token must therefore be at least kMinTokenLength characters.

#include <array>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "metadata/coordination_store.h"

namespace berth::auth {

enum class Errc {
  io_error,         // the hash file cannot be read or written
  corrupt,          // the hash file does not hold one SHA-256 in hex
  invalid_argument  // a supplied initial token that is too short or not printable ASCII
};
using AuthError = Error<Errc>;
template <class T>
using Result = berth::Result<T, AuthError>;

inline constexpr std::string_view kAdminTokenFile = "admin-token.sha256";
inline constexpr std::string_view kInitialAdminTokenVariable = "BERTH_INITIAL_ADMIN_TOKEN";
inline constexpr std::size_t kMinTokenLength = 16;
// The deployment setting that holds the token's hash when nodes share the metadata.
inline constexpr std::string_view kAdminTokenSetting = "admin_token_sha256";

class AdminCredential {
 public:
  struct Opened;

  // Reads the stored hash under `data_dir`, or creates it when absent: from `initial_token`
  // when given (a non-empty value), else from a new random token. The plaintext of a generated
  // token is returned once, for the caller to show to the operator; it is never stored.
  // `initial_token` is ignored when the hash file exists already.
  static Result<Opened> open(const std::filesystem::path& data_dir,
                             std::optional<std::string_view> initial_token);

  // The same, with the hash kept in the deployment settings of shared metadata (every node of
  // a scale-out deployment): the first node to start stores it, the others read it. Nodes that
  // start together agree on one token; `created` says which one stored it.
  static Result<Opened> open_shared(metadata::CoordinationStore& settings,
                                    std::optional<std::string_view> initial_token);

  // The hash a data directory holds, in hex, as open_shared() stores it; nullopt without a hash
  // file (`berthd migrate` carries it into the shared settings). corrupt for a malformed file.
  static Result<std::optional<std::string>> stored_hash_hex(const std::filesystem::path& data_dir);

  // A credential that accepts exactly `token` (tests, tools).
  static AdminCredential for_token(std::string_view token);

  // Whether `token` is the administrator token; constant-time in the token's content.
  bool verify(std::string_view token) const;
  // Whether an Authorization header value is "Bearer <the administrator token>" (the scheme is
  // matched ignoring case). False when absent.
  bool verify_authorization(std::optional<std::string_view> authorization) const;

 private:
  using Hash = std::array<unsigned char, 32>;
  explicit AdminCredential(Hash hash) : hash_(hash) {}
  Hash hash_;
};

struct AdminCredential::Opened {
  AdminCredential credential;
  // Set only when this call generated a new random token.
  std::optional<std::string> generated_token;
  // Whether this call stored the hash (open_shared; open() leaves it false).
  bool created = false;
};

// The initial token from the environment (BERTH_INITIAL_ADMIN_TOKEN), when set and non-empty.
std::optional<std::string> initial_admin_token_from_environment();

}  // namespace berth::auth
