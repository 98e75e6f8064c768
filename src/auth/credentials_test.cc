#include "auth/credentials.h"

#include <gtest/gtest.h>

#include "auth/encoding.h"

namespace berth::auth {
namespace {

std::string basic(std::string_view user_and_password) {
  std::string header = "Basic ";
  header += detail::base64_encode(user_and_password);
  return header;
}

BasicCredentials expect_basic(const Authorization& parsed) {
  if (const auto* malformed = std::get_if<MalformedAuthorization>(&parsed)) {
    ADD_FAILURE() << "malformed: " << malformed->reason;
  }
  const auto* credentials = std::get_if<BasicCredentials>(&parsed);
  EXPECT_NE(credentials, nullptr);
  return credentials ? *credentials : BasicCredentials{};
}

bool is_malformed(const Authorization& parsed) {
  return std::holds_alternative<MalformedAuthorization>(parsed);
}

TEST(ParseAuthorization, AbsentHeaderIsAnonymous) {
  EXPECT_TRUE(std::holds_alternative<std::monostate>(parse_authorization(std::nullopt)));
}

TEST(ParseAuthorization, BasicSplitsAtTheFirstColon) {
  BasicCredentials plain = expect_basic(parse_authorization(basic("alice:secret")));
  EXPECT_EQ(plain.username, "alice");
  EXPECT_EQ(plain.password, "secret");

  BasicCredentials colons = expect_basic(parse_authorization(basic("alice:pa:ss:word:")));
  EXPECT_EQ(colons.username, "alice");
  EXPECT_EQ(colons.password, "pa:ss:word:");

  BasicCredentials empty_password = expect_basic(parse_authorization(basic("token:")));
  EXPECT_EQ(empty_password.username, "token");
  EXPECT_EQ(empty_password.password, "");

  BasicCredentials utf8 = expect_basic(parse_authorization(basic("z\xc3\xbcrich:p\xc3\xa4ss")));
  EXPECT_EQ(utf8.password, "p\xc3\xa4ss");
}

TEST(ParseAuthorization, SchemeIgnoresCaseAndSpacesSeparate) {
  for (std::string scheme : {"basic", "BASIC", "bAsIc"}) {
    std::string header = scheme;
    header += "   ";
    header += detail::base64_encode("u:p");
    EXPECT_EQ(expect_basic(parse_authorization(header)).username, "u") << header;
  }
  auto bearer = parse_authorization("bearer  eyJ.abc.def");
  ASSERT_TRUE(std::holds_alternative<BearerToken>(bearer));
  EXPECT_EQ(std::get<BearerToken>(bearer).token, "eyJ.abc.def");
  auto upper = parse_authorization("BEARER tok_en-1~+/=");
  ASSERT_TRUE(std::holds_alternative<BearerToken>(upper));
  EXPECT_EQ(std::get<BearerToken>(upper).token, "tok_en-1~+/=");
}

TEST(ParseAuthorization, BadBase64IsMalformed) {
  for (std::string_view header :
       {"Basic dXNlcjpwYXNz!", "Basic dXNlcjpwYXN", /* missing padding */
        "Basic dXNlcjpwYXM=x", "Basic dXNl cjpw", "Basic dXNlcjpwYXNzd29yZA",
        "Basic ====", "Basic dXNlcjpwYXNzd29yZA==="}) {
    auto parsed = parse_authorization(header);
    ASSERT_TRUE(is_malformed(parsed)) << header;
    EXPECT_EQ(std::get<MalformedAuthorization>(parsed).reason.find(header.substr(6)),
              std::string::npos)
        << "the reason never repeats the value";
  }
}

TEST(ParseAuthorization, BasicWithoutColonOrWithControlCharactersIsMalformed) {
  EXPECT_TRUE(is_malformed(parse_authorization(basic("alicesecret"))));
  EXPECT_TRUE(is_malformed(parse_authorization(basic(std::string_view("alice:se\0cret", 13)))));
  EXPECT_TRUE(is_malformed(parse_authorization(basic("alice:se\ncret"))));
  EXPECT_TRUE(
      is_malformed(parse_authorization(basic("al\x7f"
                                             "ice:secret"))));
}

TEST(ParseAuthorization, OtherShapesAreMalformed) {
  for (std::string_view header :
       {"", " ", "Basic", "Basic ", "Bearer", "Bearer    ", "Digest abc", "Basicx dTpw",
        "Bearer two words",
        "Bearer tok\x01"
        "en",
        "Bearer tok\xc3\xa9n", "Bearer a\tb", "Basic\tdTpw", "Token abc"}) {
    EXPECT_TRUE(is_malformed(parse_authorization(header))) << header;
  }
  // Embedded NUL and line breaks (header smuggling) are control characters.
  EXPECT_TRUE(is_malformed(parse_authorization(std::string_view("Bearer ab\0cd", 12))));
  EXPECT_TRUE(is_malformed(parse_authorization("Bearer ab\r\nX-Injected: 1")));
}

TEST(ParseAuthorization, OversizedValuesAreMalformed) {
  std::string token = "Bearer ";
  token.append(8 * 1024 - token.size(), 'a');
  EXPECT_TRUE(std::holds_alternative<BearerToken>(parse_authorization(token)));
  token.push_back('a');
  EXPECT_TRUE(is_malformed(parse_authorization(token)));

  std::string password(7000, 'p');
  std::string big_basic = "u:";
  big_basic += password;
  EXPECT_TRUE(is_malformed(parse_authorization(basic(big_basic))));
  std::string huge(1 << 20, 'A');
  EXPECT_TRUE(is_malformed(parse_authorization(huge)));
}

TEST(ParseScope, TypeNameAndActions) {
  auto scope = parse_scope("repository:samples/hello:pull,push");
  ASSERT_TRUE(scope);
  EXPECT_EQ(scope->type, "repository");
  EXPECT_EQ(scope->name, "samples/hello");
  EXPECT_EQ(scope->actions, (std::vector<std::string>{"pull", "push"}));

  auto catalog = parse_scope("registry:catalog:*");
  ASSERT_TRUE(catalog);
  EXPECT_EQ(catalog->type, "registry");
  EXPECT_EQ(catalog->name, "catalog");
  EXPECT_EQ(catalog->actions, (std::vector<std::string>{"*"}));

  auto unknown = parse_scope("repository:a:metadata_read,frobnicate");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->actions, (std::vector<std::string>{"metadata_read", "frobnicate"}));
}

TEST(ParseScope, NameIsEverythingBetweenTheFirstAndLastColon) {
  auto scope = parse_scope("repository:localhost:5000/team/app:pull");
  ASSERT_TRUE(scope);
  EXPECT_EQ(scope->name, "localhost:5000/team/app");
  EXPECT_EQ(scope->actions, (std::vector<std::string>{"pull"}));
  auto many = parse_scope("repository:a:b:c::pull");
  ASSERT_TRUE(many);
  EXPECT_EQ(many->name, "a:b:c:");
}

TEST(ParseScope, MalformedScopesAreRefused) {
  for (std::string_view text : {"",
                                ":",
                                "::",
                                "repository",
                                "repository:",
                                "repository:name",
                                "repository::pull",
                                "repository:name:",
                                "repository:name:pull,",
                                "repository:name:,pull",
                                "repository:name:pull,,push",
                                "repository:name:PULL",
                                "repository:name:pull push",
                                "repository:name:pull-push",
                                "repository(plugin):name:pull",
                                "Repository:name:pull",
                                "user:name:pull",
                                ":name:pull",
                                "repository:na\x01me:pull",
                                "repository:na\x7fme:pull",
                                "repository:name\n:pull",
                                "repository:name:pull\n"}) {
    EXPECT_FALSE(parse_scope(text)) << text;
  }
  EXPECT_FALSE(parse_scope(std::string_view("repository:na\0me:pull", 22)));
}

TEST(ParseScopes, SplitsOnSpacesAcrossRepeatedParameters) {
  auto scopes = parse_scopes({"repository:a:pull repository:b:push", "registry:catalog:*"});
  ASSERT_TRUE(scopes);
  ASSERT_EQ(scopes->size(), 3u);
  EXPECT_EQ((*scopes)[0].name, "a");
  EXPECT_EQ((*scopes)[1].name, "b");
  EXPECT_EQ((*scopes)[2].type, "registry");

  auto none = parse_scopes({});
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
  auto spaces = parse_scopes({"  repository:a:pull  "});
  ASSERT_TRUE(spaces);
  EXPECT_EQ(spaces->size(), 1u);

  EXPECT_FALSE(parse_scopes({"repository:a:pull", "repository:b"}));
  EXPECT_FALSE(parse_scopes({"repository:a:pull bogus"}));
  EXPECT_FALSE(parse_scopes({"repository:a:pull\trepository:b:pull"}));
}

TEST(FormatScope, RoundTripsThroughParseScope) {
  Scope scope{"repository", "localhost:5000/x", {"pull", "push"}};
  EXPECT_EQ(format_scope(scope), "repository:localhost:5000/x:pull,push");
  auto parsed = parse_scope(format_scope(scope));
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->type, scope.type);
  EXPECT_EQ(parsed->name, scope.name);
  EXPECT_EQ(parsed->actions, scope.actions);
  EXPECT_EQ(format_scope(Scope{"registry", "catalog", {"*"}}), "registry:catalog:*");
}

}  // namespace
}  // namespace berth::auth
