#include "upstream/rules.h"

#include <gtest/gtest.h>

#include <vector>

namespace berth::upstream {
namespace {

metadata::CacheRule rule(std::string name, std::string source, std::string target) {
  metadata::CacheRule r;
  r.name = std::move(name);
  r.source_repository = std::move(source);
  r.target_repository = std::move(target);
  return r;
}

TEST(ResourceName, AcceptsFiveToFiftyLettersDigitsAndHyphens) {
  EXPECT_FALSE(check_resource_name("hub-1"));
  EXPECT_FALSE(check_resource_name(std::string(50, 'a')));
  EXPECT_TRUE(check_resource_name("abcd"));
  EXPECT_TRUE(check_resource_name(std::string(51, 'a')));
  EXPECT_TRUE(check_resource_name("-abcde"));
  EXPECT_TRUE(check_resource_name("ab_cde"));
  EXPECT_TRUE(check_resource_name("ab cde"));
}

TEST(LoginServer, AcceptsHostsAndPortsOnly) {
  for (const char* good : {"docker.io", "registry.example:5000", "127.0.0.1:5001", "[::1]:5000",
                           "localhost", "a-b.c"}) {
    EXPECT_FALSE(check_login_server(good)) << good;
  }
  for (const char* bad : {"", "https://docker.io", "docker.io/library", "user@host", "host:0",
                          "host:65536", "host:", "-host", "host..x", "ho st", "[zz]:5000",
                          "host:5000:1"}) {
    EXPECT_TRUE(check_login_server(bad)) << bad;
  }
  EXPECT_EQ(normalize_login_server("Registry.Example:5000"), "registry.example:5000");
  EXPECT_EQ(connect_host("docker.io"), "registry-1.docker.io");
  EXPECT_EQ(connect_host("ghcr.io"), "ghcr.io");
}

TEST(Source, ParsesExactAndWildcardPathsAndDockerHubOfficialImages) {
  std::string why;
  auto exact = parse_source("Upstream.Example:5000/team/app", why);
  ASSERT_TRUE(exact) << why;
  EXPECT_EQ(exact->login_server, "upstream.example:5000");
  EXPECT_EQ(exact->repository.path, "team/app");
  EXPECT_FALSE(exact->repository.wildcard);

  auto wildcard = parse_source("upstream.example/library/*", why);
  ASSERT_TRUE(wildcard) << why;
  EXPECT_EQ(wildcard->repository.path, "library");
  EXPECT_TRUE(wildcard->repository.wildcard);

  auto official = parse_source("docker.io/ubuntu", why);
  ASSERT_TRUE(official) << why;
  EXPECT_EQ(official->repository.path, "library/ubuntu");

  for (const char* bad : {"upstream.example", "upstream.example/", "upstream.example/UPPER",
                          "upstream.example/*", "https://x/y", "upstream.example/a//b"}) {
    EXPECT_FALSE(parse_source(bad, why)) << bad;
  }
}

TEST(Target, ParsesRepositoryPathsWithAnOptionalWildcard) {
  std::string why;
  auto exact = parse_target("hub/ubuntu", why);
  ASSERT_TRUE(exact);
  EXPECT_FALSE(exact->wildcard);
  auto wildcard = parse_target("hub/*", why);
  ASSERT_TRUE(wildcard);
  EXPECT_EQ(wildcard->path, "hub");
  EXPECT_TRUE(wildcard->wildcard);
  EXPECT_FALSE(parse_target("*", why));
  EXPECT_FALSE(parse_target("Hub/x", why));
  EXPECT_FALSE(parse_target("hub/*/x", why));
}

TEST(RuleShape, BothSidesWildcardOrNeither) {
  std::string why;
  auto source = *parse_source("up.example/library/*", why);
  EXPECT_FALSE(check_rule_shape(source, *parse_target("hub/*", why)));
  EXPECT_TRUE(check_rule_shape(source, *parse_target("hub", why)));
}

TEST(Locate, MapsTheTargetPathOntoTheSource) {
  auto wildcard = rule("hubrule", "up.example:5000/library/*", "hub/*");
  auto located = locate(wildcard, "hub/ubuntu");
  ASSERT_TRUE(located);
  EXPECT_EQ(located->login_server, "up.example:5000");
  EXPECT_EQ(located->repository, "library/ubuntu");
  auto nested = locate(wildcard, "hub/team/app");
  ASSERT_TRUE(nested);
  EXPECT_EQ(nested->repository, "library/team/app");
  EXPECT_FALSE(locate(wildcard, "hub"));
  EXPECT_FALSE(locate(wildcard, "hubx/ubuntu"));
  EXPECT_FALSE(locate(wildcard, "other/ubuntu"));

  auto exact = rule("exactrule", "up.example/team/app", "mirror/app");
  auto one = locate(exact, "mirror/app");
  ASSERT_TRUE(one);
  EXPECT_EQ(one->repository, "team/app");
  EXPECT_FALSE(locate(exact, "mirror/app/x"));
}

TEST(CoveringRule, PrefersAnExactTargetThenTheLongestWildcard) {
  std::vector<metadata::CacheRule> rules{rule("broad", "a.example/x/*", "hub/*"),
                                         rule("narrow", "b.example/y/*", "hub/team/*"),
                                         rule("exact", "c.example/z", "hub/team/app")};
  EXPECT_EQ(covering_rule(rules, "hub/ubuntu")->name, "broad");
  EXPECT_EQ(covering_rule(rules, "hub/team/web")->name, "narrow");
  EXPECT_EQ(covering_rule(rules, "hub/team/app")->name, "exact");
  EXPECT_EQ(covering_rule(rules, "elsewhere/app"), nullptr);
}

TEST(ImageName, ParsesTagsDigestsAndTheLatestDefault) {
  std::string why;
  auto tagged = parse_image("team/app:1.0", why);
  ASSERT_TRUE(tagged) << why;
  EXPECT_EQ(tagged->repository, "team/app");
  EXPECT_EQ(std::get<std::string>(tagged->reference), "1.0");
  auto bare = parse_image("team/app", why);
  ASSERT_TRUE(bare);
  EXPECT_EQ(std::get<std::string>(bare->reference), "latest");
  std::string digest = "sha256:";
  digest.append(64, 'a');
  auto pinned = parse_image("team/app@" + digest, why);
  ASSERT_TRUE(pinned) << why;
  EXPECT_EQ(std::get<oci::Digest>(pinned->reference).str(), digest);
  EXPECT_EQ(image_text(*pinned), "team/app@" + digest);
  EXPECT_EQ(image_text(*tagged), "team/app:1.0");
  EXPECT_FALSE(parse_image("team/app@sha256:zz", why));
  EXPECT_FALSE(parse_image("team/app:bad tag", why));
  EXPECT_FALSE(parse_image("Team/app:1", why));
}

}  // namespace
}  // namespace berth::upstream
