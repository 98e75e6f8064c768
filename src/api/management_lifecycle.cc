// The content-lifecycle part of /mgmt/v1: the soft delete and retention policies, storage
// quotas, soft-deleted content and its restore, and purge (now or on a schedule). Content
// changes go through registry::Registry like every other route; the contract is
// docs/management-api.md ("Content lifecycle").

#include <fmt/format.h>

#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <cctype>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>

#include "api/errors.h"
#include "api/management.h"
#include "api/management_json.h"
#include "api/wire.h"
#include "common/clock.h"
#include "metadata/lifecycle_store.h"
#include "oci/reference.h"
#include "registry/cron.h"
#include "registry/lifecycle_job.h"
#include "registry/purge.h"
#include "registry/tenants.h"
#include "registry/tiers.h"

namespace berth::api {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using http::Request;
using http::Response;
using namespace mgmt_json;

constexpr std::size_t kDefaultPage = 100;
constexpr std::size_t kMaxPage = 1000;
constexpr std::size_t kMaxScheduleName = 128;

Response internal_error(std::string detail) {
  Response response = management_error(500, mgmt::code::kInternalError, "internal server error");
  response.log_detail = "management: content lifecycle: " + std::move(detail);
  return response;
}

Response unavailable() {
  return management_error(503, mgmt::code::kInternalError,
                          "content lifecycle is not available in this server");
}

Response tenant_error(const registry::TenantError& error) {
  if (error.code == registry::TenantErrc::registry_not_found) {
    return domain_error(404, mgmt::code::kRegistryNotFound, error.message, error.target);
  }
  return internal_error(error.message);
}

Response store_error(const metadata::MetadataError& error) {
  if (error.code == metadata::Errc::invalid_argument) return invalid_request(error.message);
  return internal_error(error.message);
}

// A content failure: not-found errors name what is missing.
Response content_error(const registry::RegistryError& error, std::string_view registry,
                       std::string_view repository) {
  switch (error.code) {
    case registry::Errc::name_unknown:
      return domain_error(
          404, mgmt::code::kRepositoryNotFound,
          fmt::format("repository '{}' does not exist in registry '{}'", repository, registry),
          repository);
    case registry::Errc::manifest_unknown:
    case registry::Errc::tag_unknown:
      return domain_error(404, mgmt::code::kManifestNotFound, error.message, repository);
    case registry::Errc::locked:
      return management_error(403, mgmt::code::kLocked, error.message);
    case registry::Errc::unsupported:
      return invalid_request(error.message);
    default:
      break;
  }
  unsigned status = wire_error_of(error.code).status;
  if (status >= 500) return internal_error(error.message);
  return management_error(status, mgmt::code::kInvalidRequest, error.message);
}

json::value time_or_null(std::int64_t unix_seconds) {
  if (unix_seconds == 0) return nullptr;
  return json::value(time_of(unix_seconds));
}

json::value bytes_or_null(std::optional<std::uint64_t> bytes) {
  if (!bytes) return nullptr;
  return json::value(*bytes);
}

std::string_view status_of(bool enabled) { return enabled ? "enabled" : "disabled"; }

json::object soft_delete_json(const metadata::SoftDeletePolicy& policy) {
  return json::object{{"status", status_of(policy.enabled)},
                      {"days", policy.days},
                      {"lastUpdatedTime", time_or_null(policy.updated_at)}};
}

json::object retention_json(const metadata::RetentionPolicy& policy) {
  return json::object{{"type", "UntaggedManifests"},
                      {"status", status_of(policy.enabled)},
                      {"days", policy.days},
                      {"lastUpdatedTime", time_or_null(policy.updated_at)}};
}

json::array strings_json(const std::vector<std::string>& items) {
  json::array array;
  for (const auto& item : items) array.emplace_back(item);
  return array;
}

json::object deleted_manifest_json(const metadata::DeletedManifest& manifest) {
  return json::object{
      {"digest", manifest.digest.str()},
      {"mediaType", manifest.media_type},
      {"artifactType", manifest.artifact_type},
      {"size", manifest.size},
      {"createdTime", time_of(manifest.created_at)},
      {"deletedTime", time_of(manifest.deleted_at)},
      {"expiryTime", time_of(manifest.expires_at)},
      {"architecture", manifest.architecture},
      {"os", manifest.os},
      {"tags", strings_json(manifest.tags)},
  };
}

json::object deleted_tag_json(const metadata::DeletedTag& tag) {
  return json::object{
      {"name", tag.name},
      {"digest", tag.digest.str()},
      {"createdTime", time_of(tag.created_at)},
      {"deletedTime", time_of(tag.deleted_at)},
      {"expiryTime", time_of(tag.expires_at)},
  };
}

json::object schedule_json(const metadata::PurgeSchedule& schedule) {
  return json::object{
      {"name", schedule.name},
      {"schedule", schedule.schedule},
      {"filters", strings_json(schedule.filters)},
      {"ago", registry::format_purge_age(std::chrono::seconds(schedule.ago_seconds))},
      {"untagged", schedule.untagged},
      {"keep", schedule.keep},
      {"createdTime", time_of(schedule.created_at)},
      {"lastUpdatedTime", time_of(schedule.updated_at)},
      {"lastRunTime", time_or_null(schedule.last_run_at)},
      {"lastResult", schedule.last_result},
  };
}

json::object purge_json(const registry::PurgeOutcome& outcome) {
  json::array tags;
  for (const auto& tag : outcome.deleted.tags) {
    tags.push_back(
        json::object{{"repository", tag.repository}, {"tag", tag.tag}, {"digest", tag.digest}});
  }
  json::array manifests;
  for (const auto& manifest : outcome.deleted.manifests) {
    manifests.push_back(
        json::object{{"repository", manifest.repository}, {"digest", manifest.digest}});
  }
  return json::object{{"dryRun", outcome.dry_run},
                      {"tags", std::move(tags)},
                      {"manifests", std::move(manifests)},
                      {"failures", strings_json(outcome.failures)}};
}

// A policy change: "status" ("enabled"/"disabled") and "days" within [min, max], either or
// both; or the 400 to answer.
struct PolicyChange {
  std::optional<bool> enabled;
  std::optional<int> days;
  std::optional<Response> error;
};

PolicyChange policy_change_of(const json::object& body, int min_days, int max_days) {
  PolicyChange change;
  if (auto bad = check_fields(body, {{"status", FieldType::string},
                                     {"days", FieldType::integer},
                                     {"type", FieldType::string}})) {
    change.error = std::move(*bad);
    return change;
  }
  if (auto type = string_field(body, "type"); type && *type != "UntaggedManifests") {
    change.error = invalid_request("type must be UntaggedManifests", "type");
    return change;
  }
  if (auto status = string_field(body, "status")) {
    if (*status != "enabled" && *status != "disabled") {
      change.error = invalid_request("status must be enabled or disabled", "status");
      return change;
    }
    change.enabled = *status == "enabled";
  }
  if (auto days = int_field(body, "days")) {
    if (*days < min_days || *days > max_days) {
      change.error = invalid_request(
          fmt::format("days must be between {} and {}", min_days, max_days), "days");
      return change;
    }
    change.days = static_cast<int>(*days);
  }
  if (!change.enabled && !change.days) {
    change.error = invalid_request("give status, days or both");
  }
  return change;
}

// {"quotaBytes": N|null}: the quota, nullopt to remove it; or the 400 to answer.
struct QuotaChange {
  std::optional<std::uint64_t> bytes;
  std::optional<Response> error;
};

QuotaChange quota_change_of(const json::object& body) {
  QuotaChange change;
  if (auto bad = check_fields(body, {{"quotaBytes", FieldType::nullable_integer}})) {
    change.error = std::move(*bad);
    return change;
  }
  if (!body.contains("quotaBytes")) {
    change.error = invalid_request("give quotaBytes: a number of bytes, or null for none");
    return change;
  }
  if (auto bytes = int_field(body, "quotaBytes")) {
    if (*bytes < 0 || *bytes == std::numeric_limits<std::int64_t>::max()) {
      change.error =
          invalid_request("quotaBytes must be a number of bytes from 0 to 2^63-2", "quotaBytes");
      return change;
    }
    change.bytes = static_cast<std::uint64_t>(*bytes);
  }
  return change;
}

// A purge request body (with "schedule" when `scheduled`); or the 400 to answer.
struct PurgeBody {
  registry::PurgeRequest request;
  bool dry_run = false;
  std::string schedule;
  std::optional<Response> error;
};

PurgeBody purge_body_of(const json::object& body, bool scheduled) {
  PurgeBody parsed;
  auto bad = scheduled ? check_fields(body, {{"filters", FieldType::string_array},
                                             {"ago", FieldType::string},
                                             {"untagged", FieldType::boolean},
                                             {"keep", FieldType::integer},
                                             {"schedule", FieldType::string}})
                       : check_fields(body, {{"filters", FieldType::string_array},
                                             {"ago", FieldType::string},
                                             {"untagged", FieldType::boolean},
                                             {"keep", FieldType::integer},
                                             {"dryRun", FieldType::boolean}});
  if (bad) {
    parsed.error = std::move(*bad);
    return parsed;
  }
  parsed.request.filters = string_array_field(body, "filters");
  if (auto checked = registry::check_purge_request(parsed.request); !checked) {
    parsed.error = invalid_request(checked.error().message, "filters");
    return parsed;
  }
  auto ago = string_field(body, "ago");
  auto age = ago ? registry::parse_purge_age(*ago) : std::nullopt;
  if (!age) {
    parsed.error = invalid_request(
        "ago must be 0 or days, hours, minutes and seconds in that order, e.g. 30d or 1d12h",
        "ago");
    return parsed;
  }
  parsed.request.ago = *age;
  parsed.request.untagged = bool_field(body, "untagged").value_or(false);
  if (auto keep = int_field(body, "keep")) {
    if (*keep < 0 || *keep > 1'000'000) {
      parsed.error = invalid_request("keep must be from 0 to 1000000", "keep");
      return parsed;
    }
    parsed.request.keep = static_cast<std::uint64_t>(*keep);
  }
  parsed.dry_run = bool_field(body, "dryRun").value_or(false);
  if (scheduled) {
    parsed.schedule = string_field(body, "schedule").value_or("");
    if (auto cron = registry::CronSchedule::parse(parsed.schedule); !cron) {
      parsed.error = invalid_request("schedule: " + cron.error(), "schedule");
    }
  }
  return parsed;
}

bool is_schedule_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxScheduleName) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_' || c == '.';
  });
}

// Link: <path?last=...&n=...>; rel="next".
void add_next_link(Response& response, std::string_view path, std::string_view last,
                   std::size_t limit) {
  response.headers.set("Link", fmt::format("<{}?last={}&n={}>; rel=\"next\"", path, last, limit));
}

class LifecycleHandlers {
 public:
  explicit LifecycleHandlers(ManagementContext& context) : context_(context) {}

  // --- policies ---

  asio::awaitable<Response> show_soft_delete(RequestContext& context, Request& request) {
    co_return co_await with_registry(context, request,
                                     [&](const registry::RegistryInfo& info) -> Response {
                                       auto policy = lifecycle().soft_delete_policy(info.record.id);
                                       if (!policy) return store_error(policy.error());
                                       return json_response(200, soft_delete_json(*policy));
                                     });
  }

  asio::awaitable<Response> update_soft_delete(RequestContext& context, Request& request) {
    JsonBody body = co_await read_json_object(request);
    if (body.error) co_return std::move(*body.error);
    PolicyChange change =
        policy_change_of(body.object, metadata::kMinSoftDeleteDays, metadata::kMaxSoftDeleteDays);
    if (change.error) co_return std::move(*change.error);
    co_return co_await with_registry(
        context, request, [&](const registry::RegistryInfo& info) -> Response {
          auto current = lifecycle().soft_delete_policy(info.record.id);
          if (!current) return store_error(current.error());
          auto policy = lifecycle().set_soft_delete_policy(
              info.record.id, change.enabled.value_or(current->enabled),
              change.days.value_or(current->days), unix_now());
          if (!policy) return store_error(policy.error());
          return json_response(200, soft_delete_json(*policy));
        });
  }

  asio::awaitable<Response> show_retention(RequestContext& context, Request& request) {
    co_return co_await with_registry(context, request,
                                     [&](const registry::RegistryInfo& info) -> Response {
                                       auto policy = lifecycle().retention_policy(info.record.id);
                                       if (!policy) return store_error(policy.error());
                                       return json_response(200, retention_json(*policy));
                                     });
  }

  asio::awaitable<Response> update_retention(RequestContext& context, Request& request) {
    JsonBody body = co_await read_json_object(request);
    if (body.error) co_return std::move(*body.error);
    PolicyChange change =
        policy_change_of(body.object, metadata::kMinRetentionDays, metadata::kMaxRetentionDays);
    if (change.error) co_return std::move(*change.error);
    co_return co_await with_registry(
        context, request, [&](const registry::RegistryInfo& info) -> Response {
          if (change.enabled.value_or(false) &&
              !registry::has_feature(*info.tier, registry::Feature::retention_policy)) {
            const registry::Tier* lowest =
                registry::lowest_tier_with(registry::Feature::retention_policy);
            return invalid_request(
                fmt::format("the {} tier has no retention policy; it needs the {} tier",
                            info.tier->name, lowest != nullptr ? lowest->name : "Premium"));
          }
          auto current = lifecycle().retention_policy(info.record.id);
          if (!current) return store_error(current.error());
          auto policy = lifecycle().set_retention_policy(
              info.record.id, change.enabled.value_or(current->enabled),
              change.days.value_or(current->days), unix_now());
          if (!policy) return store_error(policy.error());
          return json_response(200, retention_json(*policy));
        });
  }

  // POST .../policies/retention/run: what the policy deletes now; with dryRun only listed.
  asio::awaitable<Response> run_retention(RequestContext& context, Request& request) {
    JsonBody body = co_await read_json_object(request);
    if (body.error) co_return std::move(*body.error);
    if (auto bad = check_fields(body.object, {{"dryRun", FieldType::boolean}})) {
      co_return std::move(*bad);
    }
    const bool dry_run = bool_field(body.object, "dryRun").value_or(false);
    co_return co_await in_registry(
        context, request, [&](registry::Registry& content, const registry::RegistryInfo& info) {
          auto policy = lifecycle().retention_policy(info.record.id);
          if (!policy) return store_error(policy.error());
          if (!policy->enabled) {
            return invalid_request(
                fmt::format("the retention policy of registry '{}' is disabled", info.record.name));
          }
          auto outcome = registry::apply_retention(content, lifecycle(), unix_now(), dry_run);
          if (!outcome) return content_error(outcome.error(), info.record.name, "");
          return json_response(200, purge_json(*outcome));
        });
  }

  // --- quotas ---

  asio::awaitable<Response> show_registry_quota(RequestContext& context, Request& request) {
    co_return co_await with_registry(
        context, request,
        [&](const registry::RegistryInfo& info) -> Response { return registry_quota(info); });
  }

  asio::awaitable<Response> update_registry_quota(RequestContext& context, Request& request) {
    JsonBody body = co_await read_json_object(request);
    if (body.error) co_return std::move(*body.error);
    QuotaChange change = quota_change_of(body.object);
    if (change.error) co_return std::move(*change.error);
    co_return co_await with_registry(
        context, request, [&](const registry::RegistryInfo& info) -> Response {
          if (auto set = lifecycle().set_registry_quota(info.record.id, change.bytes); !set) {
            return store_error(set.error());
          }
          return registry_quota(info);
        });
  }

  asio::awaitable<Response> show_repository_quota(RequestContext& context, Request& request) {
    co_return co_await with_repository(
        context, request,
        [&](const registry::RegistryInfo& info, std::string_view repository) -> Response {
          return repository_quota(info, repository);
        });
  }

  asio::awaitable<Response> update_repository_quota(RequestContext& context, Request& request) {
    JsonBody body = co_await read_json_object(request);
    if (body.error) co_return std::move(*body.error);
    QuotaChange change = quota_change_of(body.object);
    if (change.error) co_return std::move(*change.error);
    co_return co_await with_repository(
        context, request,
        [&](const registry::RegistryInfo& info, std::string_view repository) -> Response {
          auto set = lifecycle().set_repository_quota({info.record.id, repository}, change.bytes);
          if (!set && set.error().code == metadata::Errc::not_found) {
            return missing_repository(info, repository);
          }
          if (!set) return store_error(set.error());
          return repository_quota(info, repository);
        });
  }

  // --- soft-deleted content ---

  asio::awaitable<Response> list_deleted_repositories(RequestContext& context, Request& request) {
    auto page = parse_count(request.query_param("n"), "n", 1, kMaxPage, kDefaultPage);
    if (page.error) co_return std::move(*page.error);
    std::string last(request.query_param("last").value_or(""));
    co_return co_await in_registry(
        context, request, [&](registry::Registry& content, const registry::RegistryInfo& info) {
          auto names = content.deleted_repositories(last, page.value + 1);
          if (!names) return content_error(names.error(), info.record.name, "");
          bool more = names->size() > page.value;
          if (more) names->resize(page.value);
          Response response =
              json_response(200, json::object{{"repositories", strings_json(*names)}});
          if (more) {
            add_next_link(response, request.path, names->back(), page.value);
          }
          return response;
        });
  }

  asio::awaitable<Response> list_deleted_manifests(RequestContext& context, Request& request) {
    auto page = parse_count(request.query_param("n"), "n", 1, kMaxPage, kDefaultPage);
    if (page.error) co_return std::move(*page.error);
    std::string last(request.query_param("last").value_or(""));
    co_return co_await in_repository(
        context, request,
        [&](registry::Registry& content, const registry::RegistryInfo& info,
            std::string_view repository) {
          auto manifests = content.deleted_manifests(repository, last, page.value + 1);
          if (!manifests) return content_error(manifests.error(), info.record.name, repository);
          bool more = manifests->size() > page.value;
          if (more)
            manifests->erase(manifests->begin() + static_cast<std::ptrdiff_t>(page.value),
                             manifests->end());
          json::array items;
          for (const auto& manifest : *manifests) items.push_back(deleted_manifest_json(manifest));
          Response response = json_response(
              200, json::object{{"repository", repository}, {"manifests", std::move(items)}});
          if (more) {
            add_next_link(response, request.path, manifests->back().digest.str(), page.value);
          }
          return response;
        });
  }

  asio::awaitable<Response> list_deleted_tags(RequestContext& context, Request& request) {
    std::optional<std::string> tag;
    if (auto given = request.query_param("tag")) tag = std::string(*given);
    co_return co_await in_repository(
        context, request,
        [&](registry::Registry& content, const registry::RegistryInfo& info,
            std::string_view repository) {
          auto tags = content.deleted_tags(
              repository, tag ? std::optional<std::string_view>(*tag) : std::nullopt, kMaxPage);
          if (!tags) return content_error(tags.error(), info.record.name, repository);
          json::array items;
          for (const auto& item : *tags) items.push_back(deleted_tag_json(item));
          return json_response(
              200, json::object{{"repository", repository}, {"tags", std::move(items)}});
        });
  }

  asio::awaitable<Response> restore(RequestContext& context, Request& request) {
    JsonBody body = co_await read_json_object(request);
    if (body.error) co_return std::move(*body.error);
    if (auto bad = check_fields(body.object, {{"digest", FieldType::string},
                                              {"tag", FieldType::string},
                                              {"force", FieldType::boolean}})) {
      co_return std::move(*bad);
    }
    auto digest_text = string_field(body.object, "digest");
    auto tag = string_field(body.object, "tag");
    if (digest_text.has_value() == tag.has_value()) {
      co_return invalid_request("give either digest or tag");
    }
    std::optional<oci::Reference> reference;
    if (digest_text) {
      auto digest = oci::Digest::parse(*digest_text);
      if (!digest) {
        co_return invalid_request(
            fmt::format("'{}' is not a valid sha256 or sha512 digest", *digest_text), "digest");
      }
      reference.emplace(std::move(*digest));
    } else {
      if (!oci::is_valid_tag(*tag)) {
        co_return invalid_request(fmt::format("'{}' is not a valid tag", *tag), "tag");
      }
      reference.emplace(*tag);
    }
    const bool force = bool_field(body.object, "force").value_or(false);
    co_return co_await in_repository(
        context, request,
        [&](registry::Registry& content, const registry::RegistryInfo& info,
            std::string_view repository) {
          auto restored = content.restore(repository, *reference, force);
          if (!restored) return content_error(restored.error(), info.record.name, repository);
          json::array manifests;
          for (const auto& digest : restored->manifests) manifests.emplace_back(digest.str());
          return json_response(
              200, json::object{{"repository", repository},
                                {"manifests", std::move(manifests)},
                                {"tags", strings_json(restored->tags)},
                                {"tagsNotRestored", strings_json(restored->tags_taken)}});
        });
  }

  // --- purge ---

  asio::awaitable<Response> purge(RequestContext& context, Request& request) {
    JsonBody body = co_await read_json_object(request);
    if (body.error) co_return std::move(*body.error);
    PurgeBody parsed = purge_body_of(body.object, false);
    if (parsed.error) co_return std::move(*parsed.error);
    co_return co_await in_registry(
        context, request, [&](registry::Registry& content, const registry::RegistryInfo& info) {
          registry::Purge purge(content, lifecycle(), *context_.gc_store);
          auto outcome = purge.run(parsed.request, parsed.dry_run, unix_now());
          if (!outcome) return content_error(outcome.error(), info.record.name, "");
          return json_response(200, purge_json(*outcome));
        });
  }

  asio::awaitable<Response> list_purge_schedules(RequestContext& context, Request& request) {
    co_return co_await with_registry(
        context, request, [&](const registry::RegistryInfo& info) -> Response {
          auto schedules = lifecycle().list_purge_schedules(info.record.id);
          if (!schedules) return store_error(schedules.error());
          json::array items;
          for (const auto& schedule : *schedules) items.push_back(schedule_json(schedule));
          return json_response(200, json::object{{"schedules", std::move(items)}});
        });
  }

  asio::awaitable<Response> put_purge_schedule(RequestContext& context, Request& request) {
    std::string name(request.param("name"));
    if (!is_schedule_name(name)) {
      co_return invalid_request(
          fmt::format("a schedule name is 1 to {} letters, digits, '-', '_' or '.'",
                      kMaxScheduleName),
          name);
    }
    JsonBody body = co_await read_json_object(request);
    if (body.error) co_return std::move(*body.error);
    PurgeBody parsed = purge_body_of(body.object, true);
    if (parsed.error) co_return std::move(*parsed.error);
    co_return co_await with_registry(
        context, request, [&](const registry::RegistryInfo& info) -> Response {
          metadata::PurgeSchedule schedule{.registry = info.record.id,
                                           .name = name,
                                           .schedule = parsed.schedule,
                                           .filters = parsed.request.filters,
                                           .ago_seconds = parsed.request.ago.count(),
                                           .untagged = parsed.request.untagged,
                                           .keep = parsed.request.keep,
                                           .updated_at = unix_now()};
          auto saved = lifecycle().put_purge_schedule(schedule);
          if (!saved) return store_error(saved.error());
          return json_response(200, schedule_json(*saved));
        });
  }

  asio::awaitable<Response> delete_purge_schedule(RequestContext& context, Request& request) {
    std::string name(request.param("name"));
    co_return co_await with_registry(
        context, request, [&](const registry::RegistryInfo& info) -> Response {
          auto removed = lifecycle().delete_purge_schedule(info.record.id, name);
          if (!removed) return store_error(removed.error());
          if (!*removed) {
            return domain_error(
                404, mgmt::code::kNotFound,
                fmt::format("registry '{}' has no purge schedule '{}'", info.record.name, name),
                name);
          }
          return no_content();
        });
  }

 private:
  metadata::LifecycleStore& lifecycle() { return *context_.lifecycle; }

  Response registry_quota(const registry::RegistryInfo& info) {
    auto state = lifecycle().storage_state({info.record.id, ""});
    if (!state) return store_error(state.error());
    auto soft_deleted = lifecycle().soft_deleted_bytes(info.record.id);
    if (!soft_deleted) return store_error(soft_deleted.error());
    const std::uint64_t included = info.tier->limits.included_storage_bytes;
    return json_response(
        200, json::object{{"registry", info.record.name},
                          {"quotaBytes", bytes_or_null(state->registry_quota)},
                          {"includedBytes", included},
                          {"effectiveQuotaBytes", state->registry_quota.value_or(included)},
                          {"usedBytes", state->registry_bytes},
                          {"softDeletedBytes", *soft_deleted}});
  }

  Response repository_quota(const registry::RegistryInfo& info, std::string_view repository) {
    auto exists = context_.registries.for_registry(info.record.id).require_repository(repository);
    if (!exists) return content_error(exists.error(), info.record.name, repository);
    auto state = lifecycle().storage_state({info.record.id, repository});
    if (!state) return store_error(state.error());
    return json_response(200, json::object{{"repository", repository},
                                           {"quotaBytes", bytes_or_null(state->repository_quota)},
                                           {"usedBytes", state->repository_bytes}});
  }

  static Response missing_repository(const registry::RegistryInfo& info,
                                     std::string_view repository) {
    return domain_error(404, mgmt::code::kRepositoryNotFound,
                        fmt::format("repository '{}' does not exist in registry '{}'", repository,
                                    info.record.name),
                        repository);
  }

  // Runs `work(info)` on the blocking pool for the route's registry.
  template <class Work>
  asio::awaitable<Response> with_registry(RequestContext& context, Request& request, Work work) {
    if (context_.lifecycle == nullptr || context_.gc_store == nullptr) co_return unavailable();
    std::optional<Response> answer;
    co_await context.run_blocking([&] {
      auto info = context_.tenants.show(request.param("registry"));
      if (!info) {
        answer = tenant_error(info.error());
        return;
      }
      answer = work(*info);
    });
    co_return std::move(*answer);
  }

  // Runs `work(info, repository)` after checking the route's repository name.
  template <class Work>
  asio::awaitable<Response> with_repository(RequestContext& context, Request& request, Work work) {
    std::string_view repository = request.param("repository");
    if (!oci::is_valid_repository_name(repository)) {
      co_return invalid_request(fmt::format("'{}' is not a valid repository name", repository),
                                repository);
    }
    co_return co_await with_registry(context, request, [&](const registry::RegistryInfo& info) {
      return work(info, repository);
    });
  }

  // Runs `work(content, info)` with the registry's content service, the request as the origin
  // of the events its changes append.
  template <class Work>
  asio::awaitable<Response> in_registry(RequestContext& context, Request& request, Work work) {
    metadata::EventOrigin origin = event_origin(context, request);
    co_return co_await with_registry(
        context, request, [&](const registry::RegistryInfo& info) -> Response {
          registry::Registry content = context_.registries.for_registry(info.record.id, origin);
          return work(content, info);
        });
  }

  template <class Work>
  asio::awaitable<Response> in_repository(RequestContext& context, Request& request, Work work) {
    metadata::EventOrigin origin = event_origin(context, request);
    co_return co_await with_repository(
        context, request,
        [&](const registry::RegistryInfo& info, std::string_view repository) -> Response {
          registry::Registry content = context_.registries.for_registry(info.record.id, origin);
          return work(content, info, repository);
        });
  }

  ManagementContext& context_;
};

using LifecycleRow = HandlerRow<LifecycleHandlers>;

constexpr std::string_view kRead = action::kRegistryRead;
constexpr std::string_view kWrite = action::kRegistryWrite;

// The repository routes come before management.cc's bare repository route (see
// management_routes), so ".../quota" is not read as part of a repository's name.
const LifecycleRow kLifecycleRoutes[] = {
    {"GET", "/mgmt/v1/registries/{registry}/policies/soft-delete", "mgmt.policies.soft_delete.show",
     kRead, &LifecycleHandlers::show_soft_delete},
    {"PATCH", "/mgmt/v1/registries/{registry}/policies/soft-delete",
     "mgmt.policies.soft_delete.update", kWrite, &LifecycleHandlers::update_soft_delete},
    {"GET", "/mgmt/v1/registries/{registry}/policies/retention", "mgmt.policies.retention.show",
     kRead, &LifecycleHandlers::show_retention},
    {"PATCH", "/mgmt/v1/registries/{registry}/policies/retention", "mgmt.policies.retention.update",
     kWrite, &LifecycleHandlers::update_retention},
    {"POST", "/mgmt/v1/registries/{registry}/policies/retention/run", "mgmt.policies.retention.run",
     kWrite, &LifecycleHandlers::run_retention},
    {"GET", "/mgmt/v1/registries/{registry}/quota", "mgmt.quota.show", kRead,
     &LifecycleHandlers::show_registry_quota},
    {"PATCH", "/mgmt/v1/registries/{registry}/quota", "mgmt.quota.update", kWrite,
     &LifecycleHandlers::update_registry_quota},
    {"GET", "/mgmt/v1/registries/{registry}/deleted-repositories", "mgmt.deleted_repositories.list",
     kRead, &LifecycleHandlers::list_deleted_repositories},
    {"POST", "/mgmt/v1/registries/{registry}/purge", "mgmt.purge.run", kWrite,
     &LifecycleHandlers::purge},
    {"GET", "/mgmt/v1/registries/{registry}/purge-schedules", "mgmt.purge_schedules.list", kRead,
     &LifecycleHandlers::list_purge_schedules},
    {"PUT", "/mgmt/v1/registries/{registry}/purge-schedules/{name}", "mgmt.purge_schedules.put",
     kWrite, &LifecycleHandlers::put_purge_schedule},
    {"DELETE", "/mgmt/v1/registries/{registry}/purge-schedules/{name}",
     "mgmt.purge_schedules.delete", kWrite, &LifecycleHandlers::delete_purge_schedule},
    {"GET", "/mgmt/v1/registries/{registry}/repositories/{repository+}/quota",
     "mgmt.repositories.quota.show", kRead, &LifecycleHandlers::show_repository_quota},
    {"PATCH", "/mgmt/v1/registries/{registry}/repositories/{repository+}/quota",
     "mgmt.repositories.quota.update", kWrite, &LifecycleHandlers::update_repository_quota},
    {"GET", "/mgmt/v1/registries/{registry}/repositories/{repository+}/deleted-manifests",
     "mgmt.deleted_manifests.list", kRead, &LifecycleHandlers::list_deleted_manifests},
    {"GET", "/mgmt/v1/registries/{registry}/repositories/{repository+}/deleted-tags",
     "mgmt.deleted_tags.list", kRead, &LifecycleHandlers::list_deleted_tags},
    {"POST", "/mgmt/v1/registries/{registry}/repositories/{repository+}/restore",
     "mgmt.manifests.restore", kWrite, &LifecycleHandlers::restore},
};

}  // namespace

std::vector<RouteRow> lifecycle_management_routes(ManagementContext& context) {
  return rows_of(std::make_shared<LifecycleHandlers>(context), kLifecycleRoutes);
}

}  // namespace berth::api
