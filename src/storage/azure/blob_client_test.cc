// The Blob REST client against a real Azurite (which verifies every SharedKey signature), and
// its retries against a loopback responder that answers with scripted statuses.

#include "storage/azure/blob_client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "support/azurite_server.h"

namespace berth::storage::azure {
namespace {

std::span<const std::byte> bytes_of(std::string_view text) {
  return std::as_bytes(std::span(text));
}

std::string random_suffix() {
  static std::mt19937_64 random{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 12; ++i) out += kHex[random() % 16];
  return out;
}

ConnectionString account_at(const testing::AzuriteServer& server) {
  auto parsed = parse_connection_string(server.connection_string());
  EXPECT_TRUE(parsed) << parsed.error().message;
  return *parsed;
}

// Block ids of one blob must have one length: "block-0001" encoded.
std::string block_id(int n) {
  char text[16];
  std::snprintf(text, sizeof(text), "block-%04d", n);
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string in(text), out;
  for (std::size_t i = 0; i < in.size(); i += 3) {
    std::uint32_t chunk = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) chunk |= static_cast<unsigned char>(in[i + 1]) << 8;
    if (i + 2 < in.size()) chunk |= static_cast<unsigned char>(in[i + 2]);
    out += kAlphabet[(chunk >> 18) & 63];
    out += kAlphabet[(chunk >> 12) & 63];
    out += i + 1 < in.size() ? kAlphabet[(chunk >> 6) & 63] : '=';
    out += i + 2 < in.size() ? kAlphabet[chunk & 63] : '=';
  }
  return out;
}

class BlobClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    BERTH_REQUIRE_AZURITE(azurite_);
    auto made = BlobClient::make(account_at(*azurite_), "client-" + random_suffix());
    ASSERT_TRUE(made) << made.error().message;
    client_ = std::move(*made);
    auto created = client_->create_container();
    ASSERT_TRUE(created) << created.error().message;
  }
  void TearDown() override {
    if (client_) {
      EXPECT_TRUE(client_->delete_container());
    }
  }

  std::string read_all(std::string_view name, std::size_t size) {
    std::string out(size, '\0');
    auto read = client_->get_range(name, 0, std::as_writable_bytes(std::span(out)));
    EXPECT_TRUE(read) << read.error().message;
    out.resize(read ? read->count : 0);
    return out;
  }

  testing::AzuriteServer* azurite_ = nullptr;
  std::unique_ptr<BlobClient> client_;
};

TEST_F(BlobClientTest, CreatingTheContainerTwiceIsFine) {
  EXPECT_TRUE(client_->create_container());
  EXPECT_NE(client_->describe().find("container client-"), std::string::npos);
  EXPECT_EQ(client_->describe().find(testing::kAzuriteKey), std::string::npos);
}

TEST_F(BlobClientTest, PutBlobThenRangesAndProperties) {
  std::string content;
  for (int i = 0; i < 1000; ++i) content += static_cast<char>('a' + i % 26);
  auto etag = client_->put_blob("dir/some blob+name", bytes_of(content), {}, {{"origin", "test"}});
  ASSERT_TRUE(etag) << etag.error().message;
  EXPECT_FALSE(etag->empty());

  auto properties = client_->get_properties("dir/some blob+name", {"origin"});
  ASSERT_TRUE(properties) << properties.error().message;
  EXPECT_EQ(properties->size, 1000u);
  EXPECT_EQ(properties->etag, *etag);
  EXPECT_GT(properties->last_modified, 1'600'000'000);
  ASSERT_EQ(properties->metadata.size(), 1u);
  EXPECT_EQ(properties->metadata[0].second, "test");

  char middle[20];
  auto read =
      client_->get_range("dir/some blob+name", 10, std::as_writable_bytes(std::span(middle)));
  ASSERT_TRUE(read) << read.error().message;
  EXPECT_EQ(std::string(middle, read->count), content.substr(10, 20));
  EXPECT_EQ(read->blob_size, 1000u);
  EXPECT_EQ(read->etag, *etag);

  char tail[64];
  read = client_->get_range("dir/some blob+name", 990, std::as_writable_bytes(std::span(tail)));
  ASSERT_TRUE(read) << read.error().message;
  EXPECT_EQ(std::string(tail, read->count), content.substr(990));  // short at the end

  read = client_->get_range("dir/some blob+name", 1000, std::as_writable_bytes(std::span(tail)));
  ASSERT_TRUE(read) << read.error().message;
  EXPECT_EQ(read->count, 0u);  // at the end

  read = client_->get_range("dir/some blob+name", 0, std::as_writable_bytes(std::span(tail)),
                            std::string("\"0x1\""));
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().code, ClientErrc::condition_not_met);
}

TEST_F(BlobClientTest, EmptyBlobsReadAsEmpty) {
  ASSERT_TRUE(client_->put_blob("empty", {}));
  auto properties = client_->get_properties("empty");
  ASSERT_TRUE(properties);
  EXPECT_EQ(properties->size, 0u);
  EXPECT_EQ(read_all("empty", 16), "");
}

TEST_F(BlobClientTest, ConditionsProtectWrites) {
  auto first = client_->put_blob("once", bytes_of("first"), Condition{.if_none_match_any = true});
  ASSERT_TRUE(first) << first.error().message;
  auto again = client_->put_blob("once", bytes_of("second"), Condition{.if_none_match_any = true});
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ClientErrc::already_exists) << again.error().message;
  EXPECT_EQ(read_all("once", 16), "first");

  auto stale = client_->put_blob("once", bytes_of("third"), Condition{.if_match = "\"0x1\""});
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().code, ClientErrc::condition_not_met) << stale.error().message;
  EXPECT_NE(stale.error().message.find("HTTP 412"), std::string::npos) << stale.error().message;
  auto current = client_->put_blob("once", bytes_of("third"), Condition{.if_match = *first});
  ASSERT_TRUE(current) << current.error().message;
  EXPECT_EQ(read_all("once", 16), "third");
}

TEST_F(BlobClientTest, BlocksCommitInListOrderAndAppendKeepsTheCommittedOnes) {
  ASSERT_TRUE(client_->put_blob("upload", {}));
  ASSERT_TRUE(client_->put_block("upload", block_id(1), bytes_of("hello, ")));
  ASSERT_TRUE(client_->put_block("upload", block_id(2), bytes_of("world")));
  auto empty = client_->get_block_list("upload");
  ASSERT_TRUE(empty) << empty.error().message;
  EXPECT_TRUE(empty->committed.empty());
  EXPECT_EQ(empty->size, 0u);

  auto etag = client_->put_block_list("upload", {{block_id(1), false}, {block_id(2), false}},
                                      Condition{.if_match = empty->etag});
  ASSERT_TRUE(etag) << etag.error().message;
  auto list = client_->get_block_list("upload");
  ASSERT_TRUE(list) << list.error().message;
  ASSERT_EQ(list->committed.size(), 2u);
  EXPECT_EQ(list->committed[0].id, block_id(1));
  EXPECT_EQ(list->committed[1].size, 5u);
  EXPECT_EQ(list->size, 12u);
  EXPECT_EQ(list->etag, *etag);
  EXPECT_EQ(read_all("upload", 64), "hello, world");

  // A block staged but left out of the next list is dropped; committed ones stay.
  ASSERT_TRUE(client_->put_block("upload", block_id(3), bytes_of(" (dropped)")));
  ASSERT_TRUE(client_->put_block("upload", block_id(4), bytes_of("!")));
  auto appended = client_->put_block_list(
      "upload", {{block_id(1), true}, {block_id(2), true}, {block_id(4), false}},
      Condition{.if_match = *etag});
  ASSERT_TRUE(appended) << appended.error().message;
  EXPECT_EQ(read_all("upload", 64), "hello, world!");

  // The old ETag no longer matches: another writer's list would not be overwritten.
  auto stale =
      client_->put_block_list("upload", {{block_id(1), true}}, Condition{.if_match = *etag});
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().code, ClientErrc::condition_not_met);
  EXPECT_EQ(read_all("upload", 64), "hello, world!");
}

TEST_F(BlobClientTest, DeleteRemovesAndThenFindsNothing) {
  ASSERT_TRUE(client_->put_blob("doomed", bytes_of("x")));
  auto deleted = client_->delete_blob("doomed");
  ASSERT_TRUE(deleted) << deleted.error().message;
  EXPECT_FALSE(deleted->retried);
  auto gone = client_->get_properties("doomed");
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code, ClientErrc::not_found);
  auto again = client_->delete_blob("doomed");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ClientErrc::not_found);
  EXPECT_NE(again.error().message.find("Delete Blob of " + client_->container() + "/doomed"),
            std::string::npos)
      << again.error().message;
  EXPECT_NE(again.error().message.find("HTTP 404 (BlobNotFound)"), std::string::npos)
      << again.error().message;
}

TEST_F(BlobClientTest, ListingPagesThroughAPrefixInNameOrder) {
  std::vector<std::string> expected;
  for (int i = 0; i < 12; ++i) {
    std::string name = "p/" + std::to_string(100 + (i * 7) % 12);
    ASSERT_TRUE(client_->put_blob(name, bytes_of(name)));
    expected.push_back(name);
  }
  ASSERT_TRUE(client_->put_blob("q/other", bytes_of("not listed")));
  ASSERT_TRUE(client_->put_blob("p", bytes_of("not under p/")));
  std::sort(expected.begin(), expected.end());

  std::vector<std::string> seen;
  std::string marker;
  int pages = 0;
  do {
    auto page = client_->list_blobs("p/", marker, 5);
    ASSERT_TRUE(page) << page.error().message;
    ASSERT_LE(page->blobs.size(), 5u);
    for (const ListedBlob& blob : page->blobs) {
      seen.push_back(blob.name);
      EXPECT_EQ(blob.size, blob.name.size());
      EXPECT_GT(blob.last_modified, 1'600'000'000);
    }
    marker = page->next_marker;
    ++pages;
  } while (!marker.empty() && pages < 10);
  EXPECT_EQ(seen, expected);
  EXPECT_EQ(pages, 3);

  auto nothing = client_->list_blobs("none/", "", 10);
  ASSERT_TRUE(nothing);
  EXPECT_TRUE(nothing->blobs.empty());
  EXPECT_TRUE(nothing->next_marker.empty());
  EXPECT_FALSE(client_->list_blobs("", "", 0));
}

TEST_F(BlobClientTest, CopyIsServerSideAndCanRefuseToOverwrite) {
  std::string content(100'000, 'c');
  ASSERT_TRUE(client_->put_blob("uploads/x/data", bytes_of(content)));
  auto copied =
      client_->copy_blob("uploads/x/data", "blobs/sha256/aa", Condition{.if_none_match_any = true});
  ASSERT_TRUE(copied) << copied.error().message;
  EXPECT_EQ(copied->size, content.size());
  EXPECT_EQ(read_all("blobs/sha256/aa", content.size() + 1), content);

  ASSERT_TRUE(client_->put_blob("uploads/y/data", bytes_of("other")));
  auto again =
      client_->copy_blob("uploads/y/data", "blobs/sha256/aa", Condition{.if_none_match_any = true});
  ASSERT_FALSE(again);
  EXPECT_TRUE(again.error().code == ClientErrc::already_exists ||
              again.error().code == ClientErrc::condition_not_met)
      << again.error().message;
  EXPECT_EQ(read_all("blobs/sha256/aa", content.size() + 1), content);

  auto missing = client_->copy_blob("uploads/none/data", "blobs/sha256/bb");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ClientErrc::not_found) << missing.error().message;
}

TEST_F(BlobClientTest, ALeaseLocksWritesToItsHolder) {
  const std::string mine = "11111111-2222-3333-4444-555555555555";
  const std::string theirs = "99999999-8888-7777-6666-555555555555";
  ASSERT_TRUE(client_->put_blob("leased", {}));
  auto acquired = client_->acquire_lease("leased", mine, 60);
  ASSERT_TRUE(acquired) << acquired.error().message;
  EXPECT_TRUE(client_->acquire_lease("leased", mine, 60));  // our own again: fine

  auto taken = client_->acquire_lease("leased", theirs, 60);
  ASSERT_FALSE(taken);
  EXPECT_EQ(taken.error().code, ClientErrc::lease_conflict) << taken.error().message;
  auto write = client_->put_block("leased", block_id(1), bytes_of("x"));
  ASSERT_FALSE(write);
  EXPECT_EQ(write.error().code, ClientErrc::lease_conflict) << write.error().message;
  auto removal = client_->delete_blob("leased");
  ASSERT_FALSE(removal);
  EXPECT_EQ(removal.error().code, ClientErrc::lease_conflict) << removal.error().message;

  ASSERT_TRUE(client_->put_block("leased", block_id(1), bytes_of("he"), bytes_of("llo"),
                                 Condition{.lease_id = mine}));
  ASSERT_TRUE(
      client_->put_block_list("leased", {{block_id(1), false}}, Condition{.lease_id = mine}));
  EXPECT_EQ(read_all("leased", 16), "hello");
  EXPECT_TRUE(client_->renew_lease("leased", mine));
  ASSERT_TRUE(client_->release_lease("leased", mine));
  EXPECT_TRUE(client_->acquire_lease("leased", theirs, 15));
  auto gone = client_->renew_lease("leased", mine);
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code, ClientErrc::lease_conflict) << gone.error().message;
  EXPECT_TRUE(client_->delete_blob("leased", Condition{.lease_id = theirs}));
}

TEST_F(BlobClientTest, AWrongKeyIsRefusedAndTheMessageHoldsNoSecret) {
  ConnectionString wrong = account_at(*azurite_);
  wrong.account_key = "definitely not the account key";
  auto made = BlobClient::make(wrong, client_->container());
  ASSERT_TRUE(made);
  auto refused = (*made)->put_blob("x", bytes_of("x"));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ClientErrc::io_error);
  EXPECT_NE(refused.error().message.find("HTTP 403"), std::string::npos) << refused.error().message;
  EXPECT_EQ(refused.error().message.find(wrong.account_key), std::string::npos);
  EXPECT_EQ(refused.error().message.find("SharedKey"), std::string::npos);
}

TEST(BlobClient, RefusesMalformedContainerNames) {
  ConnectionString account = *parse_connection_string("UseDevelopmentStorage=true");
  for (const char* name : {"ab", "Upper", "double--dash", "-lead", "trail-", "under_score"}) {
    auto made = BlobClient::make(account, name);
    ASSERT_FALSE(made) << name;
    EXPECT_EQ(made.error().code, ClientErrc::invalid_argument);
  }
  EXPECT_TRUE(BlobClient::make(account, "berth-blobs-1"));
}

// A loopback HTTP responder that answers each request with the next scripted status (the last
// one repeated), and counts requests. Each answer closes its connection.
class ScriptedResponder {
 public:
  explicit ScriptedResponder(std::vector<int> statuses) : statuses_(std::move(statuses)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address));
    ::listen(fd_, 16);
    socklen_t length = sizeof(address);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~ScriptedResponder() {
    stopping_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  std::uint16_t port() const { return port_; }
  int requests() const { return requests_; }

 private:
  void serve() {
    while (!stopping_) {
      int client = ::accept(fd_, nullptr, nullptr);
      if (client < 0) return;
      std::string request;
      char buffer[4096];
      while (request.find("\r\n\r\n") == std::string::npos) {
        ssize_t got = ::recv(client, buffer, sizeof(buffer), 0);
        if (got <= 0) break;
        request.append(buffer, static_cast<std::size_t>(got));
      }
      const int index = std::min<int>(requests_, static_cast<int>(statuses_.size()) - 1);
      ++requests_;
      const int status = statuses_[static_cast<std::size_t>(index)];
      std::string answer = "HTTP/1.1 " + std::to_string(status) + " Scripted\r\n";
      if (status >= 300) answer += "x-ms-error-code: ServerBusy\r\n";
      answer += "Content-Length: 0\r\nConnection: close\r\n\r\n";
      ::send(client, answer.data(), answer.size(), MSG_NOSIGNAL);
      ::close(client);
    }
  }

  std::vector<int> statuses_;
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<int> requests_{0};
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

ClientOptions quick_retries() {
  ClientOptions options;
  options.max_attempts = 4;
  options.first_backoff = std::chrono::milliseconds(10);
  options.max_backoff = std::chrono::milliseconds(40);
  options.connect_timeout = std::chrono::milliseconds(2000);
  return options;
}

std::unique_ptr<BlobClient> client_at(std::uint16_t port) {
  auto account = *parse_connection_string("UseDevelopmentStorage=true");
  account.blob_endpoint = "http://127.0.0.1:" + std::to_string(port) + "/devstoreaccount1";
  return std::move(*BlobClient::make(account, "retries", quick_retries()));
}

TEST(BlobClientRetries, BusyAndFailingServersAreRetriedUntilTheyAnswer) {
  ScriptedResponder responder({503, 500, 201});
  auto client = client_at(responder.port());
  auto put = client->put_blob("x", bytes_of("payload"));
  ASSERT_TRUE(put) << put.error().message;
  EXPECT_EQ(responder.requests(), 3);
}

TEST(BlobClientRetries, GiveUpAfterTheLastAttemptNamingTheStatus) {
  ScriptedResponder responder({503});
  auto client = client_at(responder.port());
  auto put = client->put_block("uploads/u/data", block_id(1), bytes_of("payload"));
  ASSERT_FALSE(put);
  EXPECT_EQ(put.error().code, ClientErrc::io_error);
  EXPECT_EQ(responder.requests(), 4);
  EXPECT_NE(put.error().message.find("Put Block of retries/uploads/u/data failed: HTTP 503 "
                                     "(ServerBusy) after 4 attempts"),
            std::string::npos)
      << put.error().message;
}

TEST(BlobClientRetries, ClientErrorsAreNotRetried) {
  ScriptedResponder responder({400, 201});
  auto client = client_at(responder.port());
  auto put = client->put_blob("x", bytes_of("payload"));
  ASSERT_FALSE(put);
  EXPECT_EQ(responder.requests(), 1);
}

TEST(BlobClientRetries, AServerThatIsGoneIsRetriedThenReported) {
  std::uint16_t port = 0;
  {
    ScriptedResponder closed({201});  // take a free port, then free it again
    port = closed.port();
  }
  auto client = client_at(port);
  auto read = client->get_properties("x");
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().code, ClientErrc::io_error);
  EXPECT_NE(read.error().message.find("after 4 attempts"), std::string::npos)
      << read.error().message;
}

}  // namespace
}  // namespace berth::storage::azure
