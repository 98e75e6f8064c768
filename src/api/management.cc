#include "api/management.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <limits>
#include <charconv>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <optional>
#include <utility>
#include <variant>

#include "api/errors.h"
#include "api/management_json.h"
#include "common/clock.h"
#include "oci/digest.h"
#include "oci/reference.h"

namespace berth::api {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using http::Request;
using http::Response;
using registry::TenantErrc;
using registry::TenantError;
using registry::TenantResult;

using namespace mgmt_json;

// ------------------------------------------------------------------ responses

struct ManagementWireError {
  unsigned status;
  std::string_view code;
};

ManagementWireError management_wire_error_of(TenantErrc errc) {
  namespace code = mgmt::code;
  switch (errc) {
    case TenantErrc::invalid_name:
      return {400, code::kInvalidName};
    case TenantErrc::invalid_tier:
      return {400, code::kInvalidTier};
    case TenantErrc::invalid_argument:
      return {400, code::kInvalidRequest};
    case TenantErrc::registry_not_found:
      return {404, code::kRegistryNotFound};
    case TenantErrc::registry_name_taken:
      return {409, code::kRegistryNameTaken};
    case TenantErrc::downgrade_blocked:
      return {409, code::kTierDowngradeBlocked};
    case TenantErrc::limit_exceeded:
      return {409, code::kLimitExceeded};
    case TenantErrc::registry_protected:
      return {409, code::kRegistryProtected};
    case TenantErrc::internal:
      break;
  }
  return {500, code::kInternalError};
}

Response error_of(const TenantError& error) {
  ManagementWireError wire = management_wire_error_of(error.code);
  return domain_error(wire.status, wire.code, error.message, error.target);
}

// A registry error in the management envelope: the status is the one the data plane gives the
// same error (errors.cc); the code says only the kind of failure, as the management API names
// no content-level errors.
Response error_of(const registry::RegistryError& error) {
  unsigned status = wire_error_of(error.code).status;
  if (status >= 500) {
    Response response = management_error(status, mgmt::code::kInternalError,
                                         "internal server error");
    response.log_detail = "management: internal error: " + error.message;
    return response;
  }
  std::string_view code = status == 404 ? mgmt::code::kNotFound : mgmt::code::kInvalidRequest;
  return management_error(status, code, error.message);
}

// ------------------------------------------------------------------ resources as JSON

json::object limits_json(const registry::Tier& tier) {
  const auto& limits = tier.limits;
  json::array features;
  for (registry::Feature feature : limits.features) {
    features.emplace_back(registry::feature_name(feature));
  }
  return json::object{
      {"includedStorageBytes", limits.included_storage_bytes},
      {"webhooks", limits.webhooks},
      {"scopeMaps", limits.scope_maps},
      {"tokens", limits.tokens},
      {"ipRules", limits.ip_rules},
      {"cacheRules", limits.cache_rules},
      {"readOpsPerMinute", limits.read_ops_per_minute},
      {"writeOpsPerMinute", limits.write_ops_per_minute},
      {"features", std::move(features)},
  };
}

json::object network_rule_set_json(const registry::NetworkRuleSet& rules) {
  json::array ip_rules;
  for (const auto& range : rules.ip_rules) {
    ip_rules.push_back(json::object{{"action", "Allow"}, {"ipAddressOrRange", range}});
  }
  return json::object{{"defaultAction", rules.default_action}, {"ipRules", std::move(ip_rules)}};
}

json::object registry_json(const registry::RegistryInfo& info,
                           const registry::NetworkRuleSet& rules) {
  const auto& r = info.record;
  return json::object{
      {"name", r.name},
      {"tier", info.tier->name},
      {"region", r.region},
      {"loginServer", info.login_server},
      {"createdTime", time_of(r.created_at)},
      {"adminUserEnabled", r.admin_user_enabled},
      {"anonymousPullEnabled", r.anonymous_pull_enabled},
      {"dataEndpointEnabled", r.data_endpoint_enabled},
      {"publicNetworkAccess", r.public_network_access},
      {"networkRuleSet", network_rule_set_json(rules)},
      {"limits", limits_json(*info.tier)},
  };
}

}  // namespace

namespace mgmt_json {

json::object changeable_attributes_json(const metadata::ChangeableAttributes& attributes) {
  return json::object{
      {"deleteEnabled", attributes.delete_enabled},
      {"writeEnabled", attributes.write_enabled},
      {"readEnabled", attributes.read_enabled},
      {"listEnabled", attributes.list_enabled},
  };
}

AttributeChangesBody attribute_changes_of(const json::object& body) {
  AttributeChangesBody parsed;
  if (auto bad = check_fields(body, {{"writeEnabled", FieldType::boolean},
                                     {"deleteEnabled", FieldType::boolean},
                                     {"readEnabled", FieldType::boolean},
                                     {"listEnabled", FieldType::boolean}})) {
    parsed.error = std::move(*bad);
    return parsed;
  }
  if (body.empty()) {
    parsed.error = invalid_request(
        "give at least one of writeEnabled, deleteEnabled, readEnabled and listEnabled");
    return parsed;
  }
  parsed.changes.write_enabled = bool_field(body, "writeEnabled");
  parsed.changes.delete_enabled = bool_field(body, "deleteEnabled");
  parsed.changes.read_enabled = bool_field(body, "readEnabled");
  parsed.changes.list_enabled = bool_field(body, "listEnabled");
  return parsed;
}

}  // namespace mgmt_json

namespace {

json::object repository_json(const metadata::RepositorySummary& r) {
  return json::object{
      {"name", r.name},
      {"createdTime", time_of(r.created_at)},
      {"lastUpdateTime", time_of(r.updated_at)},
      {"manifestCount", r.manifest_count},
      {"tagCount", r.tag_count},
      {"usedBytes", r.storage_bytes},
      {"changeableAttributes", changeable_attributes_json(r.attributes)},
  };
}

json::object tag_json(const metadata::TagRecord& t) {
  return json::object{
      {"name", t.name},
      {"digest", t.digest.str()},
      {"createdTime", time_of(t.created_at)},
      {"lastUpdateTime", time_of(t.updated_at)},
      {"changeableAttributes", changeable_attributes_json(t.attributes)},
  };
}

json::object manifest_json(const metadata::ManifestSummary& m) {
  json::array tags;
  for (const auto& tag : m.tags) tags.emplace_back(tag);
  return json::object{
      {"digest", m.digest.str()},
      {"mediaType", m.media_type},
      {"artifactType", m.artifact_type},
      {"size", m.size},
      {"createdTime", time_of(m.created_at)},
      {"lastUpdateTime", time_of(m.updated_at != 0 ? m.updated_at : m.created_at)},
      {"tags", std::move(tags)},
      {"changeableAttributes", changeable_attributes_json(m.attributes)},
  };
}

// ------------------------------------------------------------------ handlers

// Every registry::Tenants call runs through context.run_blocking: creating, changing and
// deleting commit to the database (and delete touches storage), and usage and health read the
// whole registry, none of which may hold an event-loop thread. The family decides where that is.
class Handlers {
 public:
  explicit Handlers(ManagementContext& context)
      : tenants_(context.tenants), access_(context.access), registries_(context.registries) {}

  asio::awaitable<Response> openapi(RequestContext&, Request&) {
    Response response;
    response.headers.set("Content-Type", "application/json");
    response.body = std::string(management_openapi_document());
    co_return response;
  }

  asio::awaitable<Response> list_tiers(RequestContext&, Request&) {
    json::array tiers;
    for (const registry::Tier& tier : registry::all_tiers()) {
      tiers.push_back(json::object{{"name", tier.name}, {"limits", limits_json(tier)}});
    }
    co_return json_response(200, json::object{{"tiers", std::move(tiers)}});
  }

  asio::awaitable<Response> list_registries(RequestContext& context, Request&) {
    auto registries = co_await context.run_blocking([&]() -> TenantResult<json::array> {
      auto listed = tenants_.list();
      if (!listed) return listed.error();
      json::array items;
      for (const auto& info : *listed) {
        auto item = view(info);
        if (!item) return item.error();
        items.push_back(std::move(*item));
      }
      return items;
    });
    if (!registries) co_return error_of(registries.error());
    co_return json_response(200, json::object{{"registries", std::move(*registries)}});
  }

  asio::awaitable<Response> create_registry(RequestContext& context, Request& request) {
    auto body = co_await read_json_object(request);
    if (body.error) co_return std::move(*body.error);
    if (auto bad = check_fields(body.object, {{"name", FieldType::string},
                                              {"tier", FieldType::string},
                                              {"region", FieldType::string},
                                              {"adminUserEnabled", FieldType::boolean},
                                              {"anonymousPullEnabled", FieldType::boolean},
                                              {"dataEndpointEnabled", FieldType::boolean},
                                              {"publicNetworkAccess", FieldType::boolean}})) {
      co_return std::move(*bad);
    }
    auto name = string_field(body.object, "name");
    if (!name) {
      co_return management_error(400, mgmt::code::kInvalidName, "the field 'name' is required",
                                 "name");
    }
    auto tier = string_field(body.object, "tier");
    if (!tier) {
      co_return management_error(400, mgmt::code::kInvalidTier, "the field 'tier' is required",
                                 "tier");
    }
    registry::NewRegistry wanted{
        *name,
        *tier,
        string_field(body.object, "region"),
        bool_field(body.object, "adminUserEnabled"),
        bool_field(body.object, "anonymousPullEnabled"),
        bool_field(body.object, "publicNetworkAccess"),
        bool_field(body.object, "dataEndpointEnabled"),
    };
    auto created = co_await context.run_blocking([&]() -> TenantResult<json::object> {
      auto info = access_.create_registry(wanted);
      if (!info) return info.error();
      return view(*info);
    });
    if (!created) co_return error_of(created.error());
    Response response = json_response(201, *created);
    response.headers.set("Location", fmt::format("{}registries/{}", mgmt::kPrefix,
                                                 std::string_view(created->at("name").as_string())));
    co_return response;
  }

  asio::awaitable<Response> show_registry(RequestContext& context, Request& request) {
    auto shown = co_await context.run_blocking([&]() -> TenantResult<json::object> {
      auto info = tenants_.show(request.param("registry"));
      if (!info) return info.error();
      return view(*info);
    });
    if (!shown) co_return error_of(shown.error());
    co_return json_response(200, *shown);
  }

  asio::awaitable<Response> update_registry(RequestContext& context, Request& request) {
    auto body = co_await read_json_object(request);
    if (body.error) co_return std::move(*body.error);
    if (auto bad = check_fields(body.object, {{"tier", FieldType::string},
                                              {"region", FieldType::string},
                                              {"adminUserEnabled", FieldType::boolean},
                                              {"anonymousPullEnabled", FieldType::boolean},
                                              {"dataEndpointEnabled", FieldType::boolean},
                                              {"publicNetworkAccess", FieldType::boolean},
                                              {"defaultAction", FieldType::string}})) {
      co_return std::move(*bad);
    }
    registry::RegistryChanges changes{
        string_field(body.object, "tier"),
        string_field(body.object, "region"),
        bool_field(body.object, "adminUserEnabled"),
        bool_field(body.object, "anonymousPullEnabled"),
        bool_field(body.object, "publicNetworkAccess"),
        bool_field(body.object, "dataEndpointEnabled"),
        string_field(body.object, "defaultAction"),
    };
    auto updated = co_await context.run_blocking([&]() -> TenantResult<json::object> {
      auto info = access_.update_registry(request.param("registry"), changes);
      if (!info) return info.error();
      return view(*info);
    });
    if (!updated) co_return error_of(updated.error());
    co_return json_response(200, *updated);
  }

  asio::awaitable<Response> delete_registry(RequestContext& context, Request& request) {
    auto removed =
        co_await context.run_blocking([&] { return tenants_.remove(request.param("registry")); });
    if (!removed) co_return error_of(removed.error());
    co_return no_content();
  }

  asio::awaitable<Response> usage(RequestContext& context, Request& request) {
    auto usage =
        co_await context.run_blocking([&] { return tenants_.usage(request.param("registry")); });
    if (!usage) co_return error_of(usage.error());
    json::array repositories;
    for (const auto& repository : usage->repositories) {
      repositories.push_back(
          json::object{{"name", repository.name}, {"usedBytes", repository.used_bytes}});
    }
    json::array counts;
    for (const auto& count : usage->counts) {
      counts.push_back(json::object{{"name", registry::resource_name(count.resource)},
                                    {"current", count.current},
                                    {"limit", count.limit}});
    }
    co_return json_response(200,
                            json::object{
                                {"registry", usage->registry},
                                {"storage",
                                 json::object{{"usedBytes", usage->used_bytes},
                                              {"includedBytes", usage->included_bytes},
                                              {"softDeletedBytes", usage->soft_deleted_bytes}}},
                                {"repositories", std::move(repositories)},
                                {"counts", std::move(counts)},
                            });
  }

  asio::awaitable<Response> health(RequestContext& context, Request& request) {
    auto health =
        co_await context.run_blocking([&] { return tenants_.health(request.param("registry")); });
    if (!health) co_return error_of(health.error());
    json::array checks;
    for (const auto& check : health->checks) {
      checks.push_back(json::object{
          {"name", check.name}, {"healthy", check.healthy}, {"message", check.message}});
    }
    co_return json_response(
        200, json::object{{"healthy", health->healthy}, {"checks", std::move(checks)}});
  }

  asio::awaitable<Response> list_repositories(RequestContext& context, Request& request) {
    auto repositories = co_await in_content(context, request, [](Content& content) {
      return content.registry.repository_summaries();
    });
    if (repositories.error) co_return std::move(*repositories.error);
    json::array items;
    for (const auto& repository : *repositories.value) items.push_back(repository_json(repository));
    co_return json_response(200, json::object{{"repositories", std::move(items)}});
  }

  asio::awaitable<Response> show_repository(RequestContext& context, Request& request) {
    auto repository = co_await in_content(context, request, [](Content& content) {
      return content.registry.repository_summary(content.repository);
    });
    if (repository.error) co_return std::move(*repository.error);
    co_return json_response(200, repository_json(*repository.value));
  }

  asio::awaitable<Response> delete_repository(RequestContext& context, Request& request) {
    auto removed = co_await in_content(context, request, [](Content& content) {
      return content.registry.delete_repository(content.repository);
    });
    if (removed.error) co_return std::move(*removed.error);
    co_return no_content();
  }

  asio::awaitable<Response> update_repository(RequestContext& context, Request& request) {
    auto body = co_await read_json_object(request);
    if (body.error) co_return std::move(*body.error);
    AttributeChangesBody parsed = attribute_changes_of(body.object);
    if (parsed.error) co_return std::move(*parsed.error);
    auto updated = co_await in_content(context, request, [&parsed](Content& content) {
      return content.registry.update_repository_attributes(content.repository, parsed.changes);
    });
    if (updated.error) co_return std::move(*updated.error);
    co_return json_response(200, repository_json(*updated.value));
  }

  asio::awaitable<Response> list_tags(RequestContext& context, Request& request) {
    auto tags = co_await in_content(context, request, [](Content& content) {
      return content.registry.tag_records(content.repository);
    });
    if (tags.error) co_return std::move(*tags.error);
    json::array items;
    for (const auto& tag : *tags.value) items.push_back(tag_json(tag));
    co_return json_response(200, json::object{{"tags", std::move(items)}});
  }

  asio::awaitable<Response> delete_tag(RequestContext& context, Request& request) {
    std::string_view tag = request.param("tag");
    if (!oci::is_valid_tag(tag)) {
      co_return management_error(400, mgmt::code::kInvalidRequest,
                                 fmt::format("'{}' is not a valid tag", tag), tag);
    }
    auto removed = co_await in_content(context, request, [tag](Content& content) {
      return content.registry.untag(content.repository, tag);
    });
    if (removed.error) co_return std::move(*removed.error);
    co_return no_content();
  }

  asio::awaitable<Response> update_tag(RequestContext& context, Request& request) {
    std::string_view tag = request.param("tag");
    if (!oci::is_valid_tag(tag)) {
      co_return management_error(400, mgmt::code::kInvalidRequest,
                                 fmt::format("'{}' is not a valid tag", tag), tag);
    }
    auto body = co_await read_json_object(request);
    if (body.error) co_return std::move(*body.error);
    AttributeChangesBody parsed = attribute_changes_of(body.object);
    if (parsed.error) co_return std::move(*parsed.error);
    auto updated = co_await in_content(context, request, [&parsed, tag](Content& content) {
      return content.registry.update_tag_attributes(content.repository, tag, parsed.changes);
    });
    if (updated.error) co_return std::move(*updated.error);
    co_return json_response(200, tag_json(*updated.value));
  }

  asio::awaitable<Response> list_manifests(RequestContext& context, Request& request) {
    auto manifests = co_await in_content(context, request, [](Content& content) {
      return content.registry.manifest_summaries(content.repository);
    });
    if (manifests.error) co_return std::move(*manifests.error);
    json::array items;
    for (const auto& manifest : *manifests.value) items.push_back(manifest_json(manifest));
    co_return json_response(200, json::object{{"manifests", std::move(items)}});
  }

  asio::awaitable<Response> show_manifest(RequestContext& context, Request& request) {
    auto digest = digest_param(request);
    if (!digest) co_return invalid_digest(request);
    auto manifest = co_await in_content(context, request, [&digest](Content& content) {
      return content.registry.manifest_detail(content.repository, *digest);
    });
    if (manifest.error) co_return std::move(*manifest.error);
    json::object item = manifest_json(manifest.value->summary);
    item["content"] = manifest.value->content;
    co_return json_response(200, item);
  }

  asio::awaitable<Response> update_manifest(RequestContext& context, Request& request) {
    auto digest = digest_param(request);
    if (!digest) co_return invalid_digest(request);
    auto body = co_await read_json_object(request);
    if (body.error) co_return std::move(*body.error);
    AttributeChangesBody parsed = attribute_changes_of(body.object);
    if (parsed.error) co_return std::move(*parsed.error);
    auto updated = co_await in_content(context, request, [&parsed, &digest](Content& content) {
      return content.registry.update_manifest_attributes(content.repository, *digest,
                                                         parsed.changes);
    });
    if (updated.error) co_return std::move(*updated.error);
    co_return json_response(200, manifest_json(updated.value->summary));
  }

  asio::awaitable<Response> delete_manifest(RequestContext& context, Request& request) {
    auto digest = digest_param(request);
    if (!digest) co_return invalid_digest(request);
    auto removed = co_await in_content(context, request, [&digest](Content& content) {
      if (auto exists = content.registry.require_repository(content.repository); !exists) {
        return exists;
      }
      return content.registry.delete_manifest(content.repository, *digest);
    });
    if (removed.error) co_return std::move(*removed.error);
    co_return no_content();
  }

 private:
  // What a content route works on: the registry's content service, with the request as the
  // origin of the events its changes append, and the route's repository (when it has one).
  struct Content {
    registry::Registry registry;
    std::string_view repository;
  };

  // Runs `work(Content&)` on the blocking pool for the route's registry, after checking the
  // route's repository name; maps every failure to the management envelope.
  // The value a content route's work produced (std::monostate for none), or the error
  // response to send instead.
  template <class Value>
  struct Answer {
    std::optional<Response> error;
    std::optional<Value> value;
  };
  template <class Work>
  using AnswerOf = Answer<std::conditional_t<
      std::is_void_v<typename std::invoke_result_t<Work&, Content&>::value_type>, std::monostate,
      typename std::invoke_result_t<Work&, Content&>::value_type>>;

  template <class Work>
  asio::awaitable<AnswerOf<Work>> in_content(RequestContext& context, Request& request,
                                             Work work) {
    AnswerOf<Work> answer;
    std::string_view repository = request.param("repository");
    if (!repository.empty() && !oci::is_valid_repository_name(repository)) {
      answer.error = management_error(
          400, mgmt::code::kInvalidRequest,
          fmt::format("'{}' is not a valid repository name", repository), repository);
      co_return answer;
    }
    metadata::EventOrigin origin = event_origin(context, request);
    co_await context.run_blocking([&] {
      auto info = tenants_.show(request.param("registry"));
      if (!info) {
        answer.error = error_of(info.error());
        return;
      }
      Content content{registries_.for_registry(info->record.id, std::move(origin)), repository};
      auto done = work(content);
      if (!done) {
        answer.error = content_error_of(done.error(), info->record.name, request);
      } else if constexpr (!std::is_void_v<typename decltype(done)::value_type>) {
        answer.value.emplace(std::move(*done));
      }
    });
    co_return answer;
  }

  // A content failure in the management envelope: not-found errors name what is missing.
  static Response content_error_of(const registry::RegistryError& error,
                                   std::string_view registry, const Request& request) {
    std::string_view repository = request.param("repository");
    switch (error.code) {
      case registry::Errc::name_unknown:
        return management_error(404, mgmt::code::kRepositoryNotFound,
                                fmt::format("repository '{}' does not exist in registry '{}'",
                                            repository, registry),
                                repository);
      case registry::Errc::tag_unknown:
        return management_error(404, mgmt::code::kTagNotFound,
                                fmt::format("tag '{}' does not exist in repository '{}'",
                                            request.param("tag"), repository),
                                request.param("tag"));
      case registry::Errc::manifest_unknown:
        return management_error(404, mgmt::code::kManifestNotFound,
                                fmt::format("manifest '{}' does not exist in repository '{}'",
                                            request.param("digest"), repository),
                                request.param("digest"));
      case registry::Errc::locked:
        return management_error(403, mgmt::code::kLocked, error.message);
      case registry::Errc::quota_exceeded:
        return management_error(403, mgmt::code::kQuotaExceeded, error.message);
      default:
        return error_of(error);
    }
  }

  static std::optional<oci::Digest> digest_param(const Request& request) {
    auto digest = oci::Digest::parse(request.param("digest"));
    if (!digest) return std::nullopt;
    return std::move(*digest);
  }

  static Response invalid_digest(const Request& request) {
    std::string_view text = request.param("digest");
    return management_error(400, mgmt::code::kInvalidRequest,
                            fmt::format("'{}' is not a valid sha256 or sha512 digest", text),
                            text);
  }

  // A registry as the API shows it, with its network rule set (blocking: reads the store).
  TenantResult<json::object> view(const registry::RegistryInfo& info) {
    auto rules = access_.network_rules(info.record);
    if (!rules) return TenantError{TenantErrc::internal, rules.error().message, ""};
    return registry_json(info, *rules);
  }

  registry::Tenants& tenants_;
  registry::AccessControl& access_;
  const registry::RegistryServices& registries_;
};

using ManagementRow = HandlerRow<Handlers>;

constexpr std::string_view kAdmin = action::kAdmin;
constexpr std::string_view kRead = action::kRegistryRead;
constexpr std::string_view kWrite = action::kRegistryWrite;
constexpr std::string_view kOwn = action::kRegistryOwn;

// The management routes. Under .../repositories/{repository+}, the routes with a fixed suffix
// come before the bare repository route so that ".../tags" is not read as part of a name.
const ManagementRow kRoutes[] = {
    {"GET", "/mgmt/v1/openapi.json", "mgmt.openapi", action::kOpen, &Handlers::openapi},
    {"GET", "/mgmt/v1/tiers", "mgmt.tiers.list", kAdmin, &Handlers::list_tiers},
    {"GET", "/mgmt/v1/registries", "mgmt.registries.list", kAdmin, &Handlers::list_registries},
    {"POST", "/mgmt/v1/registries", "mgmt.registries.create", kAdmin, &Handlers::create_registry},
    {"GET", "/mgmt/v1/registries/{registry}", "mgmt.registries.show", kRead,
     &Handlers::show_registry},
    {"PATCH", "/mgmt/v1/registries/{registry}", "mgmt.registries.update", kWrite,
     &Handlers::update_registry},
    {"DELETE", "/mgmt/v1/registries/{registry}", "mgmt.registries.delete", kOwn,
     &Handlers::delete_registry},
    {"GET", "/mgmt/v1/registries/{registry}/usage", "mgmt.registries.usage", kRead,
     &Handlers::usage},
    {"GET", "/mgmt/v1/registries/{registry}/health", "mgmt.registries.health", kRead,
     &Handlers::health},
    {"GET", "/mgmt/v1/registries/{registry}/repositories", "mgmt.repositories.list", kRead,
     &Handlers::list_repositories},
    {"GET", "/mgmt/v1/registries/{registry}/repositories/{repository+}/tags", "mgmt.tags.list",
     kRead, &Handlers::list_tags},
    {"DELETE", "/mgmt/v1/registries/{registry}/repositories/{repository+}/tags/{tag}",
     "mgmt.tags.delete", kWrite, &Handlers::delete_tag},
    {"PATCH", "/mgmt/v1/registries/{registry}/repositories/{repository+}/tags/{tag}",
     "mgmt.tags.update", kWrite, &Handlers::update_tag},
    {"GET", "/mgmt/v1/registries/{registry}/repositories/{repository+}/manifests",
     "mgmt.manifests.list", kRead, &Handlers::list_manifests},
    {"GET", "/mgmt/v1/registries/{registry}/repositories/{repository+}/manifests/{digest}",
     "mgmt.manifests.show", kRead, &Handlers::show_manifest},
    {"DELETE", "/mgmt/v1/registries/{registry}/repositories/{repository+}/manifests/{digest}",
     "mgmt.manifests.delete", kWrite, &Handlers::delete_manifest},
    {"PATCH", "/mgmt/v1/registries/{registry}/repositories/{repository+}/manifests/{digest}",
     "mgmt.manifests.update", kWrite, &Handlers::update_manifest},
    {"GET", "/mgmt/v1/registries/{registry}/repositories/{repository+}", "mgmt.repositories.show",
     kRead, &Handlers::show_repository},
    {"DELETE", "/mgmt/v1/registries/{registry}/repositories/{repository+}",
     "mgmt.repositories.delete", kWrite, &Handlers::delete_repository},
    {"PATCH", "/mgmt/v1/registries/{registry}/repositories/{repository+}",
     "mgmt.repositories.update", kWrite, &Handlers::update_repository},
};

Response unauthorized(const Challenge&) {
  Response response = management_error(401, mgmt::code::kUnauthorized,
                                       "a valid administrator token (Authorization: Bearer "
                                       "<token>) or identity credentials (Basic) are required");
  response.headers.set("WWW-Authenticate", "Bearer realm=\"berth-management\"");
  return response;
}

}  // namespace

std::vector<RouteRow> management_routes(ManagementContext& context) {
  // The lifecycle routes first: some end in a fixed suffix after a {repository+}, which the
  // bare repository routes below would otherwise take as part of the name.
  std::vector<RouteRow> rows = lifecycle_management_routes(context);
  for (RouteRow& row : rows_of(std::make_shared<Handlers>(context), kRoutes)) {
    rows.push_back(std::move(row));
  }
  for (RouteRow& row : access_management_routes(context)) rows.push_back(std::move(row));
  for (RouteRow& row : event_management_routes(context)) rows.push_back(std::move(row));
  for (RouteRow& row : gc_management_routes(context)) rows.push_back(std::move(row));
  for (RouteRow& row : upstream_management_routes(context)) rows.push_back(std::move(row));
  for (RouteRow& row : task_management_routes(context)) rows.push_back(std::move(row));
  return rows;
}

RouteFamily management_family(BlockingPool* blocking) {
  RouteFamily family;
  family.name = "management";
  family.registry_from_path = true;
  family.errors.of_registry_error = [](const registry::RegistryError& error) {
    return error_of(error);
  };
  family.errors.unauthenticated = unauthorized;
  family.errors.denied = [](std::string_view message) {
    return management_error(403, mgmt::code::kForbidden, message);
  };
  family.errors.too_many_requests = [](std::chrono::seconds retry_after) {
    Response response = management_error(
        429, mgmt::code::kTooManyRequests,
        fmt::format("too many requests; retry after {} seconds", retry_after.count()));
    response.headers.set("Retry-After", std::to_string(retry_after.count()));
    return response;
  };
  family.errors.internal = [] {
    return management_error(500, mgmt::code::kInternalError, "internal server error");
  };
  family.blocking = blocking;
  return family;
}

bool is_management_path(std::string_view path) {
  return path.starts_with(mgmt::kPrefix) ||
         path == mgmt::kPrefix.substr(0, mgmt::kPrefix.size() - 1);
}

Response management_not_routed(const Request& request, bool method_not_allowed) {
  if (method_not_allowed) {
    return management_error(405, mgmt::code::kMethodNotAllowed,
                            fmt::format("{} is not allowed on {}", request.method, request.path),
                            request.path);
  }
  return management_error(404, mgmt::code::kNotFound,
                          fmt::format("no management resource at {}", request.path), request.path);
}

Response management_error(unsigned status, std::string_view code, std::string_view message,
                          std::string_view target) {
  json::object error{{"code", code}, {"message", message}};
  if (target.empty()) {
    error["target"] = nullptr;
  } else {
    error["target"] = target;
  }
  return json_response(status, json::object{{"error", std::move(error)}});
}

// ------------------------------------------------------------------ shared JSON helpers

namespace mgmt_json {

Response json_response(unsigned status, const json::value& value) {
  Response response;
  response.status = status;
  response.headers.set("Content-Type", "application/json");
  response.headers.set("Cache-Control", "no-store");
  response.body = json::serialize(value);
  response.body += '\n';
  return response;
}

Response no_content() {
  Response response;
  response.status = 204;
  response.headers.set("Cache-Control", "no-store");
  return response;
}

Response domain_error(unsigned status, std::string_view code, const std::string& message,
                      std::string_view target) {
  if (status < 500) return management_error(status, code, message, target);
  Response response = management_error(status, code, "internal server error");
  response.log_detail = "management: internal error: " + message;
  return response;
}

Response invalid_request(std::string message, std::string_view target) {
  return management_error(400, mgmt::code::kInvalidRequest, message, target);
}

std::string time_of(std::int64_t unix_seconds) { return format_rfc3339(unix_seconds); }

ParsedTime parse_time(std::optional<std::string_view> text, std::string_view name) {
  ParsedTime parsed;
  if (!text) return parsed;
  parsed.value = parse_rfc3339(*text);
  if (!parsed.value) {
    parsed.error = invalid_request(
        fmt::format("'{}' must be an RFC 3339 time such as 2026-12-02T06:00:00Z", name), name);
  }
  return parsed;
}

ParsedCount parse_count(std::optional<std::string_view> text, std::string_view name,
                        std::size_t min, std::size_t max, std::size_t fallback) {
  ParsedCount parsed{fallback, std::nullopt};
  if (!text) return parsed;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), parsed.value);
  if (ec != std::errc() || end != text->data() + text->size() || parsed.value < min ||
      parsed.value > max) {
    parsed.error =
        invalid_request(fmt::format("'{}' must be a number from {} to {}", name, min, max), name);
  }
  return parsed;
}

asio::awaitable<JsonBody> read_json_object(Request& request) {
  JsonBody result;
  auto body = co_await http::read_body(*request.body, kMaxBodyBytes);
  if (!body) {
    result.error = body.error().code == http::Errc::too_large
                       ? invalid_request(fmt::format("the body is over {} bytes", kMaxBodyBytes))
                       : invalid_request("the body could not be read: " + body.error().message);
    co_return result;
  }
  boost::system::error_code ec;
  json::value value = json::parse(*body, ec);
  if (ec) {
    result.error = invalid_request("the body is not valid JSON: " + ec.message());
    co_return result;
  }
  if (!value.is_object()) {
    result.error = invalid_request("the body must be a JSON object");
    co_return result;
  }
  result.object = std::move(value.as_object());
  co_return result;
}

namespace {

bool has_type(const json::value& value, FieldType type) {
  switch (type) {
    case FieldType::string:
      return value.is_string();
    case FieldType::boolean:
      return value.is_bool();
    case FieldType::string_array:
      return value.is_array() &&
             std::all_of(value.as_array().begin(), value.as_array().end(),
                         [](const json::value& item) { return item.is_string(); });
    case FieldType::string_map:
      return value.is_object() &&
             std::all_of(value.as_object().begin(), value.as_object().end(),
                         [](const auto& item) { return item.value().is_string(); });
    case FieldType::integer:
      return value.is_int64() || value.is_uint64();
    case FieldType::nullable_integer:
      return value.is_null() || value.is_int64() || value.is_uint64();
  }
  return false;
}

std::string_view type_name(FieldType type) {
  switch (type) {
    case FieldType::string:
      return "string";
    case FieldType::boolean:
      return "boolean";
    case FieldType::string_array:
      return "array of strings";
    case FieldType::string_map:
      return "object of strings";
    case FieldType::integer:
      return "whole number";
    case FieldType::nullable_integer:
      return "whole number or null";
  }
  return "value";
}

}  // namespace

std::optional<Response> check_fields(const json::object& object,
                                     std::initializer_list<Field> known) {
  for (const auto& [key, value] : object) {
    const Field* field = nullptr;
    for (const Field& f : known) {
      if (f.name == key) field = &f;
    }
    if (!field) {
      return invalid_request(fmt::format("unknown field '{}'", std::string_view(key)), key);
    }
    if (!has_type(value, field->type)) {
      return invalid_request(
          fmt::format("field '{}' must be a {}", field->name, type_name(field->type)),
          field->name);
    }
  }
  return std::nullopt;
}

std::optional<std::string> string_field(const json::object& object, std::string_view name) {
  auto it = object.find(name);
  if (it == object.end()) return std::nullopt;
  return std::string(it->value().as_string());
}

std::optional<bool> bool_field(const json::object& object, std::string_view name) {
  auto it = object.find(name);
  if (it == object.end()) return std::nullopt;
  return it->value().as_bool();
}

std::optional<std::int64_t> int_field(const json::object& object, std::string_view name) {
  auto it = object.find(name);
  if (it == object.end() || it->value().is_null()) return std::nullopt;
  if (it->value().is_uint64()) {
    // Beyond int64: as large as the field can say (the callers' range checks refuse it).
    return std::numeric_limits<std::int64_t>::max();
  }
  return it->value().as_int64();
}

std::vector<std::string> string_array_field(const json::object& object, std::string_view name) {
  std::vector<std::string> out;
  auto it = object.find(name);
  if (it == object.end()) return out;
  for (const auto& item : it->value().as_array()) out.emplace_back(item.as_string());
  return out;
}

std::map<std::string, std::string> string_map_field(const json::object& object,
                                                    std::string_view name) {
  std::map<std::string, std::string> out;
  auto it = object.find(name);
  if (it == object.end()) return out;
  for (const auto& [key, value] : it->value().as_object()) {
    out.emplace(std::string(key), std::string(value.as_string()));
  }
  return out;
}

}  // namespace mgmt_json

}  // namespace berth::api
