// The access-control part of the management API over HTTP against a running berthd: each
// resource's create/list/show/update/delete, the error codes and statuses of bad input, tier
// limits, and that list and show answers never carry a secret value or a stored hash.

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <set>

#include "mgmt/mgmt_test_support.h"

namespace berth::testing {
namespace {

namespace json = boost::json;

using AccessApi = MgmtApiTest;

std::string str(const json::value& v, std::string_view key) {
  return std::string(v.as_object().at(key).as_string());
}

const json::array& arr(const json::value& v, std::string_view key) {
  return v.as_object().at(key).as_array();
}

// Every string anywhere in `value`.
void collect_strings(const json::value& value, std::vector<std::string>& out) {
  if (value.is_string()) {
    out.emplace_back(value.as_string());
  } else if (value.is_array()) {
    for (const auto& item : value.as_array()) collect_strings(item, out);
  } else if (value.is_object()) {
    for (const auto& [key, item] : value.as_object()) {
      out.emplace_back(key);
      collect_strings(item, out);
    }
  }
}

// No secret value and nothing that looks like a stored hash or sealed value.
void expect_no_secrets(const std::string& body, const std::vector<std::string>& secrets) {
  for (const auto& secret : secrets) {
    EXPECT_EQ(body.find(secret), std::string::npos) << "a secret leaked: " << body;
  }
  std::vector<std::string> strings;
  collect_strings(parse_json(body), strings);
  for (const auto& text : strings) {
    EXPECT_NE(text, "value") << body;
    EXPECT_NE(text, "secret") << body;
    EXPECT_FALSE(text.starts_with("k1$") || text.starts_with("s1$") || text.starts_with("$argon2"))
        << body;
  }
}

class AccessApiTest : public MgmtApiTest {
 protected:
  void SetUp() override {
    MgmtApiTest::SetUp();
    ASSERT_EQ(create("alpha01").status, 201);
  }

  HttpResponse post(std::string_view path, std::string_view body) {
    return call("POST", path, body);
  }
};

// ------------------------------------------------------------------ registry fields

TEST_F(AccessApiTest, RegistryShowsItsNetworkRuleSetAndTakesDefaultAction) {
  auto r = get("/mgmt/v1/registries/alpha01");
  ASSERT_EQ(r.status, 200) << r.body;
  auto rules = parse_json(r.body).as_object().at("networkRuleSet");
  EXPECT_EQ(str(rules, "defaultAction"), "Allow");
  EXPECT_TRUE(arr(rules, "ipRules").empty());

  // Deny needs a tier with IP rules (Premium); on Standard it would lock everyone out.
  r = call("PATCH", "/mgmt/v1/registries/alpha01", R"({"defaultAction":"deny"})");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(error_of(r).target, "defaultAction");
  r = call("PATCH", "/mgmt/v1/registries/alpha01", R"({"defaultAction":"deny","tier":"Premium"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(str(parse_json(r.body).as_object().at("networkRuleSet"), "defaultAction"), "Deny");
  r = get("/mgmt/v1/registries");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(str(arr(parse_json(r.body), "registries")[0].as_object().at("networkRuleSet"),
                "defaultAction"),
            "Deny");

  for (std::string_view bad :
       {R"({"defaultAction":"Block"})", R"({"defaultAction":true})", R"({"defaultAction":""})"}) {
    r = call("PATCH", "/mgmt/v1/registries/alpha01", bad);
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_EQ(error_of(r).code, "InvalidRequest");
  }
}

// ------------------------------------------------------------------ admin credentials

TEST_F(AccessApiTest, AdminCredentialsShowTheSameValuesAndRenewChangesOne) {
  auto r = get("/mgmt/v1/registries/alpha01/credentials");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(error_of(r).code, "AdminUserDisabled");
  r = post("/mgmt/v1/registries/alpha01/credentials/renew", R"({"passwordName":"password"})");
  EXPECT_EQ(r.status, 409);

  r = call("PATCH", "/mgmt/v1/registries/alpha01", R"({"adminUserEnabled":true})");
  ASSERT_EQ(r.status, 200) << r.body;
  auto first = get("/mgmt/v1/registries/alpha01/credentials");
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(first.header("Cache-Control"), "no-store");
  auto shown = parse_json(first.body);
  EXPECT_EQ(str(shown, "username"), "alpha01");
  const auto& passwords = arr(shown, "passwords");
  ASSERT_EQ(passwords.size(), 2u);
  EXPECT_EQ(str(passwords[0], "name"), "password");
  EXPECT_EQ(str(passwords[1], "name"), "password2");
  std::string one = str(passwords[0], "value");
  std::string two = str(passwords[1], "value");
  EXPECT_EQ(one.size(), 43u);

  auto again = get("/mgmt/v1/registries/alpha01/credentials");
  EXPECT_EQ(parse_json(again.body), shown);

  r = post("/mgmt/v1/registries/alpha01/credentials/renew", R"({"passwordName":"password"})");
  ASSERT_EQ(r.status, 200) << r.body;
  auto renewed = parse_json(r.body);
  EXPECT_NE(str(arr(renewed, "passwords")[0], "value"), one);
  EXPECT_EQ(str(arr(renewed, "passwords")[1], "value"), two);
  EXPECT_EQ(parse_json(get("/mgmt/v1/registries/alpha01/credentials").body), renewed);

  // The registry's own answers never show them.
  expect_no_secrets(get("/mgmt/v1/registries/alpha01").body, {one, two});

  for (std::string_view bad : {R"({})", R"({"passwordName":"password1"})", R"({"passwordName":1})",
                               R"({"passwordName":"password","x":1})", "[]", "not json"}) {
    r = post("/mgmt/v1/registries/alpha01/credentials/renew", bad);
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_EQ(error_of(r).code, "InvalidRequest") << bad;
  }
  r = get("/mgmt/v1/registries/nosuchregistry/credentials");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(error_of(r).code, "RegistryNotFound");
}

TEST_F(AccessApiTest, ARegistryCreatedWithTheAdminUserHasPasswordsAtOnce) {
  ASSERT_EQ(create("beta0001", "Basic", R"(,"adminUserEnabled":true)").status, 201);
  auto r = get("/mgmt/v1/registries/beta0001/credentials");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(arr(parse_json(r.body), "passwords").size(), 2u);
}

// ------------------------------------------------------------------ scope maps

TEST_F(AccessApiTest, ScopeMapLifecycle) {
  auto r = post("/mgmt/v1/registries/alpha01/scope-maps",
                R"({"name":"team-a","description":"Team A",)"
                R"("actions":["repositories/team-a/*/content/read"]})");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.header("Location"), "/mgmt/v1/registries/alpha01/scope-maps/team-a");
  auto created = parse_json(r.body);
  EXPECT_EQ(str(created, "type"), "UserDefined");
  EXPECT_EQ(str(created, "description"), "Team A");

  r = get("/mgmt/v1/registries/alpha01/scope-maps");
  ASSERT_EQ(r.status, 200);
  const auto maps = arr(parse_json(r.body), "scopeMaps");
  ASSERT_EQ(maps.size(), 4u);
  std::size_t system = 0;
  for (const auto& map : maps) {
    if (str(map, "type") == "SystemDefined") ++system;
  }
  EXPECT_EQ(system, 3u);

  r = get("/mgmt/v1/registries/alpha01/scope-maps/_repositories_pull");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(str(parse_json(r.body), "type"), "SystemDefined");

  r = call("PATCH", "/mgmt/v1/registries/alpha01/scope-maps/team-a",
           R"({"addActions":["repositories/team-a/*/content/write"],)"
           R"("removeActions":["repositories/team-a/*/content/read"],"description":"d"})");
  ASSERT_EQ(r.status, 200) << r.body;
  auto updated = parse_json(r.body);
  ASSERT_EQ(arr(updated, "actions").size(), 1u);
  EXPECT_EQ(arr(updated, "actions")[0].as_string(), "repositories/team-a/*/content/write");
  EXPECT_EQ(parse_json(get("/mgmt/v1/registries/alpha01/scope-maps/team-a").body), updated);

  r = call("PATCH", "/mgmt/v1/registries/alpha01/scope-maps/_repositories_admin", "{}");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(error_of(r).code, "ScopeMapReadOnly");
  r = call("DELETE", "/mgmt/v1/registries/alpha01/scope-maps/_repositories_admin");
  EXPECT_EQ(r.status, 409);

  // In use by a token: 409 ScopeMapInUse until the token goes.
  ASSERT_EQ(post("/mgmt/v1/registries/alpha01/tokens",
                 R"({"name":"user-token","scopeMapName":"team-a","noPasswords":true})")
                .status,
            201);
  r = call("DELETE", "/mgmt/v1/registries/alpha01/scope-maps/team-a");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(error_of(r).code, "ScopeMapInUse");
  ASSERT_EQ(call("DELETE", "/mgmt/v1/registries/alpha01/tokens/user-token").status, 204);
  EXPECT_EQ(call("DELETE", "/mgmt/v1/registries/alpha01/scope-maps/team-a").status, 204);
  r = get("/mgmt/v1/registries/alpha01/scope-maps/team-a");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(error_of(r).code, "ScopeMapNotFound");
  r = call("DELETE", "/mgmt/v1/registries/alpha01/scope-maps/team-a");
  EXPECT_EQ(r.status, 404);
}

TEST_F(AccessApiTest, ScopeMapErrors) {
  const std::string_view path = "/mgmt/v1/registries/alpha01/scope-maps";
  ASSERT_EQ(post(path, R"({"name":"taken1","actions":["repositories/a/content/read"]})").status,
            201);
  auto r = post(path, R"({"name":"TAKEN1","actions":["repositories/a/content/read"]})");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(error_of(r).code, "Conflict");

  for (std::string_view bad : {
           R"({"actions":["repositories/a/content/read"]})",
           R"({"name":"valid1"})",
           R"({"name":"valid1","actions":[]})",
           R"({"name":"valid1","actions":"repositories/a/content/read"})",
           R"({"name":"valid1","actions":[1]})",
           R"({"name":"valid1","actions":["repositories/a/content/fly"]})",
           R"({"name":"bad","actions":["repositories/a/content/read"]})",
           R"({"name":"valid1","actions":["repositories/a/content/read"],"extra":true})",
           R"({"name":"valid1","description":7,"actions":["repositories/a/content/read"]})",
       }) {
    r = post(path, bad);
    EXPECT_EQ(r.status, 400) << bad << " " << r.body;
    EXPECT_EQ(error_of(r).code, "InvalidRequest") << bad;
  }
  std::string many = R"({"name":"toomany","actions":[)";
  for (int i = 0; i <= 500; ++i) {
    if (i) many += ',';
    many += "\"repositories/r" + std::to_string(i) + "/content/read\"";
  }
  many += "]}";
  r = post(path, many);
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(error_of(r).target, "actions");

  // Over the 64 KiB body limit.
  std::string huge = R"({"name":"huge1","description":")" + std::string(70 * 1024, 'd') +
                     R"(","actions":["repositories/a/content/read"]})";
  r = post(path, huge);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(error_of(r).code, "InvalidRequest");

  r = post("/mgmt/v1/registries/nosuchregistry/scope-maps",
           R"({"name":"valid1","actions":["repositories/a/content/read"]})");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(error_of(r).code, "RegistryNotFound");
  r = call("PATCH", "/mgmt/v1/registries/alpha01/scope-maps/taken1",
           R"({"addActions":["nonsense"]})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(error_of(r).target, "addActions");
}

// ------------------------------------------------------------------ tokens

TEST_F(AccessApiTest, TokenValuesAppearOnlyInCreateAndGenerate) {
  auto r = post("/mgmt/v1/registries/alpha01/tokens",
                R"({"name":"ci-token","scopeMapName":"_repositories_push",)"
                R"("expiry":"2099-01-01T00:00:00Z"})");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.header("Location"), "/mgmt/v1/registries/alpha01/tokens/ci-token");
  auto created = parse_json(r.body);
  EXPECT_EQ(str(created, "status"), "enabled");
  EXPECT_EQ(str(created, "scopeMapName"), "_repositories_push");
  const auto& credentials = created.as_object().at("credentials");
  EXPECT_EQ(str(credentials, "username"), "ci-token");
  const auto& passwords = arr(credentials, "passwords");
  ASSERT_EQ(passwords.size(), 2u);
  std::vector<std::string> secrets;
  for (const auto& password : passwords) {
    secrets.push_back(str(password, "value"));
    EXPECT_EQ(str(password, "expiry"), "2099-01-01T00:00:00Z");
  }
  EXPECT_NE(secrets[0], secrets[1]);

  auto listed = get("/mgmt/v1/registries/alpha01/tokens");
  ASSERT_EQ(listed.status, 200);
  expect_no_secrets(listed.body, secrets);
  ASSERT_EQ(arr(parse_json(listed.body), "tokens").size(), 1u);
  auto shown = get("/mgmt/v1/registries/alpha01/tokens/CI-TOKEN");
  ASSERT_EQ(shown.status, 200) << shown.body;
  expect_no_secrets(shown.body, secrets);
  EXPECT_EQ(arr(parse_json(shown.body).as_object().at("credentials"), "passwords").size(), 2u);

  r = post("/mgmt/v1/registries/alpha01/tokens/ci-token/credentials/generate",
           R"({"passwordName":"password2"})");
  ASSERT_EQ(r.status, 200) << r.body;
  auto generated = parse_json(r.body);
  EXPECT_EQ(str(generated, "username"), "ci-token");
  ASSERT_EQ(arr(generated, "passwords").size(), 1u);
  const auto& fresh = arr(generated, "passwords")[0];
  EXPECT_EQ(str(fresh, "name"), "password2");
  EXPECT_NE(str(fresh, "value"), secrets[1]);
  EXPECT_TRUE(fresh.as_object().at("expiry").is_null());
  secrets.push_back(str(fresh, "value"));
  expect_no_secrets(get("/mgmt/v1/registries/alpha01/tokens/ci-token").body, secrets);

  r = post("/mgmt/v1/registries/alpha01/tokens/ci-token/credentials/generate", "{}");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(arr(parse_json(r.body), "passwords").size(), 2u);
}

TEST_F(AccessApiTest, TokenUpdateDeleteAndErrors) {
  const std::string_view path = "/mgmt/v1/registries/alpha01/tokens";
  ASSERT_EQ(post("/mgmt/v1/registries/alpha01/scope-maps",
                 R"({"name":"readers","actions":["repositories/a/content/read"]})")
                .status,
            201);
  auto r = post(path, R"({"name":"tok-one","scopeMapName":"readers","status":"disabled",)"
                      R"("noPasswords":true})");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(str(parse_json(r.body), "status"), "disabled");
  EXPECT_TRUE(arr(parse_json(r.body).as_object().at("credentials"), "passwords").empty());

  r = call("PATCH", "/mgmt/v1/registries/alpha01/tokens/tok-one",
           R"({"status":"enabled","scopeMapName":"_repositories_pull"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(str(parse_json(r.body), "status"), "enabled");
  EXPECT_EQ(str(parse_json(r.body), "scopeMapName"), "_repositories_pull");

  for (std::string_view bad : {
           R"({"scopeMapName":"readers"})",
           R"({"name":"tok-two"})",
           R"({"name":"tok-two","scopeMapName":"readers","status":"on"})",
           R"({"name":"tok-two","scopeMapName":"readers","expiry":"tomorrow"})",
           R"({"name":"tok-two","scopeMapName":"readers","expiry":"2001-01-01T00:00:00Z"})",
           R"({"name":"tok-two","scopeMapName":"readers","noPasswords":"yes"})",
           R"({"name":"t","scopeMapName":"readers"})",
       }) {
    r = post(path, bad);
    EXPECT_EQ(r.status, 400) << bad << " " << r.body;
    EXPECT_EQ(error_of(r).code, "InvalidRequest") << bad;
  }
  r = post(path, R"({"name":"tok-two","scopeMapName":"nosuchmap"})");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(error_of(r).code, "ScopeMapNotFound");
  r = post(path, R"({"name":"TOK-ONE","scopeMapName":"readers"})");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(error_of(r).code, "Conflict");
  r = call("PATCH", "/mgmt/v1/registries/alpha01/tokens/tok-one", R"({"status":"paused"})");
  EXPECT_EQ(r.status, 400);
  r = post("/mgmt/v1/registries/alpha01/tokens/tok-one/credentials/generate",
           R"({"passwordName":"password"})");
  EXPECT_EQ(r.status, 400);

  EXPECT_EQ(call("DELETE", "/mgmt/v1/registries/alpha01/tokens/tok-one").status, 204);
  for (auto [method, suffix] :
       {std::pair{"GET", ""}, std::pair{"DELETE", ""}, std::pair{"PATCH", ""},
        std::pair{"POST", "/credentials/generate"}}) {
    std::string url = "/mgmt/v1/registries/alpha01/tokens/tok-one";
    url += suffix;
    r = call(method, url,
             std::string_view(method) == "GET" || std::string_view(method) == "DELETE" ? "" : "{}");
    EXPECT_EQ(r.status, 404) << method << " " << url;
    EXPECT_EQ(error_of(r).code, "TokenNotFound") << method;
  }
}

TEST_F(AccessApiTest, TokensStopAtTheTierLimit) {
  ASSERT_EQ(create("basic001", "Basic").status, 201);  // 100 tokens
  for (int i = 0; i < 100; ++i) {
    auto r = post("/mgmt/v1/registries/basic001/tokens",
                  fmt::format(R"({{"name":"tok{}","scopeMapName":"_repositories_pull",)"
                              R"("noPasswords":true}})",
                              1000 + i));
    ASSERT_EQ(r.status, 201) << r.body;
  }
  auto r = post("/mgmt/v1/registries/basic001/tokens",
                R"({"name":"tok9999","scopeMapName":"_repositories_pull"})");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(error_of(r).code, "LimitExceeded");
  r = get("/mgmt/v1/registries/basic001/usage");
  ASSERT_EQ(r.status, 200);
  auto usage = parse_json(r.body);
  bool counted = false;
  for (const auto& count : arr(usage, "counts")) {
    if (str(count, "name") == "Tokens") {
      EXPECT_EQ(count.as_object().at("current").to_number<int>(), 100);
      counted = true;
    }
  }
  EXPECT_TRUE(counted) << r.body;
}

// ------------------------------------------------------------------ identities

TEST_F(AccessApiTest, IdentityLifecycleShowsTheSecretOnce) {
  auto r = post("/mgmt/v1/identities", R"({"name":"build-agent","kind":"servicePrincipal"})");
  ASSERT_EQ(r.status, 201) << r.body;
  auto created = parse_json(r.body);
  std::string id = str(created, "id");
  std::string secret = str(created, "secret");
  EXPECT_EQ(secret.size(), 43u);
  EXPECT_EQ(r.header("Location"), "/mgmt/v1/identities/" + id);
  EXPECT_TRUE(created.as_object().at("expiry").is_null());
  EXPECT_TRUE(created.as_object().at("enabled").as_bool());

  r = post("/mgmt/v1/identities",
           R"({"name":"alice","kind":"user","password":"a chosen password!"})");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_FALSE(parse_json(r.body).as_object().contains("secret"));

  r = post("/mgmt/v1/identities",
           R"({"name":"gh-deploy","kind":"federated","issuer":"https://issuer.example",)"
           R"("audience":"berth","jwks":"https://issuer.example/jwks","subject":"repo:a/b",)"
           R"("claims":{"ref":"refs/heads/main"},"expiry":"2099-06-01T00:00:00Z"})");
  ASSERT_EQ(r.status, 201) << r.body;
  auto federated = parse_json(r.body);
  EXPECT_FALSE(federated.as_object().contains("secret"));
  EXPECT_EQ(str(federated, "issuer"), "https://issuer.example");
  EXPECT_EQ(str(federated.as_object().at("claims"), "ref"), "refs/heads/main");
  EXPECT_EQ(str(federated, "expiry"), "2099-06-01T00:00:00Z");

  auto listed = get("/mgmt/v1/identities");
  ASSERT_EQ(listed.status, 200);
  EXPECT_EQ(arr(parse_json(listed.body), "identities").size(), 3u);
  expect_no_secrets(listed.body, {secret, "a chosen password!"});
  auto shown = get("/mgmt/v1/identities/" + id);
  ASSERT_EQ(shown.status, 200);
  expect_no_secrets(shown.body, {secret});
  EXPECT_EQ(str(parse_json(shown.body), "kind"), "servicePrincipal");

  EXPECT_EQ(call("DELETE", "/mgmt/v1/identities/" + id).status, 204);
  r = get("/mgmt/v1/identities/" + id);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(error_of(r).code, "IdentityNotFound");
  EXPECT_EQ(call("DELETE", "/mgmt/v1/identities/" + id).status, 404);
}

TEST_F(AccessApiTest, IdentityErrors) {
  ASSERT_EQ(post("/mgmt/v1/identities", R"({"name":"taken","kind":"user"})").status, 201);
  auto r = post("/mgmt/v1/identities", R"({"name":"TAKEN","kind":"servicePrincipal"})");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(error_of(r).code, "Conflict");
  for (std::string_view bad : {
           R"({"kind":"user"})",
           R"({"name":"someone"})",
           R"({"name":"someone","kind":"robot"})",
           R"({"name":"someone","kind":"user","password":"short"})",
           R"({"name":"someone","kind":"servicePrincipal","password":"long enough password"})",
           R"({"name":"someone","kind":"user","expiry":"yesterday"})",
           R"({"name":"someone","kind":"federated","issuer":"issuer.example","audience":"a",)"
           R"("jwks":"/keys.json","subject":"s"})",
           R"({"name":"someone","kind":"federated","issuer":"https://i.example","audience":"a",)"
           R"("jwks":"keys.json","subject":"s"})",
           R"({"name":"someone","kind":"federated","issuer":"https://i.example","audience":"a",)"
           R"("jwks":"/keys.json"})",
           R"({"name":"someone","kind":"federated","issuer":"https://i.example","audience":"a",)"
           R"("jwks":"/keys.json","subject":"s","claims":{"n":1}})",
           R"({"name":"someone","kind":"federated","issuer":"https://i.example","audience":"a",)"
           R"("jwks":"/keys.json","subject":"s","claims":["n"]})",
           R"({"name":"someone","kind":"user","role":"Owner"})",
       }) {
    r = post("/mgmt/v1/identities", bad);
    EXPECT_EQ(r.status, 400) << bad << " " << r.body;
    EXPECT_EQ(error_of(r).code, "InvalidRequest") << bad;
  }
  EXPECT_EQ(arr(parse_json(get("/mgmt/v1/identities").body), "identities").size(), 1u);
}

// ------------------------------------------------------------------ role assignments

TEST_F(AccessApiTest, RoleAssignmentLifecycle) {
  auto identity = parse_json(
      post("/mgmt/v1/identities", R"({"name":"build-agent","kind":"servicePrincipal"})").body);
  std::string id = str(identity, "id");
  auto r = post("/mgmt/v1/role-assignments",
                fmt::format(R"({{"assignee":"{}","role":"acrpush",)"
                            R"("scope":"/registries/Alpha01/repositories/team/*"}})",
                            id));
  ASSERT_EQ(r.status, 201) << r.body;
  auto assignment = parse_json(r.body);
  EXPECT_EQ(str(assignment, "role"), "AcrPush");
  EXPECT_EQ(str(assignment, "scope"), "/registries/alpha01/repositories/team/*");
  EXPECT_EQ(str(assignment, "assigneeName"), "build-agent");
  std::string assignment_id = str(assignment, "id");
  EXPECT_EQ(r.header("Location"), "/mgmt/v1/role-assignments/" + assignment_id);

  r = post("/mgmt/v1/role-assignments",
           fmt::format(R"({{"assignee":"{}","role":"Reader","scope":"/registries/alpha01"}})", id));
  ASSERT_EQ(r.status, 201) << r.body;

  r = get("/mgmt/v1/role-assignments");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(arr(parse_json(r.body), "roleAssignments").size(), 2u);
  r = get("/mgmt/v1/role-assignments?registry=alpha01&assignee=" + id);
  EXPECT_EQ(arr(parse_json(r.body), "roleAssignments").size(), 2u);
  r = get("/mgmt/v1/role-assignments?assignee=someoneelse");
  EXPECT_TRUE(arr(parse_json(r.body), "roleAssignments").empty());
  r = get("/mgmt/v1/role-assignments?registry=nosuchregistry");
  EXPECT_EQ(r.status, 404);

  EXPECT_EQ(call("DELETE", "/mgmt/v1/role-assignments/" + assignment_id).status, 204);
  r = call("DELETE", "/mgmt/v1/role-assignments/" + assignment_id);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(error_of(r).code, "RoleAssignmentNotFound");

  // The identity's deletion takes the rest.
  ASSERT_EQ(call("DELETE", "/mgmt/v1/identities/" + id).status, 204);
  EXPECT_TRUE(arr(parse_json(get("/mgmt/v1/role-assignments").body), "roleAssignments").empty());
}

TEST_F(AccessApiTest, RoleAssignmentErrors) {
  std::string id = str(
      parse_json(post("/mgmt/v1/identities", R"({"name":"agent","kind":"servicePrincipal"})").body),
      "id");
  auto assign = [&](std::string_view role, std::string_view scope, std::string_view who = "") {
    return post("/mgmt/v1/role-assignments",
                fmt::format(R"({{"assignee":"{}","role":"{}","scope":"{}"}})",
                            who.empty() ? std::string_view(id) : who, role, scope));
  };
  auto r = assign("AcrPull", "/registries/alpha01");
  ASSERT_EQ(r.status, 201);
  r = assign("AcrPull", "/registries/alpha01");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(error_of(r).code, "Conflict");
  r = assign("Superuser", "/registries/alpha01");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(error_of(r).target, "role");
  for (std::string_view scope : {"", "/registries/", "alpha01", "/registries/alpha01/tags/x",
                                 "/registries/alpha01/repositories/UPPER"}) {
    r = assign("AcrPull", scope);
    EXPECT_EQ(r.status, 400) << scope;
    EXPECT_EQ(error_of(r).target, "scope") << scope;
  }
  r = assign("AcrPull", "/registries/nosuchregistry");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(error_of(r).code, "RegistryNotFound");
  r = assign("AcrPull", "/registries/alpha01", "nobody");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(error_of(r).code, "IdentityNotFound");
  r = post("/mgmt/v1/role-assignments", R"({"assignee":"x","role":"AcrPull"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(error_of(r).target, "scope");
}

// ------------------------------------------------------------------ network rules

TEST_F(AccessApiTest, NetworkRulesLifecycleOnPremium) {
  // Standard allows no IP rules.
  auto r =
      post("/mgmt/v1/registries/alpha01/network-rules", R"({"ipAddressOrRange":"10.0.0.0/24"})");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(error_of(r).code, "LimitExceeded");

  ASSERT_EQ(create("premium1", "Premium").status, 201);
  const std::string path = "/mgmt/v1/registries/premium1/network-rules";
  r = post(path, R"({"ipAddressOrRange":"10.0.0.0/24"})");
  ASSERT_EQ(r.status, 200) << r.body;
  r = post(path, R"({"ipAddressOrRange":"2001:DB8::1"})");
  ASSERT_EQ(r.status, 200) << r.body;
  auto rules = parse_json(r.body);
  EXPECT_EQ(str(rules, "defaultAction"), "Allow");
  ASSERT_EQ(arr(rules, "ipRules").size(), 2u);
  EXPECT_EQ(str(arr(rules, "ipRules")[1], "ipAddressOrRange"), "2001:db8::1/128");
  EXPECT_EQ(str(arr(rules, "ipRules")[1], "action"), "Allow");
  EXPECT_EQ(parse_json(get(path).body), rules);
  EXPECT_EQ(parse_json(get("/mgmt/v1/registries/premium1").body).as_object().at("networkRuleSet"),
            rules);

  r = post(path, R"({"ipAddressOrRange":"10.0.0.0/24"})");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(error_of(r).code, "Conflict");
  for (std::string_view bad :
       {R"({"ipAddressOrRange":"10.0.0.1/24"})", R"({"ipAddressOrRange":"not an address"})",
        R"({"ipAddressOrRange":""})", R"({})", R"({"ipAddressOrRange":["10.0.0.0/8"]})"}) {
    r = post(path, bad);
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_EQ(error_of(r).code, "InvalidRequest");
  }

  r = call("DELETE", path + "?ipAddressOrRange=2001:db8:0:0::1");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(arr(parse_json(r.body), "ipRules").size(), 1u);
  r = call("DELETE", path + "?ipAddressOrRange=2001:db8::1");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(error_of(r).code, "NetworkRuleNotFound");
  r = call("DELETE", path);
  EXPECT_EQ(r.status, 400);
  r = call("DELETE", path + "?ipAddressOrRange=10.0.0.0/99");
  EXPECT_EQ(r.status, 400);
}

// ------------------------------------------------------------------ login audit

TEST_F(AccessApiTest, LoginAuditValidatesItsFilters) {
  auto r = get("/mgmt/v1/registries/alpha01/audit/logins");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(arr(parse_json(r.body), "events").empty());
  r =
      get("/mgmt/v1/registries/alpha01/audit/logins?identity=x&result=failure&"
          "since=2026-01-01T00:00:00Z&until=2027-01-01T00:00:00Z&top=5");
  EXPECT_EQ(r.status, 200) << r.body;
  for (std::string_view query :
       {"result=maybe", "since=yesterday", "until=2026-13-01T00:00:00Z", "top=0", "top=1001",
        "top=-1", "top=ten", "top=5x", "since=2027-01-01T00:00:00Z&until=2026-01-01T00:00:00Z"}) {
    r = get(std::string("/mgmt/v1/registries/alpha01/audit/logins?") + std::string(query));
    EXPECT_EQ(r.status, 400) << query;
    EXPECT_EQ(error_of(r).code, "InvalidRequest") << query;
  }
  r = get("/mgmt/v1/registries/nosuchregistry/audit/logins");
  EXPECT_EQ(r.status, 404);
}

}  // namespace
}  // namespace berth::testing
