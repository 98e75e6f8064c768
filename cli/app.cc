#include "cli/app.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <boost/json.hpp>
#include <istream>
#include <optional>
#include <ostream>

#include "cli/command.h"
#include "cli/management_client.h"
#include "cli/output.h"
#include "cli/validate.h"
#include "cli/views.h"

namespace berth::cli {
namespace json = boost::json;

namespace {

// ------------------------------------------------------------------ handlers

Result<View> configure(Context& ctx) {
  Options& o = ctx.options();
  auto path = config_file_path(ctx.env());
  if (!path) return path.error();
  auto token = ctx.token_flag();
  if (!token) return token.error();
  if (!o.server.empty()) {
    if (auto problem = check_server_url(o.server)) return usage_error(*problem);
  }
  auto stored = load_settings(*path);
  if (!stored) return stored.error();
  Settings settings = *stored;
  bool changed = !o.server.empty() || !token->empty();
  if (!o.server.empty()) settings.server = normalize_server_url(o.server);
  if (!token->empty()) settings.token = *token;
  if (changed) {
    auto saved = save_settings(*path, settings);
    if (!saved) return saved.error();
  }
  // The token itself is never shown, only whether one is stored.
  json::object doc{{"server", settings.server},
                   {"tokenStored", !settings.token.empty()},
                   {"configFile", path->string()}};
  View view{doc,
            {{"Server", "Token stored", "Config file"},
             {{text_cell(settings.server), bool_cell(!settings.token.empty()),
               text_cell(path->string())}}},
            changed ? fmt::format("Saved to {}.", path->string()) : std::string()};
  return view;
}

Result<View> registry_create(Context& ctx) {
  const Options& o = ctx.options();
  json::object body{{"name", o.registry}, {"tier", o.tier}};
  if (!o.region.empty()) body["region"] = o.region;
  set_flag(body, "adminUserEnabled", o.admin_enabled);
  set_flag(body, "anonymousPullEnabled", o.anonymous_pull_enabled);
  set_flag(body, "dataEndpointEnabled", o.data_endpoint_enabled);
  set_flag(body, "publicNetworkAccess", o.public_network_enabled);
  return with_client(
      ctx, [&](ManagementClient& c) { return show(c.create_registry(body), registry_view); });
}

Result<View> registry_update(Context& ctx) {
  const Options& o = ctx.options();
  json::object body;
  if (!o.tier.empty()) body["tier"] = o.tier;
  if (!o.region.empty()) body["region"] = o.region;
  set_flag(body, "adminUserEnabled", o.admin_enabled);
  set_flag(body, "anonymousPullEnabled", o.anonymous_pull_enabled);
  set_flag(body, "dataEndpointEnabled", o.data_endpoint_enabled);
  set_flag(body, "publicNetworkAccess", o.public_network_enabled);
  if (!o.default_action.empty()) body["defaultAction"] = o.default_action;
  if (body.empty()) {
    return usage_error(
        "nothing to update: give --tier, --region, --admin-enabled, --anonymous-pull-enabled, "
        "--data-endpoint-enabled, --public-network-enabled or --default-action");
  }
  return with_client(ctx, [&](ManagementClient& c) {
    return show(c.update_registry(o.registry, body), registry_view);
  });
}

Result<View> registry_delete(Context& ctx) {
  const Options& o = ctx.options();
  if (!o.yes) return refuse_without_yes(fmt::format("registry '{}'", o.registry));
  return with_client(ctx, [&](ManagementClient& c) {
    return deleted(c.delete_registry(o.registry),
                   fmt::format("Deleted registry '{}' and all its content.", o.registry));
  });
}

Result<View> repository_delete(Context& ctx) {
  const Options& o = ctx.options();
  if (!o.yes) {
    return refuse_without_yes(
        fmt::format("repository '{}' of registry '{}'", o.repository, o.registry));
  }
  return with_client(ctx, [&](ManagementClient& c) {
    return deleted(
        c.delete_repository(o.registry, o.repository),
        fmt::format("Deleted repository '{}' from registry '{}'.", o.repository, o.registry));
  });
}

Result<View> repository_untag(Context& ctx) {
  const Options& o = ctx.options();
  auto image = parse_image_reference(o.image);
  if (!image) return image.error();
  if (image->tag.empty()) {
    return usage_error(fmt::format(
        "untag needs repository:tag, not a digest ('{}'); use 'berth manifest delete' to delete "
        "a manifest",
        o.image));
  }
  return with_client(ctx, [&](ManagementClient& c) {
    return deleted(c.delete_tag(o.registry, image->repository, image->tag),
                   fmt::format("Removed tag '{}' from repository '{}' of registry '{}'.",
                               image->tag, image->repository, o.registry));
  });
}

// `az acr repository update`: the changeable attributes of a repository (--repository), a tag
// (--image repo:tag) or a manifest (--image repo@digest).
Result<View> repository_update(Context& ctx) {
  const Options& o = ctx.options();
  json::object body;
  set_flag(body, "writeEnabled", o.write_enabled);
  set_flag(body, "deleteEnabled", o.delete_enabled);
  set_flag(body, "readEnabled", o.read_enabled);
  set_flag(body, "listEnabled", o.list_enabled);
  if (body.empty()) {
    return usage_error(
        "nothing to update: give --write-enabled, --delete-enabled, --read-enabled or "
        "--list-enabled");
  }
  if (o.image.empty() == o.repository.empty()) {
    return usage_error("name what to update with exactly one of --image and --repository");
  }
  if (!o.repository.empty()) {
    return with_client(ctx, [&](ManagementClient& c) {
      return show(c.update_repository(o.registry, o.repository, body),
                  changeable_attributes_view);
    });
  }
  auto image = parse_image_reference(o.image);
  if (!image) return image.error();
  return with_client(ctx, [&](ManagementClient& c) {
    if (!image->digest.empty()) {
      return show(c.update_manifest(o.registry, image->repository, image->digest, body),
                  changeable_attributes_view);
    }
    return show(c.update_tag(o.registry, image->repository, image->tag, body),
                changeable_attributes_view);
  });
}

// The digest a tag points at, from the repository's tag listing.
Result<std::string> resolve_tag(ManagementClient& client, std::string_view registry,
                                const ImageReference& image) {
  auto tags = client.list_tags(registry, image.repository);
  if (!tags) return tags.error();
  const json::value* list = tags->is_object() ? tags->as_object().if_contains("tags") : nullptr;
  if (list != nullptr && list->is_array()) {
    for (const auto& tag : list->as_array()) {
      if (!tag.is_object()) continue;
      const json::value* name = tag.as_object().if_contains("name");
      const json::value* digest = tag.as_object().if_contains("digest");
      if (name != nullptr && name->is_string() && name->as_string() == image.tag &&
          digest != nullptr && digest->is_string()) {
        return std::string(digest->as_string());
      }
    }
  }
  return Error{ExitCode::kNotFound,
               fmt::format("tag '{}' does not exist in repository '{}' of registry '{}'", image.tag,
                           image.repository, registry)};
}

// The digest an image reference names: its own, or the one its tag points at.
Result<std::string> digest_of(ManagementClient& client, std::string_view registry,
                              const ImageReference& image) {
  if (!image.digest.empty()) return image.digest;
  return resolve_tag(client, registry, image);
}

Result<View> manifest_show(Context& ctx) {
  const Options& o = ctx.options();
  auto image = parse_image_reference(o.image);
  if (!image) return image.error();
  return with_client(ctx, [&](ManagementClient& c) -> Result<View> {
    auto digest = digest_of(c, o.registry, *image);
    if (!digest) return digest.error();
    return show(c.get_manifest(o.registry, image->repository, *digest), manifest_view);
  });
}

// By digest, or by tag as `az acr repository delete --image repo:tag` does: the manifest the
// tag points at goes, and with it every tag pointing at that manifest.
Result<View> manifest_delete(Context& ctx) {
  const Options& o = ctx.options();
  auto image = parse_image_reference(o.image);
  if (!image) return image.error();
  if (!o.yes) return refuse_without_yes(fmt::format("manifest '{}'", o.image));
  return with_client(ctx, [&](ManagementClient& c) -> Result<View> {
    auto digest = digest_of(c, o.registry, *image);
    if (!digest) return digest.error();
    std::string deleted_what =
        image->digest.empty()
            ? fmt::format("manifest '{}@{}' (tag '{}' and every tag pointing at it)",
                          image->repository, *digest, image->tag)
            : fmt::format("manifest '{}' and every tag pointing at it", o.image);
    return deleted(c.delete_manifest(o.registry, image->repository, *digest),
                   fmt::format("Deleted {} from registry '{}'.", deleted_what, o.registry));
  });
}

void declare(Verbs& v) {
  Options& o = v.options;

  auto* configure_cmd = v.verb(&v.app, "configure",
                               "store the server URL and token in the config file; without "
                               "flags, show what is stored",
                               configure);
  configure_cmd->footer(
      "The file is $XDG_CONFIG_HOME/berth/config.json or ~/.config/berth/config.json, mode "
      "0600. Flags and BERTH_SERVER / BERTH_TOKEN override it on every command.");

  CLI::App* registry = v.group("registry", "manage registries (the tenants of a deployment)");
  {
    auto* create = v.verb(registry, "create", "create a registry", registry_create);
    v.registry_flag(create);
    v.tier_option(create, /*required=*/true);
    create->add_option("--region", o.region, "region label, e.g. westeurope");
    v.bool_option(create, "--admin-enabled", o.admin_enabled,
                  "enable the admin user (default false; see 'berth credential show')");
    v.bool_option(create, "--anonymous-pull-enabled", o.anonymous_pull_enabled,
                  "let anyone pull without credentials (default false; not on Basic)");
    v.bool_option(create, "--data-endpoint-enabled", o.data_endpoint_enabled,
                  "redirect blob downloads to the storage (Azure) with short-lived URLs "
                  "(default false; Premium)");
    v.bool_option(create, "--public-network-enabled", o.public_network_enabled,
                  "accept clients from any address (default true; see 'berth network-rule')");

    v.verb(registry, "list", "list registries, sorted by name", [](Context& ctx) {
      return with_client(
          ctx, [](ManagementClient& c) { return show(c.list_registries(), registry_list_view); });
    });

    auto* show_cmd = v.verb(registry, "show", "show a registry", [](Context& ctx) {
      return with_client(ctx, [&](ManagementClient& c) {
        return show(c.get_registry(ctx.options().registry), registry_view);
      });
    });
    v.registry_flag(show_cmd);

    auto* update =
        v.verb(registry, "update", "change a registry's tier, region or flags", registry_update);
    v.registry_flag(update);
    v.tier_option(update, /*required=*/false);
    update->add_option("--region", o.region, "region label");
    v.bool_option(update, "--admin-enabled", o.admin_enabled,
                  "enable or disable the admin user");
    v.bool_option(update, "--anonymous-pull-enabled", o.anonymous_pull_enabled,
                  "let anyone pull without credentials");
    v.bool_option(update, "--data-endpoint-enabled", o.data_endpoint_enabled,
                  "redirect blob downloads to the storage (Azure) with short-lived URLs");
    v.bool_option(update, "--public-network-enabled", o.public_network_enabled,
                  "accept clients from any address");
    update->add_option("--default-action", o.default_action,
                       "what the network rules do with an address no IP rule allows")
        ->transform(choice_transform({"Allow", "Deny"}))
        ->type_name("Allow|Deny");

    auto* del =
        v.verb(registry, "delete", "delete a registry and all its content", registry_delete);
    v.registry_flag(del);
    v.yes_flag(del);

    auto* usage = v.verb(registry, "show-usage", "show storage used and counts against limits",
                         [](Context& ctx) {
                           return with_client(ctx, [&](ManagementClient& c) {
                             return show(c.registry_usage(ctx.options().registry), usage_view);
                           });
                         });
    v.registry_flag(usage);

    auto* health =
        v.verb(registry, "check-health", "run the registry's health checks", [](Context& ctx) {
          return with_client(ctx, [&](ManagementClient& c) {
            return show(c.registry_health(ctx.options().registry), health_view);
          });
        });
    v.registry_flag(health);
  }

  CLI::App* repository = v.group("repository", "inspect, lock and delete repositories");
  {
    auto* list = v.verb(repository, "list", "list a registry's repositories", [](Context& ctx) {
      return with_client(ctx, [&](ManagementClient& c) {
        return show(c.list_repositories(ctx.options().registry), repository_list_view);
      });
    });
    v.registry_flag(list);

    auto* show_cmd = v.verb(repository, "show", "show a repository", [](Context& ctx) {
      const Options& o = ctx.options();
      return with_client(ctx, [&](ManagementClient& c) {
        return show(c.get_repository(o.registry, o.repository), repository_view);
      });
    });
    v.registry_flag(show_cmd);
    v.repository_flag(show_cmd);

    auto* tags = v.verb(repository, "show-tags", "list a repository's tags", [](Context& ctx) {
      const Options& o = ctx.options();
      return with_client(ctx, [&](ManagementClient& c) {
        return show(c.list_tags(o.registry, o.repository), tag_list_view);
      });
    });
    v.registry_flag(tags);
    v.repository_flag(tags);

    auto* del = v.verb(repository, "delete", "delete a repository with all its tags and manifests",
                       repository_delete);
    v.registry_flag(del);
    v.repository_flag(del);
    v.yes_flag(del);

    auto* update = v.verb(repository, "update",
                          "change the locks (changeable attributes) of a repository, a tag or a "
                          "manifest",
                          repository_update);
    v.registry_flag(update);
    update->add_option("--image", o.image, "a tag (repository:tag) or a manifest (repository@digest)")
        ->type_name("IMAGE");
    update->add_option("--repository", o.repository, "a whole repository, e.g. team/app")
        ->check(checked(check_repository_name))
        ->type_name("REPO");
    v.bool_option(update, "--write-enabled", o.write_enabled,
                  "whether it may be written: pushed to, a tag moved");
    v.bool_option(update, "--delete-enabled", o.delete_enabled, "whether it may be deleted");
    v.bool_option(update, "--read-enabled", o.read_enabled, "whether it may be pulled");
    v.bool_option(update, "--list-enabled", o.list_enabled, "whether listings show it");

    auto* untag = v.verb(repository, "untag",
                         "remove a tag; the manifest stays, reachable by digest", repository_untag);
    v.registry_flag(untag);
    v.image_flag(untag, "the tag to remove, as repository:tag");
  }

  CLI::App* manifest = v.group("manifest", "inspect and delete manifests");
  {
    auto* list = v.verb(manifest, "list", "list a repository's manifests", [](Context& ctx) {
      const Options& o = ctx.options();
      return with_client(ctx, [&](ManagementClient& c) {
        return show(c.list_manifests(o.registry, o.repository), manifest_list_view);
      });
    });
    v.registry_flag(list);
    v.repository_flag(list);

    auto* show_cmd =
        v.verb(manifest, "show", "show a manifest; -o json includes its content", manifest_show);
    v.registry_flag(show_cmd);
    v.image_flag(show_cmd, "repository@digest, or repository:tag (resolved through the tags)");

    auto* del = v.verb(manifest, "delete", "delete a manifest and every tag pointing at it",
                       manifest_delete);
    v.registry_flag(del);
    v.image_flag(del, "repository@digest, or repository:tag (the manifest the tag points at)");
    v.yes_flag(del);
  }
}

std::string one_line(std::string_view text) {
  std::string out;
  for (char c : text) out += (c == '\n' || c == '\r') ? ' ' : c;
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// The deepest subcommand the parser reached ("create" in "berth registry create").
CLI::App* deepest_command(CLI::App& app) {
  CLI::App* current = &app;
  for (auto parsed = current->get_subcommands(); !parsed.empty();
       parsed = current->get_subcommands()) {
    current = parsed.front();
  }
  return current;
}

// "berth registry create"
std::string command_path(const CLI::App& command) {
  std::string path = command.get_name();
  for (const CLI::App* up = command.get_parent(); up != nullptr; up = up->get_parent()) {
    path = up->get_name() + " " + path;
  }
  return path;
}

std::vector<std::string> command_names(CLI::App& group) {
  std::vector<std::string> names;
  for (CLI::App* sub : group.get_subcommands([](CLI::App*) { return true; })) {
    if (!sub->get_name().empty()) names.push_back(sub->get_name());
  }
  return names;
}

// The spelling of `option` the user typed ("-n", "--name", "--sku"), since the parser names an
// option by its first long name whichever alias was used.
std::string typed_spelling(const CLI::Option& option, const std::vector<std::string>& args) {
  for (std::size_t i = 1; i < args.size(); ++i) {
    std::string_view arg = args[i];
    if (arg.starts_with("--")) {
      std::string name(arg.substr(2, arg.find('=') - 2));
      if (!name.empty() && option.check_lname(name)) return "--" + name;
    } else if (arg.size() >= 2 && arg[0] == '-' && arg[1] != '-') {
      if (option.check_sname(std::string(1, arg[1]))) return std::string(arg.substr(0, 2));
    }
  }
  return option.get_name();
}

// The option the parser's message is about: it starts with the option's name ("--registry:
// ...", "--registry is required").
const CLI::Option* option_of_message(std::string_view message, CLI::App& command) {
  for (CLI::App* app = &command; app != nullptr; app = app->get_parent()) {
    for (const CLI::Option* option : app->get_options()) {
      const std::string name = option->get_name();
      if (name.empty() || !message.starts_with(name) || message.size() == name.size()) continue;
      char after = message[name.size()];
      if (after == ':' || after == ' ') return option;
    }
  }
  return nullptr;
}

// The parser's message about an option, with the option spelled as typed and the wrong count
// of values said plainly.
std::string option_error_message(const CLI::ParseError& error, CLI::App& command,
                                 const std::vector<std::string>& args) {
  std::string message = one_line(error.what());
  const CLI::Option* option = option_of_message(message, command);
  if (option == nullptr) return message;
  std::string typed = typed_spelling(*option, args);
  if (dynamic_cast<const CLI::ArgumentMismatch*>(&error) != nullptr) {
    if (option->count() == 0)
      return fmt::format("{} needs a value: {}", typed, option->get_type_name());
    if (option->count() > 1) return fmt::format("{} is given more than once", typed);
  }
  return typed + message.substr(option->get_name().size());
}

// One line naming what the user typed: the unknown command or option, the stray argument, or
// the flag whose value is wrong, spelled as typed.
std::string parse_error_message(CLI::App& app, const CLI::ParseError& error,
                                const std::vector<std::string>& args) {
  CLI::App* command = deepest_command(app);
  const std::string path = command_path(*command);
  const std::string see = fmt::format(" (see '{} --help')", path);
  const std::vector<std::string> extras = app.remaining(true);
  const std::vector<std::string> commands = command_names(*command);

  // A group, and none of its commands was given; a verb with subcommands (`purge`) is
  // reported as a verb.
  if (!commands.empty() && command->get_require_subcommand_min() > 0) {
    auto word = std::find_if(extras.begin(), extras.end(),
                             [](const std::string& e) { return !e.starts_with("-"); });
    std::string where = command == &app ? std::string() : fmt::format(" for '{}'", path);
    std::string what = word != extras.end() ? fmt::format("unknown command '{}'{}", *word, where)
                                            : fmt::format("missing command{}", where);
    return fmt::format("{}; valid commands: {}{}", what, fmt::join(commands, ", "), see);
  }
  if (!extras.empty()) {
    const std::string& first = extras.front();
    if (first.starts_with("-") && first.size() > 1) {
      return fmt::format("unknown option '{}' for '{}'{}", first.substr(0, first.find('=')), path,
                         see);
    }
    return fmt::format("unexpected argument '{}' for '{}'{}", first, path, see);
  }
  return option_error_message(error, *command, args) + see;
}

}  // namespace

int run(const std::vector<std::string>& args, const Environment& env,
        const TransportFactory& make_transport, std::ostream& out, std::ostream& err,
        std::istream& in, bool err_is_terminal) {
  CLI::App app(
      "berth: manage the registries of a berthd deployment, and who may use them, through "
      "its management API; log docker and podman in.",
      "berth");
  app.set_version_flag("--version", std::string("berth ") + BERTH_VERSION);
  app.require_subcommand(1);
  app.footer(
      fmt::format("Verbs name their registry with -r/--registry (alias -n/--name, except\n"
                  "where -n/--name names a token, scope map, webhook, identity, credential\n"
                  "set or cache rule, as in az acr), a repository with --repository and an\n"
                  "image with --image "
                  "repository:tag or repository@digest. Settings: flags, then\n"
                  "BERTH_SERVER / BERTH_TOKEN, then the file 'berth configure' writes.\n\n{}",
                  exit_codes_help()));

  Options options;
  Handler selected;
  add_common_options(&app, options);
  Verbs verbs{app, options, selected};
  declare(verbs);
  declare_access_commands(verbs);
  declare_event_commands(verbs);
  declare_gc_commands(verbs);
  declare_lifecycle_commands(verbs);
  declare_upstream_commands(verbs);
  declare_task_commands(verbs);

  std::vector<const char*> argv;
  argv.reserve(args.size());
  for (const auto& arg : args) argv.push_back(arg.c_str());
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e, out, err);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e, out, err);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e, out, err);
  } catch (const CLI::ParseError& e) {
    err << "berth: " << parse_error_message(app, e, args) << '\n';
    return static_cast<int>(ExitCode::kUsage);
  }
  if (!selected) {
    err << "berth: no command given (see 'berth --help')\n";
    return static_cast<int>(ExitCode::kUsage);
  }

  Context ctx(options, env, make_transport, in, out, err, err_is_terminal);
  Result<View> view = selected(ctx);
  if (!view) {
    err << "berth: " << one_line(view.error().message) << '\n';
    return static_cast<int>(view.error().code);
  }
  auto format = parse_format(options.output).value_or(Format::kTable);
  out << render(*view, format);
  out.flush();
  for (const std::string& failure : view->failures) {
    err << "berth: " << one_line(failure) << '\n';
  }
  return static_cast<int>(view->failures.empty() ? ExitCode::kOk : ExitCode::kFailure);
}

}  // namespace berth::cli
