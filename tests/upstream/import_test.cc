// Imports from real upstreams (docker-registry with TLS and htpasswd, and plain) and between
// two registries of one berthd: identical digests, every platform and the referrers, NoForce
// and Force, failures that say why, and no byte copied within a deployment.

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "upstream_test_support.h"

namespace berth::testing {
namespace {

namespace json = boost::json;

constexpr const char* kIndexType = "application/vnd.oci.image.index.v1+json";

class ImportTest : public UpstreamAppTest {};

// Every regular file under `dir`, with its size: what the filesystem storage holds.
std::uintmax_t bytes_under(const std::filesystem::path& dir) {
  std::uintmax_t total = 0;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file(ec)) total += it->file_size(ec);
  }
  return total;
}

TEST_F(ImportTest, CopiesATwoPlatformIndexAndItsReferrerFromAnAuthenticatedTlsUpstream) {
  auto upstream = start_upstream(UpstreamRegistry::Mode::tls_htpasswd);
  ASSERT_TRUE(upstream);
  OciPusher pusher({upstream->base_url(),
                    basic_authorization(upstream->username(), upstream->password()),
                    upstream->certificate()});
  PushedImage amd = pusher.push_image("team/app", "", {pseudo_random_bytes(300'000, 1)}, "amd64");
  PushedImage arm = pusher.push_image("team/app", "", {pseudo_random_bytes(200'000, 2)}, "arm64");
  PushedImage index = pusher.push_index("team/app", "1.0", {amd, arm}, {"amd64", "arm64"});
  PushedImage signature =
      pusher.push_referrer("team/app", index, "application/vnd.example.signature", "signed", true);
  ASSERT_FALSE(index.digest.empty());
  ASSERT_FALSE(signature.digest.empty());

  start_app([&](server::Config& config) {
    config.upstream_ca_bundle = upstream->certificate().string();
  });
  json::object request{
      {"source", json::object{{"registryUri", upstream->host()},
                              {"sourceImage", "team/app:1.0"},
                              {"credentials", json::object{{"username", upstream->username()},
                                                           {"password", upstream->password()}}}}},
      {"targetTags", json::array{"mirror/app:1.0"}},
      {"includeReferrers", true}};
  auto job = run_import(request);
  ASSERT_EQ(json_string(job, "status"), "Succeeded") << json::serialize(job);
  EXPECT_EQ(json::serialize(job).find(upstream->password()), std::string::npos)
      << "the import resource shows the password";
  const auto& result = job.at("result").as_object();
  EXPECT_EQ(json_string(result, "digest"), index.digest);
  EXPECT_EQ(result.at("manifests").as_int64(), 4);  // the index, two images, the signature
  EXPECT_GT(result.at("bytesCopied").as_int64(), 500'000);
  const auto& progress = job.at("progress").as_object();
  EXPECT_EQ(progress.at("bytesDone").as_int64(), progress.at("bytesTotal").as_int64());

  auto tagged = client().get("/v2/mirror/app/manifests/1.0", {std::string("Accept: ") + kIndexType});
  ASSERT_EQ(tagged.status, 200);
  EXPECT_EQ(tagged.header("docker-content-digest"), index.digest);
  EXPECT_EQ(tagged.body, index.manifest);
  for (const PushedImage* image : {&amd, &arm}) {
    auto manifest = client().get("/v2/mirror/app/manifests/" + image->digest);
    ASSERT_EQ(manifest.status, 200);
    EXPECT_EQ(manifest.body, image->manifest);
    for (std::size_t i = 0; i < image->layer_digests.size(); ++i) {
      auto layer = client().get("/v2/mirror/app/blobs/" + image->layer_digests[i]);
      ASSERT_EQ(layer.status, 200);
      EXPECT_EQ(sha256_digest(layer.body), image->layer_digests[i]);
      EXPECT_EQ(layer.body, image->layers[i]);
    }
    EXPECT_EQ(client().head("/v2/mirror/app/blobs/" + image->config_digest).status, 200);
  }
  auto referrers = client().get("/v2/mirror/app/referrers/" + index.digest);
  ASSERT_EQ(referrers.status, 200);
  EXPECT_NE(referrers.body.find(signature.digest), std::string::npos) << referrers.body;
  auto signature_manifest = client().get("/v2/mirror/app/manifests/" + signature.digest);
  EXPECT_EQ(signature_manifest.body, signature.manifest);
}

TEST_F(ImportTest, NoForceKeepsAnExistingTagAndForceMovesIt) {
  auto upstream = start_upstream(UpstreamRegistry::Mode::plain);
  ASSERT_TRUE(upstream);
  OciPusher pusher({upstream->base_url(), std::nullopt, std::nullopt});
  PushedImage first = pusher.push_image("team/app", "v1", {pseudo_random_bytes(10'000, 3)});
  start_app([&](server::Config& config) { config.insecure_upstreams = {upstream->host()}; });
  json::object request{
      {"source", json::object{{"registryUri", upstream->host()}, {"sourceImage", "team/app:v1"}}},
      {"targetTags", json::array{"app:v1"}}};
  ASSERT_EQ(json_string(run_import(request), "status"), "Succeeded");

  // The upstream's tag moves; berth's stays unless the import says Force.
  PushedImage second = pusher.push_image("team/app", "v1", {pseudo_random_bytes(10'000, 4)});
  auto refused = run_import(request);
  EXPECT_EQ(json_string(refused, "status"), "Failed");
  EXPECT_NE(json_string(refused, "error").find("NoForce"), std::string::npos)
      << json_string(refused, "error");
  EXPECT_EQ(client().get("/v2/app/manifests/v1").header("docker-content-digest"), first.digest);
  // Again importing what the tag already points at is no conflict.
  PushedImage back = pusher.push_image("team/app", "v1", {pseudo_random_bytes(10'000, 3)});
  ASSERT_EQ(back.digest, first.digest);
  EXPECT_EQ(json_string(run_import(request), "status"), "Succeeded");

  pusher.push_image("team/app", "v1", {pseudo_random_bytes(10'000, 4)});
  request["mode"] = "Force";
  auto forced = run_import(request);
  ASSERT_EQ(json_string(forced, "status"), "Succeeded") << json::serialize(forced);
  EXPECT_EQ(client().get("/v2/app/manifests/v1").header("docker-content-digest"), second.digest);
}

TEST_F(ImportTest, BetweenRegistriesOfTheDeploymentLinksBlobsWithoutCopyingBytes) {
  start_app([](server::Config&) {});
  auto created = client().request("POST", "/mgmt/v1/registries",
                                  R"({"name":"sourcereg","tier":"Standard"})",
                                  {"Content-Type: application/json"});
  ASSERT_EQ(created.status, 201) << created.body;
  HttpClient source(app_->base_url());
  source.set_default_headers(
      {bearer_header(kUpstreamTestAdminToken), "Host: sourcereg.registry.local"});
  // Pushed through the source registry's host name.
  const std::string layer = pseudo_random_bytes(2'000'000, 5);
  const std::string config = R"({"architecture":"amd64","os":"linux"})";
  const std::string layer_digest = sha256_digest(layer);
  const std::string config_digest = sha256_digest(config);
  for (const auto& [digest, bytes] : {std::pair{layer_digest, layer}, std::pair{config_digest, config}}) {
    ASSERT_EQ(source.request("POST", "/v2/base/os/blobs/uploads/?digest=" + digest, bytes).status,
              201);
  }
  const std::string manifest = fmt::format(
      R"({{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{}","size":{}}}]}})",
      config_digest, config.size(), layer_digest, layer.size());
  ASSERT_EQ(source.request("PUT", "/v2/base/os/manifests/2.0", manifest,
                           {"Content-Type: application/vnd.oci.image.manifest.v1+json"})
                .status,
            201);

  const auto stored_before = bytes_under(dir_.path() / "data");
  json::object request{{"source", json::object{{"registryUri", "sourcereg.registry.local"},
                                               {"sourceImage", "base/os:2.0"}}},
                       {"targetTags", json::array{"base/os:2.0"}}};
  auto job = run_import(request);
  ASSERT_EQ(json_string(job, "status"), "Succeeded") << json::serialize(job);
  EXPECT_EQ(job.at("result").as_object().at("bytesCopied").as_int64(), 0);
  // Metadata grows a little; no blob was written again.
  EXPECT_LT(bytes_under(dir_.path() / "data"), stored_before + layer.size() / 2);
  auto pulled = client().get("/v2/base/os/blobs/" + layer_digest);
  ASSERT_EQ(pulled.status, 200);
  EXPECT_EQ(pulled.body, layer);
  EXPECT_EQ(client().get("/v2/base/os/manifests/2.0").body, manifest);
}

TEST_F(ImportTest, AnotherRegistryIsASourceOnlyForWhoMayPullFromIt) {
  start_app([](server::Config&) {});
  for (const char* name : {"secretreg", "teamreg01"}) {
    auto created = client().request("POST", "/mgmt/v1/registries",
                                    fmt::format(R"({{"name":"{}","tier":"Standard"}})", name),
                                    {"Content-Type: application/json"});
    ASSERT_EQ(created.status, 201) << created.body;
  }
  HttpClient secret(app_->base_url());
  secret.set_default_headers(
      {bearer_header(kUpstreamTestAdminToken), "Host: secretreg.registry.local"});
  const std::string blob = "private bytes";
  ASSERT_EQ(secret.request("POST", "/v2/private/app/blobs/uploads/?digest=" + sha256_digest(blob),
                           blob)
                .status,
            201);
  // A service principal that may manage teamreg01 and nothing of secretreg.
  auto identity = json_object(client()
                                  .request("POST", "/mgmt/v1/identities",
                                           R"({"name":"importer","kind":"servicePrincipal"})",
                                           {"Content-Type: application/json"})
                                  .body);
  const std::string id = json_string(identity, "id");
  const std::string password = json_string(identity, "secret");
  ASSERT_FALSE(id.empty());
  auto assigned = client().request(
      "POST", "/mgmt/v1/role-assignments",
      fmt::format(R"({{"assignee":"{}","role":"Contributor","scope":"/registries/teamreg01"}})", id),
      {"Content-Type: application/json"});
  ASSERT_EQ(assigned.status, 201) << assigned.body;
  HttpClient contributor(app_->base_url());
  contributor.set_default_headers({"Authorization: " + basic_authorization(id, password)});
  const std::string body =
      R"({"source":{"registryUri":"secretreg.registry.local","sourceImage":"private/app:1"}})";
  auto refused = contributor.request("POST", "/mgmt/v1/registries/teamreg01/imports", body,
                                     {"Content-Type: application/json"});
  EXPECT_EQ(refused.status, 403) << refused.body;
  // The same answer for a registry that does not exist: nothing is told about secretreg.
  auto unknown = contributor.request(
      "POST", "/mgmt/v1/registries/teamreg01/imports",
      R"({"source":{"registryUri":"nosuchreg.registry.local","sourceImage":"private/app:1"}})",
      {"Content-Type: application/json"});
  EXPECT_EQ(unknown.status, 403) << unknown.body;
  for (const auto* answer : {&refused, &unknown}) {
    EXPECT_NE(answer->body.find("you may not pull from 'private/app'"), std::string::npos)
        << answer->body;
  }
}

// A second berthd as the upstream: its token service hands out the Bearer tokens the import
// logs in with (the admin user's Basic credentials at its realm).
TEST_F(ImportTest, CopiesFromAnotherBerthdThroughItsTokenService) {
  TempDir upstream_dir;
  const std::string upstream_token = "upstream-berthd-admin-token-0123456789";
  RunningApp upstream(upstream_dir.path() / "data", upstream_token);
  OciPusher pusher({upstream.base_url(), bearer_header(upstream_token).substr(15), std::nullopt});
  PushedImage image = pusher.push_image("team/app", "2.0", {pseudo_random_bytes(400'000, 8)});
  ASSERT_FALSE(image.digest.empty());
  HttpClient management(upstream.base_url());
  management.set_default_headers({bearer_header(upstream_token)});
  auto credentials = json_object(management.get("/mgmt/v1/registries/default/credentials").body);
  const std::string username = json_string(credentials, "username");
  ASSERT_FALSE(username.empty());
  const std::string password = json_string(
      credentials.at("passwords").as_array().at(0).as_object(), "value");

  const std::string host = "127.0.0.1:" + std::to_string(upstream.port());
  start_app([&](server::Config& config) { config.insecure_upstreams = {host}; });
  json::object request{
      {"source", json::object{{"registryUri", host},
                              {"sourceImage", "team/app:2.0"},
                              {"credentials", json::object{{"username", username},
                                                           {"password", password}}}}}};
  auto job = run_import(request);
  ASSERT_EQ(json_string(job, "status"), "Succeeded") << json::serialize(job);
  auto manifest = client().get("/v2/team/app/manifests/2.0");
  EXPECT_EQ(manifest.header("docker-content-digest"), image.digest);
  EXPECT_EQ(manifest.body, image.manifest);
  EXPECT_EQ(client().get("/v2/team/app/blobs/" + image.layer_digests[0]).body, image.layers[0]);
}

TEST_F(ImportTest, FailuresSayWhy) {
  auto upstream = start_upstream(UpstreamRegistry::Mode::tls_htpasswd);
  ASSERT_TRUE(upstream);
  OciPusher pusher({upstream->base_url(),
                    basic_authorization(upstream->username(), upstream->password()),
                    upstream->certificate()});
  pusher.push_image("team/app", "1.0", {pseudo_random_bytes(1000, 6)});
  start_app([&](server::Config& config) {
    config.upstream_ca_bundle = upstream->certificate().string();
  });
  auto with_login = [&](std::string password, std::string image) {
    return json::object{
        {"source", json::object{{"registryUri", upstream->host()},
                                {"sourceImage", image},
                                {"credentials", json::object{{"username", upstream->username()},
                                                             {"password", password}}}}}};
  };
  auto wrong = run_import(with_login("not-the-password", "team/app:1.0"));
  EXPECT_EQ(json_string(wrong, "status"), "Failed");
  EXPECT_NE(json_string(wrong, "error").find("unauthorized"), std::string::npos)
      << json_string(wrong, "error");
  EXPECT_EQ(json_string(wrong, "error").find("not-the-password"), std::string::npos);

  auto missing = run_import(with_login(upstream->password(), "team/app:nope"));
  EXPECT_EQ(json_string(missing, "status"), "Failed");
  EXPECT_NE(json_string(missing, "error").find("not_found"), std::string::npos)
      << json_string(missing, "error");
  EXPECT_EQ(client().get("/v2/team/app/manifests/nope").status, 404);

  // A bad request is refused before any job exists.
  auto bad = client().request("POST", "/mgmt/v1/registries/default/imports",
                              R"({"source":{"registryUri":"https://x","sourceImage":"a:b"}})",
                              {"Content-Type: application/json"});
  EXPECT_EQ(bad.status, 400);
  auto unknown_set = client().request(
      "POST", "/mgmt/v1/registries/default/imports",
      R"({"source":{"registryUri":"example.com","sourceImage":"a:b","credentialSet":"nosuchset"}})",
      {"Content-Type: application/json"});
  EXPECT_EQ(unknown_set.status, 404);
}

TEST_F(ImportTest, PlainHttpUpstreamsNeedToBeListed) {
  auto upstream = start_upstream(UpstreamRegistry::Mode::plain);
  ASSERT_TRUE(upstream);
  OciPusher pusher({upstream->base_url(), std::nullopt, std::nullopt});
  pusher.push_image("team/app", "1.0", {pseudo_random_bytes(1000, 7)});
  start_app([](server::Config&) {});  // not listed: spoken to over https, which it does not speak
  json::object request{
      {"source", json::object{{"registryUri", upstream->host()}, {"sourceImage", "team/app:1.0"}}}};
  auto job = run_import(request);
  EXPECT_EQ(json_string(job, "status"), "Failed") << json::serialize(job);
  EXPECT_EQ(client().get("/v2/team/app/manifests/1.0").status, 404);
}

}  // namespace
}  // namespace berth::testing
