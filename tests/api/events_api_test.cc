// Events from the content paths, read back through the audit API: every change over /v2/ and
// the management API appends its event (chart events for Helm charts), a tag delete is an
// untag, a GET is a pull and a HEAD is not, and a change that did not happen appends nothing.

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <thread>

#include "api_test_support.h"

namespace berth::testing {
namespace {

namespace json = boost::json;

class EventsApi : public ApiTest {
 protected:
  // The audit's events, newest first (waits up to 5 s for `count` of them: pulls are written in
  // batches).
  json::array audit(std::size_t count, std::string_view query = "") {
    json::array events;
    for (int i = 0; i < 50; ++i) {
      auto r = client().get("/mgmt/v1/registries/default/audit/events" + std::string(query));
      EXPECT_EQ(r.status, 200) << r.body;
      events = json::parse(r.body).at("events").as_array();
      if (events.size() >= count) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return events;
  }
  static std::string field(const json::value& event, std::string_view name) {
    const auto& value = event.at(name);
    return value.is_string() ? std::string(value.as_string()) : json::serialize(value);
  }
};

TEST_F(EventsApi, EveryContentChangeAppendsItsEvent) {
  std::string manifest = make_image("team/app", "one");
  std::string digest = sha256(manifest);
  ASSERT_EQ(put_manifest("team/app", "v1", manifest).status, 201);
  ASSERT_EQ(client().head("/v2/team/app/manifests/v1").status, 200);
  ASSERT_EQ(client().get("/v2/team/app/manifests/v1").status, 200);
  ASSERT_EQ(client().request("DELETE", "/v2/team/app/manifests/v1").status, 202);
  ASSERT_EQ(client().request("DELETE", "/v2/team/app/manifests/v1").status, 404);
  ASSERT_EQ(client().request("DELETE", "/v2/team/app/manifests/" + digest).status, 202);
  ASSERT_EQ(client().request("DELETE", "/mgmt/v1/registries/default/repositories/team/app").status,
            204);

  // A pull is written in a batch (at least every second), after the changes that followed it.
  json::array pulls = audit(1, "?action=pull");
  ASSERT_EQ(pulls.size(), 1u) << "one GET; the HEAD is not a pull";
  EXPECT_EQ(field(pulls[0], "tag"), "v1");
  EXPECT_EQ(field(pulls[0], "digest"), digest);
  json::array events = audit(5);
  ASSERT_EQ(events.size(), 5u) << json::serialize(events);
  json::array changes;
  for (const auto& event : events) {
    if (field(event, "action") != "pull") changes.push_back(event);
  }
  // Newest first: the repository delete, the manifest delete, the untag, the push.
  ASSERT_EQ(changes.size(), 4u);
  EXPECT_EQ(field(changes[0], "action"), "delete");
  EXPECT_EQ(field(changes[0], "digest"), "");
  EXPECT_EQ(field(changes[0], "repository"), "team/app");
  EXPECT_EQ(field(changes[1], "action"), "delete");
  EXPECT_EQ(field(changes[1], "digest"), digest);
  EXPECT_EQ(field(changes[2], "action"), "untag");
  EXPECT_EQ(field(changes[2], "tag"), "v1");
  EXPECT_EQ(field(changes[2], "digest"), digest);
  EXPECT_EQ(field(changes[3], "action"), "push");
  EXPECT_EQ(field(changes[3], "digest"), digest);
  EXPECT_EQ(field(changes[3], "size"), std::to_string(manifest.size()));
  EXPECT_EQ(field(changes[3], "identityKind"), "deploymentAdmin");
  EXPECT_EQ(field(changes[3], "clientAddress"), "127.0.0.1");
  EXPECT_FALSE(field(changes[3], "requestId").empty());
}

TEST_F(EventsApi, HelmChartsRaiseChartEvents) {
  std::string config = R"({"name":"wordpress","version":"5.4.0"})";
  std::string layer = "chart-tarball";
  std::string config_digest = push_blob("charts/wordpress", config);
  std::string layer_digest = push_blob("charts/wordpress", layer);
  std::string manifest = fmt::format(
      R"({{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[{}]}})",
      descriptor_json({"application/vnd.cncf.helm.config.v1+json", config_digest, config.size()}),
      descriptor_json({"application/vnd.cncf.helm.chart.content.v1.tar+gzip", layer_digest,
                       layer.size()}));
  ASSERT_EQ(put_manifest("charts/wordpress", "5.4.0", manifest).status, 201);
  ASSERT_EQ(
      client().request("DELETE", "/v2/charts/wordpress/manifests/" + sha256(manifest)).status,
      202);
  json::array events = audit(2);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(field(events[0], "action"), "chart_delete");
  EXPECT_EQ(field(events[1], "action"), "chart_push");
  EXPECT_EQ(field(events[1], "tag"), "5.4.0");
}

TEST_F(EventsApi, AuditQueriesFilterAndPage) {
  for (int i = 0; i < 3; ++i) {
    std::string tag("t");
    tag += std::to_string(i);
    ASSERT_EQ(put_manifest("app", tag, make_image("app", tag)).status, 201);
  }
  ASSERT_EQ(put_manifest("other", "x", make_image("other", "x")).status, 201);
  EXPECT_EQ(audit(3, "?repository=app").size(), 3u);
  EXPECT_EQ(audit(4).size(), 4u);
  json::array page = audit(2, "?repository=app&top=2");
  ASSERT_EQ(page.size(), 2u);
  auto r = client().get("/mgmt/v1/registries/default/audit/events?repository=app&top=2");
  auto next = json::parse(r.body).at("next").as_string();
  json::array rest = audit(1, "?repository=app&top=2&before=" + std::string(next));
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(field(rest[0], "tag"), "t0");
  EXPECT_EQ(client().get("/mgmt/v1/registries/default/audit/events?action=bogus").status, 400);
  EXPECT_EQ(client().get("/mgmt/v1/registries/default/audit/events?top=0").status, 400);
  EXPECT_EQ(client().get("/mgmt/v1/registries/default/audit/events?since=yesterday").status, 400);
  EXPECT_EQ(client().get("/mgmt/v1/registries/nosuchregistry/audit/events").status, 404);
}

}  // namespace
}  // namespace berth::testing
