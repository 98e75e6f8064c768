// PostgresMetadataStore: the TaskStore part (task_store.h): build tasks, their triggers' state
// and base images, runs with their live logs, and blob pins, shared by the nodes of a
// deployment. Tables in postgres_schema.cc (version 4); sqlite_tasks.cc explains the shape, which
// is the same.
//
// Why it holds with several nodes (every write is one SERIALIZABLE transaction,
// postgres_connection.h):
// - create_run increments the registry's counter row: two nodes numbering a run at once update
//   one row, PostgreSQL aborts the second (or, for the registry's first run, its insert meets
//   the other's row) and the retry takes the next number.
// - start_run counts the registry's running runs and starts the run in one statement. Two nodes
//   starting two runs of one registry each read the running runs the other changes, so one of
//   them is aborted and its retry counts the other's run: no registry goes past its limit. Two
//   nodes starting one run update one row: the second is aborted, and its retry finds the run
//   no longer queued.
// - create_task counts and inserts in one transaction, as create_cache_rule does.
// - compare_and_set_trigger_state reads the state and writes it in one transaction: of two
//   nodes that read the same state, the second to write is aborted and its retry finds the
//   state changed.
// - append_run_log raises the run's live_log_size first: a second append to the same run
//   updates the same row, is aborted, and its retry starts after the first one's bytes.
// - pin_blob reads the blob's claim and writes the pin; garbage collection's claims read the
//   pins and write the claim (postgres_gc_store.cc). A pin and a claim of one digest at once
//   each read what the other writes, so one of them is retried: either the claim sees the pin
//   and leaves the bytes, or the pin sees the claim and answers being_deleted.
// - A run's error is bytea: it may carry what a build printed, unchecked (as import_jobs.error).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "common/clock.h"
#include "metadata/postgres/postgres_connection.h"
#include "metadata/postgres/postgres_internal.h"
#include "metadata/postgres/postgres_metadata_store.h"

namespace berth::metadata {
namespace postgres {
namespace {

#define BERTH_PG_TASK_COLUMNS "registry_id, name, definition, enabled, created_at, updated_at"
#define BERTH_PG_RUN_COLUMNS                                                          \
  "registry_id, number, task, status, trigger_name, request, holder, heartbeat_at, "  \
  "cancel_requested, outputs, base_images, error, log_digest, log_size, created_at, " \
  "started_at, finished_at"
// The condition of the partial index of ended runs.
#define BERTH_PG_RUN_ENDED "status IN ('succeeded', 'failed', 'canceled', 'timeout')"
// $1 stale_before, $2 holder ("" matches none).
#define BERTH_PG_RUN_ABANDONED \
  "status = 'running' AND (heartbeat_at < $1 OR ($2::text <> '' AND holder = $2::text))"

constexpr Statement kRegistryExists{"tasks_registry_exists",
                                    "SELECT 1 FROM registries WHERE id = $1"};
constexpr Statement kFindTask{"find_task", "SELECT " BERTH_PG_TASK_COLUMNS
                                           " FROM tasks WHERE registry_id = $1 AND name = $2"};
constexpr Statement kCountTasks{"count_tasks", "SELECT count(*) FROM tasks WHERE registry_id = $1"};
constexpr Statement kInsertTask{"insert_task", "INSERT INTO tasks (" BERTH_PG_TASK_COLUMNS
                                               ") VALUES ($1, $2, $3, $4, $5, $6) "
                                               "RETURNING " BERTH_PG_TASK_COLUMNS};
constexpr Statement kUpdateTask{"update_task",
                                "UPDATE tasks SET definition = $3, enabled = $4, updated_at = $5 "
                                "WHERE registry_id = $1 AND name = $2 "
                                "RETURNING " BERTH_PG_TASK_COLUMNS};
constexpr Statement kListTasks{"list_tasks", "SELECT " BERTH_PG_TASK_COLUMNS
                                             " FROM tasks WHERE registry_id = $1 ORDER BY name"};
constexpr Statement kListEnabledTasks{
    "list_enabled_tasks", "SELECT " BERTH_PG_TASK_COLUMNS
                          " FROM tasks WHERE enabled "
                          "AND (registry_id, name) > ($1, $2) ORDER BY registry_id, name LIMIT $3"};
constexpr Statement kDeleteTask{"delete_task",
                                "DELETE FROM tasks WHERE registry_id = $1 AND name = $2"};
constexpr Statement kTriggerState{"trigger_state",
                                  "SELECT state FROM task_trigger_states "
                                  "WHERE registry_id = $1 AND task = $2 AND trigger_name = $3"};
constexpr Statement kPutTriggerState{
    "put_trigger_state",
    "INSERT INTO task_trigger_states (registry_id, task, trigger_name, state, updated_at) "
    "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (registry_id, task, trigger_name) "
    "DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at"};
constexpr Statement kTriggerStates{
    "trigger_states",
    "SELECT trigger_name, state, updated_at FROM task_trigger_states "
    "WHERE registry_id = $1 AND task = $2 ORDER BY trigger_name"};
constexpr Statement kDeleteBaseImages{
    "delete_base_images", "DELETE FROM task_base_images WHERE registry_id = $1 AND task = $2"};
// $3: the references (text[]); repeats are stored once.
constexpr Statement kInsertBaseImages{
    "insert_base_images",
    "INSERT INTO task_base_images (registry_id, task, reference) "
    "SELECT $1, $2, reference FROM unnest($3::text[]) AS reference "
    "ON CONFLICT (registry_id, task, reference) DO NOTHING"};
constexpr Statement kTaskBaseImages{
    "task_base_images",
    "SELECT reference FROM task_base_images WHERE registry_id = $1 AND task = $2 "
    "ORDER BY reference"};
constexpr Statement kTasksUsingBaseImage{
    "tasks_using_base_image",
    "SELECT b.registry_id, b.task FROM task_base_images b "
    "JOIN tasks t ON t.registry_id = b.registry_id AND t.name = b.task "
    "WHERE b.reference = $1 AND t.enabled ORDER BY b.registry_id, b.task"};
constexpr Statement kNextRunNumber{
    "next_run_number",
    "INSERT INTO task_run_counters (registry_id, last_number) VALUES ($1, 1) "
    "ON CONFLICT (registry_id) DO UPDATE SET last_number = task_run_counters.last_number + 1 "
    "RETURNING last_number"};
constexpr Statement kInsertRun{
    "insert_run",
    "INSERT INTO task_runs (registry_id, number, task, status, trigger_name, request, "
    "created_at) VALUES ($1, $2, $3, 'queued', $4, $5, $6) RETURNING " BERTH_PG_RUN_COLUMNS};
constexpr Statement kFindRun{"find_run", "SELECT " BERTH_PG_RUN_COLUMNS
                                         " FROM task_runs WHERE registry_id = $1 AND number = $2"};
constexpr Statement kListRuns{"list_runs", "SELECT " BERTH_PG_RUN_COLUMNS
                                           " FROM task_runs WHERE registry_id = $1 AND number < $2 "
                                           "ORDER BY number DESC LIMIT $3"};
constexpr Statement kListTaskRuns{"list_task_runs",
                                  "SELECT " BERTH_PG_RUN_COLUMNS
                                  " FROM task_runs WHERE registry_id = $1 AND task = $2 "
                                  "AND number < $3 ORDER BY number DESC LIMIT $4"};
constexpr Statement kQueuedRuns{"queued_runs", "SELECT " BERTH_PG_RUN_COLUMNS
                                               " FROM task_runs WHERE status = 'queued' "
                                               "ORDER BY created_at, registry_id, number LIMIT $1"};
// $3 holder, $4 max_running, $5 now.
constexpr Statement kStartRun{
    "start_run",
    "UPDATE task_runs SET status = 'running', holder = $3, heartbeat_at = $5, started_at = $5 "
    "WHERE registry_id = $1 AND number = $2 AND status = 'queued' AND (SELECT count(*) FROM "
    "task_runs WHERE registry_id = $1 AND status = 'running') < $4 "
    "RETURNING " BERTH_PG_RUN_COLUMNS};
constexpr Statement kRenewRun{
    "renew_run",
    "UPDATE task_runs SET heartbeat_at = $4 "
    "WHERE registry_id = $1 AND number = $2 AND holder = $3 AND status = 'running' "
    "RETURNING cancel_requested"};
constexpr Statement kCancelQueuedRun{
    "cancel_queued_run",
    "UPDATE task_runs SET status = 'canceled', finished_at = $3 "
    "WHERE registry_id = $1 AND number = $2 AND status = 'queued'"};
constexpr Statement kRequestRunCancel{
    "request_run_cancel",
    "UPDATE task_runs SET cancel_requested = true "
    "WHERE registry_id = $1 AND number = $2 AND status = 'running'"};
constexpr Statement kFinishRun{
    "finish_run",
    "UPDATE task_runs SET status = $4, outputs = $5, base_images = $6, error = $7, "
    "log_digest = $8, log_size = $9, finished_at = $10 "
    "WHERE registry_id = $1 AND number = $2 AND holder = $3 AND status = 'running'"};
constexpr Statement kAbandonedRuns{"abandoned_runs", "SELECT " BERTH_PG_RUN_COLUMNS
                                                     " FROM task_runs WHERE " BERTH_PG_RUN_ABANDONED
                                                     " ORDER BY registry_id, number"};
constexpr Statement kFailAbandonedRuns{
    "fail_abandoned_runs",
    "UPDATE task_runs SET status = 'failed', error = $3, finished_at = $4 "
    "WHERE " BERTH_PG_RUN_ABANDONED};
constexpr Statement kPruneRuns{
    "prune_runs",
    "DELETE FROM task_runs WHERE (registry_id, number) IN (SELECT registry_id, number "
    "FROM task_runs WHERE " BERTH_PG_RUN_ENDED
    " AND finished_at < $1 ORDER BY finished_at "
    "LIMIT $2) RETURNING " BERTH_PG_RUN_COLUMNS};
constexpr Statement kGrowRunLog{"grow_run_log",
                                "UPDATE task_runs SET live_log_size = live_log_size + $3 "
                                "WHERE registry_id = $1 AND number = $2 RETURNING live_log_size"};
constexpr Statement kInsertLogChunk{
    "insert_log_chunk",
    "INSERT INTO run_log_chunks (registry_id, number, byte_offset, bytes) "
    "VALUES ($1, $2, $3, $4)"};
// From the chunk that holds $3 (the read's offset) to the last one starting before $4 (its end).
constexpr Statement kReadLogChunks{
    "read_log_chunks",
    "SELECT byte_offset, bytes FROM run_log_chunks WHERE registry_id = $1 AND number = $2 "
    "AND byte_offset >= COALESCE((SELECT max(byte_offset) FROM run_log_chunks "
    "WHERE registry_id = $1 AND number = $2 AND byte_offset <= $3), 0) "
    "AND byte_offset < $4 ORDER BY byte_offset"};
constexpr Statement kDropLogChunks{
    "drop_log_chunks", "DELETE FROM run_log_chunks WHERE registry_id = $1 AND number = $2"};
constexpr Statement kResetRunLog{
    "reset_run_log",
    "UPDATE task_runs SET live_log_size = 0 WHERE registry_id = $1 AND number = $2"};
constexpr Statement kBlobClaimed{"pin_blob_claimed",
                                 "SELECT 1 FROM blobs WHERE digest = $1 AND deleting"};
constexpr Statement kPinBlob{"pin_blob",
                             "INSERT INTO blob_pins (digest, owner, created_at) "
                             "VALUES ($1, $2, $3) ON CONFLICT (digest, owner) DO NOTHING"};
constexpr Statement kUnpinBlobs{"unpin_blobs", "DELETE FROM blob_pins WHERE owner = $1"};
constexpr Statement kBlobPinned{"blob_pinned", "SELECT 1 FROM blob_pins WHERE digest = $1 LIMIT 1"};

#undef BERTH_PG_TASK_COLUMNS
#undef BERTH_PG_RUN_COLUMNS
#undef BERTH_PG_RUN_ENDED
#undef BERTH_PG_RUN_ABANDONED

Task task_of(const pqxx::row& row) {
  return Task{
      .registry = row[0].as<std::int64_t>(),
      .name = text_of(row[1]),
      .definition = text_of(row[2]),
      .enabled = row[3].as<bool>(),
      .created_at = row[4].as<std::int64_t>(),
      .updated_at = row[5].as<std::int64_t>(),
  };
}

Result<Run> run_of(const pqxx::row& row) {
  auto status = stored_run_status(text_of(row[3]));
  if (!status) return status.error();
  return Run{
      .registry = row[0].as<std::int64_t>(),
      .number = row[1].as<std::int64_t>(),
      .task = text_of(row[2]),
      .status = *status,
      .trigger = text_of(row[4]),
      .request = text_of(row[5]),
      .holder = text_of(row[6]),
      .heartbeat_at = row[7].as<std::int64_t>(),
      .cancel_requested = row[8].as<bool>(),
      .outputs = text_of(row[9]),
      .base_images = text_of(row[10]),
      .error = bytes_of(row[11]),
      .log_digest = text_of(row[12]),
      .log_size = static_cast<std::uint64_t>(row[13].as<std::int64_t>()),
      .created_at = row[14].as<std::int64_t>(),
      .started_at = row[15].as<std::int64_t>(),
      .finished_at = row[16].as<std::int64_t>(),
  };
}

Result<std::vector<Run>> runs_of(const pqxx::result& rows) {
  std::vector<Run> runs;
  runs.reserve(rows.size());
  for (const pqxx::row& row : rows) {
    auto run = run_of(row);
    if (!run) return run.error();
    runs.push_back(std::move(*run));
  }
  return runs;
}

// The first run of `rows`, if any.
Result<std::optional<Run>> first_run(const pqxx::result& rows) {
  if (rows.empty()) return std::optional<Run>();
  auto run = run_of(rows[0]);
  if (!run) return run.error();
  return std::optional<Run>(std::move(*run));
}

// The given time, or `fallback` when it is 0 (unset).
std::int64_t time_or(std::int64_t given, std::int64_t fallback) {
  return given != 0 ? given : fallback;
}

// not_found unless the registry exists.
Result<void> require_registry(Transaction& transaction, RegistryId registry) {
  if (transaction.exec(kRegistryExists, registry).empty()) return registry_not_found(registry);
  return {};
}

// not_found unless the registry has the task `name` (an unknown registry has none).
Result<void> require_task(Transaction& transaction, RegistryId registry, std::string_view name) {
  if (transaction.exec(kFindTask, registry, name).empty()) return task_not_found(name);
  return {};
}

// limit_reached when the registry holds `max` tasks already.
Result<void> require_task_room(Transaction& transaction, RegistryId registry, std::size_t max) {
  const auto held = transaction.exec(kCountTasks, registry)[0][0].as<std::uint64_t>();
  if (held < max) return {};
  return tasks_limit_reached(held);
}

// Where a read of `max_bytes` from `offset` ends, as a column value.
std::int64_t read_end(std::uint64_t offset, std::size_t max_bytes) {
  constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  const std::uint64_t room = kMax - offset;
  return static_cast<std::int64_t>(offset + std::min<std::uint64_t>(max_bytes, room));
}

}  // namespace
}  // namespace postgres

using namespace postgres;

// --- tasks ---

Result<Task> PostgresMetadataStore::create_task(const Task& task, std::size_t max_tasks) {
  if (auto bad = check_task(task)) return *bad;
  const std::int64_t created_at = time_or(task.created_at, unix_now());
  std::optional<Task> saved;
  auto written = database_->write([&](Transaction& transaction) -> Result<void> {
    saved.reset();
    if (auto found = require_registry(transaction, task.registry); !found) return found;
    if (!transaction.exec(kFindTask, task.registry, task.name).empty()) {
      return task_exists(task.name);
    }
    if (auto room = require_task_room(transaction, task.registry, max_tasks); !room) return room;
    pqxx::result rows =
        transaction.exec(kInsertTask, task.registry, task.name, task.definition, task.enabled,
                         created_at, time_or(task.updated_at, created_at));
    saved = task_of(rows.at(0));
    return {};
  });
  if (!written) return written.error();
  return *saved;
}

Result<Task> PostgresMetadataStore::update_task(const Task& task) {
  if (auto bad = check_task(task)) return *bad;
  const std::int64_t updated_at = time_or(task.updated_at, unix_now());
  std::optional<Task> saved;
  auto written = database_->write([&](Transaction& transaction) -> Result<void> {
    saved.reset();
    if (auto found = require_registry(transaction, task.registry); !found) return found;
    pqxx::result rows = transaction.exec(kUpdateTask, task.registry, task.name, task.definition,
                                         task.enabled, updated_at);
    if (rows.empty()) return task_not_found(task.name);
    saved = task_of(rows[0]);
    return {};
  });
  if (!written) return written.error();
  return *saved;
}

Result<std::optional<Task>> PostgresMetadataStore::find_task(RegistryId registry,
                                                             std::string_view name) {
  std::optional<Task> task;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    pqxx::result rows = transaction.exec(kFindTask, registry, name);
    task.reset();
    if (rows.empty()) return require_registry(transaction, registry);
    task = task_of(rows[0]);
    return {};
  });
  if (!read) return read.error();
  return task;
}

Result<std::vector<Task>> PostgresMetadataStore::list_tasks(RegistryId registry) {
  std::vector<Task> tasks;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    tasks.clear();
    for (const pqxx::row& row : transaction.exec(kListTasks, registry)) {
      tasks.push_back(task_of(row));
    }
    return tasks.empty() ? require_registry(transaction, registry) : Result<void>();
  });
  if (!read) return read.error();
  return tasks;
}

Result<std::vector<Task>> PostgresMetadataStore::list_enabled_tasks(std::optional<TaskRef> after,
                                                                    std::size_t limit) {
  std::vector<Task> tasks;
  if (limit == 0) return tasks;
  // Registry ids start at 1: (0, "") comes before every task.
  const TaskRef start = after.value_or(TaskRef{.registry = 0, .task = ""});
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    tasks.clear();
    for (const pqxx::row& row :
         transaction.exec(kListEnabledTasks, start.registry, start.task, sql_limit(limit))) {
      tasks.push_back(task_of(row));
    }
    return {};
  });
  if (!read) return read.error();
  return tasks;
}

Result<bool> PostgresMetadataStore::delete_task(RegistryId registry, std::string_view name) {
  bool removed = false;
  auto written = database_->write([&](Transaction& transaction) -> Result<void> {
    removed = transaction.exec(kDeleteTask, registry, name).affected_rows() > 0;
    return removed ? Result<void>() : require_registry(transaction, registry);
  });
  if (!written) return written.error();
  return removed;
}

// --- trigger state ---

Result<void> PostgresMetadataStore::set_trigger_state(RegistryId registry, std::string_view task,
                                                      std::string_view trigger,
                                                      std::string_view state, std::int64_t now) {
  if (auto bad = check_trigger(task, trigger)) return *bad;
  return database_->write([&](Transaction& transaction) -> Result<void> {
    if (auto found = require_task(transaction, registry, task); !found) return found;
    transaction.exec(kPutTriggerState, registry, task, trigger, state, now);
    return {};
  });
}

Result<std::vector<TriggerState>> PostgresMetadataStore::trigger_states(RegistryId registry,
                                                                        std::string_view task) {
  std::vector<TriggerState> states;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    states.clear();
    for (const pqxx::row& row : transaction.exec(kTriggerStates, registry, task)) {
      states.push_back(TriggerState{
          .trigger = text_of(row[0]),
          .state = text_of(row[1]),
          .updated_at = row[2].as<std::int64_t>(),
      });
    }
    return states.empty() ? require_task(transaction, registry, task) : Result<void>();
  });
  if (!read) return read.error();
  return states;
}

Result<bool> PostgresMetadataStore::compare_and_set_trigger_state(
    RegistryId registry, std::string_view task, std::string_view trigger, std::string_view expected,
    std::string_view state, std::int64_t now) {
  if (auto bad = check_trigger(task, trigger)) return *bad;
  bool changed = false;
  auto written = database_->write([&](Transaction& transaction) -> Result<void> {
    changed = false;
    if (auto found = require_task(transaction, registry, task); !found) return found;
    pqxx::result current = transaction.exec(kTriggerState, registry, task, trigger);
    const std::string held = current.empty() ? std::string() : text_of(current[0][0]);
    if (held != expected) return {};
    transaction.exec(kPutTriggerState, registry, task, trigger, state, now);
    changed = true;
    return {};
  });
  if (!written) return written.error();
  return changed;
}

// --- base images ---

Result<void> PostgresMetadataStore::set_task_base_images(
    RegistryId registry, std::string_view task, const std::vector<std::string>& references) {
  if (auto bad = check_base_images(task, references)) return *bad;
  const std::string array = text_array(references);
  return database_->write([&](Transaction& transaction) -> Result<void> {
    if (auto found = require_task(transaction, registry, task); !found) return found;
    transaction.exec(kDeleteBaseImages, registry, task);
    if (!references.empty()) transaction.exec(kInsertBaseImages, registry, task, array);
    return {};
  });
}

Result<std::vector<std::string>> PostgresMetadataStore::task_base_images(RegistryId registry,
                                                                         std::string_view task) {
  std::vector<std::string> references;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    references.clear();
    for (const pqxx::row& row : transaction.exec(kTaskBaseImages, registry, task)) {
      references.push_back(text_of(row[0]));
    }
    return {};
  });
  if (!read) return read.error();
  return references;
}

Result<std::vector<TaskRef>> PostgresMetadataStore::tasks_using_base_image(
    std::string_view reference) {
  std::vector<TaskRef> tasks;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    tasks.clear();
    for (const pqxx::row& row : transaction.exec(kTasksUsingBaseImage, reference)) {
      tasks.push_back(TaskRef{.registry = row[0].as<std::int64_t>(), .task = text_of(row[1])});
    }
    return {};
  });
  if (!read) return read.error();
  return tasks;
}

// --- runs ---

Result<Run> PostgresMetadataStore::create_run(const Run& run) {
  const std::int64_t created_at = time_or(run.created_at, unix_now());
  std::optional<Run> saved;
  auto written = database_->write([&](Transaction& transaction) -> Result<void> {
    saved.reset();
    if (auto found = require_registry(transaction, run.registry); !found) return found;
    const auto number = transaction.exec(kNextRunNumber, run.registry).at(0)[0].as<std::int64_t>();
    auto inserted = first_run(transaction.exec(kInsertRun, run.registry, number, run.task,
                                               run.trigger, run.request, created_at));
    if (!inserted) return inserted.error();
    saved = std::move(*inserted);
    return {};
  });
  if (!written) return written.error();
  if (!saved) return registry_not_found(run.registry);
  return std::move(*saved);
}

Result<std::optional<Run>> PostgresMetadataStore::find_run(RegistryId registry,
                                                           std::int64_t number) {
  std::optional<Run> run;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    auto found = first_run(transaction.exec(kFindRun, registry, number));
    if (!found) return found.error();
    run = std::move(*found);
    return {};
  });
  if (!read) return read.error();
  return run;
}

Result<std::vector<Run>> PostgresMetadataStore::list_runs(RegistryId registry,
                                                          std::optional<std::string> task,
                                                          std::optional<std::int64_t> before,
                                                          std::size_t limit) {
  std::vector<Run> runs;
  if (limit == 0) return runs;
  const std::int64_t below = before.value_or(std::numeric_limits<std::int64_t>::max());
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    auto listed =
        task ? runs_of(transaction.exec(kListTaskRuns, registry, *task, below, sql_limit(limit)))
             : runs_of(transaction.exec(kListRuns, registry, below, sql_limit(limit)));
    if (!listed) return listed.error();
    runs = std::move(*listed);
    return {};
  });
  if (!read) return read.error();
  return runs;
}

Result<std::vector<Run>> PostgresMetadataStore::queued_runs(std::size_t limit) {
  std::vector<Run> runs;
  if (limit == 0) return runs;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    auto listed = runs_of(transaction.exec(kQueuedRuns, sql_limit(limit)));
    if (!listed) return listed.error();
    runs = std::move(*listed);
    return {};
  });
  if (!read) return read.error();
  return runs;
}

Result<std::optional<Run>> PostgresMetadataStore::start_run(RegistryId registry,
                                                            std::int64_t number,
                                                            std::string_view holder,
                                                            std::int64_t max_running,
                                                            std::int64_t now) {
  if (auto bad = check_run_holder(holder)) return *bad;
  std::optional<Run> started;
  auto written = database_->write([&](Transaction& transaction) -> Result<void> {
    auto run = first_run(transaction.exec(kStartRun, registry, number, holder, max_running, now));
    if (!run) return run.error();
    started = std::move(*run);
    return {};
  });
  if (!written) return written.error();
  return started;
}

Result<std::optional<bool>> PostgresMetadataStore::renew_run(RegistryId registry,
                                                             std::int64_t number,
                                                             std::string_view holder,
                                                             std::int64_t now) {
  if (auto bad = check_run_holder(holder)) return *bad;
  std::optional<bool> cancel_requested;
  auto written = database_->write([&](Transaction& transaction) -> Result<void> {
    cancel_requested.reset();
    pqxx::result rows = transaction.exec(kRenewRun, registry, number, holder, now);
    if (!rows.empty()) cancel_requested = rows[0][0].as<bool>();
    return {};
  });
  if (!written) return written.error();
  return cancel_requested;
}

Result<Run> PostgresMetadataStore::request_cancel(RegistryId registry, std::int64_t number,
                                                  std::int64_t now) {
  std::optional<Run> after;
  auto written = database_->write([&](Transaction& transaction) -> Result<void> {
    transaction.exec(kCancelQueuedRun, registry, number, now);
    transaction.exec(kRequestRunCancel, registry, number);
    auto run = first_run(transaction.exec(kFindRun, registry, number));
    if (!run) return run.error();
    after = std::move(*run);
    return {};
  });
  if (!written) return written.error();
  if (!after) return run_not_found(number);
  return std::move(*after);
}

Result<bool> PostgresMetadataStore::finish_run(RegistryId registry, std::int64_t number,
                                               std::string_view holder, const RunOutcome& outcome,
                                               std::int64_t now) {
  if (auto bad = check_run_holder(holder)) return *bad;
  if (auto bad = check_run_end(outcome.status)) return *bad;
  bool finished = false;
  auto written = database_->write([&](Transaction& transaction) -> Result<void> {
    finished = transaction
                   .exec(kFinishRun, registry, number, holder,
                         std::string_view(run_status_name(outcome.status)), outcome.outputs,
                         outcome.base_images, bytes(outcome.error), outcome.log_digest,
                         stored_count(outcome.log_size), now)
                   .affected_rows() > 0;
    return {};
  });
  if (!written) return written.error();
  return finished;
}

Result<std::vector<Run>> PostgresMetadataStore::fail_abandoned_runs(std::int64_t stale_before,
                                                                    std::string_view holder,
                                                                    std::string_view error,
                                                                    std::int64_t now) {
  std::vector<Run> failed;
  auto written = database_->write([&](Transaction& transaction) -> Result<void> {
    // The same condition twice on one snapshot: the update ends exactly the runs read.
    auto found = runs_of(transaction.exec(kAbandonedRuns, stale_before, holder));
    if (!found) return found.error();
    failed = std::move(*found);
    if (!failed.empty()) {
      transaction.exec(kFailAbandonedRuns, stale_before, holder, bytes(error), now);
    }
    return {};
  });
  if (!written) return written.error();
  return failed;
}

Result<std::vector<Run>> PostgresMetadataStore::prune_runs(std::int64_t before, std::size_t limit) {
  std::vector<Run> pruned;
  if (limit == 0) return pruned;
  auto written = database_->write([&](Transaction& transaction) -> Result<void> {
    auto removed = runs_of(transaction.exec(kPruneRuns, before, sql_limit(limit)));
    if (!removed) return removed.error();
    pruned = std::move(*removed);
    return {};
  });
  if (!written) return written.error();
  // RETURNING gives the rows in no particular order.
  std::sort(pruned.begin(), pruned.end(), [](const Run& a, const Run& b) {
    return std::tie(a.finished_at, a.registry, a.number) <
           std::tie(b.finished_at, b.registry, b.number);
  });
  return pruned;
}

// --- run logs ---

Result<std::uint64_t> PostgresMetadataStore::append_run_log(RegistryId registry,
                                                            std::int64_t number,
                                                            std::string_view bytes_to_add) {
  std::uint64_t size = 0;
  auto written = database_->write([&](Transaction& transaction) -> Result<void> {
    pqxx::result grown = transaction.exec(kGrowRunLog, registry, number,
                                          static_cast<std::int64_t>(bytes_to_add.size()));
    if (grown.empty()) return run_not_found(number);
    size = static_cast<std::uint64_t>(grown[0][0].as<std::int64_t>());
    std::uint64_t offset = size - bytes_to_add.size();
    for (std::size_t at = 0; at < bytes_to_add.size(); at += kRunLogChunkBytes) {
      const std::string_view chunk = bytes_to_add.substr(at, kRunLogChunkBytes);
      transaction.exec(kInsertLogChunk, registry, number, static_cast<std::int64_t>(offset),
                       bytes(chunk));
      offset += chunk.size();
    }
    return {};
  });
  if (!written) return written.error();
  return size;
}

Result<std::string> PostgresMetadataStore::read_run_log(RegistryId registry, std::int64_t number,
                                                        std::uint64_t offset,
                                                        std::size_t max_bytes) {
  std::string log;
  constexpr auto kMaxOffset = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  if (max_bytes == 0 || offset >= kMaxOffset) return log;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    log.clear();
    pqxx::result chunks =
        transaction.exec(kReadLogChunks, registry, number, static_cast<std::int64_t>(offset),
                         read_end(offset, max_bytes));
    for (const pqxx::row& row : chunks) {
      const auto chunk_offset = static_cast<std::uint64_t>(row[0].as<std::int64_t>());
      if (!take_from_chunk(offset, max_bytes, chunk_offset, bytes_of(row[1]), log)) break;
    }
    return {};
  });
  if (!read) return read.error();
  return log;
}

Result<void> PostgresMetadataStore::drop_run_log(RegistryId registry, std::int64_t number) {
  return database_->write([&](Transaction& transaction) -> Result<void> {
    transaction.exec(kDropLogChunks, registry, number);
    transaction.exec(kResetRunLog, registry, number);
    return {};
  });
}

// --- blob pins ---

Result<void> PostgresMetadataStore::pin_blob(const oci::Digest& digest, std::string_view owner,
                                             std::int64_t now) {
  if (auto bad = check_pin_owner(owner)) return *bad;
  const std::string text = digest.str();
  return database_->write([&](Transaction& transaction) -> Result<void> {
    if (!transaction.exec(kBlobClaimed, text).empty()) return blob_being_deleted(text);
    transaction.exec(kPinBlob, text, owner, now);
    return {};
  });
}

Result<std::size_t> PostgresMetadataStore::unpin_blobs(std::string_view owner) {
  if (auto bad = check_pin_owner(owner)) return *bad;
  std::size_t removed = 0;
  auto written = database_->write([&](Transaction& transaction) -> Result<void> {
    removed = static_cast<std::size_t>(transaction.exec(kUnpinBlobs, owner).affected_rows());
    return {};
  });
  if (!written) return written.error();
  return removed;
}

Result<bool> PostgresMetadataStore::is_blob_pinned(const oci::Digest& digest) {
  bool pinned = false;
  const std::string text = digest.str();
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    pinned = !transaction.exec(kBlobPinned, text).empty();
    return {};
  });
  if (!read) return read.error();
  return pinned;
}

std::vector<Statement> postgres::planned_task_statements() {
  return {kFindTask,       kListTasks,           kListEnabledTasks, kTriggerStates,
          kTaskBaseImages, kTasksUsingBaseImage, kFindRun,          kListRuns,
          kListTaskRuns,   kQueuedRuns,          kAbandonedRuns,    kPruneRuns,
          kReadLogChunks,  kBlobPinned,          kUnpinBlobs};
}

}  // namespace berth::metadata
