#include "http/router.h"

#include <gtest/gtest.h>

namespace berth::http {
namespace {

Handler noop() {
  return [](Request&) -> boost::asio::awaitable<Response> { co_return Response{}; };
}

Request make_request(std::string method, std::string path) {
  Request request;
  request.method = std::move(method);
  request.path = std::move(path);
  return request;
}

class RouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    router_.add({"GET", "/v2/", "base", "", noop()});
    router_.add({"GET", "/v2/{name+}/blobs/{digest}", "blob.get", "pull", noop()});
    router_.add({"HEAD", "/v2/{name+}/blobs/{digest}", "blob.head", "pull", noop()});
    router_.add({"POST", "/v2/{name+}/blobs/uploads/", "upload.start", "push", noop()});
    router_.add({"PATCH", "/v2/{name+}/blobs/uploads/{uuid}", "upload.patch", "push", noop()});
    router_.add({"GET", "/v2/{name+}/manifests/{reference}", "manifest.get", "pull", noop()});
    router_.add({"GET", "/v2/{name+}/tags/list", "tags.list", "pull", noop()});
    router_.add({"GET", "/v2/_catalog", "catalog", "catalog", noop()});
    router_.add({"GET", "/users/{id}", "user.get", "", noop()});
    router_.add({"GET", "/users/{id}", "user.get.shadowed", "", noop()});
  }

  std::string match_name(std::string method, std::string path) {
    auto request = make_request(std::move(method), std::move(path));
    auto match = router_.match(request);
    return match.route ? match.route->name : (match.method_not_allowed ? "405" : "404");
  }

  Router router_;
};

TEST_F(RouterTest, MatchesLiteralsWithSignificantTrailingSlash) {
  EXPECT_EQ(match_name("GET", "/v2/"), "base");
  EXPECT_EQ(match_name("GET", "/v2"), "404");
  EXPECT_EQ(match_name("GET", "/v2/_catalog"), "catalog");
  EXPECT_EQ(match_name("GET", "/v2/_catalog/"), "404");
}

TEST_F(RouterTest, GreedyParameterTakesMiddleSegments) {
  auto request = make_request("GET", "/v2/library/ubuntu/blobs/sha256:abc");
  auto match = router_.match(request);
  ASSERT_NE(match.route, nullptr);
  EXPECT_EQ(match.route->name, "blob.get");
  EXPECT_EQ(request.param("name"), "library/ubuntu");
  EXPECT_EQ(request.param("digest"), "sha256:abc");
  EXPECT_EQ(request.param("missing"), "");
}

TEST_F(RouterTest, GreedyParameterWithSingleSegment) {
  auto request = make_request("GET", "/v2/alpine/manifests/latest");
  auto match = router_.match(request);
  ASSERT_NE(match.route, nullptr);
  EXPECT_EQ(request.param("name"), "alpine");
  EXPECT_EQ(request.param("reference"), "latest");
}

TEST_F(RouterTest, TrailingLiteralsAnchorAtTheEnd) {
  // A repository whose name contains "blobs" still splits at the last occurrence.
  auto request = make_request("GET", "/v2/a/blobs/b/blobs/sha256:1");
  ASSERT_NE(router_.match(request).route, nullptr);
  EXPECT_EQ(request.param("name"), "a/blobs/b");
  EXPECT_EQ(request.param("digest"), "sha256:1");

  auto upload = make_request("POST", "/v2/a/b/blobs/uploads/");
  auto match = router_.match(upload);
  ASSERT_NE(match.route, nullptr);
  EXPECT_EQ(match.route->name, "upload.start");
  EXPECT_EQ(upload.param("name"), "a/b");

  // Without the trailing slash it is a blob GET of digest "uploads", so POST is not allowed.
  EXPECT_EQ(match_name("POST", "/v2/a/b/blobs/uploads"), "405");
  EXPECT_EQ(match_name("POST", "/v2/a/b/blob/uploads/"), "404");
  EXPECT_EQ(match_name("PATCH", "/v2/a/b/blobs/uploads/u-1"), "upload.patch");
  EXPECT_EQ(match_name("GET", "/v2/a/b/c/tags/list"), "tags.list");
}

TEST_F(RouterTest, GreedyParameterNeedsAtLeastOneNonEmptySegment) {
  EXPECT_EQ(match_name("GET", "/v2/blobs/sha256:1"), "404");
  EXPECT_EQ(match_name("GET", "/v2//blobs/sha256:1"), "404");
  // Empty segments inside the greedy parameter are the handler's to reject.
  EXPECT_EQ(match_name("GET", "/v2/a//b/blobs/sha256:1"), "blob.get");
  EXPECT_EQ(match_name("GET", "/v2/a/blobs/"), "404");  // {digest} is never empty
}

TEST_F(RouterTest, FirstMatchingRouteWins) {
  EXPECT_EQ(match_name("GET", "/users/7"), "user.get");
}

TEST_F(RouterTest, OtherMethodIsMethodNotAllowed) {
  EXPECT_EQ(match_name("DELETE", "/v2/a/blobs/sha256:1"), "405");
  EXPECT_EQ(match_name("PUT", "/v2/"), "405");
  EXPECT_EQ(match_name("DELETE", "/nowhere"), "404");
}

TEST_F(RouterTest, ParamsAreResetOnEachMatch) {
  auto request = make_request("GET", "/users/1");
  request.params["stale"] = "x";
  ASSERT_NE(router_.match(request).route, nullptr);
  EXPECT_EQ(request.param("stale"), "");
  EXPECT_EQ(request.param("id"), "1");
}

TEST_F(RouterTest, DefaultAndCustomFallback) {
  auto request = make_request("GET", "/nowhere");
  EXPECT_EQ(router_.fallback(request, false).status, 404u);
  EXPECT_EQ(router_.fallback(request, true).status, 405u);
  router_.set_fallback([](const Request&, bool not_allowed) {
    Response response;
    response.status = not_allowed ? 405 : 404;
    response.body = "custom";
    return response;
  });
  EXPECT_EQ(router_.fallback(request, false).body, "custom");
}

TEST(RouterPatterns, GreedyParameterBetweenLiterals) {
  Router router;
  router.add({"GET", "/x/{a}/{rest+}/y/{b}", "r", "", noop()});
  auto request = make_request("GET", "/x/1/2/3/y/4");
  ASSERT_NE(router.match(request).route, nullptr);
  EXPECT_EQ(request.param("a"), "1");
  EXPECT_EQ(request.param("rest"), "2/3");
  EXPECT_EQ(request.param("b"), "4");
  auto too_short = make_request("GET", "/x/1/y/4");
  EXPECT_EQ(router.match(too_short).route, nullptr);
}

}  // namespace
}  // namespace berth::http
