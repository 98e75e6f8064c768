// Changeable attributes (locks): changed through the management API, enforced on /v2/ and on
// the management API's content routes alike (both go through registry::Registry).

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <string>
#include <vector>

#include "mgmt/mgmt_test_support.h"

namespace berth::testing {
namespace {

namespace json = boost::json;

constexpr std::string_view kManifestType = "application/vnd.oci.image.manifest.v1+json";

class Locks : public MgmtApiTest {
 protected:
  void SetUp() override {
    MgmtApiTest::SetUp();
    ASSERT_EQ(create("locks").status, 201);
    one_ = push_image("locks", "team/app", "one", "v1");
    one_content_ = v2("locks", "GET", "/v2/team/app/manifests/v1").body;
  }

  static std::string mgmt(std::string_view rest) {
    return fmt::format("/mgmt/v1/registries/locks/repositories/team/app{}", rest);
  }
  HttpResponse patch(std::string_view rest, std::string_view body) {
    return call("PATCH", mgmt(rest), body);
  }
  HttpResponse lock(std::string_view rest, std::string_view attribute, bool enabled = false) {
    auto r = patch(rest, fmt::format(R"({{"{}":{}}})", attribute, enabled ? "true" : "false"));
    EXPECT_EQ(r.status, 200) << r.body;
    return r;
  }
  HttpResponse get_v2(std::string_view path) { return v2("locks", "GET", path); }
  HttpResponse put_v2(std::string_view reference, std::string_view manifest) {
    return v2("locks", "PUT", fmt::format("/v2/team/app/manifests/{}", reference), manifest,
              {fmt::format("Content-Type: {}", kManifestType)});
  }
  // Another image in team/app (tagged "other"), whose manifest is returned to push elsewhere.
  std::string other_manifest() {
    std::string digest = push_image("locks", "team/app", "two", "other");
    return v2("locks", "GET", "/v2/team/app/manifests/" + digest).body;
  }
  // The OCI error of a /v2/ answer: 403 DENIED whose message names the lock.
  static void expect_denied(const HttpResponse& r, std::string_view lock_message) {
    EXPECT_EQ(r.status, 403) << r.body;
    EXPECT_NE(r.body.find(R"("code":"DENIED")"), std::string::npos) << r.body;
    EXPECT_NE(r.body.find(lock_message), std::string::npos) << r.body;
  }
  static void expect_locked(const HttpResponse& r, std::string_view lock_message) {
    EXPECT_EQ(r.status, 403) << r.body;
    EXPECT_EQ(error_of(r).code, "Locked") << r.body;
    EXPECT_NE(error_of(r).message.find(lock_message), std::string::npos) << r.body;
  }
  static json::object attributes_of(const HttpResponse& r) {
    return parse_json(r.body).as_object().at("changeableAttributes").as_object();
  }
  std::vector<std::string> names_in(std::string_view path, std::string_view list,
                                    std::string_view field) {
    std::vector<std::string> names;
    auto r = get(path);
    EXPECT_EQ(r.status, 200) << r.body;
    json::value answer = parse_json(r.body);
    for (const auto& item : answer.as_object().at(list).as_array()) {
      names.emplace_back(item.as_object().at(field).as_string());
    }
    return names;
  }

  std::string one_;
  std::string one_content_;
};

// ------------------------------------------------------------------ the PATCH routes

TEST_F(Locks, PatchChangesOnlyTheAttributesGivenAndAnswersTheItem) {
  auto repository = patch("", R"({"writeEnabled":false,"listEnabled":false})");
  ASSERT_EQ(repository.status, 200) << repository.body;
  EXPECT_EQ(parse_json(repository.body).as_object().at("name").as_string(), "team/app");
  EXPECT_EQ(json::value(attributes_of(repository)),
            json::parse(R"({"deleteEnabled":true,"writeEnabled":false,"readEnabled":true,)"
                        R"("listEnabled":false})"));

  auto tag = patch("/tags/v1", R"({"deleteEnabled":false})");
  ASSERT_EQ(tag.status, 200) << tag.body;
  EXPECT_EQ(parse_json(tag.body).as_object().at("digest").as_string(), one_);
  EXPECT_FALSE(attributes_of(tag).at("deleteEnabled").as_bool());
  EXPECT_TRUE(attributes_of(tag).at("writeEnabled").as_bool());

  auto manifest = patch("/manifests/" + one_, R"({"readEnabled":false})");
  ASSERT_EQ(manifest.status, 200) << manifest.body;
  EXPECT_FALSE(attributes_of(manifest).at("readEnabled").as_bool());
  EXPECT_TRUE(attributes_of(manifest).at("deleteEnabled").as_bool());
  EXPECT_FALSE(parse_json(manifest.body).as_object().at("lastUpdateTime").as_string().empty());

  // The views show them.
  EXPECT_FALSE(attributes_of(get(mgmt(""))).at("writeEnabled").as_bool());
  EXPECT_FALSE(attributes_of(get(mgmt("/manifests/" + one_))).at("readEnabled").as_bool());
}

TEST_F(Locks, PatchRefusesBadBodiesAndUnknownItems) {
  for (std::string rest : {std::string(), std::string("/tags/v1"), "/manifests/" + one_}) {
    auto unknown = patch(rest, R"({"writeEnabled":false,"quarantine":true})");
    EXPECT_EQ(unknown.status, 400) << rest;
    EXPECT_EQ(error_of(unknown).message, "unknown field 'quarantine'") << rest;
    auto not_boolean = patch(rest, R"({"readEnabled":"false"})");
    EXPECT_EQ(not_boolean.status, 400) << rest;
    EXPECT_EQ(error_of(not_boolean).message, "field 'readEnabled' must be a boolean") << rest;
    EXPECT_EQ(patch(rest, "{}").status, 400) << rest;
    EXPECT_EQ(patch(rest, "[true]").status, 400) << rest;
    EXPECT_EQ(patch(rest, "{").status, 400) << rest;
  }
  // Nothing was changed by the refused requests.
  EXPECT_TRUE(attributes_of(get(mgmt(""))).at("writeEnabled").as_bool());

  auto no_tag = patch("/tags/v9", R"({"writeEnabled":false})");
  EXPECT_EQ(no_tag.status, 404);
  EXPECT_EQ(error_of(no_tag).code, "TagNotFound");
  auto no_manifest =
      patch("/manifests/sha256:" + std::string(64, '0'), R"({"writeEnabled":false})");
  EXPECT_EQ(no_manifest.status, 404);
  EXPECT_EQ(error_of(no_manifest).code, "ManifestNotFound");
  auto no_repository = call("PATCH", "/mgmt/v1/registries/locks/repositories/team/none",
                            R"({"writeEnabled":false})");
  EXPECT_EQ(no_repository.status, 404);
  EXPECT_EQ(error_of(no_repository).code, "RepositoryNotFound");
  EXPECT_EQ(patch("/tags/.bad", R"({"writeEnabled":false})").status, 400);
  EXPECT_EQ(patch("/manifests/sha256:abc", R"({"writeEnabled":false})").status, 400);
}

// ------------------------------------------------------------------ writeEnabled

TEST_F(Locks, AWriteLockedTagCannotBeMovedButTheSameDigestMayBePushedAgain) {
  std::string other = other_manifest();
  lock("/tags/v1", "writeEnabled");
  expect_denied(put_v2("v1", other),
                "tag v1 of repository team/app is locked: writeEnabled is false");
  EXPECT_EQ(get_v2("/v2/team/app/manifests/v1").header("Docker-Content-Digest"), one_);
  // Idempotent re-push.
  EXPECT_EQ(put_v2("v1", one_content_).status, 201);
  // Other tags are free.
  EXPECT_EQ(put_v2("v2", other).status, 201);
  // Lifting the lock lets the tag move.
  lock("/tags/v1", "writeEnabled", true);
  EXPECT_EQ(put_v2("v1", other).status, 201);
}

TEST_F(Locks, AWriteLockedManifestKeepsItsTagsButMayBeTaggedAgain) {
  std::string other = other_manifest();
  lock("/manifests/" + one_, "writeEnabled");
  expect_denied(put_v2("v1", other), "manifest " + one_ +
                                         " of repository team/app, which tag v1 points at, is "
                                         "locked: writeEnabled is false");
  // Re-tagging writes the new tag, not the manifest; pushing the same bytes changes nothing.
  EXPECT_EQ(put_v2("stable", one_content_).status, 201);
  EXPECT_EQ(put_v2(one_, one_content_).status, 201);
  EXPECT_EQ(get_v2("/v2/team/app/manifests/v1").header("Docker-Content-Digest"), one_);
}

TEST_F(Locks, AWriteLockedRepositoryTakesNoManifestsBlobsOrMounts) {
  // An upload started before the lock.
  auto started = v2("locks", "POST", "/v2/team/app/blobs/uploads/");
  ASSERT_EQ(started.status, 202);
  std::string location = started.header("Location");
  std::string upload_path = location.substr(location.find("/v2/"));
  lock("", "writeEnabled");
  const std::string message = "repository team/app is locked: writeEnabled is false";

  expect_denied(put_v2("v2", one_content_), message);
  expect_denied(v2("locks", "POST", "/v2/team/app/blobs/uploads/"), message);
  std::string blob = "new blob";
  expect_denied(v2("locks", "POST",
                   "/v2/team/app/blobs/uploads/?digest=" + oci::digest_of(blob).str(), blob),
                message);
  std::string scratch_blob = "scratch blob";
  std::string scratch_digest = push_blob("locks", "team/scratch", scratch_blob);
  expect_denied(v2("locks", "POST",
                   "/v2/team/app/blobs/uploads/?mount=" + scratch_digest + "&from=team/scratch"),
                message);
  expect_denied(v2("locks", "PUT",
                   upload_path + (upload_path.find('?') == std::string::npos ? "?" : "&") +
                       "digest=" + oci::digest_of(blob).str(),
                   blob),
                message);
  // Pulls go on.
  EXPECT_EQ(get_v2("/v2/team/app/manifests/v1").status, 200);

  lock("", "writeEnabled", true);
  EXPECT_EQ(put_v2("v2", one_content_).status, 201);
}

// ------------------------------------------------------------------ deleteEnabled

TEST_F(Locks, ADeleteLockedTagCannotBeUntaggedNorItsManifestDeleted) {
  lock("/tags/v1", "deleteEnabled");
  const std::string message = "tag v1 of repository team/app is locked: deleteEnabled is false";
  expect_denied(v2("locks", "DELETE", "/v2/team/app/manifests/v1"), message);
  expect_denied(v2("locks", "DELETE", "/v2/team/app/manifests/" + one_), message);
  expect_locked(call("DELETE", mgmt("/tags/v1")), message);
  expect_locked(call("DELETE", mgmt("/manifests/" + one_)), message);
  expect_locked(call("DELETE", mgmt("")), message);
  EXPECT_EQ(get_v2("/v2/team/app/manifests/v1").status, 200);

  lock("/tags/v1", "deleteEnabled", true);
  EXPECT_EQ(call("DELETE", mgmt("/tags/v1")).status, 204);
}

TEST_F(Locks, ADeleteLockedManifestOrRepositoryCannotBeDeleted) {
  lock("/manifests/" + one_, "deleteEnabled");
  const std::string manifest_message =
      "manifest " + one_ + " of repository team/app is locked: deleteEnabled is false";
  expect_denied(v2("locks", "DELETE", "/v2/team/app/manifests/" + one_), manifest_message);
  expect_locked(call("DELETE", mgmt("")), manifest_message);
  // Its tags may still go: an untag is the tag's delete.
  EXPECT_EQ(v2("locks", "DELETE", "/v2/team/app/manifests/v1").status, 202);
  lock("/manifests/" + one_, "deleteEnabled", true);

  lock("", "deleteEnabled");
  expect_locked(call("DELETE", mgmt("")),
                "repository team/app is locked: deleteEnabled is false");
  // What is in it may be deleted.
  EXPECT_EQ(v2("locks", "DELETE", "/v2/team/app/manifests/" + one_).status, 202);
  lock("", "deleteEnabled", true);
  EXPECT_EQ(call("DELETE", mgmt("")).status, 204);
}

// ------------------------------------------------------------------ readEnabled

TEST_F(Locks, AReadLockedTagCannotBePulledByThatTag) {
  lock("/tags/v1", "readEnabled");
  const std::string message = "tag v1 of repository team/app is locked: readEnabled is false";
  expect_denied(get_v2("/v2/team/app/manifests/v1"), message);
  EXPECT_EQ(v2("locks", "HEAD", "/v2/team/app/manifests/v1").status, 403);
  EXPECT_EQ(get_v2("/v2/team/app/manifests/" + one_).status, 200);
}

TEST_F(Locks, AReadLockedManifestCannotBePulledByDigestOrAnyTag) {
  lock("/manifests/" + one_, "readEnabled");
  const std::string message =
      "manifest " + one_ + " of repository team/app is locked: readEnabled is false";
  expect_denied(get_v2("/v2/team/app/manifests/" + one_), message);
  expect_denied(get_v2("/v2/team/app/manifests/v1"), message);
  EXPECT_EQ(v2("locks", "HEAD", "/v2/team/app/manifests/v1").status, 403);
  // The management view still shows it.
  EXPECT_EQ(get(mgmt("/manifests/" + one_)).status, 200);
}

TEST_F(Locks, AReadLockedRepositoryServesNeitherManifestsNorBlobs) {
  std::string config_digest(parse_json(get_v2("/v2/team/app/manifests/v1").body)
                                .as_object()
                                .at("config")
                                .as_object()
                                .at("digest")
                                .as_string());
  lock("", "readEnabled");
  const std::string message = "repository team/app is locked: readEnabled is false";
  expect_denied(get_v2("/v2/team/app/manifests/v1"), message);
  expect_denied(get_v2("/v2/team/app/blobs/" + config_digest), message);
  EXPECT_EQ(v2("locks", "HEAD", "/v2/team/app/blobs/" + config_digest).status, 403);
  // A mount from it finds nothing to take: the client is sent to upload instead.
  auto mount = v2("locks", "POST",
                  "/v2/team/other/blobs/uploads/?mount=" + config_digest + "&from=team/app");
  EXPECT_EQ(mount.status, 202) << mount.body;
}

// ------------------------------------------------------------------ listEnabled

TEST_F(Locks, ListDisabledItemsAreLeftOutOfListingsButStillServed) {
  push_image("locks", "team/app", "two", "v2");
  std::string two = push_image("locks", "team/app", "three", "v3");
  push_image("locks", "team/web", "web", "v1");
  lock("/tags/v2", "listEnabled");
  lock("/manifests/" + two, "listEnabled");
  ASSERT_EQ(call("PATCH", "/mgmt/v1/registries/locks/repositories/team/web",
                 R"({"listEnabled":false})")
                .status,
            200);

  auto tags = get_v2("/v2/team/app/tags/list");
  EXPECT_EQ(parse_json(tags.body).as_object().at("tags"), json::parse(R"(["v1","v3"])"));
  auto page = get_v2("/v2/team/app/tags/list?n=1&last=v1");
  EXPECT_EQ(parse_json(page.body).as_object().at("tags"), json::parse(R"(["v3"])"));
  auto catalog = get_v2("/v2/_catalog");
  EXPECT_EQ(parse_json(catalog.body).as_object().at("repositories"),
            json::parse(R"(["team/app"])"));

  EXPECT_EQ(names_in(mgmt("/tags"), "tags", "name"), (std::vector<std::string>{"v1", "v3"}));
  std::vector<std::string> manifests = names_in(mgmt("/manifests"), "manifests", "digest");
  EXPECT_EQ(manifests.size(), 2u);
  EXPECT_EQ(std::find(manifests.begin(), manifests.end(), two), manifests.end());
  EXPECT_EQ(names_in("/mgmt/v1/registries/locks/repositories", "repositories", "name"),
            std::vector<std::string>{"team/app"});

  // Hidden is not gone.
  EXPECT_EQ(get_v2("/v2/team/app/manifests/v2").status, 200);
  EXPECT_EQ(get_v2("/v2/team/web/manifests/v1").status, 200);
  EXPECT_EQ(get("/mgmt/v1/registries/locks/repositories/team/web").status, 200);
}

}  // namespace
}  // namespace berth::testing
