#pragma once
// The hosted service's repository API (/acr/v1) as a route table over registry::Registry:
// repository, tag and manifest metadata, their changeable attributes, ordered listings.
// Served in the data plane's family (distribution_family()); docs/acr-api.md.

#include <vector>

#include "api/distribution.h"
#include "api/pipeline.h"

namespace berth::api {

// Every /acr/v1 route, for Pipeline::add with distribution_family(). `plane` and what it
// refers to must outlive the routes.
std::vector<RouteRow> acr_routes(DataPlane& plane);

}  // namespace berth::api
