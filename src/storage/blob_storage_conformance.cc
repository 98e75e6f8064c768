// The writer suite: BlobStorage and its UploadWriter over a driver. Verification, digest
// mismatches, sha512, revert, and above all resuming: from the hash state saved with the upload,
// by the same store object, a new one after a restart, or a second one as another node would;
// and hashing the upload again when that state is missing, stale, damaged or ahead of the
// bytes. Reads of upload bytes are counted, so the tests see which of these the writer did.

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "storage/conformance.h"

namespace berth::storage::testing {
namespace {

using Counter = std::shared_ptr<std::atomic<std::uint64_t>>;
using Switch = std::shared_ptr<std::atomic<bool>>;

// An upload handle that counts the bytes read through it and can refuse to save records.
class CountingUploadBytes final : public UploadBytes {
 public:
  CountingUploadBytes(std::unique_ptr<UploadBytes> inner, Counter read, Switch fail_saves)
      : inner_(std::move(inner)), read_(std::move(read)), fail_saves_(std::move(fail_saves)) {}

  std::uint64_t size() const override { return inner_->size(); }
  Result<void> append(std::span<const std::byte> data) override { return inner_->append(data); }
  Result<void> flush() override { return inner_->flush(); }
  Result<void> revert() override { return inner_->revert(); }
  Result<void> discard() override { return inner_->discard(); }
  Result<std::size_t> read(std::uint64_t offset, std::span<std::byte> out) override {
    auto n = inner_->read(offset, out);
    if (n) *read_ += *n;
    return n;
  }
  Result<void> save_state(std::span<const std::byte> record) override {
    if (*fail_saves_) return StorageError{Errc::io_error, "saving records fails in this test"};
    return inner_->save_state(record);
  }
  Result<std::vector<std::byte>> load_state() override { return inner_->load_state(); }
  Result<BlobInfo> commit_as(const oci::Digest& digest) override {
    return inner_->commit_as(digest);
  }

 private:
  std::unique_ptr<UploadBytes> inner_;
  Counter read_;
  Switch fail_saves_;
};

class CountingByteStore final : public ByteStore {
 public:
  CountingByteStore(std::unique_ptr<ByteStore> inner, Counter read, Switch fail_saves)
      : inner_(std::move(inner)), read_(std::move(read)), fail_saves_(std::move(fail_saves)) {}

  Result<BlobInfo> stat(const oci::Digest& digest) override { return inner_->stat(digest); }
  Result<std::unique_ptr<BlobReader>> open(const oci::Digest& digest) override {
    return inner_->open(digest);
  }
  Result<void> remove(const oci::Digest& digest) override { return inner_->remove(digest); }
  Result<BlobListing> list_blobs(std::string_view after, std::size_t limit) override {
    return inner_->list_blobs(after, limit);
  }
  Result<BlobInfo> store(const oci::Digest& digest, std::span<const std::byte> bytes) override {
    return inner_->store(digest, bytes);
  }
  Result<std::optional<std::string>> direct_read_url(const oci::Digest& digest,
                                                     std::chrono::seconds lifetime) override {
    return inner_->direct_read_url(digest, lifetime);
  }
  Result<std::unique_ptr<UploadBytes>> create_upload(std::string_view id) override {
    return wrap(inner_->create_upload(id));
  }
  Result<std::unique_ptr<UploadBytes>> open_upload(std::string_view id) override {
    return wrap(inner_->open_upload(id));
  }
  Result<std::uint64_t> upload_size(std::string_view id) override {
    return inner_->upload_size(id);
  }
  Result<void> delete_upload(std::string_view id) override { return inner_->delete_upload(id); }
  Result<std::vector<std::string>> list_uploads() override { return inner_->list_uploads(); }
  Result<void> check_writable() override { return inner_->check_writable(); }

 private:
  Result<std::unique_ptr<UploadBytes>> wrap(Result<std::unique_ptr<UploadBytes>> opened) {
    if (!opened) return opened.error();
    return std::unique_ptr<UploadBytes>(
        std::make_unique<CountingUploadBytes>(std::move(*opened), read_, fail_saves_));
  }

  std::unique_ptr<ByteStore> inner_;
  Counter read_;
  Switch fail_saves_;
};

std::vector<std::byte> record_of(std::string_view text) {
  auto bytes = as_bytes(text);
  return {bytes.begin(), bytes.end()};
}

}  // namespace

void BlobStorageConformance::SetUp() {
  area_ = GetParam().make_area();
  storage_ = open_again();
}

void BlobStorageConformance::TearDown() {
  storage_.reset();
  area_.reset();
}

std::unique_ptr<BlobStorage> BlobStorageConformance::open_again() {
  return std::make_unique<BlobStorage>(
      std::make_unique<CountingByteStore>(area_->open(), bytes_read_, fail_saves_));
}

namespace {

// Helpers on the fixture's storage, as free functions of a BlobStorage.

// Uploads `content` in `pieces` appends spread over `sessions` writers (flushing between
// them), then commits.
Result<BlobInfo> upload(BlobStorage& storage, std::string_view id, std::string_view content,
                        const oci::Digest& digest, int sessions = 1, int pieces = 1) {
  std::size_t per_session = (content.size() + sessions - 1) / sessions;
  for (int s = 0; s < sessions; ++s) {
    auto writer = s == 0 ? storage.create_upload(id) : storage.open_upload(id);
    if (!writer) return writer.error();
    std::string_view part = content.substr(std::min(content.size(), s * per_session), per_session);
    std::size_t per_piece = std::max<std::size_t>(1, (part.size() + pieces - 1) / pieces);
    for (std::size_t at = 0; at < part.size(); at += per_piece) {
      if (auto r = (*writer)->append(as_bytes(part.substr(at, per_piece))); !r) return r.error();
    }
    if (s + 1 == sessions) return (*writer)->commit(digest);
    if (auto r = (*writer)->flush(); !r) return r.error();
  }
  return StorageError{Errc::invalid_argument, "no sessions"};
}

// Starts upload `id` with `first` and flushes it (saving the hash state); the writer is closed.
void start_upload(BlobStorage& storage, std::string_view id, std::string_view first) {
  auto writer = storage.create_upload(id);
  ASSERT_TRUE(writer) << writer.error().message;
  ASSERT_TRUE((*writer)->append(as_bytes(first)));
  ASSERT_TRUE((*writer)->flush());
}

// Replaces the record saved with upload `id` through the driver, as damage or an older node
// would leave it.
void replace_record(BlobStorage& storage, std::string_view id,
                    std::span<const std::byte> record) {
  auto bytes = storage.driver().open_upload(id);
  ASSERT_TRUE(bytes) << bytes.error().message;
  ASSERT_TRUE((*bytes)->save_state(record));
}

std::vector<std::byte> saved_record(BlobStorage& storage, std::string_view id) {
  auto bytes = storage.driver().open_upload(id);
  if (!bytes) {
    ADD_FAILURE() << bytes.error().message;
    return {};
  }
  auto record = (*bytes)->load_state();
  if (!record) {
    ADD_FAILURE() << record.error().message;
    return {};
  }
  return *record;
}

// Opens `id`, appends `rest`, commits as `digest`.
Result<BlobInfo> finish_upload(BlobStorage& storage, std::string_view id, std::string_view rest,
                               const oci::Digest& digest) {
  auto writer = storage.open_upload(id);
  if (!writer) return writer.error();
  if (auto r = (*writer)->append(as_bytes(rest)); !r) return r.error();
  return (*writer)->commit(digest);
}

}  // namespace

// ------------------------------------------------------------------ put

TEST_P(BlobStorageConformance, PutVerifiesThenStores) {
  std::string content = "hello, content-addressed world";
  auto digest = sha256_of(content);
  auto info = storage_->put(digest, as_bytes(content));
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->digest, digest);
  EXPECT_EQ(info->size, content.size());
  EXPECT_EQ(read_all(*storage_, digest), content);
  auto again = storage_->put(digest, as_bytes(content));
  ASSERT_TRUE(again);
  EXPECT_EQ(read_all(*storage_, digest), content);
}

TEST_P(BlobStorageConformance, PutWithWrongDigestStoresNothing) {
  auto wrong = sha256_of("something else");
  auto r = storage_->put(wrong, as_bytes("content"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::digest_mismatch);
  EXPECT_EQ(storage_->stat(wrong).error().code, Errc::not_found);
  EXPECT_EQ(storage_->stat(sha256_of("content")).error().code, Errc::not_found);
  auto wrong512 = sha512_of("something else");
  EXPECT_EQ(storage_->put(wrong512, as_bytes("content")).error().code, Errc::digest_mismatch);
  EXPECT_EQ(storage_->stat(wrong512).error().code, Errc::not_found);
}

TEST_P(BlobStorageConformance, PutSha512) {
  auto digest = sha512_of("long hash");
  ASSERT_TRUE(storage_->put(digest, as_bytes("long hash")));
  EXPECT_EQ(read_all(*storage_, digest), "long hash");
  EXPECT_EQ(storage_->stat(sha256_of("long hash")).error().code, Errc::not_found);
  EXPECT_TRUE(storage_->put(sha512_of(""), {}));
}

// ------------------------------------------------------------------ uploads

TEST_P(BlobStorageConformance, UploadAcrossSeveralWritersThenCommit) {
  std::string content = random_content(300'000, 1);
  auto digest = sha256_of(content);
  std::string_view view(content);

  auto w1 = storage_->create_upload("up-1");
  ASSERT_TRUE(w1) << w1.error().message;
  EXPECT_EQ((*w1)->size(), 0u);
  ASSERT_TRUE((*w1)->append(as_bytes(view.substr(0, 1000))));
  ASSERT_TRUE((*w1)->append(as_bytes(view.substr(1000, 99'000))));
  EXPECT_EQ((*w1)->size(), 100'000u);
  ASSERT_TRUE((*w1)->flush());
  w1->reset();
  EXPECT_EQ(*storage_->upload_size("up-1"), 100'000u);

  auto w2 = storage_->open_upload("up-1");
  ASSERT_TRUE(w2) << w2.error().message;
  EXPECT_EQ((*w2)->size(), 100'000u);
  ASSERT_TRUE((*w2)->append(as_bytes(view.substr(100'000, 150'000))));
  ASSERT_TRUE((*w2)->append({}));  // empty appends are fine
  EXPECT_EQ((*w2)->size(), 250'000u);
  ASSERT_TRUE((*w2)->flush());
  w2->reset();

  auto w3 = storage_->open_upload("up-1");
  ASSERT_TRUE(w3);
  EXPECT_EQ((*w3)->size(), 250'000u);
  ASSERT_TRUE((*w3)->append(as_bytes(view.substr(250'000))));
  auto info = (*w3)->commit(digest);
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->digest, digest);
  EXPECT_EQ(info->size, content.size());
  // Every resume continued from the saved hash state: no byte was read back.
  EXPECT_EQ(bytes_read(), 0u);

  EXPECT_EQ(read_all(*storage_, digest), content);
  EXPECT_EQ(storage_->upload_size("up-1").error().code, Errc::not_found);
  EXPECT_EQ(storage_->open_upload("up-1").error().code, Errc::not_found);
  // The committed writer is finished.
  EXPECT_EQ((*w3)->append(as_bytes("more")).error().code, Errc::not_found);
  EXPECT_EQ((*w3)->commit(digest).error().code, Errc::not_found);
  EXPECT_EQ((*w3)->flush().error().code, Errc::not_found);
  EXPECT_EQ((*w3)->revert().error().code, Errc::not_found);
  EXPECT_EQ((*w3)->discard().error().code, Errc::not_found);
}

TEST_P(BlobStorageConformance, CommitWithWrongDigestRemovesUploadAndStoresNothing) {
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

TEST_P(BlobStorageConformance, CommitSha512) {
  std::string content = random_content(200'000, 2);
  auto digest = sha512_of(content);
  auto info = upload(*storage_, "sha512-up", content, digest, /*sessions=*/3, /*pieces=*/4);
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->digest, digest);
  EXPECT_EQ(info->size, content.size());
  EXPECT_EQ(read_all(*storage_, digest), content);
  EXPECT_EQ(storage_->stat(sha256_of(content)).error().code, Errc::not_found);
  // The running hash is sha256: a sha512 digest is checked by reading the upload once.
  EXPECT_EQ(bytes_read(), content.size());
}

TEST_P(BlobStorageConformance, CommitSha512WithWrongDigest) {
  auto wrong = sha512_of("other");
  auto r = upload(*storage_, "sha512-bad", "content", wrong);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::digest_mismatch);
  EXPECT_EQ(storage_->stat(wrong).error().code, Errc::not_found);
  EXPECT_EQ(storage_->upload_size("sha512-bad").error().code, Errc::not_found);
}

TEST_P(BlobStorageConformance, CommittingSameContentTwiceKeepsOneCopy) {
  std::string content = random_content(50'000, 3);
  auto digest = sha256_of(content);
  ASSERT_TRUE(upload(*storage_, "first", content, digest));
  auto second = upload(*storage_, "second", content, digest, 2, 3);
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_EQ(second->size, content.size());
  EXPECT_EQ(storage_->upload_size("second").error().code, Errc::not_found);
  EXPECT_EQ(read_all(*storage_, digest), content);
  ASSERT_TRUE(storage_->remove(digest));
  EXPECT_EQ(storage_->stat(digest).error().code, Errc::not_found);
}

TEST_P(BlobStorageConformance, EmptyBlob) {
  auto digest = sha256_of("");
  auto w = storage_->create_upload("empty");
  ASSERT_TRUE(w);
  auto info = (*w)->commit(digest);
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->size, 0u);
  EXPECT_EQ(storage_->stat(digest)->size, 0u);
  EXPECT_EQ(read_all(*storage_, digest), "");
  auto empty512 = upload(*storage_, "empty512", "", sha512_of(""));
  ASSERT_TRUE(empty512) << empty512.error().message;
}

TEST_P(BlobStorageConformance, OneWriterPerUpload) {
  auto w = storage_->create_upload("busy");
  ASSERT_TRUE(w);
  EXPECT_EQ(storage_->open_upload("busy").error().code, Errc::upload_busy);
  EXPECT_EQ(storage_->create_upload("busy").error().code, Errc::upload_busy);
  EXPECT_EQ(storage_->delete_upload("busy").error().code, Errc::upload_busy);
  // Another node is refused as well.
  auto other = open_again();
  EXPECT_EQ(other->open_upload("busy").error().code, Errc::upload_busy);
  EXPECT_EQ(other->delete_upload("busy").error().code, Errc::upload_busy);
  w->reset();

  auto again = storage_->open_upload("busy");
  ASSERT_TRUE(again);
  EXPECT_EQ(storage_->open_upload("busy").error().code, Errc::upload_busy);
  again->reset();
  EXPECT_EQ(storage_->create_upload("busy").error().code, Errc::invalid_argument);
  EXPECT_TRUE(storage_->delete_upload("busy"));
}

TEST_P(BlobStorageConformance, DeletedUploadIdStartsAfreshWithItsHash) {
  start_upload(*storage_, "gone", "partial");
  ASSERT_TRUE(storage_->delete_upload("gone"));
  EXPECT_EQ(storage_->upload_size("gone").error().code, Errc::not_found);
  EXPECT_EQ(storage_->open_upload("gone").error().code, Errc::not_found);

  auto w = storage_->create_upload("gone");
  ASSERT_TRUE(w);
  EXPECT_EQ((*w)->size(), 0u);
  ASSERT_TRUE((*w)->append(as_bytes("fresh")));
  auto info = (*w)->commit(sha256_of("fresh"));
  ASSERT_TRUE(info) << info.error().message;
}

TEST_P(BlobStorageConformance, WriterMayOutliveStorage) {
  auto w = storage_->create_upload("orphan");
  ASSERT_TRUE(w);
  storage_.reset();
  ASSERT_TRUE((*w)->append(as_bytes("still fine")));
  ASSERT_TRUE((*w)->flush());
  EXPECT_TRUE((*w)->commit(sha256_of("still fine")));
}

TEST_P(BlobStorageConformance, LargeUploadInOddChunks) {
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
  EXPECT_EQ(bytes_read(), 0u);  // hashed as it arrived
}

TEST_P(BlobStorageConformance, ConcurrentCommitsOfTheSameDigest) {
  constexpr int kThreads = 8;
  std::string content = random_content(2 * 1024 * 1024 + 5, 5);
  auto digest = sha256_of(content);
  std::atomic<int> ok{0};
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto r = upload(*storage_, "same-" + std::to_string(t), content, digest, 2, 5);
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
}

TEST_P(BlobStorageConformance, ManyDifferentUploadsInParallel) {
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
        if (upload(*storage_, "par-" + std::to_string(i), contents[i], digest, 1 + i % 3,
                   1 + i % 4)) {
          ++ok;
        }
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

TEST_P(BlobStorageConformance, RevertDropsWhatTheWriterAppended) {
  start_upload(*storage_, "revert", "keep");
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
    ASSERT_TRUE((*w)->flush());
  }
  auto w = storage_->open_upload("revert");
  ASSERT_TRUE(w);
  auto committed = (*w)->commit(sha256_of("keep-more"));
  ASSERT_TRUE(committed) << committed.error().message;
  EXPECT_EQ(read_all(*storage_, sha256_of("keep-more")), "keep-more");
  EXPECT_EQ(bytes_read(), 0u);
}

TEST_P(BlobStorageConformance, RevertStopsAtTheLastFlush) {
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

TEST_P(BlobStorageConformance, RevertedChunkLeavesTheSavedStateValid) {
  start_upload(*storage_, "kept-state", "chunk one;");
  {
    auto w = storage_->open_upload("kept-state");
    ASSERT_TRUE(w);
    ASSERT_TRUE((*w)->append(as_bytes("a chunk that fails")));
    ASSERT_TRUE((*w)->revert());
  }
  auto info = finish_upload(*storage_, "kept-state", "chunk two", sha256_of("chunk one;chunk two"));
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(bytes_read(), 0u);
}

TEST_P(BlobStorageConformance, DiscardRemovesTheUploadItHolds) {
  auto w = storage_->create_upload("discarded");
  ASSERT_TRUE(w);
  ASSERT_TRUE((*w)->append(as_bytes("abandoned")));
  ASSERT_TRUE((*w)->flush());
  ASSERT_TRUE((*w)->discard());
  EXPECT_EQ((*w)->append(as_bytes("x")).error().code, Errc::not_found);
  w->reset();
  EXPECT_EQ(storage_->upload_size("discarded").error().code, Errc::not_found);
  EXPECT_TRUE(storage_->list_uploads()->empty());
  EXPECT_TRUE(storage_->create_upload("discarded"));
}

// ------------------------------------------------------------------ the saved hash state

TEST_P(BlobStorageConformance, FlushSavesTheHashStateWithTheUpload) {
  start_upload(*storage_, "saved", "seventeen bytes..");
  auto hasher = oci::Hasher::import_state(saved_record(*storage_, "saved"));
  ASSERT_TRUE(hasher);
  EXPECT_EQ(hasher->algorithm(), oci::DigestAlgorithm::sha256);
  EXPECT_EQ(hasher->byte_count(), 17u);
  EXPECT_EQ(hasher->digest(), sha256_of("seventeen bytes.."));
}

TEST_P(BlobStorageConformance, ResumeByASecondStoreObjectContinuesTheSavedHash) {
  std::string content = random_content(1'000'003, 21);
  auto digest = sha256_of(content);
  std::string_view view(content);
  start_upload(*storage_, "roaming", view.substr(0, 400'000));
  // Another node takes the next chunk, and a third finishes.
  {
    auto second = open_again();
    auto w = second->open_upload("roaming");
    ASSERT_TRUE(w) << w.error().message;
    EXPECT_EQ((*w)->size(), 400'000u);
    ASSERT_TRUE((*w)->append(as_bytes(view.substr(400'000, 300'000))));
    ASSERT_TRUE((*w)->flush());
  }
  auto third = open_again();
  auto info = finish_upload(*third, "roaming", view.substr(700'000), digest);
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->size, content.size());
  EXPECT_EQ(bytes_read(), 0u);
  EXPECT_EQ(read_all(*storage_, digest), content);
}

TEST_P(BlobStorageConformance, ResumeAfterTheStoreIsReopened) {
  std::string content = random_content(300'000, 22);
  auto digest = sha256_of(content);
  start_upload(*storage_, "restart", std::string_view(content).substr(0, 123'456));
  storage_ = open_again();  // a restart: nothing of the first object remains
  auto info = finish_upload(*storage_, "restart", std::string_view(content).substr(123'456),
                            digest);
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(bytes_read(), 0u);
}

TEST_P(BlobStorageConformance, MissingStateMeansHashingTheUploadAgain) {
  std::string content = random_content(250'000, 23);
  auto digest = sha256_of(content);
  start_upload(*storage_, "no-state", std::string_view(content).substr(0, 200'000));
  replace_record(*storage_, "no-state", {});
  auto info = finish_upload(*open_again(), "no-state",
                            std::string_view(content).substr(200'000), digest);
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(bytes_read(), 200'000u);
}

// Bytes flushed by a writer that could not save its state afterwards: the older state still
// holds for the bytes it covers, and only the rest is read.
TEST_P(BlobStorageConformance, StaleStateIsContinuedWithTheBytesItLacks) {
  std::string content = random_content(300'000, 24);
  auto digest = sha256_of(content);
  std::string_view view(content);
  start_upload(*storage_, "stale", view.substr(0, 100'000));
  fail_saving_records(true);
  {
    auto w = storage_->open_upload("stale");
    ASSERT_TRUE(w);
    ASSERT_TRUE((*w)->append(as_bytes(view.substr(100'000, 150'000))));
    ASSERT_TRUE((*w)->flush()) << "a record that fails to save must not fail the flush";
  }
  fail_saving_records(false);
  EXPECT_EQ(oci::Hasher::import_state(saved_record(*storage_, "stale"))->byte_count(), 100'000u);
  reset_bytes_read();
  auto info = finish_upload(*open_again(), "stale", view.substr(250'000), digest);
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(bytes_read(), 150'000u);
}

TEST_P(BlobStorageConformance, DamagedStateMeansHashingTheUploadAgain) {
  std::string content = random_content(100'000, 25);
  auto digest = sha256_of(content);
  std::string_view view(content);
  start_upload(*storage_, "damaged", view.substr(0, 60'000));
  const std::vector<std::byte> good = saved_record(*storage_, "damaged");
  ASSERT_FALSE(good.empty());

  std::vector<std::vector<std::byte>> damaged;
  damaged.push_back(record_of("not a hash state at all"));
  damaged.emplace_back(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(good.size() / 2));
  auto flipped = good;
  flipped[20] ^= std::byte{0x01};  // inside the chaining value
  damaged.push_back(flipped);
  damaged.push_back(std::vector<std::byte>(good.size(), std::byte{0}));
  for (std::size_t i = 0; i < damaged.size(); ++i) {
    replace_record(*storage_, "damaged", damaged[i]);
    reset_bytes_read();
    auto w = storage_->open_upload("damaged");
    ASSERT_TRUE(w) << i << ": " << w.error().message;
    EXPECT_EQ(bytes_read(), 60'000u) << "damaged record " << i;
    // Checked without committing: the upload stays for the next record.
    ASSERT_TRUE((*w)->append(as_bytes(view.substr(60'000))));
    ASSERT_TRUE((*w)->revert());
  }
  // The writer saves a good state again at its next flush.
  {
    auto w = storage_->open_upload("damaged");
    ASSERT_TRUE(w);
    ASSERT_TRUE((*w)->append(as_bytes(view.substr(60'000, 10'000))));
    ASSERT_TRUE((*w)->flush());
  }
  EXPECT_EQ(oci::Hasher::import_state(saved_record(*storage_, "damaged"))->byte_count(), 70'000u);
  reset_bytes_read();
  auto info = finish_upload(*storage_, "damaged", view.substr(70'000), digest);
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(bytes_read(), 0u);
}

// A well-formed state of more bytes than the upload holds (bytes lost in a crash after the
// state was saved, or a state of another upload) cannot be continued.
TEST_P(BlobStorageConformance, StateAheadOfTheBytesMeansHashingTheUploadAgain) {
  std::string content = random_content(50'000, 26);
  auto digest = sha256_of(content);
  start_upload(*storage_, "ahead", std::string_view(content).substr(0, 20'000));
  oci::Hasher longer;
  longer.update(std::string_view(content).substr(0, 30'000));
  replace_record(*storage_, "ahead", longer.export_state());
  auto info = finish_upload(*storage_, "ahead", std::string_view(content).substr(20'000), digest);
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(bytes_read(), 20'000u);
}

TEST_P(BlobStorageConformance, StateOfAnotherAlgorithmMeansHashingTheUploadAgain) {
  std::string content = random_content(40'000, 27);
  auto digest = sha256_of(content);
  start_upload(*storage_, "sha512-state", std::string_view(content).substr(0, 10'000));
  oci::Hasher sha512(oci::DigestAlgorithm::sha512);
  sha512.update(std::string_view(content).substr(0, 10'000));
  replace_record(*storage_, "sha512-state", sha512.export_state());
  auto info =
      finish_upload(*storage_, "sha512-state", std::string_view(content).substr(10'000), digest);
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(bytes_read(), 10'000u);
}

TEST_P(BlobStorageConformance, DirectReadUrlIsTheDriversAnswer) {
  std::string content = "a blob a client may fetch from the medium";
  auto digest = sha256_of(content);
  ASSERT_TRUE(storage_->put(digest, as_bytes(content)));
  auto from_storage = storage_->direct_read_url(digest, std::chrono::seconds(60));
  auto from_driver = storage_->driver().direct_read_url(digest, std::chrono::seconds(60));
  ASSERT_TRUE(from_storage) << from_storage.error().message;
  ASSERT_TRUE(from_driver) << from_driver.error().message;
  EXPECT_EQ(from_storage->has_value(), from_driver->has_value());
  auto refused =
      storage_->direct_read_url(digest, kMaxDirectReadLifetime + std::chrono::seconds(1));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Errc::invalid_argument);
}

TEST_P(BlobStorageConformance, FailingToSaveTheStateKeepsTheChunk) {
  fail_saving_records(true);
  start_upload(*storage_, "unsaved", "the chunk");
  EXPECT_EQ(*storage_->upload_size("unsaved"), 9u);
  EXPECT_TRUE(saved_record(*storage_, "unsaved").empty());
  fail_saving_records(false);
  auto info = finish_upload(*storage_, "unsaved", " and the rest", sha256_of("the chunk and the rest"));
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(bytes_read(), 9u);
}

}  // namespace berth::storage::testing
