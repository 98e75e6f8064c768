// The garbage collection verbs: `berth gc run|status|show|list`. With --name/-n they work on one
// registry (its links, then the deployment's unreferenced bytes); without, on the whole
// deployment (the administrator's). `gc run --wait` follows the run to its end, with a progress
// line on a terminal, and exits non-zero when the run failed.

#include <fmt/format.h>

#include <boost/json.hpp>
#include <chrono>
#include <string>
#include <thread>

#include "cli/command.h"
#include "cli/progress.h"
#include "cli/validate.h"
#include "cli/views.h"

namespace berth::cli {
namespace json = boost::json;

namespace {

constexpr std::int64_t kMaxRunsTop = 100;
constexpr std::int64_t kMaxCursor = 999'999'999'999'999'999;

std::string text_of(const json::value& run, std::string_view key) {
  const auto* object = run.if_object();
  const json::value* v = object != nullptr ? object->if_contains(key) : nullptr;
  if (v == nullptr || !v->is_string()) return "";
  return std::string(v->as_string());
}

std::uint64_t count_of(const json::value& run, std::string_view key) {
  const auto* object = run.if_object();
  const json::value* v = object != nullptr ? object->if_contains(key) : nullptr;
  if (v == nullptr) return 0;
  if (v->is_uint64()) return v->as_uint64();
  if (v->is_int64() && v->as_int64() >= 0) return static_cast<std::uint64_t>(v->as_int64());
  return 0;
}

// What the progress line says (on a terminal only: the run shows when it ends).
std::string progress_text(const json::value& run) {
  return fmt::format(
      "gc run {}: {}, {} links removed, {} blobs examined, {} deleted, {} bytes",
      count_of(run, "id"), text_of(run, "phase"), count_of(run, "linksRemoved"),
      count_of(run, "blobsExamined"), count_of(run, "blobsDeleted"),
      count_of(run, "bytesReclaimed"));
}

// Follows the run until it is no longer running; its last state, or the failure to ask.
Result<json::value> wait_for(Context& ctx, ManagementClient& client, std::string_view registry,
                             json::value run) {
  const auto interval = poll_interval(ctx.env());
  ProgressLine line(ctx.err(), ctx.err_is_terminal());
  while (text_of(run, "status") == "running") {
    line.redraw(progress_text(run));
    std::this_thread::sleep_for(interval);
    auto again = client.get_gc_run(registry, std::to_string(count_of(run, "id")));
    if (!again) return again.error();
    run = std::move(*again);
  }
  return run;
}

Result<View> gc_run(Context& ctx) {
  const Options& o = ctx.options();
  return with_client(ctx, [&](ManagementClient& c) -> Result<View> {
    auto started = c.start_gc(o.registry, o.dry_run);
    if (!started) return started.error();
    if (!o.wait) {
      View view = gc_run_view(*started);
      view.message = fmt::format("started; follow it with: berth gc show {}--id {}",
                                 o.registry.empty() ? "" : "--name " + o.registry + " ",
                                 count_of(*started, "id"));
      return view;
    }
    auto finished = wait_for(ctx, c, o.registry, std::move(*started));
    if (!finished) return finished.error();
    if (text_of(*finished, "status") == "failed") {
      return Error{ExitCode::kFailure,
                   fmt::format("garbage collection run {} failed: {}", count_of(*finished, "id"),
                               text_of(*finished, "error"))};
    }
    return gc_run_view(*finished);
  });
}

Result<View> gc_status(Context& ctx) {
  const Options& o = ctx.options();
  return with_client(ctx, [&](ManagementClient& c) -> Result<View> {
    auto runs = c.list_gc_runs(o.registry, {{"top", "1"}});
    if (!runs) return runs.error();
    const auto* object = runs->if_object();
    const json::value* items = object != nullptr ? object->if_contains("runs") : nullptr;
    if (items == nullptr || !items->is_array() || items->as_array().empty()) {
      return message_view("no garbage collection has run yet");
    }
    return gc_run_view(items->as_array().front());
  });
}

Result<View> gc_show(Context& ctx) {
  const Options& o = ctx.options();
  return with_client(ctx, [&](ManagementClient& c) {
    return show(c.get_gc_run(o.registry, o.id), gc_run_view);
  });
}

Result<View> gc_list(Context& ctx) {
  const Options& o = ctx.options();
  return with_client(ctx, [&](ManagementClient& c) {
    return show(c.list_gc_runs(o.registry, {{"top", o.top}, {"before", o.before}}),
                gc_run_list_view);
  });
}

std::optional<std::string> check_count(std::string_view text, std::int64_t max) {
  if (text.empty() || text.size() > 18 ||
      text.find_first_not_of("0123456789") != std::string_view::npos) {
    return fmt::format("'{}' is not a number from 1 to {}", text, max);
  }
  const auto value = std::stoll(std::string(text));
  if (value < 1 || value > max) return fmt::format("'{}' is not a number from 1 to {}", text, max);
  return std::nullopt;
}

}  // namespace

void declare_gc_commands(Verbs& v) {
  Options& o = v.options;
  CLI::App* gc = v.group("gc",
                         "garbage collection: free what no manifest references, while pushes "
                         "and pulls go on");

  auto* run = v.verb(gc, "run",
                     "start a run: the registry's unreferenced links (every registry's without "
                     "--name), then the blobs no one references",
                     gc_run);
  v.registry_flag(run, /*required=*/false);
  run->add_flag("--dry-run", o.dry_run, "count what would be removed, remove nothing");
  run->add_flag("--wait", o.wait,
                "follow the run to its end (progress on a terminal); exit 1 if it fails");

  auto* status = v.verb(gc, "status", "show the latest run", gc_status);
  v.registry_flag(status, /*required=*/false);

  auto* show_cmd = v.verb(gc, "show", "show a run with its progress", gc_show);
  v.registry_flag(show_cmd, /*required=*/false);
  show_cmd->add_option("--id", o.id, "the run's id")
      ->required()
      ->check(checked([](std::string_view id) { return check_count(id, kMaxCursor); }))
      ->type_name("ID");

  auto* list = v.verb(gc, "list", "list runs, newest first", gc_list);
  v.registry_flag(list, /*required=*/false);
  list->add_option("--top", o.top, fmt::format("at most N runs (1-{}, default 20)", kMaxRunsTop))
      ->check(checked([](std::string_view n) { return check_count(n, kMaxRunsTop); }))
      ->type_name("N");
  list->add_option("--before", o.before, "only runs older than this id (the next page)")
      ->check(checked([](std::string_view id) { return check_count(id, kMaxCursor); }))
      ->type_name("ID");
}

}  // namespace berth::cli
