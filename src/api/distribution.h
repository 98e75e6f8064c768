#pragma once
// The OCI distribution API (/v2/) as a route table over registry::Registry.

#include <string>
#include <vector>

#include "api/blocking_pool.h"
#include "api/pipeline.h"
#include "http/router.h"
#include "registry/registry_services.h"
#include "upstream/pull_through.h"

namespace berth::api {

// What the /v2/ handlers work on: the factory of the resolved registry's content service.
// (The pipeline resolves the registry and decides where blocking work runs.)
struct DataPlane {
  const registry::RegistryServices& registries;
  // The pull-through cache of the repositories cache rules cover; null: no cache. Its upstream
  // waits run on `upstream_pool` (a pool of their own, so slow upstreams never hold the
  // threads local work runs on); null runs them where local work runs.
  upstream::PullThroughCache* cache = nullptr;
  BlockingPool* upstream_pool = nullptr;
};

// Every /v2/ route, for Pipeline::add with distribution_family(). `plane` and what it refers to
// must outlive the routes.
std::vector<RouteRow> distribution_routes(DataPlane& plane);

// /v2/: the registry comes from the listener or the Host, errors are OCI envelopes, and the
// handlers' disk and database work runs on `blocking` (null: inline, for tests without threads).
RouteFamily distribution_family(BlockingPool* blocking);

// The repositories the caller may read (catalog listings of /v2/ and /acr/v1), a page at a
// time: pages of the registry's listing are filtered until `limit` readable names are found or
// the listing ends.
registry::Result<registry::Registry::Page> readable_repositories(registry::Registry& registry,
                                                                 const RequestContext& context,
                                                                 std::string last,
                                                                 std::size_t limit);

// Routes outside both APIs (/healthz): no registry, OCI envelopes, work on the event loop.
RouteFamily service_family();

// The answer for paths no route matches (404) or methods a path does not take (405).
http::Response not_routed(const http::Request& request, bool method_not_allowed);

}  // namespace berth::api
