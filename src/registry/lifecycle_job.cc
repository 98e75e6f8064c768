#include "registry/lifecycle_job.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <optional>
#include <utility>

#include "common/clock.h"
#include "registry/cron.h"

namespace berth::registry {
namespace {

metadata::EventOrigin system_origin(std::string identity) {
  metadata::EventOrigin origin;
  origin.identity = std::move(identity);
  origin.identity_kind = "system";
  return origin;
}

std::string summary_of(const PurgeOutcome& outcome) {
  return fmt::format("deleted {} tags and {} manifests; {} failed", outcome.deleted.tags.size(),
                     outcome.deleted.manifests.size(), outcome.failures.size());
}

}  // namespace

Result<PurgeOutcome> apply_retention(Registry& registry, metadata::LifecycleStore& lifecycle,
                                     std::int64_t now, bool dry_run, std::size_t page_size) {
  std::vector<metadata::ManifestKey> plan;
  std::optional<metadata::ManifestKey> after;
  for (;;) {
    auto page = lifecycle.retention_candidates(registry.id(), now, after, page_size);
    if (!page) return from_metadata(page.error());
    plan.insert(plan.end(), page->begin(), page->end());
    if (page->size() < page_size) break;
    after = page->back();
  }
  PurgeOutcome outcome;
  outcome.dry_run = dry_run;
  for (const auto& key : plan) {
    PurgedManifest manifest{key.repository, key.digest.str()};
    if (!dry_run) {
      auto deleted = registry.delete_manifest(key.repository, key.digest);
      if (!deleted) {
        // Gone meanwhile (deleted by a client): nothing left to do.
        if (deleted.error().code != Errc::manifest_unknown) {
          outcome.failures.push_back(
              fmt::format("{}@{}: {}", key.repository, key.digest.str(), deleted.error().message));
        }
        continue;
      }
    }
    outcome.deleted.manifests.push_back(std::move(manifest));
  }
  return outcome;
}

LifecycleJob::LifecycleJob(const RegistryServices& registries, metadata::LifecycleStore& lifecycle,
                           metadata::GcStore& gc, LifecycleJobOptions options)
    : registries_(registries), lifecycle_(lifecycle), gc_(gc), options_(std::move(options)) {}

LifecycleJob::~LifecycleJob() { stop(); }

void LifecycleJob::start() {
  if (options_.interval.count() <= 0 || worker_.joinable()) return;
  worker_ = std::thread([this] { loop(); });
}

void LifecycleJob::stop() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (worker_.joinable()) worker_.join();
}

std::int64_t LifecycleJob::now() const { return options_.clock ? options_.clock() : unix_now(); }

void LifecycleJob::loop() {
  std::unique_lock lock(mutex_);
  while (!stop_) {
    if (wake_.wait_for(lock, options_.interval, [this] { return stop_; })) break;
    // Another node holds the job: it makes this interval's pass.
    if (options_.lease != nullptr && !options_.lease->hold()) continue;
    lock.unlock();
    LifecyclePass pass = run_once();
    for (const std::string& error : pass.errors) spdlog::warn("content lifecycle: {}", error);
    if (pass.expired_manifests + pass.expired_tags + pass.retention_deleted + pass.purges_run > 0) {
      spdlog::info(
          "content lifecycle: {} soft-deleted manifests and {} tags expired, {} untagged "
          "manifests deleted by retention, {} scheduled purges ran",
          pass.expired_manifests, pass.expired_tags, pass.retention_deleted, pass.purges_run);
    }
    lock.lock();
  }
}

LifecyclePass LifecycleJob::run_once() {
  LifecyclePass pass;
  const std::int64_t at = now();
  expire(at, pass);
  apply_retention(at, pass);
  run_due_purges(at, pass);
  return pass;
}

void LifecycleJob::expire(std::int64_t now, LifecyclePass& pass) {
  for (;;) {
    auto expired = lifecycle_.expire_deleted(now, options_.page_size);
    if (!expired) {
      pass.errors.push_back("expiring soft-deleted content: " + expired.error().message);
      return;
    }
    pass.expired_manifests += expired->manifests;
    pass.expired_tags += expired->tags;
    if (expired->manifests < options_.page_size && expired->tags < options_.page_size) return;
  }
}

void LifecycleJob::apply_retention(std::int64_t now, LifecyclePass& pass) {
  auto registries = lifecycle_.registries_with_retention();
  if (!registries) {
    pass.errors.push_back("reading retention policies: " + registries.error().message);
    return;
  }
  for (metadata::RegistryId id : *registries) {
    Registry registry = registries_.for_registry(id, system_origin("retention"));
    auto outcome = registry::apply_retention(registry, lifecycle_, now, false, options_.page_size);
    if (!outcome) {
      pass.errors.push_back("retention: " + outcome.error().message);
      continue;
    }
    pass.retention_deleted += outcome->deleted.manifests.size();
    for (const std::string& failure : outcome->failures) {
      pass.errors.push_back("retention of " + failure);
    }
  }
}

void LifecycleJob::run_due_purges(std::int64_t now, LifecyclePass& pass) {
  auto schedules = lifecycle_.list_purge_schedules(std::nullopt);
  if (!schedules) {
    pass.errors.push_back("reading purge schedules: " + schedules.error().message);
    return;
  }
  for (const metadata::PurgeSchedule& schedule : *schedules) {
    auto cron = CronSchedule::parse(schedule.schedule);
    if (!cron) continue;  // checked when saved
    const std::int64_t since =
        schedule.last_run_at != 0 ? schedule.last_run_at : schedule.created_at;
    if (!cron->next_between(since, now)) continue;
    Registry registry =
        registries_.for_registry(schedule.registry, system_origin("purge:" + schedule.name));
    Purge purge(registry, lifecycle_, gc_);
    PurgeRequest request{.filters = schedule.filters,
                         .ago = std::chrono::seconds(schedule.ago_seconds),
                         .untagged = schedule.untagged,
                         .keep = schedule.keep};
    auto outcome = purge.run(request, false, now);
    std::string result = outcome ? summary_of(*outcome) : "failed: " + outcome.error().message;
    if (!outcome) pass.errors.push_back("purge schedule " + schedule.name + ": " + result);
    (void)lifecycle_.record_purge_run(schedule.registry, schedule.name, now, result);
    ++pass.purges_run;
  }
}

}  // namespace berth::registry
