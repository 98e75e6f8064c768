// Runs the distribution API tests it is linked with (blob_api_test.cc, manifest_api_test.cc)
// on the scale-out backends instead of the embedded default: every RunningApp gets a database
// of its own on a throwaway PostgreSQL server and a container of its own in Azurite, keyed by
// its data directory so that a restart finds its content again. The tests themselves are the
// same files the embedded run compiles, unchanged.

#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <mutex>
#include <string>

#include "metadata/postgres/postgres_metadata_store.h"
#include "support/app_fixture.h"
#include "support/azurite_server.h"
#include "support/postgres_server.h"

namespace berth::testing {
namespace {

// Base64 of 32 fixed bytes: every node of a deployment shares its deployment key.
constexpr const char* kDeploymentKey = "c2NhbGUtb3V0IGFwaSB0ZXN0cyBkZXBsb3ltZW50IGs=";

struct Backends {
  std::string database;
  std::string container;
};

class ScaleOutBackends : public ::testing::Environment {
 public:
  void SetUp() override {
    PostgresServer* postgres = shared_postgres_server();
    ASSERT_NE(postgres, nullptr) << "the PostgreSQL server did not start";
    std::string error;
    AzuriteServer* azurite = shared_azurite(error);
    ASSERT_NE(azurite, nullptr) << "Azurite did not start: " << error;
    // Set before any server thread runs; read by berthd the way an operator's are.
    ::setenv("BERTH_AZURE_STORAGE_CONNECTION_STRING", azurite->connection_string().c_str(), 1);
    ::setenv("BERTH_DEPLOYMENT_KEY", kDeploymentKey, 1);
    template_ = migrated_template(*postgres);
    ASSERT_FALSE(template_.empty());
    backend_configuration() = [this](server::Config& config) { use_backends(config); };
  }

  void TearDown() override { backend_configuration() = nullptr; }

 private:
  // A database with the current schema, copied for every test: cheaper than migrating each.
  static std::string migrated_template(PostgresServer& postgres) {
    std::string error;
    std::string name = postgres.create_database(error);
    EXPECT_FALSE(name.empty()) << error;
    if (name.empty()) return {};
    metadata::PostgresOptions options;
    options.connection_string = postgres.connection_string(name);
    auto store = metadata::PostgresMetadataStore::open(options);
    EXPECT_TRUE(store) << (store ? "" : store.error().message);
    return store ? name : std::string();
  }

  void use_backends(server::Config& config) {
    PostgresServer& postgres = *shared_postgres_server();
    std::lock_guard lock(mutex_);
    Backends& backends = by_data_dir_[config.data_dir.string()];
    if (backends.database.empty()) {
      std::string error;
      backends.database = postgres.create_database(error, template_);
      if (backends.database.empty()) ADD_FAILURE() << "cannot create a database: " << error;
      backends.container = "api-" + std::to_string(++containers_);
    }
    config.metadata = "postgresql://" + PostgresServer::superuser() + ":" + postgres.password() +
                      "@127.0.0.1:" + std::to_string(postgres.port()) + "/" + backends.database;
    config.storage = "azure";
    config.azure_container = backends.container;
  }

  std::string template_;
  std::mutex mutex_;
  std::map<std::string, Backends> by_data_dir_;
  int containers_ = 0;
};

// In this order: the PostgreSQL server first, then what uses it.
const auto* const kPostgres = ::testing::AddGlobalTestEnvironment(new PostgresEnvironment);
const auto* const kBackends = ::testing::AddGlobalTestEnvironment(new ScaleOutBackends);

}  // namespace
}  // namespace berth::testing
