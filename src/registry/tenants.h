#pragma once
// Tenants: the registries themselves as resources (create, list, show, update, delete), their
// usage against the tier and their health. Their content (repositories, tags, manifests) is
// the Registry service's (registry.h): the one path for every content change. Knows nothing of
// HTTP; api/management.cc maps its errors.
//
// Registry names are 5 to 50 ASCII letters and digits, unique ignoring case; lookups ignore
// case too. A registry answers at its login server `<name>.<domain>` (lower-cased). The rules
// for names and domains live here alone: the management API and berthd's start-up checks of
// its configuration (--default-registry, --domain, --registry-listener) both call them.
//
// Counted resources (webhooks, tokens, scope maps, IP rules) belong to later features; each
// registers a ResourceCounter here, and calls check_can_add() before creating one so that the
// tier limit holds. Until a counter is registered its kind counts as 0.

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "metadata/lifecycle_store.h"
#include "metadata/metadata_store.h"
#include "registry/tiers.h"
#include "storage/blob_storage.h"

namespace berth::registry {

enum class TenantErrc {
  invalid_name,      // registry name not 5-50 ASCII alphanumerics
  invalid_tier,      // no tier of that name
  invalid_argument,  // another malformed input, or a feature the tier lacks
  registry_not_found,
  registry_name_taken,  // the name is used already (ignoring case)
  downgrade_blocked,   // the registry uses a feature or count the lower tier lacks
  limit_exceeded,      // adding one more would pass the tier's count limit
  registry_protected,  // the deployment's default registry, which cannot be deleted
  internal,            // a backend failed
};

using TenantError = Error<TenantErrc>;

template <class T>
using TenantResult = berth::Result<T, TenantError>;

// Counts one kind of resource of a registry. Implemented by the feature that owns the kind.
class ResourceCounter {
 public:
  virtual ~ResourceCounter() = default;
  virtual TenantResult<std::uint64_t> count(metadata::RegistryId registry) = 0;
};

// The region of a registry created without one.
inline constexpr std::string_view kDefaultRegion = "local";
// The tier of a registry that berthd creates itself (the default registry).
inline constexpr std::string_view kDefaultTier = "Standard";

struct TenantOptions {
  std::string domain = "registry.local";                     // login servers are <name>.<domain>
  std::string default_region = std::string(kDefaultRegion);  // for registries created without one
  // The registry that answers hosts outside the domain (TenantRouting::default_registry). The
  // data plane resolves it on every such request, so it cannot be deleted.
  std::string default_registry{metadata::kDefaultRegistryName};
  // Where usage finds the bytes held for soft-deleted content; null: none are reported.
  metadata::LifecycleStore* lifecycle = nullptr;
};

// A registry with what follows from its record.
struct RegistryInfo {
  metadata::RegistryRecord record;
  const Tier* tier = nullptr;  // never null in a returned value
  std::string login_server;
};

struct NewRegistry {
  std::string name;
  std::string tier;
  std::optional<std::string> region;
  std::optional<bool> admin_user_enabled;
  std::optional<bool> anonymous_pull_enabled;
  std::optional<bool> public_network_access;
  std::optional<bool> data_endpoint_enabled;
};

// Absent fields stay as they are.
struct RegistryChanges {
  std::optional<std::string> tier;
  std::optional<std::string> region;
  std::optional<bool> admin_user_enabled;
  std::optional<bool> anonymous_pull_enabled;
  std::optional<bool> public_network_access;
  // Blob downloads answered with a redirect to the storage (docs/configuration.md).
  std::optional<bool> data_endpoint_enabled;
  // The firewall's answer for clients no network rule allows: "Allow" or "Deny" (any case).
  std::optional<std::string> default_network_action;
};

struct RepositoryUsage {
  std::string name;
  std::uint64_t used_bytes = 0;
};

struct CountUsage {
  CountedResource resource;
  std::uint64_t current = 0;
  std::uint64_t limit = 0;
};

struct Usage {
  std::string registry;
  std::uint64_t used_bytes = 0;      // each distinct blob once
  std::uint64_t included_bytes = 0;  // the tier's included storage
  std::uint64_t soft_deleted_bytes = 0;  // held only for soft-deleted manifests
  std::vector<RepositoryUsage> repositories;
  std::vector<CountUsage> counts;  // one per CountedResource, in kCountedResources order
};

struct HealthCheck {
  std::string name;
  bool healthy = true;
  std::string message;
};

struct Health {
  bool healthy = true;
  std::vector<HealthCheck> checks;
};

class Tenants {
 public:
  // `metadata` and `storage` must outlive the service.
  Tenants(metadata::MetadataStore& metadata, storage::BlobStorage& storage,
          TenantOptions options = {});

  // Replaces the counter of `resource` (thread-safe; the counter is shared with the caller).
  void set_counter(CountedResource resource, std::shared_ptr<ResourceCounter> counter);

  // invalid_name unless `name` is 5 to 50 ASCII letters and digits.
  static TenantResult<void> validate_name(std::string_view name);
  // invalid_argument unless `domain` is a DNS name that, under any registry name, makes a valid
  // login server: dot-separated labels of 1 to 63 letters, digits or '-' (not at either end of
  // a label), no trailing dot, and short enough that "<50-character name>.<domain>" stays
  // within 253 characters.
  static TenantResult<void> validate_domain(std::string_view domain);
  std::string login_server(std::string_view name) const;

  // --- registries ---
  // invalid_name, invalid_tier, invalid_argument (region, a feature the tier lacks),
  // registry_name_taken.
  TenantResult<RegistryInfo> create(const NewRegistry& request);
  // Makes sure registry `name` exists, for berthd's own default registry: creates it through
  // create() (tier kDefaultTier, the default region) when missing; gives it the default region
  // when it has none (databases whose schema migration created it before regions were set).
  TenantResult<RegistryInfo> ensure_exists(std::string_view name);
  // Sorted by name.
  TenantResult<std::vector<RegistryInfo>> list();
  TenantResult<RegistryInfo> show(std::string_view name);
  // A tier change takes effect at once; moving to a lower tier is downgrade_blocked while the
  // registry uses a feature or holds more of a counted resource than that tier allows.
  TenantResult<RegistryInfo> update(std::string_view name, const RegistryChanges& changes);
  // Removes the registry and all its content metadata (blob bytes are left to GC: other
  // registries may share them). registry_protected for the default registry.
  TenantResult<void> remove(std::string_view name);
  TenantResult<Usage> usage(std::string_view name);
  TenantResult<Health> health(std::string_view name);

  // --- tier limits ---
  // limit_exceeded when `registry` already holds as many of `resource` as its tier allows.
  TenantResult<void> check_can_add(std::string_view registry, CountedResource resource);
  TenantResult<void> check_can_add(const metadata::RegistryRecord& registry,
                                   CountedResource resource);
  // Whether `registry` (as it would be after a change) may be on tier `to`: downgrade_blocked
  // listing every feature and count `to` lacks when `to` ranks below `from`; invalid_argument
  // when a feature flag is on that `to` lacks.
  TenantResult<void> check_network_action(const metadata::RegistryRecord& registry,
                                          const Tier& tier);
  TenantResult<void> check_tier(const metadata::RegistryRecord& registry, const Tier& from,
                                const Tier& to);

 private:
  TenantResult<RegistryInfo> info(metadata::RegistryRecord record) const;
  TenantResult<metadata::RegistryRecord> find(std::string_view name);
  TenantResult<std::uint64_t> count(metadata::RegistryId registry, CountedResource resource);

  metadata::MetadataStore& metadata_;
  storage::BlobStorage& storage_;
  TenantOptions options_;
  std::mutex counters_mutex_;
  std::map<CountedResource, std::shared_ptr<ResourceCounter>> counters_;
};

}  // namespace berth::registry
