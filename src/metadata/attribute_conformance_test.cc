// The MetadataStore conformance suite, continued: changeable attributes (locks) of
// repositories, manifests and tags.

#include <optional>
#include <string>
#include <vector>

#include "metadata/conformance_test.h"

namespace berth::metadata {
namespace {

using namespace conformance;

constexpr ChangeableAttributes kDefaults{};

ChangeableAttributes attributes(bool write, bool del, bool read, bool list) {
  return ChangeableAttributes{
      .write_enabled = write, .delete_enabled = del, .read_enabled = read, .list_enabled = list};
}

TEST_P(MetadataStoreConformance, NewItemsHaveEveryAttributeEnabled) {
  ManifestRecord manifest = manifest_of(manifest_json("a"));
  MUST(store().put_manifest(repo("r"), manifest, {}, std::string("v1")));

  EXPECT_EQ(MUST(store().repository_attributes(repo("r"))), kDefaults);
  std::optional<TagRecord> tag = MUST(store().find_tag(repo("r"), "v1"));
  ASSERT_TRUE(tag.has_value());
  EXPECT_EQ(tag->digest, manifest.digest);
  EXPECT_EQ(tag->attributes, kDefaults);
  EXPECT_EQ(MUST(store().manifest_attributes(repo("r"), manifest.digest)), kDefaults);
  std::optional<ManifestRecord> stored = MUST(store().get_manifest(repo("r"), manifest.digest));
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->attributes, kDefaults);
  EXPECT_EQ(stored->updated_at, 0);
  EXPECT_EQ(MUST(store().repository_summary(repo("r")))->attributes, kDefaults);
}

TEST_P(MetadataStoreConformance, AttributesOfAbsentItemsAreNullopt) {
  ManifestRecord manifest = manifest_of(manifest_json("a"));
  MUST(store().put_manifest(repo("r"), manifest, {}, std::string("v1")));
  EXPECT_FALSE(MUST(store().repository_attributes(repo("absent"))).has_value());
  EXPECT_FALSE(MUST(store().find_tag(repo("r"), "v2")).has_value());
  EXPECT_FALSE(MUST(store().find_tag(repo("absent"), "v1")).has_value());
  EXPECT_FALSE(
      MUST(store().manifest_attributes(repo("r"), oci::digest_of("other"))).has_value());
  // Another registry's repository of the same name is another repository.
  RegistryId other = NEW_REGISTRY("other");
  EXPECT_FALSE(MUST(store().repository_attributes(repo("r", other))).has_value());
  EXPECT_FALSE(MUST(store().find_tag(repo("r", other), "v1")).has_value());

  AttributeChanges lock{.write_enabled = false};
  EXPECT_FALSE(MUST(store().update_repository_attributes(repo("absent"), lock)).has_value());
  EXPECT_FALSE(MUST(store().update_tag_attributes(repo("r"), "v2", lock, 5)).has_value());
  EXPECT_FALSE(MUST(store().update_manifest_attributes(repo("r"), oci::digest_of("other"), lock,
                                                       5))
                   .has_value());
  EXPECT_EQ(error_of(store().repository_attributes(repo(""))), Errc::invalid_argument);
  EXPECT_EQ(error_of(store().find_tag(repo("r"), "")), Errc::invalid_argument);
}

TEST_P(MetadataStoreConformance, RepositoryAttributesChangeOnlyAsGiven) {
  MUST(store().put_manifest(repo("r"), manifest_of(manifest_json("a")), {}, std::nullopt));
  MUST(store().put_manifest(repo("s"), manifest_of(manifest_json("a")), {}, std::nullopt));
  EXPECT_EQ(MUST(store().update_repository_attributes(
                repo("r"), {.write_enabled = false, .list_enabled = false})),
            attributes(false, true, true, false));
  EXPECT_EQ(MUST(store().update_repository_attributes(repo("r"), {.read_enabled = false})),
            attributes(false, true, false, false));
  EXPECT_EQ(MUST(store().update_repository_attributes(
                repo("r"), {.write_enabled = true, .delete_enabled = false})),
            attributes(true, false, false, false));
  EXPECT_EQ(MUST(store().repository_attributes(repo("r"))), attributes(true, false, false, false));
  // Nothing else changed.
  EXPECT_EQ(MUST(store().repository_attributes(repo("s"))), kDefaults);
  ASSERT_TRUE(reopen());
  EXPECT_EQ(MUST(store().repository_attributes(repo("r"))), attributes(true, false, false, false));
}

TEST_P(MetadataStoreConformance, TagAttributesChangeAndBumpUpdatedTime) {
  ManifestRecord manifest = manifest_of(manifest_json("a"));
  MUST(store().put_manifest(repo("r"), manifest, {}, std::string("v1")));
  MUST(store().put_manifest(repo("r"), manifest, {}, std::string("v2")));
  const std::int64_t later = MUST(store().find_tag(repo("r"), "v1"))->updated_at + 1000;

  EXPECT_EQ(MUST(store().update_tag_attributes(repo("r"), "v1",
                                               {.write_enabled = false, .delete_enabled = false},
                                               later)),
            attributes(false, false, true, true));
  std::optional<TagRecord> tag = MUST(store().find_tag(repo("r"), "v1"));
  ASSERT_TRUE(tag.has_value());
  EXPECT_EQ(tag->attributes, attributes(false, false, true, true));
  EXPECT_EQ(tag->updated_at, later);
  EXPECT_LT(tag->created_at, later);
  EXPECT_EQ(MUST(store().find_tag(repo("r"), "v2"))->attributes, kDefaults);
  // The manifest's own attributes are its own.
  EXPECT_EQ(MUST(store().manifest_attributes(repo("r"), manifest.digest)), kDefaults);

  std::vector<TagRecord> records = MUST(store().list_tag_records(repo("r")));
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].attributes, attributes(false, false, true, true));
  EXPECT_EQ(records[1].attributes, kDefaults);
}

TEST_P(MetadataStoreConformance, ManifestAttributesChangeAndBumpUpdatedTime) {
  ManifestRecord manifest = manifest_of(manifest_json("a"));
  MUST(store().put_manifest(repo("r"), manifest, {}, std::string("v1")));
  EXPECT_EQ(MUST(store().update_manifest_attributes(repo("r"), manifest.digest,
                                                    {.read_enabled = false}, 1'800'000'000)),
            attributes(true, true, false, true));
  std::optional<ManifestRecord> stored = MUST(store().get_manifest(repo("r"), manifest.digest));
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->attributes, attributes(true, true, false, true));
  EXPECT_EQ(stored->updated_at, 1'800'000'000);
  EXPECT_EQ(stored->content, manifest.content);
  std::vector<ManifestSummary> summaries = MUST(store().list_manifest_summaries(repo("r")));
  ASSERT_EQ(summaries.size(), 1u);
  EXPECT_EQ(summaries[0].attributes, attributes(true, true, false, true));
  EXPECT_EQ(summaries[0].updated_at, 1'800'000'000);
  EXPECT_EQ(summaries[0].tags, std::vector<std::string>{"v1"});
  // Pushing the same manifest again keeps its attributes.
  MUST(store().put_manifest(repo("r"), manifest, {}, std::string("v2")));
  EXPECT_EQ(MUST(store().manifest_attributes(repo("r"), manifest.digest)),
            attributes(true, true, false, true));
}

TEST_P(MetadataStoreConformance, ClientListingsLeaveOutListDisabledItems) {
  ManifestRecord manifest = manifest_of(manifest_json("a"));
  for (std::string name : {"a", "b", "c"}) {
    MUST(store().put_manifest(repo(name), manifest, {}, std::string("v1")));
  }
  MUST(store().put_manifest(repo("a"), manifest, {}, std::string("v2")));
  MUST(store().put_manifest(repo("a"), manifest, {}, std::string("v3")));
  MUST(store().update_repository_attributes(repo("b"), {.list_enabled = false}));
  MUST(store().update_tag_attributes(repo("a"), "v2", {.list_enabled = false}, 1));

  EXPECT_EQ(MUST(store().list_repositories(kDefaultRegistryId, "", 10)),
            (std::vector<std::string>{"a", "c"}));
  // Keyset paging skips the hidden item without losing a visible one.
  EXPECT_EQ(MUST(store().list_repositories(kDefaultRegistryId, "a", 1)),
            std::vector<std::string>{"c"});
  EXPECT_EQ(MUST(store().list_tags(repo("a"), "", 10)), (std::vector<std::string>{"v1", "v3"}));
  EXPECT_EQ(MUST(store().list_tags(repo("a"), "v1", 1)), std::vector<std::string>{"v3"});
  // The management views keep every item, with its attributes.
  EXPECT_EQ(MUST(store().list_repository_summaries(kDefaultRegistryId)).size(), 3u);
  EXPECT_EQ(MUST(store().list_tag_records(repo("a"))).size(), 3u);
  EXPECT_TRUE(MUST(store().repository_exists(repo("b"))));
}

TEST_P(MetadataStoreConformance, DeleteLocksAreFound) {
  ManifestRecord first = manifest_of(manifest_json("first"));
  ManifestRecord second = manifest_of(manifest_json("second"));
  MUST(store().put_manifest(repo("r"), first, {}, std::string("v1")));
  MUST(store().put_manifest(repo("r"), first, {}, std::string("v2")));
  MUST(store().put_manifest(repo("r"), second, {}, std::string("v3")));
  EXPECT_FALSE(MUST(store().find_delete_lock(repo("r"), std::nullopt)).has_value());
  EXPECT_FALSE(MUST(store().find_delete_lock(repo("r"), first.digest)).has_value());
  EXPECT_FALSE(MUST(store().find_delete_lock(repo("absent"), std::nullopt)).has_value());

  // A tag's lock blocks its manifest's delete, not the other manifest's.
  MUST(store().update_tag_attributes(repo("r"), "v2", {.delete_enabled = false}, 1));
  std::optional<DeleteLock> lock = MUST(store().find_delete_lock(repo("r"), first.digest));
  ASSERT_TRUE(lock.has_value());
  EXPECT_EQ(lock->kind, DeleteLock::Kind::tag);
  EXPECT_EQ(lock->name, "v2");
  EXPECT_FALSE(MUST(store().find_delete_lock(repo("r"), second.digest)).has_value());

  // The manifest's own lock is named before its tags'.
  MUST(store().update_manifest_attributes(repo("r"), first.digest, {.delete_enabled = false}, 1));
  lock = MUST(store().find_delete_lock(repo("r"), first.digest));
  ASSERT_TRUE(lock.has_value());
  EXPECT_EQ(lock->kind, DeleteLock::Kind::manifest);
  EXPECT_EQ(lock->name, first.digest.str());

  // Anything locked in the repository blocks its delete; the repository's own lock first.
  lock = MUST(store().find_delete_lock(repo("r"), std::nullopt));
  ASSERT_TRUE(lock.has_value());
  EXPECT_EQ(lock->kind, DeleteLock::Kind::manifest);
  MUST(store().update_repository_attributes(repo("r"), {.delete_enabled = false}));
  lock = MUST(store().find_delete_lock(repo("r"), std::nullopt));
  ASSERT_TRUE(lock.has_value());
  EXPECT_EQ(lock->kind, DeleteLock::Kind::repository);
  EXPECT_EQ(lock->name, "r");

  // Lifting the locks lifts the block.
  MUST(store().update_repository_attributes(repo("r"), {.delete_enabled = true}));
  MUST(store().update_manifest_attributes(repo("r"), first.digest, {.delete_enabled = true}, 2));
  MUST(store().update_tag_attributes(repo("r"), "v2", {.delete_enabled = true}, 2));
  EXPECT_FALSE(MUST(store().find_delete_lock(repo("r"), std::nullopt)).has_value());
}

}  // namespace
}  // namespace berth::metadata
