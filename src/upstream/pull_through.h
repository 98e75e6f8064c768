#pragma once
// PullThroughCache: the repositories a cache rule covers are filled from the rule's upstream on
// first pull, and served from the registry afterwards.
//
// - Manifests. A pull by tag that the registry has answers from the registry while the tag was
//   checked against the upstream less than the rule's TTL ago; after that a HEAD to the
//   upstream re-validates it (same digest: served from the registry; another digest: the new
//   manifest is fetched). A manifest the registry lacks is fetched and answered at once, and
//   stored in the background once every blob it needs (every platform of an index) is stored:
//   a tag never points at content that is not all there. When the upstream cannot be asked
//   (down, rate-limited, erring) and the registry has the tag, the registry's answer is served
//   and marked stale (stale-if-error).
// - Blobs. A blob the registry lacks is fetched once (however many clients ask at the same
//   time, and the background completion too), spooled to a local file as it arrives so every
//   waiting client streams it while it is fetched, and stored through the registry's upload
//   path: its digest is verified before it is stored, so a corrupt or cut-off upstream answer
//   is never cached. A dropped upstream connection is resumed with Range by the client.
//
// Coalescing is per node: behind a load balancer each node fetches at most once.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "client/registry_client.h"
#include "metadata/upstream_store.h"
#include "registry/registry_services.h"
#include "upstream/upstream_service.h"

namespace berth::upstream {

// A blob on its way from an upstream into a registry. Readers follow the spool file while the
// writer fills it.
class BlobFetch {
 public:
  enum class State { running, succeeded, failed };

  // `spool`: an open, already unlinked file the fetch writes to.
  BlobFetch(oci::Digest digest, std::uint64_t size, int spool);
  ~BlobFetch();
  BlobFetch(const BlobFetch&) = delete;
  BlobFetch& operator=(const BlobFetch&) = delete;

  const oci::Digest& digest() const { return digest_; }
  std::uint64_t size() const { return size_; }
  State state() const { return state_.load(); }
  std::uint64_t available() const { return available_.load(); }
  // Why it failed, for the log; the error the registry answers with.
  registry::RegistryError error() const;

  // Up to out.size() spooled bytes from `offset`; 0 while none have arrived there yet. -1 when
  // the fetch failed (the bytes will never come). The blob's last byte is readable only once
  // its digest is verified.
  std::int64_t read(std::uint64_t offset, std::span<std::byte> out) const;
  // Blocks until the fetch has ended; true when it succeeded.
  bool wait() const;

  // --- the writer ---
  bool append(std::span<const std::byte> bytes);
  void finish(std::optional<registry::RegistryError> failure);

 private:
  oci::Digest digest_;
  std::uint64_t size_;
  int spool_;
  std::atomic<std::uint64_t> available_{0};
  std::atomic<State> state_{State::running};
  mutable std::mutex mutex_;
  mutable std::condition_variable ended_;
  registry::RegistryError error_{registry::Errc::internal, ""};
};

// How a manifest of a cached repository was answered.
enum class CacheStatus { hit, revalidated, miss, stale };
std::string_view cache_status_name(CacheStatus status);  // "hit", "revalidated", ...

struct CachedManifest {
  registry::StoredManifest manifest;
  CacheStatus status = CacheStatus::hit;
};

// What answers a blob request of a cached repository: the registry (already stored), or a
// fetch in progress (or just ended) to stream from.
struct CachedBlob {
  std::shared_ptr<BlobFetch> fetch;  // null: the registry has it
};

struct PullThroughOptions {
  client::ClientOptions client;
  // Where blobs are spooled while they arrive (a local directory; made when missing).
  std::filesystem::path spool_dir;
  // Rules and logins are read again after this long, so changes apply within it.
  std::chrono::seconds rule_cache{5};
};

class PullThroughCache {
 public:
  PullThroughCache(UpstreamService& upstream, metadata::UpstreamStore& store,
                   const registry::RegistryServices& registries, PullThroughOptions options);
  // Stops the fetches in progress (they fail; nothing partial is stored) and waits for them.
  ~PullThroughCache();
  PullThroughCache(const PullThroughCache&) = delete;
  PullThroughCache& operator=(const PullThroughCache&) = delete;

  // The rule covering `repository`, or nullopt when it is not a cached repository.
  registry::Result<std::optional<PullThrough>> rule_for(metadata::RegistryId registry,
                                                        std::string_view repository);

  // A manifest of a cached repository, `registry` being the request's content service. `pull`:
  // a GET (recorded in the audit when the registry answers it), not a HEAD.
  registry::Result<CachedManifest> manifest(registry::Registry& registry,
                                            std::string_view repository,
                                            const oci::Reference& reference,
                                            const PullThrough& through, bool pull);
  // The registry's own answer when it needs no upstream: a manifest it has by digest, or a tag
  // checked within the rule's TTL (a hit); nullopt when manifest() must ask the upstream. Reads
  // only the metadata, so it runs where local reads run.
  registry::Result<std::optional<CachedManifest>> fresh_manifest(registry::Registry& registry,
                                                                 std::string_view repository,
                                                                 const oci::Reference& reference,
                                                                 const PullThrough& through,
                                                                 bool pull);
  // A blob of a cached repository.
  registry::Result<CachedBlob> blob(registry::Registry& registry, std::string_view repository,
                                    const oci::Digest& digest, const PullThrough& through);
  // The size of a blob of a cached repository that the registry lacks, without fetching it.
  registry::Result<std::uint64_t> blob_size(registry::Registry& registry,
                                            std::string_view repository,
                                            const oci::Digest& digest, const PullThrough& through);

  // Reads the registry's rules again at the next request (they changed on this node).
  void forget_rules(metadata::RegistryId registry);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::upstream
