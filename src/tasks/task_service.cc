#include "tasks/task_service.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <array>
#include <random>

#include "common/clock.h"

namespace berth::tasks {
namespace {

TaskError error(TaskErrc code, std::string message) {
  return TaskError{code, std::move(message), ""};
}

TaskError internal(std::string_view what, const std::string& why) {
  spdlog::error("tasks: {}: {}", what, why);
  return error(TaskErrc::internal, std::string(what) + " failed");
}

std::string upload_id() {
  static thread_local std::mt19937_64 random{std::random_device{}()};
  return fmt::format("source-{:016x}{:016x}", random(), random());
}

std::string source_pin(metadata::RegistryId registry, const oci::Digest& digest) {
  return fmt::format("source:{}:{}", registry, digest.str());
}

// The repositories a run pushes to (its images in its own registry).
std::vector<std::string> pushed_repositories(const TaskFile& file,
                                             std::string_view login_server) {
  std::vector<std::string> repositories;
  for (const auto& step : file.steps) {
    if (step.kind() != StepKind::push) continue;
    for (const auto& image : std::get<PushImages>(step.action).images) {
      if (image.domain == login_server) repositories.push_back(image.repository);
    }
  }
  return repositories;
}

}  // namespace

std::string_view run_status_name(metadata::RunStatus status) {
  switch (status) {
    case metadata::RunStatus::queued:
      return "Queued";
    case metadata::RunStatus::running:
      return "Running";
    case metadata::RunStatus::succeeded:
      return "Succeeded";
    case metadata::RunStatus::failed:
      return "Failed";
    case metadata::RunStatus::canceled:
      return "Canceled";
    case metadata::RunStatus::timeout:
      return "Timeout";
  }
  return "Failed";
}

bool run_ended(metadata::RunStatus status) {
  return status != metadata::RunStatus::queued && status != metadata::RunStatus::running;
}

TaskService::TaskService(metadata::TaskStore& store, registry::Tenants& tenants,
                         storage::BlobStorage& storage, std::function<void()> wake)
    : store_(store), tenants_(tenants), storage_(storage), wake_(std::move(wake)) {}

TaskResult<registry::RegistryInfo> TaskService::registry_info(std::string_view name) {
  auto info = tenants_.show(name);
  if (!info) {
    if (info.error().code == registry::TenantErrc::internal) {
      return internal("reading the registry", info.error().message);
    }
    return error(TaskErrc::registry_not_found, info.error().message);
  }
  return std::move(*info);
}

RunView TaskService::view(const registry::RegistryInfo& registry, metadata::Run run) const {
  RunView out;
  out.registry = registry.record.name;
  out.id = run_id(run.number);
  auto request = run_request_of_json(run.request);
  out.run_type = std::string(run_kind_name(request ? request->kind : RunKind::build));
  out.run = std::move(run);
  return out;
}

TaskResult<std::uint64_t> TaskService::store_source(std::string_view registry,
                                                    const oci::Digest& digest,
                                                    const SourceReader& read) {
  auto info = registry_info(registry);
  if (!info) return info.error();
  // Pinned first: from now on no collection removes these bytes, also while they arrive.
  if (auto pinned = store_.pin_blob(digest, source_pin(info->record.id, digest), unix_now());
      !pinned) {
    return internal("pinning the source", pinned.error().message);
  }
  if (auto existing = storage_.stat(digest)) return existing->size;
  auto writer = storage_.create_upload(upload_id());
  if (!writer) return internal("storing the source", writer.error().message);
  std::vector<std::byte> buffer(256 * 1024);
  while (true) {
    auto got = read(buffer);
    if (!got) {
      (*writer)->discard();
      return error(TaskErrc::invalid_argument, "the upload broke off: " + got.error());
    }
    if (*got == 0) break;
    if ((*writer)->size() + *got > kMaxSourceBytes) {
      (*writer)->discard();
      return error(TaskErrc::too_large, fmt::format("a source may have at most {} bytes",
                                                    kMaxSourceBytes));
    }
    if (auto appended = (*writer)->append(std::span<const std::byte>(buffer.data(), *got));
        !appended) {
      (*writer)->discard();
      if (appended.error().code == storage::Errc::storage_full) {
        return error(TaskErrc::storage_full, "the storage is full");
      }
      return internal("storing the source", appended.error().message);
    }
  }
  auto committed = (*writer)->commit(digest);
  if (!committed) {
    (*writer)->discard();
    if (committed.error().code == storage::Errc::digest_mismatch) {
      return error(TaskErrc::digest_mismatch,
                   "the uploaded bytes do not hash to " + digest.str());
    }
    if (committed.error().code == storage::Errc::storage_full) {
      return error(TaskErrc::storage_full, "the storage is full");
    }
    return internal("storing the source", committed.error().message);
  }
  return committed->size;
}

TaskResult<RunView> TaskService::queue_run(std::string_view registry, const RunRequest& request,
                                           std::string_view task, std::string_view trigger) {
  auto info = registry_info(registry);
  if (!info) return info.error();
  // The whole request is checked now, with the variables a run would have (its id and date
  // are placeholders of the same shape).
  RunVariables variables;
  variables.id = "cb1";
  variables.registry = info->login_server;
  variables.registry_name = info->record.name;
  variables.date = unix_now();
  variables.task_name = std::string(task);
  variables.values = request.values;
  auto plan = plan_of(request, variables);
  if (!plan) return error(TaskErrc::invalid_argument, plan.error().to_string());
  if (!request.source_digest.empty()) {
    auto digest = oci::Digest::parse(request.source_digest);
    if (!digest) return error(TaskErrc::invalid_argument, "not a digest: " + request.source_digest);
    auto stored = storage_.stat(*digest);
    if (!stored) {
      return error(TaskErrc::invalid_argument,
                   "no source was uploaded as " + request.source_digest);
    }
  }
  metadata::Run run;
  run.registry = info->record.id;
  run.task = std::string(task);
  run.trigger = std::string(trigger);
  run.request = to_json(request);
  auto created = store_.create_run(run);
  if (!created) return internal("queueing the run", created.error().message);
  if (wake_) wake_();
  return view(*info, std::move(*created));
}

TaskResult<metadata::Run> TaskService::find(const registry::RegistryInfo& registry,
                                            std::string_view id) {
  auto number = run_number(id);
  if (!number) return error(TaskErrc::not_found, "no run " + std::string(id));
  auto found = store_.find_run(registry.record.id, *number);
  if (!found) return internal("reading the run", found.error().message);
  if (!*found) return error(TaskErrc::not_found, "no run " + std::string(id));
  return std::move(**found);
}

TaskResult<RunView> TaskService::show_run(std::string_view registry, std::string_view id) {
  auto info = registry_info(registry);
  if (!info) return info.error();
  auto run = find(*info, id);
  if (!run) return run.error();
  return view(*info, std::move(*run));
}

TaskResult<std::vector<RunView>> TaskService::list_runs(std::string_view registry,
                                                        std::optional<std::string> task,
                                                        std::optional<std::int64_t> before,
                                                        std::size_t limit) {
  auto info = registry_info(registry);
  if (!info) return info.error();
  auto runs = store_.list_runs(info->record.id, std::move(task), before, limit);
  if (!runs) return internal("listing runs", runs.error().message);
  std::vector<RunView> out;
  for (auto& run : *runs) out.push_back(view(*info, std::move(run)));
  return out;
}

TaskResult<RunView> TaskService::cancel_run(std::string_view registry, std::string_view id) {
  auto info = registry_info(registry);
  if (!info) return info.error();
  auto run = find(*info, id);
  if (!run) return run.error();
  auto canceled = store_.request_cancel(info->record.id, run->number, unix_now());
  if (!canceled) return internal("canceling the run", canceled.error().message);
  return view(*info, std::move(*canceled));
}

TaskResult<LogRead> TaskService::read_log(std::string_view registry, std::string_view id,
                                          std::uint64_t offset, std::size_t max_bytes) {
  auto info = registry_info(registry);
  if (!info) return info.error();
  auto run = find(*info, id);
  if (!run) return run.error();
  max_bytes = std::min(max_bytes, kMaxLogRead);
  LogRead out;
  out.status = run->status;
  if (!run->log_digest.empty()) {
    auto digest = oci::Digest::parse(run->log_digest);
    if (!digest) return internal("reading the log", "a stored log digest does not parse");
    auto reader = storage_.open(*digest);
    if (!reader) return internal("reading the log", reader.error().message);
    const std::uint64_t size = (*reader)->size();
    if (offset < size) {
      out.bytes.resize(std::min<std::uint64_t>(max_bytes, size - offset));
      std::size_t filled = 0;
      while (filled < out.bytes.size()) {
        auto got = (*reader)->read(
            offset + filled, std::as_writable_bytes(std::span(out.bytes).subspan(filled)));
        if (!got) return internal("reading the log", got.error().message);
        if (*got == 0) break;
        filled += *got;
      }
      out.bytes.resize(filled);
    }
  } else {
    auto bytes = store_.read_run_log(info->record.id, run->number, offset, max_bytes);
    if (!bytes) return internal("reading the log", bytes.error().message);
    out.bytes = std::move(*bytes);
  }
  out.next_offset = offset + out.bytes.size();
  return out;
}

std::optional<auth::Grant> TaskService::run_grant(const metadata::RegistryRecord& registry,
                                                  std::int64_t number) {
  auto run = store_.find_run(registry.id, number);
  if (!run || !*run || (*run)->status != metadata::RunStatus::running) return std::nullopt;
  const metadata::RegistryRecord* record = &registry;
  auto request = run_request_of_json((*run)->request);
  if (!request) return std::nullopt;
  RunVariables variables;
  variables.id = run_id(number);
  variables.registry = tenants_.login_server(record->name);
  variables.registry_name = record->name;
  variables.date = (*run)->started_at;
  variables.task_name = (*run)->task;
  variables.values = request->values;
  auto plan = plan_of(*request, variables);
  if (!plan) return std::nullopt;
  auth::Grant grant;
  grant.add("*", auth::Permissions(auth::Permission::pull) | auth::Permission::metadata_read);
  for (const auto& repository : pushed_repositories(*plan, variables.registry)) {
    grant.add(repository, auth::Permissions(auth::Permission::pull) | auth::Permission::push |
                              auth::Permission::metadata_read);
  }
  return grant;
}

}  // namespace berth::tasks
