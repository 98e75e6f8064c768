#pragma once
// Internal to the SQLite backend: what its files (sqlite_*.cc: the content metadata, schema
// and migrations, the access, event, GC and lifecycle parts) share. Include it from nowhere else
// (but the backend's own tests).

#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>

#include "metadata/sqlite_metadata_store.h"

namespace berth::metadata {

inline constexpr int kBusyTimeoutMs = 10'000;
// Per connection; negative means KiB in PRAGMA cache_size. Small, because reads go through
// the shared memory map below and every pooled reader has a cache of its own.
inline constexpr int kCacheSizeKib = 2 * 1024;
// Connections read database pages through one mapping of the file (the kernel's page cache)
// instead of each copying them into a private cache: with a reader per busy thread, private
// copies multiplied the resident memory by the number of readers.
inline constexpr std::int64_t kMmapSizeBytes = 256 * 1024 * 1024;
// Keeps the WAL file from staying huge after a burst of writes.
inline constexpr std::int64_t kJournalSizeLimitBytes = 64 * 1024 * 1024;

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

inline constexpr std::size_t kStatementCount = static_cast<std::size_t>(Sql::count);
inline constexpr std::size_t kAccessStatementCount = static_cast<std::size_t>(AccessSql::count);
inline constexpr std::size_t kEventStatementCount = static_cast<std::size_t>(EventSql::count);
inline constexpr std::size_t kGcStatementCount = static_cast<std::size_t>(GcSql::count);
inline constexpr std::size_t kLifecycleStatementCount =
    static_cast<std::size_t>(LifecycleSql::count);

// Each statement table is indexed by its enum; defined next to the table.
const StatementSpec<Sql>& spec_of(Sql id);
const StatementSpec<AccessSql>& spec_of(AccessSql id);
const StatementSpec<EventSql>& spec_of(EventSql id);
const StatementSpec<GcSql>& spec_of(GcSql id);
const StatementSpec<LifecycleSql>& spec_of(LifecycleSql id);

template <class Id, std::size_t N>
constexpr bool statements_in_enum_order(const StatementSpec<Id> (&specs)[N]) {
  for (std::size_t i = 0; i < N; ++i) {
    if (static_cast<std::size_t>(specs[i].id) != i) return false;
  }
  return N == static_cast<std::size_t>(Id::count);
}

inline MetadataError database_error(sqlite3* db, std::string_view what) {
  std::string message = "metadata database: ";
  message += what;
  message += ": ";
  if (db == nullptr) {
    message += "out of memory";
    return {Errc::database_error, std::move(message)};
  }
  message += sqlite3_errmsg(db);
  int code = sqlite3_extended_errcode(db);
  bool key_taken = code == SQLITE_CONSTRAINT_PRIMARYKEY || code == SQLITE_CONSTRAINT_UNIQUE;
  if (key_taken) return {Errc::conflict, std::move(message)};
  // "database or disk is full", or a write that failed for want of space underneath.
  int os_error = sqlite3_system_errno(db);
  if ((code & 0xff) == SQLITE_FULL || os_error == ENOSPC || os_error == EDQUOT) {
    return {Errc::storage_full, std::move(message)};
  }
  return {Errc::database_error, std::move(message)};
}

inline MetadataError invalid_argument(std::string message) {
  return {Errc::invalid_argument, std::move(message)};
}

inline std::int64_t sql_limit(std::size_t limit) {
  constexpr auto kMax = static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max());
  return static_cast<std::int64_t>(std::min(limit, kMax));
}

// Listings are allocated for what a page usually holds, not for a caller's huge limit.
inline std::size_t initial_capacity(std::size_t limit) {
  return std::min<std::size_t>(limit, 1000);
}

// A prepared statement in use: parameters bound for one execution. Resetting on destruction
// returns the statement to its connection's cache and ends any read it kept open (an open read
// would pin the WAL and block checkpoints).
class Statement {
 public:
  Statement(sqlite3_stmt* stmt, const char* name) : stmt_(stmt), name_(name) {}
  Statement(Statement&& other) noexcept
      : stmt_(std::exchange(other.stmt_, nullptr)), name_(other.name_), bind_rc_(other.bind_rc_) {}
  Statement& operator=(Statement&&) = delete;
  ~Statement() {
    if (stmt_ != nullptr) {
      sqlite3_reset(stmt_);
      sqlite3_clear_bindings(stmt_);
    }
  }

  // Text and blob parameters are bound without copying: the caller's bytes must outlive the
  // statement's execution, which they do since every call binds and steps within one scope.
  Statement& bind_text(int index, std::string_view text) {
    // A null pointer would bind SQL NULL rather than an empty string.
    const char* data = text.data() != nullptr ? text.data() : "";
    return check(sqlite3_bind_text64(stmt_, index, data, text.size(), SQLITE_STATIC, SQLITE_UTF8));
  }
  Statement& bind_blob(int index, std::string_view bytes) {
    const char* data = bytes.data() != nullptr ? bytes.data() : "";
    return check(sqlite3_bind_blob64(stmt_, index, data, bytes.size(), SQLITE_STATIC));
  }
  Statement& bind_int(int index, std::int64_t value) {
    return check(sqlite3_bind_int64(stmt_, index, value));
  }
  Statement& bind_null(int index) { return check(sqlite3_bind_null(stmt_, index)); }
  // Repository-scoped statements take the repository as ?1 (registry id) and ?2 (name).
  Statement& bind_repository(RepositoryRef repository) {
    return bind_int(1, repository.registry).bind_text(2, repository.name);
  }

  // True when a row is ready, false when the statement has finished.
  Result<bool> step() {
    if (bind_rc_ != SQLITE_OK) return database_error(sqlite3_db_handle(stmt_), name_);
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return database_error(sqlite3_db_handle(stmt_), name_);
  }

  // Runs a statement that returns no rows.
  Result<void> run() {
    auto row = step();
    if (!row) return row.error();
    return {};
  }

  // Ready to execute again; the caller binds every parameter anew.
  void reset() {
    sqlite3_reset(stmt_);
    bind_rc_ = SQLITE_OK;
  }

  bool is_null(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }
  std::int64_t integer(int column) const { return sqlite3_column_int64(stmt_, column); }
  // Valid until the next step or the statement's end.
  std::string_view text(int column) const {
    const auto* data = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
    auto size = static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column));
    return data == nullptr ? std::string_view() : std::string_view(data, size);
  }
  std::string_view blob(int column) const {
    const auto* data = static_cast<const char*>(sqlite3_column_blob(stmt_, column));
    auto size = static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column));
    return data == nullptr ? std::string_view() : std::string_view(data, size);
  }

 private:
  Statement& check(int rc) {
    if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) bind_rc_ = rc;
    return *this;
  }

  sqlite3_stmt* stmt_;
  const char* name_;
  int bind_rc_ = SQLITE_OK;
};

// The four changeable attributes from `first` on (write, delete, read, list).
inline ChangeableAttributes attributes_of(const Statement& stmt, int first) {
  return ChangeableAttributes{
      .write_enabled = stmt.integer(first) != 0,
      .delete_enabled = stmt.integer(first + 1) != 0,
      .read_enabled = stmt.integer(first + 2) != 0,
      .list_enabled = stmt.integer(first + 3) != 0,
  };
}

// A digest column read back; database_error when what is stored does not parse.
Result<oci::Digest> stored_digest(std::string_view text);

// Repository-scoped checks every store method makes first.
std::optional<MetadataError> check_repository(RepositoryRef repository);

// The rows of a tag listing (name, digest, created_at, updated_at, then the four attributes),
// until the statement is done.
Result<std::vector<TagRecord>> collect_tag_records(Statement& stmt, std::size_t capacity);

// One SQLite connection and its statement cache. Used by one thread at a time (the writer
// by the group-commit leader, a reader while leased), so it is opened without SQLite's own mutex.
class SqliteConnection {
 public:
  enum class Role { writer, reader };

  static Result<std::unique_ptr<SqliteConnection>> open(const std::filesystem::path& file,
                                                        Role role) {
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
    if (role == Role::writer) flags |= SQLITE_OPEN_CREATE;
    sqlite3* db = nullptr;
    int rc = sqlite3_open_v2(file.c_str(), &db, flags, nullptr);
    // The handle is allocated even when opening fails and must be closed either way.
    std::unique_ptr<SqliteConnection> connection(new SqliteConnection(db));
    if (rc != SQLITE_OK) return connection->open_error(file);
    sqlite3_busy_timeout(db, kBusyTimeoutMs);

    if (role == Role::writer) {
      // The journal mode is stored in the file; only the writer sets it.
      auto mode = connection->query_text("PRAGMA journal_mode = WAL");
      if (!mode) return connection->open_error(file);
      if (*mode != "wal") {
        return MetadataError{Errc::database_error, "cannot open metadata database '" +
                                                       file.string() +
                                                       "': WAL journal mode is unavailable "
                                                       "(journal_mode is '" +
                                                       *mode + "')"};
      }
    }
    std::string pragmas =
        "PRAGMA synchronous = FULL;"
        "PRAGMA foreign_keys = ON;"
        "PRAGMA temp_store = MEMORY;"
        "PRAGMA cache_size = -" +
        std::to_string(kCacheSizeKib) + ";" +
        "PRAGMA mmap_size = " + std::to_string(kMmapSizeBytes) + ";";
    if (role == Role::writer) {
      pragmas += "PRAGMA journal_size_limit = " + std::to_string(kJournalSizeLimitBytes) + ";";
    } else {
      // A reader that tried to write would be a bug; fail it loudly instead.
      pragmas += "PRAGMA query_only = ON;";
    }
    if (sqlite3_exec(db, pragmas.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) {
      return connection->open_error(file);
    }
    return connection;
  }

  ~SqliteConnection() {
    // Every cached statement of both tables: close_v2 keeps a connection with an unfinalized
    // statement alive (a zombie), so one left out would leak the whole connection.
    for (sqlite3_stmt* stmt : statements_) sqlite3_finalize(stmt);
    for (sqlite3_stmt* stmt : access_statements_) sqlite3_finalize(stmt);
    for (sqlite3_stmt* stmt : event_statements_) sqlite3_finalize(stmt);
    for (sqlite3_stmt* stmt : gc_statements_) sqlite3_finalize(stmt);
    for (sqlite3_stmt* stmt : lifecycle_statements_) sqlite3_finalize(stmt);
    sqlite3_close_v2(db_);
  }
  SqliteConnection(const SqliteConnection&) = delete;
  SqliteConnection& operator=(const SqliteConnection&) = delete;

  sqlite3* db() const { return db_; }

  Result<Statement> statement(Sql id) {
    return cached(statements_[static_cast<std::size_t>(id)], spec_of(id));
  }
  Result<Statement> statement(AccessSql id) {
    return cached(access_statements_[static_cast<std::size_t>(id)], spec_of(id));
  }
  Result<Statement> statement(EventSql id) {
    return cached(event_statements_[static_cast<std::size_t>(id)], spec_of(id));
  }
  Result<Statement> statement(GcSql id) {
    return cached(gc_statements_[static_cast<std::size_t>(id)], spec_of(id));
  }
  Result<Statement> statement(LifecycleSql id) {
    return cached(lifecycle_statements_[static_cast<std::size_t>(id)], spec_of(id));
  }

  // Runs a cached statement that takes no parameters and returns no rows.
  Result<void> run(Sql id) {
    auto stmt = statement(id);
    if (!stmt) return stmt.error();
    return stmt->run();
  }

  // Start-up only (migrations, pragmas): one-off statements, not cached.
  Result<void> exec(const char* sql, std::string_view what) {
    if (sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) != SQLITE_OK) {
      return database_error(db_, what);
    }
    return {};
  }

  Result<std::string> query_text(const char* sql) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql, -1, &stmt, nullptr) != SQLITE_OK) {
      sqlite3_finalize(stmt);
      return database_error(db_, sql);
    }
    int rc = sqlite3_step(stmt);
    std::string value;
    if (rc == SQLITE_ROW) {
      const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
      if (text != nullptr) value = text;
    } else if (rc != SQLITE_DONE) {
      // Built before finalize, which may replace the connection's error message.
      MetadataError error = database_error(db_, sql);
      sqlite3_finalize(stmt);
      return error;
    }
    sqlite3_finalize(stmt);
    return value;
  }

  Result<std::int64_t> user_version() {
    auto text = query_text("PRAGMA user_version");
    if (!text) return text.error();
    std::int64_t version = 0;
    auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), version);
    if (ec != std::errc() || end != text->data() + text->size()) {
      return MetadataError{Errc::database_error,
                           "metadata database: unreadable user_version '" + *text + "'"};
    }
    return version;
  }

 private:
  explicit SqliteConnection(sqlite3* db) : db_(db) {}

  MetadataError open_error(const std::filesystem::path& file) const {
    std::string message = "cannot open metadata database '" + file.string() + "': ";
    if (db_ == nullptr) return {Errc::database_error, message + "out of memory"};
    message += sqlite3_errmsg(db_);
    // SQLite's "unable to open database file" does not say why; the OS error does.
    if (int os_error = sqlite3_system_errno(db_); os_error != 0) {
      message += " (" + std::generic_category().message(os_error) + ")";
    }
    return {Errc::database_error, std::move(message)};
  }

  // `slot` holds the statement of `spec` once prepared.
  template <class Id>
  Result<Statement> cached(sqlite3_stmt*& slot, const StatementSpec<Id>& spec) {
    if (slot == nullptr) {
      int rc = sqlite3_prepare_v3(db_, spec.text, -1, SQLITE_PREPARE_PERSISTENT, &slot, nullptr);
      if (rc != SQLITE_OK) {
        sqlite3_finalize(slot);
        slot = nullptr;
        return database_error(db_, std::string("preparing '") + spec.name + "'");
      }
    }
    return Statement(slot, spec.name);
  }

  sqlite3* db_;
  std::array<sqlite3_stmt*, kStatementCount> statements_{};
  std::array<sqlite3_stmt*, kAccessStatementCount> access_statements_{};
  std::array<sqlite3_stmt*, kEventStatementCount> event_statements_{};
  std::array<sqlite3_stmt*, kGcStatementCount> gc_statements_{};
  std::array<sqlite3_stmt*, kLifecycleStatementCount> lifecycle_statements_{};
};

// Ends the connection's open transaction, if any (after a failed statement or step).
inline void rollback_if_open(SqliteConnection& connection) {
  if (sqlite3_get_autocommit(connection.db()) == 0) {
    (void)connection.exec("ROLLBACK", "rollback");
  }
}

// Brings the schema of the database open on `connection` (the writer) to the newest version
// (sqlite_schema.cc).
Result<void> migrate(SqliteConnection& connection);

// A reader connection on loan from the pool; returns it when destroyed.
class SqliteMetadataStore::ReaderLease {
 public:
  ReaderLease(SqliteMetadataStore* store, std::unique_ptr<SqliteConnection> connection)
      : store_(store), connection_(std::move(connection)) {}
  ReaderLease(ReaderLease&& other) noexcept = default;
  ReaderLease& operator=(ReaderLease&&) = delete;
  ~ReaderLease() {
    if (connection_) store_->release_reader(std::move(connection_));
  }

  SqliteConnection& connection() const { return *connection_; }

 private:
  SqliteMetadataStore* store_;
  std::unique_ptr<SqliteConnection> connection_;
};

// Runs a DELETE keyed by one parameter; `removed` tells whether a row went.
template <class Id, class Key>
Result<void> delete_by_key(SqliteConnection& connection, Id id, const Key& key, bool& removed) {
  auto stmt = connection.statement(id);
  if (!stmt) return stmt.error();
  if constexpr (std::is_integral_v<Key>) {
    stmt->bind_int(1, key);
  } else {
    stmt->bind_text(1, key);
  }
  if (auto done = stmt->run(); !done) return done.error();
  removed = sqlite3_changes(connection.db()) > 0;
  return {};
}

// The id of `repository`, creating it if needed. Must run inside a write transaction.
// not_found when its registry does not exist.
Result<std::int64_t> ensure_repository(SqliteConnection& connection, RepositoryRef repository,
                                       std::int64_t now);

// Inside a delete's transaction, before it (sqlite_lifecycle.cc): when the registry keeps
// deleted content, keeps the manifest `digest` (none: every manifest of the repository) with its
// references and tags, or only the tag `tag` when given.
Result<void> keep_deleted(SqliteConnection& connection, RepositoryRef repository,
                          std::optional<std::string_view> digest,
                          std::optional<std::string_view> tag, std::int64_t now);

// Refuses (quota_exceeded) a link of `digest` of `size` bytes to the repository with id
// `repository_id` that would take it or its registry beyond `limits` (sqlite_lifecycle.cc).
Result<void> check_link_within(SqliteConnection& connection, std::int64_t repository_id,
                               const std::string& digest, std::int64_t size,
                               const StorageLimits& limits);

// Appends `events` on `connection` inside the caller's transaction (sqlite_event_store.cc): how
// a content change writes its events atomically with itself.
Result<void> insert_events(SqliteConnection& connection, std::span<const EventRecord> events);

// One write call waiting for its commit. Lives on the caller's stack; the caller blocks until
// `done`, so the leader may use it (and whatever `body` refers to) until then.
struct SqliteMetadataStore::PendingWrite {
  void* body = nullptr;
  Result<void> (*invoke)(void* body, SqliteConnection& connection) = nullptr;
  std::optional<MetadataError> error;  // written by the leader before `done`
  bool done = false;                   // guarded by writes_mutex_
};

template <class Body>
Result<void> SqliteMetadataStore::write(Body&& body) {
  using Callable = std::remove_reference_t<Body>;
  PendingWrite pending;
  pending.body = static_cast<void*>(std::addressof(body));
  pending.invoke = [](void* erased, SqliteConnection& connection) -> Result<void> {
    return (*static_cast<Callable*>(erased))(connection);
  };
  return submit_write(pending);
}

template <class Id>
Result<std::uint64_t> SqliteMetadataStore::registry_number(Id id, RegistryId registry) {
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(id);
  if (!stmt) return stmt.error();
  stmt->bind_int(1, registry);
  auto row = stmt->step();
  if (!row) return row.error();
  return *row ? static_cast<std::uint64_t>(stmt->integer(0)) : 0;
}

template <class Id>
Result<std::optional<oci::Digest>> SqliteMetadataStore::digest_of_tag(Id id,
                                                                      RepositoryRef repository,
                                                                      std::string_view tag) {
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(id);
  if (!stmt) return stmt.error();
  stmt->bind_repository(repository).bind_text(3, tag);
  auto row = stmt->step();
  if (!row) return row.error();
  if (!*row) return std::optional<oci::Digest>();
  auto digest = stored_digest(stmt->text(0));
  if (!digest) return digest.error();
  return std::optional<oci::Digest>(std::move(*digest));
}

}  // namespace berth::metadata
