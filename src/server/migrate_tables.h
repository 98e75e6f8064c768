#pragma once
// berthd migrate, the metadata: every table of the embedded SQLite database copied, row for row
// and column for column, into the PostgreSQL database, in one transaction.
//
// The copy is generic: it knows no table. It reads both schemas (SQLite's sqlite_schema and
// table_info; PostgreSQL's catalog for the current schema), requires the same tables with the
// same columns (the two backends keep their schemas equivalent: sqlite_schema.cc,
// postgres_schema.cc), orders the tables by PostgreSQL's foreign keys (referenced tables
// first), and converts each value to its PostgreSQL column's type:
//
//   PostgreSQL column        SQLite value
//   bigint/integer/smallint  INTEGER
//   boolean                  INTEGER 0 or 1
//   text                     TEXT (INTEGER and REAL as their text)
//   bytea                    TEXT or BLOB, byte for byte
//   double precision/real    REAL or INTEGER
//   any                      NULL stays NULL
//
// Inside the transaction: the destination is checked to be fresh again (under table locks),
// the seed row of a new database (the default registry) is replaced by the source's, the
// user triggers are off while rows go in (they would recount the usage counters that are copied
// as they are), every identity column's sequence continues after the highest id ever used
// (SQLite's sqlite_sequence included, so ids of deleted rows never come back), each table's row
// count is checked, and a marker row records which source this is (table migrated_from, outside
// the registry schema), so a rerun can tell "already migrated" from "someone else's data".
//
// Not copied: upload sessions (table uploads): their bytes stay in the source, so clients push
// those blobs again.

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "server/migrate_error.h"
#include "server/progress.h"

namespace berth::server {

// The source database, opened so that nothing else can use it while the migration runs: an
// exclusive lock (SQLite's EXCLUSIVE locking mode) that a running berthd, which keeps its
// connections open, prevents, and that keeps a berthd from starting until the migration ends.
class SqliteSource {
 public:
  // source_in_use when another process has the database open; source_unusable when it cannot
  // be opened.
  static MigrateResult<std::unique_ptr<SqliteSource>> open(const std::filesystem::path& file);
  ~SqliteSource();
  SqliteSource(const SqliteSource&) = delete;
  SqliteSource& operator=(const SqliteSource&) = delete;

  sqlite3* db() const { return db_; }
  const std::filesystem::path& file() const { return file_; }

  // The first value of the first row of `sql` as text, when there is one (small lookups).
  MigrateResult<std::optional<std::string>> query_text(const std::string& sql);

 private:
  SqliteSource(sqlite3* db, std::filesystem::path file) : db_(db), file_(std::move(file)) {}
  sqlite3* db_;
  std::filesystem::path file_;
};

// What the destination database holds, as far as a migration is concerned.
struct DestinationState {
  enum class Kind {
    fresh,     // the schema and nothing else (a new database's default registry)
    migrated,  // a migration committed: `fingerprint` names its source
    foreign,   // data no migration put there: `detail` names tables and row counts
  };
  Kind kind = Kind::fresh;
  std::string fingerprint;       // migrated
  std::string migrated_from;     // migrated: the source data directory as it was given
  std::int64_t migrated_at = 0;  // migrated: Unix seconds
  std::string detail;            // foreign
};

struct MetadataCopyStats {
  std::uint64_t tables = 0;
  std::uint64_t rows = 0;
  std::uint64_t upload_sessions_left = 0;  // rows of uploads not carried
  std::string fingerprint;                 // of the source rows copied
};

// Compares the two schemas (schema_mismatch naming every difference), before anything is
// copied.
MigrateResult<void> check_schemas(SqliteSource& source, pqxx::connection& destination);

// The source's fingerprint: sha256 over every row of every table the migration copies, in a
// canonical form. Equal fingerprints mean equal content.
MigrateResult<std::string> source_fingerprint(SqliteSource& source, pqxx::connection& destination);

// Reads the destination's state (a read-only look; the copy checks again under its locks).
MigrateResult<DestinationState> inspect_destination(pqxx::connection& destination);

// Copies every table in one transaction (see the top of this file). destination_not_empty when
// the destination is no longer fresh once locked; schema_mismatch, copy_failed otherwise.
// `source_name` is recorded with the marker.
MigrateResult<MetadataCopyStats> copy_metadata(SqliteSource& source, pqxx::connection& destination,
                                               const std::string& source_name, Progress& progress);

}  // namespace berth::server
