// The access-control verbs: the admin user's credentials, tokens, scope maps, role assignments,
// identities, network rules, the login audit and `berth login`. Their flags mirror `az acr`
// for the same verb, so a script ports by changing the command's first word.

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <utility>

#include "cli/command.h"
#include "cli/registry_login.h"
#include "cli/validate.h"
#include "cli/views.h"

namespace berth::cli {
namespace json = boost::json;

namespace {

// Far enough for any credential, near enough that seconds since the epoch stay small.
constexpr int kMaxExpirationDays = 36500;
constexpr std::size_t kMaxDescription = 512;
constexpr std::size_t kMaxSecret = 256;
constexpr std::size_t kMaxJwksFile = 1u << 20;
constexpr int kMaxAuditTop = 1000;  // the server answers at most this many events a call

std::int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The expiry --expiration-in-days or --expiration asks for (the parser lets only one through),
// in the future; "" when neither was given.
Result<std::string> expiry_from_flags(const Options& o) {
  if (!o.expiration_in_days.empty()) {
    auto days = parse_bounded_number(o.expiration_in_days, 1, kMaxExpirationDays);
    if (!days) {
      return usage_error(fmt::format("--expiration-in-days: '{}' is not a number of days from 1 to {}",
                                     o.expiration_in_days, kMaxExpirationDays));
    }
    return format_rfc3339(now_seconds() + std::int64_t{*days} * 86400);
  }
  if (o.expiration.empty()) return std::string();
  auto seconds = parse_rfc3339(o.expiration);
  if (!seconds) return usage_error(fmt::format("--expiration: {}", seconds.error().message));
  if (*seconds <= now_seconds()) {
    return usage_error(fmt::format("--expiration: '{}' is in the past", o.expiration));
  }
  return format_rfc3339(*seconds);
}

void expiration_flags(CLI::App* sub, Options& o, const std::string& what) {
  auto* days = sub->add_option("--expiration-in-days", o.expiration_in_days,
                               fmt::format("{} expire this many days from now", what))
                   ->type_name("N");
  auto* at = sub->add_option("--expiration", o.expiration,
                             fmt::format("{} expire at this RFC 3339 time", what))
                 ->type_name("TIME");
  days->excludes(at);
}

// ------------------------------------------------------------------ admin user

Result<View> credential_show(Context& ctx) {
  return with_client(ctx, [&](ManagementClient& c) {
    return show(c.get_credentials(ctx.options().registry), credentials_view);
  });
}

Result<View> credential_renew(Context& ctx) {
  const Options& o = ctx.options();
  return with_client(ctx, [&](ManagementClient& c) {
    return show(c.renew_credential(o.registry, o.password_name), credentials_view);
  });
}

// ------------------------------------------------------------------ tokens

Result<View> token_create(Context& ctx) {
  const Options& o = ctx.options();
  auto expiry = expiry_from_flags(o);
  if (!expiry) return expiry.error();
  if (o.no_passwords && !expiry->empty()) {
    return usage_error("--no-passwords makes no passwords to expire; drop --expiration*");
  }
  json::object body{{"name", o.name}, {"scopeMapName", o.scope_map}};
  if (!o.status.empty()) body["status"] = o.status;
  if (o.no_passwords) body["noPasswords"] = true;
  if (!expiry->empty()) body["expiry"] = *expiry;
  return with_client(ctx, [&](ManagementClient& c) {
    return show(c.create_token(o.registry, body), token_created_view);
  });
}

Result<View> token_update(Context& ctx) {
  const Options& o = ctx.options();
  json::object body;
  if (!o.status.empty()) body["status"] = o.status;
  if (!o.scope_map.empty()) body["scopeMapName"] = o.scope_map;
  if (body.empty()) return usage_error("nothing to update: give --status or --scope-map");
  return with_client(ctx, [&](ManagementClient& c) {
    return show(c.update_token(o.registry, o.name, body), token_view);
  });
}

Result<View> token_delete(Context& ctx) {
  const Options& o = ctx.options();
  if (!o.yes) return refuse_without_yes(fmt::format("token '{}'", o.name));
  return with_client(ctx, [&](ManagementClient& c) {
    return deleted(c.delete_token(o.registry, o.name),
                   fmt::format("Deleted token '{}' from registry '{}'.", o.name, o.registry));
  });
}

Result<View> token_credential_generate(Context& ctx) {
  const Options& o = ctx.options();
  auto expiry = expiry_from_flags(o);
  if (!expiry) return expiry.error();
  json::object body;
  if (o.password1) body["passwordName"] = "password1";
  if (o.password2) body["passwordName"] = "password2";
  if (!expiry->empty()) body["expiry"] = *expiry;
  return with_client(ctx, [&](ManagementClient& c) {
    return show(c.generate_token_credentials(o.registry, o.name, body), token_passwords_view);
  });
}

// ------------------------------------------------------------------ scope maps

// "repositories/REPO/ACTION" for each group of REPO ACTION [ACTION...], in order, each once.
Result<json::array> scope_map_actions(std::string_view flag,
                                      const std::vector<std::vector<std::string>>& groups) {
  json::array actions;
  for (const auto& group : groups) {
    if (group.size() < 2) {
      return usage_error(fmt::format(
          "{} needs a repository and at least one action, e.g. {} samples/hello content/read",
          flag, flag));
    }
    if (auto problem = check_repository_pattern(group.front())) {
      return usage_error(fmt::format("{}: {}", flag, *problem));
    }
    for (std::size_t i = 1; i < group.size(); ++i) {
      if (auto problem = check_action(group[i])) {
        return usage_error(fmt::format("{}: {}", flag, *problem));
      }
      std::string action = "repositories/";
      action += group.front();
      action += '/';
      action += group[i];
      if (std::find(actions.begin(), actions.end(), json::value(action)) == actions.end()) {
        actions.emplace_back(action);
      }
    }
  }
  return actions;
}

std::optional<Error> check_description(const std::string& description) {
  if (description.size() > kMaxDescription) {
    return usage_error(fmt::format("--description is longer than {} bytes", kMaxDescription));
  }
  return std::nullopt;
}

Result<View> scope_map_create(Context& ctx) {
  const Options& o = ctx.options();
  auto actions = scope_map_actions("--repository", o.repositories);
  if (!actions) return actions.error();
  if (auto problem = check_description(o.description)) return *problem;
  json::object body{{"name", o.name}, {"actions", std::move(*actions)}};
  if (!o.description.empty()) body["description"] = o.description;
  return with_client(ctx, [&](ManagementClient& c) {
    return show(c.create_scope_map(o.registry, body), scope_map_view);
  });
}

Result<View> scope_map_update(Context& ctx) {
  const Options& o = ctx.options();
  auto add = scope_map_actions("--add-repository", o.add_repositories);
  if (!add) return add.error();
  auto remove = scope_map_actions("--remove-repository", o.remove_repositories);
  if (!remove) return remove.error();
  if (auto problem = check_description(o.description)) return *problem;
  json::object body;
  if (!add->empty()) body["addActions"] = std::move(*add);
  if (!remove->empty()) body["removeActions"] = std::move(*remove);
  if (!o.description.empty()) body["description"] = o.description;
  if (body.empty()) {
    return usage_error(
        "nothing to update: give --add-repository, --remove-repository or --description");
  }
  return with_client(ctx, [&](ManagementClient& c) {
    return show(c.update_scope_map(o.registry, o.name, body), scope_map_view);
  });
}

Result<View> scope_map_delete(Context& ctx) {
  const Options& o = ctx.options();
  if (!o.yes) return refuse_without_yes(fmt::format("scope map '{}'", o.name));
  return with_client(ctx, [&](ManagementClient& c) {
    return deleted(c.delete_scope_map(o.registry, o.name),
                   fmt::format("Deleted scope map '{}' from registry '{}'.", o.name, o.registry));
  });
}

// ------------------------------------------------------------------ role assignments

Result<View> role_assignment_create(Context& ctx) {
  const Options& o = ctx.options();
  std::string scope = o.scope;
  if (scope.empty() == o.registry.empty()) {
    return usage_error("give the scope either as --scope or as --registry [--repository]");
  }
  if (!o.repository.empty() && o.registry.empty()) {
    return usage_error("--repository needs --registry");
  }
  if (scope.empty()) {
    scope = "/registries/";
    scope += o.registry;
    if (!o.repository.empty()) {
      scope += "/repositories/";
      scope += o.repository;
    }
  }
  json::object body{{"assignee", o.assignee}, {"role", o.role}, {"scope", scope}};
  return with_client(ctx, [&](ManagementClient& c) {
    return show(c.create_role_assignment(body), role_assignment_view);
  });
}

Result<View> role_assignment_delete(Context& ctx) {
  const Options& o = ctx.options();
  if (!o.yes) {
    return refuse_without_yes(fmt::format("role assignment '{}'", fmt::join(o.ids, "', '")));
  }
  return with_client(ctx, [&](ManagementClient& c) -> Result<View> {
    // One at a time, stopping at the first failure, whose message says which.
    for (const auto& id : o.ids) {
      auto answer = c.delete_role_assignment(id);
      if (!answer) {
        Error error = answer.error();
        error.message = fmt::format("role assignment '{}': {}", id, error.message);
        return error;
      }
    }
    return message_view(fmt::format("Deleted role assignment{} '{}'.", o.ids.size() > 1 ? "s" : "",
                                    fmt::join(o.ids, "', '")));
  });
}

// ------------------------------------------------------------------ identities

std::string wire_kind(const std::string& kind) {
  return kind == "service-principal" ? "servicePrincipal" : kind;
}

// The JWKS the federated identity trusts: a URL as given, or a local file's JSON document,
// sent as its (compact) text.
Result<std::string> jwks_value(const std::string& jwks) {
  if (jwks.starts_with("http://") || jwks.starts_with("https://")) {
    if (auto problem = check_http_url("--jwks", jwks)) return usage_error(*problem);
    return jwks;
  }
  std::ifstream in(jwks, std::ios::binary);
  if (!in) return usage_error(fmt::format("--jwks: cannot read '{}' (a file or an https:// URL)", jwks));
  std::string text;
  text.resize(kMaxJwksFile + 1);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > kMaxJwksFile) {
    return usage_error(fmt::format("--jwks: '{}' is larger than 1 MiB", jwks));
  }
  boost::system::error_code ec;
  json::value doc = json::parse(text, ec);
  const json::value* keys = !ec && doc.is_object() ? doc.as_object().if_contains("keys") : nullptr;
  if (keys == nullptr || !keys->is_array()) {
    return usage_error(
        fmt::format("--jwks: '{}' is not a JWKS document (a JSON object with \"keys\")", jwks));
  }
  return json::serialize(doc);
}

Result<json::object> federated_fields(const Options& o) {
  for (auto [flag, value] : {std::pair{"--issuer", &o.issuer}, std::pair{"--audience", &o.audience},
                             std::pair{"--jwks", &o.jwks}, std::pair{"--subject", &o.subject}}) {
    if (value->empty()) {
      return usage_error(fmt::format(
          "a federated identity needs --issuer, --audience, --jwks and --subject ({} is missing)",
          flag));
    }
    if (value->size() > 2048) return usage_error(fmt::format("{} is longer than 2048 bytes", flag));
  }
  if (auto problem = check_http_url("--issuer", o.issuer)) return usage_error(*problem);
  auto jwks = jwks_value(o.jwks);
  if (!jwks) return jwks.error();
  json::object claims;
  for (const auto& claim : o.claims) {
    auto equals = claim.find('=');
    if (equals == std::string::npos || equals == 0) {
      return usage_error(fmt::format("--claim '{}' must be NAME=VALUE", claim));
    }
    std::string name = claim.substr(0, equals);
    if (claims.contains(name)) {
      return usage_error(fmt::format("--claim '{}' is given more than once", name));
    }
    claims[name] = claim.substr(equals + 1);
  }
  json::object fields{{"issuer", o.issuer},
                      {"audience", o.audience},
                      {"jwks", *jwks},
                      {"subject", o.subject}};
  if (!claims.empty()) fields["claims"] = std::move(claims);
  return fields;
}

Result<View> identity_create(Context& ctx) {
  const Options& o = ctx.options();
  const bool federated = o.kind == "federated";
  const bool has_federated_flags = !o.issuer.empty() || !o.audience.empty() || !o.jwks.empty() ||
                                   !o.subject.empty() || !o.claims.empty();
  if (!federated && has_federated_flags) {
    return usage_error(
        "--issuer, --audience, --jwks, --subject and --claim are for --kind federated");
  }
  if (!o.password.empty() && o.kind != "user") {
    return usage_error("--password is for --kind user; a service principal gets a generated "
                       "secret, a federated identity none");
  }
  json::object body{{"name", o.name}, {"kind", wire_kind(o.kind)}};
  if (!o.expiration.empty()) {
    auto expiry = expiry_from_flags(o);
    if (!expiry) return expiry.error();
    body["expiry"] = *expiry;
  }
  if (federated) {
    auto fields = federated_fields(o);
    if (!fields) return fields.error();
    for (auto& field : *fields) body[field.key()] = std::move(field.value());
  }
  if (!o.password.empty()) {
    std::string password = o.password;
    if (password == "-") {
      auto line = ctx.read_stdin_line("--password -");
      if (!line) return line.error();
      password = *line;
    }
    if (password.size() > kMaxSecret) {
      return usage_error(fmt::format("--password is longer than {} bytes", kMaxSecret));
    }
    body["password"] = password;
  }
  return with_client(
      ctx, [&](ManagementClient& c) { return show(c.create_identity(body), identity_view); });
}

Result<View> identity_delete(Context& ctx) {
  const Options& o = ctx.options();
  if (!o.yes) return refuse_without_yes(fmt::format("identity '{}'", o.id));
  return with_client(ctx, [&](ManagementClient& c) {
    return deleted(c.delete_identity(o.id),
                   fmt::format("Deleted identity '{}' and its role assignments.", o.id));
  });
}

// ------------------------------------------------------------------ audit

Result<View> audit_logins(Context& ctx) {
  const Options& o = ctx.options();
  Query query;
  if (!o.identity.empty()) query.emplace_back("identity", o.identity);
  if (!o.result.empty()) query.emplace_back("result", o.result);
  if (auto problem = add_time_range(o, query)) return *problem;
  if (auto problem = add_top(o, kMaxAuditTop, query)) return *problem;
  return with_client(ctx, [&](ManagementClient& c) {
    return show(c.login_audit(o.registry, query), login_audit_view);
  });
}

// ------------------------------------------------------------------ login

struct LoginTarget {
  std::string host;      // the login server: auths key and token service
  std::string base_url;  // where POST /oauth2/exchange goes
  std::string admin_token;
};

// Where the token service answers and which login server the credentials are for: the
// --login-server flag (with a scheme it is also the token service's URL), else the server the
// CLI is configured for. The admin token is needed only when no username is given.
Result<LoginTarget> login_target(Context& ctx, bool admin_grant) {
  const Options& o = ctx.options();
  LoginTarget target;
  if (!o.login_server.empty()) {
    auto server = parse_login_server(o.login_server);
    if (!server) return server.error();
    target.host = server->host;
    target.base_url = server->base_url;
  }
  if (target.base_url.empty() || admin_grant) {
    auto settings = ctx.settings(/*token_required=*/admin_grant);
    if (!settings) return settings.error();
    if (target.base_url.empty()) target.base_url = settings->server;
    if (target.host.empty()) target.host = host_of_url(settings->server);
    target.admin_token = settings->token;
  }
  return target;
}

Result<std::string> login_password(Context& ctx) {
  const Options& o = ctx.options();
  if (o.password_stdin) return ctx.read_stdin_line("--password-stdin");
  return o.password;
}

Result<View> login(Context& ctx) {
  const Options& o = ctx.options();
  const bool with_password = !o.password.empty() || o.password_stdin;
  if (o.username.empty() && with_password) return usage_error("a password needs --username");
  if (!o.username.empty() && !with_password) {
    return usage_error("--username needs --password or --password-stdin");
  }
  const bool admin_grant = o.username.empty();

  // The files first: an environment that names no place for them fails before the request.
  std::filesystem::path docker_file, containers_file;
  if (!o.expose_token) {
    auto docker = docker_config_file(ctx.env());
    if (!docker) return docker.error();
    auto containers = containers_auth_file(ctx.env(), ::getuid());
    if (!containers) return containers.error();
    docker_file = *docker;
    containers_file = *containers;
  }
  auto target = login_target(ctx, admin_grant);
  if (!target) return target.error();

  FormFields form;
  if (admin_grant) {
    form = {{"grant_type", "access_token"},
            {"service", target->host},
            {"access_token", target->admin_token}};
  } else {
    auto password = login_password(ctx);
    if (!password) return password.error();
    form = {{"grant_type", "password"},
            {"service", target->host},
            {"username", o.username},
            {"password", *password}};
  }
  auto refresh_token = exchange_refresh_token(ctx.transport(), target->base_url, form);
  if (!refresh_token) return refresh_token.error();

  if (o.expose_token) {
    // The shape `az acr login --expose-token` prints.
    json::object doc{{"accessToken", *refresh_token},
                     {"loginServer", target->host},
                     {"username", kRefreshTokenUsername}};
    return View{std::move(doc),
                {{"Login server", "Username", "Access token"},
                 {{text_cell(target->host), text_cell(std::string(kRefreshTokenUsername)),
                   text_cell(*refresh_token)}},
                 {}},
                {}};
  }
  for (const auto& file : {docker_file, containers_file}) {
    auto stored = store_registry_auth(file, target->host, kRefreshTokenUsername, *refresh_token);
    if (!stored) return stored.error();
  }
  json::object doc{{"loginServer", target->host},
                   {"registry", o.registry},
                   {"dockerConfig", docker_file.string()},
                   {"containersAuthFile", containers_file.string()}};
  std::string message =
      fmt::format("Login succeeded: credentials for {} (registry '{}') stored in {} and {}.",
                  target->host, o.registry, docker_file.string(), containers_file.string());
  // With a credential helper configured, docker reads the helper, not the entry just written.
  if (std::string helper = docker_credential_helper(docker_file, target->host); !helper.empty()) {
    doc["dockerCredentialHelper"] = helper;
    message += fmt::format(
        "\nNote: {} names the credential helper '{}' for {}, so docker asks it and ignores "
        "this entry; hand docker the token instead: berth login -n {} --expose-token -o tsv | "
        "cut -f3 | docker login -u {} --password-stdin {}",
        docker_file.string(), helper, target->host, o.registry, kRefreshTokenUsername,
        target->host);
  }
  return View{std::move(doc), {}, std::move(message)};
}

// ------------------------------------------------------------------ declarations

void name_flag(CLI::App* sub, std::string& into, const std::string& kind) {
  sub->add_option("-n,--name", into, fmt::format("{} name: 5-50 letters, digits, '-' or '_'", kind))
      ->required()
      ->check(checked([kind](std::string_view name) { return check_access_name(kind, name); }))
      ->type_name("NAME");
}

void status_option(CLI::App* sub, Options& o) {
  sub->add_option("--status", o.status, "enabled tokens log in, disabled ones do not")
      ->transform(choice_transform({"enabled", "disabled"}))
      ->type_name("enabled|disabled");
}

CLI::Option* scope_map_option(CLI::App* sub, Options& o) {
  return sub
      ->add_option("--scope-map", o.scope_map,
                   "the scope map giving the token its permissions, e.g. _repositories_pull")
      ->check(checked([](std::string_view name) { return check_access_name("scope map", name); }))
      ->type_name("MAP");
}

CLI::Option* repository_actions_option(CLI::App* sub, const std::string& name,
                                       std::vector<std::vector<std::string>>& into,
                                       const std::string& help) {
  return sub->add_option(name, into, help)
      ->expected(1, CLI::detail::expected_max_vector_size)
      ->type_name("REPO ACTION...");
}

void declare_credential(Verbs& v) {
  Options& o = v.options;
  CLI::App* credential = v.group("credential", "show and renew the admin user's passwords");
  auto* show_cmd = v.verb(credential, "show",
                          "show the admin user's name and passwords (needs --admin-enabled)",
                          credential_show);
  v.registry_flag(show_cmd);
  auto* renew = v.verb(credential, "renew", "replace one admin password with a new one",
                       credential_renew);
  v.registry_flag(renew);
  renew->add_option("--password-name", o.password_name, "which password to replace")
      ->required()
      ->transform(choice_transform({"password", "password2"}))
      ->type_name("password|password2");
}

void declare_token(Verbs& v) {
  Options& o = v.options;
  CLI::App* token = v.group("token", "manage tokens: repository-scoped logins of a registry");
  {
    auto* create = v.verb(token, "create", "create a token with two passwords", token_create);
    name_flag(create, o.name, "token");
    v.registry_only_flag(create);
    scope_map_option(create, o)->required();
    status_option(create, o);
    create->add_flag("--no-passwords", o.no_passwords,
                     "make no passwords now ('berth token credential generate' makes them)");
    expiration_flags(create, o, "the passwords");

    auto* list = v.verb(token, "list", "list a registry's tokens", [](Context& ctx) {
      return with_client(ctx, [&](ManagementClient& c) {
        return show(c.list_tokens(ctx.options().registry), token_list_view);
      });
    });
    v.registry_only_flag(list);

    auto* show_cmd = v.verb(token, "show", "show a token (never its passwords)", [](Context& ctx) {
      const Options& opts = ctx.options();
      return with_client(ctx, [&](ManagementClient& c) {
        return show(c.get_token(opts.registry, opts.name), token_view);
      });
    });
    name_flag(show_cmd, o.name, "token");
    v.registry_only_flag(show_cmd);

    auto* update = v.verb(token, "update", "enable, disable or re-scope a token", token_update);
    name_flag(update, o.name, "token");
    v.registry_only_flag(update);
    status_option(update, o);
    scope_map_option(update, o);

    auto* del = v.verb(token, "delete", "delete a token; its passwords stop working", token_delete);
    name_flag(del, o.name, "token");
    v.registry_only_flag(del);
    v.yes_flag(del);

    CLI::App* credential = v.group(token, "credential", "manage a token's passwords");
    auto* generate = v.verb(credential, "generate",
                            "make new passwords for a token (both unless one is named)",
                            token_credential_generate);
    name_flag(generate, o.name, "token");
    v.registry_only_flag(generate);
    auto* one = generate->add_flag("--password1", o.password1, "replace only password1");
    auto* two = generate->add_flag("--password2", o.password2, "replace only password2");
    one->excludes(two);
    expiration_flags(generate, o, "the new passwords");
  }
}

void declare_scope_map(Verbs& v) {
  Options& o = v.options;
  CLI::App* scope_map = v.group("scope-map", "manage scope maps: the permissions tokens get");
  const std::string actions_help =
      "a repository (or prefix/*) and its actions: content/read, content/write, "
      "content/delete, metadata/read, metadata/write; repeatable";

  auto* create = v.verb(scope_map, "create", "create a scope map", scope_map_create);
  name_flag(create, o.name, "scope map");
  v.registry_only_flag(create);
  create->add_option("--description", o.description, "what the map is for")->type_name("TEXT");
  repository_actions_option(create, "--repository", o.repositories, actions_help)->required();

  auto* list = v.verb(scope_map, "list", "list a registry's scope maps, system ones included",
                      [](Context& ctx) {
                        return with_client(ctx, [&](ManagementClient& c) {
                          return show(c.list_scope_maps(ctx.options().registry),
                                      scope_map_list_view);
                        });
                      });
  v.registry_only_flag(list);

  auto* show_cmd = v.verb(scope_map, "show", "show a scope map and its actions", [](Context& ctx) {
    const Options& opts = ctx.options();
    return with_client(ctx, [&](ManagementClient& c) {
      return show(c.get_scope_map(opts.registry, opts.name), scope_map_view);
    });
  });
  name_flag(show_cmd, o.name, "scope map");
  v.registry_only_flag(show_cmd);

  auto* update = v.verb(scope_map, "update", "add or remove actions, or change the description",
                        scope_map_update);
  name_flag(update, o.name, "scope map");
  v.registry_only_flag(update);
  update->add_option("--description", o.description, "what the map is for")->type_name("TEXT");
  repository_actions_option(update, "--add-repository", o.add_repositories, actions_help);
  repository_actions_option(update, "--remove-repository", o.remove_repositories,
                            "a repository and the actions to take away; repeatable");

  auto* del = v.verb(scope_map, "delete", "delete a scope map no token uses", scope_map_delete);
  name_flag(del, o.name, "scope map");
  v.registry_only_flag(del);
  v.yes_flag(del);
}

void declare_role(Verbs& v) {
  Options& o = v.options;
  CLI::App* role = v.group("role", "manage role assignments");
  CLI::App* assignment = v.group(role, "assignment", "give identities roles on registries");
  std::vector<std::string> roles(std::begin(kRoles), std::end(kRoles));
  auto assignee_check = checked([](std::string_view id) { return check_id("assignee", id); });

  auto* create = v.verb(assignment, "create", "give an identity a role on a scope",
                        role_assignment_create);
  create->add_option("--assignee", o.assignee, "the identity's id")
      ->required()
      ->check(assignee_check)
      ->type_name("ID");
  create->add_option("--role", o.role, "the role")
      ->required()
      ->transform(choice_transform(roles))
      ->type_name(fmt::format("{}", fmt::join(roles, "|")));
  create->add_option("--scope", o.scope,
                     "/registries/R or /registries/R/repositories/REPO (or PREFIX/*)")
      ->check(checked(check_role_scope))
      ->type_name("SCOPE");
  v.registry_flag(create, /*required=*/false);
  create->add_option("--repository", o.repository,
                     "with --registry: the repository (or PREFIX/*) the role is limited to")
      ->check(checked(check_repository_pattern))
      ->type_name("REPO");

  auto* list = v.verb(assignment, "list", "list role assignments", [](Context& ctx) {
    const Options& opts = ctx.options();
    return with_client(ctx, [&](ManagementClient& c) {
      return show(c.list_role_assignments(opts.registry, opts.assignee),
                  role_assignment_list_view);
    });
  });
  list->add_option("--assignee", o.assignee, "only this identity's assignments")
      ->check(assignee_check)
      ->type_name("ID");
  v.registry_flag(list, /*required=*/false);

  auto* del = v.verb(assignment, "delete", "delete role assignments by id",
                     role_assignment_delete);
  del->add_option("--ids", o.ids, "the assignments' ids")
      ->required()
      ->check(checked([](std::string_view id) { return check_id("role assignment", id); }))
      ->type_name("ID...");
  v.yes_flag(del);
}

void declare_identity(Verbs& v) {
  Options& o = v.options;
  CLI::App* identity =
      v.group("identity", "manage the deployment's identities: users, service principals and "
                          "federated workloads");
  auto id_flag = [&](CLI::App* sub) {
    sub->add_option("--id", o.id, "the identity's id")
        ->required()
        ->check(checked([](std::string_view id) { return check_id("identity", id); }))
        ->type_name("ID");
  };

  auto* create = v.verb(identity, "create",
                        "create an identity; a generated secret is shown once", identity_create);
  create->add_option("-n,--name", o.name, "display name")
      ->required()
      ->check(checked(check_identity_name))
      ->type_name("NAME");
  create->add_option("--kind", o.kind, "what logs in")
      ->required()
      ->transform(choice_transform({"user", "service-principal", "federated"}))
      ->type_name("user|service-principal|federated");
  create->add_option("--password", o.password,
                     "a user's chosen password, '-' to read it from standard input (default: "
                     "a generated secret)")
      ->type_name("PASSWORD");
  create->add_option("--expiration", o.expiration, "the identity stops working at this RFC 3339 time")
      ->type_name("TIME");
  create->add_option("--issuer", o.issuer, "federated: the token issuer (iss) URL")
      ->type_name("URL");
  create->add_option("--audience", o.audience, "federated: the audience (aud) tokens must name")
      ->type_name("AUD");
  create->add_option("--jwks", o.jwks,
                     "federated: the issuer's keys, a JWKS file or an http(s):// URL")
      ->type_name("PATH|URL");
  create->add_option("--subject", o.subject, "federated: the subject (sub) tokens must name")
      ->type_name("SUB");
  create->add_option("--claim", o.claims, "federated: another claim tokens must carry; repeatable")
      ->type_name("NAME=VALUE");

  v.verb(identity, "list", "list identities", [](Context& ctx) {
    return with_client(
        ctx, [](ManagementClient& c) { return show(c.list_identities(), identity_list_view); });
  });

  auto* show_cmd = v.verb(identity, "show", "show an identity", [](Context& ctx) {
    return with_client(ctx, [&](ManagementClient& c) {
      return show(c.get_identity(ctx.options().id), identity_view);
    });
  });
  id_flag(show_cmd);

  auto* del = v.verb(identity, "delete", "delete an identity and its role assignments",
                     identity_delete);
  id_flag(del);
  v.yes_flag(del);
}

void declare_network_rule(Verbs& v) {
  Options& o = v.options;
  CLI::App* rule = v.group("network-rule", "manage the IP rules of a registry's network access");
  auto ip_flag = [&](CLI::App* sub) {
    sub->add_option("--ip-address", o.ip_address, "an address or CIDR range, e.g. 10.0.0.0/24")
        ->required()
        ->check(checked(check_ip_or_cidr))
        ->type_name("IP_OR_CIDR");
  };
  auto* add = v.verb(rule, "add", "allow an address or range", [](Context& ctx) {
    const Options& opts = ctx.options();
    return with_client(ctx, [&](ManagementClient& c) {
      return show(c.add_network_rule(opts.registry, opts.ip_address), network_rules_view);
    });
  });
  v.registry_flag(add);
  ip_flag(add);

  auto* list = v.verb(rule, "list", "show the default action and the IP rules", [](Context& ctx) {
    return with_client(ctx, [&](ManagementClient& c) {
      return show(c.list_network_rules(ctx.options().registry), network_rules_view);
    });
  });
  v.registry_flag(list);

  auto* remove = v.verb(rule, "remove", "remove an IP rule", [](Context& ctx) {
    const Options& opts = ctx.options();
    return with_client(ctx, [&](ManagementClient& c) {
      return show(c.remove_network_rule(opts.registry, opts.ip_address), network_rules_view);
    });
  });
  v.registry_flag(remove);
  ip_flag(remove);
}

void declare_audit(Verbs& v) {
  Options& o = v.options;
  CLI::App* audit = v.group("audit", "read a registry's audit log");
  auto* logins = v.verb(audit, "logins", "list logins to a registry, newest first", audit_logins);
  v.registry_flag(logins);
  logins->add_option("--identity", o.identity, "only this identity's logins")
      ->check(checked(check_identity_filter))
      ->type_name("IDENTITY");
  logins->add_option("--result", o.result, "only successful or only failed logins")
      ->transform(choice_transform({"success", "failure"}))
      ->type_name("success|failure");
  logins->add_option("--since", o.since, "only logins at or after this RFC 3339 time")
      ->type_name("TIME");
  logins->add_option("--until", o.until, "only logins at or before this RFC 3339 time")
      ->type_name("TIME");
  logins->add_option("--top", o.top, fmt::format("at most N events (1-{})", kMaxAuditTop))
      ->type_name("N");
}

void declare_login(Verbs& v) {
  Options& o = v.options;
  auto* login_cmd = v.verb(&v.app, "login",
                           "log docker and podman in to a registry with a refresh token", login);
  v.registry_flag(login_cmd);
  login_cmd->add_option("-u,--username", o.username,
                        "log in as this identity or token (default: with the admin token)")
      ->type_name("USERNAME");
  auto* password = login_cmd->add_option("-p,--password", o.password, "the password")
                       ->type_name("PASSWORD");
  auto* from_stdin =
      login_cmd->add_flag("--password-stdin", o.password_stdin, "read the password from standard input");
  password->excludes(from_stdin);
  login_cmd->add_flag("--expose-token", o.expose_token,
                      "print the refresh token instead of storing it");
  login_cmd->add_option("--login-server", o.login_server,
                        "the registry's host[:port] (default: the server's); with http(s):// "
                        "the token service is asked there too")
      ->type_name("HOST[:PORT]");
  login_cmd->footer(
      "Stores {\"auth\": base64(\"00000000-0000-0000-0000-000000000000:<refresh token>\")} "
      "under auths[<login server>] in $DOCKER_CONFIG/config.json (else ~/.docker/config.json) "
      "and in the containers auth file ($REGISTRY_AUTH_FILE, else "
      "$XDG_RUNTIME_DIR/containers/auth.json, else ~/.config/containers/auth.json), leaving "
      "every other entry as it was.");
}

}  // namespace

void declare_access_commands(Verbs& verbs) {
  declare_login(verbs);
  declare_credential(verbs);
  declare_token(verbs);
  declare_scope_map(verbs);
  declare_role(verbs);
  declare_identity(verbs);
  declare_network_rule(verbs);
  declare_audit(verbs);
}

}  // namespace berth::cli
