// GET /metrics through the real App: a push and a pull move the counters by exactly what they
// were, and who may scrape (loopback clients; others with the metrics token) holds.

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include "api/api_test_support.h"

namespace berth::testing {
namespace {

constexpr const char* kAdminToken = "metrics-test-admin-token-0123456789";
constexpr const char* kMetricsToken = "metrics-test-scrape-token-9876543210";
constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";
// Through the trusted proxy at 127.0.0.1 (the test's own connection), a client that is not on
// a loopback address.
constexpr const char* kRemoteClient = "X-Forwarded-For: 192.0.2.10";

// The value of the sample `series` (name and labels as written) in the exposition `text`; 0
// when the series is not there yet (a counter is created at its first use).
double sample(const std::string& text, const std::string& series) {
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 &&
        line[series.size()] == ' ') {
      return std::stod(line.substr(series.size() + 1));
    }
  }
  return 0;
}

// Writes the metrics token file and starts berthd with it, trusting the test's own address
// as a proxy so that X-Forwarded-For can play a remote client.
std::unique_ptr<RunningApp> start_app(const TempDir& dir, bool with_token) {
  std::string token_file = (dir.path() / "metrics-token").string();
  std::ofstream(token_file) << kMetricsToken << '\n';  // the newline is not part of it
  return std::make_unique<RunningApp>(
      dir.path() / "data",
      [&](server::Config& config) {
        config.trusted_proxies = {"127.0.0.1"};
        if (with_token) config.metrics_token_file = token_file;
      },
      std::string(kAdminToken));
}

class MetricsApi : public ::testing::Test {
 protected:
  void SetUp() override {
    app_ = start_app(dir_, true);
    client_ = std::make_unique<HttpClient>(app_->base_url());
    client_->set_default_headers({bearer_header(kAdminToken)});
  }

  std::string scrape() {
    auto r = client_->get("/metrics");
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.header("Content-Type"), kContentType);
    return r.body;
  }

  // Sends a request to the default registry and adds its response body to sent_.
  HttpResponse send(std::string_view method, const std::string& target, std::string_view body = {},
                    const std::vector<std::string>& headers = {}) {
    auto r = client_->request(method, target, body, headers);
    sent_ += r.body.size();
    return r;
  }

  TempDir dir_;
  std::unique_ptr<RunningApp> app_;
  std::unique_ptr<HttpClient> client_;
  std::uint64_t sent_ = 0;
};

TEST_F(MetricsApi, APushAndAPullMoveTheCountersByExactlyWhatTheyWere) {
  const std::string before = scrape();

  // The push: the config monolithically, the layer through a session, then the manifest.
  const std::string config = R"({"architecture":"amd64","os":"linux"})";
  const std::string layer(70000, 'L');
  const std::string config_digest = sha256(config);
  const std::string layer_digest = sha256(layer);
  auto posted =
      send("POST", fmt::format("/v2/team/app/blobs/uploads/?digest={}", config_digest), config);
  ASSERT_EQ(posted.status, 201) << posted.body;
  auto session = send("POST", "/v2/team/app/blobs/uploads/");
  ASSERT_EQ(session.status, 202) << session.body;
  auto finished =
      send("PUT", path_of(session.header("Location")) + "?digest=" + layer_digest, layer);
  ASSERT_EQ(finished.status, 201) << finished.body;
  const std::string manifest = fmt::format(
      R"({{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[{}]}})",
      descriptor_json({"application/vnd.oci.image.config.v1+json", config_digest, config.size()}),
      descriptor_json({"application/vnd.oci.image.layer.v1.tar+gzip", layer_digest, layer.size()}));
  auto put = send("PUT", "/v2/team/app/manifests/v1", manifest,
                  {"Content-Type: application/vnd.oci.image.manifest.v1+json"});
  ASSERT_EQ(put.status, 201) << put.body;

  // The pull, and a pull of a tag that is not there.
  auto pulled = send("GET", "/v2/team/app/manifests/v1", {},
                     {"Accept: application/vnd.oci.image.manifest.v1+json"});
  ASSERT_EQ(pulled.status, 200) << pulled.body;
  ASSERT_EQ(pulled.body, manifest);
  auto missing = send("GET", "/v2/team/app/manifests/nosuchtag");
  ASSERT_EQ(missing.status, 404);

  // An upload session left open.
  auto open = send("POST", "/v2/team/app/blobs/uploads/");
  ASSERT_EQ(open.status, 202);

  const std::string after = scrape();
  auto delta = [&](const std::string& series) {
    return sample(after, series) - sample(before, series);
  };
  EXPECT_EQ(delta(R"(berth_pushes_total{registry="default"})"), 1) << after;
  EXPECT_EQ(delta(R"(berth_successful_pushes_total{registry="default"})"), 1);
  EXPECT_EQ(delta(R"(berth_pulls_total{registry="default"})"), 2);
  EXPECT_EQ(delta(R"(berth_successful_pulls_total{registry="default"})"), 1);
  EXPECT_EQ(delta(R"(berth_http_received_bytes_total{registry="default"})"),
            config.size() + layer.size() + manifest.size());
  EXPECT_EQ(delta(R"(berth_http_sent_bytes_total{registry="default"})"), sent_);
  EXPECT_GE(sent_, manifest.size());
  EXPECT_EQ(
      delta(
          R"(berth_http_request_duration_seconds_count{route="manifest.put",status_class="2xx"})"),
      1);
  EXPECT_EQ(
      delta(
          R"(berth_http_request_duration_seconds_count{route="manifest.get",status_class="2xx"})"),
      1);
  EXPECT_EQ(
      delta(
          R"(berth_http_request_duration_seconds_count{route="manifest.get",status_class="4xx"})"),
      1);
  EXPECT_EQ(
      delta(
          R"(berth_http_request_duration_seconds_count{route="upload.start",status_class="2xx"})"),
      3);
  // The first scrape itself was recorded (outside any registry).
  EXPECT_EQ(
      delta(R"(berth_http_request_duration_seconds_count{route="metrics",status_class="2xx"})"), 1);

  // Read at scrape time.
  EXPECT_GE(sample(after, R"(berth_storage_used_bytes{registry="default"})"),
            config.size() + layer.size());
  EXPECT_EQ(sample(after, R"(berth_open_upload_sessions{registry="default"})"), 1);
  EXPECT_EQ(sample(after, R"(berth_blocking_pool_tasks{state="queued"})"), 0);
  EXPECT_EQ(sample(after, R"(berth_blocking_pool_tasks{state="running"})"), 0);
  EXPECT_NE(after.find("\nberth_outbox_undelivered_events 0\n"), std::string::npos) << after;
}

TEST_F(MetricsApi, RequestsToARegistryThatDoesNotExistMakeNoSeries) {
  auto r = client_->get("/v2/team/app/manifests/v1", {"Host: nosuch.registry.local"});
  ASSERT_EQ(r.status, 404);
  std::string text = scrape();
  EXPECT_EQ(text.find("nosuch"), std::string::npos) << text;
  EXPECT_EQ(
      sample(
          text,
          R"(berth_http_request_duration_seconds_count{route="manifest.get",status_class="4xx"})"),
      1);
}

TEST_F(MetricsApi, LoopbackClientsScrapeWithoutCredentials) {
  HttpClient anonymous(app_->base_url());
  auto r = anonymous.get("/metrics");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("Content-Type"), kContentType);
  EXPECT_NE(r.body.find("# TYPE berth_blocking_pool_tasks gauge"), std::string::npos) << r.body;
}

TEST_F(MetricsApi, OtherClientsNeedTheMetricsToken) {
  HttpClient remote(app_->base_url());
  auto without = remote.get("/metrics", {kRemoteClient});
  EXPECT_EQ(without.status, 401) << without.body;
  EXPECT_EQ(without.header("WWW-Authenticate"), R"(Bearer realm="berth-metrics")");
  EXPECT_EQ(error_code(without), "UNAUTHORIZED");
  for (const std::string& wrong :
       {bearer_header("not-the-metrics-token-0000000000"), bearer_header(kAdminToken),
        bearer_header(std::string(kMetricsToken) + "x"),
        std::string("Authorization: Basic ") + "YWRtaW46cGFzc3dvcmQ=",
        std::string("Authorization: Bearer")}) {
    auto refused = remote.get("/metrics", {kRemoteClient, wrong});
    EXPECT_EQ(refused.status, 401) << wrong;
    EXPECT_EQ(refused.body.find("berth_"), std::string::npos);
  }
  auto scraped = remote.get("/metrics", {kRemoteClient, bearer_header(kMetricsToken)});
  EXPECT_EQ(scraped.status, 200) << scraped.body;
  EXPECT_EQ(scraped.header("Content-Type"), kContentType);
  // The scheme is matched ignoring case, as every Bearer header is.
  auto lower = remote.get("/metrics",
                          {kRemoteClient, std::string("Authorization: bearer ") + kMetricsToken});
  EXPECT_EQ(lower.status, 200);
  // The refusals were recorded too.
  EXPECT_EQ(
      sample(scraped.body,
             R"(berth_http_request_duration_seconds_count{route="metrics",status_class="4xx"})"),
      6);
}

TEST(MetricsAccess, WithoutATokenOnlyLoopbackClientsMayScrape) {
  TempDir dir;
  auto app = start_app(dir, false);
  HttpClient client(app->base_url());
  EXPECT_EQ(client.get("/metrics").status, 200);
  auto refused = client.get("/metrics", {kRemoteClient});
  EXPECT_EQ(refused.status, 403) << refused.body;
  EXPECT_EQ(error_code(refused), "DENIED");
  EXPECT_EQ(client.get("/metrics", {kRemoteClient, bearer_header(kMetricsToken)}).status, 403);
  EXPECT_EQ(client.get("/metrics", {kRemoteClient, bearer_header(kAdminToken)}).status, 403);
}

TEST(MetricsAccess, AnUnusableTokenFileStopsTheStartWithoutShowingTheToken) {
  TempDir dir;
  server::Config config;
  config.listen = {"127.0.0.1:0"};
  config.data_dir = dir.path() / "data";
  config.metrics_token_file = (dir.path() / "missing").string();
  try {
    server::App app(config);
    ADD_FAILURE() << "started with a missing token file";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("metrics token file"), std::string::npos) << e.what();
  }
  for (const std::string& bad :
       {std::string("short-token"), std::string("has a space in it 0123"), std::string("\n")}) {
    std::ofstream(dir.path() / "bad") << bad;
    config.metrics_token_file = (dir.path() / "bad").string();
    try {
      server::App app(config);
      ADD_FAILURE() << "started with the token '" << bad << "'";
    } catch (const std::runtime_error& e) {
      std::string message = e.what();
      EXPECT_NE(message.find("at least 16 printable"), std::string::npos) << message;
      if (bad.size() > 2) {
        EXPECT_EQ(message.find(bad), std::string::npos) << message;
      }
    }
  }
  config.metrics_token_file = "/dev/zero";  // read up to a bound, not forever
  try {
    server::App app(config);
    ADD_FAILURE() << "started with /dev/zero as the token file";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("is over 4096 bytes"), std::string::npos) << e.what();
  }
  // None of these starts made anything.
  EXPECT_FALSE(std::filesystem::exists(config.data_dir));
}

}  // namespace
}  // namespace berth::testing
