#include "tasks/build_args.h"

#include <algorithm>
#include <array>
#include <cctype>

#include "tasks/text.h"

namespace berth::tasks {
namespace {

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// --- word splitting ---

// Appends the body of a double-quoted string starting after the opening quote at `open`;
// returns the index of the closing quote, or npos when there is none.
std::size_t append_double_quoted(std::string_view text, std::size_t open, std::string& word) {
  std::size_t j = open + 1;
  while (j < text.size()) {
    char c = text[j];
    if (c == '"') return j;
    if (c == '\\' && j + 1 < text.size()) {
      char next = text[j + 1];
      if (next == '"' || next == '\\' || next == '$' || next == '`') {
        word += next;
        j += 2;
        continue;
      }
      if (next == '\n') {  // a line continuation inside quotes disappears
        j += 2;
        continue;
      }
    }
    word += c;
    ++j;
  }
  return std::string_view::npos;
}

// --- docker build flags ---

enum class Flag { tag, file, build_arg, target, platform, no_cache, pull, label };

struct FlagSpec {
  std::string_view long_name;
  std::string_view short_name;  // empty: none
  bool takes_value;
  Flag flag;
};

constexpr std::array<FlagSpec, 8> kBuildFlags = {{
    {"--tag", "-t", true, Flag::tag},
    {"--file", "-f", true, Flag::file},
    {"--build-arg", "", true, Flag::build_arg},
    {"--target", "", true, Flag::target},
    {"--platform", "", true, Flag::platform},
    {"--no-cache", "", false, Flag::no_cache},
    {"--pull", "", false, Flag::pull},
    {"--label", "", true, Flag::label},
}};

constexpr std::string_view kSupportedFlags =
    "-t/--tag, -f/--file, --build-arg, --target, --platform, --no-cache, --pull and --label";

const FlagSpec* find_flag(std::string_view name) {
  for (const FlagSpec& spec : kBuildFlags) {
    if (name == spec.long_name || (!spec.short_name.empty() && name == spec.short_name)) {
      return &spec;
    }
  }
  return nullptr;
}

bool starts_with(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

bool ends_with(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

// docker's rule (urlutil.IsGitURL): a git:// or git@ URL, a github.com/ path, or an http(s)
// URL whose part before the fragment ends in ".git".
bool is_git_url(std::string_view text) {
  if (starts_with(text, "git://") || starts_with(text, "git@") ||
      starts_with(text, "github.com/")) {
    return true;
  }
  if (starts_with(text, "http://") || starts_with(text, "https://")) {
    std::string_view before_fragment = text.substr(0, text.find('#'));
    return ends_with(before_fragment, ".git");
  }
  return false;
}

// Why `path` is not a relative path that stays inside its base directory, or nullopt.
std::optional<std::string> check_inner_path(std::string_view path, std::string_view what) {
  std::string why = concat({what, " ", quoted(path)});
  if (path.empty()) return why += " is empty";
  if (path.front() == '/') return why += " is an absolute path: it must be relative";
  int depth = 0;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    std::string_view component = path.substr(start, slash - start);
    if (component == "..") {
      if (--depth < 0) return why += " leaves its directory ('..')";
    } else if (!component.empty() && component != ".") {
      ++depth;
    }
    start = slash + 1;
  }
  return std::nullopt;
}

// os[/arch[/variant]], each part letters, digits, '_', '.' or '-'.
bool is_platform(std::string_view text) {
  std::size_t parts = 0;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t slash = text.find('/', start);
    if (slash == std::string_view::npos) slash = text.size();
    std::string_view part = text.substr(start, slash - start);
    if (part.empty() || !std::all_of(part.begin(), part.end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '.' ||
                 c == '-';
        })) {
      return false;
    }
    ++parts;
    start = slash + 1;
  }
  return parts >= 1 && parts <= 3;
}

bool has_blank(std::string_view text) { return std::any_of(text.begin(), text.end(), is_blank); }

std::optional<std::string> apply_flag(const FlagSpec& spec, const std::string& value,
                                      BuildArgs& args) {
  switch (spec.flag) {
    case Flag::tag: {
      auto reference = parse_image_reference(value);
      if (!reference) return concat({"--tag: ", reference.error()});
      if (reference->digest) {
        return concat(
            {"--tag ", quoted(value), " names a digest: a tag is [registry/]repository[:tag]"});
      }
      args.tags.push_back(std::move(*reference));
      return std::nullopt;
    }
    case Flag::file:
      if (value == "-") {
        return std::string("--file - (a Dockerfile on standard input) is not supported");
      }
      if (auto why = check_inner_path(value, "--file")) return why;
      args.dockerfile = value;
      return std::nullopt;
    case Flag::build_arg: {
      std::size_t eq = value.find('=');
      std::string name = value.substr(0, eq);
      if (name.empty() || has_blank(name)) {
        return concat(
            {"--build-arg ", quoted(value), " does not start with a name (NAME=VALUE or NAME)"});
      }
      std::optional<std::string> arg_value;
      if (eq != std::string::npos) arg_value = value.substr(eq + 1);
      args.build_args.push_back({std::move(name), std::move(arg_value)});
      return std::nullopt;
    }
    case Flag::target:
      if (value.empty() || has_blank(value)) {
        return concat({"--target ", quoted(value), " is not a stage name"});
      }
      args.target = value;
      return std::nullopt;
    case Flag::platform:
      if (!is_platform(value)) {
        return concat({"--platform ", quoted(value), " is not os[/architecture[/variant]]"});
      }
      args.platform = value;
      return std::nullopt;
    case Flag::label: {
      std::size_t eq = value.find('=');
      std::string key = value.substr(0, eq);
      if (key.empty()) {
        return concat({"--label ", quoted(value), " does not start with a key (KEY=VALUE)"});
      }
      args.labels.push_back({std::move(key), eq == std::string::npos ? "" : value.substr(eq + 1)});
      return std::nullopt;
    }
    case Flag::no_cache:
    case Flag::pull:
      break;
  }
  return std::nullopt;
}

// `value`: what followed '=' ("--pull=false"), or nullptr.
std::optional<std::string> apply_switch(const FlagSpec& spec, const std::string* value,
                                        BuildArgs& args) {
  bool on = true;
  if (value != nullptr) {
    if (*value == "true") {
      on = true;
    } else if (*value == "false") {
      on = false;
    } else {
      std::string why(spec.long_name);
      why += " takes true or false, not ";
      why += quoted(*value);
      return why;
    }
  }
  (spec.flag == Flag::no_cache ? args.no_cache : args.pull) = on;
  return std::nullopt;
}

std::optional<std::string> set_context(std::string_view context, BuildArgs& args) {
  if (context == "-") return std::string("a context on standard input ('-') is not supported");
  if (is_git_url(context)) {
    args.context = std::string(context);
    args.context_kind = ContextKind::git;
    return std::nullopt;
  }
  if (context.find("://") != std::string_view::npos) {
    return concat({"the context ", quoted(context),
                   " is a URL but not a git repository: berth takes a directory or a git URL"});
  }
  if (auto why = check_inner_path(context, "the context")) return why;
  args.context = std::string(context);
  args.context_kind = ContextKind::directory;
  return std::nullopt;
}

}  // namespace

berth::Result<std::vector<std::string>, std::string> split_arguments(std::string_view text) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (is_blank(c)) {
      if (in_word) words.push_back(std::move(word));
      word.clear();
      in_word = false;
    } else if (c == '\'') {
      std::size_t close = text.find('\'', i + 1);
      if (close == std::string_view::npos) {
        return concat({"unterminated single quote at character ", std::to_string(i + 1)});
      }
      word += text.substr(i + 1, close - i - 1);
      in_word = true;
      i = close;
    } else if (c == '"') {
      std::size_t close = append_double_quoted(text, i, word);
      if (close == std::string_view::npos) {
        return concat({"unterminated double quote at character ", std::to_string(i + 1)});
      }
      in_word = true;
      i = close;
    } else if (c == '\\') {
      if (i + 1 == text.size()) return std::string("a backslash ends the arguments");
      ++i;
      if (text[i] == '\n') continue;  // backslash-newline joins lines
      word += text[i];
      in_word = true;
    } else {
      word += c;
      in_word = true;
    }
  }
  if (in_word) words.push_back(std::move(word));
  return words;
}

berth::Result<BuildArgs, std::string> parse_build_args(std::span<const std::string> argv) {
  BuildArgs args;
  std::vector<std::string> positionals;
  bool flags_ended = false;
  for (std::size_t i = 0; i < argv.size(); ++i) {
    const std::string& arg = argv[i];
    if (flags_ended || arg.size() < 2 || arg[0] != '-') {
      positionals.push_back(arg);
      continue;
    }
    if (arg == "--") {
      flags_ended = true;
      continue;
    }
    std::string name;
    std::optional<std::string> value;
    if (starts_with(arg, "--")) {
      std::size_t eq = arg.find('=');
      name = arg.substr(0, eq);
      if (eq != std::string::npos) value = arg.substr(eq + 1);
    } else {
      name = arg.substr(0, 2);
      if (arg.size() > 2) value = arg[2] == '=' ? arg.substr(3) : arg.substr(2);
    }
    const FlagSpec* spec = find_flag(name);
    if (spec == nullptr) {
      // A long flag is named without its value; an unknown short one as written.
      std::string_view shown = starts_with(arg, "--") ? std::string_view(name) : arg;
      return concat(
          {"unsupported flag ", quoted(shown), ": berth's build takes ", kSupportedFlags});
    }
    if (!spec->takes_value) {
      if (auto why = apply_switch(*spec, value ? &*value : nullptr, args)) return *why;
      continue;
    }
    if (!value) {
      if (i + 1 == argv.size()) return concat({spec->long_name, " needs a value"});
      value = argv[++i];
    }
    if (auto why = apply_flag(*spec, *value, args)) return *why;
  }
  if (positionals.empty()) {
    return std::string("the build context is missing (for example '.')");
  }
  if (positionals.size() > 1) {
    return concat(
        {"more than one build context: ", quoted(positionals[0]), " and ", quoted(positionals[1])});
  }
  if (auto why = set_context(positionals.front(), args)) return *why;
  return args;
}

berth::Result<BuildArgs, std::string> parse_build_command(std::string_view text) {
  auto words = split_arguments(text);
  if (!words) return words.error();
  return parse_build_args(*words);
}

berth::Result<CmdArgs, std::string> parse_cmd(std::string_view text) {
  auto words = split_arguments(text);
  if (!words) return words.error();
  if (words->empty()) {
    return std::string("the command is empty: write an image, then its arguments");
  }
  const std::string& image = words->front();
  if (image.front() == '-') {
    return concat({"a cmd step starts with its image, not with ", quoted(image),
                   ": options of docker run are not supported (use the step's properties)"});
  }
  auto reference = parse_image_reference(image);
  if (!reference) return concat({"the command's image: ", reference.error()});
  CmdArgs cmd{std::move(*reference), {}};
  cmd.args.assign(std::make_move_iterator(words->begin() + 1),
                  std::make_move_iterator(words->end()));
  return cmd;
}

}  // namespace berth::tasks
