#include "registry/tenants.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "common/clock.h"
#include "oci/reference.h"

namespace berth::registry {
namespace {

constexpr std::size_t kMinNameLength = 5;
constexpr std::size_t kMaxNameLength = 50;
constexpr std::size_t kMaxRegionLength = 64;
constexpr std::size_t kMaxDnsLabelLength = 63;
constexpr std::size_t kMaxDnsNameLength = 253;

// Features that are switched on by a flag of the registry record; the tier must have the
// feature while the flag is on.
struct FeatureFlag {
  Feature feature;
  bool metadata::RegistryRecord::*flag;
  std::string_view field;  // the flag's wire name
};
constexpr FeatureFlag kFeatureFlags[] = {
    {Feature::anonymous_pull, &metadata::RegistryRecord::anonymous_pull_enabled,
     "anonymousPullEnabled"},
    {Feature::data_endpoint, &metadata::RegistryRecord::data_endpoint_enabled,
     "dataEndpointEnabled"},
};

// A counter for kinds whose feature does not exist yet: nothing to count.
class NoResources final : public ResourceCounter {
 public:
  TenantResult<std::uint64_t> count(metadata::RegistryId) override { return 0; }
};

TenantError internal(const metadata::MetadataError& error) {
  return TenantError{TenantErrc::internal, error.message, ""};
}

TenantError registry_not_found(std::string_view name) {
  return TenantError{TenantErrc::registry_not_found,
                     fmt::format("registry '{}' does not exist", name), std::string(name)};
}

TenantResult<void> validate_region(std::string_view region) {
  bool ok = !region.empty() && region.size() <= kMaxRegionLength &&
            std::all_of(region.begin(), region.end(), [](char c) {
              return std::isalnum(static_cast<unsigned char>(c)) || c == '-';
            });
  if (!ok) {
    return TenantError{
        TenantErrc::invalid_argument,
        fmt::format("region '{}' must be 1 to {} letters, digits or '-'", region, kMaxRegionLength),
        "region"};
  }
  return {};
}

TenantResult<const Tier*> parse_tier(std::string_view name) {
  if (const Tier* tier = find_tier(name)) return tier;
  std::string known;
  for (const Tier& tier : all_tiers()) {
    if (!known.empty()) known += ", ";
    known += tier.name;
  }
  return TenantError{TenantErrc::invalid_tier,
                     fmt::format("unknown tier '{}'; the tiers are {}", name, known),
                     std::string(name)};
}

// "Allow" or "Deny" in their canonical spelling; the firewall (auth/network_policy.h) reads
// the stored value.
TenantResult<std::string_view> parse_network_action(std::string_view text) {
  for (std::string_view action : {std::string_view("Allow"), std::string_view("Deny")}) {
    bool same = text.size() == action.size() &&
                std::equal(text.begin(), text.end(), action.begin(), [](char a, char b) {
                  return std::tolower(static_cast<unsigned char>(a)) ==
                         std::tolower(static_cast<unsigned char>(b));
                });
    if (same) return action;
  }
  return TenantError{TenantErrc::invalid_argument,
                     fmt::format("defaultAction '{}' must be Allow or Deny", text),
                     "defaultAction"};
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string join(const std::vector<std::string>& parts, std::string_view separator) {
  std::string out;
  for (const auto& part : parts) {
    if (!out.empty()) out += separator;
    out += part;
  }
  return out;
}

}  // namespace

Tenants::Tenants(metadata::MetadataStore& metadata, storage::BlobStorage& storage,
                 TenantOptions options)
    : metadata_(metadata), storage_(storage), options_(std::move(options)) {
  for (CountedResource resource : kCountedResources) {
    counters_[resource] = std::make_shared<NoResources>();
  }
}

void Tenants::set_counter(CountedResource resource, std::shared_ptr<ResourceCounter> counter) {
  std::lock_guard lock(counters_mutex_);
  counters_[resource] = counter ? std::move(counter) : std::make_shared<NoResources>();
}

TenantResult<void> Tenants::validate_name(std::string_view name) {
  if (name.size() < kMinNameLength || name.size() > kMaxNameLength) {
    return TenantError{TenantErrc::invalid_name,
                       fmt::format("registry name '{}' must be {} to {} characters long", name,
                                   kMinNameLength, kMaxNameLength),
                       std::string(name)};
  }
  for (char c : name) {
    bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum) {
      return TenantError{TenantErrc::invalid_name,
                         fmt::format("registry name '{}' must contain only ASCII letters and "
                                     "digits",
                                     name),
                         std::string(name)};
    }
  }
  return {};
}

namespace {

bool is_dns_label(std::string_view label) {
  if (label.empty() || label.size() > kMaxDnsLabelLength) return false;
  if (label.front() == '-' || label.back() == '-') return false;
  return std::all_of(label.begin(), label.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-';
  });
}

}  // namespace

TenantResult<void> Tenants::validate_domain(std::string_view domain) {
  // The longest login server is a maximal registry name, a dot and the domain.
  constexpr std::size_t kMaxDomainLength = kMaxDnsNameLength - kMaxNameLength - 1;
  auto invalid = [domain](std::string_view why) {
    return TenantError{TenantErrc::invalid_argument,
                       fmt::format("domain '{}' {}", domain, why), std::string(domain)};
  };
  if (domain.empty()) return invalid("is empty");
  if (domain.size() > kMaxDomainLength) {
    return invalid(fmt::format("is longer than {} characters", kMaxDomainLength));
  }
  std::string_view rest = domain;
  for (;;) {
    auto dot = rest.find('.');
    if (!is_dns_label(rest.substr(0, dot))) {
      return invalid(fmt::format(
          "is not a DNS name: each dot-separated label must be 1 to {} letters, digits or '-', "
          "not starting or ending with '-'",
          kMaxDnsLabelLength));
    }
    if (dot == std::string_view::npos) break;
    rest.remove_prefix(dot + 1);
  }
  return {};
}

std::string Tenants::login_server(std::string_view name) const {
  return lower(name) + "." + lower(options_.domain);
}

TenantResult<RegistryInfo> Tenants::info(metadata::RegistryRecord record) const {
  const Tier* tier = find_tier(record.tier);
  if (!tier) {
    return TenantError{
        TenantErrc::internal,
        fmt::format("registry '{}' has an unknown tier '{}' stored", record.name, record.tier),
        record.name};
  }
  RegistryInfo result;
  result.login_server = login_server(record.name);
  result.record = std::move(record);
  result.tier = tier;
  return result;
}

TenantResult<metadata::RegistryRecord> Tenants::find(std::string_view name) {
  auto found = metadata_.find_registry(name);
  if (!found) return internal(found.error());
  if (!*found) return registry_not_found(name);
  return std::move(**found);
}

TenantResult<std::uint64_t> Tenants::count(metadata::RegistryId registry,
                                           CountedResource resource) {
  std::shared_ptr<ResourceCounter> counter;
  {
    std::lock_guard lock(counters_mutex_);
    counter = counters_[resource];
  }
  return counter->count(registry);
}

// ------------------------------------------------------------------ registries

TenantResult<RegistryInfo> Tenants::create(const NewRegistry& request) {
  if (auto valid = validate_name(request.name); !valid) return valid.error();
  auto tier = parse_tier(request.tier);
  if (!tier) return tier.error();
  metadata::RegistryRecord record;
  record.name = request.name;
  record.tier = std::string((*tier)->name);
  record.region = request.region.value_or(options_.default_region);
  if (auto valid = validate_region(record.region); !valid) return valid.error();
  record.created_at = unix_now();
  record.admin_user_enabled = request.admin_user_enabled.value_or(false);
  record.anonymous_pull_enabled = request.anonymous_pull_enabled.value_or(false);
  record.data_endpoint_enabled = request.data_endpoint_enabled.value_or(false);
  record.public_network_access = request.public_network_access.value_or(true);
  if (auto allowed = check_tier(record, **tier, **tier); !allowed) return allowed.error();
  if (auto allowed = check_network_action(record, **tier); !allowed) return allowed.error();

  auto created = metadata_.create_registry(record);
  if (!created) {
    if (created.error().code == metadata::Errc::conflict) {
      return TenantError{TenantErrc::registry_name_taken,
                         fmt::format("the registry name '{}' is already in use", request.name),
                         request.name};
    }
    return internal(created.error());
  }
  return info(std::move(*created));
}

TenantResult<RegistryInfo> Tenants::ensure_exists(std::string_view name) {
  auto found = metadata_.find_registry(name);
  if (!found) return internal(found.error());
  if (!*found) {
    NewRegistry request;
    request.name = std::string(name);
    request.tier = std::string(kDefaultTier);
    auto created = create(request);
    // Another berthd on the same data directory may have created it in the meantime.
    if (created || created.error().code != TenantErrc::registry_name_taken) return created;
    return show(name);
  }
  metadata::RegistryRecord record = std::move(**found);
  if (record.region.empty()) {
    record.region = options_.default_region;
    auto updated = metadata_.update_registry(record);
    if (!updated) return internal(updated.error());
    if (!*updated) return registry_not_found(name);
  }
  return info(std::move(record));
}

TenantResult<std::vector<RegistryInfo>> Tenants::list() {
  auto records = metadata_.list_registries();
  if (!records) return internal(records.error());
  std::vector<RegistryInfo> result;
  result.reserve(records->size());
  for (auto& record : *records) {
    auto item = info(std::move(record));
    if (!item) return item.error();
    result.push_back(std::move(*item));
  }
  return result;
}

TenantResult<RegistryInfo> Tenants::show(std::string_view name) {
  auto record = find(name);
  if (!record) return record.error();
  return info(std::move(*record));
}

TenantResult<RegistryInfo> Tenants::update(std::string_view name, const RegistryChanges& changes) {
  auto record = find(name);
  if (!record) return record.error();
  const Tier* from = find_tier(record->tier);
  if (!from) return info(std::move(*record)).error();
  const Tier* to = from;
  if (changes.tier) {
    auto tier = parse_tier(*changes.tier);
    if (!tier) return tier.error();
    to = *tier;
  }
  if (changes.region) {
    if (auto valid = validate_region(*changes.region); !valid) return valid.error();
    record->region = *changes.region;
  }
  if (changes.admin_user_enabled) record->admin_user_enabled = *changes.admin_user_enabled;
  if (changes.data_endpoint_enabled) {
    record->data_endpoint_enabled = *changes.data_endpoint_enabled;
  }
  if (changes.anonymous_pull_enabled) {
    record->anonymous_pull_enabled = *changes.anonymous_pull_enabled;
  }
  if (changes.public_network_access) {
    record->public_network_access = *changes.public_network_access;
  }
  if (changes.default_network_action) {
    auto action = parse_network_action(*changes.default_network_action);
    if (!action) return action.error();
    record->default_network_action = std::string(*action);
  }
  record->tier = std::string(to->name);
  if (auto allowed = check_tier(*record, *from, *to); !allowed) return allowed.error();
  if (auto allowed = check_network_action(*record, *to); !allowed) return allowed.error();

  auto updated = metadata_.update_registry(*record);
  if (!updated) return internal(updated.error());
  if (!*updated) return registry_not_found(name);
  return info(std::move(*record));
}

TenantResult<void> Tenants::remove(std::string_view name) {
  auto record = find(name);
  if (!record) return record.error();
  if (lower(record->name) == lower(options_.default_registry)) {
    return TenantError{TenantErrc::registry_protected,
                       fmt::format("registry '{}' is the default registry of this deployment "
                                   "and cannot be deleted",
                                   record->name),
                       record->name};
  }
  auto removed = metadata_.delete_registry(record->id);
  if (!removed) return internal(removed.error());
  if (!*removed) return registry_not_found(name);
  return {};
}

TenantResult<Usage> Tenants::usage(std::string_view name) {
  auto record = find(name);
  if (!record) return record.error();
  auto registry = info(*record);
  if (!registry) return registry.error();

  Usage usage;
  usage.registry = record->name;
  usage.included_bytes = registry->tier->limits.included_storage_bytes;
  auto used = metadata_.registry_storage_bytes(record->id);
  if (!used) return internal(used.error());
  usage.used_bytes = *used;
  if (options_.lifecycle != nullptr) {
    auto soft_deleted = options_.lifecycle->soft_deleted_bytes(record->id);
    if (!soft_deleted) return internal(soft_deleted.error());
    usage.soft_deleted_bytes = *soft_deleted;
  }
  auto repositories = metadata_.list_repository_summaries(record->id);
  if (!repositories) return internal(repositories.error());
  for (auto& repository : *repositories) {
    usage.repositories.push_back({std::move(repository.name), repository.storage_bytes});
  }
  for (CountedResource resource : kCountedResources) {
    auto current = count(record->id, resource);
    if (!current) return current.error();
    usage.counts.push_back({resource, *current, limit_of(*registry->tier, resource)});
  }
  return usage;
}

TenantResult<Health> Tenants::health(std::string_view name) {
  auto record = find(name);
  if (!record) return record.error();
  auto registry = info(*record);
  if (!registry) return registry.error();

  Health health;
  auto add = [&](std::string check, bool healthy, std::string message) {
    health.healthy = health.healthy && healthy;
    health.checks.push_back({std::move(check), healthy, std::move(message)});
  };

  auto used = metadata_.registry_storage_bytes(record->id);
  if (used) {
    add("metadata", true, "the metadata store answers");
  } else {
    add("metadata", false, used.error().message);
  }

  // The digest of no bytes: its absence is a healthy answer too; only a failing medium is not.
  auto probe = storage_.stat(oci::digest_of(""));
  if (probe || probe.error().code == storage::Errc::not_found) {
    add("storage", true, "the blob storage answers");
  } else {
    add("storage", false, probe.error().message);
  }

  std::vector<std::string> over;
  std::vector<std::string> failed;
  for (CountedResource resource : kCountedResources) {
    auto current = count(record->id, resource);
    if (!current) {
      failed.push_back(current.error().message);
      continue;
    }
    std::uint64_t limit = limit_of(*registry->tier, resource);
    if (*current > limit) {
      over.push_back(fmt::format("{} {} (tier {} allows {})", *current,
                                 resource_description(resource), registry->tier->name, limit));
    }
  }
  if (!failed.empty()) {
    add("tierLimits", false, "cannot count: " + join(failed, "; "));
  } else if (!over.empty()) {
    add("tierLimits", false, "over the tier limits: " + join(over, ", "));
  } else {
    add("tierLimits", true, fmt::format("within the limits of tier {}", registry->tier->name));
  }
  return health;
}

// ------------------------------------------------------------------ tier limits

TenantResult<void> Tenants::check_can_add(std::string_view registry, CountedResource resource) {
  auto record = find(registry);
  if (!record) return record.error();
  return check_can_add(*record, resource);
}

TenantResult<void> Tenants::check_can_add(const metadata::RegistryRecord& registry,
                                          CountedResource resource) {
  auto registry_info = info(registry);
  if (!registry_info) return registry_info.error();
  const Tier& tier = *registry_info->tier;
  auto current = count(registry.id, resource);
  if (!current) return current.error();
  std::uint64_t limit = limit_of(tier, resource);
  if (*current >= limit) {
    return TenantError{TenantErrc::limit_exceeded,
                       fmt::format("registry '{}' has {} {}; tier {} allows {}", registry.name,
                                   *current, resource_description(resource), tier.name, limit),
                       std::string(resource_name(resource))};
  }
  return {};
}

// A firewall that denies by default needs IP rules to let anyone in: on a tier without them it
// would lock every client out of the data plane.
TenantResult<void> Tenants::check_network_action(const metadata::RegistryRecord& registry,
                                                 const Tier& tier) {
  if (registry.default_network_action != "Deny" ||
      limit_of(tier, CountedResource::ip_rules) > 0) {
    return {};
  }
  const Tier* needed = nullptr;
  for (const Tier& candidate : all_tiers()) {
    if (limit_of(candidate, CountedResource::ip_rules) > 0) {
      needed = &candidate;
      break;
    }
  }
  return TenantError{TenantErrc::invalid_argument,
                     fmt::format("a default network action of Deny needs IP rules, which tier {} "
                                 "lacks (tier {} has them); registry '{}'",
                                 tier.name, needed ? needed->name : "(none)", registry.name),
                     "defaultAction"};
}

TenantResult<void> Tenants::check_tier(const metadata::RegistryRecord& registry, const Tier& from,
                                       const Tier& to) {
  if (to.rank >= from.rank) {
    for (const FeatureFlag& flag : kFeatureFlags) {
      if (registry.*flag.flag && !has_feature(to, flag.feature)) {
        const Tier* needed = lowest_tier_with(flag.feature);
        return TenantError{TenantErrc::invalid_argument,
                           fmt::format("{} needs tier {} or higher; registry '{}' is on tier {}",
                                       feature_description(flag.feature),
                                       needed ? needed->name : "(none)", registry.name, to.name),
                           std::string(flag.field)};
      }
    }
    return {};
  }

  std::vector<std::string> blockers;
  for (const FeatureFlag& flag : kFeatureFlags) {
    if (registry.*flag.flag && !has_feature(to, flag.feature)) {
      blockers.push_back(fmt::format("{} is enabled ({}) and tier {} lacks it",
                                     feature_description(flag.feature), flag.field, to.name));
    }
  }
  for (CountedResource resource : kCountedResources) {
    std::uint64_t limit = limit_of(to, resource);
    if (limit >= limit_of(from, resource)) continue;
    auto current = count(registry.id, resource);
    if (!current) return current.error();
    if (*current > limit) {
      blockers.push_back(fmt::format("it has {} {} and tier {} allows {}", *current,
                                     resource_description(resource), to.name, limit));
    }
  }
  if (blockers.empty()) return {};
  return TenantError{TenantErrc::downgrade_blocked,
                     fmt::format("registry '{}' cannot move from tier {} to tier {}: {}",
                                 registry.name, from.name, to.name, join(blockers, "; ")),
                     registry.name};
}

}  // namespace berth::registry
