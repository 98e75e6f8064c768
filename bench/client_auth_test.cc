// The pure parts of the load generator's client credentials: challenge parsing, the scope a
// request needs, query encoding and the Basic header. The token flow itself runs against
// berthd in bench_quick.

#include "client_auth.h"

#include <gtest/gtest.h>

#include <string>

namespace berth::bench {
namespace {

TEST(ParseChallenge, ReadsBerthsBearerChallenge) {
  auto challenge = parse_challenge(
      R"(Bearer realm="http://127.0.0.1:5000/oauth2/token",service="default.registry.local",scope="repository:a/b:pull")");
  ASSERT_TRUE(challenge.has_value());
  EXPECT_EQ(challenge->scheme, "bearer");
  EXPECT_EQ(challenge->realm, "http://127.0.0.1:5000/oauth2/token");
  EXPECT_EQ(challenge->service, "default.registry.local");
  EXPECT_EQ(challenge->scope, "repository:a/b:pull");
}

TEST(ParseChallenge, ReadsBasicWithSpacesAndUnquotedValues) {
  auto challenge = parse_challenge(R"(  Basic realm="berth bench", charset=UTF-8)");
  ASSERT_TRUE(challenge.has_value());
  EXPECT_EQ(challenge->scheme, "basic");
  EXPECT_EQ(challenge->realm, "berth bench");
  EXPECT_TRUE(challenge->service.empty());
}

TEST(ParseChallenge, ParameterNamesAreCaseInsensitiveAndEscapesAreUndone) {
  auto challenge = parse_challenge(R"(BEARER Realm="a\"b",SERVICE=svc)");
  ASSERT_TRUE(challenge.has_value());
  EXPECT_EQ(challenge->scheme, "bearer");
  EXPECT_EQ(challenge->realm, "a\"b");
  EXPECT_EQ(challenge->service, "svc");
}

TEST(ParseChallenge, SchemeWithoutParametersIsAccepted) {
  auto challenge = parse_challenge("Basic");
  ASSERT_TRUE(challenge.has_value());
  EXPECT_EQ(challenge->scheme, "basic");
  EXPECT_TRUE(challenge->realm.empty());
}

TEST(ParseChallenge, RejectsMalformedHeaders) {
  EXPECT_FALSE(parse_challenge("").has_value());
  EXPECT_FALSE(parse_challenge("   ").has_value());
  EXPECT_FALSE(parse_challenge(R"(Bearer realm="unterminated)").has_value());
  EXPECT_FALSE(parse_challenge(R"(Bearer realm="ends in a backslash\)").has_value());
  EXPECT_FALSE(parse_challenge("Bearer realm").has_value());
  EXPECT_FALSE(parse_challenge("Bearer =value").has_value());
}

TEST(ParseChallenge, RejectsEndlessParameterLists) {
  std::string header = "Bearer ";
  for (int i = 0; i < 100; ++i) {
    header += 'p';  // appended piece by piece: GCC 12 -O3 warns falsely on "p" + std::string
    header += std::to_string(i);
    header += "=x,";
  }
  EXPECT_FALSE(parse_challenge(header).has_value());
}

TEST(ScopeFor, RepositoryOperationsNameTheRepository) {
  EXPECT_EQ(scope_for("GET", "/v2/bench/small/manifests/v1", "pull"),
            "repository:bench/small:pull");
  EXPECT_EQ(scope_for("HEAD", "/v2/a/blobs/sha256:00", "pull,push"), "repository:a:pull,push");
  EXPECT_EQ(scope_for("PATCH", "/v2/a/b/c/blobs/uploads/5f3c?x=1", "pull,push"),
            "repository:a/b/c:pull,push");
  EXPECT_EQ(scope_for("GET", "/v2/bench/tags/tags/list?n=100", "pull"),
            "repository:bench/tags:pull");
}

TEST(ScopeFor, AComponentNamedLikeAMarkerStaysInTheName) {
  EXPECT_EQ(scope_for("GET", "/v2/x/blobs/y/manifests/latest", "pull"),
            "repository:x/blobs/y:pull");
  EXPECT_EQ(scope_for("GET", "/v2/tags/tags/list", "pull"), "repository:tags:pull");
}

TEST(ScopeFor, MountAlsoReadsTheSourceRepository) {
  EXPECT_EQ(scope_for("POST", "/v2/dst/blobs/uploads/?mount=sha256:ab&from=src/one", "pull,push"),
            "repository:dst:pull,push repository:src/one:pull");
  // A mount from the repository itself needs nothing more.
  EXPECT_EQ(scope_for("POST", "/v2/dst/blobs/uploads/?from=dst&mount=sha256:ab", "pull,push"),
            "repository:dst:pull,push");
  // "xfrom" is not "from".
  EXPECT_EQ(scope_for("POST", "/v2/dst/blobs/uploads/?xfrom=src", "pull,push"),
            "repository:dst:pull,push");
}

TEST(ScopeFor, CatalogAndBaseAndUnknownPaths) {
  EXPECT_EQ(scope_for("GET", "/v2/_catalog?n=1000", "pull"), "registry:catalog:*");
  EXPECT_EQ(scope_for("GET", "/v2/", "pull"), "");
  EXPECT_EQ(scope_for("GET", "/v2/blobs/x", "pull"), "");  // no repository name
  EXPECT_EQ(scope_for("GET", "/other/a/manifests/x", "pull"), "");
  EXPECT_EQ(scope_for("GET", "", "pull"), "");
}

TEST(UrlEncode, KeepsUnreservedAndEncodesTheRest) {
  EXPECT_EQ(url_encode("repository:a/b-c_d.e~f:pull,push"),
            "repository%3Aa%2Fb-c_d.e~f%3Apull%2Cpush");
  EXPECT_EQ(url_encode("a b&c=d%"), "a%20b%26c%3Dd%25");
  EXPECT_EQ(url_encode(std::string("\x00\xff", 2)), "%00%FF");
  EXPECT_EQ(url_encode(""), "");
}

TEST(BasicAuthorization, EncodesUserAndPassword) {
  // RFC 7617's example.
  EXPECT_EQ(basic_authorization("Aladdin", "open sesame"), "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
  EXPECT_EQ(basic_authorization("", ""), "Basic Og==");
  EXPECT_EQ(basic_authorization("u", "p:with:colons"), "Basic dTpwOndpdGg6Y29sb25z");
}

TEST(ClientAuth, FreshSessionKeepsCredentialsAndActionsButNothingLearned) {
  ClientAuth session = ClientAuth::bearer("refresh");
  session.set_repository_actions("pull");
  ClientAuth fresh = session.fresh_session();
  EXPECT_EQ(fresh.kind(), ClientAuth::Kind::bearer);
  EXPECT_EQ(fresh.tokens_fetched(), 0);
  EXPECT_EQ(ClientAuth::basic("u", "p").fresh_session().kind(), ClientAuth::Kind::basic);
}

}  // namespace
}  // namespace berth::bench
