#pragma once
// The token service Docker/OCI clients use (/oauth2/): it turns credentials into short-lived
// access tokens (JWTs carrying only the granted subset of the requested scopes) and longer-lived
// refresh tokens.
//
//   GET  /oauth2/token?service=&scope=...   Basic credentials, or none (anonymous)
//   POST /oauth2/token     grant_type=refresh_token | password (form-encoded)
//   POST /oauth2/exchange  grant_type=password | access_token -> {"refresh_token"}
//
// The registry is the one the request addresses (Host or listener), as on /v2/.

#include <vector>

#include "api/blocking_pool.h"
#include "api/pipeline.h"

namespace berth::api {

// Every /oauth2/ route. `pipeline` (its authenticator, audit and login throttle) must outlive
// the routes.
std::vector<RouteRow> oauth2_routes(const Pipeline& pipeline);

// /oauth2/: the registry resolved as on /v2/, OCI error envelopes, work on `blocking`.
RouteFamily oauth2_family(BlockingPool* blocking);

}  // namespace berth::api
