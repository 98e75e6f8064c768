#pragma once
// Internal to the SQLite backend: what its parts (sqlite_*.cc: the content metadata, the
// schema, the access, event, GC and lifecycle parts) share besides the connection
// (sqlite_connection.h), the statement ids (sqlite_statements.h) and the writer
// (sqlite_writer.h), which it includes, with the backend-neutral rules (store_rules.h,
// stored_values.h, listing_pages.h). Include it from nowhere else (but the backend's own tests).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "metadata/listing_pages.h"
#include "metadata/sqlite_connection.h"
#include "metadata/sqlite_metadata_store.h"
#include "metadata/sqlite_statements.h"
#include "metadata/sqlite_writer.h"
#include "metadata/store_rules.h"
#include "metadata/stored_values.h"

namespace berth::metadata {

// The four changeable attributes from `first` on (write, delete, read, list).
inline ChangeableAttributes attributes_of(const Statement& stmt, int first) {
  return ChangeableAttributes{
      .write_enabled = stmt.integer(first) != 0,
      .delete_enabled = stmt.integer(first + 1) != 0,
      .read_enabled = stmt.integer(first + 2) != 0,
      .list_enabled = stmt.integer(first + 3) != 0,
  };
}

// The rows of a tag listing (name, digest, created_at, updated_at, then the four attributes),
// until the statement is done.
Result<std::vector<TagRecord>> collect_tag_records(Statement& stmt, std::size_t capacity);

// Brings the schema of the database open on `connection` (the writer) to the newest version
// (sqlite_schema.cc).
Result<void> migrate(SqliteConnection& connection);
// Brings it to `version` only (a database newer than that stays as it is): how the tests build
// the databases older berths left. invalid_argument for a version this build does not know.
Result<void> migrate(SqliteConnection& connection, int version);

// Runs a DELETE keyed by one parameter; `removed` tells whether a row went.
template <class Id, class Key>
Result<void> delete_by_key(SqliteConnection& connection, Id id, const Key& key, bool& removed) {
  auto stmt = connection.statement(id);
  if (!stmt) return stmt.error();
  if constexpr (std::is_integral_v<Key>) {
    stmt->bind_int(1, key);
  } else {
    stmt->bind_text(1, key);
  }
  if (auto done = stmt->run(); !done) return done.error();
  removed = sqlite3_changes(connection.db()) > 0;
  return {};
}

// The id of `repository`, creating it if needed. Must run inside a write transaction.
// not_found when its registry does not exist.
Result<std::int64_t> ensure_repository(SqliteConnection& connection, RepositoryRef repository,
                                       std::int64_t now);

// Inside a delete's transaction, before it (sqlite_lifecycle.cc): when the registry keeps
// deleted content, keeps the manifest `digest` (none: every manifest of the repository) with its
// references and tags, or only the tag `tag` when given.
Result<void> keep_deleted(SqliteConnection& connection, RepositoryRef repository,
                          std::optional<std::string_view> digest,
                          std::optional<std::string_view> tag, std::int64_t now);

// Refuses (quota_exceeded) a link of `digest` of `size` bytes to the repository with id
// `repository_id` that would take it or its registry beyond `limits` (sqlite_lifecycle.cc).
Result<void> check_link_within(SqliteConnection& connection, std::int64_t repository_id,
                               const std::string& digest, std::int64_t size,
                               const StorageLimits& limits);

// Appends `events` on `connection` inside the caller's transaction (sqlite_event_store.cc): how
// a content change writes its events atomically with itself.
Result<void> insert_events(SqliteConnection& connection, std::span<const EventRecord> events);

template <class Id>
Result<std::uint64_t> SqliteMetadataStore::registry_number(Id id, RegistryId registry) {
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(id);
  if (!stmt) return stmt.error();
  stmt->bind_int(1, registry);
  auto row = stmt->step();
  if (!row) return row.error();
  return *row ? static_cast<std::uint64_t>(stmt->integer(0)) : 0;
}

template <class Id>
Result<std::optional<oci::Digest>> SqliteMetadataStore::digest_of_tag(Id id,
                                                                      RepositoryRef repository,
                                                                      std::string_view tag) {
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(id);
  if (!stmt) return stmt.error();
  stmt->bind_repository(repository).bind_text(3, tag);
  auto row = stmt->step();
  if (!row) return row.error();
  if (!*row) return std::optional<oci::Digest>();
  auto digest = stored_digest(stmt->text(0));
  if (!digest) return digest.error();
  return std::optional<oci::Digest>(std::move(*digest));
}

}  // namespace berth::metadata
