#pragma once
// Helpers shared by the distribution API tests: push content and build manifests.

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "oci/digest.h"
#include "support/app_fixture.h"
#include "support/http_client.h"

namespace berth::testing {

inline std::string sha256(std::string_view bytes) { return oci::digest_of(bytes).str(); }

// The path part of a Location (absolute or relative).
inline std::string path_of(const std::string& location) {
  auto scheme = location.find("://");
  if (scheme == std::string::npos) return location;
  auto slash = location.find('/', scheme + 3);
  return slash == std::string::npos ? "/" : location.substr(slash);
}

struct Descriptor {
  std::string media_type;
  std::string digest;
  std::size_t size;
};

inline std::string descriptor_json(const Descriptor& d, std::string_view extra = "") {
  return fmt::format(R"({{"mediaType":"{}","digest":"{}","size":{}{}}})", d.media_type, d.digest,
                     d.size, extra);
}

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override { start(); }
  void TearDown() override {
    client_.reset();
    app_.reset();
  }
  void restart() {
    client_.reset();
    app_.reset();
    start();
  }
  // Starts berthd with a known administrator token, which the client sends unless a request
  // names its own Authorization (the deployment administrator may do everything).
  void start() {
    app_ = std::make_unique<RunningApp>(dir_.path() / "data", std::string(kApiTestAdminToken));
    client_ = std::make_unique<HttpClient>(app_->base_url());
    client_->set_default_headers({bearer_header(kApiTestAdminToken)});
  }
  static constexpr const char* kApiTestAdminToken = "api-test-admin-token-0123456789";
  HttpClient& client() { return *client_; }

  // Monolithic push; returns the digest.
  std::string push_blob(const std::string& repo, const std::string& content) {
    std::string digest = sha256(content);
    auto r = client().request("POST", fmt::format("/v2/{}/blobs/uploads/?digest={}", repo, digest),
                              content);
    EXPECT_EQ(r.status, 201) << r.body;
    return digest;
  }

  // Pushes a config and one layer and returns an OCI image manifest referring to them.
  std::string make_image(const std::string& repo, const std::string& seed,
                         std::string_view extra_fields = "") {
    std::string config = fmt::format(R"({{"architecture":"amd64","os":"linux","seed":"{}"}})", seed);
    std::string layer = "layer-bytes-" + seed;
    std::string config_digest = push_blob(repo, config);
    std::string layer_digest = push_blob(repo, layer);
    return fmt::format(
        R"({{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[{}]{}}})",
        descriptor_json({"application/vnd.oci.image.config.v1+json", config_digest, config.size()}),
        descriptor_json({"application/vnd.oci.image.layer.v1.tar+gzip", layer_digest, layer.size()}),
        extra_fields);
  }

  HttpResponse put_manifest(const std::string& repo, const std::string& reference,
                            const std::string& manifest,
                            const std::string& content_type =
                                "application/vnd.oci.image.manifest.v1+json") {
    return client().request("PUT", fmt::format("/v2/{}/manifests/{}", repo, reference), manifest,
                            {"Content-Type: " + content_type});
  }

  TempDir dir_;
  std::unique_ptr<RunningApp> app_;
  std::unique_ptr<HttpClient> client_;
};

// The OCI error code of an error response body ("" when none).
inline std::string error_code(const HttpResponse& r) {
  auto at = r.body.find("\"code\":\"");
  if (at == std::string::npos) return "";
  at += 8;
  return r.body.substr(at, r.body.find('"', at) - at);
}

}  // namespace berth::testing
