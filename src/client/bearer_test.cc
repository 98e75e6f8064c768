// The Bearer token flow against a server that really issues tokens: an in-process berthd
// (tests/support/app_fixture.h), whose /v2/ challenges name its token service.

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>

#include "client/registry_client.h"
#include "oci/media_types.h"
#include "support/app_fixture.h"
#include "support/child_process.h"
#include "support/fault_proxy.h"
#include "support/oci_pusher.h"
#include "support/secret_record.h"
#include "support/upstream_registry.h"

namespace berth::client {
namespace {

namespace json = boost::json;
using testing::Fault;
using testing::FaultProxy;

constexpr char kAdminToken[] = "client-bearer-test-admin-token-0123456789";
constexpr char kRepository[] = "team/app";

class BearerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    app_ = std::make_unique<testing::RunningApp>(dir_.path() / "data", std::string(kAdminToken));
    host_ = "127.0.0.1:" + std::to_string(app_->port());
    testing::record_secret(kAdminToken);
    testing::OciPusher pusher(
        {app_->base_url(), std::string("Bearer ") + kAdminToken, std::nullopt});
    image_ = pusher.push_image(kRepository, "v1",
                               {testing::pseudo_random_bytes(3 * 1024 * 1024, 7)});
    ASSERT_FALSE(image_.digest.empty());

    // A repository token that may pull: the credentials the client exchanges for tokens.
    testing::HttpClient admin(app_->base_url());
    admin.set_default_headers({testing::bearer_header(kAdminToken)});
    auto made = admin.request("POST", "/mgmt/v1/registries/default/tokens",
                              R"({"name":"puller","scopeMapName":"_repositories_pull"})",
                              {"Content-Type: application/json"});
    ASSERT_EQ(made.status, 201) << made.body;
    password_ = std::string(json::parse(made.body)
                                .at("credentials").at("passwords").at(0).at("value").as_string());
    testing::record_secret(password_);
  }

  ClientOptions options() {
    ClientOptions options;
    options.insecure_hosts.push_back(host_);
    return options;
  }
  RegistryClient client(std::optional<Credentials> credentials) {
    return RegistryClient::create(options(), host_, std::move(credentials)).value();
  }

  TempDir dir_;
  std::unique_ptr<testing::RunningApp> app_;
  std::string host_;
  testing::PushedImage image_;
  std::string password_;
};

TEST_F(BearerTest, TokensFromTheUpstreamsTokenService) {
  auto puller = client(Credentials{"puller", password_});
  auto pinged = puller.ping();
  ASSERT_TRUE(pinged) << pinged.error().message;
  auto manifest = puller.get_manifest(kRepository, "v1");
  ASSERT_TRUE(manifest) << manifest.error().message;
  EXPECT_EQ(manifest->bytes, image_.manifest);
  EXPECT_EQ(manifest->media_type, oci::media_type::kOciManifest);
  auto head = puller.head_manifest(kRepository, "v1");
  ASSERT_TRUE(head) << head.error().message;
  EXPECT_EQ(head->digest.str(), image_.digest);

  std::string blob;
  auto fetched = puller.get_blob(kRepository, *oci::Digest::parse(image_.layer_digests[0]),
                                 [&](std::span<const std::byte> chunk) {
                                   blob.append(reinterpret_cast<const char*>(chunk.data()),
                                               chunk.size());
                                   return true;
                                 });
  ASSERT_TRUE(fetched) << fetched.error().message;
  EXPECT_EQ(blob, image_.layers[0]);
  auto tags = puller.list_tags(kRepository);
  ASSERT_TRUE(tags) << tags.error().message;
  EXPECT_EQ(*tags, std::vector<std::string>{"v1"});
  // berthd has the referrers API: no referrers is its empty index.
  auto referrers = puller.get_referrers(kRepository, *oci::Digest::parse(image_.digest));
  ASSERT_TRUE(referrers) << referrers.error().message;
  EXPECT_TRUE(json::parse(*referrers).at("manifests").as_array().empty());
}

TEST_F(BearerTest, ListsTagsAcrossLinkedPages) {
  testing::OciPusher pusher({app_->base_url(), std::string("Bearer ") + kAdminToken, std::nullopt});
  std::vector<std::string> expected = {"v1"};
  for (int i = 1; i <= 6; ++i) {
    std::string tag = "tag";
    tag += std::to_string(i);
    pusher.push_manifest(kRepository, tag, oci::media_type::kOciManifest, image_.manifest);
    expected.push_back(tag);
  }
  std::sort(expected.begin(), expected.end());

  std::string error;
  auto proxy = FaultProxy::start(app_->port(), error);
  ASSERT_TRUE(proxy) << error;
  auto opts = options();
  opts.insecure_hosts.push_back(proxy->host());
  auto puller =
      RegistryClient::create(opts, proxy->host(), Credentials{"puller", password_}).value();
  auto listed = puller.list_tags(kRepository, 2);
  ASSERT_TRUE(listed) << listed.error().message;
  auto tags = *listed;
  std::sort(tags.begin(), tags.end());
  EXPECT_EQ(tags, expected);
  std::size_t pages = 0;
  for (const auto& request : proxy->requests()) {
    if (request.target.find("/tags/list") != std::string::npos &&
        request.header("authorization").starts_with("Bearer ")) {
      ++pages;
    }
  }
  EXPECT_GE(pages, 4u);  // 7 tags, 2 a page
}

TEST_F(BearerTest, OneTokenPerScopeIsReused) {
  // Through the proxy, which sees every request: the token service is asked once for the
  // repository's scope, however many calls use it.
  std::string error;
  auto proxy = FaultProxy::start(app_->port(), error);
  ASSERT_TRUE(proxy) << error;
  auto opts = options();
  opts.insecure_hosts.push_back(proxy->host());
  auto puller = RegistryClient::create(opts, proxy->host(), Credentials{"puller", password_}).value();
  for (int i = 0; i < 3; ++i) {
    auto head = puller.head_manifest(kRepository, "v1");
    ASSERT_TRUE(head) << head.error().message;
  }
  std::size_t unauthorized_probes = 0;
  std::size_t heads_with_token = 0;
  for (const auto& request : proxy->requests()) {
    if (request.method != "HEAD") continue;
    if (request.header("authorization").starts_with("Bearer ")) {
      ++heads_with_token;
    } else {
      ++unauthorized_probes;
    }
  }
  EXPECT_EQ(unauthorized_probes, 1u);  // the first, answered by the challenge
  EXPECT_EQ(heads_with_token, 3u);
  // The realm berthd names is on the host the client asked (the proxy), so the proxy sees the
  // token requests too: one for the repository's scope.
  std::size_t token_requests = 0;
  for (const auto& request : proxy->requests()) {
    if (request.target.starts_with("/oauth2/token")) {
      ++token_requests;
      EXPECT_NE(request.target.find("scope=repository:team/app:pull"), std::string::npos)
          << request.target;
    }
  }
  EXPECT_EQ(token_requests, 1u);
}

TEST_F(BearerTest, AWrongPasswordIsUnauthorized) {
  const std::string wrong = "not-the-password-0123456789";
  testing::record_secret(wrong);
  auto puller = client(Credentials{"puller", wrong});
  auto manifest = puller.get_manifest(kRepository, "v1");
  ASSERT_FALSE(manifest);
  EXPECT_EQ(manifest.error().code, ClientErrc::unauthorized) << manifest.error().message;
  EXPECT_EQ(manifest.error().message.find(wrong), std::string::npos);
}

TEST_F(BearerTest, AnAnonymousTokenCannotPullAPrivateRepository) {
  auto anonymous = client(std::nullopt);
  auto manifest = anonymous.get_manifest(kRepository, "v1");
  ASSERT_FALSE(manifest);
  EXPECT_EQ(manifest.error().code, ClientErrc::unauthorized) << manifest.error().message;
}

TEST_F(BearerTest, TheUpstreamsAuthorizationStaysWithItsOrigin) {
  // berthd behind one proxy redirects a blob to a docker-registry behind another: the token
  // goes to berthd, never to the blob's other origin.
  std::string error;
  auto storage = testing::UpstreamRegistry::start(testing::UpstreamRegistry::Mode::plain, error);
  if (!storage) {
    if (testing::skips_allowed()) GTEST_SKIP() << error;
    FAIL() << error;
  }
  testing::OciPusher storage_pusher({storage->base_url(), std::nullopt, std::nullopt});
  ASSERT_EQ(storage_pusher.push_blob(kRepository, image_.layers[0]), image_.layer_digests[0]);
  auto storage_proxy = FaultProxy::start(storage->port(), error);
  ASSERT_TRUE(storage_proxy) << error;
  auto front = FaultProxy::start(app_->port(), error);
  ASSERT_TRUE(front) << error;
  std::string storage_host = "localhost:" + std::to_string(storage_proxy->port());
  front->add({.kind = Fault::Kind::redirect, .target_contains = "/blobs/",
              .location = "http://" + storage_host + "/v2/" + kRepository + "/blobs/" +
                          image_.layer_digests[0],
              .times = -1});

  auto opts = options();
  opts.insecure_hosts.push_back(front->host());
  opts.insecure_hosts.push_back(storage_host);
  auto puller = RegistryClient::create(opts, front->host(), Credentials{"puller", password_}).value();
  ASSERT_TRUE(puller.ping());
  ASSERT_TRUE(puller.head_manifest(kRepository, "v1"));  // a token for the repository
  std::string blob;
  auto fetched = puller.get_blob(kRepository, *oci::Digest::parse(image_.layer_digests[0]),
                                 [&](std::span<const std::byte> chunk) {
                                   blob.append(reinterpret_cast<const char*>(chunk.data()),
                                               chunk.size());
                                   return true;
                                 });
  ASSERT_TRUE(fetched) << fetched.error().message;
  EXPECT_EQ(blob, image_.layers[0]);
  bool front_saw_token = false;
  for (const auto& request : front->requests()) {
    if (request.target.find("/blobs/") != std::string::npos) {
      front_saw_token = request.header("authorization").starts_with("Bearer ");
    }
  }
  EXPECT_TRUE(front_saw_token);
  auto at_storage = storage_proxy->requests();
  ASSERT_EQ(at_storage.size(), 1u);
  EXPECT_EQ(at_storage[0].header("authorization"), "");
}

}  // namespace
}  // namespace berth::client
