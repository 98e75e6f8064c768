#include "oci/digest.h"

#include <gtest/gtest.h>

#include <array>
#include <cctype>
#include <set>
#include <string>

namespace berth::oci {
namespace {

constexpr std::string_view kSha256Empty =
    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr std::string_view kSha256Abc =
    "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
constexpr std::string_view kSha512Empty =
    "sha512:cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
    "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e";
constexpr std::string_view kSha512Abc =
    "sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
    "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f";

TEST(Algorithm, NamesAndLengths) {
  EXPECT_EQ(algorithm_name(DigestAlgorithm::sha256), "sha256");
  EXPECT_EQ(algorithm_name(DigestAlgorithm::sha512), "sha512");
  EXPECT_EQ(hex_length(DigestAlgorithm::sha256), 64u);
  EXPECT_EQ(hex_length(DigestAlgorithm::sha512), 128u);
}

TEST(DigestOf, KnownSha256Vectors) {
  EXPECT_EQ(digest_of("").str(), kSha256Empty);
  EXPECT_EQ(digest_of("abc").str(), kSha256Abc);
  EXPECT_EQ(digest_of(std::string(1000, 'a')).str(),
            "sha256:41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3");
}

TEST(DigestOf, KnownSha512Vectors) {
  EXPECT_EQ(digest_of("", DigestAlgorithm::sha512).str(), kSha512Empty);
  Digest abc = digest_of("abc", DigestAlgorithm::sha512);
  EXPECT_EQ(abc.str(), kSha512Abc);
  EXPECT_EQ(abc.algorithm(), DigestAlgorithm::sha512);
  EXPECT_EQ(abc.hex(), kSha512Abc.substr(7));
}

TEST(DigestParse, AcceptsCanonicalForms) {
  auto sha256 = Digest::parse(kSha256Abc);
  ASSERT_TRUE(sha256);
  EXPECT_EQ(sha256->algorithm(), DigestAlgorithm::sha256);
  EXPECT_EQ(sha256->str(), kSha256Abc);
  EXPECT_EQ(sha256->hex(), kSha256Abc.substr(7));
  EXPECT_EQ(*sha256, digest_of("abc"));

  auto sha512 = Digest::parse(kSha512Empty);
  ASSERT_TRUE(sha512);
  EXPECT_EQ(sha512->algorithm(), DigestAlgorithm::sha512);
  EXPECT_EQ(*sha512, digest_of("", DigestAlgorithm::sha512));
}

TEST(DigestParse, RejectsBadForms) {
  std::string hex64(kSha256Abc.substr(7));
  std::string upper = hex64;
  for (char& c : upper) c = char(std::toupper(static_cast<unsigned char>(c)));
  const std::string bad[] = {
      "",
      ":",
      "sha256",
      "sha256:",
      hex64,                                   // no algorithm
      ":" + hex64,                             // empty algorithm
      "sha256:" + upper,                       // upper-case hex
      "SHA256:" + hex64,                       // upper-case algorithm
      "sha256:" + hex64.substr(1),             // 63 hex
      "sha256:" + hex64 + "0",                 // 65 hex
      "sha256:" + hex64.substr(1) + "g",       // not hex
      "sha256: " + hex64.substr(1),            // blank inside
      " sha256:" + hex64,                      // leading blank
      "sha256:" + hex64 + " ",                 // trailing blank
      "sha256:" + hex64 + "\n",                // trailing newline
      "sha256::" + hex64.substr(1),            // second colon
      "md5:d41d8cd98f00b204e9800998ecf8427e",  // unsupported algorithm
      "sha384:" + std::string(96, 'a'),        // unsupported algorithm
      "sha512:" + hex64,                       // sha512 with a sha256 length
      "sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564",
      std::string(kSha256Abc) + std::string(1, '\0'),
  };
  for (const auto& text : bad) {
    EXPECT_FALSE(Digest::parse(text)) << "accepted: " << text;
  }
}

TEST(DigestParse, OrdersAndComparesByText) {
  auto a = Digest::parse("sha256:" + std::string(64, 'a'));
  auto b = Digest::parse("sha256:" + std::string(64, 'b'));
  ASSERT_TRUE(a && b);
  EXPECT_LT(*a, *b);
  EXPECT_NE(*a, *b);
  std::set<Digest> set{*b, *a, *a};
  EXPECT_EQ(set.size(), 2u);
  EXPECT_EQ(*set.begin(), *a);
}

TEST(DigestValue, CopiesAndMovesKeepTheValue) {
  Digest original = digest_of("abc");
  Digest copy = original;
  EXPECT_EQ(copy, original);
  Digest moved = std::move(copy);
  EXPECT_EQ(moved.str(), kSha256Abc);
  EXPECT_EQ(moved.hex().size(), 64u);
  copy = original;  // assigning to a moved-from digest restores it
  EXPECT_EQ(copy.str(), kSha256Abc);
}

TEST(Hasher, IncrementalEqualsOneShot) {
  Hasher hasher;
  EXPECT_EQ(hasher.algorithm(), DigestAlgorithm::sha256);
  hasher.update("a");
  hasher.update("");
  hasher.update("bc");
  EXPECT_EQ(hasher.digest().str(), kSha256Abc);
}

TEST(Hasher, ByteSpanUpdate) {
  std::array<std::byte, 3> bytes{std::byte{'a'}, std::byte{'b'}, std::byte{'c'}};
  Hasher hasher(DigestAlgorithm::sha512);
  hasher.update(std::span<const std::byte>(bytes));
  EXPECT_EQ(hasher.digest().str(), kSha512Abc);
}

TEST(Hasher, DigestLeavesTheStateUnchanged) {
  Hasher hasher;
  hasher.update("ab");
  EXPECT_EQ(hasher.digest(), digest_of("ab"));
  EXPECT_EQ(hasher.digest(), digest_of("ab"));
  hasher.update("c");
  EXPECT_EQ(hasher.digest().str(), kSha256Abc);
}

TEST(Hasher, CopyContinuesIndependently) {
  Hasher original;
  original.update("a");
  Hasher copy(original);
  original.update("b");
  copy.update("c");
  EXPECT_EQ(original.digest(), digest_of("ab"));
  EXPECT_EQ(copy.digest(), digest_of("ac"));
}

TEST(Hasher, CopyAssignmentReplacesStateAndAlgorithm) {
  Hasher source(DigestAlgorithm::sha512);
  source.update("ab");
  Hasher target;
  target.update("unrelated");
  target = source;
  EXPECT_EQ(target.algorithm(), DigestAlgorithm::sha512);
  target.update("c");
  EXPECT_EQ(target.digest().str(), kSha512Abc);
  EXPECT_EQ(source.digest(), digest_of("ab", DigestAlgorithm::sha512));

  const Hasher& alias = target;
  target = alias;  // self-assignment keeps the state
  EXPECT_EQ(target.digest().str(), kSha512Abc);
}

TEST(Hasher, MoveKeepsTheState) {
  Hasher hasher;
  hasher.update("ab");
  Hasher moved(std::move(hasher));
  moved.update("c");
  EXPECT_EQ(moved.digest().str(), kSha256Abc);
  Hasher assigned(DigestAlgorithm::sha512);
  assigned = std::move(moved);
  EXPECT_EQ(assigned.algorithm(), DigestAlgorithm::sha256);
  EXPECT_EQ(assigned.digest().str(), kSha256Abc);
}

TEST(Hasher, EmptyInputs) {
  EXPECT_EQ(Hasher().digest().str(), kSha256Empty);
  EXPECT_EQ(Hasher(DigestAlgorithm::sha512).digest().str(), kSha512Empty);
}

}  // namespace
}  // namespace berth::oci
