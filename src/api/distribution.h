#pragma once
// The OCI distribution API (/v2/) as a route table over registry::Registry.

#include "http/router.h"
#include "registry/registry.h"

namespace berth::api {

// Adds every /v2/ route. `registry` must outlive the router.
void add_distribution_routes(http::Router& router, registry::Registry& registry);

// The answer for paths no route matches (404) or methods a path does not take (405).
http::Response not_routed(const http::Request& request, bool method_not_allowed);

}  // namespace berth::api
