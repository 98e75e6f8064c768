// PostgresMetadataStore: the CoordinationStore part (coordination_store.h): deployment settings
// and leases, which the nodes of one deployment share through this database.
//
// Tables (schema version 2, postgres_schema.cc):
//
//   deployment_settings (name text PK; value bytea)
//   leases (name text PK; holder text, expires_at_ms bigint)
//
// Why this shape:
// - A setting's value is bytea: every byte string round-trips exactly (text would refuse NUL
//   and invalid UTF-8), as SQLite's BLOB keeps it.
// - Taking a lease is one INSERT ... ON CONFLICT DO UPDATE whose WHERE clause is the whole rule
//   (free, expired, or the caller's already). Two nodes taking a free lease at once meet on the
//   primary key: the second waits for the first to commit, and since the row it then finds was
//   not in its snapshot, SERIALIZABLE aborts it (40001); the retry (postgres_connection.h) sees
//   the first node's lease and is refused. Contending for an existing row goes the same way.
//   Either way at most one holder is granted an unexpired lease.
// - ensure_deployment_setting inserts unless present and reads back in the same transaction; a
//   node that races another is aborted and retried the same way, and then reads the winner's
//   value.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "metadata/postgres/postgres_connection.h"
#include "metadata/postgres/postgres_internal.h"
#include "metadata/postgres/postgres_metadata_store.h"

namespace berth::metadata {
namespace postgres {
namespace {

constexpr Statement kFindSetting{"find_deployment_setting",
                                 "SELECT value FROM deployment_settings WHERE name = $1"};
constexpr Statement kInsertSettingIfAbsent{
    "insert_deployment_setting",
    "INSERT INTO deployment_settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING"};
constexpr Statement kPutSetting{"put_deployment_setting",
                                "INSERT INTO deployment_settings (name, value) VALUES ($1, $2) "
                                "ON CONFLICT (name) DO UPDATE SET value = excluded.value"};
constexpr Statement kDeleteSetting{"delete_deployment_setting",
                                   "DELETE FROM deployment_settings WHERE name = $1"};
// $3: the new expiry; $4: now. A row comes back only when the lease was granted.
constexpr Statement kAcquireLease{
    "acquire_lease",
    "INSERT INTO leases (name, holder, expires_at_ms) VALUES ($1, $2, $3) "
    "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, "
    "expires_at_ms = excluded.expires_at_ms "
    "WHERE leases.holder = excluded.holder OR leases.expires_at_ms <= $4 RETURNING holder"};
constexpr Statement kReleaseLease{"release_lease",
                                  "DELETE FROM leases WHERE name = $1 AND holder = $2"};
constexpr Statement kFindLease{"find_lease",
                               "SELECT name, holder, expires_at_ms FROM leases WHERE name = $1"};

std::optional<std::string> setting_in(const pqxx::result& rows) {
  if (rows.empty()) return std::nullopt;
  return bytes_of(rows[0][0]);
}

}  // namespace
}  // namespace postgres

using namespace postgres;

// --- deployment settings ---

Result<std::optional<std::string>> PostgresMetadataStore::deployment_setting(
    std::string_view name) {
  if (auto bad = check_coordination_name(name, "deployment setting name")) return *bad;
  std::optional<std::string> value;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    value = setting_in(transaction.exec(kFindSetting, name));
    return {};
  });
  if (!read) return read.error();
  return value;
}

Result<std::string> PostgresMetadataStore::ensure_deployment_setting(std::string_view name,
                                                                     std::string_view value) {
  if (auto bad = check_deployment_setting(name, value)) return *bad;
  std::string stored;
  auto written = database_->write([&](Transaction& transaction) -> Result<void> {
    transaction.exec(kInsertSettingIfAbsent, name, bytes(value));
    std::optional<std::string> found = setting_in(transaction.exec(kFindSetting, name));
    if (!found) return setting_vanished(name);
    stored = std::move(*found);
    return {};
  });
  if (!written) return written.error();
  return stored;
}

Result<void> PostgresMetadataStore::put_deployment_setting(std::string_view name,
                                                           std::string_view value) {
  if (auto bad = check_deployment_setting(name, value)) return *bad;
  return database_->write([&](Transaction& transaction) -> Result<void> {
    transaction.exec(kPutSetting, name, bytes(value));
    return {};
  });
}

Result<bool> PostgresMetadataStore::delete_deployment_setting(std::string_view name) {
  if (auto bad = check_coordination_name(name, "deployment setting name")) return *bad;
  bool removed = false;
  auto written = database_->write([&](Transaction& transaction) -> Result<void> {
    removed = transaction.exec(kDeleteSetting, name).affected_rows() > 0;
    return {};
  });
  if (!written) return written.error();
  return removed;
}

// --- leases ---

Result<bool> PostgresMetadataStore::acquire_lease(std::string_view name, std::string_view holder,
                                                  std::int64_t now_ms, std::int64_t ttl_ms) {
  if (auto bad = check_lease_request(name, holder, now_ms, ttl_ms)) return *bad;
  bool granted = false;
  auto written = database_->write([&](Transaction& transaction) -> Result<void> {
    granted = !transaction.exec(kAcquireLease, name, holder, now_ms + ttl_ms, now_ms).empty();
    return {};
  });
  if (!written) return written.error();
  return granted;
}

Result<void> PostgresMetadataStore::release_lease(std::string_view name, std::string_view holder) {
  if (auto bad = check_coordination_name(name, "lease name")) return *bad;
  if (auto bad = check_coordination_name(holder, "lease holder")) return *bad;
  return database_->write([&](Transaction& transaction) -> Result<void> {
    transaction.exec(kReleaseLease, name, holder);
    return {};
  });
}

Result<std::optional<LeaseRecord>> PostgresMetadataStore::find_lease(std::string_view name) {
  if (auto bad = check_coordination_name(name, "lease name")) return *bad;
  std::optional<LeaseRecord> lease;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    pqxx::result rows = transaction.exec(kFindLease, name);
    lease.reset();
    if (!rows.empty()) {
      lease = LeaseRecord{
          .name = text_of(rows[0][0]),
          .holder = text_of(rows[0][1]),
          .expires_at_ms = rows[0][2].as<std::int64_t>(),
      };
    }
    return {};
  });
  if (!read) return read.error();
  return lease;
}

std::vector<Statement> postgres::planned_coordination_statements() {
  return {kFindSetting, kFindLease, kReleaseLease, kDeleteSetting};
}

}  // namespace berth::metadata
