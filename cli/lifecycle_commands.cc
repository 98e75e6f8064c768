// The content lifecycle verbs: the soft delete and retention policies (`config soft-delete`,
// `config retention`), the soft-deleted content and its restore (`repository list-deleted`,
// `manifest list-deleted|list-deleted-tags|restore`), `purge` (run now, or saved as a schedule)
// with `purge schedule list|delete`, and storage quotas (`quota show|update`).
//
// `purge` is a verb that also has a subcommand group, `purge schedule`: its own flags, required
// when it runs, cannot be required by the parser (they would be required of `purge schedule
// list` too), so its handler checks them, and they are refused beside a `schedule` command.

#include <fmt/format.h>

#include <boost/json.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cli/command.h"
#include "cli/validate.h"
#include "cli/views.h"

namespace berth::cli {
namespace json = boost::json;

namespace {

// The days a policy keeps content: the server's ranges.
constexpr std::int64_t kMinSoftDeleteDays = 1;
constexpr std::int64_t kMaxSoftDeleteDays = 90;
constexpr std::int64_t kMinRetentionDays = 0;
constexpr std::int64_t kMaxRetentionDays = 365;
// --keep: the most recent matching tags a purge leaves; 18 digits is the parser's cap.
constexpr std::int64_t kMaxKeep = 999'999'999'999'999'999;
// The listing pages asked for: the most the server gives in one answer.
constexpr std::size_t kPageSize = 1000;
constexpr auto kMaxBytes = static_cast<std::int64_t>(kMaxQuotaBytes);

std::optional<std::string> check_days(std::string_view days, std::int64_t min, std::int64_t max) {
  if (!parse_bounded_number(days, min, max)) {
    return fmt::format("'{}' is not a number of days from {} to {}", days, min, max);
  }
  return std::nullopt;
}

// "team/app" or "team/app:v1": the repository, and the tag when one follows the last ':'
// (repository names hold none).
std::pair<std::string, std::string> split_repository_tag(std::string_view text) {
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return {std::string(text), {}};
  return {std::string(text.substr(0, colon)), std::string(text.substr(colon + 1))};
}

std::optional<std::string> check_repository_and_tag(std::string_view text) {
  auto [repository, tag] = split_repository_tag(text);
  if (auto problem = check_repository_name(repository)) return problem;
  if (text.find(':') != std::string_view::npos) return check_tag(tag);
  return std::nullopt;
}

// Schedule names are one path segment.
std::optional<std::string> check_schedule_name(std::string_view name) {
  if (check_id("schedule", name)) {
    return fmt::format("schedule name '{}' must be 1-128 letters, digits, '.', '_' or '-'", name);
  }
  return std::nullopt;
}

std::optional<std::string> check_quota_bytes(std::string_view bytes) {
  if (!parse_bounded_number(bytes, 0, kMaxBytes)) {
    return fmt::format("'{}' is not a number of bytes from 0 to {}", bytes, kMaxQuotaBytes);
  }
  return std::nullopt;
}

std::string string_of(const json::value& value) {
  return value.is_string() ? std::string(value.as_string()) : std::string();
}

std::string digest_of(const json::value& manifest) {
  const json::value* digest =
      manifest.is_object() ? manifest.as_object().if_contains("digest") : nullptr;
  return digest != nullptr ? string_of(*digest) : std::string();
}

// Every item of a keyset-paged listing: pages of kPageSize, each after the last item of the
// page before (`key_of` names it), until a page comes back short. The server says "more
// follow" in a Link header too, but a short page says the same and needs no header.
template <class Fetch>
Result<json::array> all_pages(Fetch fetch, std::string_view items_key,
                              std::string (*key_of)(const json::value&)) {
  json::array all;
  std::string last;
  for (;;) {
    auto page = fetch(Query{{"n", std::to_string(kPageSize)}, {"last", last}});
    if (!page) return page.error();
    const json::value* list =
        page->is_object() ? page->as_object().if_contains(items_key) : nullptr;
    if (list == nullptr || !list->is_array()) return all;
    const json::array& got = list->as_array();
    for (const auto& item : got) all.push_back(item);
    if (got.size() < kPageSize) return all;
    std::string next = key_of(got.back());
    // A page that does not move on would be asked for forever.
    if (next.empty() || next == last) {
      return failure(
          fmt::format("the server's listing does not move past '{}': stopped after {} items", last,
                      all.size()));
    }
    last = std::move(next);
  }
}

// ------------------------------------------------------------------ policies

Result<View> soft_delete_update(Context& ctx) {
  const Options& o = ctx.options();
  json::object body;
  if (!o.status.empty()) body["status"] = o.status;
  if (auto days = parse_bounded_number(o.days, kMinSoftDeleteDays, kMaxSoftDeleteDays)) {
    body["days"] = *days;
  }
  if (body.empty()) return usage_error("nothing to update: give --status or --days");
  return with_client(ctx, [&](ManagementClient& c) {
    return show(c.update_soft_delete_policy(o.registry, body), soft_delete_policy_view);
  });
}

Result<View> retention_update(Context& ctx) {
  const Options& o = ctx.options();
  json::object body;
  if (!o.status.empty()) body["status"] = o.status;
  if (auto days = parse_bounded_number(o.days, kMinRetentionDays, kMaxRetentionDays)) {
    body["days"] = *days;
  }
  // --type names the one policy there is, so alone it changes nothing.
  if (body.empty()) return usage_error("nothing to update: give --status or --days");
  return with_client(ctx, [&](ManagementClient& c) {
    return show(c.update_retention_policy(o.registry, body), retention_policy_view);
  });
}

// ------------------------------------------------------------------ soft-deleted content

Result<View> repository_list_deleted(Context& ctx) {
  const Options& o = ctx.options();
  return with_client(ctx, [&](ManagementClient& c) -> Result<View> {
    auto names = all_pages(
        [&](const Query& query) { return c.list_deleted_repositories(o.registry, query); },
        "repositories", string_of);
    if (!names) return names.error();
    return deleted_repository_list_view(json::object{{"repositories", std::move(*names)}});
  });
}

Result<View> manifest_list_deleted(Context& ctx) {
  const Options& o = ctx.options();
  return with_client(ctx, [&](ManagementClient& c) -> Result<View> {
    auto manifests = all_pages(
        [&](const Query& query) {
          return c.list_deleted_manifests(o.registry, o.repository, query);
        },
        "manifests", digest_of);
    if (!manifests) return manifests.error();
    return deleted_manifest_list_view(
        json::object{{"repository", o.repository}, {"manifests", std::move(*manifests)}});
  });
}

Result<View> manifest_list_deleted_tags(Context& ctx) {
  const Options& o = ctx.options();
  auto [repository, tag] = split_repository_tag(o.repository);
  return with_client(ctx, [&](ManagementClient& c) {
    return show(c.list_deleted_tags(o.registry, repository, {{"tag", tag}}), deleted_tag_list_view);
  });
}

Result<View> manifest_restore(Context& ctx) {
  const Options& o = ctx.options();
  auto image = parse_image_reference(o.image);
  if (!image) return image.error();
  json::object body;
  if (!image->digest.empty()) {
    body["digest"] = image->digest;
  } else {
    body["tag"] = image->tag;
  }
  if (o.force) body["force"] = true;
  return with_client(ctx, [&](ManagementClient& c) {
    return show(c.restore(o.registry, image->repository, body), restored_view);
  });
}

// ------------------------------------------------------------------ purge

// The registry flag of the purge commands, which the parser cannot require (see the top).
std::optional<Error> require_registry(const Options& o, std::string_view command) {
  if (!o.registry.empty()) return std::nullopt;
  return usage_error(fmt::format("--registry is required (see 'berth {} --help')", command));
}

// What a purge and a purge schedule share: {"filters","ago","untagged","keep"}, or why the
// flags do not make a purge.
Result<json::object> purge_body(const Options& o) {
  if (auto problem = require_registry(o, "purge")) return *problem;
  if (o.filters.empty()) {
    return usage_error(
        "--filter is required: the tags to delete, as repository-regex:tag-regex, e.g. "
        "--filter 'app:.*' (see 'berth purge --help')");
  }
  if (o.filters.size() > kMaxPurgeFilters) {
    return usage_error(fmt::format("a purge takes at most {} --filter", kMaxPurgeFilters));
  }
  if (o.ago.empty()) {
    return usage_error(
        "--ago is required: how long ago a tag last changed for it to go, e.g. --ago 30d, or "
        "--ago 0 for any age (see 'berth purge --help')");
  }
  json::array filters;
  for (const auto& filter : o.filters) filters.emplace_back(filter);
  std::int64_t keep = o.keep.empty() ? 0 : parse_bounded_number(o.keep, 0, kMaxKeep).value_or(0);
  return json::object{
      {"filters", std::move(filters)}, {"ago", o.ago}, {"untagged", o.untagged}, {"keep", keep}};
}

Result<View> purge_run(Context& ctx) {
  const Options& o = ctx.options();
  auto body = purge_body(o);
  if (!body) return body.error();
  if (o.schedule.empty() != o.schedule_name.empty()) {
    return usage_error(
        o.schedule.empty()
            ? "--schedule-name needs --schedule: the cron expression the purge runs on"
            : "--schedule needs --schedule-name: the name the schedule is saved under");
  }
  if (!o.schedule.empty()) {
    if (o.dry_run) {
      return usage_error(
          "--dry-run cannot be saved in a schedule: run 'berth purge --dry-run' with the same "
          "flags to see what it deletes");
    }
    (*body)["schedule"] = o.schedule;
    return with_client(ctx, [&](ManagementClient& c) {
      return show(c.put_purge_schedule(o.registry, o.schedule_name, *body),
                  [&](const json::value& schedule) {
                    View view = purge_schedule_view(schedule);
                    view.message = fmt::format(
                        "Saved purge schedule '{}' of registry '{}': it runs at '{}' (UTC).",
                        o.schedule_name, o.registry, o.schedule);
                    return view;
                  });
    });
  }
  (*body)["dryRun"] = o.dry_run;
  return with_client(ctx, [&](ManagementClient& c) {
    return show(c.purge(o.registry, *body),
                [&](const json::value& answer) { return purge_view(answer, o.dry_run); });
  });
}

Result<View> purge_schedule_list(Context& ctx) {
  const Options& o = ctx.options();
  if (auto problem = require_registry(o, "purge schedule list")) return *problem;
  return with_client(ctx, [&](ManagementClient& c) {
    return show(c.list_purge_schedules(o.registry), purge_schedule_list_view);
  });
}

Result<View> purge_schedule_delete(Context& ctx) {
  const Options& o = ctx.options();
  if (auto problem = require_registry(o, "purge schedule delete")) return *problem;
  if (!o.yes) {
    return refuse_without_yes(
        fmt::format("purge schedule '{}' of registry '{}'", o.schedule_name, o.registry));
  }
  return with_client(ctx, [&](ManagementClient& c) {
    return deleted(c.delete_purge_schedule(o.registry, o.schedule_name),
                   fmt::format("Deleted purge schedule '{}' from registry '{}'.", o.schedule_name,
                               o.registry));
  });
}

// ------------------------------------------------------------------ quotas

Result<View> quota_show(Context& ctx) {
  const Options& o = ctx.options();
  return with_client(ctx, [&](ManagementClient& c) {
    if (o.repository.empty()) return show(c.get_registry_quota(o.registry), registry_quota_view);
    return show(c.get_repository_quota(o.registry, o.repository), repository_quota_view);
  });
}

// {"quotaBytes": N} from --bytes or --size, {"quotaBytes": null} from --unlimited.
Result<json::object> quota_body(const Options& o) {
  const int given = static_cast<int>(!o.quota_bytes.empty()) +
                    static_cast<int>(!o.quota_size.empty()) + static_cast<int>(o.unlimited);
  if (given != 1) return usage_error("give exactly one of --bytes, --size and --unlimited");
  if (o.unlimited) return json::object{{"quotaBytes", nullptr}};
  if (!o.quota_size.empty()) {
    auto bytes = parse_size(o.quota_size);
    if (!bytes) return usage_error(fmt::format("--size: {}", bytes.error().message));
    return json::object{{"quotaBytes", *bytes}};
  }
  if (auto problem = check_quota_bytes(o.quota_bytes)) {
    return usage_error(fmt::format("--bytes: {}", *problem));
  }
  return json::object{{"quotaBytes", *parse_bounded_number(o.quota_bytes, 0, kMaxBytes)}};
}

Result<View> quota_update(Context& ctx) {
  const Options& o = ctx.options();
  auto body = quota_body(o);
  if (!body) return body.error();
  return with_client(ctx, [&](ManagementClient& c) {
    if (o.repository.empty()) {
      return show(c.update_registry_quota(o.registry, *body), registry_quota_view);
    }
    return show(c.update_repository_quota(o.registry, o.repository, *body), repository_quota_view);
  });
}

// ------------------------------------------------------------------ declarations

void status_option(CLI::App* sub, Options& o, const std::string& help) {
  sub->add_option("--status", o.status, help)
      ->transform(choice_transform({"enabled", "disabled"}))
      ->type_name("enabled|disabled");
}

void days_option(CLI::App* sub, Options& o, std::int64_t min, std::int64_t max,
                 const std::string& help) {
  sub->add_option("--days", o.days, fmt::format("{} ({}-{})", help, min, max))
      ->check(checked([min, max](std::string_view days) { return check_days(days, min, max); }))
      ->type_name("N");
}

void declare_config(Verbs& v) {
  Options& o = v.options;
  CLI::App* config = v.group("config", "registry settings: the soft delete and retention policies");

  CLI::App* soft_delete = v.group(
      config, "soft-delete",
      "the soft delete policy: deleted manifests and tags are kept, restorable, for some days");
  auto* show_soft = v.verb(soft_delete, "show", "show the soft delete policy", [](Context& ctx) {
    return with_client(ctx, [&](ManagementClient& c) {
      return show(c.get_soft_delete_policy(ctx.options().registry), soft_delete_policy_view);
    });
  });
  v.registry_flag(show_soft);
  auto* update_soft =
      v.verb(soft_delete, "update", "change the soft delete policy; the flags not given stay",
             soft_delete_update);
  v.registry_flag(update_soft);
  status_option(update_soft, o, "keep deleted content (enabled) or delete it at once (disabled)");
  days_option(update_soft, o, kMinSoftDeleteDays, kMaxSoftDeleteDays,
              "how many days deleted content is kept");

  CLI::App* retention = v.group(
      config, "retention",
      "the retention policy: untagged manifests are deleted some days after losing their last "
      "tag (Premium)");
  auto* show_retention = v.verb(retention, "show", "show the retention policy", [](Context& ctx) {
    return with_client(ctx, [&](ManagementClient& c) {
      return show(c.get_retention_policy(ctx.options().registry), retention_policy_view);
    });
  });
  v.registry_flag(show_retention);
  auto* update_retention =
      v.verb(retention, "update", "change the retention policy; the flags not given stay",
             retention_update);
  v.registry_flag(update_retention);
  status_option(update_retention, o, "delete untagged manifests (enabled) or keep them");
  days_option(update_retention, o, kMinRetentionDays, kMaxRetentionDays,
              "how many days an untagged manifest is kept");
  update_retention
      ->add_option("--type", o.policy_type, "the policy: UntaggedManifests, the only one")
      ->transform(choice_transform({"UntaggedManifests"}))
      ->type_name("UntaggedManifests");
  auto* run_retention = v.verb(
      retention, "run",
      "apply the retention policy now: delete the untagged manifests it covers (berthd also "
      "applies it every minute)",
      [](Context& ctx) {
        const Options& o = ctx.options();
        return with_client(ctx, [&](ManagementClient& c) {
          return show(c.run_retention_policy(o.registry, o.dry_run),
                      [&](const json::value& answer) { return purge_view(answer, o.dry_run); });
        });
      });
  v.registry_flag(run_retention);
  run_retention->add_flag("--dry-run", o.dry_run, "list what would be deleted, delete nothing");
}

void declare_deleted_content(Verbs& v) {
  Options& o = v.options;
  CLI::App* repository = v.group("repository", "inspect, lock and delete repositories");
  auto* list_deleted =
      v.verb(repository, "list-deleted",
             "list the repositories that have soft-deleted manifests or tags (deleted or not)",
             repository_list_deleted);
  v.registry_flag(list_deleted);

  CLI::App* manifest = v.group("manifest", "inspect and delete manifests");
  auto* list = v.verb(manifest, "list-deleted",
                      "list a repository's deleted manifests that are still kept, with the tags "
                      "they had",
                      manifest_list_deleted);
  v.registry_flag(list);
  v.repository_flag(list);

  auto* tags = v.verb(manifest, "list-deleted-tags",
                      "list a repository's deleted tags that are still kept, most recently "
                      "deleted first",
                      manifest_list_deleted_tags);
  v.registry_flag(tags);
  tags->add_option("--repository", o.repository,
                   "the repository, e.g. team/app; team/app:v1 lists only the tag v1")
      ->required()
      ->check(checked(check_repository_and_tag))
      ->type_name("REPO[:TAG]");

  auto* restore = v.verb(manifest, "restore",
                         "bring back a deleted manifest with its deleted tags (and the manifests "
                         "it lists)",
                         manifest_restore);
  v.registry_flag(restore);
  v.image_flag(restore,
               "repository@digest, or repository:tag (the manifest the deleted tag pointed at)");
  restore->add_flag("--force", o.force,
                    "also restore tags whose name is in use now, moving them to the restored "
                    "manifest");
}

void declare_purge(Verbs& v) {
  Options& o = v.options;
  auto* purge = v.verb(&v.app, "purge",
                       "delete the tags older than an age that match patterns, as acr purge "
                       "does (with --untagged, the manifests left without a tag too); or save "
                       "that as a schedule",
                       purge_run);
  purge->require_subcommand(0, 1);
  purge->footer(
      "A tag goes when a --filter matches its repository and its name (regular expressions, "
      "searched anywhere in the name: anchor them with ^ and $) and it last changed more than "
      "--ago ago; write- or delete-locked tags stay. Deleted content is soft-deleted when the "
      "registry's soft delete policy is enabled ('berth manifest restore' brings it back).");
  v.registry_flag(purge, /*required=*/false);  // required to run: checked by the handler
  std::vector<CLI::Option*> own;
  own.push_back(
      purge
          ->add_option("--filter", o.filters,
                       "repository-regex:tag-regex, e.g. 'app:.*' or 'team/.*:^dev-'; repeat it "
                       "for more (required)")
          ->expected(1)
          ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
          ->check(checked(check_purge_filter))
          ->type_name("REPO:TAG"));
  own.push_back(purge
                    ->add_option("--ago", o.ago,
                                 "only tags last changed at least this long ago: 0, or days, "
                                 "hours, minutes, seconds in that order, e.g. 30d, 1d12h, 90m "
                                 "(required)")
                    ->check(checked(check_purge_age))
                    ->type_name("AGE"));
  own.push_back(purge->add_flag(
      "--untagged", o.untagged,
      "also delete the manifests left without a tag that last changed before --ago"));
  own.push_back(purge
                    ->add_option("--keep", o.keep,
                                 "keep the N most recently changed matching tags of each "
                                 "repository (default 0)")
                    ->check(checked([](std::string_view keep) -> std::optional<std::string> {
                      if (parse_bounded_number(keep, 0, kMaxKeep)) return std::nullopt;
                      return fmt::format("'{}' is not a number of tags (0 or more)", keep);
                    }))
                    ->type_name("N"));
  own.push_back(
      purge->add_flag("--dry-run", o.dry_run, "list what would be deleted, delete nothing"));
  own.push_back(purge
                    ->add_option("--schedule", o.schedule,
                                 "save the purge as a schedule that runs on this cron expression "
                                 "(UTC) instead of running it now, e.g. '0 3 * * *'")
                    ->check(checked(check_cron_expression))
                    ->type_name("CRON"));
  own.push_back(purge
                    ->add_option("--schedule-name", o.schedule_name,
                                 "the schedule's name; a schedule of that name is replaced")
                    ->check(checked(check_schedule_name))
                    ->type_name("NAME"));
  // Verbs::verb's callback, plus: purge's own flags do not apply to a `purge schedule` command.
  purge->callback([purge, own, &selected = v.selected] {
    if (purge->get_subcommands().empty()) {
      selected = purge_run;
      return;
    }
    for (const CLI::Option* option : own) {
      if (option->count() > 0) {
        throw CLI::ValidationError(
            option->get_name(),
            fmt::format("belongs to 'berth purge' itself, not to 'berth purge {}'",
                        purge->get_subcommands().front()->get_name()));
      }
    }
  });

  CLI::App* schedule = v.group(purge, "schedule", "list and delete saved purge schedules");
  auto* list = v.verb(schedule, "list", "list a registry's purge schedules with their last run",
                      purge_schedule_list);
  // Not required by the parser: given before `schedule` (berth purge -n R schedule list), the
  // registry is purge's flag; the handlers check there is one.
  v.registry_flag(list, /*required=*/false);
  auto* del = v.verb(schedule, "delete", "delete a purge schedule", purge_schedule_delete);
  v.registry_flag(del, /*required=*/false);
  del->add_option("--schedule-name", o.schedule_name, "the schedule's name")
      ->required()
      ->check(checked(check_schedule_name))
      ->type_name("NAME");
  v.yes_flag(del);
}

void declare_quota(Verbs& v) {
  Options& o = v.options;
  CLI::App* quota =
      v.group("quota", "storage quotas: the most bytes a registry or a repository may hold");
  auto repository_option = [&o](CLI::App* sub, const std::string& help) {
    sub->add_option("--repository", o.repository, help)
        ->check(checked(check_repository_name))
        ->type_name("REPO");
  };

  auto* show_cmd =
      v.verb(quota, "show", "show the registry's quota and usage, or a repository's", quota_show);
  v.registry_flag(show_cmd);
  repository_option(show_cmd, "a repository's quota instead of the registry's, e.g. team/app");

  auto* update = v.verb(quota, "update", "set or remove the registry's quota, or a repository's",
                        quota_update);
  v.registry_flag(update);
  repository_option(update, "a repository's quota instead of the registry's, e.g. team/app");
  update->add_option("--bytes", o.quota_bytes, "the quota in bytes")
      ->check(checked(check_quota_bytes))
      ->type_name("N");
  update
      ->add_option("--size", o.quota_size,
                   "the quota with a unit: B, KiB, MiB, GiB, TiB, or KB, MB, GB, TB, e.g. 10GiB")
      ->check(checked([](std::string_view size) -> std::optional<std::string> {
        auto bytes = parse_size(size);
        if (!bytes) return bytes.error().message;
        return std::nullopt;
      }))
      ->type_name("SIZE");
  update->add_flag("--unlimited", o.unlimited,
                   "remove the quota: a repository then has none, the registry falls back to "
                   "its tier's included storage");
}

}  // namespace

void declare_lifecycle_commands(Verbs& verbs) {
  declare_config(verbs);
  declare_deleted_content(verbs);
  declare_purge(verbs);
  declare_quota(verbs);
}

}  // namespace berth::cli
