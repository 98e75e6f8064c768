#pragma once
// The argument strings of task steps: splitting one into words without a shell, the arguments
// of a `build` step (those of `docker build`) and of a `cmd` step (an image, then the command).
//
// Nothing here runs a shell or expands anything: "$HOME" stays "$HOME", "*" stays "*".

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "tasks/image_reference.h"

namespace berth::tasks {

// Splits `text` into words as a POSIX shell does, and only that: blanks (space, tab, newline)
// separate words; '…' keeps everything literally; "…" keeps everything but lets a backslash
// escape '"', '\', '$' and '`' (before any other character the backslash stays); outside
// quotes a backslash escapes the next character and backslash-newline joins lines. "" and ''
// make an empty word. An unterminated quote or a trailing backslash is an error.
berth::Result<std::vector<std::string>, std::string> split_arguments(std::string_view text);

// A --build-arg: NAME=VALUE, or NAME alone (docker then takes the value from the environment
// of the build; the caller decides what that environment is).
struct BuildArg {
  std::string name;
  std::optional<std::string> value;
  bool operator==(const BuildArg&) const = default;
};

// A --label: KEY=VALUE, or KEY alone (an empty value, as docker does).
struct Label {
  std::string key;
  std::string value;
  bool operator==(const Label&) const = default;
};

enum class ContextKind {
  directory,  // "." or a relative path inside the step's working directory
  git,  // git://…, git@host:…, github.com/…, or http(s)://….git, with an optional #ref:dir
};

// The arguments of `docker build` that berth runs.
struct BuildArgs {
  std::vector<ImageReference> tags;  // -t/--tag, in order; never with a digest
  // -f/--file as given: relative to the step's working directory for a directory context, to
  // the repository's context directory for a git context. nullopt: "Dockerfile" in the context.
  std::optional<std::string> dockerfile;
  std::vector<BuildArg> build_args;  // --build-arg, in order (a later one wins, as in docker)
  std::string target;                // --target; empty: the last stage
  std::string platform;              // --platform (os[/arch[/variant]]); empty: the host's
  bool no_cache = false;             // --no-cache
  bool pull = false;                 // --pull
  std::vector<Label> labels;         // --label, in order
  std::string context;               // the one positional argument
  ContextKind context_kind = ContextKind::directory;
};

// Parses `docker build` arguments (without "docker build"). Flags may be written "-t x", "-tx",
// "-t=x", "--tag x" or "--tag=x"; booleans "--pull" or "--pull=true|false"; "--" ends the flags.
// Any other flag is an error naming it. Exactly one context is required; an absolute path, a
// path leaving the working directory ("../x"), "-" (a context on standard input) or a URL that
// is not a git repository is refused, and so is an absolute or escaping -f path.
berth::Result<BuildArgs, std::string> parse_build_args(std::span<const std::string> argv);
// split_arguments, then parse_build_args.
berth::Result<BuildArgs, std::string> parse_build_command(std::string_view text);

// A `cmd` step: the image to run, then the command's arguments (none: the image's default
// command).
struct CmdArgs {
  ImageReference image;
  std::vector<std::string> args;
};

// split_arguments, then the first word as an image reference. An empty command is an error.
berth::Result<CmdArgs, std::string> parse_cmd(std::string_view text);

}  // namespace berth::tasks
