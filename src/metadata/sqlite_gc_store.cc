// SqliteMetadataStore: the GcStore part, on the same database, writer and reader pool as the
// content metadata (sqlite_schema.cc holds the schema migrations; link_blob and
// put_manifest in sqlite_metadata_store.cc are the writers' side of the collection protocol).
//
// Tables (schema version 6) this part uses beyond the content tables:
//
//   blobs (digest PK; size, created_at, touched_at, deleting)   partial index (digest) WHERE deleting
//   repository_blobs (repository_id, digest PK; created_at)     index (created_at)
//   registries
//   ^x  gc_runs (id INTEGER PK AUTOINCREMENT; registry_id NULL = every registry, started_by,
//                dry_run, state, phase, cursor, cutoff, started_at, updated_at, finished_at,
//                counters, error)   index (registry_id, id)
//
// Why this shape:
// - A link's created_at is when it was last made (a repeated upload or mount renews it), so
//   the grace period protects a link from the moment a client last pushed the blob.
// - Whether a blob is garbage is decided by one statement whose WHERE clause is the whole
//   rule (no link, no manifest reference anywhere, not touched since the cutoff), and that same
//   rule guards the UPDATE that claims it: the re-check and the claim are one statement.
// - A blob any manifest references is never garbage, even when a client deleted its link by
//   hand: bytes a stored manifest names are never removed.
// - Nor is a pinned digest (blob_pins, sqlite_tasks.cc), with or without a row: the claim of a
//   row and the claim of orphaned bytes both re-check the pins in their own statement, and
//   pin_blob refuses a digest already claimed, all on the single writer.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "metadata/sqlite_internal.h"
#include "metadata/sqlite_metadata_store.h"

namespace berth::metadata {
namespace {

#define BERTH_GC_RUN_COLUMNS                                                                   \
  "id, registry_id, started_by, dry_run, state, phase, cursor, cutoff, started_at, "           \
  "updated_at, finished_at, links_examined, links_removed, repositories_removed, "             \
  "blobs_examined, blobs_deleted, bytes_reclaimed, error, objects_examined"

// No repository links the blob in ?1, no manifest anywhere references it, stored or
// soft-deleted (a restore needs its blobs), and nothing pins it.
#define BERTH_BLOB_UNREFERENCED(digest)                                              \
  "NOT EXISTS (SELECT 1 FROM repository_blobs rb WHERE rb.digest = " digest ") "     \
  "AND " BERTH_BLOB_NOT_IN_MANIFESTS(digest) " AND " BERTH_BLOB_NOT_PINNED(digest)

#define BERTH_BLOB_NOT_IN_MANIFESTS(digest)                                                \
  "NOT EXISTS (SELECT 1 FROM manifest_references mr WHERE mr.child_digest = " digest ") "  \
  "AND NOT EXISTS (SELECT 1 FROM deleted_manifest_references dr "                         \
  "WHERE dr.child_digest = " digest ")"

// Nothing pins the digest (task_store.h: an uploaded build context, a finished run's log).
#define BERTH_BLOB_NOT_PINNED(digest) \
  "NOT EXISTS (SELECT 1 FROM blob_pins p WHERE p.digest = " digest ")"

// No manifest of the link's repository references the link's blob. CROSS JOIN fixes the join
// order: the references of this one digest first (an index probe), then their manifests by id.
// Left to itself, the planner walks every manifest of the repository for each link instead,
// which made a sweep of 100,000 links in a repository of 45,000 manifests take many minutes.
#define BERTH_LINK_UNREFERENCED                                                     \
  "NOT EXISTS (SELECT 1 FROM manifest_references mr CROSS JOIN manifests m "        \
  "ON m.id = mr.manifest_id WHERE mr.child_digest = rb.digest AND "                 \
  "m.repository_id = rb.repository_id)"

constexpr StatementSpec<GcSql> kGcStatements[] = {
    {GcSql::insert_run, "insert collection run",
     "INSERT INTO gc_runs (registry_id, started_by, dry_run, state, phase, cursor, cutoff, "
     "started_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)"},
    {GcSql::save_run, "save collection run",
     "UPDATE gc_runs SET state = ?2, phase = ?3, cursor = ?4, updated_at = ?5, finished_at = ?6, "
     "links_examined = ?7, links_removed = ?8, repositories_removed = ?9, blobs_examined = ?10, "
     "blobs_deleted = ?11, bytes_reclaimed = ?12, error = ?13, objects_examined = ?14 WHERE id = ?1"},
    {GcSql::find_run, "find collection run",
     "SELECT " BERTH_GC_RUN_COLUMNS " FROM gc_runs WHERE id = ?1"},
    {GcSql::list_runs, "list collection runs",
     "SELECT " BERTH_GC_RUN_COLUMNS " FROM gc_runs "
     "WHERE (?1 IS NULL OR registry_id = ?1 OR registry_id IS NULL) AND (?2 = 0 OR id < ?2) "
     "ORDER BY id DESC LIMIT ?3"},
    {GcSql::running_runs, "list running collection runs",
     "SELECT " BERTH_GC_RUN_COLUMNS " FROM gc_runs WHERE state = 'running' ORDER BY id"},
    {GcSql::find_repository, "find repository for collection",
     "SELECT id FROM repositories WHERE registry_id = ?1 AND name = ?2"},
    {GcSql::link_page, "read links for collection",
     "SELECT rb.digest, b.size, (rb.created_at < ?4 AND " BERTH_LINK_UNREFERENCED ") "
     "FROM repository_blobs rb JOIN blobs b ON b.digest = rb.digest "
     "WHERE rb.repository_id = ?1 AND rb.digest > ?2 ORDER BY rb.digest LIMIT ?3"},
    {GcSql::remove_link, "remove unreferenced link",
     "DELETE FROM repository_blobs AS rb WHERE rb.repository_id = ?1 AND rb.digest = ?2 "
     "AND rb.created_at < ?3 AND " BERTH_LINK_UNREFERENCED},
    // The repository's id and its count of links when it holds nothing else and may go.
    {GcSql::empty_repository, "check empty repository",
     "SELECT id, (SELECT count(*) FROM repository_blobs WHERE repository_id = r.id) "
     "FROM repositories r WHERE r.registry_id = ?1 AND r.name = ?2 "
     "AND r.created_at < ?3 AND r.write_enabled = 1 AND r.delete_enabled = 1 "
     "AND r.read_enabled = 1 AND r.list_enabled = 1 AND r.storage_quota_bytes IS NULL "
     "AND NOT EXISTS (SELECT 1 FROM manifests WHERE repository_id = r.id) "
     "AND NOT EXISTS (SELECT 1 FROM tags WHERE repository_id = r.id) "
     "AND NOT EXISTS (SELECT 1 FROM uploads WHERE repository_id = r.id)"},
    {GcSql::remove_repository, "remove empty repository",
     "DELETE FROM repositories WHERE id = ?1"},
    // Per blob: digest, size, whether it is collectable but for its links, and (only then:
    // a shared base layer is referenced, so its many links are never counted) its links.
    {GcSql::blob_page, "read blobs for collection",
     "SELECT digest, size, eligible, CASE WHEN eligible THEN (SELECT count(*) FROM "
     "repository_blobs rb WHERE rb.digest = page.digest) ELSE 0 END FROM ("
     "SELECT b.digest AS digest, b.size AS size, (b.deleting = 0 AND b.touched_at < ?2 AND "
     BERTH_BLOB_NOT_IN_MANIFESTS("b.digest") " AND " BERTH_BLOB_NOT_PINNED("b.digest") ") "
     "AS eligible FROM blobs b WHERE b.digest > ?1 ORDER BY b.digest LIMIT ?3) AS page "
     "ORDER BY digest"},
    {GcSql::claim_blob, "claim blob",
     "UPDATE blobs SET deleting = 1 WHERE digest = ?1 AND deleting = 0 AND touched_at < ?2 AND "
     BERTH_BLOB_UNREFERENCED("?1")},
    // Nothing inserted when a row exists or a pin names the digest.
    {GcSql::claim_orphan, "claim orphaned bytes",
     "INSERT INTO blobs (digest, size, created_at, touched_at, deleting) "
     "SELECT ?1, ?2, ?3, 0, 1 WHERE " BERTH_BLOB_NOT_PINNED("?1") " "
     "ON CONFLICT (digest) DO NOTHING"},
    {GcSql::claimed_blobs, "list claimed blobs",
     "SELECT digest, size FROM blobs WHERE deleting = 1 AND digest > ?1 ORDER BY digest "
     "LIMIT ?2"},
    {GcSql::forget_blob, "forget claimed blob",
     "DELETE FROM blobs WHERE digest = ?1 AND deleting = 1"},
    {GcSql::blob_known, "check blob row or pin",
     "SELECT 1 FROM blobs WHERE digest = ?1 UNION ALL "
     "SELECT 1 FROM blob_pins WHERE digest = ?1 LIMIT 1"},
    {GcSql::linked_live_blob, "check manifest blob link",
     "SELECT 1 FROM repository_blobs rb JOIN blobs b ON b.digest = rb.digest "
     "WHERE rb.repository_id = ?1 AND rb.digest = ?2 AND b.deleting = 0"},
    {GcSql::list_repositories, "list repositories for collection",
     "SELECT name FROM repositories WHERE registry_id = ?1 AND name > ?2 ORDER BY name "
     "LIMIT ?3"},
};

#undef BERTH_GC_RUN_COLUMNS
#undef BERTH_BLOB_UNREFERENCED
#undef BERTH_BLOB_NOT_IN_MANIFESTS
#undef BERTH_LINK_UNREFERENCED
#undef BERTH_BLOB_NOT_PINNED

static_assert(statements_in_enum_order(kGcStatements), "kGcStatements is indexed by GcSql");

std::int64_t as_int(std::uint64_t value) { return static_cast<std::int64_t>(value); }
std::uint64_t as_count(std::int64_t value) {
  return value < 0 ? 0 : static_cast<std::uint64_t>(value);
}

Result<oci::Digest> digest_column(const Statement& stmt, int column) {
  return stored_digest(stmt.text(column));
}

GcRun read_run(const Statement& stmt) {
  GcRun run;
  run.id = stmt.integer(0);
  if (!stmt.is_null(1)) run.registry = stmt.integer(1);
  run.started_by = std::string(stmt.text(2));
  run.dry_run = stmt.integer(3) != 0;
  run.state = std::string(stmt.text(4));
  run.phase = std::string(stmt.text(5));
  run.cursor = std::string(stmt.text(6));
  run.cutoff = stmt.integer(7);
  run.started_at = stmt.integer(8);
  run.updated_at = stmt.integer(9);
  run.finished_at = stmt.integer(10);
  run.links_examined = as_count(stmt.integer(11));
  run.links_removed = as_count(stmt.integer(12));
  run.repositories_removed = as_count(stmt.integer(13));
  run.blobs_examined = as_count(stmt.integer(14));
  run.blobs_deleted = as_count(stmt.integer(15));
  run.bytes_reclaimed = as_count(stmt.integer(16));
  run.error = std::string(stmt.text(17));
  run.objects_examined = as_count(stmt.integer(18));
  return run;
}

Result<std::vector<GcRun>> collect_runs(Statement& stmt) {
  std::vector<GcRun> runs;
  while (true) {
    auto row = stmt.step();
    if (!row) return row.error();
    if (!*row) return runs;
    runs.push_back(read_run(stmt));
  }
}

// The repository's id, or nullopt when it does not exist.
Result<std::optional<std::int64_t>> repository_id(SqliteConnection& connection,
                                                  RepositoryRef repository) {
  auto find = connection.statement(GcSql::find_repository);
  if (!find) return find.error();
  find->bind_repository(repository);
  auto row = find->step();
  if (!row) return row.error();
  if (!*row) return std::optional<std::int64_t>();
  return std::optional<std::int64_t>(find->integer(0));
}

// Reads one page of the repository's links; `garbage` gets the unreferenced old ones.
Result<LinkSweepPage> read_link_page(SqliteConnection& connection, std::int64_t repository,
                                     std::string_view after, std::int64_t cutoff,
                                     std::size_t limit) {
  auto page_stmt = connection.statement(GcSql::link_page);
  if (!page_stmt) return page_stmt.error();
  page_stmt->bind_int(1, repository).bind_text(2, after).bind_int(3, sql_limit(limit))
      .bind_int(4, cutoff);
  LinkSweepPage page;
  std::string last;
  while (true) {
    auto row = page_stmt->step();
    if (!row) return row.error();
    if (!*row) break;
    ++page.examined;
    last = std::string(page_stmt->text(0));
    if (page_stmt->integer(2) == 0) continue;
    auto digest = digest_column(*page_stmt, 0);
    if (!digest) return digest.error();
    page.removed.push_back({std::move(*digest), as_count(page_stmt->integer(1))});
  }
  if (page.examined == limit) page.next = std::move(last);
  return page;
}

}  // namespace

const StatementSpec<GcSql>& spec_of(GcSql id) {
  return kGcStatements[static_cast<std::size_t>(id)];
}

// --- runs ---

Result<GcRun> SqliteMetadataStore::create_gc_run(const GcRun& run) {
  GcRun created = run;
  auto written = write([&](SqliteConnection& connection) -> Result<void> {
    auto stmt = connection.statement(GcSql::insert_run);
    if (!stmt) return stmt.error();
    if (run.registry) {
      stmt->bind_int(1, *run.registry);
    } else {
      stmt->bind_null(1);
    }
    stmt->bind_text(2, run.started_by)
        .bind_int(3, run.dry_run ? 1 : 0)
        .bind_text(4, run.state)
        .bind_text(5, run.phase)
        .bind_text(6, run.cursor)
        .bind_int(7, run.cutoff)
        .bind_int(8, run.started_at);
    if (auto done = stmt->run(); !done) return done.error();
    created.id = sqlite3_last_insert_rowid(connection.db());
    created.updated_at = run.started_at;
    return {};
  });
  if (!written) return written.error();
  return created;
}

Result<void> SqliteMetadataStore::save_gc_run(const GcRun& run) {
  return write([&](SqliteConnection& connection) -> Result<void> {
    auto stmt = connection.statement(GcSql::save_run);
    if (!stmt) return stmt.error();
    stmt->bind_int(1, run.id)
        .bind_text(2, run.state)
        .bind_text(3, run.phase)
        .bind_text(4, run.cursor)
        .bind_int(5, run.updated_at)
        .bind_int(6, run.finished_at)
        .bind_int(7, as_int(run.links_examined))
        .bind_int(8, as_int(run.links_removed))
        .bind_int(9, as_int(run.repositories_removed))
        .bind_int(10, as_int(run.blobs_examined))
        .bind_int(11, as_int(run.blobs_deleted))
        .bind_int(12, as_int(run.bytes_reclaimed))
        .bind_text(13, run.error)
        .bind_int(14, as_int(run.objects_examined));
    return stmt->run();
  });
}

Result<std::optional<GcRun>> SqliteMetadataStore::find_gc_run(std::int64_t id) {
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(GcSql::find_run);
  if (!stmt) return stmt.error();
  stmt->bind_int(1, id);
  auto row = stmt->step();
  if (!row) return row.error();
  if (!*row) return std::optional<GcRun>();
  return std::optional<GcRun>(read_run(*stmt));
}

Result<std::vector<GcRun>> SqliteMetadataStore::list_gc_runs(std::optional<RegistryId> registry,
                                                             std::int64_t before,
                                                             std::size_t limit) {
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(GcSql::list_runs);
  if (!stmt) return stmt.error();
  if (registry) {
    stmt->bind_int(1, *registry);
  } else {
    stmt->bind_null(1);
  }
  stmt->bind_int(2, before).bind_int(3, sql_limit(limit));
  return collect_runs(*stmt);
}

Result<std::vector<GcRun>> SqliteMetadataStore::running_gc_runs() {
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(GcSql::running_runs);
  if (!stmt) return stmt.error();
  return collect_runs(*stmt);
}

// --- links ---

Result<std::vector<std::string>> SqliteMetadataStore::gc_repositories(RegistryId registry,
                                                                      std::string_view after,
                                                                      std::size_t limit) {
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(GcSql::list_repositories);
  if (!stmt) return stmt.error();
  stmt->bind_int(1, registry).bind_text(2, after).bind_int(3, sql_limit(limit));
  std::vector<std::string> names;
  while (true) {
    auto row = stmt->step();
    if (!row) return row.error();
    if (!*row) return names;
    names.emplace_back(stmt->text(0));
  }
}

Result<LinkSweepPage> SqliteMetadataStore::sweep_links(RepositoryRef repository,
                                                       std::string_view after,
                                                       std::int64_t cutoff, std::size_t limit,
                                                       bool dry_run) {
  if (repository.name.empty()) return invalid_argument("repository name is empty");
  if (limit == 0) return invalid_argument("a sweep page needs a limit above 0");
  // The page is read without the writer, so a page with nothing to remove costs pushes nothing;
  // the removal re-checks every link in its own DELETE.
  std::int64_t id = 0;
  LinkSweepPage page;
  {
    auto reader = acquire_reader();
    if (!reader) return reader.error();
    auto found = repository_id(reader->connection(), repository);
    if (!found) return found.error();
    if (!*found) return LinkSweepPage{};
    id = **found;
    auto read = read_link_page(reader->connection(), id, after, cutoff, limit);
    if (!read) return read.error();
    page = std::move(*read);
  }
  if (dry_run || page.removed.empty()) return page;
  std::vector<GarbageBlob> candidates = std::move(page.removed);
  auto written = write([&](SqliteConnection& connection) -> Result<void> {
    page.removed.clear();
    auto remove = connection.statement(GcSql::remove_link);
    if (!remove) return remove.error();
    for (const GarbageBlob& blob : candidates) {
      const std::string text = blob.digest.str();
      remove->bind_int(1, id).bind_text(2, text).bind_int(3, cutoff);
      if (auto done = remove->run(); !done) return done.error();
      remove->reset();
      if (sqlite3_changes(connection.db()) > 0) page.removed.push_back(blob);
    }
    return {};
  });
  if (!written) return written.error();
  return page;
}

namespace {

struct RemovableRepository {
  std::int64_t id = 0;
  std::uint64_t links = 0;
};

// The repository when it holds nothing but links and may go (see empty_repository).
Result<std::optional<RemovableRepository>> removable_repository(SqliteConnection& connection,
                                                                RepositoryRef repository,
                                                                std::int64_t cutoff) {
  auto stmt = connection.statement(GcSql::empty_repository);
  if (!stmt) return stmt.error();
  stmt->bind_repository(repository).bind_int(3, cutoff);
  auto row = stmt->step();
  if (!row) return row.error();
  if (!*row) return std::optional<RemovableRepository>();
  return std::optional<RemovableRepository>(
      RemovableRepository{stmt->integer(0), as_count(stmt->integer(1))});
}

}  // namespace

Result<std::optional<std::uint64_t>> SqliteMetadataStore::removable_repository_links(
    RepositoryRef repository, std::int64_t cutoff) {
  if (repository.name.empty()) return invalid_argument("repository name is empty");
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto found = removable_repository(reader->connection(), repository, cutoff);
  if (!found) return found.error();
  if (!*found) return std::optional<std::uint64_t>();
  return std::optional<std::uint64_t>((*found)->links);
}

Result<bool> SqliteMetadataStore::remove_empty_repository(RepositoryRef repository,
                                                          std::int64_t cutoff) {
  // Most repositories hold something: found out without the writer.
  auto links = removable_repository_links(repository, cutoff);
  if (!links) return links.error();
  if (!*links || **links > 0) return false;
  bool removed = false;
  auto written = write([&](SqliteConnection& connection) -> Result<void> {
    removed = false;
    auto found = removable_repository(connection, repository, cutoff);
    if (!found) return found.error();
    if (!*found || (*found)->links > 0) return {};
    auto remove = connection.statement(GcSql::remove_repository);
    if (!remove) return remove.error();
    remove->bind_int(1, (*found)->id);
    if (auto done = remove->run(); !done) return done.error();
    removed = sqlite3_changes(connection.db()) > 0;
    return {};
  });
  if (!written) return written.error();
  return removed;
}

// --- blobs ---

Result<BlobScanPage> SqliteMetadataStore::scan_blobs(std::string_view after, std::int64_t cutoff,
                                                     std::size_t limit) {
  if (limit == 0) return invalid_argument("a scan page needs a limit above 0");
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(GcSql::blob_page);
  if (!stmt) return stmt.error();
  stmt->bind_text(1, after).bind_int(2, cutoff).bind_int(3, sql_limit(limit));
  BlobScanPage page;
  std::string last;
  while (true) {
    auto row = stmt->step();
    if (!row) return row.error();
    if (!*row) break;
    ++page.examined;
    last = std::string(stmt->text(0));
    if (stmt->integer(2) == 0) continue;
    auto digest = digest_column(*stmt, 0);
    if (!digest) return digest.error();
    GarbageBlob blob{std::move(*digest), as_count(stmt->integer(1))};
    if (const std::uint64_t links = as_count(stmt->integer(3)); links > 0) {
      page.linked_only.push_back({std::move(blob), links});
    } else {
      page.garbage.push_back(std::move(blob));
    }
  }
  if (page.examined == limit) page.next = std::move(last);
  return page;
}

Result<std::vector<GarbageBlob>> SqliteMetadataStore::claim_blobs(
    std::span<const GarbageBlob> candidates, std::int64_t cutoff) {
  std::vector<GarbageBlob> claimed;
  auto written = write([&](SqliteConnection& connection) -> Result<void> {
    claimed.clear();
    auto claim = connection.statement(GcSql::claim_blob);
    if (!claim) return claim.error();
    for (const GarbageBlob& blob : candidates) {
      const std::string text = blob.digest.str();
      claim->bind_text(1, text).bind_int(2, cutoff);
      if (auto done = claim->run(); !done) return done.error();
      claim->reset();
      if (sqlite3_changes(connection.db()) > 0) claimed.push_back(blob);
    }
    return {};
  });
  if (!written) return written.error();
  return claimed;
}

Result<bool> SqliteMetadataStore::claim_orphan(const GarbageBlob& blob) {
  bool claimed = false;
  auto written = write([&](SqliteConnection& connection) -> Result<void> {
    auto stmt = connection.statement(GcSql::claim_orphan);
    if (!stmt) return stmt.error();
    const std::string text = blob.digest.str();
    stmt->bind_text(1, text).bind_int(2, as_int(blob.size)).bind_int(3, unix_now());
    if (auto done = stmt->run(); !done) return done.error();
    claimed = sqlite3_changes(connection.db()) > 0;
    return {};
  });
  if (!written) return written.error();
  return claimed;
}

Result<std::vector<GarbageBlob>> SqliteMetadataStore::claimed_blobs(std::string_view after,
                                                                    std::size_t limit) {
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(GcSql::claimed_blobs);
  if (!stmt) return stmt.error();
  stmt->bind_text(1, after).bind_int(2, sql_limit(limit));
  std::vector<GarbageBlob> claimed;
  while (true) {
    auto row = stmt->step();
    if (!row) return row.error();
    if (!*row) return claimed;
    auto digest = digest_column(*stmt, 0);
    if (!digest) return digest.error();
    claimed.push_back({std::move(*digest), as_count(stmt->integer(1))});
  }
}

Result<void> SqliteMetadataStore::forget_blobs(std::span<const oci::Digest> digests) {
  return write([&](SqliteConnection& connection) -> Result<void> {
    auto forget = connection.statement(GcSql::forget_blob);
    if (!forget) return forget.error();
    for (const oci::Digest& digest : digests) {
      const std::string text = digest.str();
      forget->bind_text(1, text);
      if (auto done = forget->run(); !done) return done.error();
      forget->reset();
    }
    return {};
  });
}

Result<std::vector<bool>> SqliteMetadataStore::blobs_known(std::span<const oci::Digest> digests) {
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(GcSql::blob_known);
  if (!stmt) return stmt.error();
  std::vector<bool> known;
  known.reserve(digests.size());
  for (const oci::Digest& digest : digests) {
    const std::string text = digest.str();
    stmt->bind_text(1, text);
    auto row = stmt->step();
    if (!row) return row.error();
    known.push_back(*row);
    stmt->reset();
  }
  return known;
}

}  // namespace berth::metadata
