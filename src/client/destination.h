#pragma once
// Where outgoing connections may go. berthd's own outgoing HTTP (webhook deliveries, the
// distribution client's upstreams) must not reach the host's link-local or cloud metadata
// services (SSRF): the check runs on every address curl is about to connect to, after name
// resolution, so neither DNS nor a redirect routes around it.

#include <sys/socket.h>

#include <optional>
#include <string>

#include "auth/network_policy.h"

namespace berth::client {

// Link-local and cloud metadata addresses are refused unless `allow_link_local`.
struct DestinationPolicy {
  bool allow_link_local = false;
};

// Why an address is refused, or nullopt.
std::optional<std::string> refuse_destination(const auth::IpAddress& address,
                                              const DestinationPolicy& policy);

// The same for a socket address (curl's CURLOPT_OPENSOCKETFUNCTION gives one): an address of
// another family than IPv4 or IPv6 is refused too.
std::optional<std::string> refuse_socket_address(const sockaddr* address,
                                                 const DestinationPolicy& policy);

}  // namespace berth::client
