#include "server/app.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <stdexcept>
#include <system_error>

#include "api/acr.h"
#include "api/distribution.h"
#include "api/errors.h"
#include "api/management.h"
#include "api/oauth2.h"
#include "api/pipeline.h"
#include "api/rate_limiter.h"
#include "api/wire.h"
#include "auth/admin_credential.h"
#include "auth/authenticator.h"
#include "auth/login_audit.h"
#include "auth/network_policy.h"
#include "auth/secrets.h"
#include "events/audit_file.h"
#include "events/dispatcher.h"
#include "events/event_service.h"
#include "events/transport.h"
#include "common/clock.h"
#include "http/router.h"
#include "http/server.h"
#include "metrics/metrics.h"
#include "registry/access_control.h"
#include "registry/registry.h"
#include "registry/registry_services.h"
#include "registry/tenant_resolver.h"
#include "upstream/importer.h"
#include "storage/blob_storage.h"
#include "tasks/runner.h"
#include "tasks/source_archive.h"
#include "tasks/task_service.h"
#include "upstream/pull_through.h"
#include "upstream/upstream_service.h"
#include "registry/tenants.h"
#include "registry/garbage_collector.h"
#include "registry/lifecycle_job.h"
#include "registry/node_lease.h"
#include "registry/upload_sweeper.h"
#include "registry/pull_log.h"
#include "server/backends.h"
#include "metadata/store.h"
#include "storage/blob_storage.h"

namespace berth::server {
namespace {

// A data directory is fresh until a start has completed with its administrator token: the
// first start. A marker file says a first start is under way; when a start fails after making
// the token (which it never got to show), the next start finds the marker, drops the token and
// is the first start again, so the operator is never left without a token or a login line.
constexpr std::string_view kFirstStartMarker = ".first-start";

bool begin_first_start(const std::filesystem::path& data_dir) {
  auto token_file = data_dir / auth::kAdminTokenFile;
  auto marker = data_dir / kFirstStartMarker;
  if (std::filesystem::exists(token_file) && !std::filesystem::exists(marker)) return false;
  std::ofstream(marker).put('\n');
  std::error_code ignored;
  std::filesystem::remove(token_file, ignored);
  return true;
}

void finish_first_start(const std::filesystem::path& data_dir) {
  std::error_code ignored;
  std::filesystem::remove(data_dir / kFirstStartMarker, ignored);
}

// The host clients use in the first-login line: the first plain listener's, "localhost" for
// a wildcard or loopback name.
std::string login_host(const Config& config) {
  if (config.listen.empty()) return "localhost";
  std::string address = config.listen.front();
  auto colon = address.rfind(':');
  std::string host = colon == std::string::npos ? address : address.substr(0, colon);
  if (host.empty() || host == "0.0.0.0" || host == "[::]" || host == "::") return "localhost";
  return host;
}

// Creates the data directory if missing and proves it is writable, so that an unusable
// directory stops start-up with one clear line instead of failing on the first push.
void prepare_data_dir(const std::filesystem::path& dir) {
  std::error_code ec;
  bool created = std::filesystem::create_directories(dir, ec);
  if (ec) {
    throw std::runtime_error(
        fmt::format("cannot create data directory {}: {}", dir.string(), ec.message()));
  }
  // It holds password hashes, sealed secrets and the deployment key: its owner's alone.
  if (created) std::filesystem::permissions(dir, std::filesystem::perms::owner_all, ec);
  auto probe = dir / ".write-test";
  {
    std::ofstream out(probe);
    if (!out) {
      throw std::runtime_error(
          fmt::format("data directory {} is not writable", dir.string()));
    }
  }
  std::filesystem::remove(probe, ec);
}

void write_port_file(const std::string& path, std::uint16_t port) {
  if (path.empty()) return;
  // Written to a temporary name and renamed, so a reader never sees a partial number.
  std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << port << '\n';
    if (!out) throw std::runtime_error(fmt::format("cannot write port file {}", path));
  }
  std::filesystem::rename(temporary, path);
}

// The default registry answers every host outside the domain, so it must exist before the
// first request: created on first use of its name, with the same rules as one created through
// the management API.
void ensure_default_registry(registry::Tenants& tenants, const std::string& name) {
  if (auto ensured = tenants.ensure_exists(name); !ensured) {
    throw std::runtime_error(
        fmt::format("cannot set up the default registry '{}': {}", name, ensured.error().message));
  }
}

registry::TenantRouting tenant_routing(const Config& config) {
  registry::TenantRouting routing{config.domain, config.default_registry, {}};
  for (const auto& dedicated : registry_listeners(config)) {
    routing.listener_registries.emplace(dedicated.listener.name, dedicated.registry);
  }
  return routing;
}

// Says where each registry listener ended up (its port may have been 0), and warns about one
// whose registry does not exist yet: it answers NAME_UNKNOWN until the registry is created.
void report_registry_listeners(const Config& config, const std::vector<std::uint16_t>& ports,
                               metadata::MetadataStore& metadata) {
  auto dedicated = registry_listeners(config);
  // server_options() puts the registry listeners last.
  std::size_t first = ports.size() - dedicated.size();
  for (std::size_t i = 0; i < dedicated.size(); ++i) {
    const auto& item = dedicated[i];
    spdlog::info("registry '{}' answers on {}:{} whatever the Host header", item.registry,
                 item.listener.host, ports[first + i]);
    auto found = metadata.find_registry(item.registry);
    if (found && !*found) {
      spdlog::warn("registry '{}' of the listener on port {} does not exist yet; requests there "
                   "get NAME_UNKNOWN until it is created",
                   item.registry, ports[first + i]);
    }
  }
}

// The server options with what the API adds to every response: the API version header (also on
// the server's own errors and /healthz), the OCI envelope for the last-resort 500, and the
// registry column in the access log.
http::ServerOptions http_options(const Config& config) {
  http::ServerOptions options = server_options(config);
  options.response_headers.emplace_back(std::string(api::header::kApiVersion),
                                        std::string(api::kApiVersionValue));
  options.fault_response = {"application/json",
                            api::error_response(500, api::code::kUnknown, "internal error").body};
  options.access_log_fields = {"registry"};
  return options;
}

// Threads for blocking disk and database work. Mostly asleep in fsync or waiting for a group
// commit, so more than the cores: that many concurrent pushes overlap their syncs.
constexpr unsigned kBlockingThreads = 16;
// Threads that wait on upstream registries for the pull-through cache: many slow upstream
// answers at once must not hold the threads local work needs.
constexpr unsigned kUpstreamThreads = 32;

}  // namespace

struct App::Parts {
  std::unique_ptr<storage::BlobStorage> storage;
  std::unique_ptr<metadata::Store> metadata;
  // This process's name in the deployment's leases, and the leases of the jobs one node at a
  // time runs; declared before the jobs, which use them until they stop.
  std::string node_id;
  std::unique_ptr<registry::NodeLease> sweeper_lease;
  std::unique_ptr<registry::NodeLease> gc_lease;
  std::unique_ptr<registry::NodeLease> lifecycle_lease;
  std::unique_ptr<registry::TenantResolver> tenants;
  std::unique_ptr<registry::UploadSessions> uploads;
  // Stopped (by destruction) before the backends it sweeps go away.
  std::unique_ptr<registry::UploadSweeper> upload_sweeper;
  // Declared before the server so it outlives the requests that use it.
  std::unique_ptr<api::BlockingPool> blocking;
  // Declared before the pipeline, which records into it, and the server, which scrapes it.
  std::unique_ptr<metrics::Metrics> metrics;
  std::optional<auth::AdminCredential> metrics_token;  // its hash, for the pipeline
  // Pulls for the audit, written in batches; flushed when destroyed, after the requests.
  std::unique_ptr<registry::PullLog> pull_log;
  std::unique_ptr<registry::RegistryServices> registries;
  std::unique_ptr<api::DataPlane> data_plane;
  std::optional<auth::AdminCredential> admin;
  std::optional<auth::DeploymentKey> deployment_key;
  std::unique_ptr<auth::SigningKeys> signing_keys;
  std::unique_ptr<auth::Authenticator> authenticator;
  std::unique_ptr<auth::LoginAudit> login_audit;
  std::unique_ptr<api::RateLimiter> rate_limiter;
  std::unique_ptr<api::Pipeline> pipeline;
  std::unique_ptr<registry::Tenants> tenant_service;
  std::unique_ptr<registry::AccessControl> access_control;
  std::unique_ptr<events::CurlTransport> webhook_transport;
  // Stopped within the shutdown deadline once the server has stopped (run()), and before the
  // stores it reads go away.
  std::unique_ptr<events::Dispatcher> dispatcher;
  std::unique_ptr<events::EventService> event_service;
  std::unique_ptr<events::AuditFile> audit_file;  // none unless configured
  // Stopped after the server (run()): a run in progress pauses and resumes at the next start.
  std::unique_ptr<registry::GarbageCollector> gc;
  // Data-plane requests (/v2/, /acr/v1/) whose handlers are running.
  std::atomic<std::int64_t> data_plane_in_flight{0};
  // Expiry, retention and purge schedules (stopped with the collector).
  std::unique_ptr<registry::LifecycleJob> lifecycle_job;
  std::unique_ptr<upstream::UpstreamService> upstream;
  // The pull-through cache's waits on upstreams, and the cache (stopped before the pool goes).
  std::unique_ptr<api::BlockingPool> upstream_pool;
  std::unique_ptr<upstream::PullThroughCache> pull_through;
  std::unique_ptr<upstream::ImportService> imports;
  // Stopped after the server (run()): a job in progress is taken over after the next start.
  std::unique_ptr<upstream::ImportWorker> import_worker;
  // Build runs: the service the API uses, the loopback listeners their steps reach their
  // registries through (by registry id: "127.0.0.1:PORT"), and this node's runner (stopped
  // after the server).
  std::unique_ptr<tasks::TaskService> task_service;
  std::mutex run_listeners_mutex;
  std::map<metadata::RegistryId, std::string> run_listeners;
  std::unique_ptr<tasks::Runner> runner;
  std::unique_ptr<api::ManagementContext> management;
  std::chrono::seconds shutdown_deadline{10};
  std::optional<std::string> generated_admin_token;
  std::optional<App::FirstLogin> first_login;
  http::Router router;
  std::unique_ptr<http::Server> server;
};

namespace {

// Clears what earlier runs left (expired sessions, bytes without a session) before the first
// request, then keeps sweeping in the background.
std::unique_ptr<registry::UploadSweeper> start_upload_sweeper(storage::BlobStorage& storage,
                                                              metadata::MetadataStore& metadata,
                                                              registry::UploadSessions& uploads,
                                                              std::chrono::seconds interval,
                                                              registry::NodeLease* lease) {
  auto sweeper = std::make_unique<registry::UploadSweeper>(storage, metadata, uploads);
  sweeper->start(interval, lease);
  // With other nodes, the one holding the sweep does it.
  if (lease != nullptr && !lease->hold()) return sweeper;
  auto swept = sweeper->sweep_once(unix_now());
  if (!swept) {
    spdlog::warn("upload sweep at start-up failed: {}", swept.error().message);
  } else if (swept->expired + swept->orphans > 0) {
    spdlog::info("upload sweep at start-up: removed {} expired sessions and {} orphaned uploads",
                 swept->expired, swept->orphans);
  }
  return sweeper;
}

// The deployment key: BERTH_DEPLOYMENT_KEY when set, else <data dir>/deployment.key. Nodes on
// shared metadata must all have the one key the secrets in the database were sealed with, so
// there it comes from the variable only: a key file made by one node is no other node's.
auth::DeploymentKey open_deployment_key(const Config& config) {
  const char* variable = std::getenv(std::string(auth::kDeploymentKeyVariable).c_str());
  std::optional<std::string_view> from_environment;
  if (variable != nullptr && *variable != '\0') from_environment = variable;
  if (shares_metadata(config) && !from_environment) {
    throw std::runtime_error(fmt::format(
        "on shared (PostgreSQL) metadata every node needs the deployment's key in {} (base64 of "
        "32 bytes, the same on every node; e.g. `head -c 32 /dev/urandom | base64`)",
        auth::kDeploymentKeyVariable));
  }
  auto key = auth::DeploymentKey::open(config.data_dir, from_environment);
  if (!key) throw std::runtime_error(key.error().message);
  return std::move(*key);
}

// A check value of the deployment key (a keyed hash of a fixed text) in the shared settings:
// the first start stores it, every later start (of any node) compares. A node started with
// another key would fail to unseal every secret in the database, so it stops here instead,
// saying why.
void check_deployment_key(metadata::CoordinationStore& settings, const auth::DeploymentKey& key) {
  constexpr std::string_view kSetting = "deployment_key_check";
  const std::string mine = key.keyed_hash("berth deployment key check");
  auto stored = settings.ensure_deployment_setting(kSetting, mine);
  if (!stored) {
    throw std::runtime_error("reading the deployment key's check value: " +
                             stored.error().message);
  }
  if (!auth::equal_constant_time(*stored, mine)) {
    throw std::runtime_error(fmt::format(
        "the deployment key ({} or <data dir>/{}) is not the one this deployment's metadata "
        "was set up with; every node needs the same key",
        auth::kDeploymentKeyVariable, auth::kDeploymentKeyFile));
  }
}

// Registries whose admin user was enabled before admin passwords existed get them now, so
// that an enabled admin user can always log in.
void ensure_admin_passwords(metadata::MetadataStore& metadata, registry::AccessControl& access) {
  auto registries = metadata.list_registries();
  if (!registries) throw std::runtime_error(registries.error().message);
  for (const auto& record : *registries) {
    if (!record.admin_user_enabled) continue;
    if (auto ensured = access.ensure_admin_passwords(record.id); !ensured) {
      throw std::runtime_error(ensured.error().message);
    }
  }
}

// /healthz: whether the default registry's metadata and storage answer.
api::RouteRow health_route(const registry::RegistryServices& registries) {
  return {"GET", "/healthz", "healthz", std::string(api::action::kOpen),
          [&registries](api::RequestContext&,
                        http::Request&) -> boost::asio::awaitable<http::Response> {
            registry::Registry probe = registries.for_registry(metadata::kDefaultRegistryId);
            auto healthy = probe.check_health();
            if (!healthy) co_return api::error_response(healthy.error());
            http::Response response;
            response.headers.set("Content-Type", "application/json");
            response.body = "{\"status\":\"ok\"}\n";
            co_return response;
          }};
}

// /metrics: the Prometheus exposition (docs/metrics.md). Who may scrape is the route's action;
// the metadata reads run on the blocking pool, the text is written on the event loop.
api::RouteRow metrics_route(const metrics::Metrics& metrics) {
  return {"GET", "/metrics", "metrics", std::string(api::action::kMetrics),
          [&metrics](api::RequestContext& context,
                     http::Request&) -> boost::asio::awaitable<http::Response> {
            auto snapshot =
                co_await context.run_blocking([&metrics] { return metrics.read_sources(); });
            http::Response response;
            response.headers.set("Content-Type", std::string(metrics::kContentType));
            response.body = metrics.render(snapshot);
            co_return response;
          }};
}

// The metrics token in `file`, held as its hash; none without a file. Trailing whitespace (the
// newline an editor or `echo` adds) is not part of it. Throws with a one-line reason, which
// never shows the token.
std::optional<auth::AdminCredential> read_metrics_token(const std::string& file) {
  if (file.empty()) return std::nullopt;
  std::ifstream in(file, std::ios::binary);
  if (!in) throw std::runtime_error(fmt::format("cannot read the metrics token file {}", file));
  // Bounded, so that a path such as /dev/zero stops the start instead of filling memory.
  constexpr std::size_t kMaxTokenFile = 4096;
  std::string token(kMaxTokenFile + 1, '\0');
  in.read(token.data(), static_cast<std::streamsize>(token.size()));
  token.resize(static_cast<std::size_t>(in.gcount()));
  if (token.size() > kMaxTokenFile) {
    throw std::runtime_error(
        fmt::format("the metrics token file {} is over {} bytes", file, kMaxTokenFile));
  }
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) {
    token.pop_back();
  }
  bool printable =
      std::all_of(token.begin(), token.end(), [](char c) { return c > ' ' && c < 127; });
  if (token.size() < auth::kMinTokenLength || !printable) {
    throw std::runtime_error(fmt::format(
        "the metrics token in {} must be at least {} printable ASCII characters without spaces",
        file, auth::kMinTokenLength));
  }
  return auth::AdminCredential::for_token(token);
}

}  // namespace

App::App(const Config& config) : parts_(std::make_unique<Parts>()) {
  validate(config);
  // Before anything is created: a bad token file stops the start with nothing touched.
  parts_->metrics_token = read_metrics_token(config.metrics_token_file);
  prepare_data_dir(config.data_dir);
  parts_->storage = open_storage(config);
  parts_->metadata = open_metadata(config);
  parts_->tenant_service = std::make_unique<registry::Tenants>(
      *parts_->metadata, *parts_->storage,
      registry::TenantOptions{config.domain, std::string(registry::kDefaultRegion),
                              config.default_registry, parts_->metadata.get()});
  ensure_default_registry(*parts_->tenant_service, config.default_registry);
  parts_->tenants =
      std::make_unique<registry::TenantResolver>(*parts_->metadata, tenant_routing(config));
  parts_->uploads = std::make_unique<registry::UploadSessions>(registry::UploadPolicy{
      config.upload_idle_timeout, config.max_open_uploads_per_registry});
  make_leases(config);
  parts_->upload_sweeper =
      start_upload_sweeper(*parts_->storage, *parts_->metadata, *parts_->uploads,
                           config.upload_sweep_interval, parts_->sweeper_lease.get());
  parts_->blocking = std::make_unique<api::BlockingPool>(kBlockingThreads);
  parts_->metrics = std::make_unique<metrics::Metrics>(parts_->metadata.get());
  parts_->metrics->set_pool_source([pool = parts_->blocking.get()] {
    auto load = pool->load();
    return metrics::PoolLoad{load.queued, load.running};
  });
  parts_->pull_log = std::make_unique<registry::PullLog>(*parts_->metadata);
  parts_->registries = std::make_unique<registry::RegistryServices>(
      *parts_->storage, *parts_->metadata, *parts_->uploads, parts_->pull_log.get(),
      parts_->metadata.get());
  parts_->data_plane = std::make_unique<api::DataPlane>(api::DataPlane{*parts_->registries});

  // On shared metadata the key is checked before the administrator token is made: a node
  // with the wrong key must not be the one that makes (and alone shows) the token. On the
  // embedded default the first-start marker covers a start that fails after the token is made.
  bool first_start = false;
  if (shares_metadata(config)) {
    open_and_check_deployment_key(config);
    first_start = open_admin_credential(config);
  } else {
    first_start = open_admin_credential(config);
    open_and_check_deployment_key(config);
  }
  parts_->access_control = std::make_unique<registry::AccessControl>(
      *parts_->metadata, *parts_->metadata, *parts_->tenant_service, *parts_->deployment_key);
  ensure_admin_passwords(*parts_->metadata, *parts_->access_control);
  if (first_start) enable_first_login(config.default_registry);
  start_events(config);
  start_gc(config);
  parts_->management = std::make_unique<api::ManagementContext>(
      api::ManagementContext{*parts_->tenant_service, *parts_->access_control,
                             *parts_->registries, *parts_->event_service});
  parts_->management->gc = parts_->gc.get();
  parts_->management->lifecycle = parts_->metadata.get();
  parts_->management->gc_store = parts_->metadata.get();
  start_upstream(config);
  parts_->management->upstream = parts_->upstream.get();
  parts_->management->imports = parts_->imports.get();
  set_up_access_control(config);
  // After access control: a run's grant reaches the authenticator from here.
  start_tasks();
  parts_->management->tasks = parts_->task_service.get();

  const api::Pipeline& pipeline = *parts_->pipeline;
  pipeline.add(parts_->router, api::service_family(), {health_route(*parts_->registries)});
  api::RouteFamily scrape_family = api::service_family();
  scrape_family.blocking = parts_->blocking.get();
  pipeline.add(parts_->router, scrape_family, {metrics_route(*parts_->metrics)});
  api::RouteFamily data_plane = api::distribution_family(parts_->blocking.get());
  data_plane.in_flight = &parts_->data_plane_in_flight;
  pipeline.add(parts_->router, data_plane, api::distribution_routes(*parts_->data_plane));
  pipeline.add(parts_->router, data_plane, api::acr_routes(*parts_->data_plane));
  pipeline.add(parts_->router, api::oauth2_family(parts_->blocking.get()),
               api::oauth2_routes(pipeline));
  pipeline.add(parts_->router, api::management_family(parts_->blocking.get()),
               api::management_routes(*parts_->management));
  parts_->router.set_fallback([](const http::Request& request, bool method_not_allowed) {
    return api::is_management_path(request.path)
               ? api::management_not_routed(request, method_not_allowed)
               : api::not_routed(request, method_not_allowed);
  });

  parts_->server = std::make_unique<http::Server>(http_options(config), parts_->router);
  parts_->server->start();
  auto ports = parts_->server->bound_ports();
  if (!ports.empty()) write_port_file(config.port_file, ports.front());
  if (parts_->first_login && !ports.empty()) {
    parts_->first_login->host = login_host(config);
    parts_->first_login->port = ports.front();
  }
  report_registry_listeners(config, ports, *parts_->metadata);
  start_runner(config);
  if (first_start && !shares_metadata(config)) finish_first_start(config.data_dir);
}

// The service runs are queued through, and what a run's token may do (its grant, from the
// run's record: nothing once it ended).
void App::start_tasks() {
  parts_->task_service = std::make_unique<tasks::TaskService>(
      *parts_->metadata, *parts_->tenant_service, *parts_->storage, [this] {
        if (parts_->runner) parts_->runner->wake();
      });
  tasks::TaskService* service = parts_->task_service.get();
  parts_->authenticator->set_run_grants(
      [service](const metadata::RegistryRecord& registry,
                std::int64_t run) -> auth::AccessResult<std::optional<auth::Grant>> {
        return service->run_grant(registry, run);
      });
}

namespace {

std::optional<metadata::RegistryRecord> registry_by_id(metadata::MetadataStore& metadata,
                                                       metadata::RegistryId id) {
  auto registries = metadata.list_registries();
  if (!registries) return std::nullopt;
  for (auto& record : *registries) {
    if (record.id == id) return std::move(record);
  }
  return std::nullopt;
}

}  // namespace

void App::start_runner(const Config& config) {
  tasks::RunnerOptions options;
  options.node = parts_->node_id.empty() ? registry::make_node_id() : parts_->node_id;
  options.only_node = !shares_metadata(config);
  options.runs_dir = std::filesystem::path(config.data_dir) / "tasks" / "runs";
  options.max_running = config.task_concurrency;
  options.network = config.task_network;

  tasks::RunnerHooks hooks;
  metadata::Store& metadata = *parts_->metadata;
  registry::Tenants& tenants = *parts_->tenant_service;
  hooks.registry_limit = [&metadata, &tenants](metadata::RegistryId id) -> std::int64_t {
    auto record = registry_by_id(metadata, id);
    if (!record) return 0;
    auto info = tenants.show(record->name);
    if (!info) return 0;
    return static_cast<std::int64_t>(info->tier->limits.concurrent_runs);
  };
  hooks.endpoint = [this, &metadata, &tenants](
                       metadata::RegistryId id) -> std::optional<tasks::RegistryEndpoint> {
    auto record = registry_by_id(metadata, id);
    if (!record) return std::nullopt;
    tasks::RegistryEndpoint endpoint{record->name, tenants.login_server(record->name), ""};
    std::lock_guard lock(parts_->run_listeners_mutex);
    auto& location = parts_->run_listeners[id];
    if (location.empty()) {
      try {
        const std::uint16_t port = parts_->server->add_listener(http::Listener{
            "127.0.0.1", 0, std::nullopt,
            std::string(registry::kRunListenerPrefix) + record->name});
        location = "127.0.0.1:" + std::to_string(port);
      } catch (const std::exception& e) {
        spdlog::error("runner: cannot listen for registry {}: {}", record->name, e.what());
        return std::nullopt;
      }
    }
    endpoint.location = location;
    return endpoint;
  };
  auth::Authenticator& authenticator = *parts_->authenticator;
  hooks.run_token = [&metadata, &authenticator](metadata::RegistryId id, std::int64_t run,
                                                std::chrono::seconds lifetime)
      -> std::optional<std::string> {
    auto record = registry_by_id(metadata, id);
    if (!record) return std::nullopt;
    auto issued = authenticator.issue_run_token(*record, run, lifetime.count());
    if (!issued) return std::nullopt;
    return issued->token;
  };
  storage::BlobStorage& blobs = *parts_->storage;
  hooks.unpack_source = [&blobs](std::string_view digest_text,
                                 const std::filesystem::path& directory)
      -> std::optional<std::string> {
    auto digest = oci::Digest::parse(digest_text);
    if (!digest) return "not a digest";
    auto reader = blobs.open(*digest);
    if (!reader) return "the source is gone: " + reader.error().message;
    std::uint64_t offset = 0;
    return tasks::unpack_archive(
        [&](std::span<std::byte> buffer) -> std::optional<std::size_t> {
          auto got = (*reader)->read(offset, buffer);
          if (!got) return std::nullopt;
          offset += *got;
          return *got;
        },
        directory);
  };
  hooks.store_log = [&blobs, &metadata](const metadata::Run& run,
                                        std::string_view text) -> std::optional<std::string> {
    const oci::Digest digest = oci::digest_of(text);
    // Pinned before the bytes land, so that no collection takes them in between.
    if (!metadata.pin_blob(digest, fmt::format("log:{}:{}", run.registry, run.number),
                           unix_now())) {
      return std::nullopt;
    }
    if (!blobs.put(digest, std::as_bytes(std::span(text)))) return std::nullopt;
    return digest.str();
  };
  hooks.finished = [&metadata](const metadata::Run& run) {
    // The source a quick run was given was for it alone.
    auto request = tasks::run_request_of_json(run.request);
    if (request && !request->source_digest.empty() && run.task.empty()) {
      metadata.unpin_blobs(fmt::format("source:{}:{}", run.registry, request->source_digest));
    }
  };
  parts_->runner = std::make_unique<tasks::Runner>(*parts_->metadata, *parts_->metadata,
                                                   std::move(options), std::move(hooks));
  parts_->runner->start();
}

void App::open_and_check_deployment_key(const Config& config) {
  parts_->deployment_key.emplace(open_deployment_key(config));
  check_deployment_key(*parts_->metadata, *parts_->deployment_key);
}

// The deployment administrator token's hash: in the data directory on the embedded default
// (a first start of it makes the token), in the shared metadata otherwise (the first node to
// start makes it, the others read it). True on the first start, which also enables the default
// registry's admin user.
bool App::open_admin_credential(const Config& config) {
  const std::optional<std::string> initial = auth::initial_admin_token_from_environment();
  const bool shared = shares_metadata(config);
  bool first_start = !shared && begin_first_start(config.data_dir);
  auto admin = shared ? auth::AdminCredential::open_shared(*parts_->metadata, initial)
                      : auth::AdminCredential::open(config.data_dir, initial);
  if (!admin) throw std::runtime_error(admin.error().message);
  if (shared) first_start = admin->created;
  parts_->admin.emplace(admin->credential);
  parts_->generated_admin_token = admin->generated_token;
  return first_start;
}

// The leases of the jobs one node of a deployment runs at a time. Their TTLs span a few of the
// job's intervals, so the holder renews on every pass and another node takes over within a few
// intervals of the holder's death.
void App::make_leases(const Config& config) {
  // The embedded default is one process by construction (its SQLite file serves one berthd):
  // no lease, so a restart after a crash sweeps and collects at once instead of waiting for
  // its predecessor's lease to expire.
  if (!shares_metadata(config)) return;
  parts_->node_id = registry::make_node_id();
  auto lease = [&](std::string name, std::chrono::seconds interval) {
    const auto ttl = std::max<std::chrono::milliseconds>(3 * interval, std::chrono::seconds(60));
    return std::make_unique<registry::NodeLease>(*parts_->metadata, std::move(name),
                                                 parts_->node_id, ttl);
  };
  parts_->sweeper_lease = lease("upload-sweeper", config.upload_sweep_interval);
  // Renewed during a run at most every third of its TTL (see GarbageCollector).
  parts_->gc_lease = lease("garbage-collection", std::chrono::seconds(20));
  parts_->lifecycle_lease = lease("content-lifecycle", config.lifecycle_interval);
  spdlog::info("node {}", parts_->node_id);
}

void App::start_upstream(const Config& config) {
  parts_->upstream = std::make_unique<upstream::UpstreamService>(
      *parts_->metadata, *parts_->tenant_service, *parts_->deployment_key);
  client::ClientOptions client_options;
  client_options.insecure_hosts = config.insecure_upstreams;
  if (!config.upstream_ca_bundle.empty()) client_options.ca_bundle = config.upstream_ca_bundle;
  client_options.destination.allow_link_local = config.webhook_allow_link_local;
  client_options.user_agent = std::string("berth/") + BERTH_VERSION;

  upstream::PullThroughOptions cache_options;
  cache_options.client = client_options;
  cache_options.spool_dir = std::filesystem::path(config.data_dir) / "cache-spool";
  parts_->upstream_pool = std::make_unique<api::BlockingPool>(kUpstreamThreads);
  parts_->pull_through = std::make_unique<upstream::PullThroughCache>(
      *parts_->upstream, *parts_->metadata, *parts_->registries, std::move(cache_options));
  parts_->data_plane->cache = parts_->pull_through.get();
  upstream::PullThroughCache* cache = parts_->pull_through.get();
  parts_->upstream->on_rules_changed(
      [cache](metadata::RegistryId registry) { cache->forget_rules(registry); });
  parts_->data_plane->upstream_pool = parts_->upstream_pool.get();

  upstream::ImportWorkerOptions options;
  options.node = parts_->node_id.empty() ? registry::make_node_id() : parts_->node_id;
  options.only_node = !shares_metadata(config);
  options.client = std::move(client_options);
  parts_->import_worker = std::make_unique<upstream::ImportWorker>(
      *parts_->metadata, *parts_->metadata, *parts_->registries, *parts_->tenants,
      *parts_->upstream, *parts_->deployment_key, std::move(options));
  upstream::ImportWorker* worker = parts_->import_worker.get();
  parts_->imports = std::make_unique<upstream::ImportService>(
      *parts_->metadata, *parts_->metadata, *parts_->tenant_service, *parts_->tenants,
      *parts_->deployment_key, [worker] { worker->wake(); });
  worker->start();
}

// Webhooks: the event service the management API uses, and the dispatcher that delivers the
// outbox's events in the background (reported to the metrics).
void App::start_events(const Config& config) {
  events::DestinationPolicy destinations{config.webhook_allow_link_local};
  parts_->webhook_transport = std::make_unique<events::CurlTransport>(destinations);
  events::DispatcherOptions options;
  options.workers = config.webhook_workers;
  options.poll_interval = config.webhook_poll_interval;
  options.timeout = config.webhook_timeout;
  options.retry_for = config.webhook_retry_for;
  options.backoff_min = config.webhook_backoff_min;
  options.backoff_max = config.webhook_backoff_max;
  options.retention = config.event_retention;
  options.lease = config.webhook_lease;
  metrics::Metrics* metrics = parts_->metrics.get();
  parts_->dispatcher = std::make_unique<events::Dispatcher>(
      *parts_->metadata, *parts_->metadata, *parts_->deployment_key, *parts_->webhook_transport,
      options,
      [metrics](std::string_view registry, std::string_view webhook, std::string_view result) {
        metrics->webhook_delivery(registry, webhook, result);
      });
  events::Dispatcher* dispatcher = parts_->dispatcher.get();
  parts_->event_service = std::make_unique<events::EventService>(
      *parts_->metadata, *parts_->tenant_service, *parts_->deployment_key, destinations,
      [dispatcher] { dispatcher->wake(); });
  metadata::EventStore* store = parts_->metadata.get();
  metrics->set_outbox_source([store] {
    auto stats = store->outbox_stats();
    if (!stats || stats->undelivered == 0) return metrics::OutboxStats{};
    double age_ms = static_cast<double>(unix_now_ms() - stats->oldest_created_at);
    return metrics::OutboxStats{stats->undelivered, std::max(0.0, age_ms / 1000.0)};
  });
  parts_->shutdown_deadline = config.shutdown_deadline;
  parts_->dispatcher->start();
  if (!config.audit_log_file.empty()) {
    metadata::MetadataStore* names = parts_->metadata.get();
    parts_->audit_file = std::make_unique<events::AuditFile>(
        *parts_->metadata, config.audit_log_file,
        [names](metadata::RegistryId id) { return events::registry_name_of(*names, id); });
  }
}

// Online garbage collection: resumes a run a crash interrupted, then runs on the schedule and
// on demand (the management API), reporting to the metrics.
void App::start_gc(const Config& config) {
  registry::GcOptions options;
  options.interval = config.gc_interval;
  options.grace_period = config.gc_grace_period;
  options.page_size = static_cast<std::size_t>(config.gc_page_size);
  options.page_pause = config.gc_page_pause;
  // Collection yields while clients push and pull (data-plane requests are being handled);
  // management requests, such as polling a run's progress, do not count.
  options.clients_busy = [in_flight = &parts_->data_plane_in_flight] {
    return in_flight->load(std::memory_order_relaxed) > 0;
  };
  options.lease = parts_->gc_lease.get();
  parts_->gc = std::make_unique<registry::GarbageCollector>(*parts_->storage, *parts_->metadata,
                                                            *parts_->metadata, options);
  registry::GarbageCollector* gc = parts_->gc.get();
  parts_->metrics->set_gc_source([gc] {
    registry::GcTotals totals = gc->totals();
    return metrics::GcStats{totals.runs_succeeded, totals.runs_failed,   totals.blobs_examined,
                            totals.blobs_deleted,  totals.bytes_reclaimed, totals.links_removed,
                            totals.running,        totals.last_finished_at};
  });
  parts_->gc->start_worker();
  registry::LifecycleJobOptions lifecycle;
  lifecycle.interval = config.lifecycle_interval;
  lifecycle.lease = parts_->lifecycle_lease.get();
  parts_->lifecycle_job = std::make_unique<registry::LifecycleJob>(
      *parts_->registries, *parts_->metadata, *parts_->metadata, lifecycle);
  parts_->lifecycle_job->start();
}

// The token service's signing keys, the authenticator, the login audit and
// the rate limiter, and the pipeline that uses them (with the metrics and their token).
void App::set_up_access_control(const Config& config) {
  auto keys = auth::SigningKeys::open(*parts_->metadata, *parts_->deployment_key);
  if (!keys) throw std::runtime_error("token signing keys: " + keys.error().message);
  parts_->signing_keys = std::move(*keys);
  auth::TokenSettings settings;
  settings.access_token_seconds = config.access_token_lifetime.count();
  parts_->authenticator = std::make_unique<auth::Authenticator>(
      *parts_->metadata, *parts_->deployment_key, *parts_->signing_keys, *parts_->admin, settings,
      [] { return unix_now(); });
  parts_->management->signing_keys = parts_->signing_keys.get();
  parts_->management->authenticator = parts_->authenticator.get();
  parts_->login_audit = std::make_unique<auth::LoginAudit>(*parts_->metadata);
  parts_->rate_limiter = std::make_unique<api::RateLimiter>(config.rate_limit_scale);
  std::vector<auth::IpRange> proxies;
  for (const auto& proxy : config.trusted_proxies) proxies.push_back(*auth::IpRange::parse(proxy));
  parts_->pipeline = std::make_unique<api::Pipeline>(api::PipelineServices{
      *parts_->tenants, *parts_->metadata, *parts_->metadata, *parts_->authenticator,
      parts_->login_audit.get(), parts_->rate_limiter.get(),
      auth::TrustedProxies(std::move(proxies)), parts_->metrics.get(), parts_->metrics_token});
}

// The first start of a data directory makes the default registry usable at once: its admin
// user is enabled, and main prints a ready login line beside the administrator token. (Later
// starts never enable anything: no registry is ever opened to anonymous writes.)
void App::enable_first_login(const std::string& registry) {
  registry::RegistryChanges enable;
  enable.admin_user_enabled = true;
  if (auto updated = parts_->access_control->update_registry(registry, enable); !updated) {
    throw std::runtime_error("cannot enable the admin user of the default registry: " +
                             updated.error().message);
  }
  auto credentials = parts_->access_control->admin_credentials(registry);
  if (!credentials || credentials->passwords.empty()) {
    throw std::runtime_error("cannot read the admin user of the default registry");
  }
  parts_->first_login =
      FirstLogin{credentials->username, credentials->passwords.front().value, {}, 0};
}

const std::optional<App::FirstLogin>& App::first_login() const { return parts_->first_login; }

App::~App() = default;

std::vector<std::uint16_t> App::bound_ports() const { return parts_->server->bound_ports(); }

void App::run(bool handle_signals) {
  parts_->server->run(handle_signals);
  // The server has drained its requests; what the dispatcher has not delivered by the deadline
  // is delivered after the next start.
  parts_->dispatcher->stop(parts_->shutdown_deadline);
  parts_->gc->stop();
  parts_->lifecycle_job->stop();
  parts_->import_worker->stop();
  parts_->runner->stop();
  // Another node takes the jobs over at once instead of when the leases expire.
  parts_->upload_sweeper->stop();
  for (auto* lease : {parts_->sweeper_lease.get(), parts_->lifecycle_lease.get()}) {
    if (lease != nullptr) lease->release();
  }
  parts_->pull_log->flush();
  if (parts_->audit_file) parts_->audit_file->catch_up();
}

void App::stop() { parts_->server->stop(); }

const std::optional<std::string>& App::generated_admin_token() const {
  return parts_->generated_admin_token;
}

}  // namespace berth::server
