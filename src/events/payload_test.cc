#include "events/payload.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace berth::events {
namespace {

namespace json = boost::json;

metadata::EventRecord pushed() {
  metadata::EventRecord event;
  event.id = "6f1b3b9e-0000-4000-8000-000000000001";
  event.action = "push";
  event.repository = "team/app";
  event.tag = "v1";
  event.digest = "sha256:" + std::string(64, 'a');
  event.media_type = "application/vnd.oci.image.manifest.v1+json";
  event.size = 524;
  event.created_at = 1'764'687'845'123;  // 2025-12-02T15:04:05.123Z
  event.origin = {"adminuser:test", "adminUser", "127.0.0.1", "req-1", "test.registry.local",
                  "PUT", "containers/5.0"};
  return event;
}

TEST(Payload, PushHasTheHostedServicesShape) {
  json::value body = json::parse(service_payload(pushed()));
  EXPECT_EQ(body, json::parse(R"({
    "id": "6f1b3b9e-0000-4000-8000-000000000001",
    "timestamp": "2025-12-02T15:04:05.123Z",
    "action": "push",
    "target": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 524,
               "digest": "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
               "length": 524, "repository": "team/app", "tag": "v1"},
    "request": {"id": "req-1", "host": "test.registry.local", "method": "PUT",
                "useragent": "containers/5.0"}})"));
}

TEST(Payload, DeleteLeavesOutWhatItDoesNotHave) {
  metadata::EventRecord event = pushed();
  event.action = "delete";
  event.tag.clear();
  json::object target = json::parse(service_payload(event)).at("target").as_object();
  EXPECT_FALSE(target.contains("tag"));
  EXPECT_FALSE(target.contains("size"));
  EXPECT_FALSE(target.contains("length"));
  EXPECT_EQ(target.at("digest").as_string(), pushed().digest);
  event.digest.clear();
  event.media_type.clear();
  target = json::parse(service_payload(event)).at("target").as_object();
  EXPECT_EQ(target, json::parse(R"({"repository": "team/app"})").as_object());
}

TEST(Payload, ChartEventsNameTheChartAndVersion) {
  metadata::EventRecord event = pushed();
  event.action = "chart_push";
  event.repository = "charts/wordpress";
  event.tag = "5.4.0";
  json::object target = json::parse(service_payload(event)).at("target").as_object();
  EXPECT_EQ(target.at("name"), "wordpress");
  EXPECT_EQ(target.at("version"), "5.4.0");
}

TEST(Payload, CloudEventsEnvelopeHasTheRequiredAttributes) {
  json::object envelope = json::parse(cloudevents_payload(pushed(), "myregistry")).as_object();
  EXPECT_EQ(envelope.at("specversion"), "1.0");
  EXPECT_EQ(envelope.at("id").as_string(), pushed().id);
  EXPECT_EQ(envelope.at("source"), "/registries/myregistry");
  EXPECT_EQ(envelope.at("type"), "io.berth.registry.push");
  EXPECT_EQ(envelope.at("time"), "2025-12-02T15:04:05.123Z");
  EXPECT_EQ(envelope.at("subject"), "team/app:v1");
  EXPECT_EQ(envelope.at("datacontenttype"), "application/json");
  EXPECT_EQ(envelope.at("data"), json::parse(service_payload(pushed())));
  Payload payload = payload_for(pushed(), "cloudevents", "myregistry");
  EXPECT_EQ(payload.content_type, "application/cloudevents+json; charset=utf-8");
  EXPECT_EQ(payload_for(pushed(), "default", "r").content_type, "application/json");
}

TEST(Payload, SignatureIsHmacSha256OfTimeAndBody) {
  // RFC 4231 test case 2 key and data, with the "<t>." prefix in the data: computed with
  // `printf '1700000000.what do ya want for nothing?' | openssl dgst -sha256 -hmac Jefe`.
  EXPECT_EQ(signature("Jefe", 1'700'000'000, "what do ya want for nothing?"),
            "t=1700000000,v1=" +
                std::string("1cdd0650c8be1cb0974b1788d458b1e781206cfef59b85faafc582d2e182c57e"));
}

}  // namespace
}  // namespace berth::events
