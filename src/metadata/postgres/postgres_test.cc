// PostgresMetadataStore: the conformance suites on a throwaway PostgreSQL server (one database
// per test, tests/support/postgres_server.h), plus what only PostgreSQL has: the schema version
// table and migrations that several nodes start at once, the connection pool, several stores
// (nodes) writing one database at once, and the query plans of the keyset listings.

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <cstdint>
#include <iterator>
#include <memory>
#include <mutex>
#include <pqxx/pqxx>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/temp_dir.h"
#include "metadata/conformance_test.h"
#include "metadata/postgres/postgres_connection.h"
#include "metadata/postgres/postgres_internal.h"
#include "metadata/postgres/postgres_metadata_store.h"
#include "metadata/postgres/postgres_schema.h"
#include "metadata/sqlite_metadata_store.h"
#include "oci/digest.h"
#include "support/postgres_server.h"

namespace berth::metadata {
namespace {

using berth::TempDir;
using berth::testing::ScratchDatabase;
using berth::testing::shared_postgres_server;
using conformance::manifest_json;
using conformance::manifest_of;
using conformance::repo;

PostgresOptions options_for(const ScratchDatabase& database, std::size_t max_connections = 8) {
  return PostgresOptions{.connection_string = database.connection_string(),
                         .max_connections = max_connections};
}

// The conformance suites start each test from a copy of one database migrated once per run:
// migrating takes most of a fresh database's setup time, and the migrations themselves are
// tested below (PostgresSchema). Nobody stays connected to it, as CREATE DATABASE ... TEMPLATE
// requires.
const std::string& migrated_template() {
  // Lives as long as the run (the cluster goes then): never destroyed, always reachable.
  static ScratchDatabase* database = nullptr;
  static const std::string name = [] {
    database = new ScratchDatabase();
    if (!database->ok()) return std::string();
    auto store = PostgresMetadataStore::open(options_for(*database));
    return store ? database->name() : std::string();
  }();
  return name;
}

class PostgresHarness : public StoreHarness {
 public:
  PostgresHarness() : database_(migrated_template()) {
    if (migrated_template().empty() || !database_.ok()) {
      ADD_FAILURE() << "no test database: " << database_.error();
      return;
    }
    reopen();
  }
  // The store goes first: the database is dropped when database_ goes.
  ~PostgresHarness() override { store_.reset(); }

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
    auto opened = PostgresMetadataStore::open(options_for(database_));
    if (!opened) {
      ADD_FAILURE() << opened.error().message;
      return nullptr;
    }
    return std::move(*opened);
  }
  bool reopen() override {
    store_.reset();  // closed first, as a stopped node would be
    auto opened = PostgresMetadataStore::open(options_for(database_));
    if (!opened) {
      ADD_FAILURE() << opened.error().message;
      return false;
    }
    store_ = std::move(*opened);
    return true;
  }

 private:
  ScratchDatabase database_;
  std::unique_ptr<PostgresMetadataStore> store_;
};

std::unique_ptr<StoreHarness> make_postgres_harness() {
  auto harness = std::make_unique<PostgresHarness>();
  if (!harness->ok()) return nullptr;
  return harness;
}

INSTANTIATE_TEST_SUITE_P(Postgres, MetadataStoreConformance,
                         ::testing::Values(ConformanceBackend{"postgres", make_postgres_harness}),
                         ConformanceBackendName());
INSTANTIATE_TEST_SUITE_P(Postgres, AccessStoreConformance,
                         ::testing::Values(ConformanceBackend{"postgres", make_postgres_harness}),
                         ConformanceBackendName());
INSTANTIATE_TEST_SUITE_P(Postgres, EventStoreConformance,
                         ::testing::Values(ConformanceBackend{"postgres", make_postgres_harness}),
                         ConformanceBackendName());
INSTANTIATE_TEST_SUITE_P(Postgres, GcStoreConformance,
                         ::testing::Values(ConformanceBackend{"postgres", make_postgres_harness}),
                         ConformanceBackendName());
INSTANTIATE_TEST_SUITE_P(Postgres, LifecycleStoreConformance,
                         ::testing::Values(ConformanceBackend{"postgres", make_postgres_harness}),
                         ConformanceBackendName());
INSTANTIATE_TEST_SUITE_P(Postgres, CoordinationStoreConformance,
                         ::testing::Values(ConformanceBackend{"postgres", make_postgres_harness}),
                         ConformanceBackendName());
INSTANTIATE_TEST_SUITE_P(Postgres, UpstreamStoreConformance,
                         ::testing::Values(ConformanceBackend{"postgres", make_postgres_harness}),
                         ConformanceBackendName());
INSTANTIATE_TEST_SUITE_P(Postgres, TaskStoreConformance,
                         ::testing::Values(ConformanceBackend{"postgres", make_postgres_harness}),
                         ConformanceBackendName());

// --- raw access, bypassing the store ---

std::string joined(const std::vector<std::string>& items) {
  std::string text;
  for (const std::string& item : items) text += item + "; ";
  return text;
}

pqxx::result query(const std::string& conninfo, const std::string& sql) {
  pqxx::connection connection(conninfo);
  pqxx::nontransaction work(connection);
  return work.exec(sql);
}

std::string query_one(const std::string& conninfo, const std::string& sql) {
  pqxx::result rows = query(conninfo, sql);
  return rows.empty() || rows[0][0].is_null() ? std::string() : rows[0][0].c_str();
}

std::unique_ptr<PostgresMetadataStore> open_store(const ScratchDatabase& database,
                                                  std::size_t max_connections = 8) {
  auto store = PostgresMetadataStore::open(options_for(database, max_connections));
  EXPECT_TRUE(store) << store.error().message;
  return store ? std::move(*store) : nullptr;
}

// --- the schema and its migrations ---

TEST(PostgresSchema, ANewDatabaseIsMigratedToTheCurrentVersion) {
  ScratchDatabase database;
  ASSERT_TRUE(database.ok()) << database.error();
  auto store = open_store(database);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(query_one(database.connection_string(), "SELECT max(version) FROM schema_version"),
            std::to_string(PostgresMetadataStore::schema_version()));
  auto found = store->find_registry(kDefaultRegistryName);
  ASSERT_TRUE(found && *found);
  EXPECT_EQ((*found)->id, kDefaultRegistryId);
}

TEST(PostgresSchema, ReopeningAppliesNoStepTwice) {
  ScratchDatabase database;
  ASSERT_TRUE(database.ok()) << database.error();
  for (int i = 0; i < 3; ++i) ASSERT_NE(open_store(database), nullptr);
  EXPECT_EQ(query_one(database.connection_string(), "SELECT count(*) FROM schema_version"),
            std::to_string(PostgresMetadataStore::schema_version()));
  EXPECT_EQ(query_one(database.connection_string(), "SELECT count(*) FROM registries"), "1");
}

// Nodes of a deployment start together: each step is applied by one of them, and every one
// opens the same schema.
TEST(PostgresSchema, ConcurrentOpensMigrateOnce) {
  ScratchDatabase database;
  ASSERT_TRUE(database.ok()) << database.error();
  constexpr int kNodes = 6;
  std::atomic<int> opened{0};
  std::vector<std::string> errors(kNodes);
  std::vector<std::thread> nodes;
  for (int i = 0; i < kNodes; ++i) {
    nodes.emplace_back([&, i] {
      auto store = PostgresMetadataStore::open(options_for(database));
      if (store) {
        opened++;
      } else {
        errors[static_cast<std::size_t>(i)] = store.error().message;
      }
    });
  }
  for (std::thread& node : nodes) node.join();
  EXPECT_EQ(opened.load(), kNodes) << errors[0] << errors[1] << errors[2];
  EXPECT_EQ(query_one(database.connection_string(), "SELECT count(*) FROM schema_version"),
            std::to_string(PostgresMetadataStore::schema_version()));
  EXPECT_EQ(query_one(database.connection_string(), "SELECT count(*) FROM registries"), "1");
}

TEST(PostgresSchema, ANewerSchemaIsRefused) {
  ScratchDatabase database;
  ASSERT_TRUE(database.ok()) << database.error();
  ASSERT_NE(open_store(database), nullptr);
  const int newer = PostgresMetadataStore::schema_version() + 1;
  query(database.connection_string(), "INSERT INTO schema_version (version, applied_at) VALUES (" +
                                          std::to_string(newer) + ", 0)");
  auto store = PostgresMetadataStore::open(options_for(database));
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, Errc::schema_too_new);
  EXPECT_NE(store.error().message.find(std::to_string(newer)), std::string::npos)
      << store.error().message;
}

TEST(PostgresSchema, AFailedStepLeavesThePreviousVersionWhole) {
  ScratchDatabase database;
  ASSERT_TRUE(database.ok()) << database.error();
  // A table in the way of version 1: its step fails, and nothing of it stays behind.
  query(database.connection_string(), "CREATE TABLE tags (x integer)");
  auto store = PostgresMetadataStore::open(options_for(database));
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, Errc::database_error);
  EXPECT_EQ(query_one(database.connection_string(),
                      "SELECT count(*) FROM pg_tables WHERE tablename = 'registries'"),
            "0");
  EXPECT_EQ(query_one(database.connection_string(), "SELECT to_regclass('schema_version') IS NULL"),
            "t");
  query(database.connection_string(), "DROP TABLE tags");
  EXPECT_NE(open_store(database), nullptr);
}

// A database as version 1 left it (built by the frozen first step, then written by hand as a
// version-1 store would): version 2 adds the deployment's settings and leases and the data
// endpoint flag, off for every registry, and keeps everything else.
TEST(PostgresSchema, MigratesVersion1ToVersion2) {
  ScratchDatabase database;
  ASSERT_TRUE(database.ok()) << database.error();
  const std::string& conninfo = database.connection_string();
  {
    pqxx::connection connection(conninfo);
    auto migrated = postgres::migrate(connection, 1);
    ASSERT_TRUE(migrated) << migrated.error().message;
  }
  ASSERT_EQ(query_one(conninfo, "SELECT max(version) FROM schema_version"), "1");
  ASSERT_EQ(query_one(conninfo, "SELECT to_regclass('leases') IS NULL"), "t");
  query(conninfo,
        "INSERT INTO registries (id, name, tier, region, created_at, admin_user_enabled, "
        "anonymous_pull_enabled, public_network_access, default_network_action, "
        "soft_delete_enabled, soft_delete_days) "
        "VALUES (2, 'Team', 'Premium', 'westeurope', 1600001000, true, true, false, 'Deny', "
        "true, 30)");
  query(conninfo,
        "INSERT INTO repositories (id, registry_id, name, created_at) "
        "VALUES (7, 2, 'team/api', 1600001100)");

  auto store = open_store(database);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(query_one(conninfo, "SELECT max(version) FROM schema_version"),
            std::to_string(PostgresMetadataStore::schema_version()));
  std::vector<RegistryRecord> registries = store->list_registries().value();
  ASSERT_EQ(registries.size(), 2u);
  EXPECT_FALSE(registries[0].data_endpoint_enabled);
  const RegistryRecord& team = registries[1];
  EXPECT_EQ(team.name, "Team");
  EXPECT_EQ(team.tier, "Premium");
  EXPECT_TRUE(team.admin_user_enabled);
  EXPECT_FALSE(team.public_network_access);
  EXPECT_EQ(team.default_network_action, "Deny");
  EXPECT_FALSE(team.data_endpoint_enabled);
  EXPECT_EQ(store->soft_delete_policy(2).value().days, 30);
  EXPECT_TRUE(store->repository_exists(repo("team/api", 2)).value());

  RegistryRecord dedicated = team;
  dedicated.data_endpoint_enabled = true;
  ASSERT_TRUE(store->update_registry(dedicated).value());
  EXPECT_EQ(store->ensure_deployment_setting("key-check", "v").value(), "v");
  EXPECT_TRUE(store->acquire_lease("gc", "node-a", 1'000, 1'000).value());
  store.reset();
  auto reopened = open_store(database);
  ASSERT_NE(reopened, nullptr);
  EXPECT_TRUE(reopened->find_registry("team").value()->data_endpoint_enabled);
  EXPECT_EQ(reopened->deployment_setting("key-check").value(), std::optional<std::string>("v"));
  EXPECT_EQ(reopened->find_lease("gc").value()->holder, "node-a");
  EXPECT_EQ(query_one(conninfo, "SELECT count(*) FROM schema_version"),
            std::to_string(PostgresMetadataStore::schema_version()));
}

// A database as version 2 left it: version 3 adds what berth keeps about content from other
// registries, empty, and keeps everything else; the new tables hang off the registries and
// repositories that were there.
TEST(PostgresSchema, MigratesVersion2ToVersion3) {
  ScratchDatabase database;
  ASSERT_TRUE(database.ok()) << database.error();
  const std::string& conninfo = database.connection_string();
  {
    pqxx::connection connection(conninfo);
    auto migrated = postgres::migrate(connection, 2);
    ASSERT_TRUE(migrated) << migrated.error().message;
  }
  ASSERT_EQ(query_one(conninfo, "SELECT max(version) FROM schema_version"), "2");
  ASSERT_EQ(query_one(conninfo, "SELECT to_regclass('import_jobs') IS NULL"), "t");
  query(conninfo,
        "INSERT INTO registries (id, name, tier, region, created_at, data_endpoint_enabled) "
        "VALUES (2, 'Team', 'Premium', 'westeurope', 1600001000, true)");
  query(conninfo,
        "INSERT INTO repositories (id, registry_id, name, created_at) "
        "VALUES (7, 2, 'hub/library/alpine', 1600001100)");
  query(conninfo, "INSERT INTO leases (name, holder, expires_at_ms) VALUES ('gc', 'node-a', 5000)");

  auto store = open_store(database);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(query_one(conninfo, "SELECT max(version) FROM schema_version"),
            std::to_string(PostgresMetadataStore::schema_version()));
  EXPECT_TRUE(store->find_registry("team").value()->data_endpoint_enabled);
  EXPECT_EQ(store->find_lease("gc").value()->holder, "node-a");
  EXPECT_TRUE(store->list_credential_sets(2).value().empty());
  EXPECT_TRUE(store->list_cache_rules(2).value().empty());
  EXPECT_TRUE(store->list_imports(2, std::nullopt, 10).value().empty());

  // The new parts work on the migrated database, and go with the registry.
  ASSERT_TRUE(
      store->create_credential_set({.registry = 2, .name = "hub", .login_server = "docker.io"}));
  ASSERT_TRUE(store->create_cache_rule({.registry = 2,
                                        .name = "library",
                                        .source_repository = "docker.io/library/*",
                                        .target_repository = "hub/library/*",
                                        .credential_set = "hub"},
                                       10));
  ASSERT_TRUE(store->set_tag_validated_at(repo("hub/library/alpine", 2), "3.20", 1600002000));
  ASSERT_TRUE(store->create_import({.registry = 2, .request = "{}"}));
  EXPECT_EQ(store->tag_validated_at(repo("hub/library/alpine", 2), "3.20").value(),
            std::optional<std::int64_t>(1600002000));
  ASSERT_TRUE(store->delete_registry(2).value());
  for (const char* table : {"credential_sets", "cache_rules", "cached_tags", "import_jobs"}) {
    EXPECT_EQ(query_one(conninfo, std::string("SELECT count(*) FROM ") + table), "0") << table;
  }
}

// A database as version 3 left it: version 4 adds build tasks, their runs and blob pins, empty,
// and keeps everything else; the new tables hang off the registries that were there.
TEST(PostgresSchema, MigratesVersion3ToVersion4) {
  ScratchDatabase database;
  ASSERT_TRUE(database.ok()) << database.error();
  const std::string& conninfo = database.connection_string();
  {
    pqxx::connection connection(conninfo);
    auto migrated = postgres::migrate(connection, 3);
    ASSERT_TRUE(migrated) << migrated.error().message;
  }
  ASSERT_EQ(query_one(conninfo, "SELECT max(version) FROM schema_version"), "3");
  ASSERT_EQ(query_one(conninfo, "SELECT to_regclass('task_runs') IS NULL"), "t");
  query(conninfo,
        "INSERT INTO registries (id, name, tier, region, created_at) "
        "VALUES (2, 'Team', 'Premium', 'westeurope', 1600001000)");
  query(conninfo,
        "INSERT INTO credential_sets (registry_id, name, login_server, username, "
        "sealed_password, created_at, updated_at) "
        "VALUES (2, 'hub', 'docker.io', 'robot', 'v1:x', 1600001100, 1600001100)");

  auto store = open_store(database);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(query_one(conninfo, "SELECT max(version) FROM schema_version"), "4");
  EXPECT_EQ(PostgresMetadataStore::schema_version(), 4);
  EXPECT_EQ(store->find_credential_set(2, "hub").value()->login_server, "docker.io");
  EXPECT_TRUE(store->list_tasks(2).value().empty());
  EXPECT_TRUE(store->queued_runs(10).value().empty());

  // The new parts work on the migrated database, and go with the registry.
  ASSERT_TRUE(store->create_task({.registry = 2, .name = "build", .definition = "{}"}, 10));
  ASSERT_TRUE(store->set_trigger_state(2, "build", "commit", "abc", 1600002000));
  ASSERT_TRUE(store->set_task_base_images(2, "build", {"alpine:3"}));
  auto run = store->create_run({.registry = 2, .task = "build", .request = "{}"});
  ASSERT_TRUE(run) << run.error().message;
  EXPECT_EQ(run->number, 1);
  ASSERT_TRUE(store->append_run_log(2, 1, "output"));
  ASSERT_TRUE(store->pin_blob(oci::digest_of("context"), "run:2:1", 1600002000));
  ASSERT_TRUE(store->delete_registry(2).value());
  for (const char* table : {"tasks", "task_trigger_states", "task_base_images", "task_run_counters",
                            "task_runs", "run_log_chunks"}) {
    EXPECT_EQ(query_one(conninfo, std::string("SELECT count(*) FROM ") + table), "0") << table;
  }
  // Pins name digests, not registries: their owner unpins them.
  EXPECT_EQ(query_one(conninfo, "SELECT count(*) FROM blob_pins"), "1");
}

TEST(PostgresSchema, MigratingToAnUnknownVersionIsRefused) {
  ScratchDatabase database;
  ASSERT_TRUE(database.ok()) << database.error();
  pqxx::connection connection(database.connection_string());
  for (int version : {-1, PostgresMetadataStore::schema_version() + 1}) {
    auto migrated = postgres::migrate(connection, version);
    ASSERT_FALSE(migrated) << version;
    EXPECT_EQ(migrated.error().code, Errc::invalid_argument);
  }
  EXPECT_EQ(query_one(database.connection_string(), "SELECT to_regclass('registries') IS NULL"),
            "t");
}

// The two backends' schemas have the same tables with the same columns, so a database can be
// copied from one to the other table by table and column by column. PostgreSQL's own
// schema_version stands in for SQLite's PRAGMA user_version.
TEST(PostgresSchema, HasTheTablesAndColumnsOfTheSqliteSchema) {
  ScratchDatabase database(migrated_template());
  ASSERT_TRUE(database.ok()) << database.error();
  std::set<std::string> postgres_columns;
  for (const pqxx::row& row :
       query(database.connection_string(),
             "SELECT table_name, column_name FROM information_schema.columns "
             "WHERE table_schema = current_schema() AND table_name <> 'schema_version'")) {
    std::string column = row[0].c_str();
    column += '.';
    column += row[1].c_str();
    postgres_columns.insert(std::move(column));
  }

  TempDir dir;
  const auto sqlite_file = dir.path() / "metadata.db";
  ASSERT_TRUE(SqliteMetadataStore::open(sqlite_file));
  EXPECT_EQ(SqliteMetadataStore::schema_version(), 11)
      << "a new SQLite version needs its PostgreSQL step (and this test updated)";
  std::set<std::string> sqlite_columns;
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(sqlite_file.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  constexpr char kColumns[] =
      "SELECT t.name, c.name FROM sqlite_schema t, pragma_table_info(t.name) c "
      "WHERE t.type = 'table' AND t.name NOT LIKE 'sqlite_%'";
  ASSERT_EQ(sqlite3_prepare_v2(db, kColumns, -1, &stmt, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    std::string column = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    column += '.';
    column += reinterpret_cast<const char*>(sqlite3_column_text(stmt, 1));
    sqlite_columns.insert(std::move(column));
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);

  EXPECT_GT(sqlite_columns.size(), 100u);
  std::vector<std::string> only_sqlite;
  std::vector<std::string> only_postgres;
  std::set_difference(sqlite_columns.begin(), sqlite_columns.end(), postgres_columns.begin(),
                      postgres_columns.end(), std::back_inserter(only_sqlite));
  std::set_difference(postgres_columns.begin(), postgres_columns.end(), sqlite_columns.begin(),
                      sqlite_columns.end(), std::back_inserter(only_postgres));
  EXPECT_EQ(joined(only_sqlite), "");
  EXPECT_EQ(joined(only_postgres), "");
}

TEST(PostgresSchema, RegistryIdsAreNeverReused) {
  ScratchDatabase database(migrated_template());
  ASSERT_TRUE(database.ok()) << database.error();
  auto store = open_store(database);
  ASSERT_NE(store, nullptr);
  const RegistryId a = store->create_registry({.name = "a", .tier = "Basic"}).value().id;
  const RegistryId b = store->create_registry({.name = "b", .tier = "Basic"}).value().id;
  EXPECT_GT(a, kDefaultRegistryId);
  EXPECT_GT(b, a);
  ASSERT_TRUE(store->delete_registry(b).value());
  EXPECT_GT(store->create_registry({.name = "c", .tier = "Basic"}).value().id, b);
  ASSERT_TRUE(store->delete_registry(kDefaultRegistryId).value());
  EXPECT_GT(store->create_registry({.name = "default", .tier = "Basic"}).value().id, b);
}

// --- connections ---

TEST(PostgresConnections, AnEmptyConnectionStringIsRefused) {
  auto store = PostgresMetadataStore::open(PostgresOptions{});
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, Errc::invalid_argument);
}

TEST(PostgresConnections, AServerThatRefusesFailsTheOpenWithoutTheConnectionString) {
  ScratchDatabase database;
  ASSERT_TRUE(database.ok()) << database.error();
  const std::string secret = "not-the-password-0123456789";
  std::string conninfo = database.connection_string();
  conninfo += " password=" + secret;  // the last one given wins
  auto store = PostgresMetadataStore::open({.connection_string = conninfo});
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, Errc::database_error);
  EXPECT_NE(store.error().message.find("cannot connect"), std::string::npos)
      << store.error().message;
  EXPECT_EQ(store.error().message.find(secret), std::string::npos) << store.error().message;
}

TEST(PostgresConnections, ThePoolStaysWithinItsBoundUnderLoad) {
  ScratchDatabase database(migrated_template());
  ASSERT_TRUE(database.ok()) << database.error();
  auto store = open_store(database, 3);
  ASSERT_NE(store, nullptr);
  std::atomic<int> failures{0};
  std::atomic<std::size_t> most_open{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 12; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        const std::string name = std::string("r") + std::to_string(t) + "-" + std::to_string(i);
        if (!store->link_blob(repo(name), oci::digest_of(name), 1)) failures++;
        if (!store->list_repositories(kDefaultRegistryId, "", 10)) failures++;
        std::size_t open = store->open_connections();
        std::size_t seen = most_open.load();
        while (open > seen && !most_open.compare_exchange_weak(seen, open)) {
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_LE(most_open.load(), 3u);
  EXPECT_GE(most_open.load(), 1u);
  EXPECT_EQ(query_one(database.connection_string(),
                      "SELECT count(*) FROM pg_stat_activity WHERE datname = '" + database.name() +
                          "' AND pid <> pg_backend_pid()"),
            std::to_string(store->open_connections()));
}

// The server ends the sessions (a restart, a failover, a network cut): the next calls open new
// connections and succeed.
TEST(PostgresConnections, BrokenConnectionsAreReplaced) {
  ScratchDatabase database(migrated_template());
  ASSERT_TRUE(database.ok()) << database.error();
  auto store = open_store(database, 4);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->link_blob(repo("before"), oci::digest_of("a"), 1));
  for (int round = 0; round < 3; ++round) {
    query(shared_postgres_server()->connection_string("postgres"),
          "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '" +
              database.name() + "'");
    auto written = store->link_blob(repo("after"), oci::digest_of("b"), 2);
    EXPECT_TRUE(written) << written.error().message;
    auto read = store->list_repositories(kDefaultRegistryId, "", 10);
    ASSERT_TRUE(read) << read.error().message;
    EXPECT_EQ(*read, (std::vector<std::string>{"after", "before"}));
  }
}

// A call never waits longer than its timeout, whether for a lock another node holds or for a
// connection.
TEST(PostgresConnections, ACallGivesUpAtItsDeadline) {
  ScratchDatabase database(migrated_template());
  ASSERT_TRUE(database.ok()) << database.error();
  PostgresOptions options = options_for(database, 1);
  options.call_timeout = std::chrono::milliseconds(500);
  auto opened = PostgresMetadataStore::open(options);
  ASSERT_TRUE(opened) << opened.error().message;
  auto& store = **opened;

  pqxx::connection holder(database.connection_string());
  pqxx::work locked(holder);
  locked.exec("LOCK TABLE registries IN ACCESS EXCLUSIVE MODE");
  const auto started = std::chrono::steady_clock::now();
  auto created = store.create_registry({.name = "blocked", .tier = "Basic"});
  const auto waited = std::chrono::steady_clock::now() - started;
  ASSERT_FALSE(created);
  EXPECT_EQ(created.error().code, Errc::database_error);
  EXPECT_NE(created.error().message.find("timeout"), std::string::npos) << created.error().message;
  EXPECT_LT(waited, std::chrono::seconds(5));
  locked.abort();
  EXPECT_TRUE(store.create_registry({.name = "free", .tier = "Basic"}));
}

// --- several nodes on one database ---

// Nodes link the same blobs into repositories of one registry and unlink them, all at once: the
// registry counts each blob once, exactly as a recount does.
TEST(PostgresNodes, UsageCountersStayExactUnderConcurrentNodes) {
  ScratchDatabase database(migrated_template());
  ASSERT_TRUE(database.ok()) << database.error();
  auto first = open_store(database);
  auto second = open_store(database);
  ASSERT_TRUE(first && second);
  std::atomic<int> failures{0};
  std::string first_failure;
  std::mutex failure_mutex;
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    PostgresMetadataStore& node = t % 2 == 0 ? *first : *second;
    threads.emplace_back([&, t] {
      const std::string repository = std::string("repo-") + std::to_string(t % 4);
      for (int i = 0; i < 30; ++i) {
        const oci::Digest digest = oci::digest_of(std::string("blob-") + std::to_string(i % 6));
        Result<void> done;
        if ((i + t) % 3 == 0) {
          if (auto unlinked = node.unlink_blob(repo(repository), digest); !unlinked) {
            done = unlinked.error();
          }
        } else {
          done = node.link_blob(repo(repository), digest, 100);
        }
        if (!done) {
          std::lock_guard lock(failure_mutex);
          if (failures++ == 0) first_failure = done.error().message;
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0) << first_failure;
  EXPECT_EQ(first->registry_storage_bytes(kDefaultRegistryId).value(),
            first->recount_registry_bytes(kDefaultRegistryId).value());
  for (int r = 0; r < 4; ++r) {
    const std::string repository = std::string("repo-") + std::to_string(r);
    auto summary = first->repository_summary(repo(repository)).value();
    const std::string recount = query_one(
        database.connection_string(),
        "SELECT COALESCE(sum(b.size), 0) FROM repository_blobs rb JOIN blobs b ON "
        "b.digest = rb.digest JOIN repositories r ON r.id = rb.repository_id WHERE r.name = '" +
            repository + "'");
    ASSERT_TRUE(summary);
    EXPECT_EQ(std::to_string(summary->storage_bytes), recount) << repository;
  }
}

// One node pushes (link, then a manifest naming the blob) while another collects with a cutoff
// in the future, so every blob is old enough: a manifest that got stored never lost its blob,
// and a claimed blob is never linked.
TEST(PostgresNodes, CollectionOnOneNodeNeverTakesWhatAPushOnAnotherNeeds) {
  ScratchDatabase database(migrated_template());
  ASSERT_TRUE(database.ok()) << database.error();
  auto pusher = open_store(database);
  auto collector = open_store(database);
  ASSERT_TRUE(pusher && collector);
  const RepositoryRef repository = repo("app");
  std::atomic<bool> pushing{true};
  std::vector<oci::Digest> stored;
  std::atomic<int> unexpected{0};
  std::thread push([&] {
    for (int i = 0; i < 60; ++i) {
      const oci::Digest layer = oci::digest_of(std::string("layer-") + std::to_string(i));
      auto linked = pusher->link_blob(repository, layer, 10);
      if (!linked) {
        if (linked.error().code != Errc::being_deleted) unexpected++;
        continue;
      }
      ManifestRecord image = manifest_of(manifest_json(std::string("image-") + std::to_string(i)));
      auto put = pusher->put_manifest(repository, image, {{layer, ReferenceKind::blob}},
                                      std::string("v") + std::to_string(i));
      if (put) {
        stored.push_back(image.digest);
      } else if (put.error().code != Errc::reference_missing) {
        unexpected++;
      }
    }
    pushing = false;
  });
  std::thread collect([&] {
    while (pushing.load()) {
      const std::int64_t cutoff = unix_now() + 3600;
      if (!collector->sweep_links(repository, "", cutoff, 1000, false)) unexpected++;
      auto page = collector->scan_blobs("", cutoff, 1000);
      if (!page) {
        unexpected++;
        continue;
      }
      if (!collector->claim_blobs(page->garbage, cutoff)) unexpected++;
    }
  });
  push.join();
  collect.join();
  EXPECT_EQ(unexpected.load(), 0);
  EXPECT_FALSE(stored.empty());
  // Every stored manifest still has its layer linked, and no layer a manifest names is claimed.
  EXPECT_EQ(query_one(database.connection_string(),
                      "SELECT count(*) FROM manifests m JOIN manifest_references r "
                      "ON r.manifest_id = m.id LEFT JOIN repository_blobs rb ON rb.digest = "
                      "r.child_digest AND rb.repository_id = m.repository_id "
                      "LEFT JOIN blobs b ON b.digest = r.child_digest "
                      "WHERE rb.digest IS NULL OR b.deleting"),
            "0");
  EXPECT_EQ(query_one(database.connection_string(),
                      "SELECT count(*) FROM repository_blobs rb JOIN blobs b "
                      "ON b.digest = rb.digest WHERE b.deleting"),
            "0");
  for (const oci::Digest& digest : stored) {
    EXPECT_TRUE(pusher->manifest_exists(repository, digest).value()) << digest.str();
  }
}

// Events of concurrent transactions on several nodes become visible in the order of their
// sequence numbers: a reader that follows the log never skips one.
TEST(PostgresNodes, AFollowerOfTheEventLogMissesNoEvent) {
  ScratchDatabase database(migrated_template());
  ASSERT_TRUE(database.ok()) << database.error();
  auto first = open_store(database);
  auto second = open_store(database);
  ASSERT_TRUE(first && second);
  constexpr int kWriters = 6;
  constexpr int kEventsPerWriter = 40;
  std::atomic<int> writing{kWriters};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    PostgresMetadataStore& node = w % 2 == 0 ? *first : *second;
    threads.emplace_back([&, w] {
      for (int i = 0; i < kEventsPerWriter; ++i) {
        EventRecord event;
        event.id = std::string("w") + std::to_string(w) + "-" + std::to_string(i);
        event.action = std::string(event_action::kPush);
        event.repository = "app";
        event.deliverable = true;
        // Half of them with a content change, half alone.
        auto done = i % 2 == 0
                        ? node.put_manifest(repo("app"), manifest_of(manifest_json(event.id)), {},
                                            event.id, std::span(&event, 1))
                        : node.append_events(std::span(&event, 1));
        if (!done) failures++;
      }
      writing--;
    });
  }
  std::set<std::string> seen;
  std::int64_t cursor = 0;
  auto follow = [&] {
    auto page = first->events_after(cursor, 100);
    ASSERT_TRUE(page) << page.error().message;
    for (const EventRecord& event : *page) {
      EXPECT_GT(event.sequence, cursor);
      cursor = event.sequence;
      seen.insert(event.id);
    }
  };
  while (writing.load() > 0) follow();
  for (std::thread& thread : threads) thread.join();
  for (int i = 0; i < 10; ++i) follow();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(seen.size(), std::size_t{kWriters * kEventsPerWriter});
}

// --- query plans ---

// The plan of `statement` as PostgreSQL would run it for any parameters (the generic plan), as
// JSON.
boost::json::value generic_plan(pqxx::connection& connection,
                                const postgres::Statement& statement) {
  int parameters = 0;
  const std::string text = statement.text;
  for (std::size_t at = text.find('$'); at != std::string::npos; at = text.find('$', at + 1)) {
    parameters = std::max(parameters, std::atoi(text.c_str() + at + 1));
  }
  std::string nulls;
  for (int i = 0; i < parameters; ++i) nulls += i == 0 ? "NULL" : ", NULL";
  pqxx::nontransaction work(connection);
  work.exec("DEALLOCATE ALL");
  work.exec(std::string("PREPARE planned AS ") + statement.text);
  pqxx::result rows = work.exec("EXPLAIN (FORMAT JSON) EXECUTE planned" +
                                (parameters > 0 ? "(" + nulls + ")" : std::string()));
  return boost::json::parse(rows[0][0].c_str());
}

// Node types on the plan's main path (subplans and init plans, which run per row or once, are
// left out) and every node type anywhere.
void collect_nodes(const boost::json::object& node, bool main_path, std::vector<std::string>& main,
                   std::vector<std::string>& all) {
  const std::string type(node.at("Node Type").as_string());
  all.push_back(type);
  if (main_path) main.push_back(type);
  if (const auto* children = node.if_contains("Plans")) {
    for (const auto& child : children->as_array()) {
      const auto& object = child.as_object();
      const auto* relationship = object.if_contains("Parent Relationship");
      const bool sub = relationship != nullptr && (relationship->as_string() == "SubPlan" ||
                                                   relationship->as_string() == "InitPlan");
      collect_nodes(object, main_path && !sub, main, all);
    }
  }
}

// With sequential scans and sorts priced out, a statement that can run as an index range in its
// order does; one that cannot still shows a Seq Scan or a Sort.
TEST(PostgresPlans, ListingsAndLookupsAreIndexRangesInTheirOrder) {
  ScratchDatabase database(migrated_template());
  ASSERT_TRUE(database.ok()) << database.error();
  pqxx::connection connection(database.connection_string());
  {
    pqxx::nontransaction work(connection);
    work.exec("SET enable_seqscan = off");
    work.exec("SET enable_sort = off");
    work.exec("SET plan_cache_mode = force_generic_plan");
  }
  std::vector<postgres::Statement> statements;
  for (auto part : {postgres::planned_content_statements, postgres::planned_listing_statements,
                    postgres::planned_event_statements, postgres::planned_access_statements,
                    postgres::planned_gc_statements, postgres::planned_lifecycle_statements,
                    postgres::planned_coordination_statements,
                    postgres::planned_upstream_statements, postgres::planned_task_statements}) {
    for (const postgres::Statement& statement : part()) statements.push_back(statement);
  }
  for (const postgres::Statement& statement : statements) {
    boost::json::value plan = generic_plan(connection, statement);
    std::vector<std::string> main;
    std::vector<std::string> all;
    collect_nodes(plan.as_array()[0].as_object().at("Plan").as_object(), true, main, all);
    EXPECT_EQ(std::count(all.begin(), all.end(), "Seq Scan"), 0)
        << statement.name << ": " << joined(all);
    EXPECT_EQ(std::count(main.begin(), main.end(), "Sort"), 0)
        << statement.name << ": " << joined(main);
  }
}

}  // namespace
}  // namespace berth::metadata
