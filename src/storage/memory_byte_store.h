#pragma once
// MemoryByteStore: a ByteStore kept entirely in process memory, for unit tests of the layers
// above. Same semantics as FilesystemByteStore (it runs the same driver suite); nothing survives
// the last object sharing the memory.

#include <memory>

#include "storage/byte_store.h"

namespace berth::storage {

class MemoryByteStore final : public ByteStore {
 public:
  MemoryByteStore();
  ~MemoryByteStore() override;

  // Another store object on the same memory: what a second node on shared storage would see
  // (tests of resuming an upload elsewhere).
  std::unique_ptr<MemoryByteStore> share() const;

  Result<BlobInfo> stat(const oci::Digest& digest) override;
  Result<std::unique_ptr<BlobReader>> open(const oci::Digest& digest) override;
  Result<void> remove(const oci::Digest& digest) override;
  Result<BlobListing> list_blobs(std::string_view after, std::size_t limit) override;
  Result<BlobInfo> store(const oci::Digest& digest, std::span<const std::byte> bytes) override;

  Result<std::unique_ptr<UploadBytes>> create_upload(std::string_view id) override;
  Result<std::unique_ptr<UploadBytes>> open_upload(std::string_view id) override;
  Result<std::uint64_t> upload_size(std::string_view id) override;
  Result<void> delete_upload(std::string_view id) override;
  Result<std::vector<std::string>> list_uploads() override;
  Result<void> check_writable() override;

  // The memory, shared with upload handles, which may outlive the store object.
  struct State;

 private:
  explicit MemoryByteStore(std::shared_ptr<State> state);

  std::shared_ptr<State> state_;
};

}  // namespace berth::storage
