// The pieces of `berth login`: login servers, the token exchange, where the auth files live and
// how they are written.

#include "cli/registry_login.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <boost/json.hpp>
#include <fstream>
#include <sstream>

#include "fake_transport.h"
#include "test_env.h"

namespace berth::cli {
namespace {
namespace fs = std::filesystem;
namespace json = boost::json;
using testing::FakeTransport;
using testing::map_env;
using testing::ScratchDir;
using testing::mode_of;
using testing::slurp;

TEST(Base64, MatchesRfc4648Vectors) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foob"), "Zm9vYg==");
  EXPECT_EQ(base64_encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64_encode(std::string("\xff\xfe\x00", 3)), "//4A");
}

TEST(LoginServer, HostPortOrUrl) {
  auto host = parse_login_server("localhost:5000");
  ASSERT_TRUE(host);
  EXPECT_EQ(host->host, "localhost:5000");
  EXPECT_EQ(host->base_url, "");

  auto url = parse_login_server("https://abcde.registry.local/");
  ASSERT_TRUE(url);
  EXPECT_EQ(url->host, "abcde.registry.local");
  EXPECT_EQ(url->base_url, "https://abcde.registry.local");

  auto v6 = parse_login_server("http://[::1]:5001");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "[::1]:5001");
  EXPECT_EQ(v6->base_url, "http://[::1]:5001");

  for (const char* bad : {"", "http://", "host:0", "host:65536", "host:", "host:5x", "a b",
                          "http://host/path", "host/path", "user@host", "[::1", "[]:5000",
                          "[::1]5000", "http://https://host", "ftp://host"}) {
    auto parsed = parse_login_server(bad);
    ASSERT_FALSE(parsed) << bad;
    EXPECT_EQ(parsed.error().code, ExitCode::kUsage) << bad;
  }
}

TEST(LoginServer, HostOfUrl) {
  EXPECT_EQ(host_of_url("http://localhost:5000"), "localhost:5000");
  EXPECT_EQ(host_of_url("https://reg.example/prefix/x"), "reg.example");
  EXPECT_EQ(host_of_url("http://[::1]:5000"), "[::1]:5000");
}

TEST(FormEncode, EncodesEveryReservedCharacter) {
  EXPECT_EQ(form_encode({{"grant_type", "password"}, {"password", "a&b=c d+e/%"}}),
            "grant_type=password&password=a%26b%3Dc%20d%2Be%2F%25");
}

TEST(Exchange, PostsTheFormAndAnswersTheRefreshToken) {
  FakeTransport transport;
  transport.answer(200, R"({"refresh_token":"rt-1"})");
  auto token = exchange_refresh_token(transport, "http://127.0.0.1:5000",
                                      {{"grant_type", "access_token"},
                                       {"service", "127.0.0.1:5000"},
                                       {"access_token", "admin"}});
  ASSERT_TRUE(token) << token.error().message;
  EXPECT_EQ(*token, "rt-1");
  const auto& request = transport.requests.back();
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.url, "http://127.0.0.1:5000/oauth2/exchange");
  EXPECT_EQ(FakeTransport::header(request, "Content-Type"), "application/x-www-form-urlencoded");
  EXPECT_EQ(FakeTransport::header(request, "Authorization"), "");
  EXPECT_EQ(request.body, "grant_type=access_token&service=127.0.0.1%3A5000&access_token=admin");
}

TEST(Exchange, ErrorsCarryTheServersMessageNeverTheForm) {
  struct Case {
    long status;
    std::string body;
    ExitCode code;
    std::string message;
  };
  const Case cases[] = {
      {401, R"({"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]})", ExitCode::kAuth,
       "bad credentials"},
      {400, R"({"error":"invalid_grant","error_description":"token\nexpired"})", ExitCode::kUsage,
       "invalid_grant: token expired"},
      {403, R"({"error":{"code":"Forbidden","message":"network rule denies 10.0.0.1"}})",
       ExitCode::kAuth, "network rule denies 10.0.0.1"},
      {500, "<html>", ExitCode::kFailure, "server answered HTTP 500"},
      {200, R"({"access_token":"x"})", ExitCode::kFailure,
       "the token service's answer has no refresh_token"},
      {200, "not json", ExitCode::kFailure, "the token service's answer has no refresh_token"},
      {200, R"({"refresh_token":""})", ExitCode::kFailure,
       "the token service's answer has no refresh_token"},
  };
  for (const auto& c : cases) {
    FakeTransport transport;
    transport.answer(c.status, c.body);
    auto token = exchange_refresh_token(transport, "http://srv",
                                        {{"grant_type", "password"}, {"password", "hunter2"}});
    ASSERT_FALSE(token) << c.body;
    EXPECT_EQ(token.error().code, c.code) << c.body;
    EXPECT_EQ(token.error().message, c.message);
    EXPECT_EQ(token.error().message.find("hunter2"), std::string::npos);
  }
}

TEST(AuthFiles, DockerConfigPath) {
  EXPECT_EQ(*docker_config_file(map_env({{"DOCKER_CONFIG", "/d"}, {"HOME", "/h"}})),
            fs::path("/d/config.json"));
  EXPECT_EQ(*docker_config_file(map_env({{"HOME", "/h"}})), fs::path("/h/.docker/config.json"));
  EXPECT_FALSE(docker_config_file(map_env({})));
}

TEST(AuthFiles, ContainersAuthPathFollowsPodmansOrder) {
  const std::map<std::string, std::string> all{{"REGISTRY_AUTH_FILE", "/a/auth.json"},
                                               {"XDG_RUNTIME_DIR", "/run/user/1000"},
                                               {"HOME", "/h"}};
  EXPECT_EQ(*containers_auth_file(map_env(all), 1000), fs::path("/a/auth.json"));
  auto without_file = all;
  without_file.erase("REGISTRY_AUTH_FILE");
  EXPECT_EQ(*containers_auth_file(map_env(without_file), 1000),
            fs::path("/run/user/1000/containers/auth.json"));
  EXPECT_EQ(*containers_auth_file(map_env({{"HOME", "/root"}}), 0),
            fs::path("/run/containers/0/auth.json"));
  EXPECT_EQ(*containers_auth_file(map_env({{"HOME", "/h"}}), 1000),
            fs::path("/h/.config/containers/auth.json"));
  EXPECT_FALSE(containers_auth_file(map_env({}), 1000));
}

TEST(AuthFiles, NewFileInNewPrivateDirectories) {
  ScratchDir scratch;
  fs::path file = scratch.path() / "a" / "b" / "config.json";
  ASSERT_TRUE(store_registry_auth(file, "localhost:5000", kRefreshTokenUsername, "rt"));
  EXPECT_EQ(mode_of(file), 0600u);
  EXPECT_EQ(mode_of(scratch.path() / "a"), 0700u);
  EXPECT_EQ(mode_of(scratch.path() / "a" / "b"), 0700u);
  EXPECT_EQ(json::parse(slurp(file)),
            json::parse(R"({"auths":{"localhost:5000":{"auth":")" +
                        base64_encode("00000000-0000-0000-0000-000000000000:rt") + R"("}}})"));
  // No temp file is left beside it.
  EXPECT_EQ(std::distance(fs::directory_iterator(file.parent_path()), fs::directory_iterator()), 1);
}

TEST(AuthFiles, KeepsEveryOtherEntryAndKey) {
  ScratchDir scratch;
  fs::path file = scratch.path() / "config.json";
  {
    std::ofstream(file) << R"({"auths":{"other.example":{"auth":"b3RoZXI="},
      "localhost:5000":{"auth":"b2xk","identitytoken":"stale"}},
      "credHelpers":{"gcr.io":"gcloud"},"psFormat":"table {{.ID}}","HttpHeaders":{"X":"1"}})";
  }
  ::chmod(file.c_str(), 0644);
  ASSERT_TRUE(store_registry_auth(file, "localhost:5000", "u", "p"));
  json::value doc = json::parse(slurp(file));
  EXPECT_EQ(doc.at("auths").at("other.example"), json::parse(R"({"auth":"b3RoZXI="})"));
  // The entry is replaced whole: a stale identity token would win over the new auth.
  EXPECT_EQ(doc.at("auths").at("localhost:5000"), json::parse(R"({"auth":"dTpw"})"));
  EXPECT_EQ(doc.at("credHelpers"), json::parse(R"({"gcr.io":"gcloud"})"));
  EXPECT_EQ(doc.at("psFormat"), "table {{.ID}}");
  EXPECT_EQ(doc.at("HttpHeaders"), json::parse(R"({"X":"1"})"));
  EXPECT_EQ(mode_of(file), 0600u);
}

TEST(AuthFiles, EmptyFileOrNullAuthsIsStartedOver) {
  ScratchDir scratch;
  fs::path empty = scratch.path() / "empty.json";
  { std::ofstream(empty) << "\n"; }
  ASSERT_TRUE(store_registry_auth(empty, "h:1", "u", "p"));
  EXPECT_EQ(json::parse(slurp(empty)), json::parse(R"({"auths":{"h:1":{"auth":"dTpw"}}})"));

  fs::path null_auths = scratch.path() / "null.json";
  { std::ofstream(null_auths) << R"({"auths":null,"k":1})"; }
  ASSERT_TRUE(store_registry_auth(null_auths, "h:1", "u", "p"));
  EXPECT_EQ(json::parse(slurp(null_auths)),
            json::parse(R"({"auths":{"h:1":{"auth":"dTpw"}},"k":1})"));
}

TEST(AuthFiles, LeavesAFileItCannotReadAlone) {
  ScratchDir scratch;
  for (std::string text : {std::string("{broken"), std::string("[1,2]"),
                           std::string(R"({"auths":["x"]})"), std::string(R"("str")")}) {
    fs::path file = scratch.path() / "bad.json";
    { std::ofstream(file, std::ios::trunc) << text; }
    auto stored = store_registry_auth(file, "h:1", "u", "p");
    ASSERT_FALSE(stored) << text;
    EXPECT_EQ(stored.error().code, ExitCode::kFailure);
    EXPECT_NE(stored.error().message.find(file.string()), std::string::npos);
    EXPECT_EQ(slurp(file), text);
  }
}

TEST(AuthFiles, FollowsASymlinkToTheRealFile) {
  ScratchDir scratch;
  fs::path real = scratch.path() / "dotfiles" / "config.json";
  fs::create_directories(real.parent_path());
  { std::ofstream(real) << R"({"auths":{}})"; }
  fs::path link = scratch.path() / "config.json";
  fs::create_symlink(real, link);
  ASSERT_TRUE(store_registry_auth(link, "h:1", "u", "p"));
  EXPECT_TRUE(fs::is_symlink(link));
  EXPECT_EQ(json::parse(slurp(real)), json::parse(R"({"auths":{"h:1":{"auth":"dTpw"}}})"));
}

}  // namespace
}  // namespace berth::cli
