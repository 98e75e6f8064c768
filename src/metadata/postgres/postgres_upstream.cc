// PostgresMetadataStore: the UpstreamStore part (upstream_store.h): credential sets, cache rules,
// when cached tags were last checked, and import jobs, shared by the nodes of a deployment.
// Tables in postgres_schema.cc (version 3); sqlite_upstream.cc explains the shape, which is the
// same.
//
// Why it holds with several nodes:
// - Every write is one SERIALIZABLE transaction (postgres_connection.h). create_cache_rule
//   counts the registry's rules, checks the name, the target and the credential set, and
//   inserts, in one transaction: two nodes creating the last allowed rule at once each read
//   what the other writes, so PostgreSQL aborts one of them and the retry counts the other's
//   rule. delete_credential_set and a create or update naming the set meet the same way.
// - claim_import locks the job it takes (FOR UPDATE SKIP LOCKED): a concurrent claimer skips a
//   job another transaction is taking rather than queueing behind it, and one that saw the job
//   queued in its snapshot after another claimed and committed it is aborted (locking a row
//   changed since the snapshot is a serialization failure) and retried on a fresh snapshot. So
//   each job goes to one claimer.
// - Progress and the end of a job are updates guarded by the holder and the running status:
//   once another node took the job over, the first holder's updates match nothing.
// - A job's error is bytea: it may carry what an upstream answered, unchecked (as gc_runs.error).

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "metadata/postgres/postgres_connection.h"
#include "metadata/postgres/postgres_internal.h"
#include "metadata/postgres/postgres_metadata_store.h"

namespace berth::metadata {
namespace postgres {
namespace {

#define BERTH_PG_CREDENTIAL_SET_COLUMNS \
  "registry_id, name, login_server, username, sealed_password, created_at, updated_at"
#define BERTH_PG_CACHE_RULE_COLUMNS                                                         \
  "registry_id, name, source_repository, target_repository, COALESCE(credential_set, ''), " \
  "tag_ttl_seconds, allow_push, created_at, updated_at"
#define BERTH_PG_IMPORT_COLUMNS                                                               \
  "id, registry_id, status, request, sealed_credentials, holder, heartbeat_at, bytes_total, " \
  "bytes_done, blobs_total, blobs_done, result, error, created_at, started_at, finished_at"

constexpr Statement kRegistryExists{"upstream_registry_exists",
                                    "SELECT 1 FROM registries WHERE id = $1"};
constexpr Statement kFindCredentialSet{
    "find_credential_set", "SELECT " BERTH_PG_CREDENTIAL_SET_COLUMNS
                           " FROM credential_sets WHERE registry_id = $1 AND name = $2"};
constexpr Statement kInsertCredentialSet{
    "insert_credential_set",
    "INSERT INTO credential_sets (" BERTH_PG_CREDENTIAL_SET_COLUMNS
    ") VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING " BERTH_PG_CREDENTIAL_SET_COLUMNS};
constexpr Statement kUpdateCredentialSet{
    "update_credential_set",
    "UPDATE credential_sets SET login_server = $3, username = $4, sealed_password = $5, "
    "updated_at = $6 WHERE registry_id = $1 AND name = $2 "
    "RETURNING " BERTH_PG_CREDENTIAL_SET_COLUMNS};
constexpr Statement kListCredentialSets{
    "list_credential_sets", "SELECT " BERTH_PG_CREDENTIAL_SET_COLUMNS
                            " FROM credential_sets WHERE registry_id = $1 ORDER BY name"};
constexpr Statement kCredentialSetUser{
    "credential_set_user",
    "SELECT name FROM cache_rules WHERE registry_id = $1 AND credential_set = $2 "
    "ORDER BY name LIMIT 1"};
constexpr Statement kDeleteCredentialSet{
    "delete_credential_set", "DELETE FROM credential_sets WHERE registry_id = $1 AND name = $2"};
constexpr Statement kCountCacheRules{"count_cache_rules",
                                     "SELECT count(*) FROM cache_rules WHERE registry_id = $1"};
constexpr Statement kFindCacheRule{"find_cache_rule",
                                   "SELECT " BERTH_PG_CACHE_RULE_COLUMNS
                                   " FROM cache_rules WHERE registry_id = $1 AND name = $2"};
constexpr Statement kCacheRuleByTarget{
    "cache_rule_by_target",
    "SELECT name FROM cache_rules WHERE registry_id = $1 AND target_repository = $2"};
constexpr Statement kInsertCacheRule{
    "insert_cache_rule",
    "INSERT INTO cache_rules (registry_id, name, source_repository, target_repository, "
    "credential_set, tag_ttl_seconds, allow_push, created_at, updated_at) "
    "VALUES ($1, $2, $3, $4, NULLIF($5::text, ''), $6, $7, $8, $9) "
    "RETURNING " BERTH_PG_CACHE_RULE_COLUMNS};
constexpr Statement kUpdateCacheRule{
    "update_cache_rule",
    "UPDATE cache_rules SET credential_set = NULLIF($3::text, ''), tag_ttl_seconds = $4, "
    "allow_push = $5, updated_at = $6 WHERE registry_id = $1 AND name = $2 "
    "RETURNING " BERTH_PG_CACHE_RULE_COLUMNS};
constexpr Statement kListCacheRules{"list_cache_rules",
                                    "SELECT " BERTH_PG_CACHE_RULE_COLUMNS
                                    " FROM cache_rules WHERE registry_id = $1 ORDER BY name"};
constexpr Statement kDeleteCacheRule{
    "delete_cache_rule", "DELETE FROM cache_rules WHERE registry_id = $1 AND name = $2"};
constexpr Statement kTagValidatedAt{
    "tag_validated_at",
    "SELECT validated_at FROM cached_tags WHERE repository_id = " BERTH_PG_REPOSITORY_ID
    " AND tag = $3"};
// No row inserted or updated: the repository does not exist.
constexpr Statement kSetTagValidatedAt{
    "set_tag_validated_at",
    "INSERT INTO cached_tags (repository_id, tag, validated_at) "
    "SELECT id, $3, $4 FROM repositories WHERE registry_id = $1 AND name = $2 "
    "ON CONFLICT (repository_id, tag) DO UPDATE SET validated_at = excluded.validated_at"};
constexpr Statement kInsertImport{
    "insert_import",
    "INSERT INTO import_jobs (registry_id, status, request, sealed_credentials, created_at) "
    "VALUES ($1, 'queued', $2, $3, $4) RETURNING " BERTH_PG_IMPORT_COLUMNS};
constexpr Statement kFindImport{"find_import", "SELECT " BERTH_PG_IMPORT_COLUMNS
                                               " FROM import_jobs WHERE id = $2 AND "
                                               "registry_id = $1"};
constexpr Statement kListImports{
    "list_imports",
    "SELECT " BERTH_PG_IMPORT_COLUMNS
    " FROM import_jobs WHERE registry_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3"};
// $1 holder, $2 now, $3 stale_before.
constexpr Statement kClaimImport{
    "claim_import",
    "UPDATE import_jobs SET status = 'running', holder = $1, heartbeat_at = $2, "
    "started_at = $2, bytes_total = 0, bytes_done = 0, blobs_total = 0, blobs_done = 0 "
    "WHERE id = (SELECT id FROM import_jobs WHERE status IN ('queued', 'running') "
    "AND (status = 'queued' OR heartbeat_at < $3) ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) "
    "RETURNING " BERTH_PG_IMPORT_COLUMNS};
constexpr Statement kRecordImportProgress{
    "record_import_progress",
    "UPDATE import_jobs SET bytes_total = $3, bytes_done = $4, blobs_total = $5, "
    "blobs_done = $6, heartbeat_at = $7 WHERE id = $1 AND holder = $2 AND status = 'running'"};
constexpr Statement kFinishImport{
    "finish_import",
    "UPDATE import_jobs SET status = $3, result = $4, error = $5, finished_at = $6, "
    "heartbeat_at = $6, sealed_credentials = '' "
    "WHERE id = $1 AND holder = $2 AND status = 'running'"};
constexpr Statement kPruneImports{
    "prune_imports",
    "DELETE FROM import_jobs WHERE id IN (SELECT id FROM import_jobs "
    "WHERE status IN ('succeeded', 'failed') AND finished_at < $1 ORDER BY finished_at LIMIT $2)"};

#undef BERTH_PG_CREDENTIAL_SET_COLUMNS
#undef BERTH_PG_CACHE_RULE_COLUMNS
#undef BERTH_PG_IMPORT_COLUMNS

CredentialSet credential_set_of(const pqxx::row& row) {
  return CredentialSet{
      .registry = row[0].as<std::int64_t>(),
      .name = text_of(row[1]),
      .login_server = text_of(row[2]),
      .username = text_of(row[3]),
      .sealed_password = text_of(row[4]),
      .created_at = row[5].as<std::int64_t>(),
      .updated_at = row[6].as<std::int64_t>(),
  };
}

CacheRule cache_rule_of(const pqxx::row& row) {
  return CacheRule{
      .registry = row[0].as<std::int64_t>(),
      .name = text_of(row[1]),
      .source_repository = text_of(row[2]),
      .target_repository = text_of(row[3]),
      .credential_set = text_of(row[4]),
      .tag_ttl_seconds = row[5].as<std::int64_t>(),
      .allow_push = row[6].as<bool>(),
      .created_at = row[7].as<std::int64_t>(),
      .updated_at = row[8].as<std::int64_t>(),
  };
}

std::uint64_t count_of(const pqxx::field& field) {
  return static_cast<std::uint64_t>(field.as<std::int64_t>());
}

Result<ImportJob> import_of(const pqxx::row& row) {
  auto status = stored_import_status(text_of(row[2]));
  if (!status) return status.error();
  return ImportJob{
      .id = row[0].as<std::int64_t>(),
      .registry = row[1].as<std::int64_t>(),
      .status = *status,
      .request = text_of(row[3]),
      .sealed_credentials = text_of(row[4]),
      .holder = text_of(row[5]),
      .heartbeat_at = row[6].as<std::int64_t>(),
      .progress =
          ImportProgress{
              .bytes_total = count_of(row[7]),
              .bytes_done = count_of(row[8]),
              .blobs_total = count_of(row[9]),
              .blobs_done = count_of(row[10]),
          },
      .result = text_of(row[11]),
      .error = bytes_of(row[12]),
      .created_at = row[13].as<std::int64_t>(),
      .started_at = row[14].as<std::int64_t>(),
      .finished_at = row[15].as<std::int64_t>(),
  };
}

// The given time, or `fallback` when it is 0 (unset).
std::int64_t time_or(std::int64_t given, std::int64_t fallback) {
  return given != 0 ? given : fallback;
}

// not_found unless the registry exists. Inside a write nothing deletes it before the write that
// needs it commits; a read asks it only when it found nothing, to tell "none" from "no registry".
Result<void> require_registry(Transaction& transaction, RegistryId registry) {
  if (transaction.exec(kRegistryExists, registry).empty()) return registry_not_found(registry);
  return {};
}

// not_found unless the registry has the credential set `name`; an empty name (anonymous)
// needs none.
Result<void> require_credential_set(Transaction& transaction, RegistryId registry,
                                    std::string_view name) {
  if (name.empty()) return {};
  if (transaction.exec(kFindCredentialSet, registry, name).empty()) {
    return credential_set_not_found(name);
  }
  return {};
}

// conflict when the rule's name or target repository is taken in its registry.
Result<void> require_free_rule(Transaction& transaction, const CacheRule& rule) {
  if (!transaction.exec(kFindCacheRule, rule.registry, rule.name).empty()) {
    return cache_rule_exists(rule.name);
  }
  pqxx::result holder = transaction.exec(kCacheRuleByTarget, rule.registry, rule.target_repository);
  if (!holder.empty()) {
    return cache_rule_target_taken(rule.target_repository, text_of(holder[0][0]));
  }
  return {};
}

// limit_reached when the registry holds `max` cache rules already.
Result<void> require_rule_room(Transaction& transaction, RegistryId registry, std::size_t max) {
  const auto held = transaction.exec(kCountCacheRules, registry)[0][0].as<std::uint64_t>();
  if (held < max) return {};
  return cache_rules_limit_reached(held);
}

}  // namespace
}  // namespace postgres

using namespace postgres;

// --- credential sets ---

Result<CredentialSet> PostgresMetadataStore::create_credential_set(const CredentialSet& set) {
  if (auto bad = check_credential_set(set)) return *bad;
  const std::int64_t created_at = time_or(set.created_at, unix_now());
  std::optional<CredentialSet> saved;
  auto written = database_->write([&](Transaction& transaction) -> Result<void> {
    saved.reset();
    if (auto found = require_registry(transaction, set.registry); !found) return found;
    if (!transaction.exec(kFindCredentialSet, set.registry, set.name).empty()) {
      return credential_set_exists(set.name);
    }
    pqxx::result rows = transaction.exec(kInsertCredentialSet, set.registry, set.name,
                                         set.login_server, set.username, set.sealed_password,
                                         created_at, time_or(set.updated_at, created_at));
    saved = credential_set_of(rows.at(0));
    return {};
  });
  if (!written) return written.error();
  return *saved;
}

Result<CredentialSet> PostgresMetadataStore::update_credential_set(const CredentialSet& set) {
  if (auto bad = check_credential_set(set)) return *bad;
  const std::int64_t updated_at = time_or(set.updated_at, unix_now());
  std::optional<CredentialSet> saved;
  auto written = database_->write([&](Transaction& transaction) -> Result<void> {
    saved.reset();
    if (auto found = require_registry(transaction, set.registry); !found) return found;
    pqxx::result rows =
        transaction.exec(kUpdateCredentialSet, set.registry, set.name, set.login_server,
                         set.username, set.sealed_password, updated_at);
    if (rows.empty()) return credential_set_not_found(set.name);
    saved = credential_set_of(rows[0]);
    return {};
  });
  if (!written) return written.error();
  return *saved;
}

Result<std::optional<CredentialSet>> PostgresMetadataStore::find_credential_set(
    RegistryId registry, std::string_view name) {
  std::optional<CredentialSet> set;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    pqxx::result rows = transaction.exec(kFindCredentialSet, registry, name);
    set.reset();
    if (rows.empty()) return require_registry(transaction, registry);
    set = credential_set_of(rows[0]);
    return {};
  });
  if (!read) return read.error();
  return set;
}

Result<std::vector<CredentialSet>> PostgresMetadataStore::list_credential_sets(
    RegistryId registry) {
  std::vector<CredentialSet> sets;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    sets.clear();
    for (const pqxx::row& row : transaction.exec(kListCredentialSets, registry)) {
      sets.push_back(credential_set_of(row));
    }
    return sets.empty() ? require_registry(transaction, registry) : Result<void>();
  });
  if (!read) return read.error();
  return sets;
}

Result<bool> PostgresMetadataStore::delete_credential_set(RegistryId registry,
                                                          std::string_view name) {
  bool removed = false;
  auto written = database_->write([&](Transaction& transaction) -> Result<void> {
    pqxx::result user = transaction.exec(kCredentialSetUser, registry, name);
    if (!user.empty()) return credential_set_in_use(name, text_of(user[0][0]));
    removed = transaction.exec(kDeleteCredentialSet, registry, name).affected_rows() > 0;
    return removed ? Result<void>() : require_registry(transaction, registry);
  });
  if (!written) return written.error();
  return removed;
}

// --- cache rules ---

Result<CacheRule> PostgresMetadataStore::create_cache_rule(const CacheRule& rule,
                                                           std::size_t max_rules) {
  if (auto bad = check_cache_rule(rule)) return *bad;
  const std::int64_t created_at = time_or(rule.created_at, unix_now());
  std::optional<CacheRule> saved;
  auto written = database_->write([&](Transaction& transaction) -> Result<void> {
    saved.reset();
    if (auto found = require_registry(transaction, rule.registry); !found) return found;
    if (auto free = require_free_rule(transaction, rule); !free) return free;
    if (auto found = require_credential_set(transaction, rule.registry, rule.credential_set);
        !found) {
      return found;
    }
    if (auto room = require_rule_room(transaction, rule.registry, max_rules); !room) return room;
    pqxx::result rows =
        transaction.exec(kInsertCacheRule, rule.registry, rule.name, rule.source_repository,
                         rule.target_repository, rule.credential_set, rule.tag_ttl_seconds,
                         rule.allow_push, created_at, time_or(rule.updated_at, created_at));
    saved = cache_rule_of(rows.at(0));
    return {};
  });
  if (!written) return written.error();
  return *saved;
}

Result<CacheRule> PostgresMetadataStore::update_cache_rule(const CacheRule& rule) {
  if (auto bad = check_cache_rule_change(rule)) return *bad;
  const std::int64_t updated_at = time_or(rule.updated_at, unix_now());
  std::optional<CacheRule> saved;
  auto written = database_->write([&](Transaction& transaction) -> Result<void> {
    saved.reset();
    if (auto found = require_registry(transaction, rule.registry); !found) return found;
    if (transaction.exec(kFindCacheRule, rule.registry, rule.name).empty()) {
      return cache_rule_not_found(rule.name);
    }
    if (auto found = require_credential_set(transaction, rule.registry, rule.credential_set);
        !found) {
      return found;
    }
    pqxx::result rows =
        transaction.exec(kUpdateCacheRule, rule.registry, rule.name, rule.credential_set,
                         rule.tag_ttl_seconds, rule.allow_push, updated_at);
    if (rows.empty()) return cache_rule_not_found(rule.name);
    saved = cache_rule_of(rows[0]);
    return {};
  });
  if (!written) return written.error();
  return *saved;
}

Result<std::optional<CacheRule>> PostgresMetadataStore::find_cache_rule(RegistryId registry,
                                                                        std::string_view name) {
  std::optional<CacheRule> rule;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    pqxx::result rows = transaction.exec(kFindCacheRule, registry, name);
    rule.reset();
    if (rows.empty()) return require_registry(transaction, registry);
    rule = cache_rule_of(rows[0]);
    return {};
  });
  if (!read) return read.error();
  return rule;
}

Result<std::vector<CacheRule>> PostgresMetadataStore::list_cache_rules(RegistryId registry) {
  std::vector<CacheRule> rules;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    rules.clear();
    for (const pqxx::row& row : transaction.exec(kListCacheRules, registry)) {
      rules.push_back(cache_rule_of(row));
    }
    return rules.empty() ? require_registry(transaction, registry) : Result<void>();
  });
  if (!read) return read.error();
  return rules;
}

Result<bool> PostgresMetadataStore::delete_cache_rule(RegistryId registry, std::string_view name) {
  bool removed = false;
  auto written = database_->write([&](Transaction& transaction) -> Result<void> {
    removed = transaction.exec(kDeleteCacheRule, registry, name).affected_rows() > 0;
    return removed ? Result<void>() : require_registry(transaction, registry);
  });
  if (!written) return written.error();
  return removed;
}

// --- cached tags ---

Result<std::optional<std::int64_t>> PostgresMetadataStore::tag_validated_at(
    RepositoryRef repository, std::string_view tag) {
  std::optional<std::int64_t> at;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    pqxx::result rows =
        transaction.exec(kTagValidatedAt, repository.registry, repository.name, tag);
    at.reset();
    if (!rows.empty()) at = rows[0][0].as<std::int64_t>();
    return {};
  });
  if (!read) return read.error();
  return at;
}

Result<void> PostgresMetadataStore::set_tag_validated_at(RepositoryRef repository,
                                                         std::string_view tag, std::int64_t at) {
  if (auto bad = check_repository(repository)) return *bad;
  if (auto bad = check_not_empty(tag, "tag")) return *bad;
  return database_->write([&](Transaction& transaction) -> Result<void> {
    if (transaction.exec(kSetTagValidatedAt, repository.registry, repository.name, tag, at)
            .affected_rows() == 0) {
      return repository_not_found(repository);
    }
    return {};
  });
}

// --- import jobs ---

Result<ImportJob> PostgresMetadataStore::create_import(const ImportJob& job) {
  const std::int64_t created_at = time_or(job.created_at, unix_now());
  std::optional<ImportJob> saved;
  auto written = database_->write([&](Transaction& transaction) -> Result<void> {
    saved.reset();
    if (auto found = require_registry(transaction, job.registry); !found) return found;
    pqxx::result rows = transaction.exec(kInsertImport, job.registry, job.request,
                                         job.sealed_credentials, created_at);
    auto stored = import_of(rows.at(0));
    if (!stored) return stored.error();
    saved = std::move(*stored);
    return {};
  });
  if (!written) return written.error();
  return std::move(*saved);
}

Result<std::optional<ImportJob>> PostgresMetadataStore::find_import(RegistryId registry,
                                                                    std::int64_t id) {
  std::optional<ImportJob> job;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    pqxx::result rows = transaction.exec(kFindImport, registry, id);
    job.reset();
    if (rows.empty()) return {};
    auto stored = import_of(rows[0]);
    if (!stored) return stored.error();
    job = std::move(*stored);
    return {};
  });
  if (!read) return read.error();
  return job;
}

Result<std::vector<ImportJob>> PostgresMetadataStore::list_imports(
    RegistryId registry, std::optional<std::int64_t> before, std::size_t limit) {
  std::vector<ImportJob> jobs;
  if (limit == 0) return jobs;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    jobs.clear();
    pqxx::result rows = transaction.exec(kListImports, registry,
                                         before.value_or(std::numeric_limits<std::int64_t>::max()),
                                         sql_limit(limit));
    for (const pqxx::row& row : rows) {
      auto job = import_of(row);
      if (!job) return job.error();
      jobs.push_back(std::move(*job));
    }
    return {};
  });
  if (!read) return read.error();
  return jobs;
}

Result<std::optional<ImportJob>> PostgresMetadataStore::claim_import(std::string_view holder,
                                                                     std::int64_t now,
                                                                     std::int64_t stale_before) {
  if (auto bad = check_import_holder(holder)) return *bad;
  std::optional<ImportJob> claimed;
  auto written = database_->write([&](Transaction& transaction) -> Result<void> {
    claimed.reset();
    pqxx::result rows = transaction.exec(kClaimImport, holder, now, stale_before);
    if (rows.empty()) return {};
    auto job = import_of(rows[0]);
    if (!job) return job.error();
    claimed = std::move(*job);
    return {};
  });
  if (!written) return written.error();
  return claimed;
}

Result<bool> PostgresMetadataStore::record_import_progress(std::int64_t id, std::string_view holder,
                                                           const ImportProgress& progress,
                                                           std::int64_t now) {
  if (auto bad = check_import_holder(holder)) return *bad;
  bool recorded = false;
  auto written = database_->write([&](Transaction& transaction) -> Result<void> {
    recorded = transaction
                   .exec(kRecordImportProgress, id, holder, stored_count(progress.bytes_total),
                         stored_count(progress.bytes_done), stored_count(progress.blobs_total),
                         stored_count(progress.blobs_done), now)
                   .affected_rows() > 0;
    return {};
  });
  if (!written) return written.error();
  return recorded;
}

Result<bool> PostgresMetadataStore::finish_import(std::int64_t id, std::string_view holder,
                                                  ImportStatus status, std::string_view result,
                                                  std::string_view error, std::int64_t now) {
  if (auto bad = check_import_holder(holder)) return *bad;
  if (auto bad = check_import_end(status)) return *bad;
  bool finished = false;
  auto written = database_->write([&](Transaction& transaction) -> Result<void> {
    finished = transaction
                   .exec(kFinishImport, id, holder, std::string_view(import_status_name(status)),
                         result, bytes(error), now)
                   .affected_rows() > 0;
    return {};
  });
  if (!written) return written.error();
  return finished;
}

Result<std::size_t> PostgresMetadataStore::prune_imports(std::int64_t before, std::size_t limit) {
  std::size_t pruned = 0;
  if (limit == 0) return pruned;
  auto written = database_->write([&](Transaction& transaction) -> Result<void> {
    pruned = static_cast<std::size_t>(
        transaction.exec(kPruneImports, before, sql_limit(limit)).affected_rows());
    return {};
  });
  if (!written) return written.error();
  return pruned;
}

std::vector<Statement> postgres::planned_upstream_statements() {
  return {kFindCredentialSet, kListCredentialSets, kCredentialSetUser, kFindCacheRule,
          kCacheRuleByTarget, kListCacheRules,     kTagValidatedAt,    kFindImport,
          kListImports,       kClaimImport,        kPruneImports};
}

}  // namespace berth::metadata
