#pragma once
// MetadataStore: what the registry knows about repositories, blobs, manifests, tags and
// uploads. Backends: SqliteMetadataStore (embedded default) and PostgresMetadataStore
// (metadata/postgres/, for several nodes). Every backend passes the one
// conformance suite in metadata/conformance_test.cc.
//
// Listings are index scans with keyset pagination: callers pass the last item they saw and a
// limit, never an offset. All methods are safe to call concurrently from any thread.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "oci/digest.h"

namespace berth::metadata {

enum class Errc {
  not_found,
  conflict,  // e.g. a unique key already taken by a different value
  invalid_argument,
  schema_too_new,  // the database was written by a newer berth
  limit_reached,   // a bounded resource (e.g. open upload sessions) is at its limit
  storage_full,    // the database's disk has no space left
  database_error,  // the backend failed (I/O, corruption, busy past the timeout)
  being_deleted,   // garbage collection has claimed the blob: its bytes are going away
  reference_missing,  // a manifest names a blob the repository does not link (any more)
  quota_exceeded,     // the change would take a repository or registry beyond its quota
};
using MetadataError = Error<Errc>;
template <class T>
using Result = berth::Result<T, MetadataError>;

// Registries are the tenants: every repository belongs to exactly one. Migrating a database
// from before registries existed puts its repositories into the default registry (id 1).
using RegistryId = std::int64_t;
inline constexpr RegistryId kDefaultRegistryId = 1;
inline constexpr std::string_view kDefaultRegistryName = "default";

struct RegistryRecord {
  RegistryId id = 0;               // assigned by create_registry
  std::string name;                // as created; unique ignoring case
  std::string tier;                // "Basic" | "Standard" | "Premium"
  std::string region;
  std::int64_t created_at = 0;     // Unix seconds
  bool admin_user_enabled = false;
  bool anonymous_pull_enabled = false;
  bool public_network_access = true;
  // The firewall's answer for clients no network rule allows: "Allow" or "Deny".
  std::string default_network_action = "Allow";
  // Dedicated data endpoints: blob downloads may be redirected to the storage itself.
  bool data_endpoint_enabled = false;
};

// A repository of a registry. Cheap to copy; `name` must outlive the call.
struct RepositoryRef {
  RegistryId registry = kDefaultRegistryId;
  std::string_view name;
};

struct UploadRecord {
  std::string id;
  RegistryId registry = kDefaultRegistryId;
  std::string repository;
  std::int64_t created_at = 0;  // Unix seconds
  std::int64_t updated_at = 0;  // last request on the session (Unix seconds); 0: created_at
};

// The changeable attributes (locks) of a repository, a manifest or a tag, as the hosted service
// names them. Every one is true unless changed; docs/locks.md says what each refuses.
struct ChangeableAttributes {
  bool write_enabled = true;
  bool delete_enabled = true;
  bool read_enabled = true;
  bool list_enabled = true;
  bool operator==(const ChangeableAttributes&) const = default;
};

// A partial update of ChangeableAttributes: only the attributes given change.
struct AttributeChanges {
  std::optional<bool> write_enabled;
  std::optional<bool> delete_enabled;
  std::optional<bool> read_enabled;
  std::optional<bool> list_enabled;
  // `attributes` with these changes applied.
  ChangeableAttributes applied_to(ChangeableAttributes attributes) const {
    if (write_enabled) attributes.write_enabled = *write_enabled;
    if (delete_enabled) attributes.delete_enabled = *delete_enabled;
    if (read_enabled) attributes.read_enabled = *read_enabled;
    if (list_enabled) attributes.list_enabled = *list_enabled;
    return attributes;
  }
};

// What blocks deleting a repository or a manifest: the first delete-locked item found.
struct DeleteLock {
  enum class Kind { repository, manifest, tag };
  Kind kind = Kind::repository;
  std::string name;  // the repository's name, the manifest's digest or the tag's name
};

struct ManifestRecord {
  oci::Digest digest;
  std::string media_type;
  std::string artifact_type;           // effective artifact type (may be empty)
  std::optional<oci::Digest> subject;  // the manifest this one refers to, if any
  std::string annotations_json;        // compact JSON object or empty
  std::string content;                 // the exact bytes pushed
  std::int64_t created_at = 0;         // Unix seconds
  // Read back by get_manifest; put_manifest ignores them (a new manifest has the defaults, and
  // pushing a stored one again changes neither).
  ChangeableAttributes attributes;
  std::int64_t updated_at = 0;  // last change of its attributes; 0: never (use created_at)
  // The platform an image's config names (empty for indexes, artifacts and configs that name
  // none). put_manifest records them with a new manifest; get_manifest reads them back.
  std::string architecture;
  std::string os;
};

enum class ReferenceKind { blob, manifest };

// An edge from a manifest to what it needs: its config/layers (blob) or child manifests.
struct ManifestReference {
  oci::Digest digest;
  ReferenceKind kind = ReferenceKind::blob;
};

// One entry of a referrers listing: the referring manifest's descriptor.
struct Referrer {
  oci::Digest digest;
  std::string media_type;
  std::string artifact_type;
  std::uint64_t size = 0;
  std::string annotations_json;
};

struct RepositorySummary {
  std::string name;
  std::int64_t created_at = 0;
  std::int64_t updated_at = 0;       // latest manifest push or tag change (created_at if none)
  std::uint64_t storage_bytes = 0;   // sizes of the distinct blobs the repository links
  std::uint64_t manifest_count = 0;
  std::uint64_t tag_count = 0;
  ChangeableAttributes attributes;
};

struct TagRecord {
  std::string name;
  oci::Digest digest;
  std::int64_t created_at = 0;
  std::int64_t updated_at = 0;  // last move or attribute change
  ChangeableAttributes attributes;
};

struct ManifestSummary {
  oci::Digest digest;
  std::string media_type;
  std::string artifact_type;
  std::uint64_t size = 0;
  std::int64_t created_at = 0;
  std::vector<std::string> tags;  // sorted
  std::int64_t updated_at = 0;    // last attribute change; 0: never (use created_at)
  ChangeableAttributes attributes;
  // Filled by the paged listing and manifest_summary only (the management views leave them):
  // the platform its image config names, and its size with the blobs it references directly
  // (config and layers of an image; an index's own bytes).
  std::string architecture;
  std::string os;
  std::uint64_t image_size = 0;
};

// The orders of the paged listings of tags and manifests (list_tag_page, list_manifest_page).
// "Time" is the item's last update: a tag's updated_at, a manifest's updated_at or, when it
// has none, its created_at. Ties in time go by the key, in the same direction as the time.
enum class ListingOrder {
  by_key,     // tags by name, manifests by digest (ascending, byte order)
  time_desc,  // latest update first
  time_asc,   // earliest update first
};

// The last item of the previous page: the next page starts strictly after it in the order.
// `time` is ignored for ListingOrder::by_key.
struct ListingPosition {
  std::int64_t time = 0;  // the item's last update (Unix seconds)
  std::string key;        // the tag's name or the manifest's digest
};

struct PageQuery {
  ListingOrder order = ListingOrder::by_key;
  std::optional<ListingPosition> after;  // none: from the start
  std::size_t limit = 0;
};

// --- events (the EventStore keeps and delivers them; content changes append theirs) ---

// Who made a change and how: the request that caused an event.
struct EventOrigin {
  std::string identity;       // the caller as the audit names it; never a secret
  std::string identity_kind;  // "adminUser", "token", "identity", "deploymentAdmin", ...
  std::string client_address;
  std::string request_id;
  std::string host;
  std::string method;
  std::string user_agent;
};

// The actions of events. Webhooks deliver push, delete, chart_push, chart_delete, quarantine
// and ping (the hosted service's set: a tag delete is an untag, not a delete); the audit keeps
// every one.
namespace event_action {
inline constexpr std::string_view kPush = "push";
inline constexpr std::string_view kDelete = "delete";
inline constexpr std::string_view kChartPush = "chart_push";
inline constexpr std::string_view kChartDelete = "chart_delete";
inline constexpr std::string_view kQuarantine = "quarantine";
inline constexpr std::string_view kPing = "ping";
inline constexpr std::string_view kUntag = "untag";
inline constexpr std::string_view kPull = "pull";
inline constexpr std::string_view kPurge = "purge";
// Whether webhooks deliver events of `action`.
inline bool is_deliverable(std::string_view action) {
  return action == kPush || action == kDelete || action == kChartPush || action == kChartDelete ||
         action == kQuarantine || action == kPing;
}
}  // namespace event_action

struct EventRecord {
  std::int64_t sequence = 0;  // assigned by the store: the order of events (deployment-wide)
  std::string id;             // the event's id in payloads (a UUID)
  RegistryId registry = kDefaultRegistryId;
  std::string action;  // see events::action
  std::string repository;
  std::string tag;            // may be empty
  std::string digest;         // may be empty (repository deletes, pings)
  std::string media_type;     // the manifest's
  std::string artifact_type;  // the manifest's effective artifact type (a Helm chart's config)
  std::uint64_t size = 0;     // the manifest's size in bytes
  EventOrigin origin;
  std::int64_t created_at = 0;  // ms; filled in by the store when 0
  // Whether webhooks deliver it (the audit keeps every event).
  bool deliverable = false;
  // Only for this webhook (a ping or a redelivery); none: every webhook of the registry.
  std::optional<std::int64_t> webhook;
  // A redelivery's original event (its sequence).
  std::optional<std::int64_t> redelivery_of;
  // When the store appended it (ms): created_at for a new event, later for a redelivery, which
  // keeps the original's time and content but gets a retry window of its own.
  std::int64_t queued_at = 0;
};

class MetadataStore {
 public:
  virtual ~MetadataStore() = default;

  // --- registries ---
  // conflict when the name is taken (compared ignoring case); returns the record with its id.
  virtual Result<RegistryRecord> create_registry(const RegistryRecord& registry) = 0;
  // Lookup ignoring case.
  virtual Result<std::optional<RegistryRecord>> find_registry(std::string_view name) = 0;
  // Sorted by name.
  virtual Result<std::vector<RegistryRecord>> list_registries() = 0;
  // Updates tier, region and flags of the registry with registry.id; false when absent.
  virtual Result<bool> update_registry(const RegistryRecord& registry) = 0;
  // Removes the registry with all its repositories, manifests, tags, links and uploads.
  virtual Result<bool> delete_registry(RegistryId registry) = 0;
  // Sum of the sizes of the distinct blobs linked by any repository of the registry (a blob in
  // two repositories counts once).
  virtual Result<std::uint64_t> registry_storage_bytes(RegistryId registry) = 0;

  // --- repository metadata (management views) ---
  // Sorted by name.
  virtual Result<std::vector<RepositorySummary>> list_repository_summaries(RegistryId registry) = 0;
  virtual Result<std::optional<RepositorySummary>> repository_summary(RepositoryRef repository) = 0;
  // Removes the repository with its manifests, tags, blob links and uploads; false when absent.
  // `events` are appended in the same transaction when it was there.
  virtual Result<bool> delete_repository(RepositoryRef repository,
                                         std::span<const EventRecord> events = {}) = 0;
  // Sorted by name.
  virtual Result<std::vector<TagRecord>> list_tag_records(RepositoryRef repository) = 0;
  // Sorted by created_at descending, then digest.
  virtual Result<std::vector<ManifestSummary>> list_manifest_summaries(RepositoryRef repository) = 0;

  // --- repositories (created implicitly by the first upload, blob link or manifest) ---
  virtual Result<bool> repository_exists(RepositoryRef repository) = 0;
  // Names sorted ascending, strictly after `last` (empty: from the start), at most `limit`.
  virtual Result<std::vector<std::string>> list_repositories(RegistryId registry,
                                                             std::string_view last,
                                                             std::size_t limit) = 0;

  // --- blobs ---
  // Records that `repository` holds blob `digest` of `size` bytes, and that the blob and the
  // link were used now (renewing both against garbage collection). Idempotent.
  // being_deleted when a collection has claimed the blob (its bytes are going away).
  virtual Result<void> link_blob(RepositoryRef repository, const oci::Digest& digest,
                                 std::uint64_t size) = 0;
  // The blob's size if `repository` holds it, else nullopt.
  virtual Result<std::optional<std::uint64_t>> linked_blob_size(RepositoryRef repository,
                                                                const oci::Digest& digest) = 0;
  // Removes the link; false when there was none.
  virtual Result<bool> unlink_blob(RepositoryRef repository, const oci::Digest& digest) = 0;

  // --- upload sessions ---
  virtual Result<void> create_upload(const UploadRecord& upload) = 0;
  // Like create_upload, but limit_reached when the registry already has
  // `max_open_in_registry` sessions; the count and the insert are one transaction, so
  // concurrent starts cannot overshoot.
  virtual Result<void> create_upload_within_limit(const UploadRecord& upload,
                                                  std::uint64_t max_open_in_registry) = 0;
  virtual Result<std::optional<UploadRecord>> get_upload(std::string_view id) = 0;
  // Records a request on the session at `now` (Unix seconds). No-op for an unknown id.
  virtual Result<void> touch_upload(std::string_view id, std::int64_t now) = 0;
  // Sessions of every registry last used before `idle_since`, least recently used first, at
  // most `limit`.
  virtual Result<std::vector<UploadRecord>> list_idle_uploads(std::int64_t idle_since,
                                                              std::size_t limit) = 0;
  // Idempotent.
  virtual Result<void> delete_upload(std::string_view id) = 0;

  // --- manifests and tags ---
  // In one transaction: stores the manifest (no-op if the same digest is already there), its
  // references, points `tag` at it when given (moving the tag if it existed), and appends
  // `events`. Re-checks in that transaction that the repository links every blob reference
  // (reference_missing otherwise), so a collection that removed a link after the caller's
  // checks can never leave the manifest pointing at bytes it is about to delete.
  virtual Result<void> put_manifest(RepositoryRef repository, const ManifestRecord& manifest,
                                    const std::vector<ManifestReference>& references,
                                    const std::optional<std::string>& tag,
                                    std::span<const EventRecord> events = {}) = 0;
  virtual Result<std::optional<ManifestRecord>> get_manifest(RepositoryRef repository,
                                                             const oci::Digest& digest) = 0;
  // Whether the manifest is stored, without reading its content.
  virtual Result<bool> manifest_exists(RepositoryRef repository, const oci::Digest& digest) = 0;
  // The size in bytes of the stored manifest, else nullopt; without reading its content.
  virtual Result<std::optional<std::uint64_t>> manifest_size(RepositoryRef repository,
                                                             const oci::Digest& digest) = 0;
  virtual Result<std::optional<oci::Digest>> resolve_tag(RepositoryRef repository,
                                                         std::string_view tag) = 0;
  // Removes the manifest, every tag pointing at it and its references; false when absent.
  // `events` are appended in the same transaction when something was removed.
  virtual Result<bool> delete_manifest(RepositoryRef repository, const oci::Digest& digest,
                                       std::span<const EventRecord> events = {}) = 0;
  // Removes only the tag; false when absent. `events` as for delete_manifest.
  virtual Result<bool> delete_tag(RepositoryRef repository, std::string_view tag,
                                  std::span<const EventRecord> events = {}) = 0;
  // Tag names sorted ascending (byte order), strictly after `last`, at most `limit`.
  virtual Result<std::vector<std::string>> list_tags(RepositoryRef repository,
                                                     std::string_view last, std::size_t limit) = 0;
  // Manifests in `repository` whose subject is `subject`, optionally only those of
  // `artifact_type`, ordered by digest.
  virtual Result<std::vector<Referrer>> list_referrers(
      RepositoryRef repository, const oci::Digest& subject,
      const std::optional<std::string>& artifact_type) = 0;

  // --- changeable attributes (locks) ---
  // Listings for clients (list_repositories, list_tags) leave out list-disabled items; the
  // management views (list_*_summaries, list_tag_records) return every item with its
  // attributes, and the registry decides what to show.
  // nullopt when the repository does not exist.
  virtual Result<std::optional<ChangeableAttributes>> repository_attributes(
      RepositoryRef repository) = 0;
  // The tag with its digest and attributes; nullopt when absent.
  virtual Result<std::optional<TagRecord>> find_tag(RepositoryRef repository,
                                                    std::string_view tag) = 0;
  // Without reading the manifest's content; nullopt when absent.
  virtual Result<std::optional<ChangeableAttributes>> manifest_attributes(
      RepositoryRef repository, const oci::Digest& digest) = 0;
  // Apply `changes` and return the attributes now in force; nullopt when the item is absent.
  // A manifest's or tag's updated_at becomes `now` (Unix seconds); repositories keep no such
  // time.
  virtual Result<std::optional<ChangeableAttributes>> update_repository_attributes(
      RepositoryRef repository, const AttributeChanges& changes) = 0;
  virtual Result<std::optional<ChangeableAttributes>> update_tag_attributes(
      RepositoryRef repository, std::string_view tag, const AttributeChanges& changes,
      std::int64_t now) = 0;
  virtual Result<std::optional<ChangeableAttributes>> update_manifest_attributes(
      RepositoryRef repository, const oci::Digest& digest, const AttributeChanges& changes,
      std::int64_t now) = 0;
  // What forbids deleting the manifest `digest` (when given: the manifest or one of its tags is
  // delete-locked) or else the whole repository (the repository, any manifest or any tag);
  // nullopt when nothing does.
  virtual Result<std::optional<DeleteLock>> find_delete_lock(
      RepositoryRef repository, const std::optional<oci::Digest>& digest) = 0;

  // --- paged listings in an order (/acr/v1; index scans with keyset pagination) ---
  // The repository's listed tags (list-disabled ones left out) in `query.order`, strictly
  // after `query.after`, at most `query.limit`. Empty for an unknown repository.
  virtual Result<std::vector<TagRecord>> list_tag_page(RepositoryRef repository,
                                                       const PageQuery& query) = 0;
  // Likewise for manifests: summaries with every tag on each (sorted), the platform and the
  // image size.
  virtual Result<std::vector<ManifestSummary>> list_manifest_page(RepositoryRef repository,
                                                                  const PageQuery& query) = 0;
  // One manifest's summary as list_manifest_page gives it, whatever its attributes; nullopt
  // when absent.
  virtual Result<std::optional<ManifestSummary>> manifest_summary(RepositoryRef repository,
                                                                  const oci::Digest& digest) = 0;
};

}  // namespace berth::metadata
