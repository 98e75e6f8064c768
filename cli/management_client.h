#pragma once
// Typed calls to the management API (/mgmt/v1, docs/management-api.md) over an HttpTransport.
//
// Every call answers the response's JSON (null for 204) or an Error whose message is the
// server's `error.message` when it sent the error envelope, and whose exit code follows the
// status (error.h). The token goes only into the Authorization header.

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <string>
#include <string_view>

#include "cli/config_store.h"
#include "cli/error.h"
#include "cli/http_client.h"

namespace berth::cli {

// Percent-encodes everything but RFC 3986 unreserved characters; `keep` lists more to leave.
std::string percent_encode(std::string_view text, std::string_view keep = {});

class ManagementClient {
 public:
  // `settings.server` is "http(s)://host[:port]" without a trailing slash.
  ManagementClient(HttpTransport& transport, Settings settings);

  Result<boost::json::value> list_registries();
  Result<boost::json::value> get_registry(std::string_view registry);
  Result<boost::json::value> create_registry(const boost::json::object& body);
  Result<boost::json::value> update_registry(std::string_view registry,
                                             const boost::json::object& body);
  Result<boost::json::value> delete_registry(std::string_view registry);
  Result<boost::json::value> registry_usage(std::string_view registry);
  Result<boost::json::value> registry_health(std::string_view registry);

  Result<boost::json::value> list_repositories(std::string_view registry);
  Result<boost::json::value> get_repository(std::string_view registry, std::string_view repo);
  Result<boost::json::value> delete_repository(std::string_view registry, std::string_view repo);
  Result<boost::json::value> list_tags(std::string_view registry, std::string_view repo);
  Result<boost::json::value> delete_tag(std::string_view registry, std::string_view repo,
                                        std::string_view tag);

  Result<boost::json::value> list_manifests(std::string_view registry, std::string_view repo);
  Result<boost::json::value> get_manifest(std::string_view registry, std::string_view repo,
                                          std::string_view digest);
  Result<boost::json::value> delete_manifest(std::string_view registry, std::string_view repo,
                                             std::string_view digest);

  // The generic call the others use: `path` starts with "/mgmt/v1/".
  Result<boost::json::value> call(std::string_view method, std::string_view path,
                                  const boost::json::value* body = nullptr);

 private:
  std::string registry_path(std::string_view registry) const;
  std::string repository_path(std::string_view registry, std::string_view repo) const;

  HttpTransport& transport_;
  Settings settings_;
};

// The Error for a non-2xx response: the envelope's message when present, else the status.
Error error_from_response(const HttpResponse& response);

}  // namespace berth::cli
