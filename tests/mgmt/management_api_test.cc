// The management API (/mgmt/v1) over HTTP: every route's answers and errors, the admin token,
// and storage usage checked against what the data directory holds.

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <fstream>
#include <set>

#include "mgmt/mgmt_test_support.h"

namespace berth::testing {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;

using ManagementApi = MgmtApiTest;

std::string str(const json::value& v, std::string_view key) {
  return std::string(v.as_object().at(key).as_string());
}
std::int64_t num(const json::value& v, std::string_view key) {
  return v.as_object().at(key).to_number<std::int64_t>();
}

// "2026-11-23T09:00:00Z"
bool is_rfc3339_utc(std::string_view text) {
  constexpr std::string_view kShape = "dddd-dd-ddTdd:dd:ddZ";
  if (text.size() != kShape.size()) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    bool ok = kShape[i] == 'd' ? std::isdigit(static_cast<unsigned char>(text[i])) != 0
                               : text[i] == kShape[i];
    if (!ok) return false;
  }
  return true;
}

// A concrete path for a route pattern (parameters filled with plausible values).
std::string concrete(std::string pattern) {
  const std::pair<std::string, std::string> values[] = {
      {"{registry}", "someregistry"},
      {"{repository+}", "team/app"},
      {"{tag}", "v1"},
      {"{digest}", "sha256:" + std::string(64, 'a')},
      {"{name}", "somename"},
      {"{id}", "00000000-0000-4000-8000-000000000000"},
      {"{eventId}", "00000000-0000-4000-8000-000000000001"},
      {"{runId}", "cb1"},
  };
  for (const auto& [param, value] : values) {
    for (auto at = pattern.find(param); at != std::string::npos; at = pattern.find(param)) {
      pattern.replace(at, param.size(), value);
    }
  }
  return pattern;
}

// ------------------------------------------------------------------ authentication

TEST_F(ManagementApi, EveryRouteButOpenApiNeedsTheAdminToken) {
  // The rows come from the route table; the requests go to the running berthd, where a route
  // that App did not wire would answer 404 instead of 401.
  ManagementRouteTable table;
  std::size_t protected_routes = 0;
  for (const auto& route : table.routes()) {
    std::string path = concrete(route.pattern);
    std::string body = route.method == "POST" || route.method == "PATCH" ? "{}" : "";
    if (route.action.empty()) {
      auto open = client().request(route.method, path);
      EXPECT_EQ(open.status, 200) << route.name;
      continue;
    }
    ++protected_routes;
    const std::vector<std::vector<std::string>> wrong = {
        {},
        {"Authorization: Bearer wrong-token"},
        {fmt::format("Authorization: Bearer {}x", kAdminToken)},
        {fmt::format("Authorization: Basic {}", kAdminToken)},
        {fmt::format("Authorization: {}", kAdminToken)},
        {"Authorization: Bearer "},
    };
    for (const auto& headers : wrong) {
      auto r = client().request(route.method, path, body, headers);
      EXPECT_EQ(r.status, 401) << route.name << " " << ::testing::PrintToString(headers);
      EXPECT_EQ(error_of(r).code, "Unauthorized") << route.name;
      EXPECT_EQ(r.header("WWW-Authenticate"), "Bearer realm=\"berth-management\"");
    }
  }
  // registries and content, access control, signing keys, events, garbage collection,
  // lifecycle, credential sets, cache rules and imports, and build runs with their sources
  EXPECT_EQ(protected_routes, 16u + 24u + 2u + 10u + 3u + 6u + 17u + 13u + 6u);
}

TEST_F(ManagementApi, TheTokenIsCheckedBeforeAnythingElse) {
  // Without a token, an unknown registry and a bad body still answer 401, revealing nothing.
  auto r = client().request("GET", "/mgmt/v1/registries/nosuchregistry");
  EXPECT_EQ(r.status, 401);
  r = client().request("POST", "/mgmt/v1/registries", "{not json");
  EXPECT_EQ(r.status, 401);
}

TEST_F(ManagementApi, OpenApiDocumentIsServedWithoutToken) {
  auto r = client().get("/mgmt/v1/openapi.json");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.header("Content-Type"), "application/json");
  auto doc = parse_json(r.body);
  EXPECT_TRUE(str(doc, "openapi").starts_with("3."));
}

// ------------------------------------------------------------------ tiers

TEST_F(ManagementApi, TiersListsTheThreeTiersWithLimits) {
  auto r = get("/mgmt/v1/tiers");
  ASSERT_EQ(r.status, 200) << r.body;
  auto tiers = parse_json(r.body).as_object().at("tiers").as_array();
  ASSERT_EQ(tiers.size(), 3u);
  EXPECT_EQ(str(tiers[0], "name"), "Basic");
  EXPECT_EQ(str(tiers[2], "name"), "Premium");
  auto standard = tiers[1].as_object().at("limits");
  EXPECT_EQ(parse_json(json::serialize(standard)),
            parse_json(R"({"includedStorageBytes":107374182400,"webhooks":10,"scopeMaps":500,
                          "tokens":500,"ipRules":0,"cacheRules":1000,"readOpsPerMinute":10000,
                          "writeOpsPerMinute":2000,"features":["anonymousPull","artifactCache"]})"));
  auto basic_features = tiers[0].as_object().at("limits").as_object().at("features").as_array();
  EXPECT_TRUE(basic_features.empty());
}

// ------------------------------------------------------------------ registries

TEST_F(ManagementApi, CreateAnswersTheRegistry) {
  auto r = create("MyRegistry", "Standard", R"(,"region":"westeurope")");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.header("Location"), "/mgmt/v1/registries/MyRegistry");
  auto reg = parse_json(r.body);
  EXPECT_EQ(str(reg, "name"), "MyRegistry");
  EXPECT_EQ(str(reg, "tier"), "Standard");
  EXPECT_EQ(str(reg, "region"), "westeurope");
  EXPECT_EQ(str(reg, "loginServer"), "myregistry.registry.local");
  EXPECT_TRUE(is_rfc3339_utc(str(reg, "createdTime"))) << str(reg, "createdTime");
  EXPECT_FALSE(reg.as_object().at("adminUserEnabled").as_bool());
  EXPECT_FALSE(reg.as_object().at("anonymousPullEnabled").as_bool());
  EXPECT_TRUE(reg.as_object().at("publicNetworkAccess").as_bool());
  EXPECT_EQ(num(reg.as_object().at("limits"), "includedStorageBytes"), 107374182400);
  EXPECT_EQ(num(reg.as_object().at("limits"), "webhooks"), 10);

  auto shown = get("/mgmt/v1/registries/myregistry");
  ASSERT_EQ(shown.status, 200);
  EXPECT_EQ(parse_json(shown.body), reg);
}

TEST_F(ManagementApi, CreateTakesTheFlags) {
  auto r = create("flagged", "premium",
                  R"(,"adminUserEnabled":true,"anonymousPullEnabled":true,)"
                  R"("publicNetworkAccess":false)");
  ASSERT_EQ(r.status, 201) << r.body;
  auto reg = parse_json(r.body);
  EXPECT_EQ(str(reg, "tier"), "Premium");
  EXPECT_EQ(str(reg, "region"), "local");
  EXPECT_TRUE(reg.as_object().at("adminUserEnabled").as_bool());
  EXPECT_TRUE(reg.as_object().at("anonymousPullEnabled").as_bool());
  EXPECT_FALSE(reg.as_object().at("publicNetworkAccess").as_bool());
}

TEST_F(ManagementApi, CreateRefusesBadNames) {
  const std::string too_long(51, 'a');
  for (std::string bad :
       {std::string("abcd"), too_long, std::string("my-registry"), std::string("my_registry"),
        std::string("my.registry"), std::string("my registry"), std::string("r\xc3\xa9gistry")}) {
    auto r = create(bad, "Basic");
    EXPECT_EQ(r.status, 400) << bad;
    auto error = error_of(r);
    EXPECT_EQ(error.code, "InvalidName") << bad;
    EXPECT_EQ(error.target, bad);
    EXPECT_FALSE(error.message.empty());
  }
  EXPECT_EQ(create(std::string(50, 'a'), "Basic").status, 201);
  EXPECT_EQ(create("abcde", "Basic").status, 201);

  auto missing = call("POST", "/mgmt/v1/registries", R"({"tier":"Basic"})");
  EXPECT_EQ(missing.status, 400);
  EXPECT_EQ(error_of(missing).code, "InvalidName");
}

TEST_F(ManagementApi, CreateRefusesDuplicateNamesIgnoringCase) {
  ASSERT_EQ(create("MyRegistry", "Basic").status, 201);
  for (std::string name : {"MyRegistry", "myregistry", "MYREGISTRY"}) {
    auto r = create(name, "Premium");
    EXPECT_EQ(r.status, 409) << name;
    EXPECT_EQ(error_of(r).code, "RegistryNameTaken");
    EXPECT_EQ(error_of(r).target, name);
  }
  EXPECT_EQ(create("default", "Basic").status, 409) << "the default registry exists";
}

TEST_F(ManagementApi, CreateRefusesUnknownOrMissingTier) {
  auto r = create("goodname", "Gold");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(error_of(r).code, "InvalidTier");
  EXPECT_EQ(error_of(r).target, "Gold");
  auto missing = call("POST", "/mgmt/v1/registries", R"({"name":"goodname"})");
  EXPECT_EQ(missing.status, 400);
  EXPECT_EQ(error_of(missing).code, "InvalidTier");
  EXPECT_EQ(get("/mgmt/v1/registries/goodname").status, 404);
}

TEST_F(ManagementApi, CreateRefusesMalformedBodies) {
  const std::pair<std::string, std::string> cases[] = {
      {"{not json", ""},
      {"", ""},
      {R"(["goodname","Basic"])", ""},
      {R"("goodname")", ""},
      {R"({"name":"goodname","tier":"Basic"} trailing)", ""},
      {R"({"name":12345,"tier":"Basic"})", "name"},
      {R"({"name":"goodname","tier":["Basic"]})", "tier"},
      {R"({"name":"goodname","tier":"Basic","adminUserEnabled":"yes"})", "adminUserEnabled"},
      {R"({"name":"goodname","tier":"Basic","region":null})", "region"},
      {R"({"name":"goodname","tier":"Basic","colour":"blue"})", "colour"},
      {R"({"name":"goodname","tier":"Basic","region":"west europe"})", "region"},
      {R"({"name":"goodname","tier":"Basic","anonymousPullEnabled":true})", "anonymousPullEnabled"},
  };
  for (const auto& [body, target] : cases) {
    auto r = call("POST", "/mgmt/v1/registries", body);
    EXPECT_EQ(r.status, 400) << body;
    EXPECT_EQ(error_of(r).code, "InvalidRequest") << body << " -> " << r.body;
    EXPECT_EQ(error_of(r).target, target) << body;
  }
  std::string huge =
      R"({"name":"goodname","tier":"Basic","region":")" + std::string(100 * 1024, 'a') + R"("})";
  auto r = call("POST", "/mgmt/v1/registries", huge);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(error_of(r).code, "InvalidRequest");
  EXPECT_EQ(get("/mgmt/v1/registries/goodname").status, 404);
}

TEST_F(ManagementApi, ListIsSortedByName) {
  for (std::string name : {"zebra1", "Alpha1", "middle"}) ASSERT_EQ(create(name).status, 201);
  auto r = get("/mgmt/v1/registries");
  ASSERT_EQ(r.status, 200);
  std::vector<std::string> names;
  auto listed = parse_json(r.body);
  for (const auto& reg : listed.as_object().at("registries").as_array()) {
    names.push_back(str(reg, "name"));
    EXPECT_TRUE(reg.as_object().contains("loginServer"));
  }
  EXPECT_EQ(names, (std::vector<std::string>{"Alpha1", "default", "middle", "zebra1"}));
}

TEST_F(ManagementApi, ShowIgnoresCaseAndAnswers404ForUnknown) {
  ASSERT_EQ(create("CamelCase").status, 201);
  EXPECT_EQ(get("/mgmt/v1/registries/camelcase").status, 200);
  EXPECT_EQ(get("/mgmt/v1/registries/CAMELCASE").status, 200);
  auto r = get("/mgmt/v1/registries/nosuchregistry");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(error_of(r).code, "RegistryNotFound");
  EXPECT_EQ(error_of(r).target, "nosuchregistry");
  EXPECT_EQ(error_of(r).message, "registry 'nosuchregistry' does not exist");
}

TEST_F(ManagementApi, PatchChangesTierAtOnceAndTheOtherFields) {
  ASSERT_EQ(create("patchme", "Basic").status, 201);
  auto r = call("PATCH", "/mgmt/v1/registries/PATCHME",
                R"({"tier":"premium","region":"northeurope","adminUserEnabled":true,)"
                R"("anonymousPullEnabled":true,"publicNetworkAccess":false})");
  ASSERT_EQ(r.status, 200) << r.body;
  auto reg = parse_json(r.body);
  EXPECT_EQ(str(reg, "name"), "patchme");
  EXPECT_EQ(str(reg, "tier"), "Premium");
  EXPECT_EQ(num(reg.as_object().at("limits"), "ipRules"), 200);
  EXPECT_EQ(str(reg, "region"), "northeurope");
  EXPECT_TRUE(reg.as_object().at("adminUserEnabled").as_bool());
  EXPECT_TRUE(reg.as_object().at("anonymousPullEnabled").as_bool());
  EXPECT_FALSE(reg.as_object().at("publicNetworkAccess").as_bool());
  EXPECT_EQ(parse_json(get("/mgmt/v1/registries/patchme").body), reg);

  auto usage = parse_json(get("/mgmt/v1/registries/patchme/usage").body);
  EXPECT_EQ(num(usage.as_object().at("storage"), "includedBytes"), 500ll * 1024 * 1024 * 1024);

  // An empty change changes nothing.
  auto same = call("PATCH", "/mgmt/v1/registries/patchme", "{}");
  ASSERT_EQ(same.status, 200);
  EXPECT_EQ(parse_json(same.body), reg);
}

TEST_F(ManagementApi, PatchErrors) {
  ASSERT_EQ(create("patchme", "Standard").status, 201);
  auto unknown = call("PATCH", "/mgmt/v1/registries/nosuchregistry", R"({"tier":"Basic"})");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(error_of(unknown).code, "RegistryNotFound");

  auto tier = call("PATCH", "/mgmt/v1/registries/patchme", R"({"tier":"Platinum"})");
  EXPECT_EQ(tier.status, 400);
  EXPECT_EQ(error_of(tier).code, "InvalidTier");

  for (std::string body : {"{oops", "[]", R"({"tier":1})", R"({"name":"renamed"})",
                           R"({"anonymousPullEnabled":"true"})", R"({"region":""})"}) {
    auto r = call("PATCH", "/mgmt/v1/registries/patchme", body);
    EXPECT_EQ(r.status, 400) << body;
    EXPECT_EQ(error_of(r).code, "InvalidRequest") << body;
  }
  EXPECT_EQ(str(parse_json(get("/mgmt/v1/registries/patchme").body), "tier"), "Standard");
}

TEST_F(ManagementApi, DowngradeIsBlockedWhileAFeatureIsInUse) {
  ASSERT_EQ(create("pullable", "Standard", R"(,"anonymousPullEnabled":true)").status, 201);
  auto r = call("PATCH", "/mgmt/v1/registries/pullable", R"({"tier":"Basic"})");
  EXPECT_EQ(r.status, 409);
  auto error = error_of(r);
  EXPECT_EQ(error.code, "TierDowngradeBlocked");
  EXPECT_EQ(error.target, "pullable");
  EXPECT_NE(error.message.find("anonymous pull"), std::string::npos) << error.message;
  EXPECT_NE(error.message.find("Basic"), std::string::npos) << error.message;
  EXPECT_EQ(str(parse_json(get("/mgmt/v1/registries/pullable").body), "tier"), "Standard");

  auto both = call("PATCH", "/mgmt/v1/registries/pullable",
                   R"({"tier":"Basic","anonymousPullEnabled":false})");
  ASSERT_EQ(both.status, 200) << both.body;
  EXPECT_EQ(str(parse_json(both.body), "tier"), "Basic");

  auto enable = call("PATCH", "/mgmt/v1/registries/pullable", R"({"anonymousPullEnabled":true})");
  EXPECT_EQ(enable.status, 400);
  EXPECT_EQ(error_of(enable).code, "InvalidRequest");
  EXPECT_EQ(error_of(enable).target, "anonymousPullEnabled");
}

TEST_F(ManagementApi, DeleteRemovesTheRegistryAndItsContent) {
  ASSERT_EQ(create("doomed", "Basic").status, 201);
  push_image("doomed", "team/app", "one", "v1");
  ASSERT_EQ(v2("doomed", "GET", "/v2/team/app/manifests/v1").status, 200);

  auto r = call("DELETE", "/mgmt/v1/registries/DOOMED");
  EXPECT_EQ(r.status, 204);
  EXPECT_TRUE(r.body.empty());
  EXPECT_EQ(get("/mgmt/v1/registries/doomed").status, 404);
  EXPECT_EQ(v2("doomed", "GET", "/v2/team/app/manifests/v1").status, 404);

  auto again = call("DELETE", "/mgmt/v1/registries/doomed");
  EXPECT_EQ(again.status, 404);
  EXPECT_EQ(error_of(again).code, "RegistryNotFound");

  // Recreated under the same name, it starts empty.
  ASSERT_EQ(create("doomed", "Basic").status, 201);
  auto repositories = parse_json(get("/mgmt/v1/registries/doomed/repositories").body);
  EXPECT_TRUE(repositories.as_object().at("repositories").as_array().empty());
  EXPECT_EQ(v2("doomed", "GET", "/v2/team/app/manifests/v1").status, 404);
}

TEST_F(ManagementApi, DeleteRefusesTheDefaultRegistry) {
  push_image("default", "team/app", "kept", "v1");
  for (std::string_view name : {"default", "DEFAULT"}) {
    auto r = call("DELETE", fmt::format("/mgmt/v1/registries/{}", name));
    EXPECT_EQ(r.status, 409) << name;
    auto error = error_of(r);
    EXPECT_EQ(error.code, "RegistryProtected");
    EXPECT_EQ(error.message,
              "registry 'default' is the default registry of this deployment and cannot be "
              "deleted");
    EXPECT_EQ(error.target, "default");
  }
  // Still there, content and all, for hosts outside the domain too.
  EXPECT_EQ(get("/mgmt/v1/registries/default").status, 200);
  EXPECT_EQ(v2("default", "GET", "/v2/team/app/manifests/v1").status, 200);
  EXPECT_EQ(client().get("/v2/team/app/manifests/v1", {bearer_header(kAdminToken)}).status, 200);
}

// ------------------------------------------------------------------ usage and health

// The size of every committed blob file under the data directory, by digest.
std::map<std::string, std::uint64_t> blob_files(const fs::path& data_dir) {
  std::map<std::string, std::uint64_t> out;
  for (const auto& algorithm : fs::directory_iterator(data_dir / "blobs")) {
    for (const auto& prefix : fs::directory_iterator(algorithm.path())) {
      for (const auto& file : fs::directory_iterator(prefix.path())) {
        out[algorithm.path().filename().string() + ":" + file.path().filename().string()] =
            fs::file_size(file.path());
      }
    }
  }
  return out;
}

TEST_F(ManagementApi, UsageCountsASharedBlobOnceAndMatchesTheFilesOnDisk) {
  ASSERT_EQ(create("usagereg", "Standard").status, 201);
  ASSERT_EQ(create("otherreg", "Basic").status, 201);
  std::string shared(300000, 's');
  std::string app_only(70000, 'a');
  std::string web_only(5000, 'w');
  std::set<std::string> linked;
  linked.insert(push_blob("usagereg", "team/app", shared));
  linked.insert(push_blob("usagereg", "team/app", app_only));
  linked.insert(push_blob("usagereg", "team/web", shared));
  linked.insert(push_blob("usagereg", "team/web", web_only));
  std::string image = push_image("usagereg", "team/web", "img", "latest");
  // Content of another registry does not count, even when it shares a blob.
  push_blob("otherreg", "elsewhere", shared);
  push_blob("otherreg", "elsewhere", std::string(123456, 'o'));

  auto r = get("/mgmt/v1/registries/usagereg/usage");
  ASSERT_EQ(r.status, 200) << r.body;
  auto usage = parse_json(r.body);
  EXPECT_EQ(str(usage, "registry"), "usagereg");
  auto storage = usage.as_object().at("storage");
  EXPECT_EQ(num(storage, "includedBytes"), 107374182400);

  // Recount from the files: every blob the registry links, each once.
  auto files = blob_files(data_dir());
  auto manifests =
      parse_json(get("/mgmt/v1/registries/usagereg/repositories/team/web/manifests").body);
  auto detail =
      parse_json(get("/mgmt/v1/registries/usagereg/repositories/team/web/manifests/" + image).body);
  auto manifest = parse_json(str(detail, "content"));
  linked.insert(str(manifest.as_object().at("config"), "digest"));
  for (const auto& layer : manifest.as_object().at("layers").as_array()) {
    linked.insert(str(layer, "digest"));
  }
  std::uint64_t expected = 0;
  for (const auto& digest : linked) {
    ASSERT_TRUE(files.contains(digest)) << digest;
    expected += files[digest];
  }
  EXPECT_EQ(num(storage, "usedBytes"), static_cast<std::int64_t>(expected));
  EXPECT_EQ(expected, shared.size() + app_only.size() + web_only.size() +
                          files[str(manifest.as_object().at("config"), "digest")] +
                          files[str(manifest.as_object().at("layers").as_array()[0], "digest")]);

  auto repositories = usage.as_object().at("repositories").as_array();
  ASSERT_EQ(repositories.size(), 2u);
  EXPECT_EQ(str(repositories[0], "name"), "team/app");
  EXPECT_EQ(num(repositories[0], "usedBytes"),
            static_cast<std::int64_t>(shared.size() + app_only.size()));
  EXPECT_EQ(str(repositories[1], "name"), "team/web");
  EXPECT_EQ(num(repositories[1], "usedBytes"),
            static_cast<std::int64_t>(expected - app_only.size()));
  EXPECT_GT(num(repositories[0], "usedBytes") + num(repositories[1], "usedBytes"),
            num(storage, "usedBytes"))
      << "the shared blob counts in both repositories but once in the registry";

  auto counts = usage.as_object().at("counts").as_array();
  ASSERT_EQ(counts.size(), 5u);
  const std::pair<std::string, std::int64_t> limits[] = {
      {"Webhooks", 10}, {"Tokens", 500}, {"ScopeMaps", 500}, {"IPRules", 0}, {"CacheRules", 1000}};
  for (std::size_t i = 0; i < counts.size(); ++i) {
    EXPECT_EQ(str(counts[i], "name"), limits[i].first);
    EXPECT_EQ(num(counts[i], "current"), 0);
    EXPECT_EQ(num(counts[i], "limit"), limits[i].second);
  }

  // Deleting a repository releases what only it linked.
  ASSERT_EQ(call("DELETE", "/mgmt/v1/registries/usagereg/repositories/team/app").status, 204);
  auto after = parse_json(get("/mgmt/v1/registries/usagereg/usage").body);
  EXPECT_EQ(num(after.as_object().at("storage"), "usedBytes"),
            static_cast<std::int64_t>(expected - app_only.size()));
}

TEST_F(ManagementApi, UsageAndHealthOfUnknownRegistry) {
  for (std::string path :
       {"/mgmt/v1/registries/nosuchreg/usage", "/mgmt/v1/registries/nosuchreg/health"}) {
    auto r = get(path);
    EXPECT_EQ(r.status, 404) << path;
    EXPECT_EQ(error_of(r).code, "RegistryNotFound") << path;
  }
}

TEST_F(ManagementApi, HealthReportsItsChecks) {
  ASSERT_EQ(create("healthy", "Basic").status, 201);
  auto r = get("/mgmt/v1/registries/healthy/health");
  ASSERT_EQ(r.status, 200) << r.body;
  auto health = parse_json(r.body);
  EXPECT_TRUE(health.as_object().at("healthy").as_bool());
  std::set<std::string> names;
  for (const auto& check : health.as_object().at("checks").as_array()) {
    names.insert(str(check, "name"));
    EXPECT_TRUE(check.as_object().at("healthy").as_bool());
    EXPECT_FALSE(str(check, "message").empty());
  }
  EXPECT_EQ(names, (std::set<std::string>{"metadata", "storage", "tierLimits"}));
}

// ------------------------------------------------------------------ repositories

TEST_F(ManagementApi, RepositoriesListShowAndDelete) {
  ASSERT_EQ(create("content", "Standard").status, 201);
  push_image("content", "team/app", "one", "v1");
  push_image("content", "team/app", "two", "v2");
  push_image("content", "solo", "three", "latest");

  auto list = get("/mgmt/v1/registries/CONTENT/repositories");
  ASSERT_EQ(list.status, 200) << list.body;
  auto repositories = parse_json(list.body).as_object().at("repositories").as_array();
  ASSERT_EQ(repositories.size(), 2u);
  EXPECT_EQ(str(repositories[0], "name"), "solo");
  EXPECT_EQ(str(repositories[1], "name"), "team/app");

  auto show = get("/mgmt/v1/registries/content/repositories/team/app");
  ASSERT_EQ(show.status, 200) << show.body;
  auto repo = parse_json(show.body);
  EXPECT_EQ(str(repo, "name"), "team/app");
  EXPECT_EQ(num(repo, "manifestCount"), 2);
  EXPECT_EQ(num(repo, "tagCount"), 2);
  EXPECT_GT(num(repo, "usedBytes"), 0);
  EXPECT_FALSE(str(repo, "createdTime").empty());
  EXPECT_FALSE(str(repo, "lastUpdateTime").empty());
  EXPECT_EQ(repo, repositories[1]);

  // Percent-encoded slashes name the same repository.
  EXPECT_EQ(get("/mgmt/v1/registries/content/repositories/team%2Fapp").status, 200);

  auto missing = get("/mgmt/v1/registries/content/repositories/team/nothing");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(error_of(missing).code, "RepositoryNotFound");
  EXPECT_EQ(error_of(missing).target, "team/nothing");
  auto invalid = get("/mgmt/v1/registries/content/repositories/Team/App");
  EXPECT_EQ(invalid.status, 400);
  EXPECT_EQ(error_of(invalid).code, "InvalidRequest");
  auto no_registry = get("/mgmt/v1/registries/nosuchreg/repositories/team/app");
  EXPECT_EQ(no_registry.status, 404);
  EXPECT_EQ(error_of(no_registry).code, "RegistryNotFound");
  EXPECT_EQ(get("/mgmt/v1/registries/nosuchreg/repositories").status, 404);

  auto removed = call("DELETE", "/mgmt/v1/registries/content/repositories/team/app");
  EXPECT_EQ(removed.status, 204);
  EXPECT_EQ(get("/mgmt/v1/registries/content/repositories/team/app").status, 404);
  EXPECT_EQ(v2("content", "GET", "/v2/team/app/manifests/v1").status, 404);
  EXPECT_EQ(v2("content", "GET", "/v2/solo/manifests/latest").status, 200);
  auto again = call("DELETE", "/mgmt/v1/registries/content/repositories/team/app");
  EXPECT_EQ(again.status, 404);
  EXPECT_EQ(error_of(again).code, "RepositoryNotFound");
  EXPECT_EQ(call("DELETE", "/mgmt/v1/registries/nosuchreg/repositories/solo").status, 404);
}

TEST_F(ManagementApi, RepositoriesAreSeparatePerRegistry) {
  ASSERT_EQ(create("firstreg").status, 201);
  ASSERT_EQ(create("secondreg").status, 201);
  push_image("firstreg", "shared/name", "a", "v1");
  EXPECT_EQ(get("/mgmt/v1/registries/firstreg/repositories/shared/name").status, 200);
  EXPECT_EQ(get("/mgmt/v1/registries/secondreg/repositories/shared/name").status, 404);
}

TEST_F(ManagementApi, TagsListAndUntag) {
  ASSERT_EQ(create("tagged", "Standard").status, 201);
  std::string one = push_image("tagged", "team/app", "one", "v1");
  ASSERT_EQ(v2("tagged", "PUT", "/v2/team/app/manifests/stable",
               v2("tagged", "GET", "/v2/team/app/manifests/v1").body,
               {"Content-Type: application/vnd.oci.image.manifest.v1+json"})
                .status,
            201);
  std::string two = push_image("tagged", "team/app", "two", "v2");

  auto r = get("/mgmt/v1/registries/tagged/repositories/team/app/tags");
  ASSERT_EQ(r.status, 200) << r.body;
  auto tags = parse_json(r.body).as_object().at("tags").as_array();
  ASSERT_EQ(tags.size(), 3u);
  EXPECT_EQ(str(tags[0], "name"), "stable");
  EXPECT_EQ(str(tags[0], "digest"), one);
  EXPECT_EQ(str(tags[1], "name"), "v1");
  EXPECT_EQ(str(tags[2], "name"), "v2");
  EXPECT_EQ(str(tags[2], "digest"), two);
  EXPECT_FALSE(str(tags[2], "createdTime").empty());
  EXPECT_FALSE(str(tags[2], "lastUpdateTime").empty());

  auto untag = call("DELETE", "/mgmt/v1/registries/tagged/repositories/team/app/tags/v1");
  EXPECT_EQ(untag.status, 204);
  EXPECT_EQ(v2("tagged", "GET", "/v2/team/app/manifests/v1").status, 404);
  EXPECT_EQ(v2("tagged", "GET", "/v2/team/app/manifests/" + one).status, 200)
      << "untag keeps the manifest";
  auto after = parse_json(get("/mgmt/v1/registries/tagged/repositories/team/app/tags").body);
  EXPECT_EQ(after.as_object().at("tags").as_array().size(), 2u);

  auto missing = call("DELETE", "/mgmt/v1/registries/tagged/repositories/team/app/tags/v1");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(error_of(missing).code, "TagNotFound");
  EXPECT_EQ(error_of(missing).target, "v1");
  auto bad = call("DELETE", "/mgmt/v1/registries/tagged/repositories/team/app/tags/.bad");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(error_of(bad).code, "InvalidRequest");
  auto no_repo = get("/mgmt/v1/registries/tagged/repositories/team/none/tags");
  EXPECT_EQ(no_repo.status, 404);
  EXPECT_EQ(error_of(no_repo).code, "RepositoryNotFound");
  EXPECT_EQ(call("DELETE", "/mgmt/v1/registries/tagged/repositories/team/none/tags/v2").status,
            404);
  auto no_registry = get("/mgmt/v1/registries/nosuchreg/repositories/team/app/tags");
  EXPECT_EQ(error_of(no_registry).code, "RegistryNotFound");
}

TEST_F(ManagementApi, ManifestsListShowAndDelete) {
  ASSERT_EQ(create("manifests", "Standard").status, 201);
  std::string one = push_image("manifests", "team/app", "one", "v1");
  std::string two = push_image("manifests", "team/app", "two", "v2");
  std::string content = v2("manifests", "GET", "/v2/team/app/manifests/v1").body;

  auto r = get("/mgmt/v1/registries/manifests/repositories/team/app/manifests");
  ASSERT_EQ(r.status, 200) << r.body;
  auto manifests = parse_json(r.body).as_object().at("manifests").as_array();
  ASSERT_EQ(manifests.size(), 2u);
  std::set<std::string> digests;
  for (const auto& m : manifests) {
    digests.insert(str(m, "digest"));
    EXPECT_EQ(str(m, "mediaType"), "application/vnd.oci.image.manifest.v1+json");
    EXPECT_TRUE(m.as_object().contains("artifactType"));
    EXPECT_GT(num(m, "size"), 0);
    EXPECT_FALSE(str(m, "createdTime").empty());
    EXPECT_EQ(m.as_object().at("tags").as_array().size(), 1u);
  }
  EXPECT_EQ(digests, (std::set<std::string>{one, two}));

  auto show = get("/mgmt/v1/registries/manifests/repositories/team/app/manifests/" + one);
  ASSERT_EQ(show.status, 200) << show.body;
  auto detail = parse_json(show.body);
  EXPECT_EQ(str(detail, "digest"), one);
  EXPECT_EQ(str(detail, "content"), content);
  EXPECT_EQ(num(detail, "size"), static_cast<std::int64_t>(content.size()));
  ASSERT_EQ(detail.as_object().at("tags").as_array().size(), 1u);
  EXPECT_EQ(detail.as_object().at("tags").as_array()[0].as_string(), "v1");

  const std::string base = "/mgmt/v1/registries/manifests/repositories/team/app/manifests/";
  std::string absent = "sha256:" + std::string(64, '0');
  auto missing = get(base + absent);
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(error_of(missing).code, "ManifestNotFound");
  EXPECT_EQ(error_of(missing).target, absent);
  for (std::string bad : {"sha256:abc", "md5:0123", "latest"}) {
    auto r2 = get(base + bad);
    EXPECT_EQ(r2.status, 400) << bad;
    EXPECT_EQ(error_of(r2).code, "InvalidRequest") << bad;
    EXPECT_EQ(call("DELETE", base + bad).status, 400) << bad;
  }

  auto removed = call("DELETE", base + one);
  EXPECT_EQ(removed.status, 204);
  EXPECT_EQ(get(base + one).status, 404);
  EXPECT_EQ(v2("manifests", "GET", "/v2/team/app/manifests/v1").status, 404)
      << "its tags go with it";
  EXPECT_EQ(v2("manifests", "GET", "/v2/team/app/manifests/v2").status, 200);
  auto again = call("DELETE", base + one);
  EXPECT_EQ(again.status, 404);
  EXPECT_EQ(error_of(again).code, "ManifestNotFound");

  auto no_repo = get("/mgmt/v1/registries/manifests/repositories/none/manifests");
  EXPECT_EQ(error_of(no_repo).code, "RepositoryNotFound");
  auto no_registry = get("/mgmt/v1/registries/nosuchreg/repositories/team/app/manifests/" + two);
  EXPECT_EQ(error_of(no_registry).code, "RegistryNotFound");
}

// ------------------------------------------------------------------ routing

TEST_F(ManagementApi, UnknownPathsAndMethodsAnswerInTheEnvelope) {
  auto r = get("/mgmt/v1/nothing-here");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(error_of(r).code, "NotFound");
  auto method = call("PUT", "/mgmt/v1/registries", "{}");
  EXPECT_EQ(method.status, 405);
  EXPECT_EQ(error_of(method).code, "MethodNotAllowed");
}

}  // namespace
}  // namespace berth::testing
