#include "http/request_checks.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace berth::http {
namespace {

TransferCoding check(std::vector<std::string_view> lines) { return check_transfer_encoding(lines); }

TEST(TransferEncodingCheck, OnlyABareChunkedIsDecoded) {
  EXPECT_EQ(check({"chunked"}), TransferCoding::chunked);
  EXPECT_EQ(check({"Chunked"}), TransferCoding::chunked);
  EXPECT_EQ(check({" chunked\t"}), TransferCoding::chunked);
}

TEST(TransferEncodingCheck, ChunkedMissingNotLastOrRepeatedIsInvalid) {
  for (std::vector<std::string_view> lines :
       std::vector<std::vector<std::string_view>>{{"gzip"},
                                                  {"identity"},
                                                  {"xchunked"},
                                                  {"chunkedx"},
                                                  {"chunked, gzip"},
                                                  {"chunked, chunked"},
                                                  {"chunked", "chunked"},
                                                  {"chunked", "gzip"},
                                                  {"chunked;x=1"},
                                                  {"gzip, chunked, gzip"}}) {
    EXPECT_EQ(check(lines), TransferCoding::invalid) << lines.front();
  }
}

TEST(TransferEncodingCheck, MalformedListsAreInvalid) {
  for (std::string_view line : {"", " ", ",", "chunked,", ", chunked", "gzip,,chunked",
                                "chunked chunked", "\"chunked\"", "chun\x01ked", "gzip;"}) {
    EXPECT_EQ(check({line}), TransferCoding::invalid) << testing::PrintToString(std::string(line));
  }
  EXPECT_EQ(check({"gzip", ""}), TransferCoding::invalid);
}

TEST(TransferEncodingCheck, OtherCodingsBeforeChunkedAreUnsupported) {
  EXPECT_EQ(check({"gzip, chunked"}), TransferCoding::unsupported);
  EXPECT_EQ(check({"gzip", "chunked"}), TransferCoding::unsupported);
  EXPECT_EQ(check({"x;level=1 , chunked"}), TransferCoding::unsupported);
}

TEST(HostCheck, AcceptsNamesAddressesAndPorts) {
  for (std::string_view host :
       {"", "registry.example", "Registry.Example.", "registry.example:5000", "127.0.0.1",
        "127.0.0.1:80", "[::1]", "[::1]:5000", "[2001:db8::7]:443", "[::ffff:192.0.2.1]",
        "[v1.fe80::a+en1]", "a-b_c~d", "x%41y", "localhost:", "host:0", "host:65535",
        "a!$&'()*+,;=b"}) {
    EXPECT_TRUE(is_valid_host(host)) << host;
  }
}

TEST(HostCheck, RefusesWhatIsNotHostAndPort) {
  for (std::string_view host :
       {"evil.example/path", "a b", "user@evil.example", "x:80:80", "x:port", "x:123456",
        "x:65536", ":80", "[::1", "[::1]x", "[::1]:80:80", "[nothex]", "[]", "[v1.]", "h%zz",
        "h%4", "h%", "a\"b", "a<b", "a\\b", "a?b", "a#b", "a\rb", "a\tb",
        "[::1%25eth0]"}) {
    EXPECT_FALSE(is_valid_host(host)) << testing::PrintToString(std::string(host));
  }
  using namespace std::string_view_literals;
  EXPECT_FALSE(is_valid_host("[::1\0x]"sv));
  EXPECT_FALSE(is_valid_host("a\0b"sv));
}

}  // namespace
}  // namespace berth::http
