// The request pipeline: authorization comes from the route table's action column alone, every
// route names an action the authorizer knows, an unknown action is refused, and the decisions
// follow what the caller may do (the whole matrix over real credentials is authorization_test).

#include "api/pipeline.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <algorithm>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>

#include "api/api_test_support.h"
#include "support/route_tables.h"
#include "api/distribution.h"
#include "api/management.h"
#include "auth/admin_credential.h"
#include "http/router.h"
#include "metadata/sqlite_metadata_store.h"
#include "metrics/metrics.h"
#include "registry/registry_services.h"
#include "registry/tenant_resolver.h"
#include "registry/tenants.h"
#include "storage/blob_storage.h"
#include "storage/memory_byte_store.h"

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

auth::Caller caller_of(auth::Principal::Kind kind, std::string pattern = {},
                       auth::Permissions permissions = {}) {
  auth::Caller caller;
  caller.principal.kind = kind;
  if (!pattern.empty()) caller.grant.add(std::move(pattern), permissions);
  return caller;
}

TEST(Authorizer, RepositoryActionsNeedTheirPermissionOnThatRepository) {
  using api::Verdict;
  using auth::Permission;
  auto token = caller_of(auth::Principal::Kind::token, "team/*",
                         auth::Permissions(Permission::pull) | Permission::push);
  EXPECT_EQ(api::authorize({api::action::kPull, "team/app", token}), Verdict::allowed);
  EXPECT_EQ(api::authorize({api::action::kPush, "team/app", token}), Verdict::allowed);
  EXPECT_EQ(api::authorize({api::action::kDelete, "team/app", token}), Verdict::denied);
  EXPECT_EQ(api::authorize({api::action::kPull, "other/app", token}), Verdict::denied);
  EXPECT_EQ(api::authorize({api::action::kPull, "team", token}), Verdict::denied);
}

TEST(Authorizer, AnonymousCallersAreAskedToAuthenticate) {
  using api::Verdict;
  auto anonymous = caller_of(auth::Principal::Kind::anonymous);
  for (auto action : {api::action::kBase, api::action::kPull, api::action::kPush,
                      api::action::kDelete, api::action::kCatalog, api::action::kAdmin,
                      api::action::kRegistryRead}) {
    EXPECT_EQ(api::authorize({action, "app", anonymous}), Verdict::needs_authentication) << action;
  }
  for (auto action : {api::action::kOpen, api::action::kToken}) {
    EXPECT_EQ(api::authorize({action, "", anonymous}), Verdict::allowed) << action;
  }
  // Anonymous pull: the registry grants pull to anonymous callers, nothing else.
  auto anonymous_pull = caller_of(auth::Principal::Kind::anonymous, "*",
                                  auth::Permission::pull);
  EXPECT_EQ(api::authorize({api::action::kPull, "app", anonymous_pull}), Verdict::allowed);
  EXPECT_EQ(api::authorize({api::action::kPush, "app", anonymous_pull}),
            Verdict::needs_authentication);
}

TEST(Authorizer, ATokenLackingAScopeItsPrincipalHoldsIsAskedForANewToken) {
  using api::Verdict;
  auto caller = caller_of(auth::Principal::Kind::identity, "app", auth::Permission::pull);
  caller.from_token = true;
  api::AuthorizationInput input{api::action::kPush, "app", caller};
  EXPECT_EQ(api::authorize(input), Verdict::denied);
  input.principal_has_it = true;
  EXPECT_EQ(api::authorize(input), Verdict::insufficient_scope);
  // Basic credentials carry the principal's whole grant: nothing more to ask for.
  caller.from_token = false;
  EXPECT_EQ(api::authorize(input), Verdict::denied);
}

TEST(Authorizer, ManagementNeedsTheRoleOrTheDeploymentAdministrator) {
  using api::Verdict;
  using auth::ManagementLevel;
  auto admin = caller_of(auth::Principal::Kind::deployment_admin);
  auto user = caller_of(auth::Principal::Kind::identity);
  EXPECT_EQ(api::authorize({api::action::kAdmin, "", admin}), Verdict::allowed);
  EXPECT_EQ(api::authorize({api::action::kAdmin, "", user}), Verdict::denied);
  EXPECT_EQ(api::authorize({api::action::kRegistryOwn, "", admin}), Verdict::allowed);
  EXPECT_EQ(api::authorize({api::action::kRegistryRead, "", user, ManagementLevel::reader}),
            Verdict::allowed);
  EXPECT_EQ(api::authorize({api::action::kRegistryWrite, "", user, ManagementLevel::reader}),
            Verdict::denied);
  EXPECT_EQ(api::authorize({api::action::kRegistryWrite, "", user, ManagementLevel::contributor}),
            Verdict::allowed);
  EXPECT_EQ(api::authorize({api::action::kRegistryOwn, "", user, ManagementLevel::contributor}),
            Verdict::denied);
  EXPECT_EQ(api::authorize({api::action::kRegistryOwn, "", user, ManagementLevel::owner}),
            Verdict::allowed);
}

TEST(Authorizer, MetricsAreForLoopbackClientsAndTheHoldersOfTheMetricsToken) {
  using api::Verdict;
  // Whoever the caller is: the deployment administrator gets no exception.
  for (auto kind : {auth::Principal::Kind::anonymous, auth::Principal::Kind::deployment_admin}) {
    auto caller = caller_of(kind);
    api::AuthorizationInput input{api::action::kMetrics, "", caller};
    EXPECT_EQ(api::authorize(input), Verdict::denied);  // no token configured: nothing to try
    input.loopback_client = true;
    EXPECT_EQ(api::authorize(input), Verdict::allowed);
    input.loopback_client = false;
    input.metrics_token_configured = true;
    EXPECT_EQ(api::authorize(input), Verdict::needs_authentication);
    input.metrics_token_presented = true;
    EXPECT_EQ(api::authorize(input), Verdict::allowed);
  }
}

TEST(Authorizer, AnUnknownActionIsRefusedWhoeverAsks) {
  EXPECT_FALSE(api::known_action("frobnicate"));
  auto admin = caller_of(auth::Principal::Kind::deployment_admin);
  EXPECT_EQ(api::authorize({"frobnicate", "", admin}), api::Verdict::unknown_action);
  auto anonymous = caller_of(auth::Principal::Kind::anonymous);
  EXPECT_EQ(api::authorize({"frobnicate", "", anonymous}), api::Verdict::unknown_action);
}

TEST(Pipeline, EveryRouteNamesAnActionTheAuthorizerKnows) {
  AllRoutes all;
  ASSERT_FALSE(all.router().routes().empty());
  for (const auto& route : all.router().routes()) {
    EXPECT_TRUE(api::known_action(route.action)) << route.name << " names '" << route.action << "'";
    if (is_management(route) && !route.action.empty()) {
      EXPECT_TRUE(route.action == api::action::kAdmin ||
                  route.action.starts_with("registry."))
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
  EXPECT_EQ(seen.caller.principal.kind, auth::Principal::Kind::deployment_admin);
  ASSERT_TRUE(seen.registry.has_value());
  EXPECT_EQ(seen.registry->id, metadata::kDefaultRegistryId);
  EXPECT_EQ(seen.registry->name, std::string(metadata::kDefaultRegistryName));
}

// A request body of `remaining` bytes, handed out in small reads.
class FixedBody final : public http::BodyReader {
 public:
  explicit FixedBody(std::size_t size) : remaining_(size), size_(size) {}
  asio::awaitable<Result<std::size_t, http::HttpError>> read_some(
      std::span<std::byte> buffer) override {
    std::size_t n = std::min({remaining_, buffer.size(), std::size_t{1000}});
    remaining_ -= n;
    co_return n;
  }
  std::optional<std::uint64_t> content_length() const override { return size_; }

 private:
  std::size_t remaining_;
  std::size_t size_;
};

double sample_of(const std::string& text, const std::string& series) {
  auto at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + series.size() + 2));
}

TEST(Pipeline, RecordsTheBodyTheHandlerReadAndAThrowAsA500) {
  metrics::Metrics metrics;
  AllRoutes all(&metrics);
  api::RouteRow row{
      "PUT", "/v2/", "test.throws", std::string(api::action::kPush),
      [](api::RequestContext&, http::Request& request) -> asio::awaitable<http::Response> {
        auto body = co_await http::read_body(*request.body, 1 << 20);
        if (!body || body->size() != 4500) throw std::logic_error("the body did not arrive whole");
        throw std::runtime_error("the handler failed");
      }};
  http::Route route = all.pipeline().wrap(api::distribution_family(nullptr), row);
  FixedBody body(4500);
  http::Request request;
  request.method = "PUT";
  request.path = "/v2/";
  request.remote_address = "192.0.2.7";
  request.body = &body;
  request.headers.add("Authorization", "Bearer pipeline-test-token-0123");
  EXPECT_THROW(call(route, request), std::runtime_error);
  EXPECT_EQ(request.body, &body);  // the server's reader is back in place
  std::string text = metrics.scrape();
  const std::string count = "berth_http_request_duration_seconds_count";
  EXPECT_EQ(sample_of(text, count + R"({route="test.throws",status_class="5xx"})"), 1) << text;
  EXPECT_EQ(sample_of(text, R"(berth_http_received_bytes_total{registry="default"})"), 4500);
  EXPECT_EQ(sample_of(text, R"(berth_http_sent_bytes_total{registry="default"})"), 0);
}

TEST(Pipeline, ARefusedManifestPutCountsAsAPushThatFailed) {
  metrics::Metrics metrics;
  AllRoutes all(&metrics);
  for (const auto& route : all.router().routes()) {
    if (route.name != "manifest.put") continue;
    http::Request request;
    request.method = "PUT";
    request.path = "/v2/team/app/manifests/v1";
    request.params = {{"name", "team/app"}, {"reference", "v1"}};
    http::Response response = call(route, request);  // anonymous: the challenge
    EXPECT_EQ(response.status, 401u);
  }
  std::string text = metrics.scrape();
  EXPECT_EQ(sample_of(text, R"(berth_pushes_total{registry="default"})"), 1) << text;
  EXPECT_EQ(sample_of(text, R"(berth_successful_pushes_total{registry="default"})"), 0);
  const std::string count = "berth_http_request_duration_seconds_count";
  EXPECT_EQ(sample_of(text, count + R"({route="manifest.put",status_class="4xx"})"), 1);
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
  EXPECT_GE(refused, 16u);
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

TEST_F(DataPlaneAccess, EveryDataPlaneRouteChallengesAnonymousCallers) {
  AllRoutes all;
  std::size_t checked = 0;
  for (const auto& route : all.router().routes()) {
    if (is_management(route) || !route.pattern.starts_with("/v2/")) continue;
    ++checked;
    auto r = client().request(route.method, concrete_v2(route.pattern), {},
                              {"Authorization:"});  // no credentials at all
    EXPECT_EQ(r.status, 401) << route.name << ": " << r.body;
    EXPECT_TRUE(r.header("www-authenticate").starts_with("Bearer realm=\"http://127.0.0.1:"))
        << route.name << ": " << r.header("www-authenticate");
    EXPECT_NE(r.header("www-authenticate").find("/oauth2/token\",service=\"default."),
              std::string::npos)
        << route.name;
  }
  EXPECT_GT(checked, 10u);
}

}  // namespace
}  // namespace berth::testing
