// Content lifecycle over HTTP against a running berthd: the soft delete and retention
// policies, soft delete -> list -> restore with identical digests, purge (the dry run lists
// what the real run deletes), purge schedules, and quotas refusing a /v2/ push with 403 DENIED
// that names the quota and the usage.

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "mgmt/mgmt_test_support.h"

namespace berth::testing {
namespace {

namespace json = boost::json;

class Lifecycle : public MgmtApiTest {
 protected:
  void SetUp() override {
    MgmtApiTest::SetUp();
    ASSERT_EQ(create("lifecycle").status, 201);
  }

  static std::string at(std::string_view rest) {
    return fmt::format("/mgmt/v1/registries/lifecycle{}", rest);
  }
  json::object ok(const HttpResponse& r, unsigned status = 200) {
    EXPECT_EQ(r.status, status) << r.body;
    json::value value = parse_json(r.body);
    return value.is_object() ? value.as_object() : json::object{};
  }
  std::vector<std::string> strings(const json::value& array) {
    std::vector<std::string> out;
    for (const auto& item : array.as_array()) out.emplace_back(item.as_string());
    return out;
  }
  std::vector<std::string> tags(std::string_view repository) {
    auto r = v2("lifecycle", "GET", fmt::format("/v2/{}/tags/list", repository));
    if (r.status != 200) return {};
    json::value list = parse_json(r.body).as_object().at("tags");
    return list.is_array() ? strings(list) : std::vector<std::string>{};
  }
};

TEST_F(Lifecycle, PoliciesShowTheirDefaultsAndRefuseBadValues) {
  auto soft = ok(get(at("/policies/soft-delete")));
  EXPECT_EQ(soft.at("status"), "disabled");
  EXPECT_EQ(soft.at("days"), 7);
  EXPECT_TRUE(soft.at("lastUpdatedTime").is_null());
  soft = ok(call("PATCH", at("/policies/soft-delete"), R"({"status":"enabled","days":30})"));
  EXPECT_EQ(soft.at("status"), "enabled");
  EXPECT_EQ(soft.at("days"), 30);
  EXPECT_TRUE(soft.at("lastUpdatedTime").is_string());
  for (const char* bad : {R"({"days":0})", R"({"days":91})", R"({"status":"on"})", R"({})",
                          R"({"days":"7"})", R"({"extra":1})", "not json"}) {
    auto r = call("PATCH", at("/policies/soft-delete"), bad);
    EXPECT_EQ(r.status, 400) << bad << ": " << r.body;
    EXPECT_EQ(error_of(r).code, "InvalidRequest") << bad;
  }
  auto retention = ok(get(at("/policies/retention")));
  EXPECT_EQ(retention.at("type"), "UntaggedManifests");
  EXPECT_EQ(retention.at("status"), "disabled");
  // Retention is a Premium feature.
  auto refused = call("PATCH", at("/policies/retention"), R"({"status":"enabled"})");
  EXPECT_EQ(refused.status, 400) << refused.body;
  EXPECT_NE(error_of(refused).message.find("Premium"), std::string::npos) << refused.body;
  ASSERT_EQ(call("PATCH", "/mgmt/v1/registries/lifecycle", R"({"tier":"Premium"})").status, 200);
  EXPECT_EQ(call("POST", at("/policies/retention/run"), R"({"dryRun":true})").status, 400);
  retention = ok(call("PATCH", at("/policies/retention"), R"({"status":"enabled","days":0})"));
  EXPECT_EQ(retention.at("days"), 0);
  // Applied now: the dry run lists what the real run deletes.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // untagged after enabling
  std::string digest = push_image("lifecycle", "app", "one", "v1");
  push_image("lifecycle", "app", "two", "v1");  // v1 moves off the first
  auto dry = ok(call("POST", at("/policies/retention/run"), R"({"dryRun":true})"));
  ASSERT_EQ(dry.at("manifests").as_array().size(), 1u) << json::serialize(dry);
  EXPECT_EQ(dry.at("manifests").as_array()[0].as_object().at("digest").as_string(), digest);
  EXPECT_EQ(v2("lifecycle", "HEAD", "/v2/app/manifests/" + digest).status, 200);
  auto real = ok(call("POST", at("/policies/retention/run"), R"({})"));
  EXPECT_EQ(real.at("manifests"), dry.at("manifests"));
  EXPECT_EQ(v2("lifecycle", "HEAD", "/v2/app/manifests/" + digest).status, 404);
  EXPECT_EQ(get("/mgmt/v1/registries/nosuch/policies/retention").status, 404);
}

TEST_F(Lifecycle, ADeletedRepositoryIsListedAndRestoredWithIdenticalDigestsAndTags) {
  ok(call("PATCH", at("/policies/soft-delete"), R"({"status":"enabled"})"));
  std::string one = push_image("lifecycle", "team/app", "one", "v1");
  std::string two = push_image("lifecycle", "team/app", "two", "v2");
  std::string manifest_one = v2("lifecycle", "GET", "/v2/team/app/manifests/v1").body;
  ASSERT_EQ(v2("lifecycle", "DELETE", "/v2/team/app/manifests/" + one).status, 202);
  ASSERT_EQ(call("DELETE", at("/repositories/team/app")).status, 204);
  EXPECT_EQ(v2("lifecycle", "GET", "/v2/team/app/manifests/v2").status, 404);

  auto repositories = ok(get(at("/deleted-repositories")));
  EXPECT_EQ(strings(repositories.at("repositories")), std::vector<std::string>{"team/app"});
  auto deleted = ok(get(at("/repositories/team/app/deleted-manifests")));
  ASSERT_EQ(deleted.at("manifests").as_array().size(), 2u);
  auto paged = call("GET", at("/repositories/team/app/deleted-manifests?n=1"));
  EXPECT_EQ(ok(paged).at("manifests").as_array().size(), 1u);
  EXPECT_NE(paged.header("link").find("rel=\"next\""), std::string::npos);
  for (const auto& item : deleted.at("manifests").as_array()) {
    const auto& manifest = item.as_object();
    EXPECT_TRUE(manifest.at("deletedTime").is_string());
    EXPECT_TRUE(manifest.at("expiryTime").is_string());
    EXPECT_EQ(manifest.at("architecture"), "amd64");
  }
  auto deleted_tags = ok(get(at("/repositories/team/app/deleted-tags?tag=v1")));
  ASSERT_EQ(deleted_tags.at("tags").as_array().size(), 1u);
  EXPECT_EQ(deleted_tags.at("tags").as_array()[0].as_object().at("digest").as_string(), one);
  auto usage = ok(get(at("/usage")));
  EXPECT_GT(usage.at("storage").as_object().at("softDeletedBytes").as_int64(), 0);

  auto restored = ok(call("POST", at("/repositories/team/app/restore"), R"({"tag":"v1"})"));
  EXPECT_EQ(strings(restored.at("manifests")), std::vector<std::string>{one});
  EXPECT_EQ(strings(restored.at("tags")), std::vector<std::string>{"v1"});
  restored = ok(
      call("POST", at("/repositories/team/app/restore"), fmt::format(R"({{"digest":"{}"}})", two)));
  EXPECT_EQ(strings(restored.at("tags")), std::vector<std::string>{"v2"});
  EXPECT_EQ(tags("team/app"), (std::vector<std::string>{"v1", "v2"}));
  auto pulled = v2("lifecycle", "GET", "/v2/team/app/manifests/v1");
  EXPECT_EQ(pulled.body, manifest_one);
  EXPECT_EQ(pulled.header("docker-content-digest"), one);

  auto again = call("POST", at("/repositories/team/app/restore"), R"({"tag":"v1"})");
  EXPECT_EQ(again.status, 404) << again.body;
  EXPECT_EQ(error_of(again).code, "ManifestNotFound");
  for (const char* bad : {R"({})", R"({"tag":"v1","digest":"sha256:00"})",
                          R"({"digest":"sha256:zz"})", R"({"tag":"bad tag"})"}) {
    EXPECT_EQ(call("POST", at("/repositories/team/app/restore"), bad).status, 400) << bad;
  }
}

TEST_F(Lifecycle, PurgeDryRunEqualsTheRealRun) {
  for (const char* tag : {"dev-1", "dev-2", "v1"}) push_image("lifecycle", "app", tag, tag);
  push_image("lifecycle", "lib/keep", "keep", "dev-1");
  const char* body = R"({"filters":["^app$:^dev-"],"ago":"0","untagged":true,"dryRun":true})";
  auto dry = ok(call("POST", at("/purge"), body));
  EXPECT_EQ(dry.at("dryRun"), true);
  EXPECT_EQ(dry.at("tags").as_array().size(), 2u);
  EXPECT_EQ(dry.at("manifests").as_array().size(), 2u);
  EXPECT_EQ(tags("app").size(), 3u);
  auto real =
      ok(call("POST", at("/purge"), R"({"filters":["^app$:^dev-"],"ago":"0","untagged":true})"));
  EXPECT_EQ(real.at("dryRun"), false);
  EXPECT_EQ(real.at("tags"), dry.at("tags"));
  EXPECT_EQ(real.at("manifests"), dry.at("manifests"));
  EXPECT_TRUE(real.at("failures").as_array().empty());
  EXPECT_EQ(tags("app"), std::vector<std::string>{"v1"});
  EXPECT_EQ(tags("lib/keep"), std::vector<std::string>{"dev-1"});
  for (const char* bad :
       {R"({"filters":["app"],"ago":"0"})", R"({"filters":["app:("],"ago":"0"})",
        R"({"filters":["app:.*"],"ago":"1x"})", R"({"filters":[],"ago":"0"})",
        R"({"filters":["app:.*"]})", R"({"filters":["app:.*"],"ago":"0","keep":-1})"}) {
    auto r = call("POST", at("/purge"), bad);
    EXPECT_EQ(r.status, 400) << bad << ": " << r.body;
  }
}

TEST_F(Lifecycle, PurgeSchedulesAreSavedListedAndDeleted) {
  auto saved = ok(call("PUT", at("/purge-schedules/nightly"),
                       R"({"schedule":"0 3 * * *","filters":["app:.*"],"ago":"30d","keep":3})"));
  EXPECT_EQ(saved.at("ago"), "30d");
  EXPECT_EQ(saved.at("keep"), 3);
  EXPECT_TRUE(saved.at("lastRunTime").is_null());
  auto listed = ok(get(at("/purge-schedules")));
  ASSERT_EQ(listed.at("schedules").as_array().size(), 1u);
  EXPECT_EQ(call("PUT", at("/purge-schedules/bad"),
                 R"({"schedule":"0 3 * *","filters":["app:.*"],"ago":"30d"})")
                .status,
            400);
  EXPECT_EQ(call("PUT", at("/purge-schedules/a%20b"),
                 R"({"schedule":"0 3 * * *","filters":["app:.*"],"ago":"30d"})")
                .status,
            400);
  EXPECT_EQ(call("DELETE", at("/purge-schedules/nightly")).status, 204);
  auto gone = call("DELETE", at("/purge-schedules/nightly"));
  EXPECT_EQ(gone.status, 404);
  EXPECT_EQ(error_of(gone).code, "NotFound");
}

TEST_F(Lifecycle, AQuotaRefusesThePushThatWouldPassItWithDenied) {
  push_image("lifecycle", "app", "first", "v1");
  auto quota = ok(get(at("/quota")));
  EXPECT_TRUE(quota.at("quotaBytes").is_null());
  EXPECT_EQ(quota.at("effectiveQuotaBytes"), quota.at("includedBytes"));
  const std::int64_t used = quota.at("usedBytes").as_int64();
  ASSERT_GT(used, 0);
  quota = ok(call("PATCH", at("/quota"), fmt::format(R"({{"quotaBytes":{}}})", used + 10)));
  EXPECT_EQ(quota.at("effectiveQuotaBytes").as_int64(), used + 10);

  std::string blob(100, 'x');
  std::string digest = oci::digest_of(blob).str();
  auto refused =
      v2("lifecycle", "POST", fmt::format("/v2/app/blobs/uploads/?digest={}", digest), blob);
  EXPECT_EQ(refused.status, 403) << refused.body;
  EXPECT_NE(refused.body.find(R"("code":"DENIED")"), std::string::npos) << refused.body;
  EXPECT_NE(refused.body.find(
                fmt::format("storage quota is {} bytes and {} bytes are used", used + 10, used)),
            std::string::npos)
      << refused.body;
  EXPECT_EQ(v2("lifecycle", "HEAD", "/v2/app/blobs/" + digest).status, 404);

  // A repository quota, beyond the hosted service's.
  ok(call("PATCH", at("/quota"), R"({"quotaBytes":null})"));
  auto repository = ok(call("PATCH", at("/repositories/app/quota"), R"({"quotaBytes":1})"));
  EXPECT_EQ(repository.at("quotaBytes"), 1);
  EXPECT_EQ(repository.at("usedBytes").as_int64(), used);
  refused = v2("lifecycle", "POST", fmt::format("/v2/app/blobs/uploads/?digest={}", digest), blob);
  EXPECT_EQ(refused.status, 403) << refused.body;
  EXPECT_NE(refused.body.find("repository's storage quota is 1 bytes"), std::string::npos)
      << refused.body;
  EXPECT_EQ(call("PATCH", at("/repositories/nosuch/quota"), R"({"quotaBytes":1})").status, 404);
  EXPECT_EQ(call("PATCH", at("/quota"), R"({"quotaBytes":-1})").status, 400);
  EXPECT_EQ(call("PATCH", at("/quota"), R"({})").status, 400);
}

}  // namespace
}  // namespace berth::testing
