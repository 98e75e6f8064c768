// Tenant isolation of the distribution API through the real HTTP stack: two registries, picked
// by the Host header, with the same repository names. Nothing one registry holds (upload
// sessions, blobs, manifests) may be read, changed, completed, mounted or deleted through the
// other's host; and a blob DELETE unlinks the blob from one repository only.

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "api/api_test_support.h"

namespace berth::testing {
namespace {

constexpr std::string_view kAdminToken = "isolation-test-admin-token-0123456789";
constexpr std::string_view kAlpha = "alphareg";
constexpr std::string_view kBeta = "betareg";

class TenantIsolation : public ::testing::Test {
 protected:
  void SetUp() override {
    // The access log of every request drowns the test output; BERTH_TEST_LOG keeps it.
    if (!std::getenv("BERTH_TEST_LOG")) spdlog::set_level(spdlog::level::warn);
    app_ = std::make_unique<RunningApp>(dir_.path() / "data", std::string(kAdminToken));
    // The deployment administrator may do everything in every registry: what the test sees
    // through one registry's host is what that registry holds, not what a caller may see.
    client_ = std::make_unique<HttpClient>(app_->base_url());
    client_->set_default_headers({bearer_header(kAdminToken)});
    for (auto name : {kAlpha, kBeta}) {
      auto created = client_->request(
          "POST", "/mgmt/v1/registries", fmt::format(R"({{"name":"{}","tier":"Standard"}})", name),
          {"Content-Type: application/json"});
      ASSERT_EQ(created.status, 201) << created.body;
    }
  }
  void TearDown() override {
    client_.reset();
    app_.reset();
  }

  // A data-plane request to `registry` through its login server name; "" sends no Host of a
  // registry, so the default registry answers.
  HttpResponse v2(std::string_view registry, std::string_view method, std::string_view target,
                  std::string_view body = {}, std::vector<std::string> headers = {}) {
    if (!registry.empty()) {
      headers.push_back(fmt::format("Host: {}.registry.local:{}", registry, app_->port()));
    }
    return client_->request(method, target, body, headers);
  }

  std::string push_blob(std::string_view registry, std::string_view repository,
                        std::string_view content) {
    std::string digest = sha256(content);
    auto r = v2(registry, "POST",
                fmt::format("/v2/{}/blobs/uploads/?digest={}", repository, digest), content);
    EXPECT_EQ(r.status, 201) << registry << " " << repository << ": " << r.body;
    return digest;
  }

  // Starts an upload session in `registry` and appends `first`; returns the session's path.
  std::string start_upload(std::string_view registry, std::string_view repository,
                           std::string_view first) {
    auto start = v2(registry, "POST", fmt::format("/v2/{}/blobs/uploads/", repository));
    EXPECT_EQ(start.status, 202) << start.body;
    std::string path = path_of(start.header("Location"));
    auto patch = v2(registry, "PATCH", path, first,
                    {fmt::format("Content-Range: 0-{}", first.size() - 1),
                     "Content-Type: application/octet-stream"});
    EXPECT_EQ(patch.status, 202) << patch.body;
    return path;
  }

  TempDir dir_;
  std::unique_ptr<RunningApp> app_;
  std::unique_ptr<HttpClient> client_;
};

// Every upload verb on a session of registry A, sent through registry B's host (which has a
// repository of the same name) or through the default registry, is 404 BLOB_UPLOAD_UNKNOWN and
// leaves the session as it was.
TEST_F(TenantIsolation, AnUploadSessionIsUnknownThroughAnotherRegistrysHost) {
  push_blob(kBeta, "team/app", "beta has this repository too");
  std::string first(1000, 'a');
  std::string path = start_upload(kAlpha, "team/app", first);
  std::string digest_if_appended = sha256(first + "intruder");

  for (std::string_view other : {kBeta, std::string_view()}) {
    std::string via = other.empty() ? "the default registry" : std::string(other);
    auto status = v2(other, "GET", path);
    EXPECT_EQ(status.status, 404) << via;
    EXPECT_EQ(error_code(status), "BLOB_UPLOAD_UNKNOWN") << via;

    auto patch = v2(other, "PATCH", path, "intruder",
                    {fmt::format("Content-Range: {}-{}", first.size(), first.size() + 7),
                     "Content-Type: application/octet-stream"});
    EXPECT_EQ(patch.status, 404) << via << ": " << patch.body;
    EXPECT_EQ(error_code(patch), "BLOB_UPLOAD_UNKNOWN") << via;

    // Completing it, with or without a final chunk.
    auto put = v2(other, "PUT", path + "?digest=" + sha256(first));
    EXPECT_EQ(put.status, 404) << via << ": " << put.body;
    EXPECT_EQ(error_code(put), "BLOB_UPLOAD_UNKNOWN") << via;
    auto put_chunk = v2(other, "PUT", path + "?digest=" + digest_if_appended, "intruder",
                        {"Content-Type: application/octet-stream"});
    EXPECT_EQ(put_chunk.status, 404) << via << ": " << put_chunk.body;

    auto cancel = v2(other, "DELETE", path);
    EXPECT_EQ(cancel.status, 404) << via;
    EXPECT_EQ(error_code(cancel), "BLOB_UPLOAD_UNKNOWN") << via;

    EXPECT_EQ(v2(other, "HEAD", "/v2/team/app/blobs/" + sha256(first)).status, 404) << via;
    EXPECT_EQ(v2(other, "HEAD", "/v2/team/app/blobs/" + digest_if_appended).status, 404) << via;
  }

  // The owner's session is untouched: same offset, and it completes with the owner's bytes.
  auto status = v2(kAlpha, "GET", path);
  ASSERT_EQ(status.status, 204);
  EXPECT_EQ(status.header("Range"), "0-999");
  std::string second = "tail";
  ASSERT_EQ(v2(kAlpha, "PATCH", path, second,
               {"Content-Range: 1000-1003", "Content-Type: application/octet-stream"})
                .status,
            202);
  std::string digest = sha256(first + second);
  auto put = v2(kAlpha, "PUT", path + "?digest=" + digest);
  ASSERT_EQ(put.status, 201) << put.body;
  EXPECT_EQ(v2(kAlpha, "GET", "/v2/team/app/blobs/" + digest).body, first + second);
  EXPECT_EQ(v2(kBeta, "HEAD", "/v2/team/app/blobs/" + digest).status, 404);
  EXPECT_EQ(v2("", "HEAD", "/v2/team/app/blobs/" + digest).status, 404);
}

// A session of the default registry is just as unknown through a named registry's host.
TEST_F(TenantIsolation, ADefaultRegistrySessionIsUnknownThroughANamedRegistry) {
  std::string path = start_upload("", "team/app", "default's bytes");
  EXPECT_EQ(v2(kAlpha, "GET", path).status, 404);
  EXPECT_EQ(v2(kAlpha, "PUT", path + "?digest=" + sha256("default's bytes")).status, 404);
  EXPECT_EQ(v2(kAlpha, "DELETE", path).status, 404);
  auto status = v2("", "GET", path);
  EXPECT_EQ(status.status, 204);
  EXPECT_EQ(status.header("Range"), fmt::format("0-{}", std::string("default's bytes").size() - 1));
}

// A mount names its source by repository only, so the source is looked up in the registry of
// the request: a same-named repository of another registry is no source. The answer is a
// plain upload session (202), and nothing is linked.
TEST_F(TenantIsolation, AMountNeverReachesAnotherRegistrysRepository) {
  std::string digest = push_blob(kAlpha, "shared/base", "alpha's private layer");
  push_blob(kBeta, "shared/base", "beta's own layer");  // beta has a same-named repository

  auto mount = v2(kBeta, "POST",
                  fmt::format("/v2/target/blobs/uploads/?mount={}&from=shared/base", digest));
  EXPECT_EQ(mount.status, 202) << mount.body;
  EXPECT_FALSE(mount.header("Docker-Upload-UUID").empty());
  EXPECT_TRUE(mount.header("Docker-Content-Digest").empty());
  EXPECT_EQ(v2(kBeta, "HEAD", "/v2/target/blobs/" + digest).status, 404);
  EXPECT_EQ(v2(kBeta, "HEAD", "/v2/shared/base/blobs/" + digest).status, 404);

  // Same through the default registry.
  auto from_default = v2("", "POST",
                         fmt::format("/v2/target/blobs/uploads/?mount={}&from=shared/base", digest));
  EXPECT_EQ(from_default.status, 202) << from_default.body;
  EXPECT_EQ(v2("", "HEAD", "/v2/target/blobs/" + digest).status, 404);

  // Inside alpha the same mount links the blob: the refusal above is the tenant boundary.
  auto own = v2(kAlpha, "POST",
                fmt::format("/v2/target/blobs/uploads/?mount={}&from=shared/base", digest));
  EXPECT_EQ(own.status, 201) << own.body;
  EXPECT_EQ(v2(kAlpha, "GET", "/v2/target/blobs/" + digest).body, "alpha's private layer");
}

// docs/api.md: DELETE /v2/<name>/blobs/<digest> "unlinks the blob from the repository". The
// same digest stays served by every other repository of the registry and by every other
// registry that holds it.
TEST_F(TenantIsolation, BlobDeleteUnlinksFromOneRepositoryOfOneRegistryOnly) {
  std::string content = "the same bytes everywhere";
  std::string digest = push_blob(kAlpha, "repo/x", content);
  push_blob(kAlpha, "repo/y", content);
  push_blob(kBeta, "repo/x", content);
  push_blob("", "repo/x", content);

  auto deleted = v2(kAlpha, "DELETE", "/v2/repo/x/blobs/" + digest);
  ASSERT_EQ(deleted.status, 202) << deleted.body;
  auto gone = v2(kAlpha, "GET", "/v2/repo/x/blobs/" + digest);
  EXPECT_EQ(gone.status, 404);
  EXPECT_EQ(error_code(gone), "BLOB_UNKNOWN");

  struct Holder {
    std::string_view registry;
    std::string_view repository;
  };
  for (Holder holder : {Holder{kAlpha, "repo/y"}, Holder{kBeta, "repo/x"}, Holder{"", "repo/x"}}) {
    auto r = v2(holder.registry, "GET", fmt::format("/v2/{}/blobs/{}", holder.repository, digest));
    EXPECT_EQ(r.status, 200) << holder.registry << " " << holder.repository;
    EXPECT_EQ(r.body, content) << holder.registry << " " << holder.repository;
    EXPECT_EQ(r.header("Docker-Content-Digest"), digest);
  }

  // The bytes stay until garbage collection: pushing them again links them again.
  push_blob(kAlpha, "repo/x", content);
  EXPECT_EQ(v2(kAlpha, "GET", "/v2/repo/x/blobs/" + digest).body, content);
}

// A blob DELETE through another registry's host finds nothing to delete there.
TEST_F(TenantIsolation, BlobDeleteThroughAnotherRegistryDeletesNothing) {
  std::string digest = push_blob(kAlpha, "repo/x", "only alpha has this");
  auto r = v2(kBeta, "DELETE", "/v2/repo/x/blobs/" + digest);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(error_code(r), "BLOB_UNKNOWN");
  EXPECT_EQ(v2("", "DELETE", "/v2/repo/x/blobs/" + digest).status, 404);
  EXPECT_EQ(v2(kAlpha, "GET", "/v2/repo/x/blobs/" + digest).body, "only alpha has this");
}

// Manifests and tags: not readable, deletable or listable through another registry.
TEST_F(TenantIsolation, ManifestsAndTagsStayInTheirRegistry) {
  std::string config = R"({"architecture":"amd64","os":"linux"})";
  std::string layer = "alpha layer";
  std::string config_digest = push_blob(kAlpha, "team/app", config);
  std::string layer_digest = push_blob(kAlpha, "team/app", layer);
  std::string manifest = fmt::format(
      R"({{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[{}]}})",
      descriptor_json({"application/vnd.oci.image.config.v1+json", config_digest, config.size()}),
      descriptor_json({"application/vnd.oci.image.layer.v1.tar+gzip", layer_digest, layer.size()}));
  std::string manifest_digest = sha256(manifest);
  auto put = v2(kAlpha, "PUT", "/v2/team/app/manifests/v1", manifest,
                {"Content-Type: application/vnd.oci.image.manifest.v1+json"});
  ASSERT_EQ(put.status, 201) << put.body;

  // Beta holds neither the blobs nor the manifest, so it cannot take the manifest either.
  auto beta_put = v2(kBeta, "PUT", "/v2/team/app/manifests/v1", manifest,
                     {"Content-Type: application/vnd.oci.image.manifest.v1+json"});
  EXPECT_EQ(beta_put.status, 400);
  EXPECT_EQ(error_code(beta_put), "MANIFEST_BLOB_UNKNOWN");

  for (std::string_view other : {kBeta, std::string_view()}) {
    EXPECT_EQ(v2(other, "GET", "/v2/team/app/manifests/v1").status, 404) << other;
    EXPECT_EQ(v2(other, "GET", "/v2/team/app/manifests/" + manifest_digest).status, 404) << other;
    EXPECT_EQ(v2(other, "DELETE", "/v2/team/app/manifests/v1").status, 404) << other;
    EXPECT_EQ(v2(other, "DELETE", "/v2/team/app/manifests/" + manifest_digest).status, 404)
        << other;
    EXPECT_EQ(v2(other, "GET", "/v2/team/app/tags/list").status, 404) << other;
    EXPECT_EQ(v2(other, "GET", "/v2/_catalog").body.find("team/app"), std::string::npos) << other;
  }
  auto kept = v2(kAlpha, "GET", "/v2/team/app/manifests/v1",
                 {}, {"Accept: application/vnd.oci.image.manifest.v1+json"});
  EXPECT_EQ(kept.status, 200);
  EXPECT_EQ(kept.body, manifest);
}

// A host under the login-server domain that names no registry is refused; it is never served
// by the default registry.
TEST_F(TenantIsolation, HostsUnderTheDomainThatNameNoRegistryAreRefused) {
  for (std::string host : {"nosuchreg.registry.local", "x.alphareg.registry.local",
                           "a.b.registry.local"}) {
    auto r = client_->request("POST", "/v2/team/app/blobs/uploads/", {}, {"Host: " + host});
    EXPECT_EQ(r.status, 404) << host << ": " << r.body;
    EXPECT_EQ(error_code(r), "NAME_UNKNOWN") << host;
  }
  EXPECT_EQ(v2("", "GET", "/v2/_catalog").body.find("team/app"), std::string::npos);
}

}  // namespace
}  // namespace berth::testing
