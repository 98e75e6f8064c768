#pragma once
// berthd's configuration. Sources, later ones winning: built-in defaults, the YAML file
// (--config or BERTH_CONFIG), BERTH_* environment variables, command-line flags.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/server.h"

namespace berth::server {

// berthd's exit status: 0 after a clean stop (and for --help, --version).
inline constexpr int kExitStartupFailure = 1;  // data directory, database, binding, TLS files
inline constexpr int kExitUsage = 2;           // a bad flag or configuration value

struct Config {
  std::vector<std::string> listen{"localhost:5000"};  // HOST:PORT, plain HTTP
  std::vector<std::string> tls_listen;                // HOST:PORT, HTTPS
  std::string tls_certificate;                        // PEM chain for tls_listen
  std::string tls_key;                                // PEM key for tls_listen
  std::filesystem::path data_dir{"./berth-data"};
  // Backends (server/backends.h): "sqlite" or a PostgreSQL URI; "filesystem" or "azure" (the
  // container, and a file with the account's connection string unless
  // BERTH_AZURE_STORAGE_CONNECTION_STRING holds it).
  std::string metadata{"sqlite"};
  std::size_t metadata_max_connections = 16;  // PostgreSQL connections per node
  std::string storage{"filesystem"};
  std::string azure_container;
  std::filesystem::path azure_connection_string_file;
  std::string domain{"registry.local"};               // login servers are <registry>.<domain>
  std::string default_registry{"default"};            // answers hosts outside the domain
  // "NAME=[HOST:]PORT": an extra plain HTTP listener whose /v2/ requests all go to registry
  // NAME, whatever their Host header. A bare PORT listens on localhost.
  std::vector<std::string> registry_listeners;
  std::string log_format{"text"};                     // text | json
  std::string log_level{"info"};                      // trace|debug|info|warn|error|off
  std::string port_file;                              // written with the first bound port
  unsigned threads = 0;                               // 0: one per core
  std::chrono::seconds header_timeout{30};
  std::chrono::seconds idle_timeout{120};
  std::chrono::seconds shutdown_deadline{10};
  // Slow request bodies: at least min_body_rate bytes/s over each body_rate_window of waiting.
  std::uint64_t min_body_rate = 1024;  // 0 disables the check
  std::chrono::seconds body_rate_window{30};
  std::chrono::seconds body_read_timeout{60};          // with no request body byte arriving
  // Upload sessions: removed after this long without a request, at most this many open per
  // registry, and swept (expired sessions, orphaned bytes) this often.
  std::chrono::seconds upload_idle_timeout{24 * 60 * 60};
  std::uint64_t max_open_uploads_per_registry = 1000;
  std::chrono::seconds upload_sweep_interval{10 * 60};
  // Access control: proxies (addresses or CIDR ranges) whose X-Forwarded-For is believed;
  // how long the token service's access tokens last; a factor on every tier's request rate
  // limits (0 turns rate limiting off).
  std::vector<std::string> trusted_proxies;
  std::chrono::seconds access_token_lifetime{300};
  double rate_limit_scale = 1.0;
  // Webhook delivery (docs/events.md): deliveries at once, one attempt's timeout, how long an
  // event is retried, the retry delays, how often due webhooks are looked for, and whether
  // service URIs may point at link-local (cloud metadata) addresses.
  unsigned webhook_workers = 8;
  std::chrono::seconds webhook_timeout{10};
  std::chrono::seconds webhook_retry_for{24 * 60 * 60};
  std::chrono::milliseconds webhook_backoff_min{1000};
  std::chrono::milliseconds webhook_backoff_max{300'000};
  std::chrono::milliseconds webhook_poll_interval{250};
  // How long a node's claim on a webhook lasts without renewal: after a crash, another node (or
  // the restarted one) carries on once it has expired.
  std::chrono::seconds webhook_lease{60};
  bool webhook_allow_link_local = false;
  // Repository events (the audit log) are kept this long; events a webhook still waits for are
  // kept until it has handled them.
  std::chrono::seconds event_retention{90 * 24 * 60 * 60};
  // Every repository event as a JSON line appended here, for log shippers; empty: none.
  std::string audit_log_file;
  // Garbage collection (docs/garbage-collection.md): deployment-wide runs this often (0: only
  // on demand), and how long anything a client used stays safe from collection.
  std::chrono::seconds gc_interval{24 * 60 * 60};
  std::chrono::seconds gc_grace_period{60 * 60};
  // Items per page (one short transaction each), and a pause after each page (0: none).
  std::uint64_t gc_page_size = 1000;
  std::chrono::milliseconds gc_page_pause{0};
  // Content lifecycle (docs/lifecycle.md): how often soft-deleted content expires, retention
  // policies apply and purge schedules are checked (0: never).
  std::chrono::seconds lifecycle_interval{60};
  // Upstream registries (imports, cache rules; docs/import-and-cache.md): the ones spoken to
  // over plain HTTP ("host:port", like the clients' insecure registries; every other upstream
  // is https, verified), and the CA certificates (PEM) https upstreams are verified against
  // (empty: the system's).
  std::vector<std::string> insecure_upstreams;
  std::string upstream_ca_bundle;
  // Build runs (docs/tasks.md): how many this node runs at once (each registry's tier limits
  // it further), and the network their steps get: "none" (the default: a RUN or cmd step
  // reaches no network) or "host".
  unsigned task_concurrency = 2;
  std::string task_network = "none";
  // A file holding the token that clients other than loopback ones scrape GET /metrics with
  // (Bearer). Empty: only loopback clients may scrape.
  std::string metrics_token_file;
};

// `berthd migrate --from-data-dir DIR` (server/migrate.h): the source; the destination is the
// rest of the configuration (--metadata, --storage, --azure-container, --data-dir ...).
struct MigrateCommand {
  std::filesystem::path from_data_dir;
  unsigned parallel_copies = 4;  // blobs copied at once
};

// The outcome of reading the command line: run with `config` (the server, or the migration
// when `migrate` is set), or exit with `exit_code` (after --help/--version, or a usage error
// already printed).
struct ConfigOutcome {
  std::optional<Config> config;
  int exit_code = 0;
  std::optional<MigrateCommand> migrate;
};

// Reads flags, the environment and the YAML file. Prints --help/--version output or a one-line
// error itself.
ConfigOutcome load_config(int argc, char** argv);

// Loads the YAML file into `config` (only the keys present). Throws std::runtime_error with a
// one-line reason.
void apply_yaml_file(Config& config, const std::filesystem::path& file);

// Applies BERTH_* variables found through `getenv` to `config`. Throws on malformed values.
void apply_environment(Config& config, const char* (*getenv)(const char*));

struct RegistryListener {
  std::string registry;
  http::Listener listener;  // its name is registry_listener_name(registry)
};

// Parses config.registry_listeners. Throws std::runtime_error on a malformed entry or a
// registry name the management API would refuse.
std::vector<RegistryListener> registry_listeners(const Config& config);

// The http::Listener::name of the listener dedicated to `registry`.
std::string registry_listener_name(std::string_view registry);

// Translates the listen addresses and timeouts into server options: the plain listeners, then
// the TLS ones, then the registry listeners, in configuration order. Throws std::runtime_error
// on a malformed address or a TLS listener without certificate and key.
http::ServerOptions server_options(const Config& config);

// Checks every value that can be checked without touching the machine (choices, the domain and
// registry names with the management API's rules, listen addresses). Throws std::runtime_error
// with a one-line reason.
void validate(const Config& config);

}  // namespace berth::server
