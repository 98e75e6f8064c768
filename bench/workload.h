#pragma once

// What the workloads share: the sizes of a run, the targets, the recorder and the helpers
// that alternate the targets and measure one target's turn. The workloads live in suite.cc
// (the load generator's own HTTP client) and client_pulls.cc (the clients users run).

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "recorder.h"
#include "registry_ops.h"

namespace berth::bench {

inline constexpr std::uint64_t kMiB = 1ull << 20;

// The blob of pull-concurrent (and curl-concurrent): random bytes from this seed, in this
// repository.
inline constexpr std::uint64_t kConcurrentBlobSeed = 3000;
inline constexpr std::string_view kConcurrentRepo = "bench/concurrent";

struct Settings {
  std::uint64_t large_size;
  int large_reps;
  std::uint64_t chunk;
  std::uint64_t range_size;
  int concurrent_clients;
  std::uint64_t concurrent_blob;
  int concurrent_rounds;
  int concurrent_reps;
  int small_connections;
  double small_seconds;
  int small_reps;
  int many_images;
  int many_clients;
  int tags;
  int repos;
  int page_size;
  int list_reps;
  int populate_clients;
  int client_reps;                // repetitions of the workloads with external clients
  std::uint64_t first_pull_size;  // the fresh blob of first-pull
  int gc_images;                  // gc's registry: two blobs an image, a tenth deleted
};

struct Context {
  Settings settings;
  std::string workdir;
  Recorder& recorder;
  std::vector<std::unique_ptr<Target>>& targets;
  // The last push-large blob, kept until the last workload that pulls it has run.
  std::string large_path;
  std::string large_digest;
  // containerd's socket for ctr-pull (empty: not given) and a RAM-backed directory for what
  // the clients write (skopeo's image directory).
  std::string containerd_socket;
  std::string client_dir;
};

// The targets taking part in a workload, in this repetition's order (flipped every other
// repetition). The "-auth" workloads run on the targets with credentials, the others on
// every target but the ones kept for the "-auth" workloads.
std::vector<Target*> order_for(Context& ctx, int rep, bool auth_workload = false);

// Runs `body` against `target` between a peak-RSS reset and a VmHWM read; a failed check is
// recorded, not thrown.
void measured(Context& ctx, Target& target, const std::string& workload,
              const std::function<void()>& body);

// Untimed preparation against one target; a failure is recorded under `workload`.
bool prepared(Context& ctx, Target& target, const std::string& workload,
              const std::function<void()>& body);

// Pushes `blob` (whose digest is `digest`) to `repo` on every target of the workload, untimed;
// returns the targets that have it (a failure is recorded under `workload`).
std::vector<Target*> push_to_each(Context& ctx, const std::string& workload,
                                  const std::string& repo, const std::string& blob,
                                  const std::string& digest);

// Whether `target` is among `ready`.
bool is_ready(const std::vector<Target*>& ready, const Target* target);

// Gets the shared session's token for `target_path` before a timed section. A no-op once the
// token is cached, and without credentials.
void warm_credentials(Target& target, const std::string& target_path);

}  // namespace berth::bench
