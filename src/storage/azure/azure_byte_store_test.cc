// What the Azure driver does beyond the driver contract (which the shared driver suite checks):
// its layout in the container, blocks and leases, server-side commits, readers that prefetch,
// list_blobs starting after any cursor, and failures of the service. Against a real Azurite.

#include "storage/azure/azure_byte_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "support/azurite_server.h"

namespace berth::storage::azure {
namespace {

std::span<const std::byte> bytes_of(std::string_view text) {
  return std::as_bytes(std::span(text));
}

std::string random_hex_text(std::mt19937_64& random, std::size_t length) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < length; ++i) out += kHex[random() % 16];
  return out;
}

std::string container_name() {
  static std::mt19937_64 random{std::random_device{}()};
  return "driver-" + random_hex_text(random, 12);
}

oci::Digest digest_of_hex(std::string_view algorithm, std::string_view hex) {
  return *oci::Digest::parse(std::string(algorithm) + ":" + std::string(hex));
}

class AzureByteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    BERTH_REQUIRE_AZURITE(azurite_);
    container_ = container_name();
    account_ = *parse_connection_string(azurite_->connection_string());
    auto client = BlobClient::make(account_, container_);
    ASSERT_TRUE(client);
    client_ = std::move(*client);
  }
  void TearDown() override {
    if (client_) {
      (void)client_->delete_container();
    }
  }

  std::unique_ptr<AzureByteStore> open_store(AzureOptions options = {}) {
    auto store = AzureByteStore::open(account_, container_, options);
    EXPECT_TRUE(store) << store.error().message;
    return store ? std::move(*store) : nullptr;
  }

  std::vector<std::string> names_under(std::string_view prefix) {
    std::vector<std::string> names;
    auto page = client_->list_blobs(prefix, "", 5000);
    EXPECT_TRUE(page) << page.error().message;
    if (page) {
      for (const auto& blob : page->blobs) names.push_back(blob.name);
    }
    return names;
  }

  testing::AzuriteServer* azurite_ = nullptr;
  std::string container_;
  ConnectionString account_;
  std::unique_ptr<BlobClient> client_;
};

TEST_F(AzureByteStoreTest, UploadsGoInBlocksAndCommitByServerSideCopy) {
  AzureOptions options;
  options.block_size = 1000;
  auto store = open_store(options);
  ASSERT_TRUE(store);
  std::string content;
  for (int i = 0; i < 2600; ++i) content += static_cast<char>('A' + i % 26);
  const oci::Digest digest = oci::digest_of(content);

  auto upload = store->create_upload("blocks");
  ASSERT_TRUE(upload) << upload.error().message;
  EXPECT_EQ(names_under("uploads/"), std::vector<std::string>{"uploads/blocks/data"});
  // 300 + 2000 bytes: the second append fills and stages two whole blocks, keeps 300.
  ASSERT_TRUE((*upload)->append(bytes_of(std::string_view(content).substr(0, 300))));
  ASSERT_TRUE((*upload)->append(bytes_of(std::string_view(content).substr(300, 2000))));
  EXPECT_EQ((*upload)->size(), 2300u);
  EXPECT_EQ(*store->upload_size("blocks"), 0u);  // nothing flushed yet
  ASSERT_TRUE((*upload)->flush());
  EXPECT_EQ(*store->upload_size("blocks"), 2300u);
  auto list = client_->get_block_list("uploads/blocks/data");
  ASSERT_TRUE(list);
  ASSERT_EQ(list->committed.size(), 3u);  // 1000 + 1000 + the 300 the flush staged
  EXPECT_EQ(list->committed[2].size, 300u);

  ASSERT_TRUE((*upload)->append(bytes_of(std::string_view(content).substr(2300))));
  auto info = (*upload)->commit_as(digest);
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->size, content.size());
  EXPECT_EQ(names_under("blobs/"),
            std::vector<std::string>{"blobs/sha256/" + std::string(digest.hex())});
  EXPECT_TRUE(names_under("uploads/").empty());

  auto reader = store->open(digest);
  ASSERT_TRUE(reader);
  std::string read(content.size(), '\0');
  auto n = (*reader)->read(0, std::as_writable_bytes(std::span(read)));
  ASSERT_TRUE(n);
  read.resize(*n);
  EXPECT_EQ(read.substr(0, 100), content.substr(0, 100));
}

TEST_F(AzureByteStoreTest, RevertForgetsStagedBlocksAndTheNextFlushDropsThem) {
  AzureOptions options;
  options.block_size = 4;
  auto store = open_store(options);
  ASSERT_TRUE(store);
  auto upload = store->create_upload("reverted");
  ASSERT_TRUE(upload);
  ASSERT_TRUE((*upload)->append(bytes_of("kept")));
  ASSERT_TRUE((*upload)->flush());
  ASSERT_TRUE((*upload)->append(bytes_of("dropped, staged as blocks")));
  ASSERT_TRUE((*upload)->revert());
  EXPECT_EQ((*upload)->size(), 4u);
  ASSERT_TRUE((*upload)->append(bytes_of("+more")));
  ASSERT_TRUE((*upload)->flush());
  char out[64];
  auto n = (*upload)->read(0, std::as_writable_bytes(std::span(out)));
  ASSERT_TRUE(n);
  EXPECT_EQ(std::string(out, *n), "kept+more");
}

TEST_F(AzureByteStoreTest, ALeaseKeepsOtherNodesOutUntilTheHandleGoes) {
  auto first = open_store();
  auto second = open_store();
  ASSERT_TRUE(first && second);
  auto held = first->create_upload("leased");
  ASSERT_TRUE(held);
  auto refused = second->open_upload("leased");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Errc::upload_busy);
  EXPECT_NE(refused.error().message.find("another node"), std::string::npos);
  // Writes by a node without the lease are refused by the service itself.
  auto write = client_->put_block("uploads/leased/data", "QUFBQQ==", bytes_of("x"));
  ASSERT_FALSE(write);
  EXPECT_EQ(write.error().code, ClientErrc::lease_conflict);
  held->reset();
  auto taken = second->open_upload("leased");
  ASSERT_TRUE(taken) << taken.error().message;
}

TEST_F(AzureByteStoreTest, ReadersPrefetchTheHeadAndReadTheRestByRange) {
  AzureOptions options;
  options.prefetch = 16;
  auto store = open_store(options);
  ASSERT_TRUE(store);
  std::string content;
  for (int i = 0; i < 100; ++i) content += static_cast<char>('0' + i % 10);
  const oci::Digest digest = oci::digest_of(content);
  ASSERT_TRUE(store->store(digest, bytes_of(content)));
  auto reader = store->open(digest);
  ASSERT_TRUE(reader);
  EXPECT_EQ((*reader)->size(), 100u);
  EXPECT_EQ((*reader)->native_handle(), -1);

  char buffer[40];
  auto n = (*reader)->read(50, std::as_writable_bytes(std::span(buffer)));
  ASSERT_TRUE(n);
  EXPECT_EQ(std::string(buffer, *n), content.substr(50, 40));
  n = (*reader)->read(90, std::as_writable_bytes(std::span(buffer)));
  ASSERT_TRUE(n);
  EXPECT_EQ(std::string(buffer, *n), content.substr(90));

  ASSERT_TRUE(store->remove(digest));
  n = (*reader)->read(0, std::as_writable_bytes(std::span(buffer)));
  ASSERT_TRUE(n);
  EXPECT_EQ(std::string(buffer, *n), content.substr(0, 16));  // the prefetched head
  n = (*reader)->read(50, std::as_writable_bytes(std::span(buffer)));
  ASSERT_FALSE(n);
  EXPECT_EQ(n.error().code, Errc::not_found);

  // Stored again (the same content, a new object): the old reader still refuses other bytes.
  ASSERT_TRUE(store->store(digest, bytes_of(content)));
  n = (*reader)->read(50, std::as_writable_bytes(std::span(buffer)));
  ASSERT_FALSE(n);
  EXPECT_EQ(n.error().code, Errc::not_found);
}

// list_blobs from every kind of cursor, with listings so small that the walk skims, narrows and
// walks child by child, against the same walk done in memory.
TEST_F(AzureByteStoreTest, ListBlobsStartsAfterAnyCursor) {
  AzureOptions options;
  options.listing_page = 8;
  auto store = open_store(options);
  ASSERT_TRUE(store);
  std::mt19937_64 random(15);
  std::vector<std::string> all;
  for (int i = 0; i < 90; ++i) {
    // Shared leading digits, so that prefixes of cursors have crowded subtrees.
    std::string hex = (i % 3 == 0 ? "ab" : i % 3 == 1 ? "a" : "") + random_hex_text(random, 64);
    hex.resize(64);
    auto digest = digest_of_hex("sha256", hex);
    ASSERT_TRUE(store->store(digest, bytes_of(hex.substr(0, i % 7))));
    all.push_back(digest.str());
  }
  for (int i = 0; i < 6; ++i) {
    auto digest = digest_of_hex("sha512", random_hex_text(random, 128));
    ASSERT_TRUE(store->store(digest, bytes_of("x")));
    all.push_back(digest.str());
  }
  ASSERT_TRUE(store->create_upload("not-a-blob"));
  std::sort(all.begin(), all.end());

  std::vector<std::string> cursors = {
      "",         "sha256:", "sha256:a", "sha256:ab", "sha256:abz", "sha256:ff",
      "sha256:g", "sha3",    "sha512:",  "sha512:zz", "zzz",        "a",
      all[0],     all[17],   all[44],    all[89],     all.back()};
  cursors.push_back(all[30].substr(0, 20));
  cursors.push_back(all[30] + "0");
  for (const std::string& cursor : cursors) {
    for (std::size_t limit : {std::size_t{1}, std::size_t{7}, std::size_t{200}}) {
      std::vector<std::string> expected;
      for (const auto& text : all) {
        if (text > cursor && expected.size() < limit) expected.push_back(text);
      }
      auto page = store->list_blobs(cursor, limit);
      ASSERT_TRUE(page) << page.error().message;
      std::vector<std::string> seen;
      for (const auto& blob : page->blobs) seen.push_back(blob.digest.str());
      EXPECT_EQ(seen, expected) << "after \"" << cursor << "\", limit " << limit;
      EXPECT_EQ(page->next, seen.size() == limit ? seen.back() : "") << cursor;
    }
  }
}

TEST_F(AzureByteStoreTest, CheckWritableLeavesNothingBehind) {
  auto store = open_store();
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->check_writable());
  EXPECT_TRUE(names_under("").empty());
}

TEST_F(AzureByteStoreTest, AWrongKeyStopsTheOpenWithoutShowingIt) {
  ConnectionString wrong = account_;
  wrong.account_key = "a key the service does not know";
  auto store = AzureByteStore::open(wrong, container_);
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, Errc::io_error);
  EXPECT_NE(store.error().message.find("HTTP 403"), std::string::npos) << store.error().message;
  EXPECT_EQ(store.error().message.find(wrong.account_key), std::string::npos);
}

// A service that goes away mid-upload: the append that needed it fails whole, with a message
// naming the operation and no secret, and the upload keeps its size.
TEST(AzureByteStoreFailures, AnAppendThatCannotReachTheServiceChangesNothing) {
  testing::AzuriteServer* shared = nullptr;
  BERTH_REQUIRE_AZURITE(shared);  // proves Azurite can run; this test runs its own
  std::string error;
  auto own = testing::AzuriteServer::start(error);
  ASSERT_TRUE(own) << error;
  AzureOptions options;
  options.block_size = 8;
  options.client.max_attempts = 2;
  options.client.first_backoff = std::chrono::milliseconds(10);
  auto store =
      AzureByteStore::open(*parse_connection_string(own->connection_string()), "failures", options);
  ASSERT_TRUE(store) << store.error().message;
  auto upload = (*store)->create_upload("interrupted");
  ASSERT_TRUE(upload);
  ASSERT_TRUE((*upload)->append(bytes_of("12345")));
  own->kill();
  auto appended = (*upload)->append(bytes_of("a chunk of several blocks"));
  ASSERT_FALSE(appended);
  EXPECT_EQ(appended.error().code, Errc::io_error);
  EXPECT_NE(appended.error().message.find("Put Block of failures/uploads/interrupted/data"),
            std::string::npos)
      << appended.error().message;
  EXPECT_EQ(appended.error().message.find(testing::kAzuriteKey), std::string::npos);
  EXPECT_EQ((*upload)->size(), 5u);
  EXPECT_FALSE((*upload)->flush());
  EXPECT_EQ((*upload)->size(), 5u);
}

}  // namespace
}  // namespace berth::storage::azure
