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

#include "common/ids.h"
#include "metadata/conformance_test.h"
#include "metadata/sqlite_metadata_store.h"
#include "oci/digest.h"

namespace berth::metadata {
namespace {

namespace fs = std::filesystem;

// A directory of its own under the system temp dir, removed with everything in it.
class TempDir {
 public:
  TempDir() : path_(fs::temp_directory_path() / ("berth-metadata-" + random_hex(8))) {
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

class SqliteHarness : public StoreHarness {
 public:
  SqliteHarness() {
    auto opened = SqliteMetadataStore::open(dir_.path() / "metadata.db");
    if (!opened) {
      ADD_FAILURE() << opened.error().message;
      return;
    }
    store_ = std::move(*opened);
  }
  bool ok() const { return store_ != nullptr; }
  MetadataStore& store() override { return *store_; }

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
    ASSERT_TRUE((*store)->link_blob("team/app", layer, 5));
    ASSERT_TRUE((*store)->create_upload({.id = "u1", .repository = "team/app", .created_at = 7}));
    ASSERT_TRUE((*store)->put_manifest("team/app", image, {{layer, ReferenceKind::blob}},
                                       std::string("v1")));
  }
  auto store = SqliteMetadataStore::open(file);
  ASSERT_TRUE(store) << store.error().message;
  EXPECT_EQ((*store)->list_repositories("", 10).value(), std::vector<std::string>{"team/app"});
  EXPECT_EQ((*store)->linked_blob_size("team/app", layer).value(), std::optional<std::uint64_t>(5));
  EXPECT_EQ((*store)->resolve_tag("team/app", "v1").value(), std::optional(image.digest));
  auto got = (*store)->get_manifest("team/app", image.digest).value();
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
    ASSERT_TRUE((*store)->link_blob("r" + std::to_string(round), oci::digest_of("x"), 1));
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
  if (::geteuid() == 0) GTEST_SKIP() << "root ignores file permissions";
  TempDir dir;
  const fs::path file = dir.path() / "metadata.db";
  ASSERT_TRUE(SqliteMetadataStore::open(file));
  fs::permissions(dir.path(), fs::perms::owner_read | fs::perms::owner_exec);
  fs::permissions(file, fs::perms::owner_read);
  auto store = SqliteMetadataStore::open(file);
  fs::permissions(dir.path(), fs::perms::owner_all);
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, Errc::database_error);
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
        if (!store.put_manifest("shared", image, {}, "t" + std::to_string(t))) failures++;
        if (!store.list_tags("shared", "", 100)) failures++;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ((*first)->list_tags("shared", "", 100).value(),
            (std::vector<std::string>{"t0", "t1", "t2", "t3"}));
  EXPECT_EQ((*second)->list_tags("shared", "", 100).value(),
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
  const std::string repository_id = "(SELECT id FROM repositories WHERE name = ?1)";
  const std::vector<std::string> queries = {
      "SELECT name FROM repositories WHERE name > ?1 ORDER BY name LIMIT ?2",
      "SELECT name FROM tags WHERE repository_id = " + repository_id +
          " AND name > ?2 ORDER BY name LIMIT ?3",
      "SELECT m.digest FROM tags t JOIN manifests m ON m.id = t.manifest_id "
      "WHERE t.repository_id = " +
          repository_id + " AND t.name = ?2",
      "SELECT digest, media_type, artifact_type, size, annotations FROM manifests "
      "WHERE repository_id = " +
          repository_id +
          " AND subject_digest = ?2 AND (?3 IS NULL OR artifact_type = ?3) ORDER BY digest",
  };
  for (const std::string& query : queries) {
    std::string plan = plan_of(query);
    EXPECT_EQ(plan.find("SCAN"), std::string::npos) << query << "\n" << plan;
    EXPECT_EQ(plan.find("TEMP B-TREE"), std::string::npos) << query << "\n" << plan;
  }
}

}  // namespace
}  // namespace berth::metadata
