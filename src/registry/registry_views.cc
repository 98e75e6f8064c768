// Registry: the management views of a registry's content (repositories with their sizes and
// counts, tag records, manifest summaries). Reads only; the changes are in registry.cc.
// Listings leave out list-disabled items (listEnabled false), as the hosted service's do; a
// single item is shown whatever its attributes.

#include <algorithm>
#include <utility>

#include "registry/registry.h"

namespace berth::registry {
namespace {

template <class Item>
void drop_unlisted(std::vector<Item>& items) {
  std::erase_if(items, [](const Item& item) { return !item.attributes.list_enabled; });
}

}  // namespace

Result<std::vector<metadata::RepositorySummary>> Registry::repository_summaries() {
  auto summaries = metadata_.list_repository_summaries(registry_);
  if (!summaries) return from_metadata(summaries.error());
  drop_unlisted(*summaries);
  return std::move(*summaries);
}

Result<metadata::RepositorySummary> Registry::repository_summary(std::string_view repository) {
  auto summary = metadata_.repository_summary(ref(repository));
  if (!summary) return from_metadata(summary.error());
  if (!*summary) return RegistryError{Errc::name_unknown, "repository name not known to registry"};
  return std::move(**summary);
}

Result<std::vector<metadata::TagRecord>> Registry::tag_records(std::string_view repository) {
  if (auto exists = require_repository(repository); !exists) return exists.error();
  auto tags = metadata_.list_tag_records(ref(repository));
  if (!tags) return from_metadata(tags.error());
  drop_unlisted(*tags);
  return std::move(*tags);
}

Result<std::vector<metadata::ManifestSummary>> Registry::manifest_summaries(
    std::string_view repository) {
  if (auto exists = require_repository(repository); !exists) return exists.error();
  auto manifests = metadata_.list_manifest_summaries(ref(repository));
  if (!manifests) return from_metadata(manifests.error());
  drop_unlisted(*manifests);
  return std::move(*manifests);
}

Result<Registry::ManifestDetail> Registry::manifest_detail(std::string_view repository,
                                                           const oci::Digest& digest) {
  if (auto exists = require_repository(repository); !exists) return exists.error();
  auto stored = metadata_.get_manifest(ref(repository), digest);
  if (!stored) return from_metadata(stored.error());
  if (!*stored) return RegistryError{Errc::manifest_unknown, "manifest unknown to the repository"};
  metadata::ManifestRecord& record = **stored;
  ManifestDetail detail{metadata::ManifestSummary{record.digest,
                                                  record.media_type,
                                                  record.artifact_type,
                                                  record.content.size(),
                                                  record.created_at,
                                                  {},
                                                  record.updated_at,
                                                  record.attributes},
                        std::move(record.content)};
  auto tags = metadata_.list_tag_records(ref(repository));
  if (!tags) return from_metadata(tags.error());
  for (auto& tag : *tags) {
    if (tag.digest == digest) detail.summary.tags.push_back(std::move(tag.name));
  }
  std::sort(detail.summary.tags.begin(), detail.summary.tags.end());
  return detail;
}

namespace {

// Reads one item beyond the page so the caller knows whether more follow.
template <class Item>
Registry::ItemPage<Item> page_of(std::vector<Item> items, std::size_t limit) {
  Registry::ItemPage<Item> page{std::move(items), false};
  if (page.items.size() > limit) {
    page.items.erase(page.items.begin() + static_cast<std::ptrdiff_t>(limit), page.items.end());
    page.more = true;
  }
  return page;
}

metadata::PageQuery one_more(metadata::PageQuery query) {
  query.limit = query.limit + 1;
  return query;
}

}  // namespace

Result<Registry::ItemPage<metadata::TagRecord>> Registry::tag_page(
    std::string_view repository, const metadata::PageQuery& query) {
  if (auto exists = require_repository(repository); !exists) return exists.error();
  auto tags = metadata_.list_tag_page(ref(repository), one_more(query));
  if (!tags) return from_metadata(tags.error());
  return page_of(std::move(*tags), query.limit);
}

Result<Registry::ItemPage<metadata::ManifestSummary>> Registry::manifest_page(
    std::string_view repository, const metadata::PageQuery& query) {
  if (auto exists = require_repository(repository); !exists) return exists.error();
  auto manifests = metadata_.list_manifest_page(ref(repository), one_more(query));
  if (!manifests) return from_metadata(manifests.error());
  return page_of(std::move(*manifests), query.limit);
}

Result<metadata::ManifestSummary> Registry::manifest_summary(std::string_view repository,
                                                             const oci::Digest& digest) {
  if (auto exists = require_repository(repository); !exists) return exists.error();
  auto summary = metadata_.manifest_summary(ref(repository), digest);
  if (!summary) return from_metadata(summary.error());
  if (!*summary) return RegistryError{Errc::manifest_unknown, "manifest unknown to the repository"};
  return std::move(**summary);
}

Result<Registry::RemovedContent> Registry::delete_repository_listing(
    std::string_view repository) {
  // Read before the delete: a push landing between the two is removed but not named.
  auto manifests = metadata_.list_manifest_summaries(ref(repository));
  if (!manifests) return from_metadata(manifests.error());
  auto tags = metadata_.list_tag_records(ref(repository));
  if (!tags) return from_metadata(tags.error());
  if (auto deleted = delete_repository(repository); !deleted) return deleted.error();
  RemovedContent removed;
  for (const auto& manifest : *manifests) removed.manifests.push_back(manifest.digest.str());
  for (auto& tag : *tags) removed.tags.push_back(std::move(tag.name));
  std::sort(removed.manifests.begin(), removed.manifests.end());
  return removed;
}

}  // namespace berth::registry
