// The upload sweeper and the per-session holds it respects.

#include "registry/upload_sweeper.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <span>
#include <string>

#include "common/clock.h"
#include "common/temp_dir.h"
#include "metadata/sqlite_metadata_store.h"
#include "storage/blob_storage.h"
#include "storage/memory_byte_store.h"

namespace berth::registry {
namespace {

using namespace std::chrono_literals;

std::span<const std::byte> bytes_of(std::string_view text) {
  return std::as_bytes(std::span(text.data(), text.size()));
}

class UploadSweeperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = metadata::SqliteMetadataStore::open(dir_.path() / "metadata.db");
    ASSERT_TRUE(opened) << opened.error().message;
    metadata_ = std::move(*opened);
  }

  Registry registry() {
    return Registry(storage_, *metadata_, sessions_, metadata::kDefaultRegistryId);
  }

  // A session with `content` accepted; returns its id.
  std::string open_session(std::string_view content) {
    auto session = registry().start_upload("repo");
    EXPECT_TRUE(session) << session.error().message;
    EXPECT_TRUE((*session)->append(bytes_of(content)));
    EXPECT_TRUE((*session)->flush());
    return (*session)->id();
  }

  std::vector<std::string> stored_uploads() {
    auto ids = *storage_.list_uploads();
    std::sort(ids.begin(), ids.end());
    return ids;
  }

  TempDir dir_;
  storage::BlobStorage storage_{std::make_unique<storage::MemoryByteStore>()};
  std::unique_ptr<metadata::SqliteMetadataStore> metadata_;
  UploadSessions sessions_{UploadPolicy{1h, 1000}};
};

TEST_F(UploadSweeperTest, RemovesIdleSessionsWithTheirBytesAndKeepsActiveOnes) {
  std::string id = open_session("idle bytes");
  UploadSweeper sweeper(storage_, *metadata_, sessions_);

  auto early = sweeper.sweep_once(unix_now() + 60);
  ASSERT_TRUE(early);
  EXPECT_EQ(early->expired, 0u);
  EXPECT_EQ(stored_uploads(), std::vector<std::string>{id});

  auto late = sweeper.sweep_once(unix_now() + 2 * 60 * 60);
  ASSERT_TRUE(late);
  EXPECT_EQ(late->expired, 1u);
  EXPECT_EQ(*metadata_->get_upload(id), std::nullopt);
  EXPECT_TRUE(stored_uploads().empty());
}

TEST_F(UploadSweeperTest, SkipsSessionsARequestHolds) {
  std::string id = open_session("in use");
  auto resumed = registry().resume_upload("repo", id);
  ASSERT_TRUE(resumed);
  UploadSweeper sweeper(storage_, *metadata_, sessions_);
  auto swept = sweeper.sweep_once(unix_now() + 2 * 60 * 60);
  ASSERT_TRUE(swept);
  EXPECT_EQ(swept->expired, 0u);
  EXPECT_TRUE(*metadata_->get_upload(id));
  resumed->reset();
  EXPECT_EQ(sweeper.sweep_once(unix_now() + 2 * 60 * 60)->expired, 1u);
}

TEST_F(UploadSweeperTest, RemovesBytesWithoutARecordButNotAOneRequestUploadInFlight) {
  ASSERT_TRUE(storage_.create_upload("orphan"));  // bytes a crash left without a record
  auto in_flight = registry().start_single_request_upload("repo");
  ASSERT_TRUE(in_flight);
  std::string kept = open_session("kept");

  UploadSweeper sweeper(storage_, *metadata_, sessions_);
  auto swept = sweeper.sweep_once(unix_now());
  ASSERT_TRUE(swept);
  EXPECT_EQ(swept->orphans, 1u);
  auto expected = std::vector<std::string>{(*in_flight)->id(), kept};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(stored_uploads(), expected);
}

TEST_F(UploadSweeperTest, DeleteIsRefusedWhileARequestHoldsTheSession) {
  std::string id = open_session("abc");
  auto resumed = registry().resume_upload("repo", id);
  ASSERT_TRUE(resumed);
  auto refused = registry().cancel_upload("repo", id);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Errc::upload_in_use);
  EXPECT_TRUE(*metadata_->get_upload(id));
  EXPECT_EQ(registry().resume_upload("repo", id).error().code, Errc::upload_in_use);
  resumed->reset();
  EXPECT_TRUE(registry().cancel_upload("repo", id));
  EXPECT_TRUE(stored_uploads().empty());
}

TEST_F(UploadSweeperTest, StatusDuringARequestIsTheSizeBeforeIt) {
  std::string id = open_session("1234");
  auto resumed = registry().resume_upload("repo", id);
  ASSERT_TRUE(resumed);
  ASSERT_TRUE((*resumed)->append(bytes_of("5678")));
  EXPECT_EQ(*registry().upload_size("repo", id), 4u);
  ASSERT_TRUE((*resumed)->flush());
  EXPECT_EQ(*registry().upload_size("repo", id), 8u);
  ASSERT_TRUE((*resumed)->append(bytes_of("refused")));
  ASSERT_TRUE((*resumed)->revert());
  resumed->reset();
  EXPECT_EQ(*registry().upload_size("repo", id), 8u);
}

}  // namespace
}  // namespace berth::registry
