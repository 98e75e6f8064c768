// The dispatcher against a real SQLite store and a scripted transport: order, retries,
// give-up, filters, signatures, masking, and two dispatchers sharing one database.

#include "events/dispatcher.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <chrono>
#include <functional>
#include <mutex>
#include <thread>

#include "common/temp_dir.h"
#include "events/event_service.h"
#include "events/payload.h"
#include "metadata/sqlite_metadata_store.h"
#include "registry/tenants.h"
#include "storage/blob_storage.h"
#include "storage/memory_byte_store.h"

namespace berth::events {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

// "<prefix><n>", built by appending (GCC 12 -O3 reports a false -Wrestrict on "lit" + string).
std::string numbered(std::string_view prefix, int n) {
  std::string text(prefix);
  text += std::to_string(n);
  return text;
}

std::array<unsigned char, 32> key_bytes() {
  std::array<unsigned char, 32> bytes{};
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<unsigned char>(i + 3);
  return bytes;
}

// Answers each post with what `answer` says, and remembers every post.
class ScriptedTransport final : public Transport {
 public:
  std::function<DeliveryResponse(const Delivery&)> answer = [](const Delivery&) {
    return DeliveryResponse{.status = 200};
  };

  DeliveryResponse post(const Delivery& delivery, const std::atomic<bool>&) override {
    DeliveryResponse response = answer(delivery);
    std::lock_guard lock(mutex_);
    posts_.push_back(delivery);
    return response;
  }
  std::vector<Delivery> posts() {
    std::lock_guard lock(mutex_);
    return posts_;
  }

 private:
  std::mutex mutex_;
  std::vector<Delivery> posts_;
};

std::string action_of(const Delivery& delivery) {
  return std::string(json::parse(delivery.body).at("action").as_string());
}
std::string tag_of(const Delivery& delivery) {
  json::value body = json::parse(delivery.body);
  const auto& target = body.at("target").as_object();
  return target.contains("tag") ? std::string(target.at("tag").as_string()) : "";
}
std::string header(const Delivery& delivery, std::string_view name) {
  for (const auto& [key, value] : delivery.headers) {
    if (key == name) return value;
  }
  return "";
}

class DispatcherTest : public ::testing::Test {
 protected:
  DispatcherTest()
      : store_(std::move(*metadata::SqliteMetadataStore::open(dir_.path() / "metadata.db"))),
        key_(auth::DeploymentKey::from_bytes(key_bytes())),
        tenants_(*store_, storage_),
        service_(*store_, tenants_, key_, DestinationPolicy{}) {}

  DispatcherOptions fast() {
    DispatcherOptions options;
    options.workers = 2;
    options.poll_interval = 10ms;
    options.backoff_min = 20ms;
    options.backoff_max = 40ms;
    options.lease = 5s;
    return options;
  }

  void create(std::string name, std::vector<std::string> actions = {"push", "delete"},
              std::string scope = "", std::string secret = "") {
    NewWebhook webhook;
    webhook.name = std::move(name);
    webhook.service_uri = "http://127.0.0.1:9/" + webhook.name;
    webhook.actions = std::move(actions);
    webhook.scope = std::move(scope);
    webhook.secret = std::move(secret);
    webhook.headers = {{"Authorization", "Bearer s3cr3t-header"}};
    auto created = service_.create("default", webhook);
    ASSERT_TRUE(created) << created.error().message;
  }

  void append(std::string action, std::string repository, std::string tag) {
    metadata::EventRecord event;
    event.id = action + "-" + repository + "-" + tag;
    event.action = std::move(action);
    event.repository = std::move(repository);
    event.tag = std::move(tag);
    event.deliverable = metadata::event_action::is_deliverable(event.action);
    ASSERT_TRUE(store_->append_events(std::span(&event, 1)));
  }

  // Waits (bounded) until `done` holds; the dispatcher works in the background.
  static bool eventually(const std::function<bool()>& done) {
    for (int i = 0; i < 500; ++i) {
      if (done()) return true;
      std::this_thread::sleep_for(10ms);
    }
    return done();
  }

  std::vector<metadata::DeliveryRecord> deliveries(std::string_view name) {
    auto listed = service_.deliveries("default", name, 0, 100);
    return listed ? *listed : std::vector<metadata::DeliveryRecord>{};
  }

  TempDir dir_;
  storage::BlobStorage storage_{std::make_unique<storage::MemoryByteStore>()};
  std::unique_ptr<metadata::SqliteMetadataStore> store_;
  auth::DeploymentKey key_;
  registry::Tenants tenants_;
  EventService service_;
  ScriptedTransport transport_;
};

TEST(RetryDelay, DoublesUpToTheCapWithJitter) {
  DispatcherOptions options;
  options.backoff_min = 1000ms;
  options.backoff_max = 8000ms;
  EXPECT_EQ(retry_delay(options, 1, 0.5), 1000ms);
  EXPECT_EQ(retry_delay(options, 2, 0.5), 2000ms);
  EXPECT_EQ(retry_delay(options, 4, 0.5), 8000ms);
  EXPECT_EQ(retry_delay(options, 40, 0.5), 8000ms);
  EXPECT_EQ(retry_delay(options, 1, 0.0), 800ms);
  EXPECT_EQ(retry_delay(options, 1, 0.999), 1199ms);
}

TEST_F(DispatcherTest, DeliversInOrderWithTheWebhooksHeaders) {
  create("hookone");
  for (int i = 0; i < 5; ++i) append("push", "app", numbered("v", i));
  Dispatcher dispatcher(*store_, *store_, key_, transport_, fast());
  dispatcher.start();
  ASSERT_TRUE(eventually([&] { return transport_.posts().size() >= 5; }));
  dispatcher.stop();
  auto posts = transport_.posts();
  ASSERT_EQ(posts.size(), 5u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(tag_of(posts[i]), numbered("v", i));
  EXPECT_EQ(posts[0].uri, "http://127.0.0.1:9/hookone");
  EXPECT_EQ(header(posts[0], "Authorization"), "Bearer s3cr3t-header");
  EXPECT_EQ(header(posts[0], "Content-Type"), "application/json");
  EXPECT_EQ(header(posts[0], "X-Berth-Event-Id"), "push-app-v0");
  EXPECT_EQ(header(posts[0], "X-Berth-Signature"), "") << "no secret, no signature";
  auto recorded = deliveries("hookone");
  ASSERT_EQ(recorded.size(), 5u);
  EXPECT_EQ(recorded[0].result, "delivered");
  EXPECT_EQ(recorded[0].status, 200);
  EXPECT_EQ(recorded[0].request_headers_json.find("s3cr3t"), std::string::npos)
      << "custom header values are masked in the record";
  EXPECT_NE(recorded[0].request_headers_json.find("Authorization"), std::string::npos);
}

TEST_F(DispatcherTest, RetriesAFailingReceiverAndKeepsTheOrder) {
  create("hookone");
  append("push", "app", "first");
  append("push", "app", "second");
  std::atomic<int> failures_left{3};
  transport_.answer = [&](const Delivery&) {
    if (failures_left-- > 0) return DeliveryResponse{.status = 500, .excerpt = "down"};
    return DeliveryResponse{.status = 204};
  };
  Dispatcher dispatcher(*store_, *store_, key_, transport_, fast());
  dispatcher.start();
  ASSERT_TRUE(eventually([&] { return transport_.posts().size() >= 5; }));
  dispatcher.stop();
  auto posts = transport_.posts();
  ASSERT_EQ(posts.size(), 5u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(tag_of(posts[i]), "first") << i;
  EXPECT_EQ(tag_of(posts[4]), "second");
  EXPECT_EQ(header(posts[3], "X-Berth-Delivery-Attempt"), "4");
  auto recorded = deliveries("hookone");  // newest first
  ASSERT_EQ(recorded.size(), 5u);
  EXPECT_EQ(recorded[4].result, "failed");
  EXPECT_EQ(recorded[4].status, 500);
  EXPECT_EQ(recorded[4].response_excerpt, "down");
  EXPECT_EQ(recorded[4].error, "the receiver answered HTTP 500");
  EXPECT_EQ(recorded[1].result, "delivered");
  EXPECT_EQ(recorded[1].attempt, 4u);
}

TEST_F(DispatcherTest, GivesUpOnEventsOlderThanTheRetryWindow) {
  create("hookone");
  append("push", "app", "old");
  append("push", "app", "next");
  transport_.answer = [&](const Delivery& delivery) {
    if (tag_of(delivery) == "old") return DeliveryResponse{.error = "connection refused"};
    return DeliveryResponse{.status = 200};
  };
  DispatcherOptions options = fast();
  options.retry_for = 0ms;  // every event is already too old to retry
  Dispatcher dispatcher(*store_, *store_, key_, transport_, options);
  dispatcher.start();
  ASSERT_TRUE(eventually([&] { return transport_.posts().size() >= 2; }));
  dispatcher.stop();
  auto recorded = deliveries("hookone");
  ASSERT_EQ(recorded.size(), 2u);
  EXPECT_EQ(recorded[1].result, "gave_up");
  EXPECT_EQ(recorded[1].error, "connection refused");
  EXPECT_EQ(recorded[0].result, "delivered");
}

TEST_F(DispatcherTest, ActionsAndScopeFilterWhatIsDelivered) {
  create("pushesonly", {"push"}, "app:v*");
  append("push", "app", "v1");
  append("delete", "app", "");
  append("push", "app", "latest");
  append("push", "other", "v1");
  append("untag", "app", "v1");
  append("pull", "app", "v1");
  append("push", "app", "v2");
  Dispatcher dispatcher(*store_, *store_, key_, transport_, fast());
  dispatcher.start();
  ASSERT_TRUE(eventually([&] { return transport_.posts().size() >= 2; }));
  ASSERT_TRUE(eventually([&] {
    auto stats = store_->outbox_stats();
    return stats && stats->undelivered == 0;
  }));
  dispatcher.stop();
  auto posts = transport_.posts();
  ASSERT_EQ(posts.size(), 2u);
  EXPECT_EQ(tag_of(posts[0]), "v1");
  EXPECT_EQ(tag_of(posts[1]), "v2");
}

TEST_F(DispatcherTest, SignsWithTheSecretAndSendsCloudEvents) {
  create("signedhook", {"push"}, "", "shared-secret");
  WebhookUpdate update;
  update.format = "cloudevents";
  ASSERT_TRUE(service_.update("default", "signedhook", update));
  append("push", "app", "v1");
  Dispatcher dispatcher(*store_, *store_, key_, transport_, fast());
  dispatcher.start();
  ASSERT_TRUE(eventually([&] { return !transport_.posts().empty(); }));
  dispatcher.stop();
  auto posts = transport_.posts();
  const Delivery& post = posts.front();
  EXPECT_EQ(header(post, "Content-Type"), "application/cloudevents+json; charset=utf-8");
  json::object envelope = json::parse(post.body).as_object();
  EXPECT_EQ(envelope.at("source"), "/registries/default");
  EXPECT_EQ(envelope.at("data").at("action"), "push");
  std::string signed_header = header(post, "X-Berth-Signature");
  ASSERT_TRUE(signed_header.starts_with("t="));
  std::int64_t t = std::stoll(signed_header.substr(2, signed_header.find(',') - 2));
  EXPECT_EQ(signed_header, signature("shared-secret", t, post.body));
  EXPECT_EQ(deliveries("signedhook").front().request_headers_json.find("shared-secret"),
            std::string::npos);
}

TEST_F(DispatcherTest, PingAndRedeliveryGoToOneWebhookOnly) {
  create("hookone");
  create("hooktwo");
  metadata::EventOrigin origin;
  auto ping = service_.ping("default", "hookone", origin);
  ASSERT_TRUE(ping);
  append("push", "app", "v1");
  Dispatcher dispatcher(*store_, *store_, key_, transport_, fast());
  dispatcher.start();
  ASSERT_TRUE(eventually([&] { return transport_.posts().size() >= 3; }));
  auto again = service_.redeliver("default", "hooktwo", "push-app-v1");
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, "push-app-v1");
  ASSERT_TRUE(eventually([&] { return transport_.posts().size() >= 4; }));
  dispatcher.stop();
  int pings = 0;
  std::vector<std::string> to_two;
  for (const auto& post : transport_.posts()) {
    if (action_of(post) == "ping") {
      ++pings;
      EXPECT_EQ(post.uri, "http://127.0.0.1:9/hookone");
    }
    if (post.uri.ends_with("hooktwo")) to_two.push_back(post.body);
  }
  EXPECT_EQ(pings, 1);
  ASSERT_EQ(to_two.size(), 2u) << "the push, then its redelivery";
  EXPECT_EQ(to_two[0], to_two[1]) << "a redelivery sends the same payload (id and time)";
  EXPECT_FALSE(service_.redeliver("default", "hookone", "no-such-event"));
}

TEST_F(DispatcherTest, ASlowReceiverHoldsUpOnlyItsOwnWebhook) {
  create("slowhook");
  create("fasthook");
  std::atomic<bool> release{false};
  transport_.answer = [&](const Delivery& delivery) {
    if (delivery.uri.ends_with("slowhook")) {
      while (!release) std::this_thread::sleep_for(5ms);
    }
    return DeliveryResponse{.status = 200};
  };
  for (int i = 0; i < 3; ++i) append("push", "app", numbered("v", i));
  Dispatcher dispatcher(*store_, *store_, key_, transport_, fast());
  dispatcher.start();
  ASSERT_TRUE(eventually([&] { return deliveries("fasthook").size() == 3; }));
  EXPECT_TRUE(deliveries("slowhook").empty());
  release = true;
  ASSERT_TRUE(eventually([&] { return deliveries("slowhook").size() == 3; }));
  dispatcher.stop();
}

TEST_F(DispatcherTest, TwoDispatchersOnOneDatabaseDeliverEachEventOnce) {
  for (int i = 0; i < 4; ++i) create(numbered("hooknumber", i));
  for (int i = 0; i < 20; ++i) append("push", "app", numbered("v", i));
  auto other_store = metadata::SqliteMetadataStore::open(dir_.path() / "metadata.db");
  ASSERT_TRUE(other_store);
  ScriptedTransport other_transport;
  Dispatcher one(*store_, *store_, key_, transport_, fast());
  Dispatcher two(**other_store, **other_store, key_, other_transport, fast());
  one.start();
  two.start();
  ASSERT_TRUE(eventually([&] {
    return transport_.posts().size() + other_transport.posts().size() >= 80;
  }));
  std::this_thread::sleep_for(100ms);  // nothing more may arrive
  one.stop();
  two.stop();
  std::map<std::pair<std::string, std::string>, int> seen;
  for (auto* transport : {&transport_, &other_transport}) {
    for (const auto& post : transport->posts()) ++seen[{post.uri, tag_of(post)}];
  }
  EXPECT_EQ(seen.size(), 80u);
  for (const auto& [key, count] : seen) EXPECT_EQ(count, 1) << key.first << " " << key.second;
}

TEST_F(DispatcherTest, WhatWasNotDeliveredBeforeAStopIsDeliveredAfterTheNextStart) {
  create("hookone");
  append("push", "app", "v1");
  transport_.answer = [](const Delivery&) { return DeliveryResponse{.status = 503}; };
  {
    Dispatcher dispatcher(*store_, *store_, key_, transport_, fast());
    dispatcher.start();
    ASSERT_TRUE(eventually([&] { return !transport_.posts().empty(); }));
    dispatcher.stop();
  }
  transport_.answer = [](const Delivery&) { return DeliveryResponse{.status = 200}; };
  Dispatcher restarted(*store_, *store_, key_, transport_, fast());
  restarted.start();
  ASSERT_TRUE(eventually([&] {
    auto recorded = deliveries("hookone");
    return !recorded.empty() && recorded.front().result == "delivered";
  }));
  restarted.stop();
}

}  // namespace
}  // namespace berth::events
