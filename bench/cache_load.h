#pragma once
// The management side of the cache workload: berth's cache rules over its management API.

#include <string>

#include "http_client.h"

namespace berth::bench {

// Creates cache rule `name` on the default registry (POST /mgmt/v1/.../cache-rules): target
// repositories `target` ("cache/*") filled from `source` ("host:port/path/*"), tags trusted for
// an hour. Throws what went wrong.
void create_cache_rule(Connection& connection, const std::string& admin_token,
                       const std::string& name, const std::string& source,
                       const std::string& target);

// How berth answered a manifest of a cached repository (its X-Berth-Cache header: "hit",
// "revalidated", "miss", "stale"; "" when absent).
std::string cache_status(const Response& response);

}  // namespace berth::bench
