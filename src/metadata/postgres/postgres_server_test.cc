// The throwaway PostgreSQL server the tests start (tests/support/postgres_server.h): where it
// listens, who runs it, and that each test gets a database of its own.

#include "support/postgres_server.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <pqxx/pqxx>
#include <string>

namespace berth::testing {
namespace {

// The one server of this test binary: every test file of it uses the same (this file registers
// it once for all of them).
::testing::Environment* const kPostgres =
    ::testing::AddGlobalTestEnvironment(new PostgresEnvironment);

std::string query_one(const std::string& conninfo, const std::string& sql) {
  pqxx::connection connection(conninfo);
  pqxx::nontransaction work(connection);
  pqxx::result rows = work.exec(sql);
  return rows.empty() || rows[0][0].is_null() ? std::string() : rows[0][0].c_str();
}

TEST(PostgresServer, ListensOnLoopbackOnlyWithoutAUnixSocket) {
  PostgresServer* server = shared_postgres_server();
  ASSERT_NE(server, nullptr);
  const std::string conninfo = server->connection_string("postgres");
  EXPECT_EQ(query_one(conninfo, "SHOW listen_addresses"), "127.0.0.1");
  EXPECT_EQ(query_one(conninfo, "SHOW port"), std::to_string(server->port()));
  EXPECT_EQ(query_one(conninfo, "SHOW unix_socket_directories"), "");
  // Byte-order text and UTF-8, as the backend expects of a database.
  EXPECT_EQ(query_one(conninfo, "SHOW server_encoding"), "UTF8");
  EXPECT_EQ(query_one(conninfo, "SHOW lc_collate"), "C");
}

TEST(PostgresServer, IsAThrowawayClusterWithoutDurability) {
  PostgresServer* server = shared_postgres_server();
  ASSERT_NE(server, nullptr);
  const std::string conninfo = server->connection_string("postgres");
  EXPECT_EQ(query_one(conninfo, "SHOW fsync"), "off");
  EXPECT_EQ(query_one(conninfo, "SHOW synchronous_commit"), "off");
  EXPECT_EQ(query_one(conninfo, "SHOW data_directory"), (server->directory() / "data").string());
}

TEST(PostgresServer, RunsAsAnOrdinaryUser) {
  PostgresServer* server = shared_postgres_server();
  ASSERT_NE(server, nullptr);
  struct stat data {};
  ASSERT_EQ(::stat((server->directory() / "data").c_str(), &data), 0);
  EXPECT_NE(data.st_uid, 0u) << "the cluster belongs to root";
  if (::geteuid() != 0) {
    EXPECT_EQ(data.st_uid, ::geteuid());
  }
}

TEST(PostgresServer, RefusesConnectionsWithoutThePassword) {
  PostgresServer* server = shared_postgres_server();
  ASSERT_NE(server, nullptr);
  const std::string without_password = std::string("host=127.0.0.1 port=") +
                                       std::to_string(server->port()) +
                                       " dbname=postgres user=berth connect_timeout=5";
  EXPECT_THROW(pqxx::connection{without_password}, pqxx::broken_connection);
}

TEST(ScratchDatabase, EachIsFreshAndGoesAway) {
  PostgresServer* server = shared_postgres_server();
  ASSERT_NE(server, nullptr);
  const std::string catalog = server->connection_string("postgres");
  std::string first_name;
  {
    ScratchDatabase first;
    ASSERT_TRUE(first.ok()) << first.error();
    first_name = first.name();
    {
      pqxx::connection connection(first.connection_string());
      pqxx::work work(connection);
      work.exec("CREATE TABLE leftover (x integer)");
      work.commit();
    }
    ScratchDatabase second;
    ASSERT_TRUE(second.ok()) << second.error();
    EXPECT_NE(second.name(), first.name());
    EXPECT_EQ(query_one(second.connection_string(),
                        "SELECT count(*) FROM pg_tables WHERE tablename = 'leftover'"),
              "0");
    // A connection still open does not keep the database from being dropped.
    pqxx::connection still_open(second.connection_string());
  }
  EXPECT_EQ(
      query_one(catalog, "SELECT count(*) FROM pg_database WHERE datname = '" + first_name + "'"),
      "0");
}

}  // namespace
}  // namespace berth::testing
