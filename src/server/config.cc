#include "server/config.h"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cstdlib>
#include <iostream>
#include <stdexcept>

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

void read_list(const YAML::Node& node, const char* key, std::vector<std::string>& out) {
  if (!node || !node[key]) return;
  const YAML::Node& value = node[key];
  out = value.IsSequence() ? value.as<std::vector<std::string>>()
                           : std::vector<std::string>{value.as<std::string>()};
}

void validate(const Config& config) {
  check_choice(config.log_format, {"text", "json"}, "log format");
  check_choice(config.log_level, {"trace", "debug", "info", "warn", "error", "off"}, "log level");
  if (config.upload_idle_timeout.count() <= 0) {
    throw std::runtime_error("the upload idle timeout must be at least one second");
  }
  if (config.upload_sweep_interval.count() <= 0) {
    throw std::runtime_error("the upload sweep interval must be at least one second");
  }
  if (config.max_open_uploads_per_registry == 0) {
    throw std::runtime_error("the open upload limit per registry must be at least 1");
  }
  if (config.listen.empty() && config.tls_listen.empty()) {
    throw std::runtime_error("no listen address configured");
  }
}

}  // namespace

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
    read_key(root, "domain", config.domain);
    read_key(root, "default_registry", config.default_registry);
    read_key(root["log"], "format", config.log_format);
    read_key(root["log"], "level", config.log_level);
    read_list(root["tls"], "listen", config.tls_listen);
    read_key(root["tls"], "certificate", config.tls_certificate);
    read_key(root["tls"], "key", config.tls_key);
    read_key(root["http"], "threads", config.threads);
    read_seconds(root["http"], "header_timeout_seconds", config.header_timeout);
    read_seconds(root["http"], "idle_timeout_seconds", config.idle_timeout);
    read_seconds(root["http"], "shutdown_deadline_seconds", config.shutdown_deadline);
    read_seconds(root["http"], "body_read_timeout_seconds", config.body_read_timeout);
    read_seconds(root["uploads"], "idle_timeout_seconds", config.upload_idle_timeout);
    read_key(root["uploads"], "max_open_per_registry", config.max_open_uploads_per_registry);
    read_seconds(root["uploads"], "sweep_interval_seconds", config.upload_sweep_interval);
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
  if (auto v = value("BERTH_DOMAIN")) config.domain = *v;
  if (auto v = value("BERTH_DEFAULT_REGISTRY")) config.default_registry = *v;
  if (auto v = value("BERTH_LOG_FORMAT")) config.log_format = *v;
  if (auto v = value("BERTH_LOG_LEVEL")) config.log_level = *v;
  if (auto v = value("BERTH_THREADS")) config.threads = parse_unsigned(*v, "BERTH_THREADS");
  if (auto v = value("BERTH_UPLOAD_IDLE_TIMEOUT_SECONDS")) {
    config.upload_idle_timeout =
        std::chrono::seconds(parse_unsigned(*v, "BERTH_UPLOAD_IDLE_TIMEOUT_SECONDS"));
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
  options.threads = config.threads;
  options.header_timeout = config.header_timeout;
  options.idle_timeout = config.idle_timeout;
  options.shutdown_deadline = config.shutdown_deadline;
  options.body_read_timeout = config.body_read_timeout;
  return options;
}

ConfigOutcome load_config(int argc, char** argv) {
  CLI::App app{"berthd: an OCI container registry server", "berthd"};
  app.set_version_flag("--version", std::string("berthd ") + BERTH_VERSION);

  std::string config_file;
  std::vector<std::string> listen, tls_listen;
  std::string data_dir, log_format, log_level, tls_certificate, tls_key, port_file;
  std::string domain, default_registry;
  std::optional<unsigned> threads;
  app.add_option("--config", config_file, "YAML configuration file (env BERTH_CONFIG)");
  app.add_option("--listen", listen,
                 "HOST:PORT to serve plain HTTP on; repeatable (default localhost:5000)");
  app.add_option("--tls-listen", tls_listen, "HOST:PORT to serve HTTPS on; repeatable");
  app.add_option("--tls-certificate", tls_certificate, "PEM certificate chain for HTTPS");
  app.add_option("--tls-key", tls_key, "PEM private key for HTTPS");
  app.add_option("--data-dir", data_dir, "data directory (default ./berth-data)");
  app.add_option("--domain", domain,
                 "DNS domain of login servers: <registry>.<domain> (default registry.local)");
  app.add_option("--default-registry", default_registry,
                 "registry that answers hosts outside the domain (default 'default')");
  app.add_option("--log-format", log_format, "text or json (default text)");
  app.add_option("--log-level", log_level,
                 "trace, debug, info, warn, error or off (default info)");
  app.add_option("--port-file", port_file, "write the first bound port to this file");
  app.add_option("--threads", threads, "worker threads (default: one per core)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return {std::nullopt, app.exit(e)};
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
    if (!domain.empty()) config.domain = domain;
    if (!default_registry.empty()) config.default_registry = default_registry;
    if (!log_format.empty()) config.log_format = log_format;
    if (!log_level.empty()) config.log_level = log_level;
    if (!port_file.empty()) config.port_file = port_file;
    if (threads) config.threads = *threads;
    validate(config);
  } catch (const std::exception& e) {
    std::cerr << "berthd: " << e.what() << '\n';
    return {std::nullopt, 2};
  }
  return {std::move(config), 0};
}

}  // namespace berth::server
