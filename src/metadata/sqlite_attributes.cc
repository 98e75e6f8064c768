// SqliteMetadataStore: the changeable attributes (locks) of repositories, manifests and tags.
// The columns are schema version 6's (write_enabled, delete_enabled, read_enabled, list_enabled
// on repositories, manifests and tags; manifests.updated_at); the statements' text is in
// sqlite_metadata_store.cc with the others.

#include <optional>
#include <string>

#include "metadata/sqlite_internal.h"

namespace berth::metadata {
namespace {

// Binds the four optional changes from `first` on: NULL leaves the attribute as it is.
void bind_changes(Statement& stmt, int first, const AttributeChanges& changes) {
  const std::optional<bool>* values[] = {&changes.write_enabled, &changes.delete_enabled,
                                         &changes.read_enabled, &changes.list_enabled};
  for (int i = 0; i < 4; ++i) {
    if (*values[i]) {
      stmt.bind_int(first + i, **values[i] ? 1 : 0);
    } else {
      stmt.bind_null(first + i);
    }
  }
}

// Runs an attribute read whose row is the four attributes; nullopt without a row.
Result<std::optional<ChangeableAttributes>> read_attributes(Statement& stmt) {
  auto row = stmt.step();
  if (!row) return row.error();
  if (!*row) return std::optional<ChangeableAttributes>();
  return std::optional<ChangeableAttributes>(attributes_of(stmt, 0));
}

}  // namespace

Result<std::optional<ChangeableAttributes>> SqliteMetadataStore::repository_attributes(
    RepositoryRef repository) {
  if (auto bad = check_repository(repository)) return *bad;
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(Sql::repository_attributes);
  if (!stmt) return stmt.error();
  stmt->bind_repository(repository);
  return read_attributes(*stmt);
}

Result<std::optional<TagRecord>> SqliteMetadataStore::find_tag(RepositoryRef repository,
                                                               std::string_view tag) {
  if (auto bad = check_repository(repository)) return *bad;
  if (tag.empty()) return invalid_argument("tag is empty");
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(Sql::find_tag);
  if (!stmt) return stmt.error();
  stmt->bind_repository(repository).bind_text(3, tag);
  auto row = stmt->step();
  if (!row) return row.error();
  if (!*row) return std::optional<TagRecord>();
  auto digest = oci::Digest::parse(stmt->text(0));
  if (!digest) {
    return MetadataError{Errc::database_error, "metadata database: stored digest is malformed: " +
                                                   std::string(stmt->text(0))};
  }
  return std::optional<TagRecord>(TagRecord{
      .name = std::string(tag),
      .digest = std::move(*digest),
      .created_at = stmt->integer(1),
      .updated_at = stmt->integer(2),
      .attributes = attributes_of(*stmt, 3),
  });
}

Result<std::optional<ChangeableAttributes>> SqliteMetadataStore::manifest_attributes(
    RepositoryRef repository, const oci::Digest& digest) {
  if (auto bad = check_repository(repository)) return *bad;
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(Sql::manifest_attributes);
  if (!stmt) return stmt.error();
  const std::string digest_text = digest.str();
  stmt->bind_repository(repository).bind_text(3, digest_text);
  return read_attributes(*stmt);
}

Result<std::optional<ChangeableAttributes>> SqliteMetadataStore::update_repository_attributes(
    RepositoryRef repository, const AttributeChanges& changes) {
  if (auto bad = check_repository(repository)) return *bad;
  std::optional<ChangeableAttributes> updated;
  auto written = write([&](SqliteConnection& connection) -> Result<void> {
    auto stmt = connection.statement(Sql::update_repository_attributes);
    if (!stmt) return stmt.error();
    stmt->bind_repository(repository);
    bind_changes(*stmt, 3, changes);
    auto read = read_attributes(*stmt);
    if (!read) return read.error();
    updated = *read;
    return {};
  });
  if (!written) return written.error();
  return updated;
}

Result<std::optional<ChangeableAttributes>> SqliteMetadataStore::update_item_attributes(
    Sql statement, RepositoryRef repository, std::string_view key,
    const AttributeChanges& changes, std::int64_t now) {
  std::optional<ChangeableAttributes> updated;
  auto written = write([&](SqliteConnection& connection) -> Result<void> {
    auto stmt = connection.statement(statement);
    if (!stmt) return stmt.error();
    stmt->bind_repository(repository).bind_text(3, key).bind_int(8, now);
    bind_changes(*stmt, 4, changes);
    auto read = read_attributes(*stmt);
    if (!read) return read.error();
    updated = *read;
    return {};
  });
  if (!written) return written.error();
  return updated;
}

Result<std::optional<ChangeableAttributes>> SqliteMetadataStore::update_tag_attributes(
    RepositoryRef repository, std::string_view tag, const AttributeChanges& changes,
    std::int64_t now) {
  if (auto bad = check_repository(repository)) return *bad;
  if (tag.empty()) return invalid_argument("tag is empty");
  return update_item_attributes(Sql::update_tag_attributes, repository, tag, changes, now);
}

Result<std::optional<ChangeableAttributes>> SqliteMetadataStore::update_manifest_attributes(
    RepositoryRef repository, const oci::Digest& digest, const AttributeChanges& changes,
    std::int64_t now) {
  if (auto bad = check_repository(repository)) return *bad;
  const std::string digest_text = digest.str();
  return update_item_attributes(Sql::update_manifest_attributes, repository, digest_text,
                                changes, now);
}

Result<std::optional<DeleteLock>> SqliteMetadataStore::find_delete_lock(
    RepositoryRef repository, const std::optional<oci::Digest>& digest) {
  if (auto bad = check_repository(repository)) return *bad;
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(digest ? Sql::find_manifest_delete_lock
                                                    : Sql::find_repository_delete_lock);
  if (!stmt) return stmt.error();
  const std::string digest_text = digest ? digest->str() : std::string();
  stmt->bind_repository(repository);
  if (digest) stmt->bind_text(3, digest_text);
  auto row = stmt->step();
  if (!row) return row.error();
  if (!*row) return std::optional<DeleteLock>();
  std::string_view kind = stmt->text(1);
  DeleteLock lock;
  lock.kind = kind == "repository" ? DeleteLock::Kind::repository
              : kind == "manifest" ? DeleteLock::Kind::manifest
                                   : DeleteLock::Kind::tag;
  lock.name = std::string(stmt->text(2));
  return std::optional<DeleteLock>(std::move(lock));
}

}  // namespace berth::metadata
