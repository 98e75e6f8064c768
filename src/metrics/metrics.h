#pragma once
// berthd's Prometheus metrics, exposed at GET /metrics (docs/metrics.md lists every one).
//
// Two kinds of values:
//   - recorded as they happen, by the request pipeline (pushes, pulls, bytes, latency) and the
//     webhook dispatcher (deliveries): counters and histograms of prometheus-cpp, looked up
//     once per route and once per registry, so recording a request takes no allocation;
//   - read at scrape time (storage per registry, open upload sessions, the webhook outbox, the
//     blocking pool): gauges built fresh for each scrape, so a deleted registry leaves no
//     stale series behind.
//
// A scrape is two steps: read_sources() does the blocking reads (the metadata store, the
// outbox source) and belongs on the blocking pool; render() writes the text format
// (prometheus::TextSerializer) from what was read and from the in-memory values.
//
// Every method is safe to call concurrently from any thread.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "metadata/metadata_store.h"

namespace prometheus {
class Registry;
}  // namespace prometheus

namespace berth::metrics {

// The Content-Type of the exposition: Prometheus text format 0.0.4.
inline constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

// What the webhook outbox holds: events not delivered yet, and how long the oldest has waited.
struct OutboxStats {
  std::uint64_t undelivered = 0;
  double oldest_age_seconds = 0;
};

// The blocking pool's work: handed over and waiting for a thread, and running on one.
struct PoolLoad {
  std::uint64_t queued = 0;
  std::uint64_t running = 0;
};

// Garbage collection since the process started (read at scrape time, without blocking).
struct GcStats {
  std::uint64_t runs_succeeded = 0;
  std::uint64_t runs_failed = 0;
  std::uint64_t blobs_examined = 0;
  std::uint64_t blobs_deleted = 0;
  std::uint64_t bytes_reclaimed = 0;
  std::uint64_t links_removed = 0;
  bool running = false;
  std::int64_t last_finished_at = 0;  // Unix seconds; 0 before the first run ends
};

// What a route counts as, beside its latency: the hosted service's pushes (manifest PUTs) and
// pulls (manifest GETs).
enum class Transfer { none, push, pull };

class Metrics {
 public:
  // `store`, when given, is read at scrape time for the storage and upload-session gauges; it
  // must outlive the Metrics. Without it those gauges are left out.
  explicit Metrics(metadata::MetadataStore* store = nullptr);
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // The instruments of one route (its latency histograms, whether it is a push or a pull).
  class Route;
  // The handle of the route named `name`: the same one for the same name (the transfer of the
  // first call stays). Valid as long as this Metrics; take it once, when the route is built.
  Route& route(std::string_view name, Transfer transfer = Transfer::none);

  // One answered request.
  struct Request {
    std::string_view registry;         // the registry it was served in; "" when none is known
    unsigned status = 0;               // the response's status
    double seconds = 0;                // from the pipeline's start to the handler's answer
    std::uint64_t received_bytes = 0;  // request body bytes read
    std::uint64_t sent_bytes = 0;      // response body bytes answered with
  };
  void record(Route& route, const Request& request);

  // One webhook delivery attempt's outcome: "delivered", "failed" (will be retried) or
  // "gave_up" (no more retries).
  void webhook_delivery(std::string_view registry, std::string_view webhook,
                        std::string_view result);

  // Where scrapes read the outbox from (called on the blocking pool, once per scrape). Until
  // one is set, the outbox gauges are 0.
  void set_outbox_source(std::function<OutboxStats()> source);
  // Where scrapes read garbage collection's totals from (called on the event loop: must not
  // block). Until one is set, the collection metrics are left out.
  void set_gc_source(std::function<GcStats()> source);
  // Where scrapes read the blocking pool's load from (called on the event loop: must not
  // block). Until one is set, the pool gauges are 0.
  void set_pool_source(std::function<PoolLoad()> source);

  // What one scrape read from the blocking sources.
  struct Snapshot {
    struct Registry {
      std::string name;
      std::uint64_t storage_bytes = 0;
      std::uint64_t open_uploads = 0;
    };
    std::vector<Registry> registries;  // empty when there is no store or it could not be read
    OutboxStats outbox;
  };
  // Reads the metadata store and the outbox source: blocking, run it on the blocking pool. A
  // store that cannot be read is logged and leaves the per-registry gauges out.
  Snapshot read_sources() const;
  // The exposition text: every recorded value, the gauges of `snapshot`, the pool's load now.
  std::string render(const Snapshot& snapshot) const;
  // Both steps at once (tests, tools).
  std::string scrape() const { return render(read_sources()); }

 private:
  // The garbage collection families, from the gc source, into the scrape-time registry.
  void add_gc_families(prometheus::Registry& now) const;

  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace berth::metrics
