// SqliteMetadataStore: the UpstreamStore part (upstream_store.h): credential sets, cache rules,
// when cached tags were last checked against their upstream, and import jobs, on the same
// database, writer and reader pool as the content metadata.
//
// Tables (schema version 10, sqlite_schema.cc). Arrows are foreign keys; "x" marks ON DELETE
// CASCADE.
//
//   registries
//   ^x  credential_sets (PK registry_id, name; login_server, username, sealed_password,
//   |                    created_at, updated_at)   WITHOUT ROWID
//   |     ^   cache_rules.(registry_id, credential_set)   (NO ACTION: see below)
//   ^x  cache_rules (PK registry_id, name; UNIQUE registry_id, target_repository;
//   |                source_repository, credential_set (NULL: anonymous), tag_ttl_seconds,
//   |                allow_push, created_at, updated_at)   WITHOUT ROWID
//   |                index (registry_id, credential_set, name): the rules naming a set
//   ^x  import_jobs (id INTEGER PK AUTOINCREMENT; registry_id, status, request,
//   |                sealed_credentials, holder, heartbeat_at, bytes_total, bytes_done,
//   |                blobs_total, blobs_done, result, error, created_at, started_at, finished_at)
//   |                index (registry_id, id): a registry's jobs, newest first
//   |                index (id) WHERE status IN ('queued', 'running'): what claim_import scans
//   |                index (finished_at) WHERE status IN ('succeeded', 'failed'): pruning
//   repositories
//   ^x  cached_tags (PK repository_id, tag; validated_at)   WITHOUT ROWID
//
// Why this shape:
// - A rule without a credential set keeps NULL there, so the foreign key to credential_sets
//   binds only the rules that name one. It is NO ACTION rather than RESTRICT: a registry's
//   delete cascades into both tables in one statement, and NO ACTION is checked at the end of
//   the statement, when the rules are gone too. delete_credential_set checks for a rule naming
//   the set first, in its transaction, to answer conflict with the rule's name; the key is
//   what holds should anything write the tables another way.
// - Names and the target's uniqueness are checked before the insert in the same transaction,
//   so each conflict has its own message; the keys stay the guarantee.
// - The checks and the change of every write run on the single writer: no other write, of this
//   store or of another process on the file (BEGIN IMMEDIATE), runs between them. That is what
//   keeps create_cache_rule within max_rules and gives each import job to one claimer.
// - Import ids are AUTOINCREMENT, so a pruned job's id is never handed out again and ids grow
//   with creation: "oldest first" and "newest first" are orders of the id. The queued and
//   running jobs are few next to the ended ones a registry keeps until they are pruned, so
//   claim_import walks a partial index of just those, in id order.
// - cached_tags hangs off the repository's row: deleting the repository (or a registry, or
//   garbage collection removing an empty one) forgets its tags' checks.

#include <cstddef>
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

#define BERTH_CREDENTIAL_SET_COLUMNS \
  "registry_id, name, login_server, username, sealed_password, created_at, updated_at"
#define BERTH_CACHE_RULE_COLUMNS                                                            \
  "registry_id, name, source_repository, target_repository, COALESCE(credential_set, ''), " \
  "tag_ttl_seconds, allow_push, created_at, updated_at"
#define BERTH_IMPORT_COLUMNS                                                                  \
  "id, registry_id, status, request, sealed_credentials, holder, heartbeat_at, bytes_total, " \
  "bytes_done, blobs_total, blobs_done, result, error, created_at, started_at, finished_at"

constexpr StatementSpec<UpstreamSql> kUpstreamStatements[] = {
    {UpstreamSql::registry_exists, "find registry", "SELECT 1 FROM registries WHERE id = ?1"},
    {UpstreamSql::find_credential_set, "find credential set",
     "SELECT " BERTH_CREDENTIAL_SET_COLUMNS
     " FROM credential_sets WHERE registry_id = ?1 AND name = ?2"},
    {UpstreamSql::insert_credential_set, "insert credential set",
     "INSERT INTO credential_sets (" BERTH_CREDENTIAL_SET_COLUMNS
     ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING " BERTH_CREDENTIAL_SET_COLUMNS},
    {UpstreamSql::update_credential_set, "update credential set",
     "UPDATE credential_sets SET login_server = ?3, username = ?4, sealed_password = ?5, "
     "updated_at = ?6 WHERE registry_id = ?1 AND name = ?2 "
     "RETURNING " BERTH_CREDENTIAL_SET_COLUMNS},
    {UpstreamSql::list_credential_sets, "list credential sets",
     "SELECT " BERTH_CREDENTIAL_SET_COLUMNS
     " FROM credential_sets WHERE registry_id = ?1 ORDER BY name"},
    {UpstreamSql::credential_set_user, "find cache rule naming credential set",
     "SELECT name FROM cache_rules WHERE registry_id = ?1 AND credential_set = ?2 "
     "ORDER BY name LIMIT 1"},
    {UpstreamSql::delete_credential_set, "delete credential set",
     "DELETE FROM credential_sets WHERE registry_id = ?1 AND name = ?2"},
    {UpstreamSql::count_cache_rules, "count cache rules",
     "SELECT count(*) FROM cache_rules WHERE registry_id = ?1"},
    {UpstreamSql::find_cache_rule, "find cache rule",
     "SELECT " BERTH_CACHE_RULE_COLUMNS " FROM cache_rules WHERE registry_id = ?1 AND name = ?2"},
    {UpstreamSql::cache_rule_by_target, "find cache rule by target",
     "SELECT name FROM cache_rules WHERE registry_id = ?1 AND target_repository = ?2"},
    {UpstreamSql::insert_cache_rule, "insert cache rule",
     "INSERT INTO cache_rules (registry_id, name, source_repository, target_repository, "
     "credential_set, tag_ttl_seconds, allow_push, created_at, updated_at) "
     "VALUES (?1, ?2, ?3, ?4, NULLIF(?5, ''), ?6, ?7, ?8, ?9) "
     "RETURNING " BERTH_CACHE_RULE_COLUMNS},
    {UpstreamSql::update_cache_rule, "update cache rule",
     "UPDATE cache_rules SET credential_set = NULLIF(?3, ''), tag_ttl_seconds = ?4, "
     "allow_push = ?5, updated_at = ?6 WHERE registry_id = ?1 AND name = ?2 "
     "RETURNING " BERTH_CACHE_RULE_COLUMNS},
    {UpstreamSql::list_cache_rules, "list cache rules",
     "SELECT " BERTH_CACHE_RULE_COLUMNS " FROM cache_rules WHERE registry_id = ?1 ORDER BY name"},
    {UpstreamSql::delete_cache_rule, "delete cache rule",
     "DELETE FROM cache_rules WHERE registry_id = ?1 AND name = ?2"},
    {UpstreamSql::tag_validated_at, "find cached tag",
     "SELECT validated_at FROM cached_tags WHERE repository_id = "
     "(SELECT id FROM repositories WHERE registry_id = ?1 AND name = ?2) AND tag = ?3"},
    // No row inserted or updated: the repository does not exist.
    {UpstreamSql::set_tag_validated_at, "record cached tag",
     "INSERT INTO cached_tags (repository_id, tag, validated_at) "
     "SELECT id, ?3, ?4 FROM repositories WHERE registry_id = ?1 AND name = ?2 "
     "ON CONFLICT (repository_id, tag) DO UPDATE SET validated_at = excluded.validated_at"},
    {UpstreamSql::insert_import, "insert import job",
     "INSERT INTO import_jobs (registry_id, status, request, sealed_credentials, created_at) "
     "VALUES (?1, 'queued', ?2, ?3, ?4) RETURNING " BERTH_IMPORT_COLUMNS},
    {UpstreamSql::find_import, "find import job",
     "SELECT " BERTH_IMPORT_COLUMNS " FROM import_jobs WHERE id = ?2 AND registry_id = ?1"},
    {UpstreamSql::list_imports, "list import jobs",
     "SELECT " BERTH_IMPORT_COLUMNS
     " FROM import_jobs WHERE registry_id = ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3"},
    // ?1 holder, ?2 now, ?3 stale_before. The subquery's first condition is the partial
    // index's, word for word, so SQLite uses it.
    {UpstreamSql::claim_import, "claim import job",
     "UPDATE import_jobs SET status = 'running', holder = ?1, heartbeat_at = ?2, started_at = ?2, "
     "bytes_total = 0, bytes_done = 0, blobs_total = 0, blobs_done = 0 "
     "WHERE id = (SELECT id FROM import_jobs WHERE status IN ('queued', 'running') "
     "AND (status = 'queued' OR heartbeat_at < ?3) ORDER BY id LIMIT 1) "
     "RETURNING " BERTH_IMPORT_COLUMNS},
    {UpstreamSql::record_import_progress, "record import progress",
     "UPDATE import_jobs SET bytes_total = ?3, bytes_done = ?4, blobs_total = ?5, "
     "blobs_done = ?6, heartbeat_at = ?7 "
     "WHERE id = ?1 AND holder = ?2 AND status = 'running'"},
    {UpstreamSql::finish_import, "finish import job",
     "UPDATE import_jobs SET status = ?3, result = ?4, error = ?5, finished_at = ?6, "
     "heartbeat_at = ?6, sealed_credentials = '' "
     "WHERE id = ?1 AND holder = ?2 AND status = 'running'"},
    {UpstreamSql::prune_imports, "prune import jobs",
     "DELETE FROM import_jobs WHERE id IN (SELECT id FROM import_jobs "
     "WHERE status IN ('succeeded', 'failed') AND finished_at < ?1 ORDER BY finished_at LIMIT ?2)"},
};

#undef BERTH_CREDENTIAL_SET_COLUMNS
#undef BERTH_CACHE_RULE_COLUMNS
#undef BERTH_IMPORT_COLUMNS

static_assert(statements_in_enum_order(kUpstreamStatements),
              "kUpstreamStatements is indexed by UpstreamSql");

CredentialSet credential_set_of(const Statement& stmt) {
  return CredentialSet{
      .registry = stmt.integer(0),
      .name = std::string(stmt.text(1)),
      .login_server = std::string(stmt.text(2)),
      .username = std::string(stmt.text(3)),
      .sealed_password = std::string(stmt.text(4)),
      .created_at = stmt.integer(5),
      .updated_at = stmt.integer(6),
  };
}

CacheRule cache_rule_of(const Statement& stmt) {
  return CacheRule{
      .registry = stmt.integer(0),
      .name = std::string(stmt.text(1)),
      .source_repository = std::string(stmt.text(2)),
      .target_repository = std::string(stmt.text(3)),
      .credential_set = std::string(stmt.text(4)),
      .tag_ttl_seconds = stmt.integer(5),
      .allow_push = stmt.integer(6) != 0,
      .created_at = stmt.integer(7),
      .updated_at = stmt.integer(8),
  };
}

Result<ImportJob> import_of(const Statement& stmt) {
  auto status = stored_import_status(stmt.text(2));
  if (!status) return status.error();
  return ImportJob{
      .id = stmt.integer(0),
      .registry = stmt.integer(1),
      .status = *status,
      .request = std::string(stmt.text(3)),
      .sealed_credentials = std::string(stmt.text(4)),
      .holder = std::string(stmt.text(5)),
      .heartbeat_at = stmt.integer(6),
      .progress =
          ImportProgress{
              .bytes_total = static_cast<std::uint64_t>(stmt.integer(7)),
              .bytes_done = static_cast<std::uint64_t>(stmt.integer(8)),
              .blobs_total = static_cast<std::uint64_t>(stmt.integer(9)),
              .blobs_done = static_cast<std::uint64_t>(stmt.integer(10)),
          },
      .result = std::string(stmt.text(11)),
      .error = std::string(stmt.text(12)),
      .created_at = stmt.integer(13),
      .started_at = stmt.integer(14),
      .finished_at = stmt.integer(15),
  };
}

// The given time, or `fallback` when it is 0 (unset).
std::int64_t time_or(std::int64_t given, std::int64_t fallback) {
  return given != 0 ? given : fallback;
}

// Whether the statement `id` keyed by registry ?1 and the text ?2 has a row; its first column
// (text) in `first` when asked.
Result<bool> has_row(SqliteConnection& connection, UpstreamSql id, RegistryId registry,
                     std::string_view key, std::string* first = nullptr) {
  auto stmt = connection.statement(id);
  if (!stmt) return stmt.error();
  stmt->bind_int(1, registry).bind_text(2, key);
  auto row = stmt->step();
  if (!row) return row.error();
  if (*row && first != nullptr) *first = std::string(stmt->text(0));
  return *row;
}

// not_found unless the registry exists. Inside a write nothing deletes it before the write that
// needs it commits; a read asks it only when it found nothing, to tell "none" from "no registry".
Result<void> require_registry(SqliteConnection& connection, RegistryId registry) {
  auto stmt = connection.statement(UpstreamSql::registry_exists);
  if (!stmt) return stmt.error();
  stmt->bind_int(1, registry);
  auto row = stmt->step();
  if (!row) return row.error();
  if (!*row) return registry_not_found(registry);
  return {};
}

// The registry's row of `sql` called `name` (bound 1: registry, 2: name), read by `row_of`;
// nullopt when there is none, not_found when the registry does not exist.
template <class T, class RowOf>
Result<std::optional<T>> find_named(SqliteConnection& connection, UpstreamSql sql,
                                    RegistryId registry, std::string_view name, RowOf row_of) {
  auto stmt = connection.statement(sql);
  if (!stmt) return stmt.error();
  stmt->bind_int(1, registry).bind_text(2, name);
  auto row = stmt->step();
  if (!row) return row.error();
  if (*row) return std::optional<T>(row_of(*stmt));
  if (auto known = require_registry(connection, registry); !known) return known.error();
  return std::optional<T>();
}

// Every row of `sql` for the registry (bound 1), read by `row_of`; not_found when the
// registry does not exist.
template <class T, class RowOf>
Result<std::vector<T>> list_of_registry(SqliteConnection& connection, UpstreamSql sql,
                                        RegistryId registry, RowOf row_of) {
  auto stmt = connection.statement(sql);
  if (!stmt) return stmt.error();
  stmt->bind_int(1, registry);
  std::vector<T> items;
  for (;;) {
    auto row = stmt->step();
    if (!row) return row.error();
    if (!*row) break;
    items.push_back(row_of(*stmt));
  }
  if (items.empty()) {
    if (auto known = require_registry(connection, registry); !known) return known.error();
  }
  return items;
}

// not_found unless the registry has the credential set `name`; an empty name (anonymous)
// needs none.
Result<void> require_credential_set(SqliteConnection& connection, RegistryId registry,
                                    std::string_view name) {
  if (name.empty()) return {};
  auto found = has_row(connection, UpstreamSql::find_credential_set, registry, name);
  if (!found) return found.error();
  if (!*found) return credential_set_not_found(name);
  return {};
}

// limit_reached when the registry holds `max` cache rules already.
Result<void> require_rule_room(SqliteConnection& connection, RegistryId registry, std::size_t max) {
  auto stmt = connection.statement(UpstreamSql::count_cache_rules);
  if (!stmt) return stmt.error();
  stmt->bind_int(1, registry);
  auto row = stmt->step();
  if (!row) return row.error();
  const auto held = *row ? static_cast<std::uint64_t>(stmt->integer(0)) : 0;
  if (held < max) return {};
  return cache_rules_limit_reached(held);
}

// conflict when the rule's name or target repository is taken in its registry.
Result<void> require_free_rule(SqliteConnection& connection, const CacheRule& rule) {
  auto named_so = has_row(connection, UpstreamSql::find_cache_rule, rule.registry, rule.name);
  if (!named_so) return named_so.error();
  if (*named_so) return cache_rule_exists(rule.name);
  std::string holder;
  auto targeted = has_row(connection, UpstreamSql::cache_rule_by_target, rule.registry,
                          rule.target_repository, &holder);
  if (!targeted) return targeted.error();
  if (*targeted) return cache_rule_target_taken(rule.target_repository, holder);
  return {};
}

}  // namespace

const StatementSpec<UpstreamSql>& spec_of(UpstreamSql id) {
  return kUpstreamStatements[static_cast<std::size_t>(id)];
}

// --- credential sets ---

Result<CredentialSet> SqliteMetadataStore::create_credential_set(const CredentialSet& set) {
  if (auto bad = check_credential_set(set)) return *bad;
  const std::int64_t created_at = time_or(set.created_at, unix_now());
  std::optional<CredentialSet> saved;
  auto written = write([&](SqliteConnection& connection) -> Result<void> {
    saved.reset();
    if (auto found = require_registry(connection, set.registry); !found) return found;
    auto taken = has_row(connection, UpstreamSql::find_credential_set, set.registry, set.name);
    if (!taken) return taken.error();
    if (*taken) return credential_set_exists(set.name);
    auto stmt = connection.statement(UpstreamSql::insert_credential_set);
    if (!stmt) return stmt.error();
    stmt->bind_int(1, set.registry)
        .bind_text(2, set.name)
        .bind_text(3, set.login_server)
        .bind_text(4, set.username)
        .bind_text(5, set.sealed_password)
        .bind_int(6, created_at)
        .bind_int(7, time_or(set.updated_at, created_at));
    auto row = stmt->step();
    if (!row) return row.error();
    if (*row) saved = credential_set_of(*stmt);
    return {};
  });
  if (!written) return written.error();
  if (!saved) return credential_set_not_found(set.name);
  return *saved;
}

Result<CredentialSet> SqliteMetadataStore::update_credential_set(const CredentialSet& set) {
  if (auto bad = check_credential_set(set)) return *bad;
  const std::int64_t updated_at = time_or(set.updated_at, unix_now());
  std::optional<CredentialSet> saved;
  auto written = write([&](SqliteConnection& connection) -> Result<void> {
    saved.reset();
    if (auto found = require_registry(connection, set.registry); !found) return found;
    auto stmt = connection.statement(UpstreamSql::update_credential_set);
    if (!stmt) return stmt.error();
    stmt->bind_int(1, set.registry)
        .bind_text(2, set.name)
        .bind_text(3, set.login_server)
        .bind_text(4, set.username)
        .bind_text(5, set.sealed_password)
        .bind_int(6, updated_at);
    auto row = stmt->step();
    if (!row) return row.error();
    if (*row) saved = credential_set_of(*stmt);
    return {};
  });
  if (!written) return written.error();
  if (!saved) return credential_set_not_found(set.name);
  return *saved;
}

Result<std::optional<CredentialSet>> SqliteMetadataStore::find_credential_set(
    RegistryId registry, std::string_view name) {
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  return find_named<CredentialSet>(reader->connection(), UpstreamSql::find_credential_set,
                                   registry, name, credential_set_of);
}

Result<std::vector<CredentialSet>> SqliteMetadataStore::list_credential_sets(RegistryId registry) {
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  return list_of_registry<CredentialSet>(reader->connection(), UpstreamSql::list_credential_sets,
                                         registry, credential_set_of);
}

Result<bool> SqliteMetadataStore::delete_credential_set(RegistryId registry,
                                                        std::string_view name) {
  bool removed = false;
  auto written = write([&](SqliteConnection& connection) -> Result<void> {
    removed = false;
    std::string rule;
    auto used = has_row(connection, UpstreamSql::credential_set_user, registry, name, &rule);
    if (!used) return used.error();
    if (*used) return credential_set_in_use(name, rule);
    auto stmt = connection.statement(UpstreamSql::delete_credential_set);
    if (!stmt) return stmt.error();
    stmt->bind_int(1, registry).bind_text(2, name);
    if (auto done = stmt->run(); !done) return done;
    removed = sqlite3_changes(connection.db()) > 0;
    return removed ? Result<void>() : require_registry(connection, registry);
  });
  if (!written) return written.error();
  return removed;
}

// --- cache rules ---

Result<CacheRule> SqliteMetadataStore::create_cache_rule(const CacheRule& rule,
                                                         std::size_t max_rules) {
  if (auto bad = check_cache_rule(rule)) return *bad;
  const std::int64_t created_at = time_or(rule.created_at, unix_now());
  std::optional<CacheRule> saved;
  auto written = write([&](SqliteConnection& connection) -> Result<void> {
    saved.reset();
    if (auto found = require_registry(connection, rule.registry); !found) return found;
    if (auto free = require_free_rule(connection, rule); !free) return free;
    if (auto found = require_credential_set(connection, rule.registry, rule.credential_set);
        !found) {
      return found;
    }
    if (auto room = require_rule_room(connection, rule.registry, max_rules); !room) return room;
    auto stmt = connection.statement(UpstreamSql::insert_cache_rule);
    if (!stmt) return stmt.error();
    stmt->bind_int(1, rule.registry)
        .bind_text(2, rule.name)
        .bind_text(3, rule.source_repository)
        .bind_text(4, rule.target_repository)
        .bind_text(5, rule.credential_set)
        .bind_int(6, rule.tag_ttl_seconds)
        .bind_int(7, rule.allow_push ? 1 : 0)
        .bind_int(8, created_at)
        .bind_int(9, time_or(rule.updated_at, created_at));
    auto row = stmt->step();
    if (!row) return row.error();
    if (*row) saved = cache_rule_of(*stmt);
    return {};
  });
  if (!written) return written.error();
  if (!saved) return cache_rule_not_found(rule.name);
  return *saved;
}

Result<CacheRule> SqliteMetadataStore::update_cache_rule(const CacheRule& rule) {
  if (auto bad = check_cache_rule_change(rule)) return *bad;
  const std::int64_t updated_at = time_or(rule.updated_at, unix_now());
  std::optional<CacheRule> saved;
  auto written = write([&](SqliteConnection& connection) -> Result<void> {
    saved.reset();
    if (auto found = require_registry(connection, rule.registry); !found) return found;
    auto exists = has_row(connection, UpstreamSql::find_cache_rule, rule.registry, rule.name);
    if (!exists) return exists.error();
    if (!*exists) return cache_rule_not_found(rule.name);
    if (auto found = require_credential_set(connection, rule.registry, rule.credential_set);
        !found) {
      return found;
    }
    auto stmt = connection.statement(UpstreamSql::update_cache_rule);
    if (!stmt) return stmt.error();
    stmt->bind_int(1, rule.registry)
        .bind_text(2, rule.name)
        .bind_text(3, rule.credential_set)
        .bind_int(4, rule.tag_ttl_seconds)
        .bind_int(5, rule.allow_push ? 1 : 0)
        .bind_int(6, updated_at);
    auto row = stmt->step();
    if (!row) return row.error();
    if (*row) saved = cache_rule_of(*stmt);
    return {};
  });
  if (!written) return written.error();
  if (!saved) return cache_rule_not_found(rule.name);
  return *saved;
}

Result<std::optional<CacheRule>> SqliteMetadataStore::find_cache_rule(RegistryId registry,
                                                                      std::string_view name) {
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  return find_named<CacheRule>(reader->connection(), UpstreamSql::find_cache_rule, registry,
                               name, cache_rule_of);
}

Result<std::vector<CacheRule>> SqliteMetadataStore::list_cache_rules(RegistryId registry) {
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  return list_of_registry<CacheRule>(reader->connection(), UpstreamSql::list_cache_rules,
                                     registry, cache_rule_of);
}

Result<bool> SqliteMetadataStore::delete_cache_rule(RegistryId registry, std::string_view name) {
  bool removed = false;
  auto written = write([&](SqliteConnection& connection) -> Result<void> {
    auto stmt = connection.statement(UpstreamSql::delete_cache_rule);
    if (!stmt) return stmt.error();
    stmt->bind_int(1, registry).bind_text(2, name);
    if (auto done = stmt->run(); !done) return done;
    removed = sqlite3_changes(connection.db()) > 0;
    return removed ? Result<void>() : require_registry(connection, registry);
  });
  if (!written) return written.error();
  return removed;
}

// --- cached tags ---

Result<std::optional<std::int64_t>> SqliteMetadataStore::tag_validated_at(RepositoryRef repository,
                                                                          std::string_view tag) {
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(UpstreamSql::tag_validated_at);
  if (!stmt) return stmt.error();
  stmt->bind_repository(repository).bind_text(3, tag);
  auto row = stmt->step();
  if (!row) return row.error();
  if (!*row) return std::optional<std::int64_t>();
  return std::optional<std::int64_t>(stmt->integer(0));
}

Result<void> SqliteMetadataStore::set_tag_validated_at(RepositoryRef repository,
                                                       std::string_view tag, std::int64_t at) {
  if (auto bad = check_repository(repository)) return *bad;
  if (auto bad = check_not_empty(tag, "tag")) return *bad;
  bool recorded = false;
  auto written = write([&](SqliteConnection& connection) -> Result<void> {
    auto stmt = connection.statement(UpstreamSql::set_tag_validated_at);
    if (!stmt) return stmt.error();
    stmt->bind_repository(repository).bind_text(3, tag).bind_int(4, at);
    if (auto done = stmt->run(); !done) return done;
    recorded = sqlite3_changes(connection.db()) > 0;
    return {};
  });
  if (!written) return written.error();
  if (!recorded) return repository_not_found(repository);
  return {};
}

// --- import jobs ---

Result<ImportJob> SqliteMetadataStore::create_import(const ImportJob& job) {
  const std::int64_t created_at = time_or(job.created_at, unix_now());
  std::optional<ImportJob> saved;
  auto written = write([&](SqliteConnection& connection) -> Result<void> {
    saved.reset();
    if (auto found = require_registry(connection, job.registry); !found) return found;
    auto stmt = connection.statement(UpstreamSql::insert_import);
    if (!stmt) return stmt.error();
    stmt->bind_int(1, job.registry)
        .bind_text(2, job.request)
        .bind_text(3, job.sealed_credentials)
        .bind_int(4, created_at);
    auto row = stmt->step();
    if (!row) return row.error();
    if (!*row) return registry_not_found(job.registry);
    auto stored = import_of(*stmt);
    if (!stored) return stored.error();
    saved = std::move(*stored);
    return {};
  });
  if (!written) return written.error();
  return std::move(*saved);
}

Result<std::optional<ImportJob>> SqliteMetadataStore::find_import(RegistryId registry,
                                                                  std::int64_t id) {
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(UpstreamSql::find_import);
  if (!stmt) return stmt.error();
  stmt->bind_int(1, registry).bind_int(2, id);
  auto row = stmt->step();
  if (!row) return row.error();
  if (!*row) return std::optional<ImportJob>();
  auto job = import_of(*stmt);
  if (!job) return job.error();
  return std::optional<ImportJob>(std::move(*job));
}

Result<std::vector<ImportJob>> SqliteMetadataStore::list_imports(RegistryId registry,
                                                                 std::optional<std::int64_t> before,
                                                                 std::size_t limit) {
  std::vector<ImportJob> jobs;
  if (limit == 0) return jobs;
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(UpstreamSql::list_imports);
  if (!stmt) return stmt.error();
  stmt->bind_int(1, registry)
      .bind_int(2, before.value_or(std::numeric_limits<std::int64_t>::max()))
      .bind_int(3, sql_limit(limit));
  jobs.reserve(initial_capacity(limit));
  for (;;) {
    auto row = stmt->step();
    if (!row) return row.error();
    if (!*row) return jobs;
    auto job = import_of(*stmt);
    if (!job) return job.error();
    jobs.push_back(std::move(*job));
  }
}

Result<std::optional<ImportJob>> SqliteMetadataStore::claim_import(std::string_view holder,
                                                                   std::int64_t now,
                                                                   std::int64_t stale_before) {
  if (auto bad = check_import_holder(holder)) return *bad;
  std::optional<ImportJob> claimed;
  auto written = write([&](SqliteConnection& connection) -> Result<void> {
    claimed.reset();
    auto stmt = connection.statement(UpstreamSql::claim_import);
    if (!stmt) return stmt.error();
    stmt->bind_text(1, holder).bind_int(2, now).bind_int(3, stale_before);
    auto row = stmt->step();
    if (!row) return row.error();
    if (!*row) return {};
    auto job = import_of(*stmt);
    if (!job) return job.error();
    claimed = std::move(*job);
    return {};
  });
  if (!written) return written.error();
  return claimed;
}

Result<bool> SqliteMetadataStore::record_import_progress(std::int64_t id, std::string_view holder,
                                                         const ImportProgress& progress,
                                                         std::int64_t now) {
  if (auto bad = check_import_holder(holder)) return *bad;
  bool recorded = false;
  auto written = write([&](SqliteConnection& connection) -> Result<void> {
    auto stmt = connection.statement(UpstreamSql::record_import_progress);
    if (!stmt) return stmt.error();
    stmt->bind_int(1, id)
        .bind_text(2, holder)
        .bind_int(3, stored_count(progress.bytes_total))
        .bind_int(4, stored_count(progress.bytes_done))
        .bind_int(5, stored_count(progress.blobs_total))
        .bind_int(6, stored_count(progress.blobs_done))
        .bind_int(7, now);
    if (auto done = stmt->run(); !done) return done;
    recorded = sqlite3_changes(connection.db()) > 0;
    return {};
  });
  if (!written) return written.error();
  return recorded;
}

Result<bool> SqliteMetadataStore::finish_import(std::int64_t id, std::string_view holder,
                                                ImportStatus status, std::string_view result,
                                                std::string_view error, std::int64_t now) {
  if (auto bad = check_import_holder(holder)) return *bad;
  if (auto bad = check_import_end(status)) return *bad;
  bool finished = false;
  auto written = write([&](SqliteConnection& connection) -> Result<void> {
    auto stmt = connection.statement(UpstreamSql::finish_import);
    if (!stmt) return stmt.error();
    stmt->bind_int(1, id)
        .bind_text(2, holder)
        .bind_text(3, import_status_name(status))
        .bind_text(4, result)
        .bind_text(5, error)
        .bind_int(6, now);
    if (auto done = stmt->run(); !done) return done;
    finished = sqlite3_changes(connection.db()) > 0;
    return {};
  });
  if (!written) return written.error();
  return finished;
}

Result<std::size_t> SqliteMetadataStore::prune_imports(std::int64_t before, std::size_t limit) {
  std::size_t pruned = 0;
  if (limit == 0) return pruned;
  auto written = write([&](SqliteConnection& connection) -> Result<void> {
    auto stmt = connection.statement(UpstreamSql::prune_imports);
    if (!stmt) return stmt.error();
    stmt->bind_int(1, before).bind_int(2, sql_limit(limit));
    if (auto done = stmt->run(); !done) return done;
    pruned = static_cast<std::size_t>(sqlite3_changes(connection.db()));
    return {};
  });
  if (!written) return written.error();
  return pruned;
}

}  // namespace berth::metadata
