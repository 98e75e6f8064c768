#pragma once
// Runs berthd (the App composition root, through RunningApp) with a known administrator token
// for the management API tests, and the helpers those tests share.

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "api/management.h"
#include "auth/admin_credential.h"
#include "http/router.h"
#include "metadata/sqlite_metadata_store.h"
#include "oci/digest.h"
#include "registry/tenant_resolver.h"
#include "registry/tenants.h"
#include "storage/blob_storage.h"
#include "storage/memory_byte_store.h"
#include "support/app_fixture.h"
#include "support/http_client.h"
#include "support/route_tables.h"

namespace berth::testing {

inline constexpr std::string_view kAdminToken = "mgmt-test-admin-token-0123456789";
// berthd's default domain, which RunningApp keeps: login servers are <registry>.<kDomain>.
inline constexpr std::string_view kDomain = "registry.local";

// The management route table as the pipeline wraps it, built over throwaway services: for
// tests that look at the rows (pattern, method, action) and never call a handler.
class ManagementRouteTable {
 public:
  ManagementRouteTable() {
    for (const auto& route : all_.router().routes()) {
      if (is_management(route)) routes_.push_back(route);
    }
  }
  const std::vector<http::Route>& routes() const { return routes_; }

 private:
  AllRoutes all_;
  std::vector<http::Route> routes_;
};

// The access log of every request drowns the test output; BERTH_TEST_LOG keeps it.
inline void quiet_logging_unless_asked() {
  if (!std::getenv("BERTH_TEST_LOG")) spdlog::set_level(spdlog::level::warn);
}

inline boost::json::value parse_json(const std::string& text) {
  boost::system::error_code ec;
  auto value = boost::json::parse(text, ec);
  EXPECT_FALSE(ec) << "not JSON: " << text;
  return value;
}

// Management API tests: a client that sends the administrator token unless told not to.
class MgmtApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    quiet_logging_unless_asked();
    app_ = std::make_unique<RunningApp>(data_dir(), std::string(kAdminToken));
    client_ = std::make_unique<HttpClient>(app_->base_url());
  }
  void TearDown() override {
    client_.reset();
    app_.reset();
  }

  std::filesystem::path data_dir() const { return dir_.path() / "data"; }
  HttpClient& client() { return *client_; }

  HttpResponse call(std::string_view method, std::string_view path, std::string_view body = {},
                    std::vector<std::string> headers = {}) {
    headers.push_back(fmt::format("Authorization: Bearer {}", kAdminToken));
    if (!body.empty()) headers.push_back("Content-Type: application/json");
    return client().request(method, path, body, headers);
  }
  HttpResponse get(std::string_view path) { return call("GET", path); }

  HttpResponse create(std::string_view name, std::string_view tier = "Standard",
                      std::string_view extra = "") {
    return call("POST", "/mgmt/v1/registries",
                fmt::format(R"({{"name":"{}","tier":"{}"{}}})", name, tier, extra));
  }

  // Data-plane requests addressed to `registry` through the Host header, as the deployment
  // administrator (who may do everything in every registry).
  HttpResponse v2(std::string_view registry, std::string_view method, std::string_view path,
                  std::string_view body = {}, std::vector<std::string> headers = {}) {
    headers.push_back(fmt::format("Host: {}.{}", registry, kDomain));
    headers.push_back(bearer_header(kAdminToken));
    return client().request(method, path, body, headers);
  }

  // Monolithic blob push; returns the digest.
  std::string push_blob(std::string_view registry, std::string_view repository,
                        std::string_view content) {
    std::string digest = oci::digest_of(content).str();
    auto r = v2(registry, "POST",
                fmt::format("/v2/{}/blobs/uploads/?digest={}", repository, digest), content);
    EXPECT_EQ(r.status, 201) << r.body;
    return digest;
  }

  // Pushes a config and a layer and the image manifest referring to them, tagged `tag`;
  // returns the manifest's digest.
  std::string push_image(std::string_view registry, std::string_view repository,
                         std::string_view seed, std::string_view tag) {
    std::string config =
        fmt::format(R"({{"architecture":"amd64","os":"linux","seed":"{}"}})", seed);
    std::string layer = fmt::format("layer-bytes-{}", seed);
    std::string config_digest = push_blob(registry, repository, config);
    std::string layer_digest = push_blob(registry, repository, layer);
    std::string manifest = fmt::format(
        R"({{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
        R"("config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":{}}},)"
        R"("layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{}","size":{}}}]}})",
        config_digest, config.size(), layer_digest, layer.size());
    auto r = v2(registry, "PUT", fmt::format("/v2/{}/manifests/{}", repository, tag), manifest,
                {"Content-Type: application/vnd.oci.image.manifest.v1+json"});
    EXPECT_EQ(r.status, 201) << r.body;
    return oci::digest_of(manifest).str();
  }

  TempDir dir_;
  std::unique_ptr<RunningApp> app_;
  std::unique_ptr<HttpClient> client_;
};

// The error envelope's fields ("" when absent).
struct ErrorBody {
  std::string code;
  std::string message;
  std::string target;
};

inline ErrorBody error_of(const HttpResponse& r) {
  ErrorBody out;
  boost::system::error_code ec;
  auto value = boost::json::parse(r.body, ec);
  if (ec || !value.is_object()) return out;
  const auto* error = value.as_object().if_contains("error");
  if (!error || !error->is_object()) return out;
  const auto& object = error->as_object();
  if (const auto* code = object.if_contains("code"); code && code->is_string()) {
    out.code = std::string(code->as_string());
  }
  if (const auto* message = object.if_contains("message"); message && message->is_string()) {
    out.message = std::string(message->as_string());
  }
  if (const auto* target = object.if_contains("target"); target && target->is_string()) {
    out.target = std::string(target->as_string());
  }
  return out;
}

}  // namespace berth::testing
