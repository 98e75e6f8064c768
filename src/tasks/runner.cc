#include "tasks/runner.h"

#include <boost/json.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <limits>

#include "auth/authenticator.h"
#include "tasks/workspace.h"

namespace berth::tasks {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using SteadyClock = std::chrono::steady_clock;

constexpr std::size_t kQueuedBatch = 32;
constexpr std::size_t kPruneBatch = 500;

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string workspace_name(const metadata::Run& run) {
  return fmt::format("{}-{}", run.registry, run.number);
}

std::string pushed_json(const std::vector<PushedImage>& pushed) {
  json::array out;
  for (const auto& image : pushed) {
    json::object item;
    item["image"] = image.image;
    if (auto reference = parse_image_reference(image.image)) {
      item["registry"] = reference->domain;
      item["repository"] = reference->repository;
      item["tag"] = reference->tag.value_or("");
    }
    item["digest"] = image.digest;
    out.push_back(std::move(item));
  }
  return json::serialize(out);
}

std::string bases_json(const std::vector<UsedBaseImage>& bases) {
  json::array out;
  for (const auto& base : bases) {
    out.push_back(json::object{{"image", base.image}, {"digest", base.digest}});
  }
  return json::serialize(out);
}

metadata::RunOutcome failed(std::string why) {
  metadata::RunOutcome outcome;
  outcome.status = metadata::RunStatus::failed;
  outcome.error = std::move(why);
  return outcome;
}

}  // namespace

Runner::Runner(metadata::TaskStore& store, metadata::MetadataStore& metadata,
               RunnerOptions options, RunnerHooks hooks)
    : store_(store), metadata_(metadata), options_(std::move(options)), hooks_(std::move(hooks)) {}

Runner::~Runner() { stop(); }

void Runner::start() {
  recover();
  thread_ = std::thread([this] { loop(); });
}

void Runner::stop() {
  if (stopping_.exchange(true)) {
    if (thread_.joinable()) thread_.join();
    return;
  }
  wake();
  if (thread_.joinable()) thread_.join();
  // The runs see stopping_ as a cancel.
  std::map<std::string, std::thread> runs;
  {
    std::lock_guard lock(mutex_);
    runs.swap(runs_);
  }
  for (auto& [name, thread] : runs) thread.join();
}

void Runner::wake() {
  {
    std::lock_guard lock(mutex_);
    woken_ = true;
  }
  wakeup_.notify_all();
}

std::size_t Runner::running() const {
  std::lock_guard lock(mutex_);
  return runs_.size() - ended_.size();
}

void Runner::recover() {
  const std::int64_t now = unix_now();
  const std::int64_t stale_before = options_.only_node ? std::numeric_limits<std::int64_t>::max()
                                                       : now - options_.stale_after.count();
  auto abandoned = store_.fail_abandoned_runs(
      stale_before, options_.node, "berthd stopped while the run was running", now);
  if (!abandoned) {
    spdlog::warn("runner: cannot end abandoned runs: {}", abandoned.error().message);
  } else {
    for (const auto& run : *abandoned) {
      spdlog::info("run {} of registry {} ended as failed: its berthd stopped",
                   run_id(run.number), run.registry);
    }
  }
  std::error_code ec;
  fs::create_directories(options_.runs_dir, ec);
  for (const auto& entry : fs::directory_iterator(options_.runs_dir, ec)) {
    ReapReport report = reap_workspace(entry.path());
    spdlog::info("runner: reaped left-over workspace {} ({} containers, {} mounts){}{}",
                 entry.path().filename().string(), report.containers, report.mounts,
                 report.error.empty() ? "" : ": ", report.error);
  }
}

void Runner::loop() {
  auto last_sweep = SteadyClock::now();
  auto last_prune = SteadyClock::time_point{};
  while (!stopping_) {
    std::vector<std::thread> finished_threads;
    {
      std::lock_guard lock(mutex_);
      for (const auto& name : ended_) {
        auto it = runs_.find(name);
        if (it == runs_.end()) continue;
        finished_threads.push_back(std::move(it->second));
        runs_.erase(it);
      }
      ended_.clear();
    }
    for (auto& thread : finished_threads) thread.join();
    bool started = false;
    try {
      started = start_queued();
      if (!options_.only_node && SteadyClock::now() - last_sweep > options_.stale_after / 2) {
        last_sweep = SteadyClock::now();
        const std::int64_t now = unix_now();
        auto abandoned = store_.fail_abandoned_runs(now - options_.stale_after.count(), "",
                                                    "its berthd stopped renewing the run", now);
        if (!abandoned) spdlog::warn("runner: {}", abandoned.error().message);
      }
      if (SteadyClock::now() - last_prune > std::chrono::hours(1)) {
        last_prune = SteadyClock::now();
        prune();
      }
    } catch (const std::exception& e) {
      spdlog::error("runner: {}", e.what());
    }
    if (started) continue;
    std::unique_lock lock(mutex_);
    wakeup_.wait_for(lock, options_.poll_interval,
                     [this] { return woken_ || stopping_.load() || !ended_.empty(); });
    woken_ = false;
  }
}

void Runner::prune() {
  const auto keep = std::chrono::duration_cast<std::chrono::seconds>(options_.keep_finished);
  auto pruned = store_.prune_runs(unix_now() - keep.count(), kPruneBatch);
  if (!pruned) {
    spdlog::warn("runner: cannot forget old runs: {}", pruned.error().message);
    return;
  }
  for (const auto& run : *pruned) {
    auto unpinned = store_.unpin_blobs(fmt::format("log:{}:{}", run.registry, run.number));
    if (!unpinned) spdlog::warn("runner: {}", unpinned.error().message);
  }
}

bool Runner::start_queued() {
  {
    std::lock_guard lock(mutex_);
    if (runs_.size() - ended_.size() >= options_.max_running) return false;
  }
  auto queued = store_.queued_runs(kQueuedBatch);
  if (!queued) {
    spdlog::warn("runner: cannot look for queued runs: {}", queued.error().message);
    return false;
  }
  bool started_any = false;
  for (const auto& candidate : *queued) {
    {
      std::lock_guard lock(mutex_);
      if (runs_.size() - ended_.size() >= options_.max_running) break;
    }
    const std::int64_t limit = hooks_.registry_limit ? hooks_.registry_limit(candidate.registry)
                                                     : 1;
    auto started = store_.start_run(candidate.registry, candidate.number, options_.node, limit,
                                    unix_now());
    if (!started) {
      spdlog::warn("runner: cannot start run {}: {}", run_id(candidate.number),
                   started.error().message);
      continue;
    }
    if (!*started) continue;  // another node took it, or its registry is at its limit
    metadata::Run run = std::move(**started);
    const std::string name = workspace_name(run);
    std::lock_guard lock(mutex_);
    runs_.emplace(name, std::thread([this, run]() mutable { execute(std::move(run)); }));
    started_any = true;
  }
  return started_any;
}

void Runner::heartbeat(const metadata::Run& run, std::atomic<bool>& cancel,
                       std::atomic<bool>& lost, const std::atomic<bool>& done) {
  auto next = SteadyClock::now() + options_.heartbeat_interval;
  while (!done.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (stopping_.load()) cancel = true;
    if (SteadyClock::now() < next) continue;
    next = SteadyClock::now() + options_.heartbeat_interval;
    auto renewed = store_.renew_run(run.registry, run.number, options_.node, unix_now());
    if (!renewed) {
      spdlog::warn("run {}: cannot renew: {}", run_id(run.number), renewed.error().message);
      continue;
    }
    if (!*renewed) {
      // Another node ended it as abandoned: stop, and record nothing more.
      lost = true;
      cancel = true;
    } else if (**renewed) {
      cancel = true;
    }
  }
}

void Runner::execute(metadata::Run run) {
  const std::string name = workspace_name(run);
  spdlog::info("run {} of registry {} started on node {}", run_id(run.number), run.registry,
               options_.node);
  std::atomic<bool> cancel{false};
  std::atomic<bool> lost{false};
  std::atomic<bool> done{false};
  std::thread beat([&] { heartbeat(run, cancel, lost, done); });
  metadata::RunOutcome outcome;
  std::string text;
  {
    RunLog log([&](std::string_view bytes) {
      return static_cast<bool>(store_.append_run_log(run.registry, run.number, bytes));
    });
    outcome = run_steps(run, log, cancel);
    if (outcome.status == metadata::RunStatus::canceled && stopping_.load() && !lost.load()) {
      outcome.status = metadata::RunStatus::failed;
      outcome.error = "berthd stopped while the run was running";
    }
    log.line("", fmt::format("run {} ended: {}{}{}", run_id(run.number),
                             outcome.status == metadata::RunStatus::succeeded ? "succeeded"
                                                                              : "did not succeed",
                             outcome.error.empty() ? "" : ": ", outcome.error));
    log.flush();
    text = log.text();
  }
  done = true;
  beat.join();
  ReapReport reaped = reap_workspace(options_.runs_dir / name);
  if (!reaped.error.empty()) {
    spdlog::warn("run {}: clean-up incomplete: {}", run_id(run.number), reaped.error);
  }
  if (!lost.load()) {
    if (hooks_.store_log) {
      if (auto digest = hooks_.store_log(run, text)) {
        outcome.log_digest = *digest;
        outcome.log_size = text.size();
      }
    }
    auto ended = store_.finish_run(run.registry, run.number, options_.node, outcome, unix_now());
    if (!ended) {
      spdlog::error("run {}: cannot record its end: {}", run_id(run.number),
                    ended.error().message);
    } else if (*ended) {
      if (!outcome.log_digest.empty()) {
        auto dropped = store_.drop_run_log(run.registry, run.number);
        if (!dropped) spdlog::warn("run {}: {}", run_id(run.number), dropped.error().message);
      }
      if (hooks_.finished) {
        auto final_run = store_.find_run(run.registry, run.number);
        if (final_run && *final_run) hooks_.finished(**final_run);
      }
    }
  }
  spdlog::info("run {} of registry {} ended", run_id(run.number), run.registry);
  {
    std::lock_guard lock(mutex_);
    ended_.push_back(name);
  }
  wakeup_.notify_all();
}

metadata::RunOutcome Runner::run_steps(const metadata::Run& run, RunLog& log,
                                       const std::atomic<bool>& cancel) {
  auto request = run_request_of_json(run.request);
  if (!request) return failed("the stored request is not readable");
  auto endpoint = hooks_.endpoint ? hooks_.endpoint(run.registry) : std::nullopt;
  if (!endpoint) return failed("the run's registry cannot be reached");
  const auto lifetime = std::chrono::seconds(request->timeout_seconds + 600);
  auto token = hooks_.run_token ? hooks_.run_token(run.registry, run.number, lifetime)
                                : std::nullopt;
  if (!token) return failed("no token could be issued for the run");
  std::string error;
  auto workspace = Workspace::create(
      options_.runs_dir, workspace_name(run),
      {RegistryRoute{endpoint->login_server, endpoint->location,
                     std::string(auth::kRefreshTokenUsername), *token}},
      error);
  if (!workspace) return failed(error);
  if (!request->source_digest.empty()) {
    if (!hooks_.unpack_source) return failed("sources cannot be read");
    if (auto unpack_error = hooks_.unpack_source(request->source_digest,
                                                 workspace->paths().context)) {
      return failed("the source cannot be unpacked: " + *unpack_error);
    }
  }
  RunVariables variables;
  variables.id = run_id(run.number);
  variables.registry = endpoint->login_server;
  variables.registry_name = endpoint->name;
  variables.date = run.started_at;
  variables.task_name = run.task;
  variables.values = request->values;
  auto plan = plan_of(*request, variables);
  if (!plan) return failed(plan.error().to_string());
  log.line("", fmt::format("run {} ({}) started on {}: {} step(s)", variables.id,
                           run_kind_name(request->kind), options_.node, plan->steps.size()));
  StepRunnerOptions step_options;
  step_options.login_server = endpoint->login_server;
  step_options.location = endpoint->location;
  step_options.network = options_.network;
  step_options.run_timeout = std::chrono::seconds(request->timeout_seconds);
  step_options.kill_grace = options_.kill_grace;
  StepRunner steps(*workspace, log, step_options, cancel);
  StepsOutcome ran = steps.run(*plan);
  metadata::RunOutcome outcome;
  outcome.status = ran.status;
  outcome.error = ran.error;
  outcome.outputs = pushed_json(ran.pushed);
  outcome.base_images = bases_json(ran.bases);
  return outcome;
}

}  // namespace berth::tasks
