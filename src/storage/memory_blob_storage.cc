#include "storage/memory_blob_storage.h"

#include <algorithm>
#include <cstring>

#include "common/clock.h"

namespace berth::storage {

using Bytes = std::vector<std::byte>;

struct MemoryBlobStorage::State {
  struct Upload {
    Bytes data;
    oci::Hasher hasher{oci::DigestAlgorithm::sha256};
    bool busy = false;
  };

  std::mutex mutex;
  // Committed blobs are immutable; readers share them so remove() never pulls bytes from under
  // an open reader.
  std::map<std::string, std::shared_ptr<const Bytes>, std::less<>> blobs;
  std::map<std::string, Upload, std::less<>> uploads;
  std::map<std::string, std::int64_t, std::less<>> stored_at;  // Unix seconds, per blob

  // Stores `bytes` under `digest` unless a copy exists. Caller holds the mutex.
  void store_locked(const oci::Digest& digest, Bytes bytes) {
    if (blobs.find(digest.str()) != blobs.end()) return;
    blobs.emplace(digest.str(), std::make_shared<const Bytes>(std::move(bytes)));
    stored_at[digest.str()] = unix_now();
  }
};

namespace {

using State = MemoryBlobStorage::State;

StorageError invalid_id(std::string_view id) {
  return {Errc::invalid_argument, "malformed upload id '" + std::string(id.substr(0, 80)) + "'"};
}

StorageError upload_not_found(std::string_view id) {
  return {Errc::not_found, "upload " + std::string(id) + " not found"};
}

StorageError mismatch(const oci::Digest& expected, const oci::Digest& actual) {
  return {Errc::digest_mismatch,
          "content digest " + actual.str() + " does not match " + expected.str()};
}

class MemoryBlobReader final : public BlobReader {
 public:
  explicit MemoryBlobReader(std::shared_ptr<const Bytes> bytes) : bytes_(std::move(bytes)) {}

  std::uint64_t size() const override { return bytes_->size(); }

  Result<std::size_t> read(std::uint64_t offset, std::span<std::byte> out) override {
    if (offset >= bytes_->size()) return std::size_t{0};
    std::size_t n = std::min<std::uint64_t>(out.size(), bytes_->size() - offset);
    std::memcpy(out.data(), bytes_->data() + offset, n);
    return n;
  }

 private:
  std::shared_ptr<const Bytes> bytes_;
};

class MemoryUploadWriter final : public UploadWriter {
 public:
  MemoryUploadWriter(std::shared_ptr<State> state, std::string id, std::uint64_t size,
                     oci::Hasher hasher)
      : state_(std::move(state)),
        id_(std::move(id)),
        size_(size),
        kept_size_(size),
        kept_hasher_(std::move(hasher)) {}

  ~MemoryUploadWriter() override {
    if (done_) return;
    std::lock_guard lock(state_->mutex);
    auto it = state_->uploads.find(id_);
    if (it != state_->uploads.end()) it->second.busy = false;
  }

  std::uint64_t size() const override { return size_; }

  Result<void> append(std::span<const std::byte> data) override {
    if (done_) return upload_not_found(id_);
    std::lock_guard lock(state_->mutex);
    auto it = state_->uploads.find(id_);
    if (it == state_->uploads.end()) return upload_not_found(id_);
    it->second.data.insert(it->second.data.end(), data.begin(), data.end());
    it->second.hasher.update(data);
    size_ += data.size();
    return {};
  }

  Result<void> revert() override {
    if (done_) return upload_not_found(id_);
    std::lock_guard lock(state_->mutex);
    auto it = state_->uploads.find(id_);
    if (it == state_->uploads.end()) return upload_not_found(id_);
    it->second.data.resize(kept_size_);
    it->second.hasher = kept_hasher_;
    size_ = kept_size_;
    return {};
  }

  Result<void> discard() override {
    if (done_) return upload_not_found(id_);
    std::lock_guard lock(state_->mutex);
    state_->uploads.erase(id_);
    done_ = true;
    return {};
  }

  Result<void> flush() override {
    if (done_) return upload_not_found(id_);
    std::lock_guard lock(state_->mutex);
    auto it = state_->uploads.find(id_);
    if (it == state_->uploads.end()) return upload_not_found(id_);
    kept_size_ = size_;
    kept_hasher_ = it->second.hasher;
    return {};
  }

  Result<BlobInfo> commit(const oci::Digest& expected) override {
    if (done_) return upload_not_found(id_);
    std::lock_guard lock(state_->mutex);
    auto it = state_->uploads.find(id_);
    if (it == state_->uploads.end()) return upload_not_found(id_);
    State::Upload& upload = it->second;
    oci::Digest actual = upload.hasher.digest();
    if (expected.algorithm() != oci::DigestAlgorithm::sha256) {
      oci::Hasher other(expected.algorithm());
      other.update(upload.data);
      actual = other.digest();
    }
    BlobInfo info{expected, upload.data.size()};
    Bytes data = std::move(upload.data);
    state_->uploads.erase(it);
    done_ = true;
    if (actual != expected) return mismatch(expected, actual);
    state_->store_locked(expected, std::move(data));
    return info;
  }

 private:
  std::shared_ptr<State> state_;
  std::string id_;
  std::uint64_t size_ = 0;
  std::uint64_t kept_size_ = 0;
  oci::Hasher kept_hasher_;
  bool done_ = false;  // committed or rejected: the upload no longer exists
};

}  // namespace

MemoryBlobStorage::MemoryBlobStorage() : state_(std::make_shared<State>()) {}
MemoryBlobStorage::~MemoryBlobStorage() = default;

Result<BlobInfo> MemoryBlobStorage::stat(const oci::Digest& digest) {
  std::lock_guard lock(state_->mutex);
  auto it = state_->blobs.find(digest.str());
  if (it == state_->blobs.end())
    return StorageError{Errc::not_found, "blob " + digest.str() + " not found"};
  return BlobInfo{digest, it->second->size()};
}

Result<std::unique_ptr<BlobReader>> MemoryBlobStorage::open(const oci::Digest& digest) {
  std::lock_guard lock(state_->mutex);
  auto it = state_->blobs.find(digest.str());
  if (it == state_->blobs.end())
    return StorageError{Errc::not_found, "blob " + digest.str() + " not found"};
  return std::unique_ptr<BlobReader>(std::make_unique<MemoryBlobReader>(it->second));
}

Result<void> MemoryBlobStorage::remove(const oci::Digest& digest) {
  std::lock_guard lock(state_->mutex);
  if (state_->blobs.erase(digest.str()) == 0) {
    return StorageError{Errc::not_found, "blob " + digest.str() + " not found"};
  }
  state_->stored_at.erase(digest.str());
  return {};
}

Result<BlobListing> MemoryBlobStorage::list_blobs(std::string_view after, std::size_t limit) {
  std::lock_guard lock(state_->mutex);
  BlobListing listing;
  for (auto it = state_->blobs.upper_bound(after);
       it != state_->blobs.end() && listing.blobs.size() < limit; ++it) {
    auto digest = oci::Digest::parse(it->first);
    if (!digest) continue;
    listing.blobs.push_back({*digest, it->second->size(), state_->stored_at[it->first]});
  }
  if (listing.blobs.size() == limit && limit > 0) listing.next = listing.blobs.back().digest.str();
  return listing;
}

Result<BlobInfo> MemoryBlobStorage::put(const oci::Digest& expected,
                                        std::span<const std::byte> bytes) {
  oci::Hasher hasher(expected.algorithm());
  hasher.update(bytes);
  oci::Digest actual = hasher.digest();
  if (actual != expected) return mismatch(expected, actual);
  std::lock_guard lock(state_->mutex);
  state_->store_locked(expected, Bytes(bytes.begin(), bytes.end()));
  return BlobInfo{expected, bytes.size()};
}

Result<std::unique_ptr<UploadWriter>> MemoryBlobStorage::create_upload(std::string_view id) {
  if (!is_valid_upload_id(id)) return invalid_id(id);
  std::lock_guard lock(state_->mutex);
  auto [it, inserted] = state_->uploads.try_emplace(std::string(id));
  if (!inserted) {
    if (it->second.busy) {
      return StorageError{Errc::upload_busy, "upload " + std::string(id) + " has an open writer"};
    }
    return StorageError{Errc::invalid_argument, "upload " + std::string(id) + " already exists"};
  }
  it->second.busy = true;
  return std::unique_ptr<UploadWriter>(
      std::make_unique<MemoryUploadWriter>(state_, std::string(id), 0, it->second.hasher));
}

Result<std::unique_ptr<UploadWriter>> MemoryBlobStorage::open_upload(std::string_view id) {
  if (!is_valid_upload_id(id)) return invalid_id(id);
  std::lock_guard lock(state_->mutex);
  auto it = state_->uploads.find(id);
  if (it == state_->uploads.end()) return upload_not_found(id);
  if (it->second.busy) {
    return StorageError{Errc::upload_busy, "upload " + std::string(id) + " has an open writer"};
  }
  it->second.busy = true;
  return std::unique_ptr<UploadWriter>(
      std::make_unique<MemoryUploadWriter>(state_, std::string(id), it->second.data.size(),
                                           it->second.hasher));
}

Result<std::uint64_t> MemoryBlobStorage::upload_size(std::string_view id) {
  if (!is_valid_upload_id(id)) return invalid_id(id);
  std::lock_guard lock(state_->mutex);
  auto it = state_->uploads.find(id);
  if (it == state_->uploads.end()) return upload_not_found(id);
  return std::uint64_t{it->second.data.size()};
}

Result<void> MemoryBlobStorage::delete_upload(std::string_view id) {
  if (!is_valid_upload_id(id)) return invalid_id(id);
  std::lock_guard lock(state_->mutex);
  auto it = state_->uploads.find(id);
  if (it == state_->uploads.end()) return upload_not_found(id);
  if (it->second.busy) {
    return StorageError{Errc::upload_busy, "upload " + std::string(id) + " has an open writer"};
  }
  state_->uploads.erase(it);
  return {};
}

Result<std::vector<std::string>> MemoryBlobStorage::list_uploads() {
  std::lock_guard lock(state_->mutex);
  std::vector<std::string> ids;
  for (const auto& [id, upload] : state_->uploads) ids.push_back(id);
  return ids;
}

Result<void> MemoryBlobStorage::check_writable() { return {}; }

}  // namespace berth::storage
