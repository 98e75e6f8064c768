#pragma once
// UpstreamStore: what berth keeps about content that comes from other registries. Backends:
// SqliteMetadataStore and PostgresMetadataStore. The conformance suite
// (metadata/upstream_conformance_test.cc) covers it, concurrent callers included.
//
// - Credential sets: per registry, a named login to an upstream registry (login server,
//   username, and the password sealed with the deployment key by the caller: the store never
//   sees it in clear). Cache rules and imports name them.
// - Cache rules: per registry, which repositories are pulled through from an upstream: the
//   source repository path on the upstream and the target path in the registry, each either
//   exact or ending in "/*" (everything below). A target path belongs to at most one rule.
// - Cached tags: when a tag that came through a cache rule was last checked against its
//   upstream, so a pull re-validates it once the rule's TTL has passed.
// - Import jobs: a copy of an image from an upstream (or another registry of the deployment)
//   that berthd runs in the background. Any node may take a queued job; a job whose node stopped
//   renewing its heartbeat is taken over by another node and runs again from the start (what the
//   first run stored is content-addressed, so it is found and skipped).
//
// Names are compared exactly (callers validate and normalise them); the stores only refuse an
// empty name, repository or holder and a negative TTL (invalid_argument). Times are Unix
// seconds.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "metadata/metadata_store.h"

namespace berth::metadata {

struct CredentialSet {
  RegistryId registry = kDefaultRegistryId;
  std::string name;
  std::string login_server;     // "host" or "host:port"
  std::string username;
  std::string sealed_password;  // sealed by the caller (auth::DeploymentKey::seal)
  std::int64_t created_at = 0;
  std::int64_t updated_at = 0;
  bool operator==(const CredentialSet&) const = default;
};

struct CacheRule {
  RegistryId registry = kDefaultRegistryId;
  std::string name;
  std::string source_repository;  // "host[:port]/path" or "host[:port]/path/*"
  std::string target_repository;  // "path" or "path/*"; unique within the registry
  std::string credential_set;     // empty: the upstream is pulled anonymously
  std::int64_t tag_ttl_seconds = 0;
  bool allow_push = false;        // pushes into the target are refused unless set
  std::int64_t created_at = 0;
  std::int64_t updated_at = 0;
  bool operator==(const CacheRule&) const = default;
};

enum class ImportStatus { queued, running, succeeded, failed };

struct ImportProgress {
  std::uint64_t bytes_total = 0;  // of the blobs to copy, as far as they are known
  std::uint64_t bytes_done = 0;
  std::uint64_t blobs_total = 0;
  std::uint64_t blobs_done = 0;
  bool operator==(const ImportProgress&) const = default;
};

struct ImportJob {
  std::int64_t id = 0;  // assigned by create_import; increasing
  RegistryId registry = kDefaultRegistryId;
  ImportStatus status = ImportStatus::queued;
  // What was asked, as the management API's JSON (source, targets, mode, credential set name):
  // never a password.
  std::string request;
  // A login given with the request itself, sealed by the caller; forgotten when the job ends.
  std::string sealed_credentials;
  std::string holder;              // the node running it; empty while queued
  std::int64_t heartbeat_at = 0;   // the holder's last sign of life
  ImportProgress progress;
  std::string result;              // JSON of what was imported (digests, tags), when it succeeded
  std::string error;               // why it failed, for people
  std::int64_t created_at = 0;
  std::int64_t started_at = 0;     // 0: not yet (the latest start when taken over)
  std::int64_t finished_at = 0;    // 0: not yet
  bool operator==(const ImportJob&) const = default;
};

class UpstreamStore {
 public:
  virtual ~UpstreamStore() = default;

  // --- credential sets (not_found for an unknown registry) ---
  // Creates the set (created_at and updated_at from `set`; 0: now); conflict when the registry
  // has one of that name.
  virtual Result<CredentialSet> create_credential_set(const CredentialSet& set) = 0;
  // Replaces login server, username and sealed password of an existing set (updated_at from
  // `set`, 0: now; created_at kept); not_found when there is none.
  virtual Result<CredentialSet> update_credential_set(const CredentialSet& set) = 0;
  virtual Result<std::optional<CredentialSet>> find_credential_set(RegistryId registry,
                                                                   std::string_view name) = 0;
  // By name.
  virtual Result<std::vector<CredentialSet>> list_credential_sets(RegistryId registry) = 0;
  // false when there was none; conflict (nothing deleted) while a cache rule names it.
  virtual Result<bool> delete_credential_set(RegistryId registry, std::string_view name) = 0;

  // --- cache rules (not_found for an unknown registry) ---
  // Creates the rule (times as create_credential_set takes them). conflict when the registry
  // has a rule of that name or with that target repository; not_found when it names a
  // credential set the registry lacks; limit_reached (nothing stored) when the registry has
  // `max_rules` rules already. The check and the insert are one transaction, so concurrent
  // creates never go past the limit.
  virtual Result<CacheRule> create_cache_rule(const CacheRule& rule, std::size_t max_rules) = 0;
  // Replaces credential set, TTL and allow_push of an existing rule (source and target stay;
  // updated_at from `rule`, 0: now); not_found when the rule or the named credential set is
  // missing.
  virtual Result<CacheRule> update_cache_rule(const CacheRule& rule) = 0;
  virtual Result<std::optional<CacheRule>> find_cache_rule(RegistryId registry,
                                                           std::string_view name) = 0;
  // By name.
  virtual Result<std::vector<CacheRule>> list_cache_rules(RegistryId registry) = 0;
  // false when there was none.
  virtual Result<bool> delete_cache_rule(RegistryId registry, std::string_view name) = 0;

  // --- cached tags ---
  // When the tag was last checked against its upstream; nullopt when never (or the repository
  // is gone).
  virtual Result<std::optional<std::int64_t>> tag_validated_at(RepositoryRef repository,
                                                               std::string_view tag) = 0;
  // Records a check; not_found when the repository does not exist. Forgotten with the
  // repository.
  virtual Result<void> set_tag_validated_at(RepositoryRef repository, std::string_view tag,
                                            std::int64_t at) = 0;

  // --- import jobs ---
  // Stores a queued job (id, status, holder, progress, result, error and times other than
  // created_at are ignored; created_at 0: now) and returns it with its id. not_found for an
  // unknown registry.
  virtual Result<ImportJob> create_import(const ImportJob& job) = 0;
  virtual Result<std::optional<ImportJob>> find_import(RegistryId registry, std::int64_t id) = 0;
  // The registry's jobs, newest first, with ids below `before` when given; at most `limit`.
  virtual Result<std::vector<ImportJob>> list_imports(RegistryId registry,
                                                      std::optional<std::int64_t> before,
                                                      std::size_t limit) = 0;
  // Takes the oldest job that is queued, or running with heartbeat_at < stale_before (its node
  // stopped): sets it running for `holder` with heartbeat_at and started_at = now and its
  // progress back to zero (it runs from the start), and returns it; nullopt when there is
  // none. Atomic: of concurrent callers on any node, each job goes to one.
  virtual Result<std::optional<ImportJob>> claim_import(std::string_view holder, std::int64_t now,
                                                        std::int64_t stale_before) = 0;
  // Records progress and renews the heartbeat; false (nothing changed) when `holder` no longer
  // runs the job (another node took it over, or it ended).
  virtual Result<bool> record_import_progress(std::int64_t id, std::string_view holder,
                                              const ImportProgress& progress,
                                              std::int64_t now) = 0;
  // Ends the job as succeeded or failed with its result or error (finished_at = now; the holder
  // stays, naming the node that ran it), and forgets its sealed credentials; false (nothing
  // changed) when `holder` no longer runs it. invalid_argument for a status that is not an end.
  virtual Result<bool> finish_import(std::int64_t id, std::string_view holder, ImportStatus status,
                                     std::string_view result, std::string_view error,
                                     std::int64_t now) = 0;
  // Forgets jobs that ended before `before`, at most `limit`; returns how many.
  virtual Result<std::size_t> prune_imports(std::int64_t before, std::size_t limit) = 0;
};

}  // namespace berth::metadata
