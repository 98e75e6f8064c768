// PostgresMetadataStore: the GcStore part (sweeps, claims, the record of runs). The protocol is
// gc_store.h's; sqlite_gc_store.cc explains the statements, which are the same rules.
//
// Why it holds next to writers on other nodes: the claim of a blob is one UPDATE whose WHERE
// clause is the whole rule (no link, no manifest reference, stored or soft-deleted, no pin, not
// touched since the cutoff), in a SERIALIZABLE transaction; link_blob renews the same row in its
// own SERIALIZABLE transaction, put_manifest re-reads the links it relies on, and pin_blob
// re-reads the claim. Whichever of two such transactions would invalidate the other's reads is
// aborted and retried, so a blob is never claimed while a committed link, manifest or pin needs
// it, and never linked or pinned once claimed.

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "metadata/postgres/postgres_internal.h"
#include "metadata/postgres/postgres_metadata_store.h"

namespace berth::metadata {

using namespace postgres;

namespace {

#define BERTH_PG_GC_RUN_COLUMNS                                                      \
  "id, registry_id, started_by, dry_run, state, phase, cursor, cutoff, started_at, " \
  "updated_at, finished_at, links_examined, links_removed, repositories_removed, "   \
  "blobs_examined, blobs_deleted, bytes_reclaimed, error, objects_examined"

// No manifest anywhere references the blob `digest`, stored or soft-deleted (a restore needs
// its blobs).
#define BERTH_PG_BLOB_NOT_IN_MANIFESTS(digest)                                       \
  "NOT EXISTS (SELECT 1 FROM manifest_references mr WHERE mr.child_digest = " digest \
  ") "                                                                               \
  "AND NOT EXISTS (SELECT 1 FROM deleted_manifest_references dr "                    \
  "WHERE dr.child_digest = " digest ")"

// Nothing pins the digest (task_store.h: an uploaded build context, a finished run's log).
#define BERTH_PG_BLOB_NOT_PINNED(digest) \
  "NOT EXISTS (SELECT 1 FROM blob_pins p WHERE p.digest = " digest ")"

// No manifest of the link's repository references the link's blob.
#define BERTH_PG_LINK_UNREFERENCED                                     \
  "NOT EXISTS (SELECT 1 FROM manifest_references mr JOIN manifests m " \
  "ON m.id = mr.manifest_id WHERE mr.child_digest = rb.digest AND "    \
  "m.repository_id = rb.repository_id)"

constexpr Statement kInsertRun{
    "gc_insert_run",
    "INSERT INTO gc_runs (registry_id, started_by, dry_run, state, phase, cursor, cutoff, "
    "started_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id"};
constexpr Statement kSaveRun{
    "gc_save_run",
    "UPDATE gc_runs SET state = $2, phase = $3, cursor = $4, updated_at = $5, finished_at = $6, "
    "links_examined = $7, links_removed = $8, repositories_removed = $9, blobs_examined = $10, "
    "blobs_deleted = $11, bytes_reclaimed = $12, error = $13, objects_examined = $14 "
    "WHERE id = $1"};
constexpr Statement kFindRun{"gc_find_run",
                             "SELECT " BERTH_PG_GC_RUN_COLUMNS " FROM gc_runs WHERE id = $1"};
constexpr Statement kListRuns{
    "gc_list_runs", "SELECT " BERTH_PG_GC_RUN_COLUMNS
                    " FROM gc_runs "
                    "WHERE ($1::bigint IS NULL OR registry_id = $1::bigint OR registry_id IS NULL) "
                    "AND ($2::bigint = 0 OR id < $2::bigint) ORDER BY id DESC LIMIT $3"};
constexpr Statement kRunningRuns{"gc_running_runs",
                                 "SELECT " BERTH_PG_GC_RUN_COLUMNS
                                 " FROM gc_runs WHERE state = 'running' ORDER BY id"};
constexpr Statement kFindRepository{
    "gc_find_repository", "SELECT id FROM repositories WHERE registry_id = $1 AND name = $2"};
constexpr Statement kLinkPage{
    "gc_link_page", "SELECT rb.digest, b.size, (rb.created_at < $4 AND " BERTH_PG_LINK_UNREFERENCED
                    ") "
                    "FROM repository_blobs rb JOIN blobs b ON b.digest = rb.digest "
                    "WHERE rb.repository_id = $1 AND rb.digest > $2 ORDER BY rb.digest LIMIT $3"};
// Re-checks each candidate in the removing statement itself.
constexpr Statement kRemoveLinks{
    "gc_remove_links",
    "DELETE FROM repository_blobs AS rb WHERE rb.repository_id = $1 "
    "AND rb.digest = ANY ($2::text[]) AND rb.created_at < $3 AND " BERTH_PG_LINK_UNREFERENCED
    " RETURNING rb.digest"};
// The repository's id and its count of links when it holds nothing else and may go.
constexpr Statement kEmptyRepository{
    "gc_empty_repository",
    "SELECT id, (SELECT count(*) FROM repository_blobs WHERE repository_id = r.id) "
    "FROM repositories r WHERE r.registry_id = $1 AND r.name = $2 "
    "AND r.created_at < $3 AND r.write_enabled AND r.delete_enabled "
    "AND r.read_enabled AND r.list_enabled AND r.storage_quota_bytes IS NULL "
    "AND NOT EXISTS (SELECT 1 FROM manifests WHERE repository_id = r.id) "
    "AND NOT EXISTS (SELECT 1 FROM tags WHERE repository_id = r.id) "
    "AND NOT EXISTS (SELECT 1 FROM uploads WHERE repository_id = r.id)"};
constexpr Statement kRemoveRepository{"gc_remove_repository",
                                      "DELETE FROM repositories WHERE id = $1"};
// Per blob: digest, size, whether it is collectable but for its links, and (only then: a
// shared base layer is referenced, so its many links are never counted) its links.
constexpr Statement kBlobPage{
    "gc_blob_page",
    "SELECT digest, size, eligible, CASE WHEN eligible THEN (SELECT count(*) FROM "
    "repository_blobs rb WHERE rb.digest = page.digest) ELSE 0 END FROM ("
    "SELECT b.digest AS digest, b.size AS size, (NOT b.deleting AND b.touched_at < $2 AND "
    BERTH_PG_BLOB_NOT_IN_MANIFESTS("b.digest") " AND " BERTH_PG_BLOB_NOT_PINNED("b.digest") ") "
    "AS eligible FROM blobs b WHERE b.digest > $1 ORDER BY b.digest LIMIT $3) AS page "
    "ORDER BY digest"};
constexpr Statement kClaimBlobs{
    "gc_claim_blobs",
    "UPDATE blobs b SET deleting = true WHERE b.digest = ANY ($1::text[]) AND NOT b.deleting "
    "AND b.touched_at < $2 "
    "AND NOT EXISTS (SELECT 1 FROM repository_blobs rb WHERE rb.digest = b.digest) "
    "AND " BERTH_PG_BLOB_NOT_IN_MANIFESTS("b.digest") " AND " BERTH_PG_BLOB_NOT_PINNED(
        "b.digest") " RETURNING b.digest"};
// Nothing inserted when a row exists or a pin names the digest.
constexpr Statement kClaimOrphan{
    "gc_claim_orphan",
    "INSERT INTO blobs (digest, size, created_at, touched_at, deleting) "
    "SELECT $1, $2, $3, 0, true WHERE " BERTH_PG_BLOB_NOT_PINNED("$1::text") " "
    "ON CONFLICT (digest) DO NOTHING"};
constexpr Statement kClaimedBlobs{
    "gc_claimed_blobs",
    "SELECT digest, size FROM blobs WHERE deleting AND digest > $1 ORDER BY digest LIMIT $2"};
constexpr Statement kForgetBlobs{"gc_forget_blobs",
                                 "DELETE FROM blobs WHERE digest = ANY ($1::text[]) AND deleting"};
// The digests of $1 that have a row or a pin.
constexpr Statement kKnownBlobs{
    "gc_known_blobs",
    "SELECT digest FROM blobs WHERE digest = ANY ($1::text[]) "
    "UNION SELECT digest FROM blob_pins WHERE digest = ANY ($1::text[])"};
constexpr Statement kListRepositories{
    "gc_list_repositories",
    "SELECT name FROM repositories WHERE registry_id = $1 AND name > $2 ORDER BY name "
    "LIMIT $3"};

#undef BERTH_PG_GC_RUN_COLUMNS
#undef BERTH_PG_BLOB_NOT_IN_MANIFESTS
#undef BERTH_PG_LINK_UNREFERENCED
#undef BERTH_PG_BLOB_NOT_PINNED

std::int64_t as_int(std::uint64_t value) { return static_cast<std::int64_t>(value); }
std::uint64_t as_count(const pqxx::field& field) {
  const auto value = field.as<std::int64_t>();
  return value < 0 ? 0 : static_cast<std::uint64_t>(value);
}

GcRun run_of(const pqxx::row& row) {
  GcRun run;
  run.id = row[0].as<std::int64_t>();
  run.registry = optional_int(row[1]);
  run.started_by = text_of(row[2]);
  run.dry_run = row[3].as<bool>();
  run.state = text_of(row[4]);
  run.phase = text_of(row[5]);
  run.cursor = text_of(row[6]);
  run.cutoff = row[7].as<std::int64_t>();
  run.started_at = row[8].as<std::int64_t>();
  run.updated_at = row[9].as<std::int64_t>();
  run.finished_at = row[10].as<std::int64_t>();
  run.links_examined = as_count(row[11]);
  run.links_removed = as_count(row[12]);
  run.repositories_removed = as_count(row[13]);
  run.blobs_examined = as_count(row[14]);
  run.blobs_deleted = as_count(row[15]);
  run.bytes_reclaimed = as_count(row[16]);
  run.error = bytes_of(row[17]);
  run.objects_examined = as_count(row[18]);
  return run;
}

std::vector<GcRun> runs_of(const pqxx::result& rows) {
  std::vector<GcRun> runs;
  runs.reserve(rows.size());
  for (const pqxx::row& row : rows) runs.push_back(run_of(row));
  return runs;
}

std::vector<std::string> digests_of(std::span<const GarbageBlob> blobs) {
  std::vector<std::string> digests;
  digests.reserve(blobs.size());
  for (const GarbageBlob& blob : blobs) digests.push_back(blob.digest.str());
  return digests;
}

std::set<std::string, std::less<>> text_set(const pqxx::result& rows) {
  std::set<std::string, std::less<>> texts;
  for (const pqxx::row& row : rows) texts.insert(text_of(row[0]));
  return texts;
}

struct RemovableRepository {
  std::int64_t id = 0;
  std::uint64_t links = 0;
};

// The repository when it holds nothing but links and may go (see kEmptyRepository).
std::optional<RemovableRepository> removable_repository(Transaction& transaction,
                                                        RepositoryRef repository,
                                                        std::int64_t cutoff) {
  pqxx::result rows =
      transaction.exec(kEmptyRepository, repository.registry, repository.name, cutoff);
  if (rows.empty()) return std::nullopt;
  return RemovableRepository{rows[0][0].as<std::int64_t>(), as_count(rows[0][1])};
}

}  // namespace

// --- runs ---

Result<GcRun> PostgresMetadataStore::create_gc_run(const GcRun& run) {
  GcRun created = run;
  auto written = database_->write([&](Transaction& transaction) -> Result<void> {
    pqxx::result rows =
        transaction.exec(kInsertRun, run.registry, run.started_by, run.dry_run, run.state,
                         run.phase, run.cursor, run.cutoff, run.started_at);
    created.id = rows[0][0].as<std::int64_t>();
    created.updated_at = run.started_at;
    return {};
  });
  if (!written) return written.error();
  return created;
}

Result<void> PostgresMetadataStore::save_gc_run(const GcRun& run) {
  return database_->write([&](Transaction& transaction) -> Result<void> {
    transaction.exec(kSaveRun, run.id, run.state, run.phase, run.cursor, run.updated_at,
                     run.finished_at, as_int(run.links_examined), as_int(run.links_removed),
                     as_int(run.repositories_removed), as_int(run.blobs_examined),
                     as_int(run.blobs_deleted), as_int(run.bytes_reclaimed), bytes(run.error),
                     as_int(run.objects_examined));
    return {};
  });
}

Result<std::optional<GcRun>> PostgresMetadataStore::find_gc_run(std::int64_t id) {
  std::optional<GcRun> run;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    pqxx::result rows = transaction.exec(kFindRun, id);
    run.reset();
    if (!rows.empty()) run = run_of(rows[0]);
    return {};
  });
  if (!read) return read.error();
  return run;
}

Result<std::vector<GcRun>> PostgresMetadataStore::list_gc_runs(std::optional<RegistryId> registry,
                                                               std::int64_t before,
                                                               std::size_t limit) {
  std::vector<GcRun> runs;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    runs = runs_of(transaction.exec(kListRuns, registry, before, sql_limit(limit)));
    return {};
  });
  if (!read) return read.error();
  return runs;
}

Result<std::vector<GcRun>> PostgresMetadataStore::running_gc_runs() {
  std::vector<GcRun> runs;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    runs = runs_of(transaction.exec(kRunningRuns));
    return {};
  });
  if (!read) return read.error();
  return runs;
}

// --- links ---

Result<std::vector<std::string>> PostgresMetadataStore::gc_repositories(RegistryId registry,
                                                                        std::string_view after,
                                                                        std::size_t limit) {
  std::vector<std::string> names;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    pqxx::result rows = transaction.exec(kListRepositories, registry, after, sql_limit(limit));
    names.clear();
    for (const pqxx::row& row : rows) names.push_back(text_of(row[0]));
    return {};
  });
  if (!read) return read.error();
  return names;
}

Result<LinkSweepPage> PostgresMetadataStore::sweep_links(RepositoryRef repository,
                                                         std::string_view after,
                                                         std::int64_t cutoff, std::size_t limit,
                                                         bool dry_run) {
  if (repository.name.empty()) return invalid_argument("repository name is empty");
  if (limit == 0) return invalid_argument("a sweep page needs a limit above 0");
  // The page is read outside a write, so a page with nothing to remove costs writers nothing;
  // the removal re-checks every link in its own DELETE.
  std::optional<std::int64_t> id;
  LinkSweepPage page;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    page = LinkSweepPage{};
    pqxx::result found = transaction.exec(kFindRepository, repository.registry, repository.name);
    id.reset();
    if (found.empty()) return {};
    id = found[0][0].as<std::int64_t>();
    pqxx::result rows = transaction.exec(kLinkPage, *id, after, sql_limit(limit), cutoff);
    std::string last;
    for (const pqxx::row& row : rows) {
      ++page.examined;
      last = text_of(row[0]);
      if (!row[2].as<bool>()) continue;
      auto digest = stored_digest(row[0]);
      if (!digest) return digest.error();
      page.removed.push_back({std::move(*digest), row[1].as<std::uint64_t>()});
    }
    if (page.examined == limit) page.next = std::move(last);
    return {};
  });
  if (!read) return read.error();
  if (!id || dry_run || page.removed.empty()) return page;
  const std::vector<GarbageBlob> candidates = std::move(page.removed);
  const std::string digests = text_array(digests_of(candidates));
  auto written = database_->write([&](Transaction& transaction) -> Result<void> {
    const auto removed = text_set(transaction.exec(kRemoveLinks, *id, digests, cutoff));
    page.removed.clear();
    for (const GarbageBlob& blob : candidates) {
      if (removed.contains(blob.digest.str())) page.removed.push_back(blob);
    }
    return {};
  });
  if (!written) return written.error();
  return page;
}

Result<std::optional<std::uint64_t>> PostgresMetadataStore::removable_repository_links(
    RepositoryRef repository, std::int64_t cutoff) {
  if (repository.name.empty()) return invalid_argument("repository name is empty");
  std::optional<std::uint64_t> links;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    auto found = removable_repository(transaction, repository, cutoff);
    links.reset();
    if (found) links = found->links;
    return {};
  });
  if (!read) return read.error();
  return links;
}

Result<bool> PostgresMetadataStore::remove_empty_repository(RepositoryRef repository,
                                                            std::int64_t cutoff) {
  // Most repositories hold something: found out without a write.
  auto links = removable_repository_links(repository, cutoff);
  if (!links) return links.error();
  if (!*links || **links > 0) return false;
  bool removed = false;
  auto written = database_->write([&](Transaction& transaction) -> Result<void> {
    removed = false;
    auto found = removable_repository(transaction, repository, cutoff);
    if (!found || found->links > 0) return {};
    removed = transaction.exec(kRemoveRepository, found->id).affected_rows() > 0;
    return {};
  });
  if (!written) return written.error();
  return removed;
}

// --- blobs ---

Result<BlobScanPage> PostgresMetadataStore::scan_blobs(std::string_view after, std::int64_t cutoff,
                                                       std::size_t limit) {
  if (limit == 0) return invalid_argument("a scan page needs a limit above 0");
  BlobScanPage page;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    page = BlobScanPage{};
    pqxx::result rows = transaction.exec(kBlobPage, after, cutoff, sql_limit(limit));
    std::string last;
    for (const pqxx::row& row : rows) {
      ++page.examined;
      last = text_of(row[0]);
      if (!row[2].as<bool>()) continue;
      auto digest = stored_digest(row[0]);
      if (!digest) return digest.error();
      GarbageBlob blob{std::move(*digest), row[1].as<std::uint64_t>()};
      if (const std::uint64_t links = as_count(row[3]); links > 0) {
        page.linked_only.push_back({std::move(blob), links});
      } else {
        page.garbage.push_back(std::move(blob));
      }
    }
    if (page.examined == limit) page.next = std::move(last);
    return {};
  });
  if (!read) return read.error();
  return page;
}

Result<std::vector<GarbageBlob>> PostgresMetadataStore::claim_blobs(
    std::span<const GarbageBlob> candidates, std::int64_t cutoff) {
  std::vector<GarbageBlob> claimed;
  if (candidates.empty()) return claimed;
  const std::string digests = text_array(digests_of(candidates));
  auto written = database_->write([&](Transaction& transaction) -> Result<void> {
    const auto taken = text_set(transaction.exec(kClaimBlobs, digests, cutoff));
    claimed.clear();
    for (const GarbageBlob& blob : candidates) {
      if (taken.contains(blob.digest.str())) claimed.push_back(blob);
    }
    return {};
  });
  if (!written) return written.error();
  return claimed;
}

Result<bool> PostgresMetadataStore::claim_orphan(const GarbageBlob& blob) {
  bool claimed = false;
  auto written = database_->write([&](Transaction& transaction) -> Result<void> {
    claimed = transaction.exec(kClaimOrphan, blob.digest.str(), as_int(blob.size), unix_now())
                  .affected_rows() > 0;
    return {};
  });
  if (!written) return written.error();
  return claimed;
}

Result<std::vector<GarbageBlob>> PostgresMetadataStore::claimed_blobs(std::string_view after,
                                                                      std::size_t limit) {
  std::vector<GarbageBlob> claimed;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    pqxx::result rows = transaction.exec(kClaimedBlobs, after, sql_limit(limit));
    claimed.clear();
    for (const pqxx::row& row : rows) {
      auto digest = stored_digest(row[0]);
      if (!digest) return digest.error();
      claimed.push_back({std::move(*digest), row[1].as<std::uint64_t>()});
    }
    return {};
  });
  if (!read) return read.error();
  return claimed;
}

Result<void> PostgresMetadataStore::forget_blobs(std::span<const oci::Digest> digests) {
  if (digests.empty()) return {};
  std::vector<std::string> texts;
  for (const oci::Digest& digest : digests) texts.push_back(digest.str());
  const std::string array = text_array(texts);
  return database_->write([&](Transaction& transaction) -> Result<void> {
    transaction.exec(kForgetBlobs, array);
    return {};
  });
}

Result<std::vector<bool>> PostgresMetadataStore::blobs_known(std::span<const oci::Digest> digests) {
  std::vector<bool> known;
  if (digests.empty()) return known;
  std::vector<std::string> texts;
  for (const oci::Digest& digest : digests) texts.push_back(digest.str());
  const std::string array = text_array(texts);
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    const auto found = text_set(transaction.exec(kKnownBlobs, array));
    known.clear();
    for (const std::string& text : texts) known.push_back(found.contains(text));
    return {};
  });
  if (!read) return read.error();
  return known;
}

std::vector<Statement> postgres::planned_gc_statements() {
  return {kLinkPage, kBlobPage, kClaimedBlobs, kListRepositories, kListRuns};
}

}  // namespace berth::metadata
