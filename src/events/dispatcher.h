#pragma once
// The webhook dispatcher: delivers the outbox's events to webhooks in the background.
//
// A scheduler thread claims due webhooks from the event store (a lease per webhook, so with
// several berthd processes on one database each webhook is delivered by one of them at a time)
// and hands each to a worker. A worker delivers that webhook's pending events in order, one at
// a time; a failed attempt schedules a retry with exponential backoff and jitter and ends the
// turn, so a receiver that is down or slow holds up only its own webhook and one worker. An
// event is retried until it is older than `retry_for`; then it is given up (recorded), and
// the next one is tried. Every attempt is recorded with its request (secrets masked) and
// response. Nothing here runs on a request's path: requests only append events.
//
// Started and stopped by the composition root; stop() cancels attempts in flight and gives
// the leases back within the shutdown deadline, and whatever was not delivered is delivered
// after the next start (at least once).

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "auth/secrets.h"
#include "events/transport.h"
#include "metadata/event_store.h"
#include "metadata/metadata_store.h"

namespace berth::events {

struct DispatcherOptions {
  unsigned workers = 8;                                 // webhooks delivered at the same time
  std::chrono::milliseconds poll_interval{250};         // how often due webhooks are looked for
  std::chrono::milliseconds lease{60'000};              // renewed after every event
  std::chrono::milliseconds timeout{10'000};            // one attempt's HTTP timeout
  std::chrono::milliseconds retry_for{24 * 3600'000};   // an event's delivery is tried this long
  std::chrono::milliseconds backoff_min{1'000};         // first retry delay
  std::chrono::milliseconds backoff_max{300'000};       // longest retry delay
  std::size_t batch = 50;                               // events read per turn
  // Events older than this are pruned (hourly) once no webhook waits for them; 0: never.
  std::chrono::milliseconds retention{0};
  std::string node;  // lease owner name; empty: a random one per process
};

// Reported for every finished attempt: the registry's name, the webhook's, and the result
// ("delivered", "failed", "gave_up").
using DeliveryObserver =
    std::function<void(std::string_view registry, std::string_view webhook, std::string_view result)>;

// The retry delay before attempt `attempt + 1` (attempt >= 1 failures so far): backoff_min
// doubled per failure, capped at backoff_max, with +-20% jitter from `unit_random` in [0, 1).
std::chrono::milliseconds retry_delay(const DispatcherOptions& options, std::uint32_t attempt,
                                      double unit_random);

// The name of registry `id` (its number when it is gone or the store fails): payloads and the
// audit file name registries, events store their ids.
std::string registry_name_of(metadata::MetadataStore& metadata, metadata::RegistryId id);

class Dispatcher {
 public:
  // Everything must outlive the dispatcher.
  Dispatcher(metadata::EventStore& events, metadata::MetadataStore& metadata,
             const auth::DeploymentKey& key, Transport& transport, DispatcherOptions options,
             DeliveryObserver observer = {});
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  void start();
  // Stops claiming, cancels attempts in flight, waits for the workers (at most `deadline`) and
  // releases the leases held.
  void stop(std::chrono::milliseconds deadline = std::chrono::seconds(5));
  // Looks for due webhooks now instead of at the next poll (after an event was appended).
  void wake();

  const std::string& node() const { return options_.node; }

 private:
  void schedule_loop();
  void prune_if_due();
  void worker_loop();
  void deliver(const metadata::WebhookRecord& webhook);
  // One attempt at one event; returns whether the webhook may go on with its next event.
  bool attempt(const metadata::WebhookRecord& webhook, std::uint32_t& failures,
               const metadata::EventRecord& event, std::string_view registry);

  metadata::EventStore& events_;
  metadata::MetadataStore& metadata_;
  const auth::DeploymentKey& key_;
  Transport& transport_;
  DispatcherOptions options_;
  DeliveryObserver observer_;

  std::mutex mutex_;
  std::condition_variable wake_;       // the scheduler: a poll is due, or a worker came free
  std::condition_variable work_;       // the workers: a webhook is queued
  std::deque<metadata::WebhookRecord> queue_;  // claimed, waiting for a worker
  std::set<std::int64_t> busy_;                // claimed by this process, queued or delivering
  bool woken_ = false;
  bool stopping_ = false;
  std::atomic<bool> cancel_{false};
  std::vector<std::thread> workers_;
  std::thread scheduler_;
  std::chrono::steady_clock::time_point next_prune_{};  // used by the scheduler thread only
};

}  // namespace berth::events
