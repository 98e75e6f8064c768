// SqliteMetadataStore: the paged listings of tags and manifests in an order (/acr/v1), and the
// single manifest summary they share a shape with. Each page is one range of an index:
//   tags by name        the primary key (repository_id, name)
//   tags by time        tags_by_time (repository_id, updated_at, name)
//   manifests by digest the unique key (repository_id, digest)
//   manifests by time   manifests_by_time (repository_id, <last update>, digest)
// and "after the last item" is a row-value comparison on the index's columns (keyset
// pagination), so a page costs the same however deep into the listing it is. The statements'
// text is in sqlite_metadata_store.cc with the others.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "metadata/sqlite_internal.h"

namespace berth::metadata {
namespace {

// Binds where the page starts (?3 key, ?5 time) and its size (?4). Without a position, the
// start is a bound no item passes: before every key, or beyond every time in the order's
// direction.
void bind_page(Statement& stmt, const PageQuery& query) {
  const PageStart start = page_start(query);
  stmt.bind_text(3, start.key).bind_int(4, sql_limit(query.limit));
  if (query.order != ListingOrder::by_key) stmt.bind_int(5, start.time);
}

// A row of BERTH_MANIFEST_PAGE.
Result<ManifestSummary> manifest_summary_of(const Statement& stmt) {
  auto digest = stored_digest(stmt.text(0));
  if (!digest) return digest.error();
  return ManifestSummary{
      .digest = std::move(*digest),
      .media_type = std::string(stmt.text(1)),
      .artifact_type = std::string(stmt.text(2)),
      .size = static_cast<std::uint64_t>(stmt.integer(3)),
      .created_at = stmt.integer(4),
      .tags = split_tag_names(stmt.text(13)),
      .updated_at = stmt.integer(5),
      .attributes = attributes_of(stmt, 6),
      .architecture = std::string(stmt.text(10)),
      .os = std::string(stmt.text(11)),
      .image_size = static_cast<std::uint64_t>(stmt.integer(12)),
  };
}

Sql tag_statement(ListingOrder order) {
  switch (order) {
    case ListingOrder::time_asc: return Sql::tag_page_time_asc;
    case ListingOrder::time_desc: return Sql::tag_page_time_desc;
    case ListingOrder::by_key: break;
  }
  return Sql::tag_page_by_name;
}

Sql manifest_statement(ListingOrder order) {
  switch (order) {
    case ListingOrder::time_asc: return Sql::manifest_page_time_asc;
    case ListingOrder::time_desc: return Sql::manifest_page_time_desc;
    case ListingOrder::by_key: break;
  }
  return Sql::manifest_page_by_digest;
}

}  // namespace

Result<std::vector<TagRecord>> SqliteMetadataStore::list_tag_page(RepositoryRef repository,
                                                                  const PageQuery& query) {
  if (auto bad = check_repository(repository)) return *bad;
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(tag_statement(query.order));
  if (!stmt) return stmt.error();
  stmt->bind_repository(repository);
  bind_page(*stmt, query);
  return collect_tag_records(*stmt, initial_capacity(query.limit));
}

Result<std::vector<ManifestSummary>> SqliteMetadataStore::list_manifest_page(
    RepositoryRef repository, const PageQuery& query) {
  if (auto bad = check_repository(repository)) return *bad;
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(manifest_statement(query.order));
  if (!stmt) return stmt.error();
  stmt->bind_repository(repository);
  bind_page(*stmt, query);
  std::vector<ManifestSummary> manifests;
  manifests.reserve(initial_capacity(query.limit));
  for (;;) {
    auto row = stmt->step();
    if (!row) return row.error();
    if (!*row) return manifests;
    auto summary = manifest_summary_of(*stmt);
    if (!summary) return summary.error();
    manifests.push_back(std::move(*summary));
  }
}

Result<std::optional<ManifestSummary>> SqliteMetadataStore::manifest_summary(
    RepositoryRef repository, const oci::Digest& digest) {
  if (auto bad = check_repository(repository)) return *bad;
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(Sql::manifest_summary);
  if (!stmt) return stmt.error();
  const std::string text = digest.str();
  stmt->bind_repository(repository).bind_text(3, text);
  auto row = stmt->step();
  if (!row) return row.error();
  if (!*row) return std::optional<ManifestSummary>();
  auto summary = manifest_summary_of(*stmt);
  if (!summary) return summary.error();
  return std::optional<ManifestSummary>(std::move(*summary));
}

}  // namespace berth::metadata
