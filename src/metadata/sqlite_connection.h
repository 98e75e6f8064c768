#pragma once
// Internal to the SQLite backend: a connection (its pragmas and statement cache), the
// statement wrapper every query uses, SQLite errors as MetadataErrors, and the lease of a
// reader connection from the store's pool (sqlite_connection.cc).

#include <sqlite3.h>

#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "metadata/sqlite_metadata_store.h"
#include "metadata/sqlite_statements.h"

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

// Readers beyond this many idle ones are closed instead of pooled.
inline constexpr std::size_t kMaxIdleReaders = 32;

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

// One SQLite connection and its statement cache. Used by one thread at a time (the writer
// by the group-commit leader, a reader while leased), so it is opened without SQLite's own mutex.
class SqliteConnection {
 public:
  enum class Role { writer, reader };

  // The writer creates the file if needed and turns on WAL; a reader refuses to write.
  static Result<std::unique_ptr<SqliteConnection>> open(const std::filesystem::path& file,
                                                        Role role);

  ~SqliteConnection() {
    // Every cached statement of every table: close_v2 keeps a connection with an unfinalized
    // statement alive (a zombie), so one left out would leak the whole connection.
    for (sqlite3_stmt* stmt : statements_) sqlite3_finalize(stmt);
    for (sqlite3_stmt* stmt : access_statements_) sqlite3_finalize(stmt);
    for (sqlite3_stmt* stmt : event_statements_) sqlite3_finalize(stmt);
    for (sqlite3_stmt* stmt : gc_statements_) sqlite3_finalize(stmt);
    for (sqlite3_stmt* stmt : lifecycle_statements_) sqlite3_finalize(stmt);
    for (sqlite3_stmt* stmt : coordination_statements_) sqlite3_finalize(stmt);
    for (sqlite3_stmt* stmt : upstream_statements_) sqlite3_finalize(stmt);
    for (sqlite3_stmt* stmt : task_statements_) sqlite3_finalize(stmt);
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
  Result<Statement> statement(CoordinationSql id) {
    return cached(coordination_statements_[static_cast<std::size_t>(id)], spec_of(id));
  }
  Result<Statement> statement(UpstreamSql id) {
    return cached(upstream_statements_[static_cast<std::size_t>(id)], spec_of(id));
  }
  Result<Statement> statement(TaskSql id) {
    return cached(task_statements_[static_cast<std::size_t>(id)], spec_of(id));
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

  Result<std::string> query_text(const char* sql);

  Result<std::int64_t> user_version();

 private:
  explicit SqliteConnection(sqlite3* db) : db_(db) {}

  MetadataError open_error(const std::filesystem::path& file) const;

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
  std::array<sqlite3_stmt*, kCoordinationStatementCount> coordination_statements_{};
  std::array<sqlite3_stmt*, kUpstreamStatementCount> upstream_statements_{};
  std::array<sqlite3_stmt*, kTaskStatementCount> task_statements_{};
};

// Ends the connection's open transaction, if any (after a failed statement or step).
inline void rollback_if_open(SqliteConnection& connection) {
  if (sqlite3_get_autocommit(connection.db()) == 0) {
    (void)connection.exec("ROLLBACK", "rollback");
  }
}

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

}  // namespace berth::metadata
