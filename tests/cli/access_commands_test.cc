// The access-control verbs in-process: the request each one sends, what it prints in table and
// json, what it refuses before any request, and the files `berth login` writes.

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <boost/json.hpp>
#include <chrono>
#include <fstream>
#include <map>
#include <sstream>

#include "cli/registry_login.h"
#include "cli/validate.h"
#include "cli_fixture.h"

namespace berth::cli {
namespace {
namespace fs = std::filesystem;
namespace json = boost::json;
using testing::CliTest;
using testing::FakeTransport;
using testing::kToken;
using testing::mode_of;
using testing::slurp;

const std::string kMgmt = "http://srv:5000/mgmt/v1";
const std::string kReg = kMgmt + "/registries/abcde";

bool contains(const std::string& text, std::string_view fragment) {
  return text.find(fragment) != std::string::npos;
}

std::size_t code_points(std::string_view text) {
  return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

std::int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// "a=1&b=2" -> {a: 1, b: 2}, values percent-decoded.
std::map<std::string, std::string> form_of(const std::string& body) {
  auto decode = [](std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
      if (text[i] == '%' && i + 2 < text.size() + 0) {
        out += static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16));
        i += 2;
      } else {
        out += text[i];
      }
    }
    return out;
  };
  std::map<std::string, std::string> fields;
  std::string_view rest = body;
  while (!rest.empty()) {
    std::string_view pair = rest.substr(0, rest.find('&'));
    auto equals = pair.find('=');
    fields[decode(pair.substr(0, equals))] = decode(pair.substr(equals + 1));
    rest.remove_prefix(std::min(rest.size(), pair.size() + 1));
  }
  return fields;
}

class AccessTest : public CliTest {
 protected:
  const HttpRequest& only_request() {
    EXPECT_EQ(fake.requests.size(), 1u);
    return fake.requests.back();
  }

  void expect_request(const char* method, const std::string& url) {
    ASSERT_FALSE(fake.requests.empty());
    EXPECT_EQ(fake.requests.back().method, method);
    EXPECT_EQ(fake.requests.back().url, url);
  }

  // Each run fails with exit 2 before any request.
  void expect_refused(const std::vector<std::vector<std::string>>& runs,
                      const std::vector<std::string>& fragments = {}) {
    for (std::size_t i = 0; i < runs.size(); ++i) {
      expect_error(run(runs[i]), ExitCode::kUsage, i < fragments.size() ? fragments[i] : "");
    }
    EXPECT_TRUE(fake.requests.empty());
  }
};

// ------------------------------------------------------------------ admin user

const char* kCredentials =
    R"({"username":"abcde","passwords":[{"name":"password","value":"pw-one-secret"},
        {"name":"password2","value":"pw-two-secret"}],"extra":"ignored"})";

TEST_F(AccessTest, CredentialShowPrintsExactlyTheAzShape) {
  fake.answer(200, kCredentials);
  EXPECT_EQ(run({"credential", "show", "--name", "abcde", "-o", "json"}), 0) << err;
  expect_request("GET", kReg + "/credentials");
  EXPECT_EQ(json::parse(out), json::parse(R"({"username":"abcde","passwords":[
      {"name":"password","value":"pw-one-secret"},{"name":"password2","value":"pw-two-secret"}]})"));

  fake.answer(200, kCredentials);
  EXPECT_EQ(run({"credential", "show", "-n", "abcde"}), 0);
  EXPECT_EQ(out,
            "USERNAME  PASSWORD   VALUE\n"
            "--------  ---------  -------------\n"
            "abcde     password   pw-one-secret\n"
            "abcde     password2  pw-two-secret\n");
}

TEST_F(AccessTest, CredentialShowWithTheAdminUserOffIsAConflict) {
  fake.answer(409, R"({"error":{"code":"AdminUserDisabled","message":"the admin user is disabled"}})");
  expect_error(run({"credential", "show", "-r", "abcde"}), ExitCode::kConflict,
               "the admin user is disabled");
}

TEST_F(AccessTest, CredentialRenewNamesThePassword) {
  fake.answer(200, kCredentials);
  EXPECT_EQ(run({"credential", "renew", "-n", "abcde", "--password-name", "PASSWORD2", "-o",
                 "json"}),
            0)
      << err;
  expect_request("POST", kReg + "/credentials/renew");
  EXPECT_EQ(last_body(), json::parse(R"({"passwordName":"password2"})"));
  EXPECT_EQ(json::parse(out).at("passwords").as_array().size(), 2u);
  fake.requests.clear();
  expect_refused({{"credential", "renew", "-n", "abcde", "--password-name", "password1"},
                  {"credential", "renew", "-n", "abcde"},
                  {"credential", "show", "-n", "ab"}},
                 {"'password1' is not one of password, password2", "--password-name is required",
                  "registry name 'ab'"});
}

// ------------------------------------------------------------------ tokens

const char* kCreatedToken = R"({"name":"ci-token","scopeMapName":"_repositories_pull",
  "status":"enabled","creationDate":"2026-12-02T06:00:00Z","credentials":{"username":"ci-token",
  "passwords":[{"name":"password1","value":"tok-pw-1","creationTime":"2026-12-02T06:00:00Z",
  "expiry":"2027-01-01T00:00:00Z"},{"name":"password2","value":"tok-pw-2",
  "creationTime":"2026-12-02T06:00:00Z","expiry":null}]}})";

const char* kToken1 = R"({"name":"ci-token","scopeMapName":"_repositories_pull",
  "status":"enabled","creationDate":"2026-12-02T06:00:00Z","credentials":{"username":"ci-token",
  "passwords":[{"name":"password1","creationTime":"2026-12-02T06:00:00Z",
  "expiry":"2027-01-01T00:00:00Z"}]}})";

TEST_F(AccessTest, TokenCreateSendsTheFieldsAndPrintsTheServersToken) {
  fake.answer(201, kCreatedToken);
  EXPECT_EQ(run({"token", "create", "--name", "ci-token", "--registry", "abcde", "--scope-map",
                 "_repositories_pull", "--status", "Disabled", "--expiration",
                 "2099-01-01T01:00:00+01:00", "-o", "json"}),
            0)
      << err;
  expect_request("POST", kReg + "/tokens");
  EXPECT_EQ(last_body(), json::parse(R"({"name":"ci-token","scopeMapName":"_repositories_pull",
      "status":"disabled","expiry":"2099-01-01T00:00:00Z"})"));
  EXPECT_EQ(json::parse(out), json::parse(kCreatedToken));
}

TEST_F(AccessTest, TokenCreateTableShowsThePasswordsOnceAndWhole) {
  fake.answer(201, kCreatedToken);
  EXPECT_EQ(run({"token", "create", "-n", "ci-token", "-r", "abcde", "--scope-map", "mymap1"}), 0)
      << err;
  EXPECT_EQ(last_body(), json::parse(R"({"name":"ci-token","scopeMapName":"mymap1"})"));
  EXPECT_EQ(out,
            "USERNAME  PASSWORD   VALUE     EXPIRY\n"
            "--------  ---------  --------  --------------------\n"
            "ci-token  password1  tok-pw-1  2027-01-01T00:00:00Z\n"
            "ci-token  password2  tok-pw-2  never\n"
            "Created token 'ci-token' with scope map '_repositories_pull'. Save the passwords "
            "now: they are not shown again.\n");
}

TEST_F(AccessTest, TokenCreateExpirationInDaysIsFromNow) {
  fake.answer(201, kCreatedToken);
  std::int64_t before = now_seconds();
  EXPECT_EQ(run({"token", "create", "-n", "ci-token", "-r", "abcde", "--scope-map", "mymap1",
                 "--expiration-in-days", "30"}),
            0)
      << err;
  std::int64_t after = now_seconds();
  auto expiry = parse_rfc3339(std::string(last_body().at("expiry").as_string()));
  ASSERT_TRUE(expiry);
  EXPECT_GE(*expiry, before + 30 * 86400);
  EXPECT_LE(*expiry, after + 30 * 86400);
}

TEST_F(AccessTest, TokenCreateWithoutPasswords) {
  fake.answer(201, R"({"name":"ci-token","scopeMapName":"mymap1","status":"enabled",
      "creationDate":"2026-12-02T06:00:00Z","credentials":{"username":"ci-token","passwords":[]}})");
  EXPECT_EQ(run({"token", "create", "-n", "ci-token", "-r", "abcde", "--scope-map", "mymap1",
                 "--no-passwords"}),
            0)
      << err;
  EXPECT_EQ(last_body(),
            json::parse(R"({"name":"ci-token","scopeMapName":"mymap1","noPasswords":true})"));
  EXPECT_TRUE(out.starts_with("NAME      SCOPE MAP  STATUS   CREATED")) << out;
  EXPECT_TRUE(contains(out, "'berth token credential generate' makes them")) << out;
}

TEST_F(AccessTest, TokenCreateRefusesBadInputBeforeAnyRequest) {
  const std::vector<std::string> base = {"token", "create", "-n", "ci-token", "-r", "abcde"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  };
  expect_refused(
      {with({}),
       with({"--scope-map", "map"}),
       with({"--scope-map", "mymap1", "--status", "paused"}),
       with({"--scope-map", "mymap1", "--expiration", "2099-02-30T00:00:00Z"}),
       with({"--scope-map", "mymap1", "--expiration", "2001-01-01T00:00:00Z"}),
       with({"--scope-map", "mymap1", "--expiration-in-days", "0"}),
       with({"--scope-map", "mymap1", "--expiration-in-days", "36501"}),
       with({"--scope-map", "mymap1", "--expiration-in-days", "-3"}),
       with({"--scope-map", "mymap1", "--expiration-in-days", "99999999999999999999"}),
       with({"--scope-map", "mymap1", "--expiration-in-days", "2", "--expiration",
             "2099-01-01T00:00:00Z"}),
       with({"--scope-map", "mymap1", "--no-passwords", "--expiration-in-days", "2"}),
       {"token", "create", "-n", "ci token", "-r", "abcde", "--scope-map", "mymap1"},
       {"token", "create", "--name", "ci-token", "--scope-map", "mymap1"}},
      {"--scope-map is required", "scope map name 'map'", "'paused' is not one of enabled, disabled",
       "RFC 3339", "is in the past", "from 1 to 36500", "from 1 to 36500", "",
       "from 1 to 36500", "excludes", "--no-passwords", "token name 'ci token'",
       "--registry is required"});
}

TEST_F(AccessTest, TokenListShowUpdateDelete) {
  fake.answer(200, std::string(R"({"tokens":[)") + kToken1 + "]}");
  EXPECT_EQ(run({"token", "list", "-r", "abcde", "-o", "json"}), 0) << err;
  expect_request("GET", kReg + "/tokens");
  EXPECT_EQ(json::parse(out), json::parse(std::string("[") + kToken1 + "]"));

  fake.answer(200, kToken1);
  EXPECT_EQ(run({"token", "show", "-n", "ci-token", "-r", "abcde"}), 0) << err;
  expect_request("GET", kReg + "/tokens/ci-token");
  EXPECT_EQ(out,
            "NAME      SCOPE MAP           STATUS   CREATED               PASSWORD1 EXPIRY      "
            "PASSWORD2 EXPIRY\n"
            "--------  ------------------  -------  --------------------  --------------------  "
            "----------------\n"
            "ci-token  _repositories_pull  enabled  2026-12-02T06:00:00Z  2027-01-01T00:00:00Z\n");

  fake.answer(200, kToken1);
  EXPECT_EQ(run({"token", "update", "-n", "ci-token", "-r", "abcde", "--status", "disabled",
                 "--scope-map", "_repositories_push"}),
            0)
      << err;
  expect_request("PATCH", kReg + "/tokens/ci-token");
  EXPECT_EQ(last_body(),
            json::parse(R"({"status":"disabled","scopeMapName":"_repositories_push"})"));

  fake.answer(204);
  EXPECT_EQ(run({"token", "delete", "-n", "ci-token", "-r", "abcde", "--yes"}), 0) << err;
  expect_request("DELETE", kReg + "/tokens/ci-token");
  EXPECT_EQ(out, "Deleted token 'ci-token' from registry 'abcde'.\n");
  fake.answer(204);
  EXPECT_EQ(run({"token", "delete", "-n", "ci-token", "-r", "abcde", "--yes", "-o", "json"}), 0);
  EXPECT_EQ(out, "");

  fake.requests.clear();
  expect_refused({{"token", "update", "-n", "ci-token", "-r", "abcde"},
                  {"token", "delete", "-n", "ci-token", "-r", "abcde"},
                  {"token", "show", "-n", "ci-token", "--name", "abcde"}},
                 {"nothing to update", "refusing to delete token 'ci-token' without --yes",
                  "-n is given more than once"});
}

TEST_F(AccessTest, TokenCredentialGenerate) {
  const char* answer = R"({"username":"ci-token","passwords":[{"name":"password2",
      "value":"new-pw-2","creationTime":"2026-12-02T06:00:00Z","expiry":"2099-01-01T00:00:00Z"}]})";
  fake.answer(200, answer);
  EXPECT_EQ(run({"token", "credential", "generate", "-n", "ci-token", "-r", "abcde",
                 "--password2", "--expiration", "2099-01-01T00:00:00Z"}),
            0)
      << err;
  expect_request("POST", kReg + "/tokens/ci-token/credentials/generate");
  EXPECT_EQ(last_body(),
            json::parse(R"({"passwordName":"password2","expiry":"2099-01-01T00:00:00Z"})"));
  EXPECT_TRUE(contains(out, "ci-token  password2  new-pw-2  2099-01-01T00:00:00Z")) << out;
  EXPECT_TRUE(contains(out, "not shown again")) << out;

  fake.answer(200, answer);
  EXPECT_EQ(run({"token", "credential", "generate", "-n", "ci-token", "-r", "abcde", "-o",
                 "json"}),
            0);
  EXPECT_EQ(last_body(), json::object{});  // both passwords, no expiry
  EXPECT_EQ(json::parse(out), json::parse(answer));

  fake.requests.clear();
  expect_refused({{"token", "credential", "generate", "-n", "ci-token", "-r", "abcde",
                   "--password1", "--password2"},
                  {"token", "credential", "generate", "-n", "ci-token", "-r", "abcde",
                   "--expiration", "soon"}},
                 {"--password1 excludes --password2", "RFC 3339"});
}

// ------------------------------------------------------------------ scope maps

const char* kScopeMap = R"({"name":"mymap1","description":"CI pulls","type":"UserDefined",
  "actions":["repositories/samples/hello/content/read","repositories/samples/hello/content/write",
  "repositories/team/*/metadata/read"],"creationDate":"2026-12-02T06:00:00Z"})";

TEST_F(AccessTest, ScopeMapCreateBuildsActionsFromRepositoryGroups) {
  fake.answer(201, kScopeMap);
  EXPECT_EQ(run({"scope-map", "create", "--name", "mymap1", "--registry", "abcde",
                 "--description", "CI pulls", "--repository", "samples/hello", "content/read",
                 "content/write", "--repository", "team/*", "metadata/read", "--repository",
                 "samples/hello", "content/read"}),
            0)
      << err;
  expect_request("POST", kReg + "/scope-maps");
  EXPECT_EQ(last_body(), json::parse(R"({"name":"mymap1","description":"CI pulls","actions":[
      "repositories/samples/hello/content/read","repositories/samples/hello/content/write",
      "repositories/team/*/metadata/read"]})"));
  EXPECT_EQ(out,
            "NAME    TYPE         ACTION\n"
            "------  -----------  ----------------------------------------\n"
            "mymap1  UserDefined  repositories/samples/hello/content/read\n"
            "mymap1  UserDefined  repositories/samples/hello/content/write\n"
            "mymap1  UserDefined  repositories/team/*/metadata/read\n"
            "Description: CI pulls\n");
}

TEST_F(AccessTest, ScopeMapCreateRefusesBadGroups) {
  const std::vector<std::string> base = {"scope-map", "create", "-n", "mymap1", "-r", "abcde"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  };
  expect_refused({with({}),
                  with({"--repository", "samples/hello"}),
                  with({"--repository", "samples/hello", "content/*"}),
                  with({"--repository", "Samples/Hello", "content/read"}),
                  with({"--repository", "*", "content/read"}),
                  with({"--repository", "a/b", "content/read", "--description",
                        std::string(513, 'd')}),
                  {"scope-map", "create", "-n", "x", "-r", "abcde", "--repository", "a",
                   "content/read"}},
                 {"--repository is required", "needs a repository and at least one action",
                  "action 'content/*'", "repository 'Samples/Hello'", "repository '*'",
                  "--description is longer than 512 bytes", "scope map name 'x'"});
}

TEST_F(AccessTest, ScopeMapListShowUpdateDelete) {
  fake.answer(200, std::string(R"({"scopeMaps":[)") + kScopeMap + "]}");
  EXPECT_EQ(run({"scope-map", "list", "-r", "abcde", "-o", "json"}), 0) << err;
  expect_request("GET", kReg + "/scope-maps");
  EXPECT_EQ(json::parse(out), json::parse(std::string("[") + kScopeMap + "]"));

  fake.answer(200, std::string(R"({"scopeMaps":[)") + kScopeMap + "]}");
  EXPECT_EQ(run({"scope-map", "list", "-r", "abcde", "-o", "tsv"}), 0);
  EXPECT_EQ(out, "mymap1\tUserDefined\t3\tCI pulls\t2026-12-02T06:00:00Z\n");

  fake.answer(200, kScopeMap);
  EXPECT_EQ(run({"scope-map", "show", "-n", "_repositories_pull", "-r", "abcde", "-o", "json"}),
            0);
  expect_request("GET", kReg + "/scope-maps/_repositories_pull");
  EXPECT_EQ(json::parse(out), json::parse(kScopeMap));

  fake.answer(200, kScopeMap);
  EXPECT_EQ(run({"scope-map", "update", "-n", "mymap1", "-r", "abcde", "--add-repository",
                 "team/app", "content/delete", "--remove-repository", "samples/hello",
                 "content/write", "--description", "new"}),
            0)
      << err;
  expect_request("PATCH", kReg + "/scope-maps/mymap1");
  EXPECT_EQ(last_body(), json::parse(R"({"addActions":["repositories/team/app/content/delete"],
      "removeActions":["repositories/samples/hello/content/write"],"description":"new"})"));

  fake.answer(409, R"({"error":{"code":"ScopeMapInUse","message":"token 'ci-token' uses it"}})");
  expect_error(run({"scope-map", "delete", "-n", "mymap1", "-r", "abcde", "-y"}),
               ExitCode::kConflict, "token 'ci-token' uses it");
  expect_request("DELETE", kReg + "/scope-maps/mymap1");

  fake.requests.clear();
  expect_refused({{"scope-map", "update", "-n", "mymap1", "-r", "abcde"},
                  {"scope-map", "update", "-n", "mymap1", "-r", "abcde", "--remove-repository",
                   "team/app"},
                  {"scope-map", "delete", "-n", "mymap1", "-r", "abcde"}},
                 {"nothing to update", "--remove-repository needs a repository",
                  "refusing to delete scope map 'mymap1'"});
}

// ------------------------------------------------------------------ role assignments

const char* kAssignment = R"({"id":"ra-1","assignee":"id-7","assigneeName":"alice",
  "role":"AcrPull","scope":"/registries/abcde/repositories/team/*",
  "createdTime":"2026-12-02T06:00:00Z"})";

TEST_F(AccessTest, RoleAssignmentCreateTakesAScopeOrBuildsIt) {
  fake.answer(201, kAssignment);
  EXPECT_EQ(run({"role", "assignment", "create", "--assignee", "id-7", "--role", "acrpull",
                 "--scope", "/registries/abcde"}),
            0)
      << err;
  expect_request("POST", kMgmt + "/role-assignments");
  EXPECT_EQ(last_body(),
            json::parse(R"({"assignee":"id-7","role":"AcrPull","scope":"/registries/abcde"})"));
  EXPECT_TRUE(out.starts_with("ID    ASSIGNEE  ASSIGNEE NAME  ROLE     SCOPE")) << out;
  EXPECT_TRUE(contains(out, "ra-1  id-7      alice          AcrPull  /registries/abcde/repositories/team/*"))
      << out;

  fake.answer(201, kAssignment);
  EXPECT_EQ(run({"role", "assignment", "create", "--assignee", "id-7", "--role", "Owner",
                 "--registry", "abcde", "--repository", "team/*", "-o", "json"}),
            0)
      << err;
  EXPECT_EQ(last_body(), json::parse(R"({"assignee":"id-7","role":"Owner",
      "scope":"/registries/abcde/repositories/team/*"})"));
  EXPECT_EQ(json::parse(out), json::parse(kAssignment));

  fake.answer(201, kAssignment);
  EXPECT_EQ(run({"role", "assignment", "create", "--assignee", "id-7", "--role", "AcrPush", "-n",
                 "abcde"}),
            0);
  EXPECT_EQ(last_body().at("scope"), "/registries/abcde");
}

TEST_F(AccessTest, RoleAssignmentCreateRefusesBadInput) {
  const std::vector<std::string> base = {"role", "assignment", "create", "--assignee", "id-7"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  };
  expect_refused({with({"--role", "Admin", "--scope", "/registries/abcde"}),
                  with({"--role", "AcrPull"}),
                  with({"--role", "AcrPull", "--scope", "/registries/abcde", "--registry",
                        "abcde"}),
                  with({"--role", "AcrPull", "--scope", "/registries/abcde/tokens"}),
                  with({"--role", "AcrPull", "--repository", "team/app"}),
                  with({"--role", "AcrPull", "--registry", "abcde", "--repository", "Team"}),
                  {"role", "assignment", "create", "--assignee", "a/b", "--role", "AcrPull",
                   "--scope", "/registries/abcde"}},
                 {"'Admin' is not one of AcrPull, AcrPush, AcrDelete, AcrImageSigner, Owner, "
                  "Contributor, Reader",
                  "either as --scope or as --registry", "either as --scope or as --registry",
                  "scope '/registries/abcde/tokens'", "either as --scope or as --registry",
                  "repository 'Team'", "assignee id 'a/b'"});
}

TEST_F(AccessTest, RoleAssignmentListFiltersAndDeleteTakesIds) {
  fake.answer(200, std::string(R"({"roleAssignments":[)") + kAssignment + "]}");
  EXPECT_EQ(run({"role", "assignment", "list", "--assignee", "id-7", "--registry", "abcde", "-o",
                 "json"}),
            0)
      << err;
  expect_request("GET", kMgmt + "/role-assignments?registry=abcde&assignee=id-7");
  EXPECT_EQ(json::parse(out), json::parse(std::string("[") + kAssignment + "]"));

  fake.answer(200, R"({"roleAssignments":[]})");
  EXPECT_EQ(run({"role", "assignment", "list"}), 0);
  expect_request("GET", kMgmt + "/role-assignments");

  fake.answer(204);
  fake.answer(204);
  EXPECT_EQ(run({"role", "assignment", "delete", "--ids", "ra-1", "ra-2", "--yes"}), 0) << err;
  ASSERT_EQ(fake.requests.size(), 4u);
  EXPECT_EQ(fake.requests[2].url, kMgmt + "/role-assignments/ra-1");
  EXPECT_EQ(fake.requests[3].method, "DELETE");
  EXPECT_EQ(fake.requests[3].url, kMgmt + "/role-assignments/ra-2");
  EXPECT_EQ(out, "Deleted role assignments 'ra-1', 'ra-2'.\n");

  fake.answer(404, R"({"error":{"code":"NotFound","message":"no such role assignment"}})");
  expect_error(run({"role", "assignment", "delete", "--ids", "ra-3", "ra-4", "--yes"}),
               ExitCode::kNotFound, "role assignment 'ra-3': no such role assignment");
  EXPECT_EQ(fake.requests.size(), 5u);  // stopped at the first failure

  fake.requests.clear();
  expect_refused({{"role", "assignment", "delete", "--ids", "ra-1"},
                  {"role", "assignment", "delete", "--yes"},
                  {"role", "assignment", "list", "--registry", "a"}},
                 {"refusing to delete role assignment 'ra-1' without --yes", "--ids is required",
                  "registry name 'a'"});
}

// ------------------------------------------------------------------ identities

TEST_F(AccessTest, IdentityCreateShowsAGeneratedSecretOnce) {
  const char* created = R"({"id":"id-9","name":"builder","kind":"servicePrincipal",
      "enabled":true,"expiry":null,"creationDate":"2026-12-02T06:00:00Z","secret":"gen-secret-1"})";
  fake.answer(201, created);
  EXPECT_EQ(run({"identity", "create", "--name", "builder", "--kind", "service-principal",
                 "--expiration", "2099-06-01T00:00:00Z"}),
            0)
      << err;
  expect_request("POST", kMgmt + "/identities");
  EXPECT_EQ(last_body(), json::parse(R"({"name":"builder","kind":"servicePrincipal",
      "expiry":"2099-06-01T00:00:00Z"})"));
  EXPECT_EQ(out,
            "ID    NAME     KIND              ENABLED  EXPIRY\n"
            "----  -------  ----------------  -------  ------\n"
            "id-9  builder  servicePrincipal  true     never\n"
            "Secret: gen-secret-1\n"
            "Log in with the id as username and the secret as password. Save the secret now: it "
            "will not be shown again.\n");

  fake.answer(201, created);
  EXPECT_EQ(run({"identity", "create", "-n", "builder", "--kind", "service-principal", "-o",
                 "json"}),
            0);
  EXPECT_EQ(json::parse(out), json::parse(created));
}

TEST_F(AccessTest, IdentityCreateUserWithAPasswordFromStandardInput) {
  input = "chosen-pass-1\n";
  fake.answer(201, R"({"id":"id-1","name":"alice@example.com","kind":"user","enabled":true,
      "expiry":null,"creationDate":"2026-12-02T06:00:00Z"})");
  EXPECT_EQ(run({"identity", "create", "-n", "alice@example.com", "--kind", "user",
                 "--password", "-"}),
            0)
      << err;
  EXPECT_EQ(last_body(),
            json::parse(R"({"name":"alice@example.com","kind":"user","password":"chosen-pass-1"})"));
  EXPECT_FALSE(contains(out, "chosen-pass-1"));
  EXPECT_FALSE(contains(out, "Secret"));

  input.clear();
  fake.requests.clear();
  expect_refused({{"identity", "create", "-n", "alice", "--kind", "user", "--password", "-"}},
                 {"--password -: nothing on standard input"});
  input = "x\n";
  expect_refused({{"identity", "create", "-n", "alice", "--kind", "user", "--password", "-",
                   "--token", "-"}},
                 {"both read standard input"});
}

TEST_F(AccessTest, IdentityCreateFederatedReadsTheJwksFile) {
  fs::path jwks = home.path() / "jwks.json";
  { std::ofstream(jwks) << R"({ "keys": [ {"kty":"RSA","kid":"k1","n":"AQAB","e":"AQAB"} ] })"; }
  fake.answer(201, R"({"id":"id-3","name":"gh-actions","kind":"federated","enabled":true,
      "expiry":null,"creationDate":"2026-12-02T06:00:00Z","issuer":"https://issuer.example",
      "audience":"berth","subject":"repo:org/app:ref:refs/heads/main","jwks":"x","claims":{}})");
  EXPECT_EQ(run({"identity", "create", "-n", "gh-actions", "--kind", "federated", "--issuer",
                 "https://issuer.example", "--audience", "berth", "--jwks", jwks.string(),
                 "--subject", "repo:org/app:ref:refs/heads/main", "--claim",
                 "repository_owner=org", "--claim", "environment=prod=eu"}),
            0)
      << err;
  EXPECT_EQ(last_body(), json::parse(R"({"name":"gh-actions","kind":"federated",
      "issuer":"https://issuer.example","audience":"berth",
      "jwks":"{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"k1\",\"n\":\"AQAB\",\"e\":\"AQAB\"}]}",
      "subject":"repo:org/app:ref:refs/heads/main",
      "claims":{"repository_owner":"org","environment":"prod=eu"}})"));
  EXPECT_TRUE(contains(out, "Issuer: https://issuer.example\nAudience: berth\n")) << out;

  fake.answer(201, "{}");
  EXPECT_EQ(run({"identity", "create", "-n", "gh-actions", "--kind", "FEDERATED", "--issuer",
                 "https://issuer.example", "--audience", "berth", "--jwks",
                 "https://issuer.example/keys", "--subject", "s"}),
            0)
      << err;
  EXPECT_EQ(last_body().at("jwks"), "https://issuer.example/keys");
  EXPECT_FALSE(last_body().as_object().contains("claims"));
}

TEST_F(AccessTest, IdentityCreateRefusesMismatchedFlags) {
  fs::path not_jwks = home.path() / "not-jwks.json";
  { std::ofstream(not_jwks) << R"({"kid":"k1"})"; }
  fs::path huge = home.path() / "huge.json";
  { std::ofstream(huge) << std::string((1u << 20) + 1, ' '); }
  const std::vector<std::string> fed = {"identity", "create", "-n", "wl", "--kind", "federated",
                                        "--issuer", "https://i.example", "--audience", "a",
                                        "--subject", "s"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = fed;
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  };
  expect_refused(
      {{"identity", "create", "-n", "bob", "--kind", "robot"},
       {"identity", "create", "-n", "bob smith", "--kind", "user"},
       {"identity", "create", "-n", "bob", "--kind", "service-principal", "--password", "p"},
       {"identity", "create", "-n", "bob", "--kind", "user", "--issuer", "https://i.example"},
       {"identity", "create", "-n", "bob", "--kind", "user", "--expiration", "2020-01-01T00:00:00Z"},
       {"identity", "create", "-n", "bob", "--kind", "user", "--password",
        std::string(257, 'p')},
       with({}),
       with({"--jwks", (home.path() / "missing.json").string()}),
       with({"--jwks", not_jwks.string()}),
       with({"--jwks", huge.string()}),
       with({"--jwks", "https://k.example", "--claim", "novalue"}),
       with({"--jwks", "https://k.example", "--claim", "=v"}),
       with({"--jwks", "https://k.example", "--claim", "a=1", "--claim", "a=2"}),
       {"identity", "create", "-n", "wl", "--kind", "federated", "--issuer", "issuer.example",
        "--audience", "a", "--subject", "s", "--jwks", "https://k.example"}},
      {"'robot' is not one of user, service-principal, federated", "identity name 'bob smith'",
       "--password is for --kind user", "are for --kind federated", "is in the past",
       "longer than 256", "(--jwks is missing)", "cannot read", "not a JWKS document",
       "larger than 1 MiB", "--claim 'novalue' must be NAME=VALUE", "--claim '=v'",
       "--claim 'a' is given more than once", "--issuer 'issuer.example'"});
}

TEST_F(AccessTest, IdentityListShowDelete) {
  const char* identity = R"({"id":"id-1","name":"alice","kind":"user","enabled":false,
      "expiry":"2027-01-01T00:00:00Z","creationDate":"2026-12-02T06:00:00Z"})";
  fake.answer(200, std::string(R"({"identities":[)") + identity + "]}");
  EXPECT_EQ(run({"identity", "list", "-o", "json"}), 0) << err;
  expect_request("GET", kMgmt + "/identities");
  EXPECT_EQ(json::parse(out), json::parse(std::string("[") + identity + "]"));

  fake.answer(200, identity);
  EXPECT_EQ(run({"identity", "show", "--id", "id-1", "-o", "tsv"}), 0);
  expect_request("GET", kMgmt + "/identities/id-1");
  EXPECT_EQ(out, "id-1\talice\tuser\tfalse\t2027-01-01T00:00:00Z\n");

  fake.answer(204);
  EXPECT_EQ(run({"identity", "delete", "--id", "id-1", "--yes"}), 0);
  expect_request("DELETE", kMgmt + "/identities/id-1");
  EXPECT_EQ(out, "Deleted identity 'id-1' and its role assignments.\n");

  fake.requests.clear();
  expect_refused({{"identity", "delete", "--id", "id-1"}, {"identity", "show", "--id", "../x"}},
                 {"refusing to delete identity 'id-1'", "identity id '../x'"});
}

// ------------------------------------------------------------------ network rules

const char* kRules = R"({"defaultAction":"Deny","ipRules":[
  {"action":"Allow","ipAddressOrRange":"10.0.0.0/24"},{"action":"Allow","ipAddressOrRange":"192.168.1.7"}]})";

// UUID ids, long names and scopes: the table still fits 120 columns, ids whole.
TEST_F(AccessTest, RoleAssignmentAndIdentityTablesFitTheWidth) {
  const std::string id = "3f2b9c1e-0d4a-4a7e-9a51-1b2c3d4e5f60";
  const std::string assignee = "9a8b7c6d-0d4a-4a7e-9a51-1b2c3d4e5f60";
  fake.answer(200, R"({"roleAssignments":[{"id":")" + id + R"(","assignee":")" + assignee +
                       R"(","assigneeName":")" + std::string(60, 'n') +
                       R"(","role":"AcrImageSigner","scope":"/registries/abcdefghij/repositories/)" +
                       "team/" + std::string(60, 'r') + R"("}]})");
  EXPECT_EQ(run({"role", "assignment", "list"}), 0) << err;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    EXPECT_LE(code_points(line), 120u) << line;
  }
  EXPECT_TRUE(contains(out, id)) << out;

  fake.answer(200, R"({"identities":[{"id":")" + id + R"(","name":")" + std::string(80, 'x') +
                       R"(","kind":"servicePrincipal","enabled":true,"expiry":"2099-01-01T00:00:00Z"}]})");
  EXPECT_EQ(run({"identity", "list"}), 0) << err;
  EXPECT_TRUE(contains(out, id)) << out;
  EXPECT_TRUE(contains(out, "…")) << out;
}

TEST_F(AccessTest, NetworkRuleAddListRemove) {
  fake.answer(200, kRules);
  EXPECT_EQ(run({"network-rule", "add", "--name", "abcde", "--ip-address", "10.0.0.0/24"}), 0)
      << err;
  expect_request("POST", kReg + "/network-rules");
  EXPECT_EQ(last_body(), json::parse(R"({"ipAddressOrRange":"10.0.0.0/24"})"));
  EXPECT_EQ(out,
            "ACTION  IP ADDRESS OR RANGE\n"
            "------  -------------------\n"
            "Allow   10.0.0.0/24\n"
            "Allow   192.168.1.7\n"
            "Default action: Deny (addresses no IP rule allows are refused).\n");

  fake.answer(200, kRules);
  EXPECT_EQ(run({"network-rule", "list", "-n", "abcde", "-o", "json"}), 0);
  expect_request("GET", kReg + "/network-rules");
  EXPECT_EQ(json::parse(out), json::parse(kRules));

  fake.answer(200, R"({"defaultAction":"Allow","ipRules":[]})");
  EXPECT_EQ(run({"network-rule", "remove", "-n", "abcde", "--ip-address", "2001:db8::/32"}), 0);
  expect_request("DELETE", kReg + "/network-rules?ipAddressOrRange=2001%3Adb8%3A%3A%2F32");
  EXPECT_TRUE(contains(out, "Default action: Allow")) << out;

  fake.answer(409, R"({"error":{"code":"LimitExceeded","message":"the tier allows 100 rules"}})");
  expect_error(run({"network-rule", "add", "-n", "abcde", "--ip-address", "10.0.0.1"}),
               ExitCode::kConflict, "the tier allows 100 rules");

  fake.requests.clear();
  expect_refused({{"network-rule", "add", "-n", "abcde", "--ip-address", "10.0.0.300"},
                  {"network-rule", "remove", "-n", "abcde", "--ip-address", "10.0.0.0/40"},
                  {"network-rule", "add", "-n", "abcde"}},
                 {"'10.0.0.300' is not an IP address", "'10.0.0.0/40'",
                  "--ip-address is required"});
}

TEST_F(AccessTest, RegistryUpdateTakesTheDefaultAction) {
  fake.answer(200, R"({"name":"abcde"})");
  EXPECT_EQ(run({"registry", "update", "-n", "abcde", "--default-action", "deny",
                 "--admin-enabled", "true"}),
            0)
      << err;
  expect_request("PATCH", kReg);
  EXPECT_EQ(last_body(), json::parse(R"({"adminUserEnabled":true,"defaultAction":"Deny"})"));
  fake.requests.clear();
  expect_refused({{"registry", "update", "-n", "abcde", "--default-action", "Block"}},
                 {"'Block' is not one of Allow, Deny"});
}

// ------------------------------------------------------------------ audit

TEST_F(AccessTest, AuditLoginsBuildsTheQuery) {
  const char* events = R"({"events":[{"time":"2026-12-02T06:00:00Z","registry":"abcde",
      "identity":"ci-token","identityKind":"token","clientAddress":"10.0.0.5","result":"failure",
      "method":"basic","reason":"wrong password"}]})";
  fake.answer(200, events);
  EXPECT_EQ(run({"audit", "logins", "-n", "abcde", "--identity", "ci-token", "--result",
                 "FAILURE", "--since", "2026-12-01T07:00:00+01:00", "--until",
                 "2026-12-02T06:00:00Z", "--top", "50"}),
            0)
      << err;
  expect_request("GET", kReg +
                            "/audit/logins?identity=ci-token&result=failure&since=2026-12-01T06%3A00%"
                            "3A00Z&until=2026-12-02T06%3A00%3A00Z&top=50");
  EXPECT_EQ(out,
            "TIME                  IDENTITY  KIND   CLIENT    RESULT   METHOD  REASON\n"
            "--------------------  --------  -----  --------  -------  ------  --------------\n"
            "2026-12-02T06:00:00Z  ci-token  token  10.0.0.5  failure  basic   wrong password\n");

  fake.answer(200, events);
  EXPECT_EQ(run({"audit", "logins", "-n", "abcde", "-o", "json"}), 0);
  expect_request("GET", kReg + "/audit/logins");
  EXPECT_EQ(json::parse(out), json::parse(events).at("events"));

  fake.requests.clear();
  expect_refused({{"audit", "logins", "-n", "abcde", "--top", "0"},
                  {"audit", "logins", "-n", "abcde", "--top", "10001"},
                  {"audit", "logins", "-n", "abcde", "--top", "1e3"},
                  {"audit", "logins", "-n", "abcde", "--since", "yesterday"},
                  {"audit", "logins", "-n", "abcde", "--since", "2026-12-02T00:00:00Z", "--until",
                   "2026-12-01T00:00:00Z"},
                  {"audit", "logins", "-n", "abcde", "--result", "maybe"},
                  {"audit", "logins", "-n", "abcde", "--identity", "a b"}},
                 {"--top: '0'", "--top: '10001'", "--top: '1e3'", "--since: 'yesterday'",
                  "is after --until", "'maybe' is not one of success, failure",
                  "identity 'a b'"});
}

// ------------------------------------------------------------------ login

class LoginTest : public AccessTest {
 protected:
  fs::path docker_dir = home.path() / "docker-cfg";
  fs::path auth_file = home.path() / "containers" / "auth.json";

  LoginTest() {
    env_vars["DOCKER_CONFIG"] = docker_dir.string();
    env_vars["REGISTRY_AUTH_FILE"] = auth_file.string();
  }

  static std::string auth_of(const std::string& refresh_token) {
    std::string pair(kRefreshTokenUsername);
    pair += ':';
    pair += refresh_token;
    return base64_encode(pair);
  }
};

TEST_F(LoginTest, AdminTokenLoginWritesBothFilesAndKeepsOtherEntries) {
  fs::create_directories(docker_dir);
  { std::ofstream(docker_dir / "config.json") << R"({"auths":{"other.example":{"auth":"eDp5"}},
      "credHelpers":{"gcr.io":"gcloud"}})"; }
  fake.answer(200, R"({"refresh_token":"refresh-abc"})");
  EXPECT_EQ(run({"login", "--name", "abcde"}), 0) << err;

  const auto& request = only_request();
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.url, "http://srv:5000/oauth2/exchange");
  EXPECT_EQ(FakeTransport::header(request, "Content-Type"), "application/x-www-form-urlencoded");
  EXPECT_EQ(form_of(request.body),
            (std::map<std::string, std::string>{
                {"grant_type", "access_token"}, {"service", "srv:5000"}, {"access_token", kToken}}));
  EXPECT_TRUE(request.body.starts_with("grant_type=access_token&")) << request.body;

  json::value docker = json::parse(slurp(docker_dir / "config.json"));
  EXPECT_EQ(docker, json::parse(R"({"auths":{"other.example":{"auth":"eDp5"},
      "srv:5000":{"auth":")" + auth_of("refresh-abc") + R"("}},"credHelpers":{"gcr.io":"gcloud"}})"));
  EXPECT_EQ(mode_of(docker_dir / "config.json"), 0600u);
  json::value containers = json::parse(slurp(auth_file));
  EXPECT_EQ(containers, json::parse(R"({"auths":{"srv:5000":{"auth":")" + auth_of("refresh-abc") +
                                    R"("}}})"));
  EXPECT_EQ(mode_of(auth_file), 0600u);
  EXPECT_EQ(mode_of(auth_file.parent_path()), 0700u);

  // The refresh token is a secret: stored, never printed.
  EXPECT_FALSE(contains(out, "refresh-abc"));
  EXPECT_EQ(out, "Login succeeded: credentials for srv:5000 (registry 'abcde') stored in " +
                     (docker_dir / "config.json").string() + " and " + auth_file.string() + ".\n");

  fake.answer(200, R"({"refresh_token":"refresh-def"})");
  EXPECT_EQ(run({"login", "-n", "abcde", "-o", "json"}), 0) << err;
  EXPECT_EQ(json::parse(out), json::parse(R"({"loginServer":"srv:5000","registry":"abcde",
      "dockerConfig":")" + (docker_dir / "config.json").string() + R"(",
      "containersAuthFile":")" + auth_file.string() + R"("})"));
  EXPECT_EQ(json::parse(slurp(auth_file)).at("auths").at("srv:5000").at("auth"),
            json::value(auth_of("refresh-def")));
}

TEST_F(LoginTest, PasswordLoginAtAGivenLoginServerNeedsNoAdminToken) {
  env_vars.erase("BERTH_TOKEN");
  env_vars.erase("BERTH_SERVER");
  input = "tok-pw-1\n";
  fake.answer(200, R"({"refresh_token":"refresh-tok"})");
  EXPECT_EQ(run({"login", "-n", "abcde", "-u", "ci-token", "--password-stdin", "--login-server",
                 "http://127.0.0.1:5001"}),
            0)
      << err;
  const auto& request = only_request();
  EXPECT_EQ(request.url, "http://127.0.0.1:5001/oauth2/exchange");
  EXPECT_EQ(form_of(request.body), (std::map<std::string, std::string>{
                                       {"grant_type", "password"},
                                       {"service", "127.0.0.1:5001"},
                                       {"username", "ci-token"},
                                       {"password", "tok-pw-1"}}));
  EXPECT_EQ(json::parse(slurp(auth_file)).at("auths").at("127.0.0.1:5001").at("auth"),
            json::value(auth_of("refresh-tok")));
  EXPECT_FALSE(contains(out, "tok-pw-1"));
}

TEST_F(LoginTest, LoginServerWithoutSchemeNamesTheEntryAndUsesTheConfiguredServer) {
  fake.answer(200, R"({"refresh_token":"r"})");
  EXPECT_EQ(run({"login", "-n", "abcde", "-u", "alice", "-p", "pw", "--login-server",
                 "abcde.registry.local:443"}),
            0)
      << err;
  EXPECT_EQ(only_request().url, "http://srv:5000/oauth2/exchange");
  EXPECT_EQ(form_of(only_request().body).at("service"), "abcde.registry.local:443");
  EXPECT_TRUE(json::parse(slurp(docker_dir / "config.json"))
                  .at("auths")
                  .as_object()
                  .contains("abcde.registry.local:443"));
}

TEST_F(LoginTest, ACredentialHelperInTheDockerConfigIsPointedOut) {
  fs::create_directories(docker_dir);
  { std::ofstream(docker_dir / "config.json") << R"({"credsStore":"desktop"})"; }
  fake.answer(200, R"({"refresh_token":"r"})");
  EXPECT_EQ(run({"login", "-n", "abcde"}), 0) << err;
  EXPECT_TRUE(contains(out, "names the credential helper 'desktop' for srv:5000")) << out;
  EXPECT_TRUE(contains(out, "docker login -u 00000000-0000-0000-0000-000000000000 "
                            "--password-stdin srv:5000"))
      << out;

  { std::ofstream(docker_dir / "config.json") << R"({"credsStore":"desktop",
      "credHelpers":{"srv:5000":"pass","other:1":"x"}})"; }
  fake.answer(200, R"({"refresh_token":"r"})");
  EXPECT_EQ(run({"login", "-n", "abcde", "-o", "json"}), 0) << err;
  EXPECT_EQ(json::parse(out).at("dockerCredentialHelper"), "pass");
}

TEST_F(LoginTest, ExposeTokenPrintsTheHostedShapeAndWritesNothing) {
  fake.answer(200, R"({"refresh_token":"refresh-xyz"})");
  EXPECT_EQ(run({"login", "-n", "abcde", "--expose-token", "-o", "json"}), 0) << err;
  EXPECT_EQ(json::parse(out), json::parse(R"({"accessToken":"refresh-xyz","loginServer":"srv:5000",
      "username":"00000000-0000-0000-0000-000000000000"})"));
  EXPECT_FALSE(fs::exists(docker_dir));
  EXPECT_FALSE(fs::exists(auth_file));

  fake.answer(200, R"({"refresh_token":"refresh-xyz"})");
  EXPECT_EQ(run({"login", "-n", "abcde", "--expose-token", "-o", "tsv"}), 0);
  EXPECT_EQ(out, "srv:5000\t00000000-0000-0000-0000-000000000000\trefresh-xyz\n");
}

TEST_F(LoginTest, ContainersFileDefaultsToTheRuntimeDirectory) {
  env_vars.erase("REGISTRY_AUTH_FILE");
  fs::path runtime = home.path() / "run-user";
  fs::create_directories(runtime);
  ::chmod(runtime.c_str(), 0755);
  env_vars["XDG_RUNTIME_DIR"] = runtime.string();
  fake.answer(200, R"({"refresh_token":"r"})");
  EXPECT_EQ(run({"login", "-n", "abcde"}), 0) << err;
  EXPECT_TRUE(fs::exists(runtime / "containers" / "auth.json"));
  EXPECT_EQ(mode_of(runtime / "containers"), 0700u);
  EXPECT_EQ(mode_of(runtime), 0755u);  // an existing directory is not the CLI's to change
}

TEST_F(LoginTest, RefusedLoginWritesNothing) {
  fake.answer(401, R"({"errors":[{"code":"UNAUTHORIZED","message":"invalid username or password"}]})");
  expect_error(run({"login", "-n", "abcde", "-u", "alice", "-p", "wrong"}), ExitCode::kAuth,
               "invalid username or password");
  EXPECT_FALSE(contains(err, "wrong"));
  EXPECT_FALSE(fs::exists(docker_dir));
  EXPECT_FALSE(fs::exists(auth_file));
}

TEST_F(LoginTest, AnUnreadableDockerConfigIsLeftAlone) {
  fs::create_directories(docker_dir);
  { std::ofstream(docker_dir / "config.json") << "{not json"; }
  fake.answer(200, R"({"refresh_token":"r"})");
  expect_error(run({"login", "-n", "abcde"}), ExitCode::kFailure, "is not a JSON object");
  EXPECT_EQ(slurp(docker_dir / "config.json"), "{not json");
}

TEST_F(LoginTest, RefusesBadFlagsBeforeAnyRequest) {
  input = "";
  expect_refused({{"login", "-n", "abcde", "-u", "alice"},
                  {"login", "-n", "abcde", "-p", "pw"},
                  {"login", "-n", "abcde", "--password-stdin"},
                  {"login", "-n", "abcde", "-u", "alice", "-p", "pw", "--password-stdin"},
                  {"login", "-n", "abcde", "-u", "alice", "--password-stdin"},
                  {"login", "-n", "abcde", "--login-server", "http://host/path"},
                  {"login", "-n", "abcde", "--login-server", "host:99999"},
                  {"login"}},
                 {"--username needs --password or --password-stdin", "a password needs --username",
                  "a password needs --username", "excludes", "--password-stdin: nothing on "
                  "standard input", "login server 'http://host/path'", "login server 'host:99999'",
                  "--registry is required"});
}

TEST_F(LoginTest, WithoutATokenTheAdminLoginSaysSo) {
  env_vars.erase("BERTH_TOKEN");
  expect_error(run({"login", "-n", "abcde"}), ExitCode::kAuth, "no token");
  EXPECT_TRUE(fake.requests.empty());
}

}  // namespace
}  // namespace berth::cli
