#include "oci/digest.h"

// The low-level SHA functions rather than EVP: they run the same assembly (SHA-NI, AVX2), but
// EVP's first use loads OpenSSL 3's provider tables, about 2 MiB of resident memory that a
// registry serving plain HTTP never needs otherwise.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>

#include <variant>

namespace berth::oci {
namespace {

bool is_lower_hex(std::string_view text) {
  for (char c : text) {
    bool digit = c >= '0' && c <= '9';
    bool letter = c >= 'a' && c <= 'f';
    if (!digit && !letter) return false;
  }
  return true;
}

}  // namespace

std::string_view algorithm_name(DigestAlgorithm algorithm) {
  return algorithm == DigestAlgorithm::sha512 ? "sha512" : "sha256";
}

std::size_t hex_length(DigestAlgorithm algorithm) {
  return algorithm == DigestAlgorithm::sha512 ? 128 : 64;
}

std::optional<Digest> Digest::parse(std::string_view text) {
  auto colon = text.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  std::string_view name = text.substr(0, colon);
  std::string_view hex = text.substr(colon + 1);
  DigestAlgorithm algorithm;
  if (name == "sha256") {
    algorithm = DigestAlgorithm::sha256;
  } else if (name == "sha512") {
    algorithm = DigestAlgorithm::sha512;
  } else {
    return std::nullopt;
  }
  if (hex.size() != hex_length(algorithm) || !is_lower_hex(hex)) return std::nullopt;
  return Digest(algorithm, std::string(text));
}

std::string_view Digest::hex() const {
  return std::string_view(value_).substr(algorithm_name(algorithm_).size() + 1);
}

struct Hasher::Context {
  std::variant<SHA256_CTX, SHA512_CTX> state;

  explicit Context(DigestAlgorithm algorithm) {
    if (algorithm == DigestAlgorithm::sha512) {
      SHA512_Init(&state.emplace<SHA512_CTX>());
    } else {
      SHA256_Init(&state.emplace<SHA256_CTX>());
    }
  }

  void update(const void* data, std::size_t size) {
    if (auto* sha512 = std::get_if<SHA512_CTX>(&state)) {
      SHA512_Update(sha512, data, size);
    } else {
      SHA256_Update(&std::get<SHA256_CTX>(state), data, size);
    }
  }

  // Finishes a copy, so the running state can keep absorbing data. Returns the digest length.
  std::size_t final_copy(unsigned char* out) const {
    auto copy = state;
    if (auto* sha512 = std::get_if<SHA512_CTX>(&copy)) {
      SHA512_Final(out, sha512);
      return SHA512_DIGEST_LENGTH;
    }
    SHA256_Final(out, &std::get<SHA256_CTX>(copy));
    return SHA256_DIGEST_LENGTH;
  }
};

Hasher::Hasher(DigestAlgorithm algorithm)
    : algorithm_(algorithm), context_(std::make_unique<Context>(algorithm)) {}

Hasher::Hasher(const Hasher& other)
    : algorithm_(other.algorithm_), context_(std::make_unique<Context>(*other.context_)) {}

Hasher& Hasher::operator=(const Hasher& other) {
  if (this != &other) {
    algorithm_ = other.algorithm_;
    context_ = std::make_unique<Context>(*other.context_);
  }
  return *this;
}

Hasher::Hasher(Hasher&&) noexcept = default;
Hasher& Hasher::operator=(Hasher&&) noexcept = default;
Hasher::~Hasher() = default;

void Hasher::update(std::span<const std::byte> data) { context_->update(data.data(), data.size()); }

void Hasher::update(std::string_view data) { context_->update(data.data(), data.size()); }

Digest Hasher::digest() const {
  unsigned char raw[SHA512_DIGEST_LENGTH];
  std::size_t length = context_->final_copy(raw);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string value(algorithm_name(algorithm_));
  value.push_back(':');
  for (std::size_t i = 0; i < length; ++i) {
    value.push_back(kHex[raw[i] >> 4]);
    value.push_back(kHex[raw[i] & 0xf]);
  }
  return Digest(algorithm_, std::move(value));
}

Digest digest_of(std::string_view bytes, DigestAlgorithm algorithm) {
  Hasher hasher(algorithm);
  hasher.update(bytes);
  return hasher.digest();
}

}  // namespace berth::oci
