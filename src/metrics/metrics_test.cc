#include "metrics/metrics.h"

#include <gtest/gtest.h>

#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/temp_dir.h"
#include "metadata/sqlite_metadata_store.h"
#include "oci/digest.h"

namespace berth::metrics {
namespace {

// The value of the sample `series` (name and labels exactly as written) in the exposition
// `text`, or nullopt when it has no such line.
std::optional<double> sample(const std::string& text, const std::string& series) {
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 &&
        line[series.size()] == ' ') {
      return std::stod(line.substr(series.size() + 1));
    }
  }
  return std::nullopt;
}

bool has_line(const std::string& text, const std::string& wanted) {
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line == wanted) return true;
  }
  return false;
}

Metrics::Request request_in(std::string_view registry, unsigned status, double seconds = 0.001) {
  Metrics::Request request;
  request.registry = registry;
  request.status = status;
  request.seconds = seconds;
  return request;
}

TEST(Metrics, PushesAndPullsCountEveryAnswerAndThe2xxOnesApart) {
  Metrics metrics;
  auto& put = metrics.route("manifest.put", Transfer::push);
  auto& get = metrics.route("manifest.get", Transfer::pull);
  auto& blob = metrics.route("blob.get");
  metrics.record(put, request_in("alpha", 201));
  metrics.record(put, request_in("alpha", 400));
  metrics.record(put, request_in("beta", 201));
  metrics.record(get, request_in("alpha", 200));
  metrics.record(get, request_in("alpha", 404));
  metrics.record(get, request_in("alpha", 500));
  metrics.record(blob, request_in("alpha", 200));  // neither a push nor a pull

  std::string text = metrics.scrape();
  EXPECT_EQ(sample(text, R"(berth_pushes_total{registry="alpha"})"), 2);
  EXPECT_EQ(sample(text, R"(berth_successful_pushes_total{registry="alpha"})"), 1);
  EXPECT_EQ(sample(text, R"(berth_pushes_total{registry="beta"})"), 1);
  EXPECT_EQ(sample(text, R"(berth_successful_pushes_total{registry="beta"})"), 1);
  EXPECT_EQ(sample(text, R"(berth_pulls_total{registry="alpha"})"), 3);
  EXPECT_EQ(sample(text, R"(berth_successful_pulls_total{registry="alpha"})"), 1);
  EXPECT_EQ(sample(text, R"(berth_pulls_total{registry="beta"})"), 0);
  EXPECT_TRUE(has_line(text, "# TYPE berth_pushes_total counter")) << text;
}

TEST(Metrics, RequestsOutsideAnyRegistryMoveBytesButAreNoPushes) {
  Metrics metrics;
  auto& put = metrics.route("manifest.put", Transfer::push);
  Metrics::Request request = request_in("", 201);
  request.received_bytes = 10;
  request.sent_bytes = 20;
  metrics.record(put, request);
  std::string text = metrics.scrape();
  EXPECT_EQ(sample(text, R"(berth_http_received_bytes_total{registry=""})"), 10);
  EXPECT_EQ(sample(text, R"(berth_http_sent_bytes_total{registry=""})"), 20);
  EXPECT_EQ(text.find("berth_pushes_total{"), std::string::npos) << text;
}

TEST(Metrics, BytesAddUpPerRegistry) {
  Metrics metrics;
  auto& patch = metrics.route("upload.patch");
  for (std::uint64_t bytes : {100u, 250u}) {
    Metrics::Request request = request_in("alpha", 202);
    request.received_bytes = bytes;
    metrics.record(patch, request);
  }
  Metrics::Request answer = request_in("beta", 200);
  answer.sent_bytes = 4096;
  metrics.record(patch, answer);
  std::string text = metrics.scrape();
  EXPECT_EQ(sample(text, R"(berth_http_received_bytes_total{registry="alpha"})"), 350);
  EXPECT_EQ(sample(text, R"(berth_http_sent_bytes_total{registry="alpha"})"), 0);
  EXPECT_EQ(sample(text, R"(berth_http_received_bytes_total{registry="beta"})"), 0);
  EXPECT_EQ(sample(text, R"(berth_http_sent_bytes_total{registry="beta"})"), 4096);
}

TEST(Metrics, LatencyGoesIntoTheBucketsOfItsRouteAndStatusClass) {
  Metrics metrics;
  auto& get = metrics.route("blob.get");
  metrics.record(get, request_in("alpha", 200, 0.003));
  metrics.record(get, request_in("alpha", 206, 0.2));
  metrics.record(get, request_in("alpha", 200, 1000));  // past the last bound: +Inf only
  metrics.record(get, request_in("alpha", 404, 0.02));
  std::string text = metrics.scrape();
  const std::string ok =
      R"(berth_http_request_duration_seconds_bucket{route="blob.get",status_class="2xx",le=)";
  EXPECT_EQ(sample(text, ok + R"("0.005"})"), 1) << text;
  EXPECT_EQ(sample(text, ok + R"("0.1"})"), 1);
  EXPECT_EQ(sample(text, ok + R"("0.25"})"), 2);
  EXPECT_EQ(sample(text, ok + R"("300"})"), 2);
  EXPECT_EQ(sample(text, ok + R"("+Inf"})"), 3);
  EXPECT_EQ(
      sample(text,
             R"(berth_http_request_duration_seconds_count{route="blob.get",status_class="2xx"})"),
      3);
  EXPECT_DOUBLE_EQ(
      *sample(text,
              R"(berth_http_request_duration_seconds_sum{route="blob.get",status_class="2xx"})"),
      1000.203);
  const std::string missing =
      R"(berth_http_request_duration_seconds_bucket{route="blob.get",status_class="4xx",le=)";
  EXPECT_EQ(sample(text, missing + R"("0.01"})"), 0);
  EXPECT_EQ(sample(text, missing + R"("0.025"})"), 1);
  // A class no request had has no series.
  EXPECT_EQ(text.find(R"(status_class="5xx")"), std::string::npos);
  EXPECT_TRUE(has_line(text, "# TYPE berth_http_request_duration_seconds histogram"));
}

TEST(Metrics, StatusClassesCoverEveryStatus) {
  Metrics metrics;
  auto& route = metrics.route("r");
  for (unsigned status : {101u, 200u, 302u, 499u, 599u, 600u, 0u}) {
    metrics.record(route, request_in("", status));
  }
  std::string text = metrics.scrape();
  auto count = [&](std::string_view status_class) {
    return sample(
        text, std::string(R"(berth_http_request_duration_seconds_count{route="r",status_class=")") +
                  std::string(status_class) + "\"}");
  };
  EXPECT_EQ(count("1xx"), 1);
  EXPECT_EQ(count("2xx"), 1);
  EXPECT_EQ(count("3xx"), 1);
  EXPECT_EQ(count("4xx"), 1);
  EXPECT_EQ(count("5xx"), 3);  // 599, and the impossible 600 and 0 as server faults
}

TEST(Metrics, TheSameRouteNameIsTheSameHandle) {
  Metrics metrics;
  auto& first = metrics.route("upload.start", Transfer::none);
  auto& second = metrics.route("upload.start", Transfer::push);
  EXPECT_EQ(&first, &second);
  metrics.record(second, request_in("alpha", 202));
  EXPECT_EQ(sample(metrics.scrape(), R"(berth_pushes_total{registry="alpha"})"), 0);
}

TEST(Metrics, OddNamesAreEscapedInLabelValues) {
  Metrics metrics;
  auto& route = metrics.route("odd\"route\\name\nnext");
  metrics.record(route, request_in("we\"ird\\reg\nistry", 201));
  metrics.webhook_delivery("a\"b", "hook\\1", "delivered");
  std::string text = metrics.scrape();
  EXPECT_TRUE(text.find(R"(route="odd\"route\\name\nnext")") != std::string::npos) << text;
  EXPECT_TRUE(text.find(R"(registry="we\"ird\\reg\nistry")") != std::string::npos) << text;
  EXPECT_EQ(
      sample(
          text,
          R"(berth_webhook_deliveries_total{registry="a\"b",result="delivered",webhook="hook\\1"})"),
      1)
      << text;
  // No raw newline inside a label value: every line is a comment or a sample.
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    EXPECT_TRUE(line.empty() || line.starts_with("# ") || line.starts_with("berth_")) << line;
  }
}

TEST(Metrics, WebhookDeliveriesCountByResult) {
  Metrics metrics;
  metrics.webhook_delivery("alpha", "ci", "delivered");
  metrics.webhook_delivery("alpha", "ci", "delivered");
  metrics.webhook_delivery("alpha", "ci", "failed");
  metrics.webhook_delivery("alpha", "audit", "gave_up");
  std::string text = metrics.scrape();
  const std::string name = "berth_webhook_deliveries_total";
  EXPECT_EQ(sample(text, name + R"({registry="alpha",result="delivered",webhook="ci"})"), 2);
  EXPECT_EQ(sample(text, name + R"({registry="alpha",result="failed",webhook="ci"})"), 1);
  EXPECT_EQ(sample(text, name + R"({registry="alpha",result="gave_up",webhook="audit"})"), 1);
}

TEST(Metrics, OutboxGaugesAreZeroUntilASourceIsSet) {
  Metrics metrics;
  std::string text = metrics.scrape();
  EXPECT_EQ(sample(text, "berth_outbox_undelivered_events"), 0);
  EXPECT_EQ(sample(text, "berth_outbox_oldest_event_age_seconds"), 0);
  metrics.set_outbox_source([] { return OutboxStats{7, 12.5}; });
  text = metrics.scrape();
  EXPECT_EQ(sample(text, "berth_outbox_undelivered_events"), 7);
  EXPECT_EQ(sample(text, "berth_outbox_oldest_event_age_seconds"), 12.5);
  EXPECT_TRUE(has_line(text, "# TYPE berth_outbox_undelivered_events gauge"));
}

TEST(Metrics, BlockingPoolLoadIsReadAtRenderTime) {
  Metrics metrics;
  EXPECT_EQ(sample(metrics.scrape(), R"(berth_blocking_pool_tasks{state="queued"})"), 0);
  PoolLoad load{3, 16};
  metrics.set_pool_source([&load] { return load; });
  auto snapshot = metrics.read_sources();
  load = {5, 2};  // what render() reports is the load when it runs
  std::string text = metrics.render(snapshot);
  EXPECT_EQ(sample(text, R"(berth_blocking_pool_tasks{state="queued"})"), 5);
  EXPECT_EQ(sample(text, R"(berth_blocking_pool_tasks{state="running"})"), 2);
}

TEST(Metrics, StorageAndUploadSessionsAreReadFromTheStorePerRegistry) {
  TempDir dir;
  auto opened = metadata::SqliteMetadataStore::open(dir.path() / "metadata.db");
  ASSERT_TRUE(opened) << opened.error().message;
  auto& store = **opened;
  metadata::RegistryRecord other;
  other.name = "other";
  other.tier = "Standard";
  other.region = "local";
  auto created = store.create_registry(other);
  ASSERT_TRUE(created) << created.error().message;
  ASSERT_TRUE(store.link_blob({created->id, "team/app"}, oci::digest_of("one"), 1000));
  ASSERT_TRUE(store.link_blob({created->id, "team/lib"}, oci::digest_of("one"), 1000));  // once
  ASSERT_TRUE(store.link_blob({created->id, "team/lib"}, oci::digest_of("two"), 24));
  for (const char* id : {"u1", "u2"}) {
    ASSERT_TRUE(store.create_upload({id, created->id, "team/app", 100, 100}));
  }
  ASSERT_TRUE(store.create_upload({"u3", metadata::kDefaultRegistryId, "x/y", 100, 100}));

  Metrics metrics(&store);
  std::string text = metrics.scrape();
  EXPECT_EQ(sample(text, R"(berth_storage_used_bytes{registry="other"})"), 1024) << text;
  EXPECT_EQ(sample(text, R"(berth_storage_used_bytes{registry="default"})"), 0);
  EXPECT_EQ(sample(text, R"(berth_open_upload_sessions{registry="other"})"), 2);
  EXPECT_EQ(sample(text, R"(berth_open_upload_sessions{registry="default"})"), 1);

  // A deleted registry leaves no series behind.
  ASSERT_TRUE(store.delete_registry(created->id));
  text = metrics.scrape();
  EXPECT_EQ(sample(text, R"(berth_storage_used_bytes{registry="other"})"), std::nullopt);
  EXPECT_EQ(sample(text, R"(berth_open_upload_sessions{registry="default"})"), 1);
}

TEST(Metrics, WithoutAStoreThePerRegistryGaugesAreLeftOut) {
  Metrics metrics;
  std::string text = metrics.scrape();
  EXPECT_EQ(text.find("berth_storage_used_bytes{"), std::string::npos);
  EXPECT_EQ(text.find("berth_open_upload_sessions{"), std::string::npos);
}

TEST(Metrics, ConcurrentRecordsAreAllCounted) {
  Metrics metrics;
  auto& put = metrics.route("manifest.put", Transfer::push);
  constexpr int kThreads = 4;
  constexpr int kEach = 2000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Half the threads share a registry, the others each have their own, so that first
      // uses race with lookups.
      std::string registry = t % 2 == 0 ? "shared" : "own" + std::to_string(t);
      for (int i = 0; i < kEach; ++i) {
        Metrics::Request request = request_in(registry, 201);
        request.received_bytes = 1;
        metrics.record(put, request);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  std::string text = metrics.scrape();
  EXPECT_EQ(sample(text, R"(berth_pushes_total{registry="shared"})"), kThreads / 2 * kEach);
  EXPECT_EQ(sample(text, R"(berth_pushes_total{registry="own1"})"), kEach);
  EXPECT_EQ(sample(text, R"(berth_http_received_bytes_total{registry="own3"})"), kEach);
  EXPECT_EQ(
      sample(
          text,
          R"(berth_http_request_duration_seconds_count{route="manifest.put",status_class="2xx"})"),
      kThreads * kEach);
}

}  // namespace
}  // namespace berth::metrics
