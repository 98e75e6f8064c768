#pragma once
// Shared by the import and cache tests: a berthd in-process that may reach the test's
// upstreams, and the management calls those tests make.

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "support/app_fixture.h"
#include "support/http_client.h"
#include "support/oci_pusher.h"
#include "support/upstream_registry.h"

namespace berth::testing {

inline constexpr const char* kUpstreamTestAdminToken = "upstream-test-admin-token-0123456789";

inline bool skips_allowed() {
  const char* allow = std::getenv("BERTH_ALLOW_SKIP");
  return allow != nullptr && std::string(allow) == "1";
}

inline boost::json::object json_object(const std::string& text) {
  boost::system::error_code ec;
  auto value = boost::json::parse(text, ec);
  if (ec || !value.is_object()) return {};
  return value.as_object();
}

inline std::string json_string(const boost::json::object& object, std::string_view key) {
  auto found = object.find(key);
  if (found == object.end() || !found->value().is_string()) return {};
  return std::string(found->value().as_string());
}

// A berthd of its own, with the upstream settings `configure` gives, and a client that sends
// the administrator token.
class UpstreamAppTest : public ::testing::Test {
 protected:
  void start_app(const std::function<void(server::Config&)>& configure) {
    app_ = std::make_unique<RunningApp>(dir_.path() / "data", configure,
                                        std::string(kUpstreamTestAdminToken));
    client_ = std::make_unique<HttpClient>(app_->base_url());
    client_->set_default_headers({bearer_header(kUpstreamTestAdminToken)});
  }
  void TearDown() override {
    client_.reset();
    app_.reset();
  }
  HttpClient& client() { return *client_; }
  std::unique_ptr<HttpClient> fresh_client() {
    auto c = std::make_unique<HttpClient>(app_->base_url());
    c->set_default_headers({bearer_header(kUpstreamTestAdminToken)});
    return c;
  }
  std::unique_ptr<UpstreamRegistry> start_upstream(UpstreamRegistry::Mode mode) {
    std::string error;
    auto upstream = UpstreamRegistry::start(mode, error);
    if (!upstream) ADD_FAILURE() << error;
    return upstream;
  }

  // Starts an import and waits for it to end; the final Import resource.
  boost::json::object run_import(const boost::json::object& request,
                                 std::string_view registry = "default") {
    auto started = client().request("POST", fmt::format("/mgmt/v1/registries/{}/imports", registry),
                                    boost::json::serialize(request),
                                    {"Content-Type: application/json"});
    EXPECT_EQ(started.status, 202) << started.body;
    auto job = json_object(started.body);
    const std::string id = json_string(job, "id");
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (std::chrono::steady_clock::now() < until) {
      auto shown = client().get(fmt::format("/mgmt/v1/registries/{}/imports/{}", registry, id));
      job = json_object(shown.body);
      const std::string status = json_string(job, "status");
      if (status == "Succeeded" || status == "Failed") return job;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ADD_FAILURE() << "import " << id << " did not end: " << boost::json::serialize(job);
    return job;
  }

  TempDir dir_;
  std::unique_ptr<RunningApp> app_;
  std::unique_ptr<HttpClient> client_;
};

}  // namespace berth::testing
