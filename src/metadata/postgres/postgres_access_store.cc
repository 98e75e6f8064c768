// PostgresMetadataStore: the AccessStore part (admin passwords, scope maps, tokens, identities,
// role assignments, network rules, signing keys, the login audit). Tables in
// postgres_schema.cc; sqlite_access_store.cc explains the shape, which is the same.
//
// Names unique ignoring case are looked up by fold_case(name) against lower(name), the
// expression of their unique indexes. Limits (count, then insert) hold under concurrent
// creates because writes are SERIALIZABLE. Activating a signing key takes kSigningKeysLock
// first: with no active key to update, two activations would otherwise both insert an active
// key and one of them would fail on the one-active index instead of waiting its turn.

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
#include "metadata/postgres/postgres_internal.h"
#include "metadata/postgres/postgres_metadata_store.h"

namespace berth::metadata {

using namespace postgres;

namespace {

// A listing of login events returns at most this many, whatever the caller asks for.
constexpr std::size_t kMaxLoginEventsPerPage = 1000;
// Taken by add_signing_key ("signkeys" in ASCII).
constexpr std::int64_t kSigningKeysLock = 0x7369676e6b657973;

#define BERTH_PG_SCOPE_MAP_ROWS                           \
  "SELECT m.name, m.description, m.created_at, a.action " \
  "FROM scope_maps m LEFT JOIN scope_map_actions a ON a.scope_map_id = m.id "

#define BERTH_PG_TOKEN_ROWS                                                                \
  "SELECT t.name, t.scope_map, t.enabled, t.created_at, p.name, p.secret_hash, p.expiry, " \
  "p.created_at FROM tokens t LEFT JOIN token_passwords p ON p.token_id = t.id "

#define BERTH_PG_IDENTITY_COLUMNS                                                                \
  "id, name, kind, secret_hash, expiry, enabled, issuer, audience, jwks, subject, claims_json, " \
  "created_at"

#define BERTH_PG_ROLE_ASSIGNMENT_ROWS \
  "SELECT id, identity_id, role, registry_id, repository, created_at FROM role_assignments "

#define BERTH_PG_LOGIN_EVENT_COLUMNS \
  "id, time, registry_id, identity, identity_kind, client_address, success, method, reason"

// The filters every login event listing applies after its index range: $3 success, $4 since,
// $5 until (each NULL when absent), $7 the page size. $2, the identity, is hex (NULL: any).
#define BERTH_PG_LOGIN_EVENT_FILTERS                                                   \
  " AND ($3::boolean IS NULL OR success = $3::boolean)"                                \
  " AND ($4::bigint IS NULL OR time >= $4::bigint) AND ($5::bigint IS NULL OR time < " \
  "$5::bigint) ORDER BY id DESC LIMIT $7"

constexpr Statement kUpsertAdminPassword{
    "upsert_admin_password",
    "INSERT INTO admin_passwords (registry_id, name, sealed_value, created_at) "
    "VALUES ($1, $2, $3, $4) ON CONFLICT (registry_id, lower(name)) DO UPDATE SET "
    "sealed_value = excluded.sealed_value, created_at = excluded.created_at"};
constexpr Statement kListAdminPasswords{
    "list_admin_passwords",
    "SELECT name, sealed_value, created_at FROM admin_passwords WHERE registry_id = $1 "
    "ORDER BY lower(name)"};
constexpr Statement kRegistryExists{"access_registry_exists",
                                    "SELECT 1 FROM registries WHERE id = $1"};
constexpr Statement kCountScopeMaps{"count_scope_maps",
                                    "SELECT count(*) FROM scope_maps WHERE registry_id = $1"};
constexpr Statement kInsertScopeMap{
    "insert_scope_map",
    "INSERT INTO scope_maps (registry_id, name, description, created_at) "
    "VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING id"};
// The actions in $2, in their order.
constexpr Statement kInsertScopeMapActions{
    "insert_scope_map_actions",
    "INSERT INTO scope_map_actions (scope_map_id, position, action) "
    "SELECT $1::bigint, position - 1, action FROM unnest($2::text[]) WITH ORDINALITY "
    "AS a (action, position)"};
constexpr Statement kFindScopeMap{
    "find_scope_map",
    BERTH_PG_SCOPE_MAP_ROWS "WHERE m.registry_id = $1 AND lower(m.name) = $2 ORDER BY a.position"};
constexpr Statement kListScopeMaps{"list_scope_maps", BERTH_PG_SCOPE_MAP_ROWS
                                   "WHERE m.registry_id = $1 ORDER BY lower(m.name), a.position"};
constexpr Statement kFindScopeMapId{
    "find_scope_map_id", "SELECT id FROM scope_maps WHERE registry_id = $1 AND lower(name) = $2"};
constexpr Statement kUpdateScopeMap{"update_scope_map",
                                    "UPDATE scope_maps SET description = $2 WHERE id = $1"};
constexpr Statement kDeleteScopeMapActions{"delete_scope_map_actions",
                                           "DELETE FROM scope_map_actions WHERE scope_map_id = $1"};
constexpr Statement kScopeMapInUse{
    "scope_map_in_use",
    "SELECT name FROM tokens WHERE registry_id = $1 AND lower(scope_map) = $2 "
    "ORDER BY lower(name) LIMIT 1"};
constexpr Statement kDeleteScopeMap{"delete_scope_map", "DELETE FROM scope_maps WHERE id = $1"};
constexpr Statement kCountTokens{"count_tokens",
                                 "SELECT count(*) FROM tokens WHERE registry_id = $1"};
constexpr Statement kInsertToken{
    "insert_token",
    "INSERT INTO tokens (registry_id, name, scope_map, enabled, created_at) "
    "VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING id"};
constexpr Statement kInsertTokenPassword{
    "insert_token_password",
    "INSERT INTO token_passwords (token_id, name, secret_hash, expiry, created_at) "
    "VALUES ($1, $2, $3, $4, $5)"};
constexpr Statement kFindToken{
    "find_token",
    BERTH_PG_TOKEN_ROWS "WHERE t.registry_id = $1 AND lower(t.name) = $2 ORDER BY lower(p.name)"};
constexpr Statement kListTokens{"list_tokens", BERTH_PG_TOKEN_ROWS
                                "WHERE t.registry_id = $1 ORDER BY lower(t.name), lower(p.name)"};
constexpr Statement kFindTokenId{
    "find_token_id", "SELECT id FROM tokens WHERE registry_id = $1 AND lower(name) = $2"};
constexpr Statement kUpdateToken{"update_token",
                                 "UPDATE tokens SET scope_map = $2, enabled = $3 WHERE id = $1"};
constexpr Statement kDeleteTokenPasswords{"delete_token_passwords",
                                          "DELETE FROM token_passwords WHERE token_id = $1"};
constexpr Statement kDeleteToken{"delete_token",
                                 "DELETE FROM tokens WHERE registry_id = $1 AND lower(name) = $2"};
constexpr Statement kInsertIdentity{
    "insert_identity",
    "INSERT INTO identities (" BERTH_PG_IDENTITY_COLUMNS
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING "
    "RETURNING 1"};
constexpr Statement kFindIdentity{
    "find_identity", "SELECT " BERTH_PG_IDENTITY_COLUMNS " FROM identities WHERE id = $1"};
constexpr Statement kFederatedIdentities{
    "federated_identities",
    "SELECT " BERTH_PG_IDENTITY_COLUMNS
    " FROM identities WHERE kind = 'federated' AND issuer = $1 ORDER BY lower(name)"};
constexpr Statement kListIdentities{
    "list_identities", "SELECT " BERTH_PG_IDENTITY_COLUMNS " FROM identities ORDER BY lower(name)"};
constexpr Statement kIdentityNameTaken{
    "identity_name_taken", "SELECT 1 FROM identities WHERE lower(name) = $1 AND id <> $2"};
constexpr Statement kUpdateIdentity{
    "update_identity",
    "UPDATE identities SET name = $2, kind = $3, secret_hash = $4, expiry = $5, enabled = $6, "
    "issuer = $7, audience = $8, jwks = $9, subject = $10, claims_json = $11 WHERE id = $1"};
constexpr Statement kDeleteIdentity{"delete_identity", "DELETE FROM identities WHERE id = $1"};
constexpr Statement kIdentityExists{"identity_exists", "SELECT 1 FROM identities WHERE id = $1"};
constexpr Statement kInsertRoleAssignment{
    "insert_role_assignment",
    "INSERT INTO role_assignments (id, identity_id, role, registry_id, repository, created_at) "
    "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING 1"};
// One statement per index range: all assignments, one registry's, one identity's. Each takes
// both filters, $1 registry and $2 identity.
constexpr Statement kListRoleAssignments{
    "list_role_assignments", BERTH_PG_ROLE_ASSIGNMENT_ROWS
    "WHERE ($1::bigint IS NULL OR registry_id = $1::bigint) "
    "AND ($2::text IS NULL OR identity_id = $2::text) ORDER BY created_at, id"};
constexpr Statement kListRoleAssignmentsInRegistry{
    "list_role_assignments_in_registry", BERTH_PG_ROLE_ASSIGNMENT_ROWS
    "WHERE registry_id = $1::bigint AND ($2::text IS NULL OR identity_id = $2::text) "
    "ORDER BY created_at, id"};
constexpr Statement kListRoleAssignmentsOfIdentity{
    "list_role_assignments_of_identity", BERTH_PG_ROLE_ASSIGNMENT_ROWS
    "WHERE identity_id = $2::text AND ($1::bigint IS NULL OR registry_id = $1::bigint) "
    "ORDER BY created_at, id"};
constexpr Statement kDeleteRoleAssignment{"delete_role_assignment",
                                          "DELETE FROM role_assignments WHERE id = $1"};
constexpr Statement kCountNetworkRules{"count_network_rules",
                                       "SELECT count(*) FROM network_rules WHERE registry_id = $1"};
constexpr Statement kInsertNetworkRule{
    "insert_network_rule",
    "INSERT INTO network_rules (registry_id, address_range, created_at) VALUES ($1, $2, $3) "
    "ON CONFLICT DO NOTHING RETURNING 1"};
constexpr Statement kListNetworkRules{
    "list_network_rules",
    "SELECT address_range, created_at FROM network_rules WHERE registry_id = $1 "
    "ORDER BY created_at, lower(address_range)"};
constexpr Statement kDeleteNetworkRule{
    "delete_network_rule",
    "DELETE FROM network_rules WHERE registry_id = $1 AND lower(address_range) = $2"};
constexpr Statement kLockSigningKeys{"lock_signing_keys", "SELECT pg_advisory_xact_lock($1)"};
constexpr Statement kDeactivateSigningKeys{"deactivate_signing_keys",
                                           "UPDATE signing_keys SET active = false WHERE active"};
constexpr Statement kInsertSigningKey{
    "insert_signing_key",
    "INSERT INTO signing_keys (kid, sealed_private_key, created_at, active) "
    "VALUES ($1, $2, $3, $4) ON CONFLICT (kid) DO NOTHING RETURNING 1"};
constexpr Statement kListSigningKeys{
    "list_signing_keys",
    "SELECT kid, sealed_private_key, created_at, active FROM signing_keys "
    "ORDER BY created_at DESC, id DESC"};
constexpr Statement kDeleteSigningKey{"delete_signing_key",
                                      "DELETE FROM signing_keys WHERE kid = $1"};
constexpr Statement kInsertLoginEvent{
    "insert_login_event",
    "INSERT INTO login_events (time, registry_id, identity, identity_kind, client_address, "
    "success, method, reason) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"};
// The three listings differ in the index range they scan: all events (the primary key), one
// registry's, one identity's. $6 is before_id (the largest id when absent).
constexpr Statement kListLoginEvents{
    "list_login_events",
    "SELECT " BERTH_PG_LOGIN_EVENT_COLUMNS
    " FROM login_events WHERE id < $6 "
    "AND ($1::bigint IS NULL OR registry_id = $1::bigint) "
    "AND ($2::text IS NULL OR identity = decode($2::text, 'hex'))" BERTH_PG_LOGIN_EVENT_FILTERS};
constexpr Statement kListLoginEventsInRegistry{
    "list_login_events_in_registry", "SELECT " BERTH_PG_LOGIN_EVENT_COLUMNS
                                     " FROM login_events WHERE registry_id = $1::bigint "
                                     "AND id < $6 AND ($2::text IS NULL OR identity = "
                                     "decode($2::text, 'hex'))" BERTH_PG_LOGIN_EVENT_FILTERS};
constexpr Statement kListLoginEventsOfIdentity{
    "list_login_events_of_identity",
    "SELECT " BERTH_PG_LOGIN_EVENT_COLUMNS
    " FROM login_events "
    "WHERE identity = decode($2::text, 'hex') AND id < $6 "
    "AND ($1::bigint IS NULL OR registry_id = $1::bigint)" BERTH_PG_LOGIN_EVENT_FILTERS};
constexpr Statement kPruneLoginEvents{"prune_login_events",
                                      "DELETE FROM login_events WHERE time < $1"};

#undef BERTH_PG_SCOPE_MAP_ROWS
#undef BERTH_PG_TOKEN_ROWS
#undef BERTH_PG_IDENTITY_COLUMNS
#undef BERTH_PG_ROLE_ASSIGNMENT_ROWS
#undef BERTH_PG_LOGIN_EVENT_COLUMNS
#undef BERTH_PG_LOGIN_EVENT_FILTERS

// A created_at the caller gave, else the time of the write.
std::int64_t creation_time(std::int64_t given, std::int64_t now) {
  return given != 0 ? given : now;
}

std::string hex_of(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    hex += kDigits[c >> 4];
    hex += kDigits[c & 0xf];
  }
  return hex;
}

// not_found unless the registry exists. Inside a write, so nothing deletes it before the write
// that needs it commits.
Result<void> require_registry(Transaction& transaction, RegistryId registry) {
  if (transaction.exec(kRegistryExists, registry).empty()) return registry_not_found(registry);
  return {};
}

// limit_reached when the registry already holds `max` rows by the counting statement `count`.
// Runs in the same SERIALIZABLE transaction as the insert it guards, so concurrent creates
// cannot overshoot.
Result<void> require_room(Transaction& transaction, const Statement& count, RegistryId registry,
                          std::uint64_t max, std::string_view what) {
  const auto held = transaction.exec(count, registry)[0][0].as<std::uint64_t>();
  if (held < max) return {};
  std::string message = "the registry has ";
  message += std::to_string(held);
  message += ' ';
  message += what;
  message += ", its limit";
  return MetadataError{Errc::limit_reached, std::move(message)};
}

// The integer id that `statement` selects for (registry $1, folded name $2), if any.
std::optional<std::int64_t> id_by_name(Transaction& transaction, const Statement& statement,
                                       RegistryId registry, std::string_view name) {
  pqxx::result rows = transaction.exec(statement, registry, fold_case(name));
  if (rows.empty()) return std::nullopt;
  return rows[0][0].as<std::int64_t>();
}

// --- scope maps ---

// The actions in the order given; a repeated action keeps its first place.
std::vector<std::string> distinct_actions(const std::vector<std::string>& actions) {
  std::vector<std::string> distinct;
  std::set<std::string_view> seen;
  for (const std::string& action : actions) {
    if (seen.insert(action).second) distinct.push_back(action);
  }
  return distinct;
}

void insert_actions(Transaction& transaction, std::int64_t scope_map_id,
                    const std::vector<std::string>& actions) {
  if (actions.empty()) return;
  transaction.exec(kInsertScopeMapActions, scope_map_id, text_array(distinct_actions(actions)));
}

// Scope maps from BERTH_PG_SCOPE_MAP_ROWS: one row per action (a map without any has one row
// with a NULL action); the rows of one map are adjacent.
std::vector<ScopeMapRecord> scope_maps_of(const pqxx::result& rows, RegistryId registry) {
  std::vector<ScopeMapRecord> maps;
  for (const pqxx::row& row : rows) {
    if (maps.empty() || maps.back().name != row[0].c_str()) {
      maps.push_back(ScopeMapRecord{
          .registry = registry,
          .name = text_of(row[0]),
          .description = text_of(row[1]),
          .created_at = row[2].as<std::int64_t>(),
      });
    }
    if (!row[3].is_null()) maps.back().actions.push_back(text_of(row[3]));
  }
  return maps;
}

// --- tokens ---

void insert_token_passwords(Transaction& transaction, std::int64_t token_id,
                            const std::vector<TokenPasswordRecord>& passwords, std::int64_t now) {
  for (const TokenPasswordRecord& password : passwords) {
    transaction.exec(kInsertTokenPassword, token_id, password.name, password.secret_hash,
                     password.expiry, creation_time(password.created_at, now));
  }
}

// Tokens from BERTH_PG_TOKEN_ROWS: one row per password (a token without any has one row with
// NULL password columns); the rows of one token are adjacent.
std::vector<TokenRecord> tokens_of(const pqxx::result& rows, RegistryId registry) {
  std::vector<TokenRecord> tokens;
  for (const pqxx::row& row : rows) {
    if (tokens.empty() || tokens.back().name != row[0].c_str()) {
      tokens.push_back(TokenRecord{
          .registry = registry,
          .name = text_of(row[0]),
          .scope_map = text_of(row[1]),
          .enabled = row[2].as<bool>(),
          .created_at = row[3].as<std::int64_t>(),
      });
    }
    if (row[4].is_null()) continue;
    tokens.back().passwords.push_back(TokenPasswordRecord{
        .name = text_of(row[4]),
        .secret_hash = text_of(row[5]),
        .expiry = optional_int(row[6]),
        .created_at = row[7].as<std::int64_t>(),
    });
  }
  return tokens;
}

// --- identities ---

// A row of BERTH_PG_IDENTITY_COLUMNS.
Result<IdentityRecord> identity_of(const pqxx::row& row) {
  auto kind = stored_identity_kind(row[2].c_str());
  if (!kind) return kind.error();
  return IdentityRecord{
      .id = text_of(row[0]),
      .name = text_of(row[1]),
      .kind = *kind,
      .secret_hash = text_of(row[3]),
      .expiry = optional_int(row[4]),
      .enabled = row[5].as<bool>(),
      .issuer = text_of(row[6]),
      .audience = text_of(row[7]),
      .jwks = text_of(row[8]),
      .subject = text_of(row[9]),
      .claims_json = text_of(row[10]),
      .created_at = row[11].as<std::int64_t>(),
  };
}

Result<std::vector<IdentityRecord>> identities_of(const pqxx::result& rows) {
  std::vector<IdentityRecord> identities;
  for (const pqxx::row& row : rows) {
    auto identity = identity_of(row);
    if (!identity) return identity.error();
    identities.push_back(std::move(*identity));
  }
  return identities;
}

// A row of BERTH_PG_LOGIN_EVENT_COLUMNS.
LoginEventRecord login_event_of(const pqxx::row& row) {
  return LoginEventRecord{
      .id = row[0].as<std::int64_t>(),
      .time = row[1].as<std::int64_t>(),
      .registry = optional_int(row[2]),
      .identity = bytes_of(row[3]),
      .identity_kind = bytes_of(row[4]),
      .client_address = bytes_of(row[5]),
      .success = row[6].as<bool>(),
      .method = bytes_of(row[7]),
      .reason = bytes_of(row[8]),
  };
}

}  // namespace

// --- the admin user's passwords ---

Result<void> PostgresMetadataStore::put_admin_password(RegistryId registry,
                                                       const AdminPasswordRecord& record) {
  if (auto bad = check_not_empty(record.name, "admin password name")) return *bad;
  if (auto bad = check_not_empty(record.sealed_value, "admin password")) return *bad;
  return database_->write([&](Transaction& transaction) -> Result<void> {
    if (auto found = require_registry(transaction, registry); !found) return found;
    transaction.exec(kUpsertAdminPassword, registry, record.name, record.sealed_value,
                     creation_time(record.created_at, unix_now()));
    return {};
  });
}

Result<std::vector<AdminPasswordRecord>> PostgresMetadataStore::admin_passwords(
    RegistryId registry) {
  std::vector<AdminPasswordRecord> passwords;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    passwords.clear();
    for (const pqxx::row& row : transaction.exec(kListAdminPasswords, registry)) {
      passwords.push_back(AdminPasswordRecord{
          .name = text_of(row[0]),
          .sealed_value = text_of(row[1]),
          .created_at = row[2].as<std::int64_t>(),
      });
    }
    return {};
  });
  if (!read) return read.error();
  return passwords;
}

// --- scope maps ---

Result<void> PostgresMetadataStore::create_scope_map(const ScopeMapRecord& record,
                                                     std::uint64_t max_in_registry) {
  if (auto bad = check_scope_map(record)) return *bad;
  return database_->write([&](Transaction& transaction) -> Result<void> {
    if (auto found = require_registry(transaction, record.registry); !found) return found;
    if (auto room = require_room(transaction, kCountScopeMaps, record.registry, max_in_registry,
                                 "scope maps");
        !room) {
      return room;
    }
    pqxx::result inserted =
        transaction.exec(kInsertScopeMap, record.registry, record.name, record.description,
                         creation_time(record.created_at, unix_now()));
    if (inserted.empty()) {
      return MetadataError{Errc::conflict, named("scope map", record.name) + " already exists"};
    }
    insert_actions(transaction, inserted[0][0].as<std::int64_t>(), record.actions);
    return {};
  });
}

Result<std::optional<ScopeMapRecord>> PostgresMetadataStore::find_scope_map(RegistryId registry,
                                                                            std::string_view name) {
  if (auto bad = check_not_empty(name, "scope map name")) return *bad;
  std::optional<ScopeMapRecord> map;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    auto maps = scope_maps_of(transaction.exec(kFindScopeMap, registry, fold_case(name)), registry);
    map.reset();
    if (!maps.empty()) map = std::move(maps.front());
    return {};
  });
  if (!read) return read.error();
  return map;
}

Result<std::vector<ScopeMapRecord>> PostgresMetadataStore::list_scope_maps(RegistryId registry) {
  std::vector<ScopeMapRecord> maps;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    maps = scope_maps_of(transaction.exec(kListScopeMaps, registry), registry);
    return {};
  });
  if (!read) return read.error();
  return maps;
}

Result<bool> PostgresMetadataStore::update_scope_map(const ScopeMapRecord& record) {
  if (auto bad = check_scope_map(record)) return *bad;
  bool updated = false;
  auto written = database_->write([&](Transaction& transaction) -> Result<void> {
    updated = false;
    auto id = id_by_name(transaction, kFindScopeMapId, record.registry, record.name);
    if (!id) return {};
    transaction.exec(kUpdateScopeMap, *id, record.description);
    transaction.exec(kDeleteScopeMapActions, *id);
    insert_actions(transaction, *id, record.actions);
    updated = true;
    return {};
  });
  if (!written) return written.error();
  return updated;
}

Result<bool> PostgresMetadataStore::delete_scope_map(RegistryId registry, std::string_view name) {
  if (auto bad = check_not_empty(name, "scope map name")) return *bad;
  bool removed = false;
  auto written = database_->write([&](Transaction& transaction) -> Result<void> {
    removed = false;
    // Tokens may name maps that are not stored (the system ones): absent stays absent.
    auto id = id_by_name(transaction, kFindScopeMapId, registry, name);
    if (!id) return {};
    // Checked in the deleting transaction: no token can start using the map in between.
    pqxx::result user = transaction.exec(kScopeMapInUse, registry, fold_case(name));
    if (!user.empty()) {
      return MetadataError{Errc::conflict, named("scope map", name) + " is used by " +
                                               named("token", user[0][0].c_str())};
    }
    removed = transaction.exec(kDeleteScopeMap, *id).affected_rows() > 0;
    return {};
  });
  if (!written) return written.error();
  return removed;
}

// --- tokens ---

Result<void> PostgresMetadataStore::create_token(const TokenRecord& record,
                                                 std::uint64_t max_in_registry) {
  if (auto bad = check_token(record)) return *bad;
  return database_->write([&](Transaction& transaction) -> Result<void> {
    if (auto found = require_registry(transaction, record.registry); !found) return found;
    if (auto room =
            require_room(transaction, kCountTokens, record.registry, max_in_registry, "tokens");
        !room) {
      return room;
    }
    const std::int64_t now = unix_now();
    pqxx::result inserted =
        transaction.exec(kInsertToken, record.registry, record.name, record.scope_map,
                         record.enabled, creation_time(record.created_at, now));
    if (inserted.empty()) {
      return MetadataError{Errc::conflict, named("token", record.name) + " already exists"};
    }
    insert_token_passwords(transaction, inserted[0][0].as<std::int64_t>(), record.passwords, now);
    return {};
  });
}

Result<std::optional<TokenRecord>> PostgresMetadataStore::find_token(RegistryId registry,
                                                                     std::string_view name) {
  if (auto bad = check_not_empty(name, "token name")) return *bad;
  std::optional<TokenRecord> token;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    auto tokens = tokens_of(transaction.exec(kFindToken, registry, fold_case(name)), registry);
    token.reset();
    if (!tokens.empty()) token = std::move(tokens.front());
    return {};
  });
  if (!read) return read.error();
  return token;
}

Result<std::vector<TokenRecord>> PostgresMetadataStore::list_tokens(RegistryId registry) {
  std::vector<TokenRecord> tokens;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    tokens = tokens_of(transaction.exec(kListTokens, registry), registry);
    return {};
  });
  if (!read) return read.error();
  return tokens;
}

Result<bool> PostgresMetadataStore::update_token(const TokenRecord& record) {
  if (auto bad = check_token(record)) return *bad;
  bool updated = false;
  auto written = database_->write([&](Transaction& transaction) -> Result<void> {
    updated = false;
    auto id = id_by_name(transaction, kFindTokenId, record.registry, record.name);
    if (!id) return {};
    transaction.exec(kUpdateToken, *id, record.scope_map, record.enabled);
    transaction.exec(kDeleteTokenPasswords, *id);
    insert_token_passwords(transaction, *id, record.passwords, unix_now());
    updated = true;
    return {};
  });
  if (!written) return written.error();
  return updated;
}

Result<bool> PostgresMetadataStore::delete_token(RegistryId registry, std::string_view name) {
  if (auto bad = check_not_empty(name, "token name")) return *bad;
  // The cascade takes its passwords.
  bool removed = false;
  auto written = database_->write([&](Transaction& transaction) -> Result<void> {
    removed = transaction.exec(kDeleteToken, registry, fold_case(name)).affected_rows() > 0;
    return {};
  });
  if (!written) return written.error();
  return removed;
}

// --- deployment identities ---

Result<void> PostgresMetadataStore::create_identity(const IdentityRecord& record) {
  if (auto bad = check_identity(record)) return *bad;
  return database_->write([&](Transaction& transaction) -> Result<void> {
    pqxx::result inserted =
        transaction.exec(kInsertIdentity, record.id, record.name, identity_kind_name(record.kind),
                         record.secret_hash, record.expiry, record.enabled, record.issuer,
                         record.audience, record.jwks, record.subject, record.claims_json,
                         creation_time(record.created_at, unix_now()));
    if (inserted.empty()) {
      return MetadataError{Errc::conflict, named("identity", record.name) + " or id " + record.id +
                                               " already exists"};
    }
    return {};
  });
}

Result<std::optional<IdentityRecord>> PostgresMetadataStore::find_identity(std::string_view id) {
  if (auto bad = check_not_empty(id, "identity id")) return *bad;
  std::optional<IdentityRecord> identity;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    pqxx::result rows = transaction.exec(kFindIdentity, id);
    identity.reset();
    if (rows.empty()) return {};
    auto found = identity_of(rows[0]);
    if (!found) return found.error();
    identity = std::move(*found);
    return {};
  });
  if (!read) return read.error();
  return identity;
}

Result<std::vector<IdentityRecord>> PostgresMetadataStore::federated_identities(
    std::string_view issuer) {
  if (auto bad = check_not_empty(issuer, "issuer")) return *bad;
  std::vector<IdentityRecord> identities;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    auto found = identities_of(transaction.exec(kFederatedIdentities, issuer));
    if (!found) return found.error();
    identities = std::move(*found);
    return {};
  });
  if (!read) return read.error();
  return identities;
}

Result<std::vector<IdentityRecord>> PostgresMetadataStore::list_identities() {
  std::vector<IdentityRecord> identities;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    auto found = identities_of(transaction.exec(kListIdentities));
    if (!found) return found.error();
    identities = std::move(*found);
    return {};
  });
  if (!read) return read.error();
  return identities;
}

Result<bool> PostgresMetadataStore::update_identity(const IdentityRecord& record) {
  if (auto bad = check_identity(record)) return *bad;
  bool updated = false;
  auto written = database_->write([&](Transaction& transaction) -> Result<void> {
    updated = false;
    if (!transaction.exec(kIdentityNameTaken, fold_case(record.name), record.id).empty()) {
      return MetadataError{Errc::conflict, named("identity", record.name) + " already exists"};
    }
    updated = transaction
                  .exec(kUpdateIdentity, record.id, record.name, identity_kind_name(record.kind),
                        record.secret_hash, record.expiry, record.enabled, record.issuer,
                        record.audience, record.jwks, record.subject, record.claims_json)
                  .affected_rows() > 0;
    return {};
  });
  if (!written) return written.error();
  return updated;
}

Result<bool> PostgresMetadataStore::delete_identity(std::string_view id) {
  if (auto bad = check_not_empty(id, "identity id")) return *bad;
  // The cascade takes its role assignments.
  bool removed = false;
  auto written = database_->write([&](Transaction& transaction) -> Result<void> {
    removed = transaction.exec(kDeleteIdentity, id).affected_rows() > 0;
    return {};
  });
  if (!written) return written.error();
  return removed;
}

// --- role assignments ---

Result<void> PostgresMetadataStore::create_role_assignment(const RoleAssignmentRecord& record) {
  if (auto bad = check_not_empty(record.id, "role assignment id")) return *bad;
  if (auto bad = check_not_empty(record.identity_id, "identity id")) return *bad;
  if (auto bad = check_not_empty(record.role, "role")) return *bad;
  return database_->write([&](Transaction& transaction) -> Result<void> {
    if (transaction.exec(kIdentityExists, record.identity_id).empty()) {
      return MetadataError{Errc::not_found, "identity " + record.identity_id + " does not exist"};
    }
    if (auto found = require_registry(transaction, record.registry); !found) return found;
    pqxx::result inserted = transaction.exec(kInsertRoleAssignment, record.id, record.identity_id,
                                             record.role, record.registry, record.repository,
                                             creation_time(record.created_at, unix_now()));
    if (inserted.empty()) {
      return MetadataError{Errc::conflict, named("role", record.role) + " is assigned to " +
                                               record.identity_id +
                                               " there already (or the id is taken)"};
    }
    return {};
  });
}

Result<std::vector<RoleAssignmentRecord>> PostgresMetadataStore::list_role_assignments(
    std::optional<RegistryId> registry, std::optional<std::string_view> identity_id) {
  const Statement& which = registry      ? kListRoleAssignmentsInRegistry
                           : identity_id ? kListRoleAssignmentsOfIdentity
                                         : kListRoleAssignments;
  std::vector<RoleAssignmentRecord> assignments;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    assignments.clear();
    for (const pqxx::row& row : transaction.exec(which, registry, identity_id)) {
      assignments.push_back(RoleAssignmentRecord{
          .id = text_of(row[0]),
          .identity_id = text_of(row[1]),
          .role = text_of(row[2]),
          .registry = row[3].as<std::int64_t>(),
          .repository = text_of(row[4]),
          .created_at = row[5].as<std::int64_t>(),
      });
    }
    return {};
  });
  if (!read) return read.error();
  return assignments;
}

Result<bool> PostgresMetadataStore::delete_role_assignment(std::string_view id) {
  if (auto bad = check_not_empty(id, "role assignment id")) return *bad;
  bool removed = false;
  auto written = database_->write([&](Transaction& transaction) -> Result<void> {
    removed = transaction.exec(kDeleteRoleAssignment, id).affected_rows() > 0;
    return {};
  });
  if (!written) return written.error();
  return removed;
}

// --- network rules ---

Result<void> PostgresMetadataStore::add_network_rule(const NetworkRuleRecord& record,
                                                     std::uint64_t max_in_registry) {
  if (auto bad = check_not_empty(record.address_range, "address range")) return *bad;
  return database_->write([&](Transaction& transaction) -> Result<void> {
    if (auto found = require_registry(transaction, record.registry); !found) return found;
    if (auto room = require_room(transaction, kCountNetworkRules, record.registry, max_in_registry,
                                 "network rules");
        !room) {
      return room;
    }
    pqxx::result inserted =
        transaction.exec(kInsertNetworkRule, record.registry, record.address_range,
                         creation_time(record.created_at, unix_now()));
    if (inserted.empty()) {
      return MetadataError{Errc::conflict,
                           named("network rule", record.address_range) + " already exists"};
    }
    return {};
  });
}

Result<std::vector<NetworkRuleRecord>> PostgresMetadataStore::list_network_rules(
    RegistryId registry) {
  std::vector<NetworkRuleRecord> rules;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    rules.clear();
    for (const pqxx::row& row : transaction.exec(kListNetworkRules, registry)) {
      rules.push_back(NetworkRuleRecord{
          .registry = registry,
          .address_range = text_of(row[0]),
          .created_at = row[1].as<std::int64_t>(),
      });
    }
    return {};
  });
  if (!read) return read.error();
  return rules;
}

Result<bool> PostgresMetadataStore::remove_network_rule(RegistryId registry,
                                                        std::string_view address_range) {
  if (auto bad = check_not_empty(address_range, "address range")) return *bad;
  bool removed = false;
  auto written = database_->write([&](Transaction& transaction) -> Result<void> {
    removed =
        transaction.exec(kDeleteNetworkRule, registry, fold_case(address_range)).affected_rows() >
        0;
    return {};
  });
  if (!written) return written.error();
  return removed;
}

// --- token signing keys ---

Result<void> PostgresMetadataStore::add_signing_key(const SigningKeyRecord& record) {
  if (auto bad = check_not_empty(record.kid, "signing key id")) return *bad;
  if (auto bad = check_not_empty(record.sealed_private_key, "signing key")) return *bad;
  return database_->write([&](Transaction& transaction) -> Result<void> {
    // Should the insert fail, the rollback brings the previous active key back.
    if (record.active) {
      transaction.exec(kLockSigningKeys, kSigningKeysLock);
      transaction.exec(kDeactivateSigningKeys);
    }
    pqxx::result inserted =
        transaction.exec(kInsertSigningKey, record.kid, record.sealed_private_key,
                         creation_time(record.created_at, unix_now()), record.active);
    if (inserted.empty()) {
      return MetadataError{Errc::conflict, named("signing key", record.kid) + " already exists"};
    }
    return {};
  });
}

Result<std::vector<SigningKeyRecord>> PostgresMetadataStore::list_signing_keys() {
  std::vector<SigningKeyRecord> keys;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    keys.clear();
    for (const pqxx::row& row : transaction.exec(kListSigningKeys)) {
      keys.push_back(SigningKeyRecord{
          .kid = text_of(row[0]),
          .sealed_private_key = text_of(row[1]),
          .created_at = row[2].as<std::int64_t>(),
          .active = row[3].as<bool>(),
      });
    }
    return {};
  });
  if (!read) return read.error();
  return keys;
}

Result<bool> PostgresMetadataStore::delete_signing_key(std::string_view kid) {
  if (auto bad = check_not_empty(kid, "signing key id")) return *bad;
  bool removed = false;
  auto written = database_->write([&](Transaction& transaction) -> Result<void> {
    removed = transaction.exec(kDeleteSigningKey, kid).affected_rows() > 0;
    return {};
  });
  if (!written) return written.error();
  return removed;
}

// --- login audit ---

Result<void> PostgresMetadataStore::append_login_events(
    const std::vector<LoginEventRecord>& events) {
  if (events.empty()) return {};
  return database_->write([&](Transaction& transaction) -> Result<void> {
    const std::int64_t now = unix_now();
    for (const LoginEventRecord& event : events) {
      transaction.exec(kInsertLoginEvent, creation_time(event.time, now), event.registry,
                       bytes(event.identity), bytes(event.identity_kind),
                       bytes(event.client_address), event.success, bytes(event.method),
                       bytes(event.reason));
    }
    return {};
  });
}

Result<std::vector<LoginEventRecord>> PostgresMetadataStore::list_login_events(
    const LoginEventFilter& filter) {
  const std::size_t limit = std::min(filter.limit, kMaxLoginEventsPerPage);
  if (limit == 0) return std::vector<LoginEventRecord>();
  // The narrowest index range the filter allows.
  const Statement& which = filter.registry   ? kListLoginEventsInRegistry
                           : filter.identity ? kListLoginEventsOfIdentity
                                             : kListLoginEvents;
  const std::optional<std::string> identity =
      filter.identity ? std::optional<std::string>(hex_of(*filter.identity)) : std::nullopt;
  std::vector<LoginEventRecord> events;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    pqxx::result rows = transaction.exec(
        which, filter.registry, identity, filter.success, filter.since, filter.until,
        filter.before_id.value_or(std::numeric_limits<std::int64_t>::max()),
        static_cast<std::int64_t>(limit));
    events.clear();
    events.reserve(rows.size());
    for (const pqxx::row& row : rows) events.push_back(login_event_of(row));
    return {};
  });
  if (!read) return read.error();
  return events;
}

Result<std::uint64_t> PostgresMetadataStore::prune_login_events(std::int64_t before) {
  std::uint64_t pruned = 0;
  auto written = database_->write([&](Transaction& transaction) -> Result<void> {
    pruned = transaction.exec(kPruneLoginEvents, before).affected_rows();
    return {};
  });
  if (!written) return written.error();
  return pruned;
}

std::vector<Statement> postgres::planned_access_statements() {
  // find_token and find_scope_map sort the few passwords or actions of the one item they find.
  return {kListLoginEvents,
          kListLoginEventsInRegistry,
          kListLoginEventsOfIdentity,
          kScopeMapInUse,
          kFederatedIdentities,
          kListRoleAssignmentsInRegistry,
          kListRoleAssignmentsOfIdentity,
          kFindIdentity};
}

}  // namespace berth::metadata
