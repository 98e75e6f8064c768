#pragma once
// The errors of berthd migrate (server/migrate.h); usage errors are found before it runs
// (validate_migration). Messages name what failed (a table, a
// column, a digest, a path) and never hold a secret: not the PostgreSQL URI (it may carry a
// password), not the Azure account key, not a row's values.

#include <string>

#include "common/result.h"

namespace berth::server {

enum class MigrateErrc {
  source_unusable,        // not a data directory, unreadable, a newer schema
  source_in_use,          // a berthd (or another process) has the source database open
  destination_not_empty,  // the destination holds data that is not this source's copy
  schema_mismatch,        // the two schemas do not have the same tables and columns
  digest_mismatch,        // a source blob's bytes do not hash to its digest
  copy_failed,            // reading the source or writing the destination failed
};
using MigrateError = Error<MigrateErrc>;
template <class T>
using MigrateResult = berth::Result<T, MigrateError>;

}  // namespace berth::server
