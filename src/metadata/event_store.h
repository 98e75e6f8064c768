#pragma once
// EventStore: repository events (the outbox and the audit log in one table), webhooks, and the
// record of every delivery attempt. Backends: SqliteMetadataStore and
// PostgresMetadataStore. The conformance suite
// (metadata/conformance_test.cc) covers appends, claims, leases and ordering.
//
// One table holds every repository event in commit order: pushes, deletes, untags and pulls.
// A content change appends its events in the change's own transaction (the MetadataStore's
// mutating calls take them), so an acknowledged push always has its event and a failed one
// never does. Webhooks read the deliverable events (push, delete, chart_push, chart_delete,
// quarantine, ping) after their own cursor, in order; the audit log reads them all.
//
// Delivery is claimed per webhook with a lease: the node holding an unexpired lease is the
// only one delivering that webhook's events, and every change it makes to the webhook's
// delivery state (cursor, retry schedule) is conditional on still holding it. A node that
// dies loses its leases when they expire and another node carries on from the cursor, so
// events are delivered at least once and, per webhook, in order.
//
// Times are Unix milliseconds.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "metadata/metadata_store.h"

namespace berth::metadata {

struct WebhookRecord {
  std::int64_t id = 0;  // assigned by create_webhook
  RegistryId registry = kDefaultRegistryId;
  std::string name;  // unique in the registry, ignoring case
  std::string service_uri;
  std::string sealed_headers;  // custom headers as sealed JSON (they may hold credentials)
  std::string sealed_secret;   // the signing secret, sealed; empty: unsigned
  std::vector<std::string> actions;
  std::string scope;  // "repository:tag" with '*' wildcards; empty: the whole registry
  bool enabled = true;
  std::string format;  // "default" (the hosted service's JSON) or "cloudevents"
  std::int64_t created_at = 0;
  // Delivery state, owned by the lease holder.
  std::int64_t cursor = 0;           // the last event sequence handled (delivered or given up)
  std::uint32_t attempt = 0;         // failed attempts at the event after the cursor
  std::int64_t next_attempt_at = 0;  // ms; the next try of that event is not before this
  std::string lease_owner;
  std::int64_t lease_until = 0;  // ms
};

// What webhook updates may change; delivery state is left as it is.
struct WebhookChanges {
  std::optional<std::string> service_uri;
  std::optional<std::string> sealed_headers;
  std::optional<std::string> sealed_secret;
  std::optional<std::vector<std::string>> actions;
  std::optional<std::string> scope;
  std::optional<bool> enabled;
  std::optional<std::string> format;
};

// One attempt at delivering one event to one webhook.
struct DeliveryRecord {
  std::int64_t id = 0;  // assigned by the store
  std::int64_t webhook = 0;
  std::int64_t event_sequence = 0;
  std::string event_id;
  std::string action;
  std::uint32_t attempt = 1;
  std::int64_t started_at = 0;        // ms
  std::int64_t latency_ms = 0;
  std::string request_headers_json;   // secrets masked
  std::string request_body;
  int status = 0;                     // HTTP status; 0: no response
  std::string response_headers_json;
  std::string response_excerpt;       // the start of the response body
  std::string error;                  // why there was no (good) response
  std::string result;                 // "delivered", "failed" (will retry), "gave_up"
};

// What happens to a webhook's delivery state after an attempt, or after skipping events that
// it does not want.
struct DeliveryOutcome {
  // The new cursor when the event is done with (delivered, given up, or not wanted).
  std::optional<std::int64_t> advance_to;
  std::uint32_t attempt = 0;
  std::int64_t next_attempt_at = 0;
  std::int64_t lease_until = 0;  // renews the lease
};

// Audit queries: newest first, strictly before `before` (0: from the newest).
struct EventFilter {
  RegistryId registry = kDefaultRegistryId;
  std::int64_t from = 0;  // created_at >= from (ms); 0: no bound
  std::int64_t to = 0;    // created_at < to (ms); 0: no bound
  std::string identity;   // exact; empty: any
  std::string repository;
  std::string action;
  std::int64_t before = 0;
  std::size_t limit = 100;
};

struct OutboxStats {
  std::uint64_t undelivered = 0;  // deliverable events some enabled webhook has not handled
  std::int64_t oldest_created_at = 0;  // ms; 0 when none is undelivered
};

class EventStore {
 public:
  virtual ~EventStore() = default;

  // Appends events that are not part of a content change (pulls, pings, redeliveries), in one
  // transaction. not_found when a registry does not exist.
  virtual Result<void> append_events(std::span<const EventRecord> events) = 0;
  // Audit listing; see EventFilter.
  virtual Result<std::vector<EventRecord>> list_events(const EventFilter& filter) = 0;
  // Every registry's events with a sequence above `sequence`, oldest first, at most `limit`:
  // for readers that follow the log (the audit file).
  virtual Result<std::vector<EventRecord>> events_after(std::int64_t sequence,
                                                        std::size_t limit) = 0;
  // The event with `id` (its payload id) in `registry`.
  virtual Result<std::optional<EventRecord>> find_event(RegistryId registry,
                                                        std::string_view id) = 0;
  // Removes events created before `before` (ms) that every webhook has handled. Returns how
  // many went.
  virtual Result<std::uint64_t> prune_events(std::int64_t before) = 0;

  // --- webhooks ---
  // limit_reached when the registry already has `max_in_registry`; conflict when the name is
  // taken (ignoring case). A new webhook's cursor is the newest event: it gets what happens
  // from now on. Returns the record with its id and cursor.
  virtual Result<WebhookRecord> create_webhook(const WebhookRecord& webhook,
                                               std::uint64_t max_in_registry) = 0;
  virtual Result<std::optional<WebhookRecord>> find_webhook(RegistryId registry,
                                                            std::string_view name) = 0;
  // Sorted by name.
  virtual Result<std::vector<WebhookRecord>> list_webhooks(RegistryId registry) = 0;
  virtual Result<std::uint64_t> count_webhooks(RegistryId registry) = 0;
  // False when there is no such webhook. Enabling a disabled webhook moves its cursor to the
  // newest event: what happened while it was disabled is not delivered.
  virtual Result<bool> update_webhook(RegistryId registry, std::string_view name,
                                      const WebhookChanges& changes) = 0;
  // Removes it with its delivery records; false when absent.
  virtual Result<bool> delete_webhook(RegistryId registry, std::string_view name) = 0;

  // --- delivery ---
  // Claims up to `limit` enabled webhooks that have a deliverable event after their cursor,
  // whose next attempt is due at `now` and whose lease is free, expired or `owner`'s: each
  // returned webhook is leased to `owner` until `lease_until`. Fairness: least recently due
  // first.
  virtual Result<std::vector<WebhookRecord>> claim_due_webhooks(std::string_view owner,
                                                                std::int64_t now,
                                                                std::int64_t lease_until,
                                                                std::size_t limit) = 0;
  // The deliverable events after the webhook's cursor that are for it (all of its registry's,
  // or addressed to it), in order, at most `limit`.
  virtual Result<std::vector<EventRecord>> pending_events(std::int64_t webhook,
                                                          std::size_t limit) = 0;
  // In one transaction: records `attempt` (when given) and applies `outcome`, provided `owner`
  // still holds the lease. False (and nothing written) when it does not.
  virtual Result<bool> finish_attempt(std::int64_t webhook, std::string_view owner,
                                      const std::optional<DeliveryRecord>& attempt,
                                      const DeliveryOutcome& outcome) = 0;
  // Gives the lease up (no-op unless `owner` holds it).
  virtual Result<void> release_webhook(std::int64_t webhook, std::string_view owner) = 0;
  // Delivery attempts of a webhook, newest first, ids strictly below `before` (0: newest).
  virtual Result<std::vector<DeliveryRecord>> list_deliveries(std::int64_t webhook,
                                                              std::int64_t before,
                                                              std::size_t limit) = 0;
  virtual Result<OutboxStats> outbox_stats() = 0;
};

}  // namespace berth::metadata
