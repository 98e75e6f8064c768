// The build and run verbs in-process: the context each one packs and uploads (under the sha256
// of the bytes sent), the run request built from the flags, how the log is followed to the end
// and streamed to standard output, the exit status a run's outcome gives, `run
// list|show|logs|cancel`, and what is refused before any request (exit 2).

#include <archive.h>
#include <archive_entry.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "cli_fixture.h"

namespace berth::cli {
namespace {
namespace json = boost::json;
namespace fs = std::filesystem;
using testing::CliTest;

const std::string kReg = "http://srv:5000/mgmt/v1/registries/myreg";
const std::string kRuns = kReg + "/runs";

// A run resource as the server answers it.
std::string run_json(std::string_view status, std::string_view error = "",
                     std::string_view type = "QuickBuild") {
  bool ended = status != "Queued" && status != "Running";
  return fmt::format(
      R"({{"runId":"cb12","registry":"myreg","status":"{}","runType":"{}","task":"",)"
      R"("trigger":"manual","createTime":"2026-12-02T15:04:05Z",)"
      R"("startTime":{},"finishTime":{},"outputImages":{},"baseImages":[],"error":"{}",)"
      R"("logSize":{}}})",
      status, type, status == "Queued" ? "null" : R"("2026-12-02T15:04:06Z")",
      ended ? R"("2026-12-02T15:06:11Z")" : "null",
      status == "Succeeded"
          ? R"([{"registry":"myreg.registry.local","repository":"app","tag":"v1","digest":"sha256:aa"}])"
          : "[]",
      error, ended ? 12 : 0);
}

using Headers = std::vector<std::pair<std::string, std::string>>;

Headers log_headers(std::uint64_t next, std::string_view status) {
  return {{"Content-Type", "text/plain; charset=utf-8"},
          {"x-berth-log-next-offset", std::to_string(next)},
          {"X-Berth-Run-Status", std::string(status)}};
}

std::string sha256_of(const std::string& bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr);
  std::string out = "sha256:";
  for (unsigned int i = 0; i < length; ++i) out += fmt::format("{:02x}", digest[i]);
  return out;
}

// The names in a tar.gz.
std::vector<std::string> entries_of(const std::string& bytes) {
  std::vector<std::string> names;
  archive* a = archive_read_new();
  archive_read_support_filter_gzip(a);
  archive_read_support_format_tar(a);
  EXPECT_EQ(archive_read_open_memory(a, bytes.data(), bytes.size()), ARCHIVE_OK);
  archive_entry* header = nullptr;
  while (archive_read_next_header(a, &header) == ARCHIVE_OK) {
    names.emplace_back(archive_entry_pathname(header));
  }
  archive_read_free(a);
  return names;
}

bool contains(const std::string& text, std::string_view fragment) {
  return text.find(fragment) != std::string::npos;
}

class TaskTest : public CliTest {
 protected:
  void SetUp() override {
    env_vars.emplace("BERTH_POLL_INTERVAL_MS", "1");
    context_ = home.path() / "ctx";
    fs::create_directories(context_ / "sub");
    write(context_ / "Dockerfile", "FROM alpine\nCOPY app.txt /\n");
    write(context_ / "sub" / "Dockerfile.dev", "FROM alpine\n");
    write(context_ / "app.txt", "hello\n");
    write(context_ / "secret.txt", "not for the server\n");
    write(context_ / ".dockerignore", "secret.txt\n");
  }

  static void write(const fs::path& file, std::string_view text) {
    std::ofstream(file, std::ios::binary) << text;
  }

  std::string context() const { return context_.string(); }

  // The answers to a source upload and a queued run.
  void answer_upload_and_queue() {
    fake.answer(201, R"({"digest":"sha256:placeholder","size":100})");
    fake.answer(202, run_json("Queued"));
  }

  // A log followed to a run's end: two pieces with an empty wait between them, then the empty
  // piece that says nothing more follows, then the run itself.
  void answer_log_until(std::string_view status, std::string_view error = "") {
    fake.answer(200, "Step 1/2 : FROM alpine\n", log_headers(23, "Running"));
    fake.answer(200, "", log_headers(23, "Running"));
    fake.answer(200, "Step 2/2 : COPY app.txt /\n", log_headers(49, status));
    fake.answer(200, "", log_headers(49, status));
    fake.answer(200, run_json(status, error));
  }

  void expect_request(std::size_t index, const char* method, const std::string& url) {
    ASSERT_GT(fake.requests.size(), index);
    EXPECT_EQ(fake.requests[index].method, method);
    EXPECT_EQ(fake.requests[index].url, url);
  }

  json::value body(std::size_t index) { return json::parse(fake.requests.at(index).body); }

  // Each run fails with exit 2 before any request, its message holding the fragment.
  void expect_refused(const std::vector<std::pair<std::vector<std::string>, std::string>>& runs) {
    for (std::size_t i = 0; i < runs.size(); ++i) {
      SCOPED_TRACE(::testing::Message() << "run " << i << ": " << runs[i].second);
      expect_error(run(runs[i].first), ExitCode::kUsage, runs[i].second);
    }
    EXPECT_TRUE(fake.requests.empty());
  }

  fs::path context_;
};

const std::string kLog = "Step 1/2 : FROM alpine\nStep 2/2 : COPY app.txt /\n";

// ------------------------------------------------------------------ build

TEST_F(TaskTest, BuildUploadsTheContextQueuesTheBuildAndStreamsItsLog) {
  env_vars.emplace("PROXY", "http://proxy:3128");
  answer_upload_and_queue();
  answer_log_until("Succeeded");
  EXPECT_EQ(run({"build", "--registry", "myreg", "--image", "app:v1", "-t", "app:latest",
                 "--build-arg", "VERSION=1.2", "--build-arg", "PROXY", "--target", "final",
                 "--platform", "linux/arm64", "--timeout", "600", context()}),
            0)
      << err;
  EXPECT_EQ(out, kLog);
  ASSERT_EQ(fake.requests.size(), 7u);

  // The context, as a tar.gz without what .dockerignore leaves out, under its own digest.
  const HttpRequest& upload = fake.requests[0];
  const std::string digest = sha256_of(upload.body);
  EXPECT_EQ(upload.method, "PUT");
  EXPECT_EQ(upload.url, kReg + "/sources/sha256%3A" + digest.substr(7));
  EXPECT_EQ(testing::FakeTransport::header(upload, "Content-Type"), "application/gzip");
  EXPECT_EQ(entries_of(upload.body),
            (std::vector<std::string>{".dockerignore", "Dockerfile", "app.txt", "sub/",
                                      "sub/Dockerfile.dev"}));
  EXPECT_FALSE(fs::exists(upload.body_file)) << "the archive is removed afterwards";

  expect_request(1, "POST", kRuns);
  EXPECT_EQ(body(1), json::parse(fmt::format(
                         R"({{"type":"QuickBuild","dockerfile":"Dockerfile",
                              "images":["app:v1","app:latest"],
                              "buildArgs":{{"VERSION":"1.2","PROXY":"http://proxy:3128"}},
                              "target":"final","platform":"linux/arm64","timeout":600,
                              "source":"{}"}})",
                         digest)));
  // The build arguments in the order given.
  EXPECT_LT(fake.requests[1].body.find("VERSION"), fake.requests[1].body.find("PROXY"));
  expect_request(2, "GET", kRuns + "/cb12/log?offset=0&follow=true");
  expect_request(3, "GET", kRuns + "/cb12/log?offset=23&follow=true");
  expect_request(4, "GET", kRuns + "/cb12/log?offset=23&follow=true");
  expect_request(5, "GET", kRuns + "/cb12/log?offset=49&follow=true");
  expect_request(6, "GET", kRuns + "/cb12");
  EXPECT_TRUE(contains(err, "Sending the context")) << err;
  EXPECT_TRUE(contains(err, "Queued a quick build as run cb12\n")) << err;
  EXPECT_TRUE(err.ends_with("Run cb12 Succeeded\n")) << err;
}

TEST_F(TaskTest, ABuildThatDoesNotSucceedExitsOneWithItsStatusAndError) {
  answer_upload_and_queue();
  answer_log_until("Failed", "step build exited with 1");
  EXPECT_EQ(run({"build", "-r", "myreg", "-t", "app:v1", context()}), 1);
  EXPECT_EQ(out, kLog);
  EXPECT_TRUE(err.ends_with("berth: run cb12 ended Failed: step build exited with 1\n")) << err;

  for (std::string_view status : {"Canceled", "Timeout"}) {
    fake.requests.clear();
    answer_upload_and_queue();
    answer_log_until(status);
    EXPECT_EQ(run({"build", "-r", "myreg", "-t", "app:v1", context()}), 1);
    EXPECT_TRUE(err.ends_with(fmt::format("berth: run cb12 ended {}\n", status))) << err;
  }
}

TEST_F(TaskTest, TheDockerfileIsRelativeToTheContextAndAlwaysSent) {
  write(context_ / ".dockerignore", "sub\n");
  answer_upload_and_queue();
  answer_log_until("Succeeded");
  EXPECT_EQ(run({"build", "-r", "myreg", "-t", "app:v1", "-f", "./sub//Dockerfile.dev",
                 "--no-push", context()}),
            0)
      << err;
  EXPECT_EQ(body(1).at("dockerfile"), "sub/Dockerfile.dev");
  EXPECT_EQ(body(1).at("noPush"), true);
  ASSERT_FALSE(fake.requests.empty());
  auto names = entries_of(fake.requests[0].body);
  EXPECT_NE(std::find(names.begin(), names.end(), "sub/Dockerfile.dev"), names.end());
}

TEST_F(TaskTest, NoWaitPrintsTheRunIdOnly) {
  answer_upload_and_queue();
  EXPECT_EQ(run({"build", "-r", "myreg", "-t", "app:v1", "--no-wait", context()}), 0) << err;
  EXPECT_EQ(out, "cb12\n");
  EXPECT_EQ(fake.requests.size(), 2u);
  EXPECT_TRUE(contains(err, "Queued a quick build as run cb12")) << err;

  answer_upload_and_queue();
  EXPECT_EQ(run({"build", "-r", "myreg", "-t", "app:v1", "--no-wait", "-o", "json", context()}), 0);
  EXPECT_EQ(json::parse(out).at("runId"), "cb12");
  EXPECT_EQ(json::parse(out).at("status"), "Queued");
}

TEST_F(TaskTest, TheSameContextIsUploadedUnderTheSameDigest) {
  for (int i = 0; i < 2; ++i) {
    answer_upload_and_queue();
    ASSERT_EQ(run({"build", "-r", "myreg", "-t", "app:v1", "--no-wait", context()}), 0) << err;
  }
  ASSERT_EQ(fake.requests.size(), 4u);
  EXPECT_EQ(fake.requests[0].url, fake.requests[2].url);
  EXPECT_EQ(fake.requests[0].body, fake.requests[2].body);
}

TEST_F(TaskTest, BuildFlagsAreCheckedBeforeAnyRequest) {
  const std::string missing = (home.path() / "none").string();
  const std::string file = (context_ / "app.txt").string();
  expect_refused({
      {{"build", "-t", "app:v1", context()}, "--registry"},
      {{"build", "-r", "myreg", "-t", "app:v1"}, "context"},
      {{"build", "-r", "myreg", context()}, "needs --image REPOSITORY:TAG (or --no-push)"},
      {{"build", "-r", "myreg", "-t", "app", context()}, "app"},
      {{"build", "-r", "myreg", "-t", "app@sha256:" + std::string(64, 'a'), context()},
       "must be REPOSITORY:TAG"},
      {{"build", "-r", "myreg", "-t", "App:v1", context()}, "App"},
      {{"build", "-r", "myreg", "-t", "app:v1", missing}, "is not a directory"},
      {{"build", "-r", "myreg", "-t", "app:v1", file}, "is not a directory"},
      {{"build", "-r", "myreg", "-t", "app:v1", "-f", "../Dockerfile", context()},
       "must be a path inside the context"},
      {{"build", "-r", "myreg", "-t", "app:v1", "-f", "/etc/passwd", context()},
       "must be a path inside the context"},
      {{"build", "-r", "myreg", "-t", "app:v1", "-f", "Dockerfile.none", context()},
       "there is no Dockerfile Dockerfile.none"},
      {{"build", "-r", "myreg", "-t", "app:v1", "--build-arg", "=1", context()}, "NAME=VALUE"},
      {{"build", "-r", "myreg", "-t", "app:v1", "--build-arg", "UNSET_HERE", context()},
       "UNSET_HERE: no value given and none in the environment"},
      {{"build", "-r", "myreg", "-t", "app:v1", "--timeout", "0", context()}, "1 to 28800"},
      {{"build", "-r", "myreg", "-t", "app:v1", "--timeout", "28801", context()}, "1 to 28800"},
  });
}

TEST_F(TaskTest, TheServersRefusalIsTheError) {
  fake.answer(201, R"({"digest":"sha256:x","size":1})");
  fake.answer(400, R"({"error":{"code":"InvalidRequest",
      "message":"not an image name with a tag (REPOSITORY:TAG): app:v1:x","target":null}})");
  EXPECT_EQ(run({"build", "-r", "myreg", "-t", "app:v1", "--no-wait", context()}), 2);
  EXPECT_EQ(out, "");
  EXPECT_TRUE(
      err.ends_with("berth: not an image name with a tag (REPOSITORY:TAG): app:v1:x\n"))
      << err;
}

TEST_F(TaskTest, LosingTheServerWhileFollowingSaysTheRunGoesOn) {
  answer_upload_and_queue();
  fake.answer(200, "Step 1/2 : FROM alpine\n", log_headers(23, "Running"));
  // No more answers: the next request fails as a dead network would.
  EXPECT_EQ(run({"build", "-r", "myreg", "-t", "app:v1", context()}), 1);
  EXPECT_EQ(out, "Step 1/2 : FROM alpine\n");
  EXPECT_TRUE(contains(err, "(run cb12 goes on: 'berth run logs --registry myreg --run cb12 "
                            "--follow' follows it)"))
      << err;
}

TEST_F(TaskTest, ALogAnswerWithoutItsHeadersIsAFailure) {
  answer_upload_and_queue();
  fake.answer(200, "bytes", {{"X-Berth-Run-Status", "Running"}});
  EXPECT_EQ(run({"build", "-r", "myreg", "-t", "app:v1", context()}), 1);
  EXPECT_TRUE(contains(err, "lacks a valid X-Berth-Log-Next-Offset")) << err;
  EXPECT_EQ(out, "");
}

// ------------------------------------------------------------------ run

TEST_F(TaskTest, RunCmdQueuesAQuickRunWithoutASource) {
  fake.answer(202, run_json("Queued", "", "QuickRun"));
  answer_log_until("Succeeded");
  EXPECT_EQ(run({"run", "--registry", "myreg", "--cmd", "alpine echo hi", "--timeout", "30"}), 0)
      << err;
  expect_request(0, "POST", kRuns);
  EXPECT_EQ(body(0), json::parse(R"({"type":"QuickRun","cmd":"alpine echo hi","timeout":30})"));
  EXPECT_EQ(out, kLog);
  EXPECT_TRUE(contains(err, "Queued a quick run as run cb12")) << err;
}

TEST_F(TaskTest, RunFileSendsTheFileItsValuesAndItsContext) {
  const std::string task_file = (home.path() / "task.yaml").string();
  const std::string yaml = "version: v1.1.0\nsteps:\n  - cmd: alpine echo {{.Values.who}}\n";
  write(task_file, yaml);
  answer_upload_and_queue();
  answer_log_until("Failed", "step acb_step_0 exited with 2");
  EXPECT_EQ(run({"run", "-r", "myreg", "-f", task_file, "--set", "who=world", "--set",
                 "empty=", context()}),
            1);
  ASSERT_EQ(fake.requests.size(), 7u);
  expect_request(0, "PUT", kReg + "/sources/sha256%3A" + sha256_of(fake.requests[0].body).substr(7));
  expect_request(1, "POST", kRuns);
  EXPECT_EQ(body(1), json::parse(fmt::format(
                         R"({{"type":"TaskFile","taskFile":{},"values":{{"who":"world","empty":""}},
                              "source":"{}"}})",
                         json::serialize(json::string(yaml)), sha256_of(fake.requests[0].body))));
  EXPECT_TRUE(contains(err, fmt::format("Queued the task file {} as run cb12", task_file))) << err;
  EXPECT_TRUE(err.ends_with("berth: run cb12 ended Failed: step acb_step_0 exited with 2\n"))
      << err;
}

TEST_F(TaskTest, RunFileWithoutAContextUploadsNothing) {
  const std::string task_file = (home.path() / "task.yaml").string();
  write(task_file, "steps: []\n");
  fake.answer(202, run_json("Queued", "", "TaskFile"));
  EXPECT_EQ(run({"run", "-r", "myreg", "-f", task_file, "--no-wait"}), 0) << err;
  ASSERT_EQ(fake.requests.size(), 1u);
  EXPECT_EQ(body(0), json::parse(R"({"type":"TaskFile","taskFile":"steps: []\n"})"));
  EXPECT_EQ(out, "cb12\n");
}

TEST_F(TaskTest, RunFlagsAreCheckedBeforeAnyRequest) {
  const std::string task_file = (home.path() / "task.yaml").string();
  write(task_file, "steps: []\n");
  const std::string big_file = (home.path() / "big.yaml").string();
  write(big_file, std::string(64 * 1024 + 1, '#'));
  const std::string missing = (home.path() / "none.yaml").string();
  expect_refused({
      {{"run", "--cmd", "alpine"}, "--registry is required"},
      {{"run", "-r", "myreg"}, "give --cmd 'IMAGE [ARG...]' (a quick run) or --file"},
      {{"run", "-r", "myreg", "--cmd", "alpine", "-f", task_file}, "give --cmd"},
      {{"run", "-r", "myreg", "--cmd", "alpine", context()}, "a --cmd run takes no context"},
      {{"run", "-r", "myreg", "--cmd", "alpine", "--set", "a=b"}, "--set gives values"},
      {{"run", "-r", "myreg", "-f", missing}, "cannot read the task file"},
      {{"run", "-r", "myreg", "-f", big_file}, "is over 65536 bytes"},
      {{"run", "-r", "myreg", "-f", task_file, "--set", "novalue"}, "must be NAME=VALUE"},
      {{"run", "-r", "myreg", "-f", task_file, (home.path() / "none").string()},
       "is not a directory"},
      {{"run", "-r", "myreg", "--cmd", "alpine", "--timeout", "x"}, "1 to 28800"},
      {{"run", "--cmd", "alpine", "list", "-r", "myreg"},
       "belongs to 'berth run' itself, not to 'berth run list'"},
      {{"run", "show", "-r", "myreg", "--run", "12"}, "is not a run id"},
      {{"run", "show", "-r", "myreg", "--run", "cb012"}, "is not a run id"},
      {{"run", "show", "-r", "myreg"}, "--run"},
      {{"run", "logs", "--run", "cb12"}, "--registry is required"},
      {{"run", "list", "-r", "myreg", "--top", "101"}, "1 to 100"},
      {{"run", "list", "-r", "myreg", "--before", "12"}, "is not a run id"},
  });
}

// ------------------------------------------------------------------ run list|show|logs|cancel

TEST_F(TaskTest, RunListAsksForThePageAndPrintsTheRuns) {
  fake.answer(200, fmt::format(R"({{"runs":[{},{}],"next":"cb11"}})", run_json("Succeeded"),
                               run_json("Running")));
  EXPECT_EQ(run({"run", "list", "-r", "myreg", "--task", "nightly", "--top", "2", "--before",
                 "cb13"}),
            0)
      << err;
  expect_request(0, "GET", kRuns + "?task=nightly&top=2&before=cb13");
  EXPECT_TRUE(contains(out, "RUN ID")) << out;
  EXPECT_TRUE(contains(out, "cb12")) << out;
  EXPECT_TRUE(contains(out, "2m05s")) << out;  // 15:04:06 to 15:06:11
  EXPECT_TRUE(contains(out, "More runs follow: add --before cb11 for the next page.")) << out;

  fake.answer(200, fmt::format(R"({{"runs":[{}]}})", run_json("Succeeded")));
  EXPECT_EQ(run({"run", "list", "-r", "myreg", "-o", "tsv"}), 0);
  expect_request(1, "GET", kRuns);
  EXPECT_EQ(out, "cb12\t\tQuickBuild\tSucceeded\tmanual\t2026-12-02T15:04:06Z\t125\n");

  fake.answer(200, fmt::format(R"({{"runs":[{}]}})", run_json("Queued")));
  EXPECT_EQ(run({"run", "list", "-r", "myreg", "-o", "json"}), 0);
  EXPECT_EQ(json::parse(out), json::parse(fmt::format("[{}]", run_json("Queued"))));
}

TEST_F(TaskTest, RunShowPrintsTheImagesAndTheError) {
  fake.answer(200, run_json("Succeeded"));
  EXPECT_EQ(run({"run", "show", "-r", "myreg", "--run", "cb12"}), 0) << err;
  expect_request(0, "GET", kRuns + "/cb12");
  EXPECT_TRUE(contains(out, "Pushed myreg.registry.local/app:v1@sha256:aa")) << out;

  fake.answer(200, run_json("Failed", "step build exited with 1"));
  EXPECT_EQ(run({"run", "show", "-r", "myreg", "--run-id", "cb12"}), 0) << err;
  EXPECT_TRUE(contains(out, "error: step build exited with 1")) << out;

  fake.answer(404, R"({"error":{"code":"NotFound","message":"no run cb99 in myreg"}})");
  expect_error(run({"run", "show", "-r", "myreg", "--run", "cb99"}), ExitCode::kNotFound,
               "no run cb99");
}

TEST_F(TaskTest, RunLogsPrintsTheWholeLogOnceOrFollowsIt) {
  // Without --follow: the pieces there are, without waiting for more.
  fake.answer(200, "first\n", log_headers(6, "Running"));
  fake.answer(200, "", log_headers(6, "Running"));
  EXPECT_EQ(run({"run", "logs", "-r", "myreg", "--run", "cb12"}), 0) << err;
  EXPECT_EQ(out, "first\n");
  expect_request(0, "GET", kRuns + "/cb12/log?offset=0");
  expect_request(1, "GET", kRuns + "/cb12/log?offset=6");
  EXPECT_EQ(err, "");

  // With --follow: on through empty answers until the run has ended; the run's outcome is not
  // this verb's exit status (it printed what it was asked for).
  fake.requests.clear();
  fake.answer(200, "first\n", log_headers(6, "Running"));
  fake.answer(200, "", log_headers(6, "Running"));
  fake.answer(200, "", log_headers(6, "Running"));
  fake.answer(200, "last\n", log_headers(11, "Failed"));
  fake.answer(200, "", log_headers(11, "Failed"));
  EXPECT_EQ(run({"run", "logs", "-r", "myreg", "--run", "cb12", "--follow"}), 0) << err;
  EXPECT_EQ(out, "first\nlast\n");
  ASSERT_EQ(fake.requests.size(), 5u);
  expect_request(4, "GET", kRuns + "/cb12/log?offset=11&follow=true");
}

TEST_F(TaskTest, RunCancelSaysWhereTheRunIs) {
  fake.answer(202, run_json("Running"));
  EXPECT_EQ(run({"run", "cancel", "-r", "myreg", "--run", "cb12"}), 0) << err;
  expect_request(0, "POST", kRuns + "/cb12/cancel");
  EXPECT_TRUE(contains(out, "Run cb12 is stopping")) << out;

  fake.answer(202, run_json("Canceled"));
  EXPECT_EQ(run({"run", "cancel", "-r", "myreg", "--run", "cb12"}), 0) << err;
  EXPECT_TRUE(contains(out, "Run cb12 is Canceled.")) << out;

  fake.answer(403, R"({"error":{"code":"Forbidden","message":"Contributor is needed"}})");
  expect_error(run({"run", "cancel", "-r", "myreg", "--run", "cb12"}), ExitCode::kAuth);
}

}  // namespace
}  // namespace berth::cli
