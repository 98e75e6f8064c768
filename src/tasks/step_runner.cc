#include "tasks/step_runner.h"

#include <boost/json.hpp>
#include <fmt/format.h>

#include <condition_variable>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <thread>

#include "tasks/dockerfile.h"
#include "tasks/process.h"

namespace berth::tasks {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using SteadyClock = std::chrono::steady_clock;

std::string read_small_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

std::string seconds_text(SteadyClock::duration elapsed) {
  return fmt::format("{:.1f} s", std::chrono::duration<double>(elapsed).count());
}

// An array of strings from buildah's inspect JSON (empty when absent or not strings).
std::vector<std::string> strings_at(const json::value& document,
                                    std::initializer_list<std::string_view> path) {
  const json::value* at = &document;
  for (auto key : path) {
    if (!at->is_object()) return {};
    auto it = at->as_object().find(key);
    if (it == at->as_object().end()) return {};
    at = &it->value();
  }
  std::vector<std::string> out;
  if (!at->is_array()) return out;
  for (const auto& item : at->as_array()) {
    if (item.is_string()) out.emplace_back(item.as_string());
  }
  return out;
}

std::string string_at(const json::value& document, std::string_view key) {
  if (!document.is_object()) return "";
  auto it = document.as_object().find(key);
  if (it == document.as_object().end() || !it->value().is_string()) return "";
  return std::string(it->value().as_string());
}

}  // namespace

StepRunner::StepRunner(const Workspace& workspace, RunLog& log, StepRunnerOptions options,
                       const std::atomic<bool>& cancel)
    : workspace_(workspace), log_(log), options_(std::move(options)), cancel_(cancel) {}

StepsOutcome StepRunner::run(const TaskFile& file) {
  deadline_ = SteadyClock::now() + options_.run_timeout;
  StepsOutcome outcome;
  std::set<std::string> finished;
  std::set<std::string> started;
  std::mutex done_mutex;
  std::condition_variable done_signal;
  std::deque<std::pair<std::size_t, Attempt>> done;
  std::map<std::size_t, std::thread> running;

  auto stop_run = [&](metadata::RunStatus status, std::string why) {
    if (outcome.status == metadata::RunStatus::succeeded) {
      outcome.status = status;
      outcome.error = std::move(why);
      log_.line("", outcome.error);
    }
    stop_ = true;
  };

  while (true) {
    if (!stop_) {
      for (std::size_t index : ready_steps(file, finished, started)) {
        const Step& step = file.steps[index];
        started.insert(step.id);
        running.emplace(index, std::thread([&, index] {
                          Attempt result = run_step(file.steps[index]);
                          std::lock_guard lock(done_mutex);
                          done.emplace_back(index, std::move(result));
                          done_signal.notify_all();
                        }));
      }
    }
    if (running.empty()) break;
    std::unique_lock lock(done_mutex);
    done_signal.wait_for(lock, std::chrono::milliseconds(100), [&] { return !done.empty(); });
    std::deque<std::pair<std::size_t, Attempt>> ended;
    ended.swap(done);
    lock.unlock();
    if (cancel_.load()) stop_run(metadata::RunStatus::canceled, "the run was canceled");
    if (SteadyClock::now() >= deadline_) {
      stop_run(metadata::RunStatus::timeout,
               fmt::format("the run timed out after {} s", options_.run_timeout.count()));
    }
    for (auto& [index, result] : ended) {
      running.at(index).join();
      running.erase(index);
      const Step& step = file.steps[index];
      if (lets_dependents_run(step, result.succeeded)) {
        finished.insert(step.id);
      } else if (!result.canceled) {
        stop_run(metadata::RunStatus::failed,
                 fmt::format("step {} failed: {}", step.id, result.error));
      }
    }
  }
  if (outcome.status == metadata::RunStatus::succeeded && started.size() < file.steps.size()) {
    // Only when a dependency can never finish, which the parser rules out; said all the same.
    outcome.status = metadata::RunStatus::failed;
    outcome.error = "some steps could never start";
  }
  std::lock_guard lock(results_mutex_);
  outcome.pushed = pushed_;
  outcome.bases = bases_;
  return outcome;
}

StepRunner::Attempt StepRunner::run_step(const Step& step) {
  const auto started = SteadyClock::now();
  log_.line(step.id, "step started");
  Attempt result;
  for (std::int64_t attempt_number = 0;; ++attempt_number) {
    result = attempt(step, stop_);
    if (result.succeeded || stop_.load() || attempt_number >= step.retries) break;
    log_.line(step.id, fmt::format("retrying in {} s (retry {} of {})", step.retry_delay_seconds,
                                   attempt_number + 1, step.retries));
    const auto resume = SteadyClock::now() + std::chrono::seconds(step.retry_delay_seconds);
    while (SteadyClock::now() < resume && !stop_.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (stop_.load()) break;
  }
  const std::string took = seconds_text(SteadyClock::now() - started);
  if (result.succeeded) {
    log_.line(step.id, "step succeeded in " + took);
  } else if (result.canceled) {
    log_.line(step.id, "step stopped after " + took);
  } else if (step.ignore_errors) {
    log_.line(step.id, "step failed in " + took + ": " + result.error + " (errors ignored)");
  } else {
    log_.line(step.id, "step failed in " + took + ": " + result.error);
  }
  return result;
}

StepRunner::Attempt StepRunner::attempt(const Step& step, const std::atomic<bool>& stop) {
  const Limits limits{stop, std::min(deadline_, SteadyClock::now() +
                                                     std::chrono::seconds(step.timeout_seconds))};
  switch (step.kind()) {
    case StepKind::build:
      return build(step, std::get<BuildArgs>(step.action), limits);
    case StepKind::push:
      return push(step, std::get<PushImages>(step.action), limits);
    case StepKind::cmd:
      return cmd(step, std::get<CmdArgs>(step.action), limits);
  }
  return Attempt{false, false, false, "unknown step kind"};
}

StepRunner::Attempt StepRunner::exec(const Step& step, std::vector<std::string> argv,
                                     const Limits& limits,
                                     std::vector<std::string>* output) {
  ProcessSpec spec;
  spec.argv = std::move(argv);
  for (const auto& [name, value] : workspace_.environment()) spec.environment[name] = value;
  spec.working_directory = working_directory(step).string();
  spec.kill_grace = options_.kill_grace;
  const auto now = SteadyClock::now();
  const auto left = limits.deadline - now;
  spec.timeout = std::max(std::chrono::milliseconds(1),
                          std::chrono::duration_cast<std::chrono::milliseconds>(left));
  auto result = run_process(
      spec,
      [&](std::string_view line) {
        if (output != nullptr) output->emplace_back(line);
        else log_.line(step.id, line);
      },
      &limits.stop);
  Attempt attempt;
  switch (result.end) {
    case ProcessEnd::exited:
      attempt.succeeded = result.exit_code == 0;
      if (!attempt.succeeded) attempt.error = fmt::format("exit code {}", result.exit_code);
      break;
    case ProcessEnd::timed_out:
      attempt.timed_out = true;
      attempt.error = SteadyClock::now() >= deadline_
                          ? "the run's time was up"
                          : fmt::format("timed out after {} s", step.timeout_seconds);
      break;
    case ProcessEnd::canceled:
      attempt.canceled = true;
      attempt.error = "stopped";
      break;
    case ProcessEnd::not_started:
      attempt.error = result.error;
      break;
  }
  return attempt;
}

fs::path StepRunner::working_directory(const Step& step) const {
  fs::path directory = workspace_.paths().context;
  if (!step.working_directory.empty()) directory /= step.working_directory;
  return directory.lexically_normal();
}

std::vector<std::string> StepRunner::isolation_flags() const {
  return {"--isolation", "oci", "--runtime-flag", "root=" + workspace_.paths().runc_root.string(),
          "--network", options_.network};
}

StepRunner::Attempt StepRunner::build(const Step& step, const BuildArgs& args,
                                      const Limits& limits) {
  std::vector<std::string> argv{"buildah", "bud", "--signature-policy",
                                workspace_.paths().policy_file.string()};
  for (auto& flag : isolation_flags()) argv.push_back(std::move(flag));
  for (const auto& tag : args.tags) {
    argv.push_back("-t");
    argv.push_back(tag.str());
  }
  if (args.dockerfile) {
    argv.push_back("-f");
    argv.push_back(*args.dockerfile);
  }
  for (const auto& build_arg : args.build_args) {
    argv.push_back("--build-arg");
    argv.push_back(build_arg.value ? build_arg.name + "=" + *build_arg.value : build_arg.name);
  }
  if (!args.target.empty()) argv.insert(argv.end(), {"--target", args.target});
  if (!args.platform.empty()) argv.insert(argv.end(), {"--platform", args.platform});
  if (args.no_cache) argv.push_back("--no-cache");
  if (args.pull) argv.push_back("--pull-always");
  for (const auto& label : args.labels) {
    argv.push_back("--label");
    argv.push_back(label.key + "=" + label.value);
  }
  argv.push_back(args.context);
  Attempt built = exec(step, std::move(argv), limits);
  if (built.succeeded) record_bases(step, args, limits);
  return built;
}

void StepRunner::record_bases(const Step& step, const BuildArgs& args, const Limits& limits) {
  if (args.context_kind != ContextKind::directory) return;
  const fs::path context = working_directory(step) / args.context;
  const fs::path dockerfile =
      args.dockerfile ? working_directory(step) / *args.dockerfile : context / "Dockerfile";
  std::ifstream in(dockerfile, std::ios::binary);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::map<std::string, std::string> given;
  for (const auto& build_arg : args.build_args) {
    if (build_arg.value) given[build_arg.name] = *build_arg.value;
  }
  auto bases = base_images(text, given);
  if (!bases) return;
  for (const auto& base : *bases) {
    std::vector<std::string> inspected;
    Attempt inspect =
        exec(step, {"buildah", "inspect", "--type", "image", base}, limits, &inspected);
    std::string digest;
    if (inspect.succeeded) {
      std::string joined;
      for (const auto& line : inspected) joined += line + "\n";
      boost::system::error_code ec;
      json::value document = json::parse(joined, ec);
      if (!ec) digest = string_at(document, "FromImageDigest");
    }
    log_.line(step.id, "base image " + base + (digest.empty() ? "" : " " + digest));
    std::lock_guard lock(results_mutex_);
    bases_.push_back(UsedBaseImage{base, digest});
  }
}

StepRunner::Attempt StepRunner::push(const Step& step, const PushImages& images,
                                     const Limits& limits) {
  for (const auto& image : images.images) {
    if (image.domain != options_.login_server) {
      return Attempt{false, false, false,
                     "berth pushes only to the run's registry " + options_.login_server + ", not " +
                         image.str()};
    }
    const fs::path digest_file = workspace_.paths().temp / ("push-" + step.id + ".digest");
    // Pushed to the loopback address explicitly: buildah maps a registry's name to another
    // location only when pulling. Plain HTTP, on loopback only.
    ImageReference destination = image;
    destination.domain = options_.location;
    Attempt pushed = exec(step,
                          {"buildah", "push", "--signature-policy",
                           workspace_.paths().policy_file.string(), "--tls-verify=false",
                           "--digestfile", digest_file.string(), image.str(),
                           "docker://" + destination.str()},
                          limits);
    if (!pushed.succeeded) return pushed;
    const std::string digest = read_small_file(digest_file);
    log_.line(step.id, "pushed " + image.str() + "@" + digest);
    std::lock_guard lock(results_mutex_);
    pushed_.push_back(PushedImage{image.str(), digest});
  }
  return Attempt{true, false, false, ""};
}

StepRunner::Attempt StepRunner::cmd(const Step& step, const CmdArgs& args,
                                    const Limits& limits) {
  std::vector<std::string> created;
  Attempt from = exec(step,
                      {"buildah", "from", "--signature-policy",
                       workspace_.paths().policy_file.string(), "--quiet", args.image.str()},
                      limits, &created);
  if (!from.succeeded || created.empty()) {
    for (const auto& line : created) log_.line(step.id, line);
    if (from.succeeded) from = Attempt{false, false, false, "buildah from named no container"};
    return from;
  }
  const std::string container = created.back();
  std::vector<std::string> command;
  if (step.entry_point) command.push_back(*step.entry_point);
  command.insert(command.end(), args.args.begin(), args.args.end());
  if (command.empty()) {
    // The image's own entrypoint and command, as `docker run IMAGE` would run them.
    std::vector<std::string> inspected;
    exec(step, {"buildah", "inspect", "--type", "container", container}, limits, &inspected);
    std::string joined;
    for (const auto& line : inspected) joined += line + "\n";
    boost::system::error_code ec;
    json::value document = json::parse(joined, ec);
    if (!ec) {
      command = strings_at(document, {"OCIv1", "config", "Entrypoint"});
      auto cmd = strings_at(document, {"OCIv1", "config", "Cmd"});
      command.insert(command.end(), cmd.begin(), cmd.end());
    }
  }
  Attempt ran;
  if (command.empty()) {
    ran = Attempt{false, false, false, "the image has no command and the step gives none"};
  } else {
    std::vector<std::string> argv{"buildah", "run"};
    for (auto& flag : isolation_flags()) argv.push_back(std::move(flag));
    argv.insert(argv.end(), {"--volume", working_directory(step).string() + ":/workspace",
                             "--workingdir", "/workspace"});
    for (const auto& variable : step.env) {
      argv.push_back("--env");
      argv.push_back(variable.name + "=" + variable.value);
    }
    argv.push_back(container);
    argv.push_back("--");
    argv.insert(argv.end(), command.begin(), command.end());
    ran = exec(step, std::move(argv), limits);
  }
  if (!step.keep) {
    // Removed also when the step was stopped: the workspace's reaping would take it anyway,
    // but a long run should not keep stopped containers around.
    std::atomic<bool> never{false};
    std::vector<std::string> ignored;
    exec(step, {"buildah", "rm", container},
         Limits{never, SteadyClock::now() + std::chrono::seconds(30)}, &ignored);
  }
  return ran;
}

}  // namespace berth::tasks
