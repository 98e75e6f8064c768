// The verbs of build runs: `build` (a quick build of a local context, as `az acr build`), `run`
// (a quick run of one container, as `az acr run --cmd`, or of a task file, as `az acr run -f`)
// and `run list|show|logs|cancel` (as `az acr task list-runs|show-run|logs|cancel-run`).
//
// `build` and `run` upload their context first: packed as a tar.gz (context_archive.h) into a
// temporary file, hashed, and sent as PUT …/sources/{digest}; then they queue the run and,
// unless --no-wait, stream its log to standard output as it comes and exit with its outcome
// (0 when it succeeded, 1 otherwise). What they say about the run goes to standard error, so
// standard output is the log alone.
//
// `run` is a verb that also has subcommands, as `import` is: its own flags cannot be required
// by the parser (they would be required of `run list` too), so its handler checks them, and
// they are refused beside a subcommand.

#include <fcntl.h>
#include <fmt/format.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <array>
#include <boost/json.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "cli/command.h"
#include "cli/context_archive.h"
#include "cli/progress.h"
#include "cli/validate.h"
#include "cli/views.h"

namespace berth::cli {
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

// The server's limits, checked here so that a mistake costs no round trip.
constexpr std::int64_t kMaxTimeoutSeconds = 8 * 3600;
constexpr std::int64_t kMaxRunsTop = 100;
constexpr std::size_t kMaxBuildImages = 50;
// A run request is a JSON body of at most 64 KiB on the server; the task file is most of it.
constexpr std::uintmax_t kMaxTaskFileBytes = 64 * 1024;

std::string text_of(const json::value& object, std::string_view key) {
  const auto* o = object.if_object();
  const json::value* v = o != nullptr ? o->if_contains(key) : nullptr;
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

// A run is over once it is neither queued nor running (a status this CLI does not know is
// taken as an end, so that it never waits forever).
bool run_ended(std::string_view status) { return status != "Queued" && status != "Running"; }

std::optional<std::string> check_run_id(std::string_view id) {
  bool digits = id.size() > 2 && id.size() <= 20 && id.starts_with("cb") && id[2] != '0' &&
                id.substr(2).find_first_not_of("0123456789") == std::string_view::npos;
  if (digits) return std::nullopt;
  return fmt::format("'{}' is not a run id (cb and a number, e.g. cb12)", id);
}

std::optional<std::string> check_timeout(std::string_view seconds) {
  if (parse_bounded_number(seconds, 1, kMaxTimeoutSeconds)) return std::nullopt;
  return fmt::format("'{}' is not a number of seconds from 1 to {}", seconds, kMaxTimeoutSeconds);
}

// An image a build pushes: REPOSITORY:TAG in the run's registry.
std::optional<std::string> check_build_image(std::string_view image) {
  auto reference = parse_image_reference(image);
  if (!reference) return reference.error().message;
  if (reference->tag.empty()) {
    return fmt::format("'{}' must be REPOSITORY:TAG: a build pushes tags, not digests", image);
  }
  return std::nullopt;
}

// NAME=VALUE pairs (--build-arg, --set) as a JSON object, in the order given. A build argument
// given as NAME alone takes its value from the environment, as docker's does.
Result<json::object> assignments(const Environment& env, const std::vector<std::string>& given,
                                 std::string_view flag, bool from_environment) {
  json::object out;
  for (const std::string& text : given) {
    auto equals = text.find('=');
    std::string name = text.substr(0, equals);
    if (name.empty()) {
      return usage_error(fmt::format("{} '{}' must be NAME=VALUE", flag, text));
    }
    if (equals != std::string::npos) {
      out[name] = text.substr(equals + 1);
      continue;
    }
    std::optional<std::string> value = from_environment ? env.get(name) : std::nullopt;
    if (!value) {
      return usage_error(from_environment
                             ? fmt::format("{} {}: no value given and none in the environment",
                                           flag, name)
                             : fmt::format("{} '{}' must be NAME=VALUE", flag, text));
    }
    out[name] = *value;
  }
  return out;
}

// ------------------------------------------------------------------ the build context

// A file of the temporary directory, removed with this object.
class ScratchArchive {
 public:
  static Result<ScratchArchive> create() {
    std::error_code ec;
    fs::path dir = fs::temp_directory_path(ec);
    if (ec) return failure(fmt::format("no temporary directory: {}", ec.message()));
    std::string pattern = (dir / "berth-context-XXXXXX.tar.gz").string();
    int fd = ::mkstemps(pattern.data(), 7);
    if (fd < 0) {
      return failure(fmt::format("cannot create a file in {}: {}", dir.string(),
                                 std::strerror(errno)));
    }
    return ScratchArchive(fd, pattern);
  }
  ScratchArchive(ScratchArchive&& other) noexcept
      : fd_(std::exchange(other.fd_, -1)), path_(std::move(other.path_)) {}
  ScratchArchive& operator=(ScratchArchive&&) = delete;
  ~ScratchArchive() {
    if (fd_ >= 0) ::close(fd_);
    if (!path_.empty()) {
      std::error_code ignored;
      fs::remove(path_, ignored);
    }
  }

  int fd() const { return fd_; }
  const fs::path& path() const { return path_; }

 private:
  ScratchArchive(int fd, fs::path path) : fd_(fd), path_(std::move(path)) {}
  int fd_;
  fs::path path_;
};

// "sha256:<hex>" of a file's bytes.
Result<std::string> sha256_of_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return failure(fmt::format("cannot read {}", file.string()));
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> hash(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!hash || EVP_DigestInit_ex(hash.get(), EVP_sha256(), nullptr) != 1) {
    return failure("cannot start a sha256 hash");
  }
  std::array<char, 64 * 1024> buffer{};
  while (in) {
    in.read(buffer.data(), buffer.size());
    if (in.gcount() > 0) EVP_DigestUpdate(hash.get(), buffer.data(), in.gcount());
  }
  if (in.bad()) return failure(fmt::format("cannot read {}", file.string()));
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  EVP_DigestFinal_ex(hash.get(), digest.data(), &length);
  std::string out = "sha256:";
  for (unsigned int i = 0; i < length; ++i) out += fmt::format("{:02x}", digest[i]);
  return out;
}

// The Dockerfile as a path inside the context, where it must be a file: a mistake found here
// costs no upload.
std::optional<Error> check_dockerfile(const fs::path& context, std::string_view dockerfile) {
  fs::path relative = fs::path(dockerfile).lexically_normal();
  if (dockerfile.empty() || relative.is_absolute() || relative.empty() ||
      *relative.begin() == "..") {
    return usage_error(fmt::format(
        "--file '{}' must be a path inside the context {} (it is relative to it)", dockerfile,
        context.string()));
  }
  std::error_code ec;
  if (!fs::is_regular_file(context / relative, ec)) {
    return usage_error(
        fmt::format("there is no Dockerfile {} in the context {}", relative.string(),
                    context.string()));
  }
  return std::nullopt;
}

// Packs `context` and uploads it as a source of the registry: its digest.
Result<std::string> upload_context(Context& ctx, ManagementClient& client,
                                   const std::string& registry, const fs::path& context,
                                   const std::string& dockerfile) {
  auto archive = ScratchArchive::create();
  if (!archive) return archive.error();
  PackOptions options;
  options.dockerfile = dockerfile;
  auto packed = pack_context(context, archive->fd(), options);
  if (!packed) return packed.error();
  for (const std::string& note : packed->notes) ctx.err() << "note: " << note << '\n';
  auto digest = sha256_of_file(archive->path());
  if (!digest) return digest.error();
  ctx.err() << fmt::format("Sending the context {}: {} files, {} ({} compressed)\n",
                           context.string(), packed->files, human_bytes(packed->file_bytes),
                           human_bytes(packed->archive_bytes));
  auto uploaded = client.upload_source(registry, *digest, archive->path());
  if (!uploaded) return uploaded.error();
  return *digest;
}

// ------------------------------------------------------------------ following a run

// Writes the run's log from `offset` to standard output as it comes, until the run has ended
// and every byte of it is out; answers the status the last piece was read with. Each request
// waits on the server (up to 20 s) for new bytes; an empty answer while the run goes on is
// followed by a pause, in case the server did not wait.
Result<std::string> stream_log(Context& ctx, ManagementClient& client,
                               const std::string& registry, const std::string& run_id,
                               bool follow) {
  const auto pause = poll_interval(ctx.env());
  std::uint64_t offset = 0;
  for (;;) {
    auto chunk = client.read_run_log(registry, run_id, offset, follow);
    if (!chunk) return chunk.error();
    ctx.out() << chunk->bytes;
    ctx.out().flush();
    offset = chunk->next_offset;
    if (!chunk->bytes.empty()) continue;
    if (!follow || run_ended(chunk->status)) return chunk->status;
    std::this_thread::sleep_for(pause);
  }
}

// The exit of a verb that followed its run: nothing to print when it succeeded (a line on
// standard error says so), else a failure with its status and error.
Result<View> outcome_of(Context& ctx, const json::value& run) {
  const std::string id = text_of(run, "runId");
  const std::string status = text_of(run, "status");
  if (status == "Succeeded") {
    ctx.err() << fmt::format("Run {} Succeeded\n", id);
    return View{};
  }
  std::string message = fmt::format("run {} ended {}", id, status);
  if (std::string error = text_of(run, "error"); !error.empty()) {
    message += ": ";
    message += error;
  }
  return failure(std::move(message));
}

// Queues `body`, then follows the run (or, with --no-wait, shows its id).
Result<View> queue_and_follow(Context& ctx, ManagementClient& client, const json::object& body,
                              std::string_view what) {
  const Options& o = ctx.options();
  auto queued = client.queue_run(o.registry, body);
  if (!queued) return queued.error();
  const std::string id = text_of(*queued, "runId");
  ctx.err() << fmt::format("Queued {} as run {}\n", what, id);
  if (o.no_wait) {
    View view = run_view(*queued);
    view.message = id;
    view.message_replaces_table = true;
    view.table = {{"Run ID"}, {{text_cell(id)}}, {}};
    return view;
  }
  auto goes_on = [&](Error error) {
    error.message += fmt::format(
        " (run {} goes on: 'berth run logs --registry {} --run {} --follow' follows it)", id,
        o.registry, id);
    return error;
  };
  auto streamed = stream_log(ctx, client, o.registry, id, /*follow=*/true);
  if (!streamed) return goes_on(streamed.error());
  auto finished = client.get_run(o.registry, id);
  if (!finished) return goes_on(finished.error());
  return outcome_of(ctx, *finished);
}

// ------------------------------------------------------------------ build

Result<View> build_run(Context& ctx) {
  const Options& o = ctx.options();
  if (o.build_images.empty() && !o.no_push) {
    return usage_error("a build that pushes needs --image REPOSITORY:TAG (or --no-push)");
  }
  if (o.build_images.size() > kMaxBuildImages) {
    return usage_error(fmt::format("a build pushes at most {} images", kMaxBuildImages));
  }
  const fs::path context(o.context_dir);
  std::error_code ec;
  if (!fs::is_directory(context, ec)) {
    return usage_error(fmt::format("the context {} is not a directory", o.context_dir));
  }
  const std::string dockerfile = o.dockerfile.empty() ? "Dockerfile" : o.dockerfile;
  if (auto problem = check_dockerfile(context, dockerfile)) return *problem;
  auto build_args = assignments(ctx.env(), o.build_args, "--build-arg", true);
  if (!build_args) return build_args.error();

  json::array images;
  for (const auto& image : o.build_images) images.emplace_back(image);
  json::object body{{"type", "QuickBuild"},
                    {"dockerfile", fs::path(dockerfile).lexically_normal().generic_string()},
                    {"images", std::move(images)}};
  if (!build_args->empty()) body["buildArgs"] = std::move(*build_args);
  if (!o.build_target.empty()) body["target"] = o.build_target;
  if (!o.platform.empty()) body["platform"] = o.platform;
  if (o.no_push) body["noPush"] = true;
  if (!o.timeout.empty()) body["timeout"] = *parse_bounded_number(o.timeout, 1, kMaxTimeoutSeconds);

  return with_client(ctx, [&](ManagementClient& c) -> Result<View> {
    auto source = upload_context(ctx, c, o.registry, context, dockerfile);
    if (!source) return source.error();
    body["source"] = *source;
    return queue_and_follow(ctx, c, body, "a quick build");
  });
}

// ------------------------------------------------------------------ run

// The task file's text, read locally (the server never reads the client's files).
Result<std::string> read_task_file(const std::string& file) {
  std::error_code ec;
  auto size = fs::file_size(file, ec);
  if (ec) return usage_error(fmt::format("cannot read the task file {}: {}", file, ec.message()));
  if (size > kMaxTaskFileBytes) {
    return usage_error(fmt::format("the task file {} is over {} bytes", file, kMaxTaskFileBytes));
  }
  std::ifstream in(file, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in && !in.eof()) return failure(fmt::format("cannot read the task file {}", file));
  return text.str();
}

// The body of a quick run or a task file run from the flags, or why they make none.
Result<json::object> run_body(Context& ctx) {
  const Options& o = ctx.options();
  if (o.cmd.empty() == o.task_file.empty()) {
    return usage_error(
        "give --cmd 'IMAGE [ARG...]' (a quick run) or --file TASK.yaml (a task file) (see "
        "'berth run --help')");
  }
  json::object body;
  if (!o.cmd.empty()) {
    if (!o.context_dir.empty()) {
      return usage_error(fmt::format("a --cmd run takes no context ('{}')", o.context_dir));
    }
    if (!o.set_values.empty()) return usage_error("--set gives values to a task file (--file)");
    body = {{"type", "QuickRun"}, {"cmd", o.cmd}};
  } else {
    auto text = read_task_file(o.task_file);
    if (!text) return text.error();
    auto values = assignments(ctx.env(), o.set_values, "--set", false);
    if (!values) return values.error();
    body = {{"type", "TaskFile"}, {"taskFile", std::move(*text)}};
    if (!values->empty()) body["values"] = std::move(*values);
  }
  if (!o.timeout.empty()) body["timeout"] = *parse_bounded_number(o.timeout, 1, kMaxTimeoutSeconds);
  return body;
}

std::optional<Error> require_registry(const Options& o, std::string_view command) {
  if (!o.registry.empty()) return std::nullopt;
  return usage_error(
      fmt::format("--registry is required (see 'berth {} --help')", command));
}

Result<View> run_run(Context& ctx) {
  const Options& o = ctx.options();
  if (auto problem = require_registry(o, "run")) return *problem;
  auto body = run_body(ctx);
  if (!body) return body.error();
  if (!o.context_dir.empty()) {
    std::error_code ec;
    if (!fs::is_directory(o.context_dir, ec)) {
      return usage_error(fmt::format("the context {} is not a directory", o.context_dir));
    }
  }
  return with_client(ctx, [&](ManagementClient& c) -> Result<View> {
    if (!o.context_dir.empty()) {
      auto source = upload_context(ctx, c, o.registry, o.context_dir, "Dockerfile");
      if (!source) return source.error();
      (*body)["source"] = *source;
    }
    std::string what =
        o.cmd.empty() ? fmt::format("the task file {}", o.task_file) : std::string("a quick run");
    return queue_and_follow(ctx, c, *body, what);
  });
}

Result<View> run_list(Context& ctx) {
  const Options& o = ctx.options();
  if (auto problem = require_registry(o, "run list")) return *problem;
  return with_client(ctx, [&](ManagementClient& c) {
    return show(c.list_runs(o.registry, {{"task", o.task}, {"top", o.top}, {"before", o.before}}),
                run_list_view);
  });
}

Result<View> run_show(Context& ctx) {
  const Options& o = ctx.options();
  if (auto problem = require_registry(o, "run show")) return *problem;
  return with_client(
      ctx, [&](ManagementClient& c) { return show(c.get_run(o.registry, o.run_id), run_view); });
}

Result<View> run_logs(Context& ctx) {
  const Options& o = ctx.options();
  if (auto problem = require_registry(o, "run logs")) return *problem;
  return with_client(ctx, [&](ManagementClient& c) -> Result<View> {
    auto streamed = stream_log(ctx, c, o.registry, o.run_id, o.follow);
    if (!streamed) return streamed.error();
    return View{};
  });
}

Result<View> run_cancel(Context& ctx) {
  const Options& o = ctx.options();
  if (auto problem = require_registry(o, "run cancel")) return *problem;
  return with_client(ctx, [&](ManagementClient& c) -> Result<View> {
    auto canceled = c.cancel_run(o.registry, o.run_id);
    if (!canceled) return canceled.error();
    View view = run_view(*canceled);
    std::string status = text_of(*canceled, "status");
    view.message = run_ended(status)
                       ? fmt::format("Run {} is {}.", o.run_id, status)
                       : fmt::format("Run {} is stopping; 'berth run show' tells when it has.",
                                     o.run_id);
    return view;
  });
}

// ------------------------------------------------------------------ declarations

CLI::Option* timeout_flag(CLI::App* sub, Options& o) {
  return sub
      ->add_option("--timeout", o.timeout,
                   fmt::format("seconds the run may take (1-{}, default 3600)",
                               kMaxTimeoutSeconds))
      ->check(checked(check_timeout))
      ->type_name("SECONDS");
}

CLI::Option* no_wait_flag(CLI::App* sub, Options& o) {
  return sub->add_flag("--no-wait", o.no_wait,
                       "print the run's id once it is queued instead of following its log");
}

void run_id_flag(CLI::App* sub, Options& o) {
  sub->add_option("--run,--run-id", o.run_id, "the run's id, e.g. cb12")
      ->required()
      ->check(checked(check_run_id))
      ->type_name("RUN_ID");
}

void declare_build(Verbs& v) {
  Options& o = v.options;
  auto* build = v.verb(&v.app, "build",
                       "build an image from a local context on the server and push it, as az "
                       "acr build does",
                       build_run);
  build->footer(
      "CONTEXT is packed (without what .dockerignore excludes), uploaded and built by the "
      "server; berth streams the build's log to standard output until the run ends and exits "
      "0 when it succeeded, 1 otherwise. Stopping berth does not stop the run: 'berth run "
      "cancel' does.");
  v.registry_flag(build);
  build
      ->add_option("-t,--image", o.build_images,
                   "an image to build and push, as REPOSITORY:TAG; repeat it for more")
      ->expected(1)
      ->allow_extra_args(false)  // one value each time: CONTEXT may follow
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->check(checked(check_build_image))
      ->type_name("REPO:TAG");
  build
      ->add_option("-f,--file", o.dockerfile,
                   "the Dockerfile, relative to CONTEXT (default: CONTEXT/Dockerfile)")
      ->type_name("PATH");
  build
      ->add_option("--build-arg", o.build_args,
                   "a build argument NAME=VALUE (NAME alone: its value here); repeat it for "
                   "more")
      ->expected(1)
      ->allow_extra_args(false)  // one value each time: CONTEXT may follow
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->type_name("NAME=VALUE");
  build->add_option("--target", o.build_target, "the Dockerfile stage to build")
      ->type_name("STAGE");
  build->add_option("--platform", o.platform, "the platform to build for, e.g. linux/arm64")
      ->type_name("OS/ARCH");
  build->add_flag("--no-push", o.no_push, "build without pushing");
  no_wait_flag(build, o);
  timeout_flag(build, o);
  build->add_option("context", o.context_dir, "the build context: a directory")
      ->required()
      ->type_name("CONTEXT");
}

void declare_run(Verbs& v) {
  Options& o = v.options;
  auto* run = v.verb(&v.app, "run",
                     "run a container (--cmd) or a task file (--file) on the server, as az acr "
                     "run does; or list, show, follow and cancel runs",
                     run_run);
  run->require_subcommand(0, 1);
  run->footer(
      "berth streams the run's log to standard output until it ends and exits 0 when it "
      "succeeded, 1 otherwise; with --no-wait it prints the run's id. With --file, CONTEXT (a "
      "directory) is packed and uploaded as the run's source.");
  v.registry_flag(run, /*required=*/false);  // required to run: checked by the handler
  std::vector<CLI::Option*> own;
  own.push_back(run->add_option("--cmd", o.cmd,
                                "IMAGE [ARG...]: the container to run and its arguments (no "
                                "shell)")
                    ->type_name("'IMAGE ARGS'"));
  own.push_back(run->add_option("-f,--file", o.task_file, "a task file (YAML) to run")
                    ->type_name("TASK.yaml"));
  own.push_back(run->add_option("--set", o.set_values,
                                "a value of the task file, {{.Values.NAME}}; repeat it for more")
                    ->expected(1)
                    ->allow_extra_args(false)
                    ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
                    ->type_name("NAME=VALUE"));
  own.push_back(no_wait_flag(run, o));
  own.push_back(timeout_flag(run, o));
  own.push_back(run->add_option("context", o.context_dir,
                                "with --file: a directory uploaded as the run's source")
                    ->type_name("CONTEXT"));
  // Verbs::verb's callback, plus: run's own flags do not apply to `run list|show|logs|cancel`.
  run->callback([run, own, &selected = v.selected] {
    if (run->get_subcommands().empty()) {
      selected = run_run;
      return;
    }
    for (const CLI::Option* option : own) {
      if (option->count() > 0) {
        throw CLI::ValidationError(
            option->get_name(),
            fmt::format("belongs to 'berth run' itself, not to 'berth run {}'",
                        run->get_subcommands().front()->get_name()));
      }
    }
  });

  auto* list = v.verb(run, "list", "list a registry's runs, newest first", run_list);
  v.registry_flag(list, /*required=*/false);
  list->add_option("--task", o.task, "only the runs of this task")->type_name("NAME");
  list->add_option("--top", o.top, fmt::format("at most N runs (1-{}, default 20)", kMaxRunsTop))
      ->check(checked([](std::string_view n) -> std::optional<std::string> {
        if (parse_bounded_number(n, 1, kMaxRunsTop)) return std::nullopt;
        return fmt::format("'{}' is not a number from 1 to {}", n, kMaxRunsTop);
      }))
      ->type_name("N");
  list->add_option("--before", o.before, "only runs older than this one (the next page)")
      ->check(checked(check_run_id))
      ->type_name("RUN_ID");

  auto* show_cmd = v.verb(run, "show", "show a run: its status, images and error", run_show);
  v.registry_flag(show_cmd, /*required=*/false);
  run_id_flag(show_cmd, o);

  auto* logs = v.verb(run, "logs", "print a run's log", run_logs);
  v.registry_flag(logs, /*required=*/false);
  run_id_flag(logs, o);
  logs->add_flag("--follow", o.follow, "keep printing the log as it grows, until the run ends");

  auto* cancel = v.verb(run, "cancel", "cancel a queued or running run", run_cancel);
  v.registry_flag(cancel, /*required=*/false);
  run_id_flag(cancel, o);
}

}  // namespace

void declare_task_commands(Verbs& verbs) {
  declare_build(verbs);
  declare_run(verbs);
}

}  // namespace berth::cli
