#include "server/backends.h"

#include <boost/url/parse.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <stdexcept>
#include <system_error>

#include "metadata/postgres/postgres_metadata_store.h"
#include "metadata/sqlite_metadata_store.h"
#include "server/config.h"
#include "storage/azure/azure_byte_store.h"
#include "storage/azure/connection_string.h"
#include "storage/filesystem_byte_store.h"

namespace berth::server {
namespace {

// The metadata database holds password hashes: readable by its owner only (SQLite gives its
// journal files the database's mode).
void restrict_to_owner(const std::filesystem::path& file) {
  std::error_code ec;
  std::filesystem::permissions(
      file, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write, ec);
  if (ec) spdlog::warn("cannot make {} readable by its owner only: {}", file.string(), ec.message());
}

std::unique_ptr<metadata::Store> open_sqlite(const Config& config) {
  auto file = config.data_dir / "metadata.db";
  auto store = metadata::SqliteMetadataStore::open(file);
  if (!store) throw std::runtime_error(store.error().message);
  restrict_to_owner(file);
  return std::move(*store);
}

std::unique_ptr<metadata::Store> open_postgresql(const Config& config) {
  metadata::PostgresOptions options;
  options.connection_string = config.metadata;
  options.max_connections = config.metadata_max_connections;
  auto store = metadata::PostgresMetadataStore::open(options);
  // The store's messages never hold the connection string (it may carry a password).
  if (!store) throw std::runtime_error("PostgreSQL metadata: " + store.error().message);
  return std::move(*store);
}

std::unique_ptr<storage::BlobStorage> open_filesystem(const Config& config) {
  auto bytes = storage::FilesystemByteStore::open(config.data_dir);
  if (!bytes) throw std::runtime_error(bytes.error().message);
  return std::make_unique<storage::BlobStorage>(std::move(*bytes));
}

std::unique_ptr<storage::BlobStorage> open_azure(const Config& config) {
  auto account = storage::azure::load_connection_string(config.azure_connection_string_file);
  if (!account) {
    throw std::runtime_error("Azure Blob Storage connection string: " + account.error().message);
  }
  auto bytes = storage::azure::AzureByteStore::open(std::move(*account), config.azure_container);
  if (!bytes) throw std::runtime_error("Azure Blob Storage: " + bytes.error().message);
  return std::make_unique<storage::BlobStorage>(std::move(*bytes));
}

}  // namespace

bool is_postgresql_uri(std::string_view metadata) {
  return metadata.starts_with("postgresql://") || metadata.starts_with("postgres://");
}

void validate_backends(const Config& config) {
  if (config.metadata != kSqliteMetadata && !is_postgresql_uri(config.metadata)) {
    // Not echoed: a mistyped URI may still hold a password.
    throw std::runtime_error(
        "metadata must be 'sqlite' or a PostgreSQL URI (postgresql://user@host:port/database)");
  }
  if (is_postgresql_uri(config.metadata) && !boost::urls::parse_uri(config.metadata)) {
    throw std::runtime_error("the PostgreSQL URI given as metadata is not a valid URI");
  }
  if (config.metadata_max_connections == 0 || config.metadata_max_connections > 1000) {
    throw std::runtime_error("metadata connections must be 1 to 1000");
  }
  if (config.storage != kFilesystemStorage && config.storage != kAzureStorage) {
    throw std::runtime_error(
        fmt::format("storage '{}' is not one of: filesystem, azure", config.storage));
  }
  if (config.storage == kAzureStorage && config.azure_container.empty()) {
    throw std::runtime_error("storage 'azure' needs a container (--azure-container)");
  }
}

std::unique_ptr<metadata::Store> open_metadata(const Config& config) {
  return is_postgresql_uri(config.metadata) ? open_postgresql(config) : open_sqlite(config);
}

std::unique_ptr<storage::BlobStorage> open_storage(const Config& config) {
  return config.storage == kAzureStorage ? open_azure(config) : open_filesystem(config);
}

std::string describe_metadata(const Config& config) {
  if (!is_postgresql_uri(config.metadata)) {
    return "sqlite " + (config.data_dir / "metadata.db").string();
  }
  auto uri = boost::urls::parse_uri(config.metadata);
  if (!uri) return "postgresql";
  std::string where(uri->encoded_host_and_port());
  return fmt::format("postgresql {}{}", where.empty() ? "(libpq defaults)" : where,
                     std::string_view(uri->encoded_path()));
}

std::string describe_storage(const Config& config) {
  if (config.storage != kAzureStorage) return "filesystem " + config.data_dir.string();
  return "azure container " + config.azure_container;
}

bool shares_metadata(const Config& config) { return is_postgresql_uri(config.metadata); }

}  // namespace berth::server
