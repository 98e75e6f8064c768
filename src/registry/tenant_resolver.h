#pragma once
// Picks the registry (tenant) a data-plane request addresses. A request that arrived through a
// listener dedicated to one registry (berthd --registry-listener) addresses that registry,
// whatever its Host header says: clients on the same machine reach a named registry without
// DNS or /etc/hosts. Otherwise the Host header decides: "<name>.<domain>[:port]" selects
// registry <name>; a host outside the domain gets the default registry, so "localhost:5000"
// works without DNS. A host under the domain that names no registry (an unknown name, or nested
// labels like "a.b.<domain>") is never served by another registry.

#include <map>
#include <string>
#include <string_view>

#include "metadata/metadata_store.h"
#include "registry/registry.h"

namespace berth::registry {

// Listeners berthd opens on loopback while it runs, one per registry whose build runs need it
// (tasks/runner.h): "run-registry:<name>" addresses registry <name>, like a configured
// dedicated listener.
inline constexpr std::string_view kRunListenerPrefix = "run-registry:";

struct TenantRouting {
  std::string domain = "registry.local";
  std::string default_registry{metadata::kDefaultRegistryName};
  // Listener name (http::Listener::name) -> the registry every request through it addresses.
  // Resolved by name on each request, so a registry created after start-up is reachable too.
  std::map<std::string, std::string, std::less<>> listener_registries;
};

class TenantResolver {
 public:
  TenantResolver(metadata::MetadataStore& metadata, TenantRouting routing);

  // `listener` is the name of the listener the request arrived on ("" for none). name_unknown
  // (naming the registry) when the listener's registry or the one the host names under the
  // domain does not exist, or when the default registry is gone.
  Result<metadata::RegistryId> resolve(std::string_view host, std::string_view listener = {}) const;
  // resolve(), with the registry's whole record (its access settings).
  Result<metadata::RegistryRecord> resolve_record(std::string_view host,
                                                  std::string_view listener = {}) const;
  // The login server of the registry called `name`: "<name>.<domain>", lower case.
  std::string login_server_of(std::string_view name) const;

  // What a Host header names under the domain (lower case, without port or trailing dot; "a.b"
  // for "a.b.<domain>", which no registry matches), or "" when it is not under the domain.
  std::string registry_name_of(std::string_view host) const;
  // The registry name a request through `listener` with `host` addresses: the listener's
  // registry, else what the host names; "" for the default registry.
  std::string registry_name_of(std::string_view host, std::string_view listener) const;

  const TenantRouting& routing() const { return routing_; }

 private:
  metadata::MetadataStore& metadata_;
  TenantRouting routing_;
};

}  // namespace berth::registry
