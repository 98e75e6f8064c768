// Content lifecycle through the registry's one content path, on the embedded backends: quotas
// at the upload's commit and the manifest's push, soft delete and restore (with garbage
// collection in between), purge (a dry run lists exactly what the real run deletes),
// retention, expiry and purge schedules run by the lifecycle job.

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "registry/garbage_collector.h"
#include "registry/lifecycle_job.h"
#include "registry/purge.h"
#include "registry/registry_services.h"
#include "registry/registry_test_support.h"

namespace berth::registry {
namespace {

using namespace testing_support;
using namespace std::chrono_literals;

constexpr std::int64_t kDay = 24 * 60 * 60;

// "prefix<n>", built by appending: GCC 12 at -O3 reports a false -Wrestrict on
// "literal" + std::to_string(n) (bug 105651).
std::string numbered(std::string_view prefix, int n) {
  std::string text(prefix);
  text += std::to_string(n);
  return text;
}

class LifecycleTest : public RegistryBackendsTest {
 protected:
  metadata::LifecycleStore& lifecycle() { return *metadata_; }

  Image image(std::string_view seed) {
    return Image{std::string("{\"seed\":\"") + std::string(seed) + "\"}",
                 {random_bytes(rng_, 100)}};
  }

  std::vector<std::string> tags_of(Registry& r, std::string_view repository) {
    auto page = r.list_tags(repository, "", 100);
    return page ? page->items : std::vector<std::string>{};
  }

  // A collector whose clock is well past the grace period of everything written.
  void collect() {
    GcOptions options;
    options.grace_period = 60s;
    options.interval = 0s;
    options.clock = [] { return unix_now() + 3600; };
    GarbageCollector gc(*storage_, *metadata_, *metadata_, options);
    auto run = gc.run_now({std::nullopt, false, "manual"});
    ASSERT_TRUE(run) << run.error().message;
    ASSERT_EQ(run->state, "succeeded") << run->error;
  }

  std::unique_ptr<LifecycleJob> job(std::int64_t ahead_seconds) {
    services_ = std::make_unique<RegistryServices>(*storage_, *metadata_, sessions_, nullptr,
                                                   metadata_.get());
    LifecycleJobOptions options;
    options.interval = 0s;
    options.clock = [ahead_seconds] { return unix_now() + ahead_seconds; };
    return std::make_unique<LifecycleJob>(*services_, *metadata_, *metadata_, options);
  }

  std::mt19937_64 rng_{7};
  std::unique_ptr<RegistryServices> services_;
};

TEST_F(LifecycleTest, ARegistryQuotaRefusesTheCommitThatWouldPassIt) {
  Registry r = registry();
  ASSERT_TRUE(lifecycle().set_registry_quota(metadata::kDefaultRegistryId, 250));
  ASSERT_TRUE(upload(r, "app", std::string(100, 'a')));
  ASSERT_TRUE(upload(r, "app", std::string(100, 'b')));
  auto refused = upload(r, "app", std::string(100, 'c'));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Errc::quota_exceeded);
  EXPECT_NE(refused.error().message.find("registry's storage quota is 250 bytes and 200 bytes "
                                         "are used"),
            std::string::npos)
      << refused.error().message;
  EXPECT_FALSE(r.stat_blob("app", oci::digest_of(std::string(100, 'c'))));
  // Content the registry holds already costs nothing: a mount and a re-upload go through.
  EXPECT_TRUE(r.mount_blob("other", "app", oci::digest_of(std::string(100, 'a'))));
  EXPECT_TRUE(upload(r, "other", std::string(100, 'b')));
  // Below the usage, nothing more is pushed, manifests included, until space is freed.
  ASSERT_TRUE(lifecycle().set_registry_quota(metadata::kDefaultRegistryId, 150));
  auto put = r.put_manifest("app", oci::Reference(std::string("v1")),
                            Image{std::string(100, 'a'), {std::string(100, 'b')}}.manifest(),
                            oci::media_type::kOciManifest);
  ASSERT_FALSE(put);
  EXPECT_EQ(put.error().code, Errc::quota_exceeded);
  // With no quota of its own, the registry has its tier's included storage (Standard: 100 GiB).
  ASSERT_TRUE(lifecycle().set_registry_quota(metadata::kDefaultRegistryId, std::nullopt));
  auto limits = storage_limits(&lifecycle(), {metadata::kDefaultRegistryId, "app"});
  ASSERT_TRUE(limits);
  EXPECT_EQ(limits->registry_bytes, 100ull << 30);
  EXPECT_TRUE(r.put_manifest("app", oci::Reference(std::string("v1")),
                             Image{std::string(100, 'a'), {std::string(100, 'b')}}.manifest(),
                             oci::media_type::kOciManifest));
}

TEST_F(LifecycleTest, ARepositoryQuotaLimitsOnlyThatRepository) {
  Registry r = registry();
  ASSERT_TRUE(upload(r, "small", std::string(100, 'a')));
  ASSERT_TRUE(lifecycle().set_repository_quota({metadata::kDefaultRegistryId, "small"}, 150));
  auto refused = upload(r, "small", std::string(100, 'b'));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Errc::quota_exceeded);
  EXPECT_NE(refused.error().message.find("repository's storage quota is 150 bytes"),
            std::string::npos)
      << refused.error().message;
  EXPECT_TRUE(upload(r, "large", std::string(100, 'b')));
}

TEST_F(LifecycleTest, ASoftDeletedRepositoryIsRestoredIdenticallyAfterCollection) {
  ASSERT_TRUE(
      lifecycle().set_soft_delete_policy(metadata::kDefaultRegistryId, true, 7, unix_now()));
  Registry r = registry();
  Image first = image("first");
  Image second = image("second");
  auto first_digest = push(r, "team/app", "v1", first);
  auto second_digest = push(r, "team/app", "v2", second);
  ASSERT_TRUE(first_digest && second_digest);
  ASSERT_TRUE(r.put_manifest("team/app", oci::Reference(std::string("stable")), first.manifest(),
                             oci::media_type::kOciManifest));
  ASSERT_TRUE(r.delete_repository("team/app"));
  collect();  // the links go; the blobs a restore needs stay
  EXPECT_FALSE(r.require_repository("team/app"));
  auto usage = metadata_->soft_deleted_bytes(metadata::kDefaultRegistryId);
  ASSERT_TRUE(usage);
  EXPECT_GT(*usage, 400u);

  auto deleted = r.deleted_manifests("team/app", "", 10);
  ASSERT_TRUE(deleted);
  ASSERT_EQ(deleted->size(), 2u);
  auto restored = r.restore("team/app", oci::Reference(std::string("stable")), false);
  ASSERT_TRUE(restored) << restored.error().message;
  EXPECT_EQ(restored->tags, (std::vector<std::string>{"stable", "v1"}));
  ASSERT_TRUE(r.restore("team/app", oci::Reference(*second_digest), false));
  EXPECT_EQ(tags_of(r, "team/app"), (std::vector<std::string>{"stable", "v1", "v2"}));
  expect_pulls(r, "team/app", "v1", *first_digest, first);
  expect_pulls(r, "team/app", "stable", *first_digest, first);
  expect_pulls(r, "team/app", "v2", *second_digest, second);
  EXPECT_EQ(*metadata_->soft_deleted_bytes(metadata::kDefaultRegistryId), 0u);
  auto nothing = r.restore("team/app", oci::Reference(*second_digest), false);
  ASSERT_FALSE(nothing);
  EXPECT_EQ(nothing.error().code, Errc::manifest_unknown);
}

TEST_F(LifecycleTest, ExpiredContentIsGoneAndCollected) {
  ASSERT_TRUE(
      lifecycle().set_soft_delete_policy(metadata::kDefaultRegistryId, true, 1, unix_now()));
  Registry r = registry();
  Image gone = image("gone");
  auto digest = push(r, "app", "v1", gone);
  ASSERT_TRUE(digest);
  ASSERT_TRUE(r.delete_manifest("app", oci::Reference(*digest)));
  collect();
  EXPECT_EQ(stored_blobs().size(), 2u);  // kept for a restore
  EXPECT_EQ(job(0)->run_once().expired_manifests, 0u);
  auto pass = job(kDay + 60)->run_once();
  EXPECT_EQ(pass.expired_manifests, 1u);
  EXPECT_EQ(pass.expired_tags, 1u);
  EXPECT_TRUE(pass.errors.empty());
  collect();
  EXPECT_TRUE(stored_blobs().empty());
  EXPECT_FALSE(r.restore("app", oci::Reference(*digest), false));
}

TEST_F(LifecycleTest, PurgeDryRunListsExactlyWhatTheRealRunDeletes) {
  Registry r = registry();
  for (const char* repository : {"app", "team/api", "other"}) {
    for (int i = 0; i < 4; ++i) {
      std::string tag = i % 2 == 0 ? numbered("dev-", i) : numbered("v", i);
      ASSERT_TRUE(push(r, repository, tag, image(std::string(repository) + tag)));
    }
  }
  // An image untagged before the purge, and a locked tag.
  auto orphan = push(r, "app", "tmp", image("orphan"));
  ASSERT_TRUE(orphan && r.untag("app", "tmp"));
  ASSERT_TRUE(r.update_tag_attributes("app", "dev-2", {.delete_enabled = false}));

  PurgeRequest request{.filters = {"^(app|team/.*)$:^dev-"}, .ago = 0s, .untagged = true};
  Purge purge(r, lifecycle(), *metadata_);
  const std::int64_t now = unix_now() + 5;
  auto dry = purge.run(request, true, now);
  ASSERT_TRUE(dry) << dry.error().message;
  EXPECT_TRUE(dry->dry_run);
  const std::vector<PurgedTag> expected_tags = {
      {"app", "dev-0", ""}, {"team/api", "dev-0", ""}, {"team/api", "dev-2", ""}};
  ASSERT_EQ(dry->deleted.tags.size(), expected_tags.size());
  for (std::size_t i = 0; i < expected_tags.size(); ++i) {
    EXPECT_EQ(dry->deleted.tags[i].repository, expected_tags[i].repository);
    EXPECT_EQ(dry->deleted.tags[i].tag, expected_tags[i].tag);
  }
  // Their manifests (now untagged) and the orphan go too.
  EXPECT_EQ(dry->deleted.manifests.size(), 4u);
  EXPECT_EQ(tags_of(r, "app").size(), 4u);  // nothing happened

  auto real = purge.run(request, false, now);
  ASSERT_TRUE(real) << real.error().message;
  EXPECT_TRUE(real->failures.empty());
  EXPECT_EQ(real->deleted.tags, dry->deleted.tags);
  EXPECT_EQ(real->deleted.manifests, dry->deleted.manifests);
  EXPECT_EQ(tags_of(r, "app"), (std::vector<std::string>{"dev-2", "v1", "v3"}));
  EXPECT_EQ(tags_of(r, "team/api"), (std::vector<std::string>{"v1", "v3"}));
  EXPECT_EQ(tags_of(r, "other").size(), 4u);
  EXPECT_FALSE(r.get_manifest("app", oci::Reference(*orphan)));
  // Run again: nothing is left to purge.
  auto again = purge.run(request, true, now);
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->deleted.tags.empty());
  EXPECT_TRUE(again->deleted.manifests.empty());
}

TEST_F(LifecycleTest, PurgeKeepsTheLatestAndWhatIsNotOldEnough) {
  Registry r = registry();
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(push(r, "app", numbered("b", i), image(numbered("b", i))));
  }
  Purge purge(r, lifecycle(), *metadata_);
  PurgeRequest keep_two{.filters = {"app:.*"}, .ago = 0s, .keep = 2};
  auto planned = purge.plan(keep_two, unix_now() + 5);
  ASSERT_TRUE(planned);
  EXPECT_EQ(planned->tags.size(), 3u);
  EXPECT_TRUE(planned->manifests.empty());  // without --untagged only tags go
  PurgeRequest old_only{.filters = {"app:.*"}, .ago = std::chrono::seconds(kDay)};
  planned = purge.plan(old_only, unix_now());
  ASSERT_TRUE(planned);
  EXPECT_TRUE(planned->tags.empty());
  planned = purge.plan(old_only, unix_now() + 2 * kDay);
  ASSERT_TRUE(planned);
  EXPECT_EQ(planned->tags.size(), 5u);
}

TEST_F(LifecycleTest, PurgeRejectsBadFiltersAndAges) {
  for (const char* bad : {"app", ":tag", "app:", "app:(", "[:x"}) {
    auto checked = check_purge_request({.filters = {bad}});
    ASSERT_FALSE(checked) << bad;
    EXPECT_EQ(checked.error().code, Errc::unsupported);
  }
  EXPECT_FALSE(check_purge_request({}));
  EXPECT_EQ(parse_purge_age("30d"), std::chrono::seconds(30 * kDay));
  EXPECT_EQ(parse_purge_age("1d12h"), std::chrono::seconds(kDay + 12 * 3600));
  EXPECT_EQ(parse_purge_age("90m"), std::chrono::seconds(90 * 60));
  EXPECT_EQ(parse_purge_age("0"), std::chrono::seconds(0));
  for (const char* bad : {"", "d", "1", "1x", "1h1d", "-1d", "99999999d", "1d1d"}) {
    EXPECT_FALSE(parse_purge_age(bad)) << bad;
  }
  EXPECT_EQ(format_purge_age(std::chrono::seconds(kDay + 12 * 3600)), "1d12h");
}

TEST_F(LifecycleTest, RetentionDeletesUntaggedManifestsThroughSoftDelete) {
  ASSERT_TRUE(
      lifecycle().set_soft_delete_policy(metadata::kDefaultRegistryId, true, 7, unix_now()));
  Registry r = registry();
  auto before = push(r, "app", "old", image("before"));
  ASSERT_TRUE(before && r.untag("app", "old"));
  // Enabled in the next second (untagged_at has second resolution), which the pushes wait for.
  const std::int64_t enabled_at = unix_now() + 1;
  ASSERT_TRUE(lifecycle().set_retention_policy(metadata::kDefaultRegistryId, true, 1, enabled_at));
  while (unix_now() < enabled_at) std::this_thread::sleep_for(50ms);
  auto untagged = push(r, "app", "v1", image("untagged"));
  auto tagged = push(r, "app", "v1", image("tagged"));  // v1 moves: the first is untagged
  ASSERT_TRUE(untagged && tagged);

  EXPECT_EQ(job(0)->run_once().retention_deleted, 0u);  // not a day old yet
  auto pass = job(kDay + 60)->run_once();
  EXPECT_EQ(pass.retention_deleted, 1u);
  EXPECT_TRUE(pass.errors.empty());
  EXPECT_FALSE(r.get_manifest("app", oci::Reference(*untagged)));
  EXPECT_TRUE(r.get_manifest("app", oci::Reference(*tagged)));
  // Untagged before the policy was enabled: left alone.
  EXPECT_TRUE(r.get_manifest("app", oci::Reference(*before)));
  // Soft delete keeps what retention deleted.
  auto deleted = r.deleted_manifests("app", "", 10);
  ASSERT_TRUE(deleted);
  ASSERT_EQ(deleted->size(), 1u);
  EXPECT_EQ(deleted->front().digest, *untagged);
}

TEST_F(LifecycleTest, RetentionDryRunListsExactlyWhatTheRealRunDeletes) {
  Registry r = registry();
  const std::int64_t enabled_at = unix_now() + 1;
  ASSERT_TRUE(lifecycle().set_retention_policy(metadata::kDefaultRegistryId, true, 0, enabled_at));
  while (unix_now() < enabled_at) std::this_thread::sleep_for(50ms);
  std::vector<oci::Digest> untagged;
  for (int i = 0; i < 3; ++i) {
    auto digest = push(r, i < 2 ? "app" : "lib", "v1", image(numbered("image", i)));
    ASSERT_TRUE(digest);
    ASSERT_TRUE(r.untag(i < 2 ? "app" : "lib", "v1"));
    untagged.push_back(*digest);
  }
  ASSERT_TRUE(push(r, "app", "v1", image("tagged")));

  auto dry = apply_retention(r, lifecycle(), unix_now(), true, 2);
  ASSERT_TRUE(dry) << dry.error().message;
  EXPECT_EQ(dry->deleted.manifests.size(), 3u);
  for (const auto& digest : untagged)
    EXPECT_TRUE(r.get_manifest("app", oci::Reference(digest)) ||
                r.get_manifest("lib", oci::Reference(digest)));
  auto real = apply_retention(r, lifecycle(), unix_now(), false, 2);
  ASSERT_TRUE(real) << real.error().message;
  EXPECT_TRUE(real->failures.empty());
  EXPECT_EQ(real->deleted.manifests, dry->deleted.manifests);
  for (const auto& digest : untagged) {
    EXPECT_FALSE(r.get_manifest("app", oci::Reference(digest)));
    EXPECT_FALSE(r.get_manifest("lib", oci::Reference(digest)));
  }
  EXPECT_EQ(tags_of(r, "app"), std::vector<std::string>{"v1"});
}

TEST_F(LifecycleTest, APurgeScheduleRunsOnceWhenDue) {
  Registry r = registry();
  ASSERT_TRUE(push(r, "app", "dev-1", image("dev")));
  ASSERT_TRUE(push(r, "app", "v1", image("release")));
  metadata::PurgeSchedule schedule{.registry = metadata::kDefaultRegistryId,
                                   .name = "hourly",
                                   .schedule = "0 * * * *",
                                   .filters = {"app:^dev-"},
                                   .updated_at = unix_now()};
  ASSERT_TRUE(lifecycle().put_purge_schedule(schedule));
  // The first pass 10 s into an hour two hours ahead, so that the second one, a minute
  // later, stays in that hour whatever the time the test runs at.
  const std::int64_t now = unix_now();
  const std::int64_t first = ((now / 3600) + 2) * 3600 + 10 - now;
  auto pass = job(first)->run_once();
  EXPECT_EQ(pass.purges_run, 1u);
  EXPECT_TRUE(pass.errors.empty());
  EXPECT_EQ(tags_of(r, "app"), std::vector<std::string>{"v1"});
  auto saved = lifecycle().list_purge_schedules(metadata::kDefaultRegistryId);
  ASSERT_TRUE(saved);
  ASSERT_EQ(saved->size(), 1u);
  EXPECT_EQ(saved->front().last_result, "deleted 1 tags and 0 manifests; 0 failed");
  // Due again only an hour after that run.
  EXPECT_EQ(job(first + 60)->run_once().purges_run, 0u);
}

}  // namespace
}  // namespace berth::registry
