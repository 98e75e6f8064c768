// The whole command line in-process: flags, settings, requests, output and exit codes.

#include "cli/app.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <boost/json.hpp>
#include <fstream>
#include <sstream>

#include "cli_fixture.h"

namespace berth::cli {
namespace {
namespace json = boost::json;
using testing::CliTest;
using testing::FakeTransport;
using testing::kToken;

const std::string kDigest = "sha256:" + std::string(64, 'c');

const char* kRegistry = R"({"name":"abcde","tier":"Basic","region":"local",
  "loginServer":"abcde.registry.local","createdTime":"2026-01-01T00:00:00Z",
  "adminUserEnabled":false,"anonymousPullEnabled":false,"publicNetworkAccess":true})";

TEST_F(CliTest, VersionAndHelpExitZero) {
  EXPECT_EQ(run({"--version"}), 0);
  EXPECT_EQ(out, "berth " BERTH_VERSION "\n");
  EXPECT_EQ(run({"--help"}), 0);
  EXPECT_NE(out.find("Exit codes:"), std::string::npos);
  EXPECT_NE(out.find("5  conflict"), std::string::npos);
  for (std::vector<std::string> verb : {std::vector<std::string>{"registry", "create"},
                                        {"registry", "show-usage"},
                                        {"repository", "untag"},
                                        {"manifest", "show"},
                                        {"manifest", "restore"},
                                        {"config", "retention", "update"},
                                        {"config", "retention", "run"},
                                        {"purge"},
                                        {"purge", "schedule", "list"},
                                        {"quota", "update"},
                                        {"configure"}}) {
    verb.push_back("--help");
    EXPECT_EQ(run(verb), 0) << verb[0];
    EXPECT_NE(out.find("--output"), std::string::npos) << verb[0];
  }
  EXPECT_TRUE(fake.requests.empty());
}

// Each parse error is one line naming what was typed, as the user typed it.
TEST_F(CliTest, ParseErrorsNameWhatWasTyped) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const Case cases[] = {
      {{},
       "missing command; valid commands: configure, registry, repository, manifest, login, "
       "credential, token, scope-map, role, identity, network-rule, audit, webhook, gc, config, "
       "purge, quota, import, credential-set, cache, build, run (see 'berth --help')"},
      {{"frobnicate"},
       "unknown command 'frobnicate'; valid commands: configure, registry, repository, "
       "manifest, login, credential, token, scope-map, role, identity, network-rule, audit, "
       "webhook, gc, config, purge, quota, import, credential-set, cache, build, run (see 'berth --help')"},
      {{"token", "credential"},
       "missing command for 'berth token credential'; valid commands: generate (see 'berth "
       "token credential --help')"},
      {{"registry"},
       "missing command for 'berth registry'; valid commands: create, list, show, update, "
       "delete, show-usage, check-health (see 'berth registry --help')"},
      {{"manifest", "remove"},
       "unknown command 'remove' for 'berth manifest'; valid commands: list, show, delete, "
       "list-deleted, list-deleted-tags, restore (see 'berth manifest --help')"},
      {{"repository", "frob"},
       "unknown command 'frob' for 'berth repository'; valid commands: list, show, show-tags, "
       "delete, update, untag, list-deleted (see 'berth repository --help')"},
      {{"config", "soft-delete"},
       "missing command for 'berth config soft-delete'; valid commands: show, update (see "
       "'berth config soft-delete --help')"},
      {{"purge", "schedule", "run"},
       "unknown command 'run' for 'berth purge schedule'; valid commands: list, delete (see "
       "'berth purge schedule --help')"},
      {{"purge", "-n", "ab"},
       "-n: registry name 'ab' must be 5-50 letters or digits (see 'berth purge --help')"},
      {{"purge", "-n", "abcde", "now"},
       "unexpected argument 'now' for 'berth purge' (see 'berth purge --help')"},
      {{"registry", "list", "x", "--repository", "app"},
       "unexpected argument 'x' for 'berth registry list' (see 'berth registry list --help')"},
      {{"registry", "list", "--repository", "app"},
       "unknown option '--repository' for 'berth registry list' (see 'berth registry list "
       "--help')"},
      {{"registry", "list", "--bogus=1"},
       "unknown option '--bogus' for 'berth registry list' (see 'berth registry list --help')"},
      {{"registry", "show", "--name", "ab"},
       "--name: registry name 'ab' must be 5-50 letters or digits (see 'berth registry show "
       "--help')"},
      {{"registry", "show", "-n", "ab"},
       "-n: registry name 'ab' must be 5-50 letters or digits (see 'berth registry show "
       "--help')"},
      {{"registry", "show", "--registry=ab"},
       "--registry: registry name 'ab' must be 5-50 letters or digits (see 'berth registry show "
       "--help')"},
      {{"registry", "show"}, "--registry is required (see 'berth registry show --help')"},
      {{"registry", "show", "-n"}, "-n needs a value: NAME (see 'berth registry show --help')"},
      {{"registry", "show", "--name", "abcde", "-r", "fghij"},
       "--name is given more than once (see 'berth registry show --help')"},
      {{"registry", "create", "--name", "abcde", "--admin-enabled", "yes", "--tier", "Basic"},
       "--admin-enabled: 'yes' is not one of true, false (see 'berth registry create --help')"},
      {{"registry", "create", "--name", "abcde", "--sku", "Gold"},
       "--sku: 'Gold' is not one of Basic, Standard, Premium (see 'berth registry create "
       "--help')"},
      {{"registry", "list", "-o", "yaml"},
       "-o: 'yaml' is not one of table, json, tsv (see 'berth registry list --help')"},
  };
  for (const auto& c : cases) {
    expect_error(run(c.args), ExitCode::kUsage);
    EXPECT_EQ(err, "berth: " + c.message + "\n");
  }
  EXPECT_TRUE(fake.requests.empty());
}

TEST_F(CliTest, UsageErrorsExitTwoWithoutCallingTheServer) {
  expect_error(run({"registry", "show", "--name", "has-dash"}), ExitCode::kUsage);
  expect_error(run({"registry", "create", "--name", "abcde"}), ExitCode::kUsage, "--tier");
  expect_error(run({"registry", "create", "--name", "abcde", "--tier", "Gold"}), ExitCode::kUsage,
               "--tier: 'Gold' is not one of Basic, Standard, Premium");
  expect_error(run({"registry", "update", "--name", "abcde"}), ExitCode::kUsage,
               "nothing to update");
  expect_error(run({"repository", "show", "-n", "abcde", "--repository", "Bad/Name"}),
               ExitCode::kUsage, "repository name");
  expect_error(run({"repository", "untag", "-n", "abcde", "--image", "app"}), ExitCode::kUsage,
               "needs a tag or a digest");
  expect_error(run({"repository", "untag", "-n", "abcde", "--image", "app@" + kDigest}),
               ExitCode::kUsage, "manifest delete");
  expect_error(run({"manifest", "show", "-r", "abcde", "--image", "app@sha256:12"}),
               ExitCode::kUsage, "digest");
  EXPECT_TRUE(fake.requests.empty());
}

TEST_F(CliTest, DeletesRefuseWithoutYes) {
  expect_error(run({"registry", "delete", "--name", "abcde"}), ExitCode::kUsage,
               "refusing to delete registry 'abcde' without --yes");
  expect_error(run({"repository", "delete", "--name", "abcde", "--repository", "app"}),
               ExitCode::kUsage, "without --yes");
  expect_error(run({"manifest", "delete", "--registry", "abcde", "--image", "app@" + kDigest}),
               ExitCode::kUsage, "without --yes");
  expect_error(run({"manifest", "delete", "--registry", "abcde", "--image", "app:v1"}),
               ExitCode::kUsage, "without --yes");
  EXPECT_TRUE(fake.requests.empty());
}

TEST_F(CliTest, ListPrintsTableJsonOrTsv) {
  std::string answer = std::string(R"({"registries":[)") + kRegistry + "]}";
  fake.answer(200, answer);
  EXPECT_EQ(run({"registry", "list"}), 0) << err;
  EXPECT_EQ(err, "");
  EXPECT_TRUE(out.starts_with("NAME   TIER   REGION")) << out;
  EXPECT_NE(out.find("abcde  Basic  local"), std::string::npos) << out;
  EXPECT_EQ(FakeTransport::header(fake.requests.back(), "Authorization"),
            std::string("Bearer ") + kToken);
  EXPECT_EQ(fake.requests.back().url, "http://srv:5000/mgmt/v1/registries");

  fake.answer(200, answer);
  EXPECT_EQ(run({"registry", "list", "-o", "json"}), 0);
  EXPECT_EQ(json::parse(out), json::parse(std::string("[") + kRegistry + "]"));
  EXPECT_TRUE(out.starts_with("[\n  {\n    \"name\": \"abcde\",\n")) << out;

  fake.answer(200, answer);
  EXPECT_EQ(run({"registry", "list", "--output", "TSV"}), 0);
  EXPECT_EQ(out,
            "abcde\tBasic\tlocal\tabcde.registry.local\t2026-01-01T00:00:00Z\tfalse\tfalse\t"
            "true\n");
}

TEST_F(CliTest, ServerErrorsMapToExitCodes) {
  struct Case {
    long status;
    const char* body;
    ExitCode code;
    const char* message;
  };
  const Case cases[] = {
      {404, R"({"error":{"code":"RegistryNotFound","message":"registry 'abcde' does not exist"}})",
       ExitCode::kNotFound, "berth: registry 'abcde' does not exist\n"},
      {409, R"({"error":{"code":"RegistryNameTaken","message":"name 'abcde' is taken"}})",
       ExitCode::kConflict, "berth: name 'abcde' is taken\n"},
      {401, R"({"error":{"code":"Unauthorized","message":"invalid token"}})", ExitCode::kAuth,
       "berth: invalid token\n"},
      {400, R"({"error":{"code":"InvalidTier","message":"bad tier"}})", ExitCode::kUsage,
       "berth: bad tier\n"},
      {500, R"({"error":{"code":"InternalError","message":"disk on fire"}})", ExitCode::kFailure,
       "berth: disk on fire\n"},
  };
  for (const auto& c : cases) {
    fake.answer(c.status, c.body);
    expect_error(run({"registry", "show", "--name", "abcde"}), c.code);
    EXPECT_EQ(err, c.message);
  }
  // No answer at all: the network error.
  expect_error(run({"registry", "show", "--name", "abcde"}), ExitCode::kFailure, "cannot reach");
}

TEST_F(CliTest, MissingServerOrTokenIsReportedBeforeAnyRequest) {
  env_vars.erase("BERTH_SERVER");
  expect_error(run({"registry", "list"}), ExitCode::kUsage, "no server");
  env_vars["BERTH_SERVER"] = "http://srv";
  env_vars.erase("BERTH_TOKEN");
  expect_error(run({"registry", "list"}), ExitCode::kAuth, "no token");
  expect_error(run({"registry", "list", "--server", "srv:5000", "--token", "t"}), ExitCode::kUsage,
               "must start with http://");
  EXPECT_TRUE(fake.requests.empty());
}

TEST_F(CliTest, FlagsOverrideEnvironment) {
  fake.answer(200, R"({"registries":[]})");
  EXPECT_EQ(run({"registry", "list", "--server", "http://other:1/", "--token", "flagtoken"}), 0);
  EXPECT_EQ(fake.requests.back().url, "http://other:1/mgmt/v1/registries");
  EXPECT_EQ(FakeTransport::header(fake.requests.back(), "Authorization"), "Bearer flagtoken");
}

TEST_F(CliTest, ConnectionAndOutputFlagsMayAlsoComeBeforeTheVerb) {
  fake.answer(200, R"({"registries":[]})");
  EXPECT_EQ(
      run({"--server", "http://early:2", "--token", "early", "-o", "json", "registry", "list"}), 0)
      << err;
  EXPECT_EQ(fake.requests.back().url, "http://early:2/mgmt/v1/registries");
  EXPECT_EQ(FakeTransport::header(fake.requests.back(), "Authorization"), "Bearer early");
  EXPECT_EQ(out, "[]\n");
}

TEST_F(CliTest, CreateSendsTheGivenFieldsInApiSpelling) {
  fake.answer(201, kRegistry);
  EXPECT_EQ(run({"registry", "create", "--name", "abcde", "--tier", "premium", "--region", "eu",
                 "--admin-enabled", "TRUE", "--anonymous-pull-enabled", "false"}),
            0)
      << err;
  EXPECT_EQ(fake.requests.back().method, "POST");
  EXPECT_EQ(last_body(), json::parse(R"({"name":"abcde","tier":"Premium","region":"eu",
                                          "adminUserEnabled":true,"anonymousPullEnabled":false})"));
  EXPECT_NE(out.find("abcde.registry.local"), std::string::npos);
}

TEST_F(CliTest, UpdateSendsOnlyWhatChanged) {
  fake.answer(200, kRegistry);
  EXPECT_EQ(run({"registry", "update", "-n", "abcde", "--public-network-enabled", "false"}), 0);
  EXPECT_EQ(fake.requests.back().method, "PATCH");
  EXPECT_EQ(fake.requests.back().url, "http://srv:5000/mgmt/v1/registries/abcde");
  EXPECT_EQ(last_body(), json::parse(R"({"publicNetworkAccess":false})"));
  fake.answer(200, kRegistry);
  EXPECT_EQ(run({"registry", "update", "-n", "abcde", "--tier", "Standard"}), 0);
  EXPECT_EQ(last_body(), json::parse(R"({"tier":"Standard"})"));
}

TEST_F(CliTest, DeleteWithYesConfirmsInTableAndIsSilentForScripts) {
  fake.answer(204);
  EXPECT_EQ(run({"registry", "delete", "--name", "abcde", "--yes"}), 0);
  EXPECT_EQ(fake.requests.back().method, "DELETE");
  EXPECT_EQ(out, "Deleted registry 'abcde' and all its content.\n");
  fake.answer(204);
  EXPECT_EQ(
      run({"repository", "delete", "-n", "abcde", "--repository", "team/app", "-y", "-o", "json"}),
      0);
  EXPECT_EQ(fake.requests.back().url,
            "http://srv:5000/mgmt/v1/registries/abcde/repositories/team/app");
  EXPECT_EQ(out, "");
}

TEST_F(CliTest, UntagDeletesTheTag) {
  fake.answer(204);
  EXPECT_EQ(run({"repository", "untag", "--name", "abcde", "--image", "team/app:v1"}), 0);
  EXPECT_EQ(fake.requests.back().method, "DELETE");
  EXPECT_EQ(fake.requests.back().url,
            "http://srv:5000/mgmt/v1/registries/abcde/repositories/team/app/tags/v1");
}

TEST_F(CliTest, ManifestShowResolvesATagThroughTheListing) {
  fake.answer(200, R"({"tags":[{"name":"v0","digest":"sha256:0"},{"name":"v1","digest":")" +
                       kDigest + R"("}]})");
  fake.answer(200, R"({"digest":")" + kDigest + R"(","size":5,"content":"{}"})");
  EXPECT_EQ(run({"manifest", "show", "--registry", "abcde", "--image", "app:v1", "-o", "json"}), 0)
      << err;
  ASSERT_EQ(fake.requests.size(), 2u);
  EXPECT_EQ(fake.requests[0].url, "http://srv:5000/mgmt/v1/registries/abcde/repositories/app/tags");
  EXPECT_EQ(fake.requests[1].url,
            "http://srv:5000/mgmt/v1/registries/abcde/repositories/app/manifests/" + kDigest);
  EXPECT_EQ(json::parse(out).at("content"), "{}");
}

TEST_F(CliTest, ManifestShowOfAnUnknownTagIsNotFound) {
  fake.answer(200, R"({"tags":[]})");
  expect_error(run({"manifest", "show", "-r", "abcde", "--image", "app:nope"}), ExitCode::kNotFound,
               "tag 'nope' does not exist in repository 'app'");
}

TEST_F(CliTest, ManifestShowByDigestSkipsTheTags) {
  fake.answer(200, R"({"digest":")" + kDigest + R"(","tags":["v1"]})");
  EXPECT_EQ(run({"manifest", "show", "-r", "abcde", "--image", "app@" + kDigest, "-o", "tsv"}), 0);
  EXPECT_EQ(fake.requests.size(), 1u);
  EXPECT_EQ(out, kDigest + "\t\t\t\t\tv1\n");
}

TEST_F(CliTest, ManifestDeleteByTagDeletesTheManifestTheTagPointsAt) {
  fake.answer(200, R"({"tags":[{"name":"v0","digest":"sha256:0"},{"name":"v1","digest":")" +
                       kDigest + R"("}]})");
  fake.answer(204);
  EXPECT_EQ(run({"manifest", "delete", "-r", "abcde", "--image", "team/app:v1", "--yes"}), 0)
      << err;
  ASSERT_EQ(fake.requests.size(), 2u);
  EXPECT_EQ(fake.requests[0].url,
            "http://srv:5000/mgmt/v1/registries/abcde/repositories/team/app/tags");
  EXPECT_EQ(fake.requests[1].method, "DELETE");
  EXPECT_EQ(fake.requests[1].url,
            "http://srv:5000/mgmt/v1/registries/abcde/repositories/team/app/manifests/" + kDigest);
  EXPECT_EQ(out, "Deleted manifest 'team/app@" + kDigest +
                     "' (tag 'v1' and every tag pointing at it) from registry 'abcde'.\n");
}

TEST_F(CliTest, ManifestDeleteOfAnUnknownTagDeletesNothing) {
  fake.answer(200, R"({"tags":[{"name":"v0","digest":")" + kDigest + R"("}]})");
  expect_error(run({"manifest", "delete", "-r", "abcde", "--image", "app:v1", "-y"}),
               ExitCode::kNotFound, "tag 'v1' does not exist in repository 'app'");
  EXPECT_EQ(fake.requests.size(), 1u);
}

TEST_F(CliTest, ListsPrintTheArrayOfItemsAsJson) {
  fake.answer(200, R"({"manifests":[{"digest":")" + kDigest + R"("}]})");
  EXPECT_EQ(run({"manifest", "list", "-r", "abcde", "--repository", "app", "-o", "json"}), 0);
  EXPECT_EQ(json::parse(out), json::parse(R"([{"digest":")" + kDigest + R"("}])"));
  for (std::vector<std::string> verb :
       {std::vector<std::string>{"registry", "list"},
        {"repository", "list", "-n", "abcde"},
        {"repository", "show-tags", "-n", "abcde", "--repository", "app"}}) {
    fake.answer(200, R"({"registries":[],"repositories":[],"tags":[]})");
    verb.insert(verb.end(), {"-o", "json"});
    EXPECT_EQ(run(verb), 0) << verb[0];
    EXPECT_EQ(out, "[]\n") << verb[0];
  }
}

TEST_F(CliTest, UsageJsonHasTheShapeOfAzAcrShowUsage) {
  fake.answer(200, R"({"registry":"abcde","storage":{"usedBytes":2048,"includedBytes":4096,
    "softDeletedBytes":512},
    "counts":[{"name":"Webhooks","current":1,"limit":2}],
    "repositories":[{"name":"team/app","usedBytes":1024}]})");
  EXPECT_EQ(run({"registry", "show-usage", "-n", "abcde", "-o", "json"}), 0) << err;
  EXPECT_EQ(json::parse(out), json::parse(R"({"value":[
    {"name":"Size","unit":"Bytes","currentValue":2048,"limit":4096},
    {"name":"SoftDeletedSize","unit":"Bytes","currentValue":512,"limit":null},
    {"name":"Webhooks","unit":"Count","currentValue":1,"limit":2},
    {"name":"repository:team/app","unit":"Bytes","currentValue":1024,"limit":null}]})"));
}

TEST_F(CliTest, ConfigureStoresSettingsPrivatelyAndNeverShowsTheToken) {
  env_vars.erase("BERTH_SERVER");
  env_vars.erase("BERTH_TOKEN");
  EXPECT_EQ(run({"configure", "--server", "http://stored:5000/", "--token", kToken}), 0) << err;
  auto file = home.path() / ".config" / "berth" / "config.json";
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_NE(out.find("http://stored:5000"), std::string::npos);

  EXPECT_EQ(run({"configure", "-o", "json"}), 0);
  auto shown = json::parse(out);
  EXPECT_EQ(shown.at("server"), "http://stored:5000");
  EXPECT_EQ(shown.at("tokenStored"), true);
  EXPECT_EQ(shown.at("configFile"), json::value(file.string()));

  fake.answer(200, R"({"registries":[]})");
  EXPECT_EQ(run({"registry", "list"}), 0);
  EXPECT_EQ(fake.requests.back().url, "http://stored:5000/mgmt/v1/registries");
  EXPECT_EQ(FakeTransport::header(fake.requests.back(), "Authorization"),
            std::string("Bearer ") + kToken);

  expect_error(run({"configure", "--server", "nope"}), ExitCode::kUsage, "http://");
}

TEST_F(CliTest, ConfigureKeepsTheOtherField) {
  EXPECT_EQ(run({"configure", "--server", "http://a", "--token", "t1"}), 0);
  EXPECT_EQ(run({"configure", "--server", "http://b"}), 0);
  EXPECT_EQ(run({"configure", "-o", "tsv"}), 0);
  EXPECT_TRUE(out.starts_with("http://b\ttrue\t")) << out;
}

TEST_F(CliTest, TokenDashReadsStandardInput) {
  env_vars.erase("BERTH_TOKEN");
  input = std::string(kToken) + "\n";
  fake.answer(200, R"({"registries":[]})");
  EXPECT_EQ(run({"registry", "list", "--token", "-"}), 0) << err;
  EXPECT_EQ(FakeTransport::header(fake.requests.back(), "Authorization"),
            std::string("Bearer ") + kToken);
  input.clear();
  expect_error(run({"registry", "list", "--token", "-"}), ExitCode::kUsage, "standard input");
}

TEST_F(CliTest, UnreadableConfigFileIsAFailure) {
  env_vars.erase("BERTH_TOKEN");
  auto dir = home.path() / ".config" / "berth";
  std::filesystem::create_directories(dir);
  { std::ofstream(dir / "config.json") << "{broken"; }
  expect_error(run({"registry", "list"}), ExitCode::kFailure, "not a JSON object");
}

}  // namespace
}  // namespace berth::cli
