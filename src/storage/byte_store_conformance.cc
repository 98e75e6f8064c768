// The driver suite: the contract of storage/byte_store.h, checked on a driver alone. Nothing
// here knows how a driver keeps its bytes; a new driver is done when this suite and the writer
// suite (blob_storage_conformance.cc) pass unchanged (see storage/conformance.h).

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "storage/conformance.h"

namespace berth::storage::testing {

void ByteStoreConformance::SetUp() {
  area_ = GetParam().make_area();
  store_ = area_->open();
}

void ByteStoreConformance::TearDown() {
  store_.reset();
  area_.reset();
}

namespace {

std::span<const std::byte> bytes_of(const std::vector<std::byte>& v) { return v; }

std::vector<std::byte> record_of(std::string_view text) {
  auto bytes = as_bytes(text);
  return {bytes.begin(), bytes.end()};
}

// Reads `size` bytes of an upload from `offset` through the handle, in `chunk`-sized reads.
std::string read_upload(UploadBytes& upload, std::uint64_t offset, std::uint64_t size,
                        std::size_t chunk = 1 << 16) {
  std::string out;
  std::vector<std::byte> buffer(chunk);
  while (out.size() < size) {
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(chunk, size - out.size()));
    auto n = upload.read(offset + out.size(), std::span(buffer).first(want));
    if (!n) {
      ADD_FAILURE() << "read: " << n.error().message;
      break;
    }
    if (*n == 0) break;
    out.append(reinterpret_cast<const char*>(buffer.data()), *n);
  }
  return out;
}

// Creates `id`, appends `content` in `pieces`, flushes and commits it as `digest`.
Result<BlobInfo> upload_as(ByteStore& store, std::string_view id, std::string_view content,
                           const oci::Digest& digest, int pieces = 1) {
  auto upload = store.create_upload(id);
  if (!upload) return upload.error();
  const std::size_t per_piece = std::max<std::size_t>(1, (content.size() + pieces - 1) / pieces);
  for (std::size_t at = 0; at < content.size(); at += per_piece) {
    if (auto r = (*upload)->append(as_bytes(content.substr(at, per_piece))); !r) return r.error();
  }
  return (*upload)->commit_as(digest);
}

}  // namespace

// ------------------------------------------------------------------ committed blobs

TEST_P(ByteStoreConformance, StoreThenStatOpenAndReadAtOffsets) {
  std::string content = "hello, content-addressed world";
  auto digest = sha256_of(content);
  auto info = store_->store(digest, as_bytes(content));
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->digest, digest);
  EXPECT_EQ(info->size, content.size());

  auto st = store_->stat(digest);
  ASSERT_TRUE(st);
  EXPECT_EQ(st->size, content.size());
  EXPECT_EQ(st->digest, digest);

  auto reader = store_->open(digest);
  ASSERT_TRUE(reader);
  EXPECT_EQ((*reader)->size(), content.size());
  std::vector<std::byte> buffer(5);
  auto n = (*reader)->read(7, buffer);
  ASSERT_TRUE(n);
  ASSERT_EQ(*n, 5u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(buffer.data()), 5), "conte");

  std::vector<std::byte> big(1000);
  n = (*reader)->read(content.size() - 6, big);
  ASSERT_TRUE(n);
  ASSERT_EQ(*n, 6u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(big.data()), 6), " world");

  n = (*reader)->read(content.size(), big);
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 0u);
  n = (*reader)->read(content.size() + 100, big);
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 0u);

  EXPECT_EQ(read_all(*store_, digest, 7), content);
}

TEST_P(ByteStoreConformance, StoreSameDigestTwiceKeepsOneCopy) {
  auto digest = sha256_of("twice");
  ASSERT_TRUE(store_->store(digest, as_bytes("twice")));
  auto again = store_->store(digest, as_bytes("twice"));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->size, 5u);
  EXPECT_EQ(read_all(*store_, digest), "twice");
  // One copy: a single remove makes it disappear.
  ASSERT_TRUE(store_->remove(digest));
  EXPECT_EQ(store_->stat(digest).error().code, Errc::not_found);
}

TEST_P(ByteStoreConformance, Sha512NamesAreTheirOwn) {
  auto digest = sha512_of("long hash");
  ASSERT_TRUE(store_->store(digest, as_bytes("long hash")));
  EXPECT_EQ(read_all(*store_, digest), "long hash");
  EXPECT_EQ(store_->stat(sha256_of("long hash")).error().code, Errc::not_found);
}

TEST_P(ByteStoreConformance, MissingBlobsAreNotFound) {
  auto digest = sha256_of("absent");
  EXPECT_EQ(store_->stat(digest).error().code, Errc::not_found);
  EXPECT_EQ(store_->open(digest).error().code, Errc::not_found);
  EXPECT_EQ(store_->remove(digest).error().code, Errc::not_found);
  auto sha512 = sha512_of("absent");
  EXPECT_EQ(store_->stat(sha512).error().code, Errc::not_found);
  EXPECT_EQ(store_->open(sha512).error().code, Errc::not_found);
}

TEST_P(ByteStoreConformance, RemoveDeletesBlobButOpenReaderKeepsWorking) {
  auto digest = sha256_of("to be removed");
  ASSERT_TRUE(store_->store(digest, as_bytes("to be removed")));
  auto reader = store_->open(digest);
  ASSERT_TRUE(reader);
  ASSERT_TRUE(store_->remove(digest));
  EXPECT_EQ(store_->stat(digest).error().code, Errc::not_found);
  EXPECT_EQ(store_->open(digest).error().code, Errc::not_found);
  EXPECT_EQ(store_->remove(digest).error().code, Errc::not_found);

  std::vector<std::byte> buffer(64);
  auto n = (*reader)->read(0, buffer);
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 13u);

  // Storing it again after removal works.
  ASSERT_TRUE(store_->store(digest, as_bytes("to be removed")));
  EXPECT_EQ(read_all(*store_, digest), "to be removed");
}

TEST_P(ByteStoreConformance, EmptyBlobs) {
  auto digest = sha256_of("");
  ASSERT_TRUE(store_->store(digest, {}));
  EXPECT_EQ(store_->stat(digest)->size, 0u);
  EXPECT_EQ(read_all(*store_, digest), "");

  auto empty512 = sha512_of("");
  auto info = upload_as(*store_, "empty", "", empty512);
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->size, 0u);
  EXPECT_EQ(store_->stat(empty512)->size, 0u);
}

TEST_P(ByteStoreConformance, ConcurrentStoresOfTheSameDigest) {
  constexpr int kThreads = 8;
  std::string content = random_content(300'000, 6);
  auto digest = sha256_of(content);
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      if (store_->store(digest, as_bytes(content))) ++ok;
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(ok.load(), kThreads);
  EXPECT_EQ(read_all(*store_, digest), content);
}

// Listing is a keyset walk in digest-text order: every committed blob exactly once, across
// algorithms and prefixes, whatever the page size; uploads never appear.
TEST_P(ByteStoreConformance, ListBlobsWalksEveryCommittedBlobInDigestOrder) {
  std::vector<std::string> expected;
  for (int i = 0; i < 40; ++i) {
    std::string content = std::string("blob number ") + std::to_string(i);
    auto digest = i % 5 == 0 ? sha512_of(content) : sha256_of(content);
    if (i % 2 == 0) {
      ASSERT_TRUE(store_->store(digest, as_bytes(content)));
    } else {
      ASSERT_TRUE(upload_as(*store_, "listed-" + std::to_string(i), content, digest));
    }
    expected.push_back(digest.str());
  }
  auto open_upload = store_->create_upload("in-progress");
  ASSERT_TRUE(open_upload);
  ASSERT_TRUE((*open_upload)->append(as_bytes("not a blob yet")));
  ASSERT_TRUE((*open_upload)->flush());
  std::sort(expected.begin(), expected.end());

  for (std::size_t page : {std::size_t{1}, std::size_t{7}, std::size_t{40}, std::size_t{1000}}) {
    std::vector<std::string> seen;
    std::string after;
    for (int guard = 0; guard < 100; ++guard) {
      auto listing = store_->list_blobs(after, page);
      ASSERT_TRUE(listing) << listing.error().message;
      ASSERT_LE(listing->blobs.size(), page);
      for (const StoredBlob& blob : listing->blobs) {
        seen.push_back(blob.digest.str());
        auto info = store_->stat(blob.digest);
        ASSERT_TRUE(info);
        EXPECT_EQ(blob.size, info->size);
        EXPECT_GT(blob.modified_at, 0);
      }
      if (listing->next.empty()) break;
      EXPECT_EQ(listing->next, listing->blobs.back().digest.str());
      after = listing->next;
    }
    EXPECT_EQ(seen, expected) << "page size " << page;
  }
  // A second store object walks the same blobs.
  auto other = open_again();
  auto all = other->list_blobs("", 1000);
  ASSERT_TRUE(all);
  EXPECT_EQ(all->blobs.size(), expected.size());
}

TEST_P(ByteStoreConformance, ListBlobsAfterARemovedOrUnknownDigestContinuesInOrder) {
  std::vector<oci::Digest> digests;
  for (int i = 0; i < 10; ++i) {
    std::string content = std::string("walk ") + std::to_string(i);
    digests.push_back(sha256_of(content));
    ASSERT_TRUE(store_->store(digests.back(), as_bytes(content)));
  }
  std::sort(digests.begin(), digests.end(),
            [](const oci::Digest& a, const oci::Digest& b) { return a.str() < b.str(); });
  // A cursor whose blob was removed meanwhile still resumes right after it.
  ASSERT_TRUE(store_->remove(digests[4]));
  auto listing = store_->list_blobs(digests[4].str(), 3);
  ASSERT_TRUE(listing);
  ASSERT_EQ(listing->blobs.size(), 3u);
  EXPECT_EQ(listing->blobs[0].digest, digests[5]);
  EXPECT_EQ(listing->blobs[2].digest, digests[7]);
  auto empty = store_->list_blobs("sha512:", 10);
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->blobs.empty());
  EXPECT_TRUE(empty->next.empty());
}

// ------------------------------------------------------------------ upload sessions

TEST_P(ByteStoreConformance, MissingUploadsAreNotFound) {
  EXPECT_EQ(store_->open_upload("nope").error().code, Errc::not_found);
  EXPECT_EQ(store_->upload_size("nope").error().code, Errc::not_found);
  EXPECT_EQ(store_->delete_upload("nope").error().code, Errc::not_found);
}

TEST_P(ByteStoreConformance, MalformedUploadIdsAreRejected) {
  const std::string bad[] = {
      "",         std::string(65, 'a'),   "../etc", "a/b", "a.b", "a b", "a_b",
      "\xc3\xbc", std::string("a\0b", 3), ".",      ".."};
  for (const auto& id : bad) {
    EXPECT_EQ(store_->create_upload(id).error().code, Errc::invalid_argument) << id;
    EXPECT_EQ(store_->open_upload(id).error().code, Errc::invalid_argument) << id;
    EXPECT_EQ(store_->upload_size(id).error().code, Errc::invalid_argument) << id;
    EXPECT_EQ(store_->delete_upload(id).error().code, Errc::invalid_argument) << id;
  }
  std::string longest(64, 'Z');
  longest[10] = '-';
  EXPECT_TRUE(store_->create_upload(longest));
  EXPECT_TRUE(store_->create_upload("-"));
  EXPECT_TRUE(is_valid_upload_id("0123-abcd-ABCD"));
}

TEST_P(ByteStoreConformance, UploadAcrossSeveralHandlesThenCommitAs) {
  std::string content = random_content(300'000, 1);
  auto digest = sha256_of(content);
  std::string_view view(content);

  auto h1 = store_->create_upload("up-1");
  ASSERT_TRUE(h1) << h1.error().message;
  EXPECT_EQ((*h1)->size(), 0u);
  ASSERT_TRUE((*h1)->append(as_bytes(view.substr(0, 1000))));
  ASSERT_TRUE((*h1)->append(as_bytes(view.substr(1000, 99'000))));
  ASSERT_TRUE((*h1)->append({}));  // empty appends are fine
  EXPECT_EQ((*h1)->size(), 100'000u);
  ASSERT_TRUE((*h1)->flush());
  EXPECT_EQ(*store_->upload_size("up-1"), 100'000u);
  h1->reset();
  EXPECT_EQ(*store_->upload_size("up-1"), 100'000u);

  auto h2 = store_->open_upload("up-1");
  ASSERT_TRUE(h2) << h2.error().message;
  EXPECT_EQ((*h2)->size(), 100'000u);
  EXPECT_EQ(read_upload(**h2, 0, 100'000), content.substr(0, 100'000));
  ASSERT_TRUE((*h2)->append(as_bytes(view.substr(100'000, 150'000))));
  EXPECT_EQ((*h2)->size(), 250'000u);
  ASSERT_TRUE((*h2)->flush());
  h2->reset();

  auto h3 = store_->open_upload("up-1");
  ASSERT_TRUE(h3);
  EXPECT_EQ((*h3)->size(), 250'000u);
  ASSERT_TRUE((*h3)->append(as_bytes(view.substr(250'000))));
  auto info = (*h3)->commit_as(digest);
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->digest, digest);
  EXPECT_EQ(info->size, content.size());

  EXPECT_EQ(read_all(*store_, digest), content);
  EXPECT_EQ(store_->upload_size("up-1").error().code, Errc::not_found);
  EXPECT_EQ(store_->open_upload("up-1").error().code, Errc::not_found);
  // The committed handle is finished.
  EXPECT_EQ((*h3)->append(as_bytes("more")).error().code, Errc::not_found);
  EXPECT_EQ((*h3)->commit_as(digest).error().code, Errc::not_found);
  EXPECT_EQ((*h3)->flush().error().code, Errc::not_found);
  EXPECT_EQ((*h3)->load_state().error().code, Errc::not_found);
  EXPECT_EQ((*h3)->save_state(record_of("x")).error().code, Errc::not_found);
}

// The driver moves what it is given: verifying is the writer's job.
TEST_P(ByteStoreConformance, CommitAsDoesNotVerifyAndKeepsAnExistingCopy) {
  auto digest = sha256_of("original");
  auto unverified = upload_as(*store_, "unverified", "anything", sha256_of("other"));
  ASSERT_TRUE(unverified) << unverified.error().message;
  EXPECT_EQ(read_all(*store_, sha256_of("other")), "anything");

  ASSERT_TRUE(store_->store(digest, as_bytes("original")));
  auto second = upload_as(*store_, "second", "different bytes", digest, 3);
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_EQ(read_all(*store_, digest), "original");
  EXPECT_EQ(store_->upload_size("second").error().code, Errc::not_found);
  // Still one copy.
  ASSERT_TRUE(store_->remove(digest));
  EXPECT_EQ(store_->stat(digest).error().code, Errc::not_found);
}

TEST_P(ByteStoreConformance, OneHandlePerUpload) {
  auto h = store_->create_upload("busy");
  ASSERT_TRUE(h);
  EXPECT_EQ(store_->open_upload("busy").error().code, Errc::upload_busy);
  EXPECT_EQ(store_->create_upload("busy").error().code, Errc::upload_busy);
  EXPECT_EQ(store_->delete_upload("busy").error().code, Errc::upload_busy);
  ASSERT_TRUE((*h)->append(as_bytes("abc")));
  ASSERT_TRUE((*h)->flush());
  // Size is observable while a handle is open.
  EXPECT_EQ(*store_->upload_size("busy"), 3u);
  h->reset();

  auto again = store_->open_upload("busy");
  ASSERT_TRUE(again);
  EXPECT_EQ(store_->open_upload("busy").error().code, Errc::upload_busy);
  again->reset();
  EXPECT_EQ(store_->create_upload("busy").error().code, Errc::invalid_argument);
  EXPECT_TRUE(store_->delete_upload("busy"));
}

// What a second node sees: the hold is on the upload, not on the store object.
TEST_P(ByteStoreConformance, SecondStoreObjectIsRefusedWhileAHandleIsOpen) {
  auto other = open_again();
  auto h = store_->create_upload("held");
  ASSERT_TRUE(h);
  ASSERT_TRUE((*h)->append(as_bytes("abc")));
  ASSERT_TRUE((*h)->flush());
  EXPECT_EQ(other->open_upload("held").error().code, Errc::upload_busy);
  EXPECT_EQ(other->delete_upload("held").error().code, Errc::upload_busy);
  // Creating it again is refused either way, and the upload is left as it was.
  auto created = other->create_upload("held");
  ASSERT_FALSE(created);
  EXPECT_TRUE(created.error().code == Errc::upload_busy ||
              created.error().code == Errc::invalid_argument);
  EXPECT_EQ(*other->upload_size("held"), 3u);
  h->reset();
  auto taken = other->open_upload("held");
  ASSERT_TRUE(taken) << taken.error().message;
  EXPECT_EQ(store_->open_upload("held").error().code, Errc::upload_busy);
}

TEST_P(ByteStoreConformance, SecondStoreObjectContinuesAnUpload) {
  std::string content = random_content(200'003, 12);
  auto digest = sha256_of(content);
  {
    auto h = store_->create_upload("roaming");
    ASSERT_TRUE(h);
    ASSERT_TRUE((*h)->append(as_bytes(std::string_view(content).substr(0, 123'457))));
    ASSERT_TRUE((*h)->flush());
    ASSERT_TRUE((*h)->save_state(record_of("where the hash stands")));
  }
  auto other = open_again();
  EXPECT_EQ(*other->upload_size("roaming"), 123'457u);
  auto ids = other->list_uploads();
  ASSERT_TRUE(ids);
  EXPECT_EQ(*ids, std::vector<std::string>{"roaming"});
  auto h = other->open_upload("roaming");
  ASSERT_TRUE(h) << h.error().message;
  EXPECT_EQ((*h)->size(), 123'457u);
  EXPECT_EQ(*(*h)->load_state(), record_of("where the hash stands"));
  EXPECT_EQ(read_upload(**h, 0, 123'457), content.substr(0, 123'457));
  ASSERT_TRUE((*h)->append(as_bytes(std::string_view(content).substr(123'457))));
  auto info = (*h)->commit_as(digest);
  ASSERT_TRUE(info) << info.error().message;
  // The first store object sees the blob, and the upload gone.
  EXPECT_EQ(read_all(*store_, digest), content);
  EXPECT_EQ(store_->upload_size("roaming").error().code, Errc::not_found);
}

TEST_P(ByteStoreConformance, ReadReturnsTheUploadsBytesAtAnyOffset) {
  std::string content = random_content(70'001, 13);
  auto h = store_->create_upload("readable");
  ASSERT_TRUE(h);
  std::vector<std::byte> buffer(100);
  auto n = (*h)->read(0, buffer);
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 0u);  // empty upload
  ASSERT_TRUE((*h)->append(as_bytes(content)));
  ASSERT_TRUE((*h)->flush());
  EXPECT_EQ(read_upload(**h, 0, content.size(), 4096), content);
  EXPECT_EQ(read_upload(**h, 12'345, 1000, 333), content.substr(12'345, 1000));
  EXPECT_EQ(read_upload(**h, content.size() - 7, 100), content.substr(content.size() - 7));
  n = (*h)->read(content.size(), buffer);
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 0u);
  n = (*h)->read(content.size() + 1000, buffer);
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 0u);
}

TEST_P(ByteStoreConformance, RevertDropsWhatTheHandleAppended) {
  {
    auto h = store_->create_upload("revert");
    ASSERT_TRUE(h);
    ASSERT_TRUE((*h)->append(as_bytes("keep")));
    ASSERT_TRUE((*h)->flush());
  }
  {
    auto h = store_->open_upload("revert");
    ASSERT_TRUE(h);
    ASSERT_TRUE((*h)->append(as_bytes("drop ")));
    ASSERT_TRUE((*h)->append(as_bytes("me")));
    ASSERT_TRUE((*h)->revert());
    EXPECT_EQ((*h)->size(), 4u);
    EXPECT_EQ(*store_->upload_size("revert"), 4u);
    ASSERT_TRUE((*h)->revert());  // nothing more to drop
    ASSERT_TRUE((*h)->append(as_bytes("-more")));
    ASSERT_TRUE((*h)->flush());
  }
  auto h = store_->open_upload("revert");
  ASSERT_TRUE(h);
  EXPECT_EQ(read_upload(**h, 0, 100), "keep-more");
  ASSERT_TRUE((*h)->commit_as(sha256_of("keep-more")));
  EXPECT_EQ(read_all(*store_, sha256_of("keep-more")), "keep-more");
}

TEST_P(ByteStoreConformance, RevertStopsAtTheLastFlush) {
  auto h = store_->create_upload("checkpoint");
  ASSERT_TRUE(h);
  ASSERT_TRUE((*h)->append(as_bytes("first")));
  ASSERT_TRUE((*h)->flush());
  ASSERT_TRUE((*h)->append(as_bytes("-refused")));
  ASSERT_TRUE((*h)->revert());
  EXPECT_EQ((*h)->size(), 5u);
  ASSERT_TRUE((*h)->append(as_bytes("-second")));
  ASSERT_TRUE((*h)->commit_as(sha256_of("first-second")));
  EXPECT_EQ(read_all(*store_, sha256_of("first-second")), "first-second");
}

// Bytes appended without a flush may or may not outlive the handle; flushed ones do.
TEST_P(ByteStoreConformance, FlushedBytesOutliveTheHandle) {
  {
    auto h = store_->create_upload("unflushed");
    ASSERT_TRUE(h);
    ASSERT_TRUE((*h)->append(as_bytes("durable")));
    ASSERT_TRUE((*h)->flush());
    ASSERT_TRUE((*h)->append(as_bytes("-pending")));
  }
  auto size = store_->upload_size("unflushed");
  ASSERT_TRUE(size);
  EXPECT_TRUE(*size == 7u || *size == 15u) << *size;
  auto h = store_->open_upload("unflushed");
  ASSERT_TRUE(h);
  EXPECT_EQ((*h)->size(), *size);
  EXPECT_EQ(read_upload(**h, 0, 7), "durable");
  // Whatever the handle found is its starting point: revert does not go below it.
  ASSERT_TRUE((*h)->revert());
  EXPECT_EQ((*h)->size(), *size);
}

TEST_P(ByteStoreConformance, DiscardRemovesTheUploadItHolds) {
  auto h = store_->create_upload("discarded");
  ASSERT_TRUE(h);
  ASSERT_TRUE((*h)->append(as_bytes("abandoned")));
  ASSERT_TRUE((*h)->save_state(record_of("state")));
  ASSERT_TRUE((*h)->discard());
  EXPECT_EQ((*h)->append(as_bytes("x")).error().code, Errc::not_found);
  EXPECT_EQ((*h)->discard().error().code, Errc::not_found);
  h->reset();
  EXPECT_EQ(store_->upload_size("discarded").error().code, Errc::not_found);
  EXPECT_TRUE(store_->list_uploads()->empty());
  auto fresh = store_->create_upload("discarded");
  ASSERT_TRUE(fresh);
  EXPECT_EQ((*fresh)->size(), 0u);
  EXPECT_TRUE((*fresh)->load_state()->empty());
}

TEST_P(ByteStoreConformance, DeleteUploadRemovesBytesAndRecord) {
  {
    auto h = store_->create_upload("gone");
    ASSERT_TRUE(h);
    ASSERT_TRUE((*h)->append(as_bytes("partial")));
    ASSERT_TRUE((*h)->flush());
    ASSERT_TRUE((*h)->save_state(record_of("old record")));
  }
  ASSERT_TRUE(store_->delete_upload("gone"));
  EXPECT_EQ(store_->upload_size("gone").error().code, Errc::not_found);
  EXPECT_EQ(store_->open_upload("gone").error().code, Errc::not_found);
  EXPECT_EQ(store_->delete_upload("gone").error().code, Errc::not_found);

  // A new upload with the same id starts from nothing, including its record.
  auto h = store_->create_upload("gone");
  ASSERT_TRUE(h);
  EXPECT_EQ((*h)->size(), 0u);
  auto record = (*h)->load_state();
  ASSERT_TRUE(record);
  EXPECT_TRUE(record->empty());
}

TEST_P(ByteStoreConformance, RecordIsSavedWholeAndKeptWithTheUpload) {
  auto h = store_->create_upload("recorded");
  ASSERT_TRUE(h);
  auto none = (*h)->load_state();
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());

  ASSERT_TRUE((*h)->save_state(record_of("first")));
  EXPECT_EQ(*(*h)->load_state(), record_of("first"));
  std::vector<std::byte> largest(kMaxUploadStateBytes);
  for (std::size_t i = 0; i < largest.size(); ++i) largest[i] = static_cast<std::byte>(i * 7);
  ASSERT_TRUE((*h)->save_state(largest));
  EXPECT_EQ(*(*h)->load_state(), largest);
  std::vector<std::byte> too_large(kMaxUploadStateBytes + 1, std::byte{1});
  EXPECT_EQ((*h)->save_state(too_large).error().code, Errc::invalid_argument);
  EXPECT_EQ(*(*h)->load_state(), largest);  // the refused record changed nothing

  // Independent of the bytes: appends, flushes and reverts leave it alone.
  ASSERT_TRUE((*h)->save_state(record_of("second")));
  ASSERT_TRUE((*h)->append(as_bytes("bytes")));
  ASSERT_TRUE((*h)->revert());
  ASSERT_TRUE((*h)->append(as_bytes("bytes")));
  ASSERT_TRUE((*h)->flush());
  EXPECT_EQ(*(*h)->load_state(), record_of("second"));
  h->reset();

  auto reopened = store_->open_upload("recorded");
  ASSERT_TRUE(reopened);
  EXPECT_EQ(*(*reopened)->load_state(), record_of("second"));
  // An empty record removes it.
  ASSERT_TRUE((*reopened)->save_state(bytes_of({})));
  EXPECT_TRUE((*reopened)->load_state()->empty());
  ASSERT_TRUE((*reopened)->save_state(record_of("third")));
  ASSERT_TRUE((*reopened)->commit_as(sha256_of("bytes")));

  // Committing removed the record with the upload.
  auto again = store_->create_upload("recorded");
  ASSERT_TRUE(again);
  EXPECT_TRUE((*again)->load_state()->empty());
}

TEST_P(ByteStoreConformance, HandleMayOutliveTheStore) {
  auto h = store_->create_upload("orphan");
  ASSERT_TRUE(h);
  store_.reset();
  ASSERT_TRUE((*h)->append(as_bytes("still fine")));
  ASSERT_TRUE((*h)->flush());
  ASSERT_TRUE((*h)->save_state(record_of("state")));
  EXPECT_EQ(*(*h)->load_state(), record_of("state"));
  EXPECT_EQ(read_upload(**h, 0, 100), "still fine");
  ASSERT_TRUE((*h)->commit_as(sha256_of("still fine")));
  auto other = open_again();
  EXPECT_EQ(read_all(*other, sha256_of("still fine")), "still fine");
}

TEST_P(ByteStoreConformance, LargeUploadInOddChunks) {
  // Larger than the filesystem driver's writeback chunk, in sizes that do not align.
  std::string content = random_content(10 * 1024 * 1024 + 17, 4);
  auto digest = sha256_of(content);
  auto h = store_->create_upload("large");
  ASSERT_TRUE(h);
  std::size_t at = 0;
  std::size_t step = 1;
  while (at < content.size()) {
    std::size_t n = std::min(step, content.size() - at);
    ASSERT_TRUE((*h)->append(as_bytes(std::string_view(content).substr(at, n))));
    at += n;
    step = step * 3 + 7;
    if (step > 3'000'000) step = 4097;
  }
  EXPECT_EQ((*h)->size(), content.size());
  ASSERT_TRUE((*h)->flush());
  EXPECT_EQ(read_upload(**h, 0, content.size(), 1 << 20), content);
  auto info = (*h)->commit_as(digest);
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->size, content.size());
  EXPECT_EQ(read_all(*store_, digest, 1 << 20), content);
}

TEST_P(ByteStoreConformance, ConcurrentCommitsOfTheSameDigest) {
  constexpr int kThreads = 8;
  std::string content = random_content(2 * 1024 * 1024 + 5, 5);
  auto digest = sha256_of(content);
  std::atomic<int> ok{0};
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto r = upload_as(*store_, "same-" + std::to_string(t), content, digest, 5);
      if (r && r->size == content.size() && r->digest == digest) {
        ++ok;
      } else if (!r) {
        errors[t] = r.error().message;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(ok.load(), kThreads);
  for (const auto& e : errors) EXPECT_EQ(e, "");
  EXPECT_EQ(read_all(*store_, digest), content);
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(store_->upload_size("same-" + std::to_string(t)).error().code, Errc::not_found);
  }
  ASSERT_TRUE(store_->remove(digest));
  EXPECT_EQ(store_->stat(digest).error().code, Errc::not_found);
}

TEST_P(ByteStoreConformance, ConcurrentOpensOfOneUploadYieldOneHandle) {
  ASSERT_TRUE(store_->create_upload("contended"));
  auto other = open_again();
  constexpr int kThreads = 8;
  std::atomic<int> opened{0};
  std::atomic<int> busy{0};
  std::vector<std::unique_ptr<UploadBytes>> handles(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Half through a second store object, as requests on two nodes would.
      auto h = (t % 2 == 0 ? store_ : other)->open_upload("contended");
      if (h) {
        ++opened;
        handles[t] = std::move(*h);
      } else if (h.error().code == Errc::upload_busy) {
        ++busy;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(opened.load(), 1);
  EXPECT_EQ(busy.load(), kThreads - 1);
}

TEST_P(ByteStoreConformance, ListUploadsNamesEveryUploadHeldOrNot) {
  EXPECT_TRUE(store_->list_uploads()->empty());
  auto held = store_->create_upload("held");
  ASSERT_TRUE(held);
  ASSERT_TRUE(store_->create_upload("idle"));
  auto ids = *store_->list_uploads();
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, (std::vector<std::string>{"held", "idle"}));
}

// ------------------------------------------------------------------ direct reads

TEST_P(ByteStoreConformance, DirectReadUrlLifetimeIsBoundedForEveryDriver) {
  std::string content = "read directly, if the driver can";
  auto digest = sha256_of(content);
  ASSERT_TRUE(store_->store(digest, as_bytes(content)));
  for (std::chrono::seconds lifetime : {std::chrono::seconds(0), std::chrono::seconds(-1),
                                        kMaxDirectReadLifetime + std::chrono::seconds(1)}) {
    auto url = store_->direct_read_url(digest, lifetime);
    ASSERT_FALSE(url) << "lifetime " << lifetime.count() << " s was accepted";
    EXPECT_EQ(url.error().code, Errc::invalid_argument);
  }
  // Within the limits: a URL, or none when the driver has no such thing; never an error.
  for (std::chrono::seconds lifetime : {std::chrono::seconds(1), kMaxDirectReadLifetime}) {
    auto url = store_->direct_read_url(digest, lifetime);
    ASSERT_TRUE(url) << url.error().message;
    if (url->has_value()) {
      EXPECT_FALSE((*url)->empty());
    }
  }
}

TEST_P(ByteStoreConformance, CheckWritableSucceedsOnAHealthyDriver) {
  EXPECT_TRUE(store_->check_writable());
  EXPECT_TRUE(store_->list_uploads()->empty());
}

}  // namespace berth::storage::testing
