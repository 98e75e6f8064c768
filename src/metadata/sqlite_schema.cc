// SqliteMetadataStore: the schema and its migrations.
//
// Schema (version 11; the lifecycle part of version 8 is drawn in sqlite_lifecycle.cc). Arrows
// are foreign keys; "x" marks ON DELETE CASCADE.
//
//   registries (id INTEGER PK AUTOINCREMENT, name TEXT UNIQUE COLLATE NOCASE, tier, region,
//   |           created_at, admin_user_enabled, anonymous_pull_enabled, public_network_access,
//   |           default_network_action 'Allow'|'Deny', data_endpoint_enabled (v9))
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
//   deployment_settings (PK name; value BLOB)        what every node of the deployment shares
//   leases (PK name; holder, expires_at_ms)          the jobs one node at a time runs (v9)
//
//   content from other registries (v10), drawn in sqlite_upstream.cc: credential_sets and
//   cache_rules (^x registries), cached_tags (^x repositories), import_jobs (^x registries)
//
//   build tasks and their runs (v11), drawn in sqlite_tasks.cc: tasks (^x registries;
//   ^x task_trigger_states, task_base_images), task_run_counters and task_runs (^x registries;
//   ^x run_log_chunks), blob_pins (no key: a pin may name bytes without a blobs row)
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

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "metadata/sqlite_internal.h"

namespace berth::metadata {
namespace {

// Each step is frozen once released: databases in the field were built by exactly this text.
constexpr std::array<const char*, 11> kMigrations = {
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
    // 8 -> 9: what the nodes of a deployment share (coordination_store.h): its settings and the
    // leases of the jobs one node at a time runs; and whether a registry has dedicated data
    // endpoints. The PostgreSQL schema's version 2 adds the same tables and column.
    R"sql(
ALTER TABLE registries ADD COLUMN data_endpoint_enabled INTEGER NOT NULL DEFAULT 0
  CHECK (data_endpoint_enabled IN (0, 1));

CREATE TABLE deployment_settings (
  name  TEXT PRIMARY KEY,
  value BLOB NOT NULL
) WITHOUT ROWID;

CREATE TABLE leases (
  name          TEXT PRIMARY KEY,
  holder        TEXT NOT NULL,
  expires_at_ms INTEGER NOT NULL
) WITHOUT ROWID;
)sql",
    // 9 -> 10: what berth keeps about content from other registries (upstream_store.h,
    // sqlite_upstream.cc): credential sets, cache rules, when cached tags were last checked,
    // and import jobs. The PostgreSQL schema's version 3 adds the same tables.
    R"sql(
CREATE TABLE credential_sets (
  registry_id     INTEGER NOT NULL REFERENCES registries (id) ON DELETE CASCADE,
  name            TEXT NOT NULL,
  login_server    TEXT NOT NULL,
  username        TEXT NOT NULL,
  sealed_password TEXT NOT NULL,
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL,
  PRIMARY KEY (registry_id, name)
) WITHOUT ROWID;

CREATE TABLE cache_rules (
  registry_id       INTEGER NOT NULL REFERENCES registries (id) ON DELETE CASCADE,
  name              TEXT NOT NULL,
  source_repository TEXT NOT NULL,
  target_repository TEXT NOT NULL,
  credential_set    TEXT,
  tag_ttl_seconds   INTEGER NOT NULL CHECK (tag_ttl_seconds >= 0),
  allow_push        INTEGER NOT NULL CHECK (allow_push IN (0, 1)),
  created_at        INTEGER NOT NULL,
  updated_at        INTEGER NOT NULL,
  PRIMARY KEY (registry_id, name),
  UNIQUE (registry_id, target_repository),
  FOREIGN KEY (registry_id, credential_set) REFERENCES credential_sets (registry_id, name)
) WITHOUT ROWID;
CREATE INDEX cache_rules_by_credential_set ON cache_rules (registry_id, credential_set, name);

CREATE TABLE cached_tags (
  repository_id INTEGER NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
  tag           TEXT NOT NULL,
  validated_at  INTEGER NOT NULL,
  PRIMARY KEY (repository_id, tag)
) WITHOUT ROWID;

CREATE TABLE import_jobs (
  id                 INTEGER PRIMARY KEY AUTOINCREMENT,
  registry_id        INTEGER NOT NULL REFERENCES registries (id) ON DELETE CASCADE,
  status             TEXT NOT NULL
    CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
  request            TEXT NOT NULL,
  sealed_credentials TEXT NOT NULL DEFAULT '',
  holder             TEXT NOT NULL DEFAULT '',
  heartbeat_at       INTEGER NOT NULL DEFAULT 0,
  bytes_total        INTEGER NOT NULL DEFAULT 0,
  bytes_done         INTEGER NOT NULL DEFAULT 0,
  blobs_total        INTEGER NOT NULL DEFAULT 0,
  blobs_done         INTEGER NOT NULL DEFAULT 0,
  result             TEXT NOT NULL DEFAULT '',
  error              TEXT NOT NULL DEFAULT '',
  created_at         INTEGER NOT NULL,
  started_at         INTEGER NOT NULL DEFAULT 0,
  finished_at        INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX import_jobs_by_registry ON import_jobs (registry_id, id);
CREATE INDEX import_jobs_active ON import_jobs (id) WHERE status IN ('queued', 'running');
CREATE INDEX import_jobs_ended ON import_jobs (finished_at)
  WHERE status IN ('succeeded', 'failed');
)sql",
    // 10 -> 11: build tasks and their runs (task_store.h, sqlite_tasks.cc): tasks, their
    // triggers' state and base images, runs with their numbers and live logs, and the pins that
    // keep blobs no manifest references from garbage collection. The PostgreSQL schema's
    // version 4 adds the same tables.
    R"sql(
CREATE TABLE tasks (
  registry_id INTEGER NOT NULL REFERENCES registries (id) ON DELETE CASCADE,
  name        TEXT NOT NULL,
  definition  TEXT NOT NULL,
  enabled     INTEGER NOT NULL CHECK (enabled IN (0, 1)),
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL,
  PRIMARY KEY (registry_id, name)
);
CREATE INDEX tasks_enabled ON tasks (registry_id, name) WHERE enabled = 1;

CREATE TABLE task_trigger_states (
  registry_id  INTEGER NOT NULL,
  task         TEXT NOT NULL,
  trigger_name TEXT NOT NULL,
  state        TEXT NOT NULL,
  updated_at   INTEGER NOT NULL,
  PRIMARY KEY (registry_id, task, trigger_name),
  FOREIGN KEY (registry_id, task) REFERENCES tasks (registry_id, name) ON DELETE CASCADE
) WITHOUT ROWID;

CREATE TABLE task_base_images (
  registry_id INTEGER NOT NULL,
  task        TEXT NOT NULL,
  reference   TEXT NOT NULL,
  PRIMARY KEY (registry_id, task, reference),
  FOREIGN KEY (registry_id, task) REFERENCES tasks (registry_id, name) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX task_base_images_by_reference ON task_base_images (reference, registry_id, task);

CREATE TABLE task_run_counters (
  registry_id INTEGER PRIMARY KEY REFERENCES registries (id) ON DELETE CASCADE,
  last_number INTEGER NOT NULL
);

CREATE TABLE task_runs (
  registry_id      INTEGER NOT NULL REFERENCES registries (id) ON DELETE CASCADE,
  number           INTEGER NOT NULL,
  task             TEXT NOT NULL,
  status           TEXT NOT NULL CHECK (status IN
    ('queued', 'running', 'succeeded', 'failed', 'canceled', 'timeout')),
  trigger_name     TEXT NOT NULL,
  request          TEXT NOT NULL,
  holder           TEXT NOT NULL DEFAULT '',
  heartbeat_at     INTEGER NOT NULL DEFAULT 0,
  cancel_requested INTEGER NOT NULL DEFAULT 0 CHECK (cancel_requested IN (0, 1)),
  outputs          TEXT NOT NULL DEFAULT '',
  base_images      TEXT NOT NULL DEFAULT '',
  error            TEXT NOT NULL DEFAULT '',
  log_digest       TEXT NOT NULL DEFAULT '',
  log_size         INTEGER NOT NULL DEFAULT 0,
  live_log_size    INTEGER NOT NULL DEFAULT 0,
  created_at       INTEGER NOT NULL,
  started_at       INTEGER NOT NULL DEFAULT 0,
  finished_at      INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (registry_id, number)
);
CREATE INDEX task_runs_by_task ON task_runs (registry_id, task, number);
CREATE INDEX task_runs_queued ON task_runs (created_at, registry_id, number)
  WHERE status = 'queued';
CREATE INDEX task_runs_running ON task_runs (registry_id, number) WHERE status = 'running';
CREATE INDEX task_runs_ended ON task_runs (finished_at)
  WHERE status IN ('succeeded', 'failed', 'canceled', 'timeout');

CREATE TABLE run_log_chunks (
  registry_id INTEGER NOT NULL,
  number      INTEGER NOT NULL,
  byte_offset INTEGER NOT NULL,
  bytes       BLOB NOT NULL,
  PRIMARY KEY (registry_id, number, byte_offset),
  FOREIGN KEY (registry_id, number) REFERENCES task_runs (registry_id, number) ON DELETE CASCADE
);

CREATE TABLE blob_pins (
  digest     TEXT NOT NULL,
  owner      TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (digest, owner)
) WITHOUT ROWID;
CREATE INDEX blob_pins_by_owner ON blob_pins (owner);
)sql",
};

constexpr int kSchemaVersion = static_cast<int>(kMigrations.size());

// The first foreign key violation in the database, if any; run inside a migration's transaction.
Result<void> check_foreign_keys(SqliteConnection& connection, std::string_view step_name) {
  auto violation = connection.query_text("PRAGMA foreign_key_check");
  if (!violation) return violation.error();
  if (violation->empty()) return {};
  return MetadataError{Errc::database_error, "metadata database: " + std::string(step_name) +
                                                 ": foreign key violated in table '" + *violation +
                                                 "'"};
}

Result<void> migrate_steps(SqliteConnection& connection, int target);

}  // namespace

// Brings the schema to kSchemaVersion. Steps may rebuild tables, which SQLite only allows
// safely with foreign key enforcement off; it can be switched only outside a transaction, so
// it goes off for the whole migration and every step checks all foreign keys before it
// commits instead.
Result<void> migrate(SqliteConnection& connection) { return migrate(connection, kSchemaVersion); }

Result<void> migrate(SqliteConnection& connection, int version) {
  if (version < 0 || version > kSchemaVersion) {
    return unknown_schema_version(version);
  }
  if (auto off = connection.exec("PRAGMA foreign_keys = OFF", "preparing a migration"); !off) {
    return off.error();
  }
  auto migrated = migrate_steps(connection, version);
  if (auto on = connection.exec("PRAGMA foreign_keys = ON", "finishing a migration"); !on) {
    return migrated ? on : migrated;
  }
  return migrated;
}

int SqliteMetadataStore::schema_version() { return kSchemaVersion; }

namespace {

// Each step runs in its own write transaction that re-reads the version first, so two
// processes starting at once apply every step exactly once.
Result<void> migrate_steps(SqliteConnection& connection, int target) {
  for (;;) {
    auto version = connection.user_version();
    if (!version) return version.error();
    if (*version > kSchemaVersion) return schema_too_new(*version, kSchemaVersion);
    if (*version >= target) return {};

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
    if (*current >= target) {
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

}  // namespace berth::metadata
