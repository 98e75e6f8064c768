#include "events/webhook_rules.h"

#include <gtest/gtest.h>

namespace berth::events {
namespace {

TEST(WebhookRules, NamesAreFiveToFiftyAlphanumerics) {
  EXPECT_FALSE(check_webhook_name("hook1"));
  EXPECT_FALSE(check_webhook_name(std::string(50, 'a')));
  EXPECT_TRUE(check_webhook_name("hook"));
  EXPECT_TRUE(check_webhook_name(std::string(51, 'a')));
  EXPECT_TRUE(check_webhook_name("my-hook"));
  EXPECT_TRUE(check_webhook_name("hööks"));
}

TEST(WebhookRules, ActionsComeFromTheHostedServicesSet) {
  EXPECT_FALSE(check_actions({"push", "delete", "quarantine", "chart_push", "chart_delete"}));
  EXPECT_TRUE(check_actions({}));
  EXPECT_TRUE(check_actions({"pull"}));
  EXPECT_TRUE(check_actions({"push", "push"}));
  EXPECT_TRUE(wants_action({"push"}, "push"));
  EXPECT_FALSE(wants_action({"push"}, "delete"));
  EXPECT_TRUE(wants_action({"delete"}, "ping")) << "a ping reaches every webhook";
}

TEST(WebhookRules, ScopesFollowTheHostedServicesMeaning) {
  EXPECT_TRUE(scope_matches("", "any/repo", "v1"));
  EXPECT_TRUE(scope_matches("foo:*", "foo", "v1"));
  EXPECT_TRUE(scope_matches("foo:*", "foo", "")) << "digest and repository events of foo";
  EXPECT_FALSE(scope_matches("foo:*", "foobar", "v1"));
  EXPECT_TRUE(scope_matches("foo:bar", "foo", "bar"));
  EXPECT_FALSE(scope_matches("foo:bar", "foo", "baz"));
  EXPECT_FALSE(scope_matches("foo:bar", "foo", ""));
  EXPECT_TRUE(scope_matches("foo", "foo", "latest")) << "'foo' means 'foo:latest'";
  EXPECT_FALSE(scope_matches("foo", "foo", "v1"));
  EXPECT_TRUE(scope_matches("team/*:v*", "team/a/b", "v2.1"));
  EXPECT_FALSE(scope_matches("team/*:v*", "other/a", "v2"));
  EXPECT_TRUE(scope_matches("*:*", "x", "y"));
  EXPECT_TRUE(scope_matches("a*b*c:*", "axxbyyc", "t"));
  EXPECT_FALSE(scope_matches("a*b*c:*", "axxbyy", "t"));
}

TEST(WebhookRules, ScopeSyntax) {
  EXPECT_FALSE(check_scope(""));
  EXPECT_FALSE(check_scope("foo"));
  EXPECT_FALSE(check_scope("team/app:v*"));
  EXPECT_TRUE(check_scope(":tag"));
  EXPECT_TRUE(check_scope("foo:"));
  EXPECT_TRUE(check_scope("foo:a/b"));
  EXPECT_TRUE(check_scope("foo bar:*"));
}

TEST(WebhookRules, HeadersCannotInjectOrReplaceTheDeliverysOwn) {
  EXPECT_FALSE(check_header("Authorization", "Bearer abc"));
  EXPECT_TRUE(check_header("X-Evil", "a\r\nHost: other"));
  EXPECT_TRUE(check_header("Bad Name", "x"));
  EXPECT_TRUE(check_header("", "x"));
  EXPECT_TRUE(check_header("content-type", "text/plain"));
  EXPECT_TRUE(check_header("X-Berth-Signature", "forged"));
}

TEST(WebhookRules, ServiceUrisAreHttpWithoutCredentials) {
  DestinationPolicy strict;
  EXPECT_FALSE(check_service_uri("https://hooks.example.com/a?b=c", strict));
  EXPECT_FALSE(check_service_uri("http://127.0.0.1:8080/hook", strict));
  EXPECT_TRUE(check_service_uri("ftp://example.com/", strict));
  EXPECT_TRUE(check_service_uri("not a uri", strict));
  EXPECT_TRUE(check_service_uri("https://user:pw@example.com/", strict));
  EXPECT_TRUE(check_service_uri("http:///path", strict));
  EXPECT_TRUE(check_service_uri("http://example.com/#x", strict));
}

TEST(WebhookRules, LinkLocalAndMetadataAddressesAreRefusedUnlessAllowed) {
  DestinationPolicy strict;
  EXPECT_TRUE(check_service_uri("http://169.254.169.254/latest/meta-data", strict));
  EXPECT_TRUE(check_service_uri("http://[fe80::1]/", strict));
  EXPECT_TRUE(check_service_uri("http://[fd00:ec2::254]/", strict));
  EXPECT_TRUE(check_service_uri("http://100.100.100.200/", strict));
  EXPECT_TRUE(check_service_uri("http://168.63.129.16/", strict));
  EXPECT_TRUE(check_service_uri("http://0.0.0.0/", strict));
  EXPECT_TRUE(check_service_uri("http://[::ffff:169.254.169.254]/", strict));
  DestinationPolicy open{.allow_link_local = true};
  EXPECT_FALSE(check_service_uri("http://169.254.169.254/", open));
  EXPECT_FALSE(refuse_destination(*auth::IpAddress::parse("10.1.2.3"), strict));
  EXPECT_FALSE(refuse_destination(*auth::IpAddress::parse("::1"), strict));
  EXPECT_TRUE(refuse_destination(*auth::IpAddress::parse("169.254.0.1"), strict));
}

}  // namespace
}  // namespace berth::events
