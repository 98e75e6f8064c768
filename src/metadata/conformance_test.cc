// The MetadataStore conformance suite: every backend must pass it unchanged. Only the
// MetadataStore interface is used here; backends instantiate the suite in their own test file.

#include "metadata/conformance_test.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "oci/digest.h"

namespace berth::metadata {
namespace {

using oci::Digest;

constexpr char kImageManifest[] = "application/vnd.oci.image.manifest.v1+json";
constexpr char kImageIndex[] = "application/vnd.oci.image.index.v1+json";

// Unwraps a successful result; otherwise records a failure at the caller's line with the
// store's message and returns an empty value so the test can go on reporting.
template <class T>
T must(Result<T> result, const char* file, int line) {
  if (!result) {
    ADD_FAILURE_AT(file, line) << "store call failed: " << result.error().message;
    return T();
  }
  return std::move(*result);
}

inline void must(Result<void> result, const char* file, int line) {
  if (!result) ADD_FAILURE_AT(file, line) << "store call failed: " << result.error().message;
}

#define MUST(expr) must((expr), __FILE__, __LINE__)

// The error code of a call expected to fail.
template <class T>
std::optional<Errc> error_of(const Result<T>& result) {
  if (result) return std::nullopt;
  return result.error().code;
}

std::string manifest_json(std::string_view seed) {
  return R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","seed":")" +
         std::string(seed) + R"("})";
}

ManifestRecord manifest_of(std::string content, std::string media_type = kImageManifest) {
  Digest digest = oci::digest_of(content);
  return ManifestRecord{
      .digest = std::move(digest),
      .media_type = std::move(media_type),
      .content = std::move(content),
      .created_at = 1'700'000'000,
  };
}

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
    std::vector<std::string> names = MUST(store.list_repositories(last, page));
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
    std::vector<std::string> names = MUST(store.list_tags(repository, last, page));
    EXPECT_LE(names.size(), page);
    if (names.empty()) return all;
    all.insert(all.end(), names.begin(), names.end());
    last = names.back();
  }
}

// --- repositories ---

TEST_P(MetadataStoreConformance, EmptyStoreHasNoRepositories) {
  EXPECT_FALSE(MUST(store().repository_exists("library/alpine")));
  EXPECT_TRUE(MUST(store().list_repositories("", 100)).empty());
  EXPECT_TRUE(MUST(store().list_tags("library/alpine", "", 100)).empty());
}

TEST_P(MetadataStoreConformance, UploadCreatesRepository) {
  MUST(store().create_upload({.id = "u-1", .repository = "team/app", .created_at = 5}));
  EXPECT_TRUE(MUST(store().repository_exists("team/app")));
  EXPECT_FALSE(MUST(store().repository_exists("team")));
  EXPECT_EQ(MUST(store().list_repositories("", 10)), std::vector<std::string>{"team/app"});
}

TEST_P(MetadataStoreConformance, BlobLinkCreatesRepository) {
  MUST(store().link_blob("team/app", blob_digest("layer"), 5));
  EXPECT_TRUE(MUST(store().repository_exists("team/app")));
}

TEST_P(MetadataStoreConformance, ManifestCreatesRepository) {
  MUST(store().put_manifest("team/app", manifest_of(manifest_json("a")), {}, std::nullopt));
  EXPECT_TRUE(MUST(store().repository_exists("team/app")));
}

TEST_P(MetadataStoreConformance, RepositoryCreatedOnceThoughUsedManyWays) {
  MUST(store().create_upload({.id = "u-1", .repository = "r"}));
  MUST(store().link_blob("r", blob_digest("b"), 1));
  MUST(store().put_manifest("r", manifest_of(manifest_json("m")), {}, std::string("t")));
  EXPECT_EQ(MUST(store().list_repositories("", 10)), std::vector<std::string>{"r"});
}

// --- blobs ---

TEST_P(MetadataStoreConformance, LinkBlobIsIdempotent) {
  const Digest digest = blob_digest("layer-1");
  MUST(store().link_blob("r", digest, 1234));
  MUST(store().link_blob("r", digest, 1234));
  EXPECT_EQ(MUST(store().linked_blob_size("r", digest)), std::optional<std::uint64_t>(1234));
}

TEST_P(MetadataStoreConformance, UnlinkBlobReportsWhetherItWasLinked) {
  const Digest digest = blob_digest("layer-1");
  MUST(store().link_blob("r", digest, 10));
  EXPECT_TRUE(MUST(store().unlink_blob("r", digest)));
  EXPECT_FALSE(MUST(store().unlink_blob("r", digest)));
  EXPECT_EQ(MUST(store().linked_blob_size("r", digest)), std::nullopt);
  EXPECT_FALSE(MUST(store().unlink_blob("never-created", digest)));

  // Linking again after an unlink works and keeps the known size.
  MUST(store().link_blob("r", digest, 10));
  EXPECT_EQ(MUST(store().linked_blob_size("r", digest)), std::optional<std::uint64_t>(10));
}

TEST_P(MetadataStoreConformance, LinkedBlobSizeOfUnknownIsNullopt) {
  EXPECT_EQ(MUST(store().linked_blob_size("nope", blob_digest("x"))), std::nullopt);
  MUST(store().link_blob("r", blob_digest("a"), 1));
  EXPECT_EQ(MUST(store().linked_blob_size("r", blob_digest("x"))), std::nullopt);
}

TEST_P(MetadataStoreConformance, ZeroAndHugeBlobSizesRoundTrip) {
  const std::uint64_t huge = std::uint64_t{1} << 45;  // 32 TiB
  MUST(store().link_blob("r", blob_digest("empty"), 0));
  MUST(store().link_blob("r", blob_digest("huge"), huge));
  EXPECT_EQ(MUST(store().linked_blob_size("r", blob_digest("empty"))),
            std::optional<std::uint64_t>(0));
  EXPECT_EQ(MUST(store().linked_blob_size("r", blob_digest("huge"))),
            std::optional<std::uint64_t>(huge));
}

TEST_P(MetadataStoreConformance, LinkingKnownBlobWithOtherSizeIsConflict) {
  const Digest digest = blob_digest("layer");
  MUST(store().link_blob("a", digest, 100));
  EXPECT_EQ(error_of(store().link_blob("b", digest, 101)), Errc::conflict);
  EXPECT_EQ(MUST(store().linked_blob_size("b", digest)), std::nullopt);
  // The failed call left nothing behind, not even the repository it would have created.
  EXPECT_FALSE(MUST(store().repository_exists("b")));
  EXPECT_EQ(MUST(store().linked_blob_size("a", digest)), std::optional<std::uint64_t>(100));
}

TEST_P(MetadataStoreConformance, BlobLinksArePerRepository) {
  const Digest digest = blob_digest("shared-layer");
  MUST(store().link_blob("a", digest, 7));
  EXPECT_EQ(MUST(store().linked_blob_size("b", digest)), std::nullopt);
  MUST(store().link_blob("b", digest, 7));
  EXPECT_TRUE(MUST(store().unlink_blob("a", digest)));
  EXPECT_EQ(MUST(store().linked_blob_size("a", digest)), std::nullopt);
  EXPECT_EQ(MUST(store().linked_blob_size("b", digest)), std::optional<std::uint64_t>(7));
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
  EXPECT_TRUE(MUST(store().repository_exists("team/app")));
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
  EXPECT_FALSE(MUST(store().repository_exists("b")));
  std::optional<UploadRecord> upload = MUST(store().get_upload("same"));
  ASSERT_TRUE(upload.has_value());
  EXPECT_EQ(upload->repository, "a");
}

// --- manifests ---

TEST_P(MetadataStoreConformance, ManifestRoundTripsEveryField) {
  const Digest subject = oci::digest_of(manifest_json("subject"));
  ManifestRecord record = manifest_of(manifest_json("full"));
  record.artifact_type = "application/vnd.example.sbom";
  record.subject = subject;
  record.annotations_json = R"({"org.opencontainers.image.created":"2024-01-01T00:00:00Z"})";
  record.created_at = 1'234'567'890;
  MUST(store().put_manifest("r", record, {}, std::nullopt));

  std::optional<ManifestRecord> got = MUST(store().get_manifest("r", record.digest));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->digest, record.digest);
  EXPECT_EQ(got->media_type, record.media_type);
  EXPECT_EQ(got->artifact_type, record.artifact_type);
  EXPECT_EQ(got->subject, record.subject);
  EXPECT_EQ(got->annotations_json, record.annotations_json);
  EXPECT_EQ(got->content, record.content);
  EXPECT_EQ(got->created_at, record.created_at);
  EXPECT_TRUE(MUST(store().manifest_exists("r", record.digest)));
}

TEST_P(MetadataStoreConformance, ManifestWithEmptyOptionalFields) {
  ManifestRecord record = manifest_of(manifest_json("plain"), kImageIndex);
  MUST(store().put_manifest("r", record, {}, std::nullopt));
  std::optional<ManifestRecord> got = MUST(store().get_manifest("r", record.digest));
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
  MUST(store().put_manifest("r", record, {}, std::string("bin")));
  std::optional<ManifestRecord> got = MUST(store().get_manifest("r", record.digest));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->content.size(), content.size());
  EXPECT_TRUE(got->content == content);
}

TEST_P(MetadataStoreConformance, LargeManifestContent) {
  std::string content(4 * 1024 * 1024, '\0');
  std::mt19937_64 random(42);
  for (char& c : content) c = static_cast<char>(random());
  ManifestRecord record = manifest_of(content);
  MUST(store().put_manifest("r", record, {}, std::string("big")));
  std::optional<ManifestRecord> got = MUST(store().get_manifest("r", record.digest));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->content.size(), content.size());
  EXPECT_TRUE(got->content == content);
  EXPECT_EQ(MUST(store().resolve_tag("r", "big")), std::optional<Digest>(record.digest));
}

TEST_P(MetadataStoreConformance, EmptyManifestContentRoundTrips) {
  ManifestRecord record = manifest_of("");
  MUST(store().put_manifest("r", record, {}, std::nullopt));
  std::optional<ManifestRecord> got = MUST(store().get_manifest("r", record.digest));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->content, "");
}

TEST_P(MetadataStoreConformance, UnknownManifestIsAbsent) {
  const Digest digest = oci::digest_of("nothing");
  EXPECT_EQ(MUST(store().get_manifest("r", digest)), std::nullopt);
  EXPECT_FALSE(MUST(store().manifest_exists("r", digest)));
  EXPECT_EQ(MUST(store().resolve_tag("r", "latest")), std::nullopt);
  EXPECT_FALSE(MUST(store().delete_manifest("r", digest)));
  EXPECT_FALSE(MUST(store().delete_tag("r", "latest")));
}

TEST_P(MetadataStoreConformance, PuttingSameDigestAgainIsNoOpButTags) {
  ManifestRecord first = manifest_of(manifest_json("same"));
  first.created_at = 1000;
  first.annotations_json = R"({"first":"yes"})";
  MUST(store().put_manifest("r", first, {{blob_digest("l1"), ReferenceKind::blob}},
                            std::string("v1")));

  ManifestRecord again = first;
  again.created_at = 2000;
  again.annotations_json = R"({"first":"no"})";
  MUST(store().put_manifest("r", again, {{blob_digest("l1"), ReferenceKind::blob}},
                            std::string("v2")));

  std::optional<ManifestRecord> got = MUST(store().get_manifest("r", first.digest));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->created_at, 1000);
  EXPECT_EQ(got->annotations_json, first.annotations_json);
  EXPECT_EQ(MUST(store().resolve_tag("r", "v1")), std::optional<Digest>(first.digest));
  EXPECT_EQ(MUST(store().resolve_tag("r", "v2")), std::optional<Digest>(first.digest));
  EXPECT_EQ(MUST(store().list_tags("r", "", 10)), (std::vector<std::string>{"v1", "v2"}));
}

TEST_P(MetadataStoreConformance, ReferencesMayRepeatAndMixKinds) {
  const Digest layer = blob_digest("layer");
  const Digest child = oci::digest_of(manifest_json("child"));
  ManifestRecord index = manifest_of(manifest_json("index"), kImageIndex);
  std::vector<ManifestReference> references = {
      {layer, ReferenceKind::blob},
      {layer, ReferenceKind::blob},  // the same layer twice in one image is legal
      {child, ReferenceKind::manifest},
      {layer, ReferenceKind::manifest},
  };
  MUST(store().put_manifest("r", index, references, std::string("idx")));
  EXPECT_TRUE(MUST(store().manifest_exists("r", index.digest)));
}

// --- tags ---

TEST_P(MetadataStoreConformance, TagMovesToNewManifest) {
  ManifestRecord old_image = manifest_of(manifest_json("old"));
  ManifestRecord new_image = manifest_of(manifest_json("new"));
  MUST(store().put_manifest("r", old_image, {}, std::string("latest")));
  EXPECT_EQ(MUST(store().resolve_tag("r", "latest")), std::optional<Digest>(old_image.digest));

  MUST(store().put_manifest("r", new_image, {}, std::string("latest")));
  EXPECT_EQ(MUST(store().resolve_tag("r", "latest")), std::optional<Digest>(new_image.digest));
  // The previous manifest stays, untagged.
  EXPECT_TRUE(MUST(store().manifest_exists("r", old_image.digest)));
  EXPECT_EQ(MUST(store().list_tags("r", "", 10)), std::vector<std::string>{"latest"});

  // And the tag can move back by pushing the old manifest again.
  MUST(store().put_manifest("r", old_image, {}, std::string("latest")));
  EXPECT_EQ(MUST(store().resolve_tag("r", "latest")), std::optional<Digest>(old_image.digest));
}

TEST_P(MetadataStoreConformance, DeleteTagKeepsManifest) {
  ManifestRecord image = manifest_of(manifest_json("img"));
  MUST(store().put_manifest("r", image, {}, std::string("a")));
  MUST(store().put_manifest("r", image, {}, std::string("b")));
  EXPECT_TRUE(MUST(store().delete_tag("r", "a")));
  EXPECT_FALSE(MUST(store().delete_tag("r", "a")));
  EXPECT_EQ(MUST(store().resolve_tag("r", "a")), std::nullopt);
  EXPECT_EQ(MUST(store().resolve_tag("r", "b")), std::optional<Digest>(image.digest));
  EXPECT_TRUE(MUST(store().manifest_exists("r", image.digest)));
}

TEST_P(MetadataStoreConformance, DeleteManifestTakesItsTags) {
  ManifestRecord doomed = manifest_of(manifest_json("doomed"));
  ManifestRecord kept = manifest_of(manifest_json("kept"));
  MUST(store().put_manifest("r", doomed, {{blob_digest("l"), ReferenceKind::blob}},
                            std::string("one")));
  MUST(store().put_manifest("r", doomed, {}, std::string("two")));
  MUST(store().put_manifest("r", kept, {}, std::string("three")));

  EXPECT_TRUE(MUST(store().delete_manifest("r", doomed.digest)));
  EXPECT_FALSE(MUST(store().manifest_exists("r", doomed.digest)));
  EXPECT_EQ(MUST(store().get_manifest("r", doomed.digest)), std::nullopt);
  EXPECT_EQ(MUST(store().resolve_tag("r", "one")), std::nullopt);
  EXPECT_EQ(MUST(store().resolve_tag("r", "two")), std::nullopt);
  EXPECT_EQ(MUST(store().resolve_tag("r", "three")), std::optional<Digest>(kept.digest));
  EXPECT_EQ(MUST(store().list_tags("r", "", 10)), std::vector<std::string>{"three"});
  EXPECT_FALSE(MUST(store().delete_manifest("r", doomed.digest)));

  // Pushing it again stores it afresh, references included.
  MUST(store().put_manifest("r", doomed, {{blob_digest("l"), ReferenceKind::blob}},
                            std::string("one")));
  EXPECT_EQ(MUST(store().resolve_tag("r", "one")), std::optional<Digest>(doomed.digest));
}

TEST_P(MetadataStoreConformance, TagsListInByteOrder) {
  std::vector<std::string> tags = {
      "latest", "Latest", "v1.10", "v1.9", "v1.0",     "1.0",           "0", "_x", "Z", "a", "A",
      "a-b",    "a.b",    "a_b",   "v1",   "v1.0-rc1", "sha256-abc.sig"};
  ManifestRecord image = manifest_of(manifest_json("img"));
  for (const std::string& tag : tags) MUST(store().put_manifest("r", image, {}, tag));
  std::sort(tags.begin(), tags.end());
  EXPECT_EQ(MUST(store().list_tags("r", "", 1000)), tags);
  EXPECT_EQ(all_pages_of_tags(store(), "r", 1), tags);
  EXPECT_EQ(all_pages_of_tags(store(), "r", 4), tags);
}

TEST_P(MetadataStoreConformance, TagPaginationBoundaries) {
  std::vector<std::string> tags;
  for (int i = 0; i < 1100; ++i) tags.push_back("t" + std::to_string(i));
  ManifestRecord image = manifest_of(manifest_json("img"));
  parallel_for(static_cast<int>(tags.size()), [&](int i) {
    MUST(store().put_manifest("r", image, {}, tags[static_cast<std::size_t>(i)]));
  });
  std::sort(tags.begin(), tags.end());

  EXPECT_EQ(all_pages_of_tags(store(), "r", 100), tags);
  EXPECT_EQ(all_pages_of_tags(store(), "r", 1000), tags);
  EXPECT_EQ(MUST(store().list_tags("r", "", 5000)), tags);
  EXPECT_EQ(MUST(store().list_tags("r", "", 1000)).size(), 1000u);
  EXPECT_TRUE(MUST(store().list_tags("r", "", 0)).empty());
  EXPECT_TRUE(MUST(store().list_tags("r", tags.back(), 10)).empty());
  EXPECT_TRUE(MUST(store().list_tags("r", "zzz", 10)).empty());
  // `last` need not be an existing tag: the listing continues after where it would sort.
  EXPECT_EQ(MUST(store().list_tags("r", "t10", 2)), (std::vector<std::string>{"t100", "t1000"}));
  EXPECT_EQ(MUST(store().list_tags("r", "t1000", 2)), (std::vector<std::string>{"t1001", "t1002"}));
  EXPECT_EQ(MUST(store().list_tags("r", "s", 1)), std::vector<std::string>{tags.front()});
  EXPECT_EQ(MUST(store().list_tags("r", "", std::size_t(-1))).size(), tags.size());
}

TEST_P(MetadataStoreConformance, CatalogPagination) {
  std::vector<std::string> names = {"a",  "a-b",   "a.b", "a/b",    "a_b",
                                    "a0", "a/b/c", "ab",  "z/last", "library/alpine"};
  for (int i = 0; i < 1200; ++i) names.push_back("bulk/repo-" + std::to_string(i));
  parallel_for(static_cast<int>(names.size()), [&](int i) {
    // Create the repositories through all three paths that create them.
    const std::string& name = names[static_cast<std::size_t>(i)];
    if (i % 3 == 0) {
      MUST(store().link_blob(name, blob_digest("l"), 1));
    } else if (i % 3 == 1) {
      MUST(store().create_upload({.id = "upload-" + std::to_string(i), .repository = name}));
    } else {
      MUST(store().put_manifest(name, manifest_of(manifest_json("m")), {}, std::nullopt));
    }
  });
  std::sort(names.begin(), names.end());

  EXPECT_EQ(all_pages_of_repositories(store(), 100), names);
  EXPECT_EQ(all_pages_of_repositories(store(), 1), std::vector<std::string>(names));
  EXPECT_EQ(all_pages_of_repositories(store(), 1000), names);
  EXPECT_EQ(MUST(store().list_repositories("", 100000)), names);
  EXPECT_TRUE(MUST(store().list_repositories("", 0)).empty());
  EXPECT_TRUE(MUST(store().list_repositories(names.back(), 5)).empty());
  EXPECT_TRUE(MUST(store().list_repositories("zzzz", 5)).empty());
  EXPECT_EQ(MUST(store().list_repositories("a", 4)),
            (std::vector<std::string>{"a-b", "a.b", "a/b", "a/b/c"}));
  EXPECT_EQ(MUST(store().list_repositories("a/b/c", 2)), (std::vector<std::string>{"a0", "a_b"}));
}

// --- referrers ---

TEST_P(MetadataStoreConformance, ReferrersOfSubject) {
  ManifestRecord image = manifest_of(manifest_json("image"));
  MUST(store().put_manifest("r", image, {}, std::string("v1")));
  const Digest other_subject = oci::digest_of(manifest_json("other"));

  std::vector<ManifestRecord> sboms = {referrer_of(image.digest, "sbom-1", "application/sbom"),
                                       referrer_of(image.digest, "sbom-2", "application/sbom")};
  ManifestRecord signature = referrer_of(image.digest, "sig", "application/signature");
  for (const ManifestRecord& record : sboms) MUST(store().put_manifest("r", record, {}, {}));
  MUST(store().put_manifest("r", signature, {}, std::nullopt));
  // Same subject in another repository, and another subject here: neither listed.
  MUST(store().put_manifest("elsewhere", referrer_of(image.digest, "x", "application/sbom"), {},
                            std::nullopt));
  MUST(store().put_manifest("r", referrer_of(other_subject, "y", "application/sbom"), {},
                            std::nullopt));

  std::vector<ManifestRecord> everything = sboms;
  everything.push_back(signature);
  auto by_digest = [](const ManifestRecord& a, const ManifestRecord& b) {
    return a.digest < b.digest;
  };
  std::sort(everything.begin(), everything.end(), by_digest);
  std::sort(sboms.begin(), sboms.end(), by_digest);

  std::vector<Referrer> all = MUST(store().list_referrers("r", image.digest, std::nullopt));
  ASSERT_EQ(all.size(), everything.size());
  for (std::size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].digest, everything[i].digest);
    EXPECT_EQ(all[i].media_type, everything[i].media_type);
    EXPECT_EQ(all[i].artifact_type, everything[i].artifact_type);
    EXPECT_EQ(all[i].size, everything[i].content.size());
    EXPECT_EQ(all[i].annotations_json, everything[i].annotations_json);
  }

  std::vector<Referrer> filtered =
      MUST(store().list_referrers("r", image.digest, std::string("application/sbom")));
  ASSERT_EQ(filtered.size(), sboms.size());
  for (std::size_t i = 0; i < filtered.size(); ++i) {
    EXPECT_EQ(filtered[i].digest, sboms[i].digest);
  }

  EXPECT_TRUE(
      MUST(store().list_referrers("r", image.digest, std::string("application/none"))).empty());
  EXPECT_TRUE(MUST(store().list_referrers("nope", image.digest, std::nullopt)).empty());
  EXPECT_TRUE(
      MUST(store().list_referrers("r", oci::digest_of("no referrers"), std::nullopt)).empty());
}

TEST_P(MetadataStoreConformance, ReferrersMayPrecedeTheirSubject) {
  const Digest subject = oci::digest_of(manifest_json("not pushed yet"));
  ManifestRecord sig = referrer_of(subject, "sig", "application/signature");
  MUST(store().put_manifest("r", sig, {}, std::nullopt));
  std::vector<Referrer> found = MUST(store().list_referrers("r", subject, std::nullopt));
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].digest, sig.digest);
}

TEST_P(MetadataStoreConformance, DeletedReferrerLeavesListing) {
  ManifestRecord image = manifest_of(manifest_json("image"));
  ManifestRecord sig = referrer_of(image.digest, "sig", "application/signature");
  MUST(store().put_manifest("r", image, {}, std::nullopt));
  MUST(store().put_manifest("r", sig, {}, std::nullopt));
  EXPECT_TRUE(MUST(store().delete_manifest("r", sig.digest)));
  EXPECT_TRUE(MUST(store().list_referrers("r", image.digest, std::nullopt)).empty());
}

// --- isolation ---

TEST_P(MetadataStoreConformance, RepositoriesAreIsolated) {
  ManifestRecord in_a = manifest_of(manifest_json("a"));
  ManifestRecord in_b = manifest_of(manifest_json("b"));
  ManifestRecord shared = manifest_of(manifest_json("shared"));
  MUST(store().put_manifest("a", in_a, {}, std::string("latest")));
  MUST(store().put_manifest("b", in_b, {}, std::string("latest")));
  MUST(store().put_manifest("a", shared, {}, std::string("shared")));
  MUST(store().put_manifest("b", shared, {}, std::string("shared")));

  EXPECT_EQ(MUST(store().resolve_tag("a", "latest")), std::optional<Digest>(in_a.digest));
  EXPECT_EQ(MUST(store().resolve_tag("b", "latest")), std::optional<Digest>(in_b.digest));
  EXPECT_FALSE(MUST(store().manifest_exists("b", in_a.digest)));
  EXPECT_EQ(MUST(store().get_manifest("b", in_a.digest)), std::nullopt);

  // Deleting in one repository leaves the other's copy and tags alone.
  EXPECT_TRUE(MUST(store().delete_manifest("a", shared.digest)));
  EXPECT_TRUE(MUST(store().manifest_exists("b", shared.digest)));
  EXPECT_EQ(MUST(store().resolve_tag("b", "shared")), std::optional<Digest>(shared.digest));
  EXPECT_TRUE(MUST(store().delete_tag("b", "latest")));
  EXPECT_EQ(MUST(store().resolve_tag("a", "latest")), std::optional<Digest>(in_a.digest));
  EXPECT_FALSE(MUST(store().delete_manifest("b", in_a.digest)));

  EXPECT_EQ(MUST(store().list_tags("a", "", 10)), std::vector<std::string>{"latest"});
  EXPECT_EQ(MUST(store().list_tags("b", "", 10)), std::vector<std::string>{"shared"});
}

TEST_P(MetadataStoreConformance, NestedNamesAreDistinctRepositories) {
  ManifestRecord image = manifest_of(manifest_json("x"));
  MUST(store().put_manifest("team/app", image, {}, std::string("v1")));
  EXPECT_FALSE(MUST(store().repository_exists("team")));
  EXPECT_FALSE(MUST(store().repository_exists("team/app/sub")));
  EXPECT_EQ(MUST(store().resolve_tag("team", "v1")), std::nullopt);
}

// --- bad input ---

TEST_P(MetadataStoreConformance, EmptyNamesAreInvalidArguments) {
  const Digest digest = oci::digest_of("x");
  ManifestRecord image = manifest_of(manifest_json("x"));
  EXPECT_EQ(error_of(store().repository_exists("")), Errc::invalid_argument);
  EXPECT_EQ(error_of(store().link_blob("", digest, 1)), Errc::invalid_argument);
  EXPECT_EQ(error_of(store().linked_blob_size("", digest)), Errc::invalid_argument);
  EXPECT_EQ(error_of(store().unlink_blob("", digest)), Errc::invalid_argument);
  EXPECT_EQ(error_of(store().create_upload({.id = "", .repository = "r"})), Errc::invalid_argument);
  EXPECT_EQ(error_of(store().create_upload({.id = "u", .repository = ""})), Errc::invalid_argument);
  EXPECT_EQ(error_of(store().get_upload("")), Errc::invalid_argument);
  EXPECT_EQ(error_of(store().delete_upload("")), Errc::invalid_argument);
  EXPECT_EQ(error_of(store().put_manifest("", image, {}, std::nullopt)), Errc::invalid_argument);
  EXPECT_EQ(error_of(store().put_manifest("r", image, {}, std::string())), Errc::invalid_argument);
  EXPECT_EQ(error_of(store().get_manifest("", digest)), Errc::invalid_argument);
  EXPECT_EQ(error_of(store().manifest_exists("", digest)), Errc::invalid_argument);
  EXPECT_EQ(error_of(store().resolve_tag("", "t")), Errc::invalid_argument);
  EXPECT_EQ(error_of(store().resolve_tag("r", "")), Errc::invalid_argument);
  EXPECT_EQ(error_of(store().delete_manifest("", digest)), Errc::invalid_argument);
  EXPECT_EQ(error_of(store().delete_tag("", "t")), Errc::invalid_argument);
  EXPECT_EQ(error_of(store().delete_tag("r", "")), Errc::invalid_argument);
  EXPECT_EQ(error_of(store().list_tags("", "", 10)), Errc::invalid_argument);
  EXPECT_EQ(error_of(store().list_referrers("", digest, std::nullopt)), Errc::invalid_argument);
  // Nothing was created along the way.
  EXPECT_TRUE(MUST(store().list_repositories("", 10)).empty());
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
        if (auto r = store().link_blob(repository, layer, 100 + i); !r) {
          record_failure(r.error().message);
        }
        if (auto r = store().delete_upload(upload_id); !r) record_failure(r.error().message);
        ManifestRecord image = manifest_of(manifest_json(seed));
        if (auto r = store().put_manifest(repository, image, {{layer, ReferenceKind::blob}},
                                          "t" + std::to_string(i));
            !r) {
          record_failure(r.error().message);
        }
        if (auto r = store().put_manifest(repository, image, {}, std::string("latest")); !r) {
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
        auto latest = store().resolve_tag(repository, "latest");
        if (!latest) {
          record_failure(latest.error().message);
          continue;
        }
        if (*latest) {
          auto image = store().get_manifest(repository, **latest);
          if (!image) {
            record_failure(image.error().message);
          } else if (!*image) {
            record_failure("a tagged manifest was missing: " + (*latest)->str());
          } else if (oci::digest_of((*image)->content) != **latest) {
            record_failure("manifest content does not match its digest");
          }
        }
        if (auto r = store().list_repositories("", 100); !r) record_failure(r.error().message);
        if (auto r = store().list_tags(repository, "", 100); !r) {
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
  EXPECT_EQ(MUST(store().list_repositories("", 100)).size(), std::size_t{kWriters});
  for (int w = 0; w < kWriters; ++w) {
    EXPECT_EQ(MUST(store().list_tags(repository_of(w), "", 1000)).size(),
              std::size_t{kImagesPerWriter + 1});
    const std::string last_seed = repository_of(w) + "/" + std::to_string(kImagesPerWriter - 1);
    EXPECT_EQ(MUST(store().resolve_tag(repository_of(w), "latest")),
              std::optional<Digest>(oci::digest_of(manifest_json(last_seed))));
  }
}

// Failing writes interleaved with succeeding ones: each call is all-or-nothing on its own, so
// the failures leave no trace and take no other call down with them.
TEST_P(MetadataStoreConformance, ConcurrentFailuresStayIsolated) {
  constexpr int kCalls = 120;
  const Digest layer = blob_digest("contested");
  MUST(store().link_blob("owner", layer, 50));
  MUST(store().create_upload({.id = "taken", .repository = "owner"}));
  std::atomic<int> unexpected{0};
  parallel_for(kCalls, [&](int i) {
    const std::string good = "good/" + std::to_string(i);
    const std::string bad = "bad/" + std::to_string(i);
    switch (i % 3) {
      case 0:
        if (error_of(store().link_blob(bad, layer, 51)) != Errc::conflict) unexpected++;
        break;
      case 1:
        if (error_of(store().create_upload({.id = "taken", .repository = bad})) != Errc::conflict) {
          unexpected++;
        }
        break;
      default:
        break;
    }
    if (!store().put_manifest(good, manifest_of(manifest_json(good)), {}, std::string("v"))) {
      unexpected++;
    }
  });
  EXPECT_EQ(unexpected.load(), 0);
  std::vector<std::string> repositories = MUST(store().list_repositories("", 1000));
  EXPECT_EQ(repositories.size(), std::size_t{kCalls + 1});
  for (const std::string& name : repositories) {
    EXPECT_NE(name.rfind("bad/", 0), 0u) << name << " was left behind by a failed call";
  }
  for (int i = 0; i < kCalls; ++i) {
    const std::string good = "good/" + std::to_string(i);
    EXPECT_EQ(MUST(store().resolve_tag(good, "v")),
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
        if (!store().put_manifest("hot", image, {}, std::string("latest"))) failures++;
        if (!store().link_blob("hot", blob_digest("shared"), 9)) failures++;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(MUST(store().list_repositories("", 10)), std::vector<std::string>{"hot"});
  std::optional<Digest> latest = MUST(store().resolve_tag("hot", "latest"));
  ASSERT_TRUE(latest.has_value());
  EXPECT_TRUE(MUST(store().manifest_exists("hot", *latest)));
}

}  // namespace
}  // namespace berth::metadata
