// The PostgreSQL backend's schema (version 4: what the SQLite schema is after its eleven
// migrations) and the migration runner. Arrows are foreign keys; "x" marks ON DELETE CASCADE.
//
//   registries (id bigint identity PK; name unique ignoring ASCII case, tier, region,
//   |           created_at, flags, default_network_action, storage_quota_bytes, soft delete and
//   |           retention policies, linked_bytes, data_endpoint_enabled (v2))
//   |           row 1 is the default registry 'default'
//   ^x  repositories (id identity PK; registry_id, name, created_at, attributes,
//   |                 storage_quota_bytes, linked_bytes; UNIQUE registry_id, name)
//   |     -> a registry's catalog is a range of that unique index (keyset pagination)
//   |     ^x  repository_blobs (PK repository_id, digest; created_at) --> blobs (PK digest;
//   |     |                    size, created_at, touched_at, deleting)   index (digest)
//   |     ^x  uploads (PK id; repository_id, created_at, updated_at)
//   |     |           indexes (repository_id), (updated_at)
//   |     ^x  manifests (id identity PK; UNIQUE repository_id, digest; media_type,
//   |     |              artifact_type, subject_digest, annotations, size, created_at, content
//   |     |              bytea, attributes, updated_at, untagged_at)
//   |     |     index (repository_id, subject_digest, digest) WHERE subject_digest IS NOT NULL
//   |     |     index (repository_id, <last update>, digest): /acr/v1's listing by time
//   |     |     index (untagged_at) WHERE untagged_at IS NOT NULL: retention
//   |     |     ^x  manifest_references (PK manifest_id, child_digest, kind)  index (child_digest)
//   |     |     ^x  manifest_platforms (PK manifest_id; architecture, os)
//   |     |     ^x  tags.manifest_id   index (manifest_id, name): a manifest's tags in order
//   |     ^x  tags (PK repository_id, name; manifest_id, created_at, updated_at, attributes)
//   |               index (repository_id, updated_at, name): the tag listing by time
//   ^x  admin_passwords, scope_maps (^x scope_map_actions), tokens (^x token_passwords),
//   |   network_rules, role_assignments (also ^x identities), webhooks (^x webhook_deliveries),
//   |   gc_runs, deleted_manifests (^x deleted_manifest_references), deleted_tags,
//   |   purge_schedules
//   identities, signing_keys, login_events, events (the outbox and audit)
//   deployment_settings (PK name; value bytea), leases (PK name; holder, expires_at_ms) (v2)
//   ^x registries: credential_sets (PK registry_id, name), cache_rules (PK registry_id, name;
//   |   UNIQUE registry_id, target_repository; --> credential_sets, checked at commit),
//   |   import_jobs (id identity PK; indexes (registry_id, id), (id) of the queued and running,
//   |   (finished_at) of the ended) (v3)
//   ^x repositories: cached_tags (PK repository_id, tag; validated_at) (v3)
//   ^x registries: tasks (PK registry_id, name; ^x task_trigger_states, task_base_images),
//   |   task_run_counters (PK registry_id), task_runs (PK registry_id, number;
//   |   ^x run_log_chunks) (v4)
//   blob_pins (PK digest, owner; index (owner)) (v4)
//   schema_version (version PK, applied_at): one row per applied migration
//
// Why this shape (beyond what sqlite_metadata_store.cc says of the same tables):
// - Every text column that is a key or a sort order is COLLATE "C": listings are in byte order
//   whatever the database's default collation, and the btree indexes serve the keyset ranges.
// - Names unique ignoring ASCII case (NOCASE in SQLite) have a unique index on lower(name);
//   lower() under the "C" collation folds ASCII letters only, exactly as NOCASE does. Lookups
//   fold the key the same way in C++ (fold_case) and compare it with lower(name).
// - Flags are boolean; timestamps bigint Unix seconds (events and deliveries: milliseconds).
// - A manifest's content is bytea (byte-exact, NULs included); PostgreSQL keeps big values out
//   of line (TOAST), so reading the descriptor columns never reads the content.
// - Free-form text that comes from clients or remote servers unchecked (user agents, presented
//   usernames, webhook responses) is bytea: PostgreSQL text refuses invalid UTF-8 and NUL, and
//   an odd User-Agent must not fail the push that records it.
// - Ids come from identity columns, whose sequences never hand out a number twice, like
//   SQLite's AUTOINCREMENT: registry ids, event sequences and login event ids never come back.
// - The triggers keep the same invariants as SQLite's: manifests.untagged_at (when a manifest
//   lost its last tag), and linked_bytes of repositories and registries (a blob linked twice in
//   a registry counts once there). Writers run SERIALIZABLE (postgres_connection.h), so two
//   nodes linking the same blob at once cannot both count it: one of them is retried.
//   The link triggers are AFTER ROW triggers, which PostgreSQL fires at the end of the
//   statement; every statement that adds or removes links does so for one repository, so no
//   trigger sees another row of its own statement with the same digest in the same registry.
//
// Migrations: kMigrations[i] takes the schema from version i to i + 1. Each runs in its own
// transaction holding pg_advisory_xact_lock(kMigrationLock), re-reads the version first and
// records itself in schema_version, so nodes starting together apply each step once and a
// failed step leaves the previous version whole.

#include "metadata/postgres/postgres_schema.h"

#include <array>
#include <cstdint>
#include <exception>
#include <string>

#include "metadata/store_rules.h"

namespace berth::metadata::postgres {
namespace {

// Every berth node migrating this database takes this lock ("berth" in ASCII).
constexpr std::int64_t kMigrationLock = 0x6265727468;

// Each step is frozen once released: databases in the field were built by exactly this text.
constexpr std::array<const char*, 4> kMigrations = {
    // 0 -> 1: the complete schema, as SQLite's is after its version 8.
    R"sql(
CREATE TABLE registries (
  id                     bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  name                   text COLLATE "C" NOT NULL,
  tier                   text NOT NULL,
  region                 text NOT NULL DEFAULT '',
  created_at             bigint NOT NULL,
  admin_user_enabled     boolean NOT NULL DEFAULT false,
  anonymous_pull_enabled boolean NOT NULL DEFAULT false,
  public_network_access  boolean NOT NULL DEFAULT true,
  default_network_action text NOT NULL DEFAULT 'Allow'
    CHECK (default_network_action IN ('Allow', 'Deny')),
  storage_quota_bytes    bigint CHECK (storage_quota_bytes >= 0),
  soft_delete_enabled    boolean NOT NULL DEFAULT false,
  soft_delete_days       integer NOT NULL DEFAULT 7 CHECK (soft_delete_days BETWEEN 1 AND 90),
  soft_delete_updated_at bigint NOT NULL DEFAULT 0,
  retention_enabled      boolean NOT NULL DEFAULT false,
  retention_days         integer NOT NULL DEFAULT 7 CHECK (retention_days BETWEEN 0 AND 365),
  retention_updated_at   bigint NOT NULL DEFAULT 0,
  retention_enabled_at   bigint NOT NULL DEFAULT 0,
  linked_bytes           bigint NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX registries_by_name ON registries (lower(name));
INSERT INTO registries (id, name, tier, region, created_at)
  VALUES (1, 'default', 'Standard', '', floor(extract(epoch FROM now()))::bigint);
SELECT setval(pg_get_serial_sequence('registries', 'id'), 1);

CREATE TABLE repositories (
  id                  bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  registry_id         bigint NOT NULL REFERENCES registries (id) ON DELETE CASCADE,
  name                text COLLATE "C" NOT NULL,
  created_at          bigint NOT NULL,
  write_enabled       boolean NOT NULL DEFAULT true,
  delete_enabled      boolean NOT NULL DEFAULT true,
  read_enabled        boolean NOT NULL DEFAULT true,
  list_enabled        boolean NOT NULL DEFAULT true,
  storage_quota_bytes bigint CHECK (storage_quota_bytes >= 0),
  linked_bytes        bigint NOT NULL DEFAULT 0,
  UNIQUE (registry_id, name)
);

CREATE TABLE blobs (
  digest     text COLLATE "C" PRIMARY KEY,
  size       bigint NOT NULL CHECK (size >= 0),
  created_at bigint NOT NULL,
  touched_at bigint NOT NULL DEFAULT 0,
  deleting   boolean NOT NULL DEFAULT false
);
CREATE INDEX blobs_deleting ON blobs (digest) WHERE deleting;

CREATE TABLE repository_blobs (
  repository_id bigint NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
  digest        text COLLATE "C" NOT NULL REFERENCES blobs (digest),
  created_at    bigint NOT NULL,
  PRIMARY KEY (repository_id, digest)
);
CREATE INDEX repository_blobs_by_digest ON repository_blobs (digest);

CREATE TABLE uploads (
  id            text COLLATE "C" PRIMARY KEY,
  repository_id bigint NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
  created_at    bigint NOT NULL,
  updated_at    bigint NOT NULL DEFAULT 0
);
CREATE INDEX uploads_by_repository ON uploads (repository_id);
CREATE INDEX uploads_by_activity ON uploads (updated_at);

CREATE TABLE manifests (
  id             bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  repository_id  bigint NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
  digest         text COLLATE "C" NOT NULL,
  media_type     text NOT NULL,
  artifact_type  text NOT NULL DEFAULT '',
  subject_digest text COLLATE "C",
  annotations    text NOT NULL DEFAULT '',
  size           bigint NOT NULL CHECK (size >= 0),
  created_at     bigint NOT NULL,
  write_enabled  boolean NOT NULL DEFAULT true,
  delete_enabled boolean NOT NULL DEFAULT true,
  read_enabled   boolean NOT NULL DEFAULT true,
  list_enabled   boolean NOT NULL DEFAULT true,
  updated_at     bigint NOT NULL DEFAULT 0,
  untagged_at    bigint,
  content        bytea NOT NULL,
  UNIQUE (repository_id, digest)
);
CREATE INDEX manifests_by_subject ON manifests (repository_id, subject_digest, digest)
  WHERE subject_digest IS NOT NULL;
CREATE INDEX manifests_by_time ON manifests
  (repository_id, (CASE WHEN updated_at <> 0 THEN updated_at ELSE created_at END), digest);
CREATE INDEX manifests_untagged ON manifests (untagged_at) WHERE untagged_at IS NOT NULL;

CREATE TABLE manifest_references (
  manifest_id  bigint NOT NULL REFERENCES manifests (id) ON DELETE CASCADE,
  child_digest text COLLATE "C" NOT NULL,
  kind         text NOT NULL CHECK (kind IN ('blob', 'manifest')),
  PRIMARY KEY (manifest_id, child_digest, kind)
);
CREATE INDEX manifest_references_by_child ON manifest_references (child_digest);

CREATE TABLE manifest_platforms (
  manifest_id  bigint PRIMARY KEY REFERENCES manifests (id) ON DELETE CASCADE,
  architecture text NOT NULL,
  os           text NOT NULL
);

CREATE TABLE tags (
  repository_id  bigint NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
  name           text COLLATE "C" NOT NULL,
  manifest_id    bigint NOT NULL REFERENCES manifests (id) ON DELETE CASCADE,
  created_at     bigint NOT NULL,
  updated_at     bigint NOT NULL,
  write_enabled  boolean NOT NULL DEFAULT true,
  delete_enabled boolean NOT NULL DEFAULT true,
  read_enabled   boolean NOT NULL DEFAULT true,
  list_enabled   boolean NOT NULL DEFAULT true,
  PRIMARY KEY (repository_id, name)
);
CREATE INDEX tags_by_manifest ON tags (manifest_id, name);
CREATE INDEX tags_by_time ON tags (repository_id, updated_at, name);

-- manifests.untagged_at: when the manifest lost its last tag (or was pushed without one);
-- NULL while tagged. The tag triggers keep it, whatever path changes tags.
CREATE FUNCTION berth_tag_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE manifests SET untagged_at = NULL WHERE id = NEW.manifest_id AND untagged_at IS NOT NULL;
  RETURN NULL;
END $$;
CREATE FUNCTION berth_tag_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE manifests SET untagged_at = floor(extract(epoch FROM now()))::bigint
    WHERE id = OLD.manifest_id
      AND NOT EXISTS (SELECT 1 FROM tags WHERE manifest_id = OLD.manifest_id);
  UPDATE manifests SET untagged_at = NULL WHERE id = NEW.manifest_id AND untagged_at IS NOT NULL;
  RETURN NULL;
END $$;
CREATE FUNCTION berth_tag_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE manifests SET untagged_at = floor(extract(epoch FROM now()))::bigint
    WHERE id = OLD.manifest_id
      AND NOT EXISTS (SELECT 1 FROM tags WHERE manifest_id = OLD.manifest_id);
  RETURN NULL;
END $$;
CREATE TRIGGER tag_added AFTER INSERT ON tags
  FOR EACH ROW EXECUTE FUNCTION berth_tag_added();
CREATE TRIGGER tag_moved AFTER UPDATE OF manifest_id ON tags
  FOR EACH ROW WHEN (OLD.manifest_id IS DISTINCT FROM NEW.manifest_id)
  EXECUTE FUNCTION berth_tag_moved();
CREATE TRIGGER tag_removed AFTER DELETE ON tags
  FOR EACH ROW EXECUTE FUNCTION berth_tag_removed();

-- linked_bytes of repositories and registries, exact in the transaction of every link change.
-- A repository that goes takes its share of the registry's bytes with it before its row goes
-- (repository_removed); its links then go by the cascade, and the link trigger, which no longer
-- finds their repository, leaves the counters alone. (PostgreSQL refuses a BEFORE DELETE
-- trigger that deletes the links itself, since the link trigger would then update the very
-- repository row being deleted.)
CREATE FUNCTION berth_link_added() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  blob_size bigint;
  registry bigint;
BEGIN
  SELECT size INTO blob_size FROM blobs WHERE digest = NEW.digest;
  UPDATE repositories SET linked_bytes = linked_bytes + blob_size WHERE id = NEW.repository_id
    RETURNING registry_id INTO registry;
  UPDATE registries SET linked_bytes = linked_bytes + blob_size
    WHERE id = registry
      AND NOT EXISTS (SELECT 1 FROM repository_blobs rb JOIN repositories r
                        ON r.id = rb.repository_id
                      WHERE rb.digest = NEW.digest AND rb.repository_id <> NEW.repository_id
                        AND r.registry_id = registry);
  RETURN NULL;
END $$;
CREATE FUNCTION berth_link_removed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  blob_size bigint;
  registry bigint;
BEGIN
  SELECT size INTO blob_size FROM blobs WHERE digest = OLD.digest;
  UPDATE repositories SET linked_bytes = linked_bytes - blob_size WHERE id = OLD.repository_id
    RETURNING registry_id INTO registry;
  UPDATE registries SET linked_bytes = linked_bytes - blob_size
    WHERE id = registry
      AND NOT EXISTS (SELECT 1 FROM repository_blobs rb JOIN repositories r
                        ON r.id = rb.repository_id
                      WHERE rb.digest = OLD.digest AND r.registry_id = registry);
  RETURN NULL;
END $$;
CREATE FUNCTION berth_repository_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE registries SET linked_bytes = linked_bytes - (
      SELECT COALESCE(sum(b.size), 0) FROM repository_blobs rb JOIN blobs b ON b.digest = rb.digest
      WHERE rb.repository_id = OLD.id
        AND NOT EXISTS (SELECT 1 FROM repository_blobs o JOIN repositories r
                          ON r.id = o.repository_id
                        WHERE o.digest = rb.digest AND o.repository_id <> OLD.id
                          AND r.registry_id = OLD.registry_id))
    WHERE id = OLD.registry_id;
  RETURN OLD;
END $$;
CREATE TRIGGER link_added AFTER INSERT ON repository_blobs
  FOR EACH ROW EXECUTE FUNCTION berth_link_added();
CREATE TRIGGER link_removed AFTER DELETE ON repository_blobs
  FOR EACH ROW EXECUTE FUNCTION berth_link_removed();
CREATE TRIGGER repository_removed BEFORE DELETE ON repositories
  FOR EACH ROW EXECUTE FUNCTION berth_repository_removed();

-- Access control (postgres_access_store.cc).
CREATE TABLE admin_passwords (
  registry_id  bigint NOT NULL REFERENCES registries (id) ON DELETE CASCADE,
  name         text COLLATE "C" NOT NULL,
  sealed_value text NOT NULL,
  created_at   bigint NOT NULL
);
CREATE UNIQUE INDEX admin_passwords_key ON admin_passwords (registry_id, lower(name));

CREATE TABLE scope_maps (
  id          bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  registry_id bigint NOT NULL REFERENCES registries (id) ON DELETE CASCADE,
  name        text COLLATE "C" NOT NULL,
  description text NOT NULL DEFAULT '',
  created_at  bigint NOT NULL
);
CREATE UNIQUE INDEX scope_maps_key ON scope_maps (registry_id, lower(name));

CREATE TABLE scope_map_actions (
  scope_map_id bigint NOT NULL REFERENCES scope_maps (id) ON DELETE CASCADE,
  position     integer NOT NULL,
  action       text COLLATE "C" NOT NULL,
  PRIMARY KEY (scope_map_id, position),
  UNIQUE (scope_map_id, action)
);

CREATE TABLE tokens (
  id          bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  registry_id bigint NOT NULL REFERENCES registries (id) ON DELETE CASCADE,
  name        text COLLATE "C" NOT NULL,
  scope_map   text COLLATE "C" NOT NULL,
  enabled     boolean NOT NULL DEFAULT true,
  created_at  bigint NOT NULL
);
CREATE UNIQUE INDEX tokens_key ON tokens (registry_id, lower(name));
CREATE INDEX tokens_by_scope_map ON tokens (registry_id, lower(scope_map));

CREATE TABLE token_passwords (
  token_id    bigint NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
  name        text COLLATE "C" NOT NULL,
  secret_hash text NOT NULL,
  expiry      bigint,
  created_at  bigint NOT NULL
);
CREATE UNIQUE INDEX token_passwords_key ON token_passwords (token_id, lower(name));

CREATE TABLE identities (
  id          text COLLATE "C" PRIMARY KEY,
  name        text COLLATE "C" NOT NULL,
  kind        text NOT NULL CHECK (kind IN ('user', 'servicePrincipal', 'federated')),
  secret_hash text NOT NULL DEFAULT '',
  expiry      bigint,
  enabled     boolean NOT NULL DEFAULT true,
  issuer      text COLLATE "C" NOT NULL DEFAULT '',
  audience    text NOT NULL DEFAULT '',
  jwks        text NOT NULL DEFAULT '',
  subject     text NOT NULL DEFAULT '',
  claims_json text NOT NULL DEFAULT '',
  created_at  bigint NOT NULL
);
CREATE UNIQUE INDEX identities_by_name ON identities (lower(name));
CREATE INDEX identities_by_issuer ON identities (issuer, lower(name)) WHERE kind = 'federated';

CREATE TABLE role_assignments (
  id          text COLLATE "C" PRIMARY KEY,
  identity_id text COLLATE "C" NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
  role        text COLLATE "C" NOT NULL,
  registry_id bigint NOT NULL REFERENCES registries (id) ON DELETE CASCADE,
  repository  text COLLATE "C" NOT NULL DEFAULT '',
  created_at  bigint NOT NULL,
  UNIQUE (identity_id, role, registry_id, repository)
);
CREATE INDEX role_assignments_by_registry ON role_assignments (registry_id, created_at, id);
CREATE INDEX role_assignments_by_identity ON role_assignments (identity_id, created_at, id);

CREATE TABLE network_rules (
  registry_id   bigint NOT NULL REFERENCES registries (id) ON DELETE CASCADE,
  address_range text COLLATE "C" NOT NULL,
  created_at    bigint NOT NULL
);
CREATE UNIQUE INDEX network_rules_key ON network_rules (registry_id, lower(address_range));

CREATE TABLE signing_keys (
  id                 bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  kid                text COLLATE "C" NOT NULL UNIQUE,
  sealed_private_key text NOT NULL,
  created_at         bigint NOT NULL,
  active             boolean NOT NULL DEFAULT false
);
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (active) WHERE active;

CREATE TABLE login_events (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  time           bigint NOT NULL,
  registry_id    bigint,
  identity       bytea NOT NULL DEFAULT '',
  identity_kind  bytea NOT NULL DEFAULT '',
  client_address bytea NOT NULL DEFAULT '',
  success        boolean NOT NULL,
  method         bytea NOT NULL DEFAULT '',
  reason         bytea NOT NULL DEFAULT ''
);
CREATE INDEX login_events_by_registry ON login_events (registry_id, id);
CREATE INDEX login_events_by_identity ON login_events (identity, id);
CREATE INDEX login_events_by_time ON login_events (time);

-- Repository events, webhooks and their deliveries (postgres_event_store.cc).
CREATE TABLE events (
  sequence       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id             text COLLATE "C" NOT NULL,
  registry_id    bigint NOT NULL,
  action         text COLLATE "C" NOT NULL,
  repository     text COLLATE "C" NOT NULL DEFAULT '',
  tag            text COLLATE "C" NOT NULL DEFAULT '',
  digest         text COLLATE "C" NOT NULL DEFAULT '',
  media_type     text NOT NULL DEFAULT '',
  artifact_type  text NOT NULL DEFAULT '',
  size           bigint NOT NULL DEFAULT 0,
  identity       bytea NOT NULL DEFAULT '',
  identity_kind  bytea NOT NULL DEFAULT '',
  client_address bytea NOT NULL DEFAULT '',
  request_id     bytea NOT NULL DEFAULT '',
  host           bytea NOT NULL DEFAULT '',
  method         bytea NOT NULL DEFAULT '',
  user_agent     bytea NOT NULL DEFAULT '',
  created_at     bigint NOT NULL,
  deliverable    boolean NOT NULL,
  webhook_id     bigint,
  redelivery_of  bigint,
  queued_at      bigint NOT NULL
);
CREATE INDEX events_by_registry ON events (registry_id, sequence);
CREATE INDEX events_to_deliver ON events (registry_id, sequence) WHERE deliverable;
CREATE INDEX events_by_id ON events (id);
CREATE INDEX events_by_time ON events (created_at);

CREATE TABLE webhooks (
  id              bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  registry_id     bigint NOT NULL REFERENCES registries (id) ON DELETE CASCADE,
  name            text COLLATE "C" NOT NULL,
  service_uri     text NOT NULL,
  sealed_headers  text NOT NULL DEFAULT '',
  sealed_secret   text NOT NULL DEFAULT '',
  actions         text NOT NULL,
  scope           text NOT NULL DEFAULT '',
  enabled         boolean NOT NULL,
  format          text NOT NULL DEFAULT 'default',
  created_at      bigint NOT NULL,
  cursor          bigint NOT NULL DEFAULT 0,
  attempt         integer NOT NULL DEFAULT 0,
  next_attempt_at bigint NOT NULL DEFAULT 0,
  lease_owner     text COLLATE "C" NOT NULL DEFAULT '',
  lease_until     bigint NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX webhooks_key ON webhooks (registry_id, lower(name));

CREATE TABLE webhook_deliveries (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  webhook_id       bigint NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
  event_sequence   bigint NOT NULL,
  event_id         text COLLATE "C" NOT NULL,
  action           text NOT NULL,
  attempt          integer NOT NULL,
  started_at       bigint NOT NULL,
  latency_ms       bigint NOT NULL,
  request_headers  bytea NOT NULL,
  request_body     bytea NOT NULL,
  status           integer NOT NULL,
  response_headers bytea NOT NULL,
  response_excerpt bytea NOT NULL,
  error            bytea NOT NULL,
  result           text NOT NULL
);
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, id);
CREATE INDEX webhook_deliveries_by_time ON webhook_deliveries (started_at);

-- Garbage collection runs (postgres_gc_store.cc).
CREATE TABLE gc_runs (
  id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  registry_id          bigint REFERENCES registries (id) ON DELETE CASCADE,
  started_by           text NOT NULL,
  dry_run              boolean NOT NULL,
  state                text NOT NULL,
  phase                text NOT NULL DEFAULT '',
  cursor               text COLLATE "C" NOT NULL DEFAULT '',
  cutoff               bigint NOT NULL,
  started_at           bigint NOT NULL,
  updated_at           bigint NOT NULL,
  finished_at          bigint NOT NULL DEFAULT 0,
  links_examined       bigint NOT NULL DEFAULT 0,
  links_removed        bigint NOT NULL DEFAULT 0,
  repositories_removed bigint NOT NULL DEFAULT 0,
  blobs_examined       bigint NOT NULL DEFAULT 0,
  objects_examined     bigint NOT NULL DEFAULT 0,
  blobs_deleted        bigint NOT NULL DEFAULT 0,
  bytes_reclaimed      bigint NOT NULL DEFAULT 0,
  error                bytea NOT NULL DEFAULT ''
);
CREATE INDEX gc_runs_by_registry ON gc_runs (registry_id, id);
CREATE INDEX gc_runs_running ON gc_runs (id) WHERE state = 'running';

-- Soft delete, retention and purge schedules (postgres_lifecycle.cc). Deleted content is kept
-- by the repository's name, so it outlives the repository.
CREATE TABLE deleted_manifests (
  id             bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  registry_id    bigint NOT NULL REFERENCES registries (id) ON DELETE CASCADE,
  repository     text COLLATE "C" NOT NULL,
  digest         text COLLATE "C" NOT NULL,
  media_type     text NOT NULL,
  artifact_type  text NOT NULL,
  subject_digest text COLLATE "C",
  annotations    text NOT NULL,
  size           bigint NOT NULL,
  created_at     bigint NOT NULL,
  updated_at     bigint NOT NULL,
  write_enabled  boolean NOT NULL,
  read_enabled   boolean NOT NULL,
  list_enabled   boolean NOT NULL,
  architecture   text,
  os             text,
  deleted_at     bigint NOT NULL,
  expires_at     bigint NOT NULL,
  content        bytea NOT NULL,
  UNIQUE (registry_id, repository, digest)
);
CREATE INDEX deleted_manifests_by_expiry ON deleted_manifests (expires_at);

CREATE TABLE deleted_manifest_references (
  deleted_manifest_id bigint NOT NULL REFERENCES deleted_manifests (id) ON DELETE CASCADE,
  child_digest        text COLLATE "C" NOT NULL,
  kind                text NOT NULL,
  PRIMARY KEY (deleted_manifest_id, child_digest, kind)
);
CREATE INDEX deleted_manifest_references_by_child ON deleted_manifest_references (child_digest);

CREATE TABLE deleted_tags (
  registry_id bigint NOT NULL REFERENCES registries (id) ON DELETE CASCADE,
  repository  text COLLATE "C" NOT NULL,
  name        text COLLATE "C" NOT NULL,
  digest      text COLLATE "C" NOT NULL,
  created_at  bigint NOT NULL,
  deleted_at  bigint NOT NULL,
  expires_at  bigint NOT NULL,
  PRIMARY KEY (registry_id, repository, name, digest)
);
CREATE INDEX deleted_tags_by_expiry ON deleted_tags (expires_at);
CREATE INDEX deleted_tags_by_digest ON deleted_tags (registry_id, repository, digest);

CREATE TABLE purge_schedules (
  registry_id bigint NOT NULL REFERENCES registries (id) ON DELETE CASCADE,
  name        text COLLATE "C" NOT NULL,
  schedule    text NOT NULL,
  filters     text NOT NULL,
  ago_seconds bigint NOT NULL CHECK (ago_seconds >= 0),
  untagged    boolean NOT NULL,
  keep        bigint NOT NULL CHECK (keep >= 0),
  created_at  bigint NOT NULL,
  updated_at  bigint NOT NULL,
  last_run_at bigint NOT NULL DEFAULT 0,
  last_result text NOT NULL DEFAULT '',
  PRIMARY KEY (registry_id, name)
);
)sql",
    // 1 -> 2: as SQLite's version 9: what the nodes of a deployment share
    // (postgres_coordination.cc): its settings and the leases of the jobs one node at a time
    // runs; and whether a registry has dedicated data endpoints.
    R"sql(
ALTER TABLE registries ADD COLUMN data_endpoint_enabled boolean NOT NULL DEFAULT false;

CREATE TABLE deployment_settings (
  name  text COLLATE "C" PRIMARY KEY,
  value bytea NOT NULL
);

CREATE TABLE leases (
  name          text COLLATE "C" PRIMARY KEY,
  holder        text COLLATE "C" NOT NULL,
  expires_at_ms bigint NOT NULL
);
)sql",
    // 2 -> 3: as SQLite's version 10: what berth keeps about content from other registries
    // (postgres_upstream.cc): credential sets, cache rules, when cached tags were last checked,
    // and import jobs. The rules' key to the credential sets is checked at commit (DEFERRABLE
    // INITIALLY DEFERRED): a registry's delete cascades into both tables, and a check at the
    // end of the cascade into credential_sets could run before the one into cache_rules.
    R"sql(
CREATE TABLE credential_sets (
  registry_id     bigint NOT NULL REFERENCES registries (id) ON DELETE CASCADE,
  name            text COLLATE "C" NOT NULL,
  login_server    text NOT NULL,
  username        text NOT NULL,
  sealed_password text NOT NULL,
  created_at      bigint NOT NULL,
  updated_at      bigint NOT NULL,
  PRIMARY KEY (registry_id, name)
);

CREATE TABLE cache_rules (
  registry_id       bigint NOT NULL REFERENCES registries (id) ON DELETE CASCADE,
  name              text COLLATE "C" NOT NULL,
  source_repository text NOT NULL,
  target_repository text COLLATE "C" NOT NULL,
  credential_set    text COLLATE "C",
  tag_ttl_seconds   bigint NOT NULL CHECK (tag_ttl_seconds >= 0),
  allow_push        boolean NOT NULL,
  created_at        bigint NOT NULL,
  updated_at        bigint NOT NULL,
  PRIMARY KEY (registry_id, name),
  UNIQUE (registry_id, target_repository),
  FOREIGN KEY (registry_id, credential_set) REFERENCES credential_sets (registry_id, name)
    DEFERRABLE INITIALLY DEFERRED
);
CREATE INDEX cache_rules_by_credential_set ON cache_rules (registry_id, credential_set, name);

CREATE TABLE cached_tags (
  repository_id bigint NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
  tag           text COLLATE "C" NOT NULL,
  validated_at  bigint NOT NULL,
  PRIMARY KEY (repository_id, tag)
);

CREATE TABLE import_jobs (
  id                 bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  registry_id        bigint NOT NULL REFERENCES registries (id) ON DELETE CASCADE,
  status             text NOT NULL
    CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
  request            text NOT NULL,
  sealed_credentials text NOT NULL DEFAULT '',
  holder             text COLLATE "C" NOT NULL DEFAULT '',
  heartbeat_at       bigint NOT NULL DEFAULT 0,
  bytes_total        bigint NOT NULL DEFAULT 0,
  bytes_done         bigint NOT NULL DEFAULT 0,
  blobs_total        bigint NOT NULL DEFAULT 0,
  blobs_done         bigint NOT NULL DEFAULT 0,
  result             text NOT NULL DEFAULT '',
  error              bytea NOT NULL DEFAULT '',
  created_at         bigint NOT NULL,
  started_at         bigint NOT NULL DEFAULT 0,
  finished_at        bigint NOT NULL DEFAULT 0
);
CREATE INDEX import_jobs_by_registry ON import_jobs (registry_id, id);
CREATE INDEX import_jobs_active ON import_jobs (id) WHERE status IN ('queued', 'running');
CREATE INDEX import_jobs_ended ON import_jobs (finished_at)
  WHERE status IN ('succeeded', 'failed');
)sql",
    // 3 -> 4: as SQLite's version 11: build tasks and their runs (postgres_tasks.cc): tasks,
    // their triggers' state and base images, runs with their numbers and live logs, and the
    // pins that keep blobs no manifest references from garbage collection.
    R"sql(
CREATE TABLE tasks (
  registry_id bigint NOT NULL REFERENCES registries (id) ON DELETE CASCADE,
  name        text COLLATE "C" NOT NULL,
  definition  text NOT NULL,
  enabled     boolean NOT NULL,
  created_at  bigint NOT NULL,
  updated_at  bigint NOT NULL,
  PRIMARY KEY (registry_id, name)
);
CREATE INDEX tasks_enabled ON tasks (registry_id, name) WHERE enabled;

CREATE TABLE task_trigger_states (
  registry_id  bigint NOT NULL,
  task         text COLLATE "C" NOT NULL,
  trigger_name text COLLATE "C" NOT NULL,
  state        text NOT NULL,
  updated_at   bigint NOT NULL,
  PRIMARY KEY (registry_id, task, trigger_name),
  FOREIGN KEY (registry_id, task) REFERENCES tasks (registry_id, name) ON DELETE CASCADE
);

CREATE TABLE task_base_images (
  registry_id bigint NOT NULL,
  task        text COLLATE "C" NOT NULL,
  reference   text COLLATE "C" NOT NULL,
  PRIMARY KEY (registry_id, task, reference),
  FOREIGN KEY (registry_id, task) REFERENCES tasks (registry_id, name) ON DELETE CASCADE
);
CREATE INDEX task_base_images_by_reference ON task_base_images (reference, registry_id, task);

CREATE TABLE task_run_counters (
  registry_id bigint PRIMARY KEY REFERENCES registries (id) ON DELETE CASCADE,
  last_number bigint NOT NULL
);

CREATE TABLE task_runs (
  registry_id      bigint NOT NULL REFERENCES registries (id) ON DELETE CASCADE,
  number           bigint NOT NULL,
  task             text COLLATE "C" NOT NULL,
  status           text NOT NULL CHECK (status IN
    ('queued', 'running', 'succeeded', 'failed', 'canceled', 'timeout')),
  trigger_name     text NOT NULL,
  request          text NOT NULL,
  holder           text COLLATE "C" NOT NULL DEFAULT '',
  heartbeat_at     bigint NOT NULL DEFAULT 0,
  cancel_requested boolean NOT NULL DEFAULT false,
  outputs          text NOT NULL DEFAULT '',
  base_images      text NOT NULL DEFAULT '',
  error            bytea NOT NULL DEFAULT '',
  log_digest       text NOT NULL DEFAULT '',
  log_size         bigint NOT NULL DEFAULT 0,
  live_log_size    bigint NOT NULL DEFAULT 0,
  created_at       bigint NOT NULL,
  started_at       bigint NOT NULL DEFAULT 0,
  finished_at      bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (registry_id, number)
);
CREATE INDEX task_runs_by_task ON task_runs (registry_id, task, number);
CREATE INDEX task_runs_queued ON task_runs (created_at, registry_id, number)
  WHERE status = 'queued';
CREATE INDEX task_runs_running ON task_runs (registry_id, number) WHERE status = 'running';
CREATE INDEX task_runs_ended ON task_runs (finished_at)
  WHERE status IN ('succeeded', 'failed', 'canceled', 'timeout');

CREATE TABLE run_log_chunks (
  registry_id bigint NOT NULL,
  number      bigint NOT NULL,
  byte_offset bigint NOT NULL,
  bytes       bytea NOT NULL,
  PRIMARY KEY (registry_id, number, byte_offset),
  FOREIGN KEY (registry_id, number) REFERENCES task_runs (registry_id, number) ON DELETE CASCADE
);

CREATE TABLE blob_pins (
  digest     text COLLATE "C" NOT NULL,
  owner      text COLLATE "C" NOT NULL,
  created_at bigint NOT NULL,
  PRIMARY KEY (digest, owner)
);
CREATE INDEX blob_pins_by_owner ON blob_pins (owner);
)sql",
};

constexpr int kSchemaVersion = static_cast<int>(kMigrations.size());

MetadataError database_error(std::string message) {
  return {Errc::database_error, "metadata database: " + std::move(message)};
}

// One step towards `target`: the version found under the lock, and the next migration applied
// when it is behind. Returns the version the database is at afterwards.
Result<int> migrate_one_step(pqxx::connection& connection, int target) {
  pqxx::work work(connection, "berth migration");
  work.exec(std::string("SELECT pg_advisory_xact_lock(") + std::to_string(kMigrationLock) + ")");
  work.exec(
      "CREATE TABLE IF NOT EXISTS schema_version ("
      "version integer PRIMARY KEY, applied_at bigint NOT NULL)");
  const pqxx::row found = work.exec1("SELECT COALESCE(max(version), 0) FROM schema_version");
  const int version = found[0].as<int>();
  if (version > kSchemaVersion) {
    return metadata::schema_too_new(version, kSchemaVersion);
  }
  if (version >= target) {
    work.commit();
    return version;
  }
  work.exec(kMigrations[static_cast<std::size_t>(version)]);
  work.exec("INSERT INTO schema_version (version, applied_at) VALUES (" +
            std::to_string(version + 1) + ", floor(extract(epoch FROM now()))::bigint)");
  work.commit();
  return version + 1;
}

}  // namespace

int schema_version() { return kSchemaVersion; }

Result<void> migrate(pqxx::connection& connection) { return migrate(connection, kSchemaVersion); }

Result<void> migrate(pqxx::connection& connection, int target) {
  if (target < 0 || target > kSchemaVersion) {
    return unknown_schema_version(target);
  }
  for (;;) {
    Result<int> version = MetadataError{Errc::database_error, ""};
    try {
      version = migrate_one_step(connection, target);
    } catch (const std::exception& e) {
      return database_error(std::string("migrating the schema: ") + std::string(e.what()));
    }
    if (!version) return version.error();
    if (*version >= target) return {};
  }
}

}  // namespace berth::metadata::postgres
