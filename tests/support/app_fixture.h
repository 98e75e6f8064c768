#pragma once
// Runs a real berthd (the App composition root) in-process on 127.0.0.1:0 with a fresh data
// directory, for API tests that go through the HTTP stack.

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <thread>

#include "server/app.h"
#include "support/http_client.h"

namespace berth::testing {

class RunningApp {
 public:
  explicit RunningApp(std::filesystem::path data_dir) : data_dir_(std::move(data_dir)) {
    server::Config config;
    config.listen = {"127.0.0.1:0"};
    config.data_dir = data_dir_;
    config.threads = 2;
    config.shutdown_deadline = std::chrono::seconds(5);
    app_ = std::make_unique<server::App>(config);
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
  std::filesystem::path data_dir_;
  std::unique_ptr<server::App> app_;
  std::uint16_t port_ = 0;
  std::thread thread_;
};

// A temp directory removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "berth-test-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace berth::testing
