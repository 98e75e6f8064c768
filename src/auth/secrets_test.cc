#include "auth/secrets.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "common/temp_dir.h"
#include "support/unprivileged.h"

namespace berth::auth {
namespace {

namespace fs = std::filesystem;

using berth::TempDir;

DeploymentKey key_of(unsigned char fill) {
  std::array<unsigned char, 32> bytes{};
  bytes.fill(fill);
  return DeploymentKey::from_bytes(bytes);
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void write_file(const fs::path& path, std::string_view content) {
  std::ofstream out(path, std::ios::binary);
  out << content;
}

TEST(GenerateSecret, Is43CharactersOfBase64UrlAndNeverRepeats) {
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    std::string secret = generate_secret();
    EXPECT_EQ(secret.size(), 43u);
    EXPECT_EQ(secret.find_first_not_of(
                  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
              std::string::npos)
        << secret;
    EXPECT_TRUE(seen.insert(secret).second);
  }
}

TEST(EqualConstantTime, ComparesContentAndLength) {
  EXPECT_TRUE(equal_constant_time("", ""));
  EXPECT_TRUE(equal_constant_time("secret", "secret"));
  EXPECT_FALSE(equal_constant_time("secret", "secreT"));
  EXPECT_FALSE(equal_constant_time("secret", "secret "));
  EXPECT_FALSE(equal_constant_time("secret", ""));
  EXPECT_TRUE(equal_constant_time(std::string_view("a\0b", 3), std::string_view("a\0b", 3)));
  EXPECT_FALSE(equal_constant_time(std::string_view("a\0b", 3), std::string_view("a\0c", 3)));
}

TEST(DeploymentKey, IsCreatedOnceWithMode0600AndReadBack) {
  TempDir dir;
  auto first = DeploymentKey::open(dir.path(), std::nullopt);
  ASSERT_TRUE(first) << first.error().message;
  fs::path file = dir.path() / kDeploymentKeyFile;
  EXPECT_EQ(read_file(file).size(), 32u);
  struct stat info {};
  ASSERT_EQ(::stat(file.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600);
  // No temporary file is left behind.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 1);

  auto second = DeploymentKey::open(dir.path(), std::nullopt);
  ASSERT_TRUE(second);
  std::string sealed = first->seal("value");
  auto opened = second->unseal(sealed);
  ASSERT_TRUE(opened) << "the second start must read the same key";
  EXPECT_EQ(*opened, "value");
  EXPECT_EQ(first->keyed_hash("x"), second->keyed_hash("x"));
}

TEST(DeploymentKey, TwoDataDirectoriesGetDifferentKeys) {
  TempDir a, b;
  auto one = DeploymentKey::open(a.path(), std::nullopt);
  auto two = DeploymentKey::open(b.path(), std::nullopt);
  ASSERT_TRUE(one && two);
  EXPECT_NE(one->keyed_hash("x"), two->keyed_hash("x"));
}

TEST(DeploymentKey, ConcurrentFirstStartsAgreeOnOneKey) {
  TempDir dir;
  std::vector<std::string> hashes(8);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < hashes.size(); ++i) {
    threads.emplace_back([&, i] {
      auto key = DeploymentKey::open(dir.path(), std::nullopt);
      hashes[i] = key ? key->keyed_hash("x") : key.error().message;
    });
  }
  for (auto& thread : threads) thread.join();
  for (const std::string& hash : hashes) EXPECT_EQ(hash, hashes.front());
  EXPECT_TRUE(hashes.front().starts_with("k1$")) << hashes.front();
}

TEST(DeploymentKey, WrongSizedKeyFileIsCorrupt) {
  for (std::string content :
       {std::string(), std::string(31, 'a'), std::string(33, 'a'), std::string(4096, 'a')}) {
    TempDir dir;
    write_file(dir.path() / kDeploymentKeyFile, content);
    auto key = DeploymentKey::open(dir.path(), std::nullopt);
    ASSERT_FALSE(key) << content.size();
    EXPECT_EQ(key.error().code, SecretErrc::corrupt);
  }
}

TEST(DeploymentKey, EnvironmentValueWinsAndIsNotWrittenToDisk) {
  TempDir dir;
  // Base64 of 32 bytes of 0x01.
  std::string value = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
  auto key = DeploymentKey::open(dir.path(), value);
  ASSERT_TRUE(key) << key.error().message;
  EXPECT_EQ(key->keyed_hash("x"), key_of(0x01).keyed_hash("x"));
  EXPECT_FALSE(fs::exists(dir.path() / kDeploymentKeyFile));

  // An empty value means "not set": the file is used.
  auto from_file = DeploymentKey::open(dir.path(), std::string_view());
  ASSERT_TRUE(from_file);
  EXPECT_TRUE(fs::exists(dir.path() / kDeploymentKeyFile));
}

TEST(DeploymentKey, BadEnvironmentValuesAreRefused) {
  TempDir dir;
  for (std::string_view value :
       {"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQ==",    // 31 bytes
        "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB",    // 33 bytes
        "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE",     // padding missing
        "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\n",  // trailing newline
        "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQ-=",    // URL alphabet
        "not base64 at all"}) {
    auto key = DeploymentKey::open(dir.path(), value);
    ASSERT_FALSE(key) << value;
    EXPECT_EQ(key.error().code, SecretErrc::invalid_argument);
    EXPECT_EQ(key.error().message.find(value), std::string::npos) << "no secret in messages";
  }
}

TEST(DeploymentKey, UnwritableDataDirectoryIsAnIoError) {
  auto as_nobody = [] {
    TempDir dir;
    fs::permissions(dir.path(), fs::perms::owner_read | fs::perms::owner_exec);
    auto key = DeploymentKey::open(dir.path(), std::nullopt);
    ASSERT_FALSE(key);
    EXPECT_EQ(key.error().code, SecretErrc::io_error);
  };
  EXPECT_TRUE(run_unprivileged(as_nobody));
}

TEST(KeyedHash, IsHexBlake2bAndDiffersPerKeyAndSecret) {
  DeploymentKey a = key_of(1), b = key_of(2);
  std::string hash = a.keyed_hash("secret");
  ASSERT_EQ(hash.size(), 3u + 64u);
  EXPECT_TRUE(hash.starts_with("k1$"));
  EXPECT_EQ(hash.find_first_not_of("0123456789abcdef", 3), std::string::npos);
  EXPECT_EQ(hash, a.keyed_hash("secret"));
  EXPECT_NE(hash, b.keyed_hash("secret"));
  EXPECT_NE(hash, a.keyed_hash("secreu"));
  EXPECT_NE(a.keyed_hash(""), b.keyed_hash(""));
  EXPECT_EQ(hash_generated_secret(a, "secret"), hash);
}

TEST(Seal, RoundTripsAnyBytesWithAFreshNonceEachTime) {
  DeploymentKey key = key_of(7);
  std::string binary("\0\x01\xff text \n", 10);
  for (const std::string& plaintext :
       {std::string(), std::string("password"), binary, std::string(100000, 'x')}) {
    std::string sealed = key.seal(plaintext);
    EXPECT_TRUE(sealed.starts_with("s1$"));
    if (plaintext.size() >= 8) {
      EXPECT_EQ(sealed.find(plaintext), std::string::npos);
    }
    auto opened = key.unseal(sealed);
    ASSERT_TRUE(opened) << opened.error().message;
    EXPECT_EQ(*opened, plaintext);
  }
  EXPECT_NE(key.seal("same"), key.seal("same"));
}

TEST(Seal, AnotherKeyOrAnyDamageIsRefused) {
  DeploymentKey key = key_of(7);
  std::string sealed = key.seal("the admin password");
  auto other = key_of(8).unseal(sealed);
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().code, SecretErrc::corrupt);

  // Flip one base64 character at every position after the prefix.
  for (std::size_t i = 3; i < sealed.size() && sealed[i] != '='; ++i) {
    std::string damaged = sealed;
    damaged[i] = damaged[i] == 'A' ? 'B' : 'A';
    auto opened = key.unseal(damaged);
    if (opened) {
      // A different spelling of the same bits is impossible: canonical base64 only.
      ADD_FAILURE() << "damage at " << i << " was not detected";
    }
  }
  for (std::string_view bad :
       {"", "s1$", "s1$AAAA", "s2$" /* unknown version */, "k1$abcd", "s1$not base64!"}) {
    auto opened = key.unseal(bad);
    ASSERT_FALSE(opened) << bad;
    EXPECT_EQ(opened.error().code, SecretErrc::corrupt);
  }
  std::string truncated = sealed.substr(0, sealed.size() - 4);
  EXPECT_FALSE(key.unseal(truncated));
  // A sealed value with another version prefix but the same body.
  std::string renamed = "s2$";
  renamed += sealed.substr(3);
  EXPECT_FALSE(key.unseal(renamed));
}

TEST(HashPassword, IsArgon2idWithASaltAndVerifies) {
  DeploymentKey key = key_of(3);
  std::string stored = hash_password("correct horse");
  EXPECT_TRUE(stored.starts_with("$argon2id$")) << stored;
  EXPECT_EQ(stored.find("correct horse"), std::string::npos);
  EXPECT_NE(stored, hash_password("correct horse")) << "each hash has its own salt";
  EXPECT_TRUE(verify_secret(key, "correct horse", stored));
  EXPECT_FALSE(verify_secret(key, "correct horsE", stored));
  EXPECT_FALSE(verify_secret(key, "", stored));
  // The argon2id form does not depend on the deployment key.
  EXPECT_TRUE(verify_secret(key_of(4), "correct horse", stored));
}

TEST(VerifySecret, KeyedFormNeedsTheSameKey) {
  DeploymentKey key = key_of(5);
  std::string secret = generate_secret();
  std::string stored = hash_generated_secret(key, secret);
  EXPECT_TRUE(verify_secret(key, secret, stored));
  EXPECT_FALSE(verify_secret(key, secret + "x", stored));
  EXPECT_FALSE(verify_secret(key_of(6), secret, stored));
}

TEST(VerifySecret, UnknownOrDamagedFormsAreFalse) {
  DeploymentKey key = key_of(5);
  std::string stored = hash_generated_secret(key, "s");
  std::string upper = stored;
  for (std::size_t i = 3; i < upper.size(); ++i) {
    upper[i] = static_cast<char>(std::toupper(static_cast<unsigned char>(upper[i])));
  }
  ASSERT_NE(upper, stored);
  std::string capital_prefix = "K1$";
  capital_prefix += stored.substr(3);
  std::string argon = hash_password("s");
  std::string argon_with_nul = argon;
  argon_with_nul.insert(12, 1, '\0');
  std::string argon_too_long = argon;
  argon_too_long.append(200, 'a');
  for (const std::string& bad :
       {std::string(), std::string("s"), std::string("k1$"), stored.substr(0, stored.size() - 1),
        upper, capital_prefix, std::string("$argon2i$v=19$m=1,t=1,p=1$x$y"),
        std::string("$argon2id$"), argon_with_nul, argon_too_long, key.seal("s")}) {
    EXPECT_FALSE(verify_secret(key, "s", bad)) << bad;
  }
}

}  // namespace
}  // namespace berth::auth
