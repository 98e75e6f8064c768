// The LifecycleStore conformance suite: every backend runs it (see conformance_test.h). It
// covers soft delete (what the deletes keep when the registry asks, listing, restore, expiry),
// the collector treating soft-deleted manifests' blobs as referenced, retention candidates,
// quotas, and the usage counters staying equal to a recount through every change.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "metadata/conformance_test.h"

namespace berth::metadata {
namespace {

using namespace conformance;

constexpr std::int64_t kDay = 24 * 60 * 60;

oci::Digest blob_digest(std::string_view seed) { return oci::digest_of(std::string(seed)); }

// Links `blobs` (10 bytes each) and stores a manifest referencing them, tagged `tag` when given.
oci::Digest push_image(MetadataStore& store, RepositoryRef repository, std::string_view seed,
                       const std::vector<oci::Digest>& blobs,
                       std::optional<std::string> tag = std::nullopt) {
  std::vector<ManifestReference> references;
  for (const auto& digest : blobs) {
    must(store.link_blob(repository, digest, 10), __FILE__, __LINE__);
    references.push_back({digest, ReferenceKind::blob});
  }
  ManifestRecord manifest = manifest_of(manifest_json(seed));
  must(store.put_manifest(repository, manifest, references, tag), __FILE__, __LINE__);
  return manifest.digest;
}

std::vector<std::string> tag_names(MetadataStore& store, RepositoryRef repository) {
  auto tags = store.list_tags(repository, "", 100);
  return tags ? *tags : std::vector<std::string>{};
}

bool is_garbage(GcStore& gc, const oci::Digest& digest) {
  auto page = gc.scan_blobs("", unix_now() + 3600, 1000);
  if (!page) return false;
  for (const auto& blob : page->garbage) {
    if (blob.digest == digest) return true;
  }
  for (const auto& linked : page->linked_only) {
    if (linked.blob.digest == digest) return true;
  }
  return false;
}

TEST_P(LifecycleStoreConformance, PoliciesStartOffAndKeepWhatIsSet) {
  auto soft = MUST(lifecycle().soft_delete_policy(kDefaultRegistryId));
  EXPECT_FALSE(soft.enabled);
  EXPECT_EQ(soft.days, 7);
  auto retention = MUST(lifecycle().retention_policy(kDefaultRegistryId));
  EXPECT_FALSE(retention.enabled);
  EXPECT_EQ(retention.days, 7);

  soft = MUST(lifecycle().set_soft_delete_policy(kDefaultRegistryId, true, 30, 1000));
  EXPECT_TRUE(soft.enabled);
  EXPECT_EQ(soft.days, 30);
  EXPECT_EQ(soft.updated_at, 1000);
  EXPECT_EQ(error_of(lifecycle().set_soft_delete_policy(kDefaultRegistryId, true, 0, 1)),
            Errc::invalid_argument);
  EXPECT_EQ(error_of(lifecycle().set_soft_delete_policy(kDefaultRegistryId, true, 91, 1)),
            Errc::invalid_argument);
  EXPECT_EQ(error_of(lifecycle().soft_delete_policy(999)), Errc::not_found);

  retention = MUST(lifecycle().set_retention_policy(kDefaultRegistryId, true, 0, 2000));
  EXPECT_EQ(retention.enabled_at, 2000);
  // Changing the window of an enabled policy does not move when it was enabled.
  retention = MUST(lifecycle().set_retention_policy(kDefaultRegistryId, true, 3, 3000));
  EXPECT_EQ(retention.enabled_at, 2000);
  EXPECT_EQ(retention.days, 3);
  EXPECT_EQ(error_of(lifecycle().set_retention_policy(kDefaultRegistryId, true, 366, 1)),
            Errc::invalid_argument);
  EXPECT_EQ(MUST(lifecycle().registries_with_retention()),
            std::vector<RegistryId>{kDefaultRegistryId});

  ASSERT_TRUE(harness().reopen());
  EXPECT_EQ(MUST(lifecycle().soft_delete_policy(kDefaultRegistryId)).days, 30);
  EXPECT_EQ(MUST(lifecycle().retention_policy(kDefaultRegistryId)).days, 3);
}

TEST_P(LifecycleStoreConformance, DeletesKeepNothingWhileSoftDeleteIsOff) {
  auto digest = push_image(store(), repo("app"), "one", {blob_digest("a")}, "v1");
  ASSERT_TRUE(MUST(store().delete_manifest(repo("app"), digest)));
  EXPECT_TRUE(MUST(lifecycle().list_deleted_repositories(kDefaultRegistryId, "", 10)).empty());
  EXPECT_TRUE(MUST(lifecycle().list_deleted_manifests(repo("app"), "", 10)).empty());
  EXPECT_EQ(error_of(lifecycle().restore_manifest(repo("app"), digest, false)), Errc::not_found);
}

TEST_P(LifecycleStoreConformance, ARestoredManifestComesBackWithItsTagsAndContent) {
  MUST(lifecycle().set_soft_delete_policy(kDefaultRegistryId, true, 7, unix_now()));
  const auto layer = blob_digest("layer");
  auto digest = push_image(store(), repo("app"), "one", {layer}, "v1");
  MUST(store().put_manifest(repo("app"), manifest_of(manifest_json("one")), {}, "stable"));
  auto before = MUST(store().get_manifest(repo("app"), digest));
  ASSERT_TRUE(before);

  ASSERT_TRUE(MUST(store().delete_manifest(repo("app"), digest)));
  EXPECT_FALSE(MUST(store().manifest_exists(repo("app"), digest)));
  auto deleted = MUST(lifecycle().list_deleted_manifests(repo("app"), "", 10));
  ASSERT_EQ(deleted.size(), 1u);
  EXPECT_EQ(deleted[0].digest, digest);
  EXPECT_EQ(deleted[0].tags, (std::vector<std::string>{"stable", "v1"}));
  EXPECT_EQ(deleted[0].expires_at - deleted[0].deleted_at, 7 * kDay);
  EXPECT_EQ(deleted[0].size, before->content.size());
  auto tags = MUST(lifecycle().list_deleted_tags(repo("app"), std::nullopt, 10));
  ASSERT_EQ(tags.size(), 2u);
  EXPECT_EQ(tags[0].name, "stable");
  EXPECT_EQ(tags[0].digest, digest);
  // The collector keeps the blobs a restore needs, even once the link is gone.
  ASSERT_TRUE(MUST(store().unlink_blob(repo("app"), layer)));
  EXPECT_FALSE(is_garbage(gc(), layer));

  auto restored = MUST(lifecycle().restore_manifest(repo("app"), digest, false));
  EXPECT_EQ(restored.manifests, std::vector<oci::Digest>{digest});
  EXPECT_EQ(restored.tags, (std::vector<std::string>{"stable", "v1"}));
  auto after = MUST(store().get_manifest(repo("app"), digest));
  ASSERT_TRUE(after);
  EXPECT_EQ(after->content, before->content);
  EXPECT_EQ(after->media_type, before->media_type);
  EXPECT_EQ(after->created_at, before->created_at);
  EXPECT_EQ(tag_names(store(), repo("app")), (std::vector<std::string>{"stable", "v1"}));
  // The link came back with it, and nothing is kept any more.
  EXPECT_TRUE(MUST(store().linked_blob_size(repo("app"), layer)).has_value());
  EXPECT_TRUE(MUST(lifecycle().list_deleted_manifests(repo("app"), "", 10)).empty());
  EXPECT_TRUE(MUST(lifecycle().list_deleted_tags(repo("app"), std::nullopt, 10)).empty());
}

TEST_P(LifecycleStoreConformance, ADeletedRepositoryIsRestorableManifestByManifest) {
  MUST(lifecycle().set_soft_delete_policy(kDefaultRegistryId, true, 7, unix_now()));
  auto first = push_image(store(), repo("team/app"), "one", {blob_digest("a")}, "v1");
  auto second = push_image(store(), repo("team/app"), "two", {blob_digest("b")}, "v2");
  ASSERT_TRUE(MUST(store().delete_repository(repo("team/app"))));
  EXPECT_FALSE(MUST(store().repository_exists(repo("team/app"))));
  EXPECT_EQ(MUST(lifecycle().list_deleted_repositories(kDefaultRegistryId, "", 10)),
            std::vector<std::string>{"team/app"});
  EXPECT_EQ(MUST(lifecycle().list_deleted_manifests(repo("team/app"), "", 10)).size(), 2u);

  MUST(lifecycle().restore_manifest(repo("team/app"), second, false));
  EXPECT_TRUE(MUST(store().repository_exists(repo("team/app"))));
  EXPECT_EQ(tag_names(store(), repo("team/app")), std::vector<std::string>{"v2"});
  MUST(lifecycle().restore_manifest(repo("team/app"), first, false));
  EXPECT_EQ(tag_names(store(), repo("team/app")), (std::vector<std::string>{"v1", "v2"}));
  EXPECT_TRUE(MUST(lifecycle().list_deleted_repositories(kDefaultRegistryId, "", 10)).empty());
}

TEST_P(LifecycleStoreConformance, AnUntaggedTagIsKeptAndComesBackOnItsManifest) {
  MUST(lifecycle().set_soft_delete_policy(kDefaultRegistryId, true, 7, unix_now()));
  auto digest = push_image(store(), repo("app"), "one", {blob_digest("a")}, "v1");
  ASSERT_TRUE(MUST(store().delete_tag(repo("app"), "v1")));
  EXPECT_TRUE(MUST(lifecycle().list_deleted_manifests(repo("app"), "", 10)).empty());
  EXPECT_EQ(MUST(lifecycle().deleted_tag_digest(repo("app"), "v1")), digest);
  auto restored = MUST(lifecycle().restore_manifest(repo("app"), digest, false));
  EXPECT_TRUE(restored.manifests.empty());
  EXPECT_EQ(restored.tags, std::vector<std::string>{"v1"});
  EXPECT_EQ(MUST(store().resolve_tag(repo("app"), "v1")), digest);
}

TEST_P(LifecycleStoreConformance, AnUntaggedTagWhoseNameIsTakenIsReportedNotMissing) {
  MUST(lifecycle().set_soft_delete_policy(kDefaultRegistryId, true, 7, unix_now()));
  auto first = push_image(store(), repo("app"), "first", {blob_digest("a")}, "latest");
  ASSERT_TRUE(MUST(store().delete_tag(repo("app"), "latest")));
  auto second = push_image(store(), repo("app"), "second", {blob_digest("b")}, "latest");
  auto restored = MUST(lifecycle().restore_manifest(repo("app"), first, false));
  EXPECT_TRUE(restored.manifests.empty());
  EXPECT_TRUE(restored.tags.empty());
  EXPECT_EQ(restored.tags_taken, std::vector<std::string>{"latest"});
  EXPECT_EQ(MUST(store().resolve_tag(repo("app"), "latest")), second);
}

TEST_P(LifecycleStoreConformance, ATagInUseIsNotTakenBackUnlessAsked) {
  MUST(lifecycle().set_soft_delete_policy(kDefaultRegistryId, true, 7, unix_now()));
  auto old_digest = push_image(store(), repo("app"), "old", {blob_digest("a")}, "v1");
  ASSERT_TRUE(MUST(store().delete_manifest(repo("app"), old_digest)));
  auto new_digest = push_image(store(), repo("app"), "new", {blob_digest("b")}, "v1");
  auto restored = MUST(lifecycle().restore_manifest(repo("app"), old_digest, false));
  EXPECT_EQ(restored.manifests, std::vector<oci::Digest>{old_digest});
  EXPECT_EQ(restored.tags_taken, std::vector<std::string>{"v1"});
  EXPECT_EQ(MUST(store().resolve_tag(repo("app"), "v1")), new_digest);
  // The kept tag is still there to take back explicitly.
  restored = MUST(lifecycle().restore_manifest(repo("app"), old_digest, true));
  EXPECT_EQ(restored.tags, std::vector<std::string>{"v1"});
  EXPECT_EQ(MUST(store().resolve_tag(repo("app"), "v1")), old_digest);
}

TEST_P(LifecycleStoreConformance, AnIndexIsRestoredWithItsDeletedPlatformManifests) {
  MUST(lifecycle().set_soft_delete_policy(kDefaultRegistryId, true, 7, unix_now()));
  auto child = push_image(store(), repo("app"), "amd64", {blob_digest("a")});
  ManifestRecord index =
      manifest_of(manifest_json("index"), "application/vnd.oci.image.index.v1+json");
  MUST(store().put_manifest(repo("app"), index, {{child, ReferenceKind::manifest}}, "multi"));
  ASSERT_TRUE(MUST(store().delete_repository(repo("app"))));
  auto restored = MUST(lifecycle().restore_manifest(repo("app"), index.digest, false));
  EXPECT_EQ(restored.manifests, (std::vector<oci::Digest>{child, index.digest}));
  EXPECT_TRUE(MUST(store().manifest_exists(repo("app"), child)));
  EXPECT_EQ(MUST(store().resolve_tag(repo("app"), "multi")), index.digest);
}

TEST_P(LifecycleStoreConformance, ExpiredContentIsForgottenAndItsBlobsBecomeGarbage) {
  MUST(lifecycle().set_soft_delete_policy(kDefaultRegistryId, true, 1, unix_now()));
  const auto layer = blob_digest("layer");
  auto digest = push_image(store(), repo("app"), "one", {layer}, "v1");
  ASSERT_TRUE(MUST(store().delete_manifest(repo("app"), digest)));
  ASSERT_TRUE(MUST(store().unlink_blob(repo("app"), layer)));
  EXPECT_FALSE(is_garbage(gc(), layer));
  EXPECT_GT(MUST(lifecycle().soft_deleted_bytes(kDefaultRegistryId)), 10u);

  auto none = MUST(lifecycle().expire_deleted(unix_now(), 100));
  EXPECT_EQ(none.manifests, 0u);
  auto expired = MUST(lifecycle().expire_deleted(unix_now() + kDay + 1, 100));
  EXPECT_EQ(expired.manifests, 1u);
  EXPECT_EQ(expired.tags, 1u);
  EXPECT_TRUE(is_garbage(gc(), layer));
  EXPECT_EQ(MUST(lifecycle().soft_deleted_bytes(kDefaultRegistryId)), 0u);
  EXPECT_EQ(error_of(lifecycle().restore_manifest(repo("app"), digest, false)), Errc::not_found);
}

TEST_P(LifecycleStoreConformance, SoftDeletedBytesCountOnlyWhatNoLinkHolds) {
  MUST(lifecycle().set_soft_delete_policy(kDefaultRegistryId, true, 7, unix_now()));
  const auto shared = blob_digest("shared");
  const auto own = blob_digest("own");
  push_image(store(), repo("keep"), "kept", {shared}, "v1");
  auto digest = push_image(store(), repo("app"), "gone", {shared, own}, "v1");
  ASSERT_TRUE(MUST(store().delete_repository(repo("app"))));
  auto manifest_bytes = manifest_json("gone").size();
  // `shared` is still linked by keep: only `own` and the manifest are held for the deleted one.
  EXPECT_EQ(MUST(lifecycle().soft_deleted_bytes(kDefaultRegistryId)), 10u + manifest_bytes);
  MUST(lifecycle().restore_manifest(repo("app"), digest, false));
  EXPECT_EQ(MUST(lifecycle().soft_deleted_bytes(kDefaultRegistryId)), 0u);
}

TEST_P(LifecycleStoreConformance, RetentionFindsOnlyManifestsUntaggedAfterItWasEnabled) {
  const auto before = push_image(store(), repo("app"), "before", {blob_digest("a")});
  const std::int64_t enabled_at = unix_now() + 1;
  MUST(lifecycle().set_retention_policy(kDefaultRegistryId, true, 0, enabled_at));
  EXPECT_TRUE(
      MUST(lifecycle().retention_candidates(kDefaultRegistryId, enabled_at + 10, std::nullopt, 100))
          .empty());
  // untagged_at has second resolution: wait into the second the policy was enabled.
  while (unix_now() < enabled_at) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  auto untagged = push_image(store(), repo("app"), "untagged", {blob_digest("b")}, "v1");
  push_image(store(), repo("app"), "tagged", {blob_digest("c")}, "v1");  // v1 moves off
  auto locked = push_image(store(), repo("app"), "locked", {blob_digest("d")});
  MUST(store().update_manifest_attributes(repo("app"), locked, {.delete_enabled = false},
                                          unix_now()));
  auto child = push_image(store(), repo("app"), "child", {blob_digest("e")});
  ManifestRecord index =
      manifest_of(manifest_json("index"), "application/vnd.oci.image.index.v1+json");
  MUST(store().put_manifest(repo("app"), index, {{child, ReferenceKind::manifest}}, "multi"));

  auto found =
      MUST(lifecycle().retention_candidates(kDefaultRegistryId, unix_now(), std::nullopt, 100));
  const std::vector<ManifestKey> expected = {{"app", untagged}};
  EXPECT_EQ(found, expected) << before.str();
  // A window of a day: nothing is old enough yet, until a day later.
  MUST(lifecycle().set_retention_policy(kDefaultRegistryId, true, 1, unix_now()));
  EXPECT_TRUE(
      MUST(lifecycle().retention_candidates(kDefaultRegistryId, unix_now(), std::nullopt, 100))
          .empty());
  EXPECT_EQ(MUST(lifecycle().retention_candidates(kDefaultRegistryId, unix_now() + kDay + 1,
                                                  std::nullopt, 100))
                .size(),
            1u);
  // Purge asks whatever the policy, tagged or not: all but the locked one and the child.
  auto disposable = MUST(lifecycle().disposable_manifests(repo("app"), unix_now()));
  EXPECT_EQ(disposable.size(), 4u);
  EXPECT_EQ(std::count(disposable.begin(), disposable.end(), locked), 0);
  EXPECT_EQ(std::count(disposable.begin(), disposable.end(), child), 0);
  EXPECT_TRUE(MUST(lifecycle().disposable_manifests(repo("app"), 0)).empty());
}

TEST_P(LifecycleStoreConformance, ALinkBeyondAQuotaIsRefusedAndNothingIsLinked) {
  MUST(lifecycle().set_registry_quota(kDefaultRegistryId, 25));
  const StorageLimits limits{.registry_bytes = 25};
  MUST(lifecycle().link_blob_within(repo("app"), blob_digest("a"), 10, limits));
  MUST(lifecycle().link_blob_within(repo("app"), blob_digest("b"), 10, limits));
  auto refused = lifecycle().link_blob_within(repo("app"), blob_digest("c"), 10, limits);
  ASSERT_EQ(error_of(refused), Errc::quota_exceeded);
  EXPECT_NE(refused.error().message.find("25"), std::string::npos) << refused.error().message;
  EXPECT_NE(refused.error().message.find("20"), std::string::npos) << refused.error().message;
  EXPECT_FALSE(MUST(store().linked_blob_size(repo("app"), blob_digest("c"))).has_value());
  // A blob the registry holds already adds nothing, even in another repository.
  MUST(lifecycle().link_blob_within(repo("other"), blob_digest("a"), 10, limits));
  auto state = MUST(lifecycle().storage_state(repo("other")));
  EXPECT_EQ(state.registry_bytes, 20u);
  EXPECT_EQ(state.registry_quota, 25u);
  EXPECT_EQ(state.repository_bytes, 10u);

  MUST(lifecycle().set_repository_quota(repo("other"), 15));
  EXPECT_EQ(MUST(lifecycle().storage_state(repo("other"))).repository_quota, 15u);
  EXPECT_EQ(error_of(lifecycle().link_blob_within(repo("other"), blob_digest("b"), 10,
                                                  {.repository_bytes = 15})),
            Errc::quota_exceeded);
  EXPECT_EQ(error_of(lifecycle().set_repository_quota(repo("absent"), 1)), Errc::not_found);
  MUST(lifecycle().set_registry_quota(kDefaultRegistryId, std::nullopt));
  EXPECT_FALSE(MUST(lifecycle().storage_state(repo("app"))).registry_quota.has_value());
}

TEST_P(LifecycleStoreConformance, UsageCountersEqualARecountThroughEveryChange) {
  auto check = [&](const char* step) {
    EXPECT_EQ(MUST(store().registry_storage_bytes(kDefaultRegistryId)),
              MUST(lifecycle().recount_registry_bytes(kDefaultRegistryId)))
        << step;
    for (const char* name : {"a", "b"}) {
      auto summary = MUST(store().repository_summary(repo(name)));
      auto state = MUST(lifecycle().storage_state(repo(name)));
      EXPECT_EQ(state.repository_bytes, summary ? summary->storage_bytes : 0u) << step << name;
    }
  };
  MUST(lifecycle().set_soft_delete_policy(kDefaultRegistryId, true, 7, unix_now()));
  auto shared = blob_digest("shared");
  auto digest = push_image(store(), repo("a"), "one", {shared, blob_digest("a-only")}, "v1");
  check("pushed to a");
  push_image(store(), repo("b"), "two", {shared}, "v1");
  MUST(store().link_blob(repo("b"), shared, 10));  // linking again changes nothing
  check("pushed to b");
  EXPECT_EQ(MUST(store().registry_storage_bytes(kDefaultRegistryId)), 20u);
  ASSERT_TRUE(MUST(store().unlink_blob(repo("b"), shared)));
  check("unlinked from b");
  ASSERT_TRUE(MUST(store().delete_repository(repo("a"))));
  check("deleted a");
  EXPECT_EQ(MUST(store().registry_storage_bytes(kDefaultRegistryId)), 0u);
  MUST(lifecycle().restore_manifest(repo("a"), digest, false));
  check("restored into a");
  EXPECT_EQ(MUST(store().registry_storage_bytes(kDefaultRegistryId)), 20u);
  // A whole registry goes with its counters; another registry's are untouched.
  auto other = MUST(store().create_registry(registry_named("other")));
  push_image(store(), repo("x", other.id), "x", {shared});
  EXPECT_EQ(MUST(store().registry_storage_bytes(other.id)), 10u);
  ASSERT_TRUE(MUST(store().delete_registry(other.id)));
  check("deleted another registry");
  EXPECT_EQ(MUST(store().registry_storage_bytes(kDefaultRegistryId)), 20u);
}

TEST_P(LifecycleStoreConformance, PurgeSchedulesAreKeptPerRegistry) {
  PurgeSchedule schedule{.registry = kDefaultRegistryId,
                         .name = "nightly",
                         .schedule = "0 3 * * *",
                         .filters = {"app:.*", "team/.*:^dev-"},
                         .ago_seconds = 30 * kDay,
                         .untagged = true,
                         .keep = 3,
                         .updated_at = 1000};
  auto saved = MUST(lifecycle().put_purge_schedule(schedule));
  EXPECT_EQ(saved.filters, schedule.filters);
  EXPECT_EQ(saved.created_at, 1000);
  schedule.keep = 5;
  schedule.updated_at = 2000;
  saved = MUST(lifecycle().put_purge_schedule(schedule));
  EXPECT_EQ(saved.keep, 5u);
  EXPECT_EQ(saved.created_at, 1000);
  EXPECT_EQ(saved.updated_at, 2000);
  EXPECT_TRUE(MUST(lifecycle().record_purge_run(kDefaultRegistryId, "nightly", 3000, "ok")));
  ASSERT_TRUE(harness().reopen());
  auto all = MUST(lifecycle().list_purge_schedules(std::nullopt));
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].last_run_at, 3000);
  EXPECT_EQ(all[0].last_result, "ok");
  EXPECT_TRUE(all[0].untagged);
  schedule.registry = 999;
  EXPECT_EQ(error_of(lifecycle().put_purge_schedule(schedule)), Errc::not_found);
  EXPECT_TRUE(MUST(lifecycle().delete_purge_schedule(kDefaultRegistryId, "nightly")));
  EXPECT_FALSE(MUST(lifecycle().delete_purge_schedule(kDefaultRegistryId, "nightly")));
  EXPECT_FALSE(MUST(lifecycle().record_purge_run(kDefaultRegistryId, "nightly", 1, "")));
}

}  // namespace
}  // namespace berth::metadata
