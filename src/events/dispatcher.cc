#include "events/dispatcher.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <random>

#include "common/clock.h"
#include "common/ids.h"
#include "events/payload.h"
#include "events/webhook_rules.h"

namespace berth::events {
namespace {

namespace json = boost::json;

constexpr std::string_view kMasked = "*****";

double unit_random() {
  thread_local std::mt19937_64 generator{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(generator);
}

// The webhook's custom headers (sealed JSON object of strings).
Headers custom_headers(const metadata::WebhookRecord& webhook, const auth::DeploymentKey& key) {
  Headers headers;
  if (webhook.sealed_headers.empty()) return headers;
  auto opened = key.unseal(webhook.sealed_headers);
  if (!opened) {
    spdlog::error("webhook {}: custom headers cannot be unsealed: {}", webhook.name,
                  opened.error().message);
    return headers;
  }
  boost::system::error_code ec;
  auto value = json::parse(*opened, ec);
  if (ec || !value.is_object()) return headers;
  for (const auto& [name, header] : value.as_object()) {
    if (header.is_string()) headers.emplace_back(std::string(name), std::string(header.as_string()));
  }
  return headers;
}

std::string headers_json(const Headers& headers) {
  json::object object;
  for (const auto& [name, value] : headers) object[name] = value;
  return json::serialize(object);
}

bool succeeded(int status) { return status >= 200 && status < 300; }

}  // namespace

std::chrono::milliseconds retry_delay(const DispatcherOptions& options, std::uint32_t attempt,
                                      double random) {
  double delay = static_cast<double>(options.backoff_min.count());
  for (std::uint32_t i = 1; i < attempt && delay < options.backoff_max.count(); ++i) delay *= 2;
  delay = std::min(delay, static_cast<double>(options.backoff_max.count()));
  delay *= 0.8 + 0.4 * random;  // jitter: receivers coming back are not hit all at once
  return std::chrono::milliseconds(static_cast<std::int64_t>(delay));
}

Dispatcher::Dispatcher(metadata::EventStore& events, metadata::MetadataStore& metadata,
                       const auth::DeploymentKey& key, Transport& transport,
                       DispatcherOptions options, DeliveryObserver observer)
    : events_(events),
      metadata_(metadata),
      key_(key),
      transport_(transport),
      options_(std::move(options)),
      observer_(std::move(observer)) {
  if (options_.node.empty()) options_.node = "node-" + random_hex(8);
  options_.workers = std::max(1u, options_.workers);
}

Dispatcher::~Dispatcher() { stop(); }

void Dispatcher::start() {
  std::lock_guard lock(mutex_);
  if (scheduler_.joinable()) return;
  stopping_ = false;
  cancel_ = false;
  for (unsigned i = 0; i < options_.workers; ++i) workers_.emplace_back([this] { worker_loop(); });
  scheduler_ = std::thread([this] { schedule_loop(); });
}

void Dispatcher::stop(std::chrono::milliseconds deadline) {
  {
    std::lock_guard lock(mutex_);
    if (!scheduler_.joinable()) return;
    stopping_ = true;
  }
  wake_.notify_all();
  work_.notify_all();
  scheduler_.join();
  // Webhooks claimed but not started go back at once; the workers take no new ones.
  std::vector<std::int64_t> unstarted;
  {
    std::lock_guard lock(mutex_);
    for (const auto& webhook : queue_) {
      unstarted.push_back(webhook.id);
      busy_.erase(webhook.id);
    }
    queue_.clear();
  }
  for (std::int64_t id : unstarted) (void)events_.release_webhook(id, options_.node);
  // Attempts in flight get until the deadline to finish, then are cancelled.
  {
    std::unique_lock lock(mutex_);
    wake_.wait_for(lock, deadline, [this] { return busy_.empty(); });
  }
  cancel_ = true;
  for (auto& worker : workers_) worker.join();
  workers_.clear();
  std::lock_guard lock(mutex_);
  busy_.clear();
}

void Dispatcher::wake() {
  {
    std::lock_guard lock(mutex_);
    woken_ = true;
  }
  wake_.notify_all();
}

void Dispatcher::schedule_loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    std::size_t free = options_.workers > busy_.size() ? options_.workers - busy_.size() : 0;
    if (free > 0) {
      lock.unlock();
      std::int64_t now = unix_now_ms();
      auto claimed =
          events_.claim_due_webhooks(options_.node, now, now + options_.lease.count(), free);
      lock.lock();
      if (!claimed) {
        spdlog::warn("webhook dispatcher: cannot claim webhooks: {}", claimed.error().message);
      } else {
        for (auto& webhook : *claimed) {
          if (!busy_.insert(webhook.id).second) continue;  // already ours
          queue_.push_back(std::move(webhook));
        }
        if (!claimed->empty()) work_.notify_all();
      }
    }
    lock.unlock();
    prune_if_due();
    lock.lock();
    wake_.wait_for(lock, options_.poll_interval, [this] { return stopping_ || woken_; });
    woken_ = false;
  }
}

void Dispatcher::prune_if_due() {
  if (options_.retention.count() <= 0) return;
  auto now = std::chrono::steady_clock::now();
  if (now < next_prune_) return;
  next_prune_ = now + std::chrono::hours(1);
  auto pruned = events_.prune_events(unix_now_ms() - options_.retention.count());
  if (!pruned) {
    spdlog::warn("event retention: pruning failed: {}", pruned.error().message);
  } else if (*pruned > 0) {
    spdlog::info("event retention: removed {} events older than the retention", *pruned);
  }
}

void Dispatcher::worker_loop() {
  std::unique_lock lock(mutex_);
  for (;;) {
    work_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    metadata::WebhookRecord webhook = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    deliver(webhook);
    (void)events_.release_webhook(webhook.id, options_.node);
    lock.lock();
    busy_.erase(webhook.id);
    wake_.notify_all();  // a worker is free: claim more now rather than at the next poll
    woken_ = true;
  }
}

void Dispatcher::deliver(const metadata::WebhookRecord& webhook) {
  std::string registry = registry_name_of(metadata_, webhook.registry);
  std::uint32_t failures = webhook.attempt;
  for (;;) {
    auto pending = events_.pending_events(webhook.id, options_.batch);
    if (!pending) {
      spdlog::warn("webhook {}: cannot read its events: {}", webhook.name,
                   pending.error().message);
      return;
    }
    if (pending->empty()) return;
    for (const auto& event : *pending) {
      if (cancel_ || !attempt(webhook, failures, event, registry)) return;
    }
  }
}

bool Dispatcher::attempt(const metadata::WebhookRecord& webhook, std::uint32_t& failures,
                         const metadata::EventRecord& event, std::string_view registry) {
  metadata::DeliveryOutcome outcome;
  outcome.lease_until = unix_now_ms() + options_.lease.count();
  bool wanted = wants_action(webhook.actions, event.action) &&
                (event.webhook.has_value() ||
                 scope_matches(webhook.scope, event.repository, event.tag));
  if (!wanted) {
    outcome.advance_to = event.sequence;
    outcome.attempt = failures;
    auto held = events_.finish_attempt(webhook.id, options_.node, std::nullopt, outcome);
    return held && *held;
  }

  Payload payload = payload_for(event, webhook.format, registry);
  Headers headers = custom_headers(webhook, key_);
  Headers recorded;
  for (const auto& [name, value] : headers) recorded.emplace_back(name, std::string(kMasked));
  auto add = [&](std::string name, std::string value) {
    recorded.emplace_back(name, value);
    headers.emplace_back(std::move(name), std::move(value));
  };
  add("Content-Type", payload.content_type);
  add("User-Agent", "berth-webhook/1.0");
  add("X-Berth-Event-Id", event.id);
  add("X-Berth-Delivery-Attempt", std::to_string(failures + 1));
  if (!webhook.sealed_secret.empty()) {
    auto secret = key_.unseal(webhook.sealed_secret);
    if (secret) {
      add("X-Berth-Signature",
          signature(*secret, unix_now_ms() / 1000, payload.body));
    } else {
      spdlog::error("webhook {}: signing secret cannot be unsealed", webhook.name);
    }
  }

  std::int64_t started = unix_now_ms();
  DeliveryResponse response = transport_.post(
      Delivery{webhook.service_uri, std::move(headers), payload.body, options_.timeout}, cancel_);
  if (cancel_ && response.status == 0) return false;  // shutting down: tried again after restart

  metadata::DeliveryRecord record;
  record.webhook = webhook.id;
  record.event_sequence = event.sequence;
  record.event_id = event.id;
  record.action = event.action;
  record.attempt = failures + 1;
  record.started_at = started;
  record.latency_ms = response.latency.count();
  record.request_headers_json = headers_json(recorded);
  record.request_body = payload.body;
  record.status = response.status;
  record.response_headers_json = headers_json(response.headers);
  record.response_excerpt = response.excerpt;
  record.error = response.error;
  if (record.error.empty() && !succeeded(response.status)) {
    record.error = fmt::format("the receiver answered HTTP {}", response.status);
  }

  bool delivered = succeeded(response.status);
  bool give_up = !delivered && unix_now_ms() - event.queued_at >= options_.retry_for.count();
  if (delivered || give_up) {
    record.result = delivered ? "delivered" : "gave_up";
    outcome.advance_to = event.sequence;
    outcome.attempt = 0;
    outcome.next_attempt_at = 0;
  } else {
    record.result = "failed";
    outcome.attempt = failures + 1;
    outcome.next_attempt_at =
        unix_now_ms() + retry_delay(options_, failures + 1, unit_random()).count();
  }
  auto held = events_.finish_attempt(webhook.id, options_.node, record, outcome);
  if (observer_) observer_(registry, webhook.name, record.result);
  if (!held) {
    spdlog::warn("webhook {}: cannot record a delivery: {}", webhook.name, held.error().message);
    return false;
  }
  if (!*held) {
    spdlog::warn("webhook {}: lease lost; another node carries on", webhook.name);
    return false;
  }
  if (!delivered && !give_up) {
    spdlog::info("webhook {}: delivery of event {} failed ({}); attempt {} in {} ms", webhook.name,
                 event.id, record.error, failures + 2, outcome.next_attempt_at - unix_now_ms());
    return false;
  }
  if (give_up) {
    spdlog::warn("webhook {}: gave up on event {} after {} attempts ({})", webhook.name, event.id,
                 failures + 1, record.error);
  }
  failures = 0;
  return true;
}

std::string registry_name_of(metadata::MetadataStore& metadata, metadata::RegistryId id) {
  auto registries = metadata.list_registries();
  if (registries) {
    for (const auto& record : *registries) {
      if (record.id == id) return record.name;
    }
  }
  return std::to_string(id);
}

}  // namespace berth::events
