// berthd migrate (server/migrate.h) against real servers: the source is a data directory a real
// berthd (App, in-process) filled through its HTTP API; the destination is a fresh database on
// the test's PostgreSQL server and a container of the test's Azurite (or a directory). Checked
// after a migration: every table's rows are equal in both databases, every blob reads back with
// its digest from the destination, and a berthd started on the destination serves the content
// and accepts the source's credentials (which needs the deployment key carried over).

#include "server/migrate.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <fstream>
#include <map>
#include <optional>
#include <pqxx/pqxx>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "auth/admin_credential.h"
#include "auth/encoding.h"
#include "auth/secrets.h"
#include "common/temp_dir.h"
#include "metadata/postgres/postgres_metadata_store.h"
#include "metadata/sqlite_metadata_store.h"
#include "oci/digest.h"
#include "server/progress.h"
#include "storage/azure/azure_byte_store.h"
#include "storage/azure/connection_string.h"
#include "storage/blob_storage.h"
#include "storage/filesystem_byte_store.h"
#include "support/app_fixture.h"
#include "support/azurite_server.h"
#include "support/http_client.h"
#include "support/postgres_server.h"
#include "support/secret_record.h"

extern char** environ;

namespace berth::testing {
namespace {

const auto* const kPostgres = ::testing::AddGlobalTestEnvironment(new PostgresEnvironment);

constexpr std::string_view kAdminToken = "migrate-test-admin-token-0123456789";
constexpr std::string_view kDomain = "registry.local";

namespace json = boost::json;

// ---------------------------------------------------------------------------------------------
// The source: a data directory filled by a real berthd through its API

struct PushedImage {
  std::string registry;
  std::string repository;
  std::string tag;  // empty: pushed by digest only
  std::string digest;
  std::string manifest;
};

struct SourceContent {
  std::vector<PushedImage> images;
  std::string big_blob;  // the digest of the largest blob
  std::string token_registry, token_name, token_password;
};

std::string random_bytes(std::size_t size, unsigned seed) {
  std::mt19937 random(seed);
  std::string bytes(size, '\0');
  for (auto& c : bytes) c = static_cast<char>(random() & 0xff);
  return bytes;
}

std::string basic_header(std::string_view user, std::string_view password) {
  std::string credentials(user);
  credentials += ':';
  credentials += password;
  return "Authorization: Basic " + auth::detail::base64_encode(credentials);
}

class SourceBuilder {
 public:
  explicit SourceBuilder(const std::filesystem::path& data_dir)
      : app_(data_dir, std::string(kAdminToken)), client_(app_.base_url()) {}

  HttpResponse v2(std::string_view registry, std::string_view method, std::string_view path,
                  std::string_view body = {}) {
    return client_.request(
        method, path, body,
        {fmt::format("Host: {}.{}", registry, kDomain), bearer_header(kAdminToken)});
  }
  HttpResponse mgmt(std::string_view method, std::string_view path, std::string_view body = {}) {
    std::vector<std::string> headers{bearer_header(kAdminToken)};
    if (!body.empty()) headers.emplace_back("Content-Type: application/json");
    return client_.request(method, path, body, headers);
  }

  std::string base_url() const { return app_.base_url(); }

  std::string push_blob(std::string_view registry, std::string_view repository,
                        std::string_view content) {
    std::string digest = oci::digest_of(content).str();
    auto r = v2(registry, "POST",
                fmt::format("/v2/{}/blobs/uploads/?digest={}", repository, digest), content);
    EXPECT_EQ(r.status, 201) << r.body;
    return digest;
  }

  PushedImage push_image(std::string_view registry, std::string_view repository,
                         std::string_view tag, std::string_view layer) {
    std::string config = fmt::format(R"({{"architecture":"amd64","os":"linux","rootfs":"{}"}})",
                                     oci::digest_of(layer).str());
    std::string config_digest = push_blob(registry, repository, config);
    std::string layer_digest = push_blob(registry, repository, layer);
    std::string manifest = fmt::format(
        R"({{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
        R"("config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":{}}},)"
        R"("layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{}","size":{}}}]}})",
        config_digest, config.size(), layer_digest, layer.size());
    std::string digest = oci::digest_of(manifest).str();
    auto r = client_.request(
        "PUT", fmt::format("/v2/{}/manifests/{}", repository, tag.empty() ? digest : tag), manifest,
        {fmt::format("Host: {}.{}", registry, kDomain), bearer_header(kAdminToken),
         "Content-Type: application/vnd.oci.image.manifest.v1+json"});
    EXPECT_EQ(r.status, 201) << r.body;
    return {std::string(registry), std::string(repository), std::string(tag), digest, manifest};
  }

 private:
  RunningApp app_;
  HttpClient client_;
};

// What berth keeps about content from other registries (metadata::UpstreamStore), written
// through a second store on the source's file while its berthd runs, as another process on the
// file would: the management API that writes it is not there yet. A credential set and a cache
// rule naming it, a cached tag's last check, an import that ended (its error kept) and one
// still queued.
void add_upstream_state(const std::filesystem::path& data_dir) {
  auto opened = metadata::SqliteMetadataStore::open(data_dir / "metadata.db");
  ASSERT_TRUE(opened) << opened.error().message;
  metadata::SqliteMetadataStore& store = **opened;
  auto team = store.find_registry("teamreg");
  ASSERT_TRUE(team && *team);
  const metadata::RegistryId registry = (*team)->id;
  ASSERT_TRUE(store.create_credential_set({.registry = registry,
                                           .name = "hub",
                                           .login_server = "registry-1.docker.io",
                                           .username = "robot",
                                           .sealed_password = "v1:sealed"}));
  ASSERT_TRUE(store.create_cache_rule({.registry = registry,
                                       .name = "library",
                                       .source_repository = "docker.io/library/*",
                                       .target_repository = "hub/library/*",
                                       .credential_set = "hub",
                                       .tag_ttl_seconds = 3600},
                                      50));
  ASSERT_TRUE(store.set_tag_validated_at({.registry = registry, .name = "team/api"}, "v1",
                                         1'700'000'000));
  auto ended = store.create_import({.registry = registry, .request = R"({"source":"a"})"});
  ASSERT_TRUE(ended);
  ASSERT_TRUE(store.claim_import("node-a", 1'700'000'000, 0));
  ASSERT_TRUE(store.finish_import(ended->id, "node-a", metadata::ImportStatus::failed, "",
                                  "upstream said \"no\"", 1'700'000'100));
  ASSERT_TRUE(store.create_import(
      {.registry = registry, .request = R"({"source":"b"})", .sealed_credentials = "v1:login"}));
}

// The live log of the running run add_task_state leaves: bytes of every value, longer than one
// stored chunk, so that it is carried in several rows.
std::string running_run_log() {
  std::string log(150'000, '\0');
  for (std::size_t i = 0; i < log.size(); ++i) log[i] = static_cast<char>(i * 7 % 256);
  return log;
}

// The uploaded build context add_task_state pins.
oci::Digest pinned_context() { return oci::digest_of(std::string("a build context")); }

// What berth keeps about build tasks (metadata::TaskStore), written as add_upstream_state
// writes its part: an enabled task with a trigger's state and base images, a disabled one, a run
// that ended (its log stored as a blob and pinned), one running with its live log, one queued
// (a quick run, without a task), and the pin of the running run's build context.
void add_task_state(const std::filesystem::path& data_dir) {
  auto opened = metadata::SqliteMetadataStore::open(data_dir / "metadata.db");
  ASSERT_TRUE(opened) << opened.error().message;
  metadata::SqliteMetadataStore& store = **opened;
  auto team = store.find_registry("teamreg");
  ASSERT_TRUE(team && *team);
  const metadata::RegistryId registry = (*team)->id;
  ASSERT_TRUE(store.create_task({.registry = registry,
                                 .name = "build",
                                 .definition = R"({"steps":[{"build":"-t api:{{.Run.ID}} ."}]})"},
                                10));
  ASSERT_TRUE(store.create_task(
      {.registry = registry, .name = "nightly", .definition = "{}", .enabled = false}, 10));
  ASSERT_TRUE(store.set_trigger_state(registry, "build", "commit", "4f2a9c1", 1'700'000'000));
  ASSERT_TRUE(store.set_task_base_images(
      registry, "build", {"docker.io/library/alpine:3.20", "mcr.microsoft.com/dotnet/sdk:8.0"}));

  auto ended = store.create_run(
      {.registry = registry, .task = "build", .trigger = "commit", .request = R"({"n":1})"});
  ASSERT_TRUE(ended);
  ASSERT_TRUE(store.start_run(registry, ended->number, "node-a", 5, 1'700'000'000));
  ASSERT_TRUE(store.append_run_log(registry, ended->number, "Step 1/2 : FROM alpine\n"));
  const oci::Digest log = oci::digest_of(std::string("Step 1/2 : FROM alpine\n"));
  ASSERT_TRUE(store.finish_run(registry, ended->number, "node-a",
                               {.status = metadata::RunStatus::failed,
                                .error = "step 2 exited with 1",
                                .log_digest = log.str(),
                                .log_size = 23},
                               1'700'000'100));
  ASSERT_TRUE(store.drop_run_log(registry, ended->number));
  ASSERT_TRUE(store.pin_blob(log, "run:teamreg:1", 1'700'000'100));

  auto running = store.create_run(
      {.registry = registry, .task = "build", .trigger = "manual", .request = R"({"n":2})"});
  ASSERT_TRUE(running);
  ASSERT_TRUE(store.start_run(registry, running->number, "node-a", 5, 1'700'000'200));
  ASSERT_TRUE(store.append_run_log(registry, running->number, running_run_log()));
  ASSERT_TRUE(store.pin_blob(pinned_context(), "run:teamreg:2", 1'700'000'200));
  ASSERT_TRUE(store.create_run(
      {.registry = registry, .trigger = "manual", .request = R"({"quick":true})"}));
}

// A deployment with something in every part of the schema: three registries, repositories with
// tagged, retagged and untagged manifests, a blob shared across registries, a large blob, a
// lock, scope maps, a token with passwords, an identity with a role assignment, a webhook with
// a secret and headers, a network rule, and an upload session left open.
SourceContent build_rich_source(const std::filesystem::path& data_dir) {
  SourceContent content;
  SourceBuilder source(data_dir);
  EXPECT_EQ(
      source.mgmt("POST", "/mgmt/v1/registries", R"({"name":"teamreg","tier":"Premium"})").status,
      201);
  EXPECT_EQ(
      source.mgmt("POST", "/mgmt/v1/registries", R"({"name":"webreg","tier":"Basic"})").status,
      201);

  const std::string shared_layer = random_bytes(70 * 1024, 1);
  const std::string big_layer = random_bytes(1024 * 1024 + 4321, 2);
  content.big_blob = oci::digest_of(big_layer).str();
  content.images.push_back(source.push_image("default", "app", "1.0", shared_layer));
  content.images.push_back(source.push_image("default", "app", "latest", random_bytes(5000, 3)));
  content.images.push_back(source.push_image("default", "tools/cli", "2.0", random_bytes(9, 4)));
  content.images.push_back(source.push_image("teamreg", "team/api", "v1", big_layer));
  content.images.push_back(source.push_image("teamreg", "team/api", "v2", shared_layer));
  content.images.push_back(source.push_image("webreg", "site", "prod", random_bytes(300, 5)));
  content.images.push_back(source.push_image("webreg", "site", "", random_bytes(301, 6)));
  // Retagged: the first manifest of app loses "latest" to another one.
  content.images.push_back(source.push_image("default", "app", "latest", random_bytes(777, 7)));
  content.images[1].tag.clear();

  EXPECT_EQ(source
                .mgmt("PATCH", "/mgmt/v1/registries/default/repositories/app/tags/1.0",
                      R"({"writeEnabled":false})")
                .status,
            200);
  EXPECT_EQ(source
                .mgmt("POST", "/mgmt/v1/registries/teamreg/scope-maps",
                      R"({"name":"team-a","description":"Team A",)"
                      R"("actions":["repositories/team/*/content/read"]})")
                .status,
            201);
  auto token = source.mgmt("POST", "/mgmt/v1/registries/teamreg/tokens",
                           R"({"name":"ci-token","scopeMapName":"_repositories_pull"})");
  EXPECT_EQ(token.status, 201) << token.body;
  content.token_registry = "teamreg";
  content.token_name = "ci-token";
  content.token_password = std::string(json::parse(token.body)
                                           .at("credentials")
                                           .at("passwords")
                                           .as_array()[0]
                                           .at("value")
                                           .as_string());
  auto identity = source.mgmt("POST", "/mgmt/v1/identities",
                              R"({"name":"build-agent","kind":"servicePrincipal"})");
  EXPECT_EQ(identity.status, 201) << identity.body;
  std::string identity_id(json::parse(identity.body).at("id").as_string());
  EXPECT_EQ(source
                .mgmt("POST", "/mgmt/v1/role-assignments",
                      fmt::format(R"({{"assignee":"{}","role":"AcrPush",)"
                                  R"("scope":"/registries/teamreg"}})",
                                  identity_id))
                .status,
            201);
  EXPECT_EQ(source
                .mgmt("POST", "/mgmt/v1/registries/teamreg/webhooks",
                      R"({"name":"hook1","serviceUri":"http://127.0.0.1:9/hook",)"
                      R"("actions":["push"],"secret":"webhook-secret-value",)"
                      R"("customHeaders":{"X-Team":"a"}})")
                .status,
            201);
  auto rule = source.mgmt("POST", "/mgmt/v1/registries/teamreg/network-rules",
                          R"({"ipAddressOrRange":"10.1.0.0/16"})");
  EXPECT_EQ(rule.status, 200) << rule.body;
  // An upload session in progress: its bytes are not carried.
  EXPECT_EQ(source.v2("default", "POST", "/v2/app/blobs/uploads/").status, 202);

  // A registry that is gone: its id is never handed out again, also after the move.
  EXPECT_EQ(
      source.mgmt("POST", "/mgmt/v1/registries", R"({"name":"tempreg1","tier":"Basic"})").status,
      201);
  EXPECT_EQ(source.mgmt("DELETE", "/mgmt/v1/registries/tempreg1").status, 204);

  // Soft-deleted content, a purge schedule, a collection run.
  EXPECT_EQ(source
                .mgmt("PATCH", "/mgmt/v1/registries/teamreg/policies/soft-delete",
                      R"({"status":"enabled","days":30})")
                .status,
            200);
  const PushedImage gone = source.push_image("teamreg", "team/old", "gone", random_bytes(99, 8));
  EXPECT_EQ(source
                .mgmt("DELETE",
                      "/mgmt/v1/registries/teamreg/repositories/team/old/manifests/" + gone.digest)
                .status,
            204);
  EXPECT_EQ(source
                .mgmt("PUT", "/mgmt/v1/registries/default/purge-schedules/nightly",
                      R"({"schedule":"0 3 * * *","filters":["app:.*"],"ago":"30d","keep":3})")
                .status,
            200);
  EXPECT_EQ(source.mgmt("POST", "/mgmt/v1/registries/default/gc", R"({"dryRun":true})").status,
            202);

  // The login audit: the token logging in, and a wrong password.
  HttpClient logins(source.base_url());
  EXPECT_EQ(logins
                .get("/v2/", {fmt::format("Host: teamreg.{}", kDomain),
                              basic_header(content.token_name, content.token_password)})
                .status,
            200);
  EXPECT_EQ(logins
                .get("/v2/", {fmt::format("Host: teamreg.{}", kDomain),
                              basic_header(content.token_name, "not-the-password")})
                .status,
            401);

  // A webhook delivery attempt (to a port nobody listens on), recorded with its outcome.
  EXPECT_EQ(source.mgmt("POST", "/mgmt/v1/registries/teamreg/webhooks/hook1/ping").status, 200);
  bool delivered = false;
  for (int i = 0; i < 200 && !delivered; ++i) {
    auto events = source.mgmt("GET", "/mgmt/v1/registries/teamreg/webhooks/hook1/events");
    delivered = events.status == 200 && !json::parse(events.body).at("events").as_array().empty();
    if (!delivered) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(delivered) << "no webhook delivery was recorded";

  add_upstream_state(data_dir);
  add_task_state(data_dir);
  return content;
}

// A small deployment: the first start's content and one image.
void build_small_source(const std::filesystem::path& data_dir, unsigned seed = 9) {
  SourceBuilder source(data_dir);
  source.push_image("default", "small", "1", random_bytes(2000, seed));
}

std::string base64_key(const std::filesystem::path& data_dir) {
  std::ifstream in(data_dir / auth::kDeploymentKeyFile, std::ios::binary);
  std::string key((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return auth::detail::base64_encode(key);
}

// What migrate printed, for the no-secrets-in-logs check (tests/check_no_secrets.sh), which
// greps it for every secret the tests noted: the PostgreSQL password, the deployment key.
void keep_for_secret_scan(std::string_view name, std::string_view text) {
  const std::string dir = test_artifacts_dir();
  if (dir.empty()) return;
  const auto logs = std::filesystem::path(dir) / "logs";
  std::filesystem::create_directories(logs);
  std::ofstream(logs / fmt::format("migrate_test-{}-{}.log", name, ::getpid()), std::ios::app)
      << text;
}

void note_secrets(const std::string& postgres_keywords, const std::filesystem::path& source) {
  const auto at = postgres_keywords.find("password=");
  const auto end = postgres_keywords.find(' ', at);
  record_secret(postgres_keywords.substr(at + 9, end - at - 9));
  record_secret(base64_key(source));
}

// ---------------------------------------------------------------------------------------------
// The destination

// berthd takes PostgreSQL URIs; the test server gives libpq's keyword form.
std::string postgres_uri(const std::string& keywords) {
  std::map<std::string, std::string> values;
  std::istringstream in(keywords);
  std::string pair;
  while (in >> pair) {
    auto equals = pair.find('=');
    values[pair.substr(0, equals)] = pair.substr(equals + 1);
  }
  return fmt::format("postgresql://{}:{}@{}:{}/{}", values["user"], values["password"],
                     values["host"], values["port"], values["dbname"]);
}

std::unique_ptr<storage::azure::AzureByteStore> open_container(AzuriteServer& azurite,
                                                               const std::string& container) {
  auto account = storage::azure::parse_connection_string(azurite.connection_string());
  EXPECT_TRUE(account);
  auto store = storage::azure::AzureByteStore::open(std::move(*account), container);
  EXPECT_TRUE(store) << (store ? "" : store.error().message);
  return store ? std::move(*store) : nullptr;
}

// A ByteStore that passes everything to another one, except that the upload `fail_id` stops
// accepting bytes once it holds `fail_after` of them: a migration cut off in the middle of a
// blob (a crash, a lost connection), with its earlier flushes durable.
class FailingByteStore final : public storage::ByteStore {
 public:
  FailingByteStore(std::unique_ptr<storage::ByteStore> inner, std::string fail_id,
                   std::uint64_t fail_after)
      : inner_(std::move(inner)), fail_id_(std::move(fail_id)), fail_after_(fail_after) {}

  storage::Result<storage::BlobInfo> stat(const oci::Digest& d) override { return inner_->stat(d); }
  storage::Result<std::unique_ptr<storage::BlobReader>> open(const oci::Digest& d) override {
    return inner_->open(d);
  }
  storage::Result<void> remove(const oci::Digest& d) override { return inner_->remove(d); }
  storage::Result<storage::BlobListing> list_blobs(std::string_view after,
                                                   std::size_t limit) override {
    return inner_->list_blobs(after, limit);
  }
  storage::Result<storage::BlobInfo> store(const oci::Digest& d,
                                           std::span<const std::byte> bytes) override {
    return inner_->store(d, bytes);
  }
  storage::Result<std::unique_ptr<storage::UploadBytes>> create_upload(
      std::string_view id) override {
    return wrap(id, inner_->create_upload(id));
  }
  storage::Result<std::unique_ptr<storage::UploadBytes>> open_upload(std::string_view id) override {
    return wrap(id, inner_->open_upload(id));
  }
  storage::Result<std::uint64_t> upload_size(std::string_view id) override {
    return inner_->upload_size(id);
  }
  storage::Result<void> delete_upload(std::string_view id) override {
    return inner_->delete_upload(id);
  }
  storage::Result<std::vector<std::string>> list_uploads() override {
    return inner_->list_uploads();
  }
  storage::Result<void> check_writable() override { return inner_->check_writable(); }

 private:
  class FailingUpload final : public storage::UploadBytes {
   public:
    FailingUpload(std::unique_ptr<storage::UploadBytes> inner, std::uint64_t fail_after)
        : inner_(std::move(inner)), fail_after_(fail_after) {}
    std::uint64_t size() const override { return inner_->size(); }
    storage::Result<void> append(std::span<const std::byte> data) override {
      if (inner_->size() + data.size() > fail_after_) {
        return storage::StorageError{storage::Errc::io_error, "injected failure: connection lost"};
      }
      return inner_->append(data);
    }
    storage::Result<void> flush() override { return inner_->flush(); }
    storage::Result<void> revert() override { return inner_->revert(); }
    storage::Result<void> discard() override { return inner_->discard(); }
    storage::Result<std::size_t> read(std::uint64_t offset, std::span<std::byte> out) override {
      return inner_->read(offset, out);
    }
    storage::Result<void> save_state(std::span<const std::byte> record) override {
      return inner_->save_state(record);
    }
    storage::Result<std::vector<std::byte>> load_state() override { return inner_->load_state(); }
    storage::Result<storage::BlobInfo> commit_as(const oci::Digest& digest) override {
      return inner_->commit_as(digest);
    }

   private:
    std::unique_ptr<storage::UploadBytes> inner_;
    std::uint64_t fail_after_;
  };

  storage::Result<std::unique_ptr<storage::UploadBytes>> wrap(
      std::string_view id, storage::Result<std::unique_ptr<storage::UploadBytes>> opened) {
    if (!opened || id != fail_id_) return opened;
    return std::unique_ptr<storage::UploadBytes>(
        new FailingUpload(std::move(*opened), fail_after_));
  }

  std::unique_ptr<storage::ByteStore> inner_;
  std::string fail_id_;
  std::uint64_t fail_after_;
};

// ---------------------------------------------------------------------------------------------
// Comparing the two databases, independently of migrate's own reading

using Row = std::vector<std::optional<std::string>>;

// Every table's rows, columns by name in name order, rows sorted: SQLite side.
std::map<std::string, std::vector<Row>> sqlite_tables(const std::filesystem::path& file) {
  std::map<std::string, std::vector<Row>> tables;
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  std::vector<std::string> names;
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(db,
                     "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE "
                     "'sqlite_%'",
                     -1, &stmt, nullptr);
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    names.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)));
  }
  sqlite3_finalize(stmt);
  for (const auto& name : names) {
    std::string sql = "SELECT * FROM \"" + name + "\"";
    EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK);
    const int columns = sqlite3_column_count(stmt);
    std::vector<int> order(static_cast<std::size_t>(columns));
    for (int i = 0; i < columns; ++i) order[static_cast<std::size_t>(i)] = i;
    std::sort(order.begin(), order.end(), [&](int a, int b) {
      return std::string_view(sqlite3_column_name(stmt, a)) <
             std::string_view(sqlite3_column_name(stmt, b));
    });
    auto& rows = tables[name];
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      Row row;
      for (int i : order) {
        const int type = sqlite3_column_type(stmt, i);
        if (type == SQLITE_NULL) {
          row.emplace_back();
        } else if (type == SQLITE_INTEGER) {
          row.emplace_back(std::to_string(sqlite3_column_int64(stmt, i)));
        } else {
          const auto* data = static_cast<const char*>(sqlite3_column_blob(stmt, i));
          row.emplace_back(std::string(data == nullptr ? "" : data,
                                       static_cast<std::size_t>(sqlite3_column_bytes(stmt, i))));
        }
      }
      rows.push_back(std::move(row));
    }
    sqlite3_finalize(stmt);
    std::sort(rows.begin(), rows.end());
  }
  sqlite3_close(db);
  return tables;
}

// The same from PostgreSQL: booleans as 1/0, bytea as its bytes.
std::map<std::string, std::vector<Row>> postgres_tables(const std::string& connection_string) {
  std::map<std::string, std::vector<Row>> tables;
  pqxx::connection connection(connection_string);
  pqxx::nontransaction work(connection);
  for (const auto& table :
       work.exec("SELECT relname FROM pg_class WHERE relnamespace = current_schema()::regnamespace "
                 "AND relkind = 'r'")) {
    const std::string name = table[0].as<std::string>();
    const pqxx::result result = work.exec("SELECT * FROM \"" + name + "\"");
    std::vector<pqxx::row::size_type> order;
    for (pqxx::row::size_type i = 0; i < result.columns(); ++i) order.push_back(i);
    std::sort(order.begin(), order.end(), [&](auto a, auto b) {
      return std::string_view(result.column_name(a)) < std::string_view(result.column_name(b));
    });
    auto& rows = tables[name];
    for (const auto& source : result) {
      Row row;
      for (auto i : order) {
        const pqxx::field field = source[i];
        const auto type = result.column_type(i);
        if (field.is_null()) {
          row.emplace_back();
        } else if (type == 16) {  // bool
          row.emplace_back(field.as<bool>() ? "1" : "0");
        } else if (type == 17) {  // bytea
          row.emplace_back(pqxx::binarystring(field).str());
        } else {
          row.emplace_back(field.as<std::string>());
        }
      }
      rows.push_back(std::move(row));
    }
    std::sort(rows.begin(), rows.end());
  }
  return tables;
}

// The destination's deployment settings hold the administrator token's hash, carried from the
// source's file (the embedded default keeps it there, not in a table): checked and taken out,
// so that the rest compares with the source's rows.
void expect_admin_token_carried(const std::filesystem::path& data_dir,
                                std::vector<Row>& destination_settings) {
  auto expected = auth::AdminCredential::stored_hash_hex(data_dir);
  ASSERT_TRUE(expected && *expected) << "the source has no administrator token";
  auto carried = std::find_if(destination_settings.begin(), destination_settings.end(),
                              [](const Row& row) {
                                return !row.empty() && row[0] == std::string(auth::kAdminTokenSetting);
                              });
  ASSERT_NE(carried, destination_settings.end()) << "the administrator token was not carried";
  ASSERT_EQ(carried->size(), 2u);
  EXPECT_EQ((*carried)[1], **expected);
  destination_settings.erase(carried);
}

// Every table of the source has the same rows at the destination, but the upload sessions
// (not carried), the administrator token's hash (carried from a file) and the PostgreSQL-only
// bookkeeping.
void expect_same_tables(const std::filesystem::path& source_db, const std::string& postgres) {
  auto source = sqlite_tables(source_db);
  auto destination = postgres_tables(postgres);
  ASSERT_TRUE(destination.contains("deployment_settings"));
  expect_admin_token_carried(source_db.parent_path(), destination.at("deployment_settings"));
  EXPECT_TRUE(destination.contains("schema_version"));
  EXPECT_TRUE(destination.contains("migrated_from"));
  destination.erase("schema_version");
  destination.erase("migrated_from");
  ASSERT_TRUE(source.contains("uploads"));
  EXPECT_TRUE(destination.at("uploads").empty());
  source.erase("uploads");
  destination.erase("uploads");
  std::vector<std::string> source_names, destination_names;
  for (const auto& entry : source) source_names.push_back(entry.first);
  for (const auto& entry : destination) destination_names.push_back(entry.first);
  ASSERT_EQ(source_names, destination_names);
  std::vector<std::string> empty;
  for (const auto& [name, table] : source) {
    EXPECT_EQ(table, destination.at(name)) << "table " << name;
    // The embedded default takes no leases (one process by construction): that table is empty
    // in every source.
    if (table.empty() && name != "leases") empty.push_back(name);
  }
  EXPECT_TRUE(empty.empty()) << "tables without rows in this source: "
                             << fmt::format("{}", fmt::join(empty, ", "));
}

// SQLite's record of the highest registry id handed out (AUTOINCREMENT).
int highest_registry_id_ever(const std::filesystem::path& data_dir) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2((data_dir / "metadata.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr),
            SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(db, "SELECT seq FROM sqlite_sequence WHERE name = 'registries'", -1, &stmt,
                     nullptr);
  int seq = sqlite3_step(stmt) == SQLITE_ROW ? sqlite3_column_int(stmt, 0) : -1;
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return seq;
}

std::string read_all(storage::BlobReader& reader) {
  std::string bytes(reader.size(), '\0');
  std::size_t got = 0;
  while (got < bytes.size()) {
    auto n = reader.read(got, std::as_writable_bytes(std::span(bytes)).subspan(got));
    if (!n || *n == 0) break;
    got += *n;
  }
  bytes.resize(got);
  return bytes;
}

// Every blob of the source is at the destination and hashes to its digest there.
std::size_t expect_blobs_copied(storage::ByteStore& source, storage::ByteStore& destination) {
  auto listing = source.list_blobs("", 100000);
  EXPECT_TRUE(listing);
  for (const auto& blob : listing->blobs) {
    auto reader = destination.open(blob.digest);
    EXPECT_TRUE(reader) << blob.digest.str();
    if (!reader) continue;
    std::string bytes = read_all(**reader);
    EXPECT_EQ(bytes.size(), blob.size) << blob.digest.str();
    EXPECT_EQ(oci::digest_of(bytes, blob.digest.algorithm()), blob.digest);
  }
  auto uploads = destination.list_uploads();
  EXPECT_TRUE(uploads && uploads->empty()) << "a migration upload was left behind";
  return listing->blobs.size();
}

// ---------------------------------------------------------------------------------------------

class MigrateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::getenv("BERTH_TEST_LOG")) spdlog::set_level(spdlog::level::warn);
    BERTH_REQUIRE_AZURITE(azurite_);
    ASSERT_TRUE(database_.ok()) << database_.error();
  }

  std::filesystem::path source_dir() const { return dir_.path() / "source"; }

  // A container of this test alone: the Azurite server is shared by every test of the binary
  // (also when they are repeated).
  static std::string container(std::string_view name) {
    static std::atomic<int> next{0};
    return fmt::format("{}-{}-{}", name, ::getpid(), ++next);
  }

  server::MigrationSettings settings() const {
    server::MigrationSettings settings;
    settings.source_dir = source_dir();
    settings.postgres = database_.connection_string();
    // Small pieces, so that even the test's blobs take several chunks and flushes.
    settings.blobs.chunk_bytes = 64 * 1024;
    settings.blobs.flush_bytes = 128 * 1024;
    settings.blobs.parallel_copies = 3;
    return settings;
  }

  // The container's driver, wrapped by `wrap` (a failing store) when given.
  server::StorageOpener azure_opener(
      const std::string& container,
      std::function<std::unique_ptr<storage::ByteStore>(std::unique_ptr<storage::ByteStore>)> wrap =
          {}) {
    return
        [this, container, wrap]() -> server::MigrateResult<std::unique_ptr<storage::BlobStorage>> {
          ++storage_opened_;
          std::unique_ptr<storage::ByteStore> driver = open_container(*azurite_, container);
          if (wrap) driver = wrap(std::move(driver));
          return std::make_unique<storage::BlobStorage>(std::move(driver));
        };
  }

  server::MigrateResult<server::MigrationReport> migrate(const server::StorageOpener& opener) {
    note_secrets(database_.connection_string(), source_dir());
    std::ostringstream output;
    server::Progress progress(output, server::Progress::Options{});
    auto report = server::migrate(settings(), opener, progress);
    if (report) {
      server::print_report(output, settings(), *report);
    } else {
      output << report.error().message << '\n';
    }
    keep_for_secret_scan("api", output.str());
    return report;
  }

  // Whether the destination database holds nothing but a new database's content.
  void expect_destination_fresh() {
    pqxx::connection connection(database_.connection_string());
    auto state = server::inspect_destination(connection);
    ASSERT_TRUE(state) << state.error().message;
    EXPECT_EQ(state->kind, server::DestinationState::Kind::fresh) << state->detail;
  }

  TempDir dir_;
  ScratchDatabase database_;
  AzuriteServer* azurite_ = nullptr;
  int storage_opened_ = 0;
};

TEST_F(MigrateTest, CopiesEverythingAndTheNewDeploymentServesIt) {
  const SourceContent content = build_rich_source(source_dir());
  const std::string migrated = container("migrated");
  auto report = migrate(azure_opener(migrated));
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_FALSE(report->already_migrated);
  EXPECT_EQ(report->metadata.upload_sessions_left, 1u);
  EXPECT_EQ(report->blobs.blobs_copied, report->blobs.blobs);
  EXPECT_EQ(report->blobs_missing, 0u);
  EXPECT_TRUE(report->key.key_file);
  EXPECT_EQ(report->key.opens_sealed_values, std::optional<bool>(true));
  std::cout << "migrated " << report->blobs.blobs << " blobs ("
            << server::format_bytes(report->blobs.bytes) << ") in " << report->blob_time.count()
            << " ms and " << report->metadata.tables << " tables, " << report->metadata.rows
            << " rows in " << report->metadata_time.count() << " ms; total "
            << report->total_time.count() << " ms\n";

  expect_same_tables(source_dir() / "metadata.db", database_.connection_string());
  auto source_bytes = storage::FilesystemByteStore::open(source_dir());
  ASSERT_TRUE(source_bytes);
  auto destination = open_container(*azurite_, migrated);
  EXPECT_EQ(expect_blobs_copied(**source_bytes, *destination), report->blobs.blobs);

  // Run again: the destination is this source's copy, nothing is done.
  auto again = migrate(azure_opener(migrated));
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_TRUE(again->already_migrated);
  EXPECT_EQ(storage_opened_, 1);

  // A node on the new backends, with the source's deployment key and administrator token.
  std::ostringstream printed;
  server::print_report(printed, settings(), *report);
  EXPECT_NE(printed.str().find("BERTH_DEPLOYMENT_KEY"), std::string::npos);
  EXPECT_EQ(printed.str().find(base64_key(source_dir())), std::string::npos);
  const auto node_dir = dir_.path() / "node";
  std::filesystem::create_directories(node_dir);
  std::filesystem::copy_file(source_dir() / auth::kAdminTokenFile,
                             node_dir / auth::kAdminTokenFile);
  ScopedEnvironmentVariable key(std::string(auth::kDeploymentKeyVariable),
                                base64_key(source_dir()));
  ScopedEnvironmentVariable account("BERTH_AZURE_STORAGE_CONNECTION_STRING",
                                    azurite_->connection_string());
  RunningApp node(node_dir, [&](server::Config& config) {
    config.metadata = postgres_uri(database_.connection_string());
    config.storage = "azure";
    config.azure_container = migrated;
  });
  HttpClient client(node.base_url());
  for (const auto& image : content.images) {
    const std::string reference = image.tag.empty() ? image.digest : image.tag;
    auto r =
        client.get(fmt::format("/v2/{}/manifests/{}", image.repository, reference),
                   {fmt::format("Host: {}.{}", image.registry, kDomain), bearer_header(kAdminToken),
                    "Accept: application/vnd.oci.image.manifest.v1+json"});
    EXPECT_EQ(r.status, 200) << image.registry << "/" << image.repository << ":" << reference;
    EXPECT_EQ(r.body, image.manifest);
  }
  auto big = client.get(fmt::format("/v2/team/api/blobs/{}", content.big_blob),
                        {fmt::format("Host: teamreg.{}", kDomain), bearer_header(kAdminToken)});
  EXPECT_EQ(big.status, 200);
  EXPECT_EQ(oci::digest_of(big.body).str(), content.big_blob);
  // The token's password was hashed with the deployment key; it still opens the registry.
  auto tags = client.get("/v2/team/api/tags/list",
                         {fmt::format("Host: teamreg.{}", kDomain),
                          basic_header(content.token_name, content.token_password)});
  EXPECT_EQ(tags.status, 200) << tags.body;
  EXPECT_EQ(tags.body, R"({"name":"team/api","tags":["v1","v2"]})");
  // The admin user's passwords were sealed with it: they are shown again.
  auto credentials =
      client.get("/mgmt/v1/registries/default/credentials", {bearer_header(kAdminToken)});
  EXPECT_EQ(credentials.status, 200) << credentials.body;
  // New rows continue after the copied ids.
  auto created =
      client.request("POST", "/mgmt/v1/registries", R"({"name":"newreg01","tier":"Basic"})",
                     {bearer_header(kAdminToken), "Content-Type: application/json"});
  EXPECT_EQ(created.status, 201) << created.body;
  pqxx::connection connection(database_.connection_string());
  pqxx::nontransaction work(connection);
  EXPECT_EQ(work.exec1("SELECT id FROM registries WHERE name = 'newreg01'")[0].as<int>(),
            highest_registry_id_ever(source_dir()) + 1);

  // The build tasks' state carried over: a running run and its live log, the pins, and runs
  // numbered after the copied ones.
  metadata::PostgresOptions options;
  options.connection_string = database_.connection_string();
  auto tasks = metadata::PostgresMetadataStore::open(options);
  ASSERT_TRUE(tasks) << tasks.error().message;
  const auto team = (*tasks)->find_registry("teamreg").value();
  ASSERT_TRUE(team.has_value());
  const auto running = (*tasks)->find_run(team->id, 2).value();
  ASSERT_TRUE(running.has_value());
  EXPECT_EQ(running->holder, "node-a");
  EXPECT_TRUE((*tasks)->read_run_log(team->id, 2, 0, 1'000'000).value() == running_run_log());
  EXPECT_TRUE((*tasks)->is_blob_pinned(pinned_context()).value());
  EXPECT_EQ((*tasks)->tasks_using_base_image("docker.io/library/alpine:3.20").value(),
            (std::vector<metadata::TaskRef>{{team->id, "build"}}));
  auto next = (*tasks)->create_run({.registry = team->id, .task = "build", .request = "{}"});
  ASSERT_TRUE(next) << next.error().message;
  EXPECT_EQ(next->number, 4);
}

TEST_F(MigrateTest, AnInterruptedCopyResumesAndEndsIdentical) {
  const SourceContent content = build_rich_source(source_dir());
  const std::string big_upload = server::migration_upload_id(*oci::Digest::parse(content.big_blob));
  constexpr std::uint64_t kCutAt = 600 * 1024;
  const std::string resumed_container = container("resumed");
  auto cut =
      migrate(azure_opener(resumed_container, [&](std::unique_ptr<storage::ByteStore> inner) {
        return std::make_unique<FailingByteStore>(std::move(inner), big_upload, kCutAt);
      }));
  ASSERT_FALSE(cut);
  EXPECT_EQ(cut.error().code, server::MigrateErrc::copy_failed);
  EXPECT_NE(cut.error().message.find(content.big_blob), std::string::npos) << cut.error().message;
  EXPECT_NE(cut.error().message.find("injected failure"), std::string::npos);
  expect_destination_fresh();  // no metadata before every blob is there

  auto destination = open_container(*azurite_, resumed_container);
  auto uploads = destination->list_uploads();
  ASSERT_TRUE(uploads);
  ASSERT_EQ(*uploads, std::vector<std::string>{big_upload});
  auto kept = destination->upload_size(big_upload);
  ASSERT_TRUE(kept);
  EXPECT_GT(*kept, 0u);
  EXPECT_LE(*kept, kCutAt);
  auto listed = destination->list_blobs("", 1000);
  ASSERT_TRUE(listed);
  const std::size_t copied_before = listed->blobs.size();

  auto resumed = migrate(azure_opener(resumed_container));
  ASSERT_TRUE(resumed) << resumed.error().message;
  EXPECT_EQ(resumed->blobs.blobs_present, copied_before);
  EXPECT_EQ(resumed->blobs.blobs_resumed, 1u);
  EXPECT_EQ(resumed->blobs.bytes_resumed, *kept);
  EXPECT_EQ(resumed->blobs.blobs_copied, resumed->blobs.blobs - copied_before);

  expect_same_tables(source_dir() / "metadata.db", database_.connection_string());
  auto source_bytes = storage::FilesystemByteStore::open(source_dir());
  ASSERT_TRUE(source_bytes);
  expect_blobs_copied(**source_bytes, *destination);
}

TEST_F(MigrateTest, IntoTheSourceDirectoryOnlyTheMetadataMoves) {
  build_small_source(source_dir());
  auto report = migrate([this]() -> server::MigrateResult<std::unique_ptr<storage::BlobStorage>> {
    auto bytes = storage::FilesystemByteStore::open(source_dir());
    EXPECT_TRUE(bytes);
    return std::make_unique<storage::BlobStorage>(std::move(*bytes));
  });
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_EQ(report->blobs.blobs, 2u);
  EXPECT_EQ(report->blobs.blobs_present, 2u);
  EXPECT_EQ(report->blobs.blobs_copied, 0u);
  EXPECT_GT(report->metadata.rows, 0u);
}

TEST_F(MigrateTest, RefusesADestinationHoldingOtherData) {
  build_small_source(source_dir());
  {
    metadata::PostgresOptions options;
    options.connection_string = database_.connection_string();
    auto store = metadata::PostgresMetadataStore::open(options);
    ASSERT_TRUE(store);
    metadata::RegistryRecord other;
    other.name = "otherreg";
    other.tier = "Basic";
    ASSERT_TRUE((*store)->create_registry(other));
  }
  auto refused = migrate(azure_opener(container("refused")));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, server::MigrateErrc::destination_not_empty);
  EXPECT_NE(refused.error().message.find("registries (2 rows)"), std::string::npos)
      << refused.error().message;
  EXPECT_EQ(storage_opened_, 0) << "the destination storage was touched";

  pqxx::connection connection(database_.connection_string());
  pqxx::nontransaction work(connection);
  EXPECT_EQ(
      work.exec1("SELECT string_agg(name, ',' ORDER BY name) FROM registries")[0].as<std::string>(),
      "default,otherreg");
  EXPECT_EQ(work.exec1("SELECT count(*) FROM repositories")[0].as<int>(), 0);
  EXPECT_EQ(work.exec1("SELECT to_regclass('migrated_from') IS NULL")[0].as<bool>(), true);
}

TEST_F(MigrateTest, RefusesADestinationMigratedFromAnotherSource) {
  build_small_source(source_dir(), 1);
  ASSERT_TRUE(migrate(azure_opener(container("first"))));
  // Another data directory, into the same database.
  std::filesystem::rename(source_dir(), dir_.path() / "first-source");
  build_small_source(source_dir(), 2);
  auto refused = migrate(azure_opener(container("second")));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, server::MigrateErrc::destination_not_empty);
  // The marker names the directory as it was when migrated.
  EXPECT_NE(refused.error().message.find("holds a migration of " + source_dir().string()),
            std::string::npos)
      << refused.error().message;
  EXPECT_EQ(storage_opened_, 1);
}

TEST_F(MigrateTest, ACorruptedSourceBlobStopsTheMigrationNamingIt) {
  build_small_source(source_dir());
  // Damage one blob file: same size, other bytes.
  auto source_bytes = storage::FilesystemByteStore::open(source_dir());
  ASSERT_TRUE(source_bytes);
  auto listing = (*source_bytes)->list_blobs("", 100);
  ASSERT_TRUE(listing);
  ASSERT_EQ(listing->blobs.size(), 2u);  // the image's config and layer
  const auto& victim = listing->blobs[1];
  const auto file = source_dir() / "blobs" / "sha256" /
                    std::string(victim.digest.hex().substr(0, 2)) /
                    std::string(victim.digest.hex());
  ASSERT_TRUE(std::filesystem::exists(file));
  std::filesystem::permissions(file, std::filesystem::perms::owner_write,
                               std::filesystem::perm_options::add);
  {
    std::fstream out(file, std::ios::in | std::ios::out | std::ios::binary);
    out.seekp(0);
    out.put('!');
  }

  const std::string damaged = container("damaged");
  auto stopped = migrate(azure_opener(damaged));
  ASSERT_FALSE(stopped);
  EXPECT_EQ(stopped.error().code, server::MigrateErrc::digest_mismatch);
  EXPECT_NE(stopped.error().message.find(victim.digest.str()), std::string::npos)
      << stopped.error().message;
  expect_destination_fresh();
  auto destination = open_container(*azurite_, damaged);
  auto found = destination->stat(victim.digest);
  EXPECT_FALSE(found);
  auto uploads = destination->list_uploads();
  ASSERT_TRUE(uploads);
  EXPECT_TRUE(uploads->empty());
}

TEST_F(MigrateTest, RefusesASourceInUse) {
  build_small_source(source_dir());
  auto running = metadata::SqliteMetadataStore::open(source_dir() / "metadata.db");
  ASSERT_TRUE(running);
  auto refused = migrate(azure_opener(container("in-use")));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, server::MigrateErrc::source_in_use);
  EXPECT_NE(refused.error().message.find("stop the berthd"), std::string::npos);
  EXPECT_EQ(storage_opened_, 0);
  running->reset();
  EXPECT_TRUE(migrate(azure_opener(container("in-use"))));
}

TEST_F(MigrateTest, RefusesSchemasThatDiffer) {
  build_small_source(source_dir());
  {
    auto store = metadata::SqliteMetadataStore::open(source_dir() / "metadata.db");
    ASSERT_TRUE(store);
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((source_dir() / "metadata.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE extra_notes (id INTEGER PRIMARY KEY)", nullptr, nullptr,
                         nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto refused = migrate(azure_opener(container("schemas")));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, server::MigrateErrc::schema_mismatch);
  EXPECT_NE(refused.error().message.find("table extra_notes only in SQLite"), std::string::npos)
      << refused.error().message;
  EXPECT_EQ(storage_opened_, 0);
}

// ---------------------------------------------------------------------------------------------
// The berthd binary: `berthd migrate`, into PostgreSQL and a directory

struct Exit {
  int status = -1;
  std::string out, err;
};

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Runs the berthd binary with `args`, and an environment without BERTH_* variables.
Exit run_berthd(const std::filesystem::path& dir, std::vector<std::string> args) {
  std::vector<std::string> environment;
  for (char** variable = environ; *variable != nullptr; ++variable) {
    if (!std::string_view(*variable).starts_with("BERTH_")) environment.emplace_back(*variable);
  }
  args.insert(args.begin(), BERTHD_PATH);
  std::vector<char*> argv, envp;
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  for (auto& variable : environment) envp.push_back(variable.data());
  envp.push_back(nullptr);
  const auto out_path = dir / "stdout";
  const auto err_path = dir / "stderr";
  int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out, STDOUT_FILENO);
    ::dup2(err, STDERR_FILENO);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  ::close(out);
  ::close(err);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_file(out_path), read_file(err_path)};
}

TEST(BerthdMigrate, MigratesIntoADirectoryAndSaysHowToCarryTheKey) {
  ScratchDatabase database;
  ASSERT_TRUE(database.ok()) << database.error();
  TempDir dir;
  const auto source = dir.path() / "source";
  const auto destination = dir.path() / "destination";
  build_small_source(source);
  const std::string uri = postgres_uri(database.connection_string());
  const std::vector<std::string> args = {
      "migrate",    "--from-data-dir", source.string(),      "--metadata", uri, "--storage",
      "filesystem", "--data-dir",      destination.string(), "--parallel", "2"};
  note_secrets(database.connection_string(), source);
  Exit first = run_berthd(dir.path(), args);
  keep_for_secret_scan("cli", first.out + first.err);
  ASSERT_EQ(first.status, 0) << first.out << first.err;
  EXPECT_NE(first.out.find("migrated " + source.string()), std::string::npos) << first.out;
  EXPECT_NE(first.out.find("copying blobs"), std::string::npos) << first.out;
  EXPECT_NE(first.out.find("BERTH_DEPLOYMENT_KEY=\"$(base64 -w0 " + source.string()),
            std::string::npos)
      << first.out;
  std::cout << first.out;
  const std::string password =
      uri.substr(uri.find(':', 13) + 1, uri.find('@') - uri.find(':', 13) - 1);
  for (const auto& text : {first.out, first.err}) {
    EXPECT_EQ(text.find(password), std::string::npos) << "the PostgreSQL password was printed";
    EXPECT_EQ(text.find(base64_key(source)), std::string::npos) << "the key was printed";
  }
  auto source_bytes = storage::FilesystemByteStore::open(source);
  auto destination_bytes = storage::FilesystemByteStore::open(destination);
  ASSERT_TRUE(source_bytes && destination_bytes);
  expect_blobs_copied(**source_bytes, **destination_bytes);

  Exit again = run_berthd(dir.path(), args);
  keep_for_secret_scan("cli", again.out + again.err);
  EXPECT_EQ(again.status, 0) << again.err;
  EXPECT_NE(again.out.find("already migrated"), std::string::npos) << again.out;
}

TEST(BerthdMigrate, UsageErrorsExitTwo) {
  TempDir dir;
  const auto source = dir.path() / "source";
  std::vector<std::vector<std::string>> usage_errors = {
      {"migrate", "--from-data-dir", source.string()},  // metadata: sqlite
      {"migrate", "--from-data-dir", source.string(), "--metadata", "sqlite"},
      {"migrate", "--metadata", "postgresql://u@127.0.0.1:1/db"},  // no source
      {"migrate", "--from-data-dir", source.string(), "--metadata", "postgresql://u@127.0.0.1:1/db",
       "--storage", "azure"},  // no container
      {"migrate", "--from-data-dir", source.string(), "--metadata", "postgresql://u@127.0.0.1:1/db",
       "--parallel", "0"},
  };
  for (const auto& args : usage_errors) {
    Exit exit = run_berthd(dir.path(), args);
    EXPECT_EQ(exit.status, 2) << fmt::format("{}", fmt::join(args, " ")) << ": " << exit.err;
    EXPECT_NE(exit.err, "");
  }
  Exit sqlite = run_berthd(dir.path(), usage_errors[0]);
  EXPECT_NE(sqlite.err.find("PostgreSQL"), std::string::npos) << sqlite.err;
  Exit missing =
      run_berthd(dir.path(), {"migrate", "--from-data-dir", (dir.path() / "none").string(),
                              "--metadata", "postgresql://u@127.0.0.1:1/db"});
  EXPECT_EQ(missing.status, 1) << missing.err;
  EXPECT_NE(missing.err.find("is not a directory"), std::string::npos) << missing.err;
  Exit help = run_berthd(dir.path(), {"migrate", "--help"});
  EXPECT_EQ(help.status, 0);
  EXPECT_NE(help.out.find("--from-data-dir"), std::string::npos) << help.out;
  Exit main_help = run_berthd(dir.path(), {"--help"});
  EXPECT_NE(main_help.out.find("migrate"), std::string::npos) << main_help.out;
}

// ---------------------------------------------------------------------------------------------
// Progress

struct FakeClock {
  server::Progress::Clock::time_point now{};
  void advance(std::chrono::milliseconds by) { now += by; }
};

TEST(MigrateProgress, FormatsSizesAndDurations) {
  EXPECT_EQ(server::format_bytes(0), "0 B");
  EXPECT_EQ(server::format_bytes(1023), "1023 B");
  EXPECT_EQ(server::format_bytes(1536), "1.5 KiB");
  EXPECT_EQ(server::format_bytes(5ull * 1024 * 1024 * 1024), "5.0 GiB");
  EXPECT_EQ(server::format_clock(std::chrono::seconds(7)), "0:07");
  EXPECT_EQ(server::format_clock(std::chrono::seconds(3723)), "1:02:03");
  EXPECT_EQ(server::format_duration(std::chrono::seconds(7)), "7 s");
  EXPECT_EQ(server::format_duration(std::chrono::seconds(754)), "12 min 34 s");
  EXPECT_EQ(server::format_duration(std::chrono::seconds(3723)), "1 h 2 min");
}

TEST(MigrateProgress, PlainLinesEveryFewSecondsWithRateAndEta) {
  FakeClock clock;
  std::ostringstream out;
  server::Progress::Options options;
  options.terminal = false;
  options.line_interval = std::chrono::seconds(5);
  options.now = [&clock] { return clock.now; };
  server::Progress progress(out, options);
  progress.begin("copying blobs", 100 * 1024 * 1024, 4);
  progress.skipped(20 * 1024 * 1024);  // present already: done, but not part of the rate
  progress.items_done();
  clock.advance(std::chrono::seconds(2));
  progress.copied(10 * 1024 * 1024);
  EXPECT_EQ(out.str(), "") << "a line before the interval passed";
  clock.advance(std::chrono::seconds(3));
  progress.copied(10 * 1024 * 1024);  // 20 MiB in 5 s: 4 MiB/s; 60 MiB left: 15 s
  EXPECT_EQ(out.str(), "copying blobs: 1/4, 40.0 MiB of 100.0 MiB (40%), 4.0 MiB/s, ETA 15 s\n");
  progress.items_done();
  EXPECT_EQ(out.str().size(), out.str().find('\n') + 1) << "a second line within 5 s";
  progress.end();
  EXPECT_EQ(out.str().substr(out.str().rfind("copying")),
            "copying blobs: 2/4, 40.0 MiB of 100.0 MiB (40%), 4.0 MiB/s, ETA 15 s\n");
}

TEST(MigrateProgress, TerminalBarIsRedrawnInPlace) {
  FakeClock clock;
  std::ostringstream out;
  server::Progress::Options options;
  options.terminal = true;
  options.now = [&clock] { return clock.now; };
  server::Progress progress(out, options);
  progress.begin("copying metadata", 0, 200);
  EXPECT_EQ(out.str(), "\r\033[Kcopying metadata [--------------------]   0%  0/200  ETA --:--");
  clock.advance(std::chrono::seconds(2));
  progress.items_done(100);  // 50 rows/s, 100 left: 2 s
  EXPECT_EQ(out.str().substr(out.str().rfind('\r')),
            "\r\033[Kcopying metadata [##########----------]  50%  100/200  50/s  ETA 0:02");
  progress.note("warning: something");
  progress.items_done(100);
  clock.advance(std::chrono::seconds(2));
  progress.end();
  const std::string text = out.str();
  EXPECT_NE(text.find("\r\033[Kwarning: something\n"), std::string::npos) << text;
  EXPECT_TRUE(text.ends_with("[####################] 100%  200/200  50/s\n")) << text;
}

}  // namespace
}  // namespace berth::testing
