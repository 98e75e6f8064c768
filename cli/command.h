#pragma once
// What every verb shares: the parsed flags, the run's context (settings, transport, standard
// input) and the helpers that declare flags and turn API answers into views. app.cc declares
// the registry and content verbs, access_commands.cc the access-control ones, event_commands.cc
// the webhook verbs and `audit list`, gc_commands.cc garbage collection, lifecycle_commands.cc
// soft delete, retention, restore, purge and quotas, upstream_commands.cc imports, credential
// sets and cache rules, task_commands.cc build runs.

#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <cstdint>
#include <functional>
#include <istream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cli/app.h"
#include "cli/management_client.h"
#include "cli/output.h"

namespace berth::cli {

// Every flag of every verb; a run parses exactly one verb, which reads the fields it declared.
struct Options {
  std::string server;
  std::string token;
  std::string output = "table";
  std::string registry;
  std::string repository;
  std::string image;
  std::string tier;
  std::string region;
  std::string admin_enabled;           // "", "true" or "false"
  std::string anonymous_pull_enabled;  // idem
  std::string data_endpoint_enabled;   // idem
  std::string public_network_enabled;  // idem
  std::string default_action;          // "", "Allow" or "Deny"
  // repository update: "", "true" or "false" each.
  std::string write_enabled;
  std::string delete_enabled;
  std::string read_enabled;
  std::string list_enabled;
  bool yes = false;

  // Access control.
  std::string name;  // token, scope map or identity name
  std::string scope_map;
  std::string status;
  bool no_passwords = false;
  std::string expiration_in_days;
  std::string expiration;
  bool password1 = false;
  bool password2 = false;
  std::string password_name;
  std::string description;
  std::vector<std::vector<std::string>> repositories;  // REPO ACTION... per occurrence
  std::vector<std::vector<std::string>> add_repositories;
  std::vector<std::vector<std::string>> remove_repositories;
  std::string assignee;
  std::string role;
  std::string scope;
  std::vector<std::string> ids;
  std::string id;
  std::string kind;
  std::string password;
  std::string issuer;
  std::string audience;
  std::string jwks;
  std::string subject;
  std::vector<std::string> claims;
  std::string ip_address;
  std::string identity;
  std::string result;
  std::string since;
  std::string until;
  std::string top;
  std::string username;
  bool password_stdin = false;
  bool expose_token = false;
  std::string login_server;

  // Webhooks and the audit log of repository events (event_commands.cc); `name` is the
  // webhook's, `scope` its scope, `status` its status. The *_given flags tell "--scope ''"
  // (clear it) from no --scope on update.
  std::string uri;
  std::vector<std::string> actions;
  std::vector<std::string> headers;  // NAME=VALUE each
  bool headers_given = false;
  bool scope_given = false;
  std::string secret;
  bool secret_given = false;
  std::string secret_file;
  std::string format;
  std::string event_id;
  std::string before;
  std::string action;

  // Garbage collection (gc_commands.cc); `id` is the run's.
  bool dry_run = false;
  bool wait = false;

  // Content lifecycle (lifecycle_commands.cc): soft delete and retention policies (`status`
  // too), restore, purge (`dry_run` too) and its schedules, quotas.
  std::string days;
  std::string policy_type;
  bool force = false;
  std::vector<std::string> filters;
  std::string ago;
  bool untagged = false;
  std::string keep;
  std::string schedule;
  std::string schedule_name;
  std::string quota_bytes;
  std::string quota_size;
  bool unlimited = false;

  // Imports, credential sets and cache rules (upstream_commands.cc). `import` names its
  // registry with -n/--name (`registry`) and its source with --source; credential-set and cache
  // name theirs with -r/--registry and themselves with -n/--name (`name`). `username`,
  // `password`, `password_stdin` and `login_server` are a credential set's as they are login's;
  // `untagged` and `force` are an import's too. `credential_set_given` tells "--cred-set ''"
  // (remove it) from no --cred-set on update.
  std::string source;
  std::vector<std::string> target_tags;
  std::vector<std::string> untagged_repositories;
  bool include_referrers = false;
  bool no_wait = false;
  std::string credential_set;
  bool credential_set_given = false;
  std::string source_repo;
  std::string target_repo;
  std::string tag_ttl;
  std::string allow_push;  // "", "true" or "false"

  // Build runs (task_commands.cc): `build` and `run`; `no_wait` and `top` too. `build` names
  // its Dockerfile with -f/--file (`dockerfile`), `run` its task file (`task_file`); CONTEXT
  // is their positional argument.
  std::vector<std::string> build_images;
  std::string dockerfile;
  std::vector<std::string> build_args;  // NAME=VALUE each
  std::string build_target;
  std::string platform;
  bool no_push = false;
  std::string timeout;
  std::string context_dir;
  std::string cmd;
  std::string task_file;
  std::vector<std::string> set_values;  // NAME=VALUE each
  std::string run_id;
  std::string task;
  bool follow = false;
};

class Context;
using Handler = std::function<Result<View>(Context&)>;

class Context {
 public:
  Context(Options& options, const Environment& env, const TransportFactory& make_transport,
          std::istream& in, std::ostream& out, std::ostream& err, bool err_is_terminal)
      : options_(options),
        env_(env),
        make_transport_(make_transport),
        in_(in),
        out_(out),
        err_(err),
        err_is_terminal_(err_is_terminal) {}

  Options& options() { return options_; }
  const Environment& env() const { return env_; }

  // Where a verb that waits for a job on the server shows its progress (progress.h): standard
  // error, and whether it is a terminal.
  std::ostream& err() { return err_; }
  bool err_is_terminal() const { return err_is_terminal_; }

  // Standard output, for a verb that streams what it shows as it arrives (a run's log) instead
  // of returning it as its view.
  std::ostream& out() { return out_; }

  // The token given as "-" is read from standard input, so it stays out of `ps` and history.
  Result<std::string> token_flag();

  // One line of standard input, trailing CR and spaces dropped; a usage error naming `flag`
  // when there is none. Standard input holds one secret only: a second reader is refused.
  Result<std::string> read_stdin_line(std::string_view flag);

  // Settings from flags, environment and config file; the file is read only when needed.
  // Without `token_required` a missing token is not an error (a login with a password).
  Result<Settings> settings(bool token_required = true);

  Result<ManagementClient*> client();

  // The one transport of the run, shared with the management client.
  HttpTransport& transport();

 private:
  Options& options_;
  const Environment& env_;
  const TransportFactory& make_transport_;
  std::istream& in_;
  std::ostream& out_;
  std::ostream& err_;
  bool err_is_terminal_;
  std::string stdin_reader_;  // the flag that read standard input
  std::unique_ptr<HttpTransport> transport_;
  std::unique_ptr<ManagementClient> client_;
};

// ------------------------------------------------------------------ flag validators

// A validator from a check that answers the reason a value is refused, or nothing.
template <class Check>
CLI::Validator checked(Check check) {
  return CLI::Validator([check](std::string& value) { return check(value).value_or(""); }, "");
}

std::string lower(std::string text);

// Accepts any case and rewrites the value to the API's spelling. The message names only the
// value: the parser puts the flag in front of it.
CLI::Validator choice_transform(std::vector<std::string> choices);

// --server, --token and --output: on every verb, and also before the verb
// ("berth --server URL registry list").
void add_common_options(CLI::App* app, Options& options);

// ------------------------------------------------------------------ verb declarations

struct Verbs {
  CLI::App& app;
  Options& options;
  Handler& selected;

  // A group of verbs; declared again (by another file), the same group.
  CLI::App* group(CLI::App* parent, const std::string& name, const std::string& description);
  CLI::App* group(const std::string& name, const std::string& description) {
    return group(&app, name, description);
  }

  // A verb: its flags get the connection and output flags added, and parsing it selects
  // `handler`. A verb may also have subcommands (`purge` and `purge schedule`): it selects
  // its handler only when none of them was given.
  CLI::App* verb(CLI::App* parent, const std::string& name, const std::string& description,
                 Handler handler);

  // -r/--registry with its alias -n/--name, for verbs whose only name is the registry's.
  void registry_flag(CLI::App* sub, bool required = true);
  // -r/--registry alone, for verbs whose -n/--name names something in the registry (az's
  // `acr token` and `acr scope-map`).
  void registry_only_flag(CLI::App* sub);
  void repository_flag(CLI::App* sub);
  void image_flag(CLI::App* sub, const std::string& help);
  void yes_flag(CLI::App* sub);
  void bool_option(CLI::App* sub, const std::string& name, std::string& into,
                   const std::string& help);
  void tier_option(CLI::App* sub, bool required);
};

// The access-control verbs (access_commands.cc).
void declare_access_commands(Verbs& verbs);
// The webhook verbs and `audit list` (event_commands.cc); after declare_access_commands, whose
// `audit` group it adds to.
void declare_event_commands(Verbs& verbs);
// `gc run|status|show|list` (gc_commands.cc).
void declare_gc_commands(Verbs& verbs);
// `import` with `import show|list`, `credential-set` and `cache` (upstream_commands.cc).
void declare_upstream_commands(Verbs& verbs);
// `build`, and `run` with `run list|show|logs|cancel` (task_commands.cc).
void declare_task_commands(Verbs& verbs);
// `config soft-delete|retention`, `repository list-deleted`, `manifest list-deleted|
// list-deleted-tags|restore`, `purge`, `purge schedule` and `quota` (lifecycle_commands.cc);
// after declare(), whose repository and manifest groups it adds to.
void declare_lifecycle_commands(Verbs& verbs);

// ------------------------------------------------------------------ handler helpers

Result<View> refuse_without_yes(std::string_view what);

template <class F>
Result<View> with_client(Context& ctx, F&& f) {
  auto client = ctx.client();
  if (!client) return client.error();
  return f(**client);
}

template <class MakeView>
Result<View> show(Result<boost::json::value> answer, MakeView make_view) {
  if (!answer) return answer.error();
  return make_view(*answer);
}

Result<View> deleted(Result<boost::json::value> answer, std::string message);

// Query parameters, in order: (name, value) pairs whose empty values are left out.
using Query = std::vector<std::pair<std::string, std::string>>;

// --since and --until, checked (RFC 3339, --since not after --until) and added to `query` as
// UTC whole seconds; --top checked to be a number from 1 to `max_top` and added.
std::optional<Error> add_time_range(const Options& o, Query& query);
std::optional<Error> add_top(const Options& o, std::int64_t max_top, Query& query);

// body[key] = true/false from a "true"/"false" flag; nothing for "".
void set_flag(boost::json::object& body, const char* key, const std::string& value);

}  // namespace berth::cli
