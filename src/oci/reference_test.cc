#include "oci/reference.h"

#include <gtest/gtest.h>

#include <string>

namespace berth::oci {
namespace {

TEST(RepositoryName, AcceptsSpecExamples) {
  const std::string valid[] = {
      "a",
      "0",
      "library/ubuntu",
      "my-org/my-team/app",
      "a.b",
      "a_b",
      "a__b",
      "a-b",
      "a--b",
      "a---------b",
      "a.b_c__d-e",
      "0a/1b/2c/3d/4e/5f",
      "foo/bar.baz/q_x",
      "helm-charts/nginx",
  };
  for (const auto& name : valid) {
    EXPECT_TRUE(is_valid_repository_name(name)) << "rejected: " << name;
  }
}

TEST(RepositoryName, RejectsBadSeparators) {
  const std::string invalid[] = {
      "a___b",  // three underscores
      "a..b",   // two dots
      "a._b",   // mixed separators
      "a_.b",  "a-_b", "a_-b", "a.-b", "a-.b",
      ".a",  // leading separator
      "_a",    "-a",
      "a.",  // trailing separator
      "a_",    "a__",  "a-",
      "a/.b",  // component starting with a separator
      "a/b-",  "a-/b",
  };
  for (const auto& name : invalid) {
    EXPECT_FALSE(is_valid_repository_name(name)) << "accepted: " << name;
  }
}

TEST(RepositoryName, RejectsBadComponentsAndCharacters) {
  const std::string invalid[] = {
      "",
      "/",
      "/a",
      "a/",
      "a//b",
      "A",
      "library/Ubuntu",
      "a b",
      "a:b",
      "a@b",
      "a\\b",
      "a\nb",
      "caf\xc3\xa9",
      std::string("a\0b", 3),
      "a/../b",
      "..",
      "localhost:5000/a",
  };
  for (const auto& name : invalid) {
    EXPECT_FALSE(is_valid_repository_name(name)) << "accepted: " << name;
  }
}

TEST(RepositoryName, LengthLimit) {
  std::string longest(kMaxRepositoryNameLength, 'a');
  EXPECT_TRUE(is_valid_repository_name(longest));
  EXPECT_FALSE(is_valid_repository_name(longest + "a"));

  // 127 two-byte components plus "a": exactly 255 bytes with many components.
  std::string many;
  for (int i = 0; i < 127; ++i) many += "a/";
  many += "a";
  ASSERT_EQ(many.size(), 255u);
  EXPECT_TRUE(is_valid_repository_name(many));
  EXPECT_FALSE(is_valid_repository_name(many + "a"));
}

TEST(RepositoryName, LongHostileInputIsRejectedQuickly) {
  std::string hostile(1 << 20, 'a');
  hostile.back() = '!';
  EXPECT_FALSE(is_valid_repository_name(hostile));
  EXPECT_FALSE(is_valid_repository_name(std::string(1 << 20, '-')));
}

TEST(Tag, AcceptsValidTags) {
  const std::string valid[] = {
      "latest",
      "v1.2.3",
      "1",
      "_",
      "_private",
      "A",
      "UPPER-lower_1.2",
      "sha256-abc.sig",
      "3.19",
      "a-",
      "a.",
      "a..b",
      std::string(128, 'x'),
  };
  for (const auto& tag : valid) {
    EXPECT_TRUE(is_valid_tag(tag)) << "rejected: " << tag;
  }
}

TEST(Tag, RejectsInvalidTags) {
  const std::string invalid[] = {
      "",
      ".",
      "-",
      ".hidden",
      "-dash",
      "a:b",
      "a/b",
      "a b",
      "a+b",
      "a@b",
      "é",
      std::string(129, 'x'),
      std::string("a\0", 2),
  };
  for (const auto& tag : invalid) {
    EXPECT_FALSE(is_valid_tag(tag)) << "accepted: " << tag;
  }
}

TEST(Reference, TagOrDigest) {
  auto tag = parse_reference("v1.0");
  ASSERT_TRUE(tag);
  ASSERT_TRUE(std::holds_alternative<std::string>(*tag));
  EXPECT_EQ(std::get<std::string>(*tag), "v1.0");

  std::string text = "sha256:" + std::string(64, 'e');
  auto digest = parse_reference(text);
  ASSERT_TRUE(digest);
  ASSERT_TRUE(std::holds_alternative<Digest>(*digest));
  EXPECT_EQ(std::get<Digest>(*digest).str(), text);

  auto sha512 = parse_reference("sha512:" + std::string(128, '0'));
  ASSERT_TRUE(sha512);
  EXPECT_EQ(std::get<Digest>(*sha512).algorithm(), DigestAlgorithm::sha512);
}

TEST(Reference, RejectsNeither) {
  const std::string invalid[] = {
      "",
      ".tag",
      std::string(129, 'a'),
      "sha256:abc",                      // a colon makes it a digest, and a bad one
      "sha256:" + std::string(64, 'E'),  // upper-case hex
      "md5:d41d8cd98f00b204e9800998ecf8427e",
      "latest:",
      ":latest",
      "sha256-" + std::string(64, 'e') + ":x",
  };
  for (const auto& text : invalid) {
    EXPECT_FALSE(parse_reference(text)) << "accepted: " << text;
  }
  // Without a colon, a digest-looking string is just a (valid) tag.
  auto tag = parse_reference("sha256-" + std::string(64, 'e'));
  ASSERT_TRUE(tag);
  EXPECT_TRUE(std::holds_alternative<std::string>(*tag));
}

}  // namespace
}  // namespace berth::oci
