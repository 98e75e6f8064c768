#include "cli/validate.h"

#include <gtest/gtest.h>

#include <string>

namespace berth::cli {
namespace {

const std::string kDigest = "sha256:" + std::string(64, 'a');

TEST(RegistryName, FiveToFiftyAlphanumerics) {
  EXPECT_FALSE(check_registry_name("abcde"));
  EXPECT_FALSE(check_registry_name("MyRegistry01"));
  EXPECT_FALSE(check_registry_name(std::string(50, 'x')));
  EXPECT_TRUE(check_registry_name("abcd"));
  EXPECT_TRUE(check_registry_name(std::string(51, 'x')));
  EXPECT_TRUE(check_registry_name("my-registry"));
  EXPECT_TRUE(check_registry_name("my_registry"));
  EXPECT_TRUE(check_registry_name(""));
  EXPECT_TRUE(check_registry_name("caf\xC3\xA9s"));
  EXPECT_EQ(*check_registry_name("ab"), "registry name 'ab' must be 5-50 letters or digits");
}

TEST(RepositoryName, OciGrammar) {
  for (const char* ok : {"app", "team/app", "a.b/c_d/e__f/g--h", "x1/2y", "a-b"}) {
    EXPECT_FALSE(check_repository_name(ok)) << ok;
  }
  for (const char* bad :
       {"", "App", "team//app", "/app", "app/", "a..b", "a___b", "-a", "a-", "a:b", "a@b", "a b"}) {
    EXPECT_TRUE(check_repository_name(bad)) << bad;
  }
}

TEST(Tag, OciGrammar) {
  EXPECT_FALSE(check_tag("latest"));
  EXPECT_FALSE(check_tag("_x"));
  EXPECT_FALSE(check_tag("V1.2-rc_3"));
  EXPECT_FALSE(check_tag(std::string(128, 'a')));
  EXPECT_TRUE(check_tag(std::string(129, 'a')));
  EXPECT_TRUE(check_tag(""));
  EXPECT_TRUE(check_tag(".x"));
  EXPECT_TRUE(check_tag("-x"));
  EXPECT_TRUE(check_tag("a/b"));
}

TEST(Digest, AlgorithmAndHex) {
  EXPECT_FALSE(check_digest(kDigest));
  EXPECT_FALSE(check_digest("sha512:" + std::string(128, '0')));
  EXPECT_FALSE(check_digest("multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8"));
  EXPECT_TRUE(check_digest("sha256:" + std::string(63, 'a')));
  EXPECT_TRUE(check_digest("sha256:" + std::string(64, 'A')));
  EXPECT_TRUE(check_digest("sha256"));
  EXPECT_TRUE(check_digest(":abc"));
  EXPECT_TRUE(check_digest("sha256:"));
}

TEST(ImageReference, TagForm) {
  auto ref = parse_image_reference("team/app:v1");
  ASSERT_TRUE(ref);
  EXPECT_EQ(ref->repository, "team/app");
  EXPECT_EQ(ref->tag, "v1");
  EXPECT_EQ(ref->digest, "");
}

TEST(ImageReference, DigestForm) {
  auto ref = parse_image_reference("team/app@" + kDigest);
  ASSERT_TRUE(ref);
  EXPECT_EQ(ref->repository, "team/app");
  EXPECT_EQ(ref->tag, "");
  EXPECT_EQ(ref->digest, kDigest);
}

TEST(ImageReference, RefusesWithUsageError) {
  for (std::string bad :
       {std::string("team/app"), "team/app:v1@" + kDigest, std::string("Team/app:v1"),
        std::string("app:"), std::string("app@sha256:zz"), std::string(":v1"),
        std::string("app:v1/x")}) {
    auto ref = parse_image_reference(bad);
    ASSERT_FALSE(ref) << bad;
    EXPECT_EQ(ref.error().code, ExitCode::kUsage) << bad;
  }
}

}  // namespace
}  // namespace berth::cli
