#pragma once
// Picks the registry (tenant) a data-plane request addresses from its Host header:
// "<name>.<domain>[:port]" selects registry <name>; a host outside the domain gets the default
// registry, so "localhost:5000" works without DNS. A host under the domain that names no
// registry (an unknown name, or nested labels like "a.b.<domain>") is never served by another
// registry.

#include <string>
#include <string_view>

#include "metadata/metadata_store.h"
#include "registry/registry.h"

namespace berth::registry {

struct TenantRouting {
  std::string domain = "registry.local";
  std::string default_registry{metadata::kDefaultRegistryName};
};

class TenantResolver {
 public:
  TenantResolver(metadata::MetadataStore& metadata, TenantRouting routing);

  // name_unknown (naming the registry) when the host is under the domain but no such registry
  // exists, or when the default registry is gone.
  Result<metadata::RegistryId> resolve(std::string_view host) const;

  // What a Host header names under the domain (lower case, without port or trailing dot; "a.b"
  // for "a.b.<domain>", which no registry matches), or "" when it is not under the domain.
  std::string registry_name_of(std::string_view host) const;

  const TenantRouting& routing() const { return routing_; }

 private:
  metadata::MetadataStore& metadata_;
  TenantRouting routing_;
};

}  // namespace berth::registry
