#pragma once
// A registry's firewall: IPv4/IPv6 allow rules (addresses and CIDR ranges), a default action,
// and public network access; and which client address to believe when requests come through
// configured trusted proxies (X-Forwarded-For).

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace berth::auth {

// An IPv4 or IPv6 address (IPv4-mapped IPv6 addresses are taken as their IPv4 address).
struct IpAddress {
  bool v6 = false;
  std::array<std::uint8_t, 16> bytes{};  // IPv4 uses the first 4

  // "192.0.2.1", "2001:db8::1", "[2001:db8::1]", "::ffff:192.0.2.1"; nullopt otherwise (zone
  // ids, ports, whitespace are refused).
  static std::optional<IpAddress> parse(std::string_view text);
  std::string str() const;  // canonical: dotted quad, or RFC 5952 IPv6
};

// 127.0.0.0/8 and ::1 (an IPv4-mapped loopback address parses as IPv4, so it counts too).
bool is_loopback(const IpAddress& address);

class IpRange {
 public:
  // "192.0.2.1" (/32), "10.0.0.0/8", "2001:db8::/32", "::1" (/128). Host bits below the prefix
  // must be zero ("10.0.0.1/8" is refused, as the hosted service does). nullopt otherwise.
  static std::optional<IpRange> parse(std::string_view text);
  bool contains(const IpAddress& address) const;
  std::string str() const;  // canonical, always with the prefix length: "10.0.0.0/8"

 private:
  IpAddress base_;
  int prefix_ = 0;
};

enum class DefaultAction { allow, deny };

// "Allow" / "Deny", matched ignoring case.
std::optional<DefaultAction> parse_default_action(std::string_view text);
std::string_view default_action_name(DefaultAction action);  // "Allow" / "Deny"

struct NetworkPolicy {
  // Off: only loopback clients (the machine itself, e.g. a local proxy) reach the registry.
  bool public_access = true;
  DefaultAction default_action = DefaultAction::allow;
  std::vector<IpRange> allow;
};

// Whether a client at `client_address` may use the registry. An address that does not parse
// is denied unless the policy is the open default (public access, Allow).
bool network_allows(const NetworkPolicy& policy, std::string_view client_address);

// Which proxies' X-Forwarded-For to believe.
class TrustedProxies {
 public:
  TrustedProxies() = default;
  explicit TrustedProxies(std::vector<IpRange> proxies) : proxies_(std::move(proxies)) {}

  // The client address: `peer` itself unless `peer` is a trusted proxy; then the
  // X-Forwarded-For list is walked from the right, skipping trusted proxies, and the first
  // untrusted hop is the client. Every X-Forwarded-For header line counts, in order. A
  // malformed hop stops the walk and the last trusted hop is the answer (so a client cannot
  // hide behind garbage). Without trusted proxies, X-Forwarded-For is ignored.
  std::string client_address(std::string_view peer,
                             const std::vector<std::string_view>& forwarded_for) const;
  bool empty() const { return proxies_.empty(); }

 private:
  std::vector<IpRange> proxies_;
};

}  // namespace berth::auth
