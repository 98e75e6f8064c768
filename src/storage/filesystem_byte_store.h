#pragma once
// FilesystemByteStore: the ByteStore driver keeping blobs and upload sessions as plain files
// under one root directory (the embedded default). The layout is drawn at the top of
// filesystem_byte_store.cc.
//
// Several processes may share one root (a local disk, or a network file system with POSIX
// locks): an upload's one-handle rule holds across them through an open-file-description lock
// on its data file (where the file system has no locks, within one ByteStore object only), and
// opening a root removes only staging files old enough to be a crashed run's.
//
// Appends of whole aligned blocks bypass the page cache (O_DIRECT) and writeback starts early,
// so that pushing large blobs costs little CPU and commit's fdatasync finds little left to do.

#include <filesystem>
#include <memory>

#include "storage/byte_store.h"

namespace berth::storage {

class FilesystemByteStore final : public ByteStore {
 public:
  // Opens (creating if missing) the storage under `root` and checks that it is a writable
  // directory. io_error naming the path and the reason when it is not usable; invalid_argument
  // for an empty path.
  static Result<std::unique_ptr<FilesystemByteStore>> open(std::filesystem::path root);

  ~FilesystemByteStore() override;

  const std::filesystem::path& root() const;

  Result<BlobInfo> stat(const oci::Digest& digest) override;
  // The reader's native_handle() is the blob's file descriptor (for sendfile).
  Result<std::unique_ptr<BlobReader>> open(const oci::Digest& digest) override;
  Result<void> remove(const oci::Digest& digest) override;
  Result<BlobListing> list_blobs(std::string_view after, std::size_t limit) override;
  Result<BlobInfo> store(const oci::Digest& digest, std::span<const std::byte> bytes) override;

  Result<std::unique_ptr<UploadBytes>> create_upload(std::string_view id) override;
  Result<std::unique_ptr<UploadBytes>> open_upload(std::string_view id) override;
  Result<std::uint64_t> upload_size(std::string_view id) override;
  Result<void> delete_upload(std::string_view id) override;
  Result<std::vector<std::string>> list_uploads() override;
  // Writes and removes a one-page probe file in tmp/.
  Result<void> check_writable() override;

  // State shared with upload handles, which may outlive the store object.
  struct State;

 private:
  explicit FilesystemByteStore(std::shared_ptr<State> state);

  std::shared_ptr<State> state_;
};

}  // namespace berth::storage
