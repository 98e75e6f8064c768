#include "tasks/dockerfile.h"

#include <algorithm>
#include <cctype>
#include <optional>
#include <set>

#include "tasks/image_reference.h"
#include "tasks/text.h"

namespace berth::tasks {
namespace {

// The variables a FROM may use: the ARGs declared before the first FROM. nullopt: declared
// without a value (unset, which `${VAR-word}` tells apart from empty).
using MetaArgs = std::map<std::string, std::optional<std::string>, std::less<>>;

struct LogicalLine {
  std::size_t line = 0;  // 1-based, where the instruction starts
  std::string text;
};

bool is_blank(char c) { return c == ' ' || c == '\t'; }

std::string_view trim_left(std::string_view text) {
  while (!text.empty() && (is_blank(text.front()) || text.front() == '\r')) text.remove_prefix(1);
  return text;
}

std::string_view trim_right(std::string_view text) {
  while (!text.empty() && (is_blank(text.back()) || text.back() == '\r')) text.remove_suffix(1);
  return text;
}

std::string_view trim(std::string_view text) { return trim_left(trim_right(text)); }

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool is_name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_'; }

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    start = end + 1;
  }
  return lines;
}

bool is_comment_or_empty(std::string_view line) {
  std::string_view rest = trim_left(line);
  return rest.empty() || rest.front() == '#';
}

struct Directives {
  char escape = '\\';
  std::size_t first_line = 0;  // 0-based: the first line after the directives
};

// Parser directives ("# key=value") at the very top.
ParseResult<Directives> read_directives(const std::vector<std::string_view>& lines) {
  Directives directives;
  std::size_t& first = directives.first_line;
  for (; first < lines.size(); ++first) {
    std::string_view line = trim(lines[first]);
    if (line.empty() || line.front() != '#') break;
    line = trim_left(line.substr(1));
    std::size_t key_end = 0;
    while (key_end < line.size() && std::isalpha(static_cast<unsigned char>(line[key_end]))) {
      ++key_end;
    }
    std::string_view after_key = trim_left(line.substr(key_end));
    if (key_end == 0 || after_key.empty() || after_key.front() != '=') break;
    if (lower(line.substr(0, key_end)) != "escape") continue;  // syntax, check: not berth's
    std::string_view value = trim(after_key.substr(1));
    if (value != "\\" && value != "`") {
      return ParseError{first + 1, 0,
                        concat({"the escape directive takes '\\' or '`', not ", quoted(value)})};
    }
    directives.escape = value.front();
  }
  return directives;
}

bool ends_in_continuation(std::string_view line, char escape) {
  line = trim_right(line);
  return !line.empty() && line.back() == escape;
}

// The words of an instruction, split at blanks outside quotes; quotes and escapes are kept
// for expand_word.
std::vector<std::string> split_words(std::string_view text, char escape) {
  std::vector<std::string> words;
  std::string word;
  char quote = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quote == 0 && is_blank(c)) {
      if (!word.empty()) words.push_back(std::move(word));
      word.clear();
      continue;
    }
    word += c;
    if (c == escape && i + 1 < text.size() && quote != '\'') {
      word += text[++i];
    } else if (quote == 0 && (c == '"' || c == '\'')) {
      quote = c;
    } else if (c == quote) {
      quote = 0;
    }
  }
  if (!word.empty()) words.push_back(std::move(word));
  return words;
}

// The names of the heredocs a RUN, COPY or ADD line opens ("<<EOF", "<<-'EOF'", "3<<EOF"), with
// whether leading tabs are stripped before comparing the terminator.
std::vector<std::pair<std::string, bool>> heredocs(const std::vector<std::string>& words) {
  std::vector<std::pair<std::string, bool>> found;
  for (std::size_t i = 1; i < words.size(); ++i) {
    std::string_view word = words[i];
    while (!word.empty() && std::isdigit(static_cast<unsigned char>(word.front()))) {
      word.remove_prefix(1);
    }
    if (word.substr(0, 2) != "<<") continue;
    word.remove_prefix(2);
    bool strip_tabs = !word.empty() && word.front() == '-';
    if (strip_tabs) word.remove_prefix(1);
    if (word.size() >= 2 && (word.front() == '"' || word.front() == '\'') &&
        word.back() == word.front()) {
      word = word.substr(1, word.size() - 2);
    }
    if (word.empty() || !std::all_of(word.begin(), word.end(), is_name_char)) continue;
    found.emplace_back(std::string(word), strip_tabs);
  }
  return found;
}

// Joins continuation lines into instructions, dropping comments and empty lines, and skips
// the bodies of heredocs (a body line is not an instruction, whatever it says).
std::vector<LogicalLine> logical_lines(const std::vector<std::string_view>& lines,
                                       std::size_t first, char escape) {
  std::vector<LogicalLine> out;
  std::size_t i = first;
  while (i < lines.size()) {
    if (is_comment_or_empty(lines[i])) {
      ++i;
      continue;
    }
    LogicalLine logical{i + 1, {}};
    while (i < lines.size()) {
      std::string_view current = lines[i++];
      if (!ends_in_continuation(current, escape)) {
        logical.text += current;
        break;
      }
      current = trim_right(current);
      current.remove_suffix(1);
      logical.text += current;
      // Comment and empty lines inside a continuation are dropped, as BuildKit does.
      while (i < lines.size() && is_comment_or_empty(lines[i])) ++i;
    }
    auto words = split_words(logical.text, escape);
    std::string instruction = words.empty() ? std::string() : lower(words.front());
    if (instruction == "run" || instruction == "copy" || instruction == "add") {
      for (const auto& [name, strip_tabs] : heredocs(words)) {
        while (i < lines.size()) {
          std::string_view body = lines[i++];
          if (strip_tabs) {
            while (!body.empty() && body.front() == '\t') body.remove_prefix(1);
          }
          if (body == name) break;
        }
      }
    }
    out.push_back(std::move(logical));
  }
  return out;
}

// Why a word does not expand.
struct Why {
  std::string text;
};

class WordExpander {
 public:
  WordExpander(const MetaArgs& args, char escape) : args_(args), escape_(escape) {}

  // The word with quotes removed, escapes applied and variables substituted; why not as the
  // error.
  berth::Result<std::string, Why> expand(std::string_view word) const {
    std::string out;
    std::size_t i = 0;
    while (i < word.size()) {
      char c = word[i];
      if (c == escape_) {
        out += i + 1 < word.size() ? word[i + 1] : c;
        i += 2;
      } else if (c == '\'') {
        std::size_t close = word.find('\'', i + 1);
        if (close == std::string_view::npos) return unterminated(word);
        out += word.substr(i + 1, close - i - 1);
        i = close + 1;
      } else if (c == '"') {
        auto end = expand_double_quoted(word, i + 1, out);
        if (!end) return end.error();
        i = *end;
      } else if (c == '$') {
        auto end = expand_variable(word, i, out);
        if (!end) return end.error();
        i = *end;
      } else {
        out += c;
        ++i;
      }
    }
    // Spelled out: a string would also convert to Why.
    return {boost::system::in_place_value, std::move(out)};
  }

 private:
  static Why unterminated(std::string_view word) {
    return Why{concat({"unterminated quote in ", quoted(word)})};
  }

  // From after an opening '"'; returns the index after the closing one.
  berth::Result<std::size_t, Why> expand_double_quoted(std::string_view word, std::size_t i,
                                                       std::string& out) const {
    while (i < word.size()) {
      char c = word[i];
      if (c == '"') return i + 1;
      if (c == escape_ && i + 1 < word.size() &&
          (word[i + 1] == '"' || word[i + 1] == '$' || word[i + 1] == escape_)) {
        out += word[i + 1];
        i += 2;
      } else if (c == '$') {
        auto end = expand_variable(word, i, out);
        if (!end) return end.error();
        i = *end;
      } else {
        out += c;
        ++i;
      }
    }
    return unterminated(word);
  }

  // At a '$'; returns the index after what it substituted.
  berth::Result<std::size_t, Why> expand_variable(std::string_view word, std::size_t i,
                                                  std::string& out) const {
    if (i + 1 < word.size() && word[i + 1] == '{') return expand_braced(word, i, out);
    std::size_t end = i + 1;
    if (end < word.size() &&
        (std::isalpha(static_cast<unsigned char>(word[end])) != 0 || word[end] == '_')) {
      while (end < word.size() && is_name_char(word[end])) ++end;
      if (auto value = lookup(word.substr(i + 1, end - i - 1))) out += *value;
      return end;
    }
    out += '$';  // a '$' before anything else is itself
    return i + 1;
  }

  // ${NAME}, ${NAME:-word}, ${NAME-word}, ${NAME:+word}, ${NAME+word}; the word may itself
  // hold substitutions.
  berth::Result<std::size_t, Why> expand_braced(std::string_view word, std::size_t i,
                                                std::string& out) const {
    std::size_t close = matching_brace(word, i + 2);
    if (close == std::string_view::npos) {
      return Why{concat({"unterminated ${ in ", quoted(word)})};
    }
    std::string_view inner = word.substr(i + 2, close - i - 2);
    std::size_t name_end = 0;
    while (name_end < inner.size() && is_name_char(inner[name_end])) ++name_end;
    std::string_view name = inner.substr(0, name_end);
    std::string_view op = inner.substr(name_end);
    if (name.empty()) {
      return Why{concat({"bad substitution ", quoted(word.substr(i, close - i + 1))})};
    }
    std::optional<std::string> value = lookup(name);
    bool set = value.has_value();
    bool set_non_empty = set && !value->empty();
    std::optional<std::string_view> alternative;
    if (op.empty()) {
      if (value) out += *value;
      return close + 1;
    }
    if (op.substr(0, 2) == ":-") {
      if (set_non_empty)
        out += *value;
      else
        alternative = op.substr(2);
    } else if (op.front() == '-') {
      if (set)
        out += *value;
      else
        alternative = op.substr(1);
    } else if (op.substr(0, 2) == ":+") {
      if (set_non_empty) alternative = op.substr(2);
    } else if (op.front() == '+') {
      if (set) alternative = op.substr(1);
    } else {
      return Why{concat({"unsupported substitution ", quoted(word.substr(i, close - i + 1)),
                         ": berth reads ${VAR}, ${VAR:-word}, ${VAR-word}, ${VAR:+word} and "
                         "${VAR+word}"})};
    }
    if (alternative) {
      auto expanded = expand(*alternative);
      if (!expanded) return expanded.error();
      out += *expanded;
    }
    return close + 1;
  }

  // The '}' closing the "${" whose body starts at `i`, counting nested "${…}".
  static std::size_t matching_brace(std::string_view word, std::size_t i) {
    int depth = 0;
    for (; i < word.size(); ++i) {
      if (word[i] == '$' && i + 1 < word.size() && word[i + 1] == '{') {
        ++depth;
        ++i;
      } else if (word[i] == '}') {
        if (depth == 0) return i;
        --depth;
      }
    }
    return std::string_view::npos;
  }

  std::optional<std::string> lookup(std::string_view name) const {
    auto it = args_.find(name);
    if (it == args_.end()) return std::nullopt;
    return it->second;
  }

  const MetaArgs& args_;
  char escape_;
};

// ARG NAME[=default] [NAME2[=default2] ...] before the first FROM.
ParseResult<void> declare_args(const LogicalLine& line, const std::vector<std::string>& words,
                               const std::map<std::string, std::string>& given, char escape,
                               MetaArgs& args) {
  if (words.size() < 2) return ParseError{line.line, 0, "ARG without a name"};
  for (std::size_t w = 1; w < words.size(); ++w) {
    std::string_view declaration = words[w];
    std::size_t eq = declaration.find('=');
    std::string name(declaration.substr(0, eq));
    if (name.empty() || !std::all_of(name.begin(), name.end(), is_name_char)) {
      return ParseError{line.line, 0, concat({"ARG ", quoted(declaration), " has no valid name"})};
    }
    std::optional<std::string> value;
    if (eq != std::string_view::npos) {
      auto expanded = WordExpander(args, escape).expand(declaration.substr(eq + 1));
      if (!expanded) return ParseError{line.line, 0, expanded.error().text};
      value = std::move(*expanded);
    }
    if (auto it = given.find(name); it != given.end()) value = it->second;
    args[name] = std::move(value);
  }
  return {};
}

struct Stages {
  std::set<std::string> names;  // lower case, as BuildKit compares them
  std::vector<std::string> bases;
  std::set<std::string> seen;
};

// FROM [--platform=…] image [AS name]
ParseResult<void> read_from(const LogicalLine& line, const std::vector<std::string>& words,
                            const MetaArgs& args, char escape, Stages& stages) {
  std::size_t w = 1;
  for (; w < words.size() && words[w].substr(0, 2) == "--"; ++w) {
    if (words[w].substr(0, 11) != "--platform=") {
      return ParseError{line.line, 0,
                        concat({"FROM takes only --platform=<platform>, not ", quoted(words[w])})};
    }
  }
  if (w == words.size()) return ParseError{line.line, 0, "FROM without an image"};
  auto image = WordExpander(args, escape).expand(words[w]);
  if (!image) return ParseError{line.line, 0, image.error().text};
  std::size_t rest = words.size() - w - 1;
  std::optional<std::string> stage;
  if (rest == 2 && lower(words[w + 1]) == "as") {
    stage = lower(words[w + 2]);
  } else if (rest != 0) {
    return ParseError{line.line, 0, "FROM takes an image, then optionally AS and a stage name"};
  }
  if (image->empty()) {
    return ParseError{line.line, 0,
                      concat({"FROM ", quoted(words[w]), " names no image after substitution"})};
  }
  std::string name_lower = lower(*image);
  if (name_lower != "scratch" && stages.names.count(name_lower) == 0) {
    auto reference = parse_image_reference(*image);
    if (!reference) return ParseError{line.line, 0, concat({"FROM: ", reference.error()})};
    if (stages.seen.insert(*image).second) stages.bases.push_back(*image);
  }
  if (stage) stages.names.insert(*stage);
  return {};
}

}  // namespace

ParseResult<std::vector<std::string>> base_images(
    std::string_view dockerfile, const std::map<std::string, std::string>& build_args) {
  auto lines = split_lines(dockerfile);
  auto directives = read_directives(lines);
  if (!directives) return directives.error();
  const char escape = directives->escape;
  MetaArgs args;
  Stages stages;
  bool seen_from = false;
  for (const LogicalLine& line : logical_lines(lines, directives->first_line, escape)) {
    auto words = split_words(line.text, escape);
    if (words.empty()) continue;
    std::string instruction = lower(words.front());
    if (instruction == "from") {
      seen_from = true;
      if (auto read = read_from(line, words, args, escape, stages); !read) return read.error();
    } else if (instruction == "arg" && !seen_from) {
      if (auto declared = declare_args(line, words, build_args, escape, args); !declared) {
        return declared.error();
      }
    } else if (!seen_from) {
      return ParseError{
          line.line, 0,
          concat({quoted(words.front()), " comes before the first FROM: only ARG may come first"})};
    }
  }
  if (!seen_from) return ParseError{0, 0, "the Dockerfile has no FROM instruction"};
  return std::move(stages.bases);
}

}  // namespace berth::tasks
