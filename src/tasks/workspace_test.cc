#include "tasks/workspace.h"

#include <gtest/gtest.h>
#include <sys/mount.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/temp_dir.h"

namespace berth::tasks {
namespace {

namespace fs = std::filesystem;

std::string read_file(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(Workspace, KeepsEverythingOfTheRunUnderItsDirectory) {
  TempDir runs;
  std::string error;
  auto workspace = Workspace::create(
      runs.path(), "1-cb7",
      {RegistryRoute{"myreg.example.com", "127.0.0.1:41234", "run-user", "run-secret"}}, error);
  ASSERT_TRUE(workspace) << error;
  const auto& paths = workspace->paths();
  EXPECT_EQ(paths.root, runs.path() / "1-cb7");
  for (const auto* dir : {&paths.context, &paths.graph_root, &paths.run_root, &paths.runc_root,
                          &paths.temp, &paths.home}) {
    EXPECT_TRUE(fs::is_directory(*dir)) << *dir;
    EXPECT_EQ(dir->string().rfind(paths.root.string(), 0), 0u) << *dir;
  }
  const std::string storage = read_file(paths.storage_conf);
  EXPECT_NE(storage.find("graphroot = \"" + paths.graph_root.string() + "\""), std::string::npos);
  const std::string registries = read_file(paths.registries_conf);
  EXPECT_NE(registries.find("prefix = \"myreg.example.com\""), std::string::npos);
  EXPECT_NE(registries.find("location = \"127.0.0.1:41234\""), std::string::npos);
  EXPECT_NE(registries.find("short-name-mode = \"disabled\""), std::string::npos);
  // base64("run-user:run-secret"), under both names of the registry.
  const std::string auth = read_file(paths.auth_file);
  EXPECT_NE(auth.find("\"myreg.example.com\":{\"auth\":\"cnVuLXVzZXI6cnVuLXNlY3JldA==\"}"),
            std::string::npos);
  EXPECT_NE(auth.find("\"127.0.0.1:41234\":{\"auth\""), std::string::npos);
  EXPECT_EQ(fs::status(paths.auth_file).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  bool storage_conf_named = false;
  for (const auto& [name, value] : workspace->environment()) {
    EXPECT_NE(name, "BERTH_ADMIN_TOKEN");
    if (name == "CONTAINERS_STORAGE_CONF") storage_conf_named = value == paths.storage_conf;
  }
  EXPECT_TRUE(storage_conf_named);
}

TEST(Workspace, ReapUnmountsEverythingBelowAndRemovesTheTree) {
  TempDir runs;
  const fs::path root = runs.path() / "1-cb9";
  fs::create_directories(root / "storage/graph/overlay/abc/merged");
  fs::create_directories(root / "storage/graph/overlay/abc/merged/inner");
  // What a killed build leaves: a mount, and another one inside it.
  ASSERT_EQ(::mount("tmpfs", (root / "storage/graph/overlay/abc/merged").c_str(), "tmpfs", 0,
                    "size=1m"),
            0)
      << "tests run as root";
  fs::create_directories(root / "storage/graph/overlay/abc/merged/inner");
  ASSERT_EQ(::mount("tmpfs", (root / "storage/graph/overlay/abc/merged/inner").c_str(), "tmpfs",
                    0, "size=1m"),
            0);
  std::ofstream(root / "storage/graph/overlay/abc/merged/inner/file") << "left behind";
  ASSERT_EQ(mounts_below(root).size(), 2u);
  EXPECT_EQ(mounts_below(root).front(), root / "storage/graph/overlay/abc/merged/inner");

  ReapReport report = reap_workspace(root);
  EXPECT_TRUE(report.error.empty()) << report.error;
  EXPECT_EQ(report.mounts, 2);
  EXPECT_TRUE(report.removed);
  EXPECT_FALSE(fs::exists(root));
  EXPECT_TRUE(mounts_below(runs.path()).empty());
}

TEST(Workspace, ReapOfAMissingDirectoryIsDone) {
  TempDir runs;
  ReapReport report = reap_workspace(runs.path() / "gone");
  EXPECT_TRUE(report.removed);
  EXPECT_TRUE(report.error.empty());
}

TEST(Workspace, MountsOfSiblingDirectoriesAreNotBelow) {
  TempDir runs;
  fs::create_directories(runs.path() / "1-cb1");
  fs::create_directories(runs.path() / "1-cb10");
  ASSERT_EQ(::mount("tmpfs", (runs.path() / "1-cb10").c_str(), "tmpfs", 0, "size=1m"), 0);
  EXPECT_TRUE(mounts_below(runs.path() / "1-cb1").empty());
  EXPECT_EQ(mounts_below(runs.path() / "1-cb10").size(), 1u);
  reap_workspace(runs.path() / "1-cb10");
  EXPECT_TRUE(mounts_below(runs.path()).empty());
}

}  // namespace
}  // namespace berth::tasks
