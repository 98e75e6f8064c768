// SqliteMetadataStore: the LifecycleStore part (soft delete and restore, retention, quotas and
// the usage counters), on the same database, writer and reader pool as the content metadata.
//
// Tables and triggers of schema version 8 (sqlite_schema.cc has the migration):
//
//   registries: soft_delete_{enabled,days,updated_at}, retention_{enabled,days,updated_at,
//               enabled_at}, storage_quota_bytes, linked_bytes
//   repositories: storage_quota_bytes, linked_bytes
//   manifests.untagged_at (NULL while tagged)          partial index (untagged_at)
//   deleted_manifests (id; registry_id, repository, digest UNIQUE; the manifest's columns,
//                      deleted_at, expires_at)          index (expires_at)
//   deleted_manifest_references (deleted_manifest_id, child_digest, kind)  index (child_digest)
//   deleted_tags (registry_id, repository, name, digest PK; created_at, deleted_at, expires_at)
//
// Why this shape:
// - Deleted content is keyed by the repository's name, not its row: a deleted repository's row
//   goes (and with it the catalog entry and the links), while what it held stays restorable.
// - The keep statements copy what a delete is about to remove inside the delete's own
//   transaction, guarded by the registry's soft_delete_enabled in the same statement, so a
//   delete with soft delete off costs three index probes that match nothing.
// - Garbage collection counts deleted_manifest_references as references (sqlite_gc_store.cc),
//   so the blob rows and bytes a restore needs stay; the links go with the link sweep, and a
//   restore makes them again.

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "metadata/sqlite_internal.h"
#include "metadata/sqlite_metadata_store.h"

namespace berth::metadata {
namespace {

constexpr std::int64_t kSecondsPerDay = 24 * 60 * 60;
// Child manifests of a restored index are restored with it, at most this deep.
constexpr int kMaxRestoreDepth = 8;

// The registry ?1 keeps deleted content; its repository ?2.
#define BERTH_KEEPING                                                              \
  "FROM registries g JOIN repositories r ON r.registry_id = g.id AND r.name = ?2 " \
  "JOIN manifests m ON m.repository_id = r.id "

#define BERTH_DELETED_MANIFEST_COLUMNS                                                       \
  "d.id, d.digest, d.media_type, d.artifact_type, d.subject_digest, d.annotations, d.size, " \
  "d.created_at, d.updated_at, d.content, d.write_enabled, d.read_enabled, d.list_enabled, " \
  "d.architecture, d.os"

// A manifest of repository r that retention or purge may delete: not delete-locked (nor its
// repository), not a child of another manifest of the repository (an index needs its
// platforms), and not a referrer of a stored manifest (signatures stay with their image).
#define BERTH_DISPOSABLE_MANIFEST                                                       \
  "m.delete_enabled = 1 AND r.delete_enabled = 1 "                                      \
  "AND NOT EXISTS (SELECT 1 FROM manifest_references mr CROSS JOIN manifests p "        \
  "ON p.id = mr.manifest_id WHERE mr.child_digest = m.digest AND mr.kind = 'manifest' " \
  "AND p.repository_id = m.repository_id) "                                             \
  "AND (m.subject_digest IS NULL OR NOT EXISTS (SELECT 1 FROM manifests s "             \
  "WHERE s.repository_id = m.repository_id AND s.digest = m.subject_digest)) "

#define BERTH_PURGE_SCHEDULE_COLUMNS                                                            \
  "registry_id, name, schedule, filters, ago_seconds, untagged, keep, created_at, updated_at, " \
  "last_run_at, last_result"

constexpr StatementSpec<LifecycleSql> kLifecycleStatements[] = {
    // ?1 registry, ?2 repository, ?3 digest (NULL: every manifest), ?4 now.
    {LifecycleSql::keep_manifests, "keep deleted manifests",
     "INSERT INTO deleted_manifests (registry_id, repository, digest, media_type, artifact_type, "
     "subject_digest, annotations, size, created_at, updated_at, content, write_enabled, "
     "read_enabled, list_enabled, architecture, os, deleted_at, expires_at) "
     "SELECT g.id, r.name, m.digest, m.media_type, m.artifact_type, m.subject_digest, "
     "m.annotations, m.size, m.created_at, m.updated_at, m.content, m.write_enabled, "
     "m.read_enabled, m.list_enabled, p.architecture, p.os, ?4, ?4 + g.soft_delete_days * "
     "86400 " BERTH_KEEPING "LEFT JOIN manifest_platforms p ON p.manifest_id = m.id "
     "WHERE g.id = ?1 AND g.soft_delete_enabled = 1 AND (?3 IS NULL OR m.digest = ?3) "
     "ON CONFLICT (registry_id, repository, digest) DO UPDATE SET "
     "deleted_at = excluded.deleted_at, expires_at = excluded.expires_at, "
     "write_enabled = excluded.write_enabled, read_enabled = excluded.read_enabled, "
     "list_enabled = excluded.list_enabled"},
    {LifecycleSql::keep_references, "keep deleted manifest references",
     "INSERT INTO deleted_manifest_references (deleted_manifest_id, child_digest, kind) "
     "SELECT d.id, mr.child_digest, mr.kind " BERTH_KEEPING
     "JOIN manifest_references mr ON mr.manifest_id = m.id "
     "JOIN deleted_manifests d ON d.registry_id = g.id AND d.repository = r.name "
     "AND d.digest = m.digest "
     "WHERE g.id = ?1 AND g.soft_delete_enabled = 1 AND (?3 IS NULL OR m.digest = ?3) "
     "ON CONFLICT DO NOTHING"},
    // ?5: only the tag of this name (NULL: every tag on the manifests).
    {LifecycleSql::keep_tags, "keep deleted tags",
     "INSERT INTO deleted_tags (registry_id, repository, name, digest, created_at, deleted_at, "
     "expires_at) SELECT g.id, r.name, t.name, m.digest, t.created_at, ?4, "
     "?4 + g.soft_delete_days * 86400 " BERTH_KEEPING "JOIN tags t ON t.manifest_id = m.id "
     "WHERE g.id = ?1 AND g.soft_delete_enabled = 1 AND (?3 IS NULL OR m.digest = ?3) "
     "AND (?5 IS NULL OR t.name = ?5) "
     "ON CONFLICT (registry_id, repository, name, digest) DO UPDATE SET "
     "deleted_at = excluded.deleted_at, expires_at = excluded.expires_at"},
    {LifecycleSql::soft_delete_policy, "read soft delete policy",
     "SELECT soft_delete_enabled, soft_delete_days, soft_delete_updated_at FROM registries "
     "WHERE id = ?1"},
    {LifecycleSql::set_soft_delete_policy, "update soft delete policy",
     "UPDATE registries SET soft_delete_enabled = ?2, soft_delete_days = ?3, "
     "soft_delete_updated_at = ?4 WHERE id = ?1 "
     "RETURNING soft_delete_enabled, soft_delete_days, soft_delete_updated_at"},
    {LifecycleSql::retention_policy, "read retention policy",
     "SELECT retention_enabled, retention_days, retention_updated_at, retention_enabled_at "
     "FROM registries WHERE id = ?1"},
    // The SET expressions all see the row as it was: enabled_at moves only when switched on.
    {LifecycleSql::set_retention_policy, "update retention policy",
     "UPDATE registries SET retention_enabled_at = CASE WHEN ?2 = 1 AND retention_enabled = 0 "
     "THEN ?4 ELSE retention_enabled_at END, retention_enabled = ?2, retention_days = ?3, "
     "retention_updated_at = ?4 WHERE id = ?1 "
     "RETURNING retention_enabled, retention_days, retention_updated_at, retention_enabled_at"},
    {LifecycleSql::registries_with_retention, "list registries with retention",
     "SELECT id FROM registries WHERE retention_enabled = 1 ORDER BY id"},
    {LifecycleSql::list_deleted_repositories, "list repositories with deleted content",
     "SELECT repository FROM deleted_manifests WHERE registry_id = ?1 AND repository > ?2 "
     "UNION SELECT repository FROM deleted_tags WHERE registry_id = ?1 AND repository > ?2 "
     "ORDER BY 1 LIMIT ?3"},
    {LifecycleSql::list_deleted_manifests, "list deleted manifests",
     "SELECT d.digest, d.media_type, d.artifact_type, d.size, d.created_at, d.deleted_at, "
     "d.expires_at, COALESCE(d.architecture, ''), COALESCE(d.os, ''), "
     "(SELECT group_concat(name, char(10)) FROM (SELECT DISTINCT t.name AS name FROM deleted_tags "
     "t "
     "WHERE t.registry_id = d.registry_id AND t.repository = d.repository "
     "AND t.digest = d.digest ORDER BY t.name)) "
     "FROM deleted_manifests d WHERE d.registry_id = ?1 AND d.repository = ?2 AND d.digest > ?3 "
     "ORDER BY d.digest LIMIT ?4"},
    {LifecycleSql::list_deleted_tags, "list deleted tags",
     "SELECT name, digest, created_at, deleted_at, expires_at FROM deleted_tags "
     "WHERE registry_id = ?1 AND repository = ?2 AND (?3 IS NULL OR name = ?3) "
     "ORDER BY name, deleted_at DESC, digest LIMIT ?4"},
    {LifecycleSql::deleted_tag_digest, "find deleted tag",
     "SELECT digest FROM deleted_tags WHERE registry_id = ?1 AND repository = ?2 AND name = ?3 "
     "ORDER BY deleted_at DESC, digest LIMIT 1"},
    {LifecycleSql::find_deleted_manifest, "find deleted manifest",
     "SELECT " BERTH_DELETED_MANIFEST_COLUMNS " FROM deleted_manifests d "
     "WHERE d.registry_id = ?1 AND d.repository = ?2 AND d.digest = ?3"},
    {LifecycleSql::deleted_references, "read deleted manifest references",
     "SELECT child_digest, kind FROM deleted_manifest_references WHERE deleted_manifest_id = ?1 "
     "ORDER BY kind, child_digest"},
    {LifecycleSql::forget_deleted_manifest, "forget deleted manifest",
     "DELETE FROM deleted_manifests WHERE id = ?1"},
    {LifecycleSql::deleted_tag_names, "read deleted tags of manifest",
     "SELECT DISTINCT name FROM deleted_tags WHERE registry_id = ?1 AND repository = ?2 "
     "AND digest = ?3 ORDER BY name"},
    {LifecycleSql::forget_deleted_tag, "forget deleted tag",
     "DELETE FROM deleted_tags WHERE registry_id = ?1 AND repository = ?2 AND name = ?3 "
     "AND digest = ?4"},
    // A link made again for a restore; renews the blob against collection. Nothing when the
    // blob row is gone or claimed.
    {LifecycleSql::restore_link, "restore blob link",
     "INSERT INTO repository_blobs (repository_id, digest, created_at) "
     "SELECT ?1, digest, ?3 FROM blobs WHERE digest = ?2 AND deleting = 0 "
     "ON CONFLICT (repository_id, digest) DO UPDATE SET created_at = excluded.created_at"},
    {LifecycleSql::restore_manifest, "restore manifest",
     "INSERT INTO manifests (repository_id, digest, media_type, artifact_type, subject_digest, "
     "annotations, size, created_at, content, untagged_at, updated_at, write_enabled, "
     "read_enabled, list_enabled) "
     "SELECT ?1, digest, media_type, artifact_type, subject_digest, annotations, size, "
     "created_at, content, ?3, updated_at, write_enabled, read_enabled, list_enabled "
     "FROM deleted_manifests WHERE id = ?2"},
    {LifecycleSql::restore_platform, "restore manifest platform",
     "INSERT INTO manifest_platforms (manifest_id, architecture, os) "
     "SELECT ?1, architecture, os FROM deleted_manifests WHERE id = ?2 "
     "AND architecture IS NOT NULL"},
    {LifecycleSql::expire_manifests, "expire deleted manifests",
     "DELETE FROM deleted_manifests WHERE id IN (SELECT id FROM deleted_manifests "
     "WHERE expires_at <= ?1 ORDER BY expires_at LIMIT ?2)"},
    {LifecycleSql::expire_tags, "expire deleted tags",
     "DELETE FROM deleted_tags WHERE (registry_id, repository, name, digest) IN ("
     "SELECT registry_id, repository, name, digest FROM deleted_tags WHERE expires_at <= ?1 "
     "ORDER BY expires_at LIMIT ?2)"},
    {LifecycleSql::soft_deleted_bytes, "sum soft-deleted bytes",
     "SELECT COALESCE((SELECT sum(b.size) FROM blobs b WHERE b.digest IN ("
     "SELECT dr.child_digest FROM deleted_manifests d JOIN deleted_manifest_references dr "
     "ON dr.deleted_manifest_id = d.id WHERE d.registry_id = ?1 AND dr.kind = 'blob') "
     "AND NOT EXISTS (SELECT 1 FROM repository_blobs rb CROSS JOIN repositories r "
     "ON r.id = rb.repository_id WHERE rb.digest = b.digest AND r.registry_id = ?1)), 0) + "
     "COALESCE((SELECT sum(size) FROM deleted_manifests WHERE registry_id = ?1), 0)"},
    // ?2 now; ?3, ?4 the (repository, digest) the page starts after; ?5 the limit.
    {LifecycleSql::retention_candidates, "list retention candidates",
     "SELECT r.name, m.digest FROM registries g "
     "JOIN repositories r ON r.registry_id = g.id JOIN manifests m ON m.repository_id = r.id "
     "WHERE g.id = ?1 AND g.retention_enabled = 1 AND m.untagged_at IS NOT NULL "
     "AND m.untagged_at >= g.retention_enabled_at "
     "AND m.untagged_at <= ?2 - g.retention_days * 86400 AND " BERTH_DISPOSABLE_MANIFEST
     "AND (r.name > ?3 OR (r.name = ?3 AND m.digest > ?4)) "
     "ORDER BY r.name, m.digest LIMIT ?5"},
    {LifecycleSql::disposable_manifests, "list disposable manifests",
     "SELECT m.digest FROM repositories r JOIN manifests m ON m.repository_id = r.id "
     "WHERE r.registry_id = ?1 AND r.name = ?2 "
     "AND max(m.created_at, m.updated_at, COALESCE(m.untagged_at, 0)) <= ?3 "
     "AND " BERTH_DISPOSABLE_MANIFEST "ORDER BY m.digest"},
    {LifecycleSql::storage_state, "read storage state",
     "SELECT g.linked_bytes, g.storage_quota_bytes, r.linked_bytes, r.storage_quota_bytes, "
     "g.tier FROM registries g LEFT JOIN repositories r ON r.registry_id = g.id AND r.name = ?2 "
     "WHERE g.id = ?1"},
    {LifecycleSql::set_registry_quota, "update registry quota",
     "UPDATE registries SET storage_quota_bytes = ?2 WHERE id = ?1"},
    {LifecycleSql::set_repository_quota, "update repository quota",
     "UPDATE repositories SET storage_quota_bytes = ?3 WHERE registry_id = ?1 AND name = ?2"},
    // Usage of the repository ?1 and its registry, and whether each links the blob ?2 already.
    {LifecycleSql::quota_probe, "read usage for a link",
     "SELECT g.linked_bytes, r.linked_bytes, "
     "EXISTS (SELECT 1 FROM repository_blobs WHERE repository_id = r.id AND digest = ?2), "
     "EXISTS (SELECT 1 FROM repository_blobs rb CROSS JOIN repositories o "
     "ON o.id = rb.repository_id WHERE rb.digest = ?2 AND o.registry_id = g.id) "
     "FROM repositories r JOIN registries g ON g.id = r.registry_id WHERE r.id = ?1"},
    // IN (subquery) makes the digests distinct: a blob linked by several repositories of the
    // registry counts once.
    {LifecycleSql::recount_registry_bytes, "recount registry storage",
     "SELECT COALESCE(sum(size), 0) FROM blobs WHERE digest IN ("
     "SELECT rb.digest FROM repositories r JOIN repository_blobs rb ON rb.repository_id = r.id "
     "WHERE r.registry_id = ?1)"},
    {LifecycleSql::put_purge_schedule, "save purge schedule",
     "INSERT INTO purge_schedules (registry_id, name, schedule, filters, ago_seconds, untagged, "
     "keep, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8) "
     "ON CONFLICT (registry_id, name) DO UPDATE SET schedule = excluded.schedule, "
     "filters = excluded.filters, ago_seconds = excluded.ago_seconds, "
     "untagged = excluded.untagged, keep = excluded.keep, updated_at = excluded.updated_at "
     "RETURNING " BERTH_PURGE_SCHEDULE_COLUMNS},
    {LifecycleSql::list_purge_schedules, "list purge schedules",
     "SELECT " BERTH_PURGE_SCHEDULE_COLUMNS " FROM purge_schedules "
     "WHERE ?1 IS NULL OR registry_id = ?1 ORDER BY registry_id, name"},
    {LifecycleSql::delete_purge_schedule, "delete purge schedule",
     "DELETE FROM purge_schedules WHERE registry_id = ?1 AND name = ?2"},
    {LifecycleSql::record_purge_run, "record purge run",
     "UPDATE purge_schedules SET last_run_at = ?3, last_result = ?4 "
     "WHERE registry_id = ?1 AND name = ?2"},
};

#undef BERTH_KEEPING
#undef BERTH_PURGE_SCHEDULE_COLUMNS
#undef BERTH_DELETED_MANIFEST_COLUMNS
#undef BERTH_DISPOSABLE_MANIFEST

static_assert(statements_in_enum_order(kLifecycleStatements),
              "kLifecycleStatements must list every LifecycleSql once, in enum order");

SoftDeletePolicy soft_delete_of(const Statement& stmt) {
  return SoftDeletePolicy{.enabled = stmt.integer(0) != 0,
                          .days = static_cast<int>(stmt.integer(1)),
                          .updated_at = stmt.integer(2)};
}

RetentionPolicy retention_of(const Statement& stmt) {
  return RetentionPolicy{.enabled = stmt.integer(0) != 0,
                         .days = static_cast<int>(stmt.integer(1)),
                         .updated_at = stmt.integer(2),
                         .enabled_at = stmt.integer(3)};
}

std::optional<std::int64_t> optional_integer(const Statement& stmt, int column) {
  if (stmt.is_null(column)) return std::nullopt;
  return stmt.integer(column);
}

std::optional<std::uint64_t> optional_bytes(const Statement& stmt, int column) {
  auto value = optional_integer(stmt, column);
  if (!value) return std::nullopt;
  return static_cast<std::uint64_t>(*value);
}

}  // namespace

const StatementSpec<LifecycleSql>& spec_of(LifecycleSql id) {
  return kLifecycleStatements[static_cast<std::size_t>(id)];
}

Result<void> keep_deleted(SqliteConnection& connection, RepositoryRef repository,
                          std::optional<std::string_view> digest,
                          std::optional<std::string_view> tag, std::int64_t now) {
  // ?4 (now) is a parameter of the statements that stamp a deletion time.
  auto bind = [&](Statement& stmt, bool stamped) {
    stmt.bind_repository(repository);
    if (stamped) stmt.bind_int(4, now);
    if (digest) {
      stmt.bind_text(3, *digest);
    } else {
      stmt.bind_null(3);
    }
  };
  if (!tag) {
    for (LifecycleSql id : {LifecycleSql::keep_manifests, LifecycleSql::keep_references}) {
      auto stmt = connection.statement(id);
      if (!stmt) return stmt.error();
      bind(*stmt, id == LifecycleSql::keep_manifests);
      if (auto done = stmt->run(); !done) return done;
    }
  }
  auto tags = connection.statement(LifecycleSql::keep_tags);
  if (!tags) return tags.error();
  bind(*tags, true);
  if (tag) {
    tags->bind_text(5, *tag);
  } else {
    tags->bind_null(5);
  }
  return tags->run();
}

Result<void> check_link_within(SqliteConnection& connection, std::int64_t repository_id,
                               const std::string& digest, std::int64_t size,
                               const StorageLimits& limits) {
  auto probe = connection.statement(LifecycleSql::quota_probe);
  if (!probe) return probe.error();
  probe->bind_int(1, repository_id).bind_text(2, digest);
  auto row = probe->step();
  if (!row) return row.error();
  if (!*row) return {};
  const auto adding = static_cast<std::uint64_t>(size);
  const auto registry_used = static_cast<std::uint64_t>(probe->integer(0));
  const auto repository_used = static_cast<std::uint64_t>(probe->integer(1));
  const bool in_repository = probe->integer(2) != 0;
  const bool in_registry = probe->integer(3) != 0;
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

// --- policies ---

Result<SoftDeletePolicy> SqliteMetadataStore::soft_delete_policy(RegistryId registry) {
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(LifecycleSql::soft_delete_policy);
  if (!stmt) return stmt.error();
  stmt->bind_int(1, registry);
  auto row = stmt->step();
  if (!row) return row.error();
  if (!*row) return registry_not_found(registry);
  return soft_delete_of(*stmt);
}

Result<SoftDeletePolicy> SqliteMetadataStore::set_soft_delete_policy(RegistryId registry,
                                                                     bool enabled, int days,
                                                                     std::int64_t now) {
  if (auto bad = check_days(days, kMinSoftDeleteDays, kMaxSoftDeleteDays, "soft delete")) {
    return *bad;
  }
  std::optional<SoftDeletePolicy> policy;
  auto written = write([&](SqliteConnection& connection) -> Result<void> {
    auto stmt = connection.statement(LifecycleSql::set_soft_delete_policy);
    if (!stmt) return stmt.error();
    stmt->bind_int(1, registry).bind_int(2, enabled ? 1 : 0).bind_int(3, days).bind_int(4, now);
    auto row = stmt->step();
    if (!row) return row.error();
    if (*row) policy = soft_delete_of(*stmt);
    return {};
  });
  if (!written) return written.error();
  if (!policy) return registry_not_found(registry);
  return *policy;
}

Result<RetentionPolicy> SqliteMetadataStore::retention_policy(RegistryId registry) {
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(LifecycleSql::retention_policy);
  if (!stmt) return stmt.error();
  stmt->bind_int(1, registry);
  auto row = stmt->step();
  if (!row) return row.error();
  if (!*row) return registry_not_found(registry);
  return retention_of(*stmt);
}

Result<RetentionPolicy> SqliteMetadataStore::set_retention_policy(RegistryId registry, bool enabled,
                                                                  int days, std::int64_t now) {
  if (auto bad = check_days(days, kMinRetentionDays, kMaxRetentionDays, "retention")) {
    return *bad;
  }
  std::optional<RetentionPolicy> policy;
  auto written = write([&](SqliteConnection& connection) -> Result<void> {
    auto stmt = connection.statement(LifecycleSql::set_retention_policy);
    if (!stmt) return stmt.error();
    stmt->bind_int(1, registry).bind_int(2, enabled ? 1 : 0).bind_int(3, days).bind_int(4, now);
    auto row = stmt->step();
    if (!row) return row.error();
    if (*row) policy = retention_of(*stmt);
    return {};
  });
  if (!written) return written.error();
  if (!policy) return registry_not_found(registry);
  return *policy;
}

Result<std::vector<RegistryId>> SqliteMetadataStore::registries_with_retention() {
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(LifecycleSql::registries_with_retention);
  if (!stmt) return stmt.error();
  std::vector<RegistryId> ids;
  for (;;) {
    auto row = stmt->step();
    if (!row) return row.error();
    if (!*row) return ids;
    ids.push_back(stmt->integer(0));
  }
}

// --- soft-deleted content ---

Result<std::vector<std::string>> SqliteMetadataStore::list_deleted_repositories(
    RegistryId registry, std::string_view after, std::size_t limit) {
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(LifecycleSql::list_deleted_repositories);
  if (!stmt) return stmt.error();
  stmt->bind_int(1, registry).bind_text(2, after).bind_int(3, sql_limit(limit));
  std::vector<std::string> names;
  for (;;) {
    auto row = stmt->step();
    if (!row) return row.error();
    if (!*row) return names;
    names.emplace_back(stmt->text(0));
  }
}

Result<std::vector<DeletedManifest>> SqliteMetadataStore::list_deleted_manifests(
    RepositoryRef repository, std::string_view after, std::size_t limit) {
  if (auto bad = check_repository(repository)) return *bad;
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(LifecycleSql::list_deleted_manifests);
  if (!stmt) return stmt.error();
  stmt->bind_repository(repository).bind_text(3, after).bind_int(4, sql_limit(limit));
  std::vector<DeletedManifest> manifests;
  manifests.reserve(initial_capacity(limit));
  for (;;) {
    auto row = stmt->step();
    if (!row) return row.error();
    if (!*row) return manifests;
    auto digest = stored_digest(stmt->text(0));
    if (!digest) return digest.error();
    manifests.push_back(DeletedManifest{
        .repository = std::string(repository.name),
        .digest = std::move(*digest),
        .media_type = std::string(stmt->text(1)),
        .artifact_type = std::string(stmt->text(2)),
        .size = static_cast<std::uint64_t>(stmt->integer(3)),
        .created_at = stmt->integer(4),
        .deleted_at = stmt->integer(5),
        .expires_at = stmt->integer(6),
        .architecture = std::string(stmt->text(7)),
        .os = std::string(stmt->text(8)),
        .tags = split_lines(stmt->text(9)),
    });
  }
}

Result<std::vector<DeletedTag>> SqliteMetadataStore::list_deleted_tags(
    RepositoryRef repository, std::optional<std::string_view> tag, std::size_t limit) {
  if (auto bad = check_repository(repository)) return *bad;
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(LifecycleSql::list_deleted_tags);
  if (!stmt) return stmt.error();
  stmt->bind_repository(repository).bind_int(4, sql_limit(limit));
  if (tag) {
    stmt->bind_text(3, *tag);
  } else {
    stmt->bind_null(3);
  }
  std::vector<DeletedTag> tags;
  tags.reserve(initial_capacity(limit));
  for (;;) {
    auto row = stmt->step();
    if (!row) return row.error();
    if (!*row) return tags;
    auto digest = stored_digest(stmt->text(1));
    if (!digest) return digest.error();
    tags.push_back(DeletedTag{.repository = std::string(repository.name),
                              .name = std::string(stmt->text(0)),
                              .digest = std::move(*digest),
                              .created_at = stmt->integer(2),
                              .deleted_at = stmt->integer(3),
                              .expires_at = stmt->integer(4)});
  }
}

Result<std::optional<oci::Digest>> SqliteMetadataStore::deleted_tag_digest(RepositoryRef repository,
                                                                           std::string_view tag) {
  if (auto bad = check_repository(repository)) return *bad;
  return digest_of_tag(LifecycleSql::deleted_tag_digest, repository, tag);
}

namespace {

// Inside restore's transaction: the id of the live manifest `digest` of repository `id`.
Result<std::optional<std::int64_t>> live_manifest_id(SqliteConnection& connection,
                                                     std::int64_t repository_id,
                                                     const std::string& digest) {
  auto find = connection.statement(Sql::find_manifest_id);
  if (!find) return find.error();
  find->bind_int(1, repository_id).bind_text(2, digest);
  auto row = find->step();
  if (!row) return row.error();
  if (!*row) return std::optional<std::int64_t>();
  return std::optional<std::int64_t>(find->integer(0));
}

// Inside restore's transaction: the kept copy of `digest`, if any.
Result<std::optional<std::int64_t>> kept_manifest_id(SqliteConnection& connection,
                                                     RepositoryRef repository,
                                                     const std::string& digest) {
  auto find = connection.statement(LifecycleSql::find_deleted_manifest);
  if (!find) return find.error();
  find->bind_repository(repository).bind_text(3, digest);
  auto row = find->step();
  if (!row) return row.error();
  if (!*row) return std::optional<std::int64_t>();
  return std::optional<std::int64_t>(find->integer(0));
}

struct KeptReference {
  std::string digest;
  bool is_manifest = false;
};

Result<std::vector<KeptReference>> kept_references(SqliteConnection& connection,
                                                   std::int64_t kept_id) {
  auto stmt = connection.statement(LifecycleSql::deleted_references);
  if (!stmt) return stmt.error();
  stmt->bind_int(1, kept_id);
  std::vector<KeptReference> references;
  for (;;) {
    auto row = stmt->step();
    if (!row) return row.error();
    if (!*row) return references;
    references.push_back({std::string(stmt->text(0)), stmt->text(1) == "manifest"});
  }
}

Result<void> run_with(SqliteConnection& connection, LifecycleSql id, std::int64_t first,
                      std::int64_t second) {
  auto stmt = connection.statement(id);
  if (!stmt) return stmt.error();
  stmt->bind_int(1, first).bind_int(2, second);
  return stmt->run();
}

// Makes the kept manifest `kept_id` a stored manifest of the repository again: first its kept
// children that are not stored, then the links its blobs need, the row, its references and its
// platform; then forgets the kept copy.
Result<void> bring_back(SqliteConnection& connection, RepositoryRef repository,
                        std::int64_t repository_id, const std::string& digest, std::int64_t kept_id,
                        std::int64_t now, int depth, RestoredContent& restored) {
  if (depth > kMaxRestoreDepth) {
    return invalid_argument("manifest " + digest + " nests deeper than " +
                            std::to_string(kMaxRestoreDepth) + " levels");
  }
  auto references = kept_references(connection, kept_id);
  if (!references) return references.error();
  for (const KeptReference& reference : *references) {
    if (!reference.is_manifest) continue;
    auto live = live_manifest_id(connection, repository_id, reference.digest);
    if (!live) return live.error();
    if (*live) continue;
    auto kept = kept_manifest_id(connection, repository, reference.digest);
    if (!kept) return kept.error();
    if (!*kept) {
      return MetadataError{Errc::reference_missing, "manifest " + digest + " needs manifest " +
                                                        reference.digest +
                                                        ", which is no longer kept"};
    }
    auto child = bring_back(connection, repository, repository_id, reference.digest, **kept, now,
                            depth + 1, restored);
    if (!child) return child;
  }
  auto link = connection.statement(LifecycleSql::restore_link);
  if (!link) return link.error();
  for (const KeptReference& reference : *references) {
    if (reference.is_manifest) continue;
    link->bind_int(1, repository_id).bind_text(2, reference.digest).bind_int(3, now);
    if (auto done = link->run(); !done) return done;
    link->reset();
    if (sqlite3_changes(connection.db()) == 0) {
      return MetadataError{Errc::reference_missing, "blob " + reference.digest + " of manifest " +
                                                        digest + " is gone or being removed"};
    }
  }
  {
    auto insert = connection.statement(LifecycleSql::restore_manifest);
    if (!insert) return insert.error();
    insert->bind_int(1, repository_id).bind_int(2, kept_id).bind_int(3, now);
    if (auto done = insert->run(); !done) return done;
  }
  const std::int64_t manifest_id = sqlite3_last_insert_rowid(connection.db());
  {
    auto insert = connection.statement(Sql::insert_reference);
    if (!insert) return insert.error();
    for (const KeptReference& reference : *references) {
      insert->bind_int(1, manifest_id)
          .bind_text(2, reference.digest)
          .bind_text(3, reference.is_manifest ? "manifest" : "blob");
      if (auto done = insert->run(); !done) return done;
      insert->reset();
    }
  }
  if (auto platform = run_with(connection, LifecycleSql::restore_platform, manifest_id, kept_id);
      !platform) {
    return platform;
  }
  auto forget = connection.statement(LifecycleSql::forget_deleted_manifest);
  if (!forget) return forget.error();
  forget->bind_int(1, kept_id);
  if (auto done = forget->run(); !done) return done;
  auto parsed = stored_digest(digest);
  if (!parsed) return parsed.error();
  restored.manifests.push_back(std::move(*parsed));
  return {};
}

// Points the kept tags of `digest` at the stored manifest `manifest_id` and forgets them.
Result<void> bring_back_tags(SqliteConnection& connection, RepositoryRef repository,
                             std::int64_t repository_id, const std::string& digest,
                             std::int64_t manifest_id, bool replace_tags, std::int64_t now,
                             RestoredContent& restored) {
  std::vector<std::string> names;
  {
    auto stmt = connection.statement(LifecycleSql::deleted_tag_names);
    if (!stmt) return stmt.error();
    stmt->bind_repository(repository).bind_text(3, digest);
    for (;;) {
      auto row = stmt->step();
      if (!row) return row.error();
      if (!*row) break;
      names.emplace_back(stmt->text(0));
    }
  }
  for (const std::string& name : names) {
    bool taken = false;
    {
      auto find = connection.statement(Sql::find_tag);
      if (!find) return find.error();
      find->bind_repository(repository).bind_text(3, name);
      auto row = find->step();
      if (!row) return row.error();
      // A tag on another manifest now; a write-locked one is never moved.
      taken = *row && find->text(0) != digest && (!replace_tags || find->integer(3) == 0);
    }
    if (taken) {
      restored.tags_taken.push_back(name);
      continue;
    }
    auto upsert = connection.statement(Sql::upsert_tag);
    if (!upsert) return upsert.error();
    upsert->bind_int(1, repository_id).bind_text(2, name).bind_int(3, manifest_id).bind_int(4, now);
    if (auto done = upsert->run(); !done) return done;
    auto forget = connection.statement(LifecycleSql::forget_deleted_tag);
    if (!forget) return forget.error();
    forget->bind_repository(repository).bind_text(3, name).bind_text(4, digest);
    if (auto done = forget->run(); !done) return done;
    restored.tags.push_back(name);
  }
  return {};
}

}  // namespace

Result<RestoredContent> SqliteMetadataStore::restore_manifest(RepositoryRef repository,
                                                              const oci::Digest& digest,
                                                              bool replace_tags,
                                                              std::span<const EventRecord> events) {
  if (auto bad = check_repository(repository)) return *bad;
  const std::string text = digest.str();
  RestoredContent restored;
  auto written = write([&](SqliteConnection& connection) -> Result<void> {
    restored = RestoredContent{};
    const std::int64_t now = unix_now();
    auto kept = kept_manifest_id(connection, repository, text);
    if (!kept) return kept.error();
    auto repository_id = ensure_repository(connection, repository, now);
    if (!repository_id) return repository_id.error();
    auto live = live_manifest_id(connection, *repository_id, text);
    if (!live) return live.error();
    if (*kept && !*live) {
      auto back =
          bring_back(connection, repository, *repository_id, text, **kept, now, 0, restored);
      if (!back) return back;
      live = live_manifest_id(connection, *repository_id, text);
      if (!live) return live.error();
    }
    if (!*live) {
      return MetadataError{Errc::not_found, "manifest " + text + " is not kept in repository " +
                                                std::string(repository.name)};
    }
    auto tags = bring_back_tags(connection, repository, *repository_id, text, **live, replace_tags,
                                now, restored);
    if (!tags) return tags;
    // Kept tags whose names are taken count as found: the answer says they were not restored.
    if (restored.manifests.empty() && restored.tags.empty() && restored.tags_taken.empty()) {
      return MetadataError{
          Errc::not_found,
          "nothing of manifest " + text + " is kept in repository " + std::string(repository.name)};
    }
    return insert_events(connection, events);
  });
  if (!written) return written.error();
  return restored;
}

Result<ExpiredCounts> SqliteMetadataStore::expire_deleted(std::int64_t now, std::size_t limit) {
  ExpiredCounts counts;
  auto written = write([&](SqliteConnection& connection) -> Result<void> {
    if (auto done = run_with(connection, LifecycleSql::expire_manifests, now, sql_limit(limit));
        !done) {
      return done;
    }
    counts.manifests = static_cast<std::uint64_t>(sqlite3_changes(connection.db()));
    if (auto done = run_with(connection, LifecycleSql::expire_tags, now, sql_limit(limit)); !done) {
      return done;
    }
    counts.tags = static_cast<std::uint64_t>(sqlite3_changes(connection.db()));
    return {};
  });
  if (!written) return written.error();
  return counts;
}

Result<std::uint64_t> SqliteMetadataStore::soft_deleted_bytes(RegistryId registry) {
  return registry_number(LifecycleSql::soft_deleted_bytes, registry);
}

// --- retention ---

Result<std::vector<ManifestKey>> SqliteMetadataStore::retention_candidates(
    RegistryId registry, std::int64_t now, const std::optional<ManifestKey>& after,
    std::size_t limit) {
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(LifecycleSql::retention_candidates);
  if (!stmt) return stmt.error();
  const std::string after_digest = after ? after->digest.str() : std::string();
  stmt->bind_int(1, registry)
      .bind_int(2, now)
      .bind_text(3, after ? std::string_view(after->repository) : std::string_view())
      .bind_text(4, after_digest)
      .bind_int(5, sql_limit(limit));
  std::vector<ManifestKey> keys;
  keys.reserve(initial_capacity(limit));
  for (;;) {
    auto row = stmt->step();
    if (!row) return row.error();
    if (!*row) return keys;
    auto digest = stored_digest(stmt->text(1));
    if (!digest) return digest.error();
    keys.push_back({std::string(stmt->text(0)), std::move(*digest)});
  }
}

Result<std::vector<oci::Digest>> SqliteMetadataStore::disposable_manifests(
    RepositoryRef repository, std::int64_t changed_before) {
  if (auto bad = check_repository(repository)) return *bad;
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(LifecycleSql::disposable_manifests);
  if (!stmt) return stmt.error();
  stmt->bind_repository(repository).bind_int(3, changed_before);
  std::vector<oci::Digest> digests;
  for (;;) {
    auto row = stmt->step();
    if (!row) return row.error();
    if (!*row) return digests;
    auto digest = stored_digest(stmt->text(0));
    if (!digest) return digest.error();
    digests.push_back(std::move(*digest));
  }
}

// --- quotas and usage ---

Result<StorageState> SqliteMetadataStore::storage_state(RepositoryRef repository) {
  if (!repository.name.empty()) {
    if (auto bad = check_repository(repository)) return *bad;
  }
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(LifecycleSql::storage_state);
  if (!stmt) return stmt.error();
  stmt->bind_repository(repository);
  auto row = stmt->step();
  if (!row) return row.error();
  if (!*row) return registry_not_found(repository.registry);
  return StorageState{
      .tier = std::string(stmt->text(4)),
      .registry_bytes = static_cast<std::uint64_t>(stmt->integer(0)),
      .registry_quota = optional_bytes(*stmt, 1),
      .repository_bytes = static_cast<std::uint64_t>(stmt->integer(2)),
      .repository_quota = optional_bytes(*stmt, 3),
  };
}

namespace {

void bind_quota(Statement& stmt, int index, std::optional<std::uint64_t> bytes) {
  if (bytes) {
    stmt.bind_int(index, static_cast<std::int64_t>(*bytes));
  } else {
    stmt.bind_null(index);
  }
}

}  // namespace

Result<void> SqliteMetadataStore::set_registry_quota(RegistryId registry,
                                                     std::optional<std::uint64_t> bytes) {
  if (auto bad = check_quota_bytes(bytes)) return *bad;
  bool changed = false;
  auto written = write([&](SqliteConnection& connection) -> Result<void> {
    auto stmt = connection.statement(LifecycleSql::set_registry_quota);
    if (!stmt) return stmt.error();
    stmt->bind_int(1, registry);
    bind_quota(*stmt, 2, bytes);
    if (auto done = stmt->run(); !done) return done;
    changed = sqlite3_changes(connection.db()) > 0;
    return {};
  });
  if (!written) return written.error();
  if (!changed) return registry_not_found(registry);
  return {};
}

Result<void> SqliteMetadataStore::set_repository_quota(RepositoryRef repository,
                                                       std::optional<std::uint64_t> bytes) {
  if (auto bad = check_repository(repository)) return *bad;
  if (auto bad = check_quota_bytes(bytes)) return *bad;
  bool changed = false;
  auto written = write([&](SqliteConnection& connection) -> Result<void> {
    auto stmt = connection.statement(LifecycleSql::set_repository_quota);
    if (!stmt) return stmt.error();
    stmt->bind_repository(repository);
    bind_quota(*stmt, 3, bytes);
    if (auto done = stmt->run(); !done) return done;
    changed = sqlite3_changes(connection.db()) > 0;
    return {};
  });
  if (!written) return written.error();
  if (!changed) {
    return MetadataError{Errc::not_found,
                         "repository " + std::string(repository.name) + " does not exist"};
  }
  return {};
}

Result<std::uint64_t> SqliteMetadataStore::recount_registry_bytes(RegistryId registry) {
  return registry_number(LifecycleSql::recount_registry_bytes, registry);
}

// --- purge schedules ---

namespace {

PurgeSchedule purge_schedule_of(const Statement& stmt) {
  return PurgeSchedule{
      .registry = stmt.integer(0),
      .name = std::string(stmt.text(1)),
      .schedule = std::string(stmt.text(2)),
      .filters = split_lines(stmt.text(3)),
      .ago_seconds = stmt.integer(4),
      .untagged = stmt.integer(5) != 0,
      .keep = static_cast<std::uint64_t>(stmt.integer(6)),
      .created_at = stmt.integer(7),
      .updated_at = stmt.integer(8),
      .last_run_at = stmt.integer(9),
      .last_result = std::string(stmt.text(10)),
  };
}

}  // namespace

Result<PurgeSchedule> SqliteMetadataStore::put_purge_schedule(const PurgeSchedule& schedule) {
  if (auto bad = check_purge_schedule(schedule)) return *bad;
  const std::string filters = joined_lines(schedule.filters);
  std::optional<PurgeSchedule> saved;
  auto written = write([&](SqliteConnection& connection) -> Result<void> {
    auto stmt = connection.statement(LifecycleSql::put_purge_schedule);
    if (!stmt) return stmt.error();
    stmt->bind_int(1, schedule.registry)
        .bind_text(2, schedule.name)
        .bind_text(3, schedule.schedule)
        .bind_text(4, filters)
        .bind_int(5, schedule.ago_seconds)
        .bind_int(6, schedule.untagged ? 1 : 0)
        .bind_int(7, static_cast<std::int64_t>(std::min<std::uint64_t>(
                         schedule.keep, std::numeric_limits<std::int64_t>::max())))
        .bind_int(8, schedule.updated_at != 0 ? schedule.updated_at : unix_now());
    auto row = stmt->step();
    if (!row) {
      if (sqlite3_extended_errcode(connection.db()) == SQLITE_CONSTRAINT_FOREIGNKEY) {
        return registry_not_found(schedule.registry);
      }
      return row.error();
    }
    if (*row) saved = purge_schedule_of(*stmt);
    return {};
  });
  if (!written) return written.error();
  if (!saved) return registry_not_found(schedule.registry);
  return *saved;
}

Result<std::vector<PurgeSchedule>> SqliteMetadataStore::list_purge_schedules(
    std::optional<RegistryId> registry) {
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(LifecycleSql::list_purge_schedules);
  if (!stmt) return stmt.error();
  if (registry) {
    stmt->bind_int(1, *registry);
  } else {
    stmt->bind_null(1);
  }
  std::vector<PurgeSchedule> schedules;
  for (;;) {
    auto row = stmt->step();
    if (!row) return row.error();
    if (!*row) return schedules;
    schedules.push_back(purge_schedule_of(*stmt));
  }
}

Result<bool> SqliteMetadataStore::delete_purge_schedule(RegistryId registry,
                                                        std::string_view name) {
  bool removed = false;
  auto written = write([&](SqliteConnection& connection) -> Result<void> {
    auto stmt = connection.statement(LifecycleSql::delete_purge_schedule);
    if (!stmt) return stmt.error();
    stmt->bind_int(1, registry).bind_text(2, name);
    if (auto done = stmt->run(); !done) return done;
    removed = sqlite3_changes(connection.db()) > 0;
    return {};
  });
  if (!written) return written.error();
  return removed;
}

Result<bool> SqliteMetadataStore::record_purge_run(RegistryId registry, std::string_view name,
                                                   std::int64_t at, std::string_view result) {
  bool recorded = false;
  auto written = write([&](SqliteConnection& connection) -> Result<void> {
    auto stmt = connection.statement(LifecycleSql::record_purge_run);
    if (!stmt) return stmt.error();
    stmt->bind_int(1, registry).bind_text(2, name).bind_int(3, at).bind_text(4, result);
    if (auto done = stmt->run(); !done) return done;
    recorded = sqlite3_changes(connection.db()) > 0;
    return {};
  });
  if (!written) return written.error();
  return recorded;
}

}  // namespace berth::metadata
