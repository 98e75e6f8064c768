#pragma once
// Shared by the build-run tests: a berthd in-process with the administrator token, build
// contexts packed with tar, sources uploaded and runs queued through the management API, and
// the checks that a run left nothing behind.

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "oci/digest.h"
#include "support/app_fixture.h"
#include "support/http_client.h"
#include "tasks/workspace.h"

namespace berth::testing {

inline constexpr const char* kTasksTestAdminToken = "tasks-test-admin-token-0123456789abcdef";

inline boost::json::object parse_object(const std::string& text) {
  boost::system::error_code ec;
  auto value = boost::json::parse(text, ec);
  if (ec || !value.is_object()) return {};
  return value.as_object();
}

inline std::string string_field(const boost::json::object& object, std::string_view key) {
  auto found = object.find(key);
  if (found == object.end() || !found->value().is_string()) return {};
  return std::string(found->value().as_string());
}

inline std::string read_whole_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A build context whose Dockerfile needs no base image: busybox (static) as the root file
// system, so that RUN has a shell.
inline void write_busybox_context(const std::filesystem::path& dir, const std::string& dockerfile) {
  namespace fs = std::filesystem;
  fs::create_directories(dir / "rootfs/bin");
  fs::copy_file("/bin/busybox", dir / "rootfs/bin/busybox", fs::copy_options::overwrite_existing);
  for (const char* applet : {"sh", "echo", "cat", "ls", "sleep", "test", "date", "false", "true", "wc"}) {
    std::error_code ec;
    fs::create_symlink("busybox", dir / "rootfs/bin" / applet, ec);
  }
  std::ofstream(dir / "Dockerfile") << dockerfile;
}

// tar czf of `dir`'s content.
inline std::string pack(const std::filesystem::path& dir, const std::filesystem::path& archive) {
  const std::string command =
      fmt::format("tar -C '{}' -czf '{}' .", dir.string(), archive.string());
  if (std::system(command.c_str()) != 0) return {};
  return read_whole_file(archive);
}

class TasksAppTest : public ::testing::Test {
 protected:
  void start_app(const std::function<void(server::Config&)>& configure = {}) {
    app_ = std::make_unique<RunningApp>(
        dir_.path() / "data",
        [&](server::Config& config) {
          if (configure) configure(config);
        },
        std::string(kTasksTestAdminToken));
    client_ = std::make_unique<HttpClient>(app_->base_url());
    client_->set_default_headers({bearer_header(kTasksTestAdminToken)});
  }
  void TearDown() override {
    client_.reset();
    app_.reset();
  }
  HttpClient& client() { return *client_; }
  std::filesystem::path data_dir() const { return dir_.path() / "data"; }

  // Uploads `archive` as a source; its digest.
  std::string upload_source(const std::string& archive, std::string_view registry = "default") {
    const std::string digest = oci::digest_of(archive).str();
    auto put = client().request("PUT",
                                fmt::format("/mgmt/v1/registries/{}/sources/{}", registry, digest),
                                archive, {"Content-Type: application/gzip"});
    EXPECT_EQ(put.status, 201) << put.body;
    return digest;
  }

  boost::json::object queue(const boost::json::object& request,
                            std::string_view registry = "default", long expected = 202) {
    auto queued = client().request("POST", fmt::format("/mgmt/v1/registries/{}/runs", registry),
                                   boost::json::serialize(request),
                                   {"Content-Type: application/json"});
    EXPECT_EQ(queued.status, expected) << queued.body;
    return parse_object(queued.body);
  }

  boost::json::object show(const std::string& run, std::string_view registry = "default") {
    return parse_object(
        client().get(fmt::format("/mgmt/v1/registries/{}/runs/{}", registry, run)).body);
  }

  // Waits for the run to end; the final run resource.
  boost::json::object wait_for_end(const std::string& run, std::string_view registry = "default",
                                   std::chrono::seconds limit = std::chrono::seconds(180)) {
    const auto until = std::chrono::steady_clock::now() + limit;
    boost::json::object shown;
    while (std::chrono::steady_clock::now() < until) {
      shown = show(run, registry);
      const std::string status = string_field(shown, "status");
      if (status != "Queued" && status != "Running" && !status.empty()) return shown;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ADD_FAILURE() << "run " << run << " did not end: " << boost::json::serialize(shown);
    return shown;
  }

  std::string log_of(const std::string& run, std::string_view registry = "default") {
    return client().get(fmt::format("/mgmt/v1/registries/{}/runs/{}/log", registry, run)).body;
  }

  // Nothing of any run is left: no workspace, no mount under the data directory, no runc state.
  void expect_nothing_left() {
    namespace fs = std::filesystem;
    const fs::path runs = data_dir() / "tasks" / "runs";
    std::error_code ec;
    std::size_t left = 0;
    for (const auto& entry : fs::directory_iterator(runs, ec)) {
      ADD_FAILURE() << "left behind: " << entry.path();
      ++left;
    }
    EXPECT_EQ(left, 0u);
    EXPECT_TRUE(tasks::mounts_below(data_dir()).empty()) << "a mount is left under the data dir";
  }

  TempDir dir_;
  std::unique_ptr<RunningApp> app_;
  std::unique_ptr<HttpClient> client_;
};

}  // namespace berth::testing
