#include "support/azurite_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <fstream>
#include <mutex>
#include <optional>
#include <regex>
#include <sstream>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include "support/secret_record.h"

#ifndef BERTH_SOURCE_DIR
#error "BERTH_SOURCE_DIR must name the source tree (tests/azurite/ lives there)"
#endif

namespace berth::testing {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr auto kStartTimeout = std::chrono::seconds(60);
constexpr auto kPollInterval = std::chrono::milliseconds(50);

bool is_executable(const fs::path& path) { return ::access(path.c_str(), X_OK) == 0; }

// The directory of `name` on PATH, as the shebang line of azurite-blob (`env node`) finds it.
bool on_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  if (path == nullptr) return false;
  std::stringstream dirs(path);
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (!dir.empty() && is_executable(fs::path(dir) / name)) return true;
  }
  return false;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string last_lines(const std::string& text, std::size_t count) {
  std::size_t start = text.size();
  for (std::size_t seen = 0; start > 0 && seen <= count;) {
    --start;
    if (text[start] == '\n') ++seen;
  }
  return text.substr(start);
}

fs::path make_temp_dir() {
  std::string pattern = (fs::temp_directory_path() / "berth-azurite-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) return {};
  return pattern;
}

// In the forked child: a process group of its own (so that the parent can kill everything it
// starts), death with the parent (a crashed test binary leaves no server behind), output to
// the log file, then exec. Only async-signal-safe calls until exec.
[[noreturn]] void exec_azurite(const fs::path& program, const fs::path& data, const fs::path& log) {
  ::setpgid(0, 0);
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  int null_fd = ::open("/dev/null", O_RDONLY);
  int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (null_fd < 0 || log_fd < 0) ::_exit(126);
  ::dup2(null_fd, STDIN_FILENO);
  ::dup2(log_fd, STDOUT_FILENO);
  ::dup2(log_fd, STDERR_FILENO);
  // Port 0: the kernel picks a free port and Azurite prints it, so no two test binaries race
  // for one. --disableTelemetry: nothing leaves the machine. No --skipApiVersionCheck: the
  // driver's x-ms-version (2021-08-06) is older than this Azurite's, which checks it.
  const char* argv[] = {program.c_str(), "--blobHost", "127.0.0.1", "--blobPort",         "0",
                        "--location",    data.c_str(), "--silent",  "--disableTelemetry", nullptr};
  ::execv(program.c_str(), const_cast<char* const*>(argv));
  ::_exit(127);
}

// Azurite prints "Azurite Blob service successfully listens on http://127.0.0.1:<port>".
std::optional<std::uint16_t> announced_port(const std::string& log) {
  static const std::regex listening(R"(listens on http://127\.0\.0\.1:([0-9]+))");
  std::smatch match;
  if (!std::regex_search(log, match, listening)) return std::nullopt;
  int port = std::stoi(match[1].str());
  if (port <= 0 || port > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(port);
}

// True when an HTTP request to the port gets an HTTP status line back.
bool answers_http(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool answered = false;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0) {
    const std::string request =
        "GET /devstoreaccount1?comp=list HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
        static_cast<ssize_t>(request.size())) {
      char buffer[16] = {};
      ssize_t got = ::recv(fd, buffer, sizeof(buffer) - 1, 0);
      answered = got >= 5 && std::string_view(buffer, 5) == "HTTP/";
    }
  }
  ::close(fd);
  return answered;
}

void kill_group(pid_t pid) {
  if (pid <= 0) return;
  ::kill(-pid, SIGKILL);
  ::kill(pid, SIGKILL);  // in case the child had not yet made its group
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace

fs::path azurite_blob_path() {
  if (const char* configured = std::getenv("BERTH_AZURITE_BLOB");
      configured != nullptr && *configured != '\0') {
    return configured;
  }
  return fs::path(BERTH_SOURCE_DIR) / "tests/azurite/node_modules/.bin/azurite-blob";
}

bool azurite_skips_allowed() {
  const char* allow = std::getenv("BERTH_ALLOW_SKIP");
  return allow != nullptr && std::string_view(allow) == "1";
}

std::unique_ptr<AzuriteServer> AzuriteServer::start(std::string& error) {
  const fs::path program = azurite_blob_path();
  if (!is_executable(program)) {
    error = "Azurite is not installed: " + program.string() +
            " is missing (scripts/install-deps.sh installs the npm package azurite, pinned in "
            "tests/azurite/package.json)";
    return nullptr;
  }
  if (!on_path("node")) {
    error = "node (Node.js, Debian package nodejs) is not on PATH; Azurite needs it";
    return nullptr;
  }
  fs::path dir = make_temp_dir();
  if (dir.empty()) {
    error = "cannot make a temporary directory for Azurite";
    return nullptr;
  }
  const fs::path data = dir / "data";
  const fs::path log = dir / "azurite.log";
  std::error_code ec;
  fs::create_directory(data, ec);

  const pid_t pid = ::fork();
  if (pid < 0) {
    error = "fork failed";
    fs::remove_all(dir, ec);
    return nullptr;
  }
  if (pid == 0) exec_azurite(program, data, log);
  ::setpgid(pid, pid);  // also here, so that a kill before the child ran setpgid finds the group

  const auto deadline = Clock::now() + kStartTimeout;
  std::optional<std::uint16_t> port;
  while (Clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      error = "azurite-blob exited before it listened (status " + std::to_string(status) +
              "); its output:\n" + last_lines(read_file(log), 20);
      fs::remove_all(dir, ec);
      return nullptr;
    }
    if (!port) port = announced_port(read_file(log));
    if (port && answers_http(*port)) {
      return std::unique_ptr<AzuriteServer>(new AzuriteServer(pid, dir, *port));
    }
    std::this_thread::sleep_for(kPollInterval);
  }
  kill_group(pid);
  error = "azurite-blob did not answer within 60 s; its output:\n" + last_lines(read_file(log), 20);
  fs::remove_all(dir, ec);
  return nullptr;
}

AzuriteServer::~AzuriteServer() {
  kill();
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

void AzuriteServer::kill() {
  kill_group(pid_);
  pid_ = -1;
}

std::string AzuriteServer::blob_endpoint() const {
  std::string endpoint = "http://127.0.0.1:";
  endpoint += std::to_string(port_);
  endpoint += '/';
  endpoint += kAzuriteAccount;
  return endpoint;
}

std::string AzuriteServer::connection_string() const {
  std::string text = "DefaultEndpointsProtocol=http;AccountName=";
  text += kAzuriteAccount;
  text += ";AccountKey=";
  text += kAzuriteKey;
  text += ";BlobEndpoint=";
  text += blob_endpoint();
  text += ';';
  return text;
}

AzuriteServer* shared_azurite(std::string& error) {
  static std::mutex mutex;
  static std::unique_ptr<AzuriteServer> server;
  static std::string failure;
  static bool tried = false;
  std::lock_guard lock(mutex);
  if (!tried) {
    tried = true;
    record_secret(kAzuriteKey);
    server = AzuriteServer::start(failure);
  }
  if (!server) error = failure;
  return server.get();
}

}  // namespace berth::testing
