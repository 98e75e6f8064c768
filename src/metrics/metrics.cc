#include "metrics/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <spdlog/spdlog.h>

#include <array>
#include <atomic>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <unordered_map>
#include <utility>

namespace berth::metrics {
namespace {

using prometheus::Counter;
using prometheus::Family;
using prometheus::Gauge;
using prometheus::Histogram;

// Request latencies from a cached manifest read (milliseconds) to a large layer's upload over a
// slow link (minutes).
const Histogram::BucketBoundaries kLatencyBuckets{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                  1,     2.5,  5,     10,   30,  60,  120, 300};

constexpr std::array<std::string_view, 5> kStatusClasses{"1xx", "2xx", "3xx", "4xx", "5xx"};

// Index into kStatusClasses; a status outside 100-599 counts as a server fault.
std::size_t status_class_of(unsigned status) {
  if (status < 100 || status > 599) return 4;
  return status / 100 - 1;
}

bool is_success(unsigned status) { return status >= 200 && status <= 299; }

// Hash and equality that take std::string_view, so that looking a registry up by the name the
// pipeline holds builds no std::string.
struct NameHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view name) const {
    return std::hash<std::string_view>{}(name);
  }
};

// The counters of one registry, added to their families once, at its first request.
struct RegistryCounters {
  Counter* pushes = nullptr;  // null for requests outside any registry
  Counter* successful_pushes = nullptr;
  Counter* pulls = nullptr;
  Counter* successful_pulls = nullptr;
  Counter* received = nullptr;
  Counter* sent = nullptr;
};

}  // namespace

class Metrics::Route {
 public:
  Route(Family<Histogram>& family, std::string name, Transfer transfer)
      : family_(family), name_(std::move(name)), transfer_(transfer) {}

  Transfer transfer() const { return transfer_; }

  // The histogram of one status class, added to the family at its first use. Racing first uses
  // get the same histogram: Family::Add returns the existing one for the same labels.
  Histogram& of_class(std::size_t status_class) {
    Histogram* histogram = by_class_[status_class].load(std::memory_order_acquire);
    if (histogram != nullptr) return *histogram;
    histogram = &family_.Add(
        {{"route", name_}, {"status_class", std::string(kStatusClasses[status_class])}},
        kLatencyBuckets);
    by_class_[status_class].store(histogram, std::memory_order_release);
    return *histogram;
  }

 private:
  Family<Histogram>& family_;
  const std::string name_;
  const Transfer transfer_;
  std::array<std::atomic<Histogram*>, kStatusClasses.size()> by_class_{};
};

struct Metrics::State {
  explicit State(metadata::MetadataStore* store_in) : store(store_in) {}

  metadata::MetadataStore* store;
  // What is recorded as it happens. The gauges read at scrape time live in a registry of their
  // own, built by each scrape.
  prometheus::Registry registry;
  Family<Counter>& pushes =
      prometheus::BuildCounter()
          .Name("berth_pushes_total")
          .Help("Manifest PUTs answered, whatever the outcome (the hosted service's "
                "TotalPushCount)")
          .Register(registry);
  Family<Counter>& successful_pushes =
      prometheus::BuildCounter()
          .Name("berth_successful_pushes_total")
          .Help("Manifest PUTs answered 2xx (the hosted service's SuccessfulPushCount)")
          .Register(registry);
  Family<Counter>& pulls =
      prometheus::BuildCounter()
          .Name("berth_pulls_total")
          .Help("Manifest GETs answered, whatever the outcome (the hosted service's "
                "TotalPullCount)")
          .Register(registry);
  Family<Counter>& successful_pulls =
      prometheus::BuildCounter()
          .Name("berth_successful_pulls_total")
          .Help("Manifest GETs answered 2xx (the hosted service's SuccessfulPullCount)")
          .Register(registry);
  Family<Counter>& received =
      prometheus::BuildCounter()
          .Name("berth_http_received_bytes_total")
          .Help("Request body bytes read by routed requests; registry is empty outside any "
                "registry")
          .Register(registry);
  Family<Counter>& sent =
      prometheus::BuildCounter()
          .Name("berth_http_sent_bytes_total")
          .Help("Response body bytes routed requests were answered with; registry is empty "
                "outside any registry")
          .Register(registry);
  Family<Histogram>& latency =
      prometheus::BuildHistogram()
          .Name("berth_http_request_duration_seconds")
          .Help("Time from a routed request's header to its handler's answer, by route name "
                "and status class")
          .Register(registry);
  Family<Counter>& deliveries =
      prometheus::BuildCounter()
          .Name("berth_webhook_deliveries_total")
          .Help("Webhook delivery attempts by outcome: delivered, failed (retried later), "
                "gave_up")
          .Register(registry);

  std::mutex routes_mutex;
  std::map<std::string, std::unique_ptr<Route>, std::less<>> routes;

  // Read on every request, written once per registry: a shared lock for the lookups.
  mutable std::shared_mutex registries_mutex;
  std::unordered_map<std::string, RegistryCounters, NameHash, std::equal_to<>> registries;

  mutable std::mutex sources_mutex;
  std::function<OutboxStats()> outbox_source;
  std::function<PoolLoad()> pool_source;
  std::function<GcStats()> gc_source;

  RegistryCounters& counters_of(std::string_view name) {
    {
      std::shared_lock lock(registries_mutex);
      auto found = registries.find(name);
      if (found != registries.end()) return found->second;
    }
    std::unique_lock lock(registries_mutex);
    auto [entry, added] = registries.try_emplace(std::string(name));
    if (added) {
      const prometheus::Labels labels{{"registry", std::string(name)}};
      RegistryCounters& counters = entry->second;
      // Requests outside any registry move bytes but are neither pushes nor pulls.
      if (!name.empty()) {
        counters.pushes = &pushes.Add(labels);
        counters.successful_pushes = &successful_pushes.Add(labels);
        counters.pulls = &pulls.Add(labels);
        counters.successful_pulls = &successful_pulls.Add(labels);
      }
      counters.received = &received.Add(labels);
      counters.sent = &sent.Add(labels);
    }
    return entry->second;  // unordered_map nodes do not move: the reference stays valid
  }
};

Metrics::Metrics(metadata::MetadataStore* store) : state_(std::make_unique<State>(store)) {}

Metrics::~Metrics() = default;

Metrics::Route& Metrics::route(std::string_view name, Transfer transfer) {
  std::lock_guard lock(state_->routes_mutex);
  auto found = state_->routes.find(name);
  if (found != state_->routes.end()) return *found->second;
  auto made = std::make_unique<Route>(state_->latency, std::string(name), transfer);
  Route& route = *made;
  state_->routes.emplace(std::string(name), std::move(made));
  return route;
}

void Metrics::record(Route& route, const Request& request) {
  route.of_class(status_class_of(request.status)).Observe(request.seconds);
  RegistryCounters& counters = state_->counters_of(request.registry);
  if (request.received_bytes > 0) {
    counters.received->Increment(static_cast<double>(request.received_bytes));
  }
  if (request.sent_bytes > 0) counters.sent->Increment(static_cast<double>(request.sent_bytes));
  if (request.registry.empty()) return;
  const bool success = is_success(request.status);
  switch (route.transfer()) {
    case Transfer::push:
      counters.pushes->Increment();
      if (success) counters.successful_pushes->Increment();
      break;
    case Transfer::pull:
      counters.pulls->Increment();
      if (success) counters.successful_pulls->Increment();
      break;
    case Transfer::none:
      break;
  }
}

void Metrics::webhook_delivery(std::string_view registry, std::string_view webhook,
                               std::string_view result) {
  // Not on the request path: the family's own lookup is enough.
  state_->deliveries
      .Add({{"registry", std::string(registry)},
            {"webhook", std::string(webhook)},
            {"result", std::string(result)}})
      .Increment();
}

void Metrics::set_outbox_source(std::function<OutboxStats()> source) {
  std::lock_guard lock(state_->sources_mutex);
  state_->outbox_source = std::move(source);
}

void Metrics::set_gc_source(std::function<GcStats()> source) {
  std::lock_guard lock(state_->sources_mutex);
  state_->gc_source = std::move(source);
}

void Metrics::set_pool_source(std::function<PoolLoad()> source) {
  std::lock_guard lock(state_->sources_mutex);
  state_->pool_source = std::move(source);
}

namespace {

// Every registry with its storage and open upload sessions, or nullopt when the store fails.
std::optional<std::vector<Metrics::Snapshot::Registry>> read_registries(
    metadata::MetadataStore& store) {
  auto registries = store.list_registries();
  if (!registries) {
    spdlog::warn("metrics: cannot list the registries: {}", registries.error().message);
    return std::nullopt;
  }
  // Every session record is an open session (single-request uploads keep none); the sweeper
  // removes expired ones. Listing them all is bounded by the per-registry session limit.
  auto uploads = store.list_idle_uploads(std::numeric_limits<std::int64_t>::max(),
                                         std::numeric_limits<std::size_t>::max());
  if (!uploads) {
    spdlog::warn("metrics: cannot list the upload sessions: {}", uploads.error().message);
    return std::nullopt;
  }
  std::unordered_map<metadata::RegistryId, std::uint64_t> open_uploads;
  for (const auto& upload : *uploads) ++open_uploads[upload.registry];
  std::vector<Metrics::Snapshot::Registry> out;
  out.reserve(registries->size());
  for (const auto& record : *registries) {
    auto bytes = store.registry_storage_bytes(record.id);
    if (!bytes) {
      spdlog::warn("metrics: cannot sum the storage of registry {}: {}", record.name,
                   bytes.error().message);
      return std::nullopt;
    }
    auto sessions = open_uploads.find(record.id);
    out.push_back({record.name, *bytes, sessions == open_uploads.end() ? 0 : sessions->second});
  }
  return out;
}

}  // namespace

Metrics::Snapshot Metrics::read_sources() const {
  Snapshot snapshot;
  if (state_->store != nullptr) {
    auto registries = read_registries(*state_->store);
    if (registries) snapshot.registries = std::move(*registries);
  }
  std::function<OutboxStats()> outbox;
  {
    std::lock_guard lock(state_->sources_mutex);
    outbox = state_->outbox_source;
  }
  if (outbox) snapshot.outbox = outbox();
  return snapshot;
}

void Metrics::add_gc_families(prometheus::Registry& now) const {
  std::function<GcStats()> source;
  {
    std::lock_guard lock(state_->sources_mutex);
    source = state_->gc_source;
  }
  if (!source) return;
  const GcStats gc = source();
  auto counter = [&](const char* name, const char* help, std::uint64_t value) {
    prometheus::BuildCounter().Name(name).Help(help).Register(now).Add({}).Increment(
        static_cast<double>(value));
  };
  auto& runs = prometheus::BuildCounter()
                   .Name("berth_gc_runs_total")
                   .Help("Garbage collection runs finished, by result")
                   .Register(now);
  runs.Add({{"result", "succeeded"}}).Increment(static_cast<double>(gc.runs_succeeded));
  runs.Add({{"result", "failed"}}).Increment(static_cast<double>(gc.runs_failed));
  counter("berth_gc_blobs_examined_total", "Blob records garbage collection looked at",
          gc.blobs_examined);
  counter("berth_gc_blobs_deleted_total", "Blobs garbage collection removed (bytes and record)",
          gc.blobs_deleted);
  counter("berth_gc_reclaimed_bytes_total", "Bytes of the blobs garbage collection removed",
          gc.bytes_reclaimed);
  counter("berth_gc_links_removed_total",
          "Repository links to blobs no manifest of the repository references, removed",
          gc.links_removed);
  prometheus::BuildGauge()
      .Name("berth_gc_running")
      .Help("1 while a garbage collection run is in progress")
      .Register(now)
      .Add({})
      .Set(gc.running ? 1 : 0);
  prometheus::BuildGauge()
      .Name("berth_gc_last_finished_timestamp_seconds")
      .Help("When the last garbage collection run ended (Unix seconds); 0 before the first")
      .Register(now)
      .Add({})
      .Set(static_cast<double>(gc.last_finished_at));
}

std::string Metrics::render(const Snapshot& snapshot) const {
  PoolLoad pool;
  {
    std::function<PoolLoad()> source;
    {
      std::lock_guard lock(state_->sources_mutex);
      source = state_->pool_source;
    }
    if (source) pool = source();
  }

  prometheus::Registry now;
  auto& storage = prometheus::BuildGauge()
                      .Name("berth_storage_used_bytes")
                      .Help("Bytes of the distinct blobs a registry's repositories link (a blob "
                            "in two repositories counts once)")
                      .Register(now);
  auto& uploads = prometheus::BuildGauge()
                      .Name("berth_open_upload_sessions")
                      .Help("Upload sessions started and not yet finished, cancelled or swept")
                      .Register(now);
  for (const auto& registry : snapshot.registries) {
    const prometheus::Labels labels{{"registry", registry.name}};
    storage.Add(labels).Set(static_cast<double>(registry.storage_bytes));
    uploads.Add(labels).Set(static_cast<double>(registry.open_uploads));
  }
  prometheus::BuildGauge()
      .Name("berth_outbox_undelivered_events")
      .Help("Webhook events in the outbox not delivered yet")
      .Register(now)
      .Add({})
      .Set(static_cast<double>(snapshot.outbox.undelivered));
  prometheus::BuildGauge()
      .Name("berth_outbox_oldest_event_age_seconds")
      .Help("How long the oldest undelivered webhook event has waited; 0 when none waits")
      .Register(now)
      .Add({})
      .Set(snapshot.outbox.oldest_age_seconds);
  auto& tasks = prometheus::BuildGauge()
                    .Name("berth_blocking_pool_tasks")
                    .Help("Blocking work (fsync, commits, metadata reads) handed to the blocking "
                          "pool: queued for a thread, or running")
                    .Register(now);
  tasks.Add({{"state", "queued"}}).Set(static_cast<double>(pool.queued));
  tasks.Add({{"state", "running"}}).Set(static_cast<double>(pool.running));

  add_gc_families(now);

  std::vector<prometheus::MetricFamily> families = state_->registry.Collect();
  auto read_now = now.Collect();
  families.insert(families.end(), std::make_move_iterator(read_now.begin()),
                  std::make_move_iterator(read_now.end()));
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace berth::metrics
