// The garbage-collection part of /mgmt/v1: start a run (a registry's, or the deployment's),
// list runs and show one with its progress, over registry::GarbageCollector. The contract is
// docs/management-api.md ("Garbage collection").

#include <fmt/format.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <utility>
#include <variant>

#include "api/management.h"
#include "api/management_json.h"
#include "common/clock.h"
#include "registry/garbage_collector.h"

namespace berth::api {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using http::Request;
using http::Response;
using registry::GcErrc;
using registry::GcError;

using namespace mgmt_json;

constexpr std::size_t kMaxRunsPerPage = 100;
constexpr std::size_t kDefaultRunsPerPage = 20;

Response error_of(const GcError& error) {
  switch (error.code) {
    case GcErrc::already_running:
      return domain_error(409, mgmt::code::kConflict, error.message, "");
    case GcErrc::not_found:
      return domain_error(404, mgmt::code::kNotFound, error.message, "");
    case GcErrc::invalid_argument:
      return domain_error(400, mgmt::code::kInvalidRequest, error.message, "");
    case GcErrc::internal:
      break;
  }
  Response response = management_error(500, mgmt::code::kInternalError, "internal server error");
  response.log_detail = "management: garbage collection: " + error.message;
  return response;
}

Response unavailable() {
  return management_error(503, mgmt::code::kInternalError,
                          "garbage collection is not running in this server");
}

Response registry_error(const registry::TenantError& error) {
  if (error.code == registry::TenantErrc::registry_not_found) {
    return domain_error(404, mgmt::code::kRegistryNotFound, error.message, error.target);
  }
  Response response = management_error(500, mgmt::code::kInternalError, "internal server error");
  response.log_detail = "management: garbage collection: " + error.message;
  return response;
}

json::value time_or_null(std::int64_t unix_seconds) {
  if (unix_seconds == 0) return nullptr;
  return json::value(time_of(unix_seconds));
}

// A run as the API shows it; `registry` is the name of the registry whose links it sweeps
// (null for a deployment-wide run).
json::object run_json(const metadata::GcRun& run, json::value registry) {
  const std::int64_t end = run.finished_at != 0 ? run.finished_at : unix_now();
  const std::int64_t elapsed = std::max<std::int64_t>(end - run.started_at, 0);
  const double rate =
      elapsed > 0 ? static_cast<double>(run.blobs_examined) / static_cast<double>(elapsed) : 0.0;
  return json::object{
      {"id", run.id},
      {"registry", std::move(registry)},
      {"startedBy", run.started_by},
      {"dryRun", run.dry_run},
      {"status", run.state},
      {"phase", run.phase},
      {"cutoffTime", time_of(run.cutoff)},
      {"startTime", time_of(run.started_at)},
      {"lastUpdateTime", time_of(run.updated_at)},
      {"finishTime", time_or_null(run.finished_at)},
      {"linksExamined", run.links_examined},
      {"linksRemoved", run.links_removed},
      {"repositoriesRemoved", run.repositories_removed},
      {"blobsExamined", run.blobs_examined},
      {"storedBlobsExamined", run.objects_examined},
      {"blobsDeleted", run.blobs_deleted},
      {"bytesReclaimed", run.bytes_reclaimed},
      {"blobsExaminedPerSecond", rate},
      {"error", run.error},
  };
}

// The id in the {id} path parameter, or the 400 for one that is not a positive number.
std::variant<std::int64_t, Response> run_id_param(const Request& request) {
  auto id = parse_count(std::optional<std::string_view>(request.param("id")), "id", 1,
                        static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max()), 0);
  if (id.error) return std::move(*id.error);
  return static_cast<std::int64_t>(id.value);
}

class GcHandlers {
 public:
  GcHandlers(registry::Tenants& tenants, registry::GarbageCollector* gc)
      : tenants_(tenants), gc_(gc) {}

  // POST .../registries/{registry}/gc: the registry's links, then the deployment's bytes.
  asio::awaitable<Response> start_for_registry(RequestContext& context, Request& request) {
    co_return co_await start(context, request, request.param("registry"));
  }

  // POST /mgmt/v1/gc: every registry's links, then the deployment's bytes.
  asio::awaitable<Response> start_deployment_wide(RequestContext& context, Request& request) {
    co_return co_await start(context, request, std::nullopt);
  }

  asio::awaitable<Response> list_for_registry(RequestContext& context, Request& request) {
    co_return co_await list(context, request, request.param("registry"));
  }

  asio::awaitable<Response> list_deployment_wide(RequestContext& context, Request& request) {
    co_return co_await list(context, request, std::nullopt);
  }

  asio::awaitable<Response> show_for_registry(RequestContext& context, Request& request) {
    co_return co_await show(context, request, request.param("registry"));
  }

  asio::awaitable<Response> show_deployment_wide(RequestContext& context, Request& request) {
    co_return co_await show(context, request, std::nullopt);
  }

 private:
  // Names by id, for runs of other registries in the deployment-wide listings.
  std::map<metadata::RegistryId, std::string> registry_names() {
    std::map<metadata::RegistryId, std::string> names;
    if (auto all = tenants_.list()) {
      for (const auto& info : *all) names[info.record.id] = info.record.name;
    }
    return names;
  }

  // The id of the registry named in the path (nullopt and `failure` set when it does not
  // exist); none for the deployment-wide routes. Blocking.
  std::optional<metadata::RegistryId> registry_id(std::optional<std::string_view> registry_name,
                                                  std::optional<Response>& failure) {
    if (!registry_name) return std::nullopt;
    auto info = tenants_.show(*registry_name);
    if (!info) {
      failure = registry_error(info.error());
      return std::nullopt;
    }
    return info->record.id;
  }

  json::value name_of(const metadata::GcRun& run,
                      const std::map<metadata::RegistryId, std::string>& names) {
    if (!run.registry) return nullptr;
    auto it = names.find(*run.registry);
    if (it == names.end()) return json::value(*run.registry);
    return json::value(it->second);
  }

  asio::awaitable<Response> start(RequestContext& context, Request& request,
                                  std::optional<std::string_view> registry_name) {
    auto body = co_await read_json_object(request);
    if (body.error) co_return std::move(*body.error);
    if (auto bad = check_fields(body.object, {{"dryRun", FieldType::boolean}})) {
      co_return std::move(*bad);
    }
    if (gc_ == nullptr) co_return unavailable();
    registry::GcRequest gc_request;
    gc_request.dry_run = bool_field(body.object, "dryRun").value_or(false);
    gc_request.started_by = "manual";
    std::optional<Response> failure;
    std::optional<metadata::GcRun> started;
    std::map<metadata::RegistryId, std::string> names;
    co_await context.run_blocking([&] {
      gc_request.registry = registry_id(registry_name, failure);
      if (failure) return;
      auto run = gc_->start(gc_request);
      if (!run) {
        failure = error_of(run.error());
        return;
      }
      started = std::move(*run);
      if (started->registry) names = registry_names();
    });
    if (failure) co_return std::move(*failure);
    Response response = json_response(202, run_json(*started, name_of(*started, names)));
    std::string location(mgmt::kPrefix);
    if (registry_name) location += fmt::format("registries/{}/", *registry_name);
    location += fmt::format("gc/runs/{}", started->id);
    response.headers.set("Location", location);
    co_return response;
  }

  asio::awaitable<Response> list(RequestContext& context, Request& request,
                                 std::optional<std::string_view> registry_name) {
    auto top = parse_count(request.query_param("top"), "top", 1, kMaxRunsPerPage,
                           kDefaultRunsPerPage);
    if (top.error) co_return std::move(*top.error);
    auto before = parse_count(request.query_param("before"), "before", 1,
                              static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max()),
                              0);
    if (before.error) co_return std::move(*before.error);
    if (gc_ == nullptr) co_return unavailable();
    std::optional<Response> failure;
    json::array items;
    std::int64_t last_id = 0;
    co_await context.run_blocking([&] {
      std::optional<metadata::RegistryId> registry = registry_id(registry_name, failure);
      if (failure) return;
      auto runs = gc_->list(registry, static_cast<std::int64_t>(before.value), top.value);
      if (!runs) {
        failure = error_of(runs.error());
        return;
      }
      const auto names = registry_names();
      for (const auto& run : *runs) items.push_back(run_json(run, name_of(run, names)));
      if (!runs->empty()) last_id = runs->back().id;
    });
    if (failure) co_return std::move(*failure);
    json::object page{{"runs", std::move(items)}};
    if (page.at("runs").as_array().size() == top.value && last_id > 0) {
      page["next"] = std::to_string(last_id);
    }
    co_return json_response(200, page);
  }

  asio::awaitable<Response> show(RequestContext& context, Request& request,
                                 std::optional<std::string_view> registry_name) {
    auto id = run_id_param(request);
    if (auto* bad = std::get_if<Response>(&id)) co_return std::move(*bad);
    if (gc_ == nullptr) co_return unavailable();
    std::optional<Response> failure;
    std::optional<json::object> shown;
    co_await context.run_blocking([&] {
      std::optional<metadata::RegistryId> registry = registry_id(registry_name, failure);
      if (failure) return;
      auto run = gc_->find(std::get<std::int64_t>(id));
      // A registry sees its own runs and the deployment-wide ones.
      if (run && registry && run->registry && *run->registry != *registry) {
        run = GcError{GcErrc::not_found,
                      fmt::format("no garbage collection run {}", std::get<std::int64_t>(id))};
      }
      if (!run) {
        failure = error_of(run.error());
        return;
      }
      shown = run_json(*run, name_of(*run, registry_names()));
    });
    if (failure) co_return std::move(*failure);
    co_return json_response(200, *shown);
  }

  registry::Tenants& tenants_;
  registry::GarbageCollector* gc_;
};

using GcRow = HandlerRow<GcHandlers>;

constexpr std::string_view kAdmin = action::kAdmin;
constexpr std::string_view kRead = action::kRegistryRead;
constexpr std::string_view kWrite = action::kRegistryWrite;

const GcRow kGcRoutes[] = {
    {"POST", "/mgmt/v1/gc", "mgmt.gc.start", kAdmin, &GcHandlers::start_deployment_wide},
    {"GET", "/mgmt/v1/gc/runs", "mgmt.gc.runs.list", kAdmin, &GcHandlers::list_deployment_wide},
    {"GET", "/mgmt/v1/gc/runs/{id}", "mgmt.gc.runs.show", kAdmin,
     &GcHandlers::show_deployment_wide},
    {"POST", "/mgmt/v1/registries/{registry}/gc", "mgmt.registries.gc.start", kWrite,
     &GcHandlers::start_for_registry},
    {"GET", "/mgmt/v1/registries/{registry}/gc/runs", "mgmt.registries.gc.runs.list", kRead,
     &GcHandlers::list_for_registry},
    {"GET", "/mgmt/v1/registries/{registry}/gc/runs/{id}", "mgmt.registries.gc.runs.show", kRead,
     &GcHandlers::show_for_registry},
};

}  // namespace

std::vector<RouteRow> gc_management_routes(ManagementContext& context) {
  return rows_of(std::make_shared<GcHandlers>(context.tenants, context.gc), kGcRoutes);
}

}  // namespace berth::api
