#include "tasks/run_request.h"

#include <boost/json.hpp>

#include <charconv>

#include "tasks/build_args.h"

namespace berth::tasks {
namespace {

namespace json = boost::json;

std::string string_of(const json::object& object, std::string_view key) {
  auto it = object.find(key);
  if (it == object.end() || !it->value().is_string()) return "";
  return std::string(it->value().as_string());
}

ParseError error_at_zero(std::string reason) { return ParseError{0, 0, std::move(reason)}; }

// A quick build's steps: the build, then (unless noPush) the push of its images.
ParseResult<TaskFile> quick_build_plan(const RunRequest& request, const RunVariables& variables) {
  if (request.images.empty() && !request.no_push) {
    return error_at_zero("a build that pushes needs at least one image");
  }
  TaskFile file;
  Step build;
  build.id = "build";
  build.timeout_seconds = request.timeout_seconds;
  BuildArgs args;
  for (const auto& image : request.images) {
    auto reference = parse_image_reference(variables.registry + "/" + image);
    if (!reference || reference->digest || !reference->tag) {
      return error_at_zero("not an image name with a tag (REPOSITORY:TAG): " + image);
    }
    args.tags.push_back(*reference);
  }
  if (request.dockerfile != "Dockerfile") args.dockerfile = request.dockerfile;
  for (const auto& [name, value] : request.build_args) args.build_args.push_back({name, value});
  args.target = request.target;
  args.platform = request.platform;
  args.context = ".";
  // The same checks a build step of a task file gets (paths staying in the source, ...).
  std::vector<std::string> argv;
  if (args.dockerfile) argv.insert(argv.end(), {"-f", *args.dockerfile});
  argv.push_back(".");
  auto checked = parse_build_args(argv);
  if (!checked) return error_at_zero(checked.error());
  build.text = "quick build";
  build.action = std::move(args);
  file.steps.push_back(std::move(build));
  if (!request.no_push && !request.images.empty()) {
    Step push;
    push.id = "push";
    push.timeout_seconds = request.timeout_seconds;
    push.dependencies = {0};
    push.action = PushImages{std::get<BuildArgs>(file.steps[0].action).tags};
    file.steps.push_back(std::move(push));
  }
  return file;
}

ParseResult<TaskFile> quick_run_plan(const RunRequest& request) {
  auto parsed = parse_cmd(request.cmd);
  if (!parsed) return error_at_zero(parsed.error());
  TaskFile file;
  Step step;
  step.id = "cmd";
  step.timeout_seconds = request.timeout_seconds;
  step.text = request.cmd;
  step.action = std::move(*parsed);
  file.steps.push_back(std::move(step));
  return file;
}

}  // namespace

std::string_view run_kind_name(RunKind kind) {
  switch (kind) {
    case RunKind::build:
      return "QuickBuild";
    case RunKind::cmd:
      return "QuickRun";
    case RunKind::file:
      return "TaskFile";
  }
  return "QuickBuild";
}

std::string to_json(const RunRequest& request) {
  json::object out;
  out["kind"] = run_kind_name(request.kind);
  if (!request.source_digest.empty()) out["source"] = request.source_digest;
  out["dockerfile"] = request.dockerfile;
  json::array images;
  for (const auto& image : request.images) images.emplace_back(image);
  out["images"] = std::move(images);
  json::object build_args;
  for (const auto& [name, value] : request.build_args) build_args[name] = value;
  out["buildArgs"] = std::move(build_args);
  if (!request.target.empty()) out["target"] = request.target;
  if (!request.platform.empty()) out["platform"] = request.platform;
  out["noPush"] = request.no_push;
  if (!request.cmd.empty()) out["cmd"] = request.cmd;
  if (!request.task_file.empty()) out["taskFile"] = request.task_file;
  json::object values;
  for (const auto& [name, value] : request.values) values[name] = value;
  out["values"] = std::move(values);
  out["timeout"] = request.timeout_seconds;
  return json::serialize(out);
}

std::optional<RunRequest> run_request_of_json(std::string_view text) {
  boost::system::error_code ec;
  json::value parsed = json::parse(text, ec);
  if (ec || !parsed.is_object()) return std::nullopt;
  const auto& object = parsed.as_object();
  RunRequest request;
  const std::string kind = string_of(object, "kind");
  if (kind == "QuickBuild") {
    request.kind = RunKind::build;
  } else if (kind == "QuickRun") {
    request.kind = RunKind::cmd;
  } else if (kind == "TaskFile") {
    request.kind = RunKind::file;
  } else {
    return std::nullopt;
  }
  request.source_digest = string_of(object, "source");
  request.dockerfile = string_of(object, "dockerfile");
  if (request.dockerfile.empty()) request.dockerfile = "Dockerfile";
  if (auto it = object.find("images"); it != object.end() && it->value().is_array()) {
    for (const auto& image : it->value().as_array()) {
      if (image.is_string()) request.images.emplace_back(image.as_string());
    }
  }
  if (auto it = object.find("buildArgs"); it != object.end() && it->value().is_object()) {
    for (const auto& [name, value] : it->value().as_object()) {
      if (value.is_string()) request.build_args.emplace_back(name, value.as_string());
    }
  }
  request.target = string_of(object, "target");
  request.platform = string_of(object, "platform");
  if (auto it = object.find("noPush"); it != object.end() && it->value().is_bool()) {
    request.no_push = it->value().as_bool();
  }
  request.cmd = string_of(object, "cmd");
  request.task_file = string_of(object, "taskFile");
  if (auto it = object.find("values"); it != object.end() && it->value().is_object()) {
    for (const auto& [name, value] : it->value().as_object()) {
      if (value.is_string()) request.values.emplace(name, value.as_string());
    }
  }
  if (auto it = object.find("timeout"); it != object.end() && it->value().is_int64()) {
    request.timeout_seconds = it->value().as_int64();
  }
  return request;
}

ParseResult<TaskFile> plan_of(const RunRequest& request, const RunVariables& variables) {
  if (request.timeout_seconds <= 0 || request.timeout_seconds > kMaxRunTimeoutSeconds) {
    return error_at_zero("the timeout must be between 1 and 28800 seconds");
  }
  switch (request.kind) {
    case RunKind::build:
      return quick_build_plan(request, variables);
    case RunKind::cmd:
      return quick_run_plan(request);
    case RunKind::file:
      return parse_task_file(request.task_file, variables);
  }
  return error_at_zero("unknown kind of run");
}

std::string run_id(std::int64_t number) { return "cb" + std::to_string(number); }

std::optional<std::int64_t> run_number(std::string_view id) {
  if (!id.starts_with("cb") || id.size() < 3 || id.size() > 20) return std::nullopt;
  std::int64_t number = 0;
  const char* first = id.data() + 2;
  const char* last = id.data() + id.size();
  auto [end, ec] = std::from_chars(first, last, number);
  if (ec != std::errc{} || end != last || number <= 0 || *first == '0') return std::nullopt;
  return number;
}

}  // namespace berth::tasks
