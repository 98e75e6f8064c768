#pragma once
// The registry's domain services: blobs, uploads, manifests, tags, referrers and the catalog of
// one registry. Knows nothing of HTTP: the api module parses requests into these calls and maps
// Errc to wire errors.
//
// Write order (see docs/architecture.md): bytes first (hashed, verified, durable), metadata
// second in one transaction. A crash between the two leaves only unreferenced bytes.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "metadata/lifecycle_store.h"
#include "metadata/metadata_store.h"
#include "oci/digest.h"
#include "oci/reference.h"
#include "storage/blob_storage.h"

namespace berth::registry {

enum class Errc {
  blob_unknown,
  blob_upload_unknown,
  blob_upload_invalid,
  digest_invalid,
  manifest_unknown,
  manifest_invalid,
  manifest_blob_unknown,
  manifest_too_large,
  name_unknown,
  range_invalid,    // a chunk that does not continue the upload
  unsupported,
  upload_in_use,     // another request is using the upload session right now
  too_many_uploads,  // the registry has as many open upload sessions as it may
  tag_unknown,       // untag of a tag the repository does not have
  busy,              // garbage collection is removing the same content: retry shortly
  storage_full,      // no space left for the bytes or the metadata
  locked,            // a changeable attribute (lock) of the item forbids the operation
  quota_exceeded,    // the repository's or the registry's storage quota forbids the push
  push_refused,      // the repository is a pull-through cache whose rule refuses pushes
  upstream_unavailable,  // a cached repository's upstream cannot be reached and nothing is cached
  internal,          // storage or database failure: not the client's fault
};
using RegistryError = Error<Errc>;
template <class T>
using Result = berth::Result<T, RegistryError>;

struct BlobInfo {
  oci::Digest digest;
  std::uint64_t size = 0;
};

struct OpenedBlob {
  BlobInfo info;
  std::unique_ptr<storage::BlobReader> reader;
};

// How long upload sessions live and how many a registry may have open.
struct UploadPolicy {
  std::chrono::seconds idle_timeout{24 * 60 * 60};  // removed after this long without a request
  std::uint64_t max_open_per_registry = 1000;
};

// The upload sessions requests are using right now, shared by every Registry of the process.
// A request holds its session from the moment it looks it up until it has answered; while it
// does, nothing else may change or remove the session: a second PATCH or a DELETE is refused
// (upload_in_use) and the sweeper passes it by. A hold also remembers the size the session had
// when taken, which is what a status request reports meanwhile: the bytes of a chunk still
// arriving count only once the whole chunk has been accepted.
class UploadSessions {
 public:
  explicit UploadSessions(UploadPolicy policy = {}) : policy_(policy) {}
  UploadSessions(const UploadSessions&) = delete;
  UploadSessions& operator=(const UploadSessions&) = delete;

  const UploadPolicy& policy() const { return policy_; }

  class Hold {
   public:
    Hold(UploadSessions* sessions, std::string id) : sessions_(sessions), id_(std::move(id)) {}
    Hold(Hold&& other) noexcept
        : sessions_(std::exchange(other.sessions_, nullptr)), id_(std::move(other.id_)) {}
    Hold& operator=(Hold&&) = delete;
    ~Hold() {
      if (sessions_ != nullptr) sessions_->release(id_);
    }
    const std::string& id() const { return id_; }
    // The size the session is known to have; reported by status requests while held.
    void set_stable_size(std::uint64_t size) { sessions_->set_stable_size(id_, size); }

   private:
    UploadSessions* sessions_;
    std::string id_;
  };

  // nullopt when another request holds `id`.
  std::optional<Hold> try_hold(std::string_view id);
  // The stable size of a held session; nullopt when it is not held (or its size is not known
  // yet, in which case the stored size is still the stable one).
  std::optional<std::uint64_t> held_size(std::string_view id) const;

 private:
  void release(const std::string& id);
  void set_stable_size(const std::string& id, std::uint64_t size);

  UploadPolicy policy_;
  mutable std::mutex mutex_;
  std::map<std::string, std::optional<std::uint64_t>, std::less<>> held_;
};

// One request's hold on an upload session: append, then keep the chunk (flush), drop it
// (revert), or commit. Destroying it lets the session go, resumable by the next request.
class UploadSession {
 public:
  // `last_activity`: the session record's updated_at (0 without a record).
  // `lifecycle` (optional): where the storage quotas the commit keeps to are.
  UploadSession(metadata::RegistryId registry, std::string repository,
                UploadSessions::Hold hold, std::unique_ptr<storage::UploadWriter> writer,
                storage::BlobStorage& storage, metadata::MetadataStore& metadata,
                bool has_record, std::chrono::seconds idle_timeout,
                std::int64_t last_activity, metadata::LifecycleStore* lifecycle = nullptr);
  const std::string& id() const { return hold_.id(); }
  std::uint64_t size() const { return writer_->size(); }
  // Appends all of `data` or nothing.
  Result<void> append(std::span<const std::byte> data);
  // Drops everything appended by this request since its last flush: a chunk is stored whole
  // or not at all.
  Result<void> revert();
  // Makes the request's chunk durable and records the activity (end of a PATCH).
  Result<void> flush();
  // Verifies `digest`, stores the blob, links it to the repository and ends the session.
  // On a digest mismatch the session ends too and nothing is stored. quota_exceeded (the
  // session ends, the blob is not linked and its bytes are left to garbage collection) when
  // the link would take the repository or the registry beyond its storage quota.
  Result<BlobInfo> commit(const oci::Digest& digest);
  // Ends the session and removes its bytes and record (a one-request upload that failed).
  void abandon();

 private:
  metadata::RegistryId registry_;
  std::string repository_;
  // Declared before the writer, so the writer closes before the hold is released.
  UploadSessions::Hold hold_;
  std::unique_ptr<storage::UploadWriter> writer_;
  storage::BlobStorage& storage_;
  metadata::MetadataStore& metadata_;
  bool has_record_;
  std::chrono::seconds idle_timeout_;
  std::int64_t last_activity_;
  metadata::LifecycleStore* lifecycle_;
};

struct StoredManifest {
  oci::Digest digest;
  std::string media_type;
  std::string content;
};

struct PutManifestResult {
  oci::Digest digest;
  std::optional<oci::Digest> subject;
};

// Records pulls for the audit without a write per pull: implementations queue them and append
// them in batches (registry/pull_log.h).
class PullRecorder {
 public:
  virtual ~PullRecorder() = default;
  virtual void record(metadata::EventRecord pull) = 0;
};

// The content of one registry (tenant): the one path every content change takes, whether it
// comes over /v2/ or the management API. Cheap to construct: the API builds one per request for
// the registry the request addresses, with the request as the origin of the events its changes
// append (in the change's own transaction).
class Registry {
 public:
  // `lifecycle` (optional): storage quotas, kept on every link, and soft-deleted content.
  Registry(storage::BlobStorage& storage, metadata::MetadataStore& metadata,
           UploadSessions& uploads, metadata::RegistryId registry,
           PullRecorder* pulls = nullptr, metadata::LifecycleStore* lifecycle = nullptr);
  metadata::RegistryId id() const { return registry_; }
  // Who is asking: recorded in the events of the changes made through this object.
  void set_origin(metadata::EventOrigin origin) { origin_ = std::move(origin); }

  // --- blobs ---
  Result<BlobInfo> stat_blob(std::string_view repository, const oci::Digest& digest);
  Result<OpenedBlob> open_blob(std::string_view repository, const oci::Digest& digest);
  // A short-lived URL that reads the blob straight from the storage (the registry's dedicated
  // data endpoint), after the same checks as open_blob; nullopt when the storage has no such
  // URLs (the filesystem).
  Result<std::optional<std::string>> direct_blob_url(std::string_view repository,
                                                     const oci::Digest& digest,
                                                     std::chrono::seconds lifetime);
  // Unlinks the blob from the repository; the bytes stay until garbage collection.
  Result<void> delete_blob(std::string_view repository, const oci::Digest& digest);
  // Links a blob that `from` holds into `repository` without moving bytes; blob_unknown when
  // `from` does not hold it.
  Result<BlobInfo> mount_blob(std::string_view repository, std::string_view from,
                              const oci::Digest& digest);
  // mount_blob with the source in `source_registry` (which may be another registry of the
  // deployment: an import between registries links blobs without copying bytes). The caller
  // has checked that whoever asks may read `from` there.
  Result<BlobInfo> mount_blob_from(Registry& source_registry, std::string_view from,
                                   std::string_view repository, const oci::Digest& digest);

  // --- uploads ---
  // A new resumable session recorded in the metadata store; too_many_uploads when the
  // registry already has the policy's maximum open.
  Result<std::unique_ptr<UploadSession>> start_upload(std::string_view repository);
  // A one-request session (monolithic upload): no record; abandon() it if the request fails.
  Result<std::unique_ptr<UploadSession>> start_single_request_upload(std::string_view repository);
  // upload_in_use while another request holds the session; blob_upload_unknown once it has
  // been idle past the policy's timeout.
  Result<std::unique_ptr<UploadSession>> resume_upload(std::string_view repository,
                                                       std::string_view id);
  // The bytes of every accepted chunk (a chunk still arriving does not count).
  Result<std::uint64_t> upload_size(std::string_view repository, std::string_view id);
  // Removes the session, its record and its bytes; upload_in_use (and nothing removed) while
  // another request holds it.
  Result<void> cancel_upload(std::string_view repository, std::string_view id);

  // --- manifests ---
  Result<PutManifestResult> put_manifest(std::string_view repository,
                                         const oci::Reference& reference, std::string_view bytes,
                                         std::string_view content_type);
  // `pull`: the client fetches the content (a GET, recorded in the audit); a HEAD is not a pull.
  Result<StoredManifest> get_manifest(std::string_view repository,
                                      const oci::Reference& reference, bool pull = false);
  // By digest: removes the manifest and every tag on it (a delete event). By tag: removes only
  // the tag (an untag).
  Result<void> delete_manifest(std::string_view repository, const oci::Reference& reference);
  // Removes the tag; tag_unknown when the repository has no such tag, name_unknown when there
  // is no such repository.
  Result<void> untag(std::string_view repository, std::string_view tag);
  // Removes the repository with its manifests, tags, links and uploads; name_unknown when
  // absent. The bytes stay until garbage collection.
  Result<void> delete_repository(std::string_view repository);

  // name_unknown unless the repository exists.
  Result<void> require_repository(std::string_view repository);

  // --- management views (name_unknown for a repository that does not exist) ---
  Result<std::vector<metadata::RepositorySummary>> repository_summaries();
  Result<metadata::RepositorySummary> repository_summary(std::string_view repository);
  Result<std::vector<metadata::TagRecord>> tag_records(std::string_view repository);
  Result<std::vector<metadata::ManifestSummary>> manifest_summaries(std::string_view repository);
  struct ManifestDetail {
    metadata::ManifestSummary summary;
    std::string content;
  };
  // manifest_unknown when the repository does not hold it.
  Result<ManifestDetail> manifest_detail(std::string_view repository, const oci::Digest& digest);

  // --- listings: `limit` + 1 items are read to tell whether more follow ---
  struct Page {
    std::vector<std::string> items;
    bool more = false;
  };
  Result<Page> list_tags(std::string_view repository, std::string_view last, std::size_t limit);
  Result<Page> list_repositories(std::string_view last, std::size_t limit);
  Result<std::vector<metadata::Referrer>> list_referrers(
      std::string_view repository, const oci::Digest& subject,
      const std::optional<std::string>& artifact_type);

  // Cheap end-to-end check of both backends, for /healthz.
  Result<void> check_health();

  // --- /acr/v1 listings in an order (registry_views.cc) ---
  // A page of a repository's listed tags or manifests; `more` when items follow it.
  // name_unknown for a repository that does not exist.
  template <class Item>
  struct ItemPage {
    std::vector<Item> items;
    bool more = false;
  };
  Result<ItemPage<metadata::TagRecord>> tag_page(std::string_view repository,
                                                 const metadata::PageQuery& query);
  Result<ItemPage<metadata::ManifestSummary>> manifest_page(std::string_view repository,
                                                            const metadata::PageQuery& query);
  // With tags, platform and image size; manifest_unknown when the repository does not hold it.
  Result<metadata::ManifestSummary> manifest_summary(std::string_view repository,
                                                     const oci::Digest& digest);
  // What delete_repository_listing removed.
  struct RemovedContent {
    std::vector<std::string> manifests;  // digests
    std::vector<std::string> tags;
  };
  // delete_repository, answering with the manifests and tags the repository held just before.
  Result<RemovedContent> delete_repository_listing(std::string_view repository);

  // --- changeable attributes (locks; registry_locks.cc, docs/locks.md) ---
  // The tag with its digest and attributes; name_unknown / tag_unknown when absent.
  Result<metadata::TagRecord> tag_record(std::string_view repository, std::string_view tag);
  // Each applies `changes` and returns the item as it now is; name_unknown, tag_unknown or
  // manifest_unknown when absent.
  Result<metadata::RepositorySummary> update_repository_attributes(
      std::string_view repository, const metadata::AttributeChanges& changes);
  Result<metadata::TagRecord> update_tag_attributes(std::string_view repository,
                                                    std::string_view tag,
                                                    const metadata::AttributeChanges& changes);
  Result<ManifestDetail> update_manifest_attributes(std::string_view repository,
                                                    const oci::Digest& digest,
                                                    const metadata::AttributeChanges& changes);

  // --- soft-deleted content (registry_lifecycle.cc; unsupported without a lifecycle store) ---
  // Repositories with soft-deleted manifests or tags, by name, strictly after `after`.
  Result<std::vector<std::string>> deleted_repositories(std::string_view after,
                                                        std::size_t limit);
  Result<std::vector<metadata::DeletedManifest>> deleted_manifests(std::string_view repository,
                                                                   std::string_view after,
                                                                   std::size_t limit);
  Result<std::vector<metadata::DeletedTag>> deleted_tags(std::string_view repository,
                                                         std::optional<std::string_view> tag,
                                                         std::size_t limit);
  // Brings back the soft-deleted manifest (by digest, or the one the most recently deleted tag
  // of that name pointed at) with its deleted tags; `force` moves tags whose names are in use
  // again (never a write-locked one). manifest_unknown when nothing of it is kept; locked when
  // the repository is write-locked.
  Result<metadata::RestoredContent> restore(std::string_view repository,
                                            const oci::Reference& reference, bool force);

 private:
  // locked unless the repository (when it exists) allows writes: manifest pushes, uploads and
  // mounts into it.
  Result<void> check_repository_writable(std::string_view repository);
  // locked unless the repository (when it exists) allows reads: pulls of manifests and blobs.
  Result<void> check_repository_readable(std::string_view repository);
  // Before `tag` moves to `digest`: locked when the tag or the manifest it points at now is
  // write-locked (pointing it at the manifest it already names is no change and allowed).
  Result<void> check_tag_movable(std::string_view repository, std::string_view tag,
                                 const oci::Digest& digest);
  // locked when the manifest or one of its tags is delete-locked (digest given), or when the
  // repository or anything in it is (none).
  Result<void> check_deletable(std::string_view repository,
                               const std::optional<oci::Digest>& digest);

  metadata::RepositoryRef ref(std::string_view repository) const {
    return {registry_, repository};
  }

  // The session record of `id` when it belongs to `repository` of this registry and has not
  // been idle past the timeout.
  Result<metadata::UploadRecord> live_upload(std::string_view repository, std::string_view id);

  // An event of this registry, from this object's origin.
  metadata::EventRecord event(std::string_view action, std::string_view repository) const;

  storage::BlobStorage& storage_;
  metadata::MetadataStore& metadata_;
  UploadSessions& uploads_;
  metadata::RegistryId registry_;
  PullRecorder* pulls_;
  metadata::LifecycleStore* lifecycle_;
  metadata::EventOrigin origin_;
};

// Maps failures of the backends to registry errors (shared with the upload sweeper).
RegistryError from_metadata(const metadata::MetadataError& error);

// The quotas a link to `repository` must keep to: the repository's, and the registry's (its
// own, else its tier's included storage). No limits without a lifecycle store.
Result<metadata::StorageLimits> storage_limits(metadata::LifecycleStore* lifecycle,
                                               metadata::RepositoryRef repository);

// quota_exceeded when the repository or its registry already uses more than its quota (a
// quota lowered below the usage): nothing more may be pushed until space is freed.
Result<void> check_within_quotas(metadata::LifecycleStore* lifecycle,
                                 metadata::RepositoryRef repository);

// The refusal of an operation that a lock forbids: `item` names what is locked ("tag v1 of
// repository app"), `attribute` which attribute is false ("writeEnabled").
RegistryError locked_error(std::string_view item, std::string_view attribute);

}  // namespace berth::registry
