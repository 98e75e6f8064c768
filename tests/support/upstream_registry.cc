#include "support/upstream_registry.h"

#include <fmt/format.h>
#include <stdlib.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/ids.h"
#include "support/child_process.h"

namespace berth::testing {
namespace {

namespace fs = std::filesystem;

constexpr auto kStartTimeout = std::chrono::seconds(30);
constexpr int kStartAttempts = 3;

std::string require_program(const std::string& name, fs::path& path, std::string_view package) {
  auto found = find_program(name);
  if (!found) {
    return fmt::format("'{}' is not installed (Debian package {}); the client tests need it", name,
                       package);
  }
  path = *found;
  return {};
}

std::string config_yaml(const fs::path& directory, int port, bool tls) {
  std::string yaml = fmt::format(R"(# Written by tests/support/upstream_registry.cc: a throwaway upstream.
version: 0.1
log:
  level: warn
  formatter: text
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: {0}/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{1}
  secret: {2}
)",
                                 directory.string(), port, random_hex(16));
  if (tls) {
    yaml += fmt::format(R"(  tls:
    certificate: {0}/cert.pem
    key: {0}/cert-key.pem
auth:
  htpasswd:
    realm: berth-test-upstream
    path: {0}/htpasswd
)",
                        directory.string());
  }
  return yaml;
}

}  // namespace

std::string LoggedRequest::path() const { return target.substr(0, target.find('?')); }

std::string make_self_signed_certificate(const fs::path& directory, const std::string& name) {
  fs::path openssl;
  if (auto missing = require_program("openssl", openssl, "openssl"); !missing.empty()) {
    return missing;
  }
  return run_process({openssl.string(), "req", "-x509", "-newkey", "ec", "-pkeyopt",
                      "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj",
                      "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout",
                      (directory / (name + "-key.pem")).string(), "-out",
                      (directory / (name + ".pem")).string()},
                     directory / "openssl.out", directory / "openssl.err");
}

std::unique_ptr<UpstreamRegistry> UpstreamRegistry::start(Mode mode, std::string& error) {
  std::unique_ptr<UpstreamRegistry> registry(new UpstreamRegistry());
  registry->mode_ = mode;
  std::string pattern = (fs::temp_directory_path() / "berth-upstream-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    error = "mkdtemp failed";
    return nullptr;
  }
  registry->directory_ = pattern;
  if (mode == Mode::tls_htpasswd) {
    fs::path htpasswd;
    error = require_program("htpasswd", htpasswd, "apache2-utils");
    if (!error.empty()) return nullptr;
    registry->username_ = "upstream-user";
    registry->password_ = "upstream-" + random_hex(12);
    error = run_process({htpasswd.string(), "-Bbn", registry->username_, registry->password_},
                        registry->directory_ / "htpasswd", registry->directory_ / "htpasswd.err");
    if (!error.empty()) return nullptr;
    error = make_self_signed_certificate(registry->directory_, "cert");
    if (!error.empty()) return nullptr;
  }
  if (!registry->launch(error)) return nullptr;
  return registry;
}

void UpstreamRegistry::stop() {
  stop_process(pid_);
  pid_ = -1;
}

bool UpstreamRegistry::restart(std::string& error) {
  stop();
  return launch(error, port_);
}

bool UpstreamRegistry::launch(std::string& error, int port) {
  fs::path binary;
  error = require_program("docker-registry", binary, "docker-registry");
  if (!error.empty()) return false;
  const fs::path log = directory_ / "registry.log";
  for (int attempt = 1; attempt <= kStartAttempts; ++attempt) {
    port_ = port != 0 ? port : free_loopback_port();
    {
      std::ofstream config(directory_ / "config.yml");
      config << config_yaml(directory_, port_, mode_ == Mode::tls_htpasswd);
    }
    pid_ = spawn_process({binary.string(), "serve", (directory_ / "config.yml").string()}, log,
                         directory_, error);
    if (pid_ < 0) return false;
    const auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (accepts_connections(port_)) return true;
      if (process_exited(pid_)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    stop_process(pid_);
    pid_ = -1;
    error = fmt::format("docker-registry did not start on 127.0.0.1:{}: {}", port_,
                        read_file_tail(log));
  }
  return false;
}

UpstreamRegistry::~UpstreamRegistry() {
  stop_process(pid_);
  std::error_code ec;
  if (!directory_.empty()) fs::remove_all(directory_, ec);
}

std::string UpstreamRegistry::host() const { return fmt::format("127.0.0.1:{}", port_); }

std::string UpstreamRegistry::base_url() const {
  return fmt::format("{}://{}", mode_ == Mode::tls_htpasswd ? "https" : "http", host());
}

std::vector<LoggedRequest> UpstreamRegistry::requests() const {
  const fs::path log = directory_ / "registry.log";
  // The access log line is written as the answer completes: wait until the log is still.
  std::error_code ec;
  auto size = fs::file_size(log, ec);
  for (int i = 0; i < 50; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    auto now = fs::file_size(log, ec);
    if (now == size) break;
    size = now;
  }
  std::vector<LoggedRequest> requests;
  std::ifstream in(log);
  std::string line;
  // 127.0.0.1 - - [03/Dec/2026:14:35:03 +0000] "GET /v2/ HTTP/1.1" 200 2 "" "curl/7.88.1"
  while (std::getline(in, line)) {
    auto open = line.find("] \"");
    if (open == std::string::npos) continue;
    auto close = line.find('"', open + 3);
    if (close == std::string::npos) continue;
    std::istringstream request_line(line.substr(open + 3, close - open - 3));
    LoggedRequest request;
    std::string version;
    if (!(request_line >> request.method >> request.target >> version)) continue;
    if (!version.starts_with("HTTP/")) continue;
    std::istringstream rest(line.substr(close + 1));
    rest >> request.status;
    requests.push_back(std::move(request));
  }
  return requests;
}

std::size_t UpstreamRegistry::count(std::string_view method, std::string_view path) const {
  std::size_t n = 0;
  for (const auto& request : requests()) {
    if (request.method == method && request.path() == path) ++n;
  }
  return n;
}

}  // namespace berth::testing
