// The GcStore conformance suite: every backend runs it (see conformance_test.h). It covers what
// online garbage collection relies on: what counts as garbage (unlinked, unreferenced, untouched
// since the cutoff), the claim that re-checks that rule in its own statement, the writers' side
// (a claimed blob cannot be linked), the per-repository link sweep, and the record
// of runs.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "metadata/conformance_test.h"

namespace berth::metadata {
namespace {

using namespace conformance;

// A cutoff after everything the test wrote: all of it counts as old enough to collect.
std::int64_t after_everything() { return unix_now() + 3600; }
// A cutoff before everything: nothing is old enough.
std::int64_t before_everything() { return unix_now() - 3600; }

oci::Digest blob_digest(std::string_view seed) { return oci::digest_of(std::string(seed)); }

std::vector<std::string> digests_of(const std::vector<GarbageBlob>& blobs) {
  std::vector<std::string> digests;
  for (const auto& blob : blobs) digests.push_back(blob.digest.str());
  std::sort(digests.begin(), digests.end());
  return digests;
}

// A manifest of `repository` referencing `blobs`.
void put_manifest_referencing(MetadataStore& store, RepositoryRef repository,
                              std::string_view seed, const std::vector<oci::Digest>& blobs) {
  std::vector<ManifestReference> references;
  for (const auto& digest : blobs) references.push_back({digest, ReferenceKind::blob});
  must(store.put_manifest(repository, manifest_of(manifest_json(seed)), references, std::nullopt),
       __FILE__, __LINE__);
}

// The garbage a full scan finds with `cutoff`.
std::vector<GarbageBlob> scan_all(GcStore& gc, std::int64_t cutoff, std::size_t page = 1000) {
  std::vector<GarbageBlob> garbage;
  std::string after;
  for (int guard = 0; guard < 10'000; ++guard) {
    auto scanned = gc.scan_blobs(after, cutoff, page);
    if (!scanned) {
      ADD_FAILURE() << scanned.error().message;
      break;
    }
    garbage.insert(garbage.end(), scanned->garbage.begin(), scanned->garbage.end());
    if (scanned->next.empty()) break;
    after = scanned->next;
  }
  return garbage;
}

TEST_P(GcStoreConformance, OnlyUnlinkedUnreferencedBlobsUntouchedSinceTheCutoffAreGarbage) {
  const auto linked = blob_digest("linked");
  const auto unlinked = blob_digest("unlinked");
  const auto referenced = blob_digest("referenced-by-a-manifest");
  MUST(store().link_blob(repo("app"), linked, 10));
  MUST(store().link_blob(repo("app"), unlinked, 20));
  MUST(store().link_blob(repo("app"), referenced, 30));
  put_manifest_referencing(store(), repo("app"), "m", {referenced});
  ASSERT_TRUE(MUST(store().unlink_blob(repo("app"), unlinked)));
  // A client may delete a link by hand; the manifest still names the bytes, so they stay.
  ASSERT_TRUE(MUST(store().unlink_blob(repo("app"), referenced)));

  EXPECT_EQ(digests_of(scan_all(gc(), after_everything())),
            std::vector<std::string>{unlinked.str()});
  // The linked one is garbage but for its one link (what a dry run needs to know).
  auto page = MUST(gc().scan_blobs("", after_everything(), 100));
  ASSERT_EQ(page.linked_only.size(), 1u);
  EXPECT_EQ(page.linked_only[0].blob.digest, linked);
  EXPECT_EQ(page.linked_only[0].links, 1u);
  EXPECT_TRUE(scan_all(gc(), before_everything()).empty());
  auto garbage = scan_all(gc(), after_everything());
  ASSERT_EQ(garbage.size(), 1u);
  EXPECT_EQ(garbage[0].size, 20u);
}

TEST_P(GcStoreConformance, ScanPagesVisitEveryBlobOnce) {
  for (int i = 0; i < 25; ++i) {
    MUST(store().link_blob(repo("app"), blob_digest(numbered("b", i)), 1));
    MUST(store().unlink_blob(repo("app"), blob_digest(numbered("b", i))));
  }
  std::uint64_t examined = 0;
  std::size_t pages = 0;
  std::string after;
  while (true) {
    auto scanned = MUST(gc().scan_blobs(after, after_everything(), 4));
    examined += scanned.examined;
    ++pages;
    if (scanned.next.empty()) break;
    after = scanned.next;
    ASSERT_LT(pages, 20u);
  }
  EXPECT_EQ(examined, 25u);
  EXPECT_EQ(pages, 7u);  // six full pages and the last with one
  EXPECT_EQ(scan_all(gc(), after_everything(), 4).size(), 25u);
}

TEST_P(GcStoreConformance, ClaimRechecksTheRuleInItsOwnTransaction) {
  const auto digest = blob_digest("relinked");
  MUST(store().link_blob(repo("app"), digest, 5));
  MUST(store().unlink_blob(repo("app"), digest));
  auto garbage = scan_all(gc(), after_everything());
  ASSERT_EQ(garbage.size(), 1u);
  // Between the scan and the claim a client links it again: the claim must refuse.
  MUST(store().link_blob(repo("other"), digest, 5));
  EXPECT_TRUE(MUST(gc().claim_blobs(garbage, after_everything())).empty());
  // And a blob touched after the cutoff is not claimed either.
  MUST(store().unlink_blob(repo("other"), digest));
  EXPECT_TRUE(MUST(gc().claim_blobs(garbage, before_everything())).empty());
  EXPECT_EQ(MUST(gc().claim_blobs(garbage, after_everything())).size(), 1u);
  // Claimed once is claimed: a second claim finds nothing to do.
  EXPECT_TRUE(MUST(gc().claim_blobs(garbage, after_everything())).empty());
}

TEST_P(GcStoreConformance, AClaimedBlobCannotBeLinkedUntilForgotten) {
  const auto digest = blob_digest("claimed");
  MUST(store().link_blob(repo("app"), digest, 7));
  MUST(store().unlink_blob(repo("app"), digest));
  auto claimed = MUST(gc().claim_blobs(scan_all(gc(), after_everything()), after_everything()));
  ASSERT_EQ(claimed.size(), 1u);

  EXPECT_EQ(error_of(store().link_blob(repo("app"), digest, 7)), Errc::being_deleted);
  EXPECT_FALSE(MUST(store().linked_blob_size(repo("app"), digest)).has_value());
  // Claimed blobs are not garbage again (the claim owns them) but are listed as claimed.
  EXPECT_TRUE(scan_all(gc(), after_everything()).empty());
  EXPECT_EQ(digests_of(MUST(gc().claimed_blobs("", 10))), std::vector<std::string>{digest.str()});

  const oci::Digest digests[] = {digest};
  MUST(gc().forget_blobs(digests));
  EXPECT_TRUE(MUST(gc().claimed_blobs("", 10)).empty());
  EXPECT_EQ(MUST(gc().blobs_known(digests)), std::vector<bool>{false});
  MUST(store().link_blob(repo("app"), digest, 7));
  EXPECT_EQ(MUST(store().linked_blob_size(repo("app"), digest)), std::optional<std::uint64_t>(7));
}

TEST_P(GcStoreConformance, ForgetLeavesUnclaimedRowsAlone) {
  const auto digest = blob_digest("unclaimed");
  MUST(store().link_blob(repo("app"), digest, 3));
  const oci::Digest digests[] = {digest};
  MUST(gc().forget_blobs(digests));
  EXPECT_EQ(MUST(gc().blobs_known(digests)), std::vector<bool>{true});
  EXPECT_EQ(MUST(store().linked_blob_size(repo("app"), digest)), std::optional<std::uint64_t>(3));
}

TEST_P(GcStoreConformance, LinkingRenewsABlobAgainstTheCutoff) {
  const auto digest = blob_digest("renewed-blob");
  MUST(store().link_blob(repo("app"), digest, 9));
  MUST(store().unlink_blob(repo("app"), digest));
  const std::int64_t cutoff = unix_now() + 1;
  // Uploaded again (its link removed again by hand) after the cutoff was taken: used since.
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));
  MUST(store().link_blob(repo("app"), digest, 9));
  MUST(store().unlink_blob(repo("app"), digest));
  EXPECT_TRUE(scan_all(gc(), cutoff).empty());
  const GarbageBlob candidate{digest, 9};
  EXPECT_TRUE(MUST(gc().claim_blobs(std::span(&candidate, 1), cutoff)).empty());
  EXPECT_EQ(scan_all(gc(), after_everything()).size(), 1u);
}

TEST_P(GcStoreConformance, PutManifestRefusesABlobWhoseLinkWasSweptMeanwhile) {
  const auto digest = blob_digest("layer");
  MUST(store().link_blob(repo("app"), digest, 4));
  // The collector removes the (unreferenced, old) link after the client's checks passed.
  auto swept = MUST(gc().sweep_links(repo("app"), "", after_everything(), 100, false));
  ASSERT_EQ(swept.removed.size(), 1u);
  std::vector<ManifestReference> references{{digest, ReferenceKind::blob}};
  auto put = store().put_manifest(repo("app"), manifest_of(manifest_json("late")), references,
                                  std::string("v1"));
  EXPECT_EQ(error_of(put), Errc::reference_missing);
  EXPECT_FALSE(MUST(store().resolve_tag(repo("app"), "v1")).has_value());
}

TEST_P(GcStoreConformance, SweepLinksRemovesOnlyOldLinksNoManifestOfTheRepositoryReferences) {
  const auto used = blob_digest("used");
  const auto unused = blob_digest("unused");
  MUST(store().link_blob(repo("app"), used, 1));
  MUST(store().link_blob(repo("app"), unused, 2));
  put_manifest_referencing(store(), repo("app"), "m", {used});
  // A manifest of another repository does not keep this repository's link.
  MUST(store().link_blob(repo("other"), unused, 2));
  put_manifest_referencing(store(), repo("other"), "n", {unused});

  auto fresh = MUST(gc().sweep_links(repo("app"), "", before_everything(), 100, false));
  EXPECT_EQ(fresh.examined, 2u);
  EXPECT_TRUE(fresh.removed.empty());

  auto dry = MUST(gc().sweep_links(repo("app"), "", after_everything(), 100, true));
  EXPECT_EQ(digests_of(dry.removed), std::vector<std::string>{unused.str()});
  EXPECT_TRUE(MUST(store().linked_blob_size(repo("app"), unused)).has_value());

  auto real = MUST(gc().sweep_links(repo("app"), "", after_everything(), 100, false));
  EXPECT_EQ(digests_of(real.removed), std::vector<std::string>{unused.str()});
  EXPECT_FALSE(MUST(store().linked_blob_size(repo("app"), unused)).has_value());
  EXPECT_TRUE(MUST(store().linked_blob_size(repo("app"), used)).has_value());
  EXPECT_TRUE(MUST(store().linked_blob_size(repo("other"), unused)).has_value());
}

TEST_P(GcStoreConformance, SweepLinksPagesThroughALargeRepository) {
  for (int i = 0; i < 10; ++i) MUST(store().link_blob(repo("big"), blob_digest(numbered("l", i)), 1));
  std::uint64_t examined = 0;
  std::uint64_t removed = 0;
  std::string after;
  int pages = 0;
  while (true) {
    auto page = MUST(gc().sweep_links(repo("big"), after, after_everything(), 3, false));
    examined += page.examined;
    removed += page.removed.size();
    ++pages;
    if (page.next.empty()) break;
    after = page.next;
    ASSERT_LT(pages, 10);
  }
  EXPECT_EQ(examined, 10u);
  EXPECT_EQ(removed, 10u);
  EXPECT_EQ(pages, 4);
  EXPECT_EQ(MUST(gc().sweep_links(repo("missing"), "", after_everything(), 3, false)).examined,
            0u);
}

TEST_P(GcStoreConformance, RelinkingRenewsALinkAgainstTheSweep) {
  const auto digest = blob_digest("renewed");
  MUST(store().link_blob(repo("app"), digest, 1));
  const std::int64_t cutoff = unix_now() + 1;
  // Pushed again (a retried upload, a mount) after the cutoff was taken: the link is new again.
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));
  MUST(store().link_blob(repo("app"), digest, 1));
  EXPECT_TRUE(MUST(gc().sweep_links(repo("app"), "", cutoff, 10, false)).removed.empty());
}

TEST_P(GcStoreConformance, EmptyRepositoriesAreRemovedOnlyWhenTheyHoldNothing) {
  const auto digest = blob_digest("only-link");
  MUST(store().link_blob(repo("linked"), digest, 1));
  MUST(store().link_blob(repo("manifested"), digest, 1));
  put_manifest_referencing(store(), repo("manifested"), "m", {digest});
  MUST(store().create_upload(UploadRecord{"u-1", kDefaultRegistryId, "uploading", unix_now(), 0}));
  MUST(store().link_blob(repo("emptied"), digest, 1));
  MUST(store().unlink_blob(repo("emptied"), digest));

  EXPECT_FALSE(MUST(gc().remove_empty_repository(repo("linked"), after_everything())));
  EXPECT_FALSE(MUST(gc().remove_empty_repository(repo("manifested"), after_everything())));
  EXPECT_FALSE(MUST(gc().remove_empty_repository(repo("uploading"), after_everything())));
  EXPECT_FALSE(MUST(gc().remove_empty_repository(repo("emptied"), before_everything())));
  // What a dry run asks: the links stand between "linked" and its removal; the others hold more.
  EXPECT_EQ(MUST(gc().removable_repository_links(repo("linked"), after_everything())),
            std::optional<std::uint64_t>(1));
  EXPECT_EQ(MUST(gc().removable_repository_links(repo("emptied"), after_everything())),
            std::optional<std::uint64_t>(0));
  EXPECT_FALSE(MUST(gc().removable_repository_links(repo("manifested"), after_everything())));
  EXPECT_FALSE(MUST(gc().removable_repository_links(repo("uploading"), after_everything())));
  EXPECT_FALSE(MUST(gc().removable_repository_links(repo("emptied"), before_everything())));
  EXPECT_TRUE(MUST(store().repository_exists(repo("emptied"))));
  EXPECT_TRUE(MUST(gc().remove_empty_repository(repo("emptied"), after_everything())));
  EXPECT_FALSE(MUST(store().repository_exists(repo("emptied"))));
  EXPECT_FALSE(MUST(gc().remove_empty_repository(repo("emptied"), after_everything())));
}

TEST_P(GcStoreConformance, GcRepositoriesListsEveryRepositoryOfTheRegistryInPages) {
  const RegistryId other = NEW_REGISTRY("other");
  for (const char* name : {"c", "a", "b"}) MUST(store().link_blob(repo(name), blob_digest(name), 1));
  MUST(store().link_blob(repo("z", other), blob_digest("z"), 1));
  EXPECT_EQ(MUST(gc().gc_repositories(kDefaultRegistryId, "", 2)),
            (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(MUST(gc().gc_repositories(kDefaultRegistryId, "b", 2)),
            std::vector<std::string>{"c"});
  EXPECT_EQ(MUST(gc().gc_repositories(other, "", 10)), std::vector<std::string>{"z"});
}

TEST_P(GcStoreConformance, OrphanClaimsOnlyBytesWithoutARow) {
  const auto known = blob_digest("known");
  const auto orphan = blob_digest("orphan");
  MUST(store().link_blob(repo("app"), known, 1));
  const oci::Digest both[] = {known, orphan};
  EXPECT_EQ(MUST(gc().blobs_known(both)), (std::vector<bool>{true, false}));
  EXPECT_FALSE(MUST(gc().claim_orphan({known, 1})));
  EXPECT_TRUE(MUST(gc().claim_orphan({orphan, 5})));
  // The claim blocks writers until the collector forgets it.
  EXPECT_EQ(error_of(store().link_blob(repo("app"), orphan, 5)), Errc::being_deleted);
  EXPECT_EQ(digests_of(MUST(gc().claimed_blobs("", 10))), std::vector<std::string>{orphan.str()});
  EXPECT_FALSE(MUST(gc().claim_orphan({orphan, 5})));
}

// Pins (task_store.h) keep bytes no manifest references: a pinned digest is never claimed, as
// orphaned bytes or as an unlinked row, until its last pin goes.
TEST_P(GcStoreConformance, APinnedOrphanIsNotClaimedUntilUnpinned) {
  const auto context = blob_digest("uploaded build context");
  MUST(tasks().pin_blob(context, "run:1:1", 1'700'000'000));
  MUST(tasks().pin_blob(context, "task:1:build", 1'700'000'000));
  const oci::Digest digests[] = {context};
  // Known to the metadata (the orphans phase skips it, and a dry run does not count it).
  EXPECT_EQ(MUST(gc().blobs_known(digests)), std::vector<bool>{true});
  EXPECT_FALSE(MUST(gc().claim_orphan({context, 100})));
  EXPECT_TRUE(MUST(gc().claimed_blobs("", 10)).empty());

  EXPECT_EQ(MUST(tasks().unpin_blobs("run:1:1")), 1u);
  EXPECT_FALSE(MUST(gc().claim_orphan({context, 100})));  // one pin is enough
  EXPECT_EQ(MUST(tasks().unpin_blobs("task:1:build")), 1u);
  EXPECT_EQ(MUST(gc().blobs_known(digests)), std::vector<bool>{false});
  EXPECT_TRUE(MUST(gc().claim_orphan({context, 100})));
  EXPECT_EQ(digests_of(MUST(gc().claimed_blobs("", 10))), std::vector<std::string>{context.str()});
}

TEST_P(GcStoreConformance, APinnedUnlinkedBlobIsNotClaimedUntilUnpinned) {
  const auto log = blob_digest("a finished run's log");
  const auto other = blob_digest("unpinned garbage");
  for (const auto& digest : {log, other}) {
    MUST(store().link_blob(repo("app"), digest, 42));
    ASSERT_TRUE(MUST(store().unlink_blob(repo("app"), digest)));
  }
  const std::vector<GarbageBlob> candidates{{log, 42}, {other, 42}};
  MUST(tasks().pin_blob(log, "run:1:7", 1'700'000'000));
  // Not garbage while pinned, and a claim of it (from a scan made before the pin) re-checks.
  EXPECT_EQ(digests_of(scan_all(gc(), after_everything())), std::vector<std::string>{other.str()});
  EXPECT_EQ(digests_of(MUST(gc().claim_blobs(candidates, after_everything()))),
            std::vector<std::string>{other.str()});
  EXPECT_EQ(digests_of(MUST(gc().claimed_blobs("", 10))), std::vector<std::string>{other.str()});
  // Linked again and unlinked while pinned: still not garbage.
  MUST(store().link_blob(repo("app"), log, 42));
  auto page = MUST(gc().scan_blobs("", after_everything(), 100));
  EXPECT_TRUE(page.linked_only.empty());
  ASSERT_TRUE(MUST(store().unlink_blob(repo("app"), log)));

  EXPECT_EQ(MUST(tasks().unpin_blobs("run:1:7")), 1u);
  EXPECT_EQ(digests_of(scan_all(gc(), after_everything())), std::vector<std::string>{log.str()});
  EXPECT_EQ(digests_of(MUST(gc().claim_blobs(candidates, after_everything()))),
            std::vector<std::string>{log.str()});
}

TEST_P(GcStoreConformance, RunsAreRecordedSavedAndListedNewestFirst) {
  const RegistryId other = NEW_REGISTRY("other");
  GcRun run;
  run.started_by = "manual";
  run.state = "running";
  run.phase = "links";
  run.cutoff = 100;
  run.started_at = 200;
  GcRun global = MUST(gc().create_gc_run(run));
  EXPECT_GT(global.id, 0);
  run.registry = other;
  run.dry_run = true;
  GcRun mine = MUST(gc().create_gc_run(run));
  run.registry = kDefaultRegistryId;
  GcRun theirs = MUST(gc().create_gc_run(run));
  EXPECT_LT(global.id, mine.id);

  mine.state = "succeeded";
  mine.phase = "done";
  mine.cursor = "sha256:ab";
  mine.finished_at = 300;
  mine.updated_at = 300;
  mine.links_examined = 1;
  mine.links_removed = 2;
  mine.repositories_removed = 3;
  mine.blobs_examined = 4;
  mine.objects_examined = 8;
  mine.blobs_deleted = 5;
  mine.bytes_reclaimed = 6'000'000'000;
  mine.error = "";
  MUST(gc().save_gc_run(mine));
  GcRun found = MUST(gc().find_gc_run(mine.id)).value_or(GcRun{});
  EXPECT_EQ(found.registry, std::optional<RegistryId>(other));
  EXPECT_TRUE(found.dry_run);
  EXPECT_EQ(found.state, "succeeded");
  EXPECT_EQ(found.phase, "done");
  EXPECT_EQ(found.cursor, "sha256:ab");
  EXPECT_EQ(found.cutoff, 100);
  EXPECT_EQ(found.started_at, 200);
  EXPECT_EQ(found.finished_at, 300);
  EXPECT_EQ(found.links_examined, 1u);
  EXPECT_EQ(found.links_removed, 2u);
  EXPECT_EQ(found.repositories_removed, 3u);
  EXPECT_EQ(found.blobs_examined, 4u);
  EXPECT_EQ(found.objects_examined, 8u);
  EXPECT_EQ(found.blobs_deleted, 5u);
  EXPECT_EQ(found.bytes_reclaimed, 6'000'000'000u);
  EXPECT_FALSE(MUST(gc().find_gc_run(theirs.id + 100)).has_value());

  auto ids = [](const std::vector<GcRun>& runs) {
    std::vector<std::int64_t> out;
    for (const auto& r : runs) out.push_back(r.id);
    return out;
  };
  // A registry sees its own runs and the deployment-wide ones, not another registry's.
  EXPECT_EQ(ids(MUST(gc().list_gc_runs(other, 0, 10))),
            (std::vector<std::int64_t>{mine.id, global.id}));
  EXPECT_EQ(ids(MUST(gc().list_gc_runs(std::nullopt, 0, 10))),
            (std::vector<std::int64_t>{theirs.id, mine.id, global.id}));
  EXPECT_EQ(ids(MUST(gc().list_gc_runs(std::nullopt, theirs.id, 1))),
            std::vector<std::int64_t>{mine.id});
  EXPECT_EQ(ids(MUST(gc().running_gc_runs())), (std::vector<std::int64_t>{global.id, theirs.id}));
}

TEST_P(GcStoreConformance, ClaimsAndRunsSurviveAReopen) {
  const auto digest = blob_digest("claimed-before-crash");
  MUST(store().link_blob(repo("app"), digest, 1));
  MUST(store().unlink_blob(repo("app"), digest));
  ASSERT_EQ(MUST(gc().claim_blobs(scan_all(gc(), after_everything()), after_everything())).size(),
            1u);
  GcRun run;
  run.started_by = "schedule";
  run.state = "running";
  run.phase = "blobs";
  run.cursor = digest.str();
  GcRun created = MUST(gc().create_gc_run(run));
  ASSERT_TRUE(reopen());
  EXPECT_EQ(digests_of(MUST(gc().claimed_blobs("", 10))), std::vector<std::string>{digest.str()});
  auto running = MUST(gc().running_gc_runs());
  ASSERT_EQ(running.size(), 1u);
  EXPECT_EQ(running[0].id, created.id);
  EXPECT_EQ(running[0].cursor, digest.str());
}

}  // namespace
}  // namespace berth::metadata
