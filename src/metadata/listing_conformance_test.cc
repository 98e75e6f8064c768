// The MetadataStore conformance suite, continued: the paged listings of tags and manifests in
// an order (by key, by last update either way), with keyset pagination, and the platform and
// image size they report.

#include <algorithm>
#include <cstdint>
#include <tuple>
#include <optional>
#include <string>
#include <vector>

#include "metadata/conformance_test.h"

namespace berth::metadata {
namespace {

using namespace conformance;

constexpr ListingOrder kOrders[] = {ListingOrder::by_key, ListingOrder::time_asc,
                                    ListingOrder::time_desc};

// Every item of a listing, read `page_size` at a time, each page starting after the last item
// of the previous one.
template <class Item, class Lister, class PositionOf>
std::vector<Item> read_all(ListingOrder order, std::size_t page_size, Lister lister,
                           PositionOf position_of) {
  std::vector<Item> all;
  PageQuery query{.order = order, .after = std::nullopt, .limit = page_size};
  for (int pages = 0; pages < 100; ++pages) {
    std::vector<Item> page = lister(query);
    EXPECT_LE(page.size(), page_size);
    if (page.empty()) return all;
    query.after = position_of(page.back());
    for (auto& item : page) all.push_back(std::move(item));
  }
  ADD_FAILURE() << "the listing never ended";
  return all;
}

// Tags t0..t4 on manifests of their own, last updated at these times (two ties), and a
  // list-disabled tag that no listing shows.
void tag_fixture(MetadataStore& store) {
    const std::int64_t times[] = {30, 10, 20, 10, 30};
    for (int i = 0; i < 5; ++i) {
      std::string tag = numbered("t", i);
      MUST(store.put_manifest(repo("r"), manifest_of(manifest_json(tag)), {}, tag));
      MUST(store.update_tag_attributes(repo("r"), tag, {.write_enabled = true}, times[i]));
    }
    MUST(store.put_manifest(repo("r"), manifest_of(manifest_json("hidden")), {},
                              std::string("hidden")));
    MUST(store.update_tag_attributes(repo("r"), "hidden", {.list_enabled = false}, 15));
  }

std::vector<std::string> tag_names(MetadataStore& store, ListingOrder order,
                                   std::size_t page_size) {
    auto tags = read_all<TagRecord>(
        order, page_size,
        [&](const PageQuery& query) { return MUST(store.list_tag_page(repo("r"), query)); },
        [](const TagRecord& tag) { return ListingPosition{tag.updated_at, tag.name}; });
    std::vector<std::string> names;
    for (const auto& tag : tags) names.push_back(tag.name);
    return names;
  }

std::vector<std::string> manifest_digests(MetadataStore& store, ListingOrder order,
                                          std::size_t page_size) {
    auto manifests = read_all<ManifestSummary>(
        order, page_size,
        [&](const PageQuery& query) {
          return MUST(store.list_manifest_page(repo("r"), query));
        },
        [](const ManifestSummary& m) {
          return ListingPosition{m.updated_at != 0 ? m.updated_at : m.created_at, m.digest.str()};
        });
    std::vector<std::string> digests;
    for (const auto& manifest : manifests) digests.push_back(manifest.digest.str());
    return digests;
  }

TEST_P(MetadataStoreConformance, TagPagesInEveryOrderShowEachListedTagOnceInOrder) {
  tag_fixture(store());
  const std::vector<std::string> by_name = {"t0", "t1", "t2", "t3", "t4"};
  // Ties in time go by name, in the direction of the time.
  const std::vector<std::string> oldest_first = {"t1", "t3", "t2", "t0", "t4"};
  const std::vector<std::string> latest_first = {"t4", "t0", "t2", "t3", "t1"};
  for (std::size_t page_size : {1, 2, 10}) {
    EXPECT_EQ(tag_names(store(), ListingOrder::by_key, page_size), by_name) << page_size;
    EXPECT_EQ(tag_names(store(), ListingOrder::time_asc, page_size), oldest_first) << page_size;
    EXPECT_EQ(tag_names(store(), ListingOrder::time_desc, page_size), latest_first) << page_size;
  }
}

TEST_P(MetadataStoreConformance, ATagPageCarriesTheTagsRecord) {
  ManifestRecord manifest = manifest_of(manifest_json("a"));
  MUST(store().put_manifest(repo("r"), manifest, {}, std::string("v1")));
  MUST(store().update_tag_attributes(repo("r"), "v1", {.delete_enabled = false}, 1234));
  auto page = MUST(store().list_tag_page(repo("r"), {.limit = 10}));
  ASSERT_EQ(page.size(), 1u);
  EXPECT_EQ(page[0].name, "v1");
  EXPECT_EQ(page[0].digest, manifest.digest);
  EXPECT_EQ(page[0].updated_at, 1234);
  EXPECT_GT(page[0].created_at, 0);
  EXPECT_FALSE(page[0].attributes.delete_enabled);
  EXPECT_TRUE(page[0].attributes.write_enabled);
}

TEST_P(MetadataStoreConformance, ManifestPagesInEveryOrderShowEachListedManifestOnceInOrder) {
  // Created at 100, 100, 300 and 200; the last one's attributes changed at 400 (its last
  // update); a list-disabled one is left out.
  std::vector<std::string> digests;
  const std::int64_t created[] = {100, 100, 300, 200};
  for (int i = 0; i < 4; ++i) {
    ManifestRecord manifest = manifest_of(manifest_json(numbered("m", i)));
    manifest.created_at = created[i];
    MUST(store().put_manifest(repo("r"), manifest, {}, std::nullopt));
    digests.push_back(manifest.digest.str());
  }
  MUST(store().update_manifest_attributes(repo("r"), *oci::Digest::parse(digests[3]),
                                          {.write_enabled = true}, 400));
  ManifestRecord hidden = manifest_of(manifest_json("hidden"));
  MUST(store().put_manifest(repo("r"), hidden, {}, std::nullopt));
  MUST(store().update_manifest_attributes(repo("r"), hidden.digest, {.list_enabled = false}, 50));

  std::vector<std::string> by_digest = digests;
  std::sort(by_digest.begin(), by_digest.end());
  const auto& [d0, d1, d2, d3] = std::tie(digests[0], digests[1], digests[2], digests[3]);
  const std::string& low = std::min(d0, d1);
  const std::string& high = std::max(d0, d1);
  const std::vector<std::string> oldest_first = {low, high, d2, d3};
  const std::vector<std::string> latest_first = {d3, d2, high, low};
  for (std::size_t page_size : {1, 2, 10}) {
    EXPECT_EQ(manifest_digests(store(), ListingOrder::by_key, page_size), by_digest) << page_size;
    EXPECT_EQ(manifest_digests(store(), ListingOrder::time_asc, page_size), oldest_first) << page_size;
    EXPECT_EQ(manifest_digests(store(), ListingOrder::time_desc, page_size), latest_first) << page_size;
  }
}

TEST_P(MetadataStoreConformance, AManifestSummaryCarriesTagsPlatformAndImageSize) {
  oci::Digest config = oci::digest_of("config");
  oci::Digest layer = oci::digest_of("layer");
  MUST(store().link_blob(repo("r"), config, 100));
  MUST(store().link_blob(repo("r"), layer, 1000));
  ManifestRecord manifest = manifest_of(manifest_json("image"));
  manifest.architecture = "arm64";
  manifest.os = "linux";
  MUST(store().put_manifest(repo("r"), manifest,
                            {{config, ReferenceKind::blob}, {layer, ReferenceKind::blob}},
                            std::string("v2")));
  MUST(store().put_manifest(repo("r"), manifest, {}, std::string("v1")));
  MUST(store().update_tag_attributes(repo("r"), "v1", {.list_enabled = false}, 5));

  std::optional<ManifestSummary> summary = MUST(store().manifest_summary(repo("r"), manifest.digest));
  ASSERT_TRUE(summary.has_value());
  EXPECT_EQ(summary->digest, manifest.digest);
  EXPECT_EQ(summary->media_type, kImageManifest);
  EXPECT_EQ(summary->size, manifest.content.size());
  EXPECT_EQ(summary->image_size, manifest.content.size() + 1100);
  EXPECT_EQ(summary->architecture, "arm64");
  EXPECT_EQ(summary->os, "linux");
  // Every tag, the list-disabled one too: the manifest is what is listed here.
  EXPECT_EQ(summary->tags, (std::vector<std::string>{"v1", "v2"}));
  EXPECT_EQ(summary->created_at, manifest.created_at);

  auto page = MUST(store().list_manifest_page(repo("r"), {.limit = 10}));
  ASSERT_EQ(page.size(), 1u);
  EXPECT_EQ(page[0].tags, summary->tags);
  EXPECT_EQ(page[0].image_size, summary->image_size);
  EXPECT_EQ(page[0].architecture, "arm64");

  // get_manifest reads the platform back too; a manifest without one has empty values.
  std::optional<ManifestRecord> stored = MUST(store().get_manifest(repo("r"), manifest.digest));
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->architecture, "arm64");
  EXPECT_EQ(stored->os, "linux");
  ManifestRecord plain = manifest_of(manifest_json("plain"));
  MUST(store().put_manifest(repo("r"), plain, {}, std::nullopt));
  summary = MUST(store().manifest_summary(repo("r"), plain.digest));
  ASSERT_TRUE(summary.has_value());
  EXPECT_EQ(summary->architecture, "");
  EXPECT_EQ(summary->os, "");
  EXPECT_TRUE(summary->tags.empty());
  EXPECT_EQ(summary->image_size, plain.content.size());
}

TEST_P(MetadataStoreConformance, UnknownRepositoriesAndManifestsListNothing) {
  MUST(store().put_manifest(repo("r"), manifest_of(manifest_json("a")), {}, std::string("v1")));
  for (ListingOrder order : kOrders) {
    EXPECT_TRUE(MUST(store().list_tag_page(repo("absent"), {.order = order, .limit = 5})).empty());
    EXPECT_TRUE(
        MUST(store().list_manifest_page(repo("absent"), {.order = order, .limit = 5})).empty());
    EXPECT_TRUE(MUST(store().list_tag_page(repo("r"), {.order = order, .limit = 0})).empty());
  }
  // Another registry's repository of the same name is another repository.
  RegistryId other = NEW_REGISTRY("other");
  EXPECT_TRUE(MUST(store().list_tag_page(repo("r", other), {.limit = 5})).empty());
  EXPECT_FALSE(
      MUST(store().manifest_summary(repo("r"), oci::digest_of("absent"))).has_value());
  EXPECT_EQ(error_of(store().list_tag_page(repo(""), {.limit = 5})), Errc::invalid_argument);
}

}  // namespace
}  // namespace berth::metadata
