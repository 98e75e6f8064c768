// The verbs of content from other registries: `import` (copy an image in, as `az acr import`
// does) with `import show|list`, `credential-set` (the logins to upstream registries, as
// `az acr credential-set`) and `cache` (the rules that pull through an upstream on demand, as
// `az acr cache`). `import` names its registry with -n/--name as az does; credential-set and
// cache name it with -r/--registry, and -n/--name is the credential set or the rule.
//
// `import` is a verb that also has subcommands (`import show`, `import list`), as `purge` has
// `purge schedule`: its own flags cannot be required by the parser (they would be required of
// `import show` too), so its handler checks them, and they are refused beside a subcommand.
//
// Passwords go only into request bodies: never printed, never part of an error message, and
// the API never answers them back.

#include <fmt/format.h>

#include <boost/json.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "cli/command.h"
#include "cli/progress.h"
#include "cli/validate.h"
#include "cli/views.h"

namespace berth::cli {
namespace json = boost::json;

namespace {

// The server's limits, checked here so that a mistake costs no round trip.
constexpr std::size_t kMaxImportTargets = 50;
constexpr std::size_t kMaxUsername = 256;
constexpr std::size_t kMaxPassword = 4096;
constexpr std::int64_t kMaxImportsTop = 100;
// Import ids are positive 64-bit numbers; 18 digits is the parser's cap.
constexpr std::int64_t kMaxImportId = 999'999'999'999'999'999;
// The plain progress lines say each tenth of the bytes once.
constexpr std::uint64_t kPlainSteps = 10;

const json::value* member(const json::value& object, std::string_view key) {
  const auto* o = object.if_object();
  return o != nullptr ? o->if_contains(key) : nullptr;
}

std::string text_of(const json::value& object, std::string_view key) {
  const json::value* v = member(object, key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

std::uint64_t count_of(const json::value& object, std::string_view key) {
  const json::value* v = member(object, key);
  if (v == nullptr) return 0;
  if (v->is_uint64()) return v->as_uint64();
  if (v->is_int64() && v->as_int64() >= 0) return static_cast<std::uint64_t>(v->as_int64());
  return 0;
}

// The registry flag of the import commands, which the parser cannot require (see the top).
std::optional<Error> require_registry(const Options& o, std::string_view command) {
  if (!o.registry.empty()) return std::nullopt;
  return usage_error(fmt::format("--name is required: the registry to import into (see 'berth {} "
                                 "--help')",
                                 command));
}

// The password of --password or --password-stdin (one line), checked against the server's
// limit; nothing when neither was given. The message never holds the password.
Result<std::optional<std::string>> password_flag(Context& ctx) {
  const Options& o = ctx.options();
  std::string password = o.password;
  if (o.password_stdin) {
    auto line = ctx.read_stdin_line("--password-stdin");
    if (!line) return line.error();
    password = std::move(*line);
  }
  if (password.empty()) return std::optional<std::string>();
  if (password.size() > kMaxPassword) {
    return usage_error(fmt::format("the password is longer than {} bytes", kMaxPassword));
  }
  return std::optional<std::string>(std::move(password));
}

std::optional<std::string> check_username(std::string_view username) {
  if (!username.empty() && username.size() <= kMaxUsername) return std::nullopt;
  return fmt::format("the username is 1 to {} characters", kMaxUsername);
}

// ------------------------------------------------------------------ import

// {"registryUri","sourceImage"} with "credentialSet" or "credentials" {"username","password"}.
Result<json::object> import_source(Context& ctx, const ImportSource& source) {
  const Options& o = ctx.options();
  json::object out{{"registryUri", source.registry_uri}, {"sourceImage", source.image}};
  if (o.credential_set_given) out["credentialSet"] = o.credential_set;
  auto password = password_flag(ctx);
  if (!password) return password.error();
  if (o.username.empty() && *password) return usage_error("a password needs --username");
  if (!o.username.empty() && !*password) {
    return usage_error("--username needs --password or --password-stdin");
  }
  if (!o.username.empty()) {
    out["credentials"] = json::object{{"username", o.username}, {"password", **password}};
  }
  return out;
}

// The import's body: the hosted service's ImportImageParameters, or why the flags make none.
Result<json::object> import_body(Context& ctx) {
  const Options& o = ctx.options();
  if (auto problem = require_registry(o, "import")) return *problem;
  if (o.source.empty()) {
    return usage_error(
        "--source is required: the image to import, as HOST/REPOSITORY:TAG or "
        "HOST/REPOSITORY@DIGEST (see 'berth import --help')");
  }
  auto source = parse_import_source(o.source);
  if (!source) return source.error();
  if (!o.untagged_repositories.empty() && !o.untagged) {
    return usage_error(
        "--repository names where an untagged copy goes: give --untagged with it (--image "
        "REPOSITORY:TAG imports with a tag)");
  }
  json::array tags;
  for (const auto& target : o.target_tags) {
    auto image = parse_image_reference(target);
    if (!image) return usage_error(fmt::format("--image: {}", image.error().message));
    if (image->tag.empty()) {
      return usage_error(
          fmt::format("--image '{}' must be REPOSITORY:TAG: an import tags its copy", target));
    }
    tags.emplace_back(target);
  }
  json::array untagged;
  if (o.untagged) {
    if (o.untagged_repositories.empty()) untagged.emplace_back(source->repository);
    for (const auto& repository : o.untagged_repositories) untagged.emplace_back(repository);
  }
  if (tags.size() + untagged.size() > kMaxImportTargets) {
    return usage_error(fmt::format("an import has at most {} targets (--image and --repository)",
                                   kMaxImportTargets));
  }
  auto source_json = import_source(ctx, *source);
  if (!source_json) return source_json.error();
  json::object body{{"source", std::move(*source_json)}};
  if (!tags.empty()) body["targetTags"] = std::move(tags);
  if (!untagged.empty()) body["untaggedTargetRepositories"] = std::move(untagged);
  body["mode"] = o.force ? "Force" : "NoForce";
  body["includeReferrers"] = o.include_referrers;
  return body;
}

bool is_pending(const json::value& import) {
  const std::string status = text_of(import, "status");
  return status == "Queued" || status == "Running";
}

// Shows where an import is: a bar on a terminal; elsewhere a line when its status changes and
// when its bytes reach another tenth, so that a log says enough and not every second.
class ImportProgress {
 public:
  ImportProgress(Context& ctx, std::string id)
      : line_(ctx.err(), ctx.err_is_terminal()), id_(std::move(id)) {}

  void show(const json::value& import) {
    const std::string status = text_of(import, "status");
    const json::value* progress = member(import, "progress");
    const std::uint64_t done = progress != nullptr ? count_of(*progress, "bytesDone") : 0;
    const std::uint64_t total = progress != nullptr ? count_of(*progress, "bytesTotal") : 0;
    if (line_.terminal()) {
      meter_.sample(done, RateMeter::Clock::now());
      std::string text = fmt::format("import {} {}", id_, status);
      if (status == "Running") {
        text += "  ";
        text += transfer_progress(done, total, meter_.bytes_per_second());
      }
      line_.redraw(text);
      return;
    }
    const std::uint64_t step = total > 0 ? std::min(done, total) * kPlainSteps / total : 0;
    if (status == last_status_ && step <= last_step_) return;
    last_status_ = status;
    last_step_ = step;
    if (total == 0) {
      line_.note(fmt::format("import {}: {}", id_, status));
      return;
    }
    line_.note(fmt::format("import {}: {}, {} of {} ({}%), {} of {} blobs", id_, status,
                           human_bytes(done), human_bytes(total),
                           std::min(done, total) * 100 / total, count_of(*progress, "blobsDone"),
                           count_of(*progress, "blobsTotal")));
  }

 private:
  ProgressLine line_;
  std::string id_;
  RateMeter meter_;
  std::string last_status_;
  std::uint64_t last_step_ = 0;
};

// Follows the import until it is no longer queued or running: its last state, or the failure
// to ask (which says the import goes on without us).
Result<json::value> wait_for_import(Context& ctx, ManagementClient& client,
                                    const std::string& registry, json::value import) {
  const std::string id = text_of(import, "id");
  const auto interval = poll_interval(ctx.env());
  ImportProgress progress(ctx, id);
  while (is_pending(import)) {
    progress.show(import);
    std::this_thread::sleep_for(interval);
    auto again = client.get_import(registry, id);
    if (!again) {
      Error error = again.error();
      error.message += fmt::format(" (import {} goes on: 'berth import show --name {} --id {}' "
                                   "follows it)",
                                   id, registry, id);
      return error;
    }
    import = std::move(*again);
  }
  return import;
}

Result<View> import_run(Context& ctx) {
  const Options& o = ctx.options();
  auto body = import_body(ctx);
  if (!body) return body.error();
  return with_client(ctx, [&](ManagementClient& c) -> Result<View> {
    auto started = c.start_import(o.registry, *body);
    if (!started) return started.error();
    if (o.no_wait) {
      View view = import_view(*started);
      view.message = fmt::format("started; follow it with: berth import show --name {} --id {}",
                                 o.registry, text_of(*started, "id"));
      return view;
    }
    auto finished = wait_for_import(ctx, c, o.registry, std::move(*started));
    if (!finished) return finished.error();
    if (text_of(*finished, "status") == "Failed") {
      return failure(fmt::format("import {} failed: {}", text_of(*finished, "id"),
                                 text_of(*finished, "error")));
    }
    return import_view(*finished);
  });
}

Result<View> import_show(Context& ctx) {
  const Options& o = ctx.options();
  if (auto problem = require_registry(o, "import show")) return *problem;
  return with_client(
      ctx, [&](ManagementClient& c) { return show(c.get_import(o.registry, o.id), import_view); });
}

Result<View> import_list(Context& ctx) {
  const Options& o = ctx.options();
  if (auto problem = require_registry(o, "import list")) return *problem;
  return with_client(ctx, [&](ManagementClient& c) {
    return show(c.list_imports(o.registry, {{"top", o.top}, {"before", o.before}}),
                import_list_view);
  });
}

// ------------------------------------------------------------------ credential sets

Result<View> credential_set_create(Context& ctx) {
  const Options& o = ctx.options();
  auto password = password_flag(ctx);
  if (!password) return password.error();
  if (!*password) return usage_error("a credential set needs --password or --password-stdin");
  json::object body{{"name", o.name},
                    {"loginServer", o.login_server},
                    {"username", o.username},
                    {"password", **password}};
  return with_client(ctx, [&](ManagementClient& c) {
    return show(c.create_credential_set(o.registry, body), credential_set_view);
  });
}

Result<View> credential_set_update(Context& ctx) {
  const Options& o = ctx.options();
  json::object body;
  if (!o.login_server.empty()) body["loginServer"] = o.login_server;
  if (!o.username.empty()) body["username"] = o.username;
  auto password = password_flag(ctx);
  if (!password) return password.error();
  if (*password) body["password"] = **password;
  if (body.empty()) {
    return usage_error(
        "nothing to update: give --login-server, --username, --password or --password-stdin");
  }
  return with_client(ctx, [&](ManagementClient& c) {
    return show(c.update_credential_set(o.registry, o.name, body), credential_set_view);
  });
}

Result<View> credential_set_delete(Context& ctx) {
  const Options& o = ctx.options();
  if (!o.yes) {
    return refuse_without_yes(
        fmt::format("credential set '{}' of registry '{}'", o.name, o.registry));
  }
  return with_client(ctx, [&](ManagementClient& c) {
    return deleted(c.delete_credential_set(o.registry, o.name),
                   fmt::format("Deleted credential set '{}' from registry '{}'.", o.name,
                               o.registry));
  });
}

// ------------------------------------------------------------------ cache rules

// "tagTtlSeconds" and "allowPush" from the flags given.
void set_rule_settings(const Options& o, json::object& body) {
  if (!o.tag_ttl.empty()) {
    body["tagTtlSeconds"] = parse_bounded_number(o.tag_ttl, 0, kMaxTagTtlSeconds).value_or(0);
  }
  set_flag(body, "allowPush", o.allow_push);
}

Result<View> cache_create(Context& ctx) {
  const Options& o = ctx.options();
  if (auto problem = check_cache_rule_shape(o.source_repo, o.target_repo)) {
    return usage_error(*problem);
  }
  json::object body{
      {"name", o.name}, {"sourceRepository", o.source_repo}, {"targetRepository", o.target_repo}};
  if (o.credential_set_given) {
    if (o.credential_set.empty()) {
      return usage_error("--cred-set '' names no credential set: leave it out for none");
    }
    body["credentialSet"] = o.credential_set;
  }
  set_rule_settings(o, body);
  return with_client(ctx, [&](ManagementClient& c) {
    return show(c.create_cache_rule(o.registry, body), cache_rule_view);
  });
}

Result<View> cache_update(Context& ctx) {
  const Options& o = ctx.options();
  json::object body;
  if (o.credential_set_given) body["credentialSet"] = o.credential_set;
  set_rule_settings(o, body);
  if (body.empty()) {
    return usage_error("nothing to update: give --cred-set, --tag-ttl or --allow-push");
  }
  return with_client(ctx, [&](ManagementClient& c) {
    return show(c.update_cache_rule(o.registry, o.name, body), cache_rule_view);
  });
}

Result<View> cache_delete(Context& ctx) {
  const Options& o = ctx.options();
  if (!o.yes) {
    return refuse_without_yes(fmt::format("cache rule '{}' of registry '{}'", o.name, o.registry));
  }
  return with_client(ctx, [&](ManagementClient& c) {
    return deleted(c.delete_cache_rule(o.registry, o.name),
                   fmt::format("Deleted cache rule '{}' from registry '{}'.", o.name, o.registry));
  });
}

// ------------------------------------------------------------------ declarations

// -u/--username, -p/--password and --password-stdin (which excludes --password); the last two
// returned, so that a caller can make them exclude more.
std::pair<CLI::Option*, CLI::Option*> login_flags(CLI::App* sub, Options& o,
                                                  const std::string& username_help,
                                                  const std::string& password_help) {
  sub->add_option("-u,--username", o.username, username_help)
      ->check(checked(check_username))
      ->type_name("USERNAME");
  auto* password = sub->add_option("-p,--password", o.password, password_help)
                       ->type_name("PASSWORD");
  auto* from_stdin = sub->add_flag("--password-stdin", o.password_stdin,
                                   "read the password from standard input (one line)");
  password->excludes(from_stdin);
  return {password, from_stdin};
}

void resource_name_flag(CLI::App* sub, Options& o, std::string kind) {
  sub->add_option("-n,--name", o.name,
                  fmt::format("{} name: 5-50 letters, digits or '-'", kind))
      ->required()
      ->check(checked([kind](std::string_view name) { return check_resource_name(kind, name); }))
      ->type_name("NAME");
}

std::optional<std::string> check_id_flag(std::string_view id) {
  if (parse_bounded_number(id, 1, kMaxImportId)) return std::nullopt;
  return fmt::format("'{}' is not an import id (a positive number)", id);
}

void declare_import(Verbs& v) {
  Options& o = v.options;
  auto* import = v.verb(&v.app, "import",
                        "copy an image from another registry into a registry, as az acr import "
                        "does; or show and list imports",
                        import_run);
  import->require_subcommand(0, 1);
  import->footer(
      "The server copies the image (every platform of an index) and, with "
      "--include-referrers, its signatures and other referrers; berth waits and shows the "
      "progress unless --no-wait. Without --image or --untagged the copy keeps the source's "
      "repository and tag. An existing tag is not moved unless --force.");
  v.registry_flag(import, /*required=*/false);  // required to run: checked by the handler
  std::vector<CLI::Option*> own;
  own.push_back(import
                    ->add_option("--source", o.source,
                                 "the image to copy: HOST/REPOSITORY:TAG or "
                                 "HOST/REPOSITORY@DIGEST, e.g. docker.io/library/alpine:3.20 "
                                 "(required)")
                    ->type_name("HOST/REPO:TAG"));
  own.push_back(import
                    ->add_option("-t,--image", o.target_tags,
                                 "a tag the copy gets, as REPOSITORY:TAG; repeat it for more")
                    ->expected(1)
                    ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
                    ->type_name("REPO:TAG"));
  own.push_back(import
                    ->add_option("--repository", o.untagged_repositories,
                                 "with --untagged: a repository the copy goes to without a tag "
                                 "(default: the source's); repeat it for more")
                    ->expected(1)
                    ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
                    ->check(checked(check_repository_name))
                    ->type_name("REPO"));
  own.push_back(import->add_flag("--untagged", o.untagged,
                                 "also copy without a tag, to --repository or the source's "
                                 "repository"));
  own.push_back(
      import->add_flag("--force", o.force, "move target tags that point at something else"));
  own.push_back(import->add_flag("--include-referrers", o.include_referrers,
                                 "also copy the image's referrers (signatures, SBOMs, ...)"));
  own.push_back(import->add_flag("--no-wait", o.no_wait,
                                 "answer once the import is queued; 'berth import show' follows "
                                 "it"));
  auto [password, from_stdin] =
      login_flags(import, o, "log in to the source as this user", "the source's password");
  auto* username = import->get_option("--username");
  auto* credential_set =
      import
          ->add_option("--credential-set", o.credential_set,
                       "log in to the source with this credential set of the registry")
          ->check(checked([](std::string_view name) {
            return check_resource_name("credential set", name);
          }))
          ->each([&o](const std::string&) { o.credential_set_given = true; })
          ->type_name("NAME");
  credential_set->excludes(username)->excludes(password)->excludes(from_stdin);
  for (CLI::Option* option : {username, password, from_stdin, credential_set}) {
    own.push_back(option);
  }
  // Verbs::verb's callback, plus: import's own flags do not apply to `import show|list`.
  import->callback([import, own, &selected = v.selected] {
    if (import->get_subcommands().empty()) {
      selected = import_run;
      return;
    }
    for (const CLI::Option* option : own) {
      if (option->count() > 0) {
        throw CLI::ValidationError(
            option->get_name(),
            fmt::format("belongs to 'berth import' itself, not to 'berth import {}'",
                        import->get_subcommands().front()->get_name()));
      }
    }
  });

  auto* show_cmd = v.verb(import, "show", "show an import with its progress", import_show);
  // Not required by the parser: given before `show` (berth import -n R show --id 7), the
  // registry is import's flag; the handlers check there is one.
  v.registry_flag(show_cmd, /*required=*/false);
  show_cmd->add_option("--id", o.id, "the import's id")
      ->required()
      ->check(checked(check_id_flag))
      ->type_name("ID");

  auto* list = v.verb(import, "list", "list a registry's imports, newest first", import_list);
  v.registry_flag(list, /*required=*/false);
  list->add_option("--top", o.top,
                   fmt::format("at most N imports (1-{}, default 20)", kMaxImportsTop))
      ->check(checked([](std::string_view n) -> std::optional<std::string> {
        if (parse_bounded_number(n, 1, kMaxImportsTop)) return std::nullopt;
        return fmt::format("'{}' is not a number from 1 to {}", n, kMaxImportsTop);
      }))
      ->type_name("N");
  list->add_option("--before", o.before, "only imports older than this id (the next page)")
      ->check(checked(check_id_flag))
      ->type_name("ID");
}

void login_server_flag(CLI::App* sub, Options& o, bool required) {
  auto* option = sub->add_option("--login-server", o.login_server,
                                 "the upstream registry's HOST[:PORT], e.g. docker.io or "
                                 "ghcr.io")
                     ->check(checked(check_upstream_server))
                     ->type_name("HOST[:PORT]");
  if (required) option->required();
}

void declare_credential_set(Verbs& v) {
  Options& o = v.options;
  CLI::App* group = v.group(
      "credential-set",
      "manage credential sets: the logins to upstream registries that imports and cache rules use");

  auto* create = v.verb(group, "create", "create a credential set", credential_set_create);
  v.registry_only_flag(create);
  resource_name_flag(create, o, "credential set");
  login_server_flag(create, o, /*required=*/true);
  login_flags(create, o, "the username on the upstream registry (required)",
              "the password or access token on the upstream registry");
  create->get_option("--username")->required();

  auto* list = v.verb(group, "list", "list a registry's credential sets", [](Context& ctx) {
    return with_client(ctx, [&](ManagementClient& c) {
      return show(c.list_credential_sets(ctx.options().registry), credential_set_list_view);
    });
  });
  v.registry_only_flag(list);

  auto* show_cmd = v.verb(group, "show", "show a credential set (not its password)",
                          [](Context& ctx) {
                            const Options& opts = ctx.options();
                            return with_client(ctx, [&](ManagementClient& c) {
                              return show(c.get_credential_set(opts.registry, opts.name),
                                          credential_set_view);
                            });
                          });
  v.registry_only_flag(show_cmd);
  resource_name_flag(show_cmd, o, "credential set");

  auto* update = v.verb(group, "update", "change a credential set; the flags not given stay",
                        credential_set_update);
  v.registry_only_flag(update);
  resource_name_flag(update, o, "credential set");
  login_server_flag(update, o, /*required=*/false);
  login_flags(update, o, "a new username", "a new password or access token");

  auto* del = v.verb(group, "delete", "delete a credential set no cache rule uses",
                     credential_set_delete);
  v.registry_only_flag(del);
  resource_name_flag(del, o, "credential set");
  del->add_flag("-y,--yes", o.yes, "confirm the deletion (required)");
}

// --cred-set: a credential set's name; '' (update only) removes it.
void cred_set_flag(CLI::App* sub, Options& o, const std::string& help) {
  sub->add_option("--cred-set,--credential-set", o.credential_set, help)
      ->check(checked([](std::string_view name) -> std::optional<std::string> {
        if (name.empty()) return std::nullopt;  // update: no credential set any more
        return check_resource_name("credential set", name);
      }))
      ->each([&o](const std::string&) { o.credential_set_given = true; })
      ->type_name("NAME");
}

void tag_ttl_flag(CLI::App* sub, Options& o, const std::string& help) {
  sub->add_option("--tag-ttl", o.tag_ttl, help)->check(checked(check_tag_ttl))->type_name("SECONDS");
}

void declare_cache(Verbs& v) {
  Options& o = v.options;
  CLI::App* group = v.group(
      "cache",
      "manage cache rules: repositories whose pulls go through to an upstream registry and keep "
      "what they fetch");

  auto* create = v.verb(group, "create", "create a cache rule", cache_create);
  v.registry_only_flag(create);
  resource_name_flag(create, o, "cache rule");
  create
      ->add_option("--source-repo", o.source_repo,
                   "the upstream repository: HOST/PATH, or HOST/PATH/* for everything below it, "
                   "e.g. docker.io/library/nginx")
      ->required()
      ->check(checked(check_cache_source))
      ->type_name("HOST/PATH[/*]");
  create
      ->add_option("--target-repo", o.target_repo,
                   "the repository of the registry it shows as: PATH, or PATH/* when the source "
                   "ends in /*")
      ->required()
      ->check(checked(check_cache_target))
      ->type_name("PATH[/*]");
  cred_set_flag(create, o, "log in to the upstream with this credential set (default: anonymous)");
  tag_ttl_flag(create, o,
               fmt::format("how long a cached tag is used before the upstream is asked again "
                           "(0-{}, default 3600)",
                           kMaxTagTtlSeconds));
  v.bool_option(create, "--allow-push", o.allow_push,
                "whether pushes to the target repositories are accepted (default false)");

  auto* list = v.verb(group, "list", "list a registry's cache rules", [](Context& ctx) {
    return with_client(ctx, [&](ManagementClient& c) {
      return show(c.list_cache_rules(ctx.options().registry), cache_rule_list_view);
    });
  });
  v.registry_only_flag(list);

  auto* show_cmd = v.verb(group, "show", "show a cache rule", [](Context& ctx) {
    const Options& opts = ctx.options();
    return with_client(ctx, [&](ManagementClient& c) {
      return show(c.get_cache_rule(opts.registry, opts.name), cache_rule_view);
    });
  });
  v.registry_only_flag(show_cmd);
  resource_name_flag(show_cmd, o, "cache rule");

  auto* update =
      v.verb(group, "update", "change a cache rule; the flags not given stay", cache_update);
  v.registry_only_flag(update);
  resource_name_flag(update, o, "cache rule");
  cred_set_flag(update, o, "log in with this credential set; '' for anonymous pulls");
  tag_ttl_flag(update, o, fmt::format("how long a cached tag is used (0-{})", kMaxTagTtlSeconds));
  v.bool_option(update, "--allow-push", o.allow_push,
                "whether pushes to the target repositories are accepted");

  auto* del = v.verb(group, "delete", "delete a cache rule", cache_delete);
  v.registry_only_flag(del);
  resource_name_flag(del, o, "cache rule");
  del->add_flag("-y,--yes", o.yes, "confirm the deletion (required)");
}

}  // namespace

void declare_upstream_commands(Verbs& verbs) {
  declare_import(verbs);
  declare_credential_set(verbs);
  declare_cache(verbs);
}

}  // namespace berth::cli
