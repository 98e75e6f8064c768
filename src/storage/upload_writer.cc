#include "storage/upload_writer.h"

#include <algorithm>
#include <optional>
#include <string>
#include <utility>

namespace berth::storage {
namespace {

// The algorithm hashed while bytes arrive: what nearly every client pushes.
constexpr oci::DigestAlgorithm kRunningAlgorithm = oci::DigestAlgorithm::sha256;
// Large enough that hashing a multi-GiB upload again is a few thousand reads.
constexpr std::size_t kReadBufferSize = std::size_t{1} << 20;

StorageError gone() { return {Errc::not_found, "upload not found: it was committed or removed"}; }

StorageError mismatch(const oci::Digest& expected, const oci::Digest& actual) {
  return {Errc::digest_mismatch,
          "content digest " + actual.str() + " does not match " + expected.str()};
}

// Feeds bytes [from, to) of the upload to `hasher`.
Result<void> hash_range(UploadBytes& bytes, oci::Hasher& hasher, std::uint64_t from,
                        std::uint64_t to) {
  if (from >= to) return {};
  auto buffer = std::make_unique_for_overwrite<std::byte[]>(kReadBufferSize);
  std::uint64_t offset = from;
  while (offset < to) {
    const auto want =
        static_cast<std::size_t>(std::min<std::uint64_t>(kReadBufferSize, to - offset));
    auto n = bytes.read(offset, std::span<std::byte>(buffer.get(), want));
    if (!n) return n.error();
    if (*n == 0) {
      std::string message = "upload holds fewer bytes than its size: read ended at byte ";
      message += std::to_string(offset);
      message += " of ";
      message += std::to_string(to);
      return StorageError{Errc::io_error, std::move(message)};
    }
    hasher.update(std::span<const std::byte>(buffer.get(), *n));
    offset += *n;
  }
  return {};
}

// The saved state when it can be trusted for this upload: well formed, of the running
// algorithm, and covering no more than the `size` bytes the upload holds.
std::optional<oci::Hasher> usable_state(std::span<const std::byte> record, std::uint64_t size) {
  auto hasher = oci::Hasher::import_state(record);
  if (!hasher || hasher->algorithm() != kRunningAlgorithm || hasher->byte_count() > size) {
    return std::nullopt;
  }
  return hasher;
}

}  // namespace

Result<std::unique_ptr<UploadWriter>> UploadWriter::resume(std::unique_ptr<UploadBytes> bytes) {
  const std::uint64_t size = bytes->size();
  auto record = bytes->load_state();
  if (!record) return record.error();
  std::optional<oci::Hasher> saved = usable_state(*record, size);
  oci::Hasher hasher = saved ? std::move(*saved) : oci::Hasher(kRunningAlgorithm);
  if (auto hashed = hash_range(*bytes, hasher, hasher.byte_count(), size); !hashed) {
    return hashed.error();
  }
  const bool state_is_current = !record->empty() && hasher.export_state() == *record;
  return std::unique_ptr<UploadWriter>(
      new UploadWriter(std::move(bytes), std::move(hasher), state_is_current));
}

UploadWriter::UploadWriter(std::unique_ptr<UploadBytes> bytes, oci::Hasher hasher,
                           bool state_is_current)
    : bytes_(std::move(bytes)),
      hasher_(std::move(hasher)),
      kept_hasher_(hasher_),
      state_is_current_(state_is_current) {}

UploadWriter::~UploadWriter() = default;

std::uint64_t UploadWriter::size() const { return bytes_->size(); }

Result<void> UploadWriter::usable() const {
  if (done_) return gone();
  if (broken_) {
    return StorageError{Errc::io_error,
                        "upload is in an unknown state after a failed revert; reopen it"};
  }
  return {};
}

Result<void> UploadWriter::append(std::span<const std::byte> data) {
  if (auto r = usable(); !r) return r;
  if (data.empty()) return {};
  if (auto written = bytes_->append(data); !written) return written;
  // Hashed right after the write, while the bytes are still in cache. The driver took all of
  // them (or none, above), so the hash stays the hash of the upload.
  hasher_.update(data);
  return {};
}

Result<void> UploadWriter::revert() {
  if (done_) return gone();
  if (auto reverted = bytes_->revert(); !reverted) {
    broken_ = true;
    return reverted;
  }
  hasher_ = kept_hasher_;
  broken_ = false;
  return {};
}

Result<void> UploadWriter::discard() {
  if (done_) return gone();
  if (auto discarded = bytes_->discard(); !discarded) return discarded;
  done_ = true;
  return {};
}

Result<void> UploadWriter::flush() {
  if (auto r = usable(); !r) return r;
  if (auto flushed = bytes_->flush(); !flushed) return flushed;
  const bool moved = hasher_.byte_count() != kept_hasher_.byte_count();
  kept_hasher_ = hasher_;
  if (moved) state_is_current_ = false;
  if (!state_is_current_) {
    // The bytes are durable already; a state that fails to save leaves the older one, which
    // covers fewer bytes and still resumes correctly (or none, and the next writer rehashes).
    state_is_current_ = bool(bytes_->save_state(hasher_.export_state()));
  }
  return {};
}

Result<BlobInfo> UploadWriter::commit(const oci::Digest& expected) {
  if (auto r = usable(); !r) return r.error();
  const std::uint64_t size = bytes_->size();
  oci::Digest actual = hasher_.digest();
  if (expected.algorithm() != hasher_.algorithm()) {
    // Rare (sha512 pushes): hash the upload again. Its last bytes may be staged only, and
    // an object store reads what is committed, so flush first.
    if (auto flushed = bytes_->flush(); !flushed) return flushed.error();
    kept_hasher_ = hasher_;
    oci::Hasher other(expected.algorithm());
    if (auto hashed = hash_range(*bytes_, other, 0, size); !hashed) return hashed.error();
    actual = other.digest();
  }
  if (actual != expected) {
    // The content is refused for good: no later request can make these bytes match.
    (void)bytes_->discard();
    done_ = true;
    return mismatch(expected, actual);
  }
  auto committed = bytes_->commit_as(expected);
  if (!committed) return committed.error();
  done_ = true;
  return BlobInfo{expected, size};
}

}  // namespace berth::storage
