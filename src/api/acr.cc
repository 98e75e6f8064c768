// The hosted service's repository API (/acr/v1): repository, tag and manifest metadata with
// their changeable attributes, and listings in an order with keyset paging. The shapes and
// rules are documented in docs/acr-api.md.
//
// It is part of the data plane: the registry comes from the Host like /v2/'s, errors are OCI
// envelopes, and each route's action in the table below is what the pipeline authorizes.

#include "api/acr.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/distribution.h"
#include "api/errors.h"
#include "api/management_json.h"
#include "api/wire.h"
#include "auth/encoding.h"
#include "common/clock.h"
#include "oci/digest.h"
#include "oci/reference.h"

namespace berth::api {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using http::Request;
using http::Response;
using metadata::ListingOrder;
using registry::Registry;

// Without "n", a page holds this many items; larger "n" are cut to the maximum.
constexpr std::size_t kDefaultPageItems = 100;
constexpr std::size_t kMaxPageItems = 1000;
// Attribute bodies are a handful of booleans.
constexpr std::size_t kMaxBodyBytes = 64 * 1024;

// What a handler works on: the registry the request addresses, the request's context (where
// blocking work runs, what the caller may read) and the request.
struct Call {
  Registry& registry;
  RequestContext& context;
  Request& request;

  template <class Work>
  auto offload(Work work) {
    return context.run_blocking(std::move(work));
  }
  // The registry's login server, which the hosted service names as "registry".
  const std::string& login_server() const { return context.registry->service; }
};

// ------------------------------------------------------------------ answers

Response json_answer(unsigned status, const json::value& value) {
  Response response;
  response.status = status;
  add_common_headers(response);
  response.headers.set(std::string(header::kContentType), "application/json");
  response.body = json::serialize(value);
  response.body += '\n';
  return response;
}

// A registry error as /acr/v1 writes it: like /v2/, except that an unknown tag is TAG_UNKNOWN.
Response acr_error(const registry::RegistryError& error) {
  if (error.code == registry::Errc::tag_unknown) {
    return error_response(404, code::kTagUnknown, error.message);
  }
  return error_response(error);
}

Response unsupported(std::string message) {
  return error_response(400, code::kUnsupported, message);
}

// Seconds as the hosted service writes times: RFC 3339 UTC with seven fractional digits
// (always zero: berth keeps whole seconds).
std::string acr_time(std::int64_t unix_seconds) {
  std::string text = format_rfc3339(unix_seconds);
  text.insert(text.size() - 1, ".0000000");
  return text;
}

// A manifest's last update: its last attribute change, else its push.
std::int64_t last_update(const metadata::ManifestSummary& manifest) {
  return manifest.updated_at != 0 ? manifest.updated_at : manifest.created_at;
}

json::object repository_json(const Call& call, const metadata::RepositorySummary& repository) {
  return json::object{
      {"registry", call.login_server()},
      {"imageName", repository.name},
      {"createdTime", acr_time(repository.created_at)},
      {"lastUpdateTime", acr_time(repository.updated_at)},
      {"manifestCount", repository.manifest_count},
      {"tagCount", repository.tag_count},
      {"changeableAttributes", mgmt_json::changeable_attributes_json(repository.attributes)},
  };
}

json::object tag_json(const metadata::TagRecord& tag) {
  return json::object{
      {"name", tag.name},
      {"digest", tag.digest.str()},
      {"createdTime", acr_time(tag.created_at)},
      {"lastUpdateTime", acr_time(tag.updated_at)},
      {"signed", false},
      {"changeableAttributes", mgmt_json::changeable_attributes_json(tag.attributes)},
  };
}

json::object manifest_json(const metadata::ManifestSummary& manifest) {
  json::array tags;
  for (const auto& tag : manifest.tags) tags.emplace_back(tag);
  return json::object{
      {"digest", manifest.digest.str()},
      {"imageSize", manifest.image_size},
      {"createdTime", acr_time(manifest.created_at)},
      {"lastUpdateTime", acr_time(last_update(manifest))},
      {"architecture", manifest.architecture},
      {"os", manifest.os},
      {"mediaType", manifest.media_type},
      {"tags", std::move(tags)},
      {"changeableAttributes", mgmt_json::changeable_attributes_json(manifest.attributes)},
  };
}

// {"registry","imageName",<field>: item}: the envelope of a tag or manifest answer.
json::object in_repository(const Call& call, std::string_view name, std::string_view field,
                           json::value item) {
  json::object object{{"registry", call.login_server()}, {"imageName", name}};
  object[field] = std::move(item);
  return object;
}

// ------------------------------------------------------------------ inputs

std::optional<Response> check_name(std::string_view name) {
  if (oci::is_valid_repository_name(name)) return std::nullopt;
  return error_response(400, code::kNameInvalid, fmt::format("invalid repository name '{}'", name));
}

// The query of a listing: its order, where it starts and how many items it holds.
struct Listing {
  metadata::PageQuery query;
  std::optional<Response> error;
};

std::optional<ListingOrder> order_named(std::string_view text) {
  if (text.empty()) return ListingOrder::by_key;
  if (text == "timedesc") return ListingOrder::time_desc;
  if (text == "timeasc") return ListingOrder::time_asc;
  return std::nullopt;
}

std::string_view order_name(ListingOrder order) {
  switch (order) {
    case ListingOrder::time_desc: return "timedesc";
    case ListingOrder::time_asc: return "timeasc";
    case ListingOrder::by_key: break;
  }
  return "";
}

// The "last" of a listing by time: the last item's time and key, which the order needs both
// of, as an opaque cursor (base64url of "<seconds> <key>"). Clients take it from the Link.
std::string cursor_of(const metadata::ListingPosition& position) {
  std::string text = std::to_string(position.time);
  text += ' ';
  text += position.key;
  return auth::detail::base64url_encode(text);
}

std::optional<metadata::ListingPosition> position_of_cursor(std::string_view cursor) {
  auto text = auth::detail::base64url_decode(cursor);
  if (!text) return std::nullopt;
  auto space = text->find(' ');
  if (space == std::string::npos || space == 0 || space + 1 == text->size()) return std::nullopt;
  metadata::ListingPosition position;
  const char* end = text->data() + space;
  auto [stop, ec] = std::from_chars(text->data(), end, position.time);
  if (ec != std::errc() || stop != end) return std::nullopt;
  position.key = text->substr(space + 1);
  return position;
}

// Reads "orderby", "last" and "n"; "n" as /v2/ does (a non-negative integer).
Listing parse_listing(const Request& request) {
  Listing listing;
  auto order = order_named(request.query_param("orderby").value_or(""));
  if (!order) {
    listing.error = unsupported(fmt::format("orderby must be timedesc or timeasc, not '{}'",
                                            *request.query_param("orderby")));
    return listing;
  }
  listing.query.order = *order;
  listing.query.limit = kDefaultPageItems;
  if (auto n = request.query_param("n")) {
    std::size_t value = 0;
    auto [end, ec] = std::from_chars(n->data(), n->data() + n->size(), value);
    if (ec != std::errc() || end != n->data() + n->size()) {
      listing.error = error_response(400, code::kPaginationNumberInvalid,
                                     "the n query parameter must be a non-negative integer");
      return listing;
    }
    listing.query.limit = std::min(value, kMaxPageItems);
  }
  auto last = request.query_param("last");
  if (!last || last->empty()) return listing;
  if (*order == ListingOrder::by_key) {
    listing.query.after = metadata::ListingPosition{0, std::string(*last)};
    return listing;
  }
  listing.query.after = position_of_cursor(*last);
  if (!listing.query.after) {
    listing.error = unsupported(fmt::format(
        "last must be the cursor of a Link this listing answered with (orderby={})",
        order_name(*order)));
  }
  return listing;
}

// Link: <path?last=...&n=...[&orderby=...]>; rel="next", after a page that more items follow.
void add_next_link(Response& response, std::string_view path, const metadata::PageQuery& query,
                   const std::optional<metadata::ListingPosition>& last_item) {
  if (!last_item) return;
  std::string last = query.order == ListingOrder::by_key ? last_item->key : cursor_of(*last_item);
  std::string link = fmt::format("<{}?last={}&n={}", path, last, query.limit);
  if (query.order != ListingOrder::by_key) {
    link += "&orderby=";
    link += order_name(query.order);
  }
  link += ">; rel=\"next\"";
  response.headers.set(std::string(header::kLink), std::move(link));
}

// A body of changeable attributes: the hosted service sends the attributes object itself
// ({"deleteEnabled":false}); {"changeableAttributes":{...}} is accepted too.
struct AttributeBody {
  metadata::AttributeChanges changes;
  std::optional<Response> error;
};

asio::awaitable<AttributeBody> read_attribute_changes(Request& request) {
  AttributeBody parsed;
  std::string text;
  if (request.body != nullptr) {
    auto body = co_await http::read_body(*request.body, kMaxBodyBytes);
    if (!body) {
      parsed.error = unsupported(body.error().code == http::Errc::too_large
                                     ? fmt::format("the body is over {} bytes", kMaxBodyBytes)
                                     : "the body could not be read: " + body.error().message);
      co_return parsed;
    }
    text = std::move(*body);
  }
  boost::system::error_code ec;
  json::value value = json::parse(text, ec);
  if (ec || !value.is_object()) {
    parsed.error = unsupported("the body must be a JSON object of changeable attributes");
    co_return parsed;
  }
  json::object* object = &value.as_object();
  if (object->size() == 1 && object->contains("changeableAttributes") &&
      object->at("changeableAttributes").is_object()) {
    object = &object->at("changeableAttributes").as_object();
  }
  std::optional<bool>* fields[] = {&parsed.changes.write_enabled, &parsed.changes.delete_enabled,
                                   &parsed.changes.read_enabled, &parsed.changes.list_enabled};
  constexpr std::string_view kNames[] = {"writeEnabled", "deleteEnabled", "readEnabled",
                                         "listEnabled"};
  for (const auto& [key, field] : *object) {
    std::size_t i = 0;
    while (i < 4 && kNames[i] != key) ++i;
    if (i == 4) {
      parsed.error = unsupported(fmt::format(
          "unknown field '{}': give writeEnabled, deleteEnabled, readEnabled or listEnabled",
          std::string_view(key)));
      co_return parsed;
    }
    if (!field.is_bool()) {
      parsed.error = unsupported(fmt::format("the field '{}' must be true or false", kNames[i]));
      co_return parsed;
    }
    *fields[i] = field.get_bool();
  }
  if (object->empty()) {
    parsed.error = unsupported(
        "give at least one of writeEnabled, deleteEnabled, readEnabled and listEnabled");
  }
  co_return parsed;
}

// A tag named in the path; any text that is not a tag names no tag.
std::optional<Response> check_tag(std::string_view tag) {
  if (oci::is_valid_tag(tag)) return std::nullopt;
  return error_response(404, code::kTagUnknown, fmt::format("tag unknown: '{}' is not a tag", tag));
}

std::optional<oci::Digest> parse_digest(std::string_view text, Response& error) {
  auto digest = oci::Digest::parse(text);
  if (!digest) {
    error = error_response(400, code::kDigestInvalid,
                           fmt::format("'{}' is not a valid sha256 or sha512 digest", text));
  }
  return digest;
}

// ------------------------------------------------------------------ catalog

asio::awaitable<Response> list_catalog(Call call) {
  if (!call.request.query_param("orderby").value_or("").empty()) {
    co_return unsupported("the catalog is ordered by name only: leave orderby out");
  }
  Listing listing = parse_listing(call.request);
  if (listing.error) co_return std::move(*listing.error);
  std::string last = listing.query.after ? listing.query.after->key : std::string();
  auto page = co_await call.offload([&] {
    return readable_repositories(call.registry, call.context, last, listing.query.limit);
  });
  if (!page) co_return acr_error(page.error());
  json::array names;
  for (const auto& name : page->items) names.emplace_back(name);
  Response response = json_answer(200, json::object{{"repositories", std::move(names)}});
  if (page->more && !page->items.empty()) {
    add_next_link(response, "/acr/v1/_catalog", listing.query,
                  metadata::ListingPosition{0, page->items.back()});
  }
  co_return response;
}

// ------------------------------------------------------------------ repositories

asio::awaitable<Response> show_repository(Call call) {
  std::string_view name = call.request.param("name");
  if (auto bad = check_name(name)) co_return std::move(*bad);
  auto summary = co_await call.offload([&] { return call.registry.repository_summary(name); });
  if (!summary) co_return acr_error(summary.error());
  co_return json_answer(200, repository_json(call, *summary));
}

asio::awaitable<Response> update_repository(Call call) {
  std::string_view name = call.request.param("name");
  if (auto bad = check_name(name)) co_return std::move(*bad);
  AttributeBody body = co_await read_attribute_changes(call.request);
  if (body.error) co_return std::move(*body.error);
  auto updated = co_await call.offload(
      [&] { return call.registry.update_repository_attributes(name, body.changes); });
  if (!updated) co_return acr_error(updated.error());
  co_return json_answer(200, repository_json(call, *updated));
}

asio::awaitable<Response> delete_repository(Call call) {
  std::string_view name = call.request.param("name");
  if (auto bad = check_name(name)) co_return std::move(*bad);
  auto removed =
      co_await call.offload([&] { return call.registry.delete_repository_listing(name); });
  if (!removed) co_return acr_error(removed.error());
  json::array manifests;
  for (const auto& digest : removed->manifests) manifests.emplace_back(digest);
  json::array tags;
  for (const auto& tag : removed->tags) tags.emplace_back(tag);
  co_return json_answer(202, json::object{{"manifestsDeleted", std::move(manifests)},
                                          {"tagsDeleted", std::move(tags)}});
}

// ------------------------------------------------------------------ tags

asio::awaitable<Response> list_tags(Call call) {
  std::string_view name = call.request.param("name");
  if (auto bad = check_name(name)) co_return std::move(*bad);
  Listing listing = parse_listing(call.request);
  if (listing.error) co_return std::move(*listing.error);
  auto page =
      co_await call.offload([&] { return call.registry.tag_page(name, listing.query); });
  if (!page) co_return acr_error(page.error());
  json::array tags;
  for (const auto& tag : page->items) tags.emplace_back(tag_json(tag));
  Response response = json_answer(200, in_repository(call, name, "tags", std::move(tags)));
  if (page->more && !page->items.empty()) {
    const auto& last = page->items.back();
    add_next_link(response, fmt::format("/acr/v1/{}/_tags", name), listing.query,
                  metadata::ListingPosition{last.updated_at, last.name});
  }
  co_return response;
}

asio::awaitable<Response> show_tag(Call call) {
  std::string_view name = call.request.param("name");
  std::string_view tag = call.request.param("reference");
  if (auto bad = check_name(name)) co_return std::move(*bad);
  if (auto bad = check_tag(tag)) co_return std::move(*bad);
  auto record = co_await call.offload([&] { return call.registry.tag_record(name, tag); });
  if (!record) co_return acr_error(record.error());
  co_return json_answer(200, in_repository(call, name, "tag", tag_json(*record)));
}

asio::awaitable<Response> update_tag(Call call) {
  std::string_view name = call.request.param("name");
  std::string_view tag = call.request.param("reference");
  if (auto bad = check_name(name)) co_return std::move(*bad);
  if (auto bad = check_tag(tag)) co_return std::move(*bad);
  AttributeBody body = co_await read_attribute_changes(call.request);
  if (body.error) co_return std::move(*body.error);
  auto updated = co_await call.offload(
      [&] { return call.registry.update_tag_attributes(name, tag, body.changes); });
  if (!updated) co_return acr_error(updated.error());
  co_return json_answer(200, in_repository(call, name, "tag", tag_json(*updated)));
}

asio::awaitable<Response> delete_tag(Call call) {
  std::string_view name = call.request.param("name");
  std::string_view tag = call.request.param("reference");
  if (auto bad = check_name(name)) co_return std::move(*bad);
  if (auto bad = check_tag(tag)) co_return std::move(*bad);
  auto removed = co_await call.offload([&] { return call.registry.untag(name, tag); });
  if (!removed) co_return acr_error(removed.error());
  Response response;
  response.status = 202;
  add_common_headers(response);
  co_return response;
}

// ------------------------------------------------------------------ manifests

asio::awaitable<Response> list_manifests(Call call) {
  std::string_view name = call.request.param("name");
  if (auto bad = check_name(name)) co_return std::move(*bad);
  Listing listing = parse_listing(call.request);
  if (listing.error) co_return std::move(*listing.error);
  auto page =
      co_await call.offload([&] { return call.registry.manifest_page(name, listing.query); });
  if (!page) co_return acr_error(page.error());
  json::array manifests;
  for (const auto& manifest : page->items) manifests.emplace_back(manifest_json(manifest));
  Response response =
      json_answer(200, in_repository(call, name, "manifests", std::move(manifests)));
  if (page->more && !page->items.empty()) {
    const auto& last = page->items.back();
    add_next_link(response, fmt::format("/acr/v1/{}/_manifests", name), listing.query,
                  metadata::ListingPosition{last_update(last), last.digest.str()});
  }
  co_return response;
}

asio::awaitable<Response> show_manifest(Call call) {
  std::string_view name = call.request.param("name");
  if (auto bad = check_name(name)) co_return std::move(*bad);
  Response error;
  auto digest = parse_digest(call.request.param("digest"), error);
  if (!digest) co_return error;
  auto summary =
      co_await call.offload([&] { return call.registry.manifest_summary(name, *digest); });
  if (!summary) co_return acr_error(summary.error());
  co_return json_answer(200, in_repository(call, name, "manifest", manifest_json(*summary)));
}

asio::awaitable<Response> update_manifest(Call call) {
  std::string_view name = call.request.param("name");
  if (auto bad = check_name(name)) co_return std::move(*bad);
  Response error;
  auto digest = parse_digest(call.request.param("digest"), error);
  if (!digest) co_return error;
  AttributeBody body = co_await read_attribute_changes(call.request);
  if (body.error) co_return std::move(*body.error);
  auto updated = co_await call.offload([&]() -> registry::Result<metadata::ManifestSummary> {
    auto changed = call.registry.update_manifest_attributes(name, *digest, body.changes);
    if (!changed) return changed.error();
    return call.registry.manifest_summary(name, *digest);
  });
  if (!updated) co_return acr_error(updated.error());
  co_return json_answer(200, in_repository(call, name, "manifest", manifest_json(*updated)));
}

// ------------------------------------------------------------------ the route table

using AcrHandler = asio::awaitable<Response> (*)(Call);

struct AcrRow {
  std::string_view method;
  std::string_view pattern;
  std::string_view name;
  std::string_view action;
  AcrHandler handler;
  bool changes_content;  // the registry gets the request as the origin of its events
};

// First match wins, so the routes under a repository come before the repository's own: no
// repository name has a "_tags" or "_manifests" component (components start with [a-z0-9]).
constexpr AcrRow kRoutes[] = {
    {"GET", "/acr/v1/_catalog", "acr.catalog.list", action::kCatalog, list_catalog, false},
    {"GET", "/acr/v1/{name+}/_tags/{reference}", "acr.tag.show", action::kMetadataRead, show_tag,
     false},
    {"PATCH", "/acr/v1/{name+}/_tags/{reference}", "acr.tag.update", action::kMetadataWrite,
     update_tag, false},
    {"DELETE", "/acr/v1/{name+}/_tags/{reference}", "acr.tag.delete", action::kDelete, delete_tag,
     true},
    {"GET", "/acr/v1/{name+}/_tags", "acr.tags.list", action::kMetadataRead, list_tags, false},
    {"GET", "/acr/v1/{name+}/_manifests/{digest}", "acr.manifest.show", action::kMetadataRead,
     show_manifest, false},
    {"PATCH", "/acr/v1/{name+}/_manifests/{digest}", "acr.manifest.update",
     action::kMetadataWrite, update_manifest, false},
    {"GET", "/acr/v1/{name+}/_manifests", "acr.manifests.list", action::kMetadataRead,
     list_manifests, false},
    {"GET", "/acr/v1/{name+}", "acr.repository.show", action::kMetadataRead, show_repository,
     false},
    {"PATCH", "/acr/v1/{name+}", "acr.repository.update", action::kMetadataWrite,
     update_repository, false},
    {"DELETE", "/acr/v1/{name+}", "acr.repository.delete", action::kDelete, delete_repository,
     true},
};

// Runs `handler` on the content of the registry the pipeline resolved.
asio::awaitable<Response> in_registry(const DataPlane* plane, AcrHandler handler,
                                      bool records_events, RequestContext& context,
                                      Request& request) {
  // The data-plane family resolves the registry before any handler runs.
  Registry registry = plane->registries.for_registry(context.registry->id);
  if (records_events) registry.set_origin(event_origin(context, request));
  co_return co_await handler(Call{registry, context, request});
}

}  // namespace

std::vector<RouteRow> acr_routes(DataPlane& plane) {
  std::vector<RouteRow> rows;
  const DataPlane* p = &plane;
  for (const AcrRow& row : kRoutes) {
    AcrHandler handler = row.handler;
    bool records_events = row.changes_content;
    rows.push_back({std::string(row.method), std::string(row.pattern), std::string(row.name),
                    std::string(row.action),
                    [p, handler, records_events](RequestContext& context, Request& request) {
                      return in_registry(p, handler, records_events, context, request);
                    }});
  }
  return rows;
}

}  // namespace berth::api
