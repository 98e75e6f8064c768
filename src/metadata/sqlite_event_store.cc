// SqliteMetadataStore: the EventStore part, on the same database, writer and reader pool as
// the content metadata (sqlite_metadata_store.cc; sqlite_schema.cc holds the schema migrations).
//
// Tables (schema version 5). Arrows are foreign keys; "x" marks ON DELETE CASCADE.
//
//   events (sequence INTEGER PK AUTOINCREMENT; id, registry_id, action, repository, tag,
//           digest, media_type, artifact_type, size, identity, identity_kind, client_address,
//           request_id, host, method, user_agent, created_at, deliverable, webhook_id,
//           redelivery_of, queued_at)
//          indexes (registry_id, sequence), (registry_id, sequence) WHERE deliverable = 1,
//                  (id), (created_at)
//   registries
//   ^x  webhooks (id INTEGER PK AUTOINCREMENT; registry_id, name NOCASE, service_uri,
//   |             sealed_headers, sealed_secret, actions, scope, enabled, format, created_at,
//   |             cursor, attempt, next_attempt_at, lease_owner, lease_until;
//   |             UNIQUE registry_id, name)
//   |     ^x  webhook_deliveries (id INTEGER PK AUTOINCREMENT; webhook_id, event_sequence,
//   |                             event_id, action, attempt, started_at, latency_ms,
//   |                             request_headers, request_body, status, response_headers,
//   |                             response_excerpt, error, result)
//   |                            indexes (webhook_id, id), (started_at)
//
// Why this shape:
// - One events table is both the outbox and the audit log: a content change appends its
//   events in its own transaction, pulls are appended in batches, and webhooks and the audit
//   read the same rows. The sequence is AUTOINCREMENT so pruning never lets a number come
//   back: webhook cursors and audit paging rely on it only growing.
// - Events keep their registry as a plain column, like login events: the audit of a deleted
//   registry outlives it. Webhooks and their deliveries go with their registry.
// - A webhook's delivery state lives in its own row: the cursor (last event handled), the
//   retry schedule of the next event, and the lease. Claiming is one UPDATE ... RETURNING, so
//   two nodes can never both think they hold a webhook; every later change is conditional on
//   the lease owner.
// - The partial index on deliverable events keeps "is anything waiting for this webhook" a
//   short index probe however many pulls the audit holds.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/ids.h"
#include "metadata/sqlite_internal.h"
#include "metadata/sqlite_metadata_store.h"

namespace berth::metadata {
namespace {

// Listings return at most this many, whatever the caller asks for.
constexpr std::size_t kMaxEventsPerPage = 1000;

#define BERTH_EVENT_COLUMNS                                                                  \
  "e.sequence, e.id, e.registry_id, e.action, e.repository, e.tag, e.digest, e.media_type, " \
  "e.artifact_type, e.size, e.identity, e.identity_kind, e.client_address, e.request_id, "   \
  "e.host, e.method, e.user_agent, e.created_at, e.deliverable, e.webhook_id, "              \
  "e.redelivery_of, e.queued_at"

#define BERTH_WEBHOOK_COLUMNS                                                               \
  "id, registry_id, name, service_uri, sealed_headers, sealed_secret, actions, scope, "   \
  "enabled, format, created_at, cursor, attempt, next_attempt_at, lease_owner, lease_until"

#define BERTH_DELIVERY_COLUMNS                                                               \
  "id, webhook_id, event_sequence, event_id, action, attempt, started_at, latency_ms, "      \
  "request_headers, request_body, status, response_headers, response_excerpt, error, result"

// The deliverable events after webhook `w`'s cursor that are meant for it.
#define BERTH_EVENTS_FOR_WEBHOOK(w)                                                     \
  "e.registry_id = " w ".registry_id AND e.deliverable = 1 AND e.sequence > " w       \
  ".cursor AND (e.webhook_id IS NULL OR e.webhook_id = " w ".id)"

constexpr StatementSpec<EventSql> kEventStatements[] = {
    {EventSql::insert_event, "insert event",
     "INSERT INTO events (id, registry_id, action, repository, tag, digest, media_type, "
     "artifact_type, size, identity, identity_kind, client_address, request_id, host, method, "
     "user_agent, created_at, deliverable, webhook_id, redelivery_of, queued_at) "
     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, "
     "?19, ?20, ?21)"},
    {EventSql::list_events, "list events",
     "SELECT " BERTH_EVENT_COLUMNS
     " FROM events e WHERE e.registry_id = ?1 AND (?2 = 0 OR e.sequence < ?2)"
     " AND (?3 = 0 OR e.created_at >= ?3) AND (?4 = 0 OR e.created_at < ?4)"
     " AND (?5 = '' OR e.identity = ?5) AND (?6 = '' OR e.repository = ?6)"
     " AND (?7 = '' OR e.action = ?7) ORDER BY e.sequence DESC LIMIT ?8"},
    {EventSql::events_after, "events after",
     "SELECT " BERTH_EVENT_COLUMNS " FROM events e WHERE e.sequence > ?1 ORDER BY e.sequence"
     " LIMIT ?2"},
    {EventSql::find_event, "find event",
     "SELECT " BERTH_EVENT_COLUMNS " FROM events e WHERE e.id = ?2 AND e.registry_id = ?1 ORDER BY e.sequence LIMIT 1"},
    {EventSql::prune_events, "prune events",
     "DELETE FROM events WHERE created_at < ?1 AND NOT EXISTS (SELECT 1 FROM webhooks w"
     " WHERE w.enabled = 1 AND events.deliverable = 1 AND events.registry_id = w.registry_id"
     " AND events.sequence > w.cursor)"},
    {EventSql::prune_deliveries, "prune deliveries",
     "DELETE FROM webhook_deliveries WHERE started_at < ?1"},
    {EventSql::count_webhooks, "count webhooks",
     "SELECT COUNT(*) FROM webhooks WHERE registry_id = ?1"},
    {EventSql::insert_webhook, "insert webhook",
     "INSERT INTO webhooks (registry_id, name, service_uri, sealed_headers, sealed_secret, "
     "actions, scope, enabled, format, created_at, cursor) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
     "?8, ?9, ?10, (SELECT COALESCE(MAX(sequence), 0) FROM events)) "
     "RETURNING " BERTH_WEBHOOK_COLUMNS},
    {EventSql::find_webhook, "find webhook",
     "SELECT " BERTH_WEBHOOK_COLUMNS " FROM webhooks WHERE registry_id = ?1 AND name = ?2"},
    {EventSql::list_webhooks, "list webhooks",
     "SELECT " BERTH_WEBHOOK_COLUMNS " FROM webhooks WHERE registry_id = ?1 ORDER BY name"},
    {EventSql::update_webhook, "update webhook",
     "UPDATE webhooks SET service_uri = COALESCE(?3, service_uri),"
     " sealed_headers = COALESCE(?4, sealed_headers), sealed_secret = COALESCE(?5, sealed_secret),"
     " actions = COALESCE(?6, actions), scope = COALESCE(?7, scope),"
     " enabled = COALESCE(?8, enabled), format = COALESCE(?9, format),"
     " cursor = CASE WHEN ?8 = 1 AND enabled = 0"
     " THEN (SELECT COALESCE(MAX(sequence), 0) FROM events) ELSE cursor END,"
     " attempt = CASE WHEN ?8 = 1 AND enabled = 0 THEN 0 ELSE attempt END,"
     " next_attempt_at = CASE WHEN ?8 = 1 AND enabled = 0 THEN 0 ELSE next_attempt_at END"
     " WHERE registry_id = ?1 AND name = ?2"},
    {EventSql::delete_webhook, "delete webhook",
     "DELETE FROM webhooks WHERE registry_id = ?1 AND name = ?2"},
    {EventSql::claim_due_webhooks, "claim due webhooks",
     "UPDATE webhooks SET lease_owner = ?1, lease_until = ?3 WHERE id IN ("
     "SELECT w.id FROM webhooks w WHERE w.enabled = 1 AND w.next_attempt_at <= ?2"
     " AND (w.lease_owner = '' OR w.lease_until <= ?2)"
     " AND EXISTS (SELECT 1 FROM events e WHERE " BERTH_EVENTS_FOR_WEBHOOK("w") ")"
     " ORDER BY w.next_attempt_at, w.id LIMIT ?4) RETURNING " BERTH_WEBHOOK_COLUMNS},
    {EventSql::pending_events, "pending events",
     "SELECT " BERTH_EVENT_COLUMNS " FROM webhooks w JOIN events e ON "
     BERTH_EVENTS_FOR_WEBHOOK("w") " WHERE w.id = ?1 ORDER BY e.sequence LIMIT ?2"},
    {EventSql::finish_attempt, "finish attempt",
     "UPDATE webhooks SET cursor = MAX(cursor, COALESCE(?3, cursor)), attempt = ?4,"
     " next_attempt_at = ?5, lease_until = ?6 WHERE id = ?1 AND lease_owner = ?2"},
    {EventSql::insert_delivery, "insert delivery",
     "INSERT INTO webhook_deliveries (webhook_id, event_sequence, event_id, action, attempt, "
     "started_at, latency_ms, request_headers, request_body, status, response_headers, "
     "response_excerpt, error, result) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, "
     "?12, ?13, ?14)"},
    {EventSql::release_webhook, "release webhook",
     "UPDATE webhooks SET lease_owner = '', lease_until = 0 WHERE id = ?1 AND lease_owner = ?2"},
    {EventSql::list_deliveries, "list deliveries",
     "SELECT " BERTH_DELIVERY_COLUMNS " FROM webhook_deliveries WHERE webhook_id = ?1"
     " AND (?2 = 0 OR id < ?2) ORDER BY id DESC LIMIT ?3"},
    {EventSql::outbox_stats, "outbox stats",
     "SELECT COUNT(DISTINCT e.sequence), COALESCE(MIN(e.created_at), 0) FROM webhooks w"
     " JOIN events e ON " BERTH_EVENTS_FOR_WEBHOOK("w") " WHERE w.enabled = 1"},
};
static_assert(statements_in_enum_order(kEventStatements));

void bind_optional_int(Statement& stmt, int index, std::optional<std::int64_t> value) {
  if (value) {
    stmt.bind_int(index, *value);
  } else {
    stmt.bind_null(index);
  }
}

void bind_optional_text(Statement& stmt, int index, const std::optional<std::string>& value) {
  if (value) {
    stmt.bind_text(index, *value);
  } else {
    stmt.bind_null(index);
  }
}

std::optional<std::int64_t> optional_int(const Statement& stmt, int column) {
  if (stmt.is_null(column)) return std::nullopt;
  return stmt.integer(column);
}

// A row of BERTH_EVENT_COLUMNS.
EventRecord event_of(const Statement& stmt) {
  return EventRecord{
      .sequence = stmt.integer(0),
      .id = std::string(stmt.text(1)),
      .registry = stmt.integer(2),
      .action = std::string(stmt.text(3)),
      .repository = std::string(stmt.text(4)),
      .tag = std::string(stmt.text(5)),
      .digest = std::string(stmt.text(6)),
      .media_type = std::string(stmt.text(7)),
      .artifact_type = std::string(stmt.text(8)),
      .size = static_cast<std::uint64_t>(stmt.integer(9)),
      .origin =
          EventOrigin{
              .identity = std::string(stmt.text(10)),
              .identity_kind = std::string(stmt.text(11)),
              .client_address = std::string(stmt.text(12)),
              .request_id = std::string(stmt.text(13)),
              .host = std::string(stmt.text(14)),
              .method = std::string(stmt.text(15)),
              .user_agent = std::string(stmt.text(16)),
          },
      .created_at = stmt.integer(17),
      .deliverable = stmt.integer(18) != 0,
      .webhook = optional_int(stmt, 19),
      .redelivery_of = optional_int(stmt, 20),
      .queued_at = stmt.integer(21),
  };
}

// A row of BERTH_WEBHOOK_COLUMNS.
WebhookRecord webhook_of(const Statement& stmt) {
  return WebhookRecord{
      .id = stmt.integer(0),
      .registry = stmt.integer(1),
      .name = std::string(stmt.text(2)),
      .service_uri = std::string(stmt.text(3)),
      .sealed_headers = std::string(stmt.text(4)),
      .sealed_secret = std::string(stmt.text(5)),
      .actions = split_actions(stmt.text(6)),
      .scope = std::string(stmt.text(7)),
      .enabled = stmt.integer(8) != 0,
      .format = std::string(stmt.text(9)),
      .created_at = stmt.integer(10),
      .cursor = stmt.integer(11),
      .attempt = static_cast<std::uint32_t>(stmt.integer(12)),
      .next_attempt_at = stmt.integer(13),
      .lease_owner = std::string(stmt.text(14)),
      .lease_until = stmt.integer(15),
  };
}

// A row of BERTH_DELIVERY_COLUMNS.
DeliveryRecord delivery_of(const Statement& stmt) {
  return DeliveryRecord{
      .id = stmt.integer(0),
      .webhook = stmt.integer(1),
      .event_sequence = stmt.integer(2),
      .event_id = std::string(stmt.text(3)),
      .action = std::string(stmt.text(4)),
      .attempt = static_cast<std::uint32_t>(stmt.integer(5)),
      .started_at = stmt.integer(6),
      .latency_ms = stmt.integer(7),
      .request_headers_json = std::string(stmt.text(8)),
      .request_body = std::string(stmt.text(9)),
      .status = static_cast<int>(stmt.integer(10)),
      .response_headers_json = std::string(stmt.text(11)),
      .response_excerpt = std::string(stmt.text(12)),
      .error = std::string(stmt.text(13)),
      .result = std::string(stmt.text(14)),
  };
}

template <class Row, class Reader>
Result<std::vector<Row>> read_rows(Statement& stmt, Reader&& reader) {
  std::vector<Row> rows;
  for (;;) {
    auto row = stmt.step();
    if (!row) return row.error();
    if (!*row) return rows;
    rows.push_back(reader(stmt));
  }
}

}  // namespace

const StatementSpec<EventSql>& spec_of(EventSql id) {
  return kEventStatements[static_cast<std::size_t>(id)];
}

Result<void> insert_events(SqliteConnection& connection, std::span<const EventRecord> events) {
  if (events.empty()) return {};
  auto insert = connection.statement(EventSql::insert_event);
  if (!insert) return insert.error();
  const std::int64_t now = unix_now_ms();
  for (const EventRecord& event : events) {
    if (event.action.empty()) return invalid_argument("event without an action");
    std::string id = event.id.empty() ? random_uuid() : event.id;
    insert->bind_text(1, id)
        .bind_int(2, event.registry)
        .bind_text(3, event.action)
        .bind_text(4, event.repository)
        .bind_text(5, event.tag)
        .bind_text(6, event.digest)
        .bind_text(7, event.media_type)
        .bind_text(8, event.artifact_type)
        .bind_int(9, static_cast<std::int64_t>(event.size))
        .bind_text(10, event.origin.identity)
        .bind_text(11, event.origin.identity_kind)
        .bind_text(12, event.origin.client_address)
        .bind_text(13, event.origin.request_id)
        .bind_text(14, event.origin.host)
        .bind_text(15, event.origin.method)
        .bind_text(16, event.origin.user_agent)
        .bind_int(17, event.created_at != 0 ? event.created_at : now)
        .bind_int(18, event.deliverable ? 1 : 0);
    bind_optional_int(*insert, 19, event.webhook);
    bind_optional_int(*insert, 20, event.redelivery_of);
    insert->bind_int(21, now);
    if (auto done = insert->run(); !done) return done;
    insert->reset();
  }
  return {};
}

Result<void> SqliteMetadataStore::append_events(std::span<const EventRecord> events) {
  if (events.empty()) return {};
  return write([&](SqliteConnection& connection) { return insert_events(connection, events); });
}

Result<std::vector<EventRecord>> SqliteMetadataStore::list_events(const EventFilter& filter) {
  const std::size_t limit = std::min(filter.limit, kMaxEventsPerPage);
  if (limit == 0) return std::vector<EventRecord>();
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(EventSql::list_events);
  if (!stmt) return stmt.error();
  stmt->bind_int(1, filter.registry)
      .bind_int(2, filter.before)
      .bind_int(3, filter.from)
      .bind_int(4, filter.to)
      .bind_text(5, filter.identity)
      .bind_text(6, filter.repository)
      .bind_text(7, filter.action)
      .bind_int(8, sql_limit(limit));
  return read_rows<EventRecord>(*stmt, event_of);
}

Result<std::vector<EventRecord>> SqliteMetadataStore::events_after(std::int64_t sequence,
                                                                   std::size_t limit) {
  limit = std::min(limit, kMaxEventsPerPage);
  if (limit == 0) return std::vector<EventRecord>();
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(EventSql::events_after);
  if (!stmt) return stmt.error();
  stmt->bind_int(1, sequence).bind_int(2, sql_limit(limit));
  return read_rows<EventRecord>(*stmt, event_of);
}

Result<std::optional<EventRecord>> SqliteMetadataStore::find_event(RegistryId registry,
                                                                   std::string_view id) {
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(EventSql::find_event);
  if (!stmt) return stmt.error();
  stmt->bind_int(1, registry).bind_text(2, id);
  auto row = stmt->step();
  if (!row) return row.error();
  if (!*row) return std::optional<EventRecord>();
  return std::optional<EventRecord>(event_of(*stmt));
}

Result<std::uint64_t> SqliteMetadataStore::prune_events(std::int64_t before) {
  std::uint64_t removed = 0;
  auto written = write([&](SqliteConnection& connection) -> Result<void> {
    auto events = connection.statement(EventSql::prune_events);
    if (!events) return events.error();
    events->bind_int(1, before);
    if (auto done = events->run(); !done) return done;
    removed = static_cast<std::uint64_t>(sqlite3_changes(connection.db()));
    auto deliveries = connection.statement(EventSql::prune_deliveries);
    if (!deliveries) return deliveries.error();
    deliveries->bind_int(1, before);
    return deliveries->run();
  });
  if (!written) return written.error();
  return removed;
}

// --- webhooks ---

Result<WebhookRecord> SqliteMetadataStore::create_webhook(const WebhookRecord& webhook,
                                                          std::uint64_t max_in_registry) {
  if (auto bad = check_webhook(webhook)) return *bad;
  WebhookRecord created;
  auto written = write([&](SqliteConnection& connection) -> Result<void> {
    auto count = connection.statement(EventSql::count_webhooks);
    if (!count) return count.error();
    count->bind_int(1, webhook.registry);
    auto counted = count->step();
    if (!counted) return counted.error();
    if (static_cast<std::uint64_t>(count->integer(0)) >= max_in_registry) {
      return MetadataError{Errc::limit_reached, "the registry has as many webhooks as it may"};
    }
    auto insert = connection.statement(EventSql::insert_webhook);
    if (!insert) return insert.error();
    // Bound without copying (Statement::bind_text): it must live until the statement has run.
    const std::string actions = join_actions(webhook.actions);
    insert->bind_int(1, webhook.registry)
        .bind_text(2, webhook.name)
        .bind_text(3, webhook.service_uri)
        .bind_text(4, webhook.sealed_headers)
        .bind_text(5, webhook.sealed_secret)
        .bind_text(6, actions)
        .bind_text(7, webhook.scope)
        .bind_int(8, webhook.enabled ? 1 : 0)
        .bind_text(9, webhook.format.empty() ? std::string_view("default") : webhook.format)
        .bind_int(10, webhook.created_at != 0 ? webhook.created_at : unix_now());
    auto row = insert->step();
    if (!row) {
      if (row.error().code == Errc::conflict) {
        return MetadataError{Errc::conflict, "webhook '" + webhook.name + "' already exists"};
      }
      // A registry that does not exist fails the foreign key.
      if (sqlite3_extended_errcode(connection.db()) == SQLITE_CONSTRAINT_FOREIGNKEY) {
        return MetadataError{Errc::not_found, "registry does not exist"};
      }
      return row.error();
    }
    created = webhook_of(*insert);
    // Steps RETURNING to its end, so the statement completes before the savepoint is released.
    if (auto rest = insert->step(); !rest) return rest.error();
    return {};
  });
  if (!written) return written.error();
  return created;
}

Result<std::optional<WebhookRecord>> SqliteMetadataStore::find_webhook(RegistryId registry,
                                                                       std::string_view name) {
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(EventSql::find_webhook);
  if (!stmt) return stmt.error();
  stmt->bind_int(1, registry).bind_text(2, name);
  auto row = stmt->step();
  if (!row) return row.error();
  if (!*row) return std::optional<WebhookRecord>();
  return std::optional<WebhookRecord>(webhook_of(*stmt));
}

Result<std::vector<WebhookRecord>> SqliteMetadataStore::list_webhooks(RegistryId registry) {
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(EventSql::list_webhooks);
  if (!stmt) return stmt.error();
  stmt->bind_int(1, registry);
  return read_rows<WebhookRecord>(*stmt, webhook_of);
}

Result<std::uint64_t> SqliteMetadataStore::count_webhooks(RegistryId registry) {
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(EventSql::count_webhooks);
  if (!stmt) return stmt.error();
  stmt->bind_int(1, registry);
  auto row = stmt->step();
  if (!row) return row.error();
  return static_cast<std::uint64_t>(stmt->integer(0));
}

Result<bool> SqliteMetadataStore::update_webhook(RegistryId registry, std::string_view name,
                                                 const WebhookChanges& changes) {
  if (changes.actions && changes.actions->empty()) {
    return invalid_argument("webhook has no actions");
  }
  std::optional<std::string> actions;
  if (changes.actions) actions = join_actions(*changes.actions);
  bool updated = false;
  auto written = write([&](SqliteConnection& connection) -> Result<void> {
    auto update = connection.statement(EventSql::update_webhook);
    if (!update) return update.error();
    update->bind_int(1, registry).bind_text(2, name);
    bind_optional_text(*update, 3, changes.service_uri);
    bind_optional_text(*update, 4, changes.sealed_headers);
    bind_optional_text(*update, 5, changes.sealed_secret);
    bind_optional_text(*update, 6, actions);
    bind_optional_text(*update, 7, changes.scope);
    std::optional<std::int64_t> enabled;
    if (changes.enabled) enabled = *changes.enabled ? 1 : 0;
    bind_optional_int(*update, 8, enabled);
    bind_optional_text(*update, 9, changes.format);
    if (auto done = update->run(); !done) return done;
    updated = sqlite3_changes(connection.db()) > 0;
    return {};
  });
  if (!written) return written.error();
  return updated;
}

Result<bool> SqliteMetadataStore::delete_webhook(RegistryId registry, std::string_view name) {
  bool removed = false;
  auto written = write([&](SqliteConnection& connection) -> Result<void> {
    auto remove = connection.statement(EventSql::delete_webhook);
    if (!remove) return remove.error();
    remove->bind_int(1, registry).bind_text(2, name);
    if (auto done = remove->run(); !done) return done;
    removed = sqlite3_changes(connection.db()) > 0;
    return {};
  });
  if (!written) return written.error();
  return removed;
}

// --- delivery ---

Result<std::vector<WebhookRecord>> SqliteMetadataStore::claim_due_webhooks(
    std::string_view owner, std::int64_t now, std::int64_t lease_until, std::size_t limit) {
  if (owner.empty()) return invalid_argument("lease owner is empty");
  std::vector<WebhookRecord> claimed;
  if (limit == 0) return claimed;
  auto written = write([&](SqliteConnection& connection) -> Result<void> {
    claimed.clear();  // a retried batch starts over
    auto claim = connection.statement(EventSql::claim_due_webhooks);
    if (!claim) return claim.error();
    claim->bind_text(1, owner).bind_int(2, now).bind_int(3, lease_until).bind_int(
        4, sql_limit(limit));
    auto rows = read_rows<WebhookRecord>(*claim, webhook_of);
    if (!rows) return rows.error();
    claimed = std::move(*rows);
    return {};
  });
  if (!written) return written.error();
  // RETURNING gives rows in no promised order; callers get the claim order.
  std::sort(claimed.begin(), claimed.end(), [](const WebhookRecord& a, const WebhookRecord& b) {
    return std::pair(a.next_attempt_at, a.id) < std::pair(b.next_attempt_at, b.id);
  });
  return claimed;
}

Result<std::vector<EventRecord>> SqliteMetadataStore::pending_events(std::int64_t webhook,
                                                                     std::size_t limit) {
  limit = std::min(limit, kMaxEventsPerPage);
  if (limit == 0) return std::vector<EventRecord>();
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(EventSql::pending_events);
  if (!stmt) return stmt.error();
  stmt->bind_int(1, webhook).bind_int(2, sql_limit(limit));
  return read_rows<EventRecord>(*stmt, event_of);
}

Result<bool> SqliteMetadataStore::finish_attempt(std::int64_t webhook, std::string_view owner,
                                                 const std::optional<DeliveryRecord>& attempt,
                                                 const DeliveryOutcome& outcome) {
  bool held = false;
  auto written = write([&](SqliteConnection& connection) -> Result<void> {
    auto update = connection.statement(EventSql::finish_attempt);
    if (!update) return update.error();
    update->bind_int(1, webhook)
        .bind_text(2, owner)
        .bind_int(4, outcome.attempt)
        .bind_int(5, outcome.next_attempt_at)
        .bind_int(6, outcome.lease_until);
    bind_optional_int(*update, 3, outcome.advance_to);
    if (auto done = update->run(); !done) return done;
    held = sqlite3_changes(connection.db()) > 0;
    if (!held || !attempt) return {};
    auto insert = connection.statement(EventSql::insert_delivery);
    if (!insert) return insert.error();
    const DeliveryRecord& a = *attempt;
    insert->bind_int(1, webhook)
        .bind_int(2, a.event_sequence)
        .bind_text(3, a.event_id)
        .bind_text(4, a.action)
        .bind_int(5, a.attempt)
        .bind_int(6, a.started_at != 0 ? a.started_at : unix_now_ms())
        .bind_int(7, a.latency_ms)
        .bind_text(8, a.request_headers_json)
        .bind_text(9, a.request_body)
        .bind_int(10, a.status)
        .bind_text(11, a.response_headers_json)
        .bind_text(12, a.response_excerpt)
        .bind_text(13, a.error)
        .bind_text(14, a.result);
    return insert->run();
  });
  if (!written) return written.error();
  return held;
}

Result<void> SqliteMetadataStore::release_webhook(std::int64_t webhook, std::string_view owner) {
  return write([&](SqliteConnection& connection) -> Result<void> {
    auto release = connection.statement(EventSql::release_webhook);
    if (!release) return release.error();
    release->bind_int(1, webhook).bind_text(2, owner);
    return release->run();
  });
}

Result<std::vector<DeliveryRecord>> SqliteMetadataStore::list_deliveries(std::int64_t webhook,
                                                                         std::int64_t before,
                                                                         std::size_t limit) {
  limit = std::min(limit, kMaxEventsPerPage);
  if (limit == 0) return std::vector<DeliveryRecord>();
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(EventSql::list_deliveries);
  if (!stmt) return stmt.error();
  stmt->bind_int(1, webhook).bind_int(2, before).bind_int(3, sql_limit(limit));
  return read_rows<DeliveryRecord>(*stmt, delivery_of);
}

Result<OutboxStats> SqliteMetadataStore::outbox_stats() {
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(EventSql::outbox_stats);
  if (!stmt) return stmt.error();
  auto row = stmt->step();
  if (!row) return row.error();
  if (!*row) return OutboxStats{};
  return OutboxStats{static_cast<std::uint64_t>(stmt->integer(0)), stmt->integer(1)};
}

}  // namespace berth::metadata
