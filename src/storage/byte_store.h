#pragma once
// ByteStore: the storage driver interface. A driver keeps bytes and nothing else: committed
// blobs under their digest, and upload sessions (bytes still arriving, plus one small opaque
// record per upload). It never hashes and never verifies: the one verifying writer above it
// (storage/blob_storage.h) does that for every driver, and keeps its resumable hash state in the
// upload's record, so that any node on the same storage can continue an upload.
//
// Drivers: FilesystemByteStore (files under one root), MemoryByteStore (unit tests). Every
// driver passes the driver suite and the writer suite (storage/conformance.h) unchanged.
//
// The interface is shaped so that an object store (Azure Blob Storage, S3) implements it
// without holding a blob in memory and without copying bytes through the node:
//   append       -> stage one block (Put Block)
//   flush        -> commit the staged blocks (Put Block List)
//   revert       -> forget the blocks staged since the last flush
//   read         -> ranged GET of the committed upload object
//   save_state   -> Put Blob of a small object next to the upload (atomic replace)
//   commit_as    -> flush, then server-side copy (or rename) to the blob's name, then delete
//   list_blobs   -> one listing request per page, the object names being the digests
//   list_uploads -> one listing of the upload prefix
//   direct_read_url -> a pre-signed GET URL of the committed object (Azure: a service SAS),
//                   made without a request
//
// Terms used below:
//   the upload's *durable size*: the bytes kept by the last successful flush() (or present when
//     the upload was opened); they survive the handle, the process and a crash.
//   the handle's *size*: the durable size plus what this handle appended since.
//
// Thread safety: every ByteStore method may be called concurrently from any thread, also from
// several ByteStore objects (in one process or several) on the same storage. One UploadBytes
// handle is used by one thread at a time. Handles and readers may outlive the ByteStore that
// made them.
//
// What another process (another node) on the same storage sees:
//   - A committed blob appears whole or not at all (stat, open, list_blobs), never partially.
//   - An upload's bytes up to its durable size, and its last saved record.
//   - upload_size() is at least the durable size and at most the size of an open handle (a
//     file system shows bytes as they are written; an object store shows only flushed ones).
//   - At most one handle per upload at a time, across store objects and processes: the driver
//     suite checks it with two store objects on one storage. A driver keeps it with what the
//     medium offers (the filesystem: a lock on the upload's file; an object store: a lease on
//     the upload's object, renewed while the handle lives and left to expire after a crash),
//     and documents where it cannot (a file system without locks).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "oci/digest.h"

namespace berth::storage {

enum class Errc {
  not_found,         // no such blob / upload
  digest_mismatch,   // content does not hash to the expected digest (the writer only)
  upload_busy,       // another handle has this upload open
  invalid_argument,  // e.g. a malformed upload id, an upload id already taken
  storage_full,      // the medium has no space left (ENOSPC, quota exhausted)
  io_error,          // the medium failed (permission, device error, network, ...)
};
using StorageError = Error<Errc>;
template <class T>
using Result = berth::Result<T, StorageError>;

// True when `id` is a well-formed upload id: [A-Za-z0-9-]{1,64}. Such an id is safe to use as a
// single path component or object-name segment.
bool is_valid_upload_id(std::string_view id);

// The longest a direct read URL may live (see ByteStore::direct_read_url).
inline constexpr std::chrono::seconds kMaxDirectReadLifetime{3600};

// invalid_argument unless 0 < `lifetime` <= kMaxDirectReadLifetime.
Result<void> check_direct_read_lifetime(std::chrono::seconds lifetime);

// The largest record save_state() must accept. The writer's hash state is far smaller.
inline constexpr std::size_t kMaxUploadStateBytes = 4096;

struct BlobInfo {
  oci::Digest digest;
  std::uint64_t size = 0;
};

// A committed blob as a listing sees it.
struct StoredBlob {
  oci::Digest digest;
  std::uint64_t size = 0;
  std::int64_t modified_at = 0;  // when it was stored (Unix seconds)
};

// One page of a walk over the committed blobs; `next` is where the next page starts after
// (empty when the walk is complete).
struct BlobListing {
  std::vector<StoredBlob> blobs;
  std::string next;
};

// Random-access reader of one committed blob. It keeps reading the content it opened even when
// the blob is removed meanwhile (a driver that cannot promise this must fail reads with
// not_found, never return other bytes).
class BlobReader {
 public:
  virtual ~BlobReader() = default;
  virtual std::uint64_t size() const = 0;
  // Reads up to out.size() bytes at `offset`; returns the count, 0 only at the end.
  virtual Result<std::size_t> read(std::uint64_t offset, std::span<std::byte> out) = 0;
  // A file descriptor positioned-read-able for sendfile(2), or -1 when the blob is not a local
  // file. Owned by the reader; valid while it lives.
  virtual int native_handle() const { return -1; }
};

// The one open handle on an upload session: plain bytes, appended at the end, plus a small
// opaque record. Obtained from ByteStore::create_upload() / open_upload(). Destroying it without
// commit_as() or discard() leaves the upload in place with at least its durable size (bytes
// appended since the last flush may be kept or dropped, depending on the driver) and releases
// it for the next handle.
//
// After commit_as() succeeded, discard() succeeded, or the upload was found gone, every method
// but size() returns not_found.
class UploadBytes {
 public:
  virtual ~UploadBytes() = default;

  // The handle's size: the durable size plus the bytes appended through this handle since.
  virtual std::uint64_t size() const = 0;

  // Appends all of `data` at the end or, on failure, nothing (size() is unchanged). Not durable
  // until flush(). An empty `data` is a no-op. Drivers may write spans aligned to 4096 bytes in
  // address and length without an intermediate copy; callers pass body buffers through as is.
  virtual Result<void> append(std::span<const std::byte> data) = 0;

  // Makes every appended byte durable: afterwards the durable size is size(); the bytes survive
  // a crash and are visible to other processes; a later revert() stops here. On failure the
  // durable size is unchanged (the appended bytes are still pending and may be flushed again or
  // reverted).
  virtual Result<void> flush() = 0;

  // Drops every byte appended since the handle was opened or last flushed: size() returns to
  // the durable size. Used when a request fails midway, so that a chunk counts whole or not at
  // all.
  virtual Result<void> revert() = 0;

  // Removes the upload, its bytes and its record while this handle still holds it, so that no
  // other handle can slip in between.
  virtual Result<void> discard() = 0;

  // Reads up to out.size() bytes of the upload at `offset` into `out`; returns the count, 0 only
  // at or past the end of the readable bytes. Readable are the bytes below the durable size
  // (an object store cannot read staged blocks); a driver may also return later ones. Used to
  // hash what a saved hash state does not cover.
  virtual Result<std::size_t> read(std::uint64_t offset, std::span<std::byte> out) = 0;

  // Replaces the upload's record with `record` (at most kMaxUploadStateBytes, else
  // invalid_argument; empty removes it) in one atomic step: a concurrent or later
  // load_state(), in this process or another, returns the old record or the new one, never a
  // mix. Independent of the bytes: flush() and revert() do not touch it. Durability is best
  // effort: after a machine crash load_state() may return an older record, none, or (on a
  // medium without atomic replace) damaged bytes, so the caller validates what it loads.
  virtual Result<void> save_state(std::span<const std::byte> record) = 0;

  // The upload's record as last saved; empty when none was saved since the upload was created
  // (create_upload() starts without one) or it was lost. A stored record longer than
  // kMaxUploadStateBytes is damaged and returned as empty.
  virtual Result<std::vector<std::byte>> load_state() = 0;

  // Makes every appended byte durable and moves the upload's content to the committed blob
  // `digest`, without reading or verifying it (the caller has verified it). When the blob is
  // already stored, that copy is kept and these bytes are dropped. The upload and its record are
  // removed. On success the blob is durable and visible to every process. On failure the upload
  // stays (with its durable size at least what it was) and commit_as() may be retried.
  virtual Result<BlobInfo> commit_as(const oci::Digest& digest) = 0;
};

class ByteStore {
 public:
  virtual ~ByteStore() = default;

  // --- committed blobs: content-addressed, written once, immutable ---

  // not_found when absent.
  virtual Result<BlobInfo> stat(const oci::Digest& digest) = 0;
  virtual Result<std::unique_ptr<BlobReader>> open(const oci::Digest& digest) = 0;
  // Removes the bytes of a blob. not_found when absent. Open readers keep working.
  virtual Result<void> remove(const oci::Digest& digest) = 0;
  // Committed blobs whose digest text ("algorithm:hex") sorts after `after` (empty: from the
  // start; any string, also one naming no blob), in that order, at most `limit`: the keyset walk
  // garbage collection uses to find bytes the metadata does not know. Uploads never appear.
  // Ordering by digest text is ordering by object name in a content-addressed layout, so an
  // object store serves a page with one listing request.
  virtual Result<BlobListing> list_blobs(std::string_view after, std::size_t limit) = 0;

  // Stores a small blob in one step, durably, without verifying `bytes` against `digest` (the
  // caller has). Keeps an existing copy. Used for manifests-as-blobs and tests.
  virtual Result<BlobInfo> store(const oci::Digest& digest, std::span<const std::byte> bytes) = 0;

  // A URL from which any HTTP client may GET the committed blob's bytes straight from the
  // medium, without passing through this process, for `lifetime` from now (rounded down to the
  // second); the building block of redirecting blob downloads. std::nullopt when the driver
  // has no such URL: the default, and so the filesystem and in-memory drivers.
  // invalid_argument (from every driver) unless 0 < lifetime <= kMaxDirectReadLifetime.
  // No request is made: the URL is signed, not checked, so it names the blob whether or not it
  // is stored (the caller knows from its metadata); a GET of a missing blob fails at the medium
  // (404). The URL grants reading that one blob and nothing else, to anyone holding it, until it
  // expires: hand it only to a client allowed to read the blob, and never log it whole.
  virtual Result<std::optional<std::string>> direct_read_url(const oci::Digest& digest,
                                                             std::chrono::seconds lifetime);

  // --- upload sessions ---
  // Upload ids are chosen by the caller (see is_valid_upload_id); invalid_argument for a
  // malformed one, everywhere below.

  // Creates an empty upload without a record (a record left by an earlier upload of the same id
  // is removed) and returns its handle. The upload is visible to every store object at once
  // (upload_size, list_uploads, open_upload once the handle is released) and survives a crash
  // once flushed. An id that already names an upload is refused without touching it:
  // invalid_argument, or upload_busy while a handle holds it (always so within one store
  // object; another object may answer either).
  virtual Result<std::unique_ptr<UploadBytes>> create_upload(std::string_view id) = 0;
  // Opens an existing upload, also one created by another process or before a restart.
  // not_found when absent; upload_busy when another handle holds it.
  virtual Result<std::unique_ptr<UploadBytes>> open_upload(std::string_view id) = 0;
  // The upload's size as other processes see it (see the top of this file). not_found when
  // absent. Cheap: one metadata request, no handle needed.
  virtual Result<std::uint64_t> upload_size(std::string_view id) = 0;
  // Drops an upload, its bytes and its record. not_found when absent; upload_busy while a
  // handle holds it.
  virtual Result<void> delete_upload(std::string_view id) = 0;
  // Ids of every upload present, held or not (for sweeping orphans); any order. One listing,
  // no per-upload requests.
  virtual Result<std::vector<std::string>> list_uploads() = 0;

  // Proves that a small write succeeds now: storage_full when the medium has no room left,
  // io_error when it fails otherwise. Cheap enough for every health check.
  virtual Result<void> check_writable() = 0;
};

}  // namespace berth::storage
