#include "registry/garbage_collector.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <limits>
#include <unordered_map>
#include <utility>

#include "common/clock.h"

namespace berth::registry {

using metadata::GarbageBlob;
using metadata::GcRun;
namespace gc_phase = metadata::gc_phase;
namespace gc_state = metadata::gc_state;

namespace {

// Claims come after the blob sweep, so a run resumed in the middle of that sweep still finishes
// the claims a crash left behind.
constexpr std::array<std::string_view, 4> kPhases = {gc_phase::kLinks, gc_phase::kBlobs,
                                                     gc_phase::kClaims, gc_phase::kOrphans};

GcError internal(std::string_view what, std::string_view detail) {
  return {GcErrc::internal, fmt::format("{}: {}", what, detail)};
}

// The links phase's cursor: the registry and the last repository finished in it.
std::string links_cursor(metadata::RegistryId registry, std::string_view repository) {
  return fmt::format("{}/{}", registry, repository);
}

struct LinksPosition {
  metadata::RegistryId registry = 0;
  std::string repository;  // the last one finished; empty: none yet
};

LinksPosition parse_links_cursor(std::string_view cursor) {
  LinksPosition position;
  const std::size_t slash = cursor.find('/');
  if (slash == std::string_view::npos) return position;
  std::from_chars(cursor.data(), cursor.data() + slash, position.registry);
  position.repository = std::string(cursor.substr(slash + 1));
  return position;
}

GcError already_running() {
  return {GcErrc::already_running,
          "a garbage collection is already running; wait for it to finish (berth gc status)"};
}

GcError running_elsewhere() {
  return {GcErrc::already_running,
          "a garbage collection is already running on another node of the deployment; wait for "
          "it to finish (berth gc status)"};
}

std::size_t phase_index(std::string_view phase) {
  for (std::size_t i = 0; i < kPhases.size(); ++i) {
    if (kPhases[i] == phase) return i;
  }
  return kPhases.size();  // done (or unknown): nothing left
}

}  // namespace

// One run's work: the phases, page by page, saving progress after each page.
class GarbageCollector::Execution {
 public:
  Execution(GarbageCollector& collector, GcRun& run) : gc_(collector), run_(run) {}

  // Runs the phases from the saved one. Returns the error that ended the run, if any;
  // `stopped` tells whether it paused for a stop (to be resumed later).
  std::optional<std::string> run_phases(bool& stopped) {
    stopped = false;
    for (std::size_t i = phase_index(run_.phase); i < kPhases.size(); ++i) {
      if (run_.phase != kPhases[i]) {
        run_.phase = std::string(kPhases[i]);
        run_.cursor.clear();
      }
      std::optional<std::string> error;
      if (kPhases[i] == gc_phase::kLinks) error = sweep_links();
      if (kPhases[i] == gc_phase::kClaims) error = finish_claims();
      if (kPhases[i] == gc_phase::kBlobs) error = sweep_blobs();
      if (kPhases[i] == gc_phase::kOrphans) error = sweep_orphans();
      if (error) return error;
      if (gc_.stopping()) {
        stopped = true;
        return std::nullopt;
      }
    }
    run_.phase = std::string(gc_phase::kDone);
    run_.cursor.clear();
    return std::nullopt;
  }

 private:
  std::size_t page() const { return gc_.options_.page_size; }

  // Publishes progress after a page, and saves it at most once a second: each save is a
  // durable write that pushes would queue behind, and resuming from a slightly older cursor
  // only examines a few pages again. An error when the store refuses it.
  std::optional<std::string> checkpoint() {
    run_.updated_at = unix_now();
    const auto now = std::chrono::steady_clock::now();
    if (now - last_saved_ >= kSaveInterval) {
      if (auto saved = gc_.runs_.save_gc_run(run_); !saved) {
        return "saving progress: " + saved.error().message;
      }
      last_saved_ = now;
    }
    gc_.note_progress(run_);
    gc_.renew_lease();
    if (gc_.page_hook_) gc_.page_hook_(run_);
    gc_.pause_between_pages(now - page_started_);
    page_started_ = std::chrono::steady_clock::now();
    return std::nullopt;
  }

  std::optional<std::string> sweep_links() {
    std::vector<metadata::RegistryId> registries;
    if (run_.registry) {
      registries.push_back(*run_.registry);
    } else {
      auto all = gc_.metadata_.list_registries();
      if (!all) return "listing registries: " + all.error().message;
      for (const auto& registry : *all) registries.push_back(registry.id);
      std::sort(registries.begin(), registries.end());
    }
    const LinksPosition resume = parse_links_cursor(run_.cursor);
    for (metadata::RegistryId registry : registries) {
      if (registry < resume.registry) continue;
      std::string last = registry == resume.registry ? resume.repository : std::string();
      while (true) {
        auto names = gc_.runs_.gc_repositories(registry, last, page());
        if (!names) return "listing repositories: " + names.error().message;
        for (const std::string& name : *names) {
          if (auto error = sweep_repository({registry, name})) return error;
          last = name;
        }
        if (!names->empty()) {
          run_.cursor = links_cursor(registry, last);
          if (auto error = checkpoint()) return error;
        }
        if (names->size() < page() || gc_.stopping()) break;
      }
      if (gc_.stopping()) return std::nullopt;
    }
    return std::nullopt;
  }

  std::optional<std::string> sweep_repository(metadata::RepositoryRef repository) {
    std::string after;
    std::uint64_t removed_here = 0;
    while (true) {
      auto swept = gc_.runs_.sweep_links(repository, after, run_.cutoff, page(), run_.dry_run);
      if (!swept) return "sweeping links: " + swept.error().message;
      run_.links_examined += swept->examined;
      run_.links_removed += swept->removed.size();
      removed_here += swept->removed.size();
      // A dry run remembers what it would have unlinked, to count those blobs as garbage.
      if (run_.dry_run) {
        for (const GarbageBlob& blob : swept->removed) ++would_unlink_[blob.digest.str()];
      }
      if (swept->next.empty()) break;
      after = std::move(swept->next);
    }
    if (run_.dry_run) {
      auto links = gc_.runs_.removable_repository_links(repository, run_.cutoff);
      if (!links) return "checking an empty repository: " + links.error().message;
      if (*links && **links == removed_here) ++run_.repositories_removed;
      return std::nullopt;
    }
    auto removed = gc_.runs_.remove_empty_repository(repository, run_.cutoff);
    if (!removed) return "removing an empty repository: " + removed.error().message;
    if (*removed) ++run_.repositories_removed;
    return std::nullopt;
  }

  // Removes the bytes of claimed blobs, then their rows. A blob whose bytes are already gone
  // (removed before a crash) only loses its row.
  std::optional<std::string> remove_claimed(const std::vector<GarbageBlob>& claimed) {
    std::vector<oci::Digest> gone;
    gone.reserve(claimed.size());
    for (const GarbageBlob& blob : claimed) {
      auto removed = gc_.storage_.remove(blob.digest);
      if (!removed && removed.error().code != storage::Errc::not_found) {
        return "removing the bytes of " + blob.digest.str() + ": " + removed.error().message;
      }
      gone.push_back(blob.digest);
      ++run_.blobs_deleted;
      run_.bytes_reclaimed += blob.size;
    }
    if (gone.empty()) return std::nullopt;
    if (auto forgotten = gc_.runs_.forget_blobs(gone); !forgotten) {
      return "forgetting removed blobs: " + forgotten.error().message;
    }
    return std::nullopt;
  }

  void count_would_delete(const std::vector<GarbageBlob>& garbage) {
    for (const GarbageBlob& blob : garbage) {
      ++run_.blobs_deleted;
      run_.bytes_reclaimed += blob.size;
    }
  }

  std::optional<std::string> finish_claims() {
    if (run_.dry_run) return std::nullopt;
    while (!gc_.stopping()) {
      // Each page's rows are forgotten before the next is read, so reading from the start
      // again finds the next claims (and never skips one another run made meanwhile).
      auto claimed = gc_.runs_.claimed_blobs("", page());
      if (!claimed) return "listing claimed blobs: " + claimed.error().message;
      if (auto error = remove_claimed(*claimed)) return error;
      if (auto error = checkpoint()) return error;
      if (claimed->size() < page()) break;
    }
    return std::nullopt;
  }

  std::optional<std::string> sweep_blobs() {
    while (!gc_.stopping()) {
      auto scanned = gc_.runs_.scan_blobs(run_.cursor, run_.cutoff, page());
      if (!scanned) return "scanning blobs: " + scanned.error().message;
      run_.blobs_examined += scanned->examined;
      if (run_.dry_run) {
        count_would_delete(scanned->garbage);
        for (const auto& linked : scanned->linked_only) {
          auto unlinked = would_unlink_.find(linked.blob.digest.str());
          if (unlinked != would_unlink_.end() && unlinked->second == linked.links) {
            count_would_delete({linked.blob});
          }
        }
      } else if (!scanned->garbage.empty()) {
        auto claimed = gc_.runs_.claim_blobs(scanned->garbage, run_.cutoff);
        if (!claimed) return "claiming blobs: " + claimed.error().message;
        if (auto error = remove_claimed(*claimed)) return error;
      }
      run_.cursor = scanned->next;
      if (auto error = checkpoint()) return error;
      if (scanned->next.empty()) break;
    }
    return std::nullopt;
  }

  std::optional<std::string> sweep_orphans() {
    while (!gc_.stopping()) {
      auto listed = gc_.storage_.list_blobs(run_.cursor, page());
      if (!listed) return "listing stored blobs: " + listed.error().message;
      run_.objects_examined += listed->blobs.size();
      std::vector<oci::Digest> digests;
      digests.reserve(listed->blobs.size());
      for (const auto& blob : listed->blobs) digests.push_back(blob.digest);
      auto known = gc_.runs_.blobs_known(digests);
      if (!known) return "checking stored blobs: " + known.error().message;
      for (std::size_t i = 0; i < listed->blobs.size(); ++i) {
        const storage::StoredBlob& stored = listed->blobs[i];
        if ((*known)[i] || stored.modified_at >= run_.cutoff) continue;
        GarbageBlob orphan{stored.digest, stored.size};
        if (run_.dry_run) {
          count_would_delete({orphan});
          continue;
        }
        auto claimed = gc_.runs_.claim_orphan(orphan);
        if (!claimed) return "claiming orphaned bytes: " + claimed.error().message;
        if (!*claimed) continue;  // a writer linked it meanwhile: not an orphan any more
        if (auto error = remove_claimed({orphan})) return error;
      }
      run_.cursor = listed->next;
      if (auto error = checkpoint()) return error;
      if (listed->next.empty()) break;
    }
    return std::nullopt;
  }

  static constexpr auto kSaveInterval = std::chrono::seconds(1);

  GarbageCollector& gc_;
  GcRun& run_;
  std::chrono::steady_clock::time_point last_saved_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point page_started_ = std::chrono::steady_clock::now();
  // In a dry run: per digest, the links the links phase would have removed.
  std::unordered_map<std::string, std::uint64_t> would_unlink_;
};

GarbageCollector::GarbageCollector(storage::BlobStorage& storage,
                                   metadata::MetadataStore& metadata, metadata::GcStore& runs,
                                   GcOptions options)
    : storage_(storage), metadata_(metadata), runs_(runs), options_(options) {
  options_.page_size = std::max<std::size_t>(options_.page_size, 1);
  if (!options_.clock) options_.clock = [] { return unix_now(); };
}

GarbageCollector::~GarbageCollector() { stop(); }

void GarbageCollector::start_worker() {
  std::lock_guard lock(mutex_);
  if (worker_.joinable()) return;
  stop_ = false;
  worker_ = std::thread([this] { worker_loop(); });
}

void GarbageCollector::stop() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (worker_.joinable()) worker_.join();
}

void GarbageCollector::pause_between_pages(std::chrono::steady_clock::duration page_time) {
  constexpr int kYieldFactor = 5;  // clients busy: the run takes at most a sixth of a core
  auto pause = std::chrono::duration_cast<std::chrono::steady_clock::duration>(options_.page_pause);
  if (options_.clients_busy && options_.clients_busy()) {
    pause = std::max(pause, page_time * kYieldFactor);
  }
  if (pause.count() <= 0) return;
  std::unique_lock lock(mutex_);
  wake_.wait_for(lock, pause, [&] { return stop_; });
}

bool GarbageCollector::stopping() const {
  std::lock_guard lock(mutex_);
  return stop_ || lease_lost_;
}

bool GarbageCollector::take_lease() {
  if (options_.lease == nullptr) return true;
  if (!options_.lease->hold()) return false;
  std::lock_guard lock(mutex_);
  lease_lost_ = false;
  lease_renewed_ = std::chrono::steady_clock::now();
  return true;
}

bool GarbageCollector::renew_lease() {
  if (options_.lease == nullptr) return true;
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(mutex_);
    if (lease_lost_) return false;
    if (now - lease_renewed_ < options_.lease->ttl() / 3) return true;
  }
  const bool held = options_.lease->hold();
  std::lock_guard lock(mutex_);
  if (held) {
    lease_renewed_ = now;
  } else {
    lease_lost_ = true;
    spdlog::warn("garbage collection: the deployment's lease went to another node; this run "
                 "stops after its page and is resumed there");
  }
  return held;
}

void GarbageCollector::release_lease() {
  if (options_.lease != nullptr) options_.lease->release();
}

GcResult<GcRun> GarbageCollector::record(const GcRequest& request) {
  GcRun run;
  run.registry = request.registry;
  run.started_by = request.started_by;
  run.dry_run = request.dry_run;
  run.state = std::string(gc_state::kRunning);
  run.phase = std::string(gc_phase::kLinks);
  run.started_at = options_.clock();
  run.cutoff = run.started_at - options_.grace_period.count();
  auto created = runs_.create_gc_run(run);
  if (!created) return internal("recording the run", created.error().message);
  return std::move(*created);
}

GcResult<GcRun> GarbageCollector::start(const GcRequest& request) {
  {
    std::lock_guard lock(mutex_);
    if (busy_) return already_running();
    busy_ = true;
  }
  if (!take_lease()) {
    std::lock_guard lock(mutex_);
    busy_ = false;
    return running_elsewhere();
  }
  auto run = record(request);
  if (!run) release_lease();
  std::lock_guard lock(mutex_);
  if (!run) {
    busy_ = false;
    return run.error();
  }
  queued_ = *run;
  wake_.notify_all();
  return run;
}

GcResult<GcRun> GarbageCollector::run_now(const GcRequest& request) {
  {
    std::lock_guard lock(mutex_);
    if (busy_) return already_running();
    busy_ = true;
  }
  if (!take_lease()) {
    std::lock_guard lock(mutex_);
    busy_ = false;
    return running_elsewhere();
  }
  auto run = record(request);
  GcResult<GcRun> result = run ? GcResult<GcRun>(execute(std::move(*run)))
                               : GcResult<GcRun>(run.error());
  release_lease();
  std::lock_guard lock(mutex_);
  busy_ = false;
  return result;
}

GcRun GarbageCollector::execute(GcRun run) {
  {
    std::lock_guard lock(mutex_);
    totals_.running = true;
  }
  spdlog::info("garbage collection run {} {} (phase {}, {})", run.id,
               run.phase == gc_phase::kLinks && run.cursor.empty() ? "starts" : "resumes",
               run.phase, run.dry_run ? "dry run" : "removing garbage");
  bool stopped = false;
  Execution execution(*this, run);
  std::optional<std::string> error = execution.run_phases(stopped);
  if (!stopped) {
    run.state = std::string(error ? gc_state::kFailed : gc_state::kSucceeded);
    run.error = error.value_or("");
    run.finished_at = unix_now();
  }
  run.updated_at = unix_now();
  if (auto saved = runs_.save_gc_run(run); !saved) {
    spdlog::error("garbage collection run {}: saving its end: {}", run.id, saved.error().message);
  }
  if (stopped) {
    spdlog::info("garbage collection run {} paused in phase {}; it resumes at the next start",
                 run.id, run.phase);
  } else if (error) {
    spdlog::error("garbage collection run {} failed: {}", run.id, *error);
  } else {
    spdlog::info(
        "garbage collection run {} finished: {} links removed, {} repositories removed, {} "
        "blobs examined, {} blobs and {} bytes {}",
        run.id, run.links_removed, run.repositories_removed, run.blobs_examined,
        run.blobs_deleted, run.bytes_reclaimed, run.dry_run ? "would be reclaimed" : "reclaimed");
  }
  account(run);
  return run;
}

void GarbageCollector::note_progress(const GcRun& run) {
  std::lock_guard lock(mutex_);
  current_ = run;
}

void GarbageCollector::account(const GcRun& finished) {
  std::lock_guard lock(mutex_);
  current_.reset();
  totals_.running = false;
  if (finished.state == gc_state::kRunning) return;
  (finished.state == gc_state::kSucceeded ? totals_.runs_succeeded : totals_.runs_failed) += 1;
  totals_.blobs_examined += finished.blobs_examined;
  totals_.last_finished_at = finished.finished_at;
  if (finished.dry_run) return;
  totals_.blobs_deleted += finished.blobs_deleted;
  totals_.bytes_reclaimed += finished.bytes_reclaimed;
  totals_.links_removed += finished.links_removed;
}

GcTotals GarbageCollector::totals() const {
  std::lock_guard lock(mutex_);
  GcTotals totals = totals_;
  // The run in progress counts as it goes, so the counters move during a long run.
  if (current_) {
    totals.blobs_examined += current_->blobs_examined;
    if (!current_->dry_run) {
      totals.blobs_deleted += current_->blobs_deleted;
      totals.bytes_reclaimed += current_->bytes_reclaimed;
      totals.links_removed += current_->links_removed;
    }
  }
  return totals;
}

// Runs left "running" by a process that stopped: this one's last life, or another node that
// died. Only the lease holder executes runs, so once this node holds the lease, every run still
// marked running is one nobody is executing.
void GarbageCollector::resume_interrupted() {
  auto interrupted = runs_.running_gc_runs();
  if (!interrupted) {
    spdlog::error("garbage collection: reading interrupted runs: {}",
                  interrupted.error().message);
    return;
  }
  if (interrupted->empty() || !take_lease()) return;
  for (GcRun& run : *interrupted) {
    if (stopping()) break;
    execute(std::move(run));
  }
  release_lease();
}

bool GarbageCollector::scheduled_run_due() {
  constexpr std::size_t kLookBack = 50;
  auto runs = runs_.list_gc_runs(std::nullopt, std::numeric_limits<std::int64_t>::max(), kLookBack);
  if (!runs) {
    spdlog::error("garbage collection: reading past runs: {}", runs.error().message);
    return false;
  }
  // Timers of different nodes drift apart; a run started a little less than an interval ago
  // is this period's.
  const std::int64_t interval = options_.interval.count();
  const std::int64_t tolerance = std::min<std::int64_t>(60, interval / 10);
  const std::int64_t now = options_.clock();
  for (const GcRun& run : *runs) {
    if (run.started_by != "schedule") continue;
    return now - run.started_at >= interval - tolerance;
  }
  return true;
}

void GarbageCollector::worker_loop() {
  {
    std::unique_lock lock(mutex_);
    wake_.wait(lock, [&] { return stop_ || !busy_; });
    if (stop_) return;
    busy_ = true;
  }
  resume_interrupted();
  {
    std::lock_guard lock(mutex_);
    busy_ = false;
  }
  const bool scheduled = options_.interval.count() > 0;
  auto next_scheduled = std::chrono::steady_clock::now() + options_.interval;
  // With other nodes, one of them may die mid-run: look for runs to resume once per lease TTL
  // (its run is resumable once its lease has expired).
  const auto resume_every = options_.lease != nullptr
                                ? std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                      options_.lease->ttl())
                                : std::chrono::steady_clock::duration::max();
  auto next_resume_check = options_.lease != nullptr ? std::chrono::steady_clock::now() + resume_every
                                                     : std::chrono::steady_clock::time_point::max();
  while (true) {
    std::optional<GcRun> run;
    bool resume_check = false;
    {
      std::unique_lock lock(mutex_);
      auto ready = [&] {
        const auto now = std::chrono::steady_clock::now();
        return stop_ || queued_.has_value() ||
               (scheduled && !busy_ && now >= next_scheduled) ||
               (!busy_ && now >= next_resume_check);
      };
      auto wake_at = std::min(scheduled ? next_scheduled : std::chrono::steady_clock::time_point::max(),
                              next_resume_check);
      if (wake_at == std::chrono::steady_clock::time_point::max()) {
        wake_.wait(lock, ready);
      } else {
        wake_.wait_until(lock, wake_at, ready);
      }
      if (stop_) return;
      const auto now = std::chrono::steady_clock::now();
      const bool due = scheduled && now >= next_scheduled;
      if (queued_) {
        run = std::move(queued_);
        queued_.reset();
      } else if (due && !busy_) {
        busy_ = true;
      } else if (!busy_ && now >= next_resume_check) {
        busy_ = true;
        resume_check = true;
      } else {
        // Due while a run asked for on demand is executing: that run is this period's.
        if (due) next_scheduled = now + options_.interval;
        continue;
      }
    }
    if (resume_check) {
      next_resume_check = std::chrono::steady_clock::now() + resume_every;
      resume_interrupted();
    } else if (run) {
      // Asked for by start(), which took the lease.
      execute(std::move(*run));
      release_lease();
    } else {
      next_scheduled = std::chrono::steady_clock::now() + options_.interval;
      run_scheduled();
    }
    std::lock_guard lock(mutex_);
    busy_ = false;
  }
}

// The deployment-wide run of the schedule, unless another node ran this period's already or
// is running one now.
void GarbageCollector::run_scheduled() {
  if (!scheduled_run_due() || !take_lease()) return;
  // Checked again under the lease: another node may have run it just before letting go.
  if (!scheduled_run_due()) {
    release_lease();
    return;
  }
  auto recorded = record({std::nullopt, false, "schedule"});
  if (recorded) {
    execute(std::move(*recorded));
  } else {
    spdlog::error("garbage collection: starting the scheduled run: {}", recorded.error().message);
  }
  release_lease();
}

GcResult<GcRun> GarbageCollector::find(std::int64_t id) {
  auto run = runs_.find_gc_run(id);
  if (!run) return internal("reading the run", run.error().message);
  if (!*run) return GcError{GcErrc::not_found, fmt::format("no garbage collection run {}", id)};
  return std::move(**run);
}

GcResult<std::vector<GcRun>> GarbageCollector::list(std::optional<metadata::RegistryId> registry,
                                                    std::int64_t before, std::size_t limit) {
  auto runs = runs_.list_gc_runs(registry, before, limit);
  if (!runs) return internal("listing runs", runs.error().message);
  return std::move(*runs);
}

}  // namespace berth::registry
