#pragma once
// Runs a real berthd (the App composition root) in-process on 127.0.0.1:0 with a fresh data
// directory, for API tests that go through the HTTP stack.

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "common/temp_dir.h"
#include "auth/admin_credential.h"
#include "server/app.h"
#include "server/config.h"
#include "support/http_client.h"

namespace berth::testing {

// Sets an environment variable for the lifetime of the object, then restores what was there.
class ScopedEnvironmentVariable {
 public:
  ScopedEnvironmentVariable(std::string name, const std::string& value) : name_(std::move(name)) {
    if (const char* previous = std::getenv(name_.c_str())) previous_ = previous;
    ::setenv(name_.c_str(), value.c_str(), 1);
  }
  ~ScopedEnvironmentVariable() {
    if (previous_) {
      ::setenv(name_.c_str(), previous_->c_str(), 1);
    } else {
      ::unsetenv(name_.c_str());
    }
  }
  ScopedEnvironmentVariable(const ScopedEnvironmentVariable&) = delete;
  ScopedEnvironmentVariable& operator=(const ScopedEnvironmentVariable&) = delete;

 private:
  std::string name_;
  std::optional<std::string> previous_;
};

// Where a RunningApp keeps its content, when not in its data directory: a test binary that runs
// the same tests on other backends (tests/api/scaleout_backends.cc) sets it once, before the
// first test, and it adjusts every configuration after the data directory is set. A restart
// on the same data directory must land on the same content, as it does on the embedded default.
inline std::function<void(server::Config&)>& backend_configuration() {
  static std::function<void(server::Config&)> configure;
  return configure;
}

class RunningApp {
 public:
  // `initial_admin_token`, when given, becomes the administrator token of the fresh data
  // directory. It reaches App the way an operator's does, through BERTH_INITIAL_ADMIN_TOKEN,
  // so that App needs no test-only entry point; the variable is set only while App starts.
  explicit RunningApp(std::filesystem::path data_dir,
                      std::optional<std::string> initial_admin_token = std::nullopt)
      : RunningApp(std::move(data_dir), [](server::Config&) {}, std::move(initial_admin_token)) {}
  // `configure` adjusts the configuration (timeouts, limits) before the server starts.
  RunningApp(std::filesystem::path data_dir, const std::function<void(server::Config&)>& configure,
             std::optional<std::string> initial_admin_token = std::nullopt)
      : data_dir_(std::move(data_dir)) {
    server::Config config;
    config.listen = {"127.0.0.1:0"};
    config.data_dir = data_dir_;
    config.threads = 2;
    config.shutdown_deadline = std::chrono::seconds(5);
    if (backend_configuration()) backend_configuration()(config);
    configure(config);
    app_ = start(config, initial_admin_token);
    port_ = app_->bound_ports().front();
    thread_ = std::thread([this] { app_->run(false); });
  }
  ~RunningApp() {
    app_->stop();
    thread_.join();
  }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::uint16_t port() const { return port_; }

 private:
  // The variable is gone again before the server threads run, so no thread reads the
  // environment while it changes.
  static std::unique_ptr<server::App> start(const server::Config& config,
                                            const std::optional<std::string>& initial_admin_token) {
    std::optional<ScopedEnvironmentVariable> token;
    if (initial_admin_token) {
      token.emplace(std::string(auth::kInitialAdminTokenVariable), *initial_admin_token);
    }
    return std::make_unique<server::App>(config);
  }

  std::filesystem::path data_dir_;
  std::unique_ptr<server::App> app_;
  std::uint16_t port_ = 0;
  std::thread thread_;
};

using berth::TempDir;

}  // namespace berth::testing
