#pragma once
// GarbageCollector: online mark-and-sweep of what no one references, while pushes and pulls go
// on (docs/garbage-collection.md). A run has four phases, each a keyset walk in pages of one
// short transaction, so a writer never waits for more than one page:
//   links    per registry: links no manifest of their repository references, made before the
//            cutoff, are removed; repositories left with nothing disappear from the catalog;
//   blobs    deployment-wide: blob rows no link and no manifest references, untouched since the
//            cutoff, are claimed (re-checked in the claiming statement), their bytes removed,
//            then their rows;
//   claims   blobs an interrupted run had claimed lose their bytes and rows;
//   orphans  deployment-wide: bytes in storage the metadata has no row for (left by a crash
//            between an upload's commit and its metadata) are claimed and removed likewise.
// The cutoff is the run's start minus the grace period: anything a client used after it (an
// upload, a mount, a link renewed by a push) is left for a later run.
//
// Progress is published after every page (totals(), for /metrics) and saved at most once a
// second, so a run interrupted by a crash resumes about where it was when berthd starts again.
// One run at a time per process, and per deployment with a lease (GcOptions::lease).

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/result.h"
#include "metadata/gc_store.h"
#include "metadata/metadata_store.h"
#include "registry/node_lease.h"
#include "storage/blob_storage.h"

namespace berth::registry {

enum class GcErrc {
  already_running,  // one run at a time
  not_found,        // no such run
  invalid_argument,
  internal,         // the metadata store or the storage failed
};
using GcError = Error<GcErrc>;
template <class T>
using GcResult = berth::Result<T, GcError>;

struct GcOptions {
  // How long anything a client used stays safe from collection. Generous by default: an
  // upload's commit, a mount or a manifest's push all finish well within it.
  std::chrono::seconds grace_period{60 * 60};
  std::size_t page_size = 1000;
  // A pause after every page, to leave the disk and the database to clients on a busy
  // deployment (0: none).
  std::chrono::milliseconds page_pause{0};
  // Deployment-wide runs on this interval (0: only on demand).
  std::chrono::seconds interval{24 * 60 * 60};
  // Unix seconds now; tests move it forward to make everything old enough to collect.
  std::function<std::int64_t()> clock;
  // Whether clients are being served right now (must not block). While they are, a run yields:
  // after each page it pauses five times as long as the page took, so it takes at most a
  // sixth of a core from them; with no clients it runs at full speed. None: never yields.
  std::function<bool()> clients_busy;
  // The deployment's lease on garbage collection: a node runs a collection (on demand,
  // scheduled or resumed) only while it holds it, so the nodes of a scale-out deployment run one
  // at a time, and a run whose node died is resumed by another once the lease has expired.
  // None: this process is the only one (tests).
  NodeLease* lease = nullptr;
};

struct GcRequest {
  std::optional<metadata::RegistryId> registry;  // whose links; none: every registry's
  bool dry_run = false;
  std::string started_by = "manual";
};

// Totals since the process started, the run in progress included as of its last page, for
// /metrics.
struct GcTotals {
  std::uint64_t runs_succeeded = 0;
  std::uint64_t runs_failed = 0;
  std::uint64_t blobs_examined = 0;
  std::uint64_t blobs_deleted = 0;
  std::uint64_t bytes_reclaimed = 0;
  std::uint64_t links_removed = 0;
  bool running = false;
  std::int64_t last_finished_at = 0;  // Unix seconds; 0 before the first run ends
};

class GarbageCollector {
 public:
  GarbageCollector(storage::BlobStorage& storage, metadata::MetadataStore& metadata,
                   metadata::GcStore& runs, GcOptions options);
  ~GarbageCollector();
  GarbageCollector(const GarbageCollector&) = delete;
  GarbageCollector& operator=(const GarbageCollector&) = delete;

  // Starts the background worker: it resumes runs a crash interrupted, then runs the
  // deployment-wide schedule and the runs start() asks for.
  void start_worker();
  // Stops the worker; a run in progress stops after its current page and resumes at the next
  // start. Idempotent.
  void stop();

  // Records a run and hands it to the worker; already_running while one runs or waits.
  GcResult<metadata::GcRun> start(const GcRequest& request);
  // Records a run and executes it on the calling thread (tests, tools); already_running when
  // another run is in progress.
  GcResult<metadata::GcRun> run_now(const GcRequest& request);

  GcResult<metadata::GcRun> find(std::int64_t id);
  // Newest first; of one registry (with the deployment-wide runs) or every run.
  GcResult<std::vector<metadata::GcRun>> list(std::optional<metadata::RegistryId> registry,
                                              std::int64_t before, std::size_t limit);

  GcTotals totals() const;
  const GcOptions& options() const { return options_; }

  // Called after every page with the run's progress (tests use it to interleave writers and
  // to crash mid-run). Set before runs start.
  void set_page_hook(std::function<void(const metadata::GcRun&)> hook) {
    page_hook_ = std::move(hook);
  }

 private:
  class Execution;

  GcResult<metadata::GcRun> record(const GcRequest& request);
  // Executes `run` from its saved phase and cursor to the end (or until stopped).
  metadata::GcRun execute(metadata::GcRun run);
  void worker_loop();
  void resume_interrupted();
  // Whether a scheduled run is due: the deployment's last one (by any node) started at least an
  // interval ago.
  bool scheduled_run_due();
  void run_scheduled();
  // The lease (see GcOptions::lease): taken before a run, renewed during it at most every
  // third of its TTL, let go after it. renew_lease() false: another node has it now, and the
  // run stops after its page (resumed by that node).
  bool take_lease();
  bool renew_lease();
  void release_lease();
  bool stopping() const;
  // Sleeps the page pause (longer while clients are busy: see GcOptions::clients_busy), or
  // less when a stop comes. `page_time`: how long the page took.
  void pause_between_pages(std::chrono::steady_clock::duration page_time);
  void note_progress(const metadata::GcRun& run);
  void account(const metadata::GcRun& finished);

  storage::BlobStorage& storage_;
  metadata::MetadataStore& metadata_;
  metadata::GcStore& runs_;
  GcOptions options_;
  std::function<void(const metadata::GcRun&)> page_hook_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  bool lease_lost_ = false;                 // the run in progress must stop (renew_lease)
  std::chrono::steady_clock::time_point lease_renewed_;
  bool busy_ = false;                       // a run is executing or queued
  std::optional<metadata::GcRun> queued_;   // handed over by start()
  GcTotals totals_;                         // of the runs that ended
  std::optional<metadata::GcRun> current_;  // the run in progress, as of its last page
  std::thread worker_;
};

}  // namespace berth::registry
