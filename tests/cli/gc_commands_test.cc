// The garbage collection verbs in-process: the request each sends (a registry's routes with
// --name, the deployment's without), what they print, --wait following a run to its end, and
// what they refuse before any request.

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>

#include "cli_fixture.h"

namespace berth::cli {
namespace {
namespace json = boost::json;
using testing::CliTest;

const std::string kRegistryGc = "http://srv:5000/mgmt/v1/registries/myreg/gc";
const std::string kDeploymentGc = "http://srv:5000/mgmt/v1/gc";

std::string run_json(std::string_view status, std::string_view phase, int deleted,
                     std::string_view finish = "null", std::string_view error = "") {
  return std::string(R"({"id":7,"registry":"myreg","startedBy":"manual","dryRun":false,"status":")") +
         std::string(status) + R"(","phase":")" + std::string(phase) +
         R"(","cutoffTime":"2026-12-02T14:04:05Z","startTime":"2026-12-02T15:04:05Z",)"
         R"("lastUpdateTime":"2026-12-02T15:04:06Z","finishTime":)" + std::string(finish) +
         R"(,"linksExamined":40,"linksRemoved":4,"repositoriesRemoved":1,"blobsExamined":100,)"
         R"("storedBlobsExamined":100,"blobsDeleted":)" + std::to_string(deleted) +
         R"(,"bytesReclaimed":2097152,"blobsExaminedPerSecond":12345.6,"error":")" +
         std::string(error) + R"("})";
}

class GcTest : public CliTest {
 protected:
  void SetUp() override { env_vars["BERTH_POLL_INTERVAL_MS"] = "1"; }

  void expect_request(std::size_t index, const char* method, const std::string& url) {
    ASSERT_GT(fake.requests.size(), index);
    EXPECT_EQ(fake.requests[index].method, method);
    EXPECT_EQ(fake.requests[index].url, url);
  }
};

TEST_F(GcTest, RunStartsARegistrysRunOrTheDeploymentsAndSaysHowToFollowIt) {
  fake.answer(202, run_json("running", "links", 0));
  EXPECT_EQ(run({"gc", "run", "--name", "myreg", "--dry-run"}), 0) << err;
  expect_request(0, "POST", kRegistryGc);
  EXPECT_EQ(json::parse(fake.requests[0].body), json::parse(R"({"dryRun":true})"));
  EXPECT_NE(out.find("berth gc show --name myreg --id 7"), std::string::npos) << out;

  fake.answer(202, run_json("running", "links", 0));
  EXPECT_EQ(run({"gc", "run", "-o", "json"}), 0) << err;
  expect_request(1, "POST", kDeploymentGc);
  EXPECT_EQ(json::parse(fake.requests[1].body), json::parse(R"({"dryRun":false})"));
  EXPECT_EQ(json::parse(out), json::parse(run_json("running", "links", 0)));
}

TEST_F(GcTest, RunWaitFollowsTheRunToItsEnd) {
  fake.answer(202, run_json("running", "links", 0));
  fake.answer(200, run_json("running", "blobs", 3));
  fake.answer(200, run_json("succeeded", "done", 9, R"("2026-12-02T15:04:09Z")"));
  EXPECT_EQ(run({"gc", "run", "-n", "myreg", "--wait"}), 0) << err;
  ASSERT_EQ(fake.requests.size(), 3u);
  expect_request(1, "GET", kRegistryGc + "/runs/7");
  expect_request(2, "GET", kRegistryGc + "/runs/7");
  EXPECT_EQ(out,
            "ID  REGISTRY  STATUS     PHASE  DRY RUN  STARTED               FINISHED              "
            "LINKS REMOVED  BLOBS EXAMINED  BLOBS DELETED  RECLAIMED  BLOBS/S\n"
            "--  --------  ---------  -----  -------  --------------------  --------------------  "
            "-------------  --------------  -------------  ---------  -------\n"
            "7   myreg     succeeded  done   false    2026-12-02T15:04:05Z  2026-12-02T15:04:09Z  "
            "4              100             9              2.0 MiB    12346\n");
}

TEST_F(GcTest, RunWaitExitsNonZeroWhenTheRunFails) {
  fake.answer(202, run_json("running", "links", 0));
  fake.answer(200, run_json("failed", "blobs", 0, R"("2026-12-02T15:04:09Z")", "disk on fire"));
  expect_error(run({"gc", "run", "-n", "myreg", "--wait"}), ExitCode::kFailure,
               "garbage collection run 7 failed: disk on fire");
}

TEST_F(GcTest, ARunInProgressIsAConflict) {
  fake.answer(409, R"({"error":{"code":"Conflict","message":"a garbage collection is already running"}})");
  expect_error(run({"gc", "run", "-n", "myreg"}), ExitCode::kConflict, "already running");
}

TEST_F(GcTest, StatusShowsTheLatestRunAndListPages) {
  fake.answer(200, "{\"runs\":[" + run_json("running", "orphans", 2) + "]}");
  EXPECT_EQ(run({"gc", "status", "-n", "myreg", "-o", "tsv"}), 0) << err;
  expect_request(0, "GET", kRegistryGc + "/runs?top=1");
  EXPECT_EQ(out,
            "7\tmyreg\trunning\torphans\tfalse\t2026-12-02T15:04:05Z\t\t4\t100\t2\t2097152\t12346\n");

  fake.answer(200, R"({"runs":[]})");
  EXPECT_EQ(run({"gc", "status"}), 0) << err;
  expect_request(1, "GET", kDeploymentGc + "/runs?top=1");
  EXPECT_EQ(out, "no garbage collection has run yet\n");

  fake.answer(200, "{\"runs\":[" + run_json("succeeded", "done", 2) + "],\"next\":\"7\"}");
  EXPECT_EQ(run({"gc", "list", "--top", "1", "--before", "9"}), 0) << err;
  expect_request(2, "GET", kDeploymentGc + "/runs?top=1&before=9");
  EXPECT_NE(out.find("add --before 7"), std::string::npos) << out;

  fake.answer(200, run_json("succeeded", "done", 2));
  EXPECT_EQ(run({"gc", "show", "--id", "7", "-n", "myreg", "-o", "json"}), 0) << err;
  expect_request(3, "GET", kRegistryGc + "/runs/7");
}

TEST_F(GcTest, BadFlagsAreRefusedBeforeAnyRequest) {
  expect_error(run({"gc", "show", "--id", "abc"}), ExitCode::kUsage, "abc");
  expect_error(run({"gc", "show"}), ExitCode::kUsage, "--id");
  expect_error(run({"gc", "list", "--top", "0"}), ExitCode::kUsage, "from 1 to 100");
  expect_error(run({"gc", "run", "--dry-run=maybe"}), ExitCode::kUsage);
  EXPECT_TRUE(fake.requests.empty());
}

}  // namespace
}  // namespace berth::cli
