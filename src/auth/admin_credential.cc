// SHA256_Init and friends are deprecated in OpenSSL 3 but still the lean path; see sha256().
#define OPENSSL_SUPPRESS_DEPRECATED

#include "auth/admin_credential.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/ids.h"

namespace berth::auth {
namespace {

namespace fs = std::filesystem;

// 256 bits.
constexpr std::size_t kGeneratedTokenBytes = 32;
constexpr char kHexDigits[] = "0123456789abcdef";

using Hash = std::array<unsigned char, 32>;

// SHA256_Init/Update/Final rather than the one-shot SHA256(), which in OpenSSL 3 goes through
// EVP and loads the provider tables (about 2 MiB resident) for one hash at start-up.
Hash sha256(std::string_view text) {
  Hash hash{};
  SHA256_CTX context;
  SHA256_Init(&context);
  SHA256_Update(&context, text.data(), text.size());
  SHA256_Final(hash.data(), &context);
  return hash;
}

std::string to_hex(const Hash& hash) {
  std::string hex;
  hex.reserve(hash.size() * 2);
  for (unsigned char c : hash) {
    hex.push_back(kHexDigits[c >> 4]);
    hex.push_back(kHexDigits[c & 0xf]);
  }
  return hex;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<Hash> from_hex(std::string_view hex) {
  Hash hash{};
  if (hex.size() != hash.size() * 2) return std::nullopt;
  for (std::size_t i = 0; i < hash.size(); ++i) {
    int high = hex_value(hex[2 * i]);
    int low = hex_value(hex[2 * i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    hash[i] = static_cast<unsigned char>(high << 4 | low);
  }
  return hash;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  return text;
}

bool printable_ascii(std::string_view text) {
  for (char c : text) {
    if (c <= ' ' || c > '~') return false;
  }
  return true;
}

AuthError io_error(const fs::path& path, std::string_view what, int error) {
  return AuthError{Errc::io_error,
                   fmt::format("cannot {} {}: {}", what, path.string(), std::strerror(error))};
}

// Writes the hash to a temporary file created with mode 0600, syncs it and renames it into
// place, so a crash never leaves a partial hash that would lock the administrator out.
Result<void> write_hash_file(const fs::path& path, const Hash& hash) {
  fs::path temporary = path;
  temporary += ".tmp";
  ::unlink(temporary.c_str());
  int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return io_error(temporary, "create", errno);
  std::string line = to_hex(hash) + "\n";
  std::size_t written = 0;
  while (written < line.size()) {
    ssize_t n = ::write(fd, line.data() + written, line.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      int error = errno;
      ::close(fd);
      ::unlink(temporary.c_str());
      return io_error(temporary, "write", error);
    }
    written += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    int error = errno;
    ::close(fd);
    ::unlink(temporary.c_str());
    return io_error(temporary, "sync", error);
  }
  ::close(fd);
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    int error = errno;
    ::unlink(temporary.c_str());
    return io_error(path, "create", error);
  }
  int dir = ::open(path.parent_path().empty() ? "." : path.parent_path().c_str(),
                   O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    (void)::fsync(dir);
    ::close(dir);
  }
  return {};
}

Result<std::optional<Hash>> read_hash_file(const fs::path& path) {
  std::ifstream in(path);
  if (!in) {
    std::error_code ec;
    if (!fs::exists(path, ec) && !ec) return std::optional<Hash>();
    return io_error(path, "read", errno ? errno : EIO);
  }
  std::ostringstream content;
  content << in.rdbuf();
  auto hash = from_hex(trim(content.str()));
  if (!hash) {
    return AuthError{Errc::corrupt,
                     fmt::format("{} does not hold a SHA-256 in hex; remove it to create a new "
                                 "administrator token",
                                 path.string())};
  }
  return std::optional<Hash>(*hash);
}

}  // namespace

namespace {

struct ChosenToken {
  std::string token;
  std::optional<std::string> generated;  // set when made here, to be shown once
};

// The token a first start stores: the operator's initial one when given, else a new one.
Result<ChosenToken> choose_token(std::optional<std::string_view> initial_token) {
  if (initial_token && !initial_token->empty()) {
    if (initial_token->size() < kMinTokenLength || !printable_ascii(*initial_token)) {
      return AuthError{Errc::invalid_argument,
                       fmt::format("{} must be at least {} printable ASCII characters without "
                                   "spaces",
                                   kInitialAdminTokenVariable, kMinTokenLength)};
    }
    return ChosenToken{std::string(*initial_token), std::nullopt};
  }
  std::string token = random_hex(kGeneratedTokenBytes);
  return ChosenToken{token, token};
}

Result<Hash> stored_hash(std::string_view hex) {
  auto hash = from_hex(hex);
  if (!hash) {
    return AuthError{Errc::corrupt,
                     fmt::format("the deployment setting {} does not hold a SHA-256 in hex",
                                 kAdminTokenSetting)};
  }
  return *hash;
}

}  // namespace

Result<AdminCredential::Opened> AdminCredential::open(
    const fs::path& data_dir, std::optional<std::string_view> initial_token) {
  fs::path path = data_dir / kAdminTokenFile;
  auto stored = read_hash_file(path);
  if (!stored) return stored.error();
  if (*stored) return Opened{AdminCredential(**stored), std::nullopt};

  auto chosen = choose_token(initial_token);
  if (!chosen) return chosen.error();
  Hash hash = sha256(chosen->token);
  if (auto written = write_hash_file(path, hash); !written) return written.error();
  return Opened{AdminCredential(hash), std::move(chosen->generated)};
}

Result<AdminCredential::Opened> AdminCredential::open_shared(
    metadata::CoordinationStore& settings, std::optional<std::string_view> initial_token) {
  auto stored = settings.deployment_setting(kAdminTokenSetting);
  if (!stored) {
    return AuthError{Errc::io_error,
                     "reading the administrator token's hash: " + stored.error().message};
  }
  if (*stored) {
    auto hash = stored_hash(**stored);
    if (!hash) return hash.error();
    return Opened{AdminCredential(*hash), std::nullopt, false};
  }
  auto chosen = choose_token(initial_token);
  if (!chosen) return chosen.error();
  const Hash hash = sha256(chosen->token);
  const std::string mine = to_hex(hash);
  // Nodes starting together race here; every one of them gets the winner's hash.
  auto winner = settings.ensure_deployment_setting(kAdminTokenSetting, mine);
  if (!winner) {
    return AuthError{Errc::io_error,
                     "storing the administrator token's hash: " + winner.error().message};
  }
  if (*winner != mine) {
    auto theirs = stored_hash(*winner);
    if (!theirs) return theirs.error();
    return Opened{AdminCredential(*theirs), std::nullopt, false};
  }
  return Opened{AdminCredential(hash), std::move(chosen->generated), true};
}

Result<std::optional<std::string>> AdminCredential::stored_hash_hex(const fs::path& data_dir) {
  auto stored = read_hash_file(data_dir / kAdminTokenFile);
  if (!stored) return stored.error();
  if (!*stored) return std::optional<std::string>();
  return std::optional<std::string>(to_hex(**stored));
}

AdminCredential AdminCredential::for_token(std::string_view token) {
  return AdminCredential(sha256(token));
}

bool AdminCredential::verify(std::string_view token) const {
  // Comparing fixed-size hashes keeps the time independent of where a guess differs and of
  // its length.
  Hash presented = sha256(token);
  return CRYPTO_memcmp(presented.data(), hash_.data(), hash_.size()) == 0;
}

bool AdminCredential::verify_authorization(std::optional<std::string_view> authorization) const {
  if (!authorization) return false;
  std::string_view value = trim(*authorization);
  constexpr std::string_view kScheme = "bearer";
  if (value.size() <= kScheme.size()) return false;
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(value[i])) != kScheme[i]) return false;
  }
  if (value[kScheme.size()] != ' ') return false;
  std::string_view token = trim(value.substr(kScheme.size() + 1));
  if (token.empty()) return false;
  return verify(token);
}

std::optional<std::string> initial_admin_token_from_environment() {
  const char* value = std::getenv(std::string(kInitialAdminTokenVariable).c_str());
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string(value);
}

}  // namespace berth::auth
