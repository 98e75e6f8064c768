// SqliteMetadataStore: the AccessStore part, on the same database, writer and reader pool as
// the content metadata (sqlite_metadata_store.cc; the schema migrations are in sqlite_schema.cc).
//
// Tables (schema version 4). Arrows are foreign keys; "x" marks ON DELETE CASCADE.
//
//   registries
//   ^x  admin_passwords (PK registry_id, name NOCASE; sealed_value, created_at)
//   ^x  scope_maps (id INTEGER PK; registry_id, name NOCASE, description, created_at;
//   |               UNIQUE registry_id, name)
//   |     ^x  scope_map_actions (PK scope_map_id, position; action; UNIQUE scope_map_id, action)
//   ^x  tokens (id INTEGER PK; registry_id, name NOCASE, scope_map NOCASE, enabled, created_at;
//   |           UNIQUE registry_id, name)   index (registry_id, scope_map): is a map in use
//   |     ^x  token_passwords (PK token_id, name NOCASE; secret_hash, expiry, created_at)
//   ^x  role_assignments.registry_id   (see identities)
//   ^x  network_rules (PK registry_id, address_range NOCASE; created_at)
//   identities (PK id; name UNIQUE NOCASE, kind, secret_hash, expiry, enabled, issuer,
//   |           audience, jwks, subject, claims_json, created_at)
//   |           index (issuer, name) WHERE kind = 'federated': the issuer's identities in order
//   ^x  role_assignments (PK id; identity_id, role, registry_id, repository, created_at;
//                         UNIQUE identity_id, role, registry_id, repository)
//                         indexes (registry_id, created_at, id), (identity_id, created_at, id)
//   signing_keys (id INTEGER PK; kid UNIQUE, sealed_private_key, created_at, active)
//                unique index (active) WHERE active = 1: at most one key signs
//   login_events (id INTEGER PK AUTOINCREMENT; time, registry_id, identity, identity_kind,
//                 client_address, success, method, reason)
//                indexes (registry_id, id), (identity, id), (time)
//
// Why this shape:
// - Everything a registry owns cascades from it, so deleting a registry stays one statement.
//   Login events do not: the audit of a deleted registry outlives it, so their registry_id is
//   a plain column.
// - Names people type (scope maps, tokens, identities, passwords, address ranges) are unique
//   ignoring ASCII case, like registry names: the columns collate NOCASE.
// - A token names its scope map rather than pointing at it, because it may name a system map
//   that is not stored; delete_scope_map checks for users in the same transaction instead.
// - scope_map_actions keeps the order of the actions (position) and refuses duplicates.
// - Login event ids are AUTOINCREMENT so that pruning never lets an id come back: a client
//   paging with before_id must not see a new event under an old id. Listings are keyset
//   scans of (registry_id, id) or (identity, id) backwards from before_id.

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "metadata/sqlite_internal.h"
#include "metadata/sqlite_metadata_store.h"

namespace berth::metadata {
namespace {

// A listing of login events returns at most this many, whatever the caller asks for.
constexpr std::size_t kMaxLoginEventsPerPage = 1000;
#define BERTH_SCOPE_MAP_ROWS                              \
  "SELECT m.name, m.description, m.created_at, a.action " \
  "FROM scope_maps m LEFT JOIN scope_map_actions a ON a.scope_map_id = m.id "

#define BERTH_TOKEN_ROWS                                                                   \
  "SELECT t.name, t.scope_map, t.enabled, t.created_at, p.name, p.secret_hash, p.expiry, " \
  "p.created_at FROM tokens t LEFT JOIN token_passwords p ON p.token_id = t.id "

#define BERTH_IDENTITY_COLUMNS                                                                   \
  "id, name, kind, secret_hash, expiry, enabled, issuer, audience, jwks, subject, claims_json, " \
  "created_at"

#define BERTH_ROLE_ASSIGNMENT_ROWS \
  "SELECT id, identity_id, role, registry_id, repository, created_at FROM role_assignments "

#define BERTH_LOGIN_EVENT_COLUMNS \
  "id, time, registry_id, identity, identity_kind, client_address, success, method, reason"

// The filters every login event listing applies after its index range: ?3 success, ?4 since,
// ?5 until (each NULL when absent), ?7 the page size.
#define BERTH_LOGIN_EVENT_FILTERS                                                               \
  " AND (?3 IS NULL OR success = ?3) AND (?4 IS NULL OR time >= ?4) AND (?5 IS NULL OR time < " \
  "?5) ORDER BY id DESC LIMIT ?7"

constexpr StatementSpec<AccessSql> kAccessStatements[] = {
    {AccessSql::upsert_admin_password, "store admin password",
     "INSERT INTO admin_passwords (registry_id, name, sealed_value, created_at) "
     "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (registry_id, name) DO UPDATE SET "
     "sealed_value = excluded.sealed_value, created_at = excluded.created_at"},
    {AccessSql::list_admin_passwords, "list admin passwords",
     "SELECT name, sealed_value, created_at FROM admin_passwords WHERE registry_id = ?1 "
     "ORDER BY name"},
    {AccessSql::registry_exists, "check registry", "SELECT 1 FROM registries WHERE id = ?1"},
    {AccessSql::count_scope_maps, "count scope maps",
     "SELECT count(*) FROM scope_maps WHERE registry_id = ?1"},
    {AccessSql::insert_scope_map, "insert scope map",
     "INSERT INTO scope_maps (registry_id, name, description, created_at) "
     "VALUES (?1, ?2, ?3, ?4)"},
    {AccessSql::insert_scope_map_action, "insert scope map action",
     "INSERT INTO scope_map_actions (scope_map_id, position, action) VALUES (?1, ?2, ?3)"},
    {AccessSql::find_scope_map, "find scope map",
     BERTH_SCOPE_MAP_ROWS "WHERE m.registry_id = ?1 AND m.name = ?2 ORDER BY a.position"},
    {AccessSql::list_scope_maps, "list scope maps",
     BERTH_SCOPE_MAP_ROWS "WHERE m.registry_id = ?1 ORDER BY m.name, a.position"},
    {AccessSql::find_scope_map_id, "find scope map id",
     "SELECT id FROM scope_maps WHERE registry_id = ?1 AND name = ?2"},
    {AccessSql::update_scope_map, "update scope map",
     "UPDATE scope_maps SET description = ?2 WHERE id = ?1"},
    {AccessSql::delete_scope_map_actions, "delete scope map actions",
     "DELETE FROM scope_map_actions WHERE scope_map_id = ?1"},
    {AccessSql::scope_map_in_use, "find tokens of scope map",
     "SELECT name FROM tokens WHERE registry_id = ?1 AND scope_map = ?2 ORDER BY name LIMIT 1"},
    {AccessSql::delete_scope_map, "delete scope map",
     "DELETE FROM scope_maps WHERE registry_id = ?1 AND name = ?2"},
    {AccessSql::count_tokens, "count tokens", "SELECT count(*) FROM tokens WHERE registry_id = ?1"},
    {AccessSql::insert_token, "insert token",
     "INSERT INTO tokens (registry_id, name, scope_map, enabled, created_at) "
     "VALUES (?1, ?2, ?3, ?4, ?5)"},
    {AccessSql::insert_token_password, "insert token password",
     "INSERT INTO token_passwords (token_id, name, secret_hash, expiry, created_at) "
     "VALUES (?1, ?2, ?3, ?4, ?5)"},
    {AccessSql::find_token, "find token",
     BERTH_TOKEN_ROWS "WHERE t.registry_id = ?1 AND t.name = ?2 ORDER BY p.name"},
    {AccessSql::list_tokens, "list tokens",
     BERTH_TOKEN_ROWS "WHERE t.registry_id = ?1 ORDER BY t.name, p.name"},
    {AccessSql::find_token_id, "find token id",
     "SELECT id FROM tokens WHERE registry_id = ?1 AND name = ?2"},
    {AccessSql::update_token, "update token",
     "UPDATE tokens SET scope_map = ?2, enabled = ?3 WHERE id = ?1"},
    {AccessSql::delete_token_passwords, "delete token passwords",
     "DELETE FROM token_passwords WHERE token_id = ?1"},
    {AccessSql::delete_token, "delete token",
     "DELETE FROM tokens WHERE registry_id = ?1 AND name = ?2"},
    {AccessSql::insert_identity, "insert identity",
     "INSERT INTO identities (" BERTH_IDENTITY_COLUMNS
     ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"},
    {AccessSql::find_identity, "find identity",
     "SELECT " BERTH_IDENTITY_COLUMNS " FROM identities WHERE id = ?1"},
    {AccessSql::federated_identities, "list federated identities",
     "SELECT " BERTH_IDENTITY_COLUMNS
     " FROM identities WHERE kind = 'federated' AND issuer = ?1 ORDER BY name"},
    {AccessSql::list_identities, "list identities",
     "SELECT " BERTH_IDENTITY_COLUMNS " FROM identities ORDER BY name"},
    {AccessSql::update_identity, "update identity",
     "UPDATE identities SET name = ?2, kind = ?3, secret_hash = ?4, expiry = ?5, enabled = ?6, "
     "issuer = ?7, audience = ?8, jwks = ?9, subject = ?10, claims_json = ?11 WHERE id = ?1"},
    {AccessSql::delete_identity, "delete identity", "DELETE FROM identities WHERE id = ?1"},
    {AccessSql::identity_exists, "check identity", "SELECT 1 FROM identities WHERE id = ?1"},
    {AccessSql::insert_role_assignment, "insert role assignment",
     "INSERT INTO role_assignments (id, identity_id, role, registry_id, repository, created_at) "
     "VALUES (?1, ?2, ?3, ?4, ?5, ?6)"},
    // Like the login event listings, one statement per index range: all assignments, one
    // registry's, one identity's. Each takes both filters, ?1 registry and ?2 identity.
    {AccessSql::list_role_assignments, "list role assignments",
     BERTH_ROLE_ASSIGNMENT_ROWS
     "WHERE (?1 IS NULL OR registry_id = ?1) AND (?2 IS NULL OR identity_id = ?2) "
     "ORDER BY created_at, id"},
    {AccessSql::list_role_assignments_in_registry, "list role assignments of registry",
     BERTH_ROLE_ASSIGNMENT_ROWS
     "WHERE registry_id = ?1 AND (?2 IS NULL OR identity_id = ?2) ORDER BY created_at, id"},
    {AccessSql::list_role_assignments_of_identity, "list role assignments of identity",
     BERTH_ROLE_ASSIGNMENT_ROWS
     "WHERE identity_id = ?2 AND (?1 IS NULL OR registry_id = ?1) ORDER BY created_at, id"},
    {AccessSql::delete_role_assignment, "delete role assignment",
     "DELETE FROM role_assignments WHERE id = ?1"},
    {AccessSql::count_network_rules, "count network rules",
     "SELECT count(*) FROM network_rules WHERE registry_id = ?1"},
    {AccessSql::insert_network_rule, "insert network rule",
     "INSERT INTO network_rules (registry_id, address_range, created_at) VALUES (?1, ?2, ?3)"},
    {AccessSql::list_network_rules, "list network rules",
     "SELECT address_range, created_at FROM network_rules WHERE registry_id = ?1 "
     "ORDER BY created_at, address_range"},
    {AccessSql::delete_network_rule, "delete network rule",
     "DELETE FROM network_rules WHERE registry_id = ?1 AND address_range = ?2"},
    {AccessSql::deactivate_signing_keys, "deactivate signing keys",
     "UPDATE signing_keys SET active = 0 WHERE active = 1"},
    {AccessSql::insert_signing_key, "insert signing key",
     "INSERT INTO signing_keys (kid, sealed_private_key, created_at, active) "
     "VALUES (?1, ?2, ?3, ?4)"},
    {AccessSql::list_signing_keys, "list signing keys",
     "SELECT kid, sealed_private_key, created_at, active FROM signing_keys "
     "ORDER BY created_at DESC, id DESC"},
    {AccessSql::delete_signing_key, "delete signing key",
     "DELETE FROM signing_keys WHERE kid = ?1"},
    {AccessSql::insert_login_event, "insert login event",
     "INSERT INTO login_events (time, registry_id, identity, identity_kind, client_address, "
     "success, method, reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"},
    // The three listings differ in the index range they scan: all events (the primary key),
    // one registry's, one identity's. ?6 is before_id (the largest id when absent).
    {AccessSql::list_login_events, "list login events",
     "SELECT " BERTH_LOGIN_EVENT_COLUMNS " FROM login_events WHERE id < ?6 "
     "AND (?1 IS NULL OR registry_id = ?1) AND (?2 IS NULL OR identity = "
     "?2)" BERTH_LOGIN_EVENT_FILTERS},
    {AccessSql::list_login_events_in_registry, "list login events of registry",
     "SELECT " BERTH_LOGIN_EVENT_COLUMNS " FROM login_events WHERE registry_id = ?1 AND id < ?6 "
     "AND (?2 IS NULL OR identity = ?2)" BERTH_LOGIN_EVENT_FILTERS},
    {AccessSql::list_login_events_of_identity, "list login events of identity",
     "SELECT " BERTH_LOGIN_EVENT_COLUMNS " FROM login_events WHERE identity = ?2 AND id < ?6 "
     "AND (?1 IS NULL OR registry_id = ?1)" BERTH_LOGIN_EVENT_FILTERS},
    {AccessSql::prune_login_events, "prune login events",
     "DELETE FROM login_events WHERE time < ?1"},
};

#undef BERTH_SCOPE_MAP_ROWS
#undef BERTH_TOKEN_ROWS
#undef BERTH_IDENTITY_COLUMNS
#undef BERTH_ROLE_ASSIGNMENT_ROWS
#undef BERTH_LOGIN_EVENT_COLUMNS
#undef BERTH_LOGIN_EVENT_FILTERS

static_assert(statements_in_enum_order(kAccessStatements),
              "kAccessStatements is indexed by AccessSql");

}  // namespace

const StatementSpec<AccessSql>& spec_of(AccessSql id) {
  return kAccessStatements[static_cast<std::size_t>(id)];
}

namespace {

// A created_at the caller gave, else the time of the write.
std::int64_t creation_time(std::int64_t given, std::int64_t now) {
  return given != 0 ? given : now;
}

// Turns the key violation of an insert into a conflict that names what was taken.
Result<void> taken_as_conflict(Result<void> done, std::string_view what, std::string_view name) {
  if (!done && done.error().code == Errc::conflict) {
    return MetadataError{Errc::conflict, named(what, name) + " already exists"};
  }
  return done;
}

void bind_optional_int(Statement& stmt, int index, std::optional<std::int64_t> value) {
  if (value) {
    stmt.bind_int(index, *value);
  } else {
    stmt.bind_null(index);
  }
}

std::optional<std::int64_t> optional_int(const Statement& stmt, int column) {
  if (stmt.is_null(column)) return std::nullopt;
  return stmt.integer(column);
}

// Whether the statement `id`, keyed by ?1, yields a row.
Result<bool> row_exists(SqliteConnection& connection, AccessSql id, std::int64_t key) {
  auto stmt = connection.statement(id);
  if (!stmt) return stmt.error();
  stmt->bind_int(1, key);
  return stmt->step();
}

Result<bool> row_exists(SqliteConnection& connection, AccessSql id, std::string_view key) {
  auto stmt = connection.statement(id);
  if (!stmt) return stmt.error();
  stmt->bind_text(1, key);
  return stmt->step();
}

// not_found unless the registry exists. Inside a write, so nothing deletes it before the write
// that needs it commits.
Result<void> require_registry(SqliteConnection& connection, RegistryId registry) {
  auto exists = row_exists(connection, AccessSql::registry_exists, registry);
  if (!exists) return exists.error();
  if (!*exists) return registry_not_found(registry);
  return {};
}

// limit_reached when the registry already holds `max` rows by the counting statement `count`.
// Runs in the same transaction as the insert it guards, so concurrent creates cannot overshoot.
Result<void> require_room(SqliteConnection& connection, AccessSql count, RegistryId registry,
                          std::uint64_t max, std::string_view what) {
  auto stmt = connection.statement(count);
  if (!stmt) return stmt.error();
  stmt->bind_int(1, registry);
  auto row = stmt->step();
  if (!row) return row.error();
  const auto held = *row ? static_cast<std::uint64_t>(stmt->integer(0)) : 0;
  if (held < max) return {};
  std::string message = "the registry has ";
  message += std::to_string(held);
  message += ' ';
  message += what;
  message += ", its limit";
  return MetadataError{Errc::limit_reached, std::move(message)};
}

// The integer id that `id` selects for (registry ?1, name ?2), if any.
Result<std::optional<std::int64_t>> id_by_name(SqliteConnection& connection, AccessSql id,
                                               RegistryId registry, std::string_view name) {
  auto stmt = connection.statement(id);
  if (!stmt) return stmt.error();
  stmt->bind_int(1, registry).bind_text(2, name);
  auto row = stmt->step();
  if (!row) return row.error();
  if (!*row) return std::optional<std::int64_t>();
  return std::optional<std::int64_t>(stmt->integer(0));
}

// Runs a DELETE keyed by registry ?1 and name ?2; `removed` tells whether a row went.
Result<void> delete_by_name(SqliteConnection& connection, AccessSql id, RegistryId registry,
                            std::string_view name, bool& removed) {
  auto stmt = connection.statement(id);
  if (!stmt) return stmt.error();
  stmt->bind_int(1, registry).bind_text(2, name);
  if (auto done = stmt->run(); !done) return done.error();
  removed = sqlite3_changes(connection.db()) > 0;
  return {};
}

// --- scope maps ---

// Stores the actions of the scope map `scope_map_id` in the order given; a repeated action
// keeps its first place.
Result<void> insert_actions(SqliteConnection& connection, std::int64_t scope_map_id,
                            const std::vector<std::string>& actions) {
  auto insert = connection.statement(AccessSql::insert_scope_map_action);
  if (!insert) return insert.error();
  std::set<std::string_view> seen;
  std::int64_t position = 0;
  for (const std::string& action : actions) {
    if (!seen.insert(action).second) continue;
    insert->bind_int(1, scope_map_id).bind_int(2, position++).bind_text(3, action);
    if (auto done = insert->run(); !done) return done.error();
    insert->reset();
  }
  return {};
}

// Scope maps from BERTH_SCOPE_MAP_ROWS: one row per action (a map without any has one row with
// a NULL action); the rows of one map are adjacent.
Result<std::vector<ScopeMapRecord>> collect_scope_maps(Statement& stmt, RegistryId registry) {
  std::vector<ScopeMapRecord> maps;
  for (;;) {
    auto row = stmt.step();
    if (!row) return row.error();
    if (!*row) return maps;
    if (maps.empty() || maps.back().name != stmt.text(0)) {
      maps.push_back(ScopeMapRecord{
          .registry = registry,
          .name = std::string(stmt.text(0)),
          .description = std::string(stmt.text(1)),
          .created_at = stmt.integer(2),
      });
    }
    if (!stmt.is_null(3)) maps.back().actions.emplace_back(stmt.text(3));
  }
}

// --- tokens ---

Result<void> insert_token_passwords(SqliteConnection& connection, std::int64_t token_id,
                                    const std::vector<TokenPasswordRecord>& passwords,
                                    std::int64_t now) {
  auto insert = connection.statement(AccessSql::insert_token_password);
  if (!insert) return insert.error();
  for (const TokenPasswordRecord& password : passwords) {
    insert->bind_int(1, token_id)
        .bind_text(2, password.name)
        .bind_text(3, password.secret_hash)
        .bind_int(5, creation_time(password.created_at, now));
    bind_optional_int(*insert, 4, password.expiry);
    if (auto done = insert->run(); !done) return done.error();
    insert->reset();
  }
  return {};
}

// Tokens from BERTH_TOKEN_ROWS: one row per password (a token without any has one row with
// NULL password columns); the rows of one token are adjacent.
Result<std::vector<TokenRecord>> collect_tokens(Statement& stmt, RegistryId registry) {
  std::vector<TokenRecord> tokens;
  for (;;) {
    auto row = stmt.step();
    if (!row) return row.error();
    if (!*row) return tokens;
    if (tokens.empty() || tokens.back().name != stmt.text(0)) {
      tokens.push_back(TokenRecord{
          .registry = registry,
          .name = std::string(stmt.text(0)),
          .scope_map = std::string(stmt.text(1)),
          .enabled = stmt.integer(2) != 0,
          .created_at = stmt.integer(3),
      });
    }
    if (stmt.is_null(4)) continue;
    tokens.back().passwords.push_back(TokenPasswordRecord{
        .name = std::string(stmt.text(4)),
        .secret_hash = std::string(stmt.text(5)),
        .expiry = optional_int(stmt, 6),
        .created_at = stmt.integer(7),
    });
  }
}

// --- identities ---

// Binds ?1 id to ?11 claims_json, in the order of BERTH_IDENTITY_COLUMNS.
void bind_identity(Statement& stmt, const IdentityRecord& record) {
  stmt.bind_text(1, record.id)
      .bind_text(2, record.name)
      .bind_text(3, identity_kind_name(record.kind))
      .bind_text(4, record.secret_hash)
      .bind_int(6, record.enabled ? 1 : 0)
      .bind_text(7, record.issuer)
      .bind_text(8, record.audience)
      .bind_text(9, record.jwks)
      .bind_text(10, record.subject)
      .bind_text(11, record.claims_json);
  bind_optional_int(stmt, 5, record.expiry);
}

// A row of BERTH_IDENTITY_COLUMNS.
Result<IdentityRecord> identity_of(const Statement& stmt) {
  auto kind = stored_identity_kind(stmt.text(2));
  if (!kind) return kind.error();
  return IdentityRecord{
      .id = std::string(stmt.text(0)),
      .name = std::string(stmt.text(1)),
      .kind = *kind,
      .secret_hash = std::string(stmt.text(3)),
      .expiry = optional_int(stmt, 4),
      .enabled = stmt.integer(5) != 0,
      .issuer = std::string(stmt.text(6)),
      .audience = std::string(stmt.text(7)),
      .jwks = std::string(stmt.text(8)),
      .subject = std::string(stmt.text(9)),
      .claims_json = std::string(stmt.text(10)),
      .created_at = stmt.integer(11),
  };
}

Result<std::vector<IdentityRecord>> collect_identities(Statement& stmt) {
  std::vector<IdentityRecord> identities;
  for (;;) {
    auto row = stmt.step();
    if (!row) return row.error();
    if (!*row) return identities;
    auto identity = identity_of(stmt);
    if (!identity) return identity.error();
    identities.push_back(std::move(*identity));
  }
}

// A row of BERTH_LOGIN_EVENT_COLUMNS.
LoginEventRecord login_event_of(const Statement& stmt) {
  return LoginEventRecord{
      .id = stmt.integer(0),
      .time = stmt.integer(1),
      .registry = optional_int(stmt, 2),
      .identity = std::string(stmt.text(3)),
      .identity_kind = std::string(stmt.text(4)),
      .client_address = std::string(stmt.text(5)),
      .success = stmt.integer(6) != 0,
      .method = std::string(stmt.text(7)),
      .reason = std::string(stmt.text(8)),
  };
}

}  // namespace

// --- the admin user's passwords ---

Result<void> SqliteMetadataStore::put_admin_password(RegistryId registry,
                                                     const AdminPasswordRecord& record) {
  if (auto bad = check_not_empty(record.name, "admin password name")) return *bad;
  if (auto bad = check_not_empty(record.sealed_value, "admin password")) return *bad;
  return write([&](SqliteConnection& connection) -> Result<void> {
    if (auto found = require_registry(connection, registry); !found) return found;
    auto upsert = connection.statement(AccessSql::upsert_admin_password);
    if (!upsert) return upsert.error();
    upsert->bind_int(1, registry)
        .bind_text(2, record.name)
        .bind_text(3, record.sealed_value)
        .bind_int(4, creation_time(record.created_at, unix_now()));
    return upsert->run();
  });
}

Result<std::vector<AdminPasswordRecord>> SqliteMetadataStore::admin_passwords(RegistryId registry) {
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(AccessSql::list_admin_passwords);
  if (!stmt) return stmt.error();
  stmt->bind_int(1, registry);
  std::vector<AdminPasswordRecord> passwords;
  for (;;) {
    auto row = stmt->step();
    if (!row) return row.error();
    if (!*row) return passwords;
    passwords.push_back(AdminPasswordRecord{
        .name = std::string(stmt->text(0)),
        .sealed_value = std::string(stmt->text(1)),
        .created_at = stmt->integer(2),
    });
  }
}

// --- scope maps ---

Result<void> SqliteMetadataStore::create_scope_map(const ScopeMapRecord& record,
                                                   std::uint64_t max_in_registry) {
  if (auto bad = check_scope_map(record)) return *bad;
  return write([&](SqliteConnection& connection) -> Result<void> {
    if (auto found = require_registry(connection, record.registry); !found) return found;
    if (auto room = require_room(connection, AccessSql::count_scope_maps, record.registry,
                                 max_in_registry, "scope maps");
        !room) {
      return room;
    }
    auto insert = connection.statement(AccessSql::insert_scope_map);
    if (!insert) return insert.error();
    insert->bind_int(1, record.registry)
        .bind_text(2, record.name)
        .bind_text(3, record.description)
        .bind_int(4, creation_time(record.created_at, unix_now()));
    if (auto done = taken_as_conflict(insert->run(), "scope map", record.name); !done) {
      return done;
    }
    return insert_actions(connection, sqlite3_last_insert_rowid(connection.db()), record.actions);
  });
}

Result<std::optional<ScopeMapRecord>> SqliteMetadataStore::find_scope_map(RegistryId registry,
                                                                          std::string_view name) {
  if (auto bad = check_not_empty(name, "scope map name")) return *bad;
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(AccessSql::find_scope_map);
  if (!stmt) return stmt.error();
  stmt->bind_int(1, registry).bind_text(2, name);
  auto maps = collect_scope_maps(*stmt, registry);
  if (!maps) return maps.error();
  if (maps->empty()) return std::optional<ScopeMapRecord>();
  return std::optional<ScopeMapRecord>(std::move(maps->front()));
}

Result<std::vector<ScopeMapRecord>> SqliteMetadataStore::list_scope_maps(RegistryId registry) {
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(AccessSql::list_scope_maps);
  if (!stmt) return stmt.error();
  stmt->bind_int(1, registry);
  return collect_scope_maps(*stmt, registry);
}

Result<bool> SqliteMetadataStore::update_scope_map(const ScopeMapRecord& record) {
  if (auto bad = check_scope_map(record)) return *bad;
  bool updated = false;
  auto written = write([&](SqliteConnection& connection) -> Result<void> {
    auto id = id_by_name(connection, AccessSql::find_scope_map_id, record.registry, record.name);
    if (!id) return id.error();
    if (!*id) return {};
    auto update = connection.statement(AccessSql::update_scope_map);
    if (!update) return update.error();
    update->bind_int(1, **id).bind_text(2, record.description);
    if (auto done = update->run(); !done) return done;
    bool cleared = false;
    if (auto done = delete_by_key(connection, AccessSql::delete_scope_map_actions, **id, cleared);
        !done) {
      return done;
    }
    if (auto done = insert_actions(connection, **id, record.actions); !done) return done;
    updated = true;
    return {};
  });
  if (!written) return written.error();
  return updated;
}

Result<bool> SqliteMetadataStore::delete_scope_map(RegistryId registry, std::string_view name) {
  if (auto bad = check_not_empty(name, "scope map name")) return *bad;
  bool removed = false;
  auto written = write([&](SqliteConnection& connection) -> Result<void> {
    // Tokens may name maps that are not stored (the system ones): absent stays absent.
    auto id = id_by_name(connection, AccessSql::find_scope_map_id, registry, name);
    if (!id) return id.error();
    if (!*id) return {};
    // Checked in the deleting transaction: no token can start using the map in between.
    auto user = connection.statement(AccessSql::scope_map_in_use);
    if (!user) return user.error();
    user->bind_int(1, registry).bind_text(2, name);
    auto row = user->step();
    if (!row) return row.error();
    if (*row) {
      return MetadataError{Errc::conflict, named("scope map", name) + " is used by " +
                                               named("token", user->text(0))};
    }
    return delete_by_name(connection, AccessSql::delete_scope_map, registry, name, removed);
  });
  if (!written) return written.error();
  return removed;
}

// --- tokens ---

Result<void> SqliteMetadataStore::create_token(const TokenRecord& record,
                                               std::uint64_t max_in_registry) {
  if (auto bad = check_token(record)) return *bad;
  return write([&](SqliteConnection& connection) -> Result<void> {
    if (auto found = require_registry(connection, record.registry); !found) return found;
    if (auto room = require_room(connection, AccessSql::count_tokens, record.registry,
                                 max_in_registry, "tokens");
        !room) {
      return room;
    }
    const std::int64_t now = unix_now();
    auto insert = connection.statement(AccessSql::insert_token);
    if (!insert) return insert.error();
    insert->bind_int(1, record.registry)
        .bind_text(2, record.name)
        .bind_text(3, record.scope_map)
        .bind_int(4, record.enabled ? 1 : 0)
        .bind_int(5, creation_time(record.created_at, now));
    if (auto done = taken_as_conflict(insert->run(), "token", record.name); !done) return done;
    return insert_token_passwords(connection, sqlite3_last_insert_rowid(connection.db()),
                                  record.passwords, now);
  });
}

Result<std::optional<TokenRecord>> SqliteMetadataStore::find_token(RegistryId registry,
                                                                   std::string_view name) {
  if (auto bad = check_not_empty(name, "token name")) return *bad;
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(AccessSql::find_token);
  if (!stmt) return stmt.error();
  stmt->bind_int(1, registry).bind_text(2, name);
  auto tokens = collect_tokens(*stmt, registry);
  if (!tokens) return tokens.error();
  if (tokens->empty()) return std::optional<TokenRecord>();
  return std::optional<TokenRecord>(std::move(tokens->front()));
}

Result<std::vector<TokenRecord>> SqliteMetadataStore::list_tokens(RegistryId registry) {
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(AccessSql::list_tokens);
  if (!stmt) return stmt.error();
  stmt->bind_int(1, registry);
  return collect_tokens(*stmt, registry);
}

Result<bool> SqliteMetadataStore::update_token(const TokenRecord& record) {
  if (auto bad = check_token(record)) return *bad;
  bool updated = false;
  auto written = write([&](SqliteConnection& connection) -> Result<void> {
    auto id = id_by_name(connection, AccessSql::find_token_id, record.registry, record.name);
    if (!id) return id.error();
    if (!*id) return {};
    auto update = connection.statement(AccessSql::update_token);
    if (!update) return update.error();
    update->bind_int(1, **id).bind_text(2, record.scope_map).bind_int(3, record.enabled ? 1 : 0);
    if (auto done = update->run(); !done) return done;
    bool cleared = false;
    if (auto done = delete_by_key(connection, AccessSql::delete_token_passwords, **id, cleared);
        !done) {
      return done;
    }
    if (auto done = insert_token_passwords(connection, **id, record.passwords, unix_now()); !done) {
      return done;
    }
    updated = true;
    return {};
  });
  if (!written) return written.error();
  return updated;
}

Result<bool> SqliteMetadataStore::delete_token(RegistryId registry, std::string_view name) {
  if (auto bad = check_not_empty(name, "token name")) return *bad;
  // The cascade takes its passwords.
  bool removed = false;
  auto written = write([&](SqliteConnection& connection) {
    return delete_by_name(connection, AccessSql::delete_token, registry, name, removed);
  });
  if (!written) return written.error();
  return removed;
}

// --- deployment identities ---

Result<void> SqliteMetadataStore::create_identity(const IdentityRecord& record) {
  if (auto bad = check_identity(record)) return *bad;
  return write([&](SqliteConnection& connection) -> Result<void> {
    auto insert = connection.statement(AccessSql::insert_identity);
    if (!insert) return insert.error();
    bind_identity(*insert, record);
    insert->bind_int(12, creation_time(record.created_at, unix_now()));
    auto done = insert->run();
    if (!done && done.error().code == Errc::conflict) {
      return MetadataError{Errc::conflict, named("identity", record.name) + " or id " + record.id +
                                               " already exists"};
    }
    return done;
  });
}

Result<std::optional<IdentityRecord>> SqliteMetadataStore::find_identity(std::string_view id) {
  if (auto bad = check_not_empty(id, "identity id")) return *bad;
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(AccessSql::find_identity);
  if (!stmt) return stmt.error();
  stmt->bind_text(1, id);
  auto row = stmt->step();
  if (!row) return row.error();
  if (!*row) return std::optional<IdentityRecord>();
  auto identity = identity_of(*stmt);
  if (!identity) return identity.error();
  return std::optional<IdentityRecord>(std::move(*identity));
}

Result<std::vector<IdentityRecord>> SqliteMetadataStore::federated_identities(
    std::string_view issuer) {
  if (auto bad = check_not_empty(issuer, "issuer")) return *bad;
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(AccessSql::federated_identities);
  if (!stmt) return stmt.error();
  stmt->bind_text(1, issuer);
  return collect_identities(*stmt);
}

Result<std::vector<IdentityRecord>> SqliteMetadataStore::list_identities() {
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(AccessSql::list_identities);
  if (!stmt) return stmt.error();
  return collect_identities(*stmt);
}

Result<bool> SqliteMetadataStore::update_identity(const IdentityRecord& record) {
  if (auto bad = check_identity(record)) return *bad;
  bool updated = false;
  auto written = write([&](SqliteConnection& connection) -> Result<void> {
    auto update = connection.statement(AccessSql::update_identity);
    if (!update) return update.error();
    bind_identity(*update, record);
    auto done = update->run();
    if (!done && done.error().code == Errc::conflict) {
      return MetadataError{Errc::conflict, named("identity", record.name) + " already exists"};
    }
    if (!done) return done;
    updated = sqlite3_changes(connection.db()) > 0;
    return {};
  });
  if (!written) return written.error();
  return updated;
}

Result<bool> SqliteMetadataStore::delete_identity(std::string_view id) {
  if (auto bad = check_not_empty(id, "identity id")) return *bad;
  // The cascade takes its role assignments.
  bool removed = false;
  auto written = write([&](SqliteConnection& connection) {
    return delete_by_key(connection, AccessSql::delete_identity, id, removed);
  });
  if (!written) return written.error();
  return removed;
}

// --- role assignments ---

Result<void> SqliteMetadataStore::create_role_assignment(const RoleAssignmentRecord& record) {
  if (auto bad = check_not_empty(record.id, "role assignment id")) return *bad;
  if (auto bad = check_not_empty(record.identity_id, "identity id")) return *bad;
  if (auto bad = check_not_empty(record.role, "role")) return *bad;
  return write([&](SqliteConnection& connection) -> Result<void> {
    auto identity = row_exists(connection, AccessSql::identity_exists, record.identity_id);
    if (!identity) return identity.error();
    if (!*identity) {
      return MetadataError{Errc::not_found, "identity " + record.identity_id + " does not exist"};
    }
    if (auto found = require_registry(connection, record.registry); !found) return found;
    auto insert = connection.statement(AccessSql::insert_role_assignment);
    if (!insert) return insert.error();
    insert->bind_text(1, record.id)
        .bind_text(2, record.identity_id)
        .bind_text(3, record.role)
        .bind_int(4, record.registry)
        .bind_text(5, record.repository)
        .bind_int(6, creation_time(record.created_at, unix_now()));
    auto done = insert->run();
    if (!done && done.error().code == Errc::conflict) {
      return MetadataError{Errc::conflict, named("role", record.role) + " is assigned to " +
                                               record.identity_id +
                                               " there already (or the id is taken)"};
    }
    return done;
  });
}

Result<std::vector<RoleAssignmentRecord>> SqliteMetadataStore::list_role_assignments(
    std::optional<RegistryId> registry, std::optional<std::string_view> identity_id) {
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  AccessSql which = AccessSql::list_role_assignments;
  if (registry) {
    which = AccessSql::list_role_assignments_in_registry;
  } else if (identity_id) {
    which = AccessSql::list_role_assignments_of_identity;
  }
  auto stmt = reader->connection().statement(which);
  if (!stmt) return stmt.error();
  bind_optional_int(*stmt, 1, registry);
  if (identity_id) {
    stmt->bind_text(2, *identity_id);
  } else {
    stmt->bind_null(2);
  }
  std::vector<RoleAssignmentRecord> assignments;
  for (;;) {
    auto row = stmt->step();
    if (!row) return row.error();
    if (!*row) return assignments;
    assignments.push_back(RoleAssignmentRecord{
        .id = std::string(stmt->text(0)),
        .identity_id = std::string(stmt->text(1)),
        .role = std::string(stmt->text(2)),
        .registry = stmt->integer(3),
        .repository = std::string(stmt->text(4)),
        .created_at = stmt->integer(5),
    });
  }
}

Result<bool> SqliteMetadataStore::delete_role_assignment(std::string_view id) {
  if (auto bad = check_not_empty(id, "role assignment id")) return *bad;
  bool removed = false;
  auto written = write([&](SqliteConnection& connection) {
    return delete_by_key(connection, AccessSql::delete_role_assignment, id, removed);
  });
  if (!written) return written.error();
  return removed;
}

// --- network rules ---

Result<void> SqliteMetadataStore::add_network_rule(const NetworkRuleRecord& record,
                                                   std::uint64_t max_in_registry) {
  if (auto bad = check_not_empty(record.address_range, "address range")) return *bad;
  return write([&](SqliteConnection& connection) -> Result<void> {
    if (auto found = require_registry(connection, record.registry); !found) return found;
    if (auto room = require_room(connection, AccessSql::count_network_rules, record.registry,
                                 max_in_registry, "network rules");
        !room) {
      return room;
    }
    auto insert = connection.statement(AccessSql::insert_network_rule);
    if (!insert) return insert.error();
    insert->bind_int(1, record.registry)
        .bind_text(2, record.address_range)
        .bind_int(3, creation_time(record.created_at, unix_now()));
    return taken_as_conflict(insert->run(), "network rule", record.address_range);
  });
}

Result<std::vector<NetworkRuleRecord>> SqliteMetadataStore::list_network_rules(
    RegistryId registry) {
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(AccessSql::list_network_rules);
  if (!stmt) return stmt.error();
  stmt->bind_int(1, registry);
  std::vector<NetworkRuleRecord> rules;
  for (;;) {
    auto row = stmt->step();
    if (!row) return row.error();
    if (!*row) return rules;
    rules.push_back(NetworkRuleRecord{
        .registry = registry,
        .address_range = std::string(stmt->text(0)),
        .created_at = stmt->integer(1),
    });
  }
}

Result<bool> SqliteMetadataStore::remove_network_rule(RegistryId registry,
                                                      std::string_view address_range) {
  if (auto bad = check_not_empty(address_range, "address range")) return *bad;
  bool removed = false;
  auto written = write([&](SqliteConnection& connection) {
    return delete_by_name(connection, AccessSql::delete_network_rule, registry, address_range,
                          removed);
  });
  if (!written) return written.error();
  return removed;
}

// --- token signing keys ---

Result<void> SqliteMetadataStore::add_signing_key(const SigningKeyRecord& record) {
  if (auto bad = check_not_empty(record.kid, "signing key id")) return *bad;
  if (auto bad = check_not_empty(record.sealed_private_key, "signing key")) return *bad;
  return write([&](SqliteConnection& connection) -> Result<void> {
    // Should the insert fail, the write's rollback brings the previous active key back.
    if (record.active) {
      auto deactivate = connection.statement(AccessSql::deactivate_signing_keys);
      if (!deactivate) return deactivate.error();
      if (auto done = deactivate->run(); !done) return done;
    }
    auto insert = connection.statement(AccessSql::insert_signing_key);
    if (!insert) return insert.error();
    insert->bind_text(1, record.kid)
        .bind_text(2, record.sealed_private_key)
        .bind_int(3, creation_time(record.created_at, unix_now()))
        .bind_int(4, record.active ? 1 : 0);
    return taken_as_conflict(insert->run(), "signing key", record.kid);
  });
}

Result<std::vector<SigningKeyRecord>> SqliteMetadataStore::list_signing_keys() {
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(AccessSql::list_signing_keys);
  if (!stmt) return stmt.error();
  std::vector<SigningKeyRecord> keys;
  for (;;) {
    auto row = stmt->step();
    if (!row) return row.error();
    if (!*row) return keys;
    keys.push_back(SigningKeyRecord{
        .kid = std::string(stmt->text(0)),
        .sealed_private_key = std::string(stmt->text(1)),
        .created_at = stmt->integer(2),
        .active = stmt->integer(3) != 0,
    });
  }
}

Result<bool> SqliteMetadataStore::delete_signing_key(std::string_view kid) {
  if (auto bad = check_not_empty(kid, "signing key id")) return *bad;
  bool removed = false;
  auto written = write([&](SqliteConnection& connection) {
    return delete_by_key(connection, AccessSql::delete_signing_key, kid, removed);
  });
  if (!written) return written.error();
  return removed;
}

// --- login audit ---

Result<void> SqliteMetadataStore::append_login_events(const std::vector<LoginEventRecord>& events) {
  if (events.empty()) return {};
  return write([&](SqliteConnection& connection) -> Result<void> {
    auto insert = connection.statement(AccessSql::insert_login_event);
    if (!insert) return insert.error();
    const std::int64_t now = unix_now();
    for (const LoginEventRecord& event : events) {
      insert->bind_int(1, creation_time(event.time, now))
          .bind_text(3, event.identity)
          .bind_text(4, event.identity_kind)
          .bind_text(5, event.client_address)
          .bind_int(6, event.success ? 1 : 0)
          .bind_text(7, event.method)
          .bind_text(8, event.reason);
      bind_optional_int(*insert, 2, event.registry);
      if (auto done = insert->run(); !done) return done;
      insert->reset();
    }
    return {};
  });
}

Result<std::vector<LoginEventRecord>> SqliteMetadataStore::list_login_events(
    const LoginEventFilter& filter) {
  const std::size_t limit = std::min(filter.limit, kMaxLoginEventsPerPage);
  if (limit == 0) return std::vector<LoginEventRecord>();
  // The narrowest index range the filter allows.
  AccessSql which = AccessSql::list_login_events;
  if (filter.registry) {
    which = AccessSql::list_login_events_in_registry;
  } else if (filter.identity) {
    which = AccessSql::list_login_events_of_identity;
  }
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(which);
  if (!stmt) return stmt.error();
  bind_optional_int(*stmt, 1, filter.registry);
  if (filter.identity) {
    stmt->bind_text(2, *filter.identity);
  } else {
    stmt->bind_null(2);
  }
  bind_optional_int(
      *stmt, 3,
      filter.success ? std::optional<std::int64_t>(*filter.success ? 1 : 0) : std::nullopt);
  bind_optional_int(*stmt, 4, filter.since);
  bind_optional_int(*stmt, 5, filter.until);
  stmt->bind_int(6, filter.before_id.value_or(std::numeric_limits<std::int64_t>::max()));
  stmt->bind_int(7, static_cast<std::int64_t>(limit));
  std::vector<LoginEventRecord> events;
  events.reserve(limit);
  for (;;) {
    auto row = stmt->step();
    if (!row) return row.error();
    if (!*row) return events;
    events.push_back(login_event_of(*stmt));
  }
}

Result<std::uint64_t> SqliteMetadataStore::prune_login_events(std::int64_t before) {
  std::uint64_t pruned = 0;
  auto written = write([&](SqliteConnection& connection) -> Result<void> {
    auto prune = connection.statement(AccessSql::prune_login_events);
    if (!prune) return prune.error();
    prune->bind_int(1, before);
    if (auto done = prune->run(); !done) return done;
    pruned = static_cast<std::uint64_t>(sqlite3_changes64(connection.db()));
    return {};
  });
  if (!written) return written.error();
  return pruned;
}

}  // namespace berth::metadata
