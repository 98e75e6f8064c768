#pragma once
// The management API (/mgmt/v1/) as a route table over registry::Tenants. The contract is
// docs/management-api.md; the OpenAPI 3 document served at /mgmt/v1/openapi.json describes
// every route of the table (a test keeps the two in sync).
//
// Every route except openapi.json needs authentication, and the pipeline's authorization stage
// checks the route's action before the handler runs (pipeline.h): action::kAdmin (the
// deployment administrator) for the registries themselves, identities and role assignments;
// action::kRegistryRead / kRegistryWrite (the caller's management role on the route's
// {registry}) for a registry's access resources (management_access.cc).

#include <string_view>
#include <vector>

#include "api/blocking_pool.h"
#include "api/pipeline.h"
#include "auth/authenticator.h"
#include "http/router.h"
#include "events/event_service.h"
#include "registry/access_control.h"
#include "registry/garbage_collector.h"
#include "registry/registry_services.h"
#include "registry/tenants.h"
#include "upstream/importer.h"
#include "upstream/upstream_service.h"

namespace berth::tasks {
class TaskService;
}  // namespace berth::tasks

namespace berth::api {

// Wire strings of the management API.
namespace mgmt {
inline constexpr std::string_view kPrefix = "/mgmt/v1/";
// The action of routes that need the administrator token; "" needs nothing.
inline constexpr std::string_view kAdminAction = action::kAdmin;

namespace code {
inline constexpr std::string_view kInvalidName = "InvalidName";
inline constexpr std::string_view kInvalidTier = "InvalidTier";
inline constexpr std::string_view kInvalidRequest = "InvalidRequest";
inline constexpr std::string_view kUnauthorized = "Unauthorized";
inline constexpr std::string_view kForbidden = "Forbidden";
inline constexpr std::string_view kTooManyRequests = "TooManyRequests";
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
// A changeable attribute (lock) of the item forbids the operation; the message names it.
inline constexpr std::string_view kLocked = "Locked";
// A storage quota forbids the push; the message names the quota and the usage.
inline constexpr std::string_view kQuotaExceeded = "QuotaExceeded";
// Access control (management_access.cc).
inline constexpr std::string_view kScopeMapNotFound = "ScopeMapNotFound";
inline constexpr std::string_view kTokenNotFound = "TokenNotFound";
inline constexpr std::string_view kIdentityNotFound = "IdentityNotFound";
inline constexpr std::string_view kRoleAssignmentNotFound = "RoleAssignmentNotFound";
inline constexpr std::string_view kNetworkRuleNotFound = "NetworkRuleNotFound";
inline constexpr std::string_view kScopeMapInUse = "ScopeMapInUse";
inline constexpr std::string_view kScopeMapReadOnly = "ScopeMapReadOnly";
inline constexpr std::string_view kAdminUserDisabled = "AdminUserDisabled";
inline constexpr std::string_view kConflict = "Conflict";
// Events (management_events.cc).
inline constexpr std::string_view kWebhookNotFound = "WebhookNotFound";
inline constexpr std::string_view kEventNotFound = "EventNotFound";
// Runs and sources (management_tasks.cc).
inline constexpr std::string_view kDigestMismatch = "DigestMismatch";
inline constexpr std::string_view kPayloadTooLarge = "PayloadTooLarge";
inline constexpr std::string_view kStorageFull = "StorageFull";
}  // namespace code
}  // namespace mgmt

// What the management handlers work on; must outlive the routes.
struct ManagementContext {
  registry::Tenants& tenants;
  registry::AccessControl& access;
  // Registries' content: the management API's content routes take the same path as /v2/.
  const registry::RegistryServices& registries;
  // Webhooks and the audit log of repository events (management_events.cc).
  events::EventService& events;
  // The token service's keys (rotation); null where no token service runs (route-table tests).
  auth::SigningKeys* signing_keys = nullptr;
  // Garbage collection (management_gc.cc); null where none runs: its routes answer 503.
  registry::GarbageCollector* gc = nullptr;
  // Content lifecycle (management_lifecycle.cc): policies, quotas, purge schedules, and the
  // repositories purge walks; null where there is none: its routes answer 503.
  metadata::LifecycleStore* lifecycle = nullptr;
  metadata::GcStore* gc_store = nullptr;
  // Credential sets, cache rules and imports (management_upstream.cc); null where there are
  // none: their routes answer 503.
  upstream::UpstreamService* upstream = nullptr;
  upstream::ImportService* imports = nullptr;
  // What a principal may do in another registry than the route's (an import's source).
  auth::Authenticator* authenticator = nullptr;
  // Build sources and runs (management_tasks.cc); null where there are none: their routes
  // answer 503.
  tasks::TaskService* tasks = nullptr;
};

// The /mgmt/v1 routes, for Pipeline::add with management_family(); access_management_routes()
// included. `context` must outlive the routes.
std::vector<RouteRow> management_routes(ManagementContext& context);

// The events part of /mgmt/v1 (webhooks, the audit log of repository events); defined in
// management_events.cc.
std::vector<RouteRow> event_management_routes(ManagementContext& context);

// The garbage-collection part of /mgmt/v1 (runs, progress); defined in management_gc.cc.
std::vector<RouteRow> gc_management_routes(ManagementContext& context);

// The content-lifecycle part of /mgmt/v1 (soft delete, retention, quotas, restore, purge);
// defined in management_lifecycle.cc.
std::vector<RouteRow> lifecycle_management_routes(ManagementContext& context);

// The upstream part of /mgmt/v1 (credential sets, cache rules, imports); defined in
// management_upstream.cc.
std::vector<RouteRow> upstream_management_routes(ManagementContext& context);

// The runs part of /mgmt/v1 (build sources, runs and their logs); defined in
// management_tasks.cc.
std::vector<RouteRow> task_management_routes(ManagementContext& context);

// The access-control part of /mgmt/v1 (admin credentials, scope maps, tokens, identities, role
// assignments, network rules, login audit); defined in management_access.cc.
std::vector<RouteRow> access_management_routes(ManagementContext& context);

// /mgmt/v1/: no registry to resolve (the access log names the path's), errors in the
// management envelope, and the handlers' database and disk work on `blocking` (null: inline).
RouteFamily management_family(BlockingPool* blocking);

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
