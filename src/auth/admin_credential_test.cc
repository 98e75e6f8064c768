#include "auth/admin_credential.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "common/temp_dir.h"
#include "metadata/sqlite_metadata_store.h"
#include "support/unprivileged.h"

namespace berth::auth {
namespace {

namespace fs = std::filesystem;

using berth::TempDir;

std::string read_file(const fs::path& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

TEST(AdminCredential, FirstStartGeneratesA256BitTokenAndStoresOnlyItsHash) {
  TempDir dir;
  auto opened = AdminCredential::open(dir.path(), std::nullopt);
  ASSERT_TRUE(opened) << opened.error().message;
  ASSERT_TRUE(opened->generated_token);
  const std::string& token = *opened->generated_token;
  EXPECT_EQ(token.size(), 64u);
  EXPECT_EQ(token.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_TRUE(opened->credential.verify(token));

  fs::path file = dir.path() / kAdminTokenFile;
  std::string stored = read_file(file);
  EXPECT_EQ(stored.find(token), std::string::npos) << "the plaintext must not be stored";
  EXPECT_EQ(stored.size(), 65u);  // 64 hex digits and a newline

  struct stat info {};
  ASSERT_EQ(::stat(file.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600);
}

TEST(AdminCredential, LaterStartsReadTheStoredHashAndPrintNothing) {
  TempDir dir;
  auto first = AdminCredential::open(dir.path(), std::nullopt);
  ASSERT_TRUE(first);
  std::string token = *first->generated_token;
  auto second = AdminCredential::open(dir.path(), std::nullopt);
  ASSERT_TRUE(second);
  EXPECT_FALSE(second->generated_token);
  EXPECT_TRUE(second->credential.verify(token));
  EXPECT_FALSE(second->credential.verify(token + "x"));
}

TEST(AdminCredential, TwoDataDirectoriesGetDifferentTokens) {
  TempDir a, b;
  auto one = AdminCredential::open(a.path(), std::nullopt);
  auto two = AdminCredential::open(b.path(), std::nullopt);
  ASSERT_TRUE(one && two);
  EXPECT_NE(*one->generated_token, *two->generated_token);
  EXPECT_FALSE(one->credential.verify(*two->generated_token));
}

TEST(AdminCredential, InitialTokenIsUsedAtFirstStartOnly) {
  TempDir dir;
  auto first = AdminCredential::open(dir.path(), "automation-token-0123456789");
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_FALSE(first->generated_token) << "a supplied token is known; it is not printed";
  EXPECT_TRUE(first->credential.verify("automation-token-0123456789"));

  auto later = AdminCredential::open(dir.path(), "another-token-0123456789");
  ASSERT_TRUE(later);
  EXPECT_TRUE(later->credential.verify("automation-token-0123456789"));
  EXPECT_FALSE(later->credential.verify("another-token-0123456789"));
}

TEST(AdminCredential, EmptyInitialTokenMeansGenerate) {
  TempDir dir;
  auto opened = AdminCredential::open(dir.path(), "");
  ASSERT_TRUE(opened);
  EXPECT_TRUE(opened->generated_token);
}

TEST(AdminCredential, WeakOrUnprintableInitialTokensAreRefused) {
  for (std::string bad : {"short", "has a space in it 0123", "tab\tinside-0123456789"}) {
    TempDir dir;
    auto opened = AdminCredential::open(dir.path(), bad);
    ASSERT_FALSE(opened) << bad;
    EXPECT_EQ(opened.error().code, Errc::invalid_argument);
    EXPECT_NE(opened.error().message.find(kInitialAdminTokenVariable), std::string::npos);
    EXPECT_FALSE(fs::exists(dir.path() / kAdminTokenFile)) << bad;
  }
}

TEST(AdminCredential, CorruptHashFileIsAnErrorNotANewToken) {
  TempDir dir;
  std::ofstream(dir.path() / kAdminTokenFile) << "not a hash\n";
  auto opened = AdminCredential::open(dir.path(), std::nullopt);
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, Errc::corrupt);
  EXPECT_EQ(read_file(dir.path() / kAdminTokenFile), "not a hash\n");
}

TEST(AdminCredential, UnwritableDirectoryIsAnIoError) {
  // As nobody: root writes anywhere.
  auto as_nobody = [] {
    TempDir dir;
    fs::permissions(dir.path(), fs::perms::owner_read | fs::perms::owner_exec);
    auto opened = AdminCredential::open(dir.path(), std::nullopt);
    fs::permissions(dir.path(), fs::perms::owner_all);
    ASSERT_FALSE(opened);
    EXPECT_EQ(opened.error().code, Errc::io_error);
  };
  EXPECT_TRUE(run_unprivileged(as_nobody));
}

TEST(AdminCredential, AuthorizationHeaderNeedsTheBearerScheme) {
  auto credential = AdminCredential::for_token("the-admin-token-0123");
  EXPECT_TRUE(credential.verify_authorization("Bearer the-admin-token-0123"));
  EXPECT_TRUE(credential.verify_authorization("bearer the-admin-token-0123"));
  EXPECT_TRUE(credential.verify_authorization("BEARER  the-admin-token-0123 "));
  EXPECT_FALSE(credential.verify_authorization(std::nullopt));
  EXPECT_FALSE(credential.verify_authorization(""));
  EXPECT_FALSE(credential.verify_authorization("Bearer"));
  EXPECT_FALSE(credential.verify_authorization("Bearer "));
  EXPECT_FALSE(credential.verify_authorization("the-admin-token-0123"));
  EXPECT_FALSE(credential.verify_authorization("Basic the-admin-token-0123"));
  EXPECT_FALSE(credential.verify_authorization("Bearerthe-admin-token-0123"));
  EXPECT_FALSE(credential.verify_authorization("Bearer the-admin-token-012"));
  EXPECT_FALSE(credential.verify_authorization("Bearer the-admin-token-01234"));
}

// Shared metadata (scale-out): the hash lives in the deployment settings. The embedded store
// implements them like the PostgreSQL one (the coordination conformance suite runs on both).
class SharedAdminCredential : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = metadata::SqliteMetadataStore::open(dir_.path() / "metadata.db");
    ASSERT_TRUE(store) << store.error().message;
    store_ = std::move(*store);
  }
  TempDir dir_;
  std::unique_ptr<metadata::SqliteMetadataStore> store_;
};

TEST_F(SharedAdminCredential, FirstNodeStoresTheHashAndLaterNodesReadIt) {
  auto first = AdminCredential::open_shared(*store_, std::nullopt);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_TRUE(first->created);
  ASSERT_TRUE(first->generated_token);
  const std::string token = *first->generated_token;
  auto stored = store_->deployment_setting(kAdminTokenSetting);
  ASSERT_TRUE(stored && *stored);
  EXPECT_EQ((*stored)->find(token), std::string::npos) << "the plaintext must not be stored";
  EXPECT_EQ((*stored)->size(), 64u);

  // A later node, even with an initial token of its own, reads the stored hash.
  auto later = AdminCredential::open_shared(*store_, "another-token-0123456789");
  ASSERT_TRUE(later) << later.error().message;
  EXPECT_FALSE(later->created);
  EXPECT_FALSE(later->generated_token);
  EXPECT_TRUE(later->credential.verify(token));
  EXPECT_FALSE(later->credential.verify("another-token-0123456789"));
}

TEST_F(SharedAdminCredential, InitialTokenAndItsRules) {
  EXPECT_FALSE(AdminCredential::open_shared(*store_, "short"));
  auto opened = AdminCredential::open_shared(*store_, "chosen-token-0123456789");
  ASSERT_TRUE(opened) << opened.error().message;
  EXPECT_TRUE(opened->created);
  EXPECT_FALSE(opened->generated_token);
  EXPECT_TRUE(opened->credential.verify("chosen-token-0123456789"));
}

TEST_F(SharedAdminCredential, NodesStartingTogetherAgreeOnOneToken) {
  constexpr int kNodes = 8;
  std::vector<std::optional<AdminCredential::Opened>> opened(kNodes);
  std::vector<std::thread> nodes;
  for (int i = 0; i < kNodes; ++i) {
    nodes.emplace_back([&, i] {
      auto result = AdminCredential::open_shared(*store_, std::nullopt);
      if (result) opened[i] = std::move(*result);
    });
  }
  for (auto& node : nodes) node.join();
  int created = 0;
  std::string token;
  for (const auto& node : opened) {
    ASSERT_TRUE(node);
    if (node->created) {
      ++created;
      ASSERT_TRUE(node->generated_token);
      token = *node->generated_token;
    } else {
      EXPECT_FALSE(node->generated_token) << "only the node that stored it shows a token";
    }
  }
  EXPECT_EQ(created, 1);
  for (const auto& node : opened) EXPECT_TRUE(node->credential.verify(token));
}

TEST_F(SharedAdminCredential, CorruptStoredHashIsAnError) {
  ASSERT_TRUE(store_->put_deployment_setting(kAdminTokenSetting, "not a hash"));
  auto opened = AdminCredential::open_shared(*store_, std::nullopt);
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, Errc::corrupt);
}

TEST(AdminCredential, InitialTokenComesFromTheEnvironment) {
  ::setenv(std::string(kInitialAdminTokenVariable).c_str(), "from-the-environment-0123", 1);
  EXPECT_EQ(initial_admin_token_from_environment(), "from-the-environment-0123");
  ::setenv(std::string(kInitialAdminTokenVariable).c_str(), "", 1);
  EXPECT_FALSE(initial_admin_token_from_environment());
  ::unsetenv(std::string(kInitialAdminTokenVariable).c_str());
  EXPECT_FALSE(initial_admin_token_from_environment());
}

}  // namespace
}  // namespace berth::auth
