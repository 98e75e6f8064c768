#include "tasks/image_reference.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace berth::tasks {
namespace {

const std::string kDigest = std::string("sha256:") + std::string(64, 'a');

TEST(ImageReference, SplitsDomainRepositoryTagAndDigest) {
  auto local = parse_image_reference("127.0.0.1:5000/team/app:v1");
  ASSERT_TRUE(local) << local.error();
  EXPECT_EQ(local->domain, "127.0.0.1:5000");
  EXPECT_EQ(local->repository, "team/app");
  EXPECT_EQ(local->tag, "v1");
  EXPECT_FALSE(local->digest);
  EXPECT_EQ(local->str(), "127.0.0.1:5000/team/app:v1");

  auto hub = parse_image_reference("team/app");
  ASSERT_TRUE(hub);
  EXPECT_EQ(hub->domain, "");
  EXPECT_EQ(hub->repository, "team/app");
  EXPECT_FALSE(hub->tag);

  std::string pinned_text = std::string("localhost/app:1.0@") + kDigest;
  auto pinned = parse_image_reference(pinned_text);
  ASSERT_TRUE(pinned) << pinned.error();
  EXPECT_EQ(pinned->domain, "localhost");
  EXPECT_EQ(pinned->tag, "1.0");
  ASSERT_TRUE(pinned->digest);
  EXPECT_EQ(pinned->digest->str(), kDigest);
  EXPECT_EQ(pinned->str(), pinned_text);

  auto v6 = parse_image_reference("[::1]:5000/app");
  ASSERT_TRUE(v6) << v6.error();
  EXPECT_EQ(v6->domain, "[::1]:5000");
  // A port-like suffix without a dot is still a domain when a path follows.
  auto host_port = parse_image_reference("registry:5000/app");
  ASSERT_TRUE(host_port);
  EXPECT_EQ(host_port->domain, "registry:5000");
  EXPECT_EQ(host_port->repository, "app");
}

TEST(ImageReference, RefusesWhatTheGrammarRefuses) {
  for (const std::string& bad : std::vector<std::string>{
           "", "App", "app:", "app:-x", "app@sha256:abc", "a//b", "/app", "host:99999/app",
           "-host.com/app", std::string("app:") + std::string(129, 't'), "ex ample.com/app"}) {
    EXPECT_FALSE(parse_image_reference(bad)) << bad;
  }
  auto bad_tag = parse_image_reference("app:v1!");
  ASSERT_FALSE(bad_tag);
  EXPECT_NE(bad_tag.error().find("'v1!'"), std::string::npos) << bad_tag.error();
  std::string long_name = std::string("example.com/") + std::string(250, 'a');
  auto too_long = parse_image_reference(long_name);
  ASSERT_FALSE(too_long);
  EXPECT_NE(too_long.error().find("255"), std::string::npos) << too_long.error();
}

TEST(ImageReference, NormalizesAsAPullResolves) {
  EXPECT_EQ(normalized(*parse_image_reference("busybox")).str(),
            "docker.io/library/busybox:latest");
  EXPECT_EQ(normalized(*parse_image_reference("team/app:1")).str(), "docker.io/team/app:1");
  EXPECT_EQ(normalized(*parse_image_reference("index.docker.io/alpine")).str(),
            "docker.io/library/alpine:latest");
  EXPECT_EQ(normalized(*parse_image_reference("127.0.0.1:5000/app")).str(),
            "127.0.0.1:5000/app:latest");
  EXPECT_EQ(normalized(*parse_image_reference(std::string("quay.io/app@") + kDigest)).str(),
            std::string("quay.io/app@") + kDigest);
}

}  // namespace
}  // namespace berth::tasks
