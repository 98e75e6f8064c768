#pragma once
// BlobClient: the Azure Blob Storage REST calls the Azure driver needs, on one container, over
// libcurl, signed with SharedKey (shared_key.h). Bodies stream: a request body is sent from the
// caller's span, a ranged download is written into the caller's buffer, and listings are parsed
// as they arrive (xml_reader.h). No call holds a blob in memory.
//
// Retries: every call here is idempotent at the HTTP level, so each is retried with exponential
// backoff (with jitter) after a connection error, a timeout, or HTTP 408, 429, 500, 502, 503 or
// 504, up to ClientOptions::max_attempts. A retried call may find the effect of an attempt whose
// answer was lost (a blob that now exists, a delete already done); Response::retried tells the
// caller, which knows what that means for the operation.
//
// Errors name the operation, the blob and the HTTP status with Azure's error code, never the
// account key or a signature. Thread safety: all methods may be called concurrently; curl
// handles (and so connections) are pooled and reused.

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
#include "storage/azure/connection_string.h"

namespace berth::storage::azure {

// The Blob service API version berth speaks (x-ms-version).
inline constexpr std::string_view kApiVersion = "2021-08-06";

enum class ClientErrc {
  not_found,          // 404: no such blob (or container)
  already_exists,     // 409 BlobAlreadyExists / ContainerAlreadyExists: a create found one
  condition_not_met,  // 412: an If-Match / If-None-Match condition failed
  lease_conflict,     // 409/412 Lease*: the blob is leased by someone else, or our lease is gone
  conflict,           // another 409 (a pending copy, a lease, too many blocks, ...)
  storage_full,       // 507, or the account's capacity for this blob is exhausted
  invalid_argument,   // a call the client refuses before sending (a bad name or size)
  io_error,           // anything else, after the retries
};
using ClientError = Error<ClientErrc>;
template <class T>
using ClientResult = berth::Result<T, ClientError>;

struct ClientOptions {
  int max_attempts = 5;
  std::chrono::milliseconds first_backoff{200};
  std::chrono::milliseconds max_backoff{10'000};
  std::chrono::milliseconds connect_timeout{10'000};
  // A transfer that moves fewer than 1 byte per second for this long is a timeout (and is
  // retried). Large bodies get no overall deadline, only this stall limit.
  std::chrono::milliseconds stall_timeout{60'000};
  // How long copy_blob() waits for a copy the service runs asynchronously.
  std::chrono::milliseconds copy_timeout{600'000};
};

struct BlobProperties {
  std::uint64_t size = 0;
  std::string etag;
  std::int64_t last_modified = 0;  // Unix seconds
  // x-ms-copy-status when the blob is the destination of a copy: "success", "pending",
  // "aborted", "failed"; empty when it never was one.
  std::string copy_status;
  // x-ms-meta-<name> values asked for by name (lower case) in get_properties().
  std::vector<std::pair<std::string, std::string>> metadata;
};

struct Block {
  std::string id;  // base64, as sent in Put Block
  std::uint64_t size = 0;
};

struct BlockList {
  std::vector<Block> committed;
  std::string etag;
  std::uint64_t size = 0;  // of the committed content
};

// An entry of Put Block List: a block already in the committed list, or one staged by Put Block
// and not yet committed.
struct BlockListEntry {
  std::string id;
  bool committed = false;
};

struct ListedBlob {
  std::string name;
  std::uint64_t size = 0;
  std::int64_t last_modified = 0;  // Unix seconds
  std::string copy_status;         // as in BlobProperties
};

struct BlobPage {
  std::vector<ListedBlob> blobs;
  std::string next_marker;  // empty when the listing is complete
};

// Preconditions of a call (sent as If-Match / If-None-Match / x-ms-lease-id).
struct Condition {
  std::optional<std::string> if_match;  // an ETag
  bool if_none_match_any = false;       // only when the blob does not exist
  std::optional<std::string> lease_id;  // the lease held on the blob (writes to it need it)
};

// What a ranged Get Blob returned.
struct RangeRead {
  std::size_t count = 0;        // bytes written into the caller's buffer
  std::uint64_t blob_size = 0;  // the whole blob's size
  std::string etag;
  std::string copy_status;  // as in BlobProperties
};

class BlobClient {
 public:
  // `container`: an Azure container name (3-63 lower-case letters, digits and single '-').
  // invalid_argument for a malformed one.
  static ClientResult<std::unique_ptr<BlobClient>> make(ConnectionString account,
                                                        std::string container,
                                                        ClientOptions options = {});
  ~BlobClient();
  BlobClient(const BlobClient&) = delete;
  BlobClient& operator=(const BlobClient&) = delete;

  const std::string& container() const;
  // "<account description> container <name>", for logs (the key redacted).
  std::string describe() const;

  // A URL of blob `name` from which anyone holding it may read the blob (Get Blob, Get Blob
  // Properties), from `start` until `expiry`, with no other credential: a service SAS (sas.h)
  // with sp=r, signed with the account key (which the URL does not contain). spr=https, or
  // https,http when the endpoint itself is http (Azurite). Makes no request: the blob need not
  // exist. The URL is a credential until it expires: never log it whole.
  std::string signed_read_url(std::string_view name, std::chrono::system_clock::time_point start,
                              std::chrono::system_clock::time_point expiry) const;

  // Creates the container; an existing one is fine.
  ClientResult<void> create_container();
  // Deletes the container and everything in it (tests clean up with it).
  ClientResult<void> delete_container();

  // Put Blob: the whole blob in one request. Metadata pairs become x-ms-meta-<name>. Returns
  // the new ETag.
  ClientResult<std::string> put_blob(
      std::string_view name, std::span<const std::byte> bytes, const Condition& condition = {},
      const std::vector<std::pair<std::string, std::string>>& metadata = {});
  // Put Block: stages `bytes` as block `block_id` (base64; every id of one blob the same length).
  // The block is `head` followed by `tail` (so a caller's buffered bytes and the start of new
  // ones go out as one block without being copied together).
  ClientResult<void> put_block(std::string_view name, std::string_view block_id,
                               std::span<const std::byte> head,
                               std::span<const std::byte> tail = {},
                               const Condition& condition = {});
  // Put Block List: the blob becomes the listed blocks, in order. Returns the new ETag.
  ClientResult<std::string> put_block_list(std::string_view name,
                                           const std::vector<BlockListEntry>& blocks,
                                           const Condition& condition = {});
  // Get Block List of the committed blocks, with the blob's ETag and size.
  ClientResult<BlockList> get_block_list(std::string_view name);
  // Get Blob of the bytes [offset, offset + out.size()), written into `out`: the count read is
  // short only at the end of the blob, 0 at or past it (blob_size is then unknown, 0). With
  // `if_match`, condition_not_met when the blob changed.
  ClientResult<RangeRead> get_range(std::string_view name, std::uint64_t offset,
                                    std::span<std::byte> out,
                                    const std::optional<std::string>& if_match = std::nullopt);
  // Get Blob Properties; `metadata_names` are the x-ms-meta-* values to return.
  ClientResult<BlobProperties> get_properties(std::string_view name,
                                              const std::vector<std::string>& metadata_names = {});
  // Delete Blob. Also reports whether the call was retried (a retried delete that finds the
  // blob gone may have removed it itself).
  struct Deleted {
    bool retried = false;
  };
  ClientResult<Deleted> delete_blob(std::string_view name, const Condition& condition = {});

  // Leases: a lock on one blob, held for `seconds` (15 to 60) unless renewed. While it is held,
  // writes and deletes of the blob need its id (Condition::lease_id). acquire_lease proposes
  // `lease_id` (so that a retried acquire of our own lease succeeds); lease_conflict when
  // another holds the blob.
  ClientResult<void> acquire_lease(std::string_view name, std::string_view lease_id, int seconds);
  ClientResult<void> renew_lease(std::string_view name, std::string_view lease_id);
  ClientResult<void> release_lease(std::string_view name, std::string_view lease_id);
  // List Blobs (flat) whose names start with `prefix`, from `marker` (the previous page's
  // next_marker; empty: the start), at most `max_results` (1..5000).
  ClientResult<BlobPage> list_blobs(std::string_view prefix, std::string_view marker,
                                    std::size_t max_results);
  // Copy Blob from `source` to `destination` in this container, server-side; waits until the
  // copy completed (the service may run it asynchronously). Returns the destination's
  // properties. With condition.if_none_match_any, already_exists when the destination exists.
  ClientResult<BlobProperties> copy_blob(std::string_view source, std::string_view destination,
                                         const Condition& condition = {});

  struct Impl;

 private:
  explicit BlobClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::storage::azure
