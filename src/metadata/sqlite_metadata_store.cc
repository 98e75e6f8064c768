// SqliteMetadataStore.
//
// Schema (version 4). Arrows are foreign keys; "x" marks ON DELETE CASCADE.
//
//   registries (id INTEGER PK AUTOINCREMENT, name TEXT UNIQUE COLLATE NOCASE, tier, region,
//   |           created_at, admin_user_enabled, anonymous_pull_enabled, public_network_access,
//   |           default_network_action 'Allow'|'Deny')
//   |           row 1 is the default registry 'default'
//   |           the access-control tables hang off it too: see sqlite_access_store.cc
//   ^x  repositories (id INTEGER PK; registry_id, name, created_at; UNIQUE registry_id, name)
//         -> a registry's catalog is a range of that unique index (keyset pagination)
//         ^x  repository_blobs (PK repository_id, digest; created_at) --> blobs (PK digest; size)
//         |                    index (digest): who links a blob (GC)
//         ^x  uploads (PK id; repository_id, created_at, updated_at)   index (repository_id),
//         |           index (updated_at): the sweeper finds idle sessions oldest first
//         ^x  manifests (id INTEGER PK; UNIQUE repository_id, digest; media_type, artifact_type,
//         |              subject_digest, annotations, size, created_at, content BLOB last)
//         |     index (repository_id, subject_digest, digest) WHERE subject_digest IS NOT NULL
//         |       -> referrers of a subject come out already ordered by digest
//         |     ^x  manifest_references (PK manifest_id, child_digest, kind 'blob'|'manifest')
//         |           index (child_digest): who needs a blob or child manifest (GC)
//         |     ^x  tags.manifest_id   index (manifest_id)
//         |     ^x  manifest_platforms (PK manifest_id; architecture, os)   images only (v7)
//         |     index (repository_id, <last update: updated_at, else created_at>, digest) (v7)
//         |       -> /acr/v1's manifest listing by time is a range of it (keyset pagination)
//         ^x  tags (PK repository_id, name; manifest_id, created_at, updated_at)
//               index (repository_id, updated_at, name) (v7): the tag listing by time
//
// Why this shape:
// - A manifest's platform lives beside it in manifest_platforms rather than in columns added
//   to manifests: added columns come after content, and reading them would walk its overflow
//   pages.
// - manifests keeps a rowid because its rows carry up to 4 MiB of content (WITHOUT ROWID is
//   meant for small rows); content is the last column so reading the descriptor columns never
//   touches its overflow pages. Tags and references point at that integer id, and the cascades
//   make "delete a manifest" one statement that also drops its tags and references.
// - The narrow link tables are WITHOUT ROWID: their primary key is the whole lookup.
// - Text compares with the default BINARY collation, so listings are in byte order (registry
//   names aside, see below).
// - Timestamps are Unix seconds.
// - Registries are tenants: everything under a repository belongs to exactly one registry, so
//   deleting a registry is one statement that cascades through all of it. blobs is the one
//   global table: a digest names the same bytes wherever they are linked, and the bytes are
//   stored once. A registry's usage is therefore computed over its links, never over blobs.
// - Registry names are unique ignoring (ASCII) case: the column collates NOCASE, so both the
//   unique index, lookups and the listing's order ignore case. Registry ids are AUTOINCREMENT
//   so that the id of a deleted registry is never handed to a new one.
//
// Migrations: kMigrations[i] takes the schema from version i to i + 1, each in its own
// transaction that also bumps PRAGMA user_version, so a crash mid-upgrade leaves a
// consistent older version that the next start upgrades again.

#include "metadata/sqlite_metadata_store.h"

#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <exception>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>

#include "common/clock.h"
#include "metadata/sqlite_internal.h"

namespace berth::metadata {
namespace {

// Readers beyond this many idle ones are closed instead of pooled.
constexpr std::size_t kMaxIdleReaders = 32;
constexpr std::size_t kInitialWriteQueue = 64;

// Each step is frozen once released: databases in the field were built by exactly this text.
constexpr std::array<const char*, 8> kMigrations = {
    // 0 -> 1: the initial schema.
    R"sql(
CREATE TABLE repositories (
  id         INTEGER PRIMARY KEY,
  name       TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL
);

CREATE TABLE blobs (
  digest     TEXT PRIMARY KEY,
  size       INTEGER NOT NULL CHECK (size >= 0),
  created_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE repository_blobs (
  repository_id INTEGER NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
  digest        TEXT NOT NULL REFERENCES blobs (digest),
  created_at    INTEGER NOT NULL,
  PRIMARY KEY (repository_id, digest)
) WITHOUT ROWID;
CREATE INDEX repository_blobs_by_digest ON repository_blobs (digest);

CREATE TABLE uploads (
  id            TEXT PRIMARY KEY,
  repository_id INTEGER NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
  created_at    INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX uploads_by_repository ON uploads (repository_id);

CREATE TABLE manifests (
  id             INTEGER PRIMARY KEY,
  repository_id  INTEGER NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
  digest         TEXT NOT NULL,
  media_type     TEXT NOT NULL,
  artifact_type  TEXT NOT NULL DEFAULT '',
  subject_digest TEXT,
  annotations    TEXT NOT NULL DEFAULT '',
  size           INTEGER NOT NULL CHECK (size >= 0),
  created_at     INTEGER NOT NULL,
  content        BLOB NOT NULL,
  UNIQUE (repository_id, digest)
);
CREATE INDEX manifests_by_subject ON manifests (repository_id, subject_digest, digest)
  WHERE subject_digest IS NOT NULL;

CREATE TABLE manifest_references (
  manifest_id  INTEGER NOT NULL REFERENCES manifests (id) ON DELETE CASCADE,
  child_digest TEXT NOT NULL,
  kind         TEXT NOT NULL CHECK (kind IN ('blob', 'manifest')),
  PRIMARY KEY (manifest_id, child_digest, kind)
) WITHOUT ROWID;
CREATE INDEX manifest_references_by_child ON manifest_references (child_digest);

CREATE TABLE tags (
  repository_id INTEGER NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
  name          TEXT NOT NULL,
  manifest_id   INTEGER NOT NULL REFERENCES manifests (id) ON DELETE CASCADE,
  created_at    INTEGER NOT NULL,
  updated_at    INTEGER NOT NULL,
  PRIMARY KEY (repository_id, name)
) WITHOUT ROWID;
CREATE INDEX tags_by_manifest ON tags (manifest_id);
)sql",
    // 1 -> 2: registries. Existing repositories move into the default registry. A UNIQUE
    // constraint cannot be dropped, so repositories is rebuilt following SQLite's procedure
    // for schema changes (https://www.sqlite.org/lang_altertable.html#otheralter): migrate()
    // runs this with foreign keys off, so dropping the old table neither cascades into nor
    // rewrites the tables that reference it; they refer to the new table once it takes the
    // name, and migrate() checks every foreign key before committing.
    R"sql(
CREATE TABLE registries (
  id                     INTEGER PRIMARY KEY AUTOINCREMENT,
  name                   TEXT NOT NULL UNIQUE COLLATE NOCASE,
  tier                   TEXT NOT NULL,
  region                 TEXT NOT NULL DEFAULT '',
  created_at             INTEGER NOT NULL,
  admin_user_enabled     INTEGER NOT NULL DEFAULT 0 CHECK (admin_user_enabled IN (0, 1)),
  anonymous_pull_enabled INTEGER NOT NULL DEFAULT 0 CHECK (anonymous_pull_enabled IN (0, 1)),
  public_network_access  INTEGER NOT NULL DEFAULT 1 CHECK (public_network_access IN (0, 1))
);
INSERT INTO registries (id, name, tier, region, created_at)
  VALUES (1, 'default', 'Standard', '', CAST(strftime('%s', 'now') AS INTEGER));

CREATE TABLE repositories_v2 (
  id          INTEGER PRIMARY KEY,
  registry_id INTEGER NOT NULL REFERENCES registries (id) ON DELETE CASCADE,
  name        TEXT NOT NULL,
  created_at  INTEGER NOT NULL,
  UNIQUE (registry_id, name)
);
INSERT INTO repositories_v2 (id, registry_id, name, created_at)
  SELECT id, 1, name, created_at FROM repositories;
DROP TABLE repositories;
ALTER TABLE repositories_v2 RENAME TO repositories;
)sql",
    // 2 -> 3: upload sessions record their last activity, so idle ones can expire.
    R"sql(
ALTER TABLE uploads ADD COLUMN updated_at INTEGER NOT NULL DEFAULT 0;
UPDATE uploads SET updated_at = created_at;
CREATE INDEX uploads_by_activity ON uploads (updated_at);
)sql",
    // 3 -> 4: access control (the AccessStore part, sqlite_access_store.cc). Registries from
    // before it start with the admin user off, whatever the flag said when it was only stored:
    // the deployment administrator grants access.
    R"sql(
ALTER TABLE registries ADD COLUMN default_network_action TEXT NOT NULL DEFAULT 'Allow'
  CHECK (default_network_action IN ('Allow', 'Deny'));
UPDATE registries SET admin_user_enabled = 0;

CREATE TABLE admin_passwords (
  registry_id  INTEGER NOT NULL REFERENCES registries (id) ON DELETE CASCADE,
  name         TEXT NOT NULL COLLATE NOCASE,
  sealed_value TEXT NOT NULL,
  created_at   INTEGER NOT NULL,
  PRIMARY KEY (registry_id, name)
) WITHOUT ROWID;

CREATE TABLE scope_maps (
  id          INTEGER PRIMARY KEY,
  registry_id INTEGER NOT NULL REFERENCES registries (id) ON DELETE CASCADE,
  name        TEXT NOT NULL COLLATE NOCASE,
  description TEXT NOT NULL DEFAULT '',
  created_at  INTEGER NOT NULL,
  UNIQUE (registry_id, name)
);

CREATE TABLE scope_map_actions (
  scope_map_id INTEGER NOT NULL REFERENCES scope_maps (id) ON DELETE CASCADE,
  position     INTEGER NOT NULL,
  action       TEXT NOT NULL,
  PRIMARY KEY (scope_map_id, position),
  UNIQUE (scope_map_id, action)
) WITHOUT ROWID;

CREATE TABLE tokens (
  id          INTEGER PRIMARY KEY,
  registry_id INTEGER NOT NULL REFERENCES registries (id) ON DELETE CASCADE,
  name        TEXT NOT NULL COLLATE NOCASE,
  scope_map   TEXT NOT NULL COLLATE NOCASE,
  enabled     INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
  created_at  INTEGER NOT NULL,
  UNIQUE (registry_id, name)
);
CREATE INDEX tokens_by_scope_map ON tokens (registry_id, scope_map);

CREATE TABLE token_passwords (
  token_id    INTEGER NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
  name        TEXT NOT NULL COLLATE NOCASE,
  secret_hash TEXT NOT NULL,
  expiry      INTEGER,
  created_at  INTEGER NOT NULL,
  PRIMARY KEY (token_id, name)
) WITHOUT ROWID;

CREATE TABLE identities (
  id          TEXT PRIMARY KEY,
  name        TEXT NOT NULL UNIQUE COLLATE NOCASE,
  kind        TEXT NOT NULL CHECK (kind IN ('user', 'servicePrincipal', 'federated')),
  secret_hash TEXT NOT NULL DEFAULT '',
  expiry      INTEGER,
  enabled     INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
  issuer      TEXT NOT NULL DEFAULT '',
  audience    TEXT NOT NULL DEFAULT '',
  jwks        TEXT NOT NULL DEFAULT '',
  subject     TEXT NOT NULL DEFAULT '',
  claims_json TEXT NOT NULL DEFAULT '',
  created_at  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX identities_by_issuer ON identities (issuer, name) WHERE kind = 'federated';

CREATE TABLE role_assignments (
  id          TEXT PRIMARY KEY,
  identity_id TEXT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
  role        TEXT NOT NULL,
  registry_id INTEGER NOT NULL REFERENCES registries (id) ON DELETE CASCADE,
  repository  TEXT NOT NULL DEFAULT '',
  created_at  INTEGER NOT NULL,
  UNIQUE (identity_id, role, registry_id, repository)
) WITHOUT ROWID;
CREATE INDEX role_assignments_by_registry ON role_assignments (registry_id, created_at, id);
CREATE INDEX role_assignments_by_identity ON role_assignments (identity_id, created_at, id);

CREATE TABLE network_rules (
  registry_id   INTEGER NOT NULL REFERENCES registries (id) ON DELETE CASCADE,
  address_range TEXT NOT NULL COLLATE NOCASE,
  created_at    INTEGER NOT NULL,
  PRIMARY KEY (registry_id, address_range)
) WITHOUT ROWID;

CREATE TABLE signing_keys (
  id                 INTEGER PRIMARY KEY,
  kid                TEXT NOT NULL UNIQUE,
  sealed_private_key TEXT NOT NULL,
  created_at         INTEGER NOT NULL,
  active             INTEGER NOT NULL DEFAULT 0 CHECK (active IN (0, 1))
);
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (active) WHERE active = 1;

CREATE TABLE login_events (
  id             INTEGER PRIMARY KEY AUTOINCREMENT,
  time           INTEGER NOT NULL,
  registry_id    INTEGER,
  identity       TEXT NOT NULL DEFAULT '',
  identity_kind  TEXT NOT NULL DEFAULT '',
  client_address TEXT NOT NULL DEFAULT '',
  success        INTEGER NOT NULL CHECK (success IN (0, 1)),
  method         TEXT NOT NULL DEFAULT '',
  reason         TEXT NOT NULL DEFAULT ''
);
CREATE INDEX login_events_by_registry ON login_events (registry_id, id);
CREATE INDEX login_events_by_identity ON login_events (identity, id);
CREATE INDEX login_events_by_time ON login_events (time);
)sql",
    // 4 -> 5: repository events (the outbox and the audit log), webhooks and their deliveries
    // (the EventStore part, sqlite_event_store.cc).
    R"sql(
CREATE TABLE events (
  sequence       INTEGER PRIMARY KEY AUTOINCREMENT,
  id             TEXT NOT NULL,
  registry_id    INTEGER NOT NULL,
  action         TEXT NOT NULL,
  repository     TEXT NOT NULL DEFAULT '',
  tag            TEXT NOT NULL DEFAULT '',
  digest         TEXT NOT NULL DEFAULT '',
  media_type     TEXT NOT NULL DEFAULT '',
  artifact_type  TEXT NOT NULL DEFAULT '',
  size           INTEGER NOT NULL DEFAULT 0,
  identity       TEXT NOT NULL DEFAULT '',
  identity_kind  TEXT NOT NULL DEFAULT '',
  client_address TEXT NOT NULL DEFAULT '',
  request_id     TEXT NOT NULL DEFAULT '',
  host           TEXT NOT NULL DEFAULT '',
  method         TEXT NOT NULL DEFAULT '',
  user_agent     TEXT NOT NULL DEFAULT '',
  created_at     INTEGER NOT NULL,
  deliverable    INTEGER NOT NULL CHECK (deliverable IN (0, 1)),
  webhook_id     INTEGER,
  redelivery_of  INTEGER,
  queued_at      INTEGER NOT NULL
);
CREATE INDEX events_by_registry ON events (registry_id, sequence);
CREATE INDEX events_to_deliver ON events (registry_id, sequence) WHERE deliverable = 1;
CREATE INDEX events_by_id ON events (id);
CREATE INDEX events_by_time ON events (created_at);

CREATE TABLE webhooks (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  registry_id     INTEGER NOT NULL REFERENCES registries (id) ON DELETE CASCADE,
  name            TEXT NOT NULL COLLATE NOCASE,
  service_uri     TEXT NOT NULL,
  sealed_headers  TEXT NOT NULL DEFAULT '',
  sealed_secret   TEXT NOT NULL DEFAULT '',
  actions         TEXT NOT NULL,
  scope           TEXT NOT NULL DEFAULT '',
  enabled         INTEGER NOT NULL CHECK (enabled IN (0, 1)),
  format          TEXT NOT NULL DEFAULT 'default',
  created_at      INTEGER NOT NULL,
  cursor          INTEGER NOT NULL DEFAULT 0,
  attempt         INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL DEFAULT 0,
  lease_owner     TEXT NOT NULL DEFAULT '',
  lease_until     INTEGER NOT NULL DEFAULT 0,
  UNIQUE (registry_id, name)
);

CREATE TABLE webhook_deliveries (
  id               INTEGER PRIMARY KEY AUTOINCREMENT,
  webhook_id       INTEGER NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
  event_sequence   INTEGER NOT NULL,
  event_id         TEXT NOT NULL,
  action           TEXT NOT NULL,
  attempt          INTEGER NOT NULL,
  started_at       INTEGER NOT NULL,
  latency_ms       INTEGER NOT NULL,
  request_headers  TEXT NOT NULL,
  request_body     TEXT NOT NULL,
  status           INTEGER NOT NULL,
  response_headers TEXT NOT NULL,
  response_excerpt TEXT NOT NULL,
  error            TEXT NOT NULL,
  result           TEXT NOT NULL
);
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, id);
CREATE INDEX webhook_deliveries_by_time ON webhook_deliveries (started_at);
)sql",
    // 5 -> 6: content lifecycle. Changeable attributes (locks) on repositories, manifests and
    // tags; storage quotas; and what online garbage collection needs: a blob's last use
    // (touched_at, the grace period runs from it) and its deletion claim (deleting: the bytes
    // may be removed only while it is set, and nothing links a blob that has it), plus the runs
    // of the collector. Blobs known before this step count as just used, so the first
    // collection after the upgrade waits a full grace period before it frees any.
    R"sql(
ALTER TABLE repositories ADD COLUMN write_enabled INTEGER NOT NULL DEFAULT 1
  CHECK (write_enabled IN (0, 1));
ALTER TABLE repositories ADD COLUMN delete_enabled INTEGER NOT NULL DEFAULT 1
  CHECK (delete_enabled IN (0, 1));
ALTER TABLE repositories ADD COLUMN read_enabled INTEGER NOT NULL DEFAULT 1
  CHECK (read_enabled IN (0, 1));
ALTER TABLE repositories ADD COLUMN list_enabled INTEGER NOT NULL DEFAULT 1
  CHECK (list_enabled IN (0, 1));
ALTER TABLE repositories ADD COLUMN storage_quota_bytes INTEGER CHECK (storage_quota_bytes >= 0);

ALTER TABLE manifests ADD COLUMN write_enabled INTEGER NOT NULL DEFAULT 1
  CHECK (write_enabled IN (0, 1));
ALTER TABLE manifests ADD COLUMN delete_enabled INTEGER NOT NULL DEFAULT 1
  CHECK (delete_enabled IN (0, 1));
ALTER TABLE manifests ADD COLUMN read_enabled INTEGER NOT NULL DEFAULT 1
  CHECK (read_enabled IN (0, 1));
ALTER TABLE manifests ADD COLUMN list_enabled INTEGER NOT NULL DEFAULT 1
  CHECK (list_enabled IN (0, 1));
ALTER TABLE manifests ADD COLUMN updated_at INTEGER NOT NULL DEFAULT 0;

ALTER TABLE tags ADD COLUMN write_enabled INTEGER NOT NULL DEFAULT 1
  CHECK (write_enabled IN (0, 1));
ALTER TABLE tags ADD COLUMN delete_enabled INTEGER NOT NULL DEFAULT 1
  CHECK (delete_enabled IN (0, 1));
ALTER TABLE tags ADD COLUMN read_enabled INTEGER NOT NULL DEFAULT 1
  CHECK (read_enabled IN (0, 1));
ALTER TABLE tags ADD COLUMN list_enabled INTEGER NOT NULL DEFAULT 1
  CHECK (list_enabled IN (0, 1));

ALTER TABLE registries ADD COLUMN storage_quota_bytes INTEGER CHECK (storage_quota_bytes >= 0);

ALTER TABLE blobs ADD COLUMN touched_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE blobs ADD COLUMN deleting INTEGER NOT NULL DEFAULT 0 CHECK (deleting IN (0, 1));
UPDATE blobs SET touched_at = CAST(strftime('%s', 'now') AS INTEGER);
CREATE INDEX blobs_deleting ON blobs (digest) WHERE deleting = 1;

CREATE TABLE gc_runs (
  id                   INTEGER PRIMARY KEY AUTOINCREMENT,
  registry_id          INTEGER REFERENCES registries (id) ON DELETE CASCADE,
  started_by           TEXT NOT NULL,
  dry_run              INTEGER NOT NULL CHECK (dry_run IN (0, 1)),
  state                TEXT NOT NULL,
  phase                TEXT NOT NULL DEFAULT '',
  cursor               TEXT NOT NULL DEFAULT '',
  cutoff               INTEGER NOT NULL,
  started_at           INTEGER NOT NULL,
  updated_at           INTEGER NOT NULL,
  finished_at          INTEGER NOT NULL DEFAULT 0,
  links_examined       INTEGER NOT NULL DEFAULT 0,
  links_removed        INTEGER NOT NULL DEFAULT 0,
  repositories_removed INTEGER NOT NULL DEFAULT 0,
  blobs_examined       INTEGER NOT NULL DEFAULT 0,
  objects_examined     INTEGER NOT NULL DEFAULT 0,
  blobs_deleted        INTEGER NOT NULL DEFAULT 0,
  bytes_reclaimed      INTEGER NOT NULL DEFAULT 0,
  error                TEXT NOT NULL DEFAULT ''
);
CREATE INDEX gc_runs_by_registry ON gc_runs (registry_id, id);
)sql",
    // 6 -> 7: what /acr/v1 lists. The platform (architecture, os) an image manifest's config
    // names, recorded when the manifest is pushed (manifests pushed before have none), and the
    // indexes its listings by last update scan. The expression of manifests_by_time is the one
    // the listing statements order by (BERTH_MANIFEST_TIME), so they can use it.
    R"sql(
CREATE TABLE manifest_platforms (
  manifest_id  INTEGER PRIMARY KEY REFERENCES manifests (id) ON DELETE CASCADE,
  architecture TEXT NOT NULL,
  os           TEXT NOT NULL
);
CREATE INDEX tags_by_time ON tags (repository_id, updated_at, name);
CREATE INDEX manifests_by_time ON manifests
  (repository_id, (CASE WHEN updated_at != 0 THEN updated_at ELSE created_at END), digest);
)sql",
    // 7 -> 8: soft delete, retention, purge schedules and exact usage counters
    // (lifecycle_store.h).
    // - Soft-deleted manifests and tags are kept by the repository's name, so they outlive it.
    // - manifests.untagged_at: when the manifest lost its last tag (or was pushed without one);
    //   NULL while tagged. The tag triggers keep it, whatever path changes tags.
    // - linked_bytes on repositories and registries: the link triggers keep them exact in the
    //   transaction of every link change (a blob linked twice in a registry counts once there).
    //   A repository's links go before the repository itself, so the link trigger still finds
    //   its registry when a repository or registry delete cascades.
    R"sql(
ALTER TABLE registries ADD COLUMN soft_delete_enabled INTEGER NOT NULL DEFAULT 0
  CHECK (soft_delete_enabled IN (0, 1));
ALTER TABLE registries ADD COLUMN soft_delete_days INTEGER NOT NULL DEFAULT 7
  CHECK (soft_delete_days BETWEEN 1 AND 90);
ALTER TABLE registries ADD COLUMN soft_delete_updated_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE registries ADD COLUMN retention_enabled INTEGER NOT NULL DEFAULT 0
  CHECK (retention_enabled IN (0, 1));
ALTER TABLE registries ADD COLUMN retention_days INTEGER NOT NULL DEFAULT 7
  CHECK (retention_days BETWEEN 0 AND 365);
ALTER TABLE registries ADD COLUMN retention_updated_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE registries ADD COLUMN retention_enabled_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE registries ADD COLUMN linked_bytes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE repositories ADD COLUMN linked_bytes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE manifests ADD COLUMN untagged_at INTEGER;

UPDATE repositories SET linked_bytes = (SELECT COALESCE(sum(b.size), 0) FROM repository_blobs rb
  JOIN blobs b ON b.digest = rb.digest WHERE rb.repository_id = repositories.id);
UPDATE registries SET linked_bytes = (SELECT COALESCE(sum(size), 0) FROM blobs WHERE digest IN (
  SELECT rb.digest FROM repositories r JOIN repository_blobs rb ON rb.repository_id = r.id
  WHERE r.registry_id = registries.id));
UPDATE manifests SET untagged_at = created_at
  WHERE NOT EXISTS (SELECT 1 FROM tags WHERE manifest_id = manifests.id);
CREATE INDEX manifests_untagged ON manifests (untagged_at) WHERE untagged_at IS NOT NULL;

CREATE TRIGGER tag_added AFTER INSERT ON tags BEGIN
  UPDATE manifests SET untagged_at = NULL WHERE id = NEW.manifest_id;
END;
CREATE TRIGGER tag_moved AFTER UPDATE OF manifest_id ON tags BEGIN
  UPDATE manifests SET untagged_at = CAST(strftime('%s', 'now') AS INTEGER)
    WHERE id = OLD.manifest_id AND NOT EXISTS (SELECT 1 FROM tags WHERE manifest_id = OLD.manifest_id);
  UPDATE manifests SET untagged_at = NULL WHERE id = NEW.manifest_id;
END;
CREATE TRIGGER tag_removed AFTER DELETE ON tags BEGIN
  UPDATE manifests SET untagged_at = CAST(strftime('%s', 'now') AS INTEGER)
    WHERE id = OLD.manifest_id AND NOT EXISTS (SELECT 1 FROM tags WHERE manifest_id = OLD.manifest_id);
END;

CREATE TRIGGER link_added AFTER INSERT ON repository_blobs BEGIN
  UPDATE repositories SET linked_bytes = linked_bytes +
    (SELECT size FROM blobs WHERE digest = NEW.digest) WHERE id = NEW.repository_id;
  UPDATE registries SET linked_bytes = linked_bytes + (SELECT size FROM blobs WHERE digest = NEW.digest)
    WHERE id = (SELECT registry_id FROM repositories WHERE id = NEW.repository_id)
    AND NOT EXISTS (SELECT 1 FROM repository_blobs rb CROSS JOIN repositories r ON r.id = rb.repository_id
      WHERE rb.digest = NEW.digest AND rb.repository_id != NEW.repository_id
      AND r.registry_id = registries.id);
END;
CREATE TRIGGER link_removed AFTER DELETE ON repository_blobs BEGIN
  UPDATE repositories SET linked_bytes = linked_bytes -
    (SELECT size FROM blobs WHERE digest = OLD.digest) WHERE id = OLD.repository_id;
  UPDATE registries SET linked_bytes = linked_bytes - (SELECT size FROM blobs WHERE digest = OLD.digest)
    WHERE id = (SELECT registry_id FROM repositories WHERE id = OLD.repository_id)
    AND NOT EXISTS (SELECT 1 FROM repository_blobs rb CROSS JOIN repositories r ON r.id = rb.repository_id
      WHERE rb.digest = OLD.digest AND r.registry_id = registries.id);
END;
CREATE TRIGGER repository_removed BEFORE DELETE ON repositories BEGIN
  DELETE FROM repository_blobs WHERE repository_id = OLD.id;
END;

CREATE TABLE deleted_manifests (
  id            INTEGER PRIMARY KEY,
  registry_id   INTEGER NOT NULL REFERENCES registries (id) ON DELETE CASCADE,
  repository    TEXT NOT NULL,
  digest        TEXT NOT NULL,
  media_type    TEXT NOT NULL,
  artifact_type TEXT NOT NULL,
  subject_digest TEXT,
  annotations   TEXT NOT NULL,
  size          INTEGER NOT NULL,
  created_at    INTEGER NOT NULL,
  updated_at    INTEGER NOT NULL,
  content       BLOB NOT NULL,
  write_enabled INTEGER NOT NULL,
  read_enabled  INTEGER NOT NULL,
  list_enabled  INTEGER NOT NULL,
  architecture  TEXT,
  os            TEXT,
  deleted_at    INTEGER NOT NULL,
  expires_at    INTEGER NOT NULL,
  UNIQUE (registry_id, repository, digest)
);
CREATE INDEX deleted_manifests_by_expiry ON deleted_manifests (expires_at);

CREATE TABLE deleted_manifest_references (
  deleted_manifest_id INTEGER NOT NULL REFERENCES deleted_manifests (id) ON DELETE CASCADE,
  child_digest        TEXT NOT NULL,
  kind                TEXT NOT NULL,
  PRIMARY KEY (deleted_manifest_id, child_digest, kind)
) WITHOUT ROWID;
CREATE INDEX deleted_manifest_references_by_child ON deleted_manifest_references (child_digest);

CREATE TABLE deleted_tags (
  registry_id INTEGER NOT NULL REFERENCES registries (id) ON DELETE CASCADE,
  repository  TEXT NOT NULL,
  name        TEXT NOT NULL,
  digest      TEXT NOT NULL,
  created_at  INTEGER NOT NULL,
  deleted_at  INTEGER NOT NULL,
  expires_at  INTEGER NOT NULL,
  PRIMARY KEY (registry_id, repository, name, digest)
) WITHOUT ROWID;
CREATE INDEX deleted_tags_by_expiry ON deleted_tags (expires_at);
CREATE INDEX deleted_tags_by_digest ON deleted_tags (registry_id, repository, digest);

CREATE TABLE purge_schedules (
  registry_id INTEGER NOT NULL REFERENCES registries (id) ON DELETE CASCADE,
  name        TEXT NOT NULL,
  schedule    TEXT NOT NULL,
  filters     TEXT NOT NULL,
  ago_seconds INTEGER NOT NULL CHECK (ago_seconds >= 0),
  untagged    INTEGER NOT NULL CHECK (untagged IN (0, 1)),
  keep        INTEGER NOT NULL CHECK (keep >= 0),
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL,
  last_run_at INTEGER NOT NULL DEFAULT 0,
  last_result TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (registry_id, name)
) WITHOUT ROWID;
)sql",
};

constexpr int kSchemaVersion = static_cast<int>(kMigrations.size());

// The repository id for the registry in ?1 and the name in ?2; NULL (matching nothing) when
// there is no such repository, so reads of unknown repositories need no separate lookup.
#define BERTH_REPOSITORY_ID "(SELECT id FROM repositories WHERE registry_id = ?1 AND name = ?2)"

#define BERTH_REGISTRY_COLUMNS                                                       \
  "id, name, tier, region, created_at, admin_user_enabled, anonymous_pull_enabled, " \
  "public_network_access, default_network_action"

// The four changeable attributes, in the order attributes_of() reads them.
#define BERTH_ATTRIBUTE_COLUMNS "write_enabled, delete_enabled, read_enabled, list_enabled"

// One row per repository of `r`: name, created_at, updated_at, storage_bytes, manifest_count,
// tag_count, the attributes. updated_at is the latest manifest push or tag change, else the repository's
// creation; the multi-argument max() is NULL if any argument is, hence the coalesces.
#define BERTH_REPOSITORY_SUMMARY                                                              \
  "SELECT name, created_at, "                                                                 \
  "COALESCE(max(COALESCE(manifest_at, tag_at), COALESCE(tag_at, manifest_at)), created_at), " \
  "storage_bytes, manifest_count, tag_count, " BERTH_ATTRIBUTE_COLUMNS " FROM ("              \
  "SELECT r.name AS name, r.created_at AS created_at, " BERTH_ATTRIBUTE_COLUMNS ", "          \
  "(SELECT max(created_at) FROM manifests WHERE repository_id = r.id) AS manifest_at, "       \
  "(SELECT max(updated_at) FROM tags WHERE repository_id = r.id) AS tag_at, "                 \
  "(SELECT COALESCE(sum(b.size), 0) FROM repository_blobs rb JOIN blobs b "                   \
  "ON b.digest = rb.digest WHERE rb.repository_id = r.id) AS storage_bytes, "                 \
  "(SELECT count(*) FROM manifests WHERE repository_id = r.id) AS manifest_count, "           \
  "(SELECT count(*) FROM tags WHERE repository_id = r.id) AS tag_count "                      \
  "FROM repositories r "

// The tag listing's rows: name, digest, created_at, updated_at, the attributes.
#define BERTH_TAG_PAGE                                                                       \
  "SELECT t.name, m.digest, t.created_at, t.updated_at, t.write_enabled, t.delete_enabled, " \
  "t.read_enabled, t.list_enabled FROM tags t JOIN manifests m ON m.id = t.manifest_id "     \
  "WHERE t.repository_id = " BERTH_REPOSITORY_ID " AND t.list_enabled = 1"

// A manifest's last update, exactly as manifests_by_time indexes it (no table alias, so the
// planner recognises the expression).
#define BERTH_MANIFEST_TIME "(CASE WHEN updated_at != 0 THEN updated_at ELSE created_at END)"

// The manifest listing's rows: digest, media_type, artifact_type, size, created_at,
// updated_at, the attributes, architecture, os, image size (its bytes and those of the blobs
// it references) and its tags joined by newlines (which no tag name contains).
#define BERTH_MANIFEST_PAGE                                                                    \
  "SELECT digest, media_type, artifact_type, size, created_at, updated_at, "                   \
  BERTH_ATTRIBUTE_COLUMNS ", "                                                                 \
  "COALESCE((SELECT architecture FROM manifest_platforms WHERE manifest_id = manifests.id), "  \
  "''), "                                                                                      \
  "COALESCE((SELECT os FROM manifest_platforms WHERE manifest_id = manifests.id), ''), "       \
  "size + (SELECT COALESCE(sum(b.size), 0) FROM manifest_references r JOIN blobs b "           \
  "ON b.digest = r.child_digest WHERE r.manifest_id = manifests.id AND r.kind = 'blob'), "     \
  "(SELECT group_concat(name, char(10)) FROM tags WHERE manifest_id = manifests.id) "          \
  "FROM manifests WHERE repository_id = " BERTH_REPOSITORY_ID

constexpr StatementSpec<Sql> kStatements[] = {
    {Sql::begin_immediate, "begin transaction", "BEGIN IMMEDIATE"},
    {Sql::commit, "commit", "COMMIT"},
    {Sql::rollback, "rollback", "ROLLBACK"},
    {Sql::savepoint, "savepoint", "SAVEPOINT berth_write"},
    {Sql::release_savepoint, "release savepoint", "RELEASE berth_write"},
    {Sql::rollback_to_savepoint, "roll back to savepoint", "ROLLBACK TO berth_write"},
    {Sql::insert_registry, "insert registry",
     "INSERT INTO registries (name, tier, region, created_at, admin_user_enabled, "
     "anonymous_pull_enabled, public_network_access, default_network_action) "
     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"},
    {Sql::find_registry, "find registry",
     "SELECT " BERTH_REGISTRY_COLUMNS " FROM registries WHERE name = ?1"},
    {Sql::list_registries, "list registries",
     "SELECT " BERTH_REGISTRY_COLUMNS " FROM registries ORDER BY name"},
    {Sql::update_registry, "update registry",
     "UPDATE registries SET tier = ?2, region = ?3, admin_user_enabled = ?4, "
     "anonymous_pull_enabled = ?5, public_network_access = ?6, default_network_action = ?7 "
     "WHERE id = ?1"},
    {Sql::delete_registry, "delete registry", "DELETE FROM registries WHERE id = ?1"},
    // The counter the link triggers keep (schema 8); recount_registry_bytes recounts it.
    {Sql::registry_storage_bytes, "read registry storage",
     "SELECT linked_bytes FROM registries WHERE id = ?1"},
    {Sql::list_repository_summaries, "list repository summaries",
     BERTH_REPOSITORY_SUMMARY "WHERE r.registry_id = ?1) ORDER BY name"},
    {Sql::repository_summary, "read repository summary",
     BERTH_REPOSITORY_SUMMARY "WHERE r.registry_id = ?1 AND r.name = ?2)"},
    {Sql::delete_repository, "delete repository",
     "DELETE FROM repositories WHERE registry_id = ?1 AND name = ?2"},
    {Sql::list_tag_records, "list tag records",
     "SELECT t.name, m.digest, t.created_at, t.updated_at, t.write_enabled, t.delete_enabled, "
     "t.read_enabled, t.list_enabled FROM tags t "
     "JOIN manifests m ON m.id = t.manifest_id WHERE t.repository_id = " BERTH_REPOSITORY_ID
     " ORDER BY t.name"},
    // One row per (manifest, tag), untagged manifests once with a NULL tag; rows of a manifest
    // are adjacent and its tags come in order.
    {Sql::list_manifest_summaries, "list manifest summaries",
     "SELECT m.digest, m.media_type, m.artifact_type, m.size, m.created_at, t.name, "
     "m.updated_at, m.write_enabled, m.delete_enabled, m.read_enabled, m.list_enabled "
     "FROM manifests m LEFT JOIN tags t ON t.manifest_id = m.id "
     "WHERE m.repository_id = " BERTH_REPOSITORY_ID
     " ORDER BY m.created_at DESC, m.digest, t.name"},
    {Sql::find_repository, "find repository",
     "SELECT id FROM repositories WHERE registry_id = ?1 AND name = ?2"},
    {Sql::insert_repository, "insert repository",
     "INSERT INTO repositories (registry_id, name, created_at) VALUES (?1, ?2, ?3)"},
    {Sql::list_repositories, "list repositories",
     "SELECT name FROM repositories WHERE registry_id = ?1 AND name > ?2 AND list_enabled = 1 "
     "ORDER BY name LIMIT ?3"},
    {Sql::insert_blob, "insert blob",
     "INSERT INTO blobs (digest, size, created_at, touched_at) VALUES (?1, ?2, ?3, ?3) "
     "ON CONFLICT (digest) DO UPDATE SET touched_at = excluded.touched_at "
     "WHERE blobs.deleting = 0"},
    {Sql::blob_size, "read blob size", "SELECT size FROM blobs WHERE digest = ?1"},
    {Sql::link_blob, "link blob",
     "INSERT INTO repository_blobs (repository_id, digest, created_at) VALUES (?1, ?2, ?3) "
     "ON CONFLICT (repository_id, digest) DO UPDATE SET created_at = excluded.created_at"},
    {Sql::linked_blob_size, "read linked blob size",
     "SELECT b.size FROM repository_blobs rb JOIN blobs b ON b.digest = rb.digest "
     "WHERE rb.repository_id = " BERTH_REPOSITORY_ID " AND rb.digest = ?3"},
    {Sql::unlink_blob, "unlink blob",
     "DELETE FROM repository_blobs WHERE repository_id = " BERTH_REPOSITORY_ID " AND digest = ?3"},
    {Sql::insert_upload, "insert upload",
     "INSERT INTO uploads (id, repository_id, created_at, updated_at) VALUES (?1, ?2, ?3, ?4)"},
    {Sql::count_uploads_in_registry, "count uploads",
     "SELECT count(*) FROM uploads u JOIN repositories r ON r.id = u.repository_id "
     "WHERE r.registry_id = ?1"},
    {Sql::get_upload, "read upload",
     "SELECT r.registry_id, r.name, u.created_at, u.updated_at FROM uploads u "
     "JOIN repositories r ON r.id = u.repository_id WHERE u.id = ?1"},
    {Sql::touch_upload, "touch upload", "UPDATE uploads SET updated_at = ?2 WHERE id = ?1"},
    {Sql::list_idle_uploads, "list idle uploads",
     "SELECT u.id, r.registry_id, r.name, u.created_at, u.updated_at FROM uploads u "
     "JOIN repositories r ON r.id = u.repository_id WHERE u.updated_at < ?1 "
     "ORDER BY u.updated_at LIMIT ?2"},
    {Sql::delete_upload, "delete upload", "DELETE FROM uploads WHERE id = ?1"},
    {Sql::insert_manifest, "insert manifest",
     "INSERT INTO manifests (repository_id, digest, media_type, artifact_type, subject_digest, "
     "annotations, size, created_at, content, untagged_at) "
     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?8) "
     "ON CONFLICT (repository_id, digest) DO NOTHING"},
    {Sql::find_manifest_id, "find manifest",
     "SELECT id FROM manifests WHERE repository_id = ?1 AND digest = ?2"},
    {Sql::insert_reference, "insert manifest reference",
     "INSERT INTO manifest_references (manifest_id, child_digest, kind) VALUES (?1, ?2, ?3) "
     "ON CONFLICT DO NOTHING"},
    {Sql::upsert_tag, "tag manifest",
     "INSERT INTO tags (repository_id, name, manifest_id, created_at, updated_at) "
     "VALUES (?1, ?2, ?3, ?4, ?4) "
     "ON CONFLICT (repository_id, name) DO UPDATE SET manifest_id = excluded.manifest_id, "
     "updated_at = excluded.updated_at WHERE tags.manifest_id IS NOT excluded.manifest_id"},
    {Sql::get_manifest, "read manifest",
     "SELECT media_type, artifact_type, subject_digest, annotations, created_at, content, "
     BERTH_ATTRIBUTE_COLUMNS ", updated_at, "
     "(SELECT architecture FROM manifest_platforms WHERE manifest_id = manifests.id), "
     "(SELECT os FROM manifest_platforms WHERE manifest_id = manifests.id) "
     "FROM manifests WHERE repository_id = " BERTH_REPOSITORY_ID " AND digest = ?3"},
    {Sql::manifest_exists, "check manifest",
     "SELECT 1 FROM manifests WHERE repository_id = " BERTH_REPOSITORY_ID " AND digest = ?3"},
    {Sql::manifest_size, "read manifest size",
     "SELECT size FROM manifests WHERE repository_id = " BERTH_REPOSITORY_ID " AND digest = ?3"},
    {Sql::resolve_tag, "resolve tag",
     "SELECT m.digest FROM tags t JOIN manifests m ON m.id = t.manifest_id "
     "WHERE t.repository_id = " BERTH_REPOSITORY_ID " AND t.name = ?3"},
    {Sql::delete_manifest, "delete manifest",
     "DELETE FROM manifests WHERE repository_id = " BERTH_REPOSITORY_ID " AND digest = ?3"},
    {Sql::delete_tag, "delete tag",
     "DELETE FROM tags WHERE repository_id = " BERTH_REPOSITORY_ID " AND name = ?3"},
    {Sql::list_tags, "list tags",
     "SELECT name FROM tags WHERE repository_id = " BERTH_REPOSITORY_ID
     " AND name > ?3 AND list_enabled = 1 ORDER BY name LIMIT ?4"},
    {Sql::list_referrers, "list referrers",
     "SELECT digest, media_type, artifact_type, size, annotations FROM manifests "
     "WHERE repository_id = " BERTH_REPOSITORY_ID " AND subject_digest = ?3 "
     "AND (?4 IS NULL OR artifact_type = ?4) ORDER BY digest"},
    // --- changeable attributes (sqlite_attributes.cc) ---
    {Sql::repository_attributes, "read repository attributes",
     "SELECT " BERTH_ATTRIBUTE_COLUMNS " FROM repositories WHERE registry_id = ?1 AND name = ?2"},
    {Sql::find_tag, "find tag",
     "SELECT m.digest, t.created_at, t.updated_at, t.write_enabled, t.delete_enabled, "
     "t.read_enabled, t.list_enabled FROM tags t JOIN manifests m ON m.id = t.manifest_id "
     "WHERE t.repository_id = " BERTH_REPOSITORY_ID " AND t.name = ?3"},
    {Sql::manifest_attributes, "read manifest attributes",
     "SELECT " BERTH_ATTRIBUTE_COLUMNS " FROM manifests WHERE repository_id = " BERTH_REPOSITORY_ID
     " AND digest = ?3"},
    // NULL for an attribute leaves it as it is.
    {Sql::update_repository_attributes, "update repository attributes",
     "UPDATE repositories SET write_enabled = COALESCE(?3, write_enabled), "
     "delete_enabled = COALESCE(?4, delete_enabled), read_enabled = COALESCE(?5, read_enabled), "
     "list_enabled = COALESCE(?6, list_enabled) WHERE registry_id = ?1 AND name = ?2 "
     "RETURNING " BERTH_ATTRIBUTE_COLUMNS},
    {Sql::update_tag_attributes, "update tag attributes",
     "UPDATE tags SET write_enabled = COALESCE(?4, write_enabled), "
     "delete_enabled = COALESCE(?5, delete_enabled), read_enabled = COALESCE(?6, read_enabled), "
     "list_enabled = COALESCE(?7, list_enabled), updated_at = ?8 "
     "WHERE repository_id = " BERTH_REPOSITORY_ID " AND name = ?3 "
     "RETURNING " BERTH_ATTRIBUTE_COLUMNS},
    {Sql::update_manifest_attributes, "update manifest attributes",
     "UPDATE manifests SET write_enabled = COALESCE(?4, write_enabled), "
     "delete_enabled = COALESCE(?5, delete_enabled), read_enabled = COALESCE(?6, read_enabled), "
     "list_enabled = COALESCE(?7, list_enabled), updated_at = ?8 "
     "WHERE repository_id = " BERTH_REPOSITORY_ID " AND digest = ?3 "
     "RETURNING " BERTH_ATTRIBUTE_COLUMNS},
    // Rows (rank, kind, name): the manifest before its tags, tags by name.
    {Sql::find_manifest_delete_lock, "find a delete lock on a manifest",
     "SELECT 0, 'manifest', digest FROM manifests WHERE repository_id = " BERTH_REPOSITORY_ID
     " AND digest = ?3 AND delete_enabled = 0 "
     "UNION ALL SELECT 1, 'tag', t.name FROM tags t JOIN manifests m ON m.id = t.manifest_id "
     "WHERE m.repository_id = " BERTH_REPOSITORY_ID " AND m.digest = ?3 AND t.delete_enabled = 0 "
     "ORDER BY 1, 3 LIMIT 1"},
    // The repository, then its manifests by digest, then its tags by name.
    {Sql::find_repository_delete_lock, "find a delete lock in a repository",
     "SELECT 0, 'repository', name FROM repositories WHERE registry_id = ?1 AND name = ?2 "
     "AND delete_enabled = 0 "
     "UNION ALL SELECT 1, 'manifest', digest FROM manifests WHERE repository_id = "
     BERTH_REPOSITORY_ID " AND delete_enabled = 0 "
     "UNION ALL SELECT 2, 'tag', name FROM tags WHERE repository_id = " BERTH_REPOSITORY_ID
     " AND delete_enabled = 0 ORDER BY 1, 3 LIMIT 1"},
    // --- paged listings in an order (sqlite_listings.cc) ---
    {Sql::insert_manifest_platform, "record manifest platform",
     "INSERT INTO manifest_platforms (manifest_id, architecture, os) VALUES (?1, ?2, ?3) "
     "ON CONFLICT (manifest_id) DO NOTHING"},
    // ?3 the last key seen, ?4 the limit, ?5 the last time seen. Row values compare like the
    // ORDER BY, so "after the last item" is one range of the index.
    {Sql::tag_page_by_name, "list a page of tags by name",
     BERTH_TAG_PAGE " AND t.name > ?3 ORDER BY t.name LIMIT ?4"},
    {Sql::tag_page_time_asc, "list a page of tags by time",
     BERTH_TAG_PAGE " AND (t.updated_at, t.name) > (?5, ?3) "
     "ORDER BY t.updated_at, t.name LIMIT ?4"},
    {Sql::tag_page_time_desc, "list a page of tags by time, latest first",
     BERTH_TAG_PAGE " AND (t.updated_at, t.name) < (?5, ?3) "
     "ORDER BY t.updated_at DESC, t.name DESC LIMIT ?4"},
    {Sql::manifest_page_by_digest, "list a page of manifests by digest",
     BERTH_MANIFEST_PAGE " AND list_enabled = 1 AND digest > ?3 ORDER BY digest LIMIT ?4"},
    {Sql::manifest_page_time_asc, "list a page of manifests by time",
     BERTH_MANIFEST_PAGE " AND list_enabled = 1 AND (" BERTH_MANIFEST_TIME ", digest) > (?5, ?3) "
     "ORDER BY " BERTH_MANIFEST_TIME ", digest LIMIT ?4"},
    {Sql::manifest_page_time_desc, "list a page of manifests by time, latest first",
     BERTH_MANIFEST_PAGE " AND list_enabled = 1 AND (" BERTH_MANIFEST_TIME ", digest) < (?5, ?3) "
     "ORDER BY " BERTH_MANIFEST_TIME " DESC, digest DESC LIMIT ?4"},
    {Sql::manifest_summary, "read manifest summary", BERTH_MANIFEST_PAGE " AND digest = ?3"},
};

#undef BERTH_REPOSITORY_ID
#undef BERTH_REGISTRY_COLUMNS
#undef BERTH_REPOSITORY_SUMMARY
#undef BERTH_ATTRIBUTE_COLUMNS
#undef BERTH_TAG_PAGE
#undef BERTH_MANIFEST_TIME
#undef BERTH_MANIFEST_PAGE

static_assert(statements_in_enum_order(kStatements), "kStatements is indexed by Sql");

}  // namespace

const StatementSpec<Sql>& spec_of(Sql id) { return kStatements[static_cast<std::size_t>(id)]; }

Result<oci::Digest> stored_digest(std::string_view text) {
  auto digest = oci::Digest::parse(text);
  if (!digest) {
    return MetadataError{Errc::database_error,
                         "metadata database: stored digest is malformed: " + std::string(text)};
  }
  return std::move(*digest);
}

std::optional<MetadataError> check_repository(RepositoryRef repository) {
  if (repository.name.empty()) return invalid_argument("repository name is empty");
  return std::nullopt;
}

Result<std::vector<TagRecord>> collect_tag_records(Statement& stmt, std::size_t capacity) {
  std::vector<TagRecord> tags;
  tags.reserve(capacity);
  for (;;) {
    auto row = stmt.step();
    if (!row) return row.error();
    if (!*row) return tags;
    auto digest = stored_digest(stmt.text(1));
    if (!digest) return digest.error();
    tags.push_back(TagRecord{
        .name = std::string(stmt.text(0)),
        .digest = std::move(*digest),
        .created_at = stmt.integer(2),
        .updated_at = stmt.integer(3),
        .attributes = attributes_of(stmt, 4),
    });
  }
}

namespace {

const char* kind_name(ReferenceKind kind) {
  return kind == ReferenceKind::manifest ? "manifest" : "blob";
}

using Role = SqliteConnection::Role;

MetadataError schema_too_new(std::int64_t found) {
  return {Errc::schema_too_new, "database schema version " + std::to_string(found) +
                                    " is newer than this berth supports (" +
                                    std::to_string(kSchemaVersion) + ")"};
}

void rollback_if_open(SqliteConnection& connection) {
  if (sqlite3_get_autocommit(connection.db()) == 0) {
    (void)connection.exec("ROLLBACK", "rollback");
  }
}

// The first foreign key violation in the database, if any; run inside a migration's transaction.
Result<void> check_foreign_keys(SqliteConnection& connection, std::string_view step_name) {
  auto violation = connection.query_text("PRAGMA foreign_key_check");
  if (!violation) return violation.error();
  if (violation->empty()) return {};
  return MetadataError{Errc::database_error, "metadata database: " + std::string(step_name) +
                                                 ": foreign key violated in table '" + *violation +
                                                 "'"};
}

Result<void> migrate_steps(SqliteConnection& connection);

// Brings the schema to kSchemaVersion. Steps may rebuild tables, which SQLite only allows
// safely with foreign key enforcement off; it can be switched only outside a transaction, so
// it goes off for the whole migration and every step checks all foreign keys before it
// commits instead.
Result<void> migrate(SqliteConnection& connection) {
  if (auto off = connection.exec("PRAGMA foreign_keys = OFF", "preparing a migration"); !off) {
    return off.error();
  }
  auto migrated = migrate_steps(connection);
  if (auto on = connection.exec("PRAGMA foreign_keys = ON", "finishing a migration"); !on) {
    return migrated ? on : migrated;
  }
  return migrated;
}

// Each step runs in its own write transaction that re-reads the version first, so two
// processes starting at once apply every step exactly once.
Result<void> migrate_steps(SqliteConnection& connection) {
  for (;;) {
    auto version = connection.user_version();
    if (!version) return version.error();
    if (*version > kSchemaVersion) return schema_too_new(*version);
    if (*version == kSchemaVersion) return {};

    if (auto begun = connection.exec("BEGIN IMMEDIATE", "starting a migration"); !begun) {
      return begun.error();
    }
    auto current = connection.user_version();
    if (!current) {
      rollback_if_open(connection);
      return current.error();
    }
    if (*current < 0) {
      rollback_if_open(connection);
      return MetadataError{Errc::database_error,
                           "metadata database: invalid schema version " + std::to_string(*current)};
    }
    if (*current >= kSchemaVersion) {
      // Another process got here first; the next turn of the loop re-checks.
      rollback_if_open(connection);
      continue;
    }
    std::string step_name = "migrating the schema to version " + std::to_string(*current + 1);
    std::string bump = "PRAGMA user_version = " + std::to_string(*current + 1);
    auto applied = connection.exec(kMigrations[static_cast<std::size_t>(*current)], step_name);
    if (applied) applied = check_foreign_keys(connection, step_name);
    if (applied) applied = connection.exec(bump.c_str(), step_name);
    if (applied) applied = connection.exec("COMMIT", step_name);
    if (!applied) {
      rollback_if_open(connection);
      return applied.error();
    }
  }
}

}  // namespace

Result<std::int64_t> ensure_repository(SqliteConnection& connection, RepositoryRef repository,
                                       std::int64_t now) {
  {
    auto find = connection.statement(Sql::find_repository);
    if (!find) return find.error();
    find->bind_repository(repository);
    auto row = find->step();
    if (!row) return row.error();
    if (*row) return find->integer(0);
  }
  auto insert = connection.statement(Sql::insert_repository);
  if (!insert) return insert.error();
  insert->bind_repository(repository).bind_int(3, now);
  if (auto done = insert->run(); !done) {
    if (sqlite3_extended_errcode(connection.db()) == SQLITE_CONSTRAINT_FOREIGNKEY) {
      return MetadataError{Errc::not_found,
                           "registry " + std::to_string(repository.registry) + " does not exist"};
    }
    return done.error();
  }
  return sqlite3_last_insert_rowid(connection.db());
}

namespace {

// Runs a DELETE of a repository-scoped statement with an optional text ?3; `removed` tells
// whether a row went.
Result<void> delete_in_repository(SqliteConnection& connection, Sql id, RepositoryRef repository,
                                  std::optional<std::string_view> key, bool& removed) {
  auto stmt = connection.statement(id);
  if (!stmt) return stmt.error();
  stmt->bind_repository(repository);
  if (key) stmt->bind_text(3, *key);
  if (auto done = stmt->run(); !done) return done.error();
  removed = sqlite3_changes(connection.db()) > 0;
  return {};
}

// Collects column 0 of every row as a string.
Result<std::vector<std::string>> collect_names(Statement& stmt, std::size_t limit) {
  std::vector<std::string> names;
  names.reserve(initial_capacity(limit));
  for (;;) {
    auto row = stmt.step();
    if (!row) return row.error();
    if (!*row) return names;
    names.emplace_back(stmt.text(0));
  }
}

}  // namespace

Result<void> SqliteMetadataStore::submit_write(PendingWrite& write) {
  std::unique_lock lock(writes_mutex_);
  queued_writes_.push_back(&write);
  while (!write.done) {
    if (leader_active_) {
      writes_done_.wait(lock);
      continue;
    }
    // Lead: take everything queued so far (our own write included, unless an earlier leader
    // already ran it) and commit it as one transaction.
    leader_active_ = true;
    batch_.swap(queued_writes_);
    lock.unlock();
    run_batch();
    lock.lock();
    for (PendingWrite* finished : batch_) finished->done = true;
    batch_.clear();
    leader_active_ = false;
    writes_done_.notify_all();
  }
  if (write.error) return std::move(*write.error);
  return {};
}

void SqliteMetadataStore::run_batch() {
  SqliteConnection& connection = *writer_;
  auto fail_unfinished = [&](const MetadataError& error) {
    for (PendingWrite* pending : batch_) {
      if (!pending->error) pending->error = error;
    }
  };
  auto invoke = [&](PendingWrite& pending) -> Result<void> {
    try {
      return pending.invoke(pending.body, connection);
    } catch (const std::exception& e) {
      // Only allocation failure can get here; it must not leave the leader role taken.
      return MetadataError{Errc::database_error, std::string("metadata write failed: ") + e.what()};
    }
  };

  if (auto begun = connection.run(Sql::begin_immediate); !begun) {
    rollback_if_open(connection);
    fail_unfinished(begun.error());
    return;
  }
  // Alone in the batch, a write needs no savepoint: on failure the whole transaction goes.
  const bool isolate = batch_.size() > 1;
  for (PendingWrite* pending : batch_) {
    if (isolate) {
      if (auto saved = connection.run(Sql::savepoint); !saved) {
        pending->error = saved.error();
        continue;
      }
    }
    auto result = invoke(*pending);
    if (result && isolate) result = connection.run(Sql::release_savepoint);
    if (result) continue;

    pending->error = result.error();
    if (!isolate) break;
    if (sqlite3_get_autocommit(connection.db()) != 0) {
      // SQLite aborted the whole transaction (I/O error, disk full): everything done so far in
      // this batch is gone.
      // A full disk stays a full disk for the writes that shared the transaction.
      fail_unfinished(MetadataError{
          result.error().code == Errc::storage_full ? Errc::storage_full : Errc::database_error,
          "metadata database: transaction aborted by another write: " + result.error().message});
      return;
    }
    auto undone = connection.run(Sql::rollback_to_savepoint);
    if (undone) undone = connection.run(Sql::release_savepoint);
    if (!undone) {
      rollback_if_open(connection);
      fail_unfinished(undone.error());
      return;
    }
  }
  if (!isolate && batch_.front()->error) {
    rollback_if_open(connection);
    return;
  }
  if (auto committed = connection.run(Sql::commit); !committed) {
    rollback_if_open(connection);
    fail_unfinished(committed.error());
  }
}

SqliteMetadataStore::SqliteMetadataStore(std::filesystem::path database_file,
                                         std::unique_ptr<SqliteConnection> writer)
    : database_file_(std::move(database_file)), writer_(std::move(writer)) {
  // Returning a reader to the pool and queueing a write then rarely allocate.
  idle_readers_.reserve(kMaxIdleReaders);
  queued_writes_.reserve(kInitialWriteQueue);
  batch_.reserve(kInitialWriteQueue);
}

SqliteMetadataStore::~SqliteMetadataStore() = default;

int SqliteMetadataStore::schema_version() { return kSchemaVersion; }

Result<std::unique_ptr<SqliteMetadataStore>> SqliteMetadataStore::open(
    const std::filesystem::path& database_file) {
  auto writer = SqliteConnection::open(database_file, Role::writer);
  if (!writer) return writer.error();
  if (auto migrated = migrate(**writer); !migrated) {
    MetadataError error = migrated.error();
    if (error.code == Errc::database_error) {
      error.message =
          "cannot open metadata database '" + database_file.string() + "': " + error.message;
    }
    return error;
  }
  return std::unique_ptr<SqliteMetadataStore>(
      new SqliteMetadataStore(database_file, std::move(*writer)));
}

Result<SqliteMetadataStore::ReaderLease> SqliteMetadataStore::acquire_reader() {
  {
    std::lock_guard lock(readers_mutex_);
    if (!idle_readers_.empty()) {
      std::unique_ptr<SqliteConnection> connection = std::move(idle_readers_.back());
      idle_readers_.pop_back();
      return ReaderLease(this, std::move(connection));
    }
  }
  // Opened outside the lock: opening touches the file system and must not stall other readers.
  auto opened = SqliteConnection::open(database_file_, Role::reader);
  if (!opened) return opened.error();
  return ReaderLease(this, std::move(*opened));
}

void SqliteMetadataStore::release_reader(std::unique_ptr<SqliteConnection> connection) {
  std::unique_lock lock(readers_mutex_);
  if (idle_readers_.size() < kMaxIdleReaders) {
    idle_readers_.push_back(std::move(connection));
    return;
  }
  lock.unlock();
  connection.reset();  // closed outside the lock
}

// --- registries ---

namespace {

// A row of BERTH_REGISTRY_COLUMNS.
RegistryRecord registry_of(const Statement& stmt) {
  return RegistryRecord{
      .id = stmt.integer(0),
      .name = std::string(stmt.text(1)),
      .tier = std::string(stmt.text(2)),
      .region = std::string(stmt.text(3)),
      .created_at = stmt.integer(4),
      .admin_user_enabled = stmt.integer(5) != 0,
      .anonymous_pull_enabled = stmt.integer(6) != 0,
      .public_network_access = stmt.integer(7) != 0,
      .default_network_action = std::string(stmt.text(8)),
  };
}

// The schema's CHECK would refuse other values too, but as a database error.
std::optional<MetadataError> check_default_network_action(const RegistryRecord& registry) {
  if (registry.default_network_action == "Allow" || registry.default_network_action == "Deny") {
    return std::nullopt;
  }
  return invalid_argument("default network action '" + registry.default_network_action +
                          "' is neither 'Allow' nor 'Deny'");
}

// A row of BERTH_REPOSITORY_SUMMARY.
// (attributes_of, for BERTH_ATTRIBUTE_COLUMNS, is in sqlite_internal.h.)
RepositorySummary summary_of(const Statement& stmt) {
  return RepositorySummary{
      .name = std::string(stmt.text(0)),
      .created_at = stmt.integer(1),
      .updated_at = stmt.integer(2),
      .storage_bytes = static_cast<std::uint64_t>(stmt.integer(3)),
      .manifest_count = static_cast<std::uint64_t>(stmt.integer(4)),
      .tag_count = static_cast<std::uint64_t>(stmt.integer(5)),
      .attributes = attributes_of(stmt, 6),
  };
}

// The size that `which` selects for `digest` in `repository`: none when no row matches.
Result<std::optional<std::uint64_t>> size_of(SqliteConnection& connection, Sql which,
                                             RepositoryRef repository,
                                             const oci::Digest& digest) {
  auto stmt = connection.statement(which);
  if (!stmt) return stmt.error();
  stmt->bind_repository(repository).bind_text(3, digest.str());
  auto row = stmt->step();
  if (!row) return row.error();
  if (!*row) return std::optional<std::uint64_t>();
  return std::optional<std::uint64_t>(static_cast<std::uint64_t>(stmt->integer(0)));
}

}  // namespace

Result<RegistryRecord> SqliteMetadataStore::create_registry(const RegistryRecord& registry) {
  if (registry.name.empty()) return invalid_argument("registry name is empty");
  if (auto bad = check_default_network_action(registry)) return *bad;
  RegistryRecord created = registry;
  auto written = write([&](SqliteConnection& connection) -> Result<void> {
    created.created_at = registry.created_at != 0 ? registry.created_at : unix_now();
    auto insert = connection.statement(Sql::insert_registry);
    if (!insert) return insert.error();
    insert->bind_text(1, registry.name)
        .bind_text(2, registry.tier)
        .bind_text(3, registry.region)
        .bind_int(4, created.created_at)
        .bind_int(5, registry.admin_user_enabled ? 1 : 0)
        .bind_int(6, registry.anonymous_pull_enabled ? 1 : 0)
        .bind_int(7, registry.public_network_access ? 1 : 0)
        .bind_text(8, registry.default_network_action);
    auto done = insert->run();
    if (!done) {
      if (done.error().code == Errc::conflict) {
        return MetadataError{Errc::conflict, "registry '" + registry.name + "' already exists"};
      }
      return done;
    }
    created.id = sqlite3_last_insert_rowid(connection.db());
    return {};
  });
  if (!written) return written.error();
  return created;
}

Result<std::optional<RegistryRecord>> SqliteMetadataStore::find_registry(std::string_view name) {
  if (name.empty()) return invalid_argument("registry name is empty");
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(Sql::find_registry);
  if (!stmt) return stmt.error();
  stmt->bind_text(1, name);
  auto row = stmt->step();
  if (!row) return row.error();
  if (!*row) return std::optional<RegistryRecord>();
  return std::optional<RegistryRecord>(registry_of(*stmt));
}

Result<std::vector<RegistryRecord>> SqliteMetadataStore::list_registries() {
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(Sql::list_registries);
  if (!stmt) return stmt.error();
  std::vector<RegistryRecord> registries;
  for (;;) {
    auto row = stmt->step();
    if (!row) return row.error();
    if (!*row) return registries;
    registries.push_back(registry_of(*stmt));
  }
}

Result<bool> SqliteMetadataStore::update_registry(const RegistryRecord& registry) {
  if (auto bad = check_default_network_action(registry)) return *bad;
  bool updated = false;
  auto written = write([&](SqliteConnection& connection) -> Result<void> {
    auto update = connection.statement(Sql::update_registry);
    if (!update) return update.error();
    update->bind_int(1, registry.id)
        .bind_text(2, registry.tier)
        .bind_text(3, registry.region)
        .bind_int(4, registry.admin_user_enabled ? 1 : 0)
        .bind_int(5, registry.anonymous_pull_enabled ? 1 : 0)
        .bind_int(6, registry.public_network_access ? 1 : 0)
        .bind_text(7, registry.default_network_action);
    if (auto done = update->run(); !done) return done.error();
    updated = sqlite3_changes(connection.db()) > 0;
    return {};
  });
  if (!written) return written.error();
  return updated;
}

Result<bool> SqliteMetadataStore::delete_registry(RegistryId registry) {
  // The cascades take its repositories and everything under them in the same statement.
  bool removed = false;
  auto written = write([&](SqliteConnection& connection) {
    return delete_by_key(connection, Sql::delete_registry, registry, removed);
  });
  if (!written) return written.error();
  return removed;
}

Result<std::uint64_t> SqliteMetadataStore::registry_storage_bytes(RegistryId registry) {
  return registry_number(Sql::registry_storage_bytes, registry);
}

// --- repository metadata ---

Result<std::vector<RepositorySummary>> SqliteMetadataStore::list_repository_summaries(
    RegistryId registry) {
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(Sql::list_repository_summaries);
  if (!stmt) return stmt.error();
  stmt->bind_int(1, registry);
  std::vector<RepositorySummary> summaries;
  for (;;) {
    auto row = stmt->step();
    if (!row) return row.error();
    if (!*row) return summaries;
    summaries.push_back(summary_of(*stmt));
  }
}

Result<std::optional<RepositorySummary>> SqliteMetadataStore::repository_summary(
    RepositoryRef repository) {
  if (auto bad = check_repository(repository)) return *bad;
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(Sql::repository_summary);
  if (!stmt) return stmt.error();
  stmt->bind_repository(repository);
  auto row = stmt->step();
  if (!row) return row.error();
  if (!*row) return std::optional<RepositorySummary>();
  return std::optional<RepositorySummary>(summary_of(*stmt));
}

Result<bool> SqliteMetadataStore::delete_repository(RepositoryRef repository,
                                                    std::span<const EventRecord> events) {
  if (auto bad = check_repository(repository)) return *bad;
  // The cascades take its manifests (with their references and tags), links and uploads.
  bool removed = false;
  auto written = write([&](SqliteConnection& connection) -> Result<void> {
    auto kept = keep_deleted(connection, repository, std::nullopt, std::nullopt, unix_now());
    if (!kept) return kept;
    auto deleted = delete_in_repository(connection, Sql::delete_repository, repository,
                                        std::nullopt, removed);
    if (!deleted || !removed) return deleted;
    return insert_events(connection, events);
  });
  if (!written) return written.error();
  return removed;
}

Result<std::vector<TagRecord>> SqliteMetadataStore::list_tag_records(RepositoryRef repository) {
  if (auto bad = check_repository(repository)) return *bad;
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(Sql::list_tag_records);
  if (!stmt) return stmt.error();
  stmt->bind_repository(repository);
  return collect_tag_records(*stmt, 0);
}

Result<std::vector<ManifestSummary>> SqliteMetadataStore::list_manifest_summaries(
    RepositoryRef repository) {
  if (auto bad = check_repository(repository)) return *bad;
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(Sql::list_manifest_summaries);
  if (!stmt) return stmt.error();
  stmt->bind_repository(repository);
  std::vector<ManifestSummary> manifests;
  for (;;) {
    auto row = stmt->step();
    if (!row) return row.error();
    if (!*row) return manifests;
    // Digests are unique within a repository, so a manifest's rows are the adjacent ones with
    // its digest.
    if (manifests.empty() || manifests.back().digest.str() != stmt->text(0)) {
      auto digest = stored_digest(stmt->text(0));
      if (!digest) return digest.error();
      manifests.push_back(ManifestSummary{
          .digest = std::move(*digest),
          .media_type = std::string(stmt->text(1)),
          .artifact_type = std::string(stmt->text(2)),
          .size = static_cast<std::uint64_t>(stmt->integer(3)),
          .created_at = stmt->integer(4),
          .updated_at = stmt->integer(6),
          .attributes = attributes_of(*stmt, 7),
      });
    }
    if (!stmt->is_null(5)) manifests.back().tags.emplace_back(stmt->text(5));
  }
}

// --- repositories ---

Result<bool> SqliteMetadataStore::repository_exists(RepositoryRef repository) {
  if (auto bad = check_repository(repository)) return *bad;
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(Sql::find_repository);
  if (!stmt) return stmt.error();
  stmt->bind_repository(repository);
  return stmt->step();
}

Result<std::vector<std::string>> SqliteMetadataStore::list_repositories(RegistryId registry,
                                                                        std::string_view last,
                                                                        std::size_t limit) {
  if (limit == 0) return std::vector<std::string>();
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(Sql::list_repositories);
  if (!stmt) return stmt.error();
  stmt->bind_int(1, registry).bind_text(2, last).bind_int(3, sql_limit(limit));
  return collect_names(*stmt, limit);
}

// --- blobs ---

Result<void> SqliteMetadataStore::link_blob(RepositoryRef repository, const oci::Digest& digest,
                                            std::uint64_t size) {
  return link_blob_within(repository, digest, size, StorageLimits{});
}

Result<void> SqliteMetadataStore::link_blob_within(RepositoryRef repository,
                                                   const oci::Digest& digest, std::uint64_t size,
                                                   const StorageLimits& limits) {
  if (auto bad = check_repository(repository)) return *bad;
  if (size > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    return invalid_argument("blob size " + std::to_string(size) + " is out of range");
  }
  const auto signed_size = static_cast<std::int64_t>(size);
  return write([&](SqliteConnection& connection) -> Result<void> {
    const std::int64_t now = unix_now();
    auto repository_id = ensure_repository(connection, repository, now);
    if (!repository_id) return repository_id.error();
    {
      // A new row, or a known one renewed against garbage collection.
      auto insert = connection.statement(Sql::insert_blob);
      if (!insert) return insert.error();
      insert->bind_text(1, digest.str()).bind_int(2, signed_size).bind_int(3, now);
      if (auto done = insert->run(); !done) return done.error();
    }
    if (sqlite3_changes(connection.db()) == 0) {
      return MetadataError{Errc::being_deleted,
                           "blob " + digest.str() + " is being removed by garbage collection"};
    }
    {
      // Known already: the same digest must mean the same bytes, hence the same size.
      auto known = connection.statement(Sql::blob_size);
      if (!known) return known.error();
      known->bind_text(1, digest.str());
      auto row = known->step();
      if (!row) return row.error();
      if (*row && known->integer(0) != signed_size) {
        return MetadataError{Errc::conflict, "blob " + digest.str() + " is recorded with size " +
                                                 std::to_string(known->integer(0)) + ", not " +
                                                 std::to_string(size)};
      }
    }
    if (limits.registry_bytes || limits.repository_bytes) {
      auto within = check_link_within(connection, *repository_id, digest.str(), signed_size, limits);
      if (!within) return within;
    }
    auto link = connection.statement(Sql::link_blob);
    if (!link) return link.error();
    link->bind_int(1, *repository_id).bind_text(2, digest.str()).bind_int(3, now);
    return link->run();
  });
}

Result<std::optional<std::uint64_t>> SqliteMetadataStore::linked_blob_size(
    RepositoryRef repository, const oci::Digest& digest) {
  if (auto bad = check_repository(repository)) return *bad;
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  return size_of(reader->connection(), Sql::linked_blob_size, repository, digest);
}

Result<bool> SqliteMetadataStore::unlink_blob(RepositoryRef repository, const oci::Digest& digest) {
  if (auto bad = check_repository(repository)) return *bad;
  bool removed = false;
  auto written = write([&](SqliteConnection& connection) {
    return delete_in_repository(connection, Sql::unlink_blob, repository, digest.str(), removed);
  });
  if (!written) return written.error();
  return removed;
}

// --- upload sessions ---

Result<void> SqliteMetadataStore::create_upload(const UploadRecord& upload) {
  return create_upload_within_limit(upload, std::numeric_limits<std::uint64_t>::max());
}

Result<void> SqliteMetadataStore::create_upload_within_limit(const UploadRecord& upload,
                                                             std::uint64_t max_open_in_registry) {
  if (upload.id.empty()) return invalid_argument("upload id is empty");
  const RepositoryRef repository{upload.registry, upload.repository};
  if (auto bad = check_repository(repository)) return *bad;
  return write([&](SqliteConnection& connection) -> Result<void> {
    const std::int64_t now = unix_now();
    if (max_open_in_registry != std::numeric_limits<std::uint64_t>::max()) {
      auto count = connection.statement(Sql::count_uploads_in_registry);
      if (!count) return count.error();
      count->bind_int(1, upload.registry);
      auto row = count->step();
      if (!row) return row.error();
      if (*row && static_cast<std::uint64_t>(count->integer(0)) >= max_open_in_registry) {
        return MetadataError{Errc::limit_reached,
                             "the registry has " + std::to_string(count->integer(0)) +
                                 " open upload sessions, its limit"};
      }
    }
    auto repository_id = ensure_repository(connection, repository, now);
    if (!repository_id) return repository_id.error();
    auto insert = connection.statement(Sql::insert_upload);
    if (!insert) return insert.error();
    const std::int64_t created_at = upload.created_at != 0 ? upload.created_at : now;
    insert->bind_text(1, upload.id)
        .bind_int(2, *repository_id)
        .bind_int(3, created_at)
        .bind_int(4, upload.updated_at != 0 ? upload.updated_at : created_at);
    auto done = insert->run();
    if (!done && done.error().code == Errc::conflict) {
      return MetadataError{Errc::conflict, "upload " + upload.id + " already exists"};
    }
    return done;
  });
}

Result<std::optional<UploadRecord>> SqliteMetadataStore::get_upload(std::string_view id) {
  if (id.empty()) return invalid_argument("upload id is empty");
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(Sql::get_upload);
  if (!stmt) return stmt.error();
  stmt->bind_text(1, id);
  auto row = stmt->step();
  if (!row) return row.error();
  if (!*row) return std::optional<UploadRecord>();
  return std::optional<UploadRecord>(UploadRecord{
      .id = std::string(id),
      .registry = stmt->integer(0),
      .repository = std::string(stmt->text(1)),
      .created_at = stmt->integer(2),
      .updated_at = stmt->integer(3),
  });
}

Result<void> SqliteMetadataStore::touch_upload(std::string_view id, std::int64_t now) {
  if (id.empty()) return invalid_argument("upload id is empty");
  return write([&](SqliteConnection& connection) -> Result<void> {
    auto stmt = connection.statement(Sql::touch_upload);
    if (!stmt) return stmt.error();
    stmt->bind_text(1, id).bind_int(2, now);
    return stmt->run();
  });
}

Result<std::vector<UploadRecord>> SqliteMetadataStore::list_idle_uploads(std::int64_t idle_since,
                                                                         std::size_t limit) {
  if (limit == 0) return std::vector<UploadRecord>();
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(Sql::list_idle_uploads);
  if (!stmt) return stmt.error();
  stmt->bind_int(1, idle_since).bind_int(2, sql_limit(limit));
  std::vector<UploadRecord> uploads;
  for (;;) {
    auto row = stmt->step();
    if (!row) return row.error();
    if (!*row) break;
    uploads.push_back(UploadRecord{
        .id = std::string(stmt->text(0)),
        .registry = stmt->integer(1),
        .repository = std::string(stmt->text(2)),
        .created_at = stmt->integer(3),
        .updated_at = stmt->integer(4),
    });
  }
  return uploads;
}

Result<void> SqliteMetadataStore::delete_upload(std::string_view id) {
  if (id.empty()) return invalid_argument("upload id is empty");
  bool removed = false;
  return write([&](SqliteConnection& connection) {
    return delete_by_key(connection, Sql::delete_upload, id, removed);
  });
}

// --- manifests and tags ---

namespace {

// The re-check that makes a manifest and garbage collection safe together: inside the
// manifest's transaction, every blob it references must still be linked to the repository and
// not claimed by a collection.
Result<void> require_blob_links(SqliteConnection& connection, std::int64_t repository_id,
                                const std::vector<ManifestReference>& references) {
  auto check = connection.statement(GcSql::linked_live_blob);
  if (!check) return check.error();
  for (const ManifestReference& reference : references) {
    if (reference.kind != ReferenceKind::blob) continue;
    const std::string digest = reference.digest.str();
    check->bind_int(1, repository_id).bind_text(2, digest);
    auto row = check->step();
    if (!row) return row.error();
    check->reset();
    if (!*row) {
      return MetadataError{Errc::reference_missing,
                           "blob " + digest + " is not in the repository any more"};
    }
  }
  return {};
}

}  // namespace

Result<void> SqliteMetadataStore::put_manifest(RepositoryRef repository,
                                               const ManifestRecord& manifest,
                                               const std::vector<ManifestReference>& references,
                                               const std::optional<std::string>& tag,
                                               std::span<const EventRecord> events) {
  if (auto bad = check_repository(repository)) return *bad;
  if (tag && tag->empty()) return invalid_argument("tag is empty");
  return write([&](SqliteConnection& connection) -> Result<void> {
    if (auto appended = insert_events(connection, events); !appended) return appended;
    const std::int64_t now = unix_now();
    auto repository_id = ensure_repository(connection, repository, now);
    if (!repository_id) return repository_id.error();

    std::int64_t manifest_id = 0;
    bool inserted = false;
    {
      auto insert = connection.statement(Sql::insert_manifest);
      if (!insert) return insert.error();
      insert->bind_int(1, *repository_id)
          .bind_text(2, manifest.digest.str())
          .bind_text(3, manifest.media_type)
          .bind_text(4, manifest.artifact_type)
          .bind_text(6, manifest.annotations_json)
          .bind_int(7, static_cast<std::int64_t>(manifest.content.size()))
          .bind_int(8, manifest.created_at != 0 ? manifest.created_at : now)
          .bind_blob(9, manifest.content);
      if (manifest.subject) {
        insert->bind_text(5, manifest.subject->str());
      } else {
        insert->bind_null(5);
      }
      if (auto done = insert->run(); !done) return done.error();
      inserted = sqlite3_changes(connection.db()) > 0;
      if (inserted) manifest_id = sqlite3_last_insert_rowid(connection.db());
    }

    if (inserted) {
      // Same digest means same content, so an existing manifest already has these references
      // (and they keep its blobs' links from being collected).
      if (auto linked = require_blob_links(connection, *repository_id, references); !linked) {
        return linked;
      }
      auto insert = connection.statement(Sql::insert_reference);
      if (!insert) return insert.error();
      for (const ManifestReference& reference : references) {
        insert->bind_int(1, manifest_id)
            .bind_text(2, reference.digest.str())
            .bind_text(3, kind_name(reference.kind));
        if (auto done = insert->run(); !done) return done.error();
        insert->reset();
      }
      if (!manifest.architecture.empty() || !manifest.os.empty()) {
        auto platform = connection.statement(Sql::insert_manifest_platform);
        if (!platform) return platform.error();
        platform->bind_int(1, manifest_id)
            .bind_text(2, manifest.architecture)
            .bind_text(3, manifest.os);
        if (auto done = platform->run(); !done) return done.error();
      }
    } else {
      auto find = connection.statement(Sql::find_manifest_id);
      if (!find) return find.error();
      find->bind_int(1, *repository_id).bind_text(2, manifest.digest.str());
      auto row = find->step();
      if (!row) return row.error();
      if (!*row) {
        return MetadataError{Errc::database_error, "metadata database: manifest " +
                                                       manifest.digest.str() +
                                                       " vanished inside its own transaction"};
      }
      manifest_id = find->integer(0);
    }

    if (!tag) return {};
    auto upsert = connection.statement(Sql::upsert_tag);
    if (!upsert) return upsert.error();
    upsert->bind_int(1, *repository_id)
        .bind_text(2, *tag)
        .bind_int(3, manifest_id)
        .bind_int(4, now);
    return upsert->run();
  });
}

Result<std::optional<ManifestRecord>> SqliteMetadataStore::get_manifest(RepositoryRef repository,
                                                                        const oci::Digest& digest) {
  if (auto bad = check_repository(repository)) return *bad;
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(Sql::get_manifest);
  if (!stmt) return stmt.error();
  stmt->bind_repository(repository).bind_text(3, digest.str());
  auto row = stmt->step();
  if (!row) return row.error();
  if (!*row) return std::optional<ManifestRecord>();
  std::optional<oci::Digest> subject;
  if (!stmt->is_null(2)) {
    auto parsed = stored_digest(stmt->text(2));
    if (!parsed) return parsed.error();
    subject = std::move(*parsed);
  }
  return std::optional<ManifestRecord>(ManifestRecord{
      .digest = digest,
      .media_type = std::string(stmt->text(0)),
      .artifact_type = std::string(stmt->text(1)),
      .subject = std::move(subject),
      .annotations_json = std::string(stmt->text(3)),
      .content = std::string(stmt->blob(5)),
      .created_at = stmt->integer(4),
      .attributes = attributes_of(*stmt, 6),
      .updated_at = stmt->integer(10),
      .architecture = std::string(stmt->text(11)),
      .os = std::string(stmt->text(12)),
  });
}

Result<bool> SqliteMetadataStore::manifest_exists(RepositoryRef repository,
                                                  const oci::Digest& digest) {
  if (auto bad = check_repository(repository)) return *bad;
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(Sql::manifest_exists);
  if (!stmt) return stmt.error();
  stmt->bind_repository(repository).bind_text(3, digest.str());
  return stmt->step();
}

Result<std::optional<std::uint64_t>> SqliteMetadataStore::manifest_size(
    RepositoryRef repository, const oci::Digest& digest) {
  if (auto bad = check_repository(repository)) return *bad;
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  return size_of(reader->connection(), Sql::manifest_size, repository, digest);
}

Result<std::optional<oci::Digest>> SqliteMetadataStore::resolve_tag(RepositoryRef repository,
                                                                    std::string_view tag) {
  if (auto bad = check_repository(repository)) return *bad;
  if (tag.empty()) return invalid_argument("tag is empty");
  return digest_of_tag(Sql::resolve_tag, repository, tag);
}

Result<bool> SqliteMetadataStore::delete_manifest(RepositoryRef repository,
                                                  const oci::Digest& digest,
                                                  std::span<const EventRecord> events) {
  if (auto bad = check_repository(repository)) return *bad;
  // The foreign-key cascades remove the manifest's tags and references in the same statement;
  // only the manifest row itself counts as removed.
  bool removed = false;
  auto written = write([&](SqliteConnection& connection) -> Result<void> {
    const std::string text = digest.str();
    auto kept = keep_deleted(connection, repository, text, std::nullopt, unix_now());
    if (!kept) return kept;
    auto deleted = delete_in_repository(connection, Sql::delete_manifest, repository, text,
                                        removed);
    if (!deleted || !removed) return deleted;
    return insert_events(connection, events);
  });
  if (!written) return written.error();
  return removed;
}

Result<bool> SqliteMetadataStore::delete_tag(RepositoryRef repository, std::string_view tag,
                                             std::span<const EventRecord> events) {
  if (auto bad = check_repository(repository)) return *bad;
  if (tag.empty()) return invalid_argument("tag is empty");
  bool removed = false;
  auto written = write([&](SqliteConnection& connection) -> Result<void> {
    auto kept = keep_deleted(connection, repository, std::nullopt, tag, unix_now());
    if (!kept) return kept;
    auto deleted = delete_in_repository(connection, Sql::delete_tag, repository, tag, removed);
    if (!deleted || !removed) return deleted;
    return insert_events(connection, events);
  });
  if (!written) return written.error();
  return removed;
}

Result<std::vector<std::string>> SqliteMetadataStore::list_tags(RepositoryRef repository,
                                                                std::string_view last,
                                                                std::size_t limit) {
  if (auto bad = check_repository(repository)) return *bad;
  if (limit == 0) return std::vector<std::string>();
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(Sql::list_tags);
  if (!stmt) return stmt.error();
  stmt->bind_repository(repository).bind_text(3, last).bind_int(4, sql_limit(limit));
  return collect_names(*stmt, limit);
}

Result<std::vector<Referrer>> SqliteMetadataStore::list_referrers(
    RepositoryRef repository, const oci::Digest& subject,
    const std::optional<std::string>& artifact_type) {
  if (auto bad = check_repository(repository)) return *bad;
  auto reader = acquire_reader();
  if (!reader) return reader.error();
  auto stmt = reader->connection().statement(Sql::list_referrers);
  if (!stmt) return stmt.error();
  stmt->bind_repository(repository).bind_text(3, subject.str());
  if (artifact_type) {
    stmt->bind_text(4, *artifact_type);
  } else {
    stmt->bind_null(4);
  }
  std::vector<Referrer> referrers;
  for (;;) {
    auto row = stmt->step();
    if (!row) return row.error();
    if (!*row) return referrers;
    auto digest = stored_digest(stmt->text(0));
    if (!digest) return digest.error();
    referrers.push_back(Referrer{
        .digest = std::move(*digest),
        .media_type = std::string(stmt->text(1)),
        .artifact_type = std::string(stmt->text(2)),
        .size = static_cast<std::uint64_t>(stmt->integer(3)),
        .annotations_json = std::string(stmt->text(4)),
    });
  }
}

}  // namespace berth::metadata
