#pragma once
// Serves the management API next to the real /v2/ API on 127.0.0.1:0, over a fresh data
// directory with the real filesystem blob storage and SQLite metadata store, and the helpers
// the management tests share.

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "api/distribution.h"
#include "api/management.h"
#include "auth/admin_credential.h"
#include "http/router.h"
#include "http/server.h"
#include "metadata/sqlite_metadata_store.h"
#include "oci/digest.h"
#include "registry/tenant_resolver.h"
#include "registry/tenants.h"
#include "storage/filesystem_blob_storage.h"
#include "support/http_client.h"

namespace berth::testing {

inline constexpr std::string_view kAdminToken = "mgmt-test-admin-token-0123456789";
inline constexpr std::string_view kDomain = "registry.local";

class MgmtTempDir {
 public:
  MgmtTempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "berth-mgmt-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~MgmtTempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// The backends, the tenants service and an HTTP server with the /v2/ and /mgmt/v1/ routes.
class MgmtServer {
 public:
  explicit MgmtServer(const std::filesystem::path& data_dir)
      : admin_(auth::AdminCredential::for_token(kAdminToken)) {
    static const bool quiet = [] {
      if (!std::getenv("BERTH_TEST_LOG")) spdlog::set_level(spdlog::level::warn);
      return true;
    }();
    (void)quiet;
    auto storage = storage::FilesystemBlobStorage::open(data_dir);
    if (!storage) throw std::runtime_error(storage.error().message);
    storage_ = std::move(*storage);
    auto metadata = metadata::SqliteMetadataStore::open(data_dir / "metadata.db");
    if (!metadata) throw std::runtime_error(metadata.error().message);
    metadata_ = std::move(*metadata);
    tenants_ = std::make_unique<registry::Tenants>(
        *metadata_, *storage_, registry::TenantOptions{std::string(kDomain), "local"});
    resolver_ = std::make_unique<registry::TenantResolver>(
        *metadata_, registry::TenantRouting{std::string(kDomain), "default"});
    plane_ = std::make_unique<api::DataPlane>(api::DataPlane{*storage_, *metadata_, *resolver_});
    context_ = std::make_unique<api::ManagementContext>(api::ManagementContext{*tenants_, admin_});

    api::add_management_routes(router_, *context_);
    api::add_distribution_routes(router_, *plane_);
    router_.set_fallback([](const http::Request& request, bool method_not_allowed) {
      return api::is_management_path(request.path)
                 ? api::management_not_routed(request, method_not_allowed)
                 : api::not_routed(request, method_not_allowed);
    });

    http::ServerOptions options;
    options.listeners = {http::Listener{"127.0.0.1", 0, std::nullopt}};
    options.threads = 2;
    options.shutdown_deadline = std::chrono::seconds(5);
    server_ = std::make_unique<http::Server>(options, router_);
    server_->start();
    port_ = server_->bound_ports().front();
    thread_ = std::thread([this] { server_->run(false); });
  }
  ~MgmtServer() {
    server_->stop();
    thread_.join();
  }

  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  registry::Tenants& tenants() { return *tenants_; }
  metadata::MetadataStore& metadata() { return *metadata_; }
  const http::Router& router() const { return router_; }

 private:
  auth::AdminCredential admin_;
  std::unique_ptr<storage::FilesystemBlobStorage> storage_;
  std::unique_ptr<metadata::SqliteMetadataStore> metadata_;
  std::unique_ptr<registry::Tenants> tenants_;
  std::unique_ptr<registry::TenantResolver> resolver_;
  std::unique_ptr<api::DataPlane> plane_;
  std::unique_ptr<api::ManagementContext> context_;
  http::Router router_;
  std::unique_ptr<http::Server> server_;
  std::uint16_t port_ = 0;
  std::thread thread_;
};

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
    server_ = std::make_unique<MgmtServer>(dir_.path() / "data");
    client_ = std::make_unique<HttpClient>(server_->base_url());
  }
  void TearDown() override {
    client_.reset();
    server_.reset();
  }

  std::filesystem::path data_dir() const { return dir_.path() / "data"; }
  HttpClient& client() { return *client_; }
  MgmtServer& server() { return *server_; }

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

  // Data-plane requests addressed to `registry` through the Host header.
  HttpResponse v2(std::string_view registry, std::string_view method, std::string_view path,
                  std::string_view body = {}, std::vector<std::string> headers = {}) {
    headers.push_back(fmt::format("Host: {}.{}", registry, kDomain));
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

  MgmtTempDir dir_;
  std::unique_ptr<MgmtServer> server_;
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
