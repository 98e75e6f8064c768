// SqliteMetadataStore: the content metadata part (registries, repositories, blobs, upload
// sessions, manifests, tags: their statements and queries) and opening the store. The schema
// and its migrations are in sqlite_schema.cc, the connections and the reader pool in
// sqlite_connection.cc, the group-commit writer in sqlite_writer.cc.

#include "metadata/sqlite_metadata_store.h"

#include <sqlite3.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "metadata/sqlite_internal.h"

namespace berth::metadata {
namespace {

// The repository id for the registry in ?1 and the name in ?2; NULL (matching nothing) when
// there is no such repository, so reads of unknown repositories need no separate lookup.
#define BERTH_REPOSITORY_ID "(SELECT id FROM repositories WHERE registry_id = ?1 AND name = ?2)"

#define BERTH_REGISTRY_COLUMNS                                                       \
  "id, name, tier, region, created_at, admin_user_enabled, anonymous_pull_enabled, " \
  "public_network_access, default_network_action, data_endpoint_enabled"

// The four changeable attributes, in the order attributes_of() reads them.
#define BERTH_ATTRIBUTE_COLUMNS "write_enabled, delete_enabled, read_enabled, list_enabled"

// One row per repository of `r`: name, created_at, updated_at, storage_bytes, manifest_count,
// tag_count, the attributes. updated_at is the latest manifest push or tag change, else the repository's
// creation; the multi-argument max() is NULL if any argument is, hence the coalesces.
#define BERTH_REPOSITORY_SUMMARY                                                              \
  "SELECT name, created_at, "                                                                 \
  "COALESCE(max(COALESCE(manifest_at, tag_at), COALESCE(tag_at, manifest_at)), created_at), " \
  "storage_bytes, manifest_count, tag_count, " BERTH_ATTRIBUTE_COLUMNS " FROM ("              \
  "SELECT r.name AS name, r.created_at AS created_at, " BERTH_ATTRIBUTE_COLUMNS ", "          \
  "(SELECT max(created_at) FROM manifests WHERE repository_id = r.id) AS manifest_at, "       \
  "(SELECT max(updated_at) FROM tags WHERE repository_id = r.id) AS tag_at, "                 \
  "(SELECT COALESCE(sum(b.size), 0) FROM repository_blobs rb JOIN blobs b "                   \
  "ON b.digest = rb.digest WHERE rb.repository_id = r.id) AS storage_bytes, "                 \
  "(SELECT count(*) FROM manifests WHERE repository_id = r.id) AS manifest_count, "           \
  "(SELECT count(*) FROM tags WHERE repository_id = r.id) AS tag_count "                      \
  "FROM repositories r "

// The tag listing's rows: name, digest, created_at, updated_at, the attributes.
#define BERTH_TAG_PAGE                                                                       \
  "SELECT t.name, m.digest, t.created_at, t.updated_at, t.write_enabled, t.delete_enabled, " \
  "t.read_enabled, t.list_enabled FROM tags t JOIN manifests m ON m.id = t.manifest_id "     \
  "WHERE t.repository_id = " BERTH_REPOSITORY_ID " AND t.list_enabled = 1"

// A manifest's last update, exactly as manifests_by_time indexes it (no table alias, so the
// planner recognises the expression).
#define BERTH_MANIFEST_TIME "(CASE WHEN updated_at != 0 THEN updated_at ELSE created_at END)"

// The manifest listing's rows: digest, media_type, artifact_type, size, created_at,
// updated_at, the attributes, architecture, os, image size (its bytes and those of the blobs
// it references) and its tags joined by newlines (which no tag name contains).
#define BERTH_MANIFEST_PAGE                                                                    \
  "SELECT digest, media_type, artifact_type, size, created_at, updated_at, "                   \
  BERTH_ATTRIBUTE_COLUMNS ", "                                                                 \
  "COALESCE((SELECT architecture FROM manifest_platforms WHERE manifest_id = manifests.id), "  \
  "''), "                                                                                      \
  "COALESCE((SELECT os FROM manifest_platforms WHERE manifest_id = manifests.id), ''), "       \
  "size + (SELECT COALESCE(sum(b.size), 0) FROM manifest_references r JOIN blobs b "           \
  "ON b.digest = r.child_digest WHERE r.manifest_id = manifests.id AND r.kind = 'blob'), "     \
  "(SELECT group_concat(name, char(10)) FROM tags WHERE manifest_id = manifests.id) "          \
  "FROM manifests WHERE repository_id = " BERTH_REPOSITORY_ID

constexpr StatementSpec<Sql> kStatements[] = {
    {Sql::begin_immediate, "begin transaction", "BEGIN IMMEDIATE"},
    {Sql::commit, "commit", "COMMIT"},
    {Sql::rollback, "rollback", "ROLLBACK"},
    {Sql::savepoint, "savepoint", "SAVEPOINT berth_write"},
    {Sql::release_savepoint, "release savepoint", "RELEASE berth_write"},
    {Sql::rollback_to_savepoint, "roll back to savepoint", "ROLLBACK TO berth_write"},
    {Sql::insert_registry, "insert registry",
     "INSERT INTO registries (name, tier, region, created_at, admin_user_enabled, "
     "anonymous_pull_enabled, public_network_access, default_network_action, "
     "data_endpoint_enabled) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"},
    {Sql::find_registry, "find registry",
     "SELECT " BERTH_REGISTRY_COLUMNS " FROM registries WHERE name = ?1"},
    {Sql::list_registries, "list registries",
     "SELECT " BERTH_REGISTRY_COLUMNS " FROM registries ORDER BY name"},
    {Sql::update_registry, "update registry",
     "UPDATE registries SET tier = ?2, region = ?3, admin_user_enabled = ?4, "
     "anonymous_pull_enabled = ?5, public_network_access = ?6, default_network_action = ?7, "
     "data_endpoint_enabled = ?8 WHERE id = ?1"},
    {Sql::delete_registry, "delete registry", "DELETE FROM registries WHERE id = ?1"},
    // The counter the link triggers keep (schema 8); recount_registry_bytes recounts it.
    {Sql::registry_storage_bytes, "read registry storage",
     "SELECT linked_bytes FROM registries WHERE id = ?1"},
    {Sql::list_repository_summaries, "list repository summaries",
     BERTH_REPOSITORY_SUMMARY "WHERE r.registry_id = ?1) ORDER BY name"},
    {Sql::repository_summary, "read repository summary",
     BERTH_REPOSITORY_SUMMARY "WHERE r.registry_id = ?1 AND r.name = ?2)"},
    {Sql::delete_repository, "delete repository",
     "DELETE FROM repositories WHERE registry_id = ?1 AND name = ?2"},
    {Sql::list_tag_records, "list tag records",
     "SELECT t.name, m.digest, t.created_at, t.updated_at, t.write_enabled, t.delete_enabled, "
     "t.read_enabled, t.list_enabled FROM tags t "
     "JOIN manifests m ON m.id = t.manifest_id WHERE t.repository_id = " BERTH_REPOSITORY_ID
     " ORDER BY t.name"},
    // One row per (manifest, tag), untagged manifests once with a NULL tag; rows of a manifest
    // are adjacent and its tags come in order.
    {Sql::list_manifest_summaries, "list manifest summaries",
     "SELECT m.digest, m.media_type, m.artifact_type, m.size, m.created_at, t.name, "
     "m.updated_at, m.write_enabled, m.delete_enabled, m.read_enabled, m.list_enabled "
     "FROM manifests m LEFT JOIN tags t ON t.manifest_id = m.id "
     "WHERE m.repository_id = " BERTH_REPOSITORY_ID
     " ORDER BY m.created_at DESC, m.digest, t.name"},
    {Sql::find_repository, "find repository",
     "SELECT id FROM repositories WHERE registry_id = ?1 AND name = ?2"},
    {Sql::insert_repository, "insert repository",
     "INSERT INTO repositories (registry_id, name, created_at) VALUES (?1, ?2, ?3)"},
    {Sql::list_repositories, "list repositories",
     "SELECT name FROM repositories WHERE registry_id = ?1 AND name > ?2 AND list_enabled = 1 "
     "ORDER BY name LIMIT ?3"},
    {Sql::insert_blob, "insert blob",
     "INSERT INTO blobs (digest, size, created_at, touched_at) VALUES (?1, ?2, ?3, ?3) "
     "ON CONFLICT (digest) DO UPDATE SET touched_at = excluded.touched_at "
     "WHERE blobs.deleting = 0"},
    {Sql::blob_size, "read blob size", "SELECT size FROM blobs WHERE digest = ?1"},
    {Sql::link_blob, "link blob",
     "INSERT INTO repository_blobs (repository_id, digest, created_at) VALUES (?1, ?2, ?3) "
     "ON CONFLICT (repository_id, digest) DO UPDATE SET created_at = excluded.created_at"},
    {Sql::linked_blob_size, "read linked blob size",
     "SELECT b.size FROM repository_blobs rb JOIN blobs b ON b.digest = rb.digest "
     "WHERE rb.repository_id = " BERTH_REPOSITORY_ID " AND rb.digest = ?3"},
    {Sql::unlink_blob, "unlink blob",
     "DELETE FROM repository_blobs WHERE repository_id = " BERTH_REPOSITORY_ID " AND digest = ?3"},
    {Sql::insert_upload, "insert upload",
     "INSERT INTO uploads (id, repository_id, created_at, updated_at) VALUES (?1, ?2, ?3, ?4)"},
    {Sql::count_uploads_in_registry, "count uploads",
     "SELECT count(*) FROM uploads u JOIN repositories r ON r.id = u.repository_id "
     "WHERE r.registry_id = ?1"},
    {Sql::get_upload, "read upload",
     "SELECT r.registry_id, r.name, u.created_at, u.updated_at FROM uploads u "
     "JOIN repositories r ON r.id = u.repository_id WHERE u.id = ?1"},
    {Sql::touch_upload, "touch upload", "UPDATE uploads SET updated_at = ?2 WHERE id = ?1"},
    {Sql::list_idle_uploads, "list idle uploads",
     "SELECT u.id, r.registry_id, r.name, u.created_at, u.updated_at FROM uploads u "
     "JOIN repositories r ON r.id = u.repository_id WHERE u.updated_at < ?1 "
     "ORDER BY u.updated_at LIMIT ?2"},
    {Sql::delete_upload, "delete upload", "DELETE FROM uploads WHERE id = ?1"},
    {Sql::insert_manifest, "insert manifest",
     "INSERT INTO manifests (repository_id, digest, media_type, artifact_type, subject_digest, "
     "annotations, size, created_at, content, untagged_at) "
     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?8) "
     "ON CONFLICT (repository_id, digest) DO NOTHING"},
    {Sql::find_manifest_id, "find manifest",
     "SELECT id FROM manifests WHERE repository_id = ?1 AND digest = ?2"},
    {Sql::insert_reference, "insert manifest reference",
     "INSERT INTO manifest_references (manifest_id, child_digest, kind) VALUES (?1, ?2, ?3) "
     "ON CONFLICT DO NOTHING"},
    {Sql::upsert_tag, "tag manifest",
     "INSERT INTO tags (repository_id, name, manifest_id, created_at, updated_at) "
     "VALUES (?1, ?2, ?3, ?4, ?4) "
     "ON CONFLICT (repository_id, name) DO UPDATE SET manifest_id = excluded.manifest_id, "
     "updated_at = excluded.updated_at WHERE tags.manifest_id IS NOT excluded.manifest_id"},
    {Sql::get_manifest, "read manifest",
     "SELECT media_type, artifact_type, subject_digest, annotations, created_at, content, "
     BERTH_ATTRIBUTE_COLUMNS ", updated_at, "
     "(SELECT architecture FROM manifest_platforms WHERE manifest_id = manifests.id), "
     "(SELECT os FROM manifest_platforms WHERE manifest_id = manifests.id) "
     "FROM manifests WHERE repository_id = " BERTH_REPOSITORY_ID " AND digest = ?3"},
    {Sql::manifest_exists, "check manifest",
     "SELECT 1 FROM manifests WHERE repository_id = " BERTH_REPOSITORY_ID " AND digest = ?3"},
    {Sql::manifest_size, "read manifest size",
     "SELECT size FROM manifests WHERE repository_id = " BERTH_REPOSITORY_ID " AND digest = ?3"},
    {Sql::resolve_tag, "resolve tag",
     "SELECT m.digest FROM tags t JOIN manifests m ON m.id = t.manifest_id "
     "WHERE t.repository_id = " BERTH_REPOSITORY_ID " AND t.name = ?3"},
    {Sql::delete_manifest, "delete manifest",
     "DELETE FROM manifests WHERE repository_id = " BERTH_REPOSITORY_ID " AND digest = ?3"},
    {Sql::delete_tag, "delete tag",
     "DELETE FROM tags WHERE repository_id = " BERTH_REPOSITORY_ID " AND name = ?3"},
    {Sql::list_tags, "list tags",
     "SELECT name FROM tags WHERE repository_id = " BERTH_REPOSITORY_ID
     " AND name > ?3 AND list_enabled = 1 ORDER BY name LIMIT ?4"},
    {Sql::list_referrers, "list referrers",
     "SELECT digest, media_type, artifact_type, size, annotations FROM manifests "
     "WHERE repository_id = " BERTH_REPOSITORY_ID " AND subject_digest = ?3 "
     "AND (?4 IS NULL OR artifact_type = ?4) ORDER BY digest"},
    // --- changeable attributes (sqlite_attributes.cc) ---
    {Sql::repository_attributes, "read repository attributes",
     "SELECT " BERTH_ATTRIBUTE_COLUMNS " FROM repositories WHERE registry_id = ?1 AND name = ?2"},
    {Sql::find_tag, "find tag",
     "SELECT m.digest, t.created_at, t.updated_at, t.write_enabled, t.delete_enabled, "
     "t.read_enabled, t.list_enabled FROM tags t JOIN manifests m ON m.id = t.manifest_id "
     "WHERE t.repository_id = " BERTH_REPOSITORY_ID " AND t.name = ?3"},
    {Sql::manifest_attributes, "read manifest attributes",
     "SELECT " BERTH_ATTRIBUTE_COLUMNS " FROM manifests WHERE repository_id = " BERTH_REPOSITORY_ID
     " AND digest = ?3"},
    // NULL for an attribute leaves it as it is.
    {Sql::update_repository_attributes, "update repository attributes",
     "UPDATE repositories SET write_enabled = COALESCE(?3, write_enabled), "
     "delete_enabled = COALESCE(?4, delete_enabled), read_enabled = COALESCE(?5, read_enabled), "
     "list_enabled = COALESCE(?6, list_enabled) WHERE registry_id = ?1 AND name = ?2 "
     "RETURNING " BERTH_ATTRIBUTE_COLUMNS},
    {Sql::update_tag_attributes, "update tag attributes",
     "UPDATE tags SET write_enabled = COALESCE(?4, write_enabled), "
     "delete_enabled = COALESCE(?5, delete_enabled), read_enabled = COALESCE(?6, read_enabled), "
     "list_enabled = COALESCE(?7, list_enabled), updated_at = ?8 "
     "WHERE repository_id = " BERTH_REPOSITORY_ID " AND name = ?3 "
     "RETURNING " BERTH_ATTRIBUTE_COLUMNS},
    {Sql::update_manifest_attributes, "update manifest attributes",
     "UPDATE manifests SET write_enabled = COALESCE(?4, write_enabled), "
     "delete_enabled = COALESCE(?5, delete_enabled), read_enabled = COALESCE(?6, read_enabled), "
     "list_enabled = COALESCE(?7, list_enabled), updated_at = ?8 "
     "WHERE repository_id = " BERTH_REPOSITORY_ID " AND digest = ?3 "
     "RETURNING " BERTH_ATTRIBUTE_COLUMNS},
    // Rows (rank, kind, name): the manifest before its tags, tags by name.
    {Sql::find_manifest_delete_lock, "find a delete lock on a manifest",
     "SELECT 0, 'manifest', digest FROM manifests WHERE repository_id = " BERTH_REPOSITORY_ID
     " AND digest = ?3 AND delete_enabled = 0 "
     "UNION ALL SELECT 1, 'tag', t.name FROM tags t JOIN manifests m ON m.id = t.manifest_id "
     "WHERE m.repository_id = " BERTH_REPOSITORY_ID " AND m.digest = ?3 AND t.delete_enabled = 0 "
     "ORDER BY 1, 3 LIMIT 1"},
    // The repository, then its manifests by digest, then its tags by name.
    {Sql::find_repository_delete_lock, "find a delete lock in a repository",
     "SELECT 0, 'repository', name FROM repositories WHERE registry_id = ?1 AND name = ?2 "
     "AND delete_enabled = 0 "
     "UNION ALL SELECT 1, 'manifest', digest FROM manifests WHERE repository_id = "
     BERTH_REPOSITORY_ID " AND delete_enabled = 0 "
     "UNION ALL SELECT 2, 'tag', name FROM tags WHERE repository_id = " BERTH_REPOSITORY_ID
     " AND delete_enabled = 0 ORDER BY 1, 3 LIMIT 1"},
    // --- paged listings in an order (sqlite_listings.cc) ---
    {Sql::insert_manifest_platform, "record manifest platform",
     "INSERT INTO manifest_platforms (manifest_id, architecture, os) VALUES (?1, ?2, ?3) "
     "ON CONFLICT (manifest_id) DO NOTHING"},
    // ?3 the last key seen, ?4 the limit, ?5 the last time seen. Row values compare like the
    // ORDER BY, so "after the last item" is one range of the index.
    {Sql::tag_page_by_name, "list a page of tags by name",
     BERTH_TAG_PAGE " AND t.name > ?3 ORDER BY t.name LIMIT ?4"},
    {Sql::tag_page_time_asc, "list a page of tags by time",
     BERTH_TAG_PAGE " AND (t.updated_at, t.name) > (?5, ?3) "
     "ORDER BY t.updated_at, t.name LIMIT ?4"},
    {Sql::tag_page_time_desc, "list a page of tags by time, latest first",
     BERTH_TAG_PAGE " AND (t.updated_at, t.name) < (?5, ?3) "
     "ORDER BY t.updated_at DESC, t.name DESC LIMIT ?4"},
    {Sql::manifest_page_by_digest, "list a page of manifests by digest",
     BERTH_MANIFEST_PAGE " AND list_enabled = 1 AND digest > ?3 ORDER BY digest LIMIT ?4"},
    {Sql::manifest_page_time_asc, "list a page of manifests by time",
     BERTH_MANIFEST_PAGE " AND list_enabled = 1 AND (" BERTH_MANIFEST_TIME ", digest) > (?5, ?3) "
     "ORDER BY " BERTH_MANIFEST_TIME ", digest LIMIT ?4"},
    {Sql::manifest_page_time_desc, "list a page of manifests by time, latest first",
     BERTH_MANIFEST_PAGE " AND list_enabled = 1 AND (" BERTH_MANIFEST_TIME ", digest) < (?5, ?3) "
     "ORDER BY " BERTH_MANIFEST_TIME " DESC, digest DESC LIMIT ?4"},
    {Sql::manifest_summary, "read manifest summary", BERTH_MANIFEST_PAGE " AND digest = ?3"},
};

#undef BERTH_REPOSITORY_ID
#undef BERTH_REGISTRY_COLUMNS
#undef BERTH_REPOSITORY_SUMMARY
#undef BERTH_ATTRIBUTE_COLUMNS
#undef BERTH_TAG_PAGE
#undef BERTH_MANIFEST_TIME
#undef BERTH_MANIFEST_PAGE

static_assert(statements_in_enum_order(kStatements), "kStatements is indexed by Sql");

}  // namespace

const StatementSpec<Sql>& spec_of(Sql id) { return kStatements[static_cast<std::size_t>(id)]; }

Result<std::vector<TagRecord>> collect_tag_records(Statement& stmt, std::size_t capacity) {
  std::vector<TagRecord> tags;
  tags.reserve(capacity);
  for (;;) {
    auto row = stmt.step();
    if (!row) return row.error();
    if (!*row) return tags;
    auto digest = stored_digest(stmt.text(1));
    if (!digest) return digest.error();
    tags.push_back(TagRecord{
        .name = std::string(stmt.text(0)),
        .digest = std::move(*digest),
        .created_at = stmt.integer(2),
        .updated_at = stmt.integer(3),
        .attributes = attributes_of(stmt, 4),
    });
  }
}

namespace {

using Role = SqliteConnection::Role;

}  // namespace

Result<std::int64_t> ensure_repository(SqliteConnection& connection, RepositoryRef repository,
                                       std::int64_t now) {
  {
    auto find = connection.statement(Sql::find_repository);
    if (!find) return find.error();
    find->bind_repository(repository);
    auto row = find->step();
    if (!row) return row.error();
    if (*row) return find->integer(0);
  }
  auto insert = connection.statement(Sql::insert_repository);
  if (!insert) return insert.error();
  insert->bind_repository(repository).bind_int(3, now);
  if (auto done = insert->run(); !done) {
    if (sqlite3_extended_errcode(connection.db()) == SQLITE_CONSTRAINT_FOREIGNKEY) {
      return registry_not_found(repository.registry);
    }
    return done.error();
  }
  return sqlite3_last_insert_rowid(connection.db());
}

namespace {

// Runs a DELETE of a repository-scoped statement with an optional text ?3; `removed` tells
// whether a row went.
Result<void> delete_in_repository(SqliteConnection& connection, Sql id, RepositoryRef repository,
                                  std::optional<std::string_view> key, bool& removed) {
  auto stmt = connection.statement(id);
  if (!stmt) return stmt.error();
  stmt->bind_repository(repository);
  if (key) stmt->bind_text(3, *key);
  if (auto done = stmt->run(); !done) return done.error();
  removed = sqlite3_changes(connection.db()) > 0;
  return {};
}

// Collects column 0 of every row as a string.
Result<std::vector<std::string>> collect_names(Statement& stmt, std::size_t limit) {
  std::vector<std::string> names;
  names.reserve(initial_capacity(limit));
  for (;;) {
    auto row = stmt.step();
    if (!row) return row.error();
    if (!*row) return names;
    names.emplace_back(stmt.text(0));
  }
}

}  // namespace

SqliteMetadataStore::SqliteMetadataStore(std::filesystem::path database_file,
                                         std::unique_ptr<SqliteConnection> writer)
    : database_file_(std::move(database_file)), writer_(std::move(writer)) {
  // Returning a reader to the pool and queueing a write then rarely allocate.
  idle_readers_.reserve(kMaxIdleReaders);
  queued_writes_.reserve(kInitialWriteQueue);
  batch_.reserve(kInitialWriteQueue);
}

SqliteMetadataStore::~SqliteMetadataStore() = default;

Result<std::unique_ptr<SqliteMetadataStore>> SqliteMetadataStore::open(
    const std::filesystem::path& database_file) {
  auto writer = SqliteConnection::open(database_file, Role::writer);
  if (!writer) return writer.error();
  if (auto migrated = migrate(**writer); !migrated) {
    MetadataError error = migrated.error();
    if (error.code == Errc::database_error) {
      error.message =
          "cannot open metadata database '" + database_file.string() + "': " + error.message;
    }
    return error;
  }
  return std::unique_ptr<SqliteMetadataStore>(
      new SqliteMetadataStore(database_file, std::move(*writer)));
}

// --- registries ---

namespace {

// A row of BERTH_REGISTRY_COLUMNS.
RegistryRecord registry_of(const Statement& stmt) {
  return RegistryRecord{
      .id = stmt.integer(0),
      .name = std::string(stmt.text(1)),
      .tier = std::string(stmt.text(2)),
      .region = std::string(stmt.text(3)),
      .created_at = stmt.integer(4),
      .admin_user_enabled = stmt.integer(5) != 0,
      .anonymous_pull_enabled = stmt.integer(6) != 0,
      .public_network_access = stmt.integer(7) != 0,
      .default_network_action = std::string(stmt.text(8)),
      .data_endpoint_enabled = stmt.integer(9) != 0,
  };
}

// A row of BERTH_REPOSITORY_SUMMARY.
// (attributes_of, for BERTH_ATTRIBUTE_COLUMNS, is in sqlite_internal.h.)
RepositorySummary summary_of(const Statement& stmt) {
  return RepositorySummary{
      .name = std::string(stmt.text(0)),
      .created_at = stmt.integer(1),
      .updated_at = stmt.integer(2),
      .storage_bytes = static_cast<std::uint64_t>(stmt.integer(3)),
      .manifest_count = static_cast<std::uint64_t>(stmt.integer(4)),
      .tag_count = static_cast<std::uint64_t>(stmt.integer(5)),
      .attributes = attributes_of(stmt, 6),
  };
}

// The size that `which` selects for `digest` in `repository`: none when no row matches.
Result<std::optional<std::uint64_t>> size_of(SqliteConnection& connection, Sql which,
                                             RepositoryRef repository,
                                             const oci::Digest& digest) {
  auto stmt = connection.statement(which);
  if (!stmt) return stmt.error();
  stmt->bind_repository(repository).bind_text(3, digest.str());
  auto row = stmt->step();
  if (!row) return row.error();
  if (!*row) return std::optional<std::uint64_t>();
  return std::optional<std::uint64_t>(static_cast<std::uint64_t>(stmt->integer(0)));
}

}  // namespace

Result<RegistryRecord> SqliteMetadataStore::create_registry(const RegistryRecord& registry) {
  if (registry.name.empty()) return invalid_argument("registry name is empty");
  if (auto bad = check_default_network_action(registry)) return *bad;
  RegistryRecord created = registry;
  auto written = write([&](SqliteConnection& connection) -> Result<void> {
    created.created_at = registry.created_at != 0 ? registry.created_at : unix_now();
    auto insert = connection.statement(Sql::insert_registry);
    if (!insert) return insert.error();
    insert->bind_text(1, registry.name)
        .bind_text(2, registry.tier)
        .bind_text(3, registry.region)
        .bind_int(4, created.created_at)
        .bind_int(5, registry.admin_user_enabled ? 1 : 0)
        .bind_int(6, registry.anonymous_pull_enabled ? 1 : 0)
        .bind_int(7, registry.public_network_access ? 1 : 0)
        .bind_text(8, registry.default_network_action)
        .bind_int(9, registry.data_endpoint_enabled ? 1 : 0);
    auto done = insert->run();
    if (!done) {
      if (done.error().code == Errc::conflict) {
        return registry_exists(registry.name);
      }
      return done;
    }
    created.id = sqlite3_last_insert_rowid(connection.db());
    return {};
  });
  if (!written) return written.error();
  return created;
}

Result<std::optional<RegistryRecord>> SqliteMetadataStore::find_registry(std::string_view name) {
  if (name.empty()) return invalid_argument("registry name is empty");
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(Sql::find_registry);
  if (!stmt) return stmt.error();
  stmt->bind_text(1, name);
  auto row = stmt->step();
  if (!row) return row.error();
  if (!*row) return std::optional<RegistryRecord>();
  return std::optional<RegistryRecord>(registry_of(*stmt));
}

Result<std::vector<RegistryRecord>> SqliteMetadataStore::list_registries() {
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(Sql::list_registries);
  if (!stmt) return stmt.error();
  std::vector<RegistryRecord> registries;
  for (;;) {
    auto row = stmt->step();
    if (!row) return row.error();
    if (!*row) return registries;
    registries.push_back(registry_of(*stmt));
  }
}

Result<bool> SqliteMetadataStore::update_registry(const RegistryRecord& registry) {
  if (auto bad = check_default_network_action(registry)) return *bad;
  bool updated = false;
  auto written = write([&](SqliteConnection& connection) -> Result<void> {
    auto update = connection.statement(Sql::update_registry);
    if (!update) return update.error();
    update->bind_int(1, registry.id)
        .bind_text(2, registry.tier)
        .bind_text(3, registry.region)
        .bind_int(4, registry.admin_user_enabled ? 1 : 0)
        .bind_int(5, registry.anonymous_pull_enabled ? 1 : 0)
        .bind_int(6, registry.public_network_access ? 1 : 0)
        .bind_text(7, registry.default_network_action)
        .bind_int(8, registry.data_endpoint_enabled ? 1 : 0);
    if (auto done = update->run(); !done) return done.error();
    updated = sqlite3_changes(connection.db()) > 0;
    return {};
  });
  if (!written) return written.error();
  return updated;
}

Result<bool> SqliteMetadataStore::delete_registry(RegistryId registry) {
  // The cascades take its repositories and everything under them in the same statement.
  bool removed = false;
  auto written = write([&](SqliteConnection& connection) {
    return delete_by_key(connection, Sql::delete_registry, registry, removed);
  });
  if (!written) return written.error();
  return removed;
}

Result<std::uint64_t> SqliteMetadataStore::registry_storage_bytes(RegistryId registry) {
  return registry_number(Sql::registry_storage_bytes, registry);
}

// --- repository metadata ---

Result<std::vector<RepositorySummary>> SqliteMetadataStore::list_repository_summaries(
    RegistryId registry) {
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(Sql::list_repository_summaries);
  if (!stmt) return stmt.error();
  stmt->bind_int(1, registry);
  std::vector<RepositorySummary> summaries;
  for (;;) {
    auto row = stmt->step();
    if (!row) return row.error();
    if (!*row) return summaries;
    summaries.push_back(summary_of(*stmt));
  }
}

Result<std::optional<RepositorySummary>> SqliteMetadataStore::repository_summary(
    RepositoryRef repository) {
  if (auto bad = check_repository(repository)) return *bad;
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(Sql::repository_summary);
  if (!stmt) return stmt.error();
  stmt->bind_repository(repository);
  auto row = stmt->step();
  if (!row) return row.error();
  if (!*row) return std::optional<RepositorySummary>();
  return std::optional<RepositorySummary>(summary_of(*stmt));
}

Result<bool> SqliteMetadataStore::delete_repository(RepositoryRef repository,
                                                    std::span<const EventRecord> events) {
  if (auto bad = check_repository(repository)) return *bad;
  // The cascades take its manifests (with their references and tags), links and uploads.
  bool removed = false;
  auto written = write([&](SqliteConnection& connection) -> Result<void> {
    auto kept = keep_deleted(connection, repository, std::nullopt, std::nullopt, unix_now());
    if (!kept) return kept;
    auto deleted = delete_in_repository(connection, Sql::delete_repository, repository,
                                        std::nullopt, removed);
    if (!deleted || !removed) return deleted;
    return insert_events(connection, events);
  });
  if (!written) return written.error();
  return removed;
}

Result<std::vector<TagRecord>> SqliteMetadataStore::list_tag_records(RepositoryRef repository) {
  if (auto bad = check_repository(repository)) return *bad;
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(Sql::list_tag_records);
  if (!stmt) return stmt.error();
  stmt->bind_repository(repository);
  return collect_tag_records(*stmt, 0);
}

Result<std::vector<ManifestSummary>> SqliteMetadataStore::list_manifest_summaries(
    RepositoryRef repository) {
  if (auto bad = check_repository(repository)) return *bad;
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(Sql::list_manifest_summaries);
  if (!stmt) return stmt.error();
  stmt->bind_repository(repository);
  std::vector<ManifestSummary> manifests;
  for (;;) {
    auto row = stmt->step();
    if (!row) return row.error();
    if (!*row) return manifests;
    // Digests are unique within a repository, so a manifest's rows are the adjacent ones with
    // its digest.
    if (manifests.empty() || manifests.back().digest.str() != stmt->text(0)) {
      auto digest = stored_digest(stmt->text(0));
      if (!digest) return digest.error();
      manifests.push_back(ManifestSummary{
          .digest = std::move(*digest),
          .media_type = std::string(stmt->text(1)),
          .artifact_type = std::string(stmt->text(2)),
          .size = static_cast<std::uint64_t>(stmt->integer(3)),
          .created_at = stmt->integer(4),
          .updated_at = stmt->integer(6),
          .attributes = attributes_of(*stmt, 7),
      });
    }
    if (!stmt->is_null(5)) manifests.back().tags.emplace_back(stmt->text(5));
  }
}

// --- repositories ---

Result<bool> SqliteMetadataStore::repository_exists(RepositoryRef repository) {
  if (auto bad = check_repository(repository)) return *bad;
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(Sql::find_repository);
  if (!stmt) return stmt.error();
  stmt->bind_repository(repository);
  return stmt->step();
}

Result<std::vector<std::string>> SqliteMetadataStore::list_repositories(RegistryId registry,
                                                                        std::string_view last,
                                                                        std::size_t limit) {
  if (limit == 0) return std::vector<std::string>();
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(Sql::list_repositories);
  if (!stmt) return stmt.error();
  stmt->bind_int(1, registry).bind_text(2, last).bind_int(3, sql_limit(limit));
  return collect_names(*stmt, limit);
}

// --- blobs ---

Result<void> SqliteMetadataStore::link_blob(RepositoryRef repository, const oci::Digest& digest,
                                            std::uint64_t size) {
  return link_blob_within(repository, digest, size, StorageLimits{});
}

Result<void> SqliteMetadataStore::link_blob_within(RepositoryRef repository,
                                                   const oci::Digest& digest, std::uint64_t size,
                                                   const StorageLimits& limits) {
  if (auto bad = check_repository(repository)) return *bad;
  if (auto bad = check_blob_size(size)) return *bad;
  const auto signed_size = static_cast<std::int64_t>(size);
  return write([&](SqliteConnection& connection) -> Result<void> {
    const std::int64_t now = unix_now();
    auto repository_id = ensure_repository(connection, repository, now);
    if (!repository_id) return repository_id.error();
    {
      // A new row, or a known one renewed against garbage collection.
      auto insert = connection.statement(Sql::insert_blob);
      if (!insert) return insert.error();
      insert->bind_text(1, digest.str()).bind_int(2, signed_size).bind_int(3, now);
      if (auto done = insert->run(); !done) return done.error();
    }
    if (sqlite3_changes(connection.db()) == 0) {
      return blob_being_deleted(digest.str());
    }
    {
      // Known already: the same digest must mean the same bytes, hence the same size.
      auto known = connection.statement(Sql::blob_size);
      if (!known) return known.error();
      known->bind_text(1, digest.str());
      auto row = known->step();
      if (!row) return row.error();
      if (*row && known->integer(0) != signed_size) {
        return blob_size_mismatch(digest.str(), known->integer(0), size);
      }
    }
    if (limits.registry_bytes || limits.repository_bytes) {
      auto within = check_link_within(connection, *repository_id, digest.str(), signed_size, limits);
      if (!within) return within;
    }
    auto link = connection.statement(Sql::link_blob);
    if (!link) return link.error();
    link->bind_int(1, *repository_id).bind_text(2, digest.str()).bind_int(3, now);
    return link->run();
  });
}

Result<std::optional<std::uint64_t>> SqliteMetadataStore::linked_blob_size(
    RepositoryRef repository, const oci::Digest& digest) {
  if (auto bad = check_repository(repository)) return *bad;
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  return size_of(reader->connection(), Sql::linked_blob_size, repository, digest);
}

Result<bool> SqliteMetadataStore::unlink_blob(RepositoryRef repository, const oci::Digest& digest) {
  if (auto bad = check_repository(repository)) return *bad;
  bool removed = false;
  auto written = write([&](SqliteConnection& connection) {
    return delete_in_repository(connection, Sql::unlink_blob, repository, digest.str(), removed);
  });
  if (!written) return written.error();
  return removed;
}

// --- upload sessions ---

Result<void> SqliteMetadataStore::create_upload(const UploadRecord& upload) {
  return create_upload_within_limit(upload, std::numeric_limits<std::uint64_t>::max());
}

Result<void> SqliteMetadataStore::create_upload_within_limit(const UploadRecord& upload,
                                                             std::uint64_t max_open_in_registry) {
  if (upload.id.empty()) return invalid_argument("upload id is empty");
  const RepositoryRef repository{upload.registry, upload.repository};
  if (auto bad = check_repository(repository)) return *bad;
  return write([&](SqliteConnection& connection) -> Result<void> {
    const std::int64_t now = unix_now();
    if (max_open_in_registry != std::numeric_limits<std::uint64_t>::max()) {
      auto count = connection.statement(Sql::count_uploads_in_registry);
      if (!count) return count.error();
      count->bind_int(1, upload.registry);
      auto row = count->step();
      if (!row) return row.error();
      if (*row && static_cast<std::uint64_t>(count->integer(0)) >= max_open_in_registry) {
        return upload_limit_reached(count->integer(0));
      }
    }
    auto repository_id = ensure_repository(connection, repository, now);
    if (!repository_id) return repository_id.error();
    auto insert = connection.statement(Sql::insert_upload);
    if (!insert) return insert.error();
    const std::int64_t created_at = upload.created_at != 0 ? upload.created_at : now;
    insert->bind_text(1, upload.id)
        .bind_int(2, *repository_id)
        .bind_int(3, created_at)
        .bind_int(4, upload.updated_at != 0 ? upload.updated_at : created_at);
    auto done = insert->run();
    if (!done && done.error().code == Errc::conflict) {
      return upload_exists(upload.id);
    }
    return done;
  });
}

Result<std::optional<UploadRecord>> SqliteMetadataStore::get_upload(std::string_view id) {
  if (id.empty()) return invalid_argument("upload id is empty");
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(Sql::get_upload);
  if (!stmt) return stmt.error();
  stmt->bind_text(1, id);
  auto row = stmt->step();
  if (!row) return row.error();
  if (!*row) return std::optional<UploadRecord>();
  return std::optional<UploadRecord>(UploadRecord{
      .id = std::string(id),
      .registry = stmt->integer(0),
      .repository = std::string(stmt->text(1)),
      .created_at = stmt->integer(2),
      .updated_at = stmt->integer(3),
  });
}

Result<void> SqliteMetadataStore::touch_upload(std::string_view id, std::int64_t now) {
  if (id.empty()) return invalid_argument("upload id is empty");
  return write([&](SqliteConnection& connection) -> Result<void> {
    auto stmt = connection.statement(Sql::touch_upload);
    if (!stmt) return stmt.error();
    stmt->bind_text(1, id).bind_int(2, now);
    return stmt->run();
  });
}

Result<std::vector<UploadRecord>> SqliteMetadataStore::list_idle_uploads(std::int64_t idle_since,
                                                                         std::size_t limit) {
  if (limit == 0) return std::vector<UploadRecord>();
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(Sql::list_idle_uploads);
  if (!stmt) return stmt.error();
  stmt->bind_int(1, idle_since).bind_int(2, sql_limit(limit));
  std::vector<UploadRecord> uploads;
  for (;;) {
    auto row = stmt->step();
    if (!row) return row.error();
    if (!*row) break;
    uploads.push_back(UploadRecord{
        .id = std::string(stmt->text(0)),
        .registry = stmt->integer(1),
        .repository = std::string(stmt->text(2)),
        .created_at = stmt->integer(3),
        .updated_at = stmt->integer(4),
    });
  }
  return uploads;
}

Result<void> SqliteMetadataStore::delete_upload(std::string_view id) {
  if (id.empty()) return invalid_argument("upload id is empty");
  bool removed = false;
  return write([&](SqliteConnection& connection) {
    return delete_by_key(connection, Sql::delete_upload, id, removed);
  });
}

// --- manifests and tags ---

namespace {

// The re-check that makes a manifest and garbage collection safe together: inside the
// manifest's transaction, every blob it references must still be linked to the repository and
// not claimed by a collection.
Result<void> require_blob_links(SqliteConnection& connection, std::int64_t repository_id,
                                const std::vector<ManifestReference>& references) {
  auto check = connection.statement(GcSql::linked_live_blob);
  if (!check) return check.error();
  for (const ManifestReference& reference : references) {
    if (reference.kind != ReferenceKind::blob) continue;
    const std::string digest = reference.digest.str();
    check->bind_int(1, repository_id).bind_text(2, digest);
    auto row = check->step();
    if (!row) return row.error();
    check->reset();
    if (!*row) {
      return blob_not_linked(digest);
    }
  }
  return {};
}

}  // namespace

Result<void> SqliteMetadataStore::put_manifest(RepositoryRef repository,
                                               const ManifestRecord& manifest,
                                               const std::vector<ManifestReference>& references,
                                               const std::optional<std::string>& tag,
                                               std::span<const EventRecord> events) {
  if (auto bad = check_repository(repository)) return *bad;
  if (tag && tag->empty()) return invalid_argument("tag is empty");
  return write([&](SqliteConnection& connection) -> Result<void> {
    if (auto appended = insert_events(connection, events); !appended) return appended;
    const std::int64_t now = unix_now();
    auto repository_id = ensure_repository(connection, repository, now);
    if (!repository_id) return repository_id.error();

    std::int64_t manifest_id = 0;
    bool inserted = false;
    {
      auto insert = connection.statement(Sql::insert_manifest);
      if (!insert) return insert.error();
      insert->bind_int(1, *repository_id)
          .bind_text(2, manifest.digest.str())
          .bind_text(3, manifest.media_type)
          .bind_text(4, manifest.artifact_type)
          .bind_text(6, manifest.annotations_json)
          .bind_int(7, static_cast<std::int64_t>(manifest.content.size()))
          .bind_int(8, manifest.created_at != 0 ? manifest.created_at : now)
          .bind_blob(9, manifest.content);
      if (manifest.subject) {
        insert->bind_text(5, manifest.subject->str());
      } else {
        insert->bind_null(5);
      }
      if (auto done = insert->run(); !done) return done.error();
      inserted = sqlite3_changes(connection.db()) > 0;
      if (inserted) manifest_id = sqlite3_last_insert_rowid(connection.db());
    }

    if (inserted) {
      // Same digest means same content, so an existing manifest already has these references
      // (and they keep its blobs' links from being collected).
      if (auto linked = require_blob_links(connection, *repository_id, references); !linked) {
        return linked;
      }
      auto insert = connection.statement(Sql::insert_reference);
      if (!insert) return insert.error();
      for (const ManifestReference& reference : references) {
        insert->bind_int(1, manifest_id)
            .bind_text(2, reference.digest.str())
            .bind_text(3, reference_kind_name(reference.kind));
        if (auto done = insert->run(); !done) return done.error();
        insert->reset();
      }
      if (!manifest.architecture.empty() || !manifest.os.empty()) {
        auto platform = connection.statement(Sql::insert_manifest_platform);
        if (!platform) return platform.error();
        platform->bind_int(1, manifest_id)
            .bind_text(2, manifest.architecture)
            .bind_text(3, manifest.os);
        if (auto done = platform->run(); !done) return done.error();
      }
    } else {
      auto find = connection.statement(Sql::find_manifest_id);
      if (!find) return find.error();
      find->bind_int(1, *repository_id).bind_text(2, manifest.digest.str());
      auto row = find->step();
      if (!row) return row.error();
      if (!*row) {
        return MetadataError{Errc::database_error, "metadata database: manifest " +
                                                       manifest.digest.str() +
                                                       " vanished inside its own transaction"};
      }
      manifest_id = find->integer(0);
    }

    if (!tag) return {};
    auto upsert = connection.statement(Sql::upsert_tag);
    if (!upsert) return upsert.error();
    upsert->bind_int(1, *repository_id)
        .bind_text(2, *tag)
        .bind_int(3, manifest_id)
        .bind_int(4, now);
    return upsert->run();
  });
}

Result<std::optional<ManifestRecord>> SqliteMetadataStore::get_manifest(RepositoryRef repository,
                                                                        const oci::Digest& digest) {
  if (auto bad = check_repository(repository)) return *bad;
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(Sql::get_manifest);
  if (!stmt) return stmt.error();
  stmt->bind_repository(repository).bind_text(3, digest.str());
  auto row = stmt->step();
  if (!row) return row.error();
  if (!*row) return std::optional<ManifestRecord>();
  std::optional<oci::Digest> subject;
  if (!stmt->is_null(2)) {
    auto parsed = stored_digest(stmt->text(2));
    if (!parsed) return parsed.error();
    subject = std::move(*parsed);
  }
  return std::optional<ManifestRecord>(ManifestRecord{
      .digest = digest,
      .media_type = std::string(stmt->text(0)),
      .artifact_type = std::string(stmt->text(1)),
      .subject = std::move(subject),
      .annotations_json = std::string(stmt->text(3)),
      .content = std::string(stmt->blob(5)),
      .created_at = stmt->integer(4),
      .attributes = attributes_of(*stmt, 6),
      .updated_at = stmt->integer(10),
      .architecture = std::string(stmt->text(11)),
      .os = std::string(stmt->text(12)),
  });
}

Result<bool> SqliteMetadataStore::manifest_exists(RepositoryRef repository,
                                                  const oci::Digest& digest) {
  if (auto bad = check_repository(repository)) return *bad;
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(Sql::manifest_exists);
  if (!stmt) return stmt.error();
  stmt->bind_repository(repository).bind_text(3, digest.str());
  return stmt->step();
}

Result<std::optional<std::uint64_t>> SqliteMetadataStore::manifest_size(
    RepositoryRef repository, const oci::Digest& digest) {
  if (auto bad = check_repository(repository)) return *bad;
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  return size_of(reader->connection(), Sql::manifest_size, repository, digest);
}

Result<std::optional<oci::Digest>> SqliteMetadataStore::resolve_tag(RepositoryRef repository,
                                                                    std::string_view tag) {
  if (auto bad = check_repository(repository)) return *bad;
  if (tag.empty()) return invalid_argument("tag is empty");
  return digest_of_tag(Sql::resolve_tag, repository, tag);
}

Result<bool> SqliteMetadataStore::delete_manifest(RepositoryRef repository,
                                                  const oci::Digest& digest,
                                                  std::span<const EventRecord> events) {
  if (auto bad = check_repository(repository)) return *bad;
  // The foreign-key cascades remove the manifest's tags and references in the same statement;
  // only the manifest row itself counts as removed.
  bool removed = false;
  auto written = write([&](SqliteConnection& connection) -> Result<void> {
    const std::string text = digest.str();
    auto kept = keep_deleted(connection, repository, text, std::nullopt, unix_now());
    if (!kept) return kept;
    auto deleted = delete_in_repository(connection, Sql::delete_manifest, repository, text,
                                        removed);
    if (!deleted || !removed) return deleted;
    return insert_events(connection, events);
  });
  if (!written) return written.error();
  return removed;
}

Result<bool> SqliteMetadataStore::delete_tag(RepositoryRef repository, std::string_view tag,
                                             std::span<const EventRecord> events) {
  if (auto bad = check_repository(repository)) return *bad;
  if (tag.empty()) return invalid_argument("tag is empty");
  bool removed = false;
  auto written = write([&](SqliteConnection& connection) -> Result<void> {
    auto kept = keep_deleted(connection, repository, std::nullopt, tag, unix_now());
    if (!kept) return kept;
    auto deleted = delete_in_repository(connection, Sql::delete_tag, repository, tag, removed);
    if (!deleted || !removed) return deleted;
    return insert_events(connection, events);
  });
  if (!written) return written.error();
  return removed;
}

Result<std::vector<std::string>> SqliteMetadataStore::list_tags(RepositoryRef repository,
                                                                std::string_view last,
                                                                std::size_t limit) {
  if (auto bad = check_repository(repository)) return *bad;
  if (limit == 0) return std::vector<std::string>();
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(Sql::list_tags);
  if (!stmt) return stmt.error();
  stmt->bind_repository(repository).bind_text(3, last).bind_int(4, sql_limit(limit));
  return collect_names(*stmt, limit);
}

Result<std::vector<Referrer>> SqliteMetadataStore::list_referrers(
    RepositoryRef repository, const oci::Digest& subject,
    const std::optional<std::string>& artifact_type) {
  if (auto bad = check_repository(repository)) return *bad;
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(Sql::list_referrers);
  if (!stmt) return stmt.error();
  stmt->bind_repository(repository).bind_text(3, subject.str());
  if (artifact_type) {
    stmt->bind_text(4, *artifact_type);
  } else {
    stmt->bind_null(4);
  }
  std::vector<Referrer> referrers;
  for (;;) {
    auto row = stmt->step();
    if (!row) return row.error();
    if (!*row) return referrers;
    auto digest = stored_digest(stmt->text(0));
    if (!digest) return digest.error();
    referrers.push_back(Referrer{
        .digest = std::move(*digest),
        .media_type = std::string(stmt->text(1)),
        .artifact_type = std::string(stmt->text(2)),
        .size = static_cast<std::uint64_t>(stmt->integer(3)),
        .annotations_json = std::string(stmt->text(4)),
    });
  }
}

}  // namespace berth::metadata
