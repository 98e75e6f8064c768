#include "client/destination.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>

#include <algorithm>

namespace berth::client {
namespace {

bool in_v4(const auth::IpAddress& a, std::uint8_t b0, std::uint8_t b1, int prefix_bytes) {
  if (a.v6) return false;
  if (a.bytes[0] != b0) return false;
  return prefix_bytes < 2 || a.bytes[1] == b1;
}

}  // namespace

std::optional<std::string> refuse_destination(const auth::IpAddress& address,
                                              const DestinationPolicy& policy) {
  if (policy.allow_link_local) return std::nullopt;
  const auto& b = address.bytes;
  bool link_local = in_v4(address, 169, 254, 2) ||
                    (address.v6 && b[0] == 0xfe && (b[1] & 0xc0) == 0x80);
  // Cloud metadata services outside the link-local ranges: Alibaba's 100.100.100.200, Azure's
  // 168.63.129.16, AWS's IPv6 fd00:ec2::254.
  bool metadata = (!address.v6 && b[0] == 100 && b[1] == 100 && b[2] == 100 && b[3] == 200) ||
                  (!address.v6 && b[0] == 168 && b[1] == 63 && b[2] == 129 && b[3] == 16) ||
                  (address.v6 && address.str() == "fd00:ec2::254");
  bool unspecified = (!address.v6 && b[0] == 0) ||
                     (address.v6 && std::all_of(b.begin(), b.end(), [](auto x) { return x == 0; }));
  if (link_local) return fmt::format("{} is a link-local address", address.str());
  if (metadata) return fmt::format("{} is a cloud metadata address", address.str());
  if (unspecified) return fmt::format("{} is not a destination", address.str());
  return std::nullopt;
}

std::optional<std::string> refuse_socket_address(const sockaddr* address,
                                                 const DestinationPolicy& policy) {
  std::optional<auth::IpAddress> ip;
  char text[INET6_ADDRSTRLEN] = {};
  if (address->sa_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(address);
    inet_ntop(AF_INET, &v4->sin_addr, text, sizeof(text));
    ip = auth::IpAddress::parse(text);
  } else if (address->sa_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(address);
    inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof(text));
    ip = auth::IpAddress::parse(text);
  }
  if (!ip) return std::string("an address of an unknown family");
  return refuse_destination(*ip, policy);
}

}  // namespace berth::client
