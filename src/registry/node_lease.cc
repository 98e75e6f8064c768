#include "registry/node_lease.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <array>
#include <climits>
#include <random>

#include <fmt/format.h>

namespace berth::registry {

std::string make_node_id() {
  std::array<char, HOST_NAME_MAX + 1> host{};
  if (::gethostname(host.data(), host.size() - 1) != 0) host[0] = '\0';
  std::random_device random;
  // Only printable ASCII reaches the store: a host name is letters, digits, '-' and '.'.
  std::string name(host.data());
  for (char& c : name) {
    if (c <= ' ' || c >= 127) c = '_';
  }
  if (name.size() > 64) name.resize(64);
  return fmt::format("{}/{}/{:08x}", name.empty() ? "node" : name, ::getpid(), random());
}

namespace {

std::int64_t system_clock_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

NodeLease::NodeLease(metadata::CoordinationStore& store, std::string name, std::string holder,
                     std::chrono::milliseconds ttl, std::function<std::int64_t()> clock_ms)
    : store_(store),
      name_(std::move(name)),
      holder_(std::move(holder)),
      ttl_(ttl),
      clock_ms_(clock_ms ? std::move(clock_ms) : system_clock_ms) {}

bool NodeLease::hold() {
  auto held = store_.acquire_lease(name_, holder_, clock_ms_(), ttl_.count());
  if (!held) {
    spdlog::error("lease {}: {}", name_, held.error().message);
    return false;
  }
  return *held;
}

void NodeLease::release() {
  if (auto released = store_.release_lease(name_, holder_); !released) {
    spdlog::warn("lease {}: releasing it: {}", name_, released.error().message);
  }
}

}  // namespace berth::registry
