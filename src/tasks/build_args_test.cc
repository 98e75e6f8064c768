#include "tasks/build_args.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace berth::tasks {
namespace {

using Words = std::vector<std::string>;

Words split(std::string_view text) {
  auto words = split_arguments(text);
  EXPECT_TRUE(words) << text << ": " << (words ? "" : words.error());
  return words ? *words : Words{};
}

std::string build_error(std::string_view text) {
  auto args = parse_build_command(text);
  EXPECT_FALSE(args) << text;
  return args ? std::string() : args.error();
}

TEST(SplitArguments, QuotesAndEscapesWithoutAShell) {
  EXPECT_EQ(split("  a  b\tc\nd "), (Words{"a", "b", "c", "d"}));
  EXPECT_EQ(split("'a b' \"c d\" e\\ f"), (Words{"a b", "c d", "e f"}));
  EXPECT_EQ(split("x'y'\"z\""), (Words{"xyz"}));
  EXPECT_EQ(split("'' \"\""), (Words{"", ""}));
  // Inside double quotes a backslash escapes only " \ $ and `.
  EXPECT_EQ(split(R"("a\"b" "c\\d" "e\$f" "g\nh")"), (Words{"a\"b", "c\\d", "e$f", "g\\nh"}));
  // Single quotes keep backslashes.
  EXPECT_EQ(split(R"('a\b')"), (Words{"a\\b"}));
  // No expansion, no globbing.
  EXPECT_EQ(split("$HOME * ~ `x`"), (Words{"$HOME", "*", "~", "`x`"}));
  // Backslash-newline joins lines.
  EXPECT_EQ(split("a\\\nb c"), (Words{"ab", "c"}));
  EXPECT_EQ(split(""), Words{});
}

TEST(SplitArguments, RefusesUnterminatedQuotesAndATrailingBackslash) {
  auto single = split_arguments("echo 'abc");
  ASSERT_FALSE(single);
  EXPECT_EQ(single.error(), "unterminated single quote at character 6");
  auto dbl = split_arguments("echo \"abc\\\"");
  ASSERT_FALSE(dbl);
  EXPECT_EQ(dbl.error(), "unterminated double quote at character 6");
  EXPECT_FALSE(split_arguments("abc \\"));
}

TEST(BuildArgs, ParsesTheFlagsBerthRuns) {
  auto args = parse_build_command(
      "-t 127.0.0.1:5000/app:cb1 --tag=127.0.0.1:5000/app:latest -f docker/Dockerfile "
      "--build-arg VERSION=1.2=3 --build-arg PROXY --target final --platform linux/arm64/v8 "
      "--no-cache --pull=false --label org.example=\"a b\" --label empty .");
  ASSERT_TRUE(args) << args.error();
  ASSERT_EQ(args->tags.size(), 2u);
  EXPECT_EQ(args->tags[0].str(), "127.0.0.1:5000/app:cb1");
  EXPECT_EQ(args->tags[1].str(), "127.0.0.1:5000/app:latest");
  EXPECT_EQ(args->dockerfile, "docker/Dockerfile");
  EXPECT_EQ(args->build_args,
            (std::vector<BuildArg>{{"VERSION", "1.2=3"}, {"PROXY", std::nullopt}}));
  EXPECT_EQ(args->target, "final");
  EXPECT_EQ(args->platform, "linux/arm64/v8");
  EXPECT_TRUE(args->no_cache);
  EXPECT_FALSE(args->pull);
  EXPECT_EQ(args->labels, (std::vector<Label>{{"org.example", "a b"}, {"empty", ""}}));
  EXPECT_EQ(args->context, ".");
  EXPECT_EQ(args->context_kind, ContextKind::directory);
}

TEST(BuildArgs, ShortFlagsTakeAttachedValuesAndDefaultsApply) {
  auto args = parse_build_command("-tapp:1 -t=app:2 --pull sub/dir");
  ASSERT_TRUE(args) << args.error();
  ASSERT_EQ(args->tags.size(), 2u);
  EXPECT_EQ(args->tags[0].str(), "app:1");
  EXPECT_EQ(args->tags[1].str(), "app:2");
  EXPECT_FALSE(args->dockerfile);
  EXPECT_TRUE(args->pull);
  EXPECT_FALSE(args->no_cache);
  EXPECT_EQ(args->context, "sub/dir");
  // After "--" everything is positional.
  auto dashed = parse_build_command("-- -weird-dir");
  ASSERT_TRUE(dashed) << dashed.error();
  EXPECT_EQ(dashed->context, "-weird-dir");
}

TEST(BuildArgs, TakesGitContexts) {
  for (const char* url :
       {"https://github.com/team/app.git#main:src", "git://127.0.0.1:9418/repo.git",
        "git@github.com:team/app.git", "github.com/team/app", "http://host/repo.git"}) {
    auto args = parse_build_command(std::string("-t app ") + url);
    ASSERT_TRUE(args) << url << ": " << args.error();
    EXPECT_EQ(args->context_kind, ContextKind::git) << url;
    EXPECT_EQ(args->context, url);
  }
}

TEST(BuildArgs, RefusesWhatBerthDoesNotRun) {
  EXPECT_EQ(build_error("--network host ."),
            "unsupported flag '--network': berth's build takes -t/--tag, -f/--file, --build-arg, "
            "--target, --platform, --no-cache, --pull and --label");
  EXPECT_NE(build_error("-q .").find("'-q'"), std::string::npos);
  EXPECT_NE(build_error("--secret=id=x .").find("'--secret'"), std::string::npos);
  EXPECT_EQ(build_error("-t app"), "the build context is missing (for example '.')");
  EXPECT_EQ(build_error("a b"), "more than one build context: 'a' and 'b'");
  EXPECT_TRUE(parse_build_command("."));  // a context alone is enough
}

TEST(BuildArgs, RefusesBadValues) {
  EXPECT_EQ(build_error("-t"), "--tag needs a value");
  EXPECT_NE(build_error("-t App .").find("--tag:"), std::string::npos);
  EXPECT_NE(build_error(std::string("-t app@sha256:") + std::string(64, 'a') + " .")
                .find("names a digest"),
            std::string::npos);
  EXPECT_NE(build_error("--pull=yes .").find("true or false"), std::string::npos);
  EXPECT_NE(build_error("--build-arg =x .").find("does not start with a name"), std::string::npos);
  EXPECT_NE(build_error("--label =x .").find("does not start with a key"), std::string::npos);
  EXPECT_NE(build_error("--platform linux//arm .").find("os[/architecture"), std::string::npos);
  EXPECT_NE(build_error("/abs").find("absolute path"), std::string::npos);
  EXPECT_NE(build_error("a/../../b").find("leaves its directory"), std::string::npos);
  EXPECT_NE(build_error("-f ../Dockerfile .").find("--file '../Dockerfile' leaves"),
            std::string::npos);
  EXPECT_NE(build_error("-f - .").find("standard input"), std::string::npos);
  EXPECT_NE(build_error("-").find("standard input"), std::string::npos);
  EXPECT_NE(build_error("https://example.com/context.tar.gz").find("not a git repository"),
            std::string::npos);
  EXPECT_NE(build_error("-t 'unterminated .").find("unterminated single quote"), std::string::npos);
}

TEST(ParseCmd, ImageThenArguments) {
  auto cmd = parse_cmd("127.0.0.1:5000/app:cb1 sh -c \"echo 'hello world'\"");
  ASSERT_TRUE(cmd) << cmd.error();
  EXPECT_EQ(cmd->image.str(), "127.0.0.1:5000/app:cb1");
  EXPECT_EQ(cmd->args, (Words{"sh", "-c", "echo 'hello world'"}));
  auto bare = parse_cmd("bash");
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->image.repository, "bash");
  EXPECT_TRUE(bare->args.empty());
}

TEST(ParseCmd, RefusesAnEmptyCommandFlagsAndBadImages) {
  auto empty = parse_cmd("  ");
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error(), "the command is empty: write an image, then its arguments");
  auto flag = parse_cmd("--rm alpine true");
  ASSERT_FALSE(flag);
  EXPECT_NE(flag.error().find("not with '--rm'"), std::string::npos) << flag.error();
  auto bad = parse_cmd("Alpine true");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find("the command's image:"), std::string::npos) << bad.error();
  EXPECT_FALSE(parse_cmd("alpine 'x"));
}

}  // namespace
}  // namespace berth::tasks
