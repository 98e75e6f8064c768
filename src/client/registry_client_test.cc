// The client against real upstreams: Debian's docker-registry, plain and with TLS and htpasswd
// (tests/support/upstream_registry.h), and behind a proxy that breaks answers on purpose
// (tests/support/fault_proxy.h).

#include "client/registry_client.h"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <set>
#include <thread>

#include "common/temp_dir.h"
#include "oci/media_types.h"
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
using testing::OciPusher;
using testing::PushedImage;
using testing::UpstreamRegistry;

constexpr char kRepository[] = "library/app";
constexpr std::size_t kBigLayerSize = 5 * 1024 * 1024 + 123;
constexpr char kSbomType[] = "application/vnd.example.sbom";
constexpr char kSignatureType[] = "application/vnd.example.signature";

// What the tests find in each upstream.
struct Content {
  PushedImage amd64;  // tag v1: a multi-MiB layer and a small one
  PushedImage arm64;  // untagged
  PushedImage index;  // tag multi: both
  PushedImage sbom;   // referrers of amd64
  PushedImage signature;
  std::vector<std::string> tags;
};

Content push_content(OciPusher& pusher) {
  Content content;
  content.amd64 = pusher.push_image(
      kRepository, "v1",
      {testing::pseudo_random_bytes(kBigLayerSize, 1), testing::pseudo_random_bytes(1000, 2)});
  content.arm64 =
      pusher.push_image(kRepository, "", {testing::pseudo_random_bytes(2000, 3)}, "arm64");
  content.index = pusher.push_index(kRepository, "multi", {content.amd64, content.arm64},
                                    {"amd64", "arm64"});
  content.sbom = pusher.push_referrer(kRepository, content.amd64, kSbomType, "sbom", true);
  content.signature =
      pusher.push_referrer(kRepository, content.amd64, kSignatureType, "signature", true);
  for (int i = 1; i <= 5; ++i) {
    std::string tag = "t";
    tag += std::to_string(i);
    pusher.push_manifest(kRepository, tag,
                         oci::media_type::kOciManifest, content.amd64.manifest);
  }
  std::string schema_tag = "sha256-";
  schema_tag += content.amd64.digest.substr(7);
  content.tags = {"v1", "multi", "t1", "t2", "t3", "t4", "t5", schema_tag};
  std::sort(content.tags.begin(), content.tags.end());
  return content;
}

// The upstreams and their content, made once for the binary.
struct Upstreams {
  std::unique_ptr<UpstreamRegistry> plain;
  std::unique_ptr<UpstreamRegistry> secure;
  Content content;
  std::string error;
};

Upstreams& upstreams() {
  static Upstreams shared = [] {
    Upstreams made;
    made.plain = UpstreamRegistry::start(UpstreamRegistry::Mode::plain, made.error);
    if (!made.plain) return made;
    made.secure = UpstreamRegistry::start(UpstreamRegistry::Mode::tls_htpasswd, made.error);
    if (!made.secure) return made;
    testing::record_secret(made.secure->password());
    OciPusher plain_pusher({made.plain->base_url(), std::nullopt, std::nullopt});
    made.content = push_content(plain_pusher);
    OciPusher secure_pusher(
        {made.secure->base_url(),
         testing::basic_authorization(made.secure->username(), made.secure->password()),
         made.secure->certificate()});
    push_content(secure_pusher);
    return made;
  }();
  return shared;
}

oci::Digest digest(const std::string& text) { return *oci::Digest::parse(text); }

std::string as_string(const std::vector<std::byte>& bytes) {
  return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

// A sink that keeps everything.
struct Collected {
  std::vector<std::byte> bytes;
  BlobSink sink() {
    return [this](std::span<const std::byte> chunk) {
      bytes.insert(bytes.end(), chunk.begin(), chunk.end());
      return true;
    };
  }
};

class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!upstreams().plain || !upstreams().secure) {
      if (testing::skips_allowed()) GTEST_SKIP() << upstreams().error;
      FAIL() << upstreams().error;
    }
  }
  UpstreamRegistry& plain() { return *upstreams().plain; }
  UpstreamRegistry& secure() { return *upstreams().secure; }
  const Content& content() { return upstreams().content; }

  static ClientOptions fast_options() {
    ClientOptions options;
    options.connect_timeout = std::chrono::seconds(5);
    options.stall_timeout = std::chrono::seconds(5);
    options.max_retry_after_wait = std::chrono::seconds(3);
    return options;
  }
  RegistryClient plain_client(ClientOptions options = fast_options()) {
    options.insecure_hosts.push_back(plain().host());
    return RegistryClient::create(options, plain().host(), std::nullopt).value();
  }
  RegistryClient secure_client(std::optional<Credentials> credentials,
                               ClientOptions options = fast_options()) {
    if (!options.ca_bundle) options.ca_bundle = secure().certificate();
    return RegistryClient::create(options, secure().host(), std::move(credentials)).value();
  }
  Credentials good_credentials() { return {secure().username(), secure().password()}; }

  const std::string& big_layer() { return content().amd64.layers[0]; }
  oci::Digest big_digest() { return digest(content().amd64.layer_digests[0]); }
};

// --- plain HTTP upstream -------------------------------------------------------------------

TEST_F(ClientTest, PingsAPlainUpstreamListedAsInsecure) {
  auto client = plain_client();
  EXPECT_EQ(client.base_url(), "http://" + plain().host());
  auto pinged = client.ping();
  EXPECT_TRUE(pinged) << pinged.error().message;
}

TEST_F(ClientTest, GetsAManifestByTagAndByDigest) {
  auto client = plain_client();
  auto by_tag = client.get_manifest(kRepository, "v1");
  ASSERT_TRUE(by_tag) << by_tag.error().message;
  EXPECT_EQ(by_tag->bytes, content().amd64.manifest);
  EXPECT_EQ(by_tag->media_type, oci::media_type::kOciManifest);
  EXPECT_EQ(by_tag->digest.str(), content().amd64.digest);

  auto by_digest = client.get_manifest(kRepository, content().amd64.digest);
  ASSERT_TRUE(by_digest) << by_digest.error().message;
  EXPECT_EQ(by_digest->bytes, content().amd64.manifest);
  EXPECT_EQ(by_digest->digest.str(), content().amd64.digest);
}

TEST_F(ClientTest, GetsAnIndex) {
  auto client = plain_client();
  auto index = client.get_manifest(kRepository, "multi");
  ASSERT_TRUE(index) << index.error().message;
  EXPECT_EQ(index->media_type, oci::media_type::kOciIndex);
  EXPECT_EQ(index->bytes, content().index.manifest);
  EXPECT_EQ(index->digest.str(), content().index.digest);
  auto child = client.get_manifest(kRepository, content().arm64.digest);
  ASSERT_TRUE(child) << child.error().message;
  EXPECT_EQ(child->bytes, content().arm64.manifest);
}

TEST_F(ClientTest, HeadsAManifestWithoutFetchingIt) {
  auto client = plain_client();
  auto before = plain().count("GET", std::string("/v2/") + kRepository + "/manifests/multi");
  auto head = client.head_manifest(kRepository, "multi");
  ASSERT_TRUE(head) << head.error().message;
  EXPECT_EQ(head->digest.str(), content().index.digest);
  EXPECT_EQ(head->media_type, oci::media_type::kOciIndex);
  EXPECT_EQ(head->size, content().index.manifest.size());
  EXPECT_EQ(plain().count("GET", std::string("/v2/") + kRepository + "/manifests/multi"), before);
  EXPECT_GE(plain().count("HEAD", std::string("/v2/") + kRepository + "/manifests/multi"), 1u);
}

TEST_F(ClientTest, HeadsABlob) {
  auto client = plain_client();
  auto head = client.head_blob(kRepository, big_digest());
  ASSERT_TRUE(head) << head.error().message;
  EXPECT_EQ(head->size, kBigLayerSize);
  EXPECT_EQ(head->digest, big_digest());
}

TEST_F(ClientTest, StreamsAMultiMebibyteBlobWithOneUpstreamGet) {
  auto client = plain_client();
  const std::string path = std::string("/v2/") + kRepository + "/blobs/" + big_digest().str();
  auto before = plain().count("GET", path);
  Collected collected;
  std::size_t chunks = 0;
  auto fetched = client.get_blob(
      kRepository, big_digest(),
      [&](std::span<const std::byte> chunk) {
        ++chunks;
        return collected.sink()(chunk);
      },
      {.expected_size = kBigLayerSize});
  ASSERT_TRUE(fetched) << fetched.error().message;
  EXPECT_EQ(as_string(collected.bytes), big_layer());
  EXPECT_GT(chunks, 1u);  // streamed, not handed over whole
  EXPECT_EQ(plain().count("GET", path), before + 1);
}

TEST_F(ClientTest, ContinuesFromTheCallersOwnBytes) {
  auto client = plain_client();
  constexpr std::size_t kHave = 1024 * 1024;
  oci::Hasher have(oci::DigestAlgorithm::sha256);
  have.update(std::string_view(big_layer()).substr(0, kHave));
  Collected rest;
  auto fetched = client.get_blob(kRepository, big_digest(), rest.sink(),
                                 {.expected_size = kBigLayerSize, .continue_from = have});
  ASSERT_TRUE(fetched) << fetched.error().message;
  EXPECT_EQ(as_string(rest.bytes), big_layer().substr(kHave));
}

TEST_F(ClientTest, AWrongExpectedSizeIsADigestMismatch) {
  auto client = plain_client();
  Collected smaller;
  auto too_small = client.get_blob(kRepository, big_digest(), smaller.sink(),
                                   {.expected_size = kBigLayerSize - 1});
  ASSERT_FALSE(too_small);
  EXPECT_EQ(too_small.error().code, ClientErrc::digest_mismatch) << too_small.error().message;
  EXPECT_LE(smaller.bytes.size(), kBigLayerSize - 1);  // stopped as soon as it was too many
  Collected larger;
  auto too_large = client.get_blob(kRepository, big_digest(), larger.sink(),
                                   {.expected_size = kBigLayerSize + 1});
  ASSERT_FALSE(too_large);
  EXPECT_EQ(too_large.error().code, ClientErrc::digest_mismatch) << too_large.error().message;
}

TEST_F(ClientTest, ASinkThatStopsCancels) {
  auto client = plain_client();
  std::size_t seen = 0;
  auto fetched = client.get_blob(kRepository, big_digest(), [&](std::span<const std::byte> c) {
    seen += c.size();
    return seen < 100'000;
  });
  ASSERT_FALSE(fetched);
  EXPECT_EQ(fetched.error().code, ClientErrc::cancelled);
}

TEST_F(ClientTest, MissingContentIsNotFound) {
  auto client = plain_client();
  auto tag = client.get_manifest(kRepository, "no-such-tag");
  ASSERT_FALSE(tag);
  EXPECT_EQ(tag.error().code, ClientErrc::not_found);
  EXPECT_EQ(tag.error().status, 404);
  auto repository = client.head_manifest("no/such/repo", "v1");
  ASSERT_FALSE(repository);
  EXPECT_EQ(repository.error().code, ClientErrc::not_found);
  auto blob = client.get_blob(kRepository, oci::digest_of("never pushed"), Collected().sink());
  ASSERT_FALSE(blob);
  EXPECT_EQ(blob.error().code, ClientErrc::not_found);
  auto tags = client.list_tags("no/such/repo");
  ASSERT_FALSE(tags);
  EXPECT_EQ(tags.error().code, ClientErrc::not_found);
}

TEST_F(ClientTest, MalformedArgumentsAreRefusedBeforeAnyRequest) {
  auto client = plain_client();
  EXPECT_EQ(client.get_manifest("Upper/Case", "v1").error().code, ClientErrc::invalid_argument);
  EXPECT_EQ(client.get_manifest(kRepository, "bad tag").error().code,
            ClientErrc::invalid_argument);
  EXPECT_EQ(client.get_manifest(kRepository, "sha256:short").error().code,
            ClientErrc::invalid_argument);
  EXPECT_EQ(client.list_tags("../etc").error().code, ClientErrc::invalid_argument);
  auto bad_host = RegistryClient::create(fast_options(), "user@host:5000", std::nullopt);
  ASSERT_FALSE(bad_host);
  EXPECT_EQ(bad_host.error().code, ClientErrc::invalid_argument);
}

TEST_F(ClientTest, ReferrersComeFromTheTagSchemaWithoutTheApi) {
  auto client = plain_client();
  auto all = client.get_referrers(kRepository, digest(content().amd64.digest));
  ASSERT_TRUE(all) << all.error().message;
  auto index = json::parse(*all).as_object();
  EXPECT_EQ(index.at("mediaType").as_string(), oci::media_type::kOciIndex);
  std::set<std::string> digests;
  for (const auto& entry : index.at("manifests").as_array()) {
    digests.insert(std::string(entry.at("digest").as_string()));
  }
  EXPECT_EQ(digests, (std::set<std::string>{content().sbom.digest, content().signature.digest}));

  auto sboms = client.get_referrers(kRepository, digest(content().amd64.digest), kSbomType);
  ASSERT_TRUE(sboms) << sboms.error().message;
  auto filtered = json::parse(*sboms).at("manifests").as_array();
  ASSERT_EQ(filtered.size(), 1u);
  EXPECT_EQ(filtered[0].at("digest").as_string(), content().sbom.digest);
  EXPECT_EQ(filtered[0].at("artifactType").as_string(), kSbomType);

  // The referrer itself is a manifest the client reads like any other.
  auto referrer = client.get_manifest(kRepository, content().sbom.digest);
  ASSERT_TRUE(referrer) << referrer.error().message;
  EXPECT_EQ(json::parse(referrer->bytes).at("subject").at("digest").as_string(),
            content().amd64.digest);
}

TEST_F(ClientTest, NoReferrersIsAnEmptyIndex) {
  auto client = plain_client();
  auto none = client.get_referrers(kRepository, digest(content().arm64.digest));
  ASSERT_TRUE(none) << none.error().message;
  auto index = json::parse(*none).as_object();
  EXPECT_EQ(index.at("schemaVersion").as_int64(), 2);
  EXPECT_EQ(index.at("mediaType").as_string(), oci::media_type::kOciIndex);
  EXPECT_TRUE(index.at("manifests").as_array().empty());
}

TEST_F(ClientTest, OneClientServesSeveralThreads) {
  auto client = plain_client();
  std::vector<std::thread> threads;
  std::atomic<int> good = 0;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      Collected collected;
      auto manifest = client.get_manifest(kRepository, "v1");
      auto fetched = client.get_blob(kRepository, big_digest(), collected.sink());
      if (manifest && fetched && as_string(collected.bytes) == big_layer()) ++good;
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(good, 4);
}

// docker-registry 2.8 answers every tag at once, whatever n= asks (paging is tested against
// berthd, bearer_test.cc).
TEST_F(ClientTest, ListsTags) {
  auto client = plain_client();
  for (std::optional<std::size_t> page_size : {std::optional<std::size_t>(), std::optional<std::size_t>(2)}) {
    auto listed = client.list_tags(kRepository, page_size);
    ASSERT_TRUE(listed) << listed.error().message;
    auto tags = *listed;
    std::sort(tags.begin(), tags.end());
    EXPECT_EQ(tags, content().tags);
  }
}

TEST_F(ClientTest, APlainUpstreamNotListedAsInsecureIsSpokenToOverTls) {
  auto client = RegistryClient::create(fast_options(), plain().host(), std::nullopt).value();
  EXPECT_EQ(client.base_url(), "https://" + plain().host());
  auto pinged = client.ping();
  ASSERT_FALSE(pinged);
  EXPECT_EQ(pinged.error().code, ClientErrc::tls) << pinged.error().message;
}

TEST_F(ClientTest, LinkLocalAndMetadataAddressesAreRefused) {
  for (std::string host : {"169.254.169.254", "169.254.169.254:80", "[fe80::1]:5000"}) {
    auto options = fast_options();
    options.insecure_hosts.push_back(host);
    auto client = RegistryClient::create(options, host, std::nullopt).value();
    auto pinged = client.ping();
    ASSERT_FALSE(pinged) << host;
    EXPECT_EQ(pinged.error().code, ClientErrc::refused_destination)
        << host << ": " << pinged.error().message;
  }
}

TEST_F(ClientTest, AnUnreachableUpstreamIsUnreachable) {
  int port = testing::free_loopback_port();
  std::string host = "127.0.0.1:" + std::to_string(port);
  auto options = fast_options();
  options.insecure_hosts.push_back(host);
  auto client = RegistryClient::create(options, host, std::nullopt).value();
  auto pinged = client.ping();
  ASSERT_FALSE(pinged);
  EXPECT_EQ(pinged.error().code, ClientErrc::unreachable) << pinged.error().message;
}

// --- TLS + htpasswd upstream ---------------------------------------------------------------

TEST_F(ClientTest, TlsUpstreamWithBasicCredentials) {
  auto client = secure_client(good_credentials());
  EXPECT_EQ(client.base_url(), "https://" + secure().host());
  auto pinged = client.ping();
  ASSERT_TRUE(pinged) << pinged.error().message;
  auto manifest = client.get_manifest(kRepository, "v1");
  ASSERT_TRUE(manifest) << manifest.error().message;
  EXPECT_EQ(manifest->digest.str(), content().amd64.digest);
  auto head = client.head_manifest(kRepository, "multi");
  ASSERT_TRUE(head) << head.error().message;
  EXPECT_EQ(head->digest.str(), content().index.digest);

  Collected collected;
  auto fetched = client.get_blob(kRepository, big_digest(), collected.sink(),
                                 {.expected_size = kBigLayerSize});
  ASSERT_TRUE(fetched) << fetched.error().message;
  EXPECT_EQ(as_string(collected.bytes), big_layer());

  auto tags = client.list_tags(kRepository, 3);
  ASSERT_TRUE(tags) << tags.error().message;
  EXPECT_EQ(tags->size(), content().tags.size());
  auto referrers = client.get_referrers(kRepository, digest(content().amd64.digest));
  ASSERT_TRUE(referrers) << referrers.error().message;
  EXPECT_EQ(json::parse(*referrers).at("manifests").as_array().size(), 2u);
}

TEST_F(ClientTest, AWrongPasswordIsUnauthorizedAndNeverShown) {
  const std::string wrong = "wrong-password-0123456789";
  testing::record_secret(wrong);
  auto client = secure_client(Credentials{secure().username(), wrong});
  auto pinged = client.ping();
  ASSERT_FALSE(pinged);
  EXPECT_EQ(pinged.error().code, ClientErrc::unauthorized) << pinged.error().message;
  EXPECT_EQ(pinged.error().message.find(wrong), std::string::npos);
  auto manifest = client.get_manifest(kRepository, "v1");
  ASSERT_FALSE(manifest);
  EXPECT_EQ(manifest.error().code, ClientErrc::unauthorized);
  EXPECT_EQ(manifest.error().message.find(wrong), std::string::npos);
}

TEST_F(ClientTest, NoCredentialsForAnUpstreamThatWantsThemIsUnauthorized) {
  auto client = secure_client(std::nullopt);
  auto manifest = client.get_manifest(kRepository, "v1");
  ASSERT_FALSE(manifest);
  EXPECT_EQ(manifest.error().code, ClientErrc::unauthorized) << manifest.error().message;
}

TEST_F(ClientTest, ACertificateFromAnotherCaIsATlsError) {
  TempDir other;
  ASSERT_EQ(testing::make_self_signed_certificate(other.path(), "other"), "");
  auto options = fast_options();
  options.ca_bundle = other.path() / "other.pem";
  auto client = secure_client(good_credentials(), options);
  auto pinged = client.ping();
  ASSERT_FALSE(pinged);
  EXPECT_EQ(pinged.error().code, ClientErrc::tls) << pinged.error().message;
}

TEST_F(ClientTest, TheSystemStoreDoesNotTrustASelfSignedUpstream) {
  auto options = fast_options();
  auto client =
      RegistryClient::create(options, secure().host(), good_credentials()).value();
  auto pinged = client.ping();
  ASSERT_FALSE(pinged);
  EXPECT_EQ(pinged.error().code, ClientErrc::tls) << pinged.error().message;
}

// --- faults, through the proxy ----------------------------------------------------------

class FaultTest : public ClientTest {
 protected:
  void SetUp() override {
    ClientTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    std::string error;
    proxy_ = FaultProxy::start(plain().port(), error);
    ASSERT_TRUE(proxy_) << error;
  }
  RegistryClient proxied_client(ClientOptions options = fast_options()) {
    options.insecure_hosts.push_back(proxy_->host());
    return RegistryClient::create(options, proxy_->host(), std::nullopt).value();
  }
  std::vector<testing::ProxiedRequest> blob_gets() {
    std::vector<testing::ProxiedRequest> gets;
    for (auto& request : proxy_->requests()) {
      if (request.method == "GET" && request.target.find(big_digest().str()) != std::string::npos) {
        gets.push_back(request);
      }
    }
    return gets;
  }
  std::unique_ptr<FaultProxy> proxy_;
};

TEST_F(FaultTest, ADroppedBlobIsResumedWithARange) {
  proxy_->add({.kind = Fault::Kind::drop_after, .target_contains = big_digest().str(),
               .bytes = 1024 * 1024 + 7});
  auto client = proxied_client();
  Collected collected;
  auto fetched = client.get_blob(kRepository, big_digest(), collected.sink(),
                                 {.expected_size = kBigLayerSize});
  ASSERT_TRUE(fetched) << fetched.error().message;
  EXPECT_EQ(as_string(collected.bytes), big_layer());
  auto gets = blob_gets();
  ASSERT_EQ(gets.size(), 2u);
  EXPECT_EQ(gets[0].header("range"), "");
  EXPECT_EQ(gets[1].header("range"), "bytes=1048583-");
}

TEST_F(FaultTest, AWholeAnswerToARangeIsSkippedToWhereItLeftOff) {
  proxy_->add({.kind = Fault::Kind::drop_after, .target_contains = big_digest().str(),
               .bytes = 3 * 1024 * 1024});
  proxy_->add({.kind = Fault::Kind::ignore_range, .target_contains = big_digest().str()});
  auto client = proxied_client();
  Collected collected;
  auto fetched = client.get_blob(kRepository, big_digest(), collected.sink());
  ASSERT_TRUE(fetched) << fetched.error().message;
  EXPECT_EQ(as_string(collected.bytes), big_layer());  // every byte once, in order
  auto gets = blob_gets();
  ASSERT_EQ(gets.size(), 2u);
  EXPECT_EQ(gets[1].header("range"), "bytes=3145728-");
}

TEST_F(FaultTest, AConnectionThatAlwaysDropsFailsAfterTheResumeAttempts) {
  proxy_->add({.kind = Fault::Kind::drop_after, .target_contains = big_digest().str(),
               .bytes = 100'000, .times = -1});
  auto options = fast_options();
  options.max_resume_attempts = 2;
  auto client = proxied_client(options);
  Collected collected;
  auto fetched = client.get_blob(kRepository, big_digest(), collected.sink());
  ASSERT_FALSE(fetched);
  EXPECT_EQ(fetched.error().code, ClientErrc::unreachable) << fetched.error().message;
  EXPECT_EQ(blob_gets().size(), 3u);  // the first attempt and two resumes
  // What the sink got is the blob's start, each byte once.
  EXPECT_EQ(as_string(collected.bytes), big_layer().substr(0, collected.bytes.size()));
}

TEST_F(FaultTest, ACorruptedBlobIsADigestMismatch) {
  proxy_->add({.kind = Fault::Kind::corrupt_byte, .target_contains = big_digest().str(),
               .bytes = 4'000'000});
  auto client = proxied_client();
  Collected collected;
  auto fetched = client.get_blob(kRepository, big_digest(), collected.sink(),
                                 {.expected_size = kBigLayerSize});
  ASSERT_FALSE(fetched);
  EXPECT_EQ(fetched.error().code, ClientErrc::digest_mismatch) << fetched.error().message;
}

TEST_F(FaultTest, ACorruptedManifestIsADigestMismatch) {
  auto client = proxied_client();
  // By tag: the bytes do not match the upstream's Docker-Content-Digest.
  proxy_->add({.kind = Fault::Kind::corrupt_byte, .target_contains = "/manifests/v1",
               .bytes = 10});
  auto by_tag = client.get_manifest(kRepository, "v1");
  ASSERT_FALSE(by_tag);
  EXPECT_EQ(by_tag.error().code, ClientErrc::digest_mismatch) << by_tag.error().message;
  // By digest: they do not match the digest asked for.
  proxy_->add({.kind = Fault::Kind::corrupt_byte, .target_contains = "/manifests/sha256:",
               .bytes = 10});
  auto by_digest = client.get_manifest(kRepository, content().amd64.digest);
  ASSERT_FALSE(by_digest);
  EXPECT_EQ(by_digest.error().code, ClientErrc::digest_mismatch) << by_digest.error().message;
}

TEST_F(FaultTest, AManifestOverTheLimitIsTooLarge) {
  // The multi-MiB blob served where the manifest should be.
  proxy_->add({.kind = Fault::Kind::redirect, .target_contains = "/manifests/v1",
               .location = "/v2/" + std::string(kRepository) + "/blobs/" + big_digest().str()});
  auto client = proxied_client();
  auto manifest = client.get_manifest(kRepository, "v1");
  ASSERT_FALSE(manifest);
  EXPECT_EQ(manifest.error().code, ClientErrc::too_large) << manifest.error().message;
}

TEST_F(FaultTest, AShort429IsWaitedOut) {
  proxy_->add({.kind = Fault::Kind::too_many_requests, .target_contains = "/manifests/v1",
               .retry_after = "1"});
  auto client = proxied_client();
  auto manifest = client.get_manifest(kRepository, "v1");
  ASSERT_TRUE(manifest) << manifest.error().message;
  EXPECT_EQ(manifest->bytes, content().amd64.manifest);
  std::size_t asked = 0;
  for (const auto& request : proxy_->requests()) {
    if (request.target.ends_with("/manifests/v1")) ++asked;
  }
  EXPECT_EQ(asked, 2u);
}

TEST_F(FaultTest, A429WithAnHttpDateIsWaitedOut) {
  auto soon = std::chrono::system_clock::now() + std::chrono::seconds(2);
  std::time_t when = std::chrono::system_clock::to_time_t(soon);
  std::tm tm{};
  ::gmtime_r(&when, &tm);
  char date[64];
  std::strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  proxy_->add({.kind = Fault::Kind::too_many_requests,
               .target_contains = big_digest().str(), .retry_after = date});
  auto client = proxied_client();
  Collected collected;
  auto fetched = client.get_blob(kRepository, big_digest(), collected.sink());
  ASSERT_TRUE(fetched) << fetched.error().message;
  EXPECT_EQ(as_string(collected.bytes), big_layer());
}

TEST_F(FaultTest, ALong429IsRateLimitedWithItsRetryAfter) {
  proxy_->add({.kind = Fault::Kind::too_many_requests, .target_contains = "/manifests/v1",
               .retry_after = "120"});
  auto client = proxied_client();
  auto manifest = client.get_manifest(kRepository, "v1");
  ASSERT_FALSE(manifest);
  EXPECT_EQ(manifest.error().code, ClientErrc::rate_limited) << manifest.error().message;
  EXPECT_EQ(manifest.error().retry_after, std::chrono::seconds(120));
  EXPECT_EQ(manifest.error().status, 429);
}

TEST_F(FaultTest, EndlessShort429sAreRateLimitedAfterTheRetries) {
  proxy_->add({.kind = Fault::Kind::too_many_requests, .target_contains = "/manifests/v1",
               .retry_after = "0", .times = -1});
  auto options = fast_options();
  options.max_rate_limit_retries = 2;
  auto client = proxied_client(options);
  auto manifest = client.get_manifest(kRepository, "v1");
  ASSERT_FALSE(manifest);
  EXPECT_EQ(manifest.error().code, ClientErrc::rate_limited) << manifest.error().message;
  EXPECT_EQ(proxy_->requests().size(), 3u);
}

TEST_F(FaultTest, RedirectsAreFollowedToAllowedHosts) {
  // To the registry itself under another name: another origin, also an insecure host.
  std::string target = "http://localhost:" + std::to_string(plain().port()) + "/v2/" +
                       kRepository + "/blobs/" + big_digest().str();
  proxy_->add({.kind = Fault::Kind::redirect, .target_contains = big_digest().str(),
               .location = target});
  auto options = fast_options();
  options.insecure_hosts.push_back("localhost:" + std::to_string(plain().port()));
  auto client = proxied_client(options);
  Collected collected;
  auto fetched = client.get_blob(kRepository, big_digest(), collected.sink());
  ASSERT_TRUE(fetched) << fetched.error().message;
  EXPECT_EQ(as_string(collected.bytes), big_layer());
}

TEST_F(FaultTest, RedirectsToRefusedPlacesAreRefused) {
  auto client = proxied_client();
  // Plain HTTP to a host not listed as insecure.
  proxy_->add({.kind = Fault::Kind::redirect, .target_contains = big_digest().str(),
               .location = "http://localhost:" + std::to_string(plain().port()) + "/x"});
  auto plain_http = client.get_blob(kRepository, big_digest(), Collected().sink());
  ASSERT_FALSE(plain_http);
  EXPECT_EQ(plain_http.error().code, ClientErrc::refused_destination)
      << plain_http.error().message;
  // The cloud metadata service, even when listed as insecure.
  proxy_->add({.kind = Fault::Kind::redirect, .target_contains = big_digest().str(),
               .location = "http://169.254.169.254/latest/meta-data/"});
  auto options = fast_options();
  options.insecure_hosts.push_back("169.254.169.254");
  auto listed = proxied_client(options);
  auto metadata = listed.get_blob(kRepository, big_digest(), Collected().sink());
  ASSERT_FALSE(metadata);
  EXPECT_EQ(metadata.error().code, ClientErrc::refused_destination) << metadata.error().message;
}

}  // namespace
}  // namespace berth::client
