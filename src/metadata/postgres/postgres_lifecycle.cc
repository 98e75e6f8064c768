// PostgresMetadataStore: the LifecycleStore part (soft delete and restore, retention, quotas
// and the usage counters, purge schedules). Tables and triggers in postgres_schema.cc;
// sqlite_lifecycle.cc explains the shape, which is the same.

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "metadata/postgres/postgres_internal.h"
#include "metadata/postgres/postgres_metadata_store.h"

namespace berth::metadata {

using namespace postgres;

namespace {

// Child manifests of a restored index are restored with it, at most this deep.
constexpr int kMaxRestoreDepth = 8;

// The registry $1 keeps deleted content; its repository $2.
#define BERTH_PG_KEEPING                                                           \
  "FROM registries g JOIN repositories r ON r.registry_id = g.id AND r.name = $2 " \
  "JOIN manifests m ON m.repository_id = r.id "

// A manifest of repository r that retention or purge may delete: not delete-locked (nor its
// repository), not a child of another manifest of the repository (an index needs its
// platforms), and not a referrer of a stored manifest (signatures stay with their image).
#define BERTH_PG_DISPOSABLE_MANIFEST                                                    \
  "m.delete_enabled AND r.delete_enabled "                                              \
  "AND NOT EXISTS (SELECT 1 FROM manifest_references mr JOIN manifests p "              \
  "ON p.id = mr.manifest_id WHERE mr.child_digest = m.digest AND mr.kind = 'manifest' " \
  "AND p.repository_id = m.repository_id) "                                             \
  "AND (m.subject_digest IS NULL OR NOT EXISTS (SELECT 1 FROM manifests s "             \
  "WHERE s.repository_id = m.repository_id AND s.digest = m.subject_digest)) "

#define BERTH_PG_PURGE_SCHEDULE_COLUMNS                                                         \
  "registry_id, name, schedule, filters, ago_seconds, untagged, keep, created_at, updated_at, " \
  "last_run_at, last_result"

// $1 registry, $2 repository, $3 digest (NULL: every manifest), $4 now.
constexpr Statement kKeepManifests{
    "keep_manifests",
    "INSERT INTO deleted_manifests (registry_id, repository, digest, media_type, artifact_type, "
    "subject_digest, annotations, size, created_at, updated_at, content, write_enabled, "
    "read_enabled, list_enabled, architecture, os, deleted_at, expires_at) "
    "SELECT g.id, r.name, m.digest, m.media_type, m.artifact_type, m.subject_digest, "
    "m.annotations, m.size, m.created_at, m.updated_at, m.content, m.write_enabled, "
    "m.read_enabled, m.list_enabled, p.architecture, p.os, $4::bigint, "
    "$4::bigint + g.soft_delete_days * 86400 " BERTH_PG_KEEPING
    "LEFT JOIN manifest_platforms p ON p.manifest_id = m.id "
    "WHERE g.id = $1 AND g.soft_delete_enabled AND ($3::text IS NULL OR m.digest = $3::text) "
    "ON CONFLICT (registry_id, repository, digest) DO UPDATE SET "
    "deleted_at = excluded.deleted_at, expires_at = excluded.expires_at, "
    "write_enabled = excluded.write_enabled, read_enabled = excluded.read_enabled, "
    "list_enabled = excluded.list_enabled"};
constexpr Statement kKeepReferences{
    "keep_references",
    "INSERT INTO deleted_manifest_references (deleted_manifest_id, child_digest, kind) "
    "SELECT d.id, mr.child_digest, mr.kind " BERTH_PG_KEEPING
    "JOIN manifest_references mr ON mr.manifest_id = m.id "
    "JOIN deleted_manifests d ON d.registry_id = g.id AND d.repository = r.name "
    "AND d.digest = m.digest "
    "WHERE g.id = $1 AND g.soft_delete_enabled AND ($3::text IS NULL OR m.digest = $3::text) "
    "ON CONFLICT DO NOTHING"};
// $5: only the tag of this name (NULL: every tag on the manifests).
constexpr Statement kKeepTags{
    "keep_tags",
    "INSERT INTO deleted_tags (registry_id, repository, name, digest, created_at, deleted_at, "
    "expires_at) SELECT g.id, r.name, t.name, m.digest, t.created_at, $4::bigint, "
    "$4::bigint + g.soft_delete_days * 86400 " BERTH_PG_KEEPING
    "JOIN tags t ON t.manifest_id = m.id "
    "WHERE g.id = $1 AND g.soft_delete_enabled AND ($3::text IS NULL OR m.digest = $3::text) "
    "AND ($5::text IS NULL OR t.name = $5::text) "
    "ON CONFLICT (registry_id, repository, name, digest) DO UPDATE SET "
    "deleted_at = excluded.deleted_at, expires_at = excluded.expires_at"};
constexpr Statement kSoftDeletePolicy{
    "soft_delete_policy",
    "SELECT soft_delete_enabled, soft_delete_days, soft_delete_updated_at FROM registries "
    "WHERE id = $1"};
constexpr Statement kSetSoftDeletePolicy{
    "set_soft_delete_policy",
    "UPDATE registries SET soft_delete_enabled = $2, soft_delete_days = $3, "
    "soft_delete_updated_at = $4 WHERE id = $1 "
    "RETURNING soft_delete_enabled, soft_delete_days, soft_delete_updated_at"};
constexpr Statement kRetentionPolicy{
    "retention_policy",
    "SELECT retention_enabled, retention_days, retention_updated_at, retention_enabled_at "
    "FROM registries WHERE id = $1"};
// The SET expressions all see the row as it was: enabled_at moves only when switched on.
constexpr Statement kSetRetentionPolicy{
    "set_retention_policy",
    "UPDATE registries SET retention_enabled_at = CASE WHEN $2::boolean AND NOT "
    "retention_enabled THEN $4 ELSE retention_enabled_at END, retention_enabled = $2::boolean, "
    "retention_days = $3, retention_updated_at = $4 WHERE id = $1 "
    "RETURNING retention_enabled, retention_days, retention_updated_at, retention_enabled_at"};
constexpr Statement kRegistriesWithRetention{
    "registries_with_retention", "SELECT id FROM registries WHERE retention_enabled ORDER BY id"};
constexpr Statement kListDeletedRepositories{
    "list_deleted_repositories",
    "SELECT repository FROM deleted_manifests WHERE registry_id = $1 AND repository > $2 "
    "UNION SELECT repository FROM deleted_tags WHERE registry_id = $1 AND repository > $2 "
    "ORDER BY 1 LIMIT $3"};
constexpr Statement kListDeletedManifests{
    "list_deleted_manifests",
    "SELECT d.digest, d.media_type, d.artifact_type, d.size, d.created_at, d.deleted_at, "
    "d.expires_at, COALESCE(d.architecture, ''), COALESCE(d.os, ''), "
    "(SELECT string_agg(DISTINCT t.name, chr(10) ORDER BY t.name) FROM deleted_tags t "
    "WHERE t.registry_id = d.registry_id AND t.repository = d.repository "
    "AND t.digest = d.digest) "
    "FROM deleted_manifests d WHERE d.registry_id = $1 AND d.repository = $2 AND d.digest > $3 "
    "ORDER BY d.digest LIMIT $4"};
constexpr Statement kListDeletedTags{
    "list_deleted_tags",
    "SELECT name, digest, created_at, deleted_at, expires_at FROM deleted_tags "
    "WHERE registry_id = $1 AND repository = $2 AND ($3::text IS NULL OR name = $3::text) "
    "ORDER BY name, deleted_at DESC, digest LIMIT $4"};
constexpr Statement kDeletedTagDigest{
    "deleted_tag_digest",
    "SELECT digest FROM deleted_tags WHERE registry_id = $1 AND repository = $2 AND name = $3 "
    "ORDER BY deleted_at DESC, digest LIMIT 1"};
constexpr Statement kFindDeletedManifest{
    "find_deleted_manifest",
    "SELECT id FROM deleted_manifests WHERE registry_id = $1 AND repository = $2 "
    "AND digest = $3"};
constexpr Statement kDeletedReferences{
    "deleted_references",
    "SELECT child_digest, kind FROM deleted_manifest_references WHERE deleted_manifest_id = $1 "
    "ORDER BY kind, child_digest"};
constexpr Statement kForgetDeletedManifest{"forget_deleted_manifest",
                                           "DELETE FROM deleted_manifests WHERE id = $1"};
constexpr Statement kDeletedTagNames{
    "deleted_tag_names",
    "SELECT DISTINCT name FROM deleted_tags WHERE registry_id = $1 AND repository = $2 "
    "AND digest = $3 ORDER BY name"};
constexpr Statement kForgetDeletedTag{
    "forget_deleted_tag",
    "DELETE FROM deleted_tags WHERE registry_id = $1 AND repository = $2 AND name = $3 "
    "AND digest = $4"};
// The tag as restore sees it: the digest it points at and whether it is write-locked.
constexpr Statement kLiveTag{
    "restore_live_tag",
    "SELECT m.digest, t.write_enabled FROM tags t JOIN manifests m ON m.id = t.manifest_id "
    "WHERE t.repository_id = $1 AND t.name = $2"};
// A link made again for a restore. Nothing when the blob row is gone or claimed.
constexpr Statement kRestoreLink{
    "restore_link",
    "INSERT INTO repository_blobs (repository_id, digest, created_at) "
    "SELECT $1::bigint, digest, $3::bigint FROM blobs WHERE digest = $2 AND NOT deleting "
    "ON CONFLICT (repository_id, digest) DO UPDATE SET created_at = excluded.created_at"};
constexpr Statement kRestoreManifest{
    "restore_manifest",
    "INSERT INTO manifests (repository_id, digest, media_type, artifact_type, subject_digest, "
    "annotations, size, created_at, content, untagged_at, updated_at, write_enabled, "
    "read_enabled, list_enabled) "
    "SELECT $1::bigint, digest, media_type, artifact_type, subject_digest, annotations, size, "
    "created_at, content, $3::bigint, updated_at, write_enabled, read_enabled, list_enabled "
    "FROM deleted_manifests WHERE id = $2 RETURNING id"};
constexpr Statement kRestorePlatform{
    "restore_platform",
    "INSERT INTO manifest_platforms (manifest_id, architecture, os) "
    "SELECT $1::bigint, architecture, COALESCE(os, '') FROM deleted_manifests WHERE id = $2 "
    "AND architecture IS NOT NULL"};
constexpr Statement kExpireManifests{
    "expire_manifests",
    "DELETE FROM deleted_manifests WHERE id IN (SELECT id FROM deleted_manifests "
    "WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2)"};
constexpr Statement kExpireTags{
    "expire_tags",
    "DELETE FROM deleted_tags WHERE (registry_id, repository, name, digest) IN ("
    "SELECT registry_id, repository, name, digest FROM deleted_tags WHERE expires_at <= $1 "
    "ORDER BY expires_at LIMIT $2)"};
constexpr Statement kSoftDeletedBytes{
    "soft_deleted_bytes",
    "SELECT COALESCE((SELECT sum(b.size) FROM blobs b WHERE b.digest IN ("
    "SELECT dr.child_digest FROM deleted_manifests d JOIN deleted_manifest_references dr "
    "ON dr.deleted_manifest_id = d.id WHERE d.registry_id = $1 AND dr.kind = 'blob') "
    "AND NOT EXISTS (SELECT 1 FROM repository_blobs rb JOIN repositories r "
    "ON r.id = rb.repository_id WHERE rb.digest = b.digest AND r.registry_id = $1)), 0) + "
    "COALESCE((SELECT sum(size) FROM deleted_manifests WHERE registry_id = $1), 0)"};
// $2 now; $3, $4 the (repository, digest) the page starts after; $5 the limit.
constexpr Statement kRetentionCandidates{
    "retention_candidates",
    "SELECT r.name, m.digest FROM registries g "
    "JOIN repositories r ON r.registry_id = g.id JOIN manifests m ON m.repository_id = r.id "
    "WHERE g.id = $1 AND g.retention_enabled AND m.untagged_at IS NOT NULL "
    "AND m.untagged_at >= g.retention_enabled_at "
    "AND m.untagged_at <= $2 - g.retention_days * 86400 AND " BERTH_PG_DISPOSABLE_MANIFEST
    "AND (r.name, m.digest) > ($3, $4) ORDER BY r.name, m.digest LIMIT $5"};
constexpr Statement kDisposableManifests{
    "disposable_manifests",
    "SELECT m.digest FROM repositories r JOIN manifests m ON m.repository_id = r.id "
    "WHERE r.registry_id = $1 AND r.name = $2 "
    "AND GREATEST(m.created_at, m.updated_at, COALESCE(m.untagged_at, 0)) <= $3 "
    "AND " BERTH_PG_DISPOSABLE_MANIFEST "ORDER BY m.digest"};
constexpr Statement kStorageState{
    "storage_state",
    "SELECT g.linked_bytes, g.storage_quota_bytes, COALESCE(r.linked_bytes, 0), "
    "r.storage_quota_bytes, g.tier FROM registries g LEFT JOIN repositories r "
    "ON r.registry_id = g.id AND r.name = $2 WHERE g.id = $1"};
constexpr Statement kSetRegistryQuota{
    "set_registry_quota", "UPDATE registries SET storage_quota_bytes = $2 WHERE id = $1"};
constexpr Statement kSetRepositoryQuota{
    "set_repository_quota",
    "UPDATE repositories SET storage_quota_bytes = $3 WHERE registry_id = $1 AND name = $2"};
// Usage of the repository $1 and its registry, and whether each links the blob $2 already.
constexpr Statement kQuotaProbe{
    "quota_probe",
    "SELECT g.linked_bytes, r.linked_bytes, "
    "EXISTS (SELECT 1 FROM repository_blobs WHERE repository_id = r.id AND digest = $2), "
    "EXISTS (SELECT 1 FROM repository_blobs rb JOIN repositories o "
    "ON o.id = rb.repository_id WHERE rb.digest = $2 AND o.registry_id = g.id) "
    "FROM repositories r JOIN registries g ON g.id = r.registry_id WHERE r.id = $1"};
// IN (subquery) makes the digests distinct: a blob linked by several repositories of the
// registry counts once.
constexpr Statement kRecountRegistryBytes{
    "recount_registry_bytes",
    "SELECT COALESCE(sum(size), 0) FROM blobs WHERE digest IN ("
    "SELECT rb.digest FROM repositories r JOIN repository_blobs rb ON rb.repository_id = r.id "
    "WHERE r.registry_id = $1)"};
constexpr Statement kRegistryExists{"lifecycle_registry_exists",
                                    "SELECT 1 FROM registries WHERE id = $1"};
constexpr Statement kPutPurgeSchedule{
    "put_purge_schedule",
    "INSERT INTO purge_schedules (registry_id, name, schedule, filters, ago_seconds, untagged, "
    "keep, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) "
    "ON CONFLICT (registry_id, name) DO UPDATE SET schedule = excluded.schedule, "
    "filters = excluded.filters, ago_seconds = excluded.ago_seconds, "
    "untagged = excluded.untagged, keep = excluded.keep, updated_at = excluded.updated_at "
    "RETURNING " BERTH_PG_PURGE_SCHEDULE_COLUMNS};
constexpr Statement kListPurgeSchedules{
    "list_purge_schedules",
    "SELECT " BERTH_PG_PURGE_SCHEDULE_COLUMNS
    " FROM purge_schedules "
    "WHERE $1::bigint IS NULL OR registry_id = $1::bigint ORDER BY registry_id, name"};
constexpr Statement kDeletePurgeSchedule{
    "delete_purge_schedule", "DELETE FROM purge_schedules WHERE registry_id = $1 AND name = $2"};
constexpr Statement kRecordPurgeRun{"record_purge_run",
                                    "UPDATE purge_schedules SET last_run_at = $3, last_result = $4 "
                                    "WHERE registry_id = $1 AND name = $2"};

#undef BERTH_PG_KEEPING
#undef BERTH_PG_DISPOSABLE_MANIFEST
#undef BERTH_PG_PURGE_SCHEDULE_COLUMNS

SoftDeletePolicy soft_delete_of(const pqxx::row& row) {
  return SoftDeletePolicy{.enabled = row[0].as<bool>(),
                          .days = row[1].as<int>(),
                          .updated_at = row[2].as<std::int64_t>()};
}

RetentionPolicy retention_of(const pqxx::row& row) {
  return RetentionPolicy{.enabled = row[0].as<bool>(),
                         .days = row[1].as<int>(),
                         .updated_at = row[2].as<std::int64_t>(),
                         .enabled_at = row[3].as<std::int64_t>()};
}

std::optional<std::uint64_t> optional_bytes(const pqxx::field& field) {
  if (field.is_null()) return std::nullopt;
  return field.as<std::uint64_t>();
}

std::optional<std::int64_t> quota_parameter(std::optional<std::uint64_t> bytes) {
  if (!bytes) return std::nullopt;
  return static_cast<std::int64_t>(*bytes);
}

PurgeSchedule purge_schedule_of(const pqxx::row& row) {
  return PurgeSchedule{
      .registry = row[0].as<std::int64_t>(),
      .name = text_of(row[1]),
      .schedule = text_of(row[2]),
      .filters = split_lines(row[3].c_str()),
      .ago_seconds = row[4].as<std::int64_t>(),
      .untagged = row[5].as<bool>(),
      .keep = row[6].as<std::uint64_t>(),
      .created_at = row[7].as<std::int64_t>(),
      .updated_at = row[8].as<std::int64_t>(),
      .last_run_at = row[9].as<std::int64_t>(),
      .last_result = text_of(row[10]),
  };
}

// --- restore ---

struct KeptReference {
  std::string digest;
  bool is_manifest = false;
};

// The kept copy of `digest` in the repository, if any.
std::optional<std::int64_t> kept_manifest_id(Transaction& transaction, RepositoryRef repository,
                                             const std::string& digest) {
  pqxx::result rows =
      transaction.exec(kFindDeletedManifest, repository.registry, repository.name, digest);
  if (rows.empty()) return std::nullopt;
  return rows[0][0].as<std::int64_t>();
}

std::vector<KeptReference> kept_references(Transaction& transaction, std::int64_t kept_id) {
  std::vector<KeptReference> references;
  for (const pqxx::row& row : transaction.exec(kDeletedReferences, kept_id)) {
    references.push_back({text_of(row[0]), std::string_view(row[1].c_str()) ==
                                               reference_kind_name(ReferenceKind::manifest)});
  }
  return references;
}

// Makes the kept manifest `kept_id` a stored manifest of the repository again: first its kept
// children that are not stored, then the links its blobs need, the row, its references and its
// platform; then forgets the kept copy.
Result<void> bring_back(Transaction& transaction, RepositoryRef repository,
                        std::int64_t repository_id, const std::string& digest, std::int64_t kept_id,
                        std::int64_t now, int depth, RestoredContent& restored) {
  if (depth > kMaxRestoreDepth) {
    return invalid_argument("manifest " + digest + " nests deeper than " +
                            std::to_string(kMaxRestoreDepth) + " levels");
  }
  const std::vector<KeptReference> references = kept_references(transaction, kept_id);
  for (const KeptReference& reference : references) {
    if (!reference.is_manifest) continue;
    auto live = manifest_id(transaction, repository_id, reference.digest);
    if (!live) return live.error();
    if (*live) continue;
    auto kept = kept_manifest_id(transaction, repository, reference.digest);
    if (!kept) {
      return MetadataError{Errc::reference_missing, "manifest " + digest + " needs manifest " +
                                                        reference.digest +
                                                        ", which is no longer kept"};
    }
    auto child = bring_back(transaction, repository, repository_id, reference.digest, *kept, now,
                            depth + 1, restored);
    if (!child) return child;
  }
  std::vector<std::string> digests;
  std::vector<std::string> kinds;
  for (const KeptReference& reference : references) {
    digests.push_back(reference.digest);
    kinds.emplace_back(
        reference_kind_name(reference.is_manifest ? ReferenceKind::manifest : ReferenceKind::blob));
    if (reference.is_manifest) continue;
    if (transaction.exec(kRestoreLink, repository_id, reference.digest, now).affected_rows() == 0) {
      return MetadataError{Errc::reference_missing, "blob " + reference.digest + " of manifest " +
                                                        digest + " is gone or being removed"};
    }
  }
  pqxx::result inserted = transaction.exec(kRestoreManifest, repository_id, kept_id, now);
  const std::int64_t restored_id = inserted[0][0].as<std::int64_t>();
  insert_references(transaction, restored_id, digests, kinds);
  transaction.exec(kRestorePlatform, restored_id, kept_id);
  transaction.exec(kForgetDeletedManifest, kept_id);
  auto parsed = oci::Digest::parse(digest);
  if (!parsed) {
    return MetadataError{Errc::database_error,
                         "metadata database: stored digest is malformed: " + digest};
  }
  restored.manifests.push_back(std::move(*parsed));
  return {};
}

// Points the kept tags of `digest` at the stored manifest `live_id` and forgets them.
void bring_back_tags(Transaction& transaction, RepositoryRef repository, std::int64_t repository_id,
                     const std::string& digest, std::int64_t live_id, bool replace_tags,
                     std::int64_t now, RestoredContent& restored) {
  std::vector<std::string> names;
  for (const pqxx::row& row :
       transaction.exec(kDeletedTagNames, repository.registry, repository.name, digest)) {
    names.push_back(text_of(row[0]));
  }
  for (const std::string& name : names) {
    pqxx::result live = transaction.exec(kLiveTag, repository_id, name);
    // A tag on another manifest now; a write-locked one is never moved.
    const bool taken =
        !live.empty() && text_of(live[0][0]) != digest && (!replace_tags || !live[0][1].as<bool>());
    if (taken) {
      restored.tags_taken.push_back(name);
      continue;
    }
    upsert_tag(transaction, repository_id, name, live_id, now);
    transaction.exec(kForgetDeletedTag, repository.registry, repository.name, name, digest);
    restored.tags.push_back(name);
  }
}

}  // namespace

namespace postgres {

void keep_deleted(Transaction& transaction, RepositoryRef repository,
                  std::optional<std::string_view> digest, std::optional<std::string_view> tag,
                  std::int64_t now) {
  if (!tag) {
    transaction.exec(kKeepManifests, repository.registry, repository.name, digest, now);
    transaction.exec(kKeepReferences, repository.registry, repository.name, digest);
  }
  transaction.exec(kKeepTags, repository.registry, repository.name, digest, now, tag);
}

Result<void> check_link_within(Transaction& transaction, std::int64_t repository_id,
                               const std::string& digest, std::int64_t size,
                               const StorageLimits& limits) {
  pqxx::result rows = transaction.exec(kQuotaProbe, repository_id, digest);
  if (rows.empty()) return {};
  const pqxx::row& probe = rows[0];
  const auto adding = static_cast<std::uint64_t>(size);
  const auto registry_used = probe[0].as<std::uint64_t>();
  const auto repository_used = probe[1].as<std::uint64_t>();
  const bool in_repository = probe[2].as<bool>();
  const bool in_registry = probe[3].as<bool>();
  if (limits.repository_bytes && !in_repository &&
      repository_used + adding > *limits.repository_bytes) {
    return MetadataError{
        Errc::quota_exceeded,
        quota_message("the repository's", *limits.repository_bytes, repository_used, adding)};
  }
  if (limits.registry_bytes && !in_registry && registry_used + adding > *limits.registry_bytes) {
    return MetadataError{
        Errc::quota_exceeded,
        quota_message("the registry's", *limits.registry_bytes, registry_used, adding)};
  }
  return {};
}

}  // namespace postgres

// --- policies ---

Result<SoftDeletePolicy> PostgresMetadataStore::soft_delete_policy(RegistryId registry) {
  std::optional<SoftDeletePolicy> policy;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    pqxx::result rows = transaction.exec(kSoftDeletePolicy, registry);
    policy.reset();
    if (!rows.empty()) policy = soft_delete_of(rows[0]);
    return {};
  });
  if (!read) return read.error();
  if (!policy) return registry_not_found(registry);
  return *policy;
}

Result<SoftDeletePolicy> PostgresMetadataStore::set_soft_delete_policy(RegistryId registry,
                                                                       bool enabled, int days,
                                                                       std::int64_t now) {
  if (auto bad = check_days(days, kMinSoftDeleteDays, kMaxSoftDeleteDays, "soft delete")) {
    return *bad;
  }
  std::optional<SoftDeletePolicy> policy;
  auto written = database_->write([&](Transaction& transaction) -> Result<void> {
    pqxx::result rows = transaction.exec(kSetSoftDeletePolicy, registry, enabled, days, now);
    policy.reset();
    if (!rows.empty()) policy = soft_delete_of(rows[0]);
    return {};
  });
  if (!written) return written.error();
  if (!policy) return registry_not_found(registry);
  return *policy;
}

Result<RetentionPolicy> PostgresMetadataStore::retention_policy(RegistryId registry) {
  std::optional<RetentionPolicy> policy;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    pqxx::result rows = transaction.exec(kRetentionPolicy, registry);
    policy.reset();
    if (!rows.empty()) policy = retention_of(rows[0]);
    return {};
  });
  if (!read) return read.error();
  if (!policy) return registry_not_found(registry);
  return *policy;
}

Result<RetentionPolicy> PostgresMetadataStore::set_retention_policy(RegistryId registry,
                                                                    bool enabled, int days,
                                                                    std::int64_t now) {
  if (auto bad = check_days(days, kMinRetentionDays, kMaxRetentionDays, "retention")) {
    return *bad;
  }
  std::optional<RetentionPolicy> policy;
  auto written = database_->write([&](Transaction& transaction) -> Result<void> {
    pqxx::result rows = transaction.exec(kSetRetentionPolicy, registry, enabled, days, now);
    policy.reset();
    if (!rows.empty()) policy = retention_of(rows[0]);
    return {};
  });
  if (!written) return written.error();
  if (!policy) return registry_not_found(registry);
  return *policy;
}

Result<std::vector<RegistryId>> PostgresMetadataStore::registries_with_retention() {
  std::vector<RegistryId> ids;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    ids.clear();
    for (const pqxx::row& row : transaction.exec(kRegistriesWithRetention)) {
      ids.push_back(row[0].as<std::int64_t>());
    }
    return {};
  });
  if (!read) return read.error();
  return ids;
}

// --- soft-deleted content ---

Result<std::vector<std::string>> PostgresMetadataStore::list_deleted_repositories(
    RegistryId registry, std::string_view after, std::size_t limit) {
  std::vector<std::string> names;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    names.clear();
    for (const pqxx::row& row :
         transaction.exec(kListDeletedRepositories, registry, after, sql_limit(limit))) {
      names.push_back(text_of(row[0]));
    }
    return {};
  });
  if (!read) return read.error();
  return names;
}

Result<std::vector<DeletedManifest>> PostgresMetadataStore::list_deleted_manifests(
    RepositoryRef repository, std::string_view after, std::size_t limit) {
  if (auto bad = check_repository(repository)) return *bad;
  std::vector<DeletedManifest> manifests;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    pqxx::result rows = transaction.exec(kListDeletedManifests, repository.registry,
                                         repository.name, after, sql_limit(limit));
    manifests.clear();
    for (const pqxx::row& row : rows) {
      auto digest = stored_digest(row[0]);
      if (!digest) return digest.error();
      manifests.push_back(DeletedManifest{
          .repository = std::string(repository.name),
          .digest = std::move(*digest),
          .media_type = text_of(row[1]),
          .artifact_type = text_of(row[2]),
          .size = row[3].as<std::uint64_t>(),
          .created_at = row[4].as<std::int64_t>(),
          .deleted_at = row[5].as<std::int64_t>(),
          .expires_at = row[6].as<std::int64_t>(),
          .architecture = text_of(row[7]),
          .os = text_of(row[8]),
          .tags = split_lines(row[9].c_str()),
      });
    }
    return {};
  });
  if (!read) return read.error();
  return manifests;
}

Result<std::vector<DeletedTag>> PostgresMetadataStore::list_deleted_tags(
    RepositoryRef repository, std::optional<std::string_view> tag, std::size_t limit) {
  if (auto bad = check_repository(repository)) return *bad;
  std::vector<DeletedTag> tags;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    pqxx::result rows = transaction.exec(kListDeletedTags, repository.registry, repository.name,
                                         tag, sql_limit(limit));
    tags.clear();
    for (const pqxx::row& row : rows) {
      auto digest = stored_digest(row[1]);
      if (!digest) return digest.error();
      tags.push_back(DeletedTag{.repository = std::string(repository.name),
                                .name = text_of(row[0]),
                                .digest = std::move(*digest),
                                .created_at = row[2].as<std::int64_t>(),
                                .deleted_at = row[3].as<std::int64_t>(),
                                .expires_at = row[4].as<std::int64_t>()});
    }
    return {};
  });
  if (!read) return read.error();
  return tags;
}

Result<std::optional<oci::Digest>> PostgresMetadataStore::deleted_tag_digest(
    RepositoryRef repository, std::string_view tag) {
  if (auto bad = check_repository(repository)) return *bad;
  std::optional<oci::Digest> digest;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    pqxx::result rows =
        transaction.exec(kDeletedTagDigest, repository.registry, repository.name, tag);
    digest.reset();
    if (rows.empty()) return {};
    auto parsed = stored_digest(rows[0][0]);
    if (!parsed) return parsed.error();
    digest = std::move(*parsed);
    return {};
  });
  if (!read) return read.error();
  return digest;
}

Result<RestoredContent> PostgresMetadataStore::restore_manifest(
    RepositoryRef repository, const oci::Digest& digest, bool replace_tags,
    std::span<const EventRecord> events) {
  if (auto bad = check_repository(repository)) return *bad;
  const std::string text = digest.str();
  RestoredContent restored;
  auto written = database_->write([&](Transaction& transaction) -> Result<void> {
    restored = RestoredContent{};
    const std::int64_t now = unix_now();
    const std::optional<std::int64_t> kept = kept_manifest_id(transaction, repository, text);
    auto repository_id = ensure_repository(transaction, repository, now);
    if (!repository_id) return repository_id.error();
    auto live = manifest_id(transaction, *repository_id, text);
    if (!live) return live.error();
    if (kept && !*live) {
      auto back =
          bring_back(transaction, repository, *repository_id, text, *kept, now, 0, restored);
      if (!back) return back;
      live = manifest_id(transaction, *repository_id, text);
      if (!live) return live.error();
    }
    if (!*live) {
      return MetadataError{Errc::not_found, "manifest " + text + " is not kept in repository " +
                                                std::string(repository.name)};
    }
    bring_back_tags(transaction, repository, *repository_id, text, **live, replace_tags, now,
                    restored);
    // Kept tags whose names are taken count as found: the answer says they were not restored.
    if (restored.manifests.empty() && restored.tags.empty() && restored.tags_taken.empty()) {
      return MetadataError{
          Errc::not_found,
          "nothing of manifest " + text + " is kept in repository " + std::string(repository.name)};
    }
    return insert_events(transaction, events);
  });
  if (!written) return written.error();
  return restored;
}

Result<ExpiredCounts> PostgresMetadataStore::expire_deleted(std::int64_t now, std::size_t limit) {
  ExpiredCounts counts;
  auto written = database_->write([&](Transaction& transaction) -> Result<void> {
    counts.manifests = transaction.exec(kExpireManifests, now, sql_limit(limit)).affected_rows();
    counts.tags = transaction.exec(kExpireTags, now, sql_limit(limit)).affected_rows();
    return {};
  });
  if (!written) return written.error();
  return counts;
}

Result<std::uint64_t> PostgresMetadataStore::soft_deleted_bytes(RegistryId registry) {
  std::uint64_t bytes = 0;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    bytes = transaction.exec(kSoftDeletedBytes, registry)[0][0].as<std::uint64_t>();
    return {};
  });
  if (!read) return read.error();
  return bytes;
}

// --- retention ---

Result<std::vector<ManifestKey>> PostgresMetadataStore::retention_candidates(
    RegistryId registry, std::int64_t now, const std::optional<ManifestKey>& after,
    std::size_t limit) {
  const std::string after_repository = after ? after->repository : std::string();
  const std::string after_digest = after ? after->digest.str() : std::string();
  std::vector<ManifestKey> keys;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    pqxx::result rows = transaction.exec(kRetentionCandidates, registry, now, after_repository,
                                         after_digest, sql_limit(limit));
    keys.clear();
    for (const pqxx::row& row : rows) {
      auto digest = stored_digest(row[1]);
      if (!digest) return digest.error();
      keys.push_back({text_of(row[0]), std::move(*digest)});
    }
    return {};
  });
  if (!read) return read.error();
  return keys;
}

Result<std::vector<oci::Digest>> PostgresMetadataStore::disposable_manifests(
    RepositoryRef repository, std::int64_t changed_before) {
  if (auto bad = check_repository(repository)) return *bad;
  std::vector<oci::Digest> digests;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    pqxx::result rows = transaction.exec(kDisposableManifests, repository.registry, repository.name,
                                         changed_before);
    digests.clear();
    for (const pqxx::row& row : rows) {
      auto digest = stored_digest(row[0]);
      if (!digest) return digest.error();
      digests.push_back(std::move(*digest));
    }
    return {};
  });
  if (!read) return read.error();
  return digests;
}

// --- quotas and usage ---

Result<StorageState> PostgresMetadataStore::storage_state(RepositoryRef repository) {
  if (!repository.name.empty()) {
    if (auto bad = check_repository(repository)) return *bad;
  }
  std::optional<StorageState> state;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    pqxx::result rows = transaction.exec(kStorageState, repository.registry, repository.name);
    state.reset();
    if (rows.empty()) return {};
    state = StorageState{
        .tier = text_of(rows[0][4]),
        .registry_bytes = rows[0][0].as<std::uint64_t>(),
        .registry_quota = optional_bytes(rows[0][1]),
        .repository_bytes = rows[0][2].as<std::uint64_t>(),
        .repository_quota = optional_bytes(rows[0][3]),
    };
    return {};
  });
  if (!read) return read.error();
  if (!state) return registry_not_found(repository.registry);
  return *state;
}

Result<void> PostgresMetadataStore::set_registry_quota(RegistryId registry,
                                                       std::optional<std::uint64_t> bytes) {
  if (auto bad = check_quota_bytes(bytes)) return *bad;
  bool changed = false;
  auto written = database_->write([&](Transaction& transaction) -> Result<void> {
    changed =
        transaction.exec(kSetRegistryQuota, registry, quota_parameter(bytes)).affected_rows() > 0;
    return {};
  });
  if (!written) return written.error();
  if (!changed) return registry_not_found(registry);
  return {};
}

Result<void> PostgresMetadataStore::set_repository_quota(RepositoryRef repository,
                                                         std::optional<std::uint64_t> bytes) {
  if (auto bad = check_repository(repository)) return *bad;
  if (auto bad = check_quota_bytes(bytes)) return *bad;
  bool changed = false;
  auto written = database_->write([&](Transaction& transaction) -> Result<void> {
    changed =
        transaction
            .exec(kSetRepositoryQuota, repository.registry, repository.name, quota_parameter(bytes))
            .affected_rows() > 0;
    return {};
  });
  if (!written) return written.error();
  if (!changed) {
    return MetadataError{Errc::not_found, std::string("repository ") +
                                              std::string(repository.name) + " does not exist"};
  }
  return {};
}

Result<std::uint64_t> PostgresMetadataStore::recount_registry_bytes(RegistryId registry) {
  std::uint64_t bytes = 0;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    bytes = transaction.exec(kRecountRegistryBytes, registry)[0][0].as<std::uint64_t>();
    return {};
  });
  if (!read) return read.error();
  return bytes;
}

// --- purge schedules ---

Result<PurgeSchedule> PostgresMetadataStore::put_purge_schedule(const PurgeSchedule& schedule) {
  if (auto bad = check_purge_schedule(schedule)) return *bad;
  const std::string filters = joined_lines(schedule.filters);
  const auto keep = static_cast<std::int64_t>(
      std::min<std::uint64_t>(schedule.keep, std::numeric_limits<std::int64_t>::max()));
  std::optional<PurgeSchedule> saved;
  auto written = database_->write([&](Transaction& transaction) -> Result<void> {
    saved.reset();
    if (transaction.exec(kRegistryExists, schedule.registry).empty()) {
      return registry_not_found(schedule.registry);
    }
    pqxx::result rows =
        transaction.exec(kPutPurgeSchedule, schedule.registry, schedule.name, schedule.schedule,
                         filters, schedule.ago_seconds, schedule.untagged, keep,
                         schedule.updated_at != 0 ? schedule.updated_at : unix_now());
    if (!rows.empty()) saved = purge_schedule_of(rows[0]);
    return {};
  });
  if (!written) return written.error();
  if (!saved) return registry_not_found(schedule.registry);
  return *saved;
}

Result<std::vector<PurgeSchedule>> PostgresMetadataStore::list_purge_schedules(
    std::optional<RegistryId> registry) {
  std::vector<PurgeSchedule> schedules;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    schedules.clear();
    for (const pqxx::row& row : transaction.exec(kListPurgeSchedules, registry)) {
      schedules.push_back(purge_schedule_of(row));
    }
    return {};
  });
  if (!read) return read.error();
  return schedules;
}

Result<bool> PostgresMetadataStore::delete_purge_schedule(RegistryId registry,
                                                          std::string_view name) {
  bool removed = false;
  auto written = database_->write([&](Transaction& transaction) -> Result<void> {
    removed = transaction.exec(kDeletePurgeSchedule, registry, name).affected_rows() > 0;
    return {};
  });
  if (!written) return written.error();
  return removed;
}

Result<bool> PostgresMetadataStore::record_purge_run(RegistryId registry, std::string_view name,
                                                     std::int64_t at, std::string_view result) {
  bool recorded = false;
  auto written = database_->write([&](Transaction& transaction) -> Result<void> {
    recorded = transaction.exec(kRecordPurgeRun, registry, name, at, result).affected_rows() > 0;
    return {};
  });
  if (!written) return written.error();
  return recorded;
}

std::vector<Statement> postgres::planned_lifecycle_statements() {
  // deleted_tag_digest sorts the few kept versions of one tag.
  return {kListDeletedManifests, kListDeletedTags, kRetentionCandidates};
}

}  // namespace berth::metadata
