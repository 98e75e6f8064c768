#pragma once
// Content digests ("sha256:<64 hex>", "sha512:<128 hex>") and incremental hashing (OpenSSL's SHA
// functions), with a running state that can be saved and resumed.

#include <compare>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

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

// Incremental hash. Copyable (the copy continues independently), and its running state can be
// exported and imported, so an upload's hash can be kept between requests, also by another
// process.
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
  // How many bytes were given so far (also through an imported state).
  std::uint64_t byte_count() const;

  // The running state as a self-describing record (the format is drawn in digest.cc): a version,
  // the algorithm, the byte count, the chaining value, the unprocessed tail of the last block and
  // a checksum. Portable across machines; a few hundred bytes at most.
  std::vector<std::byte> export_state() const;
  // A hasher continuing from an exported state; nullopt for anything export_state() did not
  // produce: an unknown version or algorithm, a wrong length, a failed checksum.
  static std::optional<Hasher> import_state(std::span<const std::byte> state);

 private:
  struct Context;
  DigestAlgorithm algorithm_;
  std::unique_ptr<Context> context_;
};

Digest digest_of(std::string_view bytes, DigestAlgorithm algorithm = DigestAlgorithm::sha256);

}  // namespace berth::oci
