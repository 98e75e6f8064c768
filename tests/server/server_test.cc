// berthd's configuration and start-up checks.

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <fstream>
#include <sstream>

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
http: {threads: 3, header_timeout_seconds: 5, idle_timeout_seconds: 6, shutdown_deadline_seconds: 7,
       min_body_rate_bytes_per_second: 300, body_rate_window_seconds: 8}
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
  EXPECT_EQ(config.min_body_rate, 300u);
  EXPECT_EQ(config.body_rate_window.count(), 8);
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
  if (n == "BERTH_MIN_BODY_RATE") return "0";
  if (n == "BERTH_BODY_RATE_WINDOW") return "9";
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
  EXPECT_EQ(config.min_body_rate, 0u);
  EXPECT_EQ(config.body_rate_window.count(), 9);
}

TEST(Config, BodyRateReachesTheServerOptions) {
  Config config;
  EXPECT_EQ(config.min_body_rate, 1024u);
  EXPECT_EQ(config.body_rate_window.count(), 30);
  config.min_body_rate = 500;
  config.body_rate_window = std::chrono::seconds(12);
  auto options = server::server_options(config);
  EXPECT_EQ(options.min_body_rate, 500u);
  EXPECT_EQ(options.body_rate_window.count(), 12);
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

// Captures what the default logger writes while it lives.
class LogCapture {
 public:
  LogCapture() : previous_(spdlog::default_logger()) {
    auto logger = std::make_shared<spdlog::logger>(
        "capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(stream_));
    logger->set_pattern("%v");
    logger->set_level(spdlog::level::info);
    spdlog::set_default_logger(logger);
  }
  ~LogCapture() { spdlog::set_default_logger(previous_); }
  // The captured line that carries `request_id`, or "".
  std::string line_of(const std::string& request_id) {
    spdlog::default_logger()->flush();
    std::istringstream in(stream_.str());
    for (std::string line; std::getline(in, line);) {
      if (line.find(" id=" + request_id + " ") != std::string::npos) return line;
    }
    return "";
  }

 private:
  std::shared_ptr<spdlog::logger> previous_;
  std::ostringstream stream_;
};

TEST(Responses, EveryResponseCarriesTheApiVersion) {
  TempDir dir;
  RunningApp app(dir.path() / "data");
  HttpClient client(app.base_url());
  struct Case {
    std::string method, target;
    std::vector<std::string> headers;
    long status;
  };
  for (const Case& c : std::vector<Case>{
           {"GET", "/healthz", {}, 200},
           {"GET", "/v2/", {}, 200},
           {"GET", "/nowhere", {}, 404},
           {"GET", "/mgmt/v1/registries", {}, 401},
           {"GET", "/v2/", {"Host: not a host"}, 400},  // refused by the HTTP layer
           {"POST", "/v2/a/blobs/uploads/", {"Transfer-Encoding: gzip"}, 400},
       }) {
    auto response = client.request(c.method, c.target, {}, c.headers);
    EXPECT_EQ(response.status, c.status) << c.target;
    EXPECT_EQ(response.header("Docker-Distribution-API-Version"), "registry/2.0") << c.target;
    EXPECT_EQ(response.header("X-Request-Id").size(), 16u) << c.target;
  }
}

TEST(AccessLog, NamesTheRegistryThatServed) {
  TempDir dir;
  LogCapture capture;  // outlives the server, so no server thread logs into a dead logger
  std::string served_id, unknown_id, health_id;
  {
    RunningApp app(dir.path() / "data");
    HttpClient client(app.base_url());
    auto served = client.get("/v2/");
    auto unknown = client.get("/v2/", {"Host: nosuch.registry.local"});
    auto health = client.get("/healthz");
    EXPECT_EQ(served.status, 200);
    EXPECT_EQ(unknown.status, 404);
    served_id = served.header("X-Request-Id");
    unknown_id = unknown.header("X-Request-Id");
    health_id = health.header("X-Request-Id");
  }  // stopped: every access-log line is written
  std::string line = capture.line_of(served_id);
  EXPECT_NE(line.find("GET /v2/ 200"), std::string::npos) << line;
  EXPECT_NE(line.find(" registry=default "), std::string::npos) << line;
  line = capture.line_of(unknown_id);
  EXPECT_NE(line.find(" registry=nosuch "), std::string::npos) << line;
  line = capture.line_of(health_id);
  EXPECT_NE(line.find(" registry=- "), std::string::npos) << line;
}

}  // namespace
}  // namespace berth::testing
