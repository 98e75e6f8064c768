// PostgresMetadataStore: opening the store, and the content metadata (registries,
// repositories, blobs, uploads, manifests and tags). The schema is drawn in
// postgres_schema.cc; how writes stay correct next to concurrent writers is in
// postgres_connection.h.

#include "metadata/postgres/postgres_metadata_store.h"

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "metadata/postgres/postgres_connection.h"
#include "metadata/postgres/postgres_internal.h"
#include "metadata/postgres/postgres_schema.h"

namespace berth::metadata {
namespace postgres {
namespace {

#define BERTH_PG_REGISTRY_COLUMNS                                                    \
  "id, name, tier, region, created_at, admin_user_enabled, anonymous_pull_enabled, " \
  "public_network_access, default_network_action, data_endpoint_enabled"

// One row per repository: name, created_at, updated_at, storage_bytes, manifest_count,
// tag_count, the attributes. updated_at is the latest manifest push or tag change, else the
// repository's creation (GREATEST ignores NULLs). storage_bytes is the counter the link
// triggers keep.
#define BERTH_PG_REPOSITORY_SUMMARY                                                 \
  "SELECT r.name, r.created_at, COALESCE(GREATEST("                                 \
  "(SELECT max(created_at) FROM manifests WHERE repository_id = r.id), "            \
  "(SELECT max(updated_at) FROM tags WHERE repository_id = r.id)), r.created_at), " \
  "r.linked_bytes, (SELECT count(*) FROM manifests WHERE repository_id = r.id), "   \
  "(SELECT count(*) FROM tags WHERE repository_id = r.id), r.write_enabled, "       \
  "r.delete_enabled, r.read_enabled, r.list_enabled FROM repositories r "

constexpr Statement kInsertRegistry{
    "insert_registry",
    "INSERT INTO registries (name, tier, region, created_at, admin_user_enabled, "
    "anonymous_pull_enabled, public_network_access, default_network_action, "
    "data_endpoint_enabled) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
    "ON CONFLICT DO NOTHING RETURNING id"};
constexpr Statement kFindRegistry{
    "find_registry", "SELECT " BERTH_PG_REGISTRY_COLUMNS " FROM registries WHERE lower(name) = $1"};
constexpr Statement kListRegistries{
    "list_registries", "SELECT " BERTH_PG_REGISTRY_COLUMNS " FROM registries ORDER BY lower(name)"};
constexpr Statement kUpdateRegistry{
    "update_registry",
    "UPDATE registries SET tier = $2, region = $3, admin_user_enabled = $4, "
    "anonymous_pull_enabled = $5, public_network_access = $6, default_network_action = $7, "
    "data_endpoint_enabled = $8 WHERE id = $1"};
constexpr Statement kDeleteRegistry{"delete_registry", "DELETE FROM registries WHERE id = $1"};
// The counter the link triggers keep; recount_registry_bytes recounts it.
constexpr Statement kRegistryStorageBytes{"registry_storage_bytes",
                                          "SELECT linked_bytes FROM registries WHERE id = $1"};
constexpr Statement kListRepositorySummaries{"list_repository_summaries",
                                             BERTH_PG_REPOSITORY_SUMMARY
                                             "WHERE r.registry_id = $1 ORDER BY r.name"};
constexpr Statement kRepositorySummary{
    "repository_summary", BERTH_PG_REPOSITORY_SUMMARY "WHERE r.registry_id = $1 AND r.name = $2"};
constexpr Statement kDeleteRepository{
    "delete_repository", "DELETE FROM repositories WHERE registry_id = $1 AND name = $2"};
constexpr Statement kListTagRecords{
    "list_tag_records",
    "SELECT t.name, m.digest, t.created_at, t.updated_at, t.write_enabled, t.delete_enabled, "
    "t.read_enabled, t.list_enabled FROM tags t JOIN manifests m ON m.id = t.manifest_id "
    "WHERE t.repository_id = " BERTH_PG_REPOSITORY_ID " ORDER BY t.name"};
// One row per (manifest, tag), untagged manifests once with a NULL tag; rows of a manifest are
// adjacent and its tags come in order.
constexpr Statement kListManifestSummaries{
    "list_manifest_summaries",
    "SELECT m.digest, m.media_type, m.artifact_type, m.size, m.created_at, t.name, "
    "m.updated_at, m.write_enabled, m.delete_enabled, m.read_enabled, m.list_enabled "
    "FROM manifests m LEFT JOIN tags t ON t.manifest_id = m.id "
    "WHERE m.repository_id = " BERTH_PG_REPOSITORY_ID
    " ORDER BY m.created_at DESC, m.digest, t.name"};
constexpr Statement kFindRepository{
    "find_repository", "SELECT id FROM repositories WHERE registry_id = $1 AND name = $2"};
// Nothing when the registry does not exist. A repository another transaction created after
// this one's snapshot is a serialization failure (the write is retried and then finds it).
constexpr Statement kInsertRepository{
    "insert_repository",
    "INSERT INTO repositories (registry_id, name, created_at) "
    "SELECT $1::bigint, $2::text, $3::bigint WHERE EXISTS (SELECT 1 FROM registries "
    "WHERE id = $1) ON CONFLICT (registry_id, name) DO NOTHING RETURNING id"};
constexpr Statement kListRepositories{
    "list_repositories",
    "SELECT name FROM repositories WHERE registry_id = $1 AND name > $2 AND list_enabled "
    "ORDER BY name LIMIT $3"};
// A new row, or a known one renewed against garbage collection; no row when a collection
// has claimed it. The size returned is the one recorded.
constexpr Statement kInsertBlob{
    "insert_blob",
    "INSERT INTO blobs (digest, size, created_at, touched_at) VALUES ($1, $2, $3, $3) "
    "ON CONFLICT (digest) DO UPDATE SET touched_at = excluded.touched_at "
    "WHERE NOT blobs.deleting RETURNING size"};
constexpr Statement kLinkBlob{
    "link_blob",
    "INSERT INTO repository_blobs (repository_id, digest, created_at) VALUES ($1, $2, $3) "
    "ON CONFLICT (repository_id, digest) DO UPDATE SET created_at = excluded.created_at"};
constexpr Statement kLinkedBlobSize{
    "linked_blob_size",
    "SELECT b.size FROM repository_blobs rb JOIN blobs b ON b.digest = rb.digest "
    "WHERE rb.repository_id = " BERTH_PG_REPOSITORY_ID " AND rb.digest = $3"};
constexpr Statement kUnlinkBlob{
    "unlink_blob", "DELETE FROM repository_blobs WHERE repository_id = " BERTH_PG_REPOSITORY_ID
                   " AND digest = $3"};
constexpr Statement kInsertUpload{
    "insert_upload",
    "INSERT INTO uploads (id, repository_id, created_at, updated_at) VALUES ($1, $2, $3, $4) "
    "ON CONFLICT (id) DO NOTHING RETURNING 1"};
constexpr Statement kCountUploadsInRegistry{
    "count_uploads_in_registry",
    "SELECT count(*) FROM uploads u JOIN repositories r ON r.id = u.repository_id "
    "WHERE r.registry_id = $1"};
constexpr Statement kGetUpload{
    "get_upload",
    "SELECT r.registry_id, r.name, u.created_at, u.updated_at FROM uploads u "
    "JOIN repositories r ON r.id = u.repository_id WHERE u.id = $1"};
constexpr Statement kTouchUpload{"touch_upload",
                                 "UPDATE uploads SET updated_at = $2 WHERE id = $1"};
constexpr Statement kListIdleUploads{
    "list_idle_uploads",
    "SELECT u.id, r.registry_id, r.name, u.created_at, u.updated_at FROM uploads u "
    "JOIN repositories r ON r.id = u.repository_id WHERE u.updated_at < $1 "
    "ORDER BY u.updated_at LIMIT $2"};
constexpr Statement kDeleteUpload{"delete_upload", "DELETE FROM uploads WHERE id = $1"};
constexpr Statement kInsertManifest{
    "insert_manifest",
    "INSERT INTO manifests (repository_id, digest, media_type, artifact_type, subject_digest, "
    "annotations, size, created_at, content, untagged_at) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $8) "
    "ON CONFLICT (repository_id, digest) DO NOTHING RETURNING id"};
constexpr Statement kFindManifestId{
    "find_manifest_id", "SELECT id FROM manifests WHERE repository_id = $1 AND digest = $2"};
// The re-check that makes a manifest and garbage collection safe together: the first of the
// blobs in $2 that the repository $1 does not link (any more), or whose row a collection has
// claimed.
constexpr Statement kFirstMissingLink{
    "first_missing_link",
    "SELECT d FROM unnest($2::text[]) AS d WHERE NOT EXISTS (SELECT 1 FROM repository_blobs rb "
    "JOIN blobs b ON b.digest = rb.digest WHERE rb.repository_id = $1 AND rb.digest = d "
    "AND NOT b.deleting) LIMIT 1"};
constexpr Statement kInsertReferences{
    "insert_references",
    "INSERT INTO manifest_references (manifest_id, child_digest, kind) "
    "SELECT $1::bigint, d, k FROM unnest($2::text[], $3::text[]) AS x (d, k) "
    "ON CONFLICT DO NOTHING"};
constexpr Statement kInsertManifestPlatform{
    "insert_manifest_platform",
    "INSERT INTO manifest_platforms (manifest_id, architecture, os) VALUES ($1, $2, $3) "
    "ON CONFLICT (manifest_id) DO NOTHING"};
constexpr Statement kUpsertTag{
    "upsert_tag",
    "INSERT INTO tags (repository_id, name, manifest_id, created_at, updated_at) "
    "VALUES ($1, $2, $3, $4, $4) "
    "ON CONFLICT (repository_id, name) DO UPDATE SET manifest_id = excluded.manifest_id, "
    "updated_at = excluded.updated_at WHERE tags.manifest_id IS DISTINCT FROM "
    "excluded.manifest_id"};
constexpr Statement kGetManifest{
    "get_manifest",
    "SELECT media_type, artifact_type, subject_digest, annotations, created_at, "
    "content, " BERTH_PG_ATTRIBUTE_COLUMNS
    ", updated_at, "
    "(SELECT architecture FROM manifest_platforms WHERE manifest_id = manifests.id), "
    "(SELECT os FROM manifest_platforms WHERE manifest_id = manifests.id) "
    "FROM manifests WHERE repository_id = " BERTH_PG_REPOSITORY_ID " AND digest = $3"};
constexpr Statement kManifestExists{
    "manifest_exists",
    "SELECT 1 FROM manifests WHERE repository_id = " BERTH_PG_REPOSITORY_ID " AND digest = $3"};
constexpr Statement kManifestSize{
    "manifest_size",
    "SELECT size FROM manifests WHERE repository_id = " BERTH_PG_REPOSITORY_ID " AND digest = $3"};
constexpr Statement kResolveTag{
    "resolve_tag",
    "SELECT m.digest FROM tags t JOIN manifests m ON m.id = t.manifest_id "
    "WHERE t.repository_id = " BERTH_PG_REPOSITORY_ID " AND t.name = $3"};
// The cascades take the manifest's tags, references and platform.
constexpr Statement kDeleteManifest{
    "delete_manifest",
    "DELETE FROM manifests WHERE repository_id = " BERTH_PG_REPOSITORY_ID " AND digest = $3"};
constexpr Statement kDeleteTag{"delete_tag",
                               "DELETE FROM tags WHERE repository_id = " BERTH_PG_REPOSITORY_ID
                               " AND name = $3"};
constexpr Statement kListTags{"list_tags",
                              "SELECT name FROM tags WHERE repository_id = " BERTH_PG_REPOSITORY_ID
                              " AND name > $3 AND list_enabled ORDER BY name LIMIT $4"};
constexpr Statement kListReferrers{
    "list_referrers",
    "SELECT digest, media_type, artifact_type, size, annotations FROM manifests "
    "WHERE repository_id = " BERTH_PG_REPOSITORY_ID
    " AND subject_digest = $3 "
    "AND ($4::text IS NULL OR artifact_type = $4::text) ORDER BY digest"};

#undef BERTH_PG_REGISTRY_COLUMNS
#undef BERTH_PG_REPOSITORY_SUMMARY

// A row of BERTH_PG_REGISTRY_COLUMNS.
RegistryRecord registry_of(const pqxx::row& row) {
  return RegistryRecord{
      .id = row[0].as<std::int64_t>(),
      .name = text_of(row[1]),
      .tier = text_of(row[2]),
      .region = text_of(row[3]),
      .created_at = row[4].as<std::int64_t>(),
      .admin_user_enabled = row[5].as<bool>(),
      .anonymous_pull_enabled = row[6].as<bool>(),
      .public_network_access = row[7].as<bool>(),
      .default_network_action = text_of(row[8]),
      .data_endpoint_enabled = row[9].as<bool>(),
  };
}

// A row of BERTH_PG_REPOSITORY_SUMMARY.
RepositorySummary summary_of(const pqxx::row& row) {
  return RepositorySummary{
      .name = text_of(row[0]),
      .created_at = row[1].as<std::int64_t>(),
      .updated_at = row[2].as<std::int64_t>(),
      .storage_bytes = row[3].as<std::uint64_t>(),
      .manifest_count = row[4].as<std::uint64_t>(),
      .tag_count = row[5].as<std::uint64_t>(),
      .attributes = attributes_of(row, 6),
  };
}

std::vector<std::string> names_of(const pqxx::result& rows) {
  std::vector<std::string> names;
  names.reserve(rows.size());
  for (const pqxx::row& row : rows) names.push_back(text_of(row[0]));
  return names;
}

// The first column of the only row as a size; none without a row.
std::optional<std::uint64_t> size_in(const pqxx::result& rows) {
  if (rows.empty()) return std::nullopt;
  return rows[0][0].as<std::uint64_t>();
}

}  // namespace

std::string text_of(const pqxx::field& field) { return std::string(field.c_str(), field.size()); }

Result<oci::Digest> stored_digest(const pqxx::field& field) {
  return metadata::stored_digest(std::string_view(field.c_str(), field.size()));
}

ChangeableAttributes attributes_of(const pqxx::row& row, int first) {
  return ChangeableAttributes{
      .write_enabled = row[first].as<bool>(),
      .delete_enabled = row[first + 1].as<bool>(),
      .read_enabled = row[first + 2].as<bool>(),
      .list_enabled = row[first + 3].as<bool>(),
  };
}

std::optional<std::int64_t> optional_int(const pqxx::field& field) {
  if (field.is_null()) return std::nullopt;
  return field.as<std::int64_t>();
}

Result<std::vector<TagRecord>> tag_records_of(const pqxx::result& rows) {
  std::vector<TagRecord> tags;
  tags.reserve(rows.size());
  for (const pqxx::row& row : rows) {
    auto digest = stored_digest(row[1]);
    if (!digest) return digest.error();
    tags.push_back(TagRecord{
        .name = text_of(row[0]),
        .digest = std::move(*digest),
        .created_at = row[2].as<std::int64_t>(),
        .updated_at = row[3].as<std::int64_t>(),
        .attributes = attributes_of(row, 4),
    });
  }
  return tags;
}

Result<std::int64_t> ensure_repository(Transaction& transaction, RepositoryRef repository,
                                       std::int64_t now) {
  const std::string name(repository.name);
  pqxx::result found = transaction.exec(kFindRepository, repository.registry, name);
  if (!found.empty()) return found[0][0].as<std::int64_t>();
  pqxx::result inserted = transaction.exec(kInsertRepository, repository.registry, name, now);
  if (inserted.empty()) return registry_not_found(repository.registry);
  return inserted[0][0].as<std::int64_t>();
}

Result<std::optional<std::int64_t>> manifest_id(Transaction& transaction,
                                                std::int64_t repository_id,
                                                const std::string& digest) {
  pqxx::result found = transaction.exec(kFindManifestId, repository_id, digest);
  if (found.empty()) return std::optional<std::int64_t>();
  return std::optional<std::int64_t>(found[0][0].as<std::int64_t>());
}

void upsert_tag(Transaction& transaction, std::int64_t repository_id, std::string_view tag,
                std::int64_t manifest_id, std::int64_t now) {
  transaction.exec(kUpsertTag, repository_id, tag, manifest_id, now);
}

void insert_references(Transaction& transaction, std::int64_t manifest_id,
                       const std::vector<std::string>& digests,
                       const std::vector<std::string>& kinds) {
  if (digests.empty()) return;
  transaction.exec(kInsertReferences, manifest_id, text_array(digests), text_array(kinds));
}

}  // namespace postgres

using namespace postgres;

// --- opening ---

PostgresMetadataStore::PostgresMetadataStore(std::unique_ptr<postgres::Database> database)
    : database_(std::move(database)) {}

PostgresMetadataStore::~PostgresMetadataStore() = default;

int PostgresMetadataStore::schema_version() { return postgres::schema_version(); }

Result<std::unique_ptr<PostgresMetadataStore>> PostgresMetadataStore::open(
    const PostgresOptions& options) {
  auto database = Database::open(PoolOptions{
      .connection_string = options.connection_string,
      .max_connections = options.max_connections,
      .call_timeout = options.call_timeout,
      .idle_in_transaction_timeout = options.idle_in_transaction_timeout,
  });
  if (!database) return database.error();
  return std::unique_ptr<PostgresMetadataStore>(new PostgresMetadataStore(std::move(*database)));
}

std::size_t PostgresMetadataStore::open_connections() const {
  return database_->pool().open_connections();
}

// --- registries ---

Result<RegistryRecord> PostgresMetadataStore::create_registry(const RegistryRecord& registry) {
  if (registry.name.empty()) return invalid_argument("registry name is empty");
  if (auto bad = check_default_network_action(registry)) return *bad;
  RegistryRecord created = registry;
  auto written = database_->write([&](Transaction& transaction) -> Result<void> {
    created.created_at = registry.created_at != 0 ? registry.created_at : unix_now();
    pqxx::result rows =
        transaction.exec(kInsertRegistry, registry.name, registry.tier, registry.region,
                         created.created_at, registry.admin_user_enabled,
                         registry.anonymous_pull_enabled, registry.public_network_access,
                         registry.default_network_action, registry.data_endpoint_enabled);
    if (rows.empty()) return registry_exists(registry.name);
    created.id = rows[0][0].as<std::int64_t>();
    return {};
  });
  if (!written) return written.error();
  return created;
}

Result<std::optional<RegistryRecord>> PostgresMetadataStore::find_registry(std::string_view name) {
  if (name.empty()) return invalid_argument("registry name is empty");
  std::optional<RegistryRecord> found;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    pqxx::result rows = transaction.exec(kFindRegistry, fold_case(name));
    found.reset();
    if (!rows.empty()) found = registry_of(rows[0]);
    return {};
  });
  if (!read) return read.error();
  return found;
}

Result<std::vector<RegistryRecord>> PostgresMetadataStore::list_registries() {
  std::vector<RegistryRecord> registries;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    pqxx::result rows = transaction.exec(kListRegistries);
    registries.clear();
    for (const pqxx::row& row : rows) registries.push_back(registry_of(row));
    return {};
  });
  if (!read) return read.error();
  return registries;
}

Result<bool> PostgresMetadataStore::update_registry(const RegistryRecord& registry) {
  if (auto bad = check_default_network_action(registry)) return *bad;
  bool updated = false;
  auto written = database_->write([&](Transaction& transaction) -> Result<void> {
    pqxx::result rows = transaction.exec(
        kUpdateRegistry, registry.id, registry.tier, registry.region, registry.admin_user_enabled,
        registry.anonymous_pull_enabled, registry.public_network_access,
        registry.default_network_action, registry.data_endpoint_enabled);
    updated = rows.affected_rows() > 0;
    return {};
  });
  if (!written) return written.error();
  return updated;
}

Result<bool> PostgresMetadataStore::delete_registry(RegistryId registry) {
  // The cascades take its repositories and everything under them in the same statement.
  bool removed = false;
  auto written = database_->write([&](Transaction& transaction) -> Result<void> {
    removed = transaction.exec(kDeleteRegistry, registry).affected_rows() > 0;
    return {};
  });
  if (!written) return written.error();
  return removed;
}

Result<std::uint64_t> PostgresMetadataStore::registry_storage_bytes(RegistryId registry) {
  std::uint64_t bytes = 0;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    bytes = size_in(transaction.exec(kRegistryStorageBytes, registry)).value_or(0);
    return {};
  });
  if (!read) return read.error();
  return bytes;
}

// --- repository metadata ---

Result<std::vector<RepositorySummary>> PostgresMetadataStore::list_repository_summaries(
    RegistryId registry) {
  std::vector<RepositorySummary> summaries;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    pqxx::result rows = transaction.exec(kListRepositorySummaries, registry);
    summaries.clear();
    for (const pqxx::row& row : rows) summaries.push_back(summary_of(row));
    return {};
  });
  if (!read) return read.error();
  return summaries;
}

Result<std::optional<RepositorySummary>> PostgresMetadataStore::repository_summary(
    RepositoryRef repository) {
  if (auto bad = check_repository(repository)) return *bad;
  std::optional<RepositorySummary> summary;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    pqxx::result rows = transaction.exec(kRepositorySummary, repository.registry, repository.name);
    summary.reset();
    if (!rows.empty()) summary = summary_of(rows[0]);
    return {};
  });
  if (!read) return read.error();
  return summary;
}

Result<bool> PostgresMetadataStore::delete_repository(RepositoryRef repository,
                                                      std::span<const EventRecord> events) {
  if (auto bad = check_repository(repository)) return *bad;
  // The cascades take its manifests (with their references and tags), links and uploads.
  bool removed = false;
  auto written = database_->write([&](Transaction& transaction) -> Result<void> {
    keep_deleted(transaction, repository, std::nullopt, std::nullopt, unix_now());
    removed =
        transaction.exec(kDeleteRepository, repository.registry, repository.name).affected_rows() >
        0;
    if (!removed) return {};
    return insert_events(transaction, events);
  });
  if (!written) return written.error();
  return removed;
}

Result<std::vector<TagRecord>> PostgresMetadataStore::list_tag_records(RepositoryRef repository) {
  if (auto bad = check_repository(repository)) return *bad;
  std::vector<TagRecord> tags;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    auto records =
        tag_records_of(transaction.exec(kListTagRecords, repository.registry, repository.name));
    if (!records) return records.error();
    tags = std::move(*records);
    return {};
  });
  if (!read) return read.error();
  return tags;
}

Result<std::vector<ManifestSummary>> PostgresMetadataStore::list_manifest_summaries(
    RepositoryRef repository) {
  if (auto bad = check_repository(repository)) return *bad;
  std::vector<ManifestSummary> manifests;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    pqxx::result rows =
        transaction.exec(kListManifestSummaries, repository.registry, repository.name);
    manifests.clear();
    for (const pqxx::row& row : rows) {
      // Digests are unique within a repository, so a manifest's rows are the adjacent ones with
      // its digest.
      if (manifests.empty() || manifests.back().digest.str() != row[0].c_str()) {
        auto digest = stored_digest(row[0]);
        if (!digest) return digest.error();
        manifests.push_back(ManifestSummary{
            .digest = std::move(*digest),
            .media_type = text_of(row[1]),
            .artifact_type = text_of(row[2]),
            .size = row[3].as<std::uint64_t>(),
            .created_at = row[4].as<std::int64_t>(),
            .updated_at = row[6].as<std::int64_t>(),
            .attributes = attributes_of(row, 7),
        });
      }
      if (!row[5].is_null()) manifests.back().tags.push_back(text_of(row[5]));
    }
    return {};
  });
  if (!read) return read.error();
  return manifests;
}

// --- repositories ---

Result<bool> PostgresMetadataStore::repository_exists(RepositoryRef repository) {
  if (auto bad = check_repository(repository)) return *bad;
  bool exists = false;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    exists = !transaction.exec(kFindRepository, repository.registry, repository.name).empty();
    return {};
  });
  if (!read) return read.error();
  return exists;
}

Result<std::vector<std::string>> PostgresMetadataStore::list_repositories(RegistryId registry,
                                                                          std::string_view last,
                                                                          std::size_t limit) {
  if (limit == 0) return std::vector<std::string>();
  std::vector<std::string> names;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    names = names_of(transaction.exec(kListRepositories, registry, last, sql_limit(limit)));
    return {};
  });
  if (!read) return read.error();
  return names;
}

// --- blobs ---

Result<void> PostgresMetadataStore::link_blob(RepositoryRef repository, const oci::Digest& digest,
                                              std::uint64_t size) {
  return link_blob_within(repository, digest, size, StorageLimits{});
}

Result<void> PostgresMetadataStore::link_blob_within(RepositoryRef repository,
                                                     const oci::Digest& digest, std::uint64_t size,
                                                     const StorageLimits& limits) {
  if (auto bad = check_repository(repository)) return *bad;
  if (auto bad = check_blob_size(size)) return *bad;
  const auto signed_size = static_cast<std::int64_t>(size);
  const std::string text = digest.str();
  return database_->write([&](Transaction& transaction) -> Result<void> {
    const std::int64_t now = unix_now();
    auto repository_id = ensure_repository(transaction, repository, now);
    if (!repository_id) return repository_id.error();
    pqxx::result blob = transaction.exec(kInsertBlob, text, signed_size, now);
    if (blob.empty()) return blob_being_deleted(text);
    // Known already: the same digest must mean the same bytes, hence the same size.
    if (const auto recorded = blob[0][0].as<std::int64_t>(); recorded != signed_size) {
      return blob_size_mismatch(text, recorded, size);
    }
    if (limits.registry_bytes || limits.repository_bytes) {
      auto within = check_link_within(transaction, *repository_id, text, signed_size, limits);
      if (!within) return within;
    }
    transaction.exec(kLinkBlob, *repository_id, text, now);
    return {};
  });
}

Result<std::optional<std::uint64_t>> PostgresMetadataStore::linked_blob_size(
    RepositoryRef repository, const oci::Digest& digest) {
  if (auto bad = check_repository(repository)) return *bad;
  std::optional<std::uint64_t> size;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    size = size_in(
        transaction.exec(kLinkedBlobSize, repository.registry, repository.name, digest.str()));
    return {};
  });
  if (!read) return read.error();
  return size;
}

Result<bool> PostgresMetadataStore::unlink_blob(RepositoryRef repository,
                                                const oci::Digest& digest) {
  if (auto bad = check_repository(repository)) return *bad;
  bool removed = false;
  auto written = database_->write([&](Transaction& transaction) -> Result<void> {
    removed = transaction.exec(kUnlinkBlob, repository.registry, repository.name, digest.str())
                  .affected_rows() > 0;
    return {};
  });
  if (!written) return written.error();
  return removed;
}

// --- upload sessions ---

Result<void> PostgresMetadataStore::create_upload(const UploadRecord& upload) {
  return create_upload_within_limit(upload, std::numeric_limits<std::uint64_t>::max());
}

Result<void> PostgresMetadataStore::create_upload_within_limit(const UploadRecord& upload,
                                                               std::uint64_t max_open_in_registry) {
  if (upload.id.empty()) return invalid_argument("upload id is empty");
  const RepositoryRef repository{upload.registry, upload.repository};
  if (auto bad = check_repository(repository)) return *bad;
  return database_->write([&](Transaction& transaction) -> Result<void> {
    const std::int64_t now = unix_now();
    if (max_open_in_registry != std::numeric_limits<std::uint64_t>::max()) {
      // SERIALIZABLE: two concurrent starts that both counted below the limit cannot both
      // commit.
      const auto open =
          transaction.exec(kCountUploadsInRegistry, upload.registry)[0][0].as<std::uint64_t>();
      if (open >= max_open_in_registry) {
        return upload_limit_reached(static_cast<std::int64_t>(open));
      }
    }
    auto repository_id = ensure_repository(transaction, repository, now);
    if (!repository_id) return repository_id.error();
    const std::int64_t created_at = upload.created_at != 0 ? upload.created_at : now;
    pqxx::result inserted =
        transaction.exec(kInsertUpload, upload.id, *repository_id, created_at,
                         upload.updated_at != 0 ? upload.updated_at : created_at);
    if (inserted.empty()) return upload_exists(upload.id);
    return {};
  });
}

Result<std::optional<UploadRecord>> PostgresMetadataStore::get_upload(std::string_view id) {
  if (id.empty()) return invalid_argument("upload id is empty");
  std::optional<UploadRecord> upload;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    pqxx::result rows = transaction.exec(kGetUpload, id);
    upload.reset();
    if (rows.empty()) return {};
    upload = UploadRecord{
        .id = std::string(id),
        .registry = rows[0][0].as<std::int64_t>(),
        .repository = text_of(rows[0][1]),
        .created_at = rows[0][2].as<std::int64_t>(),
        .updated_at = rows[0][3].as<std::int64_t>(),
    };
    return {};
  });
  if (!read) return read.error();
  return upload;
}

Result<void> PostgresMetadataStore::touch_upload(std::string_view id, std::int64_t now) {
  if (id.empty()) return invalid_argument("upload id is empty");
  return database_->write([&](Transaction& transaction) -> Result<void> {
    transaction.exec(kTouchUpload, id, now);
    return {};
  });
}

Result<std::vector<UploadRecord>> PostgresMetadataStore::list_idle_uploads(std::int64_t idle_since,
                                                                           std::size_t limit) {
  if (limit == 0) return std::vector<UploadRecord>();
  std::vector<UploadRecord> uploads;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    pqxx::result rows = transaction.exec(kListIdleUploads, idle_since, sql_limit(limit));
    uploads.clear();
    for (const pqxx::row& row : rows) {
      uploads.push_back(UploadRecord{
          .id = text_of(row[0]),
          .registry = row[1].as<std::int64_t>(),
          .repository = text_of(row[2]),
          .created_at = row[3].as<std::int64_t>(),
          .updated_at = row[4].as<std::int64_t>(),
      });
    }
    return {};
  });
  if (!read) return read.error();
  return uploads;
}

Result<void> PostgresMetadataStore::delete_upload(std::string_view id) {
  if (id.empty()) return invalid_argument("upload id is empty");
  return database_->write([&](Transaction& transaction) -> Result<void> {
    transaction.exec(kDeleteUpload, id);
    return {};
  });
}

// --- manifests and tags ---

Result<void> PostgresMetadataStore::put_manifest(RepositoryRef repository,
                                                 const ManifestRecord& manifest,
                                                 const std::vector<ManifestReference>& references,
                                                 const std::optional<std::string>& tag,
                                                 std::span<const EventRecord> events) {
  if (auto bad = check_repository(repository)) return *bad;
  if (tag && tag->empty()) return invalid_argument("tag is empty");
  const std::string digest = manifest.digest.str();
  std::vector<std::string> reference_digests;
  std::vector<std::string> reference_kinds;
  std::vector<std::string> blob_digests;
  for (const ManifestReference& reference : references) {
    reference_digests.push_back(reference.digest.str());
    reference_kinds.emplace_back(reference_kind_name(reference.kind));
    if (reference.kind == ReferenceKind::blob) blob_digests.push_back(reference.digest.str());
  }
  const std::optional<std::string> subject =
      manifest.subject ? std::optional<std::string>(manifest.subject->str()) : std::nullopt;
  const pqxx::binarystring content = bytes(manifest.content);
  return database_->write([&](Transaction& transaction) -> Result<void> {
    const std::int64_t now = unix_now();
    auto repository_id = ensure_repository(transaction, repository, now);
    if (!repository_id) return repository_id.error();

    pqxx::result inserted = transaction.exec(
        kInsertManifest, *repository_id, digest, manifest.media_type, manifest.artifact_type,
        subject, manifest.annotations_json, static_cast<std::int64_t>(manifest.content.size()),
        manifest.created_at != 0 ? manifest.created_at : now, content);
    std::int64_t id = 0;
    if (!inserted.empty()) {
      id = inserted[0][0].as<std::int64_t>();
      // Same digest means same content, so an existing manifest already has these references
      // (and they keep its blobs' links from being collected).
      if (!blob_digests.empty()) {
        pqxx::result missing =
            transaction.exec(kFirstMissingLink, *repository_id, text_array(blob_digests));
        if (!missing.empty()) return blob_not_linked(text_of(missing[0][0]));
      }
      insert_references(transaction, id, reference_digests, reference_kinds);
      if (!manifest.architecture.empty() || !manifest.os.empty()) {
        transaction.exec(kInsertManifestPlatform, id, manifest.architecture, manifest.os);
      }
    } else {
      auto found = manifest_id(transaction, *repository_id, digest);
      if (!found) return found.error();
      if (!*found) {
        return MetadataError{Errc::database_error, "metadata database: manifest " + digest +
                                                       " vanished inside its own transaction"};
      }
      id = **found;
    }
    if (tag) upsert_tag(transaction, *repository_id, *tag, id, now);
    return insert_events(transaction, events);
  });
}

Result<std::optional<ManifestRecord>> PostgresMetadataStore::get_manifest(
    RepositoryRef repository, const oci::Digest& digest) {
  if (auto bad = check_repository(repository)) return *bad;
  std::optional<ManifestRecord> manifest;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    pqxx::result rows =
        transaction.exec(kGetManifest, repository.registry, repository.name, digest.str());
    manifest.reset();
    if (rows.empty()) return {};
    const pqxx::row& row = rows[0];
    std::optional<oci::Digest> subject;
    if (!row[2].is_null()) {
      auto parsed = stored_digest(row[2]);
      if (!parsed) return parsed.error();
      subject = std::move(*parsed);
    }
    manifest = ManifestRecord{
        .digest = digest,
        .media_type = text_of(row[0]),
        .artifact_type = text_of(row[1]),
        .subject = std::move(subject),
        .annotations_json = text_of(row[3]),
        .content = bytes_of(row[5]),
        .created_at = row[4].as<std::int64_t>(),
        .attributes = attributes_of(row, 6),
        .updated_at = row[10].as<std::int64_t>(),
        .architecture = row[11].is_null() ? std::string() : text_of(row[11]),
        .os = row[12].is_null() ? std::string() : text_of(row[12]),
    };
    return {};
  });
  if (!read) return read.error();
  return manifest;
}

Result<bool> PostgresMetadataStore::manifest_exists(RepositoryRef repository,
                                                    const oci::Digest& digest) {
  if (auto bad = check_repository(repository)) return *bad;
  bool exists = false;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    exists = !transaction.exec(kManifestExists, repository.registry, repository.name, digest.str())
                  .empty();
    return {};
  });
  if (!read) return read.error();
  return exists;
}

Result<std::optional<std::uint64_t>> PostgresMetadataStore::manifest_size(
    RepositoryRef repository, const oci::Digest& digest) {
  if (auto bad = check_repository(repository)) return *bad;
  std::optional<std::uint64_t> size;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    size = size_in(
        transaction.exec(kManifestSize, repository.registry, repository.name, digest.str()));
    return {};
  });
  if (!read) return read.error();
  return size;
}

Result<std::optional<oci::Digest>> PostgresMetadataStore::resolve_tag(RepositoryRef repository,
                                                                      std::string_view tag) {
  if (auto bad = check_repository(repository)) return *bad;
  if (tag.empty()) return invalid_argument("tag is empty");
  std::optional<oci::Digest> digest;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    pqxx::result rows = transaction.exec(kResolveTag, repository.registry, repository.name, tag);
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

Result<bool> PostgresMetadataStore::delete_manifest(RepositoryRef repository,
                                                    const oci::Digest& digest,
                                                    std::span<const EventRecord> events) {
  if (auto bad = check_repository(repository)) return *bad;
  const std::string text = digest.str();
  bool removed = false;
  auto written = database_->write([&](Transaction& transaction) -> Result<void> {
    keep_deleted(transaction, repository, text, std::nullopt, unix_now());
    removed = transaction.exec(kDeleteManifest, repository.registry, repository.name, text)
                  .affected_rows() > 0;
    if (!removed) return {};
    return insert_events(transaction, events);
  });
  if (!written) return written.error();
  return removed;
}

Result<bool> PostgresMetadataStore::delete_tag(RepositoryRef repository, std::string_view tag,
                                               std::span<const EventRecord> events) {
  if (auto bad = check_repository(repository)) return *bad;
  if (tag.empty()) return invalid_argument("tag is empty");
  bool removed = false;
  auto written = database_->write([&](Transaction& transaction) -> Result<void> {
    keep_deleted(transaction, repository, std::nullopt, tag, unix_now());
    removed =
        transaction.exec(kDeleteTag, repository.registry, repository.name, tag).affected_rows() > 0;
    if (!removed) return {};
    return insert_events(transaction, events);
  });
  if (!written) return written.error();
  return removed;
}

Result<std::vector<std::string>> PostgresMetadataStore::list_tags(RepositoryRef repository,
                                                                  std::string_view last,
                                                                  std::size_t limit) {
  if (auto bad = check_repository(repository)) return *bad;
  if (limit == 0) return std::vector<std::string>();
  std::vector<std::string> names;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    names = names_of(
        transaction.exec(kListTags, repository.registry, repository.name, last, sql_limit(limit)));
    return {};
  });
  if (!read) return read.error();
  return names;
}

Result<std::vector<Referrer>> PostgresMetadataStore::list_referrers(
    RepositoryRef repository, const oci::Digest& subject,
    const std::optional<std::string>& artifact_type) {
  if (auto bad = check_repository(repository)) return *bad;
  std::vector<Referrer> referrers;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    pqxx::result rows = transaction.exec(kListReferrers, repository.registry, repository.name,
                                         subject.str(), artifact_type);
    referrers.clear();
    for (const pqxx::row& row : rows) {
      auto digest = stored_digest(row[0]);
      if (!digest) return digest.error();
      referrers.push_back(Referrer{
          .digest = std::move(*digest),
          .media_type = text_of(row[1]),
          .artifact_type = text_of(row[2]),
          .size = row[3].as<std::uint64_t>(),
          .annotations_json = text_of(row[4]),
      });
    }
    return {};
  });
  if (!read) return read.error();
  return referrers;
}

std::vector<Statement> postgres::planned_content_statements() {
  return {kFindRegistry,    kFindRepository, kListRepositories, kLinkedBlobSize, kGetUpload,
          kListIdleUploads, kGetManifest,    kResolveTag,       kListTags,       kListReferrers};
}

}  // namespace berth::metadata
