// The throwaway PostgreSQL server of a test binary (postgres_server.h).

#include "support/postgres_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <pqxx/pqxx>
#include <system_error>
#include <thread>
#include <vector>

#include "common/ids.h"

namespace berth::testing {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr char kSuperuser[] = "berth";
constexpr char kSystemUser[] = "postgres";
constexpr auto kStartTimeout = std::chrono::seconds(60);
constexpr auto kStopTimeout = std::chrono::seconds(30);
// A free port found by binding may be taken by someone else before the server binds it.
constexpr int kStartAttempts = 3;
constexpr std::size_t kLogTailBytes = 2000;

bool skips_allowed() {
  const char* allow = std::getenv("BERTH_ALLOW_SKIP");
  return allow != nullptr && std::string_view(allow) == "1";
}

bool is_executable(const fs::path& file) { return ::access(file.c_str(), X_OK) == 0; }

bool has_server_binaries(const fs::path& bindir) {
  return is_executable(bindir / "initdb") && is_executable(bindir / "postgres");
}

// The first line `command` prints, without its line break; "" when it cannot run.
std::string first_line_of(const char* command) {
  std::string line;
  FILE* pipe = ::popen(command, "r");
  if (pipe == nullptr) return line;
  std::array<char, 4096> buffer{};
  if (std::fgets(buffer.data(), static_cast<int>(buffer.size()), pipe) != nullptr) {
    line = buffer.data();
  }
  ::pclose(pipe);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  return line;
}

// /usr/lib/postgresql/<version>/bin with the highest version that has the server binaries.
std::optional<fs::path> newest_versioned_bindir() {
  std::error_code ec;
  std::vector<std::pair<int, fs::path>> found;
  for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    const std::string version = entry.path().filename().string();
    const bool numeric =
        !version.empty() &&
        std::all_of(version.begin(), version.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!numeric) continue;
    if (has_server_binaries(entry.path() / "bin")) {
      found.emplace_back(std::stoi(version), entry.path() / "bin");
    }
  }
  if (found.empty()) return std::nullopt;
  std::sort(found.begin(), found.end());
  return found.back().second;
}

// Where initdb and postgres are; nullopt with `error` naming what is missing.
std::optional<fs::path> find_bindir(std::string& error) {
  if (const char* configured = std::getenv("BERTH_POSTGRES_BINDIR"); configured && *configured) {
    if (has_server_binaries(configured)) return fs::path(configured);
    error = std::string("BERTH_POSTGRES_BINDIR=") + std::string(configured) +
            " holds no executable initdb and postgres";
    return std::nullopt;
  }
  const std::string reported = first_line_of("pg_config --bindir 2>/dev/null");
  if (!reported.empty() && has_server_binaries(reported)) return fs::path(reported);
  if (auto versioned = newest_versioned_bindir()) return versioned;
  error = "PostgreSQL server binaries (initdb, postgres) not found: neither `pg_config --bindir`";
  error += reported.empty() ? " (no pg_config)" : " (" + reported + ")";
  error +=
      " nor /usr/lib/postgresql/<version>/bin has them; install the postgresql package "
      "(scripts/install-deps.sh) or set BERTH_POSTGRES_BINDIR";
  return std::nullopt;
}

// A port of 127.0.0.1 that was free a moment ago; 0 on failure.
int free_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    port = ntohs(address.sin_port);
  }
  ::close(fd);
  return port;
}

// Who runs initdb and the server: ourselves, or (when we are root, whom PostgreSQL refuses)
// the postgres system user.
struct RunAs {
  bool switch_user = false;
  uid_t uid = 0;
  gid_t gid = 0;
};

std::optional<RunAs> server_user(std::string& error) {
  if (::geteuid() != 0) return RunAs{};
  const passwd* entry = ::getpwnam(kSystemUser);
  if (entry == nullptr) {
    error = "PostgreSQL refuses to run as root and there is no '";
    error += kSystemUser;
    error += "' system user to run it as (the postgresql package creates it)";
    return std::nullopt;
  }
  return RunAs{.switch_user = true, .uid = entry->pw_uid, .gid = entry->pw_gid};
}

// The end of a log file, for error messages.
std::string tail_of(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.size() > kLogTailBytes) text = "..." + text.substr(text.size() - kLogTailBytes);
  return text;
}

struct Spawned {
  pid_t pid = -1;
  std::string error;
};

// Starts `argv` with stdout and stderr appended to `log`, in `directory`, as `run_as`. A
// non-zero `death_signal` is sent to the child when this process dies.
Spawned spawn(const std::vector<std::string>& argv, const fs::path& log, const fs::path& directory,
              const RunAs& run_as, int death_signal) {
  const int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log_fd < 0) return {.error = "cannot open " + log.string() + ": " + std::strerror(errno)};
  if (run_as.switch_user && ::fchown(log_fd, run_as.uid, run_as.gid) != 0) {
    ::close(log_fd);
    return {.error = "cannot give " + log.string() + " to the server user"};
  }
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  const pid_t parent = ::getpid();

  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(log_fd);
    return {.error = std::string("fork failed: ") + std::strerror(errno)};
  }
  if (pid == 0) {
    // The child: only async-signal-safe calls until exec.
    if (::dup2(log_fd, STDOUT_FILENO) < 0 || ::dup2(log_fd, STDERR_FILENO) < 0) ::_exit(126);
    const int null_fd = ::open("/dev/null", O_RDONLY);
    if (null_fd >= 0) ::dup2(null_fd, STDIN_FILENO);
    if (run_as.switch_user) {
      if (::setgroups(0, nullptr) != 0 || ::setgid(run_as.gid) != 0 || ::setuid(run_as.uid) != 0) {
        ::_exit(126);
      }
    }
    // Set after the switch of user, which clears it; the check catches a parent that died
    // before it was set.
    if (death_signal != 0) {
      if (::prctl(PR_SET_PDEATHSIG, death_signal) != 0 || ::getppid() != parent) ::_exit(126);
    }
    if (::chdir(directory.c_str()) != 0) ::_exit(126);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(log_fd);
  return {.pid = pid};
}

// The exit status of the child, or -1 when it did not exit normally.
int wait_for(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Runs `argv` to its end; "" on success, else what went wrong with the end of its log.
std::string run(const std::vector<std::string>& argv, const fs::path& log,
                const fs::path& directory, const RunAs& run_as) {
  Spawned child = spawn(argv, log, directory, run_as, 0);
  if (child.pid < 0) return child.error;
  const int status = wait_for(child.pid);
  if (status == 0) return {};
  return fs::path(argv[0]).filename().string() + " failed (exit status " + std::to_string(status) +
         "):\n" + tail_of(log);
}

bool give_to(const fs::path& path, const RunAs& run_as) {
  return !run_as.switch_user || ::chown(path.c_str(), run_as.uid, run_as.gid) == 0;
}

// The server's settings, appended to the postgresql.conf initdb wrote.
bool append_settings(const fs::path& data, int port) {
  std::ofstream conf(data / "postgresql.conf", std::ios::app);
  conf << "\n# Written by the test launcher (tests/support/postgres_server.cc): a throwaway\n"
          "# cluster on loopback only, without a Unix socket, and without durability.\n"
       << "listen_addresses = '127.0.0.1'\n"
       << "port = " << port << "\n"
       << "unix_socket_directories = ''\n"
       << "max_connections = 200\n"
       << "fsync = off\n"
       << "synchronous_commit = off\n"
       << "full_page_writes = off\n"
       << "log_destination = 'stderr'\n"
       << "logging_collector = off\n"
       << "log_min_messages = warning\n"
       << "lc_messages = 'C'\n";
  return static_cast<bool>(conf);
}

// Whether the child has exited (and is reaped).
bool has_exited(pid_t pid) {
  int status = 0;
  return ::waitpid(pid, &status, WNOHANG) == pid;
}

// Waits until the server accepts connections; false when it exited or the time ran out.
bool wait_until_ready(pid_t pid, const std::string& conninfo) {
  const auto deadline = Clock::now() + kStartTimeout;
  while (Clock::now() < deadline) {
    if (::PQping(conninfo.c_str()) == PQPING_OK) return true;
    if (has_exited(pid)) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

// Stops the child: fast shutdown first (SIGINT), then immediate (SIGQUIT), then SIGKILL.
void stop_child(pid_t pid) {
  for (int signal : {SIGINT, SIGQUIT, SIGKILL}) {
    if (::kill(pid, signal) != 0) break;
    const auto deadline = Clock::now() + kStopTimeout;
    while (Clock::now() < deadline) {
      if (has_exited(pid)) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  has_exited(pid);
}

std::string quoted_name(std::string_view name) {
  std::string text = "\"";
  for (char c : name) {
    if (c == '"') text += '"';
    text += c;
  }
  text += '"';
  return text;
}

// Runs one statement outside a transaction (CREATE DATABASE cannot run in one); "" or the error.
std::string run_admin_statement(const std::string& conninfo, const std::string& sql) {
  try {
    pqxx::connection connection(conninfo);
    pqxx::nontransaction work(connection);
    work.exec(sql);
    return {};
  } catch (const std::exception& e) {
    return e.what();
  }
}

std::unique_ptr<PostgresServer>& shared_slot() {
  static std::unique_ptr<PostgresServer> server;
  return server;
}

}  // namespace

std::unique_ptr<PostgresServer> PostgresServer::start(std::string& error) {
  std::optional<fs::path> bindir = find_bindir(error);
  if (!bindir) return nullptr;
  std::optional<RunAs> run_as = server_user(error);
  if (!run_as) return nullptr;

  std::unique_ptr<PostgresServer> server(new PostgresServer());
  std::string pattern = (fs::temp_directory_path() / "berth-pg-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    error = std::string("mkdtemp failed: ") + std::strerror(errno);
    return nullptr;
  }
  server->directory_ = pattern;
  if (!give_to(server->directory_, *run_as)) {
    error = "cannot give " + server->directory_.string() + " to the '" + kSystemUser + "' user";
    return nullptr;
  }
  server->password_ = random_hex(16);

  // initdb reads the superuser's password from a file, which goes once it has.
  const fs::path password_file = server->directory_ / "password";
  {
    std::ofstream out(password_file);
    out << server->password_ << '\n';
  }
  ::chmod(password_file.c_str(), 0600);
  give_to(password_file, *run_as);
  const fs::path data = server->directory_ / "data";
  error = run({(*bindir / "initdb").string(), "--pgdata=" + data.string(),
               std::string("--username=") + kSuperuser, "--pwfile=" + password_file.string(),
               "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C", "--no-sync"},
              server->directory_ / "initdb.log", server->directory_, *run_as);
  fs::remove(password_file);
  if (!error.empty()) return nullptr;

  for (int attempt = 1; attempt <= kStartAttempts; ++attempt) {
    server->port_ = free_loopback_port();
    if (server->port_ == 0) {
      error = "no free port on 127.0.0.1";
      return nullptr;
    }
    if (!append_settings(data, server->port_)) {
      error = "cannot write " + (data / "postgresql.conf").string();
      return nullptr;
    }
    const fs::path log = server->directory_ / "postgres.log";
    Spawned child = spawn({(*bindir / "postgres").string(), "-D", data.string()}, log,
                          server->directory_, *run_as, SIGQUIT);
    if (child.pid < 0) {
      error = child.error;
      return nullptr;
    }
    server->pid_ = child.pid;
    if (wait_until_ready(child.pid, server->connection_string("postgres"))) {
      error.clear();
      return server;
    }
    stop_child(child.pid);
    server->pid_ = -1;
    error = std::string("the PostgreSQL server did not start on 127.0.0.1:") +
            std::to_string(server->port_) + ":\n" + tail_of(log);
  }
  return nullptr;
}

PostgresServer::~PostgresServer() { stop(); }

void PostgresServer::stop() {
  if (pid_ > 0) stop_child(pid_);
  pid_ = -1;
  if (!directory_.empty()) {
    std::error_code ec;
    fs::remove_all(directory_, ec);
  }
}

std::string PostgresServer::superuser() { return kSuperuser; }

std::string PostgresServer::connection_string(std::string_view database) const {
  std::string text = std::string("host=127.0.0.1 port=") + std::to_string(port_);
  text += " dbname=";
  text += database;
  text += " user=";
  text += kSuperuser;
  text += " password=";
  text += password_;
  text += " connect_timeout=10";
  return text;
}

std::string PostgresServer::create_database(std::string& error,
                                            std::string_view template_database) {
  std::string name = "berth_test_";
  name += std::to_string(++next_database_);
  std::string sql = "CREATE DATABASE " + quoted_name(name);
  if (!template_database.empty()) {
    sql += " TEMPLATE ";
    sql += quoted_name(template_database);
  }
  error = run_admin_statement(connection_string("postgres"), sql);
  return error.empty() ? name : std::string();
}

bool PostgresServer::drop_database(const std::string& name, std::string& error) {
  error = run_admin_statement(connection_string("postgres"),
                              "DROP DATABASE IF EXISTS " + quoted_name(name) + " WITH (FORCE)");
  return error.empty();
}

PostgresServer* shared_postgres_server() { return shared_slot().get(); }

void PostgresEnvironment::SetUp() {
  std::string error;
  shared_slot() = PostgresServer::start(error);
  if (shared_slot()) return;
  if (skips_allowed()) GTEST_SKIP() << "no PostgreSQL server for the tests: " << error;
  FAIL() << "no PostgreSQL server for the tests (BERTH_ALLOW_SKIP=1 skips instead): " << error;
}

void PostgresEnvironment::TearDown() { shared_slot().reset(); }

ScratchDatabase::ScratchDatabase(std::string_view template_database) {
  PostgresServer* server = shared_postgres_server();
  if (server == nullptr) {
    error_ = "the shared PostgreSQL server is not running (see the environment's failure)";
    return;
  }
  name_ = server->create_database(error_, template_database);
}

ScratchDatabase::~ScratchDatabase() {
  PostgresServer* server = shared_postgres_server();
  if (!ok() || server == nullptr) return;
  std::string error;
  if (!server->drop_database(name_, error)) {
    ADD_FAILURE() << "cannot drop the test database " << name_ << ": " << error;
  }
}

std::string ScratchDatabase::connection_string() const {
  PostgresServer* server = shared_postgres_server();
  return server == nullptr ? std::string() : server->connection_string(name_);
}

}  // namespace berth::testing
