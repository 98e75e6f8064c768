#include "storage/memory_byte_store.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "common/clock.h"

namespace berth::storage {

using Bytes = std::vector<std::byte>;

struct MemoryByteStore::State {
  struct Upload {
    Bytes data;
    std::uint64_t durable_size = 0;  // what revert() returns to
    Bytes record;
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

using State = MemoryByteStore::State;

StorageError invalid_id(std::string_view id) {
  return {Errc::invalid_argument, "malformed upload id '" + std::string(id.substr(0, 80)) + "'"};
}

StorageError upload_not_found(std::string_view id) {
  return {Errc::not_found, "upload " + std::string(id) + " not found"};
}

StorageError upload_busy(std::string_view id) {
  return {Errc::upload_busy, "upload " + std::string(id) + " has an open writer"};
}

StorageError blob_not_found(const oci::Digest& digest) {
  return {Errc::not_found, "blob " + digest.str() + " not found"};
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

class MemoryUploadBytes final : public UploadBytes {
 public:
  MemoryUploadBytes(std::shared_ptr<State> state, std::string id, std::uint64_t size)
      : state_(std::move(state)), id_(std::move(id)), size_(size) {}

  ~MemoryUploadBytes() override {
    if (done_) return;
    std::lock_guard lock(state_->mutex);
    if (auto* upload = find_locked()) upload->busy = false;
  }

  std::uint64_t size() const override { return size_; }

  Result<void> append(std::span<const std::byte> data) override {
    std::lock_guard lock(state_->mutex);
    auto* upload = find_locked();
    if (upload == nullptr) return upload_not_found(id_);
    upload->data.insert(upload->data.end(), data.begin(), data.end());
    size_ += data.size();
    return {};
  }

  Result<void> flush() override {
    std::lock_guard lock(state_->mutex);
    auto* upload = find_locked();
    if (upload == nullptr) return upload_not_found(id_);
    upload->durable_size = upload->data.size();
    return {};
  }

  Result<void> revert() override {
    std::lock_guard lock(state_->mutex);
    auto* upload = find_locked();
    if (upload == nullptr) return upload_not_found(id_);
    upload->data.resize(upload->durable_size);
    size_ = upload->durable_size;
    return {};
  }

  Result<void> discard() override {
    std::lock_guard lock(state_->mutex);
    if (find_locked() == nullptr) return upload_not_found(id_);
    state_->uploads.erase(id_);
    done_ = true;
    return {};
  }

  Result<std::size_t> read(std::uint64_t offset, std::span<std::byte> out) override {
    std::lock_guard lock(state_->mutex);
    auto* upload = find_locked();
    if (upload == nullptr) return upload_not_found(id_);
    if (offset >= upload->data.size()) return std::size_t{0};
    std::size_t n = std::min<std::uint64_t>(out.size(), upload->data.size() - offset);
    std::memcpy(out.data(), upload->data.data() + offset, n);
    return n;
  }

  Result<void> save_state(std::span<const std::byte> record) override {
    if (record.size() > kMaxUploadStateBytes) {
      return StorageError{Errc::invalid_argument, "upload record larger than allowed"};
    }
    std::lock_guard lock(state_->mutex);
    auto* upload = find_locked();
    if (upload == nullptr) return upload_not_found(id_);
    upload->record.assign(record.begin(), record.end());
    return {};
  }

  Result<std::vector<std::byte>> load_state() override {
    std::lock_guard lock(state_->mutex);
    auto* upload = find_locked();
    if (upload == nullptr) return upload_not_found(id_);
    return upload->record;
  }

  Result<BlobInfo> commit_as(const oci::Digest& digest) override {
    std::lock_guard lock(state_->mutex);
    auto* upload = find_locked();
    if (upload == nullptr) return upload_not_found(id_);
    BlobInfo info{digest, upload->data.size()};
    state_->store_locked(digest, std::move(upload->data));
    state_->uploads.erase(id_);
    done_ = true;
    return info;
  }

 private:
  // The upload this handle holds, or nullptr once it is gone. Caller holds the mutex.
  State::Upload* find_locked() {
    if (done_) return nullptr;
    auto it = state_->uploads.find(id_);
    return it == state_->uploads.end() ? nullptr : &it->second;
  }

  std::shared_ptr<State> state_;
  std::string id_;
  std::uint64_t size_;
  bool done_ = false;  // committed or discarded: the upload no longer exists
};

}  // namespace

MemoryByteStore::MemoryByteStore() : state_(std::make_shared<State>()) {}
MemoryByteStore::MemoryByteStore(std::shared_ptr<State> state) : state_(std::move(state)) {}
MemoryByteStore::~MemoryByteStore() = default;

std::unique_ptr<MemoryByteStore> MemoryByteStore::share() const {
  return std::unique_ptr<MemoryByteStore>(new MemoryByteStore(state_));
}

Result<BlobInfo> MemoryByteStore::stat(const oci::Digest& digest) {
  std::lock_guard lock(state_->mutex);
  auto it = state_->blobs.find(digest.str());
  if (it == state_->blobs.end()) return blob_not_found(digest);
  return BlobInfo{digest, it->second->size()};
}

Result<std::unique_ptr<BlobReader>> MemoryByteStore::open(const oci::Digest& digest) {
  std::lock_guard lock(state_->mutex);
  auto it = state_->blobs.find(digest.str());
  if (it == state_->blobs.end()) return blob_not_found(digest);
  return std::unique_ptr<BlobReader>(std::make_unique<MemoryBlobReader>(it->second));
}

Result<void> MemoryByteStore::remove(const oci::Digest& digest) {
  std::lock_guard lock(state_->mutex);
  if (state_->blobs.erase(digest.str()) == 0) return blob_not_found(digest);
  state_->stored_at.erase(digest.str());
  return {};
}

Result<BlobListing> MemoryByteStore::list_blobs(std::string_view after, std::size_t limit) {
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

Result<BlobInfo> MemoryByteStore::store(const oci::Digest& digest,
                                        std::span<const std::byte> bytes) {
  std::lock_guard lock(state_->mutex);
  state_->store_locked(digest, Bytes(bytes.begin(), bytes.end()));
  return BlobInfo{digest, bytes.size()};
}

Result<std::unique_ptr<UploadBytes>> MemoryByteStore::create_upload(std::string_view id) {
  if (!is_valid_upload_id(id)) return invalid_id(id);
  std::lock_guard lock(state_->mutex);
  auto [it, inserted] = state_->uploads.try_emplace(std::string(id));
  if (!inserted) {
    if (it->second.busy) return upload_busy(id);
    return StorageError{Errc::invalid_argument, "upload " + std::string(id) + " already exists"};
  }
  it->second.busy = true;
  return std::unique_ptr<UploadBytes>(
      std::make_unique<MemoryUploadBytes>(state_, std::string(id), 0));
}

Result<std::unique_ptr<UploadBytes>> MemoryByteStore::open_upload(std::string_view id) {
  if (!is_valid_upload_id(id)) return invalid_id(id);
  std::lock_guard lock(state_->mutex);
  auto it = state_->uploads.find(id);
  if (it == state_->uploads.end()) return upload_not_found(id);
  if (it->second.busy) return upload_busy(id);
  it->second.busy = true;
  // What an earlier handle appended without flushing is kept, as a file would keep it.
  it->second.durable_size = it->second.data.size();
  return std::unique_ptr<UploadBytes>(
      std::make_unique<MemoryUploadBytes>(state_, std::string(id), it->second.data.size()));
}

Result<std::uint64_t> MemoryByteStore::upload_size(std::string_view id) {
  if (!is_valid_upload_id(id)) return invalid_id(id);
  std::lock_guard lock(state_->mutex);
  auto it = state_->uploads.find(id);
  if (it == state_->uploads.end()) return upload_not_found(id);
  return std::uint64_t{it->second.data.size()};
}

Result<void> MemoryByteStore::delete_upload(std::string_view id) {
  if (!is_valid_upload_id(id)) return invalid_id(id);
  std::lock_guard lock(state_->mutex);
  auto it = state_->uploads.find(id);
  if (it == state_->uploads.end()) return upload_not_found(id);
  if (it->second.busy) return upload_busy(id);
  state_->uploads.erase(it);
  return {};
}

Result<std::vector<std::string>> MemoryByteStore::list_uploads() {
  std::lock_guard lock(state_->mutex);
  std::vector<std::string> ids;
  for (const auto& [id, upload] : state_->uploads) ids.push_back(id);
  return ids;
}

Result<void> MemoryByteStore::check_writable() { return {}; }

}  // namespace berth::storage
