#pragma once
// For tests: a throwaway PostgreSQL server of their own. One cluster per test binary, made by
// initdb in a fresh temp dir and run by the `postgres` binary on a free port of 127.0.0.1 (no
// Unix socket anywhere: unix_socket_directories is empty), and one fresh database per test
// (ScratchDatabase), dropped when the test is done.
//
//   // once, at namespace scope in the test file:
//   const auto* const kPostgres =
//       ::testing::AddGlobalTestEnvironment(new berth::testing::PostgresEnvironment);
//   // in a test or a harness:
//   berth::testing::ScratchDatabase database;
//   ASSERT_TRUE(database.ok()) << database.error();
//   connect(database.connection_string());
//
// The cluster exists only for the tests, so it trades durability for speed: fsync,
// synchronous_commit and full_page_writes are off. Never use these settings for data that
// matters.
//
// PostgreSQL refuses to run as root. When the tests run as root, initdb and the server run as
// the `postgres` system user (which the Debian packages create), and the temp dir is given to
// it. The server is the test binary's child and gets SIGQUIT (immediate shutdown) if the
// binary dies, so a crashed or killed test run leaves no server behind; the binaries are found
// with `pg_config --bindir`, else under /usr/lib/postgresql/<version>/bin (newest first), or in
// BERTH_POSTGRES_BINDIR when set.
//
// When PostgreSQL is missing, PostgresEnvironment fails the run naming what is missing;
// BERTH_ALLOW_SKIP=1 (developers only) skips the tests instead.

#include <gtest/gtest.h>
#include <sys/types.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

namespace berth::testing {

class PostgresServer {
 public:
  // Makes a cluster and starts it; nullptr with `error` set (naming what is missing or what
  // failed, with the end of the server's log) when it cannot.
  static std::unique_ptr<PostgresServer> start(std::string& error);

  // Stops the server (fast shutdown) and removes the cluster.
  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  int port() const { return port_; }
  // The superuser's name and password (random hex per cluster).
  static std::string superuser();
  const std::string& password() const { return password_; }
  const std::filesystem::path& directory() const { return directory_; }

  // A libpq connection string (keyword=value form) for `database` as the cluster's superuser.
  std::string connection_string(std::string_view database) const;

  // Creates a database under a new name, empty or a copy of `template_database` (which nobody
  // may be connected to), and returns the name; "" with `error` set on failure.
  std::string create_database(std::string& error, std::string_view template_database = {});
  // Drops the database, closing whatever connections it still has; false with `error` set.
  bool drop_database(const std::string& name, std::string& error);

 private:
  PostgresServer() = default;
  void stop();

  std::filesystem::path directory_;  // the temp dir: data/, the logs
  std::string password_;             // the superuser's, random per cluster
  int port_ = 0;
  pid_t pid_ = -1;  // the postmaster, our child
  std::atomic<int> next_database_ = 0;
};

// The server the test binary shares, started by PostgresEnvironment; nullptr before that or when
// it could not start.
PostgresServer* shared_postgres_server();

// Starts the shared server before the first test and stops it after the last.
class PostgresEnvironment : public ::testing::Environment {
 public:
  void SetUp() override;
  void TearDown() override;
};

// A fresh database on the shared server for as long as the object lives: empty, or a copy of
// `template_database`.
class ScratchDatabase {
 public:
  explicit ScratchDatabase(std::string_view template_database = {});
  ~ScratchDatabase();
  ScratchDatabase(const ScratchDatabase&) = delete;
  ScratchDatabase& operator=(const ScratchDatabase&) = delete;

  bool ok() const { return !name_.empty(); }
  const std::string& error() const { return error_; }
  const std::string& name() const { return name_; }
  std::string connection_string() const;

 private:
  std::string name_;
  std::string error_;
};

}  // namespace berth::testing
