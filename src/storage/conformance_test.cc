// The one suite every BlobStorage driver passes unchanged. A new driver is done when it is added
// to kDrivers below and this suite is green.

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "storage/filesystem_blob_storage.h"
#include "storage/memory_blob_storage.h"
#include "storage/test_support.h"

namespace berth::storage {
namespace {

using testing::as_bytes;
using testing::random_content;
using testing::read_all;
using testing::sha256_of;
using testing::sha512_of;

struct Driver {
  std::string name;
  // Creates a fresh, empty driver; `scratch` is an empty directory owned by the test.
  std::function<std::unique_ptr<BlobStorage>(const std::filesystem::path& scratch)> make;
};

const Driver kDrivers[] = {
    {"memory",
     [](const std::filesystem::path&) -> std::unique_ptr<BlobStorage> {
       return std::make_unique<MemoryBlobStorage>();
     }},
    {"filesystem",
     [](const std::filesystem::path& scratch) -> std::unique_ptr<BlobStorage> {
       auto storage = FilesystemBlobStorage::open(scratch / "root");
       if (!storage) throw std::runtime_error(storage.error().message);
       return std::move(*storage);
     }},
};

class ConformanceTest : public ::testing::TestWithParam<Driver> {
 protected:
  void SetUp() override { storage_ = GetParam().make(scratch_.path()); }

  // Uploads `content` in `pieces` appends spread over `sessions` writers, then commits.
  Result<BlobInfo> upload(std::string_view id, std::string_view content, const oci::Digest& digest,
                          int sessions = 1, int pieces = 1) {
    std::size_t per_session = (content.size() + sessions - 1) / sessions;
    for (int s = 0; s < sessions; ++s) {
      auto writer = s == 0 ? storage_->create_upload(id) : storage_->open_upload(id);
      if (!writer) return writer.error();
      std::string_view part =
          content.substr(std::min(content.size(), s * per_session), per_session);
      std::size_t per_piece = (part.size() + pieces - 1) / std::max(pieces, 1);
      for (std::size_t at = 0; at < part.size(); at += per_piece) {
        if (auto r = (*writer)->append(as_bytes(part.substr(at, per_piece))); !r) return r.error();
      }
      if (s + 1 == sessions) return (*writer)->commit(digest);
      if (auto r = (*writer)->flush(); !r) return r.error();
    }
    return StorageError{Errc::invalid_argument, "no sessions"};
  }

  testing::TempDir scratch_;
  std::unique_ptr<BlobStorage> storage_;
};

TEST_P(ConformanceTest, PutThenStatOpenAndReadAtOffsets) {
  std::string content = "hello, content-addressed world";
  auto digest = sha256_of(content);
  auto info = storage_->put(digest, as_bytes(content));
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->digest, digest);
  EXPECT_EQ(info->size, content.size());

  auto st = storage_->stat(digest);
  ASSERT_TRUE(st);
  EXPECT_EQ(st->size, content.size());
  EXPECT_EQ(st->digest, digest);

  auto reader = storage_->open(digest);
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

  EXPECT_EQ(read_all(*storage_, digest, 7), content);
}

TEST_P(ConformanceTest, PutWithWrongDigestStoresNothing) {
  auto wrong = sha256_of("something else");
  auto r = storage_->put(wrong, as_bytes("content"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::digest_mismatch);
  EXPECT_EQ(storage_->stat(wrong).error().code, Errc::not_found);
  EXPECT_EQ(storage_->stat(sha256_of("content")).error().code, Errc::not_found);
}

TEST_P(ConformanceTest, PutSameContentTwiceIsIdempotent) {
  auto digest = sha256_of("twice");
  ASSERT_TRUE(storage_->put(digest, as_bytes("twice")));
  auto again = storage_->put(digest, as_bytes("twice"));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->size, 5u);
  EXPECT_EQ(read_all(*storage_, digest), "twice");
  // One copy: a single remove makes it disappear.
  ASSERT_TRUE(storage_->remove(digest));
  EXPECT_EQ(storage_->stat(digest).error().code, Errc::not_found);
}

TEST_P(ConformanceTest, PutSha512) {
  auto digest = sha512_of("long hash");
  ASSERT_TRUE(storage_->put(digest, as_bytes("long hash")));
  EXPECT_EQ(read_all(*storage_, digest), "long hash");
  EXPECT_EQ(storage_->stat(sha256_of("long hash")).error().code, Errc::not_found);
}

TEST_P(ConformanceTest, MissingBlobsAreNotFound) {
  auto digest = sha256_of("absent");
  EXPECT_EQ(storage_->stat(digest).error().code, Errc::not_found);
  EXPECT_EQ(storage_->open(digest).error().code, Errc::not_found);
  EXPECT_EQ(storage_->remove(digest).error().code, Errc::not_found);
  auto sha512 = sha512_of("absent");
  EXPECT_EQ(storage_->stat(sha512).error().code, Errc::not_found);
  EXPECT_EQ(storage_->open(sha512).error().code, Errc::not_found);
}

TEST_P(ConformanceTest, MissingUploadsAreNotFound) {
  EXPECT_EQ(storage_->open_upload("nope").error().code, Errc::not_found);
  EXPECT_EQ(storage_->upload_size("nope").error().code, Errc::not_found);
  EXPECT_EQ(storage_->delete_upload("nope").error().code, Errc::not_found);
}

TEST_P(ConformanceTest, RemoveDeletesBlobButOpenReaderKeepsWorking) {
  auto digest = sha256_of("to be removed");
  ASSERT_TRUE(storage_->put(digest, as_bytes("to be removed")));
  auto reader = storage_->open(digest);
  ASSERT_TRUE(reader);
  ASSERT_TRUE(storage_->remove(digest));
  EXPECT_EQ(storage_->stat(digest).error().code, Errc::not_found);
  EXPECT_EQ(storage_->open(digest).error().code, Errc::not_found);
  EXPECT_EQ(storage_->remove(digest).error().code, Errc::not_found);

  std::vector<std::byte> buffer(64);
  auto n = (*reader)->read(0, buffer);
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 13u);

  // Storing it again after removal works.
  ASSERT_TRUE(storage_->put(digest, as_bytes("to be removed")));
  EXPECT_EQ(read_all(*storage_, digest), "to be removed");
}

TEST_P(ConformanceTest, UploadAcrossSeveralWritersThenCommit) {
  std::string content = random_content(300'000, 1);
  auto digest = sha256_of(content);

  auto w1 = storage_->create_upload("up-1");
  ASSERT_TRUE(w1) << w1.error().message;
  EXPECT_EQ((*w1)->size(), 0u);
  ASSERT_TRUE((*w1)->append(as_bytes(std::string_view(content).substr(0, 1000))));
  ASSERT_TRUE((*w1)->append(as_bytes(std::string_view(content).substr(1000, 99'000))));
  EXPECT_EQ((*w1)->size(), 100'000u);
  ASSERT_TRUE((*w1)->flush());
  w1->reset();
  EXPECT_EQ(*storage_->upload_size("up-1"), 100'000u);

  auto w2 = storage_->open_upload("up-1");
  ASSERT_TRUE(w2) << w2.error().message;
  EXPECT_EQ((*w2)->size(), 100'000u);
  ASSERT_TRUE((*w2)->append(as_bytes(std::string_view(content).substr(100'000, 150'000))));
  ASSERT_TRUE((*w2)->append({}));  // empty appends are fine
  EXPECT_EQ((*w2)->size(), 250'000u);
  w2->reset();

  auto w3 = storage_->open_upload("up-1");
  ASSERT_TRUE(w3);
  EXPECT_EQ((*w3)->size(), 250'000u);
  ASSERT_TRUE((*w3)->append(as_bytes(std::string_view(content).substr(250'000))));
  auto info = (*w3)->commit(digest);
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->digest, digest);
  EXPECT_EQ(info->size, content.size());

  EXPECT_EQ(read_all(*storage_, digest), content);
  EXPECT_EQ(storage_->upload_size("up-1").error().code, Errc::not_found);
  EXPECT_EQ(storage_->open_upload("up-1").error().code, Errc::not_found);
  // The committed writer is finished.
  EXPECT_EQ((*w3)->append(as_bytes("more")).error().code, Errc::not_found);
  EXPECT_EQ((*w3)->commit(digest).error().code, Errc::not_found);
  EXPECT_EQ((*w3)->flush().error().code, Errc::not_found);
}

TEST_P(ConformanceTest, CommitWithWrongDigestRemovesUploadAndStoresNothing) {
  auto w = storage_->create_upload("bad");
  ASSERT_TRUE(w);
  ASSERT_TRUE((*w)->append(as_bytes("actual bytes")));
  auto wrong = sha256_of("claimed bytes");
  auto r = (*w)->commit(wrong);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::digest_mismatch);
  EXPECT_EQ(storage_->stat(wrong).error().code, Errc::not_found);
  EXPECT_EQ(storage_->stat(sha256_of("actual bytes")).error().code, Errc::not_found);
  EXPECT_EQ(storage_->upload_size("bad").error().code, Errc::not_found);
  EXPECT_EQ(storage_->open_upload("bad").error().code, Errc::not_found);
  EXPECT_EQ((*w)->append(as_bytes("x")).error().code, Errc::not_found);
  // The id is free again.
  w->reset();
  EXPECT_TRUE(storage_->create_upload("bad"));
}

TEST_P(ConformanceTest, CommitSha512) {
  std::string content = random_content(200'000, 2);
  auto digest = sha512_of(content);
  auto info = upload("sha512-up", content, digest, /*sessions=*/3, /*pieces=*/4);
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->digest, digest);
  EXPECT_EQ(info->size, content.size());
  EXPECT_EQ(read_all(*storage_, digest), content);
  EXPECT_EQ(storage_->stat(sha256_of(content)).error().code, Errc::not_found);
}

TEST_P(ConformanceTest, CommitSha512WithWrongDigest) {
  auto wrong = sha512_of("other");
  auto r = upload("sha512-bad", "content", wrong);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::digest_mismatch);
  EXPECT_EQ(storage_->stat(wrong).error().code, Errc::not_found);
  EXPECT_EQ(storage_->upload_size("sha512-bad").error().code, Errc::not_found);
}

TEST_P(ConformanceTest, CommittingSameContentTwiceKeepsOneCopy) {
  std::string content = random_content(50'000, 3);
  auto digest = sha256_of(content);
  ASSERT_TRUE(upload("first", content, digest));
  auto second = upload("second", content, digest, 2, 3);
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_EQ(second->size, content.size());
  EXPECT_EQ(storage_->upload_size("second").error().code, Errc::not_found);
  EXPECT_EQ(read_all(*storage_, digest), content);
  ASSERT_TRUE(storage_->remove(digest));
  EXPECT_EQ(storage_->stat(digest).error().code, Errc::not_found);
}

TEST_P(ConformanceTest, EmptyBlob) {
  auto digest = sha256_of("");
  auto w = storage_->create_upload("empty");
  ASSERT_TRUE(w);
  auto info = (*w)->commit(digest);
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->size, 0u);
  auto st = storage_->stat(digest);
  ASSERT_TRUE(st);
  EXPECT_EQ(st->size, 0u);
  EXPECT_EQ(read_all(*storage_, digest), "");

  auto empty512 = sha512_of("");
  ASSERT_TRUE(storage_->put(empty512, {}));
  EXPECT_EQ(storage_->stat(empty512)->size, 0u);
}

TEST_P(ConformanceTest, OneWriterPerUpload) {
  auto w = storage_->create_upload("busy");
  ASSERT_TRUE(w);
  EXPECT_EQ(storage_->open_upload("busy").error().code, Errc::upload_busy);
  EXPECT_EQ(storage_->create_upload("busy").error().code, Errc::upload_busy);
  EXPECT_EQ(storage_->delete_upload("busy").error().code, Errc::upload_busy);
  ASSERT_TRUE((*w)->append(as_bytes("abc")));
  // Size is observable while a writer is open.
  EXPECT_EQ(*storage_->upload_size("busy"), 3u);
  w->reset();

  auto again = storage_->open_upload("busy");
  ASSERT_TRUE(again);
  EXPECT_EQ(storage_->open_upload("busy").error().code, Errc::upload_busy);
  again->reset();
  EXPECT_EQ(storage_->create_upload("busy").error().code, Errc::invalid_argument);
  EXPECT_TRUE(storage_->delete_upload("busy"));
}

TEST_P(ConformanceTest, MalformedUploadIdsAreRejected) {
  const std::string bad[] = {
      "",         std::string(65, 'a'),   "../etc", "a/b", "a.b", "a b", "a_b",
      "\xc3\xbc", std::string("a\0b", 3), ".",      ".."};
  for (const auto& id : bad) {
    EXPECT_EQ(storage_->create_upload(id).error().code, Errc::invalid_argument) << id;
    EXPECT_EQ(storage_->open_upload(id).error().code, Errc::invalid_argument) << id;
    EXPECT_EQ(storage_->upload_size(id).error().code, Errc::invalid_argument) << id;
    EXPECT_EQ(storage_->delete_upload(id).error().code, Errc::invalid_argument) << id;
  }
  std::string longest(64, 'Z');
  longest[10] = '-';
  EXPECT_TRUE(storage_->create_upload(longest));
  EXPECT_TRUE(storage_->create_upload("-"));
  EXPECT_TRUE(is_valid_upload_id("0123-abcd-ABCD"));
}

TEST_P(ConformanceTest, DeleteUpload) {
  {
    auto w = storage_->create_upload("gone");
    ASSERT_TRUE(w);
    ASSERT_TRUE((*w)->append(as_bytes("partial")));
  }
  ASSERT_TRUE(storage_->delete_upload("gone"));
  EXPECT_EQ(storage_->upload_size("gone").error().code, Errc::not_found);
  EXPECT_EQ(storage_->open_upload("gone").error().code, Errc::not_found);
  EXPECT_EQ(storage_->delete_upload("gone").error().code, Errc::not_found);

  // A new upload with the same id starts from nothing, including its hash.
  auto w = storage_->create_upload("gone");
  ASSERT_TRUE(w);
  EXPECT_EQ((*w)->size(), 0u);
  ASSERT_TRUE((*w)->append(as_bytes("fresh")));
  auto info = (*w)->commit(sha256_of("fresh"));
  ASSERT_TRUE(info) << info.error().message;
}

TEST_P(ConformanceTest, WriterMayOutliveStorage) {
  auto w = storage_->create_upload("orphan");
  ASSERT_TRUE(w);
  storage_.reset();
  ASSERT_TRUE((*w)->append(as_bytes("still fine")));
  EXPECT_TRUE((*w)->commit(sha256_of("still fine")));
}

TEST_P(ConformanceTest, LargeUploadInOddChunks) {
  // Larger than the filesystem driver's writeback chunk, in sizes that do not align.
  std::string content = random_content(10 * 1024 * 1024 + 17, 4);
  auto digest = sha256_of(content);
  auto w = storage_->create_upload("large");
  ASSERT_TRUE(w);
  std::size_t at = 0;
  std::size_t step = 1;
  while (at < content.size()) {
    std::size_t n = std::min(step, content.size() - at);
    ASSERT_TRUE((*w)->append(as_bytes(std::string_view(content).substr(at, n))));
    at += n;
    step = step * 3 + 7;
    if (step > 3'000'000) step = 4097;
  }
  EXPECT_EQ((*w)->size(), content.size());
  auto info = (*w)->commit(digest);
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(read_all(*storage_, digest, 1 << 20), content);
}

TEST_P(ConformanceTest, ConcurrentCommitsOfTheSameDigest) {
  constexpr int kThreads = 8;
  std::string content = random_content(2 * 1024 * 1024 + 5, 5);
  auto digest = sha256_of(content);
  std::atomic<int> ok{0};
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto r = upload("same-" + std::to_string(t), content, digest, 2, 5);
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
  EXPECT_EQ(read_all(*storage_, digest), content);
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(storage_->upload_size("same-" + std::to_string(t)).error().code, Errc::not_found);
  }
  ASSERT_TRUE(storage_->remove(digest));
  EXPECT_EQ(storage_->stat(digest).error().code, Errc::not_found);
}

TEST_P(ConformanceTest, ConcurrentPutsOfTheSameDigest) {
  constexpr int kThreads = 8;
  std::string content = random_content(300'000, 6);
  auto digest = sha256_of(content);
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      if (storage_->put(digest, as_bytes(content))) ++ok;
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(ok.load(), kThreads);
  EXPECT_EQ(read_all(*storage_, digest), content);
}

TEST_P(ConformanceTest, ManyDifferentUploadsInParallel) {
  constexpr int kThreads = 6;
  constexpr int kPerThread = 5;
  std::vector<std::string> contents;
  for (int i = 0; i < kThreads * kPerThread; ++i) {
    contents.push_back(random_content(10'000 + i * 7'919, 100 + i));
  }
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int k = 0; k < kPerThread; ++k) {
        int i = t * kPerThread + k;
        auto digest = i % 3 == 0 ? sha512_of(contents[i]) : sha256_of(contents[i]);
        if (upload("par-" + std::to_string(i), contents[i], digest, 1 + i % 3, 1 + i % 4)) ++ok;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(ok.load(), kThreads * kPerThread);
  for (int i = 0; i < kThreads * kPerThread; ++i) {
    auto digest = i % 3 == 0 ? sha512_of(contents[i]) : sha256_of(contents[i]);
    EXPECT_EQ(read_all(*storage_, digest), contents[i]) << i;
  }
}

TEST_P(ConformanceTest, ConcurrentOpensOfOneUploadYieldOneWriter) {
  ASSERT_TRUE(storage_->create_upload("contended"));
  constexpr int kThreads = 8;
  std::atomic<int> opened{0};
  std::atomic<int> busy{0};
  std::vector<std::unique_ptr<UploadWriter>> writers(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto w = storage_->open_upload("contended");
      if (w) {
        ++opened;
        writers[t] = std::move(*w);
      } else if (w.error().code == Errc::upload_busy) {
        ++busy;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(opened.load(), 1);
  EXPECT_EQ(busy.load(), kThreads - 1);
}

TEST_P(ConformanceTest, RevertDropsWhatTheWriterAppended) {
  {
    auto w = storage_->create_upload("revert");
    ASSERT_TRUE(w);
    ASSERT_TRUE((*w)->append(as_bytes("keep")));
  }
  {
    auto w = storage_->open_upload("revert");
    ASSERT_TRUE(w);
    ASSERT_TRUE((*w)->append(as_bytes("drop ")));
    ASSERT_TRUE((*w)->append(as_bytes("me")));
    ASSERT_TRUE((*w)->revert());
    EXPECT_EQ((*w)->size(), 4u);
    EXPECT_EQ(*storage_->upload_size("revert"), 4u);
    // The running hash went back too: appending after a revert commits the right content.
    ASSERT_TRUE((*w)->append(as_bytes("-more")));
  }
  auto w = storage_->open_upload("revert");
  ASSERT_TRUE(w);
  auto committed = (*w)->commit(sha256_of("keep-more"));
  ASSERT_TRUE(committed) << committed.error().message;
  EXPECT_EQ(read_all(*storage_, sha256_of("keep-more")), "keep-more");
}

TEST_P(ConformanceTest, RevertStopsAtTheLastFlush) {
  auto w = storage_->create_upload("checkpoint");
  ASSERT_TRUE(w);
  ASSERT_TRUE((*w)->append(as_bytes("first")));
  ASSERT_TRUE((*w)->flush());
  ASSERT_TRUE((*w)->append(as_bytes("-refused")));
  ASSERT_TRUE((*w)->revert());
  EXPECT_EQ((*w)->size(), 5u);
  ASSERT_TRUE((*w)->append(as_bytes("-second")));
  ASSERT_TRUE((*w)->commit(sha256_of("first-second")));
  EXPECT_EQ(read_all(*storage_, sha256_of("first-second")), "first-second");
}

TEST_P(ConformanceTest, DiscardRemovesTheUploadItHolds) {
  auto w = storage_->create_upload("discarded");
  ASSERT_TRUE(w);
  ASSERT_TRUE((*w)->append(as_bytes("abandoned")));
  ASSERT_TRUE((*w)->discard());
  EXPECT_EQ((*w)->append(as_bytes("x")).error().code, Errc::not_found);
  w->reset();
  EXPECT_EQ(storage_->upload_size("discarded").error().code, Errc::not_found);
  EXPECT_TRUE(storage_->list_uploads()->empty());
  EXPECT_TRUE(storage_->create_upload("discarded"));
}

TEST_P(ConformanceTest, ListUploadsNamesEveryUploadHeldOrNot) {
  EXPECT_TRUE(storage_->list_uploads()->empty());
  auto held = storage_->create_upload("held");
  ASSERT_TRUE(held);
  ASSERT_TRUE(storage_->create_upload("idle"));
  auto ids = *storage_->list_uploads();
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, (std::vector<std::string>{"held", "idle"}));
}

TEST_P(ConformanceTest, CheckWritableSucceedsOnAHealthyDriver) {
  EXPECT_TRUE(storage_->check_writable());
  EXPECT_TRUE(storage_->list_uploads()->empty());
}

// Listing is a keyset walk in digest-text order: every committed blob exactly once, across
// algorithms and prefix directories, whatever the page size; uploads never appear.
TEST_P(ConformanceTest, ListBlobsWalksEveryCommittedBlobInDigestOrder) {
  std::vector<std::string> expected;
  for (int i = 0; i < 40; ++i) {
    std::string content = std::string("blob number ") + std::to_string(i);
    auto digest = i % 5 == 0 ? sha512_of(content) : sha256_of(content);
    ASSERT_TRUE(storage_->put(digest, as_bytes(content)));
    expected.push_back(digest.str());
  }
  auto open_upload = storage_->create_upload("in-progress");
  ASSERT_TRUE(open_upload);
  ASSERT_TRUE((*open_upload)->append(as_bytes("not a blob yet")));
  std::sort(expected.begin(), expected.end());

  for (std::size_t page : {std::size_t{1}, std::size_t{7}, std::size_t{40}, std::size_t{1000}}) {
    std::vector<std::string> seen;
    std::string after;
    for (int guard = 0; guard < 100; ++guard) {
      auto listing = storage_->list_blobs(after, page);
      ASSERT_TRUE(listing) << listing.error().message;
      ASSERT_LE(listing->blobs.size(), page);
      for (const StoredBlob& blob : listing->blobs) {
        seen.push_back(blob.digest.str());
        auto info = storage_->stat(blob.digest);
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
}

TEST_P(ConformanceTest, ListBlobsAfterARemovedOrUnknownDigestContinuesInOrder) {
  std::vector<oci::Digest> digests;
  for (int i = 0; i < 10; ++i) {
    std::string content = std::string("walk ") + std::to_string(i);
    digests.push_back(sha256_of(content));
    ASSERT_TRUE(storage_->put(digests.back(), as_bytes(content)));
  }
  std::sort(digests.begin(), digests.end(),
            [](const oci::Digest& a, const oci::Digest& b) { return a.str() < b.str(); });
  // A cursor whose blob was removed meanwhile still resumes right after it.
  ASSERT_TRUE(storage_->remove(digests[4]));
  auto listing = storage_->list_blobs(digests[4].str(), 3);
  ASSERT_TRUE(listing);
  ASSERT_EQ(listing->blobs.size(), 3u);
  EXPECT_EQ(listing->blobs[0].digest, digests[5]);
  EXPECT_EQ(listing->blobs[2].digest, digests[7]);
  auto empty = storage_->list_blobs("sha512:", 10);
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->blobs.empty());
  EXPECT_TRUE(empty->next.empty());
}

INSTANTIATE_TEST_SUITE_P(Drivers, ConformanceTest, ::testing::ValuesIn(kDrivers),
                         [](const ::testing::TestParamInfo<Driver>& info) {
                           return info.param.name;
                         });

}  // namespace
}  // namespace berth::storage
