#pragma once
// Internal to the PostgreSQL backend: what its parts (postgres_metadata_store.cc and the files
// beside it) share. Include it from nowhere else (but the backend's own tests).

#include <cstdint>
#include <optional>
#include <pqxx/pqxx>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "metadata/lifecycle_store.h"
#include "metadata/listing_pages.h"
#include "metadata/metadata_store.h"
#include "metadata/postgres/postgres_connection.h"
#include "metadata/store_rules.h"
#include "metadata/stored_values.h"
#include "oci/digest.h"

namespace berth::metadata::postgres {

// The repository id for the registry in $1 and the name in $2; NULL (matching nothing) when
// there is no such repository, so reads of unknown repositories need no separate lookup.
#define BERTH_PG_REPOSITORY_ID "(SELECT id FROM repositories WHERE registry_id = $1 AND name = $2)"

// The four changeable attributes, in the order attributes_of() reads them.
#define BERTH_PG_ATTRIBUTE_COLUMNS "write_enabled, delete_enabled, read_enabled, list_enabled"

// A text column read back (empty for NULL).
std::string text_of(const pqxx::field& field);

// A digest column read back (stored_values.h); database_error when what is stored does not
// parse.
Result<oci::Digest> stored_digest(const pqxx::field& field);

// The four changeable attributes from column `first` on (write, delete, read, list).
ChangeableAttributes attributes_of(const pqxx::row& row, int first);

std::optional<std::int64_t> optional_int(const pqxx::field& field);

// The rows of a tag listing (name, digest, created_at, updated_at, then the four attributes).
Result<std::vector<TagRecord>> tag_records_of(const pqxx::result& rows);

// The id of `repository`, creating it if needed. Inside a write. not_found when its registry
// does not exist.
Result<std::int64_t> ensure_repository(Transaction& transaction, RepositoryRef repository,
                                       std::int64_t now);

// The id of the stored manifest `digest` of the repository with id `repository_id`, if any.
Result<std::optional<std::int64_t>> manifest_id(Transaction& transaction,
                                                std::int64_t repository_id,
                                                const std::string& digest);

// Points `tag` of the repository with id `repository_id` at the manifest `manifest_id`,
// creating or moving it (its updated_at becomes `now` when it changes).
void upsert_tag(Transaction& transaction, std::int64_t repository_id, std::string_view tag,
                std::int64_t manifest_id, std::int64_t now);

// Inserts references of a manifest (repeats and mixed kinds allowed).
void insert_references(Transaction& transaction, std::int64_t manifest_id,
                       const std::vector<std::string>& digests,
                       const std::vector<std::string>& kinds);

// Inside a delete's transaction, before it (postgres_lifecycle.cc): when the registry keeps
// deleted content, keeps the manifest `digest` (none: every manifest of the repository) with
// its references and tags, or only the tag `tag` when given.
void keep_deleted(Transaction& transaction, RepositoryRef repository,
                  std::optional<std::string_view> digest, std::optional<std::string_view> tag,
                  std::int64_t now);

// Refuses (quota_exceeded) a link of `digest` of `size` bytes to the repository with id
// `repository_id` that would take it or its registry beyond `limits` (postgres_lifecycle.cc).
Result<void> check_link_within(Transaction& transaction, std::int64_t repository_id,
                               const std::string& digest, std::int64_t size,
                               const StorageLimits& limits);

// Appends `events` inside the caller's transaction, as its last step (postgres_event_store.cc):
// how a content change writes its events atomically with itself. Event sequences are drawn
// under a transaction-level lock held until the commit, so they become visible in the order
// of their numbers: a reader that has seen sequence n never sees a smaller one appear later.
Result<void> insert_events(Transaction& transaction, std::span<const EventRecord> events);

// For the backend's tests, per part: the statements that must run as index ranges in the order
// they list (keyset pagination and lookups on the request path), without a sequential scan or a
// sort, however big the tables grow.
std::vector<Statement> planned_content_statements();    // postgres_metadata_store.cc
std::vector<Statement> planned_listing_statements();    // postgres_listings.cc
std::vector<Statement> planned_event_statements();      // postgres_event_store.cc
std::vector<Statement> planned_access_statements();     // postgres_access_store.cc
std::vector<Statement> planned_gc_statements();         // postgres_gc_store.cc
std::vector<Statement> planned_lifecycle_statements();  // postgres_lifecycle.cc
std::vector<Statement> planned_coordination_statements();  // postgres_coordination.cc
std::vector<Statement> planned_upstream_statements();      // postgres_upstream.cc
std::vector<Statement> planned_task_statements();          // postgres_tasks.cc

}  // namespace berth::metadata::postgres
