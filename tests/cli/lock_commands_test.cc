// `berth repository update`: the locks (changeable attributes) of a repository, a tag or a
// manifest, as `az acr repository update` changes them.

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>

#include "cli/app.h"
#include "cli_fixture.h"

namespace berth::cli {
namespace {
namespace json = boost::json;
using testing::CliTest;

const std::string kDigest = "sha256:" + std::string(64, 'c');
const std::string kLocks =
    R"("changeableAttributes":{"deleteEnabled":true,"writeEnabled":false,"readEnabled":true,)"
    R"("listEnabled":true})";

TEST_F(CliTest, RepositoryUpdateOfATagPatchesTheTag) {
  fake.answer(200, R"({"name":"v1","digest":")" + kDigest + R"(",)" + kLocks + "}");
  EXPECT_EQ(run({"repository", "update", "-n", "abcde", "--image", "team/app:v1",
                 "--write-enabled", "false"}),
            0)
      << err;
  EXPECT_EQ(fake.requests.back().method, "PATCH");
  EXPECT_EQ(fake.requests.back().url,
            "http://srv:5000/mgmt/v1/registries/abcde/repositories/team/app/tags/v1");
  EXPECT_EQ(last_body(), json::parse(R"({"writeEnabled":false})"));
  EXPECT_NE(out.find("WRITEENABLED"), std::string::npos) << out;
  EXPECT_NE(out.find("v1"), std::string::npos) << out;
  EXPECT_NE(out.find("false"), std::string::npos) << out;
}

TEST_F(CliTest, RepositoryUpdateOfADigestPatchesTheManifest) {
  fake.answer(200, R"({"digest":")" + kDigest + R"(",)" + kLocks + "}");
  EXPECT_EQ(run({"repository", "update", "--name", "abcde", "--image", "team/app@" + kDigest,
                 "--delete-enabled", "false", "--read-enabled", "true", "-o", "json"}),
            0)
      << err;
  EXPECT_EQ(fake.requests.back().url,
            "http://srv:5000/mgmt/v1/registries/abcde/repositories/team/app/manifests/" + kDigest);
  EXPECT_EQ(last_body(), json::parse(R"({"deleteEnabled":false,"readEnabled":true})"));
  // As json, the item exactly as the API answered it.
  EXPECT_EQ(json::parse(out).as_object().at("changeableAttributes").at("writeEnabled"), false);
}

TEST_F(CliTest, RepositoryUpdateOfARepositoryPatchesTheRepository) {
  fake.answer(200, R"({"name":"team/app",)" + kLocks + "}");
  EXPECT_EQ(run({"repository", "update", "-n", "abcde", "--repository", "team/app",
                 "--list-enabled", "false"}),
            0)
      << err;
  EXPECT_EQ(fake.requests.back().url,
            "http://srv:5000/mgmt/v1/registries/abcde/repositories/team/app");
  EXPECT_EQ(last_body(), json::parse(R"({"listEnabled":false})"));
}

TEST_F(CliTest, RepositoryUpdateRefusesIncompleteOrAmbiguousRequests) {
  expect_error(run({"repository", "update", "-n", "abcde", "--image", "team/app:v1"}),
               ExitCode::kUsage, "nothing to update");
  expect_error(run({"repository", "update", "-n", "abcde", "--write-enabled", "false"}),
               ExitCode::kUsage, "exactly one of --image and --repository");
  expect_error(run({"repository", "update", "-n", "abcde", "--image", "team/app:v1",
                    "--repository", "team/app", "--write-enabled", "false"}),
               ExitCode::kUsage, "exactly one of --image and --repository");
  expect_error(run({"repository", "update", "-n", "abcde", "--image", "team/app",
                    "--write-enabled", "false"}),
               ExitCode::kUsage, "needs a tag or a digest");
  expect_error(run({"repository", "update", "-n", "abcde", "--repository", "team/app",
                    "--write-enabled", "maybe"}),
               ExitCode::kUsage, "--write-enabled");
  EXPECT_TRUE(fake.requests.empty());
}

TEST_F(CliTest, RepositoryUpdateReportsALockedOrMissingItem) {
  fake.answer(404, R"({"error":{"code":"TagNotFound","message":"tag 'v9' does not exist in )"
                   R"(repository 'team/app'","target":"v9"}})");
  expect_error(run({"repository", "update", "-n", "abcde", "--image", "team/app:v9",
                    "--write-enabled", "false"}),
               ExitCode::kNotFound, "tag 'v9' does not exist");
}

}  // namespace
}  // namespace berth::cli
