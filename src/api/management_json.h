#pragma once
// What the management handlers (management.cc, management_access.cc) share: JSON answers,
// reading and checking JSON request bodies, times on the wire. Internal to api/.

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/pipeline.h"
#include "http/message.h"
#include "metadata/metadata_store.h"

namespace berth::api::mgmt_json {

// Request bodies are small JSON objects; anything larger is a mistake.
inline constexpr std::size_t kMaxBodyBytes = 64 * 1024;

http::Response json_response(unsigned status, const boost::json::value& value);
http::Response no_content();
// 400 InvalidRequest.
http::Response invalid_request(std::string message, std::string_view target = {});
// A domain error in the management envelope: its message and target for a client's mistake;
// for a server fault (5xx) a generic message, the cause going to the log with the request id.
http::Response domain_error(unsigned status, std::string_view code, const std::string& message,
                            std::string_view target);

// RFC 3339 UTC.
std::string time_of(std::int64_t unix_seconds);

// A time field or query parameter (RFC 3339), or the 400 to answer.
struct ParsedTime {
  std::optional<std::int64_t> value;  // Unix seconds; none when the text was absent
  std::optional<http::Response> error;
};
ParsedTime parse_time(std::optional<std::string_view> text, std::string_view name);

// A count query parameter from `min` to `max`, `fallback` when absent, or the 400 to answer.
struct ParsedCount {
  std::size_t value = 0;
  std::optional<http::Response> error;
};
ParsedCount parse_count(std::optional<std::string_view> text, std::string_view name,
                        std::size_t min, std::size_t max, std::size_t fallback);

// A JSON object body, or the error response to send instead.
struct JsonBody {
  boost::json::object object;
  std::optional<http::Response> error;
};

boost::asio::awaitable<JsonBody> read_json_object(http::Request& request);

enum class FieldType {
  string,
  boolean,
  string_array,  // an array of strings
  string_map,    // an object whose values are strings
  integer,       // a whole number
  nullable_integer,  // a whole number or null
};

struct Field {
  std::string_view name;
  FieldType type;
};

// Rejects fields not in `known` and fields of the wrong JSON type.
std::optional<http::Response> check_fields(const boost::json::object& object,
                                           std::initializer_list<Field> known);

// The field's value (after check_fields accepted its type); nullopt / empty when absent.
std::optional<std::string> string_field(const boost::json::object& object, std::string_view name);
std::optional<bool> bool_field(const boost::json::object& object, std::string_view name);
// An integer or nullable_integer field; nullopt when absent or null.
std::optional<std::int64_t> int_field(const boost::json::object& object, std::string_view name);

// {"deleteEnabled","writeEnabled","readEnabled","listEnabled"}: the hosted service's
// changeableAttributes object (the management API and /acr/v1 show the same one).
boost::json::object changeable_attributes_json(const metadata::ChangeableAttributes& attributes);

// A body that changes changeable attributes: any of the four booleans, at least one, nothing
// else; or the 400 to answer.
struct AttributeChangesBody {
  metadata::AttributeChanges changes;
  std::optional<http::Response> error;
};
AttributeChangesBody attribute_changes_of(const boost::json::object& body);
std::vector<std::string> string_array_field(const boost::json::object& object,
                                            std::string_view name);
std::map<std::string, std::string> string_map_field(const boost::json::object& object,
                                                    std::string_view name);

// A route table row over a member function of a handler class: the management route tables
// (management.cc, management_access.cc, management_events.cc) are arrays of these.
template <class Handlers>
struct HandlerRow {
  std::string_view method;
  std::string_view pattern;
  std::string_view name;
  std::string_view action;
  boost::asio::awaitable<http::Response> (Handlers::*handler)(RequestContext&, http::Request&);
};

// The pipeline's rows for `table`, every handler calling into the one shared `handlers`.
template <class Handlers, std::size_t N>
std::vector<RouteRow> rows_of(std::shared_ptr<Handlers> handlers,
                              const HandlerRow<Handlers> (&table)[N]) {
  std::vector<RouteRow> rows;
  rows.reserve(N);
  for (const HandlerRow<Handlers>& row : table) {
    auto method = row.handler;
    rows.push_back({std::string(row.method), std::string(row.pattern), std::string(row.name),
                    std::string(row.action),
                    [handlers, method](RequestContext& context, http::Request& request) {
                      return ((*handlers).*method)(context, request);
                    }});
  }
  return rows;
}

}  // namespace berth::api::mgmt_json
