#include "client/destination.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

namespace berth::client {
namespace {

sockaddr_in v4(const char* text) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  inet_pton(AF_INET, text, &address.sin_addr);
  return address;
}

sockaddr_in6 v6(const char* text) {
  sockaddr_in6 address{};
  address.sin6_family = AF_INET6;
  inet_pton(AF_INET6, text, &address.sin6_addr);
  return address;
}

template <class Address>
std::optional<std::string> refused(const Address& address, DestinationPolicy policy = {}) {
  return refuse_socket_address(reinterpret_cast<const sockaddr*>(&address), policy);
}

TEST(Destination, SocketAddressesAreJudgedLikeParsedOnes) {
  EXPECT_FALSE(refused(v4("127.0.0.1")));
  EXPECT_FALSE(refused(v4("10.1.2.3")));
  EXPECT_FALSE(refused(v6("::1")));
  EXPECT_FALSE(refused(v6("2001:db8::1")));
  EXPECT_TRUE(refused(v4("169.254.169.254")));
  EXPECT_TRUE(refused(v4("168.63.129.16")));
  EXPECT_TRUE(refused(v4("100.100.100.200")));
  EXPECT_TRUE(refused(v4("0.0.0.0")));
  EXPECT_TRUE(refused(v6("fe80::1")));
  EXPECT_TRUE(refused(v6("fd00:ec2::254")));
  EXPECT_TRUE(refused(v6("::")));
  // An IPv4-mapped IPv6 address is its IPv4 address.
  EXPECT_TRUE(refused(v6("::ffff:169.254.169.254")));
  EXPECT_FALSE(refused(v4("169.254.169.254"), {.allow_link_local = true}));
}

TEST(Destination, OtherAddressFamiliesAreRefused) {
  sockaddr address{};
  address.sa_family = AF_UNIX;
  EXPECT_TRUE(refuse_socket_address(&address, {}));
}

}  // namespace
}  // namespace berth::client
