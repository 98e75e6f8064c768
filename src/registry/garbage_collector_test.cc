// Online garbage collection through the registry's one content path, on the embedded backends
// (SQLite and the filesystem): what it frees, what it must never free, dry runs, resuming, and
// collection running in a loop while clients push, mount and delete overlapping images.

#include "registry/garbage_collector.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/temp_dir.h"
#include "metadata/sqlite_metadata_store.h"
#include "oci/manifest.h"
#include "oci/media_types.h"
#include "registry/registry.h"
#include "registry/registry_test_support.h"
#include "storage/blob_storage.h"

namespace berth::registry {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using namespace testing_support;

class GarbageCollectorTest : public RegistryBackendsTest {
 protected:
  // A collector whose clock runs `ahead` of the real one (with a one-minute grace period), so
  // that what the test wrote counts as old: ahead = 0 protects everything just written.
  std::unique_ptr<GarbageCollector> collector(std::chrono::seconds ahead = 1h,
                                              std::size_t page_size = 1000) {
    GcOptions options;
    options.grace_period = 60s;
    options.page_size = page_size;
    options.interval = 0s;
    options.clock = [ahead] { return unix_now() + ahead.count(); };
    return std::make_unique<GarbageCollector>(*storage_, *metadata_, *metadata_, options);
  }

  metadata::GcRun collect(GarbageCollector& gc, bool dry_run = false,
                          std::optional<metadata::RegistryId> registry = std::nullopt) {
    auto run = gc.run_now({registry, dry_run, "manual"});
    EXPECT_TRUE(run) << run.error().message;
    if (!run) return {};
    EXPECT_EQ(run->state, "succeeded") << run->error;
    return *run;
  }

  std::mt19937_64 rng_{42};
};

TEST_F(GarbageCollectorTest, FreesWhatADeleteLeftAndKeepsWhatLiveImagesShare) {
  Registry r = registry();
  const std::string shared = random_bytes(rng_, 5000);
  Image kept{"{\"kept\":1}", {shared, random_bytes(rng_, 3000)}};
  Image deleted{"{\"deleted\":1}", {shared, random_bytes(rng_, 7000)}};
  auto kept_digest = push(r, "app", "kept", kept);
  auto deleted_digest = push(r, "app", "deleted", deleted);
  ASSERT_TRUE(kept_digest && deleted_digest);
  ASSERT_TRUE(r.delete_manifest("app", oci::Reference(*deleted_digest)));
  EXPECT_EQ(stored_blobs().size(), 5u);

  auto gc = collector();
  auto run = collect(*gc);
  EXPECT_EQ(run.links_removed, 2u);  // the deleted image's own layer and config
  EXPECT_EQ(run.blobs_deleted, 2u);
  EXPECT_EQ(run.bytes_reclaimed, 7000u + deleted.config.size());
  EXPECT_EQ(run.blobs_examined, 5u);
  EXPECT_EQ(stored_blobs().size(), 3u);
  expect_pulls(r, "app", "kept", *kept_digest, kept);
  EXPECT_EQ(*metadata_->registry_storage_bytes(metadata::kDefaultRegistryId),
            shared.size() + 3000 + kept.config.size());
}

TEST_F(GarbageCollectorTest, NothingWithinTheGracePeriodIsCollected) {
  Registry r = registry();
  // Layers pushed, manifest not yet: a client in the middle of a push.
  ASSERT_TRUE(upload(r, "app", random_bytes(rng_, 100)));
  auto gc = collector(0s);
  auto run = collect(*gc);
  EXPECT_EQ(run.links_removed, 0u);
  EXPECT_EQ(run.blobs_deleted, 0u);
  EXPECT_EQ(stored_blobs().size(), 1u);
  EXPECT_EQ(collect(*collector()).blobs_deleted, 1u);
  EXPECT_TRUE(stored_blobs().empty());
}

TEST_F(GarbageCollectorTest, DeletingEveryRepositoryReturnsTheBlobBytesToZero) {
  Registry r = registry();
  const std::string shared = random_bytes(rng_, 64 * 1024);
  for (int i = 0; i < 6; ++i) {
    Image image{std::string("{\"n\":") + std::to_string(i) + "}",
                {shared, random_bytes(rng_, 10'000 + i)}};
    ASSERT_TRUE(push(r, std::string("repo") + std::to_string(i % 3),
                     std::string("t") + std::to_string(i), image));
  }
  auto gc = collector();
  auto usage = [&] { return *metadata_->registry_storage_bytes(metadata::kDefaultRegistryId); };
  // Usage is computed from the links, and every linked blob is on disk: at each step the
  // recount from storage covers it.
  const std::uint64_t before = stored_bytes();
  EXPECT_EQ(usage(), before);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(r.delete_repository(std::string("repo") + std::to_string(i)));
    collect(*gc);
    EXPECT_EQ(usage(), stored_bytes()) << "after deleting repo" << i;
  }
  EXPECT_EQ(stored_bytes(), 0u);
  EXPECT_TRUE(stored_blobs().empty());
  auto catalog = r.list_repositories("", 100);
  ASSERT_TRUE(catalog);
  EXPECT_TRUE(catalog->items.empty());
}

TEST_F(GarbageCollectorTest, EmptyRepositoriesLeaveTheCatalog) {
  Registry r = registry();
  ASSERT_TRUE(upload(r, "abandoned", random_bytes(rng_, 10)));
  ASSERT_TRUE(push(r, "live", "v1", Image{"{}", {random_bytes(rng_, 10)}}));
  auto run = collect(*collector());
  EXPECT_EQ(run.repositories_removed, 1u);
  auto catalog = r.list_repositories("", 100);
  ASSERT_TRUE(catalog);
  EXPECT_EQ(catalog->items, std::vector<std::string>{"live"});
}

TEST_F(GarbageCollectorTest, ADryRunReportsExactlyWhatTheRealRunRemoves) {
  Registry r = registry();
  for (int i = 0; i < 5; ++i) {
    auto digest = push(
        r, "app", std::string("t") + std::to_string(i),
        Image{std::string("{\"i\":") + std::to_string(i) + "}", {random_bytes(rng_, 100 + i)}});
    ASSERT_TRUE(digest);
    if (i % 2 == 0) {
      ASSERT_TRUE(r.delete_manifest("app", oci::Reference(*digest)));
    }
  }
  ASSERT_TRUE(upload(r, "orphan-repo", "lonely"));
  auto gc = collector();
  const auto files_before = stored_blobs();
  auto dry = collect(*gc, true);
  EXPECT_EQ(stored_blobs(), files_before);
  auto real = collect(*gc);
  EXPECT_GT(real.blobs_deleted, 0u);
  EXPECT_EQ(dry.links_removed, real.links_removed);
  EXPECT_EQ(dry.repositories_removed, real.repositories_removed);
  EXPECT_EQ(dry.blobs_deleted, real.blobs_deleted);
  EXPECT_EQ(dry.bytes_reclaimed, real.bytes_reclaimed);
  EXPECT_EQ(stored_blobs().size(), files_before.size() - real.blobs_deleted);
}

TEST_F(GarbageCollectorTest, BytesWithoutAnyMetadataAreCollectedAsOrphans) {
  // What a crash between an upload's commit and its metadata leaves: bytes and no row.
  const std::string content = "bytes the metadata never heard of";
  ASSERT_TRUE(storage_->put(oci::digest_of(content), bytes_of(content)));
  auto fresh = collect(*collector(0s));
  EXPECT_EQ(fresh.objects_examined, 1u);
  EXPECT_EQ(fresh.blobs_deleted, 0u);  // stored just now: within the grace period
  auto run = collect(*collector());
  EXPECT_EQ(run.blobs_deleted, 1u);
  EXPECT_EQ(run.bytes_reclaimed, content.size());
  EXPECT_TRUE(stored_blobs().empty());
}

TEST_F(GarbageCollectorTest, AStoppedRunResumesWhereItWasAndClaimsLeftBehindAreFinished) {
  Registry r = registry();
  for (int i = 0; i < 30; ++i) {
    ASSERT_TRUE(upload(r, "app", random_bytes(rng_, 50)));
  }
  std::vector<metadata::GcRun> pages;
  {
    auto gc = collector(1h, 7);
    gc->set_page_hook([&](const metadata::GcRun& run) {
      pages.push_back(run);
      if (run.phase == "blobs" && run.blobs_examined >= 14) gc->stop();
    });
    auto run = gc->run_now({std::nullopt, false, "manual"});
    ASSERT_TRUE(run);
    EXPECT_EQ(run->state, "running");  // paused, not finished
    EXPECT_EQ(run->phase, "blobs");
    EXPECT_EQ(run->blobs_examined, 14u);
  }
  EXPECT_EQ(stored_blobs().size(), 16u);
  // A claim the interrupted run could have left (as a kill -9 between claim and removal does).
  auto scanned = metadata_->scan_blobs("", unix_now() + 3600, 1);
  ASSERT_TRUE(scanned);
  ASSERT_EQ(scanned->garbage.size(), 1u);
  ASSERT_EQ(metadata_->claim_blobs(scanned->garbage, unix_now() + 3600)->size(), 1u);

  auto gc = collector(1h, 7);
  gc->start_worker();  // resumes interrupted runs first
  for (int i = 0; i < 500; ++i) {
    auto running = metadata_->running_gc_runs();
    ASSERT_TRUE(running);
    if (running->empty()) break;
    std::this_thread::sleep_for(10ms);
  }
  gc->stop();
  auto runs = gc->list(std::nullopt, 0, 10);
  ASSERT_TRUE(runs);
  ASSERT_EQ(runs->size(), 1u);
  EXPECT_EQ((*runs)[0].state, "succeeded");
  EXPECT_EQ((*runs)[0].blobs_examined, 30u);  // the first 14 are not examined twice
  EXPECT_EQ((*runs)[0].blobs_deleted, 30u);
  EXPECT_TRUE(stored_blobs().empty());
  EXPECT_TRUE(metadata_->claimed_blobs("", 10)->empty());
}

TEST_F(GarbageCollectorTest, OneRunAtATime) {
  auto gc = collector();
  std::atomic<bool> checked{false};
  gc->set_page_hook([&](const metadata::GcRun&) {
    if (checked.exchange(true)) return;
    auto second = gc->run_now({std::nullopt, false, "manual"});
    ASSERT_FALSE(second);
    EXPECT_EQ(second.error().code, GcErrc::already_running);
    EXPECT_FALSE(gc->start({std::nullopt, false, "manual"}));
  });
  Registry r = registry();
  ASSERT_TRUE(upload(r, "app", "x"));
  collect(*gc);
  EXPECT_TRUE(checked);
}

TEST_F(GarbageCollectorTest, AnUploadOfADigestBeingCollectedIsRefusedUntilTheClaimEnds) {
  Registry r = registry();
  const std::string content = random_bytes(rng_, 4096);
  const auto digest = oci::digest_of(content);
  ASSERT_TRUE(upload(r, "app", content));
  ASSERT_TRUE(r.delete_blob("app", digest));
  // The collector has claimed the blob and is about to remove its bytes.
  const std::int64_t cutoff = unix_now() + 3600;
  auto scanned = metadata_->scan_blobs("", cutoff, 10);
  ASSERT_TRUE(scanned);
  ASSERT_EQ(metadata_->claim_blobs(scanned->garbage, cutoff)->size(), 1u);

  // An upload of the same content now is not acknowledged: its bytes may be the ones going away.
  auto refused = upload(r, "app", content);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Errc::busy) << refused.error().message;
  EXPECT_FALSE(r.stat_blob("app", digest));

  ASSERT_TRUE(storage_->remove(digest));
  const oci::Digest gone[] = {digest};
  ASSERT_TRUE(metadata_->forget_blobs(gone));
  // Once the claim has ended, the client's retry stores the content again.
  ASSERT_TRUE(upload(r, "app", content));
  auto opened = r.open_blob("app", digest);
  ASSERT_TRUE(opened) << opened.error().message;
  EXPECT_EQ(opened->info.size, content.size());
  EXPECT_EQ(stored_blobs(), std::set<std::string>{digest.str()});
}

// The acceptance test: collection in a loop while clients push, mount, delete and push again
// overlapping images. Afterwards every acknowledged image pulls with the right digests, and
// once everything is old enough, exactly the blobs live manifests reference are on disk.
TEST_F(GarbageCollectorTest, CollectionInALoopNeverLosesAnAcknowledgedImage) {
  std::vector<std::string> layer_pool;
  for (int i = 0; i < 12; ++i) layer_pool.push_back(random_bytes(rng_, 2048 + i * 512));

  struct Pushed {
    std::string repository;
    std::string tag;
    oci::Digest digest;
    Image image;
  };
  std::mutex mutex;
  std::map<std::string, Pushed> live;  // repository:tag -> what it points at
  std::atomic<bool> done{false};
  std::atomic<int> acknowledged{0};
  std::atomic<int> refused{0};

  // No grace period at all: whatever was touched in an earlier second is fair game, so the
  // collector races the clients' uploads, links and manifests for real (a production grace
  // period makes these races rare; the rules must hold without it).
  GcOptions options;
  options.grace_period = 0s;
  options.page_size = 16;
  options.interval = 0s;
  auto gc = std::make_unique<GarbageCollector>(*storage_, *metadata_, *metadata_, options);
  std::atomic<int> runs{0};
  std::atomic<std::uint64_t> deleted_during_load{0};
  std::thread collector_thread([&] {
    while (!done) {
      auto run = gc->run_now({std::nullopt, false, "manual"});
      ASSERT_TRUE(run) << run.error().message;
      ASSERT_EQ(run->state, "succeeded") << run->error;
      deleted_during_load += run->blobs_deleted;
      ++runs;
    }
  });

  const auto until = std::chrono::steady_clock::now() + 4s;
  auto client = [&](int id) {
    std::mt19937_64 rng(id);
    Registry r = registry();
    for (int i = 0; std::chrono::steady_clock::now() < until; ++i) {
      // Repositories and layers are shared by all clients; each client moves its own tags, so
      // what a tag should point at is known.
      const std::string repository = std::string("repo") + std::to_string(rng() % 3);
      const std::string tag =
          std::string("c") + std::to_string(id) + "-t" + std::to_string(rng() % 4);
      Image image{
          std::string("{\"client\":") + std::to_string(id) + ",\"i\":" + std::to_string(i) + "}",
          {layer_pool[rng() % layer_pool.size()], layer_pool[rng() % layer_pool.size()]}};
      if (image.layers[0] == image.layers[1]) image.layers.pop_back();
      // Sometimes a layer is mounted from another repository instead of uploaded.
      if (rng() % 3 == 0) {
        (void)r.mount_blob(repository, std::string("repo") + std::to_string(rng() % 3),
                           oci::digest_of(image.layers[0]));
      }
      auto digest = push(r, repository, tag, image);
      if (!digest) {
        // Refused pushes are fine (a link swept between a layer and its manifest), as long as
        // the client was told; they are simply not acknowledged.
        ++refused;
        continue;
      }
      ++acknowledged;
      {
        std::lock_guard lock(mutex);
        live.insert_or_assign(repository + ":" + tag, Pushed{repository, tag, *digest, image});
      }
      const auto action = rng() % 5;
      std::lock_guard lock(mutex);
      if (action == 0) {
        // Delete the manifest just pushed, with every tag on it.
        if (r.delete_manifest(repository, oci::Reference(*digest))) {
          std::erase_if(live, [&](const auto& entry) {
            return entry.second.repository == repository && entry.second.digest == *digest;
          });
        }
      } else if (action == 1) {
        if (r.untag(repository, tag)) live.erase(repository + ":" + tag);
      }
    }
  };
  std::vector<std::thread> clients;
  for (int id = 1; id <= 4; ++id) clients.emplace_back(client, id);
  for (auto& c : clients) c.join();
  done = true;
  collector_thread.join();
  EXPECT_GT(runs.load(), 1);
  EXPECT_GT(acknowledged.load(), 20);  // how many a busy machine manages in 4 s varies
  EXPECT_GT(deleted_during_load.load(), 0u) << "the collector never raced the clients";

  Registry r = registry();
  for (const auto& [key, pushed] : live) {
    expect_pulls(r, pushed.repository, pushed.tag, pushed.digest, pushed.image);
  }

  // Untagged manifests are still manifests (retention is another feature): they keep their
  // blobs. Once everything is old, the disk holds exactly what the stored manifests reference.
  collect(*collector());
  std::set<std::string> referenced;
  for (const char* repository : {"repo0", "repo1", "repo2"}) {
    auto manifests = r.manifest_summaries(repository);
    if (!manifests) continue;
    for (const auto& summary : *manifests) {
      auto detail = r.get_manifest(repository, oci::Reference(summary.digest));
      ASSERT_TRUE(detail);
      auto parsed = oci::parse_manifest(detail->content, detail->media_type);
      ASSERT_TRUE(parsed);
      referenced.insert(parsed->config->digest.str());
      for (const auto& layer : parsed->layers) referenced.insert(layer.digest.str());
    }
  }
  EXPECT_EQ(stored_blobs(), referenced);
  std::printf(
      "[ concurrency ] %d pushes acknowledged, %d refused, %d collections removed %llu "
      "blobs during the load\n",
      acknowledged.load(), refused.load(), runs.load(),
      static_cast<unsigned long long>(deleted_during_load.load()));
}

}  // namespace
}  // namespace berth::registry
