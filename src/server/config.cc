#include "server/config.h"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cstdlib>
#include <iostream>
#include <stdexcept>

#include "auth/network_policy.h"
#include "registry/tenants.h"
#include "upstream/rules.h"
#include "server/backends.h"
#include "server/migrate.h"

namespace berth::server {
namespace {

std::vector<std::string> split_list(std::string_view text) {
  std::vector<std::string> items;
  while (!text.empty()) {
    auto comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    if (!item.empty()) items.emplace_back(item);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return items;
}

std::uint64_t parse_u64(std::string_view text, std::string_view what) {
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    throw std::runtime_error(fmt::format("{} must be a non-negative integer, not '{}'", what, text));
  }
  return value;
}

double parse_double(std::string_view text, std::string_view what) {
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    throw std::runtime_error(fmt::format("{} must be a number, not '{}'", what, text));
  }
  return value;
}

unsigned parse_unsigned(std::string_view text, std::string_view what) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    throw std::runtime_error(fmt::format("{} must be a non-negative integer, not '{}'", what, text));
  }
  return value;
}

void check_choice(const std::string& value, std::initializer_list<std::string_view> choices,
                  std::string_view what) {
  for (auto choice : choices) {
    if (value == choice) return;
  }
  throw std::runtime_error(fmt::format("{} '{}' is not one of: {}", what, value,
                                       fmt::join(choices, ", ")));
}

http::Listener parse_listener(const std::string& address) {
  // "HOST:PORT", "[IPv6]:PORT" or ":PORT" (all interfaces).
  auto colon = address.rfind(':');
  if (colon == std::string::npos) {
    throw std::runtime_error(fmt::format("listen address '{}' is not HOST:PORT", address));
  }
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty()) host = "0.0.0.0";
  unsigned port = parse_unsigned(std::string_view(address).substr(colon + 1), "listen port");
  if (port > 65535) throw std::runtime_error(fmt::format("listen port {} is over 65535", port));
  http::Listener listener;
  listener.host = host;
  listener.port = static_cast<std::uint16_t>(port);
  return listener;
}

template <class T>
void read_key(const YAML::Node& node, const char* key, T& out) {
  if (node && node[key]) out = node[key].template as<T>();
}

void read_seconds(const YAML::Node& node, const char* key, std::chrono::seconds& out) {
  if (node && node[key]) out = std::chrono::seconds(node[key].as<unsigned>());
}

void read_milliseconds(const YAML::Node& node, const char* key, std::chrono::milliseconds& out) {
  if (node && node[key]) out = std::chrono::milliseconds(node[key].as<unsigned>());
}

void read_list(const YAML::Node& node, const char* key, std::vector<std::string>& out) {
  if (!node || !node[key]) return;
  const YAML::Node& value = node[key];
  out = value.IsSequence() ? value.as<std::vector<std::string>>()
                           : std::vector<std::string>{value.as<std::string>()};
}

// "[HOST:]PORT": a bare port listens on localhost, since the point of a registry listener is
// reaching a named registry from the same machine.
http::Listener parse_registry_listener_address(const std::string& address) {
  if (address.find(':') != std::string::npos) return parse_listener(address);
  return parse_listener("localhost:" + address);
}

// Turns a failed name or domain rule into the one-line start-up error, after `setting` when the
// rule's message does not say which setting it is about.
void require(const registry::TenantResult<void>& valid, std::string_view setting = {}) {
  if (valid) return;
  if (setting.empty()) throw std::runtime_error(valid.error().message);
  throw std::runtime_error(fmt::format("{}: {}", setting, valid.error().message));
}

}  // namespace

std::string registry_listener_name(std::string_view registry) {
  return "registry:" + std::string(registry);
}

std::vector<RegistryListener> registry_listeners(const Config& config) {
  std::vector<RegistryListener> parsed;
  for (const auto& entry : config.registry_listeners) {
    auto equals = entry.find('=');
    if (equals == std::string::npos) {
      throw std::runtime_error(
          fmt::format("registry listener '{}' is not NAME=[HOST:]PORT", entry));
    }
    RegistryListener item;
    item.registry = entry.substr(0, equals);
    require(registry::Tenants::validate_name(item.registry),
            fmt::format("registry listener '{}'", entry));
    item.listener = parse_registry_listener_address(entry.substr(equals + 1));
    item.listener.name = registry_listener_name(item.registry);
    parsed.push_back(std::move(item));
  }
  return parsed;
}

void validate(const Config& config) {
  validate_backends(config);
  check_choice(config.log_format, {"text", "json"}, "log format");
  check_choice(config.log_level, {"trace", "debug", "info", "warn", "error", "off"}, "log level");
  require(registry::Tenants::validate_domain(config.domain));
  require(registry::Tenants::validate_name(config.default_registry), "default registry");
  if (config.listen.empty() && config.tls_listen.empty() && config.registry_listeners.empty()) {
    throw std::runtime_error("no listen address configured");
  }
  if (config.min_body_rate > 0 && config.body_rate_window.count() == 0) {
    throw std::runtime_error("the body rate window must be at least 1 second");
  }
  if (config.upload_idle_timeout.count() <= 0) {
    throw std::runtime_error("the upload idle timeout must be at least one second");
  }
  if (config.upload_sweep_interval.count() <= 0) {
    throw std::runtime_error("the upload sweep interval must be at least one second");
  }
  if (config.max_open_uploads_per_registry == 0) {
    throw std::runtime_error("the open upload limit per registry must be at least 1");
  }
  for (const auto& proxy : config.trusted_proxies) {
    if (!auth::IpRange::parse(proxy)) {
      throw std::runtime_error(fmt::format(
          "trusted proxy '{}' is not an IP address or CIDR range (e.g. 10.0.0.0/8)", proxy));
    }
  }
  for (const auto& upstream : config.insecure_upstreams) {
    if (auto bad = upstream::check_login_server(upstream)) {
      throw std::runtime_error(fmt::format("insecure upstream: {}", *bad));
    }
  }
  if (config.task_network != "none" && config.task_network != "host") {
    throw std::runtime_error("the task network must be none or host");
  }
  if (config.task_concurrency < 1 || config.task_concurrency > 64) {
    throw std::runtime_error("the task concurrency must be 1 to 64");
  }
  if (!config.upstream_ca_bundle.empty() &&
      !std::filesystem::is_regular_file(config.upstream_ca_bundle)) {
    throw std::runtime_error(
        fmt::format("the upstream CA bundle '{}' is not a readable file", config.upstream_ca_bundle));
  }
  if (config.access_token_lifetime.count() < 60 || config.access_token_lifetime.count() > 86400) {
    throw std::runtime_error("the access token lifetime must be 60 to 86400 seconds");
  }
  if (!(config.rate_limit_scale >= 0) || config.rate_limit_scale > 1e6) {
    throw std::runtime_error("the rate limit scale must be a number from 0 to 1000000");
  }
  if (config.webhook_workers == 0 || config.webhook_workers > 256) {
    throw std::runtime_error("webhook workers must be 1 to 256");
  }
  if (config.webhook_timeout.count() < 1 || config.webhook_timeout.count() > 300) {
    throw std::runtime_error("the webhook timeout must be 1 to 300 seconds");
  }
  if (config.webhook_retry_for.count() < 0) {
    throw std::runtime_error("the webhook retry time cannot be negative");
  }
  if (config.webhook_backoff_min.count() < 1 ||
      config.webhook_backoff_max < config.webhook_backoff_min) {
    throw std::runtime_error(
        "webhook backoff: the minimum must be at least 1 ms and not above the maximum");
  }
  if (config.webhook_poll_interval.count() < 1 || config.webhook_poll_interval.count() > 60'000) {
    throw std::runtime_error("the webhook poll interval must be 1 to 60000 ms");
  }
  if (config.webhook_lease.count() < 2 || config.webhook_lease.count() > 3600 ||
      config.webhook_lease <= config.webhook_timeout) {
    throw std::runtime_error(
        "the webhook lease must be 2 to 3600 seconds and longer than the webhook timeout");
  }
  if (config.event_retention.count() < 3600) {
    throw std::runtime_error("events must be kept at least one hour");
  }
  if (config.lifecycle_interval.count() < 0) {
    throw std::runtime_error("the content lifecycle interval cannot be negative");
  }
  if (config.gc_interval.count() < 0) {
    throw std::runtime_error("the garbage collection interval cannot be negative");
  }
  // A client's push (layers, then the manifest) must fit in the grace period; a second is the
  // floor for tests, minutes are what production wants.
  if (config.gc_grace_period.count() < 1) {
    throw std::runtime_error("the garbage collection grace period must be at least 1 second");
  }
  if (config.gc_page_size < 1 || config.gc_page_size > 100'000) {
    throw std::runtime_error("the garbage collection page size must be 1 to 100000");
  }
  if (config.gc_page_pause.count() < 0 || config.gc_page_pause.count() > 60'000) {
    throw std::runtime_error("the garbage collection page pause must be 0 to 60000 ms");
  }
  server_options(config);  // every listen address well-formed, TLS files named
}

void apply_yaml_file(Config& config, const std::filesystem::path& file) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(file.string());
  } catch (const YAML::Exception& e) {
    throw std::runtime_error(fmt::format("cannot read config file {}: {}", file.string(),
                                         e.what()));
  }
  try {
    read_list(root, "listen", config.listen);
    std::string data_dir;
    read_key(root, "data_dir", data_dir);
    if (!data_dir.empty()) config.data_dir = data_dir;
    read_key(root, "metadata", config.metadata);
    read_key(root, "metadata_max_connections", config.metadata_max_connections);
    read_key(root, "storage", config.storage);
    read_key(root, "azure_container", config.azure_container);
    std::string azure_file;
    read_key(root, "azure_connection_string_file", azure_file);
    if (!azure_file.empty()) config.azure_connection_string_file = azure_file;
    read_key(root, "domain", config.domain);
    read_key(root, "default_registry", config.default_registry);
    read_list(root, "registry_listeners", config.registry_listeners);
    read_key(root["log"], "format", config.log_format);
    read_key(root["log"], "level", config.log_level);
    read_list(root["tls"], "listen", config.tls_listen);
    read_key(root["tls"], "certificate", config.tls_certificate);
    read_key(root["tls"], "key", config.tls_key);
    read_key(root["http"], "threads", config.threads);
    read_seconds(root["http"], "header_timeout_seconds", config.header_timeout);
    read_seconds(root["http"], "idle_timeout_seconds", config.idle_timeout);
    read_seconds(root["http"], "shutdown_deadline_seconds", config.shutdown_deadline);
    read_key(root["http"], "min_body_rate_bytes_per_second", config.min_body_rate);
    read_seconds(root["http"], "body_rate_window_seconds", config.body_rate_window);
    read_seconds(root["http"], "body_read_timeout_seconds", config.body_read_timeout);
    read_seconds(root["uploads"], "idle_timeout_seconds", config.upload_idle_timeout);
    read_key(root["uploads"], "max_open_per_registry", config.max_open_uploads_per_registry);
    read_seconds(root["uploads"], "sweep_interval_seconds", config.upload_sweep_interval);
    read_list(root["auth"], "trusted_proxies", config.trusted_proxies);
    read_seconds(root["auth"], "access_token_lifetime_seconds", config.access_token_lifetime);
    read_key(root["rate_limits"], "scale", config.rate_limit_scale);
    read_key(root, "metrics_token_file", config.metrics_token_file);
    read_list(root["upstreams"], "insecure", config.insecure_upstreams);
    read_key(root["upstreams"], "ca_bundle", config.upstream_ca_bundle);
    read_key(root["tasks"], "concurrency", config.task_concurrency);
    read_key(root["tasks"], "network", config.task_network);
    read_key(root["webhooks"], "workers", config.webhook_workers);
    read_seconds(root["webhooks"], "timeout_seconds", config.webhook_timeout);
    read_seconds(root["webhooks"], "retry_for_seconds", config.webhook_retry_for);
    read_milliseconds(root["webhooks"], "backoff_min_ms", config.webhook_backoff_min);
    read_milliseconds(root["webhooks"], "backoff_max_ms", config.webhook_backoff_max);
    read_milliseconds(root["webhooks"], "poll_interval_ms", config.webhook_poll_interval);
    read_key(root["webhooks"], "allow_link_local", config.webhook_allow_link_local);
    read_seconds(root["webhooks"], "lease_seconds", config.webhook_lease);
    read_seconds(root["events"], "retention_seconds", config.event_retention);
    read_key(root["events"], "audit_log_file", config.audit_log_file);
    read_seconds(root["gc"], "interval_seconds", config.gc_interval);
    read_seconds(root["gc"], "grace_period_seconds", config.gc_grace_period);
    read_key(root["gc"], "page_size", config.gc_page_size);
    read_milliseconds(root["gc"], "page_pause_ms", config.gc_page_pause);
    read_seconds(root["lifecycle"], "interval_seconds", config.lifecycle_interval);
  } catch (const YAML::Exception& e) {
    throw std::runtime_error(fmt::format("config file {}: {}", file.string(), e.what()));
  }
}

void apply_environment(Config& config, const char* (*getenv)(const char*)) {
  auto value = [getenv](const char* name) -> std::optional<std::string> {
    const char* text = getenv(name);
    if (text == nullptr || *text == '\0') return std::nullopt;
    return std::string(text);
  };
  if (auto v = value("BERTH_LISTEN")) config.listen = split_list(*v);
  if (auto v = value("BERTH_TLS_LISTEN")) config.tls_listen = split_list(*v);
  if (auto v = value("BERTH_TLS_CERTIFICATE")) config.tls_certificate = *v;
  if (auto v = value("BERTH_TLS_KEY")) config.tls_key = *v;
  if (auto v = value("BERTH_DATA_DIR")) config.data_dir = *v;
  if (auto v = value("BERTH_METADATA")) config.metadata = *v;
  if (auto v = value("BERTH_METADATA_MAX_CONNECTIONS")) {
    config.metadata_max_connections = parse_unsigned(*v, "BERTH_METADATA_MAX_CONNECTIONS");
  }
  if (auto v = value("BERTH_STORAGE")) config.storage = *v;
  if (auto v = value("BERTH_AZURE_CONTAINER")) config.azure_container = *v;
  if (auto v = value("BERTH_AZURE_CONNECTION_STRING_FILE")) {
    config.azure_connection_string_file = *v;
  }
  if (auto v = value("BERTH_DOMAIN")) config.domain = *v;
  if (auto v = value("BERTH_DEFAULT_REGISTRY")) config.default_registry = *v;
  if (auto v = value("BERTH_REGISTRY_LISTENERS")) config.registry_listeners = split_list(*v);
  if (auto v = value("BERTH_LOG_FORMAT")) config.log_format = *v;
  if (auto v = value("BERTH_LOG_LEVEL")) config.log_level = *v;
  if (auto v = value("BERTH_THREADS")) config.threads = parse_unsigned(*v, "BERTH_THREADS");
  if (auto v = value("BERTH_MIN_BODY_RATE")) {
    config.min_body_rate = parse_u64(*v, "BERTH_MIN_BODY_RATE");
  }
  if (auto v = value("BERTH_BODY_RATE_WINDOW")) {
    config.body_rate_window = std::chrono::seconds(parse_unsigned(*v, "BERTH_BODY_RATE_WINDOW"));
  }
  if (auto v = value("BERTH_UPLOAD_IDLE_TIMEOUT_SECONDS")) {
    config.upload_idle_timeout =
        std::chrono::seconds(parse_unsigned(*v, "BERTH_UPLOAD_IDLE_TIMEOUT_SECONDS"));
  }
  if (auto v = value("BERTH_TRUSTED_PROXIES")) config.trusted_proxies = split_list(*v);
  if (auto v = value("BERTH_ACCESS_TOKEN_LIFETIME")) {
    config.access_token_lifetime =
        std::chrono::seconds(parse_unsigned(*v, "BERTH_ACCESS_TOKEN_LIFETIME"));
  }
  if (auto v = value("BERTH_RATE_LIMIT_SCALE")) {
    config.rate_limit_scale = parse_double(*v, "BERTH_RATE_LIMIT_SCALE");
  }
  if (auto v = value("BERTH_METRICS_TOKEN_FILE")) config.metrics_token_file = *v;
  if (auto v = value("BERTH_WEBHOOK_WORKERS")) {
    config.webhook_workers = parse_unsigned(*v, "BERTH_WEBHOOK_WORKERS");
  }
  if (auto v = value("BERTH_WEBHOOK_TIMEOUT_SECONDS")) {
    config.webhook_timeout =
        std::chrono::seconds(parse_unsigned(*v, "BERTH_WEBHOOK_TIMEOUT_SECONDS"));
  }
  if (auto v = value("BERTH_WEBHOOK_RETRY_FOR_SECONDS")) {
    config.webhook_retry_for =
        std::chrono::seconds(parse_unsigned(*v, "BERTH_WEBHOOK_RETRY_FOR_SECONDS"));
  }
  if (auto v = value("BERTH_WEBHOOK_BACKOFF_MIN_MS")) {
    config.webhook_backoff_min =
        std::chrono::milliseconds(parse_unsigned(*v, "BERTH_WEBHOOK_BACKOFF_MIN_MS"));
  }
  if (auto v = value("BERTH_WEBHOOK_BACKOFF_MAX_MS")) {
    config.webhook_backoff_max =
        std::chrono::milliseconds(parse_unsigned(*v, "BERTH_WEBHOOK_BACKOFF_MAX_MS"));
  }
  if (auto v = value("BERTH_WEBHOOK_POLL_INTERVAL_MS")) {
    config.webhook_poll_interval =
        std::chrono::milliseconds(parse_unsigned(*v, "BERTH_WEBHOOK_POLL_INTERVAL_MS"));
  }
  if (auto v = value("BERTH_WEBHOOK_LEASE_SECONDS")) {
    config.webhook_lease = std::chrono::seconds(parse_unsigned(*v, "BERTH_WEBHOOK_LEASE_SECONDS"));
  }
  if (auto v = value("BERTH_WEBHOOK_ALLOW_LINK_LOCAL")) {
    if (*v != "true" && *v != "false") {
      throw std::runtime_error("BERTH_WEBHOOK_ALLOW_LINK_LOCAL must be true or false");
    }
    config.webhook_allow_link_local = *v == "true";
  }
  if (auto v = value("BERTH_AUDIT_LOG_FILE")) config.audit_log_file = *v;
  if (auto v = value("BERTH_UPSTREAM_CA_BUNDLE")) config.upstream_ca_bundle = *v;
  if (auto v = value("BERTH_INSECURE_UPSTREAMS")) config.insecure_upstreams = split_list(*v);
  if (auto v = value("BERTH_TASK_NETWORK")) config.task_network = *v;
  if (auto v = value("BERTH_EVENT_RETENTION_SECONDS")) {
    config.event_retention =
        std::chrono::seconds(parse_unsigned(*v, "BERTH_EVENT_RETENTION_SECONDS"));
  }
  if (auto v = value("BERTH_GC_INTERVAL_SECONDS")) {
    config.gc_interval = std::chrono::seconds(parse_unsigned(*v, "BERTH_GC_INTERVAL_SECONDS"));
  }
  if (auto v = value("BERTH_LIFECYCLE_INTERVAL_SECONDS")) {
    config.lifecycle_interval =
        std::chrono::seconds(parse_unsigned(*v, "BERTH_LIFECYCLE_INTERVAL_SECONDS"));
  }
  if (auto v = value("BERTH_GC_PAGE_SIZE")) {
    config.gc_page_size = parse_unsigned(*v, "BERTH_GC_PAGE_SIZE");
  }
  if (auto v = value("BERTH_GC_PAGE_PAUSE_MS")) {
    config.gc_page_pause = std::chrono::milliseconds(parse_unsigned(*v, "BERTH_GC_PAGE_PAUSE_MS"));
  }
  if (auto v = value("BERTH_GC_GRACE_PERIOD_SECONDS")) {
    config.gc_grace_period =
        std::chrono::seconds(parse_unsigned(*v, "BERTH_GC_GRACE_PERIOD_SECONDS"));
  }
  if (auto v = value("BERTH_MAX_OPEN_UPLOADS_PER_REGISTRY")) {
    config.max_open_uploads_per_registry =
        parse_unsigned(*v, "BERTH_MAX_OPEN_UPLOADS_PER_REGISTRY");
  }
}

http::ServerOptions server_options(const Config& config) {
  http::ServerOptions options;
  for (const auto& address : config.listen) options.listeners.push_back(parse_listener(address));
  if (!config.tls_listen.empty() &&
      (config.tls_certificate.empty() || config.tls_key.empty())) {
    throw std::runtime_error("a TLS listener needs --tls-certificate and --tls-key");
  }
  for (const auto& address : config.tls_listen) {
    http::Listener listener = parse_listener(address);
    listener.tls = http::TlsFiles{config.tls_certificate, config.tls_key};
    options.listeners.push_back(std::move(listener));
  }
  for (auto& registry_listener : registry_listeners(config)) {
    options.listeners.push_back(std::move(registry_listener.listener));
  }
  options.threads = config.threads;
  options.header_timeout = config.header_timeout;
  options.idle_timeout = config.idle_timeout;
  options.shutdown_deadline = config.shutdown_deadline;
  options.min_body_rate = config.min_body_rate;
  options.body_rate_window = config.body_rate_window;
  options.body_read_timeout = config.body_read_timeout;
  return options;
}

namespace {

// What --help says after the flags: what has no flag, and what a first start does.
constexpr std::string_view kHelpFooter = R"(
Each flag except --port-file has an environment variable (BERTH_LISTEN, BERTH_TLS_LISTEN,
BERTH_TLS_CERTIFICATE, BERTH_TLS_KEY, BERTH_DATA_DIR, BERTH_METADATA, BERTH_STORAGE,
BERTH_AZURE_CONTAINER, BERTH_AZURE_CONNECTION_STRING_FILE, BERTH_DOMAIN, BERTH_DEFAULT_REGISTRY,
BERTH_REGISTRY_LISTENERS, BERTH_LOG_FORMAT, BERTH_LOG_LEVEL, BERTH_THREADS,
BERTH_TRUSTED_PROXIES, BERTH_ACCESS_TOKEN_LIFETIME, BERTH_RATE_LIMIT_SCALE,
BERTH_METRICS_TOKEN_FILE, BERTH_AUDIT_LOG_FILE, BERTH_INSECURE_UPSTREAMS,
BERTH_UPSTREAM_CA_BUNDLE; lists comma-separated) and a YAML key (docs/configuration.md). Flags
win over variables, variables over the YAML file. Webhook delivery and event retention are set
by variables and YAML keys only (BERTH_WEBHOOK_WORKERS, BERTH_WEBHOOK_TIMEOUT_SECONDS,
BERTH_WEBHOOK_RETRY_FOR_SECONDS, BERTH_WEBHOOK_BACKOFF_MIN_MS, BERTH_WEBHOOK_BACKOFF_MAX_MS,
BERTH_WEBHOOK_POLL_INTERVAL_MS, BERTH_WEBHOOK_LEASE_SECONDS, BERTH_WEBHOOK_ALLOW_LINK_LOCAL,
BERTH_EVENT_RETENTION_SECONDS).

Administrator token: the first start of a data directory creates the token of the management
API (/mgmt/v1/) and prints it ONCE on standard output; only its hash is kept, in
<data-dir>/admin-token.sha256. BERTH_INITIAL_ADMIN_TOKEN (16 or more printable characters)
chooses it instead. Lost it? Stop berthd, delete that file, start again: a new token is made
(registries and their content stay).

Exit status: 0 stopped cleanly; 1 start-up failed (data directory, database, a listener that
cannot be bound, TLS files); 2 a bad flag or configuration value.

berthd migrate --from-data-dir DIR moves a stopped embedded deployment to PostgreSQL and Azure
Blob Storage: see berthd migrate --help.)";

// What `berthd migrate --help` says after its flags.
constexpr std::string_view kMigrateHelpFooter = R"(
Copies every registry, repository, manifest, tag, blob, identity and setting of the data
directory DIR (its berthd stopped) to the destination named by the usual backend settings, as
flags (before or after `migrate`), BERTH_* variables or YAML keys:
  --metadata postgresql://user@host:port/database   (required: PostgreSQL; the password from
                                                     PGPASSWORD, ~/.pgpass or the URI)
  --storage azure --azure-container NAME            (the connection string from
                                                     BERTH_AZURE_STORAGE_CONNECTION_STRING or
                                                     --azure-connection-string-file), or
  --storage filesystem --data-dir DEST              (DEST may be DIR itself: blobs stay put)
The destination database must be new and empty. Every blob is verified on arrival; the
metadata is written in one transaction. Interrupted, the same command continues where it
stopped; run again after success, it reports that the destination is already this copy.
At the end it says how to give every node the deployment key (never printing it).

Exit status: 0 migrated (or already was); 1 failed (the reason on stderr); 2 a bad flag or
setting (e.g. a destination that is not PostgreSQL).)";

}  // namespace

ConfigOutcome load_config(int argc, char** argv) {
  CLI::App app{"berthd: an OCI container registry server", "berthd"};
  app.set_version_flag("--version", std::string("berthd ") + BERTH_VERSION);
  app.footer(std::string(kHelpFooter));

  std::string config_file;
  std::vector<std::string> listen, tls_listen, registry_listener;
  std::string data_dir, log_format, log_level, tls_certificate, tls_key, port_file;
  std::string metrics_token_file, audit_log_file;
  std::string metadata, storage, azure_container, azure_connection_string_file;
  std::optional<std::string> domain, default_registry;
  std::optional<unsigned> threads;
  std::optional<std::uint64_t> min_body_rate;
  std::optional<unsigned> body_rate_window;
  std::vector<std::string> trusted_proxies, insecure_upstreams;
  std::string upstream_ca_bundle, task_network;
  std::optional<unsigned> task_concurrency;
  std::optional<unsigned> access_token_lifetime;
  std::optional<double> rate_limit_scale;
  app.add_option("--config", config_file, "YAML configuration file (env BERTH_CONFIG)");
  app.add_option("--listen", listen,
                 "HOST:PORT to serve plain HTTP on; repeatable (default localhost:5000)");
  app.add_option("--tls-listen", tls_listen, "HOST:PORT to serve HTTPS on; repeatable");
  app.add_option("--tls-certificate", tls_certificate, "PEM certificate chain for HTTPS");
  app.add_option("--tls-key", tls_key, "PEM private key for HTTPS");
  app.add_option("--data-dir", data_dir, "data directory (default ./berth-data)");
  app.add_option("--metadata", metadata,
                 "metadata database: sqlite (in the data directory) or a PostgreSQL URI, "
                 "postgresql://user@host:port/db (password from PGPASSWORD, ~/.pgpass or the "
                 "URI) (default sqlite)");
  app.add_option("--storage", storage,
                 "blob storage: filesystem (in the data directory) or azure (default "
                 "filesystem)");
  app.add_option("--azure-container", azure_container,
                 "Azure Blob Storage container for --storage azure (created when missing)");
  app.add_option("--azure-connection-string-file", azure_connection_string_file,
                 "file holding the storage account's connection string (else "
                 "BERTH_AZURE_STORAGE_CONNECTION_STRING)");
  app.add_option("--domain", domain,
                 "DNS domain of login servers: <registry>.<domain> (default registry.local)");
  app.add_option("--default-registry", default_registry,
                 "registry that answers hosts outside the domain, created at start-up when "
                 "missing (default 'default')");
  app.add_option("--registry-listener", registry_listener,
                 "NAME=[HOST:]PORT: also serve plain HTTP there, every /v2/ request going to "
                 "registry NAME whatever its Host (a bare PORT listens on localhost); "
                 "repeatable");
  app.add_option("--log-format", log_format, "text or json (default text)");
  app.add_option("--log-level", log_level,
                 "trace, debug, info, warn, error or off (default info)");
  app.add_option("--port-file", port_file, "write the first bound port to this file");
  app.add_option("--threads", threads, "worker threads (default: one per core)");
  app.add_option("--min-body-rate", min_body_rate,
                 "slowest request body accepted, in bytes/s averaged over the window; 0 disables "
                 "(default 1024)");
  app.add_option("--body-rate-window", body_rate_window,
                 "seconds of waiting on a request body over which --min-body-rate is measured "
                 "(default 30)");

  app.add_option("--trusted-proxy", trusted_proxies,
                 "address or CIDR range of a proxy whose X-Forwarded-For is believed; "
                 "repeatable (default: none, the TCP peer is the client)");
  app.add_option("--access-token-lifetime", access_token_lifetime,
                 "seconds the token service's access tokens last, 60-86400 (default 300)");
  app.add_option("--rate-limit-scale", rate_limit_scale,
                 "factor on every tier's request rate limits; 0 turns them off (default 1)");
  app.add_option("--metrics-token-file", metrics_token_file,
                 "file holding the token (Bearer) that clients other than loopback ones scrape "
                 "/metrics with (default: none, loopback clients only)");

  app.add_option("--insecure-upstream", insecure_upstreams,
                 "HOST:PORT of an upstream registry (imports, cache rules) spoken to over plain "
                 "HTTP; repeatable (default: none, every upstream is https, verified)");
  app.add_option("--upstream-ca-bundle", upstream_ca_bundle,
                 "PEM file of the CA certificates https upstreams are verified against (default: "
                 "the system's)");
  app.add_option("--task-concurrency", task_concurrency,
                 "build runs this node runs at once (default 2; each registry's tier limits "
                 "its own further)");
  app.add_option("--task-network", task_network,
                 "the network of build steps: none (default) or host");

  MigrateCommand migrate_command;
  CLI::App* migrate = app.add_subcommand(
      "migrate", "copy a stopped embedded data directory to PostgreSQL and Azure Blob Storage "
                 "(docs/migration.md)");
  migrate->add_option("--from-data-dir", migrate_command.from_data_dir,
                      "the data directory to copy (its berthd stopped)")
      ->required();
  migrate->add_option("--parallel", migrate_command.parallel_copies,
                      "blobs copied at once, 1-64 (default 4)");
  migrate->footer(std::string(kMigrateHelpFooter));
  migrate->fallthrough();  // the destination's flags are berthd's own

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11 prints the help, the version or the error; its own codes for errors (109 for an
    // unknown flag, ...) become the one documented usage status.
    int code = app.exit(e);
    return {std::nullopt, code == 0 ? 0 : kExitUsage};
  }

  Config config;
  try {
    if (config_file.empty()) {
      if (const char* from_env = std::getenv("BERTH_CONFIG")) config_file = from_env;
    }
    if (!config_file.empty()) apply_yaml_file(config, config_file);
    apply_environment(config, [](const char* name) -> const char* { return std::getenv(name); });
    if (!listen.empty()) config.listen = listen;
    if (!tls_listen.empty()) config.tls_listen = tls_listen;
    if (!tls_certificate.empty()) config.tls_certificate = tls_certificate;
    if (!tls_key.empty()) config.tls_key = tls_key;
    if (!data_dir.empty()) config.data_dir = data_dir;
    if (!metadata.empty()) config.metadata = metadata;
    if (!storage.empty()) config.storage = storage;
    if (!azure_container.empty()) config.azure_container = azure_container;
    if (!azure_connection_string_file.empty()) {
      config.azure_connection_string_file = azure_connection_string_file;
    }
    if (domain) config.domain = *domain;
    if (default_registry) config.default_registry = *default_registry;
    if (!registry_listener.empty()) config.registry_listeners = registry_listener;
    if (!log_format.empty()) config.log_format = log_format;
    if (!log_level.empty()) config.log_level = log_level;
    if (!port_file.empty()) config.port_file = port_file;
    if (threads) config.threads = *threads;
    if (min_body_rate) config.min_body_rate = *min_body_rate;
    if (body_rate_window) config.body_rate_window = std::chrono::seconds(*body_rate_window);
    if (!trusted_proxies.empty()) config.trusted_proxies = trusted_proxies;
    if (access_token_lifetime) {
      config.access_token_lifetime = std::chrono::seconds(*access_token_lifetime);
    }
    if (rate_limit_scale) config.rate_limit_scale = *rate_limit_scale;
    if (!metrics_token_file.empty()) config.metrics_token_file = metrics_token_file;
    if (!audit_log_file.empty()) config.audit_log_file = audit_log_file;
    if (!insecure_upstreams.empty()) config.insecure_upstreams = insecure_upstreams;
    if (!upstream_ca_bundle.empty()) config.upstream_ca_bundle = upstream_ca_bundle;
    if (task_concurrency) config.task_concurrency = *task_concurrency;
    if (!task_network.empty()) config.task_network = task_network;
    if (migrate->parsed()) {
      validate_migration(config, migrate_command);
      return {std::move(config), 0, migrate_command};
    }
    validate(config);
  } catch (const std::exception& e) {
    std::cerr << (migrate->parsed() ? "berthd migrate: " : "berthd: ") << e.what() << '\n';
    return {std::nullopt, kExitUsage};
  }
  return {std::move(config), 0};
}

}  // namespace berth::server
