#include "tasks/process.h"

#include <gtest/gtest.h>

#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "common/temp_dir.h"

namespace berth::tasks {
namespace {

using namespace std::chrono_literals;

ProcessSpec shell(std::string script) {
  ProcessSpec spec;
  spec.argv = {"/bin/sh", "-c", std::move(script)};
  spec.environment["PATH"] = "/usr/bin:/bin";
  return spec;
}

// Gone, or a zombie waiting for whoever adopted it.
bool alive(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string pid_field, name, state;
  if (!(stat >> pid_field >> name >> state)) return false;
  return state != "Z" && state != "X";
}

std::vector<std::string> run_collecting(const ProcessSpec& spec, ProcessResult& result,
                                        const std::atomic<bool>* cancel = nullptr) {
  std::vector<std::string> lines;
  result = run_process(spec, [&](std::string_view line) { lines.emplace_back(line); }, cancel);
  return lines;
}

TEST(Process, MergesOutputLinesAndPassesTheExitCode) {
  ProcessResult result;
  auto lines = run_collecting(shell("echo one; echo two >&2; printf 'no newline'; exit 7"),
                              result);
  EXPECT_EQ(result.end, ProcessEnd::exited);
  EXPECT_EQ(result.exit_code, 7);
  EXPECT_EQ(lines, (std::vector<std::string>{"one", "two", "no newline"}));
}

TEST(Process, SeesOnlyTheEnvironmentItIsGiven) {
  ::setenv("BERTH_PROCESS_TEST_SECRET", "hunter2", 1);
  ProcessSpec spec = shell("echo \"[$BERTH_PROCESS_TEST_SECRET][$GIVEN]\"");
  spec.environment["GIVEN"] = "yes";
  ProcessResult result;
  auto lines = run_collecting(spec, result);
  ::unsetenv("BERTH_PROCESS_TEST_SECRET");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], "[][yes]");
}

TEST(Process, ArgumentsAreNeverInterpretedByAShell) {
  ProcessSpec spec;
  spec.argv = {"/bin/echo", "$(touch pwned)", ";", "rm", "-rf", "*"};
  TempDir dir;
  spec.working_directory = dir.path().string();
  ProcessResult result;
  auto lines = run_collecting(spec, result);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], "$(touch pwned) ; rm -rf *");
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "pwned"));
}

TEST(Process, RunsInTheWorkingDirectory) {
  TempDir dir;
  ProcessSpec spec = shell("pwd");
  spec.working_directory = dir.path().string();
  ProcessResult result;
  auto lines = run_collecting(spec, result);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(std::filesystem::path(lines[0]), std::filesystem::canonical(dir.path()));
}

TEST(Process, TimeoutStopsTheWholeProcessGroup) {
  TempDir dir;
  const auto marker = dir.path() / "child.pid";
  // The shell starts a grandchild that would outlive it; both must go.
  ProcessSpec spec = shell("sleep 30 & echo $! > " + marker.string() + "; wait");
  spec.timeout = 300ms;
  spec.kill_grace = 500ms;
  ProcessResult result;
  const auto started = std::chrono::steady_clock::now();
  run_collecting(spec, result);
  EXPECT_EQ(result.end, ProcessEnd::timed_out);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 10s);
  std::ifstream in(marker);
  pid_t grandchild = 0;
  in >> grandchild;
  ASSERT_GT(grandchild, 0);
  std::this_thread::sleep_for(100ms);
  EXPECT_FALSE(alive(grandchild)) << "the grandchild survived the timeout";
}

TEST(Process, IgnoringSigtermEndsWithSigkill) {
  ProcessSpec spec = shell("trap '' TERM; while true; do sleep 0.1; done");
  spec.timeout = 200ms;
  spec.kill_grace = 300ms;
  ProcessResult result;
  run_collecting(spec, result);
  EXPECT_EQ(result.end, ProcessEnd::timed_out);
  EXPECT_EQ(result.exit_code, 128 + SIGKILL);
}

TEST(Process, CancelStopsIt) {
  std::atomic<bool> cancel{false};
  std::thread canceller([&] {
    std::this_thread::sleep_for(200ms);
    cancel = true;
  });
  ProcessResult result;
  run_collecting(shell("echo started; sleep 30"), result, &cancel);
  canceller.join();
  EXPECT_EQ(result.end, ProcessEnd::canceled);
}

TEST(Process, AMissingProgramIsNotStarted) {
  ProcessSpec spec;
  spec.argv = {"berth-no-such-program"};
  spec.environment["PATH"] = "/usr/bin:/bin";
  ProcessResult result;
  run_collecting(spec, result);
  EXPECT_EQ(result.end, ProcessEnd::not_started);
  EXPECT_NE(result.error.find("berth-no-such-program"), std::string::npos);
}

TEST(Process, LongLinesArriveInPieces) {
  ProcessResult result;
  auto lines = run_collecting(shell("head -c 200000 /dev/zero | tr '\\0' x; echo"), result);
  ASSERT_GE(lines.size(), 3u);
  std::size_t total = 0;
  for (const auto& line : lines) {
    EXPECT_LE(line.size(), 64u * 1024);
    total += line.size();
  }
  EXPECT_EQ(total, 200000u);
}

}  // namespace
}  // namespace berth::tasks
