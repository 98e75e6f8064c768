#pragma once
// UploadWriter: the one verifying writer of an upload session, above any ByteStore driver. It
// hashes bytes as they arrive (while they are still hot in cache), keeps its resumable hash
// state with the upload (UploadBytes::save_state) so that the next request, on this node or
// another, continues the hash instead of rereading the upload, and verifies the digest at
// commit before the driver moves the bytes to their content-addressed place.
//
// The saved state is an optimisation, never the truth: the upload's bytes are. On open the
// writer resumes from the saved state only when it is well formed (oci::Hasher::import_state
// checks version, fields and checksum) and covers no more bytes than the upload holds; it then
// hashes the rest from the upload. A missing, damaged or foreign state, or one ahead of the
// bytes, makes it hash the whole upload again. That is sound because the bytes below an upload's
// durable size never change (revert() stops at the last flush) and a new upload starts without
// a state, so a well-formed state of n bytes describes exactly the upload's first n bytes.
//
// One writer is used by one thread at a time; it may outlive the BlobStorage that opened it.

#include <cstdint>
#include <memory>
#include <span>

#include "oci/digest.h"
#include "storage/byte_store.h"

namespace berth::storage {

class UploadWriter {
 public:
  // A writer continuing `bytes` (a handle just created or opened): loads the saved hash state
  // and hashes what it does not cover. Errors of the driver (reading the state or the bytes)
  // are returned as they are.
  static Result<std::unique_ptr<UploadWriter>> resume(std::unique_ptr<UploadBytes> bytes);

  UploadWriter(const UploadWriter&) = delete;
  UploadWriter& operator=(const UploadWriter&) = delete;
  ~UploadWriter();

  // Total bytes in the upload so far (including earlier requests).
  std::uint64_t size() const;
  // Appends all of `data` or, on failure, nothing (the upload keeps its previous size).
  Result<void> append(std::span<const std::byte> data);
  // Drops every byte appended since the writer was opened or last flushed successfully: the
  // upload returns to that size and hash. This is how a request that fails midway (a body
  // shorter or longer than announced, a broken connection, a full disk) leaves its session as
  // it found it.
  Result<void> revert();
  // Removes the upload and its bytes while this writer still holds it, so that no other writer
  // can slip in between. Afterwards every call but size() returns not_found.
  Result<void> discard();
  // Makes appended bytes durable so that the upload survives a crash and any node can continue
  // it (used between requests), then saves the hash state with it. They are then kept: a later
  // revert() stops here. Failing to save the state does not fail the flush: the bytes are
  // durable, and the next writer hashes what the older state does not cover.
  Result<void> flush();
  // Verifies the content hashes to `expected` (sha256 as it arrived; sha512 by hashing the
  // upload again, after a flush), then has the driver move it to its content-addressed place
  // (keeping the existing copy when the digest is already stored). The upload is removed on
  // success and on digest_mismatch; on io_error it stays. After the upload is removed, every
  // call but size() returns not_found. Destroying a writer without commit() or discard() keeps
  // the upload for the next writer, with at least the bytes of the last flush.
  Result<BlobInfo> commit(const oci::Digest& expected);

 private:
  UploadWriter(std::unique_ptr<UploadBytes> bytes, oci::Hasher hasher, bool state_is_current);
  Result<void> usable() const;

  std::unique_ptr<UploadBytes> bytes_;
  // sha256 of every byte in the upload, and of the bytes up to the durable size (for revert).
  oci::Hasher hasher_;
  oci::Hasher kept_hasher_;
  // Whether the state saved with the upload is the one of kept_hasher_, so flush can skip
  // saving it again.
  bool state_is_current_;
  bool broken_ = false;  // a failed revert left bytes and hash apart: reopen the upload
  bool done_ = false;    // committed, rejected or discarded: the upload no longer exists
};

}  // namespace berth::storage
