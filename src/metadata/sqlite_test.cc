// SqliteMetadataStore: the conformance suite on a temp-file database, plus what only SQLite
// has (the file, its schema version, reopening, several stores on one file).

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/temp_dir.h"
#include "metadata/conformance_test.h"
#include "metadata/sqlite_internal.h"
#include "metadata/sqlite_metadata_store.h"
#include "oci/digest.h"
#include "support/unprivileged.h"

namespace berth::metadata {
namespace {

namespace fs = std::filesystem;

using berth::TempDir;

class SqliteHarness : public StoreHarness {
 public:
  SqliteHarness() { reopen(); }
  bool ok() const { return store_ != nullptr; }
  MetadataStore& store() override { return *store_; }
  AccessStore& access() override { return *store_; }
  EventStore& events() override { return *store_; }
  GcStore& gc() override { return *store_; }
  LifecycleStore& lifecycle() override { return *store_; }
  CoordinationStore& coordination() override { return *store_; }
  UpstreamStore& upstream() override { return *store_; }
  TaskStore& tasks() override { return *store_; }
  std::unique_ptr<Store> open_another() override {
    auto opened = SqliteMetadataStore::open(dir_.path() / "metadata.db");
    if (!opened) {
      ADD_FAILURE() << opened.error().message;
      return nullptr;
    }
    return std::move(*opened);
  }
  bool reopen() override {
    store_.reset();  // closed first, as a stopped process would be
    auto opened = SqliteMetadataStore::open(dir_.path() / "metadata.db");
    if (!opened) {
      ADD_FAILURE() << opened.error().message;
      return false;
    }
    store_ = std::move(*opened);
    return true;
  }

 private:
  TempDir dir_;
  std::unique_ptr<SqliteMetadataStore> store_;
};

std::unique_ptr<StoreHarness> make_sqlite_harness() {
  auto harness = std::make_unique<SqliteHarness>();
  if (!harness->ok()) return nullptr;
  return harness;
}

INSTANTIATE_TEST_SUITE_P(Sqlite, MetadataStoreConformance,
                         testing::Values(ConformanceBackend{"sqlite", make_sqlite_harness}),
                         ConformanceBackendName());
INSTANTIATE_TEST_SUITE_P(Sqlite, AccessStoreConformance,
                         ::testing::Values(ConformanceBackend{"sqlite", make_sqlite_harness}),
                         ConformanceBackendName());
INSTANTIATE_TEST_SUITE_P(Sqlite, EventStoreConformance,
                         ::testing::Values(ConformanceBackend{"sqlite", make_sqlite_harness}),
                         ConformanceBackendName());
INSTANTIATE_TEST_SUITE_P(Sqlite, GcStoreConformance,
                         ::testing::Values(ConformanceBackend{"sqlite", make_sqlite_harness}),
                         ConformanceBackendName());
INSTANTIATE_TEST_SUITE_P(Sqlite, LifecycleStoreConformance,
                         ::testing::Values(ConformanceBackend{"sqlite", make_sqlite_harness}),
                         ConformanceBackendName());
INSTANTIATE_TEST_SUITE_P(Sqlite, CoordinationStoreConformance,
                         ::testing::Values(ConformanceBackend{"sqlite", make_sqlite_harness}),
                         ConformanceBackendName());
INSTANTIATE_TEST_SUITE_P(Sqlite, UpstreamStoreConformance,
                         ::testing::Values(ConformanceBackend{"sqlite", make_sqlite_harness}),
                         ConformanceBackendName());
INSTANTIATE_TEST_SUITE_P(Sqlite, TaskStoreConformance,
                         ::testing::Values(ConformanceBackend{"sqlite", make_sqlite_harness}),
                         ConformanceBackendName());

// Raw access to the file, bypassing the store, to set up states the store never produces.
void exec_raw(const fs::path& file, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(file.c_str(), &db), SQLITE_OK);
  char* error = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
  std::string message = error != nullptr ? error : "";
  sqlite3_free(error);
  sqlite3_close(db);
  ASSERT_EQ(rc, SQLITE_OK) << message;
}

// The query plan of `sql` (every step's detail, one a line), from a connection of its own.
std::string query_plan(const fs::path& file, const std::string& sql) {
  sqlite3* db = nullptr;
  std::string plan;
  if (sqlite3_open(file.c_str(), &db) == SQLITE_OK) {
    sqlite3_stmt* stmt = nullptr;
    std::string explain = "EXPLAIN QUERY PLAN " + sql;
    if (sqlite3_prepare_v2(db, explain.c_str(), -1, &stmt, nullptr) == SQLITE_OK) {
      while (sqlite3_step(stmt) == SQLITE_ROW) {
        const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 3));
        if (text != nullptr) plan += text;
        plan += '\n';
      }
    }
    sqlite3_finalize(stmt);
  }
  sqlite3_close(db);
  return plan;
}

std::string query_raw(const fs::path& file, const std::string& sql) {
  sqlite3* db = nullptr;
  std::string value;
  if (sqlite3_open(file.c_str(), &db) == SQLITE_OK) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW) {
      const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
      if (text != nullptr) value = text;
    }
    sqlite3_finalize(stmt);
  }
  sqlite3_close(db);
  return value;
}

RepositoryRef repo(std::string_view name, RegistryId registry = kDefaultRegistryId) {
  return RepositoryRef{.registry = registry, .name = name};
}

ManifestRecord manifest_of(std::string content) {
  oci::Digest digest = oci::digest_of(content);
  return ManifestRecord{.digest = std::move(digest),
                        .media_type = "application/vnd.oci.image.manifest.v1+json",
                        .content = std::move(content),
                        .created_at = 42};
}

TEST(SqliteMetadataStore, CreatesTheFileAtCurrentSchemaVersionInWalMode) {
  TempDir dir;
  const fs::path file = dir.path() / "metadata.db";
  {
    auto store = SqliteMetadataStore::open(file);
    ASSERT_TRUE(store) << store.error().message;
    EXPECT_EQ((*store)->database_file(), file);
  }
  EXPECT_TRUE(fs::exists(file));
  EXPECT_EQ(query_raw(file, "PRAGMA journal_mode"), "wal");
  EXPECT_EQ(query_raw(file, "PRAGMA user_version"),
            std::to_string(SqliteMetadataStore::schema_version()));
  EXPECT_EQ(query_raw(file, "PRAGMA integrity_check"), "ok");
  EXPECT_EQ(query_raw(file, "PRAGMA foreign_key_check"), "");
}

TEST(SqliteMetadataStore, ReopenKeepsData) {
  TempDir dir;
  const fs::path file = dir.path() / "metadata.db";
  ManifestRecord image = manifest_of("{\"kept\":true}");
  const oci::Digest layer = oci::digest_of("layer");
  {
    auto store = SqliteMetadataStore::open(file);
    ASSERT_TRUE(store) << store.error().message;
    ASSERT_TRUE((*store)->link_blob(repo("team/app"), layer, 5));
    ASSERT_TRUE((*store)->create_upload({.id = "u1", .repository = "team/app", .created_at = 7}));
    ASSERT_TRUE((*store)->put_manifest(repo("team/app"), image, {{layer, ReferenceKind::blob}},
                                       std::string("v1")));
  }
  auto store = SqliteMetadataStore::open(file);
  ASSERT_TRUE(store) << store.error().message;
  EXPECT_EQ((*store)->list_repositories(kDefaultRegistryId, "", 10).value(),
            std::vector<std::string>{"team/app"});
  EXPECT_EQ((*store)->linked_blob_size(repo("team/app"), layer).value(),
            std::optional<std::uint64_t>(5));
  EXPECT_EQ((*store)->resolve_tag(repo("team/app"), "v1").value(), std::optional(image.digest));
  auto got = (*store)->get_manifest(repo("team/app"), image.digest).value();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->content, image.content);
  auto upload = (*store)->get_upload("u1").value();
  ASSERT_TRUE(upload.has_value());
  EXPECT_EQ(upload->created_at, 7);
}

TEST(SqliteMetadataStore, MigrationsAreIdempotentAcrossReopen) {
  TempDir dir;
  const fs::path file = dir.path() / "metadata.db";
  for (int round = 0; round < 3; ++round) {
    auto store = SqliteMetadataStore::open(file);
    ASSERT_TRUE(store) << "round " << round << ": " << store.error().message;
    ASSERT_TRUE((*store)->link_blob(repo("r" + std::to_string(round)), oci::digest_of("x"), 1));
  }
  EXPECT_EQ(query_raw(file, "PRAGMA user_version"),
            std::to_string(SqliteMetadataStore::schema_version()));
  EXPECT_EQ(query_raw(file, "SELECT count(*) FROM repositories"), "3");
  EXPECT_EQ(query_raw(file, "SELECT count(*) FROM sqlite_schema WHERE name = 'manifests'"), "1");
}

TEST(SqliteMetadataStore, NewerSchemaIsRefused) {
  TempDir dir;
  const fs::path file = dir.path() / "metadata.db";
  ASSERT_TRUE(SqliteMetadataStore::open(file));
  exec_raw(file, "PRAGMA user_version = 999");

  auto store = SqliteMetadataStore::open(file);
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, Errc::schema_too_new);
  EXPECT_EQ(store.error().message,
            "database schema version 999 is newer than this berth supports (" +
                std::to_string(SqliteMetadataStore::schema_version()) + ")");
  // Refusing must not have touched the file.
  EXPECT_EQ(query_raw(file, "PRAGMA user_version"), "999");
}

TEST(SqliteMetadataStore, DirectoryIsNotADatabase) {
  TempDir dir;
  auto store = SqliteMetadataStore::open(dir.path());
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, Errc::database_error);
  EXPECT_NE(store.error().message.find(dir.path().string()), std::string::npos)
      << store.error().message;
  EXPECT_EQ(store.error().message.find('\n'), std::string::npos);
}

TEST(SqliteMetadataStore, MissingParentDirectoryFails) {
  TempDir dir;
  auto store = SqliteMetadataStore::open(dir.path() / "no" / "such" / "metadata.db");
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, Errc::database_error);
  EXPECT_NE(store.error().message.find("cannot open metadata database"), std::string::npos)
      << store.error().message;
}

TEST(SqliteMetadataStore, GarbageFileIsNotADatabase) {
  TempDir dir;
  const fs::path file = dir.path() / "metadata.db";
  {
    std::ofstream out(file, std::ios::binary);
    for (int i = 0; i < 512; ++i) out << "this is not a sqlite database\n";
  }
  auto store = SqliteMetadataStore::open(file);
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, Errc::database_error);
  EXPECT_NE(store.error().message.find("not a database"), std::string::npos)
      << store.error().message;
  EXPECT_EQ(store.error().message.find('\n'), std::string::npos);
}

TEST(SqliteMetadataStore, ReadOnlyFileFailsCleanly) {
  // As nobody: root ignores file permissions.
  auto as_nobody = [] {
    TempDir dir;
    const fs::path file = dir.path() / "metadata.db";
    ASSERT_TRUE(SqliteMetadataStore::open(file));
    fs::permissions(dir.path(), fs::perms::owner_read | fs::perms::owner_exec);
    fs::permissions(file, fs::perms::owner_read);
    auto store = SqliteMetadataStore::open(file);
    fs::permissions(dir.path(), fs::perms::owner_all);
    ASSERT_FALSE(store);
    EXPECT_EQ(store.error().code, Errc::database_error);
  };
  EXPECT_TRUE(run_unprivileged(as_nobody));
}

TEST(SqliteMetadataStore, NewDatabaseHasTheDefaultRegistry) {
  TempDir dir;
  const fs::path file = dir.path() / "metadata.db";
  const std::int64_t before = unix_now();
  auto store = SqliteMetadataStore::open(file);
  ASSERT_TRUE(store) << store.error().message;
  std::optional<RegistryRecord> fallback = (*store)->find_registry("default").value();
  ASSERT_TRUE(fallback.has_value());
  EXPECT_EQ(fallback->id, kDefaultRegistryId);
  EXPECT_EQ(fallback->tier, "Standard");
  EXPECT_EQ(fallback->region, "");
  EXPECT_GE(fallback->created_at, before);
  EXPECT_LE(fallback->created_at, unix_now());
  EXPECT_FALSE(fallback->admin_user_enabled);
  EXPECT_FALSE(fallback->anonymous_pull_enabled);
  EXPECT_TRUE(fallback->public_network_access);
}

// A deleted registry's id is never reused: anything still holding it (a token, a cached
// grant) must not come to mean a different tenant.
TEST(SqliteMetadataStore, RegistryIdsAreNeverReused) {
  TempDir dir;
  auto store = SqliteMetadataStore::open(dir.path() / "metadata.db");
  ASSERT_TRUE(store) << store.error().message;
  RegistryId a = (*store)->create_registry({.name = "a", .tier = "Basic"}).value().id;
  RegistryId b = (*store)->create_registry({.name = "b", .tier = "Basic"}).value().id;
  EXPECT_EQ(a, 2);
  EXPECT_EQ(b, 3);
  ASSERT_TRUE((*store)->delete_registry(b).value());
  EXPECT_EQ((*store)->create_registry({.name = "c", .tier = "Basic"}).value().id, 4);
  ASSERT_TRUE((*store)->delete_registry(kDefaultRegistryId).value());
  EXPECT_EQ((*store)->create_registry({.name = "default", .tier = "Basic"}).value().id, 5);
}

// Migration 0 -> 1 exactly as released: the schema of every database written before
// registries existed. Frozen here on purpose; the upgrade must handle these files forever.
constexpr char kSchemaV1[] = R"sql(
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
)sql";

// A version-1 database made the way the version-1 store made it.
void create_v1_database(const fs::path& file) {
  exec_raw(file, "PRAGMA journal_mode = WAL");
  exec_raw(file, std::string("BEGIN IMMEDIATE;") + kSchemaV1 + "PRAGMA user_version = 1; COMMIT;");
}

struct V1Fixture {
  std::string image_content = R"({"schemaVersion":2,"seed":"image"})";
  std::string sig_content = R"({"schemaVersion":2,"seed":"signature"})";
  std::string alpine_content = R"({"schemaVersion":2,"seed":"alpine"})";
  oci::Digest image = oci::digest_of(image_content);
  oci::Digest sig = oci::digest_of(sig_content);
  oci::Digest alpine = oci::digest_of(alpine_content);
  oci::Digest layer = oci::digest_of("layer");
  oci::Digest config = oci::digest_of("config");

  // Rows as the version-1 statements wrote them.
  std::string data_sql() const {
    auto q = [](std::string_view text) {
      // Appended, not "'" + text: GCC 12 at -O3 reports a false -Wrestrict for the latter.
      std::string quoted;
      quoted.reserve(text.size() + 2);
      return quoted.append(1, '\'').append(text).append(1, '\'');
    };
    auto manifest = [&](int id, int repository, const oci::Digest& digest,
                        const std::string& content, const std::string& artifact_type,
                        const std::string& subject, int created_at) {
      return "INSERT INTO manifests (id, repository_id, digest, media_type, artifact_type, "
             "subject_digest, annotations, size, created_at, content) VALUES (" +
             std::to_string(id) + ", " + std::to_string(repository) + ", " + q(digest.str()) +
             ", 'application/vnd.oci.image.manifest.v1+json', " + q(artifact_type) + ", " +
             (subject.empty() ? "NULL" : q(subject)) + ", '', " + std::to_string(content.size()) +
             ", " + std::to_string(created_at) + ", CAST(" + q(content) + " AS BLOB));";
    };
    return "PRAGMA foreign_keys = ON;"
           "INSERT INTO repositories (id, name, created_at) VALUES "
           "(1, 'team/app', 1600000000), (2, 'library/alpine', 1600000100), "
           "(5, 'empty', 1600000200);"
           "INSERT INTO blobs (digest, size, created_at) VALUES (" +
           q(layer.str()) + ", 1000, 1600000000), (" + q(config.str()) +
           ", 50, 1600000000);"
           "INSERT INTO repository_blobs (repository_id, digest, created_at) VALUES (1, " +
           q(layer.str()) + ", 1600000000), (1, " + q(config.str()) + ", 1600000000), (2, " +
           q(layer.str()) +
           ", 1600000100);"
           "INSERT INTO uploads (id, repository_id, created_at) VALUES "
           "('upload-1', 1, 1600000300);" +
           manifest(10, 1, image, image_content, "", "", 1600000400) +
           manifest(11, 1, sig, sig_content, "application/signature", image.str(), 1600000450) +
           manifest(12, 2, alpine, alpine_content, "", "", 1600000110) +
           "INSERT INTO manifest_references (manifest_id, child_digest, kind) VALUES (10, " +
           q(layer.str()) + ", 'blob'), (10, " + q(config.str()) +
           ", 'blob');"
           "INSERT INTO tags (repository_id, name, manifest_id, created_at, updated_at) VALUES "
           "(1, 'v1', 10, 1600000500, 1600000600), (1, 'latest', 10, 1600000500, 1600000500), "
           "(2, 'edge', 12, 1600000120, 1600000130);";
  }
};

// A version-1 database holding the fixture's rows, in a directory of its own.
struct V1Database {
  V1Database() {
    create_v1_database(file);
    exec_raw(file, v1.data_sql());
  }
  TempDir dir;
  fs::path file = dir.path() / "metadata.db";
  V1Fixture v1;
};

TEST(SqliteMetadataStore, MigratesVersion1IntoTheDefaultRegistry) {
  const V1Database old;
  const fs::path& file = old.file;
  const V1Fixture& v1 = old.v1;
  ASSERT_FALSE(testing::Test::HasFatalFailure());
  ASSERT_EQ(query_raw(file, "PRAGMA user_version"), "1");

  auto store = SqliteMetadataStore::open(file);
  ASSERT_TRUE(store) << store.error().message;
  SqliteMetadataStore& s = **store;

  EXPECT_EQ(query_raw(file, "PRAGMA user_version"),
            std::to_string(SqliteMetadataStore::schema_version()));
  EXPECT_EQ(query_raw(file, "PRAGMA integrity_check"), "ok");
  EXPECT_EQ(query_raw(file, "PRAGMA foreign_key_check"), "");
  EXPECT_EQ(query_raw(file, "SELECT count(*) FROM sqlite_schema WHERE name = 'repositories_v2'"),
            "0");
  // The tables that referred to the old repositories table refer to the new one.
  for (const char* child : {"repository_blobs", "uploads", "manifests", "tags"}) {
    EXPECT_EQ(query_raw(file, std::string("SELECT \"table\" FROM pragma_foreign_key_list('") +
                                  child + "') WHERE \"from\" = 'repository_id'"),
              "repositories")
        << child;
  }

  // Everything is in the default registry, under the same ids.
  std::vector<RegistryRecord> registries = s.list_registries().value();
  ASSERT_EQ(registries.size(), 1u);
  EXPECT_EQ(registries[0].id, kDefaultRegistryId);
  EXPECT_EQ(registries[0].name, kDefaultRegistryName);
  EXPECT_EQ(registries[0].tier, "Standard");
  EXPECT_EQ(query_raw(file,
                      "SELECT group_concat(id || ':' || registry_id || ':' || name, ' ') "
                      "FROM (SELECT * FROM repositories ORDER BY id)"),
            "1:1:team/app 2:1:library/alpine 5:1:empty");
  EXPECT_EQ(s.list_repositories(kDefaultRegistryId, "", 10).value(),
            (std::vector<std::string>{"empty", "library/alpine", "team/app"}));
  EXPECT_EQ(query_raw(file, "SELECT count(*) FROM manifest_references"), "2");

  const RepositoryRef app = repo("team/app");
  EXPECT_EQ(s.linked_blob_size(app, v1.layer).value(), std::optional<std::uint64_t>(1000));
  EXPECT_EQ(s.linked_blob_size(app, v1.config).value(), std::optional<std::uint64_t>(50));
  EXPECT_EQ(s.linked_blob_size(repo("library/alpine"), v1.layer).value(),
            std::optional<std::uint64_t>(1000));
  EXPECT_EQ(s.resolve_tag(app, "v1").value(), std::optional(v1.image));
  EXPECT_EQ(s.resolve_tag(repo("library/alpine"), "edge").value(), std::optional(v1.alpine));
  std::optional<ManifestRecord> image = s.get_manifest(app, v1.image).value();
  ASSERT_TRUE(image.has_value());
  EXPECT_EQ(image->content, v1.image_content);
  EXPECT_EQ(image->created_at, 1600000400);
  std::vector<Referrer> referrers = s.list_referrers(app, v1.image, std::nullopt).value();
  ASSERT_EQ(referrers.size(), 1u);
  EXPECT_EQ(referrers[0].digest, v1.sig);
  EXPECT_EQ(referrers[0].artifact_type, "application/signature");
  std::optional<UploadRecord> upload = s.get_upload("upload-1").value();
  ASSERT_TRUE(upload.has_value());
  EXPECT_EQ(upload->registry, kDefaultRegistryId);
  EXPECT_EQ(upload->repository, "team/app");
  EXPECT_EQ(upload->created_at, 1600000300);

  std::vector<TagRecord> tags = s.list_tag_records(app).value();
  ASSERT_EQ(tags.size(), 2u);
  EXPECT_EQ(tags[0].name, "latest");
  EXPECT_EQ(tags[1].name, "v1");
  EXPECT_EQ(tags[1].created_at, 1600000500);
  EXPECT_EQ(tags[1].updated_at, 1600000600);

  std::optional<RepositorySummary> summary = s.repository_summary(app).value();
  ASSERT_TRUE(summary.has_value());
  EXPECT_EQ(summary->created_at, 1600000000);
  EXPECT_EQ(summary->updated_at, 1600000600);
  EXPECT_EQ(summary->storage_bytes, 1050u);
  EXPECT_EQ(summary->manifest_count, 2u);
  EXPECT_EQ(summary->tag_count, 2u);
  summary = s.repository_summary(repo("empty")).value();
  ASSERT_TRUE(summary.has_value());
  EXPECT_EQ(summary->updated_at, 1600000200);
  EXPECT_EQ(s.registry_storage_bytes(kDefaultRegistryId).value(), 1050u);

  // The migrated database works like a new one: new registries, same names elsewhere, and
  // the cascades through the rebuilt table.
  RegistryId other = s.create_registry({.name = "other", .tier = "Basic"}).value().id;
  EXPECT_EQ(other, 2);
  ASSERT_TRUE(s.put_manifest(repo("team/app", other), manifest_of(v1.image_content), {},
                             std::string("v1")));
  ASSERT_TRUE(s.link_blob(repo("team/app", other), v1.layer, 1000));
  EXPECT_EQ(s.registry_storage_bytes(other).value(), 1000u);
  EXPECT_TRUE(s.delete_repository(app).value());
  EXPECT_EQ(query_raw(file, "SELECT count(*) FROM manifest_references"), "0");
  EXPECT_EQ(query_raw(file, "SELECT count(*) FROM uploads"), "0");
  EXPECT_EQ(query_raw(file, "SELECT count(*) FROM manifests WHERE repository_id = 1"), "0");
  EXPECT_EQ(query_raw(file, "SELECT count(*) FROM tags WHERE repository_id = 1"), "0");
  EXPECT_EQ(s.resolve_tag(repo("library/alpine"), "edge").value(), std::optional(v1.alpine));
  EXPECT_EQ(s.resolve_tag(repo("team/app", other), "v1").value(), std::optional(v1.image));
  EXPECT_TRUE(s.delete_registry(kDefaultRegistryId).value());
  EXPECT_EQ(query_raw(file, "SELECT count(*) FROM repositories WHERE registry_id = 1"), "0");
  EXPECT_EQ(query_raw(file, "SELECT count(*) FROM repository_blobs"), "1");
  EXPECT_EQ(query_raw(file, "PRAGMA foreign_key_check"), "");
}

// Migrations 1 -> 2 and 2 -> 3 exactly as released, frozen like kSchemaV1: together they make
// the version-3 databases that version 4 (access control) upgrades.
constexpr char kMigrationV2[] = R"sql(
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
)sql";

constexpr char kMigrationV3[] = R"sql(
ALTER TABLE uploads ADD COLUMN updated_at INTEGER NOT NULL DEFAULT 0;
UPDATE uploads SET updated_at = created_at;
CREATE INDEX uploads_by_activity ON uploads (updated_at);
)sql";

// The version-1 fixture upgraded to version 3 the way the version-3 store did it, plus a
// second registry with its flags set, as a version-3 store wrote it.
struct V3Database {
  V3Database() {
    create_v1_database(file);
    exec_raw(file, v1.data_sql());
    exec_raw(file, std::string("BEGIN IMMEDIATE;") + kMigrationV2 + kMigrationV3 +
                       "PRAGMA user_version = 3; COMMIT;");
    exec_raw(file,
             "PRAGMA foreign_keys = ON;"
             "INSERT INTO registries (id, name, tier, region, created_at, admin_user_enabled, "
             "anonymous_pull_enabled, public_network_access) "
             "VALUES (2, 'Team', 'Premium', 'westeurope', 1600001000, 1, 1, 0);"
             "INSERT INTO repositories (id, registry_id, name, created_at) "
             "VALUES (7, 2, 'team/api', 1600001100);"
             "INSERT INTO uploads (id, repository_id, created_at, updated_at) "
             "VALUES ('upload-2', 7, 1600001200, 1600001300);");
  }
  TempDir dir;
  fs::path file = dir.path() / "metadata.db";
  V1Fixture v1;
};

TEST(SqliteMetadataStore, MigratesVersion3ToTheNewestKeepingData) {
  const V3Database old;
  const fs::path& file = old.file;
  const V1Fixture& v1 = old.v1;
  ASSERT_FALSE(testing::Test::HasFatalFailure());
  ASSERT_EQ(query_raw(file, "PRAGMA user_version"), "3");
  ASSERT_EQ(query_raw(file, "SELECT count(*) FROM sqlite_schema WHERE name = 'tokens'"), "0");

  auto opened = SqliteMetadataStore::open(file);
  ASSERT_TRUE(opened) << opened.error().message;
  SqliteMetadataStore& s = **opened;
  EXPECT_EQ(query_raw(file, "PRAGMA user_version"), "11");
  EXPECT_EQ(SqliteMetadataStore::schema_version(), 11);
  EXPECT_EQ(query_raw(file, "PRAGMA integrity_check"), "ok");
  EXPECT_EQ(query_raw(file, "PRAGMA foreign_key_check"), "");
  for (const char* table :
       {"admin_passwords", "scope_maps", "scope_map_actions", "tokens", "token_passwords",
        "identities", "role_assignments", "network_rules", "signing_keys", "login_events", "events",
        "webhooks", "webhook_deliveries", "deployment_settings", "leases", "credential_sets",
        "cache_rules", "cached_tags", "import_jobs", "tasks", "task_trigger_states",
        "task_base_images", "task_run_counters", "task_runs", "run_log_chunks", "blob_pins"}) {
    EXPECT_EQ(query_raw(file, std::string("SELECT count(*) FROM sqlite_schema WHERE type = "
                                          "'table' AND name = '") +
                                  table + "'"),
              "1")
        << table;
  }

  // The registries keep every column, and the new one has its default.
  std::vector<RegistryRecord> registries = s.list_registries().value();
  ASSERT_EQ(registries.size(), 2u);
  EXPECT_EQ(registries[0].name, "default");
  EXPECT_EQ(registries[0].default_network_action, "Allow");
  EXPECT_TRUE(registries[0].public_network_access);
  const RegistryRecord& team = registries[1];
  EXPECT_EQ(team.id, 2);
  EXPECT_EQ(team.name, "Team");
  EXPECT_EQ(team.tier, "Premium");
  EXPECT_EQ(team.region, "westeurope");
  EXPECT_EQ(team.created_at, 1600001000);
  // The admin user flag was only stored before access control: it starts off.
  EXPECT_FALSE(team.admin_user_enabled);
  EXPECT_TRUE(team.anonymous_pull_enabled);
  EXPECT_FALSE(team.public_network_access);
  EXPECT_EQ(team.default_network_action, "Allow");
  EXPECT_FALSE(team.data_endpoint_enabled);

  // The content is where it was.
  EXPECT_EQ(s.list_repositories(kDefaultRegistryId, "", 10).value(),
            (std::vector<std::string>{"empty", "library/alpine", "team/app"}));
  EXPECT_EQ(s.resolve_tag(repo("team/app"), "v1").value(), std::optional(v1.image));
  EXPECT_EQ(s.linked_blob_size(repo("team/app"), v1.layer).value(),
            std::optional<std::uint64_t>(1000));
  std::optional<UploadRecord> upload = s.get_upload("upload-2").value();
  ASSERT_TRUE(upload.has_value());
  EXPECT_EQ(upload->registry, 2);
  EXPECT_EQ(upload->repository, "team/api");
  EXPECT_EQ(upload->updated_at, 1600001300);
  EXPECT_EQ(s.get_upload("upload-1").value()->updated_at, 1600000300);
  // Version 8 counted the usage the link triggers keep from then on.
  EXPECT_EQ(s.registry_storage_bytes(kDefaultRegistryId).value(),
            s.recount_registry_bytes(kDefaultRegistryId).value());
  EXPECT_GT(s.registry_storage_bytes(kDefaultRegistryId).value(), 0u);
  EXPECT_EQ(s.storage_state(repo("team/app")).value().repository_bytes,
            s.repository_summary(repo("team/app")).value()->storage_bytes);
  // Manifests pushed before version 7 have no platform; the listings by time see them.
  std::optional<ManifestSummary> image = s.manifest_summary(repo("team/app"), v1.image).value();
  ASSERT_TRUE(image.has_value());
  EXPECT_EQ(image->architecture, "");
  EXPECT_EQ(image->os, "");
  EXPECT_EQ(s.list_manifest_page(repo("team/app"), {.order = ListingOrder::time_desc, .limit = 9})
                .value()
                .front()
                .digest.str()
                .empty(),
            false);
  EXPECT_EQ(s.list_tag_page(repo("team/app"), {.order = ListingOrder::time_asc, .limit = 9})
                .value()
                .size(),
            s.list_tags(repo("team/app"), "", 9).value().size());

  // The access part works on the migrated registries, cascades included.
  AccessStore& access = s;
  RegistryRecord closed = team;
  closed.default_network_action = "Deny";
  ASSERT_TRUE(s.update_registry(closed).value());
  EXPECT_EQ(s.find_registry("team").value()->default_network_action, "Deny");
  ASSERT_TRUE(access.put_admin_password(2, {.name = "password", .sealed_value = "s1$x"}));
  ASSERT_TRUE(access.create_scope_map({.registry = 2, .name = "m", .actions = {"a"}}, 10));
  ASSERT_TRUE(access.create_token({.registry = 2, .name = "robot", .scope_map = "m"}, 10));
  ASSERT_TRUE(access.add_network_rule({.registry = 2, .address_range = "10.0.0.0/8"}, 10));
  ASSERT_TRUE(access.create_identity({.id = "u", .name = "alice", .secret_hash = "h"}));
  ASSERT_TRUE(access.create_role_assignment(
      {.id = "ra", .identity_id = "u", .role = "AcrPull", .registry = 2}));
  ASSERT_TRUE(s.delete_registry(2).value());
  for (const char* table :
       {"admin_passwords", "scope_maps", "scope_map_actions", "tokens", "network_rules",
        "role_assignments", "repositories WHERE registry_id = 2", "uploads"}) {
    const std::string expected = std::string_view(table) == "uploads" ? "1" : "0";
    EXPECT_EQ(query_raw(file, std::string("SELECT count(*) FROM ") + table), expected) << table;
  }
  EXPECT_EQ(query_raw(file, "PRAGMA foreign_key_check"), "");
}

// A database as version 8 left it (built by the frozen steps up to 8, then written by hand as
// a version-8 store would): version 9 adds the deployment's settings and leases and the data
// endpoint flag, off for every registry, and keeps everything else.
TEST(SqliteMetadataStore, MigratesVersion8ToVersion9) {
  TempDir dir;
  const fs::path file = dir.path() / "metadata.db";
  {
    auto writer = SqliteConnection::open(file, SqliteConnection::Role::writer);
    ASSERT_TRUE(writer) << writer.error().message;
    auto migrated = migrate(**writer, 8);
    ASSERT_TRUE(migrated) << migrated.error().message;
  }
  ASSERT_EQ(query_raw(file, "PRAGMA user_version"), "8");
  ASSERT_EQ(query_raw(file, "SELECT count(*) FROM sqlite_schema WHERE name = 'leases'"), "0");
  const std::string layer = oci::digest_of("layer").str();
  std::string rows =
      "PRAGMA foreign_keys = ON;"
      "INSERT INTO registries (id, name, tier, region, created_at, admin_user_enabled, "
      "anonymous_pull_enabled, public_network_access, default_network_action, "
      "soft_delete_enabled, soft_delete_days) "
      "VALUES (2, 'Team', 'Premium', 'westeurope', 1600001000, 1, 1, 0, 'Deny', 1, 30);"
      "INSERT INTO repositories (id, registry_id, name, created_at) "
      "VALUES (7, 2, 'team/api', 1600001100);";
  rows += "INSERT INTO blobs (digest, size, created_at, touched_at) VALUES ('";
  rows += layer;
  rows += "', 1000, 1600001200, 1600001200);";
  rows += "INSERT INTO repository_blobs (repository_id, digest, created_at) VALUES (7, '";
  rows += layer;
  rows += "', 1600001200);";
  exec_raw(file, rows);
  ASSERT_FALSE(testing::Test::HasFatalFailure());

  auto opened = SqliteMetadataStore::open(file);
  ASSERT_TRUE(opened) << opened.error().message;
  SqliteMetadataStore& s = **opened;
  EXPECT_EQ(query_raw(file, "PRAGMA user_version"),
            std::to_string(SqliteMetadataStore::schema_version()));
  EXPECT_EQ(query_raw(file, "PRAGMA integrity_check"), "ok");
  EXPECT_EQ(query_raw(file, "PRAGMA foreign_key_check"), "");

  std::vector<RegistryRecord> registries = s.list_registries().value();
  ASSERT_EQ(registries.size(), 2u);
  EXPECT_FALSE(registries[0].data_endpoint_enabled);
  const RegistryRecord& team = registries[1];
  EXPECT_EQ(team.name, "Team");
  EXPECT_EQ(team.tier, "Premium");
  EXPECT_TRUE(team.admin_user_enabled);
  EXPECT_FALSE(team.public_network_access);
  EXPECT_EQ(team.default_network_action, "Deny");
  EXPECT_FALSE(team.data_endpoint_enabled);
  EXPECT_EQ(s.soft_delete_policy(2).value().days, 30);
  EXPECT_EQ(s.linked_blob_size(repo("team/api", 2), oci::digest_of("layer")).value(),
            std::optional<std::uint64_t>(1000));

  // The new parts work on the migrated file.
  RegistryRecord dedicated = team;
  dedicated.data_endpoint_enabled = true;
  ASSERT_TRUE(s.update_registry(dedicated).value());
  EXPECT_EQ(s.ensure_deployment_setting("key-check", "v").value(), "v");
  EXPECT_TRUE(s.acquire_lease("gc", "node-a", 1'000, 1'000).value());
  opened->reset();
  auto reopened = SqliteMetadataStore::open(file);
  ASSERT_TRUE(reopened) << reopened.error().message;
  EXPECT_TRUE((*reopened)->find_registry("team").value()->data_endpoint_enabled);
  EXPECT_EQ((*reopened)->deployment_setting("key-check").value(), std::optional<std::string>("v"));
  EXPECT_EQ((*reopened)->find_lease("gc").value()->holder, "node-a");
}

// A database as version 9 left it: version 10 adds what berth keeps about content from other
// registries, empty, and keeps everything else; the new tables hang off the registries and
// repositories that were there.
TEST(SqliteMetadataStore, MigratesVersion9ToVersion10) {
  TempDir dir;
  const fs::path file = dir.path() / "metadata.db";
  {
    auto writer = SqliteConnection::open(file, SqliteConnection::Role::writer);
    ASSERT_TRUE(writer) << writer.error().message;
    auto migrated = migrate(**writer, 9);
    ASSERT_TRUE(migrated) << migrated.error().message;
  }
  ASSERT_EQ(query_raw(file, "PRAGMA user_version"), "9");
  ASSERT_EQ(query_raw(file, "SELECT count(*) FROM sqlite_schema WHERE name = 'import_jobs'"), "0");
  exec_raw(file,
           "PRAGMA foreign_keys = ON;"
           "INSERT INTO registries (id, name, tier, region, created_at, data_endpoint_enabled) "
           "VALUES (2, 'Team', 'Premium', 'westeurope', 1600001000, 1);"
           "INSERT INTO repositories (id, registry_id, name, created_at) "
           "VALUES (7, 2, 'hub/library/alpine', 1600001100);"
           "INSERT INTO leases (name, holder, expires_at_ms) VALUES ('gc', 'node-a', 5000);");
  ASSERT_FALSE(testing::Test::HasFatalFailure());

  auto opened = SqliteMetadataStore::open(file);
  ASSERT_TRUE(opened) << opened.error().message;
  SqliteMetadataStore& s = **opened;
  EXPECT_EQ(query_raw(file, "PRAGMA user_version"),
            std::to_string(SqliteMetadataStore::schema_version()));
  EXPECT_EQ(query_raw(file, "PRAGMA integrity_check"), "ok");
  EXPECT_EQ(query_raw(file, "PRAGMA foreign_key_check"), "");
  EXPECT_TRUE(s.find_registry("team").value()->data_endpoint_enabled);
  EXPECT_EQ(s.find_lease("gc").value()->holder, "node-a");
  EXPECT_TRUE(s.list_credential_sets(2).value().empty());
  EXPECT_TRUE(s.list_cache_rules(2).value().empty());
  EXPECT_TRUE(s.list_imports(2, std::nullopt, 10).value().empty());

  // The new parts work on the migrated file, and go with the registry.
  ASSERT_TRUE(s.create_credential_set({.registry = 2, .name = "hub", .login_server = "docker.io"}));
  ASSERT_TRUE(s.create_cache_rule({.registry = 2,
                                   .name = "library",
                                   .source_repository = "docker.io/library/*",
                                   .target_repository = "hub/library/*",
                                   .credential_set = "hub"},
                                  10));
  ASSERT_TRUE(s.set_tag_validated_at(repo("hub/library/alpine", 2), "3.20", 1600002000));
  ASSERT_TRUE(s.create_import({.registry = 2, .request = "{}"}));
  EXPECT_EQ(s.tag_validated_at(repo("hub/library/alpine", 2), "3.20").value(),
            std::optional<std::int64_t>(1600002000));
  ASSERT_TRUE(s.delete_registry(2).value());
  for (const char* table : {"credential_sets", "cache_rules", "cached_tags", "import_jobs"}) {
    EXPECT_EQ(query_raw(file, std::string("SELECT count(*) FROM ") + table), "0") << table;
  }
  EXPECT_EQ(query_raw(file, "PRAGMA foreign_key_check"), "");
}

// A database as version 10 left it: version 11 adds build tasks, their runs and blob pins,
// empty, and keeps everything else; the new tables hang off the registries that were there.
TEST(SqliteMetadataStore, MigratesVersion10ToVersion11) {
  TempDir dir;
  const fs::path file = dir.path() / "metadata.db";
  {
    auto writer = SqliteConnection::open(file, SqliteConnection::Role::writer);
    ASSERT_TRUE(writer) << writer.error().message;
    auto migrated = migrate(**writer, 10);
    ASSERT_TRUE(migrated) << migrated.error().message;
  }
  ASSERT_EQ(query_raw(file, "PRAGMA user_version"), "10");
  ASSERT_EQ(query_raw(file, "SELECT count(*) FROM sqlite_schema WHERE name = 'task_runs'"), "0");
  exec_raw(file,
           "PRAGMA foreign_keys = ON;"
           "INSERT INTO registries (id, name, tier, region, created_at) "
           "VALUES (2, 'Team', 'Premium', 'westeurope', 1600001000);"
           "INSERT INTO credential_sets (registry_id, name, login_server, username, "
           "sealed_password, created_at, updated_at) "
           "VALUES (2, 'hub', 'docker.io', 'robot', 'v1:x', 1600001100, 1600001100);");
  ASSERT_FALSE(testing::Test::HasFatalFailure());

  auto opened = SqliteMetadataStore::open(file);
  ASSERT_TRUE(opened) << opened.error().message;
  SqliteMetadataStore& s = **opened;
  EXPECT_EQ(query_raw(file, "PRAGMA user_version"), "11");
  EXPECT_EQ(query_raw(file, "PRAGMA integrity_check"), "ok");
  EXPECT_EQ(query_raw(file, "PRAGMA foreign_key_check"), "");
  EXPECT_EQ(s.find_credential_set(2, "hub").value()->login_server, "docker.io");
  EXPECT_TRUE(s.list_tasks(2).value().empty());
  EXPECT_TRUE(s.queued_runs(10).value().empty());

  // The new parts work on the migrated file, and go with the registry.
  ASSERT_TRUE(s.create_task({.registry = 2, .name = "build", .definition = "{}"}, 10));
  ASSERT_TRUE(s.set_trigger_state(2, "build", "commit", "abc", 1600002000));
  ASSERT_TRUE(s.set_task_base_images(2, "build", {"alpine:3"}));
  auto run = s.create_run({.registry = 2, .task = "build", .request = "{}"});
  ASSERT_TRUE(run) << run.error().message;
  EXPECT_EQ(run->number, 1);
  ASSERT_TRUE(s.append_run_log(2, 1, "output"));
  ASSERT_TRUE(s.pin_blob(oci::digest_of("context"), "run:2:1", 1600002000));
  ASSERT_TRUE(s.delete_registry(2).value());
  for (const char* table : {"tasks", "task_trigger_states", "task_base_images", "task_run_counters",
                            "task_runs", "run_log_chunks"}) {
    EXPECT_EQ(query_raw(file, std::string("SELECT count(*) FROM ") + table), "0") << table;
  }
  // Pins name digests, not registries: their owner unpins them.
  EXPECT_EQ(query_raw(file, "SELECT count(*) FROM blob_pins"), "1");
  EXPECT_EQ(query_raw(file, "PRAGMA foreign_key_check"), "");
}

// What the runners, the triggers' pollers, the listings and garbage collection's pin checks run
// are index ranges (the queue and the running runs: their partial indexes), never a scan of all
// runs or a sort.
TEST(SqliteMetadataStore, TaskQueriesUseTheirIndexes) {
  TempDir dir;
  const fs::path file = dir.path() / "metadata.db";
  ASSERT_TRUE(SqliteMetadataStore::open(file));
  const std::pair<TaskSql, const char*> statements[] = {
      {TaskSql::list_enabled_tasks, "tasks_enabled"},
      {TaskSql::list_tasks, "sqlite_autoindex_tasks_1"},
      {TaskSql::tasks_using_base_image, "task_base_images_by_reference"},
      {TaskSql::trigger_states, "PRIMARY KEY"},
      {TaskSql::list_runs, "sqlite_autoindex_task_runs_1"},
      {TaskSql::list_task_runs, "task_runs_by_task"},
      {TaskSql::queued_runs, "task_runs_queued"},
      {TaskSql::start_run, "task_runs_running"},
      {TaskSql::abandoned_runs, "task_runs_running"},
      {TaskSql::prune_runs, "task_runs_ended"},
      {TaskSql::read_log_chunks, "sqlite_autoindex_run_log_chunks_1"},
      {TaskSql::unpin_blobs, "blob_pins_by_owner"},
      {TaskSql::blob_pinned, "PRIMARY KEY"},
  };
  for (const auto& [id, index] : statements) {
    const std::string plan = query_plan(file, spec_of(id).text);
    EXPECT_NE(plan.find(index), std::string::npos) << spec_of(id).name << "\n" << plan;
    EXPECT_EQ(plan.find("TEMP B-TREE"), std::string::npos) << spec_of(id).name << "\n" << plan;
    EXPECT_EQ(plan.find("SCAN task_runs\n"), std::string::npos)
        << spec_of(id).name << "\n" << plan;
  }
}

// What claim_import, the listings and the in-use check of a credential set run are index
// ranges (the claim: the partial index of the queued and running jobs), never a scan of all
// jobs or a sort.
TEST(SqliteMetadataStore, UpstreamQueriesUseTheirIndexes) {
  TempDir dir;
  const fs::path file = dir.path() / "metadata.db";
  ASSERT_TRUE(SqliteMetadataStore::open(file));
  const std::pair<UpstreamSql, const char*> statements[] = {
      {UpstreamSql::claim_import, "import_jobs_active"},
      {UpstreamSql::list_imports, "import_jobs_by_registry"},
      {UpstreamSql::prune_imports, "import_jobs_ended"},
      {UpstreamSql::credential_set_user, "cache_rules_by_credential_set"},
      {UpstreamSql::cache_rule_by_target, "sqlite_autoindex_cache_rules_2"},
      {UpstreamSql::tag_validated_at, "PRIMARY KEY"},
  };
  for (const auto& [id, index] : statements) {
    const std::string plan = query_plan(file, spec_of(id).text);
    EXPECT_NE(plan.find(index), std::string::npos) << spec_of(id).name << "\n" << plan;
    EXPECT_EQ(plan.find("TEMP B-TREE"), std::string::npos) << spec_of(id).name << "\n" << plan;
    EXPECT_EQ(plan.find("SCAN import_jobs\n"), std::string::npos)
        << spec_of(id).name << "\n" << plan;
  }
}

TEST(SqliteMetadataStore, MigratingToAnUnknownVersionIsRefused) {
  TempDir dir;
  auto writer = SqliteConnection::open(dir.path() / "metadata.db", SqliteConnection::Role::writer);
  ASSERT_TRUE(writer) << writer.error().message;
  for (int version : {-1, SqliteMetadataStore::schema_version() + 1}) {
    auto migrated = migrate(**writer, version);
    ASSERT_FALSE(migrated) << version;
    EXPECT_EQ(migrated.error().code, Errc::invalid_argument);
  }
  EXPECT_EQ((*writer)->user_version().value(), 0);
}

// The /acr/v1 listings are ranges of an index in every order: no full scan of the repository's
// tags or manifests, no sort.
TEST(SqliteMetadataStore, OrderedListingsAreIndexRanges) {
  TempDir dir;
  const fs::path file = dir.path() / "metadata.db";
  ASSERT_TRUE(SqliteMetadataStore::open(file));
  const std::pair<Sql, const char*> listings[] = {
      {Sql::tag_page_by_name, "t USING PRIMARY KEY (repository_id=? AND name>?)"},
      {Sql::tag_page_time_asc, "tags_by_time"},
      {Sql::tag_page_time_desc, "tags_by_time"},
      {Sql::manifest_page_by_digest, "sqlite_autoindex_manifests_1"},
      {Sql::manifest_page_time_asc, "manifests_by_time"},
      {Sql::manifest_page_time_desc, "manifests_by_time"},
  };
  for (const auto& [id, index] : listings) {
    std::string plan = query_plan(file, spec_of(id).text);
    EXPECT_NE(plan, "") << spec_of(id).name;
    EXPECT_NE(plan.find(index), std::string::npos) << spec_of(id).name << ":\n" << plan;
    EXPECT_EQ(plan.find("TEMP B-TREE"), std::string::npos) << spec_of(id).name << ":\n" << plan;
  }
}

// A crash between the steps leaves version 3; the next start adds version 4 only once.
TEST(SqliteMetadataStore, Version4MigrationIsAppliedOnce) {
  const V3Database old;
  ASSERT_FALSE(testing::Test::HasFatalFailure());
  for (int round = 0; round < 2; ++round) {
    auto store = SqliteMetadataStore::open(old.file);
    ASSERT_TRUE(store) << "round " << round << ": " << store.error().message;
    ASSERT_TRUE((*store)->create_token(
        {.registry = kDefaultRegistryId, .name = numbered("t", round), .scope_map = "m"}, 10));
  }
  EXPECT_EQ(query_raw(old.file, "SELECT count(*) FROM tokens"), "2");
  EXPECT_EQ(query_raw(old.file,
                      "SELECT count(*) FROM pragma_table_info('registries') "
                      "WHERE name = 'default_network_action'"),
            "1");
}

TEST(SqliteMetadataStore, ConcurrentOpensMigrateOnce) {
  const V1Database old;
  const fs::path& file = old.file;
  ASSERT_FALSE(testing::Test::HasFatalFailure());

  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      auto store = SqliteMetadataStore::open(file);
      if (!store || (*store)->list_repositories(kDefaultRegistryId, "", 10).value().size() != 3) {
        failures++;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(query_raw(file, "SELECT count(*) FROM registries"), "1");
  EXPECT_EQ(query_raw(file, "SELECT count(*) FROM repositories"), "3");
}

// The rebuild runs with foreign keys off; the check before commit is what stops it from
// committing a database whose references are broken.
TEST(SqliteMetadataStore, MigrationWithBrokenReferencesIsRefusedAndRolledBack) {
  const V1Database old;
  const fs::path& file = old.file;
  const V1Fixture& v1 = old.v1;
  exec_raw(file,
           "PRAGMA foreign_keys = OFF;"
           "INSERT INTO tags (repository_id, name, manifest_id, created_at, updated_at) "
           "VALUES (1, 'dangling', 99, 1, 1);");
  ASSERT_FALSE(testing::Test::HasFatalFailure());

  auto store = SqliteMetadataStore::open(file);
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, Errc::database_error);
  EXPECT_NE(store.error().message.find("foreign key violated in table 'tags'"), std::string::npos)
      << store.error().message;
  EXPECT_EQ(query_raw(file, "PRAGMA user_version"), "1");
  EXPECT_EQ(query_raw(file, "SELECT count(*) FROM sqlite_schema WHERE name = 'registries'"), "0");
  EXPECT_EQ(query_raw(file, "SELECT count(*) FROM repositories"), "3");
  EXPECT_EQ(query_raw(file,
                      "SELECT count(*) FROM pragma_table_info('repositories') "
                      "WHERE name = 'registry_id'"),
            "0");

  // Once repaired, the same file upgrades.
  exec_raw(file, "DELETE FROM tags WHERE name = 'dangling'");
  auto repaired = SqliteMetadataStore::open(file);
  ASSERT_TRUE(repaired) << repaired.error().message;
  EXPECT_EQ((*repaired)->resolve_tag(repo("team/app"), "v1").value(), std::optional(v1.image));
}

// Two stores on one file behave like two berthd processes: their writers contend for the
// file's write lock, which the busy timeout must absorb.
TEST(SqliteMetadataStore, TwoStoresOnOneFile) {
  TempDir dir;
  const fs::path file = dir.path() / "metadata.db";
  auto first = SqliteMetadataStore::open(file);
  auto second = SqliteMetadataStore::open(file);
  ASSERT_TRUE(first) << first.error().message;
  ASSERT_TRUE(second) << second.error().message;

  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    SqliteMetadataStore& store = t % 2 == 0 ? **first : **second;
    threads.emplace_back([&store, &failures, t] {
      for (int i = 0; i < 30; ++i) {
        ManifestRecord image =
            manifest_of("{\"t\":" + std::to_string(t) + ",\"i\":" + std::to_string(i) + "}");
        if (!store.put_manifest(repo("shared"), image, {}, numbered("t", t))) failures++;
        if (!store.list_tags(repo("shared"), "", 100)) failures++;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ((*first)->list_tags(repo("shared"), "", 100).value(),
            (std::vector<std::string>{"t0", "t1", "t2", "t3"}));
  EXPECT_EQ((*second)->list_tags(repo("shared"), "", 100).value(),
            (std::vector<std::string>{"t0", "t1", "t2", "t3"}));
}

// The hot listings and lookups must be index scans, never table scans or sorts. The SQL here
// mirrors the statements in sqlite_metadata_store.cc; keep the two in step.
TEST(SqliteMetadataStore, HotQueriesUseIndexes) {
  TempDir dir;
  const fs::path file = dir.path() / "metadata.db";
  ASSERT_TRUE(SqliteMetadataStore::open(file));
  auto plan_of = [&](const std::string& sql) {
    sqlite3* db = nullptr;
    std::string plan;
    EXPECT_EQ(sqlite3_open(file.c_str(), &db), SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, ("EXPLAIN QUERY PLAN " + sql).c_str(), -1, &stmt, nullptr),
              SQLITE_OK)
        << sqlite3_errmsg(db);
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      plan += reinterpret_cast<const char*>(sqlite3_column_text(stmt, 3));
      plan += "\n";
    }
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return plan;
  };
  const std::string repository_id =
      "(SELECT id FROM repositories WHERE registry_id = ?1 AND name = ?2)";
  const std::vector<std::string> queries = {
      "SELECT name FROM repositories WHERE registry_id = ?1 AND name > ?2 ORDER BY name LIMIT ?3",
      "SELECT name FROM tags WHERE repository_id = " + repository_id +
          " AND name > ?3 ORDER BY name LIMIT ?4",
      "SELECT m.digest FROM tags t JOIN manifests m ON m.id = t.manifest_id "
      "WHERE t.repository_id = " +
          repository_id + " AND t.name = ?3",
      "SELECT digest, media_type, artifact_type, size, annotations FROM manifests "
      "WHERE repository_id = " +
          repository_id +
          " AND subject_digest = ?3 AND (?4 IS NULL OR artifact_type = ?4) ORDER BY digest",
      "SELECT id, name, tier, region, created_at, admin_user_enabled, anonymous_pull_enabled, "
      "public_network_access, default_network_action, data_endpoint_enabled FROM registries "
      "WHERE name = ?1",
      "SELECT t.name, m.digest, t.created_at, t.updated_at FROM tags t "
      "JOIN manifests m ON m.id = t.manifest_id WHERE t.repository_id = " +
          repository_id + " ORDER BY t.name",
  };
  // The access part's lookups and listings (sqlite_access_store.cc).
  const std::string login_event_filters =
      " AND (?3 IS NULL OR success = ?3) AND (?4 IS NULL OR time >= ?4) AND (?5 IS NULL OR "
      "time < ?5) ORDER BY id DESC LIMIT ?7";
  const std::vector<std::string> access_queries = {
      "SELECT id, time FROM login_events WHERE id < ?6 AND (?1 IS NULL OR registry_id = ?1) "
      "AND (?2 IS NULL OR identity = ?2)" +
          login_event_filters,
      "SELECT id, time FROM login_events WHERE registry_id = ?1 AND id < ?6 "
      "AND (?2 IS NULL OR identity = ?2)" +
          login_event_filters,
      "SELECT id, time FROM login_events WHERE identity = ?2 AND id < ?6 "
      "AND (?1 IS NULL OR registry_id = ?1)" +
          login_event_filters,
      "SELECT id, name FROM identities WHERE kind = 'federated' AND issuer = ?1 ORDER BY name",
      "SELECT name FROM tokens WHERE registry_id = ?1 AND scope_map = ?2 ORDER BY name LIMIT 1",
      "SELECT t.name, t.scope_map, t.enabled, t.created_at, p.name, p.secret_hash, p.expiry, "
      "p.created_at FROM tokens t LEFT JOIN token_passwords p ON p.token_id = t.id "
      "WHERE t.registry_id = ?1 AND t.name = ?2 ORDER BY p.name",
      "SELECT m.name, m.description, m.created_at, a.action FROM scope_maps m "
      "LEFT JOIN scope_map_actions a ON a.scope_map_id = m.id "
      "WHERE m.registry_id = ?1 AND m.name = ?2 ORDER BY a.position",
      "SELECT id, identity_id FROM role_assignments WHERE registry_id = ?1 "
      "AND (?2 IS NULL OR identity_id = ?2) ORDER BY created_at, id",
      "SELECT id, identity_id FROM role_assignments WHERE identity_id = ?2 "
      "AND (?1 IS NULL OR registry_id = ?1) ORDER BY created_at, id",
      "DELETE FROM login_events WHERE time < ?1",
  };
  for (const std::string& query : access_queries) {
    std::string plan = plan_of(query);
    EXPECT_EQ(plan.find("TEMP B-TREE"), std::string::npos) << query << "\n" << plan;
    // The only full scan allowed is the primary key's, walked backwards from before_id.
    if (plan.find("SCAN login_events") != std::string::npos) {
      EXPECT_NE(plan.find("INTEGER PRIMARY KEY"), std::string::npos) << query << "\n" << plan;
    } else {
      EXPECT_EQ(plan.find("SCAN"), std::string::npos) << query << "\n" << plan;
    }
  }
  for (const std::string& query : queries) {
    std::string plan = plan_of(query);
    EXPECT_EQ(plan.find("SCAN"), std::string::npos) << query << "\n" << plan;
    EXPECT_EQ(plan.find("TEMP B-TREE"), std::string::npos) << query << "\n" << plan;
  }
}

}  // namespace
}  // namespace berth::metadata
