#include "registry/tenant_resolver.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

namespace berth::registry {
namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// "name.domain:5000" -> "name.domain"; IPv6 literals ("[::1]:5000") are kept whole. The port
// may be empty ("name.domain:"): RFC 3986 allows it and it means no port.
std::string_view strip_port(std::string_view host) {
  if (host.starts_with('[')) return host;
  auto colon = host.rfind(':');
  if (colon == std::string_view::npos) return host;
  std::string_view port = host.substr(colon + 1);
  bool digits = std::all_of(port.begin(), port.end(), [](unsigned char c) {
    return std::isdigit(c) != 0;
  });
  return digits ? host.substr(0, colon) : host;
}

}  // namespace

TenantResolver::TenantResolver(metadata::MetadataStore& metadata, TenantRouting routing)
    : metadata_(metadata), routing_(std::move(routing)) {
  routing_.domain = lower(routing_.domain);
}

std::string TenantResolver::registry_name_of(std::string_view host) const {
  std::string name = lower(strip_port(host));
  if (!name.empty() && name.back() == '.') name.pop_back();  // absolute DNS form
  std::string suffix = "." + routing_.domain;
  if (routing_.domain.empty() || name.size() <= suffix.size() || !name.ends_with(suffix)) {
    return "";
  }
  // Everything before the domain, nested labels included: "a.b.<domain>" is under the domain
  // too, and names no registry (names hold no dots), so it must not fall back to the default.
  name.resize(name.size() - suffix.size());
  return name;
}

std::string TenantResolver::registry_name_of(std::string_view host,
                                             std::string_view listener) const {
  if (!listener.empty()) {
    auto pinned = routing_.listener_registries.find(listener);
    if (pinned != routing_.listener_registries.end()) return pinned->second;
    if (listener.starts_with(kRunListenerPrefix) && listener.size() > kRunListenerPrefix.size()) {
      return std::string(listener.substr(kRunListenerPrefix.size()));
    }
  }
  return registry_name_of(host);
}

Result<metadata::RegistryId> TenantResolver::resolve(std::string_view host,
                                                     std::string_view listener) const {
  auto record = resolve_record(host, listener);
  if (!record) return record.error();
  return record->id;
}

Result<metadata::RegistryRecord> TenantResolver::resolve_record(std::string_view host,
                                                                std::string_view listener) const {
  std::string name = registry_name_of(host, listener);
  bool named = !name.empty();
  if (!named) name = routing_.default_registry;
  auto found = metadata_.find_registry(name);
  if (!found) return RegistryError{Errc::internal, "metadata store: " + found.error().message};
  if (!*found) {
    return RegistryError{Errc::name_unknown,
                         named ? fmt::format("registry '{}' does not exist", name)
                               : fmt::format("the default registry '{}' does not exist", name)};
  }
  return std::move(**found);
}

std::string TenantResolver::login_server_of(std::string_view name) const {
  std::string server;
  for (char c : name) server.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  server += '.';
  server += routing_.domain;
  return server;
}

}  // namespace berth::registry
