// SqliteMetadataStore: the CoordinationStore part (coordination_store.h), on the same database,
// writer and reader pool as the content metadata.
//
// Tables (schema version 9, sqlite_schema.cc):
//
//   deployment_settings (name TEXT PK; value BLOB)   WITHOUT ROWID
//   leases (name TEXT PK; holder TEXT, expires_at_ms INTEGER)   WITHOUT ROWID
//
// Why this shape:
// - A setting's value is a BLOB, so every byte string round-trips exactly, as PostgreSQL's
//   bytea keeps it.
// - Taking a lease is one upsert whose WHERE clause is the whole rule (free, expired, or the
//   caller's already), run by the single writer: no other write, of this store or of another
//   process on the file (BEGIN IMMEDIATE), runs between the check and the change.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "metadata/sqlite_internal.h"
#include "metadata/sqlite_metadata_store.h"

namespace berth::metadata {
namespace {

constexpr StatementSpec<CoordinationSql> kCoordinationStatements[] = {
    {CoordinationSql::find_setting, "find deployment setting",
     "SELECT value FROM deployment_settings WHERE name = ?1"},
    {CoordinationSql::insert_setting_if_absent, "insert deployment setting",
     "INSERT INTO deployment_settings (name, value) VALUES (?1, ?2) "
     "ON CONFLICT (name) DO NOTHING"},
    {CoordinationSql::put_setting, "put deployment setting",
     "INSERT INTO deployment_settings (name, value) VALUES (?1, ?2) "
     "ON CONFLICT (name) DO UPDATE SET value = excluded.value"},
    {CoordinationSql::delete_setting, "delete deployment setting",
     "DELETE FROM deployment_settings WHERE name = ?1"},
    // ?3: the new expiry; ?4: now. A row comes back only when the lease was granted.
    {CoordinationSql::acquire_lease, "acquire lease",
     "INSERT INTO leases (name, holder, expires_at_ms) VALUES (?1, ?2, ?3) "
     "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, "
     "expires_at_ms = excluded.expires_at_ms "
     "WHERE leases.holder = excluded.holder OR leases.expires_at_ms <= ?4 RETURNING holder"},
    {CoordinationSql::release_lease, "release lease",
     "DELETE FROM leases WHERE name = ?1 AND holder = ?2"},
    {CoordinationSql::find_lease, "find lease",
     "SELECT name, holder, expires_at_ms FROM leases WHERE name = ?1"},
};

static_assert(statements_in_enum_order(kCoordinationStatements),
              "kCoordinationStatements is indexed by CoordinationSql");

// The value of setting `name` as `connection` sees it; nullopt when it is not set.
Result<std::optional<std::string>> read_setting(SqliteConnection& connection,
                                                std::string_view name) {
  auto stmt = connection.statement(CoordinationSql::find_setting);
  if (!stmt) return stmt.error();
  stmt->bind_text(1, name);
  auto row = stmt->step();
  if (!row) return row.error();
  if (!*row) return std::optional<std::string>();
  return std::optional<std::string>(std::string(stmt->blob(0)));
}

}  // namespace

const StatementSpec<CoordinationSql>& spec_of(CoordinationSql id) {
  return kCoordinationStatements[static_cast<std::size_t>(id)];
}

// --- deployment settings ---

Result<std::optional<std::string>> SqliteMetadataStore::deployment_setting(std::string_view name) {
  if (auto bad = check_coordination_name(name, "deployment setting name")) return *bad;
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  return read_setting(reader->connection(), name);
}

Result<std::string> SqliteMetadataStore::ensure_deployment_setting(std::string_view name,
                                                                   std::string_view value) {
  if (auto bad = check_deployment_setting(name, value)) return *bad;
  std::string stored;
  auto written = write([&](SqliteConnection& connection) -> Result<void> {
    auto insert = connection.statement(CoordinationSql::insert_setting_if_absent);
    if (!insert) return insert.error();
    insert->bind_text(1, name).bind_blob(2, value);
    if (auto done = insert->run(); !done) return done;
    // Read back in the same transaction: the value this call set, or the one it found.
    auto found = read_setting(connection, name);
    if (!found) return found.error();
    if (!*found) return setting_vanished(name);
    stored = std::move(**found);
    return {};
  });
  if (!written) return written.error();
  return stored;
}

Result<void> SqliteMetadataStore::put_deployment_setting(std::string_view name,
                                                         std::string_view value) {
  if (auto bad = check_deployment_setting(name, value)) return *bad;
  return write([&](SqliteConnection& connection) -> Result<void> {
    auto stmt = connection.statement(CoordinationSql::put_setting);
    if (!stmt) return stmt.error();
    stmt->bind_text(1, name).bind_blob(2, value);
    return stmt->run();
  });
}

Result<bool> SqliteMetadataStore::delete_deployment_setting(std::string_view name) {
  if (auto bad = check_coordination_name(name, "deployment setting name")) return *bad;
  bool removed = false;
  auto written = write([&](SqliteConnection& connection) {
    return delete_by_key(connection, CoordinationSql::delete_setting, name, removed);
  });
  if (!written) return written.error();
  return removed;
}

// --- leases ---

Result<bool> SqliteMetadataStore::acquire_lease(std::string_view name, std::string_view holder,
                                                std::int64_t now_ms, std::int64_t ttl_ms) {
  if (auto bad = check_lease_request(name, holder, now_ms, ttl_ms)) return *bad;
  bool granted = false;
  auto written = write([&](SqliteConnection& connection) -> Result<void> {
    auto stmt = connection.statement(CoordinationSql::acquire_lease);
    if (!stmt) return stmt.error();
    stmt->bind_text(1, name).bind_text(2, holder).bind_int(3, now_ms + ttl_ms).bind_int(4, now_ms);
    auto row = stmt->step();
    if (!row) return row.error();
    granted = *row;
    return {};
  });
  if (!written) return written.error();
  return granted;
}

Result<void> SqliteMetadataStore::release_lease(std::string_view name, std::string_view holder) {
  if (auto bad = check_coordination_name(name, "lease name")) return *bad;
  if (auto bad = check_coordination_name(holder, "lease holder")) return *bad;
  return write([&](SqliteConnection& connection) -> Result<void> {
    auto stmt = connection.statement(CoordinationSql::release_lease);
    if (!stmt) return stmt.error();
    stmt->bind_text(1, name).bind_text(2, holder);
    return stmt->run();
  });
}

Result<std::optional<LeaseRecord>> SqliteMetadataStore::find_lease(std::string_view name) {
  if (auto bad = check_coordination_name(name, "lease name")) return *bad;
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(CoordinationSql::find_lease);
  if (!stmt) return stmt.error();
  stmt->bind_text(1, name);
  auto row = stmt->step();
  if (!row) return row.error();
  if (!*row) return std::optional<LeaseRecord>();
  return std::optional<LeaseRecord>(LeaseRecord{
      .name = std::string(stmt->text(0)),
      .holder = std::string(stmt->text(1)),
      .expires_at_ms = stmt->integer(2),
  });
}

}  // namespace berth::metadata
