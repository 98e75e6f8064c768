// The events part of /mgmt/v1: a registry's webhooks (create, list, show, update, delete, ping,
// configuration, delivery record, redelivery) and its audit log of repository events, over
// events::EventService. The contract is docs/management-api.md ("Webhooks", "Audit log").

#include <fmt/format.h>

#include <algorithm>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <limits>
#include <map>
#include <memory>
#include <utility>
#include <variant>

#include "api/management.h"
#include "api/management_json.h"
#include "events/event_service.h"
#include "events/payload.h"

namespace berth::api {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using events::EventErrc;
using events::EventError;
using http::Request;
using http::Response;

using namespace mgmt_json;

constexpr std::size_t kMaxDeliveriesPerPage = 100;
constexpr std::size_t kDefaultDeliveriesPerPage = 20;
constexpr std::size_t kMaxAuditPerPage = 1000;
constexpr std::size_t kDefaultAuditPerPage = 100;

Response error_of(const EventError& error) {
  switch (error.code) {
    case EventErrc::invalid_argument:
      return domain_error(400, mgmt::code::kInvalidRequest, error.message, error.target);
    case EventErrc::registry_not_found:
      return domain_error(404, mgmt::code::kRegistryNotFound, error.message, error.target);
    case EventErrc::webhook_not_found:
      return domain_error(404, mgmt::code::kWebhookNotFound, error.message, error.target);
    case EventErrc::event_not_found:
      return domain_error(404, mgmt::code::kEventNotFound, error.message, error.target);
    case EventErrc::conflict:
      return domain_error(409, mgmt::code::kConflict, error.message, error.target);
    case EventErrc::limit_exceeded:
      return domain_error(409, mgmt::code::kLimitExceeded, error.message, error.target);
    case EventErrc::internal:
      break;
  }
  return domain_error(500, mgmt::code::kInternalError, error.message, "");
}


json::object webhook_json(const events::WebhookView& view) {
  json::array actions;
  for (const auto& action : view.actions) actions.emplace_back(action);
  return json::object{
      {"name", view.name},
      {"registry", view.registry},
      {"actions", std::move(actions)},
      {"scope", view.scope},
      {"status", view.status},
      {"format", view.format},
      {"signed", view.signed_deliveries},
      {"createdTime", time_of(view.created_at)},
  };
}

// A stored JSON object (headers), or an empty object when it does not parse.
json::value parsed_or_empty(std::string_view text) {
  boost::system::error_code ec;
  json::value value = json::parse(text, ec);
  if (ec) return json::object();
  return value;
}

json::object delivery_json(const metadata::DeliveryRecord& d) {
  boost::system::error_code ec;
  json::value content = json::parse(d.request_body, ec);
  if (ec) content = d.request_body;
  return json::object{
      {"deliveryId", d.id},
      {"id", d.event_id},
      {"action", d.action},
      {"attempt", d.attempt},
      {"result", d.result},
      {"timestamp", events::format_timestamp_ms(d.started_at)},
      {"latencyMs", d.latency_ms},
      {"eventRequestMessage",
       json::object{{"method", "POST"},
                    {"headers", parsed_or_empty(d.request_headers_json)},
                    {"content", std::move(content)}}},
      {"eventResponseMessage",
       json::object{{"statusCode", d.status},
                    {"headers", parsed_or_empty(d.response_headers_json)},
                    {"content", d.response_excerpt}}},
      {"error", d.error},
  };
}

events::Headers headers_of(const std::map<std::string, std::string>& map) {
  return events::Headers(map.begin(), map.end());
}

// The `before` query parameter: a positive id, or 0 when absent.
struct ParsedBefore {
  std::int64_t value = 0;
  std::optional<Response> error;
};

ParsedBefore parse_before(const Request& request) {
  ParsedBefore parsed;
  auto count = parse_count(request.query_param("before"), "before", 1,
                           static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max()), 0);
  if (count.error) {
    parsed.error = std::move(count.error);
  } else {
    parsed.value = static_cast<std::int64_t>(count.value);
  }
  return parsed;
}

// A page of `items` whose last has `last_id`: says where the next page starts when the page is
// full (more may follow).
Response page_response(std::string_view key, json::array items, std::size_t limit,
                       std::int64_t last_id) {
  json::object page{{key, std::move(items)}};
  if (page.at(key).as_array().size() == limit && last_id > 0) {
    page["next"] = std::to_string(last_id);
  }
  return json_response(200, page);
}

// The webhook settings create and update both take, absent ones unset; or the 400 for a field
// that is unknown or of the wrong type.
std::variant<events::WebhookUpdate, Response> webhook_fields(const json::object& body) {
  if (auto bad = check_fields(body, {{"serviceUri", FieldType::string},
                                     {"actions", FieldType::string_array},
                                     {"customHeaders", FieldType::string_map},
                                     {"scope", FieldType::string},
                                     {"status", FieldType::string},
                                     {"secret", FieldType::string},
                                     {"format", FieldType::string}})) {
    return std::move(*bad);
  }
  events::WebhookUpdate fields;
  fields.service_uri = string_field(body, "serviceUri");
  if (body.contains("actions")) fields.actions = string_array_field(body, "actions");
  if (body.contains("customHeaders")) {
    fields.headers = headers_of(string_map_field(body, "customHeaders"));
  }
  fields.scope = string_field(body, "scope");
  fields.status = string_field(body, "status");
  fields.secret = string_field(body, "secret");
  fields.format = string_field(body, "format");
  return fields;
}

class EventHandlers {
 public:
  explicit EventHandlers(events::EventService& service) : service_(service) {}

  asio::awaitable<Response> list(RequestContext& context, Request& request) {
    auto listed =
        co_await context.run_blocking([&] { return service_.list(request.param("registry")); });
    if (!listed) co_return error_of(listed.error());
    json::array items;
    for (const auto& view : *listed) items.push_back(webhook_json(view));
    co_return json_response(200, json::object{{"webhooks", std::move(items)}});
  }

  asio::awaitable<Response> create(RequestContext& context, Request& request) {
    auto body = co_await read_json_object(request);
    if (body.error) co_return std::move(*body.error);
    // The name is create's own field; the others are the settings update takes too.
    json::object settings = std::move(body.object);
    json::object named;
    if (auto name = settings.find("name"); name != settings.end()) {
      named.emplace("name", name->value());
      settings.erase(name);
    }
    if (auto bad = check_fields(named, {{"name", FieldType::string}})) co_return std::move(*bad);
    auto fields = webhook_fields(settings);
    if (auto* bad = std::get_if<Response>(&fields)) co_return std::move(*bad);
    auto& given = std::get<events::WebhookUpdate>(fields);
    auto name = string_field(named, "name");
    if (!name) co_return invalid_request("the field 'name' is required", "name");
    if (!given.service_uri) {
      co_return invalid_request("the field 'serviceUri' is required", "serviceUri");
    }
    if (!given.actions) co_return invalid_request("the field 'actions' is required", "actions");
    events::NewWebhook webhook;
    webhook.name = *name;
    webhook.service_uri = std::move(*given.service_uri);
    webhook.actions = std::move(*given.actions);
    webhook.headers = std::move(given.headers).value_or(events::Headers{});
    webhook.scope = std::move(given.scope).value_or("");
    webhook.status = std::move(given.status).value_or("enabled");
    webhook.secret = std::move(given.secret).value_or("");
    webhook.format = std::move(given.format).value_or(std::string(events::kFormatDefault));
    auto created = co_await context.run_blocking(
        [&] { return service_.create(request.param("registry"), webhook); });
    if (!created) co_return error_of(created.error());
    Response response = json_response(201, webhook_json(*created));
    response.headers.set("Location", fmt::format("{}registries/{}/webhooks/{}", mgmt::kPrefix,
                                                 created->registry, created->name));
    co_return response;
  }

  asio::awaitable<Response> show(RequestContext& context, Request& request) {
    auto shown = co_await context.run_blocking(
        [&] { return service_.show(request.param("registry"), request.param("name")); });
    if (!shown) co_return error_of(shown.error());
    co_return json_response(200, webhook_json(*shown));
  }

  asio::awaitable<Response> update(RequestContext& context, Request& request) {
    auto body = co_await read_json_object(request);
    if (body.error) co_return std::move(*body.error);
    auto fields = webhook_fields(body.object);
    if (auto* bad = std::get_if<Response>(&fields)) co_return std::move(*bad);
    auto& update = std::get<events::WebhookUpdate>(fields);
    auto updated = co_await context.run_blocking([&] {
      return service_.update(request.param("registry"), request.param("name"), update);
    });
    if (!updated) co_return error_of(updated.error());
    co_return json_response(200, webhook_json(*updated));
  }

  asio::awaitable<Response> remove(RequestContext& context, Request& request) {
    auto removed = co_await context.run_blocking(
        [&] { return service_.remove(request.param("registry"), request.param("name")); });
    if (!removed) co_return error_of(removed.error());
    co_return no_content();
  }

  asio::awaitable<Response> ping(RequestContext& context, Request& request) {
    metadata::EventOrigin origin = event_origin(context, request);
    auto pinged = co_await context.run_blocking([&] {
      return service_.ping(request.param("registry"), request.param("name"), origin);
    });
    if (!pinged) co_return error_of(pinged.error());
    co_return json_response(200, json::object{{"id", *pinged}});
  }

  asio::awaitable<Response> config(RequestContext& context, Request& request) {
    auto config = co_await context.run_blocking(
        [&] { return service_.config(request.param("registry"), request.param("name")); });
    if (!config) co_return error_of(config.error());
    json::object headers;
    for (const auto& [name, value] : config->headers) headers[name] = value;
    co_return json_response(200, json::object{{"serviceUri", config->service_uri},
                                              {"customHeaders", std::move(headers)}});
  }

  asio::awaitable<Response> deliveries(RequestContext& context, Request& request) {
    auto top = parse_count(request.query_param("top"), "top", 1, kMaxDeliveriesPerPage,
                           kDefaultDeliveriesPerPage);
    if (top.error) co_return std::move(*top.error);
    auto before = parse_before(request);
    if (before.error) co_return std::move(*before.error);
    auto listed = co_await context.run_blocking([&] {
      return service_.deliveries(request.param("registry"), request.param("name"), before.value,
                                 top.value);
    });
    if (!listed) co_return error_of(listed.error());
    json::array items;
    for (const auto& delivery : *listed) items.push_back(delivery_json(delivery));
    co_return page_response("events", std::move(items), top.value,
                            listed->empty() ? 0 : listed->back().id);
  }

  asio::awaitable<Response> redeliver(RequestContext& context, Request& request) {
    auto again = co_await context.run_blocking([&] {
      return service_.redeliver(request.param("registry"), request.param("name"),
                                request.param("eventId"));
    });
    if (!again) co_return error_of(again.error());
    co_return json_response(202, json::object{{"id", *again}});
  }

  asio::awaitable<Response> audit(RequestContext& context, Request& request) {
    events::AuditQuery query;
    auto since = parse_time(request.query_param("since"), "since");
    if (since.error) co_return std::move(*since.error);
    auto until = parse_time(request.query_param("until"), "until");
    if (until.error) co_return std::move(*until.error);
    if (since.value) query.from = *since.value * 1000;
    if (until.value) query.to = (*until.value + 1) * 1000;  // until is inclusive, to the second
    auto top = parse_count(request.query_param("top"), "top", 1, kMaxAuditPerPage,
                           kDefaultAuditPerPage);
    if (top.error) co_return std::move(*top.error);
    query.limit = top.value;
    auto before = parse_before(request);
    if (before.error) co_return std::move(*before.error);
    query.before = before.value;
    if (auto identity = request.query_param("identity")) query.identity = std::string(*identity);
    if (auto repository = request.query_param("repository")) {
      query.repository = std::string(*repository);
    }
    if (auto action = request.query_param("action")) {
      constexpr std::string_view kActions[] = {"push",       "delete",       "untag", "pull",
                                               "chart_push", "chart_delete", "ping",  "purge",
                                               "quarantine"};
      if (std::find(std::begin(kActions), std::end(kActions), *action) == std::end(kActions)) {
        co_return invalid_request(
            fmt::format("'{}' is not an action: push, delete, untag, pull, chart_push, "
                        "chart_delete, ping, purge or quarantine",
                        *action),
            "action");
      }
      query.action = std::string(*action);
    }
    auto listed = co_await context.run_blocking(
        [&] { return service_.audit(request.param("registry"), query); });
    if (!listed) co_return error_of(listed.error());
    json::array items;
    for (const auto& event : *listed) items.push_back(events::audit_entry(event));
    co_return page_response("events", std::move(items), top.value,
                            listed->empty() ? 0 : listed->back().sequence);
  }

 private:
  events::EventService& service_;
};

using EventRow = HandlerRow<EventHandlers>;

constexpr std::string_view kRead = action::kRegistryRead;
constexpr std::string_view kWrite = action::kRegistryWrite;

// Reading a webhook's configuration shows its custom headers (credentials, often) and its URI:
// Contributors only, like changing it.
constexpr EventRow kEventRoutes[] = {
    {"GET", "/mgmt/v1/registries/{registry}/webhooks", "mgmt.webhooks.list", kRead,
     &EventHandlers::list},
    {"POST", "/mgmt/v1/registries/{registry}/webhooks", "mgmt.webhooks.create", kWrite,
     &EventHandlers::create},
    {"GET", "/mgmt/v1/registries/{registry}/webhooks/{name}", "mgmt.webhooks.show", kRead,
     &EventHandlers::show},
    {"PATCH", "/mgmt/v1/registries/{registry}/webhooks/{name}", "mgmt.webhooks.update", kWrite,
     &EventHandlers::update},
    {"DELETE", "/mgmt/v1/registries/{registry}/webhooks/{name}", "mgmt.webhooks.delete", kWrite,
     &EventHandlers::remove},
    {"POST", "/mgmt/v1/registries/{registry}/webhooks/{name}/ping", "mgmt.webhooks.ping", kWrite,
     &EventHandlers::ping},
    {"GET", "/mgmt/v1/registries/{registry}/webhooks/{name}/config", "mgmt.webhooks.config",
     kWrite, &EventHandlers::config},
    {"GET", "/mgmt/v1/registries/{registry}/webhooks/{name}/events", "mgmt.webhooks.events",
     kRead, &EventHandlers::deliveries},
    {"POST", "/mgmt/v1/registries/{registry}/webhooks/{name}/events/{eventId}/redeliver",
     "mgmt.webhooks.redeliver", kWrite, &EventHandlers::redeliver},
    {"GET", "/mgmt/v1/registries/{registry}/audit/events", "mgmt.audit.events", kRead,
     &EventHandlers::audit},
};

}  // namespace

std::vector<RouteRow> event_management_routes(ManagementContext& context) {
  return rows_of(std::make_shared<EventHandlers>(context.events), kEventRoutes);
}

}  // namespace berth::api
