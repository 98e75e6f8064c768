#include "server/migrate.h"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <unistd.h>

#include <array>
#include <ctime>
#include <fstream>
#include <iostream>
#include <pqxx/pqxx>
#include <stdexcept>
#include <system_error>

#include "auth/admin_credential.h"
#include "auth/secrets.h"
#include "metadata/postgres/postgres_metadata_store.h"
#include "metadata/sqlite_metadata_store.h"
#include "server/backends.h"
#include "server/config.h"
#include "storage/filesystem_byte_store.h"

namespace berth::server {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr std::string_view kMetadataFile = "metadata.db";
constexpr std::size_t kMissingShown = 3;

std::chrono::milliseconds since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
}

std::string seconds_text(std::chrono::milliseconds duration) {
  return fmt::format("{:.1f} s", static_cast<double>(duration.count()) / 1000.0);
}

std::string utc_time(std::int64_t unix_seconds) {
  const std::time_t time = static_cast<std::time_t>(unix_seconds);
  return fmt::format("{:%Y-%m-%d %H:%M:%S} UTC", fmt::gmtime(time));
}

MigrateResult<void> check_source_dir(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return MigrateError{MigrateErrc::source_unusable,
                        fmt::format("{} is not a directory", dir.string())};
  }
  if (!fs::is_regular_file(dir / kMetadataFile, ec)) {
    return MigrateError{
        MigrateErrc::source_unusable,
        fmt::format("{} is not a berth data directory (no {})", dir.string(), kMetadataFile)};
  }
  return {};
}

// The source database with its schema brought up to date, locked for the rest of the run. The
// lock is tried first, so that a running berthd's database is not migrated under it.
MigrateResult<std::unique_ptr<SqliteSource>> open_source(const fs::path& dir) {
  const fs::path file = dir / kMetadataFile;
  if (auto probe = SqliteSource::open(file); !probe) return probe.error();
  {
    auto store = metadata::SqliteMetadataStore::open(file);
    if (!store) {
      return MigrateError{MigrateErrc::source_unusable,
                          "source database: " + store.error().message};
    }
  }
  return SqliteSource::open(file);
}

// Creates or updates the destination's schema, as a berthd node would at its start.
MigrateResult<void> prepare_destination_schema(const std::string& postgres) {
  metadata::PostgresOptions options;
  options.connection_string = postgres;
  options.max_connections = 1;
  auto store = metadata::PostgresMetadataStore::open(options);
  if (!store) {
    // The store's messages never hold the connection string.
    return MigrateError{MigrateErrc::copy_failed, "PostgreSQL metadata: " + store.error().message};
  }
  return {};
}

MigrateResult<std::unique_ptr<pqxx::connection>> connect(const std::string& postgres) {
  try {
    auto connection = std::make_unique<pqxx::connection>(postgres);
    pqxx::nontransaction session(*connection);
    // The copy is one long transaction: no statement timeout from the role's settings.
    session.exec("SET statement_timeout = 0");
    session.exec("SET client_encoding = 'UTF8'");
    return connection;
  } catch (const std::exception& e) {
    // libpq's connection errors name the host, never the password.
    return MigrateError{MigrateErrc::copy_failed,
                        std::string("cannot connect to PostgreSQL: ") + e.what()};
  }
}

// "already migrated", or the refusal, for a destination that is not fresh.
MigrateResult<bool> judge_destination(const DestinationState& state, SqliteSource& source,
                                      pqxx::connection& destination) {
  if (state.kind == DestinationState::Kind::fresh) return false;
  if (state.kind == DestinationState::Kind::foreign) {
    return MigrateError{
        MigrateErrc::destination_not_empty,
        fmt::format("the destination database already holds data ({}); migrate only into a new, "
                    "empty database that no berthd has used: nothing was changed",
                    state.detail)};
  }
  auto fingerprint = source_fingerprint(source, destination);
  if (!fingerprint) return fingerprint.error();
  if (*fingerprint == state.fingerprint) return true;
  return MigrateError{
      MigrateErrc::destination_not_empty,
      fmt::format("the destination database holds a migration of {} made {}, whose content "
                  "differs from this data directory's; nothing was changed",
                  state.migrated_from, utc_time(state.migrated_at))};
}

// Blobs the source's metadata knows (and garbage collection has not claimed) whose bytes its
// storage lacks.
MigrateResult<void> find_missing_blobs(SqliteSource& source, storage::ByteStore& bytes,
                                       MigrationReport& report) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(source.db(), "SELECT digest FROM blobs WHERE deleting = 0", -1, &raw,
                         nullptr) != SQLITE_OK) {
    sqlite3_finalize(raw);
    return MigrateError{MigrateErrc::copy_failed, std::string("source database: reading blobs: ") +
                                                      sqlite3_errmsg(source.db())};
  }
  std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> statement(raw, sqlite3_finalize);
  while (sqlite3_step(raw) == SQLITE_ROW) {
    const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(raw, 0));
    auto digest = oci::Digest::parse(text == nullptr ? "" : text);
    if (!digest) continue;
    auto found = bytes.stat(*digest);
    if (found || found.error().code != storage::Errc::not_found) continue;
    ++report.blobs_missing;
    if (report.some_missing.size() < kMissingShown) report.some_missing.push_back(digest->str());
  }
  return {};
}

// A value sealed with the deployment key in the source, to check a key against.
std::optional<std::string> sealed_sample(SqliteSource& source) {
  for (const char* sql : {"SELECT sealed_private_key FROM signing_keys LIMIT 1",
                          "SELECT sealed_value FROM admin_passwords LIMIT 1",
                          "SELECT sealed_secret FROM webhooks WHERE sealed_secret != '' LIMIT 1",
                          "SELECT sealed_headers FROM webhooks WHERE sealed_headers != '' "
                          "LIMIT 1"}) {
    auto found = source.query_text(sql);
    if (found && *found) return *found;
  }
  return std::nullopt;
}

// Reads DIR/deployment.key without ever creating it (DeploymentKey::open would).
std::optional<auth::DeploymentKey> read_key_file(const fs::path& dir) {
  std::ifstream in(dir / auth::kDeploymentKeyFile, std::ios::binary);
  if (!in) return std::nullopt;
  std::array<unsigned char, 32> bytes{};
  in.read(reinterpret_cast<char*>(bytes.data()), bytes.size());
  if (in.gcount() != static_cast<std::streamsize>(bytes.size()) ||
      in.peek() != std::char_traits<char>::eof()) {
    return std::nullopt;
  }
  auto key = auth::DeploymentKey::from_bytes(bytes);
  bytes.fill(0);
  return key;
}

DeploymentKeyCheck check_deployment_key(const fs::path& dir, SqliteSource& source) {
  DeploymentKeyCheck check;
  auto key = read_key_file(dir);
  check.key_file = key.has_value();
  if (!key) return check;
  if (auto sample = sealed_sample(source)) {
    check.opens_sealed_values = key->unseal(*sample).has_value();
  }
  return check;
}

// The administrator token's hash, from the source's file into the destination's deployment
// settings, where nodes on shared metadata read it: the token stays the one operators have. Kept
// when the destination has one already (a node started there first made it).
MigrateResult<bool> carry_admin_token(const MigrationSettings& settings) {
  auto hash = auth::AdminCredential::stored_hash_hex(settings.source_dir);
  if (!hash) return MigrateError{MigrateErrc::source_unusable, hash.error().message};
  if (!*hash) return false;
  metadata::PostgresOptions options;
  options.connection_string = settings.postgres;
  options.max_connections = 1;
  auto store = metadata::PostgresMetadataStore::open(options);
  if (!store) {
    return MigrateError{MigrateErrc::copy_failed,
                        "PostgreSQL (the administrator token): " + store.error().message};
  }
  auto stored = (*store)->ensure_deployment_setting(auth::kAdminTokenSetting, **hash);
  if (!stored) {
    return MigrateError{MigrateErrc::copy_failed,
                        "storing the administrator token's hash: " + stored.error().message};
  }
  return true;
}

MigrateResult<std::unique_ptr<storage::ByteStore>> open_source_bytes(const fs::path& dir) {
  auto bytes = storage::FilesystemByteStore::open(dir);
  if (!bytes) {
    return MigrateError{MigrateErrc::source_unusable,
                        "source blob storage: " + bytes.error().message};
  }
  return std::unique_ptr<storage::ByteStore>(std::move(*bytes));
}

std::string source_name(const fs::path& dir) {
  std::error_code ec;
  auto absolute = fs::weakly_canonical(dir, ec);
  return (ec ? dir : absolute).string();
}

}  // namespace

MigrateResult<MigrationReport> migrate(const MigrationSettings& settings,
                                       const StorageOpener& open_destination_storage,
                                       Progress& progress) {
  const auto started = Clock::now();
  MigrationReport report;
  if (auto usable = check_source_dir(settings.source_dir); !usable) return usable.error();
  auto source = open_source(settings.source_dir);
  if (!source) return source.error();
  if (auto prepared = prepare_destination_schema(settings.postgres); !prepared) {
    return prepared.error();
  }
  auto destination = connect(settings.postgres);
  if (!destination) return destination.error();
  if (auto comparable = check_schemas(**source, **destination); !comparable) {
    return comparable.error();
  }
  auto state = inspect_destination(**destination);
  if (!state) return state.error();
  auto done_before = judge_destination(*state, **source, **destination);
  if (!done_before) return done_before.error();
  report.key = check_deployment_key(settings.source_dir, **source);
  if (*done_before) {
    // A run that stopped between the metadata and the token carries the token now.
    auto carried = carry_admin_token(settings);
    if (!carried) return carried.error();
    report.admin_token_carried = *carried;
    report.already_migrated = true;
    report.migrated_at = state->migrated_at;
    report.total_time = since(started);
    return report;
  }

  auto storage = open_destination_storage();
  if (!storage) return storage.error();
  auto source_bytes = open_source_bytes(settings.source_dir);
  if (!source_bytes) return source_bytes.error();
  const auto blobs_started = Clock::now();
  auto blobs = copy_blobs(**source_bytes, **storage, settings.blobs, progress);
  if (!blobs) return blobs.error();
  report.blobs = *blobs;
  report.blob_time = since(blobs_started);
  if (auto checked = find_missing_blobs(**source, **source_bytes, report); !checked) {
    return checked.error();
  }
  if (report.blobs_missing > 0) {
    progress.note(fmt::format(
        "warning: {} blob(s) the source's metadata knows are missing from its storage (e.g. "
        "{}); the destination will lack them as the source did",
        report.blobs_missing, fmt::join(report.some_missing, ", ")));
  }

  const auto metadata_started = Clock::now();
  auto metadata =
      copy_metadata(**source, **destination, source_name(settings.source_dir), progress);
  if (!metadata) return metadata.error();
  report.metadata = std::move(*metadata);
  auto carried = carry_admin_token(settings);
  if (!carried) return carried.error();
  report.admin_token_carried = *carried;
  report.metadata_time = since(metadata_started);
  report.total_time = since(started);
  return report;
}

void validate_migration(const Config& config, const MigrateCommand& command) {
  if (command.from_data_dir.empty()) {
    throw std::runtime_error("migrate needs the source: --from-data-dir DIR");
  }
  if (command.parallel_copies < 1 || command.parallel_copies > 64) {
    throw std::runtime_error("--parallel must be 1 to 64");
  }
  validate_backends(config);
  if (!is_postgresql_uri(config.metadata)) {
    throw std::runtime_error(
        "migrate moves a data directory's metadata into PostgreSQL: give the destination with "
        "--metadata postgresql://user@host:port/database (the source's metadata is SQLite "
        "already, so a SQLite destination has nothing to move to)");
  }
}

void print_report(std::ostream& out, const MigrationSettings& settings,
                  const MigrationReport& report) {
  const std::string dir = settings.source_dir.string();
  if (report.already_migrated) {
    out << fmt::format(
        "already migrated: the destination holds this data directory's copy "
        "(made {}); nothing to do\n",
        utc_time(report.migrated_at));
  } else {
    const auto& blobs = report.blobs;
    std::string speed;
    if (report.blob_time.count() > 0 && blobs.bytes_copied > 0) {
      const double per_second = static_cast<double>(blobs.bytes_copied) * 1000.0 /
                                static_cast<double>(report.blob_time.count());
      speed = ", " + format_bytes(static_cast<std::uint64_t>(per_second)) + "/s";
    }
    out << fmt::format("migrated {} in {}\n", dir, seconds_text(report.total_time));
    out << fmt::format(
        "  blobs: {} ({}) in the source; {} copied ({}{}), {} already at the "
        "destination, {} resumed; {}\n",
        blobs.blobs, format_bytes(blobs.bytes), blobs.blobs_copied,
        format_bytes(blobs.bytes_copied), speed, blobs.blobs_present, blobs.blobs_resumed,
        seconds_text(report.blob_time));
    out << fmt::format("  metadata: {} tables, {} rows in one transaction; {}\n",
                       report.metadata.tables, report.metadata.rows,
                       seconds_text(report.metadata_time));
    if (report.metadata.upload_sessions_left > 0) {
      out << fmt::format(
          "  not carried: {} upload session(s) in progress (their clients push "
          "those blobs again)\n",
          report.metadata.upload_sessions_left);
    }
    if (report.blobs_missing > 0) {
      out << fmt::format("  warning: {} blob(s) were missing from the source's storage\n",
                         report.blobs_missing);
    }
  }
  out << "Before starting berthd on the new backends:\n";
  const std::string key_file = (settings.source_dir / auth::kDeploymentKeyFile).string();
  if (report.key.key_file && report.key.opens_sealed_values.value_or(true)) {
    out << fmt::format(
        "  1. Every node needs this deployment's key (the database's admin passwords, signing "
        "keys and webhook secrets are sealed with it). Set on each node, from a shell that can "
        "read the file:\n"
        "       BERTH_DEPLOYMENT_KEY=\"$(base64 -w0 {})\"\n"
        "     (or copy that file, mode 0600, into each node's data directory). Keep it as "
        "secret as the database.\n",
        key_file);
  } else if (report.key.key_file) {
    out << fmt::format(
        "  1. {} does not open the values sealed in this database: the source berthd ran with "
        "BERTH_DEPLOYMENT_KEY. Set that same value on every node.\n",
        key_file);
  } else {
    out << fmt::format(
        "  1. There is no {}: the source berthd ran with BERTH_DEPLOYMENT_KEY. Set that same "
        "value on every node (values sealed in the database cannot be read without it).\n",
        key_file);
  }
  if (report.admin_token_carried) {
    out << "  2. The administrator token is unchanged: its hash is in the database now, where "
           "every node reads it.\n";
  } else {
    out << fmt::format(
        "  2. The source had no administrator token ({} is missing): the first node to start "
        "makes one and prints it.\n",
        (settings.source_dir / auth::kAdminTokenFile).string());
  }
  out << "  3. Keep the old data directory until the new deployment serves; do not start the "
         "old berthd again.\n";
}

int run_migrate_command(const Config& config, const MigrateCommand& command) {
  MigrationSettings settings;
  settings.source_dir = command.from_data_dir;
  settings.postgres = config.metadata;
  settings.blobs.parallel_copies = command.parallel_copies;
  std::cout << fmt::format("berthd migrate: from {} to metadata {}, storage {}\n",
                           command.from_data_dir.string(), describe_metadata(config),
                           describe_storage(config))
            << std::flush;
  Progress::Options options;
  options.terminal = ::isatty(STDOUT_FILENO) != 0;
  Progress progress(std::cout, options);
  auto opener = [&config]() -> MigrateResult<std::unique_ptr<storage::BlobStorage>> {
    try {
      return open_storage(config);
    } catch (const std::exception& e) {
      // backends.h: the reasons never hold the account key.
      return MigrateError{MigrateErrc::copy_failed, e.what()};
    }
  };
  MigrateResult<MigrationReport> report = MigrateError{MigrateErrc::copy_failed, ""};
  try {
    report = migrate(settings, opener, progress);
  } catch (const std::exception& e) {
    // Expected failures are values; this is the last resort (out of memory, say).
    report = MigrateError{MigrateErrc::copy_failed, e.what()};
  }
  if (!report) {
    std::cerr << "berthd migrate: " << report.error().message << '\n';
    switch (report.error().code) {
      case MigrateErrc::copy_failed:
        std::cerr << "berthd migrate: the same command continues where this one stopped\n";
        break;
      case MigrateErrc::digest_mismatch:
        std::cerr << "berthd migrate: the destination database was not written; restore that "
                     "blob's file in the source from a backup, then run the same command "
                     "again\n";
        break;
      default:
        break;
    }
    return kExitStartupFailure;
  }
  print_report(std::cout, settings, *report);
  return 0;
}

}  // namespace berth::server
