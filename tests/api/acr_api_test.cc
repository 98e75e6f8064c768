// /acr/v1 through the real HTTP stack: the documented shapes (compared field by field with the
// examples of docs/acr-api.md), the orders and their paging, changeable attributes and the
// locks they set on /v2/, and the errors. Who may call each route is the authorization
// matrix's (authorization_matrix_test.cc).

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "api/api_test_support.h"
#include "auth/encoding.h"

namespace berth::testing {
namespace {

namespace json = boost::json;

// The examples of docs/acr-api.md: every answer has exactly these fields, of these kinds.
constexpr const char* kRepositoryExample = R"({
  "registry": "default.registry.local", "imageName": "team/app",
  "createdTime": "2026-12-02T15:04:05.0000000Z", "lastUpdateTime": "2026-12-02T15:04:05.0000000Z",
  "manifestCount": 2, "tagCount": 2,
  "changeableAttributes": {"deleteEnabled": true, "writeEnabled": true, "readEnabled": true,
                           "listEnabled": true}})";
constexpr const char* kTagExample = R"({
  "name": "v1", "digest": "sha256:0000000000000000000000000000000000000000000000000000000000000000",
  "createdTime": "2026-12-02T15:04:05.0000000Z", "lastUpdateTime": "2026-12-02T15:04:05.0000000Z",
  "signed": false,
  "changeableAttributes": {"deleteEnabled": true, "writeEnabled": true, "readEnabled": true,
                           "listEnabled": true}})";
constexpr const char* kManifestExample = R"({
  "digest": "sha256:0000000000000000000000000000000000000000000000000000000000000000",
  "imageSize": 1024, "createdTime": "2026-12-02T15:04:05.0000000Z",
  "lastUpdateTime": "2026-12-02T15:04:05.0000000Z", "architecture": "amd64", "os": "linux",
  "mediaType": "application/vnd.oci.image.manifest.v1+json", "tags": ["v1"],
  "changeableAttributes": {"deleteEnabled": true, "writeEnabled": true, "readEnabled": true,
                           "listEnabled": true}})";

json::value parse(const HttpResponse& r) {
  boost::system::error_code ec;
  auto value = json::parse(r.body, ec);
  if (ec) ADD_FAILURE() << "not JSON: " << r.body;
  return value;
}

json::value parse(const char* text) { return json::parse(text); }

// Whether `actual` has the shape of `example`: the same fields (no more, no fewer), each of
// the same kind; arrays' items have the shape of the example's first item.
void expect_same_shape(const json::value& example, const json::value& actual,
                       const std::string& at = "$") {
  ASSERT_EQ(example.kind(), actual.kind()) << at << ": " << json::serialize(actual);
  if (example.is_object()) {
    const auto& want = example.as_object();
    const auto& got = actual.as_object();
    for (const auto& [key, value] : want) {
      std::string field = at;
      field += '.';
      field += std::string_view(key);
      ASSERT_TRUE(got.contains(key)) << field << " is missing in " << json::serialize(actual);
      expect_same_shape(value, got.at(key), field);
    }
    for (const auto& [key, value] : got) {
      EXPECT_TRUE(want.contains(key)) << at << '.' << std::string_view(key) << " is not documented";
    }
  } else if (example.is_array() && !example.as_array().empty()) {
    for (const auto& item : actual.as_array()) {
      expect_same_shape(example.as_array().front(), item, at + "[]");
    }
  }
}

// RFC 3339 UTC with seven fractional digits.
bool is_acr_time(const json::value& value) {
  if (!value.is_string()) return false;
  std::string_view text = value.as_string();
  return text.size() == 28 && text[10] == 'T' && text[19] == '.' &&
         text.substr(20) == "0000000Z";
}

std::string str(const json::value& v) { return std::string(v.as_string()); }

// The "last=...&n=...&orderby=..." of a Link header's next page ("" when there is none).
std::string next_target(const HttpResponse& r) {
  std::string link = r.header("link");
  if (link.empty()) return "";
  auto open = link.find('<');
  auto close = link.find('>');
  EXPECT_NE(open, std::string::npos);
  EXPECT_NE(link.find("rel=\"next\""), std::string::npos) << link;
  return link.substr(open + 1, close - open - 1);
}

class AcrApi : public ApiTest {
 protected:
  // team/app: tags a, b, c on three images; then, more than a second later, a moved to a fourth
  // image. Times have second resolution, so the first three may or may not share a second; but
  // by time, a is the latest tag and the fourth image the latest manifest.
  void push_fixture() {
    for (const std::string tag : {"a", "b", "c"}) {
      std::string manifest = make_image("team/app", tag);
      ASSERT_EQ(put_manifest("team/app", tag, manifest).status, 201);
      first_digests_.push_back(sha256(manifest));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    std::string moved = make_image("team/app", "a-moved");
    ASSERT_EQ(put_manifest("team/app", "a", moved).status, 201);
    moved_digest_ = sha256(moved);
  }

  // The keys of a listing ordered oldest first by (lastUpdateTime, key), the order timeasc
  // promises; timedesc is its reverse. Built from the times the API reports, so the test does
  // not depend on which pushes happened to fall in the same second.
  std::vector<std::string> by_time(const std::string& path, std::string_view items,
                                   std::string_view key) {
    auto r = client().get(path + "?n=100");
    EXPECT_EQ(r.status, 200) << r.body;
    std::vector<std::pair<std::string, std::string>> timed;
    json::value body = parse(r);
    for (const auto& item : body.at(items).as_array()) {
      EXPECT_TRUE(is_acr_time(item.at("lastUpdateTime"))) << json::serialize(item);
      timed.emplace_back(str(item.at("lastUpdateTime")), str(item.at(key)));
    }
    std::sort(timed.begin(), timed.end());
    std::vector<std::string> keys;
    for (auto& [time, name] : timed) keys.push_back(name);
    return keys;
  }

  HttpResponse patch(const std::string& path, std::string_view body) {
    return client().request("PATCH", path, body, {"Content-Type: application/json"});
  }

  // Every item of a listing, following the Link from page to page.
  std::vector<std::string> read_all(const std::string& path, std::string_view query,
                                    std::string_view items, std::string_view key) {
    std::vector<std::string> all;
    std::string target = path;
    target += '?';
    target += query;
    for (int pages = 0; pages < 20 && !target.empty(); ++pages) {
      auto r = client().get(target);
      EXPECT_EQ(r.status, 200) << target << ": " << r.body;
      if (r.status != 200) break;
      json::value body = parse(r);
      for (const auto& item : body.at(items).as_array()) {
        all.push_back(str(item.at(key)));
      }
      target = next_target(r);
      if (!target.empty()) {
        EXPECT_TRUE(target.starts_with(path + "?last=")) << target;
      }
    }
    EXPECT_TRUE(target.empty()) << "the listing never ended";
    return all;
  }

  std::vector<std::string> first_digests_;
  std::string moved_digest_;
};

TEST_F(AcrApi, ARepositoryAnswersInTheDocumentedShape) {
  push_fixture();
  auto r = client().get("/acr/v1/team/app");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("content-type"), "application/json");
  auto body = parse(r);
  expect_same_shape(parse(kRepositoryExample), body);
  EXPECT_EQ(str(body.at("registry")), "default.registry.local");
  EXPECT_EQ(str(body.at("imageName")), "team/app");
  EXPECT_EQ(body.at("manifestCount").as_int64(), 4);
  EXPECT_EQ(body.at("tagCount").as_int64(), 3);
  EXPECT_TRUE(is_acr_time(body.at("createdTime"))) << body;
  EXPECT_TRUE(is_acr_time(body.at("lastUpdateTime"))) << body;
  EXPECT_LT(str(body.at("createdTime")), str(body.at("lastUpdateTime")));
  EXPECT_TRUE(body.at("changeableAttributes").at("writeEnabled").as_bool());
}

TEST_F(AcrApi, TagsAndManifestsAnswerInTheDocumentedShape) {
  push_fixture();
  auto tags = client().get("/acr/v1/team/app/_tags");
  ASSERT_EQ(tags.status, 200) << tags.body;
  auto listing = parse(tags);
  ASSERT_EQ(listing.as_object().size(), 3u) << listing;
  EXPECT_EQ(str(listing.at("registry")), "default.registry.local");
  EXPECT_EQ(str(listing.at("imageName")), "team/app");
  ASSERT_EQ(listing.at("tags").as_array().size(), 3u);
  for (const auto& tag : listing.at("tags").as_array()) {
    expect_same_shape(parse(kTagExample), tag);
    EXPECT_TRUE(is_acr_time(tag.at("createdTime")));
  }
  const auto& a = listing.at("tags").as_array().front();
  EXPECT_EQ(str(a.at("name")), "a");
  EXPECT_EQ(str(a.at("digest")), moved_digest_);
  EXPECT_FALSE(a.at("signed").as_bool());

  auto one = client().get("/acr/v1/team/app/_tags/b");
  ASSERT_EQ(one.status, 200) << one.body;
  auto tag = parse(one);
  ASSERT_EQ(tag.as_object().size(), 3u) << tag;
  EXPECT_EQ(str(tag.at("imageName")), "team/app");
  expect_same_shape(parse(kTagExample), tag.at("tag"));
  EXPECT_EQ(str(tag.at("tag").at("digest")), first_digests_[1]);

  auto manifests = client().get("/acr/v1/team/app/_manifests");
  ASSERT_EQ(manifests.status, 200) << manifests.body;
  listing = parse(manifests);
  ASSERT_EQ(listing.as_object().size(), 3u) << listing;
  ASSERT_EQ(listing.at("manifests").as_array().size(), 4u);
  for (const auto& manifest : listing.at("manifests").as_array()) {
    expect_same_shape(parse(kManifestExample), manifest);
    // The platform comes from each image's config (make_image: amd64/linux).
    EXPECT_EQ(str(manifest.at("architecture")), "amd64");
    EXPECT_EQ(str(manifest.at("os")), "linux");
  }

  auto shown = client().get("/acr/v1/team/app/_manifests/" + first_digests_[0]);
  ASSERT_EQ(shown.status, 200) << shown.body;
  auto manifest = parse(shown).at("manifest");
  expect_same_shape(parse(kManifestExample), manifest);
  // The first image lost its tag to the move.
  EXPECT_TRUE(manifest.at("tags").as_array().empty());
  auto moved = parse(client().get("/acr/v1/team/app/_manifests/" + moved_digest_)).at("manifest");
  EXPECT_EQ(moved.at("tags").as_array(), json::array{"a"});
  // Its size with its config and layer (make_image: the config JSON and "layer-bytes-<seed>").
  std::string config = R"({"architecture":"amd64","os":"linux","seed":"a-moved"})";
  std::string stored = client().get("/v2/team/app/manifests/" + moved_digest_).body;
  EXPECT_EQ(moved.at("imageSize").as_int64(),
            static_cast<std::int64_t>(stored.size() + config.size() +
                                      std::string("layer-bytes-a-moved").size()));
  EXPECT_EQ(str(moved.at("mediaType")), "application/vnd.oci.image.manifest.v1+json");
}

TEST_F(AcrApi, AnIndexOrAnArtifactHasNoPlatform) {
  std::string config = R"({"not":"an image config"})";
  std::string config_digest = push_blob("team/art", config);
  std::string artifact = fmt::format(
      R"({{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[]}})",
      descriptor_json({"application/vnd.example.config+json", config_digest, config.size()}));
  ASSERT_EQ(put_manifest("team/art", "v1", artifact).status, 201);
  auto manifest = parse(client().get("/acr/v1/team/art/_manifests/" + sha256(artifact)));
  EXPECT_EQ(str(manifest.at("manifest").at("architecture")), "");
  EXPECT_EQ(str(manifest.at("manifest").at("os")), "");

  std::string image = make_image("team/art", "child");
  ASSERT_EQ(put_manifest("team/art", sha256(image), image).status, 201);
  std::string index = fmt::format(
      R"({{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{}]}})",
      descriptor_json({"application/vnd.oci.image.manifest.v1+json", sha256(image), image.size()}));
  ASSERT_EQ(put_manifest("team/art", "multi", index, "application/vnd.oci.image.index.v1+json")
                .status,
            201);
  manifest = parse(client().get("/acr/v1/team/art/_manifests/" + sha256(index)));
  EXPECT_EQ(str(manifest.at("manifest").at("architecture")), "");
  EXPECT_EQ(manifest.at("manifest").at("imageSize").as_int64(),
            static_cast<std::int64_t>(index.size()));
}

TEST_F(AcrApi, AConfigOverTheLimitIsNotReadForItsPlatform) {
  // An image config of 1 MiB and a byte: valid JSON naming a platform, but too large to read.
  std::string config = R"({"architecture":"amd64","os":"linux","padding":")";
  config += std::string(1024 * 1024 + 1 - config.size() - 2, 'x');
  config += "\"}";
  ASSERT_EQ(config.size(), 1024u * 1024u + 1u);
  std::string config_digest = push_blob("team/big", config);
  std::string image = fmt::format(
      R"({{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[]}})",
      descriptor_json({"application/vnd.oci.image.config.v1+json", config_digest, config.size()}));
  ASSERT_EQ(put_manifest("team/big", "v1", image).status, 201);
  auto manifest = parse(client().get("/acr/v1/team/big/_manifests/" + sha256(image)));
  EXPECT_EQ(str(manifest.at("manifest").at("architecture")), "");
  EXPECT_EQ(manifest.at("manifest").at("imageSize").as_int64(),
            static_cast<std::int64_t>(image.size() + config.size()));
}

TEST_F(AcrApi, ClientsGetAMetadataScopeFromTheTokenService) {
  push_fixture();
  // Anonymous: the challenge names the scope the route needs.
  auto r = client().get("/acr/v1/team/app/_tags", {"Authorization:"});
  ASSERT_EQ(r.status, 401) << r.body;
  EXPECT_NE(r.header("www-authenticate").find(R"(scope="repository:team/app:metadata_read")"),
            std::string::npos)
      << r.header("www-authenticate");
  r = client().request("PATCH", "/acr/v1/team/app", R"({"writeEnabled":false})",
                       {"Authorization:"});
  EXPECT_NE(r.header("www-authenticate").find(R"(scope="repository:team/app:metadata_write")"),
            std::string::npos)
      << r.header("www-authenticate");

  // The admin user asks for that scope and calls with the access token, as the tooling does.
  auto credentials = parse(client().get("/mgmt/v1/registries/default/credentials"));
  std::string password = str(credentials.at("passwords").at(0).at("value"));
  std::string pair = "default:";
  pair += password;
  std::string basic = "Authorization: Basic ";
  basic += auth::detail::base64_encode(pair);
  r = client().get(
      "/oauth2/token?service=default.registry.local&scope=repository:team/app:metadata_read",
      {basic});
  ASSERT_EQ(r.status, 200) << r.body;
  std::string bearer = "Authorization: Bearer ";
  bearer += str(parse(r).at("access_token"));
  r = client().get("/acr/v1/team/app/_tags", {bearer});
  EXPECT_EQ(r.status, 200) << r.body;
  // The token carries metadata_read only: a change needs a token with metadata_write.
  r = client().request("PATCH", "/acr/v1/team/app", R"({"writeEnabled":false})", {bearer});
  EXPECT_EQ(r.status, 401) << r.body;
  EXPECT_NE(r.header("www-authenticate").find("insufficient_scope"), std::string::npos)
      << r.header("www-authenticate");
}

TEST_F(AcrApi, TagOrdersPageThroughEveryTagOnceInOrder) {
  push_fixture();
  const std::vector<std::string> by_name = {"a", "b", "c"};
  // Ties in time go by name, in the time's direction.
  const std::vector<std::string> earliest_first =
      by_time("/acr/v1/team/app/_tags", "tags", "name");
  ASSERT_EQ(earliest_first.size(), 3u);
  EXPECT_EQ(earliest_first.back(), "a");
  const std::vector<std::string> latest_first(earliest_first.rbegin(), earliest_first.rend());
  for (int n : {1, 2, 100}) {
    std::string size = fmt::format("n={}", n);
    EXPECT_EQ(read_all("/acr/v1/team/app/_tags", size, "tags", "name"), by_name) << n;
    EXPECT_EQ(read_all("/acr/v1/team/app/_tags", size + "&orderby=timedesc", "tags", "name"),
              latest_first)
        << n;
    EXPECT_EQ(read_all("/acr/v1/team/app/_tags", size + "&orderby=timeasc", "tags", "name"),
              earliest_first)
        << n;
  }
  // The Link of a listing by time carries the order and a cursor.
  auto r = client().get("/acr/v1/team/app/_tags?n=1&orderby=timedesc");
  EXPECT_TRUE(next_target(r).ends_with("&n=1&orderby=timedesc")) << next_target(r);
}

TEST_F(AcrApi, ManifestOrdersPageThroughEveryManifestOnceInOrder) {
  push_fixture();
  std::vector<std::string> by_digest = first_digests_;
  by_digest.push_back(moved_digest_);
  std::sort(by_digest.begin(), by_digest.end());
  // The moved one was pushed more than a second after the others; ties go by digest.
  std::vector<std::string> earliest_first =
      by_time("/acr/v1/team/app/_manifests", "manifests", "digest");
  ASSERT_EQ(earliest_first.size(), 4u);
  EXPECT_EQ(earliest_first.back(), moved_digest_);
  std::vector<std::string> latest_first(earliest_first.rbegin(), earliest_first.rend());
  for (int n : {1, 2, 100}) {
    std::string size = fmt::format("n={}", n);
    EXPECT_EQ(read_all("/acr/v1/team/app/_manifests", size, "manifests", "digest"), by_digest)
        << n;
    EXPECT_EQ(read_all("/acr/v1/team/app/_manifests", size + "&orderby=timedesc", "manifests",
                       "digest"),
              latest_first)
        << n;
    EXPECT_EQ(read_all("/acr/v1/team/app/_manifests", size + "&orderby=timeasc", "manifests",
                       "digest"),
              earliest_first)
        << n;
  }
}

TEST_F(AcrApi, TheCatalogPagesAndHidesListDisabledRepositories) {
  for (const std::string repo : {"a/one", "b/two", "c/three"}) {
    ASSERT_EQ(put_manifest(repo, "v1", make_image(repo, repo)).status, 201);
  }
  ASSERT_EQ(patch("/acr/v1/b/two", R"({"listEnabled":false})").status, 200);
  auto r = client().get("/acr/v1/_catalog");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(parse(r).at("repositories").as_array(), (json::array{"a/one", "c/three"}));
  r = client().get("/acr/v1/_catalog?n=1");
  EXPECT_EQ(parse(r).at("repositories").as_array(), json::array{"a/one"});
  EXPECT_EQ(next_target(r), "/acr/v1/_catalog?last=a/one&n=1");
  // Shown on its own whatever its attributes.
  EXPECT_EQ(client().get("/acr/v1/b/two").status, 200);
  EXPECT_EQ(error_code(client().get("/acr/v1/_catalog?orderby=timedesc")), "UNSUPPORTED");
}

TEST_F(AcrApi, PatchChangesAttributesAndTheLocksHoldOnV2) {
  push_fixture();
  // The hosted service's shape: the attributes object itself.
  auto r = patch("/acr/v1/team/app", R"({"writeEnabled":false})");
  ASSERT_EQ(r.status, 200) << r.body;
  auto body = parse(r);
  expect_same_shape(parse(kRepositoryExample), body);
  EXPECT_FALSE(body.at("changeableAttributes").at("writeEnabled").as_bool());
  EXPECT_TRUE(body.at("changeableAttributes").at("deleteEnabled").as_bool());
  EXPECT_FALSE(parse(client().get("/acr/v1/team/app"))
                   .at("changeableAttributes")
                   .at("writeEnabled")
                   .as_bool());
  // Content the repository already holds, under a new tag: refused for the lock alone.
  std::string held = client().get("/v2/team/app/manifests/b").body;
  auto push = put_manifest("team/app", "d", held);
  EXPECT_EQ(push.status, 403) << push.body;
  EXPECT_EQ(error_code(push), "DENIED");
  // Wrapped in changeableAttributes works too.
  ASSERT_EQ(patch("/acr/v1/team/app", R"({"changeableAttributes":{"writeEnabled":true}})").status,
            200);

  // A delete-locked tag is neither untagged nor lets its repository go.
  r = patch("/acr/v1/team/app/_tags/b", R"({"deleteEnabled":false})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_FALSE(parse(r).at("tag").at("changeableAttributes").at("deleteEnabled").as_bool());
  r = client().request("DELETE", "/acr/v1/team/app/_tags/b");
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_EQ(error_code(r), "DENIED");
  r = client().request("DELETE", "/acr/v1/team/app");
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_EQ(error_code(r), "DENIED");
  EXPECT_EQ(client().get("/v2/team/app/manifests/b").status, 200);

  // A read-locked manifest is still described, but no longer pulled.
  r = patch("/acr/v1/team/app/_manifests/" + first_digests_[2], R"({"readEnabled":false})");
  ASSERT_EQ(r.status, 200) << r.body;
  expect_same_shape(parse(kManifestExample), parse(r).at("manifest"));
  EXPECT_FALSE(parse(r).at("manifest").at("changeableAttributes").at("readEnabled").as_bool());
  EXPECT_EQ(client().get("/v2/team/app/manifests/c").status, 403);

  // A list-disabled tag is left out of the listing and shown on its own.
  ASSERT_EQ(patch("/acr/v1/team/app/_tags/c", R"({"listEnabled":false})").status, 200);
  EXPECT_EQ(read_all("/acr/v1/team/app/_tags", "n=1", "tags", "name"),
            (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(client().get("/acr/v1/team/app/_tags/c").status, 200);
}

TEST_F(AcrApi, DeletesAnswerWithWhatWentAway) {
  push_fixture();
  auto r = client().request("DELETE", "/acr/v1/team/app/_tags/c");
  EXPECT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(client().get("/v2/team/app/manifests/c").status, 404);
  // The untagged manifest stays.
  EXPECT_EQ(client().get("/v2/team/app/manifests/" + first_digests_[2]).status, 200);

  r = client().request("DELETE", "/acr/v1/team/app");
  ASSERT_EQ(r.status, 202) << r.body;
  auto body = parse(r);
  ASSERT_EQ(body.as_object().size(), 2u) << body;
  std::vector<std::string> manifests;
  for (const auto& digest : body.at("manifestsDeleted").as_array()) manifests.push_back(str(digest));
  std::vector<std::string> expected = first_digests_;
  expected.push_back(moved_digest_);
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(manifests, expected);
  EXPECT_EQ(body.at("tagsDeleted").as_array(), (json::array{"a", "b"}));
  EXPECT_EQ(client().get("/acr/v1/team/app").status, 404);
  EXPECT_EQ(client().get("/v2/team/app/tags/list").status, 404);
}

TEST_F(AcrApi, MistakesGetTheRightErrors) {
  push_fixture();
  struct Case {
    std::string method, path, body;
    long status;
    std::string code;
  };
  const std::string missing = "sha256:" + std::string(64, 'e');
  const Case cases[] = {
      {"GET", "/acr/v1/team/none", "", 404, "NAME_UNKNOWN"},
      {"GET", "/acr/v1/team/none/_tags", "", 404, "NAME_UNKNOWN"},
      {"GET", "/acr/v1/team/none/_manifests", "", 404, "NAME_UNKNOWN"},
      {"DELETE", "/acr/v1/team/none", "", 404, "NAME_UNKNOWN"},
      {"PATCH", "/acr/v1/team/none", R"({"writeEnabled":false})", 404, "NAME_UNKNOWN"},
      {"GET", "/acr/v1/Team/App", "", 400, "NAME_INVALID"},
      {"GET", "/acr/v1/team/app/_tags/nosuch", "", 404, "TAG_UNKNOWN"},
      {"GET", "/acr/v1/team/app/_tags/not:a:tag", "", 404, "TAG_UNKNOWN"},
      {"PATCH", "/acr/v1/team/app/_tags/nosuch", R"({"writeEnabled":false})", 404, "TAG_UNKNOWN"},
      {"DELETE", "/acr/v1/team/app/_tags/nosuch", "", 404, "TAG_UNKNOWN"},
      {"GET", "/acr/v1/team/app/_manifests/" + missing, "", 404, "MANIFEST_UNKNOWN"},
      {"PATCH", "/acr/v1/team/app/_manifests/" + missing, R"({"writeEnabled":false})", 404,
       "MANIFEST_UNKNOWN"},
      {"GET", "/acr/v1/team/app/_manifests/sha256:short", "", 400, "DIGEST_INVALID"},
      {"GET", "/acr/v1/team/app/_tags?orderby=newest", "", 400, "UNSUPPORTED"},
      {"GET", "/acr/v1/team/app/_manifests?orderby=TIMEDESC", "", 400, "UNSUPPORTED"},
      {"GET", "/acr/v1/team/app/_tags?orderby=timedesc&last=a", "", 400, "UNSUPPORTED"},
      {"GET", "/acr/v1/team/app/_manifests?orderby=timeasc&last=%21%21", "", 400, "UNSUPPORTED"},
      {"GET", "/acr/v1/team/app/_tags?n=ten", "", 400, "PAGINATION_NUMBER_INVALID"},
      {"GET", "/acr/v1/_catalog?n=-1", "", 400, "PAGINATION_NUMBER_INVALID"},
      {"PATCH", "/acr/v1/team/app", "", 400, "UNSUPPORTED"},
      {"PATCH", "/acr/v1/team/app", "{}", 400, "UNSUPPORTED"},
      {"PATCH", "/acr/v1/team/app", "[true]", 400, "UNSUPPORTED"},
      {"PATCH", "/acr/v1/team/app", R"({"writeEnabled":"no"})", 400, "UNSUPPORTED"},
      {"PATCH", "/acr/v1/team/app", R"({"quarantined":true})", 400, "UNSUPPORTED"},
      {"PATCH", "/acr/v1/team/app/_tags/a", "not json", 400, "UNSUPPORTED"},
  };
  for (const auto& c : cases) {
    auto r = client().request(c.method, c.path, c.body, {"Content-Type: application/json"});
    EXPECT_EQ(r.status, c.status) << c.method << ' ' << c.path << ": " << r.body;
    EXPECT_EQ(error_code(r), c.code) << c.method << ' ' << c.path << ": " << r.body;
  }
  // A refused change changed nothing.
  auto attributes = parse(client().get("/acr/v1/team/app")).at("changeableAttributes");
  EXPECT_EQ(attributes, parse(kRepositoryExample).at("changeableAttributes"));
  // n=0: an empty page without a Link.
  auto r = client().get("/acr/v1/team/app/_tags?n=0");
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(parse(r).at("tags").as_array().empty());
  EXPECT_EQ(r.header("link"), "");
}

}  // namespace
}  // namespace berth::testing
