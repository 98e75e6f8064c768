// berthd's configuration and start-up checks: in-process through App, and through the real
// berthd binary where what matters is the process (exit status, what it prints).

#include <fcntl.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "auth/encoding.h"
#include "server/app.h"
#include "server/config.h"
#include "support/app_fixture.h"
#include "support/http_client.h"

extern char** environ;

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

constexpr std::string_view kAdminToken = "server-test-admin-token-0123456789";

TEST(Responses, EveryResponseCarriesTheApiVersion) {
  TempDir dir;
  RunningApp app(dir.path() / "data", std::string(kAdminToken));
  HttpClient client(app.base_url());
  const std::string admin = bearer_header(kAdminToken);
  struct Case {
    std::string method, target;
    std::vector<std::string> headers;
    long status;
  };
  for (const Case& c : std::vector<Case>{
           {"GET", "/healthz", {}, 200},
           {"GET", "/v2/", {admin}, 200},
           {"GET", "/v2/", {}, 401},  // anonymous: the challenge carries it too
           {"GET", "/nowhere", {}, 404},
           {"GET", "/mgmt/v1/registries", {}, 401},
           {"GET", "/v2/", {admin, "Host: not a host"}, 400},  // refused by the HTTP layer
           {"POST", "/v2/a/blobs/uploads/", {admin, "Transfer-Encoding: gzip"}, 400},
       }) {
    auto response = client.request(c.method, c.target, {}, c.headers);
    EXPECT_EQ(response.status, c.status) << c.target;
    EXPECT_EQ(response.header("Docker-Distribution-API-Version"), "registry/2.0") << c.target;
    EXPECT_EQ(response.header("X-Request-Id").size(), 16u) << c.target;
  }
  // The anonymous caller of /v2/ is told where to log in.
  std::string challenge = "Bearer realm=\"";
  challenge += app.base_url();
  challenge += "/oauth2/token\",service=\"default.registry.local\"";
  EXPECT_EQ(client.get("/v2/").header("WWW-Authenticate"), challenge);
}

TEST(AccessLog, NamesTheRegistryThatServed) {
  TempDir dir;
  LogCapture capture;  // outlives the server, so no server thread logs into a dead logger
  std::string served_id, unknown_id, health_id;
  {
    RunningApp app(dir.path() / "data", std::string(kAdminToken));
    HttpClient client(app.base_url());
    client.set_default_headers({bearer_header(kAdminToken)});
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

// ------------------------------------------------------------------ validation (in-process)

// The one-line reason validate() gives, or "" when the configuration is valid.
std::string validation_error(const Config& config) {
  try {
    server::validate(config);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

TEST(Validation, DefaultsAreValid) { EXPECT_EQ(validation_error(Config{}), ""); }

TEST(Validation, DefaultRegistryFollowsTheManagementApiNameRules) {
  Config config;
  for (std::string bad :
       std::vector<std::string>{"x", "abcd", "my-registry", "my_registry", std::string(51, 'a')}) {
    config.default_registry = bad;
    std::string error = validation_error(config);
    EXPECT_NE(error.find("default registry"), std::string::npos) << bad << ": " << error;
    EXPECT_NE(error.find("'" + bad + "'"), std::string::npos) << error;
  }
  config.default_registry = "Main1";
  EXPECT_EQ(validation_error(config), "");
}

TEST(Validation, DomainMustBeADnsName) {
  Config config;
  for (std::string bad :
       std::vector<std::string>{"bad domain", "", "example.com.", "a..b", "-x.example", "a:5000"}) {
    config.domain = bad;
    EXPECT_NE(validation_error(config).find("domain '" + bad + "'"), std::string::npos) << bad;
  }
  config.domain = "registry.example.com";
  EXPECT_EQ(validation_error(config), "");
}

TEST(Validation, ListenAddressesAreCheckedBeforeStartUp) {
  Config config;
  config.listen = {"no-port"};
  EXPECT_NE(validation_error(config).find("no-port"), std::string::npos);
  config.listen = {"127.0.0.1:0"};
  config.tls_listen = {"127.0.0.1:0"};
  EXPECT_NE(validation_error(config).find("--tls-certificate"), std::string::npos);
}

TEST(Validation, RegistryListenersNeedAValidNameAndAddress) {
  Config config;
  config.registry_listeners = {"teamreg=127.0.0.1:6001", "other1=6002", "third=[::1]:6003",
                               "fourth=:6004"};
  EXPECT_EQ(validation_error(config), "");
  auto parsed = server::registry_listeners(config);
  ASSERT_EQ(parsed.size(), 4u);
  EXPECT_EQ(parsed[0].registry, "teamreg");
  EXPECT_EQ(parsed[0].listener.host, "127.0.0.1");
  EXPECT_EQ(parsed[0].listener.port, 6001);
  EXPECT_EQ(parsed[1].listener.host, "localhost");  // a bare port stays on this machine
  EXPECT_EQ(parsed[1].listener.port, 6002);
  EXPECT_EQ(parsed[2].listener.host, "::1");
  EXPECT_EQ(parsed[3].listener.host, "0.0.0.0");
  // They follow the plain listeners, named for their registry.
  auto options = server::server_options(config);
  ASSERT_EQ(options.listeners.size(), 5u);
  EXPECT_EQ(options.listeners[0].name, "");
  EXPECT_EQ(options.listeners[1].name, server::registry_listener_name("teamreg"));

  for (std::string bad : std::vector<std::string>{"teamreg", "=6001", "x=6001", "team-reg=6001",
                                                 "teamreg=", "teamreg=host:", "teamreg=99999"}) {
    config.registry_listeners = {bad};
    EXPECT_NE(validation_error(config), "") << bad;
  }
}

TEST(Config, RegistrySettingsComeFromEveryLayer) {
  TempDir dir;
  write_file(dir.path() / "berth.yml", R"(
domain: example.test
default_registry: mainreg
registry_listeners: ["teamreg=127.0.0.1:6001"]
)");
  Config config;
  server::apply_yaml_file(config, dir.path() / "berth.yml");
  EXPECT_EQ(config.domain, "example.test");
  EXPECT_EQ(config.default_registry, "mainreg");
  EXPECT_EQ(config.registry_listeners, std::vector<std::string>{"teamreg=127.0.0.1:6001"});

  server::apply_environment(config, [](const char* name) -> const char* {
    std::string_view n(name);
    if (n == "BERTH_DOMAIN") return "env.test";
    if (n == "BERTH_DEFAULT_REGISTRY") return "envreg";
    if (n == "BERTH_REGISTRY_LISTENERS") return "teamreg=6001,otherreg=6002";
    return nullptr;
  });
  EXPECT_EQ(config.domain, "env.test");
  EXPECT_EQ(config.default_registry, "envreg");
  EXPECT_EQ(config.registry_listeners,
            (std::vector<std::string>{"teamreg=6001", "otherreg=6002"}));
}

TEST(Config, TheMetricsTokenFileComesFromEveryLayer) {
  EXPECT_EQ(Config{}.metrics_token_file, "");  // none: loopback scrapers only
  TempDir dir;
  write_file(dir.path() / "berth.yml", "metrics_token_file: /etc/berth/metrics-token\n");
  Config config;
  server::apply_yaml_file(config, dir.path() / "berth.yml");
  EXPECT_EQ(config.metrics_token_file, "/etc/berth/metrics-token");
  server::apply_environment(config, [](const char* name) -> const char* {
    return std::string_view(name) == "BERTH_METRICS_TOKEN_FILE" ? "/run/secrets/metrics" : nullptr;
  });
  EXPECT_EQ(config.metrics_token_file, "/run/secrets/metrics");
}

// App refuses what load_config would, for callers that build a Config themselves.
TEST(Startup, AppRefusesAnInvalidDefaultRegistry) {
  TempDir dir;
  Config config;
  config.listen = {"127.0.0.1:0"};
  config.data_dir = dir.path() / "data";
  config.default_registry = "x";
  EXPECT_NE(startup_error(config).find("'x'"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(config.data_dir / "metadata.db"));
}

// ------------------------------------------------------------------ default registry region

std::vector<std::pair<std::string, std::string>> stored_registries(
    const std::filesystem::path& database) {
  std::vector<std::pair<std::string, std::string>> rows;
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(database.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, "SELECT name, region FROM registries ORDER BY name", -1, &stmt,
                               nullptr),
            SQLITE_OK);
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    rows.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)),
                      reinterpret_cast<const char*>(sqlite3_column_text(stmt, 1)));
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return rows;
}

TEST(Startup, DefaultRegistriesGetTheRegionEveryOtherRegistryGets) {
  TempDir dir;
  Config config;
  config.listen = {"127.0.0.1:0"};
  config.data_dir = dir.path() / "data";
  { server::App app(config); }  // the built-in "default"
  config.default_registry = "mainreg";
  { server::App app(config); }  // a configured one, created at start-up
  using Rows = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(stored_registries(config.data_dir / "metadata.db"),
            (Rows{{"default", "local"}, {"mainreg", "local"}}));
}

// ------------------------------------------------------------------ registry listeners

constexpr std::string_view kToken = "registry-listener-test-token";

TEST(RegistryListener, RequestsGoToItsRegistryWhateverTheHost) {
  TempDir dir;
  Config config;
  config.listen = {"127.0.0.1:0"};
  config.registry_listeners = {"teamreg=127.0.0.1:0"};
  config.data_dir = dir.path() / "data";
  config.threads = 2;
  std::unique_ptr<server::App> app;
  {
    ScopedEnvironmentVariable token("BERTH_INITIAL_ADMIN_TOKEN", std::string(kToken));
    app = std::make_unique<server::App>(config);
  }
  std::thread serving([&] { app->run(false); });
  auto ports = app->bound_ports();
  ASSERT_EQ(ports.size(), 2u);
  HttpClient main("http://127.0.0.1:" + std::to_string(ports[0]));
  HttpClient dedicated("http://127.0.0.1:" + std::to_string(ports[1]));
  main.set_default_headers({bearer_header(kToken)});
  dedicated.set_default_headers({bearer_header(kToken)});

  // Named in the flag but not created yet: a clear NAME_UNKNOWN, not the default registry.
  auto missing = dedicated.get("/v2/");
  EXPECT_EQ(missing.status, 404);
  EXPECT_NE(missing.body.find("teamreg"), std::string::npos) << missing.body;

  // Created later through the management API: reachable at once.
  auto created = main.request("POST", "/mgmt/v1/registries",
                              R"({"name":"teamreg","tier":"Basic"})",
                              {"Content-Type: application/json"});
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(dedicated.get("/v2/").status, 200);

  // A blob pushed through the listener, with a Host that names another registry, lands in
  // teamreg.
  auto pushed = dedicated.request(
      "POST",
      "/v2/team/app/blobs/uploads/?digest=sha256:"
      "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
      "hello", {"Host: otherreg.registry.local", "Content-Type: application/octet-stream"});
  ASSERT_EQ(pushed.status, 201) << pushed.body;
  EXPECT_EQ(main.get("/v2/_catalog", {"Host: teamreg.registry.local"}).body,
            R"({"repositories":["team/app"]})");
  EXPECT_EQ(main.get("/v2/_catalog").body, R"({"repositories":[]})");
  EXPECT_EQ(dedicated.get("/v2/_catalog").body, R"({"repositories":["team/app"]})");

  app->stop();
  serving.join();
}

// ------------------------------------------------------------------ the berthd binary

// The berthd next to this test, or the one BERTHD names (as for the integration scripts).
std::string berthd_path() {
  const char* chosen = std::getenv("BERTHD");
  return chosen != nullptr && *chosen != '\0' ? chosen : BERTHD_PATH;
}

// Runs the real berthd binary with `args`, standard output and error in files under `dir`,
// and an environment without BERTH_* variables but `environment`.
class BerthdProcess {
 public:
  BerthdProcess(const std::filesystem::path& dir, std::vector<std::string> args,
                std::vector<std::string> environment = {})
      : out_(dir / "stdout"), err_(dir / "stderr") {
    for (char** variable = environ; *variable != nullptr; ++variable) {
      if (!std::string_view(*variable).starts_with("BERTH_")) environment.emplace_back(*variable);
    }
    args.insert(args.begin(), berthd_path());
    std::vector<char*> argv, envp;
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    for (auto& variable : environment) envp.push_back(variable.data());
    envp.push_back(nullptr);
    // Opened (and emptied) here, so that nothing of an earlier run is ever read back; the
    // child only rewires them and execs, which is all a forked copy of a threaded process may do.
    int out = ::open(out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int err = ::open(err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(out, STDOUT_FILENO);
      ::dup2(err, STDERR_FILENO);
      ::execve(argv[0], argv.data(), envp.data());
      ::_exit(127);
    }
    ::close(out);
    ::close(err);
  }
  ~BerthdProcess() {
    if (running()) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  BerthdProcess(const BerthdProcess&) = delete;
  BerthdProcess& operator=(const BerthdProcess&) = delete;

  // The exit status; -1 when it did not exit within 30 s (a "does not hang" bound) or was
  // killed by a signal.
  int wait() {
    for (int i = 0; i < 3000 && running(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (running()) return -1;
    return WIFEXITED(status_) ? WEXITSTATUS(status_) : -1;
  }
  int stop() {
    if (running()) ::kill(pid_, SIGTERM);
    return wait();
  }
  // Polls (up to 30 s) until `done` says yes; false when it never did or berthd exited.
  template <class Done>
  bool wait_until(Done done) {
    for (int i = 0; i < 3000; ++i) {
      if (done()) return true;
      if (!running()) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }
  std::string out() const { return read(out_); }
  std::string err() const { return read(err_); }

 private:
  bool running() {
    if (exited_) return false;
    if (::waitpid(pid_, &status_, WNOHANG) == pid_) exited_ = true;
    return !exited_;
  }
  static std::string read(const std::filesystem::path& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

  std::filesystem::path out_, err_;
  pid_t pid_ = -1;
  int status_ = 0;
  bool exited_ = false;
};

struct Exit {
  int status;
  std::string out, err;
};

Exit run_berthd(std::vector<std::string> args) {
  TempDir dir;
  BerthdProcess berthd(dir.path(), std::move(args));
  int status = berthd.wait();
  return {status, berthd.out(), berthd.err()};
}

TEST(BerthdExitStatus, UsageErrorsExitTwo) {
  TempDir dir;
  std::string data = (dir.path() / "data").string();
  std::vector<std::vector<std::string>> usage_errors = {
      {"--no-such-flag"},
      {"--threads", "many"},
      {"--listen", "no-port", "--data-dir", data},
      {"--listen", "127.0.0.1:99999", "--data-dir", data},
      {"--tls-listen", "127.0.0.1:0", "--data-dir", data},  // no certificate or key
      {"--log-level", "loud", "--data-dir", data},
      {"--default-registry", "x", "--data-dir", data},
      {"--domain", "bad domain", "--data-dir", data},
      {"--registry-listener", "team-reg=6001", "--data-dir", data},
      {"--config", (dir.path() / "missing.yml").string(), "--data-dir", data},
  };
  for (const auto& args : usage_errors) {
    Exit exit = run_berthd(args);
    EXPECT_EQ(exit.status, server::kExitUsage) << args.front() << ": " << exit.err;
    EXPECT_NE(exit.err, "") << args.front();
  }
  EXPECT_FALSE(std::filesystem::exists(data)) << "a usage error touched the data directory";
}

TEST(BerthdExitStatus, StartUpFailuresExitOne) {
  TempDir dir;
  write_file(dir.path() / "file", "not a directory");
  Exit not_a_directory =
      run_berthd({"--listen", "127.0.0.1:0", "--data-dir", (dir.path() / "file").string()});
  EXPECT_EQ(not_a_directory.status, server::kExitStartupFailure) << not_a_directory.err;
  EXPECT_NE(not_a_directory.err.find("data directory"), std::string::npos);

  Config holder;
  holder.listen = {"127.0.0.1:0"};
  holder.data_dir = dir.path() / "holder";
  server::App taken(holder);
  std::string busy = "127.0.0.1:" + std::to_string(taken.bound_ports().front());
  Exit port_in_use =
      run_berthd({"--listen", busy, "--data-dir", (dir.path() / "data").string()});
  EXPECT_EQ(port_in_use.status, server::kExitStartupFailure) << port_in_use.err;
  EXPECT_NE(port_in_use.err.find(busy), std::string::npos) << port_in_use.err;
}

TEST(BerthdExitStatus, HelpAndVersionExitZero) {
  Exit help = run_berthd({"--help"});
  EXPECT_EQ(help.status, 0);
  for (std::string_view promised : {"--registry-listener", "BERTH_DATA_DIR", "BERTH_DOMAIN",
                                    "BERTH_INITIAL_ADMIN_TOKEN", "ONCE", "admin-token.sha256",
                                    "Exit status"}) {
    EXPECT_NE(help.out.find(promised), std::string::npos) << promised;
  }
  EXPECT_EQ(run_berthd({"--version"}).status, 0);
}

// A berthd on 127.0.0.1:0 over `data`, running until stop().
std::string base64_of(std::string_view in) { return auth::detail::base64_encode(in); }

class RunningBerthd {
 public:
  RunningBerthd(const std::filesystem::path& dir, const std::filesystem::path& data,
                std::vector<std::string> environment = {})
      : port_file_(without_file(dir / "port")),
        process_(dir, {"--listen", "127.0.0.1:0", "--data-dir", data.string(), "--port-file",
                       port_file_.string()},
                 std::move(environment)) {
    started_ = process_.wait_until([this] {
      std::ifstream in(port_file_);
      return static_cast<bool>(in >> port_);
    });
    // The token, when berthd makes one, is printed right after the port file is written.
    if (started_) {
      process_.wait_until([this] { return process_.err().find("serving") != std::string::npos; });
    }
  }
  bool started() const { return started_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // The token from the "deployment administrator token" line, or "".
  std::string printed_token() const {
    std::string out = process_.out();
    constexpr std::string_view kPrefix = "berthd: deployment administrator token: ";
    auto at = out.find(kPrefix);
    if (at == std::string::npos) return "";
    auto end = out.find('\n', at);
    return out.substr(at + kPrefix.size(), end - at - kPrefix.size());
  }
  int stop() { return process_.stop(); }
  std::string out() const { return process_.out(); }

 private:
  // The port file of an earlier run must not pass for this one's.
  static std::filesystem::path without_file(std::filesystem::path path) {
    std::filesystem::remove(path);
    return path;
  }

  std::filesystem::path port_file_;
  BerthdProcess process_;
  bool started_ = false;
  int port_ = 0;
};

long registries_status(const std::string& url, const std::string& token) {
  HttpClient client(url);
  return client.get("/mgmt/v1/registries", {"Authorization: Bearer " + token}).status;
}

// The first start of a data directory prints the administrator token and a ready login line
// for the default registry's admin user; a start that failed before printing them is followed
// by a first start again, never by a data directory nobody can log in to.
TEST(FirstStart, PrintsTheTokenAndALoginLineAndSurvivesAFailedFirstStart) {
  TempDir dir;
  auto data = dir.path() / "data";
  {
    // A malformed deployment key stops start-up after the token file is made.
    RunningBerthd broken(dir.path(), data, {"BERTH_DEPLOYMENT_KEY=not-base64-of-32-bytes"});
    EXPECT_FALSE(broken.started());
    broken.stop();
  }
  ASSERT_TRUE(std::filesystem::exists(data / ".first-start"));
  RunningBerthd berthd(dir.path(), data);
  ASSERT_TRUE(berthd.started());
  std::string token = berthd.printed_token();
  ASSERT_EQ(token.size(), 64u);
  std::string out = berthd.out();
  auto at = out.find("  podman login --tls-verify=false 127.0.0.1:");
  ASSERT_NE(at, std::string::npos) << out;
  std::string line = out.substr(at, out.find('\n', at) - at);
  auto password_at = line.rfind(" -p ");
  ASSERT_NE(password_at, std::string::npos) << line;
  std::string password = line.substr(password_at + 4);
  EXPECT_NE(line.find(" -u default "), std::string::npos) << line;
  EXPECT_FALSE(std::filesystem::exists(data / ".first-start"));
  // The line's credentials are the admin user's, and they work on /v2/.
  HttpClient client(berthd.url());
  std::string pair = "default:" + password;
  auto r = client.get("/v2/", {"Authorization: Basic " + base64_of(pair)});
  EXPECT_EQ(r.status, 200) << r.body;
  // The data directory and its database are the owner's alone.
  auto mode = [](const std::filesystem::path& path) {
    return std::filesystem::status(path).permissions() & std::filesystem::perms::all;
  };
  EXPECT_EQ(mode(data), std::filesystem::perms::owner_all);
  EXPECT_EQ(mode(data / "metadata.db"),
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  EXPECT_EQ(berthd.stop(), 0);
  // A later start prints neither.
  RunningBerthd again(dir.path(), data);
  ASSERT_TRUE(again.started());
  EXPECT_EQ(again.printed_token(), "");
  EXPECT_EQ(again.out().find("podman login"), std::string::npos);
  EXPECT_EQ(again.stop(), 0);
}

TEST(AdminTokenRecovery, DeletingTheHashFileWithBerthdStoppedMakesANewToken) {
  TempDir dir;
  auto data = dir.path() / "data";
  std::string first_token;
  {
    RunningBerthd berthd(dir.path(), data);
    ASSERT_TRUE(berthd.started());
    first_token = berthd.printed_token();
    ASSERT_EQ(first_token.size(), 64u);
    HttpClient client(berthd.url());
    auto created = client.request("POST", "/mgmt/v1/registries",
                                  R"({"name":"keptreg","tier":"Basic"})",
                                  {"Authorization: Bearer " + first_token,
                                   "Content-Type: application/json"});
    ASSERT_EQ(created.status, 201) << created.body;
    EXPECT_EQ(berthd.stop(), 0);
  }
  {
    // A restart neither prints nor changes the token.
    RunningBerthd berthd(dir.path(), data);
    ASSERT_TRUE(berthd.started());
    EXPECT_EQ(berthd.printed_token(), "");
    EXPECT_EQ(registries_status(berthd.url(), first_token), 200);
    EXPECT_EQ(berthd.stop(), 0);
  }

  // The documented recovery: berthd stopped, the hash file deleted, start again.
  ASSERT_TRUE(std::filesystem::remove(data / "admin-token.sha256"));
  {
    RunningBerthd berthd(dir.path(), data);
    ASSERT_TRUE(berthd.started());
    std::string second_token = berthd.printed_token();
    ASSERT_EQ(second_token.size(), 64u);
    EXPECT_NE(second_token, first_token);
    EXPECT_EQ(registries_status(berthd.url(), first_token), 401);
    HttpClient client(berthd.url());
    auto kept = client.get("/mgmt/v1/registries/keptreg",
                           {"Authorization: Bearer " + second_token});
    EXPECT_EQ(kept.status, 200) << "registries survive a new token: " << kept.body;
    EXPECT_EQ(berthd.stop(), 0);
  }

  // Or with a token of one's choosing.
  ASSERT_TRUE(std::filesystem::remove(data / "admin-token.sha256"));
  {
    std::string chosen = "a-token-of-my-own-choosing";
    RunningBerthd berthd(dir.path(), data, {"BERTH_INITIAL_ADMIN_TOKEN=" + chosen});
    ASSERT_TRUE(berthd.started());
    EXPECT_EQ(berthd.printed_token(), "");
    EXPECT_EQ(registries_status(berthd.url(), chosen), 200);
    EXPECT_EQ(berthd.stop(), 0);
  }
}

}  // namespace
}  // namespace berth::testing
