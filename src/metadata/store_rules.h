#pragma once
// What every metadata backend checks before it touches its database, and the words of the
// errors the stores report: a backend that uses these refuses the same arguments with the same
// messages as the others, which is what the conformance suites expect of it. Nothing here
// knows a database.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "metadata/access_store.h"
#include "metadata/coordination_store.h"
#include "metadata/event_store.h"
#include "metadata/lifecycle_store.h"
#include "metadata/metadata_store.h"
#include "metadata/task_store.h"
#include "metadata/upstream_store.h"

namespace berth::metadata {

// A token has at most this many passwords ("password1" and "password2").
inline constexpr std::size_t kMaxTokenPasswords = 2;

// --- building errors ---

MetadataError invalid_argument(std::string message);

// `what` with `name` quoted, for error messages: "scope map 'pull'".
std::string named(std::string_view what, std::string_view name);

// invalid_argument "<what> is empty" when `value` is.
std::optional<MetadataError> check_not_empty(std::string_view value, std::string_view what);

// not_found: the registry with id `registry` does not exist.
MetadataError registry_not_found(RegistryId registry);

// schema_too_new: the database's schema version `found` is newer than `supported`.
MetadataError schema_too_new(std::int64_t found, std::int64_t supported);

// invalid_argument: this build has no schema version `version` to migrate to.
MetadataError unknown_schema_version(std::int64_t version);

// conflict: a registry named `name` exists already.
MetadataError registry_exists(std::string_view name);

// conflict: an upload session with id `id` exists already.
MetadataError upload_exists(std::string_view id);

// limit_reached: the registry has `open` upload sessions, its limit.
MetadataError upload_limit_reached(std::int64_t open);

// being_deleted: garbage collection has claimed the blob `digest`.
MetadataError blob_being_deleted(std::string_view digest);

// conflict: the blob `digest` is recorded with `recorded` bytes, and a link gave `size`.
MetadataError blob_size_mismatch(std::string_view digest, std::int64_t recorded,
                                 std::uint64_t size);

// reference_missing: a manifest references the blob `digest`, which is no longer linked to its
// repository (or garbage collection claimed it).
MetadataError blob_not_linked(std::string_view digest);

// The message of quota_exceeded: `whose` ("the registry's") quota of `quota` bytes, of which
// `used` are used, and a blob that would add `adding`.
std::string quota_message(std::string_view whose, std::uint64_t quota, std::uint64_t used,
                          std::uint64_t adding);

// --- the content metadata (MetadataStore) ---

// Repository-scoped checks every store method makes first.
std::optional<MetadataError> check_repository(RepositoryRef repository);

// 'Allow' or 'Deny'. The schema refuses other values too, but as a database error.
std::optional<MetadataError> check_default_network_action(const RegistryRecord& registry);

// A size a signed 64-bit column holds.
std::optional<MetadataError> check_blob_size(std::uint64_t size);

// --- lifecycle (LifecycleStore) ---

// A policy's days, between `min` and `max`; `what` names the policy ("soft delete").
std::optional<MetadataError> check_days(int days, int min, int max, std::string_view what);

// A quota a signed 64-bit column holds (none: no quota).
std::optional<MetadataError> check_quota_bytes(std::optional<std::uint64_t> bytes);

// A name, and filters without line breaks (they are stored one per line).
std::optional<MetadataError> check_purge_schedule(const PurgeSchedule& schedule);

// --- access control (AccessStore) ---

std::optional<MetadataError> check_scope_map(const ScopeMapRecord& record);

// A name, a scope map, at most kMaxTokenPasswords passwords, each named (names unique
// ignoring ASCII case, as the stores compare them) and with a hash.
std::optional<MetadataError> check_token(const TokenRecord& record);

std::optional<MetadataError> check_identity(const IdentityRecord& record);

// As the stores compare names people type (SQLite's COLLATE NOCASE): only ASCII letters fold.
bool equal_ignoring_ascii_case(std::string_view a, std::string_view b);

// --- events and webhooks (EventStore) ---

// A name, a service URI and at least one action.
std::optional<MetadataError> check_webhook(const WebhookRecord& webhook);

// --- deployment settings and leases (CoordinationStore) ---

// 1 to kMaxCoordinationName printable ASCII characters; `what` names it ("lease name").
std::optional<MetadataError> check_coordination_name(std::string_view name, std::string_view what);

// A setting's name, and a value of at most kMaxDeploymentSettingBytes.
std::optional<MetadataError> check_deployment_setting(std::string_view name,
                                                      std::string_view value);

// database_error: the setting `name` was not there to read back right after it was ensured.
MetadataError setting_vanished(std::string_view name);

// The lease's name and holder, a positive TTL, and an expiry (now_ms + ttl_ms) that does not
// overflow.
std::optional<MetadataError> check_lease_request(std::string_view name, std::string_view holder,
                                                 std::int64_t now_ms, std::int64_t ttl_ms);

// --- content from other registries (UpstreamStore) ---

// A name.
std::optional<MetadataError> check_credential_set(const CredentialSet& set);
// A name, a source and a target repository, and a TTL that is not negative.
std::optional<MetadataError> check_cache_rule(const CacheRule& rule);
// What update_cache_rule reads of `rule`: a name and a TTL that is not negative.
std::optional<MetadataError> check_cache_rule_change(const CacheRule& rule);
// An import job's holder is not empty.
std::optional<MetadataError> check_import_holder(std::string_view holder);
// succeeded or failed: how a job ends.
std::optional<MetadataError> check_import_end(ImportStatus status);

// not_found: the registry has no credential set `name`.
MetadataError credential_set_not_found(std::string_view name);
// conflict: the registry has a credential set `name` already.
MetadataError credential_set_exists(std::string_view name);
// conflict: the cache rule `rule` names the credential set `name`.
MetadataError credential_set_in_use(std::string_view name, std::string_view rule);
// not_found: the registry has no cache rule `name`.
MetadataError cache_rule_not_found(std::string_view name);
// conflict: the registry has a cache rule `name` already.
MetadataError cache_rule_exists(std::string_view name);
// conflict: the cache rule `rule` has the target repository `target` already.
MetadataError cache_rule_target_taken(std::string_view target, std::string_view rule);
// limit_reached: the registry has `held` cache rules, its limit.
MetadataError cache_rules_limit_reached(std::uint64_t held);
// not_found: the repository does not exist.
MetadataError repository_not_found(RepositoryRef repository);

// --- build tasks and their runs (TaskStore) ---

// A task's name (its definition is the caller's).
std::optional<MetadataError> check_task(const Task& task);
// A task and a trigger name, as the trigger state calls take them.
std::optional<MetadataError> check_trigger(std::string_view task, std::string_view trigger);
// A task name and references none of which is empty.
std::optional<MetadataError> check_base_images(std::string_view task,
                                               const std::vector<std::string>& references);
// A run's holder is not empty.
std::optional<MetadataError> check_run_holder(std::string_view holder);
// succeeded, failed, canceled or timeout: how a run ends.
std::optional<MetadataError> check_run_end(RunStatus status);
// A pin's owner is not empty.
std::optional<MetadataError> check_pin_owner(std::string_view owner);

// not_found: the registry has no task `name`.
MetadataError task_not_found(std::string_view name);
// conflict: the registry has a task `name` already.
MetadataError task_exists(std::string_view name);
// limit_reached: the registry has `held` tasks, its limit.
MetadataError tasks_limit_reached(std::uint64_t held);
// not_found: the registry has no run `number`.
MetadataError run_not_found(std::int64_t number);

}  // namespace berth::metadata
