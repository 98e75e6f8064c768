#include "oci/digest.h"

#include <gtest/gtest.h>

#include <array>
#include <cctype>
#include <cstdint>
#include <functional>
#include <span>
#include <set>
#include <string>
#include <vector>

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

// ------------------------------------------------------------------ exported state

std::string pseudo_random(std::size_t size) {
  std::string out(size, '\0');
  std::uint32_t x = 2463534242u;
  for (char& c : out) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<char>(x);
  }
  return out;
}

// Raw SHA-256 of `bytes`, for tests that forge a record with a valid checksum.
std::vector<std::byte> raw_sha256(std::span<const std::byte> bytes) {
  Hasher hasher;
  hasher.update(bytes);
  std::string hex(hasher.digest().hex());
  std::vector<std::byte> raw;
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    raw.push_back(static_cast<std::byte>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return raw;
}

// `record` with its body changed by `edit` and the checksum recomputed: well-formed framing,
// so only the field checks can refuse it.
std::vector<std::byte> reforged(std::vector<std::byte> record,
                                const std::function<void(std::vector<std::byte>&)>& edit) {
  record.resize(record.size() - 32);
  edit(record);
  auto sum = raw_sha256(record);
  record.insert(record.end(), sum.begin(), sum.end());
  return record;
}

class HasherState : public ::testing::TestWithParam<DigestAlgorithm> {};

// Export after `split` bytes, import, hash the rest: the digest is the one-shot digest. The
// splits cover an empty state, block boundaries (64 for sha256, 128 for sha512) and odd offsets.
TEST_P(HasherState, ExportImportContinueEqualsOneShot) {
  const DigestAlgorithm algorithm = GetParam();
  const std::string content = pseudo_random(1000);
  const Digest expected = digest_of(content, algorithm);
  for (std::size_t split : {0, 1, 55, 56, 63, 64, 65, 111, 112, 127, 128, 129, 192, 256, 257, 999,
                            1000}) {
    Hasher first(algorithm);
    first.update(std::string_view(content).substr(0, split));
    std::vector<std::byte> state = first.export_state();
    auto resumed = Hasher::import_state(state);
    ASSERT_TRUE(resumed) << "split " << split;
    EXPECT_EQ(resumed->algorithm(), algorithm);
    EXPECT_EQ(resumed->byte_count(), split);
    EXPECT_EQ(resumed->export_state(), state) << "split " << split;
    EXPECT_EQ(resumed->digest(), first.digest()) << "split " << split;
    resumed->update(std::string_view(content).substr(split));
    EXPECT_EQ(resumed->digest(), expected) << "split " << split;
    EXPECT_EQ(resumed->byte_count(), content.size());
  }
}

TEST_P(HasherState, SeveralHopsInOddPieces) {
  const DigestAlgorithm algorithm = GetParam();
  const std::string content = pseudo_random(100'003);
  Hasher hasher(algorithm);
  std::size_t at = 0;
  std::size_t step = 1;
  while (at < content.size()) {
    const std::size_t n = std::min(step, content.size() - at);
    hasher.update(std::string_view(content).substr(at, n));
    at += n;
    auto resumed = Hasher::import_state(hasher.export_state());
    ASSERT_TRUE(resumed) << "at " << at;
    hasher = std::move(*resumed);
    step = step * 3 + 1;
  }
  EXPECT_EQ(hasher.digest(), digest_of(content, algorithm));
}

TEST_P(HasherState, ImportedHasherIsIndependentOfTheRecord) {
  Hasher hasher(GetParam());
  hasher.update("ab");
  const std::vector<std::byte> state = hasher.export_state();
  auto one = Hasher::import_state(state);
  auto two = Hasher::import_state(state);
  ASSERT_TRUE(one && two);
  one->update("c");
  two->update("d");
  EXPECT_EQ(one->digest(), digest_of("abc", GetParam()));
  EXPECT_EQ(two->digest(), digest_of("abd", GetParam()));
}

TEST_P(HasherState, DamagedRecordsAreRejected) {
  Hasher hasher(GetParam());
  hasher.update(pseudo_random(200));  // a partial block in both algorithms
  const std::vector<std::byte> state = hasher.export_state();
  ASSERT_TRUE(Hasher::import_state(state));

  EXPECT_FALSE(Hasher::import_state({}));
  for (std::size_t size = 0; size < state.size(); ++size) {
    EXPECT_FALSE(Hasher::import_state(std::span(state).first(size))) << "truncated to " << size;
  }
  auto longer = state;
  longer.push_back(std::byte{0});
  EXPECT_FALSE(Hasher::import_state(longer));
  for (std::size_t at = 0; at < state.size(); ++at) {
    auto flipped = state;
    flipped[at] ^= std::byte{0x10};
    EXPECT_FALSE(Hasher::import_state(flipped)) << "bit flipped at " << at;
  }
}

// Records with an intact checksum whose fields are wrong: what a buggy or foreign writer could
// produce. Each is refused by the field checks.
TEST_P(HasherState, WellFramedRecordsWithBadFieldsAreRejected) {
  Hasher hasher(GetParam());
  hasher.update(pseudo_random(200));
  const std::vector<std::byte> state = hasher.export_state();
  // Sanity: reforging without an edit gives the same, valid record.
  EXPECT_EQ(reforged(state, [](auto&) {}), state);

  EXPECT_FALSE(Hasher::import_state(reforged(state, [](auto& r) { r[0] = std::byte{2}; })));
  EXPECT_FALSE(Hasher::import_state(reforged(state, [](auto& r) { r[0] = std::byte{0}; })));
  EXPECT_FALSE(Hasher::import_state(reforged(state, [](auto& r) { r[1] = std::byte{0}; })));
  EXPECT_FALSE(Hasher::import_state(reforged(state, [](auto& r) { r[1] = std::byte{3}; })));
  // The other algorithm: the lengths of the chaining value and the tail no longer fit.
  EXPECT_FALSE(Hasher::import_state(reforged(state, [](auto& r) {
    r[1] = r[1] == std::byte{1} ? std::byte{2} : std::byte{1};
  })));
  // A byte count whose partial block is longer or shorter than the bytes present.
  EXPECT_FALSE(Hasher::import_state(reforged(state, [](auto& r) { r[9] ^= std::byte{1}; })));
  EXPECT_FALSE(Hasher::import_state(reforged(state, [](auto& r) { r.pop_back(); })));
  EXPECT_FALSE(Hasher::import_state(reforged(state, [](auto& r) { r.push_back(std::byte{0}); })));
  // A count beyond what the bit counter holds.
  EXPECT_FALSE(Hasher::import_state(reforged(state, [](auto& r) { r[2] = std::byte{0x20}; })));
  EXPECT_FALSE(Hasher::import_state(reforged(state, [](auto& r) { r[2] = std::byte{0xff}; })));
}

INSTANTIATE_TEST_SUITE_P(Algorithms, HasherState,
                         ::testing::Values(DigestAlgorithm::sha256, DigestAlgorithm::sha512),
                         [](const auto& info) { return std::string(algorithm_name(info.param)); });

TEST(HasherState, KnownVectorAcrossAnExport) {
  Hasher hasher;
  hasher.update("a");
  auto resumed = Hasher::import_state(hasher.export_state());
  ASSERT_TRUE(resumed);
  resumed->update("bc");
  EXPECT_EQ(resumed->digest().str(), kSha256Abc);

  Hasher sha512(DigestAlgorithm::sha512);
  sha512.update("ab");
  auto resumed512 = Hasher::import_state(sha512.export_state());
  ASSERT_TRUE(resumed512);
  resumed512->update("c");
  EXPECT_EQ(resumed512->digest().str(), kSha512Abc);
}

TEST(HasherState, LayoutOfASha256Record) {
  Hasher hasher;
  hasher.update(std::string(70, 'x'));
  const auto state = hasher.export_state();
  // version, algorithm, count, 8 words of 4 bytes, 6 tail bytes, checksum
  ASSERT_EQ(state.size(), 1u + 1 + 8 + 32 + 6 + 32);
  EXPECT_EQ(state[0], std::byte{1});
  EXPECT_EQ(state[1], std::byte{1});
  EXPECT_EQ(state[9], std::byte{70});
  for (std::size_t i = 0; i < 6; ++i) EXPECT_EQ(state[42 + i], std::byte{'x'});
}

}  // namespace
}  // namespace berth::oci
