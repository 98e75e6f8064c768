#pragma once
// FilesystemBlobStorage: blobs and upload sessions as plain files under one root directory (the
// embedded default). The layout is drawn at the top of filesystem_blob_storage.cc.
//
// The root is owned by one process: open() clears staging leftovers of an earlier run (without
// following symbolic links), and
// the one-writer-per-upload rule is enforced in-process only. Uploads survive a restart (a new
// object on the same root resumes them).

#include <filesystem>
#include <memory>

#include "storage/blob_storage.h"

namespace berth::storage {

class FilesystemBlobStorage final : public BlobStorage {
 public:
  // Opens (creating if missing) the storage under `root` and checks that it is a writable
  // directory. io_error naming the path and the reason when it is not usable; invalid_argument
  // for an empty path.
  static Result<std::unique_ptr<FilesystemBlobStorage>> open(std::filesystem::path root);

  ~FilesystemBlobStorage() override;

  const std::filesystem::path& root() const;

  Result<BlobInfo> stat(const oci::Digest& digest) override;
  // The reader's native_handle() is the blob's file descriptor (for sendfile).
  Result<std::unique_ptr<BlobReader>> open(const oci::Digest& digest) override;
  Result<void> remove(const oci::Digest& digest) override;
  Result<BlobListing> list_blobs(std::string_view after, std::size_t limit) override;
  Result<BlobInfo> put(const oci::Digest& expected, std::span<const std::byte> bytes) override;

  Result<std::unique_ptr<UploadWriter>> create_upload(std::string_view id) override;
  Result<std::unique_ptr<UploadWriter>> open_upload(std::string_view id) override;
  Result<std::uint64_t> upload_size(std::string_view id) override;
  Result<void> delete_upload(std::string_view id) override;
  Result<std::vector<std::string>> list_uploads() override;
  // Writes and removes a one-page probe file in tmp/.
  Result<void> check_writable() override;

  // State shared with writers, which may outlive the storage object.
  struct State;

 private:
  explicit FilesystemBlobStorage(std::shared_ptr<State> state);

  std::shared_ptr<State> state_;
};

}  // namespace berth::storage
