// The webhook verbs and the audit log of repository events. The webhook verbs take the flags of
// `az acr webhook` for the same verb, so a script ports by changing the command's first word;
// `list-events` adds --top and --before to page, and `audit list` has no az counterpart.
//
// A webhook's signing secret goes only into the request body: it is never printed, never part
// of an error message, and the API never answers it back (a webhook shows "signed": true).

#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>
#include <fstream>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cli/command.h"
#include "cli/validate.h"
#include "cli/views.h"

namespace berth::cli {
namespace json = boost::json;

namespace {

// The server's limits, checked here so that a mistake costs no round trip.
constexpr std::size_t kMaxSecret = 256;
constexpr std::size_t kMaxHeaders = 32;
constexpr std::int64_t kMaxDeliveriesTop = 100;
constexpr std::int64_t kMaxAuditTop = 1000;
// Delivery ids and event sequences are positive 64-bit numbers; 18 digits is the parser's cap.
constexpr std::int64_t kMaxCursor = 999'999'999'999'999'999;

// What `audit list --action` filters on: every action the audit records.
const std::vector<std::string> kAuditActions = {"push",       "delete",       "untag", "pull",
                                                "chart_push", "chart_delete", "ping"};

// ------------------------------------------------------------------ request bodies

// The --actions values (already in their API spelling), each once.
Result<json::array> actions_array(const std::vector<std::string>& actions) {
  json::array out;
  for (const auto& action : actions) {
    if (std::find(out.begin(), out.end(), json::value(action)) != out.end()) {
      return usage_error(fmt::format("--actions: '{}' is given twice", action));
    }
    out.emplace_back(action);
  }
  return out;
}

// The --headers NAME=VALUE values as the customHeaders object. A lone empty value ("--headers
// ''") is no header at all: on update, it removes them all.
Result<json::object> custom_headers(const std::vector<std::string>& headers) {
  json::object out;
  std::set<std::string> names;  // lower case: header names are case-insensitive
  for (const auto& text : headers) {
    if (text.empty()) {
      if (headers.size() == 1) break;
      return usage_error("--headers '' (no headers) cannot be combined with NAME=VALUE");
    }
    auto header = parse_header_assignment(text);
    if (!header) return usage_error(fmt::format("--headers: {}", header.error().message));
    if (!names.insert(lower(header->name)).second) {
      return usage_error(fmt::format("--headers: header '{}' is given twice", header->name));
    }
    out[header->name] = header->value;
  }
  if (out.size() > kMaxHeaders) {
    return usage_error(fmt::format("--headers: a webhook has at most {} headers", kMaxHeaders));
  }
  return out;
}

// The first line of `path`, trailing CR, LF and spaces dropped (a file made with `echo`).
Result<std::string> read_secret_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return usage_error(fmt::format("--secret-file: cannot read '{}'", path));
  std::string text;
  text.resize(kMaxSecret + 2);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.pop_back();
  }
  if (text.empty()) return usage_error(fmt::format("--secret-file: '{}' is empty", path));
  if (text.find('\n') != std::string::npos) {
    return usage_error(fmt::format("--secret-file: '{}' holds more than one line", path));
  }
  return text;
}

// The signing secret of --secret (given as is, or "-" for one line of standard input) or
// --secret-file; nothing when neither was given. "" removes signing on update.
Result<std::optional<std::string>> secret_flag(Context& ctx) {
  const Options& o = ctx.options();
  std::string secret;
  if (!o.secret_file.empty()) {
    auto read = read_secret_file(o.secret_file);
    if (!read) return read.error();
    secret = std::move(*read);
  } else if (!o.secret_given) {
    return std::optional<std::string>();
  } else if (o.secret == "-") {
    auto line = ctx.read_stdin_line("--secret -");
    if (!line) return line.error();
    secret = std::move(*line);
  } else {
    secret = o.secret;
  }
  if (secret.size() > kMaxSecret) {
    return usage_error(fmt::format("the secret is longer than {} bytes", kMaxSecret));
  }
  return std::optional<std::string>(std::move(secret));
}

// ------------------------------------------------------------------ webhooks

Result<View> webhook_create(Context& ctx) {
  const Options& o = ctx.options();
  auto actions = actions_array(o.actions);
  if (!actions) return actions.error();
  auto headers = custom_headers(o.headers);
  if (!headers) return headers.error();
  auto secret = secret_flag(ctx);
  if (!secret) return secret.error();
  json::object body{{"name", o.name}, {"serviceUri", o.uri}, {"actions", std::move(*actions)}};
  if (!headers->empty()) body["customHeaders"] = std::move(*headers);
  if (!o.scope.empty()) body["scope"] = o.scope;
  if (!o.status.empty()) body["status"] = o.status;
  if (*secret && !(*secret)->empty()) body["secret"] = **secret;
  if (!o.format.empty()) body["format"] = o.format;
  return with_client(ctx, [&](ManagementClient& c) {
    return show(c.create_webhook(o.registry, body), webhook_view);
  });
}

Result<View> webhook_update(Context& ctx) {
  const Options& o = ctx.options();
  json::object body;
  if (!o.uri.empty()) body["serviceUri"] = o.uri;
  if (!o.actions.empty()) {
    auto actions = actions_array(o.actions);
    if (!actions) return actions.error();
    body["actions"] = std::move(*actions);
  }
  if (o.headers_given) {
    auto headers = custom_headers(o.headers);
    if (!headers) return headers.error();
    body["customHeaders"] = std::move(*headers);
  }
  if (o.scope_given) body["scope"] = o.scope;
  if (!o.status.empty()) body["status"] = o.status;
  auto secret = secret_flag(ctx);
  if (!secret) return secret.error();
  if (*secret) body["secret"] = **secret;
  if (!o.format.empty()) body["format"] = o.format;
  if (body.empty()) {
    return usage_error(
        "nothing to update: give --uri, --actions, --headers, --scope, --status, --secret, "
        "--secret-file or --format");
  }
  return with_client(ctx, [&](ManagementClient& c) {
    return show(c.update_webhook(o.registry, o.name, body), webhook_view);
  });
}

Result<View> webhook_delete(Context& ctx) {
  const Options& o = ctx.options();
  return with_client(ctx, [&](ManagementClient& c) {
    return deleted(c.delete_webhook(o.registry, o.name),
                   fmt::format("Deleted webhook '{}' from registry '{}'.", o.name, o.registry));
  });
}

Result<View> webhook_ping(Context& ctx) {
  const Options& o = ctx.options();
  return with_client(ctx, [&](ManagementClient& c) {
    return show(c.ping_webhook(o.registry, o.name), [&](const json::value& answer) {
      return queued_event_view(
          answer, fmt::format("Ping queued for webhook '{}'; 'berth webhook list-events --name "
                              "{} --registry {}' shows its delivery.",
                              o.name, o.name, o.registry));
    });
  });
}

Result<View> webhook_list_events(Context& ctx) {
  const Options& o = ctx.options();
  Query query;
  if (auto problem = add_top(o, kMaxDeliveriesTop, query)) return *problem;
  if (!o.before.empty()) {
    if (!parse_bounded_number(o.before, 1, kMaxCursor)) {
      return usage_error(
          fmt::format("--before: '{}' is not a delivery id (a positive number)", o.before));
    }
    query.emplace_back("before", o.before);
  }
  return with_client(ctx, [&](ManagementClient& c) {
    return show(c.webhook_deliveries(o.registry, o.name, query), delivery_list_view);
  });
}

Result<View> webhook_redeliver(Context& ctx) {
  const Options& o = ctx.options();
  return with_client(ctx, [&](ManagementClient& c) {
    return show(c.redeliver_event(o.registry, o.name, o.event_id), [&](const json::value& answer) {
      return queued_event_view(
          answer, fmt::format("Event '{}' queued again for webhook '{}'.", o.event_id, o.name));
    });
  });
}

// ------------------------------------------------------------------ audit

Result<View> audit_list(Context& ctx) {
  const Options& o = ctx.options();
  Query query;
  if (auto problem = add_time_range(o, query)) return *problem;
  if (!o.identity.empty()) query.emplace_back("identity", o.identity);
  if (!o.repository.empty()) query.emplace_back("repository", o.repository);
  if (!o.action.empty()) query.emplace_back("action", o.action);
  if (auto problem = add_top(o, kMaxAuditTop, query)) return *problem;
  if (!o.before.empty()) {
    if (!parse_bounded_number(o.before, 1, kMaxCursor)) {
      return usage_error(
          fmt::format("--before: '{}' is not an event sequence (a positive number)", o.before));
    }
    query.emplace_back("before", o.before);
  }
  return with_client(ctx, [&](ManagementClient& c) {
    return show(c.event_audit(o.registry, query), audit_event_list_view);
  });
}

// ------------------------------------------------------------------ declarations

void webhook_name_flag(CLI::App* sub, Options& o) {
  sub->add_option("-n,--name", o.name, "webhook name: 5-50 letters or digits")
      ->required()
      ->check(checked(check_webhook_name))
      ->type_name("NAME");
}

// The flags create and update share; create requires --uri and --actions.
void webhook_flags(CLI::App* sub, Options& o, bool create) {
  auto* uri =
      sub->add_option("--uri", o.uri, "the service URI deliveries are POSTed to")
          ->check(checked([](std::string_view url) { return check_http_url("service URI", url); }))
          ->type_name("URL");
  std::vector<std::string> actions(std::begin(kWebhookActions), std::end(kWebhookActions));
  auto* actions_option =
      sub->add_option("--actions", o.actions,
                      fmt::format("{}: {} (space- or comma-separated)",
                                  create ? "the actions that trigger a delivery"
                                         : "replace the actions that trigger a delivery",
                                  fmt::join(actions, ", ")))
          ->expected(1, CLI::detail::expected_max_vector_size)
          ->delimiter(',')
          ->transform(choice_transform(actions))
          ->type_name("ACTION");
  if (create) {
    uri->required();
    actions_option->required();
  }
  sub->add_option("--scope", o.scope,
                  create ? "only events of these repositories and tags, e.g. team/app:* or *:v1 "
                           "(default: the whole registry)"
                         : "only events of these repositories and tags; '' for the whole registry")
      ->check(checked(check_webhook_scope))
      ->each([&o](const std::string&) { o.scope_given = true; })
      ->type_name("REPO[:TAG]");
  sub->add_option("--headers", o.headers,
                  create ? "custom headers each delivery carries (space-separated)"
                         : "replace the custom headers; '' removes them all")
      ->expected(1, CLI::detail::expected_max_vector_size)
      ->each([&o](const std::string&) { o.headers_given = true; })
      ->type_name("NAME=VALUE");
  sub->add_option("--status", o.status,
                  create ? "disabled webhooks deliver nothing (default: enabled)"
                         : "enable or disable deliveries")
      ->transform(choice_transform({"enabled", "disabled"}))
      ->type_name("enabled|disabled");
  auto* secret =
      sub->add_option("--secret", o.secret,
                      create ? "sign deliveries with this secret (HMAC-SHA256, header "
                               "X-Berth-Signature); '-' reads it from standard input"
                             : "a new signing secret, '-' to read it from standard input; '' "
                               "stops signing")
          ->each([&o](const std::string&) { o.secret_given = true; })
          ->type_name("SECRET");
  auto* secret_file =
      sub->add_option("--secret-file", o.secret_file, "read the signing secret from this file")
          ->type_name("PATH");
  secret->excludes(secret_file);
  sub->add_option("--format", o.format,
                  create ? "the payload: the hosted service's JSON, or a CloudEvents 1.0 "
                           "envelope (default: default)"
                         : "the payload format")
      ->transform(choice_transform({"default", "cloudevents"}))
      ->type_name("default|cloudevents");
}

void declare_webhook(Verbs& v) {
  Options& o = v.options;
  CLI::App* webhook =
      v.group("webhook", "manage webhooks: HTTP notifications of a registry's pushes and deletes");

  auto* create = v.verb(webhook, "create", "create a webhook", webhook_create);
  webhook_name_flag(create, o);
  v.registry_only_flag(create);
  webhook_flags(create, o, /*create=*/true);

  auto* list = v.verb(webhook, "list", "list a registry's webhooks", [](Context& ctx) {
    return with_client(ctx, [&](ManagementClient& c) {
      return show(c.list_webhooks(ctx.options().registry), webhook_list_view);
    });
  });
  v.registry_only_flag(list);

  auto* show_cmd =
      v.verb(webhook, "show", "show a webhook (not its URI, headers or secret)", [](Context& ctx) {
        const Options& opts = ctx.options();
        return with_client(ctx, [&](ManagementClient& c) {
          return show(c.get_webhook(opts.registry, opts.name), webhook_view);
        });
      });
  webhook_name_flag(show_cmd, o);
  v.registry_only_flag(show_cmd);

  auto* update =
      v.verb(webhook, "update", "change a webhook; the flags not given stay", webhook_update);
  webhook_name_flag(update, o);
  v.registry_only_flag(update);
  webhook_flags(update, o, /*create=*/false);

  auto* del = v.verb(webhook, "delete", "delete a webhook and its delivery record", webhook_delete);
  webhook_name_flag(del, o);
  v.registry_only_flag(del);

  auto* ping = v.verb(webhook, "ping", "send the webhook a ping event", webhook_ping);
  webhook_name_flag(ping, o);
  v.registry_only_flag(ping);

  auto* config =
      v.verb(webhook, "get-config", "show the service URI and custom headers, values included",
             [](Context& ctx) {
               const Options& opts = ctx.options();
               return with_client(ctx, [&](ManagementClient& c) {
                 return show(c.webhook_config(opts.registry, opts.name), webhook_config_view);
               });
             });
  webhook_name_flag(config, o);
  v.registry_only_flag(config);

  auto* events = v.verb(webhook, "list-events", "list a webhook's deliveries, newest first",
                        webhook_list_events);
  webhook_name_flag(events, o);
  v.registry_only_flag(events);
  events
      ->add_option("--top", o.top,
                   fmt::format("at most N deliveries (1-{}, default 20)", kMaxDeliveriesTop))
      ->type_name("N");
  events
      ->add_option("--before", o.before,
                   "only deliveries older than this delivery id (the next page)")
      ->type_name("ID");

  auto* redeliver =
      v.verb(webhook, "redeliver", "deliver an event to the webhook again", webhook_redeliver);
  webhook_name_flag(redeliver, o);
  v.registry_only_flag(redeliver);
  redeliver->add_option("--event-id", o.event_id, "the event's id, from list-events")
      ->required()
      ->check(checked([](std::string_view id) { return check_id("event", id); }))
      ->type_name("ID");
}

void declare_audit_list(Verbs& v) {
  Options& o = v.options;
  CLI::App* audit = v.group("audit", "read a registry's audit log");
  auto* list = v.verb(audit, "list",
                      "list the repository events of a registry (pushes, pulls, deletes, ...), "
                      "newest first",
                      audit_list);
  v.registry_flag(list);
  list->add_option("--since", o.since, "only events at or after this RFC 3339 time")
      ->type_name("TIME");
  list->add_option("--until", o.until, "only events before this RFC 3339 time")->type_name("TIME");
  list->add_option("--identity", o.identity, "only this identity's events")
      ->check(checked(check_identity_filter))
      ->type_name("IDENTITY");
  list->add_option("--repository", o.repository, "only events of this repository")
      ->check(checked(check_repository_name))
      ->type_name("REPO");
  list->add_option("--action", o.action, "only events of this action")
      ->transform(choice_transform(kAuditActions))
      ->type_name(fmt::format("{}", fmt::join(kAuditActions, "|")));
  list->add_option("--top", o.top,
                   fmt::format("at most N events (1-{}, default 100)", kMaxAuditTop))
      ->type_name("N");
  list->add_option("--before", o.before, "only events older than this sequence (the next page)")
      ->type_name("SEQUENCE");
}

}  // namespace

void declare_event_commands(Verbs& verbs) {
  declare_webhook(verbs);
  declare_audit_list(verbs);
}

}  // namespace berth::cli
