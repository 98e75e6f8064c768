#include "tasks/variables.h"

#include <fmt/format.h>

#include <cctype>
#include <ctime>

#include "tasks/text.h"

namespace berth::tasks {
namespace {

constexpr std::string_view kRunNames =
    "ID, Registry, RegistryName, Date, Commit, Branch, TaskName, OS and Architecture";

bool is_identifier_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_';
}

bool is_blank(char c) { return c == ' ' || c == '\t'; }

const std::string* run_variable(const RunVariables& variables, std::string_view name,
                                const std::string& date) {
  if (name == "ID") return &variables.id;
  if (name == "Registry") return &variables.registry;
  if (name == "RegistryName") return &variables.registry_name;
  if (name == "Date") return &date;
  if (name == "Commit") return &variables.commit;
  if (name == "Branch") return &variables.branch;
  if (name == "TaskName") return &variables.task_name;
  if (name == "OS") return &variables.os;
  if (name == "Architecture") return &variables.architecture;
  return nullptr;
}

class Renderer {
 public:
  Renderer(std::string_view text, const RunVariables& variables)
      : text_(text), variables_(variables), date_(format_run_date(variables.date)) {
    out_.source_line.push_back(1);
    out_.first_change.push_back(std::string::npos);
  }

  ParseResult<RenderedText> run() {
    std::size_t i = 0;
    while (i < text_.size()) {
      if (text_.compare(i, 2, "{{") == 0) {
        auto end = action(i);
        if (!end) return end.error();
        i = *end;
      } else if (text_[i] == '$') {
        i = dollar(i);
      } else {
        emit_source(text_[i]);
        ++i;
      }
    }
    return std::move(out_);
  }

 private:
  // --- output, keeping the map from rendered lines to the text as written ---

  void emit_source(char c) {
    out_.text += c;
    if (c == '\n') {
      ++source_line_;
      source_column_ = 0;
      new_rendered_line(std::string::npos);
    } else {
      ++source_column_;
      ++rendered_column_;
    }
  }

  // A substituted value in place of `consumed` characters of the text as written.
  void emit_value(std::string_view value, std::size_t consumed) {
    std::size_t& first = out_.first_change.back();
    if (first == std::string::npos) first = rendered_column_;
    for (char c : value) {
      out_.text += c;
      if (c == '\n') {
        new_rendered_line(0);  // wholly or partly substituted: columns unknown
      } else {
        ++rendered_column_;
      }
    }
    source_column_ += consumed;
  }

  void new_rendered_line(std::size_t first_change) {
    out_.source_line.push_back(source_line_);
    out_.first_change.push_back(first_change);
    rendered_column_ = 0;
  }

  // An error at the current position in the text as written.
  ParseError error_here(std::string reason) const {
    return ParseError{source_line_, source_column_ + 1, std::move(reason)};
  }

  // --- $ aliases ---

  std::size_t dollar(std::size_t i) {
    std::string_view rest = text_.substr(i + 1);
    if (!rest.empty() && rest.front() == '$') {
      emit_value("$", 2);
      return i + 2;
    }
    for (auto [name, value] :
         {std::pair<std::string_view, const std::string*>{"ID", &variables_.id},
          {"Registry", &variables_.registry}}) {
      if (rest.substr(0, name.size()) == name &&
          (rest.size() == name.size() || !is_identifier_char(rest[name.size()]))) {
        emit_value(*value, name.size() + 1);
        return i + name.size() + 1;
      }
    }
    emit_source('$');
    return i + 1;
  }

  // --- {{ actions }} ---

  // The action starting at `start` ("{{"); returns the index after its "}}".
  ParseResult<std::size_t> action(std::size_t start) {
    std::size_t line_end = text_.find('\n', start);
    if (line_end == std::string_view::npos) line_end = text_.size();
    std::string_view line = text_.substr(start, line_end - start);
    if (line.find("}}", 2) == std::string_view::npos) {
      return error_here("unterminated {{ (an action ends with }} on the same line)");
    }
    std::size_t i = 2;
    auto skip_blanks = [&] {
      while (i < line.size() && is_blank(line[i])) ++i;
    };
    skip_blanks();
    std::string value;
    if (i < line.size() && line[i] == '"') {
      std::size_t close = line.find('"', i + 1);
      if (close == std::string_view::npos) return unsupported(line);
      value = std::string(line.substr(i + 1, close - i - 1));
      i = close + 1;
    } else if (i < line.size() && line[i] == '.') {
      std::size_t path_start = i;
      while (i < line.size() && (line[i] == '.' || is_identifier_char(line[i]))) ++i;
      auto resolved = resolve(line.substr(path_start, i - path_start));
      if (!resolved) return resolved.error();
      value = std::move(*resolved);
    } else {
      return unsupported(line);
    }
    skip_blanks();
    if (line.substr(i, 2) != "}}") return unsupported(line);
    emit_value(value, i + 2);
    return start + i + 2;
  }

  ParseError unsupported(std::string_view line) const {
    std::size_t close = line.find("}}");
    std::string_view shown = close == std::string_view::npos ? line : line.substr(0, close + 2);
    return error_here(concat({"unsupported template action ", quoted(shown),
                              ": berth substitutes {{.Run.NAME}}, {{.Values.NAME}}, "
                              "{{.Secrets.ID}} and {{\"text\"}}"}));
  }

  // The value of ".Run.NAME", ".Values.NAME" or ".Secrets.ID". Errors point at the action's
  // "{{".
  ParseResult<std::string> resolve(std::string_view path) {
    std::size_t dot = path.find('.', 1);
    std::string_view scope = path.substr(1, dot == std::string_view::npos ? dot : dot - 1);
    std::string_view name = dot == std::string_view::npos ? "" : path.substr(dot + 1);
    std::string shown = concat({"{{", path, "}}"});
    if (name.empty() || name.find('.') != std::string_view::npos) {
      return error_here(concat({"unknown variable ", shown}));
    }
    if (scope == "Run") {
      if (const std::string* value = run_variable(variables_, name, date_)) return *value;
      return error_here(concat({"unknown variable ", shown, ": berth knows Run.", kRunNames}));
    }
    if (scope == "Values") {
      auto it = variables_.values.find(name);
      if (it == variables_.values.end()) {
        return error_here(concat({"no value was given for ", shown}));
      }
      return it->second;
    }
    if (scope == "Secrets") {
      out_.secret_uses.push_back({std::string(name), source_line_, source_column_ + 1});
      if (!variables_.secrets) return std::string();
      auto it = variables_.secrets->find(name);
      if (it == variables_.secrets->end()) {
        return error_here(concat({"the secret ", quoted(name), " has no value"}));
      }
      return it->second;
    }
    return error_here(
        concat({"unknown variable ", shown, ": berth knows .Run, .Values and .Secrets"}));
  }

  std::string_view text_;
  const RunVariables& variables_;
  std::string date_;
  RenderedText out_;
  std::size_t source_line_ = 1;
  std::size_t source_column_ = 0;    // 0-based, in the line as written
  std::size_t rendered_column_ = 0;  // 0-based, in the rendered line
};

}  // namespace

std::string format_run_date(std::int64_t unix_seconds) {
  std::time_t time = static_cast<std::time_t>(unix_seconds);
  std::tm utc{};
  ::gmtime_r(&time, &utc);
  return fmt::format("{:04}{:02}{:02}-{:02}{:02}{:02}z", utc.tm_year + 1900, utc.tm_mon + 1,
                     utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec);
}

std::pair<std::size_t, std::size_t> RenderedText::source_position(std::size_t line,
                                                                  std::size_t column) const {
  if (source_line.empty()) return {0, 0};
  if (line >= source_line.size()) return {source_line.back(), 0};
  bool column_known = first_change[line] == std::string::npos || column < first_change[line];
  return {source_line[line], column_known ? column + 1 : 0};
}

ParseResult<RenderedText> render_task_text(std::string_view text, const RunVariables& variables) {
  return Renderer(text, variables).run();
}

}  // namespace berth::tasks
