// The MetadataStore and AccessStore conformance suites: every backend must pass them unchanged.
// Only the two interfaces are used here; backends instantiate the suites in their own test file.

#include "metadata/conformance_test.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <limits>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "oci/digest.h"

namespace berth::metadata {
namespace {

using oci::Digest;
using namespace conformance;
constexpr char kImageIndex[] = "application/vnd.oci.image.index.v1+json";

ManifestRecord referrer_of(const Digest& subject, std::string seed, std::string artifact_type) {
  ManifestRecord record = manifest_of(manifest_json(seed + "/" + subject.str()));
  record.artifact_type = std::move(artifact_type);
  record.subject = subject;
  record.annotations_json = R"({"seed":")" + seed + R"("})";
  return record;
}

Digest blob_digest(std::string_view seed) { return oci::digest_of(seed); }

// Calls fn(i) for every i in [0, count) from several threads: fills big fixtures quickly (a
// backend that commits durably pays one flush per write, so serial fills are slow).
template <class Fn>
void parallel_for(int count, Fn fn) {
  constexpr int kThreads = 8;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = t; i < count; i += kThreads) fn(i);
    });
  }
  for (std::thread& thread : threads) thread.join();
}

std::vector<std::string> all_pages_of_repositories(MetadataStore& store, std::size_t page) {
  std::vector<std::string> all;
  std::string last;
  for (;;) {
    std::vector<std::string> names = MUST(store.list_repositories(kDefaultRegistryId, last, page));
    EXPECT_LE(names.size(), page);
    if (names.empty()) return all;
    all.insert(all.end(), names.begin(), names.end());
    last = names.back();
  }
}

std::vector<std::string> all_pages_of_tags(MetadataStore& store, std::string_view repository,
                                           std::size_t page) {
  std::vector<std::string> all;
  std::string last;
  for (;;) {
    std::vector<std::string> names = MUST(store.list_tags(repo(repository), last, page));
    EXPECT_LE(names.size(), page);
    if (names.empty()) return all;
    all.insert(all.end(), names.begin(), names.end());
    last = names.back();
  }
}

// --- repositories ---

TEST_P(MetadataStoreConformance, EmptyStoreHasNoRepositories) {
  EXPECT_FALSE(MUST(store().repository_exists(repo("library/alpine"))));
  EXPECT_TRUE(MUST(store().list_repositories(kDefaultRegistryId, "", 100)).empty());
  EXPECT_TRUE(MUST(store().list_tags(repo("library/alpine"), "", 100)).empty());
}

TEST_P(MetadataStoreConformance, UploadCreatesRepository) {
  MUST(store().create_upload({.id = "u-1", .repository = "team/app", .created_at = 5}));
  EXPECT_TRUE(MUST(store().repository_exists(repo("team/app"))));
  EXPECT_FALSE(MUST(store().repository_exists(repo("team"))));
  EXPECT_EQ(MUST(store().list_repositories(kDefaultRegistryId, "", 10)),
            std::vector<std::string>{"team/app"});
}

TEST_P(MetadataStoreConformance, BlobLinkCreatesRepository) {
  MUST(store().link_blob(repo("team/app"), blob_digest("layer"), 5));
  EXPECT_TRUE(MUST(store().repository_exists(repo("team/app"))));
}

TEST_P(MetadataStoreConformance, ManifestCreatesRepository) {
  MUST(store().put_manifest(repo("team/app"), manifest_of(manifest_json("a")), {}, std::nullopt));
  EXPECT_TRUE(MUST(store().repository_exists(repo("team/app"))));
}

TEST_P(MetadataStoreConformance, RepositoryCreatedOnceThoughUsedManyWays) {
  MUST(store().create_upload({.id = "u-1", .repository = "r"}));
  MUST(store().link_blob(repo("r"), blob_digest("b"), 1));
  MUST(store().put_manifest(repo("r"), manifest_of(manifest_json("m")), {}, std::string("t")));
  EXPECT_EQ(MUST(store().list_repositories(kDefaultRegistryId, "", 10)),
            std::vector<std::string>{"r"});
}

// --- blobs ---

TEST_P(MetadataStoreConformance, LinkBlobIsIdempotent) {
  const Digest digest = blob_digest("layer-1");
  MUST(store().link_blob(repo("r"), digest, 1234));
  MUST(store().link_blob(repo("r"), digest, 1234));
  EXPECT_EQ(MUST(store().linked_blob_size(repo("r"), digest)), std::optional<std::uint64_t>(1234));
}

TEST_P(MetadataStoreConformance, UnlinkBlobReportsWhetherItWasLinked) {
  const Digest digest = blob_digest("layer-1");
  MUST(store().link_blob(repo("r"), digest, 10));
  EXPECT_TRUE(MUST(store().unlink_blob(repo("r"), digest)));
  EXPECT_FALSE(MUST(store().unlink_blob(repo("r"), digest)));
  EXPECT_EQ(MUST(store().linked_blob_size(repo("r"), digest)), std::nullopt);
  EXPECT_FALSE(MUST(store().unlink_blob(repo("never-created"), digest)));

  // Linking again after an unlink works and keeps the known size.
  MUST(store().link_blob(repo("r"), digest, 10));
  EXPECT_EQ(MUST(store().linked_blob_size(repo("r"), digest)), std::optional<std::uint64_t>(10));
}

TEST_P(MetadataStoreConformance, LinkedBlobSizeOfUnknownIsNullopt) {
  EXPECT_EQ(MUST(store().linked_blob_size(repo("nope"), blob_digest("x"))), std::nullopt);
  MUST(store().link_blob(repo("r"), blob_digest("a"), 1));
  EXPECT_EQ(MUST(store().linked_blob_size(repo("r"), blob_digest("x"))), std::nullopt);
}

TEST_P(MetadataStoreConformance, ZeroAndHugeBlobSizesRoundTrip) {
  const std::uint64_t huge = std::uint64_t{1} << 45;  // 32 TiB
  MUST(store().link_blob(repo("r"), blob_digest("empty"), 0));
  MUST(store().link_blob(repo("r"), blob_digest("huge"), huge));
  EXPECT_EQ(MUST(store().linked_blob_size(repo("r"), blob_digest("empty"))),
            std::optional<std::uint64_t>(0));
  EXPECT_EQ(MUST(store().linked_blob_size(repo("r"), blob_digest("huge"))),
            std::optional<std::uint64_t>(huge));
}

TEST_P(MetadataStoreConformance, LinkingKnownBlobWithOtherSizeIsConflict) {
  const Digest digest = blob_digest("layer");
  MUST(store().link_blob(repo("a"), digest, 100));
  EXPECT_EQ(error_of(store().link_blob(repo("b"), digest, 101)), Errc::conflict);
  EXPECT_EQ(MUST(store().linked_blob_size(repo("b"), digest)), std::nullopt);
  // The failed call left nothing behind, not even the repository it would have created.
  EXPECT_FALSE(MUST(store().repository_exists(repo("b"))));
  EXPECT_EQ(MUST(store().linked_blob_size(repo("a"), digest)), std::optional<std::uint64_t>(100));
}

TEST_P(MetadataStoreConformance, BlobLinksArePerRepository) {
  const Digest digest = blob_digest("shared-layer");
  MUST(store().link_blob(repo("a"), digest, 7));
  EXPECT_EQ(MUST(store().linked_blob_size(repo("b"), digest)), std::nullopt);
  MUST(store().link_blob(repo("b"), digest, 7));
  EXPECT_TRUE(MUST(store().unlink_blob(repo("a"), digest)));
  EXPECT_EQ(MUST(store().linked_blob_size(repo("a"), digest)), std::nullopt);
  EXPECT_EQ(MUST(store().linked_blob_size(repo("b"), digest)), std::optional<std::uint64_t>(7));
}

// --- uploads ---

TEST_P(MetadataStoreConformance, UploadLifecycle) {
  MUST(store().create_upload({.id = "8d3c", .repository = "team/app", .created_at = 1234}));
  std::optional<UploadRecord> upload = MUST(store().get_upload("8d3c"));
  ASSERT_TRUE(upload.has_value());
  EXPECT_EQ(upload->id, "8d3c");
  EXPECT_EQ(upload->repository, "team/app");
  EXPECT_EQ(upload->created_at, 1234);

  EXPECT_EQ(MUST(store().get_upload("other")), std::nullopt);
  MUST(store().delete_upload("8d3c"));
  EXPECT_EQ(MUST(store().get_upload("8d3c")), std::nullopt);
  MUST(store().delete_upload("8d3c"));  // idempotent
  MUST(store().delete_upload("never-existed"));
  // The repository outlives its uploads.
  EXPECT_TRUE(MUST(store().repository_exists(repo("team/app"))));
}

TEST_P(MetadataStoreConformance, UploadWithoutTimestampGetsCurrentTime) {
  MUST(store().create_upload({.id = "u", .repository = "r"}));
  std::optional<UploadRecord> upload = MUST(store().get_upload("u"));
  ASSERT_TRUE(upload.has_value());
  EXPECT_GT(upload->created_at, 1'600'000'000);
}

TEST_P(MetadataStoreConformance, DuplicateUploadIdIsConflict) {
  MUST(store().create_upload({.id = "same", .repository = "a"}));
  EXPECT_EQ(error_of(store().create_upload({.id = "same", .repository = "b"})), Errc::conflict);
  EXPECT_FALSE(MUST(store().repository_exists(repo("b"))));
  std::optional<UploadRecord> upload = MUST(store().get_upload("same"));
  ASSERT_TRUE(upload.has_value());
  EXPECT_EQ(upload->repository, "a");
}

TEST_P(MetadataStoreConformance, UploadActivityIsRecordedAndIdleSessionsListed) {
  MUST(store().create_upload({.id = "old", .repository = "r", .created_at = 100}));
  MUST(store().create_upload({.id = "older", .repository = "r", .created_at = 50}));
  MUST(store().create_upload({.id = "busy", .repository = "r", .created_at = 100}));
  EXPECT_EQ(MUST(store().get_upload("old"))->updated_at, 100);
  MUST(store().touch_upload("busy", 500));
  MUST(store().touch_upload("never-existed", 500));
  EXPECT_EQ(MUST(store().get_upload("busy"))->updated_at, 500);

  auto idle = MUST(store().list_idle_uploads(200, 10));
  ASSERT_EQ(idle.size(), 2u);
  EXPECT_EQ(idle[0].id, "older");
  EXPECT_EQ(idle[1].id, "old");
  EXPECT_EQ(idle[1].repository, "r");
  EXPECT_EQ(idle[1].registry, kDefaultRegistryId);
  EXPECT_EQ(MUST(store().list_idle_uploads(200, 1)).size(), 1u);
  EXPECT_TRUE(MUST(store().list_idle_uploads(50, 10)).empty());
  EXPECT_EQ(MUST(store().list_idle_uploads(501, 10)).size(), 3u);
}

TEST_P(MetadataStoreConformance, OpenUploadsAreBoundedPerRegistry) {
  RegistryId other = NEW_REGISTRY("otherreg");
  MUST(store().create_upload_within_limit({.id = "a1", .repository = "x"}, 2));
  MUST(store().create_upload_within_limit({.id = "a2", .repository = "y"}, 2));
  EXPECT_EQ(error_of(store().create_upload_within_limit({.id = "a3", .repository = "z"}, 2)),
            Errc::limit_reached);
  EXPECT_EQ(MUST(store().get_upload("a3")), std::nullopt);
  EXPECT_FALSE(MUST(store().repository_exists(repo("z"))));
  // Another registry counts its own sessions.
  MUST(store().create_upload_within_limit({.id = "b1", .registry = other, .repository = "x"}, 2));
  MUST(store().delete_upload("a1"));
  MUST(store().create_upload_within_limit({.id = "a3", .repository = "z"}, 2));
}

// --- manifests ---

TEST_P(MetadataStoreConformance, ManifestRoundTripsEveryField) {
  const Digest subject = oci::digest_of(manifest_json("subject"));
  ManifestRecord record = manifest_of(manifest_json("full"));
  record.artifact_type = "application/vnd.example.sbom";
  record.subject = subject;
  record.annotations_json = R"({"org.opencontainers.image.created":"2024-01-01T00:00:00Z"})";
  record.created_at = 1'234'567'890;
  MUST(store().put_manifest(repo("r"), record, {}, std::nullopt));

  std::optional<ManifestRecord> got = MUST(store().get_manifest(repo("r"), record.digest));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->digest, record.digest);
  EXPECT_EQ(got->media_type, record.media_type);
  EXPECT_EQ(got->artifact_type, record.artifact_type);
  EXPECT_EQ(got->subject, record.subject);
  EXPECT_EQ(got->annotations_json, record.annotations_json);
  EXPECT_EQ(got->content, record.content);
  EXPECT_EQ(got->created_at, record.created_at);
  EXPECT_TRUE(MUST(store().manifest_exists(repo("r"), record.digest)));
  EXPECT_EQ(MUST(store().manifest_size(repo("r"), record.digest)), record.content.size());
  // Sizes are per repository, like the manifests.
  EXPECT_EQ(MUST(store().manifest_size(repo("other"), record.digest)), std::nullopt);
}

TEST_P(MetadataStoreConformance, ManifestWithEmptyOptionalFields) {
  ManifestRecord record = manifest_of(manifest_json("plain"), kImageIndex);
  MUST(store().put_manifest(repo("r"), record, {}, std::nullopt));
  std::optional<ManifestRecord> got = MUST(store().get_manifest(repo("r"), record.digest));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->media_type, kImageIndex);
  EXPECT_EQ(got->artifact_type, "");
  EXPECT_EQ(got->subject, std::nullopt);
  EXPECT_EQ(got->annotations_json, "");
}

TEST_P(MetadataStoreConformance, ManifestContentIsByteExact) {
  // Every byte value, NULs and invalid UTF-8 included.
  std::string content;
  for (int round = 0; round < 4; ++round) {
    for (int byte = 0; byte < 256; ++byte) content.push_back(static_cast<char>(byte));
  }
  content += "\xff\xfe\x00\xc3\x28 trailing";
  content.push_back('\0');
  ManifestRecord record = manifest_of(content);
  MUST(store().put_manifest(repo("r"), record, {}, std::string("bin")));
  std::optional<ManifestRecord> got = MUST(store().get_manifest(repo("r"), record.digest));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->content.size(), content.size());
  EXPECT_TRUE(got->content == content);
}

TEST_P(MetadataStoreConformance, LargeManifestContent) {
  std::string content(4 * 1024 * 1024, '\0');
  std::mt19937_64 random(42);
  for (char& c : content) c = static_cast<char>(random());
  ManifestRecord record = manifest_of(content);
  MUST(store().put_manifest(repo("r"), record, {}, std::string("big")));
  std::optional<ManifestRecord> got = MUST(store().get_manifest(repo("r"), record.digest));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->content.size(), content.size());
  EXPECT_TRUE(got->content == content);
  EXPECT_EQ(MUST(store().resolve_tag(repo("r"), "big")), std::optional<Digest>(record.digest));
}

TEST_P(MetadataStoreConformance, EmptyManifestContentRoundTrips) {
  ManifestRecord record = manifest_of("");
  MUST(store().put_manifest(repo("r"), record, {}, std::nullopt));
  std::optional<ManifestRecord> got = MUST(store().get_manifest(repo("r"), record.digest));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->content, "");
}

TEST_P(MetadataStoreConformance, UnknownManifestIsAbsent) {
  const Digest digest = oci::digest_of("nothing");
  EXPECT_EQ(MUST(store().get_manifest(repo("r"), digest)), std::nullopt);
  EXPECT_FALSE(MUST(store().manifest_exists(repo("r"), digest)));
  EXPECT_EQ(MUST(store().manifest_size(repo("r"), digest)), std::nullopt);
  EXPECT_EQ(MUST(store().resolve_tag(repo("r"), "latest")), std::nullopt);
  EXPECT_FALSE(MUST(store().delete_manifest(repo("r"), digest)));
  EXPECT_FALSE(MUST(store().delete_tag(repo("r"), "latest")));
}

TEST_P(MetadataStoreConformance, PuttingSameDigestAgainIsNoOpButTags) {
  ManifestRecord first = manifest_of(manifest_json("same"));
  first.created_at = 1000;
  first.annotations_json = R"({"first":"yes"})";
  MUST(store().link_blob(repo("r"), blob_digest("l1"), 1));
  MUST(store().put_manifest(repo("r"), first, {{blob_digest("l1"), ReferenceKind::blob}},
                            std::string("v1")));

  ManifestRecord again = first;
  again.created_at = 2000;
  again.annotations_json = R"({"first":"no"})";
  MUST(store().put_manifest(repo("r"), again, {{blob_digest("l1"), ReferenceKind::blob}},
                            std::string("v2")));

  std::optional<ManifestRecord> got = MUST(store().get_manifest(repo("r"), first.digest));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->created_at, 1000);
  EXPECT_EQ(got->annotations_json, first.annotations_json);
  EXPECT_EQ(MUST(store().resolve_tag(repo("r"), "v1")), std::optional<Digest>(first.digest));
  EXPECT_EQ(MUST(store().resolve_tag(repo("r"), "v2")), std::optional<Digest>(first.digest));
  EXPECT_EQ(MUST(store().list_tags(repo("r"), "", 10)), (std::vector<std::string>{"v1", "v2"}));
}

TEST_P(MetadataStoreConformance, ReferencesMayRepeatAndMixKinds) {
  const Digest layer = blob_digest("layer");
  const Digest child = oci::digest_of(manifest_json("child"));
  ManifestRecord index = manifest_of(manifest_json("index"), kImageIndex);
  MUST(store().link_blob(repo("r"), layer, 1));
  std::vector<ManifestReference> references = {
      {layer, ReferenceKind::blob},
      {layer, ReferenceKind::blob},  // the same layer twice in one image is legal
      {child, ReferenceKind::manifest},
      {layer, ReferenceKind::manifest},
  };
  MUST(store().put_manifest(repo("r"), index, references, std::string("idx")));
  EXPECT_TRUE(MUST(store().manifest_exists(repo("r"), index.digest)));
}

TEST_P(MetadataStoreConformance, AManifestNeedsItsBlobsLinkedInTheRepository) {
  const Digest layer = blob_digest("unlinked-layer");
  ManifestRecord image = manifest_of(manifest_json("needs-layer"));
  EXPECT_EQ(error_of(store().put_manifest(repo("r"), image, {{layer, ReferenceKind::blob}},
                                          std::string("v1"))),
            Errc::reference_missing);
  EXPECT_FALSE(MUST(store().manifest_exists(repo("r"), image.digest)));
  // Linked in another repository is not enough.
  MUST(store().link_blob(repo("other"), layer, 1));
  EXPECT_EQ(error_of(store().put_manifest(repo("r"), image, {{layer, ReferenceKind::blob}},
                                          std::nullopt)),
            Errc::reference_missing);
  MUST(store().link_blob(repo("r"), layer, 1));
  MUST(store().put_manifest(repo("r"), image, {{layer, ReferenceKind::blob}}, std::string("v1")));
  EXPECT_EQ(MUST(store().resolve_tag(repo("r"), "v1")), std::optional<Digest>(image.digest));
}

// --- tags ---

TEST_P(MetadataStoreConformance, TagMovesToNewManifest) {
  ManifestRecord old_image = manifest_of(manifest_json("old"));
  ManifestRecord new_image = manifest_of(manifest_json("new"));
  MUST(store().put_manifest(repo("r"), old_image, {}, std::string("latest")));
  EXPECT_EQ(MUST(store().resolve_tag(repo("r"), "latest")),
            std::optional<Digest>(old_image.digest));

  MUST(store().put_manifest(repo("r"), new_image, {}, std::string("latest")));
  EXPECT_EQ(MUST(store().resolve_tag(repo("r"), "latest")),
            std::optional<Digest>(new_image.digest));
  // The previous manifest stays, untagged.
  EXPECT_TRUE(MUST(store().manifest_exists(repo("r"), old_image.digest)));
  EXPECT_EQ(MUST(store().list_tags(repo("r"), "", 10)), std::vector<std::string>{"latest"});

  // And the tag can move back by pushing the old manifest again.
  MUST(store().put_manifest(repo("r"), old_image, {}, std::string("latest")));
  EXPECT_EQ(MUST(store().resolve_tag(repo("r"), "latest")),
            std::optional<Digest>(old_image.digest));
}

TEST_P(MetadataStoreConformance, DeleteTagKeepsManifest) {
  ManifestRecord image = manifest_of(manifest_json("img"));
  MUST(store().put_manifest(repo("r"), image, {}, std::string("a")));
  MUST(store().put_manifest(repo("r"), image, {}, std::string("b")));
  EXPECT_TRUE(MUST(store().delete_tag(repo("r"), "a")));
  EXPECT_FALSE(MUST(store().delete_tag(repo("r"), "a")));
  EXPECT_EQ(MUST(store().resolve_tag(repo("r"), "a")), std::nullopt);
  EXPECT_EQ(MUST(store().resolve_tag(repo("r"), "b")), std::optional<Digest>(image.digest));
  EXPECT_TRUE(MUST(store().manifest_exists(repo("r"), image.digest)));
}

TEST_P(MetadataStoreConformance, DeleteManifestTakesItsTags) {
  ManifestRecord doomed = manifest_of(manifest_json("doomed"));
  ManifestRecord kept = manifest_of(manifest_json("kept"));
  MUST(store().link_blob(repo("r"), blob_digest("l"), 1));
  MUST(store().put_manifest(repo("r"), doomed, {{blob_digest("l"), ReferenceKind::blob}},
                            std::string("one")));
  MUST(store().put_manifest(repo("r"), doomed, {}, std::string("two")));
  MUST(store().put_manifest(repo("r"), kept, {}, std::string("three")));

  EXPECT_TRUE(MUST(store().delete_manifest(repo("r"), doomed.digest)));
  EXPECT_FALSE(MUST(store().manifest_exists(repo("r"), doomed.digest)));
  EXPECT_EQ(MUST(store().get_manifest(repo("r"), doomed.digest)), std::nullopt);
  EXPECT_EQ(MUST(store().resolve_tag(repo("r"), "one")), std::nullopt);
  EXPECT_EQ(MUST(store().resolve_tag(repo("r"), "two")), std::nullopt);
  EXPECT_EQ(MUST(store().resolve_tag(repo("r"), "three")), std::optional<Digest>(kept.digest));
  EXPECT_EQ(MUST(store().list_tags(repo("r"), "", 10)), std::vector<std::string>{"three"});
  EXPECT_FALSE(MUST(store().delete_manifest(repo("r"), doomed.digest)));

  // Pushing it again stores it afresh, references included.
  MUST(store().put_manifest(repo("r"), doomed, {{blob_digest("l"), ReferenceKind::blob}},
                            std::string("one")));
  EXPECT_EQ(MUST(store().resolve_tag(repo("r"), "one")), std::optional<Digest>(doomed.digest));
}

TEST_P(MetadataStoreConformance, TagsListInByteOrder) {
  std::vector<std::string> tags = {
      "latest", "Latest", "v1.10", "v1.9", "v1.0",     "1.0",           "0", "_x", "Z", "a", "A",
      "a-b",    "a.b",    "a_b",   "v1",   "v1.0-rc1", "sha256-abc.sig"};
  ManifestRecord image = manifest_of(manifest_json("img"));
  for (const std::string& tag : tags) MUST(store().put_manifest(repo("r"), image, {}, tag));
  std::sort(tags.begin(), tags.end());
  EXPECT_EQ(MUST(store().list_tags(repo("r"), "", 1000)), tags);
  EXPECT_EQ(all_pages_of_tags(store(), "r", 1), tags);
  EXPECT_EQ(all_pages_of_tags(store(), "r", 4), tags);
}

TEST_P(MetadataStoreConformance, TagPaginationBoundaries) {
  std::vector<std::string> tags;
  for (int i = 0; i < 1100; ++i) tags.push_back(numbered("t", i));
  ManifestRecord image = manifest_of(manifest_json("img"));
  parallel_for(static_cast<int>(tags.size()), [&](int i) {
    MUST(store().put_manifest(repo("r"), image, {}, tags[static_cast<std::size_t>(i)]));
  });
  std::sort(tags.begin(), tags.end());

  EXPECT_EQ(all_pages_of_tags(store(), "r", 100), tags);
  EXPECT_EQ(all_pages_of_tags(store(), "r", 1000), tags);
  EXPECT_EQ(MUST(store().list_tags(repo("r"), "", 5000)), tags);
  EXPECT_EQ(MUST(store().list_tags(repo("r"), "", 1000)).size(), 1000u);
  EXPECT_TRUE(MUST(store().list_tags(repo("r"), "", 0)).empty());
  EXPECT_TRUE(MUST(store().list_tags(repo("r"), tags.back(), 10)).empty());
  EXPECT_TRUE(MUST(store().list_tags(repo("r"), "zzz", 10)).empty());
  // `last` need not be an existing tag: the listing continues after where it would sort.
  EXPECT_EQ(MUST(store().list_tags(repo("r"), "t10", 2)),
            (std::vector<std::string>{"t100", "t1000"}));
  EXPECT_EQ(MUST(store().list_tags(repo("r"), "t1000", 2)),
            (std::vector<std::string>{"t1001", "t1002"}));
  EXPECT_EQ(MUST(store().list_tags(repo("r"), "s", 1)), std::vector<std::string>{tags.front()});
  EXPECT_EQ(MUST(store().list_tags(repo("r"), "", std::size_t(-1))).size(), tags.size());
}

TEST_P(MetadataStoreConformance, CatalogPagination) {
  std::vector<std::string> names = {"a",  "a-b",   "a.b", "a/b",    "a_b",
                                    "a0", "a/b/c", "ab",  "z/last", "library/alpine"};
  for (int i = 0; i < 1200; ++i) names.push_back("bulk/repo-" + std::to_string(i));
  parallel_for(static_cast<int>(names.size()), [&](int i) {
    // Create the repositories through all three paths that create them.
    const std::string& name = names[static_cast<std::size_t>(i)];
    if (i % 3 == 0) {
      MUST(store().link_blob(repo(name), blob_digest("l"), 1));
    } else if (i % 3 == 1) {
      MUST(store().create_upload({.id = "upload-" + std::to_string(i), .repository = name}));
    } else {
      MUST(store().put_manifest(repo(name), manifest_of(manifest_json("m")), {}, std::nullopt));
    }
  });
  std::sort(names.begin(), names.end());

  EXPECT_EQ(all_pages_of_repositories(store(), 100), names);
  EXPECT_EQ(all_pages_of_repositories(store(), 1), std::vector<std::string>(names));
  EXPECT_EQ(all_pages_of_repositories(store(), 1000), names);
  EXPECT_EQ(MUST(store().list_repositories(kDefaultRegistryId, "", 100000)), names);
  EXPECT_TRUE(MUST(store().list_repositories(kDefaultRegistryId, "", 0)).empty());
  EXPECT_TRUE(MUST(store().list_repositories(kDefaultRegistryId, names.back(), 5)).empty());
  EXPECT_TRUE(MUST(store().list_repositories(kDefaultRegistryId, "zzzz", 5)).empty());
  EXPECT_EQ(MUST(store().list_repositories(kDefaultRegistryId, "a", 4)),
            (std::vector<std::string>{"a-b", "a.b", "a/b", "a/b/c"}));
  EXPECT_EQ(MUST(store().list_repositories(kDefaultRegistryId, "a/b/c", 2)),
            (std::vector<std::string>{"a0", "a_b"}));
}

// --- referrers ---

TEST_P(MetadataStoreConformance, ReferrersOfSubject) {
  ManifestRecord image = manifest_of(manifest_json("image"));
  MUST(store().put_manifest(repo("r"), image, {}, std::string("v1")));
  const Digest other_subject = oci::digest_of(manifest_json("other"));

  std::vector<ManifestRecord> sboms = {referrer_of(image.digest, "sbom-1", "application/sbom"),
                                       referrer_of(image.digest, "sbom-2", "application/sbom")};
  ManifestRecord signature = referrer_of(image.digest, "sig", "application/signature");
  for (const ManifestRecord& record : sboms) MUST(store().put_manifest(repo("r"), record, {}, {}));
  MUST(store().put_manifest(repo("r"), signature, {}, std::nullopt));
  // Same subject in another repository, and another subject here: neither listed.
  MUST(store().put_manifest(repo("elsewhere"), referrer_of(image.digest, "x", "application/sbom"),
                            {}, std::nullopt));
  MUST(store().put_manifest(repo("r"), referrer_of(other_subject, "y", "application/sbom"), {},
                            std::nullopt));

  std::vector<ManifestRecord> everything = sboms;
  everything.push_back(signature);
  auto by_digest = [](const ManifestRecord& a, const ManifestRecord& b) {
    return a.digest < b.digest;
  };
  std::sort(everything.begin(), everything.end(), by_digest);
  std::sort(sboms.begin(), sboms.end(), by_digest);

  std::vector<Referrer> all = MUST(store().list_referrers(repo("r"), image.digest, std::nullopt));
  ASSERT_EQ(all.size(), everything.size());
  for (std::size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].digest, everything[i].digest);
    EXPECT_EQ(all[i].media_type, everything[i].media_type);
    EXPECT_EQ(all[i].artifact_type, everything[i].artifact_type);
    EXPECT_EQ(all[i].size, everything[i].content.size());
    EXPECT_EQ(all[i].annotations_json, everything[i].annotations_json);
  }

  std::vector<Referrer> filtered =
      MUST(store().list_referrers(repo("r"), image.digest, std::string("application/sbom")));
  ASSERT_EQ(filtered.size(), sboms.size());
  for (std::size_t i = 0; i < filtered.size(); ++i) {
    EXPECT_EQ(filtered[i].digest, sboms[i].digest);
  }

  EXPECT_TRUE(MUST(store().list_referrers(repo("r"), image.digest, std::string("application/none")))
                  .empty());
  EXPECT_TRUE(MUST(store().list_referrers(repo("nope"), image.digest, std::nullopt)).empty());
  EXPECT_TRUE(MUST(store().list_referrers(repo("r"), oci::digest_of("no referrers"), std::nullopt))
                  .empty());
}

TEST_P(MetadataStoreConformance, ReferrersMayPrecedeTheirSubject) {
  const Digest subject = oci::digest_of(manifest_json("not pushed yet"));
  ManifestRecord sig = referrer_of(subject, "sig", "application/signature");
  MUST(store().put_manifest(repo("r"), sig, {}, std::nullopt));
  std::vector<Referrer> found = MUST(store().list_referrers(repo("r"), subject, std::nullopt));
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].digest, sig.digest);
}

TEST_P(MetadataStoreConformance, DeletedReferrerLeavesListing) {
  ManifestRecord image = manifest_of(manifest_json("image"));
  ManifestRecord sig = referrer_of(image.digest, "sig", "application/signature");
  MUST(store().put_manifest(repo("r"), image, {}, std::nullopt));
  MUST(store().put_manifest(repo("r"), sig, {}, std::nullopt));
  EXPECT_TRUE(MUST(store().delete_manifest(repo("r"), sig.digest)));
  EXPECT_TRUE(MUST(store().list_referrers(repo("r"), image.digest, std::nullopt)).empty());
}

// --- isolation ---

TEST_P(MetadataStoreConformance, RepositoriesAreIsolated) {
  ManifestRecord in_a = manifest_of(manifest_json("a"));
  ManifestRecord in_b = manifest_of(manifest_json("b"));
  ManifestRecord shared = manifest_of(manifest_json("shared"));
  MUST(store().put_manifest(repo("a"), in_a, {}, std::string("latest")));
  MUST(store().put_manifest(repo("b"), in_b, {}, std::string("latest")));
  MUST(store().put_manifest(repo("a"), shared, {}, std::string("shared")));
  MUST(store().put_manifest(repo("b"), shared, {}, std::string("shared")));

  EXPECT_EQ(MUST(store().resolve_tag(repo("a"), "latest")), std::optional<Digest>(in_a.digest));
  EXPECT_EQ(MUST(store().resolve_tag(repo("b"), "latest")), std::optional<Digest>(in_b.digest));
  EXPECT_FALSE(MUST(store().manifest_exists(repo("b"), in_a.digest)));
  EXPECT_EQ(MUST(store().get_manifest(repo("b"), in_a.digest)), std::nullopt);

  // Deleting in one repository leaves the other's copy and tags alone.
  EXPECT_TRUE(MUST(store().delete_manifest(repo("a"), shared.digest)));
  EXPECT_TRUE(MUST(store().manifest_exists(repo("b"), shared.digest)));
  EXPECT_EQ(MUST(store().resolve_tag(repo("b"), "shared")), std::optional<Digest>(shared.digest));
  EXPECT_TRUE(MUST(store().delete_tag(repo("b"), "latest")));
  EXPECT_EQ(MUST(store().resolve_tag(repo("a"), "latest")), std::optional<Digest>(in_a.digest));
  EXPECT_FALSE(MUST(store().delete_manifest(repo("b"), in_a.digest)));

  EXPECT_EQ(MUST(store().list_tags(repo("a"), "", 10)), std::vector<std::string>{"latest"});
  EXPECT_EQ(MUST(store().list_tags(repo("b"), "", 10)), std::vector<std::string>{"shared"});
}

TEST_P(MetadataStoreConformance, NestedNamesAreDistinctRepositories) {
  ManifestRecord image = manifest_of(manifest_json("x"));
  MUST(store().put_manifest(repo("team/app"), image, {}, std::string("v1")));
  EXPECT_FALSE(MUST(store().repository_exists(repo("team"))));
  EXPECT_FALSE(MUST(store().repository_exists(repo("team/app/sub"))));
  EXPECT_EQ(MUST(store().resolve_tag(repo("team"), "v1")), std::nullopt);
}

// --- registries ---

TEST_P(MetadataStoreConformance, FreshStoreHasTheDefaultRegistry) {
  std::optional<RegistryRecord> found = MUST(store().find_registry(kDefaultRegistryName));
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->id, kDefaultRegistryId);
  EXPECT_EQ(found->name, kDefaultRegistryName);
  std::vector<RegistryRecord> all = MUST(store().list_registries());
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].id, kDefaultRegistryId);
  EXPECT_EQ(MUST(store().registry_storage_bytes(kDefaultRegistryId)), 0u);
  EXPECT_TRUE(MUST(store().list_repository_summaries(kDefaultRegistryId)).empty());
}

TEST_P(MetadataStoreConformance, CreateAndFindRegistry) {
  const std::int64_t before = unix_now();
  RegistryRecord wanted{.name = "Team-A",
                        .tier = "Premium",
                        .region = "northeurope",
                        .admin_user_enabled = true,
                        .anonymous_pull_enabled = true,
                        .public_network_access = false};
  RegistryRecord created = MUST(store().create_registry(wanted));
  const std::int64_t after = unix_now();
  EXPECT_NE(created.id, 0);
  EXPECT_NE(created.id, kDefaultRegistryId);
  EXPECT_EQ(created.name, "Team-A");
  EXPECT_GE(created.created_at, before);
  EXPECT_LE(created.created_at, after);

  for (std::string_view spelling : {"Team-A", "team-a", "TEAM-A", "tEaM-a"}) {
    std::optional<RegistryRecord> found = MUST(store().find_registry(spelling));
    ASSERT_TRUE(found.has_value()) << spelling;
    EXPECT_EQ(found->id, created.id);
    EXPECT_EQ(found->name, "Team-A");  // as created, whatever the lookup's spelling
    EXPECT_EQ(found->tier, "Premium");
    EXPECT_EQ(found->region, "northeurope");
    EXPECT_EQ(found->created_at, created.created_at);
    EXPECT_TRUE(found->admin_user_enabled);
    EXPECT_TRUE(found->anonymous_pull_enabled);
    EXPECT_FALSE(found->public_network_access);
  }
  EXPECT_EQ(MUST(store().find_registry("team-b")), std::nullopt);
  EXPECT_EQ(MUST(store().find_registry("team")), std::nullopt);
}

TEST_P(MetadataStoreConformance, RegistryKeepsGivenCreationTime) {
  RegistryRecord wanted = registry_named("dated");
  wanted.created_at = 1'650'000'000;
  EXPECT_EQ(MUST(store().create_registry(wanted)).created_at, 1'650'000'000);
  std::optional<RegistryRecord> found = MUST(store().find_registry("dated"));
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->created_at, 1'650'000'000);
}

TEST_P(MetadataStoreConformance, RegistryNamesAreUniqueIgnoringCase) {
  const RegistryId first = NEW_REGISTRY("acme");
  EXPECT_EQ(error_of(store().create_registry(registry_named("acme"))), Errc::conflict);
  EXPECT_EQ(error_of(store().create_registry(registry_named("ACME"))), Errc::conflict);
  EXPECT_EQ(error_of(store().create_registry(registry_named("Acme"))), Errc::conflict);
  EXPECT_EQ(error_of(store().create_registry(registry_named("DEFAULT"))), Errc::conflict);
  std::vector<RegistryRecord> all = MUST(store().list_registries());
  ASSERT_EQ(all.size(), 2u);
  std::optional<RegistryRecord> found = MUST(store().find_registry("ACME"));
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->id, first);
  EXPECT_EQ(found->name, "acme");
}

TEST_P(MetadataStoreConformance, RegistriesListByName) {
  for (const char* name : {"zulu", "alpha", "mike", "bravo"}) NEW_REGISTRY(name);
  std::vector<std::string> names;
  for (const RegistryRecord& registry : MUST(store().list_registries())) {
    names.push_back(registry.name);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"alpha", "bravo", "default", "mike", "zulu"}));
}

TEST_P(MetadataStoreConformance, UpdateRegistry) {
  RegistryRecord created = MUST(store().create_registry(registry_named("acme")));
  RegistryRecord changed = created;
  changed.name = "renamed";  // not updatable: ignored
  changed.tier = "Basic";
  changed.region = "eastus";
  changed.created_at = 1;  // not updatable: ignored
  changed.admin_user_enabled = true;
  changed.anonymous_pull_enabled = true;
  changed.public_network_access = false;
  EXPECT_TRUE(MUST(store().update_registry(changed)));

  std::optional<RegistryRecord> found = MUST(store().find_registry("acme"));
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->id, created.id);
  EXPECT_EQ(found->name, "acme");
  EXPECT_EQ(found->tier, "Basic");
  EXPECT_EQ(found->region, "eastus");
  EXPECT_EQ(found->created_at, created.created_at);
  EXPECT_TRUE(found->admin_user_enabled);
  EXPECT_TRUE(found->anonymous_pull_enabled);
  EXPECT_FALSE(found->public_network_access);
  EXPECT_EQ(MUST(store().find_registry("renamed")), std::nullopt);

  // Updating to the same values still finds the registry.
  EXPECT_TRUE(MUST(store().update_registry(changed)));
  changed.id = created.id + 1000;
  EXPECT_FALSE(MUST(store().update_registry(changed)));
  // The default registry is untouched by all of it.
  std::optional<RegistryRecord> fallback = MUST(store().find_registry(kDefaultRegistryName));
  ASSERT_TRUE(fallback.has_value());
  EXPECT_NE(fallback->tier, "Basic");
}

TEST_P(MetadataStoreConformance, DeleteRegistryCascades) {
  const RegistryId doomed = NEW_REGISTRY("doomed");
  const Digest layer = blob_digest("layer");
  ManifestRecord image = manifest_of(manifest_json("image"));
  ManifestRecord sig = referrer_of(image.digest, "sig", "application/signature");
  // The same content under the same names in the default registry must survive.
  for (RegistryId registry : {kDefaultRegistryId, doomed}) {
    MUST(store().link_blob(repo("team/app", registry), layer, 10));
    MUST(store().put_manifest(repo("team/app", registry), image, {{layer, ReferenceKind::blob}},
                              std::string("v1")));
    MUST(store().put_manifest(repo("team/app", registry), sig, {}, std::nullopt));
    MUST(store().create_upload({.id = "upload-" + std::to_string(registry),
                                .registry = registry,
                                .repository = "team/app"}));
    MUST(store().link_blob(repo("other", registry), layer, 10));
  }

  EXPECT_TRUE(MUST(store().delete_registry(doomed)));
  EXPECT_EQ(MUST(store().find_registry("doomed")), std::nullopt);
  EXPECT_FALSE(MUST(store().delete_registry(doomed)));
  EXPECT_TRUE(MUST(store().list_repositories(doomed, "", 10)).empty());
  EXPECT_TRUE(MUST(store().list_repository_summaries(doomed)).empty());
  EXPECT_FALSE(MUST(store().repository_exists(repo("team/app", doomed))));
  EXPECT_EQ(MUST(store().linked_blob_size(repo("team/app", doomed), layer)), std::nullopt);
  EXPECT_FALSE(MUST(store().manifest_exists(repo("team/app", doomed), image.digest)));
  EXPECT_EQ(MUST(store().resolve_tag(repo("team/app", doomed), "v1")), std::nullopt);
  EXPECT_TRUE(
      MUST(store().list_referrers(repo("team/app", doomed), image.digest, std::nullopt)).empty());
  EXPECT_EQ(MUST(store().get_upload("upload-" + std::to_string(doomed))), std::nullopt);
  EXPECT_EQ(MUST(store().registry_storage_bytes(doomed)), 0u);

  const RepositoryRef kept = repo("team/app");
  EXPECT_EQ(MUST(store().list_repositories(kDefaultRegistryId, "", 10)),
            (std::vector<std::string>{"other", "team/app"}));
  EXPECT_EQ(MUST(store().linked_blob_size(kept, layer)), std::optional<std::uint64_t>(10));
  EXPECT_EQ(MUST(store().resolve_tag(kept, "v1")), std::optional<Digest>(image.digest));
  EXPECT_EQ(MUST(store().list_referrers(kept, image.digest, std::nullopt)).size(), 1u);
  EXPECT_TRUE(MUST(store().get_upload("upload-" + std::to_string(kDefaultRegistryId))));
  EXPECT_EQ(MUST(store().registry_storage_bytes(kDefaultRegistryId)), 10u);

  // The name is free again, and a registry created under it starts empty.
  const RegistryId reborn = NEW_REGISTRY("doomed");
  EXPECT_TRUE(MUST(store().list_repositories(reborn, "", 10)).empty());
  // The global size record of the blob outlived the registry: a different size still conflicts.
  EXPECT_EQ(error_of(store().link_blob(repo("x", reborn), layer, 11)), Errc::conflict);
}

TEST_P(MetadataStoreConformance, WritesIntoMissingRegistryAreNotFound) {
  const RegistryId missing = NEW_REGISTRY("gone");
  MUST(store().delete_registry(missing));
  const RepositoryRef nowhere = repo("r", missing);
  EXPECT_EQ(error_of(store().link_blob(nowhere, blob_digest("l"), 1)), Errc::not_found);
  EXPECT_EQ(error_of(store().create_upload({.id = "u", .registry = missing, .repository = "r"})),
            Errc::not_found);
  EXPECT_EQ(error_of(store().put_manifest(nowhere, manifest_of(manifest_json("m")), {},
                                          std::string("t"))),
            Errc::not_found);
  EXPECT_EQ(MUST(store().get_upload("u")), std::nullopt);
  EXPECT_FALSE(MUST(store().repository_exists(nowhere)));
  EXPECT_TRUE(MUST(store().list_repositories(missing, "", 10)).empty());
  EXPECT_EQ(MUST(store().linked_blob_size(nowhere, blob_digest("l"))), std::nullopt);
  EXPECT_FALSE(MUST(store().unlink_blob(nowhere, blob_digest("l"))));
  EXPECT_FALSE(MUST(store().delete_repository(nowhere)));
  EXPECT_EQ(MUST(store().repository_summary(nowhere)), std::nullopt);
  EXPECT_TRUE(MUST(store().list_tag_records(nowhere)).empty());
  EXPECT_TRUE(MUST(store().list_manifest_summaries(nowhere)).empty());
}

TEST_P(MetadataStoreConformance, ConcurrentCreatesOfOneNameLetOneWin) {
  std::atomic<int> created{0};
  std::atomic<int> conflicts{0};
  std::atomic<int> unexpected{0};
  parallel_for(24, [&](int i) {
    std::string name = i % 2 == 0 ? "race" : "RACE";
    auto result = store().create_registry(registry_named(name));
    if (result) {
      created++;
    } else if (result.error().code == Errc::conflict) {
      conflicts++;
    } else {
      unexpected++;
    }
  });
  EXPECT_EQ(created.load(), 1);
  EXPECT_EQ(conflicts.load(), 23);
  EXPECT_EQ(unexpected.load(), 0);
  EXPECT_EQ(MUST(store().list_registries()).size(), 2u);
}

// --- isolation between registries ---

TEST_P(MetadataStoreConformance, RegistriesAreIsolated) {
  const RegistryId a = kDefaultRegistryId;
  const RegistryId b = NEW_REGISTRY("b");
  const Digest layer = blob_digest("same-layer");
  ManifestRecord only_a = manifest_of(manifest_json("only-a"));
  ManifestRecord only_b = manifest_of(manifest_json("only-b"));
  ManifestRecord shared = manifest_of(manifest_json("shared"));
  ManifestRecord sig = referrer_of(shared.digest, "sig", "application/signature");

  for (RegistryId registry : {a, b}) {
    MUST(store().link_blob(repo("team/app", registry), layer, 42));
    MUST(store().put_manifest(repo("team/app", registry), shared, {{layer, ReferenceKind::blob}},
                              std::string("shared")));
  }
  MUST(store().put_manifest(repo("team/app", a), only_a, {}, std::string("latest")));
  MUST(store().put_manifest(repo("team/app", b), only_b, {}, std::string("latest")));
  MUST(store().put_manifest(repo("team/app", b), sig, {}, std::nullopt));
  MUST(store().link_blob(repo("only-in-b", b), blob_digest("b-layer"), 5));
  MUST(store().create_upload({.id = "up-a", .registry = a, .repository = "team/app"}));
  MUST(store().create_upload({.id = "up-b", .registry = b, .repository = "uploading"}));

  // Catalogs.
  EXPECT_EQ(MUST(store().list_repositories(a, "", 10)), std::vector<std::string>{"team/app"});
  EXPECT_EQ(MUST(store().list_repositories(b, "", 10)),
            (std::vector<std::string>{"only-in-b", "team/app", "uploading"}));
  EXPECT_FALSE(MUST(store().repository_exists(repo("only-in-b", a))));
  EXPECT_FALSE(MUST(store().repository_exists(repo("uploading", a))));

  // Tags: the same name points at different manifests.
  EXPECT_EQ(MUST(store().resolve_tag(repo("team/app", a), "latest")),
            std::optional<Digest>(only_a.digest));
  EXPECT_EQ(MUST(store().resolve_tag(repo("team/app", b), "latest")),
            std::optional<Digest>(only_b.digest));

  // Manifests.
  EXPECT_FALSE(MUST(store().manifest_exists(repo("team/app", a), only_b.digest)));
  EXPECT_FALSE(MUST(store().manifest_exists(repo("team/app", b), only_a.digest)));
  EXPECT_EQ(MUST(store().get_manifest(repo("team/app", a), only_b.digest)), std::nullopt);
  EXPECT_TRUE(
      MUST(store().list_referrers(repo("team/app", a), shared.digest, std::nullopt)).empty());
  EXPECT_EQ(MUST(store().list_referrers(repo("team/app", b), shared.digest, std::nullopt)).size(),
            1u);

  // Uploads carry their registry.
  std::optional<UploadRecord> upload = MUST(store().get_upload("up-b"));
  ASSERT_TRUE(upload.has_value());
  EXPECT_EQ(upload->registry, b);
  EXPECT_EQ(upload->repository, "uploading");
  upload = MUST(store().get_upload("up-a"));
  ASSERT_TRUE(upload.has_value());
  EXPECT_EQ(upload->registry, a);

  // Changes in one registry leave the other alone.
  EXPECT_TRUE(MUST(store().unlink_blob(repo("team/app", b), layer)));
  EXPECT_EQ(MUST(store().linked_blob_size(repo("team/app", a), layer)),
            std::optional<std::uint64_t>(42));
  EXPECT_EQ(MUST(store().linked_blob_size(repo("team/app", b), layer)), std::nullopt);
  EXPECT_TRUE(MUST(store().delete_tag(repo("team/app", b), "latest")));
  EXPECT_EQ(MUST(store().resolve_tag(repo("team/app", a), "latest")),
            std::optional<Digest>(only_a.digest));
  EXPECT_TRUE(MUST(store().delete_manifest(repo("team/app", a), shared.digest)));
  EXPECT_TRUE(MUST(store().manifest_exists(repo("team/app", b), shared.digest)));
  EXPECT_EQ(MUST(store().resolve_tag(repo("team/app", b), "shared")),
            std::optional<Digest>(shared.digest));
  EXPECT_EQ(MUST(store().list_tags(repo("team/app", a), "", 10)),
            std::vector<std::string>{"latest"});
  EXPECT_EQ(MUST(store().list_tags(repo("team/app", b), "", 10)),
            std::vector<std::string>{"shared"});
  EXPECT_TRUE(MUST(store().delete_repository(repo("team/app", a))));
  EXPECT_TRUE(MUST(store().repository_exists(repo("team/app", b))));
  EXPECT_EQ(MUST(store().get_upload("up-a")), std::nullopt);
  EXPECT_TRUE(MUST(store().get_upload("up-b")).has_value());
}

TEST_P(MetadataStoreConformance, CatalogPaginationPerRegistry) {
  const RegistryId other = NEW_REGISTRY("other");
  std::vector<std::string> mine;
  std::vector<std::string> theirs;
  for (int i = 0; i < 300; ++i) {
    // Interleaved names, so a listing that ignored the registry would show the other's.
    (i % 2 == 0 ? mine : theirs).push_back("repo-" + std::to_string(1000 + i));
  }
  theirs.push_back("repo-1000");  // a name both registries have
  parallel_for(static_cast<int>(mine.size() + theirs.size()), [&](int i) {
    const auto index = static_cast<std::size_t>(i);
    if (index < mine.size()) {
      MUST(store().link_blob(repo(mine[index]), blob_digest("l"), 1));
    } else {
      MUST(store().link_blob(repo(theirs[index - mine.size()], other), blob_digest("l"), 1));
    }
  });
  std::sort(mine.begin(), mine.end());
  std::sort(theirs.begin(), theirs.end());

  auto all_pages = [&](RegistryId registry, std::size_t page) {
    std::vector<std::string> all;
    std::string last;
    for (;;) {
      std::vector<std::string> names = MUST(store().list_repositories(registry, last, page));
      EXPECT_LE(names.size(), page);
      if (names.empty()) return all;
      all.insert(all.end(), names.begin(), names.end());
      last = names.back();
    }
  };
  EXPECT_EQ(all_pages(kDefaultRegistryId, 7), mine);
  EXPECT_EQ(all_pages(other, 7), theirs);
  EXPECT_EQ(all_pages(other, 1000), theirs);
  EXPECT_EQ(MUST(store().list_repositories(other, "repo-1000", 2)),
            (std::vector<std::string>{"repo-1001", "repo-1003"}));
  EXPECT_TRUE(MUST(store().list_repositories(other + 1000, "", 10)).empty());
}

// --- usage ---

TEST_P(MetadataStoreConformance, StorageBytesCountEachBlobOncePerRegistry) {
  const RegistryId b = NEW_REGISTRY("b");
  const Digest big = blob_digest("big");
  const Digest small = blob_digest("small");
  const Digest tiny = blob_digest("tiny");
  const std::uint64_t huge = std::uint64_t{1} << 40;
  MUST(store().link_blob(repo("x", b), big, huge));
  MUST(store().link_blob(repo("x", b), small, 20));
  MUST(store().link_blob(repo("y", b), big, huge));  // shared within b: counts once
  MUST(store().link_blob(repo("y", b), tiny, 3));
  MUST(store().link_blob(repo("y", b), blob_digest("empty"), 0));
  MUST(store().link_blob(repo("x"), big, huge));  // in the default registry too: counts there

  EXPECT_EQ(MUST(store().registry_storage_bytes(b)), huge + 20 + 3);
  EXPECT_EQ(MUST(store().registry_storage_bytes(kDefaultRegistryId)), huge);
  std::optional<RepositorySummary> x = MUST(store().repository_summary(repo("x", b)));
  std::optional<RepositorySummary> y = MUST(store().repository_summary(repo("y", b)));
  ASSERT_TRUE(x.has_value());
  ASSERT_TRUE(y.has_value());
  EXPECT_EQ(x->storage_bytes, huge + 20);
  EXPECT_EQ(y->storage_bytes, huge + 3);

  // Still linked by y, so still counted.
  EXPECT_TRUE(MUST(store().unlink_blob(repo("x", b), big)));
  EXPECT_EQ(MUST(store().registry_storage_bytes(b)), huge + 20 + 3);
  EXPECT_TRUE(MUST(store().unlink_blob(repo("y", b), big)));
  EXPECT_EQ(MUST(store().registry_storage_bytes(b)), 20u + 3u);
  EXPECT_EQ(MUST(store().registry_storage_bytes(kDefaultRegistryId)), huge);
  EXPECT_EQ(MUST(store().registry_storage_bytes(b + 1000)), 0u);
  EXPECT_TRUE(MUST(store().delete_repository(repo("y", b))));
  EXPECT_EQ(MUST(store().registry_storage_bytes(b)), 20u);
}

TEST_P(MetadataStoreConformance, RepositorySummaries) {
  const std::int64_t before = unix_now();
  MUST(store().create_upload({.id = "u", .repository = "empty"}));
  ManifestRecord old_image = manifest_of(manifest_json("old"));
  old_image.created_at = 1'700'000'000;
  ManifestRecord new_image = manifest_of(manifest_json("new"));
  new_image.created_at = 1'700'000'100;
  MUST(store().link_blob(repo("untagged"), blob_digest("l1"), 100));
  MUST(store().link_blob(repo("untagged"), blob_digest("l2"), 7));
  MUST(store().put_manifest(repo("untagged"), new_image, {}, std::nullopt));
  MUST(store().put_manifest(repo("untagged"), old_image, {}, std::nullopt));
  MUST(store().put_manifest(repo("tagged"), old_image, {}, std::string("v1")));
  MUST(store().put_manifest(repo("tagged"), old_image, {}, std::string("latest")));
  const std::int64_t after = unix_now();

  std::vector<RepositorySummary> all = MUST(store().list_repository_summaries(kDefaultRegistryId));
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].name, "empty");
  EXPECT_EQ(all[1].name, "tagged");
  EXPECT_EQ(all[2].name, "untagged");
  for (const RepositorySummary& summary : all) {
    EXPECT_GE(summary.created_at, before) << summary.name;
    EXPECT_LE(summary.created_at, after) << summary.name;
  }

  // Nothing pushed: updated when created.
  EXPECT_EQ(all[0].updated_at, all[0].created_at);
  EXPECT_EQ(all[0].storage_bytes, 0u);
  EXPECT_EQ(all[0].manifest_count, 0u);
  EXPECT_EQ(all[0].tag_count, 0u);

  // Tagged now: the tag change is the latest event.
  EXPECT_GE(all[1].updated_at, before);
  EXPECT_LE(all[1].updated_at, after);
  EXPECT_EQ(all[1].manifest_count, 1u);
  EXPECT_EQ(all[1].tag_count, 2u);
  EXPECT_EQ(all[1].storage_bytes, 0u);

  // Only manifests: the latest push.
  EXPECT_EQ(all[2].updated_at, 1'700'000'100);
  EXPECT_EQ(all[2].manifest_count, 2u);
  EXPECT_EQ(all[2].tag_count, 0u);
  EXPECT_EQ(all[2].storage_bytes, 107u);

  std::optional<RepositorySummary> one = MUST(store().repository_summary(repo("untagged")));
  ASSERT_TRUE(one.has_value());
  EXPECT_EQ(one->name, "untagged");
  EXPECT_EQ(one->created_at, all[2].created_at);
  EXPECT_EQ(one->updated_at, all[2].updated_at);
  EXPECT_EQ(one->storage_bytes, all[2].storage_bytes);
  EXPECT_EQ(one->manifest_count, all[2].manifest_count);
  EXPECT_EQ(MUST(store().repository_summary(repo("absent"))), std::nullopt);
  EXPECT_TRUE(MUST(store().list_repository_summaries(NEW_REGISTRY("b"))).empty());
}

TEST_P(MetadataStoreConformance, TagRecords) {
  ManifestRecord first = manifest_of(manifest_json("first"));
  ManifestRecord second = manifest_of(manifest_json("second"));
  const std::int64_t before = unix_now();
  MUST(store().put_manifest(repo("r"), first, {}, std::string("v2")));
  MUST(store().put_manifest(repo("r"), first, {}, std::string("latest")));
  MUST(store().put_manifest(repo("r"), second, {}, std::string("v1")));
  MUST(store().put_manifest(repo("r"), second, {}, std::string("latest")));  // moves it
  const std::int64_t after = unix_now();

  std::vector<TagRecord> tags = MUST(store().list_tag_records(repo("r")));
  ASSERT_EQ(tags.size(), 3u);
  EXPECT_EQ(tags[0].name, "latest");
  EXPECT_EQ(tags[0].digest, second.digest);
  EXPECT_EQ(tags[1].name, "v1");
  EXPECT_EQ(tags[1].digest, second.digest);
  EXPECT_EQ(tags[2].name, "v2");
  EXPECT_EQ(tags[2].digest, first.digest);
  for (const TagRecord& tag : tags) {
    EXPECT_GE(tag.created_at, before) << tag.name;
    EXPECT_LE(tag.created_at, tag.updated_at) << tag.name;
    EXPECT_LE(tag.updated_at, after) << tag.name;
  }
  EXPECT_TRUE(MUST(store().list_tag_records(repo("absent"))).empty());
  EXPECT_TRUE(MUST(store().list_tag_records(repo("r", NEW_REGISTRY("b")))).empty());
}

TEST_P(MetadataStoreConformance, ManifestSummaries) {
  auto at = [](std::string seed, std::int64_t created_at) {
    ManifestRecord record = manifest_of(manifest_json(seed));
    record.created_at = created_at;
    return record;
  };
  ManifestRecord oldest = at("oldest", 100);
  ManifestRecord newest = at("newest", 300);
  ManifestRecord tie_1 = at("tie-1", 200);
  ManifestRecord tie_2 = at("tie-2", 200);
  ManifestRecord index = manifest_of(manifest_json("index"), kImageIndex);
  index.created_at = 50;
  index.artifact_type = "application/vnd.example";
  MUST(store().put_manifest(repo("r"), oldest, {}, std::string("v1")));
  MUST(store().put_manifest(repo("r"), newest, {}, std::string("latest")));
  MUST(store().put_manifest(repo("r"), newest, {}, std::string("v3")));
  MUST(store().put_manifest(repo("r"), newest, {}, std::string("Beta")));
  MUST(store().put_manifest(repo("r"), tie_1, {}, std::nullopt));
  MUST(store().put_manifest(repo("r"), tie_2, {}, std::string("v2")));
  MUST(store().put_manifest(repo("r"), index, {}, std::nullopt));
  // Same digest elsewhere, tagged differently: not listed here.
  MUST(store().put_manifest(repo("other"), newest, {}, std::string("elsewhere")));

  std::vector<ManifestSummary> manifests = MUST(store().list_manifest_summaries(repo("r")));
  ASSERT_EQ(manifests.size(), 5u);
  const auto [first_tie, second_tie] =
      tie_1.digest < tie_2.digest ? std::pair(&tie_1, &tie_2) : std::pair(&tie_2, &tie_1);
  EXPECT_EQ(manifests[0].digest, newest.digest);
  EXPECT_EQ(manifests[1].digest, first_tie->digest);
  EXPECT_EQ(manifests[2].digest, second_tie->digest);
  EXPECT_EQ(manifests[3].digest, oldest.digest);
  EXPECT_EQ(manifests[4].digest, index.digest);

  EXPECT_EQ(manifests[0].tags, (std::vector<std::string>{"Beta", "latest", "v3"}));
  EXPECT_EQ(manifests[0].created_at, 300);
  EXPECT_EQ(manifests[0].size, newest.content.size());
  EXPECT_EQ(manifests[0].media_type, kImageManifest);
  EXPECT_EQ(manifests[3].tags, std::vector<std::string>{"v1"});
  EXPECT_EQ(manifests[first_tie == &tie_2 ? 1 : 2].tags, std::vector<std::string>{"v2"});
  EXPECT_TRUE(manifests[first_tie == &tie_1 ? 1 : 2].tags.empty());
  EXPECT_TRUE(manifests[4].tags.empty());
  EXPECT_EQ(manifests[4].media_type, kImageIndex);
  EXPECT_EQ(manifests[4].artifact_type, "application/vnd.example");
  EXPECT_EQ(manifests[4].size, index.content.size());

  std::vector<ManifestSummary> other = MUST(store().list_manifest_summaries(repo("other")));
  ASSERT_EQ(other.size(), 1u);
  EXPECT_EQ(other[0].tags, std::vector<std::string>{"elsewhere"});
  EXPECT_TRUE(MUST(store().list_manifest_summaries(repo("absent"))).empty());
}

TEST_P(MetadataStoreConformance, DeleteRepositoryTakesEverythingInIt) {
  const Digest layer = blob_digest("layer");
  ManifestRecord image = manifest_of(manifest_json("image"));
  ManifestRecord sig = referrer_of(image.digest, "sig", "application/signature");
  for (const char* name : {"doomed", "kept"}) {
    MUST(store().link_blob(repo(name), layer, 9));
    MUST(
        store().put_manifest(repo(name), image, {{layer, ReferenceKind::blob}}, std::string("v1")));
    MUST(store().put_manifest(repo(name), sig, {}, std::nullopt));
    MUST(store().create_upload({.id = std::string("upload-") + name, .repository = name}));
  }

  EXPECT_TRUE(MUST(store().delete_repository(repo("doomed"))));
  EXPECT_FALSE(MUST(store().delete_repository(repo("doomed"))));
  EXPECT_FALSE(MUST(store().delete_repository(repo("never"))));
  EXPECT_FALSE(MUST(store().repository_exists(repo("doomed"))));
  EXPECT_EQ(MUST(store().list_repositories(kDefaultRegistryId, "", 10)),
            std::vector<std::string>{"kept"});
  EXPECT_EQ(MUST(store().get_upload("upload-doomed")), std::nullopt);
  EXPECT_EQ(MUST(store().linked_blob_size(repo("doomed"), layer)), std::nullopt);
  EXPECT_EQ(MUST(store().resolve_tag(repo("doomed"), "v1")), std::nullopt);
  EXPECT_FALSE(MUST(store().manifest_exists(repo("doomed"), image.digest)));
  EXPECT_TRUE(MUST(store().list_referrers(repo("doomed"), image.digest, std::nullopt)).empty());

  EXPECT_EQ(MUST(store().resolve_tag(repo("kept"), "v1")), std::optional<Digest>(image.digest));
  EXPECT_EQ(MUST(store().linked_blob_size(repo("kept"), layer)), std::optional<std::uint64_t>(9));
  EXPECT_TRUE(MUST(store().get_upload("upload-kept")).has_value());
  EXPECT_EQ(MUST(store().list_referrers(repo("kept"), image.digest, std::nullopt)).size(), 1u);

  // Using the name again starts a new, empty repository.
  MUST(store().create_upload({.id = "again", .repository = "doomed"}));
  std::optional<RepositorySummary> reborn = MUST(store().repository_summary(repo("doomed")));
  ASSERT_TRUE(reborn.has_value());
  EXPECT_EQ(reborn->manifest_count, 0u);
  EXPECT_EQ(reborn->tag_count, 0u);
  EXPECT_EQ(reborn->storage_bytes, 0u);
}

// --- bad input ---

TEST_P(MetadataStoreConformance, EmptyNamesAreInvalidArguments) {
  const Digest digest = oci::digest_of("x");
  ManifestRecord image = manifest_of(manifest_json("x"));
  EXPECT_EQ(error_of(store().repository_exists(repo(""))), Errc::invalid_argument);
  EXPECT_EQ(error_of(store().link_blob(repo(""), digest, 1)), Errc::invalid_argument);
  EXPECT_EQ(error_of(store().linked_blob_size(repo(""), digest)), Errc::invalid_argument);
  EXPECT_EQ(error_of(store().unlink_blob(repo(""), digest)), Errc::invalid_argument);
  EXPECT_EQ(error_of(store().create_upload({.id = "", .repository = "r"})), Errc::invalid_argument);
  EXPECT_EQ(error_of(store().create_upload({.id = "u", .repository = ""})), Errc::invalid_argument);
  EXPECT_EQ(error_of(store().get_upload("")), Errc::invalid_argument);
  EXPECT_EQ(error_of(store().delete_upload("")), Errc::invalid_argument);
  EXPECT_EQ(error_of(store().put_manifest(repo(""), image, {}, std::nullopt)),
            Errc::invalid_argument);
  EXPECT_EQ(error_of(store().put_manifest(repo("r"), image, {}, std::string())),
            Errc::invalid_argument);
  EXPECT_EQ(error_of(store().get_manifest(repo(""), digest)), Errc::invalid_argument);
  EXPECT_EQ(error_of(store().manifest_exists(repo(""), digest)), Errc::invalid_argument);
  EXPECT_EQ(error_of(store().resolve_tag(repo(""), "t")), Errc::invalid_argument);
  EXPECT_EQ(error_of(store().resolve_tag(repo("r"), "")), Errc::invalid_argument);
  EXPECT_EQ(error_of(store().delete_manifest(repo(""), digest)), Errc::invalid_argument);
  EXPECT_EQ(error_of(store().delete_tag(repo(""), "t")), Errc::invalid_argument);
  EXPECT_EQ(error_of(store().delete_tag(repo("r"), "")), Errc::invalid_argument);
  EXPECT_EQ(error_of(store().list_tags(repo(""), "", 10)), Errc::invalid_argument);
  EXPECT_EQ(error_of(store().list_referrers(repo(""), digest, std::nullopt)),
            Errc::invalid_argument);
  EXPECT_EQ(error_of(store().repository_summary(repo(""))), Errc::invalid_argument);
  EXPECT_EQ(error_of(store().delete_repository(repo(""))), Errc::invalid_argument);
  EXPECT_EQ(error_of(store().list_tag_records(repo(""))), Errc::invalid_argument);
  EXPECT_EQ(error_of(store().list_manifest_summaries(repo(""))), Errc::invalid_argument);
  EXPECT_EQ(error_of(store().create_registry(registry_named(""))), Errc::invalid_argument);
  EXPECT_EQ(error_of(store().find_registry("")), Errc::invalid_argument);
  // Nothing was created along the way.
  EXPECT_TRUE(MUST(store().list_repositories(kDefaultRegistryId, "", 10)).empty());
  EXPECT_EQ(MUST(store().list_registries()).size(), 1u);
}

// --- concurrency ---

// Several writers on their own repositories while readers list and pull; no call may fail
// (in particular no "database is locked" may reach a caller).
TEST_P(MetadataStoreConformance, ConcurrentWritersAndReaders) {
  constexpr int kWriters = 6;
  constexpr int kReaders = 4;
  constexpr int kImagesPerWriter = 40;

  std::atomic<bool> writers_done{false};
  std::atomic<int> failures{0};
  std::atomic<long> reads{0};
  std::mutex failure_mutex;
  std::string first_failure;
  auto record_failure = [&](const std::string& what) {
    if (failures.fetch_add(1) == 0) {
      std::lock_guard lock(failure_mutex);
      first_failure = what;
    }
  };
  auto repository_of = [](int writer) { return "concurrent/writer-" + std::to_string(writer); };

  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      const std::string repository = repository_of(w);
      for (int i = 0; i < kImagesPerWriter; ++i) {
        const std::string seed = repository + "/" + std::to_string(i);
        const std::string upload_id = "upload-" + seed;
        const Digest layer = blob_digest("layer-" + seed);
        if (auto r = store().create_upload({.id = upload_id, .repository = repository}); !r) {
          record_failure(r.error().message);
        }
        if (auto r = store().link_blob(repo(repository), layer, 100 + i); !r) {
          record_failure(r.error().message);
        }
        if (auto r = store().delete_upload(upload_id); !r) record_failure(r.error().message);
        ManifestRecord image = manifest_of(manifest_json(seed));
        if (auto r = store().put_manifest(repo(repository), image, {{layer, ReferenceKind::blob}},
                                          numbered("t", i));
            !r) {
          record_failure(r.error().message);
        }
        if (auto r = store().put_manifest(repo(repository), image, {}, std::string("latest")); !r) {
          record_failure(r.error().message);
        }
      }
    });
  }
  for (int reader = 0; reader < kReaders; ++reader) {
    threads.emplace_back([&, reader] {
      int turn = 0;
      while (!writers_done.load()) {
        const std::string repository = repository_of((reader + turn++) % kWriters);
        auto latest = store().resolve_tag(repo(repository), "latest");
        if (!latest) {
          record_failure(latest.error().message);
          continue;
        }
        if (*latest) {
          auto image = store().get_manifest(repo(repository), **latest);
          if (!image) {
            record_failure(image.error().message);
          } else if (!*image) {
            record_failure("a tagged manifest was missing: " + (*latest)->str());
          } else if (oci::digest_of((*image)->content) != **latest) {
            record_failure("manifest content does not match its digest");
          }
        }
        if (auto r = store().list_repositories(kDefaultRegistryId, "", 100); !r)
          record_failure(r.error().message);
        if (auto r = store().list_tags(repo(repository), "", 100); !r) {
          record_failure(r.error().message);
        }
        reads.fetch_add(1);
      }
    });
  }
  for (int w = 0; w < kWriters; ++w) threads[static_cast<std::size_t>(w)].join();
  writers_done.store(true);
  for (std::size_t t = kWriters; t < threads.size(); ++t) threads[t].join();

  EXPECT_EQ(failures.load(), 0) << "first failure: " << first_failure;
  EXPECT_GT(reads.load(), 0);
  EXPECT_EQ(MUST(store().list_repositories(kDefaultRegistryId, "", 100)).size(),
            std::size_t{kWriters});
  for (int w = 0; w < kWriters; ++w) {
    EXPECT_EQ(MUST(store().list_tags(repo(repository_of(w)), "", 1000)).size(),
              std::size_t{kImagesPerWriter + 1});
    const std::string last_seed = repository_of(w) + "/" + std::to_string(kImagesPerWriter - 1);
    EXPECT_EQ(MUST(store().resolve_tag(repo(repository_of(w)), "latest")),
              std::optional<Digest>(oci::digest_of(manifest_json(last_seed))));
  }
}

// Failing writes interleaved with succeeding ones: each call is all-or-nothing on its own, so
// the failures leave no trace and take no other call down with them.
TEST_P(MetadataStoreConformance, ConcurrentFailuresStayIsolated) {
  constexpr int kCalls = 120;
  const Digest layer = blob_digest("contested");
  MUST(store().link_blob(repo("owner"), layer, 50));
  MUST(store().create_upload({.id = "taken", .repository = "owner"}));
  std::atomic<int> unexpected{0};
  parallel_for(kCalls, [&](int i) {
    const std::string good = "good/" + std::to_string(i);
    const std::string bad = "bad/" + std::to_string(i);
    switch (i % 3) {
      case 0:
        if (error_of(store().link_blob(repo(bad), layer, 51)) != Errc::conflict) unexpected++;
        break;
      case 1:
        if (error_of(store().create_upload({.id = "taken", .repository = bad})) != Errc::conflict) {
          unexpected++;
        }
        break;
      default:
        break;
    }
    if (!store().put_manifest(repo(good), manifest_of(manifest_json(good)), {}, std::string("v"))) {
      unexpected++;
    }
  });
  EXPECT_EQ(unexpected.load(), 0);
  std::vector<std::string> repositories =
      MUST(store().list_repositories(kDefaultRegistryId, "", 1000));
  EXPECT_EQ(repositories.size(), std::size_t{kCalls + 1});
  for (const std::string& name : repositories) {
    EXPECT_NE(name.rfind("bad/", 0), 0u) << name << " was left behind by a failed call";
  }
  for (int i = 0; i < kCalls; ++i) {
    const std::string good = "good/" + std::to_string(i);
    EXPECT_EQ(MUST(store().resolve_tag(repo(good), "v")),
              std::optional<Digest>(oci::digest_of(manifest_json(good))));
  }
}

// Many writers racing to create the same repository and move the same tag.
TEST_P(MetadataStoreConformance, ConcurrentWritersOnOneRepository) {
  constexpr int kThreads = 8;
  constexpr int kPushes = 25;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPushes; ++i) {
        ManifestRecord image =
            manifest_of(manifest_json(std::to_string(t) + "-" + std::to_string(i)));
        if (!store().put_manifest(repo("hot"), image, {}, std::string("latest"))) failures++;
        if (!store().link_blob(repo("hot"), blob_digest("shared"), 9)) failures++;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(MUST(store().list_repositories(kDefaultRegistryId, "", 10)),
            std::vector<std::string>{"hot"});
  std::optional<Digest> latest = MUST(store().resolve_tag(repo("hot"), "latest"));
  ASSERT_TRUE(latest.has_value());
  EXPECT_TRUE(MUST(store().manifest_exists(repo("hot"), *latest)));
}

TEST_P(MetadataStoreConformance, RegistryDefaultNetworkAction) {
  EXPECT_EQ(MUST(store().find_registry(kDefaultRegistryName))->default_network_action, "Allow");
  RegistryRecord closed = registry_named("closed");
  closed.default_network_action = "Deny";
  RegistryRecord created = MUST(store().create_registry(closed));
  EXPECT_EQ(created.default_network_action, "Deny");
  EXPECT_EQ(MUST(store().find_registry("closed"))->default_network_action, "Deny");
  EXPECT_EQ(MUST(store().create_registry(registry_named("open"))).default_network_action, "Allow");

  created.default_network_action = "Allow";
  EXPECT_TRUE(MUST(store().update_registry(created)));
  std::vector<RegistryRecord> all = MUST(store().list_registries());
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].name, "closed");
  EXPECT_EQ(all[0].default_network_action, "Allow");

  // Anything but the two answers is refused, and changes nothing.
  for (const char* bad : {"", "allow", "DENY", "Deny ", "Block"}) {
    RegistryRecord wrong = created;
    wrong.default_network_action = bad;
    EXPECT_EQ(error_of(store().update_registry(wrong)), Errc::invalid_argument) << bad;
    RegistryRecord fresh = registry_named(numbered("bad", std::string_view(bad).size()));
    fresh.default_network_action = bad;
    EXPECT_EQ(error_of(store().create_registry(fresh)), Errc::invalid_argument) << bad;
  }
  EXPECT_EQ(MUST(store().find_registry("closed"))->default_network_action, "Allow");
  EXPECT_EQ(MUST(store().list_registries()).size(), 3u);
}

// --- the AccessStore part ---

constexpr std::uint64_t kNoLimit = std::numeric_limits<std::uint64_t>::max();

ScopeMapRecord scope_map_of(RegistryId registry, std::string name,
                            std::vector<std::string> actions) {
  return ScopeMapRecord{.registry = registry,
                        .name = std::move(name),
                        .description = "",
                        .actions = std::move(actions)};
}

TokenPasswordRecord password_of(std::string name, std::string hash,
                                std::optional<std::int64_t> expiry = std::nullopt) {
  return TokenPasswordRecord{
      .name = std::move(name), .secret_hash = std::move(hash), .expiry = expiry, .created_at = 0};
}

TokenRecord token_of(RegistryId registry, std::string name, std::string scope_map,
                     std::vector<TokenPasswordRecord> passwords = {}) {
  return TokenRecord{.registry = registry,
                     .name = std::move(name),
                     .scope_map = std::move(scope_map),
                     .passwords = std::move(passwords)};
}

IdentityRecord user_of(std::string id, std::string name) {
  return IdentityRecord{.id = std::move(id),
                        .name = std::move(name),
                        .kind = IdentityKind::user,
                        .secret_hash = "$argon2id$hash"};
}

IdentityRecord federated_of(std::string id, std::string name, std::string issuer,
                            std::string subject) {
  return IdentityRecord{.id = std::move(id),
                        .name = std::move(name),
                        .kind = IdentityKind::federated,
                        .issuer = std::move(issuer),
                        .audience = "berth",
                        .jwks = "https://127.0.0.1:8443/keys",
                        .subject = std::move(subject)};
}

RoleAssignmentRecord role_of(std::string id, std::string identity, std::string role,
                             RegistryId registry, std::string repository = "",
                             std::int64_t created_at = 0) {
  return RoleAssignmentRecord{.id = std::move(id),
                              .identity_id = std::move(identity),
                              .role = std::move(role),
                              .registry = registry,
                              .repository = std::move(repository),
                              .created_at = created_at};
}

std::vector<std::string> names_of_scope_maps(const std::vector<ScopeMapRecord>& maps) {
  std::vector<std::string> names;
  for (const ScopeMapRecord& map : maps) names.push_back(map.name);
  return names;
}

std::vector<std::string> names_of_tokens(const std::vector<TokenRecord>& tokens) {
  std::vector<std::string> names;
  for (const TokenRecord& token : tokens) names.push_back(token.name);
  return names;
}

std::vector<std::string> ids_of(const std::vector<RoleAssignmentRecord>& assignments) {
  std::vector<std::string> ids;
  for (const RoleAssignmentRecord& assignment : assignments) ids.push_back(assignment.id);
  return ids;
}

std::vector<std::string> ranges_of(const std::vector<NetworkRuleRecord>& rules) {
  std::vector<std::string> ranges;
  for (const NetworkRuleRecord& rule : rules) ranges.push_back(rule.address_range);
  return ranges;
}

std::vector<std::int64_t> ids_of(const std::vector<LoginEventRecord>& events) {
  std::vector<std::int64_t> ids;
  for (const LoginEventRecord& event : events) ids.push_back(event.id);
  return ids;
}

// --- admin passwords ---

TEST_P(AccessStoreConformance, AdminPasswordsAreReplacedAndSortedByName) {
  const RegistryId other = NEW_REGISTRY("other");
  EXPECT_TRUE(MUST(access().admin_passwords(kDefaultRegistryId)).empty());
  MUST(access().put_admin_password(
      kDefaultRegistryId, {.name = "password2", .sealed_value = "s1$two", .created_at = 5}));
  const std::int64_t before = unix_now();
  MUST(access().put_admin_password(kDefaultRegistryId,
                                   {.name = "password", .sealed_value = "s1$one"}));
  std::vector<AdminPasswordRecord> passwords = MUST(access().admin_passwords(kDefaultRegistryId));
  ASSERT_EQ(passwords.size(), 2u);
  EXPECT_EQ(passwords[0].name, "password");
  EXPECT_EQ(passwords[0].sealed_value, "s1$one");
  EXPECT_GE(passwords[0].created_at, before);
  EXPECT_LE(passwords[0].created_at, unix_now());
  EXPECT_EQ(passwords[1].name, "password2");
  EXPECT_EQ(passwords[1].created_at, 5);

  // Regenerating replaces, under any spelling of the name.
  MUST(access().put_admin_password(
      kDefaultRegistryId, {.name = "PASSWORD2", .sealed_value = "s1$new", .created_at = 9}));
  passwords = MUST(access().admin_passwords(kDefaultRegistryId));
  ASSERT_EQ(passwords.size(), 2u);
  EXPECT_EQ(passwords[1].sealed_value, "s1$new");
  EXPECT_EQ(passwords[1].created_at, 9);
  EXPECT_TRUE(MUST(access().admin_passwords(other)).empty());

  EXPECT_EQ(error_of(access().put_admin_password(999, {.name = "password", .sealed_value = "s"})),
            Errc::not_found);
  EXPECT_EQ(error_of(access().put_admin_password(other, {.name = "", .sealed_value = "s"})),
            Errc::invalid_argument);
  EXPECT_EQ(error_of(access().put_admin_password(other, {.name = "password", .sealed_value = ""})),
            Errc::invalid_argument);
  EXPECT_TRUE(MUST(access().admin_passwords(other)).empty());
  EXPECT_TRUE(MUST(access().admin_passwords(999)).empty());
}

// --- scope maps ---

TEST_P(AccessStoreConformance, ScopeMapRoundTripsWithActionsInOrderWithoutDuplicates) {
  ScopeMapRecord map =
      scope_map_of(kDefaultRegistryId, "Pushers",
                   {"repositories/team/*/content/write", "repositories/team/app/content/read",
                    "repositories/team/*/content/write",  // repeated
                    "repositories/team/app/metadata/delete"});
  map.description = "push to the team's repositories; 'quotes' and \"doubles\" kept";
  map.created_at = 1'700'000'123;
  MUST(access().create_scope_map(map, kNoLimit));

  for (std::string_view spelling : {"Pushers", "pushers", "PUSHERS"}) {
    std::optional<ScopeMapRecord> found =
        MUST(access().find_scope_map(kDefaultRegistryId, spelling));
    ASSERT_TRUE(found.has_value()) << spelling;
    EXPECT_EQ(found->name, "Pushers");
    EXPECT_EQ(found->registry, kDefaultRegistryId);
    EXPECT_EQ(found->description, map.description);
    EXPECT_EQ(found->created_at, 1'700'000'123);
    EXPECT_EQ(found->actions, (std::vector<std::string>{"repositories/team/*/content/write",
                                                        "repositories/team/app/content/read",
                                                        "repositories/team/app/metadata/delete"}));
  }
  EXPECT_EQ(MUST(access().find_scope_map(kDefaultRegistryId, "pusher")), std::nullopt);
  EXPECT_EQ(MUST(access().find_scope_map(kDefaultRegistryId, "Pushers%")), std::nullopt);

  // Without actions, and with many (their order is the caller's, not sorted).
  const std::int64_t before = unix_now();
  MUST(access().create_scope_map(scope_map_of(kDefaultRegistryId, "empty", {}), kNoLimit));
  std::vector<std::string> many;
  for (int i = 500; i > 0; --i)
    many.push_back("repositories/" + numbered("r", i) + "/content/read");
  MUST(access().create_scope_map(scope_map_of(kDefaultRegistryId, "many", many), kNoLimit));
  std::optional<ScopeMapRecord> empty = MUST(access().find_scope_map(kDefaultRegistryId, "empty"));
  ASSERT_TRUE(empty.has_value());
  EXPECT_TRUE(empty->actions.empty());
  EXPECT_GE(empty->created_at, before);
  EXPECT_EQ(MUST(access().find_scope_map(kDefaultRegistryId, "many"))->actions, many);

  std::vector<ScopeMapRecord> all = MUST(access().list_scope_maps(kDefaultRegistryId));
  EXPECT_EQ(names_of_scope_maps(all), (std::vector<std::string>{"empty", "many", "Pushers"}));
  ASSERT_EQ(all.size(), 3u);
  EXPECT_TRUE(all[0].actions.empty());
  EXPECT_EQ(all[1].actions, many);
  EXPECT_EQ(all[2].actions.size(), 3u);
}

TEST_P(AccessStoreConformance, ScopeMapNamesAreUniquePerRegistryIgnoringCase) {
  const RegistryId other = NEW_REGISTRY("other");
  MUST(access().create_scope_map(scope_map_of(kDefaultRegistryId, "readers", {"a"}), kNoLimit));
  for (const char* taken : {"readers", "READERS", "Readers"}) {
    EXPECT_EQ(error_of(access().create_scope_map(scope_map_of(kDefaultRegistryId, taken, {"b"}),
                                                 kNoLimit)),
              Errc::conflict)
        << taken;
  }
  // The failed creates left nothing behind, not even their actions.
  EXPECT_EQ(MUST(access().find_scope_map(kDefaultRegistryId, "readers"))->actions,
            std::vector<std::string>{"a"});
  MUST(access().create_scope_map(scope_map_of(other, "Readers", {"c"}), kNoLimit));
  EXPECT_EQ(MUST(access().find_scope_map(other, "readers"))->actions,
            std::vector<std::string>{"c"});
  EXPECT_EQ(MUST(access().list_scope_maps(kDefaultRegistryId)).size(), 1u);
  EXPECT_EQ(MUST(access().list_scope_maps(other)).size(), 1u);
}

TEST_P(AccessStoreConformance, ScopeMapsAreBoundedPerRegistry) {
  const RegistryId other = NEW_REGISTRY("other");
  MUST(access().create_scope_map(scope_map_of(kDefaultRegistryId, "m1", {}), 2));
  MUST(access().create_scope_map(scope_map_of(kDefaultRegistryId, "m2", {}), 2));
  EXPECT_EQ(error_of(access().create_scope_map(scope_map_of(kDefaultRegistryId, "m3", {}), 2)),
            Errc::limit_reached);
  // A lower limit than what is held (a tier downgrade) refuses too.
  EXPECT_EQ(error_of(access().create_scope_map(scope_map_of(kDefaultRegistryId, "m3", {}), 1)),
            Errc::limit_reached);
  EXPECT_EQ(error_of(access().create_scope_map(scope_map_of(other, "m1", {}), 0)),
            Errc::limit_reached);
  MUST(access().create_scope_map(scope_map_of(other, "m1", {}), 1));
  EXPECT_TRUE(MUST(access().delete_scope_map(kDefaultRegistryId, "m1")));
  MUST(access().create_scope_map(scope_map_of(kDefaultRegistryId, "m3", {}), 2));
  EXPECT_EQ(names_of_scope_maps(MUST(access().list_scope_maps(kDefaultRegistryId))),
            (std::vector<std::string>{"m2", "m3"}));
}

TEST_P(AccessStoreConformance, UpdateScopeMapReplacesDescriptionAndActions) {
  ScopeMapRecord map = scope_map_of(kDefaultRegistryId, "ci", {"a", "b", "c"});
  map.description = "before";
  map.created_at = 77;
  MUST(access().create_scope_map(map, kNoLimit));
  MUST(access().create_scope_map(scope_map_of(kDefaultRegistryId, "bystander", {"x"}), kNoLimit));

  ScopeMapRecord changed = scope_map_of(kDefaultRegistryId, "CI", {"c", "d", "c", "a"});
  changed.description = "after";
  changed.created_at = 1;  // not updatable
  EXPECT_TRUE(MUST(access().update_scope_map(changed)));
  std::optional<ScopeMapRecord> found = MUST(access().find_scope_map(kDefaultRegistryId, "ci"));
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->name, "ci");
  EXPECT_EQ(found->description, "after");
  EXPECT_EQ(found->created_at, 77);
  EXPECT_EQ(found->actions, (std::vector<std::string>{"c", "d", "a"}));

  changed.actions.clear();
  EXPECT_TRUE(MUST(access().update_scope_map(changed)));
  EXPECT_TRUE(MUST(access().find_scope_map(kDefaultRegistryId, "ci"))->actions.empty());
  EXPECT_EQ(MUST(access().find_scope_map(kDefaultRegistryId, "bystander"))->actions,
            std::vector<std::string>{"x"});

  EXPECT_FALSE(MUST(access().update_scope_map(scope_map_of(kDefaultRegistryId, "absent", {"a"}))));
  EXPECT_FALSE(MUST(access().update_scope_map(scope_map_of(999, "ci", {"a"}))));
  EXPECT_EQ(MUST(access().find_scope_map(kDefaultRegistryId, "absent")), std::nullopt);
  EXPECT_EQ(error_of(access().update_scope_map(scope_map_of(kDefaultRegistryId, "ci", {""}))),
            Errc::invalid_argument);
}

TEST_P(AccessStoreConformance, ScopeMapInUseByATokenCannotBeDeleted) {
  const RegistryId other = NEW_REGISTRY("other");
  MUST(access().create_scope_map(scope_map_of(kDefaultRegistryId, "Deploy", {"a"}), kNoLimit));
  MUST(access().create_scope_map(scope_map_of(other, "deploy", {"a"}), kNoLimit));
  // The token names the map in another spelling; it is still the same map.
  MUST(access().create_token(token_of(kDefaultRegistryId, "robot", "DEPLOY"), kNoLimit));
  MUST(access().create_token(token_of(kDefaultRegistryId, "puller", "_repositories_pull"),
                             kNoLimit));

  EXPECT_EQ(error_of(access().delete_scope_map(kDefaultRegistryId, "deploy")), Errc::conflict);
  EXPECT_TRUE(MUST(access().find_scope_map(kDefaultRegistryId, "deploy")).has_value());
  // A token of another registry does not hold this one's map.
  EXPECT_TRUE(MUST(access().delete_scope_map(other, "DEPLOY")));
  EXPECT_EQ(MUST(access().find_scope_map(other, "deploy")), std::nullopt);

  // Moving the token to another map frees it.
  TokenRecord robot = token_of(kDefaultRegistryId, "robot", "_repositories_push");
  EXPECT_TRUE(MUST(access().update_token(robot)));
  EXPECT_TRUE(MUST(access().delete_scope_map(kDefaultRegistryId, "Deploy")));
  EXPECT_FALSE(MUST(access().delete_scope_map(kDefaultRegistryId, "Deploy")));
  EXPECT_FALSE(MUST(access().delete_scope_map(kDefaultRegistryId, "_repositories_pull")));
  EXPECT_EQ(MUST(access().find_scope_map(kDefaultRegistryId, "deploy")), std::nullopt);
}

TEST_P(AccessStoreConformance, ScopeMapBadInputIsRefused) {
  EXPECT_EQ(error_of(access().create_scope_map(scope_map_of(999, "m", {"a"}), kNoLimit)),
            Errc::not_found);
  EXPECT_EQ(
      error_of(access().create_scope_map(scope_map_of(kDefaultRegistryId, "", {"a"}), kNoLimit)),
      Errc::invalid_argument);
  EXPECT_EQ(error_of(access().create_scope_map(scope_map_of(kDefaultRegistryId, "m", {"a", ""}),
                                               kNoLimit)),
            Errc::invalid_argument);
  EXPECT_EQ(error_of(access().find_scope_map(kDefaultRegistryId, "")), Errc::invalid_argument);
  EXPECT_EQ(error_of(access().delete_scope_map(kDefaultRegistryId, "")), Errc::invalid_argument);
  EXPECT_TRUE(MUST(access().list_scope_maps(kDefaultRegistryId)).empty());
  EXPECT_TRUE(MUST(access().list_scope_maps(999)).empty());
  // Names are data, never SQL.
  const std::string odd = "x'); DROP TABLE scope_maps; --";
  MUST(access().create_scope_map(scope_map_of(kDefaultRegistryId, odd, {odd}), kNoLimit));
  EXPECT_EQ(MUST(access().find_scope_map(kDefaultRegistryId, odd))->actions,
            std::vector<std::string>{odd});
}

// --- tokens ---

TEST_P(AccessStoreConformance, TokenRoundTripsWithPasswordsSortedByName) {
  TokenRecord token = token_of(kDefaultRegistryId, "CI-Robot", "_repositories_push",
                               {password_of("password2", "k1$two", 1'900'000'000),
                                password_of("password1", "$argon2id$one")});
  token.enabled = false;
  token.created_at = 1'700'000'000;
  token.passwords[0].created_at = 1'700'000'050;
  const std::int64_t before = unix_now();
  MUST(access().create_token(token, kNoLimit));

  for (std::string_view spelling : {"CI-Robot", "ci-robot", "CI-ROBOT"}) {
    std::optional<TokenRecord> found = MUST(access().find_token(kDefaultRegistryId, spelling));
    ASSERT_TRUE(found.has_value()) << spelling;
    EXPECT_EQ(found->registry, kDefaultRegistryId);
    EXPECT_EQ(found->name, "CI-Robot");
    EXPECT_EQ(found->scope_map, "_repositories_push");
    EXPECT_FALSE(found->enabled);
    EXPECT_EQ(found->created_at, 1'700'000'000);
    ASSERT_EQ(found->passwords.size(), 2u);
    EXPECT_EQ(found->passwords[0].name, "password1");
    EXPECT_EQ(found->passwords[0].secret_hash, "$argon2id$one");
    EXPECT_EQ(found->passwords[0].expiry, std::nullopt);
    EXPECT_GE(found->passwords[0].created_at, before);
    EXPECT_LE(found->passwords[0].created_at, unix_now());
    EXPECT_EQ(found->passwords[1].name, "password2");
    EXPECT_EQ(found->passwords[1].secret_hash, "k1$two");
    EXPECT_EQ(found->passwords[1].expiry, std::optional<std::int64_t>(1'900'000'000));
    EXPECT_EQ(found->passwords[1].created_at, 1'700'000'050);
  }
  EXPECT_EQ(MUST(access().find_token(kDefaultRegistryId, "ci")), std::nullopt);
  EXPECT_EQ(MUST(access().find_token(999, "ci-robot")), std::nullopt);

  MUST(access().create_token(token_of(kDefaultRegistryId, "bare", "_repositories_pull"), kNoLimit));
  MUST(access().create_token(token_of(kDefaultRegistryId, "alpha", "_repositories_admin",
                                      {password_of("password1", "h", 0)}),
                             kNoLimit));
  std::vector<TokenRecord> all = MUST(access().list_tokens(kDefaultRegistryId));
  EXPECT_EQ(names_of_tokens(all), (std::vector<std::string>{"alpha", "bare", "CI-Robot"}));
  ASSERT_EQ(all.size(), 3u);
  ASSERT_EQ(all[0].passwords.size(), 1u);
  EXPECT_EQ(all[0].passwords[0].expiry, std::optional<std::int64_t>(0));  // 0 is a time too
  EXPECT_TRUE(all[1].enabled);
  EXPECT_GE(all[1].created_at, before);
  EXPECT_TRUE(all[1].passwords.empty());
  EXPECT_EQ(all[2].passwords.size(), 2u);
}

TEST_P(AccessStoreConformance, TokenNamesAreUniquePerRegistryIgnoringCase) {
  const RegistryId other = NEW_REGISTRY("other");
  MUST(access().create_token(
      token_of(kDefaultRegistryId, "robot", "m", {password_of("password1", "h1")}), kNoLimit));
  EXPECT_EQ(
      error_of(access().create_token(
          token_of(kDefaultRegistryId, "ROBOT", "m", {password_of("password1", "h2")}), kNoLimit)),
      Errc::conflict);
  // The loser's password did not land on the winner.
  std::optional<TokenRecord> robot = MUST(access().find_token(kDefaultRegistryId, "robot"));
  ASSERT_TRUE(robot.has_value());
  ASSERT_EQ(robot->passwords.size(), 1u);
  EXPECT_EQ(robot->passwords[0].secret_hash, "h1");
  MUST(access().create_token(token_of(other, "Robot", "m"), kNoLimit));
  EXPECT_EQ(MUST(access().list_tokens(other)).size(), 1u);
  EXPECT_EQ(MUST(access().list_tokens(kDefaultRegistryId)).size(), 1u);
}

TEST_P(AccessStoreConformance, TokensAreBoundedPerRegistry) {
  const RegistryId other = NEW_REGISTRY("other");
  for (int i = 0; i < 3; ++i) {
    MUST(access().create_token(token_of(kDefaultRegistryId, numbered("t", i), "m"), 3));
  }
  EXPECT_EQ(error_of(access().create_token(token_of(kDefaultRegistryId, "t3", "m"), 3)),
            Errc::limit_reached);
  EXPECT_EQ(error_of(access().create_token(token_of(other, "t0", "m"), 0)), Errc::limit_reached);
  MUST(access().create_token(token_of(other, "t0", "m"), 1));
  EXPECT_TRUE(MUST(access().delete_token(kDefaultRegistryId, "T0")));
  MUST(access().create_token(token_of(kDefaultRegistryId, "t3", "m"), 3));
  EXPECT_EQ(MUST(access().list_tokens(kDefaultRegistryId)).size(), 3u);
}

// The count and the insert are one transaction: racing creates never overshoot the limit.
TEST_P(AccessStoreConformance, ConcurrentTokenCreatesStayWithinTheLimit) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 6;
  constexpr std::uint64_t kLimit = 10;
  const RegistryId other = NEW_REGISTRY("other");
  std::atomic<int> created{0};
  std::atomic<int> refused{0};
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string name = numbered(numbered("t", t) + "-", i);
        auto done = access().create_token(
            token_of(kDefaultRegistryId, name, "m", {password_of("password1", name)}), kLimit);
        if (done) {
          created++;
        } else if (done.error().code == Errc::limit_reached) {
          refused++;
        } else {
          failed++;
        }
        // Another registry's tokens fill up on their own.
        if (!access().create_token(token_of(other, name, "m"), kNoLimit)) failed++;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(created.load(), static_cast<int>(kLimit));
  EXPECT_EQ(refused.load(), kThreads * kPerThread - static_cast<int>(kLimit));
  std::vector<TokenRecord> tokens = MUST(access().list_tokens(kDefaultRegistryId));
  EXPECT_EQ(tokens.size(), kLimit);
  for (const TokenRecord& token : tokens) {
    ASSERT_EQ(token.passwords.size(), 1u) << token.name;
    EXPECT_EQ(token.passwords[0].secret_hash, token.name);
  }
  EXPECT_EQ(MUST(access().list_tokens(other)).size(),
            static_cast<std::size_t>(kThreads * kPerThread));
}

TEST_P(AccessStoreConformance, UpdateTokenReplacesScopeMapEnabledAndPasswords) {
  TokenRecord token = token_of(kDefaultRegistryId, "robot", "first",
                               {password_of("password1", "h1"), password_of("password2", "h2")});
  token.created_at = 10;
  MUST(access().create_token(token, kNoLimit));
  MUST(access().create_token(
      token_of(kDefaultRegistryId, "bystander", "first", {password_of("password1", "b1")}),
      kNoLimit));

  TokenRecord changed = token_of(kDefaultRegistryId, "Robot", "second",
                                 {password_of("password2", "h2-new", 2'000'000'000)});
  changed.enabled = false;
  changed.created_at = 99;  // not updatable
  EXPECT_TRUE(MUST(access().update_token(changed)));
  std::optional<TokenRecord> found = MUST(access().find_token(kDefaultRegistryId, "robot"));
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->name, "robot");
  EXPECT_EQ(found->scope_map, "second");
  EXPECT_FALSE(found->enabled);
  EXPECT_EQ(found->created_at, 10);
  ASSERT_EQ(found->passwords.size(), 1u);
  EXPECT_EQ(found->passwords[0].name, "password2");
  EXPECT_EQ(found->passwords[0].secret_hash, "h2-new");
  EXPECT_EQ(found->passwords[0].expiry, std::optional<std::int64_t>(2'000'000'000));

  changed.passwords.clear();
  changed.enabled = true;
  EXPECT_TRUE(MUST(access().update_token(changed)));
  found = MUST(access().find_token(kDefaultRegistryId, "robot"));
  ASSERT_TRUE(found.has_value());
  EXPECT_TRUE(found->passwords.empty());
  EXPECT_TRUE(found->enabled);
  EXPECT_EQ(MUST(access().find_token(kDefaultRegistryId, "bystander"))->passwords.size(), 1u);

  EXPECT_FALSE(MUST(access().update_token(token_of(kDefaultRegistryId, "absent", "m"))));
  EXPECT_FALSE(MUST(access().update_token(token_of(999, "robot", "m"))));
  EXPECT_EQ(MUST(access().find_token(kDefaultRegistryId, "absent")), std::nullopt);
}

TEST_P(AccessStoreConformance, TokenBadInputIsRefused) {
  auto create = [&](TokenRecord record) {
    return error_of(access().create_token(record, kNoLimit));
  };
  EXPECT_EQ(create(token_of(999, "t", "m")), Errc::not_found);
  EXPECT_EQ(create(token_of(kDefaultRegistryId, "", "m")), Errc::invalid_argument);
  EXPECT_EQ(create(token_of(kDefaultRegistryId, "t", "")), Errc::invalid_argument);
  EXPECT_EQ(create(token_of(kDefaultRegistryId, "t", "m",
                            {password_of("password1", "a"), password_of("password2", "b"),
                             password_of("password3", "c")})),
            Errc::invalid_argument);
  EXPECT_EQ(create(token_of(kDefaultRegistryId, "t", "m",
                            {password_of("password1", "a"), password_of("PASSWORD1", "b")})),
            Errc::invalid_argument);
  EXPECT_EQ(create(token_of(kDefaultRegistryId, "t", "m", {password_of("", "a")})),
            Errc::invalid_argument);
  EXPECT_EQ(create(token_of(kDefaultRegistryId, "t", "m", {password_of("password1", "")})),
            Errc::invalid_argument);
  EXPECT_TRUE(MUST(access().list_tokens(kDefaultRegistryId)).empty());

  MUST(access().create_token(
      token_of(kDefaultRegistryId, "t", "m", {password_of("password1", "a")}), kNoLimit));
  TokenRecord three = token_of(kDefaultRegistryId, "t", "m",
                               {password_of("password1", "a"), password_of("password2", "b"),
                                password_of("password3", "c")});
  EXPECT_EQ(error_of(access().update_token(three)), Errc::invalid_argument);
  EXPECT_EQ(MUST(access().find_token(kDefaultRegistryId, "t"))->passwords.size(), 1u);
  EXPECT_EQ(error_of(access().find_token(kDefaultRegistryId, "")), Errc::invalid_argument);
  EXPECT_EQ(error_of(access().delete_token(kDefaultRegistryId, "")), Errc::invalid_argument);
}

TEST_P(AccessStoreConformance, DeleteTokenTakesItsPasswords) {
  MUST(access().create_token(
      token_of(kDefaultRegistryId, "robot", "m",
               {password_of("password1", "old1"), password_of("password2", "old2")}),
      kNoLimit));
  EXPECT_TRUE(MUST(access().delete_token(kDefaultRegistryId, "ROBOT")));
  EXPECT_FALSE(MUST(access().delete_token(kDefaultRegistryId, "robot")));
  EXPECT_EQ(MUST(access().find_token(kDefaultRegistryId, "robot")), std::nullopt);
  // A new token of the same name starts without the old one's passwords.
  MUST(access().create_token(token_of(kDefaultRegistryId, "robot", "m"), kNoLimit));
  EXPECT_TRUE(MUST(access().find_token(kDefaultRegistryId, "robot"))->passwords.empty());
}

// --- identities ---

TEST_P(AccessStoreConformance, IdentityRoundTripsEveryField) {
  IdentityRecord federated = federated_of("id-fed", "GitHub-Deploy", "https://issuer.example",
                                          "repo:org/app:ref:refs/heads/main");
  federated.claims_json = R"({"environment":"prod"})";
  federated.expiry = 2'000'000'000;
  federated.enabled = false;
  federated.created_at = 1'650'000'000;
  MUST(access().create_identity(federated));
  std::optional<IdentityRecord> found = MUST(access().find_identity("id-fed"));
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->id, "id-fed");
  EXPECT_EQ(found->name, "GitHub-Deploy");
  EXPECT_EQ(found->kind, IdentityKind::federated);
  EXPECT_EQ(found->secret_hash, "");
  EXPECT_EQ(found->expiry, std::optional<std::int64_t>(2'000'000'000));
  EXPECT_FALSE(found->enabled);
  EXPECT_EQ(found->issuer, "https://issuer.example");
  EXPECT_EQ(found->audience, "berth");
  EXPECT_EQ(found->jwks, "https://127.0.0.1:8443/keys");
  EXPECT_EQ(found->subject, "repo:org/app:ref:refs/heads/main");
  EXPECT_EQ(found->claims_json, R"({"environment":"prod"})");
  EXPECT_EQ(found->created_at, 1'650'000'000);

  const std::int64_t before = unix_now();
  IdentityRecord sp = user_of("id-sp", "builder");
  sp.kind = IdentityKind::service_principal;
  sp.secret_hash = "k1$abc";
  MUST(access().create_identity(sp));
  found = MUST(access().find_identity("id-sp"));
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->kind, IdentityKind::service_principal);
  EXPECT_EQ(found->secret_hash, "k1$abc");
  EXPECT_EQ(found->expiry, std::nullopt);
  EXPECT_TRUE(found->enabled);
  EXPECT_GE(found->created_at, before);
  EXPECT_LE(found->created_at, unix_now());

  MUST(access().create_identity(user_of("id-user", "alice")));
  EXPECT_EQ(MUST(access().find_identity("id-user"))->kind, IdentityKind::user);
  // Ids are exact: no case folding.
  EXPECT_EQ(MUST(access().find_identity("ID-USER")), std::nullopt);
  EXPECT_EQ(MUST(access().find_identity("id")), std::nullopt);

  std::vector<std::string> names;
  for (const IdentityRecord& identity : MUST(access().list_identities())) {
    names.push_back(identity.name);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"alice", "builder", "GitHub-Deploy"}));
}

TEST_P(AccessStoreConformance, IdentityIdsAndNamesAreUnique) {
  MUST(access().create_identity(user_of("id-1", "Alice")));
  EXPECT_EQ(error_of(access().create_identity(user_of("id-1", "bob"))), Errc::conflict);
  EXPECT_EQ(error_of(access().create_identity(user_of("id-2", "alice"))), Errc::conflict);
  EXPECT_EQ(error_of(access().create_identity(user_of("id-2", "ALICE"))), Errc::conflict);
  EXPECT_EQ(MUST(access().list_identities()).size(), 1u);
  EXPECT_EQ(error_of(access().create_identity(user_of("", "carol"))), Errc::invalid_argument);
  EXPECT_EQ(error_of(access().create_identity(user_of("id-3", ""))), Errc::invalid_argument);
  EXPECT_EQ(error_of(access().find_identity("")), Errc::invalid_argument);
  EXPECT_EQ(error_of(access().delete_identity("")), Errc::invalid_argument);
  EXPECT_EQ(MUST(access().list_identities()).size(), 1u);
}

TEST_P(AccessStoreConformance, FederatedIdentitiesOfAnIssuer) {
  const std::string issuer = "https://token.actions.example";
  MUST(access().create_identity(federated_of("f-2", "zeta", issuer, "sub-2")));
  MUST(access().create_identity(federated_of("f-1", "Alpha", issuer, "sub-1")));
  MUST(access().create_identity(federated_of("f-3", "other", "https://elsewhere.example", "s")));
  // A user that happens to carry the same issuer text is not a federated identity.
  IdentityRecord user = user_of("u-1", "beta");
  user.issuer = issuer;
  MUST(access().create_identity(user));

  std::vector<IdentityRecord> found = MUST(access().federated_identities(issuer));
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].id, "f-1");
  EXPECT_EQ(found[0].subject, "sub-1");
  EXPECT_EQ(found[1].id, "f-2");
  // The issuer is compared exactly.
  EXPECT_TRUE(MUST(access().federated_identities(issuer + "/")).empty());
  EXPECT_TRUE(MUST(access().federated_identities("HTTPS://TOKEN.ACTIONS.EXAMPLE")).empty());
  EXPECT_EQ(MUST(access().federated_identities("https://elsewhere.example")).size(), 1u);
  EXPECT_EQ(error_of(access().federated_identities("")), Errc::invalid_argument);
}

TEST_P(AccessStoreConformance, UpdateIdentityReplacesAllButIdAndCreation) {
  IdentityRecord alice = user_of("id-a", "alice");
  alice.created_at = 100;
  MUST(access().create_identity(alice));
  MUST(access().create_identity(user_of("id-b", "bob")));

  IdentityRecord changed = federated_of("id-a", "Alice-Fed", "https://issuer.example", "sub");
  changed.claims_json = R"({"x":1})";
  changed.expiry = 5;
  changed.enabled = false;
  changed.created_at = 1;  // not updatable
  EXPECT_TRUE(MUST(access().update_identity(changed)));
  std::optional<IdentityRecord> found = MUST(access().find_identity("id-a"));
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->name, "Alice-Fed");
  EXPECT_EQ(found->kind, IdentityKind::federated);
  EXPECT_EQ(found->secret_hash, "");
  EXPECT_EQ(found->expiry, std::optional<std::int64_t>(5));
  EXPECT_FALSE(found->enabled);
  EXPECT_EQ(found->issuer, "https://issuer.example");
  EXPECT_EQ(found->claims_json, R"({"x":1})");
  EXPECT_EQ(found->created_at, 100);
  EXPECT_EQ(MUST(access().federated_identities("https://issuer.example")).size(), 1u);

  // Back to a user: the expiry can be cleared.
  IdentityRecord back = user_of("id-a", "alice");
  EXPECT_TRUE(MUST(access().update_identity(back)));
  EXPECT_EQ(MUST(access().find_identity("id-a"))->expiry, std::nullopt);
  EXPECT_TRUE(MUST(access().federated_identities("https://issuer.example")).empty());

  EXPECT_EQ(error_of(access().update_identity(user_of("id-a", "BOB"))), Errc::conflict);
  EXPECT_EQ(MUST(access().find_identity("id-a"))->name, "alice");
  EXPECT_FALSE(MUST(access().update_identity(user_of("id-zzz", "carol"))));
  EXPECT_EQ(MUST(access().list_identities()).size(), 2u);
}

// --- role assignments ---

TEST_P(AccessStoreConformance, RoleAssignmentsListInOrderAndFilter) {
  const RegistryId other = NEW_REGISTRY("other");
  MUST(access().create_identity(user_of("alice", "alice")));
  MUST(access().create_identity(user_of("bob", "bob")));
  MUST(access().create_role_assignment(role_of("r3", "alice", "AcrPull", other, "", 30)));
  MUST(
      access().create_role_assignment(role_of("r2", "bob", "AcrPush", kDefaultRegistryId, "", 20)));
  MUST(access().create_role_assignment(
      role_of("r1", "alice", "AcrPush", kDefaultRegistryId, "samples/*", 20)));
  MUST(
      access().create_role_assignment(role_of("r0", "alice", "Owner", kDefaultRegistryId, "", 40)));

  std::vector<RoleAssignmentRecord> all =
      MUST(access().list_role_assignments(std::nullopt, std::nullopt));
  EXPECT_EQ(ids_of(all), (std::vector<std::string>{"r1", "r2", "r3", "r0"}));
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[0].identity_id, "alice");
  EXPECT_EQ(all[0].role, "AcrPush");
  EXPECT_EQ(all[0].registry, kDefaultRegistryId);
  EXPECT_EQ(all[0].repository, "samples/*");
  EXPECT_EQ(all[0].created_at, 20);

  EXPECT_EQ(ids_of(MUST(access().list_role_assignments(kDefaultRegistryId, std::nullopt))),
            (std::vector<std::string>{"r1", "r2", "r0"}));
  EXPECT_EQ(ids_of(MUST(access().list_role_assignments(std::nullopt, "alice"))),
            (std::vector<std::string>{"r1", "r3", "r0"}));
  EXPECT_EQ(ids_of(MUST(access().list_role_assignments(other, "alice"))),
            std::vector<std::string>{"r3"});
  EXPECT_TRUE(MUST(access().list_role_assignments(other, "bob")).empty());
  EXPECT_TRUE(MUST(access().list_role_assignments(std::nullopt, "ALICE")).empty());
  EXPECT_TRUE(MUST(access().list_role_assignments(999, std::nullopt)).empty());

  EXPECT_TRUE(MUST(access().delete_role_assignment("r2")));
  EXPECT_FALSE(MUST(access().delete_role_assignment("r2")));
  EXPECT_EQ(error_of(access().delete_role_assignment("")), Errc::invalid_argument);
  EXPECT_EQ(MUST(access().list_role_assignments(std::nullopt, std::nullopt)).size(), 3u);
}

TEST_P(AccessStoreConformance, RoleAssignmentConflictsAndMissingReferences) {
  MUST(access().create_identity(user_of("alice", "alice")));
  const std::int64_t before = unix_now();
  MUST(access().create_role_assignment(role_of("r1", "alice", "AcrPull", kDefaultRegistryId)));
  EXPECT_GE(MUST(access().list_role_assignments(std::nullopt, std::nullopt))[0].created_at, before);
  // The same grant again, under a new id: conflict. The same id: conflict.
  EXPECT_EQ(error_of(access().create_role_assignment(
                role_of("r2", "alice", "AcrPull", kDefaultRegistryId))),
            Errc::conflict);
  EXPECT_EQ(error_of(access().create_role_assignment(
                role_of("r1", "alice", "AcrPush", kDefaultRegistryId))),
            Errc::conflict);
  // Narrower scopes and other roles are other grants.
  MUST(access().create_role_assignment(
      role_of("r3", "alice", "AcrPull", kDefaultRegistryId, "app")));
  MUST(access().create_role_assignment(role_of("r4", "alice", "AcrPush", kDefaultRegistryId)));

  EXPECT_EQ(error_of(access().create_role_assignment(
                role_of("r5", "nobody", "AcrPull", kDefaultRegistryId))),
            Errc::not_found);
  EXPECT_EQ(error_of(access().create_role_assignment(role_of("r6", "alice", "AcrPull", 999))),
            Errc::not_found);
  EXPECT_EQ(error_of(access().create_role_assignment(role_of("", "alice", "AcrPull", 1))),
            Errc::invalid_argument);
  EXPECT_EQ(error_of(access().create_role_assignment(role_of("r7", "", "AcrPull", 1))),
            Errc::invalid_argument);
  EXPECT_EQ(error_of(access().create_role_assignment(role_of("r8", "alice", "", 1))),
            Errc::invalid_argument);
  EXPECT_EQ(ids_of(MUST(access().list_role_assignments(std::nullopt, std::nullopt))).size(), 3u);
}

TEST_P(AccessStoreConformance, DeleteIdentityTakesItsRoleAssignments) {
  MUST(access().create_identity(user_of("alice", "alice")));
  MUST(access().create_identity(user_of("bob", "bob")));
  MUST(access().create_role_assignment(role_of("a1", "alice", "AcrPull", kDefaultRegistryId)));
  MUST(access().create_role_assignment(role_of("a2", "alice", "Owner", kDefaultRegistryId)));
  MUST(access().create_role_assignment(role_of("b1", "bob", "AcrPull", kDefaultRegistryId)));
  EXPECT_TRUE(MUST(access().delete_identity("alice")));
  EXPECT_FALSE(MUST(access().delete_identity("alice")));
  EXPECT_EQ(MUST(access().find_identity("alice")), std::nullopt);
  EXPECT_EQ(ids_of(MUST(access().list_role_assignments(std::nullopt, std::nullopt))),
            std::vector<std::string>{"b1"});
  // A new identity under the old id inherits nothing.
  MUST(access().create_identity(user_of("alice", "alice")));
  EXPECT_TRUE(MUST(access().list_role_assignments(std::nullopt, "alice")).empty());
}

// --- network rules ---

TEST_P(AccessStoreConformance, NetworkRulesAddListRemove) {
  const RegistryId other = NEW_REGISTRY("other");
  MUST(access().add_network_rule(
      {.registry = kDefaultRegistryId, .address_range = "10.1.0.0/16", .created_at = 20},
      kNoLimit));
  MUST(access().add_network_rule(
      {.registry = kDefaultRegistryId, .address_range = "2001:db8::/32", .created_at = 10},
      kNoLimit));
  MUST(access().add_network_rule(
      {.registry = kDefaultRegistryId, .address_range = "192.0.2.7/32", .created_at = 20},
      kNoLimit));
  std::vector<NetworkRuleRecord> rules = MUST(access().list_network_rules(kDefaultRegistryId));
  EXPECT_EQ(ranges_of(rules),
            (std::vector<std::string>{"2001:db8::/32", "10.1.0.0/16", "192.0.2.7/32"}));
  ASSERT_EQ(rules.size(), 3u);
  EXPECT_EQ(rules[0].registry, kDefaultRegistryId);
  EXPECT_EQ(rules[0].created_at, 10);

  EXPECT_EQ(error_of(access().add_network_rule(
                {.registry = kDefaultRegistryId, .address_range = "10.1.0.0/16"}, kNoLimit)),
            Errc::conflict);
  EXPECT_EQ(error_of(access().add_network_rule(
                {.registry = kDefaultRegistryId, .address_range = "2001:DB8::/32"}, kNoLimit)),
            Errc::conflict);
  MUST(access().add_network_rule({.registry = other, .address_range = "10.1.0.0/16"}, kNoLimit));
  EXPECT_EQ(MUST(access().list_network_rules(other)).size(), 1u);

  EXPECT_TRUE(MUST(access().remove_network_rule(kDefaultRegistryId, "10.1.0.0/16")));
  EXPECT_FALSE(MUST(access().remove_network_rule(kDefaultRegistryId, "10.1.0.0/16")));
  EXPECT_FALSE(MUST(access().remove_network_rule(kDefaultRegistryId, "10.1.0.0/8")));
  EXPECT_EQ(MUST(access().list_network_rules(kDefaultRegistryId)).size(), 2u);
  EXPECT_EQ(MUST(access().list_network_rules(other)).size(), 1u);

  EXPECT_EQ(error_of(access().add_network_rule({.registry = 999, .address_range = "10.0.0.0/8"},
                                               kNoLimit)),
            Errc::not_found);
  EXPECT_EQ(error_of(access().add_network_rule({.registry = other, .address_range = ""}, kNoLimit)),
            Errc::invalid_argument);
  EXPECT_EQ(error_of(access().remove_network_rule(other, "")), Errc::invalid_argument);
  EXPECT_TRUE(MUST(access().list_network_rules(999)).empty());
}

TEST_P(AccessStoreConformance, NetworkRulesAreBoundedPerRegistry) {
  const RegistryId other = NEW_REGISTRY("other");
  for (int i = 0; i < 4; ++i) {
    MUST(access().add_network_rule(
        {.registry = kDefaultRegistryId, .address_range = "10.0.0." + std::to_string(i) + "/32"},
        4));
  }
  EXPECT_EQ(error_of(access().add_network_rule(
                {.registry = kDefaultRegistryId, .address_range = "10.0.0.9/32"}, 4)),
            Errc::limit_reached);
  // A duplicate at the limit is refused for the limit; either way nothing is added.
  EXPECT_EQ(MUST(access().list_network_rules(kDefaultRegistryId)).size(), 4u);
  EXPECT_EQ(
      error_of(access().add_network_rule({.registry = other, .address_range = "10.0.0.0/8"}, 0)),
      Errc::limit_reached);
  MUST(access().add_network_rule({.registry = other, .address_range = "10.0.0.0/8"}, 1));
  EXPECT_TRUE(MUST(access().remove_network_rule(kDefaultRegistryId, "10.0.0.0/32")));
  MUST(access().add_network_rule({.registry = kDefaultRegistryId, .address_range = "10.0.0.9/32"},
                                 4));
  EXPECT_EQ(MUST(access().list_network_rules(kDefaultRegistryId)).size(), 4u);
}

// --- signing keys ---

TEST_P(AccessStoreConformance, ActivatingASigningKeyDeactivatesTheOthers) {
  EXPECT_TRUE(MUST(access().list_signing_keys()).empty());
  MUST(access().add_signing_key(
      {.kid = "k1", .sealed_private_key = "s1$a", .created_at = 100, .active = true}));
  MUST(access().add_signing_key(
      {.kid = "k2", .sealed_private_key = "s1$b", .created_at = 200, .active = false}));
  std::vector<SigningKeyRecord> keys = MUST(access().list_signing_keys());
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_EQ(keys[0].kid, "k2");  // newest first
  EXPECT_FALSE(keys[0].active);
  EXPECT_EQ(keys[0].sealed_private_key, "s1$b");
  EXPECT_EQ(keys[0].created_at, 200);
  EXPECT_EQ(keys[1].kid, "k1");
  EXPECT_TRUE(keys[1].active);  // an inactive key does not take over

  MUST(access().add_signing_key(
      {.kid = "k3", .sealed_private_key = "s1$c", .created_at = 300, .active = true}));
  keys = MUST(access().list_signing_keys());
  ASSERT_EQ(keys.size(), 3u);
  EXPECT_EQ(keys[0].kid, "k3");
  EXPECT_TRUE(keys[0].active);
  EXPECT_FALSE(keys[1].active);
  EXPECT_FALSE(keys[2].active);

  // A failed add (kid taken) must not have deactivated the signing key.
  EXPECT_EQ(error_of(access().add_signing_key(
                {.kid = "k1", .sealed_private_key = "s1$d", .created_at = 400, .active = true})),
            Errc::conflict);
  keys = MUST(access().list_signing_keys());
  ASSERT_EQ(keys.size(), 3u);
  EXPECT_EQ(keys[0].kid, "k3");
  EXPECT_TRUE(keys[0].active);
  EXPECT_EQ(keys[2].sealed_private_key, "s1$a");

  EXPECT_TRUE(MUST(access().delete_signing_key("k1")));
  EXPECT_FALSE(MUST(access().delete_signing_key("k1")));
  EXPECT_EQ(MUST(access().list_signing_keys()).size(), 2u);
  EXPECT_EQ(error_of(access().delete_signing_key("")), Errc::invalid_argument);
  EXPECT_EQ(error_of(access().add_signing_key({.kid = "", .sealed_private_key = "s"})),
            Errc::invalid_argument);
  EXPECT_EQ(error_of(access().add_signing_key({.kid = "k9", .sealed_private_key = ""})),
            Errc::invalid_argument);
}

TEST_P(AccessStoreConformance, ConcurrentActivationsLeaveOneActiveKey) {
  constexpr int kThreads = 8;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      if (!access().add_signing_key({.kid = numbered("k", t),
                                     .sealed_private_key = "s1$x",
                                     .created_at = 1000,
                                     .active = true})) {
        failures++;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  std::vector<SigningKeyRecord> keys = MUST(access().list_signing_keys());
  ASSERT_EQ(keys.size(), static_cast<std::size_t>(kThreads));
  EXPECT_EQ(std::count_if(keys.begin(), keys.end(), [](const auto& key) { return key.active; }), 1);
  // Same creation time: the last added comes first, and it is the one that signs.
  EXPECT_TRUE(keys[0].active);
}

// --- login audit ---

LoginEventRecord login_event(std::int64_t time, std::optional<RegistryId> registry,
                             std::string identity, bool success) {
  return LoginEventRecord{.time = time,
                          .registry = registry,
                          .identity = std::move(identity),
                          .identity_kind = "token",
                          .client_address = "127.0.0.1",
                          .success = success,
                          .method = "basic",
                          .reason = success ? "" : "wrong password"};
}

TEST_P(AccessStoreConformance, LoginEventsRoundTripNewestFirst) {
  MUST(access().append_login_events({}));
  EXPECT_TRUE(MUST(access().list_login_events({})).empty());
  LoginEventRecord first = login_event(100, kDefaultRegistryId, "robot", false);
  first.client_address = "::1";
  first.identity_kind = "adminUser";
  first.method = "oauth2/token";
  LoginEventRecord second = login_event(0, std::nullopt, "", true);  // time 0: now
  const std::int64_t before = unix_now();
  MUST(access().append_login_events({first, second}));
  std::vector<LoginEventRecord> events = MUST(access().list_login_events({}));
  ASSERT_EQ(events.size(), 2u);
  EXPECT_GT(events[0].id, events[1].id);
  EXPECT_GT(events[1].id, 0);
  EXPECT_GE(events[0].time, before);
  EXPECT_EQ(events[0].registry, std::nullopt);
  EXPECT_EQ(events[0].identity, "");
  EXPECT_TRUE(events[0].success);
  EXPECT_EQ(events[0].reason, "");
  EXPECT_EQ(events[1].time, 100);
  EXPECT_EQ(events[1].registry, std::optional<RegistryId>(kDefaultRegistryId));
  EXPECT_EQ(events[1].identity, "robot");
  EXPECT_EQ(events[1].identity_kind, "adminUser");
  EXPECT_EQ(events[1].client_address, "::1");
  EXPECT_FALSE(events[1].success);
  EXPECT_EQ(events[1].method, "oauth2/token");
  EXPECT_EQ(events[1].reason, "wrong password");
}

TEST_P(AccessStoreConformance, LoginEventFilters) {
  const RegistryId other = NEW_REGISTRY("other");
  std::vector<LoginEventRecord> batch;
  for (int i = 0; i < 40; ++i) {
    batch.push_back(
        login_event(1000 + i,
                    i % 4 == 3 ? std::nullopt
                               : std::optional<RegistryId>(i % 2 == 0 ? kDefaultRegistryId : other),
                    i % 3 == 0 ? "alice" : "bob", i % 5 != 0));
  }
  MUST(access().append_login_events(batch));
  std::vector<LoginEventRecord> all = MUST(access().list_login_events({}));
  ASSERT_EQ(all.size(), 40u);

  // Each filter, checked against the same predicate applied to everything.
  auto expect_matches = [&](const LoginEventFilter& filter, auto predicate, const char* what) {
    std::vector<std::int64_t> expected;
    for (const LoginEventRecord& event : all) {
      if (predicate(event)) expected.push_back(event.id);
    }
    EXPECT_FALSE(expected.empty()) << what;
    EXPECT_EQ(ids_of(MUST(access().list_login_events(filter))), expected) << what;
  };
  expect_matches(
      {.registry = other}, [&](const auto& e) { return e.registry == other; }, "registry");
  expect_matches(
      {.identity = "alice"}, [](const auto& e) { return e.identity == "alice"; }, "identity");
  expect_matches(
      {.success = false}, [](const auto& e) { return !e.success; }, "failures");
  expect_matches(
      {.since = 1010, .until = 1020}, [](const auto& e) { return e.time >= 1010 && e.time < 1020; },
      "time window");
  expect_matches(
      {.registry = kDefaultRegistryId, .identity = "alice", .success = true},
      [](const auto& e) {
        return e.registry == kDefaultRegistryId && e.identity == "alice" && e.success;
      },
      "registry, identity and outcome");
  expect_matches(
      {.identity = "bob", .success = false, .since = 1005},
      [](const auto& e) { return e.identity == "bob" && !e.success && e.time >= 1005; },
      "identity, outcome and since");
  EXPECT_TRUE(MUST(access().list_login_events({.registry = 999})).empty());
  EXPECT_TRUE(MUST(access().list_login_events({.identity = "ALICE"})).empty());
  EXPECT_TRUE(MUST(access().list_login_events({.since = 1020, .until = 1020})).empty());
  EXPECT_TRUE(MUST(access().list_login_events({.since = 2000})).empty());
}

TEST_P(AccessStoreConformance, LoginEventPagination) {
  const RegistryId other = NEW_REGISTRY("other");
  std::vector<LoginEventRecord> batch;
  for (int i = 0; i < 250; ++i) {
    batch.push_back(login_event(5000 + i, i % 2 == 0 ? kDefaultRegistryId : other, "robot", true));
  }
  MUST(access().append_login_events(batch));

  for (std::optional<RegistryId> registry : {std::optional<RegistryId>(), std::optional(other)}) {
    std::vector<std::int64_t> paged;
    LoginEventFilter filter{.registry = registry, .limit = 33};
    for (;;) {
      std::vector<LoginEventRecord> page = MUST(access().list_login_events(filter));
      EXPECT_LE(page.size(), 33u);
      if (page.empty()) break;
      for (const LoginEventRecord& event : page) paged.push_back(event.id);
      filter.before_id = page.back().id;
    }
    std::vector<std::int64_t> at_once =
        ids_of(MUST(access().list_login_events({.registry = registry, .limit = 1000})));
    EXPECT_EQ(paged, at_once);
    EXPECT_EQ(paged.size(), registry ? 125u : 250u);
    EXPECT_TRUE(std::is_sorted(paged.rbegin(), paged.rend()));
    EXPECT_EQ(std::set<std::int64_t>(paged.begin(), paged.end()).size(), paged.size());
  }

  // Boundaries of before_id and limit.
  std::vector<LoginEventRecord> newest = MUST(access().list_login_events({.limit = 1}));
  ASSERT_EQ(newest.size(), 1u);
  EXPECT_EQ(MUST(access().list_login_events({.before_id = newest[0].id + 1, .limit = 1}))[0].id,
            newest[0].id);
  EXPECT_TRUE(MUST(access().list_login_events({.limit = 0})).empty());
  EXPECT_TRUE(MUST(access().list_login_events({.before_id = 1})).empty());
  EXPECT_TRUE(MUST(access().list_login_events({.before_id = 0})).empty());
  EXPECT_TRUE(
      MUST(access().list_login_events({.before_id = std::numeric_limits<std::int64_t>::min()}))
          .empty());
  EXPECT_EQ(MUST(access().list_login_events(
                     {.before_id = std::numeric_limits<std::int64_t>::max(), .limit = 300}))
                .size(),
            250u);
}

TEST_P(AccessStoreConformance, LoginEventPagesAreCappedAtOneThousand) {
  std::vector<LoginEventRecord> batch;
  for (int i = 0; i < 1100; ++i) batch.push_back(login_event(7000 + i, std::nullopt, "x", true));
  MUST(access().append_login_events(batch));
  EXPECT_EQ(MUST(access().list_login_events({.limit = 1000})).size(), 1000u);
  EXPECT_EQ(MUST(access().list_login_events({.limit = 1001})).size(), 1000u);
  EXPECT_EQ(
      MUST(access().list_login_events({.limit = std::numeric_limits<std::size_t>::max()})).size(),
      1000u);
}

TEST_P(AccessStoreConformance, PruneLoginEventsRemovesOnlyOlderOnesAndIdsNeverComeBack) {
  std::vector<LoginEventRecord> batch;
  for (int i = 0; i < 10; ++i) batch.push_back(login_event(100 + i, std::nullopt, "x", true));
  MUST(access().append_login_events(batch));
  const std::int64_t newest_id = MUST(access().list_login_events({.limit = 1}))[0].id;

  EXPECT_EQ(MUST(access().prune_login_events(100)), 0u);
  EXPECT_EQ(MUST(access().prune_login_events(105)), 5u);
  std::vector<LoginEventRecord> left = MUST(access().list_login_events({}));
  ASSERT_EQ(left.size(), 5u);
  EXPECT_EQ(left.back().time, 105);
  EXPECT_EQ(MUST(access().prune_login_events(std::numeric_limits<std::int64_t>::max())), 5u);
  EXPECT_TRUE(MUST(access().list_login_events({})).empty());

  MUST(access().append_login_events({login_event(1, std::nullopt, "y", false)}));
  std::vector<LoginEventRecord> fresh = MUST(access().list_login_events({}));
  ASSERT_EQ(fresh.size(), 1u);
  EXPECT_GT(fresh[0].id, newest_id);
}

// --- registry deletion and restarts ---

TEST_P(AccessStoreConformance, DeleteRegistryTakesItsAccessRecords) {
  const RegistryId doomed = NEW_REGISTRY("doomed");
  MUST(access().create_identity(user_of("alice", "alice")));
  for (RegistryId registry : {kDefaultRegistryId, doomed}) {
    MUST(access().put_admin_password(registry, {.name = "password", .sealed_value = "s1$p"}));
    MUST(access().create_scope_map(scope_map_of(registry, "map", {"a", "b"}), kNoLimit));
    MUST(access().create_token(token_of(registry, "robot", "map", {password_of("password1", "h")}),
                               kNoLimit));
    MUST(access().create_role_assignment(
        role_of(numbered("ra-", registry), "alice", "AcrPull", registry)));
    MUST(
        access().add_network_rule({.registry = registry, .address_range = "10.0.0.0/8"}, kNoLimit));
    MUST(access().append_login_events({login_event(10, registry, "robot", true)}));
  }
  EXPECT_TRUE(MUST(store().delete_registry(doomed)));

  EXPECT_TRUE(MUST(access().admin_passwords(doomed)).empty());
  EXPECT_TRUE(MUST(access().list_scope_maps(doomed)).empty());
  EXPECT_TRUE(MUST(access().list_tokens(doomed)).empty());
  EXPECT_TRUE(MUST(access().list_role_assignments(doomed, std::nullopt)).empty());
  EXPECT_TRUE(MUST(access().list_network_rules(doomed)).empty());
  // The identity is the deployment's, and the audit outlives the registry.
  EXPECT_TRUE(MUST(access().find_identity("alice")).has_value());
  EXPECT_EQ(MUST(access().list_login_events({.registry = doomed})).size(), 1u);

  // The other registry keeps everything.
  EXPECT_EQ(MUST(access().admin_passwords(kDefaultRegistryId)).size(), 1u);
  EXPECT_EQ(MUST(access().find_scope_map(kDefaultRegistryId, "map"))->actions.size(), 2u);
  EXPECT_EQ(MUST(access().find_token(kDefaultRegistryId, "robot"))->passwords.size(), 1u);
  EXPECT_EQ(MUST(access().list_role_assignments(std::nullopt, "alice")).size(), 1u);
  EXPECT_EQ(MUST(access().list_network_rules(kDefaultRegistryId)).size(), 1u);

  // A registry created under the old name starts empty.
  const RegistryId reborn = NEW_REGISTRY("doomed");
  EXPECT_NE(reborn, doomed);
  EXPECT_TRUE(MUST(access().list_tokens(reborn)).empty());
  EXPECT_EQ(MUST(access().find_token(reborn, "robot")), std::nullopt);
  MUST(access().create_token(token_of(reborn, "robot", "map"), 1));
}

TEST_P(AccessStoreConformance, AccessRecordsSurviveReopening) {
  const RegistryId team = NEW_REGISTRY("team");
  MUST(access().put_admin_password(team,
                                   {.name = "password", .sealed_value = "s1$p", .created_at = 3}));
  MUST(access().create_scope_map(scope_map_of(team, "map", {"z", "a"}), kNoLimit));
  MUST(access().create_token(token_of(team, "robot", "map", {password_of("password1", "h", 123)}),
                             kNoLimit));
  IdentityRecord fed = federated_of("fed", "fed", "https://issuer.example", "sub");
  MUST(access().create_identity(fed));
  MUST(access().create_role_assignment(role_of("ra", "fed", "AcrPush", team, "app", 9)));
  MUST(access().add_network_rule({.registry = team, .address_range = "192.0.2.0/24"}, kNoLimit));
  MUST(access().add_signing_key({.kid = "k1", .sealed_private_key = "s1$k", .active = true}));
  MUST(access().append_login_events({login_event(50, team, "robot", true)}));
  const std::int64_t event_id = MUST(access().list_login_events({}))[0].id;

  ASSERT_TRUE(reopen());

  EXPECT_EQ(MUST(access().admin_passwords(team)).size(), 1u);
  EXPECT_EQ(MUST(access().find_scope_map(team, "MAP"))->actions,
            (std::vector<std::string>{"z", "a"}));
  std::optional<TokenRecord> robot = MUST(access().find_token(team, "robot"));
  ASSERT_TRUE(robot.has_value());
  ASSERT_EQ(robot->passwords.size(), 1u);
  EXPECT_EQ(robot->passwords[0].expiry, std::optional<std::int64_t>(123));
  EXPECT_EQ(MUST(access().federated_identities("https://issuer.example")).size(), 1u);
  std::vector<RoleAssignmentRecord> roles = MUST(access().list_role_assignments(team, "fed"));
  ASSERT_EQ(roles.size(), 1u);
  EXPECT_EQ(roles[0].repository, "app");
  EXPECT_EQ(ranges_of(MUST(access().list_network_rules(team))),
            std::vector<std::string>{"192.0.2.0/24"});
  std::vector<SigningKeyRecord> keys = MUST(access().list_signing_keys());
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_TRUE(keys[0].active);
  std::vector<LoginEventRecord> events = MUST(access().list_login_events({}));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].id, event_id);
  // Ids keep increasing across the restart.
  MUST(access().append_login_events({login_event(51, team, "robot", true)}));
  EXPECT_GT(MUST(access().list_login_events({.limit = 1}))[0].id, event_id);
  // The limits still count what was there before.
  EXPECT_EQ(error_of(access().create_token(token_of(team, "second", "map"), 1)),
            Errc::limit_reached);
}

}  // namespace
}  // namespace berth::metadata
