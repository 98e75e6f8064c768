// Build runs end to end with real buildah and runc: quick builds that land pullable images,
// multi-step task files (parallel steps, ordering, failures, ignoreErrors, retries, timeouts,
// cancel), and after each run nothing left on the machine.

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <openssl/evp.h>

#include <regex>
#include <set>

#include "tasks_test_support.h"

namespace berth::testing {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;

class RunTest : public TasksAppTest {
 protected:
  void SetUp() override { start_app(); }

  std::string busybox_source(const std::string& dockerfile) {
    const fs::path context = dir_.path() / fmt::format("context-{}", ++contexts_);
    write_busybox_context(context, dockerfile);
    return upload_source(pack(context, dir_.path() / fmt::format("context-{}.tgz", contexts_)));
  }

  // A task file run with a busybox context whose image is built as app:<tag>.
  json::object run_file(const std::string& file, const std::string& dockerfile =
                                                      "FROM scratch\nCOPY rootfs/ /\n") {
    const std::string source = busybox_source(dockerfile);
    auto queued = queue({{"type", "TaskFile"}, {"source", source}, {"taskFile", file}});
    return wait_for_end(string_field(queued, "runId"));
  }

  // The time a line of the log carries ("2026-12-03T18:10:00.123Z [step] ..."), for the line
  // holding `text` after the step tag `[step]`.
  std::string time_of(const std::string& log, const std::string& step, const std::string& text) {
    std::istringstream lines(log);
    std::string line;
    const std::string tag = "[" + step + "] " + text;
    while (std::getline(lines, line)) {
      if (line.find(tag) != std::string::npos) return line.substr(0, line.find(' '));
    }
    ADD_FAILURE() << "no line " << tag << " in the log:\n" << log;
    return "";
  }

  int contexts_ = 0;
};

TEST_F(RunTest, QuickBuildLandsAPullableImageWithTheRunStepsEffect) {
  const std::string source = busybox_source(
      "FROM scratch\nCOPY rootfs/ /\nRUN echo built-by-berth > /greeting && echo ran-the-step\n");
  auto queued = queue({{"type", "QuickBuild"}, {"source", source}, {"images", {"app:v1"}}});
  const std::string id = string_field(queued, "runId");
  EXPECT_EQ(id, "cb1");
  EXPECT_EQ(string_field(queued, "runType"), "QuickBuild");
  auto ended = wait_for_end(id);
  ASSERT_EQ(string_field(ended, "status"), "Succeeded") << json::serialize(ended)
                                                       << log_of(id);
  const auto& outputs = ended.at("outputImages").as_array();
  ASSERT_EQ(outputs.size(), 1u) << json::serialize(ended);
  const std::string digest = string_field(outputs[0].as_object(), "digest");
  EXPECT_EQ(string_field(outputs[0].as_object(), "repository"), "app");
  EXPECT_EQ(string_field(outputs[0].as_object(), "tag"), "v1");

  // Pullable: the tag names the digest the run reported, and its top layer holds the file RUN
  // wrote.
  auto manifest = client().get("/v2/app/manifests/v1",
                               {"Accept: application/vnd.oci.image.manifest.v1+json"});
  ASSERT_EQ(manifest.status, 200);
  EXPECT_EQ(manifest.header("Docker-Content-Digest"), digest);
  auto layers = parse_object(manifest.body).at("layers").as_array();
  ASSERT_FALSE(layers.empty());
  const std::string top = string_field(layers.back().as_object(), "digest");
  auto layer = client().get("/v2/app/blobs/" + top);
  ASSERT_EQ(layer.status, 200);
  std::ofstream(dir_.path() / "top.tar.gz", std::ios::binary) << layer.body;
  const std::string extract =
      fmt::format("tar -xzOf '{}' greeting > '{}'", (dir_.path() / "top.tar.gz").string(),
                  (dir_.path() / "greeting").string());
  ASSERT_EQ(std::system(extract.c_str()), 0);
  EXPECT_EQ(read_whole_file(dir_.path() / "greeting"), "built-by-berth\n");

  const std::string log = log_of(id);
  EXPECT_NE(log.find("ran-the-step"), std::string::npos) << log;
  EXPECT_NE(log.find("[push] pushed"), std::string::npos) << log;
  expect_nothing_left();
}

TEST_F(RunTest, AFailingBuildFailsTheRunWithItsLog) {
  const std::string source =
      busybox_source("FROM scratch\nCOPY rootfs/ /\nRUN echo about-to-fail && false\n");
  auto queued = queue({{"type", "QuickBuild"}, {"source", source}, {"images", {"app:broken"}}});
  auto ended = wait_for_end(string_field(queued, "runId"));
  EXPECT_EQ(string_field(ended, "status"), "Failed");
  EXPECT_NE(string_field(ended, "error").find("step build failed"), std::string::npos)
      << json::serialize(ended);
  const std::string log = log_of(string_field(queued, "runId"));
  EXPECT_NE(log.find("about-to-fail"), std::string::npos) << log;
  EXPECT_EQ(client().get("/v2/app/manifests/broken").status, 404);
  expect_nothing_left();
}

TEST_F(RunTest, MultiStepFileRunsParallelBuildsThenPushesAndChecksTheImage) {
  const std::string file = R"(version: v1.1.0
steps:
  - id: build-a
    build: -t $Registry/multi-a:$ID -f Dockerfile.a .
    when: ["-"]
  - id: build-b
    build: -t $Registry/multi-b:$ID -f Dockerfile.b .
    when: ["-"]
  - id: push
    push: ["$Registry/multi-a:$ID", "$Registry/multi-b:$ID"]
    when: [build-a, build-b]
  - id: check
    cmd: $Registry/multi-a:$ID sh -c "cat /made-by && test $(cat /made-by) = a"
    when: [push]
)";
  const fs::path context = dir_.path() / "multi";
  write_busybox_context(context, "");
  std::ofstream(context / "Dockerfile.a")
      << "FROM scratch\nCOPY rootfs/ /\nRUN sleep 1 && echo a > /made-by\n";
  std::ofstream(context / "Dockerfile.b")
      << "FROM scratch\nCOPY rootfs/ /\nRUN sleep 1 && echo b > /made-by\n";
  const std::string source = upload_source(pack(context, dir_.path() / "multi.tgz"));
  auto queued = queue({{"type", "TaskFile"}, {"source", source}, {"taskFile", file}});
  const std::string id = string_field(queued, "runId");
  auto ended = wait_for_end(id);
  const std::string log = log_of(id);
  ASSERT_EQ(string_field(ended, "status"), "Succeeded") << json::serialize(ended) << log;
  EXPECT_EQ(ended.at("outputImages").as_array().size(), 2u);
  EXPECT_EQ(client().head(fmt::format("/v2/multi-b/manifests/{}", id)).status, 200);
  // The cmd step's own output reached the log.
  EXPECT_NE(log.find("[check] a"), std::string::npos) << log;

  // `when`: both builds started before either ended (parallel); the push started after both
  // ended, the check after the push.
  const std::string a_started = time_of(log, "build-a", "step started");
  const std::string b_started = time_of(log, "build-b", "step started");
  const std::string a_ended = time_of(log, "build-a", "step succeeded");
  const std::string b_ended = time_of(log, "build-b", "step succeeded");
  const std::string push_started = time_of(log, "push", "step started");
  const std::string push_ended = time_of(log, "push", "step succeeded");
  const std::string check_started = time_of(log, "check", "step started");
  EXPECT_LT(a_started, b_ended);
  EXPECT_LT(b_started, a_ended);
  EXPECT_GE(push_started, std::max(a_ended, b_ended));
  EXPECT_GE(check_started, push_ended);
  expect_nothing_left();
}

TEST_F(RunTest, ACmdStepThatFindsTheWrongOutputFailsTheRun) {
  const std::string file = R"(version: v1.1.0
steps:
  - build: -t $Registry/checked:$ID .
  - cmd: $Registry/checked:$ID sh -c "echo checking; test -f /not-there"
  - id: never
    cmd: $Registry/checked:$ID echo should-not-run
)";
  auto ended = run_file(file);
  const std::string log = log_of(string_field(ended, "runId"));
  EXPECT_EQ(string_field(ended, "status"), "Failed") << log;
  EXPECT_NE(string_field(ended, "error").find("acb_step_1"), std::string::npos)
      << json::serialize(ended);
  EXPECT_NE(log.find("checking"), std::string::npos);
  EXPECT_EQ(log.find("should-not-run"), std::string::npos) << log;
  EXPECT_EQ(log.find("[never] step started"), std::string::npos) << log;
  expect_nothing_left();
}

TEST_F(RunTest, IgnoreErrorsRetriesAndTimeoutsBehaveAsDocumented) {
  // A failing step with ignoreErrors lets its dependents run; a step that fails twice then
  // succeeds (a counter in the workspace) succeeds within its retries; a step that sleeps past
  // its timeout is stopped and fails the run.
  const std::string file = R"(version: v1.1.0
steps:
  - build: -t $Registry/tools:$ID .
  - id: ignored
    cmd: $Registry/tools:$ID sh -c "echo failing-on-purpose; exit 3"
    ignoreErrors: true
  - id: flaky
    cmd: $Registry/tools:$ID sh -c "echo x >> /workspace/tries; test $(cat /workspace/tries | wc -l) -ge 3"
    retries: 2
    retryDelay: 1
  - id: slow
    cmd: $Registry/tools:$ID sleep 30
    timeout: 4
  - id: after-slow
    cmd: $Registry/tools:$ID echo must-not-run
)";
  const auto started = std::chrono::steady_clock::now();
  auto ended = run_file(file);
  const auto took = std::chrono::steady_clock::now() - started;
  const std::string id = string_field(ended, "runId");
  const std::string log = log_of(id);
  EXPECT_EQ(string_field(ended, "status"), "Failed") << log;
  EXPECT_NE(log.find("[ignored] step failed"), std::string::npos) << log;
  EXPECT_NE(log.find("(errors ignored)"), std::string::npos) << log;
  EXPECT_NE(log.find("[flaky] retrying in 1 s (retry 1 of 2)"), std::string::npos) << log;
  EXPECT_NE(log.find("[flaky] retrying in 1 s (retry 2 of 2)"), std::string::npos) << log;
  EXPECT_NE(log.find("[flaky] step succeeded"), std::string::npos) << log;
  EXPECT_NE(log.find("[slow] step failed"), std::string::npos) << log;
  EXPECT_NE(log.find("timed out after 4 s"), std::string::npos) << log;
  EXPECT_NE(string_field(ended, "error").find("step slow failed"), std::string::npos);
  EXPECT_EQ(log.find("must-not-run"), std::string::npos) << log;
  EXPECT_LT(took, 60s) << "the slow step was not stopped at its timeout";
  expect_nothing_left();
}

TEST_F(RunTest, CancelStopsARunningStep) {
  const std::string file = R"(version: v1.1.0
steps:
  - build: -t $Registry/sleeper:$ID .
  - id: sleep
    cmd: $Registry/sleeper:$ID sh -c "echo sleeping-now; sleep 120"
)";
  const std::string source = busybox_source("FROM scratch\nCOPY rootfs/ /\n");
  auto queued = queue({{"type", "TaskFile"}, {"source", source}, {"taskFile", file}});
  const std::string id = string_field(queued, "runId");
  // Cancel once the sleep has begun.
  const auto until = std::chrono::steady_clock::now() + 120s;
  while (std::chrono::steady_clock::now() < until &&
         log_of(id).find("sleeping-now") == std::string::npos) {
    std::this_thread::sleep_for(100ms);
  }
  const auto canceled_at = std::chrono::steady_clock::now();
  auto cancel = client().request("POST", fmt::format("/mgmt/v1/registries/default/runs/{}/cancel", id));
  EXPECT_EQ(cancel.status, 202) << cancel.body;
  auto ended = wait_for_end(id);
  EXPECT_EQ(string_field(ended, "status"), "Canceled") << json::serialize(ended);
  EXPECT_LT(std::chrono::steady_clock::now() - canceled_at, 30s);
  expect_nothing_left();
}

TEST_F(RunTest, AFileThatDoesNotValidateIsRefusedWithItsLine) {
  auto refused = queue({{"type", "TaskFile"},
                        {"taskFile", "version: v1.1.0\nsteps:\n  - cmd: x\n    privileged: true\n"}},
                       "default", 400);
  const std::string message = json::serialize(refused);
  EXPECT_NE(message.find("line 4"), std::string::npos) << message;
  auto runs = parse_object(client().get("/mgmt/v1/registries/default/runs").body);
  EXPECT_TRUE(runs.at("runs").as_array().empty()) << "a refused run was stored";
}

}  // namespace
}  // namespace berth::testing

namespace berth::testing {
namespace {

std::string base64_decode_text(const std::string& text) {
  std::string out(text.size(), '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0) return "";
  out.resize(static_cast<std::size_t>(n));
  while (!out.empty() && out.back() == '\0') out.pop_back();
  return out;
}

std::string basic_header(const std::string& user_and_password) {
  std::string encoded(4 * ((user_and_password.size() + 2) / 3), '\0');
  EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data()),
                  reinterpret_cast<const unsigned char*>(user_and_password.data()),
                  static_cast<int>(user_and_password.size()));
  return "Authorization: Basic " + encoded;
}

// The run's token (as its steps log in with it) may push to the repositories the run pushes to
// and nowhere else, may pull from its registry, and is worthless once the run has ended.
TEST_F(RunTest, ARunsTokenPushesOnlyToItsTargetsAndDiesWithTheRun) {
  const std::string file = R"(version: v1.1.0
steps:
  - build: -t $Registry/target:$ID .
  - cmd: $Registry/target:$ID sh -c "echo holding; sleep 60"
  - push: ["$Registry/target:$ID"]
)";
  const std::string source = busybox_source("FROM scratch\nCOPY rootfs/ /\n");
  auto queued = queue({{"type", "TaskFile"}, {"source", source}, {"taskFile", file}});
  const std::string id = string_field(queued, "runId");
  const auto until = std::chrono::steady_clock::now() + 120s;
  while (std::chrono::steady_clock::now() < until &&
         log_of(id).find("holding") == std::string::npos) {
    std::this_thread::sleep_for(100ms);
  }
  // The credentials buildah logs in with, from the run's own workspace.
  const std::string auth = read_whole_file(data_dir() / "tasks/runs" / ("1-" + id.substr(2)) / "auth.json");
  auto auths = parse_object(auth).at("auths").as_object();
  ASSERT_FALSE(auths.empty()) << auth;
  const std::string login =
      base64_decode_text(string_field(auths.begin()->value().as_object(), "auth"));
  ASSERT_NE(login.find(':'), std::string::npos);

  HttpClient as_run(app_->base_url());
  as_run.set_default_headers({basic_header(login)});
  EXPECT_EQ(as_run.request("POST", "/v2/target/blobs/uploads/").status, 202);
  EXPECT_EQ(as_run.request("POST", "/v2/elsewhere/blobs/uploads/").status, 403);
  const long listed = as_run.get("/v2/target/tags/list").status;
  EXPECT_TRUE(listed == 200 || listed == 404) << "pull is allowed, got " << listed;
  // The token service grants only what the run may do.
  auto token = as_run.get(
      "/oauth2/token?service=default.registry.local&scope=repository:target:push,pull"
      "&scope=repository:"
      "elsewhere:push,pull");
  ASSERT_EQ(token.status, 200) << token.body;
  auto access = parse_object(token.body);
  const std::string jwt = string_field(access, "access_token");
  HttpClient with_jwt(app_->base_url());
  with_jwt.set_default_headers({bearer_header(jwt)});
  EXPECT_EQ(with_jwt.request("POST", "/v2/target/blobs/uploads/").status, 202);
  // Denied outright: the run itself may not push there (no challenge for more).
  EXPECT_EQ(with_jwt.request("POST", "/v2/elsewhere/blobs/uploads/").status, 403);

  auto cancel = client().request("POST", fmt::format("/mgmt/v1/registries/default/runs/{}/cancel", id));
  EXPECT_EQ(cancel.status, 202);
  wait_for_end(id);
  EXPECT_EQ(as_run.request("POST", "/v2/target/blobs/uploads/").status, 401)
      << "the run's token outlived the run";
  expect_nothing_left();
}

}  // namespace
}  // namespace berth::testing
