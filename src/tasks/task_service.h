#pragma once
// TaskService: runs as a resource of a registry (queue a quick build, quick run or task file;
// show, list, cancel; read the log, live while the run runs), and the build sources they use.
// Knows nothing of HTTP; api/management_tasks.cc maps its errors.
//
// Registries are addressed by name through registry::Tenants (same rules, same "not found").
// A request is checked completely before it is queued (images, paths, the whole task file with
// the run's variables), so a bad one is refused with the reason (and the file's line) and
// nothing is stored.
//
// Sources: a build context uploaded as a tar.gz under its sha256 digest, verified while it
// streams into blob storage and pinned there (metadata/task_store.h) so that garbage collection
// keeps it while runs need it.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/access.h"
#include "common/result.h"
#include "metadata/task_store.h"
#include "oci/digest.h"
#include "registry/tenants.h"
#include "storage/blob_storage.h"
#include "tasks/run_request.h"

namespace berth::tasks {

enum class TaskErrc {
  invalid_argument,    // a bad request: the message says what (and where in a task file)
  registry_not_found,
  not_found,           // no run (or source) of that id
  digest_mismatch,     // an uploaded source does not hash to its digest
  too_large,           // an uploaded source beyond kMaxSourceBytes
  storage_full,
  internal,
};
using TaskError = Error<TaskErrc>;
template <class T>
using TaskResult = berth::Result<T, TaskError>;

inline constexpr std::uint64_t kMaxSourceBytes = 512ull * 1024 * 1024;
inline constexpr std::size_t kMaxLogRead = 1024 * 1024;

// A run as the API shows it (times are Unix seconds, 0: not yet).
struct RunView {
  std::string registry;
  metadata::Run run;
  std::string id;        // "cb12"
  std::string run_type;  // "QuickBuild" | "QuickRun" | "TaskFile"
};

std::string_view run_status_name(metadata::RunStatus status);  // "Queued", "Running", ...
bool run_ended(metadata::RunStatus status);

struct LogRead {
  std::string bytes;
  std::uint64_t next_offset = 0;
  metadata::RunStatus status = metadata::RunStatus::queued;  // when read
};

// Reads an uploaded source chunk by chunk: fills `buffer`, returns the count (0 at the end) or
// an error message (the upload then stores nothing).
using SourceReader =
    std::function<berth::Result<std::size_t, std::string>(std::span<std::byte> buffer)>;

class TaskService {
 public:
  // `wake` (optional) tells this node's runner that a run was queued.
  TaskService(metadata::TaskStore& store, registry::Tenants& tenants,
              storage::BlobStorage& storage, std::function<void()> wake = {});

  // Stores an uploaded source under `digest` (idempotent: an existing one is kept).
  TaskResult<std::uint64_t> store_source(std::string_view registry, const oci::Digest& digest,
                                         const SourceReader& read);

  // Checks and queues a run; `trigger` says why ("manual" for a person's).
  TaskResult<RunView> queue_run(std::string_view registry, const RunRequest& request,
                                std::string_view task = "", std::string_view trigger = "manual");
  TaskResult<RunView> show_run(std::string_view registry, std::string_view id);
  // Newest first; runs numbered below `before` when given; of `task` when given.
  TaskResult<std::vector<RunView>> list_runs(std::string_view registry,
                                             std::optional<std::string> task,
                                             std::optional<std::int64_t> before,
                                             std::size_t limit);
  // A queued run ends at once; a running one stops within seconds.
  TaskResult<RunView> cancel_run(std::string_view registry, std::string_view id);
  // Up to `max_bytes` (at most kMaxLogRead) of the run's log from `offset`: from the live
  // chunks while it runs, from the stored blob once it ended.
  TaskResult<LogRead> read_log(std::string_view registry, std::string_view id,
                               std::uint64_t offset, std::size_t max_bytes);

  // What run `number` of `registry` may do while it runs (for auth::Authenticator): push and
  // pull on the repositories it pushes to, pull on every repository of its registry (its base
  // images); nullopt once it is not running.
  std::optional<auth::Grant> run_grant(const metadata::RegistryRecord& registry,
                                       std::int64_t number);

 private:
  TaskResult<registry::RegistryInfo> registry_info(std::string_view name);
  TaskResult<metadata::Run> find(const registry::RegistryInfo& registry, std::string_view id);
  RunView view(const registry::RegistryInfo& registry, metadata::Run run) const;

  metadata::TaskStore& store_;
  registry::Tenants& tenants_;
  storage::BlobStorage& storage_;
  std::function<void()> wake_;
};

}  // namespace berth::tasks
