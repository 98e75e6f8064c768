#pragma once
// One child process of a run's step (buildah, runc): spawned with Boost.Process from an argv
// (never a shell string), with an environment built from nothing (berthd's own environment,
// which may hold secrets, never reaches a step), in its own process group so that a timeout or
// a cancel stops everything it started. Its standard output and error arrive merged, a line at
// a time, at the caller's sink while it runs.

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace berth::tasks {

struct ProcessSpec {
  std::vector<std::string> argv;  // argv[0] is the program (a path, or a name looked up in PATH)
  std::map<std::string, std::string> environment;
  std::string working_directory;  // "" : berthd's
  std::chrono::milliseconds timeout{0};  // 0: none
  // After a stop (timeout or cancel) SIGTERM goes to the group; SIGKILL follows after this.
  std::chrono::milliseconds kill_grace{5000};
};

enum class ProcessEnd {
  exited,     // on its own: see exit_code
  timed_out,  // the timeout passed: stopped
  canceled,   // `cancel` became true: stopped
  not_started,  // could not be spawned: see error
};

struct ProcessResult {
  ProcessEnd end = ProcessEnd::not_started;
  int exit_code = -1;  // when exited; 128 + signal when a signal ended it
  std::string error;   // when not_started
};

// Receives the output line by line (without the newline). A line longer than 64 KiB arrives in
// pieces.
using LineSink = std::function<void(std::string_view line)>;

// Runs the process to its end. `cancel` (optional) is polled every 100 ms.
ProcessResult run_process(const ProcessSpec& spec, const LineSink& output,
                          const std::atomic<bool>* cancel = nullptr);

// The program's full path from PATH in `environment` (or the process's own PATH); "" when it
// is not found.
std::string find_program(std::string_view name,
                         const std::map<std::string, std::string>& environment = {});

}  // namespace berth::tasks
