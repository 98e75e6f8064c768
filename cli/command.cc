#include "cli/command.h"

#include <fmt/format.h>

#include <tuple>

#include "cli/validate.h"
#include "cli/views.h"

namespace berth::cli {

Result<std::string> Context::token_flag() {
  if (options_.token != "-") return options_.token;
  auto line = read_stdin_line("--token -");
  if (!line) return line.error();
  options_.token = *line;
  return *line;
}

Result<std::string> Context::read_stdin_line(std::string_view flag) {
  if (!stdin_reader_.empty()) {
    return usage_error(fmt::format("{} and {} both read standard input; give one of them a value",
                                   stdin_reader_, flag));
  }
  stdin_reader_ = std::string(flag);
  std::string line;
  std::getline(in_, line);
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  if (line.empty()) return usage_error(fmt::format("{}: nothing on standard input", flag));
  return line;
}

Result<Settings> Context::settings(bool token_required) {
  auto token = token_flag();
  if (!token) return token.error();
  Settings flags{options_.server, *token};
  Settings resolved = resolve_settings(flags, env_, {});
  if (resolved.server.empty() || (token_required && resolved.token.empty())) {
    auto path = config_file_path(env_);
    if (!path) return path.error();
    auto stored = load_settings(*path);
    if (!stored) return stored.error();
    resolved = resolve_settings(flags, env_, *stored);
  }
  if (resolved.server.empty()) {
    return usage_error("no server: pass --server URL, set BERTH_SERVER, or run 'berth configure'");
  }
  if (auto problem = check_server_url(resolved.server)) return usage_error(*problem);
  if (token_required && resolved.token.empty()) {
    return Error{ExitCode::kAuth,
                 "no token: pass --token, set BERTH_TOKEN, or run 'berth configure'"};
  }
  return resolved;
}

Result<ManagementClient*> Context::client() {
  if (client_) return client_.get();
  auto resolved = settings();
  if (!resolved) return resolved.error();
  client_ = std::make_unique<ManagementClient>(transport(), *resolved);
  return client_.get();
}

HttpTransport& Context::transport() {
  if (!transport_) transport_ = make_transport_();
  return *transport_;
}

std::string lower(std::string text) {
  for (char& c : text) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return text;
}

CLI::Validator choice_transform(std::vector<std::string> choices) {
  return CLI::Validator(
      [choices](std::string& value) -> std::string {
        for (const auto& choice : choices) {
          if (lower(value) == lower(choice)) {
            value = choice;
            return {};
          }
        }
        return fmt::format("'{}' is not one of {}", value, fmt::join(choices, ", "));
      },
      "");
}

void add_common_options(CLI::App* app, Options& options) {
  app->add_option("--server", options.server,
                  "server URL, e.g. http://localhost:5000 (default: BERTH_SERVER, then the "
                  "config file)")
      ->group("Connection")
      ->type_name("URL");
  app->add_option("--token", options.token,
                  "administrator token, '-' to read it from standard input (default: "
                  "BERTH_TOKEN, then the config file)")
      ->group("Connection")
      ->type_name("TOKEN");
  app->add_option("-o,--output", options.output, "output format (default: table)")
      ->group("Output")
      ->transform(choice_transform({"table", "json", "tsv"}))
      ->type_name("table|json|tsv");
}

CLI::App* Verbs::group(CLI::App* parent, const std::string& name, const std::string& description) {
  for (CLI::App* existing : parent->get_subcommands([](CLI::App*) { return true; })) {
    if (existing->get_name() == name) return existing;
  }
  CLI::App* sub = parent->add_subcommand(name, description);
  sub->require_subcommand(1);
  return sub;
}

CLI::App* Verbs::verb(CLI::App* parent, const std::string& name, const std::string& description,
                      Handler handler) {
  CLI::App* sub = parent->add_subcommand(name, description);
  add_common_options(sub, options);
  // CLI11 runs a command's callback after its subcommand's: `purge schedule list` must not
  // end up selecting `purge`.
  sub->callback([this, sub, handler] {
    if (sub->get_subcommands().empty()) selected = handler;
  });
  return sub;
}

void Verbs::registry_flag(CLI::App* sub, bool required) {
  auto* option = sub->add_option("-r,--registry,-n,--name", options.registry,
                                 "registry name: 5-50 letters or digits")
                     ->check(checked(check_registry_name))
                     ->type_name("NAME");
  if (required) option->required();
}

void Verbs::registry_only_flag(CLI::App* sub) {
  sub->add_option("-r,--registry", options.registry, "registry name: 5-50 letters or digits")
      ->required()
      ->check(checked(check_registry_name))
      ->type_name("NAME");
}

void Verbs::repository_flag(CLI::App* sub) {
  sub->add_option("--repository", options.repository, "repository name, e.g. team/app")
      ->required()
      ->check(checked(check_repository_name))
      ->type_name("REPO");
}

void Verbs::image_flag(CLI::App* sub, const std::string& help) {
  sub->add_option("--image", options.image, help)->required()->type_name("IMAGE");
}

void Verbs::yes_flag(CLI::App* sub) {
  sub->add_flag(
      "-y,--yes", options.yes,
      "confirm the deletion (required: it is final unless the registry keeps deleted content; see "
      "'berth config soft-delete')");
}

void Verbs::bool_option(CLI::App* sub, const std::string& name, std::string& into,
                        const std::string& help) {
  sub->add_option(name, into, help)
      ->transform(choice_transform({"true", "false"}))
      ->type_name("true|false");
}

void Verbs::tier_option(CLI::App* sub, bool required) {
  auto* option = sub->add_option("--tier,--sku", options.tier, "service tier")
                     ->transform(choice_transform({"Basic", "Standard", "Premium"}))
                     ->type_name("Basic|Standard|Premium");
  if (required) option->required();
}

Result<View> refuse_without_yes(std::string_view what) {
  return usage_error(fmt::format("refusing to delete {} without --yes", what));
}

Result<View> deleted(Result<boost::json::value> answer, std::string message) {
  if (!answer) return answer.error();
  return message_view(std::move(message));
}

std::optional<Error> add_time_range(const Options& o, Query& query) {
  std::optional<std::int64_t> since, until;
  for (auto [flag, text, into] :
       {std::tuple{"--since", &o.since, &since}, std::tuple{"--until", &o.until, &until}}) {
    if (text->empty()) continue;
    auto seconds = parse_rfc3339(*text);
    if (!seconds) return usage_error(fmt::format("{}: {}", flag, seconds.error().message));
    *into = *seconds;
    query.emplace_back(std::string(flag).substr(2), format_rfc3339(*seconds));
  }
  if (since && until && *since > *until) {
    return usage_error(fmt::format("--since '{}' is after --until '{}'", o.since, o.until));
  }
  return std::nullopt;
}

std::optional<Error> add_top(const Options& o, std::int64_t max_top, Query& query) {
  if (o.top.empty()) return std::nullopt;
  if (!parse_bounded_number(o.top, 1, max_top)) {
    return usage_error(fmt::format("--top: '{}' is not a number from 1 to {}", o.top, max_top));
  }
  query.emplace_back("top", o.top);
  return std::nullopt;
}

void set_flag(boost::json::object& body, const char* key, const std::string& value) {
  if (!value.empty()) body[key] = (value == "true");
}

}  // namespace berth::cli
