#pragma once
// BlobStorage: the blob store the registry uses. Content-addressed: one copy per digest, written
// once, verified on the way in. It owns one ByteStore driver (storage/byte_store.h:
// FilesystemByteStore, MemoryByteStore, ...), which keeps bytes only; this layer does the
// hashing and the verification, the same for every driver, through the UploadWriter
// (storage/upload_writer.h) it hands out for upload sessions.
//
// Thread safety: every method may be called concurrently from any thread. One UploadWriter is
// used by one thread at a time; the registry layer never opens two writers on the same upload
// at once, and the driver refuses a second one (Errc::upload_busy) rather than corrupt data.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "oci/digest.h"
#include "storage/byte_store.h"
#include "storage/upload_writer.h"

namespace berth::storage {

class BlobStorage {
 public:
  explicit BlobStorage(std::unique_ptr<ByteStore> driver);
  BlobStorage(const BlobStorage&) = delete;
  BlobStorage& operator=(const BlobStorage&) = delete;
  ~BlobStorage();

  ByteStore& driver() { return *driver_; }

  Result<BlobInfo> stat(const oci::Digest& digest);
  Result<std::unique_ptr<BlobReader>> open(const oci::Digest& digest);
  // Removes the bytes of a blob. not_found when absent.
  Result<void> remove(const oci::Digest& digest);
  // The keyset walk over committed blobs (see ByteStore::list_blobs).
  Result<BlobListing> list_blobs(std::string_view after, std::size_t limit);

  // A short-lived URL from which a client may download the blob straight from the medium, or
  // std::nullopt when the driver has none (see ByteStore::direct_read_url: the lifetime limits,
  // what the URL grants, and that it is not checked against the medium).
  Result<std::optional<std::string>> direct_read_url(const oci::Digest& digest,
                                                     std::chrono::seconds lifetime);

  // Stores a small blob in one step (used for manifests-as-blobs and tests): digest_mismatch
  // (and nothing stored) unless `bytes` hash to `expected`.
  Result<BlobInfo> put(const oci::Digest& expected, std::span<const std::byte> bytes);

  // Upload ids are chosen by the caller: [A-Za-z0-9-]{1,64}.
  // invalid_argument for a malformed id or one that already names an upload.
  Result<std::unique_ptr<UploadWriter>> create_upload(std::string_view id);
  // Reopens an existing upload, also after a restart or on another node: the hash continues
  // from the state saved with the upload. upload_busy if a writer is open.
  Result<std::unique_ptr<UploadWriter>> open_upload(std::string_view id);
  Result<std::uint64_t> upload_size(std::string_view id);
  // Drops an upload and its bytes. not_found when absent; upload_busy while a writer is open.
  Result<void> delete_upload(std::string_view id);
  // Ids of every upload present, with or without an open writer (for sweeping orphans).
  Result<std::vector<std::string>> list_uploads();

  // Proves that a small write succeeds now: storage_full when the medium has no room left,
  // io_error when it fails otherwise. Cheap enough for every health check.
  Result<void> check_writable();

 private:
  std::unique_ptr<ByteStore> driver_;
};

}  // namespace berth::storage
