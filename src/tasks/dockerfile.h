#pragma once
// The base images of a Dockerfile: what a build pulls, so that a push of one of them can start
// the tasks that build on it.
//
// Read as BuildKit reads it: parser directives at the top (only `escape` matters here: it
// changes the line-continuation and escape character from '\' to '`'), comment lines, empty
// lines and line continuations, heredocs of RUN/COPY/ADD skipped. ARG instructions before the
// first FROM declare the variables a FROM may use (`$VAR`, `${VAR}`, `${VAR:-default}`,
// `${VAR-default}`, `${VAR:+alt}`, `${VAR+alt}`); a given build arg overrides a declared
// default, and one that is not declared is not seen (as in docker). `FROM [--platform=…] image
// [AS name]`: an image naming an earlier stage, and `scratch`, are not bases.

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "tasks/parse_error.h"

namespace berth::tasks {

// The base image references as written after substitution, in order of first use, each once.
// Errors (with the line): no FROM, a FROM without an image or with more than `image AS name`, an
// instruction other than ARG before the first FROM, a substitution that is not one of the forms
// above, a base that is not a valid image reference after substitution.
ParseResult<std::vector<std::string>> base_images(
    std::string_view dockerfile, const std::map<std::string, std::string>& build_args);

}  // namespace berth::tasks
