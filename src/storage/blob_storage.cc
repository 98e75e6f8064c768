#include "storage/blob_storage.h"

#include <utility>

namespace berth::storage {

BlobStorage::BlobStorage(std::unique_ptr<ByteStore> driver) : driver_(std::move(driver)) {}

BlobStorage::~BlobStorage() = default;

Result<BlobInfo> BlobStorage::stat(const oci::Digest& digest) { return driver_->stat(digest); }

Result<std::unique_ptr<BlobReader>> BlobStorage::open(const oci::Digest& digest) {
  return driver_->open(digest);
}

Result<void> BlobStorage::remove(const oci::Digest& digest) { return driver_->remove(digest); }

Result<BlobListing> BlobStorage::list_blobs(std::string_view after, std::size_t limit) {
  return driver_->list_blobs(after, limit);
}

Result<std::optional<std::string>> BlobStorage::direct_read_url(const oci::Digest& digest,
                                                                std::chrono::seconds lifetime) {
  return driver_->direct_read_url(digest, lifetime);
}

Result<BlobInfo> BlobStorage::put(const oci::Digest& expected, std::span<const std::byte> bytes) {
  oci::Hasher hasher(expected.algorithm());
  hasher.update(bytes);
  if (oci::Digest actual = hasher.digest(); actual != expected) {
    return StorageError{Errc::digest_mismatch,
                        "content digest " + actual.str() + " does not match " + expected.str()};
  }
  return driver_->store(expected, bytes);
}

Result<std::unique_ptr<UploadWriter>> BlobStorage::create_upload(std::string_view id) {
  auto bytes = driver_->create_upload(id);
  if (!bytes) return bytes.error();
  return UploadWriter::start(std::move(*bytes));
}

Result<std::unique_ptr<UploadWriter>> BlobStorage::open_upload(std::string_view id) {
  auto bytes = driver_->open_upload(id);
  if (!bytes) return bytes.error();
  return UploadWriter::resume(std::move(*bytes));
}

Result<std::uint64_t> BlobStorage::upload_size(std::string_view id) {
  return driver_->upload_size(id);
}

Result<void> BlobStorage::delete_upload(std::string_view id) { return driver_->delete_upload(id); }

Result<std::vector<std::string>> BlobStorage::list_uploads() { return driver_->list_uploads(); }

Result<void> BlobStorage::check_writable() { return driver_->check_writable(); }

}  // namespace berth::storage
