#include "cli/validate.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace berth::cli {
namespace {

const std::string kDigest = "sha256:" + std::string(64, 'a');

TEST(RegistryName, FiveToFiftyAlphanumerics) {
  EXPECT_FALSE(check_registry_name("abcde"));
  EXPECT_FALSE(check_registry_name("MyRegistry01"));
  EXPECT_FALSE(check_registry_name(std::string(50, 'x')));
  EXPECT_TRUE(check_registry_name("abcd"));
  EXPECT_TRUE(check_registry_name(std::string(51, 'x')));
  EXPECT_TRUE(check_registry_name("my-registry"));
  EXPECT_TRUE(check_registry_name("my_registry"));
  EXPECT_TRUE(check_registry_name(""));
  EXPECT_TRUE(check_registry_name("caf\xC3\xA9s"));
  EXPECT_EQ(*check_registry_name("ab"), "registry name 'ab' must be 5-50 letters or digits");
}

TEST(RepositoryName, OciGrammar) {
  for (const char* ok : {"app", "team/app", "a.b/c_d/e__f/g--h", "x1/2y", "a-b"}) {
    EXPECT_FALSE(check_repository_name(ok)) << ok;
  }
  for (const char* bad :
       {"", "App", "team//app", "/app", "app/", "a..b", "a___b", "-a", "a-", "a:b", "a@b", "a b"}) {
    EXPECT_TRUE(check_repository_name(bad)) << bad;
  }
}

TEST(Tag, OciGrammar) {
  EXPECT_FALSE(check_tag("latest"));
  EXPECT_FALSE(check_tag("_x"));
  EXPECT_FALSE(check_tag("V1.2-rc_3"));
  EXPECT_FALSE(check_tag(std::string(128, 'a')));
  EXPECT_TRUE(check_tag(std::string(129, 'a')));
  EXPECT_TRUE(check_tag(""));
  EXPECT_TRUE(check_tag(".x"));
  EXPECT_TRUE(check_tag("-x"));
  EXPECT_TRUE(check_tag("a/b"));
}

TEST(Digest, AlgorithmAndHex) {
  EXPECT_FALSE(check_digest(kDigest));
  EXPECT_FALSE(check_digest("sha512:" + std::string(128, '0')));
  EXPECT_FALSE(check_digest("multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8"));
  EXPECT_TRUE(check_digest("sha256:" + std::string(63, 'a')));
  EXPECT_TRUE(check_digest("sha256:" + std::string(64, 'A')));
  EXPECT_TRUE(check_digest("sha256"));
  EXPECT_TRUE(check_digest(":abc"));
  EXPECT_TRUE(check_digest("sha256:"));
}

TEST(ImageReference, TagForm) {
  auto ref = parse_image_reference("team/app:v1");
  ASSERT_TRUE(ref);
  EXPECT_EQ(ref->repository, "team/app");
  EXPECT_EQ(ref->tag, "v1");
  EXPECT_EQ(ref->digest, "");
}

TEST(ImageReference, DigestForm) {
  auto ref = parse_image_reference("team/app@" + kDigest);
  ASSERT_TRUE(ref);
  EXPECT_EQ(ref->repository, "team/app");
  EXPECT_EQ(ref->tag, "");
  EXPECT_EQ(ref->digest, kDigest);
}

TEST(ImageReference, RefusesWithUsageError) {
  for (std::string bad :
       {std::string("team/app"), "team/app:v1@" + kDigest, std::string("Team/app:v1"),
        std::string("app:"), std::string("app@sha256:zz"), std::string(":v1"),
        std::string("app:v1/x")}) {
    auto ref = parse_image_reference(bad);
    ASSERT_FALSE(ref) << bad;
    EXPECT_EQ(ref.error().code, ExitCode::kUsage) << bad;
  }
}


TEST(AccessNames, FiveToFiftyLettersDigitsDashUnderscore) {
  for (std::string good : {std::string("abcde"), std::string("_repositories_pull"),
                           std::string("ci-token-2"), std::string(50, 'a')}) {
    EXPECT_FALSE(check_access_name("token", good)) << good;
  }
  for (std::string bad : {std::string("abcd"), std::string(51, 'a'), std::string("has space"),
                          std::string("dot.name"), std::string("slash/name"),
                          std::string("caf\xC3\xA9s"), std::string()}) {
    auto problem = check_access_name("scope map", bad);
    ASSERT_TRUE(problem) << bad;
    EXPECT_TRUE(problem->starts_with("scope map name '")) << *problem;
  }
}

TEST(IdentityNamesAndIds, AreOnePathSegment) {
  EXPECT_FALSE(check_identity_name("alice@example.com"));
  EXPECT_FALSE(check_identity_name("a"));
  EXPECT_TRUE(check_identity_name(""));
  EXPECT_TRUE(check_identity_name(std::string(129, 'a')));
  EXPECT_TRUE(check_identity_name("bob smith"));
  EXPECT_FALSE(check_id("identity", "3f2b9c1e-0d4a-4a7e-9a51-1b2c3d4e5f60"));
  for (std::string bad : {std::string(), std::string("."), std::string(".."),
                          std::string("a/b"), std::string("a?b"), std::string("a%2Fb"),
                          std::string(129, 'x'), std::string("a\nb")}) {
    EXPECT_TRUE(check_id("identity", bad)) << bad;
  }
}

TEST(IpOrCidr, AcceptsAddressesAndRangesInSyntaxOnly) {
  for (const char* good : {"10.0.0.0/24", "10.0.0.1", "0.0.0.0/0", "255.255.255.255/32",
                           "10.0.0.1/8", "::1", "2001:db8::/32", "::/0", "fe80::1/128"}) {
    EXPECT_FALSE(check_ip_or_cidr(good)) << good;
  }
  for (const char* bad :
       {"", "10.0.0", "10.0.0.256", "10.0.0.0/33", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/08",
        "010.0.0.1", "10.0.0.0/24/1", "::1/129", "host.example", "10.0.0.0 /24", "1.2.3.4/2x",
        "1.2.3.4/99999999999999999999"}) {
    EXPECT_TRUE(check_ip_or_cidr(bad)) << bad;
  }
  EXPECT_TRUE(check_ip_or_cidr(std::string(100, '1')));
}

TEST(Actions, AreTheFiveOfTheContract) {
  for (const char* good :
       {"content/read", "content/write", "content/delete", "metadata/read", "metadata/write"}) {
    EXPECT_FALSE(check_action(good)) << good;
  }
  for (const char* bad : {"content/*", "Content/Read", "read", "content/read ", "metadata/delete",
                          ""}) {
    EXPECT_TRUE(check_action(bad)) << bad;
  }
}

TEST(RoleScopes, RegistryOrRepositoryOrPrefix) {
  for (const char* good : {"/registries/abcde", "/registries/abcde/repositories/team/app",
                           "/registries/abcde/repositories/team/*"}) {
    EXPECT_FALSE(check_role_scope(good)) << good;
  }
  for (const char* bad :
       {"", "/registries/", "/registries/ab", "registries/abcde", "/registries/abcde/",
        "/registries/abcde/repositories/", "/registries/abcde/repositories/*",
        "/registries/abcde/repositories/Team", "/registries/abcde/tokens/x",
        "/registries/abcde/repositories/team/*/x", "/registries/abc-de"}) {
    EXPECT_TRUE(check_role_scope(bad)) << bad;
  }
}

TEST(Rfc3339, ParsesToUtcSeconds) {
  auto at = [](std::string_view text) {
    auto seconds = parse_rfc3339(text);
    EXPECT_TRUE(seconds) << text;
    return seconds ? *seconds : -1;
  };
  EXPECT_EQ(at("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(at("2026-12-02T06:00:00Z"), 1796191200);
  EXPECT_EQ(at("2026-12-02T07:30:00+01:30"), 1796191200);
  EXPECT_EQ(at("2026-12-02t01:00:00-05:00"), 1796191200);
  EXPECT_EQ(at("2026-12-02T06:00:00.999z"), 1796191200);
  EXPECT_EQ(at("2024-02-29T00:00:00Z"), 1709164800);
  EXPECT_EQ(at("2000-02-29T00:00:00Z"), 951782400);
  EXPECT_EQ(format_rfc3339(1796191200), "2026-12-02T06:00:00Z");
  EXPECT_EQ(format_rfc3339(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(format_rfc3339(951782400), "2000-02-29T00:00:00Z");
  EXPECT_EQ(format_rfc3339(4102444799), "2099-12-31T23:59:59Z");
  for (std::int64_t t : {std::int64_t{0}, std::int64_t{86399}, std::int64_t{1796191200},
                         std::int64_t{4102444800}}) {
    EXPECT_EQ(at(format_rfc3339(t)), t);
  }
}

TEST(Rfc3339, RefusesWhatIsNotOne) {
  for (const char* bad :
       {"", "2026-12-02", "2026-12-02T06:00:00", "2026-12-02 06:00:00Z", "2026-13-02T06:00:00Z",
        "2026-00-02T06:00:00Z", "2026-02-29T06:00:00Z", "1900-02-29T00:00:00Z",
        "2026-04-31T00:00:00Z", "2026-12-02T24:00:00Z", "2026-12-02T06:60:00Z",
        "2026-12-02T06:00:61Z", "2026-12-02T06:00:00.Z", "2026-12-02T06:00:00+0100",
        "2026-12-02T06:00:00+24:00", "2026-12-02T06:00:00UTC", "+2026-12-02T06:00:00Z",
        "2026-1a-02T06:00:00Z", "2026-12-02T06:00:00Zjunk", "tomorrow"}) {
    auto seconds = parse_rfc3339(bad);
    ASSERT_FALSE(seconds) << bad;
    EXPECT_EQ(seconds.error().code, ExitCode::kUsage);
    EXPECT_NE(seconds.error().message.find("RFC 3339"), std::string::npos);
  }
  EXPECT_FALSE(parse_rfc3339(std::string("2026-12-02T06:00:00.") + std::string(100, '1') + "Z"));
}

TEST(HttpUrls, NeedSchemeAndHost) {
  EXPECT_FALSE(check_http_url("--issuer", "https://login.example/tenant/v2.0"));
  EXPECT_FALSE(check_http_url("--issuer", "http://127.0.0.1:8080"));
  for (const char* bad : {"", "ftp://x", "https://", "https:///path", "https://a b", "login.example"}) {
    auto problem = check_http_url("--issuer", bad);
    ASSERT_TRUE(problem) << bad;
    EXPECT_TRUE(problem->starts_with("--issuer '")) << *problem;
  }
}

TEST(BoundedNumber, PlainDigitsInRange) {
  EXPECT_EQ(parse_bounded_number("1", 1, 100), 1);
  EXPECT_EQ(parse_bounded_number("100", 1, 100), 100);
  EXPECT_EQ(parse_bounded_number("007", 1, 100), 7);
  EXPECT_EQ(parse_bounded_number("999999999999999999", 1, 999'999'999'999'999'999),
            999'999'999'999'999'999);
  for (const char* bad : {"", "0", "101", "-1", "+5", "1e2", "5 ", " 5", "0x10",
                          "9999999999999999999", "99999999999999999999"}) {
    EXPECT_FALSE(parse_bounded_number(bad, 1, 100)) << bad;
  }
}

TEST(PurgeAge, ZeroOrDaysHoursMinutesSecondsInThatOrder) {
  for (const char* ok : {"0", "30d", "1d12h", "90m", "45s", "1d2h3m4s", "0d", "36500d",
                         "36499d23h59m60s", "007d"}) {
    EXPECT_FALSE(check_purge_age(ok)) << ok;
  }
  for (const char* bad : {"", "30", "d", "1h1d", "1d1d", "1m2h", "-1d", "+1d", "1.5d", "1D",
                          "1w", "30d ", " 30d", "36501d", "36500d1s", "1d-2h", "00",
                          "9999999999999999999d"}) {
    EXPECT_TRUE(check_purge_age(bad)) << bad;
  }
  EXPECT_EQ(*check_purge_age("1h1d"),
            "'1h1d' is not an age: give \"0\", or days, hours, minutes and seconds in that order, "
            "e.g. 30d, 1d12h, 90m or 45s (at most 36500d)");
}

TEST(PurgeFilter, RepositoryRegexColonTagRegex) {
  for (const char* ok : {"app:.*", "team/.*:^dev-", "a:b:c", ".*:^v[0-9]{1,3}$"}) {
    EXPECT_FALSE(check_purge_filter(ok)) << ok;
  }
  for (const std::string& bad : {std::string(""), std::string("app"), std::string(":.*"),
                                 std::string("app:"), "a:" + std::string(255, 'x')}) {
    EXPECT_TRUE(check_purge_filter(bad)) << bad;
  }
  EXPECT_FALSE(check_purge_filter("a:" + std::string(254, 'x')));
}

TEST(CronExpression, FiveFieldsOfCronCharacters) {
  for (const char* ok : {"0 3 * * *", "*/15 * * * 1-5", "0 0,12 1 */2 0", " 0  3 * * * "}) {
    EXPECT_FALSE(check_cron_expression(ok)) << ok;
  }
  for (const char* bad : {"", "0 3 * *", "0 3 * * * *", "@daily", "0 3 * * MON", "0 3 ? * *"}) {
    EXPECT_TRUE(check_cron_expression(bad)) << bad;
  }
}

TEST(Size, NumberAndUnitInBytes) {
  struct Case {
    const char* text;
    std::uint64_t bytes;
  };
  for (auto [text, bytes] : {Case{"0B", 0}, Case{"512B", 512}, Case{"1KiB", 1024},
                             Case{"1.5KiB", 1536}, Case{"10GiB", 10ULL << 30},
                             Case{"2TiB", 2ULL << 40}, Case{"1MiB", 1 << 20},
                             Case{"1KB", 1000}, Case{"500MB", 500'000'000},
                             Case{"1.25GB", 1'250'000'000}, Case{"3TB", 3'000'000'000'000},
                             Case{"10gib", 10ULL << 30}, Case{"10 GiB", 10ULL << 30},
                             Case{"0.5KiB", 512}}) {
    auto parsed = parse_size(text);
    ASSERT_TRUE(parsed) << text;
    EXPECT_EQ(*parsed, bytes) << text;
  }
  for (const char* bad : {"", "10", "GiB", "10XB", "10 GiB ", "-1GiB", "1e3B", ".5KiB", "5.KiB",
                          "10GiBs", "10  GiB", "1.1234567KiB"}) {
    auto parsed = parse_size(bad);
    ASSERT_FALSE(parsed) << bad;
    EXPECT_EQ(parsed.error().code, ExitCode::kUsage) << bad;
  }
  EXPECT_NE(parse_size("1.5B").error().message.find("not a whole number of bytes"),
            std::string::npos);
  EXPECT_NE(parse_size("1000000TiB").error().message.find("more than"), std::string::npos);
  EXPECT_NE(parse_size("999999999999999999TB").error().message.find("more than"),
            std::string::npos);
}

TEST(IdentityFilter, PrintableWithoutSpaces) {
  EXPECT_FALSE(check_identity_filter("adminuser:myreg"));
  EXPECT_FALSE(check_identity_filter("5f0c-01@example.com"));
  EXPECT_FALSE(check_identity_filter(std::string(128, 'x')));
  for (const std::string& bad : {std::string(), std::string(129, 'x'), std::string("a b"),
                                 std::string("a\tb"), std::string("a\x7f")}) {
    EXPECT_TRUE(check_identity_filter(bad)) << bad;
  }
}

TEST(WebhookName, FiveToFiftyAlphanumerics) {
  EXPECT_FALSE(check_webhook_name("hook1"));
  EXPECT_FALSE(check_webhook_name("MyHook01"));
  EXPECT_FALSE(check_webhook_name(std::string(50, 'w')));
  for (const std::string& bad : {std::string("hook"), std::string(51, 'w'), std::string("my-hook"),
                                 std::string("my_hook"), std::string("hook 1"), std::string()}) {
    EXPECT_TRUE(check_webhook_name(bad)) << bad;
  }
  EXPECT_EQ(*check_webhook_name("hk"), "webhook name 'hk' must be 5-50 letters or digits");
}

TEST(WebhookScope, RepositoryAndTagWithWildcards) {
  for (const char* ok : {"", "app", "team/app", "team/app:v1", "app:*", "*:v1", "*", "team/*:*",
                         "a.b_c-d/e:1.0-rc_1", "App:Latest"}) {
    EXPECT_FALSE(check_webhook_scope(ok)) << ok;
  }
  for (const std::string& bad :
       {std::string(":v1"), std::string("app:"), std::string("app:v/1"), std::string("a b"),
        std::string("app@sha256:abc"), std::string("app:v1?"), std::string(513, 'a')}) {
    EXPECT_TRUE(check_webhook_scope(bad)) << bad;
  }
}

TEST(HeaderAssignment, NameEqualsValue) {
  auto header = parse_header_assignment("Authorization=Bearer abc=def");
  ASSERT_TRUE(header);
  EXPECT_EQ(header->name, "Authorization");
  EXPECT_EQ(header->value, "Bearer abc=def");  // the value runs to the end, '=' included
  auto empty = parse_header_assignment("X-Empty=");
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->value, "");
  EXPECT_TRUE(parse_header_assignment("X-Tab=a\tb"));
}

TEST(HeaderAssignment, RefusalsNeverRepeatTheValue) {
  struct Case {
    std::string text;
    std::string message;
  };
  for (const auto& [text, message] : std::vector<Case>{
           {"Authorization: Bearer s3cr3t", "header 'Authorization' must be NAME=VALUE"},
           {"=s3cr3t", "header '' must be NAME=VALUE"},
           {"Bad Name=s3cr3t", "header name 'Bad' has a character header names cannot hold"},
           {"X-Token=s3cr3t\r\nInjected: 1",
            "the value of header 'X-Token' must be at most 4096 visible ASCII characters or "
            "spaces"},
           {"X-Token=" + std::string(4097, 'a'),
            "the value of header 'X-Token' must be at most 4096 visible ASCII characters or "
            "spaces"}}) {
    auto header = parse_header_assignment(text);
    ASSERT_FALSE(header) << text;
    EXPECT_EQ(header.error().code, ExitCode::kUsage);
    EXPECT_TRUE(header.error().message.starts_with(message)) << header.error().message;
    EXPECT_EQ(header.error().message.find("s3cr3t"), std::string::npos) << header.error().message;
  }
}

TEST(ResourceName, FiveToFiftyLettersDigitsAndDashes) {
  for (const char* ok : {"dockerhub", "Docker-Hub-1", "a----", "12345"}) {
    EXPECT_FALSE(check_resource_name("cache rule", ok)) << ok;
  }
  for (const std::string& bad :
       std::vector<std::string>{"abcd", std::string(51, 'a'), "-abcd", "ab_cd", "ab.cd", "ab cd"}) {
    EXPECT_TRUE(check_resource_name("cache rule", bad)) << bad;
  }
  EXPECT_EQ(*check_resource_name("credential set", "ab"),
            "credential set name 'ab' must be 5-50 letters, digits or '-', starting with a "
            "letter or a digit");
}

TEST(UpstreamServer, HostOrHostAndPort) {
  for (const char* ok : {"docker.io", "ghcr.io", "localhost:5000", "10.0.0.5:443", "[::1]:5000",
                         "[fd00::1]", "Registry-1.Docker.IO"}) {
    EXPECT_FALSE(check_upstream_server(ok)) << ok;
  }
  for (const char* bad : {"", "https://docker.io", "docker.io/library", "user@docker.io",
                          "docker.io:0", "docker.io:65536", "docker.io:x", "-docker.io",
                          "docker..io", "[zz::1]", "doc ker.io"}) {
    EXPECT_TRUE(check_upstream_server(bad)) << bad;
  }
  EXPECT_NE(check_upstream_server("https://docker.io")->find("no scheme"), std::string::npos);
}

TEST(ImportSource, HostThenImage) {
  auto tagged = parse_import_source("docker.io/library/alpine:3.20");
  ASSERT_TRUE(tagged) << tagged.error().message;
  EXPECT_EQ(tagged->registry_uri, "docker.io");
  EXPECT_EQ(tagged->image, "library/alpine:3.20");
  EXPECT_EQ(tagged->repository, "library/alpine");

  auto pinned = parse_import_source("localhost:5000/team/app@" + kDigest);
  ASSERT_TRUE(pinned) << pinned.error().message;
  EXPECT_EQ(pinned->registry_uri, "localhost:5000");
  EXPECT_EQ(pinned->image, "team/app@" + kDigest);
  EXPECT_EQ(pinned->repository, "team/app");

  auto bare = parse_import_source("ghcr.io/org/tool");  // the server takes it as :latest
  ASSERT_TRUE(bare) << bare.error().message;
  EXPECT_EQ(bare->image, "org/tool");
  EXPECT_EQ(bare->repository, "org/tool");

  for (const std::string bad :
       {"alpine", "library/alpine:3", "docker.io/", "docker.io/Alpine:3", "docker.io/alpine:-x",
        "docker.io/alpine@sha256:abc", "https://docker.io/alpine:3", "docker.io:0/alpine:3"}) {
    auto refused = parse_import_source(bad);
    ASSERT_FALSE(refused) << bad;
    EXPECT_EQ(refused.error().code, ExitCode::kUsage);
  }
  EXPECT_NE(parse_import_source("library/alpine:3").error().message.find(
                "e.g. docker.io/library/alpine:3"),
            std::string::npos);
}

TEST(CacheRule, SourceTargetAndShape) {
  for (const char* ok : {"docker.io/library/nginx", "docker.io/library/*", "ghcr.io:443/org/*"}) {
    EXPECT_FALSE(check_cache_source(ok)) << ok;
  }
  for (const char* bad : {"docker.io", "docker.io/", "docker.io/*", "docker.io/Nginx", "library/x",
                          "https://docker.io/nginx", "docker.io/a/**"}) {
    EXPECT_TRUE(check_cache_source(bad)) << bad;
  }
  for (const char* ok : {"nginx", "hub/library/*", "a/b"}) {
    EXPECT_FALSE(check_cache_target(ok)) << ok;
  }
  for (const char* bad : {"", "*", "/*", "Hub/x", "hub//x"}) {
    EXPECT_TRUE(check_cache_target(bad)) << bad;
  }
  EXPECT_FALSE(check_cache_rule_shape("docker.io/library/*", "hub/*"));
  EXPECT_FALSE(check_cache_rule_shape("docker.io/library/nginx", "nginx"));
  EXPECT_TRUE(check_cache_rule_shape("docker.io/library/*", "nginx"));
  EXPECT_TRUE(check_cache_rule_shape("docker.io/library/nginx", "hub/*"));
}

TEST(TagTtl, ZeroToThirtyDays) {
  EXPECT_FALSE(check_tag_ttl("0"));
  EXPECT_FALSE(check_tag_ttl("3600"));
  EXPECT_FALSE(check_tag_ttl("2592000"));
  EXPECT_TRUE(check_tag_ttl("2592001"));
  EXPECT_TRUE(check_tag_ttl("-1"));
  EXPECT_TRUE(check_tag_ttl("1h"));
  EXPECT_TRUE(check_tag_ttl(""));
}

}  // namespace
}  // namespace berth::cli
