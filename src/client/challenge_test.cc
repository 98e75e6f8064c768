#include "client/challenge.h"

#include <gtest/gtest.h>

namespace berth::client {
namespace {

TEST(Challenge, BearerWithRealmServiceAndScope) {
  auto parsed = parse_challenges(
      R"(Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push")");
  ASSERT_TRUE(parsed);
  ASSERT_EQ(parsed->size(), 1u);
  const auto& challenge = parsed->front();
  EXPECT_EQ(challenge.scheme, "bearer");
  EXPECT_EQ(challenge.param("realm"), "https://auth.example/token");
  EXPECT_EQ(challenge.param("service"), "registry.example");
  // A comma inside a quoted string belongs to the value.
  EXPECT_EQ(challenge.param("scope"), "repository:a/b:pull,push");
  EXPECT_EQ(challenge.param("error"), "");
}

TEST(Challenge, SchemesAndParameterNamesIgnoreCase) {
  auto parsed = parse_challenges(R"(BASIC Realm="Registry Realm")");
  ASSERT_TRUE(parsed);
  ASSERT_EQ(parsed->size(), 1u);
  EXPECT_EQ(parsed->front().scheme, "basic");
  EXPECT_EQ(parsed->front().param("realm"), "Registry Realm");
}

TEST(Challenge, SeveralChallengesInOneValue) {
  auto parsed = parse_challenges(
      R"(Basic realm="basic realm", Bearer realm="https://x/token", service=svc ,error="invalid_token")");
  ASSERT_TRUE(parsed);
  ASSERT_EQ(parsed->size(), 2u);
  EXPECT_EQ((*parsed)[0].scheme, "basic");
  EXPECT_EQ((*parsed)[0].param("realm"), "basic realm");
  EXPECT_EQ((*parsed)[1].scheme, "bearer");
  EXPECT_EQ((*parsed)[1].param("realm"), "https://x/token");
  EXPECT_EQ((*parsed)[1].param("service"), "svc");  // a token, not a quoted string
  EXPECT_EQ((*parsed)[1].param("error"), "invalid_token");
}

TEST(Challenge, QuotedStringsUnescape) {
  auto parsed = parse_challenges(R"(Bearer realm="a \"quoted\" realm with \\ backslash")");
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->front().param("realm"), R"(a "quoted" realm with \ backslash)");
}

TEST(Challenge, Token68IsSkippedAndTheNextChallengeRead) {
  auto parsed = parse_challenges(R"(Negotiate abc123==, Basic realm="r")");
  ASSERT_TRUE(parsed);
  ASSERT_EQ(parsed->size(), 2u);
  EXPECT_EQ((*parsed)[0].scheme, "negotiate");
  EXPECT_TRUE((*parsed)[0].params.empty());
  EXPECT_EQ((*parsed)[1].param("realm"), "r");
}

TEST(Challenge, AParameterWithoutValueFirstIsAToken68) {
  // "realm=" is a valid token68 (RFC 9110's grammar allows '=' padding): no realm parameter.
  auto parsed = parse_challenges("Bearer realm=");
  ASSERT_TRUE(parsed);
  ASSERT_EQ(parsed->size(), 1u);
  EXPECT_TRUE(parsed->front().params.empty());
}

TEST(Challenge, SchemeWithoutParametersAndEmptyElements) {
  auto parsed = parse_challenges(" , Basic ,, Bearer realm=x ");
  ASSERT_TRUE(parsed);
  ASSERT_EQ(parsed->size(), 2u);
  EXPECT_EQ((*parsed)[0].scheme, "basic");
  EXPECT_EQ((*parsed)[1].param("realm"), "x");
}

TEST(Challenge, SeveralHeaderLinesAddUp) {
  auto parsed = parse_challenges(std::vector<std::string>{R"(Basic realm="a")",
                                                          R"(Bearer realm="b")"});
  ASSERT_TRUE(parsed);
  ASSERT_EQ(parsed->size(), 2u);
  EXPECT_EQ((*parsed)[1].param("realm"), "b");
}

TEST(Challenge, MalformedValuesAreRefused) {
  EXPECT_FALSE(parse_challenges(R"(Bearer realm="unterminated)"));
  EXPECT_FALSE(parse_challenges(R"(Bearer realm="ends in escape\)"));
  EXPECT_FALSE(parse_challenges(R"(Bearer service=x, realm=)"));
  EXPECT_FALSE(parse_challenges(R"(Bearer realm="a" junk="b" )"));
  EXPECT_FALSE(parse_challenges("Bearer realm=\"control\x01char\""));
  EXPECT_FALSE(parse_challenges(R"("quoted scheme")"));
  EXPECT_FALSE(parse_challenges(std::vector<std::string>{"Basic", "Bearer realm=\"x"}));
}

TEST(Challenge, EmptyValueHasNoChallenges) {
  auto parsed = parse_challenges("");
  ASSERT_TRUE(parsed);
  EXPECT_TRUE(parsed->empty());
}

}  // namespace
}  // namespace berth::client
