// PostgresMetadataStore: the EventStore part (the outbox and audit log in one events table,
// webhooks, delivery attempts). Tables in postgres_schema.cc; sqlite_event_store.cc explains
// the shape, which is the same.
//
// What PostgreSQL needs beyond SQLite:
// - Commit order. SQLite's single writer makes the order of event sequences the order of
//   commits; PostgreSQL hands out sequence numbers when rows are inserted, so two concurrent
//   transactions could commit 11 before 10, and a webhook that had read up to 11 would skip 10
//   for good. Every transaction that appends events therefore takes kEventsLock (a
//   transaction-level advisory lock) just before it inserts them, as its last step, and holds it
//   until its commit is visible: sequences become visible in the order of their numbers. Only
//   the appends queue on the lock, and only for the moment between them and the commit.
// - Leases. Claims and every change to delivery state are single UPDATE statements in
//   SERIALIZABLE transactions: two nodes claiming the same webhook at once cannot both commit
//   (the loser is retried and then sees the lease taken).

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/ids.h"
#include "metadata/postgres/postgres_internal.h"
#include "metadata/postgres/postgres_metadata_store.h"

namespace berth::metadata {

using namespace postgres;

namespace {

// Listings return at most this many, whatever the caller asks for.
constexpr std::size_t kMaxEventsPerPage = 1000;
// The advisory lock event appends take ("events" in ASCII).
constexpr std::int64_t kEventsLock = 0x6576656e7473;

#define BERTH_PG_EVENT_COLUMNS                                                               \
  "e.sequence, e.id, e.registry_id, e.action, e.repository, e.tag, e.digest, e.media_type, " \
  "e.artifact_type, e.size, e.identity, e.identity_kind, e.client_address, e.request_id, "   \
  "e.host, e.method, e.user_agent, e.created_at, e.deliverable, e.webhook_id, "              \
  "e.redelivery_of, e.queued_at"

#define BERTH_PG_WEBHOOK_COLUMNS                                                        \
  "id, registry_id, name, service_uri, sealed_headers, sealed_secret, actions, scope, " \
  "enabled, format, created_at, cursor, attempt, next_attempt_at, lease_owner, lease_until"

#define BERTH_PG_DELIVERY_COLUMNS                                                       \
  "id, webhook_id, event_sequence, event_id, action, attempt, started_at, latency_ms, " \
  "request_headers, request_body, status, response_headers, response_excerpt, error, result"

// The deliverable events after webhook `w`'s cursor that are meant for it.
#define BERTH_PG_EVENTS_FOR_WEBHOOK(w)                                      \
  "e.registry_id = " w ".registry_id AND e.deliverable AND e.sequence > " w \
  ".cursor AND "                                                            \
  "(e.webhook_id IS NULL OR e.webhook_id = " w ".id)"

constexpr Statement kLockEvents{"lock_events", "SELECT pg_advisory_xact_lock($1)"};
constexpr Statement kInsertEvent{
    "insert_event",
    "INSERT INTO events (id, registry_id, action, repository, tag, digest, media_type, "
    "artifact_type, size, identity, identity_kind, client_address, request_id, host, method, "
    "user_agent, created_at, deliverable, webhook_id, redelivery_of, queued_at) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, "
    "$19, $20, $21)"};
constexpr Statement kRegistryExists{"event_registry_exists",
                                    "SELECT 1 FROM registries WHERE id = $1"};
constexpr Statement kListEvents{
    "list_events",
    "SELECT " BERTH_PG_EVENT_COLUMNS
    " FROM events e WHERE e.registry_id = $1 AND ($2::bigint = 0 OR e.sequence < $2::bigint)"
    " AND ($3::bigint = 0 OR e.created_at >= $3::bigint)"
    " AND ($4::bigint = 0 OR e.created_at < $4::bigint)"
    " AND ($5::bytea = ''::bytea OR e.identity = $5::bytea)"
    " AND ($6::text = '' OR e.repository = $6::text) AND ($7::text = '' OR e.action = $7::text)"
    " ORDER BY e.sequence DESC LIMIT $8"};
constexpr Statement kEventsAfter{"events_after",
                                 "SELECT " BERTH_PG_EVENT_COLUMNS
                                 " FROM events e WHERE e.sequence > $1 ORDER BY e.sequence"
                                 " LIMIT $2"};
constexpr Statement kFindEvent{
    "find_event",
    "SELECT " BERTH_PG_EVENT_COLUMNS
    " FROM events e WHERE e.id = $2 AND e.registry_id = $1 ORDER BY e.sequence LIMIT 1"};
constexpr Statement kPruneEvents{
    "prune_events",
    "DELETE FROM events WHERE created_at < $1 AND NOT EXISTS (SELECT 1 FROM webhooks w"
    " WHERE w.enabled AND events.deliverable AND events.registry_id = w.registry_id"
    " AND events.sequence > w.cursor)"};
constexpr Statement kPruneDeliveries{"prune_deliveries",
                                     "DELETE FROM webhook_deliveries WHERE started_at < $1"};
constexpr Statement kCountWebhooks{"count_webhooks",
                                   "SELECT count(*) FROM webhooks WHERE registry_id = $1"};
// A new webhook's cursor is the newest event it can see: it gets what commits from now on.
constexpr Statement kInsertWebhook{
    "insert_webhook",
    "INSERT INTO webhooks (registry_id, name, service_uri, sealed_headers, sealed_secret, "
    "actions, scope, enabled, format, created_at, cursor) VALUES ($1, $2, $3, $4, $5, $6, $7, "
    "$8, $9, $10, (SELECT COALESCE(max(sequence), 0) FROM events)) ON CONFLICT DO NOTHING "
    "RETURNING " BERTH_PG_WEBHOOK_COLUMNS};
constexpr Statement kFindWebhook{"find_webhook", "SELECT " BERTH_PG_WEBHOOK_COLUMNS
                                                 " FROM webhooks WHERE registry_id = $1 AND "
                                                 "lower(name) = $2"};
constexpr Statement kListWebhooks{"list_webhooks", "SELECT " BERTH_PG_WEBHOOK_COLUMNS
                                                   " FROM webhooks WHERE registry_id = $1 "
                                                   "ORDER BY lower(name)"};
// NULL leaves a field as it is. Enabling a disabled webhook moves its cursor to the newest
// event and clears its retry schedule.
constexpr Statement kUpdateWebhook{
    "update_webhook",
    "UPDATE webhooks SET service_uri = COALESCE($3, service_uri),"
    " sealed_headers = COALESCE($4, sealed_headers), sealed_secret = COALESCE($5, sealed_secret),"
    " actions = COALESCE($6, actions), scope = COALESCE($7, scope),"
    " enabled = COALESCE($8, enabled), format = COALESCE($9, format),"
    " cursor = CASE WHEN $8::boolean AND NOT enabled"
    " THEN (SELECT COALESCE(max(sequence), 0) FROM events) ELSE cursor END,"
    " attempt = CASE WHEN $8::boolean AND NOT enabled THEN 0 ELSE attempt END,"
    " next_attempt_at = CASE WHEN $8::boolean AND NOT enabled THEN 0 ELSE next_attempt_at END"
    " WHERE registry_id = $1 AND lower(name) = $2"};
constexpr Statement kDeleteWebhook{
    "delete_webhook", "DELETE FROM webhooks WHERE registry_id = $1 AND lower(name) = $2"};
constexpr Statement kClaimDueWebhooks{
    "claim_due_webhooks",
    "UPDATE webhooks SET lease_owner = $1, lease_until = $3 WHERE id IN ("
    "SELECT w.id FROM webhooks w WHERE w.enabled AND w.next_attempt_at <= $2"
    " AND (w.lease_owner = '' OR w.lease_until <= $2)"
    " AND EXISTS (SELECT 1 FROM events e WHERE " BERTH_PG_EVENTS_FOR_WEBHOOK("w") ")"
    " ORDER BY w.next_attempt_at, w.id LIMIT $4) RETURNING " BERTH_PG_WEBHOOK_COLUMNS};
// The webhook's registry and cursor are one-row lookups done first, so the events come from one
// range of events_to_deliver, already in order, however far behind the webhook is.
constexpr Statement kPendingEvents{
    "pending_events",
    "SELECT " BERTH_PG_EVENT_COLUMNS
    " FROM events e "
    "WHERE e.registry_id = (SELECT registry_id FROM webhooks WHERE id = $1) AND e.deliverable "
    "AND e.sequence > (SELECT cursor FROM webhooks WHERE id = $1) "
    "AND (e.webhook_id IS NULL OR e.webhook_id = $1) ORDER BY e.sequence LIMIT $2"};
constexpr Statement kFinishAttempt{
    "finish_attempt",
    "UPDATE webhooks SET cursor = GREATEST(cursor, COALESCE($3, cursor)), attempt = $4,"
    " next_attempt_at = $5, lease_until = $6 WHERE id = $1 AND lease_owner = $2"};
constexpr Statement kInsertDelivery{
    "insert_delivery",
    "INSERT INTO webhook_deliveries (webhook_id, event_sequence, event_id, action, attempt, "
    "started_at, latency_ms, request_headers, request_body, status, response_headers, "
    "response_excerpt, error, result) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, "
    "$12, $13, $14)"};
constexpr Statement kReleaseWebhook{
    "release_webhook",
    "UPDATE webhooks SET lease_owner = '', lease_until = 0 WHERE id = $1 AND lease_owner = $2"};
constexpr Statement kListDeliveries{
    "list_deliveries", "SELECT " BERTH_PG_DELIVERY_COLUMNS
                       " FROM webhook_deliveries WHERE webhook_id = $1"
                       " AND ($2::bigint = 0 OR id < $2::bigint) ORDER BY id DESC LIMIT $3"};
constexpr Statement kOutboxStats{
    "outbox_stats",
    "SELECT count(DISTINCT e.sequence), COALESCE(min(e.created_at), 0) FROM webhooks w"
    " JOIN events e ON " BERTH_PG_EVENTS_FOR_WEBHOOK("w") " WHERE w.enabled"};

#undef BERTH_PG_EVENT_COLUMNS
#undef BERTH_PG_WEBHOOK_COLUMNS
#undef BERTH_PG_DELIVERY_COLUMNS
#undef BERTH_PG_EVENTS_FOR_WEBHOOK

// A row of BERTH_PG_EVENT_COLUMNS.
EventRecord event_of(const pqxx::row& row) {
  return EventRecord{
      .sequence = row[0].as<std::int64_t>(),
      .id = text_of(row[1]),
      .registry = row[2].as<std::int64_t>(),
      .action = text_of(row[3]),
      .repository = text_of(row[4]),
      .tag = text_of(row[5]),
      .digest = text_of(row[6]),
      .media_type = text_of(row[7]),
      .artifact_type = text_of(row[8]),
      .size = row[9].as<std::uint64_t>(),
      .origin =
          EventOrigin{
              .identity = bytes_of(row[10]),
              .identity_kind = bytes_of(row[11]),
              .client_address = bytes_of(row[12]),
              .request_id = bytes_of(row[13]),
              .host = bytes_of(row[14]),
              .method = bytes_of(row[15]),
              .user_agent = bytes_of(row[16]),
          },
      .created_at = row[17].as<std::int64_t>(),
      .deliverable = row[18].as<bool>(),
      .webhook = optional_int(row[19]),
      .redelivery_of = optional_int(row[20]),
      .queued_at = row[21].as<std::int64_t>(),
  };
}

std::vector<EventRecord> events_of(const pqxx::result& rows) {
  std::vector<EventRecord> events;
  events.reserve(rows.size());
  for (const pqxx::row& row : rows) events.push_back(event_of(row));
  return events;
}

// A row of BERTH_PG_WEBHOOK_COLUMNS.
WebhookRecord webhook_of(const pqxx::row& row) {
  return WebhookRecord{
      .id = row[0].as<std::int64_t>(),
      .registry = row[1].as<std::int64_t>(),
      .name = text_of(row[2]),
      .service_uri = text_of(row[3]),
      .sealed_headers = text_of(row[4]),
      .sealed_secret = text_of(row[5]),
      .actions = split_actions(row[6].c_str()),
      .scope = text_of(row[7]),
      .enabled = row[8].as<bool>(),
      .format = text_of(row[9]),
      .created_at = row[10].as<std::int64_t>(),
      .cursor = row[11].as<std::int64_t>(),
      .attempt = row[12].as<std::uint32_t>(),
      .next_attempt_at = row[13].as<std::int64_t>(),
      .lease_owner = text_of(row[14]),
      .lease_until = row[15].as<std::int64_t>(),
  };
}

std::vector<WebhookRecord> webhooks_of(const pqxx::result& rows) {
  std::vector<WebhookRecord> webhooks;
  webhooks.reserve(rows.size());
  for (const pqxx::row& row : rows) webhooks.push_back(webhook_of(row));
  return webhooks;
}

// A row of BERTH_PG_DELIVERY_COLUMNS.
DeliveryRecord delivery_of(const pqxx::row& row) {
  return DeliveryRecord{
      .id = row[0].as<std::int64_t>(),
      .webhook = row[1].as<std::int64_t>(),
      .event_sequence = row[2].as<std::int64_t>(),
      .event_id = text_of(row[3]),
      .action = text_of(row[4]),
      .attempt = row[5].as<std::uint32_t>(),
      .started_at = row[6].as<std::int64_t>(),
      .latency_ms = row[7].as<std::int64_t>(),
      .request_headers_json = bytes_of(row[8]),
      .request_body = bytes_of(row[9]),
      .status = row[10].as<int>(),
      .response_headers_json = bytes_of(row[11]),
      .response_excerpt = bytes_of(row[12]),
      .error = bytes_of(row[13]),
      .result = text_of(row[14]),
  };
}

}  // namespace

namespace postgres {

Result<void> insert_events(Transaction& transaction, std::span<const EventRecord> events) {
  if (events.empty()) return {};
  for (const EventRecord& event : events) {
    if (event.action.empty()) return invalid_argument("event without an action");
  }
  transaction.exec(kLockEvents, kEventsLock);
  const std::int64_t now = unix_now_ms();
  for (const EventRecord& event : events) {
    const std::string id = event.id.empty() ? random_uuid() : event.id;
    transaction.exec(kInsertEvent, id, event.registry, event.action, event.repository, event.tag,
                     event.digest, event.media_type, event.artifact_type,
                     static_cast<std::int64_t>(event.size), bytes(event.origin.identity),
                     bytes(event.origin.identity_kind), bytes(event.origin.client_address),
                     bytes(event.origin.request_id), bytes(event.origin.host),
                     bytes(event.origin.method), bytes(event.origin.user_agent),
                     event.created_at != 0 ? event.created_at : now, event.deliverable,
                     event.webhook, event.redelivery_of, now);
  }
  return {};
}

}  // namespace postgres

Result<void> PostgresMetadataStore::append_events(std::span<const EventRecord> events) {
  if (events.empty()) return {};
  return database_->write(
      [&](Transaction& transaction) { return insert_events(transaction, events); });
}

Result<std::vector<EventRecord>> PostgresMetadataStore::list_events(const EventFilter& filter) {
  const std::size_t limit = std::min(filter.limit, kMaxEventsPerPage);
  if (limit == 0) return std::vector<EventRecord>();
  std::vector<EventRecord> events;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    events = events_of(transaction.exec(kListEvents, filter.registry, filter.before, filter.from,
                                        filter.to, bytes(filter.identity), filter.repository,
                                        filter.action, sql_limit(limit)));
    return {};
  });
  if (!read) return read.error();
  return events;
}

Result<std::vector<EventRecord>> PostgresMetadataStore::events_after(std::int64_t sequence,
                                                                     std::size_t limit) {
  limit = std::min(limit, kMaxEventsPerPage);
  if (limit == 0) return std::vector<EventRecord>();
  std::vector<EventRecord> events;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    events = events_of(transaction.exec(kEventsAfter, sequence, sql_limit(limit)));
    return {};
  });
  if (!read) return read.error();
  return events;
}

Result<std::optional<EventRecord>> PostgresMetadataStore::find_event(RegistryId registry,
                                                                     std::string_view id) {
  std::optional<EventRecord> event;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    pqxx::result rows = transaction.exec(kFindEvent, registry, id);
    event.reset();
    if (!rows.empty()) event = event_of(rows[0]);
    return {};
  });
  if (!read) return read.error();
  return event;
}

Result<std::uint64_t> PostgresMetadataStore::prune_events(std::int64_t before) {
  std::uint64_t removed = 0;
  auto written = database_->write([&](Transaction& transaction) -> Result<void> {
    removed = transaction.exec(kPruneEvents, before).affected_rows();
    transaction.exec(kPruneDeliveries, before);
    return {};
  });
  if (!written) return written.error();
  return removed;
}

// --- webhooks ---

Result<WebhookRecord> PostgresMetadataStore::create_webhook(const WebhookRecord& webhook,
                                                            std::uint64_t max_in_registry) {
  if (auto bad = check_webhook(webhook)) return *bad;
  const std::string actions = join_actions(webhook.actions);
  WebhookRecord created;
  auto written = database_->write([&](Transaction& transaction) -> Result<void> {
    if (transaction.exec(kRegistryExists, webhook.registry).empty()) {
      return MetadataError{Errc::not_found, "registry does not exist"};
    }
    const auto count = transaction.exec(kCountWebhooks, webhook.registry)[0][0].as<std::uint64_t>();
    if (count >= max_in_registry) {
      return MetadataError{Errc::limit_reached, "the registry has as many webhooks as it may"};
    }
    pqxx::result rows = transaction.exec(
        kInsertWebhook, webhook.registry, webhook.name, webhook.service_uri, webhook.sealed_headers,
        webhook.sealed_secret, actions, webhook.scope, webhook.enabled,
        webhook.format.empty() ? std::string("default") : webhook.format,
        webhook.created_at != 0 ? webhook.created_at : unix_now());
    if (rows.empty()) {
      return MetadataError{Errc::conflict, "webhook '" + webhook.name + "' already exists"};
    }
    created = webhook_of(rows[0]);
    return {};
  });
  if (!written) return written.error();
  return created;
}

Result<std::optional<WebhookRecord>> PostgresMetadataStore::find_webhook(RegistryId registry,
                                                                         std::string_view name) {
  std::optional<WebhookRecord> webhook;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    pqxx::result rows = transaction.exec(kFindWebhook, registry, fold_case(name));
    webhook.reset();
    if (!rows.empty()) webhook = webhook_of(rows[0]);
    return {};
  });
  if (!read) return read.error();
  return webhook;
}

Result<std::vector<WebhookRecord>> PostgresMetadataStore::list_webhooks(RegistryId registry) {
  std::vector<WebhookRecord> webhooks;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    webhooks = webhooks_of(transaction.exec(kListWebhooks, registry));
    return {};
  });
  if (!read) return read.error();
  return webhooks;
}

Result<std::uint64_t> PostgresMetadataStore::count_webhooks(RegistryId registry) {
  std::uint64_t count = 0;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    count = transaction.exec(kCountWebhooks, registry)[0][0].as<std::uint64_t>();
    return {};
  });
  if (!read) return read.error();
  return count;
}

Result<bool> PostgresMetadataStore::update_webhook(RegistryId registry, std::string_view name,
                                                   const WebhookChanges& changes) {
  if (changes.actions && changes.actions->empty()) {
    return invalid_argument("webhook has no actions");
  }
  std::optional<std::string> actions;
  if (changes.actions) actions = join_actions(*changes.actions);
  bool updated = false;
  auto written = database_->write([&](Transaction& transaction) -> Result<void> {
    updated = transaction
                  .exec(kUpdateWebhook, registry, fold_case(name), changes.service_uri,
                        changes.sealed_headers, changes.sealed_secret, actions, changes.scope,
                        changes.enabled, changes.format)
                  .affected_rows() > 0;
    return {};
  });
  if (!written) return written.error();
  return updated;
}

Result<bool> PostgresMetadataStore::delete_webhook(RegistryId registry, std::string_view name) {
  bool removed = false;
  auto written = database_->write([&](Transaction& transaction) -> Result<void> {
    removed = transaction.exec(kDeleteWebhook, registry, fold_case(name)).affected_rows() > 0;
    return {};
  });
  if (!written) return written.error();
  return removed;
}

// --- delivery ---

Result<std::vector<WebhookRecord>> PostgresMetadataStore::claim_due_webhooks(
    std::string_view owner, std::int64_t now, std::int64_t lease_until, std::size_t limit) {
  if (owner.empty()) return invalid_argument("lease owner is empty");
  std::vector<WebhookRecord> claimed;
  if (limit == 0) return claimed;
  auto written = database_->write([&](Transaction& transaction) -> Result<void> {
    claimed =
        webhooks_of(transaction.exec(kClaimDueWebhooks, owner, now, lease_until, sql_limit(limit)));
    return {};
  });
  if (!written) return written.error();
  // RETURNING gives rows in no promised order; callers get the claim order.
  std::sort(claimed.begin(), claimed.end(), [](const WebhookRecord& a, const WebhookRecord& b) {
    return std::pair(a.next_attempt_at, a.id) < std::pair(b.next_attempt_at, b.id);
  });
  return claimed;
}

Result<std::vector<EventRecord>> PostgresMetadataStore::pending_events(std::int64_t webhook,
                                                                       std::size_t limit) {
  limit = std::min(limit, kMaxEventsPerPage);
  if (limit == 0) return std::vector<EventRecord>();
  std::vector<EventRecord> events;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    events = events_of(transaction.exec(kPendingEvents, webhook, sql_limit(limit)));
    return {};
  });
  if (!read) return read.error();
  return events;
}

Result<bool> PostgresMetadataStore::finish_attempt(std::int64_t webhook, std::string_view owner,
                                                   const std::optional<DeliveryRecord>& attempt,
                                                   const DeliveryOutcome& outcome) {
  bool held = false;
  auto written = database_->write([&](Transaction& transaction) -> Result<void> {
    held = transaction
               .exec(kFinishAttempt, webhook, owner, outcome.advance_to,
                     static_cast<std::int64_t>(outcome.attempt), outcome.next_attempt_at,
                     outcome.lease_until)
               .affected_rows() > 0;
    if (!held || !attempt) return {};
    const DeliveryRecord& a = *attempt;
    transaction.exec(
        kInsertDelivery, webhook, a.event_sequence, a.event_id, a.action,
        static_cast<std::int64_t>(a.attempt), a.started_at != 0 ? a.started_at : unix_now_ms(),
        a.latency_ms, bytes(a.request_headers_json), bytes(a.request_body), a.status,
        bytes(a.response_headers_json), bytes(a.response_excerpt), bytes(a.error), a.result);
    return {};
  });
  if (!written) return written.error();
  return held;
}

Result<void> PostgresMetadataStore::release_webhook(std::int64_t webhook, std::string_view owner) {
  return database_->write([&](Transaction& transaction) -> Result<void> {
    transaction.exec(kReleaseWebhook, webhook, owner);
    return {};
  });
}

Result<std::vector<DeliveryRecord>> PostgresMetadataStore::list_deliveries(std::int64_t webhook,
                                                                           std::int64_t before,
                                                                           std::size_t limit) {
  limit = std::min(limit, kMaxEventsPerPage);
  if (limit == 0) return std::vector<DeliveryRecord>();
  std::vector<DeliveryRecord> deliveries;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    pqxx::result rows = transaction.exec(kListDeliveries, webhook, before, sql_limit(limit));
    deliveries.clear();
    for (const pqxx::row& row : rows) deliveries.push_back(delivery_of(row));
    return {};
  });
  if (!read) return read.error();
  return deliveries;
}

Result<OutboxStats> PostgresMetadataStore::outbox_stats() {
  OutboxStats stats;
  auto read = database_->read([&](Transaction& transaction) -> Result<void> {
    pqxx::result rows = transaction.exec(kOutboxStats);
    stats = rows.empty()
                ? OutboxStats{}
                : OutboxStats{rows[0][0].as<std::uint64_t>(), rows[0][1].as<std::int64_t>()};
    return {};
  });
  if (!read) return read.error();
  return stats;
}

std::vector<Statement> postgres::planned_event_statements() {
  return {kListEvents, kEventsAfter, kPendingEvents, kListDeliveries, kFindWebhook};
}

}  // namespace berth::metadata
