// Direct read URLs of the Azure driver against a real Azurite, which checks every SAS it is
// sent: a plain GET (no Authorization header) of the URL returns the blob's bytes; the same
// signature on another blob's path, an expired URL, and writes with the URL are refused (403).

#include <gtest/gtest.h>

#include <chrono>
#include <ctime>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "storage/azure/azure_byte_store.h"
#include "storage/azure/shared_key.h"
#include "storage/blob_storage.h"
#include "support/azurite_server.h"
#include "support/http_client.h"
#include "support/secret_record.h"

namespace berth::storage::azure {
namespace {

using std::chrono::seconds;

std::span<const std::byte> bytes_of(std::string_view text) {
  return std::as_bytes(std::span(text));
}

std::string container_name() {
  static std::mt19937_64 random{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string name = "direct-";
  for (int i = 0; i < 12; ++i) name += kHex[random() % 16];
  return name;
}

// The decoded value of query parameter `name` of `url` ("" when absent). Only what the
// driver's URLs hold is decoded: %XX escapes.
std::string query_parameter(std::string_view url, std::string_view name) {
  std::string key(name);
  key += '=';
  std::size_t at = url.find('?');
  while (at != std::string_view::npos) {
    ++at;
    if (url.substr(at).starts_with(key)) {
      std::string_view value = url.substr(at + key.size());
      value = value.substr(0, value.find('&'));
      std::string decoded;
      for (std::size_t i = 0; i < value.size(); ++i) {
        if (value[i] == '%' && i + 2 < value.size()) {
          decoded += static_cast<char>(std::stoi(std::string(value.substr(i + 1, 2)), nullptr, 16));
          i += 2;
        } else {
          decoded += value[i];
        }
      }
      return decoded;
    }
    at = url.find('&', at);
  }
  return {};
}

// "2026-01-01T00:00:00Z" as a time point.
std::chrono::system_clock::time_point parse_sas_time(const std::string& text) {
  std::tm utc{};
  const char* end = ::strptime(text.c_str(), "%Y-%m-%dT%H:%M:%SZ", &utc);
  EXPECT_TRUE(end != nullptr && *end == '\0') << text;
  return std::chrono::system_clock::from_time_t(::timegm(&utc));
}

// The URL with its path (the blob's name) replaced by `other`'s, its query kept.
std::string with_path_of(const std::string& url, const std::string& other) {
  return other.substr(0, other.find('?')) + url.substr(url.find('?'));
}

class AzureDirectReadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    BERTH_REQUIRE_AZURITE(azurite_);
    container_ = container_name();
    account_ = *parse_connection_string(azurite_->connection_string());
    auto store = AzureByteStore::open(account_, container_);
    ASSERT_TRUE(store) << store.error().message;
    storage_ = std::make_unique<BlobStorage>(std::move(*store));
  }
  void TearDown() override {
    storage_.reset();
    if (auto client = BlobClient::make(account_, container_); client) {
      (void)(*client)->delete_container();
    }
  }

  oci::Digest put(std::string_view content) {
    const oci::Digest digest = oci::digest_of(content);
    auto stored = storage_->put(digest, bytes_of(content));
    EXPECT_TRUE(stored) << stored.error().message;
    return digest;
  }

  // A direct read URL; its signature is noted for the no-secrets-in-logs check, and no
  // assertion here prints the URL.
  std::string url_of(const oci::Digest& digest, seconds lifetime) {
    auto url = storage_->direct_read_url(digest, lifetime);
    EXPECT_TRUE(url) << url.error().message;
    if (!url || !url->has_value()) {
      ADD_FAILURE() << "the Azure driver gave no URL";
      return {};
    }
    ::berth::testing::record_secret(query_parameter(**url, "sig"));
    return **url;
  }

  testing::AzuriteServer* azurite_ = nullptr;
  std::string container_;
  ConnectionString account_;
  std::unique_ptr<BlobStorage> storage_;
  ::berth::testing::HttpClient http_{""};
};

TEST_F(AzureDirectReadTest, APlainGetOfTheUrlReturnsTheBlob) {
  const std::string content = "config bytes, read straight from the medium";
  const oci::Digest digest = put(content);
  const std::string url = url_of(digest, seconds(60));
  ASSERT_FALSE(url.empty());

  std::string expected_prefix = azurite_->blob_endpoint();
  expected_prefix += '/';
  expected_prefix += container_;
  expected_prefix += "/blobs/sha256/";
  expected_prefix += digest.hex();
  expected_prefix += '?';
  EXPECT_TRUE(url.starts_with(expected_prefix));

  auto response = http_.get(url);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, content);
  // HEAD (Get Blob Properties) is reading too.
  auto head = http_.head(url);
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.header("Content-Length"), std::to_string(content.size()));
}

TEST_F(AzureDirectReadTest, BlobsCommittedFromAnUploadAreReadableInRanges) {
  std::string content;
  for (int i = 0; i < 300'000; ++i) content += static_cast<char>('a' + i % 23);
  const oci::Digest digest = oci::digest_of(content);
  auto upload = storage_->create_upload("direct");
  ASSERT_TRUE(upload) << upload.error().message;
  ASSERT_TRUE((*upload)->append(bytes_of(content)));
  auto committed = (*upload)->commit(digest);
  ASSERT_TRUE(committed) << committed.error().message;

  const std::string url = url_of(digest, seconds(60));
  auto whole = http_.get(url);
  EXPECT_EQ(whole.status, 200);
  EXPECT_TRUE(whole.body == content)
      << "the downloaded bytes differ (" << whole.body.size() << " of " << content.size() << ")";
  auto range = http_.get(url, {"Range: bytes=1000-1009"});
  EXPECT_EQ(range.status, 206);
  EXPECT_EQ(range.body, content.substr(1000, 10));
}

TEST_F(AzureDirectReadTest, TheUrlIsValidFromBeforeNowUntilTheLifetimeEnds) {
  const oci::Digest digest = put("timed");
  const auto before = std::chrono::system_clock::now();
  const std::string url = url_of(digest, seconds(600));
  const auto after = std::chrono::system_clock::now();
  ASSERT_FALSE(url.empty());

  EXPECT_EQ(query_parameter(url, "sv"), kApiVersion);
  EXPECT_EQ(query_parameter(url, "sr"), "b");
  EXPECT_EQ(query_parameter(url, "sp"), "r");
  EXPECT_EQ(query_parameter(url, "spr"), "https,http");  // Azurite's endpoint is http
  const auto start = parse_sas_time(query_parameter(url, "st"));
  const auto expiry = parse_sas_time(query_parameter(url, "se"));
  // Clock skew: valid from kDirectReadSkew ago; the expiry is rounded down to the second.
  EXPECT_GE(start, before - kDirectReadSkew - seconds(1));
  EXPECT_LE(start, after - kDirectReadSkew);
  EXPECT_GE(expiry, before + seconds(600) - seconds(1));
  EXPECT_LE(expiry, after + seconds(600));
}

TEST_F(AzureDirectReadTest, TheSignatureOnAnotherBlobsPathIsRefused) {
  const std::string secret = "the blob the URL was not made for";
  const oci::Digest mine = put("the blob the URL was made for");
  const oci::Digest other = put(secret);
  const std::string url = url_of(mine, seconds(60));
  const std::string other_url = url_of(other, seconds(60));
  ASSERT_EQ(http_.get(other_url).status, 200);  // the other blob is readable with its own URL

  auto response = http_.get(with_path_of(url, other_url));
  EXPECT_EQ(response.status, 403);
  EXPECT_EQ(response.header("x-ms-error-code"), "AuthorizationFailure");
  EXPECT_EQ(response.body.find(secret), std::string::npos);
}

TEST_F(AzureDirectReadTest, AnExpiredUrlIsRefused) {
  const oci::Digest digest = put("short-lived");
  const std::string short_url = url_of(digest, seconds(1));
  const std::string long_url = url_of(digest, seconds(60));
  std::this_thread::sleep_for(seconds(3));

  auto expired = http_.get(short_url);
  EXPECT_EQ(expired.status, 403);
  EXPECT_EQ(expired.header("x-ms-error-code"), "AuthorizationFailure");
  EXPECT_NE(expired.body, "short-lived");
  // The same blob, signed alike but with a later expiry, still reads: the expiry refused it.
  auto valid = http_.get(long_url);
  EXPECT_EQ(valid.status, 200);
  EXPECT_EQ(valid.body, "short-lived");
}

TEST_F(AzureDirectReadTest, WritesAndDeletesWithTheUrlAreRefused) {
  const oci::Digest digest = put("immutable");
  const std::string url = url_of(digest, seconds(60));

  auto overwrite = http_.request("PUT", url, "replaced", {"x-ms-blob-type: BlockBlob"});
  EXPECT_EQ(overwrite.status, 403);
  auto removed = http_.request("DELETE", url);
  EXPECT_EQ(removed.status, 403);
  // The signature is good; what it permits is not enough.
  EXPECT_EQ(overwrite.header("x-ms-error-code"), "AuthorizationPermissionMismatch");
  EXPECT_EQ(removed.header("x-ms-error-code"), "AuthorizationPermissionMismatch");
  // A new blob next to it, with the URL's query on its path: refused too.
  std::string beside = url.substr(0, url.find('?')) + "-beside" + url.substr(url.find('?'));
  auto created = http_.request("PUT", beside, "new", {"x-ms-blob-type: BlockBlob"});
  EXPECT_EQ(created.status, 403);

  EXPECT_EQ(http_.get(url).body, "immutable");
  auto reader = storage_->open(digest);
  ASSERT_TRUE(reader);
  EXPECT_EQ((*reader)->size(), std::string_view("immutable").size());
  auto listing = storage_->list_blobs("", 10);
  ASSERT_TRUE(listing);
  EXPECT_EQ(listing->blobs.size(), 1u);
}

TEST_F(AzureDirectReadTest, TheUrlHoldsNoAccountKey) {
  const std::string url = url_of(put("keyless"), seconds(60));
  ASSERT_FALSE(url.empty());
  const std::string key = ::berth::testing::kAzuriteKey;
  EXPECT_EQ(url.find(key), std::string::npos);
  EXPECT_EQ(url.find(percent_encode(key, false)), std::string::npos);
  EXPECT_EQ(url.find(key.substr(0, 16)), std::string::npos);
  EXPECT_EQ(url.find(account_.account_key), std::string::npos);
}

TEST_F(AzureDirectReadTest, LifetimesOutsideOneSecondToOneHourAreRefused) {
  const oci::Digest digest = put("bounded");
  for (seconds lifetime : {seconds(0), seconds(-1), seconds(3601), seconds(86400)}) {
    auto url = storage_->direct_read_url(digest, lifetime);
    ASSERT_FALSE(url) << lifetime.count();
    EXPECT_EQ(url.error().code, Errc::invalid_argument);
  }
  auto longest = storage_->direct_read_url(digest, kMaxDirectReadLifetime);
  ASSERT_TRUE(longest);
  ASSERT_TRUE(longest->has_value());
  ::berth::testing::record_secret(query_parameter(**longest, "sig"));
  EXPECT_EQ(http_.get(**longest).status, 200);
}

// The driver signs without asking the service (the caller knows from its metadata that the blob
// is stored); the service answers for a blob that is not there.
TEST_F(AzureDirectReadTest, AMissingBlobGetsAUrlThatAnswers404) {
  const oci::Digest missing = oci::digest_of("never stored");
  const std::string url = url_of(missing, seconds(60));
  ASSERT_FALSE(url.empty());
  EXPECT_EQ(http_.get(url).status, 404);
}

}  // namespace
}  // namespace berth::storage::azure
