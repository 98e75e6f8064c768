#pragma once
// BlobStorage: the driver interface for blob bytes and upload sessions. Content-addressed: one
// copy per digest, written once, verified on the way in. Drivers: FilesystemBlobStorage (the
// embedded default), MemoryBlobStorage (unit tests). Every driver passes the one conformance
// suite in storage/conformance_test.cc.
//
// Thread safety: every method may be called concurrently from any thread. One UploadWriter is
// used by one thread at a time; the registry layer never opens two writers on the same upload
// at once, but a driver must still fail cleanly (Errc::upload_busy) rather than corrupt data.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "oci/digest.h"
#include "storage/byte_store.h"

namespace berth::storage {

// Appends to one upload session. Bytes are hashed as they arrive. Destroying the writer
// without commit() keeps the upload (resumable by a later open_upload()) with everything
// appended through it; revert() first when those bytes must not count.
class UploadWriter {
 public:
  virtual ~UploadWriter() = default;
  // Total bytes in the upload so far (including earlier requests).
  virtual std::uint64_t size() const = 0;
  // Appends all of `data` or, on failure, nothing (the upload keeps its previous size).
  virtual Result<void> append(std::span<const std::byte> data) = 0;
  // Drops every byte appended since the writer was opened or last flushed successfully: the
  // upload returns to that size and hash. This is how a request that fails midway (a body
  // shorter or longer than announced, a broken connection, a full disk) leaves its session as
  // it found it.
  virtual Result<void> revert() = 0;
  // Removes the upload and its bytes while this writer still holds it, so that no other writer
  // can slip in between. Afterwards every call but size() returns not_found.
  virtual Result<void> discard() = 0;
  // Makes appended bytes durable so that the upload survives a crash (used between requests;
  // commit() implies it). They are then kept: a later revert() stops here.
  virtual Result<void> flush() = 0;
  // Verifies the content hashes to `expected` (sha256 or sha512), makes it durable and moves
  // it to its content-addressed place (keeping the existing copy when the digest is already
  // stored). The upload is removed on success and on digest_mismatch; on io_error it stays.
  // After the upload is removed, every call but size() returns not_found.
  virtual Result<BlobInfo> commit(const oci::Digest& expected) = 0;
};

class BlobStorage {
 public:
  virtual ~BlobStorage() = default;

  virtual Result<BlobInfo> stat(const oci::Digest& digest) = 0;
  virtual Result<std::unique_ptr<BlobReader>> open(const oci::Digest& digest) = 0;
  // Removes the bytes of a blob. not_found when absent.
  virtual Result<void> remove(const oci::Digest& digest) = 0;
  // Committed blobs whose digest text ("algorithm:hex") sorts after `after` (empty: from the
  // start), in that order, at most `limit`: the keyset walk garbage collection uses to find
  // bytes the metadata does not know. Ordering by digest text is ordering by object name in a
  // content-addressed layout, so an object store serves a page with one listing request.
  virtual Result<BlobListing> list_blobs(std::string_view after, std::size_t limit) = 0;

  // Stores a small blob in one step (used for manifests-as-blobs and tests). Verifies and
  // commits like an upload.
  virtual Result<BlobInfo> put(const oci::Digest& expected, std::span<const std::byte> bytes) = 0;

  // Upload ids are chosen by the caller: [A-Za-z0-9-]{1,64}.
  // invalid_argument for a malformed id or one that already names an upload.
  virtual Result<std::unique_ptr<UploadWriter>> create_upload(std::string_view id) = 0;
  // Reopens an existing upload, also after a restart. upload_busy if a writer is open.
  virtual Result<std::unique_ptr<UploadWriter>> open_upload(std::string_view id) = 0;
  virtual Result<std::uint64_t> upload_size(std::string_view id) = 0;
  // Drops an upload and its bytes. not_found when absent; upload_busy while a writer is open.
  virtual Result<void> delete_upload(std::string_view id) = 0;
  // Ids of every upload present, with or without an open writer (for sweeping orphans).
  virtual Result<std::vector<std::string>> list_uploads() = 0;

  // Proves that a small write succeeds now: storage_full when the medium has no room left,
  // io_error when it fails otherwise. Cheap enough for every health check.
  virtual Result<void> check_writable() = 0;
};

}  // namespace berth::storage
