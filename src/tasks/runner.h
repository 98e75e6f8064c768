#pragma once
// The runner: this node's worker pool for build runs. It takes queued runs from the metadata
// (any node's, oldest first) within two limits, the registry's (its tier's concurrent runs, over
// all nodes, checked in the store's transaction) and this node's (`max_running`); runs each in a
// fresh workspace (tasks/workspace.h) with a token only good for that run; renews the run's
// heartbeat, through which a cancel arrives; and ends the run with its status, images, base
// images and log, then reaps the workspace.
//
// After a kill -9: at start-up the runner ends as failed every run this node held (on the
// embedded default: every running run) and reaps every workspace it finds. A run whose node
// stopped renewing is ended the same way by any other node after `stale_after`.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "metadata/metadata_store.h"
#include "metadata/task_store.h"
#include "tasks/run_request.h"
#include "tasks/step_runner.h"

namespace berth::tasks {

struct RunnerOptions {
  std::string node;                   // this node's id: the holder of its runs
  bool only_node = false;             // the embedded default: every running run was ours
  std::filesystem::path runs_dir;     // <data-dir>/tasks/runs
  std::size_t max_running = 2;        // this node's runs at once
  std::string network = "none";       // the steps' network: "none" or "host"
  std::chrono::milliseconds poll_interval{1000};
  std::chrono::milliseconds heartbeat_interval{2000};
  std::chrono::seconds stale_after{60};
  std::chrono::milliseconds kill_grace{5000};
  std::chrono::hours keep_finished{24 * 30};
};

// Where a run's steps reach its registry.
struct RegistryEndpoint {
  std::string name;          // the registry's name
  std::string login_server;  // what images are named by
  std::string location;      // "127.0.0.1:PORT": berthd serving that registry on loopback
};

// What the runner needs from the rest of berthd.
struct RunnerHooks {
  // The registry's limit of runs at once (its tier's).
  std::function<std::int64_t(metadata::RegistryId)> registry_limit;
  std::function<std::optional<RegistryEndpoint>(metadata::RegistryId)> endpoint;
  // A token for the run's steps (a password for kRefreshTokenUsername); nullopt on failure.
  std::function<std::optional<std::string>(metadata::RegistryId, std::int64_t run,
                                           std::chrono::seconds lifetime)>
      run_token;
  // Unpacks the uploaded source `digest` into `directory`; an error text on failure.
  std::function<std::optional<std::string>(std::string_view digest,
                                           const std::filesystem::path& directory)>
      unpack_source;
  // Stores the finished log as a blob kept for the run; its digest, or nullopt on failure.
  std::function<std::optional<std::string>(const metadata::Run& run, std::string_view text)>
      store_log;
  // After a run ended (the runner's record of it is final).
  std::function<void(const metadata::Run& run)> finished;
};

class Runner {
 public:
  Runner(metadata::TaskStore& store, metadata::MetadataStore& metadata, RunnerOptions options,
         RunnerHooks hooks);
  ~Runner();
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;

  // Ends what a killed predecessor left (runs and workspaces), then starts the worker.
  void start();
  // Stops taking runs, cancels the running ones and waits for them to end.
  void stop();
  // A run was queued: look now instead of at the next poll.
  void wake();
  std::size_t running() const;

 private:
  void loop();
  void recover();
  bool start_queued();
  void execute(metadata::Run run);
  metadata::RunOutcome run_steps(const metadata::Run& run, RunLog& log,
                                 const std::atomic<bool>& cancel);
  void heartbeat(const metadata::Run& run, std::atomic<bool>& cancel, std::atomic<bool>& lost,
                 const std::atomic<bool>& done);
  void prune();

  metadata::TaskStore& store_;
  metadata::MetadataStore& metadata_;
  RunnerOptions options_;
  RunnerHooks hooks_;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mutex_;
  std::condition_variable wakeup_;
  bool woken_ = false;                              // guarded by mutex_
  std::map<std::string, std::thread> runs_;         // guarded by mutex_; by workspace name
  std::vector<std::string> ended_;                  // guarded by mutex_: threads to join
  std::thread thread_;
};

}  // namespace berth::tasks
