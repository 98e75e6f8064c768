#pragma once
// berthd migrate, the bytes: every committed blob of the source storage is copied to the
// destination through the destination's verifying upload path (storage/upload_writer.h), so a
// blob arrives only when its bytes hash to its digest. Blobs are streamed in chunks, never held
// whole in memory.
//
// Resumable: a blob the destination has already is skipped (stat); a blob whose copy was cut
// off continues from what its upload holds durably. Each blob's upload has an id derived from
// its digest ("migrate-" and the digest's first hex digits), so a rerun finds it; the upload
// is flushed every `flush_bytes`, which bounds what an interruption costs. An upload left by a
// migration that is never rerun is an orphan that berthd's upload sweeper removes.

#include <cstddef>
#include <cstdint>
#include <string>

#include "server/migrate_error.h"
#include "server/progress.h"
#include "storage/blob_storage.h"
#include "storage/byte_store.h"

namespace berth::server {

struct BlobCopyOptions {
  std::size_t chunk_bytes = 4 * 1024 * 1024;        // read and appended at once, per copy
  std::uint64_t flush_bytes = 64ull * 1024 * 1024;  // made durable (resumable) this often
  // Blobs copied side by side: an object store answers each request after a round trip, so
  // small blobs go much faster several at a time. Each copy holds one chunk in memory.
  unsigned parallel_copies = 4;
};

struct BlobCopyStats {
  std::uint64_t blobs = 0;          // in the source
  std::uint64_t bytes = 0;          // their total size
  std::uint64_t blobs_present = 0;  // already at the destination: skipped
  std::uint64_t blobs_copied = 0;   // copied now (including resumed ones)
  std::uint64_t blobs_resumed = 0;  // continued from an interrupted copy
  std::uint64_t bytes_copied = 0;   // bytes read from the source and sent now
  std::uint64_t bytes_resumed = 0;  // bytes an interrupted copy had already sent
};

// The id of the destination upload that copies `digest`: the same on every run.
std::string migration_upload_id(const oci::Digest& digest);

// Copies every blob of `source` that `destination` lacks, `parallel_copies` at a time (the
// drivers are thread-safe). Stops at the first failure (copies under way finish):
// digest_mismatch naming the digest when a source blob's bytes do not match it (nothing of it
// is stored), copy_failed naming the digest and the reason otherwise (what was durably copied
// stays for the rerun).
MigrateResult<BlobCopyStats> copy_blobs(storage::ByteStore& source,
                                        storage::BlobStorage& destination,
                                        const BlobCopyOptions& options, Progress& progress);

}  // namespace berth::server
