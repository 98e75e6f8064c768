#pragma once
// The management API (/mgmt/v1/) as a route table over registry::Tenants. The contract is
// docs/management-api.md; the OpenAPI 3 document served at /mgmt/v1/openapi.json describes
// every route of the table (a test keeps the two in sync).
//
// Every route except openapi.json needs the deployment administrator token
// (`Authorization: Bearer <token>`); the route's action says so, and management_routes()
// puts the check in front of each handler whose action asks for it.

#include <string_view>
#include <vector>

#include "auth/admin_credential.h"
#include "http/router.h"
#include "registry/tenants.h"

namespace berth::api {

// Wire strings of the management API.
namespace mgmt {
inline constexpr std::string_view kPrefix = "/mgmt/v1/";
// The action of routes that need the administrator token; "" needs nothing.
inline constexpr std::string_view kAdminAction = "admin";

namespace code {
inline constexpr std::string_view kInvalidName = "InvalidName";
inline constexpr std::string_view kInvalidTier = "InvalidTier";
inline constexpr std::string_view kInvalidRequest = "InvalidRequest";
inline constexpr std::string_view kUnauthorized = "Unauthorized";
inline constexpr std::string_view kRegistryNotFound = "RegistryNotFound";
inline constexpr std::string_view kRepositoryNotFound = "RepositoryNotFound";
inline constexpr std::string_view kTagNotFound = "TagNotFound";
inline constexpr std::string_view kManifestNotFound = "ManifestNotFound";
inline constexpr std::string_view kNotFound = "NotFound";
inline constexpr std::string_view kMethodNotAllowed = "MethodNotAllowed";
inline constexpr std::string_view kRegistryNameTaken = "RegistryNameTaken";
inline constexpr std::string_view kTierDowngradeBlocked = "TierDowngradeBlocked";
inline constexpr std::string_view kLimitExceeded = "LimitExceeded";
inline constexpr std::string_view kRegistryProtected = "RegistryProtected";
inline constexpr std::string_view kInternalError = "InternalError";
}  // namespace code
}  // namespace mgmt

// What the management handlers work on. Both must outlive the routes.
struct ManagementContext {
  registry::Tenants& tenants;
  const auth::AdminCredential& admin;
};

// The /mgmt/v1 routes, each already behind the check its action asks for. `context` must
// outlive the routes.
std::vector<http::Route> management_routes(ManagementContext& context);

// Adds management_routes() to `router`.
void add_management_routes(http::Router& router, ManagementContext& context);

// Whether `path` belongs to the management API (so the fallback answers in its envelope).
bool is_management_path(std::string_view path);

// 404 NotFound / 405 MethodNotAllowed in the management error envelope.
http::Response management_not_routed(const http::Request& request, bool method_not_allowed);

// The one writer of the management error envelope {"error":{"code","message","target"}}.
http::Response management_error(unsigned status, std::string_view code, std::string_view message,
                                std::string_view target = {});

// The OpenAPI 3 document of the management API (JSON).
std::string_view management_openapi_document();

}  // namespace berth::api
