#pragma once
// Runs the steps of one run in its workspace: each step as buildah commands (tasks/process.h),
// steps in parallel as their `when` lists allow, with each step's timeout, retries and
// ignoreErrors, the run's overall timeout, and cancel. What a step can reach:
//
//   build: `buildah bud` with runc isolation (--isolation oci) and the run's network mode
//          ("none" by default: RUN instructions reach no network), the context directory of the
//          workspace, base images from the run's registry (through the loopback listener
//          berthd serves it on) or, when the network mode allows, from elsewhere;
//   push:  `buildah push` of images named in the run's registry, with the run's token;
//   cmd:   a container of the image (`buildah from` + `buildah run`, runc isolation, the same
//          network mode) with the context mounted at /workspace.
//
// Everything a step makes stays in the workspace (container storage, runc state, temp files)
// and goes with it.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "metadata/task_store.h"
#include "tasks/run_log.h"
#include "tasks/task_file.h"
#include "tasks/workspace.h"

namespace berth::tasks {

struct StepRunnerOptions {
  std::string login_server;  // the run's registry, as images name it
  std::string location;      // where berthd serves it on loopback ("127.0.0.1:PORT")
  std::string network = "none";  // "none" or "host"
  std::chrono::seconds run_timeout{3600};
  std::chrono::milliseconds kill_grace{5000};
};

struct PushedImage {
  std::string image;   // as pushed: "login-server/repository:tag"
  std::string digest;  // of the manifest berth stored
};

struct UsedBaseImage {
  std::string image;   // as the Dockerfile names it
  std::string digest;  // the manifest digest the build used ("" when it cannot be told)
};

struct StepsOutcome {
  metadata::RunStatus status = metadata::RunStatus::succeeded;
  std::string error;  // which step failed and how, for people
  std::vector<PushedImage> pushed;
  std::vector<UsedBaseImage> bases;
};

class StepRunner {
 public:
  StepRunner(const Workspace& workspace, RunLog& log, StepRunnerOptions options,
             const std::atomic<bool>& cancel);
  StepsOutcome run(const TaskFile& file);

 private:
  struct Attempt {
    bool succeeded = false;
    bool timed_out = false;
    bool canceled = false;
    std::string error;
  };
  // What ends a process of a step early: the run stopping, or the step's (or run's) deadline.
  struct Limits {
    const std::atomic<bool>& stop;
    std::chrono::steady_clock::time_point deadline;
  };
  Attempt run_step(const Step& step);
  Attempt attempt(const Step& step, const std::atomic<bool>& stop);
  Attempt build(const Step& step, const BuildArgs& args, const Limits& limits);
  Attempt push(const Step& step, const PushImages& images, const Limits& limits);
  Attempt cmd(const Step& step, const CmdArgs& args, const Limits& limits);
  // Runs one process of `step`; its output goes to the log under the step's id, or to `output`
  // when given.
  Attempt exec(const Step& step, std::vector<std::string> argv, const Limits& limits,
               std::vector<std::string>* output = nullptr);
  void record_bases(const Step& step, const BuildArgs& args, const Limits& limits);
  std::filesystem::path working_directory(const Step& step) const;
  std::vector<std::string> isolation_flags() const;

  const Workspace& workspace_;
  RunLog& log_;
  StepRunnerOptions options_;
  const std::atomic<bool>& cancel_;
  std::atomic<bool> stop_{false};  // the run stops: a step failed, cancel, or the run timed out
  std::chrono::steady_clock::time_point deadline_;
  std::mutex results_mutex_;
  std::vector<PushedImage> pushed_;     // guarded by results_mutex_
  std::vector<UsedBaseImage> bases_;    // guarded by results_mutex_
};

}  // namespace berth::tasks
