// PostgresMetadataStore: the changeable attributes (locks) of repositories, manifests and tags
// (write_enabled, delete_enabled, read_enabled, list_enabled on each; manifests.updated_at).

#include <optional>
#include <string>

#include "metadata/postgres/postgres_internal.h"
#include "metadata/postgres/postgres_metadata_store.h"

namespace berth::metadata {

using namespace postgres;

namespace {

constexpr Statement kRepositoryAttributes{
    "repository_attributes",
    "SELECT " BERTH_PG_ATTRIBUTE_COLUMNS " FROM repositories WHERE registry_id = $1 AND name = $2"};
constexpr Statement kFindTag{
    "find_tag",
    "SELECT m.digest, t.created_at, t.updated_at, t.write_enabled, t.delete_enabled, "
    "t.read_enabled, t.list_enabled FROM tags t JOIN manifests m ON m.id = t.manifest_id "
    "WHERE t.repository_id = " BERTH_PG_REPOSITORY_ID " AND t.name = $3"};
constexpr Statement kManifestAttributes{
    "manifest_attributes",
    "SELECT " BERTH_PG_ATTRIBUTE_COLUMNS
    " FROM manifests WHERE repository_id = " BERTH_PG_REPOSITORY_ID " AND digest = $3"};
// NULL for an attribute leaves it as it is.
constexpr Statement kUpdateRepositoryAttributes{
    "update_repository_attributes",
    "UPDATE repositories SET write_enabled = COALESCE($3, write_enabled), "
    "delete_enabled = COALESCE($4, delete_enabled), read_enabled = COALESCE($5, read_enabled), "
    "list_enabled = COALESCE($6, list_enabled) WHERE registry_id = $1 AND name = $2 "
    "RETURNING " BERTH_PG_ATTRIBUTE_COLUMNS};
constexpr Statement kUpdateTagAttributes{
    "update_tag_attributes",
    "UPDATE tags SET write_enabled = COALESCE($4, write_enabled), "
    "delete_enabled = COALESCE($5, delete_enabled), read_enabled = COALESCE($6, read_enabled), "
    "list_enabled = COALESCE($7, list_enabled), updated_at = $8 "
    "WHERE repository_id = " BERTH_PG_REPOSITORY_ID
    " AND name = $3 "
    "RETURNING " BERTH_PG_ATTRIBUTE_COLUMNS};
constexpr Statement kUpdateManifestAttributes{
    "update_manifest_attributes",
    "UPDATE manifests SET write_enabled = COALESCE($4, write_enabled), "
    "delete_enabled = COALESCE($5, delete_enabled), read_enabled = COALESCE($6, read_enabled), "
    "list_enabled = COALESCE($7, list_enabled), updated_at = $8 "
    "WHERE repository_id = " BERTH_PG_REPOSITORY_ID
    " AND digest = $3 "
    "RETURNING " BERTH_PG_ATTRIBUTE_COLUMNS};
// Rows (rank, kind, name): the manifest before its tags, tags by name.
constexpr Statement kFindManifestDeleteLock{
    "find_manifest_delete_lock",
    "SELECT 0, 'manifest', digest FROM manifests WHERE repository_id = " BERTH_PG_REPOSITORY_ID
    " AND digest = $3 AND NOT delete_enabled "
    "UNION ALL SELECT 1, 'tag', t.name FROM tags t JOIN manifests m ON m.id = t.manifest_id "
    "WHERE m.repository_id = " BERTH_PG_REPOSITORY_ID
    " AND m.digest = $3 "
    "AND NOT t.delete_enabled ORDER BY 1, 3 LIMIT 1"};
// The repository, then its manifests by digest, then its tags by name.
constexpr Statement kFindRepositoryDeleteLock{
    "find_repository_delete_lock",
    "SELECT 0, 'repository', name FROM repositories WHERE registry_id = $1 AND name = $2 "
    "AND NOT delete_enabled "
    "UNION ALL SELECT 1, 'manifest', digest FROM manifests WHERE repository_id "
    "= " BERTH_PG_REPOSITORY_ID
    " AND NOT delete_enabled "
    "UNION ALL SELECT 2, 'tag', name FROM tags WHERE repository_id = " BERTH_PG_REPOSITORY_ID
    " AND NOT delete_enabled ORDER BY 1, 3 LIMIT 1"};

std::optional<ChangeableAttributes> attributes_in(const pqxx::result& rows) {
  if (rows.empty()) return std::nullopt;
  return attributes_of(rows[0], 0);
}

}  // namespace

Result<std::optional<ChangeableAttributes>> PostgresMetadataStore::repository_attributes(
    RepositoryRef repository) {
  if (auto bad = check_repository(repository)) return *bad;
  std::optional<ChangeableAttributes> attributes;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    attributes = attributes_in(
        transaction.exec(kRepositoryAttributes, repository.registry, repository.name));
    return {};
  });
  if (!read) return read.error();
  return attributes;
}

Result<std::optional<TagRecord>> PostgresMetadataStore::find_tag(RepositoryRef repository,
                                                                 std::string_view tag) {
  if (auto bad = check_repository(repository)) return *bad;
  if (tag.empty()) return invalid_argument("tag is empty");
  std::optional<TagRecord> found;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    pqxx::result rows = transaction.exec(kFindTag, repository.registry, repository.name, tag);
    found.reset();
    if (rows.empty()) return {};
    auto digest = stored_digest(rows[0][0]);
    if (!digest) return digest.error();
    found = TagRecord{
        .name = std::string(tag),
        .digest = std::move(*digest),
        .created_at = rows[0][1].as<std::int64_t>(),
        .updated_at = rows[0][2].as<std::int64_t>(),
        .attributes = attributes_of(rows[0], 3),
    };
    return {};
  });
  if (!read) return read.error();
  return found;
}

Result<std::optional<ChangeableAttributes>> PostgresMetadataStore::manifest_attributes(
    RepositoryRef repository, const oci::Digest& digest) {
  if (auto bad = check_repository(repository)) return *bad;
  std::optional<ChangeableAttributes> attributes;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    attributes = attributes_in(
        transaction.exec(kManifestAttributes, repository.registry, repository.name, digest.str()));
    return {};
  });
  if (!read) return read.error();
  return attributes;
}

Result<std::optional<ChangeableAttributes>> PostgresMetadataStore::update_repository_attributes(
    RepositoryRef repository, const AttributeChanges& changes) {
  if (auto bad = check_repository(repository)) return *bad;
  std::optional<ChangeableAttributes> updated;
  auto written = database_->write([&](Transaction& transaction) -> Result<void> {
    updated = attributes_in(transaction.exec(
        kUpdateRepositoryAttributes, repository.registry, repository.name, changes.write_enabled,
        changes.delete_enabled, changes.read_enabled, changes.list_enabled));
    return {};
  });
  if (!written) return written.error();
  return updated;
}

Result<std::optional<ChangeableAttributes>> PostgresMetadataStore::update_tag_attributes(
    RepositoryRef repository, std::string_view tag, const AttributeChanges& changes,
    std::int64_t now) {
  if (auto bad = check_repository(repository)) return *bad;
  if (tag.empty()) return invalid_argument("tag is empty");
  std::optional<ChangeableAttributes> updated;
  auto written = database_->write([&](Transaction& transaction) -> Result<void> {
    updated = attributes_in(transaction.exec(
        kUpdateTagAttributes, repository.registry, repository.name, tag, changes.write_enabled,
        changes.delete_enabled, changes.read_enabled, changes.list_enabled, now));
    return {};
  });
  if (!written) return written.error();
  return updated;
}

Result<std::optional<ChangeableAttributes>> PostgresMetadataStore::update_manifest_attributes(
    RepositoryRef repository, const oci::Digest& digest, const AttributeChanges& changes,
    std::int64_t now) {
  if (auto bad = check_repository(repository)) return *bad;
  const std::string text = digest.str();
  std::optional<ChangeableAttributes> updated;
  auto written = database_->write([&](Transaction& transaction) -> Result<void> {
    updated = attributes_in(transaction.exec(kUpdateManifestAttributes, repository.registry,
                                             repository.name, text, changes.write_enabled,
                                             changes.delete_enabled, changes.read_enabled,
                                             changes.list_enabled, now));
    return {};
  });
  if (!written) return written.error();
  return updated;
}

Result<std::optional<DeleteLock>> PostgresMetadataStore::find_delete_lock(
    RepositoryRef repository, const std::optional<oci::Digest>& digest) {
  if (auto bad = check_repository(repository)) return *bad;
  std::optional<DeleteLock> lock;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    pqxx::result rows =
        digest ? transaction.exec(kFindManifestDeleteLock, repository.registry, repository.name,
                                  digest->str())
               : transaction.exec(kFindRepositoryDeleteLock, repository.registry, repository.name);
    lock.reset();
    if (rows.empty()) return {};
    const std::string_view kind(rows[0][1].c_str());
    lock = DeleteLock{
        .kind = kind == "repository" ? DeleteLock::Kind::repository
                : kind == "manifest" ? DeleteLock::Kind::manifest
                                     : DeleteLock::Kind::tag,
        .name = text_of(rows[0][2]),
    };
    return {};
  });
  if (!read) return read.error();
  return lock;
}

}  // namespace berth::metadata
