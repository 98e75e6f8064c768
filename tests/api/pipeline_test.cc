// The request pipeline: authorization comes from the route table's action column alone, every
// route names an action the authorizer knows, an unknown action is refused, and today's policy
// holds (management needs the administrator token, the data plane is open to anonymous callers).

#include "api/pipeline.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <memory>
#include <stdexcept>
#include <string>

#include "api/api_test_support.h"
#include "support/route_tables.h"
#include "api/distribution.h"
#include "api/management.h"
#include "auth/admin_credential.h"
#include "http/router.h"
#include "metadata/sqlite_metadata_store.h"
#include "registry/registry_services.h"
#include "registry/tenant_resolver.h"
#include "registry/tenants.h"
#include "storage/memory_blob_storage.h"

namespace berth::testing {
namespace {

namespace asio = boost::asio;

// Runs one route's handler (the whole pipeline) to completion on a private event loop.
http::Response call(const http::Route& route, http::Request& request) {
  asio::io_context loop;
  auto answer = asio::co_spawn(loop, route.handler(request), asio::use_future);
  loop.run();
  return answer.get();
}

TEST(Authorizer, TodaysPolicy) {
  using api::Verdict;
  auto anonymous = api::Identity::anonymous();
  auto admin = api::Identity::deployment_admin();
  for (auto action : {api::action::kOpen, api::action::kPull, api::action::kPush,
                      api::action::kDelete, api::action::kCatalog}) {
    EXPECT_EQ(api::authorize(action, anonymous), Verdict::allowed) << action;
    EXPECT_EQ(api::authorize(action, admin), Verdict::allowed) << action;
  }
  // The registry management roles: only the deployment administrator holds them until
  // identities authenticate.
  for (auto action : {api::action::kAdmin, api::action::kRegistryRead,
                      api::action::kRegistryWrite, api::action::kRegistryOwn}) {
    EXPECT_EQ(api::authorize(action, anonymous), Verdict::needs_authentication) << action;
    EXPECT_EQ(api::authorize(action, admin), Verdict::allowed) << action;
  }
}

TEST(Authorizer, AnUnknownActionIsRefusedWhoeverAsks) {
  EXPECT_FALSE(api::known_action("frobnicate"));
  EXPECT_EQ(api::authorize("frobnicate", api::Identity::anonymous()), api::Verdict::unknown_action);
  EXPECT_EQ(api::authorize("frobnicate", api::Identity::deployment_admin()),
            api::Verdict::unknown_action);
}

TEST(Pipeline, EveryRouteNamesAnActionTheAuthorizerKnows) {
  AllRoutes all;
  ASSERT_FALSE(all.router().routes().empty());
  for (const auto& route : all.router().routes()) {
    EXPECT_TRUE(api::known_action(route.action)) << route.name << " names '" << route.action << "'";
    if (is_management(route) && !route.action.empty()) {
      EXPECT_TRUE(route.action == api::action::kAdmin ||
                  route.action == api::action::kRegistryRead ||
                  route.action == api::action::kRegistryWrite)
          << route.name;
    }
  }
}

TEST(Pipeline, ARouteWithAnUnknownActionIsRefusedBeforeItsHandler) {
  AllRoutes all;
  bool handler_ran = false;
  api::RouteRow row{
      "GET", "/v2/", "test.unknown", "frobnicate",
      [&handler_ran](api::RequestContext&, http::Request&) -> asio::awaitable<http::Response> {
        handler_ran = true;
        co_return http::Response{};
      }};
  for (const auto& family : {api::service_family(), api::management_family(nullptr)}) {
    handler_ran = false;
    http::Route route = all.pipeline().wrap(family, row);
    http::Request request;
    request.method = "GET";
    request.path = "/v2/";
    request.headers.add("Authorization", "Bearer pipeline-test-token-0123");
    http::Response response = call(route, request);
    EXPECT_EQ(response.status, 500u) << family.name;
    EXPECT_FALSE(handler_ran) << family.name;
  }
}

TEST(Pipeline, TheHandlerSeesTheContextTheStagesBuilt) {
  AllRoutes all;
  api::RequestContext seen;
  api::RouteRow row{
      "GET", "/v2/", "test.context", std::string(api::action::kPull),
      [&seen](api::RequestContext& context, http::Request&) -> asio::awaitable<http::Response> {
        seen = context;
        co_return http::Response{};
      }};
  http::Route route = all.pipeline().wrap(api::distribution_family(nullptr), row);
  http::Request request;
  request.method = "GET";
  request.path = "/v2/";
  request.request_id = "req-1";
  request.remote_address = "192.0.2.7";
  request.headers.add("Authorization", "Bearer pipeline-test-token-0123");
  EXPECT_EQ(call(route, request).status, 200u);
  EXPECT_EQ(seen.request_id, "req-1");
  EXPECT_EQ(seen.route_name, "test.context");
  EXPECT_EQ(seen.client_address, "192.0.2.7");
  EXPECT_EQ(seen.identity.kind, api::Identity::Kind::deployment_admin);
  ASSERT_TRUE(seen.registry.has_value());
  EXPECT_EQ(seen.registry->id, metadata::kDefaultRegistryId);
  EXPECT_EQ(seen.registry->name, std::string(metadata::kDefaultRegistryName));
}

TEST(Pipeline, EveryManagementRouteRefusesAnonymousCallersBeforeItsHandler) {
  AllRoutes all;
  std::size_t refused = 0;
  for (const auto& route : all.router().routes()) {
    if (!is_management(route) || route.action.empty()) continue;
    ++refused;
    http::Request request;
    request.method = route.method;
    request.path = route.pattern;
    // No body reader: a handler that ran would crash reading one.
    http::Response response = call(route, request);
    EXPECT_EQ(response.status, 401u) << route.name;
    EXPECT_EQ(response.headers.get("WWW-Authenticate").value_or(""),
              "Bearer realm=\"berth-management\"")
        << route.name;
  }
  EXPECT_EQ(refused, 16u + 24u);  // the registries' and access control's
}

// A concrete path for a /v2/ route pattern.
std::string concrete_v2(std::string pattern) {
  const std::pair<std::string, std::string> values[] = {
      {"{name+}", "team/app"},
      {"{digest}", "sha256:" + std::string(64, 'a')},
      {"{reference}", "v1"},
      {"{uuid}", "no-such-upload"},
  };
  for (const auto& [param, value] : values) {
    for (auto at = pattern.find(param); at != std::string::npos; at = pattern.find(param)) {
      pattern.replace(at, param.size(), value);
    }
  }
  return pattern;
}

using DataPlaneAccess = ApiTest;

TEST_F(DataPlaneAccess, EveryDataPlaneRouteIsReachableAnonymously) {
  AllRoutes all;
  std::size_t checked = 0;
  for (const auto& route : all.router().routes()) {
    if (is_management(route)) continue;
    ++checked;
    auto r = client().request(route.method, concrete_v2(route.pattern));
    EXPECT_NE(r.status, 401) << route.name << ": " << r.body;
    EXPECT_NE(r.status, 403) << route.name << ": " << r.body;
    EXPECT_NE(r.status, 500) << route.name << ": " << r.body;
  }
  EXPECT_GT(checked, 10u);
}

}  // namespace
}  // namespace berth::testing
