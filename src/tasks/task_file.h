#pragma once
// Multi-step task files, in the hosted service's format (acr-task.yaml): parsed, checked and
// resolved into steps with their dependencies. What each step does (build, push, cmd) is run
// elsewhere; this is the pure part.
//
//   version: v1.1.0                 # v1.0.0 or v1.1.0; default v1.0.0
//   stepTimeout: 600                # seconds, default 600
//   workingDirectory: src           # the steps' default
//   env: ["K=V"]                    # every step's, a step's own env wins
//   secrets:
//     - id: token                   # used as {{.Secrets.token}}
//       name: deploy-token          # a secret stored in the registry
//   steps:
//     - build: -t $Registry/app:$ID .
//     - push: ["$Registry/app:$ID"]
//     - cmd: $Registry/app:$ID echo hello
//       when: ["-"]
//
// Step properties: id (default acb_step_N, N from 0), when, timeout, retries, retryDelay,
// ignoreErrors, env, workingDirectory (build and cmd), entryPoint and keep (cmd). Properties
// of the hosted service that berth does not run (network, ports, privileged, user, detach,
// startDelay, repeat, …) are refused as "not supported by berth", never ignored.
//
// Dependencies: `when: ["-"]` starts a step at once; `when: [a, b]` after steps a and b (also
// steps written later, as long as there is no cycle); no `when`: after the step written before
// it, the first step at once.

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "tasks/build_args.h"
#include "tasks/image_reference.h"
#include "tasks/parse_error.h"
#include "tasks/variables.h"

namespace berth::tasks {

inline constexpr std::int64_t kDefaultStepTimeoutSeconds = 600;
// berth's bounds (the hosted service documents none): a day per step, 100 retries, an hour
// between two tries.
inline constexpr std::int64_t kMaxTimeoutSeconds = 24 * 3600;
inline constexpr std::int64_t kMaxRetries = 100;
inline constexpr std::int64_t kMaxRetryDelaySeconds = 3600;
inline constexpr std::size_t kMaxTaskFileBytes = 1024 * 1024;
inline constexpr std::size_t kMaxStepIdLength = 128;

struct EnvVar {
  std::string name;
  std::string value;
  bool operator==(const EnvVar&) const = default;
};

// A secret the file declares: `id` names it in {{.Secrets.id}}, `name` is the registry's
// stored secret it comes from.
struct TaskSecret {
  std::string id;
  std::string name;
  std::size_t line = 0;
};

struct PushImages {
  std::vector<ImageReference> images;  // as written, each once
};

enum class StepKind { build, push, cmd };

struct Step {
  std::string id;
  std::size_t line = 0;  // where the step starts in the file as written
  std::variant<BuildArgs, PushImages, CmdArgs> action;
  // The `build` or `cmd` string after substitution (for logs); empty for a push.
  std::string text;
  // Indices into TaskFile::steps of the steps this one waits for; empty: it starts at once.
  std::vector<std::size_t> dependencies;
  std::int64_t timeout_seconds = kDefaultStepTimeoutSeconds;
  std::int64_t retries = 0;
  std::int64_t retry_delay_seconds = 0;
  bool ignore_errors = false;
  bool keep = false;                       // cmd: keep the container after the run
  std::vector<EnvVar> env;                 // the file's env, overridden by the step's
  std::string working_directory;           // the step's, else the file's; empty: the source root
  std::optional<std::string> entry_point;  // cmd: replaces the image's entrypoint

  StepKind kind() const { return static_cast<StepKind>(action.index()); }
};

struct TaskFile {
  std::string version = "v1.0.0";
  std::int64_t step_timeout_seconds = kDefaultStepTimeoutSeconds;
  std::string working_directory;
  std::vector<EnvVar> env;
  std::vector<TaskSecret> secrets;
  std::vector<Step> steps;  // in the order written

  std::optional<std::size_t> step_index(std::string_view id) const;
};

// Substitutes `variables` in `text` (variables.h), then reads and checks it. Errors carry the
// line (and column when known) in `text` as written: YAML syntax, an unknown key, a value of
// the wrong type, a step with no kind or two, a duplicate step or secret id, a `when` naming an
// unknown step, a dependency cycle, a negative or too large timeout, retries or retryDelay, a
// push of something that is not an image reference, build or cmd arguments that do not parse,
// a {{.Secrets.ID}} the file does not declare. Larger than kMaxTaskFileBytes: refused.
ParseResult<TaskFile> parse_task_file(std::string_view text, const RunVariables& variables);

// Scheduling: the steps that may start now, in the order written. `finished` holds the ids of
// the steps that ended and let their dependents go on: those that succeeded and those that
// failed with ignoreErrors. `started` holds every step started so far (running or ended). A
// step may start when it has not started and all its dependencies are in `finished`. A step
// that failed without ignoreErrors fails the run: the scheduler starts nothing more, and its
// dependents never start (it is never in `finished`, so they never become ready).
std::vector<std::size_t> ready_steps(const TaskFile& file, const std::set<std::string>& finished,
                                     const std::set<std::string>& started);

// Whether a step that ended lets its dependents go on (and so belongs in `finished`).
inline bool lets_dependents_run(const Step& step, bool succeeded) {
  return succeeded || step.ignore_errors;
}

}  // namespace berth::tasks
