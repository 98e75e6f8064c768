#include "auth/network_policy.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cstring>

namespace berth::auth {
namespace {

// The longest textual IPv6 address (with an embedded IPv4 address) is 45 characters; anything
// longer is refused before it is copied for inet_pton.
constexpr std::size_t kMaxAddressText = 45;

// inet_pton reads a NUL-terminated string and stops at the first NUL, so every character is
// checked first: only hex digits, ':' and '.' occur in an address. This refuses whitespace,
// zone ids ("%eth0"), ports and embedded NULs in one place.
bool has_only_address_characters(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) {
    return std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.';
  });
}

std::optional<IpAddress> parse_v4(std::string_view text) {
  std::string copy(text);
  in_addr address{};
  if (::inet_pton(AF_INET, copy.c_str(), &address) != 1) return std::nullopt;
  IpAddress result;
  std::memcpy(result.bytes.data(), &address, 4);
  return result;
}

bool is_v4_mapped(const std::array<std::uint8_t, 16>& bytes) {
  for (int i = 0; i < 10; ++i) {
    if (bytes[i] != 0) return false;
  }
  return bytes[10] == 0xff && bytes[11] == 0xff;
}

std::optional<IpAddress> parse_v6(std::string_view text) {
  std::string copy(text);
  in6_addr address{};
  if (::inet_pton(AF_INET6, copy.c_str(), &address) != 1) return std::nullopt;
  IpAddress result;
  std::memcpy(result.bytes.data(), &address, 16);
  result.v6 = true;
  if (is_v4_mapped(result.bytes)) {
    // ::ffff:a.b.c.d is how a dual-stack socket reports an IPv4 client: the same client as
    // a.b.c.d, so it must meet the same rules.
    std::array<std::uint8_t, 16> v4{};
    std::copy(result.bytes.begin() + 12, result.bytes.end(), v4.begin());
    result.bytes = v4;
    result.v6 = false;
  }
  return result;
}

std::string v4_text(const IpAddress& address) {
  std::string text;
  for (int i = 0; i < 4; ++i) {
    if (i > 0) text += '.';
    text += std::to_string(address.bytes[i]);
  }
  return text;
}

// RFC 5952: lower-case hex without leading zeros; the longest run of two or more zero groups
// (the first of equal runs) becomes "::".
std::string v6_text(const IpAddress& address) {
  std::array<unsigned, 8> groups{};
  for (int i = 0; i < 8; ++i) {
    groups[i] = (unsigned{address.bytes[2 * i]} << 8) | address.bytes[2 * i + 1];
  }
  int best_start = -1;
  int best_length = 0;
  for (int i = 0; i < 8;) {
    if (groups[i] != 0) {
      ++i;
      continue;
    }
    int start = i;
    while (i < 8 && groups[i] == 0) ++i;
    if (i - start > best_length) {
      best_start = start;
      best_length = i - start;
    }
  }
  if (best_length < 2) best_start = -1;

  static constexpr char kHex[] = "0123456789abcdef";
  std::string text;
  for (int i = 0; i < 8; ++i) {
    if (i == best_start) {
      text += "::";
      i += best_length - 1;
      continue;
    }
    if (!text.empty() && text.back() != ':') text += ':';
    bool started = false;
    for (int shift = 12; shift >= 0; shift -= 4) {
      unsigned digit = (groups[i] >> shift) & 0xf;
      if (digit == 0 && !started && shift > 0) continue;
      started = true;
      text += kHex[digit];
    }
  }
  return text;
}

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// "0" to "128": digits only, no sign, no leading zeros.
std::optional<int> parse_prefix_length(std::string_view text) {
  if (text.empty() || text.size() > 3) return std::nullopt;
  if (text.size() > 1 && text.front() == '0') return std::nullopt;
  int value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  return value;
}

// Whether the first `prefix` bits of `a` and `b` are equal.
bool same_prefix(const std::array<std::uint8_t, 16>& a, const std::array<std::uint8_t, 16>& b,
                 int prefix) {
  int whole_bytes = prefix / 8;
  if (!std::equal(a.begin(), a.begin() + whole_bytes, b.begin())) return false;
  int rest = prefix % 8;
  if (rest == 0) return true;
  auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
  return (a[whole_bytes] & mask) == (b[whole_bytes] & mask);
}

bool host_bits_are_zero(const IpAddress& address, int prefix) {
  int width = address.v6 ? 128 : 32;
  for (int bit = prefix; bit < width; ++bit) {
    if (address.bytes[bit / 8] & (0x80 >> (bit % 8))) return false;
  }
  return true;
}

std::string_view trim(std::string_view text) {
  auto is_space = [](char c) { return c == ' ' || c == '\t'; };
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

// Every hop of every X-Forwarded-For line, left to right, whitespace around items trimmed.
std::vector<std::string_view> forwarded_hops(const std::vector<std::string_view>& lines) {
  std::vector<std::string_view> hops;
  for (std::string_view line : lines) {
    while (true) {
      auto comma = line.find(',');
      hops.push_back(trim(line.substr(0, comma)));
      if (comma == std::string_view::npos) break;
      line.remove_prefix(comma + 1);
    }
  }
  return hops;
}

}  // namespace

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  bool bracketed = text.size() >= 2 && text.front() == '[' && text.back() == ']';
  if (bracketed) text = text.substr(1, text.size() - 2);
  if (text.empty() || text.size() > kMaxAddressText) return std::nullopt;
  if (!has_only_address_characters(text)) return std::nullopt;
  bool looks_v6 = text.find(':') != std::string_view::npos;
  // Brackets enclose only IPv6 addresses (as in URLs and Host headers).
  if (bracketed && !looks_v6) return std::nullopt;
  return looks_v6 ? parse_v6(text) : parse_v4(text);
}

std::string IpAddress::str() const { return v6 ? v6_text(*this) : v4_text(*this); }

std::optional<IpRange> IpRange::parse(std::string_view text) {
  auto slash = text.find('/');
  std::string_view address_text = text.substr(0, slash);
  // A range is written bare ("2001:db8::/32"); brackets belong to URLs, not rules.
  if (!address_text.empty() && address_text.front() == '[') return std::nullopt;
  auto address = IpAddress::parse(address_text);
  if (!address) return std::nullopt;

  bool written_v6 = address_text.find(':') != std::string_view::npos;
  int written_width = written_v6 ? 128 : 32;
  int prefix = written_width;
  if (slash != std::string_view::npos) {
    auto length = parse_prefix_length(text.substr(slash + 1));
    if (!length || *length > written_width) return std::nullopt;
    prefix = *length;
  }
  if (written_v6 && !address->v6) {
    // An IPv4-mapped range ("::ffff:10.0.0.0/104") is the IPv4 range it maps; a shorter prefix
    // would also cover IPv6 addresses that are not IPv4 clients, so it is refused.
    if (prefix < 96) return std::nullopt;
    prefix -= 96;
  }
  if (!host_bits_are_zero(*address, prefix)) return std::nullopt;

  IpRange range;
  range.base_ = *address;
  range.prefix_ = prefix;
  return range;
}

bool IpRange::contains(const IpAddress& address) const {
  if (address.v6 != base_.v6) return false;
  return same_prefix(base_.bytes, address.bytes, prefix_);
}

std::string IpRange::str() const {
  std::string text = base_.str();
  text += '/';
  text += std::to_string(prefix_);
  return text;
}

std::optional<DefaultAction> parse_default_action(std::string_view text) {
  if (equal_ignoring_case(text, "Allow")) return DefaultAction::allow;
  if (equal_ignoring_case(text, "Deny")) return DefaultAction::deny;
  return std::nullopt;
}

std::string_view default_action_name(DefaultAction action) {
  return action == DefaultAction::allow ? "Allow" : "Deny";
}

bool is_loopback(const IpAddress& address) {
  if (!address.v6) return address.bytes[0] == 127;
  for (int i = 0; i < 15; ++i) {
    if (address.bytes[i] != 0) return false;
  }
  return address.bytes[15] == 1;
}

bool network_allows(const NetworkPolicy& policy, std::string_view client_address) {
  auto address = IpAddress::parse(client_address);
  if (!address) {
    // With the open default nothing depends on the address; otherwise an address nobody can
    // match must not slip through.
    return policy.public_access && policy.default_action == DefaultAction::allow;
  }
  if (!policy.public_access) return is_loopback(*address);
  for (const IpRange& range : policy.allow) {
    if (range.contains(*address)) return true;
  }
  return policy.default_action == DefaultAction::allow;
}

std::string TrustedProxies::client_address(
    std::string_view peer, const std::vector<std::string_view>& forwarded_for) const {
  auto is_trusted = [this](const IpAddress& address) {
    return std::any_of(proxies_.begin(), proxies_.end(),
                       [&](const IpRange& range) { return range.contains(address); });
  };
  auto peer_address = IpAddress::parse(peer);
  if (!peer_address || !is_trusted(*peer_address)) return std::string(peer);

  std::string last_trusted(peer);
  auto hops = forwarded_hops(forwarded_for);
  for (auto hop = hops.rbegin(); hop != hops.rend(); ++hop) {
    auto address = IpAddress::parse(*hop);
    if (!address) break;  // garbage ends the walk: the last hop we trust answers
    if (!is_trusted(*address)) return address->str();
    last_trusted = address->str();
  }
  return last_trusted;
}

}  // namespace berth::auth
