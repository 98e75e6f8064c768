#include "oci/digest.h"

#include <openssl/evp.h>

#include <stdexcept>

namespace berth::oci {
namespace {

const EVP_MD* evp_of(DigestAlgorithm algorithm) {
  return algorithm == DigestAlgorithm::sha512 ? EVP_sha512() : EVP_sha256();
}

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
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ~Context() { EVP_MD_CTX_free(ctx); }
};

Hasher::Hasher(DigestAlgorithm algorithm)
    : algorithm_(algorithm), context_(std::make_unique<Context>()) {
  if (context_->ctx == nullptr ||
      EVP_DigestInit_ex(context_->ctx, evp_of(algorithm), nullptr) != 1) {
    throw std::runtime_error("cannot initialise the digest context");
  }
}

Hasher::Hasher(const Hasher& other)
    : algorithm_(other.algorithm_), context_(std::make_unique<Context>()) {
  if (context_->ctx == nullptr || EVP_MD_CTX_copy_ex(context_->ctx, other.context_->ctx) != 1) {
    throw std::runtime_error("cannot copy the digest context");
  }
}

Hasher& Hasher::operator=(const Hasher& other) {
  if (this != &other) {
    Hasher copy(other);
    *this = std::move(copy);
  }
  return *this;
}

Hasher::Hasher(Hasher&&) noexcept = default;
Hasher& Hasher::operator=(Hasher&&) noexcept = default;
Hasher::~Hasher() = default;

void Hasher::update(std::span<const std::byte> data) {
  EVP_DigestUpdate(context_->ctx, data.data(), data.size());
}

void Hasher::update(std::string_view data) {
  EVP_DigestUpdate(context_->ctx, data.data(), data.size());
}

Digest Hasher::digest() const {
  // Finalise a copy so the running state can keep absorbing data.
  Hasher copy(*this);
  unsigned char raw[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(copy.context_->ctx, raw, &length);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string value(algorithm_name(algorithm_));
  value.push_back(':');
  for (unsigned int i = 0; i < length; ++i) {
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
