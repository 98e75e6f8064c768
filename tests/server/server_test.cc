// berthd's configuration and start-up checks.

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <fstream>

#include "server/app.h"
#include "server/config.h"
#include "support/app_fixture.h"

namespace berth::testing {
namespace {

using server::Config;

void write_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
}

TEST(Config, DefaultsMatchTheDocumentation) {
  Config config;
  EXPECT_EQ(config.listen, std::vector<std::string>{"localhost:5000"});
  EXPECT_EQ(config.data_dir, "./berth-data");
  EXPECT_EQ(config.log_format, "text");
  EXPECT_EQ(config.log_level, "info");
}

TEST(Config, YamlFileSetsEveryKey) {
  TempDir dir;
  write_file(dir.path() / "berth.yml", R"(
listen: ["127.0.0.1:6000", "127.0.0.1:6001"]
data_dir: /var/lib/berth
log: {format: json, level: debug}
tls: {listen: [":6443"], certificate: /c.pem, key: /k.pem}
http: {threads: 3, header_timeout_seconds: 5, idle_timeout_seconds: 6, shutdown_deadline_seconds: 7}
)");
  Config config;
  server::apply_yaml_file(config, dir.path() / "berth.yml");
  EXPECT_EQ(config.listen, (std::vector<std::string>{"127.0.0.1:6000", "127.0.0.1:6001"}));
  EXPECT_EQ(config.data_dir, "/var/lib/berth");
  EXPECT_EQ(config.log_format, "json");
  EXPECT_EQ(config.log_level, "debug");
  EXPECT_EQ(config.tls_listen, std::vector<std::string>{":6443"});
  EXPECT_EQ(config.tls_certificate, "/c.pem");
  EXPECT_EQ(config.threads, 3u);
  EXPECT_EQ(config.header_timeout.count(), 5);
  EXPECT_EQ(config.idle_timeout.count(), 6);
  EXPECT_EQ(config.shutdown_deadline.count(), 7);
}

TEST(Config, UploadSettingsHaveDocumentedDefaultsAndCanBeSet) {
  Config defaults;
  EXPECT_EQ(defaults.upload_idle_timeout.count(), 24 * 60 * 60);
  EXPECT_EQ(defaults.max_open_uploads_per_registry, 1000u);
  EXPECT_EQ(defaults.upload_sweep_interval.count(), 600);
  EXPECT_EQ(defaults.body_read_timeout.count(), 60);

  TempDir dir;
  write_file(dir.path() / "berth.yml", R"(
http: {body_read_timeout_seconds: 9}
uploads: {idle_timeout_seconds: 3600, max_open_per_registry: 50, sweep_interval_seconds: 30}
)");
  Config config;
  server::apply_yaml_file(config, dir.path() / "berth.yml");
  EXPECT_EQ(config.upload_idle_timeout.count(), 3600);
  EXPECT_EQ(config.max_open_uploads_per_registry, 50u);
  EXPECT_EQ(config.upload_sweep_interval.count(), 30);
  EXPECT_EQ(config.body_read_timeout.count(), 9);
  EXPECT_EQ(server::server_options(config).body_read_timeout.count(), 9);

  server::apply_environment(config, [](const char* name) -> const char* {
    std::string_view n(name);
    if (n == "BERTH_UPLOAD_IDLE_TIMEOUT_SECONDS") return "120";
    if (n == "BERTH_MAX_OPEN_UPLOADS_PER_REGISTRY") return "7";
    return nullptr;
  });
  EXPECT_EQ(config.upload_idle_timeout.count(), 120);
  EXPECT_EQ(config.max_open_uploads_per_registry, 7u);
}

TEST(Config, MalformedYamlIsAOneLineError) {
  TempDir dir;
  write_file(dir.path() / "bad.yml", "listen: [unterminated\n");
  Config config;
  try {
    server::apply_yaml_file(config, dir.path() / "bad.yml");
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.yml"), std::string::npos);
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
  }
  EXPECT_THROW(server::apply_yaml_file(config, dir.path() / "missing.yml"), std::runtime_error);
}

const char* fake_env(const char* name) {
  std::string_view n(name);
  if (n == "BERTH_LISTEN") return "127.0.0.1:7000,127.0.0.1:7001";
  if (n == "BERTH_DATA_DIR") return "/srv/berth";
  if (n == "BERTH_LOG_LEVEL") return "warn";
  if (n == "BERTH_THREADS") return "4";
  return nullptr;
}

TEST(Config, EnvironmentOverridesTheFile) {
  Config config;
  config.data_dir = "/from/file";
  server::apply_environment(config, fake_env);
  EXPECT_EQ(config.listen, (std::vector<std::string>{"127.0.0.1:7000", "127.0.0.1:7001"}));
  EXPECT_EQ(config.data_dir, "/srv/berth");
  EXPECT_EQ(config.log_level, "warn");
  EXPECT_EQ(config.threads, 4u);
}

TEST(Config, ListenAddressesBecomeListeners) {
  Config config;
  config.listen = {"127.0.0.1:5000", "[::1]:5001", ":5002"};
  auto options = server::server_options(config);
  ASSERT_EQ(options.listeners.size(), 3u);
  EXPECT_EQ(options.listeners[0].host, "127.0.0.1");
  EXPECT_EQ(options.listeners[0].port, 5000);
  EXPECT_EQ(options.listeners[1].host, "::1");
  EXPECT_EQ(options.listeners[2].host, "0.0.0.0");

  config.listen = {"no-port"};
  EXPECT_THROW(server::server_options(config), std::runtime_error);
  config.listen = {"127.0.0.1:99999"};
  EXPECT_THROW(server::server_options(config), std::runtime_error);
  config.listen = {"127.0.0.1:0"};
  config.tls_listen = {"127.0.0.1:0"};
  EXPECT_THROW(server::server_options(config), std::runtime_error);  // no certificate
}

TEST(Startup, MissingDataDirectoryIsCreated) {
  TempDir dir;
  Config config;
  config.listen = {"127.0.0.1:0"};
  config.data_dir = dir.path() / "a" / "b" / "data";
  server::App app(config);
  EXPECT_TRUE(std::filesystem::is_directory(config.data_dir));
  EXPECT_TRUE(std::filesystem::exists(config.data_dir / "metadata.db"));
}

// The one-line reason start-up gives for `config`, or "" when it starts.
std::string startup_error(const Config& config) {
  try {
    server::App app(config);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

TEST(Startup, UnusableDataDirectoryStopsStartup) {
  TempDir dir;
  write_file(dir.path() / "file", "not a directory");
  Config config;
  config.listen = {"127.0.0.1:0"};
  config.data_dir = dir.path() / "file";
  std::string error = startup_error(config);
  EXPECT_NE(error.find("data directory"), std::string::npos) << error;
  EXPECT_EQ(error.find('\n'), std::string::npos);
}

TEST(Startup, NewerSchemaStopsStartup) {
  TempDir dir;
  Config config;
  config.listen = {"127.0.0.1:0"};
  config.data_dir = dir.path() / "data";
  { server::App app(config); }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((config.data_dir / "metadata.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version = 999", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  std::string error = startup_error(config);
  EXPECT_NE(error.find("newer"), std::string::npos) << error;
}

TEST(Startup, PortInUseStopsStartup) {
  TempDir dir;
  Config config;
  config.listen = {"127.0.0.1:0"};
  config.data_dir = dir.path() / "one";
  server::App first(config);
  config.listen = {"127.0.0.1:" + std::to_string(first.bound_ports().front())};
  config.data_dir = dir.path() / "two";
  std::string error = startup_error(config);
  EXPECT_NE(error.find("127.0.0.1"), std::string::npos) << error;
}

TEST(Startup, PortFileHoldsTheBoundPort) {
  TempDir dir;
  Config config;
  config.listen = {"127.0.0.1:0"};
  config.data_dir = dir.path() / "data";
  config.port_file = (dir.path() / "port").string();
  server::App app(config);
  std::ifstream in(config.port_file);
  int port = 0;
  in >> port;
  EXPECT_EQ(port, app.bound_ports().front());
}

}  // namespace
}  // namespace berth::testing
