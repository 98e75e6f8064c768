#pragma once
// Internal to the SQLite backend: the statements each part of the store runs, by id. A part's
// statement text is in a table next to its code (kStatements in sqlite_metadata_store.cc,
// kAccessStatements in sqlite_access_store.cc, ...), indexed by its enum; every connection
// prepares each statement at most once (sqlite_connection.h).

#include <cstddef>

namespace berth::metadata {

// Every statement the data path runs, prepared at most once per connection.
enum class Sql : std::size_t {
  begin_immediate,
  commit,
  rollback,
  savepoint,
  release_savepoint,
  rollback_to_savepoint,
  insert_registry,
  find_registry,
  list_registries,
  update_registry,
  delete_registry,
  registry_storage_bytes,
  list_repository_summaries,
  repository_summary,
  delete_repository,
  list_tag_records,
  list_manifest_summaries,
  find_repository,
  insert_repository,
  list_repositories,
  insert_blob,
  blob_size,
  link_blob,
  linked_blob_size,
  unlink_blob,
  insert_upload,
  count_uploads_in_registry,
  get_upload,
  touch_upload,
  list_idle_uploads,
  delete_upload,
  insert_manifest,
  find_manifest_id,
  insert_reference,
  upsert_tag,
  get_manifest,
  manifest_exists,
  manifest_size,
  resolve_tag,
  delete_manifest,
  delete_tag,
  list_tags,
  list_referrers,
  // Changeable attributes (locks); their text is with the others in sqlite_metadata_store.cc,
  // their code in sqlite_attributes.cc.
  repository_attributes,
  find_tag,
  manifest_attributes,
  update_repository_attributes,
  update_tag_attributes,
  update_manifest_attributes,
  find_manifest_delete_lock,
  find_repository_delete_lock,
  // Paged listings in an order and the platform of image manifests (sqlite_listings.cc).
  insert_manifest_platform,
  tag_page_by_name,
  tag_page_time_asc,
  tag_page_time_desc,
  manifest_page_by_digest,
  manifest_page_time_asc,
  manifest_page_time_desc,
  manifest_summary,
  count,
};

template <class Id>
struct StatementSpec {
  Id id;
  const char* name;  // names the statement in error messages
  const char* text;
};

// Every statement of the AccessStore part, prepared at most once per connection; their text is
// in sqlite_access_store.cc.
enum class AccessSql : std::size_t {
  upsert_admin_password,
  list_admin_passwords,
  registry_exists,
  count_scope_maps,
  insert_scope_map,
  insert_scope_map_action,
  find_scope_map,
  list_scope_maps,
  find_scope_map_id,
  update_scope_map,
  delete_scope_map_actions,
  scope_map_in_use,
  delete_scope_map,
  count_tokens,
  insert_token,
  insert_token_password,
  find_token,
  list_tokens,
  find_token_id,
  update_token,
  delete_token_passwords,
  delete_token,
  insert_identity,
  find_identity,
  federated_identities,
  list_identities,
  update_identity,
  delete_identity,
  identity_exists,
  insert_role_assignment,
  list_role_assignments,
  list_role_assignments_in_registry,
  list_role_assignments_of_identity,
  delete_role_assignment,
  count_network_rules,
  insert_network_rule,
  list_network_rules,
  delete_network_rule,
  deactivate_signing_keys,
  insert_signing_key,
  list_signing_keys,
  delete_signing_key,
  insert_login_event,
  list_login_events,
  list_login_events_in_registry,
  list_login_events_of_identity,
  prune_login_events,
  count,
};

// Every statement of the EventStore part; their text is in sqlite_event_store.cc.
enum class EventSql : std::size_t {
  insert_event,
  list_events,
  events_after,
  find_event,
  prune_events,
  prune_deliveries,
  count_webhooks,
  insert_webhook,
  find_webhook,
  list_webhooks,
  update_webhook,
  delete_webhook,
  claim_due_webhooks,
  pending_events,
  finish_attempt,
  insert_delivery,
  release_webhook,
  list_deliveries,
  outbox_stats,
  count,
};

// Every statement of the GcStore part; their text is in sqlite_gc_store.cc.
enum class GcSql : std::size_t {
  insert_run,
  save_run,
  find_run,
  list_runs,
  running_runs,
  find_repository,
  link_page,
  remove_link,
  empty_repository,
  remove_repository,
  blob_page,
  claim_blob,
  claim_orphan,
  claimed_blobs,
  forget_blob,
  blob_known,
  linked_live_blob,
  list_repositories,
  count,
};

// Every statement of the LifecycleStore part; their text is in sqlite_lifecycle.cc.
enum class LifecycleSql : std::size_t {
  keep_manifests,
  keep_references,
  keep_tags,
  soft_delete_policy,
  set_soft_delete_policy,
  retention_policy,
  set_retention_policy,
  registries_with_retention,
  list_deleted_repositories,
  list_deleted_manifests,
  list_deleted_tags,
  deleted_tag_digest,
  find_deleted_manifest,
  deleted_references,
  forget_deleted_manifest,
  deleted_tag_names,
  forget_deleted_tag,
  restore_link,
  restore_manifest,
  restore_platform,
  expire_manifests,
  expire_tags,
  soft_deleted_bytes,
  retention_candidates,
  disposable_manifests,
  storage_state,
  set_registry_quota,
  set_repository_quota,
  quota_probe,
  recount_registry_bytes,
  put_purge_schedule,
  list_purge_schedules,
  delete_purge_schedule,
  record_purge_run,
  count,
};

// Every statement of the CoordinationStore part; their text is in sqlite_coordination.cc.
enum class CoordinationSql : std::size_t {
  find_setting,
  insert_setting_if_absent,
  put_setting,
  delete_setting,
  acquire_lease,
  release_lease,
  find_lease,
  count,
};

// Every statement of the UpstreamStore part; their text is in sqlite_upstream.cc.
enum class UpstreamSql : std::size_t {
  registry_exists,
  find_credential_set,
  insert_credential_set,
  update_credential_set,
  list_credential_sets,
  credential_set_user,
  delete_credential_set,
  count_cache_rules,
  find_cache_rule,
  cache_rule_by_target,
  insert_cache_rule,
  update_cache_rule,
  list_cache_rules,
  delete_cache_rule,
  tag_validated_at,
  set_tag_validated_at,
  insert_import,
  find_import,
  list_imports,
  claim_import,
  record_import_progress,
  finish_import,
  prune_imports,
  count,
};

// Every statement of the TaskStore part; their text is in sqlite_tasks.cc.
enum class TaskSql : std::size_t {
  registry_exists,
  find_task,
  count_tasks,
  insert_task,
  update_task,
  list_tasks,
  list_enabled_tasks,
  delete_task,
  trigger_state,
  put_trigger_state,
  trigger_states,
  delete_base_images,
  insert_base_image,
  task_base_images,
  tasks_using_base_image,
  next_run_number,
  insert_run,
  find_run,
  list_runs,
  list_task_runs,
  queued_runs,
  start_run,
  renew_run,
  cancel_queued_run,
  request_run_cancel,
  finish_run,
  abandoned_runs,
  fail_abandoned_runs,
  prune_runs,
  grow_run_log,
  insert_log_chunk,
  read_log_chunks,
  drop_log_chunks,
  reset_run_log,
  blob_claimed,
  pin_blob,
  unpin_blobs,
  blob_pinned,
  count,
};

inline constexpr std::size_t kStatementCount = static_cast<std::size_t>(Sql::count);
inline constexpr std::size_t kAccessStatementCount = static_cast<std::size_t>(AccessSql::count);
inline constexpr std::size_t kEventStatementCount = static_cast<std::size_t>(EventSql::count);
inline constexpr std::size_t kGcStatementCount = static_cast<std::size_t>(GcSql::count);
inline constexpr std::size_t kLifecycleStatementCount =
    static_cast<std::size_t>(LifecycleSql::count);
inline constexpr std::size_t kCoordinationStatementCount =
    static_cast<std::size_t>(CoordinationSql::count);
inline constexpr std::size_t kUpstreamStatementCount = static_cast<std::size_t>(UpstreamSql::count);
inline constexpr std::size_t kTaskStatementCount = static_cast<std::size_t>(TaskSql::count);

// Each statement table is indexed by its enum; defined next to the table.
const StatementSpec<Sql>& spec_of(Sql id);
const StatementSpec<AccessSql>& spec_of(AccessSql id);
const StatementSpec<EventSql>& spec_of(EventSql id);
const StatementSpec<GcSql>& spec_of(GcSql id);
const StatementSpec<LifecycleSql>& spec_of(LifecycleSql id);
const StatementSpec<CoordinationSql>& spec_of(CoordinationSql id);
const StatementSpec<UpstreamSql>& spec_of(UpstreamSql id);
const StatementSpec<TaskSql>& spec_of(TaskSql id);

template <class Id, std::size_t N>
constexpr bool statements_in_enum_order(const StatementSpec<Id> (&specs)[N]) {
  for (std::size_t i = 0; i < N; ++i) {
    if (static_cast<std::size_t>(specs[i].id) != i) return false;
  }
  return N == static_cast<std::size_t>(Id::count);
}

}  // namespace berth::metadata
