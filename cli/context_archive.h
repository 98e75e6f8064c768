#pragma once
// Packing a build context: the directory `berth build` uploads, as a gzip-compressed tar, with
// the files .dockerignore excludes left out.
//
// .dockerignore follows docker's rules (moby's patternmatcher): one pattern per line; a line
// starting with '#' is a comment; blanks around a pattern are trimmed; a pattern is cleaned as
// a path (so "./a//b/" is "a/b" and a leading '/' is dropped); "!" before a pattern makes it an
// exception that takes files back in. Patterns: '*' matches any run of characters but '/', '?'
// one character but '/', "[a-c]" one of a set ('^' is not a negation, as in docker), '\' escapes
// the next character, "**" any number of directories (also none: "**/x" matches "x" and "a/b/x";
// "x/**" everything below x). A pattern that matches a directory excludes everything below it;
// when several patterns match, the last one wins. The Dockerfile and .dockerignore themselves
// are always sent, as docker sends them.

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "cli/error.h"

namespace berth::cli {

class IgnoreRules {
 public:
  struct Pattern;

  IgnoreRules();
  ~IgnoreRules();
  IgnoreRules(IgnoreRules&&) noexcept;
  IgnoreRules& operator=(IgnoreRules&&) noexcept;

  // The rules of a .dockerignore; a usage error naming the line for "!" alone or a pattern
  // with an unterminated '['.
  static Result<IgnoreRules> parse(std::string_view dockerignore);

  // Adds an exception for exactly `path` (after every pattern, so it wins).
  void always_include(std::string_view path);

  // Whether `path` (relative to the context, '/'-separated, without "./") is left out: the last
  // pattern matching it or one of its parent directories decides.
  bool excluded(std::string_view path) const;

  // Whether an exception may take back something below the directory `path`, so that an
  // excluded directory must still be walked. Errs on the side of walking.
  bool may_include_below(std::string_view path) const;

 private:
  std::vector<Pattern> patterns_;
};

struct PackOptions {
  // The Dockerfile, relative to the context (always sent). Must stay inside the context.
  std::string dockerfile = "Dockerfile";
};

struct PackSummary {
  std::uint64_t files = 0;  // regular files sent
  std::uint64_t directories = 0;
  std::uint64_t symlinks = 0;
  std::uint64_t file_bytes = 0;     // the regular files' contents
  std::uint64_t archive_bytes = 0;  // the compressed archive written
  std::vector<std::string> notes;   // what was not sent and why (sockets, FIFOs, devices)
};

// Writes `context` to `fd` as a tar.gz: regular files, directories and symbolic links (as
// links: a link is never followed, inside the context or out of it), in sorted order, with
// their permission bits and modification times (whole seconds), owned by uid/gid 0 with no
// user or group names, and no timestamp in the gzip header, so the same tree gives the same
// bytes. Entry names are relative ("app/main.go", directories end in '/'). The file behind `fd`
// is itself left out if it lies inside the context. `fd` stays open.
//
// Errors: a usage error when `context` is not a directory, the .dockerignore does not parse, or
// the Dockerfile path leaves the context; a failure for anything unreadable, a file changing
// while it is read, or a write that fails.
Result<PackSummary> pack_context(const std::filesystem::path& context, int fd,
                                 const PackOptions& options = {});

// The same into a new file at `archive` (mode 0600, replaced if it exists), which is removed
// again when packing fails.
Result<PackSummary> pack_context(const std::filesystem::path& context,
                                 const std::filesystem::path& archive,
                                 const PackOptions& options = {});

}  // namespace berth::cli
