#pragma once
// The variables of a task file, substituted in its text before the YAML is read (as the hosted
// service does, so a variable may stand anywhere, also in a key or a list).
//
//   {{.Run.ID}}            the run's id ("cb12")
//   {{.Run.Registry}}      the registry's login server ("127.0.0.1:5000", "team.example.com")
//   {{.Run.RegistryName}}  the registry's name
//   {{.Run.Date}}          the run's start, UTC, "20261203-175000z" (yyyyMMdd-HHmmss and 'z')
//   {{.Run.Commit}}        the commit a git trigger ran for ("" otherwise)
//   {{.Run.Branch}}        the branch a git trigger ran for ("" otherwise)
//   {{.Run.TaskName}}      the task's name ("" for a quick run)
//   {{.Run.OS}}            "linux"
//   {{.Run.Architecture}}  "amd64", "arm64"… (Go's names, as the hosted service uses)
//   {{.Values.NAME}}       a value given with the run (--set NAME=VALUE)
//   {{.Secrets.ID}}        the value of the secret the file declares with that id
//   {{"text"}}             the text itself (how to write "{{" literally: {{"{{"}})
//   $ID, $Registry         aliases of {{.Run.ID}} and {{.Run.Registry}}, only as whole names:
//                          "$RegistryName" and "$IDX" are left alone
//   $$                     a literal '$'
//
// Blanks may pad an action ("{{ .Run.ID }}"). Any other action (pipelines, functions, "{{-")
// is an error, as are an unknown .Run name, a .Values name no value was given for, and an
// unterminated "{{". A substituted value is not scanned again.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tasks/parse_error.h"

namespace berth::tasks {

struct RunVariables {
  std::string id;
  std::string registry;  // login server
  std::string registry_name;
  std::int64_t date = 0;  // Unix seconds
  std::string commit;
  std::string branch;
  std::string task_name;
  std::string os = "linux";
  std::string architecture = "amd64";
  std::map<std::string, std::string, std::less<>> values;
  // The secrets' values by id, once resolved. nullopt while checking a file before a run: each
  // {{.Secrets.ID}} then becomes an empty string.
  std::optional<std::map<std::string, std::string, std::less<>>> secrets;
};

// "20261203-175000z" for 2026-12-03 17:50:00 UTC.
std::string format_run_date(std::int64_t unix_seconds);

// A {{.Secrets.ID}} in the text, so that the parser can check that the file declares ID.
struct SecretUse {
  std::string id;
  std::size_t line = 0;
  std::size_t column = 0;
};

// The text after substitution, with what a parser of it needs to report positions in the
// text as written: a substituted value may be longer or shorter, or span lines.
struct RenderedText {
  std::string text;
  std::vector<std::size_t> source_line;  // per rendered line (0-based): its 1-based line
  // per rendered line: the 0-based column of its first substitution (npos: none), before
  // which columns are those of the text as written
  std::vector<std::size_t> first_change;
  std::vector<SecretUse> secret_uses;

  // The position in the text as written of a 0-based rendered line and column: the 1-based
  // line, and the 1-based column when it is known (0 otherwise).
  std::pair<std::size_t, std::size_t> source_position(std::size_t line, std::size_t column) const;
};

// Substitutes the variables above. A {{.Secrets.ID}} without a value in `variables.secrets`
// (when given) is an error.
ParseResult<RenderedText> render_task_text(std::string_view text, const RunVariables& variables);

}  // namespace berth::tasks
