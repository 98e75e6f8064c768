#include "tasks/dockerfile.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace berth::tasks {
namespace {

using Refs = std::vector<std::string>;

Refs bases(std::string_view dockerfile, const std::map<std::string, std::string>& args = {}) {
  auto found = base_images(dockerfile, args);
  EXPECT_TRUE(found) << (found ? "" : found.error().to_string());
  return found ? *found : Refs{};
}

ParseError error_of(std::string_view dockerfile) {
  auto found = base_images(dockerfile, {});
  EXPECT_FALSE(found) << dockerfile;
  return found ? ParseError{} : found.error();
}

TEST(Dockerfile, StagesScratchAndDuplicatesAreNotBases) {
  EXPECT_EQ(bases("FROM golang:1.22 AS build\n"
                  "RUN go build\n"
                  "FROM --platform=linux/amd64 alpine:3.20 as runtime\n"
                  "COPY --from=build /out /out\n"
                  "FROM build AS test\n"
                  "FROM BUILD\n"  // stage names compare in lower case
                  "FROM scratch\n"
                  "FROM golang:1.22\n"
                  "FROM 127.0.0.1:5000/base:1\n"),
            (Refs{"golang:1.22", "alpine:3.20", "127.0.0.1:5000/base:1"}));
}

TEST(Dockerfile, SubstitutesArgsDeclaredBeforeTheFirstFrom) {
  std::string_view dockerfile =
      "ARG REGISTRY=127.0.0.1:5000\n"
      "ARG BASE_TAG\n"
      "ARG VARIANT=\"slim\" FLAVOR=${VARIANT}-x\n"
      "FROM ${REGISTRY}/base:${BASE_TAG:-1}\n"
      "FROM $REGISTRY/$FLAVOR\n"
      "FROM debian:${UNSET_TAG-bookworm}\n"
      "FROM debian:${VARIANT:+bookworm-}${VARIANT}\n"
      "ARG LATE=never\n"
      "FROM late:${LATE:-early}\n";
  EXPECT_EQ(bases(dockerfile), (Refs{"127.0.0.1:5000/base:1", "127.0.0.1:5000/slim-x",
                                     "debian:bookworm", "debian:bookworm-slim", "late:early"}));
  // Given build args override declared defaults; undeclared ones are not seen.
  EXPECT_EQ(bases(dockerfile,
                  {{"BASE_TAG", "2"}, {"REGISTRY", "r.example.com"}, {"UNSET_TAG", "ignored"}}),
            (Refs{"r.example.com/base:2", "r.example.com/slim-x", "debian:bookworm",
                  "debian:bookworm-slim", "late:early"}));
  // Declared but empty: ":-" takes the default, "-" keeps the empty value.
  EXPECT_EQ(bases("ARG T=\nFROM a:${T:-x}\nFROM b${T-:y}\n"), (Refs{"a:x", "b"}));
}

TEST(Dockerfile, ContinuationsCommentsDirectivesAndHeredocs) {
  EXPECT_EQ(bases("# syntax=docker/dockerfile:1\n"
                  "# escape=\\\n"
                  "\n"
                  "# a comment\n"
                  "  from \\\n"
                  "# inside the continuation\n"
                  "\n"
                  "    alpine:3.20 \\\n"
                  "    AS base\n"
                  "RUN <<EOF\n"
                  "FROM not-a-base\n"
                  "EOF\n"
                  "RUN <<-'END' cat\n"
                  "\tFROM also-not-a-base\n"
                  "\tEND\n"
                  "FROM base\r\n"
                  "FROM busybox\n"),
            (Refs{"alpine:3.20", "busybox"}));
  // The escape directive changes the continuation character.
  EXPECT_EQ(bases("# escape=`\nFROM `\n  alpine\nRUN dir c:\\\nFROM busybox\n"),
            (Refs{"alpine", "busybox"}));
}

TEST(Dockerfile, ErrorsNameTheLine) {
  ParseError none = error_of("# only a comment\nARG X=1\n");
  EXPECT_EQ(none.line, 0u);
  EXPECT_EQ(none.reason, "the Dockerfile has no FROM instruction");
  ParseError empty = error_of("FROM alpine\nFROM\n");
  EXPECT_EQ(empty.line, 2u);
  EXPECT_EQ(empty.reason, "FROM without an image");
  EXPECT_EQ(error_of("FROM --platform=linux/amd64\n").reason, "FROM without an image");
  EXPECT_EQ(error_of("\nRUN true\nFROM alpine\n").line, 2u);
  EXPECT_EQ(error_of("FROM a b c d\n").line, 1u);
  EXPECT_NE(error_of("FROM --pull=true alpine\n").reason.find("only --platform"),
            std::string::npos);
  ParseError bad = error_of("ARG X\nFROM $X\n");
  EXPECT_EQ(bad.line, 2u);
  EXPECT_NE(bad.reason.find("no image after substitution"), std::string::npos);
  EXPECT_NE(error_of("FROM Alpine\n").reason.find("FROM:"), std::string::npos);
  EXPECT_NE(error_of("ARG X\nFROM ${X:?boom}\n").reason.find("unsupported substitution"),
            std::string::npos);
  EXPECT_NE(error_of("ARG X\nFROM ${X\n").reason.find("unterminated"), std::string::npos);
  EXPECT_EQ(error_of("# escape=x\nFROM a\n").line, 1u);
  EXPECT_EQ(error_of("FROM alpine\nFROM \"unterminated\n").line, 2u);
}

}  // namespace
}  // namespace berth::tasks
