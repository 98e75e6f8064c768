#pragma once
// PostgresMetadataStore: the MetadataStore, AccessStore, EventStore, GcStore, LifecycleStore,
// CoordinationStore, UpstreamStore and TaskStore on PostgreSQL, for deployments of several berthd
// nodes sharing one database. Its layout follows the SQLite backend's: the schema and its
// migrations in postgres_schema.cc, the connection pool and the transaction runner in
// postgres_connection.cc, and the statements of each part in postgres_metadata_store.cc
// (content), postgres_attributes.cc, postgres_listings.cc, postgres_access_store.cc,
// postgres_event_store.cc, postgres_gc_store.cc, postgres_lifecycle.cc,
// postgres_coordination.cc, postgres_upstream.cc and postgres_tasks.cc.
//
// Concurrency: every write is one SERIALIZABLE transaction, retried from the start when
// PostgreSQL reports a conflict with a concurrent writer (of this node or another), so the
// guarantees SQLite's single writer gives hold across nodes (postgres_connection.h). Reads run
// outside transactions, each statement on one snapshot. Calls are bounded by a deadline.
//
// Durability: a call that returned success has committed; the server's settings
// (synchronous_commit, fsync) decide what survives a crash of the server.
//
// Registries: a new database starts with the default registry (kDefaultRegistryId). Writes
// that would create a repository in a registry that does not exist fail with not_found.
//
// docs/postgresql.md says what is implemented and how to run it.

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "metadata/access_store.h"
#include "metadata/coordination_store.h"
#include "metadata/event_store.h"
#include "metadata/gc_store.h"
#include "metadata/lifecycle_store.h"
#include "metadata/metadata_store.h"
#include "metadata/store.h"
#include "metadata/task_store.h"
#include "metadata/upstream_store.h"

namespace berth::metadata {

namespace postgres {
class Database;
}

struct PostgresOptions {
  // libpq's keyword=value ("host=db port=5432 dbname=berth user=berth password=...") or URI
  // form. It may hold a password: it is never logged nor put in an error message.
  std::string connection_string;
  // Connections this store opens at most (per node).
  std::size_t max_connections = 16;
  // The deadline of every call: waiting for a connection, retries after conflicts, and each
  // statement (the server's statement_timeout).
  std::chrono::milliseconds call_timeout{30'000};
  // How long the server lets a session sit idle inside a transaction before ending it, which
  // bounds how long a node that stopped mid-transaction holds locks others wait for.
  std::chrono::milliseconds idle_in_transaction_timeout{60'000};
};

class PostgresMetadataStore final : public Store {
 public:
  // Connects and brings the schema up to date (several nodes may do so at once). Errors:
  // database_error when the server cannot be reached or a migration fails; schema_too_new when
  // a newer berth migrated the database; invalid_argument without a connection string.
  static Result<std::unique_ptr<PostgresMetadataStore>> open(const PostgresOptions& options);

  // The newest schema version this build knows (the highest row of schema_version).
  static int schema_version();

  ~PostgresMetadataStore() override;
  PostgresMetadataStore(const PostgresMetadataStore&) = delete;
  PostgresMetadataStore& operator=(const PostgresMetadataStore&) = delete;

  // Connections open now, idle or in use (for tests of the pool).
  std::size_t open_connections() const;

  Result<RegistryRecord> create_registry(const RegistryRecord& registry) override;
  Result<std::optional<RegistryRecord>> find_registry(std::string_view name) override;
  Result<std::vector<RegistryRecord>> list_registries() override;
  Result<bool> update_registry(const RegistryRecord& registry) override;
  Result<bool> delete_registry(RegistryId registry) override;
  Result<std::uint64_t> registry_storage_bytes(RegistryId registry) override;

  Result<std::vector<RepositorySummary>> list_repository_summaries(RegistryId registry) override;
  Result<std::optional<RepositorySummary>> repository_summary(RepositoryRef repository) override;
  Result<bool> delete_repository(RepositoryRef repository,
                                 std::span<const EventRecord> events = {}) override;
  Result<std::vector<TagRecord>> list_tag_records(RepositoryRef repository) override;
  Result<std::vector<ManifestSummary>> list_manifest_summaries(RepositoryRef repository) override;

  Result<bool> repository_exists(RepositoryRef repository) override;
  Result<std::vector<std::string>> list_repositories(RegistryId registry, std::string_view last,
                                                     std::size_t limit) override;

  Result<void> link_blob(RepositoryRef repository, const oci::Digest& digest,
                         std::uint64_t size) override;
  Result<std::optional<std::uint64_t>> linked_blob_size(RepositoryRef repository,
                                                        const oci::Digest& digest) override;
  Result<bool> unlink_blob(RepositoryRef repository, const oci::Digest& digest) override;

  Result<void> create_upload(const UploadRecord& upload) override;
  Result<void> create_upload_within_limit(const UploadRecord& upload,
                                          std::uint64_t max_open_in_registry) override;
  Result<std::optional<UploadRecord>> get_upload(std::string_view id) override;
  Result<void> touch_upload(std::string_view id, std::int64_t now) override;
  Result<std::vector<UploadRecord>> list_idle_uploads(std::int64_t idle_since,
                                                      std::size_t limit) override;
  Result<void> delete_upload(std::string_view id) override;

  Result<void> put_manifest(RepositoryRef repository, const ManifestRecord& manifest,
                            const std::vector<ManifestReference>& references,
                            const std::optional<std::string>& tag,
                            std::span<const EventRecord> events = {}) override;
  Result<std::optional<ManifestRecord>> get_manifest(RepositoryRef repository,
                                                     const oci::Digest& digest) override;
  Result<bool> manifest_exists(RepositoryRef repository, const oci::Digest& digest) override;
  Result<std::optional<std::uint64_t>> manifest_size(RepositoryRef repository,
                                                     const oci::Digest& digest) override;
  Result<std::optional<oci::Digest>> resolve_tag(RepositoryRef repository,
                                                 std::string_view tag) override;
  Result<bool> delete_manifest(RepositoryRef repository, const oci::Digest& digest,
                               std::span<const EventRecord> events = {}) override;
  Result<bool> delete_tag(RepositoryRef repository, std::string_view tag,
                          std::span<const EventRecord> events = {}) override;
  Result<std::vector<std::string>> list_tags(RepositoryRef repository, std::string_view last,
                                             std::size_t limit) override;
  Result<std::vector<Referrer>> list_referrers(
      RepositoryRef repository, const oci::Digest& subject,
      const std::optional<std::string>& artifact_type) override;

  // Changeable attributes (postgres_attributes.cc).
  Result<std::optional<ChangeableAttributes>> repository_attributes(
      RepositoryRef repository) override;
  Result<std::optional<TagRecord>> find_tag(RepositoryRef repository,
                                            std::string_view tag) override;
  Result<std::optional<ChangeableAttributes>> manifest_attributes(
      RepositoryRef repository, const oci::Digest& digest) override;
  Result<std::optional<ChangeableAttributes>> update_repository_attributes(
      RepositoryRef repository, const AttributeChanges& changes) override;
  Result<std::optional<ChangeableAttributes>> update_tag_attributes(RepositoryRef repository,
                                                                    std::string_view tag,
                                                                    const AttributeChanges& changes,
                                                                    std::int64_t now) override;
  Result<std::optional<ChangeableAttributes>> update_manifest_attributes(
      RepositoryRef repository, const oci::Digest& digest, const AttributeChanges& changes,
      std::int64_t now) override;
  Result<std::optional<DeleteLock>> find_delete_lock(
      RepositoryRef repository, const std::optional<oci::Digest>& digest) override;

  // Paged listings in an order (postgres_listings.cc).
  Result<std::vector<TagRecord>> list_tag_page(RepositoryRef repository,
                                               const PageQuery& query) override;
  Result<std::vector<ManifestSummary>> list_manifest_page(RepositoryRef repository,
                                                          const PageQuery& query) override;
  Result<std::optional<ManifestSummary>> manifest_summary(RepositoryRef repository,
                                                          const oci::Digest& digest) override;

  // --- AccessStore (postgres_access_store.cc) ---
  Result<void> put_admin_password(RegistryId registry, const AdminPasswordRecord& record) override;
  Result<std::vector<AdminPasswordRecord>> admin_passwords(RegistryId registry) override;

  Result<void> create_scope_map(const ScopeMapRecord& record,
                                std::uint64_t max_in_registry) override;
  Result<std::optional<ScopeMapRecord>> find_scope_map(RegistryId registry,
                                                       std::string_view name) override;
  Result<std::vector<ScopeMapRecord>> list_scope_maps(RegistryId registry) override;
  Result<bool> update_scope_map(const ScopeMapRecord& record) override;
  Result<bool> delete_scope_map(RegistryId registry, std::string_view name) override;

  Result<void> create_token(const TokenRecord& record, std::uint64_t max_in_registry) override;
  Result<std::optional<TokenRecord>> find_token(RegistryId registry,
                                                std::string_view name) override;
  Result<std::vector<TokenRecord>> list_tokens(RegistryId registry) override;
  Result<bool> update_token(const TokenRecord& record) override;
  Result<bool> delete_token(RegistryId registry, std::string_view name) override;

  Result<void> create_identity(const IdentityRecord& record) override;
  Result<std::optional<IdentityRecord>> find_identity(std::string_view id) override;
  Result<std::vector<IdentityRecord>> federated_identities(std::string_view issuer) override;
  Result<std::vector<IdentityRecord>> list_identities() override;
  Result<bool> update_identity(const IdentityRecord& record) override;
  Result<bool> delete_identity(std::string_view id) override;

  Result<void> create_role_assignment(const RoleAssignmentRecord& record) override;
  Result<std::vector<RoleAssignmentRecord>> list_role_assignments(
      std::optional<RegistryId> registry, std::optional<std::string_view> identity_id) override;
  Result<bool> delete_role_assignment(std::string_view id) override;

  Result<void> add_network_rule(const NetworkRuleRecord& record,
                                std::uint64_t max_in_registry) override;
  Result<std::vector<NetworkRuleRecord>> list_network_rules(RegistryId registry) override;
  Result<bool> remove_network_rule(RegistryId registry, std::string_view address_range) override;

  Result<void> add_signing_key(const SigningKeyRecord& record) override;
  Result<std::vector<SigningKeyRecord>> list_signing_keys() override;
  Result<bool> delete_signing_key(std::string_view kid) override;

  Result<void> append_login_events(const std::vector<LoginEventRecord>& events) override;
  Result<std::vector<LoginEventRecord>> list_login_events(const LoginEventFilter& filter) override;
  Result<std::uint64_t> prune_login_events(std::int64_t before) override;

  // --- EventStore (postgres_event_store.cc) ---
  Result<void> append_events(std::span<const EventRecord> events) override;
  Result<std::vector<EventRecord>> list_events(const EventFilter& filter) override;
  Result<std::vector<EventRecord>> events_after(std::int64_t sequence, std::size_t limit) override;
  Result<std::optional<EventRecord>> find_event(RegistryId registry, std::string_view id) override;
  Result<std::uint64_t> prune_events(std::int64_t before) override;
  Result<WebhookRecord> create_webhook(const WebhookRecord& webhook,
                                       std::uint64_t max_in_registry) override;
  Result<std::optional<WebhookRecord>> find_webhook(RegistryId registry,
                                                    std::string_view name) override;
  Result<std::vector<WebhookRecord>> list_webhooks(RegistryId registry) override;
  Result<std::uint64_t> count_webhooks(RegistryId registry) override;
  Result<bool> update_webhook(RegistryId registry, std::string_view name,
                              const WebhookChanges& changes) override;
  Result<bool> delete_webhook(RegistryId registry, std::string_view name) override;
  Result<std::vector<WebhookRecord>> claim_due_webhooks(std::string_view owner, std::int64_t now,
                                                        std::int64_t lease_until,
                                                        std::size_t limit) override;
  Result<std::vector<EventRecord>> pending_events(std::int64_t webhook, std::size_t limit) override;
  Result<bool> finish_attempt(std::int64_t webhook, std::string_view owner,
                              const std::optional<DeliveryRecord>& attempt,
                              const DeliveryOutcome& outcome) override;
  Result<void> release_webhook(std::int64_t webhook, std::string_view owner) override;
  Result<std::vector<DeliveryRecord>> list_deliveries(std::int64_t webhook, std::int64_t before,
                                                      std::size_t limit) override;
  Result<OutboxStats> outbox_stats() override;

  // --- GcStore (postgres_gc_store.cc) ---
  Result<GcRun> create_gc_run(const GcRun& run) override;
  Result<void> save_gc_run(const GcRun& run) override;
  Result<std::optional<GcRun>> find_gc_run(std::int64_t id) override;
  Result<std::vector<GcRun>> list_gc_runs(std::optional<RegistryId> registry, std::int64_t before,
                                          std::size_t limit) override;
  Result<std::vector<GcRun>> running_gc_runs() override;
  Result<std::vector<std::string>> gc_repositories(RegistryId registry, std::string_view after,
                                                   std::size_t limit) override;
  Result<LinkSweepPage> sweep_links(RepositoryRef repository, std::string_view after,
                                    std::int64_t cutoff, std::size_t limit, bool dry_run) override;
  Result<bool> remove_empty_repository(RepositoryRef repository, std::int64_t cutoff) override;
  Result<std::optional<std::uint64_t>> removable_repository_links(RepositoryRef repository,
                                                                  std::int64_t cutoff) override;
  Result<BlobScanPage> scan_blobs(std::string_view after, std::int64_t cutoff,
                                  std::size_t limit) override;
  Result<std::vector<GarbageBlob>> claim_blobs(std::span<const GarbageBlob> candidates,
                                               std::int64_t cutoff) override;
  Result<bool> claim_orphan(const GarbageBlob& blob) override;
  Result<std::vector<GarbageBlob>> claimed_blobs(std::string_view after,
                                                 std::size_t limit) override;
  Result<void> forget_blobs(std::span<const oci::Digest> digests) override;
  Result<std::vector<bool>> blobs_known(std::span<const oci::Digest> digests) override;

  // --- LifecycleStore (postgres_lifecycle.cc) ---
  Result<SoftDeletePolicy> soft_delete_policy(RegistryId registry) override;
  Result<SoftDeletePolicy> set_soft_delete_policy(RegistryId registry, bool enabled, int days,
                                                  std::int64_t now) override;
  Result<RetentionPolicy> retention_policy(RegistryId registry) override;
  Result<RetentionPolicy> set_retention_policy(RegistryId registry, bool enabled, int days,
                                               std::int64_t now) override;
  Result<std::vector<RegistryId>> registries_with_retention() override;
  Result<std::vector<std::string>> list_deleted_repositories(RegistryId registry,
                                                             std::string_view after,
                                                             std::size_t limit) override;
  Result<std::vector<DeletedManifest>> list_deleted_manifests(RepositoryRef repository,
                                                              std::string_view after,
                                                              std::size_t limit) override;
  Result<std::vector<DeletedTag>> list_deleted_tags(RepositoryRef repository,
                                                    std::optional<std::string_view> tag,
                                                    std::size_t limit) override;
  Result<std::optional<oci::Digest>> deleted_tag_digest(RepositoryRef repository,
                                                        std::string_view tag) override;
  Result<RestoredContent> restore_manifest(RepositoryRef repository, const oci::Digest& digest,
                                           bool replace_tags,
                                           std::span<const EventRecord> events) override;
  Result<ExpiredCounts> expire_deleted(std::int64_t now, std::size_t limit) override;
  Result<std::uint64_t> soft_deleted_bytes(RegistryId registry) override;
  Result<std::vector<ManifestKey>> retention_candidates(RegistryId registry, std::int64_t now,
                                                        const std::optional<ManifestKey>& after,
                                                        std::size_t limit) override;
  Result<std::vector<oci::Digest>> disposable_manifests(RepositoryRef repository,
                                                        std::int64_t changed_before) override;
  Result<StorageState> storage_state(RepositoryRef repository) override;
  Result<void> set_registry_quota(RegistryId registry, std::optional<std::uint64_t> bytes) override;
  Result<void> set_repository_quota(RepositoryRef repository,
                                    std::optional<std::uint64_t> bytes) override;
  Result<void> link_blob_within(RepositoryRef repository, const oci::Digest& digest,
                                std::uint64_t size, const StorageLimits& limits) override;
  Result<std::uint64_t> recount_registry_bytes(RegistryId registry) override;
  Result<PurgeSchedule> put_purge_schedule(const PurgeSchedule& schedule) override;
  Result<std::vector<PurgeSchedule>> list_purge_schedules(
      std::optional<RegistryId> registry) override;
  Result<bool> delete_purge_schedule(RegistryId registry, std::string_view name) override;
  Result<bool> record_purge_run(RegistryId registry, std::string_view name, std::int64_t at,
                                std::string_view result) override;

  // --- CoordinationStore (postgres_coordination.cc) ---
  Result<std::optional<std::string>> deployment_setting(std::string_view name) override;
  Result<std::string> ensure_deployment_setting(std::string_view name,
                                                std::string_view value) override;
  Result<void> put_deployment_setting(std::string_view name, std::string_view value) override;
  Result<bool> delete_deployment_setting(std::string_view name) override;
  Result<bool> acquire_lease(std::string_view name, std::string_view holder, std::int64_t now_ms,
                             std::int64_t ttl_ms) override;
  Result<void> release_lease(std::string_view name, std::string_view holder) override;
  Result<std::optional<LeaseRecord>> find_lease(std::string_view name) override;

  // --- UpstreamStore (postgres_upstream.cc) ---
  Result<CredentialSet> create_credential_set(const CredentialSet& set) override;
  Result<CredentialSet> update_credential_set(const CredentialSet& set) override;
  Result<std::optional<CredentialSet>> find_credential_set(RegistryId registry,
                                                           std::string_view name) override;
  Result<std::vector<CredentialSet>> list_credential_sets(RegistryId registry) override;
  Result<bool> delete_credential_set(RegistryId registry, std::string_view name) override;
  Result<CacheRule> create_cache_rule(const CacheRule& rule, std::size_t max_rules) override;
  Result<CacheRule> update_cache_rule(const CacheRule& rule) override;
  Result<std::optional<CacheRule>> find_cache_rule(RegistryId registry,
                                                   std::string_view name) override;
  Result<std::vector<CacheRule>> list_cache_rules(RegistryId registry) override;
  Result<bool> delete_cache_rule(RegistryId registry, std::string_view name) override;
  Result<std::optional<std::int64_t>> tag_validated_at(RepositoryRef repository,
                                                       std::string_view tag) override;
  Result<void> set_tag_validated_at(RepositoryRef repository, std::string_view tag,
                                    std::int64_t at) override;
  Result<ImportJob> create_import(const ImportJob& job) override;
  Result<std::optional<ImportJob>> find_import(RegistryId registry, std::int64_t id) override;
  Result<std::vector<ImportJob>> list_imports(RegistryId registry,
                                              std::optional<std::int64_t> before,
                                              std::size_t limit) override;
  Result<std::optional<ImportJob>> claim_import(std::string_view holder, std::int64_t now,
                                                std::int64_t stale_before) override;
  Result<bool> record_import_progress(std::int64_t id, std::string_view holder,
                                      const ImportProgress& progress, std::int64_t now) override;
  Result<bool> finish_import(std::int64_t id, std::string_view holder, ImportStatus status,
                             std::string_view result, std::string_view error,
                             std::int64_t now) override;
  Result<std::size_t> prune_imports(std::int64_t before, std::size_t limit) override;

  // --- TaskStore (postgres_tasks.cc) ---
  Result<Task> create_task(const Task& task, std::size_t max_tasks) override;
  Result<Task> update_task(const Task& task) override;
  Result<std::optional<Task>> find_task(RegistryId registry, std::string_view name) override;
  Result<std::vector<Task>> list_tasks(RegistryId registry) override;
  Result<std::vector<Task>> list_enabled_tasks(std::optional<TaskRef> after,
                                               std::size_t limit) override;
  Result<bool> delete_task(RegistryId registry, std::string_view name) override;
  Result<void> set_trigger_state(RegistryId registry, std::string_view task,
                                 std::string_view trigger, std::string_view state,
                                 std::int64_t now) override;
  Result<std::vector<TriggerState>> trigger_states(RegistryId registry,
                                                   std::string_view task) override;
  Result<bool> compare_and_set_trigger_state(RegistryId registry, std::string_view task,
                                             std::string_view trigger, std::string_view expected,
                                             std::string_view state, std::int64_t now) override;
  Result<void> set_task_base_images(RegistryId registry, std::string_view task,
                                    const std::vector<std::string>& references) override;
  Result<std::vector<std::string>> task_base_images(RegistryId registry,
                                                    std::string_view task) override;
  Result<std::vector<TaskRef>> tasks_using_base_image(std::string_view reference) override;
  Result<Run> create_run(const Run& run) override;
  Result<std::optional<Run>> find_run(RegistryId registry, std::int64_t number) override;
  Result<std::vector<Run>> list_runs(RegistryId registry, std::optional<std::string> task,
                                     std::optional<std::int64_t> before,
                                     std::size_t limit) override;
  Result<std::vector<Run>> queued_runs(std::size_t limit) override;
  Result<std::optional<Run>> start_run(RegistryId registry, std::int64_t number,
                                       std::string_view holder, std::int64_t max_running,
                                       std::int64_t now) override;
  Result<std::optional<bool>> renew_run(RegistryId registry, std::int64_t number,
                                        std::string_view holder, std::int64_t now) override;
  Result<Run> request_cancel(RegistryId registry, std::int64_t number, std::int64_t now) override;
  Result<bool> finish_run(RegistryId registry, std::int64_t number, std::string_view holder,
                          const RunOutcome& outcome, std::int64_t now) override;
  Result<std::vector<Run>> fail_abandoned_runs(std::int64_t stale_before, std::string_view holder,
                                               std::string_view error, std::int64_t now) override;
  Result<std::vector<Run>> prune_runs(std::int64_t before, std::size_t limit) override;
  Result<std::uint64_t> append_run_log(RegistryId registry, std::int64_t number,
                                       std::string_view bytes) override;
  Result<std::string> read_run_log(RegistryId registry, std::int64_t number, std::uint64_t offset,
                                   std::size_t max_bytes) override;
  Result<void> drop_run_log(RegistryId registry, std::int64_t number) override;
  Result<void> pin_blob(const oci::Digest& digest, std::string_view owner,
                        std::int64_t now) override;
  Result<std::size_t> unpin_blobs(std::string_view owner) override;
  Result<bool> is_blob_pinned(const oci::Digest& digest) override;

 private:
  explicit PostgresMetadataStore(std::unique_ptr<postgres::Database> database);

  std::unique_ptr<postgres::Database> database_;
};

}  // namespace berth::metadata
