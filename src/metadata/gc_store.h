#pragma once
// GcStore: what online garbage collection reads and changes in the metadata, and the record of
// its runs. Backends: SqliteMetadataStore and
// PostgresMetadataStore. The conformance suite (metadata/gc_conformance_test.cc)
// covers the sweeps, the claims and the re-checks against concurrent writers.
//
// The protocol that lets collection run while clients push (docs/garbage-collection.md):
// - Every writer that relies on a blob touches its row in the transaction that makes it rely on
//   it: link_blob (an upload's commit, a mount) sets touched_at to now and renews the link,
//   put_manifest re-checks that the repository links every blob the manifest references.
// - The collector removes bytes only while it holds a claim on the blob's row (deleting = 1).
//   It takes the claim in one statement that re-checks, in the same transaction, that the blob
//   is still unreferenced and was last touched before the run's cutoff (the run's start minus
//   the grace period). A writer never links a claimed blob: link_blob answers being_deleted and
//   the client's upload or mount is refused (not acknowledged); once the claim has ended (the
//   bytes and the row gone), a retry stores the content again.
// - Claims outlive a crash: the next run removes the bytes of every claimed blob and then its
//   row, so a collection interrupted by kill -9 is finished by the next one.
// - Pins (task_store.h: pin_blob) keep bytes no manifest references, an uploaded build context
//   or a finished run's log: a pinned digest is neither garbage nor an orphan. Both claims
//   re-check in their own statement that nothing pins the digest, and pin_blob refuses
//   (being_deleted) a digest already claimed, so a pinned digest never loses its bytes.
//
// Times are Unix seconds.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "metadata/metadata_store.h"
#include "oci/digest.h"

namespace berth::metadata {

namespace gc_state {
inline constexpr std::string_view kRunning = "running";
inline constexpr std::string_view kSucceeded = "succeeded";
inline constexpr std::string_view kFailed = "failed";
}  // namespace gc_state

// The phases of a run, in order.
namespace gc_phase {
inline constexpr std::string_view kLinks = "links";      // per registry: unreferenced links
inline constexpr std::string_view kBlobs = "blobs";      // global: unlinked blob rows + bytes
inline constexpr std::string_view kClaims = "claims";    // claims a crashed run left behind
inline constexpr std::string_view kOrphans = "orphans";  // global: bytes without a row
inline constexpr std::string_view kDone = "done";
}  // namespace gc_phase

struct GcRun {
  std::int64_t id = 0;                  // assigned by create_gc_run
  std::optional<RegistryId> registry;   // whose links it sweeps; none: every registry's
  std::string started_by;               // "schedule" or "manual"
  bool dry_run = false;                 // counts what it would remove, removes nothing
  std::string state;                    // gc_state
  std::string phase;                    // gc_phase
  std::string cursor;                   // where the phase got to; a resumed run goes on from it
  std::int64_t cutoff = 0;              // nothing touched at or after it is collected
  std::int64_t started_at = 0;
  std::int64_t updated_at = 0;
  std::int64_t finished_at = 0;         // 0 while running
  std::uint64_t links_examined = 0;
  std::uint64_t links_removed = 0;
  std::uint64_t repositories_removed = 0;
  std::uint64_t blobs_examined = 0;    // blob rows looked at
  std::uint64_t objects_examined = 0;  // stored blobs looked at (the orphans phase)
  std::uint64_t blobs_deleted = 0;
  std::uint64_t bytes_reclaimed = 0;
  std::string error;                    // why a failed run failed
};

struct GarbageBlob {
  oci::Digest digest;
  std::uint64_t size = 0;
};

// One page of a keyset walk: how many items were looked at, the garbage among them, and the
// key to continue after (empty when the walk is complete).
struct LinkSweepPage {
  std::uint64_t examined = 0;
  std::vector<GarbageBlob> removed;  // in a dry run: what would have been removed
  std::string next;
};

// A blob that would be garbage but for its links (no manifest references it, untouched since
// the cutoff): what a dry run counts when it knows those links would be removed.
struct LinkedBlob {
  GarbageBlob blob;
  std::uint64_t links = 0;
};

struct BlobScanPage {
  std::uint64_t examined = 0;
  std::vector<GarbageBlob> garbage;     // candidates: claim_blobs re-checks them
  std::vector<LinkedBlob> linked_only;  // garbage once their links go
  std::string next;
};

class GcStore {
 public:
  virtual ~GcStore() = default;

  // --- runs ---
  // Records a new run (its id assigned) with its state, phase and cutoff.
  virtual Result<GcRun> create_gc_run(const GcRun& run) = 0;
  // Saves a run's progress: state, phase, cursor, counters, finished_at and error.
  virtual Result<void> save_gc_run(const GcRun& run) = 0;
  virtual Result<std::optional<GcRun>> find_gc_run(std::int64_t id) = 0;
  // Newest first, ids below `before` (0: from the newest), at most `limit`; of one registry
  // (its own runs and the deployment-wide ones) or, without one, every run.
  virtual Result<std::vector<GcRun>> list_gc_runs(std::optional<RegistryId> registry,
                                                  std::int64_t before, std::size_t limit) = 0;
  // Runs still marked running: at start-up, the ones a crash interrupted.
  virtual Result<std::vector<GcRun>> running_gc_runs() = 0;

  // Every repository of `registry` (whatever its attributes), names after `after`, sorted, at
  // most `limit`.
  virtual Result<std::vector<std::string>> gc_repositories(RegistryId registry,
                                                           std::string_view after,
                                                           std::size_t limit) = 0;

  // --- links (per repository) ---
  // Looks at up to `limit` links of `repository` with digests after `after`, in digest order,
  // and removes those made before `cutoff` that no manifest of the repository references (in a
  // dry run: only reports them). The check and the removal are one transaction per page.
  virtual Result<LinkSweepPage> sweep_links(RepositoryRef repository, std::string_view after,
                                            std::int64_t cutoff, std::size_t limit,
                                            bool dry_run) = 0;
  // Removes the repository when it holds nothing (no manifest, tag, link or upload), was created
  // before `cutoff` and has default attributes (no lock, no quota); whether it did.
  virtual Result<bool> remove_empty_repository(RepositoryRef repository, std::int64_t cutoff) = 0;
  // For a dry run: how many links the repository has when it holds nothing else and would be
  // removed without them; nullopt when it holds more (or is new, locked, or absent).
  virtual Result<std::optional<std::uint64_t>> removable_repository_links(
      RepositoryRef repository, std::int64_t cutoff) = 0;

  // --- blobs (deployment-wide) ---
  // Looks at up to `limit` blob rows with digests after `after` and returns those no manifest
  // references and nothing pins that were last touched before `cutoff` and are not claimed yet:
  // as garbage when no repository links them, else with their count of links.
  virtual Result<BlobScanPage> scan_blobs(std::string_view after, std::int64_t cutoff,
                                          std::size_t limit) = 0;
  // Claims each candidate whose row still qualifies (re-checked in the claiming transaction);
  // returns the claimed ones. Only then may their bytes be removed.
  virtual Result<std::vector<GarbageBlob>> claim_blobs(std::span<const GarbageBlob> candidates,
                                                       std::int64_t cutoff) = 0;
  // Claims bytes the metadata has no row for (an orphan of a crash between an upload's commit
  // and its metadata): records the row already claimed; false when a row exists (a writer
  // linked the digest meanwhile, so the bytes are not an orphan any more) or a pin names the
  // digest.
  virtual Result<bool> claim_orphan(const GarbageBlob& blob) = 0;
  // Claimed blobs, in digest order after `after`, at most `limit`: what a run removes first.
  virtual Result<std::vector<GarbageBlob>> claimed_blobs(std::string_view after,
                                                         std::size_t limit) = 0;
  // Drops the rows of claimed blobs whose bytes are gone; unclaimed rows are left alone.
  virtual Result<void> forget_blobs(std::span<const oci::Digest> digests) = 0;
  // Which of `digests` the metadata knows, in the order given: it has a row for them (claimed or
  // not) or something pins them.
  virtual Result<std::vector<bool>> blobs_known(std::span<const oci::Digest> digests) = 0;
};

}  // namespace berth::metadata
