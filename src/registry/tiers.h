#pragma once
// Service tiers (Basic, Standard, Premium) as data: what each includes and how many of each
// counted resource a registry on it may hold. Code asks the table; it never branches on a
// tier's name.

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace berth::registry {

// Capabilities a tier either has or lacks.
enum class Feature {
  anonymous_pull,
  artifact_cache,
  geo_replication,
  retention_policy,
  content_trust,
  data_endpoint,  // blob downloads redirected to the storage (dedicated data endpoints)
};

// Resources a registry holds a tier-limited number of.
enum class CountedResource {
  webhooks,
  tokens,
  scope_maps,
  ip_rules,
  cache_rules,  // artifact cache rules
};

inline constexpr CountedResource kCountedResources[] = {
    CountedResource::webhooks, CountedResource::tokens, CountedResource::scope_maps,
    CountedResource::ip_rules, CountedResource::cache_rules};

// The categories of requests the throughput limits count separately.
enum class RequestCategory {
  read,       // GET, HEAD, OPTIONS
  write,      // PUT, PATCH, POST
  delete_,    // DELETE
  referrers,  // the referrers API
  oauth,      // token exchanges (/oauth2/)
};

inline constexpr RequestCategory kRequestCategories[] = {
    RequestCategory::read, RequestCategory::write, RequestCategory::delete_,
    RequestCategory::referrers, RequestCategory::oauth};

// Requests per minute of one category: for the whole registry, and for each identity (user,
// token, anonymous caller) within it. The hosted service's throughput table. Zero: the tier
// sets no limit.
struct Throughput {
  std::uint64_t registry_per_minute = 0;
  std::uint64_t identity_per_minute = 0;
};

struct TierLimits {
  std::uint64_t included_storage_bytes = 0;
  std::uint64_t webhooks = 0;
  std::uint64_t tokens = 0;
  std::uint64_t scope_maps = 0;
  std::uint64_t ip_rules = 0;
  std::uint64_t cache_rules = 0;
  std::uint64_t concurrent_runs = 0;  // build runs of the registry running at once
  std::uint64_t read_ops_per_minute = 0;
  std::uint64_t write_ops_per_minute = 0;
  Throughput reads;
  Throughput writes;
  Throughput deletes;
  Throughput referrers;
  Throughput oauth;
  std::span<const Feature> features;
};

struct Tier {
  std::string_view name;  // canonical spelling: "Basic", "Standard", "Premium"
  int rank = 0;           // higher ranks include more; moving to a lower rank is a downgrade
  TierLimits limits;
};

// Every tier, lowest rank first.
std::span<const Tier> all_tiers();

// The tier called `name`, compared ignoring case; nullptr when there is none.
const Tier* find_tier(std::string_view name);

bool has_feature(const Tier& tier, Feature feature);
std::uint64_t limit_of(const Tier& tier, CountedResource resource);
const Throughput& throughput_of(const Tier& tier, RequestCategory category);

// Wire names: "anonymousPull", ...; "Webhooks", "Tokens", "ScopeMaps", "IPRules".
std::string_view feature_name(Feature feature);
std::string_view resource_name(CountedResource resource);
// People's words for messages: "anonymous pull", "webhooks", "scope maps", "IP rules".
std::string_view feature_description(Feature feature);
std::string_view resource_description(CountedResource resource);

// The lowest tier that has `feature`, if any.
const Tier* lowest_tier_with(Feature feature);

}  // namespace berth::registry
