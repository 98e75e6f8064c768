#pragma once
// berthd migrate: moves a deployment from the embedded default (one data directory: SQLite
// metadata, filesystem blobs) to the scale-out backends (PostgreSQL metadata; Azure Blob
// Storage, or a filesystem directory, for the blobs). docs/migration.md is the operator's guide.
//
//   1. The source: the data directory's database is locked for the whole run (a running
//      berthd makes that fail: source_in_use), after its schema is brought up to date.
//   2. The destination database: its schema is created or brought up to date, then it must be
//      empty (a new database), or already hold this very source's copy ("already migrated":
//      success, nothing done). Anything else is refused before anything is written.
//   3. The blobs (server/migrate_blobs.h), each verified on arrival; resumable.
//   4. The metadata, every table in one transaction (server/migrate_tables.h): all or nothing.
//
// Interrupted anywhere, the same command continues: blobs already copied are skipped, and the
// metadata is either not there yet or complete.
//
// Not carried: what is kept as files in the data directory. The deployment key must be given to
// every node (the report says how, never printing it); the administrator token's hash
// (admin-token.sha256) is copied by hand for now (docs/migration.md).

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "server/config.h"
#include "server/migrate_blobs.h"
#include "server/migrate_error.h"
#include "server/migrate_tables.h"
#include "server/progress.h"
#include "storage/blob_storage.h"

namespace berth::server {

struct MigrationSettings {
  std::filesystem::path source_dir;
  // libpq's connection string or URI of the destination. May hold a password: never printed.
  std::string postgres;
  BlobCopyOptions blobs;
};

// What the deployment key check found (DIR/deployment.key against a value sealed in the source).
struct DeploymentKeyCheck {
  bool key_file = false;  // DIR/deployment.key exists and holds a 32-byte key
  // Whether that key opens a value sealed in the source; nullopt when nothing is sealed there
  // (or there is no key file to try).
  std::optional<bool> opens_sealed_values;
};

struct MigrationReport {
  bool already_migrated = false;  // the destination already was this source's copy
  std::int64_t migrated_at = 0;   // already_migrated: when (Unix seconds)
  BlobCopyStats blobs;
  MetadataCopyStats metadata;
  // Blobs the source's metadata knows whose bytes are not in its storage (the source was
  // missing them already; the destination is like it). A few of them, for the warning.
  std::uint64_t blobs_missing = 0;
  std::vector<std::string> some_missing;
  DeploymentKeyCheck key;
  // Whether the source had an administrator token (its hash then is in the destination's
  // deployment settings, unless a node there had already made one).
  bool admin_token_carried = false;
  std::chrono::milliseconds blob_time{0};
  std::chrono::milliseconds metadata_time{0};
  std::chrono::milliseconds total_time{0};
};

// Opens the destination's blob storage; called only once the destination database has been
// found empty, so that a refused migration creates nothing (not even an Azure container).
using StorageOpener = std::function<MigrateResult<std::unique_ptr<storage::BlobStorage>>()>;

// Runs steps 1-4 above. Errors as in migrate_error.h.
MigrateResult<MigrationReport> migrate(const MigrationSettings& settings,
                                       const StorageOpener& open_destination_storage,
                                       Progress& progress);

// Checks the settings of `berthd migrate` that need no connection. Throws std::runtime_error
// with a one-line reason (a usage error): the destination's metadata must be PostgreSQL.
void validate_migration(const Config& config, const MigrateCommand& command);

// The report and the steps that follow (the deployment key, the administrator token), as
// printed at the end of a successful run. Never holds a secret.
void print_report(std::ostream& out, const MigrationSettings& settings,
                  const MigrationReport& report);

// berthd migrate: runs the migration the configuration describes, printing progress and the
// report on stdout and errors on stderr. Returns the exit status: 0 migrated (or already was),
// 1 failed, 2 a usage error.
int run_migrate_command(const Config& config, const MigrateCommand& command);

}  // namespace berth::server
