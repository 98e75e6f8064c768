#pragma once
// MemoryBlobStorage: a BlobStorage kept entirely in process memory, for unit tests of the layers
// above. Same semantics as FilesystemBlobStorage (it runs the same conformance suite), nothing
// survives the object.

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "storage/blob_storage.h"

namespace berth::storage {

class MemoryBlobStorage final : public BlobStorage {
 public:
  MemoryBlobStorage();
  ~MemoryBlobStorage() override;

  Result<BlobInfo> stat(const oci::Digest& digest) override;
  Result<std::unique_ptr<BlobReader>> open(const oci::Digest& digest) override;
  Result<void> remove(const oci::Digest& digest) override;
  Result<BlobListing> list_blobs(std::string_view after, std::size_t limit) override;
  Result<BlobInfo> put(const oci::Digest& expected, std::span<const std::byte> bytes) override;

  Result<std::unique_ptr<UploadWriter>> create_upload(std::string_view id) override;
  Result<std::unique_ptr<UploadWriter>> open_upload(std::string_view id) override;
  Result<std::uint64_t> upload_size(std::string_view id) override;
  Result<void> delete_upload(std::string_view id) override;
  Result<std::vector<std::string>> list_uploads() override;
  Result<void> check_writable() override;

  // State shared with writers, which may outlive the storage object.
  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace berth::storage
