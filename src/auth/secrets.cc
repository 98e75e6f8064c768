#include "auth/secrets.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <new>

#include "auth/encoding.h"

namespace berth::auth {
namespace {

namespace fs = std::filesystem;

using KeyBytes = std::array<unsigned char, 32>;

constexpr std::string_view kKeyedHashPrefix = "k1$";
constexpr std::string_view kSealedPrefix = "s1$";
constexpr std::string_view kArgon2idPrefix = "$argon2id$";
constexpr std::size_t kGeneratedSecretBytes = 32;

static_assert(crypto_secretbox_KEYBYTES == std::tuple_size_v<KeyBytes>);
static_assert(crypto_generichash_KEYBYTES_MAX >= std::tuple_size_v<KeyBytes>);

SecretError io_error(const fs::path& path, std::string_view what, int error) {
  return SecretError{SecretErrc::io_error,
                     fmt::format("cannot {} {}: {}", what, path.string(), std::strerror(error))};
}

SecretError corrupt_key_file(const fs::path& path) {
  return SecretError{SecretErrc::corrupt,
                     fmt::format("{} does not hold a 32-byte key; restore it from a backup "
                                 "(values sealed with the old key cannot be read without it)",
                                 path.string())};
}

// Reads the whole file when it exists; nullopt when it does not.
SecretResult<std::optional<std::string>> read_key_file(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::optional<std::string>();
    return io_error(path, "open", errno);
  }
  std::string content;
  char buffer[64];
  for (;;) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      int error = errno;
      ::close(fd);
      return io_error(path, "read", error);
    }
    if (n == 0) break;
    content.append(buffer, static_cast<std::size_t>(n));
    // Anything longer than a key is corrupt; no need to read a huge file to say so.
    if (content.size() > sizeof(KeyBytes)) break;
  }
  ::close(fd);
  return std::optional<std::string>(std::move(content));
}

SecretResult<KeyBytes> key_from_file_content(const fs::path& path, std::string_view content) {
  KeyBytes key{};
  if (content.size() != key.size()) return corrupt_key_file(path);
  std::memcpy(key.data(), content.data(), key.size());
  return key;
}

void sync_directory(const fs::path& directory) {
  int fd = ::open(directory.empty() ? "." : directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    (void)::fsync(fd);
    ::close(fd);
  }
}

// Writes `key` to a temporary file (mode 0600, synced) and links it into place. link() fails
// when the key file exists, so when two processes start on one fresh data directory, exactly
// one key wins and the other process reads it back instead of overwriting it.
SecretResult<void> create_key_file(const fs::path& path, const KeyBytes& key) {
  // A unique temporary name (mkstemp, mode 0600): concurrent openers never share one.
  std::string pattern = path.string();
  pattern += ".XXXXXX";
  int fd = ::mkostemp(pattern.data(), O_CLOEXEC);
  if (fd < 0) return io_error(path, "create", errno);
  fs::path temporary = pattern;
  auto fail = [&](std::string_view what) {
    int error = errno;
    ::close(fd);
    ::unlink(temporary.c_str());
    return io_error(temporary, what, error);
  };
  std::size_t written = 0;
  while (written < key.size()) {
    ssize_t n = ::write(fd, key.data() + written, key.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail("write");
    }
    written += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) return fail("sync");
  ::close(fd);
  int linked = ::link(temporary.c_str(), path.c_str());
  int link_error = errno;
  ::unlink(temporary.c_str());
  if (linked != 0 && link_error != EEXIST) return io_error(path, "create", link_error);
  sync_directory(path.parent_path());
  return {};
}

SecretResult<KeyBytes> key_from_environment(std::string_view value) {
  auto decoded = detail::base64_decode(value);
  KeyBytes key{};
  if (!decoded || decoded->size() != key.size()) {
    if (decoded) sodium_memzero(decoded->data(), decoded->size());
    return SecretError{SecretErrc::invalid_argument,
                       fmt::format("{} must be the base64 of 32 bytes", kDeploymentKeyVariable)};
  }
  std::memcpy(key.data(), decoded->data(), key.size());
  sodium_memzero(decoded->data(), decoded->size());
  return key;
}

SecretResult<KeyBytes> key_from_data_dir(const fs::path& data_dir) {
  fs::path path = data_dir / kDeploymentKeyFile;
  auto stored = read_key_file(path);
  if (!stored) return stored.error();
  if (*stored) return key_from_file_content(path, **stored);

  KeyBytes fresh{};
  randombytes_buf(fresh.data(), fresh.size());
  if (auto created = create_key_file(path, fresh); !created) return created.error();
  sodium_memzero(fresh.data(), fresh.size());
  // Read back rather than trusting `fresh`: another process may have created the file first.
  auto written = read_key_file(path);
  if (!written) return written.error();
  if (!*written) return io_error(path, "read", ENOENT);
  return key_from_file_content(path, **written);
}

}  // namespace

std::string generate_secret() {
  detail::ensure_sodium();
  std::array<unsigned char, kGeneratedSecretBytes> bytes{};
  randombytes_buf(bytes.data(), bytes.size());
  std::string secret = detail::base64url_encode(
      std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  sodium_memzero(bytes.data(), bytes.size());
  return secret;
}

bool equal_constant_time(std::string_view a, std::string_view b) {
  detail::ensure_sodium();
  if (a.size() != b.size()) return false;
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

SecretResult<DeploymentKey> DeploymentKey::open(const fs::path& data_dir,
                                                std::optional<std::string_view> environment_value) {
  detail::ensure_sodium();
  auto key = environment_value && !environment_value->empty()
                 ? key_from_environment(*environment_value)
                 : key_from_data_dir(data_dir);
  if (!key) return key.error();
  DeploymentKey opened(*key);
  sodium_memzero(key->data(), key->size());
  return opened;
}

DeploymentKey DeploymentKey::from_bytes(const std::array<unsigned char, 32>& bytes) {
  detail::ensure_sodium();
  return DeploymentKey(bytes);
}

std::string DeploymentKey::keyed_hash(std::string_view secret) const {
  std::array<unsigned char, 32> hash{};
  crypto_generichash(hash.data(), hash.size(),
                     reinterpret_cast<const unsigned char*>(secret.data()), secret.size(),
                     key_.data(), key_.size());
  std::string stored(kKeyedHashPrefix);
  std::array<char, 2 * 32 + 1> hex{};
  sodium_bin2hex(hex.data(), hex.size(), hash.data(), hash.size());
  stored.append(hex.data(), 2 * hash.size());
  return stored;
}

std::string DeploymentKey::seal(std::string_view plaintext) const {
  std::string box(crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + plaintext.size(), '\0');
  auto* nonce = reinterpret_cast<unsigned char*>(box.data());
  randombytes_buf(nonce, crypto_secretbox_NONCEBYTES);
  crypto_secretbox_easy(nonce + crypto_secretbox_NONCEBYTES,
                        reinterpret_cast<const unsigned char*>(plaintext.data()), plaintext.size(),
                        nonce, key_.data());
  std::string sealed(kSealedPrefix);
  sealed += detail::base64_encode(box);
  return sealed;
}

SecretResult<std::string> DeploymentKey::unseal(std::string_view sealed) const {
  auto corrupt = [] {
    return SecretError{SecretErrc::corrupt,
                       "not a sealed value of this deployment key (wrong key or damaged)"};
  };
  if (!sealed.starts_with(kSealedPrefix)) return corrupt();
  auto box = detail::base64_decode(sealed.substr(kSealedPrefix.size()));
  if (!box || box->size() < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES) {
    return corrupt();
  }
  const auto* nonce = reinterpret_cast<const unsigned char*>(box->data());
  const unsigned char* ciphertext = nonce + crypto_secretbox_NONCEBYTES;
  std::size_t ciphertext_size = box->size() - crypto_secretbox_NONCEBYTES;
  std::string plaintext(ciphertext_size - crypto_secretbox_MACBYTES, '\0');
  if (crypto_secretbox_open_easy(reinterpret_cast<unsigned char*>(plaintext.data()), ciphertext,
                                 ciphertext_size, nonce, key_.data()) != 0) {
    return corrupt();
  }
  return plaintext;
}

std::string hash_generated_secret(const DeploymentKey& key, std::string_view secret) {
  return key.keyed_hash(secret);
}

std::string hash_password(std::string_view password) {
  detail::ensure_sodium();
  char stored[crypto_pwhash_STRBYTES];
  // The only failure is the memory argon2id needs (64 MiB at the interactive limit); the
  // process is then out of memory, which C++ reports this way everywhere else too.
  if (crypto_pwhash_str(stored, password.data(), password.size(),
                        crypto_pwhash_OPSLIMIT_INTERACTIVE,
                        crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
    throw std::bad_alloc();
  }
  return std::string(stored);
}

bool verify_secret(const DeploymentKey& key, std::string_view secret, std::string_view stored) {
  detail::ensure_sodium();
  if (stored.starts_with(kKeyedHashPrefix)) {
    return equal_constant_time(key.keyed_hash(secret), stored);
  }
  if (stored.starts_with(kArgon2idPrefix)) {
    // libsodium reads the stored hash as a C string: refuse one that could not be.
    if (stored.size() >= crypto_pwhash_STRBYTES || stored.find('\0') != std::string_view::npos) {
      return false;
    }
    std::string terminated(stored);
    return crypto_pwhash_str_verify(terminated.c_str(), secret.data(), secret.size()) == 0;
  }
  return false;
}

}  // namespace berth::auth
