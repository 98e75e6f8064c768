#include "tasks/task_file.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <map>

#include "tasks/text.h"

namespace berth::tasks {
namespace {

constexpr std::string_view kDefaultVersion = "v1.0.0";
constexpr std::array<std::string_view, 2> kVersions = {"v1.0.0", "v1.1.0"};
constexpr std::string_view kStepIdPrefix = "acb_step_";
constexpr std::string_view kStartAtOnce = "-";

// Keys of the hosted service's format that berth does not run: refused by name, so that a file
// written for the hosted service fails clearly instead of running differently.
constexpr std::array<std::string_view, 3> kUnsupportedTopKeys = {"networks", "volumes", "alias"};
constexpr std::array<std::string_view, 14> kUnsupportedStepKeys = {
    "detach",       "startDelay",
    "repeat",       "network",
    "ports",        "expose",
    "privileged",   "user",
    "pull",         "secret",
    "isolation",    "tty",
    "volumeMounts", "disableWorkingDirectoryOverride"};
constexpr std::array<std::string_view, 2> kUnsupportedSecretKeys = {"keyvault", "clientID"};

template <std::size_t N>
bool contains(const std::array<std::string_view, N>& list, std::string_view value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

bool is_step_id(std::string_view id) {
  if (id.empty() || id.size() > kMaxStepIdLength || id == kStartAtOnce) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '_' || c == '-';
  });
}

// A key of a mapping with its value; the key's node gives its position.
struct Entry {
  std::string key;
  YAML::Node key_node;
  YAML::Node value;
};

// Reads the YAML of a rendered task file, reporting positions in the file as written.
class Reader {
 public:
  explicit Reader(const RenderedText& rendered) : rendered_(rendered) {}

  ParseError at(const YAML::Node& node, std::string reason) const {
    return at(node.Mark(), std::move(reason));
  }

  ParseError at(const YAML::Mark& mark, std::string reason) const {
    if (mark.is_null()) return ParseError{0, 0, std::move(reason)};
    auto [line, column] = rendered_.source_position(static_cast<std::size_t>(mark.line),
                                                    static_cast<std::size_t>(mark.column));
    return ParseError{line, column, std::move(reason)};
  }

  // The entries of a mapping, each once; an error for a duplicate or a non-scalar key.
  ParseResult<std::vector<Entry>> entries(const YAML::Node& map) const {
    std::vector<Entry> out;
    for (auto it = map.begin(); it != map.end(); ++it) {
      if (!it->first.IsScalar()) return at(it->first, "a key must be a plain name");
      std::string key = it->first.Scalar();
      for (const Entry& seen : out) {
        if (seen.key == key) return at(it->first, concat({"duplicate key ", quoted(key)}));
      }
      // No key of the format takes an empty value; and an empty value's position is that of
      // whatever follows it, so the error points at the key.
      if (it->second.IsNull()) return at(it->first, concat({quoted(key), " has no value"}));
      out.push_back({std::move(key), it->first, it->second});
    }
    return out;
  }

  // The 1-based line of `node` in the file as written.
  std::size_t line_of(const YAML::Node& node) const { return at(node, "").line; }

  ParseResult<std::string> string_value(const YAML::Node& node, std::string_view what) const {
    if (!node.IsScalar()) return at(node, concat({what, " must be a string"}));
    return node.Scalar();
  }

  ParseResult<std::int64_t> int_value(const YAML::Node& node, std::string_view what,
                                      std::int64_t min, std::int64_t max) const {
    std::string range = concat({" (", std::to_string(min), " to ", std::to_string(max), ")"});
    // A quoted "600" is a string, as the hosted service reads it.
    if (!node.IsScalar() || node.Tag() != "?") {
      return at(node, concat({what, " must be a whole number", range}));
    }
    const std::string& text = node.Scalar();
    std::int64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec == std::errc::result_out_of_range ||
        (ec == std::errc() && (value < min || value > max) && end == text.data() + text.size())) {
      return at(node, concat({what, " ", quoted(text), " is out of range", range}));
    }
    if (ec != std::errc() || end != text.data() + text.size()) {
      return at(node, concat({what, " must be a whole number", range, ", not ", quoted(text)}));
    }
    return value;
  }

  ParseResult<bool> bool_value(const YAML::Node& node, std::string_view what) const {
    if (node.IsScalar() && node.Tag() == "?") {
      std::string text = node.Scalar();
      std::transform(text.begin(), text.end(), text.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      if (text == "true") return true;
      if (text == "false") return false;
    }
    return at(node, concat({what, " must be true or false"}));
  }

  // A list of strings, with each item's node (for positions).
  ParseResult<std::vector<std::pair<std::string, YAML::Node>>> string_list(
      const YAML::Node& node, std::string_view what) const {
    if (!node.IsSequence()) return at(node, concat({what, " must be a list"}));
    std::vector<std::pair<std::string, YAML::Node>> out;
    for (const YAML::Node& item : node) {
      if (!item.IsScalar()) return at(item, concat({"each item of ", what, " must be a string"}));
      out.emplace_back(item.Scalar(), item);
    }
    return out;
  }

  ParseResult<std::vector<EnvVar>> env_list(const YAML::Node& node) const {
    auto items = string_list(node, "env");
    if (!items) return items.error();
    std::vector<EnvVar> env;
    for (const auto& [text, item] : *items) {
      std::size_t eq = text.find('=');
      if (eq == 0 || eq == std::string::npos) {
        return at(item, concat({"env ", quoted(text), " is not NAME=VALUE"}));
      }
      set_env(env, {text.substr(0, eq), text.substr(eq + 1)});
    }
    return env;
  }

  // Sets or replaces a variable, keeping the order of first setting.
  static void set_env(std::vector<EnvVar>& env, EnvVar var) {
    auto it =
        std::find_if(env.begin(), env.end(), [&](const EnvVar& e) { return e.name == var.name; });
    if (it == env.end()) {
      env.push_back(std::move(var));
    } else {
      it->value = std::move(var.value);
    }
  }

 private:
  const RenderedText& rendered_;
};

ParseError unknown_key(const Reader& reader, const YAML::Node& key, std::string_view where,
                       bool known_unsupported) {
  if (known_unsupported) {
    return reader.at(key, concat({quoted(key.Scalar()), " ", where, " is not supported by berth"}));
  }
  return reader.at(key, concat({"unknown key ", quoted(key.Scalar()), " ", where}));
}

ParseResult<std::vector<TaskSecret>> read_secrets(const Reader& reader, const YAML::Node& node) {
  if (!node.IsSequence()) return reader.at(node, "secrets must be a list");
  std::vector<TaskSecret> secrets;
  for (const YAML::Node& item : node) {
    if (!item.IsMap()) return reader.at(item, "each secret must be a mapping with id and name");
    auto entries = reader.entries(item);
    if (!entries) return entries.error();
    TaskSecret secret;
    secret.line = reader.line_of(item);
    for (const auto& [key, key_node, value] : *entries) {
      if (key == "id" || key == "name") {
        auto text = reader.string_value(value, concat({"a secret's ", key}));
        if (!text) return text.error();
        (key == "id" ? secret.id : secret.name) = std::move(*text);
      } else if (contains(kUnsupportedSecretKeys, key)) {
        return reader.at(key_node, concat({quoted(key),
                                           " in a secret is not supported by berth: a secret "
                                           "names a registry's stored secret with 'name'"}));
      } else {
        return unknown_key(reader, key_node, "in a secret", false);
      }
    }
    if (!is_step_id(secret.id)) {
      return reader.at(item, "a secret needs an id (letters, digits, '.', '_' or '-')");
    }
    if (secret.name.empty()) {
      return reader.at(item, concat({"the secret ", quoted(secret.id),
                                     " needs a name (the registry's stored secret)"}));
    }
    for (const TaskSecret& other : secrets) {
      if (other.id == secret.id) {
        return reader.at(item, concat({"duplicate secret id ", quoted(secret.id)}));
      }
    }
    secrets.push_back(std::move(secret));
  }
  return secrets;
}

// A step as read, before its dependencies are resolved.
struct RawStep {
  Step step;
  std::optional<std::vector<std::pair<std::string, YAML::Node>>> when;
};

ParseResult<PushImages> read_push(const Reader& reader, const YAML::Node& node) {
  auto items = reader.string_list(node, "push");
  if (!items) return items.error();
  if (items->empty()) return reader.at(node, "push lists no image");
  PushImages push;
  for (const auto& [text, item] : *items) {
    auto reference = parse_image_reference(text);
    if (!reference) return reader.at(item, concat({"push: ", reference.error()}));
    if (reference->digest) {
      return reader.at(item,
                       concat({"push: ", quoted(text),
                               " names a digest: push an image by [registry/]repository[:tag]"}));
    }
    if (std::find(push.images.begin(), push.images.end(), *reference) == push.images.end()) {
      push.images.push_back(std::move(*reference));
    }
  }
  return push;
}

class StepReader {
 public:
  StepReader(const Reader& reader, const TaskFile& file) : reader_(reader), file_(file) {}

  ParseResult<RawStep> read(const YAML::Node& node, std::size_t index) {
    if (!node.IsMap()) return reader_.at(node, "each step must be a mapping");
    RawStep raw;
    Step& step = raw.step;
    step.line = reader_.line_of(node);
    step.id = concat({kStepIdPrefix, std::to_string(index)});
    step.timeout_seconds = file_.step_timeout_seconds;
    step.env = file_.env;
    step.working_directory = file_.working_directory;
    auto entries = reader_.entries(node);
    if (!entries) return entries.error();
    std::optional<std::string> kind;
    std::optional<YAML::Node> kind_node;
    // Properties that depend on the kind are checked once the kind is known.
    std::vector<std::pair<std::string, YAML::Node>> kind_bound;
    for (const auto& [key, key_node, value] : *entries) {
      if (key == "build" || key == "push" || key == "cmd") {
        if (kind) {
          return reader_.at(key_node, concat({"a step has both ", *kind, " and ", key,
                                              ": write one kind per step"}));
        }
        kind = key;
        kind_node = value;
      } else if (key == "entryPoint" || key == "keep" || key == "workingDirectory") {
        kind_bound.emplace_back(key, key_node);
        if (auto read = property(step, key, value); !read) return read.error();
      } else if (key == "when") {
        auto when = reader_.string_list(value, "when");
        if (!when) return when.error();
        if (when->empty()) {
          return reader_.at(value, "when lists no step (write [\"-\"] to start at once)");
        }
        raw.when = std::move(*when);
      } else if (auto read = property(step, key, value); !read) {
        return read.error();
      } else if (!*read) {
        return unknown_key(reader_, key_node, "in a step", contains(kUnsupportedStepKeys, key));
      }
    }
    if (!kind) return reader_.at(node, "a step needs one of build, push or cmd");
    if (auto action = read_action(step, *kind, *kind_node); !action) return action.error();
    for (const auto& [key, key_node] : kind_bound) {
      bool cmd_only = key != "workingDirectory";
      if ((cmd_only && step.kind() != StepKind::cmd) ||
          (!cmd_only && step.kind() == StepKind::push)) {
        return reader_.at(key_node, concat({quoted(key), " does not apply to a ", *kind, " step"}));
      }
    }
    return raw;
  }

 private:
  // Reads a common property; false when `key` is not one.
  ParseResult<bool> property(Step& step, const std::string& key, const YAML::Node& value) {
    if (key == "id") {
      auto id = reader_.string_value(value, "id");
      if (!id) return id.error();
      if (!is_step_id(*id)) {
        return reader_.at(value, concat({"the step id ", quoted(*id),
                                         " must be 1 to 128 letters, digits, '.', '_' or '-' "
                                         "(and not \"-\")"}));
      }
      step.id = std::move(*id);
    } else if (key == "timeout") {
      return assign(step.timeout_seconds,
                    reader_.int_value(value, "timeout", 1, kMaxTimeoutSeconds));
    } else if (key == "retries") {
      return assign(step.retries, reader_.int_value(value, "retries", 0, kMaxRetries));
    } else if (key == "retryDelay") {
      return assign(step.retry_delay_seconds,
                    reader_.int_value(value, "retryDelay", 0, kMaxRetryDelaySeconds));
    } else if (key == "ignoreErrors") {
      return assign(step.ignore_errors, reader_.bool_value(value, "ignoreErrors"));
    } else if (key == "keep") {
      return assign(step.keep, reader_.bool_value(value, "keep"));
    } else if (key == "env") {
      auto env = reader_.env_list(value);
      if (!env) return env.error();
      for (EnvVar& var : *env) Reader::set_env(step.env, std::move(var));
    } else if (key == "workingDirectory") {
      return assign(step.working_directory, reader_.string_value(value, "workingDirectory"));
    } else if (key == "entryPoint") {
      auto entry_point = reader_.string_value(value, "entryPoint");
      if (!entry_point) return entry_point.error();
      step.entry_point = std::move(*entry_point);
    } else {
      return false;
    }
    return true;
  }

  template <class T, class U>
  static ParseResult<bool> assign(T& field, ParseResult<U> value) {
    if (!value) return value.error();
    field = std::move(*value);
    return true;
  }

  ParseResult<void> read_action(Step& step, const std::string& kind, const YAML::Node& node) {
    if (kind == "push") {
      auto push = read_push(reader_, node);
      if (!push) return push.error();
      step.action = std::move(*push);
      return {};
    }
    auto text = reader_.string_value(node, kind);
    if (!text) return text.error();
    step.text = *text;
    if (kind == "build") {
      auto build = parse_build_command(*text);
      if (!build) return reader_.at(node, concat({"build: ", build.error()}));
      step.action = std::move(*build);
    } else {
      auto cmd = parse_cmd(*text);
      if (!cmd) return reader_.at(node, concat({"cmd: ", cmd.error()}));
      step.action = std::move(*cmd);
    }
    return {};
  }

  const Reader& reader_;
  const TaskFile& file_;
};

ParseResult<void> resolve_dependencies(const Reader& reader, std::vector<RawStep>& raw,
                                       TaskFile& file) {
  for (std::size_t i = 0; i < raw.size(); ++i) {
    Step& step = file.steps[i];
    if (!raw[i].when) {
      if (i > 0) step.dependencies.push_back(i - 1);
      continue;
    }
    const auto& when = *raw[i].when;
    bool at_once = std::any_of(when.begin(), when.end(),
                               [](const auto& item) { return item.first == kStartAtOnce; });
    if (at_once) {
      if (when.size() > 1) {
        return reader.at(when.front().second,
                         "when: [\"-\"] starts a step at once and cannot be mixed with step ids");
      }
      continue;
    }
    for (const auto& [id, item] : when) {
      auto index = file.step_index(id);
      if (!index) return reader.at(item, concat({"when names ", quoted(id), ", which is no step"}));
      if (*index == i)
        return reader.at(item, concat({"the step ", quoted(id), " waits for itself"}));
      if (std::find(step.dependencies.begin(), step.dependencies.end(), *index) ==
          step.dependencies.end()) {
        step.dependencies.push_back(*index);
      }
    }
  }
  return {};
}

// A cycle among the dependencies, as the step indices around it (first == last); empty: none.
std::vector<std::size_t> find_cycle(const TaskFile& file) {
  enum class Color { white, grey, black };
  std::vector<Color> color(file.steps.size(), Color::white);
  for (std::size_t root = 0; root < file.steps.size(); ++root) {
    if (color[root] != Color::white) continue;
    // (step, next dependency to look at)
    std::vector<std::pair<std::size_t, std::size_t>> stack = {{root, 0}};
    color[root] = Color::grey;
    while (!stack.empty()) {
      auto& [step, next] = stack.back();
      const auto& dependencies = file.steps[step].dependencies;
      if (next == dependencies.size()) {
        color[step] = Color::black;
        stack.pop_back();
        continue;
      }
      std::size_t dependency = dependencies[next++];
      if (color[dependency] == Color::grey) {
        std::vector<std::size_t> cycle;
        auto from = std::find_if(stack.begin(), stack.end(),
                                 [&](const auto& frame) { return frame.first == dependency; });
        for (auto it = from; it != stack.end(); ++it) cycle.push_back(it->first);
        cycle.push_back(dependency);
        return cycle;
      }
      if (color[dependency] == Color::white) {
        color[dependency] = Color::grey;
        stack.emplace_back(dependency, 0);
      }
    }
  }
  return {};
}

ParseResult<void> check_secret_uses(const RenderedText& rendered, const TaskFile& file) {
  for (const SecretUse& use : rendered.secret_uses) {
    bool declared = std::any_of(file.secrets.begin(), file.secrets.end(),
                                [&](const TaskSecret& secret) { return secret.id == use.id; });
    if (!declared) {
      return ParseError{
          use.line, use.column,
          concat({"{{.Secrets.", use.id, "}}: the file declares no secret ", quoted(use.id)})};
    }
  }
  return {};
}

// Wrapped: YAML::Node has a constructor from anything, so ParseResult<YAML::Node> could not tell
// a node from an error.
struct Document {
  YAML::Node root;
};

ParseResult<Document> load_yaml(const Reader& reader, const std::string& text) {
  std::vector<YAML::Node> documents;
  try {
    documents = YAML::LoadAll(text);
  } catch (const YAML::Exception& e) {
    return reader.at(e.mark, concat({"not valid YAML: ", e.msg}));
  }
  if (documents.empty() || documents.front().IsNull()) {
    return ParseError{0, 0, "the task file is empty"};
  }
  if (documents.size() > 1) {
    return reader.at(documents[1], "a task file holds one YAML document, not several");
  }
  if (!documents.front().IsMap()) {
    return reader.at(documents.front(), "a task file is a mapping (version, steps, …)");
  }
  return Document{documents.front()};
}

ParseResult<void> read_top_level(const Reader& reader, const YAML::Node& root, TaskFile& file,
                                 std::optional<YAML::Node>& steps) {
  auto entries = reader.entries(root);
  if (!entries) return entries.error();
  // stepTimeout first: the steps take it as their default, wherever it is written.
  for (const auto& [key, key_node, value] : *entries) {
    if (key != "stepTimeout") continue;
    auto timeout = reader.int_value(value, "stepTimeout", 1, kMaxTimeoutSeconds);
    if (!timeout) return timeout.error();
    file.step_timeout_seconds = *timeout;
  }
  for (const auto& [key, key_node, value] : *entries) {
    if (key == "version") {
      auto version = reader.string_value(value, "version");
      if (!version) return version.error();
      if (!contains(kVersions, *version)) {
        return reader.at(value, concat({"version ", quoted(*version),
                                        " is not supported: berth reads v1.0.0 and v1.1.0"}));
      }
      file.version = std::move(*version);
    } else if (key == "stepTimeout") {
      continue;
    } else if (key == "workingDirectory") {
      auto directory = reader.string_value(value, "workingDirectory");
      if (!directory) return directory.error();
      file.working_directory = std::move(*directory);
    } else if (key == "env") {
      auto env = reader.env_list(value);
      if (!env) return env.error();
      file.env = std::move(*env);
    } else if (key == "secrets") {
      auto secrets = read_secrets(reader, value);
      if (!secrets) return secrets.error();
      file.secrets = std::move(*secrets);
    } else if (key == "steps") {
      steps = value;
    } else {
      return unknown_key(reader, key_node, "at the top of the task file",
                         contains(kUnsupportedTopKeys, key));
    }
  }
  if (!steps) return ParseError{0, 0, "the task file has no steps"};
  if (!steps->IsSequence()) return reader.at(*steps, "steps must be a list");
  if (steps->size() == 0) return reader.at(*steps, "steps lists no step");
  return {};
}

}  // namespace

std::optional<std::size_t> TaskFile::step_index(std::string_view id) const {
  for (std::size_t i = 0; i < steps.size(); ++i) {
    if (steps[i].id == id) return i;
  }
  return std::nullopt;
}

ParseResult<TaskFile> parse_task_file(std::string_view text, const RunVariables& variables) {
  if (text.size() > kMaxTaskFileBytes) {
    return ParseError{0, 0, "the task file is larger than 1 MiB"};
  }
  auto rendered = render_task_text(text, variables);
  if (!rendered) return rendered.error();
  Reader reader(*rendered);
  auto root = load_yaml(reader, rendered->text);
  if (!root) return root.error();

  TaskFile file;
  file.version = std::string(kDefaultVersion);
  std::optional<YAML::Node> steps_node;
  if (auto top = read_top_level(reader, root->root, file, steps_node); !top) return top.error();

  std::vector<RawStep> raw;
  StepReader step_reader(reader, file);
  for (const YAML::Node& node : *steps_node) {
    auto step = step_reader.read(node, raw.size());
    if (!step) return step.error();
    for (const RawStep& other : raw) {
      if (other.step.id == step->step.id) {
        return reader.at(node, concat({"duplicate step id ", quoted(step->step.id)}));
      }
    }
    raw.push_back(std::move(*step));
  }
  for (RawStep& step : raw) file.steps.push_back(step.step);
  if (auto resolved = resolve_dependencies(reader, raw, file); !resolved) return resolved.error();
  if (auto cycle = find_cycle(file); !cycle.empty()) {
    std::string path;
    for (std::size_t index : cycle) {
      if (!path.empty()) path += " -> ";
      path += file.steps[index].id;
    }
    return ParseError{file.steps[cycle.front()].line, 0,
                      concat({"the steps depend on each other in a cycle: ", path})};
  }
  if (auto secrets = check_secret_uses(*rendered, file); !secrets) return secrets.error();
  return file;
}

std::vector<std::size_t> ready_steps(const TaskFile& file, const std::set<std::string>& finished,
                                     const std::set<std::string>& started) {
  std::vector<std::size_t> ready;
  for (std::size_t i = 0; i < file.steps.size(); ++i) {
    const Step& step = file.steps[i];
    if (started.count(step.id) != 0 || finished.count(step.id) != 0) continue;
    bool waiting = std::any_of(
        step.dependencies.begin(), step.dependencies.end(),
        [&](std::size_t dependency) { return finished.count(file.steps[dependency].id) == 0; });
    if (!waiting) ready.push_back(i);
  }
  return ready;
}

}  // namespace berth::tasks
