#pragma once
// LifecycleJob: the background pass of content lifecycle, once a minute by default:
//   1. forgets soft-deleted content whose time ran out (its blobs then become garbage for the
//      next collection);
//   2. applies each registry's retention policy: untagged manifests older than its window go
//      through the registry's delete (so soft delete keeps them when it is on);
//   3. runs the purge schedules that came due since their last run (once, however many times
//      they came due while berthd was down).
// Every deletion goes through registry::Registry with a system origin ("retention" or
// "purge:<schedule>") for the events.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "metadata/gc_store.h"
#include "metadata/lifecycle_store.h"
#include "registry/node_lease.h"
#include "registry/purge.h"
#include "registry/registry_services.h"

namespace berth::registry {

struct LifecycleJobOptions {
  std::chrono::seconds interval{60};  // 0: no background pass (run_once only)
  std::size_t page_size = 500;
  std::function<std::int64_t()> clock;  // Unix seconds; tests move it forward
  // The deployment's lease on this job: of several nodes, the one holding it makes the
  // background passes (its TTL should span a few intervals). None: every pass runs.
  NodeLease* lease = nullptr;
};

// What one pass did.
struct LifecyclePass {
  std::uint64_t expired_manifests = 0;
  std::uint64_t expired_tags = 0;
  std::uint64_t retention_deleted = 0;
  std::uint64_t purges_run = 0;
  std::vector<std::string> errors;
};

// What the registry's retention policy deletes at `now` (Unix seconds), planned first: with
// `dry_run` the plan, else what was deleted of it (the failures say why the rest was not). The
// outcome has manifests only. Nothing when the policy is off.
Result<PurgeOutcome> apply_retention(Registry& registry, metadata::LifecycleStore& lifecycle,
                                     std::int64_t now, bool dry_run, std::size_t page_size = 500);

class LifecycleJob {
 public:
  LifecycleJob(const RegistryServices& registries, metadata::LifecycleStore& lifecycle,
               metadata::GcStore& gc, LifecycleJobOptions options);
  ~LifecycleJob();
  LifecycleJob(const LifecycleJob&) = delete;
  LifecycleJob& operator=(const LifecycleJob&) = delete;

  void start();
  void stop();  // idempotent
  // One pass at the clock's now, on the calling thread.
  LifecyclePass run_once();

 private:
  void expire(std::int64_t now, LifecyclePass& pass);
  void apply_retention(std::int64_t now, LifecyclePass& pass);
  void run_due_purges(std::int64_t now, LifecyclePass& pass);
  std::int64_t now() const;
  void loop();

  const RegistryServices& registries_;
  metadata::LifecycleStore& lifecycle_;
  metadata::GcStore& gc_;
  LifecycleJobOptions options_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread worker_;
};

}  // namespace berth::registry
