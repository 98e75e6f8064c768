#include "registry/tiers.h"

#include <array>
#include <cctype>

namespace berth::registry {
namespace {

constexpr std::uint64_t kGiB = 1024ull * 1024 * 1024;

constexpr std::array<Feature, 0> kBasicFeatures{};
constexpr std::array kStandardFeatures =
    std::to_array<Feature>({Feature::anonymous_pull, Feature::artifact_cache});
constexpr std::array kPremiumFeatures = std::to_array<Feature>(
    {Feature::anonymous_pull, Feature::artifact_cache, Feature::geo_replication,
     Feature::retention_policy, Feature::content_trust, Feature::data_endpoint});

// The published limits of the three tiers (see docs/management-api.md). The throughput
// entries are {per registry, per identity} requests per minute; read_ops_per_minute and
// write_ops_per_minute (what the management API reports) are the registry-wide read and
// write figures.
const std::array<Tier, 3> kTiers{{
    {"Basic",
     0,
     {.included_storage_bytes = 10 * kGiB,
      .webhooks = 2,
      .tokens = 100,
      .scope_maps = 100,
      .ip_rules = 0,
      .cache_rules = 0,
      .concurrent_runs = 2,
      .read_ops_per_minute = 10'000,
      .write_ops_per_minute = 2'000,
      .reads = {10'000, 5'000},
      .writes = {2'000, 1'000},
      .deletes = {1'000, 500},
      .referrers = {500, 250},
      .oauth = {10'000, 10'000},
      .features = kBasicFeatures}},
    {"Standard",
     1,
     {.included_storage_bytes = 100 * kGiB,
      .webhooks = 10,
      .tokens = 500,
      .scope_maps = 500,
      .ip_rules = 0,
      .cache_rules = 1000,
      .concurrent_runs = 5,
      .read_ops_per_minute = 10'000,
      .write_ops_per_minute = 2'000,
      .reads = {10'000, 5'000},
      .writes = {2'000, 1'000},
      .deletes = {1'000, 500},
      .referrers = {500, 250},
      .oauth = {10'000, 10'000},
      .features = kStandardFeatures}},
    {"Premium",
     2,
     {.included_storage_bytes = 500 * kGiB,
      .webhooks = 500,
      .tokens = 50'000,
      .scope_maps = 50'000,
      .ip_rules = 200,
      .cache_rules = 1000,
      .concurrent_runs = 10,
      .read_ops_per_minute = 20'000,
      .write_ops_per_minute = 4'000,
      .reads = {20'000, 10'000},
      .writes = {4'000, 2'000},
      .deletes = {4'000, 2'000},
      .referrers = {2'000, 1'000},
      .oauth = {20'000, 20'000},
      .features = kPremiumFeatures}},
}};

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::span<const Tier> all_tiers() { return kTiers; }

const Tier* find_tier(std::string_view name) {
  for (const Tier& tier : kTiers) {
    if (equal_ignoring_case(tier.name, name)) return &tier;
  }
  return nullptr;
}

bool has_feature(const Tier& tier, Feature feature) {
  for (Feature f : tier.limits.features) {
    if (f == feature) return true;
  }
  return false;
}

std::uint64_t limit_of(const Tier& tier, CountedResource resource) {
  switch (resource) {
    case CountedResource::webhooks:
      return tier.limits.webhooks;
    case CountedResource::tokens:
      return tier.limits.tokens;
    case CountedResource::scope_maps:
      return tier.limits.scope_maps;
    case CountedResource::ip_rules:
      return tier.limits.ip_rules;
    case CountedResource::cache_rules:
      return tier.limits.cache_rules;
  }
  return 0;
}

const Throughput& throughput_of(const Tier& tier, RequestCategory category) {
  switch (category) {
    case RequestCategory::read:
      return tier.limits.reads;
    case RequestCategory::write:
      return tier.limits.writes;
    case RequestCategory::delete_:
      return tier.limits.deletes;
    case RequestCategory::referrers:
      return tier.limits.referrers;
    case RequestCategory::oauth:
      return tier.limits.oauth;
  }
  return tier.limits.reads;  // unreachable: every category is listed above
}

std::string_view feature_name(Feature feature) {
  switch (feature) {
    case Feature::anonymous_pull:
      return "anonymousPull";
    case Feature::artifact_cache:
      return "artifactCache";
    case Feature::geo_replication:
      return "geoReplication";
    case Feature::retention_policy:
      return "retentionPolicy";
    case Feature::content_trust:
      return "contentTrust";
    case Feature::data_endpoint:
      return "dataEndpoint";
  }
  return "";
}

std::string_view feature_description(Feature feature) {
  switch (feature) {
    case Feature::anonymous_pull:
      return "anonymous pull";
    case Feature::artifact_cache:
      return "artifact cache";
    case Feature::geo_replication:
      return "geo-replication";
    case Feature::retention_policy:
      return "retention policy";
    case Feature::content_trust:
      return "content trust";
    case Feature::data_endpoint:
      return "dedicated data endpoints";
  }
  return "";
}

std::string_view resource_name(CountedResource resource) {
  switch (resource) {
    case CountedResource::webhooks:
      return "Webhooks";
    case CountedResource::tokens:
      return "Tokens";
    case CountedResource::scope_maps:
      return "ScopeMaps";
    case CountedResource::ip_rules:
      return "IPRules";
    case CountedResource::cache_rules:
      return "CacheRules";
  }
  return "";
}

std::string_view resource_description(CountedResource resource) {
  switch (resource) {
    case CountedResource::webhooks:
      return "webhooks";
    case CountedResource::tokens:
      return "tokens";
    case CountedResource::scope_maps:
      return "scope maps";
    case CountedResource::ip_rules:
      return "IP rules";
    case CountedResource::cache_rules:
      return "cache rules";
  }
  return "";
}

const Tier* lowest_tier_with(Feature feature) {
  for (const Tier& tier : kTiers) {
    if (has_feature(tier, feature)) return &tier;
  }
  return nullptr;
}

}  // namespace berth::registry
