#pragma once
// LifecycleStore: what content lifecycle keeps beyond the content itself. Backends:
// SqliteMetadataStore and PostgresMetadataStore. The conformance suite (metadata/lifecycle_conformance_test.cc) covers it.
//
// - Soft delete (per registry, off by default): while it is on, MetadataStore's delete_manifest,
//   delete_tag and delete_repository keep what they remove, in the same transaction, until it
//   expires: each manifest (content, references, platform, attributes) and each tag (its name and
//   digest). Deleted content is keyed by the repository's name, so it outlives the repository.
//   restore_manifest brings a manifest back with its deleted tags; expire_deleted forgets what
//   has expired. Garbage collection treats the blobs of a soft-deleted manifest as referenced.
// - Retention (per registry): manifests that lost their last tag (or were pushed without one)
//   after the policy was enabled and are older than its window are deleted through the
//   registry's one delete path; retention_candidates finds them.
// - Usage counters: each repository's and each registry's linked bytes (a blob linked by two
//   repositories of one registry counts once for the registry), kept exact by the store in the
//   transaction of every link change, so a quota check costs one row read.
//
// Times are Unix seconds.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "metadata/metadata_store.h"
#include "oci/digest.h"

namespace berth::metadata {

inline constexpr int kMinSoftDeleteDays = 1;
inline constexpr int kMaxSoftDeleteDays = 90;
inline constexpr int kMinRetentionDays = 0;
inline constexpr int kMaxRetentionDays = 365;
inline constexpr int kDefaultPolicyDays = 7;

struct SoftDeletePolicy {
  bool enabled = false;
  int days = kDefaultPolicyDays;  // how long deleted content is kept
  std::int64_t updated_at = 0;    // 0: never changed
};

struct RetentionPolicy {
  bool enabled = false;
  int days = kDefaultPolicyDays;  // how long a manifest may stay untagged
  std::int64_t updated_at = 0;    // 0: never changed
  // When it was last switched on: only manifests untagged at or after it are deleted.
  std::int64_t enabled_at = 0;
};

// A soft-deleted manifest: what it was, and when it was deleted and expires.
struct DeletedManifest {
  std::string repository;
  oci::Digest digest;
  std::string media_type;
  std::string artifact_type;
  std::uint64_t size = 0;
  std::int64_t created_at = 0;
  std::int64_t deleted_at = 0;
  std::int64_t expires_at = 0;
  std::string architecture;
  std::string os;
  std::vector<std::string> tags;  // its deleted tags, sorted
};

struct DeletedTag {
  std::string repository;
  std::string name;
  oci::Digest digest;
  std::int64_t created_at = 0;  // when the tag was first made
  std::int64_t deleted_at = 0;
  std::int64_t expires_at = 0;
};

// What restore_manifest brought back.
struct RestoredContent {
  std::vector<oci::Digest> manifests;   // the manifest first, then soft-deleted children
  std::vector<std::string> tags;        // tags pointed at it again
  std::vector<std::string> tags_taken;  // deleted tags not restored: the name is in use now
};

struct ExpiredCounts {
  std::uint64_t manifests = 0;
  std::uint64_t tags = 0;
};

// A manifest found by retention or purge: the repository and the digest.
struct ManifestKey {
  std::string repository;
  oci::Digest digest;
  bool operator==(const ManifestKey&) const = default;
};

// Linked bytes and quotas of a repository and its registry. A quota of nullopt is not set here
// (the registry's falls back to its tier's included storage, which the registry layer knows).
struct StorageState {
  std::string tier;  // the registry's
  std::uint64_t registry_bytes = 0;
  std::optional<std::uint64_t> registry_quota;
  std::uint64_t repository_bytes = 0;  // 0 for a repository that does not exist yet
  std::optional<std::uint64_t> repository_quota;
};

// The limits a link must stay within; nullopt: no limit.
struct StorageLimits {
  std::optional<std::uint64_t> registry_bytes;
  std::optional<std::uint64_t> repository_bytes;
};

// A purge that runs on a schedule (a five-field cron expression, UTC). `filters` are
// "repository-regex:tag-regex" as `berth purge --filter` takes them.
struct PurgeSchedule {
  RegistryId registry = kDefaultRegistryId;
  std::string name;
  std::string schedule;
  std::vector<std::string> filters;
  std::int64_t ago_seconds = 0;
  bool untagged = false;
  std::uint64_t keep = 0;
  std::int64_t created_at = 0;
  std::int64_t updated_at = 0;
  std::int64_t last_run_at = 0;  // 0: never ran
  std::string last_result;       // a one-line summary of the last run
};

class LifecycleStore {
 public:
  virtual ~LifecycleStore() = default;

  // --- policies (not_found for an unknown registry) ---
  virtual Result<SoftDeletePolicy> soft_delete_policy(RegistryId registry) = 0;
  // invalid_argument when days is outside 1-90.
  virtual Result<SoftDeletePolicy> set_soft_delete_policy(RegistryId registry, bool enabled,
                                                          int days, std::int64_t now) = 0;
  virtual Result<RetentionPolicy> retention_policy(RegistryId registry) = 0;
  // invalid_argument when days is outside 0-365. Switching it on sets enabled_at to `now`.
  virtual Result<RetentionPolicy> set_retention_policy(RegistryId registry, bool enabled, int days,
                                                       std::int64_t now) = 0;
  // Registries whose retention policy is on, by id.
  virtual Result<std::vector<RegistryId>> registries_with_retention() = 0;

  // --- soft-deleted content ---
  // Names of repositories with soft-deleted manifests or tags, sorted, strictly after `after`.
  virtual Result<std::vector<std::string>> list_deleted_repositories(RegistryId registry,
                                                                     std::string_view after,
                                                                     std::size_t limit) = 0;
  // The repository's soft-deleted manifests by digest, strictly after `after`.
  virtual Result<std::vector<DeletedManifest>> list_deleted_manifests(RepositoryRef repository,
                                                                      std::string_view after,
                                                                      std::size_t limit) = 0;
  // The repository's soft-deleted tags (only those called `tag` when given), by name, then most
  // recently deleted first; at most `limit`.
  virtual Result<std::vector<DeletedTag>> list_deleted_tags(RepositoryRef repository,
                                                            std::optional<std::string_view> tag,
                                                            std::size_t limit) = 0;
  // The digest the most recently deleted tag `tag` pointed at; nullopt when none is kept.
  virtual Result<std::optional<oci::Digest>> deleted_tag_digest(RepositoryRef repository,
                                                                std::string_view tag) = 0;
  // In one transaction: brings back the soft-deleted manifest `digest` (re-creating the
  // repository and the blob links it needs, and first any soft-deleted child manifests it
  // names that are not stored), then points its deleted tags at it again (a tag whose name is
  // in use now stays as it is unless `replace_tags`), and forgets what it restored. The
  // manifest may be live already (only its tags were deleted). not_found when neither the
  // manifest nor any deleted tag of it is kept; reference_missing when a blob it needs is gone.
  virtual Result<RestoredContent> restore_manifest(RepositoryRef repository,
                                                   const oci::Digest& digest, bool replace_tags,
                                                   std::span<const EventRecord> events = {}) = 0;
  // Forgets soft-deleted manifests and tags whose time ran out by `now`, at most `limit` of each.
  virtual Result<ExpiredCounts> expire_deleted(std::int64_t now, std::size_t limit) = 0;
  // Bytes held only for the registry's soft-deleted manifests: their distinct blobs that no
  // repository of the registry links, plus the manifests' own bytes.
  virtual Result<std::uint64_t> soft_deleted_bytes(RegistryId registry) = 0;

  // --- retention ---
  // Manifests of the registry its retention policy deletes at `now`: untagged since at least
  // the window, at or after the policy was enabled, not delete-locked (nor their repository),
  // not a child of another manifest of the repository, and not a referrer of a stored manifest.
  // Ordered by (repository, digest), strictly after `after`. Empty when the policy is off.
  virtual Result<std::vector<ManifestKey>> retention_candidates(
      RegistryId registry, std::int64_t now, const std::optional<ManifestKey>& after,
      std::size_t limit) = 0;
  // The repository's manifests that purge may delete, tagged or not, by digest: last changed
  // (pushed, attributes changed or untagged) at or before `changed_before`, and otherwise as
  // retention_candidates asks (not locked, not a child, not a referrer of a stored manifest).
  virtual Result<std::vector<oci::Digest>> disposable_manifests(RepositoryRef repository,
                                                                std::int64_t changed_before) = 0;

  // --- quotas and usage ---
  // An empty repository name reads only the registry's part. not_found for an unknown registry.
  virtual Result<StorageState> storage_state(RepositoryRef repository) = 0;
  // nullopt removes the quota. Registry: not_found when absent. Repository: not_found when absent.
  virtual Result<void> set_registry_quota(RegistryId registry,
                                          std::optional<std::uint64_t> bytes) = 0;
  virtual Result<void> set_repository_quota(RepositoryRef repository,
                                            std::optional<std::uint64_t> bytes) = 0;
  // link_blob, refused with quota_exceeded (and nothing linked) when the link adds bytes to the
  // repository or the registry beyond `limits`. The check and the link are one transaction.
  virtual Result<void> link_blob_within(RepositoryRef repository, const oci::Digest& digest,
                                        std::uint64_t size, const StorageLimits& limits) = 0;
  // Recounted from the links (for checks that the counters are exact).
  virtual Result<std::uint64_t> recount_registry_bytes(RegistryId registry) = 0;

  // --- purge schedules ---
  // Creates or replaces the schedule (registry, name); created_at stays when it existed.
  // not_found for an unknown registry.
  virtual Result<PurgeSchedule> put_purge_schedule(const PurgeSchedule& schedule) = 0;
  // The registry's schedules by name; none: every registry's, by registry and name.
  virtual Result<std::vector<PurgeSchedule>> list_purge_schedules(
      std::optional<RegistryId> registry) = 0;
  // false when there was none.
  virtual Result<bool> delete_purge_schedule(RegistryId registry, std::string_view name) = 0;
  // Records a run; false when the schedule is gone.
  virtual Result<bool> record_purge_run(RegistryId registry, std::string_view name, std::int64_t at,
                                        std::string_view result) = 0;
};

}  // namespace berth::metadata
