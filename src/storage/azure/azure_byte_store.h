#pragma once
// AzureByteStore: the ByteStore driver on Azure Blob Storage (one container). Every berthd node
// of a deployment opens the same container; nothing a second node needs stays on the first.
// The layout is drawn at the top of azure_byte_store.cc.
//
// How the driver maps the interface (storage/byte_store.h):
//   append       buffered into blocks of kBlockSize, each staged by Put Block as it fills
//   flush        Put Block List of the upload's data blob: its committed blocks plus the ones
//                staged since, conditional on the ETag of the last list (If-Match)
//   revert       forgets the blocks staged since the last flush (the service drops uncommitted
//                blocks at the next Put Block List)
//   read         ranged Get Blob of the data blob (the committed, flushed bytes)
//   save_state   Put Blob of uploads/<id>/state (atomic replace); empty deletes it
//   commit_as    flush, Copy Blob (server-side, no bytes through the node) to blobs/<alg>/<hex>
//                unless it exists, then delete the upload
//   list_blobs   List Blobs under blobs/<alg>/ (see list_blobs in the .cc for how a walk
//                starts after any string without a start-after parameter in the API)
//   direct_read_url  a read-only service SAS URL of blobs/<alg>/<hex> (sas.h), signed with the
//                account key and valid from kDirectReadSkew ago; no request is made
//
// One handle per upload, across nodes: a handle holds a lease (60 s, renewed while the handle
// is used) on the upload's data blob; another store object or node trying to open, delete or
// create the upload gets upload_busy (or invalid_argument for create) until the handle goes.
// A node that dies holding a lease blocks the upload for at most 60 s.
//
// Readers: open() fetches the blob's first kPrefetch bytes with its size in one request; reads
// within them are served from memory (most manifests and configs fit), reads beyond are ranged
// GETs conditional on the ETag seen at open. A blob removed after open() keeps reading within
// the prefetched bytes; beyond them reads fail with not_found, never with other bytes.

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "storage/azure/blob_client.h"
#include "storage/azure/connection_string.h"
#include "storage/byte_store.h"

namespace berth::storage::azure {

// A direct read URL is valid from this long before it was made: the service checks the start
// against its own clock, which may run behind this node's.
inline constexpr std::chrono::minutes kDirectReadSkew{5};

struct AzureOptions {
  ClientOptions client;
  // Appended bytes are sent in blocks of this size (the last block of a flush may be smaller).
  std::size_t block_size = std::size_t{4} << 20;
  // Bytes fetched with the size when a reader opens.
  std::size_t prefetch = 64 * 1024;
  // Names asked for per List Blobs request when a walk skims a prefix (the service's maximum;
  // tests make it small to reach the deep paths of list_blobs with few blobs).
  std::size_t listing_page = 5000;
  // The lease on an upload while a handle holds it (15 to 60 seconds), renewed when a third of
  // it has passed at the handle's next call.
  int lease_seconds = 60;
};

class AzureByteStore final : public ByteStore {
 public:
  // Connects to `container` of the account (creating the container when missing) and checks
  // that requests are accepted. invalid_argument for a malformed container name; io_error (with
  // the endpoint, never the key) when the service cannot be reached or refuses the key.
  static Result<std::unique_ptr<AzureByteStore>> open(ConnectionString account,
                                                      std::string container,
                                                      AzureOptions options = {});
  ~AzureByteStore() override;

  // "<account and endpoint, key redacted> container <name>", for logs.
  std::string describe() const;

  Result<BlobInfo> stat(const oci::Digest& digest) override;
  Result<std::unique_ptr<BlobReader>> open(const oci::Digest& digest) override;
  Result<void> remove(const oci::Digest& digest) override;
  Result<BlobListing> list_blobs(std::string_view after, std::size_t limit) override;
  Result<BlobInfo> store(const oci::Digest& digest, std::span<const std::byte> bytes) override;
  Result<std::optional<std::string>> direct_read_url(const oci::Digest& digest,
                                                     std::chrono::seconds lifetime) override;

  Result<std::unique_ptr<UploadBytes>> create_upload(std::string_view id) override;
  Result<std::unique_ptr<UploadBytes>> open_upload(std::string_view id) override;
  Result<std::uint64_t> upload_size(std::string_view id) override;
  Result<void> delete_upload(std::string_view id) override;
  Result<std::vector<std::string>> list_uploads() override;
  // Puts and deletes a small probe blob under tmp/.
  Result<void> check_writable() override;

  // The client and the ids of uploads held through this object, shared with handles and
  // readers, which may outlive it.
  struct State;

 private:
  explicit AzureByteStore(std::shared_ptr<State> state);
  std::shared_ptr<State> state_;
};

}  // namespace berth::storage::azure
