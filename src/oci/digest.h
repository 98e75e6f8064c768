#pragma once
// Content digests ("sha256:<64 hex>", "sha512:<128 hex>") and incremental hashing (OpenSSL EVP).

#include <compare>
#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace berth::oci {

enum class DigestAlgorithm { sha256, sha512 };

// Canonical name ("sha256") and hex length (64) of an algorithm.
std::string_view algorithm_name(DigestAlgorithm algorithm);
std::size_t hex_length(DigestAlgorithm algorithm);

// A validated digest of a supported algorithm, lower-case hex of the right length.
class Digest {
 public:
  // nullopt when `text` is not "<supported algorithm>:<lower-case hex of the right length>".
  static std::optional<Digest> parse(std::string_view text);

  DigestAlgorithm algorithm() const { return algorithm_; }
  std::string_view hex() const;
  const std::string& str() const { return value_; }

  friend bool operator==(const Digest& a, const Digest& b) { return a.value_ == b.value_; }
  friend auto operator<=>(const Digest& a, const Digest& b) { return a.value_ <=> b.value_; }

 private:
  Digest(DigestAlgorithm algorithm, std::string value)
      : algorithm_(algorithm), value_(std::move(value)) {}
  friend class Hasher;

  DigestAlgorithm algorithm_;
  std::string value_;
};

// Incremental hash. Copyable (the copy continues independently), so an upload's state can be
// kept between requests.
class Hasher {
 public:
  explicit Hasher(DigestAlgorithm algorithm = DigestAlgorithm::sha256);
  Hasher(const Hasher& other);
  Hasher& operator=(const Hasher& other);
  Hasher(Hasher&&) noexcept;
  Hasher& operator=(Hasher&&) noexcept;
  ~Hasher();

  DigestAlgorithm algorithm() const { return algorithm_; }
  void update(std::span<const std::byte> data);
  void update(std::string_view data);
  // The digest of everything given so far; the hasher itself is left unchanged.
  Digest digest() const;

 private:
  struct Context;
  DigestAlgorithm algorithm_;
  std::unique_ptr<Context> context_;
};

Digest digest_of(std::string_view bytes, DigestAlgorithm algorithm = DigestAlgorithm::sha256);

}  // namespace berth::oci
