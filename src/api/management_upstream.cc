// The upstream part of /mgmt/v1: a registry's credential sets, cache rules and imports, over
// upstream::UpstreamService and upstream::ImportService. The contract is
// docs/management-api.md ("Credential sets, cache rules and imports").

#include <fmt/format.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <limits>
#include <memory>
#include <utility>
#include <variant>

#include "api/management.h"
#include "api/management_json.h"
#include "common/clock.h"
#include "upstream/importer.h"
#include "upstream/upstream_service.h"

namespace berth::api {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using http::Request;
using http::Response;
using upstream::UpstreamErrc;
using upstream::UpstreamError;

using namespace mgmt_json;

constexpr std::size_t kDefaultImportsPerPage = 20;
constexpr std::size_t kMaxImportsPerPage = 100;

Response error_of(const UpstreamError& error) {
  switch (error.code) {
    case UpstreamErrc::invalid_argument:
    case UpstreamErrc::feature_unavailable:
      return domain_error(400, mgmt::code::kInvalidRequest, error.message, error.target);
    case UpstreamErrc::registry_not_found:
      return domain_error(404, mgmt::code::kRegistryNotFound, error.message, error.target);
    case UpstreamErrc::not_found:
      return domain_error(404, mgmt::code::kNotFound, error.message, error.target);
    case UpstreamErrc::conflict:
    case UpstreamErrc::in_use:
      return domain_error(409, mgmt::code::kConflict, error.message, error.target);
    case UpstreamErrc::limit_exceeded:
      return domain_error(409, mgmt::code::kLimitExceeded, error.message, error.target);
    case UpstreamErrc::denied:
      return domain_error(403, mgmt::code::kForbidden, error.message, error.target);
    case UpstreamErrc::internal:
      break;
  }
  return domain_error(500, mgmt::code::kInternalError, error.message, "");
}

Response unavailable() {
  return management_error(503, mgmt::code::kInternalError,
                          "imports and the artifact cache are not available in this server");
}

json::value time_or_null(std::int64_t unix_seconds) {
  if (unix_seconds == 0) return nullptr;
  return json::value(time_of(unix_seconds));
}

json::object credential_set_json(const upstream::CredentialSetView& view) {
  return json::object{{"name", view.name},
                      {"registry", view.registry},
                      {"loginServer", view.login_server},
                      {"username", view.username},
                      {"createdTime", time_of(view.created_at)},
                      {"lastUpdatedTime", time_of(view.updated_at)}};
}

json::object cache_rule_json(const upstream::CacheRuleView& view) {
  json::value credential_set = nullptr;
  if (!view.credential_set.empty()) credential_set = json::value(view.credential_set);
  return json::object{{"name", view.name},
                      {"registry", view.registry},
                      {"sourceRepository", view.source_repository},
                      {"targetRepository", view.target_repository},
                      {"credentialSet", std::move(credential_set)},
                      {"tagTtlSeconds", view.tag_ttl_seconds},
                      {"allowPush", view.allow_push},
                      {"createdTime", time_of(view.created_at)},
                      {"lastUpdatedTime", time_of(view.updated_at)}};
}

json::array strings_json(const std::vector<std::string>& items) {
  json::array array;
  for (const auto& item : items) array.emplace_back(item);
  return array;
}

json::object import_json(const upstream::ImportView& view) {
  json::object source{{"registryUri", view.request.source_registry},
                      {"sourceImage", view.request.source_image}};
  if (!view.request.credential_set.empty()) source["credentialSet"] = view.request.credential_set;
  json::value result = nullptr;
  if (!view.result.empty()) {
    boost::system::error_code ec;
    json::value parsed = json::parse(view.result, ec);
    if (!ec) result = std::move(parsed);
  }
  json::value failure = nullptr;
  if (!view.error.empty()) failure = json::value(view.error);
  return json::object{
      {"id", std::to_string(view.id)},
      {"registry", view.registry},
      {"status", upstream::status_name(view.status)},
      {"source", std::move(source)},
      {"targetTags", strings_json(view.request.target_tags)},
      {"untaggedTargetRepositories", strings_json(view.request.untagged_target_repositories)},
      {"mode", upstream::mode_name(view.request.mode)},
      {"includeReferrers", view.request.include_referrers},
      {"progress", json::object{{"bytesTotal", view.progress.bytes_total},
                                {"bytesDone", view.progress.bytes_done},
                                {"blobsTotal", view.progress.blobs_total},
                                {"blobsDone", view.progress.blobs_done}}},
      {"result", std::move(result)},
      {"error", std::move(failure)},
      {"createdTime", time_of(view.created_at)},
      {"startedTime", time_or_null(view.started_at)},
      {"finishedTime", time_or_null(view.finished_at)},
  };
}

// The import body: the hosted service's ImportImageParameters, with a credential set and
// includeReferrers; or the 400 to answer.
std::variant<upstream::ImportRequest, Response> import_request_of(const json::object& body) {
  auto source_field = body.find("source");
  if (source_field == body.end() || !source_field->value().is_object()) {
    return invalid_request("the field 'source' is required: {\"registryUri\", \"sourceImage\"}",
                           "source");
  }
  json::object source = source_field->value().as_object();
  json::object credentials;
  if (auto found = source.find("credentials"); found != source.end()) {
    if (!found->value().is_object()) {
      return invalid_request("'source.credentials' is an object {\"username\", \"password\"}",
                             "source.credentials");
    }
    credentials = found->value().as_object();
    source.erase(found);
  }
  if (auto bad = check_fields(source, {{"registryUri", FieldType::string},
                                       {"sourceImage", FieldType::string},
                                       {"credentialSet", FieldType::string}})) {
    return std::move(*bad);
  }
  if (auto bad = check_fields(credentials, {{"username", FieldType::string},
                                            {"password", FieldType::string}})) {
    return std::move(*bad);
  }
  json::object rest = body;
  rest.erase("source");
  if (auto bad = check_fields(rest, {{"targetTags", FieldType::string_array},
                                     {"untaggedTargetRepositories", FieldType::string_array},
                                     {"mode", FieldType::string},
                                     {"includeReferrers", FieldType::boolean}})) {
    return std::move(*bad);
  }
  upstream::ImportRequest request;
  auto registry_uri = string_field(source, "registryUri");
  auto image = string_field(source, "sourceImage");
  if (!registry_uri) {
    return invalid_request("the field 'source.registryUri' is required", "source.registryUri");
  }
  if (!image) {
    return invalid_request("the field 'source.sourceImage' is required", "source.sourceImage");
  }
  request.source_registry = *registry_uri;
  request.source_image = *image;
  request.credential_set = string_field(source, "credentialSet").value_or("");
  if (!credentials.empty()) {
    request.login = upstream::Login{string_field(credentials, "username").value_or(""),
                                    string_field(credentials, "password").value_or("")};
  }
  request.target_tags = string_array_field(rest, "targetTags");
  request.untagged_target_repositories = string_array_field(rest, "untaggedTargetRepositories");
  std::string mode = string_field(rest, "mode").value_or("NoForce");
  if (mode != "NoForce" && mode != "Force") {
    return invalid_request(fmt::format("mode '{}' must be 'NoForce' or 'Force'", mode), "mode");
  }
  request.mode = mode == "Force" ? upstream::ImportMode::force : upstream::ImportMode::no_force;
  request.include_referrers = bool_field(rest, "includeReferrers").value_or(false);
  return request;
}

class UpstreamHandlers {
 public:
  explicit UpstreamHandlers(ManagementContext& context) : context_(context) {}

  // --- credential sets ---

  asio::awaitable<Response> list_sets(RequestContext& context, Request& request) {
    if (context_.upstream == nullptr) co_return unavailable();
    auto listed = co_await context.run_blocking(
        [&] { return service().list_credential_sets(request.param("registry")); });
    if (!listed) co_return error_of(listed.error());
    json::array items;
    for (const auto& view : *listed) items.push_back(credential_set_json(view));
    co_return json_response(200, json::object{{"credentialSets", std::move(items)}});
  }

  asio::awaitable<Response> create_set(RequestContext& context, Request& request) {
    if (context_.upstream == nullptr) co_return unavailable();
    auto body = co_await read_json_object(request);
    if (body.error) co_return std::move(*body.error);
    if (auto bad = check_fields(body.object, {{"name", FieldType::string},
                                              {"loginServer", FieldType::string},
                                              {"username", FieldType::string},
                                              {"password", FieldType::string}})) {
      co_return std::move(*bad);
    }
    upstream::NewCredentialSet set;
    for (auto [field, target] : {std::pair{"name", &set.name},
                                 std::pair{"loginServer", &set.login_server},
                                 std::pair{"username", &set.username},
                                 std::pair{"password", &set.password}}) {
      auto value = string_field(body.object, field);
      if (!value) co_return invalid_request(fmt::format("the field '{}' is required", field), field);
      *target = std::move(*value);
    }
    auto created = co_await context.run_blocking(
        [&] { return service().create_credential_set(request.param("registry"), set); });
    if (!created) co_return error_of(created.error());
    Response response = json_response(201, credential_set_json(*created));
    response.headers.set("Location", fmt::format("{}registries/{}/credential-sets/{}",
                                                 mgmt::kPrefix, created->registry, created->name));
    co_return response;
  }

  asio::awaitable<Response> show_set(RequestContext& context, Request& request) {
    if (context_.upstream == nullptr) co_return unavailable();
    auto shown = co_await context.run_blocking([&] {
      return service().show_credential_set(request.param("registry"), request.param("name"));
    });
    if (!shown) co_return error_of(shown.error());
    co_return json_response(200, credential_set_json(*shown));
  }

  asio::awaitable<Response> update_set(RequestContext& context, Request& request) {
    if (context_.upstream == nullptr) co_return unavailable();
    auto body = co_await read_json_object(request);
    if (body.error) co_return std::move(*body.error);
    if (auto bad = check_fields(body.object, {{"loginServer", FieldType::string},
                                              {"username", FieldType::string},
                                              {"password", FieldType::string}})) {
      co_return std::move(*bad);
    }
    upstream::CredentialSetUpdate update{string_field(body.object, "loginServer"),
                                         string_field(body.object, "username"),
                                         string_field(body.object, "password")};
    auto updated = co_await context.run_blocking([&] {
      return service().update_credential_set(request.param("registry"), request.param("name"),
                                             update);
    });
    if (!updated) co_return error_of(updated.error());
    co_return json_response(200, credential_set_json(*updated));
  }

  asio::awaitable<Response> delete_set(RequestContext& context, Request& request) {
    if (context_.upstream == nullptr) co_return unavailable();
    auto removed = co_await context.run_blocking([&] {
      return service().delete_credential_set(request.param("registry"), request.param("name"));
    });
    if (!removed) co_return error_of(removed.error());
    co_return no_content();
  }

  // --- cache rules ---

  asio::awaitable<Response> list_rules(RequestContext& context, Request& request) {
    if (context_.upstream == nullptr) co_return unavailable();
    auto listed = co_await context.run_blocking(
        [&] { return service().list_cache_rules(request.param("registry")); });
    if (!listed) co_return error_of(listed.error());
    json::array items;
    for (const auto& view : *listed) items.push_back(cache_rule_json(view));
    co_return json_response(200, json::object{{"cacheRules", std::move(items)}});
  }

  asio::awaitable<Response> create_rule(RequestContext& context, Request& request) {
    if (context_.upstream == nullptr) co_return unavailable();
    auto body = co_await read_json_object(request);
    if (body.error) co_return std::move(*body.error);
    if (auto bad = check_fields(body.object, {{"name", FieldType::string},
                                              {"sourceRepository", FieldType::string},
                                              {"targetRepository", FieldType::string},
                                              {"credentialSet", FieldType::string},
                                              {"tagTtlSeconds", FieldType::integer},
                                              {"allowPush", FieldType::boolean}})) {
      co_return std::move(*bad);
    }
    upstream::NewCacheRule rule;
    for (auto [field, target] : {std::pair{"name", &rule.name},
                                 std::pair{"sourceRepository", &rule.source_repository},
                                 std::pair{"targetRepository", &rule.target_repository}}) {
      auto value = string_field(body.object, field);
      if (!value) co_return invalid_request(fmt::format("the field '{}' is required", field), field);
      *target = std::move(*value);
    }
    rule.credential_set = string_field(body.object, "credentialSet").value_or("");
    rule.tag_ttl_seconds =
        int_field(body.object, "tagTtlSeconds").value_or(upstream::kDefaultTagTtlSeconds);
    rule.allow_push = bool_field(body.object, "allowPush").value_or(false);
    auto created = co_await context.run_blocking(
        [&] { return service().create_cache_rule(request.param("registry"), rule); });
    if (!created) co_return error_of(created.error());
    Response response = json_response(201, cache_rule_json(*created));
    response.headers.set("Location", fmt::format("{}registries/{}/cache-rules/{}", mgmt::kPrefix,
                                                 created->registry, created->name));
    co_return response;
  }

  asio::awaitable<Response> show_rule(RequestContext& context, Request& request) {
    if (context_.upstream == nullptr) co_return unavailable();
    auto shown = co_await context.run_blocking([&] {
      return service().show_cache_rule(request.param("registry"), request.param("name"));
    });
    if (!shown) co_return error_of(shown.error());
    co_return json_response(200, cache_rule_json(*shown));
  }

  asio::awaitable<Response> update_rule(RequestContext& context, Request& request) {
    if (context_.upstream == nullptr) co_return unavailable();
    auto body = co_await read_json_object(request);
    if (body.error) co_return std::move(*body.error);
    if (auto bad = check_fields(body.object, {{"credentialSet", FieldType::string},
                                              {"tagTtlSeconds", FieldType::integer},
                                              {"allowPush", FieldType::boolean}})) {
      co_return std::move(*bad);
    }
    upstream::CacheRuleUpdate update{string_field(body.object, "credentialSet"),
                                     int_field(body.object, "tagTtlSeconds"),
                                     bool_field(body.object, "allowPush")};
    auto updated = co_await context.run_blocking([&] {
      return service().update_cache_rule(request.param("registry"), request.param("name"),
                                         update);
    });
    if (!updated) co_return error_of(updated.error());
    co_return json_response(200, cache_rule_json(*updated));
  }

  asio::awaitable<Response> delete_rule(RequestContext& context, Request& request) {
    if (context_.upstream == nullptr) co_return unavailable();
    auto removed = co_await context.run_blocking([&] {
      return service().delete_cache_rule(request.param("registry"), request.param("name"));
    });
    if (!removed) co_return error_of(removed.error());
    co_return no_content();
  }

  // --- imports ---

  asio::awaitable<Response> start_import(RequestContext& context, Request& request) {
    if (context_.imports == nullptr) co_return unavailable();
    auto body = co_await read_json_object(request);
    if (body.error) co_return std::move(*body.error);
    auto parsed = import_request_of(body.object);
    if (auto* bad = std::get_if<Response>(&parsed)) co_return std::move(*bad);
    auto& import = std::get<upstream::ImportRequest>(parsed);
    // The source on another registry of this deployment: the caller's own grant there decides.
    const auth::Principal& principal = context.caller.principal;
    auth::Authenticator* authenticator = context_.authenticator;
    upstream::SourceReadCheck may_read = [&](const metadata::RegistryRecord& source,
                                             std::string_view repository) {
      if (principal.kind == auth::Principal::Kind::deployment_admin) return true;
      if (authenticator == nullptr) return false;
      auto grant = authenticator->grant_for(principal, source);
      return grant && grant->on(repository).has(auth::Permission::pull);
    };
    auto started = co_await context.run_blocking(
        [&] { return context_.imports->start(request.param("registry"), import, may_read); });
    if (!started) co_return error_of(started.error());
    Response response = json_response(202, import_json(*started));
    response.headers.set("Location", fmt::format("{}registries/{}/imports/{}", mgmt::kPrefix,
                                                 started->registry, started->id));
    co_return response;
  }

  asio::awaitable<Response> list_imports(RequestContext& context, Request& request) {
    if (context_.imports == nullptr) co_return unavailable();
    auto top = parse_count(request.query_param("top"), "top", 1, kMaxImportsPerPage,
                           kDefaultImportsPerPage);
    if (top.error) co_return std::move(*top.error);
    auto before = parse_count(request.query_param("before"), "before", 1,
                              static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max()), 0);
    if (before.error) co_return std::move(*before.error);
    std::optional<std::int64_t> below;
    if (before.value > 0) below = static_cast<std::int64_t>(before.value);
    auto listed = co_await context.run_blocking(
        [&] { return context_.imports->list(request.param("registry"), below, top.value); });
    if (!listed) co_return error_of(listed.error());
    json::array items;
    for (const auto& view : *listed) items.push_back(import_json(view));
    json::object page{{"imports", std::move(items)}};
    if (listed->size() == top.value) page["next"] = std::to_string(listed->back().id);
    co_return json_response(200, page);
  }

  asio::awaitable<Response> show_import(RequestContext& context, Request& request) {
    if (context_.imports == nullptr) co_return unavailable();
    auto id = parse_count(request.param("id"), "id", 1,
                          static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max()), 0);
    if (id.error) co_return std::move(*id.error);
    auto shown = co_await context.run_blocking([&] {
      return context_.imports->show(request.param("registry"),
                                    static_cast<std::int64_t>(id.value));
    });
    if (!shown) co_return error_of(shown.error());
    co_return json_response(200, import_json(*shown));
  }

 private:
  upstream::UpstreamService& service() { return *context_.upstream; }

  ManagementContext& context_;
};

using UpstreamRow = HandlerRow<UpstreamHandlers>;

constexpr std::string_view kRead = action::kRegistryRead;
constexpr std::string_view kWrite = action::kRegistryWrite;

const UpstreamRow kUpstreamRoutes[] = {
    {"GET", "/mgmt/v1/registries/{registry}/credential-sets", "mgmt.credential_sets.list", kRead,
     &UpstreamHandlers::list_sets},
    {"POST", "/mgmt/v1/registries/{registry}/credential-sets", "mgmt.credential_sets.create",
     kWrite, &UpstreamHandlers::create_set},
    {"GET", "/mgmt/v1/registries/{registry}/credential-sets/{name}", "mgmt.credential_sets.show",
     kRead, &UpstreamHandlers::show_set},
    {"PATCH", "/mgmt/v1/registries/{registry}/credential-sets/{name}",
     "mgmt.credential_sets.update", kWrite, &UpstreamHandlers::update_set},
    {"DELETE", "/mgmt/v1/registries/{registry}/credential-sets/{name}",
     "mgmt.credential_sets.delete", kWrite, &UpstreamHandlers::delete_set},
    {"GET", "/mgmt/v1/registries/{registry}/cache-rules", "mgmt.cache_rules.list", kRead,
     &UpstreamHandlers::list_rules},
    {"POST", "/mgmt/v1/registries/{registry}/cache-rules", "mgmt.cache_rules.create", kWrite,
     &UpstreamHandlers::create_rule},
    {"GET", "/mgmt/v1/registries/{registry}/cache-rules/{name}", "mgmt.cache_rules.show", kRead,
     &UpstreamHandlers::show_rule},
    {"PATCH", "/mgmt/v1/registries/{registry}/cache-rules/{name}", "mgmt.cache_rules.update",
     kWrite, &UpstreamHandlers::update_rule},
    {"DELETE", "/mgmt/v1/registries/{registry}/cache-rules/{name}", "mgmt.cache_rules.delete",
     kWrite, &UpstreamHandlers::delete_rule},
    {"POST", "/mgmt/v1/registries/{registry}/imports", "mgmt.imports.start", kWrite,
     &UpstreamHandlers::start_import},
    {"GET", "/mgmt/v1/registries/{registry}/imports", "mgmt.imports.list", kRead,
     &UpstreamHandlers::list_imports},
    {"GET", "/mgmt/v1/registries/{registry}/imports/{id}", "mgmt.imports.show", kRead,
     &UpstreamHandlers::show_import},
};

}  // namespace

std::vector<RouteRow> upstream_management_routes(ManagementContext& context) {
  return rows_of(std::make_shared<UpstreamHandlers>(context), kUpstreamRoutes);
}

}  // namespace berth::api
