// SqliteMetadataStore: the TaskStore part (task_store.h): build tasks, their triggers' state and
// base images, runs with their live logs, and blob pins, on the same database, writer and reader
// pool as the content metadata.
//
// Tables (schema version 11, sqlite_schema.cc). Arrows are foreign keys; "x" marks ON DELETE
// CASCADE.
//
//   registries
//   ^x  tasks (PK registry_id, name; definition, enabled, created_at, updated_at)
//   |     index (registry_id, name) WHERE enabled = 1: what the triggers' pollers walk
//   |     ^x  task_trigger_states (PK registry_id, task, trigger_name; state, updated_at)
//   |     |                        WITHOUT ROWID
//   |     ^x  task_base_images (PK registry_id, task, reference)   WITHOUT ROWID
//   |                           index (reference, registry_id, task): the tasks a push starts
//   ^x  task_run_counters (PK registry_id; last_number)
//   ^x  task_runs (PK registry_id, number; task, status, trigger_name, request, holder,
//   |              heartbeat_at, cancel_requested, outputs, base_images, error, log_digest,
//   |              log_size, live_log_size, created_at, started_at, finished_at)
//   |     index (registry_id, task, number): a task's runs, newest first
//   |     index (created_at, registry_id, number) WHERE status = 'queued': the runners' queue
//   |     index (registry_id, number) WHERE status = 'running': the limit, abandoned runs
//   |     index (finished_at) WHERE the status is an end: pruning
//   |     ^x  run_log_chunks (PK registry_id, number, byte_offset; bytes BLOB)
//   blob_pins (PK digest, owner; created_at)   WITHOUT ROWID   index (owner)
//
// Why this shape:
// - Run numbers come from a counter per registry, incremented in create_run's transaction, and
//   not from the highest number stored: a pruned run's number (people quote them: cb12) is
//   never handed out again.
// - A run names its task without a key: runs outlive a deleted task. Trigger state and base
//   images hang off the task: deleting it takes them.
// - A live log is stored as it comes, in chunks (stored_values.h: kRunLogChunkBytes), each a
//   row keyed by its offset. live_log_size on the run is where the next chunk starts; an append
//   raises it first and writes its chunks after, in one transaction, so two appends racing for
//   one run each get their own range. Here the single writer orders them; on PostgreSQL the
//   update of the run's row does.
// - start_run counts the registry's running runs and starts the run in one statement on the
//   single writer (BEGIN IMMEDIATE): no other write, of this store or another process on the
//   file, comes between, so no registry goes past its limit and each run goes to one caller.
// - blob_pins has no key to blobs: a pin may name bytes the metadata has no row for (an
//   uploaded build context is such bytes). Garbage collection's claims re-check the pins in
//   their own statements (sqlite_gc_store.cc); pin_blob refuses a digest already claimed.

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
#include "metadata/sqlite_internal.h"
#include "metadata/sqlite_metadata_store.h"

namespace berth::metadata {
namespace {

#define BERTH_TASK_COLUMNS "registry_id, name, definition, enabled, created_at, updated_at"
#define BERTH_RUN_COLUMNS                                                             \
  "registry_id, number, task, status, trigger_name, request, holder, heartbeat_at, "  \
  "cancel_requested, outputs, base_images, error, log_digest, log_size, created_at, " \
  "started_at, finished_at"
// The condition of the partial index of ended runs, word for word, so SQLite uses it.
#define BERTH_RUN_ENDED "status IN ('succeeded', 'failed', 'canceled', 'timeout')"
// ?1 stale_before, ?2 holder ("" matches none).
#define BERTH_RUN_ABANDONED \
  "status = 'running' AND (heartbeat_at < ?1 OR (?2 != '' AND holder = ?2))"

constexpr StatementSpec<TaskSql> kTaskStatements[] = {
    {TaskSql::registry_exists, "find registry", "SELECT 1 FROM registries WHERE id = ?1"},
    {TaskSql::find_task, "find task",
     "SELECT " BERTH_TASK_COLUMNS " FROM tasks WHERE registry_id = ?1 AND name = ?2"},
    {TaskSql::count_tasks, "count tasks", "SELECT count(*) FROM tasks WHERE registry_id = ?1"},
    {TaskSql::insert_task, "insert task",
     "INSERT INTO tasks (" BERTH_TASK_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
     "RETURNING " BERTH_TASK_COLUMNS},
    {TaskSql::update_task, "update task",
     "UPDATE tasks SET definition = ?3, enabled = ?4, updated_at = ?5 "
     "WHERE registry_id = ?1 AND name = ?2 RETURNING " BERTH_TASK_COLUMNS},
    {TaskSql::list_tasks, "list tasks",
     "SELECT " BERTH_TASK_COLUMNS " FROM tasks WHERE registry_id = ?1 ORDER BY name"},
    {TaskSql::list_enabled_tasks, "list enabled tasks",
     "SELECT " BERTH_TASK_COLUMNS " FROM tasks WHERE enabled = 1 "
     "AND (registry_id, name) > (?1, ?2) ORDER BY registry_id, name LIMIT ?3"},
    {TaskSql::delete_task, "delete task", "DELETE FROM tasks WHERE registry_id = ?1 AND name = ?2"},
    {TaskSql::trigger_state, "find trigger state",
     "SELECT state FROM task_trigger_states "
     "WHERE registry_id = ?1 AND task = ?2 AND trigger_name = ?3"},
    {TaskSql::put_trigger_state, "set trigger state",
     "INSERT INTO task_trigger_states (registry_id, task, trigger_name, state, updated_at) "
     "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (registry_id, task, trigger_name) "
     "DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at"},
    {TaskSql::trigger_states, "list trigger states",
     "SELECT trigger_name, state, updated_at FROM task_trigger_states "
     "WHERE registry_id = ?1 AND task = ?2 ORDER BY trigger_name"},
    {TaskSql::delete_base_images, "forget base images",
     "DELETE FROM task_base_images WHERE registry_id = ?1 AND task = ?2"},
    {TaskSql::insert_base_image, "insert base image",
     "INSERT INTO task_base_images (registry_id, task, reference) VALUES (?1, ?2, ?3) "
     "ON CONFLICT (registry_id, task, reference) DO NOTHING"},
    {TaskSql::task_base_images, "list base images",
     "SELECT reference FROM task_base_images WHERE registry_id = ?1 AND task = ?2 "
     "ORDER BY reference"},
    {TaskSql::tasks_using_base_image, "find tasks using base image",
     "SELECT b.registry_id, b.task FROM task_base_images b "
     "JOIN tasks t ON t.registry_id = b.registry_id AND t.name = b.task "
     "WHERE b.reference = ?1 AND t.enabled = 1 ORDER BY b.registry_id, b.task"},
    {TaskSql::next_run_number, "number run",
     "INSERT INTO task_run_counters (registry_id, last_number) VALUES (?1, 1) "
     "ON CONFLICT (registry_id) DO UPDATE SET last_number = last_number + 1 "
     "RETURNING last_number"},
    {TaskSql::insert_run, "insert run",
     "INSERT INTO task_runs (registry_id, number, task, status, trigger_name, request, "
     "created_at) VALUES (?1, ?2, ?3, 'queued', ?4, ?5, ?6) RETURNING " BERTH_RUN_COLUMNS},
    {TaskSql::find_run, "find run",
     "SELECT " BERTH_RUN_COLUMNS " FROM task_runs WHERE registry_id = ?1 AND number = ?2"},
    {TaskSql::list_runs, "list runs",
     "SELECT " BERTH_RUN_COLUMNS " FROM task_runs WHERE registry_id = ?1 AND number < ?2 "
     "ORDER BY number DESC LIMIT ?3"},
    {TaskSql::list_task_runs, "list runs of task",
     "SELECT " BERTH_RUN_COLUMNS " FROM task_runs WHERE registry_id = ?1 AND task = ?2 "
     "AND number < ?3 ORDER BY number DESC LIMIT ?4"},
    {TaskSql::queued_runs, "list queued runs",
     "SELECT " BERTH_RUN_COLUMNS " FROM task_runs WHERE status = 'queued' "
     "ORDER BY created_at, registry_id, number LIMIT ?1"},
    // ?3 holder, ?4 max_running, ?5 now.
    {TaskSql::start_run, "start run",
     "UPDATE task_runs SET status = 'running', holder = ?3, heartbeat_at = ?5, started_at = ?5 "
     "WHERE registry_id = ?1 AND number = ?2 AND status = 'queued' AND (SELECT count(*) FROM "
     "task_runs WHERE registry_id = ?1 AND status = 'running') < ?4 "
     "RETURNING " BERTH_RUN_COLUMNS},
    {TaskSql::renew_run, "renew run",
     "UPDATE task_runs SET heartbeat_at = ?4 "
     "WHERE registry_id = ?1 AND number = ?2 AND holder = ?3 AND status = 'running' "
     "RETURNING cancel_requested"},
    {TaskSql::cancel_queued_run, "cancel queued run",
     "UPDATE task_runs SET status = 'canceled', finished_at = ?3 "
     "WHERE registry_id = ?1 AND number = ?2 AND status = 'queued'"},
    {TaskSql::request_run_cancel, "request run cancel",
     "UPDATE task_runs SET cancel_requested = 1 "
     "WHERE registry_id = ?1 AND number = ?2 AND status = 'running'"},
    {TaskSql::finish_run, "finish run",
     "UPDATE task_runs SET status = ?4, outputs = ?5, base_images = ?6, error = ?7, "
     "log_digest = ?8, log_size = ?9, finished_at = ?10 "
     "WHERE registry_id = ?1 AND number = ?2 AND holder = ?3 AND status = 'running'"},
    {TaskSql::abandoned_runs, "find abandoned runs",
     "SELECT " BERTH_RUN_COLUMNS " FROM task_runs WHERE " BERTH_RUN_ABANDONED
     " ORDER BY registry_id, number"},
    {TaskSql::fail_abandoned_runs, "fail abandoned runs",
     "UPDATE task_runs SET status = 'failed', error = ?3, finished_at = ?4 "
     "WHERE " BERTH_RUN_ABANDONED},
    {TaskSql::prune_runs, "prune runs",
     "DELETE FROM task_runs WHERE (registry_id, number) IN (SELECT registry_id, number "
     "FROM task_runs WHERE " BERTH_RUN_ENDED " AND finished_at < ?1 ORDER BY finished_at "
     "LIMIT ?2) RETURNING " BERTH_RUN_COLUMNS},
    {TaskSql::grow_run_log, "grow run log",
     "UPDATE task_runs SET live_log_size = live_log_size + ?3 "
     "WHERE registry_id = ?1 AND number = ?2 RETURNING live_log_size"},
    {TaskSql::insert_log_chunk, "insert run log chunk",
     "INSERT INTO run_log_chunks (registry_id, number, byte_offset, bytes) "
     "VALUES (?1, ?2, ?3, ?4)"},
    // From the chunk that holds ?3 (the read's offset) to the last one starting before ?4 (its
    // end).
    {TaskSql::read_log_chunks, "read run log",
     "SELECT byte_offset, bytes FROM run_log_chunks WHERE registry_id = ?1 AND number = ?2 "
     "AND byte_offset >= COALESCE((SELECT max(byte_offset) FROM run_log_chunks "
     "WHERE registry_id = ?1 AND number = ?2 AND byte_offset <= ?3), 0) "
     "AND byte_offset < ?4 ORDER BY byte_offset"},
    {TaskSql::drop_log_chunks, "drop run log",
     "DELETE FROM run_log_chunks WHERE registry_id = ?1 AND number = ?2"},
    {TaskSql::reset_run_log, "reset run log",
     "UPDATE task_runs SET live_log_size = 0 WHERE registry_id = ?1 AND number = ?2"},
    {TaskSql::blob_claimed, "check blob claim",
     "SELECT 1 FROM blobs WHERE digest = ?1 AND deleting = 1"},
    {TaskSql::pin_blob, "pin blob",
     "INSERT INTO blob_pins (digest, owner, created_at) VALUES (?1, ?2, ?3) "
     "ON CONFLICT (digest, owner) DO NOTHING"},
    {TaskSql::unpin_blobs, "unpin blobs", "DELETE FROM blob_pins WHERE owner = ?1"},
    {TaskSql::blob_pinned, "check blob pin", "SELECT 1 FROM blob_pins WHERE digest = ?1 LIMIT 1"},
};

#undef BERTH_TASK_COLUMNS
#undef BERTH_RUN_COLUMNS
#undef BERTH_RUN_ENDED
#undef BERTH_RUN_ABANDONED

static_assert(statements_in_enum_order(kTaskStatements), "kTaskStatements is indexed by TaskSql");

Task task_of(const Statement& stmt) {
  return Task{
      .registry = stmt.integer(0),
      .name = std::string(stmt.text(1)),
      .definition = std::string(stmt.text(2)),
      .enabled = stmt.integer(3) != 0,
      .created_at = stmt.integer(4),
      .updated_at = stmt.integer(5),
  };
}

Result<Run> run_of(const Statement& stmt) {
  auto status = stored_run_status(stmt.text(3));
  if (!status) return status.error();
  return Run{
      .registry = stmt.integer(0),
      .number = stmt.integer(1),
      .task = std::string(stmt.text(2)),
      .status = *status,
      .trigger = std::string(stmt.text(4)),
      .request = std::string(stmt.text(5)),
      .holder = std::string(stmt.text(6)),
      .heartbeat_at = stmt.integer(7),
      .cancel_requested = stmt.integer(8) != 0,
      .outputs = std::string(stmt.text(9)),
      .base_images = std::string(stmt.text(10)),
      .error = std::string(stmt.text(11)),
      .log_digest = std::string(stmt.text(12)),
      .log_size = static_cast<std::uint64_t>(stmt.integer(13)),
      .created_at = stmt.integer(14),
      .started_at = stmt.integer(15),
      .finished_at = stmt.integer(16),
  };
}

// The rows of a statement that returns runs, until it is done.
Result<std::vector<Run>> collect_runs(Statement& stmt, std::size_t capacity) {
  std::vector<Run> runs;
  runs.reserve(capacity);
  for (;;) {
    auto row = stmt.step();
    if (!row) return row.error();
    if (!*row) return runs;
    auto run = run_of(stmt);
    if (!run) return run.error();
    runs.push_back(std::move(*run));
  }
}

// The one run a statement returns, if any.
Result<std::optional<Run>> one_run(Statement& stmt) {
  auto row = stmt.step();
  if (!row) return row.error();
  if (!*row) return std::optional<Run>();
  auto run = run_of(stmt);
  if (!run) return run.error();
  return std::optional<Run>(std::move(*run));
}

// The given time, or `fallback` when it is 0 (unset).
std::int64_t time_or(std::int64_t given, std::int64_t fallback) {
  return given != 0 ? given : fallback;
}

// not_found unless the registry exists.
Result<void> require_registry(SqliteConnection& connection, RegistryId registry) {
  auto stmt = connection.statement(TaskSql::registry_exists);
  if (!stmt) return stmt.error();
  stmt->bind_int(1, registry);
  auto row = stmt->step();
  if (!row) return row.error();
  if (!*row) return registry_not_found(registry);
  return {};
}

// The registry's task `name`, if it has one.
Result<std::optional<Task>> task_named(SqliteConnection& connection, RegistryId registry,
                                       std::string_view name) {
  auto stmt = connection.statement(TaskSql::find_task);
  if (!stmt) return stmt.error();
  stmt->bind_int(1, registry).bind_text(2, name);
  auto row = stmt->step();
  if (!row) return row.error();
  if (!*row) return std::optional<Task>();
  return std::optional<Task>(task_of(*stmt));
}

// not_found unless the registry has the task `name` (an unknown registry has none).
Result<void> require_task(SqliteConnection& connection, RegistryId registry,
                          std::string_view name) {
  auto found = task_named(connection, registry, name);
  if (!found) return found.error();
  if (!*found) return task_not_found(name);
  return {};
}

// limit_reached when the registry holds `max` tasks already.
Result<void> require_task_room(SqliteConnection& connection, RegistryId registry, std::size_t max) {
  auto stmt = connection.statement(TaskSql::count_tasks);
  if (!stmt) return stmt.error();
  stmt->bind_int(1, registry);
  auto row = stmt->step();
  if (!row) return row.error();
  const auto held = *row ? static_cast<std::uint64_t>(stmt->integer(0)) : 0;
  if (held < max) return {};
  return tasks_limit_reached(held);
}

// The trigger's state ("" when it has none yet).
Result<std::string> current_trigger_state(SqliteConnection& connection, RegistryId registry,
                                          std::string_view task, std::string_view trigger) {
  auto stmt = connection.statement(TaskSql::trigger_state);
  if (!stmt) return stmt.error();
  stmt->bind_int(1, registry).bind_text(2, task).bind_text(3, trigger);
  auto row = stmt->step();
  if (!row) return row.error();
  return *row ? std::string(stmt->text(0)) : std::string();
}

Result<void> put_trigger_state(SqliteConnection& connection, RegistryId registry,
                               std::string_view task, std::string_view trigger,
                               std::string_view state, std::int64_t now) {
  auto stmt = connection.statement(TaskSql::put_trigger_state);
  if (!stmt) return stmt.error();
  stmt->bind_int(1, registry)
      .bind_text(2, task)
      .bind_text(3, trigger)
      .bind_text(4, state)
      .bind_int(5, now);
  return stmt->run();
}

// Runs a statement keyed by the run (?1 registry, ?2 number) that returns no rows; whether it
// changed one.
Result<bool> change_run(SqliteConnection& connection, TaskSql id, RegistryId registry,
                        std::int64_t number) {
  auto stmt = connection.statement(id);
  if (!stmt) return stmt.error();
  stmt->bind_int(1, registry).bind_int(2, number);
  if (auto done = stmt->run(); !done) return done.error();
  return sqlite3_changes(connection.db()) > 0;
}

// Where a read of `max_bytes` from `offset` ends, as a column value.
std::int64_t read_end(std::uint64_t offset, std::size_t max_bytes) {
  constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  const std::uint64_t room = kMax - offset;
  return static_cast<std::int64_t>(offset + std::min<std::uint64_t>(max_bytes, room));
}

}  // namespace

const StatementSpec<TaskSql>& spec_of(TaskSql id) {
  return kTaskStatements[static_cast<std::size_t>(id)];
}

// --- tasks ---

Result<Task> SqliteMetadataStore::create_task(const Task& task, std::size_t max_tasks) {
  if (auto bad = check_task(task)) return *bad;
  const std::int64_t created_at = time_or(task.created_at, unix_now());
  std::optional<Task> saved;
  auto written = write([&](SqliteConnection& connection) -> Result<void> {
    saved.reset();
    if (auto found = require_registry(connection, task.registry); !found) return found;
    auto taken = task_named(connection, task.registry, task.name);
    if (!taken) return taken.error();
    if (*taken) return task_exists(task.name);
    if (auto room = require_task_room(connection, task.registry, max_tasks); !room) return room;
    auto stmt = connection.statement(TaskSql::insert_task);
    if (!stmt) return stmt.error();
    stmt->bind_int(1, task.registry)
        .bind_text(2, task.name)
        .bind_text(3, task.definition)
        .bind_int(4, task.enabled ? 1 : 0)
        .bind_int(5, created_at)
        .bind_int(6, time_or(task.updated_at, created_at));
    auto row = stmt->step();
    if (!row) return row.error();
    if (*row) saved = task_of(*stmt);
    return {};
  });
  if (!written) return written.error();
  if (!saved) return task_not_found(task.name);
  return *saved;
}

Result<Task> SqliteMetadataStore::update_task(const Task& task) {
  if (auto bad = check_task(task)) return *bad;
  const std::int64_t updated_at = time_or(task.updated_at, unix_now());
  std::optional<Task> saved;
  auto written = write([&](SqliteConnection& connection) -> Result<void> {
    saved.reset();
    if (auto found = require_registry(connection, task.registry); !found) return found;
    auto stmt = connection.statement(TaskSql::update_task);
    if (!stmt) return stmt.error();
    stmt->bind_int(1, task.registry)
        .bind_text(2, task.name)
        .bind_text(3, task.definition)
        .bind_int(4, task.enabled ? 1 : 0)
        .bind_int(5, updated_at);
    auto row = stmt->step();
    if (!row) return row.error();
    if (*row) saved = task_of(*stmt);
    return {};
  });
  if (!written) return written.error();
  if (!saved) return task_not_found(task.name);
  return *saved;
}

Result<std::optional<Task>> SqliteMetadataStore::find_task(RegistryId registry,
                                                           std::string_view name) {
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto found = task_named(reader->connection(), registry, name);
  if (!found || *found) return found;
  if (auto known = require_registry(reader->connection(), registry); !known) {
    return known.error();
  }
  return found;
}

Result<std::vector<Task>> SqliteMetadataStore::list_tasks(RegistryId registry) {
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(TaskSql::list_tasks);
  if (!stmt) return stmt.error();
  stmt->bind_int(1, registry);
  std::vector<Task> tasks;
  for (;;) {
    auto row = stmt->step();
    if (!row) return row.error();
    if (!*row) break;
    tasks.push_back(task_of(*stmt));
  }
  if (tasks.empty()) {
    if (auto known = require_registry(reader->connection(), registry); !known) {
      return known.error();
    }
  }
  return tasks;
}

Result<std::vector<Task>> SqliteMetadataStore::list_enabled_tasks(std::optional<TaskRef> after,
                                                                  std::size_t limit) {
  std::vector<Task> tasks;
  if (limit == 0) return tasks;
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(TaskSql::list_enabled_tasks);
  if (!stmt) return stmt.error();
  // Registry ids start at 1: (0, "") comes before every task.
  const TaskRef start = after.value_or(TaskRef{.registry = 0, .task = ""});
  stmt->bind_int(1, start.registry).bind_text(2, start.task).bind_int(3, sql_limit(limit));
  tasks.reserve(initial_capacity(limit));
  for (;;) {
    auto row = stmt->step();
    if (!row) return row.error();
    if (!*row) return tasks;
    tasks.push_back(task_of(*stmt));
  }
}

Result<bool> SqliteMetadataStore::delete_task(RegistryId registry, std::string_view name) {
  bool removed = false;
  auto written = write([&](SqliteConnection& connection) -> Result<void> {
    auto stmt = connection.statement(TaskSql::delete_task);
    if (!stmt) return stmt.error();
    stmt->bind_int(1, registry).bind_text(2, name);
    if (auto done = stmt->run(); !done) return done;
    removed = sqlite3_changes(connection.db()) > 0;
    return removed ? Result<void>() : require_registry(connection, registry);
  });
  if (!written) return written.error();
  return removed;
}

// --- trigger state ---

Result<void> SqliteMetadataStore::set_trigger_state(RegistryId registry, std::string_view task,
                                                    std::string_view trigger,
                                                    std::string_view state, std::int64_t now) {
  if (auto bad = check_trigger(task, trigger)) return *bad;
  return write([&](SqliteConnection& connection) -> Result<void> {
    if (auto found = require_task(connection, registry, task); !found) return found;
    return put_trigger_state(connection, registry, task, trigger, state, now);
  });
}

Result<std::vector<TriggerState>> SqliteMetadataStore::trigger_states(RegistryId registry,
                                                                      std::string_view task) {
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(TaskSql::trigger_states);
  if (!stmt) return stmt.error();
  stmt->bind_int(1, registry).bind_text(2, task);
  std::vector<TriggerState> states;
  for (;;) {
    auto row = stmt->step();
    if (!row) return row.error();
    if (!*row) break;
    states.push_back(TriggerState{
        .trigger = std::string(stmt->text(0)),
        .state = std::string(stmt->text(1)),
        .updated_at = stmt->integer(2),
    });
  }
  if (states.empty()) {
    if (auto found = require_task(reader->connection(), registry, task); !found) {
      return found.error();
    }
  }
  return states;
}

Result<bool> SqliteMetadataStore::compare_and_set_trigger_state(
    RegistryId registry, std::string_view task, std::string_view trigger, std::string_view expected,
    std::string_view state, std::int64_t now) {
  if (auto bad = check_trigger(task, trigger)) return *bad;
  bool changed = false;
  auto written = write([&](SqliteConnection& connection) -> Result<void> {
    changed = false;
    if (auto found = require_task(connection, registry, task); !found) return found;
    auto current = current_trigger_state(connection, registry, task, trigger);
    if (!current) return current.error();
    if (*current != expected) return {};
    changed = true;
    return put_trigger_state(connection, registry, task, trigger, state, now);
  });
  if (!written) return written.error();
  return changed;
}

// --- base images ---

Result<void> SqliteMetadataStore::set_task_base_images(RegistryId registry, std::string_view task,
                                                       const std::vector<std::string>& references) {
  if (auto bad = check_base_images(task, references)) return *bad;
  return write([&](SqliteConnection& connection) -> Result<void> {
    if (auto found = require_task(connection, registry, task); !found) return found;
    auto forget = connection.statement(TaskSql::delete_base_images);
    if (!forget) return forget.error();
    forget->bind_int(1, registry).bind_text(2, task);
    if (auto done = forget->run(); !done) return done;
    auto insert = connection.statement(TaskSql::insert_base_image);
    if (!insert) return insert.error();
    for (const std::string& reference : references) {
      insert->bind_int(1, registry).bind_text(2, task).bind_text(3, reference);
      if (auto done = insert->run(); !done) return done;
      insert->reset();
    }
    return {};
  });
}

Result<std::vector<std::string>> SqliteMetadataStore::task_base_images(RegistryId registry,
                                                                       std::string_view task) {
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(TaskSql::task_base_images);
  if (!stmt) return stmt.error();
  stmt->bind_int(1, registry).bind_text(2, task);
  std::vector<std::string> references;
  for (;;) {
    auto row = stmt->step();
    if (!row) return row.error();
    if (!*row) return references;
    references.emplace_back(stmt->text(0));
  }
}

Result<std::vector<TaskRef>> SqliteMetadataStore::tasks_using_base_image(
    std::string_view reference) {
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(TaskSql::tasks_using_base_image);
  if (!stmt) return stmt.error();
  stmt->bind_text(1, reference);
  std::vector<TaskRef> tasks;
  for (;;) {
    auto row = stmt->step();
    if (!row) return row.error();
    if (!*row) return tasks;
    tasks.push_back(TaskRef{.registry = stmt->integer(0), .task = std::string(stmt->text(1))});
  }
}

// --- runs ---

Result<Run> SqliteMetadataStore::create_run(const Run& run) {
  const std::int64_t created_at = time_or(run.created_at, unix_now());
  std::optional<Run> saved;
  auto written = write([&](SqliteConnection& connection) -> Result<void> {
    saved.reset();
    if (auto found = require_registry(connection, run.registry); !found) return found;
    auto counter = connection.statement(TaskSql::next_run_number);
    if (!counter) return counter.error();
    counter->bind_int(1, run.registry);
    auto counted = counter->step();
    if (!counted) return counted.error();
    if (!*counted) return registry_not_found(run.registry);
    const std::int64_t number = counter->integer(0);
    auto stmt = connection.statement(TaskSql::insert_run);
    if (!stmt) return stmt.error();
    stmt->bind_int(1, run.registry)
        .bind_int(2, number)
        .bind_text(3, run.task)
        .bind_text(4, run.trigger)
        .bind_text(5, run.request)
        .bind_int(6, created_at);
    auto inserted = one_run(*stmt);
    if (!inserted) return inserted.error();
    saved = std::move(*inserted);
    return {};
  });
  if (!written) return written.error();
  if (!saved) return registry_not_found(run.registry);
  return std::move(*saved);
}

Result<std::optional<Run>> SqliteMetadataStore::find_run(RegistryId registry, std::int64_t number) {
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(TaskSql::find_run);
  if (!stmt) return stmt.error();
  stmt->bind_int(1, registry).bind_int(2, number);
  return one_run(*stmt);
}

Result<std::vector<Run>> SqliteMetadataStore::list_runs(RegistryId registry,
                                                        std::optional<std::string> task,
                                                        std::optional<std::int64_t> before,
                                                        std::size_t limit) {
  if (limit == 0) return std::vector<Run>();
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  const std::int64_t below = before.value_or(std::numeric_limits<std::int64_t>::max());
  auto stmt = reader->connection().statement(task ? TaskSql::list_task_runs : TaskSql::list_runs);
  if (!stmt) return stmt.error();
  if (task) {
    stmt->bind_int(1, registry)
        .bind_text(2, *task)
        .bind_int(3, below)
        .bind_int(4, sql_limit(limit));
  } else {
    stmt->bind_int(1, registry).bind_int(2, below).bind_int(3, sql_limit(limit));
  }
  return collect_runs(*stmt, initial_capacity(limit));
}

Result<std::vector<Run>> SqliteMetadataStore::queued_runs(std::size_t limit) {
  if (limit == 0) return std::vector<Run>();
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(TaskSql::queued_runs);
  if (!stmt) return stmt.error();
  stmt->bind_int(1, sql_limit(limit));
  return collect_runs(*stmt, initial_capacity(limit));
}

Result<std::optional<Run>> SqliteMetadataStore::start_run(RegistryId registry, std::int64_t number,
                                                          std::string_view holder,
                                                          std::int64_t max_running,
                                                          std::int64_t now) {
  if (auto bad = check_run_holder(holder)) return *bad;
  std::optional<Run> started;
  auto written = write([&](SqliteConnection& connection) -> Result<void> {
    started.reset();
    auto stmt = connection.statement(TaskSql::start_run);
    if (!stmt) return stmt.error();
    stmt->bind_int(1, registry)
        .bind_int(2, number)
        .bind_text(3, holder)
        .bind_int(4, max_running)
        .bind_int(5, now);
    auto run = one_run(*stmt);
    if (!run) return run.error();
    started = std::move(*run);
    return {};
  });
  if (!written) return written.error();
  return started;
}

Result<std::optional<bool>> SqliteMetadataStore::renew_run(RegistryId registry, std::int64_t number,
                                                           std::string_view holder,
                                                           std::int64_t now) {
  if (auto bad = check_run_holder(holder)) return *bad;
  std::optional<bool> cancel_requested;
  auto written = write([&](SqliteConnection& connection) -> Result<void> {
    cancel_requested.reset();
    auto stmt = connection.statement(TaskSql::renew_run);
    if (!stmt) return stmt.error();
    stmt->bind_int(1, registry).bind_int(2, number).bind_text(3, holder).bind_int(4, now);
    auto row = stmt->step();
    if (!row) return row.error();
    if (*row) cancel_requested = stmt->integer(0) != 0;
    return {};
  });
  if (!written) return written.error();
  return cancel_requested;
}

Result<Run> SqliteMetadataStore::request_cancel(RegistryId registry, std::int64_t number,
                                                std::int64_t now) {
  std::optional<Run> after;
  auto written = write([&](SqliteConnection& connection) -> Result<void> {
    after.reset();
    auto cancel = connection.statement(TaskSql::cancel_queued_run);
    if (!cancel) return cancel.error();
    cancel->bind_int(1, registry).bind_int(2, number).bind_int(3, now);
    if (auto done = cancel->run(); !done) return done;
    auto flagged = change_run(connection, TaskSql::request_run_cancel, registry, number);
    if (!flagged) return flagged.error();
    auto find = connection.statement(TaskSql::find_run);
    if (!find) return find.error();
    find->bind_int(1, registry).bind_int(2, number);
    auto run = one_run(*find);
    if (!run) return run.error();
    after = std::move(*run);
    return {};
  });
  if (!written) return written.error();
  if (!after) return run_not_found(number);
  return std::move(*after);
}

Result<bool> SqliteMetadataStore::finish_run(RegistryId registry, std::int64_t number,
                                             std::string_view holder, const RunOutcome& outcome,
                                             std::int64_t now) {
  if (auto bad = check_run_holder(holder)) return *bad;
  if (auto bad = check_run_end(outcome.status)) return *bad;
  bool finished = false;
  auto written = write([&](SqliteConnection& connection) -> Result<void> {
    auto stmt = connection.statement(TaskSql::finish_run);
    if (!stmt) return stmt.error();
    stmt->bind_int(1, registry)
        .bind_int(2, number)
        .bind_text(3, holder)
        .bind_text(4, run_status_name(outcome.status))
        .bind_text(5, outcome.outputs)
        .bind_text(6, outcome.base_images)
        .bind_text(7, outcome.error)
        .bind_text(8, outcome.log_digest)
        .bind_int(9, stored_count(outcome.log_size))
        .bind_int(10, now);
    if (auto done = stmt->run(); !done) return done;
    finished = sqlite3_changes(connection.db()) > 0;
    return {};
  });
  if (!written) return written.error();
  return finished;
}

Result<std::vector<Run>> SqliteMetadataStore::fail_abandoned_runs(std::int64_t stale_before,
                                                                  std::string_view holder,
                                                                  std::string_view error,
                                                                  std::int64_t now) {
  std::vector<Run> failed;
  auto written = write([&](SqliteConnection& connection) -> Result<void> {
    // The same condition twice in one transaction: the update ends exactly the runs read.
    auto find = connection.statement(TaskSql::abandoned_runs);
    if (!find) return find.error();
    find->bind_int(1, stale_before).bind_text(2, holder);
    auto found = collect_runs(*find, 0);
    if (!found) return found.error();
    failed = std::move(*found);
    if (failed.empty()) return {};
    auto fail = connection.statement(TaskSql::fail_abandoned_runs);
    if (!fail) return fail.error();
    fail->bind_int(1, stale_before).bind_text(2, holder).bind_text(3, error).bind_int(4, now);
    return fail->run();
  });
  if (!written) return written.error();
  return failed;
}

Result<std::vector<Run>> SqliteMetadataStore::prune_runs(std::int64_t before, std::size_t limit) {
  std::vector<Run> pruned;
  if (limit == 0) return pruned;
  auto written = write([&](SqliteConnection& connection) -> Result<void> {
    auto stmt = connection.statement(TaskSql::prune_runs);
    if (!stmt) return stmt.error();
    stmt->bind_int(1, before).bind_int(2, sql_limit(limit));
    auto removed = collect_runs(*stmt, initial_capacity(limit));
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

Result<std::uint64_t> SqliteMetadataStore::append_run_log(RegistryId registry, std::int64_t number,
                                                          std::string_view bytes) {
  std::uint64_t size = 0;
  auto written = write([&](SqliteConnection& connection) -> Result<void> {
    auto grow = connection.statement(TaskSql::grow_run_log);
    if (!grow) return grow.error();
    grow->bind_int(1, registry)
        .bind_int(2, number)
        .bind_int(3, static_cast<std::int64_t>(bytes.size()));
    auto row = grow->step();
    if (!row) return row.error();
    if (!*row) return run_not_found(number);
    size = static_cast<std::uint64_t>(grow->integer(0));
    std::uint64_t offset = size - bytes.size();
    auto insert = connection.statement(TaskSql::insert_log_chunk);
    if (!insert) return insert.error();
    for (std::size_t at = 0; at < bytes.size(); at += kRunLogChunkBytes) {
      const std::string_view chunk = bytes.substr(at, kRunLogChunkBytes);
      insert->bind_int(1, registry)
          .bind_int(2, number)
          .bind_int(3, static_cast<std::int64_t>(offset))
          .bind_blob(4, chunk);
      if (auto done = insert->run(); !done) return done;
      insert->reset();
      offset += chunk.size();
    }
    return {};
  });
  if (!written) return written.error();
  return size;
}

Result<std::string> SqliteMetadataStore::read_run_log(RegistryId registry, std::int64_t number,
                                                      std::uint64_t offset, std::size_t max_bytes) {
  std::string log;
  constexpr auto kMaxOffset = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  if (max_bytes == 0 || offset >= kMaxOffset) return log;
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(TaskSql::read_log_chunks);
  if (!stmt) return stmt.error();
  stmt->bind_int(1, registry)
      .bind_int(2, number)
      .bind_int(3, static_cast<std::int64_t>(offset))
      .bind_int(4, read_end(offset, max_bytes));
  for (;;) {
    auto row = stmt->step();
    if (!row) return row.error();
    if (!*row) return log;
    const auto chunk_offset = static_cast<std::uint64_t>(stmt->integer(0));
    if (!take_from_chunk(offset, max_bytes, chunk_offset, stmt->blob(1), log)) return log;
  }
}

Result<void> SqliteMetadataStore::drop_run_log(RegistryId registry, std::int64_t number) {
  return write([&](SqliteConnection& connection) -> Result<void> {
    auto dropped = change_run(connection, TaskSql::drop_log_chunks, registry, number);
    if (!dropped) return dropped.error();
    auto reset = change_run(connection, TaskSql::reset_run_log, registry, number);
    if (!reset) return reset.error();
    return {};
  });
}

// --- blob pins ---

Result<void> SqliteMetadataStore::pin_blob(const oci::Digest& digest, std::string_view owner,
                                           std::int64_t now) {
  if (auto bad = check_pin_owner(owner)) return *bad;
  const std::string text = digest.str();
  return write([&](SqliteConnection& connection) -> Result<void> {
    auto claimed = connection.statement(TaskSql::blob_claimed);
    if (!claimed) return claimed.error();
    claimed->bind_text(1, text);
    auto row = claimed->step();
    if (!row) return row.error();
    if (*row) return blob_being_deleted(text);
    auto pin = connection.statement(TaskSql::pin_blob);
    if (!pin) return pin.error();
    pin->bind_text(1, text).bind_text(2, owner).bind_int(3, now);
    return pin->run();
  });
}

Result<std::size_t> SqliteMetadataStore::unpin_blobs(std::string_view owner) {
  if (auto bad = check_pin_owner(owner)) return *bad;
  std::size_t removed = 0;
  auto written = write([&](SqliteConnection& connection) -> Result<void> {
    auto stmt = connection.statement(TaskSql::unpin_blobs);
    if (!stmt) return stmt.error();
    stmt->bind_text(1, owner);
    if (auto done = stmt->run(); !done) return done;
    removed = static_cast<std::size_t>(sqlite3_changes(connection.db()));
    return {};
  });
  if (!written) return written.error();
  return removed;
}

Result<bool> SqliteMetadataStore::is_blob_pinned(const oci::Digest& digest) {
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(TaskSql::blob_pinned);
  if (!stmt) return stmt.error();
  const std::string text = digest.str();
  stmt->bind_text(1, text);
  auto row = stmt->step();
  if (!row) return row.error();
  return *row;
}

}  // namespace berth::metadata
