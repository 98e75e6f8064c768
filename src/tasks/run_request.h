#pragma once
// What a run runs, as stored with it (metadata::Run::request, JSON) and turned into steps when
// it starts:
//   - a quick build (`berth build`): a Dockerfile build of the source, then a push of its
//     images, unless noPush;
//   - a quick run (`berth run --cmd`): one cmd step;
//   - a task file (`berth run --file`, tasks): the file's steps, with the run's variables.
// The source is an uploaded archive (a tar.gz pinned in blob storage, by digest), or none.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tasks/parse_error.h"
#include "tasks/task_file.h"
#include "tasks/variables.h"

namespace berth::tasks {

enum class RunKind { build, cmd, file };

struct RunRequest {
  RunKind kind = RunKind::build;
  std::string source_digest;  // "sha256:..." of an uploaded tar.gz; "" for no source
  // build
  std::string dockerfile = "Dockerfile";  // relative to the source's root
  std::vector<std::string> images;        // "repository:tag" in the run's registry
  std::vector<std::pair<std::string, std::string>> build_args;
  std::string target;
  std::string platform;
  bool no_push = false;
  // cmd: "IMAGE ARG..." (split without a shell)
  std::string cmd;
  // file: the task file's text
  std::string task_file;
  std::map<std::string, std::string, std::less<>> values;
  std::int64_t timeout_seconds = 3600;
};

inline constexpr std::int64_t kDefaultRunTimeoutSeconds = 3600;
inline constexpr std::int64_t kMaxRunTimeoutSeconds = 8 * 3600;

std::string_view run_kind_name(RunKind kind);  // "QuickBuild" | "QuickRun" | "TaskFile"
std::string to_json(const RunRequest& request);
std::optional<RunRequest> run_request_of_json(std::string_view text);

// The steps `request` runs in a registry whose login server is `variables.registry`. Errors
// (with the line in a task file) say what is wrong; the API checks every request with it before
// queueing (with the variables known then), so a run fails here only when its stored file
// depends on a value that changed.
ParseResult<TaskFile> plan_of(const RunRequest& request, const RunVariables& variables);

// "cb12" for run 12, and back (nullopt for anything else).
std::string run_id(std::int64_t number);
std::optional<std::int64_t> run_number(std::string_view id);

}  // namespace berth::tasks
