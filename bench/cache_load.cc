#include "cache_load.h"

#include <boost/json.hpp>
#include <cctype>

#include "bench_util.h"

namespace berth::bench {

void create_cache_rule(Connection& connection, const std::string& admin_token,
                       const std::string& name, const std::string& source,
                       const std::string& target) {
  boost::json::object rule{{"name", name},
                           {"sourceRepository", source},
                           {"targetRepository", target},
                           {"tagTtlSeconds", 3600}};
  const std::string body = boost::json::serialize(rule);
  Headers headers{{"Authorization", "Bearer " + admin_token},
                  {"Content-Type", "application/json"}};
  Response response;
  const std::string what = "create cache rule " + name;
  if (!connection.send({"POST", "/mgmt/v1/registries/default/cache-rules", headers,
                        Body::from_memory(body)},
                       response)) {
    fail(what + ": " + connection.error());
  }
  check(response.status == 201, what + ": status " + std::to_string(response.status) + ": " +
                                    response.body.substr(0, 300));
}

std::string cache_status(const Response& response) {
  for (const auto& [name, value] : response.headers) {
    std::string lower;
    for (char c : name) lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    if (lower == "x-berth-cache") return value;
  }
  return "";
}

}  // namespace berth::bench
