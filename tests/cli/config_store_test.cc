#include "cli/config_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "support/unprivileged.h"
#include "test_env.h"

namespace berth::cli {
namespace {
namespace fs = std::filesystem;
using testing::map_env;
using testing::ScratchDir;

unsigned mode_of(const fs::path& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

TEST(ConfigPath, XdgConfigHomeWins) {
  auto path = config_file_path(map_env({{"XDG_CONFIG_HOME", "/x/cfg"}, {"HOME", "/home/u"}}));
  ASSERT_TRUE(path);
  EXPECT_EQ(*path, fs::path("/x/cfg/berth/config.json"));
}

TEST(ConfigPath, HomeDotConfigOtherwise) {
  auto path = config_file_path(map_env({{"HOME", "/home/u"}}));
  ASSERT_TRUE(path);
  EXPECT_EQ(*path, fs::path("/home/u/.config/berth/config.json"));
}

TEST(ConfigPath, RelativeXdgIsIgnoredAsTheSpecSays) {
  auto path = config_file_path(map_env({{"XDG_CONFIG_HOME", "rel"}, {"HOME", "/home/u"}}));
  ASSERT_TRUE(path);
  EXPECT_EQ(*path, fs::path("/home/u/.config/berth/config.json"));
}

TEST(ConfigPath, NoHomeIsAnError) {
  auto path = config_file_path(map_env({}));
  ASSERT_FALSE(path);
  EXPECT_EQ(path.error().code, ExitCode::kFailure);
}

TEST(ConfigFile, MissingFileIsEmptySettings) {
  ScratchDir dir;
  auto settings = load_settings(dir.path() / "berth" / "config.json");
  ASSERT_TRUE(settings);
  EXPECT_TRUE(settings->server.empty());
  EXPECT_TRUE(settings->token.empty());
}

TEST(ConfigFile, SaveThenLoadRoundTrips) {
  ScratchDir dir;
  fs::path file = dir.path() / "deep" / "berth" / "config.json";
  ASSERT_TRUE(save_settings(file, {"http://127.0.0.1:5000", "s3cret"}));
  auto settings = load_settings(file);
  ASSERT_TRUE(settings);
  EXPECT_EQ(settings->server, "http://127.0.0.1:5000");
  EXPECT_EQ(settings->token, "s3cret");
}

TEST(ConfigFile, FileIs0600AndDirectoryIs0700) {
  ScratchDir dir;
  fs::path file = dir.path() / "berth" / "config.json";
  ::umask(022);
  ASSERT_TRUE(save_settings(file, {"http://h", "t"}));
  EXPECT_EQ(mode_of(file), 0600u);
  EXPECT_EQ(mode_of(file.parent_path()), 0700u);
}

TEST(ConfigFile, RewriteTightensAnOpenFileAndDirectory) {
  ScratchDir dir;
  fs::path file = dir.path() / "berth" / "config.json";
  fs::create_directories(file.parent_path());
  ::chmod(file.parent_path().c_str(), 0755);
  { std::ofstream(file) << R"({"server":"http://old"})"; }
  ::chmod(file.c_str(), 0644);
  ASSERT_TRUE(save_settings(file, {"http://new", "t"}));
  EXPECT_EQ(mode_of(file), 0600u);
  EXPECT_EQ(mode_of(file.parent_path()), 0700u);
  EXPECT_EQ(load_settings(file)->server, "http://new");
  // No temporary file is left beside it.
  EXPECT_EQ(std::distance(fs::directory_iterator(file.parent_path()), fs::directory_iterator()), 1);
}

TEST(ConfigFile, MalformedFileIsAnError) {
  ScratchDir dir;
  fs::path file = dir.path() / "config.json";
  { std::ofstream(file) << "server = x"; }
  auto bad_json = load_settings(file);
  ASSERT_FALSE(bad_json);
  EXPECT_NE(bad_json.error().message.find("not a JSON object"), std::string::npos);
  { std::ofstream(file) << R"({"server": 5})"; }
  auto bad_type = load_settings(file);
  ASSERT_FALSE(bad_type);
  EXPECT_NE(bad_type.error().message.find("\"server\" is not a string"), std::string::npos);
}

TEST(ConfigFile, UnwritableDirectoryIsAnError) {
  // As nobody: root ignores directory permissions.
  auto as_nobody = [] {
    ScratchDir dir;
    fs::path locked = dir.path() / "locked";
    fs::create_directories(locked);
    ::chmod(locked.c_str(), 0500);
    auto saved = save_settings(locked / "berth" / "config.json", {"http://h", "t"});
    ::chmod(locked.c_str(), 0700);
    ASSERT_FALSE(saved);
    EXPECT_EQ(saved.error().code, ExitCode::kFailure);
  };
  EXPECT_TRUE(berth::run_unprivileged(as_nobody));
}

TEST(ServerUrl, AcceptsHttpAndHttps) {
  EXPECT_FALSE(check_server_url("http://localhost:5000"));
  EXPECT_FALSE(check_server_url("https://registry.example.com/"));
  EXPECT_TRUE(check_server_url("localhost:5000"));
  EXPECT_TRUE(check_server_url("ftp://x"));
  EXPECT_TRUE(check_server_url("http://"));
  EXPECT_TRUE(check_server_url("http://h/x?y"));
  EXPECT_TRUE(check_server_url("http://h x"));
  EXPECT_EQ(normalize_server_url("http://h:1//"), "http://h:1");
}

TEST(Resolve, FlagBeatsEnvironmentBeatsFile) {
  Settings file{"http://file", "file-token"};
  auto env = map_env({{"BERTH_SERVER", "http://env/"}, {"BERTH_TOKEN", "env-token"}});
  auto none = map_env({});
  EXPECT_EQ(resolve_settings({}, none, file).server, "http://file");
  EXPECT_EQ(resolve_settings({}, env, file).server, "http://env");
  EXPECT_EQ(resolve_settings({}, env, file).token, "env-token");
  Settings flags{"http://flag", ""};
  Settings mixed = resolve_settings(flags, env, file);
  EXPECT_EQ(mixed.server, "http://flag");
  EXPECT_EQ(mixed.token, "env-token");
  EXPECT_EQ(resolve_settings(flags, none, file).token, "file-token");
}

}  // namespace
}  // namespace berth::cli
