#include "oci/digest.h"

// The low-level SHA functions rather than EVP: they run the same assembly (SHA-NI, AVX2), but
// EVP's first use loads OpenSSL 3's provider tables, about 2 MiB of resident memory that a
// registry serving plain HTTP never needs otherwise.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>

#include <cstring>
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

  std::uint64_t byte_count() const {
    if (const auto* sha512 = std::get_if<SHA512_CTX>(&state)) {
      // A 128-bit count of bits in (Nh, Nl); byte counts below 2^64 fit in the low 67 bits.
      return (sha512->Nh << 61) | (sha512->Nl >> 3);
    }
    const auto& sha256 = std::get<SHA256_CTX>(state);
    return ((std::uint64_t{sha256.Nh} << 32) | sha256.Nl) >> 3;
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

// ------------------------------------------------------------------ exported state
//
// An exported hash state, version 1 (integers big-endian):
//
//   offset  size       field
//   0       1          version: 1
//   1       1          algorithm: 1 = sha256, 2 = sha512
//   2       8          byte count: the bytes hashed so far, below 2^61
//   10      32 | 64    chaining value: the 8 state words (4 bytes each for sha256, 8 for sha512)
//   ...     count % B  the bytes of the last, incomplete block (B = 64 for sha256, 128 for
//                      sha512), not yet run through the compression function
//   ...     32         SHA-256 of every byte before it
//
// Field by field rather than a copy of OpenSSL's context struct, so that a state stays valid
// across OpenSSL versions, compilers and machines; the checksum makes a damaged record (a torn
// write, a flipped bit) fail to import instead of resuming a hash that silently differs.

namespace {

constexpr std::uint8_t kStateVersion = 1;
constexpr std::uint8_t kStateSha256 = 1;
constexpr std::uint8_t kStateSha512 = 2;
constexpr std::size_t kStateHeader = 1 + 1 + 8;
constexpr std::size_t kStateChecksum = SHA256_DIGEST_LENGTH;
// A count of bits must fit the 64 bits SHA-256 keeps it in.
constexpr std::uint64_t kMaxStateBytes = std::uint64_t{1} << 61;

template <class Word>
void put_big_endian(std::vector<std::byte>& out, Word value) {
  for (int shift = static_cast<int>(sizeof(Word)) * 8 - 8; shift >= 0; shift -= 8) {
    out.push_back(static_cast<std::byte>((value >> shift) & 0xff));
  }
}

template <class Word>
Word get_big_endian(const std::byte* in) {
  Word value = 0;
  for (std::size_t i = 0; i < sizeof(Word); ++i) {
    value = static_cast<Word>((value << 8) | std::to_integer<Word>(in[i]));
  }
  return value;
}

void append_checksum(std::vector<std::byte>& record) {
  unsigned char sum[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(record.data()), record.size(), sum);
  const auto* first = reinterpret_cast<const std::byte*>(sum);
  record.insert(record.end(), first, first + sizeof(sum));
}

bool checksum_matches(std::span<const std::byte> record) {
  if (record.size() < kStateChecksum) return false;
  const std::size_t body = record.size() - kStateChecksum;
  unsigned char sum[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(record.data()), body, sum);
  return std::memcmp(sum, record.data() + body, sizeof(sum)) == 0;
}

// Writes the header, chaining value and partial block of one context type.
template <class Word>
void export_fields(std::vector<std::byte>& out, std::uint8_t algorithm, std::uint64_t count,
                   const Word (&words)[8], const unsigned char* block, std::size_t block_size) {
  out.push_back(std::byte{kStateVersion});
  out.push_back(std::byte{algorithm});
  put_big_endian(out, count);
  for (Word word : words) put_big_endian(out, word);
  const auto* tail = reinterpret_cast<const std::byte*>(block);
  out.insert(out.end(), tail, tail + count % block_size);
}

}  // namespace

std::vector<std::byte> Hasher::export_state() const {
  std::vector<std::byte> out;
  const std::uint64_t count = context_->byte_count();
  if (const auto* sha512 = std::get_if<SHA512_CTX>(&context_->state)) {
    out.reserve(kStateHeader + 64 + SHA512_CBLOCK + kStateChecksum);
    export_fields(out, kStateSha512, count, sha512->h, sha512->u.p, SHA512_CBLOCK);
  } else {
    const auto& sha256 = std::get<SHA256_CTX>(context_->state);
    out.reserve(kStateHeader + 32 + SHA256_CBLOCK + kStateChecksum);
    // OpenSSL keeps the unprocessed bytes of SHA-256 in `data` in message order.
    export_fields(out, kStateSha256, count, sha256.h,
                  reinterpret_cast<const unsigned char*>(sha256.data), SHA256_CBLOCK);
  }
  append_checksum(out);
  return out;
}

std::optional<Hasher> Hasher::import_state(std::span<const std::byte> state) {
  if (state.size() < kStateHeader + kStateChecksum || !checksum_matches(state)) {
    return std::nullopt;
  }
  if (std::to_integer<std::uint8_t>(state[0]) != kStateVersion) return std::nullopt;
  const auto algorithm_code = std::to_integer<std::uint8_t>(state[1]);
  if (algorithm_code != kStateSha256 && algorithm_code != kStateSha512) return std::nullopt;
  const bool is_sha512 = algorithm_code == kStateSha512;
  const std::uint64_t count = get_big_endian<std::uint64_t>(state.data() + 2);
  if (count >= kMaxStateBytes) return std::nullopt;
  const std::size_t word_size = is_sha512 ? 8 : 4;
  const std::size_t block_size = is_sha512 ? SHA512_CBLOCK : SHA256_CBLOCK;
  const std::size_t tail = static_cast<std::size_t>(count % block_size);
  if (state.size() != kStateHeader + 8 * word_size + tail + kStateChecksum) return std::nullopt;

  const std::byte* words = state.data() + kStateHeader;
  const std::byte* partial = words + 8 * word_size;
  Hasher hasher(is_sha512 ? DigestAlgorithm::sha512 : DigestAlgorithm::sha256);
  if (is_sha512) {
    auto& context = std::get<SHA512_CTX>(hasher.context_->state);
    for (std::size_t i = 0; i < 8; ++i) {
      context.h[i] = get_big_endian<std::uint64_t>(words + i * word_size);
    }
    context.Nl = count << 3;
    context.Nh = count >> 61;
    std::memcpy(context.u.p, partial, tail);
    context.num = static_cast<unsigned int>(tail);
  } else {
    auto& context = std::get<SHA256_CTX>(hasher.context_->state);
    for (std::size_t i = 0; i < 8; ++i) {
      context.h[i] = get_big_endian<std::uint32_t>(words + i * word_size);
    }
    const std::uint64_t bits = count << 3;
    context.Nl = static_cast<SHA_LONG>(bits & 0xffffffffu);
    context.Nh = static_cast<SHA_LONG>(bits >> 32);
    std::memcpy(context.data, partial, tail);
    context.num = static_cast<unsigned int>(tail);
  }
  return hasher;
}

std::uint64_t Hasher::byte_count() const { return context_->byte_count(); }

// ------------------------------------------------------------------ hasher

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
