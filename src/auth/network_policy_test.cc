#include "auth/network_policy.h"

#include <gtest/gtest.h>

#include <string>

namespace berth::auth {
namespace {

IpAddress address(std::string_view text) {
  auto parsed = IpAddress::parse(text);
  EXPECT_TRUE(parsed) << text;
  return parsed.value_or(IpAddress{});
}

IpRange range(std::string_view text) {
  auto parsed = IpRange::parse(text);
  EXPECT_TRUE(parsed) << text;
  return parsed.value_or(IpRange{});
}

// ------------------------------------------------------------------ addresses

TEST(IpAddress, ParsesIpv4AndIpv6InTheirCanonicalForms) {
  EXPECT_EQ(address("192.0.2.1").str(), "192.0.2.1");
  EXPECT_FALSE(address("192.0.2.1").v6);
  EXPECT_EQ(address("0.0.0.0").str(), "0.0.0.0");
  EXPECT_EQ(address("255.255.255.255").str(), "255.255.255.255");
  EXPECT_EQ(address("2001:db8::1").str(), "2001:db8::1");
  EXPECT_TRUE(address("2001:db8::1").v6);
  EXPECT_EQ(address("[2001:db8::1]").str(), "2001:db8::1");
  EXPECT_EQ(address("::").str(), "::");
  EXPECT_EQ(address("::1").str(), "::1");
}

TEST(IpAddress, CompressionFormsOfOneAddressAreEqualAndPrintedPerRfc5952) {
  const char* spellings[] = {"2001:db8:0:0:0:0:2:1", "2001:0db8::0002:0001", "2001:DB8::2:1",
                             "2001:db8:0000:0000:0000:0000:0002:0001"};
  for (const char* spelling : spellings) {
    IpAddress parsed = address(spelling);
    EXPECT_EQ(parsed.str(), "2001:db8::2:1") << spelling;
    EXPECT_EQ(parsed.bytes, address("2001:db8::2:1").bytes) << spelling;
  }
  // One zero group is not compressed; of two equal runs the first is; the longer run wins.
  EXPECT_EQ(address("2001:db8:0:1:1:1:1:1").str(), "2001:db8:0:1:1:1:1:1");
  EXPECT_EQ(address("2001:0:0:1:0:0:1:1").str(), "2001::1:0:0:1:1");
  EXPECT_EQ(address("2001:0:1:0:0:0:1:1").str(), "2001:0:1::1:1");
  EXPECT_EQ(address("1:0:0:0:0:0:0:0").str(), "1::");
  EXPECT_EQ(address("0:0:0:0:0:0:0:1").str(), "::1");
  EXPECT_EQ(address("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff").str(),
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
}

TEST(IpAddress, Ipv4MappedIpv6IsTheIpv4Address) {
  for (const char* spelling :
       {"::ffff:192.0.2.1", "[::ffff:192.0.2.1]", "::FFFF:c000:0201", "0:0:0:0:0:ffff:192.0.2.1"}) {
    IpAddress parsed = address(spelling);
    EXPECT_FALSE(parsed.v6) << spelling;
    EXPECT_EQ(parsed.str(), "192.0.2.1") << spelling;
    EXPECT_EQ(parsed.bytes, address("192.0.2.1").bytes) << spelling;
  }
  // IPv4-compatible (deprecated) and NAT64 addresses are not mapped: they stay IPv6.
  EXPECT_TRUE(address("::c000:201").v6);
  EXPECT_TRUE(address("64:ff9b::192.0.2.1").v6);
}

TEST(IpAddress, RefusesGarbageZonesPortsAndWhitespace) {
  const char* refused[] = {
      "",
      " ",
      "192.0.2.1 ",
      " 192.0.2.1",
      "192.0.2.1\n",
      "192.0.2.1:80",
      "[2001:db8::1]:443",
      "fe80::1%eth0",
      "[fe80::1%25eth0]",
      "192.0.2",
      "192.0.2.1.5",
      "192.0.2.256",
      "192.0.2.-1",
      "192.0.02.1",  // a leading zero reads as octal in some parsers
      "0x7f.0.0.1",
      "2130706433",
      "1.2.3.4/32",
      "2001:db8:::1",
      "2001:db8::1::2",
      "1:2:3:4:5:6:7:8:9",
      "12345::1",
      "g::1",
      "[192.0.2.1]",
      "[::1",
      "::1]",
      "[]",
      "localhost",
      "::ffff:192.0.2.256",
  };
  for (const char* text : refused) {
    EXPECT_FALSE(IpAddress::parse(text)) << '"' << text << '"';
  }
  EXPECT_FALSE(IpAddress::parse(std::string_view("192.0.2.1\0garbage", 17)));
  EXPECT_FALSE(IpAddress::parse(std::string(1000, '1')));
  EXPECT_FALSE(IpAddress::parse(std::string(100, ':')));
}

// ------------------------------------------------------------------ ranges

TEST(IpRange, ParsesAndPrintsWithThePrefixLength) {
  EXPECT_EQ(range("10.0.0.0/8").str(), "10.0.0.0/8");
  EXPECT_EQ(range("192.0.2.1").str(), "192.0.2.1/32");
  EXPECT_EQ(range("::1").str(), "::1/128");
  EXPECT_EQ(range("2001:0DB8::/32").str(), "2001:db8::/32");
  EXPECT_EQ(range("0.0.0.0/0").str(), "0.0.0.0/0");
  EXPECT_EQ(range("::/0").str(), "::/0");
  EXPECT_EQ(range("::ffff:10.0.0.0/104").str(), "10.0.0.0/8");
  EXPECT_EQ(range("::ffff:192.0.2.1").str(), "192.0.2.1/32");
}

TEST(IpRange, RefusesHostBitsBadPrefixesAndGarbage) {
  const char* refused[] = {
      "10.0.0.1/8",    "192.0.2.1/31",   "2001:db8::1/32", "10.0.0.0/33",   "::/129",
      "10.0.0.0/-1",   "10.0.0.0/+8",    "10.0.0.0/08",    "10.0.0.0/",     "10.0.0.0/8/8",
      "10.0.0.0/ 8",   " 10.0.0.0/8",    "10.0.0.0/8 ",    "/8",            "10.0.0.0/1000",
      "[::1]/128",     "::ffff:0:0/95",  "fe80::%eth0/64", "10.0.0.0/8a",   "",
      "10.0.0.0/0x8",  "garbage/8",
  };
  for (const char* text : refused) {
    EXPECT_FALSE(IpRange::parse(text)) << '"' << text << '"';
  }
}

TEST(IpRange, BoundariesOfTheIpv4Prefix) {
  IpRange everything = range("0.0.0.0/0");
  EXPECT_TRUE(everything.contains(address("0.0.0.0")));
  EXPECT_TRUE(everything.contains(address("255.255.255.255")));
  EXPECT_TRUE(everything.contains(address("::ffff:198.51.100.7")));
  EXPECT_FALSE(everything.contains(address("2001:db8::1"))) << "IPv4 ranges hold no IPv6";

  IpRange one = range("192.0.2.7/32");
  EXPECT_TRUE(one.contains(address("192.0.2.7")));
  EXPECT_FALSE(one.contains(address("192.0.2.6")));
  EXPECT_FALSE(one.contains(address("192.0.2.8")));

  IpRange pair = range("192.0.2.6/31");
  EXPECT_TRUE(pair.contains(address("192.0.2.6")));
  EXPECT_TRUE(pair.contains(address("192.0.2.7")));
  EXPECT_FALSE(pair.contains(address("192.0.2.5")));
  EXPECT_FALSE(pair.contains(address("192.0.2.8")));

  IpRange odd = range("10.128.0.0/9");
  EXPECT_TRUE(odd.contains(address("10.128.0.0")));
  EXPECT_TRUE(odd.contains(address("10.255.255.255")));
  EXPECT_FALSE(odd.contains(address("10.127.255.255")));
  EXPECT_FALSE(odd.contains(address("11.128.0.0")));
}

TEST(IpRange, BoundariesOfTheIpv6Prefix) {
  IpRange everything = range("::/0");
  EXPECT_TRUE(everything.contains(address("::")));
  EXPECT_TRUE(everything.contains(address("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")));
  EXPECT_FALSE(everything.contains(address("192.0.2.1"))) << "IPv6 ranges hold no IPv4";
  EXPECT_FALSE(everything.contains(address("::ffff:192.0.2.1")));

  IpRange one = range("2001:db8::5/128");
  EXPECT_TRUE(one.contains(address("2001:db8:0:0::5")));
  EXPECT_FALSE(one.contains(address("2001:db8::4")));
  EXPECT_FALSE(one.contains(address("2001:db8::6")));

  IpRange documentation = range("2001:db8::/32");
  EXPECT_TRUE(documentation.contains(address("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff")));
  EXPECT_FALSE(documentation.contains(address("2001:db9::")));
  EXPECT_FALSE(documentation.contains(address("2001:db7:ffff::")));

  IpRange pair = range("2001:db8::/127");
  EXPECT_TRUE(pair.contains(address("2001:db8::1")));
  EXPECT_FALSE(pair.contains(address("2001:db8::2")));
}

TEST(IpRange, AMappedRangeMatchesPlainIpv4Clients) {
  IpRange mapped = range("::ffff:10.0.0.0/104");
  EXPECT_TRUE(mapped.contains(address("10.1.2.3")));
  EXPECT_TRUE(mapped.contains(address("::ffff:10.1.2.3")));
  EXPECT_FALSE(mapped.contains(address("11.0.0.0")));
}

TEST(DefaultAction, ParsesIgnoringCaseAndNamesCanonically) {
  EXPECT_EQ(parse_default_action("Allow"), DefaultAction::allow);
  EXPECT_EQ(parse_default_action("aLLOW"), DefaultAction::allow);
  EXPECT_EQ(parse_default_action("DENY"), DefaultAction::deny);
  EXPECT_FALSE(parse_default_action(""));
  EXPECT_FALSE(parse_default_action("Allow "));
  EXPECT_FALSE(parse_default_action("Allowed"));
  EXPECT_FALSE(parse_default_action("yes"));
  EXPECT_EQ(default_action_name(DefaultAction::allow), "Allow");
  EXPECT_EQ(default_action_name(DefaultAction::deny), "Deny");
}

// ------------------------------------------------------------------ policy

TEST(NetworkAllows, TheOpenDefaultAllowsEveryoneEvenUnparsedAddresses) {
  NetworkPolicy open;
  EXPECT_TRUE(network_allows(open, "203.0.113.9"));
  EXPECT_TRUE(network_allows(open, "2001:db8::1"));
  EXPECT_TRUE(network_allows(open, "not an address"));
  EXPECT_TRUE(network_allows(open, ""));
}

TEST(NetworkAllows, DenyByDefaultAdmitsOnlyAllowRules) {
  NetworkPolicy policy{.public_access = true,
                       .default_action = DefaultAction::deny,
                       .allow = {range("198.51.100.0/24"), range("2001:db8:1::/48")}};
  EXPECT_TRUE(network_allows(policy, "198.51.100.0"));
  EXPECT_TRUE(network_allows(policy, "198.51.100.255"));
  EXPECT_TRUE(network_allows(policy, "::ffff:198.51.100.20"));
  EXPECT_TRUE(network_allows(policy, "2001:db8:1:ffff::1"));
  EXPECT_FALSE(network_allows(policy, "198.51.101.0"));
  EXPECT_FALSE(network_allows(policy, "2001:db8:2::1"));
  EXPECT_FALSE(network_allows(policy, "127.0.0.1")) << "loopback has no exemption here";
  EXPECT_FALSE(network_allows(policy, "garbage"));
  EXPECT_FALSE(network_allows(policy, ""));
  EXPECT_FALSE(network_allows(policy, "198.51.100.1:5000"));
  EXPECT_FALSE(network_allows(policy, " 198.51.100.1"));

  NetworkPolicy nothing_allowed{.public_access = true, .default_action = DefaultAction::deny};
  EXPECT_FALSE(network_allows(nothing_allowed, "198.51.100.1"));
}

TEST(NetworkAllows, AllowByDefaultWithRulesStillAdmitsEveryone) {
  NetworkPolicy policy{.public_access = true,
                       .default_action = DefaultAction::allow,
                       .allow = {range("198.51.100.0/24")}};
  EXPECT_TRUE(network_allows(policy, "203.0.113.1"));
  EXPECT_TRUE(network_allows(policy, "198.51.100.1"));
}

TEST(NetworkAllows, WithoutPublicAccessOnlyLoopbackGetsIn) {
  for (DefaultAction action : {DefaultAction::allow, DefaultAction::deny}) {
    NetworkPolicy policy{.public_access = false,
                         .default_action = action,
                         .allow = {range("0.0.0.0/0"), range("::/0")}};
    EXPECT_TRUE(network_allows(policy, "127.0.0.1"));
    EXPECT_TRUE(network_allows(policy, "127.255.255.254"));
    EXPECT_TRUE(network_allows(policy, "::1"));
    EXPECT_TRUE(network_allows(policy, "::ffff:127.0.0.1"));
    EXPECT_FALSE(network_allows(policy, "128.0.0.1"));
    EXPECT_FALSE(network_allows(policy, "126.255.255.255"));
    EXPECT_FALSE(network_allows(policy, "::2"));
    EXPECT_FALSE(network_allows(policy, "::"));
    EXPECT_FALSE(network_allows(policy, "198.51.100.1"));
    EXPECT_FALSE(network_allows(policy, "localhost"));
    EXPECT_FALSE(network_allows(policy, ""));
  }
}

// ------------------------------------------------------------------ trusted proxies

TEST(TrustedProxies, WithoutTrustedProxiesForwardedForIsIgnored) {
  TrustedProxies none;
  EXPECT_TRUE(none.empty());
  EXPECT_EQ(none.client_address("203.0.113.5", {"198.51.100.1"}), "203.0.113.5");
  EXPECT_EQ(none.client_address("127.0.0.1", {"198.51.100.1"}), "127.0.0.1");
}

TEST(TrustedProxies, ASpoofedHeaderFromAnUntrustedPeerIsIgnored) {
  TrustedProxies proxies({range("10.0.0.0/8")});
  EXPECT_FALSE(proxies.empty());
  EXPECT_EQ(proxies.client_address("203.0.113.5", {"127.0.0.1"}), "203.0.113.5");
  EXPECT_EQ(proxies.client_address("203.0.113.5", {"10.0.0.1, 127.0.0.1"}), "203.0.113.5");
  EXPECT_EQ(proxies.client_address("garbage", {"127.0.0.1"}), "garbage");
}

TEST(TrustedProxies, ATrustedPeerNamesTheClient) {
  TrustedProxies proxies({range("10.0.0.0/8")});
  EXPECT_EQ(proxies.client_address("10.0.0.2", {"203.0.113.5"}), "203.0.113.5");
  EXPECT_EQ(proxies.client_address("::ffff:10.0.0.2", {" 203.0.113.5\t"}), "203.0.113.5");
  EXPECT_EQ(proxies.client_address("10.0.0.2", {"2001:DB8::0:1"}), "2001:db8::1");
  EXPECT_EQ(proxies.client_address("10.0.0.2", {"[2001:db8::1]"}), "2001:db8::1");
  EXPECT_EQ(proxies.client_address("10.0.0.2", {"::ffff:203.0.113.5"}), "203.0.113.5");
  // No header at all: the proxy itself is the client.
  EXPECT_EQ(proxies.client_address("10.0.0.2", {}), "10.0.0.2");
}

TEST(TrustedProxies, TheWalkGoesFromTheRightAndStopsAtTheFirstUntrustedHop) {
  TrustedProxies proxies({range("10.0.0.0/8"), range("2001:db8:ffff::/48")});
  // The client prepended a forged hop; the proxies appended what they saw.
  EXPECT_EQ(proxies.client_address("10.0.0.1", {"192.0.2.66, 203.0.113.5, 10.0.0.9, 10.0.0.8"}),
            "203.0.113.5");
  EXPECT_EQ(proxies.client_address("10.0.0.1", {"203.0.113.5,2001:db8:ffff::1"}), "203.0.113.5");
  // Every hop trusted: the leftmost (farthest) proxy is the best we know.
  EXPECT_EQ(proxies.client_address("10.0.0.1", {"10.0.0.3, 10.0.0.2"}), "10.0.0.3");
}

TEST(TrustedProxies, EveryHeaderLineCountsInOrder) {
  TrustedProxies proxies({range("10.0.0.0/8")});
  EXPECT_EQ(proxies.client_address("10.0.0.1", {"192.0.2.66", "203.0.113.5, 10.0.0.7"}),
            "203.0.113.5");
  EXPECT_EQ(proxies.client_address("10.0.0.1", {"192.0.2.66, 203.0.113.5", "10.0.0.7"}),
            "203.0.113.5");
  EXPECT_EQ(proxies.client_address("10.0.0.1", {"192.0.2.66", "10.0.0.8", "10.0.0.7"}),
            "192.0.2.66");
}

TEST(TrustedProxies, GarbageStopsTheWalkAtTheLastTrustedHop) {
  TrustedProxies proxies({range("10.0.0.0/8")});
  // A client cannot hide behind a hop nobody can parse.
  EXPECT_EQ(proxies.client_address("10.0.0.1", {"203.0.113.5, unknown"}), "10.0.0.1");
  EXPECT_EQ(proxies.client_address("10.0.0.1", {"203.0.113.5, garbage, 10.0.0.4"}), "10.0.0.4");
  EXPECT_EQ(proxies.client_address("10.0.0.1", {"203.0.113.5:4711"}), "10.0.0.1");
  EXPECT_EQ(proxies.client_address("10.0.0.1", {"fe80::1%eth0"}), "10.0.0.1");
  EXPECT_EQ(proxies.client_address("10.0.0.1", {"203.0.113.5,,10.0.0.4"}), "10.0.0.4");
  EXPECT_EQ(proxies.client_address("10.0.0.1", {"203.0.113.5,"}), "10.0.0.1");
  EXPECT_EQ(proxies.client_address("10.0.0.1", {""}), "10.0.0.1");
  EXPECT_EQ(proxies.client_address("10.0.0.1", {"203.0.113.5", ""}), "10.0.0.1");
  EXPECT_EQ(proxies.client_address("10.0.0.1", {std::string_view("203.0.113.5\0", 12)}),
            "10.0.0.1");
}

TEST(TrustedProxies, AnOversizedHeaderIsWalkedWithoutTrouble) {
  TrustedProxies proxies({range("10.0.0.0/8")});
  std::string many = "203.0.113.5";
  for (int i = 0; i < 10'000; ++i) many += ", 10.0.0.9";
  EXPECT_EQ(proxies.client_address("10.0.0.1", {many}), "203.0.113.5");
  std::string junk(100'000, ',');
  EXPECT_EQ(proxies.client_address("10.0.0.1", {junk}), "10.0.0.1");
}

}  // namespace
}  // namespace berth::auth
