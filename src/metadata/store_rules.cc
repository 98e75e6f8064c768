#include "metadata/store_rules.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace berth::metadata {
namespace {

constexpr auto kMaxColumnInteger =
    static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());

}  // namespace

// --- building errors ---

MetadataError invalid_argument(std::string message) {
  return {Errc::invalid_argument, std::move(message)};
}

std::string named(std::string_view what, std::string_view name) {
  std::string text(what);
  text += " '";
  text += name;
  text += '\'';
  return text;
}

std::optional<MetadataError> check_not_empty(std::string_view value, std::string_view what) {
  if (!value.empty()) return std::nullopt;
  std::string message(what);
  message += " is empty";
  return invalid_argument(std::move(message));
}

MetadataError registry_not_found(RegistryId registry) {
  std::string message = "registry ";
  message += std::to_string(registry);
  message += " does not exist";
  return {Errc::not_found, std::move(message)};
}

MetadataError schema_too_new(std::int64_t found, std::int64_t supported) {
  std::string message = "database schema version ";
  message += std::to_string(found);
  message += " is newer than this berth supports (";
  message += std::to_string(supported);
  message += ')';
  return {Errc::schema_too_new, std::move(message)};
}

MetadataError unknown_schema_version(std::int64_t version) {
  std::string message = "metadata database: no schema version ";
  message += std::to_string(version);
  return invalid_argument(std::move(message));
}

MetadataError registry_exists(std::string_view name) {
  return {Errc::conflict, named("registry", name) + " already exists"};
}

MetadataError upload_exists(std::string_view id) {
  std::string message = "upload ";
  message += id;
  message += " already exists";
  return {Errc::conflict, std::move(message)};
}

MetadataError upload_limit_reached(std::int64_t open) {
  std::string message = "the registry has ";
  message += std::to_string(open);
  message += " open upload sessions, its limit";
  return {Errc::limit_reached, std::move(message)};
}

MetadataError blob_being_deleted(std::string_view digest) {
  std::string message = "blob ";
  message += digest;
  message += " is being removed by garbage collection";
  return {Errc::being_deleted, std::move(message)};
}

MetadataError blob_size_mismatch(std::string_view digest, std::int64_t recorded,
                                 std::uint64_t size) {
  std::string message = "blob ";
  message += digest;
  message += " is recorded with size ";
  message += std::to_string(recorded);
  message += ", not ";
  message += std::to_string(size);
  return {Errc::conflict, std::move(message)};
}

MetadataError blob_not_linked(std::string_view digest) {
  std::string message = "blob ";
  message += digest;
  message += " is not in the repository any more";
  return {Errc::reference_missing, std::move(message)};
}

std::string quota_message(std::string_view whose, std::uint64_t quota, std::uint64_t used,
                          std::uint64_t adding) {
  std::string message(whose);
  message += " storage quota is ";
  message += std::to_string(quota);
  message += " bytes and ";
  message += std::to_string(used);
  message += " bytes are used; this blob would add ";
  message += std::to_string(adding);
  message += " bytes";
  return message;
}

// --- the content metadata ---

std::optional<MetadataError> check_repository(RepositoryRef repository) {
  if (repository.name.empty()) return invalid_argument("repository name is empty");
  return std::nullopt;
}

std::optional<MetadataError> check_default_network_action(const RegistryRecord& registry) {
  if (registry.default_network_action == "Allow" || registry.default_network_action == "Deny") {
    return std::nullopt;
  }
  return invalid_argument("default network action '" + registry.default_network_action +
                          "' is neither 'Allow' nor 'Deny'");
}

std::optional<MetadataError> check_blob_size(std::uint64_t size) {
  if (size <= kMaxColumnInteger) return std::nullopt;
  std::string message = "blob size ";
  message += std::to_string(size);
  message += " is out of range";
  return invalid_argument(std::move(message));
}

// --- lifecycle ---

std::optional<MetadataError> check_days(int days, int min, int max, std::string_view what) {
  if (days >= min && days <= max) return std::nullopt;
  return invalid_argument(std::string(what) + " days must be between " + std::to_string(min) +
                          " and " + std::to_string(max) + ", not " + std::to_string(days));
}

std::optional<MetadataError> check_quota_bytes(std::optional<std::uint64_t> bytes) {
  if (bytes && *bytes > kMaxColumnInteger) {
    std::string message = "quota ";
    message += std::to_string(*bytes);
    message += " is out of range";
    return invalid_argument(std::move(message));
  }
  return std::nullopt;
}

std::optional<MetadataError> check_purge_schedule(const PurgeSchedule& schedule) {
  if (schedule.name.empty()) return invalid_argument("purge schedule name is empty");
  for (const std::string& filter : schedule.filters) {
    if (filter.find('\n') != std::string::npos) {
      return invalid_argument("a purge filter holds a line break");
    }
  }
  return std::nullopt;
}

// --- access control ---

std::optional<MetadataError> check_scope_map(const ScopeMapRecord& record) {
  if (auto bad = check_not_empty(record.name, "scope map name")) return bad;
  for (const std::string& action : record.actions) {
    if (auto bad = check_not_empty(action, "scope map action")) return bad;
  }
  return std::nullopt;
}

bool equal_ignoring_ascii_case(std::string_view a, std::string_view b) {
  auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; };
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [&](char x, char y) { return lower(x) == lower(y); });
}

std::optional<MetadataError> check_token(const TokenRecord& record) {
  if (auto bad = check_not_empty(record.name, "token name")) return bad;
  if (auto bad = check_not_empty(record.scope_map, "token scope map")) return bad;
  if (record.passwords.size() > kMaxTokenPasswords) {
    return invalid_argument("a token has at most " + std::to_string(kMaxTokenPasswords) +
                            " passwords, not " + std::to_string(record.passwords.size()));
  }
  for (std::size_t i = 0; i < record.passwords.size(); ++i) {
    const TokenPasswordRecord& password = record.passwords[i];
    if (auto bad = check_not_empty(password.name, "token password name")) return bad;
    if (auto bad = check_not_empty(password.secret_hash, "token password hash")) return bad;
    for (std::size_t j = 0; j < i; ++j) {
      // The column compares ignoring case, so must the check.
      if (equal_ignoring_ascii_case(record.passwords[j].name, password.name)) {
        return invalid_argument(named("token password", password.name) + " is repeated");
      }
    }
  }
  return std::nullopt;
}

std::optional<MetadataError> check_identity(const IdentityRecord& record) {
  if (auto bad = check_not_empty(record.id, "identity id")) return bad;
  if (auto bad = check_not_empty(record.name, "identity name")) return bad;
  return std::nullopt;
}

// --- events and webhooks ---

std::optional<MetadataError> check_webhook(const WebhookRecord& webhook) {
  if (webhook.name.empty()) return invalid_argument("webhook name is empty");
  if (webhook.service_uri.empty()) return invalid_argument("webhook service URI is empty");
  if (webhook.actions.empty()) return invalid_argument("webhook has no actions");
  return std::nullopt;
}

// --- deployment settings and leases ---

std::optional<MetadataError> check_coordination_name(std::string_view name, std::string_view what) {
  if (auto bad = check_not_empty(name, what)) return bad;
  if (name.size() > kMaxCoordinationName) {
    std::string message(what);
    message += " is longer than ";
    message += std::to_string(kMaxCoordinationName);
    message += " characters";
    return invalid_argument(std::move(message));
  }
  // Both databases keep them as text: PostgreSQL's refuses NUL and invalid UTF-8, and control
  // characters would only make logs and tables harder to read.
  const bool printable = std::all_of(name.begin(), name.end(), [](char c) {
    return static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) < 0x7f;
  });
  if (!printable) {
    std::string message(what);
    message += " holds a character that is not printable ASCII";
    return invalid_argument(std::move(message));
  }
  return std::nullopt;
}

std::optional<MetadataError> check_deployment_setting(std::string_view name,
                                                      std::string_view value) {
  if (auto bad = check_coordination_name(name, "deployment setting name")) return bad;
  if (value.size() > kMaxDeploymentSettingBytes) {
    std::string message = named("deployment setting", name);
    message += ": the value is larger than ";
    message += std::to_string(kMaxDeploymentSettingBytes);
    message += " bytes";
    return invalid_argument(std::move(message));
  }
  return std::nullopt;
}

MetadataError setting_vanished(std::string_view name) {
  std::string message = "metadata database: ";
  message += named("deployment setting", name);
  message += " vanished while it was being set";
  return {Errc::database_error, std::move(message)};
}

std::optional<MetadataError> check_lease_request(std::string_view name, std::string_view holder,
                                                 std::int64_t now_ms, std::int64_t ttl_ms) {
  if (auto bad = check_coordination_name(name, "lease name")) return bad;
  if (auto bad = check_coordination_name(holder, "lease holder")) return bad;
  if (ttl_ms <= 0) return invalid_argument("a lease's time to live must be positive");
  if (now_ms > std::numeric_limits<std::int64_t>::max() - ttl_ms) {
    return invalid_argument("a lease's expiry is out of range");
  }
  return std::nullopt;
}

// --- content from other registries ---

std::optional<MetadataError> check_credential_set(const CredentialSet& set) {
  return check_not_empty(set.name, "credential set name");
}

std::optional<MetadataError> check_cache_rule_change(const CacheRule& rule) {
  if (auto bad = check_not_empty(rule.name, "cache rule name")) return bad;
  if (rule.tag_ttl_seconds < 0) return invalid_argument("a cache rule's tag TTL is negative");
  return std::nullopt;
}

std::optional<MetadataError> check_cache_rule(const CacheRule& rule) {
  if (auto bad = check_cache_rule_change(rule)) return bad;
  if (auto bad = check_not_empty(rule.source_repository, "cache rule source repository")) {
    return bad;
  }
  return check_not_empty(rule.target_repository, "cache rule target repository");
}

std::optional<MetadataError> check_import_holder(std::string_view holder) {
  return check_not_empty(holder, "import job holder");
}

std::optional<MetadataError> check_import_end(ImportStatus status) {
  if (status == ImportStatus::succeeded || status == ImportStatus::failed) return std::nullopt;
  return invalid_argument("an import job ends as succeeded or failed");
}

MetadataError credential_set_not_found(std::string_view name) {
  return {Errc::not_found, named("credential set", name) + " does not exist"};
}

MetadataError credential_set_exists(std::string_view name) {
  return {Errc::conflict, named("credential set", name) + " already exists"};
}

MetadataError credential_set_in_use(std::string_view name, std::string_view rule) {
  std::string message = named("credential set", name);
  message += " is used by ";
  message += named("cache rule", rule);
  return {Errc::conflict, std::move(message)};
}

MetadataError cache_rule_not_found(std::string_view name) {
  return {Errc::not_found, named("cache rule", name) + " does not exist"};
}

MetadataError cache_rule_exists(std::string_view name) {
  return {Errc::conflict, named("cache rule", name) + " already exists"};
}

MetadataError cache_rule_target_taken(std::string_view target, std::string_view rule) {
  std::string message = named("cache rule", rule);
  message += " has the target repository '";
  message += target;
  message += "' already";
  return {Errc::conflict, std::move(message)};
}

MetadataError cache_rules_limit_reached(std::uint64_t held) {
  std::string message = "the registry has ";
  message += std::to_string(held);
  message += " cache rules, its limit";
  return {Errc::limit_reached, std::move(message)};
}

MetadataError repository_not_found(RepositoryRef repository) {
  return {Errc::not_found, named("repository", repository.name) + " does not exist"};
}

// --- build tasks and their runs ---

std::optional<MetadataError> check_task(const Task& task) {
  return check_not_empty(task.name, "task name");
}

std::optional<MetadataError> check_trigger(std::string_view task, std::string_view trigger) {
  if (auto bad = check_not_empty(task, "task name")) return bad;
  return check_not_empty(trigger, "trigger name");
}

std::optional<MetadataError> check_base_images(std::string_view task,
                                               const std::vector<std::string>& references) {
  if (auto bad = check_not_empty(task, "task name")) return bad;
  for (const std::string& reference : references) {
    if (auto bad = check_not_empty(reference, "base image reference")) return bad;
  }
  return std::nullopt;
}

std::optional<MetadataError> check_run_holder(std::string_view holder) {
  return check_not_empty(holder, "run holder");
}

std::optional<MetadataError> check_run_end(RunStatus status) {
  switch (status) {
    case RunStatus::succeeded:
    case RunStatus::failed:
    case RunStatus::canceled:
    case RunStatus::timeout:
      return std::nullopt;
    case RunStatus::queued:
    case RunStatus::running:
      break;
  }
  return invalid_argument("a run ends as succeeded, failed, canceled or timeout");
}

std::optional<MetadataError> check_pin_owner(std::string_view owner) {
  return check_not_empty(owner, "blob pin owner");
}

MetadataError task_not_found(std::string_view name) {
  return {Errc::not_found, named("task", name) + " does not exist"};
}

MetadataError task_exists(std::string_view name) {
  return {Errc::conflict, named("task", name) + " already exists"};
}

MetadataError tasks_limit_reached(std::uint64_t held) {
  std::string message = "the registry has ";
  message += std::to_string(held);
  message += " tasks, its limit";
  return {Errc::limit_reached, std::move(message)};
}

MetadataError run_not_found(std::int64_t number) {
  std::string message = "run ";
  message += std::to_string(number);
  message += " does not exist";
  return {Errc::not_found, std::move(message)};
}

}  // namespace berth::metadata
