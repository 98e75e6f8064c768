// berth_test_backends: starts the shared backends of a scale-out deployment for shell tests
// (tests/integration/scaleout_lib.sh): a throwaway PostgreSQL cluster with one database, and an
// Azurite blob service, each on a free port of 127.0.0.1, with the same launchers the C++ tests
// use (tests/support/). It writes what a berthd node needs to reach them as shell assignments
// to the file given, renamed into place once both answer:
//
//   BERTH_TEST_PG_URI=postgresql://berth@127.0.0.1:PORT/DATABASE
//   PGPASSWORD=...
//   BERTH_TEST_AZURE_CONNECTION_STRING='DefaultEndpointsProtocol=http;...'
//
// then waits for SIGTERM or SIGINT and stops both servers. It dies with the process that
// started it (PR_SET_PDEATHSIG), so a killed test leaves no server behind.
//
// Usage: berth_test_backends ENV_FILE

#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>

#include "support/azurite_server.h"
#include "support/postgres_server.h"

namespace {

// Single-quoted for the shell; the values hold no single quote.
std::string shell_quoted(const std::string& value) { return "'" + value + "'"; }

bool write_env_file(const std::string& path, const std::string& text) {
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << text;
    if (!out) return false;
  }
  std::error_code ec;
  std::filesystem::rename(temporary, path, ec);
  return !ec;
}

int wait_for_stop_signal() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  int received = 0;
  sigwait(&signals, &received);
  return received;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: berth_test_backends ENV_FILE\n";
    return 2;
  }
  // Blocked before any thread starts, so sigwait() receives them; SIGTERM also comes when the
  // starting shell dies.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);

  std::string error;
  auto postgres = berth::testing::PostgresServer::start(error);
  if (!postgres) {
    std::cerr << "berth_test_backends: PostgreSQL: " << error << '\n';
    return 1;
  }
  const std::string database = postgres->create_database(error);
  if (database.empty()) {
    std::cerr << "berth_test_backends: PostgreSQL: " << error << '\n';
    return 1;
  }
  auto azurite = berth::testing::AzuriteServer::start(error);
  if (!azurite) {
    std::cerr << "berth_test_backends: Azurite: " << error << '\n';
    return 1;
  }

  std::string env;
  env += "BERTH_TEST_PG_URI=postgresql://" + berth::testing::PostgresServer::superuser() +
         "@127.0.0.1:" + std::to_string(postgres->port()) + "/" + database + "\n";
  env += "PGPASSWORD=" + postgres->password() + "\n";
  env += "BERTH_TEST_AZURE_CONNECTION_STRING=" + shell_quoted(azurite->connection_string()) + "\n";
  env += "BERTH_TEST_BACKENDS_LOGS=" + postgres->directory().string() + "\n";
  if (!write_env_file(argv[1], env)) {
    std::cerr << "berth_test_backends: cannot write " << argv[1] << '\n';
    return 1;
  }
  wait_for_stop_signal();
  return 0;
}
