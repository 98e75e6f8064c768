#pragma once
// The backends a berthd node runs on, chosen by its configuration (docs/configuration.md):
//   metadata  "sqlite" (the embedded default, <data dir>/metadata.db) or a PostgreSQL URI
//             ("postgresql://user@host:port/db", libpq's form; "postgres://" too)
//   storage   "filesystem" (the embedded default, under the data directory) or "azure" (one
//             container of an Azure Blob Storage account)
// Shared backends (PostgreSQL, Azure) are what several nodes of one deployment open together.

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "metadata/store.h"
#include "storage/blob_storage.h"

namespace berth::server {

struct Config;

inline constexpr std::string_view kSqliteMetadata = "sqlite";
inline constexpr std::string_view kFilesystemStorage = "filesystem";
inline constexpr std::string_view kAzureStorage = "azure";

// Whether `metadata` names a PostgreSQL database (a libpq URI).
bool is_postgresql_uri(std::string_view metadata);

// Checks the backend settings without connecting: a known metadata and storage kind, a
// container name for Azure. Throws std::runtime_error with a one-line reason that never
// repeats the PostgreSQL URI (it may hold a password).
void validate_backends(const Config& config);

// Opens the metadata store the configuration names, bringing its schema up to date. Throws
// std::runtime_error with a one-line reason (no password in it).
std::unique_ptr<metadata::Store> open_metadata(const Config& config);

// Opens the blob storage the configuration names: the data directory's, or the Azure container
// (connection string from BERTH_AZURE_STORAGE_CONNECTION_STRING or the configured file).
// Throws std::runtime_error with a one-line reason (never the account key).
std::unique_ptr<storage::BlobStorage> open_storage(const Config& config);

// For the start-up log line: "sqlite <file>" or "postgresql <host:port/db>" (no user, no
// password); "filesystem <dir>" or "azure <account endpoint> container <name>".
std::string describe_metadata(const Config& config);
std::string describe_storage(const Config& config);

// Whether nodes share the metadata (several berthd on one deployment): then what would be kept
// in the data directory (the administrator token, the deployment key) must be shared too.
bool shares_metadata(const Config& config);

}  // namespace berth::server
