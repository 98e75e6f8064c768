#pragma once
// Picks the registry (tenant) a data-plane request addresses from its Host header:
// "<name>.<domain>[:port]" selects registry <name>; any other host gets the default registry,
// so "localhost:5000" works without DNS.

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

  // The registry name a Host header names, or "" when it is not under the domain.
  std::string registry_name_of(std::string_view host) const;

  const TenantRouting& routing() const { return routing_; }

 private:
  metadata::MetadataStore& metadata_;
  TenantRouting routing_;
};

}  // namespace berth::registry
