#include "cli/management_client.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "fake_transport.h"

namespace berth::cli {
namespace {
namespace json = boost::json;
using testing::FakeTransport;

const std::string kDigest = "sha256:" + std::string(64, 'b');

class ManagementClientTest : public ::testing::Test {
 protected:
  FakeTransport transport;
  ManagementClient client{transport, {"http://srv:5000", "tok"}};

  const HttpRequest& only_request() {
    EXPECT_EQ(transport.requests.size(), 1u);
    return transport.requests.back();
  }
};

TEST_F(ManagementClientTest, SendsBearerTokenAndAcceptJson) {
  transport.answer(200, R"({"registries":[]})");
  auto answer = client.list_registries();
  ASSERT_TRUE(answer);
  EXPECT_EQ(*answer, json::parse(R"({"registries":[]})"));
  const auto& request = only_request();
  EXPECT_EQ(request.method, "GET");
  EXPECT_EQ(request.url, "http://srv:5000/mgmt/v1/registries");
  EXPECT_EQ(FakeTransport::header(request, "Authorization"), "Bearer tok");
  EXPECT_EQ(FakeTransport::header(request, "Accept"), "application/json");
  EXPECT_EQ(request.body, "");
}

TEST_F(ManagementClientTest, CreatePostsJsonBody) {
  transport.answer(201, R"({"name":"abcde"})");
  ASSERT_TRUE(client.create_registry(json::object{{"name", "abcde"}, {"tier", "Basic"}}));
  const auto& request = only_request();
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.url, "http://srv:5000/mgmt/v1/registries");
  EXPECT_EQ(FakeTransport::header(request, "Content-Type"), "application/json");
  EXPECT_EQ(json::parse(request.body), json::parse(R"({"name":"abcde","tier":"Basic"})"));
}

TEST_F(ManagementClientTest, EveryRouteHasItsMethodAndPath) {
  struct Case {
    std::function<Result<json::value>()> call;
    const char* method;
    std::string path;
  };
  const std::string repo = "/mgmt/v1/registries/abcde/repositories/team/app";
  std::vector<Case> cases = {
      {[&] { return client.get_registry("abcde"); }, "GET", "/mgmt/v1/registries/abcde"},
      {[&] {
         return client.update_registry("abcde", {{"tier", "Premium"}});
       },
       "PATCH", "/mgmt/v1/registries/abcde"},
      {[&] { return client.delete_registry("abcde"); }, "DELETE", "/mgmt/v1/registries/abcde"},
      {[&] { return client.registry_usage("abcde"); }, "GET", "/mgmt/v1/registries/abcde/usage"},
      {[&] { return client.registry_health("abcde"); }, "GET", "/mgmt/v1/registries/abcde/health"},
      {[&] { return client.list_repositories("abcde"); }, "GET",
       "/mgmt/v1/registries/abcde/repositories"},
      {[&] { return client.get_repository("abcde", "team/app"); }, "GET", repo},
      {[&] { return client.delete_repository("abcde", "team/app"); }, "DELETE", repo},
      {[&] { return client.list_tags("abcde", "team/app"); }, "GET", repo + "/tags"},
      {[&] { return client.delete_tag("abcde", "team/app", "v1.0"); }, "DELETE",
       repo + "/tags/v1.0"},
      {[&] { return client.list_manifests("abcde", "team/app"); }, "GET", repo + "/manifests"},
      {[&] { return client.get_manifest("abcde", "team/app", kDigest); }, "GET",
       repo + "/manifests/" + kDigest},
      {[&] { return client.delete_manifest("abcde", "team/app", kDigest); }, "DELETE",
       repo + "/manifests/" + kDigest},
  };
  for (const auto& c : cases) {
    transport.answer(200, "{}");
    ASSERT_TRUE(c.call()) << c.path;
    EXPECT_EQ(transport.requests.back().method, c.method) << c.path;
    EXPECT_EQ(transport.requests.back().url, "http://srv:5000" + c.path);
  }
}

TEST_F(ManagementClientTest, EveryAccessControlRouteHasItsMethodPathAndBody) {
  struct Case {
    std::function<Result<json::value>()> call;
    const char* method;
    std::string path;
    std::string body;  // "" when none is sent
  };
  const std::string r = "/mgmt/v1/registries/abcde";
  const json::object patch{{"status", "disabled"}};
  std::vector<Case> cases = {
      {[&] { return client.get_credentials("abcde"); }, "GET", r + "/credentials", ""},
      {[&] { return client.renew_credential("abcde", "password2"); }, "POST",
       r + "/credentials/renew", R"({"passwordName":"password2"})"},
      {[&] { return client.list_scope_maps("abcde"); }, "GET", r + "/scope-maps", ""},
      {[&] { return client.get_scope_map("abcde", "_repositories_pull"); }, "GET",
       r + "/scope-maps/_repositories_pull", ""},
      {[&] { return client.create_scope_map("abcde", {{"name", "mymap"}}); }, "POST",
       r + "/scope-maps", R"({"name":"mymap"})"},
      {[&] { return client.update_scope_map("abcde", "mymap", patch); }, "PATCH",
       r + "/scope-maps/mymap", R"({"status":"disabled"})"},
      {[&] { return client.delete_scope_map("abcde", "mymap"); }, "DELETE", r + "/scope-maps/mymap",
       ""},
      {[&] { return client.list_tokens("abcde"); }, "GET", r + "/tokens", ""},
      {[&] { return client.get_token("abcde", "ci-token"); }, "GET", r + "/tokens/ci-token", ""},
      {[&] { return client.create_token("abcde", {{"name", "ci-token"}}); }, "POST", r + "/tokens",
       R"({"name":"ci-token"})"},
      {[&] { return client.update_token("abcde", "ci-token", patch); }, "PATCH",
       r + "/tokens/ci-token", R"({"status":"disabled"})"},
      {[&] { return client.delete_token("abcde", "ci-token"); }, "DELETE", r + "/tokens/ci-token",
       ""},
      {[&] { return client.generate_token_credentials("abcde", "ci-token", {}); }, "POST",
       r + "/tokens/ci-token/credentials/generate", "{}"},
      {[&] { return client.list_identities(); }, "GET", "/mgmt/v1/identities", ""},
      {[&] { return client.get_identity("id-1"); }, "GET", "/mgmt/v1/identities/id-1", ""},
      {[&] { return client.create_identity({{"name", "bob"}}); }, "POST", "/mgmt/v1/identities",
       R"({"name":"bob"})"},
      {[&] { return client.delete_identity("id-1"); }, "DELETE", "/mgmt/v1/identities/id-1", ""},
      {[&] { return client.list_role_assignments("", ""); }, "GET", "/mgmt/v1/role-assignments",
       ""},
      {[&] { return client.list_role_assignments("abcde", "id 1"); }, "GET",
       "/mgmt/v1/role-assignments?registry=abcde&assignee=id%201", ""},
      {[&] { return client.list_role_assignments("", "id-1"); }, "GET",
       "/mgmt/v1/role-assignments?assignee=id-1", ""},
      {[&] { return client.create_role_assignment({{"role", "AcrPull"}}); }, "POST",
       "/mgmt/v1/role-assignments", R"({"role":"AcrPull"})"},
      {[&] { return client.delete_role_assignment("ra-1"); }, "DELETE",
       "/mgmt/v1/role-assignments/ra-1", ""},
      {[&] { return client.list_network_rules("abcde"); }, "GET", r + "/network-rules", ""},
      {[&] { return client.add_network_rule("abcde", "10.0.0.0/24"); }, "POST",
       r + "/network-rules", R"({"ipAddressOrRange":"10.0.0.0/24"})"},
      {[&] { return client.remove_network_rule("abcde", "10.0.0.0/24"); }, "DELETE",
       r + "/network-rules?ipAddressOrRange=10.0.0.0%2F24", ""},
      {[&] { return client.login_audit("abcde", {{"identity", ""}, {"result", "failure"}}); },
       "GET", r + "/audit/logins?result=failure", ""},
      {[&] { return client.list_webhooks("abcde"); }, "GET", r + "/webhooks", ""},
      {[&] { return client.get_webhook("abcde", "hook1"); }, "GET", r + "/webhooks/hook1", ""},
      {[&] { return client.create_webhook("abcde", {{"name", "hook1"}}); }, "POST",
       r + "/webhooks", R"({"name":"hook1"})"},
      {[&] { return client.update_webhook("abcde", "hook1", patch); }, "PATCH",
       r + "/webhooks/hook1", R"({"status":"disabled"})"},
      {[&] { return client.delete_webhook("abcde", "hook1"); }, "DELETE", r + "/webhooks/hook1",
       ""},
      {[&] { return client.ping_webhook("abcde", "hook1"); }, "POST", r + "/webhooks/hook1/ping",
       ""},
      {[&] { return client.webhook_config("abcde", "hook1"); }, "GET",
       r + "/webhooks/hook1/config", ""},
      {[&] { return client.webhook_deliveries("abcde", "hook1", {{"top", "5"}, {"before", ""}}); },
       "GET", r + "/webhooks/hook1/events?top=5", ""},
      {[&] { return client.redeliver_event("abcde", "hook1", "ev 1"); }, "POST",
       r + "/webhooks/hook1/events/ev%201/redeliver", ""},
      {[&] {
         return client.event_audit("abcde", {{"since", "2026-12-02T06:00:00Z"},
                                             {"repository", "team/app"}});
       },
       "GET", r + "/audit/events?since=2026-12-02T06%3A00%3A00Z&repository=team%2Fapp", ""},
  };
  for (const auto& c : cases) {
    transport.answer(200, "{}");
    ASSERT_TRUE(c.call()) << c.path;
    const auto& request = transport.requests.back();
    EXPECT_EQ(request.method, c.method) << c.path;
    EXPECT_EQ(request.url, "http://srv:5000" + c.path);
    if (c.body.empty()) {
      EXPECT_EQ(request.body, "") << c.path;
    } else {
      EXPECT_EQ(json::parse(request.body), json::parse(c.body)) << c.path;
    }
  }
}

TEST_F(ManagementClientTest, EveryLifecycleRouteHasItsMethodPathAndBody) {
  struct Case {
    std::function<Result<json::value>()> call;
    const char* method;
    std::string path;
    std::string body;  // "" when none is sent
  };
  const std::string r = "/mgmt/v1/registries/abcde";
  const std::string repo = r + "/repositories/team/app";
  const json::object days{{"days", 7}};
  const json::object no_quota{{"quotaBytes", nullptr}};
  std::vector<Case> cases = {
      {[&] { return client.get_soft_delete_policy("abcde"); }, "GET", r + "/policies/soft-delete",
       ""},
      {[&] { return client.update_soft_delete_policy("abcde", days); }, "PATCH",
       r + "/policies/soft-delete", R"({"days":7})"},
      {[&] { return client.get_retention_policy("abcde"); }, "GET", r + "/policies/retention", ""},
      {[&] { return client.update_retention_policy("abcde", days); }, "PATCH",
       r + "/policies/retention", R"({"days":7})"},
      {[&] { return client.get_registry_quota("abcde"); }, "GET", r + "/quota", ""},
      {[&] { return client.update_registry_quota("abcde", no_quota); }, "PATCH", r + "/quota",
       R"({"quotaBytes":null})"},
      {[&] { return client.get_repository_quota("abcde", "team/app"); }, "GET", repo + "/quota",
       ""},
      {[&] { return client.update_repository_quota("abcde", "team/app", no_quota); }, "PATCH",
       repo + "/quota", R"({"quotaBytes":null})"},
      {[&] { return client.list_deleted_repositories("abcde", {{"n", "10"}, {"last", ""}}); },
       "GET", r + "/deleted-repositories?n=10", ""},
      {[&] {
         return client.list_deleted_manifests("abcde", "team/app",
                                              {{"n", "10"}, {"last", "sha256:ab"}});
       },
       "GET", repo + "/deleted-manifests?n=10&last=sha256%3Aab", ""},
      {[&] { return client.list_deleted_tags("abcde", "team/app", {{"tag", "v1"}}); }, "GET",
       repo + "/deleted-tags?tag=v1", ""},
      {[&] { return client.restore("abcde", "team/app", {{"tag", "v1"}}); }, "POST",
       repo + "/restore", R"({"tag":"v1"})"},
      {[&] { return client.purge("abcde", {{"ago", "0"}}); }, "POST", r + "/purge",
       R"({"ago":"0"})"},
      {[&] { return client.list_purge_schedules("abcde"); }, "GET", r + "/purge-schedules", ""},
      {[&] { return client.put_purge_schedule("abcde", "nightly", {{"ago", "1d"}}); }, "PUT",
       r + "/purge-schedules/nightly", R"({"ago":"1d"})"},
      {[&] { return client.delete_purge_schedule("abcde", "nightly"); }, "DELETE",
       r + "/purge-schedules/nightly", ""},
  };
  for (const auto& c : cases) {
    transport.answer(200, "{}");
    ASSERT_TRUE(c.call()) << c.path;
    const auto& request = transport.requests.back();
    EXPECT_EQ(request.method, c.method) << c.path;
    EXPECT_EQ(request.url, "http://srv:5000" + c.path);
    if (c.body.empty()) {
      EXPECT_EQ(request.body, "") << c.path;
    } else {
      EXPECT_EQ(json::parse(request.body), json::parse(c.body)) << c.path;
    }
  }
}

TEST(QueryString, LeavesOutEmptyValuesAndEncodesTheRest) {
  EXPECT_EQ(query_string({}), "");
  EXPECT_EQ(query_string({{"a", ""}, {"b", ""}}), "");
  EXPECT_EQ(query_string({{"a", ""}, {"since", "2026-12-02T06:00:00Z"}, {"q", "a&b=c"}}),
            "?since=2026-12-02T06%3A00%3A00Z&q=a%26b%3Dc");
}

TEST_F(ManagementClientTest, NoContentIsNull) {
  transport.answer(204);
  auto answer = client.delete_registry("abcde");
  ASSERT_TRUE(answer);
  EXPECT_TRUE(answer->is_null());
}

TEST_F(ManagementClientTest, StatusMapsToExitCodeWithServerMessage) {
  struct Case {
    long status;
    ExitCode code;
  };
  for (auto [status, code] :
       {Case{400, ExitCode::kUsage}, Case{401, ExitCode::kAuth}, Case{403, ExitCode::kAuth},
        Case{404, ExitCode::kNotFound}, Case{409, ExitCode::kConflict},
        Case{500, ExitCode::kFailure}, Case{503, ExitCode::kFailure}}) {
    transport.answer(status,
                     R"({"error":{"code":"X","message":"registry 'abcde'\ndoes not exist"}})");
    auto answer = client.get_registry("abcde");
    ASSERT_FALSE(answer) << status;
    EXPECT_EQ(answer.error().code, code) << status;
    EXPECT_EQ(answer.error().message, "registry 'abcde' does not exist") << status;
  }
}

TEST_F(ManagementClientTest, ErrorWithoutEnvelopeNamesTheStatus) {
  transport.answer(502, "<html>bad gateway</html>");
  auto answer = client.get_registry("abcde");
  ASSERT_FALSE(answer);
  EXPECT_EQ(answer.error().code, ExitCode::kFailure);
  EXPECT_EQ(answer.error().message, "server answered HTTP 502");

  transport.answer(401, "");
  auto unauthorized = client.get_registry("abcde");
  ASSERT_FALSE(unauthorized);
  EXPECT_EQ(unauthorized.error().code, ExitCode::kAuth);
  EXPECT_NE(unauthorized.error().message.find("401"), std::string::npos);

  transport.answer(409, R"({"error":{"code":"RegistryNameTaken"}})");
  auto conflict = client.get_registry("abcde");
  ASSERT_FALSE(conflict);
  EXPECT_EQ(conflict.error().message, "server answered 409 RegistryNameTaken");
}

TEST_F(ManagementClientTest, NonJsonSuccessIsAFailure) {
  transport.answer(200, "not json");
  auto answer = client.list_registries();
  ASSERT_FALSE(answer);
  EXPECT_EQ(answer.error().code, ExitCode::kFailure);
}

TEST_F(ManagementClientTest, NetworkFailurePassesThrough) {
  auto answer = client.list_registries();  // nothing queued
  ASSERT_FALSE(answer);
  EXPECT_EQ(answer.error().code, ExitCode::kFailure);
  EXPECT_NE(answer.error().message.find("cannot reach"), std::string::npos);
}

TEST(PercentEncode, KeepsUnreservedAndTheAskedExtras) {
  EXPECT_EQ(percent_encode("aZ0-._~"), "aZ0-._~");
  EXPECT_EQ(percent_encode("a/b c"), "a%2Fb%20c");
  EXPECT_EQ(percent_encode("a/b", "/"), "a/b");
  EXPECT_EQ(percent_encode("sha256:ab", ":"), "sha256:ab");
  EXPECT_EQ(percent_encode("\xC3\xA9"), "%C3%A9");
}

}  // namespace
}  // namespace berth::cli
