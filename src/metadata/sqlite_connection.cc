// SqliteConnection (opening a connection with its pragmas, start-up queries) and the pool of
// reader connections SqliteMetadataStore lends to reads.

#include "metadata/sqlite_connection.h"

#include <sqlite3.h>

#include <cerrno>
#include <charconv>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>
#include <utility>

namespace berth::metadata {

Result<std::unique_ptr<SqliteConnection>> SqliteConnection::open(const std::filesystem::path& file,
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
      return MetadataError{Errc::database_error, "cannot open metadata database '" + file.string() +
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
      std::to_string(kCacheSizeKib) + ";" + "PRAGMA mmap_size = " + std::to_string(kMmapSizeBytes) +
      ";";
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

Result<std::string> SqliteConnection::query_text(const char* sql) {
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

Result<std::int64_t> SqliteConnection::user_version() {
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

MetadataError SqliteConnection::open_error(const std::filesystem::path& file) const {
  std::string message = "cannot open metadata database '" + file.string() + "': ";
  if (db_ == nullptr) return {Errc::database_error, message + "out of memory"};
  message += sqlite3_errmsg(db_);
  // SQLite's "unable to open database file" does not say why; the OS error does.
  if (int os_error = sqlite3_system_errno(db_); os_error != 0) {
    message += " (" + std::generic_category().message(os_error) + ")";
  }
  return {Errc::database_error, std::move(message)};
}

// --- the reader pool ---

Result<SqliteMetadataStore::ReaderLease> SqliteMetadataStore::acquire_reader() {
  {
    std::lock_guard lock(readers_mutex_);
    if (!idle_readers_.empty()) {
      std::unique_ptr<SqliteConnection> connection = std::move(idle_readers_.back());
      idle_readers_.pop_back();
      return ReaderLease(this, std::move(connection));
    }
  }
  // Opened outside the lock: opening touches the file system and must not stall other readers.
  auto opened = SqliteConnection::open(database_file_, SqliteConnection::Role::reader);
  if (!opened) return opened.error();
  return ReaderLease(this, std::move(*opened));
}

void SqliteMetadataStore::release_reader(std::unique_ptr<SqliteConnection> connection) {
  std::unique_lock lock(readers_mutex_);
  if (idle_readers_.size() < kMaxIdleReaders) {
    idle_readers_.push_back(std::move(connection));
    return;
  }
  lock.unlock();
  connection.reset();  // closed outside the lock
}

}  // namespace berth::metadata
