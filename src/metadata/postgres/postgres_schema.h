#pragma once
// The PostgreSQL backend's schema and its migrations (postgres_schema.cc draws the schema).
// Internal to the backend.

#include <pqxx/pqxx>

#include "metadata/metadata_store.h"

namespace berth::metadata::postgres {

// The newest schema version this build knows.
int schema_version();

// Brings the database's schema up to schema_version(). Safe when several nodes start at once:
// every step runs under one transaction-level advisory lock, re-reads the version first, and
// records itself in schema_version in its own transaction, so each step is applied exactly
// once. schema_too_new when a newer berth has migrated the database; database_error when a
// step fails (nothing of that step is applied).
Result<void> migrate(pqxx::connection& connection);
// Brings it to `version` only (a database at a later version stays as it is): how the tests
// build the databases older berths left. invalid_argument for a version this build does not
// know.
Result<void> migrate(pqxx::connection& connection, int version);

}  // namespace berth::metadata::postgres
