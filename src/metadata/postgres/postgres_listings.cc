// PostgresMetadataStore: the paged listings of tags and manifests in an order (/acr/v1), and
// the single manifest summary they share a shape with. Each page is one range of an index:
//   tags by name        the primary key (repository_id, name)
//   tags by time        tags_by_time (repository_id, updated_at, name)
//   manifests by digest the unique key (repository_id, digest)
//   manifests by time   manifests_by_time (repository_id, <last update>, digest)
// and "after the last item" is a row-value comparison on the index's columns (keyset
// pagination), which PostgreSQL turns into the start of an index range scan (forwards, or
// backwards for the latest first), so a page costs the same however deep into the listing it is.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "metadata/postgres/postgres_internal.h"
#include "metadata/postgres/postgres_metadata_store.h"

namespace berth::metadata {

using namespace postgres;

namespace {

// The tag listing's rows: name, digest, created_at, updated_at, the attributes.
#define BERTH_PG_TAG_PAGE                                                                    \
  "SELECT t.name, m.digest, t.created_at, t.updated_at, t.write_enabled, t.delete_enabled, " \
  "t.read_enabled, t.list_enabled FROM tags t JOIN manifests m ON m.id = t.manifest_id "     \
  "WHERE t.repository_id = " BERTH_PG_REPOSITORY_ID " AND t.list_enabled"

// A manifest's last update, exactly as manifests_by_time indexes it (no table alias, so the
// planner matches the expression).
#define BERTH_PG_MANIFEST_TIME "(CASE WHEN updated_at <> 0 THEN updated_at ELSE created_at END)"

// The manifest listing's rows: digest, media_type, artifact_type, size, created_at,
// updated_at, the attributes, architecture, os, image size (its bytes and those of the blobs it
// references) and its tags joined by newlines in byte order (split_tag_names).
#define BERTH_PG_MANIFEST_PAGE                                                                \
  "SELECT digest, media_type, artifact_type, size, created_at, "                              \
  "updated_at, " BERTH_PG_ATTRIBUTE_COLUMNS                                                   \
  ", "                                                                                        \
  "COALESCE((SELECT architecture FROM manifest_platforms WHERE manifest_id = manifests.id), " \
  "''), "                                                                                     \
  "COALESCE((SELECT os FROM manifest_platforms WHERE manifest_id = manifests.id), ''), "      \
  "size + (SELECT COALESCE(sum(b.size), 0) FROM manifest_references r JOIN blobs b "          \
  "ON b.digest = r.child_digest WHERE r.manifest_id = manifests.id AND r.kind = 'blob'), "    \
  "(SELECT string_agg(name, chr(10) ORDER BY name) FROM tags "                                \
  "WHERE manifest_id = manifests.id) "                                                        \
  "FROM manifests WHERE repository_id = " BERTH_PG_REPOSITORY_ID

// $3 the last key seen, $4 the limit, $5 the last time seen.
constexpr Statement kTagPageByName{"tag_page_by_name",
                                   BERTH_PG_TAG_PAGE " AND t.name > $3 ORDER BY t.name LIMIT $4"};
constexpr Statement kTagPageTimeAsc{"tag_page_time_asc", BERTH_PG_TAG_PAGE
                                    " AND (t.updated_at, t.name) > ($5, $3) "
                                    "ORDER BY t.updated_at, t.name LIMIT $4"};
constexpr Statement kTagPageTimeDesc{"tag_page_time_desc", BERTH_PG_TAG_PAGE
                                     " AND (t.updated_at, t.name) < ($5, $3) "
                                     "ORDER BY t.updated_at DESC, t.name DESC LIMIT $4"};
constexpr Statement kManifestPageByDigest{
    "manifest_page_by_digest",
    BERTH_PG_MANIFEST_PAGE " AND list_enabled AND digest > $3 ORDER BY digest LIMIT $4"};
constexpr Statement kManifestPageTimeAsc{"manifest_page_time_asc", BERTH_PG_MANIFEST_PAGE
                                         " AND list_enabled AND (" BERTH_PG_MANIFEST_TIME
                                         ", digest) > ($5, $3) ORDER BY " BERTH_PG_MANIFEST_TIME
                                         ", digest LIMIT $4"};
constexpr Statement kManifestPageTimeDesc{"manifest_page_time_desc", BERTH_PG_MANIFEST_PAGE
                                          " AND list_enabled AND (" BERTH_PG_MANIFEST_TIME
                                          ", digest) < ($5, $3) ORDER BY " BERTH_PG_MANIFEST_TIME
                                          " DESC, digest DESC LIMIT $4"};
constexpr Statement kManifestSummary{"manifest_summary", BERTH_PG_MANIFEST_PAGE " AND digest = $3"};

#undef BERTH_PG_TAG_PAGE
#undef BERTH_PG_MANIFEST_TIME
#undef BERTH_PG_MANIFEST_PAGE

const Statement& tag_statement(ListingOrder order) {
  switch (order) {
    case ListingOrder::time_asc:
      return kTagPageTimeAsc;
    case ListingOrder::time_desc:
      return kTagPageTimeDesc;
    case ListingOrder::by_key:
      break;
  }
  return kTagPageByName;
}

const Statement& manifest_statement(ListingOrder order) {
  switch (order) {
    case ListingOrder::time_asc:
      return kManifestPageTimeAsc;
    case ListingOrder::time_desc:
      return kManifestPageTimeDesc;
    case ListingOrder::by_key:
      break;
  }
  return kManifestPageByDigest;
}

// Runs a page statement: the repository ($1, $2), where the page starts ($3 key, $5 time,
// page_start in listing_pages.h) and its size ($4).
pqxx::result page_rows(Transaction& transaction, const Statement& statement,
                       RepositoryRef repository, const PageQuery& query) {
  const PageStart start = page_start(query);
  if (query.order == ListingOrder::by_key) {
    return transaction.exec(statement, repository.registry, repository.name, start.key,
                            sql_limit(query.limit));
  }
  return transaction.exec(statement, repository.registry, repository.name, start.key,
                          sql_limit(query.limit), start.time);
}

// A row of BERTH_PG_MANIFEST_PAGE.
Result<ManifestSummary> manifest_summary_of(const pqxx::row& row) {
  auto digest = stored_digest(row[0]);
  if (!digest) return digest.error();
  ManifestSummary summary{
      .digest = std::move(*digest),
      .media_type = text_of(row[1]),
      .artifact_type = text_of(row[2]),
      .size = row[3].as<std::uint64_t>(),
      .created_at = row[4].as<std::int64_t>(),
      .tags = split_tag_names(row[13].c_str()),
      .updated_at = row[5].as<std::int64_t>(),
      .attributes = attributes_of(row, 6),
      .architecture = text_of(row[10]),
      .os = text_of(row[11]),
      .image_size = row[12].as<std::uint64_t>(),
  };
  return summary;
}

}  // namespace

Result<std::vector<TagRecord>> PostgresMetadataStore::list_tag_page(RepositoryRef repository,
                                                                    const PageQuery& query) {
  if (auto bad = check_repository(repository)) return *bad;
  std::vector<TagRecord> tags;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    auto records =
        tag_records_of(page_rows(transaction, tag_statement(query.order), repository, query));
    if (!records) return records.error();
    tags = std::move(*records);
    return {};
  });
  if (!read) return read.error();
  return tags;
}

Result<std::vector<ManifestSummary>> PostgresMetadataStore::list_manifest_page(
    RepositoryRef repository, const PageQuery& query) {
  if (auto bad = check_repository(repository)) return *bad;
  std::vector<ManifestSummary> manifests;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    pqxx::result rows = page_rows(transaction, manifest_statement(query.order), repository, query);
    manifests.clear();
    manifests.reserve(rows.size());
    for (const pqxx::row& row : rows) {
      auto summary = manifest_summary_of(row);
      if (!summary) return summary.error();
      manifests.push_back(std::move(*summary));
    }
    return {};
  });
  if (!read) return read.error();
  return manifests;
}

Result<std::optional<ManifestSummary>> PostgresMetadataStore::manifest_summary(
    RepositoryRef repository, const oci::Digest& digest) {
  if (auto bad = check_repository(repository)) return *bad;
  std::optional<ManifestSummary> summary;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    pqxx::result rows =
        transaction.exec(kManifestSummary, repository.registry, repository.name, digest.str());
    summary.reset();
    if (rows.empty()) return {};
    auto found = manifest_summary_of(rows[0]);
    if (!found) return found.error();
    summary = std::move(*found);
    return {};
  });
  if (!read) return read.error();
  return summary;
}

std::vector<Statement> postgres::planned_listing_statements() {
  return {kTagPageByName,       kTagPageTimeAsc,       kTagPageTimeDesc, kManifestPageByDigest,
          kManifestPageTimeAsc, kManifestPageTimeDesc, kManifestSummary};
}

}  // namespace berth::metadata
