// The import, credential-set and cache verbs in-process: the request each one sends, what it
// prints in table, json and tsv, how `import` follows its job (plain progress lines when
// standard error is not a terminal, a bar when it is), a failed import's exit status, what is
// refused before any request (exit 2), and that passwords never show.

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>
#include <vector>

#include "cli_fixture.h"

namespace berth::cli {
namespace {
namespace json = boost::json;
using testing::CliTest;

const std::string kReg = "http://srv:5000/mgmt/v1/registries/myreg";
const std::string kImports = kReg + "/imports";
const std::string kSets = kReg + "/credential-sets";
const std::string kRules = kReg + "/cache-rules";
constexpr const char* kPassword = "upstream-pw-3e9d-do-not-print";
constexpr std::uint64_t kMiB = 1024 * 1024;
const std::string kDigest =
    "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

// An import resource as the server answers it.
std::string import_json(std::string_view status, std::uint64_t done = 0, std::uint64_t total = 0,
                        std::uint64_t blobs_done = 0, std::uint64_t blobs_total = 0,
                        std::string_view error = "") {
  std::string result = "null";
  std::string finished = "null";
  if (status == "Succeeded") {
    result = fmt::format(
        R"({{"digest":"{}","mediaType":"application/vnd.oci.image.index.v1+json","manifests":2,)"
        R"("blobs":4,"bytes":{},"bytesCopied":{},"tags":["app:v1"],)"
        R"("untaggedRepositories":["mirror/alpine"]}})",
        kDigest, total, done);
  }
  if (status == "Succeeded" || status == "Failed") finished = R"("2026-12-02T15:04:09Z")";
  return fmt::format(
      R"({{"id":"12","registry":"myreg","status":"{}",)"
      R"("source":{{"registryUri":"docker.io","sourceImage":"library/alpine:3.20"}},)"
      R"("targetTags":["app:v1"],"untaggedTargetRepositories":["mirror/alpine"],)"
      R"("mode":"NoForce","includeReferrers":false,)"
      R"("progress":{{"bytesTotal":{},"bytesDone":{},"blobsTotal":{},"blobsDone":{}}},)"
      R"("result":{},"error":{},"createdTime":"2026-12-02T15:04:05Z",)"
      R"("startedTime":"2026-12-02T15:04:06Z","finishedTime":{}}})",
      status, total, done, blobs_total, blobs_done, result,
      error.empty() ? std::string("null") : fmt::format(R"("{}")", error), finished);
}

const char* kCredentialSet = R"({"name":"dockerhub","registry":"myreg","loginServer":"docker.io",
  "username":"me","createdTime":"2026-12-02T15:04:05Z","lastUpdatedTime":"2026-12-02T15:04:06Z"})";

const char* kCacheRule = R"({"name":"hub-library","registry":"myreg",
  "sourceRepository":"docker.io/library/*","targetRepository":"hub/*",
  "credentialSet":"dockerhub","tagTtlSeconds":600,"allowPush":false,
  "createdTime":"2026-12-02T15:04:05Z","lastUpdatedTime":"2026-12-02T15:04:05Z"})";

class UpstreamTest : public CliTest {
 protected:
  void SetUp() override { env_vars.emplace("BERTH_POLL_INTERVAL_MS", "1"); }

  void expect_request(std::size_t index, const char* method, const std::string& url) {
    ASSERT_GT(fake.requests.size(), index);
    EXPECT_EQ(fake.requests[index].method, method);
    EXPECT_EQ(fake.requests[index].url, url);
  }

  json::value body(std::size_t index) { return json::parse(fake.requests.at(index).body); }

  // The password shows nowhere: not on stdout, not on stderr.
  void expect_no_password() {
    EXPECT_EQ(out.find(kPassword), std::string::npos) << out;
    EXPECT_EQ(err.find(kPassword), std::string::npos) << err;
  }

  // Each run fails with exit 2 before any request, its message holding the fragment.
  void expect_refused(const std::vector<std::pair<std::vector<std::string>, std::string>>& runs) {
    for (std::size_t i = 0; i < runs.size(); ++i) {
      SCOPED_TRACE(::testing::Message() << "run " << i << ": " << runs[i].second);
      expect_error(run(runs[i].first), ExitCode::kUsage, runs[i].second);
      expect_no_password();
    }
    EXPECT_TRUE(fake.requests.empty());
  }
};

bool contains(const std::string& text, std::string_view fragment) {
  return text.find(fragment) != std::string::npos;
}

// ------------------------------------------------------------------ import

TEST_F(UpstreamTest, ImportSendsTheBodyFollowsTheJobAndPrintsWhatItImported) {
  fake.answer(202, import_json("Queued"));
  fake.answer(200, import_json("Running"));
  fake.answer(200, import_json("Running", 8 * kMiB, 40 * kMiB, 1, 4));
  fake.answer(200, import_json("Running", 10 * kMiB, 40 * kMiB, 2, 4));  // same tenth: no line
  fake.answer(200, import_json("Running", 40 * kMiB, 40 * kMiB, 4, 4));
  fake.answer(200, import_json("Succeeded", 40 * kMiB, 40 * kMiB, 4, 4));
  EXPECT_EQ(run({"import", "--name", "myreg", "--source", "docker.io/library/alpine:3.20",
                 "--image", "app:v1", "-t", "app:stable", "--untagged", "--repository",
                 "mirror/alpine", "--force", "--include-referrers"}),
            0)
      << err;
  ASSERT_EQ(fake.requests.size(), 6u);
  expect_request(0, "POST", kImports);
  EXPECT_EQ(body(0), json::parse(R"({"source":{"registryUri":"docker.io",
      "sourceImage":"library/alpine:3.20"},"targetTags":["app:v1","app:stable"],
      "untaggedTargetRepositories":["mirror/alpine"],"mode":"Force","includeReferrers":true})"));
  for (std::size_t i = 1; i < 6; ++i) expect_request(i, "GET", kImports + "/12");
  // Standard error is no terminal here: a line per status and per tenth of the bytes.
  EXPECT_EQ(err,
            "import 12: Queued\n"
            "import 12: Running\n"
            "import 12: Running, 8.0 MiB of 40.0 MiB (20%), 1 of 4 blobs\n"
            "import 12: Running, 40.0 MiB of 40.0 MiB (100%), 4 of 4 blobs\n");
  EXPECT_EQ(out,
            "ID  STATUS     SOURCE                         TARGETS                          DONE  "
            "    TOTAL     CREATED\n"
            "--  ---------  -----------------------------  -------------------------------  "
            "--------  --------  --------------------\n"
            "12  Succeeded  docker.io/library/alpine:3.20  app:v1,mirror/alpine (untagged)  "
            "40.0 MiB  40.0 MiB  2026-12-02T15:04:05Z\n"
            "Imported " +
                kDigest + " to app:v1, mirror/alpine (untagged): 2 manifests, 4 blobs, 40.0 MiB "
                          "copied.\n");
}

TEST_F(UpstreamTest, ImportSendsOnlyTheSourceByDefaultAndNoWaitAnswersAtOnce) {
  fake.answer(202, import_json("Queued"));
  EXPECT_EQ(run({"import", "-n", "myreg", "--source", "docker.io/library/alpine@" + kDigest,
                 "--no-wait", "-o", "json"}),
            0)
      << err;
  ASSERT_EQ(fake.requests.size(), 1u);
  EXPECT_EQ(body(0), json::parse(R"({"source":{"registryUri":"docker.io",
      "sourceImage":"library/alpine@)" + kDigest + R"("},"mode":"NoForce","includeReferrers":false})"));
  EXPECT_EQ(json::parse(out), json::parse(import_json("Queued")));
  EXPECT_EQ(err, "");

  fake.answer(202, import_json("Queued"));
  EXPECT_EQ(run({"import", "-n", "myreg", "--source", "docker.io/library/alpine:3.20",
                 "--no-wait"}),
            0)
      << err;
  EXPECT_TRUE(contains(out, "started; follow it with: berth import show --name myreg --id 12"))
      << out;
}

TEST_F(UpstreamTest, ImportUntaggedWithoutRepositoryCopiesToTheSourcesRepository) {
  fake.answer(202, import_json("Queued"));
  EXPECT_EQ(run({"import", "-n", "myreg", "--source", "ghcr.io/org/tool:1.0", "--untagged",
                 "--no-wait"}),
            0)
      << err;
  EXPECT_EQ(body(0), json::parse(R"({"source":{"registryUri":"ghcr.io","sourceImage":"org/tool:1.0"},
      "untaggedTargetRepositories":["org/tool"],"mode":"NoForce","includeReferrers":false})"));
}

TEST_F(UpstreamTest, ImportLogsInWithAPasswordOrACredentialSet) {
  input = std::string(kPassword) + "\n";
  fake.answer(202, import_json("Queued"));
  EXPECT_EQ(run({"import", "-n", "myreg", "--source", "docker.io/me/private:1", "-u", "me",
                 "--password-stdin", "--no-wait"}),
            0)
      << err;
  EXPECT_EQ(body(0).at("source"), json::parse(std::string(R"({"registryUri":"docker.io",
      "sourceImage":"me/private:1","credentials":{"username":"me","password":")") +
                                              kPassword + R"("}})"));
  expect_no_password();

  fake.answer(202, import_json("Queued"));
  EXPECT_EQ(run({"import", "-n", "myreg", "--source", "docker.io/me/private:1", "--username",
                 "me", "--password", kPassword, "--no-wait", "-o", "json"}),
            0)
      << err;
  EXPECT_EQ(body(1).at("source").at("credentials").at("password"), json::value(kPassword));
  expect_no_password();

  fake.answer(202, import_json("Queued"));
  EXPECT_EQ(run({"import", "-n", "myreg", "--source", "docker.io/me/private:1",
                 "--credential-set", "dockerhub", "--no-wait"}),
            0)
      << err;
  EXPECT_EQ(body(2).at("source"), json::parse(R"({"registryUri":"docker.io",
      "sourceImage":"me/private:1","credentialSet":"dockerhub"})"));
}

TEST_F(UpstreamTest, AFailedImportExitsOneWithTheJobsError) {
  input = std::string(kPassword) + "\n";
  fake.answer(202, import_json("Queued"));
  fake.answer(200, import_json("Failed", 0, 0, 0, 0,
                               "cannot fetch library/alpine:3.20 from docker.io: unauthorized"));
  EXPECT_EQ(run({"import", "-n", "myreg", "--source", "docker.io/library/alpine:3.20", "-u", "me",
                 "--password-stdin"}),
            static_cast<int>(ExitCode::kFailure));
  EXPECT_EQ(out, "");
  EXPECT_EQ(err,
            "import 12: Queued\n"
            "berth: import 12 failed: cannot fetch library/alpine:3.20 from docker.io: "
            "unauthorized\n");
  expect_no_password();
}

TEST_F(UpstreamTest, ALostConnectionWhileWaitingSaysTheImportGoesOn) {
  fake.answer(202, import_json("Running", 1, 10));
  // No second answer: the transport fails as a dead network does.
  EXPECT_EQ(run({"import", "-n", "myreg", "--source", "docker.io/library/alpine:3.20"}),
            static_cast<int>(ExitCode::kFailure));
  EXPECT_TRUE(contains(err, "cannot reach the server")) << err;
  EXPECT_TRUE(contains(err, "import 12 goes on: 'berth import show --name myreg --id 12'")) << err;
}

TEST_F(UpstreamTest, OnATerminalImportDrawsABarAndClearsIt) {
  err_is_terminal = true;
  fake.answer(202, import_json("Running", 10 * kMiB, 40 * kMiB, 1, 4));
  fake.answer(200, import_json("Succeeded", 40 * kMiB, 40 * kMiB, 4, 4));
  EXPECT_EQ(run({"import", "-n", "myreg", "--source", "docker.io/library/alpine:3.20"}), 0)
      << err;
  EXPECT_EQ(err,
            "\r\033[Kimport 12 Running  [#####---------------]  25%  10.0 MiB/40.0 MiB"
            "\r\033[K");
  EXPECT_TRUE(out.starts_with("ID  STATUS")) << out;
}

TEST_F(UpstreamTest, ImportShowAndListFollowTheJobs) {
  fake.answer(200, import_json("Running", 10 * kMiB, 40 * kMiB, 1, 4));
  EXPECT_EQ(run({"import", "show", "--name", "myreg", "--id", "12", "-o", "tsv"}), 0) << err;
  expect_request(0, "GET", kImports + "/12");
  EXPECT_EQ(out,
            "12\tRunning\tdocker.io/library/alpine:3.20\tapp:v1,mirror/alpine (untagged)\t"
            "10485760\t41943040\t2026-12-02T15:04:05Z\n");

  // The registry may come before the subcommand, as import's own flag.
  fake.answer(200, import_json("Succeeded", 40 * kMiB, 40 * kMiB, 4, 4));
  EXPECT_EQ(run({"import", "-n", "myreg", "show", "--id", "12", "-o", "json"}), 0) << err;
  expect_request(1, "GET", kImports + "/12");
  EXPECT_EQ(json::parse(out), json::parse(import_json("Succeeded", 40 * kMiB, 40 * kMiB, 4, 4)));

  fake.answer(200, "{\"imports\":[" + import_json("Failed", 0, 0, 0, 0, "no such tag") +
                       "],\"next\":\"12\"}");
  EXPECT_EQ(run({"import", "list", "-n", "myreg", "--top", "1", "--before", "20"}), 0) << err;
  expect_request(2, "GET", kImports + "?top=1&before=20");
  EXPECT_TRUE(contains(out, "12  Failed")) << out;
  EXPECT_TRUE(contains(out, "More imports follow: add --before 12 for the next page.")) << out;

  fake.answer(404, R"({"error":{"code":"NotFound","message":"import 99 does not exist in registry 'myreg'"}})");
  expect_error(run({"import", "show", "-n", "myreg", "--id", "99"}), ExitCode::kNotFound,
               "import 99 does not exist");
}

TEST_F(UpstreamTest, ImportRefusesBadFlagsBeforeAnyRequest) {
  const std::string src = "docker.io/library/alpine:3.20";
  std::vector<std::string> too_many{"import", "-n", "myreg", "--source", src};
  for (int i = 0; i < 51; ++i) {
    too_many.push_back("--image");
    too_many.push_back(fmt::format("app:v{}", i));
  }
  expect_refused({
      {{"import", "--source", src}, "--name is required"},
      {{"import", "-n", "myreg"}, "--source is required"},
      {{"import", "-n", "myreg", "--source", "library/alpine:3"}, "not a registry host"},
      {{"import", "-n", "myreg", "--source", "docker.io/Alpine:3"}, "repository name"},
      {{"import", "-n", "myreg", "--source", src, "--image", "app@" + kDigest},
       "must be REPOSITORY:TAG"},
      {{"import", "-n", "myreg", "--source", src, "--image", "app"}, "needs a tag or a digest"},
      {{"import", "-n", "myreg", "--source", src, "--repository", "mirror"}, "give --untagged"},
      {{"import", "-n", "myreg", "--source", src, "--untagged", "--repository", "Mirror"},
       "repository name 'Mirror'"},
      {{"import", "-n", "myreg", "--source", src, "--password", kPassword}, "needs --username"},
      {{"import", "-n", "myreg", "--source", src, "-u", "me"}, "--username needs --password"},
      {{"import", "-n", "myreg", "--source", src, "-u", "me", "-p", kPassword,
        "--credential-set", "dockerhub"},
       "excludes"},
      {{"import", "-n", "myreg", "--source", src, "--credential-set", "hub"},
       "credential set name 'hub'"},
      {{"import", "-n", "myreg", "--source", src, "show", "--id", "1"},
       "belongs to 'berth import' itself"},
      {{"import", "show", "-n", "myreg"}, "--id"},
      {{"import", "show", "-n", "myreg", "--id", "0"}, "not an import id"},
      {{"import", "show", "--id", "1"}, "--name is required"},
      {{"import", "list", "-n", "myreg", "--top", "101"}, "from 1 to 100"},
      {too_many, "at most 50 targets"},
  });
}

// ------------------------------------------------------------------ credential sets

TEST_F(UpstreamTest, CredentialSetCreateSendsThePasswordOnceAndNeverPrintsIt) {
  fake.answer(201, kCredentialSet);
  EXPECT_EQ(run({"credential-set", "create", "-r", "myreg", "-n", "dockerhub", "--login-server",
                 "docker.io", "--username", "me", "--password", kPassword}),
            0)
      << err;
  expect_request(0, "POST", kSets);
  EXPECT_EQ(body(0), json::parse(std::string(R"({"name":"dockerhub","loginServer":"docker.io",
      "username":"me","password":")") + kPassword + R"("})"));
  EXPECT_EQ(out,
            "NAME       LOGIN SERVER  USERNAME  CREATED               UPDATED\n"
            "---------  ------------  --------  --------------------  --------------------\n"
            "dockerhub  docker.io     me        2026-12-02T15:04:05Z  2026-12-02T15:04:06Z\n");
  expect_no_password();

  input = std::string(kPassword) + "\r\n";
  fake.answer(201, kCredentialSet);
  EXPECT_EQ(run({"credential-set", "create", "--registry", "myreg", "--name", "dockerhub",
                 "--login-server", "docker.io", "-u", "me", "--password-stdin", "-o", "json"}),
            0)
      << err;
  EXPECT_EQ(body(1).at("password"), json::value(kPassword));
  EXPECT_EQ(json::parse(out), json::parse(kCredentialSet));
  expect_no_password();
}

TEST_F(UpstreamTest, CredentialSetListShowUpdateDelete) {
  fake.answer(200, std::string("{\"credentialSets\":[") + kCredentialSet + "]}");
  EXPECT_EQ(run({"credential-set", "list", "-r", "myreg", "-o", "tsv"}), 0) << err;
  expect_request(0, "GET", kSets);
  EXPECT_EQ(out, "dockerhub\tdocker.io\tme\t2026-12-02T15:04:05Z\t2026-12-02T15:04:06Z\n");

  fake.answer(200, kCredentialSet);
  EXPECT_EQ(run({"credential-set", "show", "-r", "myreg", "-n", "dockerhub", "-o", "json"}), 0)
      << err;
  expect_request(1, "GET", kSets + "/dockerhub");
  EXPECT_EQ(json::parse(out), json::parse(kCredentialSet));

  input = std::string(kPassword) + "\n";
  fake.answer(200, kCredentialSet);
  EXPECT_EQ(run({"credential-set", "update", "-r", "myreg", "-n", "dockerhub", "--password-stdin"}),
            0)
      << err;
  expect_request(2, "PATCH", kSets + "/dockerhub");
  EXPECT_EQ(body(2), json::parse(std::string(R"({"password":")") + kPassword + R"("})"));
  expect_no_password();

  fake.answer(200, kCredentialSet);
  EXPECT_EQ(run({"credential-set", "update", "-r", "myreg", "-n", "dockerhub", "--login-server",
                 "registry-1.docker.io:443", "--username", "you"}),
            0)
      << err;
  EXPECT_EQ(body(3),
            json::parse(R"({"loginServer":"registry-1.docker.io:443","username":"you"})"));

  fake.answer(204);
  EXPECT_EQ(run({"credential-set", "delete", "-r", "myreg", "-n", "dockerhub", "--yes"}), 0)
      << err;
  expect_request(4, "DELETE", kSets + "/dockerhub");
  EXPECT_EQ(out, "Deleted credential set 'dockerhub' from registry 'myreg'.\n");

  fake.answer(409, R"({"error":{"code":"Conflict","message":"credential set 'dockerhub' is used by cache rule 'hub-library'"}})");
  expect_error(run({"credential-set", "delete", "-r", "myreg", "-n", "dockerhub", "-y"}),
               ExitCode::kConflict, "used by cache rule");
}

TEST_F(UpstreamTest, CredentialSetRefusesBadFlagsBeforeAnyRequest) {
  const std::vector<std::string> create{"credential-set", "create", "-r", "myreg", "-n",
                                        "dockerhub",      "--login-server", "docker.io"};
  auto with = [](std::vector<std::string> base, const std::vector<std::string>& extra) {
    base.insert(base.end(), extra.begin(), extra.end());
    return base;
  };
  expect_refused({
      {with(create, {"-u", "me"}), "needs --password or --password-stdin"},
      {with(create, {"--password", kPassword}), "--username is required"},
      {with(create, {"-u", "me", "-p", kPassword, "--password-stdin"}), "excludes"},
      {{"credential-set", "create", "-r", "myreg", "-n", "hub", "--login-server", "docker.io",
        "-u", "me", "-p", kPassword},
       "credential set name 'hub'"},
      {{"credential-set", "create", "-r", "myreg", "-n", "dockerhub", "--login-server",
        "https://docker.io", "-u", "me", "-p", kPassword},
       "no scheme"},
      {{"credential-set", "create", "-r", "myreg", "-n", "dockerhub", "-u", "me", "-p",
        kPassword},
       "--login-server is required"},
      {with(create, {"-u", "me", "-p", std::string(4097, 'x')}), "longer than 4096 bytes"},
      {{"credential-set", "update", "-r", "myreg", "-n", "dockerhub"}, "nothing to update"},
      {{"credential-set", "delete", "-r", "myreg", "-n", "dockerhub"}, "without --yes"},
      {{"credential-set", "show", "-n", "dockerhub"}, "--registry is required"},
  });
}

// ------------------------------------------------------------------ cache rules

TEST_F(UpstreamTest, CacheCreateSendsTheRuleAndPrintsIt) {
  fake.answer(201, kCacheRule);
  EXPECT_EQ(run({"cache", "create", "--registry", "myreg", "--name", "hub-library",
                 "--source-repo", "docker.io/library/*", "--target-repo", "hub/*", "--cred-set",
                 "dockerhub", "--tag-ttl", "600", "--allow-push", "False"}),
            0)
      << err;
  expect_request(0, "POST", kRules);
  EXPECT_EQ(body(0), json::parse(R"({"name":"hub-library","sourceRepository":"docker.io/library/*",
      "targetRepository":"hub/*","credentialSet":"dockerhub","tagTtlSeconds":600,
      "allowPush":false})"));
  EXPECT_EQ(out,
            "NAME         SOURCE               TARGET  CREDENTIAL SET  TAG TTL (S)  ALLOW PUSH  "
            "CREATED\n"
            "-----------  -------------------  ------  --------------  -----------  ----------  "
            "--------------------\n"
            "hub-library  docker.io/library/*  hub/*   dockerhub       600          false       "
            "2026-12-02T15:04:05Z\n");

  fake.answer(201, kCacheRule);
  EXPECT_EQ(run({"cache", "create", "-r", "myreg", "-n", "nginx", "--source-repo",
                 "docker.io/library/nginx", "--target-repo", "nginx"}),
            0)
      << err;
  EXPECT_EQ(body(1), json::parse(R"({"name":"nginx","sourceRepository":"docker.io/library/nginx",
      "targetRepository":"nginx"})"));
}

TEST_F(UpstreamTest, CacheListShowUpdateDelete) {
  fake.answer(200, std::string("{\"cacheRules\":[") + kCacheRule + "]}");
  EXPECT_EQ(run({"cache", "list", "-r", "myreg", "-o", "json"}), 0) << err;
  expect_request(0, "GET", kRules);
  EXPECT_EQ(json::parse(out), json::parse(std::string("[") + kCacheRule + "]"));

  fake.answer(200, kCacheRule);
  EXPECT_EQ(run({"cache", "show", "-r", "myreg", "-n", "hub-library", "-o", "tsv"}), 0) << err;
  expect_request(1, "GET", kRules + "/hub-library");
  EXPECT_EQ(out,
            "hub-library\tdocker.io/library/*\thub/*\tdockerhub\t600\tfalse\t"
            "2026-12-02T15:04:05Z\n");

  fake.answer(200, kCacheRule);
  EXPECT_EQ(run({"cache", "update", "-r", "myreg", "-n", "hub-library", "--cred-set", "",
                 "--tag-ttl", "0", "--allow-push", "true"}),
            0)
      << err;
  expect_request(2, "PATCH", kRules + "/hub-library");
  EXPECT_EQ(body(2),
            json::parse(R"({"credentialSet":"","tagTtlSeconds":0,"allowPush":true})"));

  fake.answer(204);
  EXPECT_EQ(run({"cache", "delete", "-r", "myreg", "-n", "hub-library", "--yes"}), 0) << err;
  expect_request(3, "DELETE", kRules + "/hub-library");
  EXPECT_EQ(out, "Deleted cache rule 'hub-library' from registry 'myreg'.\n");

  fake.answer(400, R"({"error":{"code":"InvalidRequest","message":"credential set 'other' logs in to 'ghcr.io', not to the rule's upstream 'docker.io'"}})");
  expect_error(run({"cache", "update", "-r", "myreg", "-n", "hub-library", "--cred-set", "other"}),
               ExitCode::kUsage, "logs in to 'ghcr.io'");
}

TEST_F(UpstreamTest, CacheRefusesBadFlagsBeforeAnyRequest) {
  const std::vector<std::string> create{"cache", "create", "-r", "myreg", "-n", "hub-library"};
  auto with = [](std::vector<std::string> base, const std::vector<std::string>& extra) {
    base.insert(base.end(), extra.begin(), extra.end());
    return base;
  };
  expect_refused({
      {with(create, {"--source-repo", "docker.io/library/*", "--target-repo", "hub"}),
       "must both end in /* or neither"},
      {with(create, {"--source-repo", "library/nginx", "--target-repo", "nginx"}),
       "not a registry host"},
      {with(create, {"--source-repo", "docker.io:99999/nginx", "--target-repo", "nginx"}),
       "not a login server"},
      {with(create, {"--source-repo", "docker.io", "--target-repo", "nginx"}), "HOST/PATH"},
      {with(create, {"--source-repo", "docker.io/nginx", "--target-repo", "Nginx"}),
       "target repository 'Nginx'"},
      {with(create, {"--source-repo", "docker.io/nginx"}), "--target-repo is required"},
      {with(create, {"--source-repo", "docker.io/nginx", "--target-repo", "nginx", "--cred-set",
                     ""}),
       "names no credential set"},
      {with(create, {"--source-repo", "docker.io/nginx", "--target-repo", "nginx", "--tag-ttl",
                     "2592001"}),
       "from 0 to 2592000"},
      {with(create, {"--source-repo", "docker.io/nginx", "--target-repo", "nginx",
                     "--allow-push", "maybe"}),
       "--allow-push"},
      {{"cache", "create", "-r", "myreg", "-n", "hub_lib", "--source-repo", "docker.io/nginx",
        "--target-repo", "nginx"},
       "cache rule name 'hub_lib'"},
      {{"cache", "update", "-r", "myreg", "-n", "hub-library"}, "nothing to update"},
      {{"cache", "delete", "-r", "myreg", "-n", "hub-library"}, "without --yes"},
  });
}

}  // namespace
}  // namespace berth::cli
