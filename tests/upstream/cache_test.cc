// The pull-through cache against a real upstream (docker-registry), often behind the fault
// proxy: one upstream GET per blob however many clients pull at once, bytes streamed on before
// the fetch ends, tags re-validated after the TTL, stale answers while the upstream is down,
// and faults that never leave a corrupt blob behind.

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <curl/curl.h>

#include "support/fault_proxy.h"
#include "upstream_test_support.h"

namespace berth::testing {
namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;

class CacheTest : public UpstreamAppTest {
 protected:
  // A plain docker-registry behind the fault proxy, and berthd allowed to speak HTTP to the
  // proxy, with a rule hub/* -> <proxy>/library/*.
  void SetUp() override {
    upstream_ = start_upstream(UpstreamRegistry::Mode::plain);
    ASSERT_TRUE(upstream_);
    std::string error;
    proxy_ = FaultProxy::start(upstream_->port(), error);
    ASSERT_TRUE(proxy_) << error;
    pusher_ = std::make_unique<OciPusher>(PushTarget{upstream_->base_url(), std::nullopt, std::nullopt});
    start_app([this](server::Config& config) { config.insecure_upstreams = {proxy_->host()}; });
  }
  void TearDown() override {
    UpstreamAppTest::TearDown();
    proxy_.reset();
    upstream_.reset();
  }

  void create_rule(std::int64_t ttl_seconds, bool allow_push = false) {
    json::object rule{{"name", "hubrule"},
                      {"sourceRepository", proxy_->host() + "/library/*"},
                      {"targetRepository", "hub/*"},
                      {"tagTtlSeconds", ttl_seconds},
                      {"allowPush", allow_push}};
    auto created = client().request("POST", "/mgmt/v1/registries/default/cache-rules",
                                    json::serialize(rule), {"Content-Type: application/json"});
    ASSERT_EQ(created.status, 201) << created.body;
  }

  // Waits until the registry answers the tag from what it stored (the background completion
  // finished): the answer says "hit" or "revalidated" instead of "miss".
  void wait_until_cached(const std::string& path) {
    const auto until = Clock::now() + std::chrono::seconds(60);
    while (Clock::now() < until) {
      auto answer = client().head(path);
      const std::string how = answer.header("x-berth-cache");
      if (how == "hit" || how == "revalidated") return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ADD_FAILURE() << path << " was never stored";
  }

  std::size_t upstream_gets(const std::string& path) { return upstream_->count("GET", path); }

  std::unique_ptr<UpstreamRegistry> upstream_;
  std::unique_ptr<FaultProxy> proxy_;
  std::unique_ptr<OciPusher> pusher_;
};

// A GET whose first body byte's arrival time is recorded.
struct TimedGet {
  long status = 0;
  std::string body;
  std::optional<Clock::time_point> first_byte;
};

std::size_t record_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto* get = static_cast<TimedGet*>(user);
  if (!get->first_byte && size * count > 0) get->first_byte = Clock::now();
  get->body.append(data, size * count);
  return size * count;
}

TimedGet timed_get(const std::string& url, const std::string& token,
                   const std::function<void()>& on_first_byte = {}) {
  TimedGet get;
  CURL* curl = curl_easy_init();
  struct curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, bearer_header(token).c_str());
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, record_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &get);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 120L);
  struct Probe {
    TimedGet* get;
    const std::function<void()>* on_first_byte;
    bool called = false;
  } probe{&get, &on_first_byte};
  if (on_first_byte) {
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION,
                     +[](void* user, curl_off_t, curl_off_t now, curl_off_t, curl_off_t) -> int {
                       auto* p = static_cast<Probe*>(user);
                       if (!p->called && now > 0) {
                         p->called = true;
                         (*p->on_first_byte)();
                       }
                       return 0;
                     });
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &probe);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  }
  curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &get.status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  return get;
}

// Whether a GET of `path` answers 200 with exactly `expected` (a transfer cut short is a no).
bool pulls_whole(HttpClient& client, const std::string& path, const std::string& expected) {
  try {
    auto answer = client.get(path);
    return answer.status == 200 && answer.body == expected;
  } catch (const std::exception&) {
    return false;
  }
}

// Whether a GET of `path` answers 200 with a body of `size` bytes, whatever they are.
bool pulls_whole_size(HttpClient& client, const std::string& path, std::size_t size) {
  try {
    auto answer = client.get(path);
    return answer.status == 200 && answer.body.size() == size;
  } catch (const std::exception&) {
    return false;
  }
}

TEST_F(CacheTest, TwentyConcurrentFirstPullsFetchEveryBlobOnceAndStreamBeforeTheFetchEnds) {
  create_rule(300);
  const std::string big = pseudo_random_bytes(64 * 1024 * 1024, 11);
  PushedImage image = pusher_->push_image("library/big", "1.0", {big});
  ASSERT_FALSE(image.digest.empty());
  const std::string layer_path = "/v2/library/big/blobs/" + image.layer_digests[0];
  // The upstream sends the layer at 32 MiB/s, so its fetch takes about two seconds.
  proxy_->add(Fault{.kind = Fault::Kind::throttle,
                    .method = "GET",
                    .target_contains = image.layer_digests[0],
                    .bytes = 32 * 1024 * 1024,
                    .times = -1});

  std::atomic<bool> fetch_unfinished_at_first_byte{false};
  std::atomic<int> first_byte_seen{0};
  std::vector<TimedGet> pulls(20);
  std::vector<std::thread> clients;
  for (int i = 0; i < 20; ++i) {
    clients.emplace_back([&, i] {
      auto client = fresh_client();
      HttpClient& c = *client;
      auto manifest = c.get("/v2/hub/big/manifests/1.0");
      if (manifest.status != 200 ||
          manifest.header("docker-content-digest") != image.digest) {
        pulls[i].status = manifest.status;
        return;
      }
      auto config = c.get("/v2/hub/big/blobs/" + image.config_digest);
      if (sha256_digest(config.body) != image.config_digest) return;
      pulls[i] = timed_get(app_->base_url() + "/v2/hub/big/blobs/" + image.layer_digests[0],
                           kUpstreamTestAdminToken, [&] {
                             if (first_byte_seen.fetch_add(1) != 0) return;
                             // Is the proxy still sending the layer to berth?
                             for (const auto& request : proxy_->requests()) {
                               if (request.target.find(image.layer_digests[0]) !=
                                       std::string::npos &&
                                   !request.finished) {
                                 fetch_unfinished_at_first_byte = true;
                               }
                             }
                           });
    });
  }
  for (auto& t : clients) t.join();
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(pulls[i].status, 200) << "client " << i;
    EXPECT_EQ(pulls[i].body.size(), big.size()) << "client " << i;
    EXPECT_TRUE(pulls[i].body == big) << "client " << i << " got other bytes";
  }
  EXPECT_TRUE(fetch_unfinished_at_first_byte)
      << "the first client's first byte came only after the upstream had sent the whole layer";
  wait_until_cached("/v2/hub/big/manifests/1.0");
  EXPECT_EQ(upstream_gets(layer_path), 1u);
  EXPECT_EQ(upstream_gets("/v2/library/big/blobs/" + image.config_digest), 1u);
  EXPECT_LE(upstream_gets("/v2/library/big/manifests/" + image.digest) +
                upstream_gets("/v2/library/big/manifests/1.0"),
            1u);

  // Stored now: every later pull is the registry's own.
  auto again = client().get("/v2/hub/big/blobs/" + image.layer_digests[0]);
  EXPECT_EQ(again.status, 200);
  EXPECT_TRUE(again.body == big);
  EXPECT_EQ(upstream_gets(layer_path), 1u);
}

TEST_F(CacheTest, ServesStaleWhileTheUpstreamIsDownAndPicksUpAMovedTagAfterTheTtl) {
  create_rule(1);
  PushedImage first = pusher_->push_image("library/app", "v1", {pseudo_random_bytes(50'000, 12)});
  auto miss = client().get("/v2/hub/app/manifests/v1");
  ASSERT_EQ(miss.status, 200);
  EXPECT_EQ(miss.header("x-berth-cache"), "miss");
  EXPECT_EQ(miss.body, first.manifest);
  wait_until_cached("/v2/hub/app/manifests/v1");

  upstream_->stop();
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // past the rule's TTL
  auto stale = client().get("/v2/hub/app/manifests/v1");
  ASSERT_EQ(stale.status, 200);
  EXPECT_EQ(stale.header("x-berth-cache"), "stale");
  EXPECT_NE(stale.header("warning").find("110"), std::string::npos) << stale.header("warning");
  EXPECT_EQ(stale.body, first.manifest);
  auto layer = client().get("/v2/hub/app/blobs/" + first.layer_digests[0]);
  EXPECT_EQ(layer.status, 200);
  EXPECT_EQ(layer.body, first.layers[0]);
  // What was never cached is a gateway error, not a 404 or a 500.
  EXPECT_EQ(client().get("/v2/hub/other/manifests/v1").status, 502);

  std::string error;
  ASSERT_TRUE(upstream_->restart(error)) << error;
  PushedImage second = pusher_->push_image("library/app", "v1", {pseudo_random_bytes(50'000, 13)});
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  auto moved = client().get("/v2/hub/app/manifests/v1");
  ASSERT_EQ(moved.status, 200);
  EXPECT_EQ(moved.header("docker-content-digest"), second.digest);
  wait_until_cached("/v2/hub/app/manifests/v1");
  EXPECT_EQ(client().get("/v2/hub/app/blobs/" + second.layer_digests[0]).body, second.layers[0]);
  // Within the TTL the registry answers without asking: no HEAD reaches the upstream.
  ASSERT_EQ(client()
                .request("PATCH", "/mgmt/v1/registries/default/cache-rules/hubrule",
                         R"({"tagTtlSeconds":3600})", {"Content-Type: application/json"})
                .status,
            200);
  const auto heads_before = upstream_->count("HEAD", "/v2/library/app/manifests/v1");
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(client().get("/v2/hub/app/manifests/v1").header("x-berth-cache"), "hit");
  }
  EXPECT_EQ(upstream_->count("HEAD", "/v2/library/app/manifests/v1"), heads_before);
}

TEST_F(CacheTest, ADroppedConnectionIsResumedAndTheBlobIsCachedWhole) {
  create_rule(300);
  const std::string layer = pseudo_random_bytes(4 * 1024 * 1024, 14);
  PushedImage image = pusher_->push_image("library/drop", "1", {layer});
  proxy_->add(Fault{.kind = Fault::Kind::drop_after,
                    .method = "GET",
                    .target_contains = image.layer_digests[0],
                    .bytes = 1024 * 1024,
                    .times = 1});
  ASSERT_EQ(client().get("/v2/hub/drop/manifests/1").status, 200);
  auto pulled = client().get("/v2/hub/drop/blobs/" + image.layer_digests[0]);
  EXPECT_EQ(pulled.status, 200);
  EXPECT_TRUE(pulled.body == layer);
  wait_until_cached("/v2/hub/drop/manifests/1");
  bool resumed = false;
  for (const auto& request : proxy_->requests()) {
    if (request.target.find(image.layer_digests[0]) != std::string::npos &&
        request.header("range").starts_with("bytes=1048576-")) {
      resumed = true;
    }
  }
  EXPECT_TRUE(resumed) << "no Range request continued the dropped transfer";
  EXPECT_TRUE(client().get("/v2/hub/drop/blobs/" + image.layer_digests[0]).body == layer);
}

TEST_F(CacheTest, AConnectionThatKeepsDroppingFailsCleanlyAndCachesNothing) {
  create_rule(300);
  const std::string layer = pseudo_random_bytes(2 * 1024 * 1024, 15);
  PushedImage image = pusher_->push_image("library/flaky", "1", {layer});
  proxy_->add(Fault{.kind = Fault::Kind::drop_after,
                    .method = "GET",
                    .target_contains = image.layer_digests[0],
                    .bytes = 100'000,
                    .times = -1});
  ASSERT_EQ(client().get("/v2/hub/flaky/manifests/1").status, 200);
  EXPECT_FALSE(pulls_whole(client(), "/v2/hub/flaky/blobs/" + image.layer_digests[0], layer))
      << "a blob the upstream never sent whole was answered whole";
  // Nothing was stored: once the upstream behaves, the blob is fetched again, whole.
  proxy_->clear_faults();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto pulled = client().get("/v2/hub/flaky/blobs/" + image.layer_digests[0]);
  EXPECT_EQ(pulled.status, 200);
  EXPECT_TRUE(pulled.body == layer);
}

TEST_F(CacheTest, RetryAfterIsWaitedOut) {
  create_rule(300);
  PushedImage image = pusher_->push_image("library/busy", "1", {pseudo_random_bytes(10'000, 16)});
  proxy_->add(Fault{.kind = Fault::Kind::too_many_requests,
                    .method = "",
                    .target_contains = "/v2/library/busy/manifests/",
                    .retry_after = "1",
                    .times = 1});
  auto answer = client().get("/v2/hub/busy/manifests/1");
  EXPECT_EQ(answer.status, 200);
  EXPECT_EQ(answer.header("docker-content-digest"), image.digest);
}

TEST_F(CacheTest, ABlobWhoseDigestDoesNotMatchIsRefusedAndNotCached) {
  create_rule(300);
  const std::string layer = pseudo_random_bytes(1024 * 1024, 17);
  PushedImage image = pusher_->push_image("library/bad", "1", {layer});
  proxy_->add(Fault{.kind = Fault::Kind::corrupt_byte,
                    .method = "GET",
                    .target_contains = image.layer_digests[0],
                    .bytes = 500'000,
                    .times = 1});
  ASSERT_EQ(client().get("/v2/hub/bad/manifests/1").status, 200);
  EXPECT_FALSE(pulls_whole_size(client(), "/v2/hub/bad/blobs/" + image.layer_digests[0],
                               layer.size()))
      << "a corrupt blob was answered whole";
  // Not cached: the next pull fetches it again and gets the right bytes.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto good = client().get("/v2/hub/bad/blobs/" + image.layer_digests[0]);
  EXPECT_EQ(good.status, 200);
  EXPECT_TRUE(good.body == layer);
  EXPECT_GE(upstream_gets("/v2/library/bad/blobs/" + image.layer_digests[0]), 2u);
}

TEST_F(CacheTest, PushesIntoACachedRepositoryFollowTheRule) {
  create_rule(300);
  auto refused = client().request("POST", "/v2/hub/mine/blobs/uploads/");
  EXPECT_EQ(refused.status, 403);
  EXPECT_NE(refused.body.find("hubrule"), std::string::npos) << refused.body;
  auto manifest = client().request("PUT", "/v2/hub/mine/manifests/1", "{}",
                                   {"Content-Type: application/vnd.oci.image.manifest.v1+json"});
  EXPECT_EQ(manifest.status, 403);
  // Outside the rule's target, pushes go on as ever.
  EXPECT_EQ(client().request("POST", "/v2/mine/blobs/uploads/").status, 202);
  auto allowed = client().request("PATCH", "/mgmt/v1/registries/default/cache-rules/hubrule",
                                  R"({"allowPush":true})", {"Content-Type: application/json"});
  ASSERT_EQ(allowed.status, 200);
  EXPECT_EQ(client().request("POST", "/v2/hub/mine/blobs/uploads/").status, 202);
}

}  // namespace
}  // namespace berth::testing
