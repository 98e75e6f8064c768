// The content lifecycle verbs in-process: soft delete and retention policies, soft-deleted
// content and its restore, purge and its schedules, quotas. Each test checks the request a verb
// sends (method, URL, body), what it prints as table, tsv and json, and what it refuses before
// any request.

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

const std::string kRegistry = "http://srv:5000/mgmt/v1/registries/myreg";
const std::string kRepository = kRegistry + "/repositories/team/app";
const std::string kDigestA = "sha256:" + std::string(64, 'a');
const std::string kDigestB = "sha256:" + std::string(64, 'b');

class LifecycleTest : public CliTest {
 protected:
  void expect_request(std::size_t index, const char* method, const std::string& url) {
    ASSERT_GT(fake.requests.size(), index);
    EXPECT_EQ(fake.requests[index].method, method);
    EXPECT_EQ(fake.requests[index].url, url);
  }

  void expect_body(std::size_t index, std::string_view body) {
    ASSERT_GT(fake.requests.size(), index);
    EXPECT_EQ(json::parse(fake.requests[index].body), json::parse(body));
  }

  // Refused before any request, exit 2, the message naming the problem.
  void expect_refused(std::vector<std::string> args, std::string_view fragment) {
    const std::size_t before = fake.requests.size();
    expect_error(run(std::move(args)), ExitCode::kUsage, fragment);
    EXPECT_EQ(fake.requests.size(), before) << err;
  }
};

// ------------------------------------------------------------------ soft delete policy

const std::string kSoftDelete =
    R"({"status":"enabled","days":7,"lastUpdatedTime":"2026-12-03T05:00:00.250Z"})";

TEST_F(LifecycleTest, SoftDeleteShowPrintsThePolicy) {
  fake.answer(200, kSoftDelete);
  EXPECT_EQ(run({"config", "soft-delete", "show", "-n", "myreg"}), 0) << err;
  expect_request(0, "GET", kRegistry + "/policies/soft-delete");
  EXPECT_EQ(out,
            "STATUS   DAYS  UPDATED\n"
            "-------  ----  --------------------\n"
            "enabled  7     2026-12-03T05:00:00Z\n");

  fake.answer(200, kSoftDelete);
  EXPECT_EQ(run({"config", "soft-delete", "show", "-n", "myreg", "-o", "json"}), 0) << err;
  EXPECT_EQ(json::parse(out), json::parse(kSoftDelete));

  fake.answer(200, R"({"status":"disabled","days":7,"lastUpdatedTime":null})");
  EXPECT_EQ(run({"config", "soft-delete", "show", "-n", "myreg"}), 0) << err;
  EXPECT_NE(out.find("disabled  7     never"), std::string::npos) << out;
  fake.answer(200, R"({"status":"disabled","days":7,"lastUpdatedTime":null})");
  EXPECT_EQ(run({"config", "soft-delete", "show", "-n", "myreg", "-o", "tsv"}), 0) << err;
  EXPECT_EQ(out, "disabled\t7\t\n");
}

TEST_F(LifecycleTest, SoftDeleteUpdatePatchesOnlyTheGivenFields) {
  fake.answer(200, kSoftDelete);
  EXPECT_EQ(run({"config", "soft-delete", "update", "-n", "myreg", "--status", "Enabled", "--days",
                 "14"}),
            0)
      << err;
  expect_request(0, "PATCH", kRegistry + "/policies/soft-delete");
  expect_body(0, R"({"status":"enabled","days":14})");
  EXPECT_NE(out.find("enabled  7"), std::string::npos) << out;

  fake.answer(200, kSoftDelete);
  EXPECT_EQ(run({"config", "soft-delete", "update", "-n", "myreg", "--days", "90"}), 0) << err;
  expect_body(1, R"({"days":90})");
}

TEST_F(LifecycleTest, SoftDeleteUpdateRefusals) {
  expect_refused({"config", "soft-delete", "update", "-n", "myreg"},
                 "nothing to update: give --status or --days");
  expect_refused({"config", "soft-delete", "update", "-n", "myreg", "--days", "0"},
                 "--days: '0' is not a number of days from 1 to 90");
  expect_refused({"config", "soft-delete", "update", "-n", "myreg", "--days", "91"},
                 "from 1 to 90");
  expect_refused({"config", "soft-delete", "update", "-n", "myreg", "--days", "7d"},
                 "'7d' is not a number of days");
  expect_refused({"config", "soft-delete", "update", "-n", "myreg", "--status", "on"},
                 "--status: 'on' is not one of enabled, disabled");
  expect_refused({"config", "soft-delete", "update", "--days", "7"}, "--registry is required");
}

TEST_F(LifecycleTest, SoftDeleteServerRefusalIsAUsageError) {
  fake.answer(400, R"({"error":{"code":"InvalidRequest","message":"days must be 1-90"}})");
  expect_error(run({"config", "soft-delete", "update", "-n", "myreg", "--status", "disabled"}),
               ExitCode::kUsage, "days must be 1-90");
}

// ------------------------------------------------------------------ retention policy

const std::string kRetention =
    R"({"type":"UntaggedManifests","status":"enabled","days":0,"lastUpdatedTime":null})";

TEST_F(LifecycleTest, RetentionShowPrintsThePolicy) {
  fake.answer(200, kRetention);
  EXPECT_EQ(run({"config", "retention", "show", "--registry", "myreg"}), 0) << err;
  expect_request(0, "GET", kRegistry + "/policies/retention");
  EXPECT_EQ(out,
            "TYPE               STATUS   DAYS  UPDATED\n"
            "-----------------  -------  ----  -------\n"
            "UntaggedManifests  enabled  0     never\n");
  fake.answer(200, kRetention);
  EXPECT_EQ(run({"config", "retention", "show", "-n", "myreg", "-o", "json"}), 0) << err;
  EXPECT_EQ(json::parse(out), json::parse(kRetention));
}

TEST_F(LifecycleTest, RetentionUpdatePatchesStatusAndDaysButNotTheType) {
  fake.answer(200, kRetention);
  EXPECT_EQ(run({"config", "retention", "update", "-n", "myreg", "--status", "enabled", "--days",
                 "0", "--type", "untaggedmanifests"}),
            0)
      << err;
  expect_request(0, "PATCH", kRegistry + "/policies/retention");
  expect_body(0, R"({"status":"enabled","days":0})");

  fake.answer(200, kRetention);
  EXPECT_EQ(run({"config", "retention", "update", "-n", "myreg", "--days", "365"}), 0) << err;
  expect_body(1, R"({"days":365})");
}

TEST_F(LifecycleTest, RetentionUpdateRefusals) {
  expect_refused({"config", "retention", "update", "-n", "myreg"}, "nothing to update");
  expect_refused({"config", "retention", "update", "-n", "myreg", "--type", "UntaggedManifests"},
                 "nothing to update: give --status or --days");
  expect_refused({"config", "retention", "update", "-n", "myreg", "--days", "366"},
                 "--days: '366' is not a number of days from 0 to 365");
  expect_refused(
      {"config", "retention", "update", "-n", "myreg", "--type", "TaggedManifests", "--days", "3"},
      "--type: 'TaggedManifests' is not one of UntaggedManifests");
}

TEST_F(LifecycleTest, RetentionRunAppliesThePolicyNowOrListsWhatItWouldDelete) {
  fake.answer(200, R"({"dryRun":true,"tags":[],"manifests":[{"repository":"app","digest":")" +
                       kDigestA + R"("}],"failures":[]})");
  EXPECT_EQ(run({"config", "retention", "run", "-n", "myreg", "--dry-run"}), 0) << err;
  expect_request(0, "POST", kRegistry + "/policies/retention/run");
  expect_body(0, R"({"dryRun":true})");
  EXPECT_EQ(out, "app@" + kDigestA + "\nWould delete 0 tags and 1 manifests\n");

  fake.answer(200, R"({"dryRun":false,"tags":[],"manifests":[],"failures":[]})");
  EXPECT_EQ(run({"config", "retention", "run", "-n", "myreg"}), 0) << err;
  expect_body(1, R"({"dryRun":false})");
  EXPECT_EQ(out, "Deleted 0 tags and 0 manifests\n");
}

TEST_F(LifecycleTest, RetentionOnATierWithoutItIsTheServersMessage) {
  fake.answer(400, R"({"error":{"code":"InvalidRequest",)"
                   R"("message":"retention needs the Premium tier; registry 'myreg' is Basic"}})");
  expect_error(run({"config", "retention", "update", "-n", "myreg", "--status", "enabled"}),
               ExitCode::kUsage, "registry 'myreg' is Basic");
}

// ------------------------------------------------------------------ soft-deleted content

TEST_F(LifecycleTest, RepositoryListDeletedListsTheNames) {
  fake.answer(200, R"({"repositories":["old/app","team/gone"]})");
  EXPECT_EQ(run({"repository", "list-deleted", "-n", "myreg"}), 0) << err;
  expect_request(0, "GET", kRegistry + "/deleted-repositories?n=1000");
  EXPECT_EQ(out, "NAME\n---------\nold/app\nteam/gone\n");

  fake.answer(200, R"({"repositories":["old/app","team/gone"]})");
  EXPECT_EQ(run({"repository", "list-deleted", "-n", "myreg", "-o", "json"}), 0) << err;
  EXPECT_EQ(json::parse(out), json::parse(R"(["old/app","team/gone"])"));
}

TEST_F(LifecycleTest, RepositoryListDeletedFollowsEveryPage) {
  json::array first;
  for (int i = 0; i < 1000; ++i) first.emplace_back(fmt::format("repo{:04}", i));
  fake.answer(200, json::serialize(json::object{{"repositories", first}}));
  fake.answer(200, R"({"repositories":["zzz/last"]})");
  EXPECT_EQ(run({"repository", "list-deleted", "-n", "myreg", "-o", "json"}), 0) << err;
  ASSERT_EQ(fake.requests.size(), 2u);
  expect_request(1, "GET", kRegistry + "/deleted-repositories?n=1000&last=repo0999");
  json::array all = json::parse(out).as_array();
  ASSERT_EQ(all.size(), 1001u);
  EXPECT_EQ(all.front(), "repo0000");
  EXPECT_EQ(all.back(), "zzz/last");
}

TEST_F(LifecycleTest, AListingThatDoesNotMoveOnStops) {
  json::array page;
  for (int i = 0; i < 1000; ++i) page.emplace_back("same");
  const std::string body = json::serialize(json::object{{"repositories", page}});
  fake.answer(200, body);
  fake.answer(200, body);
  expect_error(run({"repository", "list-deleted", "-n", "myreg"}), ExitCode::kFailure,
               "does not move past 'same'");
  EXPECT_EQ(fake.requests.size(), 2u);
}

// "[item]", built by appending (GCC 12 at -O3 reports a false -Wrestrict on "[" + temporary).
std::string in_array(std::string_view item) {
  std::string text = "[";
  text += item;
  text += "]";
  return text;
}

std::string deleted_manifest(const std::string& digest, std::string_view tags) {
  return R"({"digest":")" + digest +
         R"(","mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"",)"
         R"("size":1536,"createdTime":"2026-11-01T00:00:00Z","deletedTime":"2026-12-01T10:00:00.5Z",)"
         R"("expiryTime":"2026-12-08T10:00:00Z","architecture":"amd64","os":"linux","tags":)" +
         std::string(tags) + "}";
}

TEST_F(LifecycleTest, ManifestListDeletedShowsPlatformSizeTimesAndTags) {
  const std::string answer = R"({"repository":"team/app","manifests":[)" +
                             deleted_manifest(kDigestA, R"(["v1","stable"])") + "]}";
  fake.answer(200, answer);
  EXPECT_EQ(run({"manifest", "list-deleted", "-n", "myreg", "--repository", "team/app"}), 0) << err;
  expect_request(0, "GET", kRepository + "/deleted-manifests?n=1000");
  // The digest gives way so the row fits 120 columns.
  EXPECT_EQ(out,
            "DIGEST                                       PLATFORM     SIZE     DELETED           "
            "    EXPIRES               TAGS\n"
            "-------------------------------------------  -----------  -------  ----------------"
            "----  --------------------  ---------\n"
            "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa…  linux/amd64  1.5 KiB  2026-12-01T10:00:"
            "00Z  2026-12-08T10:00:00Z  v1,stable\n");

  fake.answer(200, answer);
  EXPECT_EQ(
      run({"manifest", "list-deleted", "-n", "myreg", "--repository", "team/app", "-o", "tsv"}), 0)
      << err;
  EXPECT_EQ(out, kDigestA +
                     "\tlinux/amd64\t1536\t2026-12-01T10:00:00.5Z\t2026-12-08T10:00:00Z\t"
                     "v1,stable\n");

  fake.answer(200, answer);
  EXPECT_EQ(
      run({"manifest", "list-deleted", "-n", "myreg", "--repository", "team/app", "-o", "json"}), 0)
      << err;
  EXPECT_EQ(json::parse(out),
            json::parse(in_array(deleted_manifest(kDigestA, R"(["v1","stable"])"))));
}

TEST_F(LifecycleTest, ManifestListDeletedPagesByDigest) {
  std::string first = R"({"repository":"team/app","manifests":[)";
  for (int i = 0; i < 1000; ++i) {
    if (i > 0) first += ',';
    first += deleted_manifest(i == 999 ? kDigestA : "sha256:" + std::to_string(i), "[]");
  }
  first += "]}";
  fake.answer(200, first);
  fake.answer(
      200, R"({"repository":"team/app","manifests":[)" + deleted_manifest(kDigestB, "[]") + "]}");
  EXPECT_EQ(
      run({"manifest", "list-deleted", "-n", "myreg", "--repository", "team/app", "-o", "json"}), 0)
      << err;
  expect_request(1, "GET",
                 kRepository + "/deleted-manifests?n=1000&last=sha256%3A" + std::string(64, 'a'));
  EXPECT_EQ(json::parse(out).as_array().size(), 1001u);
}

const std::string kDeletedTags =
    R"({"repository":"team/app","tags":[{"name":"v1","digest":")" + kDigestA +
    R"(","createdTime":"2026-11-01T00:00:00Z","deletedTime":"2026-12-01T10:00:00Z",)"
    R"("expiryTime":"2026-12-08T10:00:00Z"}]})";

TEST_F(LifecycleTest, ManifestListDeletedTagsOfARepositoryOrOneTag) {
  fake.answer(200, kDeletedTags);
  EXPECT_EQ(run({"manifest", "list-deleted-tags", "-n", "myreg", "--repository", "team/app"}), 0)
      << err;
  expect_request(0, "GET", kRepository + "/deleted-tags");
  // The digest gives way so the row fits 120 columns; tsv and json have it whole.
  EXPECT_EQ(out,
            "NAME  DIGEST                                            CREATED               "
            "DELETED               EXPIRES\n"
            "----  ------------------------------------------------  --------------------  "
            "--------------------  --------------------\n"
            "v1    sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa…  2026-11-01T00:00:00Z  "
            "2026-12-01T10:00:00Z  2026-12-08T10:00:00Z\n");

  fake.answer(200, kDeletedTags);
  EXPECT_EQ(run({"manifest", "list-deleted-tags", "-n", "myreg", "--repository", "team/app:v1",
                 "-o", "json"}),
            0)
      << err;
  expect_request(1, "GET", kRepository + "/deleted-tags?tag=v1");
  EXPECT_EQ(json::parse(out), json::parse(kDeletedTags).at("tags"));
}

TEST_F(LifecycleTest, DeletedContentRefusals) {
  expect_refused({"manifest", "list-deleted", "-n", "myreg"}, "--repository is required");
  expect_refused({"manifest", "list-deleted", "-n", "myreg", "--repository", "Team/App"},
                 "repository name 'Team/App'");
  expect_refused({"manifest", "list-deleted-tags", "-n", "myreg", "--repository", "team/app:"},
                 "tag ''");
  expect_refused({"manifest", "list-deleted-tags", "-n", "myreg", "--repository", "team/app:.x"},
                 "tag '.x'");
  expect_refused({"manifest", "list-deleted-tags", "-n", "myreg", "--repository", "Team:v1"},
                 "repository name 'Team'");
}

TEST_F(LifecycleTest, AnUnknownRepositoryIsNotFound) {
  fake.answer(404, R"({"error":{"code":"RepositoryNotFound","message":"repository 'team/app' )"
                   R"(does not exist"}})");
  expect_error(run({"manifest", "list-deleted-tags", "-n", "myreg", "--repository", "team/app"}),
               ExitCode::kNotFound, "repository 'team/app' does not exist");
}

// ------------------------------------------------------------------ restore

const std::string kRestored = R"({"repository":"team/app","manifests":[")" + kDigestA + R"(",")" +
                              kDigestB + R"("],"tags":["v1"],"tagsNotRestored":["latest"]})";

TEST_F(LifecycleTest, RestoreByTagSendsTheTagAndSaysWhatCameBack) {
  fake.answer(200, kRestored);
  EXPECT_EQ(run({"manifest", "restore", "-n", "myreg", "--image", "team/app:v1"}), 0) << err;
  expect_request(0, "POST", kRepository + "/restore");
  expect_body(0, R"({"tag":"v1"})");
  EXPECT_EQ(
      out,
      "KIND      NAME                                                                     "
      "RESTORED\n"
      "--------  -----------------------------------------------------------------------  "
      "--------\n"
      "manifest  " +
          kDigestA +
          "  true\n"
          "manifest  " +
          kDigestB +
          "  true\n"
          "tag       v1                                                                       "
          "true\n"
          "tag       latest                                                                   "
          "false\n"
          "Restored 2 manifests and 1 tag in repository 'team/app'.\n"
          "Not restored: latest (the name is in use now; --force moves it to the restored "
          "manifest).\n");
}

TEST_F(LifecycleTest, RestoreByDigestWithForce) {
  const std::string answer = R"({"repository":"team/app","manifests":[")" + kDigestA +
                             R"("],"tags":["latest","v1"],"tagsNotRestored":[]})";
  fake.answer(200, answer);
  EXPECT_EQ(
      run({"manifest", "restore", "-n", "myreg", "--image", "team/app@" + kDigestA, "--force"}), 0)
      << err;
  expect_body(0, R"({"digest":")" + kDigestA + R"(","force":true})");
  EXPECT_TRUE(out.ends_with("Restored 1 manifest and 2 tags in repository 'team/app'.\n")) << out;
  EXPECT_EQ(out.find("Not restored"), std::string::npos) << out;

  fake.answer(200, answer);
  EXPECT_EQ(
      run({"manifest", "restore", "-n", "myreg", "--image", "team/app@" + kDigestA, "-o", "json"}),
      0)
      << err;
  expect_body(1, R"({"digest":")" + kDigestA + R"("})");
  EXPECT_EQ(json::parse(out), json::parse(answer));
}

TEST_F(LifecycleTest, RestoreErrorsKeepTheirExitCodes) {
  fake.answer(404,
              R"({"error":{"code":"ManifestNotFound","message":"no deleted tag v9 is kept"}})");
  expect_error(run({"manifest", "restore", "-n", "myreg", "--image", "team/app:v9"}),
               ExitCode::kNotFound, "no deleted tag v9 is kept");
  fake.answer(403, R"({"error":{"code":"Locked","message":"repository team/app is locked"}})");
  expect_error(run({"manifest", "restore", "-n", "myreg", "--image", "team/app:v1"}),
               ExitCode::kAuth, "locked");
  expect_refused({"manifest", "restore", "-n", "myreg", "--image", "team/app"},
                 "needs a tag or a digest");
  expect_refused({"manifest", "restore", "-n", "myreg"}, "--image is required");
}

// ------------------------------------------------------------------ purge

const std::string kPurged = R"({"dryRun":false,"tags":[)"
                            R"({"repository":"app","tag":"dev-1","digest":")" +
                            kDigestA +
                            R"("},)"
                            R"({"repository":"team/web","tag":"dev-7","digest":")" +
                            kDigestB + R"("}],"manifests":[{"repository":"app","digest":")" +
                            kDigestA + R"("}],"failures":[]})";

TEST_F(LifecycleTest, PurgeSendsTheFiltersAndPrintsWhatWentOneALine) {
  fake.answer(200, kPurged);
  EXPECT_EQ(run({"purge", "-n", "myreg", "--filter", "app:.*", "--filter", "team/.*:^dev-", "--ago",
                 "1d12h", "--untagged", "--keep", "2"}),
            0)
      << err;
  ASSERT_EQ(fake.requests.size(), 1u);
  expect_request(0, "POST", kRegistry + "/purge");
  expect_body(0, R"({"filters":["app:.*","team/.*:^dev-"],"ago":"1d12h","untagged":true,)"
                 R"("keep":2,"dryRun":false})");
  EXPECT_EQ(out, "app:dev-1 (" + kDigestA + ")\n" + "team/web:dev-7 (" + kDigestB + ")\n" + "app@" +
                     kDigestA + "\n" + "Deleted 2 tags and 1 manifests\n");
  EXPECT_EQ(err, "");

  fake.answer(200, kPurged);
  EXPECT_EQ(run({"purge", "-n", "myreg", "--filter", "app:.*", "--ago", "0", "-o", "tsv"}), 0)
      << err;
  expect_body(1, R"({"filters":["app:.*"],"ago":"0","untagged":false,"keep":0,"dryRun":false})");
  EXPECT_EQ(out, "tag\tapp\tdev-1\t" + kDigestA + "\ntag\tteam/web\tdev-7\t" + kDigestB +
                     "\nmanifest\tapp\t\t" + kDigestA + "\n");

  fake.answer(200, kPurged);
  EXPECT_EQ(run({"purge", "-n", "myreg", "--filter", "app:.*", "--ago", "30d", "-o", "json"}), 0)
      << err;
  EXPECT_EQ(json::parse(out), json::parse(kPurged));
}

TEST_F(LifecycleTest, PurgeDryRunSaysWhatWouldGo) {
  fake.answer(200, R"({"dryRun":true,"tags":[{"repository":"app","tag":"dev-1","digest":")" +
                       kDigestA + R"("}],"manifests":[],"failures":[]})");
  EXPECT_EQ(run({"purge", "-n", "myreg", "--filter", "app:.*", "--ago", "30d", "--dry-run"}), 0)
      << err;
  expect_body(0, R"({"filters":["app:.*"],"ago":"30d","untagged":false,"keep":0,"dryRun":true})");
  EXPECT_EQ(out, "app:dev-1 (" + kDigestA + ")\nWould delete 1 tags and 0 manifests\n");

  fake.answer(200, R"({"dryRun":true,"tags":[],"manifests":[],"failures":[]})");
  EXPECT_EQ(run({"purge", "-n", "myreg", "--filter", "app:.*", "--ago", "30d", "--dry-run"}), 0)
      << err;
  EXPECT_EQ(out, "Would delete 0 tags and 0 manifests\n");
}

TEST_F(LifecycleTest, PurgeFailuresGoToStderrAndExitOne) {
  const std::string answer =
      R"({"dryRun":false,"tags":[{"repository":"app","tag":"dev-1","digest":")" + kDigestA +
      R"("}],"manifests":[],"failures":["app:dev-2: tag is locked","app:dev-3: gone"]})";
  fake.answer(200, answer);
  EXPECT_EQ(run({"purge", "-n", "myreg", "--filter", "app:.*", "--ago", "30d"}), 1);
  EXPECT_EQ(out, "app:dev-1 (" + kDigestA + ")\nDeleted 1 tags and 0 manifests\n");
  EXPECT_EQ(err,
            "berth: not deleted: app:dev-2: tag is locked\n"
            "berth: not deleted: app:dev-3: gone\n");

  fake.answer(200, answer);
  EXPECT_EQ(run({"purge", "-n", "myreg", "--filter", "app:.*", "--ago", "30d", "-o", "json"}), 1);
  EXPECT_EQ(json::parse(out), json::parse(answer));
  EXPECT_NE(err.find("berth: not deleted: app:dev-2: tag is locked\n"), std::string::npos) << err;
}

TEST_F(LifecycleTest, PurgeWithAScheduleSavesItInsteadOfRunning) {
  const std::string saved =
      R"({"name":"nightly","schedule":"0 3 * * *","filters":["app:.*","team/.*:^dev-"],)"
      R"("ago":"30d","untagged":true,"keep":5,"createdTime":"2026-12-03T05:00:00Z",)"
      R"("lastUpdatedTime":"2026-12-03T05:00:00Z","lastRunTime":null,"lastResult":""})";
  fake.answer(200, saved);
  EXPECT_EQ(run({"purge", "-n", "myreg", "--filter", "app:.*", "--filter", "team/.*:^dev-", "--ago",
                 "30d", "--untagged", "--keep", "5", "--schedule", "0 3 * * *", "--schedule-name",
                 "nightly"}),
            0)
      << err;
  ASSERT_EQ(fake.requests.size(), 1u);
  expect_request(0, "PUT", kRegistry + "/purge-schedules/nightly");
  expect_body(0, R"({"schedule":"0 3 * * *","filters":["app:.*","team/.*:^dev-"],"ago":"30d",)"
                 R"("untagged":true,"keep":5})");
  EXPECT_EQ(out,
            "NAME     SCHEDULE   FILTERS               AGO  UNTAGGED  KEEP  LAST RUN  LAST "
            "RESULT\n"
            "-------  ---------  --------------------  ---  --------  ----  --------  "
            "-----------\n"
            "nightly  0 3 * * *  app:.* team/.*:^dev-  30d  true      5     never\n"
            "Saved purge schedule 'nightly' of registry 'myreg': it runs at '0 3 * * *' (UTC).\n");

  fake.answer(200, saved);
  EXPECT_EQ(run({"purge", "-n", "myreg", "--filter", "app:.*", "--ago", "30d", "--schedule",
                 "0 3 * * *", "--schedule-name", "nightly", "-o", "json"}),
            0)
      << err;
  EXPECT_EQ(json::parse(out), json::parse(saved));
}

TEST_F(LifecycleTest, PurgeRefusesBeforeAnyRequest) {
  const std::vector<std::string> ok = {"purge",  "-n",    "myreg", "--filter",
                                       "app:.*", "--ago", "30d"};
  auto with = [&](std::vector<std::string> more) {
    std::vector<std::string> args = ok;
    args.insert(args.end(), more.begin(), more.end());
    return args;
  };
  expect_refused({"purge", "-n", "myreg", "--ago", "30d"}, "--filter is required");
  expect_refused({"purge", "-n", "myreg", "--filter", "app:.*"}, "--ago is required");
  expect_refused({"purge", "--filter", "app:.*", "--ago", "30d"},
                 "--registry is required (see 'berth purge --help')");
  expect_refused({"purge", "-n", "myreg", "--filter", "app", "--ago", "30d"},
                 "--filter: filter 'app' must be repository-regex:tag-regex");
  for (const char* age : {"30", "1h1d", "1d1d", "d", "30x", "1.5d", "-1d", "36501d"}) {
    expect_refused({"purge", "-n", "myreg", "--filter", "app:.*", "--ago", age},
                   std::string("--ago: '") + age +
                       "' is not an age: give \"0\", or days, hours, "
                       "minutes and seconds in that order");
  }
  expect_refused(with({"--keep", "-1"}), "--keep");
  expect_refused(with({"--keep", "two"}), "'two' is not a number of tags");
  expect_refused(with({"--schedule", "0 3 * * *"}),
                 "--schedule needs --schedule-name: the name the schedule is saved under");
  expect_refused(with({"--schedule-name", "nightly"}), "--schedule-name needs --schedule");
  expect_refused(with({"--schedule", "0 3 * * *", "--schedule-name", "nightly", "--dry-run"}),
                 "--dry-run cannot be saved in a schedule");
  expect_refused(with({"--schedule", "0 3 * *", "--schedule-name", "nightly"}),
                 "--schedule: '0 3 * *' is not a cron expression");
  expect_refused(with({"--schedule", "0 3 * * *", "--schedule-name", "night/ly"}),
                 "schedule name 'night/ly'");
  std::vector<std::string> many = {"purge", "-n", "myreg", "--ago", "1d"};
  for (int i = 0; i < 21; ++i) many.insert(many.end(), {"--filter", "app:.*"});
  expect_refused(many, "a purge takes at most 20 --filter");
}

TEST_F(LifecycleTest, PurgeServerRefusalOfAFilterIsAUsageError) {
  fake.answer(400, R"({"error":{"code":"InvalidRequest","message":"filter 'app:(' is not a )"
                   R"(valid regular expression"}})");
  expect_error(run({"purge", "-n", "myreg", "--filter", "app:(", "--ago", "30d"}), ExitCode::kUsage,
               "not a valid regular expression");
}

// ------------------------------------------------------------------ purge schedules

const std::string kSchedules =
    R"({"schedules":[{"name":"nightly","schedule":"0 3 * * *","filters":["app:.*"],)"
    R"("ago":"30d","untagged":false,"keep":0,"createdTime":"2026-12-01T00:00:00Z",)"
    R"("lastUpdatedTime":"2026-12-01T00:00:00Z","lastRunTime":"2026-12-03T03:00:00.120Z",)"
    R"("lastResult":"deleted 3 tags and 1 manifests; 0 failed"}]})";

TEST_F(LifecycleTest, PurgeScheduleListRunsOnlyTheListing) {
  fake.answer(200, kSchedules);
  EXPECT_EQ(run({"purge", "schedule", "list", "-n", "myreg"}), 0) << err;
  // The purge itself must not run as well.
  ASSERT_EQ(fake.requests.size(), 1u);
  expect_request(0, "GET", kRegistry + "/purge-schedules");
  EXPECT_EQ(out,
            "NAME     SCHEDULE   FILTERS  AGO  UNTAGGED  KEEP  LAST RUN              LAST RESULT\n"
            "-------  ---------  -------  ---  --------  ----  --------------------  "
            "----------------------------------------\n"
            "nightly  0 3 * * *  app:.*   30d  false     0     2026-12-03T03:00:00Z  deleted 3 "
            "tags and 1 manifests; 0 failed\n");

  fake.answer(200, kSchedules);
  EXPECT_EQ(run({"purge", "schedule", "list", "-n", "myreg", "-o", "json"}), 0) << err;
  EXPECT_EQ(json::parse(out), json::parse(kSchedules).at("schedules"));

  // The registry may also come before `schedule`.
  fake.answer(200, R"({"schedules":[]})");
  EXPECT_EQ(run({"purge", "-n", "myreg", "schedule", "list", "-o", "json"}), 0) << err;
  ASSERT_EQ(fake.requests.size(), 3u);
  expect_request(2, "GET", kRegistry + "/purge-schedules");
  EXPECT_EQ(out, "[]\n");
}

TEST_F(LifecycleTest, PurgeScheduleDeleteNeedsYes) {
  expect_refused({"purge", "schedule", "delete", "-n", "myreg", "--schedule-name", "nightly"},
                 "refusing to delete purge schedule 'nightly' of registry 'myreg' without --yes");
  fake.answer(204);
  EXPECT_EQ(
      run({"purge", "schedule", "delete", "-n", "myreg", "--schedule-name", "nightly", "--yes"}), 0)
      << err;
  ASSERT_EQ(fake.requests.size(), 1u);
  expect_request(0, "DELETE", kRegistry + "/purge-schedules/nightly");
  EXPECT_EQ(out, "Deleted purge schedule 'nightly' from registry 'myreg'.\n");

  fake.answer(404, R"({"error":{"code":"NotFound","message":"no purge schedule 'nightly'"}})");
  expect_error(
      run({"purge", "schedule", "delete", "-n", "myreg", "--schedule-name", "nightly", "-y"}),
      ExitCode::kNotFound, "no purge schedule 'nightly'");
}

TEST_F(LifecycleTest, PurgeScheduleRefusals) {
  expect_refused({"purge", "schedule", "list"}, "--registry is required");
  expect_refused({"purge", "schedule", "delete", "-n", "myreg", "--yes"},
                 "--schedule-name is required");
  expect_refused({"purge", "schedule"}, "missing command for 'berth purge schedule'");
  // Purge's own flags do not belong to a schedule command.
  expect_refused({"purge", "--filter", "app:.*", "schedule", "list", "-n", "myreg"},
                 "--filter: belongs to 'berth purge' itself, not to 'berth purge schedule'");
  expect_refused({"purge", "--dry-run", "schedule", "list", "-n", "myreg"}, "--dry-run: belongs");
}

// ------------------------------------------------------------------ quotas

const std::string kRegistryQuota =
    R"({"registry":"myreg","quotaBytes":null,"includedBytes":10737418240,)"
    R"("effectiveQuotaBytes":10737418240,"usedBytes":1048576,"softDeletedBytes":0})";
const std::string kRepositoryQuota =
    R"({"repository":"team/app","quotaBytes":5368709120,"usedBytes":2048})";

TEST_F(LifecycleTest, QuotaShowOfTheRegistryOrARepository) {
  fake.answer(200, kRegistryQuota);
  EXPECT_EQ(run({"quota", "show", "-n", "myreg"}), 0) << err;
  expect_request(0, "GET", kRegistry + "/quota");
  EXPECT_EQ(out,
            "REGISTRY  QUOTA  INCLUDED  EFFECTIVE QUOTA  USED     SOFT-DELETED\n"
            "--------  -----  --------  ---------------  -------  ------------\n"
            "myreg     none   10.0 GiB  10.0 GiB         1.0 MiB  0 B\n");
  fake.answer(200, kRegistryQuota);
  EXPECT_EQ(run({"quota", "show", "-n", "myreg", "-o", "tsv"}), 0) << err;
  EXPECT_EQ(out, "myreg\t\t10737418240\t10737418240\t1048576\t0\n");

  fake.answer(200, kRepositoryQuota);
  EXPECT_EQ(run({"quota", "show", "-n", "myreg", "--repository", "team/app"}), 0) << err;
  expect_request(2, "GET", kRepository + "/quota");
  EXPECT_EQ(out,
            "REPOSITORY  QUOTA    USED\n"
            "----------  -------  -------\n"
            "team/app    5.0 GiB  2.0 KiB\n");
  fake.answer(200, kRepositoryQuota);
  EXPECT_EQ(run({"quota", "show", "-n", "myreg", "--repository", "team/app", "-o", "json"}), 0)
      << err;
  EXPECT_EQ(json::parse(out), json::parse(kRepositoryQuota));
}

TEST_F(LifecycleTest, QuotaUpdateSendsBytesSizeOrNull) {
  struct Case {
    std::vector<std::string> flags;
    std::string url;
    std::string body;
  };
  const Case cases[] = {
      {{"--size", "10GiB"}, kRegistry + "/quota", R"({"quotaBytes":10737418240})"},
      {{"--size", "1.5TB"}, kRegistry + "/quota", R"({"quotaBytes":1500000000000})"},
      {{"--bytes", "0"}, kRegistry + "/quota", R"({"quotaBytes":0})"},
      {{"--unlimited"}, kRegistry + "/quota", R"({"quotaBytes":null})"},
      {{"--repository", "team/app", "--bytes", "5368709120"},
       kRepository + "/quota",
       R"({"quotaBytes":5368709120})"},
      {{"--repository", "team/app", "--unlimited"},
       kRepository + "/quota",
       R"({"quotaBytes":null})"},
  };
  for (const auto& c : cases) {
    fake.answer(200, c.url.ends_with("team/app/quota") ? kRepositoryQuota : kRegistryQuota);
    std::vector<std::string> args = {"quota", "update", "-n", "myreg"};
    args.insert(args.end(), c.flags.begin(), c.flags.end());
    EXPECT_EQ(run(args), 0) << err;
    expect_request(fake.requests.size() - 1, "PATCH", c.url);
    expect_body(fake.requests.size() - 1, c.body);
  }
  EXPECT_NE(out.find("team/app    5.0 GiB  2.0 KiB"), std::string::npos) << out;
}

TEST_F(LifecycleTest, QuotaUpdateRefusals) {
  const std::vector<std::string> update = {"quota", "update", "-n", "myreg"};
  auto with = [&](std::vector<std::string> more) {
    std::vector<std::string> args = update;
    args.insert(args.end(), more.begin(), more.end());
    return args;
  };
  expect_refused(update, "give exactly one of --bytes, --size and --unlimited");
  expect_refused(with({"--bytes", "5", "--unlimited"}), "exactly one of");
  expect_refused(with({"--bytes", "5", "--size", "5GiB"}), "exactly one of");
  expect_refused(with({"--size", "10"}), "--size: '10' is not a size");
  expect_refused(with({"--size", "10XB"}), "--size: '10XB' is not a size");
  expect_refused(with({"--size", "1.5B"}), "not a whole number of bytes");
  expect_refused(with({"--size", "1000000TiB"}), "is more than");
  expect_refused(with({"--bytes", "-1"}), "--bytes");
  expect_refused(with({"--bytes", "1e9"}), "'1e9' is not a number of bytes");
  expect_refused(with({"--repository", "Team/App", "--bytes", "1"}), "repository name");
}

// ------------------------------------------------------------------ help

TEST_F(LifecycleTest, EveryVerbHasHelp) {
  for (std::vector<std::string> verb : {std::vector<std::string>{"config"},
                                        {"config", "soft-delete", "show"},
                                        {"config", "soft-delete", "update"},
                                        {"config", "retention", "show"},
                                        {"config", "retention", "update"},
                                        {"repository", "list-deleted"},
                                        {"manifest", "list-deleted"},
                                        {"manifest", "list-deleted-tags"},
                                        {"manifest", "restore"},
                                        {"purge"},
                                        {"purge", "schedule", "list"},
                                        {"purge", "schedule", "delete"},
                                        {"quota", "show"},
                                        {"quota", "update"}}) {
    verb.push_back("--help");
    EXPECT_EQ(run(verb), 0) << verb[0];
    EXPECT_NE(out.find("Usage: berth"), std::string::npos) << out;
  }
  EXPECT_NE(out.find("--unlimited"), std::string::npos) << out;
  EXPECT_TRUE(fake.requests.empty());
}

}  // namespace
}  // namespace berth::cli
