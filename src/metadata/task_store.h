#pragma once
// TaskStore: what berth keeps about build tasks and their runs. Backends: SqliteMetadataStore
// and PostgresMetadataStore. The conformance suite (metadata/task_conformance_test.cc) covers
// it, concurrent callers included.
//
// - Tasks: per registry, a named, stored build (its definition is the management API's JSON:
//   context, Dockerfile or task file, images, triggers); enabled or not.
// - Trigger state: per task and trigger, a small string the trigger keeps between checks (the
//   last commit seen on a branch, the last digest seen of an outside base image, the last
//   minute a timer fired), so that a restart neither loses nor repeats a trigger.
// - Base images: per task, the image references its last build used as bases ("host/repo:tag"
//   as written in FROM, normalised by the caller), so that a push of one finds the tasks to run.
// - Runs: per registry, numbered 1, 2, 3... (shown as cb1, cb2...). A run is queued, taken by
//   one node's runner (within the registry's limit of running runs), renewed by its heartbeat,
//   and ended once. A run whose node stopped renewing is not run again: it is ended as failed
//   (a build is not idempotent the way an import is), and its node's clean-up reaps what it
//   left on disk.
// - Run logs: the output of a running run, appended in chunks so that any node can stream it
//   live; when the run ends the caller stores the whole log as a blob and drops the chunks.
// - Blob pins: storage blobs that no manifest references but something else needs (an
//   uploaded build context, a finished run's log). Garbage collection never removes the bytes
//   of a pinned digest (gc_store.h), also not as orphans.
//
// Names are compared exactly (callers validate them); the stores refuse an empty name, owner or
// holder (invalid_argument). Times are Unix seconds.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "metadata/metadata_store.h"

namespace berth::metadata {

struct Task {
  RegistryId registry = kDefaultRegistryId;
  std::string name;
  std::string definition;  // the management API's JSON; opaque to the store
  bool enabled = true;
  std::int64_t created_at = 0;
  std::int64_t updated_at = 0;
  bool operator==(const Task&) const = default;
};

struct TaskRef {
  RegistryId registry = kDefaultRegistryId;
  std::string task;
  bool operator==(const TaskRef&) const = default;
};

struct TriggerState {
  std::string trigger;  // the trigger's name within its task
  std::string state;
  std::int64_t updated_at = 0;
  bool operator==(const TriggerState&) const = default;
};

enum class RunStatus { queued, running, succeeded, failed, canceled, timeout };

struct Run {
  RegistryId registry = kDefaultRegistryId;
  std::int64_t number = 0;    // assigned by create_run: 1, 2, 3... per registry
  std::string task;           // empty for a quick build or quick run
  RunStatus status = RunStatus::queued;
  std::string trigger;        // "manual", "commit", "base-image", "timer"...
  // What to run, as the runner's JSON (steps, context location, images, variables): never a
  // secret in clear.
  std::string request;
  std::string holder;              // the node running it; empty while queued
  std::int64_t heartbeat_at = 0;   // the holder's last sign of life
  bool cancel_requested = false;   // set by request_cancel while it runs
  std::string outputs;             // JSON: images pushed, with their digests
  std::string base_images;         // JSON: base images used, with their digests
  std::string error;               // why it did not succeed, for people
  std::string log_digest;          // the stored log blob, once ended ("" before)
  std::uint64_t log_size = 0;
  std::int64_t created_at = 0;
  std::int64_t started_at = 0;     // 0: not yet
  std::int64_t finished_at = 0;    // 0: not yet
  bool operator==(const Run&) const = default;
};

// What ends a run, as finish_run records it.
struct RunOutcome {
  RunStatus status = RunStatus::succeeded;  // succeeded, failed, canceled or timeout
  std::string outputs;
  std::string base_images;
  std::string error;
  std::string log_digest;
  std::uint64_t log_size = 0;
};

class TaskStore {
 public:
  virtual ~TaskStore() = default;

  // --- tasks (not_found for an unknown registry) ---
  // Creates the task (created_at and updated_at from `task`; 0: now). conflict when the
  // registry has one of that name; limit_reached (nothing stored) when it has `max_tasks`
  // already, checked in the insert's transaction.
  virtual Result<Task> create_task(const Task& task, std::size_t max_tasks) = 0;
  // Replaces definition and enabled of an existing task (updated_at from `task`, 0: now;
  // created_at kept); not_found when there is none.
  virtual Result<Task> update_task(const Task& task) = 0;
  virtual Result<std::optional<Task>> find_task(RegistryId registry, std::string_view name) = 0;
  // By name.
  virtual Result<std::vector<Task>> list_tasks(RegistryId registry) = 0;
  // Enabled tasks of every registry, ordered by (registry, name), after `after` when given; at
  // most `limit`. The triggers' pollers walk them.
  virtual Result<std::vector<Task>> list_enabled_tasks(std::optional<TaskRef> after,
                                                       std::size_t limit) = 0;
  // Deletes the task with its trigger state and base images (its runs stay, naming it); false
  // when there was none.
  virtual Result<bool> delete_task(RegistryId registry, std::string_view name) = 0;

  // --- trigger state (not_found for an unknown task) ---
  virtual Result<void> set_trigger_state(RegistryId registry, std::string_view task,
                                         std::string_view trigger, std::string_view state,
                                         std::int64_t now) = 0;
  // By trigger name.
  virtual Result<std::vector<TriggerState>> trigger_states(RegistryId registry,
                                                           std::string_view task) = 0;
  // Sets the state only when it is still `expected` ("" matches a trigger with no state yet);
  // false (nothing changed) otherwise. Nodes polling the same trigger use it so that one change
  // starts one run.
  virtual Result<bool> compare_and_set_trigger_state(RegistryId registry, std::string_view task,
                                                     std::string_view trigger,
                                                     std::string_view expected,
                                                     std::string_view state,
                                                     std::int64_t now) = 0;

  // --- base images ---
  // Replaces the task's base images (not_found for an unknown task); duplicates stored once.
  virtual Result<void> set_task_base_images(RegistryId registry, std::string_view task,
                                            const std::vector<std::string>& references) = 0;
  // By reference.
  virtual Result<std::vector<std::string>> task_base_images(RegistryId registry,
                                                            std::string_view task) = 0;
  // The enabled tasks (of any registry) one of whose base images is `reference`, ordered by
  // (registry, name).
  virtual Result<std::vector<TaskRef>> tasks_using_base_image(std::string_view reference) = 0;

  // --- runs ---
  // Stores a queued run with the registry's next number (number, status, holder, outcome and
  // times other than created_at are ignored; created_at 0: now) and returns it. Concurrent
  // creates get distinct numbers. not_found for an unknown registry.
  virtual Result<Run> create_run(const Run& run) = 0;
  virtual Result<std::optional<Run>> find_run(RegistryId registry, std::int64_t number) = 0;
  // The registry's runs, newest first, of `task` when given, with numbers below `before` when
  // given; at most `limit`.
  virtual Result<std::vector<Run>> list_runs(RegistryId registry, std::optional<std::string> task,
                                             std::optional<std::int64_t> before,
                                             std::size_t limit) = 0;
  // Queued runs of every registry, oldest first; at most `limit`.
  virtual Result<std::vector<Run>> queued_runs(std::size_t limit) = 0;
  // Starts a queued run for `holder` (running, heartbeat_at = started_at = now) when the
  // registry has fewer than `max_running` running runs; returns it, or nullopt when it is no
  // longer queued or the registry is at its limit. Check and change are one transaction: of
  // concurrent callers on any node, each run goes to one and no registry goes past its limit.
  virtual Result<std::optional<Run>> start_run(RegistryId registry, std::int64_t number,
                                               std::string_view holder, std::int64_t max_running,
                                               std::int64_t now) = 0;
  // Renews the heartbeat of a run `holder` runs; returns whether a cancel was requested, or
  // nullopt (nothing changed) when `holder` no longer runs it.
  virtual Result<std::optional<bool>> renew_run(RegistryId registry, std::int64_t number,
                                                std::string_view holder, std::int64_t now) = 0;
  // Asks a run to stop: a queued run ends at once as canceled (finished_at = now); a running
  // one gets cancel_requested, which its runner sees at its next renew_run. Returns the run as
  // it is afterwards (an ended run unchanged); not_found when there is none.
  virtual Result<Run> request_cancel(RegistryId registry, std::int64_t number,
                                     std::int64_t now) = 0;
  // Ends a run `holder` runs with `outcome` (finished_at = now); false (nothing changed) when
  // `holder` no longer runs it. invalid_argument for a status that is not an end.
  virtual Result<bool> finish_run(RegistryId registry, std::int64_t number,
                                  std::string_view holder, const RunOutcome& outcome,
                                  std::int64_t now) = 0;
  // Ends as failed, with `error`, every running run whose heartbeat_at < stale_before (its node
  // stopped) or whose holder is `holder` (this node before a restart; "" matches none), and
  // returns them as they were before. finished_at = now.
  virtual Result<std::vector<Run>> fail_abandoned_runs(std::int64_t stale_before,
                                                       std::string_view holder,
                                                       std::string_view error,
                                                       std::int64_t now) = 0;
  // Forgets runs that ended before `before` (with their log chunks), at most `limit`; returns
  // them so that the caller can unpin their logs.
  virtual Result<std::vector<Run>> prune_runs(std::int64_t before, std::size_t limit) = 0;

  // --- run logs ---
  // Appends `bytes` at the end of the run's log; returns the log's size afterwards. not_found
  // for an unknown run.
  virtual Result<std::uint64_t> append_run_log(RegistryId registry, std::int64_t number,
                                               std::string_view bytes) = 0;
  // Up to `max_bytes` of the log from `offset` (empty at or past its end).
  virtual Result<std::string> read_run_log(RegistryId registry, std::int64_t number,
                                           std::uint64_t offset, std::size_t max_bytes) = 0;
  // Drops the chunks (the log is stored as a blob by then).
  virtual Result<void> drop_run_log(RegistryId registry, std::int64_t number) = 0;

  // --- blob pins ---
  // Pins `digest` for `owner` (idempotent); many owners may pin one digest. being_deleted
  // (nothing pinned) when garbage collection has claimed the digest already: its bytes are
  // going, so the caller stores them again before it pins them.
  virtual Result<void> pin_blob(const oci::Digest& digest, std::string_view owner,
                                std::int64_t now) = 0;
  // Removes the owner's pins; returns how many.
  virtual Result<std::size_t> unpin_blobs(std::string_view owner) = 0;
  virtual Result<bool> is_blob_pinned(const oci::Digest& digest) = 0;
};

}  // namespace berth::metadata
